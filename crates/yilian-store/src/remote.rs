//! 远程诊断 — remote-reading and consultation requests with their exam
//! files. State changes are conditional updates (`WHERE state = …` and, for
//! the reader's steps, `AND claimed_by = …`), so two readers cannot both
//! claim one request and only the claimant reports and signs, on both
//! backends under any race. The rules are `yilian_domain::remote`'s.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

// ------------------------------------------------------------------ files

/// An exam file to store (already checked: size, content, declared type).
#[derive(Debug, Clone)]
pub struct NewFile {
    pub sha256: String,
    pub media_type: String,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub created_by: Option<i64>,
}

/// A stored file's description (without its bytes).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct FileMeta {
    pub id: i64,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: String,
    pub created_at: String,
}

/// A stored file with its bytes.
#[derive(Debug, Clone, FromRow)]
pub struct FileRow {
    pub id: i64,
    pub sha256: String,
    pub size: i64,
    pub media_type: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

pub async fn insert_file(conn: &mut Conn, f: &NewFile) -> Result<i64, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO remote_files (sha256, size, media_type, filename, bytes, created_by, created_at) VALUES (",
    );
    q.bind_list([
        f.sha256.as_str().into(),
        i64::try_from(f.bytes.len()).unwrap_or(i64::MAX).into(),
        f.media_type.as_str().into(),
        f.filename.as_str().into(),
        Val::Bytes(f.bytes.clone()),
        f.created_by.into(),
        now_text().into(),
    ])
    .push(") RETURNING id");
    q.scalar_i64(conn).await
}

pub async fn get_file(conn: &mut Conn, id: i64) -> Result<Option<FileRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT id, sha256, size, media_type, filename, bytes FROM remote_files WHERE id = ",
    );
    q.bind(id);
    q.fetch_optional(conn).await
}

pub async fn count_files(conn: &mut Conn) -> Result<i64, StoreError> {
    Sql::new("SELECT COUNT(*) FROM remote_files")
        .scalar_i64(conn)
        .await
}

// ------------------------------------------------------------------ requests

/// A request to write (state `requested`).
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub resident_id: i64,
    pub kind: String,
    pub urgency: String,
    /// 0 emergency, 1 urgent, 2 routine (`RemoteUrgency::rank`).
    pub urgency_rank: i64,
    pub from_institution_id: i64,
    pub to_institution_id: i64,
    pub requested_by: Option<i64>,
    pub question: String,
    /// Why a hospital outside the consortium (when it is).
    pub reason: Option<String>,
    pub file_id: Option<i64>,
    /// A reference to the exam held elsewhere (PACS accession number, URL …).
    pub file_ref: String,
    /// China Standard Time, `YYYY-MM-DDTHH:MM:SS`.
    pub requested_at: String,
    pub due_at: String,
}

/// One request, with the names a list shows.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RemoteRow {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub kind: String,
    pub urgency: String,
    pub urgency_rank: i64,
    pub from_institution_id: i64,
    pub from_name: String,
    pub to_institution_id: i64,
    pub to_name: String,
    pub requested_by: Option<i64>,
    pub requested_by_name: Option<String>,
    pub question: String,
    pub reason: Option<String>,
    pub file_id: Option<i64>,
    pub file_media_type: Option<String>,
    pub file_size: Option<i64>,
    pub file_sha256: Option<String>,
    pub file_name: Option<String>,
    pub file_ref: String,
    pub state: String,
    pub claimed_by: Option<i64>,
    pub claimed_by_name: Option<String>,
    pub claimed_at: Option<String>,
    pub report: String,
    pub conclusion: String,
    pub reported_at: Option<String>,
    pub signed_by: Option<i64>,
    pub signed_at: Option<String>,
    pub record_entry_id: Option<i64>,
    pub cancel_reason: Option<String>,
    pub requested_at: String,
    pub due_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

const COLS: &str = "q.id, q.resident_id, r.name AS resident_name, q.kind, q.urgency, q.urgency_rank, \
     q.from_institution_id, fi.name AS from_name, q.to_institution_id, ti.name AS to_name, \
     q.requested_by, ru.username AS requested_by_name, q.question, q.reason, q.file_id, \
     f.media_type AS file_media_type, f.size AS file_size, f.sha256 AS file_sha256, f.filename AS file_name, \
     q.file_ref, q.state, q.claimed_by, cu.username AS claimed_by_name, q.claimed_at, q.report, q.conclusion, \
     q.reported_at, q.signed_by, q.signed_at, q.record_entry_id, q.cancel_reason, q.requested_at, q.due_at, \
     q.created_at, q.updated_at, q.version";
const FROM: &str = "remote_requests q JOIN residents r ON r.id = q.resident_id \
     JOIN institutions fi ON fi.id = q.from_institution_id JOIN institutions ti ON ti.id = q.to_institution_id \
     LEFT JOIN users ru ON ru.id = q.requested_by LEFT JOIN users cu ON cu.id = q.claimed_by \
     LEFT JOIN remote_files f ON f.id = q.file_id";

/// The states on a work list (the clock runs).
pub const OPEN_STATES: &str = "('requested', 'claimed', 'reported')";

pub async fn insert(conn: &mut Conn, n: &NewRequest) -> Result<i64, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO remote_requests (resident_id, kind, urgency, urgency_rank, from_institution_id, to_institution_id, \
         requested_by, question, reason, file_id, file_ref, state, requested_at, due_at, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        n.resident_id.into(),
        n.kind.as_str().into(),
        n.urgency.as_str().into(),
        n.urgency_rank.into(),
        n.from_institution_id.into(),
        n.to_institution_id.into(),
        n.requested_by.into(),
        n.question.as_str().into(),
        n.reason.clone().into(),
        n.file_id.into(),
        n.file_ref.as_str().into(),
        "requested".into(),
        n.requested_at.as_str().into(),
        n.due_at.as_str().into(),
        now.clone().into(),
        now.into(),
    ])
    .push(") RETURNING id");
    q.scalar_i64(conn).await
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<RemoteRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM {FROM} WHERE q.id = "));
    q.bind(id);
    q.fetch_optional(conn).await
}

pub async fn count(conn: &mut Conn) -> Result<i64, StoreError> {
    Sql::new("SELECT COUNT(*) FROM remote_requests")
        .scalar_i64(conn)
        .await
}

/// 阅片工作列表 — the open requests addressed to an institution: emergency
/// first, then urgent, then routine; within each, the oldest first.
pub async fn worklist(
    conn: &mut Conn,
    to_institution_id: i64,
    paging: Paging,
) -> Result<Page<RemoteRow>, StoreError> {
    let mut w = Where::new();
    w.and("q.to_institution_id = ?", [to_institution_id.into()])
        .and(&format!("q.state IN {OPEN_STATES}"), []);
    w.page(
        conn,
        COLS,
        FROM,
        "q.urgency_rank, q.requested_at, q.id",
        paging,
    )
    .await
}

/// Which requests a list shows.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Sent by this institution (the requester's list) …
    pub from_institution_id: Option<i64>,
    /// … or received by it.
    pub to_institution_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub state: Option<String>,
}

/// Requests, newest first.
pub async fn list(
    conn: &mut Conn,
    f: &RequestFilter,
    paging: Paging,
) -> Result<Page<RemoteRow>, StoreError> {
    let mut w = Where::new();
    if let Some(i) = f.from_institution_id {
        w.and("q.from_institution_id = ?", [i.into()]);
    }
    if let Some(i) = f.to_institution_id {
        w.and("q.to_institution_id = ?", [i.into()]);
    }
    if let Some(i) = f.resident_id {
        w.and("q.resident_id = ?", [i.into()]);
    }
    if let Some(s) = &f.state {
        w.and("q.state = ?", [s.as_str().into()]);
    }
    w.page(conn, COLS, FROM, "q.requested_at DESC, q.id DESC", paging)
        .await
}

/// 超时列表 — open requests past their due time at `now` (China Standard
/// Time), for one institution on either side (or all with `None`), the most
/// overdue first.
pub async fn overdue(
    conn: &mut Conn,
    institution_id: Option<i64>,
    now: &str,
) -> Result<Vec<RemoteRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM {FROM} WHERE q.state IN {OPEN_STATES} AND q.due_at < "
    ));
    q.bind(now);
    if let Some(i) = institution_id {
        q.push(" AND (q.to_institution_id = ")
            .bind(i)
            .push(" OR q.from_institution_id = ")
            .bind(i)
            .push(")");
    }
    q.push(" ORDER BY q.due_at, q.id");
    q.fetch_all(conn).await
}

/// One conditional state change.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub id: i64,
    /// The states the request must be in.
    pub from: &'a [&'a str],
    pub to: &'a str,
    /// For the reader's steps: the request must be claimed by this user.
    pub claimed_by: Option<i64>,
    /// Extra columns to set.
    pub set: Vec<(&'static str, Val)>,
}

/// Applies a change if the request is still in one of `from` (and claimed
/// by `claimed_by`); `false` when someone else moved it first.
pub async fn apply(conn: &mut Conn, c: &Change<'_>) -> Result<bool, StoreError> {
    let mut q = Sql::new("UPDATE remote_requests SET state = ");
    q.bind(c.to);
    for (col, v) in &c.set {
        q.push(", ").push(col).push(" = ").bind(v.clone());
    }
    q.push(", updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(c.id)
        .push(" AND state IN (");
    q.bind_list(c.from.iter().map(|s| Val::from(*s)));
    q.push(")");
    if let Some(u) = c.claimed_by {
        q.push(" AND claimed_by = ").bind(u);
    }
    Ok(q.execute(conn).await? == 1)
}

/// 接单 — claims a requested request for `user_id` at `at`; `false` when it
/// is no longer requested (another reader was first).
pub async fn claim(conn: &mut Conn, id: i64, user_id: i64, at: &str) -> Result<bool, StoreError> {
    apply(
        conn,
        &Change {
            id,
            from: &["requested"],
            to: "claimed",
            claimed_by: None,
            set: vec![("claimed_by", user_id.into()), ("claimed_at", at.into())],
        },
    )
    .await
}

/// 放回 — the claimant gives the request back to the work list.
pub async fn release(conn: &mut Conn, id: i64, user_id: i64) -> Result<bool, StoreError> {
    apply(
        conn,
        &Change {
            id,
            from: &["claimed"],
            to: "requested",
            claimed_by: Some(user_id),
            set: vec![("claimed_by", Val::NullInt), ("claimed_at", Val::NullText)],
        },
    )
    .await
}

/// 出具报告 — the claimant writes (or amends, before signing) the report.
pub async fn report(
    conn: &mut Conn,
    id: i64,
    user_id: i64,
    report: &str,
    conclusion: &str,
    at: &str,
) -> Result<bool, StoreError> {
    apply(
        conn,
        &Change {
            id,
            from: &["claimed", "reported"],
            to: "reported",
            claimed_by: Some(user_id),
            set: vec![
                ("report", report.into()),
                ("conclusion", conclusion.into()),
                ("reported_at", at.into()),
            ],
        },
    )
    .await
}

/// 签发 — the claimant signs the report; `record_entry_id` is the entry it
/// became in the resident's record.
pub async fn sign(
    conn: &mut Conn,
    id: i64,
    user_id: i64,
    at: &str,
    record_entry_id: i64,
) -> Result<bool, StoreError> {
    apply(
        conn,
        &Change {
            id,
            from: &["reported"],
            to: "signed",
            claimed_by: Some(user_id),
            set: vec![
                ("signed_by", user_id.into()),
                ("signed_at", at.into()),
                ("record_entry_id", record_entry_id.into()),
            ],
        },
    )
    .await
}

/// 撤销 — the requesting side withdraws a request not yet reported.
pub async fn cancel(conn: &mut Conn, id: i64, reason: &str) -> Result<bool, StoreError> {
    apply(
        conn,
        &Change {
            id,
            from: &["requested", "claimed"],
            to: "cancelled",
            claimed_by: None,
            set: vec![("cancel_reason", reason.into())],
        },
    )
    .await
}

/// Whether two institutions belong to one consortium (as member or lead).
pub async fn share_consortium(conn: &mut Conn, a: i64, b: i64) -> Result<bool, StoreError> {
    let mut q = Sql::new("SELECT CASE WHEN ");
    q.push(&in_one_consortium("p.a", "p.b"))
        .push(" THEN 1 ELSE 0 END FROM (SELECT ")
        .bind(a)
        .push(" AS a, ")
        .bind(b)
        .push(" AS b) p");
    Ok(q.scalar_i64(conn).await? > 0)
}

/// SQL: whether the institutions with ids `a` and `b` (column expressions)
/// belong to one consortium, as member or lead. Shared by
/// [`share_consortium`] and the insurance facts of a claim.
pub(crate) fn in_one_consortium(a: &str, b: &str) -> String {
    let part_of = |x: &str| {
        format!(
            "(c.lead_institution_id = {x} OR EXISTS (SELECT 1 FROM consortium_members m \
             WHERE m.consortium_id = c.id AND m.institution_id = {x}))"
        )
    };
    format!(
        "EXISTS (SELECT 1 FROM consortia c WHERE {} AND {})",
        part_of(a),
        part_of(b)
    )
}
