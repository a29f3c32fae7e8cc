//! Two-way referral and appointments through the API, on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    referral_rules_need_justifications_and_explain_themselves,
    a_referral_goes_up_is_accepted_scheduled_and_completed,
    illegal_transitions_and_wrong_sides_are_refused,
    a_declined_referral_can_be_redirected,
    inbox_puts_emergencies_then_contracted_residents_first,
    one_hundred_simultaneous_bookings_of_one_slot_book_it_once,
    notifications_survive_a_webhook_outage_without_loss_or_duplicates,
    follow_ups_propose_referrals_by_the_hypertension_guideline,
    referrals_become_follow_up_work_on_both_sides,
    overdue_referrals_are_listed_and_escalated_once,
    appointments_are_rescheduled_and_missed_without_losing_a_booking,
);

/// A county consortium of H1, WA and VA1 (so their referrals are in-consortium).
async fn consortium(app: &TestApp) {
    county_consortium(app, &["WA", "VA1"]).await;
}

async fn patient(app: &TestApp, token: &str, seq: u16) -> i64 {
    app.register(
        token,
        resident_body(VILLAGE_A1, (1955, 3, 3), seq, "转诊患者", "14500000021"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// An up-referral to H1; hypertension is a first-contact condition, so it
/// carries a justification.
fn up(resident: i64, icd10: &str) -> Value {
    json!({"resident_id": resident, "direction": "up", "to_institution_code": "H1", "to_department": "心内科", "icd10": icd10,
        "diagnosis": "高血压3级", "reason": "血压控制不佳，需调整方案", "justification": "规范治疗3个月血压仍未达标"})
}

fn unjustified(resident: i64, icd10: &str) -> Value {
    let mut v = up(resident, icd10);
    v.as_object_mut().unwrap().remove("justification");
    v
}

async fn referral_rules_need_justifications_and_explain_themselves(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    // Outside any consortium: a justification is required (breast cancer is on no list).
    let e = assert_error(
        app.post(&vd, "/api/v1/referrals", &unjustified(r, "C50.9"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "justification_required",
    )
    .await;
    assert!(
        e["message_zh"].as_str().unwrap().contains("医联体")
            && e["message_en"].as_str().unwrap().contains("consortium"),
        "{e}"
    );
    consortium(&app).await;
    let ok = app
        .post(&vd, "/api/v1/referrals", &unjustified(r, "C50.9"))
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(ok.json::<Value>().await.unwrap()["state"], "submitted");
    // Hypertension is a first-contact condition: refused without a reason, then shown as a finding.
    assert_error(
        app.post(&vd, "/api/v1/referrals", &unjustified(r, "I10"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "justification_required",
    )
    .await;
    let v: Value = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json()
        .await
        .unwrap();
    let findings: Vec<&str> = v["rule_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(findings, ["first_contact"], "explained, not silent");
    // A do-not-refer-up condition without a justification: refused, nothing stored.
    let cold = app
        .post(&vd, "/api/v1/referrals", &unjustified(r, "J06.9"))
        .await;
    assert_error(
        cold,
        StatusCode::UNPROCESSABLE_ENTITY,
        "justification_required",
    )
    .await;
    let mut justified = up(r, "J06.9");
    justified["justification"] = json!("高热不退三天，基层抗感染治疗无效");
    assert_eq!(
        app.post(&vd, "/api/v1/referrals", &justified)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_error(
        app.post(&vd, "/api/v1/referrals", &up(r, "XYZ")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_icd10",
    )
    .await;
    let mut stroke = up(r, "I63.9");
    stroke["urgency"] = json!("emergency");
    stroke["green_channel"] = json!("stroke");
    assert_error(
        app.post(&vd, "/api/v1/referrals", &stroke).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "service_not_available",
    )
    .await;
    let out: Value = app
        .get(&vd, "/api/v1/referrals/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        out.as_array().unwrap().len(),
        3,
        "refused referrals stored nothing"
    );
}

async fn a_referral_goes_up_is_accepted_scheduled_and_completed(app: TestApp) {
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let v: Value = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_i64().unwrap();
    let desk = app.login("desk").await;
    let inbox: Value = app
        .get(&desk, "/api/v1/referrals/inbox")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox[0]["id"].as_i64(), Some(id));
    let accepted: Value = app
        .post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "accept"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["state"], "accepted");
    let start = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%dT09:00")
        .to_string();
    let opened = app.post(&desk, "/api/v1/slots", &json!({"starts_at": start, "minutes": 15, "count": 10, "department": "心内科", "reserved_bp": 2000})).await;
    assert_eq!(opened.status(), StatusCode::CREATED);
    let from = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT00:00:00")
        .to_string();
    let to = (chrono::Utc::now() + chrono::Duration::days(5))
        .format("%Y-%m-%dT00:00:00")
        .to_string();
    let h1: Value = app
        .get(&desk, "/api/v1/institutions?q=H1")
        .await
        .json()
        .await
        .unwrap();
    let slots: Value = app
        .get(
            &desk,
            &format!(
                "/api/v1/slots?institution_id={}&from={from}&to={to}",
                h1["items"][0]["id"]
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), 10);
    assert_eq!(
        slots
            .iter()
            .filter(|s| s["reserved_for_referral"] == 1)
            .count(),
        2,
        "20 % kept for referrals"
    );
    let reserved = slots
        .iter()
        .find(|s| s["reserved_for_referral"] == 1)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // The public cannot take a reserved slot three days ahead…
    assert_error(
        app.post(
            &desk,
            "/api/v1/appointments",
            &json!({"slot_id": reserved, "resident_id": r}),
        )
        .await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    // …but the referral can, in the same transaction as scheduling.
    let scheduled: Value = app
        .post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "schedule", "slot_id": reserved}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(scheduled["state"], "scheduled");
    assert!(scheduled["appointment_id"].as_i64().is_some());
    for event in ["arrive", "complete"] {
        let s: Value = app
            .post(
                &desk,
                &format!("/api/v1/referrals/{id}/events"),
                &json!({"event": event}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            s["state"],
            if event == "arrive" {
                "arrived"
            } else {
                "completed"
            }
        );
    }
    let trail: Value = app
        .get(&vd, &format!("/api/v1/referrals/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["create", "accept", "schedule", "arrive", "complete"]
    );
    let mut c = app.db.store.read().await.unwrap();
    let queued =
        yilian_store::referrals::outbox(&mut c, "pending", yilian_store::Paging::default())
            .await
            .unwrap();
    assert_eq!(queued.total, 5, "every change is queued for the other side");
    // The visit and diagnosis are in the resident's record; the hospital,
    // having seen the patient, reads it on that ground.
    let chart: Value = app
        .get(&desk, &format!("/api/v1/residents/{r}/record"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chart["ground"], "encounter");
    let kinds: Vec<(&str, &str)> = chart["entries"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("diagnosis", "I10"), ("encounter", "")]);
}

async fn illegal_transitions_and_wrong_sides_are_refused(app: TestApp) {
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let id = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let desk = app.login("desk").await;
    let e = assert_error(
        app.post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "complete"}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    assert!(
        e["message_en"].as_str().unwrap().contains("submitted"),
        "{e}"
    );
    assert_error(
        app.post(
            &vd,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "accept"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for role in ["insurer", "hc_main", "cdc"] {
        let t = app.login(role).await;
        assert_eq!(
            app.get(&t, &format!("/api/v1/referrals/{id}"))
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{role} reads no single referral"
        );
    }
    assert_eq!(
        app.get(
            &app.login("clinician_a").await,
            &format!("/api/v1/referrals/{id}")
        )
        .await
        .status(),
        StatusCode::OK,
        "the township's clinicians may"
    );
    let outsider = app.login("clinician_b").await;
    assert_eq!(
        app.post(
            &outsider,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "accept"})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        app.post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "decline"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
}

async fn a_declined_referral_can_be_redirected(app: TestApp) {
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let id = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let desk = app.login("desk").await;
    let d: Value = app
        .post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "decline", "reason": "本院心内科床位已满"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (d["state"].as_str(), d["decline_reason"].as_str()),
        (Some("declined"), Some("本院心内科床位已满"))
    );
    let red = app
        .post(
            &vd,
            &format!("/api/v1/referrals/{id}/redirect"),
            &json!({"to_institution_code": "T3", "justification": "县医院床位已满，转市三级医院"}),
        )
        .await;
    assert_eq!(red.status(), StatusCode::CREATED);
    let v: Value = red.json().await.unwrap();
    assert_eq!(
        (
            v["redirected_from"].as_i64(),
            v["to_name"].as_str(),
            v["state"].as_str()
        ),
        (Some(id), Some("T3机构"), Some("submitted"))
    );
}

async fn inbox_puts_emergencies_then_contracted_residents_first(app: TestApp) {
    consortium(&app).await;
    let (team, _, _) = crate::care::team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let plain = patient(&app, &vd, 11).await;
    let contracted = patient(&app, &vd, 13).await;
    app.post(
        &vd,
        "/api/v1/contracts",
        &json!({"resident_id": contracted, "team_id": team}),
    )
    .await;
    let mut urgent_plain = up(plain, "I10");
    urgent_plain["urgency"] = json!("routine");
    let a = app
        .post(&vd, "/api/v1/referrals", &urgent_plain)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let b = app
        .post(&vd, "/api/v1/referrals", &up(contracted, "I10"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut emergency = up(plain, "I21.9");
    emergency["urgency"] = json!("emergency");
    emergency["green_channel"] = json!("chest_pain");
    // H1 has no chest-pain centre in the fixture: give it one.
    let admin = app.login("admin").await;
    let h1: Value = app
        .get(&admin, "/api/v1/institutions?q=H1")
        .await
        .json()
        .await
        .unwrap();
    let mut body = h1["items"][0].clone();
    body["services"] = json!(["chest_pain_center"]);
    body["lon"] = Value::Null;
    body["lat"] = Value::Null;
    assert_eq!(
        app.put(
            &admin,
            &format!("/api/v1/institutions/{}", body["id"]),
            &body
        )
        .await
        .status(),
        StatusCode::OK
    );
    let c = app
        .post(&vd, "/api/v1/referrals", &emergency)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let desk = app.login("desk").await;
    let inbox: Value = app
        .get(&desk, "/api/v1/referrals/inbox")
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<i64> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![c, b, a],
        "emergency, then contracted, then others"
    );
}

async fn one_hundred_simultaneous_bookings_of_one_slot_book_it_once(app: TestApp) {
    let desk = app.login("desk").await;
    let start = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT10:00")
        .to_string();
    app.post(
        &desk,
        "/api/v1/slots",
        &json!({"starts_at": start, "minutes": 10, "count": 1}),
    )
    .await;
    let h1: Value = app
        .get(&desk, "/api/v1/institutions?q=H1")
        .await
        .json()
        .await
        .unwrap();
    let from = chrono::Utc::now().format("%Y-%m-%dT00:00:00").to_string();
    let to = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%dT00:00:00")
        .to_string();
    let slots: Value = app
        .get(
            &desk,
            &format!(
                "/api/v1/slots?institution_id={}&from={from}&to={to}",
                h1["items"][0]["id"]
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let slot = slots[0]["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    let mut residents = Vec::new();
    for i in 0..100u16 {
        residents.push(
            app.register(
                &admin,
                resident_body(
                    VILLAGE_A1,
                    (
                        1950 + i32::from(i % 50),
                        1 + u32::from(i % 12),
                        1 + u32::from(i % 28),
                    ),
                    100 + i,
                    "并发患者",
                    "14500000031",
                ),
            )
            .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let tasks: Vec<_> = residents
        .into_iter()
        .map(|r| {
            let url = app.url("/api/v1/appointments");
            let token = desk.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"slot_id": slot, "resident_id": r}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, refused), (1, 99));
}

async fn notifications_survive_a_webhook_outage_without_loss_or_duplicates(app: TestApp) {
    use std::sync::{Arc, Mutex};
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let id = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let desk = app.login("desk").await;
    app.post(
        &desk,
        &format!("/api/v1/referrals/{id}/events"),
        &json!({"event": "accept"}),
    )
    .await;
    let store = app.db.store.clone();
    let client = reqwest::Client::new();
    let make_due = || async {
        let mut c = store.read().await.unwrap();
        yilian_store::sql::Sql::new(
            "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE delivered_at IS NULL",
        )
        .execute(&mut c)
        .await
        .unwrap();
    };
    // The receiver is down: both messages stay queued with their error.
    let down = yilian_server::outbox::deliver_once(&store, &client, "http://127.0.0.1:9/hook")
        .await
        .unwrap();
    assert_eq!((down.delivered, down.failed), (0, 2));
    // Up again: each message arrives once.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(headers["x-yilian-message-id"].to_str().unwrap().to_string());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    make_due().await;
    let up_round = yilian_server::outbox::deliver_once(&store, &client, &url)
        .await
        .unwrap();
    assert_eq!(up_round.delivered, 2);
    let again = yilian_server::outbox::deliver_once(&store, &client, &url)
        .await
        .unwrap();
    assert_eq!(again.delivered, 0, "nothing is sent twice");
    let mut ids = seen.lock().unwrap().clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2);
    // A message that keeps failing becomes a visible dead letter an admin can requeue.
    let cancelled = app
        .post(
            &vd,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "cancel", "reason": "患者改去他院"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    {
        let mut c = store.read().await.unwrap();
        yilian_store::sql::Sql::new("UPDATE outbox SET attempts = 7 WHERE delivered_at IS NULL")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let dead = yilian_server::outbox::deliver_once(&store, &client, "http://127.0.0.1:9/hook")
        .await
        .unwrap();
    assert_eq!(dead.dead, 1);
    let admin = app.login("admin").await;
    let letters: Value = app
        .get(&admin, "/api/v1/outbox?state=dead")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(letters["total"], 1);
    let dead_id = letters["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.post(
            &admin,
            &format!("/api/v1/outbox/{dead_id}/retry"),
            &json!({})
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let pending: Value = app
        .get(&admin, "/api/v1/outbox?state=pending")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["total"], 1, "requeued, not lost");
    assert_error(
        app.get(&desk, "/api/v1/outbox").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn follow_ups_propose_referrals_by_the_hypertension_guideline(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let e: Value = app.post(&vd, "/api/v1/enrolments", &json!({"resident_id": r, "program": "hypertension", "measures": {"sbp": 150, "dbp": 92}})).await.json().await.unwrap();
    let e = e["enrolment"]["id"].as_i64().unwrap();
    let fu = |body: Value| {
        let url = format!("/api/v1/enrolments/{e}/followups");
        let (app, vd) = (&app, &vd);
        async move {
            app.post(vd, &url, &body)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let quiet = fu(json!({"sbp": 186, "dbp": 112})).await;
    assert_eq!(
        quiet["referral_proposal"],
        Value::Null,
        "no symptoms, no emergency referral"
    );
    let crisis = fu(json!({"sbp": 186, "dbp": 112, "symptoms": true})).await;
    assert_eq!(crisis["referral_proposal"], "emergency_up");
    // Uncontrolled for more than two months on regular treatment.
    let days_ago = |d: i64| (yilian_server::state::today() - chrono::Duration::days(d)).to_string();
    let r2 = patient(&app, &vd, 13).await;
    let e2: Value = app
        .post(
            &vd,
            "/api/v1/enrolments",
            &json!({"resident_id": r2, "program": "hypertension", "date": days_ago(120)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let e2 = e2["enrolment"]["id"].as_i64().unwrap();
    let url = format!("/api/v1/enrolments/{e2}/followups");
    let first: Value = app
        .post(
            &vd,
            &url,
            &json!({"sbp": 152, "dbp": 94, "adherence": "regular", "date": days_ago(70)}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["referral_proposal"], Value::Null);
    let later: Value = app
        .post(
            &vd,
            &url,
            &json!({"sbp": 150, "dbp": 95, "adherence": "regular"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["referral_proposal"], "routine_up");
}

async fn referrals_become_follow_up_work_on_both_sides(app: TestApp) {
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    app.post(
        &vd,
        "/api/v1/enrolments",
        &json!({"resident_id": r, "program": "hypertension", "measures": {"sbp": 150, "dbp": 92}}),
    )
    .await;
    let before: Value = app
        .get(&vd, "/api/v1/worklist?window=14")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before, json!([]), "a green patient is due in 90 days");
    app.post(&vd, "/api/v1/referrals", &up(r, "I10")).await;
    let after: Value = app
        .get(&vd, "/api/v1/worklist?window=14")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after.as_array().unwrap().len(),
        1,
        "the referring side follows up within two weeks"
    );
    // Downward: the county hospital refers a diabetic patient down to WA.
    let r2 = patient(&app, &vd, 13).await;
    let specialist = app.login("specialist").await;
    let down = json!({"resident_id": r2, "direction": "down", "to_institution_code": "WA", "icd10": "E11.9", "diagnosis": "2型糖尿病", "reason": "血糖平稳，回基层管理",
        "summary": "住院10天，血糖控制达标出院", "follow_up_plan": "二甲双胍0.5g tid，每月随访空腹血糖"});
    let made = app.post(&specialist, "/api/v1/referrals", &down).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let id = made.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let clinician = app.login("clinician_a").await;
    let accepted = app
        .post(
            &clinician,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "accept"}),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let work: Value = app
        .get(&clinician, "/api/v1/worklist?window=14")
        .await
        .json()
        .await
        .unwrap();
    let diabetic: Vec<&Value> = work
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["resident_id"].as_i64() == Some(r2))
        .collect();
    assert_eq!(diabetic.len(), 1);
    assert_eq!(diabetic[0]["program"], "diabetes_t2");
    let record: Value = app
        .get(
            &clinician,
            &format!("/api/v1/enrolments/{}", diabetic[0]["enrolment_id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        record["enrolment"]["plan"]
            .as_str()
            .unwrap()
            .contains("二甲双胍"),
        "the hospital's plan is handed over"
    );
    // A downward referral without the handover is refused.
    let mut bare = down.clone();
    bare["follow_up_plan"] = json!("");
    assert_error(
        app.post(&specialist, "/api/v1/referrals", &bare).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "justification_required",
    )
    .await;
}

async fn overdue_referrals_are_listed_and_escalated_once(app: TestApp) {
    consortium(&app).await;
    let vd = app.login("vd_a1").await;
    let r = patient(&app, &vd, 11).await;
    let id = app
        .post(&vd, "/api/v1/referrals", &up(r, "I10"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let desk = app.login("desk").await;
    let none: Value = app
        .get(&desk, "/api/v1/referrals/inbox?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
    {
        let mut c = app.db.store.read().await.unwrap();
        yilian_store::sql::Sql::new("UPDATE referrals SET deadline_at = '2000-01-01T00:00:00'")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let late: Value = app
        .get(&desk, "/api/v1/referrals/inbox?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(late[0]["id"].as_i64(), Some(id));
    assert_eq!(
        yilian_server::referral::escalate_overdue(&app.db.store)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        yilian_server::referral::escalate_overdue(&app.db.store)
            .await
            .unwrap(),
        0,
        "escalated once"
    );
    let v: Value = app
        .get(&vd, &format!("/api/v1/referrals/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "escalate")
    );
}

async fn appointments_are_rescheduled_and_missed_without_losing_a_booking(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let desk = app.login("desk").await;
    let r = patient(&app, &vd, 51).await;
    let other = patient(&app, &vd, 52).await;
    let start = (chrono::Utc::now() + chrono::Duration::days(4))
        .format("%Y-%m-%dT09:00")
        .to_string();
    let opened = app
        .post(&desk, "/api/v1/slots", &json!({"starts_at": start, "minutes": 15, "count": 3, "department": "内科", "reserved_bp": 0}))
        .await;
    assert_eq!(opened.status(), StatusCode::CREATED);
    let h1: Value = app
        .get(&desk, "/api/v1/institutions?q=H1")
        .await
        .json()
        .await
        .unwrap();
    let day = (chrono::Utc::now() + chrono::Duration::days(4)).format("%Y-%m-%d");
    let slots: Value = app
        .get(
            &desk,
            &format!(
                "/api/v1/slots?institution_id={}&from={day}T00:00:00&to={day}T23:59:59",
                h1["items"][0]["id"]
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let book = |slot: i64, resident: i64| json!({"slot_id": slot, "resident_id": resident});
    let a: Value = app
        .post(&desk, "/api/v1/appointments", &book(ids[0], r))
        .await
        .json()
        .await
        .unwrap();
    let b = app
        .post(&desk, "/api/v1/appointments", &book(ids[1], other))
        .await;
    assert_eq!(b.status(), StatusCode::CREATED);

    // Onto a taken slot: 409, and the original booking stays.
    let path = format!("/api/v1/appointments/{}/reschedule", a["id"]);
    assert_error(
        app.post(&desk, &path, &json!({"slot_id": ids[1]})).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    let mut c = app.db.store.read().await.unwrap();
    let kept = yilian_store::referrals::get_appointment(&mut c, a["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, "booked");
    drop(c);
    // Onto a free slot: the new one is booked, the old one freed for others.
    let moved: Value = app
        .post(&desk, &path, &json!({"slot_id": ids[2]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (moved["slot_id"].as_i64(), moved["status"].as_str()),
        (Some(ids[2]), Some("booked"))
    );
    let again = app.post(&desk, &path, &json!({"slot_id": ids[0]})).await;
    assert_error(again, StatusCode::CONFLICT, "illegal_transition").await;
    assert_eq!(
        app.post(&desk, "/api/v1/appointments", &book(ids[0], other))
            .await
            .status(),
        StatusCode::CREATED,
        "the freed slot can be booked"
    );

    // No-show: not before the appointment's time, only by the slot's institution.
    let moved_id = moved["id"].as_i64().unwrap();
    let early = app
        .post(
            &desk,
            &format!("/api/v1/appointments/{moved_id}/no-show"),
            &json!({}),
        )
        .await;
    assert_error(early, StatusCode::CONFLICT, "illegal_transition").await;
    let mut c = app.db.store.write().await.unwrap();
    {
        use yilian_store::sqlx::Executor;
        let conn: &mut yilian_store::Conn = &mut c;
        let past = (chrono::Utc::now() + chrono::Duration::hours(8) - chrono::Duration::hours(2))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        conn.execute(yilian_store::sqlx::AssertSqlSafe(format!(
            "UPDATE slots SET starts_at = '{past}' WHERE id = {}",
            ids[2]
        )))
        .await
        .unwrap();
    }
    c.commit().await.unwrap();
    assert_error(
        app.post(
            &vd,
            &format!("/api/v1/appointments/{moved_id}/no-show"),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let missed: Value = app
        .post(
            &desk,
            &format!("/api/v1/appointments/{moved_id}/no-show"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missed["status"], "no_show");
    assert_error(
        app.post(
            &desk,
            &format!("/api/v1/appointments/{moved_id}/no-show"),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
}
