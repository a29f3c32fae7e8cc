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
