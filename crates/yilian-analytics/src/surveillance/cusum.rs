//! One-sided CUSUM for daily counts, as R's `surveillance::cusum`
//! (`algo.cusum`, M. Paul and M. Höhle).
//!
//! E. S. Page, "Continuous inspection schemes", *Biometrika* 41:100–115,
//! 1954; for counts, G. Rossi, L. Lampugnani and M. Marchi, "An approximate
//! CUSUM procedure for surveillance of health events", *Statistics in
//! Medicine* 18:2111–2122, 1999.
//!
//! Each monitored day's count `x_t` is standardised against the expected
//! count `m` (and, for [`CusumTransform::Gaussian`], the sd `s`) of a
//! reference window:
//!
//! | transform | `z_t` | upper bound in counts (`a = h + k − S_{t−1}`) |
//! |---|---|---|
//! | `Standard` (R default) | `(x − m)/√m` | `⌈√m·a + m⌉` |
//! | `Rossi` | `(x − 3m + 2√(x·m))/(2√m)` | `2a√m + 5m − 2√(4m² + 2a·m^{3/2})` |
//! | `Gaussian` | `(x − m)/s` | `m + s·a` |
//!
//! and accumulated as `S_t = max(0, S_{t−1} + z_t − k)` from `S = 0`; the
//! day alarms when `S_t ≥ h` (R's `>=`). The upper bound is the count at
//! which day `t` would alarm (R's `upperbound`, floored at 0, NaN → 0); for
//! `Standard` a count alarms exactly when it is ≥ the bound.
//!
//! R does not reset the sum after an alarm ("signals occur until the CUSUM
//! statistic again returns below the threshold"); set [`CusumParams::reset`]
//! to restart from `S = 0` after each alarm, the textbook scheme.
//!
//! # Reference window
//!
//! * [`CusumReference::Fixed`] — R's `m = NULL`: `m` is the mean of the first
//!   `baseline_days` days, which are not monitored; days `baseline_days…`
//!   are (R's `range = (baseline_days+1):n`).
//! * [`CusumReference::Moving`] — for each day the `baseline_days` days
//!   ending `guard_days` before it (R with a numeric vector `m`), so the
//!   expectation follows seasons; an outbreak still inside the guard does
//!   not inflate its own baseline.
//!
//! # Degenerate input
//!
//! Missing days (NaN, ±∞, negative) are left out of the reference means; a
//! monitored day that is missing gets no point and leaves `S` unchanged. A
//! reference with no usable day gives no point. A reference mean of 0 (a
//! silent township) would divide by zero; `m` is floored at
//! `0.5 / (usable reference days)` — half a case over the window, a
//! continuity correction that never changes a mean of integer counts that is
//! not 0 (it is then ≥ 1/n). The Gaussian sd is floored at
//! [`FLAT_BASELINE_SIGMA`] (0.5, as for EARS) when it is 0.

use serde::{Deserialize, Serialize};

use super::ears::FLAT_BASELINE_SIGMA;
use super::stats::mean_sd;
use super::usable;

/// How counts are standardised (R's `trans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CusumTransform {
    /// `(x − m)/√m`, Poisson with asymptotic normality (R `"standard"`).
    Standard,
    /// Rossi's approximate normal transform for Poisson (R `"rossi"`).
    Rossi,
    /// `(x − m)/s` with `s` the reference window's sample sd (not in R).
    Gaussian,
}

/// Where the expected count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CusumReference {
    /// The first `baseline_days` days (R's default).
    Fixed,
    /// The `baseline_days` days ending `guard_days` before each day.
    Moving { guard_days: usize },
}

/// Parameters of [`cusum`]. `Default` is R's: k = 1.04, h = 2.26,
/// `Standard`, no reset, a fixed reference of 28 days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CusumParams {
    pub baseline_days: usize,
    /// Reference value (allowance) subtracted each day.
    pub k: f64,
    /// Decision boundary.
    pub h: f64,
    pub trans: CusumTransform,
    pub reference: CusumReference,
    /// Restart from 0 after an alarm (R: no).
    pub reset: bool,
}

impl Default for CusumParams {
    fn default() -> Self {
        CusumParams {
            baseline_days: 28,
            k: 1.04,
            h: 2.26,
            trans: CusumTransform::Standard,
            reference: CusumReference::Fixed,
            reset: false,
        }
    }
}

/// The result for one monitored day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CusumPoint {
    pub day: usize,
    pub observed: f64,
    /// Expected count `m` (after the zero floor).
    pub expected: f64,
    /// `S_t`, before any reset.
    pub statistic: f64,
    /// Count at which the day alarms.
    pub upperbound: f64,
    pub alarm: bool,
}

/// Runs the CUSUM over `counts`; one point per monitored day with a usable
/// count. Empty when `baseline_days` is 0 or `k`, `h` are not finite.
pub fn cusum(counts: &[f64], p: &CusumParams) -> Vec<CusumPoint> {
    let n = p.baseline_days;
    if n == 0 || !p.k.is_finite() || !p.h.is_finite() {
        return Vec::new();
    }
    // Expected count and sd for day t, from the usable days of its
    // reference. One buffer serves every day (a moving reference used to
    // collect a new vector per day); the sd is only computed for the
    // Gaussian transform, the only one that uses it.
    let gaussian = p.trans == CusumTransform::Gaussian;
    let mut window: Vec<f64> = Vec::with_capacity(n.min(counts.len()));
    let mut reference = |t: usize| -> Option<(f64, f64)> {
        let (start, end) = match p.reference {
            CusumReference::Fixed => (0, n),
            CusumReference::Moving { guard_days } => {
                let end = t.checked_sub(guard_days)?;
                (end.checked_sub(n)?, end)
            }
        };
        window.clear();
        window.extend(counts.get(start..end)?.iter().filter_map(|&x| usable(x)));
        if window.is_empty() {
            return None;
        }
        let m = window.iter().sum::<f64>() / window.len() as f64;
        let m = m.max(0.5 / window.len() as f64);
        let s = match gaussian.then(|| mean_sd(&window)).flatten() {
            Some((_, sd)) if sd > 0.0 => sd,
            _ => FLAT_BASELINE_SIGMA,
        };
        Some((m, s))
    };
    let first = match p.reference {
        CusumReference::Fixed => n,
        CusumReference::Moving { guard_days } => n.saturating_add(guard_days),
    };
    let fixed = match p.reference {
        CusumReference::Fixed => reference(0),
        CusumReference::Moving { .. } => None,
    };

    let (k, h) = (p.k, p.h);
    let mut prev = 0.0; // S_{t−1}
    let mut out = Vec::with_capacity(counts.len().saturating_sub(first));
    for (t, &count) in counts.iter().enumerate().skip(first) {
        let Some(x) = usable(count) else { continue };
        let Some((m, s)) = (match p.reference {
            CusumReference::Fixed => fixed,
            CusumReference::Moving { .. } => reference(t),
        }) else {
            continue;
        };
        // The operations in R's order, so results agree to the last bits.
        let z = match p.trans {
            CusumTransform::Standard => (x - m) / m.sqrt(),
            CusumTransform::Rossi => (x - 3.0 * m + 2.0 * (x * m).sqrt()) / (2.0 * m.sqrt()),
            CusumTransform::Gaussian => (x - m) / s,
        };
        let stat = f64::max(0.0, prev + (z - k));
        let alarm = stat >= h;
        let ub = match p.trans {
            CusumTransform::Standard => (m.sqrt() * (h + k - prev) + m).ceil(),
            CusumTransform::Rossi => {
                let r = m.powf(0.5);
                let r3 = m.powf(1.5);
                2.0 * h * r + 2.0 * k * r - 2.0 * prev * r + 5.0 * m
                    - 2.0
                        * (4.0 * (m * m) + 2.0 * r3 * h + 2.0 * r3 * k - 2.0 * r3 * prev).powf(0.5)
            }
            CusumTransform::Gaussian => s * (h + k - prev) + m,
        };
        let upperbound = if ub.is_nan() || ub < 0.0 { 0.0 } else { ub };
        out.push(CusumPoint {
            day: t,
            observed: x,
            expected: m,
            statistic: stat,
            upperbound,
            alarm,
        });
        prev = if alarm && p.reset { 0.0 } else { stat };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference days 0–3 = 4,4,4,4: m = 4, √m = 2. Monitored days 4–8: 6,8,4,9,2,
    /// so z = (x − 4)/2 = 1, 2, 0, 2.5, −1. k = 0.5, h = 2.
    const SERIES: [f64; 9] = [4., 4., 4., 4., 6., 8., 4., 9., 2.];

    fn params(reset: bool) -> CusumParams {
        CusumParams {
            baseline_days: 4,
            k: 0.5,
            h: 2.0,
            reset,
            ..CusumParams::default()
        }
    }

    #[test]
    fn standard_without_reset_by_hand() {
        // day 4: S = max(0, 0 + 1 − 0.5) = 0.5;   U = ⌈2·(2 + 0.5 − 0) + 4⌉ = 9
        // day 5: S = 0.5 + 2 − 0.5 = 2 ≥ 2 alarm;  U = ⌈2·(2.5 − 0.5) + 4⌉ = 8 (x = 8 ≥ 8)
        // day 6: S = 2 + 0 − 0.5 = 1.5;            U = ⌈2·(2.5 − 2) + 4⌉ = 5
        // day 7: S = 1.5 + 2.5 − 0.5 = 3.5 alarm;  U = ⌈2·(2.5 − 1.5) + 4⌉ = 6
        // day 8: S = 3.5 − 1 − 0.5 = 2 alarm;      U = ⌈2·(2.5 − 3.5) + 4⌉ = 2
        let pts = cusum(&SERIES, &params(false));
        let stats: Vec<f64> = pts.iter().map(|p| p.statistic).collect();
        let ubs: Vec<f64> = pts.iter().map(|p| p.upperbound).collect();
        let alarms: Vec<bool> = pts.iter().map(|p| p.alarm).collect();
        assert_eq!(pts[0].day, 4);
        assert_eq!(stats, vec![0.5, 2.0, 1.5, 3.5, 2.0]);
        assert_eq!(ubs, vec![9.0, 8.0, 5.0, 6.0, 2.0]);
        assert_eq!(alarms, vec![false, true, false, true, true]);
        assert!(pts.iter().all(|p| p.expected == 4.0));
    }

    #[test]
    fn standard_with_reset_by_hand() {
        // day 5 alarms with S = 2 and restarts: day 6 S = max(0, 0 + 0 − 0.5) = 0, U = ⌈2·2.5 + 4⌉ = 9;
        // day 7: S = 0 + 2.5 − 0.5 = 2 alarm (U = 9, x = 9); day 8: S = max(0, 0 − 1.5) = 0, U = 9.
        let pts = cusum(&SERIES, &params(true));
        let stats: Vec<f64> = pts.iter().map(|p| p.statistic).collect();
        let ubs: Vec<f64> = pts.iter().map(|p| p.upperbound).collect();
        assert_eq!(stats, vec![0.5, 2.0, 0.0, 2.0, 0.0]);
        assert_eq!(ubs, vec![9.0, 8.0, 9.0, 9.0, 9.0]);
        assert_eq!(pts.iter().filter(|p| p.alarm).count(), 2);
    }

    #[test]
    fn rossi_by_hand() {
        // m = 4, x = 9 on day 4: z = (9 − 12 + 2·√36)/(2·2) = 9/4 = 2.25; S = 2.25 − 0.5 = 1.75 < 2.
        // U with a = h + k − 0 = 2.5: 2·2.5·2 + 20 − 2·√(64 + 2·2.5·8) = 30 − 2·√104 = 9.603921
        // (check: x = 9.603921 gives z = (9.603921 − 12 + 2·√38.41568)/4 = 2.5).
        let s = [4., 4., 4., 4., 9.];
        let p = CusumParams {
            baseline_days: 4,
            k: 0.5,
            h: 2.0,
            trans: CusumTransform::Rossi,
            ..CusumParams::default()
        };
        let pts = cusum(&s, &p);
        assert!((pts[0].statistic - 1.75).abs() < 1e-12);
        assert!((pts[0].upperbound - (30.0 - 2.0 * 104f64.sqrt())).abs() < 1e-12);
        assert!(!pts[0].alarm);
    }

    #[test]
    fn gaussian_moving_reference() {
        // Reference 3,5,3,5,4: mean 4, Σ(x−4)² = 4, sd = √(4/4) = 1. Guard 0, 5 days.
        // day 5: x = 7 → z = 3, S = 3 − 1 = 2; U = 4 + 1·(2 + 1 − 0) = 7.
        let s = [3., 5., 3., 5., 4., 7.];
        let p = CusumParams {
            baseline_days: 5,
            k: 1.0,
            h: 2.0,
            trans: CusumTransform::Gaussian,
            reference: CusumReference::Moving { guard_days: 0 },
            reset: true,
        };
        let pts = cusum(&s, &p);
        assert_eq!(pts.len(), 1);
        assert_eq!(
            (pts[0].statistic, pts[0].upperbound, pts[0].alarm),
            (2.0, 7.0, true)
        );
        // With a guard of 1 day, day 5's reference is days 0–3 (none left for 6 days).
        let g = CusumParams {
            baseline_days: 4,
            reference: CusumReference::Moving { guard_days: 1 },
            ..p
        };
        let pts = cusum(&s, &g);
        assert_eq!(pts.iter().map(|p| p.day).collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn silent_reference_and_degenerate_input() {
        // 28 zero days: m floored at 0.5/28; everything finite, one case alarms
        // (z = (1 − 0.017857)/0.133631 = 7.35 > k + h).
        let mut s = vec![0.0; 28];
        s.extend([0.0, 1.0]);
        let pts = cusum(&s, &CusumParams::default());
        assert_eq!(pts.len(), 2);
        assert!(
            pts.iter()
                .all(|p| p.statistic.is_finite() && p.upperbound.is_finite())
        );
        assert!(!pts[0].alarm && pts[1].alarm);
        for trans in [
            CusumTransform::Standard,
            CusumTransform::Rossi,
            CusumTransform::Gaussian,
        ] {
            let p = CusumParams {
                trans,
                ..CusumParams::default()
            };
            assert!(cusum(&[], &p).is_empty());
            assert!(cusum(&[1.0; 10], &p).is_empty());
            assert!(cusum(&[f64::NAN; 40], &p).is_empty());
            assert!(
                cusum(
                    &s,
                    &CusumParams {
                        baseline_days: 0,
                        ..p
                    }
                )
                .is_empty()
            );
            assert!(cusum(&s, &CusumParams { h: f64::NAN, ..p }).is_empty());
            let pts = cusum(
                &s,
                &CusumParams {
                    reference: CusumReference::Moving {
                        guard_days: usize::MAX,
                    },
                    ..p
                },
            );
            assert!(pts.is_empty());
        }
        // A missing monitored day is skipped and S carries over.
        let mut t = SERIES.to_vec();
        t[6] = f64::NAN;
        let pts = cusum(&t, &params(false));
        assert_eq!(
            pts.iter().map(|p| p.day).collect::<Vec<_>>(),
            vec![4, 5, 7, 8]
        );
        // day 7: S = 2 + 2.5 − 0.5 = 4.
        assert_eq!(pts[2].statistic, 4.0);
    }

    /// CUSUM as first written (a fresh reference vector per day, the sd
    /// always computed); [`cusum`] must give the same points, to the bit.
    fn cusum_reference(counts: &[f64], p: &CusumParams) -> Vec<CusumPoint> {
        let n = p.baseline_days;
        if n == 0 || !p.k.is_finite() || !p.h.is_finite() {
            return Vec::new();
        }
        let reference = |t: usize| -> Option<(f64, f64)> {
            let (start, end) = match p.reference {
                CusumReference::Fixed => (0, n),
                CusumReference::Moving { guard_days } => {
                    let end = t.checked_sub(guard_days)?;
                    (end.checked_sub(n)?, end)
                }
            };
            let window: Vec<f64> = counts
                .get(start..end)?
                .iter()
                .filter_map(|&x| usable(x))
                .collect();
            if window.is_empty() {
                return None;
            }
            let m = window.iter().sum::<f64>() / window.len() as f64;
            let m = m.max(0.5 / window.len() as f64);
            let s = match mean_sd(&window) {
                Some((_, sd)) if sd > 0.0 => sd,
                _ => FLAT_BASELINE_SIGMA,
            };
            Some((m, s))
        };
        let first = match p.reference {
            CusumReference::Fixed => n,
            CusumReference::Moving { guard_days } => n.saturating_add(guard_days),
        };
        let (k, h) = (p.k, p.h);
        let mut prev = 0.0;
        let mut out = Vec::new();
        for (t, &count) in counts.iter().enumerate().skip(first) {
            let Some(x) = usable(count) else { continue };
            let Some((m, s)) = reference(t) else { continue };
            let z = match p.trans {
                CusumTransform::Standard => (x - m) / m.sqrt(),
                CusumTransform::Rossi => (x - 3.0 * m + 2.0 * (x * m).sqrt()) / (2.0 * m.sqrt()),
                CusumTransform::Gaussian => (x - m) / s,
            };
            let stat = f64::max(0.0, prev + (z - k));
            let alarm = stat >= h;
            let ub = match p.trans {
                CusumTransform::Standard => (m.sqrt() * (h + k - prev) + m).ceil(),
                CusumTransform::Rossi => {
                    let r = m.powf(0.5);
                    let r3 = m.powf(1.5);
                    2.0 * h * r + 2.0 * k * r - 2.0 * prev * r + 5.0 * m
                        - 2.0
                            * (4.0 * (m * m) + 2.0 * r3 * h + 2.0 * r3 * k - 2.0 * r3 * prev)
                                .powf(0.5)
                }
                CusumTransform::Gaussian => s * (h + k - prev) + m,
            };
            let upperbound = if ub.is_nan() || ub < 0.0 { 0.0 } else { ub };
            out.push(CusumPoint {
                day: t,
                observed: x,
                expected: m,
                statistic: stat,
                upperbound,
                alarm,
            });
            prev = if alarm && p.reset { 0.0 } else { stat };
        }
        out
    }

    #[test]
    fn buffered_reference_equals_the_original() {
        let bits = |p: &CusumPoint| {
            (
                p.day,
                p.observed.to_bits(),
                p.expected.to_bits(),
                p.statistic.to_bits(),
                p.upperbound.to_bits(),
                p.alarm,
            )
        };
        let mut compared = 0;
        for seed in 0..12 {
            let s = crate::surveillance::ears::tests::random_series(100 + seed, 300);
            for trans in [
                CusumTransform::Standard,
                CusumTransform::Rossi,
                CusumTransform::Gaussian,
            ] {
                for reference in [
                    CusumReference::Fixed,
                    CusumReference::Moving { guard_days: 0 },
                    CusumReference::Moving { guard_days: 2 },
                ] {
                    for reset in [false, true] {
                        let p = CusumParams {
                            baseline_days: [28, 7, 1][seed as usize % 3],
                            trans,
                            reference,
                            reset,
                            ..CusumParams::default()
                        };
                        let fast: Vec<_> = cusum(&s, &p).iter().map(bits).collect();
                        let slow: Vec<_> = cusum_reference(&s, &p).iter().map(bits).collect();
                        assert_eq!(fast, slow, "seed {seed}, {p:?}");
                        compared += fast.len();
                    }
                }
            }
        }
        assert!(compared > 50_000, "{compared} points compared");
    }
}
