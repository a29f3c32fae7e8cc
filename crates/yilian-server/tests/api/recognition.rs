//! 检查检验结果互认 through the API and the pages, on both backends: the
//! check before an order, using a recognisable result, repeating it for a
//! listed reason (in the chart), level and consortium, the validity window,
//! the "HR" mark and the lab's standing, and the report.

use chrono::{Duration, NaiveDateTime, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    township_doctor_uses_the_40_day_old_county_hba1c_and_saves_its_price,
    repeating_a_recognisable_test_needs_a_listed_reason_written_into_the_chart,
    village_results_reach_the_county_hospital_only_through_a_consortium,
    seven_day_window_through_the_api,
    no_hr_mark_or_lab_out_of_standing_is_not_offered,
    only_clinicians_with_grounds_check_and_order,
    the_report_counts_per_institution_and_consortium,
    web_ordering_view_prompts_the_result_and_takes_a_repeat_reason,
);

/// One login per user and app (the login rate limit allows ten a minute).
async fn token(app: &TestApp, user: &str) -> String {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TOKENS: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    let key = (app.base.clone(), user.to_string());
    let cache = TOKENS.get_or_init(Default::default);
    if let Some(t) = cache.lock().unwrap().get(&key) {
        return t.clone();
    }
    let t = app.login(user).await;
    cache.lock().unwrap().insert(key, t.clone());
    t
}

/// China Standard Time now, as the record stores it.
fn cst_now() -> NaiveDateTime {
    (Utc::now() + Duration::hours(8)).naive_utc()
}

/// A CST time `days` days and `minutes` minutes before now.
fn ago(days: i64, minutes: i64) -> String {
    (cst_now() - Duration::days(days) - Duration::minutes(minutes))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn today() -> chrono::NaiveDate {
    cst_now().date()
}

async fn institution_id(app: &TestApp, code: &str) -> i64 {
    let admin = token(app, "admin").await;
    let v: Value = app
        .get(&admin, &format!("/api/v1/institutions?q={code}"))
        .await
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("institution {code}"))["id"]
        .as_i64()
        .unwrap()
}

/// Records a passed external quality assessment of `code` covering
/// `days_back` days before today to a year ahead (health commission).
async fn lab_in_good_standing(app: &TestApp, code: &str, days_back: i64) {
    let id = institution_id(app, code).await;
    let hc = token(app, "hc_main").await;
    let body = json!({"passed_on": (today() - Duration::days(days_back)).to_string(),
        "valid_until": (today() + Duration::days(365)).to_string(), "assessor": "省临床检验中心"});
    let r = app
        .post(
            &hc,
            &format!("/api/v1/institutions/{id}/lab-quality"),
            &body,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

/// A patient living in village A1, registered by clinician_a.
async fn patient(app: &TestApp, seq: u16, name: &str) -> i64 {
    let t = token(app, "clinician_a").await;
    app.register(
        &t,
        resident_body(VILLAGE_A1, (1956, 4, 4), seq, name, "14500000051"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// Adds a record entry as `user` (at their institution); returns its id.
async fn add(app: &TestApp, user: &str, rid: i64, body: Value) -> i64 {
    let t = token(app, user).await;
    let r = app
        .post(&t, &format!("/api/v1/residents/{rid}/record"), &body)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// A result of `code` taken at `at` by `user`'s institution.
async fn result(app: &TestApp, user: &str, rid: i64, code: &str, at: &str, hr: bool) -> i64 {
    add(
        app,
        user,
        rid,
        json!({"kind": "lab", "code": code, "title": format!("检验 {code}"), "value": "7.2", "unit": "%",
            "reference_range": "4.0-6.0", "abnormal": true, "hr_mark": hr, "occurred_at": at}),
    )
    .await
}

/// An outpatient visit today at `user`'s institution: a ground to read the record.
async fn visit(app: &TestApp, user: &str, rid: i64) {
    add(
        app,
        user,
        rid,
        json!({"kind": "encounter", "encounter_type": "outpatient", "title": "门诊：复诊"}),
    )
    .await;
}

async fn check(app: &TestApp, user: &str, rid: i64, item: &str) -> Value {
    let t = token(app, user).await;
    let r = app
        .post(
            &t,
            &format!("/api/v1/residents/{rid}/orders/check"),
            &json!({"item_code": item}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    r.json().await.unwrap()
}

async fn order(app: &TestApp, user: &str, rid: i64, body: Value) -> reqwest::Response {
    let t = token(app, user).await;
    app.post(&t, &format!("/api/v1/residents/{rid}/orders"), &body)
        .await
}

async fn stored_orders(app: &TestApp) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    yilian_store::recognition::count_orders(&mut c)
        .await
        .unwrap()
}

async fn entries_of(app: &TestApp, rid: i64) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    let mut q =
        yilian_store::sql::Sql::new("SELECT COUNT(*) FROM record_entries WHERE resident_id = ");
    q.bind(rid);
    q.scalar_i64(&mut c).await.unwrap()
}

/// The rules a candidate fails.
fn rules(candidate: &Value) -> Vec<String> {
    candidate["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// The seed-003 journey: H1 (county, lab in good standing) took an HbA1c 40
/// days ago with the HR mark; the resident's family doctor at WA is offered it.
async fn hba1c_journey(app: &TestApp) -> (i64, i64) {
    lab_in_good_standing(app, "H1", 200).await;
    let rid = patient(app, 51, "互认患者").await;
    let hba1c = result(app, "specialist", rid, "hba1c", &ago(40, 0), true).await;
    visit(app, "clinician_a", rid).await;
    (rid, hba1c)
}

async fn township_doctor_uses_the_40_day_old_county_hba1c_and_saves_its_price(app: TestApp) {
    let (rid, hba1c) = hba1c_journey(&app).await;
    let v = check(&app, "clinician_a", rid, "hba1c").await;
    let x = &v["recognized"];
    assert_eq!(x["entry_id"], hba1c);
    assert_eq!(x["institution_name"], "H1机构");
    assert_eq!(x["age_days"], 40);
    assert_eq!(
        (x["hr_mark"].as_bool(), x["eqa_passed"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (x["value"].as_str(), x["unit"].as_str()),
        (Some("7.2"), Some("%"))
    );
    assert!(x["valid_until"].as_str().is_some());
    assert_eq!(v["item"]["validity"], "60d");
    assert_eq!(v["item"]["validity_label"], "60天");
    assert_eq!(
        (v["saved_fen"].as_i64(), v["saved_yuan"].as_str()),
        (Some(6000), Some("60.00"))
    );
    assert_eq!(v["repeat_reason_required"], true);
    assert_eq!(v["ground"], "encounter");
    assert_eq!(v["candidates"].as_array().unwrap().len(), 1);
    assert!(rules(&v["candidates"][0]).is_empty());

    // The check was a read of the record's results, logged.
    let mut c = app.db.store.read().await.unwrap();
    let log = yilian_store::records::access_of(&mut c, rid, yilian_store::Paging::default())
        .await
        .unwrap();
    drop(c);
    assert!(
        log.items
            .iter()
            .any(|a| a.part == "results" && a.username == "clinician_a" && a.outcome == "granted"),
        "the check is in the access log"
    );

    let r = order(
        &app,
        "clinician_a",
        rid,
        json!({"item_code": "hba1c", "use_result_id": hba1c}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["order"]["outcome"], "recognized");
    assert_eq!(o["order"]["saved_fen"], 6000);
    assert_eq!(o["saved_yuan"], "60.00");
    assert_eq!(o["order"]["recognized_entry_id"], hba1c);
    assert_eq!(o["order"]["result_institution_name"], "H1机构");
    assert_eq!(o["order"]["institution_name"], "WA机构");
    assert_eq!(o["note_entry_id"], Value::Null);
    assert_eq!(stored_orders(&app).await, 1);
    let t = token(&app, "clinician_a").await;
    let listed: Value = app
        .get(&t, &format!("/api/v1/residents/{rid}/orders"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], o["order"]["id"]);

    // Not a result of this item, or an item outside the catalogue.
    let r = order(
        &app,
        "clinician_a",
        rid,
        json!({"item_code": "lipids", "use_result_id": hba1c}),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let r = order(&app, "clinician_a", rid, json!({"item_code": "tarot"})).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(stored_orders(&app).await, 1);
}

async fn repeating_a_recognisable_test_needs_a_listed_reason_written_into_the_chart(app: TestApp) {
    let (rid, hba1c) = hba1c_journey(&app).await;
    let entries = entries_of(&app, rid).await;
    for body in [
        json!({"item_code": "hba1c"}),
        json!({"item_code": "hba1c", "repeat_reason": ""}),
        json!({"item_code": "hba1c", "repeat_text": "患者坚持复查"}),
        // `other` needs a written explanation.
        json!({"item_code": "hba1c", "repeat_reason": "other"}),
        json!({"item_code": "hba1c", "repeat_reason": "other", "repeat_text": "复查"}),
    ] {
        let r = order(&app, "clinician_a", rid, body.clone()).await;
        let e = assert_error(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "repeat_reason_required",
        )
        .await;
        assert!(e["message_zh"].as_str().unwrap().contains("理由"), "{body}");
    }
    let r = order(
        &app,
        "clinician_a",
        rid,
        json!({"item_code": "hba1c", "repeat_reason": "boredom"}),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(stored_orders(&app).await, 0, "nothing stored");
    assert_eq!(entries_of(&app, rid).await, entries, "nothing in the chart");

    let r = order(
        &app,
        "clinician_a",
        rid,
        json!({"item_code": "hba1c", "repeat_reason": "condition_changed", "repeat_text": "近期多饮多尿明显加重"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["order"]["outcome"], "repeated");
    assert_eq!(o["order"]["repeat_reason"], "condition_changed");
    assert_eq!(o["order"]["repeat_text"], "近期多饮多尿明显加重");
    assert_eq!(o["order"]["saved_fen"], 0);
    assert_eq!(
        o["order"]["recognized_entry_id"], hba1c,
        "the result not used"
    );
    let note = o["note_entry_id"].as_i64().unwrap();

    // The reason is in the chart, on the timeline.
    let t = token(&app, "clinician_a").await;
    let docs: Value = app
        .get(&t, &format!("/api/v1/residents/{rid}/record?kind=document"))
        .await
        .json()
        .await
        .unwrap();
    let e = &docs["entries"]["items"][0];
    assert_eq!(e["id"], note);
    assert_eq!(e["title"], "重复检查理由：病情变化，原结果与临床表现不符");
    let body = e["body"].as_str().unwrap();
    assert!(
        body.contains("重复检查理由：")
            && body.contains("近期多饮多尿明显加重")
            && body.contains("H1机构"),
        "{body}"
    );
    assert_eq!(e["institution_name"], "WA机构");
    assert_eq!(e["code"], "hba1c");

    // `other` with an explanation is accepted too.
    let r = order(
        &app,
        "clinician_a",
        rid,
        json!({"item_code": "hba1c", "repeat_reason": "other", "repeat_text": "外院报告原件遗失"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(stored_orders(&app).await, 2);
}

async fn village_results_reach_the_county_hospital_only_through_a_consortium(app: TestApp) {
    lab_in_good_standing(&app, "VA1", 100).await;
    // Registered by the clinic of village A2 (so it sees them), living in A1.
    let vd_a2 = token(&app, "vd_a2").await;
    let rid = app
        .register(
            &vd_a2,
            resident_body(VILLAGE_A1, (1956, 4, 4), 52, "村级结果", "14500000052"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let village = result(&app, "vd_a1", rid, "lipids", &ago(10, 0), true).await;
    visit(&app, "specialist", rid).await;
    visit(&app, "clinician_a", rid).await;
    visit(&app, "vd_a2", rid).await;

    // Lower level, no shared consortium: neither the county hospital nor the
    // township centre is offered the village clinic's result.
    for user in ["specialist", "clinician_a"] {
        let v = check(&app, user, rid, "lipids").await;
        assert_eq!(v["recognized"], Value::Null, "{user}");
        assert_eq!(v["repeat_reason_required"], false);
        assert_eq!(
            rules(&v["candidates"][0]),
            ["level_or_consortium"],
            "{user}"
        );
    }
    // The same level accepts it (another village clinic).
    let v = check(&app, "vd_a2", rid, "lipids").await;
    assert_eq!(v["recognized"]["entry_id"], village);
    // Without a recognisable result the county orders anew, no reason needed.
    let r = order(&app, "specialist", rid, json!({"item_code": "lipids"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["order"]["outcome"], "new");
    assert_eq!(o["order"]["recognized_entry_id"], Value::Null);
    // Nor can it be used by id.
    let r = order(
        &app,
        "specialist",
        rid,
        json!({"item_code": "lipids", "use_result_id": village}),
    )
    .await;
    let e = assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "result_not_recognizable",
    )
    .await;
    assert!(e["message_zh"].as_str().unwrap().contains("医联体"));

    // A county consortium led by H1 with the village clinic as member.
    let admin = token(&app, "admin").await;
    let c: Value = app
        .post(&admin, "/api/v1/consortia", &json!({"code": "CN1", "name": "青禾县医共体", "kind": "county_consortium", "lead_institution_code": "H1", "region_code": COUNTY}))
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .post(
            &admin,
            &format!("/api/v1/consortia/{}/members", c["id"]),
            &json!({"institution_code": "VA1"}),
        )
        .await;
    assert!(r.status().is_success());
    let v = check(&app, "specialist", rid, "lipids").await;
    assert_eq!(v["recognized"]["entry_id"], village);
    assert_eq!(v["saved_yuan"], "40.00");
    // The township centre is not in it: still refused.
    let v = check(&app, "clinician_a", rid, "lipids").await;
    assert_eq!(v["recognized"], Value::Null);
}

async fn seven_day_window_through_the_api(app: TestApp) {
    lab_in_good_standing(&app, "H1", 30).await;
    // Electrolytes: seed 003's 7-day window.
    let inside = patient(&app, 53, "七天内").await;
    let seven = result(
        &app,
        "specialist",
        inside,
        "electrolytes",
        &ago(7, -2),
        true,
    )
    .await;
    let eight = result(&app, "specialist", inside, "electrolytes", &ago(8, 0), true).await;
    visit(&app, "clinician_a", inside).await;
    let v = check(&app, "clinician_a", inside, "electrolytes").await;
    assert_eq!(v["item"]["validity"], "7d");
    assert_eq!(
        v["recognized"]["entry_id"], seven,
        "taken 7 days ago: accepted"
    );
    assert_eq!(
        v["recognized"]["age_days"], 6,
        "a little under seven whole days"
    );
    let old = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry_id"] == eight)
        .unwrap();
    assert_eq!(rules(old), ["validity_window"], "taken 8 days ago: refused");
    assert_eq!(old["age_days"], 8);

    let outside = patient(&app, 54, "八天前").await;
    result(
        &app,
        "specialist",
        outside,
        "electrolytes",
        &ago(8, 0),
        true,
    )
    .await;
    // Exactly seven days and a few minutes: outside too.
    result(
        &app,
        "specialist",
        outside,
        "electrolytes",
        &ago(7, 5),
        true,
    )
    .await;
    visit(&app, "clinician_a", outside).await;
    let v = check(&app, "clinician_a", outside, "electrolytes").await;
    assert_eq!(v["recognized"], Value::Null);
    for c in v["candidates"].as_array().unwrap() {
        assert_eq!(rules(c), ["validity_window"]);
    }
    let r = order(
        &app,
        "clinician_a",
        outside,
        json!({"item_code": "electrolytes"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["order"]["outcome"], "new");
}

async fn no_hr_mark_or_lab_out_of_standing_is_not_offered(app: TestApp) {
    let rid = patient(&app, 55, "质控").await;
    let unmarked = result(&app, "specialist", rid, "hba1c", &ago(5, 0), false).await;
    let marked = result(&app, "specialist", rid, "hba1c", &ago(20, 0), true).await;
    visit(&app, "clinician_a", rid).await;
    // H1 has no external quality assessment on record.
    let v = check(&app, "clinician_a", rid, "hba1c").await;
    assert_eq!(v["recognized"], Value::Null);
    let by_id = |v: &Value, id: i64| {
        rules(
            v["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["entry_id"] == id)
                .unwrap(),
        )
    };
    assert_eq!(by_id(&v, unmarked), ["eqa_passed", "hr_mark"]);
    assert_eq!(by_id(&v, marked), ["eqa_passed"]);

    // A pass that begins after the result was taken does not cover it.
    lab_in_good_standing(&app, "H1", 10).await;
    let v = check(&app, "clinician_a", rid, "hba1c").await;
    assert_eq!(v["recognized"], Value::Null);
    assert_eq!(by_id(&v, unmarked), ["hr_mark"]);
    assert_eq!(by_id(&v, marked), ["eqa_passed"]);
    // One that covers the day it was taken does; the unmarked one never is.
    lab_in_good_standing(&app, "H1", 30).await;
    let v = check(&app, "clinician_a", rid, "hba1c").await;
    assert_eq!(v["recognized"]["entry_id"], marked);
    assert_eq!(by_id(&v, unmarked), ["hr_mark"]);

    // The standing as the registry shows it, and who may record it.
    let h1 = institution_id(&app, "H1").await;
    let t = token(&app, "clinician_a").await;
    let q: Value = app
        .get(&t, &format!("/api/v1/institutions/{h1}/lab-quality"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["in_good_standing"], true);
    assert_eq!(q["assessments"].as_array().unwrap().len(), 2);
    let body = json!({"passed_on": today().to_string(), "valid_until": (today() + Duration::days(30)).to_string()});
    let path = format!("/api/v1/institutions/{h1}/lab-quality");
    for who in ["clinician_a", "specialist", "insurer", "hc_other"] {
        let t = token(&app, who).await;
        assert_error(
            app.post(&t, &path, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let admin = token(&app, "admin").await;
    for bad in [
        json!({"passed_on": "2026-13-01", "valid_until": "2027-01-01"}),
        json!({"passed_on": (today() + Duration::days(1)).to_string(), "valid_until": (today() + Duration::days(30)).to_string()}),
        json!({"passed_on": today().to_string(), "valid_until": (today() - Duration::days(1)).to_string()}),
        json!({"passed_on": today().to_string(), "valid_until": (today() + Duration::days(4 * 365)).to_string()}),
    ] {
        assert_error(
            app.post(&admin, &path, &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
    }
    assert_eq!(
        app.post(&admin, &path, &body).await.status(),
        StatusCode::CREATED
    );
    let r = app
        .post(&admin, "/api/v1/institutions/999999/lab-quality", &body)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn only_clinicians_with_grounds_check_and_order(app: TestApp) {
    let (rid, _) = hba1c_journey(&app).await;
    let path = format!("/api/v1/residents/{rid}/orders/check");
    let body = json!({"item_code": "hba1c"});
    // Oversight roles, the referral desk and administrators do not order.
    for who in ["admin", "hc_main", "insurer", "cdc", "desk"] {
        let t = token(&app, who).await;
        assert_error(
            app.post(&t, &path, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let r = app
            .post(&t, &format!("/api/v1/residents/{rid}/orders"), &body)
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Outside the clinician's area the resident does not exist for them.
    let t = token(&app, "clinician_b").await;
    assert_error(
        app.post(&t, &path, &body).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Inside it but without a treating relationship: no grounds (logged),
    // unless an emergency read with a reason.
    let t = token(&app, "vd_a1").await;
    assert_error(
        app.post(&t, &path, &body).await,
        StatusCode::FORBIDDEN,
        "no_access_grounds",
    )
    .await;
    let r = app
        .post(
            &t,
            &path,
            &json!({"item_code": "hba1c", "break_glass": "急诊抢救需了解血糖控制情况"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ground"], "break_glass");
    assert_eq!(
        v["recognized"]["institution_name"], "H1机构",
        "a higher level's result is offered to the village clinic"
    );
    assert_eq!(stored_orders(&app).await, 0);

    // The catalogue is readable by every login; the OpenAPI document lists the routes.
    let pt = token(&app, "insurer").await;
    let cat: Value = app
        .get(&pt, "/api/v1/recognition/catalog")
        .await
        .json()
        .await
        .unwrap();
    let items = cat["items"].as_array().unwrap();
    assert!((50..=70).contains(&items.len()), "{}", items.len());
    assert_eq!(cat["repeat_reasons"].as_array().unwrap().len(), 10);
    assert_eq!(cat["in_force"], true);
    let hba1c = items.iter().find(|i| i["code"] == "hba1c").unwrap();
    assert_eq!(
        (hba1c["validity"].as_str(), hba1c["price_fen"].as_i64()),
        (Some("60d"), Some(6000))
    );
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/residents/{id}/orders/check",
        "/residents/{id}/orders",
        "/recognition/report",
        "/recognition/catalog",
        "/institutions/{id}/lab-quality",
    ] {
        assert!(doc["paths"].get(p).is_some(), "OpenAPI lacks {p}");
    }
}

async fn the_report_counts_per_institution_and_consortium(app: TestApp) {
    let admin = token(&app, "admin").await;
    let c: Value = app
        .post(&admin, "/api/v1/consortia", &json!({"code": "CN1", "name": "青禾县医共体", "kind": "county_consortium", "lead_institution_code": "H1", "region_code": COUNTY}))
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .post(
            &admin,
            &format!("/api/v1/consortia/{}/members", c["id"]),
            &json!({"institution_code": "WA"}),
        )
        .await;
    assert!(r.status().is_success());
    let (rid, hba1c) = hba1c_journey(&app).await;
    for body in [
        json!({"item_code": "hba1c", "use_result_id": hba1c}),
        json!({"item_code": "hba1c", "use_result_id": hba1c}),
        json!({"item_code": "hba1c", "repeat_reason": "patient_request"}),
        json!({"item_code": "lipids"}),
    ] {
        let r = order(&app, "clinician_a", rid, body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    visit(&app, "specialist", rid).await;
    let r = order(
        &app,
        "specialist",
        rid,
        json!({"item_code": "hba1c", "repeat_reason": "pre_surgery_or_transfusion"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let hc = token(&app, "hc_main").await;
    let rep: Value = app
        .get(&hc, "/api/v1/recognition/report")
        .await
        .json()
        .await
        .unwrap();
    let t = &rep["totals"];
    assert_eq!(
        (
            t["orders"].as_i64(),
            t["recognized"].as_i64(),
            t["repeated"].as_i64(),
            t["new"].as_i64()
        ),
        (Some(5), Some(2), Some(2), Some(1))
    );
    assert_eq!(
        (t["saved_fen"].as_i64(), t["saved_yuan"].as_str()),
        (Some(12000), Some("120.00"))
    );
    assert_eq!(t["recognition_rate"], 50.0);
    assert_eq!(rep["region"], COUNTY);
    let inst = |name: &str| {
        rep["institutions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the report"))
            .clone()
    };
    let wa = inst("WA机构");
    assert_eq!(
        (
            wa["orders"].as_i64(),
            wa["recognized"].as_i64(),
            wa["repeated"].as_i64(),
            wa["new"].as_i64()
        ),
        (Some(4), Some(2), Some(1), Some(1))
    );
    assert_eq!(wa["repeats_by_reason"], json!({"patient_request": 1}));
    assert_eq!(wa["saved_yuan"], "120.00");
    let h1 = inst("H1机构");
    assert_eq!(
        h1["repeats_by_reason"],
        json!({"pre_surgery_or_transfusion": 1})
    );
    assert_eq!(h1["saved_fen"], 0);
    assert_eq!(rep["consortia"].as_array().unwrap().len(), 1);
    let cn = &rep["consortia"][0];
    assert_eq!(cn["name"], "青禾县医共体");
    assert_eq!(
        (cn["orders"].as_i64(), cn["saved_fen"].as_i64()),
        (Some(5), Some(12000))
    );
    assert_eq!(
        cn["repeats_by_reason"],
        json!({"patient_request": 1, "pre_surgery_or_transfusion": 1})
    );

    // The insurer and administrators read it; another county's commission sees nothing of ours.
    for who in ["insurer", "admin"] {
        let t = token(&app, who).await;
        let r: Value = app
            .get(&t, "/api/v1/recognition/report")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["totals"]["orders"], 5, "{who}");
    }
    let other = token(&app, "hc_other").await;
    let r: Value = app
        .get(&other, "/api/v1/recognition/report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["totals"]["orders"], 0);
    assert_eq!(r["institutions"], json!([]));
    // A period without orders, and a reversed one.
    let yesterday = (today() - Duration::days(1)).to_string();
    let r: Value = app
        .get(
            &hc,
            &format!("/api/v1/recognition/report?from=2026-01-01&to={yesterday}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["totals"]["orders"], 0);
    let r = app
        .get(
            &hc,
            &format!("/api/v1/recognition/report?from={}&to={yesterday}", today()),
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    // No clinical access.
    for who in ["clinician_a", "specialist", "desk", "cdc"] {
        let t = token(&app, who).await;
        assert_error(
            app.get(&t, "/api/v1/recognition/report").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
}

// ---------------------------------------------------------------- pages

/// A browser of its own (cookie store), logged in through the web form.
async fn signed_in(app: &TestApp, username: &str) -> Client {
    let client = Client::builder().cookie_store(true).build().unwrap();
    let login = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &token_of(&login)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "web login {username}");
    client
}

fn token_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a form with a csrf field")
        .to_string()
}

async fn open(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn send(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn web_ordering_view_prompts_the_result_and_takes_a_repeat_reason(app: TestApp) {
    let (rid, hba1c) = hba1c_journey(&app).await;
    let doc = signed_in(&app, "clinician_a").await;
    let orders = format!("/residents/{rid}/orders");

    // From the resident page to the ordering view.
    let (_, detail) = open(&app, &doc, &format!("/residents/{rid}")).await;
    assert!(
        detail.contains(&format!("href=\"{orders}\"")),
        "the resident page links the ordering view"
    );
    let (status, view) = open(&app, &doc, &orders).await;
    assert_eq!(status, StatusCode::OK);
    assert!(view.contains("开单前核查") && view.contains("互认患者"));
    assert!(
        view.contains("<optgroup label=\"检验\">") && view.contains("<optgroup label=\"检查\">")
    );
    assert!(view.contains("value=\"hba1c\""));

    // 开单前核查: the county result with its facts and the two ways on.
    let (status, view) = open(&app, &doc, &format!("{orders}?item_code=hba1c")).await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "已有可互认的结果",
        "H1机构",
        "40 天前",
        ">HR<",
        "60天",
        "60.00 元",
        "采用该结果（互认）",
        &format!("name=\"use_result_id\" value=\"{hba1c}\""),
        "仍需重新检查",
        "患者要求复查",
        "手术、输血等重大诊疗措施前",
    ] {
        assert!(view.contains(want), "{want} on the prompt");
    }
    let csrf = token_of(&view);

    // Repeating without a reason: refused on the form, the text kept, nothing stored.
    let (status, again) = send(
        &app,
        &doc,
        &orders,
        &[
            ("csrf", &csrf),
            ("item_code", "hba1c"),
            ("action", "repeat"),
            ("repeat_reason", ""),
            ("repeat_text", "家属要求再查"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.contains("须选择规定的理由"),
        "the rule's message is shown"
    );
    assert!(
        again.contains("家属要求再查")
            && again.contains("<details class=\"panel\" id=\"repeat-form\" open>")
    );
    assert_eq!(stored_orders(&app).await, 0);
    // A forged token changes nothing.
    let (status, _) = send(
        &app,
        &doc,
        &orders,
        &[
            ("csrf", "forged"),
            ("item_code", "hba1c"),
            ("action", "new"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // With a reason: the order is placed and the reason goes into the chart.
    let (status, done) = send(
        &app,
        &doc,
        &orders,
        &[
            ("csrf", &csrf),
            ("item_code", "hba1c"),
            ("action", "repeat"),
            ("repeat_reason", "patient_request"),
            ("repeat_text", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        done.contains("重复检查理由“患者要求复查”已记入病历"),
        "the outcome is shown"
    );
    assert_eq!(stored_orders(&app).await, 1);

    // Using the result: recognised, with the money saved.
    let id = hba1c.to_string();
    let (status, done) = send(
        &app,
        &doc,
        &orders,
        &[
            ("csrf", &csrf),
            ("item_code", "hba1c"),
            ("action", "use"),
            ("use_result_id", &id),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        done.contains("已采用H1机构的结果（互认）") && done.contains("<strong>60.00 元</strong>")
    );
    assert!(
        done.contains("互认（采用已有结果）") && done.contains("重复检查（已记录理由）"),
        "both orders listed"
    );

    // No earlier result: 开单 directly.
    let (_, view) = open(&app, &doc, &format!("{orders}?item_code=lipids")).await;
    assert!(view.contains("未找到可互认的既往结果") && view.contains("id=\"new-form\""));
    let (status, done) = send(
        &app,
        &doc,
        &orders,
        &[("csrf", &csrf), ("item_code", "lipids"), ("action", "new")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(done.contains("新开检查"));
    assert_eq!(stored_orders(&app).await, 3);

    // The health commission's report page; clinicians have none.
    let hc = signed_in(&app, "hc_main").await;
    let (_, home) = open(&app, &hc, "/").await;
    assert!(home.contains("结果互认"), "the nav offers the report");
    let (status, report) = open(&app, &hc, "/recognition/report").await;
    assert_eq!(status, StatusCode::OK);
    assert!(report.contains("检查检验结果互认统计") && report.contains("WA机构"));
    assert!(
        report.contains("<dd id=\"total-saved\">60.00</dd>")
            && report.contains("<dd id=\"total-recognized\">1</dd>")
    );
    assert!(report.contains("患者要求复查 × 1"));
    let (status, _) = open(&app, &doc, "/recognition/report").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = open(&app, &hc, &orders).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
