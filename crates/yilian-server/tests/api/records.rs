//! The shared health record through the API, on both backends: grounds,
//! consent, break-glass, and the access log the resident sees.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    record_reads_need_grounds_and_every_attempt_is_logged,
    consent_opens_the_record_until_revoked_and_bad_periods_are_refused,
    break_glass_needs_a_reason_and_is_flagged_for_review,
    the_access_log_is_append_only_and_verify_names_a_tampered_entry,
    entries_are_validated_and_filtered_on_the_timeline,
);

/// A patient of village A1 with a resident login `pt` of their own.
async fn patient(app: &TestApp, vd: &str) -> i64 {
    let body = resident_body(VILLAGE_A1, (1961, 6, 6), 31, "档案居民", "14500000031");
    let id_number = body["id_number"].as_str().unwrap().to_string();
    let id = app.register(vd, body).await["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    let u =
        json!({"username": "pt_a1", "password": PASSWORD, "role": "resident", "scope": id_number});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    id
}

async fn add(app: &TestApp, token: &str, rid: i64, body: Value) -> Value {
    let r = app
        .post(token, &format!("/api/v1/residents/{rid}/record"), &body)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn read(app: &TestApp, token: &str, rid: i64, query: &str) -> reqwest::Response {
    app.get(token, &format!("/api/v1/residents/{rid}/record{query}"))
        .await
}

/// The resident's own view of their access log: (username, ground, outcome), newest first.
async fn my_log(app: &TestApp) -> Vec<(String, String, String)> {
    let pt = app.login("pt_a1").await;
    let log: Value = app
        .get(&pt, "/api/v1/me/access-log")
        .await
        .json()
        .await
        .unwrap();
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["username"].as_str().unwrap().to_string(),
                e["ground"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entry(app_user: &str) -> (String, String, String) {
    let parts: Vec<&str> = app_user.split(':').collect();
    (parts[0].into(), parts[1].into(), parts[2].into())
}

async fn record_reads_need_grounds_and_every_attempt_is_logged(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let rid = patient(&app, &vd).await;
    // The village clinic sees the patient: an outpatient encounter and a result.
    let enc = add(
        &app,
        &vd,
        rid,
        json!({"kind": "encounter", "encounter_type": "outpatient", "title": "门诊：头晕"}),
    )
    .await;
    add(&app, &vd, rid, json!({"kind": "lab", "code": "HBA1C", "title": "糖化血红蛋白", "value": "7.9", "unit": "%", "reference_range": "4.0-6.0", "abnormal": true, "hr_mark": true, "encounter_id": enc["id"]})).await;
    let own: Value = read(&app, &vd, rid, "").await.json().await.unwrap();
    assert_eq!(own["ground"], "encounter");
    assert_eq!(own["entries"]["total"], 2);

    // The county hospital's specialist has no treating relationship yet.
    let sp = app.login("specialist").await;
    assert_error(
        read(&app, &sp, rid, "").await,
        StatusCode::FORBIDDEN,
        "no_access_grounds",
    )
    .await;
    // Oversight roles never read records, whatever their scope.
    for who in ["insurer", "hc_main", "cdc", "admin"] {
        let t = app.login(who).await;
        assert_error(
            read(&app, &t, rid, "").await,
            StatusCode::FORBIDDEN,
            "no_access_grounds",
        )
        .await;
    }

    // An open referral to the hospital is a ground.
    let referral = json!({"resident_id": rid, "direction": "up", "to_institution_code": "H1", "icd10": "I10",
        "diagnosis": "高血压", "reason": "血压控制不佳", "justification": "规范治疗3个月仍未达标"});
    assert_eq!(
        app.post(&vd, "/api/v1/referrals", &referral).await.status(),
        StatusCode::CREATED
    );
    let seen: Value = read(&app, &sp, rid, "").await.json().await.unwrap();
    assert_eq!(seen["ground"], "referral");

    // The resident reads their own record and sees every attempt, refused ones too.
    let pt = app.login("pt_a1").await;
    let mine: Value = app
        .get(&pt, "/api/v1/me/record")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["ground"], "own");
    assert_eq!(mine["entries"]["total"], 2);
    let log = my_log(&app).await;
    let want: Vec<_> = [
        "pt_a1:own:granted",
        "specialist:referral:granted",
        "admin:none:refused",
        "cdc:none:refused",
        "hc_main:none:refused",
        "insurer:none:refused",
        "specialist:none:refused",
        "vd_a1:encounter:granted",
    ]
    .iter()
    .map(|s| entry(s))
    .collect();
    assert_eq!(log, want);
    // Another resident's record is not theirs to read, nor their log.
    let other = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1970, 1, 1), 32, "邻居", "14500000032"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    assert_error(
        read(&app, &pt, other, "").await,
        StatusCode::FORBIDDEN,
        "no_access_grounds",
    )
    .await;
    assert_error(
        app.get(&vd, "/api/v1/me/access-log").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn consent_opens_the_record_until_revoked_and_bad_periods_are_refused(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let rid = patient(&app, &vd).await;
    let sp = app.login("specialist").await;
    let pt = app.login("pt_a1").await;
    let today = yilian_server::state::today();
    let h1: Value = app
        .get(&sp, "/api/v1/institutions?q=H1")
        .await
        .json()
        .await
        .unwrap();
    let h1 = h1["items"][0]["id"].as_i64().unwrap();

    // A period in the past, or starting after it ends, changes nothing.
    let past = json!({"grantee_kind": "institution", "grantee_id": h1, "starts_on": (today - chrono::Duration::days(30)).to_string(), "ends_on": (today - chrono::Duration::days(2)).to_string()});
    assert_error(
        app.post(&pt, "/api/v1/me/consents", &past).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_consent_period",
    )
    .await;
    let backwards = json!({"grantee_kind": "institution", "grantee_id": h1, "starts_on": (today + chrono::Duration::days(9)).to_string(), "ends_on": (today + chrono::Duration::days(3)).to_string()});
    assert_error(
        app.post(&pt, "/api/v1/me/consents", &backwards).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_consent_period",
    )
    .await;
    let nobody = json!({"grantee_kind": "institution", "grantee_id": 999_999, "ends_on": (today + chrono::Duration::days(30)).to_string()});
    assert_error(
        app.post(&pt, "/api/v1/me/consents", &nobody).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let list: Value = app
        .get(&pt, "/api/v1/me/consents")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "refused consents stored nothing"
    );
    // Clinicians cannot grant on a resident's behalf.
    let ok = json!({"grantee_kind": "institution", "grantee_id": h1, "ends_on": (today + chrono::Duration::days(30)).to_string()});
    assert_error(
        app.post(&vd, "/api/v1/me/consents", &ok).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    assert_eq!(
        read(&app, &sp, rid, "").await.status(),
        StatusCode::FORBIDDEN
    );
    let c: Value = app
        .post(&pt, "/api/v1/me/consents", &ok)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["grantee_name"], "H1机构");
    let seen: Value = read(&app, &sp, rid, "").await.json().await.unwrap();
    assert_eq!(seen["ground"], "consent");
    // Revoked: refused again at once; a second revoke is 409.
    let path = format!("/api/v1/me/consents/{}/revoke", c["id"]);
    let revoked: Value = app.post(&pt, &path, &json!({})).await.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    assert_error(
        read(&app, &sp, rid, "").await,
        StatusCode::FORBIDDEN,
        "no_access_grounds",
    )
    .await;
    assert_error(
        app.post(&pt, &path, &json!({})).await,
        StatusCode::CONFLICT,
        "already_revoked",
    )
    .await;
    // The resident's log shows the read on consent between the two refusals.
    let log = my_log(&app).await;
    let grounds: Vec<String> = log
        .iter()
        .filter(|e| e.0 == "specialist")
        .map(|e| format!("{}:{}", e.1, e.2))
        .collect();
    assert_eq!(grounds, ["none:refused", "consent:granted", "none:refused"]);
}

async fn break_glass_needs_a_reason_and_is_flagged_for_review(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let rid = patient(&app, &vd).await;
    let sp = app.login("specialist").await;
    assert_error(
        read(&app, &sp, rid, "?break_glass=%E6%80%A5").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let reason = "急诊昏迷患者抢救";
    let r: Value = read(
        &app,
        &sp,
        rid,
        &format!("?break_glass={}", urlencode(reason)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["ground"], "break_glass");
    let hc = app.login("hc_main").await;
    let review: Value = app
        .get(&hc, "/api/v1/access-log/review")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(review["total"], 1);
    assert_eq!(review["items"][0]["reason"], reason);
    assert_eq!(review["items"][0]["username"], "specialist");
    assert_eq!(review["items"][0]["institution_name"], "H1机构");
    // Another county's health commission reviews its own residents only.
    let other = app.login("hc_other").await;
    let theirs: Value = app
        .get(&other, "/api/v1/access-log/review")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0, "{theirs}");
    assert_error(
        app.get(&sp, "/api/v1/access-log/review").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn the_access_log_is_append_only_and_verify_names_a_tampered_entry(app: TestApp) {
    use yilian_store::sqlx::Executor;
    let vd = app.login("vd_a1").await;
    let rid = patient(&app, &vd).await;
    add(
        &app,
        &vd,
        rid,
        json!({"kind": "encounter", "encounter_type": "home_visit", "title": "家庭访视"}),
    )
    .await;
    for _ in 0..4 {
        assert_eq!(read(&app, &vd, rid, "").await.status(), StatusCode::OK);
    }
    let store = &app.db.store;
    let mut c = store.read().await.unwrap();
    let v = yilian_store::records::verify(&mut c).await.unwrap();
    assert_eq!((v.checked, v.broken), (4, None));
    // The database refuses changes to the log.
    assert!(
        c.execute("UPDATE access_log SET reason = 'edited' WHERE id = 2")
            .await
            .is_err()
    );
    assert!(
        c.execute("DELETE FROM access_log WHERE id = 4")
            .await
            .is_err()
    );
    // Someone with the database's keys disables that and edits entry 2.
    let (off, on) = match store.backend() {
        yilian_store::Backend::Sqlite => ("DROP TRIGGER access_log_no_update", "SELECT 1"),
        yilian_store::Backend::Postgres => (
            "ALTER TABLE access_log DISABLE TRIGGER access_log_no_change",
            "ALTER TABLE access_log ENABLE TRIGGER access_log_no_change",
        ),
    };
    c.execute(off).await.unwrap();
    c.execute("UPDATE access_log SET ground = 'consent' WHERE id = 2")
        .await
        .unwrap();
    c.execute(on).await.unwrap();
    let v = yilian_store::records::verify(&mut c).await.unwrap();
    assert_eq!(v.checked, 1);
    let b = v.broken.expect("tampering is found");
    assert_eq!(b.id, 2, "{}", b.why);
}

async fn entries_are_validated_and_filtered_on_the_timeline(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let rid = patient(&app, &vd).await;
    let path = format!("/api/v1/residents/{rid}/record");
    for (body, code) in [
        (json!({"kind": "visit", "title": "x"}), "invalid_field"),
        (
            json!({"kind": "encounter", "title": "门诊"}),
            "invalid_field",
        ),
        (
            json!({"kind": "diagnosis", "code": "XYZ", "title": "?"}),
            "unknown_icd10",
        ),
        (json!({"kind": "lab", "title": ""}), "invalid_field"),
        (
            json!({"kind": "lab", "title": "血常规", "occurred_at": "2099-01-01T08:00"}),
            "invalid_field",
        ),
        (
            json!({"kind": "lab", "title": "血常规", "occurred_at": "yesterday"}),
            "invalid_field",
        ),
    ] {
        assert_error(
            app.post(&vd, &path, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
    }
    let pt = app.login("pt_a1").await;
    let mine: Value = app
        .get(&pt, "/api/v1/me/record")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine["entries"]["total"], 0,
        "refused entries stored nothing"
    );
    // Residents and oversight roles do not write records.
    for who in ["pt_a1", "insurer", "desk"] {
        let t = app.login(who).await;
        let body = json!({"kind": "document", "title": "出院小结"});
        assert_error(
            app.post(&t, &path, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Two days ago: an encounter that long past still grounds the clinic's reads.
    let day = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%d");
    add(&app, &vd, rid, json!({"kind": "encounter", "encounter_type": "follow_up", "title": "高血压随访", "occurred_at": format!("{day}T09:00")})).await;
    add(&app, &vd, rid, json!({"kind": "diagnosis", "code": "i10", "title": "原发性高血压", "occurred_at": format!("{day}T09:10")})).await;
    add(&app, &vd, rid, json!({"kind": "prescription", "title": "氨氯地平 5mg qd ×28天", "occurred_at": format!("{day}T09:20")})).await;
    let all: Value = read(&app, &vd, rid, "").await.json().await.unwrap();
    let titles: Vec<&str> = all["entries"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["氨氯地平 5mg qd ×28天", "原发性高血压", "高血压随访"],
        "newest first"
    );
    assert_eq!(all["entries"]["items"][1]["code"], "I10");
    let dx: Value = read(&app, &vd, rid, "?kind=diagnosis")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dx["entries"]["total"], 1);
    assert_error(
        read(&app, &vd, rid, "?kind=gossip").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let inst = all["institutions"][0][0].as_i64().unwrap();
    let by: Value = read(&app, &vd, rid, &format!("?institution_id={inst}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by["entries"]["total"], 3);
    let none: Value = read(&app, &vd, rid, &format!("?institution_id={}", inst + 1000))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["entries"]["total"], 0);
}
