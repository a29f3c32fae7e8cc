//! 监测评估 — the monitoring service: planning indicators against a plan
//! file (from the registries), tiered-care indicators (from recorded
//! activity) per county, consortium, institution and month, consortium
//! performance scorecards with ranking, accessibility on the road network,
//! and the drill-down from a figure to the records behind it.
//!
//! The rules and formulas are the domain's (`yilian_domain::plan`,
//! `yilian_domain::monitoring`, `yilian_analytics::access`); this module
//! loads what they read, once per request, and assembles scopes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;
use yilian_analytics::access::{RoadGraph, coverage, travel_times, two_step_fca};
use yilian_domain::access::{Action, Principal, ResidentScope, resident_scope};
use yilian_domain::contract;
use yilian_domain::error::ConfigError;
use yilian_domain::monitoring::{
    IndicatorRef, KeyPopulationCount, Scorecard, TieredCounts, TieredIndicator, rank, score,
};
use yilian_domain::plan::{
    self, InstitutionFacts, Measure, Plan, PlanIndicatorCode, PractitionerFacts, Snapshot,
    Statistics, Status,
};
use yilian_domain::registry::{InstitutionKind, Profession};
use yilian_domain::resident::{KeyPopulation, decode_tags};
use yilian_store::monitoring::{self as store, DrillFilter, DrillRow, Period, Source};
use yilian_store::registry::{self, InstitutionRow};
use yilian_store::{Paging, Store};

use crate::error::{ApiError, ApiResult};

/// The plans shipped in `config/plans/` (seed 002 Table 1, both versions).
pub const SHIPPED_PLANS: [(&str, &str); 2] = [
    (
        "config/plans/seed002-a.toml",
        include_str!("../../../config/plans/seed002-a.toml"),
    ),
    (
        "config/plans/seed002-b.toml",
        include_str!("../../../config/plans/seed002-b.toml"),
    ),
];

/// The shipped scorecard (`config/scorecard.toml`).
pub const SHIPPED_SCORECARD: (&str, &str) = (
    "config/scorecard.toml",
    include_str!("../../../config/scorecard.toml"),
);

/// The shipped plans, parsed.
#[allow(
    clippy::result_large_err,
    reason = "a refused file is reported once, on a cold path; ConfigError carries file, line and both messages"
)]
pub fn shipped_plans() -> Result<Vec<Plan>, ConfigError> {
    SHIPPED_PLANS
        .iter()
        .map(|(file, text)| Plan::from_toml(file, text))
        .collect()
}

/// The scorecard in force: `YILIAN_SCORECARD` (a file) or the shipped one;
/// a plan-indicator code it scores must be in the plan catalogue.
#[allow(
    clippy::result_large_err,
    reason = "a refused file is reported once, on a cold path; ConfigError carries file, line and both messages"
)]
pub fn load_scorecard() -> Result<Scorecard, ConfigError> {
    match std::env::var("YILIAN_SCORECARD") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(
                    "invalid_scorecard",
                    &path,
                    None,
                    "file",
                    format!("无法读取：{e}"),
                    format!("cannot read: {e}"),
                )
            })?;
            let card = Scorecard::from_toml(&path, &text)?;
            card.check_plan_codes(&path, |c| PlanIndicatorCode::parse(c).is_some())?;
            Ok(card)
        }
        Err(_) => Scorecard::from_toml(SHIPPED_SCORECARD.0, SHIPPED_SCORECARD.1),
    }
}

fn require(p: &Principal, action: Action) -> ApiResult<()> {
    if yilian_domain::access::allowed(p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The region a caller may monitor (empty: everything).
pub fn area(p: &Principal) -> ApiResult<String> {
    require(p, Action::ReadMonitoring)?;
    match resident_scope(p) {
        ResidentScope::All => Ok(String::new()),
        ResidentScope::Area { prefix, .. } => Ok(prefix),
        _ => Err(ApiError::forbidden()),
    }
}

/// The county a monitoring request is about: the caller's own county, or
/// the first county under their area.
pub async fn county_of(store: &Store, area: &str) -> ApiResult<String> {
    if area.len() >= 6 {
        return Ok(area[..6].to_string());
    }
    let mut c = store.read().await?;
    store::regions_in(&mut c, area)
        .await?
        .into_iter()
        .find(|r| r.level == "county")
        .map(|r| r.code)
        .ok_or_else(|| ApiError::not_found("county"))
}

fn year_period(year: i32, at: NaiveDate) -> Period {
    let end = NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap_or(at);
    Period {
        from: format!("{year:04}-01-01"),
        to: end.min(at.succ_opt().unwrap_or(at)).to_string(),
    }
}

// ------------------------------------------------------------------ plan

/// One planning indicator evaluated on a date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanRow {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub definition: String,
    pub nature: String,
    pub nature_zh: String,
    pub direction: String,
    pub baseline_year: Option<i32>,
    pub baseline: Option<f64>,
    pub target_year: i32,
    pub target: Option<f64>,
    pub actual: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    pub status: String,
    pub status_zh: String,
    pub alarm: bool,
}

/// A plan evaluated for a county on a date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanReport {
    pub plan: String,
    pub region_code: String,
    pub at: String,
    pub population: i64,
    pub rows: Vec<PlanRow>,
    pub alarms: usize,
}

/// The registry snapshot of a region: its institutions, their main-site
/// practitioners, its population and the statistics of `year` (falling
/// back to the year before when this year's are not in yet).
pub async fn snapshot(store: &Store, region: &str, year: i32) -> ApiResult<Snapshot> {
    let mut c = store.read().await?;
    let population = registry::get_region(&mut c, region)
        .await?
        .and_then(|r| r.population)
        .unwrap_or(0);
    let institutions = store::institutions_in(&mut c, region)
        .await?
        .iter()
        .filter_map(facts_of)
        .collect();
    let practitioners = store::practitioners_in(&mut c, region)
        .await?
        .into_iter()
        .filter_map(|p| {
            Some(PractitionerFacts {
                id: p.id,
                main_institution_id: p.institution_id,
                profession: Profession::parse(&p.profession)?,
                is_gp: p.is_gp != 0,
                is_tcm: p.is_tcm != 0,
            })
        })
        .collect();
    let mut stats = store::statistics(&mut c, region, year).await?;
    if stats.is_empty() {
        stats = store::statistics(&mut c, region, year - 1).await?;
    }
    let mut childcare = 0.0;
    let mut county_pairs = Vec::new();
    for s in stats {
        if s.key == "childcare_places" {
            childcare += s.value;
        } else if s.region_code == region {
            county_pairs.push((s.key, s.value));
        }
    }
    county_pairs.push(("childcare_places".into(), childcare));
    let statistics = Statistics::from_pairs(&county_pairs)?;
    Ok(Snapshot {
        region_code: region.to_string(),
        population,
        institutions,
        practitioners,
        statistics,
    })
}

fn facts_of(r: &InstitutionRow) -> Option<InstitutionFacts> {
    Some(InstitutionFacts {
        id: r.id,
        code: r.code.clone(),
        name: r.name.clone(),
        kind: InstitutionKind::parse(&r.kind)?,
        grade: r
            .grade
            .as_deref()
            .and_then(yilian_domain::registry::Grade::parse),
        ownership: yilian_domain::registry::Ownership::parse(&r.ownership)?,
        region_code: r.region_code.clone(),
        beds: r
            .beds
            .0
            .iter()
            .filter_map(|(k, v)| Some((yilian_domain::registry::BedType::parse(k)?, *v)))
            .collect(),
        staff: r
            .staff
            .0
            .iter()
            .filter_map(|(k, v)| Some((Profession::parse(k)?, *v)))
            .collect(),
        services: r
            .services
            .0
            .iter()
            .filter_map(|s| yilian_domain::registry::Service::parse(s))
            .collect(),
    })
}

/// Evaluates `plan` for the county on `at`: each indicator's actual value,
/// its status against the straight path to the target, and the alarms for
/// binding (约束性) targets behind or missed.
pub fn evaluate_plan(plan: &Plan, snap: &Snapshot, at: NaiveDate) -> PlanReport {
    let measures: HashMap<PlanIndicatorCode, Measure> = plan
        .indicators
        .iter()
        .map(|i| (i.code, plan::compute(i.code, snap)))
        .collect();
    let value_of = |code: PlanIndicatorCode| {
        measures
            .get(&code)
            .cloned()
            .unwrap_or_else(|| plan::compute(code, snap))
            .value
    };
    let rows: Vec<PlanRow> = plan
        .indicators
        .iter()
        .map(|ind| {
            let m = &measures[&ind.code];
            let tracked = match ind.target {
                plan::Target::Tracks { code, .. } => value_of(code),
                plan::Target::Value(_) => None,
            };
            let status = plan::status(ind, m.value, tracked, at);
            PlanRow {
                code: ind.code.as_str().into(),
                name: ind.name.clone(),
                unit: ind.code.unit().label_zh().into(),
                definition: ind.code.definition_zh().into(),
                nature: ind.nature.as_str().into(),
                nature_zh: ind.nature.label_zh().into(),
                direction: ind.direction.label_zh().into(),
                baseline_year: Some(ind.baseline_year),
                baseline: ind.baseline,
                target_year: ind.target_year,
                target: ind.target_value(tracked),
                actual: m.value,
                numerator: m.numerator,
                denominator: m.denominator,
                status: status.as_str().into(),
                status_zh: status.label_zh().into(),
                alarm: plan::alarm(ind, status),
            }
        })
        .collect();
    PlanReport {
        plan: plan.name.clone(),
        region_code: snap.region_code.clone(),
        at: at.to_string(),
        population: snap.population,
        alarms: rows.iter().filter(|r| r.alarm).count(),
        rows,
    }
}

/// The plan report for the caller's county.
pub async fn plan_report(
    store: &Store,
    p: &Principal,
    plan: &Plan,
    at: NaiveDate,
) -> ApiResult<PlanReport> {
    let county = county_of(store, &area(p)?).await?;
    let snap = snapshot(store, &county, at.year()).await?;
    Ok(evaluate_plan(plan, &snap, at))
}

/// The institutions behind one planning figure (the measure's parts).
pub async fn plan_drill(
    store: &Store,
    p: &Principal,
    code: &str,
    at: NaiveDate,
) -> ApiResult<(PlanIndicatorCode, Measure)> {
    let code = PlanIndicatorCode::parse_field("code", code)?;
    let county = county_of(store, &area(p)?).await?;
    let snap = snapshot(store, &county, at.year()).await?;
    Ok((code, plan::compute(code, &snap)))
}

// ---------------------------------------------------------------- tiered

/// What the tiered-care indicators read for one year up to a date.
#[derive(Debug)]
pub struct Facts {
    pub period: Period,
    pub at: NaiveDate,
    institutions: HashMap<i64, InstitutionRow>,
    encounters: Vec<store::Fact>,
    up: Vec<store::Fact>,
    down: Vec<store::Fact>,
    orders: Vec<store::OrderFact>,
    reads: Vec<store::ReadFact>,
    chronic: Vec<store::ChronicFact>,
    populations: Vec<store::PopulationFact>,
    contracts: Vec<(store::ContractFact, bool)>,
    fund: Vec<store::FundFact>,
    capitation: Vec<crate::insurance::Position>,
}

/// A scope: the institutions whose activity counts, and the townships
/// whose residents count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScopeDef {
    /// `county`, `consortium` or `institution`.
    pub kind: String,
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub institutions: BTreeSet<i64>,
    #[serde(skip)]
    pub townships: BTreeSet<String>,
    #[serde(skip)]
    pub consortium_id: Option<i64>,
}

pub async fn facts(
    store: &Store,
    p: &Principal,
    county: &str,
    year: i32,
    at: NaiveDate,
) -> ApiResult<Facts> {
    let period = year_period(year, at);
    let mut c = store.read().await?;
    let institutions = store::institutions_in(&mut c, "")
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let encounters = store::encounters(&mut c, &period).await?;
    let up = store::referrals(&mut c, &period, "up").await?;
    let down = store::referrals(&mut c, &period, "down").await?;
    let orders = store::test_orders(&mut c, &period).await?;
    let reads = store::remote_reads(&mut c, &period).await?;
    let chronic = store::chronic(&mut c, &period).await?;
    // 65 and over; 0–6 (before the 7th birthday): the domain's age rule.
    let born_by = |years: i32| yilian_domain::resident::born_by_age(at, years).to_string();
    let populations = store::populations(&mut c, county, &born_by(65), &born_by(7)).await?;
    let packages = yilian_store::care::packages_in_force(&mut c, &at.to_string()).await?;
    let contracts = store::active_contracts(&mut c)
        .await?
        .into_iter()
        .map(|k| {
            let effective = match (
                k.start_date.parse::<NaiveDate>(),
                k.end_date.parse::<NaiveDate>(),
            ) {
                (Ok(start), Ok(end)) => {
                    let items = contract::progress(
                        &packages,
                        &k.packages,
                        |kind| {
                            k.delivered
                                .iter()
                                .find(|(d, _)| d == kind.as_str())
                                .map_or(0, |(_, n)| *n)
                        },
                        start,
                        end,
                        at,
                    );
                    contract::is_effective(&items)
                }
                _ => false,
            };
            (k, effective)
        })
        .collect();
    let fund = store::fund(&mut c, &period).await?;
    drop(c);
    let capitation = crate::insurance::positions(store, p, year, at).await?;
    Ok(Facts {
        period,
        at,
        institutions,
        encounters,
        up,
        down,
        orders,
        reads,
        chronic,
        populations,
        contracts,
        fund,
        capitation,
    })
}

impl Facts {
    fn is_primary(&self, institution_id: i64) -> bool {
        self.institutions
            .get(&institution_id)
            .and_then(|i| InstitutionKind::parse(&i.kind))
            .is_some_and(InstitutionKind::is_primary)
    }

    fn region_of(&self, institution_id: i64) -> &str {
        self.institutions
            .get(&institution_id)
            .map_or("", |i| i.region_code.as_str())
    }

    /// The scopes of a county: the county, each county consortium
    /// (lead and members; the townships of its primary members), each
    /// institution in the county (a township or community center's township
    /// is its catchment).
    pub async fn scopes(&self, store: &Store, county: &str) -> ApiResult<Vec<ScopeDef>> {
        let mut c = store.read().await?;
        let mut out = Vec::new();
        let in_county: BTreeSet<i64> = self
            .institutions
            .values()
            .filter(|i| i.region_code.starts_with(county))
            .map(|i| i.id)
            .collect();
        let townships: BTreeSet<String> = store::regions_in(&mut c, county)
            .await?
            .into_iter()
            .filter(|r| r.level == "township")
            .map(|r| r.code)
            .collect();
        let name = registry::get_region(&mut c, county)
            .await?
            .map_or_else(|| county.to_string(), |r| r.name);
        out.push(ScopeDef {
            kind: "county".into(),
            id: county.into(),
            name,
            institutions: in_county.clone(),
            townships: townships.clone(),
            consortium_id: None,
        });
        let consortia = registry::list_consortia(
            &mut c,
            &registry::ConsortiumFilter {
                kind: Some("county_consortium".into()),
                within: Some(county.into()),
                ..Default::default()
            },
            Paging::new(Some(500), None),
        )
        .await?;
        for k in consortia.items {
            let mut ids: BTreeSet<i64> = registry::members(&mut c, k.id)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect();
            ids.insert(k.lead_institution_id);
            let ts = ids
                .iter()
                .filter(|id| self.is_primary(**id))
                .map(|id| self.region_of(*id))
                .filter(|r| r.len() >= 9)
                .map(|r| r[..9].to_string())
                .collect();
            out.push(ScopeDef {
                kind: "consortium".into(),
                id: k.id.to_string(),
                name: k.name.clone(),
                institutions: ids,
                townships: ts,
                consortium_id: Some(k.id),
            });
        }
        let mut insts: Vec<&InstitutionRow> = in_county
            .iter()
            .filter_map(|id| self.institutions.get(id))
            .filter(|i| i.kind != "cdc" && i.kind != "village_clinic")
            .collect();
        insts.sort_by(|a, b| a.region_code.cmp(&b.region_code).then(a.id.cmp(&b.id)));
        for i in insts {
            let center = matches!(
                i.kind.as_str(),
                "township_health_center" | "community_health_center"
            );
            out.push(ScopeDef {
                kind: "institution".into(),
                id: i.id.to_string(),
                name: i.name.clone(),
                institutions: BTreeSet::from([i.id]),
                townships: if center && i.region_code.len() >= 9 {
                    BTreeSet::from([i.region_code[..9].to_string()])
                } else {
                    BTreeSet::new()
                },
                consortium_id: None,
            });
        }
        Ok(out)
    }

    /// The counts of a scope, for the whole period or one month (`YYYY-MM`;
    /// stock figures — contracts, chronic care, populations, capitation —
    /// are as they stand at the period's end either way).
    pub fn counts(&self, s: &ScopeDef, month: Option<&str>) -> TieredCounts {
        let in_month = |m: &str| month.is_none_or(|x| x == m);
        let at_inst = |i: Option<i64>| i.is_some_and(|i| s.institutions.contains(&i));
        let of_town = |t: &Option<String>| t.as_ref().is_some_and(|t| s.townships.contains(t));
        let mut k = TieredCounts::default();
        for f in self.encounters.iter().filter(|f| in_month(&f.month)) {
            if at_inst(f.institution_id) {
                k.visits += f.n;
                if f.institution_id.is_some_and(|i| self.is_primary(i)) {
                    k.visits_primary += f.n;
                }
            }
            if of_town(&f.township) {
                k.resident_visits += f.n;
                let county = f.township.as_deref().map_or("", |t| &t[..6.min(t.len())]);
                if f.institution_id
                    .is_some_and(|i| !county.is_empty() && self.region_of(i).starts_with(county))
                {
                    k.resident_visits_in_county += f.n;
                }
            }
        }
        let sum = |v: &[store::Fact]| {
            v.iter()
                .filter(|f| in_month(&f.month) && at_inst(f.institution_id))
                .map(|f| f.n)
                .sum::<i64>()
        };
        k.referrals_up = sum(&self.up);
        k.referrals_down = sum(&self.down);
        for o in self
            .orders
            .iter()
            .filter(|o| in_month(&o.month) && at_inst(o.institution_id))
        {
            // The rate's denominator: orders where an earlier result could
            // have been used (used, or repeated with a reason); `new` orders
            // had nothing to recognise.
            match o.outcome.as_str() {
                "recognized" => {
                    k.recognition_orders += o.n;
                    k.recognitions += o.n;
                    k.recognition_saved_fen += o.saved_fen;
                }
                "repeated" => k.recognition_orders += o.n,
                _ => {}
            }
        }
        let mut turnaround = Vec::new();
        for r in self
            .reads
            .iter()
            .filter(|r| in_month(&r.month) && at_inst(r.institution_id))
        {
            k.remote_reads += 1;
            if r.signed_at <= r.due_at {
                k.remote_reads_on_time += 1;
            }
            if let Some(m) = minutes_between(&r.requested_at, &r.signed_at) {
                turnaround.push(m);
            }
        }
        k.remote_turnaround_median_min = median(&mut turnaround);
        // Stock figures: residents of the scope's townships.
        let mut pops: BTreeMap<KeyPopulation, (i64, i64)> = BTreeMap::new();
        for f in self
            .populations
            .iter()
            .filter(|f| s.townships.contains(&f.township))
        {
            let mut tags = decode_tags(&f.tags);
            if f.elderly != 0 {
                tags.push(KeyPopulation::Elderly65);
            }
            if f.child != 0 {
                tags.push(KeyPopulation::Child0To6);
            }
            for t in tags {
                let e = pops.entry(t).or_default();
                e.0 += f.n;
                e.1 += f.n * f.contracted;
            }
        }
        k.key_populations = pops
            .into_iter()
            .map(|(population, (people, contracted))| KeyPopulationCount {
                population,
                people,
                contracted,
            })
            .collect();
        for (_, effective) in self
            .contracts
            .iter()
            .filter(|(c, _)| s.townships.contains(&c.township))
        {
            k.contracts_active += 1;
            k.contracts_effective += i64::from(*effective);
        }
        for e in self.chronic.iter().filter(|e| of_town(&e.township)) {
            let (standardized, controlled) = self.chronic_status(e);
            let (n, std, ctl) = match e.program.as_str() {
                "hypertension" => (
                    &mut k.htn_patients,
                    &mut k.htn_standardized,
                    &mut k.htn_controlled,
                ),
                _ => (
                    &mut k.dm_patients,
                    &mut k.dm_standardized,
                    &mut k.dm_controlled,
                ),
            };
            *n += 1;
            *std += i64::from(standardized);
            *ctl += i64::from(controlled);
        }
        for f in self
            .fund
            .iter()
            .filter(|f| in_month(&f.month) && of_town(&f.township))
        {
            k.fund_total_fen += f.fund_fen;
            if f.in_county != 0 {
                k.fund_in_county_fen += f.fund_fen;
            }
        }
        let positions = self.capitation.iter().filter(|pos| match s.kind.as_str() {
            "consortium" => s.consortium_id == Some(pos.consortium_id),
            "county" => true,
            _ => false,
        });
        for pos in positions {
            k.capitation_budget_fen += pos.budget_fen;
            k.capitation_spent_fen += pos.forecast.spent_fen;
            k.capitation_forecast_fen += pos.forecast.projected_fen;
        }
        k
    }

    /// A managed patient's standing at the period's end: standardized
    /// management (the follow-ups the norm asks for, pro rata over the days
    /// managed in the period) and control at the last follow-up.
    fn chronic_status(&self, e: &store::ChronicFact) -> (bool, bool) {
        let managed_days = e
            .enrolled_on
            .parse::<NaiveDate>()
            .ok()
            .and_then(|d| {
                let from = self.period.from.parse::<NaiveDate>().ok()?;
                Some((self.at - d.max(from)).num_days() + 1)
            })
            .unwrap_or(0);
        (
            yilian_domain::chronic::standardized_management(
                e.followups.max(0) as u32,
                managed_days,
            ),
            e.controlled == Some(1),
        )
    }

    /// The records behind a stock figure (contracts, managed patients) of a
    /// scope — the same rows [`Facts::counts`] counted.
    fn stock_rows(
        &self,
        s: &ScopeDef,
        indicator: TieredIndicator,
        numerator: bool,
    ) -> Option<Vec<DrillRow>> {
        use TieredIndicator as T;
        let name = |id: Option<i64>| {
            id.and_then(|i| self.institutions.get(&i))
                .map_or_else(String::new, |i| i.name.clone())
        };
        let in_scope = |t: &Option<String>| t.as_ref().is_some_and(|t| s.townships.contains(t));
        match indicator {
            T::EffectiveContractRate => Some(
                self.contracts
                    .iter()
                    .filter(|(c, eff)| s.townships.contains(&c.township) && (!numerator || *eff))
                    .map(|(c, eff)| DrillRow {
                        id: c.id,
                        at: c.start_date.clone(),
                        resident_id: c.resident_id,
                        institution_id: c.institution_id,
                        institution_name: name(Some(c.institution_id)),
                        township: c.township.clone(),
                        label: if *eff {
                            "有效签约"
                        } else {
                            "服务未按进度"
                        }
                        .into(),
                    })
                    .collect(),
            ),
            T::HtnStandardizedRate
            | T::HtnControlRate
            | T::DmStandardizedRate
            | T::DmControlRate => {
                let program = match indicator {
                    T::HtnStandardizedRate | T::HtnControlRate => "hypertension",
                    _ => "diabetes_t2",
                };
                let control = matches!(indicator, T::HtnControlRate | T::DmControlRate);
                Some(
                    self.chronic
                        .iter()
                        .filter(|e| e.program == program && in_scope(&e.township))
                        .filter(|e| {
                            let (std, ctl) = self.chronic_status(e);
                            !numerator || if control { ctl } else { std }
                        })
                        .map(|e| DrillRow {
                            id: e.enrolment_id,
                            at: e.enrolled_on.clone(),
                            resident_id: e.resident_id,
                            institution_id: e.institution_id.unwrap_or(0),
                            institution_name: name(e.institution_id),
                            township: e.township.clone().unwrap_or_default(),
                            label: format!("本期随访 {} 次", e.followups),
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// The months of the period (`YYYY-MM`), in order.
    pub fn months(&self) -> Vec<String> {
        let y = &self.period.from[..4];
        (1..=12)
            .map(|m| format!("{y}-{m:02}"))
            .filter(|m| m.as_str() < self.period.to.as_str())
            .collect()
    }
}

/// Minutes between two stored times (local `YYYY-MM-DDTHH:MM:SS`, or RFC
/// 3339 with an offset — both formats are stored).
fn minutes_between(from: &str, to: &str) -> Option<f64> {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.naive_utc() + chrono::Duration::hours(8))
            .or_else(|_| t.parse::<chrono::NaiveDateTime>())
            .ok()
    };
    Some((parse(to)? - parse(from)?).num_seconds() as f64 / 60.0)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// One scope's indicator values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TieredRow {
    pub scope: ScopeDef,
    #[schema(value_type = Object)]
    pub counts: TieredCounts,
    /// (indicator code, value) in catalogue order; `None`: no denominator.
    pub values: Vec<(String, Option<f64>)>,
}

/// The tiered-care report: every scope for the period, and the county by
/// month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TieredReport {
    pub county: String,
    /// The month the rows' flow figures are for, if one was asked.
    pub month: Option<String>,
    pub from: String,
    pub to: String,
    pub rows: Vec<TieredRow>,
    /// (`YYYY-MM`, the county's counts that month).
    #[schema(value_type = Vec<Object>)]
    pub months: Vec<(String, TieredCounts)>,
}

fn row_of(scope: ScopeDef, counts: TieredCounts) -> TieredRow {
    let values = TieredIndicator::ALL
        .iter()
        .map(|i| {
            (
                i.as_str().to_string(),
                yilian_domain::monitoring::value(*i, &counts),
            )
        })
        .collect();
    TieredRow {
        scope,
        counts,
        values,
    }
}

/// The tiered-care report of `year` up to `at`; with `month` (`YYYY-MM`)
/// every scope's flow figures are that month's.
pub async fn tiered(
    store: &Store,
    p: &Principal,
    year: i32,
    at: NaiveDate,
    month: Option<&str>,
) -> ApiResult<TieredReport> {
    if let Some(m) = month
        && !(m.len() == 7
            && m.starts_with(&format!("{year:04}-"))
            && m[5..].parse::<u32>().is_ok_and(|n| (1..=12).contains(&n)))
    {
        return Err(ApiError::invalid(
            "month",
            "月份应为所查年度的 YYYY-MM",
            "month must be YYYY-MM within the year",
        ));
    }
    let county = county_of(store, &area(p)?).await?;
    let f = facts(store, p, &county, year, at).await?;
    let scopes = f.scopes(store, &county).await?;
    let months = f
        .months()
        .into_iter()
        .map(|m| {
            let k = f.counts(&scopes[0], Some(&m));
            (m, k)
        })
        .collect();
    let rows = scopes
        .into_iter()
        .map(|s| {
            let k = f.counts(&s, month);
            row_of(s, k)
        })
        .collect();
    Ok(TieredReport {
        county,
        month: month.map(str::to_string),
        from: f.period.from.clone(),
        to: f.period.to.clone(),
        rows,
        months,
    })
}

// ------------------------------------------------------------- scorecards

/// One entity's score sheet and rank.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Scored {
    pub scope: ScopeDef,
    pub total: f64,
    pub rank: u32,
    #[schema(value_type = Object)]
    pub sheet: yilian_domain::monitoring::ScoreSheet,
}

/// 绩效考核 — the scorecard applied to every county consortium and every
/// township or community health center of the county for `year`, ranked
/// within each kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Evaluation {
    pub scorecard: String,
    pub county: String,
    pub year: i32,
    pub consortia: Vec<Scored>,
    pub institutions: Vec<Scored>,
}

pub async fn evaluate(
    store: &Store,
    p: &Principal,
    year: i32,
    at: NaiveDate,
) -> ApiResult<Evaluation> {
    let card = load_scorecard()?;
    let county = county_of(store, &area(p)?).await?;
    let at = at.min(NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(at));
    let f = facts(store, p, &county, year, at).await?;
    let snap = snapshot(store, &county, year).await?;
    let mut c = store.read().await?;
    let mut town_pop: HashMap<String, i64> = HashMap::new();
    for r in store::regions_in(&mut c, &county)
        .await?
        .into_iter()
        .filter(|r| r.level == "township")
    {
        town_pop.insert(r.code.clone(), r.population.unwrap_or(0));
    }
    drop(c);
    let scopes = f.scopes(store, &county).await?;
    let mut consortia = Vec::new();
    let mut institutions = Vec::new();
    // Consortia, and the township and community health centers (the
    // institutions with a catchment): the scorecard's resident-side
    // indicators mean nothing for a hospital or a station, so those are
    // not ranked against the centers.
    let ranked = scopes
        .into_iter()
        .filter(|s| s.kind == "consortium" || (s.kind == "institution" && !s.townships.is_empty()));
    for s in ranked {
        let counts = f.counts(&s, None);
        let sub = Snapshot {
            region_code: snap.region_code.clone(),
            population: s.townships.iter().filter_map(|t| town_pop.get(t)).sum(),
            institutions: snap
                .institutions
                .iter()
                .filter(|i| s.institutions.contains(&i.id))
                .cloned()
                .collect(),
            practitioners: snap
                .practitioners
                .iter()
                .filter(|p| s.institutions.contains(&p.main_institution_id))
                .cloned()
                .collect(),
            statistics: snap.statistics.clone(),
        };
        let sheet = score(&card, &|r| match r {
            IndicatorRef::Tiered(t) => yilian_domain::monitoring::value(*t, &counts),
            IndicatorRef::Plan(code) => {
                PlanIndicatorCode::parse(code).and_then(|code| plan::compute(code, &sub).value)
            }
        });
        let scored = Scored {
            total: sheet.total,
            rank: 0,
            scope: s,
            sheet,
        };
        if scored.scope.kind == "consortium" {
            consortia.push(scored);
        } else {
            institutions.push(scored);
        }
    }
    for list in [&mut consortia, &mut institutions] {
        let ranks = rank(
            &list
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.total))
                .collect::<Vec<_>>(),
        );
        for (i, _, r) in ranks {
            list[i].rank = r;
        }
        list.sort_by_key(|s| s.rank);
    }
    Ok(Evaluation {
        scorecard: card.name.clone(),
        county,
        year,
        consortia,
        institutions,
    })
}

// -------------------------------------------------------------- drill-down

/// Which records lie behind a tiered figure's numerator or denominator, and
/// how the scope filters them: by the institutions where care happened, by
/// the townships whose residents it concerns, or both.
struct DrillPlan {
    source: Source,
    institutions: Option<Vec<i64>>,
    townships: Option<Vec<String>>,
}

fn drill_plan(
    indicator: TieredIndicator,
    numerator: bool,
    scope: &ScopeDef,
    institutions: &HashMap<i64, InstitutionRow>,
) -> Option<DrillPlan> {
    use TieredIndicator as T;
    let at_scope = Some(scope.institutions.iter().copied().collect::<Vec<_>>());
    let of_scope = Some(scope.townships.iter().cloned().collect::<Vec<_>>());
    let kind_of = |id: &i64| {
        institutions
            .get(id)
            .and_then(|i| InstitutionKind::parse(&i.kind))
    };
    let plan = |source, institutions, townships| {
        Some(DrillPlan {
            source,
            institutions,
            townships,
        })
    };
    match (indicator, numerator) {
        (T::PrimaryVisitShare, false) => plan(Source::Encounters, at_scope, None),
        (T::PrimaryVisitShare, true) => plan(
            Source::Encounters,
            Some(
                scope
                    .institutions
                    .iter()
                    .filter(|id| kind_of(id).is_some_and(InstitutionKind::is_primary))
                    .copied()
                    .collect(),
            ),
            None,
        ),
        (T::InCountyRate, false) => plan(Source::Encounters, None, of_scope),
        (T::InCountyRate, true) => {
            // Residents' encounters at institutions inside their county
            // (a scope's townships all lie in one county).
            let county = scope.townships.iter().next()?.get(..6)?.to_string();
            let inside = institutions
                .values()
                .filter(|i| i.region_code.starts_with(&county))
                .map(|i| i.id)
                .collect();
            plan(Source::Encounters, Some(inside), of_scope)
        }
        (T::ReferralsUp, _) | (T::DownUpRatio, false) => {
            plan(Source::Referrals("up"), at_scope, None)
        }
        (T::ReferralsDown, _) | (T::DownUpRatio, true) => {
            plan(Source::Referrals("down"), at_scope, None)
        }
        (T::Recognitions | T::RecognitionSaved, _) | (T::RecognitionRate, true) => {
            plan(Source::TestOrders(&["recognized"]), at_scope, None)
        }
        (T::RecognitionRate, false) => plan(
            Source::TestOrders(&["recognized", "repeated"]),
            at_scope,
            None,
        ),
        (T::RemoteReads | T::RemoteTurnaroundMedian, _) | (T::RemoteOnTimeRate, false) => {
            plan(Source::RemoteReads { on_time: false }, at_scope, None)
        }
        (T::RemoteOnTimeRate, true) => plan(Source::RemoteReads { on_time: true }, at_scope, None),
        _ => None,
    }
}

/// Whether a tiered figure has a record list behind it (the rest are
/// aggregates of a population or of the fund).
pub fn drillable(indicator: TieredIndicator) -> bool {
    use TieredIndicator as T;
    matches!(
        indicator,
        T::PrimaryVisitShare
            | T::InCountyRate
            | T::ReferralsUp
            | T::ReferralsDown
            | T::DownUpRatio
            | T::Recognitions
            | T::RecognitionSaved
            | T::RecognitionRate
            | T::RemoteReads
            | T::RemoteTurnaroundMedian
            | T::RemoteOnTimeRate
            | T::EffectiveContractRate
            | T::HtnStandardizedRate
            | T::HtnControlRate
            | T::DmStandardizedRate
            | T::DmControlRate
    )
}

/// The records behind a figure of one scope, a page at a time, and their
/// total (which equals the figure's numerator or denominator).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Drill {
    pub total: i64,
    pub rows: Vec<DrillRow>,
}

#[allow(clippy::too_many_arguments)]
pub async fn drill(
    store: &Store,
    p: &Principal,
    scope: &ScopeDef,
    indicator: TieredIndicator,
    part: &str,
    period: Period,
    limit: i64,
    offset: i64,
) -> ApiResult<Drill> {
    area(p)?;
    let numerator = match part {
        "numerator" => true,
        "denominator" => false,
        _ => {
            return Err(ApiError::invalid(
                "part",
                "应为 numerator 或 denominator",
                "must be numerator or denominator",
            ));
        }
    };
    let mut c = store.read().await?;
    let institutions: HashMap<i64, InstitutionRow> = store::institutions_in(&mut c, "")
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let (limit, offset) = (limit.clamp(1, 500), offset.max(0));
    let Some(plan) = drill_plan(indicator, numerator, scope, &institutions) else {
        drop(c);
        // Stock figures: the facts' own rows.
        let county = scope
            .townships
            .iter()
            .next()
            .and_then(|t| t.get(..6))
            .unwrap_or("")
            .to_string();
        let at = period
            .to
            .parse::<NaiveDate>()
            .ok()
            .and_then(|d| d.pred_opt())
            .unwrap_or_else(crate::state::today);
        let year = period
            .from
            .get(..4)
            .and_then(|y| y.parse().ok())
            .unwrap_or(at.year());
        let f = facts(store, p, &county, year, at).await?;
        let rows = f.stock_rows(scope, indicator, numerator).ok_or_else(|| {
            ApiError::invalid(
                "indicator",
                "该指标按人群或基金汇总，没有逐条记录可下钻",
                "this indicator is an aggregate of a population or the fund: no record list",
            )
        })?;
        return Ok(Drill {
            total: rows.len() as i64,
            rows: rows
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect(),
        });
    };
    let filter = DrillFilter {
        period,
        institutions: plan.institutions,
        townships: plan.townships,
    };
    Ok(Drill {
        total: store::drill_count(&mut c, plan.source, &filter).await?,
        rows: store::drill_rows(&mut c, plan.source, &filter, limit, offset).await?,
    })
}

// ----------------------------------------------------------- accessibility

/// One village's accessibility.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VillageAccess {
    pub code: String,
    pub name: String,
    pub township: String,
    pub lon: f64,
    pub lat: f64,
    pub population: i64,
    /// Minutes on the road network to the nearest community health service
    /// (community station or center, township center — the institutions
    /// giving the basic package; every village has its clinic, so village
    /// clinics would make the 15-minute circle trivially complete).
    pub minutes_primary: Option<f64>,
    /// Minutes to the nearest township health center or community center.
    pub minutes_center: Option<f64>,
    /// Two-step floating catchment score: physicians per 1,000 residents
    /// reachable within the catchment.
    pub physicians_per_1000: f64,
}

/// 可及性 — seed 001 art. 29: "15分钟社区健康服务可及圈" and
/// "75%的乡镇实现30分钟乡村健康服务可及圈".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accessibility {
    pub county: String,
    pub population: i64,
    /// Residents within 15 minutes of a community health service.
    pub within_15_share: Option<f64>,
    /// Residents within 30 minutes of a township or community center.
    pub within_30_share: Option<f64>,
    /// Townships whose every village lies within 30 minutes of a center
    /// (the seed's target: 75 % of townships).
    pub townships_within_30: usize,
    pub townships: usize,
    /// The 2SFCA catchment (minutes).
    pub catchment_min: f64,
    pub villages: Vec<VillageAccess>,
}

/// The 2SFCA catchment: physicians within 30 minutes' travel.
pub const CATCHMENT_MIN: f64 = 30.0;

pub async fn accessibility(store: &Store, p: &Principal) -> ApiResult<Accessibility> {
    let county = county_of(store, &area(p)?).await?;
    let mut c = store.read().await?;
    let nodes = store::road_nodes(&mut c).await?;
    let edges = store::road_edges(&mut c).await?;
    let institutions = store::institutions_in(&mut c, &county).await?;
    let regions = store::regions_in(&mut c, &county).await?;
    drop(c);
    let index: HashMap<i64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let by_region: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.region_code.as_str(), i))
        .collect();
    let graph = RoadGraph::new(
        nodes.len(),
        &edges
            .iter()
            .filter_map(|e| {
                Some((
                    *index.get(&e.from_node)?,
                    *index.get(&e.to_node)?,
                    e.minutes,
                ))
            })
            .collect::<Vec<_>>(),
    )
    .map_err(|e| ApiError::rule(&e))?;
    let node_of = |i: &InstitutionRow| by_region.get(i.region_code.as_str()).copied();
    let kind = |i: &InstitutionRow| InstitutionKind::parse(&i.kind);
    let primary: Vec<usize> = institutions
        .iter()
        .filter(|i| {
            matches!(
                kind(i),
                Some(
                    InstitutionKind::TownshipHealthCenter
                        | InstitutionKind::CommunityHealthCenter
                        | InstitutionKind::CommunityHealthStation
                )
            )
        })
        .filter_map(node_of)
        .collect();
    let centers: Vec<usize> = institutions
        .iter()
        .filter(|i| {
            matches!(
                kind(i),
                Some(
                    InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter
                )
            )
        })
        .filter_map(node_of)
        .collect();
    let supply: Vec<(usize, f64)> = institutions
        .iter()
        .filter_map(|i| {
            let physicians: i64 = ["licensed_physician", "assistant_physician"]
                .iter()
                .filter_map(|k| i.staff.0.get(*k))
                .sum();
            Some((node_of(i)?, physicians as f64))
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    let t_primary = travel_times(&graph, &primary);
    let t_center = travel_times(&graph, &centers);
    let villages: Vec<_> = regions
        .iter()
        .filter(|r| r.level == "village")
        .filter_map(|r| Some((r, by_region.get(r.code.as_str()).copied()?)))
        .collect();
    let demand: Vec<(usize, i64)> = villages
        .iter()
        .map(|(r, n)| (*n, r.population.unwrap_or(0)))
        .collect();
    let scores = two_step_fca(&graph, &demand, &supply, CATCHMENT_MIN);
    let pops: Vec<i64> = demand.iter().map(|d| d.1).collect();
    let pick = |t: &[f64]| villages.iter().map(|(_, n)| t[*n]).collect::<Vec<f64>>();
    let (tp, tc) = (pick(&t_primary), pick(&t_center));
    let c15 = coverage(&tp, &pops, 15.0);
    let c30 = coverage(&tc, &pops, 30.0);
    let finite = |m: f64| m.is_finite().then_some((m * 10.0).round() / 10.0);
    let out: Vec<VillageAccess> = villages
        .iter()
        .enumerate()
        .map(|(i, (r, _))| VillageAccess {
            code: r.code.clone(),
            name: r.name.clone(),
            township: r.code[..9].to_string(),
            lon: r.lon.unwrap_or(0.0),
            lat: r.lat.unwrap_or(0.0),
            population: pops[i],
            minutes_primary: finite(tp[i]),
            minutes_center: finite(tc[i]),
            physicians_per_1000: scores[i],
        })
        .collect();
    let mut towns: BTreeMap<&str, bool> = BTreeMap::new();
    for v in &out {
        let ok = v.minutes_center.is_some_and(|m| m <= 30.0);
        let e = towns.entry(&v.township).or_insert(true);
        *e &= ok;
    }
    Ok(Accessibility {
        county,
        population: pops.iter().sum(),
        within_15_share: c15.share,
        within_30_share: c30.share,
        townships_within_30: towns.values().filter(|ok| **ok).count(),
        townships: towns.len(),
        catchment_min: CATCHMENT_MIN,
        villages: out,
    })
}

/// The county's map boundaries (GeoJSON text), if the generator or an
/// administrator stored them.
pub async fn boundaries(store: &Store, p: &Principal) -> ApiResult<String> {
    let county = county_of(store, &area(p)?).await?;
    let mut c = store.read().await?;
    store::boundaries(&mut c, &county)
        .await?
        .ok_or_else(|| ApiError::not_found("boundaries"))
}

/// One reported statistic (统计、民政、托育部门报送).
#[derive(Debug, Clone, serde::Deserialize, Serialize, ToSchema)]
pub struct StatisticInput {
    /// A region of the caller's area: a township for `childcare_places`,
    /// the county for the age-band figures.
    pub region_code: String,
    pub year: i32,
    /// `childcare_places`, `population_<from>`, `deaths_<from>`,
    /// `disabled_<from>` (from ∈ 0, 1, 5, 10, …, 85).
    pub key: String,
    pub value: f64,
}

/// Stores reported statistics (health commission or administrator, inside
/// their area). Each region-year's figures — those stored merged with the
/// submitted ones — must pass the domain's statistics rules
/// ([`Statistics::from_pairs`]: known keys, whole counts, deaths within the
/// population, shares in 0–1), and the region must exist; one bad row
/// stores nothing. A figure already stored for (region, year, key) is
/// replaced.
pub async fn put_statistics(
    store: &Store,
    p: &Principal,
    rows: &[StatisticInput],
) -> ApiResult<usize> {
    require(p, Action::WriteRegistry)?;
    let area = area(p)?;
    let mut tx = store.write().await?;
    let mut groups: BTreeMap<(String, i32), BTreeMap<String, f64>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let bad = |zh: &str, en: &str| {
            ApiError::invalid(
                "rows",
                &format!("第{}行：{zh}", i + 1),
                &format!("row {}: {en}", i + 1),
            )
        };
        if !r.region_code.starts_with(&area) {
            return Err(bad("地区不在本辖区", "region outside your area"));
        }
        if !(1949..=2100).contains(&r.year) {
            return Err(bad("年度无效", "invalid year"));
        }
        if registry::get_region(&mut tx, &r.region_code)
            .await?
            .is_none()
        {
            return Err(ApiError::unknown_region(&r.region_code));
        }
        let key = (r.region_code.clone(), r.year);
        if !groups.contains_key(&key) {
            let stored = store::statistics(&mut tx, &r.region_code, r.year)
                .await?
                .into_iter()
                .filter(|s| s.region_code == r.region_code)
                .map(|s| (s.key, s.value))
                .collect();
            groups.insert(key.clone(), stored);
        }
        groups
            .entry(key)
            .or_default()
            .insert(r.key.clone(), r.value);
    }
    for pairs in groups.values() {
        let pairs: Vec<(String, f64)> = pairs.iter().map(|(k, v)| (k.clone(), *v)).collect();
        Statistics::from_pairs(&pairs)?;
    }
    let out: Vec<store::StatisticRow> = rows
        .iter()
        .map(|r| store::StatisticRow {
            region_code: r.region_code.clone(),
            year: i64::from(r.year),
            key: r.key.clone(),
            value: r.value,
        })
        .collect();
    store::put_statistics(&mut tx, &out).await?;
    tx.commit().await?;
    Ok(out.len())
}

/// Status colours of the dashboard: met green, on track blue, behind
/// amber, missed red.
pub fn status_colour(s: &str) -> &'static str {
    match Status::parse(s) {
        Some(Status::Met) => "#2e7d32",
        Some(Status::OnTrack) => "#1565c0",
        Some(Status::Behind) => "#ef6c00",
        Some(Status::Missed) => "#c62828",
        Some(Status::NoData) | None => "#757575",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_plans_and_scorecard_load() {
        let plans = shipped_plans().unwrap();
        assert_eq!(plans.len(), 2);
        assert!(plans.iter().all(|p| p.indicators.len() == 21));
        let card = Scorecard::from_toml(SHIPPED_SCORECARD.0, SHIPPED_SCORECARD.1).unwrap();
        card.check_plan_codes(SHIPPED_SCORECARD.0, |c| {
            PlanIndicatorCode::parse(c).is_some()
        })
        .unwrap();
    }

    #[test]
    fn turnaround_reads_both_stored_time_formats() {
        // Local China time, and RFC 3339 UTC (08:00 later in China).
        assert_eq!(
            minutes_between("2026-03-01T10:00:00", "2026-03-01T12:30:00"),
            Some(150.0)
        );
        assert_eq!(
            minutes_between("2026-03-01T10:00:00", "2026-03-01T02:30:00Z"),
            Some(30.0)
        );
        assert_eq!(minutes_between("yesterday", "2026-03-01T12:30:00"), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
