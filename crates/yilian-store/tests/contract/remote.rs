//! The store contract for 远程诊断 (remote reading): files as bytes, the
//! work-list order, the claim race, claimant-only report and sign, overdue,
//! and the access ground it gives. Included by `tests/contract.rs`.

use yilian_store::remote::{self as rs, NewFile, NewRequest, RequestFilter};
use yilian_store::testkit::TestDb;
use yilian_store::users::{self, NewUser};
use yilian_store::{Paging, Store, records, residents};

contract!(
    remote_files_round_trip_their_bytes,
    remote_worklist_claim_race_report_sign_and_overdue,
);

async fn user(s: &Store, name: &str, institution_id: i64) -> i64 {
    let mut tx = s.write().await.unwrap();
    let u = users::insert(
        &mut tx,
        &NewUser {
            username: name.into(),
            password_hash: "x".into(),
            role: "specialist".into(),
            scope_code: None,
            institution_id: Some(institution_id),
            region_code: None,
            resident_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    u.id
}

async fn remote_files_round_trip_their_bytes(db: TestDb) {
    let s = &db.store;
    // Every byte value, NULs and invalid UTF-8 included.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut tx = s.write().await.unwrap();
    let id = rs::insert_file(
        &mut tx,
        &NewFile {
            sha256: "ab".repeat(32),
            media_type: "application/dicom".into(),
            filename: "ct.dcm".into(),
            bytes: bytes.clone(),
            created_by: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut c = s.read().await.unwrap();
    let f = rs::get_file(&mut c, id).await.unwrap().unwrap();
    assert_eq!(f.bytes, bytes);
    assert_eq!(
        (f.size, f.media_type.as_str()),
        (70_000, "application/dicom")
    );
    assert!(rs::get_file(&mut c, id + 1).await.unwrap().is_none());
    assert_eq!(rs::count_files(&mut c).await.unwrap(), 1);
}

fn req(resident_id: i64, from: i64, to: i64, urgency: &str, at: &str, due: &str) -> NewRequest {
    let rank = match urgency {
        "emergency" => 0,
        "urgent" => 1,
        _ => 2,
    };
    NewRequest {
        resident_id,
        kind: "ecg".into(),
        urgency: urgency.into(),
        urgency_rank: rank,
        from_institution_id: from,
        to_institution_id: to,
        requested_by: None,
        question: "胸闷两天，请判读心电图".into(),
        reason: None,
        file_id: None,
        file_ref: "PACS-0001".into(),
        requested_at: at.into(),
        due_at: due.into(),
    }
}

async fn remote_worklist_claim_race_report_sign_and_overdue(db: TestDb) {
    let s = &db.store;
    let (county, town, village) = super::seed_institutions(s).await;
    let r1 = user(s, "reader1", county).await;
    let r2 = user(s, "reader2", county).await;
    let mut tx = s.write().await.unwrap();
    let a = residents::insert(
        &mut tx,
        &super::resident("140599101201", (1958, 3, 9), 11, "王建国", "14500001111"),
        Some(village),
    )
    .await
    .unwrap();
    // Routine (oldest), emergency (newest), urgent; and one to another hospital.
    let routine = rs::insert(
        &mut tx,
        &req(
            a.id,
            town,
            county,
            "routine",
            "2026-11-22T08:00:00",
            "2026-11-23T08:00:00",
        ),
    )
    .await
    .unwrap();
    let emergency = rs::insert(
        &mut tx,
        &req(
            a.id,
            town,
            county,
            "emergency",
            "2026-11-22T09:00:00",
            "2026-11-22T09:30:00",
        ),
    )
    .await
    .unwrap();
    let urgent = rs::insert(
        &mut tx,
        &req(
            a.id,
            village,
            county,
            "urgent",
            "2026-11-22T08:30:00",
            "2026-11-22T10:30:00",
        ),
    )
    .await
    .unwrap();
    let routine2 = rs::insert(
        &mut tx,
        &req(
            a.id,
            village,
            county,
            "routine",
            "2026-11-22T07:00:00",
            "2026-11-23T07:00:00",
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut c = s.read().await.unwrap();
    let wl = rs::worklist(&mut c, county, Paging::default())
        .await
        .unwrap();
    let order: Vec<i64> = wl.items.iter().map(|r| r.id).collect();
    assert_eq!(
        order,
        [emergency, urgent, routine2, routine],
        "urgency, then oldest"
    );
    assert_eq!(wl.total, 4);
    assert!(
        rs::worklist(&mut c, town, Paging::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let row = rs::get(&mut c, emergency).await.unwrap().unwrap();
    assert_eq!(
        (
            row.state.as_str(),
            row.resident_name.as_str(),
            !row.from_name.is_empty() && !row.to_name.is_empty()
        ),
        ("requested", "王建国", true)
    );
    drop(c);

    // The claim race: many readers at once, exactly one wins.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let s = s.clone();
        let who = if n % 2 == 0 { r1 } else { r2 };
        tasks.push(tokio::spawn(async move {
            let mut tx = s.write().await.unwrap();
            let won = rs::claim(&mut tx, emergency, who, "2026-11-22T09:05:00")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won.then_some(who)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "one claim wins");
    let winner = winners[0];
    let loser = if winner == r1 { r2 } else { r1 };

    let mut tx = s.write().await.unwrap();
    // Only the claimant reports, releases and signs.
    assert!(
        !rs::report(&mut tx, emergency, loser, "x", "x", "2026-11-22T09:10:00")
            .await
            .unwrap()
    );
    assert!(
        !rs::report(&mut tx, routine, r1, "x", "x", "2026-11-22T09:10:00")
            .await
            .unwrap(),
        "unclaimed"
    );
    assert!(!rs::release(&mut tx, emergency, loser).await.unwrap());
    assert!(
        !rs::sign(&mut tx, emergency, winner, "2026-11-22T09:10:00", 1)
            .await
            .unwrap(),
        "not reported yet"
    );
    assert!(
        rs::report(
            &mut tx,
            emergency,
            winner,
            "窦性心律，ST 段未见异常",
            "正常心电图",
            "2026-11-22T09:12:00"
        )
        .await
        .unwrap()
    );
    assert!(
        rs::report(
            &mut tx,
            emergency,
            winner,
            "窦性心律，ST 段未见明显异常",
            "正常心电图",
            "2026-11-22T09:14:00"
        )
        .await
        .unwrap(),
        "amended before signing"
    );
    assert!(
        !rs::cancel(&mut tx, emergency, "不需要了").await.unwrap(),
        "a reported request is not cancelled"
    );
    let entry = records::insert_entry(
        &mut tx,
        &records::NewEntry {
            resident_id: a.id,
            institution_id: county,
            kind: "exam".into(),
            occurred_at: "2026-11-22T09:15:00".into(),
            title: "远程心电诊断".into(),
            source: "remote_read".into(),
            source_id: Some(emergency),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        !rs::sign(&mut tx, emergency, loser, "2026-11-22T09:15:00", entry)
            .await
            .unwrap()
    );
    assert!(
        rs::sign(&mut tx, emergency, winner, "2026-11-22T09:15:00", entry)
            .await
            .unwrap()
    );
    assert!(
        !rs::sign(&mut tx, emergency, winner, "2026-11-22T09:16:00", entry)
            .await
            .unwrap(),
        "once"
    );
    // Claim and release put a request back on the list.
    assert!(
        rs::claim(&mut tx, urgent, r2, "2026-11-22T09:20:00")
            .await
            .unwrap()
    );
    assert!(
        !rs::claim(&mut tx, urgent, r1, "2026-11-22T09:20:00")
            .await
            .unwrap()
    );
    assert!(rs::release(&mut tx, urgent, r2).await.unwrap());
    assert!(
        rs::cancel(&mut tx, routine2, "患者已转诊至县医院")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let mut c = s.read().await.unwrap();
    let done = rs::get(&mut c, emergency).await.unwrap().unwrap();
    assert_eq!(
        (
            done.state.as_str(),
            done.signed_by,
            done.record_entry_id,
            done.conclusion.as_str(),
            done.version
        ),
        ("signed", Some(winner), Some(entry), "正常心电图", 5)
    );
    let back = rs::get(&mut c, urgent).await.unwrap().unwrap();
    assert_eq!((back.state.as_str(), back.claimed_by), ("requested", None));
    let order: Vec<i64> = rs::worklist(&mut c, county, Paging::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        order,
        [urgent, routine],
        "signed and cancelled leave the list"
    );

    // Overdue at 10:31: the urgent one (due 10:30); signed/cancelled never.
    let late: Vec<i64> = rs::overdue(&mut c, Some(county), "2026-11-22T10:31:00")
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(late, [urgent]);
    assert!(
        rs::overdue(&mut c, Some(county), "2026-11-22T10:30:00")
            .await
            .unwrap()
            .is_empty(),
        "on time at the due instant"
    );
    let all_late = rs::overdue(&mut c, None, "2026-11-24T00:00:00")
        .await
        .unwrap();
    assert_eq!(all_late.len(), 2);
    let sent = rs::list(
        &mut c,
        &RequestFilter {
            from_institution_id: Some(village),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        sent.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [urgent, routine2],
        "newest first"
    );

    // A request between the resident and an institution is an access ground
    // (from the day of the request) for both sides.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let f = records::access_facts(&mut c, a.id, Some(county), day)
        .await
        .unwrap();
    assert_eq!(f.days_since_remote, Some(3));
    let f = records::access_facts(&mut c, a.id, Some(town), day)
        .await
        .unwrap();
    assert_eq!(f.days_since_remote, Some(3));
}
