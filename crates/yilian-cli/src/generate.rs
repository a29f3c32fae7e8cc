//! Loads the synthetic county into a store: registries, residents streamed in
//! batches (one transaction each), the duplicates' ground truth, demo logins.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime};

use indicatif::{ProgressBar, ProgressStyle};
use yilian_analytics::linkage;
use yilian_domain::referral::{Direction, ReferralState, Urgency, check_referral};
use yilian_domain::resident::{ResidentInput, ValidResident};
use yilian_server::referral::{SlotPlan, now_cst, plan_slots, stored_time};
use yilian_server::service::{self, UserInput};
use yilian_store::bulk::{BulkAppointment, BulkEvent, BulkReferral};
use yilian_store::referrals::{NewReferral, NewSlot};
use yilian_store::registry::{
    self, ConsortiumData, InstitutionData, PractitionerData, RegionData, TeamData,
};
use yilian_store::sql::Sql;
use yilian_store::{CodeList, CountMap, Store, bulk, mpi};
use yilian_synth::{CareRow, CountySpec, InstitutionKind, Program, ReferralRow, ResidentRow};

use crate::CliResult;

/// Residents per write transaction.
const TX_ROWS: usize = 5_000;

/// The clinics of the county general hospital that open slots for the
/// demo's referral desk: a week from tomorrow, 08:00–11:30 in 15-minute
/// slots, one in five reserved for referrals until 24 hours before.
const SLOT_DEPARTMENTS: [&str; 6] = [
    "心血管内科",
    "神经内科",
    "内分泌科",
    "呼吸与危重症医学科",
    "普通外科",
    "骨科",
];
const SLOT_DAYS: i64 = 7;

pub async fn is_empty(store: &Store) -> CliResult<bool> {
    let mut c = store.read().await?;
    Ok(Sql::new("SELECT COUNT(*) FROM regions")
        .scalar_i64(&mut c)
        .await?
        == 0)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style.progress_chars("=> "));
    pb.set_message(what.to_string());
    pb
}

fn to_valid(r: &ResidentRow, today: chrono::NaiveDate) -> Result<ValidResident, String> {
    ResidentInput {
        id_number: r.id_number.clone(),
        name: r.name.clone(),
        phone: r.phone.clone(),
        sex: None,
        birth_date: None,
        region_code: r.region_code.clone(),
        address: Some(r.address.clone()),
        household_code: Some(r.household_code.clone()),
        insurance: Some(r.insurance.as_str().into()),
        tags: Some(r.tags.iter().map(|t| t.as_str().to_string()).collect()),
    }
    .validate(today)
    .map_err(|e| format!("generated resident {} is invalid: {e}", r.key))
}

/// Wall time per stage, printed as one line at the end of a run.
struct Laps {
    last: Instant,
    done: Vec<Lap>,
}

/// One finished stage: its name, seconds, and memory at its end
/// (peak so far and heap now, MB; see [`memory_mb`]).
struct Lap(&'static str, f64, Option<(u64, u64)>);

impl Laps {
    fn new() -> Laps {
        Laps {
            last: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Closes the stage that ran since the previous lap.
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.done.push(Lap(
            stage,
            now.duration_since(self.last).as_secs_f64(),
            memory_mb(),
        ));
        self.last = now;
    }

    fn line(&self) -> String {
        let total: f64 = self.done.iter().map(|l| l.1).sum();
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|Lap(n, s, mb)| match mb {
                Some((peak, heap)) => format!("{n} {s:.1} s (peak {peak} MB, heap {heap} MB)"),
                None => format!("{n} {s:.1} s"),
            })
            .collect();
        format!("stage times: {} (total {total:.1} s)", parts.join(", "))
    }
}

/// Memory at a lap, in MB, on Linux: the peak resident set so far
/// (`VmHWM`; not reset, so `/usr/bin/time`'s peak stays whole) and the
/// anonymous (heap) part now (`RssAnon`). The rest of the resident set is
/// the SQLite file mapped by each pooled connection (`mmap_size`), which
/// counts once per connection that maps a page. `None` where `/proc` does
/// not tell.
fn memory_mb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((kb("VmHWM:")? / 1024, kb("RssAnon:")? / 1024))
}

/// Generates and stores a county; prints throughput.
/// Derived stages `generate --skip` may leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    Claims,
    Surveillance,
}

pub async fn run(
    store: &Store,
    seed: u64,
    residents: usize,
    duplicate_rate: f64,
    skip: &[Stage],
) -> CliResult {
    let today = yilian_server::state::today();
    let mut laps = Laps::new();
    let mut spec = CountySpec::new(seed, residents, today);
    spec.duplicate_rate = duplicate_rate;
    let county = yilian_synth::county(&spec);
    eprintln!(
        "generating {} ({}) with {} residents, seed {seed}",
        county.county_name, county.county_code, residents
    );

    let mut tx = store.write().await?;
    for r in &county.regions {
        let d = RegionData {
            code: r.code.clone(),
            name: r.name.clone(),
            level: r.level.as_str().into(),
            parent_code: r.parent_code.clone(),
            lon: r.lon,
            lat: r.lat,
            population: r.population,
        };
        registry::insert_region(&mut tx, &d).await?;
    }
    let mut inst_ids: HashMap<&str, i64> = HashMap::new();
    for i in &county.institutions {
        let d = InstitutionData {
            code: i.code.clone(),
            name: i.name.clone(),
            kind: i.kind,
            grade: i.grade,
            ownership: i.ownership,
            region_code: i.region_code.clone(),
            address: i.address.clone(),
            lon: Some(i.lon),
            lat: Some(i.lat),
            beds: CountMap(
                i.beds
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect(),
            ),
            staff: CountMap(
                i.staff
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect(),
            ),
            services: CodeList(i.services.iter().map(|s| s.as_str().to_string()).collect()),
        };
        inst_ids.insert(&i.code, registry::insert_institution(&mut tx, &d).await?.id);
    }
    let id_of = |m: &HashMap<&str, i64>, code: &str| {
        m.get(code)
            .copied()
            .ok_or_else(|| format!("unknown code {code}"))
    };
    for c in &county.consortia {
        let lead = id_of(&inst_ids, &c.lead_code)?;
        let d = ConsortiumData {
            code: c.code.clone(),
            name: c.name.clone(),
            kind: c.kind,
            lead_institution_id: lead,
            region_code: c.region_code.clone(),
        };
        let row = registry::insert_consortium(&mut tx, &d).await?;
        for m in c.member_codes.iter().filter(|m| **m != c.lead_code) {
            registry::add_member(&mut tx, row.id, id_of(&inst_ids, m)?).await?;
        }
    }
    let mut prac_ids: HashMap<&str, i64> = HashMap::new();
    let pb = bar(county.practitioners.len() as u64, "staff");
    for p in &county.practitioners {
        let site_ids = p
            .site_codes
            .iter()
            .map(|s| id_of(&inst_ids, s))
            .collect::<Result<Vec<_>, _>>()?;
        let d = PractitionerData {
            code: p.code.clone(),
            name: p.name.clone(),
            sex: p.sex.as_str().into(),
            profession: p.profession,
            specialty: p.specialty.clone(),
            is_gp: p.is_gp,
            is_tcm: p.is_tcm,
            phone: p.phone.clone(),
            site_ids,
        };
        prac_ids.insert(
            &p.code,
            registry::insert_practitioner(&mut tx, &d).await?.row.id,
        );
        pb.inc(1);
    }
    pb.finish_and_clear();
    for t in &county.teams {
        let members = t
            .members
            .iter()
            .map(|(code, role)| id_of(&prac_ids, code).map(|id| (id, *role)))
            .collect::<Result<Vec<_>, _>>()?;
        let d = TeamData {
            code: t.code.clone(),
            name: t.name.clone(),
            institution_id: id_of(&inst_ids, &t.institution_code)?,
            capacity: t.capacity,
            members,
        };
        registry::insert_team(&mut tx, &d).await?;
    }
    tx.commit().await?;
    eprintln!(
        "registries: {} regions, {} institutions, {} consortia, {} practitioners, {} teams",
        county.regions.len(),
        county.institutions.len(),
        county.consortia.len(),
        county.practitioners.len(),
        county.teams.len()
    );
    laps.lap("registries");

    let started = Instant::now();
    // The residents' plain indexes (name, pinyin, phone, region …) are
    // built once after the load instead of maintained row by row.
    let mut tx = store.write().await?;
    let deferred = bulk::drop_plain_indexes(&mut tx, "residents").await?;
    tx.commit().await?;
    let pb = bar(residents as u64, "residents");
    let mut ids: Vec<i64> = Vec::with_capacity(residents);
    let mut truth: Vec<(i64, i64)> = Vec::new();
    let mut batch: Vec<(ResidentRow, CareRow)> = Vec::with_capacity(TX_ROWS);
    let refs = CareRefs::load(store, &county, today).await?;
    let mut care_totals = CareTotals::default();
    let visit_plan = yilian_synth::visits(&spec, &county);
    let mut visits_total = 0usize;
    let mut stream =
        yilian_synth::care(&spec, &county, yilian_synth::residents(&spec, &county)).peekable();
    while stream.peek().is_some() {
        batch.clear();
        batch.extend(stream.by_ref().take(TX_ROWS));
        let valid = batch
            .iter()
            .map(|(r, _)| to_valid(r, today))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = store.write().await?;
        let new_ids = bulk::insert_residents(&mut tx, &valid, None).await?;
        care_totals.add(load_care(&mut tx, &refs, &batch, &new_ids).await?);
        let visits = routine_visits(&visit_plan, &refs, &batch, &new_ids);
        visits_total += visits.len();
        bulk::insert_encounters(&mut tx, &visits).await?;
        tx.commit().await?;
        let first = ids.len();
        ids.extend(new_ids);
        for (i, (r, _)) in batch.iter().enumerate() {
            if let Some(orig) = r.duplicate_of {
                let original = ids
                    .get(orig as usize)
                    .copied()
                    .ok_or("duplicate of an unknown original")?;
                truth.push((ids[first + i], original));
            }
        }
        pb.inc(batch.len() as u64);
    }
    pb.finish_and_clear();
    let mut tx = store.write().await?;
    bulk::create_indexes(&mut tx, &deferred).await?;
    mpi::insert_truth(&mut tx, &truth).await?;
    tx.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "residents: {} in {:.1} s ({:.0} residents/s), {} deliberate duplicates (ground truth kept)",
        ids.len(),
        secs,
        ids.len() as f64 / secs.max(1e-9),
        truth.len()
    );
    let mut tx = store.write().await?;
    let expired = yilian_store::care::expire_ended(&mut tx, &today.to_string()).await?;
    tx.commit().await?;
    eprintln!(
        "care: {} contracts ({} already ended), {} enrolments, {} follow-ups",
        care_totals.contracts, expired, care_totals.enrolments, care_totals.followups
    );
    eprintln!("{}", care_totals.referrals.line());
    eprintln!(
        "visits: {visits_total} routine outpatient and emergency encounters in the shared record"
    );
    laps.lap("residents+care+visits");
    eprintln!("{}", load_geography(store, &spec, &county).await?);
    laps.lap("geography");
    let opened =
        open_demo_slots(store, &county, &refs, today, &care_totals.referrals.booked).await?;
    eprintln!(
        "slots: {opened} opened at the county general hospital for {} to {} (08:00–11:30, 15 min, 20 % reserved for referrals)",
        today + Duration::days(1),
        today + Duration::days(SLOT_DAYS)
    );
    laps.lap("slots");
    let (labs, entries) = derive_records(store, today).await?;
    eprintln!(
        "records: {entries} timeline entries from the year's follow-ups and completed referrals; {labs} labs in good standing"
    );
    // Planner statistics for what was just written: analysed at start-up
    // (empty tables), PostgreSQL planned the recognition lookups below as
    // scans of the whole record (106 ms each instead of 0.3 ms at 100k
    // residents; autovacuum may be off or late).
    laps.lap("records");
    store.analyze().await?;
    laps.lap("analyze");
    let exams = crate::exams::derive(store, seed, today, now_cst()).await?;
    eprintln!("{}", exams.line());
    laps.lap("exams");
    if !skip.contains(&Stage::Claims) {
        let claims = crate::claims::derive(store, seed, today).await?;
        eprintln!("{}", claims.line());
        laps.lap("claims");
    }
    if !skip.contains(&Stage::Surveillance) {
        eprintln!(
            "{}",
            crate::surveil::load(store, &county, seed, today).await?
        );
        laps.lap("surveillance");
    }
    eprintln!("{}", laps.line());
    Ok(())
}

/// The batch's routine outpatient and emergency visits as encounter
/// entries (the generator's visit plan; institutions by code).
fn routine_visits(
    plan: &yilian_synth::VisitPlan<'_>,
    refs: &CareRefs,
    batch: &[(ResidentRow, CareRow)],
    ids: &[i64],
) -> Vec<bulk::BulkEncounter> {
    batch
        .iter()
        .zip(ids)
        .flat_map(|((row, care), id)| {
            plan.visits_of(row, care).into_iter().filter_map(|v| {
                Some(bulk::BulkEncounter {
                    resident_id: *id,
                    institution_id: *refs.institutions.get(&v.institution_code)?,
                    encounter_type: v.encounter_type.as_str(),
                    occurred_at: v.at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    code: v.icd10,
                    title: v.title,
                })
            })
        })
        .collect()
}

/// The county's road network, map boundaries and the statistics other
/// departments report (childcare places, population, deaths and
/// disability by age band) — what the monitoring pages read.
async fn load_geography(
    store: &Store,
    spec: &CountySpec,
    county: &yilian_synth::County,
) -> CliResult<String> {
    use yilian_store::monitoring as m;
    let geo = yilian_synth::geography(spec, county);
    let nodes: Vec<m::RoadNodeRow> = geo
        .nodes
        .iter()
        .map(|n| m::RoadNodeRow {
            id: n.id as i64,
            region_code: n.region_code.clone(),
            lon: n.lon,
            lat: n.lat,
        })
        .collect();
    let edges: Vec<m::RoadEdgeRow> = geo
        .edges
        .iter()
        .map(|e| m::RoadEdgeRow {
            from_node: e.from as i64,
            to_node: e.to as i64,
            km: e.km,
            minutes: e.minutes,
            class: e.class.as_str().to_string(),
        })
        .collect();
    let stats: Vec<m::StatisticRow> = yilian_synth::statistics(spec, county)
        .into_iter()
        .map(|s| m::StatisticRow {
            region_code: s.region_code,
            year: i64::from(s.year),
            key: s.key,
            value: s.value,
        })
        .collect();
    let mut tx = store.write().await?;
    m::put_roads(&mut tx, &nodes, &edges).await?;
    m::put_boundaries(&mut tx, &county.county_code, &geo.boundaries).await?;
    m::put_statistics(&mut tx, &stats).await?;
    tx.commit().await?;
    Ok(format!(
        "geography: {} road nodes, {} road segments, township boundaries (GeoJSON); {} statistics rows",
        nodes.len(),
        edges.len(),
        stats.len()
    ))
}

/// The shared health record of the generated year, derived from what was
/// generated so it cannot contradict it: each chronic follow-up is a
/// follow-up encounter at the resident's village clinic or community station
/// (else their township or community centre); its HbA1c and fasting glucose
/// are lab results of that centre's lab, which passed external quality assessment (so they carry
/// the "HR" mark); each completed referral is an outpatient visit and its
/// diagnosis at the receiving institution, at the appointment's time. The
/// county hospitals and township centres get a year's quality pass.
async fn derive_records(store: &Store, today: NaiveDate) -> CliResult<(u64, u64)> {
    let mut tx = store.write().await?;
    let now = yilian_store::now_text();
    let mut q = Sql::new(
        "INSERT INTO lab_quality (institution_id, passed_on, valid_until, assessor, note, created_at) \
         SELECT id, ",
    );
    q.bind((today - Duration::days(300)).to_string())
        .push(", ")
        .bind((today + Duration::days(65)).to_string())
        .push(", '省临床检验中心', '演示数据', ")
        .bind(now.clone())
        .push(
            " FROM institutions WHERE kind IN ('county_general_hospital', 'county_tcm_hospital', 'maternal_child_hospital', 'township_health_center', 'community_health_center')",
        );
    let labs = q.execute(&mut tx).await?;
    // The resident's own clinic: the village clinic of their village, else their township centre.
    const CLINIC: &str = "COALESCE((SELECT MIN(i.id) FROM institutions i WHERE i.kind IN ('village_clinic', 'community_health_station') AND i.region_code = r.region_code), \
         (SELECT MIN(i.id) FROM institutions i WHERE i.kind IN ('township_health_center', 'community_health_center') AND i.region_code = substr(r.region_code, 1, 9)))";
    const CENTRE: &str = "(SELECT MIN(i.id) FROM institutions i WHERE i.kind IN ('township_health_center', 'community_health_center') AND i.region_code = substr(r.region_code, 1, 9))";
    const COLS: &str = "INSERT INTO record_entries (resident_id, institution_id, kind, encounter_type, occurred_at, code, title, value, unit, \
         reference_range, abnormal, hr_mark, body, source, source_id, created_at) ";
    let statements = [
        format!(
            "{COLS} SELECT x.resident_id, x.inst, 'encounter', 'follow_up', x.date || 'T09:00:00', '', \
             CASE x.program WHEN 'hypertension' THEN '高血压随访' WHEN 'diabetes_t2' THEN '2型糖尿病随访' ELSE '慢阻肺随访' END, \
             '', '', '', 0, 0, x.note, 'generator', x.id, $1 FROM (SELECT f.id, f.resident_id, f.date, f.note, e.program, {CLINIC} AS inst \
             FROM followups f JOIN enrolments e ON e.id = f.enrolment_id JOIN residents r ON r.id = f.resident_id) x WHERE x.inst IS NOT NULL"
        ),
        format!(
            "{COLS} SELECT x.resident_id, x.inst, 'lab', NULL, x.date || 'T08:00:00', 'hba1c', '糖化血红蛋白', CAST(x.hba1c AS TEXT), '%', \
             '4.0-6.0', CASE WHEN x.hba1c > 6.0 THEN 1 ELSE 0 END, 1, '', 'generator', x.id, $1 FROM (SELECT f.id, f.resident_id, f.date, f.hba1c, {CENTRE} AS inst \
             FROM followups f JOIN residents r ON r.id = f.resident_id WHERE f.hba1c IS NOT NULL) x WHERE x.inst IS NOT NULL"
        ),
        format!(
            "{COLS} SELECT x.resident_id, x.inst, 'lab', NULL, x.date || 'T08:00:00', 'fasting_glucose', '空腹血糖', CAST(x.fasting_glucose AS TEXT), 'mmol/L', \
             '3.9-6.1', CASE WHEN x.fasting_glucose > 6.1 THEN 1 ELSE 0 END, 1, '', 'generator', x.id, $1 FROM (SELECT f.id, f.resident_id, f.date, f.fasting_glucose, {CENTRE} AS inst \
             FROM followups f JOIN residents r ON r.id = f.resident_id WHERE f.fasting_glucose IS NOT NULL) x WHERE x.inst IS NOT NULL"
        ),
        format!(
            "{COLS} SELECT f.resident_id, f.to_institution_id, 'encounter', 'outpatient', s.starts_at, '', '转诊就诊：' || f.diagnosis, '', '', '', 0, 0, \
             f.reason, 'referral', f.id, $1 FROM referrals f JOIN appointments a ON a.id = f.appointment_id JOIN slots s ON s.id = a.slot_id WHERE f.state = 'completed'"
        ),
        format!(
            "{COLS} SELECT f.resident_id, f.to_institution_id, 'diagnosis', NULL, s.starts_at, f.icd10, f.diagnosis, '', '', '', 0, 0, \
             '', 'referral', f.id, $1 FROM referrals f JOIN appointments a ON a.id = f.appointment_id JOIN slots s ON s.id = a.slot_id WHERE f.state = 'completed'"
        ),
    ];
    let mut entries = 0;
    for sql in &statements {
        // `$1` is the creation time.
        let (head, tail) = sql.split_once("$1").ok_or("statement without its time")?;
        let mut q = Sql::new(head);
        q.bind(now.clone()).push(tail);
        entries += q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok((labs, entries))
}

/// Opens a week of slots from tomorrow at the county general hospital(s),
/// with the service's own slot plan, leaving out the times a generated
/// referral has already booked.
async fn open_demo_slots(
    store: &Store,
    county: &yilian_synth::County,
    refs: &CareRefs,
    today: NaiveDate,
    booked: &HashSet<(i64, String, String)>,
) -> CliResult<u64> {
    let mut slots: Vec<NewSlot> = Vec::new();
    for i in county
        .institutions
        .iter()
        .filter(|i| i.kind == InstitutionKind::CountyGeneralHospital)
    {
        let Some(&id) = refs.institutions.get(&i.code) else {
            continue;
        };
        for day in 1..=SLOT_DAYS {
            for dept in SLOT_DEPARTMENTS {
                let plan = SlotPlan {
                    starts_at: format!("{}T08:00", today + Duration::days(day)),
                    minutes: 15,
                    count: 14,
                    department: Some(dept.into()),
                    reserved_bp: 2000,
                    release_hours: Some(24),
                };
                let planned = plan_slots(id, &plan).map_err(|e| e.body.message_en)?;
                slots.extend(planned.into_iter().filter(|s| {
                    !booked.contains(&(s.institution_id, s.department.clone(), s.starts_at.clone()))
                }));
            }
        }
    }
    let mut tx = store.write().await?;
    let n = yilian_store::referrals::insert_slots(&mut tx, &slots).await?;
    tx.commit().await?;
    Ok(n)
}

type CareResult = CliResult<CareTotals>;

/// A risk history as (date, risk) steps.
type RiskSteps = Vec<(String, String)>;

/// Ids the care rows refer to by code, and the packages in force.
struct CareRefs {
    teams: HashMap<String, i64>,
    practitioners: HashMap<String, i64>,
    institutions: HashMap<String, i64>,
    fees: HashMap<String, (u32, i64)>,
    /// The referral catalogue the server applies (for the rule findings).
    catalog: yilian_domain::icd10::ReferralCatalog,
    /// The generation date (China Standard Time).
    today: NaiveDate,
}

impl CareRefs {
    async fn load(
        store: &Store,
        county: &yilian_synth::County,
        today: chrono::NaiveDate,
    ) -> CliResult<CareRefs> {
        yilian_server::prepare(store).await?;
        let mut c = store.read().await?;
        let mut refs = CareRefs {
            teams: HashMap::new(),
            practitioners: HashMap::new(),
            institutions: HashMap::new(),
            fees: HashMap::new(),
            catalog: yilian_server::referral::load_catalog(),
            today,
        };
        for t in &county.teams {
            let page = registry::list_teams(
                &mut c,
                &registry::TeamFilter {
                    q: Some(t.name.clone()),
                    ..Default::default()
                },
                yilian_store::Paging::new(Some(500), None),
            )
            .await?;
            if let Some(row) = page.items.into_iter().find(|r| r.code == t.code) {
                refs.teams.insert(t.code.clone(), row.id);
            }
        }
        for p in &county.practitioners {
            if let Some(row) = registry::get_practitioner_by_code(&mut c, &p.code).await? {
                refs.practitioners.insert(p.code.clone(), row.id);
            }
        }
        for i in &county.institutions {
            if let Some(row) = registry::get_institution_by_code(&mut c, &i.code).await? {
                refs.institutions.insert(i.code.clone(), row.id);
            }
        }
        for p in yilian_store::care::packages_in_force(&mut c, &today.to_string()).await? {
            refs.fees
                .insert(p.code.clone(), (p.version, p.yearly_fee_fen));
        }
        Ok(refs)
    }
}

#[derive(Debug, Default)]
struct CareTotals {
    contracts: usize,
    enrolments: usize,
    followups: usize,
    referrals: ReferralTotals,
}

impl CareTotals {
    fn add(&mut self, o: CareTotals) {
        self.contracts += o.contracts;
        self.enrolments += o.enrolments;
        self.followups += o.followups;
        self.referrals.add(o.referrals);
    }
}

/// What the referral line reports.
#[derive(Debug, Default)]
struct ReferralTotals {
    by_direction: HashMap<Direction, usize>,
    by_state: HashMap<ReferralState, usize>,
    redirected: usize,
    overdue: usize,
    appointments: usize,
    /// Minutes from submission to the answer, by urgency (up-referrals).
    response: HashMap<Urgency, Vec<f64>>,
    /// Slots booked from tomorrow on: (institution, department, start).
    booked: HashSet<(i64, String, String)>,
}

impl ReferralTotals {
    fn count(&mut self, r: &ReferralRow, now: &str) {
        *self.by_direction.entry(r.direction).or_default() += 1;
        *self.by_state.entry(r.state).or_default() += 1;
        self.redirected += usize::from(r.redirected_from.is_some());
        self.appointments += usize::from(r.appointment.is_some());
        self.overdue += usize::from(
            r.state == ReferralState::Submitted && stored_time(r.deadline_at).as_str() < now,
        );
        if let Some(a) = r.response().filter(|_| r.direction == Direction::Up) {
            self.response
                .entry(r.urgency)
                .or_default()
                .push((a.at - r.submitted_at).num_seconds() as f64 / 60.0);
        }
    }

    fn add(&mut self, o: ReferralTotals) {
        for (k, v) in o.by_direction {
            *self.by_direction.entry(k).or_default() += v;
        }
        for (k, v) in o.by_state {
            *self.by_state.entry(k).or_default() += v;
        }
        self.redirected += o.redirected;
        self.overdue += o.overdue;
        self.appointments += o.appointments;
        for (k, v) in o.response {
            self.response.entry(k).or_default().extend(v);
        }
        self.booked.extend(o.booked);
    }

    fn line(&self) -> String {
        let d = |k| self.by_direction.get(&k).copied().unwrap_or(0);
        let s = |k| self.by_state.get(&k).copied().unwrap_or(0);
        let open: usize = self
            .by_state
            .iter()
            .filter(|(k, _)| k.is_open())
            .map(|(_, v)| v)
            .sum();
        let median = |u| {
            let mut v = self.response.get(&u).cloned().unwrap_or_default();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        format!(
            "referrals: {} up, {} down, {} lateral; {} completed, {} declined ({} redirected), {} cancelled, {} expired, {} open ({} overdue); {} appointments; median response: emergency {:.0} min, urgent {:.0} min, routine {:.1} h",
            d(Direction::Up),
            d(Direction::Down),
            d(Direction::Lateral),
            s(ReferralState::Completed),
            s(ReferralState::Declined),
            self.redirected,
            s(ReferralState::Cancelled),
            s(ReferralState::Expired),
            open,
            self.overdue,
            self.appointments,
            median(Urgency::Emergency),
            median(Urgency::Urgent),
            median(Urgency::Routine) / 60.0,
        )
    }
}

/// A China Standard Time as an RFC 3339 UTC text (the trail's format).
fn utc(t: NaiveDateTime) -> String {
    yilian_store::utc_text(t - Duration::hours(8))
}

/// The store rows of one resident's generated referrals, with the rule
/// findings the service would record at submission. `redirected_from` and
/// the rows' indexes are shifted to `rows`.
fn bulk_referrals(
    refs: &CareRefs,
    resident_id: i64,
    referrals: &[ReferralRow],
    totals: &mut ReferralTotals,
    (now, tomorrow): (&str, &str),
    rows: &mut Vec<BulkReferral>,
) {
    let mut placed: Vec<Option<usize>> = Vec::with_capacity(referrals.len());
    for r in referrals {
        let (Some(&from), Some(&to)) = (
            refs.institutions.get(&r.from_code),
            refs.institutions.get(&r.to_code),
        ) else {
            placed.push(None);
            continue;
        };
        let findings = check_referral(&r.facts(&refs.catalog));
        let events = r
            .events
            .iter()
            .enumerate()
            .map(|(k, e)| BulkEvent {
                at: utc(e.at),
                // The service records a referral created and submitted in
                // one step as `create` (draft → submitted).
                event: if k == 0 { "create" } else { e.event.as_str() }.into(),
                from_state: e.from.as_str().into(),
                to_state: e.to.as_str().into(),
                role: e.role.map_or("system", |r| r.as_str()).into(),
                note: e.note.clone(),
            })
            .collect::<Vec<_>>();
        let appointment = r.appointment.as_ref().map(|a| BulkAppointment {
            slot: NewSlot {
                institution_id: to,
                department: r.to_department.clone(),
                starts_at: stored_time(a.starts_at),
                ends_at: stored_time(a.ends_at),
                reserved_for_referral: a.reserved_for_referral,
                release_hours: 24,
            },
            status: a.status.as_str().into(),
            created_at: utc(a.booked_at),
            updated_at: utc(a.updated_at),
        });
        if let Some(a) = &appointment
            && a.slot.starts_at.as_str() >= tomorrow
        {
            totals.booked.insert((
                a.slot.institution_id,
                a.slot.department.clone(),
                a.slot.starts_at.clone(),
            ));
        }
        totals.count(r, now);
        placed.push(Some(rows.len()));
        rows.push(BulkReferral {
            referral: NewReferral {
                resident_id,
                direction: r.direction.as_str().into(),
                urgency: r.urgency.as_str().into(),
                green_channel: r.green_channel.map(|g| g.as_str().into()),
                from_institution_id: from,
                to_institution_id: to,
                to_department: r.to_department.clone(),
                icd10: r.icd10.as_str().into(),
                diagnosis: r.diagnosis.clone(),
                reason: r.reason.clone(),
                justification: r.justification.clone(),
                summary: r.summary.clone(),
                results: r.results.clone(),
                follow_up_plan: r.follow_up_plan.clone(),
                team_id: r
                    .team_code
                    .as_ref()
                    .and_then(|t| refs.teams.get(t).copied()),
                contracted: r.contracted,
                priority: i64::from(r.priority),
                state: r.state.as_str().into(),
                findings: serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into()),
                submitted_at: Some(stored_time(r.submitted_at)),
                deadline_at: Some(stored_time(r.deadline_at)),
                redirected_from: None,
                created_by: None,
            },
            decline_reason: r.decline_reason.clone(),
            created_at: events.first().map(|e| e.at.clone()).unwrap_or_default(),
            updated_at: events.last().map(|e| e.at.clone()).unwrap_or_default(),
            redirected_from_row: r
                .redirected_from
                .and_then(|i| placed.get(i).copied().flatten()),
            events,
            appointment,
        });
    }
}

/// Writes the contracts, enrolments, follow-ups, risk history, delivered
/// services and referrals (with their trails, slots and appointments) of one
/// batch. Risk, control and schedule are computed with the same rules the
/// API applies to a recorded follow-up; referral findings with the rules and
/// catalogue the service applies at submission.
async fn load_care(
    tx: &mut yilian_store::Conn,
    refs: &CareRefs,
    batch: &[(ResidentRow, CareRow)],
    ids: &[i64],
) -> CareResult {
    use yilian_server::care::{Factors, Measures, assess};
    use yilian_store::care::{NewContract, NewEnrolment, NewFollowUp};
    let mut contracts = Vec::new();
    let mut contract_of: HashMap<i64, usize> = HashMap::new();
    for ((r, care), id) in batch.iter().zip(ids) {
        let Some(k) = &care.contract else { continue };
        let (Some(team), Some(doctor)) = (
            refs.teams.get(&k.team_code),
            refs.practitioners.get(&k.doctor_code),
        ) else {
            continue;
        };
        let packages: Vec<(String, u32)> = k
            .packages
            .iter()
            .filter_map(|p| refs.fees.get(p).map(|(v, _)| (p.clone(), *v)))
            .collect();
        let fee = k
            .packages
            .iter()
            .filter_map(|p| refs.fees.get(p).map(|(_, f)| *f))
            .sum();
        contract_of.insert(*id, contracts.len());
        contracts.push(NewContract {
            resident_id: *id,
            team_id: *team,
            doctor_id: *doctor,
            household_code: Some(r.household_code.clone()),
            start_date: k.start.to_string(),
            end_date: yilian_domain::contract::default_end(k.start).to_string(),
            secondary_hospital_id: k
                .secondary_hospital_code
                .as_ref()
                .and_then(|c| refs.institutions.get(c).copied()),
            tertiary_hospital_id: k
                .tertiary_hospital_code
                .as_ref()
                .and_then(|c| refs.institutions.get(c).copied()),
            fee_fen: fee,
            previous_id: None,
            signed_by: None,
            packages,
        });
    }
    let contract_ids = bulk::insert_contracts(tx, &contracts).await?;
    let mut deliveries: Vec<(i64, &'static str, String)> = contracts
        .iter()
        .zip(&contract_ids)
        .map(|(c, id)| (*id, "assessment", c.start_date.clone()))
        .collect();

    let mut enrolments = Vec::new();
    let mut lasts = Vec::new();
    // Per enrolment: its follow-ups and its risk history (date, risk).
    let mut followups_of: Vec<(Vec<NewFollowUp>, RiskSteps)> = Vec::new();
    for ((r, care), id) in batch.iter().zip(ids) {
        let diabetic = r.tags.iter().any(|t| t.as_str() == "diabetes_t2");
        for e in &care.enrolments {
            let f = Factors {
                risk_factors: e.factors.risk_factors,
                organ_damage: e.factors.organ_damage,
                clinical_complications: e.factors.clinical_complications,
                complications: e.factors.complications,
                exacerbations: e.factors.exacerbations,
                mmrc: e.factors.mmrc,
                ..Factors::default()
            };
            let mut risk = assess(e.program, &f, &Measures::default(), diabetic);
            let mut history = vec![(e.enrolled_on.to_string(), risk.as_str().to_string())];
            let mut rows = Vec::new();
            let mut last_review = None;
            for fu in &e.followups {
                let m = Measures {
                    sbp: fu.sbp,
                    dbp: fu.dbp,
                    fasting_glucose: fu.fasting_glucose,
                    hba1c: fu.hba1c,
                    weight_kg: fu.weight_kg,
                    heart_rate: None,
                };
                let after = assess(e.program, &f, &m, diabetic);
                if after != risk {
                    history.push((fu.date.to_string(), after.as_str().to_string()));
                }
                risk = after;
                let age = yilian_domain::resident::age_on(r.birth_date, fu.date);
                let controlled = match e.program {
                    Program::Hypertension => fu.sbp.zip(fu.dbp).map(|(s, d)| {
                        yilian_domain::chronic::bp_controlled(s, d, age, diabetic, false)
                    }),
                    Program::Diabetes => {
                        yilian_domain::chronic::glucose_controlled(fu.hba1c, fu.fasting_glucose)
                    }
                    Program::Copd => None,
                };
                if fu.specialist_review {
                    last_review = Some(fu.date.to_string());
                }
                rows.push(NewFollowUp {
                    enrolment_id: 0,
                    resident_id: *id,
                    date: fu.date.to_string(),
                    specialist_review: fu.specialist_review,
                    sbp: fu.sbp.map(i64::from),
                    dbp: fu.dbp.map(i64::from),
                    heart_rate: None,
                    fasting_glucose: fu.fasting_glucose,
                    hba1c: fu.hba1c,
                    weight_kg: fu.weight_kg,
                    smoking: fu.smoking,
                    adherence: fu.adherence.as_str().into(),
                    controlled,
                    risk_after: risk.as_str().into(),
                    note: String::new(),
                    practitioner_id: None,
                    institution_id: None,
                    recorded_by: None,
                });
                // A follow-up within the contract's period is a delivered service.
                if let Some(ci) = contract_of.get(id)
                    && fu.date.to_string() >= contracts[*ci].start_date
                {
                    deliveries.push((contract_ids[*ci], "follow_up", fu.date.to_string()));
                }
            }
            let last = e.followups.last().map(|f| f.date).unwrap_or(e.enrolled_on);
            enrolments.push(NewEnrolment {
                resident_id: *id,
                program: e.program.as_str().into(),
                source: "diagnosis".into(),
                enrolled_on: e.enrolled_on.to_string(),
                factors: serde_json::to_string(&f).unwrap_or_else(|_| "{}".into()),
                risk: risk.as_str().into(),
                next_due: yilian_domain::chronic::next_due(last, risk).to_string(),
                assessment_on: Some(e.enrolled_on.to_string()),
                plan: Some("按指南规范管理：生活方式干预，规律服药，定期随访".into()),
            });
            lasts.push((e.followups.last().map(|f| f.date.to_string()), last_review));
            followups_of.push((rows, history));
        }
    }
    let enrolment_ids = bulk::insert_enrolments(tx, &enrolments, &lasts).await?;
    let mut all_followups = Vec::new();
    let mut history = Vec::new();
    for ((rows, hist), eid) in followups_of.into_iter().zip(&enrolment_ids) {
        for mut f in rows {
            f.enrolment_id = *eid;
            all_followups.push(f);
        }
        for (i, (at, risk)) in hist.into_iter().enumerate() {
            history.push((
                *eid,
                at,
                risk,
                if i == 0 { "enrolment" } else { "follow_up" },
            ));
        }
    }
    bulk::insert_followups(tx, &all_followups).await?;
    bulk::insert_risk_history(tx, &history).await?;
    bulk::insert_deliveries(tx, &deliveries).await?;

    let mut referrals = ReferralTotals::default();
    let mut rows = Vec::new();
    let now = stored_time(now_cst());
    let tomorrow = format!("{}T00:00:00", refs.today + Duration::days(1));
    for ((_, care), id) in batch.iter().zip(ids) {
        if !care.referrals.is_empty() {
            bulk_referrals(
                refs,
                *id,
                &care.referrals,
                &mut referrals,
                (&now, &tomorrow),
                &mut rows,
            );
        }
    }
    bulk::insert_referrals(tx, &rows).await?;
    Ok(CareTotals {
        contracts: contracts.len(),
        enrolments: enrolments.len(),
        followups: all_followups.len(),
        referrals,
    })
}

/// The demo logins: (username, role, how to find the scope).
const DEMO_ROLES: [(&str, &str); 9] = [
    ("admin", "admin"),
    ("weijianwei", "health_commission"),
    ("yibao", "insurer"),
    ("jikong", "cdc"),
    ("zhuanzhen", "referral_desk"),
    ("zhuanke", "specialist"),
    ("jiceng", "primary_clinician"),
    ("cunyi", "village_doctor"),
    ("jumin", "resident"),
];

/// Creates one login per role, scoped to the demo county's first township.
pub async fn demo_users(store: &Store, password: &str) -> CliResult {
    let mut c = store.read().await?;
    let county: String = sqlx_text(
        &mut c,
        "SELECT code FROM regions WHERE level = 'county' ORDER BY code LIMIT 1",
    )
    .await?;
    let hospital = sqlx_text(
        &mut c,
        "SELECT code FROM institutions WHERE kind = 'county_general_hospital' ORDER BY id LIMIT 1",
    )
    .await?;
    let township_center = sqlx_text(
        &mut c,
        "SELECT code FROM institutions WHERE kind = 'township_health_center' ORDER BY id LIMIT 1",
    )
    .await?;
    let town_region = sqlx_text(&mut c, "SELECT region_code FROM institutions WHERE kind = 'township_health_center' ORDER BY id LIMIT 1").await?;
    let mut q =
        Sql::new("SELECT code FROM institutions WHERE kind = 'village_clinic' AND region_code >= ");
    q.bind(town_region.clone())
        .push(" AND region_code < ")
        .bind(yilian_store::prefix_end(&town_region))
        .push(" ORDER BY id LIMIT 1");
    let clinic: String = q.fetch_one::<(String,)>(&mut c).await?.0;
    let mut q = Sql::new(
        "SELECT id_number FROM residents WHERE merged_into IS NULL AND region_code = (SELECT region_code FROM institutions WHERE code = ",
    );
    q.bind(clinic.clone()).push(") ORDER BY id LIMIT 1");
    let resident: String = q.fetch_one::<(String,)>(&mut c).await?.0;
    drop(c);
    for (username, role) in DEMO_ROLES {
        let scope = match role {
            "admin" => None,
            "health_commission" | "insurer" | "cdc" => Some(county.clone()),
            "referral_desk" | "specialist" => Some(hospital.clone()),
            "primary_clinician" => Some(township_center.clone()),
            "village_doctor" => Some(clinic.clone()),
            _ => Some(resident.clone()),
        };
        let input = UserInput {
            username: username.into(),
            password: password.into(),
            role: role.into(),
            scope,
        };
        service::create_user(store, &input)
            .await
            .map_err(|e| e.body.message_en)?;
    }
    Ok(())
}

async fn sqlx_text(c: &mut yilian_store::Conn, sql: &str) -> CliResult<String> {
    Ok(Sql::new(sql).fetch_one::<(String,)>(c).await?.0)
}

/// Prints the demo logins that exist in the store.
pub async fn print_logins(store: &Store, password: &str) -> CliResult {
    let mut c = store.read().await?;
    let users = yilian_store::users::list(&mut c).await?;
    eprintln!("\ndemo logins (password: {password}):");
    for (username, _) in DEMO_ROLES {
        if let Some(u) = users.iter().find(|u| u.username == username) {
            eprintln!(
                "  {:<12} {:<18} {}",
                u.username,
                u.role,
                u.scope_code.as_deref().map(mask_scope).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn mask_scope(s: &str) -> String {
    if s.len() == 18 {
        yilian_domain::mask::mask_id_number(s)
    } else {
        s.to_string()
    }
}

/// Runs duplicate detection over every resident (as the console operator),
/// stores the candidates and, with the generator's ground truth, reports
/// matching quality.
pub async fn scan_and_evaluate(store: &Store) -> CliResult {
    let r = service::scan_duplicates(store, &service::console_principal())
        .await
        .map_err(|e| e.body.message_en)?;
    eprintln!(
        "records {}, comparisons {}, candidates {} ({} new), {:.2} s ({:.0} comparisons/s on one core)",
        r.records,
        r.comparisons,
        r.candidates,
        r.new_candidates,
        r.seconds,
        r.comparisons as f64 / r.seconds.max(1e-9)
    );
    let truth: Vec<(i64, i64)> = {
        let mut c = store.read().await?;
        mpi::truth(&mut c)
            .await?
            .into_iter()
            .map(|t| (t.original_id, t.resident_id))
            .collect()
    };
    if !truth.is_empty() {
        let q = linkage::evaluate(&r.pairs, &truth);
        eprintln!(
            "against ground truth: precision {:.4}, recall {:.4} (tp {}, fp {}, fn {})",
            q.precision, q.recall, q.true_positives, q.false_positives, q.false_negatives
        );
    }
    Ok(())
}
