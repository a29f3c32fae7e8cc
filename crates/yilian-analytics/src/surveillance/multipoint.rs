//! 多点触发 — multi-point triggering: a signal is stronger when several
//! independent channels agree.
//!
//! The national plan for emerging and unknown infectious diseases asks to
//! "建立完善新发未知传染病多点触发预警机制" (build a multi-point triggered
//! early-warning mechanism); the channels are the sentinels of SPEC §2.8 —
//! fever-clinic syndromes, notifiable disease reports, sentinel-drug sales,
//! school absenteeism — each with its own detection algorithm.
//!
//! # Rule
//!
//! A place's *neighbourhood* is the place itself and its neighbours (the
//! relation is made symmetric: if `q` lists `p`, `p` also neighbours `q`).
//! For each place `p` and day `d` on which `p` itself has a signal, the
//! distinct channels that signalled anywhere in `p`'s neighbourhood during
//! the `window_days` days `d − window_days + 1 … d` are counted; when there
//! are at least `min_channels` of them a [`MultiSignal`] is raised for
//! `(p, d)` with `strength` = that number. A larger strength on a later day
//! strengthens an open signal; the consumer decides how to merge
//! consecutive days. `window_days` and `min_channels` of 0 count as 1.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One channel's signal (an alarm of some algorithm) at a place on a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelSignal {
    pub channel: String,
    pub place: usize,
    pub day: usize,
}

/// Several channels agreeing around a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiSignal {
    pub place: usize,
    pub day: usize,
    /// Distinct channels in the neighbourhood and window, sorted.
    pub channels: Vec<String>,
    /// Places whose signals contributed, sorted.
    pub places: Vec<usize>,
    /// Number of distinct channels.
    pub strength: usize,
}

/// Applies the rule to `signals`; `neighbours[p]` lists the neighbours of
/// place `p` (places without an entry have none). The result is sorted by
/// day, then place.
pub fn multipoint(
    signals: &[ChannelSignal],
    neighbours: &[Vec<usize>],
    window_days: usize,
    min_channels: usize,
) -> Vec<MultiSignal> {
    let window = window_days.max(1);
    let min_channels = min_channels.max(1);
    // Symmetric neighbourhoods, each including the place itself.
    let mut hood: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (p, list) in neighbours.iter().enumerate() {
        for &q in list {
            hood.entry(p).or_default().insert(q);
            hood.entry(q).or_default().insert(p);
        }
    }
    // Signals per place, ordered by day.
    let mut by_place: BTreeMap<usize, Vec<(usize, &str)>> = BTreeMap::new();
    for s in signals {
        by_place
            .entry(s.place)
            .or_default()
            .push((s.day, s.channel.as_str()));
    }
    for v in by_place.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    let anchors: BTreeSet<(usize, usize)> = signals.iter().map(|s| (s.day, s.place)).collect();

    let mut out = Vec::new();
    for (day, place) in anchors {
        let first = day.saturating_sub(window - 1);
        let mut channels: BTreeSet<&str> = BTreeSet::new();
        let mut places: BTreeSet<usize> = BTreeSet::new();
        let others = hood.get(&place).into_iter().flatten().copied();
        for q in std::iter::once(place).chain(others) {
            let Some(list) = by_place.get(&q) else {
                continue;
            };
            let from = list.partition_point(|&(d, _)| d < first);
            for &(_, ch) in list[from..].iter().take_while(|&&(d, _)| d <= day) {
                channels.insert(ch);
                places.insert(q);
            }
        }
        if channels.len() >= min_channels {
            out.push(MultiSignal {
                place,
                day,
                strength: channels.len(),
                channels: channels.into_iter().map(str::to_owned).collect(),
                places: places.into_iter().collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(channel: &str, place: usize, day: usize) -> ChannelSignal {
        ChannelSignal {
            channel: channel.to_owned(),
            place,
            day,
        }
    }

    #[test]
    fn channels_agreeing_in_place_and_time() {
        // Places 0–1–2 in a line (0 and 2 not neighbours), 3 isolated.
        let neighbours = vec![vec![1], vec![2], vec![], vec![]];
        let signals = vec![
            sig("fever_clinic", 0, 10),
            sig("pharmacy", 1, 11),     // neighbour of 0, within 3 days
            sig("school", 2, 12),       // neighbour of 1 only
            sig("fever_clinic", 0, 11), // same channel again: counted once
            sig("pharmacy", 3, 11),
            sig("school", 3, 20), // too late for 3's pharmacy signal (window 3)
        ];
        let out = multipoint(&signals, &neighbours, 3, 2);
        let got: Vec<(usize, usize, usize)> =
            out.iter().map(|m| (m.place, m.day, m.strength)).collect();
        // (0,10): fever only → no. (0,11): fever + pharmacy(1) → 2.
        // (1,11): pharmacy + fever(0, days 10–11) → 2. (3,11): pharmacy only → no.
        // (2,12): school + pharmacy(1, day 11) → 2 (place 0 is not 2's neighbour).
        assert_eq!(got, vec![(0, 11, 2), (1, 11, 2), (2, 12, 2)]);
        assert_eq!(
            out[0].channels,
            vec!["fever_clinic".to_owned(), "pharmacy".to_owned()]
        );
        assert_eq!(out[0].places, vec![0, 1]);
        // Three channels around place 1 by day 12: fever (0, day 10–11), pharmacy, school.
        let signals2 = [signals.clone(), vec![sig("pharmacy", 1, 12)]].concat();
        let out = multipoint(&signals2, &neighbours, 3, 3);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].place, out[0].day, out[0].strength), (1, 12, 3));
        // A one-day window: only same-day agreement.
        assert_eq!(multipoint(&signals, &neighbours, 1, 2).len(), 2); // (0,11) and (1,11)
    }

    #[test]
    fn degenerate() {
        assert!(multipoint(&[], &[], 7, 2).is_empty());
        // Neighbour lists pointing at unknown places, zero window and threshold.
        let out = multipoint(&[sig("a", 5, 0)], &[vec![99]], 0, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].strength, 1);
        // A window of usize::MAX days ending on day 5 reaches back to day 0.
        let far = multipoint(&[sig("a", 0, 5), sig("b", 0, 0)], &[], usize::MAX, 2);
        assert_eq!(far.len(), 1);
        // Day usize::MAX does not overflow; its window of MAX days starts on day 1.
        assert!(
            multipoint(
                &[sig("a", 0, usize::MAX), sig("b", 0, 0)],
                &[],
                usize::MAX,
                2
            )
            .is_empty()
        );
    }
}
