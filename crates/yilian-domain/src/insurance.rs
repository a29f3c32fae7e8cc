//! 医保差异化支付与按人头打包付费 — insurance: the reimbursement policy by
//! level of care (ratio, deductible 起付线, yearly cap 年度最高支付限额), the
//! referral-linked benefits, the adjudication of one encounter's costs into
//! fund and resident shares (结算), the claim states, and the consortium's
//! capitation budget with its settlement (按人头打包付费).
//!
//! Sources:
//! - seed 001 (`seeds/001_bc77f72059521d41.txt`, line 59, art. 10):
//!   "根据医院的级别及功能定位,全面实行差别化的支付政策,拉开不同级别定点医疗
//!   机构间的报销比例差距,进一步向基层倾斜,引导建立合理就医秩序。推广在医疗
//!   联合体内转诊取消二次起付线的做法;对按分级诊疗规范要求从基层办理转诊以及
//!   符合下转指征至基层治疗的,实行差别化的医保结算政策;对县级医院无法治疗经
//!   批准向上级转诊的参保病人,医保按规定标准予以报销;对未按照程序向上转诊就医
//!   的,按规定适当降低医保报销比例。"
//!   — hence a policy must favour primary care ([`PolicyVersion::validate`]),
//!   the second-deductible waiver, the normal ratio for an approved referral
//!   and the lowered ratio without one ([`adjudicate`]);
//! - seed 000 (`seeds/000_410c887fdbafdcf8.txt`, Shanxi 2023, line 38):
//!   "按照“总额预算、结余留用、超支不补”的原则,开展按人头打包付费试点"
//!   — hence [`capitation_budget`], [`forecast_year_end`] and [`settle`];
//! - SPEC §2.6.
//!
//! The code says what a rule means; the numbers are data: versioned policies
//! per region and period, shipped as `config/insurance_policy.toml`
//! ([`PolicySet::from_toml`]) and stored as JSON by the store. Everything
//! here is pure: an adjudication is a function of the policy version, the
//! encounter and the year-to-date fund payments only, so it can be
//! reproduced at any time.
//!
//! Money is integer fen; ratios are [`BasisPoints`]. Every share is rounded
//! once, by [`share_of`]; every split adds up exactly, by
//! [`split_by_weights`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::Explain;
use crate::money::{BasisPoints, share_of, split_by_weights, yuan};
use crate::recognition::{LEVEL_CITY, LEVEL_COUNTY, LEVEL_PRIMARY, LEVEL_VILLAGE, level_of};
use crate::registry::{Grade, InstitutionKind, Insurance};

/// 100 %: the largest ratio or weight, in basis points.
pub const FULL_BP: BasisPoints = 10_000;
/// The longest policy version id.
pub const POLICY_ID_MAX_CHARS: usize = 64;
/// The schemes every policy version must define (城镇职工 and 城乡居民).
pub const SCHEMES: [Insurance; 2] = [Insurance::Employee, Insurance::Resident];
/// Months in a budget year (the capitation budget is yearly).
pub const MONTHS_IN_YEAR: u32 = 12;

/// The stable codes of the rules an [`Adjudication`] reports.
pub mod rule {
    /// The resident is not insured: everything is theirs to pay.
    pub const UNINSURED: &str = "uninsured";
    /// Items outside the insurance catalogue (自费) are the resident's.
    pub const UNCOVERED_ITEMS: &str = "uncovered_items";
    /// The level's deductible (起付线) was applied.
    pub const DEDUCTIBLE: &str = "deductible";
    /// No second deductible after a referral within the consortium.
    pub const DEDUCTIBLE_WAIVED_IN_CONSORTIUM: &str = "deductible_waived_in_consortium";
    /// A downward-referred stay continues the referring stay: no deductible.
    pub const CONTINUATION_NO_DEDUCTIBLE: &str = "continuation_no_deductible";
    /// An approved referral outside the consortium keeps the normal ratio.
    pub const APPROVED_REFERRAL_NORMAL_RATIO: &str = "approved_referral_normal_ratio";
    /// Going up without a required referral lowers the ratio.
    pub const MISSING_REFERRAL_PENALTY: &str = "missing_referral_penalty";
    /// The level's reimbursement ratio, giving the fund's share.
    pub const RATIO: &str = "ratio";
    /// The yearly cap limited the fund's share.
    pub const YEARLY_CAP: &str = "yearly_cap";
}

// ------------------------------------------------------------------ vocabularies

crate::vocabulary!(
    /// 报销档次 — the benefit level an encounter is reimbursed at: the level of
    /// the institution within the pooling region (统筹区), or out of region
    /// (异地就医). Declared from the most to the least favoured; a policy's
    /// ratios follow this order ([`PolicyVersion::validate`]).
    BenefitLevel {
        Village = "village": "村卫生室",
        Primary = "primary": "乡镇卫生院/社区",
        County = "county": "县级",
        City = "city": "市级",
        Tertiary = "tertiary": "省级/三级",
        OutOfRegion = "out_of_region": "异地/县外",
    }
);

crate::vocabulary!(
    /// 就医类别 — outpatient (门诊) or inpatient (住院) care; each has its own
    /// ratios, deductibles and yearly cap.
    Setting {
        Outpatient = "outpatient": "门诊",
        Inpatient = "inpatient": "住院",
    }
);

crate::vocabulary!(
    /// 费用类别 — the cost categories of an encounter's bill.
    CostCategory {
        Drugs = "drugs": "药品费",
        Exams = "exams": "检查检验费",
        Treatment = "treatment": "治疗费",
        Beds = "beds": "床位费",
        Materials = "materials": "材料费",
    }
);

crate::vocabulary!(
    /// 结算单状态 — a claim is entered, checked (审核) and then valuated
    /// (核定, the fund's share fixed) or rejected (拒付). See
    /// [`claim_transition`].
    ClaimState {
        Entered = "entered": "已录入",
        Checked = "checked": "已审核",
        Valuated = "valuated": "已核定",
        Rejected = "rejected": "已拒付",
    }
);

crate::vocabulary!(
    /// 转诊情形 — how an encounter relates to referral, which changes the
    /// deductible and ratio ([`adjudicate`]). The caller decides it from the
    /// referral records: whether the level needs a referral, and whether one
    /// was made.
    ReferralContext {
        None = "none": "未转诊",
        ReferredInConsortium = "referred_in_consortium": "医共体内转诊",
        ReferredOutside = "referred_outside": "经批准向上转诊(医共体外)",
        DownwardContinuation = "downward_continuation": "下转接续",
        MissingRequired = "missing_required": "未按程序转诊",
    }
);

/// How long before an encounter an accepted referral still covers it (days):
/// a referral is used within a quarter.
pub const REFERRAL_VALID_DAYS: i64 = 90;

/// 统筹区 — where an institution lies relative to the resident, from their
/// GB/T 2260 region codes: `(in_region, in_county)`. The pooling region
/// (统筹区) is the resident's city (first 4 digits): care outside it is
/// 异地就医 ([`BenefitLevel::OutOfRegion`]); care outside the resident's
/// county (first 6 digits) is 县外就医, the capitation budget's leakage.
pub fn pooling(resident_region: &str, institution_region: &str) -> (bool, bool) {
    let same = |n: usize| match (resident_region.get(..n), institution_region.get(..n)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    (same(4), same(6))
}

/// A referral the encounter follows: its direction and whether it stayed
/// inside one consortium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralLink {
    pub direction: crate::referral::Direction,
    pub in_consortium: bool,
}

/// 是否须经转诊 — whether care at `level` needs a referral: above the county
/// (city, tertiary, out of region) it does (基层首诊: the county consortium
/// is the default route, seed 001 art. 10 "对县级医院无法治疗经批准向上级转诊"),
/// unless the institution is one of the resident's own "1+1+1" choices
/// (`in_contract_combination`; SPEC §2.2: inside that combination they can
/// be seen anywhere). Village, primary and county care never needs one.
pub fn referral_required(level: BenefitLevel, in_contract_combination: bool) -> bool {
    matches!(
        level,
        BenefitLevel::City | BenefitLevel::Tertiary | BenefitLevel::OutOfRegion
    ) && !in_contract_combination
}

/// 转诊情形判定 — the [`ReferralContext`] of an encounter: a downward
/// referral makes it a continuation; an upward or lateral one inside the
/// consortium waives the second deductible; one outside it is an approved
/// referral at the normal ratio; without a referral, care that needs one
/// ([`referral_required`]) is `missing_required`, else `none`.
pub fn referral_context(
    level: BenefitLevel,
    referral: Option<ReferralLink>,
    in_contract_combination: bool,
) -> ReferralContext {
    use crate::referral::Direction;
    match referral {
        Some(r) if r.direction == Direction::Down => ReferralContext::DownwardContinuation,
        Some(r) if r.in_consortium => ReferralContext::ReferredInConsortium,
        Some(_) => ReferralContext::ReferredOutside,
        None if referral_required(level, in_contract_combination) => {
            ReferralContext::MissingRequired
        }
        None => ReferralContext::None,
    }
}

/// 报销档次判定 — the benefit level of an institution: its level of care
/// ([`level_of`]: a hospital graded 二级 counts at least as county, one graded
/// 三级 as tertiary), or [`BenefitLevel::OutOfRegion`] when it lies outside the
/// resident's pooling region (`in_region == false`; 异地就医). Public-health
/// institutions (CDC) give no reimbursable care: `None`.
pub fn benefit_level(
    kind: InstitutionKind,
    grade: Option<Grade>,
    in_region: bool,
) -> Option<BenefitLevel> {
    let level = level_of(kind, grade)?;
    if !in_region {
        return Some(BenefitLevel::OutOfRegion);
    }
    Some(match level {
        LEVEL_VILLAGE => BenefitLevel::Village,
        LEVEL_PRIMARY => BenefitLevel::Primary,
        LEVEL_COUNTY => BenefitLevel::County,
        LEVEL_CITY => BenefitLevel::City,
        _ => BenefitLevel::Tertiary,
    })
}

/// 结算单状态机 — the only way a claim's state changes: entered → checked →
/// valuated, or rejected from entered or checked. Valuated and rejected are
/// final; staying in the same state is not a transition.
pub fn claim_transition(from: ClaimState, to: ClaimState) -> Result<(), InsuranceError> {
    use ClaimState as S;
    match (from, to) {
        (S::Entered, S::Checked)
        | (S::Entered, S::Rejected)
        | (S::Checked, S::Valuated)
        | (S::Checked, S::Rejected) => Ok(()),
        _ => Err(InsuranceError::IllegalClaimTransition { from, to }),
    }
}

// ------------------------------------------------------------------ errors

/// Why an insurance rule refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsuranceError {
    /// A policy (file, version or set) breaks a rule; `field` is the path of
    /// the offending field, e.g. `schemes.resident.inpatient.levels.county.ratio_bp`.
    #[error("invalid insurance policy: {field}: {en}")]
    InvalidPolicy {
        field: String,
        zh: String,
        en: String,
    },
    /// No policy version covers the region on this date.
    #[error("no insurance policy version is in force on {date}")]
    NoPolicyInForce { date: NaiveDate },
    /// A claim's input is unusable (no items, a negative amount…).
    #[error("invalid claim: {field}: {en}")]
    InvalidClaim {
        field: String,
        zh: String,
        en: String,
    },
    /// The claim cannot move from `from` to `to`.
    #[error("a claim cannot go from {from} to {to}")]
    IllegalClaimTransition { from: ClaimState, to: ClaimState },
    /// The consortium's capitation period was settled before.
    #[error("the capitation period {period} of consortium {consortium_id} is already settled")]
    AlreadySettled { consortium_id: i64, period: String },
}

impl InsuranceError {
    fn policy(field: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        InsuranceError::InvalidPolicy {
            field: field.into(),
            zh: zh.into(),
            en: en.into(),
        }
    }

    fn claim(field: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        InsuranceError::InvalidClaim {
            field: field.into(),
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl Explain for InsuranceError {
    fn code(&self) -> &'static str {
        match self {
            InsuranceError::InvalidPolicy { .. } => "invalid_policy",
            InsuranceError::NoPolicyInForce { .. } => "no_policy_in_force",
            InsuranceError::InvalidClaim { .. } => "invalid_claim",
            InsuranceError::IllegalClaimTransition { .. } => "illegal_transition",
            InsuranceError::AlreadySettled { .. } => "already_settled",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            InsuranceError::InvalidPolicy { field, zh, .. } => {
                format!("医保支付政策字段 {field} 无效：{zh}")
            }
            InsuranceError::NoPolicyInForce { date } => {
                format!("{date} 没有生效的医保支付政策版本")
            }
            InsuranceError::InvalidClaim { field, zh, .. } => {
                format!("结算信息字段 {field} 无效：{zh}")
            }
            InsuranceError::IllegalClaimTransition { from, to } => {
                format!("结算单不能从“{}”变为“{}”", from.label_zh(), to.label_zh())
            }
            InsuranceError::AlreadySettled {
                consortium_id,
                period,
            } => format!("医共体 {consortium_id} 的 {period} 按人头打包付费已清算，不能重复清算"),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

// ------------------------------------------------------------------ policy

/// One level's terms: 报销比例 (the fund's share above the deductible) and
/// 起付线 (the part of covered costs the resident pays first, per encounter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelTerms {
    pub ratio_bp: BasisPoints,
    pub deductible_fen: i64,
}

/// One setting's terms within a scheme: the yearly cap on the fund's
/// payments (年度最高支付限额) and the terms of every benefit level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingTerms {
    pub yearly_cap_fen: i64,
    #[serde(default)]
    pub levels: BTreeMap<BenefitLevel, LevelTerms>,
}

/// 结余分配方案 — how a retained capitation surplus (结余留用) is shared among
/// the consortium's members: a weight per benefit level, in basis points
/// summing to 10,000 (e.g. county 4,000, primary 4,000, village 2,000). A
/// level not listed has weight 0. See [`distribute_surplus`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SurplusKey {
    pub weights: BTreeMap<BenefitLevel, BasisPoints>,
}

impl SurplusKey {
    /// The level's weight (0 when not listed).
    pub fn weight(&self, level: BenefitLevel) -> BasisPoints {
        self.weights.get(&level).copied().unwrap_or(0)
    }

    /// Every weight is at most 10,000 bp and together they make 10,000 bp.
    pub fn validate(&self) -> Result<(), InsuranceError> {
        let mut sum: u64 = 0;
        for (level, w) in &self.weights {
            if *w > FULL_BP {
                return Err(InsuranceError::policy(
                    format!("surplus_key.{level}"),
                    format!("结余分配权重 {w} 超过 10000（100%）"),
                    format!("weight {w} bp exceeds 10000 bp (100 %)"),
                ));
            }
            sum += u64::from(*w);
        }
        if sum != u64::from(FULL_BP) {
            return Err(InsuranceError::policy(
                "surplus_key",
                format!("结余分配权重合计为 {sum}，应为 10000（100%）"),
                format!("the weights add up to {sum} bp, not 10000 bp (100 %)"),
            ));
        }
        Ok(())
    }
}

/// 医保支付政策版本 — one version of a region's reimbursement policy, in force
/// from `valid_from` to `valid_to` (both inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersion {
    /// Stable id, e.g. `"2026-县域-v1"`; unique among the versions.
    pub id: String,
    /// GB/T 2260 code prefix (2, 4 or 6 digits: province, city, county) of
    /// the insured residents' region this version applies to.
    pub region: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    /// Points the ratio is lowered by for going up without a required
    /// referral (1,000 bp = 10 percentage points).
    pub missing_referral_penalty_bp: BasisPoints,
    /// 人头费 — the yearly capitation amount per insured resident, by scheme.
    #[serde(default)]
    pub capitation_per_capita_fen: BTreeMap<Insurance, i64>,
    /// The terms by scheme and setting.
    #[serde(default)]
    pub schemes: BTreeMap<Insurance, BTreeMap<Setting, SettingTerms>>,
    /// How a capitation surplus is shared among members.
    #[serde(default)]
    pub surplus_key: SurplusKey,
}

impl PolicyVersion {
    /// 差别化支付政策校验 — the rules of one version:
    /// - `id` is not blank, at most [`POLICY_ID_MAX_CHARS`] characters, without
    ///   control characters; `region` is 2, 4 or 6 ASCII digits;
    /// - `valid_to` is not before `valid_from`;
    /// - the penalty and every ratio lie in 0..=10,000 bp; deductibles, caps and
    ///   capitation amounts are not negative;
    /// - both schemes ([`SCHEMES`]), both settings and all six benefit levels
    ///   are given (and no other scheme), and capitation for both schemes;
    /// - **the terms favour primary care**: within a scheme and setting the
    ///   ratio never rises and the deductible never falls from village to
    ///   primary, county, city, tertiary and out of region. Seed 001
    ///   (`seeds/001_bc77f72059521d41.txt`, line 59, art. 10): "拉开不同级别定点
    ///   医疗机构间的报销比例差距,进一步向基层倾斜" — a policy that pays a county
    ///   hospital better than a township centre contradicts it and is refused;
    /// - the surplus key's weights sum to 10,000 bp ([`SurplusKey::validate`]).
    pub fn validate(&self) -> Result<(), InsuranceError> {
        let id = self.id.trim();
        if id.is_empty()
            || self.id.chars().count() > POLICY_ID_MAX_CHARS
            || self.id.chars().any(char::is_control)
        {
            return Err(InsuranceError::policy(
                "id",
                format!("版本号不能为空，不超过 {POLICY_ID_MAX_CHARS} 个字符，且不含控制字符"),
                format!(
                    "the version id must be non-blank, at most {POLICY_ID_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        let r = &self.region;
        if !matches!(r.len(), 2 | 4 | 6) || !r.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InsuranceError::policy(
                "region",
                format!(
                    "区划代码前缀“{}”无效，应为 2、4 或 6 位数字",
                    r.chars().take(16).collect::<String>()
                ),
                format!(
                    "region prefix {:?} must be 2, 4 or 6 digits (GB/T 2260)",
                    r.chars().take(16).collect::<String>()
                ),
            ));
        }
        if self.valid_to < self.valid_from {
            return Err(InsuranceError::policy(
                "valid_to",
                format!(
                    "失效日期 {} 早于生效日期 {}",
                    self.valid_to, self.valid_from
                ),
                format!(
                    "valid_to {} is before valid_from {}",
                    self.valid_to, self.valid_from
                ),
            ));
        }
        check_bp(
            "missing_referral_penalty_bp",
            self.missing_referral_penalty_bp,
        )?;
        for key in self.capitation_per_capita_fen.keys() {
            check_scheme_key("capitation_per_capita_fen", *key)?;
        }
        for scheme in SCHEMES {
            let field = format!("capitation_per_capita_fen.{scheme}");
            match self.capitation_per_capita_fen.get(&scheme) {
                None => return Err(missing(field)),
                Some(v) => check_amount(&field, *v)?,
            }
        }
        for key in self.schemes.keys() {
            check_scheme_key("schemes", *key)?;
        }
        for scheme in SCHEMES {
            let Some(settings) = self.schemes.get(&scheme) else {
                return Err(missing(format!("schemes.{scheme}")));
            };
            for setting in Setting::ALL {
                let path = format!("schemes.{scheme}.{setting}");
                let Some(terms) = settings.get(setting) else {
                    return Err(missing(path));
                };
                check_setting(&path, terms)?;
            }
        }
        self.surplus_key.validate()
    }

    /// Whether this version is in force on `date` (`valid_from ≤ date ≤
    /// valid_to`).
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_to
    }

    /// Whether this version applies to residents of `region_code` (a GB/T
    /// 2260 code of any length): the code starts with the version's prefix.
    pub fn applies_to(&self, region_code: &str) -> bool {
        !self.region.is_empty() && region_code.starts_with(&self.region)
    }

    /// Whether the two versions are for the same region and their periods
    /// share at least one day.
    pub fn overlaps(&self, other: &PolicyVersion) -> bool {
        self.region == other.region
            && self.valid_from <= other.valid_to
            && other.valid_from <= self.valid_to
    }

    /// The terms of a scheme, setting and level (`None` for the uninsured or
    /// a version that fails [`PolicyVersion::validate`]).
    pub fn terms(
        &self,
        scheme: Insurance,
        setting: Setting,
        level: BenefitLevel,
    ) -> Option<LevelTerms> {
        self.setting_terms(scheme, setting)?
            .levels
            .get(&level)
            .copied()
    }

    /// The terms of a scheme and setting.
    pub fn setting_terms(&self, scheme: Insurance, setting: Setting) -> Option<&SettingTerms> {
        self.schemes.get(&scheme)?.get(&setting)
    }

    /// The yearly capitation amount per insured resident of a scheme (0 when
    /// not given).
    pub fn capitation_fen(&self, scheme: Insurance) -> i64 {
        self.capitation_per_capita_fen
            .get(&scheme)
            .copied()
            .unwrap_or(0)
    }

    /// This version as a `[[version]]` TOML document that
    /// [`PolicySet::from_toml`] reads back identically.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "[[version]]");
        let _ = writeln!(out, "id = {}", toml_string(&self.id));
        let _ = writeln!(out, "region = {}", toml_string(&self.region));
        let _ = writeln!(out, "valid_from = \"{}\"", self.valid_from);
        let _ = writeln!(out, "valid_to = \"{}\"", self.valid_to);
        let _ = writeln!(
            out,
            "missing_referral_penalty_bp = {}",
            self.missing_referral_penalty_bp
        );
        let _ = writeln!(out, "\n[version.capitation_per_capita_fen]");
        for (scheme, fen) in &self.capitation_per_capita_fen {
            let _ = writeln!(out, "{scheme} = {fen}");
        }
        let _ = writeln!(out, "\n[version.surplus_key]");
        for (level, w) in &self.surplus_key.weights {
            let _ = writeln!(out, "{level} = {w}");
        }
        for (scheme, settings) in &self.schemes {
            if settings.is_empty() {
                let _ = writeln!(out, "\n[version.schemes.{scheme}]");
            }
            for (setting, terms) in settings {
                let _ = writeln!(out, "\n[version.schemes.{scheme}.{setting}]");
                let _ = writeln!(out, "yearly_cap_fen = {}", terms.yearly_cap_fen);
                let _ = writeln!(out, "\n[version.schemes.{scheme}.{setting}.levels]");
                for (level, t) in &terms.levels {
                    let _ = writeln!(
                        out,
                        "{level} = {{ ratio_bp = {}, deductible_fen = {} }}",
                        t.ratio_bp, t.deductible_fen
                    );
                }
            }
        }
        out
    }
}

fn missing(field: String) -> InsuranceError {
    InsuranceError::policy(field, "缺少此项", "missing")
}

fn check_bp(field: &str, bp: BasisPoints) -> Result<(), InsuranceError> {
    if bp > FULL_BP {
        return Err(InsuranceError::policy(
            field,
            format!("{bp} 超出 0 到 10000（0%–100%）的范围"),
            format!("{bp} bp is outside 0..=10000 bp (0–100 %)"),
        ));
    }
    Ok(())
}

fn check_amount(field: &str, fen: i64) -> Result<(), InsuranceError> {
    if fen < 0 {
        return Err(InsuranceError::policy(
            field,
            format!("金额不能为负数（{fen} 分）"),
            format!("the amount must not be negative ({fen} fen)"),
        ));
    }
    Ok(())
}

fn check_scheme_key(field: &str, scheme: Insurance) -> Result<(), InsuranceError> {
    if SCHEMES.contains(&scheme) {
        return Ok(());
    }
    Err(InsuranceError::policy(
        format!("{field}.{scheme}"),
        format!("{}没有医保支付政策", scheme.label_zh()),
        format!("scheme {scheme} has no benefits; only employee and resident"),
    ))
}

fn check_setting(path: &str, terms: &SettingTerms) -> Result<(), InsuranceError> {
    check_amount(&format!("{path}.yearly_cap_fen"), terms.yearly_cap_fen)?;
    let mut prev: Option<(BenefitLevel, LevelTerms)> = None;
    for &level in BenefitLevel::ALL {
        let at = format!("{path}.levels.{level}");
        let Some(t) = terms.levels.get(&level).copied() else {
            return Err(missing(at));
        };
        check_bp(&format!("{at}.ratio_bp"), t.ratio_bp)?;
        check_amount(&format!("{at}.deductible_fen"), t.deductible_fen)?;
        if let Some((p, pt)) = prev {
            if t.ratio_bp > pt.ratio_bp {
                return Err(InsuranceError::policy(
                    format!("{at}.ratio_bp"),
                    format!(
                        "{}报销比例 {} 高于{} {}：差别化支付须向基层倾斜，级别越高比例不得越高",
                        level.label_zh(),
                        pct(t.ratio_bp),
                        p.label_zh(),
                        pct(pt.ratio_bp)
                    ),
                    format!(
                        "the {level} ratio {} exceeds the {p} ratio {}: ratios must favour primary care (never rise with the level)",
                        pct(t.ratio_bp),
                        pct(pt.ratio_bp)
                    ),
                ));
            }
            if t.deductible_fen < pt.deductible_fen {
                return Err(InsuranceError::policy(
                    format!("{at}.deductible_fen"),
                    format!(
                        "{}起付线 {} 元低于{} {} 元：差别化支付须向基层倾斜，级别越高起付线不得越低",
                        level.label_zh(),
                        yuan(t.deductible_fen),
                        p.label_zh(),
                        yuan(pt.deductible_fen)
                    ),
                    format!(
                        "the {level} deductible {} yuan is below the {p} deductible {} yuan: deductibles must favour primary care (never fall with the level)",
                        yuan(t.deductible_fen),
                        yuan(pt.deductible_fen)
                    ),
                ));
            }
        }
        prev = Some((level, t));
    }
    Ok(())
}

fn overlap_error(a: &PolicyVersion, b: &PolicyVersion) -> InsuranceError {
    InsuranceError::policy(
        "valid_from",
        format!(
            "版本 {}（{} 至 {}）与版本 {}（{} 至 {}）在区划 {} 的有效期重叠",
            b.id, b.valid_from, b.valid_to, a.id, a.valid_from, a.valid_to, b.region
        ),
        format!(
            "version {} ({}..={}) overlaps version {} ({}..={}) for region {}",
            b.id, b.valid_from, b.valid_to, a.id, a.valid_from, a.valid_to, b.region
        ),
    )
}

fn duplicate_id_error(id: &str) -> InsuranceError {
    InsuranceError::policy(
        "id",
        format!("版本号 {id} 已存在"),
        format!("version id {id} is already used"),
    )
}

/// 新增政策版本校验 — the checks for a version created through the API: the
/// version's own rules ([`PolicyVersion::validate`]), an id not used by an
/// existing version, and no overlap with an existing version of the same
/// region (a region has at most one version in force on any day; a version
/// for a longer prefix may refine one for a shorter prefix, see
/// [`policy_in_force`]).
pub fn validate_new_version(
    existing: &[PolicyVersion],
    new: &PolicyVersion,
) -> Result<(), InsuranceError> {
    new.validate()?;
    for old in existing {
        if old.id == new.id {
            return Err(duplicate_id_error(&new.id));
        }
        if old.overlaps(new) {
            return Err(overlap_error(old, new));
        }
    }
    Ok(())
}

/// 生效政策 — the version in force for residents of `region_code` on `date`:
/// among the versions whose region prefix the code starts with and whose
/// period covers the date, the one with the longest (most specific) prefix.
/// None: [`InsuranceError::NoPolicyInForce`].
pub fn policy_in_force<'a>(
    versions: &'a [PolicyVersion],
    region_code: &str,
    date: NaiveDate,
) -> Result<&'a PolicyVersion, InsuranceError> {
    versions
        .iter()
        .filter(|v| v.applies_to(region_code) && v.in_force(date))
        .fold(None::<&PolicyVersion>, |best, v| match best {
            Some(b) if b.region.len() >= v.region.len() => Some(b),
            _ => Some(v),
        })
        .ok_or(InsuranceError::NoPolicyInForce { date })
}

/// The SPEC's "policy": one version of it.
pub type Policy = PolicyVersion;

/// 医保支付政策 — all versions of the policy, as in
/// `config/insurance_policy.toml` (one `[[version]]` table each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    #[serde(rename = "version", default)]
    pub versions: Vec<PolicyVersion>,
}

impl PolicySet {
    /// Parses a policy file and validates it ([`PolicySet::validate`]). A
    /// syntax error, an unknown key or a value of the wrong type (e.g. a
    /// negative ratio) is an `invalid_policy` error with the field `toml`.
    pub fn from_toml(text: &str) -> Result<PolicySet, InsuranceError> {
        let set: PolicySet = toml::from_str(text).map_err(|e| {
            let m = e.to_string();
            InsuranceError::policy("toml", format!("政策文件格式错误：{m}"), m)
        })?;
        set.validate()?;
        Ok(set)
    }

    /// At least one version; each valid; ids unique; no two versions of
    /// the same region overlapping in time.
    pub fn validate(&self) -> Result<(), InsuranceError> {
        if self.versions.is_empty() {
            return Err(InsuranceError::policy(
                "version",
                "至少需要一个政策版本",
                "at least one policy version is needed",
            ));
        }
        for (i, v) in self.versions.iter().enumerate() {
            validate_new_version(&self.versions[..i], v)?;
        }
        Ok(())
    }

    /// The version in force for `region_code` on `date` ([`policy_in_force`]).
    pub fn in_force(
        &self,
        region_code: &str,
        date: NaiveDate,
    ) -> Result<&PolicyVersion, InsuranceError> {
        policy_in_force(&self.versions, region_code, date)
    }

    /// The version with this id.
    pub fn version(&self, id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// All versions as TOML that [`PolicySet::from_toml`] reads back
    /// identically (comments are not kept).
    pub fn to_toml(&self) -> String {
        self.versions
            .iter()
            .map(PolicyVersion::to_toml)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Basis points as a percentage: 9000 → "90%", 6250 → "62.5%".
fn pct(bp: BasisPoints) -> String {
    if bp.is_multiple_of(100) {
        format!("{}%", bp / 100)
    } else {
        let frac = format!("{:02}", bp % 100);
        format!("{}.{}%", bp / 100, frac.trim_end_matches('0'))
    }
}

/// Basis points as percentage points: 1000 → "10", 250 → "2.5".
fn points(bp: BasisPoints) -> String {
    pct(bp).trim_end_matches('%').to_string()
}

// ------------------------------------------------------------------ adjudication

/// One line of an encounter's bill. `covered == false` marks an item outside
/// the insurance catalogue (自费), paid entirely by the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostItem {
    pub category: CostCategory,
    pub amount_fen: i64,
    pub covered: bool,
}

/// What [`adjudicate`] needs to know about an encounter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInput {
    pub scheme: Insurance,
    pub setting: Setting,
    pub level: BenefitLevel,
    /// The date of the encounter (the discharge date of a stay); the policy
    /// version must be in force on it.
    pub date: NaiveDate,
    pub items: Vec<CostItem>,
    pub referral: ReferralContext,
}

/// What the fund has already paid this calendar year for the resident, in
/// the claim's scheme and setting — the yearly cap applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct YearToDate {
    pub fund_paid_fen: i64,
}

/// One rule that shaped an adjudication, explained in both languages with
/// the amounts it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRule {
    /// Stable snake_case code, one of [`rule`].
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// 结算结果 — an encounter's cost split into the fund's and the resident's
/// shares. Always `fund_fen + resident_fen == total_fen`, both ≥ 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjudication {
    /// All items.
    pub total_fen: i64,
    /// Items within the insurance catalogue (合规费用).
    pub covered_fen: i64,
    /// Items outside it (自费).
    pub uncovered_fen: i64,
    /// The deductible applied (起付线; 0 when waived).
    pub deductible_fen: i64,
    /// The ratio applied (after a penalty).
    pub ratio_bp: BasisPoints,
    /// The fund's share (统筹基金支付).
    pub fund_fen: i64,
    /// The resident's share (个人负担): deductible, co-payment, uncovered
    /// items and what the cap moved.
    pub resident_fen: i64,
    /// The part of the fund's share moved to the resident by the yearly cap.
    pub capped_fen: i64,
    /// The policy version used.
    pub policy_id: String,
    /// The rules applied, in order.
    pub rules: Vec<AppliedRule>,
}

fn applied(code: &str, zh: String, en: String) -> AppliedRule {
    AppliedRule {
        code: code.into(),
        zh,
        en,
    }
}

/// 医保结算 — splits an encounter's costs into the fund's and the resident's
/// shares under `policy`, step by step (each step is reported in
/// [`Adjudication::rules`]):
///
/// 1. **covered** — the covered items' total; uncovered items (自费) are the
///    resident's (`uncovered_items`). An uninsured resident pays everything
///    (`uninsured`).
/// 2. **deductible** (起付线) of the level, per encounter, applied to the
///    covered total (`deductible`); a covered total below it is all the
///    resident's. Waived after a referral within the consortium
///    (`deductible_waived_in_consortium`: seed 001 art. 10 "推广在医疗联合体
///    内转诊取消二次起付线的做法") and for a downward-referred stay, which
///    continues the referring stay (`continuation_no_deductible`: "符合下转
///    指征至基层治疗的,实行差别化的医保结算政策").
/// 3. **ratio** of the level (`ratio`). Going up without a required referral
///    lowers it by the policy's penalty, not below 0
///    (`missing_referral_penalty`: "对未按照程序向上转诊就医的,按规定适当降低
///    医保报销比例"); an approved referral outside the consortium keeps it
///    (`approved_referral_normal_ratio`: "对县级医院无法治疗经批准向上级转诊的
///    参保病人,医保按规定标准予以报销").
/// 4. **fund** = [`share_of`]`(covered − deductible, ratio)`, rounded once.
/// 5. **yearly cap** — the fund pays at most `cap − ytd.fund_paid_fen` (never
///    below 0); the excess is moved to the resident (`yearly_cap`).
///
/// The resident's share is `total − fund`. Errors: the policy fails
/// [`PolicyVersion::validate`] (`invalid_policy`); it is not in force on the
/// claim's date (`no_policy_in_force`); no items, a negative amount, a total
/// beyond the i64 range or negative year-to-date payments (`invalid_claim`).
/// Pure: the same policy version, input and year-to-date give the same
/// result.
pub fn adjudicate(
    policy: &PolicyVersion,
    input: &ClaimInput,
    ytd: &YearToDate,
) -> Result<Adjudication, InsuranceError> {
    policy.validate()?;
    if !policy.in_force(input.date) {
        return Err(InsuranceError::NoPolicyInForce { date: input.date });
    }
    if input.items.is_empty() {
        return Err(InsuranceError::claim(
            "items",
            "没有费用明细",
            "the claim has no cost items",
        ));
    }
    let (mut covered, mut uncovered) = (0_i64, 0_i64);
    for (i, item) in input.items.iter().enumerate() {
        if item.amount_fen < 0 {
            return Err(InsuranceError::claim(
                format!("items[{i}].amount_fen"),
                format!("费用金额不能为负数（{} 元）", yuan(item.amount_fen)),
                format!(
                    "the amount must not be negative ({} yuan)",
                    yuan(item.amount_fen)
                ),
            ));
        }
        let sum = if item.covered {
            &mut covered
        } else {
            &mut uncovered
        };
        *sum = sum.checked_add(item.amount_fen).ok_or_else(too_large)?;
    }
    let total = covered.checked_add(uncovered).ok_or_else(too_large)?;
    if ytd.fund_paid_fen < 0 {
        return Err(InsuranceError::claim(
            "ytd.fund_paid_fen",
            "本年基金已支付金额不能为负数",
            "the fund's payments this year must not be negative",
        ));
    }

    let mut rules = Vec::new();
    let setting_zh = input.setting.label_zh();
    let level_zh = input.level.label_zh();
    if uncovered > 0 {
        rules.push(applied(
            rule::UNCOVERED_ITEMS,
            format!(
                "自费项目 {} 元不属医保支付范围，由个人负担",
                yuan(uncovered)
            ),
            format!(
                "items outside the insurance catalogue, {} yuan, are paid by the resident",
                yuan(uncovered)
            ),
        ));
    }
    let Some(terms) = policy.terms(input.scheme, input.setting, input.level) else {
        // A validated policy has terms for every insured scheme: only the
        // uninsured get here.
        rules.push(applied(
            rule::UNINSURED,
            format!(
                "{}：费用 {} 元全部由个人负担",
                input.scheme.label_zh(),
                yuan(total)
            ),
            format!(
                "not insured ({}): all {} yuan are paid by the resident",
                input.scheme,
                yuan(total)
            ),
        ));
        return Ok(Adjudication {
            total_fen: total,
            covered_fen: covered,
            uncovered_fen: uncovered,
            deductible_fen: 0,
            ratio_bp: 0,
            fund_fen: 0,
            resident_fen: total,
            capped_fen: 0,
            policy_id: policy.id.clone(),
            rules,
        });
    };

    // Step 2: the deductible.
    let level_deductible = terms.deductible_fen;
    let deductible = match input.referral {
        ReferralContext::ReferredInConsortium => {
            rules.push(applied(
                rule::DEDUCTIBLE_WAIVED_IN_CONSORTIUM,
                format!(
                    "医共体内转诊，免除二次起付线（{level_zh}{setting_zh} {} 元）",
                    yuan(level_deductible)
                ),
                format!(
                    "referred within the consortium: the second deductible ({} {}, {} yuan) is waived",
                    input.level,
                    input.setting,
                    yuan(level_deductible)
                ),
            ));
            0
        }
        ReferralContext::DownwardContinuation => {
            rules.push(applied(
                rule::CONTINUATION_NO_DEDUCTIBLE,
                format!(
                    "下转接续治疗，视为转出住院的延续，不再计起付线（{level_zh}{setting_zh} {} 元）",
                    yuan(level_deductible)
                ),
                format!(
                    "downward-referred continuation of care: no new deductible ({} {}, {} yuan)",
                    input.level,
                    input.setting,
                    yuan(level_deductible)
                ),
            ));
            0
        }
        _ => {
            let applied_fen = level_deductible.min(covered);
            let (zh, en) = if covered <= level_deductible {
                (
                    format!(
                        "{level_zh}{setting_zh}起付线 {} 元；合规费用 {} 元未超过起付线，全部由个人负担",
                        yuan(level_deductible),
                        yuan(covered)
                    ),
                    format!(
                        "{} {} deductible {} yuan; covered costs of {} yuan do not exceed it and are paid by the resident",
                        input.level,
                        input.setting,
                        yuan(level_deductible),
                        yuan(covered)
                    ),
                )
            } else {
                (
                    format!(
                        "{level_zh}{setting_zh}起付线 {} 元，由个人先行负担",
                        yuan(level_deductible)
                    ),
                    format!(
                        "{} {} deductible: the resident pays the first {} yuan of covered costs",
                        input.level,
                        input.setting,
                        yuan(level_deductible)
                    ),
                )
            };
            rules.push(applied(rule::DEDUCTIBLE, zh, en));
            applied_fen
        }
    };

    // Step 3: the ratio.
    let mut ratio = terms.ratio_bp;
    match input.referral {
        ReferralContext::MissingRequired => {
            let penalty = policy.missing_referral_penalty_bp;
            let lowered = ratio.saturating_sub(penalty);
            rules.push(applied(
                rule::MISSING_REFERRAL_PENALTY,
                format!(
                    "未按程序转诊，报销比例降低 {} 个百分点：{} → {}",
                    points(penalty),
                    pct(ratio),
                    pct(lowered)
                ),
                format!(
                    "not referred as required: the ratio is lowered by {} points, {} → {}",
                    points(penalty),
                    pct(ratio),
                    pct(lowered)
                ),
            ));
            ratio = lowered;
        }
        ReferralContext::ReferredOutside => rules.push(applied(
            rule::APPROVED_REFERRAL_NORMAL_RATIO,
            format!("经批准向上级转诊，按规定标准报销（{}）", pct(ratio)),
            format!(
                "approved referral outside the consortium: reimbursed at the normal ratio ({})",
                pct(ratio)
            ),
        )),
        _ => {}
    }

    // Step 4: the fund's share, rounded once.
    let base = covered - deductible;
    let share = share_of(base, ratio);
    rules.push(applied(
        rule::RATIO,
        format!(
            "{level_zh}{setting_zh}报销比例 {}：({} − {}) × {} = {} 元由基金支付",
            pct(ratio),
            yuan(covered),
            yuan(deductible),
            pct(ratio),
            yuan(share)
        ),
        format!(
            "{} {} ratio {}: ({} − {}) × {} = {} yuan paid by the fund",
            input.level,
            input.setting,
            pct(ratio),
            yuan(covered),
            yuan(deductible),
            pct(ratio),
            yuan(share)
        ),
    ));

    // Step 5: the yearly cap.
    let cap = policy
        .setting_terms(input.scheme, input.setting)
        .map_or(0, |s| s.yearly_cap_fen);
    let room = cap.saturating_sub(ytd.fund_paid_fen).max(0);
    let fund = share.min(room);
    let capped = share - fund;
    if capped > 0 {
        rules.push(applied(
            rule::YEARLY_CAP,
            format!(
                "{setting_zh}年度最高支付限额 {} 元，本年已支付 {} 元，基金本次最多支付 {} 元；超出的 {} 元由个人负担",
                yuan(cap),
                yuan(ytd.fund_paid_fen),
                yuan(room),
                yuan(capped)
            ),
            format!(
                "{} yearly cap {} yuan, {} yuan paid this year: the fund pays at most {} yuan now; the excess {} yuan is paid by the resident",
                input.setting,
                yuan(cap),
                yuan(ytd.fund_paid_fen),
                yuan(room),
                yuan(capped)
            ),
        ));
    }

    Ok(Adjudication {
        total_fen: total,
        covered_fen: covered,
        uncovered_fen: uncovered,
        deductible_fen: deductible,
        ratio_bp: ratio,
        fund_fen: fund,
        resident_fen: total - fund,
        capped_fen: capped,
        policy_id: policy.id.clone(),
        rules,
    })
}

fn too_large() -> InsuranceError {
    InsuranceError::claim("items", "费用合计金额过大", "the total amount is too large")
}

// ------------------------------------------------------------------ capitation

/// 按人头打包付费总额 — the consortium's yearly budget: the per-capita amount ×
/// the insured residents it serves (seed 000: "总额预算"). Negative inputs
/// count as 0; the product saturates instead of overflowing.
pub fn capitation_budget(per_capita_fen: i64, insured_residents: i64) -> i64 {
    per_capita_fen
        .max(0)
        .saturating_mul(insured_residents.max(0))
}

/// The running position of a capitation budget and its year-end projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// Spent in the months elapsed.
    pub spent_fen: i64,
    /// Projected spending for the whole year.
    pub projected_fen: i64,
    /// Budget − projection; negative: a projected overrun.
    pub projected_balance_fen: i64,
    /// Spending against the time-proportional budget (budget × months / 12):
    /// 10,000 bp means on track, above it spending runs ahead of time.
    pub burn_rate_bp: BasisPoints,
}

/// 年终预测 — a linear projection: the average monthly spending of the
/// `months_elapsed` months so far (entries of `spent_by_month`, January
/// first; missing months count as 0, later entries are ignored) continues
/// for the rest of the year, i.e. `projected = spent × 12 / months`, rounded
/// half up to the fen like [`share_of`]. `months_elapsed` is capped at 12;
/// with 0 months nothing is projected (all 0). The burn rate is
/// `spent / (budget × months / 12)` in basis points, rounded half up; with a
/// budget of 0 and some spending it saturates at `u32::MAX`.
pub fn forecast_year_end(budget_fen: i64, spent_by_month: &[i64], months_elapsed: u32) -> Forecast {
    let months = months_elapsed.min(MONTHS_IN_YEAR);
    let spent: i128 = spent_by_month
        .iter()
        .take(months as usize)
        .map(|m| i128::from(*m))
        .sum();
    if months == 0 {
        return Forecast {
            spent_fen: 0,
            projected_fen: 0,
            projected_balance_fen: budget_fen,
            burn_rate_bp: 0,
        };
    }
    let m = i128::from(months);
    let projected = div_half_up(spent * i128::from(MONTHS_IN_YEAR), m);
    let balance = i128::from(budget_fen) - projected;
    let burn = if budget_fen <= 0 {
        if spent > 0 { i128::from(u32::MAX) } else { 0 }
    } else {
        div_half_up(
            spent * i128::from(FULL_BP) * i128::from(MONTHS_IN_YEAR),
            i128::from(budget_fen) * m,
        )
    };
    Forecast {
        spent_fen: saturate(spent),
        projected_fen: saturate(projected),
        projected_balance_fen: saturate(balance),
        burn_rate_bp: u32::try_from(burn.max(0)).unwrap_or(u32::MAX),
    }
}

/// `num / den` rounded half up (`den > 0`), the rule of [`share_of`].
fn div_half_up(num: i128, den: i128) -> i128 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    q + i128::from(r * 2 >= den)
}

fn saturate(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// 年度清算 — the settlement of a capitation year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub budget_fen: i64,
    pub spent_fen: i64,
    /// Budget − spent when positive: kept by the consortium (结余留用).
    pub surplus_fen: i64,
    /// Spent − budget when positive: borne by the consortium, not by the
    /// fund (超支不补).
    pub overrun_fen: i64,
    /// What the fund pays: min(spent, budget).
    pub fund_pays_fen: i64,
    /// The surplus shared among the members, `(institution id, fen)` in the
    /// members' order; adds up to `surplus_fen` exactly (empty without
    /// members).
    pub distribution: Vec<(i64, i64)>,
}

/// 结余留用、超支不补 — settles a capitation year (seed 000: "按照“总额预算、
/// 结余留用、超支不补”的原则,开展按人头打包付费"): the fund pays what was spent
/// up to the budget and nothing beyond it; a surplus stays with the
/// consortium and is shared among `members` by `key`
/// ([`distribute_surplus`]); an overrun is the consortium's. Negative
/// amounts count as 0.
pub fn settle(
    budget_fen: i64,
    spent_fen: i64,
    members: &[(i64, BenefitLevel)],
    key: &SurplusKey,
) -> Settlement {
    let budget = budget_fen.max(0);
    let spent = spent_fen.max(0);
    let surplus = budget - spent;
    let (surplus, overrun) = if surplus >= 0 {
        (surplus, 0)
    } else {
        (0, spent - budget)
    };
    Settlement {
        budget_fen: budget,
        spent_fen: spent,
        surplus_fen: surplus,
        overrun_fen: overrun,
        fund_pays_fen: spent.min(budget),
        distribution: distribute_surplus(surplus, members, key),
    }
}

/// 结余分配 — shares `surplus_fen` among `members` (`(institution id,
/// level)`): each level's weight in `key` is split evenly among the members
/// of that level. A level with weight but no members passes its weight to
/// the others in proportion to theirs (the weights are renormalised over the
/// levels present); when no present level has weight, the surplus is split
/// evenly among all members. Parts come in the members' order and add up to
/// the surplus exactly ([`split_by_weights`]); a negative surplus counts as
/// 0.
pub fn distribute_surplus(
    surplus_fen: i64,
    members: &[(i64, BenefitLevel)],
    key: &SurplusKey,
) -> Vec<(i64, i64)> {
    let mut count: BTreeMap<BenefitLevel, usize> = BTreeMap::new();
    for (_, level) in members {
        *count.entry(*level).or_default() += 1;
    }
    let weights: Vec<f64> = members
        .iter()
        .map(|(_, level)| {
            let n = count.get(level).copied().unwrap_or(1).max(1);
            f64::from(key.weight(*level)) / n as f64
        })
        .collect();
    members
        .iter()
        .map(|(id, _)| *id)
        .zip(split_by_weights(surplus_fen.max(0), &weights))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{RngCore, SeedableRng};

    const SHIPPED: &str = include_str!("../../../config/insurance_policy.toml");
    const COUNTY: &str = "140599";

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn shipped() -> PolicySet {
        PolicySet::from_toml(SHIPPED).unwrap_or_else(|e| panic!("{e}"))
    }

    fn v2026() -> PolicyVersion {
        shipped().in_force(COUNTY, d(2026, 6, 1)).unwrap().clone()
    }

    fn item(amount_fen: i64) -> CostItem {
        CostItem {
            category: CostCategory::Treatment,
            amount_fen,
            covered: true,
        }
    }

    fn claim(level: BenefitLevel, setting: Setting, items: Vec<CostItem>) -> ClaimInput {
        ClaimInput {
            scheme: Insurance::Resident,
            setting,
            level,
            date: d(2026, 6, 1),
            items,
            referral: ReferralContext::None,
        }
    }

    fn inpatient(level: BenefitLevel, covered_fen: i64) -> ClaimInput {
        claim(level, Setting::Inpatient, vec![item(covered_fen)])
    }

    fn codes(a: &Adjudication) -> Vec<&str> {
        a.rules.iter().map(|r| r.code.as_str()).collect()
    }

    fn ok(policy: &PolicyVersion, input: &ClaimInput, ytd_fen: i64) -> Adjudication {
        let a = adjudicate(
            policy,
            input,
            &YearToDate {
                fund_paid_fen: ytd_fen,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.fund_fen + a.resident_fen, a.total_fen);
        assert!(a.fund_fen >= 0 && a.resident_fen >= 0);
        a
    }

    fn policy_err(e: InsuranceError) -> String {
        assert_eq!(e.code(), "invalid_policy", "{e:?}");
        match e {
            InsuranceError::InvalidPolicy { field, .. } => field,
            _ => unreachable!(),
        }
    }

    // ------------------------------------------------------------ vocabularies

    #[test]
    fn vocabularies_round_trip() {
        assert_eq!(BenefitLevel::ALL.len(), 6);
        assert_eq!(
            BenefitLevel::parse("out_of_region"),
            Some(BenefitLevel::OutOfRegion)
        );
        assert_eq!(Setting::Inpatient.label_zh(), "住院");
        assert_eq!(CostCategory::parse("exams"), Some(CostCategory::Exams));
        assert_eq!(ClaimState::Valuated.label_zh(), "已核定");
        assert_eq!(
            ReferralContext::parse("missing_required"),
            Some(ReferralContext::MissingRequired)
        );
        assert!(ReferralContext::parse_field("referral", "lost").is_err());
    }

    #[test]
    fn benefit_levels_of_institutions() {
        use BenefitLevel as B;
        use InstitutionKind as K;
        let table = [
            (K::VillageClinic, None, true, Some(B::Village)),
            (
                K::TownshipHealthCenter,
                Some(Grade::Level1),
                true,
                Some(B::Primary),
            ),
            (K::CommunityHealthStation, None, true, Some(B::Primary)),
            (K::PrivateClinic, None, true, Some(B::Primary)),
            (
                K::CountyGeneralHospital,
                Some(Grade::Level2A),
                true,
                Some(B::County),
            ),
            (
                K::CountyGeneralHospital,
                Some(Grade::Level3B),
                true,
                Some(B::Tertiary),
            ),
            (K::CityHospital, Some(Grade::Level2A), true, Some(B::City)),
            (
                K::CityHospital,
                Some(Grade::Level3A),
                true,
                Some(B::Tertiary),
            ),
            (K::TertiaryHospital, None, true, Some(B::Tertiary)),
            (K::TownshipHealthCenter, None, false, Some(B::OutOfRegion)),
            (
                K::TertiaryHospital,
                Some(Grade::Level3A),
                false,
                Some(B::OutOfRegion),
            ),
            (K::Cdc, None, true, None),
            (K::Cdc, None, false, None),
        ];
        for (kind, grade, in_region, want) in table {
            assert_eq!(
                benefit_level(kind, grade, in_region),
                want,
                "{kind} {grade:?}"
            );
        }
    }

    #[test]
    fn claim_transitions_exhaustively() {
        use ClaimState as S;
        let allowed = [
            (S::Entered, S::Checked),
            (S::Entered, S::Rejected),
            (S::Checked, S::Valuated),
            (S::Checked, S::Rejected),
        ];
        for &from in S::ALL {
            for &to in S::ALL {
                let got = claim_transition(from, to);
                assert_eq!(got.is_ok(), allowed.contains(&(from, to)), "{from} → {to}");
                if let Err(e) = got {
                    assert_eq!(e, InsuranceError::IllegalClaimTransition { from, to });
                    assert_eq!(e.code(), "illegal_transition");
                    assert!(e.message_zh().contains(from.label_zh()));
                }
            }
        }
    }

    // ------------------------------------------------------------ the shipped file

    /// The shipped policy parses, covers the generated county in 2025 and
    /// 2026, favours primary care, and widens the gap in 2026.
    #[test]
    fn shipped_policy_is_valid_and_favours_primary_care() {
        let set = shipped();
        assert_eq!(set.versions.len(), 2);
        let v25 = set.in_force(COUNTY, d(2025, 7, 1)).unwrap();
        let v26 = set.in_force(COUNTY, d(2026, 7, 1)).unwrap();
        assert_ne!(v25.id, v26.id);
        for v in [v25, v26] {
            for scheme in SCHEMES {
                for &setting in Setting::ALL {
                    let t = |l| v.terms(scheme, setting, l).unwrap();
                    for pair in BenefitLevel::ALL.windows(2) {
                        assert!(t(pair[0]).ratio_bp >= t(pair[1]).ratio_bp);
                        assert!(t(pair[0]).deductible_fen <= t(pair[1]).deductible_fen);
                    }
                    // Strictly better at the primary level than at the county.
                    assert!(t(BenefitLevel::Primary).ratio_bp > t(BenefitLevel::County).ratio_bp);
                }
            }
            assert_eq!(v.missing_referral_penalty_bp, 1000);
            v.surplus_key.validate().unwrap();
        }
        // The 2026 numbers of the brief.
        let r = |l| {
            v26.terms(Insurance::Resident, Setting::Inpatient, l)
                .unwrap()
        };
        use BenefitLevel as B;
        let want = [
            (B::Village, 9000, 0),
            (B::Primary, 9000, 20_000),
            (B::County, 8000, 50_000),
            (B::City, 7000, 80_000),
            (B::Tertiary, 6000, 120_000),
            (B::OutOfRegion, 5500, 150_000),
        ];
        for (l, ratio, ded) in want {
            assert_eq!((r(l).ratio_bp, r(l).deductible_fen), (ratio, ded), "{l}");
        }
        let cap = |s, st| v26.setting_terms(s, st).unwrap().yearly_cap_fen;
        assert_eq!(cap(Insurance::Resident, Setting::Inpatient), 30_000_000);
        assert_eq!(cap(Insurance::Employee, Setting::Inpatient), 40_000_000);
        assert_eq!(cap(Insurance::Resident, Setting::Outpatient), 200_000);
        assert_eq!(cap(Insurance::Employee, Setting::Outpatient), 400_000);
        assert_eq!(v26.capitation_fen(Insurance::Resident), 50_000);
        assert_eq!(v26.capitation_fen(Insurance::Employee), 80_000);
        assert_eq!(v26.capitation_fen(Insurance::Uninsured), 0);
        // 2026 widens the gap between primary and tertiary care.
        for scheme in SCHEMES {
            for &setting in Setting::ALL {
                let gap = |v: &PolicyVersion| {
                    let t = |l| v.terms(scheme, setting, l).unwrap().ratio_bp;
                    t(B::Primary) - t(B::Tertiary)
                };
                assert!(gap(v26) > gap(v25), "{scheme} {setting}");
            }
        }
    }

    #[test]
    fn toml_and_json_round_trips_are_identical() {
        let set = shipped();
        assert_eq!(PolicySet::from_toml(&set.to_toml()).unwrap(), set);
        let mut v = v2026();
        v.id = "odd \"id\" \\ 县域 v2".into();
        let back = PolicySet::from_toml(&v.to_toml()).unwrap();
        assert_eq!(back.versions, [v.clone()]);

        let json = serde_json::to_string(&v).unwrap();
        let back: PolicyVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        // The stored text gives the same adjudications.
        let inputs = [
            inpatient(BenefitLevel::County, 1_234_567),
            ClaimInput {
                referral: ReferralContext::MissingRequired,
                ..inpatient(BenefitLevel::Tertiary, 8_765_433)
            },
            claim(
                BenefitLevel::Village,
                Setting::Outpatient,
                vec![item(3_333), item(77)],
            ),
        ];
        for input in &inputs {
            for ytd in [0, 29_990_000, 190_000] {
                let a = ok(&v, input, ytd);
                assert_eq!(ok(&back, input, ytd), a);
                let a_json = serde_json::to_string(&a).unwrap();
                assert_eq!(serde_json::from_str::<Adjudication>(&a_json).unwrap(), a);
            }
        }
        let input_json = serde_json::to_string(&inputs[1]).unwrap();
        assert!(input_json.contains("\"missing_required\""), "{input_json}");
        assert_eq!(
            serde_json::from_str::<ClaimInput>(&input_json).unwrap(),
            inputs[1]
        );
    }

    // ------------------------------------------------------------ validation

    #[test]
    fn policy_validation_names_the_field() {
        let base = v2026().to_toml();
        let err = |text: String| policy_err(PolicySet::from_toml(&text).unwrap_err());
        // The resident inpatient county line of the 2026 version (unique).
        let county = "county = { ratio_bp = 8000, deductible_fen = 50000 }";
        assert!(base.contains(county), "{base}");
        let with = |line: &str| base.replacen(county, line, 1);
        let path = "schemes.resident.inpatient.levels.county";
        assert_eq!(
            err(with(
                "county = { ratio_bp = 10001, deductible_fen = 50000 }"
            )),
            format!("{path}.ratio_bp")
        );
        // A negative ratio does not fit basis points: the parser refuses it.
        assert_eq!(
            err(with("county = { ratio_bp = -1, deductible_fen = 50000 }")),
            "toml"
        );
        assert_eq!(
            err(with("county = { ratio_bp = 8000, deductible_fen = -1 }")),
            format!("{path}.deductible_fen")
        );
        // Paying the county better than the township centre is refused.
        assert_eq!(
            err(with("county = { ratio_bp = 9500, deductible_fen = 50000 }")),
            format!("{path}.ratio_bp")
        );
        // A county deductible below the township's is refused.
        assert_eq!(
            err(with("county = { ratio_bp = 8000, deductible_fen = 100 }")),
            format!("{path}.deductible_fen")
        );
        // A missing level.
        assert_eq!(err(with("")), path);
        // Unknown keys.
        assert_eq!(
            err(with(
                "county = { ratio_bp = 8000, deductible_fen = 1, x = 1 }"
            )),
            "toml"
        );
        assert_eq!(
            err(base.replace("surplus_key]", "surplus_key]\nhospital = 1")),
            "toml"
        );
        assert_eq!(err(String::new()), "version");
    }

    #[test]
    fn policy_validation_rules() {
        let check = |f: &dyn Fn(&mut PolicyVersion)| {
            let mut v = v2026();
            f(&mut v);
            policy_err(v.validate().unwrap_err())
        };
        // A county ratio above the township's (90 %) is refused.
        assert_eq!(
            check(&|v| {
                let resident = v.schemes.get_mut(&Insurance::Resident).unwrap();
                let inpatient = resident.get_mut(&Setting::Inpatient).unwrap();
                inpatient.levels.insert(
                    BenefitLevel::County,
                    LevelTerms {
                        ratio_bp: 9100,
                        deductible_fen: 50_000,
                    },
                );
            }),
            "schemes.resident.inpatient.levels.county.ratio_bp"
        );
        assert_eq!(check(&|v| v.id = "  ".into()), "id");
        assert_eq!(check(&|v| v.id = "x".repeat(65)), "id");
        assert_eq!(check(&|v| v.region = "14059".into()), "region");
        assert_eq!(check(&|v| v.region = "14059a".into()), "region");
        assert_eq!(check(&|v| v.valid_to = d(2025, 12, 31)), "valid_to");
        assert_eq!(
            check(&|v| v.missing_referral_penalty_bp = 10_001),
            "missing_referral_penalty_bp"
        );
        assert_eq!(
            check(&|v| {
                v.capitation_per_capita_fen.insert(Insurance::Resident, -1);
            }),
            "capitation_per_capita_fen.resident"
        );
        assert_eq!(
            check(&|v| {
                v.capitation_per_capita_fen.remove(&Insurance::Employee);
            }),
            "capitation_per_capita_fen.employee"
        );
        assert_eq!(
            check(&|v| {
                v.schemes.remove(&Insurance::Employee);
            }),
            "schemes.employee"
        );
        assert_eq!(
            check(&|v| {
                let s = v.schemes[&Insurance::Resident].clone();
                v.schemes.insert(Insurance::Uninsured, s);
            }),
            "schemes.none"
        );
        assert_eq!(
            check(&|v| {
                v.schemes
                    .get_mut(&Insurance::Resident)
                    .unwrap()
                    .remove(&Setting::Outpatient);
            }),
            "schemes.resident.outpatient"
        );
        assert_eq!(
            check(&|v| {
                v.schemes
                    .get_mut(&Insurance::Employee)
                    .unwrap()
                    .get_mut(&Setting::Inpatient)
                    .unwrap()
                    .yearly_cap_fen = -1;
            }),
            "schemes.employee.inpatient.yearly_cap_fen"
        );
        assert_eq!(
            check(&|v| {
                v.surplus_key.weights.insert(BenefitLevel::City, 1);
            }),
            "surplus_key"
        );
        assert_eq!(
            check(&|v| {
                v.surplus_key.weights.insert(BenefitLevel::City, 10_001);
            }),
            "surplus_key.city"
        );
        // A ratio of exactly 100 % and a penalty of 100 % are allowed.
        let mut v = v2026();
        v.missing_referral_penalty_bp = FULL_BP;
        for scheme in SCHEMES {
            for terms in v.schemes.get_mut(&scheme).unwrap().values_mut() {
                terms
                    .levels
                    .get_mut(&BenefitLevel::Village)
                    .unwrap()
                    .ratio_bp = FULL_BP;
            }
        }
        v.validate().unwrap();
        // Every error explains itself in both languages.
        let e = v2026();
        let mut bad = e.clone();
        bad.valid_to = d(2020, 1, 1);
        let e = bad.validate().unwrap_err();
        assert!(e.message_zh().contains("valid_to") && e.message_zh().contains("早于"));
        assert!(e.message_en().contains("valid_to"));
    }

    #[test]
    fn overlapping_versions_are_refused() {
        let set = shipped();
        let mut new = v2026();
        new.id = "2026-县域-v2".into();
        // Overlaps 2026 by one day.
        new.valid_from = d(2026, 12, 31);
        new.valid_to = d(2027, 12, 31);
        let e = validate_new_version(&set.versions, &new).unwrap_err();
        assert_eq!(policy_err(e.clone()), "valid_from");
        assert!(e.message_zh().contains("重叠"), "{}", e.message_zh());
        // The day after is fine.
        new.valid_from = d(2027, 1, 1);
        validate_new_version(&set.versions, &new).unwrap();
        // The same id is refused.
        new.id = set.versions[0].id.clone();
        assert_eq!(
            policy_err(validate_new_version(&set.versions, &new).unwrap_err()),
            "id"
        );
        // Another region may overlap in time.
        new.id = "2026-other".into();
        new.region = "140581".into();
        new.valid_from = d(2026, 3, 1);
        validate_new_version(&set.versions, &new).unwrap();
        // An invalid new version is refused before the overlap check.
        new.valid_to = d(2020, 1, 1);
        assert_eq!(
            policy_err(validate_new_version(&set.versions, &new).unwrap_err()),
            "valid_to"
        );
        // In the file as well.
        let mut twice = set.clone();
        let mut copy = v2026();
        copy.id = "copy".into();
        twice.versions.push(copy);
        assert_eq!(
            policy_err(PolicySet::from_toml(&twice.to_toml()).unwrap_err()),
            "valid_from"
        );
    }

    #[test]
    fn in_force_boundaries() {
        let set = shipped();
        let id = |date| set.in_force(COUNTY, date).map(|v| v.id.clone());
        let (v25, v26) = (id(d(2025, 6, 1)).unwrap(), id(d(2026, 6, 1)).unwrap());
        assert_eq!(id(d(2025, 1, 1)).unwrap(), v25);
        assert_eq!(id(d(2025, 12, 31)).unwrap(), v25);
        assert_eq!(id(d(2026, 1, 1)).unwrap(), v26);
        assert_eq!(id(d(2026, 12, 31)).unwrap(), v26);
        for date in [d(2027, 1, 1), d(2024, 12, 31)] {
            let e = id(date).unwrap_err();
            assert_eq!(e, InsuranceError::NoPolicyInForce { date });
            assert_eq!(e.code(), "no_policy_in_force");
            assert!(e.message_zh().contains(&date.to_string()));
            assert!(e.message_en().contains(&date.to_string()));
        }
        // A region code matches by prefix: townships and villages of the county.
        assert!(set.in_force("140599101", d(2026, 6, 1)).is_ok());
        assert!(set.in_force("140599101203", d(2026, 6, 1)).is_ok());
        assert!(set.in_force("140598", d(2026, 6, 1)).is_err());
        assert!(set.in_force("1405", d(2026, 6, 1)).is_err());
        assert!(set.in_force("", d(2026, 6, 1)).is_err());
        // The most specific prefix wins.
        let mut versions = set.versions.clone();
        let mut province = v2026();
        province.id = "province".into();
        province.region = "14".into();
        validate_new_version(&versions, &province).unwrap();
        versions.insert(0, province);
        let pick = |code| {
            policy_in_force(&versions, code, d(2026, 6, 1))
                .unwrap()
                .id
                .clone()
        };
        assert_eq!(pick("140599001"), v26);
        assert_eq!(pick("140581001"), "province");
    }

    // ------------------------------------------------------------ adjudication

    /// Boundary cases with the shipped 2026 numbers (resident scheme).
    #[test]
    fn deductible_and_ratio_boundaries() {
        use BenefitLevel as B;
        let p = v2026();
        // (level, covered fen, deductible applied, fund)
        let table = [
            // County inpatient: deductible 500 yuan, ratio 80 %.
            (B::County, 0, 0, 0),
            (B::County, 49_999, 49_999, 0),
            (B::County, 50_000, 50_000, 0),
            (B::County, 50_001, 50_000, 1), // 0.8 fen rounds up
            (B::County, 60_000, 50_000, 8_000),
            // Out of region: deductible 1500 yuan, ratio 55 %.
            (B::OutOfRegion, 150_001, 150_000, 1), // 0.55 fen rounds up
            (B::OutOfRegion, 150_100, 150_000, 55),
            (B::OutOfRegion, 160_000, 150_000, 5_500),
            // Tertiary: 1200 yuan, 60 %.
            (B::Tertiary, 1_120_000, 120_000, 600_000),
            // Village: no deductible, 90 %.
            (B::Village, 1, 0, 1),
            (B::Village, 100_000, 0, 90_000),
        ];
        for (level, covered, deductible, fund) in table {
            let a = ok(&p, &inpatient(level, covered), 0);
            assert_eq!(
                (a.deductible_fen, a.fund_fen, a.resident_fen),
                (deductible, fund, covered - fund),
                "{level} {covered}"
            );
            assert_eq!(a.capped_fen, 0);
            assert_eq!(codes(&a), [rule::DEDUCTIBLE, rule::RATIO]);
            assert_eq!(a.policy_id, p.id);
        }
        // Outpatient at the tertiary level: 40 %, no deductible; 1 fen × 40 %
        // rounds down.
        let a = ok(
            &p,
            &claim(B::Tertiary, Setting::Outpatient, vec![item(1)]),
            0,
        );
        assert_eq!((a.ratio_bp, a.fund_fen, a.resident_fen), (4000, 0, 1));
        let a = ok(
            &p,
            &claim(B::Tertiary, Setting::Outpatient, vec![item(10_000)]),
            0,
        );
        assert_eq!(a.fund_fen, 4_000);
        // The explanation quotes the amounts in yuan.
        let a = ok(&p, &inpatient(B::County, 60_000), 0);
        assert!(a.rules[0].zh.contains("500.00"), "{}", a.rules[0].zh);
        assert!(a.rules[1].zh.contains("80.00"), "{}", a.rules[1].zh);
        assert!(a.rules[1].en.contains("80%"), "{}", a.rules[1].en);
    }

    #[test]
    fn yearly_cap() {
        let p = v2026();
        let cap = 30_000_000; // 30万 resident inpatient
        let input = inpatient(BenefitLevel::Village, 100_000); // fund 900 yuan
        // (ytd, fund, capped)
        for (ytd, fund, capped) in [
            (0, 90_000, 0),
            (cap - 90_000, 90_000, 0),
            (cap - 90_000 + 1, 89_999, 1),
            (cap - 1, 1, 89_999),
            (cap, 0, 90_000),
            (cap + 5_000, 0, 90_000),
        ] {
            let a = ok(&p, &input, ytd);
            assert_eq!((a.fund_fen, a.capped_fen), (fund, capped), "ytd {ytd}");
            assert_eq!(a.resident_fen, 100_000 - fund);
            assert_eq!(codes(&a).contains(&rule::YEARLY_CAP), capped > 0);
        }
        // The outpatient cap is separate (2000 yuan).
        let out = claim(
            BenefitLevel::Village,
            Setting::Outpatient,
            vec![item(100_000)],
        );
        let a = ok(&p, &out, 199_000);
        assert_eq!((a.fund_fen, a.capped_fen), (1_000, 59_000));
    }

    #[test]
    fn referral_linked_benefits() {
        use ReferralContext as R;
        let p = v2026();
        let base = inpatient(BenefitLevel::County, 1_050_000); // 10500 yuan
        let with = |r| {
            ok(
                &p,
                &ClaimInput {
                    referral: r,
                    ..base.clone()
                },
                0,
            )
        };
        // Self-referred: deductible 500, 80 % of 10000 = 8000 yuan.
        let none = with(R::None);
        assert_eq!(
            (none.deductible_fen, none.ratio_bp, none.fund_fen),
            (50_000, 8000, 800_000)
        );
        // Referred within the consortium: no second deductible.
        let inc = with(R::ReferredInConsortium);
        assert_eq!((inc.deductible_fen, inc.fund_fen), (0, 840_000));
        assert_eq!(
            codes(&inc),
            [rule::DEDUCTIBLE_WAIVED_IN_CONSORTIUM, rule::RATIO]
        );
        assert!(inc.rules[0].zh.contains("二次起付线"));
        // Downward continuation: no deductible either.
        let down = with(R::DownwardContinuation);
        assert_eq!((down.deductible_fen, down.fund_fen), (0, 840_000));
        assert_eq!(
            codes(&down),
            [rule::CONTINUATION_NO_DEDUCTIBLE, rule::RATIO]
        );
        // Approved referral outside the consortium: the normal ratio.
        let out = with(R::ReferredOutside);
        assert_eq!(
            (out.deductible_fen, out.ratio_bp, out.fund_fen),
            (50_000, 8000, 800_000)
        );
        assert_eq!(
            codes(&out),
            [
                rule::DEDUCTIBLE,
                rule::APPROVED_REFERRAL_NORMAL_RATIO,
                rule::RATIO
            ]
        );
        // Without a required referral: 10 points less.
        let miss = with(R::MissingRequired);
        assert_eq!((miss.ratio_bp, miss.fund_fen), (7000, 700_000));
        assert_eq!(
            codes(&miss),
            [
                rule::DEDUCTIBLE,
                rule::MISSING_REFERRAL_PENALTY,
                rule::RATIO
            ]
        );
        assert!(
            miss.rules[1].zh.contains("10 个百分点"),
            "{}",
            miss.rules[1].zh
        );
        assert!(
            miss.rules[1].en.contains("80% → 70%"),
            "{}",
            miss.rules[1].en
        );
        // A penalty bigger than the ratio floors at 0.
        let mut harsh = p.clone();
        harsh.missing_referral_penalty_bp = 9_000;
        let a = ok(
            &harsh,
            &ClaimInput {
                referral: R::MissingRequired,
                ..base.clone()
            },
            0,
        );
        assert_eq!((a.ratio_bp, a.fund_fen, a.resident_fen), (0, 0, 1_050_000));
    }

    #[test]
    fn uncovered_items_and_the_uninsured() {
        let p = v2026();
        let mut input = inpatient(BenefitLevel::Primary, 120_000);
        input.items.push(CostItem {
            category: CostCategory::Drugs,
            amount_fen: 33_333,
            covered: false,
        });
        input.items.push(CostItem {
            category: CostCategory::Beds,
            amount_fen: 0,
            covered: true,
        });
        let a = ok(&p, &input, 0);
        // Primary: deductible 200 yuan, 90 % of 1000 yuan.
        assert_eq!(
            (a.total_fen, a.covered_fen, a.uncovered_fen),
            (153_333, 120_000, 33_333)
        );
        assert_eq!((a.fund_fen, a.resident_fen), (90_000, 63_333));
        assert_eq!(
            codes(&a),
            [rule::UNCOVERED_ITEMS, rule::DEDUCTIBLE, rule::RATIO]
        );
        // Only uncovered items: the fund pays nothing.
        let only = claim(
            BenefitLevel::Village,
            Setting::Outpatient,
            vec![CostItem {
                covered: false,
                ..item(5_000)
            }],
        );
        let a = ok(&p, &only, 0);
        assert_eq!((a.fund_fen, a.resident_fen), (0, 5_000));
        // The uninsured pay everything.
        let a = ok(
            &p,
            &ClaimInput {
                scheme: Insurance::Uninsured,
                ..input.clone()
            },
            0,
        );
        assert_eq!((a.fund_fen, a.resident_fen), (0, 153_333));
        assert_eq!(codes(&a), [rule::UNCOVERED_ITEMS, rule::UNINSURED]);
        // The employee scheme has its own terms.
        let a = ok(
            &p,
            &ClaimInput {
                scheme: Insurance::Employee,
                ..input
            },
            0,
        );
        let t = p
            .terms(
                Insurance::Employee,
                Setting::Inpatient,
                BenefitLevel::Primary,
            )
            .unwrap();
        assert_eq!(a.fund_fen, share_of(120_000 - t.deductible_fen, t.ratio_bp));
    }

    #[test]
    fn invalid_claims() {
        let p = v2026();
        let ytd = YearToDate::default();
        let field = |r: Result<Adjudication, InsuranceError>| match r.unwrap_err() {
            InsuranceError::InvalidClaim { field, .. } => field,
            e => panic!("{e:?}"),
        };
        let mut input = inpatient(BenefitLevel::County, 1);
        input.items.clear();
        assert_eq!(field(adjudicate(&p, &input, &ytd)), "items");
        let input = claim(
            BenefitLevel::County,
            Setting::Inpatient,
            vec![item(5), item(-1)],
        );
        assert_eq!(field(adjudicate(&p, &input, &ytd)), "items[1].amount_fen");
        let input = claim(
            BenefitLevel::County,
            Setting::Inpatient,
            vec![item(i64::MAX), item(1)],
        );
        assert_eq!(field(adjudicate(&p, &input, &ytd)), "items");
        let input = inpatient(BenefitLevel::County, 1);
        let neg = YearToDate { fund_paid_fen: -1 };
        let e = adjudicate(&p, &input, &neg).unwrap_err();
        assert_eq!(e.code(), "invalid_claim");
        assert!(e.message_zh().contains("ytd.fund_paid_fen"));
        // Outside the version's period.
        let late = ClaimInput {
            date: d(2027, 1, 1),
            ..input.clone()
        };
        assert_eq!(
            adjudicate(&p, &late, &ytd).unwrap_err(),
            InsuranceError::NoPolicyInForce {
                date: d(2027, 1, 1)
            }
        );
        // An invalid policy is refused, never used.
        let mut bad = p.clone();
        bad.missing_referral_penalty_bp = 20_000;
        assert_eq!(
            adjudicate(&bad, &input, &ytd).unwrap_err().code(),
            "invalid_policy"
        );
    }

    /// Random policies, encounters and year-to-date payments: the shares
    /// always add up, are never negative, and the fund stays within the cap.
    #[test]
    fn adjudication_invariants_hold_for_random_claims() {
        let mut rng = ChaCha8Rng::seed_from_u64(20_260_101);
        let mut below = |n: u64| rng.next_u64() % n;
        let shipped = v2026();
        for round in 0..4_000 {
            let policy = if round % 2 == 0 {
                shipped.clone()
            } else {
                random_policy(&mut below)
            };
            let pick = |i: u64, n: usize| i as usize % n;
            let schemes = [
                Insurance::Employee,
                Insurance::Resident,
                Insurance::Uninsured,
            ];
            let n_items = 1 + below(6);
            let items = (0..n_items)
                .map(|_| CostItem {
                    category: CostCategory::ALL[pick(below(5), 5)],
                    amount_fen: match below(10) {
                        0 => 0,
                        1 => below(1_000_000_000_000),
                        _ => below(5_000_000),
                    } as i64,
                    covered: below(4) != 0,
                })
                .collect();
            let input = ClaimInput {
                scheme: schemes[pick(below(3), 3)],
                setting: Setting::ALL[pick(below(2), 2)],
                level: BenefitLevel::ALL[pick(below(6), 6)],
                date: d(2026, 1 + below(12) as u32, 1 + below(28) as u32),
                items,
                referral: ReferralContext::ALL[pick(below(5), 5)],
            };
            let cap = policy
                .setting_terms(Insurance::Resident, input.setting)
                .unwrap()
                .yearly_cap_fen;
            let ytd_fen = match below(4) {
                0 => 0,
                1 => cap,
                _ => below(cap as u64 + 100_000) as i64,
            };
            let a = ok(&policy, &input, ytd_fen);
            let total: i64 = input.items.iter().map(|i| i.amount_fen).sum();
            assert_eq!(a.total_fen, total);
            assert_eq!(a.covered_fen + a.uncovered_fen, total);
            assert!(a.fund_fen <= a.covered_fen - a.deductible_fen);
            assert!(a.deductible_fen >= 0 && a.deductible_fen <= a.covered_fen);
            assert!(a.capped_fen >= 0);
            assert!(a.ratio_bp <= FULL_BP);
            if let Some(s) = policy.setting_terms(input.scheme, input.setting) {
                assert!(a.fund_fen <= (s.yearly_cap_fen - ytd_fen).max(0));
            } else {
                assert_eq!(a.fund_fen, 0);
            }
            assert!(!a.rules.is_empty());
            // Reproducible.
            assert_eq!(ok(&policy, &input, ytd_fen), a);
        }
    }

    /// A valid policy with random numbers favouring primary care.
    fn random_policy(below: &mut impl FnMut(u64) -> u64) -> PolicyVersion {
        let mut v = v2026();
        v.missing_referral_penalty_bp = below(10_001) as u32;
        for scheme in SCHEMES {
            for terms in v.schemes.get_mut(&scheme).unwrap().values_mut() {
                terms.yearly_cap_fen = below(50_000_000) as i64;
                let mut ratios: Vec<u32> = (0..6).map(|_| below(10_001) as u32).collect();
                let mut deds: Vec<i64> = (0..6).map(|_| below(300_000) as i64).collect();
                ratios.sort_unstable_by(|a, b| b.cmp(a));
                deds.sort_unstable();
                for (i, level) in BenefitLevel::ALL.iter().enumerate() {
                    terms.levels.insert(
                        *level,
                        LevelTerms {
                            ratio_bp: ratios[i],
                            deductible_fen: deds[i],
                        },
                    );
                }
            }
        }
        v.validate().unwrap();
        v
    }

    // ------------------------------------------------------------ capitation

    #[test]
    fn capitation_budget_is_per_capita_times_residents() {
        assert_eq!(capitation_budget(50_000, 12_000), 600_000_000);
        assert_eq!(capitation_budget(50_000, 0), 0);
        assert_eq!(capitation_budget(-1, 10), 0);
        assert_eq!(capitation_budget(10, -1), 0);
        assert_eq!(capitation_budget(i64::MAX, 2), i64::MAX);
    }

    #[test]
    fn forecast_projects_linearly() {
        let budget = 1_200_000;
        // On track: 100,000 a month.
        let f = forecast_year_end(budget, &[100_000; 3], 3);
        assert_eq!(
            f,
            Forecast {
                spent_fen: 300_000,
                projected_fen: 1_200_000,
                projected_balance_fen: 0,
                burn_rate_bp: 10_000,
            }
        );
        // Running 20 % ahead; entries past the months elapsed are ignored.
        let f = forecast_year_end(budget, &[120_000, 120_000, 999_999], 2);
        assert_eq!(
            (
                f.spent_fen,
                f.projected_fen,
                f.projected_balance_fen,
                f.burn_rate_bp
            ),
            (240_000, 1_440_000, -240_000, 12_000)
        );
        // Rounded half up: 100 over 7 months → 100 × 12 / 7 = 171.43 → 171.
        let f = forecast_year_end(1_000, &[100], 7);
        assert_eq!(f.projected_fen, 171);
        // 1,000 / (1,000 × 7 / 12) = 1.7142… → 17,143 bp.
        let f = forecast_year_end(1_000, &[1_000], 7);
        assert_eq!(f.burn_rate_bp, 17_143);
        // Nothing elapsed; more than 12 months; a zero budget.
        assert_eq!(forecast_year_end(500, &[10], 0).projected_fen, 0);
        assert_eq!(forecast_year_end(500, &[10; 14], 14).projected_fen, 120);
        assert_eq!(forecast_year_end(0, &[1], 1).burn_rate_bp, u32::MAX);
        assert_eq!(forecast_year_end(0, &[0], 1).burn_rate_bp, 0);
        // Huge numbers saturate instead of overflowing.
        let f = forecast_year_end(1, &[i64::MAX; 12], 1);
        assert_eq!(f.projected_fen, i64::MAX);
        assert_eq!(f.burn_rate_bp, u32::MAX);
    }

    fn members() -> Vec<(i64, BenefitLevel)> {
        use BenefitLevel as B;
        vec![
            (1, B::County),
            (2, B::Primary),
            (3, B::Primary),
            (4, B::Village),
            (5, B::Village),
            (6, B::Village),
        ]
    }

    #[test]
    fn surplus_is_kept_and_shared_by_the_key() {
        let key = v2026().surplus_key;
        let s = settle(600_000_000, 540_000_001, &members(), &key);
        assert_eq!(s.surplus_fen, 59_999_999);
        assert_eq!((s.overrun_fen, s.fund_pays_fen), (0, 540_000_001));
        let parts: Vec<i64> = s.distribution.iter().map(|(_, f)| *f).collect();
        assert_eq!(parts.iter().sum::<i64>(), s.surplus_fen);
        let ids: Vec<i64> = s.distribution.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
        // County 40 %, primary 40 % between two, village 20 % among three;
        // the 5 fen left by the floors go to the largest remainders.
        assert_eq!(
            parts,
            [
                23_999_999, 12_000_000, 12_000_000, 4_000_000, 4_000_000, 4_000_000
            ]
        );
    }

    #[test]
    fn overrun_is_not_covered() {
        let key = v2026().surplus_key;
        let s = settle(600_000_000, 650_000_000, &members(), &key);
        assert_eq!(
            (s.surplus_fen, s.overrun_fen, s.fund_pays_fen),
            (0, 50_000_000, 600_000_000)
        );
        assert!(s.distribution.iter().all(|(_, f)| *f == 0));
        assert_eq!(s.distribution.len(), 6);
        // Exactly on budget.
        let s = settle(100, 100, &members(), &key);
        assert_eq!((s.surplus_fen, s.overrun_fen, s.fund_pays_fen), (0, 0, 100));
        // Negative inputs count as zero.
        let s = settle(-5, -7, &[], &key);
        assert_eq!((s.budget_fen, s.spent_fen, s.surplus_fen), (0, 0, 0));
        assert!(s.distribution.is_empty());
        // No members: the surplus is retained but not distributed.
        let s = settle(100, 40, &[], &key);
        assert_eq!(s.surplus_fen, 60);
        assert!(s.distribution.is_empty());
    }

    #[test]
    fn missing_levels_pass_their_weight_on() {
        use BenefitLevel as B;
        let key = v2026().surplus_key; // county 40, primary 40, village 20
        // No village clinic: county and primary share 50/50.
        let d = distribute_surplus(1_001, &[(1, B::County), (2, B::Primary)], &key);
        assert_eq!(d, [(1, 501), (2, 500)]);
        // Only a village clinic: it gets everything.
        assert_eq!(
            distribute_surplus(999, &[(9, B::Village)], &key),
            [(9, 999)]
        );
        // Members only at levels without weight: an even split.
        let d = distribute_surplus(10, &[(1, B::City), (2, B::Tertiary), (3, B::City)], &key);
        assert_eq!(d.iter().map(|(_, f)| f).sum::<i64>(), 10);
        assert_eq!(d, [(1, 4), (2, 3), (3, 3)]);
        // A weighted level beside unweighted members: the weighted get all.
        let d = distribute_surplus(10, &[(1, B::City), (2, B::Village)], &key);
        assert_eq!(d, [(1, 0), (2, 10)]);
    }

    #[test]
    fn settlements_add_up_for_random_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut below = |n: u64| rng.next_u64() % n;
        let key = v2026().surplus_key;
        for _ in 0..2_000 {
            let budget = below(1_000_000_000_000) as i64;
            let spent = below(1_000_000_000_000) as i64;
            let members: Vec<(i64, BenefitLevel)> = (0..below(12))
                .map(|i| (i as i64, BenefitLevel::ALL[(below(6)) as usize]))
                .collect();
            let s = settle(budget, spent, &members, &key);
            assert_eq!(s.surplus_fen - s.overrun_fen, budget - spent);
            assert!(s.surplus_fen >= 0 && s.overrun_fen >= 0);
            assert_eq!(s.fund_pays_fen, budget.min(spent));
            assert_eq!(s.fund_pays_fen + s.overrun_fen, spent);
            assert_eq!(s.distribution.len(), members.len());
            assert!(s.distribution.iter().all(|(_, f)| *f >= 0));
            if !members.is_empty() {
                let sum: i64 = s.distribution.iter().map(|(_, f)| f).sum();
                assert_eq!(sum, s.surplus_fen);
            }
        }
    }

    #[test]
    fn already_settled_explains_itself() {
        let e = InsuranceError::AlreadySettled {
            consortium_id: 3,
            period: "2026".into(),
        };
        assert_eq!(e.code(), "already_settled");
        assert!(e.message_zh().contains("2026") && e.message_zh().contains("已清算"));
        assert!(e.message_en().contains("already settled"));
    }

    #[test]
    fn toml_strings_are_escaped() {
        let s = "a\"b\\c\nd\te\u{1}县";
        let quoted = toml_string(s);
        assert_eq!(quoted, "\"a\\\"b\\\\c\\nd\\te\\u0001县\"");
        let back: BTreeMap<String, String> = toml::from_str(&format!("k = {quoted}")).unwrap();
        assert_eq!(back["k"], s);
    }

    #[test]
    fn percentages_format() {
        assert_eq!(pct(9000), "90%");
        assert_eq!(pct(6250), "62.5%");
        assert_eq!(pct(6205), "62.05%");
        assert_eq!(pct(0), "0%");
        assert_eq!(points(1000), "10");
        assert_eq!(points(250), "2.5");
    }

    #[test]
    fn referral_context_follows_level_link_and_combination() {
        use crate::referral::Direction;
        let up_in = Some(ReferralLink {
            direction: Direction::Up,
            in_consortium: true,
        });
        let up_out = Some(ReferralLink {
            direction: Direction::Up,
            in_consortium: false,
        });
        let down = Some(ReferralLink {
            direction: Direction::Down,
            in_consortium: true,
        });
        let cases = [
            (BenefitLevel::County, None, false, ReferralContext::None),
            (BenefitLevel::Primary, None, false, ReferralContext::None),
            (
                BenefitLevel::City,
                None,
                false,
                ReferralContext::MissingRequired,
            ),
            (
                BenefitLevel::Tertiary,
                None,
                false,
                ReferralContext::MissingRequired,
            ),
            (
                BenefitLevel::OutOfRegion,
                None,
                false,
                ReferralContext::MissingRequired,
            ),
            (BenefitLevel::Tertiary, None, true, ReferralContext::None),
            (
                BenefitLevel::County,
                up_in,
                false,
                ReferralContext::ReferredInConsortium,
            ),
            (
                BenefitLevel::Tertiary,
                up_out,
                false,
                ReferralContext::ReferredOutside,
            ),
            (
                BenefitLevel::Primary,
                down,
                false,
                ReferralContext::DownwardContinuation,
            ),
        ];
        for (level, link, combo, want) in cases {
            assert_eq!(
                referral_context(level, link, combo),
                want,
                "{level:?} {link:?} {combo}"
            );
        }
    }

    #[test]
    fn pooling_is_the_city_and_leakage_the_county() {
        assert_eq!(pooling("140599101201", "140599101"), (true, true));
        assert_eq!(pooling("140599101201", "1405"), (true, false));
        assert_eq!(pooling("140599101201", "140500"), (true, false));
        assert_eq!(pooling("140599101201", "140100"), (false, false));
        assert_eq!(pooling("14", "140599"), (false, false));
    }
}
