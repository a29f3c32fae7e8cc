//! Referral (ServiceRequest + Task), scheduling (Schedule / Slot /
//! Appointment) and orders (MedicationRequest / DiagnosticReport): what is
//! emitted, round trips, every Task status, and refusals with element paths.
//! All data is synthetic.
//!
//! With `YILIAN_FHIR_SAMPLES=dir` the test
//! `emitted_samples_for_the_outside_validator` writes every emitted resource
//! there (`referral-orders-NN-Type.json`) for the `fhir.resources` check
//! (`scripts/fhir_validate.py dir`).

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::prescription::DrugClass;
use yilian_domain::referral::{Direction, GreenChannel, ReferralEvent, ReferralState, Urgency};
use yilian_domain::remote::{RemoteKind, RemoteState};
use yilian_fhir::identifiers::ICD10_SYSTEM;
use yilian_fhir::orders::{
    self, DRUG_CLASS_EXTENSION, DRUG_CLASS_SYSTEM, ExamFhir, PATIENT_SIGNED_EXTENSION,
    PrescriptionFhir, RECOGNITION_MARK_SYSTEM, RemoteReadFhir, STABILITY_ASSESSMENT_EXTENSION,
    UCUM_SYSTEM,
};
use yilian_fhir::reference::Ref;
use yilian_fhir::referral::{
    self, FOLLOW_UP_PLAN_EXTENSION, GREEN_CHANNEL_EXTENSION, GREEN_CHANNEL_SYSTEM,
    REFERRAL_DIRECTION_SYSTEM, REFERRAL_STATE_SYSTEM, REFERRAL_TASK_PARAM_SYSTEM,
    RESPONSE_DEADLINE_EXTENSION, ReferralEventFhir, ReferralFhir, SUMMARY_EXTENSION, TaskAction,
};
use yilian_fhir::scheduling::{
    self, AppointmentAction, AppointmentFhir, AppointmentStatus, SLOT_RELEASE_HOURS_EXTENSION,
    SLOT_RESERVED_EXTENSION, ScheduleKey, SlotFhir,
};
use yilian_fhir::{IssueType, Outcome};

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

fn ev(at: &str, event: &str, from: &str, to: &str, note: &str) -> ReferralEventFhir {
    ReferralEventFhir {
        at: at.into(),
        event: event.into(),
        from_state: from.into(),
        to_state: to.into(),
        user_id: Some(5),
        role: "primary_clinician".into(),
        note: note.into(),
    }
}

fn referral(state: ReferralState) -> ReferralFhir {
    ReferralFhir {
        id: 7,
        resident_id: 42,
        resident_name: "测试甲".into(),
        direction: Direction::Up,
        urgency: Urgency::Urgent,
        green_channel: None,
        from_institution_id: 3,
        from_name: "示例镇卫生院".into(),
        to_institution_id: 1,
        to_name: "示例县人民医院".into(),
        to_department: "心内科".into(),
        icd10: "I10".into(),
        diagnosis: "原发性高血压".into(),
        reason: "规律服药三个月血压仍未达标".into(),
        justification: None,
        summary: "血压 165/100 mmHg".into(),
        results: String::new(),
        follow_up_plan: String::new(),
        state,
        submitted_at: (state != ReferralState::Draft).then(|| "2026-11-20T09:00:00".into()),
        deadline_at: (state != ReferralState::Draft).then(|| "2026-11-21T09:00:00".into()),
        decline_reason: (state == ReferralState::Declined).then(|| "本院床位已满".into()),
        redirected_from: None,
        appointment_id: matches!(
            state,
            ReferralState::Scheduled | ReferralState::Arrived | ReferralState::Completed
        )
        .then_some(11),
        version: 2,
        created_at: "2026-11-20T08:55:00".into(),
        updated_at: "2026-11-20T10:00:00".into(),
        events: vec![
            ev("2026-11-20T09:00:00", "create", "draft", "submitted", ""),
            ev(
                "2026-11-20T10:00:00",
                match state {
                    ReferralState::Cancelled => "cancel",
                    ReferralState::Expired => "expire",
                    _ => "accept",
                },
                "submitted",
                state.as_str(),
                if state == ReferralState::Cancelled {
                    "患者要求取消"
                } else {
                    ""
                },
            ),
        ],
    }
}

// ------------------------------------------------------------------ ServiceRequest

#[test]
fn service_request_emits_the_referral() {
    let mut r = referral(ReferralState::Submitted);
    r.green_channel = Some(GreenChannel::Stroke);
    r.urgency = Urgency::Emergency;
    r.redirected_from = Some(5);
    let sr = referral::service_request_to_fhir(&r);
    assert_eq!(sr["resourceType"], "ServiceRequest");
    assert_eq!(sr["id"], "7");
    assert_eq!(sr["meta"]["versionId"], "2");
    assert_eq!(sr["status"], "active");
    assert_eq!(sr["intent"], "order");
    assert_eq!(sr["priority"], "stat");
    assert_eq!(
        sr["category"][0]["coding"][0]["system"],
        REFERRAL_DIRECTION_SYSTEM
    );
    assert_eq!(sr["category"][0]["coding"][0]["code"], "up");
    assert_eq!(sr["category"][0]["text"], "上转");
    assert_eq!(sr["code"]["coding"][0]["code"], "3457005");
    assert_eq!(sr["subject"]["reference"], "Patient/42");
    assert_eq!(sr["requester"]["reference"], "Organization/3");
    assert_eq!(sr["performer"][0]["reference"], "Organization/1");
    assert_eq!(sr["performerType"]["text"], "心内科");
    assert_eq!(sr["reasonCode"][0]["coding"][0]["system"], ICD10_SYSTEM);
    assert_eq!(sr["reasonCode"][0]["coding"][0]["code"], "I10");
    assert_eq!(sr["reasonCode"][0]["text"], "原发性高血压");
    assert_eq!(sr["note"][0]["text"], "规律服药三个月血压仍未达标");
    assert_eq!(sr["authoredOn"], "2026-11-20T09:00:00+08:00");
    assert_eq!(sr["replaces"][0]["reference"], "ServiceRequest/5");
    let ext = sr["extension"].as_array().unwrap();
    assert!(
        ext.iter()
            .any(|x| x["url"] == GREEN_CHANNEL_EXTENSION && x["valueCoding"]["code"] == "stroke")
    );
    assert!(ext.iter().any(|x| x["url"] == SUMMARY_EXTENSION));
    assert!(
        !ext.iter().any(|x| x["url"] == FOLLOW_UP_PLAN_EXTENSION),
        "empty text is left out"
    );

    for (state, status) in [
        (ReferralState::Draft, "draft"),
        (ReferralState::Submitted, "active"),
        (ReferralState::Accepted, "active"),
        (ReferralState::Declined, "revoked"),
        (ReferralState::Scheduled, "active"),
        (ReferralState::Arrived, "active"),
        (ReferralState::Completed, "completed"),
        (ReferralState::Cancelled, "revoked"),
        (ReferralState::Expired, "revoked"),
    ] {
        assert_eq!(
            referral::service_request_to_fhir(&referral(state))["status"],
            status
        );
    }
}

#[test]
fn service_request_round_trips_into_the_create_input() {
    let mut r = referral(ReferralState::Submitted);
    r.green_channel = Some(GreenChannel::ChestPain);
    r.justification = Some("基层无法开展冠脉造影".into());
    let mut sr = referral::service_request_to_fhir(&r);
    sr.as_object_mut().unwrap().remove("replaces");
    let i = referral::service_request_from_fhir(&sr).unwrap();
    assert_eq!(i.id.as_deref(), Some("7"));
    assert_eq!(i.patient, stored("Patient", "42"));
    assert_eq!(i.requester, Some(stored("Organization", "3")));
    assert_eq!(i.to_institution, stored("Organization", "1"));
    assert_eq!(i.to_department.as_deref(), Some("心内科"));
    assert_eq!(i.direction, Direction::Up);
    assert_eq!(i.urgency, Urgency::Urgent);
    assert_eq!(i.green_channel, Some(GreenChannel::ChestPain));
    assert_eq!(i.icd10, "I10");
    assert_eq!(i.diagnosis, r.diagnosis);
    assert_eq!(i.reason, r.reason);
    assert_eq!(i.justification, r.justification);
    assert_eq!(i.summary.as_deref(), Some("血压 165/100 mmHg"));
    assert_eq!(i.results, None);
    assert!(i.submit);

    let draft = referral::service_request_to_fhir(&referral(ReferralState::Draft));
    assert!(!referral::service_request_from_fhir(&draft).unwrap().submit);
    for (p, u) in [
        ("routine", Urgency::Routine),
        ("asap", Urgency::Urgent),
        ("stat", Urgency::Emergency),
    ] {
        let mut v = draft.clone();
        v["priority"] = json!(p);
        assert_eq!(referral::service_request_from_fhir(&v).unwrap().urgency, u);
    }
    let mut no_priority = draft.clone();
    no_priority.as_object_mut().unwrap().remove("priority");
    assert_eq!(
        referral::service_request_from_fhir(&no_priority)
            .unwrap()
            .urgency,
        Urgency::Routine
    );
}

fn minimal_service_request() -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{ "coding": [{ "system": REFERRAL_DIRECTION_SYSTEM, "code": "up" }] }],
        "subject": { "reference": "Patient/42" },
        "performer": [{ "reference": "Organization/1" }],
        "reasonCode": [{ "coding": [{ "system": ICD10_SYSTEM, "code": "i10", "display": "原发性高血压" }] }],
        "note": [{ "text": "血压控制不佳" }],
    })
}

#[test]
fn service_request_refusals_name_the_element() {
    let ok = minimal_service_request();
    let i = referral::service_request_from_fhir(&ok).unwrap();
    assert_eq!(i.icd10, "I10", "normalised");
    assert_eq!(i.diagnosis, "原发性高血压", "display when there is no text");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        f(&mut v);
        referral::service_request_from_fhir(&v).unwrap_err()
    };
    refused(
        with(&|v| v["resourceType"] = json!("Task")),
        "ServiceRequest.resourceType",
        IssueType::Structure,
    );
    refused(
        with(&|v| v["referralKind"] = json!("x")),
        "ServiceRequest.referralKind",
        IssueType::Structure,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("subject");
        }),
        "ServiceRequest.subject",
        IssueType::Required,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("intent");
        }),
        "ServiceRequest.intent",
        IssueType::Required,
    );
    refused(
        with(&|v| v["subject"]["reference"] = json!("Organization/1")),
        "ServiceRequest.subject.reference",
        IssueType::Value,
    );
    refused(
        with(&|v| v["performer"][0]["reference"] = json!("Organization/a b")),
        "ServiceRequest.performer[0].reference",
        IssueType::Value,
    );
    refused(
        with(&|v| {
            v["performer"] =
                json!([{ "reference": "Organization/1" }, { "reference": "Organization/2" }])
        }),
        "ServiceRequest.performer[1]",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| v["reasonCode"][0]["coding"][0]["code"] = json!("高血压")),
        "ServiceRequest.reasonCode[0].coding[0].code",
        IssueType::Value,
    );
    refused(
        with(&|v| v["reasonCode"][0]["coding"][0]["system"] = json!("http://snomed.info/sct")),
        "ServiceRequest.reasonCode",
        IssueType::Required,
    );
    refused(
        with(&|v| v["category"][0]["coding"][0]["code"] = json!("sideways")),
        "ServiceRequest.category[0].coding[0].code",
        IssueType::Value,
    );
    refused(
        with(&|v| v["status"] = json!("completed")),
        "ServiceRequest.status",
        IssueType::Value,
    );
    refused(
        with(&|v| v["status"] = json!("done")),
        "ServiceRequest.status",
        IssueType::Value,
    );
    refused(
        with(&|v| v["intent"] = json!("proposal")),
        "ServiceRequest.intent",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| v["priority"] = json!("soon")),
        "ServiceRequest.priority",
        IssueType::Value,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("note");
        }),
        "ServiceRequest.note",
        IssueType::Required,
    );
    refused(
        with(&|v| v["replaces"] = json!([{ "reference": "ServiceRequest/5" }])),
        "ServiceRequest.replaces",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| {
            v["extension"] = json!([{ "url": GREEN_CHANNEL_EXTENSION,
                "valueCoding": { "system": GREEN_CHANNEL_SYSTEM, "code": "burns" } }])
        }),
        "ServiceRequest.extension[0].valueCoding.code",
        IssueType::Value,
    );
    // A downward referral is submitted with the discharge summary and plan.
    let o = with(&|v| v["category"][0]["coding"][0]["code"] = json!("down"));
    refused(o.clone(), "ServiceRequest.extension", IssueType::Processing);
    assert_eq!(o.first().yilian_code, "justification_required");
    let mut down = ok.clone();
    down["category"][0]["coding"][0]["code"] = json!("down");
    down["status"] = json!("draft");
    assert!(
        referral::service_request_from_fhir(&down).is_ok(),
        "a draft is checked when submitted"
    );
    down["status"] = json!("active");
    down["extension"] = json!([
        { "url": SUMMARY_EXTENSION, "valueString": "出院小结" },
        { "url": FOLLOW_UP_PLAN_EXTENSION, "valueString": "每两周随访血压" },
    ]);
    assert_eq!(
        referral::service_request_from_fhir(&down)
            .unwrap()
            .direction,
        Direction::Down
    );
}

// ------------------------------------------------------------------ Task

#[test]
fn task_emits_status_business_status_and_trail_for_every_state() {
    for (state, status) in [
        (ReferralState::Draft, "draft"),
        (ReferralState::Submitted, "requested"),
        (ReferralState::Accepted, "accepted"),
        (ReferralState::Declined, "rejected"),
        (ReferralState::Scheduled, "ready"),
        (ReferralState::Arrived, "in-progress"),
        (ReferralState::Completed, "completed"),
        (ReferralState::Cancelled, "cancelled"),
        (ReferralState::Expired, "failed"),
    ] {
        let t = referral::task_to_fhir(&referral(state));
        assert_eq!(t["status"], status, "{state:?}");
        assert_eq!(referral::task_status(state), status);
        assert_eq!(referral::state_for_task_status(status), Some(state));
        assert_eq!(
            t["businessStatus"]["coding"][0]["system"],
            REFERRAL_STATE_SYSTEM
        );
        assert_eq!(t["businessStatus"]["coding"][0]["code"], state.as_str());
        assert_eq!(t["businessStatus"]["text"], state.label_zh());
        assert_eq!(t["intent"], "order");
        assert_eq!(t["focus"]["reference"], "ServiceRequest/7");
        assert_eq!(t["for"]["reference"], "Patient/42");
        assert_eq!(t["owner"]["reference"], "Organization/1");
        assert_eq!(t["requester"]["reference"], "Organization/3");
        assert_eq!(t["priority"], "urgent");
        assert_eq!(t["note"].as_array().unwrap().len(), 2);
        assert!(t["note"][0]["time"].is_string());
        // Round trip: the fetched Task sent back asks for nothing.
        let u = referral::task_from_fhir(&t).unwrap();
        assert_eq!(u.target, state);
        assert_eq!(u.business_status, Some(state));
        assert_eq!(u.action(&referral(state)).unwrap(), TaskAction::Unchanged);
    }
    for s in ["received", "on-hold", "entered-in-error", "nonsense"] {
        assert_eq!(referral::state_for_task_status(s), None);
    }

    let t = referral::task_to_fhir(&referral(ReferralState::Declined));
    assert_eq!(t["statusReason"]["text"], "本院床位已满");
    assert_eq!(t["executionPeriod"]["start"], "2026-11-20T09:00:00+08:00");
    assert_eq!(t["executionPeriod"]["end"], "2026-11-20T10:00:00+08:00");
    let t = referral::task_to_fhir(&referral(ReferralState::Cancelled));
    assert_eq!(t["statusReason"]["text"], "患者要求取消");
    assert!(
        t["note"][1]["text"]
            .as_str()
            .unwrap()
            .contains("取消：已提交 → 已取消；患者要求取消")
    );
    let t = referral::task_to_fhir(&referral(ReferralState::Expired));
    assert!(t["statusReason"]["text"].is_string());
    let t = referral::task_to_fhir(&referral(ReferralState::Accepted));
    assert!(t.get("statusReason").is_none());
    assert!(t["executionPeriod"].get("end").is_none(), "still open");
    assert_eq!(t["extension"][0]["url"], RESPONSE_DEADLINE_EXTENSION);
    assert_eq!(
        t["extension"][0]["valueDateTime"],
        "2026-11-21T09:00:00+08:00"
    );
    let t = referral::task_to_fhir(&referral(ReferralState::Scheduled));
    assert_eq!(t["output"][0]["type"]["coding"][0]["code"], "appointment");
    assert_eq!(
        t["output"][0]["valueReference"]["reference"],
        "Appointment/11"
    );
}

/// A Task PUT asking for `status`, built from the current Task.
fn put(
    current: &ReferralFhir,
    status: &str,
    f: impl Fn(&mut Value),
) -> Result<TaskAction, Outcome> {
    let mut t = referral::task_to_fhir(current);
    t["status"] = json!(status);
    t.as_object_mut().unwrap().remove("businessStatus");
    t.as_object_mut().unwrap().remove("statusReason");
    f(&mut t);
    referral::task_from_fhir(&t)?.action(current)
}

fn change(event: ReferralEvent) -> TaskAction {
    TaskAction::Change {
        event,
        reason: None,
        slot: None,
    }
}

#[test]
fn every_task_status_maps_to_its_referral_step() {
    use ReferralState as S;
    let none = |_: &mut Value| {};
    assert_eq!(
        put(&referral(S::Draft), "requested", none).unwrap(),
        change(ReferralEvent::Submit)
    );
    assert_eq!(
        put(&referral(S::Submitted), "accepted", none).unwrap(),
        change(ReferralEvent::Accept)
    );
    assert_eq!(
        put(&referral(S::Submitted), "rejected", |t| {
            t["statusReason"] = json!({ "text": "本院无此专科" })
        })
        .unwrap(),
        TaskAction::Change {
            event: ReferralEvent::Decline,
            reason: Some("本院无此专科".into()),
            slot: None
        }
    );
    assert_eq!(
        put(&referral(S::Accepted), "ready", |t| {
            t["input"] = json!([{
                "type": { "coding": [{ "system": REFERRAL_TASK_PARAM_SYSTEM, "code": "slot" }] },
                "valueReference": { "reference": "Slot/31" },
            }])
        })
        .unwrap(),
        TaskAction::Change {
            event: ReferralEvent::Schedule,
            reason: None,
            slot: Some(stored("Slot", "31"))
        }
    );
    assert_eq!(
        put(&referral(S::Scheduled), "in-progress", none).unwrap(),
        change(ReferralEvent::Arrive)
    );
    assert_eq!(
        put(&referral(S::Arrived), "completed", none).unwrap(),
        change(ReferralEvent::Complete)
    );
    for open in [
        S::Draft,
        S::Submitted,
        S::Accepted,
        S::Scheduled,
        S::Arrived,
    ] {
        // A new note (without time) is the reason.
        let got = put(&referral(open), "cancelled", |t| {
            t["note"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "text": "患者已在他院就诊" }))
        })
        .unwrap();
        assert_eq!(
            got,
            TaskAction::Change {
                event: ReferralEvent::Cancel,
                reason: Some("患者已在他院就诊".into()),
                slot: None
            },
            "{open:?}"
        );
    }
    assert_eq!(
        put(&referral(S::Declined), "requested", |t| {
            t["owner"] = json!({ "reference": "Organization/9" });
            t["statusReason"] = json!({ "text": "改转市医院" });
        })
        .unwrap(),
        TaskAction::Redirect {
            to: stored("Organization", "9"),
            justification: Some("改转市医院".into())
        }
    );
    assert_eq!(
        put(&referral(S::Submitted), "requested", none).unwrap(),
        TaskAction::Unchanged
    );
}

#[test]
fn task_updates_are_refused_with_the_element() {
    use ReferralState as S;
    let none = |_: &mut Value| {};
    // Statuses yilian does not use, and non-codes.
    refused(
        put(&referral(S::Submitted), "received", none).unwrap_err(),
        "Task.status",
        IssueType::NotSupported,
    );
    refused(
        put(&referral(S::Submitted), "on-hold", none).unwrap_err(),
        "Task.status",
        IssueType::NotSupported,
    );
    refused(
        put(&referral(S::Submitted), "approved", none).unwrap_err(),
        "Task.status",
        IssueType::Value,
    );
    // Back to draft, or expiring by hand.
    let o = put(&referral(S::Submitted), "draft", none).unwrap_err();
    refused(o.clone(), "Task.status", IssueType::Processing);
    assert_eq!(o.status, 409);
    let o = put(&referral(S::Submitted), "failed", none).unwrap_err();
    refused(o.clone(), "Task.status", IssueType::Processing);
    assert_eq!(o.first().yilian_code, "illegal_transition");
    // Steps no side may take from the current state.
    for (from, to) in [
        (S::Submitted, "completed"),
        (S::Draft, "accepted"),
        (S::Completed, "cancelled"),
        (S::Declined, "accepted"),
        (S::Accepted, "in-progress"),
    ] {
        let o = put(&referral(from), to, |t| {
            t["statusReason"] = json!({ "text": "原因" })
        })
        .unwrap_err();
        refused(o.clone(), "Task.status", IssueType::Processing);
        assert_eq!(o.status, 409, "{from:?} → {to}");
        assert_eq!(o.first().yilian_code, "illegal_transition");
    }
    // What a step needs.
    refused(
        put(&referral(S::Submitted), "rejected", none).unwrap_err(),
        "Task.statusReason",
        IssueType::Required,
    );
    refused(
        put(&referral(S::Accepted), "cancelled", none).unwrap_err(),
        "Task.statusReason",
        IssueType::Required,
    );
    refused(
        put(&referral(S::Accepted), "ready", none).unwrap_err(),
        "Task.input",
        IssueType::Required,
    );
    refused(
        put(&referral(S::Declined), "requested", none).unwrap_err(),
        "Task.owner",
        IssueType::Required,
    );
    let o = put(&referral(S::Submitted), "accepted", |t| {
        t["owner"] = json!({ "reference": "Organization/9" })
    })
    .unwrap_err();
    refused(o.clone(), "Task.owner.reference", IssueType::Invariant);
    assert_eq!(o.status, 409);
    // Structure, references, agreement.
    refused(
        put(
            &referral(S::Submitted),
            "accepted",
            |t| {
                t["businessStatus"] =
                    json!({ "coding": [{ "system": REFERRAL_STATE_SYSTEM, "code": "declined" }] })
            },
        )
        .unwrap_err(),
        "Task.businessStatus.coding[0].code",
        IssueType::Invariant,
    );
    refused(
        put(
            &referral(S::Submitted),
            "accepted",
            |t| {
                t["businessStatus"] =
                    json!({ "coding": [{ "system": REFERRAL_STATE_SYSTEM, "code": "ok" }] })
            },
        )
        .unwrap_err(),
        "Task.businessStatus.coding[0].code",
        IssueType::Value,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["focus"] = json!({ "reference": "ServiceRequest/8" })
        })
        .unwrap_err(),
        "Task.focus.reference",
        IssueType::Invariant,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["focus"] = json!({ "reference": "Patient/7" })
        })
        .unwrap_err(),
        "Task.focus.reference",
        IssueType::Value,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["for"] = json!({ "reference": "Patient/43" })
        })
        .unwrap_err(),
        "Task.for.reference",
        IssueType::Invariant,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t.as_object_mut().unwrap().remove("intent");
        })
        .unwrap_err(),
        "Task.intent",
        IssueType::Required,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["intent"] = json!("plan")
        })
        .unwrap_err(),
        "Task.intent",
        IssueType::NotSupported,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["progress"] = json!(1)
        })
        .unwrap_err(),
        "Task.progress",
        IssueType::Structure,
    );
    refused(
        put(&referral(S::Submitted), "accepted", |t| {
            t["resourceType"] = json!("ServiceRequest")
        })
        .unwrap_err(),
        "Task.resourceType",
        IssueType::Structure,
    );
    refused(
        put(&referral(S::Accepted), "ready", |t| {
            t["input"] = json!([{
                "type": { "coding": [{ "system": REFERRAL_TASK_PARAM_SYSTEM, "code": "slot" }] },
                "valueReference": { "reference": "Appointment/31" },
            }])
        })
        .unwrap_err(),
        "Task.input[0].valueReference.reference",
        IssueType::Value,
    );
}

// ------------------------------------------------------------------ Schedule / Slot / Appointment

fn slot(id: i64, start: &str, end: &str, booked: bool, reserved: bool) -> SlotFhir {
    SlotFhir {
        id,
        institution_id: 1,
        institution_name: "示例县人民医院".into(),
        department: "心内科".into(),
        starts_at: start.into(),
        ends_at: end.into(),
        reserved_for_referral: reserved,
        release_hours: 24,
        booked,
    }
}

#[test]
fn schedules_are_derived_from_slots_and_their_ids_read_back() {
    let slots = vec![
        slot(
            31,
            "2026-11-25T08:30:00",
            "2026-11-25T08:45:00",
            false,
            true,
        ),
        slot(
            32,
            "2026-11-25T08:00:00",
            "2026-11-25T08:15:00",
            true,
            false,
        ),
        SlotFhir {
            department: String::new(),
            ..slot(
                40,
                "2026-11-26T09:00:00",
                "2026-11-26T09:15:00",
                false,
                false,
            )
        },
    ];
    let sch = scheduling::schedules_from_slots(&slots);
    assert_eq!(sch.len(), 2);
    assert_eq!(sch[0].horizon_start.as_deref(), Some("2026-11-25T08:00:00"));
    assert_eq!(sch[0].horizon_end.as_deref(), Some("2026-11-25T08:45:00"));
    let s = scheduling::schedule_to_fhir(&sch[0]);
    let id = scheduling::schedule_id(1, "心内科");
    assert_eq!(s["id"], id.as_str());
    assert!(id.starts_with("1-") && id.len() == 18);
    assert_eq!(s["actor"][0]["reference"], "#service");
    assert_eq!(s["contained"][0]["resourceType"], "HealthcareService");
    assert_eq!(
        s["contained"][0]["providedBy"]["reference"],
        "Organization/1"
    );
    assert_eq!(s["contained"][0]["name"], "心内科");
    assert_eq!(s["serviceType"][0]["text"], "心内科");
    assert_eq!(s["planningHorizon"]["start"], "2026-11-25T08:00:00+08:00");
    assert_eq!(scheduling::schedule_to_fhir(&sch[1])["id"], "1");

    let k = ScheduleKey::parse(&id).unwrap();
    assert!(k.matches(1, "心内科") && !k.matches(1, "儿科") && !k.matches(2, "心内科"));
    assert_eq!(k.resolve(["儿科", "心内科"]).as_deref(), Some("心内科"));
    assert_eq!(k.resolve(["儿科"]), None);
    assert_eq!(
        ScheduleKey::parse("1")
            .unwrap()
            .resolve(["儿科"])
            .as_deref(),
        Some("")
    );
    for bad in ["", "a", "1-xyz", "1-0123", "-1"] {
        assert!(ScheduleKey::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn slots_emit_and_round_trip_into_the_opening_input() {
    let s = scheduling::slot_to_fhir(&slot(
        31,
        "2026-11-25T08:30:00",
        "2026-11-25T08:45:00",
        false,
        true,
    ));
    assert_eq!(s["resourceType"], "Slot");
    assert_eq!(s["status"], "free");
    assert_eq!(s["start"], "2026-11-25T08:30:00+08:00");
    assert_eq!(s["end"], "2026-11-25T08:45:00+08:00");
    assert_eq!(
        s["schedule"]["reference"],
        format!("Schedule/{}", scheduling::schedule_id(1, "心内科"))
    );
    assert_eq!(s["extension"][0]["url"], SLOT_RESERVED_EXTENSION);
    assert_eq!(s["extension"][0]["valueBoolean"], true);
    assert_eq!(s["extension"][1]["url"], SLOT_RELEASE_HOURS_EXTENSION);
    let busy = scheduling::slot_to_fhir(&slot(
        32,
        "2026-11-25T08:00:00",
        "2026-11-25T08:15:00",
        true,
        false,
    ));
    assert_eq!(busy["status"], "busy");
    assert!(busy.get("comment").is_none());

    let i = scheduling::slot_from_fhir(&s).unwrap();
    assert_eq!(i.schedule.institution_id, 1);
    assert!(i.schedule.matches(1, "心内科"));
    assert_eq!(i.department.as_deref(), Some("心内科"));
    assert_eq!(i.starts_at_text(), "2026-11-25T08:30:00");
    assert_eq!(i.ends_at_text(), "2026-11-25T08:45:00");
    assert!(i.reserved_for_referral);
    assert_eq!(i.release_hours, 24);

    // A new department: the institution's schedule and serviceType.
    let v = json!({
        "resourceType": "Slot",
        "schedule": { "reference": "Schedule/1" },
        "serviceType": [{ "text": "康复科" }],
        "status": "free",
        "start": "2026-11-25T00:30:00Z",
        "end": "2026-11-25T01:00:00Z",
    });
    let i = scheduling::slot_from_fhir(&v).unwrap();
    assert_eq!(i.department.as_deref(), Some("康复科"));
    assert_eq!(
        i.starts_at_text(),
        "2026-11-25T08:30:00",
        "to China Standard Time"
    );
    assert!(!i.reserved_for_referral);

    let with = |f: &dyn Fn(&mut Value)| {
        let mut x = v.clone();
        f(&mut x);
        scheduling::slot_from_fhir(&x).unwrap_err()
    };
    refused(
        with(&|x| x["status"] = json!("busy")),
        "Slot.status",
        IssueType::Value,
    );
    refused(
        with(&|x| {
            x.as_object_mut().unwrap().remove("schedule");
        }),
        "Slot.schedule",
        IssueType::Required,
    );
    refused(
        with(&|x| x["schedule"]["reference"] = json!("Schedule/abc")),
        "Slot.schedule.reference",
        IssueType::Value,
    );
    refused(
        with(&|x| x["schedule"]["reference"] = json!("Location/1")),
        "Slot.schedule.reference",
        IssueType::Value,
    );
    refused(
        with(&|x| x["end"] = json!("2026-11-25T00:32:00Z")),
        "Slot.end",
        IssueType::Value,
    );
    refused(
        with(&|x| x["start"] = json!("2026-11-25T08:30:00")),
        "Slot.start",
        IssueType::Value,
    );
    refused(
        with(&|x| x["capacity"] = json!(2)),
        "Slot.capacity",
        IssueType::Structure,
    );
    refused(
        with(&|x| {
            x["schedule"]["reference"] =
                json!(format!("Schedule/{}", scheduling::schedule_id(1, "心内科")))
        }),
        "Slot.serviceType[0].text",
        IssueType::Invariant,
    );
    refused(
        with(&|x| {
            x["extension"] = json!([{ "url": SLOT_RELEASE_HOURS_EXTENSION, "valueInteger": 1000 }])
        }),
        "Slot.extension[0].valueInteger",
        IssueType::Value,
    );
}

fn appointment(status: AppointmentStatus) -> AppointmentFhir {
    AppointmentFhir {
        id: 11,
        slot_id: 31,
        resident_id: 42,
        resident_name: "测试甲".into(),
        referral_id: Some(7),
        status,
        starts_at: "2026-11-25T08:30:00".into(),
        ends_at: "2026-11-25T08:45:00".into(),
        institution_id: 1,
        institution_name: "示例县人民医院".into(),
        department: "心内科".into(),
    }
}

#[test]
fn appointments_emit_their_status_and_round_trip() {
    for (store, referral_state, status) in [
        ("booked", None, "booked"),
        ("booked", Some(ReferralState::Scheduled), "booked"),
        ("booked", Some(ReferralState::Arrived), "arrived"),
        ("booked", Some(ReferralState::Completed), "fulfilled"),
        ("no_show", None, "noshow"),
        ("cancelled", None, "cancelled"),
        ("rescheduled", None, "cancelled"),
    ] {
        let s = AppointmentStatus::from_store(store, referral_state).unwrap();
        assert_eq!(s.fhir_code(), status);
        assert_eq!(s.store_code(), store);
        let a = scheduling::appointment_to_fhir(&appointment(s));
        assert_eq!(a["status"], status);
        assert_eq!(a["participant"][0]["status"], "accepted");
    }
    assert!(AppointmentStatus::from_store("lost", None).is_none());
    // 已就诊 as the generator and the desk record it.
    let attended = AppointmentStatus::from_store("attended", None).unwrap();
    assert_eq!(attended.fhir_code(), "fulfilled");
    let a = scheduling::appointment_to_fhir(&appointment(AppointmentStatus::Rescheduled));
    assert!(
        a["cancelationReason"]["text"]
            .as_str()
            .unwrap()
            .contains("改约")
    );

    let a = scheduling::appointment_to_fhir(&appointment(AppointmentStatus::Booked));
    assert_eq!(a["slot"][0]["reference"], "Slot/31");
    assert_eq!(a["basedOn"][0]["reference"], "ServiceRequest/7");
    assert_eq!(a["participant"][0]["actor"]["reference"], "Patient/42");
    assert_eq!(a["participant"][1]["actor"]["reference"], "#service");
    assert_eq!(
        a["contained"][0]["providedBy"]["reference"],
        "Organization/1"
    );
    assert_eq!(a["start"], "2026-11-25T08:30:00+08:00");
    assert_eq!(a["end"], "2026-11-25T08:45:00+08:00");

    let i = scheduling::appointment_from_fhir(&a).unwrap();
    assert_eq!(i.slot, stored("Slot", "31"));
    assert_eq!(i.patient, stored("Patient", "42"));
    assert_eq!(i.referral, Some(stored("ServiceRequest", "7")));
    assert_eq!(i.status, AppointmentStatus::Booked);
    assert_eq!(
        i.action(None).unwrap(),
        AppointmentAction::Book {
            slot: stored("Slot", "31"),
            patient: stored("Patient", "42"),
            referral: Some(stored("ServiceRequest", "7")),
        }
    );
    let cur = appointment(AppointmentStatus::Booked);
    assert_eq!(i.action(Some(&cur)).unwrap(), AppointmentAction::Unchanged);
    let mut moved = a.clone();
    moved["slot"][0]["reference"] = json!("Slot/32");
    assert_eq!(
        scheduling::appointment_from_fhir(&moved)
            .unwrap()
            .action(Some(&cur))
            .unwrap(),
        AppointmentAction::Reschedule {
            slot: stored("Slot", "32")
        }
    );
    for (status, action) in [
        ("cancelled", AppointmentAction::Cancel),
        ("noshow", AppointmentAction::NoShow),
    ] {
        let mut x = a.clone();
        x["status"] = json!(status);
        assert_eq!(
            scheduling::appointment_from_fhir(&x)
                .unwrap()
                .action(Some(&cur))
                .unwrap(),
            action
        );
        let on_no_show = scheduling::appointment_from_fhir(&x)
            .unwrap()
            .action(Some(&appointment(AppointmentStatus::NoShow)));
        if status == "cancelled" {
            let o = on_no_show.unwrap_err();
            refused(o.clone(), "Appointment.status", IssueType::Processing);
            assert_eq!(o.status, 409);
        } else {
            assert_eq!(on_no_show.unwrap(), AppointmentAction::Unchanged);
        }
    }
    let mut x = a.clone();
    x["status"] = json!("cancelled");
    refused(
        scheduling::appointment_from_fhir(&x)
            .unwrap()
            .action(None)
            .unwrap_err(),
        "Appointment.status",
        IssueType::Value,
    );
}

#[test]
fn appointment_refusals_name_the_element() {
    let ok = json!({
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{ "reference": "Slot/31" }],
        "participant": [{ "actor": { "reference": "Patient/42" }, "status": "accepted" }],
    });
    let i = scheduling::appointment_from_fhir(&ok).unwrap();
    assert_eq!(i.referral, None);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        f(&mut v);
        scheduling::appointment_from_fhir(&v).unwrap_err()
    };
    refused(
        with(&|v| v["resourceType"] = json!("Slot")),
        "Appointment.resourceType",
        IssueType::Structure,
    );
    refused(
        with(&|v| {
            v["participant"][0]
                .as_object_mut()
                .unwrap()
                .remove("status");
        }),
        "Appointment.participant[0].status",
        IssueType::Required,
    );
    refused(
        with(&|v| v["participant"][0]["status"] = json!("maybe")),
        "Appointment.participant[0].status",
        IssueType::Value,
    );
    refused(
        with(&|v| v["participant"][0]["actor"] = json!({ "reference": "Practitioner/3" })),
        "Appointment.participant",
        IssueType::Required,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("slot");
        }),
        "Appointment.slot",
        IssueType::Required,
    );
    refused(
        with(&|v| v["slot"][0]["reference"] = json!("Schedule/1")),
        "Appointment.slot[0].reference",
        IssueType::Value,
    );
    refused(
        with(&|v| v["basedOn"] = json!([{ "reference": "Task/7" }])),
        "Appointment.basedOn[0].reference",
        IssueType::Value,
    );
    refused(
        with(&|v| v["status"] = json!("fulfilled")),
        "Appointment.status",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| v["room"] = json!("3")),
        "Appointment.room",
        IssueType::Structure,
    );
    refused(
        with(&|v| {
            v["start"] = json!("2026-11-25T08:30:00+08:00");
            v["end"] = json!("2026-11-25T08:00:00+08:00");
        }),
        "Appointment.end",
        IssueType::Invariant,
    );
    let mut other = ok.clone();
    other["participant"][0]["actor"]["reference"] = json!("Patient/43");
    refused(
        scheduling::appointment_from_fhir(&other)
            .unwrap()
            .action(Some(&appointment(AppointmentStatus::Booked)))
            .unwrap_err(),
        "Appointment.participant",
        IssueType::Invariant,
    );
}

// ------------------------------------------------------------------ MedicationRequest

fn prescription(days: Option<u32>) -> PrescriptionFhir {
    PrescriptionFhir {
        id: 501,
        resident_id: 42,
        institution_id: 3,
        institution_name: "示例镇卫生院".into(),
        occurred_at: "2026-11-01T09:20:00".into(),
        code: "D0001".into(),
        drug: "氨氯地平片 5mg".into(),
        daily_dose: "5 mg qd".into(),
        body: "饭后服用".into(),
        encounter_id: Some(500),
        drug_class: Some(DrugClass::Ordinary),
        days_supplied: days,
        assessment_recorded: true,
        patient_signed: true,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

#[test]
fn medication_request_emits_and_round_trips() {
    let m = orders::medication_request_to_fhir(&prescription(Some(84)), today());
    assert_eq!(m["resourceType"], "MedicationRequest");
    assert_eq!(m["status"], "active");
    assert_eq!(m["intent"], "order");
    assert_eq!(m["medicationCodeableConcept"]["text"], "氨氯地平片 5mg");
    assert_eq!(m["medicationCodeableConcept"]["coding"][0]["code"], "D0001");
    assert_eq!(m["subject"]["reference"], "Patient/42");
    assert_eq!(m["encounter"]["reference"], "Encounter/500");
    assert_eq!(m["requester"]["reference"], "Organization/3");
    assert_eq!(m["authoredOn"], "2026-11-01T09:20:00+08:00");
    assert_eq!(m["dosageInstruction"][0]["text"], "5 mg qd");
    let d = &m["dispenseRequest"]["expectedSupplyDuration"];
    assert_eq!(d["value"], 84);
    assert_eq!(d["system"], UCUM_SYSTEM);
    assert_eq!(d["code"], "d");
    assert_eq!(m["note"][0]["text"], "饭后服用");
    let ext = m["extension"].as_array().unwrap();
    assert_eq!(ext.len(), 4, "class, long, assessment, signature");
    assert_eq!(
        orders::medication_request_to_fhir(&prescription(Some(14)), today())["status"],
        "completed"
    );
    let none = orders::medication_request_to_fhir(&prescription(None), today());
    assert_eq!(none["status"], "unknown");
    assert!(none.get("dispenseRequest").is_none());

    let i = orders::medication_request_from_fhir(&m).unwrap();
    assert_eq!(i.patient, stored("Patient", "42"));
    assert_eq!(i.encounter, Some(stored("Encounter", "500")));
    assert_eq!(i.requester, Some(stored("Organization", "3")));
    assert_eq!(i.drug, "氨氯地平片 5mg");
    assert_eq!(i.drug_code.as_deref(), Some("D0001"));
    assert_eq!(i.drug_class, Some(DrugClass::Ordinary));
    assert_eq!(i.daily_dose, "5 mg qd");
    assert_eq!(i.days_supplied, 84);
    assert!(i.stability_assessment && i.patient_signed && i.is_long());
    assert!(i.check(true, true).is_ok());
    // The facts only the server knows, placed at the element they concern.
    let o = i.check(false, true).unwrap_err();
    refused(
        o.clone(),
        "MedicationRequest.subject",
        IssueType::Processing,
    );
    assert_eq!(o.first().yilian_code, "long_prescription_limit");
    refused(
        i.check(true, false).unwrap_err(),
        "MedicationRequest.subject",
        IssueType::Processing,
    );
}

fn minimal_medication_request(days: u32) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": { "text": "二甲双胍片 0.5g" },
        "subject": { "reference": "Patient/42" },
        "dosageInstruction": [{ "text": "0.5 g tid" }],
        "dispenseRequest": { "expectedSupplyDuration": { "value": days, "unit": "天", "system": UCUM_SYSTEM, "code": "d" } },
    })
}

#[test]
fn medication_request_refusals_follow_the_long_prescription_rule() {
    let i = orders::medication_request_from_fhir(&minimal_medication_request(28)).unwrap();
    assert_eq!(i.drug_class, None);
    assert!(
        !i.is_long() && i.check(false, false).is_ok(),
        "28 days needs nothing"
    );
    let mut wk = minimal_medication_request(4);
    wk["dispenseRequest"]["expectedSupplyDuration"]["code"] = json!("wk");
    assert_eq!(
        orders::medication_request_from_fhir(&wk)
            .unwrap()
            .days_supplied,
        28
    );

    let class = |code: &str| json!({ "url": DRUG_CLASS_EXTENSION, "valueCoding": { "system": DRUG_CLASS_SYSTEM, "code": code } });
    let days_path = "MedicationRequest.dispenseRequest.expectedSupplyDuration.value";
    let with = |days: u32, f: &dyn Fn(&mut Value)| {
        let mut v = minimal_medication_request(days);
        f(&mut v);
        orders::medication_request_from_fhir(&v)
    };
    // 85 days: over 12 weeks, whatever else.
    let o = with(85, &|v| {
        v["extension"] = json!([class("ordinary"),
            { "url": STABILITY_ASSESSMENT_EXTENSION, "valueBoolean": true },
            { "url": PATIENT_SIGNED_EXTENSION, "valueBoolean": true }])
    })
    .unwrap_err();
    refused(o.clone(), days_path, IssueType::Processing);
    assert_eq!(o.first().yilian_code, "long_prescription_limit");
    refused(
        with(0, &|_| {}).unwrap_err(),
        days_path,
        IssueType::Processing,
    );
    // Over 28 days: the class must be stated, excluded classes never.
    refused(
        with(29, &|_| {}).unwrap_err(),
        "MedicationRequest.extension",
        IssueType::Required,
    );
    refused(
        with(29, &|v| v["extension"] = json!([class("antimicrobial")])).unwrap_err(),
        "MedicationRequest.extension[0].valueCoding.code",
        IssueType::Processing,
    );
    let ok = with(84, &|v| {
        v["extension"] = json!([class("anti_tb"),
            { "url": STABILITY_ASSESSMENT_EXTENSION, "valueBoolean": true },
            { "url": PATIENT_SIGNED_EXTENSION, "valueBoolean": true }])
    })
    .unwrap();
    assert_eq!(ok.drug_class, Some(DrugClass::AntiTuberculosis));
    // The assessment and the signature, where they were (not) given.
    refused(
        with(56, &|v| v["extension"] = json!([class("ordinary")])).unwrap_err(),
        "MedicationRequest.extension",
        IssueType::Processing,
    );
    refused(
        with(56, &|v| {
            v["extension"] = json!([class("ordinary"),
                { "url": STABILITY_ASSESSMENT_EXTENSION, "valueBoolean": true },
                { "url": PATIENT_SIGNED_EXTENSION, "valueBoolean": false }])
        })
        .unwrap_err(),
        "MedicationRequest.extension[2].valueBoolean",
        IssueType::Processing,
    );
    // Codes and structure.
    refused(
        with(28, &|v| v["extension"] = json!([class("opium")])).unwrap_err(),
        "MedicationRequest.extension[0].valueCoding.code",
        IssueType::Value,
    );
    refused(
        with(28, &|v| {
            v["dispenseRequest"]["expectedSupplyDuration"]["code"] = json!("mo")
        })
        .unwrap_err(),
        "MedicationRequest.dispenseRequest.expectedSupplyDuration.code",
        IssueType::Value,
    );
    refused(
        with(28, &|v| {
            v["dispenseRequest"]["expectedSupplyDuration"]["value"] = json!(2.5)
        })
        .unwrap_err(),
        days_path,
        IssueType::Value,
    );
    refused(
        with(28, &|v| {
            v.as_object_mut().unwrap().remove("dispenseRequest");
        })
        .unwrap_err(),
        "MedicationRequest.dispenseRequest",
        IssueType::Required,
    );
    refused(
        with(28, &|v| v["resourceType"] = json!("MedicationStatement")).unwrap_err(),
        "MedicationRequest.resourceType",
        IssueType::Structure,
    );
    refused(
        with(28, &|v| v["dose"] = json!("x")).unwrap_err(),
        "MedicationRequest.dose",
        IssueType::Structure,
    );
    refused(
        with(28, &|v| v["subject"]["reference"] = json!("Group/1")).unwrap_err(),
        "MedicationRequest.subject.reference",
        IssueType::Value,
    );
    refused(
        with(28, &|v| v["status"] = json!("completed")).unwrap_err(),
        "MedicationRequest.status",
        IssueType::NotSupported,
    );
    refused(
        with(28, &|v| {
            v.as_object_mut().unwrap().remove("intent");
        })
        .unwrap_err(),
        "MedicationRequest.intent",
        IssueType::Required,
    );
    refused(
        with(28, &|v| {
            v["medicationReference"] = json!({ "reference": "Medication/1" })
        })
        .unwrap_err(),
        "MedicationRequest.medicationReference",
        IssueType::NotSupported,
    );
    refused(
        with(28, &|v| {
            v["medicationCodeableConcept"] = json!({ "coding": [{ "system": "x", "code": "1" }] })
        })
        .unwrap_err(),
        "MedicationRequest.medicationCodeableConcept.text",
        IssueType::Required,
    );
}

// ------------------------------------------------------------------ DiagnosticReport

fn exam() -> ExamFhir {
    ExamFhir {
        id: 601,
        resident_id: 42,
        institution_id: 1,
        institution_name: "示例县人民医院".into(),
        occurred_at: "2026-11-20T10:00:00".into(),
        code: "CT-HEAD".into(),
        title: "头颅CT".into(),
        value: "未见明显异常".into(),
        abnormal: false,
        hr_mark: true,
        body: "临床问题：头晕\n\n报告：脑实质密度均匀\n\n结论：未见明显异常".into(),
        encounter_id: Some(600),
        issued: Some("2026-11-20T11:00:00".into()),
        remote_kind: Some(RemoteKind::Imaging),
    }
}

#[test]
fn diagnostic_report_emits_and_round_trips() {
    let r = orders::diagnostic_report_to_fhir(&exam());
    assert_eq!(r["resourceType"], "DiagnosticReport");
    assert_eq!(r["status"], "final");
    assert_eq!(r["code"]["coding"][0]["code"], "CT-HEAD");
    assert_eq!(r["code"]["text"], "头颅CT");
    assert_eq!(r["category"][0]["coding"][0]["code"], "RAD");
    assert_eq!(r["subject"]["reference"], "Patient/42");
    assert_eq!(r["performer"][0]["reference"], "Organization/1");
    assert_eq!(r["issued"], "2026-11-20T11:00:00+08:00");
    assert_eq!(r["effectiveDateTime"], "2026-11-20T10:00:00+08:00");
    assert_eq!(r["conclusion"], "未见明显异常");
    assert_eq!(r["meta"]["tag"][0]["system"], RECOGNITION_MARK_SYSTEM);
    assert_eq!(r["meta"]["tag"][0]["code"], "HR");
    assert_eq!(
        r["presentedForm"][0]["contentType"],
        "text/plain; charset=utf-8"
    );

    let i = orders::diagnostic_report_from_fhir(&r).unwrap();
    let e = exam();
    assert_eq!(i.patient, stored("Patient", "42"));
    assert_eq!(i.institution, Some(stored("Organization", "1")));
    assert_eq!(i.encounter, Some(stored("Encounter", "600")));
    assert_eq!(i.occurred_at_text(), e.occurred_at);
    assert_eq!(i.code, e.code);
    assert_eq!(i.title, e.title);
    assert_eq!(i.conclusion, e.value);
    assert_eq!(i.body, e.body);
    assert!(!i.abnormal && i.hr_mark);

    let abnormal = ExamFhir {
        abnormal: true,
        hr_mark: false,
        ..exam()
    };
    let i =
        orders::diagnostic_report_from_fhir(&orders::diagnostic_report_to_fhir(&abnormal)).unwrap();
    assert!(i.abnormal && !i.hr_mark);
}

#[test]
fn remote_reads_are_reports_by_state_and_consultations_are_not() {
    let read = |kind, state, signed: bool| RemoteReadFhir {
        id: 9,
        resident_id: 42,
        resident_name: "测试甲".into(),
        kind,
        state,
        from_institution_id: 3,
        from_name: "示例镇卫生院".into(),
        to_institution_id: 1,
        to_name: "示例县人民医院".into(),
        question: "胸痛待查".into(),
        report: "窦性心律，ST段未见异常".into(),
        conclusion: "正常心电图".into(),
        requested_at: "2026-11-20T08:00:00".into(),
        reported_at: signed.then(|| "2026-11-20T08:20:00".into()),
        signed_at: signed.then(|| "2026-11-20T08:25:00".into()),
        version: 3,
        updated_at: "2026-11-20T08:25:00".into(),
    };
    for (state, status) in [
        (RemoteState::Requested, "registered"),
        (RemoteState::Claimed, "registered"),
        (RemoteState::Reported, "preliminary"),
        (RemoteState::Signed, "final"),
        (RemoteState::Cancelled, "cancelled"),
    ] {
        let r = orders::remote_report_to_fhir(&read(RemoteKind::Ecg, state, true)).unwrap();
        assert_eq!(r["status"], status);
        assert_eq!(r["id"], "remote-9");
        assert_eq!(r["category"][0]["coding"][0]["code"], "EC");
        assert_eq!(
            r.get("conclusion").is_some(),
            matches!(state, RemoteState::Reported | RemoteState::Signed)
        );
    }
    let signed =
        orders::remote_report_to_fhir(&read(RemoteKind::Pathology, RemoteState::Signed, true))
            .unwrap();
    assert_eq!(signed["issued"], "2026-11-20T08:25:00+08:00");
    assert_eq!(signed["performer"][0]["reference"], "Organization/1");
    assert!(
        orders::remote_report_to_fhir(&read(RemoteKind::Consultation, RemoteState::Signed, true))
            .is_none()
    );
}

#[test]
fn diagnostic_report_refusals_name_the_element() {
    let ok = json!({
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": { "text": "心电图" },
        "subject": { "reference": "Patient/42" },
        "effectiveDateTime": "2026-11-20T08:00:00+08:00",
        "performer": [{ "reference": "Organization/1" }],
        "presentedForm": [{ "contentType": "text/plain", "data": orders::base64_encode("窦性心律".as_bytes()) }],
    });
    assert_eq!(
        orders::diagnostic_report_from_fhir(&ok).unwrap().body,
        "窦性心律"
    );
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        f(&mut v);
        orders::diagnostic_report_from_fhir(&v).unwrap_err()
    };
    refused(
        with(&|v| v["status"] = json!("preliminary")),
        "DiagnosticReport.status",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| v["status"] = json!("signed")),
        "DiagnosticReport.status",
        IssueType::Value,
    );
    refused(
        with(&|v| v["code"] = json!({ "coding": [{ "system": "x", "code": "1" }] })),
        "DiagnosticReport.code.text",
        IssueType::Required,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("subject");
        }),
        "DiagnosticReport.subject",
        IssueType::Required,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("effectiveDateTime");
        }),
        "DiagnosticReport.effectiveDateTime",
        IssueType::Required,
    );
    refused(
        with(&|v| {
            v.as_object_mut().unwrap().remove("performer");
        }),
        "DiagnosticReport.performer",
        IssueType::Required,
    );
    refused(
        with(&|v| v["subject"]["reference"] = json!("Device/1")),
        "DiagnosticReport.subject.reference",
        IssueType::Value,
    );
    refused(
        with(&|v| v["presentedForm"][0]["data"] = json!("@@@")),
        "DiagnosticReport.presentedForm[0].data",
        IssueType::Value,
    );
    refused(
        with(&|v| v["presentedForm"][0]["contentType"] = json!("application/pdf")),
        "DiagnosticReport.presentedForm[0].contentType",
        IssueType::NotSupported,
    );
    refused(
        with(&|v| v["findings"] = json!("x")),
        "DiagnosticReport.findings",
        IssueType::Structure,
    );
    refused(
        with(&|v| v["resourceType"] = json!("Observation")),
        "DiagnosticReport.resourceType",
        IssueType::Structure,
    );
}

// ------------------------------------------------------------------ samples for the outside validator

#[test]
fn emitted_samples_for_the_outside_validator() {
    let mut all = Vec::new();
    for s in ReferralState::ALL {
        let mut r = referral(*s);
        r.green_channel = Some(GreenChannel::Trauma);
        r.justification = Some("需急诊手术".into());
        r.redirected_from = Some(5);
        all.push(referral::service_request_to_fhir(&r));
        all.push(referral::task_to_fhir(&r));
    }
    let slots = vec![
        slot(
            31,
            "2026-11-25T08:30:00",
            "2026-11-25T08:45:00",
            false,
            true,
        ),
        slot(
            32,
            "2026-11-25T08:00:00",
            "2026-11-25T08:15:00",
            true,
            false,
        ),
    ];
    for s in scheduling::schedules_from_slots(&slots) {
        all.push(scheduling::schedule_to_fhir(&s));
    }
    for s in &slots {
        all.push(scheduling::slot_to_fhir(s));
    }
    for st in [
        AppointmentStatus::Booked,
        AppointmentStatus::Arrived,
        AppointmentStatus::Fulfilled,
        AppointmentStatus::NoShow,
        AppointmentStatus::Cancelled,
        AppointmentStatus::Rescheduled,
    ] {
        all.push(scheduling::appointment_to_fhir(&appointment(st)));
    }
    for d in [Some(84), Some(14), None] {
        all.push(orders::medication_request_to_fhir(
            &prescription(d),
            today(),
        ));
    }
    all.push(orders::diagnostic_report_to_fhir(&exam()));
    all.push(orders::diagnostic_report_to_fhir(&ExamFhir {
        code: String::new(),
        issued: None,
        remote_kind: None,
        encounter_id: None,
        ..exam()
    }));
    for st in RemoteState::ALL {
        all.extend(orders::remote_report_to_fhir(&RemoteReadFhir {
            id: 9,
            resident_id: 42,
            resident_name: "测试甲".into(),
            kind: RemoteKind::Imaging,
            state: *st,
            from_institution_id: 3,
            from_name: "示例镇卫生院".into(),
            to_institution_id: 1,
            to_name: "示例县人民医院".into(),
            question: "头晕".into(),
            report: "未见异常".into(),
            conclusion: "正常".into(),
            requested_at: "2026-11-20T08:00:00".into(),
            reported_at: Some("2026-11-20T08:20:00".into()),
            signed_at: None,
            version: 1,
            updated_at: "2026-11-20T08:20:00".into(),
        }));
    }
    assert!(
        all.iter()
            .all(|r| r["resourceType"].is_string() && r["id"].is_string())
    );
    if let Ok(dir) = std::env::var("YILIAN_FHIR_SAMPLES") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, v) in all.iter().enumerate() {
            let rt = v["resourceType"].as_str().unwrap();
            let p = format!("{dir}/referral-orders-{i:02}-{rt}.json");
            std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
        }
    }
}
