//! Duplicate candidates, merges and unmerges, and the generator's ground truth.
//! A merge sets `residents.merged_into`; no record is moved or deleted.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use yilian_domain::access::ResidentScope;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

/// The fields record linkage compares, loaded in bulk.
#[derive(Debug, Clone, FromRow)]
pub struct LinkFields {
    pub id: i64,
    pub name: String,
    pub name_pinyin: String,
    pub name_initials: String,
    pub birth_date: String,
    pub sex: String,
    pub phone: String,
    pub region_code: String,
    pub address: String,
}

/// Every active (unmerged) resident inside `within` (a region prefix, or all).
pub async fn link_fields(
    conn: &mut Conn,
    within: Option<&str>,
) -> Result<Vec<LinkFields>, StoreError> {
    let mut w = Where::new();
    w.and("merged_into IS NULL", []);
    if let Some(p) = within {
        w.prefix("region_code", p);
    }
    let mut q = Sql::new(
        "SELECT id, name, name_pinyin, name_initials, birth_date, sex, phone, region_code, address FROM residents",
    );
    w.append_to(&mut q);
    q.push(" ORDER BY id");
    q.fetch_all(conn).await
}

/// A scored candidate pair to store.
#[derive(Debug, Clone)]
pub struct NewCandidate {
    pub a_id: i64,
    pub b_id: i64,
    pub score: f64,
    pub comparison: String,
}

/// Stores candidates, keeping any pair already known (and its decision).
/// Returns how many were new.
pub async fn insert_candidates(conn: &mut Conn, cands: &[NewCandidate]) -> Result<u64, StoreError> {
    let now = now_text();
    let mut added = 0;
    for chunk in cands.chunks(500) {
        let mut q = Sql::new(
            "INSERT INTO dup_candidates (a_id, b_id, score, comparison, status, created_at) VALUES ",
        );
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                c.a_id.into(),
                c.b_id.into(),
                Val::Real(c.score),
                c.comparison.clone().into(),
                "open".into(),
                now.clone().into(),
            ]);
            q.push(")");
        }
        q.push(" ON CONFLICT (a_id, b_id) DO NOTHING");
        added += q.execute(conn).await?;
    }
    Ok(added)
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CandidateRow {
    pub id: i64,
    pub a_id: i64,
    pub b_id: i64,
    pub score: f64,
    pub comparison: String,
    pub status: String,
    pub created_at: String,
    pub a_name: String,
    pub b_name: String,
}

const CANDIDATE_FROM: &str =
    "dup_candidates c JOIN residents a ON a.id = c.a_id JOIN residents b ON b.id = c.b_id";
const CANDIDATE_COLS: &str = "c.id, c.a_id, c.b_id, c.score, c.comparison, c.status, c.created_at, a.name AS a_name, b.name AS b_name";

/// Candidates with both residents visible under `scope`, best score first.
pub async fn list_candidates(
    conn: &mut Conn,
    status: Option<&str>,
    scope: &ResidentScope,
    paging: Paging,
) -> Result<Page<CandidateRow>, StoreError> {
    let mut w = Where::new();
    if let Some(s) = status {
        w.and("c.status = ?", [s.into()]);
    }
    match scope {
        ResidentScope::All => {}
        ResidentScope::Area { prefix, .. } => {
            w.prefix("a.region_code", prefix)
                .prefix("b.region_code", prefix);
        }
        ResidentScope::Only(_) | ResidentScope::Nobody => {
            w.and("1 = 0", []);
        }
    }
    w.page(
        conn,
        CANDIDATE_COLS,
        CANDIDATE_FROM,
        "c.score DESC, c.id",
        paging,
    )
    .await
}

pub async fn get_candidate(conn: &mut Conn, id: i64) -> Result<Option<CandidateRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CANDIDATE_COLS} FROM {CANDIDATE_FROM} WHERE c.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Marks a candidate `open`, `merged` or `rejected` (not a duplicate).
pub async fn set_candidate_status(
    conn: &mut Conn,
    id: i64,
    status: &str,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE dup_candidates SET status = ");
    q.bind(status).push(" WHERE id = ").bind(id);
    if q.execute(conn).await? == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct MergeRow {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_id: i64,
    pub candidate_id: Option<i64>,
    pub reason: String,
    pub merged_by: i64,
    pub merged_at: String,
    pub undone_by: Option<i64>,
    pub undone_at: Option<String>,
}

const MERGE_COLS: &str =
    "id, survivor_id, merged_id, candidate_id, reason, merged_by, merged_at, undone_by, undone_at";

/// Records a merge and points the merged resident at the survivor. The
/// domain's `check_merge` must have passed; this only writes.
pub async fn merge(
    conn: &mut Conn,
    survivor: i64,
    merged: i64,
    candidate: Option<i64>,
    reason: &str,
    by: i64,
) -> Result<MergeRow, StoreError> {
    let mut u = Sql::new("UPDATE residents SET merged_into = ");
    u.bind(survivor)
        .push(", version = version + 1, updated_at = ")
        .bind(now_text());
    u.push(" WHERE id = ")
        .bind(merged)
        .push(" AND merged_into IS NULL");
    if u.execute(conn).await? != 1 {
        return Err(StoreError::VersionConflict { expected: 0 });
    }
    let mut q = Sql::new(
        "INSERT INTO merges (survivor_id, merged_id, candidate_id, reason, merged_by, merged_at) VALUES (",
    );
    q.bind_list([
        survivor.into(),
        merged.into(),
        candidate.into(),
        reason.into(),
        by.into(),
        now_text().into(),
    ]);
    q.push(&format!(") RETURNING {MERGE_COLS}"));
    q.fetch_one(conn).await
}

pub async fn get_merge(conn: &mut Conn, id: i64) -> Result<Option<MergeRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {MERGE_COLS} FROM merges WHERE id = "));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Undoes a merge: the merged resident stands alone again.
pub async fn unmerge(conn: &mut Conn, id: i64, by: i64) -> Result<MergeRow, StoreError> {
    let m = get_merge(conn, id).await?.ok_or(StoreError::NotFound)?;
    let mut u =
        Sql::new("UPDATE residents SET merged_into = NULL, version = version + 1, updated_at = ");
    u.bind(now_text())
        .push(" WHERE id = ")
        .bind(m.merged_id)
        .push(" AND merged_into = ")
        .bind(m.survivor_id);
    if u.execute(conn).await? != 1 {
        return Err(StoreError::VersionConflict { expected: 0 });
    }
    let mut q = Sql::new("UPDATE merges SET undone_by = ");
    q.bind(by)
        .push(", undone_at = ")
        .bind(now_text())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND undone_at IS NULL");
    if q.execute(conn).await? != 1 {
        return Err(StoreError::VersionConflict { expected: 0 });
    }
    get_merge(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn list_merges(conn: &mut Conn, paging: Paging) -> Result<Page<MergeRow>, StoreError> {
    Where::new()
        .page(conn, MERGE_COLS, "merges", "id DESC", paging)
        .await
}

/// Stores the generator's ground truth: `duplicate` is a copy of `original`.
pub async fn insert_truth(conn: &mut Conn, pairs: &[(i64, i64)]) -> Result<(), StoreError> {
    for chunk in pairs.chunks(1000) {
        let mut q = Sql::new("INSERT INTO synth_truth (resident_id, original_id) VALUES ");
        for (i, (dup, orig)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([(*dup).into(), (*orig).into()]).push(")");
        }
        q.execute(conn).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, FromRow)]
pub struct TruthPair {
    pub resident_id: i64,
    pub original_id: i64,
}

pub async fn truth(conn: &mut Conn) -> Result<Vec<TruthPair>, StoreError> {
    Sql::new("SELECT resident_id, original_id FROM synth_truth ORDER BY resident_id")
        .fetch_all(conn)
        .await
}
