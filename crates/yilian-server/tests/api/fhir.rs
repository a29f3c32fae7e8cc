//! `/fhir` (HL7 FHIR R4) on both backends: round trips per resource, the
//! record's access grounds, ETag/If-Match, transaction bundles all or
//! nothing, and an OperationOutcome with the element path for every refusal.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    metadata_states_what_is_served_and_nothing_else,
    patient_create_read_search_update_with_if_match,
    patient_refusals_name_the_element_and_store_nothing,
    record_resources_need_grounds_and_reads_are_logged,
    organization_round_trip_is_scoped_to_the_writer_region,
    a_transaction_bundle_lands_whole_or_not_at_all,
    fhir_errors_are_operation_outcomes,
    the_integration_page_lists_what_fhir_serves,
);

pub const ID_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
pub const CARD_SYSTEM: &str = "https://yilian.example/fhir/sid/health-card";
pub const REGION_EXT: &str = "https://yilian.example/fhir/StructureDefinition/region-code";

pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
    if_match: Option<&str>,
) -> Response {
    let mut rq = reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        rq = rq
            .header("content-type", "application/fhir+json")
            .body(b.to_string());
    }
    if let Some(m) = if_match {
        rq = rq.header("if-match", m);
    }
    rq.send().await.unwrap()
}

pub async fn ok_json(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(ct.as_deref(), Some("application/fhir+json"));
    body
}

/// Asserts an OperationOutcome: status, issue code and the element path.
pub async fn outcome(r: Response, status: StatusCode, code: &str, path: Option<&str>) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let issue = &body["issue"][0];
    assert_eq!(issue["code"], code, "{body}");
    assert!(
        issue["details"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "a Chinese message: {body}"
    );
    assert!(
        issue["diagnostics"].as_str().is_some_and(|t| !t.is_empty()),
        "an English message: {body}"
    );
    if let Some(p) = path {
        assert_eq!(issue["expression"][0], p, "{body}");
    }
    body
}

/// Asserts an OperationOutcome by yilian's stable code (in
/// `issue.details.coding`) rather than the FHIR issue type.
pub async fn yilian_outcome(
    r: Response,
    status: StatusCode,
    code: &str,
    path: Option<&str>,
) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    let issue = &body["issue"][0];
    assert!(
        issue["details"]["coding"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["code"] == code)),
        "yilian code {code}: {body}"
    );
    assert!(
        issue["details"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
            && issue["diagnostics"].as_str().is_some_and(|t| !t.is_empty()),
        "both messages: {body}"
    );
    if let Some(p) = path {
        assert_eq!(issue["expression"][0], p, "{body}");
    }
    body
}

pub fn patient_json(seq: u16, name: &str, phone: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{ "system": ID_SYSTEM, "value": id_number((1962, 4, 5), seq) }],
        "name": [{ "text": name }],
        "telecom": [{ "system": "phone", "value": phone }],
        "gender": if seq % 2 == 1 { "male" } else { "female" },
        "birthDate": "1962-04-05",
        "address": [{ "extension": [{ "url": REGION_EXT, "valueCode": VILLAGE_A1 }], "text": "东庄村8号" }],
    })
}

pub async fn institution_id(app: &TestApp, code: &str) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    yilian_store::registry::get_institution_by_code(&mut c, code)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn metadata_states_what_is_served_and_nothing_else(app: TestApp) {
    let r = reqwest::get(app.url("/fhir/metadata")).await.unwrap();
    let cs = ok_json(r, StatusCode::OK).await;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    let rest = &cs["rest"][0];
    assert_eq!(rest["interaction"][0]["code"], "transaction");
    let kinds: Vec<&str> = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for t in [
        "Patient",
        "Organization",
        "Encounter",
        "Condition",
        "Observation",
    ] {
        assert!(kinds.contains(&t), "{t} in {kinds:?}");
    }
    // What the statement leaves out is refused: Encounter has no update.
    let enc = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Encounter")
        .unwrap();
    assert!(
        !enc["interaction"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "update")
    );
    let t = app.login("clinician_a").await;
    let r = send(
        &app,
        reqwest::Method::PUT,
        &t,
        "/fhir/Encounter/1",
        Some(&json!({"resourceType": "Encounter", "id": "1"})),
        None,
    )
    .await;
    outcome(r, StatusCode::METHOD_NOT_ALLOWED, "not-supported", None).await;
    let r = app.get(&t, "/fhir/Medication").await;
    outcome(r, StatusCode::NOT_FOUND, "not-supported", None).await;
    // A search parameter not declared is refused, not ignored.
    let r = app.get(&t, "/fhir/Patient?family=王").await;
    outcome(r, StatusCode::BAD_REQUEST, "value", Some("family")).await;
}

async fn patient_create_read_search_update_with_if_match(app: TestApp) {
    let t = app.login("clinician_a").await;
    let p = patient_json(41, "冯晓明", "14500004101");
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let created = ok_json(r, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        loc.ends_with(&format!("/fhir/Patient/{id}/_history/1")),
        "{loc}"
    );
    let card = created["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == CARD_SYSTEM)
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(card.starts_with("E140599"), "the platform issues the card");

    // Read: the whole identity number, logged like the API's detail read.
    let r = app.get(&t, &format!("/fhir/Patient/{id}")).await;
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let read = ok_json(r, StatusCode::OK).await;
    assert_eq!(read["identifier"][0]["value"], id_number((1962, 4, 5), 41));
    assert_eq!(read["name"][0]["text"], "冯晓明");
    assert!(
        read["meta"]["lastUpdated"]
            .as_str()
            .is_some_and(|t| t.ends_with("+08:00")),
        "{read}"
    );

    // Search: by identity number, card, name, birthdate with prefixes.
    let ids = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|x| x["resource"]["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let other = patient_json(42, "冯晓红", "14500004202");
    send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&other),
        None,
    )
    .await;
    let idn = id_number((1962, 4, 5), 41);
    for (q, n) in [
        (format!("identifier={ID_SYSTEM}|{idn}"), 1),
        (format!("identifier={CARD_SYSTEM}|{card}"), 1),
        ("identifier=https://his.example/mrn|x".to_string(), 0),
        ("name=冯晓".to_string(), 2),
        ("birthdate=1962-04".to_string(), 2),
        ("birthdate=gt1962-04-05".to_string(), 0),
        (
            "birthdate=ge1962-04-05&birthdate=lt1962-04-06".to_string(),
            2,
        ),
        (format!("_id={id}"), 1),
    ] {
        let b = ok_json(
            app.get(&t, &format!("/fhir/Patient?{q}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(b["type"], "searchset");
        assert_eq!(b["total"], n, "{q}: {b}");
        assert_eq!(ids(&b).len(), n, "{q}");
    }
    // Lists are masked: no identity-number identifier, phone masked.
    let b = ok_json(app.get(&t, "/fhir/Patient?name=冯晓").await, StatusCode::OK).await;
    let listed = &b["entry"][0]["resource"];
    assert!(
        !listed["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["system"] == ID_SYSTEM)
    );
    assert!(
        listed["telecom"][0]["value"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    // Paging: _count=1 gives a next link that finds the other one.
    let b = ok_json(
        app.get(&t, "/fhir/Patient?name=冯晓&_count=1").await,
        StatusCode::OK,
    )
    .await;
    let next = b["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let page2: Value = reqwest::Client::new()
        .get(&next)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["entry"].as_array().unwrap().len(), 1);
    assert_ne!(ids(&b), ids(&page2));

    // Update with If-Match: the version moves; a stale one is 412 and changes nothing.
    let mut upd = read.clone();
    upd["name"] = json!([{ "text": "冯小明" }]);
    let r = send(
        &app,
        reqwest::Method::PUT,
        &t,
        &format!("/fhir/Patient/{id}"),
        Some(&upd),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let v2 = ok_json(r, StatusCode::OK).await;
    assert_eq!(v2["name"][0]["text"], "冯小明");
    upd["name"] = json!([{ "text": "冯大明" }]);
    let r = send(
        &app,
        reqwest::Method::PUT,
        &t,
        &format!("/fhir/Patient/{id}"),
        Some(&upd),
        Some("W/\"1\""),
    )
    .await;
    outcome(r, StatusCode::PRECONDITION_FAILED, "conflict", None).await;
    let now = ok_json(
        app.get(&t, &format!("/fhir/Patient/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["name"][0]["text"], "冯小明");
    assert_eq!(now["meta"]["versionId"], "2");
    // The body's id must be the URL's.
    let r = send(
        &app,
        reqwest::Method::PUT,
        &t,
        "/fhir/Patient/999",
        Some(&upd),
        None,
    )
    .await;
    outcome(r, StatusCode::BAD_REQUEST, "invariant", Some("Patient.id")).await;
}

async fn patient_refusals_name_the_element_and_store_nothing(app: TestApp) {
    let t = app.login("clinician_a").await;
    let mut p = patient_json(43, "冯晓东", "14500004303");
    let good = id_number((1962, 4, 5), 43);
    let wrong = if good.ends_with('0') { '1' } else { '0' };
    p["identifier"][0]["value"] = json!(format!("{}{wrong}", &good[..17]));
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value",
        Some("Patient.identifier[0].value"),
    )
    .await;
    // The identity number says 1962-04-05; the birthDate disagrees.
    let mut p = patient_json(43, "冯晓东", "14500004303");
    p["birthDate"] = json!("1962-04-06");
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invariant",
        Some("Patient.birthDate"),
    )
    .await;
    // An element R4 does not define is a structural error.
    let mut p = patient_json(43, "冯晓东", "14500004303");
    p["favouriteColour"] = json!("blue");
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::BAD_REQUEST,
        "structure",
        Some("Patient.favouriteColour"),
    )
    .await;
    assert_eq!(app.count_residents().await, 0);
    // The same number twice is a duplicate.
    let p = patient_json(43, "冯晓东", "14500004303");
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Patient",
        Some(&p),
        None,
    )
    .await;
    outcome(r, StatusCode::CONFLICT, "duplicate", None).await;
    assert_eq!(app.count_residents().await, 1);
}

pub fn encounter_json(patient: &str, org: i64, at: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
        "type": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/encounter-type", "code": "outpatient" }], "text": "门诊" }],
        "subject": { "reference": patient },
        "period": { "start": at },
        "serviceProvider": { "reference": format!("Organization/{org}") },
    })
}

async fn record_resources_need_grounds_and_reads_are_logged(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let rid = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1955, 2, 2), 51, "档案甲", "14500005101"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let pref = format!("Patient/{rid}");
    let wa = institution_id(&app, "WA").await;
    let t = app.login("clinician_a").await;
    let enc = ok_json(
        send(
            &app,
            reqwest::Method::POST,
            &t,
            "/fhir/Encounter",
            Some(&encounter_json(&pref, wa, "2026-11-02T09:30:00+08:00")),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let enc_id = enc["id"].as_str().unwrap().to_string();
    let obs = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": { "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/lab-item", "code": "GLU" }], "text": "空腹血糖" },
        "subject": { "reference": pref },
        "encounter": { "reference": format!("Encounter/{enc_id}") },
        "effectiveDateTime": "2026-11-02T09:40:00+08:00",
        "valueQuantity": { "value": 7.9, "unit": "mmol/L" },
        "interpretation": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H" }] }],
    });
    let o = ok_json(
        send(
            &app,
            reqwest::Method::POST,
            &t,
            "/fhir/Observation",
            Some(&obs),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(o["valueQuantity"]["value"], 7.9);
    assert_eq!(o["encounter"]["reference"], format!("Encounter/{enc_id}"));
    let cond = json!({
        "resourceType": "Condition",
        "code": { "coding": [{ "system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9" }], "text": "2型糖尿病" },
        "subject": { "reference": pref },
        "encounter": { "reference": format!("Encounter/{enc_id}") },
        "recordedDate": "2026-11-02T09:50:00+08:00",
    });
    ok_json(
        send(
            &app,
            reqwest::Method::POST,
            &t,
            "/fhir/Condition",
            Some(&cond),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Written at another institution's name: refused.
    let wb = institution_id(&app, "WB").await;
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Encounter",
        Some(&encounter_json(&pref, wb, "2026-11-02T10:30:00+08:00")),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("Encounter.serviceProvider.reference"),
    )
    .await;
    // A bad ICD-10 code names the coding.
    let mut bad = cond.clone();
    bad["code"]["coding"][0]["code"] = json!("XYZ");
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir/Condition",
        Some(&bad),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value",
        Some("Condition.code.coding[0].code"),
    )
    .await;

    // Search by patient and date (with prefixes), and read one.
    let q = |s: &str| format!("/fhir/Observation?patient={rid}{s}");
    let b = ok_json(app.get(&t, &q("")).await, StatusCode::OK).await;
    assert_eq!(b["total"], 1);
    let b = ok_json(app.get(&t, &q("&date=ge2026-11-02")).await, StatusCode::OK).await;
    assert_eq!(b["total"], 1);
    let b = ok_json(app.get(&t, &q("&date=lt2026-11-02")).await, StatusCode::OK).await;
    assert_eq!(b["total"], 0);
    let b = ok_json(
        app.get(
            &t,
            &format!("/fhir/Encounter?subject=Patient/{rid}&date=2026-11"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(b["total"], 1);
    let r = app.get(&t, &format!("/fhir/Encounter/{enc_id}")).await;
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    let e = ok_json(r, StatusCode::OK).await;
    assert_eq!(e["subject"]["reference"], pref);
    // A record search must name its patient.
    let r = app.get(&t, "/fhir/Observation").await;
    outcome(r, StatusCode::BAD_REQUEST, "required", Some("patient")).await;

    // Township B's clinician has no grounds: refused, and the refusal is logged.
    let b_tok = app.login("clinician_b").await;
    let r = app.get(&b_tok, &format!("/fhir/Encounter/{enc_id}")).await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let r = app.get(&b_tok, &q("")).await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let mut c = app.db.store.read().await.unwrap();
    let rows: Vec<(String, String, String)> = yilian_store::sqlx::query_as(
        "SELECT username, part, outcome FROM access_log WHERE resident_id = $1 ORDER BY id",
    )
    .bind(rid)
    .fetch_all(&mut *c)
    .await
    .unwrap();
    let has = |u: &str, part: &str, out: &str| {
        rows.iter().any(|(a, b, c)| a == u && b == part && c == out)
    };
    assert!(
        has("clinician_a", "fhir:Observation", "granted"),
        "{rows:?}"
    );
    assert!(has("clinician_a", "fhir:Encounter", "granted"), "{rows:?}");
    assert!(has("clinician_b", "fhir:Encounter", "refused"), "{rows:?}");
    assert!(
        has("clinician_b", "fhir:Observation", "refused"),
        "{rows:?}"
    );
}

async fn organization_round_trip_is_scoped_to_the_writer_region(app: TestApp) {
    let hc = app.login("hc_main").await;
    let org = json!({
        "resourceType": "Organization",
        "identifier": [{ "system": "https://yilian.example/fhir/sid/institution-code", "value": "VA9" }],
        "type": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/institution-kind", "code": "village_clinic" }] }],
        "name": "东庄村第二卫生室",
        "address": [{ "extension": [{ "url": REGION_EXT, "valueCode": VILLAGE_A1 }], "text": "东庄村" }],
    });
    let r = send(
        &app,
        reqwest::Method::POST,
        &hc,
        "/fhir/Organization",
        Some(&org),
        None,
    )
    .await;
    let created = ok_json(r, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["type"][0]["coding"][0]["code"], "prov");
    let b = ok_json(
        app.get(
            &hc,
            "/fhir/Organization?identifier=https://yilian.example/fhir/sid/institution-code|VA9",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(b["total"], 1);
    let b = ok_json(
        app.get(&hc, "/fhir/Organization?type=village_clinic").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(b["total"], 4, "VA1, VA2, VB1 and the new one");
    let mut upd = created.clone();
    upd["name"] = json!("东庄村卫生室（二）");
    let r = send(
        &app,
        reqwest::Method::PUT,
        &hc,
        &format!("/fhir/Organization/{id}"),
        Some(&upd),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(ok_json(r, StatusCode::OK).await["meta"]["versionId"], "2");
    // Another county's health commission may not write here.
    let other = app.login("hc_other").await;
    let r = send(
        &app,
        reqwest::Method::PUT,
        &other,
        &format!("/fhir/Organization/{id}"),
        Some(&upd),
        None,
    )
    .await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    // A kind that does not fit the region's level is refused (village clinic at county level).
    let mut bad = org.clone();
    bad["identifier"][0]["value"] = json!("VA10");
    bad["address"][0]["extension"][0]["valueCode"] = json!(COUNTY);
    let r = send(
        &app,
        reqwest::Method::POST,
        &hc,
        "/fhir/Organization",
        Some(&bad),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

fn synthea_bundle(wa: i64) -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../yilian-fhir/tests/data/transaction-synthea-style.json"
    ))
    .unwrap()
    .replace("140521101201", VILLAGE_A1)
    .replace("Organization/7", &format!("Organization/{wa}"));
    let mut b: Value = serde_json::from_str(&text).unwrap();
    // …and the visit's prescription, so one push carries all of it.
    let patient = b["entry"][1]["fullUrl"].clone();
    let encounter = b["entry"][2]["fullUrl"].clone();
    b["entry"].as_array_mut().unwrap().push(json!({
        "fullUrl": "urn:uuid:0c9a4f1e-2b3d-4e5f-8a7b-6c5d4e3f2a1b",
        "resource": {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": { "text": "苯磺酸氨氯地平片" },
            "subject": { "reference": patient },
            "encounter": { "reference": encounter },
            "authoredOn": "2026-11-02T09:55:00+08:00",
            "dosageInstruction": [{ "text": "5mg qd" }],
            "dispenseRequest": { "expectedSupplyDuration": { "value": 14, "unit": "天", "system": "http://unitsofmeasure.org", "code": "d" } },
        },
        "request": { "method": "POST", "url": "MedicationRequest" },
    }));
    b
}

async fn entries(app: &TestApp) -> i64 {
    let mut c = app.db.store.read().await.unwrap();
    yilian_store::sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM record_entries")
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

async fn a_transaction_bundle_lands_whole_or_not_at_all(app: TestApp) {
    let t = app.login("clinician_a").await;
    let wa = institution_id(&app, "WA").await;
    // One bad entry (an unknown ICD-10 code in the Condition): nothing lands.
    let mut bad = synthea_bundle(wa);
    bad["entry"][0]["resource"]["code"]["coding"][0]["code"] = json!("Q");
    let r = send(&app, reqwest::Method::POST, &t, "/fhir", Some(&bad), None).await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "value",
        Some("Bundle.entry[0].resource.code.coding[0].code"),
    )
    .await;
    // A bundle that passes the checks but fails while writing (an
    // Observation performed at another institution) also leaves nothing:
    // the Patient and Encounter written before it are rolled back.
    let wb = institution_id(&app, "WB").await;
    let mut late = synthea_bundle(wa);
    late["entry"][3]["resource"]["performer"][0]["reference"] = json!(format!("Organization/{wb}"));
    let r = send(&app, reqwest::Method::POST, &t, "/fhir", Some(&late), None).await;
    outcome(
        r,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("Bundle.entry[3].resource.performer"),
    )
    .await;
    assert_eq!(app.count_residents().await, 0);
    assert_eq!(entries(&app).await, 0);

    // The good bundle: Patient, Encounter, Condition, Observation at once.
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir",
        Some(&synthea_bundle(wa)),
        None,
    )
    .await;
    let resp = ok_json(r, StatusCode::OK).await;
    assert_eq!(resp["type"], "transaction-response");
    let locs: Vec<&str> = resp["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["location"].as_str().unwrap())
        .collect();
    assert_eq!(locs.len(), 5);
    assert!(locs[4].starts_with("MedicationRequest/"), "{locs:?}");
    // The response keeps the bundle's order (Condition first) although the
    // Patient and Encounter were written before it.
    assert!(locs[0].starts_with("Condition/"), "{locs:?}");
    assert!(locs[1].starts_with("Patient/"), "{locs:?}");
    assert!(
        resp["entry"][0]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("201")
    );
    assert_eq!(app.count_residents().await, 1);
    assert_eq!(entries(&app).await, 4);
    // The Condition points at the Encounter and Patient that were created.
    let cond = ok_json(
        app.get(
            &t,
            &format!("/fhir/{}", &locs[0][..locs[0].find("/_history").unwrap()]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let pid = locs[1].split('/').nth(1).unwrap();
    let eid = locs[2].split('/').nth(1).unwrap();
    assert_eq!(cond["subject"]["reference"], format!("Patient/{pid}"));
    assert_eq!(cond["encounter"]["reference"], format!("Encounter/{eid}"));
    // Pushing it again is refused whole (the identity number exists).
    let r = send(
        &app,
        reqwest::Method::POST,
        &t,
        "/fhir",
        Some(&synthea_bundle(wa)),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::CONFLICT,
        "duplicate",
        Some("Bundle.entry[1]"),
    )
    .await;
    assert_eq!(entries(&app).await, 4);
}

async fn fhir_errors_are_operation_outcomes(app: TestApp) {
    let r = reqwest::get(app.url("/fhir/Patient")).await.unwrap();
    outcome(r, StatusCode::UNAUTHORIZED, "login", None).await;
    let t = app.login("clinician_a").await;
    for body in ["", "null", "[]", "{", "{\"resourceType\": 5}"] {
        let r = reqwest::Client::new()
            .post(app.url("/fhir/Patient"))
            .bearer_auth(&t)
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {v}");
        assert_eq!(v["resourceType"], "OperationOutcome");
    }
    for path in [
        "/fhir/Patient/abc",
        "/fhir/Patient/99999999",
        "/fhir/Patient?_count=-1",
        "/fhir/Patient?birthdate=yesterday",
        "/fhir/Encounter?patient=Organization/1",
        "/fhir/nope/1/2/3",
    ] {
        let r = app.get(&t, path).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_client_error(), "{path} → {status}");
        assert_eq!(v["resourceType"], "OperationOutcome", "{path}");
    }
    // A village doctor may not register institutions.
    let vd = app.login("vd_a1").await;
    let org = json!({"resourceType": "Organization", "identifier": [{"system": "https://yilian.example/fhir/sid/institution-code", "value": "Z1"}], "name": "x", "type": [{"coding": [{"system": "https://yilian.example/fhir/CodeSystem/institution-kind", "code": "village_clinic"}]}], "address": [{"extension": [{"url": REGION_EXT, "valueCode": VILLAGE_A1}]}]});
    let r = send(
        &app,
        reqwest::Method::POST,
        &vd,
        "/fhir/Organization",
        Some(&org),
        None,
    )
    .await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
}

async fn the_integration_page_lists_what_fhir_serves(app: TestApp) {
    let admin = browser(&app, "admin").await;
    let (status, html) = page(&app, &admin, "/integration").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("系统对接") && html.contains("/fhir"));
    // Every type the CapabilityStatement states is on the page, and no other.
    let cs: Value = reqwest::get(app.url("/fhir/metadata"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let table = between(&html, "id=\"fhir-resources\"", "</table>");
    let listed = table.matches("<tr><td><code>").count();
    let stated = cs["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(listed, stated.len());
    for r in stated {
        let t = r["type"].as_str().unwrap();
        assert!(table.contains(&format!("<code>{t}</code>")), "{t}");
    }
    assert!(html.contains(ID_SYSTEM));
    // A clinician has neither the page nor its link.
    let vd = browser(&app, "vd_a1").await;
    let (status, _) = page(&app, &vd, "/integration").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, home) = page(&app, &vd, "/").await;
    assert!(!home.contains("系统对接"));
}
