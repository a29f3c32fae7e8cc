//! `/fhir` Claim / ClaimResponse, MeasureReport and AuditEvent on both
//! backends: a hospital's Claim entered and adjudicated under the same rules
//! as `/api/v1/claims` (numbers are the shipped policy's, 2026, county
//! 140599), refusals naming the element with nothing stored; the plan and
//! tiered-care indicators as `/api/v1/monitoring` computes them, for the
//! oversight roles only; the record access log as AuditEvents, readable by
//! whom `/api/v1` lets read it.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::fhir::{institution_id, ok_json, outcome, send};
use crate::helpers::*;

both_backends!(
    a_claim_is_entered_read_searched_and_its_response_shows_the_adjudication,
    bad_claims_are_refused_at_their_element_and_store_nothing,
    measure_reports_are_the_monitoring_indicators_for_oversight_roles,
    audit_events_mirror_the_access_log_for_whom_the_api_allows,
);

const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
const PRIORITY: &str = "http://terminology.hl7.org/CodeSystem/processpriority";
const COST: &str = "https://yilian.example/fhir/CodeSystem/cost-category";
const COVERED: &str = "https://yilian.example/fhir/StructureDefinition/claim-item-covered";
const ADJ: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
const YADJ: &str = "https://yilian.example/fhir/CodeSystem/adjudication";
const POLICY_EXT: &str = "https://yilian.example/fhir/StructureDefinition/insurance-policy-version";
const REVIEW_EXT: &str = "https://yilian.example/fhir/StructureDefinition/access-review";
const MEASURE: &str = "https://yilian.example/fhir/Measure/";

async fn fhir_post(app: &TestApp, token: &str, path: &str, body: &Value) -> Response {
    send(app, reqwest::Method::POST, token, path, Some(body), None).await
}

async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    ok_json(app.get(token, path).await, StatusCode::OK).await
}

async fn insured(app: &TestApp, seq: u16) -> i64 {
    let vd = app.login("vd_a1").await;
    app.register(
        &vd,
        resident_body(VILLAGE_A1, (1958, 4, 4), seq, "参保居民", "14500000041"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// A county stay as a hospital system sends it: beds 1,000, drugs 2,000
/// and 100 yuan of materials outside the catalogue, discharged on `end`.
fn stay_claim(resident: i64, provider: i64, end: &str) -> Value {
    let item = |n: u32, code: &str, yuan: f64| {
        json!({
            "sequence": n,
            "productOrService": { "coding": [{ "system": COST, "code": code }] },
            "net": { "value": yuan, "currency": "CNY" },
        })
    };
    let mut materials = item(3, "materials", 100.0);
    materials["extension"] = json!([{ "url": COVERED, "valueBoolean": false }]);
    json!({
        "resourceType": "Claim",
        "status": "active",
        "type": { "coding": [{ "system": CLAIM_TYPE, "code": "institutional" }] },
        "use": "claim",
        "patient": { "reference": format!("Patient/{resident}") },
        "billablePeriod": { "start": "2026-03-05", "end": end },
        "created": format!("{end}T16:00:00+08:00"),
        "provider": { "reference": format!("Organization/{provider}") },
        "priority": { "coding": [{ "system": PRIORITY, "code": "normal" }] },
        "insurance": [{ "sequence": 1, "focal": true, "coverage": { "reference": format!("Coverage/{resident}") } }],
        "item": [item(1, "beds", 1000.0), item(2, "drugs", 2000.0), materials],
        "total": { "value": 3100.0, "currency": "CNY" },
    })
}

/// The amount of the `total` entry of `code` in `system`, in yuan.
fn total_of(cr: &Value, system: &str, code: &str) -> f64 {
    cr["total"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["category"]["coding"][0]["system"] == system
                && t["category"]["coding"][0]["code"] == code
        })
        .unwrap_or_else(|| panic!("{code} in {cr}"))["amount"]["value"]
        .as_f64()
        .unwrap()
}

async fn a_claim_is_entered_read_searched_and_its_response_shows_the_adjudication(app: TestApp) {
    county_consortium(&app, &["WA", "VA1"]).await;
    let r = insured(&app, 41).await;
    let h1 = institution_id(&app, "H1").await;
    let wa = institution_id(&app, "WA").await;
    let sp = app.login("specialist").await;
    let resp = fhir_post(&app, &sp, "/fhir/Claim", &stay_claim(r, h1, "2026-03-10")).await;
    assert_eq!(resp.headers()["etag"], "W/\"1\"");
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let claim = ok_json(resp, StatusCode::CREATED).await;
    let id = claim["id"].as_str().unwrap().to_string();
    assert!(
        loc.ends_with(&format!("/fhir/Claim/{id}/_history/1")),
        "{loc}"
    );
    assert_eq!(claim["resourceType"], "Claim");
    assert_eq!(claim["patient"]["reference"], format!("Patient/{r}"));
    assert_eq!(claim["provider"]["reference"], format!("Organization/{h1}"));
    assert_eq!(claim["total"]["value"], 3100.0);
    assert_eq!(claim["item"].as_array().unwrap().len(), 3);
    assert_eq!(claim["billablePeriod"]["end"], "2026-03-10");
    assert!(
        claim["created"].as_str().unwrap().ends_with("+08:00"),
        "{claim}"
    );
    // The same claim on /api/v1, adjudicated as a claim entered there is.
    let ins = app.login("insurer").await;
    let api: Value = app
        .get(&ins, &format!("/api/v1/claims/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["fund_fen"], 200_000);
    assert_eq!(api["policy_id"], "2026-县域-v1");

    // Read, by the insurer and by the hospital.
    let read = get_ok(&app, &ins, &format!("/fhir/Claim/{id}")).await;
    assert_eq!(read, claim);
    get_ok(&app, &sp, &format!("/fhir/Claim/{id}")).await;
    // Another institution does not see it.
    let cl = app.login("clinician_a").await;
    outcome(
        app.get(&cl, &format!("/fhir/Claim/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
        None,
    )
    .await;

    // Search.
    let total = |b: Value| b["total"].as_i64().unwrap();
    let today = yilian_server::state::today();
    let yesterday = today.pred_opt().unwrap();
    for (q, n) in [
        (format!("patient=Patient/{r}"), 1),
        (format!("patient={r}&provider=Organization/{h1}"), 1),
        (format!("provider=Organization/{wa}"), 0),
        (format!("_id={id}"), 1),
        ("status=active".to_string(), 1),
        ("status=cancelled".to_string(), 0),
        (format!("created=ge{yesterday}"), 1),
        ("created=lt2026-01-01".to_string(), 0),
    ] {
        let b = get_ok(&app, &ins, &format!("/fhir/Claim?{q}")).await;
        assert_eq!(total(b.clone()), n, "{q}: {b}");
        if n == 1 {
            assert_eq!(b["entry"][0]["resource"]["id"], id.as_str(), "{q}");
        }
    }
    // An institution's own scope wins: WA asking for H1's claims sees none,
    // though WA has claims of its own.
    let wa_claim: Value = app
        .post(
            &cl,
            "/api/v1/claims",
            &json!({"resident_id": r, "service_date": "2026-04-01", "setting": "inpatient",
                "items": [{"category": "beds", "amount_fen": 100_000}, {"category": "drugs", "amount_fen": 200_000}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wa_claim["level"], "primary");
    let b = get_ok(
        &app,
        &cl,
        &format!("/fhir/Claim?provider=Organization/{h1}"),
    )
    .await;
    assert_eq!(total(b), 0);
    let b = get_ok(&app, &cl, &format!("/fhir/Claim?patient={r}")).await;
    assert_eq!(total(b.clone()), 1);
    assert_eq!(b["entry"][0]["resource"]["id"], wa_claim["id"].to_string());
    // Unknown search parameters are refused, not ignored.
    outcome(
        app.get(&ins, "/fhir/Claim?use=claim").await,
        StatusCode::BAD_REQUEST,
        "value",
        Some("use"),
    )
    .await;

    // The ClaimResponse: the fund's adjudication of the same claim.
    let cr = get_ok(&app, &ins, &format!("/fhir/ClaimResponse/{id}")).await;
    assert_eq!(cr["resourceType"], "ClaimResponse");
    assert_eq!(cr["id"], id.as_str());
    assert_eq!(cr["request"]["reference"], format!("Claim/{id}"));
    assert_eq!(cr["requestor"]["reference"], format!("Organization/{h1}"));
    assert_eq!(cr["outcome"], "partial");
    // Covered 3,000 − 500 deductible = 2,500 × 80 % = 2,000 to the fund;
    // the resident pays the rest and the 100 yuan outside the catalogue.
    assert_eq!(total_of(&cr, ADJ, "submitted"), 3100.0);
    assert_eq!(total_of(&cr, ADJ, "eligible"), 3000.0);
    assert_eq!(total_of(&cr, ADJ, "deductible"), 500.0);
    assert_eq!(total_of(&cr, ADJ, "benefit"), 2000.0);
    assert_eq!(total_of(&cr, YADJ, "uncovered"), 100.0);
    assert_eq!(total_of(&cr, YADJ, "resident"), 1100.0);
    assert_eq!(cr["adjudication"][0]["value"], 80.0);
    let ext = cr["extension"].as_array().unwrap();
    assert!(
        ext.iter()
            .any(|e| e["url"] == POLICY_EXT && e["valueString"] == "2026-县域-v1"),
        "{cr}"
    );
    assert!(
        !cr["processNote"].as_array().unwrap().is_empty(),
        "rules named"
    );
    assert!(cr.get("payment").is_none(), "not valuated yet");
    // Checked and valuated on /api/v1: the response is complete and pays.
    for step in ["check", "valuate"] {
        let resp = app
            .post(&ins, &format!("/api/v1/claims/{id}/{step}"), &json!({}))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{step}");
    }
    let resp = app.get(&ins, &format!("/fhir/ClaimResponse/{id}")).await;
    assert_eq!(resp.headers()["etag"], "W/\"3\"");
    let cr = ok_json(resp, StatusCode::OK).await;
    assert_eq!(cr["outcome"], "complete");
    assert_eq!(cr["payment"]["amount"]["value"], 2000.0);
    for (q, n) in [
        ("outcome=complete".to_string(), 1),
        ("outcome=partial".to_string(), 1),
        ("outcome=error".to_string(), 0),
        (format!("request=Claim/{id}"), 1),
        (format!("requestor=Organization/{wa}"), 1),
        (format!("patient={r}"), 2),
    ] {
        let b = get_ok(&app, &ins, &format!("/fhir/ClaimResponse?{q}")).await;
        assert_eq!(total(b.clone()), n, "{q}: {b}");
    }
    // A ClaimResponse is not written through FHIR.
    let resp = fhir_post(&app, &ins, "/fhir/ClaimResponse", &cr).await;
    outcome(resp, StatusCode::METHOD_NOT_ALLOWED, "not-supported", None).await;
}

async fn bad_claims_are_refused_at_their_element_and_store_nothing(app: TestApp) {
    let r = insured(&app, 42).await;
    let h1 = institution_id(&app, "H1").await;
    let sp = app.login("specialist").await;
    let good = stay_claim(r, h1, "2026-03-10");
    let post = |body: Value, token: String| {
        let app = &app;
        async move { fhir_post(app, &token, "/fhir/Claim", &body).await }
    };
    // Read by the mapper: a third decimal of a yuan.
    let mut bad = good.clone();
    bad["item"][0]["net"]["value"] = json!(1000.005);
    outcome(
        post(bad, sp.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value",
        Some("Claim.item[0].net.value"),
    )
    .await;
    // The items do not add up to the total.
    let mut bad = good.clone();
    bad["total"]["value"] = json!(3000.0);
    outcome(
        post(bad, sp.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invariant",
        Some("Claim.total.value"),
    )
    .await;
    // The /api/v1 rules, placed at the element: no policy in force on the
    // date, a referral that is not this resident's to this hospital, an
    // encounter that is not theirs, another institution's name.
    outcome(
        post(stay_claim(r, h1, "2031-01-05"), sp.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "processing",
        Some("Claim.billablePeriod"),
    )
    .await;
    let mut bad = good.clone();
    bad["referral"] = json!({ "reference": "ServiceRequest/99999" });
    outcome(
        post(bad, sp.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value",
        Some("Claim.referral.reference"),
    )
    .await;
    let mut bad = good.clone();
    bad["item"][0]["encounter"] = json!([{ "reference": "Encounter/99999" }]);
    outcome(
        post(bad, sp.clone()).await,
        StatusCode::NOT_FOUND,
        "not-found",
        Some("Claim.item[0].encounter[0].reference"),
    )
    .await;
    let cl = app.login("clinician_a").await;
    outcome(
        post(good.clone(), cl).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("Claim.provider.reference"),
    )
    .await;
    outcome(
        post(stay_claim(99_999, h1, "2026-03-10"), sp.clone()).await,
        StatusCode::NOT_FOUND,
        "not-found",
        Some("Claim.patient.reference"),
    )
    .await;
    let ins = app.login("insurer").await;
    let list: Value = app.get(&ins, "/api/v1/claims").await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing stored");
    let b = get_ok(&app, &ins, "/fhir/Claim").await;
    assert_eq!(b["total"], 0);
}

/// A group's score, by indicator code.
fn score(report: &Value, code: &str) -> Option<f64> {
    report["group"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {report}"))["measureScore"]["value"]
        .as_f64()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9 * b.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

async fn measure_reports_are_the_monitoring_indicators_for_oversight_roles(app: TestApp) {
    // Some activity: a county stay's claim (fund spend in the county).
    county_consortium(&app, &["WA", "VA1"]).await;
    let r = insured(&app, 43).await;
    let sp = app.login("specialist").await;
    let h1 = institution_id(&app, "H1").await;
    let c = ok_json(
        fhir_post(&app, &sp, "/fhir/Claim", &stay_claim(r, h1, "2026-03-10")).await,
        StatusCode::CREATED,
    )
    .await;
    // Valuated: the fund's spend counts.
    let ins = app.login("insurer").await;
    for step in ["check", "valuate"] {
        let path = format!("/api/v1/claims/{}/{step}", c["id"].as_str().unwrap());
        assert_eq!(
            app.post(&ins, &path, &json!({})).await.status(),
            StatusCode::OK
        );
    }
    let hc = app.login("hc_main").await;
    let today = yilian_server::state::today();

    // The plan's indicators for the county, as /api/v1/monitoring/plan.
    let b = get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport?measure=plan-indicators&subject={COUNTY}"),
    )
    .await;
    assert_eq!(b["total"], 1, "{b}");
    let plan = &b["entry"][0]["resource"];
    assert_eq!(plan["id"], format!("plan-{COUNTY}-{today}"));
    assert_eq!(plan["measure"], format!("{MEASURE}plan-indicators"));
    assert_eq!(plan["status"], "complete");
    assert_eq!(plan["subject"]["identifier"]["value"], COUNTY);
    assert_eq!(plan["subject"]["display"], "青禾县");
    assert_eq!(plan["period"]["end"], today.to_string());
    let api: Value = app
        .get(&hc, "/api/v1/monitoring/plan")
        .await
        .json()
        .await
        .unwrap();
    let rows = api["rows"].as_array().unwrap();
    assert_eq!(plan["group"].as_array().unwrap().len(), rows.len());
    for row in rows {
        let code = row["code"].as_str().unwrap();
        assert!(
            close(score(plan, code), row["actual"].as_f64()),
            "{code}: {row}"
        );
    }
    // Read by its id: recomputed.
    let id = plan["id"].as_str().unwrap();
    let again = get_ok(&app, &hc, &format!("/fhir/MeasureReport/{id}")).await;
    assert_eq!(&again, plan);
    // One planning indicator on its own.
    let code = rows[0]["code"].as_str().unwrap();
    let b = get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport?measure={MEASURE}{code}"),
    )
    .await;
    assert_eq!(b["total"], 1, "{b}");
    let one = &b["entry"][0]["resource"];
    assert_eq!(one["group"].as_array().unwrap().len(), 1);
    get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport/{}", one["id"].as_str().unwrap()),
    )
    .await;

    // The tiered-care indicators for the county, as /api/v1/monitoring/tiered.
    let b = get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport?measure=tiered-care-indicators&subject={COUNTY}"),
    )
    .await;
    assert_eq!(b["total"], 1, "{b}");
    let tiered = &b["entry"][0]["resource"];
    assert_eq!(tiered["id"], format!("t-r{COUNTY}-{today}"));
    assert_eq!(
        tiered["measure"],
        format!("{MEASURE}tiered-care-indicators")
    );
    let api: Value = app
        .get(&hc, "/api/v1/monitoring/tiered")
        .await
        .json()
        .await
        .unwrap();
    let county = api["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"]["kind"] == "county")
        .unwrap();
    for v in county["values"].as_array().unwrap() {
        let code = v[0].as_str().unwrap();
        assert!(close(score(tiered, code), v[1].as_f64()), "{code}: {v}");
    }
    assert_eq!(
        score(tiered, "fund_in_county_share"),
        Some(100.0),
        "the county stay's fund share is in the county"
    );
    // Every scope without a subject: the county, the consortium, the institutions.
    let b = get_ok(
        &app,
        &hc,
        "/fhir/MeasureReport?measure=tiered-care-indicators",
    )
    .await;
    assert_eq!(b["total"], api["rows"].as_array().unwrap().len());
    let consortium = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["subject"]["identifier"]["system"] == yilian_fhir::measure::CONSORTIUM_SID)
        .expect("the consortium's report");
    get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport/{}", consortium["id"].as_str().unwrap()),
    )
    .await;
    // One indicator for one month: that month's flow figures.
    let b = get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport?measure=referrals_up&subject={COUNTY}&period=2026-03"),
    )
    .await;
    assert_eq!(b["total"], 1, "{b}");
    let march = &b["entry"][0]["resource"];
    assert_eq!(
        march["id"],
        format!("t-referrals-up-r{COUNTY}-m03-2026-03-31")
    );
    assert_eq!(
        march["period"],
        json!({"start": "2026-03-01", "end": "2026-03-31"})
    );
    let again = get_ok(
        &app,
        &hc,
        &format!("/fhir/MeasureReport/{}", march["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(&again, march);
    // Both sets by default; nothing for another county or a later date.
    let b = get_ok(&app, &hc, &format!("/fhir/MeasureReport?subject={COUNTY}")).await;
    assert_eq!(b["total"], 2);
    let b = get_ok(&app, &hc, "/fhir/MeasureReport?subject=140598").await;
    assert_eq!(b["total"], 0);
    let later = today.succ_opt().unwrap();
    let b = get_ok(&app, &hc, &format!("/fhir/MeasureReport?date=ge{later}")).await;
    assert_eq!(b["total"], 0);
    outcome(
        app.get(&hc, &format!("/fhir/MeasureReport/plan-{COUNTY}-{later}"))
            .await,
        StatusCode::NOT_FOUND,
        "not-found",
        None,
    )
    .await;
    // The other county's commission computes its own county only.
    let other = app.login("hc_other").await;
    let b = get_ok(
        &app,
        &other,
        &format!("/fhir/MeasureReport?subject={COUNTY}"),
    )
    .await;
    assert_eq!(b["total"], 0);

    // Monitoring is for oversight roles: a clinician is refused, as on /api/v1.
    let cl = app.login("clinician_a").await;
    assert_eq!(
        app.get(&cl, "/api/v1/monitoring/plan").await.status(),
        StatusCode::FORBIDDEN
    );
    outcome(
        app.get(&cl, "/fhir/MeasureReport?measure=plan-indicators")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    )
    .await;
    outcome(
        app.get(&cl, &format!("/fhir/MeasureReport/{id}")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    )
    .await;
}

/// (altId, outcome, part) of each AuditEvent in a search Bundle.
fn events(b: &Value) -> Vec<(String, String, String)> {
    b["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|e| {
            let r = &e["resource"];
            (
                r["agent"][0]["altId"].as_str().unwrap_or("").to_string(),
                r["outcome"].as_str().unwrap().to_string(),
                r["entity"][0]["detail"][0]["valueString"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

async fn audit_events_mirror_the_access_log_for_whom_the_api_allows(app: TestApp) {
    // A resident with a login of their own.
    let vd = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1961, 6, 6), 31, "档案居民", "14500000031");
    let id_number = body["id_number"].as_str().unwrap().to_string();
    let rid = app.register(&vd, body).await["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    let u =
        json!({"username": "pt_a1", "password": PASSWORD, "role": "resident", "scope": id_number});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    // Township A's clinician records an encounter and reads it through /fhir.
    let wa = institution_id(&app, "WA").await;
    let cl = app.login("clinician_a").await;
    let enc = json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
        "type": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/encounter-type", "code": "outpatient" }], "text": "门诊" }],
        "subject": { "reference": format!("Patient/{rid}") },
        "period": { "start": "2026-11-02T09:30:00+08:00" },
        "serviceProvider": { "reference": format!("Organization/{wa}") },
    });
    let e = ok_json(
        fhir_post(&app, &cl, "/fhir/Encounter", &enc).await,
        StatusCode::CREATED,
    )
    .await;
    let enc_id = e["id"].as_str().unwrap().to_string();
    get_ok(&app, &cl, &format!("/fhir/Encounter/{enc_id}")).await;
    // Township B's clinician has no grounds, through /fhir and /api/v1.
    let cb = app.login("clinician_b").await;
    assert_eq!(
        app.get(&cb, &format!("/fhir/Encounter/{enc_id}"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&cb, &format!("/api/v1/residents/{rid}/record"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // The county specialist reads in an emergency (flagged for review).
    let sp = app.login("specialist").await;
    assert_eq!(
        app.get(
            &sp,
            &format!(
                "/api/v1/residents/{rid}/record?break_glass=%E6%80%A5%E8%AF%8A%E6%8A%A2%E6%95%91"
            )
        )
        .await
        .status(),
        StatusCode::OK
    );

    // The resident sees their whole log, as /api/v1/me/access-log does.
    let pt = app.login("pt_a1").await;
    let b = get_ok(&app, &pt, "/fhir/AuditEvent").await;
    let api: Value = app
        .get(&pt, "/api/v1/me/access-log")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["total"], api["total"], "{b}");
    let ev = events(&b);
    let has =
        |u: &str, out: &str, part: &str| ev.iter().any(|(a, o, p)| a == u && o == out && p == part);
    assert!(has("clinician_a", "0", "fhir:Encounter"), "{ev:?}");
    assert!(has("clinician_b", "4", "fhir:Encounter"), "{ev:?}");
    assert!(has("clinician_b", "4", "timeline"), "{ev:?}");
    assert!(has("specialist", "0", "timeline"), "{ev:?}");
    let first = &b["entry"][0]["resource"];
    assert_eq!(first["resourceType"], "AuditEvent");
    assert_eq!(
        first["entity"][0]["what"]["reference"],
        format!("Patient/{rid}")
    );
    assert!(
        first["recorded"].as_str().unwrap().ends_with("+08:00"),
        "{first}"
    );
    // Searches narrow the same log.
    let today = yilian_server::state::today();
    let n = |b: Value| b["total"].as_i64().unwrap();
    let refused = get_ok(&app, &pt, "/fhir/AuditEvent?outcome=4").await;
    assert!(
        events(&refused)
            .iter()
            .all(|(u, o, _)| u == "clinician_b" && o == "4")
    );
    assert_eq!(n(refused), 2);
    let b = get_ok(&app, &pt, "/fhir/AuditEvent?altid=clinician_a&outcome=0").await;
    assert!(n(b) >= 1);
    let cb_id: Value = app.get(&cb, "/api/v1/auth/me").await.json().await.unwrap();
    let b = get_ok(
        &app,
        &pt,
        &format!("/fhir/AuditEvent?agent={}", cb_id["user_id"]),
    )
    .await;
    assert_eq!(n(b), 2, "by the reader's user id");
    let b = get_ok(
        &app,
        &pt,
        &format!("/fhir/AuditEvent?patient=Patient/{rid}&date=ge{today}"),
    )
    .await;
    assert_eq!(b["total"], api["total"]);
    let b = get_ok(&app, &pt, "/fhir/AuditEvent?date=lt2026-01-01").await;
    assert_eq!(n(b), 0);
    let b = get_ok(
        &app,
        &pt,
        &format!("/fhir/AuditEvent?patient=Patient/{}", rid + 1),
    )
    .await;
    assert_eq!(n(b), 0, "only their own record");
    // Read one by id.
    let refused_id = get_ok(&app, &pt, "/fhir/AuditEvent?outcome=4").await["entry"][0]["resource"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = get_ok(&app, &pt, &format!("/fhir/AuditEvent/{refused_id}")).await;
    assert_eq!(one["outcome"], "4");
    assert!(one["outcomeDesc"].as_str().is_some_and(|d| !d.is_empty()));

    // The commission and the administrator review the emergency reads, as
    // /api/v1/access-log/review.
    for who in ["hc_main", "admin"] {
        let t = app.login(who).await;
        let b = get_ok(&app, &t, "/fhir/AuditEvent").await;
        let api: Value = app
            .get(&t, "/api/v1/access-log/review")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(b["total"], api["total"], "{who}");
        assert_eq!(b["total"], 1, "{who}");
        let r = &b["entry"][0]["resource"];
        assert_eq!(r["agent"][0]["altId"], "specialist");
        assert_eq!(r["outcome"], "0");
        assert_eq!(r["purposeOfEvent"][0]["coding"][0]["code"], "BTG");
        assert_eq!(r["extension"][0]["url"], REVIEW_EXT);
        // Entries outside the review list are not theirs to read.
        outcome(
            app.get(&t, &format!("/fhir/AuditEvent/{refused_id}")).await,
            StatusCode::NOT_FOUND,
            "not-found",
            None,
        )
        .await;
    }

    // Anyone else is refused, as on /api/v1.
    for who in ["clinician_a", "specialist", "insurer"] {
        let t = app.login(who).await;
        outcome(
            app.get(&t, "/fhir/AuditEvent").await,
            StatusCode::FORBIDDEN,
            "forbidden",
            None,
        )
        .await;
        outcome(
            app.get(&t, &format!("/fhir/AuditEvent/{refused_id}")).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            None,
        )
        .await;
        assert_eq!(
            app.get(&t, "/api/v1/access-log/review").await.status(),
            StatusCode::FORBIDDEN,
            "{who}"
        );
    }
}
