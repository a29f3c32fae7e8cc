//! `/api/v1`: JSON over HTTP with an OpenAPI 3 document generated from the
//! handlers' annotations (`/api/v1/openapi.json`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::Action;
use yilian_store::users::UserRow;

use crate::auth::{self, Auth};
use crate::error::ApiResult;
use crate::extract::Json;
use crate::service::{self, UserInput};
use crate::state::AppState;

pub mod care;
pub mod insurance;
pub mod monitoring;
pub mod recognition;
pub mod records;
pub mod referrals;
pub mod registry;
pub mod remote;
pub mod residents;
pub mod surveillance;

#[derive(OpenApi)]
#[openapi(
    info(title = "yilian 医联 API", description = "Integrated tiered-care platform. Errors: {code, message_zh, message_en}."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;
impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = api.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The `/api/v1` router and its OpenAPI document.
pub fn router() -> Router<AppState> {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_user))
        .merge(registry::router())
        .merge(residents::router())
        .merge(care::router())
        .merge(referrals::router())
        .merge(records::router())
        .merge(recognition::router())
        .merge(remote::router())
        .merge(insurance::router())
        .merge(surveillance::router())
        .merge(monitoring::router())
        .split_for_parts();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let doc = std::sync::Arc::new(doc);
    router.route(
        "/openapi.json",
        get(move || async move { axum::Json(doc.as_ref().clone()) }),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// For cookie-authenticated writes from a browser: `X-CSRF-Token`.
    pub csrf_token: String,
    pub expires_in_hours: i64,
}

/// Log in; returns a bearer token. Rate-limited per username.
#[utoipa::path(post, path = "/auth/login", request_body = LoginRequest, security(()),
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)), tag = "auth")]
async fn login(
    State(s): State<AppState>,
    Json(r): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let (token, csrf_token) = auth::login(&s, &r.username, &r.password).await?;
    Ok(Json(LoginResponse {
        token,
        csrf_token,
        expires_in_hours: auth::SESSION_HOURS,
    }))
}

/// End the session of the token used.
#[utoipa::path(post, path = "/auth/logout", responses((status = 204)), tag = "auth")]
async fn logout(State(s): State<AppState>, a: Auth) -> ApiResult<StatusCode> {
    let mut c = s.store.read().await?;
    yilian_store::users::delete_session(&mut c, &a.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub institution_id: Option<i64>,
    pub institution_name: Option<String>,
    pub region_code: Option<String>,
    pub resident_id: Option<i64>,
}

/// Who am I: role and scope of the caller.
#[utoipa::path(get, path = "/auth/me", responses((status = 200, body = Me)), tag = "auth")]
async fn me(a: Auth) -> Json<Me> {
    let p = a.principal;
    Json(Me {
        user_id: p.user_id,
        username: p.username,
        role: p.role.as_str().into(),
        institution_id: p.institution.as_ref().map(|i| i.id),
        institution_name: p.institution.map(|i| i.name),
        region_code: p.region.map(|r| r.as_str().to_string()),
        resident_id: p.resident_id,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub scope_code: Option<String>,
}

impl From<UserRow> for UserCreated {
    fn from(u: UserRow) -> Self {
        UserCreated {
            id: u.id,
            username: u.username,
            role: u.role,
            scope_code: u.scope_code,
        }
    }
}

/// Create a login (admin only).
#[utoipa::path(post, path = "/users", request_body = UserInput, responses((status = 201, body = UserCreated), (status = 403, body = crate::error::ErrorBody)), tag = "auth")]
async fn create_user(
    State(s): State<AppState>,
    a: Auth,
    Json(u): Json<UserInput>,
) -> ApiResult<(StatusCode, Json<UserCreated>)> {
    a.require(Action::ManageUsers)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_user(&s.store, &u).await?.into()),
    ))
}
