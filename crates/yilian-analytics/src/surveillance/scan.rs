//! Space–time permutation scan statistic for prospective outbreak detection.
//!
//! M. Kulldorff, R. Heffernan, J. Hartman, R. Assunção and F. Mostashari,
//! "A space–time permutation scan statistic for disease outbreak
//! detection", *PLoS Medicine* 2(3):e59, 2005 (the method of SaTScan's
//! space–time permutation model). Only case counts are needed — no
//! population at risk — because the expectation comes from the data's own
//! spatial and temporal margins.
//!
//! # Method
//!
//! With `c_zd` the cases at location `z` on day `d` of the study period
//! (the slice given, e.g. the last 30 days), `C_z = Σ_d c_zd`,
//! `C_d = Σ_z c_zd` and `C = Σ c_zd`:
//!
//! * **Cylinders** — a circle (location `i` as centre and its `k` nearest
//!   locations, `k = 1 … ⌊max_share·n⌋`, ties by index) × a time window ending
//!   on the last day (prospective surveillance) of `1 … max_days` days.
//! * **Expected** cases in cylinder `A` = zones `Z` × days `D`, under no
//!   space–time interaction: `μ_A = Σ_{z∈Z,d∈D} C_z·C_d / C =
//!   (Σ_{z∈Z} C_z)(Σ_{d∈D} C_d)/C`.
//! * **Score** — the Poisson generalised likelihood ratio, for `c_A > μ_A`
//!   only: `LLR = c_A·ln(c_A/μ_A) + (C − c_A)·ln((C − c_A)/(C − μ_A))`.
//!   The most likely cluster maximises it.
//! * **Significance** — Monte Carlo: each replication permutes the days of
//!   the cases while keeping every location's total and every day's total,
//!   rescans, and keeps its maximum LLR; `p = rank/(R + 1)` with `rank = 1 +`
//!   the number of replications whose maximum is ≥ the observed LLR.
//!   Secondary clusters — the next best cylinders sharing no location with
//!   a better reported one — are ranked against the same maxima, as SaTScan
//!   does (conservative for them).
//!
//! # Speed and reproducibility
//!
//! Only cases in the last `max_days` days can fall inside a cylinder, so a
//! replication draws, day by day from the last, which locations those
//! `M = Σ_{last days} C_d` cases come from — sampling without replacement
//! from the multiset of case locations (a Fenwick tree over the remaining
//! `C_z`), which has exactly the distribution of the full permutation
//! restricted to those days — in `O(M log n)` instead of shuffling all `C`
//! cases. Counts per location are kept as running sums backwards from the
//! last day; neighbour orders and the expected counts of every cylinder
//! (which permutation does not change) are computed once. Replication `r`
//! uses ChaCha8 seeded with `seed` on stream `r`, so results do not depend on
//! how the replications are split across the `std::thread::scope` workers
//! (one per available core).

use std::thread;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Parameters of [`space_time_permutation`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScanParams {
    /// Longest time window, in days (clamped to 1 … study length).
    pub max_days: usize,
    /// Largest circle as a share of the locations (0.5 = half of them); at
    /// least one location.
    pub max_share: f64,
    /// Monte Carlo replications (999 by default; at most [`MAX_REPLICATIONS`]).
    pub replications: usize,
    pub seed: u64,
}

/// Replications above this are not run.
pub const MAX_REPLICATIONS: usize = 999_999;

impl Default for ScanParams {
    fn default() -> Self {
        ScanParams {
            max_days: 7,
            max_share: 0.5,
            replications: 999,
            seed: 20_050_301,
        }
    }
}

/// A space–time cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Index of the centre location.
    pub centre: usize,
    /// The locations in the circle, nearest to the centre first.
    pub locations: Vec<usize>,
    /// First and last day of the window (indices into the study period;
    /// `end_day` is always the last day).
    pub start_day: usize,
    pub end_day: usize,
    pub observed: f64,
    pub expected: f64,
    pub llr: f64,
    pub p_value: f64,
}

/// The most likely cluster, or `None` when there is none: no cases, no
/// cylinder with more cases than expected, or malformed input (`cases` and
/// `coords` of different lengths, rows of different lengths, no days).
pub fn space_time_permutation(
    cases: &[Vec<u32>],
    coords: &[(f64, f64)],
    p: &ScanParams,
) -> Option<Cluster> {
    space_time_permutation_clusters(cases, coords, p)
        .into_iter()
        .next()
}

/// The most likely cluster followed by the secondary clusters (in
/// decreasing LLR, none sharing a location with a cluster before it).
pub fn space_time_permutation_clusters(
    cases: &[Vec<u32>],
    coords: &[(f64, f64)],
    p: &ScanParams,
) -> Vec<Cluster> {
    let Some(setup) = Setup::new(cases, coords, p) else {
        return Vec::new();
    };
    let candidates = setup.candidates(&setup.observed);
    if candidates.is_empty() {
        return Vec::new();
    }
    let reps = p.replications.min(MAX_REPLICATIONS);
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let mut maxima = setup.null_maxima(reps, p.seed, threads);
    maxima.sort_by(|a, b| b.total_cmp(a));
    let p_value = |llr: f64| {
        let exceed = maxima.partition_point(|&m| m >= llr);
        (exceed + 1) as f64 / (reps + 1) as f64
    };

    let mut taken = vec![false; setup.n];
    let mut out = Vec::new();
    for c in candidates {
        let locations = setup.circle(c.centre, c.k);
        if locations.iter().any(|&z| taken[z as usize]) {
            continue;
        }
        for &z in locations {
            taken[z as usize] = true;
        }
        out.push(Cluster {
            centre: c.centre,
            locations: locations.iter().map(|&z| z as usize).collect(),
            start_day: setup.t - 1 - c.j,
            end_day: setup.t - 1,
            observed: c.observed,
            expected: c.expected,
            llr: c.llr,
            p_value: p_value(c.llr),
        });
    }
    out
}

/// One scored cylinder: circle (`centre`, first `k + 1` neighbours) × the
/// last `j + 1` days.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    centre: usize,
    k: usize,
    j: usize,
    observed: f64,
    expected: f64,
    llr: f64,
}

/// Everything a scan needs that permutation does not change.
#[derive(Debug)]
struct Setup {
    /// Locations, study days, longest window, largest circle.
    n: usize,
    t: usize,
    l: usize,
    kmax: usize,
    total: f64,
    /// `C_z` per location.
    loc_total: Vec<u64>,
    /// `C_d` for the last `l` days, index 0 = the last day.
    recent_days: Vec<u64>,
    /// `nbr[i·kmax + k]`: the k-th nearest location of centre `i` (0 = itself
    /// unless another location shares its coordinates with a lower index).
    nbr: Vec<u32>,
    /// `mu[(i·kmax + k)·l + j]`: expected cases in circle (i, k) × last j+1 days.
    mu: Vec<f64>,
    /// Observed `cnt[z·l + j]`: cases at z in the last j + 1 days.
    observed: Vec<u64>,
}

impl Setup {
    fn new(cases: &[Vec<u32>], coords: &[(f64, f64)], p: &ScanParams) -> Option<Setup> {
        let n = cases.len();
        let t = cases.first()?.len();
        if n != coords.len()
            || t == 0
            || cases.iter().any(|row| row.len() != t)
            || u32::try_from(n).is_err()
        {
            return None;
        }
        let l = p.max_days.clamp(1, t);
        let kmax = ((p.max_share * n as f64).floor() as usize).clamp(1, n);
        let loc_total: Vec<u64> = cases
            .iter()
            .map(|row| row.iter().map(|&c| u64::from(c)).sum())
            .collect();
        let total_u: u64 = loc_total.iter().sum();
        if total_u == 0 {
            return None;
        }
        let total = total_u as f64;
        let recent_days: Vec<u64> = (0..l)
            .map(|j| cases.iter().map(|row| u64::from(row[t - 1 - j])).sum())
            .collect();

        let mut nbr = Vec::with_capacity(n * kmax);
        let mut order: Vec<u32> = (0..n as u32).collect();
        for &(xi, yi) in coords {
            let d2 = |z: u32| {
                let (x, y) = coords[z as usize];
                (x - xi) * (x - xi) + (y - yi) * (y - yi)
            };
            order.sort_by(|&a, &b| d2(a).total_cmp(&d2(b)).then(a.cmp(&b)));
            nbr.extend_from_slice(&order[..kmax]);
        }

        let mut mu = Vec::with_capacity(n * kmax * l);
        for i in 0..n {
            let mut zone = 0u64;
            for k in 0..kmax {
                zone += loc_total[nbr[i * kmax + k] as usize];
                let mut days = 0u64;
                for &cd in &recent_days {
                    days += cd;
                    mu.push(zone as f64 * days as f64 / total);
                }
            }
        }

        let mut observed = vec![0u64; n * l];
        for (z, row) in cases.iter().enumerate() {
            let mut run = 0u64;
            for j in 0..l {
                run += u64::from(row[t - 1 - j]);
                observed[z * l + j] = run;
            }
        }
        Some(Setup {
            n,
            t,
            l,
            kmax,
            total,
            loc_total,
            recent_days,
            nbr,
            mu,
            observed,
        })
    }

    fn circle(&self, centre: usize, k: usize) -> &[u32] {
        &self.nbr[centre * self.kmax..centre * self.kmax + k + 1]
    }

    /// For every circle, its best time window if it has more cases than
    /// expected; best first (ties keep scan order: centre, size, length).
    fn candidates(&self, cnt: &[u64]) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut win = vec![0u64; self.l];
        for centre in 0..self.n {
            win.fill(0);
            for k in 0..self.kmax {
                let z = self.nbr[centre * self.kmax + k] as usize;
                let base = (centre * self.kmax + k) * self.l;
                // Windows of one circle all overlap: keep only its best length.
                let mut best: Option<Candidate> = None;
                for j in 0..self.l {
                    win[j] += cnt[z * self.l + j];
                    let (c, mu) = (win[j] as f64, self.mu[base + j]);
                    if c > mu {
                        let llr = llr(c, mu, self.total);
                        if best.is_none_or(|b| llr > b.llr) {
                            best = Some(Candidate {
                                centre,
                                k,
                                j,
                                observed: c,
                                expected: mu,
                                llr,
                            });
                        }
                    }
                }
                out.extend(best);
            }
        }
        out.sort_by(|a, b| b.llr.total_cmp(&a.llr));
        out
    }

    /// The largest LLR of any cylinder (0 when none has an excess).
    fn max_llr(&self, cnt: &[u64], win: &mut [u64]) -> f64 {
        let mut best = 0.0f64;
        for centre in 0..self.n {
            win.fill(0);
            for k in 0..self.kmax {
                let z = self.nbr[centre * self.kmax + k] as usize;
                let counts = &cnt[z * self.l..(z + 1) * self.l];
                let mus = &self.mu[(centre * self.kmax + k) * self.l..][..self.l];
                for ((w, &c), &mu) in win.iter_mut().zip(counts).zip(mus) {
                    *w += c;
                    let c = *w as f64;
                    if c > mu {
                        best = best.max(llr(c, mu, self.total));
                    }
                }
            }
        }
        best
    }

    /// The maximum LLR of replications `0 … reps − 1`, in order, computed on
    /// up to `threads` threads.
    fn null_maxima(&self, reps: usize, seed: u64, threads: usize) -> Vec<f64> {
        // Below ~32 replications per thread, spawning costs more than it saves.
        let threads = threads.min(reps.div_ceil(32)).max(1);
        if threads == 1 {
            return self.replicate_range(0, reps, seed);
        }
        let chunk = reps.div_ceil(threads);
        thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (lo, hi) = ((i * chunk).min(reps), ((i + 1) * chunk).min(reps));
                    s.spawn(move || self.replicate_range(lo, hi, seed))
                })
                .collect();
            let mut all = Vec::with_capacity(reps);
            for h in handles {
                match h.join() {
                    Ok(v) => all.extend(v),
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
            all
        })
    }

    fn replicate_range(&self, lo: usize, hi: usize, seed: u64) -> Vec<f64> {
        let mut fenwick = Fenwick::new(&self.loc_total);
        let init = fenwick.tree.clone();
        let mut cnt = vec![0u64; self.n * self.l];
        let mut win = vec![0u64; self.l];
        let total = self.loc_total.iter().sum::<u64>();
        (lo..hi)
            .map(|r| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(r as u64);
                fenwick.tree.copy_from_slice(&init);
                cnt.fill(0);
                let mut remaining = total;
                for (j, &cd) in self.recent_days.iter().enumerate() {
                    for _ in 0..cd {
                        let z = fenwick.take(rng.random_range(0..remaining));
                        remaining -= 1;
                        cnt[z * self.l + j] += 1;
                    }
                }
                for z in 0..self.n {
                    for j in 1..self.l {
                        cnt[z * self.l + j] += cnt[z * self.l + j - 1];
                    }
                }
                self.max_llr(&cnt, &mut win)
            })
            .collect()
    }
}

/// Poisson generalised log-likelihood ratio of `c` cases against `mu`
/// expected out of `total` (for `c > mu`).
fn llr(c: f64, mu: f64, total: f64) -> f64 {
    let rest = total - c;
    let mut v = c * (c / mu).ln();
    if rest > 0.0 {
        v += rest * (rest / (total - mu)).ln();
    }
    v
}

/// Fenwick (binary indexed) tree over the remaining case counts per
/// location, to draw a case's location uniformly among the remaining cases.
#[derive(Debug)]
struct Fenwick {
    tree: Vec<u64>,
    top: usize,
}

impl Fenwick {
    fn new(counts: &[u64]) -> Fenwick {
        let n = counts.len();
        let mut tree = vec![0u64; n + 1];
        for (i, &c) in counts.iter().enumerate() {
            let mut k = i + 1;
            while k <= n {
                tree[k] += c;
                k += k & k.wrapping_neg();
            }
        }
        let top = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        Fenwick { tree, top }
    }

    /// Removes the `u`-th remaining case (0-based, in location order) and
    /// returns its location.
    fn take(&mut self, mut u: u64) -> usize {
        let n = self.tree.len() - 1;
        let mut pos = 0;
        let mut step = self.top;
        while step > 0 {
            if pos + step <= n && self.tree[pos + step] <= u {
                pos += step;
                u -= self.tree[pos];
            }
            step >>= 1;
        }
        let mut k = pos + 1;
        while k <= n {
            self.tree[k] -= 1;
            k += k & k.wrapping_neg();
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Poisson(λ) by Knuth's product of uniforms (fine for small λ).
    fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut prod: f64 = rng.random();
        while prod > limit {
            k += 1;
            prod *= rng.random::<f64>();
        }
        k
    }

    fn grid(side: usize) -> Vec<(f64, f64)> {
        (0..side * side)
            .map(|i| ((i % side) as f64, (i / side) as f64))
            .collect()
    }

    fn noise(n: usize, days: usize, lambda: f64, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| (0..days).map(|_| poisson(&mut rng, lambda)).collect())
            .collect()
    }

    #[test]
    fn two_locations_by_hand() {
        // cases[z][d] = [[3,0],[0,3]]: C = 6, C_z = 3, 3, C_d = 3, 3; max_days 1, one location a circle.
        // Cylinder {1} × day 1: c = 3, μ = 3·3/6 = 1.5,
        // LLR = 3·ln(3/1.5) + 3·ln(3/4.5) = 3·ln(4/3) = 0.863046.
        // Under permutation the last day's 3 cases all come from one location with
        // probability 2·C(3,3)·C(3,0)/C(6,3) = 2/20 = 0.1 (only then is a maximum ≥ 0.863), so p ≈ 0.1.
        let cases = vec![vec![3, 0], vec![0, 3]];
        let p = ScanParams {
            max_days: 1,
            max_share: 0.5,
            replications: 1999,
            seed: 7,
        };
        let c = space_time_permutation(&cases, &[(0.0, 0.0), (1.0, 0.0)], &p).unwrap();
        assert_eq!(
            (c.centre, c.locations.clone(), c.start_day, c.end_day),
            (1, vec![1], 1, 1)
        );
        assert_eq!((c.observed, c.expected), (3.0, 1.5));
        assert!((c.llr - 3.0 * (4.0f64 / 3.0).ln()).abs() < 1e-12);
        assert!((0.08..0.12).contains(&c.p_value), "p = {}", c.p_value);
    }

    #[test]
    fn planted_cluster_is_found() {
        // 5×5 grid, 30 days of Poisson(2) noise; 8 extra cases a day on the last 3
        // days at location 6 = (1,1) and its four neighbours 1, 5, 7, 11.
        let mut cases = noise(25, 30, 2.0, 11);
        let planted = [6usize, 1, 5, 7, 11];
        for &z in &planted {
            for c in &mut cases[z][27..30] {
                *c += 8;
            }
        }
        let clusters = space_time_permutation_clusters(&cases, &grid(5), &ScanParams::default());
        let c = &clusters[0];
        eprintln!("{clusters:#?}");
        assert!(c.p_value < 0.05, "{c:?}");
        assert_eq!(c.end_day, 29);
        assert!((26..=28).contains(&c.start_day), "{c:?}");
        let hits = c.locations.iter().filter(|z| planted.contains(z)).count();
        assert!(hits >= 4 && c.locations.len() <= 9, "{c:?}");
        assert!(c.observed > c.expected);
        // Secondary clusters share no location with the first and are not significant.
        for s in &clusters[1..] {
            assert!(s.locations.iter().all(|z| !c.locations.contains(z)));
            assert!(s.llr <= c.llr);
            assert!(s.p_value >= 0.05, "{s:?}");
        }
    }

    #[test]
    fn null_grid_is_not_significant() {
        let cases = noise(25, 30, 3.0, 12);
        let c = space_time_permutation(&cases, &grid(5), &ScanParams::default()).unwrap();
        eprintln!("{c:?}");
        assert!(c.p_value >= 0.05, "{c:?}");
    }

    #[test]
    fn replications_do_not_depend_on_threads() {
        let cases = noise(20, 30, 3.0, 13);
        let coords: Vec<(f64, f64)> = (0..20)
            .map(|i| ((i * 7 % 20) as f64, (i * 3 % 11) as f64))
            .collect();
        let setup = Setup::new(&cases, &coords, &ScanParams::default()).unwrap();
        let one = setup.null_maxima(200, 5, 1);
        assert_eq!(one, setup.null_maxima(200, 5, 3));
        assert_eq!(one, setup.null_maxima(200, 5, 8));
        assert_ne!(one, setup.null_maxima(200, 6, 1));
        // Same call, same answer.
        let p = ScanParams {
            replications: 99,
            ..ScanParams::default()
        };
        assert_eq!(
            space_time_permutation(&cases, &coords, &p),
            space_time_permutation(&cases, &coords, &p)
        );
    }

    #[test]
    fn fenwick_draws_every_case_once() {
        let mut f = Fenwick::new(&[2, 0, 3, 1]);
        // Cases in location order: 0,0,2,2,2,3. Take index 5 (loc 3), then 2 (loc 2), …
        assert_eq!(f.take(5), 3);
        assert_eq!(f.take(2), 2);
        let rest: Vec<usize> = (0..4).map(|_| f.take(0)).collect();
        assert_eq!(rest, vec![0, 0, 2, 2]);
    }

    #[test]
    fn degenerate_inputs() {
        let p = ScanParams {
            replications: 9,
            ..ScanParams::default()
        };
        assert!(space_time_permutation(&[], &[], &p).is_none());
        assert!(space_time_permutation(&[vec![]], &[(0.0, 0.0)], &p).is_none());
        assert!(space_time_permutation(&[vec![0, 0]], &[(0.0, 0.0)], &p).is_none());
        assert!(space_time_permutation(&[vec![1, 2]], &[], &p).is_none());
        assert!(
            space_time_permutation(&[vec![1, 2], vec![1]], &[(0.0, 0.0), (1.0, 1.0)], &p).is_none()
        );
        // A single location: every cylinder has c = μ (no space–time interaction possible).
        assert!(space_time_permutation(&[vec![1, 5, 9]], &[(0.0, 0.0)], &p).is_none());
        // NaN coordinates, odd shares and windows: an answer or None, no panic.
        let cases = vec![vec![0, 0, 9], vec![3, 3, 0], vec![2, 2, 1]];
        let coords = [(f64::NAN, 0.0), (1.0, f64::INFINITY), (2.0, 2.0)];
        for (max_days, max_share) in [(0, f64::NAN), (100, 5.0), (2, -1.0)] {
            let q = ScanParams {
                max_days,
                max_share,
                replications: 0,
                seed: 1,
            };
            if let Some(c) = space_time_permutation(&cases, &coords, &q) {
                assert_eq!(c.p_value, 1.0);
                assert!(c.llr > 0.0);
            }
        }
        // Huge counts do not overflow.
        let big = vec![vec![u32::MAX, u32::MAX], vec![0, u32::MAX]];
        let q = ScanParams {
            replications: 0,
            ..p
        };
        assert!(space_time_permutation(&big, &[(0.0, 0.0), (1.0, 0.0)], &q).is_some());
    }

    /// `cargo test -p yilian-analytics --release -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn timing_20_locations_30_days_999_replications() {
        let cases = noise(20, 30, 5.0, 14);
        let coords: Vec<(f64, f64)> = (0..20)
            .map(|i| ((i * 7 % 20) as f64, (i * 3 % 11) as f64))
            .collect();
        let start = std::time::Instant::now();
        let c = space_time_permutation(&cases, &coords, &ScanParams::default());
        let elapsed = start.elapsed();
        eprintln!("space_time_permutation 20 × 30 days, 999 replications: {elapsed:?} ({c:?})");
        assert!(elapsed.as_secs_f64() < 10.0);
        let cases = noise(20, 365, 5.0, 15);
        let last30: Vec<Vec<u32>> = cases.iter().map(|r| r[335..].to_vec()).collect();
        let start = std::time::Instant::now();
        let _ = space_time_permutation(
            &last30,
            &coords,
            &ScanParams {
                max_days: 14,
                ..ScanParams::default()
            },
        );
        eprintln!("max_days 14: {:?}", start.elapsed());
    }
}
