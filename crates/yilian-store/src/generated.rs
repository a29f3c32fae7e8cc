//! What the demo-data generator reads back to derive the year's exams,
//! remote reads, recognition orders and insurance claims from the care it
//! already wrote, and the bulk inserts of generated remote reads and claims.

use sqlx::FromRow;

use crate::sql::{Sql, Val};
use crate::{Conn, StoreError, now_text};

/// The resident's township or community centre (the institution of that
/// kind in the resident's township), as an SQL expression over `r`.
const CENTRE: &str = "(SELECT MIN(i.id) FROM institutions i WHERE i.kind IN ('township_health_center', 'community_health_center') \
     AND i.region_code = substr(r.region_code, 1, 9))";

/// The county general hospital leading a consortium of institution `x.centre`.
const LEAD: &str = "(SELECT MIN(c.lead_institution_id) FROM consortium_members m JOIN consortia c ON c.id = m.consortium_id \
     JOIN institutions li ON li.id = c.lead_institution_id WHERE m.institution_id = x.centre AND li.kind = 'county_general_hospital')";

/// A resident due an exam at their centre, read by the centre's lead hospital.
#[derive(Debug, Clone, FromRow)]
pub struct ExamCandidate {
    pub resident_id: i64,
    /// `YYYY-MM-DD`: the first follow-up of the year (chronic programs) or
    /// empty (the caller picks the day).
    pub date: String,
    pub centre: i64,
    pub lead: i64,
}

/// Residents followed up in any of `programs`, with their first follow-up
/// date, centre and the centre's lead hospital (residents whose centre has
/// no county-hospital lead are left out).
pub async fn followed_up_in(
    conn: &mut Conn,
    programs: &[&str],
) -> Result<Vec<ExamCandidate>, StoreError> {
    let mut q = Sql::new("SELECT x.resident_id, x.date, x.centre, ");
    q.push(LEAD).push(&format!(
        " AS lead FROM (SELECT f.resident_id, MIN(f.date) AS date, {CENTRE} AS centre \
         FROM followups f JOIN enrolments e ON e.id = f.enrolment_id JOIN residents r ON r.id = f.resident_id \
         WHERE e.program IN ("
    ));
    q.bind_list(programs.iter().map(|p| Val::from(*p)));
    q.push(") GROUP BY f.resident_id, r.region_code) x");
    keep_routed(q.fetch_all(conn).await?)
}

/// Residents born on or before `born_by` (`YYYY-MM-DD`), not merged away,
/// with their centre and its lead hospital; `date` is empty.
pub async fn born_by(conn: &mut Conn, born_by: &str) -> Result<Vec<ExamCandidate>, StoreError> {
    let mut q = Sql::new("SELECT x.resident_id, x.date, x.centre, ");
    q.push(LEAD).push(&format!(
        " AS lead FROM (SELECT r.id AS resident_id, '' AS date, {CENTRE} AS centre FROM residents r \
         WHERE r.merged_into IS NULL AND r.birth_date <= "
    ));
    q.bind(born_by).push(") x");
    keep_routed(q.fetch_all(conn).await?)
}

#[derive(FromRow)]
struct Routed {
    resident_id: i64,
    date: String,
    centre: Option<i64>,
    lead: Option<i64>,
}

fn keep_routed(rows: Vec<Routed>) -> Result<Vec<ExamCandidate>, StoreError> {
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ExamCandidate {
                resident_id: r.resident_id,
                date: r.date,
                centre: r.centre?,
                lead: r.lead?,
            })
        })
        .collect())
}

/// A generated remote read in its final state (times CST text).
#[derive(Debug, Clone)]
pub struct GeneratedRead {
    pub resident_id: i64,
    pub kind: String,
    pub urgency: String,
    pub urgency_rank: i64,
    pub from_institution_id: i64,
    pub to_institution_id: i64,
    pub question: String,
    /// Where the images are (PACS/ECG network reference).
    pub file_ref: String,
    pub state: String,
    pub claimed_at: Option<String>,
    pub report: String,
    pub conclusion: String,
    pub reported_at: Option<String>,
    pub signed_at: Option<String>,
    pub requested_at: String,
    pub due_at: String,
}

#[derive(FromRow)]
struct ReadKey {
    id: i64,
    resident_id: i64,
    requested_at: String,
}

/// Inserts generated reads; returns their ids in input order. Within one
/// call a resident's reads must differ in `requested_at`.
pub async fn insert_reads(conn: &mut Conn, rows: &[GeneratedRead]) -> Result<Vec<i64>, StoreError> {
    let now = now_text();
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(crate::bulk::BATCH / 2) {
        let mut q = Sql::new(
            "INSERT INTO remote_requests (resident_id, kind, urgency, urgency_rank, from_institution_id, to_institution_id, \
             question, file_ref, state, claimed_at, report, conclusion, reported_at, signed_at, requested_at, due_at, \
             created_at, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                r.resident_id.into(),
                r.kind.as_str().into(),
                r.urgency.as_str().into(),
                r.urgency_rank.into(),
                r.from_institution_id.into(),
                r.to_institution_id.into(),
                r.question.as_str().into(),
                r.file_ref.as_str().into(),
                r.state.as_str().into(),
                r.claimed_at.clone().into(),
                r.report.as_str().into(),
                r.conclusion.as_str().into(),
                r.reported_at.clone().into(),
                r.signed_at.clone().into(),
                r.requested_at.as_str().into(),
                r.due_at.as_str().into(),
                now.as_str().into(),
                now.as_str().into(),
            ]);
            q.push(")");
        }
        q.push(" RETURNING id, resident_id, requested_at");
        let got: Vec<ReadKey> = q.fetch_all(conn).await?;
        let by_key: std::collections::HashMap<(i64, &str), i64> = got
            .iter()
            .map(|k| ((k.resident_id, k.requested_at.as_str()), k.id))
            .collect();
        for r in chunk {
            ids.push(
                *by_key
                    .get(&(r.resident_id, r.requested_at.as_str()))
                    .ok_or_else(|| StoreError::Corrupt("remote read insert lost a row".into()))?,
            );
        }
    }
    Ok(ids)
}

/// Points each signed read at the record entry that filed its report
/// (source `remote_read`, filed at the request's time); returns how many
/// were linked.
pub async fn link_read_reports(conn: &mut Conn) -> Result<u64, StoreError> {
    Sql::new(
        "UPDATE remote_requests SET record_entry_id = (SELECT MIN(e.id) FROM record_entries e \
         WHERE e.resident_id = remote_requests.resident_id AND e.occurred_at = remote_requests.requested_at \
         AND e.source = 'remote_read' AND e.source_id = remote_requests.id) \
         WHERE state = 'signed' AND record_entry_id IS NULL",
    )
    .execute(conn)
    .await
}

/// A completed upward referral's visit: where and when the resident was seen.
#[derive(Debug, Clone, FromRow)]
pub struct ReferralVisit {
    pub referral_id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    /// CST text.
    pub starts_at: String,
    /// The resident has an HbA1c result on record.
    pub has_hba1c: i64,
}

/// Completed upward referrals with their appointment time, oldest first.
pub async fn upward_visits(conn: &mut Conn) -> Result<Vec<ReferralVisit>, StoreError> {
    Sql::new(
        "SELECT f.id AS referral_id, f.resident_id, f.to_institution_id AS institution_id, s.starts_at, \
         CASE WHEN EXISTS (SELECT 1 FROM record_entries e WHERE e.resident_id = f.resident_id AND e.code = 'hba1c') \
         THEN 1 ELSE 0 END AS has_hba1c \
         FROM referrals f JOIN appointments a ON a.id = f.appointment_id JOIN slots s ON s.id = a.slot_id \
         WHERE f.state = 'completed' AND f.direction = 'up' ORDER BY s.starts_at, f.id",
    )
    .fetch_all(conn)
    .await
}

// ------------------------------------------------------------------ claims

/// An encounter of the generated record that becomes a claim: a follow-up
/// at a primary institution, a completed referral's visit or a signed
/// remote read.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimEncounter {
    /// The record entry.
    pub entry_id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    /// The institution's kind.
    pub institution_kind: String,
    /// CST text, `YYYY-MM-DDTHH:MM[:SS]`.
    pub occurred_at: String,
    /// `follow_up`, `referral` or `remote_read`.
    pub what: String,
    /// The generated row the entry records (follow-up, referral or remote
    /// read): stable across backends, unlike the entry's own id.
    pub source_id: Option<i64>,
    /// The item code (remote reads).
    pub code: String,
    /// The referral (referral visits).
    pub referral_id: Option<i64>,
    /// Its direction (referral visits).
    pub direction: Option<String>,
}

/// The generated record's encounters that are billed, oldest first: follow-up
/// encounters at village clinics, community stations and township or
/// community centres; completed referrals' visits; remote-read exam reports.
pub async fn claim_encounters(conn: &mut Conn) -> Result<Vec<ClaimEncounter>, StoreError> {
    Sql::new(
        "SELECT e.id AS entry_id, e.resident_id, e.institution_id, i.kind AS institution_kind, e.occurred_at, \
         CASE WHEN e.kind = 'exam' THEN 'remote_read' WHEN e.source = 'referral' THEN 'referral' ELSE 'follow_up' END AS what, \
         e.source_id, e.code, f.id AS referral_id, f.direction \
         FROM record_entries e JOIN institutions i ON i.id = e.institution_id \
         LEFT JOIN referrals f ON e.source = 'referral' AND f.id = e.source_id \
         WHERE (e.kind = 'encounter' AND e.encounter_type = 'follow_up' AND i.kind IN ('village_clinic', \
         'community_health_station', 'township_health_center', 'community_health_center')) \
         OR (e.kind = 'encounter' AND e.source = 'referral') \
         OR (e.kind = 'exam' AND e.source = 'remote_read') \
         ORDER BY e.occurred_at, e.id",
    )
    .fetch_all(conn)
    .await
}

/// Residents not merged away, by id.
pub async fn resident_ids(conn: &mut Conn) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> =
        Sql::new("SELECT id FROM residents WHERE merged_into IS NULL ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Institutions of any of `kinds`, by id.
pub async fn institutions_of_kind(conn: &mut Conn, kinds: &[&str]) -> Result<Vec<i64>, StoreError> {
    let mut q = Sql::new("SELECT id FROM institutions WHERE kind IN (");
    q.bind_list(kinds.iter().map(|k| Val::from(*k)))
        .push(") ORDER BY id");
    let rows: Vec<(i64,)> = q.fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Inserts claims with multi-row inserts ([`crate::insurance::CLAIM_INSERT`]);
/// returns their ids in input order. Within one call a resident has at most
/// one claim (the ids are matched back by resident).
pub async fn insert_claims(
    conn: &mut Conn,
    rows: &[crate::insurance::NewClaim],
) -> Result<Vec<i64>, StoreError> {
    let now = now_text();
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(crate::bulk::BATCH / 2) {
        let mut q = Sql::new(crate::insurance::CLAIM_INSERT);
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind_list(crate::insurance::claim_vals(c, &now))
                .push(")");
        }
        q.push(" RETURNING id, resident_id");
        let got: Vec<(i64, i64)> = q.fetch_all(conn).await?;
        let by_resident: std::collections::HashMap<i64, i64> =
            got.into_iter().map(|(id, r)| (r, id)).collect();
        if by_resident.len() != chunk.len() {
            return Err(StoreError::Corrupt(
                "claim insert: a resident twice in one call, or a row lost".into(),
            ));
        }
        for c in chunk {
            ids.push(
                *by_resident
                    .get(&c.resident_id)
                    .ok_or_else(|| StoreError::Corrupt("claim insert lost a row".into()))?,
            );
        }
    }
    Ok(ids)
}
