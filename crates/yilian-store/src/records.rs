//! The shared health record (one timeline per resident), consents, and the
//! append-only, hash-chained access log. The rules (who may read, how an
//! entry is hashed) are `yilian_domain::record`'s; this module stores.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use yilian_domain::record::{AccessFacts, Break, GENESIS_HASH, LogLine, chain_hash, verify_chain};

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

// ------------------------------------------------------------------ entries

/// A new timeline entry (an encounter, diagnosis, prescription, result or document).
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub resident_id: i64,
    pub institution_id: i64,
    pub kind: String,
    pub encounter_type: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub occurred_at: String,
    pub code: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: bool,
    pub hr_mark: bool,
    pub body: String,
    pub encounter_id: Option<i64>,
    /// Where it came from: `manual`, `referral`, `follow_up`, `remote_read`, `generator` …
    pub source: String,
    pub source_id: Option<i64>,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct EntryRow {
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub kind: String,
    pub encounter_type: Option<String>,
    pub occurred_at: String,
    pub code: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: i64,
    pub hr_mark: i64,
    pub body: String,
    pub encounter_id: Option<i64>,
    pub source: String,
    /// The row of `source` this entry mirrors (e.g. the `prescriptions` row).
    pub source_id: Option<i64>,
    pub created_at: String,
}

const ENTRY_COLS: &str = "e.id, e.resident_id, e.institution_id, i.name AS institution_name, e.kind, e.encounter_type, \
     e.occurred_at, e.code, e.title, e.value, e.unit, e.reference_range, e.abnormal, e.hr_mark, e.body, \
     e.encounter_id, e.source, e.source_id, e.created_at";
const ENTRY_FROM: &str = "record_entries e JOIN institutions i ON i.id = e.institution_id";

fn entry_values(e: &NewEntry, created_at: &str) -> [Val; 18] {
    [
        e.resident_id.into(),
        e.institution_id.into(),
        e.kind.as_str().into(),
        e.encounter_type.clone().into(),
        e.occurred_at.as_str().into(),
        e.code.as_str().into(),
        e.title.as_str().into(),
        e.value.as_str().into(),
        e.unit.as_str().into(),
        e.reference_range.as_str().into(),
        e.abnormal.into(),
        e.hr_mark.into(),
        e.body.as_str().into(),
        e.encounter_id.into(),
        e.source.as_str().into(),
        e.source_id.into(),
        e.created_by.into(),
        created_at.into(),
    ]
}

const ENTRY_INSERT: &str = "INSERT INTO record_entries (resident_id, institution_id, kind, encounter_type, occurred_at, code, title, \
     value, unit, reference_range, abnormal, hr_mark, body, encounter_id, source, source_id, created_by, created_at) VALUES ";

/// Adds one entry; returns its id.
pub async fn insert_entry(conn: &mut Conn, e: &NewEntry) -> Result<i64, StoreError> {
    let mut q = Sql::new(ENTRY_INSERT);
    q.push("(")
        .bind_list(entry_values(e, &now_text()))
        .push(") RETURNING id");
    q.scalar_i64(conn).await
}

/// Adds many entries in multi-row statements (the generator's path); entries
/// must not refer to each other through `encounter_id` within one call.
pub async fn insert_entries(conn: &mut Conn, rows: &[NewEntry]) -> Result<(), StoreError> {
    let now = now_text();
    // 18 parameters a row; stay well under SQLite's 32,766.
    for chunk in rows.chunks(500) {
        let mut q = Sql::new(ENTRY_INSERT);
        for (n, e) in chunk.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" })
                .bind_list(entry_values(e, &now))
                .push(")");
        }
        q.execute(conn).await?;
    }
    Ok(())
}

pub async fn get_entry(conn: &mut Conn, id: i64) -> Result<Option<EntryRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE e.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Timeline filters.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub kind: Option<String>,
    pub institution_id: Option<i64>,
    /// One entry (FHIR `_id`).
    pub id: Option<i64>,
    /// `occurred_at` on or after (`YYYY-MM-DDTHH:MM:SS`).
    pub from: Option<String>,
    /// `occurred_at` before (exclusive).
    pub before: Option<String>,
}

/// One resident's timeline, newest first.
pub async fn timeline(
    conn: &mut Conn,
    resident_id: i64,
    f: &TimelineFilter,
    paging: Paging,
) -> Result<Page<EntryRow>, StoreError> {
    let mut w = Where::new();
    w.and("e.resident_id = ?", [resident_id.into()]);
    if let Some(k) = &f.kind {
        w.and("e.kind = ?", [k.as_str().into()]);
    }
    if let Some(i) = f.institution_id {
        w.and("e.institution_id = ?", [i.into()]);
    }
    if let Some(i) = f.id {
        w.and("e.id = ?", [i.into()]);
    }
    if let Some(t) = &f.from {
        w.and("e.occurred_at >= ?", [t.as_str().into()]);
    }
    if let Some(t) = &f.before {
        w.and("e.occurred_at < ?", [t.as_str().into()]);
    }
    w.page(
        conn,
        ENTRY_COLS,
        ENTRY_FROM,
        "e.occurred_at DESC, e.id DESC",
        paging,
    )
    .await
}

/// The institutions that wrote into a resident's record (the timeline's filter).
pub async fn institutions_of(
    conn: &mut Conn,
    resident_id: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut q = Sql::new(
        "SELECT DISTINCT i.id, i.name FROM record_entries e JOIN institutions i ON i.id = e.institution_id WHERE e.resident_id = ",
    );
    q.bind(resident_id).push(" ORDER BY i.name");
    q.fetch_all(conn).await
}

// ------------------------------------------------------------------ access facts

/// Gathers the facts [`yilian_domain::record::grounds`] weighs for a reader
/// at `institution_id` (none for residents and oversight roles) reading
/// `resident_id`, on `today` (`YYYY-MM-DD`, China Standard Time).
pub async fn access_facts(
    conn: &mut Conn,
    resident_id: i64,
    institution_id: Option<i64>,
    today: chrono::NaiveDate,
) -> Result<AccessFacts, StoreError> {
    let Some(inst) = institution_id else {
        return Ok(AccessFacts::default());
    };
    let day = today.to_string();
    let mut q = Sql::new("SELECT (SELECT COUNT(*) FROM referrals WHERE resident_id = ");
    q.bind(resident_id)
        .push(" AND state IN ('submitted', 'accepted', 'scheduled', 'arrived') AND (from_institution_id = ")
        .bind(inst)
        .push(" OR to_institution_id = ")
        .bind(inst)
        .push(")), (SELECT COUNT(*) FROM contracts c JOIN teams t ON t.id = c.team_id WHERE c.resident_id = ")
        .bind(resident_id)
        .push(" AND c.status = 'active' AND t.institution_id = ")
        .bind(inst)
        .push("), (SELECT MAX(occurred_at) FROM record_entries WHERE resident_id = ")
        .bind(resident_id)
        .push(" AND institution_id = ")
        .bind(inst)
        .push(" AND kind = 'encounter'), (SELECT COUNT(*) FROM consents WHERE resident_id = ")
        .bind(resident_id)
        .push(" AND revoked_at IS NULL AND starts_on <= ")
        .bind(day.as_str())
        .push(" AND ends_on >= ")
        .bind(day.as_str())
        .push(" AND ((grantee_kind = 'institution' AND grantee_id = ")
        .bind(inst)
        .push(") OR (grantee_kind = 'consortium' AND (grantee_id IN (SELECT consortium_id FROM consortium_members WHERE institution_id = ")
        .bind(inst)
        .push(") OR grantee_id IN (SELECT id FROM consortia WHERE lead_institution_id = ")
        .bind(inst)
        .push("))))), (SELECT MAX(requested_at) FROM remote_requests WHERE resident_id = ")
        .bind(resident_id)
        .push(" AND state <> 'cancelled' AND (from_institution_id = ")
        .bind(inst)
        .push(" OR to_institution_id = ")
        .bind(inst)
        .push("))");
    let (referrals, contracts, last, consents, remote): (
        i64,
        i64,
        Option<String>,
        i64,
        Option<String>,
    ) = q.fetch_one(conn).await?;
    let days_since = |t: Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok())
            .map(|d| (today - d).num_days())
    };
    let days_since_encounter = days_since(last);
    Ok(AccessFacts {
        open_referral: referrals > 0,
        active_contract: contracts > 0,
        days_since_encounter,
        consent: consents > 0,
        days_since_remote: days_since(remote),
        ..AccessFacts::default()
    })
}

// ------------------------------------------------------------------ consents

#[derive(Debug, Clone)]
pub struct NewConsent {
    pub resident_id: i64,
    pub grantee_kind: String,
    pub grantee_id: i64,
    pub starts_on: String,
    pub ends_on: String,
    pub note: String,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ConsentRow {
    pub id: i64,
    pub resident_id: i64,
    pub grantee_kind: String,
    pub grantee_id: i64,
    /// The institution's or consortium's name.
    pub grantee_name: String,
    pub starts_on: String,
    pub ends_on: String,
    pub note: String,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

const CONSENT_SELECT: &str = "SELECT c.id, c.resident_id, c.grantee_kind, c.grantee_id, \
     COALESCE(CASE WHEN c.grantee_kind = 'institution' THEN (SELECT name FROM institutions WHERE id = c.grantee_id) \
     ELSE (SELECT name FROM consortia WHERE id = c.grantee_id) END, '') AS grantee_name, \
     c.starts_on, c.ends_on, c.note, c.revoked_at, c.created_at FROM consents c";

pub async fn insert_consent(conn: &mut Conn, c: &NewConsent) -> Result<ConsentRow, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO consents (resident_id, grantee_kind, grantee_id, starts_on, ends_on, note, created_by, created_at) VALUES (",
    );
    q.bind_list([
        c.resident_id.into(),
        c.grantee_kind.as_str().into(),
        c.grantee_id.into(),
        c.starts_on.as_str().into(),
        c.ends_on.as_str().into(),
        c.note.as_str().into(),
        c.created_by.into(),
        now_text().into(),
    ])
    .push(") RETURNING id");
    let id = q.scalar_i64(conn).await?;
    get_consent(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn get_consent(conn: &mut Conn, id: i64) -> Result<Option<ConsentRow>, StoreError> {
    let mut q = Sql::new(CONSENT_SELECT);
    q.push(" WHERE c.id = ").bind(id);
    q.fetch_optional(conn).await
}

/// A resident's consents, newest first.
pub async fn consents_of(conn: &mut Conn, resident_id: i64) -> Result<Vec<ConsentRow>, StoreError> {
    let mut q = Sql::new(CONSENT_SELECT);
    q.push(" WHERE c.resident_id = ")
        .bind(resident_id)
        .push(" ORDER BY c.id DESC");
    q.fetch_all(conn).await
}

/// Revokes a consent of `resident_id` at once; false if it was not theirs
/// or already revoked.
pub async fn revoke_consent(
    conn: &mut Conn,
    resident_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    let mut q = Sql::new("UPDATE consents SET revoked_at = ");
    q.bind(now_text())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND resident_id = ")
        .bind(resident_id)
        .push(" AND revoked_at IS NULL");
    Ok(q.execute(conn).await? == 1)
}

// ------------------------------------------------------------------ access log

/// One read (or refused attempt) to log. Owned, so a read can hand it to
/// the store's access-log writer ([`crate::Store::log_access`]).
#[derive(Debug, Clone, Default)]
pub struct NewAccess {
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub institution_id: Option<i64>,
    pub resident_id: i64,
    /// Which part was read: `timeline`, `entry`, `consents` …
    pub part: String,
    /// The ground's code, or `none` for a refusal.
    pub ground: String,
    /// `granted` or `refused`.
    pub outcome: String,
    pub reason: String,
    pub review: bool,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AccessRow {
    pub id: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub institution_id: Option<i64>,
    pub institution_name: Option<String>,
    pub resident_id: i64,
    pub part: String,
    pub ground: String,
    pub outcome: String,
    pub reason: String,
    pub review: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Appends one entry to the chain in the caller's transaction.
pub async fn append_access(conn: &mut Conn, a: &NewAccess) -> Result<i64, StoreError> {
    let ids = append_access_batch(conn, std::slice::from_ref(a)).await?;
    ids.first().copied().ok_or(StoreError::NotFound)
}

/// Appends entries to the chain, in order, in the caller's transaction:
/// three statements whatever their number. Taking the head row first (an
/// `UPDATE` reserving the ids) serialises appends on PostgreSQL too, so the
/// chain never forks; each entry's hash links to the one before it.
pub async fn append_access_batch(
    conn: &mut Conn,
    entries: &[NewAccess],
) -> Result<Vec<i64>, StoreError> {
    let Ok(n) = i64::try_from(entries.len()) else {
        return Err(StoreError::Tool("too many access-log entries".into()));
    };
    if n == 0 {
        return Ok(vec![]);
    }
    let mut q = Sql::new("UPDATE access_log_head SET last_id = last_id + ");
    q.bind(n).push(" WHERE id = 1 RETURNING last_id, hash");
    let (last, mut prev): (i64, String) = q.fetch_one(conn).await?;
    let at = now_text();
    let mut q = Sql::new(
        "INSERT INTO access_log (id, at, user_id, username, role, institution_id, resident_id, part, ground, outcome, reason, review, prev_hash, hash) VALUES ",
    );
    let mut ids = Vec::with_capacity(entries.len());
    for (i, (id, a)) in (last - n + 1..).zip(entries).enumerate() {
        let hash = chain_hash(
            &prev,
            &LogLine {
                id,
                at: &at,
                user_id: a.user_id,
                role: &a.role,
                institution_id: a.institution_id,
                resident_id: a.resident_id,
                part: &a.part,
                ground: &a.ground,
                outcome: &a.outcome,
                reason: &a.reason,
            },
        );
        q.push(if i == 0 { "(" } else { ", (" })
            .bind_list([
                id.into(),
                at.as_str().into(),
                a.user_id.into(),
                a.username.as_str().into(),
                a.role.as_str().into(),
                a.institution_id.into(),
                a.resident_id.into(),
                a.part.as_str().into(),
                a.ground.as_str().into(),
                a.outcome.as_str().into(),
                a.reason.as_str().into(),
                a.review.into(),
                prev.as_str().into(),
                hash.as_str().into(),
            ])
            .push(")");
        ids.push(id);
        prev = hash;
    }
    q.execute(conn).await?;
    let mut q = Sql::new("UPDATE access_log_head SET hash = ");
    q.bind(prev).push(" WHERE id = 1");
    q.execute(conn).await?;
    Ok(ids)
}

const ACCESS_COLS: &str = "a.id, a.at, a.user_id, a.username, a.role, a.institution_id, i.name AS institution_name, \
     a.resident_id, a.part, a.ground, a.outcome, a.reason, a.review, a.prev_hash, a.hash";
const ACCESS_FROM: &str = "access_log a LEFT JOIN institutions i ON i.id = a.institution_id";

/// Who read a resident's record, newest first (the resident's own view).
pub async fn access_of(
    conn: &mut Conn,
    resident_id: i64,
    paging: Paging,
) -> Result<Page<AccessRow>, StoreError> {
    let mut w = Where::new();
    w.and("a.resident_id = ?", [resident_id.into()]);
    w.page(conn, ACCESS_COLS, ACCESS_FROM, "a.id DESC", paging)
        .await
}

/// Which access-log entries a filtered listing shows (FHIR `AuditEvent`
/// search); every field narrows, the default shows all.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub id: Option<i64>,
    /// Whose record was read.
    pub resident_id: Option<i64>,
    /// Who read (the user's id).
    pub user_id: Option<i64>,
    pub username: Option<String>,
    /// `granted` or `refused`.
    pub outcome: Option<String>,
    /// Only emergency reads awaiting review.
    pub review_only: bool,
    /// `at` bounds as stored (`YYYY-MM-DDTHH:MM:SSZ`, UTC): from inclusive,
    /// before exclusive.
    pub from: Option<String>,
    pub before: Option<String>,
    /// Only reads of residents under this scope (a reviewer's region).
    pub scope: Option<yilian_domain::access::ResidentScope>,
}

/// Access-log entries matching `f`, newest first.
pub async fn access_log(
    conn: &mut Conn,
    f: &AccessFilter,
    paging: Paging,
) -> Result<Page<AccessRow>, StoreError> {
    let mut w = Where::new();
    if let Some(v) = f.id {
        w.and("a.id = ?", [v.into()]);
    }
    if let Some(v) = f.resident_id {
        w.and("a.resident_id = ?", [v.into()]);
    }
    if let Some(v) = f.user_id {
        w.and("a.user_id = ?", [v.into()]);
    }
    if let Some(v) = &f.username {
        w.and("a.username = ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.outcome {
        w.and("a.outcome = ?", [v.as_str().into()]);
    }
    if f.review_only {
        w.and("a.review = 1", []);
    }
    if let Some(v) = &f.from {
        w.and("a.at >= ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.before {
        w.and("a.at < ?", [v.as_str().into()]);
    }
    let from = match &f.scope {
        Some(scope) => {
            crate::residents::scope_clause_on(&mut w, "r.", scope);
            format!("{ACCESS_FROM} JOIN residents r ON r.id = a.resident_id")
        }
        None => ACCESS_FROM.to_string(),
    };
    w.page(conn, ACCESS_COLS, &from, "a.id DESC", paging).await
}

/// The outcome of [`verify`]: how many entries were checked, and where the
/// chain first breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub checked: u64,
    pub broken: Option<Break>,
}

/// 审计校验 — recomputes the whole chain in id order, 5,000 entries at a
/// time, and checks that the head matches the last entry.
pub async fn verify(conn: &mut Conn) -> Result<Verified, StoreError> {
    let mut prev = GENESIS_HASH.to_string();
    let mut after = 0_i64;
    let mut checked = 0_u64;
    loop {
        let mut q = Sql::new(&format!(
            "SELECT {ACCESS_COLS} FROM {ACCESS_FROM} WHERE a.id > "
        ));
        q.bind(after).push(" ORDER BY a.id LIMIT 5000");
        let rows: Vec<AccessRow> = q.fetch_all(conn).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let lines = rows.iter().map(|r| {
            (
                LogLine {
                    id: r.id,
                    at: &r.at,
                    user_id: r.user_id,
                    role: &r.role,
                    institution_id: r.institution_id,
                    resident_id: r.resident_id,
                    part: &r.part,
                    ground: &r.ground,
                    outcome: &r.outcome,
                    reason: &r.reason,
                },
                r.prev_hash.as_str(),
                r.hash.as_str(),
            )
        });
        match verify_chain(&prev, lines) {
            Ok(h) => prev = h,
            Err(b) => {
                let good = rows.iter().take_while(|r| r.id < b.id).count() as u64;
                return Ok(Verified {
                    checked: checked + good,
                    broken: Some(b),
                });
            }
        }
        checked += rows.len() as u64;
    }
    let (last_id, head): (i64, String) =
        Sql::new("SELECT last_id, hash FROM access_log_head WHERE id = 1")
            .fetch_one(conn)
            .await?;
    let broken = (head != prev || last_id != after).then_some(Break {
        id: last_id,
        why: "the chain's head does not match its last entry (entries at the end were removed)",
    });
    Ok(Verified { checked, broken })
}
