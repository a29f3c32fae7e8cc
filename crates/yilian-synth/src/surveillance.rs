//! 监测预警 — daily sentinel counts per township with injected outbreaks and
//! their ground truth (SPEC §2.8, §2.9), the input of the early-warning
//! algorithms and of their quality measures (sensitivity, false alerts, days
//! to detection).
//!
//! # The period
//!
//! [`SurveillanceSpec::years`] full calendar years before the year of
//! [`SurveillanceSpec::today`] (default 5, what the moving percentile method
//! needs: the current 7 days against the same 5-week windows of the previous
//! years), then the current year up to and including `today`. Nothing is
//! dated after `today`.
//!
//! # The baseline
//!
//! Each township (region level 镇/乡/街道, with its population) has one series
//! per (channel, code) of [`SERIES`] — 25 in all. The expected count of a day
//! is
//!
//! > rate per 100 000 × population / 100 000 × season(day of year)
//! > × weekday(channel) × year(season group) × township factor,
//!
//! and the count is drawn Poisson with a daily log-normal multiplier of mean 1
//! (σ = 0.15 for the clinics, 0.2 for pharmacies and schools, none for case
//! reports): a Poisson–log-normal with modest overdispersion, variance
//! λ + (e^{σ²} − 1)·λ². The Poisson sampler is Knuth's below λ = 10 and
//! Hörmann's PTRS above.
//!
//! Rates per 100 000 residents per day, as a yearly mean (school absences per
//! school day). The clinic rates assume about 2.4 township-centre visits per
//! resident a year with ILI ≈ 3 % of visits; case reports follow China's
//! yearly notified incidence (influenza ≈ 200, HFMD ≈ 140, other infectious
//! diarrhoea ≈ 90, chickenpox ≈ 50, mumps ≈ 10, scarlet fever ≈ 5,
//! dysentery ≈ 3, hepatitis A ≈ 1, measles ≈ 0.1 per 100 000 a year):
//!
//! | channel | code | rate | season |
//! |---|---|---|---|
//! | `outpatient` 门诊症状监测 | `fever` / `respiratory` / `ili` | 30 / 60 / 20 | winter (damped / damped / full) |
//! | | `diarrhea` | 15 | summer |
//! | | `rash` / `hfmd` / `jaundice` | 3 / 0.8 / 0.3 | school terms / HFMD / flat |
//! | `fever_clinic` 发热门诊 | `fever` / `respiratory` / `ili` | 12 / 10 / 6 | winter |
//! | `case_report` 法定传染病报告 | `influenza` / `hfmd` / `infectious_diarrhea` | 0.55 / 0.38 / 0.25 | winter (sharp) / HFMD / summer |
//! | | `bacillary_dysentery` | 0.008 | summer (sharp) |
//! | | `chickenpox` / `mumps` / `scarlet_fever` | 0.14 / 0.03 / 0.014 | school terms |
//! | | `hepatitis_a` / `measles` | 0.003 / 0.0003 | flat |
//! | `pharmacy` 药店哨点 | `antipyretic` / `cough` / `antidiarrheal` | 80 / 70 / 25 | winter (damped) / summer |
//! | `school_absence` 学校因病缺课 | `fever` / `gastrointestinal` / `rash` | 30 / 10 / 2 | winter / summer / school terms |
//!
//! So a township of 5 000 sees about 1 outpatient ILI a day (2–3 in a winter
//! peak, under 0.5 in summer) and a case report of influenza every month or so
//! outside the season; a county of 100 000 about 20 ILI and half an
//! influenza report a day.
//!
//! Seasons are monthly profiles (interpolated linearly between mid-months,
//! normalised to a yearly mean of 1, raised to a power for damped or sharp
//! variants): *winter* (influenza-like) peaks Dec–Feb with a smaller
//! March–April bump, about 6 : 1 winter to summer at full strength; *summer*
//! (enteric) peaks Jul–Aug, about 2.3 : 1; *HFMD* peaks May–June with a smaller
//! Oct–Nov wave; *school terms* (rash illnesses) peak Apr–Jun and Nov–Dec.
//!
//! Weekdays (Mon…Sun): outpatient 1.18 1.08 1.04 1.02 1.00 0.88 0.80; fever
//! clinic 1.10 1.04 1.00 1.00 1.00 0.96 0.90; pharmacy 0.95 0.96 0.96 0.97
//! 1.00 1.10 1.06; case reports (by onset date) flat; school absences 1.10
//! 1.00 0.97 0.96 0.97 on school days and zero on weekends and in the
//! holidays of a simplified calendar: 15 Jan – end of Feb, 10 Jul – 31 Aug and
//! 1–7 Oct.
//!
//! The year factor is drawn per season group and year (winter ±30 %, others
//! ±12 %, flat ±12 %), anchored at mid-January for the winter group (one
//! intensity per flu season) and at 1 July for the others, and interpolated
//! linearly in between, so it has no jumps. The township factor (0.85–1.15 per
//! channel × 0.9–1.1 per series) stands for how busy its sentinels are.
//!
//! # Outbreaks
//!
//! `round(outbreaks_per_year × days / 365.25)` outbreaks (default 3 a year),
//! one in each of as many equal slots of the period, so they spread over
//! it. The kind is drawn by its season (sharpened) at the start date (school kinds only
//! in term): an influenza cluster, a norovirus-like diarrhoea cluster, HFMD
//! in a kindergarten, chickenpox or mumps in a school, a bacillary dysentery
//! outbreak ([`OutbreakKind`]). The place is a township drawn by population;
//! some spread to the nearest township (20–40 % of the cases, 1–3 days
//! later). The size, 10–80 extra cases, follows an epidemic curve
//! (a beta(2.5, 3.5)-like shape peaking about 40 % into the 3–21 days), and
//! each signature channel gets its share of the cases, each case placed on a
//! day of the curve plus the channel's lag: pharmacy sales on the onset day
//! (lag 0), absences the next school day (lag 1), clinic syndromes 1–2 days
//! after onset, case reports 1–3 days after the clinic (a share of
//! 30–60 % of the cases). The extra counts are added to the baseline, and
//! every outbreak lies, lags included, inside the period.
//!
//! The baseline of each series comes from its own random stream (seed,
//! township, series); the outbreaks from the surveillance stage stream. The baseline
//! is therefore the same whatever `outbreaks_per_year` is: a run with 0
//! gives the exact counterfactual of a run with outbreaks.
//!
//! # The rows
//!
//! [`SurveillanceData::counts`] omits days with a count of zero, and is
//! ordered by township code, then series in [`SERIES`] order, then date;
//! [`SurveillanceData::series`] gives one series densely.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::County;
use crate::rng::{Stage, Weighted, chance, mix64, stage_rng, unit};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveillanceSpec {
    /// The seed of every random draw.
    pub seed: u64,
    /// The last day with counts.
    pub today: NaiveDate,
    /// Full calendar years of history before the year of `today` (default
    /// 5; at most 30).
    pub years: u32,
    /// Injected outbreaks per year of the period (default 3; 0 for none).
    pub outbreaks_per_year: f64,
}

impl SurveillanceSpec {
    /// A spec with 5 years of history and 3 outbreaks a year.
    pub fn new(seed: u64, today: NaiveDate) -> Self {
        Self {
            seed,
            today,
            years: 5,
            outbreaks_per_year: 3.0,
        }
    }

    /// The first day of the period: 1 January, `years` years before `today`'s.
    pub fn start(&self) -> NaiveDate {
        let year = self.today.year() - self.years.min(MAX_YEARS) as i32;
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(self.today)
    }
}

/// The count of one township, channel, code and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCount {
    pub date: NaiveDate,
    /// The 9-digit township code.
    pub township_code: String,
    /// One of [`CHANNELS`].
    pub channel: &'static str,
    /// A syndrome, disease or drug code of the channel (see [`SERIES`]).
    pub code: &'static str,
    pub count: u32,
}

/// The kinds of injected outbreaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutbreakKind {
    /// 流感样病例聚集性疫情, in a school or the community, Nov–Apr mostly.
    Influenza,
    /// 诺如病毒样感染性腹泻聚集, in a school or the community, Oct–Mar mostly.
    Norovirus,
    /// 托幼机构手足口病聚集, Apr–Jul and Oct–Nov.
    Hfmd,
    /// 学校水痘聚集, in term.
    Chickenpox,
    /// 学校流行性腮腺炎聚集, in term.
    Mumps,
    /// 细菌性痢疾暴发 (food- or water-borne), in summer.
    Dysentery,
}

impl OutbreakKind {
    pub const ALL: [OutbreakKind; 6] = [
        OutbreakKind::Influenza,
        OutbreakKind::Norovirus,
        OutbreakKind::Hfmd,
        OutbreakKind::Chickenpox,
        OutbreakKind::Mumps,
        OutbreakKind::Dysentery,
    ];

    /// A stable code.
    pub fn code(self) -> &'static str {
        match self {
            OutbreakKind::Influenza => "influenza_cluster",
            OutbreakKind::Norovirus => "norovirus_diarrhea",
            OutbreakKind::Hfmd => "hfmd_kindergarten",
            OutbreakKind::Chickenpox => "chickenpox_school",
            OutbreakKind::Mumps => "mumps_school",
            OutbreakKind::Dysentery => "bacillary_dysentery",
        }
    }

    /// Its name in an event record.
    pub fn name_zh(self) -> &'static str {
        match self {
            OutbreakKind::Influenza => "流感样病例聚集性疫情",
            OutbreakKind::Norovirus => "诺如病毒感染性腹泻聚集性疫情",
            OutbreakKind::Hfmd => "托幼机构手足口病聚集性疫情",
            OutbreakKind::Chickenpox => "学校水痘聚集性疫情",
            OutbreakKind::Mumps => "学校流行性腮腺炎聚集性疫情",
            OutbreakKind::Dysentery => "细菌性痢疾暴发",
        }
    }

    /// Relative frequency before the season.
    fn weight(self) -> f64 {
        match self {
            OutbreakKind::Influenza | OutbreakKind::Norovirus => 3.0,
            OutbreakKind::Hfmd | OutbreakKind::Chickenpox => 2.0,
            OutbreakKind::Mumps => 0.7,
            OutbreakKind::Dysentery => 0.8,
        }
    }

    fn season(self) -> Season {
        match self {
            OutbreakKind::Influenza => Season::Winter,
            OutbreakKind::Norovirus => Season::Norovirus,
            OutbreakKind::Hfmd => Season::Hfmd,
            OutbreakKind::Chickenpox | OutbreakKind::Mumps => Season::Term,
            OutbreakKind::Dysentery => Season::Summer,
        }
    }

    /// Chance of a school (or kindergarten) setting when school is in term.
    fn school_chance(self) -> f64 {
        match self {
            OutbreakKind::Influenza => 0.6,
            OutbreakKind::Norovirus => 0.5,
            OutbreakKind::Hfmd | OutbreakKind::Chickenpox | OutbreakKind::Mumps => 1.0,
            OutbreakKind::Dysentery => 0.0,
        }
    }

    /// Chance of spreading to the nearest township.
    fn spread_chance(self) -> f64 {
        match self {
            OutbreakKind::Influenza | OutbreakKind::Hfmd => 0.35,
            OutbreakKind::Dysentery => 0.3,
            OutbreakKind::Norovirus => 0.2,
            OutbreakKind::Chickenpox | OutbreakKind::Mumps => 0.1,
        }
    }

    /// Duration range in days.
    fn duration(self) -> (u32, u32) {
        match self {
            OutbreakKind::Influenza => (7, 18),
            OutbreakKind::Norovirus => (3, 8),
            OutbreakKind::Hfmd => (8, 21),
            OutbreakKind::Chickenpox | OutbreakKind::Mumps => (12, 21),
            OutbreakKind::Dysentery => (4, 10),
        }
    }

    /// Size range in extra cases.
    fn size(self) -> (u32, u32) {
        match self {
            OutbreakKind::Influenza | OutbreakKind::Norovirus => (20, 80),
            OutbreakKind::Hfmd | OutbreakKind::Chickenpox | OutbreakKind::Dysentery => (10, 40),
            OutbreakKind::Mumps => (10, 30),
        }
    }

    /// The channels it shows in: (channel, code, lag, share of the cases).
    fn signature(self, school: bool) -> Vec<(Ch, &'static str, Lag, f64)> {
        use Ch::*;
        use Lag::*;
        let mut out = match self {
            OutbreakKind::Influenza => vec![
                (Pharmacy, "antipyretic", Onset, 0.45),
                (Pharmacy, "cough", Onset, 0.3),
                (Outpatient, "ili", Clinic, 0.55),
                (Outpatient, "fever", Clinic, 0.35),
                (Outpatient, "respiratory", Clinic, 0.25),
                (FeverClinic, "fever", Clinic, 0.25),
                (FeverClinic, "ili", Clinic, 0.2),
                (CaseReport, "influenza", Report, 0.35),
            ],
            OutbreakKind::Norovirus => vec![
                (Pharmacy, "antidiarrheal", Onset, 0.4),
                (Outpatient, "diarrhea", Clinic, 0.55),
                (CaseReport, "infectious_diarrhea", Report, 0.3),
            ],
            OutbreakKind::Hfmd => vec![
                (Pharmacy, "antipyretic", Onset, 0.2),
                (Outpatient, "hfmd", Clinic, 0.55),
                (Outpatient, "rash", Clinic, 0.25),
                (Outpatient, "fever", Clinic, 0.3),
                (CaseReport, "hfmd", Report, 0.5),
            ],
            OutbreakKind::Chickenpox => vec![
                (Outpatient, "rash", Clinic, 0.5),
                (Outpatient, "fever", Clinic, 0.15),
                (CaseReport, "chickenpox", Report, 0.6),
            ],
            OutbreakKind::Mumps => vec![
                (Outpatient, "fever", Clinic, 0.25),
                (CaseReport, "mumps", Report, 0.6),
            ],
            OutbreakKind::Dysentery => vec![
                (Pharmacy, "antidiarrheal", Onset, 0.3),
                (Outpatient, "diarrhea", Clinic, 0.6),
                (Outpatient, "fever", Clinic, 0.3),
                (CaseReport, "bacillary_dysentery", Report, 0.4),
            ],
        };
        if school {
            out.extend(match self {
                OutbreakKind::Influenza => vec![(SchoolAbsence, "fever", Absence, 0.5)],
                OutbreakKind::Norovirus => vec![(SchoolAbsence, "gastrointestinal", Absence, 0.55)],
                OutbreakKind::Hfmd => vec![
                    (SchoolAbsence, "rash", Absence, 0.3),
                    (SchoolAbsence, "fever", Absence, 0.25),
                ],
                OutbreakKind::Chickenpox => vec![
                    (SchoolAbsence, "rash", Absence, 0.6),
                    (SchoolAbsence, "fever", Absence, 0.2),
                ],
                OutbreakKind::Mumps => vec![(SchoolAbsence, "fever", Absence, 0.4)],
                OutbreakKind::Dysentery => vec![],
            });
        }
        out
    }
}

/// The ground truth of one injected outbreak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectedOutbreak {
    /// `140599-OB001`, … in start order.
    pub id: String,
    pub kind: OutbreakKind,
    /// Where it starts (9-digit township code).
    pub township_code: String,
    /// The neighbouring township it spread to, if any (its cases start 1–3
    /// days later and end by `end`).
    pub neighbours_also: Vec<String>,
    /// Onset of the first day and the last day of the epidemic curve.
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Total extra cases (the epidemic), of which each channel sees a share.
    pub size: u32,
    /// (channel, code, lag in days): its extra counts lie within
    /// `[start + lag, end + lag]`, in the township and its neighbours.
    pub channels: Vec<(String, String, i64)>,
    /// The extra counts added per entry of `channels`, places summed.
    pub channel_cases: Vec<u32>,
    /// A school or kindergarten setting (absences are signalled).
    pub in_school: bool,
}

/// The generated counts and the outbreaks injected into them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveillanceData {
    /// The first and last day of the period (both with counts).
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The non-zero counts, ordered by township code, series (in [`SERIES`]
    /// order), date.
    pub counts: Vec<DailyCount>,
    /// In start order.
    pub outbreaks: Vec<InjectedOutbreak>,
}

impl SurveillanceData {
    /// The non-zero rows of one series, in date order (empty if unknown).
    pub fn rows_of(&self, township_code: &str, channel: &str, code: &str) -> &[DailyCount] {
        let Some(s) = series_index(channel, code) else {
            return &[];
        };
        let lo = self
            .counts
            .partition_point(|r| row_key(r) < (township_code, s));
        let hi = self
            .counts
            .partition_point(|r| row_key(r) <= (township_code, s));
        &self.counts[lo..hi.max(lo)]
    }

    /// One series densely: every day of the period with its count, zeros
    /// included (all zeros for an unknown township or series).
    pub fn series<'a>(
        &'a self,
        township_code: &str,
        channel: &str,
        code: &str,
    ) -> impl Iterator<Item = (NaiveDate, u32)> + 'a {
        let mut rows = self.rows_of(township_code, channel, code).iter().peekable();
        let end = self.end;
        self.start
            .iter_days()
            .take_while(move |d| *d <= end)
            .map(move |d| (d, rows.next_if(|r| r.date == d).map_or(0, |r| r.count)))
    }
}

/// The channels, in output order.
pub const CHANNELS: [&str; 5] = [
    Ch::Outpatient.code(),
    Ch::FeverClinic.code(),
    Ch::CaseReport.code(),
    Ch::Pharmacy.code(),
    Ch::SchoolAbsence.code(),
];

/// Every (channel, code) series of a township, in output order.
pub const SERIES: [(&str, &str); N_SERIES] = {
    let mut out = [("", ""); N_SERIES];
    let mut i = 0;
    while i < N_SERIES {
        out[i] = (DEFS[i].ch.code(), DEFS[i].code);
        i += 1;
    }
    out
};

/// Generates the counts and outbreaks of `county`'s townships over the
/// spec's period. Deterministic in the spec and the county's townships
/// (codes, populations and positions).
pub fn surveillance(county: &County, spec: &SurveillanceSpec) -> SurveillanceData {
    let model = Model::new(county, spec);
    let (outbreaks, extras) = plan(&model, &county.county_code, spec);
    let mut counts = Vec::new();
    for (t, town) in model.towns.iter().enumerate() {
        for (s, def) in DEFS.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(mix64(
                spec.seed ^ mix64(SERIES_SALT ^ town.key ^ ((s as u64) << 48)),
            ));
            let factor = model.town_factor(spec.seed, town, s);
            let extra = extras.get(&(t, s));
            let sigma = def.ch.sigma();
            for i in 0..model.days {
                let lambda = model.expected(town, s, i, factor);
                let mut count = if lambda > 0.0 {
                    let noise = if sigma > 0.0 {
                        (sigma * normal(&mut rng) - sigma * sigma / 2.0).exp()
                    } else {
                        1.0
                    };
                    poisson(&mut rng, lambda * noise)
                } else {
                    0
                };
                count += extra.map_or(0, |e| e[i]);
                if count > 0 {
                    counts.push(DailyCount {
                        date: model.date(i),
                        township_code: town.code.clone(),
                        channel: def.ch.code(),
                        code: def.code,
                        count,
                    });
                }
            }
        }
    }
    SurveillanceData {
        start: model.start,
        end: model.date(model.days.saturating_sub(1)),
        counts,
        outbreaks,
    }
}

/// The baseline expectation (outbreaks excluded) of one series, for every day
/// of the period; empty for an unknown township or series.
pub fn baseline_expectation(
    county: &County,
    spec: &SurveillanceSpec,
    township_code: &str,
    channel: &str,
    code: &str,
) -> Vec<(NaiveDate, f64)> {
    let model = Model::new(county, spec);
    let (Some(town), Some(s)) = (
        model.towns.iter().find(|t| t.code == township_code),
        series_index(channel, code),
    ) else {
        return Vec::new();
    };
    let factor = model.town_factor(spec.seed, town, s);
    (0..model.days)
        .map(|i| (model.date(i), model.expected(town, s, i, factor)))
        .collect()
}

const MAX_YEARS: u32 = 30;
const N_SERIES: usize = 25;
/// The longest outbreak and the longest lag (clinic 2 + report 3).
const MAX_DURATION: i64 = 21;
const MAX_LAG: i64 = 5;
const SERIES_SALT: u64 = 0x005E_41E5;
const YEAR_SALT: u64 = 0x007E_A4F0;
const TOWN_SALT: u64 = 0x0070_A1F0;

/// A channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ch {
    Outpatient,
    FeverClinic,
    CaseReport,
    Pharmacy,
    SchoolAbsence,
}

impl Ch {
    const fn code(self) -> &'static str {
        match self {
            Ch::Outpatient => "outpatient",
            Ch::FeverClinic => "fever_clinic",
            Ch::CaseReport => "case_report",
            Ch::Pharmacy => "pharmacy",
            Ch::SchoolAbsence => "school_absence",
        }
    }

    /// Mon…Sun factors.
    fn weekday(self) -> [f64; 7] {
        match self {
            Ch::Outpatient => [1.18, 1.08, 1.04, 1.02, 1.0, 0.88, 0.80],
            Ch::FeverClinic => [1.10, 1.04, 1.0, 1.0, 1.0, 0.96, 0.90],
            Ch::CaseReport => [1.0; 7],
            Ch::Pharmacy => [0.95, 0.96, 0.96, 0.97, 1.0, 1.10, 1.06],
            Ch::SchoolAbsence => [1.10, 1.0, 0.97, 0.96, 0.97, 0.0, 0.0],
        }
    }

    /// σ of the daily log-normal multiplier.
    fn sigma(self) -> f64 {
        match self {
            Ch::Outpatient | Ch::FeverClinic => 0.15,
            Ch::CaseReport => 0.0,
            Ch::Pharmacy | Ch::SchoolAbsence => 0.2,
        }
    }
}

/// When a channel sees a case, relative to its onset.
#[derive(Debug, Clone, Copy)]
enum Lag {
    /// Pharmacy purchase: the onset day.
    Onset,
    /// School absence: the next day.
    Absence,
    /// Clinic visit: 1–2 days after onset (drawn per outbreak).
    Clinic,
    /// Case report by diagnosis: 1–3 days after the clinic visit.
    Report,
}

/// A seasonal profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Season {
    Winter,
    Summer,
    Hfmd,
    Term,
    Flat,
    Norovirus,
}

impl Season {
    const ALL: [Season; 6] = [
        Season::Winter,
        Season::Summer,
        Season::Hfmd,
        Season::Term,
        Season::Flat,
        Season::Norovirus,
    ];

    /// Jan…Dec relative levels at mid-month.
    fn monthly(self) -> [f64; 12] {
        match self {
            Season::Winter => [2.5, 1.8, 1.1, 1.2, 0.7, 0.45, 0.4, 0.4, 0.45, 0.6, 1.1, 2.2],
            Season::Summer => [
                0.75, 0.7, 0.65, 0.75, 0.95, 1.25, 1.75, 1.8, 1.3, 0.95, 0.85, 0.8,
            ],
            Season::Hfmd => [0.2, 0.15, 0.3, 0.9, 1.9, 2.3, 1.7, 0.9, 0.8, 1.2, 1.1, 0.5],
            Season::Term => [
                0.8, 0.45, 0.75, 1.2, 1.5, 1.35, 0.65, 0.45, 0.7, 1.0, 1.4, 1.5,
            ],
            Season::Flat => [1.0; 12],
            Season::Norovirus => [1.5, 1.2, 1.3, 1.1, 0.8, 0.6, 0.5, 0.5, 0.7, 1.1, 1.4, 1.6],
        }
    }

    /// Half-width of the year factor.
    fn year_spread(self) -> f64 {
        match self {
            Season::Winter => 0.3,
            _ => 0.12,
        }
    }

    /// The day a year's factor applies fully.
    fn anchor(self, year: i32) -> NaiveDate {
        let (m, d) = match self {
            Season::Winter => (1, 15),
            _ => (7, 1),
        };
        NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN)
    }

    /// Factors for day of year 0…365, yearly mean 1, raised to `power`
    /// before normalising.
    fn table(self, power: f64) -> Vec<f64> {
        let m = self.monthly();
        let raw: Vec<f64> = (0..366)
            .map(|doy| {
                let pos = (doy as f64 + 0.5 - 15.22) / 30.4375;
                let k = pos.floor();
                let t = pos - k;
                let i = (k as i64).rem_euclid(12) as usize;
                let j = (i + 1) % 12;
                (m[i] * (1.0 - t) + m[j] * t).powf(power)
            })
            .collect();
        let mean = raw[..365].iter().sum::<f64>() / 365.0;
        raw.into_iter().map(|v| v / mean).collect()
    }
}

/// A series: channel, code, rate per 100 000 per day, season and its power.
#[derive(Debug)]
struct Def {
    ch: Ch,
    code: &'static str,
    rate: f64,
    season: Season,
    power: f64,
}

const fn def(ch: Ch, code: &'static str, rate: f64, season: Season, power: f64) -> Def {
    Def {
        ch,
        code,
        rate,
        season,
        power,
    }
}

const DEFS: [Def; N_SERIES] = {
    use Ch::*;
    use Season::*;
    [
        def(Outpatient, "fever", 30.0, Winter, 0.6),
        def(Outpatient, "respiratory", 60.0, Winter, 0.6),
        def(Outpatient, "ili", 20.0, Winter, 1.0),
        def(Outpatient, "diarrhea", 15.0, Summer, 1.0),
        def(Outpatient, "rash", 3.0, Term, 0.8),
        def(Outpatient, "hfmd", 0.8, Hfmd, 1.0),
        def(Outpatient, "jaundice", 0.3, Flat, 1.0),
        def(FeverClinic, "fever", 12.0, Winter, 0.7),
        def(FeverClinic, "respiratory", 10.0, Winter, 0.7),
        def(FeverClinic, "ili", 6.0, Winter, 1.0),
        def(CaseReport, "influenza", 0.55, Winter, 1.3),
        def(CaseReport, "hfmd", 0.38, Hfmd, 1.0),
        def(CaseReport, "infectious_diarrhea", 0.25, Summer, 1.0),
        def(CaseReport, "bacillary_dysentery", 0.008, Summer, 1.4),
        def(CaseReport, "chickenpox", 0.14, Term, 1.0),
        def(CaseReport, "mumps", 0.03, Term, 0.8),
        def(CaseReport, "scarlet_fever", 0.014, Term, 1.0),
        def(CaseReport, "hepatitis_a", 0.003, Flat, 1.0),
        def(CaseReport, "measles", 0.0003, Flat, 1.0),
        def(Pharmacy, "antipyretic", 80.0, Winter, 0.6),
        def(Pharmacy, "antidiarrheal", 25.0, Summer, 0.8),
        def(Pharmacy, "cough", 70.0, Winter, 0.6),
        def(SchoolAbsence, "fever", 30.0, Winter, 0.7),
        def(SchoolAbsence, "gastrointestinal", 10.0, Summer, 0.8),
        def(SchoolAbsence, "rash", 2.0, Term, 1.0),
    ]
};

fn series_index(channel: &str, code: &str) -> Option<usize> {
    SERIES.iter().position(|(c, k)| *c == channel && *k == code)
}

/// The ordering key of a row within [`SurveillanceData::counts`] (dates aside).
fn row_key(r: &DailyCount) -> (&str, usize) {
    (
        r.township_code.as_str(),
        series_index(r.channel, r.code).unwrap_or(usize::MAX),
    )
}

/// School is in term on `d` (weekends aside).
fn in_term(d: NaiveDate) -> bool {
    !matches!(
        (d.month(), d.day()),
        (1, 15..) | (2, _) | (7, 10..) | (8, _) | (10, 1..=7)
    )
}

fn school_day(d: NaiveDate) -> bool {
    in_term(d) && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// FNV-1a of a string, to key streams by township code.
fn key_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug)]
struct Town {
    code: String,
    pop: f64,
    lon: f64,
    lat: f64,
    key: u64,
}

/// Everything the expectation needs, per day of the period.
#[derive(Debug)]
struct Model {
    start: NaiveDate,
    days: usize,
    /// Sorted by code.
    towns: Vec<Town>,
    /// Per series, by day of year.
    season: Vec<Vec<f64>>,
    /// Per [`Season`], by day of the period.
    year: Vec<Vec<f64>>,
    doy: Vec<usize>,
    weekday: Vec<usize>,
    school: Vec<bool>,
}

impl Model {
    fn new(county: &County, spec: &SurveillanceSpec) -> Self {
        let start = spec.start();
        let days = usize::try_from((spec.today - start).num_days() + 1).unwrap_or(0);
        let mut towns: Vec<Town> = county
            .townships()
            .map(|r| Town {
                code: r.code.clone(),
                pop: r.population.unwrap_or(0).max(0) as f64,
                lon: r.lon.unwrap_or(0.0),
                lat: r.lat.unwrap_or(0.0),
                key: key_of(&r.code),
            })
            .collect();
        towns.sort_by(|a, b| a.code.cmp(&b.code));
        let dates: Vec<NaiveDate> = start.iter_days().take(days).collect();
        let year = Season::ALL
            .iter()
            .map(|season| {
                let f = |y: i32| {
                    let u = unit(mix64(
                        spec.seed ^ mix64(YEAR_SALT ^ ((*season as u64) << 40) ^ y as u64),
                    ));
                    1.0 + season.year_spread() * (2.0 * u - 1.0)
                };
                dates
                    .iter()
                    .map(|d| {
                        let mut y = d.year();
                        if *d < season.anchor(y) {
                            y -= 1;
                        }
                        let (a0, a1) = (season.anchor(y), season.anchor(y + 1));
                        let t = (*d - a0).num_days() as f64 / (a1 - a0).num_days() as f64;
                        f(y) * (1.0 - t) + f(y + 1) * t
                    })
                    .collect()
            })
            .collect();
        Self {
            start,
            days,
            towns,
            season: DEFS.iter().map(|d| d.season.table(d.power)).collect(),
            year,
            doy: dates.iter().map(|d| d.ordinal0() as usize).collect(),
            weekday: dates
                .iter()
                .map(|d| d.weekday().num_days_from_monday() as usize)
                .collect(),
            school: dates.iter().map(|d| school_day(*d)).collect(),
        }
    }

    fn date(&self, i: usize) -> NaiveDate {
        self.start + Duration::days(i as i64)
    }

    /// How busy the township's sentinels of series `s` are: 0.85–1.15 per
    /// channel × 0.9–1.1 per series.
    fn town_factor(&self, seed: u64, town: &Town, s: usize) -> f64 {
        let ch = DEFS[s].ch as u64;
        let u = unit(mix64(seed ^ mix64(TOWN_SALT ^ town.key ^ (ch << 56))));
        let v = unit(mix64(
            seed ^ mix64(TOWN_SALT ^ town.key ^ ((s as u64 + 8) << 56)),
        ));
        (0.85 + 0.3 * u) * (0.9 + 0.2 * v)
    }

    /// The expected baseline count of series `s` of `town` on day `i`.
    fn expected(&self, town: &Town, s: usize, i: usize, town_factor: f64) -> f64 {
        let d = &DEFS[s];
        if d.ch == Ch::SchoolAbsence && !self.school[i] {
            return 0.0;
        }
        d.rate * town.pop / 1e5
            * town_factor
            * self.season[s][self.doy[i]]
            * d.ch.weekday()[self.weekday[i]]
            * self.year[d.season as usize][i]
    }

    /// The township nearest to `t` (by position), if another exists.
    fn nearest(&self, t: usize) -> Option<usize> {
        let a = &self.towns[t];
        let cos = a.lat.to_radians().cos();
        (0..self.towns.len()).filter(|&u| u != t).min_by(|&u, &v| {
            let d = |b: &Town| ((b.lon - a.lon) * cos).powi(2) + (b.lat - a.lat).powi(2);
            d(&self.towns[u]).total_cmp(&d(&self.towns[v]))
        })
    }
}

/// Extra counts per (township, series), densely by day of the period.
type Extras = HashMap<(usize, usize), Vec<u32>>;

/// Draws the outbreaks and their extra counts.
fn plan(
    model: &Model,
    county_code: &str,
    spec: &SurveillanceSpec,
) -> (Vec<InjectedOutbreak>, Extras) {
    let mut extras = Extras::new();
    let mut outbreaks = Vec::new();
    let mut rng = stage_rng(spec.seed, Stage::Surveillance);
    let per_year = if spec.outbreaks_per_year.is_finite() {
        spec.outbreaks_per_year.clamp(0.0, 50.0)
    } else {
        0.0
    };
    let days = model.days;
    let n = (per_year * days as f64 / 365.25).round() as usize;
    let last = days as i64 - MAX_DURATION - MAX_LAG;
    if n == 0 || last < 0 || model.towns.is_empty() {
        return (outbreaks, extras);
    }
    let last = last as usize;
    let towns = Weighted::new(model.towns.iter().map(|t| t.pop as u64 + 1));
    let kind_seasons: Vec<Vec<f64>> = OutbreakKind::ALL
        .iter()
        .map(|k| k.season().table(1.5))
        .collect();
    for k in 0..n {
        let lo = k * days / n;
        let hi = ((k + 1) * days / n).max(lo + 1);
        let day = rng.random_range(lo..hi).min(last);
        let date = model.date(day);
        let term = in_term(date);
        let weights = OutbreakKind::ALL
            .iter()
            .zip(&kind_seasons)
            .map(|(kind, s)| {
                let open = term || kind.school_chance() < 1.0;
                if open {
                    (kind.weight() * s[model.doy[day]] * 1e6) as u64
                } else {
                    0
                }
            });
        let kind = OutbreakKind::ALL[Weighted::new(weights).sample(&mut rng)];
        let (d0, d1) = kind.duration();
        let duration = rng.random_range(d0..=d1) as usize;
        let (s0, s1) = kind.size();
        let size = rng.random_range(s0..=s1);
        let in_school = term && chance(&mut rng, kind.school_chance());
        let town = towns.sample(&mut rng);
        let neighbour = if chance(&mut rng, kind.spread_chance()) {
            model.nearest(town)
        } else {
            None
        };
        let (share_nb, shift) = match neighbour {
            Some(_) => (
                rng.random_range(0.2..0.4),
                rng.random_range(1..=3).min(duration.saturating_sub(3)),
            ),
            None => (0.0, 0),
        };
        let clinic = rng.random_range(1..=2usize);
        let report = clinic + rng.random_range(1..=3usize);
        let mut channels = Vec::new();
        let mut channel_cases = Vec::new();
        for (ch, code, lag, share) in kind.signature(in_school) {
            let Some(s) = series_index(ch.code(), code) else {
                continue;
            };
            let lag = match lag {
                Lag::Onset => 0,
                Lag::Absence => 1,
                Lag::Clinic => clinic,
                Lag::Report => report,
            };
            let cases = f64::from(size) * share * rng.random_range(0.8..1.2);
            let mut placed = place(
                &mut rng,
                model,
                &mut extras,
                (town, s),
                (day, duration, lag),
                (cases * (1.0 - share_nb)).round() as u32,
            );
            if let Some(nb) = neighbour {
                placed += place(
                    &mut rng,
                    model,
                    &mut extras,
                    (nb, s),
                    (day + shift, duration - shift, lag),
                    (cases * share_nb).round() as u32,
                );
            }
            if placed > 0 {
                channels.push((ch.code().to_owned(), code.to_owned(), lag as i64));
                channel_cases.push(placed);
            }
        }
        outbreaks.push(InjectedOutbreak {
            id: format!("{county_code}-OB{:03}", k + 1),
            kind,
            township_code: model.towns[town].code.clone(),
            neighbours_also: neighbour
                .map(|nb| model.towns[nb].code.clone())
                .into_iter()
                .collect(),
            start: date,
            end: model.date(day + duration - 1),
            size,
            channels,
            channel_cases,
            in_school,
        });
    }
    (outbreaks, extras)
}

/// Places `n` cases of series `at.1` in township `at.0` on the epidemic curve
/// over `len` days from day `first`, each shifted by `lag`; school absences
/// only on school days. Returns how many were placed (0 if no day fits).
fn place(
    rng: &mut ChaCha8Rng,
    model: &Model,
    extras: &mut Extras,
    at: (usize, usize),
    (first, len, lag): (usize, usize, usize),
    n: u32,
) -> u32 {
    if n == 0 || len == 0 {
        return 0;
    }
    let school = DEFS[at.1].ch == Ch::SchoolAbsence;
    let weights: Vec<u64> = (0..len)
        .map(|t| {
            let day = first + t + lag;
            if day >= model.days || (school && !model.school[day]) {
                0
            } else {
                let x = (t as f64 + 0.5) / len as f64;
                ((x.powf(1.5) * (1.0 - x).powf(2.5) * 1e6) as u64).max(1)
            }
        })
        .collect();
    if weights.iter().all(|w| *w == 0) {
        return 0;
    }
    let curve = Weighted::new(weights);
    let row = extras.entry(at).or_insert_with(|| vec![0; model.days]);
    for _ in 0..n {
        row[first + curve.sample(rng) + lag] += 1;
    }
    n
}

/// A standard normal draw (Box–Muller).
fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw: Knuth's multiplication method below λ = 10, Hörmann's
/// transformed rejection with squeeze (PTRS, 1993) above.
fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda < 10.0 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p: f64 = rng.random();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        return k;
    }
    let slam = lambda.sqrt();
    let loglam = lambda.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.random::<f64>() - 0.5;
        let v: f64 = rng.random();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u32;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
            <= -lambda + k * loglam - ln_gamma(k + 1.0)
        {
            return k as u32;
        }
    }
}

/// ln Γ(x) for x > 0 (Stirling series, shifted up to x ≥ 7).
fn ln_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333_333_333_333_333e-2,
        -2.777_777_777_777_778e-3,
        7.936_507_936_507_937e-4,
        -5.952_380_952_380_952e-4,
        8.417_508_417_508_418e-4,
        -1.917_526_917_526_918e-3,
        6.410_256_410_256_41e-3,
        -2.955_065_359_477_124e-2,
        1.796_443_723_688_307e-1,
        -1.392_432_216_905_90,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let n = if x <= 7.0 { (7.0 - x) as i64 } else { 0 };
    let mut x0 = x + n as f64;
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for a in A[..9].iter().rev() {
        gl0 = gl0 * x2 + a;
    }
    let mut gl = gl0 / x0 + 0.5 * (std::f64::consts::TAU).ln() + (x0 - 0.5) * x0.ln() - x0;
    for _ in 0..n {
        gl -= (x0 - 1.0).ln();
        x0 -= 1.0;
    }
    gl
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(lambda: f64) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(lambda.to_bits());
        let n = 40_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| f64::from(poisson(&mut rng, lambda)))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var)
    }

    #[test]
    fn poisson_has_the_right_mean_and_variance() {
        for lambda in [0.01, 0.3, 2.5, 9.9, 10.0, 24.0, 400.0, 5000.0] {
            let (mean, var) = moments(lambda);
            let se = (lambda / 40_000.0).sqrt();
            assert!((mean - lambda).abs() < 5.0 * se, "λ {lambda}: mean {mean}");
            let rel_se = ((2.0 + 1.0 / lambda) / 40_000.0).sqrt();
            assert!(
                (var / lambda - 1.0).abs() < 5.0 * rel_se,
                "λ {lambda}: var {var}"
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(poisson(&mut rng, 0.0), 0);
        assert_eq!(poisson(&mut rng, -1.0), 0);
        assert_eq!(poisson(&mut rng, f64::NAN), 0);
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..=30 {
            f *= k as f64;
            let got = ln_gamma(k as f64 + 1.0);
            assert!((got - f.ln()).abs() < 1e-9, "{k}: {got}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-9);
    }

    #[test]
    fn seasons_average_one_and_peak_where_they_should() {
        let month_mean = |t: &[f64], m: u32| {
            let days: Vec<f64> = NaiveDate::from_ymd_opt(2025, m, 1)
                .unwrap()
                .iter_days()
                .take_while(|d| d.month() == m)
                .map(|d| t[d.ordinal0() as usize])
                .collect();
            days.iter().sum::<f64>() / days.len() as f64
        };
        for s in Season::ALL {
            let t = s.table(1.0);
            assert!((t[..365].iter().sum::<f64>() / 365.0 - 1.0).abs() < 1e-9);
            let peak = (1..=12)
                .max_by(|a, b| month_mean(&t, *a).total_cmp(&month_mean(&t, *b)))
                .unwrap();
            let want: &[u32] = match s {
                Season::Winter | Season::Norovirus => &[12, 1, 2],
                Season::Summer => &[7, 8],
                Season::Hfmd => &[4, 5, 6, 7],
                Season::Term => &[4, 5, 6, 11, 12],
                Season::Flat => &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            };
            assert!(want.contains(&peak), "{s:?} peaks in {peak}");
        }
    }

    #[test]
    fn the_school_calendar() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(school_day(d(3, 2))); // Monday
        assert!(!school_day(d(3, 7))); // Saturday
        assert!(!school_day(d(2, 10)));
        assert!(!school_day(d(1, 20)));
        assert!(school_day(d(1, 14)));
        assert!(!school_day(d(7, 15)));
        assert!(!school_day(d(10, 5)));
        assert!(school_day(d(10, 9)));
    }

    #[test]
    fn the_series_table_is_consistent() {
        for (i, (ch, code)) in SERIES.iter().enumerate() {
            assert!(CHANNELS.contains(ch));
            assert_eq!(series_index(ch, code), Some(i));
        }
        let mut seen = std::collections::HashSet::new();
        assert!(SERIES.iter().all(|s| seen.insert(*s)));
        for kind in OutbreakKind::ALL {
            for school in [false, true] {
                for (ch, code, _, _) in kind.signature(school) {
                    assert!(series_index(ch.code(), code).is_some(), "{kind:?} {code}");
                }
            }
        }
    }
}
