//! `/fhir` — the HL7 FHIR R4 (4.0.1, JSON) interface for hospital systems
//! (SPEC §3, issue 10).
//!
//! A facade over the same services as `/api/v1`: the same login, the same
//! role and institution scoping, the same record-access grounds and access
//! log. The mapping of rows to resources and of resources to inputs lives in
//! the pure `yilian-fhir` crate; this module routes, authorizes, loads and
//! stores.
//!
//! - `GET /fhir/metadata` — the CapabilityStatement, built from [`SUPPORT`],
//!   the same table the dispatcher obeys, so it states exactly what is served;
//! - `GET /fhir/{type}/{id}` read, `GET /fhir/{type}?…` search,
//!   `POST /fhir/{type}` create, `PUT /fhir/{type}/{id}` update (with
//!   `If-Match`), `POST /fhir` a `transaction` Bundle, all or nothing;
//! - every error is an `OperationOutcome` naming the element path.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use yilian_domain::access::Principal;
use yilian_fhir::capability::{
    Capabilities, Interaction, ParamType, ResourceSupport, capability_statement,
};
use yilian_fhir::{FHIR_JSON, IssueType, Outcome};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

mod care;
mod finance;
mod oversight;
mod params;
pub(crate) mod patient;
pub(crate) mod people;
mod record;
mod registry;
mod transaction;
mod workflow;

pub use params::{DateBound, Params};

/// A refusal answered with an `OperationOutcome`.
#[derive(Debug)]
pub struct FhirError(pub Outcome);

pub type FhirResult<T> = Result<T, FhirError>;

impl From<Outcome> for FhirError {
    fn from(o: Outcome) -> Self {
        FhirError(o)
    }
}

/// An `/api/v1` error keeps its stable code, messages and status.
impl From<ApiError> for FhirError {
    fn from(e: ApiError) -> Self {
        let mut o = Outcome::new(
            IssueType::for_code(&e.body.code),
            &e.body.code,
            "",
            e.body.message_zh,
            e.body.message_en,
        );
        o.status = e.status.as_u16();
        FhirError(o)
    }
}

impl From<yilian_store::StoreError> for FhirError {
    fn from(e: yilian_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<yilian_store::sqlx::Error> for FhirError {
    fn from(e: yilian_store::sqlx::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        fhir_json(status, &self.0.to_json())
    }
}

fn fhir_json(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        v.to_string(),
    )
        .into_response()
}

/// A resource answered with its `ETag` (from `meta.versionId`) and, when
/// created, its `Location`.
fn resource_response(base: &str, status: StatusCode, r: &Value) -> Response {
    let mut resp = fhir_json(status, r);
    if let Some(v) = r["meta"]["versionId"].as_str() {
        let h = resp.headers_mut();
        if let Ok(e) = HeaderValue::from_str(&format!("W/\"{v}\"")) {
            h.insert(header::ETAG, e);
        }
        if status == StatusCode::CREATED
            && let (Some(rt), Some(id)) = (r["resourceType"].as_str(), r["id"].as_str())
            && let Ok(l) = HeaderValue::from_str(&format!("{base}/{rt}/{id}/_history/{v}"))
        {
            h.insert(header::LOCATION, l);
        }
    }
    resp
}

/// The resource types served and what is supported for each: the
/// dispatcher refuses anything else and `metadata` states exactly this.
pub fn support() -> Vec<ResourceSupport> {
    use Interaction::{Create, Read, SearchType, Update};
    use ParamType::{Date, Reference, String as Str, Token};
    let clinical = |t: &str| {
        ResourceSupport::new(t, &[Read, SearchType, Create])
            .search(&[
                ("_id", Token),
                ("patient", Reference),
                ("subject", Reference),
                ("date", Date),
            ])
            .versioned()
    };
    let mut v = vec![
        ResourceSupport::new("Patient", &[Read, SearchType, Create, Update])
            .search(&[
                ("_id", Token),
                ("identifier", Token),
                ("name", Str),
                ("birthdate", Date),
                ("phone", Token),
            ])
            .versioned(),
        ResourceSupport::new("Organization", &[Read, SearchType, Create, Update])
            .search(&[
                ("_id", Token),
                ("identifier", Token),
                ("name", Str),
                ("type", Token),
            ])
            .versioned(),
        clinical("Encounter"),
        clinical("Condition"),
        clinical("Observation"),
        clinical("MedicationRequest"),
        clinical("DiagnosticReport"),
        ResourceSupport::new("Practitioner", &[Read, SearchType, Update])
            .search(&[
                ("_id", Token),
                ("identifier", Token),
                ("name", Str),
                ("organization", Reference),
            ])
            .versioned(),
        ResourceSupport::new("PractitionerRole", &[Read, SearchType, Create])
            .search(&[("practitioner", Reference), ("organization", Reference)]),
        ResourceSupport::new("Location", &[Read, SearchType]).search(&[
            ("_id", Token),
            ("name", Str),
            ("organization", Reference),
            ("partof", Reference),
        ]),
        ResourceSupport::new("CareTeam", &[Read, SearchType, Create, Update])
            .search(&[
                ("_id", Token),
                ("name", Str),
                ("organization", Reference),
                ("participant", Reference),
            ])
            .versioned(),
    ];
    v.extend(care::support());
    v.extend(workflow::support());
    v.extend(finance::support());
    v.extend(oversight::support());
    v
}

/// The identifier systems a connecting system must use: (what, system).
pub fn identifier_systems() -> Vec<(&'static str, &'static str)> {
    use yilian_fhir::identifiers as id;
    vec![
        ("居民身份证号（WS/T 500）", id::ID_NUMBER_SYSTEM),
        ("电子健康卡号", id::HEALTH_CARD_SYSTEM),
        ("机构代码", id::INSTITUTION_CODE_SYSTEM),
        ("医务人员编码", id::PRACTITIONER_CODE_SYSTEM),
        ("家庭医生团队编码", yilian_fhir::care::TEAM_CODE_SYSTEM),
        ("ICD-10 诊断编码", id::ICD10_SYSTEM),
        ("行政区划代码（地址扩展）", id::REGION_CODE_EXTENSION),
    ]
}

/// The modules that serve several resource types each.
const CARE: &[&str] = &["EpisodeOfCare", "Consent", "Coverage"];
const WORKFLOW: &[&str] = &["ServiceRequest", "Task", "Schedule", "Slot", "Appointment"];
const FINANCE: &[&str] = &["Claim", "ClaimResponse"];
const OVERSIGHT: &[&str] = &["MeasureReport", "AuditEvent"];

/// The refusal of an interaction a module does not serve (the dispatcher
/// checks [`support`] first, so this is a guard).
pub(crate) fn unsupported(rt: &str) -> FhirError {
    FhirError(Outcome::new(
        IssueType::NotSupported,
        "not_supported",
        "",
        format!("{rt} 不支持该操作"),
        format!("{rt} does not support this interaction"),
    ))
    .with_status(405)
}

/// The `/fhir` router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(metadata))
        .route("/", axum::routing::post(transaction::handle))
        .route("/{rt}", get(search).post(create))
        .route("/{rt}/{id}", get(read).put(update))
        .fallback(|| async {
            FhirError(Outcome::new(
                IssueType::NotSupported,
                "not_found",
                "",
                "不支持的 FHIR 地址",
                "unsupported FHIR URL",
            ))
            .with_status(404)
        })
}

impl FhirError {
    pub(crate) fn with_status(mut self, s: u16) -> FhirError {
        self.0.status = s;
        self
    }
}

/// The FHIR base URL as the client reached it (for `fullUrl`, `link`, `Location`).
pub fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    let scheme = if s.settings.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/fhir")
}

async fn metadata(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let caps = Capabilities {
        base_url: base_url(&s, &headers),
        software_version: env!("CARGO_PKG_VERSION").into(),
        date: "2026-11-22".into(),
        resources: support(),
        transaction: true,
        security_description: Some(
            "Authorization: Bearer <token from POST /api/v1/auth/login>; role- and institution-scoped as /api/v1; record reads need grounds and are logged".into(),
        ),
    };
    fhir_json(StatusCode::OK, &capability_statement(&caps))
}

/// The supported resource type `rt` allowing `i`, or the refusal.
fn supported(rt: &str, i: Interaction) -> FhirResult<ResourceSupport> {
    let Some(r) = support().into_iter().find(|r| r.resource_type == rt) else {
        return Err(FhirError(Outcome::new(
            IssueType::NotSupported,
            "not_supported",
            "",
            format!("不支持资源类型 {rt}"),
            format!("resource type {rt} is not supported"),
        ))
        .with_status(404));
    };
    if !r.interactions.contains(&i) {
        return Err(FhirError(Outcome::new(
            IssueType::NotSupported,
            "not_supported",
            "",
            format!("{rt} 不支持 {} 操作", i.as_str()),
            format!("{rt} does not support {}", i.as_str()),
        ))
        .with_status(405));
    }
    Ok(r)
}

fn principal(auth: Result<Auth, ApiError>) -> FhirResult<Principal> {
    Ok(auth?.principal)
}

/// A logical id: yilian's ids are positive integers.
pub fn parse_id(rt: &str, id: &str) -> FhirResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| not_found(rt, id))
}

pub fn not_found(rt: &str, id: &str) -> FhirError {
    FhirError(Outcome::new(
        IssueType::NotFound,
        "not_found",
        "",
        format!("未找到 {rt}/{id}"),
        format!("{rt}/{id} not found"),
    ))
}

/// The JSON body, or a structural refusal.
pub fn body_json(body: &Bytes) -> FhirResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        FhirError(Outcome::structure(
            "",
            format!("请求体不是有效的 JSON：{e}"),
            format!("the body is not valid JSON: {e}"),
        ))
    })
}

/// The version `If-Match` names, refusing an unreadable header.
fn if_match(headers: &HeaderMap) -> FhirResult<Option<i64>> {
    let Some(h) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    h.to_str()
        .ok()
        .and_then(yilian_fhir::if_match_version)
        .map(Some)
        .ok_or_else(|| {
            FhirError(Outcome::value(
                "",
                "If-Match 头应为 W/\"版本号\"",
                "If-Match must be W/\"version\"",
            ))
            .with_status(400)
        })
}

/// What a search found: one page of matches, the total, and `_include`d resources.
#[derive(Debug, Default)]
pub struct Found {
    pub matches: Vec<Value>,
    pub total: u64,
    pub included: Vec<Value>,
}

async fn read(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Path((rt, id)): Path<(String, String)>,
) -> FhirResult<Response> {
    let p = principal(auth)?;
    supported(&rt, Interaction::Read)?;
    let r = match rt.as_str() {
        "Patient" => patient::read(&s, &p, &id).await?,
        "Organization" => registry::read_organization(&s, &p, &id).await?,
        "Practitioner" => people::read_practitioner(&s, &p, &id).await?,
        "PractitionerRole" => people::read_role(&s, &p, &id).await?,
        "Location" => people::read_location(&s, &p, &id).await?,
        "CareTeam" => people::read_team(&s, &p, &id).await?,
        t if CARE.contains(&t) => care::read(&s, &p, t, &id).await?,
        t if WORKFLOW.contains(&t) => workflow::read(&s, &p, t, &id).await?,
        t if FINANCE.contains(&t) => finance::read(&s, &p, t, &id).await?,
        t if OVERSIGHT.contains(&t) => oversight::read(&s, &p, t, &id).await?,
        _ => record::read(&s, &p, &rt, &id).await?,
    };
    Ok(resource_response(
        &base_url(&s, &headers),
        StatusCode::OK,
        &r,
    ))
}

async fn search(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Path(rt): Path<String>,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let p = principal(auth)?;
    let support = supported(&rt, Interaction::SearchType)?;
    let params = Params::parse(q.as_deref().unwrap_or(""), &support)?;
    let found = match rt.as_str() {
        "Patient" => patient::search(&s, &p, &params).await?,
        "Organization" => registry::search_organizations(&s, &p, &params).await?,
        "Practitioner" => people::search_practitioners(&s, &p, &params).await?,
        "PractitionerRole" => people::search_roles(&s, &p, &params).await?,
        "Location" => people::search_locations(&s, &p, &params).await?,
        "CareTeam" => people::search_teams(&s, &p, &params).await?,
        t if CARE.contains(&t) => care::search(&s, &p, t, &params).await?,
        t if WORKFLOW.contains(&t) => workflow::search(&s, &p, t, &params).await?,
        t if FINANCE.contains(&t) => finance::search(&s, &p, t, &params).await?,
        t if OVERSIGHT.contains(&t) => oversight::search(&s, &p, t, &params).await?,
        _ => record::search(&s, &p, &rt, &params).await?,
    };
    let page = yilian_fhir::bundle::SearchPage {
        base: base_url(&s, &headers),
        resource_type: rt,
        params: params.echo(),
        total: found.total,
        count: params.count,
        offset: params.offset,
        matches: found.matches,
        included: found.included,
    };
    Ok(fhir_json(StatusCode::OK, &page.to_bundle()))
}

async fn create(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Path(rt): Path<String>,
    body: Bytes,
) -> FhirResult<Response> {
    let p = principal(auth)?;
    supported(&rt, Interaction::Create)?;
    let v = body_json(&body)?;
    let r = match rt.as_str() {
        "Patient" => patient::create(&s, &p, &v).await?,
        "Organization" => registry::create_organization(&s, &p, &v).await?,
        "CareTeam" => people::create_team(&s, &p, &v).await?,
        "PractitionerRole" => people::create_role(&s, &p, &v).await?,
        t if CARE.contains(&t) => care::create(&s, &p, t, &v).await?,
        t if WORKFLOW.contains(&t) => workflow::create(&s, &p, t, &v).await?,
        t if FINANCE.contains(&t) => finance::create(&s, &p, t, &v).await?,
        _ => record::create(&s, &p, &rt, &v).await?,
    };
    Ok(resource_response(
        &base_url(&s, &headers),
        StatusCode::CREATED,
        &r,
    ))
}

async fn update(
    State(s): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Path((rt, id)): Path<(String, String)>,
    body: Bytes,
) -> FhirResult<Response> {
    let p = principal(auth)?;
    supported(&rt, Interaction::Update)?;
    let v = body_json(&body)?;
    let want = if_match(&headers)?;
    // The body's id must be the URL's (FHIR update semantics).
    if v.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        return Err(FhirError(Outcome::new(
            IssueType::Invariant,
            "invalid_fhir",
            &format!("{rt}.id"),
            format!("资源 id 须与地址中的 {id} 一致"),
            format!("the resource id must equal {id} from the URL"),
        ))
        .with_status(400));
    }
    let r = match rt.as_str() {
        "Patient" => patient::update(&s, &p, &id, &v, want).await?,
        "Organization" => registry::update_organization(&s, &p, &id, &v, want).await?,
        "Practitioner" => people::update_practitioner(&s, &p, &id, &v, want).await?,
        "CareTeam" => people::update_team(&s, &p, &id, &v, want).await?,
        t if CARE.contains(&t) => care::update(&s, &p, t, &id, &v, want).await?,
        t if WORKFLOW.contains(&t) => workflow::update(&s, &p, t, &id, &v, want).await?,
        _ => {
            return Err(supported(&rt, Interaction::Update)
                .err()
                .unwrap_or_else(internal));
        }
    };
    Ok(resource_response(
        &base_url(&s, &headers),
        StatusCode::OK,
        &r,
    ))
}

fn internal() -> FhirError {
    ApiError::internal().into()
}

/// Checks `If-Match` against the stored version: 412 on a mismatch.
pub fn check_version(want: Option<i64>, current: i64) -> FhirResult<()> {
    match want {
        Some(w) if w != current => Err(FhirError(Outcome::precondition_failed(
            &yilian_fhir::etag(w),
            &yilian_fhir::etag(current),
        ))),
        _ => Ok(()),
    }
}
