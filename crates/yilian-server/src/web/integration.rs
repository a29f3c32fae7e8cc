//! 系统对接 — the page a county's IT staff open when they connect a hospital
//! or lab system: the FHIR R4 base URL, every resource type with what is
//! served for it (from [`crate::fhir::support`], the same table the router
//! obeys and `/fhir/metadata` states), the identifier systems, and how a
//! transaction is sent.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Serialize;
use yilian_domain::access::Role;

use super::{NavItem, WebAuth, WebError, WebResult, base, render, with};
use crate::error::ApiError;
use crate::state::AppState;

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 1] = [(
    "integration.html",
    include_str!("../../templates/integration.html"),
)];

pub fn router() -> Router<AppState> {
    Router::new().route("/integration", get(page))
}

/// Who connects systems: the administrator and the health commission.
fn sees(role: Role) -> bool {
    matches!(role, Role::Admin | Role::HealthCommission)
}

/// The navigation entry.
pub(super) fn nav(role: Role) -> Option<NavItem> {
    sees(role).then_some(NavItem {
        href: "/integration",
        label: "系统对接",
    })
}

/// 资源类型的中文名.
fn label_zh(rt: &str) -> &'static str {
    match rt {
        "Patient" => "居民（主索引）",
        "Organization" => "医疗卫生机构",
        "Encounter" => "就诊记录",
        "Condition" => "诊断",
        "Observation" => "检验结果",
        "MedicationRequest" => "处方（含长处方）",
        "DiagnosticReport" => "检查报告",
        "Practitioner" => "医务人员",
        "PractitionerRole" => "执业地点",
        "Location" => "机构地点与行政区划",
        "CareTeam" => "家庭医生团队",
        "EpisodeOfCare" => "家庭医生签约",
        "Consent" => "居民授权",
        "Coverage" => "参保信息",
        "ServiceRequest" => "转诊申请",
        "Task" => "转诊流程",
        "Schedule" => "号源排班",
        "Slot" => "号源",
        "Appointment" => "预约",
        "Claim" => "医保结算申请",
        "ClaimResponse" => "医保结算结果",
        "MeasureReport" => "规划与分级诊疗指标",
        "AuditEvent" => "档案调阅日志",
        _ => "",
    }
}

#[derive(Debug, Serialize)]
struct Row {
    resource_type: String,
    label: &'static str,
    interactions: Vec<&'static str>,
    params: Vec<String>,
    versioned: bool,
}

async fn page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    headers: HeaderMap,
) -> WebResult {
    if !sees(auth.principal.role) {
        return Err(WebError::from(ApiError::forbidden()));
    }
    let rows: Vec<Row> = crate::fhir::support()
        .into_iter()
        .map(|r| Row {
            label: label_zh(&r.resource_type),
            interactions: r.interactions.iter().map(|i| i.as_str()).collect(),
            params: r.search_params.iter().map(|p| p.name.clone()).collect(),
            versioned: r.versioned,
            resource_type: r.resource_type,
        })
        .collect();
    let base_url = crate::fhir::base_url(&s, &headers);
    Ok(render(
        "integration.html",
        with(
            base(&auth, &jar, "/integration"),
            context! { rows, base_url, systems => crate::fhir::identifier_systems() },
        ),
    ))
}
