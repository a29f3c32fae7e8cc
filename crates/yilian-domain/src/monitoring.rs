//! 监测评估 — tiered-care indicators (分级诊疗指标) computed from counts per
//! scope and period, and the consortium performance scorecard (医共体绩效考核):
//! weighted dimensions of indicators, each scored by a configured rule, and
//! the ranking of scored consortia or institutions.
//!
//! Sources:
//! - seed 000 (`seeds/000_410c887fdbafdcf8.txt`, Shanxi 2023, line 24, §(二)4):
//!   "从就医和诊疗秩序、医疗卫生服务能力、医疗卫生资源利用、医保基金使用效能等
//!   方面完善以医共体为单位的绩效考核" — the four dimensions of the shipped
//!   scorecard (`config/scorecard.toml`), scored per consortium;
//! - seed 001 (`seeds/001_bc77f72059521d41.txt`, Kunming, line 89, art. 22):
//!   "建立以公益性为导向的考核评价体系,将功能定位、职责履行、社会满意度、费用
//!   控制、运行绩效、财务管理、药品使用比例等指标纳入公立医院绩效考核内容" —
//!   the fifth dimension, public-interest orientation (公益性);
//! - seed 001 art. 29 (line 113): "以强基层为重点 … 明确城市二、三级医院、县级
//!   医院、基层医疗卫生机构 … 功能定位" — care at the primary level, measured
//!   by [`TieredIndicator::PrimaryVisitShare`]; its accessibility targets
//!   ("15分钟社区健康服务可及圈") and art. 42 (line 151: "对病床使用率低于85%的
//!   公立医院,不再进行扩建") are planning indicators, which a scorecard names
//!   with `source = "plan"` ([`IndicatorRef::Plan`]);
//! - seed 004 (`seeds/004_0f7959f691cc76cf.txt`, Xinjiang 2022, line 106,
//!   §五(三)): "强化监测评估 … 通过专项调研、动态监测、定期评估等方式,及时掌握
//!   工作进展" — hence counts per month and per year ([`TieredCounts`]);
//!   §三(三) (line 74): "提升有效签约率", "糖尿病、高血压等慢病患者应签尽签"
//!   — effective contracts and coverage per key population;
//! - SPEC §2.7.
//!
//! Everything here is pure: the store fills [`TieredCounts`], the server
//! supplies the values of planning indicators; [`value`] and [`score`] only
//! compute.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{ConfigError, line_of};
use crate::resident::KeyPopulation;

// ------------------------------------------------------------------ counts

/// Contract coverage of one key population in a scope: the people in it and
/// those of them with an active family-doctor contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPopulationCount {
    pub population: KeyPopulation,
    pub people: i64,
    pub contracted: i64,
}

/// The counts behind the tiered-care indicators, which the store fills per
/// scope (county, consortium or institution) and period (a month or a year).
///
/// Every field but the median is additive ([`TieredCounts::add`]): months sum
/// to a year, institutions to a consortium.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TieredCounts {
    /// Outpatient, emergency and inpatient encounters at institutions in scope.
    pub visits: i64,
    /// Of which at primary-level institutions (基层医疗卫生机构: village
    /// clinics, township and community centers and stations; see
    /// [`crate::registry::InstitutionKind::is_primary`]).
    pub visits_primary: i64,
    /// Encounters of the scope's residents, anywhere.
    pub resident_visits: i64,
    /// Of which at institutions inside the resident's own county.
    pub resident_visits_in_county: i64,
    /// Referrals submitted in the period to a higher level (上转).
    pub referrals_up: i64,
    /// Referrals submitted in the period to a lower level (下转).
    pub referrals_down: i64,
    /// Contract coverage per key population (重点人群签约).
    pub key_populations: Vec<KeyPopulationCount>,
    /// Active family-doctor contracts.
    pub contracts_active: i64,
    /// Of which effective (有效签约: every service item on schedule, see
    /// [`crate::contract::due_by`]).
    pub contracts_effective: i64,
    /// Managed hypertension patients (enrolled in the programme).
    pub htn_patients: i64,
    /// Of which under standardized management (规范管理): follow-ups on
    /// schedule, at least 4 a year pro rata.
    pub htn_standardized: i64,
    /// Of which controlled: the last blood pressure under target.
    pub htn_controlled: i64,
    /// Managed type 2 diabetes patients.
    pub dm_patients: i64,
    /// Of which under standardized management.
    pub dm_standardized: i64,
    /// Of which controlled: the last glucose under target.
    pub dm_controlled: i64,
    /// 检查检验结果互认: earlier results used instead of a new test.
    pub recognitions: i64,
    /// Orders of a catalogued item for which an earlier result was
    /// recognisable (recognised, or repeated anyway for a listed reason): the
    /// opportunities to recognise.
    pub recognition_orders: i64,
    /// Money the recognitions saved, fen.
    pub recognition_saved_fen: i64,
    /// Remote reads (影像/心电/病理) reported in the period.
    pub remote_reads: i64,
    /// Of which reported within their turnaround limit.
    pub remote_reads_on_time: i64,
    /// Median turnaround of the reads, minutes. A median cannot be summed:
    /// [`TieredCounts::add`] keeps it only when one side has no reads, and the
    /// store recomputes it from the reads for an aggregated scope.
    pub remote_turnaround_median_min: Option<f64>,
    /// Capitation budget allotted to the period (按人头打包付费: a month's
    /// share of the year; the year's budget for a year). The budget is the
    /// consortium's: the store fills it at consortium and county scope.
    pub capitation_budget_fen: i64,
    /// Charged to the budget in the period.
    pub capitation_spent_fen: i64,
    /// Forecast spending of the period: equal to spent for a closed month,
    /// extrapolated for the current and later ones, so that a year's months
    /// sum to the year-end forecast.
    pub capitation_forecast_fen: i64,
    /// Insurance fund payments for the scope's residents at institutions in
    /// their own county, fen.
    pub fund_in_county_fen: i64,
    /// Insurance fund payments for the scope's residents, anywhere, fen.
    pub fund_total_fen: i64,
}

impl TieredCounts {
    /// Adds `other`'s counts: a year from its months, a consortium from its
    /// institutions. Key populations are matched by population. The median
    /// turnaround survives only when one side has no reads (see the field).
    pub fn add(&mut self, other: &TieredCounts) {
        // Destructured so that a new field fails to compile until it is added here.
        let TieredCounts {
            visits,
            visits_primary,
            resident_visits,
            resident_visits_in_county,
            referrals_up,
            referrals_down,
            key_populations,
            contracts_active,
            contracts_effective,
            htn_patients,
            htn_standardized,
            htn_controlled,
            dm_patients,
            dm_standardized,
            dm_controlled,
            recognitions,
            recognition_orders,
            recognition_saved_fen,
            remote_reads,
            remote_reads_on_time,
            remote_turnaround_median_min,
            capitation_budget_fen,
            capitation_spent_fen,
            capitation_forecast_fen,
            fund_in_county_fen,
            fund_total_fen,
        } = other;
        macro_rules! sum {
            ($($f:ident),+) => { $(self.$f += $f;)+ };
        }
        self.remote_turnaround_median_min = match (self.remote_reads, *remote_reads) {
            (_, 0) => self.remote_turnaround_median_min,
            (0, _) => *remote_turnaround_median_min,
            _ => None,
        };
        sum!(
            visits,
            visits_primary,
            resident_visits,
            resident_visits_in_county,
            referrals_up,
            referrals_down,
            contracts_active,
            contracts_effective,
            htn_patients,
            htn_standardized,
            htn_controlled,
            dm_patients,
            dm_standardized,
            dm_controlled,
            recognitions,
            recognition_orders,
            recognition_saved_fen,
            remote_reads,
            remote_reads_on_time,
            capitation_budget_fen,
            capitation_spent_fen,
            capitation_forecast_fen,
            fund_in_county_fen,
            fund_total_fen
        );
        for k in key_populations {
            match self
                .key_populations
                .iter_mut()
                .find(|m| m.population == k.population)
            {
                Some(m) => {
                    m.people += k.people;
                    m.contracted += k.contracted;
                }
                None => self.key_populations.push(*k),
            }
        }
        self.key_populations.sort_by_key(|k| k.population);
    }

    /// `(contracted, people)` of one key population; `(0, 0)` when absent.
    pub fn coverage(&self, population: KeyPopulation) -> (i64, i64) {
        self.key_populations
            .iter()
            .filter(|k| k.population == population)
            .fold((0, 0), |(c, p), k| (c + k.contracted, p + k.people))
    }
}

// ------------------------------------------------------------------ indicators

crate::vocabulary!(
    /// 计量单位 — the unit an indicator's value is in.
    Unit {
        Percent = "percent": "%",
        Ratio = "ratio": "比值",
        Count = "count": "次",
        Yuan = "yuan": "元",
        Minutes = "minutes": "分钟",
    }
);

crate::vocabulary!(
    /// 指标方向 — whether a higher or a lower value is better.
    Direction {
        Higher = "higher": "越高越好",
        Lower = "lower": "越低越好",
    }
);

crate::vocabulary!(
    /// 分级诊疗指标 — the tiered-care indicators (SPEC §2.7), computed from
    /// [`TieredCounts`] by [`value`]. Contract coverage has one indicator per
    /// key population, coded `contract_coverage_<population code>`.
    TieredIndicator {
        PrimaryVisitShare = "primary_visit_share": "基层诊疗量占比",
        InCountyRate = "in_county_rate": "县域内就诊率",
        ReferralsUp = "referrals_up": "上转人次",
        ReferralsDown = "referrals_down": "下转人次",
        DownUpRatio = "down_up_ratio": "下转/上转比",
        CoverageElderly65 = "contract_coverage_elderly_65": "65岁及以上老年人签约率",
        CoverageChild0To6 = "contract_coverage_child_0_6": "0-6岁儿童签约率",
        CoverageHypertension = "contract_coverage_hypertension": "高血压患者签约率",
        CoverageDiabetes = "contract_coverage_diabetes_t2": "2型糖尿病患者签约率",
        CoverageSevereMental = "contract_coverage_severe_mental": "严重精神障碍患者签约率",
        CoverageTuberculosis = "contract_coverage_tuberculosis": "肺结核患者签约率",
        CoveragePregnant = "contract_coverage_pregnant": "孕产妇签约率",
        CoverageDisabled = "contract_coverage_disabled": "残疾人签约率",
        CoveragePoverty = "contract_coverage_poverty_registered": "建档立卡人口签约率",
        EffectiveContractRate = "effective_contract_rate": "有效签约率",
        HtnStandardizedRate = "htn_standardized_rate": "高血压患者规范管理率",
        HtnControlRate = "htn_control_rate": "高血压患者血压控制率",
        DmStandardizedRate = "dm_standardized_rate": "2型糖尿病患者规范管理率",
        DmControlRate = "dm_control_rate": "2型糖尿病患者血糖控制率",
        Recognitions = "recognitions": "检查检验结果互认次数",
        RecognitionRate = "recognition_rate": "检查检验结果互认率",
        RecognitionSaved = "recognition_saved": "互认节省费用",
        RemoteReads = "remote_reads": "远程诊断例数",
        RemoteOnTimeRate = "remote_on_time_rate": "远程诊断按时报告率",
        RemoteTurnaroundMedian = "remote_turnaround_median": "远程诊断报告时长中位数",
        CapitationUse = "capitation_use": "打包付费预算使用率",
        CapitationForecastUse = "capitation_forecast_use": "打包付费预计预算使用率",
        FundInCountyShare = "fund_in_county_share": "医保基金县域内支出占比",
    }
);

/// The prefix of the contract-coverage indicators' codes.
const COVERAGE_PREFIX: &str = "contract_coverage_";

impl TieredIndicator {
    /// The key population of a contract-coverage indicator
    /// (`contract_coverage_<population code>`), else `None`.
    pub fn key_population(self) -> Option<KeyPopulation> {
        self.as_str()
            .strip_prefix(COVERAGE_PREFIX)
            .and_then(KeyPopulation::parse)
    }

    /// The unit of the value [`value`] gives.
    pub fn unit(self) -> Unit {
        self.spec().0
    }

    /// Whether a higher or a lower value is better. More upward referrals
    /// mean more care leaving the primary level (基层首诊), so fewer is better;
    /// less spent against the capitation budget is kept (结余留用) and an
    /// overrun is not covered (超支不补), so lower use is better.
    pub fn direction(self) -> Direction {
        self.spec().1
    }

    /// 指标定义 — how the indicator is computed, in Chinese.
    pub fn definition_zh(self) -> &'static str {
        self.spec().2
    }

    fn spec(self) -> (Unit, Direction, &'static str) {
        use Direction::{Higher, Lower};
        use TieredIndicator::*;
        use Unit::*;
        match self {
            PrimaryVisitShare => (
                Percent,
                Higher,
                "基层医疗卫生机构（村卫生室、乡镇卫生院、社区卫生服务中心/站）门急诊及住院人次 ÷ 范围内医疗卫生机构总人次 × 100%",
            ),
            InCountyRate => (
                Percent,
                Higher,
                "本县域居民在本县域内医疗卫生机构就诊人次 ÷ 本县域居民就诊总人次 × 100%",
            ),
            ReferralsUp => (Count, Lower, "期内提交的向上级机构转诊人次"),
            ReferralsDown => (Count, Higher, "期内提交的向下级机构转诊人次"),
            DownUpRatio => (Ratio, Higher, "下转人次 ÷ 上转人次"),
            EffectiveContractRate => (
                Percent,
                Higher,
                "服务项目均按约定进度提供的签约数 ÷ 有效期内签约数 × 100%",
            ),
            HtnStandardizedRate => (
                Percent,
                Higher,
                "按规范随访（每年不少于4次，按期折算）的高血压患者数 ÷ 管理的高血压患者数 × 100%",
            ),
            HtnControlRate => (
                Percent,
                Higher,
                "最近一次血压达标的高血压患者数 ÷ 管理的高血压患者数 × 100%",
            ),
            DmStandardizedRate => (
                Percent,
                Higher,
                "按规范随访（每年不少于4次，按期折算）的2型糖尿病患者数 ÷ 管理的2型糖尿病患者数 × 100%",
            ),
            DmControlRate => (
                Percent,
                Higher,
                "最近一次血糖达标的2型糖尿病患者数 ÷ 管理的2型糖尿病患者数 × 100%",
            ),
            Recognitions => (Count, Higher, "以既往结果代替重复检查检验的次数"),
            RecognitionRate => (
                Percent,
                Higher,
                "互认次数 ÷ 存在可互认结果的开单次数（互认 + 仍重复检查）× 100%",
            ),
            RecognitionSaved => (Yuan, Higher, "互认所免检查检验项目的费用合计（元）"),
            RemoteReads => (Count, Higher, "期内出具报告的远程影像、心电、病理诊断例数"),
            RemoteOnTimeRate => (
                Percent,
                Higher,
                "在时限内出具报告的远程诊断例数 ÷ 远程诊断例数 × 100%",
            ),
            RemoteTurnaroundMedian => (Minutes, Lower, "远程诊断自申请至报告的时长中位数（分钟）"),
            CapitationUse => (Percent, Lower, "期内计入打包预算的支出 ÷ 期内预算 × 100%"),
            CapitationForecastUse => (Percent, Lower, "期内预计支出 ÷ 期内预算 × 100%"),
            FundInCountyShare => (
                Percent,
                Higher,
                "本县域居民在县域内就医的医保基金支出 ÷ 本县域居民医保基金支出 × 100%",
            ),
            _coverage => (
                Percent,
                Higher,
                "签约家庭医生的该重点人群人数 ÷ 该重点人群人数 × 100%",
            ),
        }
    }
}

/// `(numerator, denominator)` of a ratio indicator (unit % or ratio), for
/// drill-down to the records behind the number; `None` for counts, money and
/// the median. The denominator may be 0 (then [`value`] is `None`).
pub fn fraction(ind: TieredIndicator, c: &TieredCounts) -> Option<(i64, i64)> {
    use TieredIndicator::*;
    Some(match ind {
        PrimaryVisitShare => (c.visits_primary, c.visits),
        InCountyRate => (c.resident_visits_in_county, c.resident_visits),
        DownUpRatio => (c.referrals_down, c.referrals_up),
        EffectiveContractRate => (c.contracts_effective, c.contracts_active),
        HtnStandardizedRate => (c.htn_standardized, c.htn_patients),
        HtnControlRate => (c.htn_controlled, c.htn_patients),
        DmStandardizedRate => (c.dm_standardized, c.dm_patients),
        DmControlRate => (c.dm_controlled, c.dm_patients),
        RecognitionRate => (c.recognitions, c.recognition_orders),
        RemoteOnTimeRate => (c.remote_reads_on_time, c.remote_reads),
        CapitationUse => (c.capitation_spent_fen, c.capitation_budget_fen),
        CapitationForecastUse => (c.capitation_forecast_fen, c.capitation_budget_fen),
        FundInCountyShare => (c.fund_in_county_fen, c.fund_total_fen),
        ReferralsUp
        | ReferralsDown
        | Recognitions
        | RecognitionSaved
        | RemoteReads
        | RemoteTurnaroundMedian => return None,
        coverage => c.coverage(coverage.key_population()?),
    })
}

/// The indicator's value in its [`TieredIndicator::unit`]: a ratio is
/// numerator ÷ denominator (× 100 for %), `None` when the denominator is 0;
/// money is in yuan; the median is `None` without reads.
pub fn value(ind: TieredIndicator, c: &TieredCounts) -> Option<f64> {
    use TieredIndicator::*;
    if let Some((n, d)) = fraction(ind, c) {
        let scale = if ind.unit() == Unit::Percent {
            100.0
        } else {
            1.0
        };
        return (d != 0).then(|| n as f64 * scale / d as f64);
    }
    match ind {
        ReferralsUp => Some(c.referrals_up as f64),
        ReferralsDown => Some(c.referrals_down as f64),
        Recognitions => Some(c.recognitions as f64),
        RemoteReads => Some(c.remote_reads as f64),
        RecognitionSaved => Some(c.recognition_saved_fen as f64 / 100.0),
        RemoteTurnaroundMedian => c.remote_turnaround_median_min,
        _ratio => None,
    }
}

// ------------------------------------------------------------------ scorecard

/// The error code of a refused scorecard file.
pub const SCORECARD_ERROR: &str = "invalid_scorecard";
/// The points a whole scorecard is worth.
pub const TOTAL_POINTS: f64 = 100.0;
/// Weights that differ by less than this are equal (they are decimals in a file).
const WEIGHT_EPS: f64 = 1e-6;
/// Totals that differ by less than this tie in [`rank`] (floating-point noise).
const TIE_EPS: f64 = 1e-9;

crate::vocabulary!(
    /// 指标来源 — which catalogue a scorecard indicator's code is from.
    IndicatorSource {
        Tiered = "tiered": "分级诊疗指标",
        Plan = "plan": "规划指标",
    }
);

/// An indicator a scorecard scores: a tiered-care indicator, or a planning
/// indicator by its code in the plan catalogue (checked by the server,
/// [`Scorecard::check_plan_codes`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", content = "code", rename_all = "snake_case")]
pub enum IndicatorRef {
    Tiered(TieredIndicator),
    Plan(String),
}

/// 评分规则 — how a value earns its indicator's marks (a fraction 0–1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// No marks at `zero_at`, full marks at `full_at`, linear between,
    /// clamped beyond; `full_at < zero_at` means lower is better.
    Linear { zero_at: f64, full_at: f64 },
    /// Full marks when the value reaches `at` in `direction` (at or above
    /// it when higher is better, at or below when lower), none otherwise.
    Threshold { at: f64, direction: Direction },
}

impl Rule {
    /// The fraction of the marks `value` earns, 0–1.
    pub fn marks(&self, value: f64) -> f64 {
        match *self {
            Rule::Linear { zero_at, full_at } => {
                ((value - zero_at) / (full_at - zero_at)).clamp(0.0, 1.0)
            }
            Rule::Threshold { at, direction } => {
                let reached = match direction {
                    Direction::Higher => value >= at,
                    Direction::Lower => value <= at,
                };
                if reached { 1.0 } else { 0.0 }
            }
        }
    }
}

/// One scored indicator of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredIndicator {
    pub indicator: IndicatorRef,
    /// Points it is worth.
    pub weight: f64,
    pub rule: Rule,
    /// The line of its code in the file, for faults found later (an unknown
    /// plan code).
    pub line: usize,
}

/// 考核维度 — a dimension (就医秩序, 服务能力 …) and its indicators, whose
/// weights sum to the dimension's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    pub code: String,
    pub name: String,
    /// Points it is worth; a card's dimensions sum to [`TOTAL_POINTS`].
    pub weight: f64,
    pub indicators: Vec<ScoredIndicator>,
}

/// 绩效考核方案 — a scorecard, validated ([`Scorecard::from_toml`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub name: String,
    pub dimensions: Vec<Dimension>,
}

/// A scorecard file as parsed; spans are kept to place faults on their line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    name: String,
    #[serde(default)]
    dimension: Vec<RawDimension>,
}

/// A `[[dimension]]` as parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDimension {
    code: Spanned<String>,
    name: String,
    weight: Spanned<f64>,
    #[serde(default)]
    indicator: Vec<RawIndicator>,
}

/// A `[[dimension.indicator]]` as parsed; `source` defaults to tiered.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    code: Spanned<String>,
    source: Option<IndicatorSource>,
    weight: Spanned<f64>,
    rule: Spanned<RawRule>,
}

/// A `rule = { kind = … }` as parsed; a threshold's direction is resolved
/// by `check_rule`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawRule {
    Linear {
        zero_at: f64,
        full_at: f64,
    },
    Threshold {
        at: f64,
        direction: Option<Direction>,
    },
}

/// A refusal found while validating a parsed file: the byte offset of the
/// fault (its line once placed in the text), the field and the messages.
struct Fault {
    at: Option<usize>,
    field: &'static str,
    zh: String,
    en: String,
}

impl Fault {
    fn at<T>(spanned: &Spanned<T>, field: &'static str, zh: String, en: String) -> Fault {
        Fault {
            at: Some(spanned.span().start),
            field,
            zh,
            en,
        }
    }
}

#[allow(
    clippy::result_large_err,
    reason = "ConfigError is the crate's one shape of a refused file (error.rs); refused once per load"
)]
impl Scorecard {
    /// Reads and validates a scorecard file. Refused, naming the line and
    /// field: a TOML syntax or shape fault; a duplicate dimension or
    /// indicator; an unknown tiered indicator code or an empty plan code; a
    /// weight not above 0; a rule with a non-finite bound, `zero_at ==
    /// full_at`, or a threshold without a direction for a plan indicator;
    /// indicator weights not summing to their dimension's weight (at the
    /// dimension's weight); dimension weights not summing to 100 (at the first
    /// dimension's weight).
    pub fn from_toml(file: &str, text: &str) -> Result<Scorecard, ConfigError> {
        let raw: RawCard = toml::from_str(text)
            .map_err(|e| ConfigError::from_toml(SCORECARD_ERROR, file, text, &e))?;
        validate(raw, text).map_err(|f| {
            let line = f.at.map(|at| line_of(text, at));
            ConfigError::new(SCORECARD_ERROR, file, line, f.field, f.zh, f.en)
        })
    }

    /// Every scored indicator, dimension by dimension.
    pub fn indicators(&self) -> impl Iterator<Item = &ScoredIndicator> {
        self.dimensions.iter().flat_map(|d| &d.indicators)
    }

    /// Refuses the first planning indicator whose code `known` does not
    /// accept, naming its line: the server checks plan codes against the plan
    /// catalogue, which this module does not know.
    pub fn check_plan_codes(
        &self,
        file: &str,
        known: impl Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        self.indicators()
            .find_map(|i| match &i.indicator {
                IndicatorRef::Plan(code) if !known(code) => Some(ConfigError::new(
                    SCORECARD_ERROR,
                    file,
                    Some(i.line),
                    "dimension.indicator.code",
                    format!("未知的规划指标 {code}"),
                    format!("unknown plan indicator {code:?}"),
                )),
                _ => None,
            })
            .map_or(Ok(()), Err)
    }
}

/// The checks of [`Scorecard::from_toml`] on the file `text` parsed as `raw`.
fn validate(raw: RawCard, text: &str) -> Result<Scorecard, Fault> {
    let mut dimension_codes = HashSet::new();
    let mut seen = HashSet::new();
    let first_weight = raw.dimension.first().map(|d| d.weight.span().start);
    let mut dimensions = Vec::with_capacity(raw.dimension.len());
    for d in raw.dimension {
        let code = d.code.get_ref().clone();
        if !dimension_codes.insert(code.clone()) {
            return Err(Fault::at(
                &d.code,
                "dimension.code",
                format!("维度 {code} 重复"),
                format!("dimension {code} appears twice"),
            ));
        }
        let weight = positive(&d.weight, "dimension.weight")?;
        let mut indicators = Vec::with_capacity(d.indicator.len());
        for i in d.indicator {
            let indicator = resolve(&i.code, i.source)?;
            if !seen.insert(indicator.clone()) {
                let c = i.code.get_ref();
                return Err(Fault::at(
                    &i.code,
                    "dimension.indicator.code",
                    format!("指标 {c} 重复"),
                    format!("indicator {c} appears twice"),
                ));
            }
            indicators.push(ScoredIndicator {
                weight: positive(&i.weight, "dimension.indicator.weight")?,
                rule: check_rule(&i.rule, &indicator)?,
                indicator,
                line: line_of(text, i.code.span().start),
            });
        }
        let sum: f64 = indicators.iter().map(|i| i.weight).sum();
        if (sum - weight).abs() > WEIGHT_EPS {
            return Err(Fault::at(
                &d.weight,
                "dimension.weight",
                format!("维度 {code} 的指标权重合计 {sum}，应等于维度权重 {weight}"),
                format!(
                    "the indicator weights of dimension {code} sum to {sum}, not its weight {weight}"
                ),
            ));
        }
        dimensions.push(Dimension {
            code,
            name: d.name,
            weight,
            indicators,
        });
    }
    let sum: f64 = dimensions.iter().map(|d| d.weight).sum();
    if (sum - TOTAL_POINTS).abs() > WEIGHT_EPS {
        return Err(Fault {
            at: first_weight,
            field: "dimension.weight",
            zh: format!("各维度权重合计 {sum}，应为 {TOTAL_POINTS}"),
            en: format!("the dimension weights sum to {sum}, not {TOTAL_POINTS}"),
        });
    }
    Ok(Scorecard {
        name: raw.name,
        dimensions,
    })
}

/// A weight, refused unless finite and above 0.
fn positive(w: &Spanned<f64>, field: &'static str) -> Result<f64, Fault> {
    let v = *w.get_ref();
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Fault::at(
            w,
            field,
            format!("权重应大于 0，实为 {v}"),
            format!("a weight must be above 0, got {v}"),
        ))
    }
}

/// The indicator a code names in its source (tiered by default).
fn resolve(code: &Spanned<String>, source: Option<IndicatorSource>) -> Result<IndicatorRef, Fault> {
    let c = code.get_ref().trim();
    let found = match source.unwrap_or(IndicatorSource::Tiered) {
        IndicatorSource::Tiered => TieredIndicator::parse(c).map(IndicatorRef::Tiered),
        IndicatorSource::Plan => (!c.is_empty()).then(|| IndicatorRef::Plan(c.to_string())),
    };
    found.ok_or_else(|| {
        Fault::at(
            code,
            "dimension.indicator.code",
            format!("未知的分级诊疗指标 {c:?}（规划指标请写 source = \"plan\"）"),
            format!("unknown tiered indicator {c:?} (for a plan indicator set source = \"plan\")"),
        )
    })
}

/// A rule, checked: finite bounds, a linear rule of non-zero width, and a
/// threshold's direction (the tiered indicator's own unless stated; a plan
/// indicator's must be stated).
fn check_rule(rule: &Spanned<RawRule>, indicator: &IndicatorRef) -> Result<Rule, Fault> {
    let refuse = |zh: &str, en: &str| {
        Fault::at(
            rule,
            "dimension.indicator.rule",
            zh.to_string(),
            en.to_string(),
        )
    };
    match *rule.get_ref() {
        RawRule::Linear { zero_at, full_at } => {
            if !(zero_at.is_finite() && full_at.is_finite()) {
                Err(refuse(
                    "zero_at 与 full_at 须为有限数",
                    "zero_at and full_at must be finite",
                ))
            } else if zero_at == full_at {
                Err(refuse(
                    "zero_at 与 full_at 相等，无法线性计分",
                    "zero_at equals full_at: the linear rule has no width",
                ))
            } else {
                Ok(Rule::Linear { zero_at, full_at })
            }
        }
        RawRule::Threshold { at, direction } => {
            let own = match indicator {
                IndicatorRef::Tiered(t) => Some(t.direction()),
                IndicatorRef::Plan(_) => None,
            };
            match direction.or(own) {
                _ if !at.is_finite() => Err(refuse("at 须为有限数", "at must be finite")),
                Some(direction) => Ok(Rule::Threshold { at, direction }),
                None => Err(refuse(
                    "规划指标的阈值规则须写 direction = \"higher\" 或 \"lower\"",
                    "a threshold on a plan indicator needs direction = \"higher\" or \"lower\"",
                )),
            }
        }
    }
}

// ------------------------------------------------------------------ scoring

/// One indicator's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorScore {
    pub indicator: IndicatorRef,
    /// Points it is worth.
    pub weight: f64,
    /// The value scored; `None` when missing.
    pub value: Option<f64>,
    /// Fraction of the marks earned, 0–1.
    pub fraction: f64,
    /// `weight × fraction`.
    pub points: f64,
    /// No value: scored 0.
    pub missing: bool,
}

/// One dimension's score: the sum of its indicators'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionScore {
    pub code: String,
    pub name: String,
    pub weight: f64,
    /// `points ÷ weight`, 0–1.
    pub fraction: f64,
    pub points: f64,
    pub indicators: Vec<IndicatorScore>,
}

/// 考核得分 — a scorecard scored for one consortium or institution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSheet {
    pub name: String,
    pub dimensions: Vec<DimensionScore>,
    /// Out of [`TOTAL_POINTS`].
    pub total: f64,
}

/// Scores `card` with `values` (the caller's lookup: [`value`] for tiered
/// indicators, the plan's actual values for planning ones). A missing or
/// non-finite value earns 0 and is flagged `missing`.
pub fn score(card: &Scorecard, values: &dyn Fn(&IndicatorRef) -> Option<f64>) -> ScoreSheet {
    let dimensions: Vec<DimensionScore> = card
        .dimensions
        .iter()
        .map(|d| {
            let indicators: Vec<IndicatorScore> = d
                .indicators
                .iter()
                .map(|i| {
                    let value = values(&i.indicator).filter(|v| v.is_finite());
                    let fraction = value.map_or(0.0, |v| i.rule.marks(v));
                    IndicatorScore {
                        indicator: i.indicator.clone(),
                        weight: i.weight,
                        value,
                        fraction,
                        points: i.weight * fraction,
                        missing: value.is_none(),
                    }
                })
                .collect();
            let points: f64 = indicators.iter().map(|i| i.points).sum();
            DimensionScore {
                code: d.code.clone(),
                name: d.name.clone(),
                weight: d.weight,
                fraction: points / d.weight,
                points,
                indicators,
            }
        })
        .collect();
    ScoreSheet {
        name: card.name.clone(),
        total: dimensions.iter().map(|d| d.points).sum(),
        dimensions,
    }
}

/// 排名 — competition ranking by total, highest first: equal totals share a
/// rank and the next rank skips (1, 2, 2, 4). Totals within floating-point
/// noise are equal; ties keep the input order.
pub fn rank<K: Clone>(sheets: &[(K, f64)]) -> Vec<(K, f64, u32)> {
    let mut order: Vec<&(K, f64)> = sheets.iter().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut ranked = Vec::with_capacity(order.len());
    let mut holder: Option<(f64, u32)> = None;
    for (i, (k, total)) in order.into_iter().enumerate() {
        let r = match holder {
            Some((t, r)) if (t - total).abs() < TIE_EPS => r,
            _ => {
                let r = i as u32 + 1;
                holder = Some((*total, r));
                r
            }
        };
        ranked.push((k.clone(), *total, r));
    }
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use TieredIndicator::*;

    const SHIPPED: &str = include_str!("../../../config/scorecard.toml");

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn kp(population: KeyPopulation, people: i64, contracted: i64) -> KeyPopulationCount {
        KeyPopulationCount {
            population,
            people,
            contracted,
        }
    }

    /// A consortium's year, every number chosen so the indicators are exact.
    fn consortium() -> TieredCounts {
        TieredCounts {
            visits: 10_000,
            visits_primary: 5_250,
            resident_visits: 8_000,
            resident_visits_in_county: 7_000,
            referrals_up: 200,
            referrals_down: 80,
            key_populations: vec![
                kp(KeyPopulation::Elderly65, 2_000, 1_100),
                kp(KeyPopulation::Hypertension, 1_000, 900),
                kp(KeyPopulation::Diabetes, 400, 356),
            ],
            contracts_active: 1_000,
            contracts_effective: 700,
            htn_patients: 1_000,
            htn_standardized: 650,
            htn_controlled: 550,
            dm_patients: 400,
            dm_standardized: 360,
            dm_controlled: 140,
            recognitions: 140,
            recognition_orders: 200,
            recognition_saved_fen: 1_234_550,
            remote_reads: 400,
            remote_reads_on_time: 380,
            remote_turnaround_median_min: Some(105.0),
            capitation_budget_fen: 10_000_000,
            capitation_spent_fen: 10_000_000,
            capitation_forecast_fen: 10_200_000,
            fund_in_county_fen: 8_000_000,
            fund_total_fen: 10_000_000,
        }
    }

    #[test]
    fn every_indicator_on_hand_made_counts() {
        let expected: &[(TieredIndicator, Option<f64>)] = &[
            (PrimaryVisitShare, Some(52.5)), // 5250 / 10000
            (InCountyRate, Some(87.5)),      // 7000 / 8000
            (ReferralsUp, Some(200.0)),
            (ReferralsDown, Some(80.0)),
            (DownUpRatio, Some(0.4)),           // 80 / 200
            (CoverageElderly65, Some(55.0)),    // 1100 / 2000
            (CoverageChild0To6, None),          // no children counted: 0 / 0
            (CoverageHypertension, Some(90.0)), // 900 / 1000
            (CoverageDiabetes, Some(89.0)),     // 356 / 400
            (CoverageSevereMental, None),
            (CoverageTuberculosis, None),
            (CoveragePregnant, None),
            (CoverageDisabled, None),
            (CoveragePoverty, None),
            (EffectiveContractRate, Some(70.0)), // 700 / 1000
            (HtnStandardizedRate, Some(65.0)),   // 650 / 1000
            (HtnControlRate, Some(55.0)),        // 550 / 1000
            (DmStandardizedRate, Some(90.0)),    // 360 / 400
            (DmControlRate, Some(35.0)),         // 140 / 400
            (Recognitions, Some(140.0)),
            (RecognitionRate, Some(70.0)),      // 140 / 200
            (RecognitionSaved, Some(12_345.5)), // 1 234 550 fen
            (RemoteReads, Some(400.0)),
            (RemoteOnTimeRate, Some(95.0)), // 380 / 400
            (RemoteTurnaroundMedian, Some(105.0)),
            (CapitationUse, Some(100.0)), // 10 000 000 / 10 000 000
            (CapitationForecastUse, Some(102.0)), // 10 200 000 / 10 000 000
            (FundInCountyShare, Some(80.0)), // 8 000 000 / 10 000 000
        ];
        assert_eq!(expected.len(), TieredIndicator::ALL.len());
        let c = consortium();
        for (ind, want) in expected {
            let got = value(*ind, &c);
            match (got, want) {
                (Some(g), Some(w)) => assert!(close(g, *w), "{ind}: {g} ≠ {w}"),
                _ => assert_eq!(got, *want, "{ind}"),
            }
        }
        assert_eq!(fraction(PrimaryVisitShare, &c), Some((5_250, 10_000)));
        assert_eq!(fraction(CoverageDiabetes, &c), Some((356, 400)));
        assert_eq!(fraction(CoveragePregnant, &c), Some((0, 0)));
        assert_eq!(fraction(RemoteTurnaroundMedian, &c), None);
    }

    #[test]
    fn ratios_have_fractions_and_a_zero_denominator_gives_no_value() {
        let empty = TieredCounts::default();
        for ind in TieredIndicator::ALL {
            let ratio = matches!(ind.unit(), Unit::Percent | Unit::Ratio);
            assert_eq!(fraction(*ind, &empty).is_some(), ratio, "{ind}");
            // Counts are 0 without data; ratios and the median have no value.
            assert_eq!(
                value(*ind, &empty).is_some(),
                !ratio && *ind != RemoteTurnaroundMedian
            );
            assert!(!ind.definition_zh().is_empty());
        }
        assert_eq!(CapitationUse.direction(), Direction::Lower);
        assert_eq!(RemoteTurnaroundMedian.direction(), Direction::Lower);
        assert_eq!(FundInCountyShare.direction(), Direction::Higher);
    }

    #[test]
    fn one_coverage_indicator_per_key_population() {
        for p in KeyPopulation::ALL {
            let with: Vec<_> = TieredIndicator::ALL
                .iter()
                .filter(|i| i.key_population() == Some(*p))
                .collect();
            assert_eq!(with.len(), 1, "{p}");
            assert_eq!(with[0].as_str(), format!("contract_coverage_{p}"));
        }
        assert_eq!(PrimaryVisitShare.key_population(), None);
    }

    #[test]
    fn add_sums_months_and_institutions() {
        let mut year = TieredCounts::default();
        year.add(&consortium());
        assert_eq!(
            year,
            consortium(),
            "adding to nothing keeps everything, the median too"
        );

        let mut other = consortium();
        other.key_populations = vec![
            kp(KeyPopulation::Pregnant, 50, 45),
            kp(KeyPopulation::Elderly65, 100, 60),
        ];
        year.add(&other);
        assert_eq!(year.visits, 20_000);
        assert_eq!(year.visits_primary, 10_500);
        assert_eq!(year.referrals_down, 160);
        assert_eq!(year.dm_controlled, 280);
        assert_eq!(year.recognition_saved_fen, 2_469_100);
        assert_eq!(year.capitation_forecast_fen, 20_400_000);
        assert_eq!(year.fund_total_fen, 20_000_000);
        assert_eq!(year.coverage(KeyPopulation::Elderly65), (1_160, 2_100));
        assert_eq!(year.coverage(KeyPopulation::Pregnant), (45, 50));
        assert_eq!(year.coverage(KeyPopulation::Diabetes), (356, 400));
        let order: Vec<_> = year.key_populations.iter().map(|k| k.population).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(year.key_populations.len(), 4);
        // Two sides with reads: the median is recomputed by the store.
        assert_eq!(year.remote_turnaround_median_min, None);
        // A side without reads leaves the other's median.
        let mut kept = consortium();
        kept.add(&TieredCounts {
            visits: 1,
            remote_turnaround_median_min: Some(999.0),
            ..TieredCounts::default()
        });
        assert_eq!(kept.remote_turnaround_median_min, Some(105.0));
        assert_eq!(kept.visits, 10_001);
    }

    #[test]
    fn linear_rule_at_its_bounds() {
        let up = Rule::Linear {
            zero_at: 40.0,
            full_at: 65.0,
        };
        assert_eq!(up.marks(40.0), 0.0);
        assert_eq!(up.marks(52.5), 0.5);
        assert_eq!(up.marks(65.0), 1.0);
        assert_eq!(up.marks(80.0), 1.0);
        assert_eq!(up.marks(10.0), 0.0);
        // Lower is better: full marks at 95 % or less, none at 105 % or more.
        let down = Rule::Linear {
            zero_at: 105.0,
            full_at: 95.0,
        };
        assert_eq!(down.marks(105.0), 0.0);
        assert_eq!(down.marks(100.0), 0.5);
        assert_eq!(down.marks(95.0), 1.0);
        assert_eq!(down.marks(80.0), 1.0);
        assert_eq!(down.marks(110.0), 0.0);
    }

    #[test]
    fn threshold_rule_in_either_direction() {
        let higher = Rule::Threshold {
            at: 90.0,
            direction: Direction::Higher,
        };
        assert_eq!(higher.marks(89.999), 0.0);
        assert_eq!(higher.marks(90.0), 1.0);
        assert_eq!(higher.marks(99.0), 1.0);
        let lower = Rule::Threshold {
            at: 100.0,
            direction: Direction::Lower,
        };
        assert_eq!(lower.marks(100.001), 0.0);
        assert_eq!(lower.marks(100.0), 1.0);
        assert_eq!(lower.marks(50.0), 1.0);
    }

    #[test]
    fn shipped_scorecard_scores_a_consortium_by_hand() {
        let card = Scorecard::from_toml("config/scorecard.toml", SHIPPED)
            .unwrap_or_else(|e| panic!("{e}"));
        let codes: Vec<_> = card.dimensions.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "care_order",
                "service_capacity",
                "resource_use",
                "fund_efficiency",
                "public_interest"
            ]
        );
        let c = consortium();
        let sheet = score(&card, &|r| match r {
            IndicatorRef::Tiered(t) => value(*t, &c),
            IndicatorRef::Plan(_) => None,
        });
        // care_order 30: primary 52.5 → ½ × 10 = 5; in-county 87.5 → ¾ × 10 = 7.5;
        //   down/up 0.4 → ½ × 10 = 5                                       = 17.5
        // service_capacity 20: htn control 55 → ¾ × 7 = 5.25; dm control 35 → 0;
        //   turnaround 105 min → (105−240)/(60−240) = ¾ × 6 = 4.5          =  9.75
        // resource_use 15: recognition 70 → ½ × 10 = 5; on time 95 ≥ 95 → 5 = 10
        // fund_efficiency 20: use 100 → ½ × 6 = 3; forecast 102 > 100 → 0;
        //   in-county fund 80 → ½ × 8 = 4                                  =  7
        // public_interest 15: effective 70 → ½ × 3 = 1.5; elderly 55 → ½ × 2 = 1;
        //   htn coverage 90 ≥ 90 → 2; dm coverage 89 → 0; htn std 65 → ½ × 3 = 1.5;
        //   dm std 90 → 3                                                  =  9
        let points: Vec<f64> = sheet.dimensions.iter().map(|d| d.points).collect();
        for (got, want) in points.iter().zip([17.5, 9.75, 10.0, 7.0, 9.0]) {
            assert!(close(*got, want), "{points:?}");
        }
        assert!(close(sheet.total, 53.25), "{}", sheet.total);
        assert!(close(sheet.dimensions[0].fraction, 17.5 / 30.0));
        let dm_coverage = &sheet.dimensions[4].indicators[3];
        assert_eq!(
            dm_coverage.indicator,
            IndicatorRef::Tiered(CoverageDiabetes)
        );
        assert_eq!((dm_coverage.value, dm_coverage.points), (Some(89.0), 0.0));
        assert!(
            sheet
                .dimensions
                .iter()
                .flat_map(|d| &d.indicators)
                .all(|i| !i.missing)
        );
    }

    /// Two dimensions; line numbers are the text's own.
    const MINI: &str = r#"name = "测试"
[[dimension]]
code = "care_order"
name = "就医秩序"
weight = 60
[[dimension.indicator]]
code = "primary_visit_share"
weight = 60
rule = { kind = "linear", zero_at = 40.0, full_at = 65.0 }
[[dimension]]
code = "resource_use"
name = "资源利用"
weight = 40
[[dimension.indicator]]
source = "plan"
code = "bed_occupancy"
weight = 40
rule = { kind = "threshold", at = 85.0, direction = "higher" }
"#;

    fn refused(text: &str) -> (Option<usize>, String) {
        let e = Scorecard::from_toml("scorecard.toml", text).unwrap_err();
        assert!(e.line.is_some(), "{e}");
        assert_eq!(e.code, SCORECARD_ERROR);
        assert_eq!(e.file, "scorecard.toml");
        (e.line, e.field)
    }

    #[test]
    fn a_plan_indicator_scores_and_a_missing_value_is_flagged() {
        let card = Scorecard::from_toml("scorecard.toml", MINI).unwrap();
        let plan = IndicatorRef::Plan("bed_occupancy".into());
        assert_eq!(card.dimensions[1].indicators[0].indicator, plan);
        assert_eq!(card.dimensions[1].indicators[0].line, 16);
        let c = consortium();
        let with = |occupancy: Option<f64>| {
            score(&card, &|r| match r {
                IndicatorRef::Tiered(t) => value(*t, &c),
                IndicatorRef::Plan(_) => occupancy,
            })
        };
        // 52.5 → ½ × 60 = 30; occupancy 86 ≥ 85 → 40.
        assert!(close(with(Some(86.0)).total, 70.0));
        let sheet = with(None);
        assert!(close(sheet.total, 30.0));
        let missing = &sheet.dimensions[1].indicators[0];
        assert!(missing.missing);
        assert_eq!((missing.value, missing.points), (None, 0.0));
        assert!(with(Some(f64::NAN)).dimensions[1].indicators[0].missing);
        assert!(
            card.check_plan_codes("scorecard.toml", |c| c == "bed_occupancy")
                .is_ok()
        );
        let e = card
            .check_plan_codes("scorecard.toml", |c| c == "beds_per_1000")
            .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(16), "dimension.indicator.code")
        );
        assert_eq!(
            serde_json::to_value(&plan).unwrap(),
            serde_json::json!({"source": "plan", "code": "bed_occupancy"})
        );
    }

    #[test]
    fn config_errors_name_line_and_field() {
        let code = "dimension.indicator.code".to_string();
        let rule = "dimension.indicator.rule".to_string();
        let weight = "dimension.weight".to_string();
        // Unknown tiered code.
        let t = MINI.replace("primary_visit_share", "primary_visits");
        assert_eq!(refused(&t), (Some(7), code.clone()));
        // The same indicator twice (tiered is the default source).
        let t = MINI.replace(
            "source = \"plan\"\ncode = \"bed_occupancy\"",
            "code = \"primary_visit_share\"",
        );
        assert_eq!(refused(&t), (Some(15), code.clone()));
        // Indicator weights 50 in a dimension of 60: the dimension's weight line.
        let t = MINI.replace("weight = 60\nrule", "weight = 50\nrule");
        assert_eq!(refused(&t), (Some(5), weight.clone()));
        // Dimensions 70 + 40 = 110: the first dimension's weight.
        let t = MINI.replace("weight = 60", "weight = 70");
        assert_eq!(refused(&t), (Some(5), weight.clone()));
        // A zero-width linear rule.
        let t = MINI.replace("full_at = 65.0", "full_at = 40.0");
        assert_eq!(refused(&t), (Some(9), rule.clone()));
        // A threshold on a plan indicator must state its direction.
        let t = MINI.replace(", direction = \"higher\"", "");
        assert_eq!(refused(&t), (Some(18), rule.clone()));
        // A weight not above 0.
        let t = MINI.replace("weight = 40\nrule", "weight = 0\nrule");
        assert_eq!(refused(&t), (Some(17), "dimension.indicator.weight".into()));
        // Shape faults are placed by the parser: an unknown key, an unknown source.
        let t = MINI.replace(
            "name = \"就医秩序\"",
            "name = \"就医秩序\"\ncolour = \"red\"",
        );
        assert_eq!(refused(&t), (Some(5), "colour".into()));
        let t = MINI.replace("\"plan\"", "\"plans\"");
        assert_eq!(refused(&t).0, Some(15));
    }

    #[test]
    fn competition_ranking_shares_ties() {
        let ranked = rank(&[("a", 80.0), ("b", 90.0), ("c", 80.0), ("d", 70.0)]);
        assert_eq!(
            ranked,
            [
                ("b", 90.0, 1),
                ("a", 80.0, 2),
                ("c", 80.0, 2),
                ("d", 70.0, 4)
            ]
        );
        // Totals equal but for floating-point noise tie.
        let noisy = rank(&[("x", 0.1 + 0.2), ("y", 0.3)]);
        assert_eq!((noisy[0].2, noisy[1].2), (1, 1));
        assert!(rank::<&str>(&[]).is_empty());
    }
}
