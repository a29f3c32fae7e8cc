//! 居民身份证号码 — the 18-character citizen identity number of GB 11643-1999.
//!
//! Layout: 6-digit address code (GB/T 2260), 8-digit birth date `YYYYMMDD`,
//! 3-digit sequence (odd for men, even for women), and an ISO 7064 MOD 11-2
//! check character `0-9` or `X`.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::Explain;

/// 性别 — sex, as encoded by the identity number's sequence digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
    pub fn parse(s: &str) -> Option<Sex> {
        match s {
            "male" | "m" | "M" | "男" => Some(Sex::Male),
            "female" | "f" | "F" | "女" => Some(Sex::Female),
            _ => None,
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// The first two digits of every GB/T 2260 province-level code (省级行政区划代码),
/// including Taiwan (71), Hong Kong (81) and Macao (82).
pub const PROVINCE_CODES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// Whether `two` is a real province code prefix.
pub fn is_province_code(two: &str) -> bool {
    PROVINCE_CODES.contains(&two)
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// ISO 7064 MOD 11-2 check character over 17 ASCII digits (GB 11643 §8.2).
/// Returns `None` if the input is not exactly 17 digits.
pub fn mod11_2_check(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// Why an identity number was refused. Every variant maps to the stable API
/// code `invalid_id_number` (or `id_number_mismatch` for a disagreement).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an identity number has 18 characters, got {0}")]
    Length(usize),
    #[error("the first 17 characters must be digits and the last a digit or X")]
    Charset,
    #[error("region prefix {0} does not start with a real province code")]
    UnknownProvince(String),
    #[error("birth date {0} is not a real calendar date")]
    InvalidDate(String),
    #[error("birth date {0} is in the future")]
    FutureDate(NaiveDate),
    #[error("check character should be {expected}, got {found}")]
    CheckChar { expected: char, found: char },
    #[error("given {field} {given} disagrees with {derived} derived from the identity number")]
    Disagrees {
        field: &'static str,
        given: String,
        derived: String,
    },
}

impl Explain for IdNumberError {
    fn code(&self) -> &'static str {
        match self {
            IdNumberError::Disagrees { .. } => "id_number_mismatch",
            _ => "invalid_id_number",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            IdNumberError::Length(n) => format!("身份证号码应为18位，实际为{n}位"),
            IdNumberError::Charset => "身份证号码前17位须为数字，末位为数字或X".into(),
            IdNumberError::UnknownProvince(p) => format!("身份证号码地址码{p}不是有效的省级代码"),
            IdNumberError::InvalidDate(d) => format!("身份证号码中的出生日期{d}不是有效日期"),
            IdNumberError::FutureDate(d) => format!("身份证号码中的出生日期{d}晚于今天"),
            IdNumberError::CheckChar { expected, found } => {
                format!("身份证号码校验码错误：应为{expected}，实际为{found}")
            }
            IdNumberError::Disagrees {
                field,
                given,
                derived,
            } => {
                let f = if *field == "sex" {
                    "性别"
                } else {
                    "出生日期"
                };
                format!("填写的{f}（{given}）与身份证号码（{derived}）不一致")
            }
        }
    }
    fn message_en(&self) -> String {
        format!("invalid identity number: {self}")
    }
}

/// A valid GB 11643 identity number. Exists only if valid; stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    value: String,
    birth_date: NaiveDate,
    sex: Sex,
}

impl IdNumber {
    /// Parses and validates an identity number as of `today`: 18 characters,
    /// a real province prefix, a real birth date not after `today`, and the
    /// MOD 11-2 check character (`x` accepted, stored as `X`).
    pub fn parse(input: &str, today: NaiveDate) -> Result<IdNumber, IdNumberError> {
        let s = input.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        if !s.is_ascii() {
            return Err(IdNumberError::Charset);
        }
        let (body, last) = s.split_at(17);
        let last = last.chars().next().unwrap_or('?');
        if !body.bytes().all(|b| b.is_ascii_digit()) || !(last.is_ascii_digit() || last == 'X') {
            return Err(IdNumberError::Charset);
        }
        if !is_province_code(&body[..2]) {
            return Err(IdNumberError::UnknownProvince(body[..6].to_string()));
        }
        let date_text = &body[6..14];
        let birth_date = NaiveDate::parse_from_str(date_text, "%Y%m%d")
            .map_err(|_| IdNumberError::InvalidDate(date_text.to_string()))?;
        if birth_date > today {
            return Err(IdNumberError::FutureDate(birth_date));
        }
        let expected = mod11_2_check(body).unwrap_or('?');
        if expected != last {
            return Err(IdNumberError::CheckChar {
                expected,
                found: last,
            });
        }
        let seq_digit = body.as_bytes()[16] - b'0';
        let sex = if seq_digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        };
        Ok(IdNumber {
            value: s,
            birth_date,
            sex,
        })
    }

    /// Builds a valid number from its parts, computing the check character.
    /// `sequence` is 0..=999; its parity must match `sex` (odd = male).
    pub fn build(region6: &str, birth_date: NaiveDate, sequence: u16) -> Option<IdNumber> {
        if region6.len() != 6 || sequence > 999 || birth_date.year() < 1000 {
            return None;
        }
        let body = format!("{region6}{}{sequence:03}", birth_date.format("%Y%m%d"));
        let check = mod11_2_check(&body)?;
        let value = format!("{body}{check}");
        let sex = if sequence % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        };
        Some(IdNumber {
            value,
            birth_date,
            sex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
    /// The 6-digit address code (行政区划代码) of the place of first registration.
    pub fn region_prefix(&self) -> &str {
        &self.value[..6]
    }
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }
    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// 出生日期与性别一致性 — a birth date or sex given beside the number must
    /// agree with what the number encodes.
    pub fn check_agrees(
        &self,
        birth_date: Option<NaiveDate>,
        sex: Option<Sex>,
    ) -> Result<(), IdNumberError> {
        if let Some(b) = birth_date.filter(|b| *b != self.birth_date) {
            return Err(IdNumberError::Disagrees {
                field: "birth_date",
                given: b.to_string(),
                derived: self.birth_date.to_string(),
            });
        }
        if let Some(s) = sex.filter(|s| *s != self.sex) {
            return Err(IdNumberError::Disagrees {
                field: "sex",
                given: s.label_zh().into(),
                derived: self.sex.label_zh().into(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }
    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn check_character_matches_the_standard_worked_example() {
        // GB 11643-1999 appendix example: 11010519491231002X.
        assert_eq!(mod11_2_check("11010519491231002"), Some('X'));
        let id = IdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.birth_date(), d(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
    }

    #[test]
    fn every_check_character_including_x_is_produced_and_accepted() {
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..200u16 {
            let id = IdNumber::build("140521", d(1980, 6, 15), seq).unwrap();
            let last = id.as_str().chars().last().unwrap();
            seen.insert(last);
            assert_eq!(IdNumber::parse(id.as_str(), today()).unwrap(), id);
        }
        assert_eq!(seen.len(), 11, "all of 0-9 and X occur: {seen:?}");
    }

    #[test]
    fn lower_case_x_is_accepted_and_stored_upper() {
        let id = IdNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn wrong_check_digit_is_refused_naming_the_right_one() {
        let err = IdNumber::parse("110105194912310021", today()).unwrap_err();
        assert_eq!(
            err,
            IdNumberError::CheckChar {
                expected: 'X',
                found: '1'
            }
        );
        assert_eq!(err.code(), "invalid_id_number");
    }

    #[test]
    fn length_and_charset_are_checked() {
        assert_eq!(
            IdNumber::parse("1101051949123100", today()),
            Err(IdNumberError::Length(16))
        );
        assert_eq!(
            IdNumber::parse("1101051949123100A2", today()),
            Err(IdNumberError::Charset)
        );
        assert_eq!(IdNumber::parse("", today()), Err(IdNumberError::Length(0)));
        assert_eq!(
            IdNumber::parse("一二三四五六七八九十一二三四五六七八", today()),
            Err(IdNumberError::Charset)
        );
    }

    #[test]
    fn province_prefix_must_be_real() {
        let body = "99010519800101001";
        let id = format!("{body}{}", mod11_2_check(body).unwrap());
        assert!(matches!(
            IdNumber::parse(&id, today()),
            Err(IdNumberError::UnknownProvince(_))
        ));
        // 91 (foreigners' old prefix) and 00 are not provinces either.
        assert!(!is_province_code("00") && !is_province_code("91"));
    }

    #[test]
    fn february_29_only_in_leap_years() {
        let body = "14052120230229001";
        let bad = format!("{body}{}", mod11_2_check(body).unwrap());
        assert!(matches!(
            IdNumber::parse(&bad, today()),
            Err(IdNumberError::InvalidDate(_))
        ));
        let leap = IdNumber::build("140521", d(2024, 2, 29), 1).unwrap();
        assert!(IdNumber::parse(leap.as_str(), today()).is_ok());
        // 1900 is not a leap year, 2000 is.
        let body = "14052119000229001";
        let bad = format!("{body}{}", mod11_2_check(body).unwrap());
        assert!(IdNumber::parse(&bad, today()).is_err());
        assert!(IdNumber::build("140521", d(2000, 2, 29), 3).is_some());
    }

    #[test]
    fn future_birth_dates_are_refused_today_is_fine() {
        let tomorrow = IdNumber::build("140521", d(2026, 11, 23), 1).unwrap();
        assert_eq!(
            IdNumber::parse(tomorrow.as_str(), today()),
            Err(IdNumberError::FutureDate(d(2026, 11, 23)))
        );
        let born_today = IdNumber::build("140521", today(), 2).unwrap();
        assert!(IdNumber::parse(born_today.as_str(), today()).is_ok());
    }

    #[test]
    fn sex_follows_the_sequence_parity_and_disagreement_is_refused() {
        let man = IdNumber::build("140521", d(1970, 1, 1), 123).unwrap();
        assert_eq!(man.sex(), Sex::Male);
        assert!(
            man.check_agrees(Some(d(1970, 1, 1)), Some(Sex::Male))
                .is_ok()
        );
        let e = man.check_agrees(None, Some(Sex::Female)).unwrap_err();
        assert_eq!(e.code(), "id_number_mismatch");
        assert!(man.check_agrees(Some(d(1970, 1, 2)), None).is_err());
    }
}
