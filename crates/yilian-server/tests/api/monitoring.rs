//! 监测评估 through the API, on both backends: tiered-care indicators on a
//! hand-built county and the drill-down behind them, the shipped plans and
//! a planning figure worked by hand, refused plan files, reported
//! statistics, accessibility on a toy road network, the consortium
//! evaluation, and who may see what.
//!
//! The fixture county (helpers.rs): 青禾县 140599 with 桃源镇 TOWN_A (center
//! WA, village clinics VA1 in VILLAGE_A1 and VA2 in VILLAGE_A2) and 柳溪乡
//! TOWN_B (center WB, clinic VB1 in VILLAGE_B1); the county general hospital
//! H1; the tertiary hospital T3 in the city 140500, outside the county.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use yilian_store::monitoring::{RoadEdgeRow, RoadNodeRow, put_roads};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    tiered_indicators_of_a_hand_built_county,
    drill_down_totals_equal_the_figures_and_page,
    shipped_plans_and_a_planning_figure_by_hand,
    a_bad_plan_file_is_refused_naming_file_line_and_field,
    statistics_are_stored_whole_or_not_at_all,
    accessibility_follows_shortest_road_paths,
    evaluation_scores_and_ranks_the_consortia,
    monitoring_is_for_oversight_roles_in_their_own_county,
);

const SEED_A: &str = include_str!("../../../../config/plans/seed002-a.toml");
const SEED_B: &str = include_str!("../../../../config/plans/seed002-b.toml");

fn year() -> i32 {
    chrono::Datelike::year(&yilian_server::state::today())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[track_caller]
fn assert_close(actual: &Value, expected: f64, what: &str) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {actual}"));
    assert!(close(a, expected), "{what}: {a} ≠ {expected}");
}

/// The body of an answer with the expected status.
async fn expect(r: Response, status: StatusCode) -> Value {
    let actual = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn ok(r: Response) -> Value {
    expect(r, StatusCode::OK).await
}

async fn created(r: Response) -> Value {
    expect(r, StatusCode::CREATED).await
}

/// Creates a login as the administrator.
async fn add_user(app: &TestApp, username: &str, role: &str, scope: &Value) {
    let admin = app.login("admin").await;
    let u = json!({"username": username, "password": PASSWORD, "role": role, "scope": scope});
    created(app.post(&admin, "/api/v1/users", &u).await).await;
}

async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    ok(app.get(token, path).await).await
}

async fn institution_id(app: &TestApp, code: &str) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    yilian_store::registry::get_institution_by_code(&mut c, code)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Edits a registry row through the API as the health commission: reads it,
/// lets `edit` change it and puts it back with its version.
async fn edit(app: &TestApp, hc: &str, path: &str, edit: impl FnOnce(&mut Value)) {
    let mut row = get_ok(app, hc, path).await;
    edit(&mut row);
    ok(app.put(hc, path, &row).await).await;
}

async fn set_population(app: &TestApp, hc: &str, region: &str, population: i64) {
    edit(app, hc, &format!("/api/v1/regions/{region}"), |r| {
        r["population"] = json!(population)
    })
    .await;
}

async fn set_institution(app: &TestApp, hc: &str, code: &str, fields: Value) {
    let id = institution_id(app, code).await;
    edit(app, hc, &format!("/api/v1/institutions/{id}"), |r| {
        for (k, v) in fields.as_object().unwrap() {
            r[k] = v.clone();
        }
    })
    .await;
}

/// One scope's row of a tiered report.
fn scope_row<'a>(report: &'a Value, kind: &str, id: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"]["kind"] == kind && r["scope"]["id"] == id)
        .unwrap_or_else(|| panic!("no {kind} {id} in {report}"))
}

/// An indicator's value in a tiered row (`values` holds `[code, value]`).
fn tiered_value<'a>(row: &'a Value, code: &str) -> &'a Value {
    row["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v[0] == code)
        .map(|v| &v[1])
        .unwrap_or_else(|| panic!("no {code} in {row}"))
}

/// A planning indicator's row of a plan report.
fn plan_row<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report}"))
}

// ------------------------------------------------------------ the county

/// The hand-built county's activity, and the health commission's token.
struct County {
    hc: String,
    consortium: i64,
    /// 张一 (VILLAGE_A1), 张二 (VILLAGE_A2), 张三 (VILLAGE_B1).
    residents: [i64; 3],
}

async fn encounters(app: &TestApp, token: &str, resident: i64, n: usize) {
    for _ in 0..n {
        let path = format!("/api/v1/residents/{resident}/record");
        let entry = json!({"kind": "encounter", "encounter_type": "outpatient", "title": "门诊"});
        created(app.post(token, &path, &entry).await).await;
    }
}

async fn refer(app: &TestApp, token: &str, body: Value) {
    created(app.post(token, "/api/v1/referrals", &body).await).await;
}

fn up(resident: i64) -> Value {
    json!({"resident_id": resident, "direction": "up", "to_institution_code": "H1", "icd10": "I10",
        "diagnosis": "高血压3级", "reason": "血压控制不佳", "justification": "规范治疗3个月血压仍未达标"})
}

/// The county of the tiered-care tests, built through the API this year:
///
/// - consortium CN1: lead H1, members WA and VA1 (townships: TOWN_A);
/// - residents r1 in VILLAGE_A1, r2 in VILLAGE_A2, r3 in VILLAGE_B1;
/// - encounters — primary: VA1 2 (r1 ×2), WA 3 (r1, r2 ×2), WB 1 (r3);
///   county hospital H1 4 (r1, r2, r3 ×2); outside the county T3 1 (r1);
/// - referrals submitted: up from VA1 (r1) and from WA (r2), down from H1
///   (r1 to WA).
async fn build_county(app: &TestApp) -> County {
    let consortium = county_consortium(app, &["WA", "VA1"]).await;
    add_user(app, "t3_doc", "specialist", &json!("T3")).await;
    let (ca, cb) = (
        app.login("clinician_a").await,
        app.login("clinician_b").await,
    );
    let reg = |t: &str, region: &str, seq: u16, name: &str| {
        let body = resident_body(region, (1960, 5, 1), seq, name, "14500002222");
        let t = t.to_string();
        async move { app.register(&t, body).await["id"].as_i64().unwrap() }
    };
    let r1 = reg(&ca, VILLAGE_A1, 11, "张一").await;
    let r2 = reg(&ca, VILLAGE_A2, 13, "张二").await;
    let r3 = reg(&cb, VILLAGE_B1, 15, "张三").await;
    let vd = app.login("vd_a1").await;
    let specialist = app.login("specialist").await;
    let t3 = app.login("t3_doc").await;
    for (token, resident, n) in [
        (&vd, r1, 2),
        (&ca, r1, 1),
        (&ca, r2, 2),
        (&cb, r3, 1),
        (&specialist, r1, 1),
        (&specialist, r2, 1),
        (&specialist, r3, 2),
        (&t3, r1, 1),
    ] {
        encounters(app, token, resident, n).await;
    }
    refer(app, &vd, up(r1)).await;
    refer(app, &ca, up(r2)).await;
    refer(app, &specialist, json!({"resident_id": r1, "direction": "down", "to_institution_code": "WA", "icd10": "I10",
        "diagnosis": "高血压", "reason": "病情平稳，回基层管理", "summary": "住院7天，血压达标出院", "follow_up_plan": "每月随访血压"}))
    .await;
    County {
        hc: app.login("hc_main").await,
        consortium,
        residents: [r1, r2, r3],
    }
}

async fn tiered_indicators_of_a_hand_built_county(app: TestApp) {
    let k = build_county(&app).await;
    let report = get_ok(&app, &k.hc, "/api/v1/monitoring/tiered").await;
    assert_eq!(report["county"], COUNTY);
    assert_eq!(report["from"], format!("{}-01-01", year()));

    // County: visits at county institutions 2 + 3 + 1 + 4 = 10, of which
    // primary (VA1, WA, WB) 6 ⇒ 60 %. The county's residents made 11 visits
    // (T3's too), 10 of them inside the county ⇒ 10/11 = 90.909…%. Up 2,
    // down 1 ⇒ ratio 0.5.
    let county = scope_row(&report, "county", COUNTY);
    let c = &county["counts"];
    assert_eq!(
        (
            &c["visits"],
            &c["visits_primary"],
            &c["resident_visits"],
            &c["resident_visits_in_county"]
        ),
        (&json!(10), &json!(6), &json!(11), &json!(10))
    );
    assert_close(
        tiered_value(county, "primary_visit_share"),
        60.0,
        "county primary share",
    );
    assert_close(
        tiered_value(county, "in_county_rate"),
        1000.0 / 11.0,
        "county in-county rate",
    );
    assert_close(tiered_value(county, "referrals_up"), 2.0, "county up");
    assert_close(tiered_value(county, "referrals_down"), 1.0, "county down");
    assert_close(tiered_value(county, "down_up_ratio"), 0.5, "county ratio");

    // Consortium CN1 (H1, WA, VA1): visits 4 + 3 + 2 = 9, primary 5 ⇒
    // 55.55…%. Its township is TOWN_A: r1 made 5 visits (VA1 2, WA 1, H1 1,
    // T3 1) and r2 3 (WA 2, H1 1) ⇒ 8, of which 7 in the county ⇒ 87.5 %.
    // Up 2 (VA1, WA), down 1 (H1) ⇒ 0.5.
    let cn = scope_row(&report, "consortium", &k.consortium.to_string());
    assert_eq!(cn["scope"]["name"], "青禾县医共体");
    assert_eq!(
        (&cn["counts"]["visits"], &cn["counts"]["visits_primary"]),
        (&json!(9), &json!(5))
    );
    assert_close(
        tiered_value(cn, "primary_visit_share"),
        500.0 / 9.0,
        "consortium primary share",
    );
    assert_close(
        tiered_value(cn, "in_county_rate"),
        87.5,
        "consortium in-county rate",
    );
    assert_close(tiered_value(cn, "down_up_ratio"), 0.5, "consortium ratio");

    // Institutions: WA 3 visits, all primary ⇒ 100 %; its catchment TOWN_A
    // ⇒ 87.5 %; one up, no down ⇒ 0. H1: 4 visits, none primary ⇒ 0 %; no
    // catchment ⇒ no in-county rate; no up ⇒ no ratio.
    let wa = scope_row(
        &report,
        "institution",
        &institution_id(&app, "WA").await.to_string(),
    );
    assert_close(tiered_value(wa, "primary_visit_share"), 100.0, "WA share");
    assert_close(tiered_value(wa, "in_county_rate"), 87.5, "WA in-county");
    assert_close(tiered_value(wa, "referrals_up"), 1.0, "WA up");
    assert_close(tiered_value(wa, "down_up_ratio"), 0.0, "WA ratio");
    let h1 = scope_row(
        &report,
        "institution",
        &institution_id(&app, "H1").await.to_string(),
    );
    assert_close(tiered_value(h1, "primary_visit_share"), 0.0, "H1 share");
    assert_eq!(tiered_value(h1, "in_county_rate"), &Value::Null);
    assert_eq!(tiered_value(h1, "down_up_ratio"), &Value::Null);
    // Village clinics are counted in the county and consortium, not listed;
    // T3 lies outside the county.
    let listed: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scope"]["kind"] == "institution")
        .map(|r| r["scope"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["H1机构", "WA机构", "WB机构"]);

    // By month: this month holds every visit; the months sum to the year.
    let months = report["months"].as_array().unwrap();
    let this_month = yilian_server::state::today().format("%Y-%m").to_string();
    assert_eq!(months.last().unwrap()[0], this_month.as_str());
    assert_eq!(months.last().unwrap()[1]["visits"], 10);
    let sum: i64 = months
        .iter()
        .map(|m| m[1]["visits"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 10);
    // Last year had nothing.
    let last = get_ok(
        &app,
        &k.hc,
        &format!("/api/v1/monitoring/tiered?year={}", year() - 1),
    )
    .await;
    let county = scope_row(&last, "county", COUNTY);
    assert_eq!(county["counts"]["visits"], 0);
    assert_eq!(tiered_value(county, "primary_visit_share"), &Value::Null);
}

async fn drill(app: &TestApp, token: &str, query: &str) -> Value {
    get_ok(app, token, &format!("/api/v1/monitoring/drill?{query}")).await
}

async fn drill_down_totals_equal_the_figures_and_page(app: TestApp) {
    let k = build_county(&app).await;
    let report = get_ok(&app, &k.hc, "/api/v1/monitoring/tiered").await;
    let cn = k.consortium.to_string();
    let wa = institution_id(&app, "WA").await.to_string();
    // Every (scope, indicator, part) drill totals the count behind it.
    for (kind, id, indicator, part, count) in [
        (
            "county",
            COUNTY,
            "primary_visit_share",
            "numerator",
            "visits_primary",
        ),
        (
            "county",
            COUNTY,
            "primary_visit_share",
            "denominator",
            "visits",
        ),
        (
            "county",
            COUNTY,
            "in_county_rate",
            "numerator",
            "resident_visits_in_county",
        ),
        (
            "county",
            COUNTY,
            "in_county_rate",
            "denominator",
            "resident_visits",
        ),
        (
            "county",
            COUNTY,
            "referrals_up",
            "numerator",
            "referrals_up",
        ),
        (
            "county",
            COUNTY,
            "referrals_down",
            "numerator",
            "referrals_down",
        ),
        (
            "county",
            COUNTY,
            "down_up_ratio",
            "numerator",
            "referrals_down",
        ),
        (
            "county",
            COUNTY,
            "down_up_ratio",
            "denominator",
            "referrals_up",
        ),
        (
            "consortium",
            &cn,
            "primary_visit_share",
            "numerator",
            "visits_primary",
        ),
        (
            "consortium",
            &cn,
            "primary_visit_share",
            "denominator",
            "visits",
        ),
        (
            "consortium",
            &cn,
            "in_county_rate",
            "numerator",
            "resident_visits_in_county",
        ),
        (
            "consortium",
            &cn,
            "in_county_rate",
            "denominator",
            "resident_visits",
        ),
        (
            "institution",
            &wa,
            "primary_visit_share",
            "numerator",
            "visits_primary",
        ),
        (
            "institution",
            &wa,
            "referrals_up",
            "numerator",
            "referrals_up",
        ),
    ] {
        let d = drill(
            &app,
            &k.hc,
            &format!("kind={kind}&id={id}&indicator={indicator}&part={part}"),
        )
        .await;
        let expected = &scope_row(&report, kind, id)["counts"][count];
        assert_eq!(&d["total"], expected, "{kind} {id} {indicator} {part}");
        assert_eq!(
            d["rows"].as_array().unwrap().len() as i64,
            expected.as_i64().unwrap(),
            "one page holds them all: {kind} {indicator} {part}"
        );
    }
    // By hand: the county's primary visits are 6, its up-referrals 2, and
    // the denominator of the in-county rate is the residents' 11 visits (T3's
    // included, at the institution outside the county).
    let q = |rest: &str| format!("kind=county&id={COUNTY}&{rest}");
    let primary = drill(&app, &k.hc, &q("indicator=primary_visit_share")).await;
    assert_eq!(primary["total"], 6, "part defaults to the numerator");
    let ups = drill(&app, &k.hc, &q("indicator=referrals_up")).await;
    assert_eq!(ups["total"], 2);
    let ups: Vec<(&str, i64)> = ups["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["resident_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ups.len(), 2);
    assert!(ups.iter().all(|(state, _)| *state == "submitted"));
    let mut who: Vec<i64> = ups.iter().map(|u| u.1).collect();
    who.sort_unstable();
    assert_eq!(who, [k.residents[0], k.residents[1]]);
    let all = drill(&app, &k.hc, &q("indicator=in_county_rate&part=denominator")).await;
    assert_eq!(all["total"], 11);
    assert!(
        all["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["institution_name"] == "T3机构"),
        "the visit outside the county is behind the denominator"
    );
    // Rows name where and whose, never clinical content.
    let row = &primary["rows"][0];
    assert_eq!(row["label"], "outpatient");
    assert!(
        row.get("title").is_none() && row.get("body").is_none(),
        "{row}"
    );
    // Paging: 4 then the other 2, newest first, no row twice.
    let p1 = drill(&app, &k.hc, &q("indicator=primary_visit_share&limit=4")).await;
    let p2 = drill(
        &app,
        &k.hc,
        &q("indicator=primary_visit_share&limit=4&offset=4"),
    )
    .await;
    assert_eq!((&p1["total"], &p2["total"]), (&json!(6), &json!(6)));
    let ids = |p: &Value| -> Vec<i64> {
        p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (a, b) = (ids(&p1), ids(&p2));
    assert_eq!((a.len(), b.len()), (4, 2));
    let mut every: Vec<i64> = a.iter().chain(&b).copied().collect();
    let whole = ids(&primary);
    assert_eq!(every, whole, "the pages are the whole list in order");
    every.sort_unstable();
    every.dedup();
    assert_eq!(every.len(), 6);
    // An unknown scope is 404; an unknown indicator or part is 422.
    assert_error(
        app.get(
            &k.hc,
            "/api/v1/monitoring/drill?kind=county&id=140598&indicator=referrals_up",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for rest in ["indicator=visits", "indicator=referrals_up&part=half"] {
        assert_error(
            app.get(&k.hc, &format!("/api/v1/monitoring/drill?{}", q(rest)))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
    }
}

// ------------------------------------------------------------------ plans

/// The `code`s of a plan file's `[[indicator]]` rows, in order.
fn file_codes(text: &str) -> Vec<String> {
    let rows = text.lines().filter(|l| l.trim() == "[[indicator]]").count();
    let codes: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("code = \""))
        .map(|c| c.trim_end_matches('"').to_string())
        .collect();
    assert_eq!(codes.len(), rows, "one code per [[indicator]]");
    codes
}

/// The county's registry for the planning figures: 20 000 residents; beds
/// H1 150 general + 10 ICU, WA 30, WB 10; WA has a fever clinic, WB none.
async fn plan_county(app: &TestApp) -> String {
    let hc = app.login("hc_main").await;
    set_population(app, &hc, COUNTY, 20_000).await;
    for (code, fields) in [
        ("H1", json!({"beds": {"general": 150, "icu": 10}})),
        (
            "WA",
            json!({"beds": {"general": 30}, "services": ["fever_clinic"]}),
        ),
        ("WB", json!({"beds": {"general": 10}})),
    ] {
        set_institution(app, &hc, code, fields).await;
    }
    hc
}

async fn shipped_plans_and_a_planning_figure_by_hand(app: TestApp) {
    let hc = plan_county(&app).await;
    // Every [[indicator]] of each shipped file is a row, in the file's order.
    for (plan, text) in [(0, SEED_A), (1, SEED_B)] {
        let report = get_ok(&app, &hc, &format!("/api/v1/monitoring/plan?plan={plan}")).await;
        let codes: Vec<&str> = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, file_codes(text), "plan {plan}");
        assert_eq!(codes.len(), 21);
        assert_eq!(
            (&report["region_code"], &report["population"]),
            (&json!(COUNTY), &json!(20_000))
        );
    }
    assert_error(
        app.get(&hc, "/api/v1/monitoring/plan?plan=2").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let report = get_ok(&app, &hc, "/api/v1/monitoring/plan?plan=0").await;
    // Beds: 160 + 30 + 10 = 200 (T3 is the city's) for 20 000 residents ⇒
    // 200 × 1000 / 20 000 = 10.0 per 1000, at or above the target 8.5.
    let beds = plan_row(&report, "beds_per_1000");
    assert_close(&beds["actual"], 10.0, "beds per 1000");
    assert_close(&beds["numerator"], 200.0, "beds");
    assert_close(&beds["denominator"], 20_000.0, "population");
    assert_eq!(
        (&beds["status"], &beds["alarm"]),
        (&json!("met"), &json!(false))
    );
    // Fever clinics: WA has one, WB not ⇒ 1 of 2 = 50 % against a binding
    // 100 % (no baseline, so never on track): behind, an alarm.
    let fever = plan_row(&report, "fever_clinic_share");
    assert_close(&fever["actual"], 50.0, "fever clinic share");
    assert_eq!(
        (&fever["nature"], &fever["status"], &fever["alarm"]),
        (&json!("binding"), &json!("behind"), &json!(true))
    );
    let alarms = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["alarm"] == true)
        .count();
    assert_eq!(report["alarms"], alarms);
    // The parts behind the beds figure add up to it.
    let parts = get_ok(&app, &hc, "/api/v1/monitoring/plan/beds_per_1000").await;
    assert_close(&parts["value"], 10.0, "beds per 1000");
    let lines: Vec<(&str, f64, f64)> = parts["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["label"].as_str().unwrap(),
                p["numerator"].as_f64().unwrap(),
                p["denominator"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("H1机构", 160.0, 0.0),
            ("WA机构", 30.0, 0.0),
            ("WB机构", 10.0, 0.0),
            ("常住人口", 0.0, 20_000.0)
        ]
    );
    let sum: f64 = lines.iter().map(|l| l.1).sum();
    assert_close(&parts["numerator"], sum, "parts sum to the numerator");
    assert_error(
        app.get(&hc, "/api/v1/monitoring/plan/beds_per_100").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    // With WB's fever clinic the binding target is met and the alarm goes.
    set_institution(&app, &hc, "WB", json!({"services": ["fever_clinic"]})).await;
    let report = get_ok(&app, &hc, "/api/v1/monitoring/plan?plan=0").await;
    let fever = plan_row(&report, "fever_clinic_share");
    assert_close(&fever["actual"], 100.0, "fever clinic share");
    assert_eq!(
        (&fever["status"], &fever["alarm"]),
        (&json!("met"), &json!(false))
    );
}

/// One plan row; `edit` changes its text. Line numbers of the posted file:
/// 1 name, 2 source, 3 blank, 4 `[[indicator]]`, 5 code, 6 name, 7 unit,
/// 8 baseline_year, 9 baseline, 10 target_year, 11 target, 12 direction,
/// 13 nature.
fn plan_text(edit: impl FnOnce(String) -> String) -> String {
    let row = "[[indicator]]\ncode = \"beds_per_1000\"\nname = \"每千人口床位数\"\nunit = \"per_1000\"\n\
               baseline_year = 2025\nbaseline = 6.0\ntarget_year = 2030\ntarget = 8.5\n\
               direction = \">=\"\nnature = \"expected\"\n";
    format!(
        "name = \"我的规划\"\nsource = \"测试\"\n\n{}",
        edit(row.to_string())
    )
}

async fn post_plan(app: &TestApp, token: &str, text: String) -> Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/monitoring/plan?name=myplan.toml"))
        .bearer_auth(token)
        .header("content-type", "text/plain; charset=utf-8")
        .body(text)
        .send()
        .await
        .unwrap()
}

async fn a_bad_plan_file_is_refused_naming_file_line_and_field(app: TestApp) {
    let hc = plan_county(&app).await;
    // The good file evaluates: beds 10.0 per 1000 against 8.5 (see above).
    let good = ok(post_plan(&app, &hc, plan_text(|r| r)).await).await;
    assert_eq!(good["plan"], "我的规划");
    assert_eq!(good["rows"].as_array().unwrap().len(), 1);
    assert_close(&good["rows"][0]["actual"], 10.0, "posted plan");
    for (what, text, line, field) in [
        (
            "unknown code",
            plan_text(|r| r.replace("\"beds_per_1000\"", "\"beds_per_100\"")),
            5,
            "code",
        ),
        (
            "unit of another indicator",
            plan_text(|r| r.replace("\"per_1000\"", "\"percent\"")),
            7,
            "unit",
        ),
        (
            "missing nature",
            plan_text(|r| r.replace("nature = \"expected\"\n", "")),
            4,
            "nature",
        ),
    ] {
        let e = assert_error(
            post_plan(&app, &hc, text).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plan",
        )
        .await;
        let (zh, en) = (
            e["message_zh"].as_str().unwrap(),
            e["message_en"].as_str().unwrap(),
        );
        assert!(
            en.starts_with(&format!("myplan.toml line {line} field {field}:")),
            "{what}: {en}"
        );
        assert!(
            zh.starts_with(&format!("myplan.toml 第{line}行 字段 {field}")),
            "{what}: {zh}"
        );
    }
    // Refused files are not kept: the shipped plan still answers as before.
    let report = get_ok(&app, &hc, "/api/v1/monitoring/plan?plan=0").await;
    assert_eq!(report["rows"].as_array().unwrap().len(), 21);
    // Only oversight roles evaluate plans.
    let vd = app.login("vd_a1").await;
    assert_error(
        post_plan(&app, &vd, plan_text(|r| r)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

// ------------------------------------------------------------- statistics

fn stat(region: &str, key: &str, value: f64) -> Value {
    json!({"region_code": region, "year": year(), "key": key, "value": value})
}

async fn put_stats(app: &TestApp, token: &str, rows: &[Value]) -> Response {
    app.put(token, "/api/v1/monitoring/statistics", &json!(rows))
        .await
}

async fn statistics_are_stored_whole_or_not_at_all(app: TestApp) {
    let hc = plan_county(&app).await;
    let plan = || get_ok(&app, &hc, "/api/v1/monitoring/plan?plan=0");
    let before = plan().await;
    assert_close(
        &plan_row(&before, "childcare_per_1000")["actual"],
        0.0,
        "no places yet",
    );
    assert_eq!(plan_row(&before, "life_expectancy")["actual"], Value::Null);
    // Childcare places per township, and two age bands for the county.
    let good = [
        stat(TOWN_A, "childcare_places", 60.0),
        stat(TOWN_B, "childcare_places", 40.0),
        stat(COUNTY, "population_0", 1000.0),
        stat(COUNTY, "deaths_0", 10.0),
        stat(COUNTY, "population_1", 9000.0),
        stat(COUNTY, "deaths_1", 150.0),
    ];
    assert_eq!(ok(put_stats(&app, &hc, &good).await).await, 6);
    let after = plan().await;
    // (60 + 40) places × 1000 / 20 000 residents = 5.0.
    assert_close(
        &plan_row(&after, "childcare_per_1000")["actual"],
        5.0,
        "childcare",
    );
    // Chiang's table with bands 0 and 1+: m₀ = 10/1000, q₀ = m₀/(1 + 0.9·m₀)
    // = 0.0099108; d₀ = 991.080; L₀ = 100 000 − 0.9·d₀ = 99 108.028;
    // l₁ = 99 008.920, m₁ = 150/9000, L₁ = l₁/m₁ = 5 940 535.183;
    // e₀ = (L₀ + L₁)/100 000 = 60.396432.
    assert_close(
        &plan_row(&after, "life_expectancy")["actual"],
        60.396_432_111_001,
        "life expectancy",
    );
    // One bad row refuses the batch: deaths above the band's population,
    // deaths above the population stored before, an unknown key, a region
    // outside the area. TOWN_A's correction in the same batch is not kept.
    for bad in [
        stat(COUNTY, "deaths_0", 1001.0),
        stat(COUNTY, "deaths_1", 9001.0),
        stat(COUNTY, "births_0", 5.0),
        stat("140598", "childcare_places", 5.0),
    ] {
        let rows = [stat(TOWN_A, "childcare_places", 90.0), bad.clone()];
        let r = put_stats(&app, &hc, &rows).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "invalid_field", "{bad}");
        let key = bad["key"].as_str().unwrap();
        if key != "childcare_places" {
            assert!(e["message_en"].as_str().unwrap().contains(key), "{e}");
        }
    }
    let unchanged = plan().await;
    assert_close(
        &plan_row(&unchanged, "childcare_per_1000")["actual"],
        5.0,
        "unchanged",
    );
    assert_close(
        &plan_row(&unchanged, "life_expectancy")["actual"],
        60.396_432_111_001,
        "unchanged",
    );
    // A correction alone replaces the figure: (90 + 40) × 1000 / 20 000 = 6.5.
    assert_eq!(
        ok(put_stats(&app, &hc, &[stat(TOWN_A, "childcare_places", 90.0)]).await).await,
        1
    );
    let corrected = plan().await;
    assert_close(
        &plan_row(&corrected, "childcare_per_1000")["actual"],
        6.5,
        "corrected",
    );
    // Reading is not writing: the insurer may read monitoring, not report.
    let insurer = app.login("insurer").await;
    assert_error(
        put_stats(&app, &insurer, &[stat(TOWN_A, "childcare_places", 1.0)]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

// ---------------------------------------------------------- accessibility

fn node(id: i64, region: &str) -> RoadNodeRow {
    RoadNodeRow {
        id,
        region_code: region.into(),
        lon: 112.8,
        lat: 35.5,
    }
}

fn road(from_node: i64, to_node: i64, minutes: f64) -> RoadEdgeRow {
    RoadEdgeRow {
        from_node,
        to_node,
        km: minutes / 2.0,
        minutes,
        class: "county_road".into(),
    }
}

async fn accessibility_follows_shortest_road_paths(app: TestApp) {
    // Seats: county 10, TOWN_A 20 (center WA), TOWN_B 30 (center WB);
    // villages A1 21, A2 22, B1 31. A2 has a 50-minute direct road to its
    // town, but the way through A1 takes 10 + 30 = 40.
    //
    //   A1(21) ─10─ TOWN_A(20) ─20─ county(10) ─25─ TOWN_B(30) ─20─ B1(31)
    //     └───30─── A2(22) ───50───┘
    {
        let mut tx = app.db.store.write().await.unwrap();
        put_roads(
            &mut tx,
            &[
                node(10, COUNTY),
                node(20, TOWN_A),
                node(21, VILLAGE_A1),
                node(22, VILLAGE_A2),
                node(30, TOWN_B),
                node(31, VILLAGE_B1),
            ],
            &[
                road(20, 21, 10.0),
                road(20, 22, 50.0),
                road(21, 22, 30.0),
                road(10, 20, 20.0),
                road(10, 30, 25.0),
                road(30, 31, 20.0),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let hc = app.login("hc_main").await;
    for (village, people) in [(VILLAGE_A1, 600), (VILLAGE_A2, 300), (VILLAGE_B1, 100)] {
        set_population(&app, &hc, village, people).await;
    }
    set_institution(&app, &hc, "WA", json!({"staff": {"licensed_physician": 6}})).await;
    let a = get_ok(&app, &hc, "/api/v1/monitoring/accessibility").await;
    assert_eq!(
        (&a["county"], &a["population"]),
        (&json!(COUNTY), &json!(1000))
    );
    // Nearest center: A1 10, A2 40 (not the 50-minute road), B1 20.
    let minutes: Vec<(&str, f64, f64)> = a["villages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["code"].as_str().unwrap(),
                v["minutes_center"].as_f64().unwrap(),
                v["minutes_primary"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        minutes,
        [
            (VILLAGE_A1, 10.0, 10.0),
            (VILLAGE_A2, 40.0, 40.0),
            (VILLAGE_B1, 20.0, 20.0)
        ]
    );
    // Within 15 minutes: A1's 600 of 1000; within 30: A1 and B1, 700.
    assert_close(&a["within_15_share"], 0.6, "within 15");
    assert_close(&a["within_30_share"], 0.7, "within 30");
    // TOWN_B's villages all lie within 30 minutes, TOWN_A's A2 does not.
    assert_eq!(
        (&a["townships_within_30"], &a["townships"]),
        (&json!(1), &json!(2))
    );
    // 2SFCA, 30-minute catchment: WA's 6 physicians serve the 600 of A1
    // only (A2 is 40, B1 65 minutes away) ⇒ 10 per 1000 at A1, none elsewhere.
    let scores: Vec<f64> = a["villages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["physicians_per_1000"].as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 3);
    assert!(
        close(scores[0], 10.0) && scores[1] == 0.0 && scores[2] == 0.0,
        "{scores:?}"
    );
}

// -------------------------------------------------------------- evaluation

async fn evaluation_scores_and_ranks_the_consortia(app: TestApp) {
    let k = build_county(&app).await;
    // A second county consortium led by WB with VB1.
    let admin = app.login("admin").await;
    let cn2 = json!({"code": "CN2", "name": "柳溪医共体", "kind": "county_consortium", "lead_institution_code": "WB", "region_code": COUNTY});
    let cn2 = created(app.post(&admin, "/api/v1/consortia", &cn2).await).await;
    let members = format!("/api/v1/consortia/{}/members", cn2["id"]);
    let vb1 = json!({"institution_code": "VB1"});
    created(app.post(&admin, &members, &vb1).await).await;
    let e = get_ok(
        &app,
        &k.hc,
        &format!("/api/v1/monitoring/evaluation?year={}", year()),
    )
    .await;
    assert_eq!((&e["county"], &e["year"]), (&json!(COUNTY), &json!(year())));
    let consortia: Vec<(String, f64, i64)> = e["consortia"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["scope"]["name"].as_str().unwrap().to_string(),
                s["total"].as_f64().unwrap(),
                s["rank"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut names: Vec<&str> = consortia.iter().map(|c| c.0.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["柳溪医共体", "青禾县医共体"]);
    for list in ["consortia", "institutions"] {
        let scored: Vec<(f64, i64)> = e[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["total"].as_f64().unwrap(), s["rank"].as_i64().unwrap()))
            .collect();
        assert!(!scored.is_empty(), "{list}");
        assert_eq!(scored[0].1, 1, "{list}: ranks start at 1");
        for (i, (total, rank)) in scored.iter().enumerate() {
            assert!((0.0..=100.0).contains(total), "{list}: {total}");
            assert!(*rank >= 1 && *rank <= i as i64 + 1, "{list}: {scored:?}");
        }
        // In rank order; a better rank never has a lower total, a tie shares it.
        for w in scored.windows(2) {
            assert!(w[0].1 <= w[1].1 && w[0].0 >= w[1].0, "{list}: {scored:?}");
            assert_eq!(
                w[0].1 == w[1].1,
                close(w[0].0, w[1].0),
                "{list}: {scored:?}"
            );
        }
    }
    // Each consortium's sheet is the scorecard's: its total is the sheet's.
    for s in e["consortia"].as_array().unwrap() {
        assert_close(
            &s["sheet"]["total"],
            s["total"].as_f64().unwrap(),
            "sheet total",
        );
    }
}

// ----------------------------------------------------------------- scoping

async fn monitoring_is_for_oversight_roles_in_their_own_county(app: TestApp) {
    let k = build_county(&app).await;
    // 张一 (r1) logs in as a resident.
    let r1 = resident_body(VILLAGE_A1, (1960, 5, 1), 11, "张一", "14500002222");
    add_user(&app, "jumin1", "resident", &r1["id_number"]).await;
    let paths = [
        "/api/v1/monitoring/tiered".to_string(),
        "/api/v1/monitoring/plan".into(),
        "/api/v1/monitoring/plan/beds_per_1000".into(),
        "/api/v1/monitoring/evaluation".into(),
        "/api/v1/monitoring/accessibility".into(),
        format!("/api/v1/monitoring/drill?kind=county&id={COUNTY}&indicator=referrals_up"),
    ];
    for user in ["clinician_a", "vd_a1", "specialist", "jumin1"] {
        let t = app.login(user).await;
        for p in &paths {
            assert_error(app.get(&t, p).await, StatusCode::FORBIDDEN, "forbidden").await;
        }
        assert_error(
            put_stats(&app, &t, &[stat(TOWN_A, "childcare_places", 1.0)]).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // The insurer of the county reads the same figures as its commission.
    let insurer = app.login("insurer").await;
    let mine = get_ok(&app, &k.hc, "/api/v1/monitoring/tiered").await;
    let theirs = get_ok(&app, &insurer, "/api/v1/monitoring/tiered").await;
    assert_eq!(mine["rows"], theirs["rows"]);
    // The neighbouring county's commission sees its own, empty county:
    // nothing of 140599 — no row, no consortium, no drill-down.
    let other = app.login("hc_other").await;
    let t = get_ok(&app, &other, "/api/v1/monitoring/tiered").await;
    assert_eq!(t["county"], "140598");
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{t}");
    assert_eq!(
        (
            &rows[0]["scope"]["id"],
            &rows[0]["counts"]["visits"],
            &rows[0]["counts"]["resident_visits"]
        ),
        (&json!("140598"), &json!(0), &json!(0))
    );
    assert_eq!(rows[0]["counts"]["referrals_up"], 0);
    for q in [
        format!("kind=county&id={COUNTY}&indicator=referrals_up"),
        format!(
            "kind=consortium&id={}&indicator=primary_visit_share",
            k.consortium
        ),
    ] {
        assert_error(
            app.get(&other, &format!("/api/v1/monitoring/drill?{q}"))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let e = get_ok(&app, &other, "/api/v1/monitoring/evaluation").await;
    assert_eq!(
        (&e["county"], &e["consortia"], &e["institutions"]),
        (&json!("140598"), &json!([]), &json!([]))
    );
    let p = get_ok(&app, &other, "/api/v1/monitoring/plan").await;
    assert_eq!(
        (&p["region_code"], &p["population"]),
        (&json!("140598"), &json!(0))
    );
    let a = get_ok(&app, &other, "/api/v1/monitoring/accessibility").await;
    assert_eq!(
        (&a["county"], &a["villages"]),
        (&json!("140598"), &json!([]))
    );
    // Nor may it report statistics for 140599.
    let r = put_stats(&app, &other, &[stat(TOWN_A, "childcare_places", 1.0)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
