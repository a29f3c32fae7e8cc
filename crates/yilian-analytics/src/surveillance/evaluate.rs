//! Detection quality on data with known outbreaks (SPEC §2.8: "quality is
//! measured on synthetic data with injected outbreaks").
//!
//! The usual outbreak-detection metrics (e.g. L. Hutwagner, T. Browne,
//! G. M. Seeman and A. T. Fleischauer, "Comparing aberration detection
//! methods with simulated data", *Emerging Infectious Diseases*
//! 11(2):314–316, 2005; CDC Working Group, "Framework for evaluating public
//! health surveillance systems for early detection of outbreaks", *MMWR*
//! 53(RR-5), 2004):
//!
//! * **sensitivity** — the share of outbreaks with at least one alarm at
//!   their place and channel between their first and last day (inclusive);
//! * **false signals** — alarm days (a place, channel and day counted once)
//!   outside every outbreak window of that place and channel, per county
//!   and week: `false / (days / 7 · counties)`;
//! * **timeliness** — the median over detected outbreaks of
//!   `first alarm day − start_day` (0 = detected on the first day).
//!
//! With no outbreak, sensitivity is 0; with `days` or `counties` 0, the
//! false rate is 0 — never NaN.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A known (injected) outbreak.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Outbreak {
    pub place: usize,
    pub channel: String,
    pub start_day: usize,
    pub end_day: usize,
}

/// What [`evaluate`] measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub outbreaks: usize,
    pub detected: usize,
    pub sensitivity: f64,
    pub false_signals: usize,
    pub false_per_county_week: f64,
    pub median_days_to_detection: Option<f64>,
}

/// Scores `alarms` (place, channel, day) against `outbreaks` over a study
/// of `days` days in `counties` counties.
pub fn evaluate(
    alarms: &[(usize, &str, usize)],
    outbreaks: &[Outbreak],
    days: usize,
    counties: usize,
) -> Metrics {
    let mut by_series: BTreeMap<(usize, &str), BTreeSet<usize>> = BTreeMap::new();
    for &(place, channel, day) in alarms {
        by_series.entry((place, channel)).or_default().insert(day);
    }

    let mut windows: BTreeMap<(usize, &str), Vec<(usize, usize)>> = BTreeMap::new();
    for o in outbreaks {
        windows
            .entry((o.place, o.channel.as_str()))
            .or_default()
            .push((o.start_day, o.end_day));
    }

    let mut delays = Vec::new();
    for o in outbreaks {
        if o.start_day > o.end_day {
            continue; // an empty window cannot be detected
        }
        let first = by_series
            .get(&(o.place, o.channel.as_str()))
            .and_then(|days| days.range(o.start_day..=o.end_day).next());
        if let Some(&d) = first {
            delays.push((d - o.start_day) as f64);
        }
    }

    let mut false_signals = 0;
    for (key, alarm_days) in &by_series {
        let w = windows.get(key).map_or(&[][..], Vec::as_slice);
        false_signals += alarm_days
            .iter()
            .filter(|&&d| !w.iter().any(|&(s, e)| s <= d && d <= e))
            .count();
    }

    let detected = delays.len();
    let county_weeks = days as f64 / 7.0 * counties as f64;
    delays.sort_by(f64::total_cmp);
    let median = match delays.len() {
        0 => None,
        n if n % 2 == 1 => Some(delays[n / 2]),
        n => Some((delays[n / 2 - 1] + delays[n / 2]) / 2.0),
    };
    Metrics {
        outbreaks: outbreaks.len(),
        detected,
        sensitivity: if outbreaks.is_empty() {
            0.0
        } else {
            detected as f64 / outbreaks.len() as f64
        },
        false_signals,
        false_per_county_week: if county_weeks > 0.0 {
            false_signals as f64 / county_weeks
        } else {
            0.0
        },
        median_days_to_detection: median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(place: usize, channel: &str, start_day: usize, end_day: usize) -> Outbreak {
        Outbreak {
            place,
            channel: channel.to_owned(),
            start_day,
            end_day,
        }
    }

    #[test]
    fn known_scenario() {
        // Four outbreaks over 70 days (10 weeks) in 2 counties.
        let outbreaks = vec![
            ob(1, "fever", 10, 20),    // alarms 12 and 14 → detected, delay 2
            ob(2, "fever", 30, 35),    // alarm 30 → delay 0
            ob(3, "rash", 40, 45),     // alarm on day 46: after the end → missed and false
            ob(1, "diarrhea", 10, 20), // alarm 15 → delay 5
        ];
        let alarms = vec![
            (1, "fever", 12),
            (1, "fever", 14),
            (1, "fever", 14), // duplicate alarm day counts once
            (1, "fever", 50), // false
            (2, "fever", 30),
            (2, "rash", 31), // other channel at the place: false
            (3, "rash", 46), // false
            (1, "diarrhea", 15),
            (9, "fever", 3), // false
        ];
        let m = evaluate(&alarms, &outbreaks, 70, 2);
        assert_eq!(m.outbreaks, 4);
        assert_eq!(m.detected, 3);
        assert_eq!(m.sensitivity, 0.75);
        assert_eq!(m.false_signals, 4);
        // 4 false / (70/7 weeks · 2 counties) = 4/20.
        assert!((m.false_per_county_week - 0.2).abs() < 1e-12);
        // Delays 0, 2, 5 → median 2.
        assert_eq!(m.median_days_to_detection, Some(2.0));
        // Even count: delays 0, 2 → 1.
        let m = evaluate(&alarms, &outbreaks[..2], 70, 2);
        assert_eq!(m.median_days_to_detection, Some(1.0));
    }

    #[test]
    fn empty_inputs_are_zero_not_nan() {
        let m = evaluate(&[], &[], 0, 0);
        assert_eq!(
            (
                m.sensitivity,
                m.false_per_county_week,
                m.median_days_to_detection
            ),
            (0.0, 0.0, None)
        );
        let m = evaluate(&[(0, "a", 1)], &[ob(0, "a", 5, 2)], 7, 1);
        assert_eq!((m.detected, m.false_signals), (0, 1));
    }
}
