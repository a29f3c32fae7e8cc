//! Bulk loading for the generator and imports: multi-row inserts in the
//! caller's transaction, health card serials reserved a block at a time.

use std::collections::HashMap;

use sqlx::FromRow;
use yilian_domain::resident::ValidResident;

use crate::residents::{RESIDENT_INSERT_COLS, allocate_card_serials, card_for, resident_vals};
use crate::sql::Sql;
use crate::{Conn, StoreError, now_text};

/// Rows per multi-row INSERT: 16 columns × 500 rows stays well under both
/// backends' bound-parameter limits.
pub const BATCH: usize = 500;

#[derive(FromRow)]
struct Inserted {
    id: i64,
    id_number: String,
}

/// Inserts residents (registered at `registered_at`, if any) and returns the
/// new row ids in input order. Identity numbers must be unique.
pub async fn insert_residents(
    conn: &mut Conn,
    rows: &[ValidResident],
    registered_at: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    let now = now_text();
    for chunk in rows.chunks(BATCH) {
        // Serial blocks per county; a chunk is usually one county.
        let mut next: HashMap<&str, i64> = HashMap::new();
        for r in chunk {
            *next.entry(r.region_code.county_part()).or_default() += 1;
        }
        for (county, n) in next.iter_mut() {
            *n = allocate_card_serials(conn, county, *n).await?;
        }
        let mut q = Sql::new(&format!(
            "INSERT INTO residents ({RESIDENT_INSERT_COLS}) VALUES "
        ));
        for (i, r) in chunk.iter().enumerate() {
            let county = r.region_code.county_part();
            let serial = next
                .get_mut(county)
                .ok_or_else(|| StoreError::Corrupt("serial block".into()))?;
            let card = card_for(county, *serial)?;
            *serial += 1;
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list(resident_vals(r).into_iter().chain([
                card.as_str().into(),
                registered_at.into(),
                now.clone().into(),
                now.clone().into(),
            ]));
            q.push(")");
        }
        q.push(" RETURNING id, id_number");
        let inserted: Vec<Inserted> = q.fetch_all(conn).await?;
        let by_number: HashMap<String, i64> =
            inserted.into_iter().map(|r| (r.id_number, r.id)).collect();
        for r in chunk {
            ids.push(
                *by_number
                    .get(r.id_number.as_str())
                    .ok_or_else(|| StoreError::Corrupt("insert lost a row".into()))?,
            );
        }
    }
    Ok(ids)
}

// ---------------------------------------------------------------- care (generator)

/// Runs one multi-row INSERT per chunk of rows, each row's values from `row`.
async fn insert_rows<T>(
    conn: &mut Conn,
    head: &str,
    rows: &[T],
    per_chunk: usize,
    row: impl Fn(&T) -> Vec<crate::sql::Val>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(per_chunk) {
        let mut q = Sql::new(head);
        for (i, r) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list(row(r));
            q.push(")");
        }
        q.execute(conn).await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct KeyedId {
    id: i64,
    resident_id: i64,
}

/// Inserts active contracts (one per resident) with their packages; returns
/// the new ids in input order.
pub async fn insert_contracts(
    conn: &mut Conn,
    rows: &[crate::care::NewContract],
) -> Result<Vec<i64>, StoreError> {
    let now = now_text();
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(BATCH / 2) {
        let mut q = Sql::new(
            "INSERT INTO contracts (resident_id, team_id, doctor_id, household_code, start_date, end_date, status, secondary_hospital_id, \
             tertiary_hospital_id, fee_fen, previous_id, signed_by, created_at, updated_at) VALUES ",
        );
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                c.resident_id.into(),
                c.team_id.into(),
                c.doctor_id.into(),
                c.household_code.clone().into(),
                c.start_date.clone().into(),
                c.end_date.clone().into(),
                "active".into(),
                c.secondary_hospital_id.into(),
                c.tertiary_hospital_id.into(),
                c.fee_fen.into(),
                c.previous_id.into(),
                c.signed_by.into(),
                now.clone().into(),
                now.clone().into(),
            ]);
            q.push(")");
        }
        q.push(" RETURNING id, resident_id");
        let got: Vec<KeyedId> = q.fetch_all(conn).await?;
        let by_resident: HashMap<i64, i64> =
            got.into_iter().map(|k| (k.resident_id, k.id)).collect();
        for c in chunk {
            ids.push(
                *by_resident
                    .get(&c.resident_id)
                    .ok_or_else(|| StoreError::Corrupt("contract insert lost a row".into()))?,
            );
        }
    }
    let packages: Vec<(i64, String, u32)> = rows
        .iter()
        .zip(&ids)
        .flat_map(|(c, id)| {
            c.packages
                .iter()
                .map(move |(code, v)| (*id, code.clone(), *v))
        })
        .collect();
    insert_rows(
        conn,
        "INSERT INTO contract_packages (contract_id, package_code, package_version) VALUES ",
        &packages,
        BATCH,
        |(id, code, v)| vec![(*id).into(), code.clone().into(), i64::from(*v).into()],
    )
    .await?;
    Ok(ids)
}

/// Inserts enrolments (their first risk is their current one); returns ids in
/// input order. Risk history and follow-ups are added separately.
pub async fn insert_enrolments(
    conn: &mut Conn,
    rows: &[crate::care::NewEnrolment],
    last: &[(Option<String>, Option<String>)],
) -> Result<Vec<i64>, StoreError> {
    let now = now_text();
    let mut ids = Vec::with_capacity(rows.len());
    for (chunk_i, chunk) in rows.chunks(BATCH / 2).enumerate() {
        let mut q = Sql::new(
            "INSERT INTO enrolments (resident_id, program, source, enrolled_on, status, factors, risk, risk_on, assessment_on, plan, next_due, \
             last_followup, last_specialist_review, created_at, updated_at) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            let (last_fu, last_review) = last
                .get(chunk_i * (BATCH / 2) + i)
                .cloned()
                .unwrap_or((None, None));
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                e.resident_id.into(),
                e.program.clone().into(),
                e.source.clone().into(),
                e.enrolled_on.clone().into(),
                "active".into(),
                e.factors.clone().into(),
                e.risk.clone().into(),
                last_fu
                    .clone()
                    .unwrap_or_else(|| e.enrolled_on.clone())
                    .into(),
                e.assessment_on.clone().into(),
                e.plan.clone().into(),
                e.next_due.clone().into(),
                last_fu.into(),
                last_review.into(),
                now.clone().into(),
                now.clone().into(),
            ]);
            q.push(")");
        }
        q.push(" RETURNING id, resident_id, program");
        #[derive(FromRow)]
        struct Got {
            id: i64,
            resident_id: i64,
            program: String,
        }
        let got: Vec<Got> = q.fetch_all(conn).await?;
        let by_key: HashMap<(i64, String), i64> = got
            .into_iter()
            .map(|g| ((g.resident_id, g.program), g.id))
            .collect();
        for e in chunk {
            ids.push(
                *by_key
                    .get(&(e.resident_id, e.program.clone()))
                    .ok_or_else(|| StoreError::Corrupt("enrolment insert lost a row".into()))?,
            );
        }
    }
    Ok(ids)
}

/// Inserts follow-ups.
pub async fn insert_followups(
    conn: &mut Conn,
    rows: &[crate::care::NewFollowUp],
) -> Result<(), StoreError> {
    insert_rows(conn, crate::care::FOLLOWUP_INSERT, rows, BATCH / 2, |f| {
        crate::care::followup_vals(f).to_vec()
    })
    .await
}

/// Inserts risk history entries: (enrolment id, date, risk, reason).
pub async fn insert_risk_history(
    conn: &mut Conn,
    rows: &[(i64, String, String, &'static str)],
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO risk_history (enrolment_id, at, risk, reason) VALUES ",
        rows,
        BATCH,
        |(e, at, risk, reason)| {
            vec![
                (*e).into(),
                at.clone().into(),
                risk.clone().into(),
                (*reason).into(),
            ]
        },
    )
    .await
}

/// Inserts delivered services: (contract id, kind, date).
pub async fn insert_deliveries(
    conn: &mut Conn,
    rows: &[(i64, &'static str, String)],
) -> Result<(), StoreError> {
    let now = now_text();
    insert_rows(conn, "INSERT INTO service_deliveries (contract_id, kind, date, practitioner_id, created_at) VALUES ", rows, BATCH, |(c, kind, date)| {
        vec![(*c).into(), (*kind).into(), date.clone().into(), crate::sql::Val::NullInt, now.clone().into()]
    })
    .await
}

/// A routine encounter of the generated year for the shared record.
#[derive(Debug, Clone)]
pub struct BulkEncounter {
    pub resident_id: i64,
    pub institution_id: i64,
    /// `outpatient`, `emergency`, …
    pub encounter_type: &'static str,
    /// Local time `YYYY-MM-DDTHH:MM:SS`, like the other record entries.
    pub occurred_at: String,
    /// ICD-10 code of the visit's diagnosis.
    pub code: &'static str,
    pub title: &'static str,
}

/// Inserts encounter entries (source `his`: what an institution's
/// information system reports of its routine visits).
pub async fn insert_encounters(conn: &mut Conn, rows: &[BulkEncounter]) -> Result<(), StoreError> {
    let now = now_text();
    insert_rows(
        conn,
        "INSERT INTO record_entries (resident_id, institution_id, kind, encounter_type, occurred_at, code, title, source, created_at) VALUES ",
        rows,
        BATCH,
        |e| {
            vec![
                e.resident_id.into(),
                e.institution_id.into(),
                "encounter".into(),
                e.encounter_type.into(),
                e.occurred_at.clone().into(),
                e.code.into(),
                e.title.into(),
                "his".into(),
                now.clone().into(),
            ]
        },
    )
    .await
}

// ---------------------------------------------------------------- referrals (generator)

/// Referrals per multi-row INSERT: 27 columns × 200 rows.
const REFERRAL_BATCH: usize = 200;

/// One step of a generated referral's trail (`referral_events`; the acting
/// user is unknown, `user_id` is NULL).
#[derive(Debug, Clone)]
pub struct BulkEvent {
    /// RFC 3339 UTC, like [`crate::now_text`].
    pub at: String,
    pub event: String,
    pub from_state: String,
    pub to_state: String,
    /// A role code, or `system`.
    pub role: String,
    pub note: String,
}

/// The slot a scheduled referral booked, and the appointment on it. Each
/// appointment gets a slot of its own, so `appointments_one_per_slot` holds
/// whatever the status.
#[derive(Debug, Clone)]
pub struct BulkAppointment {
    pub slot: crate::referrals::NewSlot,
    /// `booked`, `attended`, `cancelled` or `no_show`.
    pub status: String,
    /// When it was booked and last changed (RFC 3339 UTC).
    pub created_at: String,
    pub updated_at: String,
}

/// A referral as its trail left it, for the generator.
#[derive(Debug, Clone)]
pub struct BulkReferral {
    /// The columns the service writes at creation, in their stored formats
    /// (`submitted_at`/`deadline_at` China Standard Time without zone). Its
    /// `redirected_from` is ignored: see `redirected_from_row`.
    pub referral: crate::referrals::NewReferral,
    pub decline_reason: Option<String>,
    /// The first and the last event's time (RFC 3339 UTC).
    pub created_at: String,
    pub updated_at: String,
    /// The declined referral this one redirects: an earlier row of the slice.
    pub redirected_from_row: Option<usize>,
    /// The trail from creation on; `version` is 1 plus the changes after it.
    pub events: Vec<BulkEvent>,
    pub appointment: Option<BulkAppointment>,
}

#[derive(FromRow)]
struct ReferralKey {
    id: i64,
    resident_id: i64,
    submitted_at: Option<String>,
}

#[derive(FromRow)]
struct SlotKey {
    id: i64,
    institution_id: i64,
    department: String,
    starts_at: String,
}

#[derive(FromRow)]
struct AppointmentKey {
    id: i64,
    referral_id: Option<i64>,
}

/// Inserts generated referrals with their events, and for scheduled ones a
/// slot and an appointment (linked both ways); returns the referral ids in
/// input order. Within one call a resident's referrals must differ in
/// `submitted_at` (that pair maps the returned ids back to the rows). Rows
/// that redirect another are written after it, so `redirected_from` refers
/// to a stored row.
pub async fn insert_referrals(
    conn: &mut Conn,
    rows: &[BulkReferral],
) -> Result<Vec<i64>, StoreError> {
    let mut depth = vec![0usize; rows.len()];
    for (i, r) in rows.iter().enumerate() {
        if let Some(p) = r.redirected_from_row {
            if p >= i {
                return Err(StoreError::Corrupt(
                    "a referral redirects a later row".into(),
                ));
            }
            depth[i] = depth[p] + 1;
        }
    }
    let mut ids = vec![0i64; rows.len()];
    for d in 0..=depth.iter().copied().max().unwrap_or(0) {
        let level: Vec<usize> = (0..rows.len()).filter(|i| depth[*i] == d).collect();
        for chunk in level.chunks(REFERRAL_BATCH) {
            let mut q = Sql::new(&format!(
                "INSERT INTO referrals ({}, decline_reason, version, created_at, updated_at) VALUES ",
                crate::referrals::INSERT_COLS
            ));
            for (k, &i) in chunk.iter().enumerate() {
                let b = &rows[i];
                let n = &b.referral;
                let redirected = b.redirected_from_row.map(|p| ids[p]);
                q.push(if k == 0 { "(" } else { ", (" });
                let mut n = n.clone();
                n.redirected_from = redirected;
                q.bind_list(n.values().into_iter().chain([
                    b.decline_reason.clone().into(),
                    (b.events.len().max(1) as i64).into(),
                    b.created_at.clone().into(),
                    b.updated_at.clone().into(),
                ]));
                q.push(")");
            }
            q.push(" RETURNING id, resident_id, submitted_at");
            let got: Vec<ReferralKey> = q.fetch_all(conn).await?;
            let mut by_key: HashMap<(i64, Option<String>), i64> = HashMap::new();
            for g in got {
                if by_key
                    .insert((g.resident_id, g.submitted_at), g.id)
                    .is_some()
                {
                    return Err(StoreError::Corrupt(
                        "two referrals of a resident submitted at the same time".into(),
                    ));
                }
            }
            for &i in chunk {
                let n = &rows[i].referral;
                ids[i] = by_key
                    .remove(&(n.resident_id, n.submitted_at.clone()))
                    .ok_or_else(|| StoreError::Corrupt("referral insert lost a row".into()))?;
            }
        }
    }

    let events: Vec<(i64, &BulkEvent)> = rows
        .iter()
        .zip(&ids)
        .flat_map(|(r, id)| r.events.iter().map(move |e| (*id, e)))
        .collect();
    insert_rows(
        conn,
        "INSERT INTO referral_events (referral_id, at, event, from_state, to_state, user_id, role, note) VALUES ",
        &events,
        BATCH,
        |(id, e)| {
            vec![
                (*id).into(),
                e.at.clone().into(),
                e.event.clone().into(),
                e.from_state.clone().into(),
                e.to_state.clone().into(),
                crate::sql::Val::NullInt,
                e.role.clone().into(),
                e.note.clone().into(),
            ]
        },
    )
    .await?;

    let booked: Vec<(usize, &BulkAppointment)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.appointment.as_ref().map(|a| (i, a)))
        .collect();
    if booked.is_empty() {
        return Ok(ids);
    }
    // Slots: identical (institution, department, start) rows are
    // interchangeable, so each appointment takes one of its key's ids.
    let mut slot_ids: HashMap<(i64, String, String), Vec<i64>> = HashMap::new();
    for chunk in booked.chunks(BATCH) {
        let mut q = Sql::new(
            "INSERT INTO slots (institution_id, department, starts_at, ends_at, reserved_for_referral, release_hours, created_at) VALUES ",
        );
        for (k, (_, a)) in chunk.iter().enumerate() {
            let s = &a.slot;
            q.push(if k == 0 { "(" } else { ", (" });
            q.bind_list([
                s.institution_id.into(),
                s.department.clone().into(),
                s.starts_at.clone().into(),
                s.ends_at.clone().into(),
                s.reserved_for_referral.into(),
                s.release_hours.into(),
                a.created_at.clone().into(),
            ]);
            q.push(")");
        }
        q.push(" RETURNING id, institution_id, department, starts_at");
        let got: Vec<SlotKey> = q.fetch_all(conn).await?;
        for g in got {
            slot_ids
                .entry((g.institution_id, g.department, g.starts_at))
                .or_default()
                .push(g.id);
        }
    }
    let mut appointments = Vec::with_capacity(booked.len());
    for (i, a) in &booked {
        let s = &a.slot;
        let slot = slot_ids
            .get_mut(&(s.institution_id, s.department.clone(), s.starts_at.clone()))
            .and_then(Vec::pop)
            .ok_or_else(|| StoreError::Corrupt("slot insert lost a row".into()))?;
        appointments.push((slot, rows[*i].referral.resident_id, ids[*i], *a));
    }
    let mut appointment_of: Vec<(i64, i64)> = Vec::with_capacity(appointments.len());
    for chunk in appointments.chunks(BATCH) {
        let mut q = Sql::new(
            "INSERT INTO appointments (slot_id, resident_id, referral_id, status, booked_by, created_at, updated_at) VALUES ",
        );
        for (k, (slot, resident, referral, a)) in chunk.iter().enumerate() {
            q.push(if k == 0 { "(" } else { ", (" });
            q.bind_list([
                (*slot).into(),
                (*resident).into(),
                (*referral).into(),
                a.status.clone().into(),
                crate::sql::Val::NullInt,
                a.created_at.clone().into(),
                a.updated_at.clone().into(),
            ]);
            q.push(")");
        }
        q.push(" RETURNING id, referral_id");
        let got: Vec<AppointmentKey> = q.fetch_all(conn).await?;
        appointment_of.extend(
            got.into_iter()
                .filter_map(|g| g.referral_id.map(|r| (r, g.id))),
        );
    }
    // Each referral points at its appointment: one UPDATE per chunk.
    for chunk in appointment_of.chunks(BATCH / 2) {
        let mut q = Sql::new("UPDATE referrals SET appointment_id = CASE id");
        for (referral, appointment) in chunk {
            q.push(" WHEN ")
                .bind(*referral)
                .push(" THEN CAST(")
                .bind(*appointment)
                .push(" AS BIGINT)");
        }
        q.push(" END WHERE id IN (");
        q.bind_list(chunk.iter().map(|(r, _)| crate::sql::Val::from(*r)));
        q.push(")");
        q.execute(conn).await?;
    }
    Ok(ids)
}

/// Drops `table`'s plain (non-unique) secondary indexes for a bulk load and
/// returns their definitions for [`create_indexes`] once the load is over.
/// Each row inserted into a table with random-key indexes (a resident's
/// name, pinyin, phone …) touches one random page per index; built once
/// from the loaded rows, an index is a sort. Unique indexes stay: they are
/// constraints the load must respect.
pub async fn drop_plain_indexes(conn: &mut Conn, table: &str) -> Result<Vec<String>, StoreError> {
    let mut q = Sql::new(if conn.backend_name() == "SQLite" {
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND sql NOT LIKE 'CREATE UNIQUE%' AND tbl_name = "
    } else {
        "SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexdef NOT LIKE 'CREATE UNIQUE%' AND tablename = "
    });
    q.bind(table).push(" ORDER BY 1");
    let found: Vec<(String, String)> = q.fetch_all(conn).await?;
    for (name, _) in &found {
        Sql::new(&format!("DROP INDEX \"{}\"", name.replace('"', "")))
            .execute(conn)
            .await?;
    }
    Ok(found.into_iter().map(|(_, sql)| sql).collect())
}

/// Creates the indexes [`drop_plain_indexes`] took off.
pub async fn create_indexes(conn: &mut Conn, definitions: &[String]) -> Result<(), StoreError> {
    for d in definitions {
        Sql::new(d).execute(conn).await?;
    }
    Ok(())
}
