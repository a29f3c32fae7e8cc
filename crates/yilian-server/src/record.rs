//! 居民电子健康档案 — reading a resident's record on stated grounds (every
//! read and every refused attempt logged in the same transaction), adding
//! entries, and the resident's consents and access log. The rules are
//! `yilian_domain::record`'s.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::access::{Action, Principal, Role, allowed};
use yilian_domain::icd10::Icd10Code;
use yilian_domain::record::{self as rules, EncounterType, EntryKind, GranteeKind, Ground};
use yilian_store::records::{
    self as store, AccessRow, ConsentRow, EntryRow, NewAccess, NewConsent, NewEntry, TimelineFilter,
};
use yilian_store::{Paging, Store, Tx, registry, residents};

use crate::care::visible_resident;
use crate::error::{ApiError, ApiResult};
use crate::referral::{now_cst, parse_time, stored_time};

/// The parts of a record a read can name in the log.
pub const PART_TIMELINE: &str = "timeline";

/// A read of a resident's record in progress: the transaction to read in,
/// and the access-log entry that [`ReadTx::commit`] appends.
///
/// A plain read ([`begin_read`]) reads in a read-only snapshot, without the
/// write lock, and its entry goes to the store's access-log writer, which
/// commits it (batched with other reads) before `commit` returns: the caller
/// answers only after the read is logged. A read that writes too
/// ([`begin_read_with`], e.g. an order placed on an earlier result)
/// appends its entry in its own write transaction, so both land together.
#[derive(Debug)]
pub struct ReadTx {
    tx: ReadConn,
    store: Store,
    entry: NewAccess,
}

#[derive(Debug)]
enum ReadConn {
    Snapshot(yilian_store::sqlx::Transaction<'static, yilian_store::sqlx::Any>),
    Write(Tx),
}

impl ReadTx {
    /// Logs the read and commits: the caller answers only once both are done.
    pub async fn commit(self) -> ApiResult<()> {
        match self.tx {
            ReadConn::Snapshot(tx) => {
                tx.commit().await?;
                self.store.log_access(self.entry).await?;
            }
            ReadConn::Write(mut tx) => {
                store::append_access(&mut tx, &self.entry).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for ReadTx {
    type Target = yilian_store::sqlx::Transaction<'static, yilian_store::sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        match &self.tx {
            ReadConn::Snapshot(tx) => tx,
            ReadConn::Write(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for ReadTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match &mut self.tx {
            ReadConn::Snapshot(tx) => tx,
            ReadConn::Write(tx) => tx,
        }
    }
}

/// Opens a resident's record for `part`: weighs the grounds and returns the
/// read-only transaction to read in, whose [`ReadTx::commit`] logs the read.
/// A refusal is logged before the 403 is returned, so refused attempts are
/// in the log too.
pub async fn begin_read(
    store: &Store,
    p: &Principal,
    resident_id: i64,
    part: &str,
    break_glass: Option<&str>,
    encounter_days: i64,
) -> ApiResult<(ReadTx, Ground)> {
    begin_read_with(
        store,
        false,
        p,
        resident_id,
        part,
        break_glass,
        encounter_days,
    )
    .await
}

/// [`begin_read`]; with `to_write` the read is a write transaction, for a
/// caller that also writes (e.g. an order placed on an earlier result), and
/// its log entry is appended in it.
pub async fn begin_read_with(
    store: &Store,
    to_write: bool,
    p: &Principal,
    resident_id: i64,
    part: &str,
    break_glass: Option<&str>,
    encounter_days: i64,
) -> ApiResult<(ReadTx, Ground)> {
    let tx = if to_write {
        ReadConn::Write(store.write().await?)
    } else {
        ReadConn::Snapshot(store.read_tx().await?)
    };
    let mut rt = ReadTx {
        tx,
        store: store.clone(),
        entry: NewAccess::default(),
    };
    match residents::get(&mut rt, resident_id).await? {
        Some(r) if r.merged_into.is_none() => {}
        _ => return Err(ApiError::not_found("居民")),
    }
    let today = crate::state::today();
    let mut facts = store::access_facts(
        &mut rt,
        resident_id,
        p.institution.as_ref().map(|i| i.id),
        today,
    )
    .await?;
    facts.is_self = p.role == Role::Resident && p.resident_id == Some(resident_id);
    facts.break_glass = break_glass
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from);
    let decided = rules::grounds(p.role, &facts, encounter_days);
    rt.entry = NewAccess {
        user_id: Some(p.user_id),
        username: p.username.clone(),
        role: p.role.as_str().into(),
        institution_id: p.institution.as_ref().map(|i| i.id),
        resident_id,
        part: part.to_string(),
        ground: "none".into(),
        outcome: "refused".into(),
        reason: facts.break_glass.clone().unwrap_or_default(),
        review: false,
    };
    match decided {
        Ok(g) => {
            rt.entry.ground = g.as_str().into();
            rt.entry.outcome = "granted".into();
            rt.entry.review = rules::needs_review(g);
            Ok((rt, g))
        }
        Err(e) => {
            rt.commit().await?;
            Err(e.into())
        }
    }
}

/// Timeline query: filters and paging.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TimelineQuery {
    /// `encounter`, `diagnosis`, `prescription`, `lab`, `exam`, `document`.
    pub kind: Option<String>,
    pub institution_id: Option<i64>,
    /// 紧急调阅: the reason, for a reader without another ground (flagged for review).
    pub break_glass: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timeline {
    pub resident_id: i64,
    pub resident_name: String,
    /// The ground this read was granted on (logged).
    pub ground: String,
    pub entries: yilian_store::Page<EntryRow>,
    /// Institutions that wrote into this record (for the filter).
    #[schema(value_type = Vec<Object>)]
    pub institutions: Vec<(i64, String)>,
}

/// One resident's timeline, newest first, on the reader's grounds.
pub async fn timeline(
    store: &Store,
    p: &Principal,
    resident_id: i64,
    q: &TimelineQuery,
    encounter_days: i64,
) -> ApiResult<Timeline> {
    let kind = q
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(|k| EntryKind::parse_field("kind", k).map(|k| k.as_str().to_string()))
        .transpose()?;
    let (mut tx, ground) = begin_read(
        store,
        p,
        resident_id,
        PART_TIMELINE,
        q.break_glass.as_deref(),
        encounter_days,
    )
    .await?;
    let resident = residents::get(&mut tx, resident_id)
        .await?
        .ok_or_else(|| ApiError::not_found("居民"))?;
    let f = TimelineFilter {
        kind,
        institution_id: q.institution_id,
        ..Default::default()
    };
    let entries = store::timeline(&mut tx, resident_id, &f, Paging::new(q.limit, q.offset)).await?;
    let institutions = store::institutions_of(&mut tx, resident_id).await?;
    tx.commit().await?;
    Ok(Timeline {
        resident_id,
        resident_name: resident.name,
        ground: ground.as_str().into(),
        entries,
        institutions,
    })
}

/// A new entry in a resident's record, written at the caller's institution.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EntryRequest {
    /// `encounter`, `diagnosis`, `prescription`, `lab`, `exam`, `document`.
    pub kind: String,
    /// For encounters: `outpatient`, `inpatient`, `emergency`, `home_visit`, `follow_up`.
    pub encounter_type: Option<String>,
    /// `YYYY-MM-DDTHH:MM[:SS]` (China Standard Time); defaults to now.
    pub occurred_at: Option<String>,
    /// ICD-10 for diagnoses; the item code for results.
    pub code: Option<String>,
    pub title: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub reference_range: Option<String>,
    #[serde(default)]
    pub abnormal: bool,
    /// 互认标识 "HR": the lab passed external quality assessment.
    #[serde(default)]
    pub hr_mark: bool,
    pub body: Option<String>,
    pub encounter_id: Option<i64>,
}

fn optional(field: &'static str, v: &Option<String>, max: usize) -> ApiResult<String> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(t) => crate::api::registry::text(field, t, max),
    }
}

impl EntryRequest {
    fn validate(&self, resident_id: i64, p: &Principal) -> ApiResult<NewEntry> {
        let kind = EntryKind::parse_field("kind", &self.kind)?;
        let encounter_type = match (kind, self.encounter_type.as_deref()) {
            (EntryKind::Encounter, Some(t)) => Some(
                EncounterType::parse_field("encounter_type", t)?
                    .as_str()
                    .to_string(),
            ),
            (EntryKind::Encounter, None) => {
                return Err(ApiError::invalid(
                    "encounter_type",
                    "就诊记录须注明就诊类型",
                    "an encounter needs its type",
                ));
            }
            _ => None,
        };
        let now = now_cst();
        let at = match self.occurred_at.as_deref() {
            Some(t) if !t.trim().is_empty() => parse_time("occurred_at", t.trim())?,
            _ => now,
        };
        if at > now + chrono::Duration::hours(1) {
            return Err(ApiError::invalid(
                "occurred_at",
                "不能晚于当前时间",
                "cannot be in the future",
            ));
        }
        let mut code = optional("code", &self.code, 40)?;
        if kind == EntryKind::Diagnosis {
            code = Icd10Code::parse(&code)?.as_str().to_string();
        }
        let institution_id = p
            .institution
            .as_ref()
            .map(|i| i.id)
            .ok_or_else(ApiError::forbidden)?;
        Ok(NewEntry {
            resident_id,
            institution_id,
            kind: kind.as_str().into(),
            encounter_type,
            occurred_at: stored_time(at),
            code,
            title: crate::api::registry::text("title", &self.title, 200)?,
            value: optional("value", &self.value, 100)?,
            unit: optional("unit", &self.unit, 30)?,
            reference_range: optional("reference_range", &self.reference_range, 60)?,
            abnormal: self.abnormal,
            hr_mark: self.hr_mark,
            body: optional("body", &self.body, 8000)?,
            encounter_id: self.encounter_id,
            source: "manual".into(),
            source_id: None,
            created_by: Some(p.user_id),
        })
    }
}

/// Adds an entry to a resident's record, attributed to the caller's
/// institution (clinicians who care for residents in their area).
pub async fn add_entry(
    store: &Store,
    p: &Principal,
    resident_id: i64,
    req: &EntryRequest,
) -> ApiResult<EntryRow> {
    let mut tx = store.write().await?;
    let row = add_entry_in(&mut tx, p, resident_id, req).await?;
    tx.commit().await?;
    Ok(row)
}

/// [`add_entry`] inside the caller's transaction (FHIR transaction bundles).
pub async fn add_entry_in(
    tx: &mut yilian_store::Conn,
    p: &Principal,
    resident_id: i64,
    req: &EntryRequest,
) -> ApiResult<EntryRow> {
    add_linked_entry_in(tx, p, resident_id, req, None).await
}

/// [`add_entry_in`] for an entry that mirrors a structured row, e.g. the
/// `prescriptions` row a prescription entry is the timeline's view of.
pub async fn add_linked_entry_in(
    tx: &mut yilian_store::Conn,
    p: &Principal,
    resident_id: i64,
    req: &EntryRequest,
    source: Option<(&str, i64)>,
) -> ApiResult<EntryRow> {
    if !allowed(p.role, Action::WriteCare) || p.institution.is_none() {
        return Err(ApiError::forbidden());
    }
    let mut e = req.validate(resident_id, p)?;
    if let Some((kind, id)) = source {
        e.source = kind.into();
        e.source_id = Some(id);
    }
    visible_resident(tx, p, resident_id).await?;
    if let Some(enc) = e.encounter_id {
        match store::get_entry(tx, enc).await? {
            Some(x) if x.resident_id == resident_id && x.kind == EntryKind::Encounter.as_str() => {}
            _ => {
                return Err(ApiError::invalid(
                    "encounter_id",
                    "不是该居民的就诊记录",
                    "not an encounter of this resident",
                ));
            }
        }
    }
    let id = store::insert_entry(tx, &e).await?;
    yilian_store::audit::record(
        tx,
        Some(p.user_id),
        "record.add",
        "resident",
        &resident_id.to_string(),
        &serde_json::json!({"entry_id": id, "kind": e.kind}),
    )
    .await?;
    store::get_entry(tx, id)
        .await?
        .ok_or_else(ApiError::internal)
}

fn own_resident(p: &Principal) -> ApiResult<i64> {
    match (p.role, p.resident_id) {
        (Role::Resident, Some(id)) => Ok(id),
        _ => Err(ApiError::forbidden()),
    }
}

/// 我的调阅记录 — who read the caller's record, newest first (residents only).
pub async fn my_access_log(
    store: &Store,
    p: &Principal,
    paging: Paging,
) -> ApiResult<yilian_store::Page<AccessRow>> {
    let me = own_resident(p)?;
    let mut c = store.read().await?;
    Ok(store::access_of(&mut c, me, paging).await?)
}

/// 紧急调阅审核 — emergency reads for the health commission and administrators to review.
pub async fn review_list(
    store: &Store,
    p: &Principal,
    paging: Paging,
) -> ApiResult<yilian_store::Page<AccessRow>> {
    if !matches!(p.role, Role::Admin | Role::HealthCommission) {
        return Err(ApiError::forbidden());
    }
    // A reviewer sees the emergency reads of the residents in their region.
    let f = store::AccessFilter {
        review_only: true,
        scope: Some(yilian_domain::access::resident_scope(p)),
        ..Default::default()
    };
    let mut c = store.read().await?;
    Ok(store::access_log(&mut c, &f, paging).await?)
}

/// A consent the resident gives.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConsentRequest {
    /// `institution` or `consortium`.
    pub grantee_kind: String,
    pub grantee_id: i64,
    /// Defaults to today.
    pub starts_on: Option<String>,
    pub ends_on: String,
    pub note: Option<String>,
}

fn date(field: &'static str, v: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, "日期格式应为 YYYY-MM-DD", "expected YYYY-MM-DD"))
}

/// 授权 — the resident lets an institution or a consortium read their record
/// for a period.
pub async fn grant_consent(
    store: &Store,
    p: &Principal,
    req: &ConsentRequest,
) -> ApiResult<ConsentRow> {
    let me = own_resident(p)?;
    let kind = GranteeKind::parse_field("grantee_kind", &req.grantee_kind)?;
    let today = crate::state::today();
    let from = match req.starts_on.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => date("starts_on", s)?,
        _ => today,
    };
    let to = date("ends_on", &req.ends_on)?;
    rules::check_consent_period(from, to, today)?;
    let note = optional("note", &req.note, 200)?;
    let mut tx = store.write().await?;
    let exists = match kind {
        GranteeKind::Institution => registry::get_institution(&mut tx, req.grantee_id)
            .await?
            .is_some(),
        GranteeKind::Consortium => registry::get_consortium(&mut tx, req.grantee_id)
            .await?
            .is_some(),
    };
    if !exists {
        return Err(ApiError::invalid(
            "grantee_id",
            "授权对象不存在",
            "no such institution or consortium",
        ));
    }
    let row = store::insert_consent(
        &mut tx,
        &NewConsent {
            resident_id: me,
            grantee_kind: kind.as_str().into(),
            grantee_id: req.grantee_id,
            starts_on: from.to_string(),
            ends_on: to.to_string(),
            note,
            created_by: Some(p.user_id),
        },
    )
    .await?;
    yilian_store::audit::record(
        &mut tx,
        Some(p.user_id),
        "consent.grant",
        "resident",
        &me.to_string(),
        &serde_json::json!({"consent_id": row.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The caller's consents, newest first.
pub async fn my_consents(store: &Store, p: &Principal) -> ApiResult<Vec<ConsentRow>> {
    let me = own_resident(p)?;
    let mut c = store.read().await?;
    Ok(store::consents_of(&mut c, me).await?)
}

/// 撤销授权 — takes effect at once.
pub async fn revoke_consent(store: &Store, p: &Principal, id: i64) -> ApiResult<ConsentRow> {
    let me = own_resident(p)?;
    let mut tx = store.write().await?;
    if !store::revoke_consent(&mut tx, me, id).await? {
        return match store::get_consent(&mut tx, id).await? {
            Some(c) if c.resident_id == me => Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "already_revoked",
                "该授权已撤销",
                "this consent is already revoked",
            )),
            _ => Err(ApiError::not_found("授权")),
        };
    }
    yilian_store::audit::record(
        &mut tx,
        Some(p.user_id),
        "consent.revoke",
        "resident",
        &me.to_string(),
        &serde_json::json!({"consent_id": id}),
    )
    .await?;
    let row = store::get_consent(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row)
}
