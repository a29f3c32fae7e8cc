//! Accessibility on the generator's road network: a mountain county has most,
//! but not all, of its residents within 30 minutes of a township health
//! center (seed 001 art. 29), and nearly all within an hour.

use std::collections::HashMap;

use chrono::NaiveDate;
use yilian_analytics::access::{RoadGraph, coverage, travel_times, two_step_fca};
use yilian_synth::{
    County, CountySpec, InstitutionKind, InstitutionRow, Profession, county, geography,
};

/// Township and community health centers, at their townships' seats.
fn health_centers(c: &County) -> impl Iterator<Item = &InstitutionRow> {
    c.institutions.iter().filter(|i| {
        matches!(
            i.kind,
            InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter
        )
    })
}

#[test]
fn generated_county_coverage_is_realistic() {
    for seed in [1, 7, 2026] {
        let spec = CountySpec::new(seed, 5_000, NaiveDate::from_ymd_opt(2026, 6, 30).unwrap());
        let c = county(&spec);
        let geo = geography(&spec, &c);
        let edges: Vec<(usize, usize, f64)> = geo
            .edges
            .iter()
            .map(|e| (e.from, e.to, e.minutes))
            .collect();
        let g = RoadGraph::new(geo.nodes.len(), &edges).unwrap();

        // Residents live in villages; township and community health centers
        // sit at township seats.
        let people: HashMap<&str, i64> = c
            .villages()
            .map(|v| (v.code.as_str(), v.population.unwrap_or(0)))
            .collect();
        let population: Vec<i64> = geo
            .nodes
            .iter()
            .map(|n| people.get(n.region_code.as_str()).copied().unwrap_or(0))
            .collect();
        assert_eq!(population.iter().sum::<i64>(), 5_000);
        let centers: Vec<usize> = health_centers(&c)
            .map(|i| geo.node_of(&i.region_code).unwrap())
            .collect();
        assert_eq!(centers.len(), c.townships().count());

        let times = travel_times(&g, &centers);
        assert!(
            times.iter().all(|t| t.is_finite()),
            "every village is reachable"
        );
        let share = |m: f64| coverage(&times, &population, m).share.unwrap();
        let (s15, s30, s60) = (share(15.0), share(30.0), share(60.0));
        println!("seed {seed}: within 15 min {s15:.3}, 30 min {s30:.3}, 60 min {s60:.3}");
        assert!((0.7..=0.995).contains(&s30), "seed {seed}: 30 min {s30}");
        assert!(s60 >= 0.95, "seed {seed}: 60 min {s60}");
        assert!(s15 <= s30 && s30 <= s60);

        // Physician accessibility per village (2SFCA, 30 minutes) with the
        // centers' physicians: scores are finite and, as every center has
        // residents in reach, the population-weighted scores add up to the
        // physicians (conservation of supply).
        let supply: Vec<(usize, f64)> = health_centers(&c)
            .map(|i| {
                let physicians: i64 = i
                    .staff
                    .iter()
                    .filter(|(p, _)| {
                        matches!(
                            p,
                            Profession::LicensedPhysician | Profession::AssistantPhysician
                        )
                    })
                    .map(|(_, n)| n)
                    .sum();
                (geo.node_of(&i.region_code).unwrap(), physicians as f64)
            })
            .collect();
        let demand: Vec<(usize, i64)> = population
            .iter()
            .enumerate()
            .filter(|(_, p)| **p > 0)
            .map(|(i, p)| (i, *p))
            .collect();
        let scores = two_step_fca(&g, &demand, &supply, 30.0);
        assert!(scores.iter().all(|a| a.is_finite() && *a >= 0.0));
        let weighted: f64 = scores
            .iter()
            .zip(&demand)
            .map(|(a, (_, p))| a * *p as f64 / 1000.0)
            .sum();
        let physicians: f64 = supply.iter().map(|(_, s)| s).sum();
        assert!(
            (weighted - physicians).abs() < 1e-6,
            "{weighted} vs {physicians}"
        );
        // A village scores 0 exactly when no center is within 30 minutes.
        for (a, (i, _)) in scores.iter().zip(&demand) {
            assert_eq!(*a == 0.0, times[*i] > 30.0);
        }
    }
}
