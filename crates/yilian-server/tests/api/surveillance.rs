//! 监测预警 through the API, on both backends: counts in (bad rows refused
//! and nothing stored unless told to skip, CSV too), case reports, the run
//! raising signals once, the workflow with its event, and who may do what.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    bad_count_rows_are_refused_by_row_and_change_nothing_unless_skipped,
    a_csv_import_behaves_like_the_json_one,
    a_spike_over_five_quiet_years_raises_signals_once,
    a_signal_is_verified_confirmed_into_an_event_with_its_cases,
    web_cdc_runs_sees_the_map_and_the_threshold_and_confirms_an_event,
);

fn today() -> chrono::NaiveDate {
    yilian_server::state::today()
}

fn row(date: &str, town: &str, channel: &str, code: &str, count: i64) -> Value {
    json!({"date": date, "township_code": town, "channel": channel, "code": code, "count": count})
}

async fn stored(app: &TestApp) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    yilian_store::sql::Sql::new("SELECT COUNT(*) FROM surveillance_counts")
        .scalar_i64(&mut c)
        .await
        .unwrap()
}

async fn bad_count_rows_are_refused_by_row_and_change_nothing_unless_skipped(app: TestApp) {
    let cdc = app.login("cdc").await;
    let d = today().to_string();
    let tomorrow = (today() + Duration::days(1)).to_string();
    let rows = json!([
        row(&d, TOWN_A, "outpatient", "ili", 4),
        row(&d, TOWN_A, "outpatient", "ili", -1),
        row(&tomorrow, TOWN_A, "outpatient", "ili", 2),
        row(&d, "140599999", "outpatient", "ili", 2),
        row(&d, TOWN_A, "outpatient", "plague_like", 2),
        row(&d, TOWN_B, "pharmacy", "antipyretic", 30),
    ]);
    let body = assert_error(
        app.post(&cdc, "/api/v1/surveillance/counts", &rows).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rows",
    )
    .await;
    let zh = body["message_zh"].as_str().unwrap();
    for n in ["第 2 行", "第 3 行", "第 4 行", "第 5 行"] {
        assert!(zh.contains(n), "{zh}");
    }
    assert!(!zh.contains("第 1 行") && !zh.contains("第 6 行"), "{zh}");
    assert_eq!(stored(&app).await, 0, "nothing stored");
    let r: Value = app
        .post(&cdc, "/api/v1/surveillance/counts?skip_invalid=true", &rows)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["accepted"], 2);
    let codes: Vec<&str> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "invalid_count",
            "future_date",
            "unknown_township",
            "unknown_code"
        ]
    );
    assert_eq!(stored(&app).await, 2);
    // Resubmitting a day corrects it (no duplicate).
    app.post(
        &cdc,
        "/api/v1/surveillance/counts",
        &json!([row(&d, TOWN_A, "outpatient", "ili", 5)]),
    )
    .await;
    assert_eq!(stored(&app).await, 2);
    // A village doctor reports only for their own township; the insurer not at all.
    let vd = app.login("vd_a1").await;
    let other = app
        .post(
            &vd,
            "/api/v1/surveillance/counts",
            &json!([row(&d, TOWN_B, "outpatient", "ili", 1)]),
        )
        .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ins = app.login("insurer").await;
    assert_eq!(
        app.post(
            &ins,
            "/api/v1/surveillance/counts",
            &json!([row(&d, TOWN_A, "outpatient", "ili", 1)])
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
}

async fn a_csv_import_behaves_like_the_json_one(app: TestApp) {
    let cdc = app.login("cdc").await;
    let d = today().to_string();
    let csv = format!(
        "\u{feff}date,township_code,channel,code,count\n{d},{TOWN_A},school_absence,fever,12\n{d},{TOWN_A},school_absence,fever,abc\n{d},{TOWN_B},case_report,hfmd,3\n"
    );
    let post = |q: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/surveillance/counts.csv{q}")))
            .bearer_auth(&cdc)
            .header("content-type", "text/csv")
            .body(csv.clone())
            .send()
    };
    let r = post("").await.unwrap();
    let body = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows").await;
    assert!(
        body["message_zh"].as_str().unwrap().contains("第 2 行"),
        "{body}"
    );
    assert_eq!(stored(&app).await, 0);
    let r: Value = post("?skip_invalid=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["accepted"], 2);
    assert_eq!(r["rejected"][0]["row"], 2);
    assert_eq!(r["rejected"][0]["code"], "malformed_row");
}

/// Five years and a bit of 2 ILI visits a day at township A, then `spike`
/// today.
async fn quiet_years_then(app: &TestApp, token: &str, spike: i64) {
    let t = today();
    let start = t - Duration::days(366 * 5 + 40);
    let mut rows = Vec::new();
    let mut d = start;
    while d < t {
        rows.push(row(
            &d.to_string(),
            TOWN_A,
            "outpatient",
            "ili",
            2 + i64::from(d.format("%u").to_string() == "1"),
        ));
        d += Duration::days(1);
    }
    rows.push(row(&t.to_string(), TOWN_A, "outpatient", "ili", spike));
    for chunk in rows.chunks(1000) {
        let r = app
            .post(token, "/api/v1/surveillance/counts", &json!(chunk))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

async fn a_spike_over_five_quiet_years_raises_signals_once(app: TestApp) {
    let cdc = app.login("cdc").await;
    quiet_years_then(&app, &cdc, 25).await;
    let run: Value = app
        .post(&cdc, "/api/v1/surveillance/run", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["series"], 1);
    assert!(run["raised"].as_i64().unwrap() >= 3, "{run}");
    let list: Value = app
        .get(&cdc, "/api/v1/surveillance/signals?state=raised")
        .await
        .json()
        .await
        .unwrap();
    let algos: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["algorithm"].as_str().unwrap())
        .collect();
    for a in ["ears_c1", "ears_c2", "percentile"] {
        assert!(algos.contains(&a), "{algos:?}");
    }
    let c1 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["algorithm"] == "ears_c1")
        .unwrap();
    assert_eq!(c1["observed"], 25.0);
    assert!(c1["threshold"].as_f64().unwrap() < 25.0 && c1["threshold"].as_f64().unwrap() > 2.0);
    assert_eq!(c1["township_code"], TOWN_A);
    // A re-run raises nothing twice.
    let again: Value = app
        .post(&cdc, "/api/v1/surveillance/run", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["raised"], 0);
    // The day before the spike was quiet: nothing for it.
    let yesterday = (today() - Duration::days(1)).to_string();
    let quiet: Value = app
        .post(
            &cdc,
            &format!("/api/v1/surveillance/run?date={yesterday}"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quiet["raised"], 0, "{quiet}");
    let future = (today() + Duration::days(1)).to_string();
    assert_error(
        app.post(
            &cdc,
            &format!("/api/v1/surveillance/run?date={future}"),
            &json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "future_date",
    )
    .await;
    // The health commission reads signals; a clinician does not run them.
    let hc = app.login("hc_main").await;
    assert_eq!(
        app.get(&hc, "/api/v1/surveillance/signals").await.status(),
        StatusCode::OK
    );
    let cl = app.login("clinician_a").await;
    assert_eq!(
        app.post(&cl, "/api/v1/surveillance/run", &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

async fn a_signal_is_verified_confirmed_into_an_event_with_its_cases(app: TestApp) {
    let cdc = app.login("cdc").await;
    quiet_years_then(&app, &cdc, 25).await;
    let d = today().to_string();
    let cases: Vec<Value> = (0..3)
        .map(|i| json!({"disease": "influenza", "onset_date": d, "township_code": TOWN_A, "address": format!("东庄村{i}组")}))
        .collect();
    let r = app
        .post(&cdc, "/api/v1/surveillance/case-reports", &json!(cases))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bad = app
        .post(
            &cdc,
            "/api/v1/surveillance/case-reports",
            &json!([{"disease": "dragon_pox", "onset_date": d, "township_code": TOWN_A}]),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.post(&cdc, "/api/v1/surveillance/run", &json!({})).await;
    let list: Value = app
        .get(&cdc, "/api/v1/surveillance/signals")
        .await
        .json()
        .await
        .unwrap();
    let s = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["algorithm"] == "ears_c2")
        .unwrap()
        .clone();
    let id = s["id"].as_i64().unwrap();
    let to = |state: &str, note: &str| json!({"to": state, "note": note});
    let path = format!("/api/v1/surveillance/signals/{id}/state");
    assert_error(
        app.post(&cdc, &path, &to("confirmed", "")).await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    let hc = app.login("hc_main").await;
    assert_eq!(
        app.post(&hc, &path, &to("verifying", "")).await.status(),
        StatusCode::FORBIDDEN
    );
    let v: Value = app
        .post(&cdc, &path, &to("verifying", "电话核实中"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "verifying");
    assert!(v["verifying_at"].as_str().is_some() && v["verifying_by"].as_i64().is_some());
    let c: Value = app
        .post(&cdc, &path, &to("confirmed", "现场流调确认聚集性疫情"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["state"], "confirmed");
    let event_id = c["event_id"].as_i64().unwrap();
    let e: Value = app
        .get(&cdc, &format!("/api/v1/surveillance/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["signal"]["id"], id);
    assert_eq!(e["cases"].as_array().unwrap().len(), 3, "{e}");
    assert!(e["event"]["title"].as_str().unwrap().contains("流感样病例"));
    assert_error(
        app.post(&cdc, &path, &to("dismissed", "误报")).await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    // Dismissing another needs a reason.
    let other = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["algorithm"] == "ears_c1")
        .unwrap();
    let p2 = format!("/api/v1/surveillance/signals/{}/state", other["id"]);
    assert_eq!(
        app.post(&cdc, &p2, &to("dismissed", "")).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let dm: Value = app
        .post(&cdc, &p2, &to("dismissed", "同一聚集已立事件"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dm["state"], "dismissed");
}

async fn web_cdc_runs_sees_the_map_and_the_threshold_and_confirms_an_event(app: TestApp) {
    let cdc = app.login("cdc").await;
    quiet_years_then(&app, &cdc, 25).await;
    let d = today().to_string();
    app.post(&cdc, "/api/v1/surveillance/case-reports", &json!([{"disease": "influenza", "onset_date": d, "township_code": TOWN_A, "address": "东庄村一组"}]))
        .await;
    let web = browser(&app, "cdc").await;
    let (status, dash) = page(&app, &web, "/surveillance").await;
    assert_eq!(status, StatusCode::OK);
    assert!(dash.contains("运行预警") && dash.contains("signal-map"));
    let r = submit(
        &app,
        &web,
        "/surveillance/run",
        &[("csrf", &csrf_of(&dash)), ("date", &d)],
    )
    .await;
    let dash = r.text().await.unwrap();
    assert!(
        dash.contains("流感样病例") && dash.contains("EARS C2"),
        "{dash}"
    );
    let list: Value = app
        .get(&cdc, "/api/v1/surveillance/signals")
        .await
        .json()
        .await
        .unwrap();
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["algorithm"] == "ears_c2")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, sig) = page(&app, &web, &format!("/surveillance/signals/{id}")).await;
    assert!(
        sig.contains("series-chart") && sig.contains("\"threshold\":["),
        "{sig}"
    );
    assert!(sig.contains("开始核实"));
    let r = submit(
        &app,
        &web,
        &format!("/surveillance/signals/{id}/verifying"),
        &[("csrf", &csrf_of(&sig)), ("note", "")],
    )
    .await;
    let shown = r.text().await.unwrap();
    assert!(shown.contains("核实中") && shown.contains("确认为事件"));
    let r = submit(
        &app,
        &web,
        &format!("/surveillance/signals/{id}/confirmed"),
        &[("csrf", &csrf_of(&shown)), ("note", "流调确认")],
    )
    .await;
    let event = r.text().await.unwrap();
    assert!(
        event.contains("关联病例报告") && event.contains("东庄村一组"),
        "{event}"
    );
    let ins = browser(&app, "insurer").await;
    assert_eq!(
        page(&app, &ins, "/surveillance").await.0,
        StatusCode::FORBIDDEN
    );
}
