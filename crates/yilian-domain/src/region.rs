//! 行政区划 — regions: GB/T 2260 six-digit codes for province, city and county,
//! extended by the statistical division scheme with 3 digits for the township
//! (乡镇/街道) and 3 more for the village (村/社区): 6, 9 or 12 digits.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Explain;
use crate::id_number::is_province_code;

/// The administrative level of a region code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    Township,
    Village,
}

impl RegionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::Province => "province",
            RegionLevel::City => "city",
            RegionLevel::County => "county",
            RegionLevel::Township => "township",
            RegionLevel::Village => "village",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Province,
            Self::City,
            Self::County,
            Self::Township,
            Self::Village,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            RegionLevel::Province => "省",
            RegionLevel::City => "市",
            RegionLevel::County => "县（区）",
            RegionLevel::Township => "乡镇（街道）",
            RegionLevel::Village => "村（社区）",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("region code {0:?} is not 6, 9 or 12 digits with a real province prefix")]
pub struct RegionCodeError(pub String);

impl Explain for RegionCodeError {
    fn code(&self) -> &'static str {
        "invalid_region_code"
    }
    fn message_zh(&self) -> String {
        format!(
            "行政区划代码 {} 无效（应为6、9或12位数字，且以有效省级代码开头）",
            self.0
        )
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A syntactically valid region code. Whether it is registered is the store's
/// business; whether it is in GB/T 2260 is [`RegionTable`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl TryFrom<String> for RegionCode {
    type Error = RegionCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&s)
    }
}
impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0
    }
}

impl RegionCode {
    pub fn parse(s: &str) -> Result<RegionCode, RegionCodeError> {
        let s = s.trim();
        let ok = matches!(s.len(), 6 | 9 | 12)
            && s.bytes().all(|b| b.is_ascii_digit())
            && is_province_code(&s[..2]);
        if ok {
            Ok(RegionCode(s.to_string()))
        } else {
            Err(RegionCodeError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            12 => RegionLevel::Village,
            9 => RegionLevel::Township,
            _ if &self.0[2..] == "0000" => RegionLevel::Province,
            _ if &self.0[4..] == "00" => RegionLevel::City,
            _ => RegionLevel::County,
        }
    }

    /// The prefix shared by every code inside this region (辖区).
    pub fn scope_prefix(&self) -> &str {
        match self.level() {
            RegionLevel::Province => &self.0[..2],
            RegionLevel::City => &self.0[..4],
            _ => &self.0,
        }
    }

    /// Whether `other` lies inside this region (a region contains itself).
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.starts_with(self.scope_prefix())
    }

    /// The enclosing region's code, if any. Municipality districts
    /// (e.g. 110105) have the city-level code 110100 as parent.
    pub fn parent(&self) -> Option<RegionCode> {
        let p = match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::City => format!("{}0000", &self.0[..2]),
            RegionLevel::County => format!("{}00", &self.0[..4]),
            RegionLevel::Township => self.0[..6].to_string(),
            RegionLevel::Village => self.0[..9].to_string(),
        };
        Some(RegionCode(p))
    }

    /// The six-digit county (or city/province) part.
    pub fn county_part(&self) -> &str {
        &self.0[..6]
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shipped GB/T 2260 table of six-digit codes (read from data, never typed
/// by hand). An identity number whose prefix is missing here is still accepted —
/// old numbers keep abolished counties' codes — but with a warning.
#[derive(Debug, Clone, Default)]
pub struct RegionTable {
    codes: HashSet<String>,
}

impl RegionTable {
    pub fn new(codes: impl IntoIterator<Item = String>) -> Self {
        Self {
            codes: codes.into_iter().collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.codes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
    pub fn knows(&self, code6: &str) -> bool {
        self.codes.contains(code6)
    }
    pub fn insert(&mut self, code6: String) {
        self.codes.insert(code6);
    }
}

/// A non-fatal finding returned beside an accepted value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

/// 地址码核对 — an identity number's address code should be a GB/T 2260 code;
/// a missing one (abolished county) is a warning, not a refusal.
pub fn id_prefix_warning(prefix6: &str, table: &RegionTable) -> Option<Warning> {
    (!table.knows(prefix6)).then(|| Warning {
        code: "unknown_id_region_prefix",
        message_zh: format!("身份证地址码 {prefix6} 不在现行行政区划代码表中（可能为已撤销的县级代码），已接受"),
        message_en: format!(
            "identity number address code {prefix6} is not in the shipped GB/T 2260 table (possibly an abolished county); accepted"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_parents() {
        let v = RegionCode::parse("140521101201").unwrap();
        assert_eq!(v.level(), RegionLevel::Village);
        let t = v.parent().unwrap();
        assert_eq!(
            (t.as_str(), t.level()),
            ("140521101", RegionLevel::Township)
        );
        let c = t.parent().unwrap();
        assert_eq!((c.as_str(), c.level()), ("140521", RegionLevel::County));
        let city = c.parent().unwrap();
        assert_eq!((city.as_str(), city.level()), ("140500", RegionLevel::City));
        let p = city.parent().unwrap();
        assert_eq!((p.as_str(), p.level()), ("140000", RegionLevel::Province));
        assert_eq!(p.parent(), None);
    }

    #[test]
    fn containment_by_prefix() {
        let county = RegionCode::parse("140521").unwrap();
        let prov = RegionCode::parse("140000").unwrap();
        let v = RegionCode::parse("140521101201").unwrap();
        let elsewhere = RegionCode::parse("140522101201").unwrap();
        assert!(county.contains(&v) && prov.contains(&v) && v.contains(&v));
        assert!(!county.contains(&elsewhere));
        assert!(!v.contains(&county));
    }

    #[test]
    fn bad_codes_are_refused() {
        for s in ["", "14052", "1405211", "990521", "14052a", "1405211012011"] {
            assert!(RegionCode::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn unknown_prefix_warns_but_known_does_not() {
        let t = RegionTable::new(["140521".to_string()]);
        assert!(id_prefix_warning("140521", &t).is_none());
        assert_eq!(
            id_prefix_warning("140599", &t).unwrap().code,
            "unknown_id_region_prefix"
        );
    }
}
