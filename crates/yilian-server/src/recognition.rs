//! 检查检验结果互认 — test-result mutual recognition, as operations:
//! checking an order against the resident's earlier results (a record read:
//! grounds and access log, part [`PART_RESULTS`]), recording the order —
//! recognised (money saved), repeated for a listed reason (the reason goes
//! into the chart) or new — the report per institution and consortium, the
//! catalogue, and the labs' external quality assessment (室间质评).
//!
//! The rules are `yilian_domain::recognition`'s; the store supplies the
//! candidates ([`yilian_store::recognition`]). Choices made here:
//! - **lab in good standing**: a result counts as coming from a lab that
//!   passed external quality assessment when a recorded pass of its
//!   institution (`lab_quality`, entered by the health commission or an
//!   administrator) covers the day the result was taken;
//! - **intervening treatment**: an inpatient admission or an emergency visit
//!   of the resident at or after the result (other than the encounter the
//!   result belongs to) — yilian records no finer treatment data;
//! - an order for an item reads the results even when it ends `new`, so every
//!   check and order is logged as a read of the record's `results`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::access::{Action, Principal, Role, allowed};
use yilian_domain::money::yuan;
use yilian_domain::recognition::{
    CatalogItem, InstitutionFacts, Order, PriorResult, Recognition, RecognitionCatalog,
    RepeatReason, check_repeat, recognize, saved_fen,
};
use yilian_domain::referral::Finding;
use yilian_domain::region::RegionCode;
use yilian_domain::registry::{Grade, InstitutionKind};
use yilian_store::recognition::{
    self as store, CandidateRow, LabQualityRow, NewLabQuality, NewOrder, OrderRow, ReportCell,
    ReportFilter,
};
use yilian_store::records::{self as records, NewEntry};
use yilian_store::{Conn, Store, registry};

use crate::care::visible_resident;
use crate::error::{ApiError, ApiResult};
use crate::referral::{now_cst, stored_time};

/// The shipped default catalogue (`config/recognition_catalog.toml`).
pub const DEFAULT_CATALOG: &str = include_str!("../../../config/recognition_catalog.toml");
/// The catalogue file looked for in the working directory.
pub const CATALOG_FILE: &str = "config/recognition_catalog.toml";
/// The part of the record an order check reads, as the access log names it.
pub const PART_RESULTS: &str = "results";
/// The longest written explanation of a repeat.
pub const REPEAT_TEXT_MAX: usize = 500;

/// The catalogue in force: the file named by `YILIAN_RECOGNITION_CATALOG`,
/// else `config/recognition_catalog.toml` in the working directory, else the
/// shipped default compiled in. A file that does not parse is reported and
/// the shipped default is used.
pub fn load_catalog() -> RecognitionCatalog {
    let shipped = || {
        RecognitionCatalog::from_toml(DEFAULT_CATALOG).unwrap_or_else(|e| {
            // The shipped file is tested to parse (yilian-domain).
            panic!("the shipped recognition catalogue does not parse: {e}")
        })
    };
    let paths = [
        std::env::var("YILIAN_RECOGNITION_CATALOG")
            .ok()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        Some(PathBuf::from(CATALOG_FILE)),
    ];
    for path in paths.into_iter().flatten() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        return match RecognitionCatalog::from_toml(&text) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "recognition catalogue does not parse; using the shipped default");
                shipped()
            }
        };
    }
    shipped()
}

// ---------------------------------------------------------------- views

/// A catalogue item as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    pub code: String,
    pub name_zh: String,
    /// `lab` (检验) or `exam` (检查).
    pub kind: String,
    pub kind_label: String,
    /// `24h`, `7d` …
    pub validity: String,
    /// `24小时`, `7天` …
    pub validity_label: String,
    pub price_fen: i64,
    pub price_yuan: String,
    pub loinc: Option<String>,
}

impl From<&CatalogItem> for ItemView {
    fn from(i: &CatalogItem) -> Self {
        ItemView {
            code: i.code.clone(),
            name_zh: i.name_zh.clone(),
            kind: i.kind.as_str().into(),
            kind_label: i.kind.label_zh().into(),
            validity: i.validity.to_string(),
            validity_label: i.validity.label_zh(),
            price_fen: i.price_fen,
            price_yuan: yuan(i.price_fen),
            loinc: i.loinc.clone(),
        }
    }
}

/// A listed repeat reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonView {
    pub code: String,
    pub label_zh: String,
    /// Only `other` needs a written explanation.
    pub needs_text: bool,
}

/// The national repeat reasons, in their listed order.
pub fn reasons() -> Vec<ReasonView> {
    RepeatReason::ALL
        .iter()
        .map(|r| ReasonView {
            code: r.as_str().into(),
            label_zh: r.label_zh().into(),
            needs_text: r.needs_text(),
        })
        .collect()
}

/// An earlier result with the rule's verdict on it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultView {
    /// The result's `record_entries` id (send as `use_result_id`).
    pub entry_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub institution_kind: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: bool,
    /// Carries the recognition mark "HR".
    pub hr_mark: bool,
    /// The producing lab was in good standing (external quality assessment) that day.
    pub eqa_passed: bool,
    /// When taken (CST, `YYYY-MM-DDTHH:MM:SS`).
    pub taken_at: String,
    /// Whole days since taken.
    pub age_days: i64,
    /// The end of the item's validity window (CST).
    pub valid_until: Option<String>,
    /// Passes every rule.
    pub recognizable: bool,
    /// The one offered (the most recent recognisable result).
    pub offered: bool,
    /// The rules it fails (`block`), or `superseded` (`info`).
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
}

/// What the check found for an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecognitionView {
    pub resident_id: i64,
    pub item_code: String,
    /// The catalogue item (absent when the catalogue is not in force).
    pub item: Option<ItemView>,
    pub institution_id: i64,
    /// The moment the check ran (CST).
    pub checked_at: String,
    /// The ground the results were read on (logged).
    pub ground: String,
    /// The recognisable earlier result offered instead of the test.
    pub recognized: Option<ResultView>,
    /// Money saved if the offered result is used.
    pub saved_fen: i64,
    pub saved_yuan: String,
    /// A recognisable result exists: ordering the test anyway needs a reason.
    pub repeat_reason_required: bool,
    /// Findings about the order itself (`catalog_not_in_force`, `not_in_catalog`).
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
    /// Every earlier result of the item, newest first, with its verdict.
    pub candidates: Vec<ResultView>,
    pub catalog_version: u32,
}

fn parse_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
}

fn facts(kind: &str, grade: Option<&str>, consortia: Vec<i64>) -> Option<InstitutionFacts> {
    Some(InstitutionFacts {
        kind: InstitutionKind::parse(kind)?,
        grade: grade.and_then(Grade::parse),
        consortia,
    })
}

/// The rule's inputs from the store, and its outcome.
struct Evaluated {
    rec: Recognition,
    rows: Vec<CandidateRow>,
}

/// Runs the recognition rule for `item_code` ordered at `institution_id` for
/// `resident_id` at `now`.
async fn evaluate(
    conn: &mut Conn,
    catalog: &RecognitionCatalog,
    institution_id: i64,
    resident_id: i64,
    item_code: &str,
    now: NaiveDateTime,
) -> ApiResult<Evaluated> {
    let me = registry::get_institution(conn, institution_id)
        .await?
        .ok_or_else(ApiError::forbidden)?;
    let rows = store::candidates(conn, resident_id, item_code).await?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.institution_id).collect();
    ids.push(institution_id);
    ids.sort_unstable();
    ids.dedup();
    let mut consortia: HashMap<i64, Vec<i64>> = HashMap::new();
    for (inst, c) in store::consortia_of(conn, &ids).await? {
        consortia.entry(inst).or_default().push(c);
    }
    let of = |id: i64| consortia.get(&id).cloned().unwrap_or_default();
    let treatments = match rows.iter().map(|r| r.occurred_at.as_str()).min() {
        Some(since) => store::treatments(conn, resident_id, since).await?,
        None => Vec::new(),
    };
    let priors: Vec<PriorResult> = rows
        .iter()
        .filter_map(|r| {
            Some(PriorResult {
                result_id: r.entry_id,
                item_code: r.code.clone(),
                institution: facts(
                    &r.institution_kind,
                    r.institution_grade.as_deref(),
                    of(r.institution_id),
                )?,
                eqa_passed: r.eqa_passed != 0,
                hr_mark: r.hr_mark != 0,
                taken_at: parse_time(&r.occurred_at)?,
                interventions: treatments
                    .iter()
                    .filter(|t| Some(t.entry_id) != r.encounter_id)
                    .filter_map(|t| parse_time(&t.occurred_at))
                    .collect(),
            })
        })
        .collect();
    let order = Order {
        item_code: item_code.to_string(),
        institution: facts(&me.kind, me.grade.as_deref(), of(institution_id))
            .ok_or_else(ApiError::internal)?,
    };
    Ok(Evaluated {
        rec: recognize(&order, &priors, catalog, now),
        rows,
    })
}

fn view(
    ev: &Evaluated,
    catalog: &RecognitionCatalog,
    resident_id: i64,
    institution_id: i64,
    ground: &str,
    now: NaiveDateTime,
) -> RecognitionView {
    let rec = &ev.rec;
    let item = catalog.item(&rec.item_code);
    let offered = rec.recognized.as_ref().map(|r| r.result_id);
    let result = |r: &CandidateRow| -> Option<ResultView> {
        let verdict = rec.candidates.iter().find(|v| v.result_id == r.entry_id)?;
        let taken = parse_time(&r.occurred_at);
        Some(ResultView {
            entry_id: r.entry_id,
            institution_id: r.institution_id,
            institution_name: r.institution_name.clone(),
            institution_kind: r.institution_kind.clone(),
            title: r.title.clone(),
            value: r.value.clone(),
            unit: r.unit.clone(),
            reference_range: r.reference_range.clone(),
            abnormal: r.abnormal != 0,
            hr_mark: r.hr_mark != 0,
            eqa_passed: r.eqa_passed != 0,
            taken_at: r.occurred_at.clone(),
            age_days: taken.map_or(0, |t| (now - t).num_days()),
            valid_until: taken
                .zip(item)
                .map(|(t, i)| stored_time(t + i.validity.duration())),
            recognizable: verdict.recognizable,
            offered: offered == Some(r.entry_id),
            findings: verdict.findings.clone(),
        })
    };
    let candidates: Vec<ResultView> = ev.rows.iter().filter_map(result).collect();
    RecognitionView {
        resident_id,
        item_code: rec.item_code.clone(),
        item: rec.item.as_ref().or(item).map(ItemView::from),
        institution_id,
        checked_at: stored_time(now),
        ground: ground.to_string(),
        recognized: candidates.iter().find(|c| c.offered).cloned(),
        saved_fen: rec.saved_fen(),
        saved_yuan: yuan(rec.saved_fen()),
        repeat_reason_required: rec.is_recognizable(),
        findings: rec.findings.clone(),
        candidates,
        catalog_version: catalog.version,
    }
}

// ---------------------------------------------------------------- check and order

/// 开单前核查 — the item about to be ordered.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CheckRequest {
    /// The catalogue item code, e.g. `hba1c`.
    pub item_code: String,
    /// 紧急调阅: a reason, for a reader without another ground (flagged for review).
    pub break_glass: Option<String>,
}

/// 开单 — an order, using a recognisable result or not.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct OrderRequest {
    pub item_code: String,
    /// Use this earlier result (a recognisable one) instead of the test.
    pub use_result_id: Option<i64>,
    /// Order the test although a recognisable result exists: one of the
    /// listed reasons (`GET /recognition/catalog` lists them).
    pub repeat_reason: Option<String>,
    /// The explanation; required for reason `other`.
    pub repeat_text: Option<String>,
    pub break_glass: Option<String>,
}

/// A recorded order with the check it was decided on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderOutcome {
    pub order: OrderRow,
    pub saved_yuan: String,
    /// The chart note holding the repeat reason (`repeated` only).
    pub note_entry_id: Option<i64>,
    pub recognition: RecognitionView,
}

/// The ordering institution: clinical roles bound to one.
fn orderer(p: &Principal) -> ApiResult<i64> {
    match &p.institution {
        Some(i) if allowed(p.role, Action::WriteCare) => Ok(i.id),
        _ => Err(ApiError::forbidden()),
    }
}

fn catalog_item<'c>(catalog: &'c RecognitionCatalog, code: &str) -> ApiResult<&'c CatalogItem> {
    catalog.item(code.trim()).ok_or_else(|| {
        ApiError::invalid(
            "item_code",
            "不在检查检验结果互认项目目录中",
            "not in the recognition catalogue",
        )
    })
}

/// Opens the resident's results for reading (visibility, then grounds and
/// the access log) and runs the rule; `to_write` opens a write transaction
/// (an order is stored in it).
#[allow(clippy::too_many_arguments)]
async fn read_and_evaluate(
    store: &Store,
    catalog: &RecognitionCatalog,
    p: &Principal,
    resident_id: i64,
    item_code: &str,
    break_glass: Option<&str>,
    encounter_days: i64,
    to_write: bool,
) -> ApiResult<(crate::record::ReadTx, RecognitionView, Evaluated)> {
    let me = orderer(p)?;
    {
        let mut c = store.read().await?;
        visible_resident(&mut c, p, resident_id).await?;
    }
    let (mut tx, ground) = crate::record::begin_read_with(
        store,
        to_write,
        p,
        resident_id,
        PART_RESULTS,
        break_glass,
        encounter_days,
    )
    .await?;
    let now = now_cst();
    let ev = evaluate(&mut tx, catalog, me, resident_id, item_code, now).await?;
    let v = view(&ev, catalog, resident_id, me, ground.as_str(), now);
    Ok((tx, v, ev))
}

/// 开单前核查 — the recognisable earlier result of `item_code`, if any, and
/// every candidate's verdict. A read of the record (grounds + access log).
pub async fn check(
    store: &Store,
    catalog: &RecognitionCatalog,
    p: &Principal,
    resident_id: i64,
    req: &CheckRequest,
    encounter_days: i64,
) -> ApiResult<RecognitionView> {
    orderer(p)?;
    let item = catalog_item(catalog, &req.item_code)?;
    let (tx, v, _) = read_and_evaluate(
        store,
        catalog,
        p,
        resident_id,
        &item.code,
        req.break_glass.as_deref(),
        encounter_days,
        false,
    )
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// The outcome codes of an order.
pub const RECOGNIZED: &str = "recognized";
pub const REPEATED: &str = "repeated";
pub const NEW: &str = "new";

/// 开单 — records an order: using a recognisable result records a
/// recognition with the money saved; ordering the test anyway while one
/// exists needs a listed reason (422 `repeat_reason_required`, nothing
/// stored) and writes the reason into the chart; without a recognisable
/// result the order is `new`.
pub async fn place_order(
    store: &Store,
    catalog: &RecognitionCatalog,
    p: &Principal,
    resident_id: i64,
    req: &OrderRequest,
    encounter_days: i64,
) -> ApiResult<OrderOutcome> {
    orderer(p)?;
    let item = catalog_item(catalog, &req.item_code)?.clone();
    let reason = req
        .repeat_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| RepeatReason::parse_field("repeat_reason", r))
        .transpose()?;
    let text = req
        .repeat_text
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if text.chars().count() > REPEAT_TEXT_MAX {
        return Err(ApiError::invalid(
            "repeat_text",
            &format!("不超过{REPEAT_TEXT_MAX}字"),
            &format!("at most {REPEAT_TEXT_MAX} characters"),
        ));
    }
    let (mut tx, v, _) = read_and_evaluate(
        store,
        catalog,
        p,
        resident_id,
        &item.code,
        req.break_glass.as_deref(),
        encounter_days,
        true,
    )
    .await?;
    let decision = Decision {
        use_result_id: req.use_result_id,
        reason,
        text: &text,
    };
    let o = match decide(&item, &v, Some(p.user_id), &decision) {
        Ok(o) => o,
        Err(e) => {
            // The read happened: keep its log entry.
            tx.commit().await?;
            return Err(e);
        }
    };
    let (id, note_entry_id) = store_order(&mut tx, &o, &item, &decision, &v).await?;
    let order = store::get_order(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(OrderOutcome {
        saved_yuan: yuan(order.saved_fen),
        order,
        note_entry_id,
        recognition: v,
    })
}

/// What the clinician chose at order time.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// Use this earlier (recognisable) result instead of the test.
    pub use_result_id: Option<i64>,
    /// Repeat the test although a recognisable result exists, for this reason.
    pub reason: Option<RepeatReason>,
    pub text: &'a str,
}

/// The order a decision makes, checked against the recognition view it was
/// taken on (nothing is written): `recognized` with the money saved,
/// `repeated` with its listed reason (422 `repeat_reason_required` without
/// one), or `new`.
pub fn decide(
    item: &CatalogItem,
    v: &RecognitionView,
    ordered_by: Option<i64>,
    d: &Decision<'_>,
) -> ApiResult<NewOrder> {
    let mut o = NewOrder {
        resident_id: v.resident_id,
        institution_id: v.institution_id,
        item_code: item.code.clone(),
        item_kind: item.kind.as_str().into(),
        ordered_by,
        ordered_at: v.checked_at.clone(),
        outcome: NEW.into(),
        ..Default::default()
    };
    match d.use_result_id {
        Some(id) => match v.candidates.iter().find(|c| c.entry_id == id) {
            Some(c) if c.recognizable => {
                o.outcome = RECOGNIZED.into();
                o.recognized_entry_id = Some(id);
                o.result_institution_id = Some(c.institution_id);
                o.saved_fen = saved_fen(item);
            }
            Some(c) => return Err(not_recognizable(c)),
            None => {
                return Err(ApiError::invalid(
                    "use_result_id",
                    "不是该居民该项目的检查检验结果",
                    "not a result of this resident for this item",
                ));
            }
        },
        None => {
            if let Some(offered) = &v.recognized {
                check_repeat(true, d.reason, Some(d.text))?;
                o.outcome = REPEATED.into();
                o.recognized_entry_id = Some(offered.entry_id);
                o.result_institution_id = Some(offered.institution_id);
                o.repeat_reason = d.reason.map(|r| r.as_str().to_string());
                o.repeat_text = d.text.to_string();
            }
        }
    }
    Ok(o)
}

/// Stores a decided order: the order, for a repeat the reason as a chart
/// note, and the audit entry. Returns (order id, note entry id).
pub async fn store_order(
    conn: &mut Conn,
    o: &NewOrder,
    item: &CatalogItem,
    d: &Decision<'_>,
    v: &RecognitionView,
) -> ApiResult<(i64, Option<i64>)> {
    let id = store::insert_order(conn, o).await?;
    let note_entry_id = match (o.outcome.as_str(), d.reason, v.recognized.as_ref()) {
        (REPEATED, Some(reason), Some(offered)) => Some(
            records::insert_entry(
                conn,
                &repeat_note(o, item, reason, d.text, offered, o.ordered_by, id),
            )
            .await?,
        ),
        _ => None,
    };
    yilian_store::audit::record(
        conn,
        o.ordered_by,
        "recognition.order",
        "resident",
        &o.resident_id.to_string(),
        &serde_json::json!({"order_id": id, "item_code": o.item_code, "outcome": o.outcome,
            "recognized_entry_id": o.recognized_entry_id, "saved_fen": o.saved_fen,
            "repeat_reason": o.repeat_reason}),
    )
    .await?;
    Ok((id, note_entry_id))
}

/// The recognition check of `item_code` ordered at `institution_id` for
/// `resident_id` at `now`, without a principal: for callers that establish
/// the grounds themselves (the demo-data generator replaying a year).
pub async fn check_at(
    conn: &mut Conn,
    catalog: &RecognitionCatalog,
    institution_id: i64,
    resident_id: i64,
    item_code: &str,
    now: NaiveDateTime,
    ground: &str,
) -> ApiResult<RecognitionView> {
    let ev = evaluate(conn, catalog, institution_id, resident_id, item_code, now).await?;
    Ok(view(&ev, catalog, resident_id, institution_id, ground, now))
}

fn not_recognizable(c: &ResultView) -> ApiError {
    let zh: Vec<&str> = c
        .findings
        .iter()
        .filter(|f| f.severity == "block")
        .map(|f| f.message_zh.as_str())
        .collect();
    let en: Vec<&str> = c
        .findings
        .iter()
        .filter(|f| f.severity == "block")
        .map(|f| f.message_en.as_str())
        .collect();
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "result_not_recognizable",
        format!("该结果不能互认：{}", zh.join("；")),
        format!("this result cannot be recognised: {}", en.join("; ")),
    )
}

/// The chart note recording why a recognisable test was repeated
/// (病历记录重复检查理由).
fn repeat_note(
    o: &NewOrder,
    item: &CatalogItem,
    reason: RepeatReason,
    text: &str,
    offered: &ResultView,
    user_id: Option<i64>,
    order_id: i64,
) -> NewEntry {
    let explained = if text.is_empty() {
        reason.label_zh().to_string()
    } else {
        format!("{}（{text}）", reason.label_zh())
    };
    let value = if offered.value.is_empty() {
        String::new()
    } else {
        format!("，结果 {}{}", offered.value, offered.unit)
    };
    NewEntry {
        resident_id: o.resident_id,
        institution_id: o.institution_id,
        kind: "document".into(),
        encounter_type: None,
        occurred_at: o.ordered_at.clone(),
        code: item.code.clone(),
        title: format!("重复检查理由：{}", reason.label_zh()),
        body: format!(
            "重复检查检验：{}。重复检查理由：{explained}。已有可互认结果：{} {}{value}（HR），未采用。",
            item.name_zh,
            offered.institution_name,
            offered.taken_at.get(..10).unwrap_or(&offered.taken_at),
        ),
        source: "recognition".into(),
        source_id: Some(order_id),
        created_by: user_id,
        ..Default::default()
    }
}

/// A resident's recent orders (the ordering view's list): clinical roles
/// that may see the resident.
pub async fn orders_of(store: &Store, p: &Principal, resident_id: i64) -> ApiResult<Vec<OrderRow>> {
    orderer(p)?;
    let mut c = store.read().await?;
    visible_resident(&mut c, p, resident_id).await?;
    Ok(store::orders_of(&mut c, resident_id, 20).await?)
}

// ---------------------------------------------------------------- report

/// The report's period: `from` and `to` (`YYYY-MM-DD`, inclusive); by
/// default the current year to today.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Counts of one group (or of all).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Counts {
    /// Every order of a catalogued item.
    pub orders: i64,
    /// 互认: an earlier result used instead of the test.
    pub recognized: i64,
    /// 重复检查: repeated although recognisable, for a listed reason.
    pub repeated: i64,
    /// No recognisable result: the test was needed.
    pub new: i64,
    /// Repeats by reason code.
    pub repeats_by_reason: BTreeMap<String, i64>,
    /// 节省费用.
    pub saved_fen: i64,
    pub saved_yuan: String,
    /// recognized ÷ (recognized + repeated), in percent to one decimal (half up):
    /// how often a recognisable result was used; `None` without any.
    pub recognition_rate: Option<f64>,
}

impl Counts {
    fn add(&mut self, c: &ReportCell) {
        self.orders += c.orders;
        self.saved_fen += c.saved_fen;
        match c.outcome.as_str() {
            RECOGNIZED => self.recognized += c.orders,
            REPEATED => {
                self.repeated += c.orders;
                *self.repeats_by_reason.entry(c.reason.clone()).or_default() += c.orders;
            }
            _ => self.new += c.orders,
        }
    }
    fn finish(&mut self) {
        self.saved_yuan = yuan(self.saved_fen);
        let offered = self.recognized + self.repeated;
        self.recognition_rate =
            (offered > 0).then(|| ((self.recognized * 1000 + offered / 2) / offered) as f64 / 10.0);
    }
}

/// One institution's or consortium's counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupCounts {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// 互认统计 — per ordering institution and per consortium.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub from: String,
    pub to: String,
    /// The region the report is limited to (a region-bound reader's).
    pub region: Option<String>,
    pub totals: Counts,
    pub institutions: Vec<GroupCounts>,
    pub consortia: Vec<GroupCounts>,
    /// The repeat reasons' labels, by code.
    pub reason_labels: BTreeMap<String, String>,
}

fn group(cells: &[ReportCell]) -> Vec<GroupCounts> {
    let mut out: Vec<GroupCounts> = Vec::new();
    for c in cells {
        match out.last_mut() {
            Some(g) if g.id == c.group_id => g.counts.add(c),
            _ => {
                let mut counts = Counts::default();
                counts.add(c);
                out.push(GroupCounts {
                    id: c.group_id,
                    name: c.group_name.clone(),
                    counts,
                });
            }
        }
    }
    for g in &mut out {
        g.counts.finish();
    }
    out
}

/// Who reads the report: the health commission, administrators and the
/// insurer (no clinical access).
pub fn reads_report(role: Role) -> bool {
    matches!(role, Role::HealthCommission | Role::Admin | Role::Insurer)
}

fn day(field: &'static str, v: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, "日期格式应为 YYYY-MM-DD", "expected YYYY-MM-DD"))
}

/// 互认统计 — recognitions, repeats by reason, new orders and money saved,
/// per ordering institution and per consortium, over a period.
pub async fn report(store: &Store, p: &Principal, q: &ReportQuery) -> ApiResult<Report> {
    if !reads_report(p.role) {
        return Err(ApiError::forbidden());
    }
    let today = crate::state::today();
    let pick = |field, v: &Option<String>, default: NaiveDate| match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => day(field, s),
        _ => Ok(default),
    };
    let year_start = NaiveDate::from_yo_opt(chrono::Datelike::year(&today), 1).unwrap_or(today);
    let from = pick("from", &q.from, year_start)?;
    let to = pick("to", &q.to, today)?;
    if from > to {
        return Err(ApiError::invalid(
            "from",
            "起始日期晚于截止日期",
            "from is after to",
        ));
    }
    let region = match p.role {
        Role::Admin => None,
        _ => Some(
            p.region
                .as_ref()
                .map(|r| r.scope_prefix().to_string())
                .ok_or_else(ApiError::forbidden)?,
        ),
    };
    let f = ReportFilter {
        from: from.to_string(),
        to: to.to_string(),
        region_prefix: region.clone(),
    };
    let mut c = store.read().await?;
    let by_inst = store::report_by_institution(&mut c, &f).await?;
    let by_cons = store::report_by_consortium(&mut c, &f).await?;
    let mut totals = Counts::default();
    for cell in &by_inst {
        totals.add(cell);
    }
    totals.finish();
    Ok(Report {
        from: f.from,
        to: f.to,
        region,
        totals,
        institutions: group(&by_inst),
        consortia: group(&by_cons),
        reason_labels: RepeatReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), r.label_zh().to_string()))
            .collect(),
    })
}

// ---------------------------------------------------------------- catalogue

/// The catalogue in force, as served.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogView {
    pub version: u32,
    pub valid_from: String,
    pub valid_to: Option<String>,
    /// The shipped default the county has not reviewed yet.
    pub is_default: bool,
    /// In force today.
    pub in_force: bool,
    pub items: Vec<ItemView>,
    pub repeat_reasons: Vec<ReasonView>,
}

pub fn catalog_view(catalog: &RecognitionCatalog) -> CatalogView {
    CatalogView {
        version: catalog.version,
        valid_from: catalog.valid_from.to_string(),
        valid_to: catalog.valid_to.map(|d| d.to_string()),
        is_default: catalog.is_default,
        in_force: catalog.in_force(crate::state::today()),
        items: catalog.items.iter().map(ItemView::from).collect(),
        repeat_reasons: reasons(),
    }
}

// ---------------------------------------------------------------- lab quality

/// The longest validity of one assessment.
pub const LAB_QUALITY_MAX_YEARS: i64 = 3;

/// 室间质评 — a passed external quality assessment to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LabQualityRequest {
    /// The day the assessment was passed (`YYYY-MM-DD`), not in the future.
    pub passed_on: String,
    /// The last day it is valid (`YYYY-MM-DD`), at most three years later.
    pub valid_until: String,
    /// Who assessed, e.g. 省临床检验中心.
    pub assessor: Option<String>,
    pub note: Option<String>,
}

/// An institution's assessments and whether one covers today.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabQuality {
    pub institution_id: i64,
    pub in_good_standing: bool,
    pub assessments: Vec<LabQualityRow>,
}

fn optional(field: &'static str, v: &Option<String>, max: usize) -> ApiResult<String> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(t) => crate::api::registry::text(field, t, max),
    }
}

/// Records a passed assessment of an institution's labs: administrators,
/// and the health commission for institutions in its region.
pub async fn record_lab_quality(
    store: &Store,
    p: &Principal,
    institution_id: i64,
    req: &LabQualityRequest,
) -> ApiResult<LabQualityRow> {
    if !matches!(p.role, Role::Admin | Role::HealthCommission) {
        return Err(ApiError::forbidden());
    }
    let passed = day("passed_on", &req.passed_on)?;
    let until = day("valid_until", &req.valid_until)?;
    if passed > crate::state::today() {
        return Err(ApiError::invalid(
            "passed_on",
            "不能晚于今天",
            "cannot be in the future",
        ));
    }
    if until < passed || until > passed + Duration::days(365 * LAB_QUALITY_MAX_YEARS + 1) {
        return Err(ApiError::invalid(
            "valid_until",
            "应不早于通过日期且不超过三年",
            "must be on or after passed_on and within three years",
        ));
    }
    let assessor = optional("assessor", &req.assessor, 100)?;
    let note = optional("note", &req.note, 500)?;
    let mut tx = store.write().await?;
    let inst = registry::get_institution(&mut tx, institution_id)
        .await?
        .ok_or_else(|| ApiError::not_found("机构"))?;
    let region = RegionCode::parse(&inst.region_code).map_err(|_| ApiError::internal())?;
    crate::service::authorize_registry_write(p, &region)?;
    let row = store::insert_lab_quality(
        &mut tx,
        &NewLabQuality {
            institution_id,
            passed_on: passed.to_string(),
            valid_until: until.to_string(),
            assessor,
            note,
            recorded_by: Some(p.user_id),
        },
    )
    .await?;
    yilian_store::audit::record(
        &mut tx,
        Some(p.user_id),
        "lab_quality.record",
        "institution",
        &institution_id.to_string(),
        &serde_json::json!({"lab_quality_id": row.id, "passed_on": row.passed_on, "valid_until": row.valid_until}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// An institution's assessments (readable by every login, like the registry).
pub async fn lab_quality(store: &Store, institution_id: i64) -> ApiResult<LabQuality> {
    let mut c = store.read().await?;
    registry::get_institution(&mut c, institution_id)
        .await?
        .ok_or_else(|| ApiError::not_found("机构"))?;
    let today = crate::state::today().to_string();
    Ok(LabQuality {
        institution_id,
        in_good_standing: store::in_good_standing(&mut c, institution_id, &today).await?,
        assessments: store::lab_quality_of(&mut c, institution_id).await?,
    })
}
