//! Moving percentile method of China's infectious disease automated-alert
//! and response system (CIDARS, 国家传染病自动预警信息系统).
//!
//! W. Yang, Z. Li, Y. Lan, J. Wang, J. Ma, L. Jin et al., "A nationwide
//! web-based automated system for outbreak early detection and rapid
//! response in China", *Western Pacific Surveillance and Response Journal*
//! 2(1):10–15, 2011; Z. Li, S. Lai, H. Zhang et al., "Hand, foot and mouth
//! disease in China: evaluating an automated system for the detection of
//! outbreaks", *Bulletin of the WHO* 92:656–663, 2014; on the choice of
//! percentile, Wang R. et al., *BMC Public Health* 17:530, 2017 (5 weeks ×
//! 5 years).
//!
//! For an evaluation day `d`:
//!
//! * **current** — the sum of the 7 days `d−6 … d`;
//! * **baseline** — for each of the previous `years` years, the matching day
//!   `d'` (same month and day; 29 February maps to 28 February) and the five
//!   7-day sums ending on `d' − 14, d' − 7, d', d' + 7, d' + 14`: the 7-day
//!   block aligned with the current one and the two blocks before and after
//!   it, i.e. the days `d' − 20 … d' + 14` (the "same 5-week window"). Three
//!   years give 15 values, five give 25;
//! * **threshold** — the `P`th percentile of the baseline values, type 7
//!   (linear interpolation between order statistics, R's `quantile`
//!   default, see [`quantile_type7`]); `P` is per disease (P50–P90 in CIDARS,
//!   default P80) and may differ in season ([`Season`]);
//! * **alarm** — `current > threshold` and `current ≥ min_count`.
//!
//! A baseline block that reaches before the start of the series, past its
//! end, or holds a missing day (NaN, ±∞, negative) is left out; without any
//! baseline block, or with an incomplete current week, there is no result.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::stats::quantile_type7;

/// A different percentile for the months in which a disease is in season.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Season {
    /// Months 1–12 of the season.
    pub months: Vec<u32>,
    /// Percentile (0–100) used in those months.
    pub percentile: f64,
}

/// Parameters of the moving percentile method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentileParams {
    /// Number of previous years in the baseline (CIDARS: 3; up to 5 used).
    pub years: u32,
    /// Percentile 0–100 of the baseline used as threshold (default 80).
    pub percentile: f64,
    /// Smallest current 7-day count that may alarm.
    pub min_count: f64,
    pub season: Option<Season>,
}

impl Default for PercentileParams {
    fn default() -> Self {
        PercentileParams {
            years: 3,
            percentile: 80.0,
            min_count: 1.0,
            season: None,
        }
    }
}

/// The result for one evaluation day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    pub day: NaiveDate,
    /// Count of the 7 days ending on `day`.
    pub current: f64,
    /// The percentile used (the season's in season).
    pub percentile: f64,
    /// The baseline percentile: the current count alarms above it.
    pub threshold: f64,
    /// 7-day sums of the matching 5-week windows, most recent year first,
    /// blocks in date order within a year.
    pub baseline: Vec<f64>,
    pub alarm: bool,
}

/// The longest span [`dense_from_pairs`] accepts: 100 years of days.
pub const MAX_DENSE_DAYS: i64 = 36_525;

/// Turns `(date, count)` pairs into a dense daily series `(start, counts)`:
/// days without a pair count 0, pairs on the same date add up. `None` when
/// `pairs` is empty or spans more than [`MAX_DENSE_DAYS`].
pub fn dense_from_pairs(pairs: &[(NaiveDate, f64)]) -> Option<(NaiveDate, Vec<f64>)> {
    let start = pairs.iter().map(|p| p.0).min()?;
    let end = pairs.iter().map(|p| p.0).max()?;
    let span = (end - start).num_days();
    if span >= MAX_DENSE_DAYS {
        return None;
    }
    let mut counts = vec![0.0; span as usize + 1];
    for &(d, c) in pairs {
        counts[(d - start).num_days() as usize] += c;
    }
    Some((start, counts))
}

/// Evaluates `day` on the dense series `counts` whose index 0 is `start`.
pub fn moving_percentile(
    start: NaiveDate,
    counts: &[f64],
    day: NaiveDate,
    p: &PercentileParams,
) -> Option<PercentilePoint> {
    let percentile = match &p.season {
        Some(s) if s.months.contains(&day.month()) => s.percentile,
        _ => p.percentile,
    };
    if !(0.0..=100.0).contains(&percentile) || p.years == 0 {
        return None;
    }
    // Day indices (days since `start`) instead of dates: one date
    // subtraction for the day, then integer arithmetic for the matching
    // day of each year and its five blocks (an index below 0 or past the
    // end of `counts` is a block outside the series, as before).
    let day_idx = (day - start).num_days();
    let current = week_ending(counts, day_idx)?;
    let (year, month, dom) = (i64::from(day.year()), day.month(), day.day());
    let day_number = days_from_civil(year, month, dom);
    let mut baseline = Vec::with_capacity(p.years.min(10) as usize * 5);
    for y in 1..=i64::from(p.years) {
        // The same month and day `y` years before; 29 February becomes
        // 28 February (as chrono's `checked_sub_months` clamps to the
        // month's end). A year chrono cannot represent ends the search.
        let matching_year = year - y;
        if matching_year < i64::from(NaiveDate::MIN.year()) {
            break;
        }
        let matching_dom = if month == 2 && dom == 29 && !is_leap(matching_year) {
            28
        } else {
            dom
        };
        let matching_idx =
            day_idx - (day_number - days_from_civil(matching_year, month, matching_dom));
        if matching_idx + 14 < 0 {
            break; // this year's window and all earlier ones are before the series
        }
        for offset in [-14i64, -7, 0, 7, 14] {
            if let Some(v) = week_ending(counts, matching_idx + offset) {
                baseline.push(v);
            }
        }
    }
    let threshold = quantile_type7(&baseline, percentile / 100.0)?;
    let alarm = current > threshold && current >= p.min_count;
    Some(PercentilePoint {
        day,
        current,
        percentile,
        threshold,
        baseline,
        alarm,
    })
}

/// [`moving_percentile`] for every day of the series that has a result.
pub fn moving_percentile_all(
    start: NaiveDate,
    counts: &[f64],
    p: &PercentileParams,
) -> Vec<PercentilePoint> {
    let mut out = Vec::new();
    let mut day = start;
    for _ in 0..counts.len() {
        if let Some(point) = moving_percentile(start, counts, day, p) {
            out.push(point);
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// Sum of the 7 days ending on day index `last` (days since the series'
/// start), if all are in the series and usable.
#[inline]
fn week_ending(counts: &[f64], last: i64) -> Option<f64> {
    let last = usize::try_from(last).ok()?;
    let first = last.checked_sub(6)?;
    let week = counts.get(first..=last)?;
    // `usable` (finite, ≥ 0) for all seven days without a branch per day:
    // NaN fails both comparisons, +∞ the second, −∞ and negatives the first.
    let all_usable = week
        .iter()
        .fold(true, |ok, &x| ok & (0.0..=f64::MAX).contains(&x));
    // The same `Sum` of the same values in the same order as summing the
    // `usable` options: the same bits.
    all_usable.then(|| week.iter().sum())
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", `days_from_civil`): only
/// differences are used, which equal chrono's date subtraction.
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1; // 0..=365
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

#[inline]
fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surveillance::usable;
    use chrono::Months;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A series from 2021-01-01 to 2024-12-31, zero except the listed days.
    fn series(events: &[(NaiveDate, f64)]) -> (NaiveDate, Vec<f64>) {
        let start = d(2021, 1, 1);
        let mut counts = vec![0.0; (d(2024, 12, 31) - start).num_days() as usize + 1];
        for &(day, c) in events {
            counts[(day - start).num_days() as usize] += c;
        }
        (start, counts)
    }

    #[test]
    fn three_years_by_hand() {
        // Evaluation day 2024-03-20. In each previous year the blocks end on
        // 03-06, 03-13, 03-20, 03-27, 04-03, covering 02-28 (02-29 in 2024) … 04-03.
        let (start, counts) = series(&[
            // 2023: 3 cases on 03-10 (block 03-07…03-13), 5 on 03-30 (block 03-28…04-03)
            (d(2023, 3, 10), 3.0),
            (d(2023, 3, 30), 5.0),
            // 2022: one a day 03-14…03-20 (the aligned block: 7), 2 on 03-01 (block 02-28…03-06)
            (d(2022, 3, 14), 1.0),
            (d(2022, 3, 15), 1.0),
            (d(2022, 3, 16), 1.0),
            (d(2022, 3, 17), 1.0),
            (d(2022, 3, 18), 1.0),
            (d(2022, 3, 19), 1.0),
            (d(2022, 3, 20), 1.0),
            (d(2022, 3, 1), 2.0),
            // 2021: 4 on 03-27 (block 03-21…03-27); 02-27 and 04-04 fall just outside
            (d(2021, 3, 27), 4.0),
            (d(2021, 2, 27), 9.0),
            (d(2021, 4, 4), 9.0),
            // current week 2024-03-14…03-20: 4 cases
            (d(2024, 3, 15), 1.0),
            (d(2024, 3, 20), 3.0),
        ]);
        let p = PercentileParams {
            min_count: 3.0,
            ..PercentileParams::default()
        };
        let r = moving_percentile(start, &counts, d(2024, 3, 20), &p).unwrap();
        // Baseline (2023, 2022, 2021): [0,3,0,0,5], [2,0,7,0,0], [0,0,0,4,0].
        assert_eq!(
            r.baseline,
            vec![0., 3., 0., 0., 5., 2., 0., 7., 0., 0., 0., 0., 0., 4., 0.]
        );
        // Sorted: ten 0s, 2, 3, 4, 5, 7 (n = 15). P80: h = 14·0.8 = 11.2 → v[11] + 0.2·(v[12] − v[11])
        // = 3 + 0.2·(4 − 3) = 3.2. Current 4 > 3.2 and ≥ 3 → alarm.
        assert_eq!(r.current, 4.0);
        assert!((r.threshold - 3.2).abs() < 1e-12);
        assert!(r.alarm);
        // In season (March) at P90: h = 14·0.9 = 12.6 → 4 + 0.6·(5 − 4) = 4.6; 4 is not above.
        let s = PercentileParams {
            season: Some(Season {
                months: vec![3, 4],
                percentile: 90.0,
            }),
            ..p.clone()
        };
        let r = moving_percentile(start, &counts, d(2024, 3, 20), &s).unwrap();
        assert_eq!(r.percentile, 90.0);
        assert!((r.threshold - 4.6).abs() < 1e-12);
        assert!(!r.alarm);
        // Below the minimum count: P50 threshold 0 (h = 7, v[7] = 0) but min_count 5.
        let m = PercentileParams {
            percentile: 50.0,
            min_count: 5.0,
            ..p
        };
        let r = moving_percentile(start, &counts, d(2024, 3, 20), &m).unwrap();
        assert_eq!(r.threshold, 0.0);
        assert!(!r.alarm);
    }

    #[test]
    fn five_years_toy_series() {
        // Five previous years of constant daily counts 1…5 (2019: 1 a day … 2023: 5 a day), 2024: 6 a day.
        let start = d(2019, 1, 1);
        let counts: Vec<f64> = start
            .iter_days()
            .take_while(|day| *day <= d(2024, 12, 31))
            .map(|day| f64::from(day.year() - 2018))
            .collect();
        let p = PercentileParams {
            years: 5,
            ..PercentileParams::default()
        };
        let r = moving_percentile(start, &counts, d(2024, 6, 15), &p).unwrap();
        // 25 values: five each of 7·5 = 35 (2023), 28, 21, 14, 7 (2019).
        assert_eq!(r.baseline.len(), 25);
        assert_eq!(&r.baseline[..5], &[35.0; 5]);
        assert_eq!(&r.baseline[20..], &[7.0; 5]);
        // Sorted: v[0..5] = 7, v[5..10] = 14, v[10..15] = 21, v[15..20] = 28, v[20..25] = 35.
        // P80: h = 24·0.8 = 19.2 → 28 + 0.2·(35 − 28) = 29.4. Current 6·7 = 42 → alarm.
        assert!((r.threshold - 29.4).abs() < 1e-12);
        assert_eq!(r.current, 42.0);
        assert!(r.alarm);
        // Only 3 years before 2022-06-15 exist at 5 → the 2019…2021 blocks: 15 values.
        let r = moving_percentile(start, &counts, d(2022, 6, 15), &p).unwrap();
        assert_eq!(r.baseline.len(), 15);
        // The very start: no previous year → None.
        assert!(moving_percentile(start, &counts, d(2019, 6, 15), &p).is_none());
    }

    #[test]
    fn leap_day_and_edges() {
        let (start, counts) = series(&[(d(2023, 2, 28), 7.0)]);
        // 2024-02-29 matches 2023-02-28, whose aligned block (02-22…02-28) holds the 7.
        let r = moving_percentile(start, &counts, d(2024, 2, 29), &PercentileParams::default())
            .unwrap();
        assert_eq!(r.baseline[2], 7.0);
        // Evaluation days before the series' first full week, or after its end: None.
        assert!(
            moving_percentile(start, &counts, d(2021, 1, 3), &PercentileParams::default())
                .is_none()
        );
        assert!(
            moving_percentile(start, &counts, d(2025, 1, 3), &PercentileParams::default())
                .is_none()
        );
        assert!(
            moving_percentile(start, &[], d(2024, 1, 3), &PercentileParams::default()).is_none()
        );
        // A missing day in the current week: None; in one baseline block: that block is dropped.
        let mut c = counts.clone();
        let idx = |day: NaiveDate| (day - start).num_days() as usize;
        c[idx(d(2024, 3, 18))] = f64::NAN;
        assert!(
            moving_percentile(start, &c, d(2024, 3, 20), &PercentileParams::default()).is_none()
        );
        c[idx(d(2023, 3, 18))] = -1.0;
        let r = moving_percentile(start, &c, d(2024, 3, 25), &PercentileParams::default()).unwrap();
        assert_eq!(r.baseline.len(), 14);
        // Nonsense parameters give no result, never a panic.
        for p in [
            PercentileParams {
                years: 0,
                ..PercentileParams::default()
            },
            PercentileParams {
                percentile: f64::NAN,
                ..PercentileParams::default()
            },
            PercentileParams {
                percentile: 120.0,
                ..PercentileParams::default()
            },
        ] {
            assert!(moving_percentile(start, &counts, d(2024, 3, 20), &p).is_none());
        }
        let huge = PercentileParams {
            years: u32::MAX,
            ..PercentileParams::default()
        };
        assert_eq!(
            moving_percentile(start, &counts, d(2024, 3, 20), &huge)
                .unwrap()
                .baseline
                .len(),
            15
        );
    }

    #[test]
    fn all_days_and_dense_pairs() {
        let (start, counts) = dense_from_pairs(&[
            (d(2020, 1, 3), 2.0),
            (d(2020, 1, 1), 1.0),
            (d(2020, 1, 3), 1.0),
        ])
        .unwrap();
        assert_eq!((start, counts), (d(2020, 1, 1), vec![1.0, 0.0, 3.0]));
        assert!(dense_from_pairs(&[]).is_none());
        assert!(dense_from_pairs(&[(d(1900, 1, 1), 1.0), (d(2100, 1, 1), 1.0)]).is_none());
        let (start, counts) = series(&[(d(2024, 7, 1), 5.0)]);
        let pts = moving_percentile_all(start, &counts, &PercentileParams::default());
        // Results start once a first baseline block exists: the latest block of the
        // previous year ends 14 days after the matching day, and the first full week
        // of the series ends 2021-01-07, so the first result is for 2020-12-24 + 1 year.
        assert_eq!(pts.first().map(|p| p.day), Some(d(2021, 12, 24)));
        assert_eq!(pts[0].baseline.len(), 1);
        assert_eq!(pts.last().map(|p| p.day), Some(d(2024, 12, 31)));
        let alarms: Vec<NaiveDate> = pts.iter().filter(|p| p.alarm).map(|p| p.day).collect();
        assert_eq!(alarms, (1..=7).map(|i| d(2024, 7, i)).collect::<Vec<_>>());
    }

    /// The method exactly as first written: every block located by date
    /// arithmetic, and the quantile by a full sort of a fresh copy.
    fn percentile_reference(
        start: NaiveDate,
        counts: &[f64],
        day: NaiveDate,
        p: &PercentileParams,
    ) -> Option<PercentilePoint> {
        fn week(start: NaiveDate, counts: &[f64], end: NaiveDate) -> Option<f64> {
            let last = usize::try_from((end - start).num_days()).ok()?;
            let first = last.checked_sub(6)?;
            let week = counts.get(first..=last)?;
            week.iter().map(|&x| usable(x)).sum()
        }
        fn quantile_sorted(values: &[f64], prob: f64) -> Option<f64> {
            if !(0.0..=1.0).contains(&prob) {
                return None;
            }
            let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let h = (v.len() - 1) as f64 * prob;
            let j = h.floor() as usize;
            let frac = h - j as f64;
            let lo = v[j];
            Some(match v.get(j + 1) {
                Some(&hi) if frac > 0.0 => lo + frac * (hi - lo),
                _ => lo,
            })
        }
        let percentile = match &p.season {
            Some(s) if s.months.contains(&day.month()) => s.percentile,
            _ => p.percentile,
        };
        if !(0.0..=100.0).contains(&percentile) || p.years == 0 {
            return None;
        }
        let current = week(start, counts, day)?;
        let mut baseline = Vec::new();
        for y in 1..=p.years {
            let Some(matching) = y
                .checked_mul(12)
                .and_then(|m| day.checked_sub_months(Months::new(m)))
            else {
                break;
            };
            if matching + chrono::Duration::days(14) < start {
                break;
            }
            for offset in [-14i64, -7, 0, 7, 14] {
                let Some(end) = matching.checked_add_signed(chrono::Duration::days(offset)) else {
                    continue;
                };
                if let Some(v) = week(start, counts, end) {
                    baseline.push(v);
                }
            }
        }
        let threshold = quantile_sorted(&baseline, percentile / 100.0)?;
        let alarm = current > threshold && current >= p.min_count;
        Some(PercentilePoint {
            day,
            current,
            percentile,
            threshold,
            baseline,
            alarm,
        })
    }

    fn bits(p: &PercentilePoint) -> (NaiveDate, u64, u64, u64, Vec<u64>, bool) {
        (
            p.day,
            p.current.to_bits(),
            p.percentile.to_bits(),
            p.threshold.to_bits(),
            p.baseline.iter().map(|v| v.to_bits()).collect(),
            p.alarm,
        )
    }

    #[test]
    fn fast_path_equals_the_date_by_date_reference() {
        let mut compared = 0;
        for seed in 0..6u64 {
            // Series starting on different days (one on 29 February), about
            // six years long, so that five-year baselines and leap days occur.
            let start = d(2019, 1, 1) + chrono::Duration::days(seed as i64 * 97);
            let start = if seed == 5 { d(2020, 2, 29) } else { start };
            let counts = crate::surveillance::ears::tests::random_series(seed, 2200);
            let params = [
                PercentileParams::default(),
                PercentileParams {
                    years: 5,
                    percentile: 65.0,
                    ..PercentileParams::default()
                },
                PercentileParams {
                    years: 5,
                    percentile: 100.0,
                    min_count: 0.0,
                    season: Some(Season {
                        months: vec![6, 7, 8],
                        percentile: 0.0,
                    }),
                },
                PercentileParams {
                    years: 2,
                    percentile: 90.0,
                    ..PercentileParams::default()
                },
            ];
            for p in &params {
                // Every day of the series and a few outside it.
                let mut day = start - chrono::Duration::days(3);
                for _ in 0..counts.len() + 6 {
                    let fast = moving_percentile(start, &counts, day, p);
                    let slow = percentile_reference(start, &counts, day, p);
                    assert_eq!(
                        fast.as_ref().map(bits),
                        slow.as_ref().map(bits),
                        "seed {seed}, {day}, {p:?}"
                    );
                    compared += usize::from(fast.is_some());
                    day = day.succ_opt().unwrap();
                }
            }
        }
        assert!(compared > 30_000, "{compared} days compared");
    }

    #[test]
    fn day_numbers_agree_with_chrono() {
        let epoch = d(1970, 1, 1);
        let mut day = d(1595, 12, 25);
        while day < d(2450, 3, 3) {
            let n = days_from_civil(i64::from(day.year()), day.month(), day.day());
            assert_eq!(n, (day - epoch).num_days(), "{day}");
            assert_eq!(is_leap(i64::from(day.year())), day.leap_year(), "{day}");
            day += chrono::Duration::days(13);
        }
        for day in [NaiveDate::MIN, NaiveDate::MAX] {
            let n = days_from_civil(i64::from(day.year()), day.month(), day.day());
            assert_eq!(n, (day - epoch).num_days(), "{day}");
        }
    }
}
