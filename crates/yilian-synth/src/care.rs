//! Family doctor contracting (家庭医生签约) and chronic disease management
//! (慢病医防融合) for the generated residents: one [`CareRow`] per resident
//! row, decided from that row and the county alone.
//!
//! Every draw comes from a ChaCha8 stream seeded by a hash of the spec's seed
//! and the row's key, plus a few household-level draws hashed from the seed
//! and the household code, so a row's care never depends on its position in
//! the stream. The village → team and doctor table is built once per call.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use yilian_domain::chronic::{
    DiabetesFactors, HypertensionFactors, Program, Risk, copd_risk, diabetes_risk,
    hypertension_risk,
};
use yilian_domain::contract::CapPolicy;
use yilian_domain::resident::{age_on, key_populations};

use crate::rng::{Stage, chance, mix64, unit};
use crate::{
    County, CountySpec, InstitutionKind, KeyPopulation, PractitionerRow, ResidentRow, Sex,
    TeamRole, TeamRow,
};

/// The service package codes of generated contracts. Every contract has
/// `basic` (基础包); the others follow the resident's key populations:
/// `hypertension` and `diabetes` (the tags), `elderly` (65 and over),
/// `maternal` (pregnant), `child` (0–6 years) and `severe_mental`.
pub const PACKAGE_CODES: [&str; 7] = [
    "basic",
    "hypertension",
    "diabetes",
    "elderly",
    "maternal",
    "child",
    "severe_mental",
];

/// Per-resident care data, decided from the resident row alone (plus the
/// county), deterministic in (`spec.seed`, `row.key`) — and, for the
/// household-level choices, the row's household code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CareRow {
    pub resident_key: u64,
    /// The family doctor contract in force, if the resident signed one.
    pub contract: Option<ContractRow>,
    /// Chronic programs the resident is managed in, each with a year of follow-ups.
    pub enrolments: Vec<EnrolmentRow>,
    /// The referrals of the 365 days up to `spec.today`, in the order they
    /// were made (see [`crate::ReferralRow`] for the rates).
    pub referrals: Vec<crate::ReferralRow>,
}

/// A family doctor contract (签约), one year from `start`.
///
/// Coverage (share of residents with a contract) is about 30 % of the
/// general population and 60–80 % of key populations: 65 and over 70 %,
/// hypertension and type 2 diabetes 75 %, severe mental disorder 80 %,
/// registered poverty 80 %, disability 70 %, pregnant women, children 0–6
/// and tuberculosis 65 % (the highest applies). Households tend to sign
/// together: 85 % of residents follow a draw shared by their household
/// (so a household signs together, with the same team, doctor and — mostly —
/// date), the rest decide alone; either way each resident's own chance is
/// exactly the rate above. Residents of a township without a family doctor
/// team have no contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractRow {
    /// A team of the resident's township: the one the village's own doctors
    /// belong to, else any team of the township's health centre (by spare
    /// capacity). Where the own team's expected load would pass 90 % of its
    /// capacity, the excess households sign with the township's other teams.
    pub team_code: String,
    /// The responsible doctor: the village's own doctor (村医, or a physician
    /// of the community health station) when that doctor is in the team (up
    /// to half of such households, less where the doctors' caps of
    /// [`yilian_domain::contract::CapPolicy`] need it), otherwise one of the
    /// team's health-centre physicians (its Lead or a Gp member).
    pub doctor_code: String,
    /// Package codes of [`PACKAGE_CODES`], in that order, always starting
    /// with `basic`; chosen from the resident's key populations on `spec.today`.
    pub packages: Vec<String>,
    /// Within the 365 days up to `spec.today` (never before the birth date).
    pub start: NaiveDate,
    /// "1+1+1" 组合签约: the county general hospital (85 % of contracts).
    pub secondary_hospital_code: Option<String>,
    /// The tertiary hospital (70 % of contracts, always together with the
    /// county hospital).
    pub tertiary_hospital_code: Option<String>,
}

/// An enrolment in a chronic program (慢病管理).
///
/// Hypertension for 90 % of residents tagged `hypertension`, type 2 diabetes
/// for 90 % of those tagged `diabetes_t2` (the rest are known but
/// unmanaged); COPD for about 1.5 % of residents aged 40 and over (smokers
/// three times as often). 85 % were enrolled before the year (1–10 years
/// ago, never before age 18 — 40 for COPD), the rest during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolmentRow {
    pub program: Program,
    pub enrolled_on: NaiveDate,
    pub factors: EnrolmentFactors,
    /// The follow-ups of the 365 days up to `spec.today` (from
    /// `enrolled_on`, for enrolments of the year), in date order.
    pub followups: Vec<FollowUpRow>,
}

/// The risk-stratification factors of an enrolment; the fields of other
/// programs are zero or false.
///
/// - Hypertension: `risk_factors` counts age (men ≥ 55, women ≥ 65), smoking
///   and 0–3 others (dyslipidaemia, obesity, family history…);
///   `organ_damage` ≈ 10 % (15 % at 65+), `clinical_complications` ≈ 6 %
///   (14 % at 70+). The diabetes factor of
///   [`yilian_domain::chronic::hypertension_risk`] is the resident's
///   `diabetes_t2` tag.
/// - Diabetes: `complications` 0 (62 %), 1 (24 %), 2 (10 %), 3 (4 %).
/// - COPD: `exacerbations` in the last year 0–3 (45 % at least one), `mmrc`
///   0–4; hospitalisation is not modelled separately (`copd_risk(…, false, …)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentFactors {
    pub risk_factors: u8,
    pub organ_damage: bool,
    pub clinical_complications: bool,
    pub complications: u8,
    pub exacerbations: u8,
    pub mmrc: u8,
}

/// One follow-up visit (随访).
///
/// Scheduling follows the risk colour: after each visit the risk is computed
/// from its values and the enrolment's factors
/// ([`yilian_domain::chronic::hypertension_risk`], `diabetes_risk` with the
/// latest HbA1c, `copd_risk`) and the next visit falls
/// [`Risk::follow_up_days`] later — ±10 days for the 70 % of patients who
/// keep their schedule, 10–60 days late for 20 %, and 10 % drop out after
/// 1–3 visits.
///
/// Values (always within [`yilian_domain::chronic::RANGES`]):
/// - blood pressure at hypertension and diabetes visits: 60 % of
///   hypertensive patients are controlled (readings around 128–138/78–88, one
///   in eight above 140/90), the others read 140–175/90–105 (one in seven
///   below target); about 2 % of readings are crises (≥ 180/110);
///   non-hypertensive diabetics read 112–138/68–88;
/// - fasting glucose at diabetes visits: half the patients controlled
///   (4.4–6.9 mmol/L), the others 7–12 with 7 % of readings ≥ 13.9, and 1 %
///   hypoglycaemia (< 3.9); HbA1c (6–10 %) about twice a year;
/// - weight at 85 % of visits (all COPD visits); smoking as the person's
///   habit (one smoker in ten quits during the year).
///
/// High-risk (red) patients: 80 % of those with a red visit have one
/// `specialist_review` (专科医生面对面指导) among their red visits of the year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpRow {
    pub date: NaiveDate,
    pub sbp: Option<u16>,
    pub dbp: Option<u16>,
    pub fasting_glucose: Option<f64>,
    pub hba1c: Option<f64>,
    pub weight_kg: Option<f64>,
    pub smoking: bool,
    /// Medication adherence at the visit.
    pub adherence: Adherence,
    pub specialist_review: bool,
}

/// 服药依从性 — medication adherence. Patients are mostly regular (65 %),
/// intermittent (25 %) or not taking their medication (10 %), with some
/// variation from visit to visit; regular patients are far more often
/// controlled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adherence {
    Regular,
    Intermittent,
    None,
}

impl Adherence {
    /// `regular`, `intermittent` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Adherence::Regular => "regular",
            Adherence::Intermittent => "intermittent",
            Adherence::None => "none",
        }
    }
}

/// A team as contracts need it.
#[derive(Debug, Clone)]
struct TeamInfo<'a> {
    code: &'a str,
    /// The Lead and Gp members whose main site is the team's health centre
    /// (all Lead and Gp members if none).
    physicians: Vec<&'a str>,
}

/// Where a village's residents sign.
#[derive(Debug, Clone)]
struct VillagePlan<'a> {
    /// Indexes into [`Plan::teams`] with cumulative weights (the last is 1).
    choices: Vec<(f64, usize)>,
    /// The team the village's own doctors belong to.
    own: Option<usize>,
    /// Members of `own` whose main site is the village's clinic or station
    /// (村医, or the station's physicians), nurses excluded.
    village_doctors: Vec<&'a str>,
    /// Share of the own team's contracts whose responsible doctor is one of
    /// `village_doctors`.
    village_doctor_share: f64,
}

/// The expected share of residents with a contract (measured ≈ 0.48), for
/// planning team and doctor loads.
const EXPECTED_RATE: f64 = 0.5;
/// Loads are planned to stay below this share of a team's capacity or a
/// doctor's cap.
const HEADROOM: f64 = 0.9;

/// Precomputed tables and seeds for [`crate::care`].
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    today: NaiveDate,
    window: NaiveDate,
    seed: u64,
    teams: Vec<TeamInfo<'a>>,
    /// Village code → where its residents sign.
    villages: HashMap<&'a str, VillagePlan<'a>>,
    secondary: Option<&'a str>,
    tertiary: Option<&'a str>,
}

/// FNV-1a of a string.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// Triangular noise in (−half, half), mean 0.
fn noise<R: Rng>(rng: &mut R, half: f64) -> f64 {
    (rng.random::<f64>() + rng.random::<f64>() - 1.0) * half
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// An index drawn from small integer weights.
fn weighted<R: Rng>(rng: &mut R, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// The date `n` years after `d` (29 February becomes 28 February).
fn years_after(d: NaiveDate, n: i32) -> NaiveDate {
    let y = d.year() + n;
    d.with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))
        .unwrap_or(d)
}

/// A uniformly random date in `lo..=hi` (`lo` if the range is empty).
fn date_in<R: Rng>(rng: &mut R, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    let span = (hi - lo).num_days();
    if span <= 0 {
        lo
    } else {
        lo + Duration::days(rng.random_range(0..=span))
    }
}

/// How a patient keeps the follow-up schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keeping {
    /// ±10 days (70 %).
    OnTime,
    /// 10–60 days late (20 %).
    Late,
    /// Stops after this many visits (10 %).
    DropsOut(usize),
}

/// The person-level facts every enrolment of a resident shares.
#[derive(Debug, Clone, Copy)]
struct Person {
    sex: Sex,
    age: i32,
    hypertensive: bool,
    diabetic: bool,
    smoker: bool,
    /// A smoker who quits during the year stops on this date.
    quits_on: Option<NaiveDate>,
    weight: f64,
    /// Blood pressure of a controlled (or normotensive) person, and of an
    /// uncontrolled one.
    bp_controlled: bool,
    bp_ok: (f64, f64),
    bp_high: (f64, f64),
}

/// One enrolment's patient-level state.
#[derive(Debug, Clone, Copy)]
struct Course {
    program: Program,
    factors: EnrolmentFactors,
    keeping: Keeping,
    adherence: Adherence,
    /// Glycaemic control (diabetes).
    glucose_controlled: bool,
    fpg_base: f64,
    a1c_base: f64,
}

impl<'a> Plan<'a> {
    /// Builds the village → team table. A village's households sign with
    /// the team its own doctors belong to, and up to half of them with those
    /// doctors; the rest have one of the team's health-centre physicians.
    /// Where that would pass 90 % of the team's capacity or of its doctors'
    /// caps ([`CapPolicy::default`]) at the expected contract rate, the
    /// excess households go to the township's other teams in proportion to
    /// their spare capacity.
    pub(crate) fn new(spec: &'a CountySpec, county: &'a County) -> Self {
        let caps = CapPolicy::default();
        let region_of: HashMap<&str, &str> = county
            .institutions
            .iter()
            .map(|i| (i.code.as_str(), i.region_code.as_str()))
            .collect();
        let practitioner: HashMap<&str, &PractitionerRow> = county
            .practitioners
            .iter()
            .map(|p| (p.code.as_str(), p))
            .collect();
        let main_site = |code: &str| {
            practitioner
                .get(code)
                .and_then(|p| p.site_codes.first())
                .map(String::as_str)
        };
        let cap_of = |codes: &[&str]| -> f64 {
            codes
                .iter()
                .filter_map(|c| practitioner.get(c))
                .map(|p| HEADROOM * f64::from(caps.cap(p.profession)))
                .sum()
        };
        let mut teams = Vec::new();
        let mut by_township: HashMap<&str, Vec<(usize, &TeamRow)>> = HashMap::new();
        for t in &county.teams {
            let physicians: Vec<&str> = t
                .members
                .iter()
                .filter(|(_, r)| matches!(r, TeamRole::Lead | TeamRole::Gp))
                .map(|(c, _)| c.as_str())
                .collect();
            // The health centre's own physicians answer for households not
            // served by their village's doctor.
            let centre: Vec<&str> = physicians
                .iter()
                .copied()
                .filter(|c| main_site(c) == Some(t.institution_code.as_str()))
                .collect();
            if physicians.is_empty() {
                continue;
            }
            if let Some(&region) = region_of.get(t.institution_code.as_str()) {
                by_township
                    .entry(region)
                    .or_default()
                    .push((teams.len(), t));
                teams.push(TeamInfo {
                    code: &t.code,
                    physicians: if centre.is_empty() {
                        physicians
                    } else {
                        centre
                    },
                });
            }
        }
        let mut villages = HashMap::new();
        for town in county.townships() {
            let Some(local) = by_township.get(town.code.as_str()) else {
                continue;
            };
            // Each village with its own team (an index into `local`), its
            // doctors, their cap and its expected contracts.
            let mut rows = Vec::new();
            for v in county
                .villages()
                .filter(|v| v.parent_code.as_deref() == Some(town.code.as_str()))
            {
                let sites = [format!("V{}", v.code), format!("S{}", v.code)];
                let own = local.iter().enumerate().find_map(|(k, (_, t))| {
                    let doctors: Vec<&str> = t
                        .members
                        .iter()
                        .filter(|(c, r)| {
                            matches!(r, TeamRole::VillageDoctor | TeamRole::Gp | TeamRole::Lead)
                                && main_site(c).is_some_and(|s| sites.iter().any(|x| x == s))
                        })
                        .map(|(c, _)| c.as_str())
                        .collect();
                    (!doctors.is_empty()).then_some((k, doctors))
                });
                let cap = own.as_ref().map_or(0.0, |(_, d)| cap_of(d));
                let expected = v.population.unwrap_or(0).max(0) as f64 * EXPECTED_RATE;
                rows.push((v, own, cap, expected));
            }
            // The share of its villages' households each team keeps: the
            // largest that fits the team's capacity and its centre
            // physicians' caps (village doctors take up to half of their
            // village, within their own caps).
            let centre_load = |k: usize, keep: f64| -> f64 {
                rows.iter()
                    .filter(|(_, own, ..)| own.as_ref().is_some_and(|(o, _)| *o == k))
                    .map(|(_, _, cap, e)| e * keep - (0.5 * e * keep).min(*cap))
                    .sum()
            };
            let mut keep = vec![1.0; local.len()];
            let mut spare = vec![0.0; local.len()];
            for (k, (i, t)) in local.iter().enumerate() {
                let team_cap = HEADROOM * t.capacity as f64;
                let centre_cap = cap_of(&teams[*i].physicians);
                let total: f64 = rows
                    .iter()
                    .filter(|(_, own, ..)| own.as_ref().is_some_and(|(o, _)| *o == k))
                    .map(|(.., e)| e)
                    .sum();
                let fits = |x: f64| x * total <= team_cap && centre_load(k, x) <= centre_cap;
                if !fits(1.0) {
                    let (mut lo, mut hi) = (0.0, 1.0);
                    for _ in 0..30 {
                        let mid = 0.5 * (lo + hi);
                        if fits(mid) { lo = mid } else { hi = mid }
                    }
                    keep[k] = lo;
                }
                spare[k] = (team_cap - keep[k] * total)
                    .min(centre_cap - centre_load(k, keep[k]))
                    .max(0.0);
            }
            if spare.iter().sum::<f64>() <= 0.0 {
                spare = local.iter().map(|(_, t)| t.capacity as f64).collect();
            }
            let total_spare: f64 = spare.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            for (v, own, cap, expected) in rows {
                let own_k = own.as_ref().map(|(k, _)| *k);
                let kept = own_k.map_or(0.0, |k| keep[k]);
                let mut choices = Vec::with_capacity(local.len());
                let mut cum = 0.0;
                for (k, (team, _)) in local.iter().enumerate() {
                    let w = if Some(k) == own_k { kept } else { 0.0 }
                        + (1.0 - kept) * spare[k] / total_spare;
                    if w > 0.0 {
                        cum += w;
                        choices.push((cum, *team));
                    }
                }
                if let Some(last) = choices.last_mut() {
                    last.0 = 1.0;
                } else {
                    continue;
                }
                let own_load = expected * kept;
                let village_doctor_share = if own_load > 0.0 {
                    (cap / own_load).min(0.5)
                } else {
                    0.5
                };
                let (own, village_doctors) = match own {
                    Some((k, d)) => (Some(local[k].0), d),
                    None => (None, Vec::new()),
                };
                villages.insert(
                    v.code.as_str(),
                    VillagePlan {
                        choices,
                        own,
                        village_doctors,
                        village_doctor_share,
                    },
                );
            }
        }
        let code_of = |kind| {
            county
                .institutions
                .iter()
                .find(|i| i.kind == kind)
                .map(|i| i.code.as_str())
        };
        Self {
            today: spec.today,
            window: spec.today - Duration::days(364),
            seed: mix64(spec.seed ^ mix64(Stage::Care as u64)),
            teams,
            villages,
            secondary: code_of(InstitutionKind::CountyGeneralHospital),
            tertiary: code_of(InstitutionKind::TertiaryHospital),
        }
    }

    /// The care of one resident row.
    pub(crate) fn care_of(&self, row: &ResidentRow) -> CareRow {
        if row.duplicate_of.is_some() {
            return CareRow {
                resident_key: row.key,
                contract: None,
                enrolments: Vec::new(),
                referrals: Vec::new(),
            };
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(self.seed ^ mix64(row.key)));
        let contract = self.contract(&mut rng, row);
        let enrolments = self.enrolments(&mut rng, row);
        CareRow {
            resident_key: row.key,
            contract,
            enrolments,
            referrals: Vec::new(),
        }
    }

    fn contract(&self, rng: &mut ChaCha8Rng, row: &ResidentRow) -> Option<ContractRow> {
        let tags = key_populations(row.birth_date, self.today, &row.tags);
        let rate = tags
            .iter()
            .map(|t| match t {
                KeyPopulation::SevereMental | KeyPopulation::PovertyRegistered => 0.80,
                KeyPopulation::Hypertension | KeyPopulation::Diabetes => 0.75,
                KeyPopulation::Elderly65 | KeyPopulation::Disabled => 0.70,
                KeyPopulation::Pregnant
                | KeyPopulation::Child0To6
                | KeyPopulation::Tuberculosis => 0.65,
            })
            .fold(0.30, f64::max);
        // Household draws: 0 sign, 1 date, 2 team, 3 doctor kind, 4 doctor.
        let h = mix64(self.seed.rotate_left(23) ^ fnv(&row.household_code));
        let draw = |i: u64| mix64(h ^ mix64(i + 1));
        let own_decision = chance(rng, 0.15);
        let own_date = chance(rng, 0.15);
        let u = if own_decision {
            rng.random::<f64>()
        } else {
            unit(draw(0))
        };
        let secondary = chance(rng, 0.85);
        let tertiary = secondary && chance(rng, 0.70 / 0.85);
        let offset = if own_date {
            rng.random_range(0..365)
        } else {
            (draw(1) % 365) as i64
        };
        if u >= rate {
            return None;
        }
        let village = self.villages.get(row.region_code.as_str())?;
        let x = unit(draw(2));
        let team = village
            .choices
            .iter()
            .find(|(cum, _)| x < *cum)
            .or(village.choices.last())
            .map(|(_, t)| *t)?;
        let info = &self.teams[team];
        let doctor = if village.own == Some(team)
            && !village.village_doctors.is_empty()
            && unit(draw(3)) < village.village_doctor_share
        {
            village.village_doctors[(draw(4) % village.village_doctors.len() as u64) as usize]
        } else {
            info.physicians[(draw(4) % info.physicians.len() as u64) as usize]
        };
        let mut packages = vec![PACKAGE_CODES[0].to_string()];
        let has = |t: KeyPopulation| tags.contains(&t);
        for (tag, code) in [
            (KeyPopulation::Hypertension, PACKAGE_CODES[1]),
            (KeyPopulation::Diabetes, PACKAGE_CODES[2]),
            (KeyPopulation::Elderly65, PACKAGE_CODES[3]),
            (KeyPopulation::Pregnant, PACKAGE_CODES[4]),
            (KeyPopulation::Child0To6, PACKAGE_CODES[5]),
            (KeyPopulation::SevereMental, PACKAGE_CODES[6]),
        ] {
            if has(tag) {
                packages.push(code.to_string());
            }
        }
        Some(ContractRow {
            team_code: info.code.to_string(),
            doctor_code: doctor.to_string(),
            packages,
            start: (self.today - Duration::days(offset)).max(row.birth_date),
            secondary_hospital_code: self.secondary.filter(|_| secondary).map(str::to_string),
            tertiary_hospital_code: self.tertiary.filter(|_| tertiary).map(str::to_string),
        })
    }

    fn enrolments(&self, rng: &mut ChaCha8Rng, row: &ResidentRow) -> Vec<EnrolmentRow> {
        let age = age_on(row.birth_date, self.today);
        let hypertensive = row.tags.contains(&KeyPopulation::Hypertension);
        let diabetic = row.tags.contains(&KeyPopulation::Diabetes);
        // Smoking (adult men about half, women 2–3 %), then COPD: 0.9 % of
        // non-smokers and 3.2 % of smokers aged 40+.
        let smoke_rate = match (row.sex, age) {
            (_, ..18) => 0.0,
            (Sex::Male, 70..) => 0.35,
            (Sex::Male, _) => 0.48,
            (Sex::Female, _) => 0.025,
        };
        let smoker = chance(rng, smoke_rate);
        let copd = age >= 40 && chance(rng, if smoker { 0.032 } else { 0.009 });
        let manage_h = hypertensive && chance(rng, 0.9);
        let manage_d = diabetic && chance(rng, 0.9);
        if !(manage_h || manage_d || copd) {
            return Vec::new();
        }
        let quits_on = (smoker && chance(rng, 0.1)).then(|| date_in(rng, self.window, self.today));
        let weight = match row.sex {
            Sex::Male => 70.0,
            Sex::Female => 60.0,
        } + noise(rng, 16.0)
            + if diabetic { 4.0 } else { 0.0 }
            - if age >= 75 { 5.0 } else { 0.0 };
        // Medication adherence drives blood-pressure control: 75 % of regular,
        // 40 % of intermittent and 15 % of non-adherent patients (60 % overall).
        let adherence = match weighted(rng, &[65, 25, 10]) {
            0 => Adherence::Regular,
            1 => Adherence::Intermittent,
            _ => Adherence::None,
        };
        let control_rate = match adherence {
            Adherence::Regular => 0.75,
            Adherence::Intermittent => 0.40,
            Adherence::None => 0.15,
        };
        let bp_controlled = !hypertensive || chance(rng, control_rate);
        let bp_ok = if hypertensive {
            (rng.random_range(128.0..138.0), rng.random_range(78.0..88.0))
        } else {
            (rng.random_range(114.0..134.0), rng.random_range(70.0..84.0))
        };
        let bp_high = (
            rng.random_range(142.0..170.0),
            rng.random_range(91.0..102.0),
        );
        let person = Person {
            sex: row.sex,
            age,
            hypertensive,
            diabetic,
            smoker,
            quits_on,
            weight: weight.clamp(38.0, 130.0),
            bp_controlled,
            bp_ok,
            bp_high,
        };
        let mut out = Vec::new();
        for (program, on) in [
            (Program::Hypertension, manage_h),
            (Program::Diabetes, manage_d),
            (Program::Copd, copd),
        ] {
            if on {
                out.push(self.enrolment(rng, row, &person, program, adherence));
            }
        }
        out
    }

    fn enrolment(
        &self,
        rng: &mut ChaCha8Rng,
        row: &ResidentRow,
        p: &Person,
        program: Program,
        adherence: Adherence,
    ) -> EnrolmentRow {
        let mut factors = EnrolmentFactors::default();
        match program {
            Program::Hypertension => {
                let old = match p.sex {
                    Sex::Male => p.age >= 55,
                    Sex::Female => p.age >= 65,
                };
                factors.risk_factors =
                    u8::from(old) + u8::from(p.smoker) + weighted(rng, &[45, 33, 16, 6]) as u8;
                factors.organ_damage = chance(rng, if p.age >= 65 { 0.15 } else { 0.08 });
                factors.clinical_complications = chance(rng, if p.age >= 70 { 0.14 } else { 0.05 });
            }
            Program::Diabetes => factors.complications = weighted(rng, &[62, 24, 10, 4]) as u8,
            Program::Copd => {
                factors.exacerbations = weighted(rng, &[55, 27, 12, 6]) as u8;
                factors.mmrc = weighted(rng, &[15, 35, 30, 15, 5]) as u8;
            }
        }
        let keeping = match weighted(rng, &[70, 20, 10]) {
            0 => Keeping::OnTime,
            1 => Keeping::Late,
            _ => Keeping::DropsOut(rng.random_range(1..=3)),
        };
        let glucose_controlled = chance(rng, 0.5);
        let course = Course {
            program,
            factors,
            keeping,
            adherence,
            glucose_controlled,
            fpg_base: if glucose_controlled {
                rng.random_range(5.2..6.6)
            } else {
                rng.random_range(7.6..11.0)
            },
            a1c_base: if glucose_controlled {
                rng.random_range(6.0..6.9)
            } else {
                rng.random_range(7.2..9.8)
            },
        };
        // Enrolled 1–10 years ago (85 %), or during the year, and never
        // before the program's minimum age.
        let min_age = if program == Program::Copd { 40 } else { 18 };
        let earliest = years_after(row.birth_date, min_age)
            .max(years_after(self.today, -10))
            .min(self.today);
        let before = self.window - Duration::days(1);
        let enrolled_on = if earliest <= before && chance(rng, 0.85) {
            date_in(rng, earliest, before)
        } else {
            date_in(rng, earliest.max(self.window), self.today)
        };
        let followups = self.followups(rng, p, &course, enrolled_on);
        EnrolmentRow {
            program,
            enrolled_on,
            factors,
            followups,
        }
    }

    /// The risk after a visit, given the latest HbA1c.
    fn risk(&self, p: &Person, c: &Course, v: &FollowUpRow, a1c: Option<f64>) -> Risk {
        let f = c.factors;
        match c.program {
            Program::Hypertension => hypertension_risk(
                v.sbp.unwrap_or(130),
                v.dbp.unwrap_or(80),
                HypertensionFactors {
                    risk_factors: f.risk_factors,
                    organ_damage: f.organ_damage,
                    diabetes: p.diabetic,
                    clinical_complications: f.clinical_complications,
                },
            ),
            Program::Diabetes => diabetes_risk(DiabetesFactors {
                hba1c: v.hba1c.or(a1c),
                fasting_glucose: v.fasting_glucose,
                complications: f.complications,
            }),
            Program::Copd => copd_risk(f.exacerbations, false, f.mmrc),
        }
    }

    fn followups(
        &self,
        rng: &mut ChaCha8Rng,
        p: &Person,
        c: &Course,
        enrolled_on: NaiveDate,
    ) -> Vec<FollowUpRow> {
        let mut out = Vec::new();
        // The latest HbA1c (value, date), carried between visits.
        let mut a1c: Option<(f64, NaiveDate)> = None;
        let mut date = if enrolled_on < self.window {
            // The state as the year opens: the last visit before it sets the
            // first interval; its HbA1c is up to six months old.
            let before = self.window - Duration::days(1);
            if c.program == Program::Diabetes {
                let on = before - Duration::days(rng.random_range(0..180));
                a1c = Some((self.a1c_value(rng, c), on));
            }
            let last = self.visit(rng, p, c, before, &mut a1c, true);
            let risk = self.risk(p, c, &last, a1c.map(|a| a.0));
            self.window + Duration::days(rng.random_range(0..risk.follow_up_days()))
        } else {
            enrolled_on
        };
        // The specialist review: one of the red visits, reservoir-sampled.
        let mut red = 0u32;
        let mut review = None;
        while date <= self.today {
            let v = self.visit(rng, p, c, date, &mut a1c, false);
            let risk = self.risk(p, c, &v, a1c.map(|a| a.0));
            if risk == Risk::High {
                red += 1;
                if rng.random_range(0..red) == 0 {
                    review = Some(out.len());
                }
            }
            out.push(v);
            if matches!(c.keeping, Keeping::DropsOut(n) if out.len() >= n) {
                break;
            }
            let delay = match c.keeping {
                Keeping::Late => rng.random_range(10..=60),
                _ => rng.random_range(-10..=10),
            };
            date += Duration::days(risk.follow_up_days() + delay);
        }
        if let Some(i) = review.filter(|_| chance(rng, 0.8)) {
            out[i].specialist_review = true;
        }
        out
    }

    fn a1c_value(&self, rng: &mut ChaCha8Rng, c: &Course) -> f64 {
        round1((c.a1c_base + noise(rng, 0.5)).clamp(5.6, 10.8))
    }

    /// One visit's measurements; `hidden` for the unrecorded visit before
    /// the year (it does not update the HbA1c).
    fn visit(
        &self,
        rng: &mut ChaCha8Rng,
        p: &Person,
        c: &Course,
        date: NaiveDate,
        a1c: &mut Option<(f64, NaiveDate)>,
        hidden: bool,
    ) -> FollowUpRow {
        let (sbp, dbp) = if c.program == Program::Copd {
            (None, None)
        } else {
            let (s, d) = self.bp(rng, p);
            (Some(s), Some(d))
        };
        let (fasting_glucose, hba1c) = if c.program == Program::Diabetes {
            let fpg = if chance(rng, 0.01) {
                rng.random_range(3.0..3.8)
            } else if chance(rng, if c.glucose_controlled { 0.85 } else { 0.08 }) {
                (c.fpg_base.min(6.6) + noise(rng, 1.0)).clamp(4.4, 6.9)
            } else if chance(rng, 0.07) {
                rng.random_range(13.9..19.5)
            } else {
                (c.fpg_base.max(7.6) + noise(rng, 2.4)).clamp(7.0, 12.0)
            };
            let due = a1c.is_none_or(|(_, on)| (date - on).num_days() >= 170);
            let measured = !hidden && due && chance(rng, 0.85);
            let value = measured.then(|| self.a1c_value(rng, c));
            if let Some(v) = value {
                *a1c = Some((v, date));
            }
            (Some(round1(fpg)), value)
        } else {
            (None, None)
        };
        let weight_kg = (c.program == Program::Copd || chance(rng, 0.85))
            .then(|| round1((p.weight + noise(rng, 2.0)).clamp(30.0, 150.0)));
        let adherence = {
            let r: f64 = rng.random();
            match c.adherence {
                Adherence::Regular if r < 0.9 => Adherence::Regular,
                Adherence::Regular => Adherence::Intermittent,
                Adherence::Intermittent if r < 0.7 => Adherence::Intermittent,
                Adherence::Intermittent if r < 0.85 => Adherence::Regular,
                Adherence::Intermittent => Adherence::None,
                Adherence::None if r < 0.8 => Adherence::None,
                Adherence::None => Adherence::Intermittent,
            }
        };
        FollowUpRow {
            date,
            sbp,
            dbp,
            fasting_glucose,
            hba1c,
            weight_kg,
            smoking: p.smoker && p.quits_on.is_none_or(|q| date < q),
            adherence,
            specialist_review: false,
        }
    }

    /// A blood-pressure reading (mmHg).
    fn bp(&self, rng: &mut ChaCha8Rng, p: &Person) -> (u16, u16) {
        let round = |x: f64| x.round() as u16;
        if !p.hypertensive {
            let s = (p.bp_ok.0 + noise(rng, 8.0)).clamp(108.0, 138.0);
            let d = (p.bp_ok.1 + noise(rng, 6.0)).clamp(64.0, 88.0);
            return (round(s), round(d));
        }
        if chance(rng, if p.bp_controlled { 0.003 } else { 0.045 }) {
            return (rng.random_range(180..=215), rng.random_range(110..=124));
        }
        let at_target = chance(rng, if p.bp_controlled { 0.88 } else { 0.15 });
        match (p.bp_controlled, at_target) {
            (true, true) => (
                round((p.bp_ok.0 + noise(rng, 8.0)).clamp(122.0, 139.0)),
                round((p.bp_ok.1 + noise(rng, 6.0)).clamp(72.0, 89.0)),
            ),
            (true, false) => (rng.random_range(140..=152), rng.random_range(84..=94)),
            (false, true) => (rng.random_range(130..=139), rng.random_range(80..=89)),
            (false, false) => (
                round((p.bp_high.0 + noise(rng, 16.0)).clamp(140.0, 175.0)),
                round((p.bp_high.1 + noise(rng, 8.0)).clamp(90.0, 105.0)),
            ),
        }
    }
}
