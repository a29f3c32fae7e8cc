//! The 医保 pages through browser-like clients, on both backends: the
//! insurer's dashboard with its burn-down chart, the claims list with the
//! rules, review by form, the settlement report as CSV and Excel, and the
//! resident's own claims.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(web_insurer_reviews_claims_settles_and_exports_and_the_resident_sees_what_they_paid);

async fn web_insurer_reviews_claims_settles_and_exports_and_the_resident_sees_what_they_paid(
    app: TestApp,
) {
    let cons = county_consortium(&app, &[]).await;
    let admin = app.login("admin").await;
    let vd = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1957, 7, 7), 51, "医保网页居民", "14500000051");
    let id_number = body["id_number"].as_str().unwrap().to_string();
    let rid = app.register(&vd, body).await["id"].as_i64().unwrap();
    app.post(&admin, "/api/v1/users", &json!({"username": "web_ins_pt", "password": PASSWORD, "role": "resident", "scope": id_number}))
        .await;
    let sp = app.login("specialist").await;
    let claim: Value = app
        .post(&sp, "/api/v1/claims", &json!({"resident_id": rid, "service_date": "2025-03-10", "setting": "inpatient",
            "items": [{"category": "beds", "amount_fen": 100_000}, {"category": "drugs", "amount_fen": 200_000}]}))
        .await
        .json()
        .await
        .unwrap();
    let id = claim["id"].as_i64().unwrap();

    // The insurer reviews the claim on its page: check, then valuate.
    let ins = browser(&app, "insurer").await;
    let (status, list) = page(&app, &ins, "/insurance/claims").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("医保网页居民") && list.contains("3000.00") && list.contains("2000.00"),
        "{list}"
    );
    assert!(
        !list.contains(&id_number),
        "identity numbers are masked in the list"
    );
    let (_, detail) = page(&app, &ins, &format!("/insurance/claims/{id}")).await;
    assert!(
        detail.contains("data-rule=\"deductible\"") && detail.contains("起付线"),
        "{detail}"
    );
    let r = submit(
        &app,
        &ins,
        &format!("/insurance/claims/{id}/check"),
        &[("csrf", &csrf_of(&detail))],
    )
    .await;
    let shown = r.text().await.unwrap();
    assert!(shown.contains("已审核") && shown.contains("核定支付"));
    let r = submit(
        &app,
        &ins,
        &format!("/insurance/claims/{id}/valuate"),
        &[("csrf", &csrf_of(&shown))],
    )
    .await;
    assert!(r.text().await.unwrap().contains("已核定"));

    // The dashboard: the 2025 position, its chart, and the settlement.
    let (status, dash) = page(&app, &ins, "/insurance?year=2025").await;
    assert_eq!(status, StatusCode::OK);
    let pos = between(&dash, &format!("id=\"position-{}\"", cons), "</section>");
    assert!(
        pos.contains("2000.00 元") && pos.contains(">0.20<"),
        "spent shown: {pos}"
    );
    assert!(dash.contains("echarts.min.js") && dash.contains(&format!("chart-{}", cons)));
    let r = submit(
        &app,
        &ins,
        "/insurance/settle",
        &[
            ("csrf", &csrf_of(&dash)),
            ("consortium_id", &cons.to_string()),
            ("year", "2025"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after = r.text().await.unwrap();
    assert!(
        after.contains("已清算") && after.contains("结余留用"),
        "{after}"
    );

    // The settlement report as CSV and as Excel.
    let csv = ins
        .get(app.url("/insurance/settlement/2025.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = csv.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "a BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("类别,名称,参保人数,预算（元）")
    );
    assert!(
        text.contains("医共体,青禾县医共体") && text.contains(",2000.00,"),
        "{text}"
    );
    assert!(text.contains("已清算") && text.contains("结余分配"));
    let xlsx = ins
        .get(app.url("/insurance/settlement/2025.xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert!(
        xlsx.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    assert_eq!(
        &xlsx.bytes().await.unwrap()[..2],
        b"PK",
        "an Office Open XML zip"
    );
    assert_eq!(
        page(&app, &ins, "/insurance/settlement/2025.pdf").await.0,
        StatusCode::NOT_FOUND
    );

    // Others: a clinician has no dashboard; the resident sees what they paid and why.
    let cl = browser(&app, "clinician_a").await;
    assert_eq!(page(&app, &cl, "/insurance").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        page(&app, &cl, "/insurance/settlement/2025.csv").await.0,
        StatusCode::FORBIDDEN
    );
    let pt = browser(&app, "web_ins_pt").await;
    let (_, me) = page(&app, &pt, "/me").await;
    assert!(me.contains("href=\"/me/claims\""));
    let (status, mine) = page(&app, &pt, "/me/claims").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        between(&mine, "id=\"paid-total\"", "</dd>").contains("1000.00"),
        "{mine}"
    );
    assert!(mine.contains("起付线"));
    let (status, own) = page(&app, &pt, &format!("/insurance/claims/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(own.contains("为什么是这个金额") && !own.contains("核定支付"));
}
