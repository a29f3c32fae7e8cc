//! 指标 → `MeasureReport` (read-only): the planning indicators
//! (`yilian_domain::plan`, 规划指标, evaluated against a plan) and the
//! tiered-care indicators (`yilian_domain::monitoring`, 分级诊疗指标, per
//! scope and period).
//!
//! R4 gives a MeasureReport exactly one `measure`, so there are two shapes,
//! both from [`MeasureReportFhir`] through [`to_fhir`]:
//!
//! - **one indicator**: `measure` = [`measure_url`]`(<indicator code>)`, e.g.
//!   `https://yilian.example/fhir/Measure/beds_per_1000`, one `group`
//!   ([`MeasureReportFhir::single`]);
//! - **a whole report** (a plan's table, a scope's tiered indicators):
//!   `measure` = [`measure_url`]`(`[`PLAN_MEASURE_SET`] / [`TIERED_MEASURE_SET`]`)`,
//!   one `group` per indicator, told apart by `group.code`.
//!
//! | FHIR element | yilian |
//! |---|---|
//! | `status` = `complete`, `type` = `summary` | — |
//! | `measure` | indicator code, or the set code |
//! | `subject` (`identifier` [`REGION_CODE_SID`] / [`CONSORTIUM_SID`] + display) | a region or consortium scope |
//! | `reporter` `Organization/{id}` | an institution scope |
//! | `date` | when evaluated |
//! | `period.start` / `.end` | the period (a plan's evaluation year up to the date; a month or a year) |
//! | `improvementNotation` `increase` / `decrease` | direction (≥ / ≤, higher / lower is better), when all groups agree |
//! | `group.code` ([`PLAN_INDICATOR_SYSTEM`] / [`TIERED_INDICATOR_SYSTEM`]) | indicator code, zh label |
//! | `group.population` `numerator` / `denominator` (`count`) | the measure's parts, when whole counts |
//! | `group.measureScore` (Quantity: UCUM `%`, `min`, `a`, else [`INDICATOR_UNIT_SYSTEM`]) | value (absent when it cannot be computed) |
//! | `group.extension` [`TARGET_EXTENSION`] (`valueQuantity`, same unit) | the plan's target |
//! | `group.extension` [`PLAN_STATUS_EXTENSION`] (`valueCoding` [`PLAN_STATUS_SYSTEM`]) | met / on_track / behind / missed / no_data |
//!
//! Choices: R4 does not allow an Organization as `MeasureReport.subject`,
//! so an institution scope is the `reporter`, and a region or consortium is
//! a logical `subject` (identifier and display, no `reference`). A
//! population `count` is a FHIR integer, so numerators and denominators
//! that are not whole numbers in 32 bits (a life table's person-years,
//! amounts in fen) are left out; the score is always there when computable.

use serde_json::{Value, json};
use yilian_domain::monitoring::{self, IndicatorSource, TieredCounts, TieredIndicator};
use yilian_domain::plan::{self, Measure, PlanIndicator, Status};

use crate::identifiers::YILIAN_BASE;

/// `measure` of a report of a whole plan's indicators.
pub const PLAN_MEASURE_SET: &str = "plan-indicators";
/// `measure` of a report of a scope's tiered-care indicators.
pub const TIERED_MEASURE_SET: &str = "tiered-care-indicators";

/// yilian's planning indicator codes (`PlanIndicatorCode::as_str`).
pub const PLAN_INDICATOR_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/plan-indicator";
/// yilian's tiered-care indicator codes (`TieredIndicator::as_str`).
pub const TIERED_INDICATOR_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/tiered-indicator";
/// yilian's indicator units (`plan::Unit` and `monitoring::Unit` codes)
/// where UCUM has none (`per_1000`, `ratio_1_to_x`, `count`, `yuan`, …).
pub const INDICATOR_UNIT_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/indicator-unit";
/// A plan indicator's standing (`plan::Status::as_str`).
pub const PLAN_STATUS_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/plan-status";
/// Identifier system of a region scope: the GB/T 2260 统计用区划代码.
pub const REGION_CODE_SID: &str = crate::location::REGION_CODE_SYSTEM;
/// Identifier system of a consortium (医共体) scope: yilian's consortium id.
pub const CONSORTIUM_SID: &str = crate::consent::CONSORTIUM_ID_SYSTEM;
/// Extension on `MeasureReport.group`: the target, `valueQuantity` in the score's unit.
pub const TARGET_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/indicator-target";
/// Extension on `MeasureReport.group`: the plan status, `valueCoding` in [`PLAN_STATUS_SYSTEM`].
pub const PLAN_STATUS_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/plan-status";

/// HL7 measure population types (`numerator`, `denominator`, …).
pub const MEASURE_POPULATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/measure-population";
/// HL7 measure improvement notation (`increase`, `decrease`).
pub const IMPROVEMENT_NOTATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/measure-improvement-notation";
/// UCUM.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";

/// The canonical URL of a measure: `https://yilian.example/fhir/Measure/<code>`.
pub fn measure_url(code: &str) -> String {
    format!("{YILIAN_BASE}/Measure/{code}")
}

/// A FHIR `id` made of `parts` joined by `-`, anything outside
/// `A-Z a-z 0-9 - .` (such as the `_` of indicator codes) replaced by `-`,
/// at most 64 characters: e.g. `plan-beds-per-1000-140521-2026-11-22`.
pub fn report_id(parts: &[&str]) -> String {
    let s: String = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "report".into() } else { s }
}

/// Whom a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeasureScope {
    /// A county or township, by region code.
    Region { code: String, name: String },
    /// A consortium (医共体), by id.
    Consortium { id: i64, name: String },
    /// One institution (`Organization/{id}`).
    Institution { id: i64, name: String },
}

/// One indicator's figure (a `group`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorFhir {
    pub source: IndicatorSource,
    /// `PlanIndicatorCode::as_str` or `TieredIndicator::as_str`.
    pub code: String,
    pub label_zh: String,
    /// The unit's code (`percent`, `per_1000`, `count`, …) and label (`%`, `每千人口`).
    pub unit_code: String,
    pub unit_label: String,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    /// `None` when it cannot be computed (no denominator).
    pub value: Option<f64>,
    pub target: Option<f64>,
    /// Plan indicators only.
    pub status: Option<Status>,
    /// `Some(true)` higher is better, `Some(false)` lower, `None` neither (a target to hit).
    pub higher_is_better: Option<bool>,
}

impl IndicatorFhir {
    /// A planning indicator evaluated as the server's `evaluate_plan` does:
    /// its measure, its target value (`PlanIndicator::target_value`) and
    /// its status (`plan::status`).
    pub fn from_plan(
        ind: &PlanIndicator,
        m: &Measure,
        target: Option<f64>,
        status: Status,
    ) -> IndicatorFhir {
        let counts = ind.unit != plan::Unit::Years;
        IndicatorFhir {
            source: IndicatorSource::Plan,
            code: ind.code.as_str().into(),
            label_zh: if ind.name.trim().is_empty() {
                ind.code.label_zh().into()
            } else {
                ind.name.clone()
            },
            unit_code: ind.unit.as_str().into(),
            unit_label: ind.unit.label_zh().into(),
            numerator: counts.then_some(m.numerator),
            denominator: counts.then_some(m.denominator),
            value: m.value,
            target,
            status: Some(status),
            higher_is_better: match ind.direction {
                plan::Direction::AtLeast => Some(true),
                plan::Direction::AtMost => Some(false),
                plan::Direction::Equal => None,
            },
        }
    }

    /// A tiered-care indicator from a scope's counts (`monitoring::value`,
    /// `monitoring::fraction`); amounts in fen are not population counts
    /// and are left out.
    pub fn from_tiered(
        ind: TieredIndicator,
        counts: &TieredCounts,
        target: Option<f64>,
    ) -> IndicatorFhir {
        use TieredIndicator::*;
        let fraction = match ind {
            CapitationUse | CapitationForecastUse | FundInCountyShare => None,
            _ => monitoring::fraction(ind, counts),
        };
        IndicatorFhir {
            source: IndicatorSource::Tiered,
            code: ind.as_str().into(),
            label_zh: ind.label_zh().into(),
            unit_code: ind.unit().as_str().into(),
            unit_label: ind.unit().label_zh().into(),
            numerator: fraction.map(|f| f.0 as f64),
            denominator: fraction.map(|f| f.1 as f64),
            value: monitoring::value(ind, counts),
            target,
            status: None,
            higher_is_better: Some(ind.direction() == monitoring::Direction::Higher),
        }
    }
}

/// A MeasureReport: one indicator, or a set of them.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureReportFhir {
    /// The resource id (see [`report_id`]).
    pub id: String,
    /// The indicator code, or [`PLAN_MEASURE_SET`] / [`TIERED_MEASURE_SET`].
    pub measure_code: String,
    pub scope: MeasureScope,
    /// `YYYY-MM-DD`.
    pub period_start: String,
    pub period_end: String,
    /// When it was evaluated: `YYYY-MM-DD` or a FHIR dateTime.
    pub date: Option<String>,
    pub indicators: Vec<IndicatorFhir>,
}

impl MeasureReportFhir {
    /// A report of one indicator (`measure` = its code).
    pub fn single(
        id: String,
        indicator: IndicatorFhir,
        scope: MeasureScope,
        period_start: String,
        period_end: String,
        date: Option<String>,
    ) -> MeasureReportFhir {
        MeasureReportFhir {
            id,
            measure_code: indicator.code.clone(),
            scope,
            period_start,
            period_end,
            date,
            indicators: vec![indicator],
        }
    }
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// A Quantity in an indicator's unit: UCUM where it has the unit.
pub fn quantity(value: f64, unit_code: &str, unit_label: &str) -> Value {
    let (system, code) = match unit_code {
        "percent" => (UCUM_SYSTEM, "%"),
        "minutes" => (UCUM_SYSTEM, "min"),
        "years" => (UCUM_SYSTEM, "a"),
        c => (INDICATOR_UNIT_SYSTEM, c),
    };
    let mut q = json!({ "value": value, "system": system, "code": code });
    if !unit_label.is_empty() {
        q["unit"] = json!(unit_label);
    }
    q
}

/// A whole, non-negative count that fits a FHIR integer.
fn count(x: Option<f64>) -> Option<i64> {
    let x = finite(x)?;
    (x.fract() == 0.0 && (0.0..=f64::from(i32::MAX)).contains(&x)).then_some(x as i64)
}

fn group(ind: &IndicatorFhir) -> Value {
    let system = match ind.source {
        IndicatorSource::Plan => PLAN_INDICATOR_SYSTEM,
        IndicatorSource::Tiered => TIERED_INDICATOR_SYSTEM,
    };
    let mut g = json!({
        "code": {
            "coding": [{ "system": system, "code": ind.code, "display": ind.label_zh }],
            "text": ind.label_zh,
        },
    });
    let mut ext = Vec::new();
    if let Some(t) = finite(ind.target) {
        ext.push(json!({ "url": TARGET_EXTENSION,
            "valueQuantity": quantity(t, &ind.unit_code, &ind.unit_label) }));
    }
    if let Some(s) = ind.status {
        ext.push(json!({ "url": PLAN_STATUS_EXTENSION, "valueCoding": {
            "system": PLAN_STATUS_SYSTEM, "code": s.as_str(), "display": s.label_zh(),
        }}));
    }
    if !ext.is_empty() {
        g["extension"] = json!(ext);
    }
    if let (Some(n), Some(d)) = (count(ind.numerator), count(ind.denominator)) {
        let pop = |code: &str, display: &str, c: i64| {
            json!({
                "code": { "coding": [{ "system": MEASURE_POPULATION_SYSTEM, "code": code, "display": display }] },
                "count": c,
            })
        };
        g["population"] = json!([
            pop("numerator", "Numerator", n),
            pop("denominator", "Denominator", d),
        ]);
    }
    if let Some(v) = finite(ind.value) {
        g["measureScore"] = quantity(v, &ind.unit_code, &ind.unit_label);
    }
    g
}

/// The report as a FHIR `MeasureReport`.
pub fn to_fhir(r: &MeasureReportFhir) -> Value {
    let mut m = json!({
        "resourceType": "MeasureReport",
        "id": r.id,
        "status": "complete",
        "type": "summary",
        "measure": measure_url(&r.measure_code),
    });
    match &r.scope {
        MeasureScope::Region { code, name } => {
            let mut s = json!({ "identifier": { "system": REGION_CODE_SID, "value": code } });
            if !name.is_empty() {
                s["display"] = json!(name);
            }
            m["subject"] = s;
        }
        MeasureScope::Consortium { id, name } => {
            let mut s =
                json!({ "identifier": { "system": CONSORTIUM_SID, "value": id.to_string() } });
            if !name.is_empty() {
                s["display"] = json!(name);
            }
            m["subject"] = s;
        }
        MeasureScope::Institution { .. } => {}
    }
    if let Some(d) = &r.date {
        m["date"] = json!(crate::json::cst_to_fhir(d).unwrap_or_else(|| d.clone()));
    }
    if let MeasureScope::Institution { id, name } = &r.scope {
        let mut rep = json!({ "reference": format!("Organization/{id}") });
        if !name.is_empty() {
            rep["display"] = json!(name);
        }
        m["reporter"] = rep;
    }
    m["period"] = json!({ "start": r.period_start, "end": r.period_end });
    let directions: Vec<Option<bool>> = r.indicators.iter().map(|i| i.higher_is_better).collect();
    if let Some(Some(up)) = directions.first()
        && directions.iter().all(|d| *d == Some(*up))
    {
        let code = if *up { "increase" } else { "decrease" };
        m["improvementNotation"] = json!({ "coding": [{
            "system": IMPROVEMENT_NOTATION_SYSTEM, "code": code,
            "display": if *up { "Increased score indicates improvement" } else { "Decreased score indicates improvement" },
        }]});
    }
    if !r.indicators.is_empty() {
        m["group"] = json!(r.indicators.iter().map(group).collect::<Vec<_>>());
    }
    m
}
