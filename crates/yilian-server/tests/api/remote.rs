//! 远程诊断 through the API and the pages, on both backends: a township
//! requests an ECG read, the county reader claims, reports and signs, the
//! report lands in the record; the claim rules; the file checks; the work
//! list's order and the overdue list; consultations; the pages.

use reqwest::StatusCode;
use serde_json::{Value, json};
use yilian_store::Paging;

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    a_township_ecg_read_is_claimed_reported_signed_and_lands_in_the_record,
    only_the_claimant_reports_and_signs,
    an_oversize_upload_is_413_and_stores_nothing,
    a_file_that_is_not_what_it_claims_is_415_and_stores_nothing,
    routes_go_up_within_the_consortium_unless_justified,
    the_worklist_puts_emergencies_first_then_the_oldest,
    a_consultation_flows_the_same_way,
    web_worklist_claim_report_sign_and_the_requesters_form,
);

/// A one-page PDF (an ECG report printout).
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
/// A 1×1 PNG.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

const BOUNDARY: &str = "yilianRemoteTestBoundary7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body: text fields and an optional file
/// (name, content type, bytes).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, ctype, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

async fn upload(
    app: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> reqwest::Response {
    let (ctype, body) = multipart(fields, file);
    reqwest::Client::new()
        .post(app.url("/api/v1/remote-requests"))
        .bearer_auth(token)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A county consortium led by H1 with WA and VA1 as members.
async fn consortium(app: &TestApp) {
    county_consortium(app, &["WA", "VA1"]).await;
}

/// A second reader at H1.
async fn second_reader(app: &TestApp) -> String {
    let admin = app.login("admin").await;
    let r = app
        .post(&admin, "/api/v1/users", &json!({"username": "specialist2", "password": PASSWORD, "role": "specialist", "scope": "H1"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.login("specialist2").await
}

/// The consortium, a resident of 东庄村 registered by the township, and the
/// township clinician's token.
async fn setup(app: &TestApp) -> (String, i64) {
    consortium(app).await;
    let ca = app.login("clinician_a").await;
    let id = app
        .register(
            &ca,
            resident_body(VILLAGE_A1, (1956, 4, 2), 31, "孙秀英", "14500003131"),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    (ca, id)
}

fn ecg_fields(resident: &str) -> Vec<(&'static str, String)> {
    vec![
        ("resident_id", resident.to_string()),
        ("kind", "ecg".into()),
        ("urgency", "urgent".into()),
        ("to_institution_code", "H1".into()),
        ("question", "胸闷心悸两小时，请判读十二导联心电图".into()),
    ]
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

async fn counts(app: &TestApp) -> (i64, i64) {
    let mut c = app.db.store.read().await.unwrap();
    (
        yilian_store::remote::count(&mut c).await.unwrap(),
        yilian_store::remote::count_files(&mut c).await.unwrap(),
    )
}

async fn a_township_ecg_read_is_claimed_reported_signed_and_lands_in_the_record(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let f = ecg_fields(&resident.to_string());
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("ecg.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        (
            v["state"].as_str(),
            v["kind"].as_str(),
            v["file_media_type"].as_str(),
            v["file_size"].as_i64(),
            v["clock"]["limit_minutes"].as_i64(),
            v["clock"]["overdue"].as_bool(),
            v["side"].as_str()
        ),
        (
            Some("requested"),
            Some("ecg"),
            Some("application/pdf"),
            Some(PDF.len() as i64),
            Some(120),
            Some(false),
            Some("requesting")
        )
    );
    let doc: Value = app
        .get(&ca, "/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    for path in [
        "/remote-requests",
        "/remote-requests/worklist",
        "/remote-requests/{id}/claim",
        "/remote-requests/{id}/file",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(PDF));
    assert_eq!(v["file_sha256"], sha.as_str());

    // The county reader: the work list, the file, claim, report, sign.
    let sp = app.login("specialist").await;
    let wl: Value = app
        .get(&sp, "/api/v1/remote-requests/worklist")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wl.as_array().unwrap().len(), 1);
    assert_eq!(wl[0]["id"], id);
    assert_eq!(wl[0]["clock"]["colour"], "green");
    let file = app
        .get(&sp, &format!("/api/v1/remote-requests/{id}/file"))
        .await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(file.headers()["x-checksum-sha256"], sha.as_str());
    assert_eq!(&file.bytes().await.unwrap()[..], PDF);
    {
        let mut c = app.db.store.read().await.unwrap();
        let log = yilian_store::records::access_of(&mut c, resident, Paging::default())
            .await
            .unwrap();
        let read = log.items.iter().find(|a| a.part == "remote_file").unwrap();
        assert_eq!(
            (read.ground.as_str(), read.outcome.as_str()),
            ("remote_read", "granted"),
            "the file read is logged on the remote-read ground"
        );
    }
    let claimed: Value = app
        .post(
            &sp,
            &format!("/api/v1/remote-requests/{id}/claim"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            claimed["state"].as_str(),
            claimed["claimed_by_name"].as_str()
        ),
        (Some("claimed"), Some("specialist"))
    );
    let report = json!({"report": "窦性心律，心率 88 次/分，V1–V4 导联 ST 段压低 0.1 mV", "conclusion": "前壁心肌缺血可能，建议上转"});
    let r = app
        .post(
            &sp,
            &format!("/api/v1/remote-requests/{id}/report"),
            &report,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let signed: Value = app
        .post(
            &sp,
            &format!("/api/v1/remote-requests/{id}/sign"),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed["state"], "signed");
    assert_eq!(signed["clock"]["colour"], "stopped");
    let trail: Vec<&str> = signed["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        trail,
        [
            "remote.request",
            "remote.claim",
            "remote.report",
            "remote.sign"
        ],
        "every change audited"
    );
    // Signing twice is illegal.
    assert_error(
        app.post(
            &sp,
            &format!("/api/v1/remote-requests/{id}/sign"),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;

    // The requester sees the report in the resident's record …
    let rec: Value = app
        .get(&ca, &format!("/api/v1/residents/{resident}/record"))
        .await
        .json()
        .await
        .unwrap();
    let entry = rec["entries"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "remote_read")
        .expect("the report is in the record");
    assert_eq!(entry["kind"], "exam");
    assert_eq!(entry["institution_name"], "H1机构");
    assert!(entry["title"].as_str().unwrap().contains("前壁心肌缺血"));
    assert!(entry["body"].as_str().unwrap().contains("ST 段压低"));
    assert_eq!(signed["record_entry_id"], entry["id"]);
    // … in the list of requests sent …
    let sent: Value = app
        .get(&ca, "/api/v1/remote-requests/sent")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (sent[0]["id"].as_i64(), sent[0]["state"].as_str()),
        (Some(id), Some("signed"))
    );
    // … and is notified through the outbox.
    let mut c = app.db.store.read().await.unwrap();
    let pending = yilian_store::referrals::outbox(&mut c, "pending", Paging::default())
        .await
        .unwrap();
    let topics: Vec<&str> = pending.items.iter().map(|m| m.topic.as_str()).collect();
    assert!(topics.contains(&"remote.requested"), "{topics:?}");
    let note = pending
        .items
        .iter()
        .find(|m| m.topic == "remote.signed")
        .expect("remote.signed queued");
    let wa = app
        .get(&ca, "/api/v1/auth/me")
        .await
        .json::<Value>()
        .await
        .unwrap()["institution_id"]
        .as_i64();
    assert_eq!(note.institution_id, wa, "addressed to the requester");
    // Outsiders see nothing.
    let cb = app.login("clinician_b").await;
    assert_error(
        app.get(&cb, &format!("/api/v1/remote-requests/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&cb, &format!("/api/v1/remote-requests/{id}/file"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn only_the_claimant_reports_and_signs(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let sp2 = second_reader(&app).await;
    let sp = app.login("specialist").await;
    let f = ecg_fields(&resident.to_string());
    let v: Value = upload(&app, &ca, &refs(&f), Some(("ecg.png", "image/png", PNG)))
        .await
        .json()
        .await
        .unwrap();
    let id = v["id"].as_i64().unwrap();
    let path = |a: &str| format!("/api/v1/remote-requests/{id}/{a}");
    let report = json!({"report": "窦性心律，未见明显异常", "conclusion": "正常心电图"});
    // Unclaimed: reporting and signing are refused.
    assert_error(
        app.post(&sp, &path("report"), &report).await,
        StatusCode::CONFLICT,
        "not_claimed_by_you",
    )
    .await;
    assert_error(
        app.post(&sp, &path("sign"), &json!({})).await,
        StatusCode::CONFLICT,
        "not_claimed_by_you",
    )
    .await;
    // The requesting side does not claim; the reader does, once.
    assert_error(
        app.post(&ca, &path("claim"), &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.post(&sp, &path("claim"), &json!({})).await.status(),
        StatusCode::OK
    );
    assert_error(
        app.post(&sp2, &path("claim"), &json!({})).await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    // Another reader can neither report, release nor sign it.
    assert_error(
        app.post(&sp2, &path("report"), &report).await,
        StatusCode::CONFLICT,
        "not_claimed_by_you",
    )
    .await;
    assert_error(
        app.post(&sp2, &path("release"), &json!({})).await,
        StatusCode::CONFLICT,
        "not_claimed_by_you",
    )
    .await;
    // An empty report is refused.
    assert_error(
        app.post(
            &sp,
            &path("report"),
            &json!({"report": " ", "conclusion": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    // Release puts it back; the other reader takes it and reports.
    let back: Value = app
        .post(&sp, &path("release"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (back["state"].as_str(), back["claimed_by"].as_i64()),
        (Some("requested"), None)
    );
    assert_eq!(
        app.post(&sp2, &path("claim"), &json!({})).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post(&sp2, &path("report"), &report).await.status(),
        StatusCode::OK
    );
    assert_error(
        app.post(&sp, &path("sign"), &json!({})).await,
        StatusCode::CONFLICT,
        "not_claimed_by_you",
    )
    .await;
    // A reported request is no longer cancelled by the requester.
    assert_error(
        app.post(&ca, &path("cancel"), &json!({"reason": "患者已自行就诊"}))
            .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    assert_eq!(
        app.post(&sp2, &path("sign"), &json!({})).await.status(),
        StatusCode::OK
    );
    // The referral desk sees the work list but does not read.
    let desk = app.login("desk").await;
    let v: Value = upload(&app, &ca, &refs(&f), Some(("ecg.png", "image/png", PNG)))
        .await
        .json()
        .await
        .unwrap();
    let id2 = v["id"].as_i64().unwrap();
    let wl: Value = app
        .get(&desk, "/api/v1/remote-requests/worklist")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wl.as_array().unwrap().len(), 1);
    assert_error(
        app.post(
            &desk,
            &format!("/api/v1/remote-requests/{id2}/claim"),
            &json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Cancelling needs a reason, then closes the request.
    let cancel = format!("/api/v1/remote-requests/{id2}/cancel");
    assert_error(
        app.post(&ca, &cancel, &json!({"reason": ""})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let v: Value = app
        .post(&ca, &cancel, &json!({"reason": "患者已转诊至县医院"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "cancelled");
    assert_error(
        app.post(
            &sp,
            &format!("/api/v1/remote-requests/{id2}/claim"),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    // Two readers claiming at the same moment: exactly one gets it.
    let v: Value = upload(&app, &ca, &refs(&f), Some(("ecg.png", "image/png", PNG)))
        .await
        .json()
        .await
        .unwrap();
    let claim = format!("/api/v1/remote-requests/{}/claim", v["id"]);
    let empty = json!({});
    let (a, b) = tokio::join!(
        app.post(&sp, &claim, &empty),
        app.post(&sp2, &claim, &empty)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
}

async fn an_oversize_upload_is_413_and_stores_nothing(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let f = ecg_fields(&resident.to_string());
    let max = yilian_domain::remote::MAX_FILE_BYTES;
    // One byte over the file limit (a valid PNG start, so only size is wrong).
    let mut big = PNG.to_vec();
    big.resize(max + 1, 0);
    let r = upload(&app, &ca, &refs(&f), Some(("big.png", "image/png", &big))).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Well over the route's body limit.
    big.resize(max + 2 * 1024 * 1024, 0);
    let r = upload(&app, &ca, &refs(&f), Some(("big.png", "image/png", &big))).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_eq!(counts(&app).await, (0, 0), "nothing stored");
    // Exactly at the limit is accepted.
    big.truncate(max);
    let r = upload(&app, &ca, &refs(&f), Some(("max.png", "image/png", &big))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(counts(&app).await, (1, 1));
}

async fn a_file_that_is_not_what_it_claims_is_415_and_stores_nothing(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let f = ecg_fields(&resident.to_string());
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("scan.dcm", "application/dicom", PNG)),
    )
    .await;
    let body = assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(body["message_zh"].as_str().unwrap().contains("PNG"));
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some((
            "x.bin",
            "application/octet-stream",
            b"\x00\x13random bytes\xff\xfe",
        )),
    )
    .await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // A read without a file or reference; JSON instead of a form.
    let r = upload(&app, &ca, &refs(&f), None).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let r = app.post(&ca, "/api/v1/remote-requests", &json!({})).await;
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_eq!(counts(&app).await, (0, 0), "nothing stored");
    // A reference instead of the file is enough.
    let mut with_ref = f.clone();
    with_ref.push(("file_ref", "PACS:WA-2026-000123".into()));
    let r = upload(&app, &ca, &refs(&with_ref), None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(counts(&app).await, (1, 0));
}

async fn routes_go_up_within_the_consortium_unless_justified(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let rid = resident.to_string();
    let with = |to: &str, reason: Option<&str>| {
        let mut f = ecg_fields(&rid);
        f[3].1 = to.into();
        if let Some(r) = reason {
            f.push(("reason", r.into()));
        }
        f
    };
    // T3 is outside the consortium: a reason is needed.
    let f = with("T3", None);
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "justification_required",
    )
    .await;
    let f = with("T3", Some("县医院心电室设备检修"));
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Not to a peer or a lower level; not to an unknown code.
    let f = with("WB", Some("理由充分的说明"));
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_target").await;
    let f = with("NOPE", None);
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_institution").await;
    // A county specialist does not request reads (only consultations).
    let sp = app.login("specialist").await;
    let f = with("T3", Some("疑难病例需上级会诊"));
    let r = upload(
        &app,
        &sp,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_target").await;
    // Bad vocabulary.
    let mut f = with("H1", None);
    f[1].1 = "xray".into();
    let r = upload(
        &app,
        &ca,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    // A resident outside the requester's scope is not found.
    let cb = app.login("clinician_b").await;
    let f = with("H1", Some("理由充分的说明"));
    let r = upload(
        &app,
        &cb,
        &refs(&f),
        Some(("e.pdf", "application/pdf", PDF)),
    )
    .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

/// With a zero-minute limit for routine reads, they are overdue a second
/// after the request; emergencies (30 min) are not.
async fn the_worklist_puts_emergencies_first_then_the_oldest(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    let vd = app.login("vd_a1").await;
    let rid = resident.to_string();
    let mut ids = Vec::new();
    for (who, urgency) in [
        (&ca, "routine"),
        (&vd, "routine"),
        (&ca, "emergency"),
        (&vd, "urgent"),
        (&ca, "emergency"),
    ] {
        let mut f = ecg_fields(&rid);
        f[2].1 = urgency.into();
        let r = upload(
            &app,
            who,
            &refs(&f),
            Some(("e.pdf", "application/pdf", PDF)),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
        // Distinct request times, so "oldest" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let sp = app.login("specialist").await;
    let wl: Value = app
        .get(&sp, "/api/v1/remote-requests/worklist")
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<i64> = wl
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, [ids[2], ids[4], ids[3], ids[0], ids[1]]);
    // The village clinic's list holds only its own requests.
    let sent: Value = app
        .get(&vd, "/api/v1/remote-requests/sent")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent.as_array().unwrap().len(), 2);
}

async fn overdue_after_the_clock_passes(backend: yilian_store::Backend) {
    let settings = yilian_server::Settings {
        login_per_minute: 10,
        remote_limits: yilian_domain::remote::TurnaroundLimits {
            emergency_minutes: 30,
            urgent_minutes: 60,
            routine_minutes: 0,
        },
        ..yilian_server::Settings::default()
    };
    let Some(app) = spawn_app_with(backend, settings).await else {
        return;
    };
    let (ca, resident) = setup(&app).await;
    let rid = resident.to_string();
    let mut ids = Vec::new();
    for urgency in ["routine", "emergency"] {
        let mut f = ecg_fields(&rid);
        f[2].1 = urgency.into();
        let r = upload(
            &app,
            &ca,
            &refs(&f),
            Some(("e.pdf", "application/pdf", PDF)),
        )
        .await;
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let sp = app.login("specialist").await;
    for token in [&sp, &ca] {
        let late: Value = app
            .get(token, "/api/v1/remote-requests/overdue")
            .await
            .json()
            .await
            .unwrap();
        let late: Vec<i64> = late
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_i64().unwrap())
            .collect();
        assert_eq!(late, [ids[0]], "both sides see it");
    }
    let wl: Value = app
        .get(&sp, "/api/v1/remote-requests/worklist")
        .await
        .json()
        .await
        .unwrap();
    let routine = wl
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == ids[0])
        .unwrap();
    assert_eq!(
        (
            routine["clock"]["overdue"].as_bool(),
            routine["clock"]["colour"].as_str()
        ),
        (Some(true), Some("red"))
    );
    assert_eq!(
        wl[0]["clock"]["colour"], "green",
        "the emergency has 30 minutes"
    );
    // Signed, it leaves the overdue list.
    let p = |a: &str| format!("/api/v1/remote-requests/{}/{a}", ids[0]);
    app.post(&sp, &p("claim"), &json!({})).await;
    app.post(
        &sp,
        &p("report"),
        &json!({"report": "窦性心律", "conclusion": "正常心电图"}),
    )
    .await;
    assert_eq!(
        app.post(&sp, &p("sign"), &json!({})).await.status(),
        StatusCode::OK
    );
    let late: Value = app
        .get(&sp, "/api/v1/remote-requests/overdue")
        .await
        .json()
        .await
        .unwrap();
    assert!(late.as_array().unwrap().is_empty());
    // Residents and payers have no overdue list.
    let insurer = app.login("insurer").await;
    assert_error(
        app.get(&insurer, "/api/v1/remote-requests/overdue").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn overdue_after_the_clock_passes_sqlite() {
    overdue_after_the_clock_passes(yilian_store::Backend::Sqlite).await;
}

#[tokio::test]
async fn overdue_after_the_clock_passes_postgres() {
    overdue_after_the_clock_passes(yilian_store::Backend::Postgres).await;
}

async fn a_consultation_flows_the_same_way(app: TestApp) {
    let (ca, resident) = setup(&app).await;
    // A consultation may come without a file.
    let f = [
        ("resident_id", resident.to_string()),
        ("kind", "consultation".to_string()),
        ("to_institution_code", "H1".to_string()),
        (
            "question",
            "2 型糖尿病，三种口服药联用血糖仍控制不佳，请会诊调整方案".to_string(),
        ),
    ];
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = upload(&app, &ca, &f, None).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        (v["urgency"].as_str(), v["clock"]["limit_minutes"].as_i64()),
        (Some("routine"), Some(24 * 60))
    );
    let sp = app.login("specialist").await;
    let p = |a: &str| format!("/api/v1/remote-requests/{id}/{a}");
    assert_error(
        app.get(&sp, &p("file")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.post(&sp, &p("claim"), &json!({})).await;
    app.post(
        &sp,
        &p("report"),
        &json!({"report": "建议加用基础胰岛素，两周后复查空腹血糖", "conclusion": "起始基础胰岛素治疗"}),
    )
    .await;
    let v: Value = app
        .post(&sp, &p("sign"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "signed");
    let rec: Value = app
        .get(
            &ca,
            &format!("/api/v1/residents/{resident}/record?kind=document"),
        )
        .await
        .json()
        .await
        .unwrap();
    let e = &rec["entries"]["items"][0];
    assert_eq!(
        (e["source"].as_str(), e["kind"].as_str()),
        (Some("remote_read"), Some("document"))
    );
    assert!(e["title"].as_str().unwrap().starts_with("远程会诊报告"));
    // A county specialist asks the tertiary hospital for a consultation
    // (outside the consortium, with a reason).
    let f = [
        ("resident_id", resident.to_string()),
        ("kind", "consultation".to_string()),
        ("urgency", "urgent".to_string()),
        ("to_institution_code", "T3".to_string()),
        ("question", "疑似主动脉夹层，请上级医院会诊".to_string()),
        ("reason", "本院无心外科，需三级医院会诊".to_string()),
    ];
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = upload(&app, &sp, &f, Some(("ct.png", "image/png", PNG))).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

async fn web_worklist_claim_report_sign_and_the_requesters_form(app: TestApp) {
    let (_, resident) = setup(&app).await;
    // The requester: a link from the resident page to the form, the form,
    // an upload, and the list of sent requests.
    let ca = browser(&app, "clinician_a").await;
    let (status, rp) = page(&app, &ca, &format!("/residents/{resident}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        rp.contains("申请远程诊断"),
        "the resident page links to the form"
    );
    let (status, form) = page(&app, &ca, &format!("/remote/new?resident_id={resident}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("enctype=\"multipart/form-data\"") && form.contains("H1机构"));
    let csrf = csrf_of(&form);
    let rid = resident.to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("resident_id", rid.as_str()),
        ("kind", "ecg"),
        ("urgency", "emergency"),
        ("to_institution_code", "H1"),
        ("question", "突发胸痛 30 分钟，请急读心电图"),
    ];
    let post = |fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>| {
        let (ctype, body) = multipart(fields, file);
        ca.post(app.url("/remote/new"))
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    // A bad file is shown on the form, not stored.
    let r = post(&fields, Some(("e.pdf", "application/pdf", PNG)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("与声明的类型") && html.contains("突发胸痛"),
        "kept the entered values"
    );
    let r = post(&fields, Some(("e.pdf", "application/pdf", PDF)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let detail = r.text().await.unwrap();
    assert!(detail.contains("待接单") && detail.contains("突发胸痛"));
    let id = {
        let mut c = app.db.store.read().await.unwrap();
        let all = yilian_store::remote::list(&mut c, &Default::default(), Paging::default())
            .await
            .unwrap();
        all.items[0].id
    };
    let (_, sent) = page(&app, &ca, "/remote").await;
    assert!(sent.contains("我的申请") && sent.contains(&format!("/remote/{id}")));

    // The reader: the work list with its clock, claim, report, sign.
    let sp = browser(&app, "specialist").await;
    let (status, wl) = page(&app, &sp, "/remote").await;
    assert_eq!(status, StatusCode::OK);
    assert!(wl.contains("阅片工作列表") && wl.contains("clock-green") && wl.contains("剩余"));
    let (_, d) = page(&app, &sp, &format!("/remote/{id}")).await;
    assert!(d.contains("接单") && d.contains(&format!("/remote/{id}/file")));
    let csrf = csrf_of(&d);
    let r = submit(
        &app,
        &sp,
        &format!("/remote/{id}/claim"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d = r.text().await.unwrap();
    assert!(d.contains("已接单") && d.contains("出具报告"));
    // An empty report is shown on the form.
    let r = submit(
        &app,
        &sp,
        &format!("/remote/{id}/report"),
        &[("csrf", &csrf), ("report", ""), ("conclusion", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = submit(
        &app,
        &sp,
        &format!("/remote/{id}/report"),
        &[
            ("csrf", &csrf),
            ("report", "窦性心律，II、III、aVF 导联 ST 段抬高 0.2 mV"),
            ("conclusion", "急性下壁心肌梗死"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("签发"));
    let r = submit(&app, &sp, &format!("/remote/{id}/sign"), &[("csrf", &csrf)]).await;
    let d = r.text().await.unwrap();
    assert!(d.contains("已签发") && d.contains("急性下壁心肌梗死"));
    // A form without its token is refused.
    let r = submit(
        &app,
        &sp,
        &format!("/remote/{id}/claim"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The requester's report view.
    let (_, d) = page(&app, &ca, &format!("/remote/{id}")).await;
    assert!(d.contains("急性下壁心肌梗死") && d.contains("已签发"));
    let f = ca
        .get(app.url(&format!("/remote/{id}/file")))
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), StatusCode::OK);
    assert_eq!(&f.bytes().await.unwrap()[..], PDF);
}
