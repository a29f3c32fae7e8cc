//! 慢病医防融合 — chronic disease management: programs, risk stratification
//! into green / yellow / red (分色管理, seed 004 §三(二)), follow-up schedules,
//! control status, the "六个一" checklist, and physiological ranges.
//!
//! Sources: seed 004 §三(二) (低危、中危、高危分色管理; 牵头医院专科医生每年对
//! 慢病高危人群至少开展一次面对面指导; "六个一"); 国家基层高血压防治管理指南
//! (2020) and 中国高血压防治指南 (2018 修订版) for grades and risk; 国家基层
//! 糖尿病防治管理指南 (2022) for glycaemic targets; 国家基本公共卫生服务规范
//! (第三版) for "at least four follow-ups a year".

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::Explain;

crate::vocabulary!(
    /// 慢病管理项目 — chronic programs.
    Program {
        Hypertension = "hypertension": "高血压",
        Diabetes = "diabetes_t2": "2型糖尿病",
        Copd = "copd": "慢阻肺",
    }
);

crate::vocabulary!(
    /// 风险分层 — risk level, shown as a colour (分色管理).
    Risk {
        Low = "low": "低危（绿）",
        Medium = "medium": "中危（黄）",
        High = "high": "高危（红）",
    }
);

impl Risk {
    pub fn colour(self) -> &'static str {
        match self {
            Risk::Low => "green",
            Risk::Medium => "yellow",
            Risk::High => "red",
        }
    }

    /// 随访频次 — days between follow-ups: green quarterly (the national
    /// minimum of four a year), yellow every two months, red monthly.
    pub fn follow_up_days(self) -> i64 {
        match self {
            Risk::Low => 90,
            Risk::Medium => 60,
            Risk::High => 30,
        }
    }
}

/// The programme that manages a diagnosis, by ICD-10 category: I10–I15
/// hypertension, E11 type 2 diabetes, J44 COPD.
pub fn program_for_icd10(category: &str) -> Option<Program> {
    match category {
        "I10" | "I11" | "I12" | "I13" | "I15" => Some(Program::Hypertension),
        "E11" => Some(Program::Diabetes),
        "J44" => Some(Program::Copd),
        _ => None,
    }
}

/// 血压分级 — blood-pressure grade from one reading (the higher of the
/// systolic and diastolic grades).
pub fn bp_grade(sbp: u16, dbp: u16) -> u8 {
    let s = match sbp {
        180.. => 3,
        160..=179 => 2,
        140..=159 => 1,
        _ => 0,
    };
    let d = match dbp {
        110.. => 3,
        100..=109 => 2,
        90..=99 => 1,
        _ => 0,
    };
    s.max(d)
}

/// What hypertension risk stratification looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HypertensionFactors {
    /// Cardiovascular risk factors (age, smoking, dyslipidaemia, impaired
    /// glucose tolerance, family history, obesity, …).
    pub risk_factors: u8,
    /// Target-organ damage (left ventricular hypertrophy, microalbuminuria, …).
    pub organ_damage: bool,
    /// Diabetes (without complications counts like organ damage).
    pub diabetes: bool,
    /// Clinical complications (stroke, coronary disease, heart failure, CKD ≥ 4,
    /// diabetes with complications).
    pub clinical_complications: bool,
}

/// 高血压危险分层 — grade × risk factors / organ damage / complications:
///
/// | | grade 1 | grade 2 | grade 3 |
/// |---|---|---|---|
/// | no risk factor | low | medium | high |
/// | 1–2 risk factors | medium | medium | high |
/// | ≥ 3 factors, organ damage or diabetes | high | high | high |
/// | clinical complications | high | high | high |
///
/// (The guideline's "medium-high" and "very high" cells map to medium and
/// high for the three colours.) Grade 0 (treated, at target) takes the
/// grade-1 row: a hypertensive patient is never below their factors' risk.
pub fn hypertension_risk(sbp: u16, dbp: u16, f: HypertensionFactors) -> Risk {
    let grade = bp_grade(sbp, dbp).max(1);
    if f.clinical_complications || f.organ_damage || f.diabetes || f.risk_factors >= 3 || grade == 3
    {
        return Risk::High;
    }
    match (f.risk_factors, grade) {
        (0, 1) => Risk::Low,
        _ => Risk::Medium,
    }
}

/// What diabetes risk stratification looks at.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DiabetesFactors {
    /// Latest HbA1c, %.
    pub hba1c: Option<f64>,
    /// Latest fasting glucose, mmol/L.
    pub fasting_glucose: Option<f64>,
    /// Number of chronic complications (retinopathy, nephropathy, neuropathy,
    /// diabetic foot, cardiovascular disease).
    pub complications: u8,
}

/// 糖尿病风险分层 — glycaemic control and complications:
/// - high (red): HbA1c ≥ 9 %, fasting glucose ≥ 13.9 mmol/L (or < 3.9,
///   hypoglycaemia), or two or more complications;
/// - medium (yellow): HbA1c 7–9 %, fasting glucose 7.0–13.9, or one
///   complication;
/// - low (green): HbA1c < 7 % and fasting glucose < 7.0 without complications.
///
/// A missing value does not lower the risk below what the others show; with
/// neither HbA1c nor glucose known the patient is medium until measured.
pub fn diabetes_risk(f: DiabetesFactors) -> Risk {
    let a1c = f.hba1c;
    let fpg = f.fasting_glucose;
    if f.complications >= 2
        || a1c.is_some_and(|v| v >= 9.0)
        || fpg.is_some_and(|v| !(3.9..13.9).contains(&v))
    {
        return Risk::High;
    }
    if f.complications == 1
        || a1c.is_some_and(|v| v >= 7.0)
        || fpg.is_some_and(|v| v >= 7.0)
        || (a1c.is_none() && fpg.is_none())
    {
        return Risk::Medium;
    }
    Risk::Low
}

/// 慢阻肺风险分层 — by exacerbations in the last year and breathlessness
/// (GOLD groups): ≥ 2 exacerbations or one hospitalised → high; mMRC ≥ 2 →
/// medium; otherwise low.
pub fn copd_risk(exacerbations: u8, hospitalised: bool, mmrc: u8) -> Risk {
    if exacerbations >= 2 || hospitalised {
        Risk::High
    } else if mmrc >= 2 {
        Risk::Medium
    } else {
        Risk::Low
    }
}

/// 血压控制目标 — BP is controlled below 140/90, or below 150/90 at age ≥ 80
/// without diabetes or chronic kidney disease.
pub fn bp_controlled(sbp: u16, dbp: u16, age: i32, diabetes: bool, ckd: bool) -> bool {
    let sbp_target = if age >= 80 && !diabetes && !ckd {
        150
    } else {
        140
    };
    sbp < sbp_target && dbp < 90
}

/// 血糖控制目标 — HbA1c < 7 % (or, without HbA1c, fasting glucose 4.4–7.0).
pub fn glucose_controlled(hba1c: Option<f64>, fasting_glucose: Option<f64>) -> Option<bool> {
    match (hba1c, fasting_glucose) {
        (Some(a), _) => Some(a < 7.0),
        (None, Some(g)) => Some((4.4..7.0).contains(&g)),
        (None, None) => None,
    }
}

/// A measurement outside physiological range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value} is outside the physiological range {min}–{max} {unit}")]
pub struct RangeError {
    pub field: &'static str,
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
}

impl Explain for RangeError {
    fn code(&self) -> &'static str {
        "value_out_of_range"
    }
    fn message_zh(&self) -> String {
        format!(
            "{} 的值 {} 超出生理范围（{}–{} {}）",
            self.field, self.value, self.min, self.max, self.unit
        )
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 生理范围 — the plausible range of each follow-up measurement.
pub const RANGES: [(&str, f64, f64, &str); 7] = [
    ("sbp", 60.0, 300.0, "mmHg"),
    ("dbp", 30.0, 200.0, "mmHg"),
    ("heart_rate", 20.0, 250.0, "/min"),
    ("fasting_glucose", 1.0, 35.0, "mmol/L"),
    ("hba1c", 3.0, 20.0, "%"),
    ("weight_kg", 2.0, 300.0, "kg"),
    ("height_cm", 40.0, 250.0, "cm"),
];

/// Checks one measurement against [`RANGES`]; unknown fields pass.
pub fn check_range(field: &'static str, value: f64) -> Result<(), RangeError> {
    match RANGES.iter().find(|(f, ..)| *f == field) {
        Some((f, min, max, unit)) if !(value.is_finite() && (*min..=*max).contains(&value)) => {
            Err(RangeError {
                field: f,
                value,
                min: *min,
                max: *max,
                unit,
            })
        }
        _ => Ok(()),
    }
}

/// 下次随访 — the next follow-up date after `last` for a risk level.
pub fn next_due(last: NaiveDate, risk: Risk) -> NaiveDate {
    last + Duration::days(risk.follow_up_days())
}

/// Where a follow-up stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    /// Due today or within the coming `window` days.
    Due,
    /// Past its due date.
    Overdue,
    /// Not yet due.
    Later,
}

/// 随访到期 — due (today or within `window` days), overdue, or later.
pub fn due_state(next_due: NaiveDate, today: NaiveDate, window: i64) -> DueState {
    if next_due < today {
        DueState::Overdue
    } else if next_due <= today + Duration::days(window) {
        DueState::Due
    } else {
        DueState::Later
    }
}

/// 专科医生年度面对面指导 — a high-risk patient needs a face-to-face review by a
/// lead-hospital specialist at least once a year: due when none in the last
/// 365 days.
pub fn specialist_review_due(risk: Risk, last_review: Option<NaiveDate>, today: NaiveDate) -> bool {
    risk == Risk::High && last_review.is_none_or(|d| (today - d).num_days() >= 365)
}

/// "六个一" — the six items of each managed patient (seed 004 §三(二)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SixOnes {
    /// 一份电子健康档案
    pub record: bool,
    /// 一份家庭医生服务协议
    pub contract: bool,
    /// 一次健康评估
    pub assessment: bool,
    /// 一个健康管理方案
    pub plan: bool,
    /// 一份服务时间表
    pub schedule: bool,
    /// 一份连续服务记录
    pub service_record: bool,
}

impl SixOnes {
    /// The Chinese names of what is missing, in the seed's order.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            (self.record, "电子健康档案"),
            (self.contract, "家庭医生服务协议"),
            (self.assessment, "健康评估"),
            (self.plan, "健康管理方案"),
            (self.schedule, "服务时间表"),
            (self.service_record, "连续服务记录"),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, name)| name)
        .collect()
    }
    pub fn complete(&self) -> bool {
        self.missing().is_empty()
    }
}

/// 规范管理 — the national basic public-health service norm (国家基本公共卫生
/// 服务规范, 第三版) asks for at least four face-to-face follow-ups a year of
/// a managed hypertension or type 2 diabetes patient.
pub const FOLLOWUPS_PER_YEAR: u32 = 4;

/// Whether a patient managed for `days_managed` days of the period had the
/// follow-ups the norm asks for: four a year pro rata, rounded down (a
/// patient enrolled for under a quarter owes none yet).
pub fn standardized_management(followups: u32, days_managed: i64) -> bool {
    let due = i64::from(FOLLOWUPS_PER_YEAR) * days_managed.clamp(0, 365) / 365;
    i64::from(followups) >= due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardized_management_is_four_a_year_pro_rata() {
        assert!(standardized_management(4, 365));
        assert!(!standardized_management(3, 365));
        // Half a year (183 days): 4 × 183 / 365 = 2 due.
        assert!(standardized_management(2, 183));
        assert!(!standardized_management(1, 183));
        // 91 days: 4 × 91 / 365 = 0.997 → none due yet; 92 days: 1 due.
        assert!(standardized_management(0, 91));
        assert!(!standardized_management(0, 92));
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn bp_grades_at_their_boundaries() {
        assert_eq!(bp_grade(139, 89), 0);
        assert_eq!(bp_grade(140, 80), 1);
        assert_eq!(bp_grade(120, 90), 1);
        assert_eq!(bp_grade(159, 99), 1);
        assert_eq!(bp_grade(160, 99), 2);
        assert_eq!(bp_grade(150, 100), 2);
        assert_eq!(bp_grade(179, 109), 2);
        assert_eq!(bp_grade(180, 70), 3);
        assert_eq!(bp_grade(130, 110), 3);
    }

    #[test]
    fn hypertension_risk_table() {
        let none = HypertensionFactors::default();
        let two = HypertensionFactors {
            risk_factors: 2,
            ..none
        };
        let three = HypertensionFactors {
            risk_factors: 3,
            ..none
        };
        let tod = HypertensionFactors {
            organ_damage: true,
            ..none
        };
        let dm = HypertensionFactors {
            diabetes: true,
            ..none
        };
        let ccd = HypertensionFactors {
            clinical_complications: true,
            ..none
        };
        // (factors, grade-1 BP, grade-2 BP, grade-3 BP) → expected colours
        let table = [
            (none, [Risk::Low, Risk::Medium, Risk::High]),
            (two, [Risk::Medium, Risk::Medium, Risk::High]),
            (three, [Risk::High, Risk::High, Risk::High]),
            (tod, [Risk::High, Risk::High, Risk::High]),
            (dm, [Risk::High, Risk::High, Risk::High]),
            (ccd, [Risk::High, Risk::High, Risk::High]),
        ];
        for (f, expected) in table {
            for ((s, dia), want) in [(150, 92), (165, 95), (185, 100)].into_iter().zip(expected) {
                assert_eq!(hypertension_risk(s, dia, f), want, "{f:?} at {s}/{dia}");
            }
        }
        assert_eq!(
            hypertension_risk(128, 80, none),
            Risk::Low,
            "controlled, no factors"
        );
        assert_eq!(Risk::High.colour(), "red");
    }

    #[test]
    fn diabetes_risk_table() {
        let f = |hba1c, fpg, complications| DiabetesFactors {
            hba1c,
            fasting_glucose: fpg,
            complications,
        };
        assert_eq!(diabetes_risk(f(Some(6.9), Some(6.5), 0)), Risk::Low);
        assert_eq!(diabetes_risk(f(Some(7.0), Some(6.5), 0)), Risk::Medium);
        assert_eq!(diabetes_risk(f(Some(8.9), None, 0)), Risk::Medium);
        assert_eq!(diabetes_risk(f(Some(9.0), None, 0)), Risk::High);
        assert_eq!(diabetes_risk(f(Some(6.5), Some(13.9), 0)), Risk::High);
        assert_eq!(
            diabetes_risk(f(Some(6.5), Some(3.8), 0)),
            Risk::High,
            "hypoglycaemia"
        );
        assert_eq!(diabetes_risk(f(Some(6.5), None, 1)), Risk::Medium);
        assert_eq!(diabetes_risk(f(Some(6.5), None, 2)), Risk::High);
        assert_eq!(diabetes_risk(f(None, None, 0)), Risk::Medium, "unmeasured");
        assert_eq!(copd_risk(2, false, 0), Risk::High);
        assert_eq!(copd_risk(0, false, 2), Risk::Medium);
        assert_eq!(copd_risk(1, false, 1), Risk::Low);
    }

    #[test]
    fn control_targets_including_the_elderly_exception() {
        assert!(bp_controlled(139, 89, 60, false, false));
        assert!(!bp_controlled(140, 80, 60, false, false));
        assert!(!bp_controlled(130, 90, 60, false, false));
        assert!(
            bp_controlled(149, 85, 80, false, false),
            "< 150/90 at 80 without diabetes or CKD"
        );
        assert!(!bp_controlled(149, 85, 79, false, false));
        assert!(
            !bp_controlled(149, 85, 85, true, false),
            "diabetes keeps the 140 target"
        );
        assert!(
            !bp_controlled(149, 85, 85, false, true),
            "CKD keeps the 140 target"
        );
        assert_eq!(glucose_controlled(Some(6.9), None), Some(true));
        assert_eq!(glucose_controlled(Some(7.0), Some(5.0)), Some(false));
        assert_eq!(glucose_controlled(None, Some(6.9)), Some(true));
        assert_eq!(glucose_controlled(None, None), None);
    }

    #[test]
    fn physiological_ranges() {
        assert!(check_range("sbp", 60.0).is_ok() && check_range("sbp", 300.0).is_ok());
        let e = check_range("sbp", 20.0).unwrap_err();
        assert_eq!(e.code(), "value_out_of_range");
        assert!(check_range("sbp", 400.0).is_err());
        assert!(check_range("dbp", f64::NAN).is_err());
        assert!(check_range("hba1c", 21.0).is_err());
    }

    #[test]
    fn schedule_by_colour_and_due_states() {
        let last = d(2026, 1, 10);
        assert_eq!(next_due(last, Risk::Low), d(2026, 4, 10));
        assert_eq!(next_due(last, Risk::High), d(2026, 2, 9));
        let today = d(2026, 2, 9);
        assert_eq!(due_state(d(2026, 2, 9), today, 7), DueState::Due);
        assert_eq!(due_state(d(2026, 2, 16), today, 7), DueState::Due);
        assert_eq!(due_state(d(2026, 2, 17), today, 7), DueState::Later);
        assert_eq!(due_state(d(2026, 2, 8), today, 7), DueState::Overdue);
        assert!(specialist_review_due(Risk::High, None, today));
        assert!(specialist_review_due(
            Risk::High,
            Some(d(2025, 2, 9)),
            today
        ));
        assert!(!specialist_review_due(
            Risk::High,
            Some(d(2025, 2, 10)),
            today
        ));
        assert!(!specialist_review_due(Risk::Medium, None, today));
    }

    #[test]
    fn diagnoses_map_to_programmes() {
        assert_eq!(program_for_icd10("I10"), Some(Program::Hypertension));
        assert_eq!(program_for_icd10("E11"), Some(Program::Diabetes));
        assert_eq!(program_for_icd10("J44"), Some(Program::Copd));
        assert_eq!(program_for_icd10("C50"), None);
    }

    #[test]
    fn six_ones_names_what_is_missing() {
        let s = SixOnes {
            record: true,
            contract: true,
            assessment: false,
            plan: true,
            schedule: true,
            service_record: false,
        };
        assert_eq!(s.missing(), vec!["健康评估", "连续服务记录"]);
        assert!(!s.complete());
    }
}
