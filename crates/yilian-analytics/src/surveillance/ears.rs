//! EARS C1, C2 and C3 — the CDC Early Aberration Reporting System.
//!
//! L. Hutwagner, W. Thompson, G. M. Seeman and T. Treadwell, "The
//! bioterrorism preparedness and response Early Aberration Reporting System
//! (EARS)", *Journal of Urban Health* 80(2 Suppl 1):i89–i96, 2003; the
//! formulas as written in R. D. Fricker, B. L. Hegler and D. A. Dunfee,
//! "Comparing syndromic surveillance detection methods: EARS' versus a
//! CUSUM-based methodology", *Statistics in Medicine* 27:3407–3429, 2008,
//! and as implemented by `earsC` in the CRAN package `surveillance`
//! (M. Salmon, D. Schumacher and M. Höhle, "Monitoring count time series in
//! R: aberration detection in public health surveillance", *Journal of
//! Statistical Software* 70(10), 2016; source file `R/earsC.R`, version
//! 1.20.3 used for the cross-check).
//!
//! With `b` the baseline length (7 days by default), `x_t` the count on day
//! `t`, `z = Φ⁻¹(1 − α)`:
//!
//! * **C1** — baseline days `t−b … t−1`; mean `Ȳ₁`, sample sd `S₁` (n − 1).
//!   `C1(t) = (x_t − Ȳ₁)/S₁`; upper bound `U₁ = Ȳ₁ + z·S₁`; alarm when
//!   `x_t > U₁` (R's comparison).
//! * **C2** — the same with a 2-day guard: baseline days `t−b−2 … t−3`.
//! * **C3** — `C3(t) = Σ_{i=t−2..t} max(0, C2(i) − 1)`, alarm when
//!   `C3(t) > z`. Its upper bound in counts is the count of day `t` above
//!   which the alarm fires given the two previous days: with
//!   `L = max(0, C2(t−2) − 1) + max(0, C2(t−1) − 1)`,
//!   `U₃ = Ȳ₂(t) + S₂(t)·(1 + z − L)` when `L ≤ z`, and `0` when `L > z`
//!   (the two previous days alone already exceed the threshold, so any count
//!   alarms). R's default α for C3 is 0.025 (z ≈ 1.96) against 0.001
//!   (z ≈ 3.09) for C1 and C2; see [`EarsMethod::default_alpha`].
//!
//! # C3 in R differs from the published C3
//!
//! R's `earsC` (1.20.3 and the current CRAN source alike) computes the C3
//! bound as `U = max(0, x_t + S₂(t)·(z − L))` — the day's *own count* in
//! place of `Ȳ₂ + S₂` — and alarms when `x_t > U`. That alarm no longer
//! depends on the day's own C2: it fires when `L > z` (and `x_t > 0`), i.e.
//! one or two days *after* a spike, never on the spike itself (its own help
//! page gives yet a third formula). [`EarsMethod::C3`] is the published
//! method; [`EarsMethod::C3R`] reproduces R's numbers exactly, for the
//! cross-check and for users comparing with R output.
//!
//! # Zero variance and missing days
//!
//! The sd used is `S = max(sd, min_sigma)` as in R (`minSigma`, default 0).
//! When that is still 0 — a perfectly flat baseline — R yields `U = Ȳ` for
//! C1/C2 (any count above a flat week alarms) and NaN/∞ for C3. Here the sd
//! is then taken as [`FLAT_BASELINE_SIGMA`] = 0.5, the value Howard Burkom
//! suggests for `minSigma` on sparse data (R's documentation of `earsC`):
//! statistics stay finite, and after a week of zeros one case is not an
//! alarm but two are (C1: `U = 0 + 3.09·0.5 = 1.55`). With any non-flat
//! baseline the results are R's.
//!
//! A day gets a point only when its own count and every count its baseline
//! needs are usable (finite, ≥ 0): C1 from day `b`, C2 from day `b + 2`, C3
//! from day `b + 4` (0-based), as R's default `range`.

use serde::{Deserialize, Serialize};

use super::stats::qnorm;
use super::usable;

/// The sd used when a baseline is perfectly flat and `min_sigma` is 0.
pub const FLAT_BASELINE_SIGMA: f64 = 0.5;

/// Which EARS method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EarsMethod {
    /// C1-MILD: baseline the `b` days just before the day.
    C1,
    /// C2-MEDIUM: baseline `b` days ending 3 days before the day (2-day guard).
    C2,
    /// C3-HIGH as published: the sum of the positive parts of `C2 − 1` over
    /// the day and the two days before.
    C3,
    /// C3 exactly as R `surveillance::earsC` computes it (see the module
    /// documentation for how it differs).
    C3R,
}

impl EarsMethod {
    /// The α R uses when none is given: 0.001 for C1 and C2, 0.025 for C3.
    pub fn default_alpha(self) -> f64 {
        match self {
            EarsMethod::C1 | EarsMethod::C2 => 0.001,
            EarsMethod::C3 | EarsMethod::C3R => 0.025,
        }
    }
}

/// All the knobs of [`ears_with`]; [`EarsParams::new`] gives R's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarsParams {
    pub method: EarsMethod,
    /// One-sided level: the threshold is `Φ⁻¹(1 − alpha)`. Must be in (0, 1).
    pub alpha: f64,
    /// Baseline length in days; at least 3 (R's minimum). Default 7.
    pub baseline: usize,
    /// Lower bound on the sd (R's `minSigma`, default 0).
    pub min_sigma: f64,
}

impl EarsParams {
    /// R's defaults for `method`: 7-day baseline, `minSigma` 0, and
    /// [`EarsMethod::default_alpha`].
    pub fn new(method: EarsMethod) -> Self {
        EarsParams {
            method,
            alpha: method.default_alpha(),
            baseline: 7,
            min_sigma: 0.0,
        }
    }
}

/// The result for one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarsPoint {
    /// Index of the day in the input series.
    pub day: usize,
    pub observed: f64,
    /// Baseline mean (C1's baseline for C1, C2's for the others).
    pub expected: f64,
    /// C1, C2 or C3 statistic of the day (C3 for [`EarsMethod::C3R`] too).
    pub statistic: f64,
    /// Count above which the day alarms (see the module documentation).
    pub upperbound: f64,
    pub alarm: bool,
}

/// EARS with a 7-day baseline and `minSigma` 0, at level `alpha` (use
/// [`EarsMethod::default_alpha`] for R's defaults). One point per day with a
/// full baseline; empty when `alpha` is not in (0, 1).
pub fn ears(counts: &[f64], method: EarsMethod, alpha: f64) -> Vec<EarsPoint> {
    ears_with(
        counts,
        &EarsParams {
            alpha,
            ..EarsParams::new(method)
        },
    )
}

/// EARS with every parameter explicit. Empty when `alpha` is not in (0, 1),
/// `baseline < 3` or `min_sigma` is negative or not finite.
pub fn ears_with(counts: &[f64], p: &EarsParams) -> Vec<EarsPoint> {
    ears_from(counts, p, 0)
}

/// [`ears_with`]'s points for the days `from_day..` only — exactly the
/// points of `ears_with(counts, p)` whose `day ≥ from_day` (same bits), but
/// only those days, their baselines and (for C3) the two days before are
/// computed. Day indices are still positions in `counts`. This is what a
/// daily run wants: a long history for the baselines, a few days scored.
pub fn ears_from(counts: &[f64], p: &EarsParams, from_day: usize) -> Vec<EarsPoint> {
    let b = p.baseline;
    let valid =
        p.alpha > 0.0 && p.alpha < 1.0 && b >= 3 && p.min_sigma >= 0.0 && p.min_sigma.is_finite();
    if !valid {
        return Vec::new();
    }
    let z = qnorm(1.0 - p.alpha);
    let sigma = |sd: f64| {
        let s = sd.max(p.min_sigma);
        if s > 0.0 { s } else { FLAT_BASELINE_SIGMA }
    };
    // Day t's statistic uses the `b` days `t−guard−b … t−guard−1`: C1's
    // baseline with guard 0, C2's (`t−b−2 … t−3`, also C3's) with guard 2.
    let guard = if p.method == EarsMethod::C1 { 0 } else { 2 };
    let first = b + guard;
    let n = counts.len();
    // C3 needs the C2 statistics of the two days before the first scored
    // day; those days are computed (from `t0`) but not returned.
    let lags = match p.method {
        EarsMethod::C3 | EarsMethod::C3R => 2,
        EarsMethod::C1 | EarsMethod::C2 => 0,
    };
    let t0 = first.max(from_day.saturating_sub(lags));
    if n <= t0 || n <= from_day {
        return Vec::new();
    }
    // Each day's baseline is summarised once: `stats[e]` holds the mean and
    // sd of the window `e … e+b−1` (day t's window starts at `t−guard−b`;
    // C3 reuses the C2 statistics of the two days before from `lag1`/`lag2`
    // instead of recomputing them), and the number of missing days in the
    // window is kept as a running count. The windows are summarised in a
    // separate loop without branches (`window_stats`), whose iterations the
    // processor overlaps; each performs the operations of `mean_sd` on the
    // same slice in the same order, so every bound is bit-identical to
    // evaluating each day on its own.
    //
    // Only the windows of days `t0..` are summarised: `stats[i]` is window
    // `e0 + i`. `e0` is rounded down to a multiple of 4 so that every window
    // falls in the same group of four lanes (or the scalar tail) as when all
    // windows are summarised — the lanes perform the same operations anyway,
    // this just leaves nothing to argue about.
    let e0 = (t0 - guard - b) & !3;
    let stats = window_stats(&counts[e0..n - guard], b);
    let w0 = t0 - guard - b;
    let mut missing = counts[w0..w0 + b]
        .iter()
        .filter(|&&x| usable(x).is_none())
        .count();
    let mut out = Vec::with_capacity(n - first.max(from_day));
    // C2 statistics of days t−2 and t−1 (C3 only); None = no statistic.
    let (mut lag2, mut lag1): (Option<f64>, Option<f64>) = (None, None);
    for t in t0..n {
        let end = t - guard;
        if t > t0 {
            // The window moved from `end−1−b … end−2` to `end−b … end−1`.
            missing -= usize::from(usable(counts[end - 1 - b]).is_none());
            missing += usize::from(usable(counts[end - 1]).is_none());
        }
        // (observed, mean, sd, statistic) of day t.
        let (mean, sd) = stats[end - b - e0];
        // `mean_sd` gives no result when the sd is not finite (an overflow).
        let stat = match usable(counts[t]) {
            Some(x) if missing == 0 && sd.is_finite() => {
                let s = sigma(sd);
                Some((x, mean, s, (x - mean) / s))
            }
            _ => None,
        };
        let point = match p.method {
            EarsMethod::C1 | EarsMethod::C2 => stat.map(|(x, mean, s, c)| {
                let upperbound = mean + z * s;
                EarsPoint {
                    day: t,
                    observed: x,
                    expected: mean,
                    statistic: c,
                    upperbound,
                    alarm: x > upperbound,
                }
            }),
            EarsMethod::C3 | EarsMethod::C3R => {
                let point = match (lag2, lag1, stat) {
                    (Some(c2), Some(c1), Some((x, mean, s, c))) => {
                        let lag = (c2 - 1.0).max(0.0) + (c1 - 1.0).max(0.0);
                        let c3 = lag + (c - 1.0).max(0.0);
                        let (upperbound, alarm) = if p.method == EarsMethod::C3 {
                            let u = if lag > z {
                                0.0
                            } else {
                                mean + s * (1.0 + z - lag)
                            };
                            (u, c3 > z)
                        } else {
                            // R: pmax(0, observed + sd · (zAlpha − (lag2 + lag1))), alarm observed > ub.
                            let u = (x + s * (z - lag)).max(0.0);
                            (u, x > u)
                        };
                        Some(EarsPoint {
                            day: t,
                            observed: x,
                            expected: mean,
                            statistic: c3,
                            upperbound,
                            alarm,
                        })
                    }
                    _ => None,
                };
                lag2 = lag1;
                lag1 = stat.map(|s| s.3);
                point
            }
        };
        if let Some(point) = point.filter(|_| t >= from_day) {
            out.push(point);
        }
    }
    out
}

/// Mean and sample sd of every window `counts[e..e+b]`, `e = 0 … len−b`, by
/// exactly the operations of
/// [`mean_sd`](super::stats::mean_sd) (sums from −0.0 in index order,
/// two passes), for finite windows; windows holding a non-finite value get
/// meaningless numbers that the caller does not use. Four windows are
/// computed side by side so that the compiler can use vector instructions;
/// each lane performs the same IEEE operations as the scalar code.
fn window_stats(counts: &[f64], b: usize) -> Vec<(f64, f64)> {
    const LANES: usize = 4;
    let Some(windows) = (counts.len() + 1).checked_sub(b) else {
        return Vec::new();
    };
    let nb = b as f64;
    let mut out = Vec::with_capacity(windows);
    let mut e = 0;
    while e + LANES <= windows {
        let mut sum = [-0.0f64; LANES];
        for i in 0..b {
            let v = &counts[e + i..e + i + LANES];
            for j in 0..LANES {
                sum[j] += v[j];
            }
        }
        let mean = sum.map(|s| s / nb);
        let mut ss = [-0.0f64; LANES];
        for i in 0..b {
            let v = &counts[e + i..e + i + LANES];
            for j in 0..LANES {
                let d = v[j] - mean[j];
                ss[j] += d * d;
            }
        }
        for j in 0..LANES {
            out.push((mean[j], (ss[j] / (nb - 1.0)).sqrt()));
        }
        e += LANES;
    }
    for e in e..windows {
        let w = &counts[e..e + b];
        let mean = w.iter().sum::<f64>() / nb;
        let ss: f64 = w.iter().map(|v| (v - mean) * (v - mean)).sum();
        out.push((mean, (ss / (nb - 1.0)).sqrt()));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::surveillance::stats::mean_sd;

    const Z999: f64 = 3.090_232_306_167_813_5; // qnorm(0.999)
    const Z975: f64 = 1.959_963_984_540_054; // qnorm(0.975)

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Days 0–6 are 4,6,5,4,6,4,6 and the series then repeats with period 7,
    /// so every 7-day window of the periodic part holds {4,4,4,5,6,6,6}:
    /// mean 35/7 = 5, squared deviations 3·1 + 0 + 3·1 = 6, sd √(6/6) = 1.
    const TEN: [f64; 10] = [4., 6., 5., 4., 6., 4., 6., 4., 12., 5.];

    #[test]
    fn c1_by_hand() {
        let pts = ears(&TEN, EarsMethod::C1, 0.001);
        assert_eq!(pts.iter().map(|p| p.day).collect::<Vec<_>>(), vec![7, 8, 9]);
        // Day 7: baseline days 0–6, mean 5, sd 1; x = 4 → C1 = −1, U = 5 + 3.0902 = 8.0902.
        assert!(close(pts[0].statistic, -1.0));
        assert!(close(pts[0].upperbound, 5.0 + Z999));
        assert!(!pts[0].alarm);
        // Day 8: baseline days 1–7 = 6,5,4,6,4,6,4, again mean 5, sd 1; x = 12 → C1 = 7, alarm.
        assert!(close(pts[1].statistic, 7.0));
        assert!(close(pts[1].upperbound, 5.0 + Z999));
        assert!(pts[1].alarm);
        // Day 9: baseline days 2–8 = 5,4,6,4,6,4,12: sum 41, mean 41/7 = 5.857143;
        // Σx² = 25+16+36+16+36+16+144 = 289, Σ(x−x̄)² = 289 − 41²/7 = 342/7,
        // var = (342/7)/6 = 57/7, sd = √(57/7) = 2.853569.
        // x = 5 → C1 = (5 − 41/7)/2.853569 = −0.300384; U = 41/7 + 3.090232·2.853569 = 5.857143 + 8.818191 = 14.675335.
        let sd = (57.0f64 / 7.0).sqrt();
        assert!(close(pts[2].expected, 41.0 / 7.0));
        assert!(close(pts[2].statistic, (5.0 - 41.0 / 7.0) / sd));
        assert!((pts[2].upperbound - 14.675_335).abs() < 1e-6);
        assert!(!pts[2].alarm);
    }

    #[test]
    fn c2_by_hand() {
        // Only day 9 has a full lagged baseline: days 0–6, mean 5, sd 1; x = 5 → C2 = 0.
        let pts = ears(&TEN, EarsMethod::C2, 0.001);
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].day, 9);
        assert!(close(pts[0].statistic, 0.0));
        assert!(close(pts[0].upperbound, 5.0 + Z999));
        assert!(!pts[0].alarm);
        // The spike of day 8 is not in the C2 baseline of day 9 (the 2-day guard).
    }

    /// Days 0–10 periodic (4,6,5,4,6,4,6,4,6,5,4), then 8 and 9.
    const THIRTEEN: [f64; 13] = [4., 6., 5., 4., 6., 4., 6., 4., 6., 5., 4., 8., 9.];

    #[test]
    fn c3_by_hand() {
        // C2 baselines of days 9–12 are days 0–6 … 3–9, all periodic: mean 5, sd 1.
        // C2(9) = 0, C2(10) = −1, C2(11) = 3, C2(12) = 4.
        // Day 11: C3 = max(0,0−1) + max(0,−1−1) + max(0,3−1) = 2 > 1.96 → alarm;
        //   L = 0, U = 5 + 1·(1 + 1.959964 − 0) = 7.959964 (x = 8 is above it).
        // Day 12: C3 = 0 + 2 + 3 = 5 → alarm; L = 2 > 1.96, so any count alarms: U = 0.
        let pts = ears(&THIRTEEN, EarsMethod::C3, 0.025);
        assert_eq!(pts.iter().map(|p| p.day).collect::<Vec<_>>(), vec![11, 12]);
        assert!(close(pts[0].statistic, 2.0));
        assert!(close(pts[0].upperbound, 5.0 + 1.0 + Z975));
        assert!(pts[0].alarm);
        assert!(close(pts[1].statistic, 5.0));
        assert_eq!(pts[1].upperbound, 0.0);
        assert!(pts[1].alarm);
    }

    #[test]
    fn c3_as_r_computes_it() {
        // R: U = max(0, x + sd·(z − L)).
        // Day 11: L = 0 → U = 8 + 1.959964 = 9.959964, 8 > U false: R misses the spike day.
        // Day 12: L = 0 + 2 = 2 → U = 9 + (1.959964 − 2) = 8.959964, 9 > U → alarm.
        let pts = ears(&THIRTEEN, EarsMethod::C3R, 0.025);
        assert_eq!(pts.len(), 2);
        assert!(close(pts[0].upperbound, 8.0 + Z975));
        assert!(!pts[0].alarm);
        assert!(close(pts[1].upperbound, 9.0 + Z975 - 2.0));
        assert!(pts[1].alarm);
        assert!(close(pts[1].statistic, 5.0));
    }

    #[test]
    fn flat_baseline_uses_the_floor() {
        // Seven days of 3: sd 0 → S = 0.5, U = 3 + 3.090232·0.5 = 4.545116.
        let mut s = vec![3.0; 7];
        s.push(4.0);
        let p = ears(&s, EarsMethod::C1, 0.001);
        assert!(close(p[0].upperbound, 3.0 + 0.5 * Z999));
        assert!(close(p[0].statistic, 2.0));
        assert!(!p[0].alarm);
        s[7] = 5.0;
        assert!(ears(&s, EarsMethod::C1, 0.001)[0].alarm);
        // min_sigma above the floor wins: U = 3 + 3.090232·1.
        let q = ears_with(
            &s,
            &EarsParams {
                min_sigma: 1.0,
                alpha: 0.001,
                ..EarsParams::new(EarsMethod::C1)
            },
        );
        assert!(close(q[0].upperbound, 3.0 + Z999));
        // All zeros: every statistic finite, for every method.
        let zeros = vec![0.0; 20];
        for m in [
            EarsMethod::C1,
            EarsMethod::C2,
            EarsMethod::C3,
            EarsMethod::C3R,
        ] {
            let pts = ears(&zeros, m, m.default_alpha());
            assert!(!pts.is_empty());
            assert!(
                pts.iter()
                    .all(|p| p.statistic.is_finite() && p.upperbound.is_finite() && !p.alarm)
            );
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        for m in [
            EarsMethod::C1,
            EarsMethod::C2,
            EarsMethod::C3,
            EarsMethod::C3R,
        ] {
            assert!(ears(&[], m, 0.001).is_empty());
            assert!(ears(&[1.0; 5], m, 0.001).is_empty());
            assert!(ears(&TEN, m, 0.0).is_empty());
            assert!(ears(&TEN, m, f64::NAN).is_empty());
            assert!(
                ears_with(
                    &TEN,
                    &EarsParams {
                        baseline: 2,
                        ..EarsParams::new(m)
                    }
                )
                .is_empty()
            );
            assert!(
                ears_with(
                    &TEN,
                    &EarsParams {
                        min_sigma: -1.0,
                        ..EarsParams::new(m)
                    }
                )
                .is_empty()
            );
        }
        // A NaN on day 3 removes every day whose baseline includes it (C1 days 7–10) and day 3.
        let mut s = vec![
            5.0,
            6.0,
            4.0,
            f64::NAN,
            5.0,
            6.0,
            4.0,
            5.0,
            6.0,
            4.0,
            5.0,
            6.0,
            -1.0,
            5.0,
        ];
        let days: Vec<usize> = ears(&s, EarsMethod::C1, 0.001)
            .iter()
            .map(|p| p.day)
            .collect();
        assert_eq!(days, vec![11]); // day 12 is negative (missing), 13's baseline includes it
        s[3] = f64::INFINITY;
        assert_eq!(ears(&s, EarsMethod::C1, 0.001).len(), 1);
    }

    /// EARS exactly as first written: every day on its own, the baseline
    /// summarised anew for each statistic (three times a day for C3). The
    /// one-pass [`ears_with`] must give the same points, to the bit.
    fn ears_reference(counts: &[f64], p: &EarsParams) -> Vec<EarsPoint> {
        let b = p.baseline;
        let valid = p.alpha > 0.0
            && p.alpha < 1.0
            && b >= 3
            && p.min_sigma >= 0.0
            && p.min_sigma.is_finite();
        if !valid {
            return Vec::new();
        }
        let z = qnorm(1.0 - p.alpha);
        let sigma = |sd: f64| {
            let s = sd.max(p.min_sigma);
            if s > 0.0 { s } else { FLAT_BASELINE_SIGMA }
        };
        let baseline = |t: usize, guard: usize| -> Option<(f64, f64)> {
            let end = t.checked_sub(guard)?;
            let start = end.checked_sub(b)?;
            let window = counts.get(start..end)?;
            if window.iter().any(|&x| usable(x).is_none()) {
                return None;
            }
            let (mean, sd) = mean_sd(window)?;
            Some((mean, sigma(sd)))
        };
        let stat = |t: usize, guard: usize| -> Option<(f64, f64, f64, f64)> {
            let x = usable(*counts.get(t)?)?;
            let (mean, s) = baseline(t, guard)?;
            Some((x, mean, s, (x - mean) / s))
        };
        let mut out = Vec::new();
        for t in 0..counts.len() {
            let point = match p.method {
                EarsMethod::C1 | EarsMethod::C2 => {
                    let guard = if p.method == EarsMethod::C1 { 0 } else { 2 };
                    let Some((x, mean, s, c)) = stat(t, guard) else {
                        continue;
                    };
                    let upperbound = mean + z * s;
                    EarsPoint {
                        day: t,
                        observed: x,
                        expected: mean,
                        statistic: c,
                        upperbound,
                        alarm: x > upperbound,
                    }
                }
                EarsMethod::C3 | EarsMethod::C3R => {
                    let (Some(t2), Some(t1)) = (t.checked_sub(2), t.checked_sub(1)) else {
                        continue;
                    };
                    let (Some(d2), Some(d1), Some((x, mean, s, c))) =
                        (stat(t2, 2), stat(t1, 2), stat(t, 2))
                    else {
                        continue;
                    };
                    let lag = (d2.3 - 1.0).max(0.0) + (d1.3 - 1.0).max(0.0);
                    let c3 = lag + (c - 1.0).max(0.0);
                    let (upperbound, alarm) = if p.method == EarsMethod::C3 {
                        let u = if lag > z {
                            0.0
                        } else {
                            mean + s * (1.0 + z - lag)
                        };
                        (u, c3 > z)
                    } else {
                        let u = (x + s * (z - lag)).max(0.0);
                        (u, x > u)
                    };
                    EarsPoint {
                        day: t,
                        observed: x,
                        expected: mean,
                        statistic: c3,
                        upperbound,
                        alarm,
                    }
                }
            };
            out.push(point);
        }
        out
    }

    /// The bits of every field, so that the comparison is exact (and a NaN
    /// would compare equal to itself).
    fn bits(p: &EarsPoint) -> (usize, u64, u64, u64, u64, bool) {
        (
            p.day,
            p.observed.to_bits(),
            p.expected.to_bits(),
            p.statistic.to_bits(),
            p.upperbound.to_bits(),
            p.alarm,
        )
    }

    /// Random series (counts, flat stretches, fractional values, missing
    /// days) for the fast-path cross-checks.
    pub(crate) fn random_series(seed: u64, len: usize) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let level = rng.random_range(0.0..40.0f64);
        let mut s: Vec<f64> = (0..len)
            .map(|_| match rng.random_range(0..100) {
                0 => f64::NAN,
                1 => -1.0,
                2 => f64::INFINITY,
                10 => -0.0,
                11 => 1e308,                             // sums overflow to ∞
                3..=6 => rng.random_range(0.0..10.0f64), // not a whole count
                7..=9 => level * 4.0,                    // a spike
                _ => (level * rng.random_range(0.0..2.0f64)).round(),
            })
            .collect();
        // A flat stretch (zero sd) and a silent one.
        if len > 40 {
            let a = rng.random_range(0..len - 20);
            let v = s[a].max(0.0);
            s[a..a + 12].fill(if v.is_finite() { v } else { 3.0 });
            let z = rng.random_range(0..len - 20);
            s[z..z + 15].fill(0.0);
        }
        s
    }

    #[test]
    fn one_pass_equals_the_day_by_day_reference() {
        let mut compared = 0;
        for seed in 0..40 {
            let len = [0, 5, 12, 60, 400][seed as usize % 5];
            let s = random_series(seed, len);
            for method in [
                EarsMethod::C1,
                EarsMethod::C2,
                EarsMethod::C3,
                EarsMethod::C3R,
            ] {
                for (alpha, baseline, min_sigma) in [
                    (method.default_alpha(), 7, 0.0),
                    (0.0001, 7, FLAT_BASELINE_SIGMA),
                    (0.05, 3, 0.0),
                    (0.01, 10, 2.0),
                    (0.0, 7, 0.0),
                    (0.01, 2, 0.0),
                ] {
                    let p = EarsParams {
                        method,
                        alpha,
                        baseline,
                        min_sigma,
                    };
                    let fast: Vec<_> = ears_with(&s, &p).iter().map(bits).collect();
                    let slow: Vec<_> = ears_reference(&s, &p).iter().map(bits).collect();
                    assert_eq!(fast, slow, "seed {seed}, {p:?}");
                    compared += fast.len();
                }
            }
        }
        assert!(compared > 10_000, "{compared} points compared");
    }

    #[test]
    fn from_day_equals_the_full_series_restricted() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
        let mut compared = 0;
        for seed in 0..60 {
            let len = [0, 5, 12, 60, 400, 2153][seed as usize % 6];
            let s = random_series(1000 + seed, len);
            for method in [
                EarsMethod::C1,
                EarsMethod::C2,
                EarsMethod::C3,
                EarsMethod::C3R,
            ] {
                for (alpha, baseline, min_sigma) in [
                    (method.default_alpha(), 7, 0.0),
                    (method.default_alpha(), 7, FLAT_BASELINE_SIGMA),
                    (0.05, 3, 0.0),
                    (0.01, 10, 2.0),
                    (0.0, 7, 0.0),
                ] {
                    let p = EarsParams {
                        method,
                        alpha,
                        baseline,
                        min_sigma,
                    };
                    let full: Vec<_> = ears_with(&s, &p).iter().map(bits).collect();
                    // Every start near the beginning (baseline, guard and C3
                    // lag edges, lane alignment) and at the end, plus random ones.
                    let mut starts: Vec<usize> =
                        (0..20).chain(len.saturating_sub(3)..len + 3).collect();
                    starts.extend((0..10).map(|_| rng.random_range(0..len + 2)));
                    for from in starts {
                        let want: Vec<_> = full.iter().filter(|x| x.0 >= from).copied().collect();
                        let got: Vec<_> = ears_from(&s, &p, from).iter().map(bits).collect();
                        assert_eq!(got, want, "seed {seed}, from {from}, {p:?}");
                        compared += got.len();
                    }
                }
            }
        }
        assert!(compared > 100_000, "{compared} points compared");
    }
}
