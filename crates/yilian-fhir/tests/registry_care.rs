//! Practitioner, PractitionerRole, Location, CareTeam, EpisodeOfCare,
//! Consent and Coverage: emitted elements, round trips, and refusals that
//! name the element path. All data is synthetic.

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::contract::ContractStatus;
use yilian_domain::id_number::{IdNumber, Sex, mod11_2_check};
use yilian_domain::record::GranteeKind;
use yilian_domain::registry::{InstitutionKind, Insurance, Profession, TeamRole};
use yilian_fhir::care::{
    self, CARE_TEAM_KIND_SYSTEM, CONTRACT_STATUS_EXTENSION, ContractFhir,
    SECONDARY_HOSPITAL_EXTENSION, SERVICE_PACKAGE_SYSTEM, TEAM_CAPACITY_EXTENSION,
    TEAM_CODE_SYSTEM, TEAM_ROLE_SYSTEM, TeamFhir, TeamMemberFhir,
};
use yilian_fhir::consent::{self, CONSORTIUM_ID_SYSTEM, ConsentFhir, Grantee};
use yilian_fhir::coverage::{self, CoverageFhir, INSURANCE_TYPE_SYSTEM};
use yilian_fhir::identifiers::{INSTITUTION_CODE_SYSTEM, PRACTITIONER_CODE_SYSTEM};
use yilian_fhir::json::Node;
use yilian_fhir::location::{
    self, LocationIn, REGION_CODE_SYSTEM, RegionFhir, SiteFhir, region_location_id,
};
use yilian_fhir::practitioner::{
    self, MAIN_SITE_EXTENSION, PROFESSION_SYSTEM, PracticeSite, PractitionerFhir,
};
use yilian_fhir::reference::Ref;
use yilian_fhir::{IssueType, Outcome};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn stored(t: &str, id: &str) -> Ref {
    Ref::Stored {
        resource_type: t.into(),
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

/// Applies `f` to a copy of `base` and returns the refusal of `parse`.
fn refuse<T: std::fmt::Debug>(
    base: &Value,
    parse: impl Fn(&Value) -> Result<T, Outcome>,
    f: impl Fn(&mut Value),
) -> Outcome {
    let mut v = base.clone();
    f(&mut v);
    parse(&v).unwrap_err()
}

fn remove(v: &mut Value, key: &str) {
    v.as_object_mut().unwrap().remove(key);
}

// ------------------------------------------------------------------ fixtures

fn doctor() -> PractitionerFhir {
    PractitionerFhir {
        id: 31,
        code: "P-140521-0031".into(),
        name: "测试医生".into(),
        sex: "female".into(),
        profession: Profession::LicensedPhysician,
        specialty: Some("全科医学".into()),
        is_gp: true,
        is_tcm: true,
        phone: "14500005678".into(),
        sites: vec![
            PracticeSite {
                institution_id: 7,
                code: "H-TOWN-01".into(),
                name: "示例镇卫生院".into(),
            },
            PracticeSite {
                institution_id: 2,
                code: "H-COUNTY-01".into(),
                name: "示例县人民医院".into(),
            },
        ],
        version: Some(2),
        last_updated: Some("2026-11-20T08:00:00+08:00".into()),
    }
}

fn site() -> SiteFhir {
    SiteFhir {
        institution_id: 7,
        code: "H-TOWN-01".into(),
        name: "示例镇卫生院".into(),
        kind: InstitutionKind::TownshipHealthCenter,
        region_code: "140521101".into(),
        address: "示例镇示例路1号".into(),
        lon: Some(112.85),
        lat: Some(35.49),
        version: Some(4),
    }
}

fn village() -> RegionFhir {
    RegionFhir {
        code: "140521101201".into(),
        name: "示例村".into(),
        lon: Some(112.9),
        lat: Some(35.5),
        version: Some(1),
    }
}

fn team() -> TeamFhir {
    TeamFhir {
        id: 5,
        code: "T-140521101-01".into(),
        name: "示例镇家庭医生一队".into(),
        institution_id: 7,
        institution_name: "示例镇卫生院".into(),
        capacity: 1800,
        members: vec![
            TeamMemberFhir {
                practitioner_id: 31,
                name: "测试医生".into(),
                role: TeamRole::Lead,
            },
            TeamMemberFhir {
                practitioner_id: 32,
                name: "测试护士".into(),
                role: TeamRole::Nurse,
            },
            TeamMemberFhir {
                practitioner_id: 33,
                name: "测试村医".into(),
                role: TeamRole::VillageDoctor,
            },
        ],
        version: Some(3),
    }
}

fn contract() -> ContractFhir {
    ContractFhir {
        id: 900,
        resident_id: 42,
        team_id: 5,
        team_name: "示例镇家庭医生一队".into(),
        doctor_id: 31,
        doctor_name: "测试医生".into(),
        institution_id: Some(7),
        start_date: "2026-03-01".into(),
        end_date: "2027-02-28".into(),
        status: ContractStatus::Active,
        packages: vec!["basic".into(), "chronic".into()],
        secondary_hospital_id: Some(2),
        tertiary_hospital_id: Some(1),
        fee_fen: 12_050,
        cancel_reason: None,
        previous_id: Some(850),
        version: Some(1),
    }
}

fn consent_row() -> ConsentFhir {
    ConsentFhir {
        id: 77,
        resident_id: 42,
        grantee_kind: GranteeKind::Institution,
        grantee_id: 2,
        grantee_name: "示例县人民医院".into(),
        starts_on: "2026-11-22".into(),
        ends_on: "2027-05-21".into(),
        note: "复诊期间调阅".into(),
        revoked_at: None,
        created_at: "2026-11-22T09:15:00".into(),
    }
}

fn coverage_row() -> CoverageFhir {
    CoverageFhir {
        resident_id: 42,
        resident_name: "测试甲".into(),
        insurance: Insurance::Resident,
        version: Some(3),
    }
}

/// Every resource type this file maps, as emitted (for the outside
/// validator: `YILIAN_FHIR_SAMPLES=dir cargo test` writes them there).
fn samples() -> Vec<(&'static str, Value)> {
    let mut cancelled = contract();
    cancelled.status = ContractStatus::Cancelled;
    cancelled.cancel_reason = Some("迁出本乡镇".into());
    let mut consortium = consent_row();
    consortium.grantee_kind = GranteeKind::Consortium;
    consortium.grantee_id = 3;
    consortium.grantee_name = "示例县医共体".into();
    consortium.revoked_at = Some("2026-12-01T10:00:00".into());
    vec![
        ("Practitioner", practitioner::to_fhir(&doctor())),
        (
            "PractitionerRole",
            practitioner::role_to_fhir(&doctor().roles()[0]),
        ),
        ("Location", location::site_to_fhir(&site())),
        ("Location", location::region_to_fhir(&village()).unwrap()),
        ("CareTeam", care::team_to_fhir(&team())),
        ("EpisodeOfCare", care::contract_to_fhir(&contract())),
        ("EpisodeOfCare", care::contract_to_fhir(&cancelled)),
        ("Consent", consent::to_fhir(&consent_row())),
        ("Consent", consent::to_fhir(&consortium)),
        ("Coverage", coverage::to_fhir(&coverage_row()).unwrap()),
    ]
}

#[test]
fn samples_are_written_for_the_outside_validator() {
    let all = samples();
    for (rt, v) in &all {
        assert_eq!(v["resourceType"], *rt);
    }
    if let Ok(dir) = std::env::var("YILIAN_FHIR_SAMPLES") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, (rt, v)) in all.iter().enumerate() {
            let p = format!("{dir}/{i:02}-{rt}.json");
            std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
        }
    }
}

// ------------------------------------------------------------------ Practitioner

#[test]
fn practitioner_emits_code_name_and_qualifications() {
    let v = practitioner::to_fhir(&doctor());
    assert_eq!(v["id"], "31");
    assert_eq!(v["meta"]["versionId"], "2");
    assert_eq!(v["identifier"][0]["system"], PRACTITIONER_CODE_SYSTEM);
    assert_eq!(v["identifier"][0]["value"], "P-140521-0031");
    assert_eq!(v["name"][0]["text"], "测试医生");
    assert_eq!(v["gender"], "female");
    assert_eq!(v["telecom"][0]["value"], "14500005678");
    let q = v["qualification"].as_array().unwrap();
    assert_eq!(q.len(), 4);
    assert_eq!(q[0]["code"]["coding"][0]["system"], PROFESSION_SYSTEM);
    assert_eq!(q[0]["code"]["coding"][0]["code"], "licensed_physician");
    assert_eq!(q[1]["code"]["coding"][0]["code"], "gp");
    assert_eq!(q[2]["code"]["coding"][0]["code"], "tcm");
    assert_eq!(q[3]["code"]["text"], "全科医学");
    let mut plain = doctor();
    plain.phone.clear();
    plain.is_gp = false;
    plain.is_tcm = false;
    plain.specialty = None;
    let v = practitioner::to_fhir(&plain);
    assert!(v.get("telecom").is_none());
    assert_eq!(v["qualification"].as_array().unwrap().len(), 1);
}

#[test]
fn practitioner_round_trip() {
    let back = practitioner::from_fhir(&practitioner::to_fhir(&doctor())).unwrap();
    assert_eq!(back.id.as_deref(), Some("31"));
    assert_eq!(back.code, "P-140521-0031");
    assert_eq!(back.name, "测试医生");
    assert_eq!(back.sex, Sex::Female);
    assert_eq!(back.profession, Profession::LicensedPhysician);
    assert_eq!(back.specialty.as_deref(), Some("全科医学"));
    assert!(back.is_gp && back.is_tcm);
    assert_eq!(back.phone, "14500005678");
    assert_eq!(back.paths.get("code"), "Practitioner.identifier[0].value");
    assert_eq!(
        back.paths.get("profession"),
        "Practitioner.qualification[0].code.coding[0].code"
    );
    // family + given, and no phone.
    let mut v = practitioner::to_fhir(&doctor());
    v["name"] = json!([{ "family": "测", "given": ["试", "医生"] }]);
    remove(&mut v, "telecom");
    let back = practitioner::from_fhir(&v).unwrap();
    assert_eq!(back.name, "测试医生");
    assert_eq!(back.phone, "");
}

#[test]
fn practitioner_refusals_name_their_elements() {
    let base = practitioner::to_fhir(&doctor());
    let p = practitioner::from_fhir;
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Patient")),
        "Practitioner.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["specialty"] = json!("x")),
        "Practitioner.specialty",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "identifier")),
        "Practitioner.identifier",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| v["identifier"][0]["value"] = json!("P 31")),
        "Practitioner.identifier[0].value",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| remove(v, "name")),
        "Practitioner.name",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| v["name"][0]["text"] = json!("x1")),
        "Practitioner.name[0].text",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| remove(v, "gender")),
        "Practitioner.gender",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| v["gender"] = json!("other")),
        "Practitioner.gender",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["telecom"][0]["value"] = json!("12345")),
        "Practitioner.telecom[0].value",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["qualification"][0]["code"]["coding"][0]["code"] = json!("surgeon")
        }),
        "Practitioner.qualification[0].code.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            let q = v["qualification"].as_array_mut().unwrap();
            q.remove(0);
        }),
        "Practitioner.qualification",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["qualification"][1]["code"]["coding"][0]["code"] = json!("dentist")
        }),
        "Practitioner.qualification[1].code.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            let q = v["qualification"].as_array_mut().unwrap();
            let first = q[0].clone();
            q.push(first);
        }),
        "Practitioner.qualification[4].code.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["qualification"][3]["code"]
                .as_object_mut()
                .unwrap()
                .remove("text");
        }),
        "Practitioner.qualification[3].code.text",
        IssueType::Required,
    );
    let o = refuse(&base, p, |v| v["qualification"] = json!([]));
    refused(
        o.clone(),
        "Practitioner.qualification",
        IssueType::Structure,
    );
    assert_eq!(o.status, 400);
}

#[test]
fn practitioner_roles_link_practitioner_site_and_location() {
    let roles = doctor().roles();
    assert_eq!(roles.len(), 2);
    let main = practitioner::role_to_fhir(&roles[0]);
    assert_eq!(main["id"], "31-7");
    assert_eq!(main["practitioner"]["reference"], "Practitioner/31");
    assert_eq!(main["organization"]["reference"], "Organization/7");
    assert_eq!(main["location"][0]["reference"], "Location/7");
    assert_eq!(main["code"][0]["coding"][0]["code"], "doctor");
    assert_eq!(main["code"][0]["coding"][1]["code"], "licensed_physician");
    assert_eq!(main["specialty"][0]["text"], "全科医学");
    assert_eq!(main["extension"][0]["url"], MAIN_SITE_EXTENSION);
    assert_eq!(main["extension"][0]["valueBoolean"], true);
    let second = practitioner::role_to_fhir(&roles[1]);
    assert_eq!(second["id"], "31-2");
    assert_eq!(second["extension"][0]["valueBoolean"], false);

    let back = practitioner::role_from_fhir(&main).unwrap();
    assert_eq!(back.id.as_deref(), Some("31-7"));
    assert_eq!(back.practitioner, stored("Practitioner", "31"));
    assert_eq!(back.institution, stored("Organization", "7"));
    assert!(back.main);
    assert_eq!(back.profession, Some(Profession::LicensedPhysician));
    assert_eq!(back.specialty.as_deref(), Some("全科医学"));
    assert_eq!(practitioner::parse_role_id("31-7"), Some((31, 7)));

    // A nurse has the HL7 `nurse` role; a technician only yilian's code.
    let mut nurse = roles[0].clone();
    nurse.profession = Profession::RegisteredNurse;
    assert_eq!(
        practitioner::role_to_fhir(&nurse)["code"][0]["coding"][0]["code"],
        "nurse"
    );
    nurse.profession = Profession::Technician;
    let t = practitioner::role_to_fhir(&nurse);
    assert_eq!(t["code"][0]["coding"][0]["system"], PROFESSION_SYSTEM);

    // In a transaction the practitioner may be a placeholder.
    let mut v = main.clone();
    v["practitioner"] = json!({ "reference": "urn:uuid:0f6c2f54-3b0e-4d5e-9a59-0b7a1e2f3c4d" });
    let r = practitioner::role_from_fhir(&v).unwrap();
    assert!(matches!(r.practitioner, Ref::Placeholder(_)));
}

#[test]
fn practitioner_role_refusals_name_their_elements() {
    let base = practitioner::role_to_fhir(&doctor().roles()[0]);
    let p = practitioner::role_from_fhir;
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Practitioner")),
        "PractitionerRole.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["qualification"] = json!([])),
        "PractitionerRole.qualification",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "organization")),
        "PractitionerRole.organization",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["organization"] = json!({ "reference": "Location/7" })
        }),
        "PractitionerRole.organization.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["practitioner"] = json!({ "reference": "Practitioner/a b" })
        }),
        "PractitionerRole.practitioner.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["code"][0]["coding"][1]["code"] = json!("x")),
        "PractitionerRole.code[0].coding[1].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["active"] = json!(false)),
        "PractitionerRole.active",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| {
            v["extension"][0]["valueBoolean"] = json!("yes")
        }),
        "PractitionerRole.extension[0].valueBoolean",
        IssueType::Structure,
    );
}

// ------------------------------------------------------------------ Location

#[test]
fn site_location_round_trip() {
    let v = location::site_to_fhir(&site());
    assert_eq!(v["id"], "7");
    assert_eq!(v["identifier"][0]["system"], INSTITUTION_CODE_SYSTEM);
    assert_eq!(v["managingOrganization"]["reference"], "Organization/7");
    assert_eq!(v["partOf"]["reference"], "Location/region-140521101");
    assert_eq!(v["physicalType"]["coding"][0]["code"], "si");
    assert_eq!(v["position"]["longitude"], 112.85);
    assert_eq!(v["address"]["text"], "示例镇示例路1号");
    assert_eq!(v["address"]["extension"][0]["valueCode"], "140521101");
    let LocationIn::Site(s) = location::from_fhir(&v).unwrap() else {
        panic!("a site")
    };
    assert_eq!(s.id.as_deref(), Some("7"));
    assert_eq!(s.institution, stored("Organization", "7"));
    assert_eq!(s.name.as_deref(), Some("示例镇卫生院"));
    assert_eq!(s.address, "示例镇示例路1号");
    assert_eq!(s.region_code.as_str(), "140521101");
    let pos = s.position.unwrap();
    assert_eq!((pos.lon, pos.lat), (112.85, 35.49));
    // No coordinates, no position.
    let mut bare = site();
    bare.lat = None;
    assert!(location::site_to_fhir(&bare).get("position").is_none());
}

#[test]
fn region_location_round_trip() {
    let v = location::region_to_fhir(&village()).unwrap();
    assert_eq!(v["id"], region_location_id("140521101201"));
    assert_eq!(v["identifier"][0]["system"], REGION_CODE_SYSTEM);
    assert_eq!(v["type"][0]["coding"][0]["code"], "village");
    assert_eq!(v["physicalType"]["coding"][0]["code"], "jdn");
    assert_eq!(v["partOf"]["reference"], "Location/region-140521101");
    assert!(v.get("managingOrganization").is_none());
    let LocationIn::Region(r) = location::from_fhir(&v).unwrap() else {
        panic!("a region")
    };
    assert_eq!(r.code.as_str(), "140521101201");
    assert_eq!(r.parent_code.unwrap().as_str(), "140521101");
    assert_eq!(r.name, "示例村");
    assert!(r.position.is_some());
    // A province has no partOf.
    let prov = RegionFhir {
        code: "140000".into(),
        name: "示例省".into(),
        lon: None,
        lat: None,
        version: None,
    };
    let v = location::region_to_fhir(&prov).unwrap();
    assert!(v.get("partOf").is_none());
    assert!(
        location::region_to_fhir(&RegionFhir {
            code: "1".into(),
            ..prov
        })
        .is_none()
    );
}

#[test]
fn location_refusals_name_their_elements() {
    let base = location::site_to_fhir(&site());
    let p = location::from_fhir;
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Organization")),
        "Location.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["coordinates"] = json!([1, 2])),
        "Location.coordinates",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| {
            v["managingOrganization"] = json!({ "reference": "Patient/7" })
        }),
        "Location.managingOrganization.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["position"]["latitude"] = json!(60.0)),
        "Location.position",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["position"].as_object_mut().unwrap().remove("longitude");
        }),
        "Location.position.longitude",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "address")),
        "Location.address",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["address"]["extension"][0]["valueCode"] = json!("990000")
        }),
        "Location.address.extension[0].valueCode",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["partOf"] = json!({ "reference": "Location/region-140521102" })
        }),
        "Location.partOf.reference",
        IssueType::Invariant,
    );
    refused(
        refuse(&base, p, |v| {
            v["physicalType"]["coding"][0]["code"] = json!("jdn")
        }),
        "Location.physicalType.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["mode"] = json!("kind")),
        "Location.mode",
        IssueType::NotSupported,
    );
    // Regions.
    let region = location::region_to_fhir(&village()).unwrap();
    refused(
        refuse(&region, p, |v| remove(v, "identifier")),
        "Location.managingOrganization",
        IssueType::Required,
    );
    refused(
        refuse(&region, p, |v| {
            v["identifier"][0]["value"] = json!("14052110120")
        }),
        "Location.identifier[0].value",
        IssueType::Value,
    );
    refused(
        refuse(&region, p, |v| remove(v, "name")),
        "Location.name",
        IssueType::Required,
    );
    refused(
        refuse(&region, p, |v| {
            v["partOf"] = json!({ "reference": "Location/region-140521" })
        }),
        "Location.partOf.reference",
        IssueType::Invariant,
    );
    refused(
        refuse(&region, p, |v| {
            v["address"]["extension"][0]["valueCode"] = json!("140521101202")
        }),
        "Location.address.extension[0].valueCode",
        IssueType::Invariant,
    );
}

// ------------------------------------------------------------------ CareTeam

#[test]
fn care_team_emits_members_roles_and_capacity() {
    let v = care::team_to_fhir(&team());
    assert_eq!(v["id"], "5");
    assert_eq!(v["identifier"][0]["system"], TEAM_CODE_SYSTEM);
    assert_eq!(v["status"], "active");
    assert_eq!(v["category"][0]["coding"][0]["code"], "LA28865-6");
    assert_eq!(
        v["category"][0]["coding"][1]["system"],
        CARE_TEAM_KIND_SYSTEM
    );
    assert_eq!(v["managingOrganization"][0]["reference"], "Organization/7");
    assert_eq!(v["extension"][0]["url"], TEAM_CAPACITY_EXTENSION);
    assert_eq!(v["extension"][0]["valueInteger"], 1800);
    let parts = v["participant"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0]["member"]["reference"], "Practitioner/31");
    assert_eq!(parts[0]["role"][0]["coding"][0]["system"], TEAM_ROLE_SYSTEM);
    assert_eq!(parts[0]["role"][0]["coding"][0]["code"], "lead");
    assert_eq!(parts[2]["role"][0]["coding"][0]["code"], "village_doctor");
}

#[test]
fn care_team_round_trip() {
    let back = care::team_from_fhir(&care::team_to_fhir(&team())).unwrap();
    assert_eq!(back.id.as_deref(), Some("5"));
    assert_eq!(back.code, "T-140521101-01");
    assert_eq!(back.name, "示例镇家庭医生一队");
    assert_eq!(back.institution, stored("Organization", "7"));
    assert_eq!(back.capacity, 1800);
    let members: Vec<(Ref, TeamRole)> = back
        .members
        .iter()
        .map(|m| (m.practitioner.clone(), m.role))
        .collect();
    assert_eq!(
        members,
        vec![
            (stored("Practitioner", "31"), TeamRole::Lead),
            (stored("Practitioner", "32"), TeamRole::Nurse),
            (stored("Practitioner", "33"), TeamRole::VillageDoctor),
        ]
    );
    assert_eq!(back.references().len(), 4);
    assert_eq!(
        back.member_path(1),
        "CareTeam.participant[1].member.reference"
    );
    assert_eq!(
        back.paths.get("capacity"),
        "CareTeam.extension[0].valueInteger"
    );
    // Inside a bundle the paths start at the entry.
    let v = care::team_to_fhir(&team());
    let b = care::team_from_fhir_at(&Node::new(&v, "Bundle.entry[1].resource")).unwrap();
    assert_eq!(
        b.paths.get("institution_code"),
        "Bundle.entry[1].resource.managingOrganization[0].reference"
    );
}

#[test]
fn care_team_refusals_name_their_elements() {
    let base = care::team_to_fhir(&team());
    let p = care::team_from_fhir;
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Group")),
        "CareTeam.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["members"] = json!([])),
        "CareTeam.members",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "managingOrganization")),
        "CareTeam.managingOrganization",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "extension")),
        "CareTeam.extension",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| v["extension"][0]["valueInteger"] = json!(0)),
        "CareTeam.extension[0].valueInteger",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| remove(v, "identifier")),
        "CareTeam.identifier",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "name")),
        "CareTeam.name",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["participant"][1]["member"] = json!({ "reference": "Patient/42" })
        }),
        "CareTeam.participant[1].member.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["participant"][2]["role"][0]["coding"][0]["code"] = json!("driver")
        }),
        "CareTeam.participant[2].role[0].coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["participant"][2]["role"][0]["coding"][0]["system"] = json!("http://snomed.info/sct")
        }),
        "CareTeam.participant[2].role",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["participant"][1]["role"][0]["coding"][0]["code"] = json!("lead")
        }),
        "CareTeam.participant",
        IssueType::Invariant,
    );
    refused(
        refuse(&base, p, |v| {
            v["participant"][2]["member"]["reference"] = json!("Practitioner/32")
        }),
        "CareTeam.participant[2].member.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["status"] = json!("inactive")),
        "CareTeam.status",
        IssueType::NotSupported,
    );
}

// ------------------------------------------------------------------ EpisodeOfCare

#[test]
fn episode_of_care_emits_the_contract() {
    let v = care::contract_to_fhir(&contract());
    assert_eq!(v["id"], "900");
    assert_eq!(v["status"], "active");
    assert_eq!(v["patient"]["reference"], "Patient/42");
    assert_eq!(v["managingOrganization"]["reference"], "Organization/7");
    assert_eq!(v["careManager"]["reference"], "Practitioner/31");
    assert_eq!(v["team"][0]["reference"], "CareTeam/5");
    assert_eq!(v["period"]["start"], "2026-03-01");
    assert_eq!(v["period"]["end"], "2027-02-28");
    assert_eq!(v["type"][0]["coding"][0]["system"], SERVICE_PACKAGE_SYSTEM);
    assert_eq!(v["type"][1]["coding"][0]["code"], "chronic");
    let ext = v["extension"].as_array().unwrap();
    let find = |url: &str| ext.iter().find(|x| x["url"] == url).cloned().unwrap();
    assert_eq!(
        find(CONTRACT_STATUS_EXTENSION)["valueCoding"]["code"],
        "active"
    );
    assert_eq!(
        find(SECONDARY_HOSPITAL_EXTENSION)["valueReference"]["reference"],
        "Organization/2"
    );
    assert_eq!(
        find(care::CONTRACT_FEE_EXTENSION)["valueMoney"]["value"],
        120.5
    );
    assert_eq!(
        find(care::CONTRACT_FEE_EXTENSION)["valueMoney"]["currency"],
        "CNY"
    );
    assert_eq!(
        find(care::PREVIOUS_CONTRACT_EXTENSION)["valueReference"]["reference"],
        "EpisodeOfCare/850"
    );
    // Every contract state has its FHIR status; the exact one rides along.
    for (s, fhir) in [
        (ContractStatus::Active, "active"),
        (ContractStatus::Renewed, "finished"),
        (ContractStatus::Transferred, "finished"),
        (ContractStatus::Expired, "finished"),
        (ContractStatus::Cancelled, "cancelled"),
    ] {
        let mut c = contract();
        c.status = s;
        c.cancel_reason = Some("迁出".into());
        let v = care::contract_to_fhir(&c);
        assert_eq!(v["status"], fhir, "{s}");
        assert_eq!(v["extension"][0]["valueCoding"]["code"], s.as_str());
        assert!(
            v["extension"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["url"] == care::CANCEL_REASON_EXTENSION)
        );
    }
}

#[test]
fn episode_of_care_round_trips_into_a_sign_request() {
    let v = care::contract_to_fhir(&contract());
    let back = care::contract_from_fhir(&v, today()).unwrap();
    assert_eq!(back.id.as_deref(), Some("900"));
    assert_eq!(back.patient, stored("Patient", "42"));
    assert_eq!(back.team, stored("CareTeam", "5"));
    assert_eq!(back.doctor, Some(stored("Practitioner", "31")));
    assert_eq!(
        back.managing_organization,
        Some(stored("Organization", "7"))
    );
    assert_eq!(back.packages, vec!["basic".to_string(), "chronic".into()]);
    assert_eq!(back.start_date, NaiveDate::from_ymd_opt(2026, 3, 1));
    assert_eq!(back.secondary_hospital, Some(stored("Organization", "2")));
    assert_eq!(back.tertiary_hospital, Some(stored("Organization", "1")));
    assert_eq!(back.references().len(), 6);
    assert_eq!(back.paths.get("team_id"), "EpisodeOfCare.team[0].reference");
    assert_eq!(back.paths.get("packages"), "EpisodeOfCare.type");
    // The least a client sends: patient and team; start defaults to today.
    let min = json!({
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "patient": { "reference": "Patient/42" },
        "team": [{ "reference": "CareTeam/5" }],
        "period": { "end": "2027-11-21" },
    });
    let m = care::contract_from_fhir(&min, today()).unwrap();
    assert_eq!(m.start_date, None);
    assert!(m.doctor.is_none() && m.packages.is_empty());
}

#[test]
fn episode_of_care_refusals_name_their_elements() {
    let base = care::contract_to_fhir(&contract());
    let p = |v: &Value| care::contract_from_fhir(v, today());
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("CareTeam")),
        "EpisodeOfCare.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["packages"] = json!(["basic"])),
        "EpisodeOfCare.packages",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "patient")),
        "EpisodeOfCare.patient",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "status")),
        "EpisodeOfCare.status",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "team")),
        "EpisodeOfCare.team",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["team"][0]["reference"] = json!("Organization/7")
        }),
        "EpisodeOfCare.team[0].reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["patient"]["reference"] = json!("https://his.example/fhir/Patient/1")
        }),
        "EpisodeOfCare.patient.reference",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| {
            v["careManager"]["reference"] = json!("urn:uuid:x")
        }),
        "EpisodeOfCare.careManager.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["status"] = json!("finished")),
        "EpisodeOfCare.status",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| v["status"] = json!("done")),
        "EpisodeOfCare.status",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["type"][1]["coding"][0]["code"] = json!("慢病 包")
        }),
        "EpisodeOfCare.type[1].coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["period"]["end"] = json!("2027-03-01")),
        "EpisodeOfCare.period.end",
        IssueType::Invariant,
    );
    refused(
        refuse(&base, p, |v| v["period"]["start"] = json!("2026-03")),
        "EpisodeOfCare.period.start",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["extension"][1]["valueReference"]["reference"] = json!("Practitioner/2")
        }),
        "EpisodeOfCare.extension[1].valueReference.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["extension"][0]["valueCoding"]["code"] = json!("cancelled")
        }),
        "EpisodeOfCare.extension[0].valueCoding.code",
        IssueType::Invariant,
    );
    refused(
        refuse(&base, p, |v| {
            v["team"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "reference": "CareTeam/6" }))
        }),
        "EpisodeOfCare.team[1]",
        IssueType::NotSupported,
    );
}

// ------------------------------------------------------------------ Consent

#[test]
fn consent_emits_scope_category_policy_and_provision() {
    let v = consent::to_fhir(&consent_row());
    assert_eq!(v["status"], "active");
    assert_eq!(v["scope"]["coding"][0]["code"], "patient-privacy");
    assert_eq!(v["category"][0]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(v["category"][0]["coding"][0]["code"], "64292-6");
    assert_eq!(v["patient"]["reference"], "Patient/42");
    assert_eq!(v["performer"][0]["reference"], "Patient/42");
    assert_eq!(v["dateTime"], "2026-11-22T09:15:00+08:00");
    assert!(v["policyRule"]["coding"][0]["code"].is_string());
    assert_eq!(v["provision"]["type"], "permit");
    assert_eq!(v["provision"]["period"]["end"], "2027-05-21");
    assert_eq!(
        v["provision"]["actor"][0]["role"]["coding"][0]["code"],
        "IRCP"
    );
    assert_eq!(
        v["provision"]["actor"][0]["reference"]["reference"],
        "Organization/2"
    );
    assert_eq!(v["provision"]["action"][0]["coding"][0]["code"], "access");
    // Revoked → inactive; a consortium is a logical reference.
    let mut c = consent_row();
    c.revoked_at = Some("2026-12-01T10:00:00".into());
    c.grantee_kind = GranteeKind::Consortium;
    c.grantee_id = 3;
    let v = consent::to_fhir(&c);
    assert_eq!(v["status"], "inactive");
    let g = &v["provision"]["actor"][0]["reference"];
    assert!(g.get("reference").is_none());
    assert_eq!(g["identifier"]["system"], CONSORTIUM_ID_SYSTEM);
    assert_eq!(g["identifier"]["value"], "3");
    assert!(
        v["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["valueDateTime"] == "2026-12-01T10:00:00+08:00")
    );
}

#[test]
fn consent_round_trips_into_a_grant() {
    let back = consent::from_fhir(&consent::to_fhir(&consent_row()), today()).unwrap();
    assert_eq!(back.id.as_deref(), Some("77"));
    assert_eq!(back.patient, stored("Patient", "42"));
    assert_eq!(
        back.grantee,
        Grantee::Institution(stored("Organization", "2"))
    );
    assert_eq!(back.grantee.kind(), GranteeKind::Institution);
    assert_eq!(back.starts_on, today());
    assert_eq!(back.ends_on, NaiveDate::from_ymd_opt(2027, 5, 21).unwrap());
    assert_eq!(back.note.as_deref(), Some("复诊期间调阅"));
    assert!(back.active);
    assert_eq!(back.paths.get("ends_on"), "Consent.provision.period.end");
    let mut c = consent_row();
    c.grantee_kind = GranteeKind::Consortium;
    c.grantee_id = 3;
    c.revoked_at = Some("2026-12-01T10:00:00".into());
    c.ends_on = "2026-11-30".into();
    c.starts_on = "2026-11-01".into();
    // Revoking: the period may have started in the past.
    let back = consent::from_fhir(&consent::to_fhir(&c), today()).unwrap();
    assert_eq!(back.grantee, Grantee::Consortium(3));
    assert!(!back.active);
}

#[test]
fn consent_refusals_name_their_elements() {
    let base = consent::to_fhir(&consent_row());
    let p = |v: &Value| consent::from_fhir(v, today());
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Contract")),
        "Consent.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["grantee"] = json!("x")),
        "Consent.grantee",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "patient")),
        "Consent.patient",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "scope")),
        "Consent.scope",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "category")),
        "Consent.category",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["scope"]["coding"][0]["code"] = json!("research")
        }),
        "Consent.scope.coding[0].code",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| v["status"] = json!("draft")),
        "Consent.status",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| {
            v["patient"]["reference"] = json!("Practitioner/31")
        }),
        "Consent.patient.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["provision"]["type"] = json!("deny")),
        "Consent.provision.type",
        IssueType::NotSupported,
    );
    refused(
        refuse(&base, p, |v| {
            v["provision"]["period"]
                .as_object_mut()
                .unwrap()
                .remove("end");
        }),
        "Consent.provision.period.end",
        IssueType::Required,
    );
    let o = refuse(&base, p, |v| {
        v["provision"]["period"]["end"] = json!("2026-11-21")
    });
    refused(o.clone(), "Consent.provision.period.end", IssueType::Value);
    assert_eq!(o.first().yilian_code, "invalid_consent_period");
    refused(
        refuse(&base, p, |v| {
            v["provision"]["period"]["start"] = json!("2027-06-01")
        }),
        "Consent.provision.period.start",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["provision"]["period"]["end"] = json!("2030-11-22")
        }),
        "Consent.provision.period.end",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["provision"]["actor"][0]["reference"] = json!({ "reference": "Patient/42" })
        }),
        "Consent.provision.actor[0].reference.reference",
        IssueType::Value,
    );
    refused(
        refuse(
            &base,
            p,
            |v| {
                v["provision"]["actor"][0]["reference"] =
                    json!({ "identifier": { "system": CONSORTIUM_ID_SYSTEM, "value": "c3" } })
            },
        ),
        "Consent.provision.actor[0].reference.identifier.value",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["provision"]["actor"][0]["reference"] = json!({ "display": "某医院" })
        }),
        "Consent.provision.actor[0].reference.reference",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["provision"]["actor"][0]["role"]["coding"][0]["code"] = json!("AUT")
        }),
        "Consent.provision.actor[0].role.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| {
            v["extension"][0]["valueString"] = json!("长".repeat(201))
        }),
        "Consent.extension[0].valueString",
        IssueType::Value,
    );
}

// ------------------------------------------------------------------ Coverage

#[test]
fn coverage_emits_the_scheme_and_round_trips() {
    let v = coverage::to_fhir(&coverage_row()).unwrap();
    assert_eq!(v["id"], "42");
    assert_eq!(v["status"], "active");
    assert_eq!(v["type"]["coding"][0]["system"], INSURANCE_TYPE_SYSTEM);
    assert_eq!(v["type"]["coding"][0]["code"], "resident");
    assert_eq!(v["type"]["text"], "城乡居民基本医疗保险");
    assert_eq!(v["beneficiary"]["reference"], "Patient/42");
    assert_eq!(v["payor"][0]["display"], coverage::PAYOR_DISPLAY);
    let back = coverage::from_fhir(&v).unwrap();
    assert_eq!(back.id.as_deref(), Some("42"));
    assert_eq!(back.patient, stored("Patient", "42"));
    assert_eq!(back.insurance, Insurance::Resident);
    let mut emp = coverage_row();
    emp.insurance = Insurance::Employee;
    let back = coverage::from_fhir(&coverage::to_fhir(&emp).unwrap()).unwrap();
    assert_eq!(back.insurance, Insurance::Employee);
    // Uninsured: no Coverage; a cancelled Coverage sets `none`.
    emp.insurance = Insurance::Uninsured;
    assert!(coverage::to_fhir(&emp).is_none());
    let mut cancelled = v.clone();
    cancelled["status"] = json!("cancelled");
    assert_eq!(
        coverage::from_fhir(&cancelled).unwrap().insurance,
        Insurance::Uninsured
    );
}

#[test]
fn coverage_refusals_name_their_elements() {
    let base = coverage::to_fhir(&coverage_row()).unwrap();
    let p = coverage::from_fhir;
    refused(
        refuse(&base, p, |v| v["resourceType"] = json!("Claim")),
        "Coverage.resourceType",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| v["insurer"] = json!({})),
        "Coverage.insurer",
        IssueType::Structure,
    );
    refused(
        refuse(&base, p, |v| remove(v, "beneficiary")),
        "Coverage.beneficiary",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "payor")),
        "Coverage.payor",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| remove(v, "type")),
        "Coverage.type",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["type"]["coding"].as_array_mut().unwrap().remove(0);
        }),
        "Coverage.type.coding",
        IssueType::Required,
    );
    refused(
        refuse(&base, p, |v| {
            v["type"]["coding"][0]["code"] = json!("commercial")
        }),
        "Coverage.type.coding[0].code",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["type"]["coding"][0]["code"] = json!("none")),
        "Coverage.type.coding[0].code",
        IssueType::Invariant,
    );
    refused(
        refuse(&base, p, |v| {
            v["beneficiary"]["reference"] = json!("Organization/42")
        }),
        "Coverage.beneficiary.reference",
        IssueType::Value,
    );
    refused(
        refuse(&base, p, |v| v["status"] = json!("draft")),
        "Coverage.status",
        IssueType::NotSupported,
    );
}

#[test]
fn synthetic_identity_numbers_only() {
    // The resident behind Patient/42 in these fixtures (as in tests/fhir.rs).
    let id = IdNumber::build("140521", NaiveDate::from_ymd_opt(1958, 3, 9).unwrap(), 17).unwrap();
    let s = id.to_string();
    assert_eq!(mod11_2_check(&s[..17]), s.chars().last());
}

#[test]
fn an_updated_episode_of_care_is_a_contract_event() {
    use yilian_domain::contract::ContractStatus as S;
    use yilian_fhir::care::contract_change_from_fhir;
    let ext = |code: &str| json!({ "url": "https://yilian.example/fhir/StructureDefinition/contract-status", "valueCoding": { "system": "https://yilian.example/fhir/CodeSystem/contract-status", "code": code } });
    let ep = |status: &str, exts: Vec<Value>| {
        let mut v = json!({ "resourceType": "EpisodeOfCare", "id": "5", "status": status, "patient": { "reference": "Patient/1" }, "team": [{ "reference": "CareTeam/2" }] });
        if !exts.is_empty() {
            v["extension"] = json!(exts);
        }
        v
    };
    // Unchanged: no event.
    let c = contract_change_from_fhir(&ep("active", vec![]), S::Active).unwrap();
    assert_eq!(c.event, None);
    // Cancelled with its reason.
    let reason = json!({ "url": "https://yilian.example/fhir/StructureDefinition/contract-cancel-reason", "valueString": "迁出本县" });
    let c = contract_change_from_fhir(&ep("cancelled", vec![reason]), S::Active).unwrap();
    assert_eq!(
        (c.event, c.reason.as_deref()),
        (Some("cancel"), Some("迁出本县"))
    );
    // finished needs the exact state.
    let e = contract_change_from_fhir(&ep("finished", vec![]), S::Active).unwrap_err();
    assert_eq!(e.expression(), Some("EpisodeOfCare.extension"));
    let c =
        contract_change_from_fhir(&ep("finished", vec![ext("transferred")]), S::Active).unwrap();
    assert_eq!(c.event, Some("transfer"));
    assert_eq!(
        c.team,
        Some(yilian_fhir::reference::Ref::Stored {
            resource_type: "CareTeam".into(),
            id: "2".into()
        })
    );
    // The extension must agree with status.
    let e = contract_change_from_fhir(&ep("active", vec![ext("expired")]), S::Active).unwrap_err();
    assert_eq!(
        e.expression(),
        Some("EpisodeOfCare.extension[0].valueCoding.code")
    );
    // Back to active from a closed contract is 409 at the status.
    let e = contract_change_from_fhir(&ep("active", vec![]), S::Expired).unwrap_err();
    assert_eq!(e.status, 409);
}
