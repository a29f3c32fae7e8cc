//! Contracting and chronic care through the API, on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    a_second_active_contract_is_409_naming_the_team,
    household_signing_is_all_or_nothing,
    team_capacity_is_enforced,
    contract_lifecycle_renew_transfer_cancel,
    long_prescription_limits_with_real_numbers,
    follow_up_out_of_range_is_422_and_a_crisis_turns_the_patient_red,
    work_lists_are_scoped_to_the_callers_residents,
    fee_settlement_refuses_less_than_seventy_percent,
    screening_enrolment_proposes_a_contract_and_six_ones_names_gaps,
    effective_contract_report_shows_services_behind,
);

/// Registers practitioners and a team at WA (township A): a GP lead and the
/// village doctor of VA1. Returns (team id, lead id, village doctor id).
pub async fn team_a(app: &TestApp, capacity: i64) -> (i64, i64, i64) {
    let admin = app.login("admin").await;
    let mut ids = vec![];
    for (code, profession, gp, site) in [
        ("GP1", "licensed_physician", true, "WA"),
        ("VD1", "village_doctor", false, "VA1"),
    ] {
        let body = json!({"code": code, "name": "测试医生", "sex": "female", "profession": profession, "is_gp": gp, "sites": [site]});
        let r = app.post(&admin, "/api/v1/practitioners", &body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        if status == StatusCode::CREATED {
            ids.push(v["id"].as_i64().unwrap());
        } else {
            let list: Value = app
                .get(&admin, &format!("/api/v1/practitioners?q={code}"))
                .await
                .json()
                .await
                .unwrap();
            ids.push(list["items"][0]["id"].as_i64().unwrap());
        }
    }
    let team = json!({"code": format!("FT-A-{capacity}"), "name": "桃源镇家庭医生团队", "institution_code": "WA", "capacity": capacity,
        "members": [{"practitioner_code": "GP1", "role": "lead"}, {"practitioner_code": "VD1", "role": "village_doctor"}]});
    let r = app.post(&admin, "/api/v1/teams", &team).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t: Value = r.json().await.unwrap();
    (t["id"].as_i64().unwrap(), ids[0], ids[1])
}

async fn resident(
    app: &TestApp,
    token: &str,
    region: &str,
    birth: (i32, u32, u32),
    seq: u16,
    household: &str,
    tags: &[&str],
) -> i64 {
    let mut b = resident_body(region, birth, seq, "测试居民", "14500000011");
    b["household_code"] = json!(household);
    b["tags"] = json!(tags);
    app.register(token, b).await["id"].as_i64().unwrap()
}

async fn a_second_active_contract_is_409_naming_the_team(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let r1 = resident(
        &app,
        &vd,
        VILLAGE_A1,
        (1950, 1, 1),
        11,
        "H1",
        &["hypertension"],
    )
    .await;
    let body = json!({"resident_id": r1, "team_id": team, "packages": ["hypertension"], "secondary_hospital_code": "H1", "tertiary_hospital_code": "T3"});
    let r = app.post(&vd, "/api/v1/contracts", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let again = app.post(&vd, "/api/v1/contracts", &body).await;
    let e = assert_error(again, StatusCode::CONFLICT, "contract_exists").await;
    assert!(
        e["message_zh"]
            .as_str()
            .unwrap()
            .contains("桃源镇家庭医生团队"),
        "{e}"
    );
    let p: Value = app
        .get(&vd, &format!("/api/v1/residents/{r1}/priority"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (p["contracted"].as_bool(), p["team_id"].as_i64()),
        (Some(true), Some(team))
    );
    // "1+1+1": the tertiary choice must be grade III.
    let r2 = resident(&app, &vd, VILLAGE_A1, (1951, 1, 1), 13, "H2", &[]).await;
    let bad = json!({"resident_id": r2, "team_id": team, "tertiary_hospital_code": "H1"});
    assert_error(
        app.post(&vd, "/api/v1/contracts", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
}

async fn household_signing_is_all_or_nothing(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let a = resident(&app, &vd, VILLAGE_A1, (1950, 1, 1), 11, "HH1", &[]).await;
    let b = resident(&app, &vd, VILLAGE_A1, (1952, 2, 2), 12, "HH1", &[]).await;
    let c = resident(&app, &vd, VILLAGE_A1, (1980, 3, 3), 15, "HH1", &[]).await;
    // c already signed alone: the household signing refuses and signs no one.
    assert_eq!(
        app.post(
            &vd,
            "/api/v1/contracts",
            &json!({"resident_id": c, "team_id": team})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let r = app
        .post(
            &vd,
            "/api/v1/contracts",
            &json!({"household_code": "HH1", "team_id": team}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "contract_exists").await;
    for id in [a, b] {
        let p: Value = app
            .get(&vd, &format!("/api/v1/residents/{id}/priority"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["contracted"], false);
    }
    // Without the conflict the whole household signs at once.
    let d = resident(&app, &vd, VILLAGE_A1, (1960, 4, 4), 17, "HH2", &[]).await;
    let e = resident(&app, &vd, VILLAGE_A1, (1962, 5, 5), 18, "HH2", &[]).await;
    let r = app
        .post(
            &vd,
            "/api/v1/contracts",
            &json!({"household_code": "HH2", "team_id": team}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let rows: Value = r.json().await.unwrap();
    let mut signed: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resident_id"].as_i64().unwrap())
        .collect();
    signed.sort();
    assert_eq!(signed, vec![d, e]);
}

async fn team_capacity_is_enforced(app: TestApp) {
    let (team, _, _) = team_a(&app, 2).await;
    let vd = app.login("vd_a1").await;
    for (i, seq) in [11u16, 13, 15].into_iter().enumerate() {
        let r = resident(
            &app,
            &vd,
            VILLAGE_A1,
            (1950 + i as i32, 1, 1),
            seq,
            &format!("C{i}"),
            &[],
        )
        .await;
        let resp = app
            .post(
                &vd,
                "/api/v1/contracts",
                &json!({"resident_id": r, "team_id": team}),
            )
            .await;
        if i < 2 {
            assert_eq!(resp.status(), StatusCode::CREATED);
        } else {
            assert_error(resp, StatusCode::CONFLICT, "contract_cap_reached").await;
        }
    }
}

async fn contract_lifecycle_renew_transfer_cancel(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let r = resident(&app, &vd, VILLAGE_A1, (1950, 1, 1), 11, "L1", &[]).await;
    let c: Value = app
        .post(
            &vd,
            "/api/v1/contracts",
            &json!({"resident_id": r, "team_id": team, "start_date": "2026-01-01"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = c[0]["id"].as_i64().unwrap();
    assert_eq!(c[0]["end_date"], "2026-12-31");
    let no_reason = app
        .post(
            &vd,
            &format!("/api/v1/contracts/{id}/events"),
            &json!({"event": "cancel"}),
        )
        .await;
    assert_error(no_reason, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let renewed: Value = app
        .post(
            &vd,
            &format!("/api/v1/contracts/{id}/events"),
            &json!({"event": "renew"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            renewed["start_date"].as_str(),
            renewed["previous_id"].as_i64(),
            renewed["status"].as_str()
        ),
        (Some("2027-01-01"), Some(id), Some("active"))
    );
    let old: Value = app
        .get(&vd, &format!("/api/v1/contracts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "renewed");
    let twice = app
        .post(
            &vd,
            &format!("/api/v1/contracts/{id}/events"),
            &json!({"event": "renew"}),
        )
        .await;
    assert_error(twice, StatusCode::CONFLICT, "illegal_transition").await;
    let new_id = renewed["id"].as_i64().unwrap();
    let cancelled: Value = app
        .post(
            &vd,
            &format!("/api/v1/contracts/{new_id}/events"),
            &json!({"event": "cancel", "reason": "迁出本县"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["cancel_reason"].as_str()
        ),
        (Some("cancelled"), Some("迁出本县"))
    );
}

/// Signs and enrols a stable hypertensive patient; returns (resident, enrolment).
pub async fn stable_patient(app: &TestApp, vd: &str, team: i64) -> (i64, i64) {
    let r = resident(
        app,
        vd,
        VILLAGE_A1,
        (1955, 6, 1),
        11,
        "P1",
        &["hypertension"],
    )
    .await;
    assert_eq!(
        app.post(
            vd,
            "/api/v1/contracts",
            &json!({"resident_id": r, "team_id": team, "packages": ["hypertension"]})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let e = app.post(vd, "/api/v1/enrolments", &json!({"resident_id": r, "program": "hypertension", "measures": {"sbp": 150, "dbp": 92}, "plan": "低盐饮食，规律服药"})).await;
    assert_eq!(e.status(), StatusCode::CREATED);
    let e: Value = e.json().await.unwrap();
    assert_eq!(
        e["enrolment"]["risk"], "low",
        "grade 1 without risk factors"
    );
    (r, e["enrolment"]["id"].as_i64().unwrap())
}

async fn long_prescription_limits_with_real_numbers(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let (r, _) = stable_patient(&app, &vd, team).await;
    let rx = |days: u32, class: &str, assessed: bool, signed: bool| json!({"resident_id": r, "drug": "苯磺酸氨氯地平片", "drug_class": class, "daily_dose": "5mg qd", "days_supplied": days, "stability_assessment": assessed, "patient_signed": signed});
    let ok: Value = app
        .post(
            &vd,
            "/api/v1/prescriptions",
            &rx(84, "ordinary", true, true),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["long_prescription"], true);
    assert_error(
        app.post(
            &vd,
            "/api/v1/prescriptions",
            &rx(85, "ordinary", true, true),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "long_prescription_limit",
    )
    .await;
    assert_error(
        app.post(
            &vd,
            "/api/v1/prescriptions",
            &rx(29, "ordinary", false, true),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "long_prescription_limit",
    )
    .await;
    assert_error(
        app.post(
            &vd,
            "/api/v1/prescriptions",
            &rx(29, "ordinary", true, false),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "long_prescription_limit",
    )
    .await;
    assert_error(
        app.post(
            &vd,
            "/api/v1/prescriptions",
            &rx(29, "antimicrobial", true, true),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "long_prescription_limit",
    )
    .await;
    assert_eq!(
        app.post(
            &vd,
            "/api/v1/prescriptions",
            &rx(28, "antimicrobial", false, false)
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(&vd, "/api/v1/prescriptions", &rx(84, "anti_tb", true, true))
            .await
            .status(),
        StatusCode::CREATED
    );
    // An uncontracted resident gets no long prescription.
    let other = resident(
        &app,
        &vd,
        VILLAGE_A1,
        (1956, 1, 1),
        13,
        "P2",
        &["hypertension"],
    )
    .await;
    let mut body = rx(56, "ordinary", true, true);
    body["resident_id"] = json!(other);
    assert_error(
        app.post(&vd, "/api/v1/prescriptions", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "long_prescription_limit",
    )
    .await;
}

async fn follow_up_out_of_range_is_422_and_a_crisis_turns_the_patient_red(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let (_, e) = stable_patient(&app, &vd, team).await;
    for (sbp, dbp) in [(20, 80), (400, 80), (140, 250)] {
        let r = app
            .post(
                &vd,
                &format!("/api/v1/enrolments/{e}/followups"),
                &json!({"sbp": sbp, "dbp": dbp}),
            )
            .await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "value_out_of_range").await;
    }
    let ok: Value = app
        .post(
            &vd,
            &format!("/api/v1/enrolments/{e}/followups"),
            &json!({"sbp": 132, "dbp": 84, "adherence": "regular"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ok["risk"].as_str(), ok["controlled"].as_bool()),
        (Some("low"), Some(true))
    );
    let crisis: Value = app
        .post(
            &vd,
            &format!("/api/v1/enrolments/{e}/followups"),
            &json!({"sbp": 186, "dbp": 112}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            crisis["risk"].as_str(),
            crisis["previous_risk"].as_str(),
            crisis["controlled"].as_bool()
        ),
        (Some("high"), Some("low"), Some(false))
    );
    let record: Value = app
        .get(&vd, &format!("/api/v1/enrolments/{e}"))
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<&str> = record["risk_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["risk"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["low", "high"]);
    assert_eq!(
        record["followups"].as_array().unwrap().len(),
        2,
        "refused values stored nothing"
    );
    assert_eq!(
        record["specialist_review_due"], true,
        "high risk needs a yearly specialist review"
    );
}

async fn work_lists_are_scoped_to_the_callers_residents(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let (_, e) = stable_patient(&app, &vd, team).await;
    // Overdue: the last follow-up was 100 days ago for a green (90-day) patient.
    let date = (yilian_server::state::today() - chrono::Duration::days(100)).to_string();
    app.post(
        &vd,
        &format!("/api/v1/enrolments/{e}/followups"),
        &json!({"sbp": 130, "dbp": 80, "date": date}),
    )
    .await;
    let list: Value = app.get(&vd, "/api/v1/worklist").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (list[0]["state"].as_str(), list[0]["colour"].as_str()),
        (Some("overdue"), Some("green"))
    );
    let other = app.login("vd_a2").await;
    let theirs: Value = app
        .get(&other, "/api/v1/worklist")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs,
        json!([]),
        "another village's doctor sees none of them"
    );
    let by_team: Value = app
        .get(
            &app.login("clinician_a").await,
            &format!("/api/v1/worklist?team_id={team}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_team.as_array().unwrap().len(), 1);
    // A crisis today turns the line red and moves it a month ahead (not due within 7 days).
    app.post(
        &vd,
        &format!("/api/v1/enrolments/{e}/followups"),
        &json!({"sbp": 185, "dbp": 95}),
    )
    .await;
    let after: Value = app
        .get(&vd, "/api/v1/worklist?window=40")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (after[0]["colour"].as_str(), after[0]["state"].as_str()),
        (Some("red"), Some("due"))
    );
    assert_error(
        app.get(&app.login("insurer").await, "/api/v1/worklist")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn fee_settlement_refuses_less_than_seventy_percent(app: TestApp) {
    let (team, lead, vdoc) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let r = resident(&app, &vd, VILLAGE_A1, (1950, 1, 1), 11, "F1", &[]).await;
    let year = yilian_server::state::today().format("%Y").to_string();
    app.post(
        &vd,
        "/api/v1/contracts",
        &json!({"resident_id": r, "team_id": team, "packages": ["hypertension"]}),
    )
    .await;
    let hc = app.login("hc_main").await;
    let low = app
        .post(
            &hc,
            &format!("/api/v1/teams/{team}/settlements"),
            &json!({"period": year, "team_share_bp": 6999}),
        )
        .await;
    assert_error(
        low,
        StatusCode::UNPROCESSABLE_ENTITY,
        "fee_share_below_minimum",
    )
    .await;
    let scores = json!([{"practitioner_id": lead, "volume": 30.0, "quality": 0.9, "satisfaction": 0.9}, {"practitioner_id": vdoc, "volume": 10.0, "quality": 0.9, "satisfaction": 0.9}]);
    let ok = app
        .post(
            &hc,
            &format!("/api/v1/teams/{team}/settlements"),
            &json!({"period": year, "team_share_bp": 7000, "scores": scores}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let s: Value = ok.json().await.unwrap();
    // basic 120.00 + hypertension 60.00 yuan collected; 70 % to the team.
    assert_eq!(
        (
            s["collected_fen"].as_i64(),
            s["team_pay_fen"].as_i64(),
            s["institution_fen"].as_i64()
        ),
        (Some(18_000), Some(12_600), Some(5_400))
    );
    let parts: Vec<(i64, i64)> = serde_json::from_str(s["members"].as_str().unwrap()).unwrap();
    assert_eq!(parts.iter().map(|(_, f)| f).sum::<i64>(), 12_600);
    assert!(parts[0].1 > parts[1].1);
    assert_error(
        app.post(
            &vd,
            &format!("/api/v1/teams/{team}/settlements"),
            &json!({"period": year, "team_share_bp": 8000}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn screening_enrolment_proposes_a_contract_and_six_ones_names_gaps(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let r = resident(&app, &vd, VILLAGE_A1, (1960, 1, 1), 11, "S1", &[]).await;
    let e: Value = app.post(&vd, "/api/v1/enrolments", &json!({"resident_id": r, "program": "diabetes_t2", "source": "screening", "measures": {"fasting_glucose": 9.2}})).await.json().await.unwrap();
    assert_eq!(
        (
            e["contract_proposed"].as_bool(),
            e["enrolment"]["risk"].as_str()
        ),
        (Some(true), Some("medium"))
    );
    let id = e["enrolment"]["id"].as_i64().unwrap();
    let record: Value = app
        .get(&vd, &format!("/api/v1/enrolments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["missing"],
        json!(["家庭医生服务协议", "健康管理方案", "连续服务记录"])
    );
    let dup = app
        .post(
            &vd,
            "/api/v1/enrolments",
            &json!({"resident_id": r, "program": "diabetes_t2"}),
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
}

async fn effective_contract_report_shows_services_behind(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let r = resident(
        &app,
        &vd,
        VILLAGE_A1,
        (1950, 1, 1),
        11,
        "E1",
        &["hypertension"],
    )
    .await;
    let start = (yilian_server::state::today() - chrono::Duration::days(200)).to_string();
    let c: Value = app.post(&vd, "/api/v1/contracts", &json!({"resident_id": r, "team_id": team, "packages": ["hypertension"], "start_date": start})).await.json().await.unwrap();
    let cid = c[0]["id"].as_i64().unwrap();
    let report: Value = app
        .get(&vd, &format!("/api/v1/teams/{team}/effective-contracts"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report[0]["effective"], false,
        "two follow-ups are due by now and none was delivered"
    );
    for _ in 0..2 {
        app.post(
            &vd,
            &format!("/api/v1/contracts/{cid}/deliveries"),
            &json!({"kind": "follow_up"}),
        )
        .await;
    }
    for kind in ["assessment", "education"] {
        app.post(
            &vd,
            &format!("/api/v1/contracts/{cid}/deliveries"),
            &json!({"kind": kind}),
        )
        .await;
    }
    let report: Value = app
        .get(&vd, &format!("/api/v1/teams/{team}/effective-contracts"))
        .await
        .json()
        .await
        .unwrap();
    let behind: Vec<&str> = report[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["delivered"].as_u64() < i["due_by_now"].as_u64())
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert!(behind.is_empty(), "{behind:?}");
    assert_eq!(report[0]["effective"], true);
}

/// A doctor in two teams: the cap counts contracts over both teams.
async fn a_doctor_in_two_teams_does_not_double_the_cap(backend: yilian_store::Backend) {
    let caps = yilian_domain::contract::CapPolicy {
        licensed_physician: 2,
        ..Default::default()
    };
    let settings = yilian_server::Settings {
        login_per_minute: 10,
        caps,
        ..yilian_server::Settings::default()
    };
    let Some(app) = spawn_app_with(backend, settings).await else {
        return;
    };
    let (team_a, _, _) = team_a(&app, 100).await;
    let admin = app.login("admin").await;
    let team_b = json!({"code": "FT-B", "name": "柳溪乡团队", "institution_code": "WB", "capacity": 100, "members": [{"practitioner_code": "GP1", "role": "lead"}]});
    let tb: Value = app
        .post(&admin, "/api/v1/teams", &team_b)
        .await
        .json()
        .await
        .unwrap();
    let mut results = vec![];
    for (i, (team, region)) in [
        (team_a, VILLAGE_A1),
        (team_a, VILLAGE_A1),
        (tb["id"].as_i64().unwrap(), VILLAGE_B1),
    ]
    .into_iter()
    .enumerate()
    {
        let r = resident(
            &app,
            &admin,
            region,
            (1950 + i as i32, 1, 1),
            11,
            &format!("D{i}"),
            &[],
        )
        .await;
        results.push(
            app.post(
                &admin,
                "/api/v1/contracts",
                &json!({"resident_id": r, "team_id": team}),
            )
            .await,
        );
    }
    let third = results.pop().unwrap();
    assert!(results.iter().all(|r| r.status() == StatusCode::CREATED));
    let e = assert_error(third, StatusCode::CONFLICT, "contract_cap_reached").await;
    assert!(
        e["message_zh"].as_str().unwrap().contains("测试医生"),
        "{e}"
    );
}

#[tokio::test]
async fn a_doctor_in_two_teams_does_not_double_the_cap_sqlite() {
    a_doctor_in_two_teams_does_not_double_the_cap(yilian_store::Backend::Sqlite).await;
}

#[tokio::test]
async fn a_doctor_in_two_teams_does_not_double_the_cap_postgres() {
    a_doctor_in_two_teams_does_not_double_the_cap(yilian_store::Backend::Postgres).await;
}
