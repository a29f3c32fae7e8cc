//! 监测预警 from the command line: the generator's years of sentinel counts
//! and case reports (with injected outbreaks), `surveil run --date D`, and
//! `surveil evaluate` — every algorithm and threshold scored against the
//! generator's ground truth (sensitivity, false signals per county per week,
//! median days to detection), with the county-year's computing time.

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDate;
use yilian_analytics::surveillance::{EarsMethod, Outbreak, ScanParams, evaluate};
use yilian_server::surveillance::{Algo, SCAN_DAYS, run_area};
use yilian_store::Store;
use yilian_store::surveillance::{NewCaseReport, NewCount, add_case_reports, upsert_counts};
use yilian_synth::{County, SERIES, SurveillanceData, SurveillanceSpec, surveillance};

use crate::CliResult;

/// Writes the generated counts (case reports as individual reports, which
/// count themselves) and returns a summary line.
pub async fn load(
    store: &Store,
    county: &County,
    seed: u64,
    today: NaiveDate,
) -> CliResult<String> {
    let started = Instant::now();
    let data = surveillance(county, &SurveillanceSpec::new(seed, today));
    let mut counts = Vec::new();
    let mut reports = Vec::new();
    for c in &data.counts {
        if c.channel == "case_report" {
            for n in 0..c.count {
                reports.push(NewCaseReport {
                    disease: c.code.into(),
                    onset_date: c.date.to_string(),
                    township_code: c.township_code.clone(),
                    address: format!("{}（病例 {}）", c.township_code, n + 1),
                    ..Default::default()
                });
            }
        } else {
            counts.push(NewCount {
                township_code: c.township_code.clone(),
                channel: c.channel.into(),
                code: c.code.into(),
                date: c.date.to_string(),
                count: i64::from(c.count),
            });
        }
    }
    let mut tx = store.write().await?;
    upsert_counts(&mut tx, &counts, "generator").await?;
    add_case_reports(&mut tx, &reports).await?;
    tx.commit().await?;
    Ok(format!(
        "surveillance: {} daily counts and {} case reports, {} to {}, {} injected outbreaks; {:.1} s",
        counts.len(),
        reports.len(),
        data.start,
        data.end,
        data.outbreaks.len(),
        started.elapsed().as_secs_f64()
    ))
}

/// `yilian surveil run --date D`.
pub async fn run(store: &Store, date: NaiveDate) -> CliResult {
    let out = run_area(store, "", date)
        .await
        .map_err(crate::csvio::api_msg)?;
    println!(
        "{}: {} series, {} alarms, {} new signals ({} multi-point, {} scan clusters) in {} ms",
        out.date,
        out.series,
        out.alarms,
        out.raised,
        out.multipoint,
        out.scan_clusters,
        out.elapsed_ms
    );
    Ok(())
}

/// The (algorithm, threshold) variants scored.
fn variants() -> Vec<(String, Algo)> {
    let mut v = Vec::new();
    for (m, name) in [
        (EarsMethod::C1, "C1"),
        (EarsMethod::C2, "C2"),
        (EarsMethod::C3, "C3"),
    ] {
        for alpha in [m.default_alpha(), 0.0001] {
            v.push((format!("EARS {name} α={alpha}"), Algo::Ears(m, alpha)));
        }
    }
    for p in [50.0, 65.0, 80.0, 90.0] {
        v.push((format!("移动百分位数 P{p}"), Algo::Percentile(p)));
    }
    v.push(("CUSUM k=1.04 h=2.26".into(), Algo::Cusum));
    v
}

/// `yilian surveil evaluate`: generates `years` + 1 years of counts for a
/// county of `residents` with outbreaks, runs every variant over the last
/// `eval_days` of every series, and scores it against the injected
/// outbreaks. Each outbreak counts once per (place, channel, code) it shows
/// in — at its own place and the neighbours it spread to — over
/// `[start + lag, end + lag]`.
pub fn evaluate_cmd(seed: u64, residents: usize, eval_days: usize, today: NaiveDate) -> CliResult {
    let county = yilian_synth::county(&yilian_synth::CountySpec::new(seed, residents, today));
    let spec = SurveillanceSpec {
        outbreaks_per_year: 6.0,
        ..SurveillanceSpec::new(seed, today)
    };
    let data = surveillance(&county, &spec);
    let towns: Vec<String> = county.townships().map(|t| t.code.clone()).collect();
    let place: HashMap<&str, usize> = towns
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let len = (data.end - data.start).num_days() as usize + 1;
    let from_day = len.saturating_sub(eval_days);
    let series = dense(&data, &towns, len);
    let truth = ground_truth(&data, &place, from_day);
    eprintln!(
        "evaluate: {} townships × {} series, {} days of history, scoring the last {} days ({} to {}); {} outbreak-series in the window",
        towns.len(),
        SERIES.len(),
        len,
        eval_days,
        data.start + chrono::Duration::days(from_day as i64),
        data.end,
        truth.len()
    );
    let days = len - from_day;
    println!("Township level, all channels ({} series):\n", series.len());
    score(&variants(), &series, &truth, data.start, from_day, days, 1);
    // As CIDARS: notifiable diseases summed over the county.
    let mut county_series: HashMap<(usize, String), Vec<f64>> = HashMap::new();
    for ((_, key), counts) in series
        .iter()
        .filter(|((_, k), _)| k.starts_with("case_report:"))
    {
        let v = county_series
            .entry((0, key.clone()))
            .or_insert_with(|| vec![0.0; len]);
        for (a, b) in v.iter_mut().zip(counts) {
            *a += b;
        }
    }
    let mut county_truth: Vec<Outbreak> = truth
        .iter()
        .filter(|o| o.channel.starts_with("case_report:"))
        .map(|o| Outbreak {
            place: 0,
            ..o.clone()
        })
        .collect();
    county_truth.sort_by(|a, b| (&a.channel, a.start_day).cmp(&(&b.channel, b.start_day)));
    county_truth.dedup_by(|a, b| a.channel == b.channel && a.start_day == b.start_day);
    println!(
        "\nCounty level, notifiable diseases ({} series, as CIDARS):\n",
        county_series.len()
    );
    score(
        &variants(),
        &county_series,
        &county_truth,
        data.start,
        from_day,
        days,
        1,
    );
    // Timing: the standard set over one county-year, all channels; the scan.
    let started = Instant::now();
    let mut n = 0;
    for ((_, key), counts) in &series {
        let code = key.split(':').nth(1).unwrap_or("");
        n += yilian_server::surveillance::detect(data.start, counts, len.saturating_sub(365), code)
            .len();
    }
    let detect_ms = started.elapsed().as_secs_f64() * 1000.0;
    let coords: Vec<(f64, f64)> = county
        .townships()
        .map(|t| (t.lon.unwrap_or(0.0), t.lat.unwrap_or(0.0)))
        .collect();
    let (ch, code) = ("outpatient", "ili");
    let cases: Vec<Vec<u32>> = towns
        .iter()
        .enumerate()
        .map(|(i, _)| {
            series
                .get(&(i, format!("{ch}:{code}")))
                .map_or(vec![0; SCAN_DAYS], |c| {
                    c[len - SCAN_DAYS..].iter().map(|v| *v as u32).collect()
                })
        })
        .collect();
    let started = Instant::now();
    let cluster = yilian_analytics::surveillance::space_time_permutation(
        &cases,
        &coords,
        &ScanParams::default(),
    );
    let scan_ms = started.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "timing: EARS C1–C3 + percentile + CUSUM over one county-year ({} series × 365 days, {n} alarms): {detect_ms:.0} ms; \
         space-time permutation scan ({} townships × {SCAN_DAYS} days, 999 replications): {scan_ms:.0} ms (p = {})",
        series.len(),
        towns.len(),
        cluster.map_or("—".into(), |c| format!("{:.3}", c.p_value))
    );
    // The same two figures for scripts (scripts/bench-surveillance.sh).
    eprintln!(
        "timing-ms: county-year={detect_ms:.3} scan={scan_ms:.3} series={} alarms={n}",
        series.len()
    );
    Ok(())
}

/// Days after a signal during which the same series raises no new one
/// (a persisting excess is one signal, not one a day).
pub const REFRACTORY_DAYS: usize = 7;

/// The first day of each run of alarms separated by at least
/// [`REFRACTORY_DAYS`] quiet days.
fn episodes(mut days: Vec<usize>) -> Vec<usize> {
    days.sort_unstable();
    let mut out: Vec<usize> = Vec::new();
    let mut last: Option<usize> = None;
    for d in days {
        if last.is_none_or(|l| d > l + REFRACTORY_DAYS) {
            out.push(d);
        }
        last = Some(d);
    }
    out
}

/// Scores every variant over `series` against `truth` and prints a table.
fn score(
    variants: &[(String, Algo)],
    series: &HashMap<(usize, String), Vec<f64>>,
    truth: &[Outbreak],
    start: NaiveDate,
    from_day: usize,
    days: usize,
    counties: usize,
) {
    println!(
        "| algorithm and threshold | sensitivity | detected | false signals / county / week | median days to detection |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (label, algo) in variants {
        let mut alarms: Vec<(usize, &str, usize)> = Vec::new();
        for ((p, key), counts) in series {
            let days: Vec<usize> = algo
                .alarms(start, counts, from_day)
                .into_iter()
                .map(|a| a.day - from_day)
                .collect();
            alarms.extend(episodes(days).into_iter().map(|d| (*p, key.as_str(), d)));
        }
        let m = evaluate(&alarms, truth, days, counties);
        println!(
            "| {label} | {:.1} % | {}/{} | {:.2} | {} |",
            m.sensitivity * 100.0,
            m.detected,
            m.outbreaks,
            m.false_per_county_week,
            m.median_days_to_detection
                .map_or("—".into(), |d| format!("{d:.1}"))
        );
    }
}

/// Every (township, "channel:code") series as a dense vector.
fn dense(
    data: &SurveillanceData,
    towns: &[String],
    len: usize,
) -> HashMap<(usize, String), Vec<f64>> {
    let mut out = HashMap::new();
    for (i, t) in towns.iter().enumerate() {
        for (ch, code) in SERIES {
            let mut v = vec![0.0; len];
            for (d, c) in data.series(t, ch, code) {
                if let Some(slot) = v.get_mut((d - data.start).num_days() as usize) {
                    *slot = f64::from(c);
                }
            }
            out.insert((i, format!("{ch}:{code}")), v);
        }
    }
    out
}

/// The injected outbreaks as scored series windows (days from `from_day`).
fn ground_truth(
    data: &SurveillanceData,
    place: &HashMap<&str, usize>,
    from_day: usize,
) -> Vec<Outbreak> {
    let mut out = Vec::new();
    for o in &data.outbreaks {
        let places = std::iter::once(&o.township_code).chain(o.neighbours_also.iter());
        for t in places {
            let Some(&p) = place.get(t.as_str()) else {
                continue;
            };
            for (ch, code, lag) in &o.channels {
                let s = (o.start - data.start).num_days() + lag;
                let e = (o.end - data.start).num_days() + lag;
                if e < from_day as i64 || s < 0 {
                    continue;
                }
                out.push(Outbreak {
                    place: p,
                    channel: format!("{ch}:{code}"),
                    start_day: (s.max(from_day as i64) as usize) - from_day,
                    end_day: e as usize - from_day,
                });
            }
        }
    }
    out
}
