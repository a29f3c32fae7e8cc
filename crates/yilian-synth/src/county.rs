//! The county's master data: region tree, institutions, consortia,
//! practitioners and family doctor teams.

use std::collections::HashSet;

use chrono::Datelike;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use yilian_domain::id_number::Sex;

use crate::names::NameGen;
use crate::rng::{Stage, Weighted, chance, pick, pick_str, stage_rng};
use crate::tables::{
    CDC_DEPARTMENTS, CLINIC_BRANDS, COMMUNITY_STEMS, COUNTY_CODE, COUNTY_NAME, GENERAL_SPECIALTIES,
    MCH_SPECIALTIES, ROADS, STREET_STEMS, TCM_SPECIALTIES, TCM_SPECIALTIES_TCM, TECH_DEPARTMENTS,
    TOWNSHIP_STEMS, VILLAGE_HEADS, VILLAGE_TAILS,
};
use crate::{
    BedType, ConsortiumKind, ConsortiumRow, County, CountySpec, Grade, InstitutionKind,
    InstitutionRow, Ownership, PractitionerRow, Profession, RegionLevel, RegionRow, Service,
    TeamRole, TeamRow,
};

const PROVINCE_CODE: &str = "140000";
const PROVINCE_NAME: &str = "山西省";
const CITY_CODE: &str = "140500";
const CITY_NAME: &str = "晋城市";
/// Taiyuan, the provincial capital, and Jincheng city centre (lon, lat).
const TAIYUAN: (f64, f64) = (112.549, 37.857);
const JINCHENG: (f64, f64) = (112.851, 35.491);
/// The county's bounding box and its seat, in the box's centre cell.
const LON: (f64, f64) = (112.50, 113.20);
const LAT: (f64, f64) = (35.40, 35.90);
const GRID: usize = 5;

/// Rounds a coordinate to 5 decimals (about a metre).
fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// Rounds a non-negative planning figure to a whole count.
fn count(x: f64) -> i64 {
    x.round() as i64
}

/// Shuffles in place (Fisher–Yates) with the stage's stream.
fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// A uniform draw in `[a, b)`.
fn uniform(rng: &mut ChaCha8Rng, a: f64, b: f64) -> f64 {
    a + (b - a) * rng.random::<f64>()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TownKind {
    /// 街道 at the county seat: residents' committees (社区), a community health center.
    Street,
    /// 镇.
    Town,
    /// 乡.
    Xiang,
}

#[derive(Debug, Clone)]
struct Village {
    code: String,
    name: String,
    lon: f64,
    lat: f64,
    pop: i64,
}

#[derive(Debug, Clone)]
struct Township {
    code: String,
    name: String,
    kind: TownKind,
    lon: f64,
    lat: f64,
    villages: Vec<Village>,
}

impl Township {
    fn pop(&self) -> i64 {
        self.villages.iter().map(|v| v.pop).sum()
    }
}

/// Builds the whole county.
pub(crate) fn build(spec: &CountySpec) -> County {
    let n = i64::try_from(spec.residents).unwrap_or(i64::MAX);
    let towns = layout(&mut stage_rng(spec.seed, Stage::Regions), n);
    let regions = region_rows(&towns, n);
    let institutions = institutions(&mut stage_rng(spec.seed, Stage::Institutions), &towns, n);
    let consortia = consortia(&institutions);
    let practitioners = practitioners(
        &mut stage_rng(spec.seed, Stage::Practitioners),
        &institutions,
        spec.today.year(),
    );
    let teams = teams(
        &mut stage_rng(spec.seed, Stage::Teams),
        &towns,
        &institutions,
        &practitioners,
    );
    County {
        county_code: COUNTY_CODE.into(),
        county_name: COUNTY_NAME.into(),
        regions,
        institutions,
        consortia,
        practitioners,
        teams,
    }
}

/// Townships and villages with positions and populations summing to `n`.
fn layout(rng: &mut ChaCha8Rng, n: i64) -> Vec<Township> {
    let n_towns: usize = rng.random_range(15..=25);
    let n_streets: usize = if n_towns >= 21 {
        2
    } else {
        rng.random_range(1..=2)
    };
    let n_rural = n_towns - n_streets;
    let target_villages: usize = rng.random_range(185..=215);

    let mut stems: Vec<&str> = TOWNSHIP_STEMS.to_vec();
    shuffle(rng, &mut stems);
    // Grid cells of the county box; the centre cell holds the seat.
    let centre = GRID * GRID / 2;
    let mut cells: Vec<usize> = (0..GRID * GRID).filter(|c| *c != centre).collect();
    shuffle(rng, &mut cells);
    let cell_w = (LON.1 - LON.0) / GRID as f64;
    let cell_h = (LAT.1 - LAT.0) / GRID as f64;
    let cell_centre = |c: usize| {
        (
            LON.0 + cell_w * ((c % GRID) as f64 + 0.5),
            LAT.0 + cell_h * ((c / GRID) as f64 + 0.5),
        )
    };
    let seat = cell_centre(centre);

    let mut used_names: HashSet<String> = HashSet::new();
    let mut towns = Vec::with_capacity(n_towns);
    let mut communities: Vec<&str> = COMMUNITY_STEMS.to_vec();
    shuffle(rng, &mut communities);
    let mut communities = communities.into_iter();
    for (i, stem) in STREET_STEMS.iter().take(n_streets).enumerate() {
        let code = format!("{COUNTY_CODE}{:03}", i + 1);
        let lon = seat.0 + uniform(rng, -0.012, 0.012);
        let lat = seat.1 + uniform(rng, -0.01, 0.01);
        let k = rng.random_range(6..=10);
        let villages = (0..k)
            .map(|j| {
                let name = format!("{}社区", communities.next().unwrap_or("新建"));
                used_names.insert(name.clone());
                Village {
                    code: format!("{code}{:03}", j + 1),
                    name,
                    lon: round5(lon + uniform(rng, -0.012, 0.012)),
                    lat: round5(lat + uniform(rng, -0.01, 0.01)),
                    pop: 0,
                }
            })
            .collect();
        towns.push(Township {
            code,
            name: format!("{stem}街道"),
            kind: TownKind::Street,
            lon: round5(lon),
            lat: round5(lat),
            villages,
        });
    }
    let communities_total: usize = towns.iter().map(|t| t.villages.len()).sum();

    // Rural townships: towns (镇) first, then 乡, each coded in its range.
    let mut kinds: Vec<TownKind> = (0..n_rural)
        .map(|_| {
            if chance(rng, 0.7) {
                TownKind::Town
            } else {
                TownKind::Xiang
            }
        })
        .collect();
    kinds.sort_by_key(|k| *k == TownKind::Xiang);
    let rural_villages = target_villages
        .saturating_sub(communities_total)
        .max(n_rural * 5);
    let weights: Vec<f64> = (0..n_rural).map(|_| uniform(rng, 0.6, 1.6)).collect();
    let wsum: f64 = weights.iter().sum();
    let extra = rural_villages - n_rural * 5;
    let mut per_town: Vec<usize> = weights
        .iter()
        .map(|w| 5 + (extra as f64 * w / wsum) as usize)
        .collect();
    let mut short = rural_villages - per_town.iter().sum::<usize>();
    let mut i = 0;
    while short > 0 {
        per_town[i % n_rural] += 1;
        short -= 1;
        i += 1;
    }
    let (mut n_town, mut n_xiang) = (0, 0);
    for (i, kind) in kinds.iter().enumerate() {
        let (code, suffix) = if *kind == TownKind::Town {
            n_town += 1;
            (format!("{COUNTY_CODE}{:03}", 100 + n_town), "镇")
        } else {
            n_xiang += 1;
            (format!("{COUNTY_CODE}{:03}", 200 + n_xiang), "乡")
        };
        let stem = stems[i];
        let (cx, cy) = cell_centre(cells[i]);
        let lon = cx + uniform(rng, -0.3, 0.3) * cell_w;
        let lat = cy + uniform(rng, -0.3, 0.3) * cell_h;
        let mut villages = Vec::with_capacity(per_town[i]);
        for j in 0..per_town[i] {
            let name = if j == 0 && used_names.insert(format!("{stem}村")) {
                format!("{stem}村")
            } else {
                village_name(rng, &mut used_names)
            };
            let (vx, vy) = if j == 0 {
                (lon, lat)
            } else {
                (
                    lon + uniform(rng, -0.32, 0.32) * cell_w,
                    lat + uniform(rng, -0.32, 0.32) * cell_h,
                )
            };
            villages.push(Village {
                code: format!("{code}{:03}", 200 + j + 1),
                name,
                lon: round5(vx.clamp(LON.0, LON.1)),
                lat: round5(vy.clamp(LAT.0, LAT.1)),
                pop: 0,
            });
        }
        towns.push(Township {
            code,
            name: format!("{stem}{suffix}"),
            kind: *kind,
            lon: round5(lon),
            lat: round5(lat),
            villages,
        });
    }

    // Populations: weights per village (communities are dense, a township's
    // seat village is large), apportioned by largest remainder to sum to n.
    let mut weights = Vec::new();
    for t in &towns {
        for (j, _) in t.villages.iter().enumerate() {
            let w = match t.kind {
                TownKind::Street => uniform(rng, 3.0, 5.0),
                _ if j == 0 => 1.8 * (0.5 + rng.random::<f64>() + rng.random::<f64>()),
                _ => 0.5 + rng.random::<f64>() + rng.random::<f64>(),
            };
            weights.push(w);
        }
    }
    let pops = apportion(n, &weights);
    let mut it = pops.into_iter();
    for t in &mut towns {
        for v in &mut t.villages {
            v.pop = it.next().unwrap_or(0);
        }
    }
    towns
}

/// Splits `n` in proportion to `weights` (largest remainder; ties to the first).
fn apportion(n: i64, weights: &[f64]) -> Vec<i64> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut out: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut left = n - out.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        let fa = exact[*a] - exact[*a].floor();
        let fb = exact[*b] - exact[*b].floor();
        fb.total_cmp(&fa).then(a.cmp(b))
    });
    for i in order.into_iter().cycle() {
        if left <= 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

/// A fictional village name (村), unique in the county.
fn village_name(rng: &mut ChaCha8Rng, used: &mut HashSet<String>) -> String {
    let names = NameGen::default();
    loop {
        let name = match rng.random_range(0..10) {
            0..=3 => format!("{}{}村", pick(rng, VILLAGE_HEADS), pick(rng, VILLAGE_TAILS)),
            4..=7 => format!("{}家{}村", names.surname(rng), pick(rng, VILLAGE_TAILS)),
            _ => format!("{}{}村", names.surname(rng), pick(rng, VILLAGE_TAILS)),
        };
        if used.insert(name.clone()) {
            return name;
        }
    }
}

fn region_rows(towns: &[Township], n: i64) -> Vec<RegionRow> {
    let seat = towns.first().map(|t| (t.lon, t.lat)).unwrap_or(JINCHENG);
    let mut rows = vec![
        RegionRow {
            code: PROVINCE_CODE.into(),
            name: PROVINCE_NAME.into(),
            level: RegionLevel::Province,
            parent_code: None,
            lon: Some(TAIYUAN.0),
            lat: Some(TAIYUAN.1),
            population: None,
        },
        RegionRow {
            code: CITY_CODE.into(),
            name: CITY_NAME.into(),
            level: RegionLevel::City,
            parent_code: Some(PROVINCE_CODE.into()),
            lon: Some(JINCHENG.0),
            lat: Some(JINCHENG.1),
            population: None,
        },
        RegionRow {
            code: COUNTY_CODE.into(),
            name: COUNTY_NAME.into(),
            level: RegionLevel::County,
            parent_code: Some(CITY_CODE.into()),
            lon: Some(seat.0),
            lat: Some(seat.1),
            population: Some(n),
        },
    ];
    for t in towns {
        rows.push(RegionRow {
            code: t.code.clone(),
            name: t.name.clone(),
            level: RegionLevel::Township,
            parent_code: Some(COUNTY_CODE.into()),
            lon: Some(t.lon),
            lat: Some(t.lat),
            population: Some(t.pop()),
        });
        for v in &t.villages {
            rows.push(RegionRow {
                code: v.code.clone(),
                name: v.name.clone(),
                level: RegionLevel::Village,
                parent_code: Some(t.code.clone()),
                lon: Some(v.lon),
                lat: Some(v.lat),
                population: Some(v.pop),
            });
        }
    }
    rows
}

/// Beds by type, dropping empty types.
fn beds(list: &[(BedType, i64)]) -> Vec<(BedType, i64)> {
    list.iter().copied().filter(|(_, n)| *n > 0).collect()
}

/// Staff by profession, dropping empty professions.
fn staff(list: &[(Profession, i64)]) -> Vec<(Profession, i64)> {
    list.iter().copied().filter(|(_, n)| *n > 0).collect()
}

/// Hospital staffing scaled to beds: physicians, nurses, pharmacists,
/// technicians per bed, and public-health physicians.
struct Staffing {
    physicians: f64,
    assistant_share: f64,
    nurses: f64,
    pharmacists: f64,
    technicians: f64,
    public_health: i64,
}

fn hospital_staff(total_beds: i64, s: &Staffing) -> Vec<(Profession, i64)> {
    let b = total_beds as f64;
    let physicians = b * s.physicians;
    staff(&[
        (
            Profession::LicensedPhysician,
            count(physicians * (1.0 - s.assistant_share)),
        ),
        (
            Profession::AssistantPhysician,
            count(physicians * s.assistant_share),
        ),
        (Profession::RegisteredNurse, count(b * s.nurses)),
        (Profession::Pharmacist, count(b * s.pharmacists).max(3)),
        (Profession::PublicHealthPhysician, s.public_health),
        (Profession::Technician, count(b * s.technicians).max(5)),
    ])
}

/// Positions near `(lon, lat)` within `d` degrees.
fn near(rng: &mut ChaCha8Rng, (lon, lat): (f64, f64), d: f64) -> (f64, f64) {
    (
        round5(lon + uniform(rng, -d, d)),
        round5(lat + uniform(rng, -d, d)),
    )
}

fn institutions(rng: &mut ChaCha8Rng, towns: &[Township], n: i64) -> Vec<InstitutionRow> {
    use InstitutionKind as K;
    let mut out = Vec::new();
    let seat_town = &towns[0];
    let seat = (seat_town.lon, seat_town.lat);
    let address = |rng: &mut ChaCha8Rng, place: &str| {
        format!("{place}{}{}号", pick(rng, ROADS), rng.random_range(1..=300))
    };
    let county_place = format!("{COUNTY_NAME}{}", seat_town.name);

    // County hospitals: 3.5–4.5 beds per 1000 residents between them.
    let density = uniform(rng, 3.5, 4.5);
    let total = density * n as f64 / 1000.0;
    let general = count(total * 0.58).max(100);
    let tcm = count(total * 0.25).max(50);
    let mch = count(total * 0.17).max(30);
    let all_centres = [
        Service::ChestPainCenter,
        Service::StrokeCenter,
        Service::TraumaCenter,
        Service::CriticalMaternalCenter,
        Service::CriticalNeonatalCenter,
    ];
    let (lon, lat) = near(rng, seat, 0.006);
    let icu = count(general as f64 * 0.03).max(4);
    let rehab = count(general as f64 * 0.05);
    let psych = if general >= 200 {
        count(general as f64 * 0.03)
    } else {
        0
    };
    let tcm_beds = count(general as f64 * 0.02);
    out.push(InstitutionRow {
        code: format!("H{COUNTY_CODE}01"),
        name: format!("{COUNTY_NAME}人民医院"),
        kind: K::CountyGeneralHospital,
        grade: Some(Grade::Level2A),
        ownership: Ownership::Public,
        region_code: COUNTY_CODE.into(),
        address: address(rng, &county_place),
        lon,
        lat,
        beds: beds(&[
            (BedType::General, general - icu - rehab - psych - tcm_beds),
            (BedType::Icu, icu),
            (BedType::Rehabilitation, rehab),
            (BedType::Psychiatric, psych),
            (BedType::Tcm, tcm_beds),
        ]),
        staff: hospital_staff(
            general,
            &Staffing {
                physicians: 0.30,
                assistant_share: 0.1,
                nurses: 0.45,
                pharmacists: 0.035,
                technicians: 0.08,
                public_health: (general / 150).max(2),
            },
        ),
        services: all_centres
            .iter()
            .copied()
            .chain([
                Service::FeverClinic,
                Service::InfectiousDiseaseDept,
                Service::TcmDept,
                Service::GeriatricsDept,
                Service::RehabilitationDept,
                Service::RemoteImaging,
                Service::RemoteEcg,
                Service::ClinicalLab,
            ])
            .collect(),
    });
    let (lon, lat) = near(rng, seat, 0.006);
    let t_rehab = count(tcm as f64 * 0.15);
    let t_tcm = count(tcm as f64 * 0.7);
    out.push(InstitutionRow {
        code: format!("H{COUNTY_CODE}02"),
        name: format!("{COUNTY_NAME}中医医院"),
        kind: K::CountyTcmHospital,
        grade: Some(Grade::Level2A),
        ownership: Ownership::Public,
        region_code: COUNTY_CODE.into(),
        address: address(rng, &county_place),
        lon,
        lat,
        beds: beds(&[
            (BedType::General, tcm - t_rehab - t_tcm),
            (BedType::Rehabilitation, t_rehab),
            (BedType::Tcm, t_tcm),
        ]),
        staff: hospital_staff(
            tcm,
            &Staffing {
                physicians: 0.30,
                assistant_share: 0.12,
                nurses: 0.38,
                pharmacists: 0.06,
                technicians: 0.07,
                public_health: 1,
            },
        ),
        // Like many county TCM hospitals, no infectious-disease or geriatrics
        // department: gaps the planning indicators (seed 002 表1) show.
        services: vec![
            Service::FeverClinic,
            Service::TcmDept,
            Service::RehabilitationDept,
            Service::RemoteEcg,
            Service::ClinicalLab,
        ],
    });
    let (lon, lat) = near(rng, seat, 0.006);
    let nicu = count(mch as f64 * 0.06).max(2);
    out.push(InstitutionRow {
        code: format!("H{COUNTY_CODE}03"),
        name: format!("{COUNTY_NAME}妇幼保健院"),
        kind: K::MaternalChildHospital,
        grade: Some(Grade::Level2B),
        ownership: Ownership::Public,
        region_code: COUNTY_CODE.into(),
        address: address(rng, &county_place),
        lon,
        lat,
        beds: beds(&[(BedType::General, mch - nicu), (BedType::Icu, nicu)]),
        staff: hospital_staff(
            mch,
            &Staffing {
                physicians: 0.32,
                assistant_share: 0.1,
                nurses: 0.48,
                pharmacists: 0.03,
                technicians: 0.08,
                public_health: (mch / 20).max(4),
            },
        ),
        services: vec![
            Service::CriticalMaternalCenter,
            Service::CriticalNeonatalCenter,
            Service::RemoteEcg,
            Service::ClinicalLab,
        ],
    });
    // CDC: 1.75 staff per 10,000 residents (at least 15).
    let (lon, lat) = near(rng, seat, 0.006);
    let cdc = count(n as f64 * 1.75 / 10_000.0).max(15);
    let cdc_ph = count(cdc as f64 * 0.6);
    let cdc_tech = count(cdc as f64 * 0.25);
    let cdc_lic = count(cdc as f64 * 0.1);
    out.push(InstitutionRow {
        code: format!("D{COUNTY_CODE}01"),
        name: format!("{COUNTY_NAME}疾病预防控制中心"),
        kind: K::Cdc,
        grade: None,
        ownership: Ownership::Public,
        region_code: COUNTY_CODE.into(),
        address: address(rng, &county_place),
        lon,
        lat,
        beds: Vec::new(),
        staff: staff(&[
            (Profession::LicensedPhysician, cdc_lic),
            (
                Profession::RegisteredNurse,
                (cdc - cdc_ph - cdc_tech - cdc_lic).max(1),
            ),
            (Profession::PublicHealthPhysician, cdc_ph),
            (Profession::Technician, cdc_tech),
        ]),
        services: vec![Service::StandardizedInfrastructure, Service::ClinicalLab],
    });

    // The three most populous rural townships have central health centres.
    let mut by_pop: Vec<(i64, usize)> = towns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind != TownKind::Street)
        .map(|(i, t)| (-t.pop(), i))
        .collect();
    by_pop.sort();
    let central: HashSet<usize> = by_pop.iter().take(3).map(|(_, i)| *i).collect();

    for (ti, t) in towns.iter().enumerate() {
        let p = t.pop() as f64;
        let street = t.kind == TownKind::Street;
        let (lon, lat) = near(rng, (t.lon, t.lat), 0.003);
        let (general_beds, rehab_beds) = if street {
            (
                count((p * 0.4 / 1000.0).clamp(10.0, 30.0)),
                rng.random_range(4..=8),
            )
        } else {
            // About 1.6 beds per 1000 residents served, 20–60 beds.
            let g = (p * 1.6 / 1000.0 + uniform(rng, -5.0, 15.0)).clamp(20.0, 60.0);
            (count(g), rng.random_range(4..=10))
        };
        let mut services = Vec::new();
        if chance(rng, if street { 0.5 } else { 0.7 }) {
            services.push(Service::FeverClinic);
        }
        if chance(rng, 0.8) {
            services.push(Service::TcmHall);
        }
        if chance(rng, 0.5) {
            services.push(Service::RehabilitationDept);
        }
        if !street && chance(rng, 0.6) {
            services.push(Service::RemoteEcg);
        }
        services.push(Service::ClinicalLab);
        let min_lic = if street { 4 } else { 3 };
        let staff = staff(&[
            (
                Profession::LicensedPhysician,
                count(p / 2500.0).max(min_lic),
            ),
            (Profession::AssistantPhysician, count(p / 6000.0).max(1)),
            (
                Profession::RegisteredNurse,
                count(general_beds as f64 * 0.35 + p / 4000.0).max(3),
            ),
            (Profession::Pharmacist, count(p / 15_000.0).max(1)),
            (Profession::PublicHealthPhysician, count(p / 8000.0).max(1)),
            (Profession::Technician, count(p / 7000.0).max(2)),
        ]);
        let (code, name, kind, addr) = if street {
            (
                format!("C{}", t.code),
                format!("{COUNTY_NAME}{}社区卫生服务中心", t.name),
                K::CommunityHealthCenter,
                address(rng, &format!("{COUNTY_NAME}{}", t.name)),
            )
        } else {
            let centre = if central.contains(&ti) { "中心" } else { "" };
            (
                format!("W{}", t.code),
                format!("{COUNTY_NAME}{}{centre}卫生院", t.name),
                K::TownshipHealthCenter,
                format!(
                    "{COUNTY_NAME}{}{}{}号",
                    t.name,
                    t.villages[0].name,
                    rng.random_range(1..=200)
                ),
            )
        };
        out.push(InstitutionRow {
            code,
            name,
            kind,
            grade: Some(Grade::Level1),
            ownership: Ownership::Public,
            region_code: t.code.clone(),
            address: addr,
            lon,
            lat,
            beds: beds(&[
                (BedType::General, general_beds),
                (BedType::Rehabilitation, rehab_beds),
            ]),
            staff,
            services,
        });
        for v in &t.villages {
            let (lon, lat) = near(rng, (v.lon, v.lat), 0.002);
            let row = if street {
                InstitutionRow {
                    code: format!("S{}", v.code),
                    name: format!("{}{}卫生服务站", t.name, v.name),
                    kind: K::CommunityHealthStation,
                    grade: None,
                    ownership: Ownership::Public,
                    region_code: v.code.clone(),
                    address: address(rng, &format!("{COUNTY_NAME}{}{}", t.name, v.name)),
                    lon,
                    lat,
                    beds: Vec::new(),
                    staff: vec![
                        if chance(rng, 0.5) {
                            (Profession::LicensedPhysician, 1)
                        } else {
                            (Profession::AssistantPhysician, 1)
                        },
                        (Profession::RegisteredNurse, rng.random_range(1..=2)),
                    ],
                    services: Vec::new(),
                }
            } else {
                let doctors = if v.pop > 1200 && chance(rng, 0.6) {
                    2
                } else {
                    1
                };
                InstitutionRow {
                    code: format!("V{}", v.code),
                    name: format!("{}{}卫生室", t.name, v.name),
                    kind: K::VillageClinic,
                    grade: None,
                    ownership: Ownership::Public,
                    region_code: v.code.clone(),
                    address: format!(
                        "{COUNTY_NAME}{}{}{}号",
                        t.name,
                        v.name,
                        rng.random_range(1..=120)
                    ),
                    lon,
                    lat,
                    beds: Vec::new(),
                    staff: vec![(Profession::VillageDoctor, doctors)],
                    services: Vec::new(),
                }
            };
            out.push(row);
        }
    }

    // Private clinics: in the seat's communities and the largest townships.
    let n_private = rng.random_range(2..=4);
    let mut brands: Vec<&str> = CLINIC_BRANDS.to_vec();
    shuffle(rng, &mut brands);
    let themes = ["中医诊所", "口腔诊所", "内科诊所", "全科诊所"];
    for i in 0..n_private {
        let theme = themes[i % themes.len()];
        let (region_code, place, pos) = if i % 2 == 0 {
            let v = pick(rng, &seat_town.villages);
            (
                v.code.clone(),
                format!("{COUNTY_NAME}{}{}", seat_town.name, v.name),
                (v.lon, v.lat),
            )
        } else {
            let t = &towns[by_pop[(i / 2) % by_pop.len()].1];
            (
                t.code.clone(),
                format!("{COUNTY_NAME}{}", t.name),
                (t.lon, t.lat),
            )
        };
        let (lon, lat) = near(rng, pos, 0.004);
        out.push(InstitutionRow {
            code: format!("Z{COUNTY_CODE}{:02}", i + 1),
            name: format!("{COUNTY_NAME}{}{theme}", brands[i]),
            kind: K::PrivateClinic,
            grade: None,
            ownership: Ownership::Private,
            region_code,
            address: address(rng, &place),
            lon,
            lat,
            beds: Vec::new(),
            staff: staff(&[
                (Profession::LicensedPhysician, rng.random_range(1..=2)),
                (Profession::RegisteredNurse, rng.random_range(0..=1)),
            ]),
            services: if theme == "中医诊所" {
                vec![Service::TcmDept]
            } else {
                Vec::new()
            },
        });
    }

    // Referral targets outside the county, in Jincheng city.
    let city_place = format!("{CITY_NAME}城区");
    for (code, name, kind, grade, total_beds) in [
        (
            "H14050001",
            "晋城市第二中心医院",
            K::CityHospital,
            Grade::Level3B,
            400,
        ),
        (
            "H14050002",
            "晋东南区域医疗中心",
            K::TertiaryHospital,
            Grade::Level3A,
            800,
        ),
    ] {
        let (lon, lat) = near(rng, JINCHENG, 0.02);
        let icu = count(total_beds as f64 * 0.05);
        let rehab = count(total_beds as f64 * 0.05);
        let psych = count(total_beds as f64 * 0.03);
        let tcm_b = count(total_beds as f64 * 0.04);
        let tertiary = kind == K::TertiaryHospital;
        let mut services: Vec<Service> = all_centres
            .iter()
            .copied()
            .filter(|s| tertiary || *s != Service::CriticalNeonatalCenter)
            .collect();
        services.extend([
            Service::FeverClinic,
            Service::InfectiousDiseaseDept,
            Service::TcmDept,
            Service::GeriatricsDept,
            Service::RehabilitationDept,
            Service::RemoteImaging,
            Service::RemoteEcg,
            Service::ClinicalLab,
        ]);
        out.push(InstitutionRow {
            code: code.into(),
            name: name.into(),
            kind,
            grade: Some(grade),
            ownership: Ownership::Public,
            region_code: CITY_CODE.into(),
            address: address(rng, &city_place),
            lon,
            lat,
            beds: beds(&[
                (BedType::General, total_beds - icu - rehab - psych - tcm_b),
                (BedType::Icu, icu),
                (BedType::Rehabilitation, rehab),
                (BedType::Psychiatric, psych),
                (BedType::Tcm, tcm_b),
            ]),
            staff: hospital_staff(
                total_beds,
                &Staffing {
                    physicians: if tertiary { 0.36 } else { 0.33 },
                    assistant_share: 0.03,
                    nurses: if tertiary { 0.58 } else { 0.5 },
                    pharmacists: 0.035,
                    technicians: if tertiary { 0.09 } else { 0.08 },
                    public_health: if tertiary { 6 } else { 4 },
                },
            ),
            services,
        });
    }
    out
}

fn codes_of(institutions: &[InstitutionRow], kinds: &[InstitutionKind]) -> Vec<String> {
    institutions
        .iter()
        .filter(|i| kinds.contains(&i.kind))
        .map(|i| i.code.clone())
        .collect()
}

fn code_of(institutions: &[InstitutionRow], kind: InstitutionKind) -> String {
    institutions
        .iter()
        .find(|i| i.kind == kind)
        .map(|i| i.code.clone())
        .unwrap_or_default()
}

fn consortia(institutions: &[InstitutionRow]) -> Vec<ConsortiumRow> {
    use InstitutionKind as K;
    let general = code_of(institutions, K::CountyGeneralHospital);
    vec![
        ConsortiumRow {
            code: format!("CN{COUNTY_CODE}01"),
            name: format!("{COUNTY_NAME}医疗集团"),
            kind: ConsortiumKind::CountyConsortium,
            lead_code: general.clone(),
            region_code: COUNTY_CODE.into(),
            member_codes: codes_of(
                institutions,
                &[
                    K::CountyTcmHospital,
                    K::MaternalChildHospital,
                    K::TownshipHealthCenter,
                    K::CommunityHealthCenter,
                    K::CommunityHealthStation,
                    K::VillageClinic,
                ],
            ),
        },
        ConsortiumRow {
            code: format!("CN{CITY_CODE}01"),
            name: "晋东南胸痛专科联盟".into(),
            kind: ConsortiumKind::SpecialtyAlliance,
            lead_code: code_of(institutions, K::TertiaryHospital),
            region_code: CITY_CODE.into(),
            member_codes: vec![code_of(institutions, K::CityHospital), general.clone()],
        },
        ConsortiumRow {
            code: format!("CN{COUNTY_CODE}02"),
            name: format!("{COUNTY_NAME}远程医疗协作网"),
            kind: ConsortiumKind::TelemedicineNetwork,
            lead_code: general,
            region_code: COUNTY_CODE.into(),
            member_codes: codes_of(
                institutions,
                &[
                    K::CountyTcmHospital,
                    K::MaternalChildHospital,
                    K::TownshipHealthCenter,
                    K::CommunityHealthCenter,
                ],
            ),
        },
    ]
}

/// A synthetic mobile number in the data-only 14x segments.
pub(crate) fn phone<R: Rng>(rng: &mut R) -> String {
    let mut n: u64 = rng.random_range(0..1_000_000_000);
    let mut b = *b"14000000000";
    for d in b[2..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    String::from_utf8(b.to_vec()).unwrap_or_default()
}

fn weighted_pick(rng: &mut ChaCha8Rng, table: &[(&'static str, u32)]) -> usize {
    Weighted::new(table.iter().map(|(_, w)| u64::from(*w))).sample(rng)
}

/// Specialty, GP flag and TCM flag of a physician at an institution.
fn physician_profile(
    rng: &mut ChaCha8Rng,
    inst: &InstitutionRow,
    nth: usize,
) -> (String, bool, bool) {
    use InstitutionKind as K;
    let spec = |s: &str, gp: bool, tcm: bool| (s.to_string(), gp, tcm);
    match inst.kind {
        K::CountyGeneralHospital | K::CityHospital | K::TertiaryHospital => {
            let s = GENERAL_SPECIALTIES[weighted_pick(rng, GENERAL_SPECIALTIES)].0;
            spec(s, s == "全科医学科", s == "中医科")
        }
        K::CountyTcmHospital => {
            let i = weighted_pick(rng, TCM_SPECIALTIES);
            spec(TCM_SPECIALTIES[i].0, false, i < TCM_SPECIALTIES_TCM)
        }
        K::MaternalChildHospital => spec(
            MCH_SPECIALTIES[weighted_pick(rng, MCH_SPECIALTIES)].0,
            false,
            false,
        ),
        K::TownshipHealthCenter | K::CommunityHealthCenter => {
            // The first two are always GPs: every centre can lead two teams.
            let r: f64 = if nth < 2 { 0.0 } else { rng.random() };
            if r < 0.68 {
                spec("全科医学科", true, false)
            } else if r < 0.88 {
                spec("中医科", chance(rng, 0.3), true)
            } else {
                spec(
                    pick_str(rng, &["内科", "外科", "妇产科", "口腔科", "医学影像科"]),
                    false,
                    false,
                )
            }
        }
        K::CommunityHealthStation | K::VillageClinic => spec("全科医学科", true, false),
        K::PrivateClinic => {
            if inst.name.ends_with("中医诊所") {
                spec("中医科", false, true)
            } else if inst.name.ends_with("口腔诊所") {
                spec("口腔科", false, false)
            } else if inst.name.ends_with("内科诊所") {
                spec("内科", false, false)
            } else {
                spec("全科医学科", true, false)
            }
        }
        K::Cdc => spec(pick_str(rng, CDC_DEPARTMENTS), false, false),
    }
}

fn practitioners(
    rng: &mut ChaCha8Rng,
    institutions: &[InstitutionRow],
    year: i32,
) -> Vec<PractitionerRow> {
    use InstitutionKind as K;
    let names = NameGen::default();
    let townships = codes_of(institutions, &[K::TownshipHealthCenter]);
    let mut out = Vec::new();
    for inst in institutions {
        let mut nth_physician = 0;
        for (profession, n) in &inst.staff {
            for _ in 0..*n {
                let female_share = match profession {
                    Profession::RegisteredNurse => 0.96,
                    Profession::VillageDoctor => 0.25,
                    Profession::Pharmacist => 0.6,
                    Profession::PublicHealthPhysician => 0.55,
                    Profession::Technician => 0.5,
                    _ if inst.kind == K::MaternalChildHospital => 0.8,
                    _ => 0.48,
                };
                let sex = if chance(rng, female_share) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let age: i32 = match profession {
                    Profession::VillageDoctor => rng.random_range(30..=68),
                    _ => rng.random_range(24..=60),
                };
                let name = names.name(rng, sex, year - age).to_name();
                let mut site_codes = vec![inst.code.clone()];
                let (specialty, is_gp, is_tcm) = match profession {
                    Profession::LicensedPhysician | Profession::AssistantPhysician => {
                        let (s, gp, tcm) = physician_profile(rng, inst, nth_physician);
                        nth_physician += 1;
                        // 多点执业: some county specialists also work at a township centre.
                        let county =
                            matches!(inst.kind, K::CountyGeneralHospital | K::CountyTcmHospital);
                        if county
                            && !gp
                            && *profession == Profession::LicensedPhysician
                            && !townships.is_empty()
                            && chance(rng, 0.05)
                        {
                            site_codes.push(pick(rng, &townships).clone());
                        }
                        (Some(s), gp, tcm)
                    }
                    Profession::VillageDoctor | Profession::RegisteredNurse => (None, false, false),
                    Profession::Pharmacist => {
                        let s = if inst.kind == K::CountyTcmHospital && chance(rng, 0.5) {
                            "中药房"
                        } else {
                            "药剂科"
                        };
                        (Some(s.into()), false, false)
                    }
                    Profession::PublicHealthPhysician => {
                        let s = match inst.kind {
                            K::Cdc => *pick(rng, CDC_DEPARTMENTS),
                            K::MaternalChildHospital => *pick(rng, &["妇女保健科", "儿童保健科"]),
                            K::TownshipHealthCenter | K::CommunityHealthCenter => "公共卫生科",
                            _ => "预防保健科",
                        };
                        (Some(s.into()), false, false)
                    }
                    Profession::Technician => {
                        let s = if inst.kind == K::Cdc {
                            "卫生检验科"
                        } else {
                            *pick(rng, TECH_DEPARTMENTS)
                        };
                        (Some(s.into()), false, false)
                    }
                };
                out.push(PractitionerRow {
                    code: format!("P{:06}", out.len() + 1),
                    name,
                    sex,
                    profession: *profession,
                    specialty,
                    is_gp,
                    is_tcm,
                    phone: phone(rng),
                    site_codes,
                });
            }
        }
    }
    out
}

fn is_physician(p: &PractitionerRow) -> bool {
    matches!(
        p.profession,
        Profession::LicensedPhysician | Profession::AssistantPhysician
    )
}

/// Practitioners whose main site is `code`.
fn at_site<'a>(practitioners: &'a [PractitionerRow], code: &str) -> Vec<&'a PractitionerRow> {
    practitioners
        .iter()
        .filter(|p| p.site_codes[0] == code)
        .collect()
}

/// Specialties of county specialists who join family doctor teams.
const TEAM_SPECIALTIES: &[&str] = &[
    "内科",
    "心血管内科",
    "内分泌科",
    "老年医学科",
    "神经内科",
    "儿科",
    "妇产科",
];

fn teams(
    rng: &mut ChaCha8Rng,
    towns: &[Township],
    institutions: &[InstitutionRow],
    practitioners: &[PractitionerRow],
) -> Vec<TeamRow> {
    let general = code_of(institutions, InstitutionKind::CountyGeneralHospital);
    let at = |code: &str| at_site(practitioners, code);
    let mut specialists: Vec<&PractitionerRow> = at(&general)
        .into_iter()
        .filter(|p| {
            p.profession == Profession::LicensedPhysician
                && !p.is_gp
                && p.specialty
                    .as_deref()
                    .is_some_and(|s| TEAM_SPECIALTIES.contains(&s))
        })
        .collect();
    let mut out = Vec::new();
    for t in towns {
        let street = t.kind == TownKind::Street;
        let centre = if street {
            format!("C{}", t.code)
        } else {
            format!("W{}", t.code)
        };
        let gps: Vec<&PractitionerRow> = at(&centre)
            .into_iter()
            .filter(|p| p.is_gp && is_physician(p))
            .collect();
        let nurses: Vec<&PractitionerRow> = at(&centre)
            .into_iter()
            .filter(|p| p.profession == Profession::RegisteredNurse)
            .collect();
        let public_health: Vec<&PractitionerRow> = at(&centre)
            .into_iter()
            .filter(|p| p.profession == Profession::PublicHealthPhysician)
            .collect();
        let k = rng
            .random_range(2..=4usize)
            .min(gps.len())
            .min(t.villages.len());
        if k == 0 {
            continue;
        }
        let mut members: Vec<Vec<(String, TeamRole)>> = (0..k)
            .map(|i| vec![(gps[i].code.clone(), TeamRole::Lead)])
            .collect();
        for (i, p) in gps[k..].iter().enumerate() {
            members[i % k].push((p.code.clone(), TeamRole::Gp));
        }
        for (i, p) in nurses.iter().take(k + k / 2).enumerate() {
            members[i % k].push((p.code.clone(), TeamRole::Nurse));
        }
        for (i, p) in public_health.iter().enumerate() {
            members[i % k].push((p.code.clone(), TeamRole::PublicHealth));
        }
        // Villages (or communities) in contiguous chunks, one chunk per team.
        let nv = t.villages.len();
        for (j, v) in t.villages.iter().enumerate() {
            let team = j * k / nv;
            let site = if street {
                format!("S{}", v.code)
            } else {
                format!("V{}", v.code)
            };
            for p in at(&site) {
                let role = match p.profession {
                    Profession::VillageDoctor => TeamRole::VillageDoctor,
                    Profession::RegisteredNurse => TeamRole::Nurse,
                    _ => TeamRole::Gp,
                };
                members[team].push((p.code.clone(), role));
            }
        }
        for (i, m) in members.iter_mut().enumerate() {
            // A county specialist joins half the teams, those practising here first.
            if !specialists.is_empty() && chance(rng, 0.5) {
                let idx = specialists
                    .iter()
                    .position(|p| p.site_codes.contains(&centre))
                    .unwrap_or_else(|| rng.random_range(0..specialists.len()));
                let s = specialists.remove(idx);
                m.push((s.code.clone(), TeamRole::Specialist));
            }
            let physicians = m
                .iter()
                .filter(|(_, r)| matches!(r, TeamRole::Lead | TeamRole::Gp))
                .count();
            let lead = practitioners
                .iter()
                .find(|p| p.code == m[0].0)
                .map(|p| p.name.as_str())
                .unwrap_or("");
            out.push(TeamRow {
                code: format!("FT{}{:02}", t.code, i + 1),
                name: format!("{}{lead}家庭医生团队", t.name),
                institution_code: centre.clone(),
                capacity: 2000 * physicians as i64,
                members: std::mem::take(m),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_exactly() {
        let w = [1.0, 2.0, 3.3, 0.7];
        for n in [0, 1, 7, 1000, 12_345_679] {
            assert_eq!(apportion(n, &w).iter().sum::<i64>(), n);
        }
    }
}
