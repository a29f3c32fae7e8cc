//! Black-box API tests through `spawn_app()`. Each runs on SQLite, and on
//! PostgreSQL when `YILIAN_TEST_PG` is set. Tests are sentences.

mod care;
mod care_web;
mod fhir;
mod fhir_care;
mod fhir_oversight;
mod fhir_workflow;
mod helpers;
mod insurance;
mod insurance_web;
mod monitoring;
mod recognition;
mod record_web;
mod records;
mod referral_web;
mod referrals;
mod remote;
mod surveillance;

use reqwest::StatusCode;
use serde_json::{Value, json};

use helpers::*;

both_backends!(
    health_and_openapi_are_served,
    login_gives_a_token_and_wrong_password_is_refused,
    login_is_rate_limited_per_username,
    no_login_is_401_with_a_json_error,
    registering_a_resident_issues_a_health_card_resolvable_from_the_id_number,
    invalid_id_number_is_422_and_stores_nothing,
    the_same_id_number_twice_is_409,
    disagreeing_birth_date_or_sex_is_refused,
    id_number_name_and_phone_are_enough_to_register,
    unknown_region_is_422,
    malformed_json_is_400,
    lists_mask_id_numbers_and_phones_but_detail_shows_them,
    search_by_name_pinyin_initials_card_and_phone,
    village_doctor_cannot_see_residents_of_another_village,
    primary_clinician_sees_their_township_only,
    county_specialist_sees_the_whole_county,
    resident_sees_only_themself,
    insurer_reads_in_region_but_cannot_register,
    health_commission_writes_registries_only_in_its_region,
    detail_reads_are_audited,
    merge_and_unmerge_round_trip_keeps_every_resident,
    duplicate_scan_finds_an_injected_duplicate,
    stale_version_is_409_and_changes_nothing,
    registry_inputs_are_validated,
    team_lead_must_be_a_gp_physician,
    cookie_authenticated_api_write_needs_csrf,
    only_admin_creates_users,
    junk_input_never_causes_a_500,
    web_login_search_and_detail_pages_work,
    web_forms_need_the_csrf_token,
);

async fn health_and_openapi_are_served(app: TestApp) {
    let r = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/residents",
        "/residents/{id}",
        "/institutions",
        "/consortia/{id}/members",
        "/auth/login",
        "/mpi/merges",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
}

async fn login_gives_a_token_and_wrong_password_is_refused(app: TestApp) {
    let token = app.login("vd_a1").await;
    let me: Value = app
        .get(&token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["role"].as_str(), me["username"].as_str()),
        (Some("village_doctor"), Some("vd_a1"))
    );
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "vd_a1", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Logout ends the token.
    let r = app.post(&token, "/api/v1/auth/logout", &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&token, "/api/v1/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

async fn login_is_rate_limited_per_username(app: TestApp) {
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        let r = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "cdc", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        last = r.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Another username is not affected.
    app.login("insurer").await;
}

async fn no_login_is_401_with_a_json_error(app: TestApp) {
    let r = reqwest::get(app.url("/api/v1/residents")).await.unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = app.get("not-a-token", "/api/v1/institutions").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn registering_a_resident_issues_a_health_card_resolvable_from_the_id_number(app: TestApp) {
    let t = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    let created = app.register(&t, body.clone()).await;
    let card = created["health_card_id"].as_str().unwrap();
    assert!(card.starts_with("E140599") && card.len() == 19);
    assert_eq!(created["sex"], "male");
    assert_eq!(created["birth_date"], "1958-03-09");
    assert_eq!(
        created["warnings"],
        json!([]),
        "a registered county prefix is known"
    );
    let id = created["id"].as_i64().unwrap();
    let r: Value = app
        .get(
            &t,
            &format!(
                "/api/v1/residents?id_number={}",
                body["id_number"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["items"][0]["health_card_id"], card);
    let detail: Value = app
        .get(&t, &format!("/api/v1/residents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["id_number"], body["id_number"]);
}

async fn invalid_id_number_is_422_and_stores_nothing(app: TestApp) {
    let t = app.login("vd_a1").await;
    let mut body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    let good = body["id_number"].as_str().unwrap().to_string();
    let last = good.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    body["id_number"] = json!(format!("{}{wrong}", &good[..17]));
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_id_number",
    )
    .await;
    body["id_number"] = json!("123");
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_id_number",
    )
    .await;
    assert_eq!(app.count_residents().await, 0);
}

async fn the_same_id_number_twice_is_409(app: TestApp) {
    let t = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    app.register(&t, body.clone()).await;
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::CONFLICT,
        "duplicate_id_number",
    )
    .await;
    // Lower-case x is the same number.
    assert_eq!(app.count_residents().await, 1);
}

async fn disagreeing_birth_date_or_sex_is_refused(app: TestApp) {
    let t = app.login("vd_a1").await;
    let mut body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    body["sex"] = json!("female");
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "id_number_mismatch",
    )
    .await;
    body["sex"] = json!("male");
    body["birth_date"] = json!("1958-03-10");
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "id_number_mismatch",
    )
    .await;
    assert_eq!(app.count_residents().await, 0);
}

async fn unknown_region_is_422(app: TestApp) {
    let t = app.login("vd_a1").await;
    let body = resident_body("140599101299", (1958, 3, 9), 17, "李建国", "14500001234");
    assert_error(
        app.post(&t, "/api/v1/residents", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_region",
    )
    .await;
    let admin = app.login("admin").await;
    let inst = json!({"code": "X1", "name": "某卫生室", "kind": "village_clinic", "ownership": "public", "region_code": "140599101299"});
    assert_error(
        app.post(&admin, "/api/v1/institutions", &inst).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_region",
    )
    .await;
    let team = json!({"code": "T1", "name": "团队", "institution_code": "NOPE", "capacity": 100, "members": []});
    assert_error(
        app.post(&admin, "/api/v1/teams", &team).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_institution",
    )
    .await;
    assert_eq!(app.count_residents().await, 0);
}

async fn malformed_json_is_400(app: TestApp) {
    let t = app.login("vd_a1").await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/residents"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{\"id_number\": ")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/residents"))
        .bearer_auth(&t)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    let r = app
        .post(&t, "/api/v1/residents", &json!({"name": "缺字段"}))
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_error(
        app.get(&t, "/api/v1/residents/abc").await,
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
}

async fn lists_mask_id_numbers_and_phones_but_detail_shows_them(app: TestApp) {
    let t = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    let id = app.register(&t, body.clone()).await["id"].as_i64().unwrap();
    let list: Value = app
        .get(&t, "/api/v1/residents?q=李")
        .await
        .json()
        .await
        .unwrap();
    let item = &list["items"][0];
    let full = body["id_number"].as_str().unwrap();
    assert_eq!(
        item["id_number"],
        format!("{}**********{}", &full[..4], &full[14..])
    );
    assert_eq!(item["phone"], "145****1234");
    assert!(!list.to_string().contains(full), "no whole id in a list");
    let detail: Value = app
        .get(&t, &format!("/api/v1/residents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (detail["id_number"].as_str(), detail["phone"].as_str()),
        (Some(full), Some("14500001234"))
    );
}

async fn search_by_name_pinyin_initials_card_and_phone(app: TestApp) {
    let t = app.login("clinician_a").await;
    let a = app
        .register(
            &t,
            resident_body(VILLAGE_A1, (1960, 5, 1), 11, "王建国", "14500001111"),
        )
        .await;
    app.register(
        &t,
        resident_body(VILLAGE_A2, (1970, 1, 1), 13, "王小明", "14500003333"),
    )
    .await;
    let names = |v: Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            app.get(&t, "/api/v1/residents?q=%E7%8E%8B")
                .await
                .json()
                .await
                .unwrap()
        ),
        ["王建国", "王小明"]
    );
    assert_eq!(
        names(
            app.get(&t, "/api/v1/residents?q=wangx")
                .await
                .json()
                .await
                .unwrap()
        ),
        ["王小明"]
    );
    assert_eq!(
        names(
            app.get(&t, "/api/v1/residents?q=wjg")
                .await
                .json()
                .await
                .unwrap()
        ),
        ["王建国"]
    );
    assert_eq!(
        names(
            app.get(
                &t,
                &format!(
                    "/api/v1/residents?q={}",
                    a["health_card_id"].as_str().unwrap()
                )
            )
            .await
            .json()
            .await
            .unwrap()
        ),
        ["王建国"]
    );
    assert_eq!(
        names(
            app.get(&t, "/api/v1/residents?q=14500003333")
                .await
                .json()
                .await
                .unwrap()
        ),
        ["王小明"]
    );
    let paged: Value = app
        .get(&t, "/api/v1/residents?q=wang&limit=1&offset=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (paged["total"].as_i64(), names(paged)),
        (Some(2), vec!["王小明".to_string()])
    );
}

/// Registers one resident in each of three villages (two townships) as admin.
async fn three_villages(app: &TestApp) -> [i64; 3] {
    let admin = app.login("admin").await;
    let a1 = app
        .register(
            &admin,
            resident_body(VILLAGE_A1, (1960, 1, 1), 11, "赵一", "14500000001"),
        )
        .await;
    let a2 = app
        .register(
            &admin,
            resident_body(VILLAGE_A2, (1961, 1, 1), 13, "钱二", "14500000002"),
        )
        .await;
    let b1 = app
        .register(
            &admin,
            resident_body(VILLAGE_B1, (1962, 1, 1), 15, "孙三", "14500000003"),
        )
        .await;
    [
        a1["id"].as_i64().unwrap(),
        a2["id"].as_i64().unwrap(),
        b1["id"].as_i64().unwrap(),
    ]
}

async fn visible_ids(app: &TestApp, token: &str) -> Vec<i64> {
    let v: Value = app
        .get(token, "/api/v1/residents")
        .await
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn village_doctor_cannot_see_residents_of_another_village(app: TestApp) {
    let [a1, a2, _] = three_villages(&app).await;
    let t = app.login("vd_a1").await;
    assert_eq!(visible_ids(&app, &t).await, vec![a1]);
    let r = app.get(&t, &format!("/api/v1/residents/{a2}")).await;
    let body = assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert!(!body.to_string().contains("钱二"), "nothing leaks");
    // A resident this clinic registered stays visible though they live elsewhere.
    let own = app
        .register(
            &t,
            resident_body(VILLAGE_B1, (1990, 2, 2), 21, "周四", "14500000004"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(visible_ids(&app, &t).await, vec![a1, own]);
}

async fn primary_clinician_sees_their_township_only(app: TestApp) {
    let [a1, a2, b1] = three_villages(&app).await;
    let t = app.login("clinician_a").await;
    assert_eq!(visible_ids(&app, &t).await, vec![a1, a2]);
    assert_eq!(
        app.get(&t, &format!("/api/v1/residents/{b1}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn county_specialist_sees_the_whole_county(app: TestApp) {
    let ids = three_villages(&app).await;
    let t = app.login("specialist").await;
    assert_eq!(visible_ids(&app, &t).await, ids.to_vec());
}

async fn resident_sees_only_themself(app: TestApp) {
    let [a1, a2, _] = three_villages(&app).await;
    let admin = app.login("admin").await;
    let detail: Value = app
        .get(&admin, &format!("/api/v1/residents/{a1}"))
        .await
        .json()
        .await
        .unwrap();
    let u = json!({"username": "jumin1", "password": PASSWORD, "role": "resident", "scope": detail["id_number"]});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    let t = app.login("jumin1").await;
    assert_eq!(visible_ids(&app, &t).await, vec![a1]);
    assert_eq!(
        app.get(&t, &format!("/api/v1/residents/{a1}"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&t, &format!("/api/v1/residents/{a2}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(
            &t,
            "/api/v1/residents",
            &resident_body(VILLAGE_A1, (1990, 1, 1), 31, "吴五", "14500000005"),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn insurer_reads_in_region_but_cannot_register(app: TestApp) {
    let ids = three_villages(&app).await;
    let t = app.login("insurer").await;
    assert_eq!(visible_ids(&app, &t).await, ids.to_vec());
    let r = app
        .post(
            &t,
            "/api/v1/residents",
            &resident_body(VILLAGE_A1, (1990, 1, 1), 31, "吴五", "14500000005"),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let other = app.login("hc_other").await;
    assert!(
        visible_ids(&app, &other).await.is_empty(),
        "another county's commission sees none"
    );
}

async fn health_commission_writes_registries_only_in_its_region(app: TestApp) {
    let inst = |code: &str, region: &str| json!({"code": code, "name": "新建卫生室", "kind": "village_clinic", "ownership": "public", "region_code": region, "lon": 112.8, "lat": 35.6, "beds": {"general": 2}, "staff": {"village_doctor": 2}, "services": ["tcm_hall"]});
    let hc = app.login("hc_main").await;
    let r = app
        .post(&hc, "/api/v1/institutions", &inst("VX", VILLAGE_A1))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["services"], json!(["tcm_hall"]));
    let other = app.login("hc_other").await;
    assert_error(
        app.post(&other, "/api/v1/institutions", &inst("VY", VILLAGE_A1))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let vd = app.login("vd_a1").await;
    assert_error(
        app.post(&vd, "/api/v1/institutions", &inst("VZ", VILLAGE_A1))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Everyone may read the directory.
    let list: Value = app
        .get(&vd, "/api/v1/institutions?kind=village_clinic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 4);
}

async fn detail_reads_are_audited(app: TestApp) {
    let [a1, _, _] = three_villages(&app).await;
    let t = app.login("vd_a1").await;
    app.get(&t, &format!("/api/v1/residents/{a1}")).await;
    let mut c = app.db.store.read().await.unwrap();
    let log = yilian_store::audit::for_entity(&mut c, "resident", &a1.to_string())
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "read" && e.detail.contains("village_doctor")),
        "{log:?}"
    );
}

async fn merge_and_unmerge_round_trip_keeps_every_resident(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let a = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1960, 5, 1), 11, "王建国", "14500001111"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let b = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1960, 5, 1), 13, "王建囯", "14500001111"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let hc = app.login("hc_main").await;
    let bad = app
        .post(
            &hc,
            "/api/v1/mpi/merges",
            &json!({"survivor_id": a, "merged_id": a, "reason": "x"}),
        )
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "merge_same_resident").await;
    assert_error(
        app.post(
            &vd,
            "/api/v1/mpi/merges",
            &json!({"survivor_id": a, "merged_id": b, "reason": "x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let r = app
        .post(
            &hc,
            "/api/v1/mpi/merges",
            &json!({"survivor_id": a, "merged_id": b, "reason": "同一人重复建档"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let merge: Value = r.json().await.unwrap();
    let survivor: Value = app
        .get(&hc, &format!("/api/v1/residents/{a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(survivor["merged_residents"], json!([b]));
    assert_eq!(
        visible_ids(&app, &hc).await,
        vec![a],
        "the merged one leaves search"
    );
    let again = app
        .post(
            &hc,
            "/api/v1/mpi/merges",
            &json!({"survivor_id": a, "merged_id": b, "reason": "again"}),
        )
        .await;
    assert_error(again, StatusCode::CONFLICT, "already_merged").await;
    let r = app
        .post(
            &hc,
            &format!("/api/v1/mpi/merges/{}/unmerge", merge["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        visible_ids(&app, &hc).await,
        vec![a, b],
        "both stand alone again"
    );
    let twice = app
        .post(
            &hc,
            &format!("/api/v1/mpi/merges/{}/unmerge", merge["id"]),
            &json!({}),
        )
        .await;
    assert_error(twice, StatusCode::CONFLICT, "merge_already_undone").await;
    let mut c = app.db.store.read().await.unwrap();
    let log = yilian_store::audit::for_entity(&mut c, "resident", &a.to_string())
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"merge") && actions.contains(&"unmerge"),
        "{actions:?}"
    );
}

async fn duplicate_scan_finds_an_injected_duplicate(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let a = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1960, 5, 1), 11, "王建国", "14500001111"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // The same man registered again: sequence digit mistyped, homophone name.
    let b = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1960, 5, 1), 13, "王健国", "14500001111"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.register(
        &vd,
        resident_body(VILLAGE_A1, (1985, 9, 9), 22, "李秀英", "14500002222"),
    )
    .await;
    let hc = app.login("hc_main").await;
    let report: Value = app
        .post(&hc, "/api/v1/mpi/scan", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["candidates"], 1, "{report}");
    let list: Value = app
        .get(&hc, "/api/v1/mpi/candidates")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            list["items"][0]["a_id"].as_i64(),
            list["items"][0]["b_id"].as_i64()
        ),
        (Some(a), Some(b))
    );
}

async fn stale_version_is_409_and_changes_nothing(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    let id = app.register(&vd, body.clone()).await["id"]
        .as_i64()
        .unwrap();
    let mut upd = body.clone();
    upd["version"] = json!(1);
    upd["phone"] = json!("14500009999");
    let r = app.put(&vd, &format!("/api/v1/residents/{id}"), &upd).await;
    assert_eq!(r.status(), StatusCode::OK);
    upd["phone"] = json!("14500008888");
    assert_error(
        app.put(&vd, &format!("/api/v1/residents/{id}"), &upd).await,
        StatusCode::CONFLICT,
        "version_conflict",
    )
    .await;
    let now: Value = app
        .get(&vd, &format!("/api/v1/residents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (now["phone"].as_str(), now["version"].as_i64()),
        (Some("14500009999"), Some(2))
    );
}

async fn registry_inputs_are_validated(app: TestApp) {
    let admin = app.login("admin").await;
    let mut inst = json!({"code": "VQ", "name": "卫生室", "kind": "village_clinic", "ownership": "public", "region_code": COUNTY});
    assert_error(
        app.post(&admin, "/api/v1/institutions", &inst).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    inst["region_code"] = json!(VILLAGE_A1);
    inst["kind"] = json!("hospital");
    assert_error(
        app.post(&admin, "/api/v1/institutions", &inst).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    inst["kind"] = json!("village_clinic");
    inst["beds"] = json!({"sofa": 3});
    assert_error(
        app.post(&admin, "/api/v1/institutions", &inst).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    inst["beds"] = json!({"general": 3});
    inst["code"] = json!("VA1");
    assert_error(
        app.post(&admin, "/api/v1/institutions", &inst).await,
        StatusCode::CONFLICT,
        "duplicate",
    )
    .await;
    // Consortia: a member can be in several.
    let c1 = json!({"code": "CN1", "name": "青禾县医共体", "kind": "county_consortium", "lead_institution_code": "H1", "region_code": COUNTY});
    let c1: Value = app
        .post(&admin, "/api/v1/consortia", &c1)
        .await
        .json()
        .await
        .unwrap();
    let c2 = json!({"code": "CN2", "name": "远程协作网", "kind": "telemedicine_network", "lead_institution_code": "H1", "region_code": COUNTY});
    let c2: Value = app
        .post(&admin, "/api/v1/consortia", &c2)
        .await
        .json()
        .await
        .unwrap();
    for c in [&c1, &c2] {
        let r = app
            .post(
                &admin,
                &format!("/api/v1/consortia/{}/members", c["id"]),
                &json!({"institution_code": "WA"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let wa: Value = app
        .get(&admin, "/api/v1/institutions?q=WA")
        .await
        .json()
        .await
        .unwrap();
    let of_wa: Value = app
        .get(
            &admin,
            &format!(
                "/api/v1/consortia?member_institution_id={}",
                wa["items"][0]["id"]
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(of_wa["total"], 2);
    let r = app
        .post(
            &admin,
            &format!("/api/v1/consortia/{}/members", c1["id"]),
            &json!({"institution_code": "NOPE"}),
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_institution").await;
}

async fn team_lead_must_be_a_gp_physician(app: TestApp) {
    let admin = app.login("admin").await;
    let p = |code: &str, profession: &str, gp: bool| json!({"code": code, "name": "测试医生", "sex": "female", "profession": profession, "is_gp": gp, "sites": ["WA"]});
    for body in [
        p("P1", "licensed_physician", true),
        p("P2", "registered_nurse", false),
        p("P3", "licensed_physician", false),
    ] {
        assert_eq!(
            app.post(&admin, "/api/v1/practitioners", &body)
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let team = |lead: &str| json!({"code": format!("T-{lead}"), "name": "桃源镇团队", "institution_code": "WA", "capacity": 2000, "members": [{"practitioner_code": lead, "role": "lead"}, {"practitioner_code": "P2", "role": "nurse"}]});
    assert_error(
        app.post(&admin, "/api/v1/teams", &team("P3")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let r = app.post(&admin, "/api/v1/teams", &team("P1")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["members"].as_array().unwrap().len(), 2);
    let list: Value = app
        .get(&admin, "/api/v1/practitioners?is_gp=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
}

async fn cookie_authenticated_api_write_needs_csrf(app: TestApp) {
    // A browser session (cookie) cannot write through the API without the token.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "vd_a1", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let login: Value = r.json().await.unwrap();
    let cookie = format!("yl_session={}", login["token"].as_str().unwrap());
    let body = resident_body(VILLAGE_A1, (1958, 3, 9), 17, "李建国", "14500001234");
    let client = reqwest::Client::new();
    let r = client
        .post(app.url("/api/v1/residents"))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::FORBIDDEN, "csrf_failed").await;
    let r = client
        .post(app.url("/api/v1/residents"))
        .header("cookie", &cookie)
        .header("x-csrf-token", login["csrf_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn only_admin_creates_users(app: TestApp) {
    let hc = app.login("hc_main").await;
    let u = json!({"username": "newuser", "password": PASSWORD, "role": "cdc", "scope": COUNTY});
    assert_error(
        app.post(&hc, "/api/v1/users", &u).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admin = app.login("admin").await;
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.post(&admin, "/api/v1/users", &u).await,
        StatusCode::CONFLICT,
        "duplicate_username",
    )
    .await;
    let weak = json!({"username": "weak", "password": "short", "role": "admin"});
    assert_error(
        app.post(&admin, "/api/v1/users", &weak).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let unscoped = json!({"username": "vd", "password": PASSWORD, "role": "village_doctor"});
    assert_error(
        app.post(&admin, "/api/v1/users", &unscoped).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
}

async fn junk_input_never_causes_a_500(app: TestApp) {
    let t = app.login("admin").await;
    let junk = [
        "",
        "null",
        "[]",
        "{\"id_number\": 5}",
        "{\"id_number\":\"\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\",\"name\":\"x\",\"phone\":\"1\",\"region_code\":\"x\"}",
    ];
    for path in [
        "/api/v1/residents",
        "/api/v1/institutions",
        "/api/v1/consortia",
        "/api/v1/teams",
        "/api/v1/practitioners",
        "/api/v1/regions",
        "/api/v1/mpi/merges",
        "/api/v1/users",
    ] {
        for body in junk {
            let r = reqwest::Client::new()
                .post(app.url(path))
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_client_error(),
                "{path} {body:?} → {}",
                r.status()
            );
        }
    }
    for path in [
        "/api/v1/residents?limit=-5&offset=-1",
        "/api/v1/residents?q=%27%3B%20DROP%20TABLE",
        "/api/v1/residents/99999999999",
        "/api/v1/institutions/-1",
        "/api/v1/regions/%00",
        "/api/v1/nope",
    ] {
        let r = app.get(&t, path).await;
        assert!(r.status().as_u16() < 500, "{path} → {}", r.status());
    }
}

/// Logs in through the web form with the client's cookie store.
async fn web_login(app: &TestApp, username: &str) -> reqwest::Response {
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    app.client
        .post(app.url("/login"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

async fn web_login_search_and_detail_pages_work(app: TestApp) {
    let [a1, a2, _] = three_villages(&app).await;
    let r = reqwest::get(app.url("/residents")).await.unwrap();
    assert!(
        r.url().path().ends_with("/login"),
        "anonymous visitors are sent to the login page"
    );
    let home = web_login(&app, "vd_a1").await;
    assert_eq!(home.status(), StatusCode::OK);
    let home = home.text().await.unwrap();
    assert!(home.contains("工作台") && home.contains("居民查询"));
    let list = app
        .client
        .get(app.url("/residents?q=%E8%B5%B5"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("赵一") && list.contains("**********"),
        "masked list"
    );
    let partial = app
        .client
        .get(app.url("/residents?q=%E8%B5%B5"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        partial.contains("赵一") && !partial.contains("<html"),
        "htmx gets the results fragment"
    );
    let detail = app
        .client
        .get(app.url(&format!("/residents/{a1}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains("电子健康卡号") && detail.contains(&id_number((1960, 1, 1), 11)));
    let other = app
        .client
        .get(app.url(&format!("/residents/{a2}")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    for path in ["/institutions", "/consortia", "/institutions/1"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let bad = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("username", "vd_a1"),
            ("password", "wrong"),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        StatusCode::FORBIDDEN,
        "a login form without its token is refused"
    );
}

async fn web_forms_need_the_csrf_token(app: TestApp) {
    web_login(&app, "vd_a1").await;
    let r = app
        .client
        .post(app.url("/elder"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("class=\"elder\""));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .client
        .post(app.url("/elder"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("class=\"elder\""), "elder mode switched on");
}

async fn id_number_name_and_phone_are_enough_to_register(app: TestApp) {
    // The stable contract: {id_number, name, phone} → 201 with id and card.
    let vd = app.login("vd_a1").await;
    let body =
        json!({"id_number": id_number((1970, 7, 7), 21), "name": "周建华", "phone": "14500007777"});
    let r = app.post(&vd, "/api/v1/residents", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert!(v["id"].as_i64().is_some() && v["health_card_id"].as_str().is_some());
    assert_eq!(
        v["region_code"], VILLAGE_A1,
        "lives where the registering clinic is"
    );
    // An admin (no institution) falls back to the identity number's county.
    let admin = app.login("admin").await;
    let body =
        json!({"id_number": id_number((1971, 7, 7), 23), "name": "吴建华", "phone": "14500007778"});
    let v: Value = app
        .post(&admin, "/api/v1/residents", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["region_code"], COUNTY);
    let elsewhere = yilian_domain::id_number::IdNumber::build(
        "320102",
        chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
        31,
    )
    .unwrap()
    .to_string();
    let r = app
        .post(
            &admin,
            "/api/v1/residents",
            &json!({"id_number": elsewhere, "name": "郑建华", "phone": "14500007779"}),
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_region").await;
}
