//! The generator's contract: determinism, valid and unique identity numbers,
//! the duplicate ground truth, realistic shares, and consistent master data.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use yilian_domain::id_number::IdNumber;
use yilian_domain::region::RegionCode;
use yilian_domain::registry::{check_institution_region, check_team_lead};
use yilian_domain::resident::{KeyPopulation, age_on};
use yilian_synth::{
    ConsortiumKind, County, CountySpec, InstitutionKind, Profession, RegionLevel, ResidentRow,
    TeamRole, county, residents,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn spec(seed: u64, n: usize) -> CountySpec {
    CountySpec::new(seed, n, today())
}

fn rows(spec: &CountySpec, county: &County) -> Vec<ResidentRow> {
    residents(spec, county).collect()
}

/// 50,000 rows of seed 42, generated once for the statistical tests.
fn sample() -> &'static (County, Vec<ResidentRow>) {
    static SAMPLE: std::sync::OnceLock<(County, Vec<ResidentRow>)> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let s = spec(42, 50_000);
        let c = county(&s);
        let r = rows(&s, &c);
        (c, r)
    })
}

#[test]
fn same_seed_same_output_other_seed_differs() {
    let s = spec(7, 20_000);
    let a = county(&s);
    let b = county(&s);
    assert_eq!(a, b);
    let ra: Vec<_> = residents(&s, &a).take(1000).collect();
    let rb: Vec<_> = residents(&s, &b).take(1000).collect();
    assert_eq!(ra, rb);
    assert_eq!(format!("{ra:?}"), format!("{rb:?}"));

    let t = spec(8, 20_000);
    let c = county(&t);
    assert_ne!(a, c);
    let rc: Vec<_> = residents(&t, &c).take(1000).collect();
    assert_ne!(ra, rc);
}

#[test]
fn the_duplicate_rate_does_not_change_the_county() {
    let mut s = spec(7, 5000);
    let a = county(&s);
    s.duplicate_rate = 0.1;
    assert_eq!(a, county(&s));
}

#[test]
fn exactly_the_requested_number_of_rows_with_sequential_keys() {
    for n in [0, 1, 5, 999, 12_345] {
        let s = spec(3, n);
        let c = county(&s);
        let r = rows(&s, &c);
        assert_eq!(r.len(), n);
        assert!(r.iter().enumerate().all(|(i, row)| row.key == i as u64));
        let villages: i64 = c.villages().map(|v| v.population.unwrap()).sum();
        assert_eq!(villages, n as i64);
    }
}

#[test]
fn identity_numbers_are_valid_agree_and_are_unique() {
    let (_, rows) = sample();
    let mut seen = HashSet::with_capacity(rows.len());
    let mut own = 0;
    for r in rows {
        let id = IdNumber::parse(&r.id_number, today())
            .unwrap_or_else(|e| panic!("{}: {e}", r.id_number));
        assert_eq!(id.birth_date(), r.birth_date, "{r:?}");
        assert_eq!(id.sex(), r.sex, "{r:?}");
        assert!(r.birth_date <= today());
        assert!(
            seen.insert(r.id_number.clone()),
            "duplicate id {}",
            r.id_number
        );
        if id.region_prefix() == "140599" {
            own += 1;
        }
    }
    let share = own as f64 / rows.len() as f64;
    assert!(
        (0.85..0.91).contains(&share),
        "own-county prefix share {share}"
    );
}

#[test]
fn other_fields_are_valid() {
    let (c, rows) = sample();
    let villages: HashSet<&str> = c.villages().map(|v| v.code.as_str()).collect();
    for r in rows.iter().take(20_000) {
        assert!(
            yilian_domain::name::PersonName::parse(&r.name).is_ok(),
            "{}",
            r.name
        );
        let p = yilian_domain::phone::Phone::parse(&r.phone).unwrap();
        assert!(p.as_str().starts_with("14") && p.as_str().len() == 11);
        assert!(villages.contains(r.region_code.as_str()));
        assert!(r.tags.iter().all(|t| !t.is_derived()));
        assert!(r.tags.windows(2).all(|w| w[0] < w[1]), "tags sorted");
        assert!(!r.address.is_empty() && !r.household_code.is_empty());
    }
}

#[test]
fn duplicates_match_the_rate_and_point_back_to_an_earlier_original() {
    let (_, rows) = sample();
    let dups: Vec<&ResidentRow> = rows.iter().filter(|r| r.duplicate_of.is_some()).collect();
    let share = dups.len() as f64 / rows.len() as f64;
    assert!((share - 0.02).abs() <= 0.005, "duplicate share {share}");
    let (mut same_name, mut same_phone, mut same_village, mut same_birth) = (0, 0, 0, 0);
    for d in &dups {
        let o = d.duplicate_of.unwrap();
        assert!(o < d.key, "{d:?}");
        assert!(
            d.key - o < 60,
            "a duplicate follows its original closely: {} after {o}",
            d.key
        );
        let orig = &rows[o as usize];
        assert_eq!(orig.duplicate_of, None, "originals are not duplicates");
        assert_eq!(orig.sex, d.sex);
        assert_ne!(orig.id_number, d.id_number);
        same_name += usize::from(orig.name == d.name);
        same_phone += usize::from(orig.phone == d.phone);
        same_village += usize::from(orig.region_code == d.region_code);
        same_birth += usize::from(orig.birth_date == d.birth_date);
        if orig.region_code != d.region_code {
            assert_eq!(
                orig.region_code[..9],
                d.region_code[..9],
                "a neighbouring village of the same township"
            );
        }
    }
    let n = dups.len() as f64;
    for (what, k, lo, hi) in [
        ("name", same_name, 0.55, 0.85),
        ("phone", same_phone, 0.5, 0.75),
        ("village", same_village, 0.75, 0.95),
        ("birth date", same_birth, 0.6, 0.85),
    ] {
        let share = k as f64 / n;
        assert!(
            (lo..hi).contains(&share),
            "{what} kept in {share} of duplicates"
        );
    }
}

#[test]
fn age_and_sex_structure_follows_the_census() {
    let (_, rows) = sample();
    let n = rows.len() as f64;
    let ages: Vec<i32> = rows.iter().map(|r| age_on(r.birth_date, today())).collect();
    let share = |f: &dyn Fn(i32) -> bool| ages.iter().filter(|a| f(**a)).count() as f64 / n;
    let old65 = share(&|a| a >= 65);
    let old60 = share(&|a| a >= 60);
    let young = share(&|a| a < 15);
    assert!((0.11..0.16).contains(&old65), "65+ share {old65}");
    assert!((0.16..0.22).contains(&old60), "60+ share {old60}");
    assert!((0.15..0.21).contains(&young), "0-14 share {young}");
    let men = rows
        .iter()
        .filter(|r| r.sex == yilian_synth::Sex::Male)
        .count() as f64;
    let ratio = 100.0 * men / (n - men);
    assert!((101.0..109.0).contains(&ratio), "sex ratio {ratio}");
}

#[test]
fn chronic_disease_and_other_tags_have_realistic_prevalence() {
    let (_, rows) = sample();
    let adults: Vec<&ResidentRow> = rows
        .iter()
        .filter(|r| r.duplicate_of.is_none() && age_on(r.birth_date, today()) >= 18)
        .collect();
    let n = adults.len() as f64;
    let share = |t: KeyPopulation| adults.iter().filter(|r| r.tags.contains(&t)).count() as f64 / n;
    let htn = share(KeyPopulation::Hypertension);
    assert!((0.24..0.30).contains(&htn), "adult hypertension {htn}");
    let dm = share(KeyPopulation::Diabetes);
    assert!((0.10..0.14).contains(&dm), "adult diabetes {dm}");
    let all = rows.len() as f64;
    let share_all =
        |t: KeyPopulation| rows.iter().filter(|r| r.tags.contains(&t)).count() as f64 / all;
    let disabled = share_all(KeyPopulation::Disabled);
    assert!((0.045..0.075).contains(&disabled), "disabled {disabled}");
    let poor = share_all(KeyPopulation::PovertyRegistered);
    assert!((0.015..0.045).contains(&poor), "poverty-registered {poor}");
    let mental = share_all(KeyPopulation::SevereMental);
    assert!((0.002..0.008).contains(&mental), "severe mental {mental}");
    for r in rows {
        let age = age_on(r.birth_date, today());
        if r.duplicate_of.is_none() && r.tags.contains(&KeyPopulation::Pregnant) {
            assert!(
                r.sex == yilian_synth::Sex::Female && (18..45).contains(&age),
                "{r:?}"
            );
        }
    }
    let ins =
        |i: yilian_synth::Insurance| rows.iter().filter(|r| r.insurance == i).count() as f64 / all;
    let employee = ins(yilian_synth::Insurance::Employee);
    let none = ins(yilian_synth::Insurance::Uninsured);
    assert!(
        (0.20..0.30).contains(&employee),
        "employee insurance {employee}"
    );
    assert!((0.015..0.045).contains(&none), "uninsured {none}");
}

#[test]
fn households_are_families() {
    let (_, rows) = sample();
    let mut by_household: HashMap<&str, Vec<&ResidentRow>> = HashMap::new();
    for r in rows.iter().filter(|r| r.duplicate_of.is_none()) {
        by_household.entry(&r.household_code).or_default().push(r);
    }
    let sizes: Vec<usize> = by_household.values().map(Vec::len).collect();
    assert!(sizes.iter().all(|s| (1..=6).contains(s)));
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    assert!((2.3..3.0).contains(&mean), "mean household size {mean}");
    for members in by_household.values() {
        // Every household has an adult; members share address and region.
        assert!(
            members.iter().any(|r| age_on(r.birth_date, today()) >= 18),
            "{members:?}"
        );
        assert!(members.iter().all(|r| r.address == members[0].address && r.region_code == members[0].region_code));
    }
    // Rows of a household are consecutive in the stream.
    let mut last_seen: HashMap<&str, u64> = HashMap::new();
    for r in rows.iter().filter(|r| r.duplicate_of.is_none()) {
        if let Some(prev) = last_seen.insert(&r.household_code, r.key) {
            assert!(
                r.key - prev <= 3,
                "household {} split in the stream",
                r.household_code
            );
        }
    }
}

#[test]
fn region_tree_has_the_planned_shape() {
    let c = county(&spec(42, 100_000));
    assert_eq!(c.county_code, "140599");
    let townships: Vec<_> = c.townships().collect();
    let villages: Vec<_> = c.villages().collect();
    assert!(
        (15..=25).contains(&townships.len()),
        "{} townships",
        townships.len()
    );
    assert!(
        (150..=250).contains(&villages.len()),
        "{} villages",
        villages.len()
    );
    let codes: HashSet<&str> = c.regions.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes.len(), c.regions.len(), "region codes are unique");
    for r in &c.regions {
        let code = RegionCode::parse(&r.code).unwrap();
        assert_eq!(code.level(), r.level, "{}", r.code);
        assert_eq!(
            code.parent().map(|p| p.as_str().to_string()),
            r.parent_code,
            "{}",
            r.code
        );
        if let Some(p) = &r.parent_code {
            assert!(codes.contains(p.as_str()));
        }
        if matches!(r.level, RegionLevel::Township | RegionLevel::Village) {
            let (lon, lat) = (r.lon.unwrap(), r.lat.unwrap());
            assert!(
                (112.5..=113.2).contains(&lon) && (35.4..=35.9).contains(&lat),
                "{r:?}"
            );
        }
    }
    assert!(townships.iter().any(|t| t.name.ends_with("街道")));
    assert!(townships.iter().any(|t| t.name.ends_with('镇')));
    let sum: i64 = townships.iter().map(|t| t.population.unwrap()).sum();
    assert_eq!(sum, 100_000);
}

#[test]
fn institutions_sit_at_allowed_levels_and_every_village_is_served() {
    let s = spec(42, 300_000);
    let c = county(&s);
    let codes: HashSet<&str> = c.institutions.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(
        codes.len(),
        c.institutions.len(),
        "institution codes are unique"
    );
    for i in &c.institutions {
        let level = RegionCode::parse(&i.region_code).unwrap().level();
        assert!(
            check_institution_region(i.kind, level).is_ok(),
            "{} at {}",
            i.name,
            i.region_code
        );
        assert!(
            c.regions.iter().any(|r| r.code == i.region_code),
            "{}",
            i.region_code
        );
    }
    for v in c.villages() {
        let kind = if v.name.ends_with("社区") {
            InstitutionKind::CommunityHealthStation
        } else {
            InstitutionKind::VillageClinic
        };
        let n = c
            .institutions
            .iter()
            .filter(|i| i.kind == kind && i.region_code == v.code)
            .count();
        assert_eq!(n, 1, "{} {}", v.name, v.code);
    }
    for t in c.townships() {
        let n = c
            .institutions
            .iter()
            .filter(|i| {
                matches!(
                    i.kind,
                    InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter
                ) && i.region_code == t.code
            })
            .count();
        assert_eq!(n, 1, "{}", t.name);
    }
    // 3.5–4.5 beds per 1000 residents across the county hospitals.
    let county_beds: i64 = c
        .institutions
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                InstitutionKind::CountyGeneralHospital
                    | InstitutionKind::CountyTcmHospital
                    | InstitutionKind::MaternalChildHospital
            )
        })
        .flat_map(|i| i.beds.iter().map(|(_, n)| n))
        .sum();
    let density = county_beds as f64 * 1000.0 / 300_000.0;
    assert!(
        (3.4..=4.6).contains(&density),
        "county hospital beds per 1000: {density}"
    );
    let general = c
        .institutions
        .iter()
        .find(|i| i.kind == InstitutionKind::CountyGeneralHospital)
        .unwrap();
    assert_eq!(general.services.len(), 13);
    for kind in [
        InstitutionKind::CityHospital,
        InstitutionKind::TertiaryHospital,
    ] {
        let h = c.institutions.iter().find(|i| i.kind == kind).unwrap();
        assert_eq!(h.region_code, "140500");
    }
    let township_centres: Vec<_> = c
        .institutions
        .iter()
        .filter(|i| i.kind == InstitutionKind::TownshipHealthCenter)
        .collect();
    let fever = township_centres
        .iter()
        .filter(|i| i.services.contains(&yilian_synth::Service::FeverClinic))
        .count();
    assert!(fever > 0 && fever < township_centres.len());
}

#[test]
fn practitioners_match_staff_counts() {
    let c = county(&spec(5, 80_000));
    let mut by_site: HashMap<(&str, Profession), i64> = HashMap::new();
    for p in &c.practitioners {
        *by_site
            .entry((p.site_codes[0].as_str(), p.profession))
            .or_default() += 1;
        assert!(!p.site_codes.is_empty() && p.site_codes.len() <= 2);
        assert!(yilian_domain::phone::Phone::parse(&p.phone).is_ok());
        if p.is_gp {
            assert!(matches!(
                p.profession,
                Profession::LicensedPhysician | Profession::AssistantPhysician
            ));
        }
    }
    for i in &c.institutions {
        for (prof, n) in &i.staff {
            assert_eq!(
                by_site.get(&(i.code.as_str(), *prof)).copied().unwrap_or(0),
                *n,
                "{} {prof}",
                i.name
            );
        }
    }
    let codes: HashSet<&str> = c.practitioners.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes.len(), c.practitioners.len());
    assert!(
        c.practitioners.iter().any(|p| p.site_codes.len() == 2),
        "some practise at two sites"
    );
}

#[test]
fn teams_have_one_gp_lead_and_cover_every_village_doctor_once() {
    let c = county(&spec(42, 200_000));
    let by_code: HashMap<&str, &yilian_synth::PractitionerRow> = c
        .practitioners
        .iter()
        .map(|p| (p.code.as_str(), p))
        .collect();
    let mut in_team: HashMap<&str, usize> = HashMap::new();
    for t in &c.teams {
        let leads: Vec<_> = t
            .members
            .iter()
            .filter(|(_, r)| *r == TeamRole::Lead)
            .collect();
        assert_eq!(leads.len(), 1, "{}", t.name);
        let lead = by_code[leads[0].0.as_str()];
        assert!(
            check_team_lead(lead.is_gp, lead.profession).is_ok(),
            "{}",
            t.name
        );
        assert_eq!(lead.site_codes[0], t.institution_code);
        assert!(t.capacity >= 2000);
        for (code, _) in &t.members {
            *in_team.entry(code.as_str()).or_default() += 1;
        }
    }
    for p in c
        .practitioners
        .iter()
        .filter(|p| p.profession == Profession::VillageDoctor)
    {
        assert_eq!(
            in_team.get(p.code.as_str()),
            Some(&1),
            "village doctor {} in exactly one team",
            p.code
        );
    }
    let centres = c.institutions.iter().filter(|i| {
        matches!(
            i.kind,
            InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter
        )
    });
    for centre in centres {
        let n = c
            .teams
            .iter()
            .filter(|t| t.institution_code == centre.code)
            .count();
        assert!((2..=4).contains(&n), "{} has {n} teams", centre.name);
    }
    assert!(
        c.teams
            .iter()
            .any(|t| t.members.iter().any(|(_, r)| *r == TeamRole::Specialist))
    );
}

#[test]
fn consortia_are_led_and_overlap() {
    let c = county(&spec(42, 50_000));
    let kinds: Vec<ConsortiumKind> = c.consortia.iter().map(|k| k.kind).collect();
    assert!(kinds.contains(&ConsortiumKind::CountyConsortium));
    assert!(kinds.contains(&ConsortiumKind::SpecialtyAlliance));
    assert!(kinds.contains(&ConsortiumKind::TelemedicineNetwork));
    let inst: HashMap<&str, InstitutionKind> = c
        .institutions
        .iter()
        .map(|i| (i.code.as_str(), i.kind))
        .collect();
    for k in &c.consortia {
        assert!(inst.contains_key(k.lead_code.as_str()));
        assert!(
            k.member_codes
                .iter()
                .all(|m| inst.contains_key(m.as_str()) && *m != k.lead_code)
        );
    }
    let county_c = c
        .consortia
        .iter()
        .find(|k| k.kind == ConsortiumKind::CountyConsortium)
        .unwrap();
    assert_eq!(
        inst[county_c.lead_code.as_str()],
        InstitutionKind::CountyGeneralHospital
    );
    let clinics = c
        .institutions
        .iter()
        .filter(|i| i.kind == InstitutionKind::VillageClinic)
        .count();
    let member_clinics = county_c
        .member_codes
        .iter()
        .filter(|m| inst[m.as_str()] == InstitutionKind::VillageClinic)
        .count();
    assert_eq!(clinics, member_clinics);
    let alliance = c
        .consortia
        .iter()
        .find(|k| k.kind == ConsortiumKind::SpecialtyAlliance)
        .unwrap();
    assert_eq!(
        inst[alliance.lead_code.as_str()],
        InstitutionKind::TertiaryHospital
    );
    assert!(
        alliance.member_codes.contains(&county_c.lead_code),
        "the county hospital is in two consortia"
    );
}

/// Generation speed, in release: `cargo test -p yilian-synth --release -- --ignored speed --nocapture`
/// (`YILIAN_SYNTH_N` sets the number of residents, default one million).
#[test]
#[ignore = "benchmark"]
fn speed_one_million() {
    let n = std::env::var("YILIAN_SYNTH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let s = spec(1, n);
    let t0 = std::time::Instant::now();
    let c = county(&s);
    let t1 = std::time::Instant::now();
    let mut bytes = 0usize;
    let mut n = 0usize;
    for r in residents(&s, &c) {
        bytes += r.name.len() + r.address.len();
        n += 1;
    }
    let t2 = std::time::Instant::now();
    let secs = (t2 - t1).as_secs_f64();
    println!(
        "county: {:?} ({} practitioners); {n} residents in {secs:.3}s = {:.0} residents/s ({bytes} bytes of text)",
        t1 - t0,
        c.practitioners.len(),
        n as f64 / secs
    );
}

/// Prints the generated age pyramid against the census and the main shares:
/// `cargo test -p yilian-synth --release -- --ignored profile --nocapture`.
#[test]
#[ignore = "diagnostic"]
fn profile() {
    const CENSUS: [f64; 21] = [
        5.52, 6.39, 6.04, 5.15, 5.31, 6.51, 8.79, 7.01, 6.61, 8.09, 8.58, 7.18, 5.20, 5.24, 3.51,
        2.20, 1.44, 0.76, 0.25, 0.05, 0.01,
    ];
    let s = spec(42, 400_000);
    let c = county(&s);
    let rows = rows(&s, &c);
    let n = rows.len() as f64;
    let mut groups = [0usize; 21];
    for r in &rows {
        groups[(age_on(r.birth_date, today()) as usize / 5).min(20)] += 1;
    }
    for (g, k) in groups.iter().enumerate() {
        println!(
            "{:>3}-{:<3} {:>6.2}% (census {:>5.2}%)",
            g * 5,
            g * 5 + 4,
            100.0 * *k as f64 / n,
            CENSUS[g]
        );
    }
    let share =
        |f: &dyn Fn(&ResidentRow) -> bool| 100.0 * rows.iter().filter(|r| f(r)).count() as f64 / n;
    println!(
        "0-14 {:.2}%",
        share(&|r| age_on(r.birth_date, today()) < 15)
    );
    println!(
        "60+ {:.2}%",
        share(&|r| age_on(r.birth_date, today()) >= 60)
    );
    println!(
        "65+ {:.2}%",
        share(&|r| age_on(r.birth_date, today()) >= 65)
    );
    let adults = share(&|r| age_on(r.birth_date, today()) >= 18);
    for t in KeyPopulation::ALL {
        println!(
            "{t}: {:.2}% of all, {:.2}% of adults",
            share(&|r| r.tags.contains(t)),
            100.0 * share(&|r| r.tags.contains(t) && age_on(r.birth_date, today()) >= 18) / adults
        );
    }
    println!(
        "practitioners {}, teams {}, institutions {}",
        c.practitioners.len(),
        c.teams.len(),
        c.institutions.len()
    );
    for r in rows.iter().take(25) {
        println!("{r:?}");
    }
}
