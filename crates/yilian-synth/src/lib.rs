//! yilian-synth — a deterministic synthetic county (the embedded demo and the
//! benchmark data, SPEC §2.9).
//!
//! [`county`] builds the master data of one fictional county, 青禾县 (code
//! 140599, inside the real 晋城市, 山西省): the region tree down to villages,
//! institutions sized by planning norms, consortia, practitioners and family
//! doctor teams. [`residents`] then streams its residents household by
//! household — China's 2020 age/sex structure, chronic-disease prevalence,
//! valid identity numbers — with a share of deliberate duplicate registrations
//! whose ground truth is [`ResidentRow::duplicate_of`]. [`care`] adds, row by
//! row, family doctor contracts and chronic-program enrolments with a year of
//! follow-ups scheduled by risk colour, and a year of two-way referrals with
//! their event trails and appointments.
//! [`surveillance()`] gives years of daily sentinel counts per township
//! (clinic syndromes, case reports, pharmacy sales, school absences) with
//! injected outbreaks and their ground truth. [`geography()`] lays a road
//! network between the seats and villages, and the township boundaries, for
//! accessibility analysis and maps.
//! [`visits`] gives each resident a year of routine outpatient and emergency
//! visits (the tiered-care pattern: village, township, county, city), and
//! [`statistics()`] the vital statistics other departments report (childcare
//! places, population, deaths and disability by age).
//!
//! Same seed and spec, same bytes: every stage draws from its own ChaCha8
//! stream derived from [`CountySpec::seed`]. Everything is synthetic: names
//! are drawn from lists of common characters, phone numbers from the data-only
//! 14x mobile segments, and the county code does not exist in GB/T 2260.
#![forbid(unsafe_code)]

mod activity;
mod care;
mod county;
mod exams;
mod geo;
mod names;
mod referrals;
mod residents;
mod rng;
mod surveillance;
mod tables;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use activity::{StatRow, VisitPlan, VisitRow, statistics, visits};
pub use care::{
    Adherence, CareRow, ContractRow, EnrolmentFactors, EnrolmentRow, FollowUpRow, PACKAGE_CODES,
};
pub use exams::{ExamItem, GeneratedRead, remote_read};
pub use geo::{Geography, MIN_ROAD_KM, REMOTE_SHARE, RoadClass, RoadEdge, RoadNode};
pub use referrals::{
    AppointmentStatus, NO_SHOW_EXPIRE_DAYS, ReferralAppointment, ReferralEventRow, ReferralRow,
    SLOT_MINUTES, UNANSWERED_EXPIRE_DAYS,
};
pub use surveillance::{
    CHANNELS, DailyCount, InjectedOutbreak, OutbreakKind, SERIES, SurveillanceData,
    SurveillanceSpec, baseline_expectation, surveillance,
};
pub use yilian_domain::chronic::Program;
pub use yilian_domain::id_number::Sex;
pub use yilian_domain::region::RegionLevel;
pub use yilian_domain::registry::{
    BedType, ConsortiumKind, Grade, InstitutionKind, Insurance, Ownership, Profession, Service,
    TeamRole,
};
pub use yilian_domain::resident::KeyPopulation;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountySpec {
    /// The seed of every random draw.
    pub seed: u64,
    /// How many resident rows [`residents`] yields, duplicates included.
    pub residents: usize,
    /// Share of resident rows that are duplicate registrations (default
    /// 0.02; clamped to 0–0.5).
    pub duplicate_rate: f64,
    /// The generation date: no birth date lies after it; ages are taken on it.
    pub today: NaiveDate,
}

impl CountySpec {
    /// A spec with the default duplicate rate of 2 %.
    pub fn new(seed: u64, residents: usize, today: NaiveDate) -> Self {
        Self {
            seed,
            residents,
            duplicate_rate: 0.02,
            today,
        }
    }
}

/// The master data of the synthetic county.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct County {
    /// Six-digit county code, `140599`.
    pub county_code: String,
    /// `青禾县`.
    pub county_name: String,
    /// Province, city, county, then each township followed by its villages.
    pub regions: Vec<RegionRow>,
    pub institutions: Vec<InstitutionRow>,
    pub consortia: Vec<ConsortiumRow>,
    pub practitioners: Vec<PractitionerRow>,
    pub teams: Vec<TeamRow>,
}

impl County {
    /// The village-level regions (村 and 社区), in region order.
    pub fn villages(&self) -> impl Iterator<Item = &RegionRow> {
        self.regions
            .iter()
            .filter(|r| r.level == RegionLevel::Village)
    }
    /// The township-level regions (镇, 乡 and 街道), in region order.
    pub fn townships(&self) -> impl Iterator<Item = &RegionRow> {
        self.regions
            .iter()
            .filter(|r| r.level == RegionLevel::Township)
    }
}

/// A region: 6-digit province/city/county codes, 9-digit townships, 12-digit villages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent_code: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Resident rows generated in the region (county and below); `None` above.
    pub population: Option<i64>,
}

/// A health institution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstitutionRow {
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub grade: Option<Grade>,
    pub ownership: Ownership,
    pub region_code: String,
    pub address: String,
    pub lon: f64,
    pub lat: f64,
    pub beds: Vec<(BedType, i64)>,
    pub staff: Vec<(Profession, i64)>,
    pub services: Vec<Service>,
}

/// A consortium (医共体, 专科联盟, 远程医疗协作网).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsortiumRow {
    pub code: String,
    pub name: String,
    pub kind: ConsortiumKind,
    pub lead_code: String,
    pub region_code: String,
    /// Member institutions, the lead excluded.
    pub member_codes: Vec<String>,
}

/// A practitioner; `site_codes[0]` is the main site, a second one is 多点执业.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PractitionerRow {
    pub code: String,
    pub name: String,
    pub sex: Sex,
    pub profession: Profession,
    pub specialty: Option<String>,
    pub is_gp: bool,
    pub is_tcm: bool,
    pub phone: String,
    pub site_codes: Vec<String>,
}

/// A family doctor team of a township health center or community health center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub code: String,
    pub name: String,
    pub institution_code: String,
    /// Contracted residents the team can serve: 2000 per physician member.
    pub capacity: i64,
    /// Practitioner codes with roles; exactly one [`TeamRole::Lead`], a GP physician.
    pub members: Vec<(String, TeamRole)>,
}

/// One resident registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidentRow {
    /// 0, 1, 2, … in stream order.
    pub key: u64,
    pub id_number: String,
    pub name: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub phone: String,
    /// The 12-digit village (村/社区) code.
    pub region_code: String,
    pub address: String,
    pub household_code: String,
    pub insurance: Insurance,
    /// Recorded key-population tags only (never the age-derived ones), sorted.
    pub tags: Vec<KeyPopulation>,
    /// Ground truth for matching: `Some(key)` of the original registration if
    /// this row is a duplicate of it (always an earlier, non-duplicate row).
    pub duplicate_of: Option<u64>,
}

/// Builds the county's master data. Deterministic in `spec.seed`,
/// `spec.residents` and `spec.today` (practitioners' name fashions follow their
/// birth years); `spec.duplicate_rate` does not affect it.
pub fn county(spec: &CountySpec) -> County {
    county::build(spec)
}

/// Streams exactly `spec.residents` resident rows of `county`, household by
/// household and village by village, in constant memory (apart from a table
/// of used identity-number sequences per birth date and address code).
/// Deterministic: the same spec and county give the same rows.
///
/// `county` should be `county(spec)`: the rows follow its village
/// populations, so a county built for fewer residents ends the stream early.
pub fn residents<'a>(
    spec: &'a CountySpec,
    county: &'a County,
) -> impl Iterator<Item = ResidentRow> + 'a {
    residents::Residents::new(spec, county)
}

/// Streams care rows parallel to `residents(spec, county)`: the same rows in
/// the same order, each with its [`CareRow`] — family doctor contract,
/// chronic-program enrolments with a year of follow-ups up to `spec.today`,
/// and the referrals (up, down and lateral) of that year as they stand at the
/// start of `spec.today` (see [`ContractRow`], [`EnrolmentRow`],
/// [`FollowUpRow`] and [`ReferralRow`] for the rates and distributions).
/// Duplicate rows (`duplicate_of.is_some()`) get an empty `CareRow`: a
/// duplicate registration never carries a contract or a referral.
///
/// Each row's care is decided from the row and the county alone, from a
/// random stream seeded by `spec.seed` and the row's key (and its household
/// code for household-level choices), so it does not depend on the stream
/// position: the same spec gives the same output. Memory is constant apart
/// from a village → team table built once.
pub fn care<'a>(
    spec: &'a CountySpec,
    county: &'a County,
    residents: impl Iterator<Item = ResidentRow> + 'a,
) -> impl Iterator<Item = (ResidentRow, CareRow)> + 'a {
    let plan = care::Plan::new(spec, county);
    let referrals = referrals::Plan::new(spec, county);
    residents.map(move |row| {
        let mut care = plan.care_of(&row);
        care.referrals = referrals.referrals_of(&row, &care);
        (row, care)
    })
}

/// The county's road network (a node per seat and village, county, township,
/// village and mountain roads with their lengths and minutes) and its
/// boundaries as GeoJSON; see [`Geography`]. Deterministic in `spec.seed` and
/// `county`, which should be `county(spec)`.
pub fn geography(spec: &CountySpec, county: &County) -> Geography {
    geo::build(spec, county)
}
