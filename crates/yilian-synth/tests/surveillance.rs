//! Surveillance counts: determinism, seasons, weekdays, magnitudes, and the
//! injected outbreaks against their ground truth.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use yilian_synth::{
    CHANNELS, County, CountySpec, DailyCount, SERIES, SurveillanceData, SurveillanceSpec,
    baseline_expectation, county, surveillance,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn county_of(seed: u64, residents: usize) -> County {
    county(&CountySpec::new(seed, residents, today()))
}

/// The default spec on a 100 000-resident county of seed 2026, generated once.
fn sample() -> &'static (County, SurveillanceSpec, SurveillanceData) {
    static SAMPLE: OnceLock<(County, SurveillanceSpec, SurveillanceData)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let c = county_of(2026, 100_000);
        let spec = SurveillanceSpec::new(2026, today());
        let data = surveillance(&c, &spec);
        (c, spec, data)
    })
}

/// Mean daily count, county-wide, of one series over the days `keep` selects.
fn mean_where(
    data: &SurveillanceData,
    channel: &str,
    code: &str,
    keep: impl Fn(NaiveDate) -> bool,
) -> f64 {
    let total: u64 = data
        .counts
        .iter()
        .filter(|r| r.channel == channel && r.code == code && keep(r.date))
        .map(|r| u64::from(r.count))
        .sum();
    let days = data
        .start
        .iter_days()
        .take_while(|d| *d <= data.end)
        .filter(|d| keep(*d))
        .count();
    total as f64 / days as f64
}

fn months(ms: &'static [u32]) -> impl Fn(NaiveDate) -> bool {
    move |d| ms.contains(&d.month())
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

#[test]
fn same_seed_same_data_other_seed_differs() {
    let c = county_of(7, 30_000);
    let mut spec = SurveillanceSpec::new(7, today());
    spec.years = 1;
    let a = surveillance(&c, &spec);
    let b = surveillance(&c, &spec);
    assert_eq!(a, b);
    assert!(!a.outbreaks.is_empty());
    spec.seed = 8;
    let other = surveillance(&c, &spec);
    assert_ne!(a.counts, other.counts);
    assert_ne!(a.outbreaks, other.outbreaks);
}

#[test]
fn the_period_the_order_and_the_vocabulary() {
    let (c, spec, data) = sample();
    assert_eq!(data.start, NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
    assert_eq!(data.end, spec.today);
    let towns: HashSet<&str> = c.townships().map(|t| t.code.as_str()).collect();
    let series: HashSet<(&str, &str)> = SERIES.iter().copied().collect();
    assert_eq!(SERIES.len(), 25);
    for r in &data.counts {
        assert!(r.date >= data.start && r.date <= spec.today, "{r:?}");
        assert!(r.count > 0);
        assert!(towns.contains(r.township_code.as_str()));
        assert!(series.contains(&(r.channel, r.code)));
        assert!(CHANNELS.contains(&r.channel));
    }
    let index = |r: &DailyCount| {
        let s = SERIES
            .iter()
            .position(|s| *s == (r.channel, r.code))
            .unwrap();
        (r.township_code.clone(), s, r.date)
    };
    assert!(data.counts.windows(2).all(|w| index(&w[0]) < index(&w[1])));

    // The dense view of a series agrees with the rows.
    let town = c.townships().next().unwrap().code.clone();
    let dense: Vec<(NaiveDate, u32)> = data.series(&town, "outpatient", "ili").collect();
    assert_eq!(dense.len() as i64, (data.end - data.start).num_days() + 1);
    let rows = data.rows_of(&town, "outpatient", "ili");
    assert!(!rows.is_empty());
    let nonzero: Vec<(NaiveDate, u32)> = dense.iter().copied().filter(|(_, n)| *n > 0).collect();
    let from_rows: Vec<(NaiveDate, u32)> = rows.iter().map(|r| (r.date, r.count)).collect();
    assert_eq!(nonzero, from_rows);
    assert!(
        data.series(&town, "outpatient", "nope")
            .all(|(_, n)| n == 0)
    );
}

#[test]
fn seasons_show() {
    let (_, _, data) = sample();
    let winter = months(&[12, 1, 2]);
    let summer = months(&[6, 7, 8]);
    let ili_w = mean_where(data, "outpatient", "ili", &winter);
    let ili_s = mean_where(data, "outpatient", "ili", &summer);
    assert!(ili_w > 2.0 * ili_s, "ILI winter {ili_w} summer {ili_s}");
    let flu_w = mean_where(data, "case_report", "influenza", &winter);
    let flu_s = mean_where(data, "case_report", "influenza", &summer);
    assert!(
        flu_w > 3.0 * flu_s,
        "influenza winter {flu_w} summer {flu_s}"
    );
    let dia_s = mean_where(data, "outpatient", "diarrhea", months(&[7, 8]));
    let dia_w = mean_where(data, "outpatient", "diarrhea", &winter);
    assert!(
        dia_s > 1.5 * dia_w,
        "diarrhea summer {dia_s} winter {dia_w}"
    );
    let anti_s = mean_where(data, "pharmacy", "antidiarrheal", months(&[7, 8]));
    let anti_w = mean_where(data, "pharmacy", "antidiarrheal", &winter);
    assert!(
        anti_s > anti_w,
        "antidiarrheal summer {anti_s} winter {anti_w}"
    );
    let hfmd_peak = mean_where(data, "outpatient", "hfmd", months(&[5, 6]));
    let hfmd_low = mean_where(data, "outpatient", "hfmd", months(&[1, 2]));
    assert!(hfmd_peak > 3.0 * hfmd_low, "HFMD {hfmd_peak} vs {hfmd_low}");
    let pox_term = mean_where(
        data,
        "case_report",
        "chickenpox",
        months(&[4, 5, 6, 11, 12]),
    );
    let pox_summer = mean_where(data, "case_report", "chickenpox", months(&[7, 8]));
    assert!(
        pox_term > pox_summer,
        "chickenpox {pox_term} vs {pox_summer}"
    );
}

#[test]
fn weekdays_and_school_holidays_show() {
    let (_, _, data) = sample();
    for r in data.counts.iter().filter(|r| r.channel == "school_absence") {
        assert!(!weekend(r.date), "{r:?}");
        let (m, d) = (r.date.month(), r.date.day());
        let holiday =
            (m == 1 && d >= 15) || m == 2 || (m == 7 && d >= 10) || m == 8 || (m == 10 && d <= 7);
        assert!(!holiday, "{r:?}");
    }
    let weekday = |d: NaiveDate| !weekend(d);
    let out_we = mean_where(data, "outpatient", "respiratory", weekend);
    let out_wd = mean_where(data, "outpatient", "respiratory", weekday);
    assert!(out_we < 0.92 * out_wd, "outpatient {out_we} vs {out_wd}");
    let ph_we = mean_where(data, "pharmacy", "cough", weekend);
    let ph_wd = mean_where(data, "pharmacy", "cough", weekday);
    assert!(ph_we > ph_wd, "pharmacy {ph_we} vs {ph_wd}");
    let absent = mean_where(data, "school_absence", "fever", |d| {
        weekday(d) && d.month() == 11
    });
    assert!(
        absent > 5.0,
        "school absences on November weekdays {absent}"
    );
}

#[test]
fn magnitudes_are_plausible_for_100k() {
    let (c, _, data) = sample();
    let towns = c.townships().count() as f64;
    let all = |_| true;
    // Outpatient ILI: about 20 a day county-wide, about one per township-day.
    let ili = mean_where(data, "outpatient", "ili", all);
    assert!((12.0..35.0).contains(&ili), "ILI per day {ili}");
    assert!(ili / towns < 3.0);
    // Notified influenza: about 200 per 100 000 a year.
    let flu_year = mean_where(data, "case_report", "influenza", all) * 365.0;
    assert!(
        (100.0..400.0).contains(&flu_year),
        "influenza a year {flu_year}"
    );
    // Case reports of a township-day are mostly 0 or 1.
    let mut per_town_day: HashMap<(&str, NaiveDate), u32> = HashMap::new();
    for r in data.counts.iter().filter(|r| r.channel == "case_report") {
        *per_town_day
            .entry((r.township_code.as_str(), r.date))
            .or_default() += r.count;
    }
    let town_days = towns * ((data.end - data.start).num_days() + 1) as f64;
    let two_plus = per_town_day.values().filter(|n| **n >= 2).count() as f64;
    assert!(two_plus / town_days < 0.02, "{two_plus} of {town_days}");
    // Measles stays rare.
    let measles: u32 = data
        .counts
        .iter()
        .filter(|r| r.code == "measles")
        .map(|r| r.count)
        .sum();
    assert!(measles <= 5, "measles {measles}");
}

#[test]
fn outbreaks_are_spread_over_the_period_with_sane_ground_truth() {
    let (c, spec, data) = sample();
    let towns: HashSet<&str> = c.townships().map(|t| t.code.as_str()).collect();
    let n = data.outbreaks.len();
    // 3 a year over 5 years and 326 days.
    assert!((16..=19).contains(&n), "{n} outbreaks");
    let ids: HashSet<&str> = data.outbreaks.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids.len(), n);
    assert!(data.outbreaks.windows(2).all(|w| w[0].start <= w[1].start));
    for year in 2021..=2026 {
        assert!(
            data.outbreaks.iter().any(|o| o.start.year() == year),
            "none in {year}"
        );
    }
    for o in &data.outbreaks {
        assert!(o.id.starts_with("140599-OB"));
        assert!(towns.contains(o.township_code.as_str()));
        assert!(o.neighbours_also.len() <= 1);
        for nb in &o.neighbours_also {
            assert!(towns.contains(nb.as_str()) && *nb != o.township_code);
        }
        let days = (o.end - o.start).num_days() + 1;
        assert!((3..=21).contains(&days), "{o:?}");
        assert!((10..=80).contains(&o.size), "{o:?}");
        assert!(o.start >= data.start);
        assert_eq!(o.channels.len(), o.channel_cases.len());
        assert!(!o.channels.is_empty());
        let lag = |ch: &str| o.channels.iter().filter(|c| c.0 == ch).map(|c| c.2).max();
        for (ch, _, l) in &o.channels {
            assert!(o.end + Duration::days(*l) <= spec.today, "{o:?}");
            assert!((0..=5).contains(l));
            assert!(CHANNELS.contains(&ch.as_str()));
        }
        // Pharmacy before the clinic, the clinic before the report.
        if let (Some(p), Some(c)) = (lag("pharmacy"), lag("outpatient")) {
            assert!(p < c, "{o:?}");
        }
        if let (Some(c), Some(r)) = (lag("outpatient"), lag("case_report")) {
            assert!(c < r, "{o:?}");
        }
        assert_eq!(lag("school_absence").is_some(), o.in_school, "{o:?}");
    }
    let kinds: HashSet<_> = data.outbreaks.iter().map(|o| o.kind).collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
}

#[test]
fn outbreaks_add_exactly_their_cases_within_their_windows() {
    let (c, spec, data) = sample();
    let mut quiet_spec = spec.clone();
    quiet_spec.outbreaks_per_year = 0.0;
    let quiet = surveillance(c, &quiet_spec);
    assert!(quiet.outbreaks.is_empty());
    // The baseline is the same with or without outbreaks, so the difference
    // is exactly what was injected.
    let mut extra: HashMap<(&str, &str, &str), Vec<i64>> = HashMap::new();
    for town in c.townships() {
        for (ch, code) in SERIES {
            let d: Vec<i64> = data
                .series(&town.code, ch, code)
                .zip(quiet.series(&town.code, ch, code))
                .map(|((_, a), (_, b))| i64::from(a) - i64::from(b))
                .collect();
            assert!(d.iter().all(|x| *x >= 0), "{} {ch}/{code}", town.code);
            extra.insert((town.code.as_str(), ch, code), d);
        }
    }
    let total_extra: i64 = extra.values().flatten().sum();
    let injected: i64 = data
        .outbreaks
        .iter()
        .flat_map(|o| o.channel_cases.iter())
        .map(|n| i64::from(*n))
        .sum();
    assert_eq!(total_extra, injected);

    let mut strong = 0;
    let mut signals = 0;
    for o in &data.outbreaks {
        let places: Vec<&str> = std::iter::once(o.township_code.as_str())
            .chain(o.neighbours_also.iter().map(String::as_str))
            .collect();
        let mut strong_here = 0;
        for ((ch, code, lag), cases) in o.channels.iter().zip(&o.channel_cases) {
            let (from, to) = (o.start + Duration::days(*lag), o.end + Duration::days(*lag));
            let in_window = |d: NaiveDate| d >= from && d <= to;
            let mut added = 0;
            let mut observed = 0u32;
            let mut expected = 0.0;
            for place in &places {
                let day = |d: NaiveDate| (d - data.start).num_days() as usize;
                added += extra[&(*place, ch.as_str(), code.as_str())][day(from)..=day(to)]
                    .iter()
                    .sum::<i64>();
                observed += data
                    .rows_of(place, ch, code)
                    .iter()
                    .filter(|r| in_window(r.date))
                    .map(|r| r.count)
                    .sum::<u32>();
                expected += baseline_expectation(c, spec, place, ch, code)
                    .iter()
                    .filter(|(d, _)| in_window(*d))
                    .map(|(_, e)| e)
                    .sum::<f64>();
            }
            // Every extra case lies in the window (more if outbreaks overlap).
            assert!(added >= i64::from(*cases), "{} {ch}/{code}", o.id);
            // And it stands out of the baseline expectation.
            let threshold = expected + 0.5 * f64::from(*cases);
            let noise = 2.5 * (expected * 1.2).sqrt();
            assert!(
                f64::from(observed) >= threshold - noise,
                "{} {ch}/{code}: observed {observed}, expected {expected:.1}, cases {cases}",
                o.id
            );
            signals += 1;
            let beats = f64::from(observed) >= threshold;
            strong_here += usize::from(beats);
            // Case reports have a tiny baseline: they always show it.
            assert!(beats || ch != "case_report", "{} {code}", o.id);
        }
        strong += strong_here;
        assert!(strong_here > 0, "{} shows nowhere", o.id);
    }
    // Most signals beat expectation + half their cases outright; the weak
    // ones are small shares in busy, unspecific series (cough, fever).
    assert!(strong * 10 >= signals * 8, "{strong} of {signals}");
}
