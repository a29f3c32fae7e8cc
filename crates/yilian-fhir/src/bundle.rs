//! Bundles: the `searchset` a search answers with, and the `transaction` a
//! hospital system pushes.
//!
//! The transaction parser reads and checks *every* entry before anything is
//! stored, and refuses the whole bundle if any entry is bad (all issues in
//! one OperationOutcome). What it returns is an ordered plan: entries that
//! others reference by `urn:uuid:` come first. Executing the plan in one
//! database transaction (all or nothing) is the server's job.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::clinical::{self, RecordEntryInput};
use crate::json::{Node, is_fhir_id};
use crate::orders::{self, DiagnosticReportIn, MedicationRequestIn};
use crate::organization::{self, OrganizationIn};
use crate::outcome::{IssueType, Outcome};
use crate::patient::{self, PatientIn};
use crate::practitioner::{self, PractitionerIn, PractitionerRoleIn};
use crate::reference::{Ref, is_urn_uuid};

/// Default and maximum `_count` of a search page.
pub const DEFAULT_COUNT: u32 = 20;
pub const MAX_COUNT: u32 = 200;

/// Reads `_count` (absent → [`DEFAULT_COUNT`], capped at [`MAX_COUNT`]) and
/// `_offset` (absent → 0); a non-number is refused naming the parameter.
pub fn paging(count: Option<&str>, offset: Option<&str>) -> Result<(u32, u64), Outcome> {
    let bad = |p: &str| {
        Outcome::value(
            p,
            format!("参数 {p} 应为非负整数"),
            format!("parameter {p} must be a non-negative integer"),
        )
        .with_status(400)
    };
    let c = match count {
        None | Some("") => DEFAULT_COUNT,
        Some(s) => s.parse::<u32>().map_err(|_| bad("_count"))?.min(MAX_COUNT),
    };
    let o = match offset {
        None | Some("") => 0,
        Some(s) => s.parse::<u64>().map_err(|_| bad("_offset"))?,
    };
    Ok((c, o))
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// The FHIR base, e.g. `https://host/fhir` (no trailing slash).
    pub base: String,
    pub resource_type: String,
    /// The search parameters as received, without `_count` and `_offset`.
    pub params: Vec<(String, String)>,
    pub total: u64,
    pub count: u32,
    pub offset: u64,
    /// The matches (each a resource with `id`).
    pub matches: Vec<Value>,
    /// Resources added by `_include`.
    pub included: Vec<Value>,
}

/// Percent-encodes a query component (RFC 3986 unreserved kept).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl SearchPage {
    fn url(&self, offset: u64) -> String {
        let mut q: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        q.push(format!("_count={}", self.count));
        if offset > 0 {
            q.push(format!("_offset={offset}"));
        }
        format!("{}/{}?{}", self.base, self.resource_type, q.join("&"))
    }

    /// The `searchset` Bundle with `total`, `link` self / next / previous,
    /// and `entry.search.mode` match / include.
    pub fn to_bundle(&self) -> Value {
        let mut links = vec![json!({ "relation": "self", "url": self.url(self.offset) })];
        let count = u64::from(self.count);
        if count > 0 && self.offset + count < self.total {
            links.push(json!({ "relation": "next", "url": self.url(self.offset + count) }));
        }
        if self.offset > 0 {
            links.push(json!({
                "relation": "previous",
                "url": self.url(self.offset.saturating_sub(count)),
            }));
        }
        let entry = |r: &Value, mode: &str| {
            let rt = r["resourceType"].as_str().unwrap_or("Resource");
            let id = r["id"].as_str().unwrap_or("");
            json!({
                "fullUrl": format!("{}/{rt}/{id}", self.base),
                "resource": r,
                "search": { "mode": mode },
            })
        };
        let entries: Vec<Value> = self
            .matches
            .iter()
            .map(|r| entry(r, "match"))
            .chain(self.included.iter().map(|r| entry(r, "include")))
            .collect();
        let mut b = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": self.total,
            "link": links,
        });
        if !entries.is_empty() {
            b["entry"] = json!(entries);
        }
        b
    }
}

/// `Bundle.entry.request.method` values yilian accepts in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

/// What one transaction entry asks for.
#[derive(Debug, Clone)]
pub enum Op {
    Patient(Box<PatientIn>),
    Organization(OrganizationIn),
    Record(RecordEntryInput),
    /// A prescription (MedicationRequest).
    Prescription(Box<MedicationRequestIn>),
    /// An exam report (DiagnosticReport).
    Report(Box<DiagnosticReportIn>),
    /// A practitioner, registered with the PractitionerRoles (practice
    /// sites) of the same bundle that reference it.
    Practitioner(Box<PractitionerIn>),
    /// A practice site of a practitioner.
    PractitionerRole(Box<PractitionerRoleIn>),
}

impl Op {
    pub fn resource_type(&self) -> &'static str {
        match self {
            Op::Patient(_) => "Patient",
            Op::Organization(_) => "Organization",
            Op::Record(r) => match r.kind {
                yilian_domain::record::EntryKind::Encounter => "Encounter",
                yilian_domain::record::EntryKind::Diagnosis => "Condition",
                _ => "Observation",
            },
            Op::Prescription(_) => "MedicationRequest",
            Op::Report(_) => "DiagnosticReport",
            Op::Practitioner(_) => "Practitioner",
            Op::PractitionerRole(_) => "PractitionerRole",
        }
    }
}

/// One step of a transaction plan.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Position in `Bundle.entry` (the response bundle keeps this order).
    pub index: usize,
    /// `fullUrl` as sent; a `urn:uuid:` one is what other entries reference.
    pub full_url: Option<String>,
    pub method: Method,
    /// For PUT, the id in `request.url` (`Patient/12` → `12`).
    pub target_id: Option<String>,
    pub op: Op,
    /// Indexes of the entries this one references by placeholder.
    pub depends_on: Vec<usize>,
}

/// A transaction bundle, checked and ordered: execute `steps` in order,
/// recording each created id under its `fullUrl` so later steps can
/// [`Ref::resolve`] their placeholders.
#[derive(Debug, Clone)]
pub struct TransactionPlan {
    pub steps: Vec<PlannedEntry>,
    /// Number of entries in the bundle (= steps.len()).
    pub entry_count: usize,
}

fn entry_op(res: &Node<'_>, today: NaiveDate) -> Result<Op, Outcome> {
    let rt = res.req("resourceType")?;
    match rt.string()? {
        "Patient" => Ok(Op::Patient(Box::new(patient::from_fhir_at(res, today)?))),
        "Organization" => Ok(Op::Organization(organization::from_fhir_at(res)?)),
        "Encounter" | "Condition" | "Observation" => Ok(Op::Record(clinical::from_fhir_at(res)?)),
        "MedicationRequest" => Ok(Op::Prescription(Box::new(
            orders::medication_request_from_fhir_at(res)?,
        ))),
        "DiagnosticReport" => Ok(Op::Report(Box::new(
            orders::diagnostic_report_from_fhir_at(res)?,
        ))),
        "Practitioner" => Ok(Op::Practitioner(Box::new(practitioner::from_fhir_at(res)?))),
        "PractitionerRole" => Ok(Op::PractitionerRole(Box::new(
            practitioner::role_from_fhir_at(res)?,
        ))),
        other => Err(Outcome::not_supported(
            &rt.path,
            format!("事务中不支持资源类型 {other}"),
            format!("resource type {other} is not supported in a transaction"),
        )),
    }
}

/// Placeholder references of an op, with the FHIRPath (relative to the
/// resource) that names them and the type they must point at.
fn placeholder_refs(op: &Op) -> Vec<(&str, &'static str, &'static str)> {
    type Found<'a> = Vec<(&'a str, &'static str, &'static str)>;
    fn add<'a>(v: &mut Found<'a>, r: Option<&'a Ref>, path: &'static str, ty: &'static str) {
        if let Some(Ref::Placeholder(u)) = r {
            v.push((u.as_str(), path, ty));
        }
    }
    let mut v = Vec::new();
    let mut push = |r, path, ty| add(&mut v, r, path, ty);
    match op {
        Op::Prescription(m) => {
            push(Some(&m.patient), "subject.reference", "Patient");
            push(m.requester.as_ref(), "requester.reference", "Organization");
            push(m.encounter.as_ref(), "encounter.reference", "Encounter");
        }
        Op::Report(d) => {
            push(Some(&d.patient), "subject.reference", "Patient");
            push(d.institution.as_ref(), "performer", "Organization");
            push(d.encounter.as_ref(), "encounter.reference", "Encounter");
        }
        Op::Record(r) => {
            let institution = match r.kind {
                yilian_domain::record::EntryKind::Encounter => "serviceProvider",
                yilian_domain::record::EntryKind::Diagnosis => "extension",
                _ => "performer",
            };
            push(Some(&r.patient), "subject.reference", "Patient");
            push(r.institution.as_ref(), institution, "Organization");
            push(r.encounter.as_ref(), "encounter.reference", "Encounter");
        }
        Op::PractitionerRole(r) => {
            push(
                Some(&r.practitioner),
                "practitioner.reference",
                "Practitioner",
            );
            push(
                Some(&r.institution),
                "organization.reference",
                "Organization",
            );
        }
        Op::Patient(_) | Op::Organization(_) | Op::Practitioner(_) => {}
    }
    v
}

struct Parsed {
    index: usize,
    full_url: Option<String>,
    method: Method,
    target_id: Option<String>,
    op: Op,
}

fn read_entry(e: &Node<'_>, index: usize, today: NaiveDate) -> Result<Parsed, Outcome> {
    e.object()?;
    let full_url = e.opt_str("fullUrl")?.map(str::to_string);
    if let Some(u) = &full_url
        && u.starts_with("urn:uuid:")
        && !is_urn_uuid(u)
    {
        let p = format!("{}.fullUrl", e.path);
        return Err(Outcome::value(
            &p,
            "fullUrl 不是有效的 urn:uuid",
            "fullUrl is not a valid urn:uuid",
        ));
    }
    let req = e.req("request")?;
    let m = req.req("method")?;
    let method = match m.string()? {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        other => {
            return Err(Outcome::not_supported(
                &m.path,
                format!("事务只支持 POST 和 PUT，实际为 {other}"),
                format!("only POST and PUT are supported in a transaction, got {other}"),
            ));
        }
    };
    let url = req.req("url")?;
    let url_s = url.string()?.trim();
    let res = e.req("resource")?;
    let op = entry_op(&res, today)?;
    let rt = op.resource_type();
    let target_id = match method {
        Method::Post => {
            if url_s != rt {
                return Err(Outcome::value(
                    &url.path,
                    format!("POST 的 url 应为 {rt}"),
                    format!("a POST url must be {rt}, got {url_s}"),
                ));
            }
            None
        }
        Method::Put => {
            let id = url_s
                .strip_prefix(rt)
                .and_then(|r| r.strip_prefix('/'))
                .filter(|id| is_fhir_id(id))
                .ok_or_else(|| {
                    Outcome::value(
                        &url.path,
                        format!("PUT 的 url 应为 {rt}/{{id}}"),
                        format!("a PUT url must be {rt}/{{id}}, got {url_s}"),
                    )
                })?;
            let res_id = res.opt_str("id")?;
            if res_id != Some(id) {
                let p = format!("{}.id", res.path);
                return Err(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    &p,
                    format!("资源 id 须与 request.url 中的 {id} 一致"),
                    format!("resource id must equal {id} from request.url"),
                ));
            }
            Some(id.to_string())
        }
    };
    Ok(Parsed {
        index,
        full_url,
        method,
        target_id,
        op,
    })
}

/// Reads a `transaction` Bundle into a plan, or refuses it as a whole with
/// every bad entry's issues (paths `Bundle.entry[i]…`).
pub fn parse_transaction(v: &Value, today: NaiveDate) -> Result<TransactionPlan, Outcome> {
    let b = Node::new(v, "Bundle");
    b.resource_type("Bundle")?;
    b.known_elements(&[
        "id",
        "meta",
        "implicitRules",
        "language",
        "identifier",
        "type",
        "timestamp",
        "total",
        "link",
        "entry",
        "signature",
    ])?;
    let t = b.req("type")?;
    if t.string()? != "transaction" {
        return Err(Outcome::not_supported(
            &t.path,
            "此端点只接收 transaction 类型的 Bundle",
            "this endpoint accepts Bundle.type = transaction only",
        ));
    }
    let entries = match b.field("entry") {
        Some(e) => e.array()?,
        None => Vec::new(),
    };
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match read_entry(e, i, today) {
            Ok(p) => parsed.push(p),
            Err(o) => errors.push(o),
        }
    }
    if let Some(o) = Outcome::merge(std::mem::take(&mut errors)) {
        return Err(o);
    }

    // fullUrl → (index, resource type); duplicates refused.
    let mut by_url: HashMap<&str, (usize, &'static str)> = HashMap::new();
    for p in &parsed {
        if let Some(u) = &p.full_url
            && by_url
                .insert(u.as_str(), (p.index, p.op.resource_type()))
                .is_some()
        {
            let path = format!("Bundle.entry[{}].fullUrl", p.index);
            errors.push(
                Outcome::new(
                    IssueType::Duplicate,
                    "invalid_fhir",
                    &path,
                    format!("fullUrl {u} 重复"),
                    format!("fullUrl {u} occurs twice"),
                )
                .with_status(400),
            );
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); parsed.len()];
    for (k, p) in parsed.iter().enumerate() {
        for (u, path, ty) in placeholder_refs(&p.op) {
            let here = format!("Bundle.entry[{}].resource.{path}", p.index);
            match by_url.get(u) {
                None => errors.push(
                    Outcome::new(
                        IssueType::NotFound,
                        "unknown_reference",
                        &here,
                        format!("引用 {u} 不在本事务中"),
                        format!("reference {u} is not an entry of this transaction"),
                    )
                    .with_status(400),
                ),
                Some((_, rt)) if *rt != ty => errors.push(Outcome::value(
                    &here,
                    format!("引用 {u} 应指向 {ty}，实际为 {rt}"),
                    format!("reference {u} must point at a {ty}, it is a {rt}"),
                )),
                Some((j, _)) => deps[k].push(*j),
            }
        }
    }
    if let Some(o) = Outcome::merge(errors) {
        return Err(o);
    }

    // Order: an entry after everything it references (Kahn, stable by index).
    let n = parsed.len();
    let mut done: HashSet<usize> = HashSet::new();
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let before = order.len();
        for (k, p) in parsed.iter().enumerate() {
            if !done.contains(&p.index) && deps[k].iter().all(|d| done.contains(d)) {
                done.insert(p.index);
                order.push(k);
            }
        }
        if order.len() == before {
            let k = (0..n)
                .find(|k| !done.contains(&parsed[*k].index))
                .unwrap_or(0);
            let path = format!("Bundle.entry[{}]", parsed[k].index);
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &path,
                "事务条目之间存在循环引用",
                "the transaction's entries reference each other in a cycle",
            ));
        }
    }
    let mut slots: Vec<Option<Parsed>> = parsed.into_iter().map(Some).collect();
    let steps = order
        .into_iter()
        .filter_map(|k| {
            let p = slots[k].take()?;
            Some(PlannedEntry {
                index: p.index,
                full_url: p.full_url,
                method: p.method,
                target_id: p.target_id,
                op: p.op,
                depends_on: std::mem::take(&mut deps[k]),
            })
        })
        .collect();
    Ok(TransactionPlan {
        steps,
        entry_count: n,
    })
}

/// One entry of a `transaction-response`, in the bundle's entry order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryResult {
    /// `201 Created` or `200 OK`.
    pub status: String,
    /// `Patient/12/_history/1`.
    pub location: String,
    /// `W/"1"`.
    pub etag: String,
}

/// The `transaction-response` Bundle.
pub fn transaction_response(results: &[EntryResult]) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": results.iter().map(|r| json!({
            "response": { "status": r.status, "location": r.location, "etag": r.etag },
        })).collect::<Vec<_>>(),
    })
}
