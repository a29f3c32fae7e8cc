//! The care generator's contract: determinism and position independence,
//! contract coverage and consistency with the county's teams, packages by
//! tags, enrolments, and follow-ups scheduled within the year and in range.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use yilian_domain::chronic::{
    DiabetesFactors, HypertensionFactors, Risk, check_range, copd_risk, diabetes_risk,
    hypertension_risk,
};
use yilian_domain::resident::{KeyPopulation, age_on};
use yilian_synth::{
    Adherence, CareRow, County, CountySpec, PACKAGE_CODES, Program, ResidentRow, TeamRole, care,
    county, residents,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn spec(seed: u64, n: usize) -> CountySpec {
    CountySpec::new(seed, n, today())
}

/// 30,000 rows of seed 42 with their care, generated once.
fn sample() -> &'static (County, Vec<(ResidentRow, CareRow)>) {
    static SAMPLE: std::sync::OnceLock<(County, Vec<(ResidentRow, CareRow)>)> =
        std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let s = spec(42, 30_000);
        let c = county(&s);
        let rows = care(&s, &c, residents(&s, &c)).collect();
        (c, rows)
    })
}

fn originals() -> impl Iterator<Item = &'static (ResidentRow, CareRow)> {
    sample().1.iter().filter(|(r, _)| r.duplicate_of.is_none())
}

fn share<'a>(rows: impl Iterator<Item = &'a (ResidentRow, CareRow)>) -> (f64, usize) {
    let (mut n, mut signed) = (0usize, 0usize);
    for (_, c) in rows {
        n += 1;
        signed += usize::from(c.contract.is_some());
    }
    (signed as f64 / n.max(1) as f64, n)
}

#[test]
fn same_spec_same_care_independent_of_stream_position() {
    let s = spec(7, 6000);
    let c = county(&s);
    let a: Vec<_> = care(&s, &c, residents(&s, &c)).collect();
    let b: Vec<_> = care(&s, &c, residents(&s, &c)).collect();
    assert_eq!(a, b);
    assert_eq!(a.len(), 6000);
    assert!(a.iter().all(|(r, cr)| r.key == cr.resident_key));
    let rows: Vec<_> = residents(&s, &c).collect();
    assert!(
        a.iter().zip(&rows).all(|((r, _), q)| r == q),
        "rows pass through unchanged"
    );
    // A suffix of the stream, or the rows in reverse, get the same care.
    let tail: Vec<_> = care(&s, &c, rows[4000..].iter().cloned()).collect();
    assert_eq!(&a[4000..], &tail[..]);
    let reversed: Vec<_> = care(&s, &c, rows.iter().rev().cloned()).collect();
    assert!(reversed.iter().rev().eq(a.iter()));
    // Another seed differs.
    let t = spec(8, 6000);
    let d = county(&t);
    let other: Vec<_> = care(&t, &d, residents(&t, &d)).map(|(_, c)| c).collect();
    assert_ne!(a.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(), other);
}

#[test]
fn contract_coverage_of_key_populations_and_the_general_population() {
    let elderly = share(originals().filter(|(r, _)| age_on(r.birth_date, today()) >= 65));
    let hypertensive =
        share(originals().filter(|(r, _)| r.tags.contains(&KeyPopulation::Hypertension)));
    let diabetic = share(originals().filter(|(r, _)| r.tags.contains(&KeyPopulation::Diabetes)));
    let children = share(originals().filter(|(r, _)| age_on(r.birth_date, today()) <= 6));
    let general = share(originals().filter(|(r, _)| {
        let age = age_on(r.birth_date, today());
        r.tags.is_empty() && (7..65).contains(&age)
    }));
    println!(
        "65+ {elderly:?}, hypertension {hypertensive:?}, diabetes {diabetic:?}, 0-6 {children:?}, general {general:?}"
    );
    assert!(elderly.1 > 2000 && hypertensive.1 > 2000);
    assert!(
        (0.60..=0.80).contains(&elderly.0),
        "65+ coverage {elderly:?}"
    );
    assert!(
        (0.60..=0.80).contains(&hypertensive.0),
        "hypertension coverage {hypertensive:?}"
    );
    assert!(
        (0.60..=0.80).contains(&diabetic.0),
        "diabetes coverage {diabetic:?}"
    );
    assert!(
        (0.55..=0.75).contains(&children.0),
        "0-6 coverage {children:?}"
    );
    assert!(
        (0.22..=0.38).contains(&general.0),
        "general coverage {general:?}"
    );
}

#[test]
fn households_tend_to_sign_together() {
    let mut households: HashMap<&str, (usize, usize)> = HashMap::new();
    for (r, c) in originals() {
        let e = households.entry(r.household_code.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(c.contract.is_some());
    }
    // A member's signing rate when another member signed, and when none did.
    let (mut with, mut with_n, mut without, mut without_n) = (0, 0, 0, 0);
    for (r, c) in originals() {
        let (n, s) = households[r.household_code.as_str()];
        let me = usize::from(c.contract.is_some());
        if n < 2 {
            continue;
        }
        if s > me {
            with_n += 1;
            with += me;
        } else {
            without_n += 1;
            without += me;
        }
    }
    let (a, b) = (
        with as f64 / with_n as f64,
        without as f64 / without_n as f64,
    );
    println!("signs {a:.3} when another household member signed, {b:.3} when none did");
    assert!(
        a > 0.55 && b < 0.3 && a > 2.0 * b,
        "households sign together: {a} vs {b}"
    );
    // The signed members of a household share the team, and mostly the doctor and date.
    let mut teams: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (r, c) in originals() {
        if let Some(k) = &c.contract {
            teams
                .entry(r.household_code.as_str())
                .or_default()
                .insert(k.team_code.as_str());
        }
    }
    assert!(teams.values().all(|t| t.len() == 1));
}

#[test]
fn duplicate_rows_never_carry_care() {
    let dups: Vec<_> = sample()
        .1
        .iter()
        .filter(|(r, _)| r.duplicate_of.is_some())
        .collect();
    assert!(dups.len() > 300, "{} duplicates", dups.len());
    for (r, c) in dups {
        assert_eq!(c.resident_key, r.key);
        assert!(c.contract.is_none() && c.enrolments.is_empty(), "{r:?}");
    }
}

#[test]
fn contracts_use_a_team_of_the_township_and_one_of_its_doctors() {
    let (c, _) = sample();
    let region_of: HashMap<&str, &str> = c
        .institutions
        .iter()
        .map(|i| (i.code.as_str(), i.region_code.as_str()))
        .collect();
    let teams: HashMap<&str, _> = c.teams.iter().map(|t| (t.code.as_str(), t)).collect();
    let main_site: HashMap<&str, &str> = c
        .practitioners
        .iter()
        .map(|p| (p.code.as_str(), p.site_codes[0].as_str()))
        .collect();
    let general = c
        .institutions
        .iter()
        .find(|i| i.kind == yilian_synth::InstitutionKind::CountyGeneralHospital)
        .unwrap();
    let tertiary = c
        .institutions
        .iter()
        .find(|i| i.kind == yilian_synth::InstitutionKind::TertiaryHospital)
        .unwrap();
    let (mut n, mut village_doctor, mut secondary, mut third) = (0, 0, 0, 0);
    let mut per_doctor: HashMap<&str, usize> = HashMap::new();
    for (r, cr) in originals() {
        let Some(k) = &cr.contract else { continue };
        n += 1;
        let team = teams[k.team_code.as_str()];
        let township = region_of[team.institution_code.as_str()];
        assert_eq!(&r.region_code[..9], township, "{r:?} {k:?}");
        let role = team
            .members
            .iter()
            .find(|(m, _)| *m == k.doctor_code)
            .map(|(_, role)| *role)
            .unwrap_or_else(|| panic!("doctor {} not in team {}", k.doctor_code, team.code));
        let site = main_site[k.doctor_code.as_str()];
        let own_village =
            site == format!("V{}", r.region_code) || site == format!("S{}", r.region_code);
        assert!(
            matches!(role, TeamRole::Lead | TeamRole::Gp)
                || (role == TeamRole::VillageDoctor && own_village),
            "{role:?} at {site} for {}",
            r.region_code
        );
        village_doctor += usize::from(own_village);
        *per_doctor.entry(k.doctor_code.as_str()).or_default() += 1;
        assert!(
            k.start <= today()
                && k.start > today() - Duration::days(365)
                && k.start >= r.birth_date
        );
        if let Some(h) = &k.secondary_hospital_code {
            assert_eq!(h, &general.code);
            secondary += 1;
        }
        if let Some(h) = &k.tertiary_hospital_code {
            assert_eq!(h, &tertiary.code);
            assert!(k.secondary_hospital_code.is_some());
            third += 1;
        }
    }
    let (over_team, over_doctor) = overloads(c, originals());
    assert_eq!(
        (over_team, over_doctor),
        (0, 0),
        "contracts within team capacity and doctor caps"
    );
    let f = |x: usize| x as f64 / n as f64;
    println!(
        "{n} contracts: {:.3} with the village's own doctor, 1+1+1 county {:.3} tertiary {:.3}, busiest doctor {:?}",
        f(village_doctor),
        f(secondary),
        f(third),
        per_doctor.values().max()
    );
    assert!((0.80..0.90).contains(&f(secondary)) && (0.64..0.76).contains(&f(third)));
    assert!((0.25..0.65).contains(&f(village_doctor)));
}

#[test]
fn packages_start_with_basic_and_follow_the_tags() {
    let mut n = 0;
    for (r, c) in originals() {
        let Some(k) = &c.contract else { continue };
        n += 1;
        assert_eq!(k.packages[0], "basic");
        assert!(
            k.packages
                .iter()
                .all(|p| PACKAGE_CODES.contains(&p.as_str()))
        );
        let age = age_on(r.birth_date, today());
        let expected: Vec<&str> = [
            ("basic", true),
            (
                "hypertension",
                r.tags.contains(&KeyPopulation::Hypertension),
            ),
            ("diabetes", r.tags.contains(&KeyPopulation::Diabetes)),
            ("elderly", age >= 65),
            ("maternal", r.tags.contains(&KeyPopulation::Pregnant)),
            ("child", age <= 6),
            (
                "severe_mental",
                r.tags.contains(&KeyPopulation::SevereMental),
            ),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(p, _)| p)
        .collect();
        assert_eq!(k.packages, expected, "{r:?}");
    }
    assert!(n > 8000);
}

#[test]
fn enrolments_follow_the_tags() {
    let (mut h, mut h_in, mut d, mut d_in, mut over40, mut copd) = (0, 0, 0, 0, 0, 0);
    for (r, c) in originals() {
        let has = |p| c.enrolments.iter().filter(|e| e.program == p).count();
        let ht = r.tags.contains(&KeyPopulation::Hypertension);
        let dm = r.tags.contains(&KeyPopulation::Diabetes);
        assert!(has(Program::Hypertension) <= usize::from(ht));
        assert!(has(Program::Diabetes) <= usize::from(dm));
        h += usize::from(ht);
        h_in += has(Program::Hypertension);
        d += usize::from(dm);
        d_in += has(Program::Diabetes);
        let age = age_on(r.birth_date, today());
        assert!(has(Program::Copd) == 0 || age >= 40);
        if age >= 40 {
            over40 += 1;
            copd += has(Program::Copd);
        }
        for e in &c.enrolments {
            assert!(e.enrolled_on <= today() && e.enrolled_on >= r.birth_date);
        }
    }
    let (hs, ds, cs) = (
        h_in as f64 / h as f64,
        d_in as f64 / d as f64,
        copd as f64 / over40 as f64,
    );
    println!("enrolled: hypertension {hs:.3}, diabetes {ds:.3}, COPD {cs:.4} of 40+");
    assert!((0.86..0.94).contains(&hs) && (0.84..0.96).contains(&ds));
    assert!((0.010..0.021).contains(&cs));
}

#[test]
fn followups_lie_in_the_year_in_order_and_in_range() {
    let window = today() - Duration::days(364);
    let (mut before, mut all, mut visits) = (0, 0, 0);
    for (_, c) in originals() {
        for e in &c.enrolments {
            all += 1;
            before += usize::from(e.enrolled_on < window);
            visits += e.followups.len();
            assert!(!e.followups.is_empty(), "{e:?}");
            let mut last = None;
            for f in &e.followups {
                assert!(
                    f.date >= e.enrolled_on && f.date <= today() && f.date >= window,
                    "{e:?}"
                );
                assert!(
                    last.is_none_or(|l| l < f.date),
                    "dates strictly increase: {e:?}"
                );
                last = Some(f.date);
                let checks = [
                    ("sbp", f.sbp.map(f64::from)),
                    ("dbp", f.dbp.map(f64::from)),
                    ("fasting_glucose", f.fasting_glucose),
                    ("hba1c", f.hba1c),
                    ("weight_kg", f.weight_kg),
                ];
                for (field, v) in checks {
                    if let Some(v) = v {
                        check_range(field, v).unwrap();
                    }
                }
                match e.program {
                    Program::Hypertension => {
                        assert!(f.sbp.is_some() && f.fasting_glucose.is_none())
                    }
                    Program::Diabetes => assert!(f.fasting_glucose.is_some()),
                    Program::Copd => assert!(f.sbp.is_none() && f.weight_kg.is_some()),
                }
                if let (Some(s), Some(d)) = (f.sbp, f.dbp) {
                    assert!(s > d);
                }
                assert!(matches!(
                    f.adherence.as_str(),
                    "regular" | "intermittent" | "none"
                ));
            }
        }
    }
    let share = before as f64 / all as f64;
    let per = visits as f64 / all as f64;
    println!("{all} enrolments, {share:.3} enrolled before the year, {per:.2} follow-ups each");
    assert!((0.75..0.92).contains(&share));
    assert!((3.0..9.0).contains(&per));
}

#[test]
fn bp_control_crises_glucose_and_hba1c_look_real() {
    let (mut readings, mut controlled, mut crises) = (0, 0, 0);
    let (mut fpg, mut fpg_high, mut a1c, mut diabetics) = (0, 0, 0, 0);
    let mut adherence: HashMap<Adherence, usize> = HashMap::new();
    for (_, c) in originals() {
        for e in &c.enrolments {
            for f in &e.followups {
                *adherence.entry(f.adherence).or_default() += 1;
            }
            match e.program {
                Program::Hypertension => {
                    for f in &e.followups {
                        let (s, d) = (f.sbp.unwrap(), f.dbp.unwrap());
                        readings += 1;
                        controlled += usize::from(s < 140 && d < 90);
                        crises += usize::from(s >= 180 && d >= 110);
                    }
                }
                Program::Diabetes => {
                    diabetics += 1;
                    for f in &e.followups {
                        fpg += 1;
                        fpg_high += usize::from(f.fasting_glucose.unwrap() >= 13.9);
                        a1c += usize::from(f.hba1c.is_some());
                        if let Some(v) = f.hba1c {
                            assert!((5.5..=11.0).contains(&v));
                        }
                    }
                }
                Program::Copd => {}
            }
        }
    }
    let ctl = controlled as f64 / readings as f64;
    let crisis = crises as f64 / readings as f64;
    let high = fpg_high as f64 / fpg as f64;
    let a1c_per = a1c as f64 / diabetics as f64;
    println!(
        "BP controlled {ctl:.3}, crises {crisis:.4}; FPG ≥ 13.9 {high:.3}; HbA1c {a1c_per:.2}/patient/year; adherence {adherence:?}"
    );
    assert!((0.45..0.70).contains(&ctl), "controlled readings {ctl}");
    assert!((0.008..0.035).contains(&crisis), "crises {crisis}");
    assert!((0.01..0.08).contains(&high), "high glucose {high}");
    assert!((1.2..2.5).contains(&a1c_per), "HbA1c a year {a1c_per}");
    let total: usize = adherence.values().sum();
    let regular = adherence[&Adherence::Regular] as f64 / total as f64;
    assert!(
        (0.5..0.75).contains(&regular),
        "regular adherence {regular}"
    );
}

/// The risk after a follow-up, recomputed with the domain rules (the latest
/// HbA1c of the year for diabetes).
fn risks(r: &ResidentRow, e: &yilian_synth::EnrolmentRow) -> Vec<Risk> {
    let f = e.factors;
    let mut a1c = None;
    e.followups
        .iter()
        .map(|v| match e.program {
            Program::Hypertension => hypertension_risk(
                v.sbp.unwrap(),
                v.dbp.unwrap(),
                HypertensionFactors {
                    risk_factors: f.risk_factors,
                    organ_damage: f.organ_damage,
                    diabetes: r.tags.contains(&KeyPopulation::Diabetes),
                    clinical_complications: f.clinical_complications,
                },
            ),
            Program::Diabetes => {
                a1c = v.hba1c.or(a1c);
                diabetes_risk(DiabetesFactors {
                    hba1c: a1c,
                    fasting_glucose: v.fasting_glucose,
                    complications: f.complications,
                })
            }
            Program::Copd => copd_risk(f.exacerbations, false, f.mmrc),
        })
        .collect()
}

#[test]
fn intervals_follow_the_risk_colour_and_red_patients_see_a_specialist() {
    let (mut red, mut reviewed, mut reviews) = (0, 0, 0);
    let mut colours: HashMap<&str, usize> = HashMap::new();
    let mut on_time = [0usize; 3];
    let mut gaps = [0usize; 3];
    for (r, c) in originals() {
        for e in &c.enrolments {
            let risk = risks(r, e);
            // Diabetes risk is exact from the year's first HbA1c on (before
            // it, the generator carries one from before the year).
            let exact_from = match e.program {
                Program::Diabetes => e
                    .followups
                    .iter()
                    .position(|f| f.hba1c.is_some())
                    .unwrap_or(usize::MAX),
                _ => 0,
            };
            if let Some(last) = risk.last() {
                *colours.entry(last.colour()).or_default() += 1;
            }
            let n = e.followups.iter().filter(|f| f.specialist_review).count();
            assert!(n <= 1, "at most one specialist review a year");
            reviews += n;
            if n == 1 {
                let i = e
                    .followups
                    .iter()
                    .position(|f| f.specialist_review)
                    .unwrap();
                // The reviewed visit is red.
                if i >= exact_from {
                    assert_eq!(risk[i], Risk::High, "{e:?}");
                }
            }
            if e.program != Program::Diabetes && risk.contains(&Risk::High) {
                red += 1;
                reviewed += n;
            }
            // Each interval is the colour's days, −10 to +60.
            for (w, k) in e.followups.windows(2).zip(&risk).skip(exact_from) {
                let gap = (w[1].date - w[0].date).num_days();
                let due = k.follow_up_days();
                assert!(
                    (due - 10..=due + 60).contains(&gap),
                    "gap {gap} after {k:?}"
                );
                let i = match k {
                    Risk::Low => 0,
                    Risk::Medium => 1,
                    Risk::High => 2,
                };
                gaps[i] += 1;
                on_time[i] += usize::from(gap <= due + 10);
            }
        }
    }
    let share = reviewed as f64 / red as f64;
    println!(
        "last colours {colours:?}; {red} red patients (hypertension, COPD), {share:.3} reviewed, {reviews} reviews; on time by colour {on_time:?} of {gaps:?}"
    );
    assert!(colours["red"] > 500 && colours["green"] > 100 && colours["yellow"] > 500);
    assert!((0.7..0.9).contains(&share), "reviewed share {share}");
    for i in 0..3 {
        let s = on_time[i] as f64 / gaps[i] as f64;
        assert!((0.65..0.9).contains(&s), "on-time share {s} for colour {i}");
    }
}

#[test]
fn smoking_is_a_habit_that_may_stop() {
    let mut restarted = 0;
    let mut smokers = 0;
    let mut patients = 0;
    for (r, c) in originals() {
        if c.enrolments.is_empty() {
            continue;
        }
        patients += 1;
        let visits: Vec<_> = c.enrolments.iter().flat_map(|e| &e.followups).collect();
        smokers += usize::from(visits.iter().any(|f| f.smoking));
        for e in &c.enrolments {
            restarted += e
                .followups
                .windows(2)
                .filter(|w| !w[0].smoking && w[1].smoking)
                .count();
        }
        if age_on(r.birth_date, today()) < 18 {
            assert!(visits.iter().all(|f| !f.smoking));
        }
    }
    let s = smokers as f64 / patients as f64;
    println!("{s:.3} of patients smoke");
    assert_eq!(restarted, 0);
    assert!((0.15..0.40).contains(&s));
}

/// Teams over their capacity and doctors over their contract cap
/// (`CapPolicy::default()`: 2,000 a physician, 800 a village doctor).
fn overloads<'a>(
    c: &County,
    rows: impl Iterator<Item = &'a (ResidentRow, CareRow)>,
) -> (usize, usize) {
    let mut teams: HashMap<&str, i64> = HashMap::new();
    let mut doctors: HashMap<String, u32> = HashMap::new();
    for (_, cr) in rows {
        if let Some(k) = &cr.contract {
            let t = c.teams.iter().find(|t| t.code == k.team_code).unwrap();
            *teams.entry(t.code.as_str()).or_default() += 1;
            *doctors.entry(k.doctor_code.clone()).or_default() += 1;
        }
    }
    let caps = yilian_domain::contract::CapPolicy::default();
    let over_team = c
        .teams
        .iter()
        .filter(|t| teams.get(t.code.as_str()).copied().unwrap_or(0) > t.capacity)
        .count();
    let over: Vec<_> = c
        .practitioners
        .iter()
        .filter(|p| doctors.get(&p.code).copied().unwrap_or(0) > caps.cap(p.profession))
        .collect();
    for p in over.iter().take(5) {
        println!(
            "over cap: {} {:?} at {:?}: {}",
            p.code, p.profession, p.site_codes, doctors[&p.code]
        );
    }
    let over_doctor = over.len();
    (over_team, over_doctor)
}

/// Contract loads at scale:
/// `cargo test -p yilian-synth --release --test care -- --ignored load --nocapture`
/// (`YILIAN_SYNTH_N` residents, default 300,000).
#[test]
#[ignore = "diagnostic"]
fn load_at_scale() {
    let n = std::env::var("YILIAN_SYNTH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let s = spec(1, n);
    let c = county(&s);
    let rows: Vec<_> = care(&s, &c, residents(&s, &c))
        .map(|(r, cr)| {
            (
                r,
                CareRow {
                    enrolments: Vec::new(),
                    ..cr
                },
            )
        })
        .collect();
    let (t, d) = overloads(&c, rows.iter());
    println!(
        "{n} residents: {t} of {} teams over capacity, {d} doctors over their cap",
        c.teams.len()
    );
}

/// Speed of residents() + care(), in release:
/// `cargo test -p yilian-synth --release --test care -- --ignored speed --nocapture`
/// (`YILIAN_SYNTH_N` sets the number of residents, default one million).
#[test]
#[ignore = "benchmark"]
fn speed_with_care() {
    let n = std::env::var("YILIAN_SYNTH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let s = spec(1, n);
    let c = county(&s);
    let t0 = std::time::Instant::now();
    let plain = residents(&s, &c).count();
    let t1 = std::time::Instant::now();
    let (mut contracts, mut followups) = (0usize, 0usize);
    for (_, cr) in care(&s, &c, residents(&s, &c)) {
        contracts += usize::from(cr.contract.is_some());
        followups += cr
            .enrolments
            .iter()
            .map(|e| e.followups.len())
            .sum::<usize>();
    }
    let t2 = std::time::Instant::now();
    let (a, b) = ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64());
    println!(
        "residents(): {plain} in {a:.3}s = {:.0}/s; residents()+care(): {:.3}s = {:.0}/s ({contracts} contracts, {followups} follow-ups)",
        plain as f64 / a,
        b,
        n as f64 / b
    );
}
