//! The generated year's insurance claims (医保结算), derived from the
//! encounters already in the record so they cannot contradict it:
//!
//! - every follow-up encounter at a village clinic, community station or
//!   township/community centre is an outpatient claim: drugs 30–200 yuan,
//!   often an exam (5–60 yuan) and sometimes a treatment (5–30 yuan);
//! - every completed referral's visit is a claim at the receiving
//!   institution. An upward referral to a county hospital is admitted in
//!   about 30 % of cases (a stay of 5–10 days, 3,000–15,000 yuan: beds,
//!   drugs, exams, treatment, materials; the claim is dated on the discharge
//!   day, so a stay not yet over has no claim yet); every other visit is
//!   outpatient (200–1,500 yuan);
//! - every signed remote read is an outpatient exam claim at the reading
//!   hospital, at the recognition catalogue's price of the item;
//! - about 3 residents in 1,000 are admitted to the city or tertiary hospital
//!   in Jincheng (outside the county) without being referred: a stay of
//!   7–14 days, 8,000–40,000 yuan. These show the missing-referral penalty
//!   and the fund's payments leaking out of the county (县外就医).
//!
//! About one item in twenty is outside the insurance catalogue (自费). All
//! amounts are drawn from the seed and the encounter's generated row (a
//! splitmix hash), so a seed gives the same bills on both backends and on
//! every run of the same day (the generated year ends today, and the remote
//! reads still open depend on the hour).
//!
//! **Adjudication is the service's own**: each claim goes through
//! [`yilian_server::insurance::assess_batch`], the same facts and rules as
//! [`yilian_server::insurance::assess`] for a claim entered through the API
//! — the benefit level, the referral context (the visit's referral, or an
//! accepted referral to the institution within 90 days, the "1+1+1"
//! combination), the consortium charged, the policy version in force and the
//! year-to-date fund payments all come from the store — but read for up to
//! 500 claims in one statement instead of seven statements per claim.
//!
//! **Year to date.** A claim's year to date is read from the *stored* claims
//! (same scheme and setting, service date on or before the claim's). So the
//! claims are adjudicated in service-date order (then time of day, then
//! entry), in batches that end before a resident's second claim: each batch
//! is assessed, then stored, before the next is assessed. A resident's year
//! to date depends only on that resident's claims, and every earlier one is
//! then in the store (committed, or written earlier in the same
//! transaction) when the next is assessed; no later claim can count, since
//! later means a service date not before. The stored `ytd_fund_fen` is
//! therefore what entering the year's claims one by one through the API in
//! that order would have recorded, and `yilian insurance recompute`
//! reproduces every claim.
//!
//! Claims more than 60 days old are valuated (核定), each with its fund
//! share in the fund ledger ([`yilian_server::insurance::ledger_for`]),
//! those 15–60 days old checked (审核), newer ones just entered.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use yilian_domain::insurance::{ClaimState, CostCategory, rule};
use yilian_domain::money::{split_by_weights, yuan};
use yilian_server::insurance::{ClaimRequest, ItemRequest, assess_batch, ledger_for};
use yilian_store::Store;
use yilian_store::generated::{self, ClaimEncounter};
use yilian_store::insurance::{LedgerEntry, NewClaim, append_ledger};

use crate::CliResult;

/// What the derivation wrote.
#[derive(Debug, Default)]
pub struct ClaimTotals {
    pub claims: usize,
    pub valuated: usize,
    pub fund_fen: i64,
    pub resident_fen: i64,
    /// Claims whose ratio was lowered for going up without a referral.
    pub penalised: usize,
    /// Claims at institutions outside the resident's county.
    pub outside: usize,
    /// Encounters on a day no policy version covers.
    pub no_policy: usize,
    /// Stays not over yet (no claim until discharge).
    pub admitted: usize,
    pub seconds: f64,
}

impl ClaimTotals {
    pub fn line(&self) -> String {
        format!(
            "claims: {} adjudicated ({} valuated), fund {} yuan, residents {} yuan; {} with the missing-referral penalty, \
             {} outside the county; {} skipped (no policy in force), {} stays not yet discharged; {:.1} s ({:.0} claims/s)",
            self.claims,
            self.valuated,
            yuan(self.fund_fen),
            yuan(self.resident_fen),
            self.penalised,
            self.outside,
            self.no_policy,
            self.admitted,
            self.seconds,
            self.claims as f64 / self.seconds.max(1e-9)
        )
    }
}

/// Percentage of upward referrals to a county hospital that are admitted.
const ADMIT_PERCENT: u64 = 30;
/// Residents in 100,000 admitted outside the county without a referral.
const UNREFERRED_PER_100K: u64 = 300;
/// Percentage of items outside the insurance catalogue (自费).
const UNCOVERED_PERCENT: u64 = 5;
/// Claims older than this many days are valuated; older than `CHECKED_DAYS`
/// checked.
const VALUATED_DAYS: i64 = 60;
const CHECKED_DAYS: i64 = 15;
/// Claims per write transaction.
const TX_CLAIMS: usize = 2_000;
/// Planner statistics are refreshed after this many claims, then each time
/// the count has grown fourfold. PostgreSQL plans a connection's prepared
/// statement once it has run a few times; the year-to-date query planned
/// against the claims table as it was analysed at start-up (empty) scanned
/// the whole table for every claim, and a 100,000-resident run slowed to
/// about 40 claims/s by 50,000 claims. `ANALYZE` invalidates those plans.
const FIRST_ANALYZE: usize = 2_000;
/// Fallback prices (fen) of the remote-read items if the recognition
/// catalogue lacks them.
const EXAM_PRICES: [(&str, i64); 3] = [
    ("ecg", 2_500),
    ("chest_xray", 6_000),
    ("us_abdomen", 12_000),
];

const COUNTY_HOSPITALS: [&str; 3] = [
    "county_general_hospital",
    "county_tcm_hospital",
    "maternal_child_hospital",
];

/// One encounter to bill.
struct Planned {
    /// The service date (a stay's discharge day) and time of day, then
    /// (kind, source row, resident): the adjudication order. Nothing here
    /// depends on ids the backends may assign differently.
    date: NaiveDate,
    time: String,
    key: (u8, i64, i64),
    resident_id: i64,
    institution_id: i64,
    inpatient: bool,
    items: Vec<(CostCategory, i64, bool)>,
    referral_id: Option<i64>,
    entry_id: Option<i64>,
}

pub async fn derive(store: &Store, seed: u64, today: NaiveDate) -> CliResult<ClaimTotals> {
    let started = Instant::now();
    let mut t = ClaimTotals::default();
    let versions = yilian_server::insurance::policies(store)
        .await
        .map_err(crate::csvio::api_msg)?;
    let catalog = yilian_server::recognition::load_catalog();
    let price = |code: &str| {
        catalog
            .item(code)
            .map(|i| i.price_fen)
            .or_else(|| {
                EXAM_PRICES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, p)| *p)
            })
            .unwrap_or(3_000)
    };
    let (encounters, residents, outside) = {
        let mut c = store.read().await?;
        (
            generated::claim_encounters(&mut c).await?,
            generated::resident_ids(&mut c).await?,
            generated::institutions_of_kind(&mut c, &["city_hospital", "tertiary_hospital"])
                .await?,
        )
    };

    let mut plan: Vec<Planned> = Vec::with_capacity(encounters.len() + residents.len() / 300);
    for e in &encounters {
        let Some(p) = plan_encounter(seed, today, e, &price, &mut t) else {
            continue;
        };
        plan.push(p);
    }
    if !outside.is_empty() {
        for &rid in &residents {
            let mut d = Draw::new(seed ^ 0x7E27, rid as u64);
            if d.below(100_000) >= UNREFERRED_PER_100K {
                continue;
            }
            let days = d.range(7, 14);
            let discharged = today - Duration::days(d.range(1, 365));
            let total = d.range(800_000, 4_000_000);
            let beds = days * d.range(6_000, 12_000);
            plan.push(Planned {
                date: discharged,
                time: "T17:00".into(),
                key: (3, rid, rid),
                resident_id: rid,
                institution_id: outside[d.below(outside.len() as u64) as usize],
                inpatient: true,
                items: stay_items(&mut d, total, beds),
                referral_id: None,
                entry_id: None,
            });
        }
    }
    plan.sort_by(|a, b| (a.date, &a.time, a.key).cmp(&(b.date, &b.time, b.key)));

    let mut next_analyze = FIRST_ANALYZE;
    for chunk in plan.chunks(TX_CLAIMS) {
        let mut tx = store.write().await?;
        let mut ledger: Vec<LedgerEntry> = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let batch = &rest[..distinct_run(rest, yilian_store::insurance::FACTS_BATCH)];
            rest = &rest[batch.len()..];
            let requests: Vec<(ClaimRequest, i64)> = batch
                .iter()
                .map(|p| (p.request(), p.institution_id))
                .collect();
            let outcomes = assess_batch(&mut tx, &versions, &requests)
                .await
                .map_err(crate::csvio::api_msg)?;
            let mut pending: Vec<NewClaim> = Vec::with_capacity(batch.len());
            for (p, outcome) in batch.iter().zip(outcomes) {
                let (mut claim, adj) = match outcome {
                    Ok(v) => v,
                    Err(e) if e.body.code == "no_policy_in_force" => {
                        t.no_policy += 1;
                        continue;
                    }
                    Err(e) => return Err(crate::csvio::api_msg(e).into()),
                };
                let age = (today - p.date).num_days();
                let state = if age > VALUATED_DAYS {
                    ClaimState::Valuated
                } else if age >= CHECKED_DAYS {
                    ClaimState::Checked
                } else {
                    ClaimState::Entered
                };
                claim.state = state.as_str().into();
                claim.source = "generator".into();
                t.claims += 1;
                t.valuated += usize::from(state == ClaimState::Valuated);
                t.fund_fen += adj.fund_fen;
                t.resident_fen += adj.resident_fen;
                t.penalised += usize::from(
                    adj.rules
                        .iter()
                        .any(|r| r.code == rule::MISSING_REFERRAL_PENALTY),
                );
                t.outside += usize::from(!claim.in_county);
                pending.push(claim);
            }
            flush(&mut tx, &mut pending, &mut ledger).await?;
        }
        append_ledger(&mut tx, &ledger).await?;
        tx.commit().await?;
        if t.claims >= next_analyze {
            store.analyze().await?;
            next_analyze *= 4;
        }
    }
    t.seconds = started.elapsed().as_secs_f64();
    Ok(t)
}

/// How many leading claims (at most `max`) are of distinct residents: a
/// batch adjudicated together, since a claim's year to date must count every
/// earlier claim of its resident, stored before it is assessed.
fn distinct_run(plan: &[Planned], max: usize) -> usize {
    let mut seen = HashSet::new();
    plan.iter()
        .take(max)
        .take_while(|p| seen.insert(p.resident_id))
        .count()
}

impl Planned {
    /// The claim as it would be entered through the API.
    fn request(&self) -> ClaimRequest {
        ClaimRequest {
            resident_id: self.resident_id,
            institution_id: Some(self.institution_id),
            service_date: self.date.to_string(),
            setting: if self.inpatient {
                "inpatient"
            } else {
                "outpatient"
            }
            .into(),
            items: self
                .items
                .iter()
                .map(|(category, amount_fen, covered)| ItemRequest {
                    category: category.as_str().into(),
                    amount_fen: *amount_fen,
                    covered: Some(*covered),
                })
                .collect(),
            referral_id: self.referral_id,
            encounter_entry_id: self.entry_id,
        }
    }
}

/// `yilian insurance recompute --year`: recomputes every claim of `year`
/// from its stored policy version, encounter and year-to-date payments (the
/// same check as [`yilian_server::insurance::recompute_year`], timed in two
/// parts: reading the claims, and adjudicating them again). Prints one line;
/// an error when any claim differs.
pub async fn recompute(store: &Store, year: i32) -> CliResult {
    let started = Instant::now();
    let versions = yilian_server::insurance::policies(store)
        .await
        .map_err(crate::csvio::api_msg)?;
    let claims = {
        let mut c = store.read().await?;
        yilian_store::insurance::claims_of_year(&mut c, year).await?
    };
    let read = started.elapsed().as_secs_f64();
    let adjudicating = Instant::now();
    let mut identical = 0;
    let mut differing = Vec::new();
    for claim in &claims {
        let same = versions
            .iter()
            .find(|v| v.id == claim.policy_id)
            .is_some_and(|v| yilian_server::insurance::reproduces(claim, v));
        if same {
            identical += 1;
        } else {
            differing.push(claim.id);
        }
    }
    let adjudicated = adjudicating.elapsed().as_secs_f64();
    let all = started.elapsed().as_secs_f64();
    let ids = if differing.is_empty() {
        String::new()
    } else {
        let shown: Vec<String> = differing.iter().take(20).map(i64::to_string).collect();
        let more = if differing.len() > 20 { ", …" } else { "" };
        format!(" ({}{more})", shown.join(", "))
    };
    let n = claims.len() as f64;
    println!(
        "{} claims, {identical} identical, {} differing{ids}; {all:.2} s in all ({:.0} claims/s): \
         read in {read:.2} s, recomputed in {adjudicated:.2} s ({:.0} claims/s)",
        claims.len(),
        differing.len(),
        n / all.max(1e-9),
        n / adjudicated.max(1e-9),
    );
    if !differing.is_empty() {
        return Err(format!(
            "{} claims of {year} differ from their recomputation",
            differing.len()
        )
        .into());
    }
    Ok(())
}

/// Stores the pending claims and books the valuated ones' fund shares.
async fn flush(
    tx: &mut yilian_store::Conn,
    pending: &mut Vec<NewClaim>,
    ledger: &mut Vec<LedgerEntry>,
) -> CliResult {
    if pending.is_empty() {
        return Ok(());
    }
    let ids = generated::insert_claims(tx, pending).await?;
    for (c, id) in pending.iter().zip(ids) {
        if c.state == ClaimState::Valuated.as_str() {
            ledger.push(ledger_for(
                id,
                &c.service_date,
                c.consortium_id,
                c.institution_id,
                c.fund_fen,
            ));
        }
    }
    pending.clear();
    Ok(())
}

/// The bill of one encounter of the record (None: a stay not over yet, or
/// an unreadable time).
fn plan_encounter(
    seed: u64,
    today: NaiveDate,
    e: &ClaimEncounter,
    price: &impl Fn(&str) -> i64,
    t: &mut ClaimTotals,
) -> Option<Planned> {
    let date = NaiveDate::parse_from_str(e.occurred_at.get(..10)?, "%Y-%m-%d").ok()?;
    let time = e.occurred_at.get(10..).unwrap_or_default().to_string();
    let rank: u8 = match e.what.as_str() {
        "follow_up" => 0,
        "remote_read" => 1,
        _ => 2,
    };
    // Keyed by what the entry records, never by an id a backend may assign
    // in another order: the record's rows are copied with INSERT … SELECT,
    // and the remote reads are inserted in the order of a GROUP BY, both of
    // which differ between SQLite and PostgreSQL. Follow-up and referral ids
    // are stable (bulk inserts in generation order); a remote read is known
    // by its item and time.
    let source = match rank {
        1 => (fnv(&e.code) ^ fnv(&e.occurred_at).rotate_left(17)) as i64 & i64::MAX,
        _ => e.source_id.unwrap_or(e.entry_id),
    };
    let mut d = Draw::new(
        seed ^ 0xC1A1 ^ (u64::from(rank) << 56),
        (source as u64) ^ (e.resident_id as u64).rotate_left(32),
    );
    let mut p = Planned {
        date,
        time,
        key: (rank, source, e.resident_id),
        resident_id: e.resident_id,
        institution_id: e.institution_id,
        inpatient: false,
        items: Vec::new(),
        referral_id: e.referral_id,
        entry_id: Some(e.entry_id),
    };
    match e.what.as_str() {
        "remote_read" => {
            p.items = vec![item(&mut d, CostCategory::Exams, price(&e.code))];
        }
        "referral" => {
            let up_to_county = e.direction.as_deref() == Some("up")
                && COUNTY_HOSPITALS.contains(&e.institution_kind.as_str());
            if up_to_county && d.below(100) < ADMIT_PERCENT {
                let days = d.range(5, 10);
                let discharged = date + Duration::days(days);
                if discharged > today {
                    t.admitted += 1;
                    return None;
                }
                let total = d.range(300_000, 1_500_000);
                let beds = days * d.range(4_000, 8_000);
                p.date = discharged;
                p.time = "T16:00".into();
                p.inpatient = true;
                p.items = stay_items(&mut d, total, beds);
            } else {
                let total = d.range(20_000, 150_000);
                p.items = split_items(
                    &mut d,
                    total,
                    &[
                        (CostCategory::Drugs, 45),
                        (CostCategory::Exams, 40),
                        (CostCategory::Treatment, 15),
                    ],
                );
            }
        }
        _ => {
            let fen = d.range(3_000, 20_000);
            p.items.push(item(&mut d, CostCategory::Drugs, fen));
            if d.below(100) < 50 {
                let fen = d.range(500, 6_000);
                p.items.push(item(&mut d, CostCategory::Exams, fen));
            }
            if d.below(100) < 30 {
                let fen = d.range(500, 3_000);
                p.items.push(item(&mut d, CostCategory::Treatment, fen));
            }
        }
    }
    Some(p)
}

/// One item, outside the catalogue one time in twenty.
fn item(d: &mut Draw, category: CostCategory, fen: i64) -> (CostCategory, i64, bool) {
    (category, fen, d.below(100) >= UNCOVERED_PERCENT)
}

/// `total` split among categories by jittered weights (±25 %).
fn split_items(
    d: &mut Draw,
    total: i64,
    weights: &[(CostCategory, u64)],
) -> Vec<(CostCategory, i64, bool)> {
    let w: Vec<f64> = weights
        .iter()
        .map(|(_, w)| *w as f64 * (0.75 + d.below(501) as f64 / 1_000.0))
        .collect();
    let parts = split_by_weights(total, &w);
    weights
        .iter()
        .zip(parts)
        .filter(|(_, fen)| *fen > 0)
        .map(|((c, _), fen)| item(d, *c, fen))
        .collect()
}

/// A stay's bill: `beds` for the bed days, the rest of `total` on drugs,
/// exams, treatment and materials.
fn stay_items(d: &mut Draw, total: i64, beds: i64) -> Vec<(CostCategory, i64, bool)> {
    let beds = beds.min(total / 4);
    let mut items = vec![item(d, CostCategory::Beds, beds)];
    items.extend(split_items(
        d,
        total - beds,
        &[
            (CostCategory::Drugs, 40),
            (CostCategory::Exams, 25),
            (CostCategory::Treatment, 20),
            (CostCategory::Materials, 15),
        ],
    ));
    items
}

/// FNV-1a of a text.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A splitmix64 stream keyed by (seed, key): the same draws on every run.
struct Draw(u64);

impl Draw {
    fn new(seed: u64, key: u64) -> Draw {
        Draw(seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}
