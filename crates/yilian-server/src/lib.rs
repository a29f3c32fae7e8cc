//! yilian-server — HTTP: `/api/v1` (JSON + OpenAPI), the web pages, auth and
//! the mapping of every error to a status and a stable code.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod care;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod insurance;
pub mod monitoring;
pub mod outbox;
pub mod recognition;
pub mod record;
pub mod referral;
pub mod remote;
pub mod service;
pub mod state;
pub mod surveillance;
pub mod web;

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::{AppState, Settings};

use crate::error::ApiError;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .nest(
            "/api/v1",
            api::router().fallback(|| async { ApiError::not_found("接口") }),
        )
        .nest("/fhir", fhir::router())
        .merge(web::router());
    if let Some(dir) = state.settings.assets.clone() {
        router = router.nest_service("/assets", ServeDir::new(dir));
    }
    router
        .fallback(|| async { ApiError::not_found("页面").into_response() })
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness and store reachability.
async fn healthz(axum::extract::State(s): axum::extract::State<AppState>) -> impl IntoResponse {
    let ok = match s.store.read().await {
        Ok(mut c) => sqlx_ping(&mut c).await,
        Err(_) => false,
    };
    let body = axum::Json(
        serde_json::json!({ "status": if ok { "ok" } else { "degraded" }, "backend": s.store.backend().as_str() }),
    );
    (
        if ok {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        },
        body,
    )
}

async fn sqlx_ping(c: &mut yilian_store::Conn) -> bool {
    yilian_store::sql::Sql::new("SELECT 1")
        .scalar_i64(c)
        .await
        .is_ok()
}

/// Prepares a store for serving: loads the shipped default configuration
/// (service packages) where the store lacks those versions.
pub async fn prepare(store: &yilian_store::Store) -> Result<(), yilian_store::StoreError> {
    let added = care::load_default_packages(store).await?;
    if added > 0 {
        tracing::info!(added, "default service packages loaded");
    }
    let added = insurance::seed_policies(store).await?;
    if added > 0 {
        tracing::info!(added, "insurance policy versions loaded");
    }
    // 到期: contracts whose period ended become expired (also swept daily by
    // the serve loop).
    let mut tx = store.write().await?;
    let expired = yilian_store::care::expire_ended(&mut tx, &state::today().to_string()).await?;
    tx.commit().await?;
    if expired > 0 {
        tracing::info!(expired, "ended contracts marked expired");
    }
    // Planner statistics: without them SQLite picked a range scan of the
    // due-date index for one resident's enrolments (30 ms instead of 60 µs
    // per referral at 100k residents).
    store.analyze().await?;
    let escalated = referral::escalate_overdue(store).await?;
    if escalated > 0 {
        tracing::info!(
            escalated,
            "overdue referrals escalated to their consortium coordinators"
        );
    }
    Ok(())
}

/// Serves `state` on `listener` until Ctrl-C / SIGTERM. Once an hour the
/// server marks ended contracts expired.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    if let Some(url) = state.settings.webhook_url.clone() {
        outbox::spawn_worker(state.store.clone(), url, std::time::Duration::from_secs(5));
    }
    let sweeper = state.store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = prepare(&sweeper).await {
                tracing::warn!(error = %e, "periodic contract expiry failed");
            }
        }
    });
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
