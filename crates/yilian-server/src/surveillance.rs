//! 监测预警 — the surveillance service: daily counts and case reports in
//! (API and CSV, validated row by row, all or nothing unless told to skip),
//! the early-warning run over the stored series (EARS C1–C3, the moving
//! percentile method, CUSUM, the space-time permutation scan, multi-point
//! triggering), and the signal workflow (raised → verifying → confirmed |
//! dismissed) with events and their linked cases.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::Explain as _;
use yilian_domain::access::{Action, Principal, ResidentScope, allowed, resident_scope};
use yilian_domain::surveillance::{
    Channel, CountInput, Disease, SignalState, SurveillanceError, check_count, signal_transition,
};
use yilian_store::surveillance::{
    self as store, CaseRow, EventRow, NewCaseReport, NewCount, SignalFilter, SignalRow,
};
use yilian_store::{Conn, Page, Paging, Store, audit};

use crate::error::{ApiError, ApiResult};

fn require(p: &Principal, action: Action) -> ApiResult<()> {
    if allowed(p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The region prefix a caller reports for and reads: the CDC and the
/// commission their region, a clinician their institution's catchment.
pub fn area(p: &Principal) -> ApiResult<String> {
    match resident_scope(p) {
        ResidentScope::All => Ok(String::new()),
        ResidentScope::Area { prefix, .. } => Ok(prefix),
        _ => Err(ApiError::forbidden()),
    }
}

/// One daily count as submitted.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct CountRequest {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The township's region code (9 digits).
    pub township_code: String,
    /// outpatient, fever_clinic, case_report, pharmacy, school_absence.
    pub channel: String,
    /// A code of the channel (e.g. `ili`, `hfmd`, `antipyretic`).
    pub code: String,
    pub count: i64,
}

/// A refused row: its number (1-based, as in the file) and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportOutcome {
    pub accepted: usize,
    pub rejected: Vec<RowError>,
}

fn row_error(row: usize, code: &str, zh: String, en: String) -> RowError {
    RowError {
        row,
        code: code.into(),
        message_zh: zh,
        message_en: en,
    }
}

/// 422 `invalid_rows` listing every refused row (nothing was stored).
fn invalid_rows(rejected: &[RowError]) -> ApiError {
    let list_zh: Vec<String> = rejected
        .iter()
        .take(20)
        .map(|r| format!("第 {} 行：{}", r.row, r.message_zh))
        .collect();
    let list_en: Vec<String> = rejected
        .iter()
        .take(20)
        .map(|r| format!("row {}: {}", r.row, r.message_en))
        .collect();
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rows",
        format!(
            "{} 行有误，未导入任何数据：{}",
            rejected.len(),
            list_zh.join("；")
        ),
        format!(
            "{} rows refused, nothing imported: {}",
            rejected.len(),
            list_en.join("; ")
        ),
    )
}

/// Checks rows against the rules, the township registry and the caller's
/// area; returns the valid counts and the refusals.
async fn validate(
    conn: &mut Conn,
    p: &Principal,
    rows: &[CountRequest],
    today: NaiveDate,
) -> ApiResult<(Vec<NewCount>, Vec<RowError>)> {
    let prefix = area(p)?;
    let townships: std::collections::HashSet<String> = store::townships(conn, &prefix)
        .await?
        .into_iter()
        .map(|t| t.0)
        .collect();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let n = i + 1;
        let Ok(date) = NaiveDate::parse_from_str(r.date.trim(), "%Y-%m-%d") else {
            bad.push(row_error(
                n,
                "invalid_date",
                format!("日期 {} 格式应为 YYYY-MM-DD", r.date),
                format!("date {} is not YYYY-MM-DD", r.date),
            ));
            continue;
        };
        let input = CountInput {
            date,
            channel: r.channel.trim(),
            code: r.code.trim(),
            count: r.count,
        };
        if let Err(e) = check_count(&input, today) {
            bad.push(row_error(n, e.code(), e.message_zh(), e.message_en()));
            continue;
        }
        let township = r.township_code.trim();
        if !townships.contains(township) {
            bad.push(row_error(
                n,
                "unknown_township",
                format!("乡镇（街道）编码 {township} 不存在或不在本辖区"),
                format!("township {township} is unknown or outside your area"),
            ));
            continue;
        }
        ok.push(NewCount {
            township_code: township.into(),
            channel: input.channel.into(),
            code: input.code.into(),
            date: date.to_string(),
            count: r.count,
        });
    }
    Ok((ok, bad))
}

/// 监测数据报送 — stores daily counts. Any bad row → 422 `invalid_rows`
/// and nothing is stored, unless `skip_invalid` (then the good rows are
/// stored and the bad ones listed).
pub async fn submit_counts(
    store: &Store,
    p: &Principal,
    rows: &[CountRequest],
    skip_invalid: bool,
    source: &str,
    today: NaiveDate,
) -> ApiResult<ImportOutcome> {
    require(p, Action::ReportSurveillance)?;
    let mut tx = store.write().await?;
    let (ok, bad) = validate(&mut tx, p, rows, today).await?;
    if !bad.is_empty() && !skip_invalid {
        return Err(invalid_rows(&bad));
    }
    store::upsert_counts(&mut tx, &ok, source).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "surveillance.counts",
        "surveillance",
        source,
        &serde_json::json!({"accepted": ok.len(), "rejected": bad.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(ImportOutcome {
        accepted: ok.len(),
        rejected: bad,
    })
}

/// Reads counts from CSV text with the header
/// `date,township_code,channel,code,count`; a row that does not parse is a
/// refused row like a bad value.
pub fn parse_csv(text: &str) -> (Vec<CountRequest>, Vec<RowError>) {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, rec) in rdr.deserialize::<CountRequest>().enumerate() {
        match rec {
            Ok(r) => rows.push(r),
            Err(e) => bad.push(row_error(
                i + 1,
                "malformed_row",
                format!("无法解析：{e}"),
                format!("cannot be read: {e}"),
            )),
        }
    }
    (rows, bad)
}

/// CSV import: like [`submit_counts`], with unparsable rows refused too.
pub async fn import_csv(
    store: &Store,
    p: &Principal,
    text: &str,
    skip_invalid: bool,
    today: NaiveDate,
) -> ApiResult<ImportOutcome> {
    require(p, Action::ReportSurveillance)?;
    let (rows, malformed) = parse_csv(text);
    if !malformed.is_empty() && !skip_invalid {
        return Err(invalid_rows(&malformed));
    }
    // Row numbers of the parsed rows: skip over the malformed ones.
    let mut numbers = Vec::with_capacity(rows.len());
    let mut n = 0;
    for _ in &rows {
        n += 1;
        while malformed.iter().any(|m| m.row == n) {
            n += 1;
        }
        numbers.push(n);
    }
    let mut out = match submit_counts(store, p, &rows, skip_invalid, "csv", today).await {
        Ok(o) => o,
        Err(e) => return Err(e),
    };
    for r in &mut out.rejected {
        r.row = numbers.get(r.row - 1).copied().unwrap_or(r.row);
    }
    out.rejected.extend(malformed);
    out.rejected.sort_by_key(|r| r.row);
    Ok(out)
}

/// A notifiable-disease case report as submitted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CaseReportRequest {
    pub disease: String,
    /// Onset date, `YYYY-MM-DD`.
    pub onset_date: String,
    pub township_code: String,
    #[serde(default)]
    pub address: String,
    pub resident_id: Option<i64>,
}

/// 传染病报告 — stores case reports (each also counted in its township's
/// `case_report` series on its onset day); all or nothing.
pub async fn report_cases(
    store: &Store,
    p: &Principal,
    rows: &[CaseReportRequest],
    today: NaiveDate,
) -> ApiResult<Vec<i64>> {
    require(p, Action::ReportSurveillance)?;
    let as_counts: Vec<CountRequest> = rows
        .iter()
        .map(|r| CountRequest {
            date: r.onset_date.clone(),
            township_code: r.township_code.clone(),
            channel: Channel::CaseReport.as_str().into(),
            code: r.disease.clone(),
            count: 1,
        })
        .collect();
    let mut tx = store.write().await?;
    let (_, bad) = validate(&mut tx, p, &as_counts, today).await?;
    if !bad.is_empty() {
        return Err(invalid_rows(&bad));
    }
    let reports: Vec<NewCaseReport> = rows
        .iter()
        .map(|r| NewCaseReport {
            disease: r.disease.trim().into(),
            onset_date: r.onset_date.trim().into(),
            township_code: r.township_code.trim().into(),
            address: r.address.trim().chars().take(200).collect(),
            resident_id: r.resident_id,
            reported_by: Some(p.user_id),
            institution_id: p.institution.as_ref().map(|i| i.id),
        })
        .collect();
    let ids = store::add_case_reports(&mut tx, &reports).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "surveillance.case_reports",
        "surveillance",
        "case_report",
        &serde_json::json!({"ids": ids}),
    )
    .await?;
    tx.commit().await?;
    Ok(ids)
}

// ---------------------------------------------------------------- signals

/// Signals the caller may see, newest first.
pub async fn signals(
    store: &Store,
    p: &Principal,
    mut f: SignalFilter,
    paging: Paging,
) -> ApiResult<Page<SignalRow>> {
    require(p, Action::ReadSurveillance)?;
    f.region_prefix = Some(area(p)?);
    let mut c = store.read().await?;
    Ok(store::list_signals(&mut c, &f, paging).await?)
}

/// A signal the caller may see.
pub async fn signal(store: &Store, p: &Principal, id: i64) -> ApiResult<SignalRow> {
    require(p, Action::ReadSurveillance)?;
    let prefix = area(p)?;
    let mut c = store.read().await?;
    store::get_signal(&mut c, id)
        .await?
        .filter(|s| s.township_code.starts_with(&prefix))
        .ok_or_else(|| ApiError::not_found("信号"))
}

/// 信号处置 — takes a signal up for verification, confirms it (it becomes
/// an event with the case reports of its place and period linked) or
/// dismisses it; who and when are recorded.
pub async fn act(
    store: &Store,
    p: &Principal,
    id: i64,
    to: SignalState,
    note: &str,
) -> ApiResult<SignalRow> {
    require(p, Action::ManageSignals)?;
    let prefix = area(p)?;
    let note: String = note.trim().chars().take(500).collect();
    if to == SignalState::Dismissed && note.chars().count() < 2 {
        return Err(ApiError::invalid(
            "note",
            "排除信号须说明理由",
            "dismissing a signal needs a reason",
        ));
    }
    let mut tx = store.write().await?;
    let s = store::get_signal(&mut tx, id)
        .await?
        .filter(|s| s.township_code.starts_with(&prefix))
        .ok_or_else(|| ApiError::not_found("信号"))?;
    let from = SignalState::parse(&s.state).ok_or_else(ApiError::internal)?;
    signal_transition(from, to)?;
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let m = store::SignalMove {
        id,
        from: from.as_str(),
        to: to.as_str(),
        by: p.user_id,
        at: &now,
        note: &note,
        version: s.version,
    };
    if !store::move_signal(&mut tx, &m).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "version_conflict",
            "信号已被他人处置，请刷新后重试",
            "the signal was changed by someone else; reload and retry",
        ));
    }
    if to == SignalState::Confirmed {
        let day = NaiveDate::parse_from_str(&s.raised_on, "%Y-%m-%d")
            .map_err(|_| ApiError::internal())?;
        let from_day = (day - chrono::Duration::days(13)).to_string();
        let label = match Channel::parse(&s.channel) {
            Some(c) => c.code_label(&s.code).unwrap_or(""),
            None => "多渠道",
        };
        let title = format!("{}{}聚集性疫情（{}）", s.township_name, label, s.raised_on);
        store::open_event(&mut tx, &s, &title, p.user_id, &from_day, &s.raised_on).await?;
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        &format!("surveillance.signal.{}", to.as_str()),
        "signal",
        &id.to_string(),
        &serde_json::json!({"note": note}),
    )
    .await?;
    let out = store::get_signal(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(out)
}

/// An event with its linked case reports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub event: EventRow,
    pub signal: SignalRow,
    pub cases: Vec<CaseRow>,
}

pub async fn event(store: &Store, p: &Principal, id: i64) -> ApiResult<EventView> {
    require(p, Action::ReadSurveillance)?;
    let prefix = area(p)?;
    let mut c = store.read().await?;
    let event = store::get_event(&mut c, id)
        .await?
        .filter(|e| e.township_code.starts_with(&prefix))
        .ok_or_else(|| ApiError::not_found("事件"))?;
    let signal = store::get_signal(&mut c, event.signal_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let cases = store::event_cases(&mut c, id).await?;
    Ok(EventView {
        event,
        signal,
        cases,
    })
}

/// The label of a (channel, code) series.
pub fn series_label(channel: &str, code: &str) -> String {
    match Channel::parse(channel) {
        Some(c) => format!("{} · {}", c.label_zh(), c.code_label(code).unwrap_or(code)),
        None => format!("{channel} · {code}"),
    }
}

/// Whether a disease code is known (for CSV and API callers).
pub fn known_disease(code: &str) -> bool {
    Disease::parse(code).is_some()
}

impl From<SurveillanceError> for ApiError {
    fn from(e: SurveillanceError) -> Self {
        ApiError::rule(&e)
    }
}

// ---------------------------------------------------------------- the run

/// An alarm of one algorithm on one day of a series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Alarm {
    pub algorithm: &'static str,
    /// Index into the series.
    pub day: usize,
    /// The count compared (the 7-day sum for the percentile method).
    pub observed: f64,
    /// The count at which (above which) it alarms.
    pub threshold: f64,
}

/// The label of an algorithm.
pub fn algorithm_label(a: &str) -> &'static str {
    match a {
        "ears_c1" => "EARS C1",
        "ears_c2" => "EARS C2",
        "ears_c3" => "EARS C3",
        "percentile" => "移动百分位数法",
        "cusum" => "CUSUM",
        "scan" => "时空重排扫描",
        "multipoint" => "多点触发",
        _ => "其他",
    }
}

impl Alarm {
    fn at(algorithm: &'static str, day: usize, observed: f64, threshold: f64) -> Alarm {
        Alarm {
            algorithm,
            day,
            observed,
            threshold,
        }
    }
}

/// One per-series algorithm with its threshold parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algo {
    /// EARS C1/C2/C3 at a significance level (R's default 0.001 / 0.025).
    Ears(yilian_analytics::surveillance::EarsMethod, f64),
    /// The moving percentile method at a percentile (e.g. 80.0).
    Percentile(f64),
    /// CUSUM with R's defaults (k = 1.04, h = 2.26, 28-day reference).
    Cusum,
}

impl Algo {
    /// The name signals carry.
    pub fn name(self) -> &'static str {
        use yilian_analytics::surveillance::EarsMethod;
        match self {
            Algo::Ears(EarsMethod::C1, _) => "ears_c1",
            Algo::Ears(EarsMethod::C2, _) => "ears_c2",
            Algo::Ears(_, _) => "ears_c3",
            Algo::Percentile(_) => "percentile",
            Algo::Cusum => "cusum",
        }
    }

    /// The algorithms a run uses for a series of `code`: EARS C1–C3 at R's
    /// default levels, the percentile method at the code's threshold, CUSUM.
    pub fn standard(code: &str) -> [Algo; 5] {
        use yilian_analytics::surveillance::EarsMethod;
        [
            Algo::Ears(EarsMethod::C1, EarsMethod::C1.default_alpha()),
            Algo::Ears(EarsMethod::C2, EarsMethod::C2.default_alpha()),
            Algo::Ears(EarsMethod::C3, EarsMethod::C3.default_alpha()),
            Algo::Percentile(yilian_domain::surveillance::percentile_for(code)),
            Algo::Cusum,
        ]
    }

    /// Its alarms on days `from_day..` of `counts` (index 0 = `start`).
    pub fn alarms(self, start: NaiveDate, counts: &[f64], from_day: usize) -> Vec<Alarm> {
        use yilian_analytics::surveillance::{
            CusumParams, EarsParams, PercentileParams, cusum, ears_from, moving_percentile,
        };
        let name = self.name();
        match self {
            Algo::Ears(method, alpha) => {
                let p = EarsParams {
                    alpha,
                    min_sigma: yilian_analytics::surveillance::ears::FLAT_BASELINE_SIGMA,
                    ..EarsParams::new(method)
                };
                // Only the scored days (and their baselines) are computed.
                ears_from(counts, &p, from_day)
                    .into_iter()
                    .filter(|x| x.alarm)
                    .map(|x| Alarm::at(name, x.day, x.observed, x.upperbound))
                    .collect()
            }
            Algo::Percentile(percentile) => {
                let pp = PercentileParams {
                    years: yilian_domain::surveillance::PERCENTILE_YEARS,
                    percentile,
                    min_count: 1.0,
                    season: None,
                };
                (from_day..counts.len())
                    .filter_map(|day| {
                        let date = start + chrono::Duration::days(day as i64);
                        let x = moving_percentile(start, counts, date, &pp)?;
                        x.alarm
                            .then_some(Alarm::at(name, day, x.current, x.threshold))
                    })
                    .collect()
            }
            Algo::Cusum => cusum(counts, &CusumParams::default())
                .into_iter()
                .filter(|x| x.alarm && x.day >= from_day)
                .map(|x| Alarm::at(name, x.day, x.observed, x.upperbound))
                .collect(),
        }
    }
}

/// Runs the standard algorithms of a series of `code` over `counts` (index
/// 0 = `start`) and returns the alarms on days `from_day..`, each with its
/// day's threshold.
pub fn detect(start: NaiveDate, counts: &[f64], from_day: usize, code: &str) -> Vec<Alarm> {
    Algo::standard(code)
        .into_iter()
        .flat_map(|a| a.alarms(start, counts, from_day))
        .collect()
}

/// What a run did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunOutcome {
    pub date: String,
    pub series: usize,
    pub alarms: usize,
    pub raised: u64,
    pub multipoint: usize,
    pub scan_clusters: usize,
    pub elapsed_ms: u128,
}

/// Days of history a run reads: the percentile method's years plus margin.
const HISTORY_DAYS: i64 = 366 * yilian_domain::surveillance::PERCENTILE_YEARS as i64 + 40;
/// Days the scan looks back over (its study period).
pub const SCAN_DAYS: usize = 30;

/// 预警运算 — runs every algorithm over the caller's area for `date`.
pub async fn run_day(
    store: &Store,
    p: &Principal,
    date: NaiveDate,
    today: NaiveDate,
) -> ApiResult<RunOutcome> {
    require(p, Action::ManageSignals)?;
    if date > today {
        return Err(SurveillanceError::FutureDate { date, today }.into());
    }
    run_area(store, &area(p)?, date).await
}

/// The run for a region prefix (the CLI's `surveil run`).
pub async fn run_area(store: &Store, prefix: &str, date: NaiveDate) -> ApiResult<RunOutcome> {
    use std::collections::BTreeMap;
    use yilian_analytics::surveillance::{
        ChannelSignal, ScanParams, multipoint, space_time_permutation,
    };
    let started = std::time::Instant::now();
    let start = date - chrono::Duration::days(HISTORY_DAYS);
    let len = (date - start).num_days() as usize + 1;
    let (rows, towns) = {
        let mut c = store.read().await?;
        (
            store::counts_between(&mut c, &start.to_string(), &date.to_string()).await?,
            store::townships(&mut c, prefix).await?,
        )
    };
    let place: BTreeMap<&str, usize> = towns
        .iter()
        .enumerate()
        .map(|(i, t)| (t.0.as_str(), i))
        .collect();
    let mut series: BTreeMap<(usize, String, String), Vec<f64>> = BTreeMap::new();
    for r in &rows {
        let Some(&i) = place.get(r.township_code.as_str()) else {
            continue;
        };
        let Ok(d) = NaiveDate::parse_from_str(&r.date, "%Y-%m-%d") else {
            continue;
        };
        let v = series
            .entry((i, r.channel.clone(), r.code.clone()))
            .or_insert_with(|| vec![0.0; len]);
        if let Some(slot) = v.get_mut((d - start).num_days() as usize) {
            *slot = r.count as f64;
        }
    }
    let last = len - 1;
    // Per series: alarms of the last three days (multi-point needs the window).
    let window = yilian_domain::surveillance::MULTIPOINT_WINDOW_DAYS;
    let mut signals: Vec<store::NewSignal> = Vec::new();
    let mut channel_signals = Vec::new();
    let mut alarms = 0;
    for ((i, channel, code), counts) in &series {
        for a in detect(start, counts, last + 1 - window.min(len), code) {
            channel_signals.push(ChannelSignal {
                channel: channel.clone(),
                place: *i,
                day: a.day,
            });
            if a.day == last {
                alarms += 1;
                signals.push(store::NewSignal {
                    raised_on: date.to_string(),
                    township_code: towns[*i].0.clone(),
                    channel: channel.clone(),
                    code: code.clone(),
                    algorithm: a.algorithm.into(),
                    observed: a.observed,
                    threshold: a.threshold,
                    strength: 1,
                    detail: "{}".into(),
                });
            }
        }
    }
    // 多点触发: neighbours are the nearest townships (by coordinates, ≤ 3).
    let coords: Vec<(f64, f64)> = towns
        .iter()
        .map(|t| (t.2.unwrap_or(0.0), t.3.unwrap_or(0.0)))
        .collect();
    let neighbours: Vec<Vec<usize>> = (0..towns.len())
        .map(|i| {
            let mut by: Vec<(f64, usize)> = (0..towns.len())
                .filter(|j| *j != i)
                .map(|j| {
                    (
                        (coords[i].0 - coords[j].0).hypot(coords[i].1 - coords[j].1),
                        j,
                    )
                })
                .collect();
            by.sort_by(|a, b| a.0.total_cmp(&b.0));
            by.into_iter().take(3).map(|x| x.1).collect()
        })
        .collect();
    let multi = multipoint(
        &channel_signals,
        &neighbours,
        window,
        yilian_domain::surveillance::MULTIPOINT_MIN_CHANNELS,
    );
    let mut multipoints = 0;
    for m in multi.iter().filter(|m| m.day == last) {
        multipoints += 1;
        for s in signals
            .iter_mut()
            .filter(|s| s.township_code == towns[m.place].0)
        {
            s.strength = s.strength.max(m.strength as i64);
        }
        signals.push(store::NewSignal {
            raised_on: date.to_string(),
            township_code: towns[m.place].0.clone(),
            channel: "multi".into(),
            code: m.channels.join("+"),
            algorithm: "multipoint".into(),
            observed: m.strength as f64,
            threshold: yilian_domain::surveillance::MULTIPOINT_MIN_CHANNELS as f64,
            strength: m.strength as i64,
            detail: serde_json::json!({
                "channels": m.channels,
                "places": m.places.iter().map(|p| towns[*p].0.clone()).collect::<Vec<_>>(),
            })
            .to_string(),
        });
    }
    // The space-time permutation scan per (channel, code) over the last 30 days.
    let mut clusters = 0;
    let mut per_code: BTreeMap<(String, String), Vec<Vec<u32>>> = BTreeMap::new();
    let from = len.saturating_sub(SCAN_DAYS);
    for ((i, channel, code), counts) in &series {
        let m = per_code
            .entry((channel.clone(), code.clone()))
            .or_insert_with(|| vec![vec![0; len - from]; towns.len()]);
        for (d, v) in counts[from..].iter().enumerate() {
            m[*i][d] = *v as u32;
        }
    }
    let params = ScanParams {
        seed: date
            .to_string()
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
        ..ScanParams::default()
    };
    for ((channel, code), cases) in &per_code {
        let Some(c) = space_time_permutation(cases, &coords, &params) else {
            continue;
        };
        if c.p_value >= 0.05 || c.end_day + 1 < cases.first().map_or(0, Vec::len) {
            continue;
        }
        clusters += 1;
        signals.push(store::NewSignal {
            raised_on: date.to_string(),
            township_code: towns[c.centre].0.clone(),
            channel: channel.clone(),
            code: code.clone(),
            algorithm: "scan".into(),
            observed: c.observed,
            threshold: c.expected,
            strength: 1,
            detail: serde_json::json!({
                "p_value": c.p_value, "llr": c.llr,
                "days": c.end_day + 1 - c.start_day,
                "townships": c.locations.iter().map(|l| towns[*l].0.clone()).collect::<Vec<_>>(),
            })
            .to_string(),
        });
    }
    let mut tx = store.write().await?;
    let raised = store::raise(&mut tx, &signals).await?;
    tx.commit().await?;
    Ok(RunOutcome {
        date: date.to_string(),
        series: series.len(),
        alarms,
        raised,
        multipoint: multipoints,
        scan_clusters: clusters,
        elapsed_ms: started.elapsed().as_millis(),
    })
}
