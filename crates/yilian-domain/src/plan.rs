//! 规划指标 — planning indicators: what a plan's main development indicators
//! (主要发展指标) mean, how each is computed from a registry snapshot, how a
//! plan is read from a file, and how an indicator's progress is judged.
//!
//! Sources:
//! - seed 002 (`seeds/002_b8433663c3f0f039.txt`, "表1主要发展指标"), a
//!   district's "十五五" medical and health service system plan, in two
//!   versions with the same rows and other numbers: version A at lines
//!   122–371, version B at lines 945–1225. Every row of the table is a
//!   [`PlanIndicatorCode`]; both versions ship as `config/plans/seed002-a.toml`
//!   and `config/plans/seed002-b.toml`. The table's note (lines 371 and 1225)
//!   "注:医院床位含同级妇幼保健院和专科疾病防治院(所)床位" puts the
//!   maternal-child hospital's beds with the county-level hospitals;
//! - SPEC §2.7: each indicator has a baseline, a target year, a target value
//!   and a nature (预期性 expected / 约束性 binding); binding targets missed
//!   are alarms ([`alarm`]).
//!
//! Everything here is pure. The server fills a [`Snapshot`] from the store;
//! [`compute`] turns it into a [`Measure`] whose [`Part`]s are the drill-down
//! (the institutions, or the age bands, behind the number) and add up
//! exactly to it; [`status`] compares the measure with the plan.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{ConfigError, FieldError, line_of};
use crate::registry::{BedType, Grade, InstitutionKind, Ownership, Profession, Service};

/// The [`ConfigError`] code of a refused plan file.
pub const PLAN_ERROR: &str = "invalid_plan";

// ------------------------------------------------------------------ snapshot

/// One institution as the registry records it: kind, grade, ownership,
/// beds by type, staff by profession and services.
#[derive(Debug, Clone, PartialEq)]
pub struct InstitutionFacts {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub grade: Option<Grade>,
    pub ownership: Ownership,
    pub region_code: String,
    pub beds: Vec<(BedType, i64)>,
    pub staff: Vec<(Profession, i64)>,
    pub services: Vec<Service>,
}

impl InstitutionFacts {
    /// 实有床位 — beds of every type.
    pub fn total_beds(&self) -> i64 {
        self.beds.iter().map(|(_, n)| n).sum()
    }

    /// Staff whose profession satisfies `which`.
    pub fn staff_where(&self, which: impl Fn(Profession) -> bool) -> i64 {
        self.staff
            .iter()
            .filter(|(p, _)| which(*p))
            .map(|(_, n)| n)
            .sum()
    }

    /// 卫生人员 — staff of every profession.
    pub fn total_staff(&self) -> i64 {
        self.staff_where(|_| true)
    }

    /// Whether the institution offers `service`.
    pub fn has(&self, service: Service) -> bool {
        self.services.contains(&service)
    }

    /// 公立 — publicly owned.
    pub fn is_public(&self) -> bool {
        self.ownership == Ownership::Public
    }

    /// 二级以上 — graded II or above ("以上" includes the grade itself); an
    /// ungraded institution is not.
    pub fn is_grade2_or_above(&self) -> bool {
        self.grade.is_some_and(Grade::is_level2_or_above)
    }
}

/// One practitioner as the registry records them (their main institution).
#[derive(Debug, Clone, PartialEq)]
pub struct PractitionerFacts {
    pub id: i64,
    pub main_institution_id: i64,
    pub profession: Profession,
    pub is_gp: bool,
    pub is_tcm: bool,
}

/// 执业(助理)医师 — a licensed or assistant physician, as the registry's
/// team-lead rule counts them (`registry::check_team_lead`). Public-health
/// physicians (公共卫生医师) are a profession of their own in the registry
/// and are not counted here.
pub fn is_physician(p: Profession) -> bool {
    matches!(
        p,
        Profession::LicensedPhysician | Profession::AssistantPhysician
    )
}

/// The first ages of the abridged life table's bands (简略寿命表年龄组):
/// 0, 1–4, 5–9, …, 80–84 and the open band 85+.
pub const BAND_STARTS: [u32; 19] = [
    0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85,
];

/// One age band of the population statistics: mid-year population, deaths
/// in the year, and the share living with disability (0–1, for
/// [`PlanIndicatorCode::HealthyLifeExpectancy`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeBand {
    pub from_age: u32,
    pub population: i64,
    pub deaths: i64,
    pub disabled_share: f64,
}

/// The statistics a plan needs that the registry does not hold: childcare
/// places (托位) and the age bands of the life table, ascending.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Statistics {
    pub childcare_places: i64,
    pub bands: Vec<AgeBand>,
}

/// The largest count a statistics row may hold.
pub const MAX_COUNT: f64 = 1e10;

impl Statistics {
    /// Reads stored key/value rows: `childcare_places`, and per band
    /// `population_<from>`, `deaths_<from>` and `disabled_<from>` with
    /// `<from>` one of [`BAND_STARTS`]. Counts are whole numbers from 0 to
    /// [`MAX_COUNT`], a band's deaths at most its population; disabled
    /// shares lie in 0–1. A band exists when any of its keys does; its other
    /// values are 0, as is a missing `childcare_places`. Unknown or repeated
    /// keys and out-of-range values are refused, naming the key.
    pub fn from_pairs(pairs: &[(String, f64)]) -> Result<Statistics, FieldError> {
        let mut out = Statistics::default();
        let mut bands: BTreeMap<u32, AgeBand> = BTreeMap::new();
        let mut seen = HashSet::new();
        for (key, v) in pairs {
            if !seen.insert(key.as_str()) {
                return Err(stat_error(key, "重复", "is repeated"));
            }
            if key == "childcare_places" {
                out.childcare_places = stat_count(key, *v)?;
                continue;
            }
            let (what, from) = key
                .rsplit_once('_')
                .and_then(|(w, f)| Some((w, f.parse::<u32>().ok()?)))
                .filter(|(_, f)| BAND_STARTS.contains(f))
                .ok_or_else(|| stat_error(key, "未知统计项", "is not a known statistic"))?;
            let band = bands.entry(from).or_insert(AgeBand {
                from_age: from,
                population: 0,
                deaths: 0,
                disabled_share: 0.0,
            });
            match what {
                "population" => band.population = stat_count(key, *v)?,
                "deaths" => band.deaths = stat_count(key, *v)?,
                "disabled" if (0.0..=1.0).contains(v) => band.disabled_share = *v,
                "disabled" => return Err(stat_error(key, "应在0到1之间", "must lie in 0..=1")),
                _ => return Err(stat_error(key, "未知统计项", "is not a known statistic")),
            }
        }
        if let Some(b) = bands.values().find(|b| b.deaths > b.population) {
            let key = format!("deaths_{}", b.from_age);
            return Err(stat_error(&key, "不应多于人口数", "exceeds the population"));
        }
        out.bands = bands.into_values().collect();
        Ok(out)
    }

    /// The rows [`Statistics::from_pairs`] reads back identically.
    pub fn to_pairs(&self) -> Vec<(String, f64)> {
        let mut out = vec![("childcare_places".to_string(), self.childcare_places as f64)];
        for b in &self.bands {
            out.push((format!("population_{}", b.from_age), b.population as f64));
            out.push((format!("deaths_{}", b.from_age), b.deaths as f64));
            out.push((format!("disabled_{}", b.from_age), b.disabled_share));
        }
        out
    }
}

fn stat_error(key: &str, zh: &str, en: &str) -> FieldError {
    FieldError::new(
        "statistics",
        format!("统计项 {key} {zh}"),
        format!("statistic {key:?} {en}"),
    )
}

fn stat_count(key: &str, v: f64) -> Result<i64, FieldError> {
    if (0.0..=MAX_COUNT).contains(&v) && v.fract() == 0.0 {
        Ok(v as i64)
    } else {
        Err(stat_error(
            key,
            "应为0到100亿之间的整数",
            "must be a whole number in 0..=1e10",
        ))
    }
}

/// What the planning indicators are computed from: one region's registry
/// (institutions and practitioners), its resident population (常住人口) and
/// its [`Statistics`]. The server fills it; nothing here reads a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub region_code: String,
    pub population: i64,
    pub institutions: Vec<InstitutionFacts>,
    pub practitioners: Vec<PractitionerFacts>,
    pub statistics: Statistics,
}

// ------------------------------------------------------------------ vocabularies

crate::vocabulary!(
    /// 计量单位 — the unit an indicator is expressed in.
    Unit {
        Per1000 = "per_1000": "每千人口",
        Per10000 = "per_10000": "每万人口",
        Percent = "percent": "%",
        TenThousandPersons = "ten_thousand_persons": "万人",
        Ratio1ToX = "ratio_1_to_x": "1:x",
        Years = "years": "岁",
    }
);

impl Unit {
    /// The factor a measure's numerator / denominator is multiplied by.
    /// 万人 is a count over a denominator of 10 000 persons, so its factor
    /// is 1; a 1:x ratio is x = numerator / denominator.
    pub fn scale(self) -> f64 {
        match self {
            Unit::Per1000 => 1_000.0,
            Unit::Per10000 => 10_000.0,
            Unit::Percent => 100.0,
            Unit::TenThousandPersons | Unit::Ratio1ToX | Unit::Years => 1.0,
        }
    }
}

crate::vocabulary!(
    /// 规划指标 — every row of seed 002 表1 (`seeds/002_b8433663c3f0f039.txt`,
    /// lines 122–371 and 945–1225), in the table's order; row 5 has two
    /// sub-rows (其中). See [`PlanIndicatorCode::definition_zh`] for each
    /// formula and [`compute`] for the rules.
    PlanIndicatorCode {
        PublicHealthStaff = "public_health_staff": "专业公共卫生机构人员数",
        CdcStandardized = "cdc_standardized": "各级疾病预防控制机构标准化基础设施",
        InfectiousDeptShare = "infectious_dept_share": "二级以上综合医院(含中医医院)设置感染性疾病科的比例",
        FeverClinicShare = "fever_clinic_share": "镇卫生院和社区卫生服务中心设置发热门诊的比例",
        BedsPer1000 = "beds_per_1000": "每千人口医疗卫生机构床位数",
        BedsCityPublicPer1000 = "beds_city_public_per_1000": "每千人口市办及以上公立医院床位数",
        BedsCountyPrimaryPer1000 = "beds_county_primary_per_1000": "每千人口县办公立医院及基层医疗卫生机构床位数",
        TcmPublicBedsPer1000 = "tcm_public_beds_per_1000": "每千人口公立中医医院床位数",
        PhysiciansPer1000 = "physicians_per_1000": "每千人口执业(助理)医师数",
        NursesPer1000 = "nurses_per_1000": "每千人口注册护士数",
        PharmacistsPer1000 = "pharmacists_per_1000": "每千人口药师(士)数",
        GpsPer10000 = "gps_per_10000": "每万人口全科医生数",
        PhysicianNurseRatio = "physician_nurse_ratio": "医护比",
        BedStaffRatio = "bed_staff_ratio": "床人(卫生人员)比",
        TcmPhysiciansPer1000 = "tcm_physicians_per_1000": "每千人口中医类别执业(助理)医师数",
        TcmDeptShare = "tcm_dept_share": "设置中医临床科室的二级以上公立综合医院比例",
        TcmHallShare = "tcm_hall_share": "设置中医馆的社区卫生服务中心和镇卫生院比例",
        ChildcarePer1000 = "childcare_per_1000": "每千人口拥有3岁以下婴幼儿托位数",
        GeriatricsShare = "geriatrics_share": "二级以上综合医院设置老年医学科比例",
        LifeExpectancy = "life_expectancy": "人均预期寿命",
        HealthyLifeExpectancy = "healthy_life_expectancy": "人均健康预期寿命",
    }
);

impl PlanIndicatorCode {
    /// The unit the indicator is expressed in; a plan row must state it.
    pub fn unit(self) -> Unit {
        use PlanIndicatorCode::*;
        match self {
            PublicHealthStaff => Unit::TenThousandPersons,
            CdcStandardized | InfectiousDeptShare | FeverClinicShare | TcmDeptShare
            | TcmHallShare | GeriatricsShare => Unit::Percent,
            BedsPer1000
            | BedsCityPublicPer1000
            | BedsCountyPrimaryPer1000
            | TcmPublicBedsPer1000
            | PhysiciansPer1000
            | NursesPer1000
            | PharmacistsPer1000
            | TcmPhysiciansPer1000
            | ChildcarePer1000 => Unit::Per1000,
            GpsPer10000 => Unit::Per10000,
            PhysicianNurseRatio | BedStaffRatio => Unit::Ratio1ToX,
            LifeExpectancy | HealthyLifeExpectancy => Unit::Years,
        }
    }

    /// The formula, in one Chinese sentence (shown beside the number).
    pub fn definition_zh(self) -> &'static str {
        use PlanIndicatorCode::*;
        match self {
            PublicHealthStaff => "疾病预防控制中心和妇幼保健院的卫生人员数之和，以万人计。",
            CdcStandardized => {
                "具备标准化基础设施的疾病预防控制机构数 ÷ 疾病预防控制机构数 × 100%（全覆盖即100%）。"
            }
            InfectiousDeptShare => {
                "设置感染性疾病科的二级及以上县级综合医院、县级中医医院、市级医院和三级医院数 ÷ 上述医院数 × 100%。"
            }
            FeverClinicShare => {
                "设置发热门诊（诊室、哨点）的乡镇卫生院和社区卫生服务中心数 ÷ 乡镇卫生院和社区卫生服务中心数 × 100%。"
            }
            BedsPer1000 => "全部医疗卫生机构床位数 ÷ 常住人口数 × 1000。",
            BedsCityPublicPer1000 => "公立市级医院和三级医院床位数 ÷ 常住人口数 × 1000。",
            BedsCountyPrimaryPer1000 => {
                "公立县级医院（含妇幼保健院）与基层医疗卫生机构床位数之和 ÷ 常住人口数 × 1000。"
            }
            TcmPublicBedsPer1000 => "公立县级中医医院床位数 ÷ 常住人口数 × 1000。",
            PhysiciansPer1000 => "各机构执业医师与执业助理医师数之和 ÷ 常住人口数 × 1000。",
            NursesPer1000 => "各机构注册护士数 ÷ 常住人口数 × 1000。",
            PharmacistsPer1000 => "各机构药师(士)数 ÷ 常住人口数 × 1000。",
            GpsPer10000 => "注册为全科的执业(助理)医师人数 ÷ 常住人口数 × 10000。",
            PhysicianNurseRatio => "医护比1:x，x = 注册护士数 ÷ 执业(助理)医师数。",
            BedStaffRatio => "床人比1:x，x = 全部卫生人员数 ÷ 全部床位数。",
            TcmPhysiciansPer1000 => "中医类别执业(助理)医师人数 ÷ 常住人口数 × 1000。",
            TcmDeptShare => {
                "设置中医临床科室的二级及以上公立综合医院（县级综合医院、市级医院、三级医院）数 ÷ 上述医院数 × 100%。"
            }
            TcmHallShare => {
                "设置中医馆的社区卫生服务中心和乡镇卫生院数 ÷ 社区卫生服务中心和乡镇卫生院数 × 100%。"
            }
            ChildcarePer1000 => "3岁以下婴幼儿托位数 ÷ 常住人口数 × 1000。",
            GeriatricsShare => {
                "设置老年医学科的二级及以上综合医院（含中医医院）数 ÷ 上述医院数 × 100%。"
            }
            LifeExpectancy => "按各年龄组死亡数与人口数编制蒋庆琅简略寿命表，0岁组的平均预期寿命。",
            HealthyLifeExpectancy => {
                "沙利文法：简略寿命表各年龄组生存人年数乘以（1 − 残障比例）之和 ÷ 尾数（0岁尚存人数）。"
            }
        }
    }
}

crate::vocabulary!(
    /// 目标方向 — how an actual value must stand against the target. A plan
    /// file may write the code (`>=`) or the sign (`≥`).
    Direction {
        AtLeast = ">=": "≥",
        AtMost = "<=": "≤",
        Equal = "=": "=",
    }
);

crate::vocabulary!(
    /// 指标性质 — 预期性 (expected) or 约束性 (binding; a shortfall is an
    /// [`alarm`]).
    Nature {
        Expected = "expected": "预期性",
        Binding = "binding": "约束性",
    }
);

crate::vocabulary!(
    /// 进度状态 — an indicator's standing against its plan ([`status`]).
    Status {
        Met = "met": "已达标",
        OnTrack = "on_track": "按进度",
        Behind = "behind": "滞后",
        Missed = "missed": "未达标",
        NoData = "no_data": "无法评估",
    }
);

// ------------------------------------------------------------------ computing

/// A computed indicator: `value = unit scale × numerator / denominator`,
/// `None` when the denominator is 0 (no population, no eligible
/// institution, no physician, no bed, a life table that cannot be built).
/// `parts` is the drill-down; their numerators and denominators add up
/// exactly (in order) to the measure's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    pub parts: Vec<Part>,
}

/// One line of a measure's drill-down: an institution's contribution, the
/// population (the denominator of per-population indicators, without an
/// institution), or an age band of the life table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub institution_id: Option<i64>,
    pub label: String,
    pub numerator: f64,
    pub denominator: f64,
}

impl Part {
    fn of(i: &InstitutionFacts, numerator: i64, denominator: i64) -> Part {
        Part {
            institution_id: Some(i.id),
            label: i.name.clone(),
            numerator: numerator as f64,
            denominator: denominator as f64,
        }
    }

    fn whole(label: &str, numerator: f64, denominator: f64) -> Part {
        Part {
            institution_id: None,
            label: label.to_string(),
            numerator,
            denominator,
        }
    }
}

impl Measure {
    /// The measure its parts add up to.
    fn from_parts(parts: Vec<Part>, scale: f64) -> Measure {
        let numerator = parts.iter().map(|p| p.numerator).sum();
        let denominator: f64 = parts.iter().map(|p| p.denominator).sum();
        Measure {
            value: (denominator != 0.0).then(|| scale * numerator / denominator),
            numerator,
            denominator,
            parts,
        }
    }
}

/// The drill-down label of the population part of per-population indicators.
pub const POPULATION_LABEL: &str = "常住人口";
/// The drill-down label of the 10 000-person denominator of 万人 indicators.
pub const TEN_THOUSAND_LABEL: &str = "折算万人";
/// The drill-down label of the childcare places.
pub const CHILDCARE_LABEL: &str = "3岁以下婴幼儿托位";

/// 综合医院(含中医医院) — the hospitals seed 002 表1 row 3 counts
/// ("二级以上综合医院(含中医医院,下同)", `seeds/002_b8433663c3f0f039.txt`
/// line 164): county general and TCM hospitals, city and tertiary hospitals.
fn is_general_incl_tcm(i: &InstitutionFacts) -> bool {
    use InstitutionKind::*;
    matches!(
        i.kind,
        CountyGeneralHospital | CountyTcmHospital | CityHospital | TertiaryHospital
    )
}

/// 镇卫生院和社区卫生服务中心 — township and community health centers.
fn is_center(i: &InstitutionFacts) -> bool {
    matches!(
        i.kind,
        InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter
    )
}

/// 市办及以上公立医院 — public city and tertiary hospitals.
fn is_city_public(i: &InstitutionFacts) -> bool {
    i.is_public()
        && matches!(
            i.kind,
            InstitutionKind::CityHospital | InstitutionKind::TertiaryHospital
        )
}

/// 县办公立医院及基层医疗卫生机构 — public county-level hospitals (with the
/// maternal-child hospital, by the table's note) and every primary
/// institution (基层, public or private: seed 002 line 391 "分为公立和社会
/// 举办两类").
fn is_county_or_primary(i: &InstitutionFacts) -> bool {
    i.kind.is_primary()
        || (i.is_public() && i.kind.care_level() == crate::registry::CareLevel::County)
}

/// One part per institution passing `eligible` with a non-zero numerator or
/// denominator.
fn by_institution(
    s: &Snapshot,
    eligible: impl Fn(&InstitutionFacts) -> bool,
    numerator: impl Fn(&InstitutionFacts) -> i64,
    denominator: impl Fn(&InstitutionFacts) -> i64,
) -> Vec<Part> {
    s.institutions
        .iter()
        .filter(|i| eligible(i))
        .map(|i| (i, numerator(i), denominator(i)))
        .filter(|(_, n, d)| *n != 0 || *d != 0)
        .map(|(i, n, d)| Part::of(i, n, d))
        .collect()
}

/// A share: every eligible institution is a part, 1 of 1 when it offers
/// `service`, else 0 of 1.
fn share(
    s: &Snapshot,
    eligible: impl Fn(&InstitutionFacts) -> bool,
    service: Service,
) -> Vec<Part> {
    by_institution(s, eligible, |i| i64::from(i.has(service)), |_| 1)
}

/// An institution count over the population: the institutions' parts
/// (numerators only) and the population part (denominator only).
fn per_population(
    s: &Snapshot,
    eligible: impl Fn(&InstitutionFacts) -> bool,
    count: impl Fn(&InstitutionFacts) -> i64,
) -> Vec<Part> {
    with_population(s, by_institution(s, eligible, count, |_| 0))
}

fn with_population(s: &Snapshot, mut parts: Vec<Part>) -> Vec<Part> {
    parts.push(Part::whole(POPULATION_LABEL, 0.0, s.population as f64));
    parts
}

/// Practitioners passing `which`, counted at their main institution (in the
/// snapshot's order; main institutions missing from the snapshot follow by
/// id), over the population.
fn practitioners_per_population(
    s: &Snapshot,
    which: impl Fn(&PractitionerFacts) -> bool,
) -> Vec<Part> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for p in s.practitioners.iter().filter(|p| which(p)) {
        *counts.entry(p.main_institution_id).or_default() += 1;
    }
    let mut parts: Vec<Part> = s
        .institutions
        .iter()
        .filter_map(|i| counts.remove(&i.id).map(|n| Part::of(i, n, 0)))
        .collect();
    parts.extend(counts.into_iter().map(|(id, n)| Part {
        institution_id: Some(id),
        label: format!("机构 {id}"),
        numerator: n as f64,
        denominator: 0.0,
    }));
    with_population(s, parts)
}

/// 指标计算 — computes one indicator over a snapshot. The rules, row by row
/// of seed 002 表1 (`seeds/002_b8433663c3f0f039.txt`):
/// - staff counts (卫生人员) and beds (床位) are the institutions' registered
///   totals; practitioner counts (GPs, TCM physicians) count registered
///   practitioners at their main institution;
/// - per-1000 / per-10 000 indicators: numerator = count, denominator =
///   population, value = 1000·n/d (10 000·n/d); the population is one part;
/// - `public_health_staff` (万人): staff of CDCs and maternal-child
///   hospitals over a denominator of 10 000 persons (one part);
/// - shares (%): each eligible institution is a part, 1 or 0 of 1;
///   `cdc_standardized`: CDCs with [`Service::StandardizedInfrastructure`]
///   ("全覆盖" = 100 %); `infectious_dept_share` and `geriatrics_share`:
///   general hospitals including TCM hospitals, graded II or above, any
///   ownership (row 3's "含中医医院,下同"); `tcm_dept_share`: public
///   general hospitals graded II or above, without TCM hospitals (a TCM
///   hospital's clinical departments are all TCM; the row asks whether a
///   general hospital has one); `fever_clinic_share` and `tcm_hall_share`:
///   township and community health centers;
/// - ratios 1:x: x = nurses / physicians (医护比), all staff / all beds
///   (床人比), one part per institution with either;
/// - `life_expectancy` and `healthy_life_expectancy`: [`life_table`].
pub fn compute(code: PlanIndicatorCode, s: &Snapshot) -> Measure {
    use InstitutionKind as K;
    use PlanIndicatorCode::*;
    let all = |_: &InstitutionFacts| true;
    let count = |p: Profession| move |i: &InstitutionFacts| i.staff_where(|q| q == p);
    let physicians = |i: &InstitutionFacts| i.staff_where(is_physician);
    let grade2_general = |i: &InstitutionFacts| is_general_incl_tcm(i) && i.is_grade2_or_above();
    let parts = match code {
        PublicHealthStaff => {
            let mut parts = by_institution(
                s,
                |i| matches!(i.kind, K::Cdc | K::MaternalChildHospital),
                InstitutionFacts::total_staff,
                |_| 0,
            );
            parts.push(Part::whole(TEN_THOUSAND_LABEL, 0.0, 10_000.0));
            parts
        }
        CdcStandardized => share(s, |i| i.kind == K::Cdc, Service::StandardizedInfrastructure),
        InfectiousDeptShare => share(s, grade2_general, Service::InfectiousDiseaseDept),
        FeverClinicShare => share(s, is_center, Service::FeverClinic),
        BedsPer1000 => per_population(s, all, InstitutionFacts::total_beds),
        BedsCityPublicPer1000 => per_population(s, is_city_public, InstitutionFacts::total_beds),
        BedsCountyPrimaryPer1000 => {
            per_population(s, is_county_or_primary, InstitutionFacts::total_beds)
        }
        TcmPublicBedsPer1000 => per_population(
            s,
            |i| i.is_public() && i.kind == K::CountyTcmHospital,
            InstitutionFacts::total_beds,
        ),
        PhysiciansPer1000 => per_population(s, all, physicians),
        NursesPer1000 => per_population(s, all, count(Profession::RegisteredNurse)),
        PharmacistsPer1000 => per_population(s, all, count(Profession::Pharmacist)),
        GpsPer10000 => practitioners_per_population(s, |p| p.is_gp && is_physician(p.profession)),
        PhysicianNurseRatio => {
            by_institution(s, all, count(Profession::RegisteredNurse), physicians)
        }
        BedStaffRatio => by_institution(
            s,
            all,
            InstitutionFacts::total_staff,
            InstitutionFacts::total_beds,
        ),
        TcmPhysiciansPer1000 => {
            practitioners_per_population(s, |p| p.is_tcm && is_physician(p.profession))
        }
        TcmDeptShare => share(
            s,
            |i| i.is_public() && grade2_general(i) && i.kind != K::CountyTcmHospital,
            Service::TcmDept,
        ),
        TcmHallShare => share(s, is_center, Service::TcmHall),
        ChildcarePer1000 => with_population(
            s,
            vec![Part::whole(
                CHILDCARE_LABEL,
                s.statistics.childcare_places as f64,
                0.0,
            )],
        ),
        GeriatricsShare => share(s, grade2_general, Service::GeriatricsDept),
        LifeExpectancy => life_table(&s.statistics.bands, false),
        HealthyLifeExpectancy => life_table(&s.statistics.bands, true),
    };
    Measure::from_parts(parts, code.unit().scale())
}

/// The life table's radix (尾数): survivors at age 0.
pub const RADIX: f64 = 100_000.0;
/// Chiang's separation factor of the first year of life (a₀: the share of
/// the year an infant who dies in it has lived; 0.1 is the value commonly
/// used with Chiang's method at low infant mortality); every other closed
/// band uses ½.
pub const CHIANG_A0: f64 = 0.1;

/// 简略寿命表 — Chiang's abridged life table, one part per age band:
/// `m = deaths / population`; for a closed band of width n,
/// `q = n·m / (1 + (1 − a)·n·m)` (at most 1), `d = l·q`,
/// `L = n·(l − d) + a·n·d`; the open last band has `d = l` and `L = l / m`.
/// A band's part is (L, d), so the measure is ΣL / Σd = T₀ / l₀ = e₀
/// (every one of l₀ dies in some band). With `healthy` (Sullivan's method,
/// 健康预期寿命) a band's L counts only its years lived without disability,
/// `L·(1 − disabled_share)`.
///
/// The table is built only from bands that start at 0, ascend, each have a
/// population, and whose last band has deaths; otherwise there are no parts
/// and the value is `None`.
pub fn life_table(bands: &[AgeBand], healthy: bool) -> Vec<Part> {
    let usable = bands.first().is_some_and(|b| b.from_age == 0)
        && bands.windows(2).all(|w| w[0].from_age < w[1].from_age)
        && bands.iter().all(|b| b.population > 0)
        && bands.last().is_some_and(|b| b.deaths > 0);
    if !usable {
        return Vec::new();
    }
    let mut l = RADIX;
    bands
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let m = b.deaths as f64 / b.population as f64;
            let (label, d, lived) = match bands.get(k + 1) {
                Some(next) => {
                    let n = f64::from(next.from_age - b.from_age);
                    let a = if b.from_age == 0 { CHIANG_A0 } else { 0.5 };
                    let q = (n * m / (1.0 + (1.0 - a) * n * m)).min(1.0);
                    let d = l * q;
                    let label = match next.from_age - b.from_age {
                        1 => format!("{}岁", b.from_age),
                        _ => format!("{}–{}岁", b.from_age, next.from_age - 1),
                    };
                    (label, d, n * (l - d) + a * n * d)
                }
                None => (format!("{}岁及以上", b.from_age), l, l / m),
            };
            l -= d;
            let lived = if healthy {
                lived * (1.0 - b.disabled_share)
            } else {
                lived
            };
            Part::whole(&label, lived, d)
        })
        .collect()
}

// ------------------------------------------------------------------ plans

/// 规划 — a plan's main development indicators, as loaded from a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub name: String,
    pub source: String,
    pub indicators: Vec<PlanIndicator>,
}

/// One row of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanIndicator {
    pub code: PlanIndicatorCode,
    pub name: String,
    pub unit: Unit,
    pub baseline_year: i32,
    /// The actual value of the baseline year; `None` where the plan gives
    /// none (then [`status`] cannot put the indicator on track).
    pub baseline: Option<f64>,
    pub target_year: i32,
    pub target: Target,
    pub direction: Direction,
    pub nature: Nature,
}

/// A row's target: a value, or "同比例提高" — rising in the same proportion
/// as another indicator of the plan (`tracks`), whose baseline is carried
/// here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Value(f64),
    Tracks {
        code: PlanIndicatorCode,
        tracked_baseline: f64,
    },
}

impl PlanIndicator {
    /// The target value. A tracking target is `baseline × tracked actual /
    /// tracked baseline`: `None` without this row's baseline or the tracked
    /// indicator's actual value.
    pub fn target_value(&self, tracked: Option<f64>) -> Option<f64> {
        match self.target {
            Target::Value(v) => Some(v),
            Target::Tracks {
                tracked_baseline, ..
            } => Some(self.baseline? * tracked? / tracked_baseline),
        }
    }
}

/// The years a plan may speak of.
pub const PLAN_YEARS: Range<i64> = 1949..2101;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    name: String,
    source: String,
    #[serde(default)]
    indicator: Vec<IndicatorFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorFile {
    code: Spanned<String>,
    name: String,
    unit: Spanned<String>,
    baseline_year: Spanned<i64>,
    baseline: Option<Spanned<f64>>,
    target_year: Spanned<i64>,
    target: Option<Spanned<f64>>,
    tracks: Option<Spanned<String>>,
    direction: Spanned<String>,
    nature: Spanned<String>,
}

/// Builds the refusals of one file, placed at a value's line.
struct Refusal<'a> {
    file: &'a str,
    text: &'a str,
}

impl Refusal<'_> {
    fn at<T>(&self, value: &Spanned<T>, field: &str, zh: String, en: String) -> ConfigError {
        let line = line_of(self.text, value.span().start);
        ConfigError::new(PLAN_ERROR, self.file, Some(line), field, zh, en)
    }
}

/// A vocabulary value by its code or its Chinese label.
fn by_code_or_label<V: Copy>(
    all: &[V],
    s: &str,
    code: fn(V) -> &'static str,
    label: fn(V) -> &'static str,
) -> Option<V> {
    all.iter()
        .copied()
        .find(|v| code(*v) == s || label(*v) == s)
}

fn allowed<V: Copy>(all: &[V], code: fn(V) -> &'static str) -> String {
    all.iter().map(|v| code(*v)).collect::<Vec<_>>().join(", ")
}

#[allow(
    clippy::result_large_err,
    reason = "ConfigError is the crate's one shape of a refused file (error.rs); refused once per load"
)]
impl Plan {
    /// Reads a plan file (TOML: `name`, `source`, `[[indicator]]` rows with
    /// `code`, `name`, `unit`, `baseline_year`, optional `baseline`,
    /// `target_year`, `target` or `tracks`, `direction` and `nature`).
    /// Refused, naming the file, the line and the field ([`PLAN_ERROR`]):
    /// bad syntax, a missing or unknown field, an unknown indicator code, a
    /// unit other than the code's ([`PlanIndicatorCode::unit`]), a bad
    /// direction (`>=`, `≥`, `<=`, `≤`, `=`) or nature (`expected` 预期性,
    /// `binding` 约束性; code or label), a year outside [`PLAN_YEARS`], a
    /// target year before the baseline year, a value that is not finite
    /// and ≥ 0 (a percent above 100), a row with both or neither of
    /// `target` and `tracks`, a `tracks` naming no other row of the plan
    /// with a baseline and a target value, a repeated code, or no row at
    /// all. Nothing is half-loaded: the whole plan or an error.
    pub fn from_toml(file: &str, text: &str) -> Result<Plan, ConfigError> {
        let raw: PlanFile =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(PLAN_ERROR, file, text, &e))?;
        let refuse = Refusal { file, text };
        if raw.indicator.is_empty() {
            return Err(ConfigError::new(
                PLAN_ERROR,
                file,
                None,
                "indicator",
                "规划至少需要一个指标",
                "a plan needs at least one indicator",
            ));
        }
        let mut seen = HashSet::new();
        let mut rows = Vec::with_capacity(raw.indicator.len());
        for r in &raw.indicator {
            let row = read_row(&refuse, r, &raw.indicator)?;
            if !seen.insert(row.code) {
                return Err(refuse.at(
                    &r.code,
                    "code",
                    format!("指标 {} 重复", row.code),
                    format!("indicator {} is repeated", row.code),
                ));
            }
            rows.push(row);
        }
        Ok(Plan {
            name: raw.name,
            source: raw.source,
            indicators: rows,
        })
    }

    /// The row of `code`, if the plan has one.
    pub fn indicator(&self, code: PlanIndicatorCode) -> Option<&PlanIndicator> {
        self.indicators.iter().find(|i| i.code == code)
    }
}

/// Validates one row of `rows` (the file's rows, which a `tracks` names).
#[allow(
    clippy::result_large_err,
    reason = "ConfigError is the crate's one shape of a refused file (error.rs); refused once per load"
)]
fn read_row(
    refuse: &Refusal<'_>,
    r: &IndicatorFile,
    rows: &[IndicatorFile],
) -> Result<PlanIndicator, ConfigError> {
    let code = PlanIndicatorCode::parse(r.code.get_ref()).ok_or_else(|| {
        refuse.at(
            &r.code,
            "code",
            format!("未知指标代码 {:?}", r.code.get_ref()),
            format!("unknown indicator code {:?}", r.code.get_ref()),
        )
    })?;
    let unit = Unit::parse(r.unit.get_ref())
        .filter(|u| *u == code.unit())
        .ok_or_else(|| {
            refuse.at(
                &r.unit,
                "unit",
                format!("指标 {code} 的单位应为 {}", code.unit()),
                format!(
                    "the unit of {code} is {}, not {:?}",
                    code.unit(),
                    r.unit.get_ref()
                ),
            )
        })?;
    let direction = by_code_or_label(
        Direction::ALL,
        r.direction.get_ref(),
        Direction::as_str,
        Direction::label_zh,
    )
    .ok_or_else(|| {
        refuse.at(
            &r.direction,
            "direction",
            "方向应为 >=、≥、<=、≤ 或 =".into(),
            format!(
                "direction must be >=, ≥, <=, ≤ or =, not {:?}",
                r.direction.get_ref()
            ),
        )
    })?;
    let nature = by_code_or_label(
        Nature::ALL,
        r.nature.get_ref(),
        Nature::as_str,
        Nature::label_zh,
    )
    .ok_or_else(|| {
        let codes = allowed(Nature::ALL, Nature::as_str);
        refuse.at(
            &r.nature,
            "nature",
            format!("指标性质应为 {codes}（预期性、约束性）之一"),
            format!(
                "nature must be one of {codes}, not {:?}",
                r.nature.get_ref()
            ),
        )
    })?;
    for (year, field) in [
        (&r.baseline_year, "baseline_year"),
        (&r.target_year, "target_year"),
    ] {
        if !PLAN_YEARS.contains(year.get_ref()) {
            return Err(refuse.at(
                year,
                field,
                "年份应在1949到2100之间".into(),
                "the year must lie in 1949..=2100".into(),
            ));
        }
    }
    if r.target_year.get_ref() < r.baseline_year.get_ref() {
        return Err(refuse.at(
            &r.target_year,
            "target_year",
            "目标年份早于基线年份".into(),
            "the target year is before the baseline year".into(),
        ));
    }
    for (value, field) in [(&r.baseline, "baseline"), (&r.target, "target")] {
        let Some(v) = value else { continue };
        let x = *v.get_ref();
        let ceiling = if unit == Unit::Percent {
            100.0
        } else {
            f64::MAX
        };
        if !(x.is_finite() && (0.0..=ceiling).contains(&x)) {
            return Err(refuse.at(
                v,
                field,
                format!("取值 {x} 超出范围（应不小于0，百分比不大于100）"),
                format!("{x} is out of range (at least 0; a percent at most 100)"),
            ));
        }
    }
    let target = match (&r.target, &r.tracks) {
        (Some(t), None) => Target::Value(*t.get_ref()),
        (None, Some(t)) => tracking(refuse, code, t, rows)?,
        (Some(_), Some(t)) => {
            return Err(refuse.at(
                t,
                "tracks",
                "target 与 tracks 只能取其一".into(),
                "give target or tracks, not both".into(),
            ));
        }
        (None, None) => {
            return Err(refuse.at(
                &r.code,
                "target",
                format!("指标 {code} 缺少 target（或 tracks）"),
                format!("indicator {code} has neither target nor tracks"),
            ));
        }
    };
    Ok(PlanIndicator {
        code,
        name: r.name.clone(),
        unit,
        baseline_year: *r.baseline_year.get_ref() as i32,
        baseline: r.baseline.as_ref().map(|b| *b.get_ref()),
        target_year: *r.target_year.get_ref() as i32,
        target,
        direction,
        nature,
    })
}

/// "同比例提高": the target tracking the row `tracks` names — another row
/// of the file with a positive baseline and a target value (not itself
/// tracking), whose baseline the target carries.
#[allow(
    clippy::result_large_err,
    reason = "ConfigError is the crate's one shape of a refused file (error.rs); refused once per load"
)]
fn tracking(
    refuse: &Refusal<'_>,
    code: PlanIndicatorCode,
    tracks: &Spanned<String>,
    rows: &[IndicatorFile],
) -> Result<Target, ConfigError> {
    PlanIndicatorCode::parse(tracks.get_ref())
        .filter(|c| *c != code)
        .and_then(|c| {
            let row = rows.iter().find(|r| r.code.get_ref() == c.as_str())?;
            let baseline = *row.baseline.as_ref()?.get_ref();
            (row.target.is_some() && baseline > 0.0).then_some(Target::Tracks {
                code: c,
                tracked_baseline: baseline,
            })
        })
        .ok_or_else(|| {
            refuse.at(
                tracks,
                "tracks",
                format!(
                    "tracks 应为本规划中另一个有正基线值和目标值的指标，而非 {:?}",
                    tracks.get_ref()
                ),
                format!(
                    "tracks must name another indicator of this plan with a positive baseline and a target value, not {:?}",
                    tracks.get_ref()
                ),
            )
        })
}

// ------------------------------------------------------------------ status

/// The tolerance of comparisons with a target or a path point, relative to
/// the larger of 1 and the compared value: computed values carry float
/// rounding (2 ÷ 3 × 3), plan values are written in decimals.
pub const TOLERANCE: f64 = 1e-9;

impl Direction {
    /// Whether `actual` satisfies this direction against `target`.
    pub fn satisfied(self, actual: f64, target: f64) -> bool {
        self.at_or_beyond(actual, target, target)
    }

    /// Whether `actual` is at or beyond the point `mark` on the way to
    /// `target`: not below it for ≥, not above it for ≤, and for = at
    /// least as close to the target as the mark is.
    pub fn at_or_beyond(self, actual: f64, mark: f64, target: f64) -> bool {
        let eps = TOLERANCE * mark.abs().max(1.0);
        match self {
            Direction::AtLeast => actual >= mark - eps,
            Direction::AtMost => actual <= mark + eps,
            Direction::Equal => (actual - target).abs() <= (mark - target).abs() + eps,
        }
    }
}

/// The last day of `year` (a plan's baseline and target stand at year end).
fn year_end(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// 进度判定 — an indicator's status on `at`, given its actual value and,
/// for a tracking target ("同比例提高"), the tracked indicator's actual:
/// - **Met** (已达标) when the actual satisfies the direction against the
///   target ([`Direction::satisfied`]), whatever the date;
/// - otherwise, up to the end of the target year: **OnTrack** (按进度) when
///   the actual is at or beyond the straight path from the baseline (at the
///   end of the baseline year) to the target (at the end of the target
///   year), read on `at` (the path stays at the baseline before the
///   baseline year ends; a target year equal to the baseline year puts the
///   path at the target), else **Behind** (滞后);
/// - after the target year: **Missed** (未达标).
///
/// Without an actual value or a target (a tracking row without its baseline
/// or the tracked actual), an indicator can be neither met nor on track;
/// without a baseline there is no path: met or not, never on track. Either
/// way it is Behind, then Missed.
pub fn status(
    ind: &PlanIndicator,
    actual: Option<f64>,
    tracked: Option<f64>,
    at: NaiveDate,
) -> Status {
    let target = ind.target_value(tracked);
    if let (Some(a), Some(t)) = (actual, target)
        && ind.direction.satisfied(a, t)
    {
        return Status::Met;
    }
    if actual.is_none() || target.is_none() {
        // Nothing to judge: the figure cannot be computed (no population,
        // no eligible institution, a life table without deaths), or the
        // target rests on a baseline the plan does not give (seed 002 row
        // 19, "同比例提高" without a figure).
        return Status::NoData;
    }
    let (start, end) = (year_end(ind.baseline_year), year_end(ind.target_year));
    if at > end {
        return Status::Missed;
    }
    let (Some(a), Some(t), Some(b)) = (actual, target, ind.baseline) else {
        return Status::Behind;
    };
    let span = (end - start).num_days();
    let elapsed = (at - start).num_days().clamp(0, span);
    let progress = if span == 0 {
        1.0
    } else {
        elapsed as f64 / span as f64
    };
    let path = b + (t - b) * progress;
    if ind.direction.at_or_beyond(a, path, t) {
        Status::OnTrack
    } else {
        Status::Behind
    }
}

/// 约束性指标告警 — a binding (约束性) indicator Behind or Missed is an
/// alarm (SPEC §2.7: "Binding targets missed are alarms"; a binding target
/// falling behind its path is raised before it is missed). Expected
/// indicators never alarm.
pub fn alarm(ind: &PlanIndicator, status: Status) -> bool {
    ind.nature == Nature::Binding && matches!(status, Status::Behind | Status::Missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstitutionKind as K;
    use PlanIndicatorCode as C;
    use Profession as P;

    const SEED_A: &str = include_str!("../../../config/plans/seed002-a.toml");
    const SEED_B: &str = include_str!("../../../config/plans/seed002-b.toml");

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[track_caller]
    fn assert_value(s: &Snapshot, code: PlanIndicatorCode, expected: f64) {
        let v = compute(code, s).value.expect("a value");
        assert!(close(v, expected), "{code}: {v} ≠ {expected}");
    }

    /// An institution: (kind, grade, ownership), general beds, staff, services.
    fn inst(
        id: i64,
        name: &str,
        (kind, grade, ownership): (InstitutionKind, Option<Grade>, Ownership),
        beds: i64,
        staff: &[(Profession, i64)],
        services: &[Service],
    ) -> InstitutionFacts {
        InstitutionFacts {
            id,
            code: format!("I{id:03}"),
            name: name.into(),
            kind,
            grade,
            ownership,
            region_code: "130102".into(),
            beds: if beds > 0 {
                vec![(BedType::General, beds)]
            } else {
                vec![]
            },
            staff: staff.to_vec(),
            services: services.to_vec(),
        }
    }

    fn doctor(
        id: i64,
        at: i64,
        profession: Profession,
        is_gp: bool,
        is_tcm: bool,
    ) -> PractitionerFacts {
        PractitionerFacts {
            id,
            main_institution_id: at,
            profession,
            is_gp,
            is_tcm,
        }
    }

    /// Constant mortality `deaths / population` in every band.
    fn constant_bands(population: i64, deaths: i64, disabled: f64) -> Vec<AgeBand> {
        BAND_STARTS
            .iter()
            .map(|&from_age| AgeBand {
                from_age,
                population,
                deaths,
                disabled_share: disabled,
            })
            .collect()
    }

    /// A county of 20 000 residents:
    ///
    /// | id | institution | kind, grade, ownership | beds | staff | services |
    /// |----|-------------|------------------------|------|-------|----------|
    /// | 1 | 县人民医院 | county general 2A public | 300 | 80 L + 10 A + 150 N + 10 Ph + 30 T + 2 PH = 282 | infectious, geriatrics, fever |
    /// | 2 | 县中医医院 | county TCM 2B public | 100 | 30 L + 40 N + 5 Ph = 75 | TCM dept |
    /// | 3 | 县妇幼保健院 | maternal-child 2B public | 50 | 10 L + 20 N + 5 PH = 35 | — |
    /// | 4 | 县疾控中心 | CDC public | 0 | 20 PH + 10 T = 30 | standardized |
    /// | 5–7 | 甲/乙/丙镇卫生院 | township centers public | 20 each | 5 L + 3 A + 6 N + 1 Ph = 15 each | 5: fever + hall; 6: fever; 7: hall |
    /// | 8 | 某村卫生室 | village clinic public | 0 | 2 village doctors | — |
    /// | 9 | 某诊所 | private clinic | 0 | 1 L | — |
    /// | 10 | 某民营医院 | county general grade 1 private | 40 | 5 L + 8 N = 13 | infectious |
    /// | 11 | 市医院分院 | tertiary 3A public | 100 | 40 L + 60 N = 100 | infectious, TCM dept |
    ///
    /// Practitioners: GP physicians 2 at 5, 1 (assistant) at 6, 1 (TCM) at
    /// 7; a GP-flagged nurse at 5 (not a physician); TCM physicians 3 at 2;
    /// a TCM pharmacist at 2 (not a physician). 30 childcare places;
    /// constant mortality 1/80 in every band, 10 % disabled.
    fn county() -> Snapshot {
        use Ownership::{Private, Public};
        use Service as S;
        let center = |id, name: &str, services: &[Service]| {
            inst(
                id,
                name,
                (K::TownshipHealthCenter, None, Public),
                20,
                &[
                    (P::LicensedPhysician, 5),
                    (P::AssistantPhysician, 3),
                    (P::RegisteredNurse, 6),
                    (P::Pharmacist, 1),
                ],
                services,
            )
        };
        Snapshot {
            region_code: "130102".into(),
            population: 20_000,
            institutions: vec![
                inst(
                    1,
                    "县人民医院",
                    (K::CountyGeneralHospital, Some(Grade::Level2A), Public),
                    300,
                    &[
                        (P::LicensedPhysician, 80),
                        (P::AssistantPhysician, 10),
                        (P::RegisteredNurse, 150),
                        (P::Pharmacist, 10),
                        (P::Technician, 30),
                        (P::PublicHealthPhysician, 2),
                    ],
                    &[S::InfectiousDiseaseDept, S::GeriatricsDept, S::FeverClinic],
                ),
                inst(
                    2,
                    "县中医医院",
                    (K::CountyTcmHospital, Some(Grade::Level2B), Public),
                    100,
                    &[
                        (P::LicensedPhysician, 30),
                        (P::RegisteredNurse, 40),
                        (P::Pharmacist, 5),
                    ],
                    &[S::TcmDept],
                ),
                inst(
                    3,
                    "县妇幼保健院",
                    (K::MaternalChildHospital, Some(Grade::Level2B), Public),
                    50,
                    &[
                        (P::LicensedPhysician, 10),
                        (P::RegisteredNurse, 20),
                        (P::PublicHealthPhysician, 5),
                    ],
                    &[],
                ),
                inst(
                    4,
                    "县疾控中心",
                    (K::Cdc, None, Public),
                    0,
                    &[(P::PublicHealthPhysician, 20), (P::Technician, 10)],
                    &[S::StandardizedInfrastructure],
                ),
                center(5, "甲镇卫生院", &[S::FeverClinic, S::TcmHall]),
                center(6, "乙镇卫生院", &[S::FeverClinic]),
                center(7, "丙镇卫生院", &[S::TcmHall]),
                inst(
                    8,
                    "某村卫生室",
                    (K::VillageClinic, None, Public),
                    0,
                    &[(P::VillageDoctor, 2)],
                    &[],
                ),
                inst(
                    9,
                    "某诊所",
                    (K::PrivateClinic, None, Private),
                    0,
                    &[(P::LicensedPhysician, 1)],
                    &[],
                ),
                inst(
                    10,
                    "某民营医院",
                    (K::CountyGeneralHospital, Some(Grade::Level1), Private),
                    40,
                    &[(P::LicensedPhysician, 5), (P::RegisteredNurse, 8)],
                    &[S::InfectiousDiseaseDept],
                ),
                inst(
                    11,
                    "市医院分院",
                    (K::TertiaryHospital, Some(Grade::Level3A), Public),
                    100,
                    &[(P::LicensedPhysician, 40), (P::RegisteredNurse, 60)],
                    &[S::InfectiousDiseaseDept, S::TcmDept],
                ),
            ],
            practitioners: vec![
                doctor(1, 5, P::LicensedPhysician, true, false),
                doctor(2, 5, P::LicensedPhysician, true, false),
                doctor(3, 6, P::AssistantPhysician, true, false),
                doctor(4, 7, P::LicensedPhysician, true, true),
                doctor(5, 5, P::RegisteredNurse, true, false),
                doctor(6, 2, P::LicensedPhysician, false, true),
                doctor(7, 2, P::LicensedPhysician, false, true),
                doctor(8, 2, P::AssistantPhysician, false, true),
                doctor(9, 2, P::Pharmacist, false, true),
            ],
            statistics: Statistics {
                childcare_places: 30,
                bands: constant_bands(800, 10, 0.1),
            },
        }
    }

    #[test]
    fn every_indicator_is_worked_out_by_hand_on_the_county() {
        let s = county();
        // CDC 30 + maternal-child 35 = 65 persons = 0.0065 万人.
        assert_value(&s, C::PublicHealthStaff, 0.0065);
        // The one CDC is standardized: 1/1.
        assert_value(&s, C::CdcStandardized, 100.0);
        // General incl. TCM, grade II+: 1 (yes), 2 (no), 11 (yes); 10 is grade 1.
        assert_value(&s, C::InfectiousDeptShare, 100.0 * 2.0 / 3.0);
        // Centers 5 (yes), 6 (yes), 7 (no).
        assert_value(&s, C::FeverClinicShare, 100.0 * 2.0 / 3.0);
        // 300 + 100 + 50 + 3·20 + 40 + 100 = 650 beds / 20 000 · 1000.
        assert_value(&s, C::BedsPer1000, 32.5);
        // Public tertiary 11: 100 beds.
        assert_value(&s, C::BedsCityPublicPer1000, 5.0);
        // Public county-level 300 + 100 + 50, primary 60; private hospital 10 not.
        assert_value(&s, C::BedsCountyPrimaryPer1000, 25.5);
        // Public county TCM hospital: 100.
        assert_value(&s, C::TcmPublicBedsPer1000, 5.0);
        // 90 + 30 + 10 + 3·8 + 1 + 5 + 40 = 200 physicians.
        assert_value(&s, C::PhysiciansPer1000, 10.0);
        // 150 + 40 + 20 + 3·6 + 8 + 60 = 296 nurses.
        assert_value(&s, C::NursesPer1000, 14.8);
        // 10 + 5 + 3·1 = 18 pharmacists.
        assert_value(&s, C::PharmacistsPer1000, 0.9);
        // GP physicians 2 + 1 + 1 = 4 (the GP-flagged nurse is not) / 20 000 · 10 000.
        assert_value(&s, C::GpsPer10000, 2.0);
        // 1 : 296/200.
        assert_value(&s, C::PhysicianNurseRatio, 1.48);
        // Staff 282 + 75 + 35 + 30 + 3·15 + 2 + 1 + 13 + 100 = 583 over 650 beds.
        assert_value(&s, C::BedStaffRatio, 583.0 / 650.0);
        // TCM physicians 3 at the TCM hospital + the TCM GP at 7 = 4 (not the pharmacist).
        assert_value(&s, C::TcmPhysiciansPer1000, 0.2);
        // Public general grade II+ without the TCM hospital: 1 (no), 11 (yes).
        assert_value(&s, C::TcmDeptShare, 50.0);
        // Centers 5 (yes), 6 (no), 7 (yes).
        assert_value(&s, C::TcmHallShare, 100.0 * 2.0 / 3.0);
        // 30 places / 20 000 · 1000.
        assert_value(&s, C::ChildcarePer1000, 1.5);
        // General incl. TCM, grade II+: 1 (yes), 2 (no), 11 (no) — the seed's 33.3.
        assert_value(&s, C::GeriatricsShare, 100.0 / 3.0);
        // Constant hazard 10/800 = 1/80 ⇒ e₀ = 80 (see the life-table test).
        assert_value(&s, C::LifeExpectancy, 80.0);
        // Sullivan with 10 % disabled at every age: 0.9 · 80.
        assert_value(&s, C::HealthyLifeExpectancy, 72.0);
    }

    #[test]
    fn parts_add_up_exactly_for_every_code() {
        let s = county();
        for code in C::ALL {
            let m = compute(*code, &s);
            assert!(!m.parts.is_empty(), "{code}");
            let n: f64 = m.parts.iter().map(|p| p.numerator).sum();
            let d: f64 = m.parts.iter().map(|p| p.denominator).sum();
            assert_eq!((n, d), (m.numerator, m.denominator), "{code}");
        }
    }

    #[test]
    fn drill_down_names_the_institutions() {
        let s = county();
        let m = compute(C::FeverClinicShare, &s);
        let parts: Vec<_> = m
            .parts
            .iter()
            .map(|p| (p.institution_id, p.numerator, p.denominator))
            .collect();
        assert_eq!(
            parts,
            [
                (Some(5), 1.0, 1.0),
                (Some(6), 1.0, 1.0),
                (Some(7), 0.0, 1.0)
            ]
        );
        let m = compute(C::GpsPer10000, &s);
        let last = m.parts.last().unwrap();
        assert_eq!(
            (last.label.as_str(), last.denominator),
            (POPULATION_LABEL, 20_000.0)
        );
        assert_eq!(m.parts[0].institution_id, Some(5));
        assert_eq!(m.parts[0].numerator, 2.0);
    }

    #[test]
    fn a_zero_denominator_gives_no_value() {
        let mut s = county();
        s.population = 0;
        s.institutions.retain(|i| i.kind != K::Cdc);
        s.statistics.bands.clear();
        for code in [C::BedsPer1000, C::CdcStandardized, C::LifeExpectancy] {
            assert_eq!(compute(code, &s).value, None, "{code}");
        }
        // A count of persons always has its 10 000 denominator.
        assert_value(&s, C::PublicHealthStaff, 0.0035);
    }

    #[test]
    fn constant_hazard_life_table_gives_the_reciprocal_of_the_rate() {
        // With constant m, Chiang's q makes each band's table rate d/L equal
        // m, so T₀ = Σ d / m = l₀ / m and e₀ = 1/m, whatever a₀ is.
        for (pop, deaths) in [(1_000, 20), (800, 10), (5_000, 1)] {
            let bands = constant_bands(pop, deaths, 0.0);
            let m = Measure::from_parts(life_table(&bands, false), 1.0);
            assert!(close(m.value.unwrap(), pop as f64 / deaths as f64));
            assert!(close(m.denominator, RADIX));
        }
    }

    #[test]
    fn life_table_by_hand() {
        // Nobody dies before 85 and m = 0.2 at 85+: 85 years for all, then
        // l/m = 5 more: e₀ = 90.
        let mut bands = constant_bands(1_000, 0, 0.0);
        bands[18].deaths = 200;
        let e0 = |bands: &[AgeBand]| Measure::from_parts(life_table(bands, false), 1.0).value;
        assert!(close(e0(&bands).unwrap(), 90.0));
        // Add infant deaths m₀ = 0.1: q₀ = 0.1 / (1 + 0.9·0.1) = 0.0917431…,
        // L₀ = 1 − 0.9·q₀ (per survivor at birth), and the (1 − q₀) who
        // reach 1 live 84 + 5 more years: e₀ = 0.9174312 + 0.9082569·89
        // = 81.7522936.
        bands[0].deaths = 100;
        let q0 = 0.1 / 1.09;
        let by_hand = (1.0 - 0.9 * q0) + (1.0 - q0) * 89.0;
        assert!(close(e0(&bands).unwrap(), by_hand));
        assert!((by_hand - 81.7522936).abs() < 1e-6);
        // Sullivan: disabled only at 85+ (half) removes half of its 5 years.
        bands[18].disabled_share = 0.5;
        let hale = Measure::from_parts(life_table(&bands, true), 1.0)
            .value
            .unwrap();
        assert!(close(hale, by_hand - (1.0 - q0) * 2.5));
        // Unusable bands: no deaths at the open band, or an empty band.
        bands[18].deaths = 0;
        assert_eq!(e0(&bands), None);
        assert_eq!(e0(&[]), None);
    }

    #[test]
    fn statistics_round_trip_and_refuse_bad_rows() {
        let stats = county().statistics;
        assert_eq!(Statistics::from_pairs(&stats.to_pairs()), Ok(stats));
        let refused = |key: &str, v: f64| {
            let e = Statistics::from_pairs(&[(key.to_string(), v)]).unwrap_err();
            assert!(e.en.contains(key), "{e:?}");
        };
        refused("beds_0", 1.0);
        refused("population_3", 1.0);
        refused("population_90", 1.0);
        refused("population_5", -1.0);
        refused("population_5", 1.5);
        refused("childcare_places", f64::NAN);
        refused("disabled_85", 1.2);
        let pairs = [
            ("population_0".to_string(), 5.0),
            ("deaths_0".to_string(), 6.0),
        ];
        assert!(
            Statistics::from_pairs(&pairs)
                .unwrap_err()
                .en
                .contains("deaths_0")
        );
        let pairs = [("deaths_0".to_string(), 0.0), ("deaths_0".to_string(), 0.0)];
        assert!(
            Statistics::from_pairs(&pairs)
                .unwrap_err()
                .en
                .contains("repeated")
        );
    }

    #[test]
    fn both_versions_of_the_seed_table_load_and_compute() {
        let s = county();
        let at = NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
        for (file, text) in [("seed002-a.toml", SEED_A), ("seed002-b.toml", SEED_B)] {
            let plan = Plan::from_toml(file, text).unwrap_or_else(|e| panic!("{e}"));
            // Every row of 表1 (17 numbered rows, two sub-rows of row 5, 18, 19).
            assert_eq!(plan.indicators.len(), C::ALL.len(), "{file}");
            for ind in &plan.indicators {
                let actual = compute(ind.code, &s).value;
                assert!(actual.is_some(), "{file} {}", ind.code);
                let tracked = match ind.target {
                    Target::Tracks { code, .. } => compute(code, &s).value,
                    Target::Value(_) => None,
                };
                let _ = status(ind, actual, tracked, at);
            }
            let hale = plan.indicator(C::HealthyLifeExpectancy).unwrap();
            assert_eq!(
                hale.target,
                Target::Tracks {
                    code: C::LifeExpectancy,
                    tracked_baseline: 78.67
                }
            );
        }
        let a = Plan::from_toml("a", SEED_A).unwrap();
        let beds = a.indicator(C::BedsPer1000).unwrap();
        assert_eq!(
            (beds.baseline, beds.target),
            (Some(13.9), Target::Value(8.5))
        );
        let b = Plan::from_toml("b", SEED_B).unwrap();
        let physicians = b.indicator(C::PhysiciansPer1000).unwrap();
        assert_eq!(physicians.baseline, Some(5.82));
        assert_eq!(
            b.indicator(C::InfectiousDeptShare).unwrap().nature,
            Nature::Binding
        );
    }

    const ONE_ROW: &str = r#"name = "测试规划"
source = "test"

[[indicator]]
code = "beds_per_1000"
name = "每千人口医疗卫生机构床位(张)"
unit = "per_1000"
baseline_year = 2025
baseline = 13.9
target_year = 2030
target = 8.5
direction = ">="
nature = "expected"
"#;

    #[track_caller]
    fn refused(text: &str, line: usize, field: &str) -> ConfigError {
        let e = Plan::from_toml("plan.toml", text).unwrap_err();
        assert_eq!(e.code, PLAN_ERROR);
        assert_eq!(e.file, "plan.toml");
        assert_eq!((e.line, e.field.as_str()), (Some(line), field), "{e}");
        e
    }

    #[test]
    fn plan_errors_name_the_line_and_field() {
        assert!(Plan::from_toml("plan.toml", ONE_ROW).is_ok());
        let e = refused(
            &ONE_ROW.replace("\"beds_per_1000\"", "\"beds_per_100\""),
            5,
            "code",
        );
        assert!(e.en.contains("beds_per_100"));
        refused(&ONE_ROW.replace("nature = \"expected\"\n", ""), 4, "nature");
        refused(
            &ONE_ROW.replace("per_1000\"\nbaseline_year", "percent\"\nbaseline_year"),
            7,
            "unit",
        );
        refused(
            &ONE_ROW.replace("unit = \"per_1000\"", "unit = \"furlongs\""),
            7,
            "unit",
        );
        refused(&ONE_ROW.replace("\">=\"", "\">>\""), 12, "direction");
        refused(&ONE_ROW.replace("\"expected\"", "\"maybe\""), 13, "nature");
        refused(
            &ONE_ROW.replace("target_year = 2030", "target_year = 2020"),
            10,
            "target_year",
        );
        refused(
            &ONE_ROW.replace("target = 8.5", "target = -1"),
            11,
            "target",
        );
        refused(&ONE_ROW.replace("target = 8.5\n", ""), 5, "target");
        refused(
            &ONE_ROW.replace("nature =", "colour = \"red\"\nnature ="),
            13,
            "colour",
        );
        let row = &ONE_ROW[ONE_ROW.find("[[indicator]]").unwrap()..];
        refused(&format!("{ONE_ROW}\n{row}"), 16, "code");
        let e = Plan::from_toml("plan.toml", "name = \"x\"\nsource = \"y\"\n").unwrap_err();
        assert_eq!(e.field, "indicator");
    }

    #[test]
    fn plan_accepts_signs_and_labels_and_resolves_tracks() {
        let text = ONE_ROW
            .replace("\">=\"", "\"≤\"")
            .replace("\"expected\"", "\"约束性\"");
        let plan = Plan::from_toml("plan.toml", &text).unwrap();
        assert_eq!(plan.indicators[0].direction, Direction::AtMost);
        assert_eq!(plan.indicators[0].nature, Nature::Binding);

        let tracking = |tracks: &str| {
            format!(
                "{ONE_ROW}\n[[indicator]]\ncode = \"healthy_life_expectancy\"\nname = \"h\"\nunit = \"years\"\n\
                 baseline_year = 2025\nbaseline = 70\ntarget_year = 2030\ntracks = \"{tracks}\"\n\
                 direction = \">=\"\nnature = \"expected\"\n"
            )
        };
        let plan = Plan::from_toml("plan.toml", &tracking("beds_per_1000")).unwrap();
        let h = &plan.indicators[1];
        assert_eq!(
            h.target,
            Target::Tracks {
                code: C::BedsPer1000,
                tracked_baseline: 13.9
            }
        );
        // 同比例提高: 70 × 15.29 / 13.9 = 77.
        assert!(close(h.target_value(Some(15.29)).unwrap(), 77.0));
        assert_eq!(h.target_value(None), None);
        refused(&tracking("life_expectancy"), 22, "tracks");
        refused(&tracking("healthy_life_expectancy"), 22, "tracks");
    }

    fn row(
        direction: Direction,
        nature: Nature,
        baseline: Option<f64>,
        target: f64,
    ) -> PlanIndicator {
        PlanIndicator {
            code: C::GpsPer10000,
            name: "每万人口全科医生数".into(),
            unit: Unit::Per10000,
            baseline_year: 2025,
            baseline,
            target_year: 2030,
            target: Target::Value(target),
            direction,
            nature,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn status_follows_the_straight_path() {
        // 2.0 at the end of 2025 → 4.0 at the end of 2030 (1826 days).
        let ind = row(Direction::AtLeast, Nature::Binding, Some(2.0), 4.0);
        let mid = day(2028, 7, 1); // 913 days in: exactly half way, path 3.0.
        assert_eq!(status(&ind, Some(4.0), None, mid), Status::Met);
        assert_eq!(status(&ind, Some(3.0), None, mid), Status::OnTrack);
        assert_eq!(status(&ind, Some(2.999), None, mid), Status::Behind);
        // Before the baseline year ends the path is the baseline.
        assert_eq!(
            status(&ind, Some(2.0), None, day(2025, 6, 1)),
            Status::OnTrack
        );
        // On the target year's last day the path is the target.
        assert_eq!(
            status(&ind, Some(3.99), None, day(2030, 12, 31)),
            Status::Behind
        );
        assert_eq!(
            status(&ind, Some(3.99), None, day(2031, 1, 1)),
            Status::Missed
        );
        assert_eq!(status(&ind, Some(4.01), None, day(2035, 1, 1)), Status::Met);
        // No actual, or no baseline: never on track.
        assert_eq!(status(&ind, None, None, mid), Status::NoData);
        let no_baseline = row(Direction::AtLeast, Nature::Binding, None, 100.0);
        assert_eq!(
            status(&no_baseline, Some(99.0), None, day(2026, 1, 1)),
            Status::Behind
        );
        assert_eq!(
            status(&no_baseline, Some(100.0), None, day(2026, 1, 1)),
            Status::Met
        );
        // A computed 2/3·3 is 2.0 within the tolerance.
        let exact = row(Direction::Equal, Nature::Expected, Some(1.0), 2.0);
        assert_eq!(
            status(&exact, Some(2.0 / 3.0 * 3.0), None, mid),
            Status::Met
        );
        assert_eq!(status(&exact, Some(1.6), None, mid), Status::OnTrack);
        assert_eq!(status(&exact, Some(2.6), None, mid), Status::Behind);
        // ≤: a falling target.
        let down = row(Direction::AtMost, Nature::Expected, Some(10.0), 6.0);
        assert_eq!(status(&down, Some(8.0), None, mid), Status::OnTrack);
        assert_eq!(status(&down, Some(8.1), None, mid), Status::Behind);
    }

    #[test]
    fn binding_indicators_behind_or_missed_alarm() {
        let binding = row(Direction::AtLeast, Nature::Binding, Some(2.0), 4.0);
        let expected = row(Direction::AtLeast, Nature::Expected, Some(2.0), 4.0);
        for s in Status::ALL {
            let behind = matches!(s, Status::Behind | Status::Missed);
            assert_eq!(alarm(&binding, *s), behind, "{s}");
            assert!(!alarm(&expected, *s), "{s}");
        }
        assert_eq!(Status::OnTrack.label_zh(), "按进度");
    }

    #[test]
    fn every_code_has_a_unit_and_a_definition() {
        for code in C::ALL {
            assert!(Unit::ALL.contains(&code.unit()));
            assert!(code.definition_zh().ends_with('。'), "{code}");
        }
    }
}
