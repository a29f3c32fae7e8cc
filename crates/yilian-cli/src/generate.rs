//! Loads the synthetic county into a store: registries, residents streamed in
//! batches (one transaction each), the duplicates' ground truth, demo logins.

use std::collections::HashMap;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use yilian_analytics::linkage;
use yilian_domain::resident::{ResidentInput, ValidResident};
use yilian_server::service::{self, UserInput};
use yilian_store::registry::{
    self, ConsortiumData, InstitutionData, PractitionerData, RegionData, TeamData,
};
use yilian_store::sql::Sql;
use yilian_store::{CodeList, CountMap, Store, bulk, mpi};
use yilian_synth::{CareRow, CountySpec, Program, ResidentRow};

use crate::CliResult;

/// Residents per write transaction.
const TX_ROWS: usize = 5_000;

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

/// Generates and stores a county; prints throughput.
pub async fn run(store: &Store, seed: u64, residents: usize, duplicate_rate: f64) -> CliResult {
    let today = yilian_server::state::today();
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

    let started = Instant::now();
    let pb = bar(residents as u64, "residents");
    let mut ids: Vec<i64> = Vec::with_capacity(residents);
    let mut truth: Vec<(i64, i64)> = Vec::new();
    let mut batch: Vec<(ResidentRow, CareRow)> = Vec::with_capacity(TX_ROWS);
    let refs = CareRefs::load(store, &county, today).await?;
    let mut care_totals = CareTotals::default();
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
    let secs = started.elapsed().as_secs_f64();
    let mut tx = store.write().await?;
    mpi::insert_truth(&mut tx, &truth).await?;
    tx.commit().await?;
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
    Ok(())
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
}

impl CareTotals {
    fn add(&mut self, o: CareTotals) {
        self.contracts += o.contracts;
        self.enrolments += o.enrolments;
        self.followups += o.followups;
    }
}

/// Writes the contracts, enrolments, follow-ups, risk history and delivered
/// services of one batch. Risk, control and schedule are computed with the
/// same rules the API applies to a recorded follow-up.
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
    Ok(CareTotals {
        contracts: contracts.len(),
        enrolments: enrolments.len(),
        followups: all_followups.len(),
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
