//! 检查检验结果互认 — test-result mutual recognition: the catalogue of
//! recognised items (检验 lab tests and 检查 exams such as imaging and ECG)
//! with each item's validity window and price, the rule deciding whether an
//! earlier result is recognised when a clinician orders the item again, the
//! nationally listed reasons for repeating it anyway, and the money a
//! recognition saves.
//!
//! Sources:
//! - seed 003 (`seeds/003_2d94ff496e8cee02.txt`, Changzhi 2020, line 63):
//!   "二是强化检查检验结果互认。县区二级综合医院 15 个项目与市域三级医院实现
//!   7 日内检查检验结果互认，累计为患者节省相关费用 550 多万元。并稳步推进
//!   市内二、三级综合医院检验互认项目增加到 70 项，二级医院增加到 50 项。"
//!   — hence the 7-day window ([`SEED_003_WINDOW_DAYS`]), the 15 → 50–70
//!   item targets, and counting the money saved ([`Recognition::saved_fen`]);
//! - seed 000 (Shanxi 2023): "推动基层检查、上级诊断和检查检验结果互认",
//!   "有序推动检查检验结果互认"; seed 004 (Xinjiang 2022): "加强质量控制工作
//!   …全面实现县域内检验检查结果互认" — recognition rests on quality control;
//! - 《医疗机构检查检验结果互认管理办法》(国卫医发〔2022〕6号): recognised
//!   results carry the mark "HR"; the lab must pass quality assessment
//!   (室间质评); windows differ per item; the listed cases in which a clinician
//!   may repeat a recognisable test, recorded in the chart ([`RepeatReason`]);
//! - SPEC §2.5: lower levels accept higher levels' results, same levels accept
//!   each other, members of one consortium accept each other.
//!
//! This module is pure: the store supplies the candidate results and the
//! catalogue text; the server records recognitions and repeat reasons.
//! The shipped default catalogue is `config/recognition_catalog.toml`, which
//! a county edits ([`RecognitionCatalog::from_toml`]).
//!
//! # Time
//! All times are naive local times of one zone (the platform stores China
//! Standard Time). A result's age is measured from the moment the specimen
//! was collected or the exam performed (`taken_at`), not from the report.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::Explain;
use crate::referral::Finding;
use crate::registry::{CareLevel, Grade, InstitutionKind};

/// Seed 003: "15 个项目与市域三级医院实现 7 日内检查检验结果互认" — the window
/// of the first recognition agreement between county and city hospitals. The
/// shipped catalogue uses it for results that change over days (e.g.
/// electrolytes, liver and kidney function).
pub const SEED_003_WINDOW_DAYS: u32 = 7;
/// Seed 003: the first agreement covered 15 items.
pub const SEED_003_FIRST_ITEMS: usize = 15;
/// Seed 003: "二级医院增加到 50 项" — the item target for grade II hospitals.
pub const SEED_003_LEVEL2_TARGET_ITEMS: usize = 50;
/// Seed 003: "市内二、三级综合医院检验互认项目增加到 70 项" — the item target
/// between grade II and III general hospitals.
pub const SEED_003_LEVEL3_TARGET_ITEMS: usize = 70;

/// The longest validity window a catalogue may give an item (a sanity bound:
/// an older result is history, not a substitute for a test).
pub const MAX_VALIDITY_DAYS: u32 = 365;
/// A repeat for reason [`RepeatReason::Other`] needs a written explanation of
/// at least this many characters (after trimming), as a referral
/// justification does.
pub const OTHER_REASON_MIN_CHARS: usize = 4;
/// The longest item code a catalogue may use.
pub const ITEM_CODE_MAX_LEN: usize = 40;

/// Institution levels used by the recognition rule (see [`level_of`]).
pub const LEVEL_VILLAGE: u8 = 0;
/// 乡镇卫生院 / 社区卫生服务中心 (and stations, private clinics).
pub const LEVEL_PRIMARY: u8 = 1;
/// County hospitals, and any hospital graded 二级.
pub const LEVEL_COUNTY: u8 = 2;
/// City hospitals.
pub const LEVEL_CITY: u8 = 3;
/// Tertiary hospitals, and any hospital graded 三级.
pub const LEVEL_TERTIARY: u8 = 4;

/// The stable rule names of the findings this module returns.
pub mod rule {
    /// The recognition catalogue is not in force on the order's date.
    pub const CATALOG_NOT_IN_FORCE: &str = "catalog_not_in_force";
    /// The ordered item is not in the recognition catalogue.
    pub const NOT_IN_CATALOG: &str = "not_in_catalog";
    /// The result's institution is of a lower level and shares no consortium.
    pub const LEVEL_OR_CONSORTIUM: &str = "level_or_consortium";
    /// The producing lab has not passed external quality assessment.
    pub const EQA_PASSED: &str = "eqa_passed";
    /// The result does not carry the recognition mark "HR".
    pub const HR_MARK: &str = "hr_mark";
    /// The result is older than the item's validity window.
    pub const VALIDITY_WINDOW: &str = "validity_window";
    /// The result is dated after the order (bad data or clock skew).
    pub const TAKEN_IN_FUTURE: &str = "taken_in_future";
    /// A treatment since the result invalidates it.
    pub const INTERVENING_TREATMENT: &str = "intervening_treatment";
    /// Recognisable, but a more recent recognisable result is offered.
    pub const SUPERSEDED: &str = "superseded";
}

crate::vocabulary!(
    /// 项目类别 — the kind of a recognised item: 检验 (a laboratory test on a
    /// specimen) or 检查 (an examination: imaging, ECG, ultrasound, endoscopy,
    /// lung function).
    ItemKind {
        Lab = "lab": "检验",
        Exam = "exam": "检查",
    }
);

crate::vocabulary!(
    /// 重复检查理由 — why a clinician repeats a test although a recognisable
    /// result exists. The list follows 《医疗机构检查检验结果互认管理办法》
    /// (国卫医发〔2022〕6号) and provincial implementing rules; the reason is
    /// recorded in the chart. [`RepeatReason::Other`] needs a written text.
    RepeatReason {
        ConditionChanged = "condition_changed": "病情变化，原结果与临床表现不符",
        FastChanging = "fast_changing": "检查检验结果在病程中变化较快",
        PreSurgeryOrTransfusion = "pre_surgery_or_transfusion": "手术、输血等重大诊疗措施前",
        Emergency = "emergency": "急诊、急救等紧急状态",
        LegalAssessment = "legal_assessment": "涉及司法、伤残、病退等鉴定",
        PatientRequest = "patient_request": "患者要求复查",
        LabFailedEqa = "lab_failed_eqa": "原检查检验机构质控不合格",
        ResultTooOld = "result_too_old": "原结果时间过久",
        PhysicianJudgement = "physician_judgement": "医师判断确需复查",
        Other = "other": "其他（须注明）",
    }
);

impl RepeatReason {
    /// Whether this reason needs a written explanation (only `other`).
    pub fn needs_text(self) -> bool {
        self == RepeatReason::Other
    }
}

// ------------------------------------------------------------------ levels

/// 机构层级 — the level the recognition rule compares: village 0, township /
/// community 1, county 2, city 3, tertiary 4 (the same numbering as the
/// referral receiver ranks of the web layer). A hospital's grade (医院等级)
/// raises its level: graded 二级 it counts at least as county (2), graded 三级
/// as tertiary (4) — so a 三级 county hospital's results are accepted by a
/// city hospital. Public-health institutions (CDC) have no care level: their
/// results are recognised only through a shared consortium.
pub fn level_of(kind: InstitutionKind, grade: Option<Grade>) -> Option<u8> {
    let base = match kind.care_level() {
        CareLevel::Village => LEVEL_VILLAGE,
        CareLevel::Primary => LEVEL_PRIMARY,
        CareLevel::County => LEVEL_COUNTY,
        CareLevel::City => LEVEL_CITY,
        CareLevel::Tertiary => LEVEL_TERTIARY,
        CareLevel::PublicHealth => return None,
    };
    let floor = match grade {
        Some(Grade::Level2A | Grade::Level2B) => LEVEL_COUNTY,
        Some(Grade::Level3A | Grade::Level3B) => LEVEL_TERTIARY,
        Some(Grade::Level1) | None => LEVEL_VILLAGE,
    };
    Some(base.max(floor))
}

/// What the rule needs to know about an institution: its kind and grade (for
/// [`level_of`]) and the consortia (医联体, by store id) it belongs to. A
/// recognition agreement between institutions of different levels — seed
/// 003's county and city hospitals recognising each other's 15 items — is a
/// consortium in this sense: list its id on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstitutionFacts {
    pub kind: InstitutionKind,
    pub grade: Option<Grade>,
    pub consortia: Vec<i64>,
}

impl InstitutionFacts {
    /// This institution's level ([`level_of`]).
    pub fn level(&self) -> Option<u8> {
        level_of(self.kind, self.grade)
    }

    /// Whether the two institutions share at least one consortium.
    pub fn shares_consortium_with(&self, other: &InstitutionFacts) -> bool {
        self.consortia.iter().any(|c| other.consortia.contains(c))
    }

    /// 层级与医联体规则 — whether this (ordering) institution accepts results
    /// produced by `source`: the source is of the same or a higher level, OR
    /// both belong to one consortium. Either suffices.
    pub fn accepts_results_of(&self, source: &InstitutionFacts) -> bool {
        let by_level = matches!((self.level(), source.level()), (Some(me), Some(src)) if src >= me);
        by_level || self.shares_consortium_with(source)
    }
}

// ------------------------------------------------------------------ catalogue

/// 互认有效期 — how long after `taken_at` a result stays recognisable: a number
/// of hours (fast-changing values such as a blood count) or of days. Written
/// in the catalogue as `"24h"` or `"7d"`.
///
/// The window is **inclusive**: a 7-day window accepts a result taken exactly
/// 168 h 00 min 00 s before the order, and refuses one taken a second earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Validity {
    Hours(u32),
    Days(u32),
}

impl Validity {
    /// The window as a duration.
    pub fn duration(self) -> Duration {
        match self {
            Validity::Hours(h) => Duration::hours(i64::from(h)),
            Validity::Days(d) => Duration::days(i64::from(d)),
        }
    }

    /// Whether the window is longer than zero.
    pub fn is_positive(self) -> bool {
        match self {
            Validity::Hours(n) | Validity::Days(n) => n > 0,
        }
    }

    /// Whether a result taken at `taken_at` is inside the window at `now`:
    /// `taken_at ≤ now ≤ taken_at + window` (both ends inclusive).
    pub fn covers(self, taken_at: NaiveDateTime, now: NaiveDateTime) -> bool {
        taken_at <= now && now - taken_at <= self.duration()
    }

    /// Chinese label, e.g. `"24小时"`, `"7天"`.
    pub fn label_zh(self) -> String {
        match self {
            Validity::Hours(h) => format!("{h}小时"),
            Validity::Days(d) => format!("{d}天"),
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validity::Hours(h) => write!(f, "{h}h"),
            Validity::Days(d) => write!(f, "{d}d"),
        }
    }
}

impl FromStr for Validity {
    type Err = CatalogError;
    /// `"<digits>h"` or `"<digits>d"`, surrounding spaces ignored. Zero parses
    /// (and [`RecognitionCatalog::validate`] refuses it, naming the item).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CatalogError::BadValidity(s.chars().take(24).collect());
        let t = s.trim();
        let (digits, make): (&str, fn(u32) -> Validity) = if let Some(d) = t.strip_suffix('h') {
            (d, Validity::Hours)
        } else if let Some(d) = t.strip_suffix('d') {
            (d, Validity::Days)
        } else {
            return Err(bad());
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        digits.parse().map(make).map_err(|_| bad())
    }
}

impl TryFrom<String> for Validity {
    type Error = CatalogError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Validity> for String {
    fn from(v: Validity) -> String {
        v.to_string()
    }
}

/// One recognised item (互认项目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogItem {
    /// Stable item code within the catalogue: lowercase ASCII letters, digits
    /// and `_`, e.g. `"cbc"`, `"ct_head"`.
    pub code: String,
    /// 项目名称 — the Chinese name shown to clinicians.
    pub name_zh: String,
    pub kind: ItemKind,
    /// 互认有效期.
    pub validity: Validity,
    /// The item's price in fen (收费标准); what a recognition saves.
    pub price_fen: i64,
    /// LOINC code of the test or panel, when there is one (check digit
    /// verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loinc: Option<String>,
}

/// 互认项目目录 — one version of a county's recognition catalogue
/// (`config/recognition_catalog.toml`). Unknown keys are refused so a typo
/// cannot silently drop a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognitionCatalog {
    /// Catalogue version (≥ 1), raised on every edit.
    pub version: u32,
    /// The first day this version is in force.
    pub valid_from: NaiveDate,
    /// The last day this version is in force (inclusive); open-ended if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    /// True for the shipped default the county has not yet reviewed.
    pub is_default: bool,
    /// The items, one `[[item]]` table each.
    #[serde(rename = "item")]
    pub items: Vec<CatalogItem>,
}

impl RecognitionCatalog {
    /// Parses a catalogue from TOML text and validates it.
    pub fn from_toml(text: &str) -> Result<RecognitionCatalog, CatalogError> {
        let c: RecognitionCatalog =
            toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// The catalogue's rules: version ≥ 1; `valid_to`, if any, not before
    /// `valid_from`; at least one item; per item a well-formed code used only
    /// once, a non-blank name, a window above zero and at most
    /// [`MAX_VALIDITY_DAYS`], a price of zero or more, and a LOINC code (if
    /// any) with a correct check digit.
    pub fn validate(&self) -> Result<(), CatalogError> {
        if self.version == 0 {
            return Err(CatalogError::VersionZero);
        }
        if let Some(to) = self.valid_to.filter(|to| *to < self.valid_from) {
            return Err(CatalogError::DatesReversed {
                valid_from: self.valid_from,
                valid_to: to,
            });
        }
        if self.items.is_empty() {
            return Err(CatalogError::Empty);
        }
        let mut seen = HashSet::new();
        for item in &self.items {
            let code = || item.code.clone();
            if !is_item_code(&item.code) {
                return Err(CatalogError::BadCode(item.code.chars().take(48).collect()));
            }
            if !seen.insert(item.code.as_str()) {
                return Err(CatalogError::DuplicateCode(code()));
            }
            if item.name_zh.trim().is_empty() {
                return Err(CatalogError::BlankName(code()));
            }
            if !item.validity.is_positive() {
                return Err(CatalogError::WindowNotPositive(code()));
            }
            if item.validity.duration() > Duration::days(i64::from(MAX_VALIDITY_DAYS)) {
                return Err(CatalogError::WindowTooLong {
                    code: code(),
                    validity: item.validity,
                });
            }
            if item.price_fen < 0 {
                return Err(CatalogError::NegativePrice {
                    code: code(),
                    price_fen: item.price_fen,
                });
            }
            if let Some(loinc) = item.loinc.as_deref().filter(|l| !is_loinc(l)) {
                return Err(CatalogError::BadLoinc {
                    code: code(),
                    loinc: loinc.chars().take(24).collect(),
                });
            }
        }
        Ok(())
    }

    /// The item with this code, if catalogued.
    pub fn item(&self, code: &str) -> Option<&CatalogItem> {
        self.items.iter().find(|i| i.code == code)
    }

    /// Whether this version is in force on `date` (`valid_from ≤ date ≤
    /// valid_to`).
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }
}

/// Lowercase ASCII letters, digits and `_`, starting with a letter, at most
/// [`ITEM_CODE_MAX_LEN`] long.
fn is_item_code(s: &str) -> bool {
    s.len() <= ITEM_CODE_MAX_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A LOINC code: 1–7 digits, `-`, a check digit (LOINC's mod-10 check digit,
/// which is the Luhn digit of the number part).
fn is_loinc(s: &str) -> bool {
    let Some((num, check)) = s.split_once('-') else {
        return false;
    };
    let digits_ok = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !(digits_ok(num) && num.len() <= 7 && check.len() == 1 && digits_ok(check)) {
        return false;
    }
    let sum: u32 = num
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    let want = (10 - sum % 10) % 10;
    u32::from(check.as_bytes()[0] - b'0') == want
}

/// Why a recognition catalogue was refused. Every variant has the code
/// `invalid_recognition_catalog`; the messages name the offending item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The TOML text does not parse, or a field has the wrong type, is
    /// missing or unknown (the parser's message).
    #[error("recognition catalogue does not parse: {0}")]
    Syntax(String),
    /// A validity window is not `"<n>h"` or `"<n>d"` (the start of the input).
    #[error("invalid validity window {0:?}: expected hours like \"24h\" or days like \"7d\"")]
    BadValidity(String),
    #[error("catalogue version must be 1 or more")]
    VersionZero,
    #[error("valid_to {valid_to} is before valid_from {valid_from}")]
    DatesReversed {
        valid_from: NaiveDate,
        valid_to: NaiveDate,
    },
    #[error("the catalogue lists no items")]
    Empty,
    #[error(
        "item code {0:?} is malformed (lowercase letters, digits and _, starting with a letter, at most 40 characters)"
    )]
    BadCode(String),
    #[error("item code {0} is listed twice")]
    DuplicateCode(String),
    #[error("item {0} has no name")]
    BlankName(String),
    #[error("item {0} has a validity window of zero")]
    WindowNotPositive(String),
    #[error("item {code} has a validity window of {validity}, longer than 365 days")]
    WindowTooLong { code: String, validity: Validity },
    #[error("item {code} has a negative price ({price_fen} fen)")]
    NegativePrice { code: String, price_fen: i64 },
    #[error("item {code} has an invalid LOINC code {loinc:?}")]
    BadLoinc { code: String, loinc: String },
}

impl Explain for CatalogError {
    fn code(&self) -> &'static str {
        "invalid_recognition_catalog"
    }
    fn message_zh(&self) -> String {
        use CatalogError as E;
        match self {
            E::Syntax(m) => format!("互认项目目录格式错误：{m}"),
            E::BadValidity(s) => {
                format!("互认有效期“{s}”无效，应写作小时（如“24h”）或天（如“7d”）")
            }
            E::VersionZero => "互认项目目录版本号应不小于 1".into(),
            E::DatesReversed {
                valid_from,
                valid_to,
            } => format!("目录失效日期 {valid_to} 早于生效日期 {valid_from}"),
            E::Empty => "互认项目目录中没有项目".into(),
            E::BadCode(c) => format!(
                "项目编码“{c}”无效（小写字母、数字和下划线，以字母开头，不超过 {ITEM_CODE_MAX_LEN} 个字符）"
            ),
            E::DuplicateCode(c) => format!("项目编码 {c} 重复"),
            E::BlankName(c) => format!("项目 {c} 缺少名称"),
            E::WindowNotPositive(c) => format!("项目 {c} 的互认有效期不能为零"),
            E::WindowTooLong { code, validity } => format!(
                "项目 {code} 的互认有效期 {} 超过 {MAX_VALIDITY_DAYS} 天",
                validity.label_zh()
            ),
            E::NegativePrice { code, price_fen } => {
                format!("项目 {code} 的价格为负数（{price_fen} 分）")
            }
            E::BadLoinc { code, loinc } => format!("项目 {code} 的 LOINC 编码“{loinc}”无效"),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Money saved by recognising a result of `item` instead of repeating it:
/// the item's price (seed 003 counts these savings, "累计为患者节省相关费用
/// 550 多万元").
pub fn saved_fen(item: &CatalogItem) -> i64 {
    item.price_fen
}

// ------------------------------------------------------------------ the rule

/// An order (开单) about to be placed: the item and the ordering institution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub item_code: String,
    pub institution: InstitutionFacts,
}

/// An earlier result of the same resident, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorResult {
    /// The store's id of the result (returned so the caller can record which
    /// result was recognised).
    pub result_id: i64,
    /// The catalogue item the result is for.
    pub item_code: String,
    /// The institution that produced it.
    pub institution: InstitutionFacts,
    /// The producing lab / department passed external quality assessment
    /// (室间质评) for the item: a lab in good standing.
    pub eqa_passed: bool,
    /// The result carries the recognition mark "HR" (互认标识).
    pub hr_mark: bool,
    /// When the specimen was collected or the exam performed.
    pub taken_at: NaiveDateTime,
    /// Times of treatments that affect this result (e.g. a transfusion for a
    /// blood count, surgery, a dose change); the caller selects the ones
    /// relevant to the item. One at or after `taken_at` and not after the
    /// order invalidates the result.
    pub interventions: Vec<NaiveDateTime>,
}

/// The outcome for one candidate result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateVerdict {
    pub result_id: i64,
    /// The result passes every rule (it may still be superseded by a more
    /// recent one: then its findings hold one `info` finding).
    pub recognizable: bool,
    /// Each failed rule as a `block` finding; for a recognisable result that
    /// is not the one offered, a `superseded` `info` finding; empty for the
    /// offered result.
    pub findings: Vec<Finding>,
}

/// What [`recognize`] found for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recognition {
    pub item_code: String,
    /// The catalogue item ordered, when the item is catalogued and the
    /// catalogue in force.
    pub item: Option<CatalogItem>,
    /// The recognisable result offered to the clinician: the most recent one.
    pub recognized: Option<PriorResult>,
    /// Findings about the order itself (`catalog_not_in_force`,
    /// `not_in_catalog`); no candidate is considered then.
    pub findings: Vec<Finding>,
    /// One verdict per candidate of the ordered item, in input order.
    pub candidates: Vec<CandidateVerdict>,
}

impl Recognition {
    /// Whether a recognisable result exists (then repeating the test needs a
    /// reason, [`check_repeat`]).
    pub fn is_recognizable(&self) -> bool {
        self.recognized.is_some()
    }

    /// Money saved if the offered result is used: the item's price, or 0.
    pub fn saved_fen(&self) -> i64 {
        match (&self.item, &self.recognized) {
            (Some(item), Some(_)) => saved_fen(item),
            _ => 0,
        }
    }
}

fn block(rule: &str, zh: String, en: String) -> Finding {
    Finding {
        rule: rule.into(),
        severity: "block".into(),
        message_zh: zh,
        message_en: en,
    }
}

/// `7天0小时1分钟` / `7 d 0 h 1 min`, minutes rounded up so an age just past
/// a window never reads as equal to it.
fn fmt_age(age: Duration) -> (String, String) {
    let minutes = (age.num_seconds().max(0) + 59) / 60;
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    (
        format!("{d}天{h}小时{m}分钟"),
        format!("{d} d {h} h {m} min"),
    )
}

fn level_zh(level: Option<u8>) -> &'static str {
    match level {
        Some(LEVEL_VILLAGE) => "村级",
        Some(LEVEL_PRIMARY) => "乡镇/社区级",
        Some(LEVEL_COUNTY) => "县级（二级）",
        Some(LEVEL_CITY) => "市级",
        Some(_) => "三级",
        None => "无诊疗层级",
    }
}

/// 互认规则核查 — every rule one candidate result fails for an order of
/// `item` at `now`, as `block` findings (empty: recognisable). The rules:
/// 1. `level_or_consortium` — produced at the same or a higher level than
///    the ordering institution, or within a shared consortium
///    ([`InstitutionFacts::accepts_results_of`]);
/// 2. `eqa_passed` — the lab passed external quality assessment;
/// 3. `hr_mark` — the result carries the mark "HR";
/// 4. `taken_in_future` / `validity_window` — taken no later than `now` and
///    at most the item's window before it (inclusive, [`Validity::covers`]);
/// 5. `intervening_treatment` — no treatment at or after `taken_at` and not
///    after `now` (one at the very moment of sampling counts, since their
///    order cannot be told).
///
/// The candidate's item code is not compared here ([`recognize`] does).
pub fn candidate_findings(
    order: &Order,
    item: &CatalogItem,
    result: &PriorResult,
    now: NaiveDateTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (me, src) = (&order.institution, &result.institution);
    if !me.accepts_results_of(src) {
        out.push(block(
            rule::LEVEL_OR_CONSORTIUM,
            format!(
                "结果出自{}（{}），低于本机构层级（{}）且不在同一医联体，不予互认",
                src.kind.label_zh(),
                level_zh(src.level()),
                level_zh(me.level())
            ),
            format!(
                "the result comes from a {} at a lower level than the ordering {} and they share no consortium",
                src.kind.as_str(),
                me.kind.as_str()
            ),
        ));
    }
    if !result.eqa_passed {
        out.push(block(
            rule::EQA_PASSED,
            "出具结果的实验室/科室未通过室间质评，不予互认".into(),
            "the producing lab has not passed external quality assessment".into(),
        ));
    }
    if !result.hr_mark {
        out.push(block(
            rule::HR_MARK,
            "结果未标注互认标识“HR”，不予互认".into(),
            "the result does not carry the recognition mark \"HR\"".into(),
        ));
    }
    let taken = result.taken_at.format("%Y-%m-%d %H:%M");
    if result.taken_at > now {
        out.push(block(
            rule::TAKEN_IN_FUTURE,
            format!("结果时间 {taken} 晚于当前时间，数据有误"),
            format!("the result is dated {taken}, after the order"),
        ));
    } else if !item.validity.covers(result.taken_at, now) {
        let (age_zh, age_en) = fmt_age(now - result.taken_at);
        out.push(block(
            rule::VALIDITY_WINDOW,
            format!(
                "结果采集于 {taken}，距今{age_zh}，超过“{}”的互认有效期{}",
                item.name_zh,
                item.validity.label_zh()
            ),
            format!(
                "the result was taken at {taken}, {age_en} ago, beyond the {} window of {}",
                item.validity, item.code
            ),
        ));
    }
    if let Some(t) = result
        .interventions
        .iter()
        .filter(|t| result.taken_at <= **t && **t <= now)
        .max()
    {
        let t = t.format("%Y-%m-%d %H:%M");
        out.push(block(
            rule::INTERVENING_TREATMENT,
            format!("结果之后于 {t} 有影响该结果的治疗，原结果不再反映当前状况"),
            format!("a treatment at {t}, after the result, invalidates it"),
        ));
    }
    out
}

/// 检查检验结果互认 — when a clinician orders an item, which earlier result
/// (if any) is recognised. Only candidates for the ordered item are
/// considered (others are ignored); each gets a verdict with its findings
/// ([`candidate_findings`]); the most recent recognisable one is offered
/// (ties: the higher `result_id`). Nothing is offered when the catalogue is
/// not in force on `now`'s date or does not list the item.
pub fn recognize(
    order: &Order,
    candidates: &[PriorResult],
    catalog: &RecognitionCatalog,
    now: NaiveDateTime,
) -> Recognition {
    let mut rec = Recognition {
        item_code: order.item_code.clone(),
        item: None,
        recognized: None,
        findings: Vec::new(),
        candidates: Vec::new(),
    };
    if !catalog.in_force(now.date()) {
        rec.findings.push(block(
            rule::CATALOG_NOT_IN_FORCE,
            format!(
                "互认项目目录（第 {} 版）在 {} 不在有效期内",
                catalog.version,
                now.date()
            ),
            format!(
                "recognition catalogue version {} is not in force on {}",
                catalog.version,
                now.date()
            ),
        ));
        return rec;
    }
    let Some(item) = catalog.item(&order.item_code) else {
        rec.findings.push(block(
            rule::NOT_IN_CATALOG,
            format!("项目 {} 不在互认项目目录中", order.item_code),
            format!(
                "item {} is not in the recognition catalogue",
                order.item_code
            ),
        ));
        return rec;
    };
    let same_item: Vec<&PriorResult> = candidates
        .iter()
        .filter(|c| c.item_code == item.code)
        .collect();
    let best = same_item
        .iter()
        .filter(|c| candidate_findings(order, item, c, now).is_empty())
        .max_by_key(|c| (c.taken_at, c.result_id))
        .copied();
    for c in &same_item {
        let mut findings = candidate_findings(order, item, c, now);
        let recognizable = findings.is_empty();
        if let Some(b) = best.filter(|b| recognizable && !std::ptr::eq(*b, *c)) {
            let at = b.taken_at.format("%Y-%m-%d %H:%M");
            findings.push(Finding {
                rule: rule::SUPERSEDED.into(),
                severity: "info".into(),
                message_zh: format!("可互认，但有更近的可互认结果（{at}）"),
                message_en: format!("recognisable, but a more recent result ({at}) is offered"),
            });
        }
        rec.candidates.push(CandidateVerdict {
            result_id: c.result_id,
            recognizable,
            findings,
        });
    }
    rec.item = Some(item.clone());
    rec.recognized = best.cloned();
    rec
}

// ------------------------------------------------------------------ repeats

/// Why a repeat order was refused. Both variants carry the stable code
/// `repeat_reason_required` (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecognitionError {
    /// A recognisable result exists and no reason was given.
    #[error(
        "a recognisable earlier result exists: repeating the test needs one of the listed reasons, recorded in the chart"
    )]
    RepeatReasonRequired,
    /// Reason `other` was given without a written explanation.
    #[error("repeat reason \"other\" needs a written explanation of at least 4 characters")]
    OtherReasonTextRequired,
}

impl Explain for RecognitionError {
    fn code(&self) -> &'static str {
        "repeat_reason_required"
    }
    fn message_zh(&self) -> String {
        match self {
            RecognitionError::RepeatReasonRequired => {
                "该项目已有可互认的结果，如需重复检查检验，须选择规定的理由并记入病历".into()
            }
            RecognitionError::OtherReasonTextRequired => {
                format!("选择“其他”理由时须注明具体原因（不少于 {OTHER_REASON_MIN_CHARS} 个字）")
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 重复检查理由核查 — repeating a test while a recognisable result exists
/// needs a reason; reason `other` needs a text of at least
/// [`OTHER_REASON_MIN_CHARS`] characters. Without a recognisable result
/// nothing needs justifying (a reason given anyway is accepted as is).
pub fn check_repeat(
    recognizable: bool,
    reason: Option<RepeatReason>,
    text: Option<&str>,
) -> Result<(), RecognitionError> {
    if !recognizable {
        return Ok(());
    }
    match reason {
        None => Err(RecognitionError::RepeatReasonRequired),
        Some(r)
            if r.needs_text()
                && text.map_or(0, |t| t.trim().chars().count()) < OTHER_REASON_MIN_CHARS =>
        {
            Err(RecognitionError::OtherReasonTextRequired)
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../config/recognition_catalog.toml");

    fn at(day: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    /// The order time used throughout: 2026-03-20 10:00:00.
    fn now() -> NaiveDateTime {
        at(20, 10, 0, 0)
    }

    fn item(code: &str, validity: Validity, price_fen: i64) -> CatalogItem {
        CatalogItem {
            code: code.into(),
            name_zh: format!("项目{code}"),
            kind: ItemKind::Lab,
            validity,
            price_fen,
            loinc: None,
        }
    }

    fn catalog() -> RecognitionCatalog {
        RecognitionCatalog {
            version: 1,
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            valid_to: None,
            is_default: true,
            items: vec![
                item("cbc", Validity::Hours(24), 2000),
                item("electrolytes", Validity::Days(7), 2500),
                item("fasting_glucose", Validity::Days(30), 500),
                item("lipids", Validity::Days(30), 4000),
                item("hba1c", Validity::Days(60), 6000),
            ],
        }
    }

    fn inst(kind: InstitutionKind, consortia: &[i64]) -> InstitutionFacts {
        InstitutionFacts {
            kind,
            grade: None,
            consortia: consortia.to_vec(),
        }
    }

    fn township() -> InstitutionFacts {
        inst(InstitutionKind::TownshipHealthCenter, &[1])
    }

    fn county() -> InstitutionFacts {
        inst(InstitutionKind::CountyGeneralHospital, &[1])
    }

    fn order(code: &str, institution: InstitutionFacts) -> Order {
        Order {
            item_code: code.into(),
            institution,
        }
    }

    /// A clean result from the county hospital: good standing, HR, no treatment.
    fn result(id: i64, code: &str, taken_at: NaiveDateTime) -> PriorResult {
        PriorResult {
            result_id: id,
            item_code: code.into(),
            institution: county(),
            eqa_passed: true,
            hr_mark: true,
            taken_at,
            interventions: vec![],
        }
    }

    fn rules(r: &Recognition, i: usize) -> Vec<&str> {
        r.candidates[i]
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect()
    }

    #[test]
    fn window_boundaries_are_inclusive() {
        let h = Duration::hours;
        let s = Duration::seconds;
        let m = Duration::minutes;
        // (item, age of the result at the order, recognised?)
        let table: &[(&str, Duration, bool)] = &[
            ("cbc", Duration::zero(), true),
            ("cbc", h(24) - s(1), true),
            ("cbc", h(24), true),
            ("cbc", h(24) + s(1), false),
            ("cbc", h(24) + m(1), false),
            ("electrolytes", h(167) + m(59), true),
            ("electrolytes", h(168), true),
            ("electrolytes", h(168) + s(1), false),
            ("electrolytes", h(168) + m(1), false),
            ("fasting_glucose", Duration::days(30), true),
            ("fasting_glucose", Duration::days(30) + s(1), false),
            ("lipids", Duration::days(30) - m(1), true),
            ("lipids", Duration::days(30) + m(1), false),
            ("hba1c", Duration::days(60), true),
            ("hba1c", Duration::days(60) + s(1), false),
            ("hba1c", Duration::days(61), false),
        ];
        let cat = catalog();
        for (code, age, want) in table {
            let r = recognize(
                &order(code, township()),
                &[result(7, code, now() - *age)],
                &cat,
                now(),
            );
            assert_eq!(r.is_recognizable(), *want, "{code} at age {age}");
            assert_eq!(r.candidates[0].recognizable, *want, "{code} at age {age}");
            if *want {
                assert_eq!(r.recognized.as_ref().unwrap().result_id, 7);
                assert!(r.candidates[0].findings.is_empty());
            } else {
                assert_eq!(rules(&r, 0), [rule::VALIDITY_WINDOW], "{code} at {age}");
            }
        }
    }

    #[test]
    fn window_message_names_the_age() {
        let r = recognize(
            &order("electrolytes", township()),
            &[result(
                1,
                "electrolytes",
                now() - Duration::hours(168) - Duration::seconds(1),
            )],
            &catalog(),
            now(),
        );
        let f = &r.candidates[0].findings[0];
        assert!(f.message_zh.contains("7天0小时1分钟"), "{}", f.message_zh);
        assert!(f.message_zh.contains("7天"));
        assert!(f.message_en.contains("7d"), "{}", f.message_en);
    }

    #[test]
    fn validity_parses_and_prints() {
        for (s, want) in [
            ("24h", Validity::Hours(24)),
            ("7d", Validity::Days(7)),
            (" 60d ", Validity::Days(60)),
            ("0d", Validity::Days(0)),
        ] {
            assert_eq!(s.parse::<Validity>().unwrap(), want, "{s:?}");
        }
        for s in [
            "",
            "d",
            "7",
            "7 d",
            "7D",
            "-7d",
            "7w",
            "1.5d",
            "7天",
            "99999999999d",
            "h24",
        ] {
            let e = s.parse::<Validity>().unwrap_err();
            assert!(matches!(e, CatalogError::BadValidity(_)), "{s:?}");
        }
        assert_eq!(Validity::Hours(24).to_string(), "24h");
        assert_eq!(Validity::Days(7).label_zh(), "7天");
        assert_eq!(Validity::Days(7).duration(), Duration::hours(168));
    }

    #[test]
    fn levels() {
        use InstitutionKind as K;
        for (kind, grade, want) in [
            (K::VillageClinic, None, Some(LEVEL_VILLAGE)),
            (K::TownshipHealthCenter, None, Some(LEVEL_PRIMARY)),
            (
                K::TownshipHealthCenter,
                Some(Grade::Level1),
                Some(LEVEL_PRIMARY),
            ),
            (
                K::TownshipHealthCenter,
                Some(Grade::Level2B),
                Some(LEVEL_COUNTY),
            ),
            (K::CommunityHealthCenter, None, Some(LEVEL_PRIMARY)),
            (K::PrivateClinic, None, Some(LEVEL_PRIMARY)),
            (
                K::CountyGeneralHospital,
                Some(Grade::Level2A),
                Some(LEVEL_COUNTY),
            ),
            (
                K::CountyGeneralHospital,
                Some(Grade::Level3B),
                Some(LEVEL_TERTIARY),
            ),
            (K::CountyTcmHospital, None, Some(LEVEL_COUNTY)),
            (K::MaternalChildHospital, None, Some(LEVEL_COUNTY)),
            (K::CityHospital, None, Some(LEVEL_CITY)),
            (K::CityHospital, Some(Grade::Level2A), Some(LEVEL_CITY)),
            (K::CityHospital, Some(Grade::Level3A), Some(LEVEL_TERTIARY)),
            (K::TertiaryHospital, None, Some(LEVEL_TERTIARY)),
            (K::Cdc, Some(Grade::Level3A), None),
        ] {
            assert_eq!(level_of(kind, grade), want, "{kind:?} {grade:?}");
        }
    }

    #[test]
    fn level_and_consortium_table() {
        use InstitutionKind as K;
        // (ordering kind, producing kind, same consortium?, recognised?)
        let table = [
            // lower accepts higher
            (K::VillageClinic, K::TownshipHealthCenter, false, true),
            (
                K::TownshipHealthCenter,
                K::CountyGeneralHospital,
                false,
                true,
            ),
            (K::CommunityHealthCenter, K::TertiaryHospital, false, true),
            (K::CountyGeneralHospital, K::CityHospital, false, true),
            (K::CityHospital, K::TertiaryHospital, false, true),
            // same level accepts each other
            (K::VillageClinic, K::VillageClinic, false, true),
            (
                K::TownshipHealthCenter,
                K::CommunityHealthCenter,
                false,
                true,
            ),
            (K::CountyGeneralHospital, K::CountyTcmHospital, false, true),
            (K::CountyTcmHospital, K::CountyGeneralHospital, false, true),
            (K::TertiaryHospital, K::TertiaryHospital, false, true),
            // higher refuses lower …
            (K::TownshipHealthCenter, K::VillageClinic, false, false),
            (
                K::CountyGeneralHospital,
                K::TownshipHealthCenter,
                false,
                false,
            ),
            (K::CityHospital, K::CountyGeneralHospital, false, false),
            (K::TertiaryHospital, K::CountyGeneralHospital, false, false),
            (K::TertiaryHospital, K::VillageClinic, false, false),
            // … unless they share a consortium
            (K::TownshipHealthCenter, K::VillageClinic, true, true),
            (
                K::CountyGeneralHospital,
                K::TownshipHealthCenter,
                true,
                true,
            ),
            (K::CityHospital, K::CountyGeneralHospital, true, true),
            (K::TertiaryHospital, K::CountyGeneralHospital, true, true),
            // the consortium never hurts
            (
                K::TownshipHealthCenter,
                K::CountyGeneralHospital,
                true,
                true,
            ),
            (
                K::CountyGeneralHospital,
                K::CountyGeneralHospital,
                true,
                true,
            ),
            // public health has no level: consortium only
            (K::CountyGeneralHospital, K::Cdc, false, false),
            (K::CountyGeneralHospital, K::Cdc, true, true),
            (K::Cdc, K::TertiaryHospital, false, false),
        ];
        let cat = catalog();
        for (mine, theirs, shared, want) in table {
            let me = inst(mine, &[10, 11]);
            let src = inst(theirs, if shared { &[11, 12] } else { &[12] });
            let mut c = result(1, "cbc", now() - Duration::hours(2));
            c.institution = src;
            let r = recognize(&order("cbc", me), &[c], &cat, now());
            assert_eq!(
                r.is_recognizable(),
                want,
                "{mine:?} ← {theirs:?} shared={shared}"
            );
            if !want {
                assert_eq!(rules(&r, 0), [rule::LEVEL_OR_CONSORTIUM]);
            }
        }
    }

    /// Every pair of kinds, with and without a shared consortium: recognised
    /// exactly when the producer's level is the same or higher, or they share
    /// a consortium.
    #[test]
    fn level_rule_over_every_pair_of_kinds() {
        for &mine in InstitutionKind::ALL {
            for &theirs in InstitutionKind::ALL {
                for shared in [false, true] {
                    let me = inst(mine, &[1]);
                    let src = inst(theirs, if shared { &[1] } else { &[2] });
                    let by_level = matches!(
                        (level_of(mine, None), level_of(theirs, None)),
                        (Some(a), Some(b)) if b >= a
                    );
                    assert_eq!(
                        me.accepts_results_of(&src),
                        by_level || shared,
                        "{mine:?} ← {theirs:?} shared={shared}"
                    );
                }
            }
        }
    }

    /// Seed 003: a county grade-II hospital and a city grade-III hospital
    /// recognise each other's results within 7 days. Expressed as a shared
    /// recognition agreement (consortium id 99), it works both ways; without
    /// it, only the county accepts the city's results.
    #[test]
    fn seed_003_county_city_agreement() {
        let county = |consortia: &[i64]| InstitutionFacts {
            kind: InstitutionKind::CountyGeneralHospital,
            grade: Some(Grade::Level2A),
            consortia: consortia.to_vec(),
        };
        let city = |consortia: &[i64]| InstitutionFacts {
            kind: InstitutionKind::CityHospital,
            grade: Some(Grade::Level3A),
            consortia: consortia.to_vec(),
        };
        let cat = catalog();
        let taken = now() - Duration::days(i64::from(SEED_003_WINDOW_DAYS));
        let run = |me: InstitutionFacts, src: InstitutionFacts| {
            let mut c = result(1, "electrolytes", taken);
            c.institution = src;
            recognize(&order("electrolytes", me), &[c], &cat, now()).is_recognizable()
        };
        assert!(run(county(&[99]), city(&[99])));
        assert!(run(city(&[99]), county(&[99])));
        assert!(run(county(&[]), city(&[])));
        assert!(!run(city(&[]), county(&[])));
    }

    #[test]
    fn lab_standing_and_hr_mark_are_both_required() {
        let cat = catalog();
        for (eqa, hr, want) in [
            (true, true, vec![]),
            (false, true, vec![rule::EQA_PASSED]),
            (true, false, vec![rule::HR_MARK]),
            (false, false, vec![rule::EQA_PASSED, rule::HR_MARK]),
        ] {
            let mut c = result(1, "lipids", now() - Duration::days(3));
            c.eqa_passed = eqa;
            c.hr_mark = hr;
            let r = recognize(&order("lipids", township()), &[c], &cat, now());
            assert_eq!(r.is_recognizable(), want.is_empty(), "eqa={eqa} hr={hr}");
            assert_eq!(rules(&r, 0), want, "eqa={eqa} hr={hr}");
        }
    }

    #[test]
    fn every_failed_rule_is_reported() {
        let mut c = result(1, "cbc", now() - Duration::hours(30));
        c.institution = inst(InstitutionKind::VillageClinic, &[5]);
        c.eqa_passed = false;
        c.hr_mark = false;
        c.interventions = vec![now() - Duration::hours(1)];
        let r = recognize(&order("cbc", county()), &[c], &catalog(), now());
        assert_eq!(
            rules(&r, 0),
            [
                rule::LEVEL_OR_CONSORTIUM,
                rule::EQA_PASSED,
                rule::HR_MARK,
                rule::VALIDITY_WINDOW,
                rule::INTERVENING_TREATMENT
            ]
        );
        for f in &r.candidates[0].findings {
            assert_eq!(f.severity, "block");
            assert!(!f.message_zh.is_empty() && !f.message_en.is_empty());
        }
    }

    #[test]
    fn intervening_treatment() {
        let taken = now() - Duration::days(2);
        let cat = catalog();
        // (treatment times, recognised?)
        let table: Vec<(Vec<NaiveDateTime>, bool)> = vec![
            (vec![], true),
            // before the result: no effect
            (vec![taken - Duration::minutes(1)], true),
            // at the very moment of sampling: counts (order unknown)
            (vec![taken], false),
            (vec![taken + Duration::hours(5)], false),
            // at the order itself
            (vec![now()], false),
            // scheduled after the order: not yet happened
            (vec![now() + Duration::minutes(1)], true),
            (
                vec![taken - Duration::days(1), now() - Duration::hours(1)],
                false,
            ),
        ];
        for (times, want) in table {
            let mut c = result(1, "electrolytes", taken);
            c.interventions = times.clone();
            let r = recognize(&order("electrolytes", township()), &[c], &cat, now());
            assert_eq!(r.is_recognizable(), want, "{times:?}");
            if !want {
                assert_eq!(rules(&r, 0), [rule::INTERVENING_TREATMENT]);
            }
        }
    }

    #[test]
    fn most_recent_recognisable_result_wins() {
        let cat = catalog();
        let mut stale_but_recent = result(4, "hba1c", now() - Duration::days(1));
        stale_but_recent.hr_mark = false;
        let candidates = [
            result(1, "hba1c", now() - Duration::days(50)),
            result(2, "hba1c", now() - Duration::days(10)),
            result(3, "hba1c", now() - Duration::days(70)),
            stale_but_recent,
            // another item: ignored
            result(5, "cbc", now() - Duration::hours(1)),
        ];
        let r = recognize(&order("hba1c", township()), &candidates, &cat, now());
        assert_eq!(r.recognized.as_ref().unwrap().result_id, 2);
        assert_eq!(r.saved_fen(), 6000);
        assert_eq!(r.candidates.len(), 4);
        let ids: Vec<i64> = r.candidates.iter().map(|v| v.result_id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(rules(&r, 0), [rule::SUPERSEDED]);
        assert_eq!(r.candidates[0].findings[0].severity, "info");
        assert!(r.candidates[0].recognizable);
        assert!(rules(&r, 1).is_empty());
        assert_eq!(rules(&r, 2), [rule::VALIDITY_WINDOW]);
        assert_eq!(rules(&r, 3), [rule::HR_MARK]);

        // Equal times: the higher result id is offered.
        let t = now() - Duration::days(3);
        let r = recognize(
            &order("hba1c", township()),
            &[
                result(8, "hba1c", t),
                result(9, "hba1c", t),
                result(7, "hba1c", t),
            ],
            &cat,
            now(),
        );
        assert_eq!(r.recognized.unwrap().result_id, 9);
    }

    #[test]
    fn nothing_to_offer() {
        let cat = catalog();
        // No candidates.
        let r = recognize(&order("cbc", township()), &[], &cat, now());
        assert!(!r.is_recognizable());
        assert_eq!(r.saved_fen(), 0);
        assert!(r.findings.is_empty() && r.candidates.is_empty());
        assert_eq!(r.item.unwrap().code, "cbc");

        // An item the catalogue does not list.
        let c = result(1, "ct_head", now() - Duration::hours(1));
        let r = recognize(&order("ct_head", township()), &[c], &cat, now());
        assert!(!r.is_recognizable() && r.item.is_none() && r.candidates.is_empty());
        assert_eq!(r.findings[0].rule, rule::NOT_IN_CATALOG);

        // A result dated after the order.
        let c = result(1, "cbc", now() + Duration::seconds(1));
        let r = recognize(&order("cbc", township()), &[c], &cat, now());
        assert_eq!(rules(&r, 0), [rule::TAKEN_IN_FUTURE]);

        // A catalogue not (yet / any longer) in force.
        let mut cat = catalog();
        cat.valid_from = NaiveDate::from_ymd_opt(2026, 3, 21).unwrap();
        let c = result(1, "cbc", now() - Duration::hours(1));
        let r = recognize(
            &order("cbc", township()),
            std::slice::from_ref(&c),
            &cat,
            now(),
        );
        assert_eq!(r.findings[0].rule, rule::CATALOG_NOT_IN_FORCE);
        assert!(!r.is_recognizable());
        let mut cat = catalog();
        cat.valid_to = Some(NaiveDate::from_ymd_opt(2026, 3, 19).unwrap());
        let r = recognize(
            &order("cbc", township()),
            std::slice::from_ref(&c),
            &cat,
            now(),
        );
        assert_eq!(r.findings[0].rule, rule::CATALOG_NOT_IN_FORCE);
        // valid_to is inclusive.
        cat.valid_to = Some(now().date());
        assert!(recognize(&order("cbc", township()), &[c], &cat, now()).is_recognizable());
    }

    #[test]
    fn saved_money_is_the_price() {
        let cat = catalog();
        assert_eq!(saved_fen(cat.item("lipids").unwrap()), 4000);
        let r = recognize(
            &order("cbc", township()),
            &[result(1, "cbc", now() - Duration::hours(3))],
            &cat,
            now(),
        );
        assert_eq!(r.saved_fen(), 2000);
    }

    #[test]
    fn repeat_reasons() {
        use RepeatReason as R;
        // No recognisable result: nothing to justify.
        assert_eq!(check_repeat(false, None, None), Ok(()));
        assert_eq!(check_repeat(false, Some(R::Other), None), Ok(()));
        // Recognisable: a reason is required.
        let e = check_repeat(true, None, None).unwrap_err();
        assert_eq!(e, RecognitionError::RepeatReasonRequired);
        assert_eq!(e.code(), "repeat_reason_required");
        assert!(e.message_zh().contains("理由"));
        assert_eq!(check_repeat(true, None, Some("病人要求")), Err(e));
        // Every listed reason but `other` suffices alone.
        for &r in R::ALL {
            let got = check_repeat(true, Some(r), None);
            assert_eq!(got.is_ok(), r != R::Other, "{r:?}");
        }
        // `other` needs text.
        for (text, ok) in [
            (None, false),
            (Some(""), false),
            (Some("   "), false),
            (Some("复查"), false),
            (Some(" 外院结果 "), true),
            (Some("外院报告丢失"), true),
        ] {
            let got = check_repeat(true, Some(R::Other), text);
            assert_eq!(got.is_ok(), ok, "{text:?}");
            if let Err(e) = got {
                assert_eq!(e, RecognitionError::OtherReasonTextRequired);
                assert_eq!(e.code(), "repeat_reason_required");
            }
        }
    }

    #[test]
    fn vocabularies() {
        assert_eq!(RepeatReason::ALL.len(), 10);
        for &r in RepeatReason::ALL {
            assert_eq!(RepeatReason::parse(r.as_str()), Some(r));
            assert!(!r.label_zh().is_empty());
        }
        assert_eq!(
            RepeatReason::parse("pre_surgery_or_transfusion"),
            Some(RepeatReason::PreSurgeryOrTransfusion)
        );
        assert!(RepeatReason::parse_field("reason", "boredom").is_err());
        assert_eq!(ItemKind::parse("exam"), Some(ItemKind::Exam));
        assert_eq!(ItemKind::Lab.label_zh(), "检验");
    }

    const MINIMAL: &str = r#"
version = 1
valid_from = "2026-01-01"
is_default = true

[[item]]
code = "cbc"
name_zh = "血常规"
kind = "lab"
validity = "24h"
price_fen = 2000
loinc = "58410-2"
"#;

    #[test]
    fn catalog_parses_from_toml() {
        let c = RecognitionCatalog::from_toml(MINIMAL).unwrap();
        assert_eq!(c.items.len(), 1);
        assert_eq!(c.items[0].validity, Validity::Hours(24));
        assert_eq!(c.items[0].kind, ItemKind::Lab);
        assert_eq!(c.valid_to, None);
        assert_eq!(String::from(c.items[0].validity), "24h");
    }

    #[test]
    fn catalog_errors() {
        let err = |text: String| RecognitionCatalog::from_toml(&text).unwrap_err();
        let syntax = |text: String, needle: &str| match err(text) {
            CatalogError::Syntax(m) => assert!(m.contains(needle), "{m}"),
            other => panic!("expected a syntax error, got {other:?}"),
        };
        syntax("version = ".into(), "");
        syntax(MINIMAL.replace("\"24h\"", "\"24 hours\""), "24 hours");
        syntax(MINIMAL.replace("\"lab\"", "\"xray\""), "xray");
        syntax(MINIMAL.replace("price_fen", "prize_fen"), "prize_fen");
        syntax(MINIMAL.replace("price_fen = 2000", "price_fen = 20.5"), "");
        syntax(MINIMAL.replace("is_default = true", ""), "is_default");

        let e = err(MINIMAL.replace("version = 1", "version = 0"));
        assert_eq!(e, CatalogError::VersionZero);
        assert_eq!(e.code(), "invalid_recognition_catalog");
        assert_eq!(
            err(MINIMAL.replace("is_default", "valid_to = \"2025-12-31\"\nis_default")),
            CatalogError::DatesReversed {
                valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                valid_to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            }
        );
        let empty = MINIMAL.split("[[item]]").next().unwrap().to_string() + "item = []\n";
        assert_eq!(err(empty), CatalogError::Empty);
        assert_eq!(
            err(format!(
                "{MINIMAL}{}",
                MINIMAL.split_once("is_default = true").unwrap().1
            )),
            CatalogError::DuplicateCode("cbc".into())
        );
        for bad in ["CBC", "", "1cbc", "c-b-c", "血常规", &"x".repeat(41)] {
            let e = err(MINIMAL.replace("code = \"cbc\"", &format!("code = \"{bad}\"")));
            assert!(matches!(e, CatalogError::BadCode(_)), "{bad:?}: {e:?}");
        }
        assert_eq!(
            err(MINIMAL.replace("\"血常规\"", "\"  \"")),
            CatalogError::BlankName("cbc".into())
        );
        assert_eq!(
            err(MINIMAL.replace("\"24h\"", "\"0h\"")),
            CatalogError::WindowNotPositive("cbc".into())
        );
        assert_eq!(
            err(MINIMAL.replace("\"24h\"", "\"366d\"")),
            CatalogError::WindowTooLong {
                code: "cbc".into(),
                validity: Validity::Days(366)
            }
        );
        // 365 days and 8760 hours are the longest allowed.
        RecognitionCatalog::from_toml(&MINIMAL.replace("\"24h\"", "\"365d\"")).unwrap();
        RecognitionCatalog::from_toml(&MINIMAL.replace("\"24h\"", "\"8760h\"")).unwrap();
        assert!(matches!(
            err(MINIMAL.replace("\"24h\"", "\"8761h\"")),
            CatalogError::WindowTooLong { .. }
        ));
        let e = err(MINIMAL.replace("2000", "-1"));
        assert_eq!(
            e,
            CatalogError::NegativePrice {
                code: "cbc".into(),
                price_fen: -1
            }
        );
        assert!(e.message_zh().contains("cbc"));
        // A zero price is allowed (a free screening item).
        RecognitionCatalog::from_toml(&MINIMAL.replace("2000", "0")).unwrap();
        for bad in [
            "58410-3",
            "58410",
            "5841O-2",
            "-2",
            "12345678-9",
            "58410-22",
        ] {
            let e = err(MINIMAL.replace("58410-2", bad));
            assert!(matches!(e, CatalogError::BadLoinc { .. }), "{bad:?}: {e:?}");
        }
        // Every error explains itself in both languages.
        for e in [
            CatalogError::Syntax("x".into()),
            CatalogError::BadValidity("7w".into()),
            CatalogError::Empty,
        ] {
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
    }

    #[test]
    fn loinc_check_digits() {
        for ok in ["58410-2", "4548-4", "1558-6", "2345-7", "1988-5", "24356-8"] {
            assert!(is_loinc(ok), "{ok}");
        }
        for bad in ["58410-1", "4548-5", "1558-0"] {
            assert!(!is_loinc(bad), "{bad}");
        }
    }

    /// The shipped default catalogue parses, validates, is marked default, has
    /// between seed 003's 50 and 70 items with unique codes, and gives the
    /// spec's windows to its anchor items.
    #[test]
    fn shipped_catalog_is_valid() {
        let c = RecognitionCatalog::from_toml(SHIPPED).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.is_default);
        let n = c.items.len();
        assert!(n >= 45, "{n} items");
        assert!(
            (SEED_003_LEVEL2_TARGET_ITEMS..=SEED_003_LEVEL3_TARGET_ITEMS).contains(&n),
            "{n} items: seed 003 aims at 50–70"
        );
        let codes: HashSet<&str> = c.items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes.len(), n, "codes are unique");
        assert!(c.items.iter().any(|i| i.kind == ItemKind::Lab));
        assert!(c.items.iter().any(|i| i.kind == ItemKind::Exam));
        assert!(
            c.items.iter().all(|i| i.price_fen > 0),
            "every item has a price"
        );
        for (code, validity) in [
            ("cbc", Validity::Hours(24)),
            ("electrolytes", Validity::Days(SEED_003_WINDOW_DAYS)),
            ("fasting_glucose", Validity::Days(30)),
            ("lipids", Validity::Days(30)),
            ("hba1c", Validity::Days(60)),
        ] {
            let item = c.item(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(item.validity, validity, "{code}");
        }
        for code in [
            "crp",
            "urine_routine",
            "liver_function",
            "kidney_function",
            "thyroid_function",
            "coagulation",
            "hbv_markers",
            "chest_xray",
            "ct_head",
            "ct_chest",
            "ct_abdomen",
            "mri_head",
            "us_abdomen",
            "echocardiography",
            "ecg",
        ] {
            assert!(c.item(code).is_some(), "{code} missing");
        }
        assert!(c.in_force(c.valid_from));
    }
}
