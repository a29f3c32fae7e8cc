//! 远程诊断 — remote reading (影像/心电/病理) and remote consultation (会诊)
//! as operations: a clinician of a lower-level institution requests with
//! the exam file (checked: size, content, declared type; stored with its
//! SHA-256) or a reference to it; readers of the receiving hospital work a
//! list ordered by urgency and age, claim, report and sign; the signed
//! report lands in the resident's record and the requester is notified
//! through the outbox in the same transaction. Every change goes through
//! `yilian_domain::remote::transition` and is audited. Times are China
//! Standard Time and passed in (`now`), so the clock is testable.

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use yilian_domain::Explain;
use yilian_domain::access::{Principal, Role};
use yilian_domain::registry::InstitutionKind;
use yilian_domain::remote::{
    self as rules, Actor, FileError, MAX_FILE_BYTES, RemoteError, RemoteEvent, RemoteKind,
    RemoteSide, RemoteState, RemoteUrgency, TurnaroundLimits,
};
use yilian_store::audit::{self, AuditRow};
use yilian_store::remote::{self as store, NewFile, NewRequest, RemoteRow, RequestFilter};
use yilian_store::{Conn, Paging, Store, referrals, registry};

use crate::care::visible_resident;
use crate::error::{ApiError, ApiResult};
use crate::referral::{parse_time, stored_time};

/// The access-log part a file read is recorded under.
pub const PART_FILE: &str = "remote_file";

/// A whole upload request may exceed the file limit by this much (the other
/// fields and the multipart framing); the route's body limit.
pub const BODY_LIMIT: usize = MAX_FILE_BYTES + 256 * 1024;

impl From<RemoteError> for ApiError {
    fn from(e: RemoteError) -> Self {
        let status = match e.code() {
            "illegal_transition" | "not_claimed_by_you" => StatusCode::CONFLICT,
            "forbidden" => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.message_zh(), e.message_en())
    }
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        let status = match e.code() {
            "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.message_zh(), e.message_en())
    }
}

/// Turnaround limits from `YILIAN_REMOTE_TURNAROUND` (`emergency,urgent,routine`
/// in minutes, e.g. `30,120,1440`), or the domain defaults.
pub fn load_limits() -> TurnaroundLimits {
    match std::env::var("YILIAN_REMOTE_TURNAROUND") {
        Ok(v) if !v.trim().is_empty() => TurnaroundLimits::parse(&v).unwrap_or_else(|| {
            tracing::error!(value = %v, "YILIAN_REMOTE_TURNAROUND does not parse; using defaults");
            TurnaroundLimits::default()
        }),
        _ => TurnaroundLimits::default(),
    }
}

// ---------------------------------------------------------------- uploads

/// An uploaded exam file, before its checks.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub declared: Option<String>,
    pub bytes: Vec<u8>,
}

/// A multipart form: its text fields and the `file` part.
#[derive(Debug, Default)]
pub struct UploadForm {
    pub fields: Vec<(String, String)>,
    pub file: Option<Upload>,
}

impl UploadForm {
    pub fn raw(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    pub fn text(&self, name: &str) -> Option<String> {
        let v = self.raw(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
}

fn multipart_error(e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        FileError::TooLarge {
            max: MAX_FILE_BYTES,
        }
        .into()
    } else {
        ApiError::malformed(e.body_text())
    }
}

/// Reads a multipart form. The file part is read chunk by chunk and never
/// held beyond [`MAX_FILE_BYTES`]: past it the rest is read and dropped (so
/// the client gets its answer, not a reset connection) and the answer is
/// 413 `payload_too_large`; the route's body limit bounds the whole request.
pub async fn read_form(mut mp: Multipart) -> ApiResult<UploadForm> {
    let mut form = UploadForm::default();
    let mut too_large = false;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if too_large => {
                tracing::debug!(error = %e, "oversize upload: rest not read");
                break;
            }
            Err(e) => return Err(multipart_error(&e)),
        };
        let mut field = field;
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            match field.text().await {
                Ok(t) if !too_large => form.fields.push((name, t)),
                Ok(_) => {}
                Err(_) if too_large => break,
                Err(e) => return Err(multipart_error(&e)),
            }
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_string();
        let declared = field.content_type().map(str::to_string);
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if too_large {
                        continue;
                    }
                    if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                        too_large = true;
                        bytes = Vec::new();
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    too_large = true;
                    break;
                }
                Err(e) => return Err(multipart_error(&e)),
            }
        }
        // A browser sends an empty part for a file input left empty.
        let empty_input = filename.is_empty() && bytes.is_empty();
        if !too_large && !empty_input {
            form.file = Some(Upload {
                filename,
                declared,
                bytes,
            });
        }
    }
    if too_large {
        return Err(FileError::TooLarge {
            max: MAX_FILE_BYTES,
        }
        .into());
    }
    Ok(form)
}

// ---------------------------------------------------------------- requests

/// A remote-diagnosis request (the multipart form's text fields).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RemoteInput {
    pub resident_id: i64,
    /// `imaging`, `ecg`, `pathology`, `consultation`.
    pub kind: String,
    /// `routine` (default), `urgent`, `emergency`.
    pub urgency: Option<String>,
    /// The reading hospital.
    pub to_institution_code: String,
    /// 临床问题 — what the reader should answer (history, findings).
    pub question: String,
    /// A reference to the exam held elsewhere (PACS accession number, URL).
    pub file_ref: Option<String>,
    /// Why a hospital outside the consortium (required then).
    pub reason: Option<String>,
}

impl RemoteInput {
    /// From a form's fields.
    pub fn from_form(f: &UploadForm) -> ApiResult<RemoteInput> {
        let resident_id = f
            .text("resident_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                ApiError::invalid("resident_id", "请指定居民", "resident_id is required")
            })?;
        Ok(RemoteInput {
            resident_id,
            kind: f.text("kind").unwrap_or_default(),
            urgency: f.text("urgency"),
            to_institution_code: f.text("to_institution_code").unwrap_or_default(),
            question: f.raw("question").to_string(),
            file_ref: f.text("file_ref"),
            reason: f.text("reason"),
        })
    }
}

/// The turnaround clock as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    /// Minutes until the signed report is due (negative: overdue).
    pub minutes_left: i64,
    pub overdue: bool,
    /// `green`, `amber`, `red`, or `stopped` once signed or cancelled.
    pub colour: String,
    /// The limit for this urgency, in minutes.
    pub limit_minutes: i64,
}

/// A request on a list, with its clock.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RemoteLine {
    #[serde(flatten)]
    pub request: RemoteRow,
    pub clock: ClockView,
}

/// A request with its clock and audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RemoteView {
    #[serde(flatten)]
    pub request: RemoteRow,
    pub clock: ClockView,
    /// Which side the caller is on: `requesting` or `reading`.
    #[schema(value_type = Option<String>)]
    pub side: Option<RemoteSide>,
    /// Every state change: who, when, from and to.
    pub trail: Vec<AuditRow>,
}

fn clock_of(r: &RemoteRow, now: NaiveDateTime) -> ClockView {
    let state = RemoteState::parse(&r.state).unwrap_or(RemoteState::Cancelled);
    let at = parse_time("requested_at", &r.requested_at).unwrap_or(now);
    let due = parse_time("due_at", &r.due_at).unwrap_or(now);
    let c = rules::clock(state, at, due, now);
    ClockView {
        minutes_left: c.minutes_left,
        overdue: c.overdue,
        colour: c.colour.as_str().into(),
        limit_minutes: (due - at).num_minutes(),
    }
}

fn line(r: RemoteRow, now: NaiveDateTime) -> RemoteLine {
    RemoteLine {
        clock: clock_of(&r, now),
        request: r,
    }
}

/// Roles that take part in remote diagnosis at all.
pub fn takes_part(role: Role) -> bool {
    matches!(
        role,
        Role::VillageDoctor | Role::PrimaryClinician | Role::Specialist | Role::ReferralDesk
    )
}

/// Roles that read and report (the receiving hospital's physicians).
pub fn reads(role: Role) -> bool {
    role == Role::Specialist
}

fn my_institution(p: &Principal) -> ApiResult<i64> {
    match &p.institution {
        Some(i) if takes_part(p.role) => Ok(i.id),
        _ => Err(ApiError::forbidden()),
    }
}

/// The caller's side of a request (none: not a party).
pub fn side_of(p: &Principal, r: &RemoteRow) -> Option<RemoteSide> {
    if !takes_part(p.role) {
        return None;
    }
    let mine = p.institution.as_ref().map(|i| i.id)?;
    if mine == r.from_institution_id {
        Some(RemoteSide::Requesting)
    } else if mine == r.to_institution_id {
        Some(RemoteSide::Reading)
    } else {
        None
    }
}

/// The actor the state machine sees.
pub fn actor_of(p: &Principal, r: &RemoteRow) -> Option<Actor> {
    side_of(p, r).map(|side| Actor {
        side,
        holds_claim: side == RemoteSide::Reading && r.claimed_by == Some(p.user_id),
    })
}

async fn view(
    conn: &mut Conn,
    p: &Principal,
    id: i64,
    now: NaiveDateTime,
) -> ApiResult<RemoteView> {
    let r = store::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
    let side = side_of(p, &r);
    if side.is_none() {
        return Err(ApiError::not_found("远程诊断申请"));
    }
    let trail = audit::for_entity(conn, "remote_request", &id.to_string()).await?;
    Ok(RemoteView {
        clock: clock_of(&r, now),
        side,
        trail,
        request: r,
    })
}

fn text(field: &'static str, v: &str, max: usize) -> ApiResult<String> {
    crate::api::registry::text(field, v, max)
}

fn optional(field: &'static str, v: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match v.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => text(field, t, max).map(Some),
    }
}

fn kind_of(code: &str) -> ApiResult<InstitutionKind> {
    InstitutionKind::parse(code).ok_or_else(ApiError::internal)
}

/// 申请远程诊断 — checks the file first (nothing is stored when it fails),
/// then the requester, the resident (in the requester's scope), the route
/// (higher level; the consortium unless a reason is given); stores the file
/// and the request with its due time, audits, and notifies the reading
/// hospital, in one transaction.
pub async fn create(
    store: &Store,
    p: &Principal,
    input: &RemoteInput,
    file: Option<Upload>,
    limits: &TurnaroundLimits,
    now: NaiveDateTime,
) -> ApiResult<RemoteView> {
    if !matches!(
        p.role,
        Role::VillageDoctor | Role::PrimaryClinician | Role::Specialist
    ) {
        return Err(ApiError::forbidden());
    }
    let from_id = my_institution(p)?;
    let kind = RemoteKind::parse_field("kind", &input.kind)?;
    let urgency = match input.urgency.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => RemoteUrgency::parse_field("urgency", u)?,
        _ => RemoteUrgency::Routine,
    };
    let question = text("question", &input.question, 2000)?;
    let file_ref = optional("file_ref", input.file_ref.as_deref(), 500)?.unwrap_or_default();
    let reason = optional("reason", input.reason.as_deref(), 500)?;
    let checked = match &file {
        Some(f) => Some(rules::check_file(f.declared.as_deref(), &f.bytes)?),
        None => None,
    };
    if kind.is_read() && checked.is_none() && file_ref.is_empty() {
        return Err(ApiError::invalid(
            "file",
            "远程阅片须上传检查文件或填写文件索引",
            "a remote read needs the exam file or a reference to it",
        ));
    }
    let mut tx = store.write().await?;
    visible_resident(&mut tx, p, input.resident_id).await?;
    let code = input.to_institution_code.trim();
    let to = registry::get_institution_by_code(&mut tx, code)
        .await?
        .ok_or_else(|| ApiError::unknown_institution(code))?;
    let from = registry::get_institution(&mut tx, from_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let same = store::share_consortium(&mut tx, from_id, to.id).await?;
    rules::check_route(
        kind,
        kind_of(&from.kind)?.care_level(),
        kind_of(&to.kind)?.care_level(),
        same,
        reason.as_deref(),
    )?;
    rules::transition(None, RemoteEvent::Request, Actor::REQUESTER)?;
    let file_id = match (file, checked) {
        (Some(f), Some(media)) => Some(
            store::insert_file(
                &mut tx,
                &NewFile {
                    sha256: hex::encode(Sha256::digest(&f.bytes)),
                    media_type: media.as_str().into(),
                    filename: clean_filename(&f.filename, media),
                    bytes: f.bytes,
                    created_by: Some(p.user_id),
                },
            )
            .await?,
        ),
        _ => None,
    };
    let n = NewRequest {
        resident_id: input.resident_id,
        kind: kind.as_str().into(),
        urgency: urgency.as_str().into(),
        urgency_rank: urgency.rank(),
        from_institution_id: from_id,
        to_institution_id: to.id,
        requested_by: Some(p.user_id),
        question,
        reason: if same { None } else { reason },
        file_id,
        file_ref,
        requested_at: stored_time(now),
        due_at: stored_time(rules::due_at(now, urgency, limits)),
    };
    let id = store::insert(&mut tx, &n).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "remote.request",
        "remote_request",
        &id.to_string(),
        &serde_json::json!({"from": null, "to": "requested", "kind": n.kind, "urgency": n.urgency, "file_id": file_id}),
    )
    .await?;
    referrals::enqueue(
        &mut tx,
        "remote.requested",
        &serde_json::json!({"remote_request_id": id, "kind": n.kind, "urgency": n.urgency, "due_at": n.due_at}),
        Some(to.id),
    )
    .await?;
    let v = view(&mut tx, p, id, now).await?;
    tx.commit().await?;
    Ok(v)
}

/// A file name safe to send back: the base name, printable, at most 100
/// characters; the type's extension when none was given.
fn clean_filename(name: &str, media: rules::MediaType) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        format!("exam.{}", media.extension())
    } else {
        clean
    }
}

/// What a reader writes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReportInput {
    /// 报告正文 — findings.
    pub report: String,
    /// 诊断结论 / 会诊意见 — the conclusion.
    pub conclusion: String,
}

/// Moves a request by `event` on the caller's behalf: the domain decides
/// (side, claim, state); the store applies it conditionally (a lost race is
/// answered as the state machine answers the new state); audited, and on
/// sign the report becomes a record entry and the requester is notified —
/// all in one transaction.
pub async fn act(
    store: &Store,
    p: &Principal,
    id: i64,
    event: RemoteEvent,
    report: Option<&ReportInput>,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<RemoteView> {
    if event == RemoteEvent::Request {
        return Err(ApiError::invalid(
            "event",
            "申请请用提交申请接口",
            "requests are created, not moved",
        ));
    }
    let mut tx = store.write().await?;
    let r = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
    let actor = actor_of(p, &r).ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
    let from = RemoteState::parse(&r.state).ok_or_else(ApiError::internal)?;
    let to = rules::transition(Some(from), event, actor)?;
    if actor.side == RemoteSide::Reading && !reads(p.role) {
        // The referral desk sees the work list but does not read.
        return Err(ApiError::forbidden());
    }
    let at = stored_time(now);
    let mut detail = serde_json::json!({"from": from.as_str(), "to": to.as_str()});
    let applied = match event {
        RemoteEvent::Claim => store::claim(&mut tx, id, p.user_id, &at).await?,
        RemoteEvent::Release => store::release(&mut tx, id, p.user_id).await?,
        RemoteEvent::Report => {
            let input = report.cloned().unwrap_or_default();
            let body = text("report", &input.report, 8000)?;
            let conclusion = text("conclusion", &input.conclusion, 500)?;
            store::report(&mut tx, id, p.user_id, &body, &conclusion, &at).await?
        }
        RemoteEvent::Sign => {
            let entry = file_report(&mut tx, p, &r, &at).await?;
            detail["record_entry_id"] = entry.into();
            let ok = store::sign(&mut tx, id, p.user_id, &at, entry).await?;
            if ok {
                referrals::enqueue(
                    &mut tx,
                    "remote.signed",
                    &serde_json::json!({"remote_request_id": id, "resident_id": r.resident_id, "kind": r.kind, "record_entry_id": entry}),
                    Some(r.from_institution_id),
                )
                .await?;
            }
            ok
        }
        RemoteEvent::Cancel => {
            let why = reason
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid("reason", "撤销须说明原因", "a cancellation needs a reason")
                })?;
            let why = text("reason", why, 500)?;
            detail["reason"] = why.clone().into();
            let ok = store::cancel(&mut tx, id, &why).await?;
            if ok && r.claimed_by.is_some() {
                referrals::enqueue(
                    &mut tx,
                    "remote.cancelled",
                    &serde_json::json!({"remote_request_id": id}),
                    Some(r.to_institution_id),
                )
                .await?;
            }
            ok
        }
        RemoteEvent::Request => false,
    };
    if !applied {
        // Someone moved it between our read and our write: answer as the
        // state machine answers the state it is in now.
        drop(tx);
        let mut c = store.read().await?;
        let now_row = store::get(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
        let actor = actor_of(p, &now_row).ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
        let state = RemoteState::parse(&now_row.state).ok_or_else(ApiError::internal)?;
        rules::transition(Some(state), event, actor)?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "申请已被他人更新，请刷新后重试",
            "the request was changed by someone else; reload and retry",
        ));
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        &format!("remote.{}", event.as_str()),
        "remote_request",
        &id.to_string(),
        &detail,
    )
    .await?;
    let v = view(&mut tx, p, id, now).await?;
    tx.commit().await?;
    Ok(v)
}

/// 报告入档 — the signed report as an entry of the resident's record, at
/// the reader's hospital: `exam` for reads, `document` for consultations,
/// source `remote_read`.
async fn file_report(conn: &mut Conn, p: &Principal, r: &RemoteRow, at: &str) -> ApiResult<i64> {
    use yilian_store::records::{NewEntry, insert_entry};
    let kind = RemoteKind::parse(&r.kind).ok_or_else(ApiError::internal)?;
    let title: String = format!("{}报告：{}", kind.label_zh(), r.conclusion)
        .chars()
        .take(200)
        .collect();
    let body = format!(
        "临床问题：{}\n\n报告：{}\n\n结论：{}\n\n申请机构：{}；报告医师：{}（{}）",
        r.question, r.report, r.conclusion, r.from_name, p.username, r.to_name
    );
    let e = NewEntry {
        resident_id: r.resident_id,
        institution_id: r.to_institution_id,
        kind: kind.entry_kind().as_str().into(),
        occurred_at: at.into(),
        title,
        value: r.conclusion.chars().take(100).collect(),
        body,
        source: "remote_read".into(),
        source_id: Some(r.id),
        created_by: Some(p.user_id),
        ..Default::default()
    };
    Ok(insert_entry(conn, &e).await?)
}

/// A request the caller is party to.
pub async fn get(
    store: &Store,
    p: &Principal,
    id: i64,
    now: NaiveDateTime,
) -> ApiResult<RemoteView> {
    let mut c = store.read().await?;
    view(&mut c, p, id, now).await
}

/// 阅片工作列表 — the open requests addressed to the caller's hospital,
/// emergency first, then urgent, then routine, oldest first within each,
/// with their clocks. For its specialists and referral desk.
pub async fn worklist(
    store: &Store,
    p: &Principal,
    now: NaiveDateTime,
) -> ApiResult<Vec<RemoteLine>> {
    if !matches!(p.role, Role::Specialist | Role::ReferralDesk) {
        return Err(ApiError::forbidden());
    }
    let inst = my_institution(p)?;
    let mut c = store.read().await?;
    let page = store::worklist(&mut c, inst, Paging::new(Some(500), None)).await?;
    Ok(page.items.into_iter().map(|r| line(r, now)).collect())
}

/// 我的申请 — requests sent by the caller's institution, newest first.
pub async fn sent(
    store: &Store,
    p: &Principal,
    resident_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Vec<RemoteLine>> {
    let inst = my_institution(p)?;
    let mut c = store.read().await?;
    let f = RequestFilter {
        from_institution_id: Some(inst),
        resident_id,
        ..Default::default()
    };
    let page = store::list(&mut c, &f, Paging::new(Some(500), None)).await?;
    Ok(page.items.into_iter().map(|r| line(r, now)).collect())
}

/// 超时列表 — open requests past their due time, on either side of the
/// caller's institution (administrators: all), the most overdue first.
pub async fn overdue(
    store: &Store,
    p: &Principal,
    now: NaiveDateTime,
) -> ApiResult<Vec<RemoteLine>> {
    let inst = match p.role {
        Role::Admin => None,
        _ => Some(my_institution(p)?),
    };
    let mut c = store.read().await?;
    let rows = store::overdue(&mut c, inst, &stored_time(now)).await?;
    Ok(rows.into_iter().map(|r| line(r, now)).collect())
}

/// An exam file as served.
#[derive(Debug)]
pub struct FileOut {
    pub media_type: String,
    pub filename: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// 调阅检查文件 — for the two sides only, and a read of the resident's
/// record: weighed on the reader's grounds and written to the access log
/// (the request itself is a ground for both sides).
pub async fn file(
    store: &Store,
    p: &Principal,
    id: i64,
    encounter_days: i64,
) -> ApiResult<FileOut> {
    let (resident_id, file_id) = {
        let mut c = store.read().await?;
        let r = store::get(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::not_found("远程诊断申请"))?;
        if side_of(p, &r).is_none() {
            return Err(ApiError::not_found("远程诊断申请"));
        }
        (
            r.resident_id,
            r.file_id.ok_or_else(|| ApiError::not_found("检查文件"))?,
        )
    };
    let (mut tx, _ground) =
        crate::record::begin_read(store, p, resident_id, PART_FILE, None, encounter_days).await?;
    let f = store::get_file(&mut tx, file_id)
        .await?
        .ok_or_else(|| ApiError::not_found("检查文件"))?;
    tx.commit().await?;
    Ok(FileOut {
        media_type: f.media_type,
        filename: f.filename,
        sha256: f.sha256,
        bytes: f.bytes,
    })
}

/// Hospitals the caller may ask, for the request form: higher levels, those
/// sharing a consortium with the caller's institution first.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub in_consortium: bool,
}

pub async fn targets(store: &Store, p: &Principal) -> ApiResult<Vec<Target>> {
    let inst = my_institution(p)?;
    let mut c = store.read().await?;
    let me = registry::get_institution(&mut c, inst)
        .await?
        .ok_or_else(ApiError::internal)?;
    let my_level = kind_of(&me.kind)?.care_level();
    let mut out = Vec::new();
    for k in InstitutionKind::ALL {
        let higher = rules::check_route(
            RemoteKind::Consultation,
            my_level,
            k.care_level(),
            true,
            None,
        )
        .is_ok();
        if !higher {
            continue;
        }
        let f = registry::InstitutionFilter {
            kind: Some(k.as_str().into()),
            ..Default::default()
        };
        for i in registry::list_institutions(&mut c, &f, Paging::new(Some(500), None))
            .await?
            .items
        {
            let in_consortium = store::share_consortium(&mut c, inst, i.id).await?;
            out.push(Target {
                code: i.code,
                name: i.name,
                kind: i.kind,
                in_consortium,
            });
        }
    }
    out.sort_by(|a, b| {
        b.in_consortium
            .cmp(&a.in_consortium)
            .then(a.code.cmp(&b.code))
    });
    Ok(out)
}
