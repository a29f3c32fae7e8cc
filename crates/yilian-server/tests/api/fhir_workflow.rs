//! The referral workflow driven purely through `/fhir` (ServiceRequest +
//! Task, Schedule, Slot, Appointment) on both backends: the same sides,
//! rules and trail as `/api/v1/referrals`, If-Match on the Task, illegal
//! steps refused at `Task.status`, `_include` of the Patient, and scoping.

use chrono::{Duration, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use yilian_fhir::identifiers::{ICD10_SYSTEM, ID_NUMBER_SYSTEM};
use yilian_fhir::referral::{
    JUSTIFICATION_EXTENSION, REFERRAL_DIRECTION_SYSTEM, REFERRAL_TASK_PARAM_SYSTEM,
};
use yilian_fhir::scheduling::SLOT_RESERVED_EXTENSION;

use crate::both_backends;
use crate::fhir::{institution_id, ok_json, send, yilian_outcome as outcome};
use crate::helpers::*;

both_backends!(
    a_referral_runs_from_service_request_to_completion_through_fhir,
    a_declined_task_says_why_and_is_redirected_by_a_new_owner,
    illegal_steps_wrong_sides_and_stale_versions_are_refused,
    service_requests_are_searched_with_their_patients_included,
    appointments_are_booked_moved_and_cancelled_through_fhir,
    other_institutions_see_nothing_and_payers_are_refused,
);

/// A resident of 东庄村 (inside WA's township and H1's county).
async fn patient(app: &TestApp, token: &str, seq: u16) -> i64 {
    app.register(
        token,
        resident_body(VILLAGE_A1, (1958, 6, 7), seq, "转诊测试", "14500007001"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// An upward referral to `to` for hypertension (a first-contact condition,
/// so it states why).
fn service_request(resident: i64, from: i64, to: i64, status: &str) -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "status": status,
        "intent": "order",
        "category": [{ "coding": [{ "system": REFERRAL_DIRECTION_SYSTEM, "code": "up" }] }],
        "priority": "routine",
        "subject": { "reference": format!("Patient/{resident}") },
        "requester": { "reference": format!("Organization/{from}") },
        "performer": [{ "reference": format!("Organization/{to}") }],
        "performerType": { "text": "心内科" },
        "reasonCode": [{ "coding": [{ "system": ICD10_SYSTEM, "code": "I10" }], "text": "高血压3级" }],
        "note": [{ "text": "血压控制不佳，需调整方案" }],
        "extension": [{ "url": JUSTIFICATION_EXTENSION, "valueString": "规范治疗3个月血压仍未达标" }],
    })
}

/// A consortium of H1, WA and VA1; a patient; a referral from WA to H1
/// created through FHIR. Returns (patient, referral id, WA, H1).
async fn referred(app: &TestApp, seq: u16) -> (i64, String, i64, i64) {
    county_consortium(app, &["WA", "VA1"]).await;
    let ca = app.login("clinician_a").await;
    let r = patient(app, &ca, seq).await;
    let (wa, h1) = (
        institution_id(app, "WA").await,
        institution_id(app, "H1").await,
    );
    let sr = send(
        app,
        Method::POST,
        &ca,
        "/fhir/ServiceRequest",
        Some(&service_request(r, wa, h1, "active")),
        None,
    )
    .await;
    let sr = ok_json(sr, StatusCode::CREATED).await;
    (r, sr["id"].as_str().unwrap().to_string(), wa, h1)
}

/// The Task fetched, changed to `status` (with `extra` merged in), PUT
/// back with its version.
async fn move_task(app: &TestApp, token: &str, id: &str, status: &str, extra: Value) -> Response {
    let r = app.get(token, &format!("/fhir/Task/{id}")).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let mut t = ok_json(r, StatusCode::OK).await;
    t["status"] = json!(status);
    t.as_object_mut().unwrap().remove("businessStatus");
    t.as_object_mut().unwrap().remove("statusReason");
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    send(
        app,
        Method::PUT,
        token,
        &format!("/fhir/Task/{id}"),
        Some(&t),
        Some(&etag),
    )
    .await
}

fn cst_day(days: i64) -> String {
    (Utc::now() + Duration::hours(8) + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// A 15-minute slot at H1's 心内科, `days` ahead at `hh:mm`.
fn slot(h1: i64, days: i64, hhmm: &str, reserved: bool) -> Value {
    let day = cst_day(days);
    let (h, m) = hhmm.split_once(':').unwrap();
    let end_m = m.parse::<u32>().unwrap() + 15;
    json!({
        "resourceType": "Slot",
        "extension": [{ "url": SLOT_RESERVED_EXTENSION, "valueBoolean": reserved }],
        "schedule": { "reference": format!("Schedule/{h1}") },
        "serviceType": [{ "text": "心内科" }],
        "status": "free",
        "start": format!("{day}T{h}:{m}:00+08:00"),
        "end": format!("{day}T{h}:{end_m:02}:00+08:00"),
    })
}

fn entries<'a>(b: &'a Value, mode: &str) -> Vec<&'a Value> {
    b["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["search"]["mode"] == mode)
                .map(|x| &x["resource"])
                .collect()
        })
        .unwrap_or_default()
}

async fn bundle(app: &TestApp, token: &str, path: &str) -> Value {
    let b = ok_json(app.get(token, path).await, StatusCode::OK).await;
    assert_eq!(b["type"], "searchset", "{b}");
    b
}

async fn a_referral_runs_from_service_request_to_completion_through_fhir(app: TestApp) {
    let (r, id, wa, h1) = referred(&app, 11).await;
    let ca = app.login("clinician_a").await;
    let sr = ok_json(
        app.get(&ca, &format!("/fhir/ServiceRequest/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sr["status"], "active");
    assert_eq!(sr["subject"]["reference"], format!("Patient/{r}"));
    assert_eq!(sr["requester"]["reference"], format!("Organization/{wa}"));
    assert_eq!(
        sr["performer"][0]["reference"],
        format!("Organization/{h1}")
    );
    assert_eq!(sr["reasonCode"][0]["coding"][0]["code"], "I10");

    // The county hospital's referral desk sees it in its Task list and accepts.
    let desk = app.login("desk").await;
    let inbox = bundle(
        &app,
        &desk,
        &format!("/fhir/Task?owner=Organization/{h1}&status=requested"),
    )
    .await;
    let tasks = entries(&inbox, "match");
    assert_eq!(tasks.len(), 1, "{inbox}");
    assert_eq!(tasks[0]["id"], id.as_str());
    assert_eq!(
        tasks[0]["focus"]["reference"],
        format!("ServiceRequest/{id}")
    );
    let r1 = app.get(&desk, &format!("/fhir/Task/{id}")).await;
    assert_eq!(r1.headers()["etag"], "W/\"1\"");
    let accepted = ok_json(
        move_task(&app, &desk, &id, "accepted", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["businessStatus"]["coding"][0]["code"], "accepted");
    assert_eq!(accepted["meta"]["versionId"], "2");

    // The desk opens a slot kept for referrals, under a derived Schedule.
    let created = send(
        &app,
        Method::POST,
        &desk,
        "/fhir/Slot",
        Some(&slot(h1, 3, "09:00", true)),
        None,
    )
    .await;
    let s = ok_json(created, StatusCode::CREATED).await;
    assert_eq!(s["status"], "free");
    let slot_id = s["id"].as_str().unwrap().to_string();
    let schedule = s["schedule"]["reference"].as_str().unwrap().to_string();
    assert!(
        schedule.starts_with(&format!("Schedule/{h1}-")),
        "{schedule}"
    );
    let scheds = bundle(
        &app,
        &desk,
        &format!("/fhir/Schedule?actor=Organization/{h1}"),
    )
    .await;
    let ids: Vec<String> = entries(&scheds, "match")
        .iter()
        .map(|s| format!("Schedule/{}", s["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [schedule.as_str()]);
    let sched = ok_json(
        app.get(&ca, &format!("/fhir/{schedule}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sched["serviceType"][0]["text"], "心内科");
    let free = bundle(
        &app,
        &ca,
        &format!(
            "/fhir/Slot?schedule={schedule}&status=free&start=ge{}&start=lt{}",
            cst_day(2),
            cst_day(5)
        ),
    )
    .await;
    assert_eq!(free["total"], 1, "{free}");

    // Scheduling books the slot in the same step.
    let scheduled = ok_json(
        move_task(
            &app,
            &desk,
            &id,
            "ready",
            json!({ "input": [{
                "type": { "coding": [{ "system": REFERRAL_TASK_PARAM_SYSTEM, "code": "slot" }] },
                "valueReference": { "reference": format!("Slot/{slot_id}") },
            }] }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(scheduled["status"], "ready");
    let appt_ref = scheduled["output"][0]["valueReference"]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(appt_ref.starts_with("Appointment/"), "{scheduled}");
    let busy = ok_json(
        app.get(&ca, &format!("/fhir/Slot/{slot_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(busy["status"], "busy");

    // The appointment is visible to both sides.
    let a = ok_json(
        app.get(&desk, &format!("/fhir/{appt_ref}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["status"], "booked");
    assert_eq!(a["basedOn"][0]["reference"], format!("ServiceRequest/{id}"));
    assert_eq!(a["slot"][0]["reference"], format!("Slot/{slot_id}"));
    assert_eq!(
        a["participant"][0]["actor"]["reference"],
        format!("Patient/{r}")
    );
    let mine = bundle(
        &app,
        &ca,
        &format!("/fhir/Appointment?patient=Patient/{r}&status=booked"),
    )
    .await;
    assert_eq!(entries(&mine, "match").len(), 1, "{mine}");
    let by_ref = bundle(
        &app,
        &ca,
        &format!("/fhir/Appointment?based-on=ServiceRequest/{id}"),
    )
    .await;
    assert_eq!(by_ref["total"], 1, "{by_ref}");

    // Arrival and completion.
    let arrived = ok_json(
        move_task(&app, &desk, &id, "in-progress", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(arrived["status"], "in-progress");
    let a = ok_json(
        app.get(&desk, &format!("/fhir/{appt_ref}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["status"], "arrived");
    let done = ok_json(
        move_task(&app, &desk, &id, "completed", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert!(done["executionPeriod"]["end"].is_string(), "{done}");
    let notes: Vec<&str> = done["note"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes.len(),
        5,
        "create, accept, schedule, arrive, complete: {notes:?}"
    );
    let sr = ok_json(
        app.get(&ca, &format!("/fhir/ServiceRequest/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sr["status"], "completed");
    let a = ok_json(
        app.get(&ca, &format!("/fhir/{appt_ref}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["status"], "fulfilled");
    let fulfilled = bundle(
        &app,
        &desk,
        &format!("/fhir/Appointment?status=fulfilled&date={}", cst_day(3)),
    )
    .await;
    assert_eq!(fulfilled["total"], 1, "{fulfilled}");

    // The same trail and notifications as /api/v1.
    let v: Value = app
        .get(&ca, &format!("/api/v1/referrals/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = v["events"]
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
}

async fn a_declined_task_says_why_and_is_redirected_by_a_new_owner(app: TestApp) {
    let (_, id, _, h1) = referred(&app, 12).await;
    let desk = app.login("desk").await;
    // A decline needs a reason.
    let r = move_task(&app, &desk, &id, "rejected", json!({})).await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_fhir",
        Some("Task.statusReason"),
    )
    .await;
    let declined = ok_json(
        move_task(
            &app,
            &desk,
            &id,
            "rejected",
            json!({ "statusReason": { "text": "本院心内科床位已满" } }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(declined["status"], "rejected");
    assert_eq!(declined["statusReason"]["text"], "本院心内科床位已满");
    let ca = app.login("clinician_a").await;
    let sr = ok_json(
        app.get(&ca, &format!("/fhir/ServiceRequest/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sr["status"], "revoked");

    // Redirected: the referring side sends the Task back with a new owner.
    let t3 = institution_id(&app, "T3").await;
    let red = move_task(
        &app,
        &ca,
        &id,
        "requested",
        json!({
            "owner": { "reference": format!("Organization/{t3}") },
            "note": [{ "text": "县医院床位已满，转市三级医院" }],
        }),
    )
    .await;
    let new = ok_json(red, StatusCode::OK).await;
    let new_id = new["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id, "a redirect is a new referral");
    assert_eq!(new["status"], "requested");
    assert_eq!(new["owner"]["reference"], format!("Organization/{t3}"));
    let new_sr = ok_json(
        app.get(&ca, &format!("/fhir/ServiceRequest/{new_id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        new_sr["replaces"][0]["reference"],
        format!("ServiceRequest/{id}")
    );
    // The old one stays declined; H1 no longer has it open.
    let open = bundle(
        &app,
        &desk,
        &format!("/fhir/Task?owner=Organization/{h1}&status=requested,accepted"),
    )
    .await;
    assert_eq!(open["total"], 0, "{open}");
    let old = ok_json(
        app.get(&ca, &format!("/fhir/Task/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["status"], "rejected");
}

async fn illegal_steps_wrong_sides_and_stale_versions_are_refused(app: TestApp) {
    let (_, id, _, _) = referred(&app, 13).await;
    let desk = app.login("desk").await;
    // Completing a referral only submitted: no side may take that step.
    let r = move_task(&app, &desk, &id, "completed", json!({})).await;
    let o = outcome(
        r,
        StatusCode::CONFLICT,
        "illegal_transition",
        Some("Task.status"),
    )
    .await;
    assert!(
        o["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("submitted"),
        "{o}"
    );
    // Nor back to draft, nor to expired.
    for status in ["draft", "failed"] {
        let r = move_task(&app, &desk, &id, status, json!({})).await;
        outcome(
            r,
            StatusCode::CONFLICT,
            "illegal_transition",
            Some("Task.status"),
        )
        .await;
    }
    // The referring side may not accept its own referral.
    let ca = app.login("clinician_a").await;
    let r = move_task(&app, &ca, &id, "accepted", json!({})).await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", Some("Task.status")).await;
    // Scheduling needs a slot.
    ok_json(
        move_task(&app, &desk, &id, "accepted", json!({})).await,
        StatusCode::OK,
    )
    .await;
    let r = move_task(&app, &desk, &id, "ready", json!({})).await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_fhir",
        Some("Task.input"),
    )
    .await;

    // If-Match: a stale version is 412 and changes nothing.
    let t = ok_json(
        app.get(&desk, &format!("/fhir/Task/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["meta"]["versionId"], "2");
    let mut cancel = t.clone();
    cancel["status"] = json!("cancelled");
    cancel["statusReason"] = json!({ "text": "患者要求取消" });
    cancel.as_object_mut().unwrap().remove("businessStatus");
    let r = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Task/{id}"),
        Some(&cancel),
        Some("W/\"1\""),
    )
    .await;
    outcome(r, StatusCode::PRECONDITION_FAILED, "version_conflict", None).await;
    let still = ok_json(
        app.get(&ca, &format!("/fhir/Task/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "accepted");
    // With the current version the referring side cancels.
    let r = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Task/{id}"),
        Some(&cancel),
        Some("W/\"2\""),
    )
    .await;
    assert_eq!(r.headers()["etag"], "W/\"3\"");
    let done = ok_json(r, StatusCode::OK).await;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["statusReason"]["text"], "患者要求取消");
    // The body's id must be the URL's.
    let mut wrong = done.clone();
    wrong["id"] = json!("999");
    let r = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Task/{id}"),
        Some(&wrong),
        None,
    )
    .await;
    outcome(r, StatusCode::BAD_REQUEST, "invalid_fhir", Some("Task.id")).await;
    // A ServiceRequest is created active or draft; later steps are Task updates.
    let (wa, h1) = (
        institution_id(&app, "WA").await,
        institution_id(&app, "H1").await,
    );
    let sr = service_request(1, wa, h1, "completed");
    let r = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/ServiceRequest",
        Some(&sr),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_fhir",
        Some("ServiceRequest.status"),
    )
    .await;
    // A referral is requested in the caller's own name.
    let sr = service_request(1, h1, wa, "active");
    let r = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/ServiceRequest",
        Some(&sr),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("ServiceRequest.requester.reference"),
    )
    .await;
}

async fn service_requests_are_searched_with_their_patients_included(app: TestApp) {
    let (r, id, wa, h1) = referred(&app, 14).await;
    let ca = app.login("clinician_a").await;
    // A second patient with a draft.
    let other = patient(&app, &ca, 15).await;
    let draft = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/ServiceRequest",
        Some(&service_request(other, wa, h1, "draft")),
        None,
    )
    .await;
    let draft = ok_json(draft, StatusCode::CREATED).await;
    assert_eq!(draft["status"], "draft");
    let draft_id = draft["id"].as_str().unwrap().to_string();

    let b = bundle(
        &app,
        &ca,
        &format!("/fhir/ServiceRequest?patient=Patient/{r}&_include=ServiceRequest:subject"),
    )
    .await;
    let matches = entries(&b, "match");
    let included = entries(&b, "include");
    assert_eq!(matches.len(), 1, "{b}");
    assert_eq!(matches[0]["id"], id.as_str());
    assert_eq!(included.len(), 1, "{b}");
    assert_eq!(included[0]["resourceType"], "Patient");
    assert_eq!(included[0]["id"], r.to_string());
    // Included as in a list: no identity number, phone masked.
    let ids = included[0]["identifier"].as_array().unwrap();
    assert!(!ids.iter().any(|i| i["system"] == ID_NUMBER_SYSTEM), "{b}");
    assert!(
        included[0]["telecom"][0]["value"]
            .as_str()
            .unwrap()
            .contains('*'),
        "{b}"
    );
    // Without _include, nothing is included; an undeclared include is refused.
    let plain = bundle(
        &app,
        &ca,
        &format!("/fhir/ServiceRequest?subject=Patient/{r}"),
    )
    .await;
    assert!(entries(&plain, "include").is_empty());
    let r2 = app
        .get(
            &ca,
            "/fhir/ServiceRequest?_include=ServiceRequest:performer",
        )
        .await;
    outcome(
        r2,
        StatusCode::BAD_REQUEST,
        "invalid_search",
        Some("_include"),
    )
    .await;
    // Both patients' referrals included, each patient once.
    let all = bundle(
        &app,
        &ca,
        "/fhir/ServiceRequest?_include=ServiceRequest:subject",
    )
    .await;
    assert_eq!(entries(&all, "match").len(), 2, "{all}");
    assert_eq!(entries(&all, "include").len(), 2, "{all}");

    // By status.
    let ids_of = |b: &Value| -> Vec<String> {
        entries(b, "match")
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let active = bundle(&app, &ca, "/fhir/ServiceRequest?status=active").await;
    assert_eq!(ids_of(&active), [id.as_str()]);
    let drafts = bundle(&app, &ca, "/fhir/ServiceRequest?status=draft").await;
    assert_eq!(ids_of(&drafts), [draft_id.as_str()]);
    let none = bundle(&app, &ca, "/fhir/ServiceRequest?status=completed").await;
    assert_eq!(none["total"], 0);
    let tasks = bundle(&app, &ca, "/fhir/Task?status=draft,requested").await;
    assert_eq!(tasks["total"], 2, "{tasks}");
    // By date (authoredOn: submitted, else created), with prefixes.
    let today = cst_day(0);
    for (q, n) in [
        (format!("authored={today}"), 2),
        (format!("date=ge{today}"), 2),
        ("date=lt2000".to_string(), 0),
        (format!("authored=gt{}", cst_day(1)), 0),
        (format!("date={today}&status=active"), 1),
    ] {
        let b = bundle(&app, &ca, &format!("/fhir/ServiceRequest?{q}")).await;
        assert_eq!(b["total"], n, "{q}: {b}");
    }
    let bad = app.get(&ca, "/fhir/ServiceRequest?date=yesterday").await;
    outcome(bad, StatusCode::BAD_REQUEST, "invalid_search", Some("date")).await;
    // By requester and performer.
    let sent = bundle(
        &app,
        &ca,
        &format!("/fhir/ServiceRequest?requester=Organization/{wa}&performer=Organization/{h1}"),
    )
    .await;
    assert_eq!(sent["total"], 2);
    // The receiving side sees the submitted one (and the draft, which is
    // addressed to it, only by its sender's list).
    let desk = app.login("desk").await;
    let got = bundle(
        &app,
        &desk,
        &format!("/fhir/ServiceRequest?patient={r}&_include=ServiceRequest:subject"),
    )
    .await;
    assert_eq!(ids_of(&got), [id.as_str()]);
    assert_eq!(entries(&got, "include").len(), 1);
}

async fn appointments_are_booked_moved_and_cancelled_through_fhir(app: TestApp) {
    let desk = app.login("desk").await;
    let ca = app.login("clinician_a").await;
    let r = patient(&app, &ca, 16).await;
    let h1 = institution_id(&app, "H1").await;
    let mut slots = Vec::new();
    for hhmm in ["10:00", "10:30"] {
        let s = send(
            &app,
            Method::POST,
            &desk,
            "/fhir/Slot",
            Some(&slot(h1, 4, hhmm, false)),
            None,
        )
        .await;
        slots.push(ok_json(s, StatusCode::CREATED).await);
    }
    // Only at one's own institution.
    let r2 = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/Slot",
        Some(&slot(h1, 4, "11:00", false)),
        None,
    )
    .await;
    outcome(
        r2,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("Slot.schedule.reference"),
    )
    .await;
    let s0 = slots[0]["id"].as_str().unwrap().to_string();
    let s1 = slots[1]["id"].as_str().unwrap().to_string();
    let appt = |slot: &str| {
        json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{ "reference": format!("Slot/{slot}") }],
            "participant": [{ "actor": { "reference": format!("Patient/{r}") }, "status": "accepted" }],
        })
    };
    let created = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/Appointment",
        Some(&appt(&s0)),
        None,
    )
    .await;
    let a = ok_json(created, StatusCode::CREATED).await;
    assert_eq!(a["status"], "booked");
    let aid = a["id"].as_str().unwrap().to_string();
    // Never double-booked.
    let again = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/Appointment",
        Some(&appt(&s0)),
        None,
    )
    .await;
    outcome(
        again,
        StatusCode::CONFLICT,
        "slot_unavailable",
        Some("Appointment.slot[0].reference"),
    )
    .await;
    let busy = bundle(&app, &desk, &format!("/fhir/Slot?_id={s0}&status=busy")).await;
    assert_eq!(busy["total"], 1);
    // A no-show only once the time has begun.
    let mut ns = a.clone();
    ns["status"] = json!("noshow");
    let r3 = send(
        &app,
        Method::PUT,
        &desk,
        &format!("/fhir/Appointment/{aid}"),
        Some(&ns),
        None,
    )
    .await;
    outcome(
        r3,
        StatusCode::CONFLICT,
        "illegal_transition",
        Some("Appointment.status"),
    )
    .await;
    // Moved to the other slot: a new booking; the old one reads cancelled (改约).
    let mut moved = a.clone();
    moved["slot"] = json!([{ "reference": format!("Slot/{s1}") }]);
    let r4 = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Appointment/{aid}"),
        Some(&moved),
        None,
    )
    .await;
    let m = ok_json(r4, StatusCode::OK).await;
    assert_eq!(m["slot"][0]["reference"], format!("Slot/{s1}"));
    assert_eq!(m["status"], "booked");
    let mid = m["id"].as_str().unwrap().to_string();
    let old = ok_json(
        app.get(&desk, &format!("/fhir/Appointment/{aid}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["status"], "cancelled");
    assert!(old["cancelationReason"]["text"].is_string(), "{old}");
    let free = bundle(&app, &desk, &format!("/fhir/Slot?_id={s0}&status=free")).await;
    assert_eq!(free["total"], 1, "the old slot is free again");
    // Cancelled.
    let mut c = m.clone();
    c["status"] = json!("cancelled");
    let r5 = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Appointment/{mid}"),
        Some(&c),
        None,
    )
    .await;
    assert_eq!(ok_json(r5, StatusCode::OK).await["status"], "cancelled");
    let cancelled = bundle(
        &app,
        &desk,
        &format!("/fhir/Appointment?patient=Patient/{r}&status=cancelled"),
    )
    .await;
    assert_eq!(cancelled["total"], 2, "{cancelled}");
    let booked = bundle(&app, &desk, "/fhir/Appointment?status=booked").await;
    assert_eq!(booked["total"], 0, "{booked}");
    // A cancelled appointment is not moved back.
    let mut back = c.clone();
    back["status"] = json!("booked");
    back["slot"] = json!([{ "reference": format!("Slot/{s0}") }]);
    let r6 = send(
        &app,
        Method::PUT,
        &ca,
        &format!("/fhir/Appointment/{mid}"),
        Some(&back),
        None,
    )
    .await;
    outcome(
        r6,
        StatusCode::CONFLICT,
        "illegal_transition",
        Some("Appointment.status"),
    )
    .await;
}

async fn other_institutions_see_nothing_and_payers_are_refused(app: TestApp) {
    let (r, id, _, _) = referred(&app, 17).await;
    let outsider = app.login("clinician_b").await;
    let b = bundle(&app, &outsider, "/fhir/ServiceRequest").await;
    assert_eq!(b["total"], 0);
    let b = bundle(&app, &outsider, "/fhir/Task").await;
    assert_eq!(b["total"], 0);
    for path in [
        format!("/fhir/ServiceRequest/{id}"),
        format!("/fhir/Task/{id}"),
    ] {
        let r = app.get(&outsider, &path).await;
        outcome(r, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    let r2 = move_task(&app, &app.login("desk").await, &id, "accepted", json!({})).await;
    let accepted = ok_json(r2, StatusCode::OK).await;
    let mut t = accepted.clone();
    t["status"] = json!("cancelled");
    t["statusReason"] = json!({ "text": "无关机构" });
    t.as_object_mut().unwrap().remove("businessStatus");
    let r3 = send(
        &app,
        Method::PUT,
        &outsider,
        &format!("/fhir/Task/{id}"),
        Some(&t),
        None,
    )
    .await;
    outcome(r3, StatusCode::NOT_FOUND, "not_found", None).await;
    let r4 = app
        .get(&outsider, &format!("/fhir/Appointment?patient=Patient/{r}"))
        .await;
    outcome(r4, StatusCode::NOT_FOUND, "not_found", None).await;
    // Payers and planners see referrals in aggregate only.
    for role in ["insurer", "hc_main"] {
        let t = app.login(role).await;
        for path in ["/fhir/ServiceRequest", "/fhir/Task", "/fhir/Appointment"] {
            let r = app.get(&t, path).await;
            outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
        }
        let r = app.get(&t, &format!("/fhir/Task/{id}")).await;
        outcome(r, StatusCode::NOT_FOUND, "not_found", None).await;
    }
    // Unauthenticated: refused.
    let r5 = reqwest::get(app.url("/fhir/ServiceRequest")).await.unwrap();
    assert_eq!(r5.status(), StatusCode::UNAUTHORIZED);
}
