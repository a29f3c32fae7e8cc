//! 长处方 — long prescriptions for contracted, stable chronic patients.
//!
//! Rules (长期处方管理规范（试行）, 国卫办医发〔2021〕17号; seed 004 §三(三)2:
//! "对符合条件的签约慢性病患者提供不超过12周用药量的长处方服务"):
//! - normally at most **4 weeks** (28 days) supplied at once;
//! - up to **12 weeks** (84 days) for a contracted patient with a stable
//!   chronic condition, when a stability assessment is recorded and the patient
//!   has signed;
//! - never for narcotics, class I/II psychotropics, medical toxic drugs,
//!   radioactive drugs, or antimicrobials — anti-tuberculosis drugs excepted.

use serde::{Deserialize, Serialize};

use crate::error::Explain;

/// Days supplied allowed without the long-prescription conditions.
pub const NORMAL_MAX_DAYS: u32 = 28;
/// Days supplied allowed for a qualifying long prescription (12 weeks).
pub const LONG_MAX_DAYS: u32 = 84;

crate::vocabulary!(
    /// 药品管理类别 — the class of a drug as long-prescription rules see it.
    DrugClass {
        Ordinary = "ordinary": "普通药品",
        Narcotic = "narcotic": "麻醉药品",
        PsychotropicI = "psychotropic_1": "第一类精神药品",
        PsychotropicII = "psychotropic_2": "第二类精神药品",
        Toxic = "toxic": "医疗用毒性药品",
        Radioactive = "radioactive": "放射性药品",
        Antimicrobial = "antimicrobial": "抗菌药物",
        AntiTuberculosis = "anti_tb": "抗结核药物",
    }
);

impl DrugClass {
    /// Classes that may never be prescribed long.
    pub fn excluded_from_long(self) -> bool {
        matches!(
            self,
            DrugClass::Narcotic
                | DrugClass::PsychotropicI
                | DrugClass::PsychotropicII
                | DrugClass::Toxic
                | DrugClass::Radioactive
                | DrugClass::Antimicrobial
        )
    }
}

/// What the rule needs to know about a prescription and its patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongRxCase {
    pub days_supplied: u32,
    pub class: DrugClass,
    /// The patient has an active family-doctor contract on the date.
    pub contracted: bool,
    /// The patient is enrolled in a chronic program and assessed stable.
    pub stable_chronic: bool,
    /// A stability assessment is recorded for this prescription.
    pub assessment_recorded: bool,
    /// The patient signed the long-prescription consent.
    pub patient_signed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LongRxError {
    #[error("days supplied must be at least 1")]
    NoDays,
    #[error("{days} days exceeds the 12-week (84-day) maximum of a long prescription")]
    OverTwelveWeeks { days: u32 },
    #[error("{days} days exceeds 4 weeks (28 days); a long prescription needs {missing}")]
    ConditionsMissing { days: u32, missing: &'static str },
    #[error("{class} drugs may not be prescribed for more than 28 days")]
    ExcludedClass { class: DrugClass },
}

impl Explain for LongRxError {
    fn code(&self) -> &'static str {
        "long_prescription_limit"
    }
    fn message_zh(&self) -> String {
        match self {
            LongRxError::NoDays => "用药天数至少为1天".into(),
            LongRxError::OverTwelveWeeks { days } => {
                format!("用药{days}天超过长处方最长12周（84天）的规定")
            }
            LongRxError::ConditionsMissing { days, missing } => {
                let zh = match *missing {
                    "an active contract" => "有效的家庭医生签约",
                    "a stable chronic condition" => "病情稳定的慢性病",
                    "a recorded stability assessment" => "记录在案的病情稳定性评估",
                    _ => "患者签字",
                };
                format!("用药{days}天超过4周（28天），开具长处方须具备：{zh}")
            }
            LongRxError::ExcludedClass { class } => {
                format!("{}不得开具超过28天的长处方", class.label_zh())
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 长处方规则 — checks the days supplied of one prescription line.
pub fn check_long_prescription(c: &LongRxCase) -> Result<(), LongRxError> {
    let days = c.days_supplied;
    if days == 0 {
        return Err(LongRxError::NoDays);
    }
    if days <= NORMAL_MAX_DAYS {
        return Ok(());
    }
    if days > LONG_MAX_DAYS {
        return Err(LongRxError::OverTwelveWeeks { days });
    }
    if c.class.excluded_from_long() {
        return Err(LongRxError::ExcludedClass { class: c.class });
    }
    let missing = if !c.contracted {
        Some("an active contract")
    } else if !c.stable_chronic {
        Some("a stable chronic condition")
    } else if !c.assessment_recorded {
        Some("a recorded stability assessment")
    } else if !c.patient_signed {
        Some("the patient's signature")
    } else {
        None
    };
    match missing {
        Some(missing) => Err(LongRxError::ConditionsMissing { days, missing }),
        None => Ok(()),
    }
}

/// A prescription line as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrescriptionLine {
    pub drug: String,
    pub class: DrugClass,
    /// Daily dose as prescribed, e.g. "5 mg qd".
    pub daily_dose: String,
    pub days_supplied: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(days: u32) -> LongRxCase {
        LongRxCase {
            days_supplied: days,
            class: DrugClass::Ordinary,
            contracted: true,
            stable_chronic: true,
            assessment_recorded: true,
            patient_signed: true,
        }
    }

    #[test]
    fn twelve_weeks_accepted_one_more_day_refused() {
        assert!(check_long_prescription(&case(84)).is_ok());
        assert_eq!(
            check_long_prescription(&case(85)),
            Err(LongRxError::OverTwelveWeeks { days: 85 })
        );
        assert_eq!(
            check_long_prescription(&case(85)).unwrap_err().code(),
            "long_prescription_limit"
        );
    }

    #[test]
    fn four_weeks_need_no_conditions_twenty_nine_days_do() {
        let bare = LongRxCase {
            contracted: false,
            stable_chronic: false,
            assessment_recorded: false,
            patient_signed: false,
            ..case(28)
        };
        assert!(check_long_prescription(&bare).is_ok());
        let over = LongRxCase {
            days_supplied: 29,
            ..bare
        };
        assert!(matches!(
            check_long_prescription(&over),
            Err(LongRxError::ConditionsMissing {
                missing: "an active contract",
                ..
            })
        ));
        let no_assessment = LongRxCase {
            assessment_recorded: false,
            ..case(29)
        };
        assert!(matches!(
            check_long_prescription(&no_assessment),
            Err(LongRxError::ConditionsMissing {
                missing: "a recorded stability assessment",
                ..
            })
        ));
        let unsigned = LongRxCase {
            patient_signed: false,
            ..case(56)
        };
        assert!(matches!(
            check_long_prescription(&unsigned),
            Err(LongRxError::ConditionsMissing {
                missing: "the patient's signature",
                ..
            })
        ));
        let unstable = LongRxCase {
            stable_chronic: false,
            ..case(56)
        };
        assert!(check_long_prescription(&unstable).is_err());
    }

    #[test]
    fn excluded_classes_never_long_but_anti_tb_may_be() {
        for class in [
            DrugClass::Narcotic,
            DrugClass::PsychotropicI,
            DrugClass::PsychotropicII,
            DrugClass::Toxic,
            DrugClass::Radioactive,
            DrugClass::Antimicrobial,
        ] {
            assert_eq!(
                check_long_prescription(&LongRxCase { class, ..case(29) }),
                Err(LongRxError::ExcludedClass { class })
            );
            assert!(
                check_long_prescription(&LongRxCase { class, ..case(28) }).is_ok(),
                "28 days is not long"
            );
        }
        assert!(
            check_long_prescription(&LongRxCase {
                class: DrugClass::AntiTuberculosis,
                ..case(84)
            })
            .is_ok()
        );
        assert!(check_long_prescription(&case(0)).is_err());
    }
}
