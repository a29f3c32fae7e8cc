//! 健康档案 pages: a resident's timeline for clinicians (read on grounds,
//! with emergency access when there are none, and a form to add an entry),
//! and the resident's own record, access log and consents (授权管理). Every
//! read and write is the `/api/v1` operation of [`crate::record`].

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::{Environment, Value, context};
use yilian_domain::access::{Action, Role, allowed};
use yilian_domain::record::{EncounterType, EntryKind, GranteeKind, Ground, reads_records};
use yilian_store::Paging;
use yilian_store::registry::{self, ConsortiumFilter, InstitutionFilter};

use super::{Fields, WebAuth, WebResult, base, check_csrf, render, see_other, shown_on_form, with};
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::record::{self as service, ConsentRequest, EntryRequest, TimelineQuery};
use crate::state::AppState;

pub(super) const TEMPLATES: [(&str, &str); 3] = [
    (
        "record_timeline.html",
        include_str!("../../templates/record_timeline.html"),
    ),
    (
        "record_entries.html",
        include_str!("../../templates/record_entries.html"),
    ),
    (
        "record_me.html",
        include_str!("../../templates/record_me.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/residents/{id}/record",
            get(timeline_page).post(add_submit),
        )
        .route(
            "/residents/{id}/record/break-glass",
            post(break_glass_submit),
        )
        .route("/me/record", get(me_page))
        .route("/me/consents", post(consent_submit))
        .route("/me/consents/{id}/revoke", post(revoke_submit))
}

pub fn add_globals(env: &mut Environment<'static>) {
    fn labels(all: &[(&'static str, &'static str)]) -> Value {
        Value::from_serialize(
            all.iter()
                .copied()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
    }
    let kinds: Vec<_> = EntryKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_zh()))
        .collect();
    let types: Vec<_> = EncounterType::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_zh()))
        .collect();
    let grounds: Vec<_> = Ground::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_zh()))
        .collect();
    let grantees: Vec<_> = GranteeKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_zh()))
        .collect();
    env.add_global("entry_kind_labels", labels(&kinds));
    env.add_global("encounter_type_labels", labels(&types));
    env.add_global("ground_labels", labels(&grounds));
    env.add_global("grantee_kind_labels", labels(&grantees));
    env.add_global(
        "entry_kinds",
        Value::from_serialize(
            kinds
                .iter()
                .map(|(c, l)| context! { code => c, label => l })
                .collect::<Vec<_>>(),
        ),
    );
    env.add_global(
        "encounter_types",
        Value::from_serialize(
            types
                .iter()
                .map(|(c, l)| context! { code => c, label => l })
                .collect::<Vec<_>>(),
        ),
    );
}

/// Whether the resident page links to the record (clinicians who read records).
pub(super) fn links_record(role: Role) -> bool {
    reads_records(role) && role != Role::Resident
}

fn timeline_view(
    auth: &crate::auth::Auth,
    jar: &CookieJar,
    id: i64,
    q: &TimelineQuery,
    result: Result<service::Timeline, ApiError>,
    form_error: Option<ApiError>,
) -> WebResult {
    let can_write = allowed(auth.principal.role, Action::WriteCare);
    match result {
        Ok(t) => Ok(render(
            "record_timeline.html",
            with(
                base(auth, jar, "/residents"),
                context! {
                    t, resident_id => id, can_write,
                    kind => q.kind.clone().unwrap_or_default(),
                    institution_id => q.institution_id,
                    form_error => form_error.map(|e| e.body.message_zh),
                },
            ),
        )),
        // No grounds: say so and offer emergency access (紧急调阅).
        Err(e) if e.status == StatusCode::FORBIDDEN && e.body.code == "no_access_grounds" => {
            let mut resp = render(
                "record_timeline.html",
                with(
                    base(auth, jar, "/residents"),
                    context! { refused => e.body.message_zh, resident_id => id, can_write },
                ),
            );
            *resp.status_mut() = StatusCode::FORBIDDEN;
            Ok(resp)
        }
        Err(e) if e.body.code == "invalid_field" => {
            let mut resp = render(
                "record_timeline.html",
                with(
                    base(auth, jar, "/residents"),
                    context! { refused => "无调阅依据。", glass_error => e.body.message_zh, resident_id => id },
                ),
            );
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

async fn timeline_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(mut q): Query<TimelineQuery>,
) -> WebResult {
    q.break_glass = None; // emergency access is a POST with a reason, never a link
    q.kind = q.kind.filter(|k| !k.is_empty());
    let t = service::timeline(&s.store, &auth.principal, id, &q, s.settings.encounter_days).await;
    timeline_view(&auth, &jar, id, &q, t, None)
}

async fn break_glass_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let q = TimelineQuery {
        break_glass: Some(f.raw("reason").to_string()),
        ..Default::default()
    };
    let t = service::timeline(&s.store, &auth.principal, id, &q, s.settings.encounter_days).await;
    timeline_view(&auth, &jar, id, &TimelineQuery::default(), t, None)
}

async fn add_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let req = EntryRequest {
        kind: f.raw("kind").into(),
        encounter_type: f.text("encounter_type"),
        occurred_at: f.text("occurred_at"),
        code: f.text("code"),
        title: f.raw("title").into(),
        value: f.text("value"),
        unit: f.text("unit"),
        reference_range: f.text("reference_range"),
        abnormal: f.text("abnormal").is_some(),
        hr_mark: f.text("hr_mark").is_some(),
        body: f.text("body"),
        encounter_id: f.num("encounter_id")?,
    };
    match service::add_entry(&s.store, &auth.principal, id, &req).await {
        Ok(_) => see_other(&format!("/residents/{id}/record")),
        Err(e) if shown_on_form(&e) => {
            let q = TimelineQuery::default();
            let t = service::timeline(&s.store, &auth.principal, id, &q, s.settings.encounter_days)
                .await;
            timeline_view(&auth, &jar, id, &q, t, Some(e))
        }
        Err(e) => Err(e.into()),
    }
}

/// The resident's own page: record, who read it, and consents.
async fn me_view(
    s: &AppState,
    auth: &crate::auth::Auth,
    jar: &CookieJar,
    q: &TimelineQuery,
    consent_error: Option<String>,
) -> WebResult {
    let p = &auth.principal;
    let me = p.resident_id.ok_or_else(ApiError::forbidden)?;
    let t = service::timeline(&s.store, p, me, q, s.settings.encounter_days).await?;
    let log = service::my_access_log(&s.store, p, Paging::new(Some(50), None)).await?;
    let consents = service::my_consents(&s.store, p).await?;
    let mut c = s.store.read().await?;
    let consortia = registry::list_consortia(
        &mut c,
        &ConsortiumFilter::default(),
        Paging::new(Some(100), None),
    )
    .await?
    .items;
    // Hospitals and centres a resident would let read their record (not village clinics).
    let hospitals: Vec<_> = registry::list_institutions(
        &mut c,
        &InstitutionFilter::default(),
        Paging::new(Some(500), None),
    )
    .await?
    .items
    .into_iter()
    .filter(|i| i.kind.as_str() != "village_clinic")
    .map(|i| context! { id => i.id, name => i.name })
    .collect();
    let today = crate::state::today();
    Ok(render(
        "record_me.html",
        with(
            base(auth, jar, "/me"),
            context! {
                t, log, consents, consent_error,
                consortia => consortia.iter().map(|c| context! { id => c.id, name => c.name.clone() }).collect::<Vec<_>>(),
                hospitals,
                today => today.to_string(),
                default_end => (today + chrono::Duration::days(90)).to_string(),
                kind => q.kind.clone().unwrap_or_default(),
            },
        ),
    ))
}

async fn me_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(mut q): Query<TimelineQuery>,
) -> WebResult {
    q.break_glass = None;
    q.kind = q.kind.filter(|k| !k.is_empty());
    me_view(&s, &auth, &jar, &q, None).await
}

async fn consent_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    // One select names both the kind and the id: `institution:12` or `consortium:3`.
    let (kind, id) = f.raw("grantee").split_once(':').unwrap_or(("", ""));
    let req = ConsentRequest {
        grantee_kind: kind.into(),
        grantee_id: id.parse().unwrap_or(0),
        starts_on: f.text("starts_on"),
        ends_on: f.raw("ends_on").into(),
        note: f.text("note"),
    };
    match service::grant_consent(&s.store, &auth.principal, &req).await {
        Ok(_) => see_other("/me/record#consents"),
        Err(e) if shown_on_form(&e) => {
            me_view(
                &s,
                &auth,
                &jar,
                &TimelineQuery::default(),
                Some(e.body.message_zh),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    match service::revoke_consent(&s.store, &auth.principal, id).await {
        Ok(_) => see_other("/me/record#consents"),
        Err(e) if shown_on_form(&e) => {
            me_view(
                &s,
                &auth,
                &jar,
                &TimelineQuery::default(),
                Some(e.body.message_zh),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
