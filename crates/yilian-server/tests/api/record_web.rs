//! The 健康档案 pages through browser-like clients, on both backends: the
//! clinician's timeline and its refusal with emergency access, and the
//! resident's record, access log and consents.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(web_record_grounds_break_glass_consent_and_the_residents_log);

async fn web_record_grounds_break_glass_consent_and_the_residents_log(app: TestApp) {
    let token = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1958, 8, 8), 41, "档案网页居民", "14500000041");
    let id_number = body["id_number"].as_str().unwrap().to_string();
    let rid = app.register(&token, body).await["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    let u =
        json!({"username": "web_pt", "password": PASSWORD, "role": "resident", "scope": id_number});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    let record = format!("/residents/{rid}/record");

    // The village doctor: the resident page links to the record; an encounter is added by form.
    let vd = browser(&app, "vd_a1").await;
    let (_, resident) = page(&app, &vd, &format!("/residents/{rid}")).await;
    assert!(resident.contains(&format!("href=\"{record}\"")) && resident.contains("健康档案"));
    let (status, shown) = page(&app, &vd, &record).await;
    // No encounter yet, no contract, no referral: even the village doctor is refused.
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(shown.contains("无调阅依据") && shown.contains("紧急调阅"));
    let r = submit(
        &app,
        &vd,
        &format!("/residents/{rid}/record/break-glass"),
        &[
            ("csrf", &csrf_of(&shown)),
            ("reason", "上门随访前核对用药史"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("紧急调阅") && shown.contains("已标记待审核"));
    let r = submit(
        &app,
        &vd,
        &record,
        &[
            ("csrf", &csrf_of(&shown)),
            ("kind", "encounter"),
            ("encounter_type", "home_visit"),
            ("title", "家庭访视：血压复测"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), record);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("家庭访视：血压复测") && shown.contains("近期在本机构就诊"));
    // A bad entry is shown on the form and stores nothing.
    let r = submit(
        &app,
        &vd,
        &record,
        &[
            ("csrf", &csrf_of(&shown)),
            ("kind", "diagnosis"),
            ("code", "XYZ"),
            ("title", "乱码"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("role=\"alert\"") && !shown.contains("乱码</strong>"));

    // The county specialist: refused, and a one-word reason is not enough.
    let sp = browser(&app, "specialist").await;
    let (status, refused) = page(&app, &sp, &record).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = submit(
        &app,
        &sp,
        &format!("/residents/{rid}/record/break-glass"),
        &[("csrf", &csrf_of(&refused)), ("reason", "急")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The resident grants the county hospital access, and sees who read what.
    let pt = browser(&app, "web_pt").await;
    let (_, me) = page(&app, &pt, "/me").await;
    assert!(me.contains("href=\"/me/record\""));
    let (status, mine) = page(&app, &pt, "/me/record").await;
    assert_eq!(status, StatusCode::OK);
    assert!(mine.contains("家庭访视：血压复测"));
    let log = between(&mine, "id=\"access-log\"", "</section>");
    assert!(
        log.contains("已拒绝") && log.contains("上门随访前核对用药史") && log.contains("待审核"),
        "{log}"
    );
    let consents = between(&mine, "id=\"consents\"", "</section>");
    let h1 = consents
        .split("<option value=\"institution:")
        .find(|o| o.contains("H1机构"))
        .and_then(|o| o.split('"').next())
        .expect("H1 is offered")
        .to_string();
    let past = submit(
        &app,
        &pt,
        "/me/consents",
        &[
            ("csrf", &csrf_of(&mine)),
            ("grantee", &format!("institution:{h1}")),
            ("ends_on", "2020-01-01"),
        ],
    )
    .await;
    assert_eq!(past.status(), StatusCode::OK);
    assert!(past.text().await.unwrap().contains("id=\"consent-error\""));
    let end = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let r = submit(
        &app,
        &pt,
        "/me/consents",
        &[
            ("csrf", &csrf_of(&mine)),
            ("grantee", &format!("institution:{h1}")),
            ("ends_on", &end),
        ],
    )
    .await;
    assert_eq!(r.url().path(), "/me/record");
    let mine = r.text().await.unwrap();
    assert!(between(&mine, "id=\"consents\"", "</section>").contains("生效中"));

    let (status, seen) = page(&app, &sp, &record).await;
    assert_eq!(status, StatusCode::OK);
    assert!(seen.contains("居民授权") && seen.contains("家庭访视：血压复测"));
    let (_, mine) = page(&app, &pt, "/me/record").await;
    let log = between(&mine, "id=\"access-log\"", "</section>");
    assert!(log.contains("H1机构") && log.contains("居民授权"), "{log}");

    // Revoked: the specialist is refused at once.
    let revoke = mine
        .split("action=\"/me/consents/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a revoke form")
        .to_string();
    let r = submit(
        &app,
        &pt,
        &format!("/me/consents/{revoke}"),
        &[("csrf", &csrf_of(&mine))],
    )
    .await;
    assert!(between(&r.text().await.unwrap(), "id=\"consents\"", "</section>").contains("已撤销"));
    assert_eq!(page(&app, &sp, &record).await.0, StatusCode::FORBIDDEN);
    // Clinicians have no /me/record; residents cannot open another resident's record page.
    assert_eq!(page(&app, &vd, "/me/record").await.0, StatusCode::FORBIDDEN);
}
