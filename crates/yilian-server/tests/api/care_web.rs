//! The 签约与慢病 pages through a browser-like client (cookie session, forms
//! with their CSRF token), on both backends.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::care::team_a;
use crate::helpers::*;

both_backends!(
    web_care_household_signing_follow_up_and_red_work_list,
    web_care_bad_form_values_show_an_error_page_and_store_nothing,
);

async fn resident_in(
    app: &TestApp,
    token: &str,
    seq: u16,
    name: &str,
    household: &str,
    tags: &[&str],
) -> i64 {
    let mut b = resident_body(VILLAGE_A1, (1955, 6, 1), seq, name, "14500000021");
    b["household_code"] = json!(household);
    b["tags"] = json!(tags);
    app.register(token, b).await["id"].as_i64().unwrap()
}

/// The table row of a resident on the workspace page.
fn row_of(page: &str, resident: i64) -> Option<&str> {
    page.split("<tr")
        .find(|row| row.contains(&format!("href=\"/residents/{resident}\"")))
}

async fn web_care_household_signing_follow_up_and_red_work_list(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let a = resident_in(&app, &vd, 11, "王建华", "HH-W1", &["hypertension"]).await;
    let b = resident_in(&app, &vd, 12, "王秀英", "HH-W1", &[]).await;
    let web = &app.client;
    web_login(&app, web, "vd_a1").await;

    let (status, work) = page(&app, web, "/care").await;
    assert_eq!(status, StatusCode::OK);
    assert!(work.contains("工作台") && work.contains("桃源镇家庭医生团队"));
    assert!(work.contains("0 / 100"), "nobody signed yet");
    let (_, home) = page(&app, web, "/").await;
    assert!(home.contains("签约与慢病"), "the nav offers the care pages");

    // The resident page offers signing, for one resident or the household.
    let (_, detail) = page(&app, web, &format!("/residents/{a}")).await;
    assert!(detail.contains(&format!("/care/sign?resident_id={a}")));
    assert!(detail.contains("/care/sign?household_code=HH-W1"));
    let (status, form) = page(&app, web, "/care/sign?household_code=HH-W1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("王建华") && form.contains("王秀英") && form.contains("基础服务包"));
    let team_s = team.to_string();
    let r = submit(
        &app,
        web,
        "/care/sign",
        &[
            ("csrf", &csrf_of(&form)),
            ("household_code", "HH-W1"),
            ("team_id", &team_s),
            ("doctor_id", ""),
            ("packages", "hypertension"),
            ("packages", "elderly"),
            ("secondary_hospital_code", "H1"),
            ("tertiary_hospital_code", "T3"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.url().path().starts_with("/residents/"), "{}", r.url());
    for id in [a, b] {
        let (_, detail) = page(&app, web, &format!("/residents/{id}")).await;
        assert!(
            detail.contains("桃源镇家庭医生团队")
                && detail.contains("高血压管理包")
                && detail.contains("老年人健康管理包")
                && detail.contains("H1机构")
                && detail.contains("T3机构"),
            "resident {id} shows the contract"
        );
        assert!(
            !detail.contains("/care/sign?"),
            "no signing offered while a contract is active"
        );
    }
    let (_, work) = page(&app, web, "/care").await;
    assert!(
        work.contains("2 / 100"),
        "the household counts against the team"
    );

    // 纳入管理 from the resident page, then a hypertensive crisis at follow-up.
    let (_, detail) = page(&app, web, &format!("/residents/{a}")).await;
    let a_s = a.to_string();
    let r = submit(
        &app,
        web,
        "/care/enrolments",
        &[
            ("csrf", &csrf_of(&detail)),
            ("resident_id", &a_s),
            ("program", "hypertension"),
            ("source", "diagnosis"),
            ("sbp", "150"),
            ("dbp", "92"),
            ("fasting_glucose", ""),
            ("risk_factors", "0"),
            ("plan", "低盐饮食，规律服药"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let path = r.url().path().to_string();
    let e: i64 = path
        .strip_prefix("/care/enrolments/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirected to the chronic page, got {path}"));
    let chronic = r.text().await.unwrap();
    assert!(chronic.contains("六个一") && chronic.contains("risk-green"));
    let r = submit(
        &app,
        web,
        &format!("/care/enrolments/{e}/followups"),
        &[
            ("csrf", &csrf_of(&chronic)),
            ("sbp", "186"),
            ("dbp", "112"),
            ("heart_rate", "88"),
            ("fasting_glucose", ""),
            ("hba1c", ""),
            ("weight_kg", "68.5"),
            ("adherence", "intermittent"),
            ("note", "头痛，建议转诊"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), format!("/care/enrolments/{e}"));
    let chronic = r.text().await.unwrap();
    assert!(chronic.contains("随访已记录") && chronic.contains("risk-red"));
    assert!(
        chronic.contains("id=\"series\"") && chronic.contains("\"sbp\":[186]"),
        "the SBP series for the chart"
    );
    assert!(chronic.contains("echarts.min.js"));
    assert!(chronic.contains("头痛，建议转诊"));

    // Red patients are followed monthly: the 30-day work list shows the line in red.
    let (_, work) = page(&app, web, "/care?window=30").await;
    let line = row_of(&work, a).expect("the resident is on the work list");
    assert!(
        line.contains("risk-red") && line.contains("高血压"),
        "{line}"
    );
    let (_, by_team) = page(&app, web, &format!("/care?team_id={team}&window=30")).await;
    assert!(row_of(&by_team, a).is_some_and(|l| l.contains("risk-red")));
    let (status, _) = page(&app, web, "/care?team_id=999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a team not the caller's");

    let (status, packages) = page(&app, web, "/care/packages").await;
    assert_eq!(status, StatusCode::OK);
    assert!(packages.contains("基础服务包") && packages.contains("120.00"));

    // 解约 with a reason: the contract goes to the history, signing is offered again.
    let (_, detail) = page(&app, web, &format!("/residents/{b}")).await;
    let action = detail
        .split("action=\"/care/contracts/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("contract actions")
        .to_string();
    let r = submit(
        &app,
        web,
        &format!("/care/contracts/{action}"),
        &[
            ("csrf", &csrf_of(&detail)),
            ("event", "cancel"),
            ("reason", "迁出本县"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let detail = r.text().await.unwrap();
    assert!(detail.contains("已解约") && detail.contains("迁出本县"));
    assert!(detail.contains(&format!("/care/sign?resident_id={b}")));

    // The resident's own portal shows the contract and the next follow-up.
    let admin = app.login("admin").await;
    let id_number: Value = app
        .get(&admin, &format!("/api/v1/residents/{a}"))
        .await
        .json()
        .await
        .unwrap();
    let u = json!({"username": "jumin_a", "password": PASSWORD, "role": "resident", "scope": id_number["id_number"]});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    let own = Client::builder().cookie_store(true).build().unwrap();
    web_login(&app, &own, "jumin_a").await;
    let (status, me) = page(&app, &own, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(me.contains("我的家庭医生") && me.contains("桃源镇家庭医生团队"));
    let next = (yilian_server::state::today() + chrono::Duration::days(30)).to_string();
    let prev = (yilian_server::state::today() + chrono::Duration::days(29)).to_string();
    assert!(
        me.contains("下次随访") && (me.contains(&next) || me.contains(&prev)),
        "the next follow-up date is shown"
    );
    assert!(
        !me.contains("签约与慢病"),
        "residents get no care workspace"
    );
    let (status, _) = page(&app, &own, "/care").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn web_care_bad_form_values_show_an_error_page_and_store_nothing(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let rid = resident_in(&app, &vd, 11, "李桂兰", "HH-L1", &["hypertension"]).await;
    let web = &app.client;
    web_login(&app, web, "vd_a1").await;

    // "1+1+1": a grade-II hospital is no tertiary choice — nothing is signed.
    let (_, form) = page(&app, web, &format!("/care/sign?resident_id={rid}")).await;
    let csrf = csrf_of(&form);
    let (r_s, team_s) = (rid.to_string(), team.to_string());
    let bad = submit(
        &app,
        web,
        "/care/sign",
        &[
            ("csrf", &csrf),
            ("resident_id", &r_s),
            ("team_id", &team_s),
            ("tertiary_hospital_code", "H1"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("三级医院"));
    let p: Value = app
        .get(&vd, &format!("/api/v1/residents/{rid}/priority"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["contracted"], false, "the refused signing stored nothing");

    assert_eq!(
        app.post(
            &vd,
            "/api/v1/contracts",
            &json!({"resident_id": rid, "team_id": team})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let e: Value = app
        .post(
            &vd,
            "/api/v1/enrolments",
            &json!({"resident_id": rid, "program": "hypertension", "measures": {"sbp": 150, "dbp": 92}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let e = e["enrolment"]["id"].as_i64().unwrap();
    let path = format!("/care/enrolments/{e}/followups");
    let (status, chronic) = page(&app, web, &format!("/care/enrolments/{e}")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&chronic);
    for (sbp, dbp, expect) in [
        ("400", "80", "超出生理范围"),
        ("140", "250", "超出生理范围"),
        ("abc", "80", "应填写数字"),
    ] {
        let r = submit(
            &app,
            web,
            &path,
            &[("csrf", &csrf), ("sbp", sbp), ("dbp", dbp)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{sbp}/{dbp}");
        let body = r.text().await.unwrap();
        assert!(body.contains("出错了") && body.contains(expect), "{body}");
    }
    let future = (yilian_server::state::today() + chrono::Duration::days(3)).to_string();
    let r = submit(
        &app,
        web,
        &path,
        &[("csrf", &csrf), ("sbp", "130"), ("date", &future)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let forged = submit(
        &app,
        web,
        &path,
        &[("csrf", "forged"), ("sbp", "130"), ("dbp", "80")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let record: Value = app
        .get(&vd, &format!("/api/v1/enrolments/{e}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["followups"].as_array().map(Vec::len),
        Some(0),
        "refused forms stored nothing"
    );

    // Another village's doctor cannot open the patient's pages.
    let other = Client::builder().cookie_store(true).build().unwrap();
    web_login(&app, &other, "vd_a2").await;
    for url in [format!("/care/enrolments/{e}"), format!("/residents/{rid}")] {
        let (status, _) = page(&app, &other, &url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }
    let (_, their_page) = page(&app, &other, "/care").await;
    let csrf = csrf_of(&their_page);
    let r = submit(
        &app,
        &other,
        &path,
        &[("csrf", &csrf), ("sbp", "130"), ("dbp", "80")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
