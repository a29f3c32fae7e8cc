//! 居民 — the resident (master patient index) rules: registration input,
//! key-population tags, age.

use chrono::{Datelike, NaiveDate};

use crate::error::FieldError;
use crate::id_number::{IdNumber, IdNumberError, Sex};
use crate::name::PersonName;
use crate::phone::Phone;
use crate::region::{RegionCode, RegionCodeError};
use crate::registry::Insurance;

crate::vocabulary!(
    /// 重点人群 — key-population tags. `Elderly65` and `Child0To6` are derived
    /// from the birth date and never stored; the others are recorded.
    KeyPopulation {
        Elderly65 = "elderly_65": "65岁及以上老年人",
        Child0To6 = "child_0_6": "0-6岁儿童",
        Hypertension = "hypertension": "高血压患者",
        Diabetes = "diabetes_t2": "2型糖尿病患者",
        SevereMental = "severe_mental": "严重精神障碍患者",
        Tuberculosis = "tuberculosis": "肺结核患者",
        Pregnant = "pregnant": "孕产妇",
        Disabled = "disabled": "残疾人",
        PovertyRegistered = "poverty_registered": "建档立卡人口",
    }
);

impl KeyPopulation {
    /// Whether the tag is derived from age rather than recorded.
    pub fn is_derived(self) -> bool {
        matches!(self, KeyPopulation::Elderly65 | KeyPopulation::Child0To6)
    }
}

/// Age in whole years on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The latest birth date of someone at least `years` old on `on` (their
/// birthday on or before `on`, as [`age_on`] counts it; a 29 February
/// birthday falls on 28 February of the year looked back to when that year
/// has none): selects an age group by birth date, e.g. in SQL.
pub fn born_by_age(on: NaiveDate, years: i32) -> NaiveDate {
    let y = on.year() - years;
    NaiveDate::from_ymd_opt(y, on.month(), on.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))
        .unwrap_or(on)
}

/// 重点人群 — the full tag set on `on`: recorded tags plus the age-derived
/// ones (65 and over; 0 to 6 years, i.e. before the 7th birthday).
pub fn key_populations(
    birth: NaiveDate,
    on: NaiveDate,
    recorded: &[KeyPopulation],
) -> Vec<KeyPopulation> {
    let age = age_on(birth, on);
    let mut tags: Vec<KeyPopulation> = recorded
        .iter()
        .copied()
        .filter(|t| !t.is_derived())
        .collect();
    if age >= 65 {
        tags.push(KeyPopulation::Elderly65);
    }
    if (0..=6).contains(&age) {
        tags.push(KeyPopulation::Child0To6);
    }
    tags.sort();
    tags.dedup();
    tags
}

/// Encodes recorded tags for storage: a comma-separated, sorted list.
pub fn encode_tags(tags: &[KeyPopulation]) -> String {
    let mut v: Vec<&str> = tags
        .iter()
        .filter(|t| !t.is_derived())
        .map(|t| t.as_str())
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// Decodes stored tags, ignoring unknown codes from a later version.
pub fn decode_tags(s: &str) -> Vec<KeyPopulation> {
    s.split(',').filter_map(KeyPopulation::parse).collect()
}

/// Registration input as it arrives (API, CSV, FHIR): strings, unvalidated.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ResidentInput {
    pub id_number: String,
    pub name: String,
    pub phone: String,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
    pub region_code: String,
    pub address: Option<String>,
    pub household_code: Option<String>,
    pub insurance: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// A registration that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidResident {
    pub id_number: IdNumber,
    pub name: PersonName,
    pub phone: Phone,
    pub region_code: RegionCode,
    pub address: String,
    pub household_code: Option<String>,
    pub insurance: Insurance,
    pub tags: Vec<KeyPopulation>,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentError {
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
    #[error(transparent)]
    Region(#[from] RegionCodeError),
    #[error(transparent)]
    Field(#[from] FieldError),
}

impl crate::Explain for ResidentError {
    fn code(&self) -> &'static str {
        match self {
            ResidentError::IdNumber(e) => e.code(),
            ResidentError::Region(e) => e.code(),
            ResidentError::Field(e) => e.code(),
        }
    }
    fn message_zh(&self) -> String {
        match self {
            ResidentError::IdNumber(e) => e.message_zh(),
            ResidentError::Region(e) => e.message_zh(),
            ResidentError::Field(e) => e.message_zh(),
        }
    }
    fn message_en(&self) -> String {
        match self {
            ResidentError::IdNumber(e) => e.message_en(),
            ResidentError::Region(e) => e.message_en(),
            ResidentError::Field(e) => e.message_en(),
        }
    }
}

impl ResidentInput {
    /// Validates every field as of `today`. The identity number comes first:
    /// a bad one is always reported as `invalid_id_number`.
    pub fn validate(&self, today: NaiveDate) -> Result<ValidResident, ResidentError> {
        let id_number = IdNumber::parse(&self.id_number, today)?;
        let sex = match self.sex.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(Sex::parse(s).ok_or_else(|| {
                FieldError::new(
                    "sex",
                    "性别应为 male 或 female",
                    "sex must be male or female",
                )
            })?),
            None => None,
        };
        let birth = match self.birth_date.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                FieldError::new(
                    "birth_date",
                    "出生日期格式应为 YYYY-MM-DD",
                    "birth_date must be YYYY-MM-DD",
                )
            })?),
            None => None,
        };
        id_number.check_agrees(birth, sex)?;
        let name = PersonName::parse(&self.name)?;
        let phone = Phone::parse(&self.phone)?;
        let region_code = RegionCode::parse(&self.region_code)?;
        let address = self.address.clone().unwrap_or_default().trim().to_string();
        if address.chars().count() > 200 {
            return Err(FieldError::new(
                "address",
                "地址不超过200字",
                "address is at most 200 characters",
            )
            .into());
        }
        let household_code = self
            .household_code
            .clone()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        if household_code.as_ref().is_some_and(|h| h.len() > 40) {
            return Err(FieldError::new(
                "household_code",
                "户编号不超过40字符",
                "household_code is at most 40 characters",
            )
            .into());
        }
        let insurance = match self.insurance.as_deref() {
            Some(s) if !s.is_empty() => Insurance::parse_field("insurance", s)?,
            _ => Insurance::Resident,
        };
        let tags = self
            .tags
            .iter()
            .flatten()
            .map(|t| KeyPopulation::parse_field("tags", t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ValidResident {
            id_number,
            name,
            phone,
            region_code,
            address,
            household_code,
            insurance,
            tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn born_by_age_agrees_with_age_on() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        for on in [
            d(2026, 3, 31),
            d(2026, 2, 28),
            d(2028, 2, 29),
            d(2026, 1, 1),
        ] {
            for years in [7, 65] {
                let cutoff = born_by_age(on, years);
                assert!(age_on(cutoff, on) >= years, "{on} {years}");
                assert!(
                    age_on(cutoff.succ_opt().unwrap(), on) < years,
                    "{on} {years}"
                );
            }
        }
        // Born 29 March 1961: 65 on 31 March 2026 (a day-28 cut-off missed it).
        assert!(d(1961, 3, 29) <= born_by_age(d(2026, 3, 31), 65));
    }
    use crate::Explain;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn input() -> ResidentInput {
        ResidentInput {
            id_number: IdNumber::build("140521", d(1958, 3, 9), 17)
                .unwrap()
                .to_string(),
            name: "李建国".into(),
            phone: "14500001234".into(),
            region_code: "140521101201".into(),
            ..Default::default()
        }
    }

    #[test]
    fn age_boundaries_for_derived_tags() {
        let today = d(2026, 11, 22);
        assert_eq!(age_on(d(1961, 11, 22), today), 65);
        assert_eq!(age_on(d(1961, 11, 23), today), 64);
        assert!(key_populations(d(1961, 11, 22), today, &[]).contains(&KeyPopulation::Elderly65));
        assert!(!key_populations(d(1961, 11, 23), today, &[]).contains(&KeyPopulation::Elderly65));
        assert!(key_populations(d(2019, 11, 23), today, &[]).contains(&KeyPopulation::Child0To6));
        assert!(!key_populations(d(2019, 11, 22), today, &[]).contains(&KeyPopulation::Child0To6));
    }

    #[test]
    fn tags_encode_without_derived_ones() {
        let s = encode_tags(&[
            KeyPopulation::Hypertension,
            KeyPopulation::Elderly65,
            KeyPopulation::Diabetes,
        ]);
        assert_eq!(s, "diabetes_t2,hypertension");
        assert_eq!(
            decode_tags(&s),
            vec![KeyPopulation::Diabetes, KeyPopulation::Hypertension]
        );
    }

    #[test]
    fn valid_input_passes_and_defaults_apply() {
        let v = input().validate(d(2026, 11, 22)).unwrap();
        assert_eq!(v.insurance, Insurance::Resident);
        assert_eq!(v.id_number.sex(), Sex::Male);
    }

    #[test]
    fn disagreeing_sex_or_birth_date_is_refused() {
        let mut i = input();
        i.sex = Some("female".into());
        assert_eq!(
            i.validate(d(2026, 11, 22)).unwrap_err().code(),
            "id_number_mismatch"
        );
        let mut i = input();
        i.birth_date = Some("1958-03-10".into());
        assert_eq!(
            i.validate(d(2026, 11, 22)).unwrap_err().code(),
            "id_number_mismatch"
        );
    }

    #[test]
    fn bad_fields_name_themselves() {
        let mut i = input();
        i.id_number = "123".into();
        assert_eq!(
            i.validate(d(2026, 11, 22)).unwrap_err().code(),
            "invalid_id_number"
        );
        let mut i = input();
        i.tags = Some(vec!["vip".into()]);
        assert_eq!(
            i.validate(d(2026, 11, 22)).unwrap_err().code(),
            "invalid_field"
        );
        let mut i = input();
        i.region_code = "abc".into();
        assert_eq!(
            i.validate(d(2026, 11, 22)).unwrap_err().code(),
            "invalid_region_code"
        );
    }
}
