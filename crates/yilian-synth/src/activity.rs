//! The county's routine activity and the vital statistics the health system
//! receives from other departments.
//!
//! [`visits`] gives each resident a year of ordinary outpatient and emergency
//! visits (门急诊) — the bulk of the county's encounters, which the tiered-care
//! indicators count: 基层诊疗量占比 (share of visits at primary level) and
//! 县域内就诊率 (share of visits inside the county), per month and per
//! township. Like [`crate::care`], a resident's visits are decided from the
//! row, its [`CareRow`] and the county alone, from a ChaCha8 stream seeded by
//! the spec's seed and the row's key, so they never depend on the stream
//! position; the plan holds one route per village and nothing per resident.
//!
//! [`statistics()`] gives the planning indicators' denominators and the
//! inputs of a life table: childcare places per township, and population,
//! deaths and the disabled share per abridged age band for the county.

use std::collections::HashMap;
use std::f64::consts::TAU;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use yilian_domain::chronic::Program;
use yilian_domain::record::EncounterType;
use yilian_domain::resident::age_on;

use crate::care::CareRow;
use crate::rng::{Weighted, chance, mix64};
use crate::tables::AGE_GROUPS_2020;
use crate::{County, CountySpec, InstitutionKind, ResidentRow, Sex};

/// Stream tags of this module ("visits", "stats" in ASCII), far from the
/// small discriminants of `rng::Stage`, so neither stream shifts another's.
const VISITS_STREAM: u64 = 0x7669_7369_7473;
const STATS_STREAM: u64 = 0x73_7461_7473;

// ------------------------------------------------------------------ visits

/// One outpatient (门诊) or emergency (急诊) visit.
///
/// **Volume.** Visits per person-year by age ([`RATE_BY_AGE`]: 9 under 5,
/// 6.5 at 5–14, 5.8 at 15–44, 9.5 at 45–64, 13 at 65–74, 15 at 75 and over),
/// plus 3 for each chronic programme the resident is enrolled in; the
/// resident's count is negative binomial — Poisson around that rate times a
/// personal frailty drawn from an exponential distribution (a gamma of
/// shape 1), so the variance is μ + μ² and about one resident in ten has no
/// visit. Infants count from their birth. The county mean is about 9 visits
/// per resident-year (measured 9.0 on 20,000 residents), so that with the
/// chronic follow-ups, referral visits and exams it has about 10 encounters
/// per resident-year — the benchmark's 1 M residents ↔ 10 M encounters.
///
/// **When.** Outpatient visits fall on weekdays by [`WEEKDAY`] (Monday
/// busiest, Sunday 0.6 of a Wednesday); emergencies any day. Respiratory
/// diagnoses (J06.9, J02.9, J20.9, J18.9, R50.9) follow a winter curve
/// peaking in mid-January at 4 times the mid-July level, so total visits
/// peak in winter. Outpatient times are clinic hours — 08:00–11:30 (65 %)
/// or 14:30–17:30 — emergencies any minute of the day.
///
/// **Where** (of all visits, before the township's propensity): the
/// resident's village clinic or community station 35 %, their township or
/// community health centre 25 %, a private clinic 2 %, the county's
/// hospitals 28 % (3 % emergencies, mostly at the general hospital, half of
/// children's at the maternal and child health hospital; outpatients at the
/// general, TCM and maternal-child hospitals 70 : 30 : 0, children
/// 45 : 10 : 45, women 15–49 55 : 20 : 25) and the city and tertiary
/// hospitals outside the county 10 %. That makes 基层诊疗量占比 about 62 %
/// and 县域内就诊率 about 90 % (measured 62.2 % and 90.1 % on 20,000
/// residents). The policy targets are 县域内就诊率 about 90 % and 基层诊疗量
/// 占比 ≥ 65 % (the assessment standard of the national tiered-care guidance,
/// 国办发〔2015〕70号); the seeds state the aim without figures — seed 000
/// 二(二)1 "大病重病在本省解决、一般常见病多发病在市县解决、日常头疼脑热等小病在
/// 乡村解决", 二(五)2 "逐步提高基层医疗卫生机构提供的服务在医疗服务总量…中的
/// 占比", seed 001 art. 29–30 "基层首诊". So the county meets the first
/// target and misses the second, as most counties do. Each township has a
/// propensity (0.8–1.2) multiplying its clinic and centre shares, so
/// townships' primary shares spread over about ten points (measured
/// 57.9–65.4 %). A village without a clinic sends that share to its centre.
///
/// **Why.** Diagnoses from a short table of common conditions
/// ([`OUTPATIENT`], [`EMERGENCY`]), each with a minimum age; 40 % of a
/// chronic patient's outpatient visits are for one of their programmes
/// (I10 hypertension, E11.9 type 2 diabetes, J44.9 COPD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitRow {
    /// Local time (China Standard Time).
    pub at: NaiveDateTime,
    pub institution_code: String,
    /// [`EncounterType::Outpatient`] or [`EncounterType::Emergency`].
    pub encounter_type: EncounterType,
    pub icd10: &'static str,
    /// `门诊：…` or `急诊：…`.
    pub title: &'static str,
}

/// A diagnosis of the visit tables.
#[derive(Debug, Clone, Copy)]
struct Dx {
    icd10: &'static str,
    title: &'static str,
    /// Relative frequency in its table.
    weight: u64,
    /// Not seen below this age.
    min_age: i32,
    /// Respiratory: follows the winter curve.
    winter: bool,
}

const fn dx(
    icd10: &'static str,
    title: &'static str,
    weight: u64,
    min_age: i32,
    winter: bool,
) -> Dx {
    Dx {
        icd10,
        title,
        weight,
        min_age,
        winter,
    }
}

const HYPERTENSION: Dx = dx("I10", "门诊：原发性高血压", 40, 30, false);
const DIABETES: Dx = dx("E11.9", "门诊：2型糖尿病", 15, 30, false);
const COPD: Dx = dx("J44.9", "门诊：慢性阻塞性肺疾病", 0, 40, false);

/// Outpatient diagnoses (weights roughly per mille of visits).
const OUTPATIENT: [Dx; 20] = [
    dx("J06.9", "门诊：急性上呼吸道感染", 200, 0, true),
    dx("J02.9", "门诊：急性咽炎", 60, 0, true),
    dx("J20.9", "门诊：急性支气管炎", 70, 0, true),
    dx("R50.9", "门诊：发热", 40, 0, true),
    dx("J18.9", "门诊：肺炎", 12, 0, true),
    dx("A09", "门诊：感染性腹泻", 40, 0, false),
    dx("K29.7", "门诊：慢性胃炎", 70, 15, false),
    dx("K30", "门诊：功能性消化不良", 30, 15, false),
    HYPERTENSION,
    DIABETES,
    dx("I25.1", "门诊：冠状动脉粥样硬化性心脏病", 20, 45, false),
    dx("I69.3", "门诊：脑梗死后遗症", 12, 50, false),
    dx("M54.5", "门诊：腰痛", 50, 18, false),
    dx("M17.9", "门诊：膝关节病", 30, 45, false),
    dx("L30.9", "门诊：皮炎", 30, 0, false),
    dx("H10.9", "门诊：结膜炎", 15, 0, false),
    dx("K02.9", "门诊：龋病", 25, 3, false),
    dx("N39.0", "门诊：泌尿道感染", 20, 15, false),
    dx("R51", "门诊：头痛", 20, 10, false),
    dx("T14.0", "门诊：体表浅表损伤", 25, 0, false),
];

/// Emergency diagnoses.
const EMERGENCY: [Dx; 11] = [
    dx("R10.4", "急诊：腹痛", 25, 0, false),
    dx("T14.9", "急诊：外伤", 25, 0, false),
    dx("R50.9", "急诊：高热", 20, 0, true),
    dx("J18.9", "急诊：肺炎", 10, 0, true),
    dx("R07.4", "急诊：胸痛", 10, 30, false),
    dx("I10", "急诊：高血压急症", 8, 40, false),
    dx("I63.9", "急诊：脑梗死", 6, 45, false),
    dx("K35.8", "急诊：急性阑尾炎", 5, 5, false),
    dx("T78.4", "急诊：过敏反应", 5, 0, false),
    dx("R55", "急诊：晕厥", 5, 15, false),
    dx("S06.0", "急诊：脑震荡", 5, 0, false),
];

/// Visits per person-year from each age on (before chronic programmes).
const RATE_BY_AGE: [(i32, f64); 6] = [
    (0, 9.0),
    (5, 6.5),
    (15, 5.8),
    (45, 9.5),
    (65, 13.0),
    (75, 15.0),
];
/// Extra visits per person-year for each chronic programme.
const PER_PROGRAMME: f64 = 3.0;
/// Share of a chronic patient's outpatient visits for one of their programmes.
const CHRONIC_SHARE: f64 = 0.4;
/// Share of visits that are emergencies (at county hospitals).
const EMERGENCY_SHARE: f64 = 0.03;
/// The personal frailty is capped (it changes the mean by < 0.01 %).
const FRAILTY_CAP: f64 = 10.0;
/// Outpatient volume by weekday, Monday first.
const WEEKDAY: [f64; 7] = [1.15, 1.05, 1.0, 1.0, 1.0, 0.8, 0.6];
/// Amplitude of the respiratory winter curve 1 + A·cos(…): peak : trough = 4.
const WINTER_AMPLITUDE: f64 = 0.6;
/// Day of the year of the winter peak (mid-January).
const WINTER_PEAK: f64 = 15.0;
/// The range of a township's propensity to use its clinics and centre.
const PROPENSITY: (f64, f64) = (0.8, 1.2);

/// Where a non-emergency visit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Clinic,
    Centre,
    Private,
    County,
    Outside,
}

/// Shares (percent of all visits) of non-emergency visits by place; with
/// the 3 % emergencies they make 100.
const PLACES: [(Place, f64); 5] = [
    (Place::Clinic, 35.0),
    (Place::Centre, 25.0),
    (Place::Private, 2.0),
    (Place::County, 25.0),
    (Place::Outside, 10.0),
];

/// Where a village's residents go.
#[derive(Debug, Clone)]
struct Route<'a> {
    clinic: Option<&'a str>,
    centre: Option<&'a str>,
    /// Cumulative shares of [`PLACES`] (the last is 1).
    cum: [f64; 5],
}

/// Precomputed routes and tables for [`visits`]; see [`VisitRow`] for the
/// rates.
#[derive(Debug)]
pub struct VisitPlan<'a> {
    seed: u64,
    today: NaiveDate,
    first: NaiveDate,
    /// Village code → its route.
    routes: HashMap<&'a str, Route<'a>>,
    private: Vec<&'a str>,
    /// The county's general, TCM and maternal-child hospitals.
    county: [Option<&'a str>; 3],
    /// City and tertiary hospitals outside the county.
    outside: Vec<&'a str>,
    outpatient: Weighted,
    emergency: Weighted,
}

/// The visit plan of the county: [`VisitPlan::visits_of`] gives each
/// resident row a year of visits (see [`VisitRow`]) up to the start of
/// `spec.today`. `county` should be `county(spec)`.
pub fn visits<'a>(spec: &'a CountySpec, county: &'a County) -> VisitPlan<'a> {
    VisitPlan::new(spec, county)
}

impl<'a> VisitPlan<'a> {
    fn new(spec: &'a CountySpec, county: &'a County) -> Self {
        use InstitutionKind as K;
        let seed = mix64(spec.seed ^ mix64(VISITS_STREAM));
        let of_kinds = |kinds: &'static [K]| {
            county
                .institutions
                .iter()
                .filter(move |i| kinds.contains(&i.kind))
                .map(|i| (i.region_code.as_str(), i.code.as_str()))
        };
        let first = |kind| {
            county
                .institutions
                .iter()
                .find(|i| i.kind == kind)
                .map(|i| i.code.as_str())
        };
        let clinics: HashMap<_, _> =
            of_kinds(&[K::VillageClinic, K::CommunityHealthStation]).collect();
        let centres: HashMap<_, _> =
            of_kinds(&[K::TownshipHealthCenter, K::CommunityHealthCenter]).collect();
        let private: Vec<&str> = of_kinds(&[K::PrivateClinic]).map(|(_, c)| c).collect();
        // One propensity per township, in region order.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let propensity: HashMap<&str, f64> = county
            .townships()
            .map(|t| {
                (
                    t.code.as_str(),
                    rng.random_range(PROPENSITY.0..PROPENSITY.1),
                )
            })
            .collect();
        let routes = county
            .villages()
            .map(|v| {
                let town = v.parent_code.as_deref().unwrap_or_default();
                let p = propensity.get(town).copied().unwrap_or(1.0);
                let clinic = clinics.get(v.code.as_str()).copied();
                let centre = centres.get(town).copied();
                let shares = PLACES.map(|(place, share)| match place {
                    Place::Clinic if clinic.is_none() => 0.0,
                    Place::Centre if centre.is_none() => 0.0,
                    Place::Private if private.is_empty() => 0.0,
                    // A village without a clinic goes to its centre.
                    Place::Centre if clinic.is_none() => p * (share + PLACES[0].1),
                    Place::Clinic | Place::Centre => p * share,
                    _ => share,
                });
                let total: f64 = shares.iter().sum();
                let mut acc = 0.0;
                let cum = shares.map(|s| {
                    acc += s / total;
                    acc
                });
                (
                    v.code.as_str(),
                    Route {
                        clinic,
                        centre,
                        cum,
                    },
                )
            })
            .collect();
        let table = |t: &[Dx]| Weighted::new(t.iter().map(|d| d.weight));
        Self {
            seed,
            today: spec.today,
            first: spec.today - Duration::days(365),
            routes,
            private,
            county: [
                first(K::CountyGeneralHospital),
                first(K::CountyTcmHospital),
                first(K::MaternalChildHospital),
            ],
            outside: of_kinds(&[K::CityHospital, K::TertiaryHospital])
                .map(|(_, c)| c)
                .collect(),
            outpatient: table(&OUTPATIENT),
            emergency: table(&EMERGENCY),
        }
    }

    /// The visits of one resident row in the 365 days before `spec.today`,
    /// in time order (none for a duplicate row). `care` is the row's
    /// [`CareRow`] (its chronic enrolments raise the volume).
    pub fn visits_of(&self, row: &ResidentRow, care: &CareRow) -> Vec<VisitRow> {
        let from = self.first.max(row.birth_date);
        let days = (self.today - from).num_days();
        if row.duplicate_of.is_some() || days <= 0 {
            return Vec::new();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(self.seed ^ mix64(row.key)));
        let age = age_on(row.birth_date, self.today);
        let programmes: Vec<Program> = care.enrolments.iter().map(|e| e.program).collect();
        let rate = RATE_BY_AGE
            .iter()
            .rev()
            .find(|(from, _)| age >= *from)
            .map_or(0.0, |(_, r)| *r)
            + PER_PROGRAMME * programmes.len() as f64;
        let frailty = exponential(&mut rng).min(FRAILTY_CAP);
        let n = poisson(&mut rng, rate * frailty * days as f64 / 365.0);
        let route = self.routes.get(row.region_code.as_str());
        let mut out: Vec<VisitRow> = (0..n)
            .filter_map(|_| {
                let emergency = chance(&mut rng, EMERGENCY_SHARE);
                let dx = if emergency {
                    draw(&mut rng, &self.emergency, &EMERGENCY, age)
                } else if !programmes.is_empty() && chance(&mut rng, CHRONIC_SHARE) {
                    match programmes[rng.random_range(0..programmes.len())] {
                        Program::Hypertension => HYPERTENSION,
                        Program::Diabetes => DIABETES,
                        Program::Copd => COPD,
                    }
                } else {
                    draw(&mut rng, &self.outpatient, &OUTPATIENT, age)
                };
                let institution = if emergency {
                    let child_at_mch = age < 15 && chance(&mut rng, 0.5);
                    self.county[if child_at_mch { 2 } else { 0 }].or(self.county[0])
                } else {
                    self.place(&mut rng, route, age, row.sex)
                }?;
                let date = day(&mut rng, from, days, !emergency, dx.winter);
                let minute = if emergency {
                    rng.random_range(0..24 * 60)
                } else if chance(&mut rng, 0.65) {
                    rng.random_range(8 * 60..11 * 60 + 30)
                } else {
                    rng.random_range(14 * 60 + 30..17 * 60 + 30)
                };
                Some(VisitRow {
                    at: date.and_time(chrono::NaiveTime::MIN) + Duration::minutes(minute),
                    institution_code: institution.to_string(),
                    encounter_type: if emergency {
                        EncounterType::Emergency
                    } else {
                        EncounterType::Outpatient
                    },
                    icd10: dx.icd10,
                    title: dx.title,
                })
            })
            .collect();
        out.sort_by_key(|v| v.at);
        out
    }

    /// The institution of a non-emergency visit: by the village's route,
    /// then by age and sex among the county's hospitals. `None` only if the
    /// county has no hospital to fall back on.
    fn place(
        &self,
        rng: &mut ChaCha8Rng,
        route: Option<&Route<'a>>,
        age: i32,
        sex: Sex,
    ) -> Option<&'a str> {
        let place = route.map_or(Place::County, |r| {
            let x: f64 = rng.random();
            let k = r
                .cum
                .iter()
                .position(|c| x < *c)
                .unwrap_or(PLACES.len() - 1);
            PLACES[k].0
        });
        let any = |rng: &mut ChaCha8Rng, codes: &[&'a str]| {
            (!codes.is_empty()).then(|| codes[rng.random_range(0..codes.len())])
        };
        let chosen = match place {
            Place::Clinic => route.and_then(|r| r.clinic),
            Place::Centre => route.and_then(|r| r.centre),
            Place::Private => any(rng, &self.private),
            Place::Outside => any(rng, &self.outside),
            Place::County => None,
        };
        chosen.or_else(|| {
            let weights: [u32; 3] = match (age, sex) {
                (..15, _) => [45, 10, 45],
                (15..50, Sex::Female) => [55, 20, 25],
                _ => [70, 30, 0],
            };
            let present = self.county.map(|c| c.is_some());
            let total: u32 = (0..3).filter(|&k| present[k]).map(|k| weights[k]).sum();
            if total == 0 {
                return self.county.iter().flatten().next().copied();
            }
            let mut x = rng.random_range(0..total);
            (0..3).filter(|&k| present[k]).find_map(|k| {
                if x < weights[k] {
                    self.county[k]
                } else {
                    x -= weights[k];
                    None
                }
            })
        })
    }
}

/// A diagnosis of `table` for someone aged `age` (redrawn until old enough;
/// the first entry of each table has minimum age 0).
fn draw<R: Rng>(rng: &mut R, weights: &Weighted, table: &[Dx], age: i32) -> Dx {
    loop {
        let d = table[weights.sample(rng)];
        if age >= d.min_age {
            return d;
        }
    }
}

/// A day in `from .. from + days`, shaped by the weekday (outpatients) and
/// the winter curve (respiratory diagnoses), by rejection.
fn day<R: Rng>(rng: &mut R, from: NaiveDate, days: i64, weekday: bool, winter: bool) -> NaiveDate {
    let max_weekday = WEEKDAY.iter().copied().fold(0.0, f64::max);
    loop {
        let d = from + Duration::days(rng.random_range(0..days));
        let mut p = 1.0;
        if weekday {
            p *= WEEKDAY[d.weekday().num_days_from_monday() as usize] / max_weekday;
        }
        if winter {
            let phase = TAU * (f64::from(d.ordinal()) - WINTER_PEAK) / 365.25;
            p *= (1.0 + WINTER_AMPLITUDE * phase.cos()) / (1.0 + WINTER_AMPLITUDE);
        }
        if rng.random::<f64>() < p {
            return d;
        }
    }
}

/// A unit exponential draw.
fn exponential<R: Rng>(rng: &mut R) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}

/// A Poisson count of mean `lambda`: unit-rate exponential gaps that fit in
/// `lambda` (O(λ), which the callers spend anyway or can afford).
fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u64 {
    let mut n = 0;
    let mut t = exponential(rng);
    while t <= lambda {
        n += 1;
        t += exponential(rng);
    }
    n
}

// -------------------------------------------------------------- statistics

/// A figure the health system receives from another department, for a
/// region and a calendar year.
///
/// Keys:
/// - `childcare_places` (托位, from the civil-affairs and health departments'
///   childcare registry) per township: 3–5 per 1,000 residents in the
///   current year, varying by township, and 85–95 % of that the year before
///   (places are being added towards the 4.5 per 1,000 of seed 002);
/// - per abridged age band `<from>` ∈ {0, 1, 5, 10, …, 85} ([`AGE_BANDS`]),
///   for the county: `population_<from>` (the expected resident count: the
///   county's residents — its village populations less the duplicate
///   registrations — spread by the 2020 census age structure the resident
///   generator draws from), `deaths_<from>` (a Poisson count around the
///   population times the band's death rate: China's recent schedule, life
///   expectancy about 79 years, crude death rate 7.3 ‰) and
///   `disabled_<from>` (the share 0–1 living with disability, rising with
///   age; healthy life expectancy about 69.5 years by Sullivan's method).
///
/// Both the year before `spec.today`'s and the current year are given, the
/// current one as a full-year figure. The year before had 0.5 % more
/// residents (the county slowly loses people to the cities) and 2 % higher
/// death rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatRow {
    pub region_code: String,
    pub year: i32,
    pub key: String,
    pub value: f64,
}

/// Abridged age bands: first age, death rate (per person-year) and the
/// disabled share.
pub(crate) const AGE_BANDS: [(i32, f64, f64); 19] = [
    (0, 0.0054, 0.010),
    (1, 0.00030, 0.015),
    (5, 0.00017, 0.020),
    (10, 0.00021, 0.025),
    (15, 0.00038, 0.030),
    (20, 0.00052, 0.035),
    (25, 0.00060, 0.040),
    (30, 0.00076, 0.050),
    (35, 0.00105, 0.060),
    (40, 0.00160, 0.070),
    (45, 0.00250, 0.085),
    (50, 0.00380, 0.105),
    (55, 0.00600, 0.130),
    (60, 0.00950, 0.160),
    (65, 0.0150, 0.200),
    (70, 0.0250, 0.260),
    (75, 0.0430, 0.340),
    (80, 0.0750, 0.450),
    (85, 0.1600, 0.600),
];
/// The oldest age of the resident generator, plus one.
const AGE_END: i32 = 105;
/// Childcare places per 1,000 residents, current year.
const CHILDCARE_PER_1000: (f64, f64) = (3.0, 5.0);
/// Last year's places as a share of this year's.
const CHILDCARE_LAST_YEAR: (f64, f64) = (0.85, 0.95);
/// Residents a year earlier, per resident now.
const LAST_YEAR_POPULATION: f64 = 1.005;
/// Death rates a year earlier, per death rate now.
const LAST_YEAR_MORTALITY: f64 = 1.02;

/// The band's share of the population under the census structure the
/// resident generator uses (single years weighted by their five-year group).
fn band_share(band: usize) -> f64 {
    let from = AGE_BANDS[band].0;
    let to = AGE_BANDS.get(band + 1).map_or(AGE_END, |b| b.0);
    let weight = |a: i32| f64::from(AGE_GROUPS_2020[(a as usize / 5).min(20)]);
    let total: f64 = (0..AGE_END).map(weight).sum();
    (from..to).map(weight).sum::<f64>() / total
}

/// The vital statistics of the county for the year before `spec.today`'s and
/// the current year (see [`StatRow`] for keys and rates): per year, the
/// townships' childcare places in region order, then the county's bands.
/// Deterministic in `spec` (and `county`, which should be `county(spec)`).
pub fn statistics(spec: &CountySpec, county: &County) -> Vec<StatRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(spec.seed ^ mix64(STATS_STREAM)));
    let persons = |rows: i64| rows as f64 * (1.0 - spec.duplicate_rate.clamp(0.0, 0.5));
    let towns: Vec<(&str, f64, f64)> = county
        .townships()
        .map(|t| {
            let places = persons(t.population.unwrap_or(0)) / 1000.0
                * rng.random_range(CHILDCARE_PER_1000.0..CHILDCARE_PER_1000.1);
            let last = rng.random_range(CHILDCARE_LAST_YEAR.0..CHILDCARE_LAST_YEAR.1);
            (t.code.as_str(), places, last)
        })
        .collect();
    let residents = persons(county.villages().filter_map(|v| v.population).sum());
    let year = spec.today.year();
    let mut out = Vec::new();
    for (y, last) in [(year - 1, true), (year, false)] {
        let row = |region: &str, key: String, value: f64| StatRow {
            region_code: region.to_string(),
            year: y,
            key,
            value,
        };
        for (code, places, share) in &towns {
            let v = if last { places * share } else { *places };
            out.push(row(code, "childcare_places".into(), v.round()));
        }
        let (grow, mortality) = if last {
            (LAST_YEAR_POPULATION, LAST_YEAR_MORTALITY)
        } else {
            (1.0, 1.0)
        };
        for (band, (from, m, disabled)) in AGE_BANDS.iter().enumerate() {
            let population = (residents * grow * band_share(band)).round();
            let deaths = (poisson(&mut rng, population * m * mortality) as f64).min(population);
            let c = county.county_code.as_str();
            out.push(row(c, format!("population_{from}"), population));
            out.push(row(c, format!("deaths_{from}"), deaths));
            out.push(row(c, format!("disabled_{from}"), *disabled));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use chrono::{NaiveDate, Timelike, Weekday};

    use yilian_domain::registry::CareLevel;

    use super::*;
    use crate::{care, county, residents};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    /// Life expectancy and healthy life expectancy (Sullivan) at birth of
    /// the bands' rates: an abridged life table, a₀ = 0.1, the open band
    /// closed by 1/m.
    fn life_table(rates: impl Fn(usize) -> (f64, f64)) -> (f64, f64) {
        let (mut l, mut e, mut h) = (1.0, 0.0, 0.0);
        for (k, (from, ..)) in AGE_BANDS.iter().enumerate() {
            let (m, disabled) = rates(k);
            let lived = match AGE_BANDS.get(k + 1) {
                None => l / m,
                Some(next) => {
                    let n = f64::from(next.0 - from);
                    let a = if k == 0 { 0.1 } else { n / 2.0 };
                    let d = l * n * m / (1.0 + (n - a) * m);
                    let lived = n * (l - d) + a * d;
                    l -= d;
                    lived
                }
            };
            e += lived;
            h += lived * (1.0 - disabled);
        }
        (e, h)
    }

    #[test]
    fn the_schedule_gives_chinese_life_expectancies() {
        let (e, h) = life_table(|k| (AGE_BANDS[k].1, AGE_BANDS[k].2));
        eprintln!("life expectancy {e:.2}, healthy {h:.2}");
        assert!((78.0..80.0).contains(&e), "life expectancy {e}");
        assert!((68.0..70.0).contains(&h), "healthy life expectancy {h}");
        let shares: f64 = (0..AGE_BANDS.len()).map(band_share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
    }

    #[test]
    fn statistics_are_deterministic_well_formed_and_plausible() {
        let spec = CountySpec::new(5, 200_000, today());
        let c = county(&spec);
        let rows = statistics(&spec, &c);
        assert_eq!(rows, statistics(&spec, &c));
        let other = CountySpec::new(6, 200_000, today());
        assert_ne!(rows, statistics(&other, &county(&other)));

        let towns: HashSet<&str> = c.townships().map(|t| t.code.as_str()).collect();
        let bands: Vec<String> = AGE_BANDS.iter().map(|b| b.0.to_string()).collect();
        let mut by: HashMap<(i32, &str, &str), f64> = HashMap::new();
        for r in &rows {
            assert!([2025, 2026].contains(&r.year), "{r:?}");
            assert!(r.value.is_finite() && r.value >= 0.0, "{r:?}");
            if r.key == "childcare_places" {
                assert!(towns.contains(r.region_code.as_str()), "{r:?}");
            } else {
                assert_eq!(r.region_code, c.county_code);
                let (kind, from) = r.key.split_once('_').expect("key");
                assert!(
                    ["population", "deaths", "disabled"].contains(&kind),
                    "{r:?}"
                );
                assert!(bands.iter().any(|b| b == from), "{r:?}");
                if kind == "disabled" {
                    assert!(r.value <= 1.0);
                }
            }
            assert!(
                by.insert((r.year, &r.region_code, &r.key), r.value)
                    .is_none(),
                "one value per year, region and key: {r:?}"
            );
        }
        assert_eq!(rows.len(), 2 * (towns.len() + 3 * AGE_BANDS.len()));
        for year in [2025, 2026] {
            let get = |key: String| by[&(year, c.county_code.as_str(), key.as_str())];
            let rates = |k: usize| {
                let from = AGE_BANDS[k].0;
                let p = get(format!("population_{from}"));
                let d = get(format!("deaths_{from}"));
                assert!(d <= p, "deaths ≤ population at {from}");
                (d / p, get(format!("disabled_{from}")))
            };
            let (e, h) = life_table(rates);
            let population: f64 = bands.iter().map(|b| get(format!("population_{b}"))).sum();
            let deaths: f64 = bands.iter().map(|b| get(format!("deaths_{b}"))).sum();
            let places: f64 = towns
                .iter()
                .map(|t| by[&(year, *t, "childcare_places")])
                .sum();
            eprintln!(
                "{year}: population {population}, deaths {deaths} ({:.2} ‰), life expectancy \
                 {e:.2}, healthy {h:.2}, childcare places {places} ({:.2} per 1000)",
                1000.0 * deaths / population,
                1000.0 * places / population
            );
            assert!((77.0..81.0).contains(&e), "{year}: life expectancy {e}");
            assert!((67.0..71.0).contains(&h), "{year}: healthy {h}");
            let per_1000 = 1000.0 * places / population;
            assert!((2.5..5.0).contains(&per_1000), "{year}: places {per_1000}");
        }
    }

    #[test]
    fn expected_band_populations_match_the_generated_residents() {
        let spec = CountySpec::new(9, 40_000, today());
        let c = county(&spec);
        let mut counted = vec![0.0; AGE_BANDS.len()];
        for r in residents(&spec, &c).filter(|r| r.duplicate_of.is_none()) {
            let age = age_on(r.birth_date, today());
            let k = AGE_BANDS.iter().rposition(|b| age >= b.0).unwrap();
            counted[k] += 1.0;
        }
        let rows = statistics(&spec, &c);
        for (k, (from, ..)) in AGE_BANDS.iter().enumerate() {
            let key = format!("population_{from}");
            let expected = rows
                .iter()
                .find(|r| r.year == 2026 && r.key == key)
                .unwrap()
                .value;
            eprintln!(
                "{from:>2}: expected {expected:>6}, generated {}",
                counted[k]
            );
            let tolerance = 0.25 * expected + 3.0 * expected.sqrt() + 5.0;
            assert!(
                (expected - counted[k]).abs() <= tolerance,
                "band {from}: expected {expected}, generated {}",
                counted[k]
            );
        }
    }

    type Sample = (County, Vec<(ResidentRow, CareRow, Vec<VisitRow>)>);

    /// 20,000 residents of seed 11 with their care and visits, generated once.
    fn sample() -> &'static Sample {
        static SAMPLE: std::sync::OnceLock<Sample> = std::sync::OnceLock::new();
        SAMPLE.get_or_init(|| {
            let spec = CountySpec::new(11, 20_000, today());
            let c = county(&spec);
            let rows = {
                let plan = visits(&spec, &c);
                care(&spec, &c, residents(&spec, &c))
                    .map(|(r, cr)| {
                        let v = plan.visits_of(&r, &cr);
                        (r, cr, v)
                    })
                    .collect()
            };
            (c, rows)
        })
    }

    #[test]
    fn visits_are_deterministic_and_position_independent() {
        let spec = CountySpec::new(11, 20_000, today());
        let (c, rows) = sample();
        let plan = visits(&spec, c);
        for (r, cr, v) in rows.iter().rev().step_by(97) {
            assert_eq!(&plan.visits_of(r, cr), v);
        }
        let other = CountySpec::new(12, 20_000, today());
        let plan = visits(&other, c);
        assert!(
            rows.iter()
                .take(200)
                .any(|(r, cr, v)| &plan.visits_of(r, cr) != v)
        );
    }

    #[test]
    fn visits_have_the_planned_volume_places_and_shapes() {
        let (c, rows) = sample();
        let kind: HashMap<&str, InstitutionKind> = c
            .institutions
            .iter()
            .map(|i| (i.code.as_str(), i.kind))
            .collect();
        let region: HashMap<&str, &str> = c
            .institutions
            .iter()
            .map(|i| (i.code.as_str(), i.region_code.as_str()))
            .collect();
        let township: HashMap<&str, &str> = c
            .villages()
            .map(|v| (v.code.as_str(), v.parent_code.as_deref().unwrap()))
            .collect();
        let first = today() - Duration::days(365);
        let (mut persons, mut total, mut primary, mut inside, mut emergencies) = (0, 0, 0, 0, 0);
        let (mut sundays, mut wednesdays) = (0, 0);
        let mut by_month: BTreeMap<u32, usize> = BTreeMap::new();
        let mut by_town: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut by_age = [(0usize, 0usize); 3];
        let (mut chronic_codes, mut none) = (0, 0);
        for (r, cr, v) in rows {
            if r.duplicate_of.is_some() {
                assert!(v.is_empty(), "a duplicate row has no visits");
                continue;
            }
            persons += 1;
            total += v.len();
            none += usize::from(v.is_empty());
            let age = age_on(r.birth_date, today());
            let group = if age >= 65 {
                2
            } else if (15..45).contains(&age) {
                0
            } else {
                1
            };
            by_age[group].0 += 1;
            by_age[group].1 += v.len();
            let hypertensive = cr
                .enrolments
                .iter()
                .any(|e| e.program == Program::Hypertension);
            assert!(v.windows(2).all(|w| w[0].at <= w[1].at), "in time order");
            for x in v {
                let date = x.at.date();
                assert!(
                    date >= first && date < today() && date >= r.birth_date,
                    "{x:?}"
                );
                let k = kind[x.institution_code.as_str()];
                let is_primary = k.is_primary();
                primary += usize::from(is_primary);
                inside +=
                    usize::from(region[x.institution_code.as_str()].starts_with(&c.county_code));
                let t = by_town.entry(township[r.region_code.as_str()]).or_default();
                t.0 += 1;
                t.1 += usize::from(is_primary);
                match x.encounter_type {
                    EncounterType::Emergency => {
                        emergencies += 1;
                        assert_eq!(k.care_level(), CareLevel::County);
                        assert!(x.title.starts_with("急诊："));
                    }
                    EncounterType::Outpatient => {
                        assert!(x.title.starts_with("门诊："));
                        let minute = x.at.hour() * 60 + x.at.minute();
                        assert!((8 * 60..17 * 60 + 30).contains(&minute), "{x:?}");
                        match date.weekday() {
                            Weekday::Sun => sundays += 1,
                            Weekday::Wed => wednesdays += 1,
                            _ => {}
                        }
                    }
                    other => panic!("unexpected encounter type {other:?}"),
                }
                if x.icd10 == "I10" && hypertensive {
                    chronic_codes += 1;
                }
                *by_month.entry(date.month()).or_default() += 1;
            }
        }
        let share = |a: usize| a as f64 / total as f64;
        let mean = total as f64 / persons as f64;
        let town_shares: Vec<f64> = by_town
            .values()
            .map(|(n, p)| *p as f64 / *n as f64)
            .collect();
        let lo = town_shares.iter().copied().fold(1.0, f64::min);
        let hi = town_shares.iter().copied().fold(0.0, f64::max);
        let per = |(n, v): (usize, usize)| v as f64 / n as f64;
        let winter = by_month[&1] as f64 / by_month[&7] as f64;
        eprintln!(
            "{persons} residents, {total} visits: {mean:.2} per resident (15–44 {:.2}, \
             other under 65 {:.2}, 65+ {:.2}; none {:.3}); primary {:.3}, in county {:.3}, emergency {:.3}; \
             townships' primary shares {lo:.3}–{hi:.3}; January : July {winter:.2}; \
             Sunday : Wednesday {:.2}",
            per(by_age[0]),
            per(by_age[1]),
            per(by_age[2]),
            none as f64 / persons as f64,
            share(primary),
            share(inside),
            share(emergencies),
            sundays as f64 / wednesdays as f64
        );
        assert!((8.0..10.0).contains(&mean), "mean {mean}");
        assert!(
            (0.55..0.66).contains(&share(primary)),
            "primary {}",
            share(primary)
        );
        assert!(
            (0.87..0.93).contains(&share(inside)),
            "in county {}",
            share(inside)
        );
        assert!((0.02..0.04).contains(&share(emergencies)));
        assert!(per(by_age[0]) < per(by_age[1]) && per(by_age[1]) < per(by_age[2]));
        assert!(hi - lo > 0.05, "townships differ: {lo}–{hi}");
        assert!(winter > 1.3, "winter peak {winter}");
        assert!((sundays as f64) < 0.75 * wednesdays as f64);
        assert!(
            chronic_codes > persons / 10,
            "hypertension visits {chronic_codes}"
        );
    }
}
