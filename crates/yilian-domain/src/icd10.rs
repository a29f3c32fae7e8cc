//! 国际疾病分类 ICD-10 — diagnosis codes (WHO ICD-10, adopted in China as
//! 国标 GB/T 14396 《疾病分类与代码》), and the referral catalogues of tiered
//! care (分级诊疗) that are keyed by them:
//!
//! - 基层首诊病种 — first-contact conditions: residents should first be seen
//!   at a primary institution (乡镇卫生院 / 社区卫生服务中心 / 村卫生室);
//! - 基层一般不得上转病种 — conditions primary care manages itself and
//!   generally should not refer up (上转);
//! - 下转指征 — conditions suitable for downward referral (下转) from the
//!   county hospital: rehabilitation, convalescence, stable chronic disease.
//!
//! Sources: 国务院办公厅关于推进分级诊疗制度建设的指导意见 (国办发〔2015〕70号,
//! 基层首诊、双向转诊、急慢分治、上下联动); 国家卫生健康委 分级诊疗技术方案 and
//! 县医院和基层医疗卫生机构常见病多发病诊疗目录; provincial 基层首诊病种 lists.
//! The shipped default lives in `config/referral_catalog.toml`, which each
//! county reviews and replaces.
//!
//! This module only parses and matches; reading the TOML text happens in the
//! server crate (`toml::from_str::<ReferralCatalog>`), followed by
//! [`ReferralCatalog::validate`].

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Explain;

/// How many characters of a rejected input an error message repeats.
const ECHO_CHARS: usize = 24;

/// A syntactically valid ICD-10 code (国际疾病分类编码), normalised.
///
/// Shape: one letter A–Z (chapter 22's `U` codes for special purposes such as
/// U07.1 included), two digits (the three-character category, 类目), then
/// optionally `.` and one or two digits or letters (the subcategory, 亚目 and
/// its extension). Input is trimmed and upper-cased, and a code written
/// without the dot gains one: `"e119"` → `"E11.9"`.
///
/// The syntax is checked, not membership in the WHO tabular list: `E11.9` and
/// `E11.X` are both accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Icd10Code(String);

impl Icd10Code {
    /// Parses and normalises an ICD-10 code; never panics.
    pub fn parse(s: &str) -> Result<Icd10Code, Icd10Error> {
        let malformed = || Icd10Error::Malformed(s.chars().take(ECHO_CHARS).collect());
        let t = s.trim();
        if !t.is_ascii() || t.len() < 3 {
            return Err(malformed());
        }
        let upper = t.to_ascii_uppercase();
        let b = upper.as_bytes();
        if !(b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit()) {
            return Err(malformed());
        }
        // ASCII checked above, so byte slicing is on char boundaries.
        let (category, rest) = upper.split_at(3);
        let sub = match rest.strip_prefix('.') {
            Some("") => return Err(malformed()),
            Some(sub) => sub,
            None => rest,
        };
        if sub.len() > 2 || !sub.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(malformed());
        }
        Ok(if sub.is_empty() {
            Icd10Code(category.to_string())
        } else {
            Icd10Code(format!("{category}.{sub}"))
        })
    }

    /// The normalised code, e.g. `"E11.9"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The three-character category (类目), e.g. `"E11"` for `"E11.9"`.
    pub fn category(&self) -> &str {
        self.0.get(..3).unwrap_or(&self.0)
    }

    /// The subcategory after the dot (亚目), e.g. `Some("9")` for `"E11.9"`.
    pub fn subcategory(&self) -> Option<&str> {
        self.0.get(4..).filter(|s| !s.is_empty())
    }

    /// The WHO ICD-10 chapter (章, 1–22) by the category's range, or `None`
    /// for a category outside every chapter's range (e.g. D49, E95, K95).
    ///
    /// 1 A00–B99 某些传染病和寄生虫病 · 2 C00–D48 肿瘤 · 3 D50–D89 血液及造血器官
    /// 疾病和某些免疫疾患 · 4 E00–E90 内分泌、营养和代谢疾病 · 5 F00–F99 精神和
    /// 行为障碍 · 6 G00–G99 神经系统疾病 · 7 H00–H59 眼和附器疾病 · 8 H60–H95
    /// 耳和乳突疾病 · 9 I00–I99 循环系统疾病 · 10 J00–J99 呼吸系统疾病 ·
    /// 11 K00–K93 消化系统疾病 · 12 L00–L99 皮肤和皮下组织疾病 · 13 M00–M99
    /// 肌肉骨骼系统和结缔组织疾病 · 14 N00–N99 泌尿生殖系统疾病 · 15 O00–O99
    /// 妊娠、分娩和产褥期 · 16 P00–P96 起源于围生期的某些情况 · 17 Q00–Q99
    /// 先天性畸形、变形和染色体异常 · 18 R00–R99 症状、体征和临床与实验室异常
    /// 所见 · 19 S00–T98 损伤、中毒和外因的某些其他后果 · 20 V01–Y98 疾病和死亡
    /// 的外因 · 21 Z00–Z99 影响健康状态和与保健机构接触的因素 · 22 U00–U99 用于
    /// 特殊目的的编码.
    pub fn chapter(&self) -> Option<u8> {
        let b = self.0.as_bytes();
        let (&letter, &d1, &d2) = (b.first()?, b.get(1)?, b.get(2)?);
        if !(d1.is_ascii_digit() && d2.is_ascii_digit()) {
            return None;
        }
        let n = (d1 - b'0') * 10 + (d2 - b'0');
        let chapter = match letter {
            b'A' | b'B' => 1,
            b'C' => 2,
            b'D' if n <= 48 => 2,
            b'D' if (50..=89).contains(&n) => 3,
            b'E' if n <= 90 => 4,
            b'F' => 5,
            b'G' => 6,
            b'H' if n <= 59 => 7,
            b'H' if (60..=95).contains(&n) => 8,
            b'I' => 9,
            b'J' => 10,
            b'K' if n <= 93 => 11,
            b'L' => 12,
            b'M' => 13,
            b'N' => 14,
            b'O' => 15,
            b'P' if n <= 96 => 16,
            b'Q' => 17,
            b'R' => 18,
            b'S' => 19,
            b'T' if n <= 98 => 19,
            b'V' if n >= 1 => 20,
            b'W' | b'X' => 20,
            b'Y' if n <= 98 => 20,
            b'Z' => 21,
            b'U' => 22,
            _ => return None,
        };
        Some(chapter)
    }

    /// Whether this code falls under a listed one: equal to it, or the listed
    /// code is its category or a shorter subcategory. `E11.9` is within `E11`,
    /// `E11.91` within `E11.9`, `I10` within `I10`; `E11` is not within
    /// `E11.9`, nor `E11.9` within `E11.1`.
    pub fn within(&self, listed: &Icd10Code) -> bool {
        let (me, other) = (self.as_str(), listed.as_str());
        if me == other {
            return true;
        }
        match me.strip_prefix(other) {
            // Listed is the bare category: the rest must be ".<sub>".
            Some(rest) if other.len() == 3 => rest.starts_with('.'),
            // Listed has a subcategory: the rest extends it.
            Some(rest) => !rest.is_empty(),
            None => false,
        }
    }
}

impl fmt::Display for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Icd10Code {
    type Err = Icd10Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Icd10Code::parse(s)
    }
}

impl TryFrom<String> for Icd10Code {
    type Error = Icd10Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Icd10Code::parse(&s)
    }
}

impl From<Icd10Code> for String {
    fn from(c: Icd10Code) -> String {
        c.0
    }
}

impl AsRef<str> for Icd10Code {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why an ICD-10 code or a referral catalogue was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Icd10Error {
    /// Not a syntactically valid ICD-10 code (holds the start of the input).
    #[error("malformed ICD-10 code: {0:?}")]
    Malformed(String),
    /// A catalogue list names the same code twice.
    #[error("ICD-10 code {code} is listed twice in catalogue list {list}")]
    Duplicate { list: &'static str, code: String },
}

impl Explain for Icd10Error {
    fn code(&self) -> &'static str {
        match self {
            Icd10Error::Malformed(_) => "unknown_icd10",
            Icd10Error::Duplicate { .. } => "duplicate_icd10",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            Icd10Error::Malformed(s) => {
                format!("“{s}”不是有效的 ICD-10 疾病编码（应为字母加两位数字，如 I10、E11.9）")
            }
            Icd10Error::Duplicate { list, code } => {
                format!("病种目录 {list} 中 ICD-10 编码 {code} 重复")
            }
        }
    }
    fn message_en(&self) -> String {
        match self {
            Icd10Error::Malformed(s) => format!(
                "\"{s}\" is not a valid ICD-10 code (a letter and two digits, e.g. I10, E11.9)"
            ),
            Icd10Error::Duplicate { list, code } => {
                format!("ICD-10 code {code} appears twice in catalogue list {list}")
            }
        }
    }
}

/// One row of a referral catalogue: an ICD-10 code or category and its
/// Chinese name (病种名称).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// ICD-10 code as written in the file (normalised when matched).
    pub icd10: String,
    /// 病种名称 — the condition's Chinese name.
    pub name: String,
}

impl CatalogEntry {
    /// The entry's code, parsed.
    pub fn code(&self) -> Result<Icd10Code, Icd10Error> {
        Icd10Code::parse(&self.icd10)
    }
}

/// A county's referral catalogues (分级诊疗病种目录), one version of
/// `config/referral_catalog.toml`. Unknown keys are refused so a mistyped
/// list header cannot silently empty a list. `Default` is an empty catalogue
/// (nothing matches), for when no catalogue can be loaded at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralCatalog {
    /// Catalogue version, raised on every edit.
    pub version: u32,
    /// The day this version takes effect.
    pub valid_from: NaiveDate,
    /// True for the shipped national default the county has not yet reviewed.
    pub is_default: bool,
    /// 基层首诊病种 — first-contact conditions.
    pub first_contact: Vec<CatalogEntry>,
    /// 基层一般不得上转病种 — conditions primary care should not refer up.
    pub no_refer_up: Vec<CatalogEntry>,
    /// 下转指征 — conditions suitable for downward referral.
    pub downward: Vec<CatalogEntry>,
}

impl ReferralCatalog {
    /// Every code parses, and no list names the same (normalised) code twice.
    /// A code may appear in more than one list.
    pub fn validate(&self) -> Result<(), Icd10Error> {
        for (list, entries) in self.lists() {
            let mut seen = HashSet::new();
            for e in entries {
                let code = e.code()?;
                if !seen.insert(code.clone()) {
                    return Err(Icd10Error::Duplicate { list, code: code.0 });
                }
            }
        }
        Ok(())
    }

    /// The first-contact (基层首诊) entry covering `code`, if any.
    pub fn first_contact_match(&self, code: &Icd10Code) -> Option<&CatalogEntry> {
        best_match(&self.first_contact, code)
    }

    /// The should-not-refer-up (基层一般不得上转) entry covering `code`, if any.
    pub fn no_refer_up_match(&self, code: &Icd10Code) -> Option<&CatalogEntry> {
        best_match(&self.no_refer_up, code)
    }

    /// The downward-referral (下转) entry covering `code`, if any.
    pub fn downward_match(&self, code: &Icd10Code) -> Option<&CatalogEntry> {
        best_match(&self.downward, code)
    }

    fn lists(&self) -> [(&'static str, &[CatalogEntry]); 3] {
        [
            ("first_contact", &self.first_contact),
            ("no_refer_up", &self.no_refer_up),
            ("downward", &self.downward),
        ]
    }
}

/// The most specific entry (longest code) that `code` is within; entries whose
/// code does not parse never match.
fn best_match<'a>(entries: &'a [CatalogEntry], code: &Icd10Code) -> Option<&'a CatalogEntry> {
    entries
        .iter()
        .filter_map(|e| e.code().ok().map(|c| (e, c)))
        .filter(|(_, c)| code.within(c))
        .max_by_key(|(_, c)| c.as_str().len())
        .map(|(e, _)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Icd10Code {
        Icd10Code::parse(s).unwrap()
    }

    fn entry(icd10: &str, name: &str) -> CatalogEntry {
        CatalogEntry {
            icd10: icd10.into(),
            name: name.into(),
        }
    }

    #[test]
    fn valid_codes_are_normalised() {
        for (input, want) in [
            ("I10", "I10"),
            ("E11.9", "E11.9"),
            ("E119", "E11.9"),
            ("e11.9", "E11.9"),
            ("e119", "E11.9"),
            ("S33.5", "S33.5"),
            ("U07.1", "U07.1"),
            ("u071", "U07.1"),
            ("E11.91", "E11.91"),
            ("E1191", "E11.91"),
            ("C34.x", "C34.X"),
            ("  j06.9 ", "J06.9"),
        ] {
            assert_eq!(code(input).as_str(), want, "input {input:?}");
        }
    }

    #[test]
    fn invalid_codes_are_refused() {
        for input in [
            "",
            " ",
            "11A",
            "I1",
            "I10.123",
            "I10123",
            "E11.",
            "E11..9",
            ".E11",
            "I1O",
            "1I0",
            "I-10",
            "E11 9",
            "E11.9.",
            "E11.-",
            "高血压",
            "I１0",
            "I10。9",
            "E11.é",
            "Ｉ10",
        ] {
            let err = Icd10Code::parse(input).unwrap_err();
            assert!(matches!(err, Icd10Error::Malformed(_)), "input {input:?}");
            assert_eq!(err.code(), "unknown_icd10");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let long = "E".repeat(10_000);
        for input in [
            "\u{0}",
            "E\u{301}11",
            "😀😀😀",
            "E1😀",
            "E11.😀",
            long.as_str(),
            "\n\t",
        ] {
            let r = Icd10Code::parse(input);
            assert!(r.is_err(), "input {input:?}");
            let e = r.unwrap_err();
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
        // The echoed input is truncated.
        let Icd10Error::Malformed(echo) = Icd10Code::parse(&long).unwrap_err() else {
            unreachable!()
        };
        assert_eq!(echo.chars().count(), ECHO_CHARS);
    }

    #[test]
    fn category_and_subcategory() {
        assert_eq!(code("E11.9").category(), "E11");
        assert_eq!(code("I10").category(), "I10");
        assert_eq!(code("E11.9").subcategory(), Some("9"));
        assert_eq!(code("I10").subcategory(), None);
    }

    #[test]
    fn chapters() {
        for (c, want) in [
            ("A09", Some(1)),
            ("B86", Some(1)),
            ("C34.1", Some(2)),
            ("D48", Some(2)),
            ("D50", Some(3)),
            ("E11", Some(4)),
            ("E11.9", Some(4)),
            ("F20", Some(5)),
            ("G43", Some(6)),
            ("H10", Some(7)),
            ("H61.2", Some(8)),
            ("I10", Some(9)),
            ("J44", Some(10)),
            ("K29", Some(11)),
            ("L30.9", Some(12)),
            ("M17", Some(13)),
            ("N39.0", Some(14)),
            ("O80", Some(15)),
            ("P07", Some(16)),
            ("Q21", Some(17)),
            ("R73.0", Some(18)),
            ("S33", Some(19)),
            ("T93", Some(19)),
            ("V89", Some(20)),
            ("W19", Some(20)),
            ("Y98", Some(20)),
            ("Z50", Some(21)),
            ("U07", Some(22)),
            ("U07.1", Some(22)),
            ("D49", None),
            ("E95", None),
            ("H99", None),
            ("K95", None),
            ("P99", None),
            ("T99", None),
            ("V00", None),
            ("Y99", None),
        ] {
            assert_eq!(code(c).chapter(), want, "code {c}");
        }
    }

    #[test]
    fn within_semantics() {
        assert!(code("E11.9").within(&code("E11")));
        assert!(code("E119").within(&code("e11")));
        assert!(code("I10").within(&code("I10")));
        assert!(code("E11.91").within(&code("E11.9")));
        assert!(code("E11.9").within(&code("E11.9")));
        assert!(!code("E11").within(&code("E11.9")));
        assert!(!code("E11.9").within(&code("E11.1")));
        assert!(!code("E11.19").within(&code("E11.9")));
        assert!(!code("I11").within(&code("I10")));
        assert!(!code("J06.9").within(&code("J20")));
    }

    #[test]
    fn conversions_normalise_and_refuse() {
        // `Icd10Code` deserialises through `TryFrom<String>`.
        let c = Icd10Code::try_from("e119".to_string()).unwrap();
        assert_eq!(c.as_str(), "E11.9");
        assert!(Icd10Code::try_from("I1".to_string()).is_err());
        assert_eq!(String::from(c), "E11.9");
        assert_eq!("j069".parse::<Icd10Code>().unwrap().to_string(), "J06.9");
    }

    fn sample() -> ReferralCatalog {
        ReferralCatalog {
            version: 1,
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            is_default: true,
            first_contact: vec![
                entry("I10", "原发性高血压"),
                entry("E11", "2型糖尿病"),
                entry("J06", "急性上呼吸道感染"),
            ],
            no_refer_up: vec![
                entry("J06.9", "急性上呼吸道感染"),
                entry("E119", "2型糖尿病（不伴并发症）"),
            ],
            downward: vec![entry("Z50", "康复治疗"), entry("I69", "脑血管病后遗症")],
        }
    }

    #[test]
    fn catalogue_matches_by_category_and_subcategory() {
        let cat = sample();
        cat.validate().unwrap();
        assert_eq!(
            cat.first_contact_match(&code("E11.9")).unwrap().icd10,
            "E11"
        );
        assert_eq!(
            cat.first_contact_match(&code("I10")).unwrap().name,
            "原发性高血压"
        );
        assert!(cat.first_contact_match(&code("I20.0")).is_none());
        assert_eq!(cat.no_refer_up_match(&code("E11.9")).unwrap().icd10, "E119");
        assert!(cat.no_refer_up_match(&code("E11.2")).is_none());
        assert!(cat.no_refer_up_match(&code("J06")).is_none());
        assert_eq!(cat.downward_match(&code("I69.3")).unwrap().icd10, "I69");
        assert_eq!(cat.downward_match(&code("Z50.1")).unwrap().name, "康复治疗");
        assert!(cat.downward_match(&code("I63.9")).is_none());
    }

    #[test]
    fn most_specific_entry_wins() {
        let mut cat = sample();
        cat.first_contact
            .push(entry("E11.9", "2型糖尿病不伴并发症"));
        assert_eq!(
            cat.first_contact_match(&code("E11.9")).unwrap().icd10,
            "E11.9"
        );
        assert_eq!(
            cat.first_contact_match(&code("E11.2")).unwrap().icd10,
            "E11"
        );
    }

    #[test]
    fn validate_refuses_bad_and_duplicate_codes() {
        let mut cat = sample();
        cat.downward.push(entry("Z5", "bad"));
        assert_eq!(cat.validate(), Err(Icd10Error::Malformed("Z5".into())));

        let mut cat = sample();
        // Same code after normalisation counts as a duplicate.
        cat.no_refer_up.push(entry("e11.9", "重复"));
        let err = cat.validate().unwrap_err();
        assert_eq!(
            err,
            Icd10Error::Duplicate {
                list: "no_refer_up",
                code: "E11.9".into()
            }
        );
        assert_eq!(err.code(), "duplicate_icd10");
        assert!(err.message_zh().contains("E11.9"));

        // The same code in two different lists is fine.
        let mut cat = sample();
        cat.downward.push(entry("E11", "2型糖尿病"));
        cat.validate().unwrap();
    }

    /// The shipped default catalogue, scanned line by line (this crate has no
    /// TOML parser): rebuild the three lists from `[[list]]` headers and their
    /// `icd10 = "…"` / `name = "…"` lines, then validate.
    #[test]
    fn shipped_catalogue_is_valid() {
        const FILE: &str = include_str!("../../../config/referral_catalog.toml");

        fn quoted(line: &str) -> Option<&str> {
            let (_, rest) = line.split_once('"')?;
            let (value, _) = rest.split_once('"')?;
            Some(value)
        }

        const LISTS: [&str; 3] = ["[[first_contact]]", "[[no_refer_up]]", "[[downward]]"];
        let mut lists: [Vec<CatalogEntry>; 3] = Default::default();
        let mut current: Option<usize> = None;
        let mut valid_from = None;
        let mut codes = 0;
        for line in FILE.lines().map(str::trim) {
            if let Some(i) = LISTS.iter().position(|h| *h == line) {
                lists[i].push(entry("", ""));
                current = Some(i);
            } else if line.starts_with("icd10") {
                let value = quoted(line).expect("icd10 value is quoted");
                Icd10Code::parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
                codes += 1;
                let i = current.expect("icd10 outside a list");
                lists[i].last_mut().unwrap().icd10 = value.to_string();
            } else if line.starts_with("name") {
                let value = quoted(line).expect("name value is quoted");
                let i = current.expect("name outside a list");
                lists[i].last_mut().unwrap().name = value.to_string();
            } else if line.starts_with("valid_from") {
                valid_from = Some(quoted(line).unwrap().parse::<NaiveDate>().unwrap());
            }
        }
        let headers = lists.each_ref().map(Vec::len);
        let [first_contact, no_refer_up, downward] = lists;
        let cat = ReferralCatalog {
            version: 1,
            valid_from: valid_from.expect("valid_from present"),
            is_default: true,
            first_contact,
            no_refer_up,
            downward,
        };

        assert!(headers[0] >= 45, "first_contact has {}", headers[0]);
        assert!(headers[1] >= 25, "no_refer_up has {}", headers[1]);
        assert!(headers[2] >= 8, "downward has {}", headers[2]);
        assert_eq!(codes, headers.iter().sum::<usize>(), "one icd10 per entry");
        for list in [&cat.first_contact, &cat.no_refer_up, &cat.downward] {
            for e in list {
                assert!(!e.icd10.is_empty() && !e.name.trim().is_empty(), "{e:?}");
            }
        }
        cat.validate().unwrap();

        // No entry is redundant: none falls under another entry of its list.
        for list in [&cat.first_contact, &cat.no_refer_up, &cat.downward] {
            for a in list {
                for b in list {
                    if !std::ptr::eq(a, b) {
                        assert!(
                            !a.code().unwrap().within(&b.code().unwrap()),
                            "{a:?} under {b:?}"
                        );
                    }
                }
            }
        }

        // Spot checks of the matching rules on the real lists.
        assert!(cat.first_contact_match(&code("I10")).is_some());
        assert!(cat.first_contact_match(&code("E11.9")).is_some());
        assert!(cat.no_refer_up_match(&code("J06.9")).is_some());
        assert!(cat.no_refer_up_match(&code("E11.2")).is_none());
        assert!(cat.downward_match(&code("Z50.1")).is_some());
    }
}
