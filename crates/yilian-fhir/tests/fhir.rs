//! Round trips, refusals with element paths, and a hand-written
//! Synthea-style transaction bundle. All data is synthetic: identity numbers
//! are built with the domain's check-character function.

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::id_number::{IdNumber, mod11_2_check};
use yilian_domain::record::{EncounterType, EntryKind};
use yilian_domain::registry::InstitutionKind;
use yilian_fhir::bundle::{self, EntryResult, Method, Op, SearchPage};
use yilian_fhir::capability::{self, Capabilities, Interaction, ParamType, ResourceSupport};
use yilian_fhir::clinical::{self, EntryFhir};
use yilian_fhir::identifiers::{HEALTH_CARD_SYSTEM, ICD10_SYSTEM, ID_NUMBER_SYSTEM};
use yilian_fhir::organization::{self, InstitutionFhir};
use yilian_fhir::patient::{self, ResidentFhir};
use yilian_fhir::reference::Ref;
use yilian_fhir::{IssueType, Outcome};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn synthetic_id() -> IdNumber {
    IdNumber::build("140521", NaiveDate::from_ymd_opt(1958, 3, 9).unwrap(), 17).unwrap()
}

fn resident() -> ResidentFhir {
    ResidentFhir {
        id: 42,
        id_number: Some(synthetic_id().to_string()),
        health_card_id: Some("E14052100000000001X".into()),
        name: "测试甲".into(),
        sex: "male".into(),
        birth_date: "1958-03-09".into(),
        phone: Some("14500001234".into()),
        region_code: "140521101201".into(),
        address: "示例镇示例村1号".into(),
        version: Some(3),
        last_updated: Some("2026-11-20T08:00:00+08:00".into()),
    }
}

fn refused(o: Outcome, path: &str, code: IssueType) {
    assert_eq!(o.expression(), Some(path), "{o}");
    assert_eq!(o.first().code, code, "{o}");
    let j = o.to_json();
    assert_eq!(j["resourceType"], "OperationOutcome");
    assert_eq!(j["issue"][0]["expression"][0], path);
    assert_eq!(j["issue"][0]["severity"], "error");
}

#[test]
fn the_synthetic_identity_number_is_valid() {
    let s = synthetic_id().to_string();
    assert_eq!(s, "140521195803090170");
    assert_eq!(mod11_2_check(&s[..17]), Some('0'));
}

#[test]
fn patient_round_trip() {
    let fhir = patient::to_fhir(&resident());
    assert_eq!(fhir["identifier"][0]["system"], ID_NUMBER_SYSTEM);
    assert_eq!(fhir["identifier"][1]["system"], HEALTH_CARD_SYSTEM);
    assert_eq!(fhir["meta"]["versionId"], "3");
    let back = patient::from_fhir(&fhir, today()).unwrap();
    assert_eq!(back.id.as_deref(), Some("42"));
    let i = &back.input;
    assert_eq!(i.id_number, "140521195803090170");
    assert_eq!(i.name, "测试甲");
    assert_eq!(i.sex.as_deref(), Some("male"));
    assert_eq!(i.birth_date.as_deref(), Some("1958-03-09"));
    assert_eq!(i.phone, "14500001234");
    assert_eq!(i.region_code, "140521101201");
    assert_eq!(i.address.as_deref(), Some("示例镇示例村1号"));
    assert_eq!(back.health_card_id.as_deref(), Some("E14052100000000001X"));
    assert_eq!(back.valid.name.name, "测试甲");
}

#[test]
fn patient_with_bad_check_character_is_refused_at_its_identifier() {
    let mut fhir = patient::to_fhir(&resident());
    // Move the identity number to index 1 behind another identifier, and
    // break its check character.
    let good = synthetic_id().to_string();
    let bad = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('1') { '2' } else { '1' }
    );
    fhir["identifier"] = json!([
        { "system": "https://his.example/mrn", "value": "MRN-1" },
        { "system": ID_NUMBER_SYSTEM, "value": bad },
    ]);
    let o = patient::from_fhir(&fhir, today()).unwrap_err();
    refused(o.clone(), "Patient.identifier[1].value", IssueType::Value);
    assert_eq!(o.first().yilian_code, "invalid_id_number");
    assert_eq!(o.status, 422);
    assert!(o.first().zh.contains("校验码"));
}

#[test]
fn patient_refusals_name_their_elements() {
    let base = patient::to_fhir(&resident());
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        patient::from_fhir(&v, today()).unwrap_err()
    };
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("name");
        }),
        "Patient.name",
        IssueType::Required,
    );
    refused(
        with(&|v| v["gender"] = json!("M")),
        "Patient.gender",
        IssueType::Value,
    );
    refused(
        with(&|v| v["gender"] = json!("female")),
        "Patient.gender",
        IssueType::Invariant,
    );
    refused(
        with(&|v| v["birthDate"] = json!("1958-02-30")),
        "Patient.birthDate",
        IssueType::Value,
    );
    refused(
        with(&|v| v["birthDate"] = json!("1958-03-10")),
        "Patient.birthDate",
        IssueType::Invariant,
    );
    refused(
        with(&|v| v["birthDate"] = json!("1959")),
        "Patient.birthDate",
        IssueType::Invariant,
    );
    refused(
        with(&|v| v["resourceType"] = json!("Practitioner")),
        "Patient.resourceType",
        IssueType::Structure,
    );
    refused(
        with(&|v| v["favouriteColour"] = json!("red")),
        "Patient.favouriteColour",
        IssueType::Structure,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("identifier");
        }),
        "Patient.identifier",
        IssueType::Required,
    );
    refused(
        with(&|v| v["telecom"][0]["value"] = json!("12345")),
        "Patient.telecom[0].value",
        IssueType::Value,
    );
    refused(
        with(&|v| v["name"] = json!([{ "text": "x1" }])),
        "Patient.name[0].text",
        IssueType::Value,
    );
    refused(
        with(&|v| v["identifier"][1]["value"] = json!("E14052100000000001Y")),
        "Patient.identifier[1].value",
        IssueType::Value,
    );
    refused(
        with(&|v| v["address"][0]["extension"][0]["valueCode"] = json!("99")),
        "Patient.address[0].extension[0].valueCode",
        IssueType::Value,
    );
    let o = with(&|v| v["name"] = json!("测试甲"));
    refused(o.clone(), "Patient.name", IssueType::Structure);
    assert_eq!(o.status, 400);
    // Partial birth dates that agree, and gender unknown, are fine.
    let mut v = base.clone();
    v["birthDate"] = json!("1958-03");
    v["gender"] = json!("unknown");
    assert!(patient::from_fhir(&v, today()).is_ok());
}

fn entry(kind: EntryKind) -> EntryFhir {
    EntryFhir {
        id: 100,
        resident_id: 42,
        institution_id: 7,
        institution_name: "示例镇卫生院".into(),
        kind,
        encounter_type: Some(EncounterType::Outpatient),
        occurred_at: "2026-11-02T09:30:00".into(),
        code: String::new(),
        title: String::new(),
        value: String::new(),
        unit: String::new(),
        reference_range: String::new(),
        abnormal: false,
        encounter_id: None,
    }
}

#[test]
fn encounter_round_trip() {
    let mut e = entry(EntryKind::Encounter);
    e.encounter_type = Some(EncounterType::Inpatient);
    e.title = "内科住院".into();
    let fhir = clinical::to_fhir(&e).unwrap();
    assert_eq!(fhir["class"]["code"], "IMP");
    assert_eq!(fhir["period"]["start"], "2026-11-02T09:30:00+08:00");
    let back = clinical::from_fhir(&fhir).unwrap();
    assert_eq!(back.kind, EntryKind::Encounter);
    assert_eq!(back.encounter_type, Some(EncounterType::Inpatient));
    assert_eq!(back.occurred_at_text(), e.occurred_at);
    assert_eq!(back.title, e.title);
    assert_eq!(
        back.patient,
        Ref::Stored {
            resource_type: "Patient".into(),
            id: "42".into()
        }
    );
    assert_eq!(
        back.institution,
        Some(Ref::Stored {
            resource_type: "Organization".into(),
            id: "7".into()
        })
    );
}

#[test]
fn condition_round_trip_and_refusals() {
    let mut e = entry(EntryKind::Diagnosis);
    e.code = "e119".into();
    e.title = "2型糖尿病".into();
    e.encounter_id = Some(99);
    let fhir = clinical::to_fhir(&e).unwrap();
    assert_eq!(fhir["code"]["coding"][0]["system"], ICD10_SYSTEM);
    assert_eq!(fhir["code"]["coding"][0]["code"], "E11.9");
    let back = clinical::from_fhir(&fhir).unwrap();
    assert_eq!(back.code, "E11.9");
    assert_eq!(back.title, "2型糖尿病");
    assert_eq!(back.occurred_at_text(), e.occurred_at);
    assert!(matches!(back.encounter, Some(Ref::Stored { ref id, .. }) if id == "99"));
    assert!(matches!(back.institution, Some(Ref::Stored { ref id, .. }) if id == "7"));

    let mut bad = fhir.clone();
    bad["code"]["coding"][0]["code"] = json!("diabetes");
    let o = clinical::from_fhir(&bad).unwrap_err();
    refused(o, "Condition.code.coding[0].code", IssueType::Value);

    let mut bad = fhir.clone();
    bad["subject"] = json!({ "reference": "Organization/1" });
    refused(
        clinical::from_fhir(&bad).unwrap_err(),
        "Condition.subject.reference",
        IssueType::Value,
    );

    let mut bad = fhir.clone();
    bad["recordedDate"] = json!("yesterday");
    refused(
        clinical::from_fhir(&bad).unwrap_err(),
        "Condition.recordedDate",
        IssueType::Value,
    );

    let mut bad = fhir.clone();
    bad["code"] = json!({ "text": "糖尿病" });
    refused(
        clinical::from_fhir(&bad).unwrap_err(),
        "Condition.code.coding",
        IssueType::Required,
    );
}

#[test]
fn observation_round_trip_and_refusals() {
    let mut e = entry(EntryKind::Lab);
    e.code = "GLU".into();
    e.title = "空腹血糖".into();
    e.value = "7.8".into();
    e.unit = "mmol/L".into();
    e.reference_range = "3.9-6.1".into();
    e.abnormal = true;
    let fhir = clinical::to_fhir(&e).unwrap();
    assert_eq!(fhir["valueQuantity"]["value"], 7.8);
    let back = clinical::from_fhir(&fhir).unwrap();
    assert_eq!(
        (
            back.code.as_str(),
            back.value.as_str(),
            back.unit.as_str(),
            back.reference_range.as_str(),
            back.abnormal
        ),
        ("GLU", "7.8", "mmol/L", "3.9-6.1", true)
    );
    // Text values travel as valueString.
    e.value = "阴性".into();
    e.unit.clear();
    e.abnormal = false;
    let back = clinical::from_fhir(&clinical::to_fhir(&e).unwrap()).unwrap();
    assert_eq!((back.value.as_str(), back.abnormal), ("阴性", false));

    let mut bad = fhir.clone();
    bad["effectiveDateTime"] = json!("2026-11-02T09:30:00");
    refused(
        clinical::from_fhir(&bad).unwrap_err(),
        "Observation.effectiveDateTime",
        IssueType::Value,
    );
    let mut bad = fhir.clone();
    bad["status"] = json!("registered");
    refused(
        clinical::from_fhir(&bad).unwrap_err(),
        "Observation.status",
        IssueType::NotSupported,
    );
    // Kinds not mapped yet are None.
    assert!(clinical::to_fhir(&entry(EntryKind::Prescription)).is_none());
}

#[test]
fn organization_round_trip_and_refusals() {
    let i = InstitutionFhir {
        id: 7,
        code: "TH-001".into(),
        name: "示例镇卫生院".into(),
        kind: InstitutionKind::TownshipHealthCenter,
        region_code: "140521101".into(),
        address: "示例镇".into(),
        part_of: Some(1),
        version: Some(2),
    };
    let fhir = organization::to_fhir(&i);
    assert_eq!(fhir["type"][0]["coding"][0]["code"], "prov");
    assert_eq!(fhir["type"][0]["coding"][1]["display"], "乡镇卫生院");
    let back = organization::from_fhir(&fhir).unwrap();
    assert_eq!(back.code, "TH-001");
    assert_eq!(back.name, i.name);
    assert_eq!(back.kind, i.kind);
    assert_eq!(back.region_code.as_str(), "140521101");
    assert_eq!(back.address, "示例镇");

    let mut bad = fhir.clone();
    bad["type"][0]["coding"][1]["code"] = json!("spa");
    refused(
        organization::from_fhir(&bad).unwrap_err(),
        "Organization.type[0].coding[1].code",
        IssueType::Value,
    );
    let mut bad = fhir.clone();
    bad.as_object_mut().unwrap().remove("identifier");
    refused(
        organization::from_fhir(&bad).unwrap_err(),
        "Organization.identifier",
        IssueType::Required,
    );
}

fn load(name: &str) -> Value {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn synthea_style_transaction_parses_into_an_ordered_plan() {
    let b = load("transaction-synthea-style.json");
    let plan = bundle::parse_transaction(&b, today()).unwrap();
    assert_eq!(plan.entry_count, 4);
    // Patient first, then the Encounter that references it, then the
    // Observation, then the Condition (which came first in the bundle but
    // references both the Patient and the Encounter).
    let order: Vec<(usize, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.index, s.op.resource_type()))
        .collect();
    assert_eq!(
        order,
        vec![
            (1, "Patient"),
            (2, "Encounter"),
            (3, "Observation"),
            (0, "Condition")
        ]
    );
    assert!(plan.steps.iter().all(|s| s.method == Method::Post));
    let Op::Patient(p) = &plan.steps[0].op else {
        panic!("patient first")
    };
    assert_eq!(p.input.name, "测试甲");
    assert_eq!(p.input.id_number, "140521195803090170");
    let Op::Record(enc) = &plan.steps[1].op else {
        panic!("record")
    };
    // 01:30Z is 09:30 China Standard Time.
    assert_eq!(enc.occurred_at_text(), "2026-11-02T09:30:00");
    assert_eq!(enc.title, "内科门诊");
    assert_eq!(plan.steps[1].depends_on, vec![1]);
    let Op::Record(cond) = &plan.steps[3].op else {
        panic!("record")
    };
    assert_eq!(cond.code, "I10");
    assert_eq!(plan.steps[3].depends_on, vec![1, 2]);
    // Resolving placeholders with the ids the server created.
    let mut created = std::collections::HashMap::new();
    created.insert(
        "urn:uuid:3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d".to_string(),
        "500".to_string(),
    );
    assert_eq!(cond.patient.resolve(&created).as_deref(), Some("500"));
    let Op::Record(obs) = &plan.steps[2].op else {
        panic!("record")
    };
    assert_eq!((obs.value.as_str(), obs.abnormal), ("7.8", true));

    let resp = bundle::transaction_response(&[EntryResult {
        status: "201 Created".into(),
        location: "Patient/500/_history/1".into(),
        etag: yilian_fhir::etag(1),
    }]);
    assert_eq!(resp["type"], "transaction-response");
}

#[test]
fn a_transaction_with_any_bad_entry_is_refused_whole_naming_every_entry() {
    let mut b = load("transaction-synthea-style.json");
    let good = synthetic_id().to_string();
    let bad = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('1') { '2' } else { '1' }
    );
    b["entry"][1]["resource"]["identifier"][0]["value"] = json!(bad);
    b["entry"][3]["request"]["method"] = json!("DELETE");
    let o = bundle::parse_transaction(&b, today()).unwrap_err();
    let paths: Vec<&str> = o
        .issues
        .iter()
        .filter_map(|i| i.expression.as_deref())
        .collect();
    assert_eq!(
        paths,
        vec![
            "Bundle.entry[1].resource.identifier[0].value",
            "Bundle.entry[3].request.method"
        ]
    );
    assert_eq!(o.status, 400);

    // A placeholder that points nowhere.
    let mut b = load("transaction-synthea-style.json");
    b["entry"][2]["resource"]["subject"]["reference"] =
        json!("urn:uuid:00000000-0000-4000-8000-000000000000");
    let o = bundle::parse_transaction(&b, today()).unwrap_err();
    refused(
        o,
        "Bundle.entry[2].resource.subject.reference",
        IssueType::NotFound,
    );

    // A placeholder of the wrong type.
    let mut b = load("transaction-synthea-style.json");
    b["entry"][0]["resource"]["encounter"]["reference"] =
        json!("urn:uuid:3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
    refused(
        bundle::parse_transaction(&b, today()).unwrap_err(),
        "Bundle.entry[0].resource.encounter.reference",
        IssueType::Value,
    );

    // Not a transaction.
    let mut b = load("transaction-synthea-style.json");
    b["type"] = json!("batch");
    refused(
        bundle::parse_transaction(&b, today()).unwrap_err(),
        "Bundle.type",
        IssueType::NotSupported,
    );

    // Duplicate fullUrl.
    let mut b = load("transaction-synthea-style.json");
    b["entry"][3]["fullUrl"] = b["entry"][0]["fullUrl"].clone();
    refused(
        bundle::parse_transaction(&b, today()).unwrap_err(),
        "Bundle.entry[3].fullUrl",
        IssueType::Duplicate,
    );

    // PUT whose url and id disagree.
    let mut b = load("transaction-synthea-style.json");
    b["entry"][1]["request"] = json!({ "method": "PUT", "url": "Patient/9" });
    b["entry"][1]["resource"]["id"] = json!("8");
    refused(
        bundle::parse_transaction(&b, today()).unwrap_err(),
        "Bundle.entry[1].resource.id",
        IssueType::Invariant,
    );
}

#[test]
fn searchset_pages_with_next_and_previous_links() {
    let page = SearchPage {
        base: "https://yilian.example/fhir".into(),
        resource_type: "Patient".into(),
        params: vec![("name".into(), "测试".into())],
        total: 45,
        count: 20,
        offset: 20,
        matches: vec![patient::to_fhir(&resident())],
        included: vec![],
    };
    let b = page.to_bundle();
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 45);
    let link = |rel: &str| {
        b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == rel)
            .map(|l| l["url"].as_str().unwrap().to_string())
    };
    assert_eq!(
        link("self").unwrap(),
        "https://yilian.example/fhir/Patient?name=%E6%B5%8B%E8%AF%95&_count=20&_offset=20"
    );
    assert!(link("next").unwrap().ends_with("_count=20&_offset=40"));
    assert!(
        link("previous")
            .unwrap()
            .ends_with("name=%E6%B5%8B%E8%AF%95&_count=20")
    );
    assert_eq!(
        b["entry"][0]["fullUrl"],
        "https://yilian.example/fhir/Patient/42"
    );
    assert_eq!(b["entry"][0]["search"]["mode"], "match");
    // Last page: no next.
    let last = SearchPage { offset: 40, ..page }.to_bundle();
    assert!(
        !last["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next")
    );
    assert_eq!(bundle::paging(None, None).unwrap(), (20, 0));
    assert_eq!(bundle::paging(Some("1000"), Some("5")).unwrap(), (200, 5));
    refused(
        bundle::paging(Some("-1"), None).unwrap_err(),
        "_count",
        IssueType::Value,
    );
}

#[test]
fn capability_statement_states_only_what_is_given() {
    let c = Capabilities {
        base_url: "https://yilian.example/fhir".into(),
        software_version: "0.1.0".into(),
        date: "2026-11-22".into(),
        resources: vec![
            ResourceSupport::new(
                "Patient",
                &[
                    Interaction::Read,
                    Interaction::SearchType,
                    Interaction::Create,
                    Interaction::Update,
                ],
            )
            .search(&[
                ("_id", ParamType::Token),
                ("identifier", ParamType::Token),
                ("name", ParamType::String),
                ("birthdate", ParamType::Date),
            ])
            .versioned(),
            ResourceSupport::new("Organization", &[Interaction::Read]),
        ],
        transaction: true,
        security_description: None,
    };
    let s = capability::capability_statement(&c);
    assert_eq!(s["resourceType"], "CapabilityStatement");
    assert_eq!(s["fhirVersion"], "4.0.1");
    assert_eq!(s["kind"], "instance");
    let res = s["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0]["searchParam"].as_array().unwrap().len(), 4);
    assert_eq!(res[0]["versioning"], "versioned-update");
    assert!(res[1].get("searchParam").is_none());
    assert_eq!(res[1]["interaction"].as_array().unwrap().len(), 1);
    assert_eq!(s["rest"][0]["interaction"][0]["code"], "transaction");
}
