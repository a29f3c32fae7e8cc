//! 监测预警 — stored daily counts, case reports, signals and events
//! (migration 0009). Rules: `yilian_domain::surveillance`; algorithms:
//! `yilian_analytics::surveillance`.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

/// A validated daily count to store.
#[derive(Debug, Clone)]
pub struct NewCount {
    pub township_code: String,
    pub channel: String,
    pub code: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub count: i64,
}

/// Stores counts; a (township, channel, code, date) already stored is
/// replaced (a corrected day).
pub async fn upsert_counts(
    conn: &mut Conn,
    rows: &[NewCount],
    source: &str,
) -> Result<(), StoreError> {
    let now = now_text();
    for chunk in rows.chunks(crate::bulk::BATCH) {
        let mut q = Sql::new(
            "INSERT INTO surveillance_counts (township_code, channel, code, date, count, source, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                r.township_code.as_str().into(),
                r.channel.as_str().into(),
                r.code.as_str().into(),
                r.date.as_str().into(),
                r.count.into(),
                source.into(),
                now.as_str().into(),
            ]);
            q.push(")");
        }
        q.push(
            " ON CONFLICT (township_code, channel, code, date) DO UPDATE SET count = excluded.count, \
             source = excluded.source, updated_at = excluded.updated_at",
        );
        q.execute(conn).await?;
    }
    Ok(())
}

/// A notifiable-disease case report to store.
#[derive(Debug, Clone, Default)]
pub struct NewCaseReport {
    pub disease: String,
    pub onset_date: String,
    pub township_code: String,
    pub address: String,
    pub resident_id: Option<i64>,
    pub reported_by: Option<i64>,
    pub institution_id: Option<i64>,
}

/// Stores case reports and adds each to the day's `case_report` count.
pub async fn add_case_reports(
    conn: &mut Conn,
    rows: &[NewCaseReport],
) -> Result<Vec<i64>, StoreError> {
    let now = now_text();
    let mut ids = Vec::with_capacity(rows.len());
    for r in rows {
        let mut q = Sql::new(
            "INSERT INTO case_reports (disease, onset_date, township_code, address, resident_id, reported_by, \
             institution_id, created_at) VALUES (",
        );
        q.bind_list([
            r.disease.as_str().into(),
            r.onset_date.as_str().into(),
            r.township_code.as_str().into(),
            r.address.as_str().into(),
            r.resident_id.into(),
            r.reported_by.into(),
            r.institution_id.into(),
            now.as_str().into(),
        ])
        .push(") RETURNING id");
        ids.push(q.scalar_i64(conn).await?);
    }
    // One count increment per (township, disease, onset day).
    let mut per: std::collections::BTreeMap<(&str, &str, &str), i64> = Default::default();
    for r in rows {
        *per.entry((&r.township_code, &r.disease, &r.onset_date))
            .or_default() += 1;
    }
    for ((township, disease, date), n) in per {
        let mut q = Sql::new(
            "INSERT INTO surveillance_counts (township_code, channel, code, date, count, source, updated_at) VALUES (",
        );
        q.bind_list([
            township.into(),
            "case_report".into(),
            disease.into(),
            date.into(),
            n.into(),
            "case_report".into(),
            now.as_str().into(),
        ])
        .push(") ON CONFLICT (township_code, channel, code, date) DO UPDATE SET count = surveillance_counts.count + ")
        .bind(n)
        .push(", updated_at = excluded.updated_at");
        q.execute(conn).await?;
    }
    Ok(ids)
}

/// A stored daily count.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CountRow {
    pub township_code: String,
    pub channel: String,
    pub code: String,
    pub date: String,
    pub count: i64,
}

/// Every count dated in `[from, to]` (inclusive), ordered by series then date.
pub async fn counts_between(
    conn: &mut Conn,
    from: &str,
    to: &str,
) -> Result<Vec<CountRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT township_code, channel, code, date, count FROM surveillance_counts WHERE date >= ",
    );
    q.bind(from)
        .push(" AND date <= ")
        .bind(to)
        .push(" ORDER BY township_code, channel, code, date");
    q.fetch_all(conn).await
}

/// One series' counts in `[from, to]`.
pub async fn series(
    conn: &mut Conn,
    township: &str,
    channel: &str,
    code: &str,
    from: &str,
    to: &str,
) -> Result<Vec<CountRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT township_code, channel, code, date, count FROM surveillance_counts WHERE township_code = ",
    );
    q.bind(township)
        .push(" AND channel = ")
        .bind(channel)
        .push(" AND code = ")
        .bind(code)
        .push(" AND date >= ")
        .bind(from)
        .push(" AND date <= ")
        .bind(to)
        .push(" ORDER BY date");
    q.fetch_all(conn).await
}

/// The townships under a region prefix: (code, name, lon, lat).
pub async fn townships(
    conn: &mut Conn,
    prefix: &str,
) -> Result<Vec<(String, String, Option<f64>, Option<f64>)>, StoreError> {
    let mut w = Where::new();
    w.and("level = 'township'", []);
    w.prefix("code", prefix);
    let mut q = Sql::new("SELECT code, name, lon, lat FROM regions");
    w.append_to(&mut q);
    q.push(" ORDER BY code");
    q.fetch_all(conn).await
}

// ------------------------------------------------------------------ signals

/// A signal to raise.
#[derive(Debug, Clone, Default)]
pub struct NewSignal {
    pub raised_on: String,
    pub township_code: String,
    pub channel: String,
    pub code: String,
    pub algorithm: String,
    pub observed: f64,
    pub threshold: f64,
    pub strength: i64,
    /// JSON.
    pub detail: String,
}

/// Raises signals; one already raised for the same day, place, series and
/// algorithm is kept as it is (a re-run raises nothing twice). Returns how
/// many were new.
pub async fn raise(conn: &mut Conn, rows: &[NewSignal]) -> Result<u64, StoreError> {
    let now = now_text();
    let mut added = 0;
    for chunk in rows.chunks(crate::bulk::BATCH / 2) {
        let mut q = Sql::new(
            "INSERT INTO signals (raised_on, township_code, channel, code, algorithm, observed, threshold, strength, \
             detail, state, raised_at) VALUES ",
        );
        for (i, s) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                s.raised_on.as_str().into(),
                s.township_code.as_str().into(),
                s.channel.as_str().into(),
                s.code.as_str().into(),
                s.algorithm.as_str().into(),
                Val::Real(s.observed),
                Val::Real(s.threshold),
                s.strength.into(),
                s.detail.as_str().into(),
                "raised".into(),
                now.as_str().into(),
            ]);
            q.push(")");
        }
        q.push(" ON CONFLICT (raised_on, township_code, channel, code, algorithm) DO NOTHING");
        added += q.execute(conn).await?;
    }
    Ok(added)
}

/// A stored signal with its township's name.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SignalRow {
    pub id: i64,
    pub raised_on: String,
    pub township_code: String,
    pub township_name: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub channel: String,
    pub code: String,
    pub algorithm: String,
    pub observed: f64,
    pub threshold: f64,
    pub strength: i64,
    pub detail: String,
    pub state: String,
    pub raised_at: String,
    pub verifying_by: Option<i64>,
    pub verifying_at: Option<String>,
    pub closed_by: Option<i64>,
    pub closed_at: Option<String>,
    pub note: String,
    pub event_id: Option<i64>,
    pub version: i64,
}

const SIGNAL_COLS: &str = "s.id, s.raised_on, s.township_code, g.name AS township_name, g.lon, g.lat, s.channel, s.code, \
     s.algorithm, s.observed, s.threshold, s.strength, s.detail, s.state, s.raised_at, s.verifying_by, s.verifying_at, \
     s.closed_by, s.closed_at, s.note, s.event_id, s.version";
const SIGNAL_FROM: &str = "signals s JOIN regions g ON g.code = s.township_code";

/// Which signals a list shows.
#[derive(Debug, Clone, Default)]
pub struct SignalFilter {
    pub region_prefix: Option<String>,
    pub state: Option<String>,
    pub channel: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

pub async fn list_signals(
    conn: &mut Conn,
    f: &SignalFilter,
    paging: Paging,
) -> Result<Page<SignalRow>, StoreError> {
    let mut w = Where::new();
    if let Some(p) = &f.region_prefix {
        w.prefix("s.township_code", p);
    }
    if let Some(v) = &f.state {
        w.and("s.state = ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.channel {
        w.and("s.channel = ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.from {
        w.and("s.raised_on >= ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.to {
        w.and("s.raised_on <= ?", [v.as_str().into()]);
    }
    w.page(
        conn,
        SIGNAL_COLS,
        SIGNAL_FROM,
        "s.raised_on DESC, s.strength DESC, s.id DESC",
        paging,
    )
    .await
}

pub async fn get_signal(conn: &mut Conn, id: i64) -> Result<Option<SignalRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {SIGNAL_COLS} FROM {SIGNAL_FROM} WHERE s.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// A move of a signal: from `from` to `to` if still at `version`, by whom,
/// when (RFC 3339) and with which note (empty keeps the earlier note).
#[derive(Debug, Clone, Copy)]
pub struct SignalMove<'a> {
    pub id: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub by: i64,
    pub at: &'a str,
    pub note: &'a str,
    pub version: i64,
}

/// Applies a move; who and when are stamped in the step's columns. False
/// when the signal moved meanwhile.
pub async fn move_signal(conn: &mut Conn, m: &SignalMove<'_>) -> Result<bool, StoreError> {
    let (who, when) = if m.to == "verifying" {
        ("verifying_by = ", ", verifying_at = ")
    } else {
        ("closed_by = ", ", closed_at = ")
    };
    let mut q = Sql::new("UPDATE signals SET state = ");
    q.bind(m.to)
        .push(", ")
        .push(who)
        .bind(m.by)
        .push(when)
        .bind(m.at)
        .push(", note = CASE WHEN ")
        .bind(m.note)
        .push(" = '' THEN note ELSE ")
        .bind(m.note)
        .push(" END, version = version + 1 WHERE id = ")
        .bind(m.id)
        .push(" AND state = ")
        .bind(m.from)
        .push(" AND version = ")
        .bind(m.version);
    Ok(q.execute(conn).await? == 1)
}

/// Opens the event of a confirmed signal and links the case reports of its
/// township and disease with onset in `[from, to]`; returns the event id.
pub async fn open_event(
    conn: &mut Conn,
    s: &SignalRow,
    title: &str,
    by: i64,
    from: &str,
    to: &str,
) -> Result<i64, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO surveillance_events (signal_id, title, township_code, channel, code, opened_by, opened_at) VALUES (",
    );
    q.bind_list([
        s.id.into(),
        title.into(),
        s.township_code.as_str().into(),
        s.channel.as_str().into(),
        s.code.as_str().into(),
        by.into(),
        now_text().into(),
    ])
    .push(") RETURNING id");
    let id = q.scalar_i64(conn).await?;
    let mut link = Sql::new("INSERT INTO event_cases (event_id, case_report_id) SELECT ");
    link.bind(id)
        .push(", c.id FROM case_reports c WHERE c.township_code = ")
        .bind(s.township_code.as_str())
        .push(" AND c.onset_date >= ")
        .bind(from)
        .push(" AND c.onset_date <= ")
        .bind(to);
    if s.channel == "case_report" {
        link.push(" AND c.disease = ").bind(s.code.as_str());
    }
    link.execute(conn).await?;
    let mut set = Sql::new("UPDATE signals SET event_id = ");
    set.bind(id).push(" WHERE id = ").bind(s.id);
    set.execute(conn).await?;
    Ok(id)
}

/// A stored event.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct EventRow {
    pub id: i64,
    pub signal_id: i64,
    pub title: String,
    pub township_code: String,
    pub channel: String,
    pub code: String,
    pub opened_by: Option<i64>,
    pub opened_at: String,
    pub note: String,
}

pub async fn get_event(conn: &mut Conn, id: i64) -> Result<Option<EventRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT id, signal_id, title, township_code, channel, code, opened_by, opened_at, note FROM surveillance_events WHERE id = ",
    );
    q.bind(id);
    q.fetch_optional(conn).await
}

/// A case report linked to an event.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CaseRow {
    pub id: i64,
    pub disease: String,
    pub onset_date: String,
    pub township_code: String,
    pub address: String,
    pub resident_id: Option<i64>,
    pub created_at: String,
}

pub async fn event_cases(conn: &mut Conn, event_id: i64) -> Result<Vec<CaseRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT c.id, c.disease, c.onset_date, c.township_code, c.address, c.resident_id, c.created_at \
         FROM event_cases x JOIN case_reports c ON c.id = x.case_report_id WHERE x.event_id = ",
    );
    q.bind(event_id).push(" ORDER BY c.onset_date, c.id");
    q.fetch_all(conn).await
}

/// Minutes from raised to taken up, of the signals taken up in `[from, to]`
/// (the response clock), as (raised_at, verifying_at) pairs (RFC 3339 UTC).
pub async fn response_times(
    conn: &mut Conn,
    from: &str,
    to: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut q = Sql::new(
        "SELECT raised_at, verifying_at FROM signals WHERE verifying_at IS NOT NULL AND raised_on >= ",
    );
    q.bind(from).push(" AND raised_on <= ").bind(to);
    q.fetch_all(conn).await
}
