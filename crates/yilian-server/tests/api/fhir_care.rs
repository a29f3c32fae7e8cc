//! `/fhir` for the registries and primary care on both backends:
//! Practitioner, PractitionerRole, Location, CareTeam, EpisodeOfCare,
//! Consent and Coverage — round trips through the same rules as `/api/v1`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::care::{stable_patient, team_a};
use crate::fhir::{encounter_json, institution_id, ok_json, outcome, send};
use crate::helpers::*;

both_backends!(
    workforce_and_places_read_search_and_update,
    a_care_team_is_created_and_a_contract_signed_through_fhir,
    a_consent_opens_the_record_to_a_grantee_until_revoked,
    coverage_changes_the_insurance_and_a_patient_update_keeps_it,
    prescriptions_follow_the_long_prescription_rule_and_reports_join_the_record,
);

fn total(b: &Value) -> i64 {
    b["total"].as_i64().unwrap()
}

async fn workforce_and_places_read_search_and_update(app: TestApp) {
    let (team, lead, _) = team_a(&app, 100).await;
    let hc = app.login("hc_main").await;
    let wa = institution_id(&app, "WA").await;
    let p = ok_json(
        app.get(&hc, &format!("/fhir/Practitioner/{lead}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(p["resourceType"], "Practitioner");
    assert_eq!(p["identifier"][0]["value"], "GP1");
    // Search by code, by name, by site.
    for (q, n) in [
        (
            "identifier=https://yilian.example/fhir/sid/practitioner-code|GP1",
            1,
        ),
        ("identifier=VD1", 1),
        (&format!("organization={wa}") as &str, 1),
        ("name=测试", 2),
    ] {
        let b = ok_json(
            app.get(&hc, &format!("/fhir/Practitioner?{q}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(total(&b), n, "{q}: {b}");
    }
    // Roles: one per practice site, pointing at the Organization.
    let roles = ok_json(
        app.get(&hc, &format!("/fhir/PractitionerRole?practitioner={lead}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&roles), 1);
    let role = &roles["entry"][0]["resource"];
    assert_eq!(
        role["organization"]["reference"],
        format!("Organization/{wa}")
    );
    let rid = role["id"].as_str().unwrap();
    ok_json(
        app.get(&hc, &format!("/fhir/PractitionerRole/{rid}")).await,
        StatusCode::OK,
    )
    .await;
    // Update the practitioner: the version moves, the site is kept.
    let mut upd = p.clone();
    upd["name"] = json!([{ "text": "测试医师" }]);
    let r = send(
        &app,
        Method::PUT,
        &hc,
        &format!("/fhir/Practitioner/{lead}"),
        Some(&upd),
        Some("W/\"1\""),
    )
    .await;
    let v2 = ok_json(r, StatusCode::OK).await;
    assert_eq!(v2["meta"]["versionId"], "2");
    let roles = ok_json(
        app.get(&hc, &format!("/fhir/PractitionerRole?practitioner={lead}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&roles), 1, "the practice site is kept");
    let r = send(
        &app,
        Method::PUT,
        &hc,
        &format!("/fhir/Practitioner/{lead}"),
        Some(&upd),
        Some("W/\"1\""),
    )
    .await;
    outcome(r, StatusCode::PRECONDITION_FAILED, "conflict", None).await;
    // Another county's commission may not write it.
    let other = app.login("hc_other").await;
    let r = send(
        &app,
        Method::PUT,
        &other,
        &format!("/fhir/Practitioner/{lead}"),
        Some(&v2),
        None,
    )
    .await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    // Locations: institution sites and regions.
    let loc = ok_json(
        app.get(&hc, &format!("/fhir/Location/{wa}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        loc["managingOrganization"]["reference"],
        format!("Organization/{wa}")
    );
    let town = ok_json(
        app.get(&hc, &format!("/fhir/Location/region-{TOWN_A}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(town["name"], "桃源镇");
    let within = ok_json(
        app.get(
            &hc,
            &format!("/fhir/Location?partof=Location/region-{TOWN_A}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        total(&within),
        3,
        "WA, VA1 and VA2 lie in township A: {within}"
    );
    // The team as a CareTeam.
    let t = ok_json(
        app.get(&hc, &format!("/fhir/CareTeam/{team}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["participant"].as_array().unwrap().len(), 2);
    let b = ok_json(
        app.get(
            &hc,
            &format!("/fhir/CareTeam?participant=Practitioner/{lead}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 1);
    // A new practitioner comes with its practice sites in one transaction:
    // the Practitioner and its PractitionerRoles (main site first).
    let va1 = institution_id(&app, "VA1").await;
    let mut newp = v2.clone();
    for k in ["id", "meta"] {
        newp.as_object_mut().unwrap().remove(k);
    }
    newp["identifier"][0]["value"] = json!("GP9");
    newp["name"] = json!([{ "text": "新到医师" }]);
    let role = |org: i64, main: bool| {
        json!({
            "fullUrl": format!("urn:uuid:7c0e8a52-1d2b-4c3d-8e9f-00000000000{}", if main { 1 } else { 2 }),
            "resource": {
                "resourceType": "PractitionerRole",
                "extension": [{ "url": "https://yilian.example/fhir/StructureDefinition/main-practice-site", "valueBoolean": main }],
                "practitioner": { "reference": "urn:uuid:7c0e8a52-1d2b-4c3d-8e9f-000000000000" },
                "organization": { "reference": format!("Organization/{org}") },
            },
            "request": { "method": "POST", "url": "PractitionerRole" },
        })
    };
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            role(va1, false),
            { "fullUrl": "urn:uuid:7c0e8a52-1d2b-4c3d-8e9f-000000000000", "resource": newp, "request": { "method": "POST", "url": "Practitioner" } },
            role(wa, true),
        ],
    });
    let resp = ok_json(
        send(&app, Method::POST, &hc, "/fhir", Some(&bundle), None).await,
        StatusCode::OK,
    )
    .await;
    let loc = resp["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    let new_id = loc.split('/').nth(1).unwrap().to_string();
    let roles = ok_json(
        app.get(
            &hc,
            &format!("/fhir/PractitionerRole?practitioner={new_id}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&roles), 2);
    assert_eq!(
        roles["entry"][0]["resource"]["organization"]["reference"],
        format!("Organization/{wa}"),
        "the main site first"
    );
    assert_eq!(
        resp["entry"][0]["response"]["location"],
        format!("PractitionerRole/{new_id}-{va1}/_history/1")
    );
    // A Practitioner alone has no site: refused, nothing stored.
    let lone = json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
        { "fullUrl": "urn:uuid:7c0e8a52-1d2b-4c3d-8e9f-000000000009", "resource": { "resourceType": "Practitioner", "identifier": [{ "system": "https://yilian.example/fhir/sid/practitioner-code", "value": "GP10" }], "name": [{ "text": "无点医师" }], "gender": "male", "qualification": newp["qualification"].clone() }, "request": { "method": "POST", "url": "Practitioner" } },
    ]});
    let r = send(&app, Method::POST, &hc, "/fhir", Some(&lone), None).await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "required",
        Some("Bundle.entry[0]"),
    )
    .await;
    let b = ok_json(
        app.get(&hc, "/fhir/Practitioner?identifier=GP10").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 0);
    // A site is added to a stored practitioner with a PractitionerRole; twice is a duplicate.
    let va2 = institution_id(&app, "VA2").await;
    let add = json!({
        "resourceType": "PractitionerRole",
        "practitioner": { "reference": format!("Practitioner/{new_id}") },
        "organization": { "reference": format!("Organization/{va2}") },
    });
    let r = send(
        &app,
        Method::POST,
        &hc,
        "/fhir/PractitionerRole",
        Some(&add),
        None,
    )
    .await;
    ok_json(r, StatusCode::CREATED).await;
    let r = send(
        &app,
        Method::POST,
        &hc,
        "/fhir/PractitionerRole",
        Some(&add),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::CONFLICT,
        "duplicate",
        Some("PractitionerRole.organization.reference"),
    )
    .await;
    // Residents may not read the registries through FHIR either.
    let r = app.get("nope", "/fhir/Practitioner").await;
    outcome(r, StatusCode::UNAUTHORIZED, "login", None).await;
}

async fn a_care_team_is_created_and_a_contract_signed_through_fhir(app: TestApp) {
    let (team, lead, vd_id) = team_a(&app, 100).await;
    let hc = app.login("hc_main").await;
    let wa = institution_id(&app, "WA").await;
    let team_json = |code: &str, lead_role: &str| {
        json!({
            "resourceType": "CareTeam",
            "identifier": [{ "system": "https://yilian.example/fhir/sid/team-code", "value": code }],
            "status": "active",
            "name": "桃源镇第二团队",
            "managingOrganization": [{ "reference": format!("Organization/{wa}") }],
            "extension": [{ "url": "https://yilian.example/fhir/StructureDefinition/team-capacity", "valueInteger": 50 }],
            "participant": [
                { "role": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/team-role", "code": lead_role }] }], "member": { "reference": format!("Practitioner/{lead}") } },
                { "role": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/team-role", "code": "village_doctor" }] }], "member": { "reference": format!("Practitioner/{vd_id}") } },
            ],
        })
    };
    let r = send(
        &app,
        Method::POST,
        &hc,
        "/fhir/CareTeam",
        Some(&team_json("FT-2", "lead")),
        None,
    )
    .await;
    let created = ok_json(r, StatusCode::CREATED).await;
    assert_eq!(created["name"], "桃源镇第二团队");
    // The village doctor may not lead (the API's rule, here at the element).
    let mut bad = team_json("FT-3", "gp");
    bad["participant"][0]["role"][0]["coding"][0]["code"] = json!("gp");
    bad["participant"][1]["role"][0]["coding"][0]["code"] = json!("lead");
    let r = send(&app, Method::POST, &hc, "/fhir/CareTeam", Some(&bad), None).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Sign a resident with the first team through EpisodeOfCare.
    let vd = app.login("vd_a1").await;
    let mut body = resident_body(VILLAGE_A1, (1950, 5, 5), 61, "签约居民", "14500006101");
    body["tags"] = json!(["hypertension"]);
    let rid = app.register(&vd, body).await["id"].as_i64().unwrap();
    let ep = json!({
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "patient": { "reference": format!("Patient/{rid}") },
        "team": [{ "reference": format!("CareTeam/{team}") }],
        "type": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/service-package", "code": "hypertension" }] }],
    });
    let r = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/EpisodeOfCare",
        Some(&ep),
        None,
    )
    .await;
    let k = ok_json(r, StatusCode::CREATED).await;
    assert_eq!(k["status"], "active");
    assert_eq!(
        k["careManager"]["reference"],
        format!("Practitioner/{lead}"),
        "the lead by default"
    );
    assert_eq!(
        k["managingOrganization"]["reference"],
        format!("Organization/{wa}")
    );
    let kid = k["id"].as_str().unwrap();
    ok_json(
        app.get(&vd, &format!("/fhir/EpisodeOfCare/{kid}")).await,
        StatusCode::OK,
    )
    .await;
    let b = ok_json(
        app.get(
            &vd,
            &format!("/fhir/EpisodeOfCare?patient={rid}&status=active"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 1);
    let b = ok_json(
        app.get(
            &vd,
            &format!("/fhir/EpisodeOfCare?patient={rid}&status=finished"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 0);
    // A second contract is refused as on /api/v1.
    let r = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/EpisodeOfCare",
        Some(&ep),
        None,
    )
    .await;
    outcome(r, StatusCode::CONFLICT, "processing", None).await;
    // A status other than active is not how a contract is created.
    let mut done = ep.clone();
    done["status"] = json!("finished");
    let r = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/EpisodeOfCare",
        Some(&done),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::BAD_REQUEST,
        "not-supported",
        Some("EpisodeOfCare.status"),
    )
    .await;
    // Update = a contract event: cancel needs its reason (the domain's rule).
    let kv = k["meta"]["versionId"].as_str().unwrap().to_string();
    let mut cancel = k.clone();
    cancel["status"] = json!("cancelled");
    cancel["extension"] = json!([]);
    cancel.as_object_mut().unwrap().remove("extension");
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/EpisodeOfCare/{kid}"),
        Some(&cancel),
        Some(&format!("W/\"{kv}\"")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "no reason");
    cancel["extension"] = json!([{ "url": "https://yilian.example/fhir/StructureDefinition/contract-cancel-reason", "valueString": "迁居外县" }]);
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/EpisodeOfCare/{kid}"),
        Some(&cancel),
        Some("W/\"99\""),
    )
    .await;
    outcome(r, StatusCode::PRECONDITION_FAILED, "conflict", None).await;
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/EpisodeOfCare/{kid}"),
        Some(&cancel),
        Some(&format!("W/\"{kv}\"")),
    )
    .await;
    let done = ok_json(r, StatusCode::OK).await;
    assert_eq!(done["status"], "cancelled");
    assert!(
        done["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["valueString"] == "迁居外县"),
        "{done}"
    );
    // A cancelled contract does not come back.
    let mut back = done.clone();
    back["status"] = json!("active");
    back.as_object_mut().unwrap().remove("extension");
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/EpisodeOfCare/{kid}"),
        Some(&back),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::CONFLICT,
        "processing",
        Some("EpisodeOfCare.status"),
    )
    .await;
    // Township B's clinician does not see the resident's contract.
    let b_tok = app.login("clinician_b").await;
    let r = app.get(&b_tok, &format!("/fhir/EpisodeOfCare/{kid}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn a_consent_opens_the_record_to_a_grantee_until_revoked(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let body = resident_body(VILLAGE_A1, (1961, 6, 6), 31, "授权居民", "14500000031");
    let idn = body["id_number"].as_str().unwrap().to_string();
    let rid = app.register(&vd, body).await["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    let u = json!({"username": "pt_f", "password": PASSWORD, "role": "resident", "scope": idn});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    // An encounter at WA.
    let wa = institution_id(&app, "WA").await;
    let ca = app.login("clinician_a").await;
    let enc = ok_json(
        send(
            &app,
            Method::POST,
            &ca,
            "/fhir/Encounter",
            Some(&encounter_json(
                &format!("Patient/{rid}"),
                wa,
                "2026-11-02T09:30:00+08:00",
            )),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let eid = enc["id"].as_str().unwrap().to_string();
    let cb = app.login("clinician_b").await;
    let r = app.get(&cb, &format!("/fhir/Encounter/{eid}")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let wb = institution_id(&app, "WB").await;
    let today = yilian_server::state::today();
    let consent = json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy" }] },
        "category": [{ "coding": [{ "system": "http://loinc.org", "code": "64292-6" }] }],
        "patient": { "reference": format!("Patient/{rid}") },
        "policyRule": { "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/consent-policy", "code": "record-sharing" }] },
        "provision": {
            "type": "permit",
            "period": { "start": today.to_string(), "end": (today + chrono::Duration::days(30)).to_string() },
            "actor": [{
                "role": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP" }] },
                "reference": { "reference": format!("Organization/{wb}") },
            }],
        },
    });
    // Only the resident grants.
    let r = send(
        &app,
        Method::POST,
        &ca,
        "/fhir/Consent",
        Some(&consent),
        None,
    )
    .await;
    outcome(r, StatusCode::FORBIDDEN, "forbidden", None).await;
    let pt = app.login("pt_f").await;
    let r = send(
        &app,
        Method::POST,
        &pt,
        "/fhir/Consent",
        Some(&consent),
        None,
    )
    .await;
    let c = ok_json(r, StatusCode::CREATED).await;
    let cid = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["status"], "active");
    // The grantee now reads the record on the consent ground.
    let r = app.get(&cb, &format!("/fhir/Encounter/{eid}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let b = ok_json(
        app.get(&pt, "/fhir/Consent?status=active").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 1);
    // Revoke: status inactive.
    let mut off = c.clone();
    off["status"] = json!("inactive");
    let r = send(
        &app,
        Method::PUT,
        &pt,
        &format!("/fhir/Consent/{cid}"),
        Some(&off),
        None,
    )
    .await;
    assert_eq!(ok_json(r, StatusCode::OK).await["status"], "inactive");
    let r = app.get(&cb, &format!("/fhir/Encounter/{eid}")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "revoked at once");
    // An end before the start names the period.
    let mut bad = consent.clone();
    bad["provision"]["period"]["end"] = json!((today - chrono::Duration::days(1)).to_string());
    let r = send(&app, Method::POST, &pt, "/fhir/Consent", Some(&bad), None).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn coverage_changes_the_insurance_and_a_patient_update_keeps_it(app: TestApp) {
    let vd = app.login("vd_a1").await;
    let mut body = resident_body(VILLAGE_A1, (1958, 8, 8), 71, "参保居民", "14500007101");
    body["tags"] = json!(["diabetes_t2"]);
    body["household_code"] = json!("HH-71");
    let rid = app.register(&vd, body).await["id"].as_i64().unwrap();
    let cov = ok_json(
        app.get(&vd, &format!("/fhir/Coverage/{rid}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cov["type"]["coding"][0]["code"], "resident");
    let b = ok_json(
        app.get(&vd, &format!("/fhir/Coverage?beneficiary=Patient/{rid}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 1);
    let mut emp = cov.clone();
    emp["type"]["coding"][0]["code"] = json!("employee");
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/Coverage/{rid}"),
        Some(&emp),
        Some("W/\"1\""),
    )
    .await;
    let c2 = ok_json(r, StatusCode::OK).await;
    assert_eq!(c2["type"]["coding"][0]["code"], "employee");
    assert_eq!(c2["meta"]["versionId"], "2");
    // The Patient is at version 2 too; updating its name keeps the
    // insurance, tags and household it does not carry.
    let p = ok_json(
        app.get(&vd, &format!("/fhir/Patient/{rid}")).await,
        StatusCode::OK,
    )
    .await;
    let mut up = p.clone();
    up["name"] = json!([{ "text": "参保居民甲" }]);
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/Patient/{rid}"),
        Some(&up),
        Some("W/\"2\""),
    )
    .await;
    ok_json(r, StatusCode::OK).await;
    let d: Value = app
        .get(&vd, &format!("/api/v1/residents/{rid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["insurance"], "employee");
    assert_eq!(d["household_code"], "HH-71");
    assert!(
        d["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "diabetes_t2"),
        "{d}"
    );
    // A Coverage for someone else's id is refused at the beneficiary.
    let mut other = emp.clone();
    other["id"] = json!((rid + 1000).to_string());
    let r = send(
        &app,
        Method::PUT,
        &vd,
        &format!("/fhir/Coverage/{}", rid + 1000),
        Some(&other),
        None,
    )
    .await;
    outcome(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invariant",
        Some("Coverage.beneficiary.reference"),
    )
    .await;
}

fn rx_json(patient: i64, days: u32, class: &str, assessed: bool, signed: bool) -> Value {
    let ext = |u: &str, v: Value| json!({ "url": format!("https://yilian.example/fhir/StructureDefinition/{u}"), "valueBoolean": v });
    json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": { "text": "苯磺酸氨氯地平片" },
        "subject": { "reference": format!("Patient/{patient}") },
        "dosageInstruction": [{ "text": "5mg qd" }],
        "dispenseRequest": { "expectedSupplyDuration": { "value": days, "unit": "天", "system": "http://unitsofmeasure.org", "code": "d" } },
        "extension": [
            { "url": "https://yilian.example/fhir/StructureDefinition/drug-class", "valueCoding": { "system": "https://yilian.example/fhir/CodeSystem/drug-class", "code": class } },
            ext("long-prescription-assessment", json!(assessed)),
            ext("long-prescription-patient-signed", json!(signed)),
        ],
    })
}

async fn prescriptions_follow_the_long_prescription_rule_and_reports_join_the_record(app: TestApp) {
    let (team, _, _) = team_a(&app, 100).await;
    let vd = app.login("vd_a1").await;
    let (r, _) = stable_patient(&app, &vd, team).await;
    // The team's township centre reads the record on the contract ground
    // (the village clinic has written but not seen the patient).
    let ca = app.login("clinician_a").await;
    // 84 days for a contracted, stable chronic patient with assessment and signature.
    let m = ok_json(
        send(
            &app,
            Method::POST,
            &vd,
            "/fhir/MedicationRequest",
            Some(&rx_json(r, 84, "ordinary", true, true)),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(m["dispenseRequest"]["expectedSupplyDuration"]["value"], 84);
    assert_eq!(m["status"], "active");
    let id = m["id"].as_str().unwrap().to_string();
    let back = ok_json(
        app.get(&ca, &format!("/fhir/MedicationRequest/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        back["dispenseRequest"]["expectedSupplyDuration"]["value"], 84,
        "the structured row is read back"
    );
    // 85 days: refused at the supply duration, nothing written.
    let before = ok_json(
        app.get(&ca, &format!("/fhir/MedicationRequest?patient={r}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&before), 1);
    let r85 = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/MedicationRequest",
        Some(&rx_json(r, 85, "ordinary", true, true)),
        None,
    )
    .await;
    outcome(
        r85,
        StatusCode::UNPROCESSABLE_ENTITY,
        "processing",
        Some("MedicationRequest.dispenseRequest.expectedSupplyDuration.value"),
    )
    .await;
    // 29 days without the assessment: refused at the assessment extension.
    let r29 = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/MedicationRequest",
        Some(&rx_json(r, 29, "ordinary", false, true)),
        None,
    )
    .await;
    assert_eq!(r29.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Antimicrobials are never long.
    let anti = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/MedicationRequest",
        Some(&rx_json(r, 29, "antimicrobial", true, true)),
        None,
    )
    .await;
    assert_eq!(anti.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after = ok_json(
        app.get(&ca, &format!("/fhir/MedicationRequest?patient={r}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&after), 1, "refused prescriptions leave no trace");
    // A patient without a contract gets 28 days, not 29.
    let other = app
        .register(
            &vd,
            resident_body(VILLAGE_A1, (1966, 6, 6), 81, "普通居民", "14500008101"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let ok28 = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/MedicationRequest",
        Some(&rx_json(other, 28, "ordinary", false, false)),
        None,
    )
    .await;
    assert_eq!(ok28.status(), StatusCode::CREATED);
    let no29 = send(
        &app,
        Method::POST,
        &vd,
        "/fhir/MedicationRequest",
        Some(&rx_json(other, 29, "ordinary", true, true)),
        None,
    )
    .await;
    outcome(
        no29,
        StatusCode::UNPROCESSABLE_ENTITY,
        "processing",
        Some("MedicationRequest.subject"),
    )
    .await;

    // An exam report joins the record and reads back with its report text.
    let va1 = institution_id(&app, "VA1").await;
    let report = json!({
        "performer": [{ "reference": format!("Organization/{va1}") }],
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": { "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/exam-item", "code": "ECG" }], "text": "心电图" },
        "subject": { "reference": format!("Patient/{r}") },
        "effectiveDateTime": "2026-11-03T10:00:00+08:00",
        "conclusion": "窦性心律",
        "presentedForm": [{ "contentType": "text/plain; charset=utf-8", "data": "56ym5oCn5b+D5b6L77yM5pys5rWL5p2h5Lu2" }],
    });
    let d = ok_json(
        send(
            &app,
            Method::POST,
            &vd,
            "/fhir/DiagnosticReport",
            Some(&report),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(d["conclusion"], "窦性心律");
    let b = ok_json(
        app.get(
            &ca,
            &format!("/fhir/DiagnosticReport?patient={r}&date=2026-11-03"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(total(&b), 1);
    assert_eq!(
        b["entry"][0]["resource"]["presentedForm"][0]["data"],
        report["presentedForm"][0]["data"]
    );
}
