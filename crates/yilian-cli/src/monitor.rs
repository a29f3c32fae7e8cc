//! `yilian indicators` and `yilian evaluate`: the monitoring service's plan
//! report and performance evaluation from the console (as the platform
//! administrator), as a table, CSV or JSON.

use std::path::Path;

use chrono::NaiveDate;
use clap::ValueEnum;
use yilian_domain::Explain as _;
use yilian_domain::plan::Plan;
use yilian_server::monitoring;
use yilian_server::service::console_principal;
use yilian_store::Store;

use crate::CliResult;
use crate::csvio::api_msg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

/// Loads a plan file (errors name the file, line and field), evaluates it
/// for the store's county on `at` and prints it.
pub async fn indicators(
    store: &Store,
    file: &Path,
    at: NaiveDate,
    format: OutputFormat,
) -> CliResult {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?;
    let plan = Plan::from_toml(&name, &text)
        .map_err(|e| format!("{} — {}", e.message_en(), e.message_zh()))?;
    let report = monitoring::plan_report(store, &console_principal(), &plan, at)
        .await
        .map_err(api_msg)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record([
                "code",
                "name",
                "unit",
                "nature",
                "direction",
                "baseline_year",
                "baseline",
                "target_year",
                "target",
                "actual",
                "numerator",
                "denominator",
                "status",
                "alarm",
            ])?;
            for r in &report.rows {
                w.write_record([
                    r.code.clone(),
                    r.name.clone(),
                    r.unit.clone(),
                    r.nature.clone(),
                    r.direction.clone(),
                    r.baseline_year.map(|y| y.to_string()).unwrap_or_default(),
                    num(r.baseline),
                    r.target_year.to_string(),
                    num(r.target),
                    num(r.actual),
                    r.numerator.to_string(),
                    r.denominator.to_string(),
                    r.status.clone(),
                    r.alarm.to_string(),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            println!(
                "{} — {} on {} (population {})",
                report.plan, report.region_code, report.at, report.population
            );
            println!(
                "{:<34} {:>10} {:>4} {:>10} {:>10}  status",
                "indicator", "actual", "dir", "target", "year"
            );
            for r in &report.rows {
                println!(
                    "{:<34} {:>10} {:>4} {:>10} {:>10}  {}{}",
                    r.code,
                    num(r.actual),
                    r.direction,
                    num(r.target),
                    r.target_year,
                    r.status,
                    if r.alarm { "  ALARM (binding)" } else { "" }
                );
            }
            println!("{} alarm(s)", report.alarms);
        }
    }
    Ok(())
}

/// The performance evaluation of `year`: consortia and institutions ranked.
pub async fn evaluate(store: &Store, year: i32, at: NaiveDate, format: OutputFormat) -> CliResult {
    let started = std::time::Instant::now();
    let e = monitoring::evaluate(store, &console_principal(), year, at)
        .await
        .map_err(api_msg)?;
    let ms = started.elapsed().as_millis();
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(["kind", "id", "name", "rank", "total"])?;
            for s in e.consortia.iter().chain(&e.institutions) {
                w.write_record([
                    s.scope.kind.clone(),
                    s.scope.id.clone(),
                    s.scope.name.clone(),
                    s.rank.to_string(),
                    format!("{:.2}", s.total),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            println!("{} — county {}, {}", e.scorecard, e.county, e.year);
            for (title, list) in [
                ("consortia", &e.consortia),
                ("institutions", &e.institutions),
            ] {
                println!("{title}:");
                for s in list {
                    println!("  {:>3}. {:<30} {:>6.1}", s.rank, s.scope.name, s.total);
                }
            }
            eprintln!("evaluated in {ms} ms");
        }
    }
    Ok(())
}
