//! Registry CSV export and import. Import validates every row with the same
//! rules as the API and reports bad rows by line; without `--skip-invalid` a
//! file with any bad row changes nothing (one transaction, rolled back).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use yilian_domain::access::Principal;
use yilian_domain::access::ResidentScope;
use yilian_domain::resident::ResidentInput;
use yilian_server::api::registry::{
    InstitutionInput, PractitionerInput, RegionInput, institution_data, practitioner_data,
    region_data,
};
use yilian_server::error::ApiError;
use yilian_server::service::{console_principal, register_resident_in};
use yilian_server::state::{find_assets, load_region_table, today};
use yilian_store::registry::{self, InstitutionFilter, PractitionerFilter, RegionFilter};
use yilian_store::residents::ResidentFilter;
use yilian_store::sqlx::Acquire;
use yilian_store::{Conn, Paging, Store, residents};

use crate::{CliResult, Registry};

#[derive(Debug, Serialize, Deserialize)]
struct RegionCsv {
    code: String,
    name: String,
    lon: Option<f64>,
    lat: Option<f64>,
    population: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct InstitutionCsv {
    code: String,
    name: String,
    kind: String,
    grade: Option<String>,
    ownership: String,
    region_code: String,
    address: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    /// `general=120;icu=8`
    beds: Option<String>,
    /// `licensed_physician=40;registered_nurse=60`
    staff: Option<String>,
    /// `fever_clinic;tcm_hall`
    services: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PractitionerCsv {
    code: String,
    name: String,
    sex: String,
    profession: String,
    specialty: Option<String>,
    is_gp: bool,
    is_tcm: bool,
    phone: Option<String>,
    /// Institution codes, `;`-separated; the first is the main site.
    sites: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ResidentCsv {
    id_number: String,
    name: String,
    sex: Option<String>,
    birth_date: Option<String>,
    phone: String,
    region_code: String,
    address: Option<String>,
    household_code: Option<String>,
    insurance: Option<String>,
    /// `hypertension;diabetes_t2`
    tags: Option<String>,
}

fn join_counts(m: &BTreeMap<String, i64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn split(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_counts(field: &str, s: &Option<String>) -> Result<BTreeMap<String, i64>, String> {
    split(s)
        .into_iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{field}: expected key=count, got {kv:?}"))?;
            let n = v
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("{field}: {v:?} is not a count"))?;
            Ok((k.trim().to_string(), n))
        })
        .collect()
}

const PAGE: i64 = 500;

/// Writes one registry as CSV; returns the number of rows.
pub async fn export(store: &Store, what: Registry, out: Box<dyn Write>) -> CliResult<usize> {
    let mut w = csv::Writer::from_writer(out);
    let mut c = store.read().await?;
    let mut n = 0usize;
    let mut offset = 0;
    loop {
        let paging = Paging::new(Some(PAGE), Some(offset));
        let got = match what {
            Registry::Regions => {
                let p = registry::list_regions(&mut c, &RegionFilter::default(), paging).await?;
                for r in &p.items {
                    w.serialize(RegionCsv {
                        code: r.code.clone(),
                        name: r.name.clone(),
                        lon: r.lon,
                        lat: r.lat,
                        population: r.population,
                    })?;
                }
                p.items.len()
            }
            Registry::Institutions => {
                let p = registry::list_institutions(&mut c, &InstitutionFilter::default(), paging)
                    .await?;
                for i in &p.items {
                    w.serialize(InstitutionCsv {
                        code: i.code.clone(),
                        name: i.name.clone(),
                        kind: i.kind.clone(),
                        grade: i.grade.clone(),
                        ownership: i.ownership.clone(),
                        region_code: i.region_code.clone(),
                        address: Some(i.address.clone()),
                        lon: i.lon,
                        lat: i.lat,
                        beds: Some(join_counts(&i.beds.0)),
                        staff: Some(join_counts(&i.staff.0)),
                        services: Some(i.services.0.join(";")),
                    })?;
                }
                p.items.len()
            }
            Registry::Practitioners => {
                let p =
                    registry::list_practitioners(&mut c, &PractitionerFilter::default(), paging)
                        .await?;
                for row in &p.items {
                    let full = registry::get_practitioner(&mut c, row.id)
                        .await?
                        .ok_or("practitioner vanished")?;
                    w.serialize(PractitionerCsv {
                        code: row.code.clone(),
                        name: row.name.clone(),
                        sex: row.sex.clone(),
                        profession: row.profession.clone(),
                        specialty: row.specialty.clone(),
                        is_gp: row.is_gp.0,
                        is_tcm: row.is_tcm.0,
                        phone: Some(row.phone.clone()),
                        sites: full
                            .sites
                            .iter()
                            .map(|s| s.code.clone())
                            .collect::<Vec<_>>()
                            .join(";"),
                    })?;
                }
                p.items.len()
            }
            Registry::Residents => {
                let p = residents::search(
                    &mut c,
                    &ResidentFilter::default(),
                    &ResidentScope::All,
                    paging,
                )
                .await?;
                for r in &p.items {
                    w.serialize(ResidentCsv {
                        id_number: r.id_number.clone(),
                        name: r.name.clone(),
                        sex: Some(r.sex.clone()),
                        birth_date: Some(r.birth_date.clone()),
                        phone: r.phone.clone(),
                        region_code: r.region_code.clone(),
                        address: Some(r.address.clone()),
                        household_code: r.household_code.clone(),
                        insurance: Some(r.insurance.clone()),
                        tags: Some(r.tags.replace(',', ";")),
                    })?;
                }
                p.items.len()
            }
        };
        n += got;
        offset += PAGE;
        if (got as i64) < PAGE {
            break;
        }
    }
    w.flush()?;
    Ok(n)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// (line number in the file, message)
    pub bad: Vec<(u64, String)>,
}

pub(crate) fn api_msg(e: ApiError) -> String {
    format!(
        "{} — {} ({})",
        e.body.code, e.body.message_zh, e.body.message_en
    )
}

async fn import_row(
    conn: &mut Conn,
    p: &Principal,
    what: Registry,
    rec: &csv::StringRecord,
    headers: &csv::StringRecord,
    table: &yilian_domain::region::RegionTable,
) -> Result<(), String> {
    match what {
        Registry::Regions => {
            let r: RegionCsv = rec.deserialize(Some(headers)).map_err(|e| e.to_string())?;
            let input = RegionInput {
                code: r.code,
                name: r.name,
                lon: r.lon,
                lat: r.lat,
                population: r.population,
            };
            let d = region_data(conn, p, &input).await.map_err(api_msg)?;
            registry::insert_region(conn, &d)
                .await
                .map_err(|e| api_msg(e.into()))?;
        }
        Registry::Institutions => {
            let r: InstitutionCsv = rec.deserialize(Some(headers)).map_err(|e| e.to_string())?;
            let input = InstitutionInput {
                beds: parse_counts("beds", &r.beds)?,
                staff: parse_counts("staff", &r.staff)?,
                services: split(&r.services),
                code: r.code,
                name: r.name,
                kind: r.kind,
                grade: r.grade,
                ownership: r.ownership,
                region_code: r.region_code,
                address: r.address,
                lon: r.lon,
                lat: r.lat,
            };
            let d = institution_data(conn, p, &input).await.map_err(api_msg)?;
            registry::insert_institution(conn, &d)
                .await
                .map_err(|e| api_msg(e.into()))?;
        }
        Registry::Practitioners => {
            let r: PractitionerCsv = rec.deserialize(Some(headers)).map_err(|e| e.to_string())?;
            let input = PractitionerInput {
                sites: split(&Some(r.sites)),
                code: r.code,
                name: r.name,
                sex: r.sex,
                profession: r.profession,
                specialty: r.specialty.filter(|s| !s.is_empty()),
                is_gp: r.is_gp,
                is_tcm: r.is_tcm,
                phone: r.phone,
            };
            let d = practitioner_data(conn, p, &input).await.map_err(api_msg)?;
            registry::insert_practitioner(conn, &d)
                .await
                .map_err(|e| api_msg(e.into()))?;
        }
        Registry::Residents => {
            let r: ResidentCsv = rec.deserialize(Some(headers)).map_err(|e| e.to_string())?;
            let input = ResidentInput {
                tags: Some(split(&r.tags)),
                id_number: r.id_number,
                name: r.name,
                phone: r.phone,
                sex: r.sex,
                birth_date: r.birth_date,
                region_code: r.region_code,
                address: r.address,
                household_code: r.household_code,
                insurance: r.insurance,
            };
            register_resident_in(conn, table, p, &input, today())
                .await
                .map_err(api_msg)?;
        }
    }
    Ok(())
}

/// Imports a CSV file in one transaction; each row in its own savepoint so a
/// bad row can be skipped without losing the good ones.
pub async fn import(
    store: &Store,
    what: Registry,
    file: &Path,
    skip_invalid: bool,
) -> CliResult<ImportReport> {
    let mut reader = csv::Reader::from_path(file)?;
    let headers = reader.headers()?.clone();
    let table = load_region_table(find_assets().as_deref());
    let p = console_principal();
    let mut report = ImportReport::default();
    let mut tx = store.write().await?;
    let pb = ProgressBar::new_spinner();
    for rec in reader.records() {
        pb.inc(1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.bad.push((line, e.to_string()));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let mut sp = (&mut *tx).begin().await?;
        match import_row(&mut sp, &p, what, &rec, &headers, &table).await {
            Ok(()) => {
                sp.commit().await?;
                report.imported += 1;
            }
            Err(msg) => {
                sp.rollback().await?;
                report.bad.push((line, msg));
            }
        }
    }
    pb.finish_and_clear();
    if report.bad.is_empty() || skip_invalid {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
        report.imported = 0;
    }
    Ok(report)
}
