//! Oversight: MeasureReport (plan and tiered-care indicators) and AuditEvent (the access log, read-only).
//!
//! **MeasureReport** is computed, not stored: the reports are those of
//! `/api/v1/monitoring/plan` (the shipped plan, version A) and
//! `/api/v1/monitoring/tiered`, through the same services and so the same
//! `ReadMonitoring` scoping (the caller's county). A report's id names what
//! it was computed from — `plan-<county>-<date>`,
//! `plan-<indicator>-<county>-<date>`, `t-<scope>[-m<MM>]-<date>`,
//! `t-<indicator>-<scope>[-m<MM>]-<date>` (scope `r<county>`,
//! `k<consortium>`, `i<institution>`; `-` for `_`, see
//! `yilian_fhir::measure::report_id`) — so a read recomputes it.
//! A search evaluates on one date: the end of the `date`/`period` range
//! (today if open or later); a range of exactly one calendar month gives
//! the tiered reports' flow figures for that month.
//!
//! **AuditEvent** mirrors the record access log, with who may read what as
//! on `/api/v1` (`record::my_access_log`, `record::review_list`): a
//! resident their own record's log, the administrator and the health
//! commission the emergency reads flagged for review; anyone else 403.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use serde_json::Value;
use yilian_domain::access::{Principal, Role};
use yilian_domain::monitoring::TieredIndicator;
use yilian_domain::plan::{self, PlanIndicatorCode, Target};
use yilian_domain::record::Ground;
use yilian_fhir::audit::{self as fa, AccessFhir, USER_SID};
use yilian_fhir::capability::{Interaction, ParamType, ResourceSupport};
use yilian_fhir::measure::{
    self as fm, IndicatorFhir, MeasureReportFhir, MeasureScope, PLAN_MEASURE_SET, REGION_CODE_SID,
    TIERED_MEASURE_SET, report_id,
};
use yilian_fhir::{IssueType, Outcome};
use yilian_store::records::{AccessFilter, AccessRow};

use super::finance::{utc_bounds, utc_to_cst};
use super::{FhirError, FhirResult, Found, Params, not_found, parse_id, unsupported};
use crate::error::ApiError;
use crate::monitoring as service;
use crate::state::AppState;

/// What this module serves (see [`super::support`]).
pub fn support() -> Vec<ResourceSupport> {
    use Interaction::{Read, SearchType};
    use ParamType::{Date, Reference, Token};
    vec![
        ResourceSupport::new("MeasureReport", &[Read, SearchType]).search(&[
            ("_id", Token),
            ("measure", Reference),
            ("subject", Reference),
            ("period", Date),
            ("date", Date),
        ]),
        ResourceSupport::new("AuditEvent", &[Read, SearchType]).search(&[
            ("_id", Token),
            ("patient", Reference),
            ("date", Date),
            ("agent", Reference),
            ("altid", Token),
            ("outcome", Token),
        ]),
    ]
}

pub async fn read(s: &AppState, p: &Principal, rt: &str, id: &str) -> FhirResult<Value> {
    match rt {
        "MeasureReport" => read_measure(s, p, id).await,
        "AuditEvent" => read_audit(s, p, id).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn search(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    match rt {
        "MeasureReport" => search_measures(s, p, q).await,
        "AuditEvent" => search_audit(s, p, q).await,
        _ => Err(unsupported(rt)),
    }
}

fn bad_search(param: &str, zh: String, en: String) -> FhirError {
    FhirError(Outcome::new(IssueType::Value, "invalid_search", param, zh, en).with_status(400))
}

fn page_of(all: Vec<Value>, q: &Params) -> Found {
    let total = all.len() as u64;
    let matches = all
        .into_iter()
        .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
        .take(q.count as usize)
        .collect();
    Found {
        matches,
        total,
        included: vec![],
    }
}

// ------------------------------------------------------------ MeasureReport

/// Which reports a search asks for (`measure`).
#[derive(Debug, Clone, Copy, Default)]
struct Wanted {
    plan_set: bool,
    tiered_set: bool,
    plan: Option<PlanIndicatorCode>,
    tiered: Option<TieredIndicator>,
    /// Singles of every indicator (a read looks among them all).
    all_singles: bool,
}

impl Wanted {
    fn everything() -> Wanted {
        Wanted {
            plan_set: true,
            tiered_set: true,
            all_singles: true,
            ..Default::default()
        }
    }
    fn plan_code(&self, c: PlanIndicatorCode) -> bool {
        self.all_singles || self.plan == Some(c)
    }
    fn tiered_code(&self, c: TieredIndicator) -> bool {
        self.all_singles || self.tiered == Some(c)
    }
    fn any_plan(&self) -> bool {
        self.plan_set || self.plan.is_some() || self.all_singles
    }
    fn any_tiered(&self) -> bool {
        self.tiered_set || self.tiered.is_some() || self.all_singles
    }
}

/// `measure`: a set or an indicator code, bare or as its canonical URL;
/// absent, the two sets.
fn wanted(q: &Params) -> FhirResult<Wanted> {
    let Some(v) = q.one("measure")? else {
        return Ok(Wanted {
            plan_set: true,
            tiered_set: true,
            ..Default::default()
        });
    };
    let url = fm::measure_url("");
    let code = v
        .strip_prefix(url.as_str())
        .or_else(|| v.strip_prefix("Measure/"))
        .unwrap_or(v);
    Ok(match code {
        PLAN_MEASURE_SET => Wanted {
            plan_set: true,
            ..Default::default()
        },
        TIERED_MEASURE_SET => Wanted {
            tiered_set: true,
            ..Default::default()
        },
        c => Wanted {
            plan: PlanIndicatorCode::parse(c),
            tiered: TieredIndicator::parse(c),
            ..Default::default()
        },
    })
}

/// `subject`: a region code, as `140521`, `Location/region-140521` or
/// `<region-code system>|140521`.
fn subject(q: &Params) -> FhirResult<Option<String>> {
    let Some(v) = q.one("subject")? else {
        return Ok(None);
    };
    let sid = format!("{REGION_CODE_SID}|");
    let code = if let Some(c) = v.strip_prefix(sid.as_str()) {
        c.to_string()
    } else if let Some(l) = v.strip_prefix("Location/") {
        match yilian_fhir::location::parse_location_id(l) {
            Some(yilian_fhir::location::LocationId::Region(c)) => c,
            _ => String::new(),
        }
    } else {
        v.to_string()
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_search(
            "subject",
            "参数 subject 应为行政区划代码（如 140521 或 Location/region-140521）".into(),
            "parameter subject must be a region code (140521 or Location/region-140521)".into(),
        ));
    }
    Ok(Some(code))
}

/// When a search evaluates: the date, and the month of the flow figures.
#[derive(Debug, Clone, Copy)]
struct Asked {
    at: NaiveDate,
    month: Option<u32>,
}

fn asked(q: &Params, today: NaiveDate) -> FhirResult<Option<Asked>> {
    let mut b = q.date("date")?;
    let per = q.date("period")?;
    b.from = b.from.max(per.from);
    b.to = match (b.to, per.to) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    let at =
        b.to.map_or(today, |t| (t - Duration::seconds(1)).date().min(today));
    if b.from.is_some_and(|f| f.date() > at) {
        return Ok(None);
    }
    let month = match (b.from, b.to) {
        (Some(f), Some(t))
            if f.time() == NaiveTime::MIN
                && f.day() == 1
                && f.year() == at.year()
                && t.time() == NaiveTime::MIN
                && t.date() == next_month(f.date()) =>
        {
            Some(f.month())
        }
        _ => None,
    };
    Ok(Some(Asked { at, month }))
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The shipped plan's reports for the caller's county on `at`.
async fn plan_reports(
    s: &AppState,
    p: &Principal,
    at: NaiveDate,
    w: &Wanted,
) -> FhirResult<Vec<MeasureReportFhir>> {
    let county = service::county_of(&s.store, &service::area(p)?).await?;
    let plans = service::shipped_plans().map_err(ApiError::from)?;
    let plan = plans.first().ok_or_else(|| ApiError::not_found("plan"))?;
    let snap = service::snapshot(&s.store, &county, at.year()).await?;
    let name = {
        let mut c = s.store.read().await?;
        yilian_store::registry::get_region(&mut c, &county)
            .await?
            .map_or_else(String::new, |r| r.name)
    };
    let measures: HashMap<PlanIndicatorCode, plan::Measure> = plan
        .indicators
        .iter()
        .map(|i| (i.code, plan::compute(i.code, &snap)))
        .collect();
    let value_of = |code: PlanIndicatorCode| {
        measures
            .get(&code)
            .cloned()
            .unwrap_or_else(|| plan::compute(code, &snap))
            .value
    };
    // As `monitoring::evaluate_plan`: the target (a tracking one from the
    // tracked actual) and the status on the straight path to it.
    let indicators: Vec<IndicatorFhir> = plan
        .indicators
        .iter()
        .map(|ind| {
            let m = &measures[&ind.code];
            let tracked = match ind.target {
                Target::Tracks { code, .. } => value_of(code),
                Target::Value(_) => None,
            };
            let status = plan::status(ind, m.value, tracked, at);
            IndicatorFhir::from_plan(ind, m, ind.target_value(tracked), status)
        })
        .collect();
    let scope = MeasureScope::Region {
        code: county.clone(),
        name,
    };
    let (start, end, date) = (
        format!("{:04}-01-01", at.year()),
        at.to_string(),
        Some(at.to_string()),
    );
    let at_s = at.to_string();
    let mut out = Vec::new();
    if w.plan_set {
        out.push(MeasureReportFhir {
            id: report_id(&["plan", &county, &at_s]),
            measure_code: PLAN_MEASURE_SET.into(),
            scope: scope.clone(),
            period_start: start.clone(),
            period_end: end.clone(),
            date: date.clone(),
            indicators: indicators.clone(),
        });
    }
    for (ind, f) in plan.indicators.iter().zip(indicators) {
        if w.plan_code(ind.code) {
            out.push(MeasureReportFhir::single(
                report_id(&["plan", ind.code.as_str(), &county, &at_s]),
                f,
                scope.clone(),
                start.clone(),
                end.clone(),
                date.clone(),
            ));
        }
    }
    Ok(out)
}

/// Every tiered-care scope's reports on `at` (flow figures for `month`).
async fn tiered_reports(
    s: &AppState,
    p: &Principal,
    at: NaiveDate,
    month: Option<u32>,
    w: &Wanted,
) -> FhirResult<Vec<MeasureReportFhir>> {
    let month_text = month.map(|m| format!("{:04}-{m:02}", at.year()));
    let r = service::tiered(&s.store, p, at.year(), at, month_text.as_deref()).await?;
    let (start, end) = match month {
        Some(m) => {
            let first = NaiveDate::from_ymd_opt(at.year(), m, 1).unwrap_or(at);
            let last = next_month(first).pred_opt().unwrap_or(first);
            (first.to_string(), last.min(at).to_string())
        }
        None => {
            let end =
                r.to.parse::<NaiveDate>()
                    .ok()
                    .and_then(|d| d.pred_opt())
                    .unwrap_or(at);
            (r.from.clone(), end.to_string())
        }
    };
    let at_s = at.to_string();
    let m = month.map(|m| format!("m{m:02}")).unwrap_or_default();
    let mut out = Vec::new();
    for row in &r.rows {
        let sc = &row.scope;
        let (scope, short) = match sc.kind.as_str() {
            "county" => (
                MeasureScope::Region {
                    code: sc.id.clone(),
                    name: sc.name.clone(),
                },
                format!("r{}", sc.id),
            ),
            "consortium" => (
                MeasureScope::Consortium {
                    id: sc.id.parse().map_err(|_| ApiError::internal())?,
                    name: sc.name.clone(),
                },
                format!("k{}", sc.id),
            ),
            _ => (
                MeasureScope::Institution {
                    id: sc.id.parse().map_err(|_| ApiError::internal())?,
                    name: sc.name.clone(),
                },
                format!("i{}", sc.id),
            ),
        };
        let indicators: Vec<IndicatorFhir> = TieredIndicator::ALL
            .iter()
            .map(|i| IndicatorFhir::from_tiered(*i, &row.counts, None))
            .collect();
        if w.tiered_set {
            out.push(MeasureReportFhir {
                id: report_id(&["t", &short, &m, &at_s]),
                measure_code: TIERED_MEASURE_SET.into(),
                scope: scope.clone(),
                period_start: start.clone(),
                period_end: end.clone(),
                date: Some(at_s.clone()),
                indicators: indicators.clone(),
            });
        }
        for (ind, f) in TieredIndicator::ALL.iter().zip(indicators) {
            if w.tiered_code(*ind) {
                out.push(MeasureReportFhir::single(
                    report_id(&["t", ind.as_str(), &short, &m, &at_s]),
                    f,
                    scope.clone(),
                    start.clone(),
                    end.clone(),
                    Some(at_s.clone()),
                ));
            }
        }
    }
    Ok(out)
}

async fn search_measures(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    // Refused before anything is computed, as on /api/v1.
    service::area(p)?;
    let w = wanted(q)?;
    let subject = subject(q)?;
    let id = q.one("_id")?.map(str::to_string);
    let Some(a) = asked(q, s.today())? else {
        return Ok(Found::default());
    };
    let mut reports = Vec::new();
    if w.any_plan() {
        reports.extend(plan_reports(s, p, a.at, &w).await?);
    }
    if w.any_tiered() {
        reports.extend(tiered_reports(s, p, a.at, a.month, &w).await?);
    }
    let all: Vec<Value> = reports
        .iter()
        .filter(|r| id.as_ref().is_none_or(|i| *i == r.id))
        .filter(|r| {
            subject
                .as_ref()
                .is_none_or(|c| matches!(&r.scope, MeasureScope::Region { code, .. } if code == c))
        })
        .map(fm::to_fhir)
        .collect();
    Ok(page_of(all, q))
}

async fn read_measure(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    service::area(p)?;
    let nf = || not_found("MeasureReport", id);
    let n = id.len();
    let at: NaiveDate = id
        .get(n.saturating_sub(10)..)
        .and_then(|d| d.parse().ok())
        .ok_or_else(nf)?;
    if at > s.today() {
        return Err(nf());
    }
    let head = id.get(..n - 10).unwrap_or("").trim_end_matches('-');
    let month = head
        .rsplit_once('-')
        .and_then(|(_, last)| last.strip_prefix('m'))
        .and_then(|mm| mm.parse::<u32>().ok())
        .filter(|mm| (1..=12).contains(mm));
    let w = Wanted::everything();
    let reports = if head.starts_with("plan-") {
        plan_reports(s, p, at, &w).await?
    } else if head.starts_with("t-") {
        tiered_reports(s, p, at, month, &w).await?
    } else {
        return Err(nf());
    };
    reports
        .iter()
        .find(|r| r.id == id)
        .map(fm::to_fhir)
        .ok_or_else(nf)
}

// --------------------------------------------------------------- AuditEvent

/// Which entries of the access log the caller may read, as on `/api/v1`:
/// a resident their own record's (`/me/access-log`), the administrator and
/// the health commission the emergency reads awaiting review
/// (`/access-log/review`).
fn log_scope(p: &Principal, f: &mut AccessFilter) -> FhirResult<bool> {
    match (p.role, p.resident_id) {
        (Role::Resident, Some(me)) => {
            if f.resident_id.is_some_and(|r| r != me) {
                return Ok(false);
            }
            f.resident_id = Some(me);
            Ok(true)
        }
        (Role::Admin | Role::HealthCommission, _) => {
            f.review_only = true;
            f.scope = Some(yilian_domain::access::resident_scope(p));
            Ok(true)
        }
        _ => Err(ApiError::forbidden().into()),
    }
}

fn audit_fhir(r: &AccessRow) -> Value {
    fa::to_fhir(&AccessFhir {
        id: r.id,
        at: utc_to_cst(&r.at),
        user_id: r.user_id,
        username: r.username.clone(),
        role: Role::parse(&r.role),
        institution_id: r.institution_id,
        institution_name: r.institution_name.clone(),
        resident_id: r.resident_id,
        part: r.part.clone(),
        ground: Ground::parse(&r.ground),
        granted: r.outcome == "granted",
        reason: r.reason.clone(),
        review: r.review != 0,
    })
}

async fn read_audit(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    let mut f = AccessFilter::default();
    log_scope(p, &mut f)?;
    f.id = Some(parse_id("AuditEvent", id)?);
    let mut c = s.store.read().await?;
    let page =
        yilian_store::records::access_log(&mut c, &f, yilian_store::Paging::new(Some(1), None))
            .await?;
    page.items
        .first()
        .map(audit_fhir)
        .ok_or_else(|| not_found("AuditEvent", id))
}

async fn search_audit(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    let mut f = AccessFilter {
        id: q.id()?,
        resident_id: q.reference("patient", "Patient")?,
        username: q.one("altid")?.map(str::to_string),
        ..Default::default()
    };
    if !log_scope(p, &mut f)? {
        return Ok(Found::default());
    }
    if let Some(v) = q.one("agent")? {
        let n = v
            .strip_prefix(&format!("{USER_SID}|"))
            .unwrap_or(v)
            .parse::<i64>()
            .map_err(|_| {
                bad_search(
                    "agent",
                    "参数 agent 应为用户编号".into(),
                    "parameter agent must be a user id".into(),
                )
            })?;
        f.user_id = Some(n);
    }
    if let Some((_, o)) = q.token("outcome")? {
        f.outcome = Some(
            match o.as_str() {
                "0" => "granted",
                "4" => "refused",
                _ => return Ok(Found::default()),
            }
            .into(),
        );
    }
    let (from, before) = utc_bounds(&q.date("date")?);
    f.from = from;
    f.before = before;
    let mut c = s.store.read().await?;
    let page = yilian_store::records::access_log(&mut c, &f, q.paging()).await?;
    Ok(Found {
        matches: page.items.iter().map(audit_fhir).collect(),
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}
