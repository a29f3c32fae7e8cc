//! Load driver for `POST /fhir` transaction bundles (issue 10; see
//! docs/BENCHMARKS.md, "FHIR transaction ingest"). Not part of the normal
//! build: `cargo build --release -p yilian-server --example fhir_ingest`.
//!
//! ```sh
//! fhir_ingest --base http://127.0.0.1:18190 --token T --bundles 2000 --concurrency 8
//! ```
//!
//! Generates `--bundles` distinct synthetic visits before the clock starts —
//! each a new Patient (a valid GB 11643 identity number: the county's address
//! code, a birth date and sequence number unique to the bundle's index), its
//! Encounter, Conditions I10 and E11.9, `entries-per-bundle − 5` lab
//! Observations (3 by default) and one MedicationRequest of 7–28 days, all
//! referenced by `urn:uuid`, at the caller's institution — then POSTs them
//! from `--concurrency` clients and checks that every answer is a 200
//! `transaction-response` with one `201` entry per entry sent. Prints one
//! JSON object (rates, latency percentiles); exits non-zero on any failure.
//!
//! Options (all `--name value`):
//! - `--base` server URL (default `http://127.0.0.1:8080`)
//! - `--token` bearer token of a clinician with an institution (or `YILIAN_TOKEN`)
//! - `--bundles` N (2000), `--concurrency` C (8), `--entries-per-bundle` E (8, ≥ 5)
//! - `--first` K (0): index of the first bundle; runs against the same store
//!   need disjoint ranges (each index is one identity number)
//! - `--institution` ID: Organization id (default: the caller's, `/api/v1/auth/me`)
//! - `--region` village code the patients live in (default: the first
//!   village under the institution's region)
//! - `--id-prefix` the identity numbers' 6-digit address code (default: the
//!   region's county)
//! - `--birth-from` YYYY-MM-DD (1950-01-01): birth date of index 0; 999
//!   sequence numbers per day, so index i is born `i / 999` days later.
//!   scripts/bench-fhir.sh ingests into a store without residents; against
//!   a generated county (ages up to 104, any sequence) pass a date before
//!   it (e.g. 1915-01-01) or another `--id-prefix`, or registrations may
//!   collide with existing identity numbers (refused; counted as failures)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, FixedOffset, NaiveDate, Utc};
use serde_json::{Value, json};
use yilian_domain::id_number::IdNumber;

type Error = Box<dyn std::error::Error + Send + Sync>;

const ID_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
const REGION_EXT: &str = "https://yilian.example/fhir/StructureDefinition/region-code";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const LAB: &str = "https://yilian.example/fhir/CodeSystem/lab-item";
const SEQS_PER_DAY: usize = 999;

#[derive(Debug)]
struct Args {
    base: String,
    token: String,
    bundles: usize,
    concurrency: usize,
    entries: usize,
    first: usize,
    institution: Option<i64>,
    region: Option<String>,
    id_prefix: Option<String>,
    birth_from: NaiveDate,
}

fn usage(msg: &str) -> Error {
    format!(
        "{msg}\nusage: fhir_ingest --base URL --token T [--bundles N] [--concurrency C] \
         [--entries-per-bundle E] [--first K] [--institution ID] [--region CODE] \
         [--id-prefix NNNNNN] [--birth-from YYYY-MM-DD]"
    )
    .into()
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        base: "http://127.0.0.1:8080".into(),
        token: std::env::var("YILIAN_TOKEN").unwrap_or_default(),
        bundles: 2000,
        concurrency: 8,
        entries: 8,
        first: 0,
        institution: None,
        region: None,
        id_prefix: None,
        birth_from: NaiveDate::from_ymd_opt(1950, 1, 1).ok_or("date")?,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--help" || k == "-h" {
            return Err(usage(""));
        }
        let v = it
            .next()
            .ok_or_else(|| usage(&format!("{k} needs a value")))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| usage(&format!("{k}: not a number: {v}")))
        };
        match k.as_str() {
            "--base" => a.base = v.trim_end_matches('/').to_string(),
            "--token" => a.token = v,
            "--bundles" => a.bundles = num(&v)?,
            "--concurrency" => a.concurrency = num(&v)?.max(1),
            "--entries-per-bundle" => a.entries = num(&v)?,
            "--first" => a.first = num(&v)?,
            "--institution" => {
                a.institution = Some(
                    v.parse()
                        .map_err(|_| usage(&format!("--institution: {v}")))?,
                )
            }
            "--region" => a.region = Some(v),
            "--id-prefix" => a.id_prefix = Some(v),
            "--birth-from" => {
                a.birth_from = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                    .map_err(|_| usage(&format!("--birth-from: {v}")))?
            }
            _ => return Err(usage(&format!("unknown option {k}"))),
        }
    }
    if a.token.is_empty() {
        return Err(usage("--token (or YILIAN_TOKEN) is required"));
    }
    if a.entries < 5 {
        return Err(usage(
            "--entries-per-bundle is at least 5 (Patient, Encounter, 2 Conditions, MedicationRequest)",
        ));
    }
    Ok(a)
}

async fn get_json(client: &reqwest::Client, a: &Args, path: &str) -> Result<Value, Error> {
    let r = client
        .get(format!("{}{path}", a.base))
        .bearer_auth(&a.token)
        .send()
        .await?;
    let status = r.status();
    let body = r.text().await?;
    if !status.is_success() {
        return Err(format!("GET {path}: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// The caller's institution and a village under its region.
async fn discover(client: &reqwest::Client, a: &Args) -> Result<(i64, String), Error> {
    let inst = match a.institution {
        Some(i) => i,
        None => get_json(client, a, "/api/v1/auth/me").await?["institution_id"]
            .as_i64()
            .ok_or("the token's user has no institution: use a primary_clinician (or pass --institution)")?,
    };
    if let Some(r) = &a.region {
        return Ok((inst, r.clone()));
    }
    let i = get_json(client, a, &format!("/api/v1/institutions/{inst}")).await?;
    let region = i["region_code"]
        .as_str()
        .ok_or("institution without region_code")?
        .to_string();
    if region.len() == 12 {
        return Ok((inst, region));
    }
    let page = get_json(
        client,
        a,
        &format!("/api/v1/regions?within={region}&level=village&limit=1"),
    )
    .await?;
    let village = page["items"][0]["code"]
        .as_str()
        .ok_or_else(|| format!("no village registered under {region}: pass --region"))?
        .to_string();
    Ok((inst, village))
}

/// A v4-shaped UUID from the run's nonce, the bundle and the entry.
fn uuid(nonce: u64, bundle: usize, entry: usize) -> String {
    let x = nonce ^ ((bundle as u64) << 8) ^ entry as u64;
    let y = (bundle as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (entry as u64);
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        x as u16 & 0xfff,
        (y >> 48) as u16 & 0xfff,
        y & 0xffff_ffff_ffff
    )
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "英", "华", "文", "建", "国", "兰", "玉", "春", "海",
];
const LABS: &[(&str, &str, f64, &str, &str)] = &[
    ("GLU", "空腹血糖", 7.8, "mmol/L", "3.9-6.1"),
    ("HBA1C", "糖化血红蛋白", 7.2, "%", "4.0-6.0"),
    ("TC", "总胆固醇", 5.6, "mmol/L", "<5.2"),
    ("TG", "甘油三酯", 1.9, "mmol/L", "<1.7"),
    ("CREA", "肌酐", 88.0, "µmol/L", "57-111"),
    ("ALT", "丙氨酸氨基转移酶", 31.0, "U/L", "9-50"),
];

struct Ctx {
    nonce: u64,
    inst: i64,
    region: String,
    id_prefix: String,
    birth_from: NaiveDate,
    entries: usize,
    today: NaiveDate,
}

/// Bundle `i` (a global index: unique identity number and phone).
fn bundle(c: &Ctx, i: usize) -> Result<Value, Error> {
    let born = c.birth_from + Days::days((i / SEQS_PER_DAY) as i64);
    let seq = (i % SEQS_PER_DAY + 1) as u16; // 1..=999; parity = sex
    let id = IdNumber::build(&c.id_prefix, born, seq).ok_or("identity number")?;
    let male = seq % 2 == 1;
    let name = format!(
        "{}{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i / SURNAMES.len()) % GIVEN.len()],
        GIVEN[(i * 7 / 3 + i / 600) % GIVEN.len()]
    );
    let phone = format!("139{:08}", i % 100_000_000);
    let org = json!({ "reference": format!("Organization/{}", c.inst) });
    let visit = c.today - Days::days(1 + (i % 180) as i64);
    let at = |hh: u32, mm: u32| format!("{visit}T{hh:02}:{mm:02}:00+08:00");
    let (p_url, e_url) = (uuid(c.nonce, i, 0), uuid(c.nonce, i, 1));
    let subject = json!({ "reference": p_url });
    let encounter = json!({ "reference": e_url });
    let mut entry = vec![
        json!({
            "fullUrl": p_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{ "system": ID_SYSTEM, "value": id.as_str() }],
                "name": [{ "use": "official", "text": name }],
                "telecom": [{ "system": "phone", "value": phone, "use": "mobile" }],
                "gender": if male { "male" } else { "female" },
                "birthDate": born.to_string(),
                "address": [{
                    "extension": [{ "url": REGION_EXT, "valueCode": c.region }],
                    "text": format!("{}号", 1 + i % 300),
                    "country": "CN"
                }]
            },
            "request": { "method": "POST", "url": "Patient" }
        }),
        json!({
            "fullUrl": e_url,
            "resource": {
                "resourceType": "Encounter",
                "status": "finished",
                "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
                "type": [{ "coding": [{ "system": "https://yilian.example/fhir/CodeSystem/encounter-type", "code": "outpatient" }], "text": "内科门诊" }],
                "subject": subject,
                "period": { "start": at(9, 0), "end": at(9, 30) },
                "serviceProvider": org
            },
            "request": { "method": "POST", "url": "Encounter" }
        }),
    ];
    for (k, (code, text)) in [
        ("I10", "原发性高血压"),
        ("E11.9", "2型糖尿病，不伴有并发症"),
    ]
    .into_iter()
    .enumerate()
    {
        entry.push(json!({
            "fullUrl": uuid(c.nonce, i, 2 + k),
            "resource": {
                "resourceType": "Condition",
                "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" }] },
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis" }] }],
                "code": { "coding": [{ "system": ICD10, "code": code }], "text": text },
                "subject": subject,
                "encounter": encounter,
                "recordedDate": at(9, 20)
            },
            "request": { "method": "POST", "url": "Condition" }
        }));
    }
    for k in 0..c.entries - 5 {
        let (code, title, base, unit, range) = LABS[k % LABS.len()];
        let value =
            ((base * (0.8 + 0.4 * ((i * 7 + k * 13) % 100) as f64 / 100.0)) * 10.0).round() / 10.0;
        entry.push(json!({
            "fullUrl": uuid(c.nonce, i, 4 + k),
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }] }],
                "code": { "coding": [{ "system": LAB, "code": code, "display": title }] },
                "subject": subject,
                "encounter": encounter,
                "effectiveDateTime": at(9, 10),
                "performer": [org],
                "valueQuantity": { "value": value, "unit": unit },
                "referenceRange": [{ "text": range }]
            },
            "request": { "method": "POST", "url": "Observation" }
        }));
    }
    let (drug, dose) = if i.is_multiple_of(2) {
        ("苯磺酸氨氯地平片", "5mg qd")
    } else {
        ("盐酸二甲双胍片", "0.5g tid")
    };
    entry.push(json!({
        "fullUrl": uuid(c.nonce, i, 4 + c.entries),
        "resource": {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": { "text": drug },
            "subject": subject,
            "encounter": encounter,
            "requester": org,
            "authoredOn": at(9, 25),
            "dosageInstruction": [{ "text": dose }],
            "dispenseRequest": { "expectedSupplyDuration": {
                "value": 7 + (i % 22), "unit": "天", "system": "http://unitsofmeasure.org", "code": "d"
            } }
        },
        "request": { "method": "POST", "url": "MedicationRequest" }
    }));
    Ok(json!({ "resourceType": "Bundle", "type": "transaction", "entry": entry }))
}

/// Why an answer is not the expected transaction-response, if it is not.
fn check(status: reqwest::StatusCode, body: &str, entries: usize) -> Option<String> {
    let short = || body.chars().take(400).collect::<String>();
    if status != reqwest::StatusCode::OK {
        return Some(format!("{status}: {}", short()));
    }
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON ({e}): {}", short())),
    };
    let ok = v["resourceType"] == "Bundle"
        && v["type"] == "transaction-response"
        && v["entry"].as_array().is_some_and(|es| {
            es.len() == entries
                && es.iter().all(|e| {
                    e["response"]["status"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("201"))
                })
        });
    (!ok).then(|| format!("unexpected response: {}", short()))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fhir_ingest: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, Error> {
    let a = parse_args()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(120))
        .build()?;
    let (inst, region) = discover(&client, &a).await?;
    let id_prefix = a
        .id_prefix
        .clone()
        .unwrap_or_else(|| region.chars().take(6).collect());
    let cst = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let nonce = Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    let ctx = Ctx {
        nonce,
        inst,
        region,
        id_prefix,
        birth_from: a.birth_from,
        entries: a.entries,
        today: Utc::now().with_timezone(&cst).date_naive(),
    };
    // Every body is built before the clock starts.
    let bodies: Vec<String> = (a.first..a.first + a.bundles)
        .map(|i| bundle(&ctx, i).map(|b| b.to_string()))
        .collect::<Result<_, _>>()?;
    let bytes: usize = bodies.iter().map(String::len).sum();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/fhir", a.base);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (client, bodies, next, url, token) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            url.clone(),
            a.token.clone(),
        );
        let entries = a.entries;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures: Vec<(usize, String)> = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(k) else { break };
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/fhir+json")
                    .body(body.clone())
                    .send()
                    .await;
                let why = match r {
                    Ok(r) => {
                        let status = r.status();
                        match r.text().await {
                            Ok(text) => check(status, &text, entries),
                            Err(e) => Some(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Some(format!("request: {e}")),
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if let Some(w) = why {
                    failures.push((k, w));
                }
            }
            (lat, failures)
        }));
    }
    let mut lat = Vec::with_capacity(a.bundles);
    let mut failures = Vec::new();
    for t in tasks {
        let (l, f) = t.await?;
        lat.extend(l);
        failures.extend(f);
    }
    let secs = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    failures.sort_by_key(|f| f.0);
    for (k, why) in failures.iter().take(5) {
        eprintln!("bundle {} failed: {why}", a.first + k);
    }
    let ok = a.bundles - failures.len();
    let resources = ok * a.entries;
    let out = json!({
        "bundles": a.bundles,
        "bundles_ok": ok,
        "failures": failures.len(),
        "entries_per_bundle": a.entries,
        "resources": resources,
        "concurrency": a.concurrency,
        "first": a.first,
        "request_bytes": bytes,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "resources_per_s": (resources as f64 / secs * 10.0).round() / 10.0,
        "bundles_per_s": (ok as f64 / secs * 10.0).round() / 10.0,
        "latency_ms": {
            "p50": (percentile(&lat, 50.0) * 100.0).round() / 100.0,
            "p90": (percentile(&lat, 90.0) * 100.0).round() / 100.0,
            "p99": (percentile(&lat, 99.0) * 100.0).round() / 100.0,
            "max": (lat.last().copied().unwrap_or(0.0) * 100.0).round() / 100.0,
        },
    });
    println!("{out}");
    Ok(failures.is_empty())
}
