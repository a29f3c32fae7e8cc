//! Claim / ClaimResponse, MeasureReport and AuditEvent: the elements each
//! mapper emits, the Claim round trip, and refusals of bad Claims with their
//! element paths. All data is synthetic.
//!
//! With `YILIAN_FHIR_DUMP_DIR` set, `dump_emitted_resources` writes every
//! resource built here to that directory (one JSON file each) for the
//! outside validator: `scripts/fhir-validate.sh <dir>`.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use yilian_domain::access::Role;
use yilian_domain::insurance::{
    AppliedRule, BenefitLevel, ClaimState, CostCategory, CostItem, ReferralContext, Setting,
};
use yilian_domain::monitoring::{IndicatorSource, TieredCounts, TieredIndicator};
use yilian_domain::plan::{
    self, Direction, Measure, Nature, PlanIndicator, PlanIndicatorCode, Status, Target, Unit,
};
use yilian_domain::record::Ground;
use yilian_domain::registry::Insurance;
use yilian_fhir::audit::{self, AccessFhir};
use yilian_fhir::claim::{self, ClaimDiagnosis, ClaimFhir, ClaimIn};
use yilian_fhir::identifiers::ICD10_SYSTEM;
use yilian_fhir::json::Node;
use yilian_fhir::measure::{self, IndicatorFhir, MeasureReportFhir, MeasureScope};
use yilian_fhir::reference::Ref;
use yilian_fhir::{IssueType, Outcome};

fn stored(rt: &str, id: &str) -> Ref {
    Ref::Stored {
        resource_type: rt.into(),
        id: id.into(),
    }
}

fn refused(o: Outcome, path: &str, code: IssueType) {
    assert_eq!(o.expression(), Some(path), "{o}");
    assert_eq!(o.first().code, code, "{o}");
    let j = o.to_json();
    assert_eq!(j["resourceType"], "OperationOutcome");
    assert_eq!(j["issue"][0]["expression"][0], path);
}

fn claim_row() -> ClaimFhir {
    ClaimFhir {
        id: 7,
        resident_id: 42,
        resident_name: "测试甲".into(),
        institution_id: 3,
        institution_name: "示例镇卫生院".into(),
        referral_id: Some(5),
        encounter_entry_id: Some(900),
        service_date: "2026-11-02".into(),
        scheme: Insurance::Resident,
        setting: Setting::Outpatient,
        level: BenefitLevel::Primary,
        referral_context: ReferralContext::None,
        in_county: true,
        items: vec![
            CostItem {
                category: CostCategory::Drugs,
                amount_fen: 12_050,
                covered: true,
            },
            CostItem {
                category: CostCategory::Exams,
                amount_fen: 3_000,
                covered: false,
            },
        ],
        diagnoses: vec![ClaimDiagnosis {
            code: "I10".into(),
            title: "原发性高血压".into(),
        }],
        total_fen: 15_050,
        covered_fen: 12_050,
        uncovered_fen: 3_000,
        deductible_fen: 0,
        ratio_bp: 7_000,
        fund_fen: 8_435,
        resident_fen: 6_615,
        capped_fen: 0,
        policy_id: "syn-2026".into(),
        rules: vec![
            AppliedRule {
                code: "uncovered_items".into(),
                zh: "目录外费用 30.00 元由个人负担".into(),
                en: "30.00 yuan outside the catalogue is the resident's".into(),
            },
            AppliedRule {
                code: "ratio".into(),
                zh: "按 70% 报销".into(),
                en: "reimbursed at 70 %".into(),
            },
        ],
        state: ClaimState::Entered,
        reject_reason: None,
        created_at: "2026-11-02T10:15:00".into(),
        updated_at: "2026-11-02T10:15:00".into(),
        version: Some(1),
        insurer_name: "示例县医疗保障局".into(),
        insurer_id: None,
    }
}

fn when() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 2)
        .unwrap()
        .and_hms_opt(10, 15, 0)
        .unwrap()
}

#[test]
fn claim_emits_the_required_elements() {
    let c = claim::to_fhir(&claim_row());
    assert_eq!(c["resourceType"], "Claim");
    assert_eq!(c["id"], "7");
    assert_eq!(c["meta"]["versionId"], "1");
    assert_eq!(c["status"], "active");
    assert_eq!(c["use"], "claim");
    assert_eq!(c["type"]["coding"][0]["system"], claim::CLAIM_TYPE_SYSTEM);
    assert_eq!(c["type"]["coding"][0]["code"], "professional");
    assert_eq!(c["subType"]["coding"][0]["code"], "outpatient");
    assert_eq!(c["patient"]["reference"], "Patient/42");
    assert_eq!(c["created"], "2026-11-02T10:15:00+08:00");
    assert_eq!(c["provider"]["reference"], "Organization/3");
    assert_eq!(c["priority"]["coding"][0]["code"], "normal");
    assert_eq!(
        c["billablePeriod"],
        json!({"start": "2026-11-02", "end": "2026-11-02"})
    );
    assert_eq!(c["referral"]["reference"], "ServiceRequest/5");
    let ins = &c["insurance"][0];
    assert_eq!(ins["sequence"], 1);
    assert_eq!(ins["focal"], true);
    assert_eq!(ins["coverage"]["reference"], "Coverage/42");
    assert_eq!(ins["coverage"]["display"], "城乡居民医保");
    let dx = &c["diagnosis"][0];
    assert_eq!(dx["sequence"], 1);
    assert_eq!(
        dx["diagnosisCodeableConcept"]["coding"][0]["system"],
        ICD10_SYSTEM
    );
    assert_eq!(dx["diagnosisCodeableConcept"]["coding"][0]["code"], "I10");
    let items = c["item"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["sequence"], 1);
    assert_eq!(
        items[0]["productOrService"]["coding"][0],
        json!({"system": claim::COST_CATEGORY_SYSTEM, "code": "drugs", "display": "药品费"})
    );
    assert_eq!(items[0]["net"], json!({"value": 120.5, "currency": "CNY"}));
    assert_eq!(
        items[1]["extension"][0]["url"],
        claim::ITEM_COVERED_EXTENSION
    );
    assert_eq!(items[1]["extension"][0]["valueBoolean"], false);
    assert_eq!(items[1]["servicedDate"], "2026-11-02");
    assert_eq!(items[0]["encounter"][0]["reference"], "Encounter/900");
    assert_eq!(c["total"], json!({"value": 150.5, "currency": "CNY"}));

    let mut row = claim_row();
    row.scheme = Insurance::Uninsured;
    row.setting = Setting::Inpatient;
    row.referral_id = None;
    row.diagnoses.clear();
    let c = claim::to_fhir(&row);
    assert_eq!(c["insurance"][0]["coverage"], json!({"display": "未参保"}));
    assert_eq!(c["type"]["coding"][0]["code"], "institutional");
    assert_eq!(c["billablePeriod"], json!({"end": "2026-11-02"}));
    assert!(c.get("referral").is_none() && c.get("diagnosis").is_none());
}

#[test]
fn claim_response_carries_the_adjudication() {
    let r = claim::response_to_fhir(&claim_row());
    assert_eq!(r["resourceType"], "ClaimResponse");
    assert_eq!(r["id"], "7");
    for el in [
        "status", "type", "use", "patient", "created", "insurer", "outcome",
    ] {
        assert!(r.get(el).is_some(), "ClaimResponse.{el} is required");
    }
    assert_eq!(r["status"], "active");
    assert_eq!(r["use"], "claim");
    assert_eq!(r["outcome"], "partial");
    assert_eq!(r["insurer"], json!({"display": "示例县医疗保障局"}));
    assert_eq!(r["request"]["reference"], "Claim/7");
    assert_eq!(r["requestor"]["reference"], "Organization/3");
    assert_eq!(r["disposition"], "已录入");
    let total = |sys: &str, code: &str| -> Value {
        r["total"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["category"]["coding"][0]["system"] == sys
                    && t["category"]["coding"][0]["code"] == code
            })
            .map(|t| t["amount"]["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(total(claim::ADJUDICATION_SYSTEM, "submitted"), json!(150.5));
    assert_eq!(total(claim::ADJUDICATION_SYSTEM, "eligible"), json!(120.5));
    assert_eq!(total(claim::ADJUDICATION_SYSTEM, "deductible"), json!(0.0));
    assert_eq!(total(claim::ADJUDICATION_SYSTEM, "benefit"), json!(84.35));
    assert_eq!(
        total(claim::YILIAN_ADJUDICATION_SYSTEM, "resident"),
        json!(66.15)
    );
    assert_eq!(
        total(claim::YILIAN_ADJUDICATION_SYSTEM, "uncovered"),
        json!(30.0)
    );
    assert_eq!(
        r["adjudication"][0]["category"]["coding"][0]["code"],
        "eligpercent"
    );
    assert_eq!(r["adjudication"][0]["value"], json!(70.0));
    assert_eq!(r["item"][1]["itemSequence"], 2);
    assert_eq!(
        r["item"][1]["adjudication"][1]["amount"]["value"],
        json!(0.0)
    );
    let ext = |url: &str| -> Vec<Value> {
        r["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == url)
            .cloned()
            .collect()
    };
    assert_eq!(
        ext(claim::BENEFIT_LEVEL_EXTENSION)[0]["valueCoding"]["code"],
        "primary"
    );
    assert_eq!(ext(claim::IN_COUNTY_EXTENSION)[0]["valueBoolean"], true);
    assert_eq!(
        ext(claim::REFERRAL_CONTEXT_EXTENSION)[0]["valueCoding"]["code"],
        "none"
    );
    assert_eq!(
        ext(claim::CLAIM_STATE_EXTENSION)[0]["valueCoding"]["code"],
        "entered"
    );
    assert_eq!(
        ext(claim::POLICY_VERSION_EXTENSION)[0]["valueString"],
        "syn-2026"
    );
    let rules = ext(claim::APPLIED_RULE_EXTENSION);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1]["valueCoding"]["code"], "ratio");
    assert_eq!(r["processNote"][0]["number"], 1);
    assert_eq!(r["processNote"][1]["text"], "按 70% 报销");
    assert!(r.get("payment").is_none() && r.get("error").is_none());

    let mut row = claim_row();
    row.state = ClaimState::Valuated;
    row.insurer_id = Some(99);
    let r = claim::response_to_fhir(&row);
    assert_eq!(r["outcome"], "complete");
    assert_eq!(r["payment"]["amount"]["value"], json!(84.35));
    assert_eq!(r["insurer"]["reference"], "Organization/99");

    row.state = ClaimState::Rejected;
    row.reject_reason = Some("重复收费".into());
    row.insurer_name.clear();
    let r = claim::response_to_fhir(&row);
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["error"][0]["code"]["text"], "重复收费");
    assert_eq!(r["disposition"], "已拒付：重复收费");
    assert_eq!(r["insurer"]["display"], claim::DEFAULT_INSURER_DISPLAY);
}

fn expected_in() -> ClaimIn {
    ClaimIn {
        id: Some("7".into()),
        patient: stored("Patient", "42"),
        provider: stored("Organization", "3"),
        created: when(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        setting: Setting::Outpatient,
        items: claim_row().items,
        referral: Some(stored("ServiceRequest", "5")),
        encounter: Some(stored("Encounter", "900")),
        diagnoses: vec!["I10".into()],
    }
}

#[test]
fn claim_in_round_trips() {
    let back = claim::from_fhir(&claim::to_fhir(&claim_row())).unwrap();
    assert_eq!(back, expected_in());
    assert_eq!(back.service_date_text(), "2026-11-02");
    assert_eq!(back.references().len(), 4);

    let mut row = claim_row();
    row.setting = Setting::Inpatient;
    row.scheme = Insurance::Uninsured;
    row.referral_id = None;
    row.encounter_entry_id = None;
    let back = claim::from_fhir(&claim::to_fhir(&row)).unwrap();
    assert_eq!(back.setting, Setting::Inpatient);
    assert_eq!(back.referral, None);
    assert_eq!(back.encounter, None);
    assert_eq!(back.items, row.items);

    // A minimal hospital submission inside a transaction, with placeholders.
    let v = json!({
        "resourceType": "Claim",
        "status": "active",
        "type": { "coding": [{ "system": claim::CLAIM_TYPE_SYSTEM, "code": "professional" }] },
        "use": "claim",
        "patient": { "reference": "urn:uuid:3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" },
        "created": "2026-11-02T02:15:00Z",
        "provider": { "reference": "Organization/3" },
        "priority": { "coding": [{ "system": claim::PROCESS_PRIORITY_SYSTEM, "code": "normal" }] },
        "insurance": [{ "sequence": 1, "focal": true, "coverage": { "display": "城乡居民医保" } }],
        "item": [{
            "sequence": 1,
            "productOrService": { "coding": [{ "system": claim::COST_CATEGORY_SYSTEM, "code": "treatment" }] },
            "servicedDate": "2026-11-02",
            "net": { "value": 45, "currency": "CNY" },
        }],
    });
    let n = Node::new(&v, "Bundle.entry[1].resource");
    let c = claim::from_fhir_at(&n).unwrap();
    assert_eq!(c.created, when());
    assert_eq!(
        c.patient,
        Ref::Placeholder("urn:uuid:3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into())
    );
    assert_eq!(
        c.items,
        vec![CostItem {
            category: CostCategory::Treatment,
            amount_fen: 4_500,
            covered: true
        }]
    );
    assert_eq!(
        c.service_date,
        NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
    );
}

/// The emitted Claim with `edit` applied, read back: the refusal.
fn refuse(edit: impl FnOnce(&mut Value)) -> Outcome {
    let mut v = claim::to_fhir(&claim_row());
    edit(&mut v);
    claim::from_fhir(&v).expect_err("must be refused")
}

#[test]
fn bad_claims_are_refused_at_their_elements() {
    use IssueType::*;
    refused(refuse(|v| v["foo"] = json!(1)), "Claim.foo", Structure);
    refused(
        refuse(|v| v["resourceType"] = json!("ClaimResponse")),
        "Claim.resourceType",
        Structure,
    );
    refused(
        refuse(|v| v["status"] = json!("draft")),
        "Claim.status",
        NotSupported,
    );
    refused(
        refuse(|v| v["status"] = json!("open")),
        "Claim.status",
        Value,
    );
    refused(
        refuse(|v| v["use"] = json!("preauthorization")),
        "Claim.use",
        NotSupported,
    );
    refused(
        refuse(|v| v["type"]["coding"][0]["code"] = json!("oral")),
        "Claim.type.coding[0].code",
        NotSupported,
    );
    refused(
        refuse(|v| v["type"]["coding"][0]["system"] = json!("http://example.org/x")),
        "Claim.type.coding",
        Required,
    );
    refused(
        refuse(|v| v["subType"]["coding"][0]["code"] = json!("inpatient")),
        "Claim.subType.coding[0].code",
        Invariant,
    );
    refused(
        refuse(|v| v["subType"]["coding"][0]["code"] = json!("daycare")),
        "Claim.subType.coding[0].code",
        Value,
    );
    refused(
        refuse(|v| {
            v.as_object_mut().unwrap().remove("patient");
        }),
        "Claim.patient",
        Required,
    );
    refused(
        refuse(|v| v["provider"]["reference"] = json!("Patient/3")),
        "Claim.provider.reference",
        Value,
    );
    refused(
        refuse(|v| {
            v.as_object_mut().unwrap().remove("provider");
        }),
        "Claim.provider",
        Required,
    );
    refused(
        refuse(|v| {
            v.as_object_mut().unwrap().remove("priority");
        }),
        "Claim.priority",
        Required,
    );
    refused(
        refuse(|v| v["created"] = json!("2026-11-02T10:15:00")),
        "Claim.created",
        Value,
    );
    refused(
        refuse(|v| {
            v.as_object_mut().unwrap().remove("insurance");
        }),
        "Claim.insurance",
        Required,
    );
    refused(
        refuse(|v| v["insurance"][0]["focal"] = json!(false)),
        "Claim.insurance[0].focal",
        Invariant,
    );
    refused(
        refuse(|v| v["insurance"][0]["coverage"]["reference"] = json!("Patient/42")),
        "Claim.insurance[0].coverage.reference",
        Value,
    );
    refused(
        refuse(|v| v["insurance"][0]["sequence"] = json!(0)),
        "Claim.insurance[0].sequence",
        Structure,
    );
    refused(
        refuse(|v| v["referral"]["reference"] = json!("Task/5")),
        "Claim.referral.reference",
        Value,
    );
    refused(
        refuse(|v| {
            v["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] =
                json!("hypertension")
        }),
        "Claim.diagnosis[0].diagnosisCodeableConcept.coding[0].code",
        Value,
    );
    refused(
        refuse(|v| {
            v["diagnosis"][0]
                .as_object_mut()
                .unwrap()
                .remove("diagnosisCodeableConcept");
            v["diagnosis"][0]["diagnosisReference"] = json!({"reference": "Condition/1"});
        }),
        "Claim.diagnosis[0].diagnosisReference",
        NotSupported,
    );
    refused(
        refuse(|v| {
            v.as_object_mut().unwrap().remove("item");
        }),
        "Claim.item",
        Required,
    );
    refused(refuse(|v| v["item"] = json!([])), "Claim.item", Structure);
    refused(
        refuse(|v| v["item"][0]["bar"] = json!(1)),
        "Claim.item[0].bar",
        Structure,
    );
    refused(
        refuse(|v| v["item"][1]["productOrService"]["coding"][0]["code"] = json!("food")),
        "Claim.item[1].productOrService.coding[0].code",
        Value,
    );
    refused(
        refuse(|v| v["item"][1]["net"]["value"] = json!(30.005)),
        "Claim.item[1].net.value",
        Value,
    );
    refused(
        refuse(|v| v["item"][0]["net"]["value"] = json!(-1)),
        "Claim.item[0].net.value",
        Value,
    );
    refused(
        refuse(|v| v["item"][0]["net"]["value"] = json!("120.50")),
        "Claim.item[0].net.value",
        Structure,
    );
    refused(
        refuse(|v| v["item"][0]["net"]["currency"] = json!("USD")),
        "Claim.item[0].net.currency",
        Value,
    );
    refused(
        refuse(|v| {
            v["item"][0].as_object_mut().unwrap().remove("net");
            v["item"][0]["unitPrice"] = json!({"value": 1, "currency": "CNY"});
        }),
        "Claim.item[0].net",
        Required,
    );
    refused(
        refuse(|v| v["item"][0]["detail"] = json!([{"sequence": 1}])),
        "Claim.item[0].detail",
        NotSupported,
    );
    refused(
        refuse(|v| v["item"][1]["servicedDate"] = json!("2026-11-01")),
        "Claim.item[1].servicedDate",
        Invariant,
    );
    refused(
        refuse(|v| v["item"][1]["encounter"][0]["reference"] = json!("Encounter/901")),
        "Claim.item[1].encounter[0].reference",
        NotSupported,
    );
    refused(
        refuse(|v| v["item"][1]["extension"][0]["valueBoolean"] = json!("no")),
        "Claim.item[1].extension[0].valueBoolean",
        Structure,
    );
    refused(
        refuse(|v| v["total"]["value"] = json!(150.49)),
        "Claim.total.value",
        Invariant,
    );
    refused(
        refuse(|v| {
            let o = v.as_object_mut().unwrap();
            o.remove("billablePeriod");
            for it in o["item"].as_array_mut().unwrap() {
                it.as_object_mut().unwrap().remove("servicedDate");
            }
        }),
        "Claim.billablePeriod",
        Required,
    );
    refused(
        refuse(|v| v["billablePeriod"]["start"] = json!("2026-11-03")),
        "Claim.billablePeriod.end",
        Invariant,
    );
}

#[test]
fn server_field_names_map_to_claim_paths() {
    assert_eq!(
        claim::claim_field_path("Claim", "items[2].category"),
        "Claim.item[2].productOrService"
    );
    assert_eq!(
        claim::claim_field_path("Claim", "items[0].amount_fen"),
        "Claim.item[0].net.value"
    );
    assert_eq!(
        claim::claim_field_path("Bundle.entry[3].resource", "referral_id"),
        "Bundle.entry[3].resource.referral.reference"
    );
    assert_eq!(
        claim::claim_field_path("Claim", "institution_id"),
        "Claim.provider.reference"
    );
    assert_eq!(claim::claim_field_path("Claim", "whatever"), "Claim");
}

fn beds_indicator() -> PlanIndicator {
    PlanIndicator {
        code: PlanIndicatorCode::BedsPer1000,
        name: "每千人口医疗卫生机构床位数".into(),
        unit: Unit::Per1000,
        baseline_year: 2025,
        baseline: Some(5.2),
        target_year: 2030,
        target: Target::Value(6.5),
        direction: Direction::AtLeast,
        nature: Nature::Expected,
    }
}

fn plan_report() -> MeasureReportFhir {
    let ind = beds_indicator();
    let m = Measure {
        value: Some(5.5),
        numerator: 1_100.0,
        denominator: 200_000.0,
        parts: vec![],
    };
    let at = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let status = plan::status(&ind, m.value, None, at);
    let fhir = IndicatorFhir::from_plan(&ind, &m, ind.target_value(None), status);
    MeasureReportFhir::single(
        measure::report_id(&["plan", ind.code.as_str(), "140521", "2026-11-22"]),
        fhir,
        MeasureScope::Region {
            code: "140521".into(),
            name: "示例县".into(),
        },
        "2026-01-01".into(),
        "2026-11-22".into(),
        Some("2026-11-22".into()),
    )
}

#[test]
fn plan_indicator_measure_report() {
    let r = measure::to_fhir(&plan_report());
    assert_eq!(r["resourceType"], "MeasureReport");
    assert_eq!(r["id"], "plan-beds-per-1000-140521-2026-11-22");
    assert_eq!(r["status"], "complete");
    assert_eq!(r["type"], "summary");
    assert_eq!(
        r["measure"],
        "https://yilian.example/fhir/Measure/beds_per_1000"
    );
    assert_eq!(
        r["subject"]["identifier"]["system"],
        measure::REGION_CODE_SID
    );
    assert_eq!(r["subject"]["identifier"]["value"], "140521");
    assert_eq!(r["subject"]["display"], "示例县");
    assert!(r.get("reporter").is_none());
    assert_eq!(
        r["period"],
        json!({"start": "2026-01-01", "end": "2026-11-22"})
    );
    assert_eq!(r["date"], "2026-11-22T00:00:00+08:00");
    assert_eq!(r["improvementNotation"]["coding"][0]["code"], "increase");
    let g = &r["group"][0];
    assert_eq!(
        g["code"]["coding"][0]["system"],
        measure::PLAN_INDICATOR_SYSTEM
    );
    assert_eq!(g["code"]["coding"][0]["code"], "beds_per_1000");
    assert_eq!(g["code"]["text"], "每千人口医疗卫生机构床位数");
    assert_eq!(g["population"][0]["code"]["coding"][0]["code"], "numerator");
    assert_eq!(g["population"][0]["count"], 1100);
    assert_eq!(
        g["population"][1]["code"]["coding"][0]["code"],
        "denominator"
    );
    assert_eq!(g["population"][1]["count"], 200_000);
    assert_eq!(
        g["measureScore"],
        json!({"value": 5.5, "unit": "每千人口", "system": measure::INDICATOR_UNIT_SYSTEM, "code": "per_1000"})
    );
    let ext = g["extension"].as_array().unwrap();
    assert_eq!(ext[0]["url"], measure::TARGET_EXTENSION);
    assert_eq!(ext[0]["valueQuantity"]["value"], json!(6.5));
    assert_eq!(ext[1]["url"], measure::PLAN_STATUS_EXTENSION);
    assert_eq!(ext[1]["valueCoding"]["system"], measure::PLAN_STATUS_SYSTEM);
    assert_eq!(ext[1]["valueCoding"]["code"], Status::OnTrack.as_str());
}

fn tiered_counts() -> TieredCounts {
    TieredCounts {
        visits: 1_000,
        visits_primary: 640,
        referrals_up: 12,
        referrals_down: 30,
        capitation_budget_fen: 3_000_000_000,
        capitation_spent_fen: 1_200_000_000,
        ..Default::default()
    }
}

fn tiered_report() -> MeasureReportFhir {
    let k = tiered_counts();
    MeasureReportFhir {
        id: measure::report_id(&["tiered", "institution", "3", "2026-10"]),
        measure_code: measure::TIERED_MEASURE_SET.into(),
        scope: MeasureScope::Institution {
            id: 3,
            name: "示例镇卫生院".into(),
        },
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        date: Some("2026-11-01T06:00:00".into()),
        indicators: vec![
            IndicatorFhir::from_tiered(TieredIndicator::PrimaryVisitShare, &k, Some(65.0)),
            IndicatorFhir::from_tiered(TieredIndicator::ReferralsUp, &k, None),
            IndicatorFhir::from_tiered(TieredIndicator::HtnControlRate, &k, None),
            IndicatorFhir::from_tiered(TieredIndicator::CapitationUse, &k, None),
        ],
    }
}

#[test]
fn tiered_indicator_set_measure_report() {
    let r = measure::to_fhir(&tiered_report());
    assert_eq!(
        r["measure"],
        "https://yilian.example/fhir/Measure/tiered-care-indicators"
    );
    assert!(r.get("subject").is_none());
    assert_eq!(r["reporter"]["reference"], "Organization/3");
    assert_eq!(r["date"], "2026-11-01T06:00:00+08:00");
    // Mixed directions (referrals up: lower is better): no report-level notation.
    assert!(r.get("improvementNotation").is_none());
    let groups = r["group"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    let share = &groups[0];
    assert_eq!(
        share["code"]["coding"][0]["system"],
        measure::TIERED_INDICATOR_SYSTEM
    );
    assert_eq!(share["code"]["coding"][0]["code"], "primary_visit_share");
    assert_eq!(share["population"][0]["count"], 640);
    assert_eq!(share["population"][1]["count"], 1000);
    assert_eq!(
        share["measureScore"],
        json!({"value": 64.0, "unit": "%", "system": measure::UCUM_SYSTEM, "code": "%"})
    );
    assert_eq!(share["extension"][0]["url"], measure::TARGET_EXTENSION);
    assert_eq!(groups[1]["measureScore"]["value"], json!(12.0));
    assert!(groups[1].get("population").is_none());
    // No managed patients: no score, but the zero populations are stated.
    assert!(groups[2].get("measureScore").is_none());
    assert_eq!(groups[2]["population"][1]["count"], 0);
    // Amounts in fen are not population counts.
    assert!(groups[3].get("population").is_none());
    assert_eq!(groups[3]["measureScore"]["value"], json!(40.0));

    let one = IndicatorFhir::from_tiered(TieredIndicator::ReferralsUp, &tiered_counts(), None);
    assert_eq!(one.source, IndicatorSource::Tiered);
    let r = measure::to_fhir(&MeasureReportFhir::single(
        "x".into(),
        one,
        MeasureScope::Consortium {
            id: 2,
            name: "示例医共体".into(),
        },
        "2026-01-01".into(),
        "2026-12-31".into(),
        None,
    ));
    assert_eq!(
        r["measure"],
        "https://yilian.example/fhir/Measure/referrals_up"
    );
    assert_eq!(
        r["subject"]["identifier"]["system"],
        measure::CONSORTIUM_SID
    );
    assert_eq!(r["improvementNotation"]["coding"][0]["code"], "decrease");
    assert_eq!(measure::report_id(&["a_b", "", "c/d"]), "a-b-c-d");
    assert_eq!(measure::report_id(&[&"x".repeat(80)]).len(), 64);
}

fn access(granted: bool) -> AccessFhir {
    AccessFhir {
        id: 1001,
        at: "2026-11-20T08:30:05".into(),
        user_id: Some(17),
        username: "doctor_zhang".into(),
        role: Some(Role::Specialist),
        institution_id: Some(8),
        institution_name: Some("示例县人民医院".into()),
        resident_id: 42,
        part: "timeline".into(),
        ground: granted.then_some(Ground::Referral),
        granted,
        reason: String::new(),
        review: false,
    }
}

#[test]
fn audit_event_from_the_access_log() {
    let e = audit::to_fhir(&access(true));
    assert_eq!(e["resourceType"], "AuditEvent");
    assert_eq!(e["id"], "1001");
    assert_eq!(
        e["type"],
        json!({"system": audit::DICOM_SYSTEM, "code": "110110", "display": "Patient Record"})
    );
    assert_eq!(e["subtype"][0]["code"], "read");
    assert_eq!(e["action"], "R");
    assert_eq!(e["recorded"], "2026-11-20T08:30:05+08:00");
    assert_eq!(e["outcome"], "0");
    let user = &e["agent"][0];
    assert_eq!(user["requestor"], true);
    assert_eq!(user["who"]["identifier"]["system"], audit::USER_SID);
    assert_eq!(user["who"]["identifier"]["value"], "17");
    assert_eq!(user["role"][0]["coding"][0]["code"], "specialist");
    assert_eq!(e["agent"][1]["who"]["reference"], "Organization/8");
    assert_eq!(e["agent"][1]["requestor"], false);
    assert_eq!(e["source"]["observer"]["display"], "yilian");
    assert_eq!(e["source"]["site"], "yilian");
    assert_eq!(e["entity"][0]["what"]["reference"], "Patient/42");
    assert_eq!(
        e["entity"][0]["detail"][0],
        json!({"type": "part", "valueString": "timeline"})
    );
    assert_eq!(e["purposeOfEvent"][0]["coding"][0]["code"], "COC");
    assert_eq!(e["purposeOfEvent"][0]["coding"][1]["code"], "referral");
    assert!(e.get("outcomeDesc").is_none() && e.get("extension").is_none());

    let e = audit::to_fhir(&access(false));
    assert_eq!(e["outcome"], "4");
    assert!(e.get("purposeOfEvent").is_none());
    assert!(e["outcomeDesc"].as_str().unwrap().contains("无调阅依据"));

    let mut a = access(true);
    a.ground = Some(Ground::BreakGlass);
    a.reason = "昏迷急诊".into();
    a.review = true;
    let e = audit::to_fhir(&a);
    assert_eq!(e["purposeOfEvent"][0]["coding"][0]["code"], "BTG");
    assert_eq!(e["extension"][0]["url"], audit::REVIEW_EXTENSION);
    assert!(e["outcomeDesc"].as_str().unwrap().contains("昏迷急诊"));

    let mut a = access(true);
    a.role = Some(Role::Resident);
    a.ground = Some(Ground::Own);
    a.institution_id = None;
    let e = audit::to_fhir(&a);
    assert_eq!(e["agent"][0]["who"]["reference"], "Patient/42");
    assert_eq!(e["agent"].as_array().unwrap().len(), 1);
    assert_eq!(e["purposeOfEvent"][0]["coding"][0]["code"], "PATRQT");
}

/// Writes every resource built above to `$YILIAN_FHIR_DUMP_DIR` (when set)
/// for `scripts/fhir-validate.sh`; does nothing otherwise.
#[test]
fn dump_emitted_resources() {
    let Some(dir) = std::env::var_os("YILIAN_FHIR_DUMP_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut valuated = claim_row();
    valuated.id = 9;
    valuated.state = ClaimState::Valuated;
    let mut rejected = claim_row();
    rejected.id = 8;
    rejected.state = ClaimState::Rejected;
    rejected.reject_reason = Some("重复收费".into());
    rejected.scheme = Insurance::Uninsured;
    rejected.setting = Setting::Inpatient;
    out.push(("claim".into(), claim::to_fhir(&claim_row())));
    out.push(("claim-inpatient".into(), claim::to_fhir(&rejected)));
    out.push((
        "claimresponse".into(),
        claim::response_to_fhir(&claim_row()),
    ));
    out.push((
        "claimresponse-valuated".into(),
        claim::response_to_fhir(&valuated),
    ));
    out.push((
        "claimresponse-rejected".into(),
        claim::response_to_fhir(&rejected),
    ));
    out.push((
        "measurereport-plan".into(),
        measure::to_fhir(&plan_report()),
    ));
    out.push((
        "measurereport-tiered".into(),
        measure::to_fhir(&tiered_report()),
    ));
    out.push(("auditevent-granted".into(), audit::to_fhir(&access(true))));
    out.push(("auditevent-refused".into(), audit::to_fhir(&access(false))));
    let mut own = access(true);
    own.id = 1002;
    own.role = Some(Role::Resident);
    own.ground = Some(Ground::Own);
    out.push(("auditevent-own".into(), audit::to_fhir(&own)));
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": out.iter().map(|(_, r)| json!({
            "fullUrl": format!("https://yilian.example/fhir/{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap()),
            "resource": r,
        })).collect::<Vec<_>>(),
    });
    for (name, r) in out
        .iter()
        .chain([("bundle-claims-measures".to_string(), bundle)].iter())
    {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(r).unwrap()).unwrap();
    }
}
