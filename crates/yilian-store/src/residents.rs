//! Residents — the master patient index: registration with a health card id
//! issued once, scoped search, demographics update.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use yilian_domain::access::ResidentScope;
use yilian_domain::health_card::HealthCardId;
use yilian_domain::resident::{ValidResident, encode_tags};

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ResidentRow {
    pub id: i64,
    pub id_number: String,
    pub health_card_id: String,
    pub name: String,
    pub name_pinyin: String,
    pub name_initials: String,
    pub sex: String,
    pub birth_date: String,
    pub phone: String,
    pub region_code: String,
    pub address: String,
    pub household_code: Option<String>,
    pub insurance: String,
    pub tags: String,
    pub registered_at: Option<i64>,
    pub merged_into: Option<i64>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) const RESIDENT_COLS: &str = "id, id_number, health_card_id, name, name_pinyin, name_initials, sex, birth_date, phone, \
     region_code, address, household_code, insurance, tags, registered_at, merged_into, version, created_at, updated_at";

/// Reserves `n` consecutive health-card serials for `county6`; returns the
/// first. Atomic on both backends (an upsert that returns the new high mark).
pub async fn allocate_card_serials(
    conn: &mut Conn,
    county6: &str,
    n: i64,
) -> Result<i64, StoreError> {
    let mut q = Sql::new("INSERT INTO card_serials (county, next_serial) VALUES (");
    q.bind(county6).push(", ").bind(n);
    q.push(") ON CONFLICT (county) DO UPDATE SET next_serial = card_serials.next_serial + ")
        .bind(n);
    q.push(" RETURNING next_serial");
    Ok(q.scalar_i64(conn).await? - n + 1)
}

/// The card id for a serial: the issuing county is the resident's county.
pub fn card_for(county6: &str, serial: i64) -> Result<HealthCardId, StoreError> {
    HealthCardId::issue(county6, serial.max(0) as u64)
        .ok_or_else(|| StoreError::Corrupt(format!("card serial {serial} out of range")))
}

pub(crate) fn resident_vals(r: &ValidResident) -> [Val; 12] {
    [
        r.id_number.as_str().into(),
        r.name.name.clone().into(),
        r.name.pinyin.clone().into(),
        r.name.initials.clone().into(),
        r.id_number.sex().as_str().into(),
        r.id_number.birth_date().to_string().into(),
        r.phone.as_str().into(),
        r.region_code.as_str().into(),
        r.address.clone().into(),
        r.household_code.clone().into(),
        r.insurance.as_str().into(),
        encode_tags(&r.tags).into(),
    ]
}

pub(crate) const RESIDENT_INSERT_COLS: &str = "id_number, name, name_pinyin, name_initials, sex, birth_date, phone, region_code, \
     address, household_code, insurance, tags, health_card_id, registered_at, created_at, updated_at";

/// Registers a resident and issues their health card id, in the caller's
/// transaction. A duplicate identity number is `Unique("residents.id_number")`.
pub async fn insert(
    conn: &mut Conn,
    r: &ValidResident,
    registered_at: Option<i64>,
) -> Result<ResidentRow, StoreError> {
    let county = r.region_code.county_part();
    let serial = allocate_card_serials(conn, county, 1).await?;
    let card = card_for(county, serial)?;
    let now = now_text();
    let mut q = Sql::new(&format!(
        "INSERT INTO residents ({RESIDENT_INSERT_COLS}) VALUES ("
    ));
    q.bind_list(resident_vals(r).into_iter().chain([
        card.as_str().into(),
        registered_at.into(),
        now.clone().into(),
        now.into(),
    ]));
    q.push(&format!(") RETURNING {RESIDENT_COLS}"));
    q.fetch_one(conn).await
}

/// Corrects a resident's demographics (optimistic: `version` must match).
/// The health card id and registration institution never change.
pub async fn update(
    conn: &mut Conn,
    id: i64,
    version: i64,
    r: &ValidResident,
) -> Result<ResidentRow, StoreError> {
    let cols = [
        "id_number",
        "name",
        "name_pinyin",
        "name_initials",
        "sex",
        "birth_date",
        "phone",
        "region_code",
        "address",
        "household_code",
        "insurance",
        "tags",
    ];
    let mut q = Sql::new("UPDATE residents SET ");
    for (c, v) in cols.iter().zip(resident_vals(r)) {
        q.push(c).push(" = ").bind(v).push(", ");
    }
    q.push("updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id);
    q.push(" AND version = ").bind(version);
    if q.execute(conn).await? == 0 {
        return match get(conn, id).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::VersionConflict { expected: version }),
        };
    }
    get(conn, id).await?.ok_or(StoreError::NotFound)
}

async fn get_by(conn: &mut Conn, col: &str, v: Val) -> Result<Option<ResidentRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE {col} = "
    ));
    q.bind(v);
    q.fetch_optional(conn).await
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<ResidentRow>, StoreError> {
    get_by(conn, "id", id.into()).await
}
pub async fn get_by_id_number(
    conn: &mut Conn,
    id_number: &str,
) -> Result<Option<ResidentRow>, StoreError> {
    get_by(conn, "id_number", id_number.into()).await
}
pub async fn get_by_card(conn: &mut Conn, card: &str) -> Result<Option<ResidentRow>, StoreError> {
    get_by(conn, "health_card_id", card.into()).await
}

/// Residents merged into `survivor` (their records are read through it).
pub async fn merged_into(conn: &mut Conn, survivor: i64) -> Result<Vec<ResidentRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE merged_into = "
    ));
    q.bind(survivor).push(" ORDER BY id");
    q.fetch_all(conn).await
}

/// Search filters; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct ResidentFilter {
    /// Free text: a name prefix (汉字), a pinyin prefix or initials, an
    /// identity number, a health card id or a phone, recognised by shape.
    pub q: Option<String>,
    pub id_number: Option<String>,
    pub health_card_id: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub within: Option<String>,
    pub household_code: Option<String>,
    pub include_merged: bool,
    /// One resident by id (FHIR `_id`).
    pub id: Option<i64>,
    /// Born on or after (`YYYY-MM-DD`).
    pub born_from: Option<String>,
    /// Born before (`YYYY-MM-DD`, exclusive).
    pub born_before: Option<String>,
}

fn scope_clause(w: &mut Where, scope: &ResidentScope) {
    scope_clause_on(w, "", scope);
}

/// Adds the resident scope on a residents table aliased by `alias` (`"r."`).
pub(crate) fn scope_clause_on(w: &mut Where, alias: &str, scope: &ResidentScope) {
    match scope {
        ResidentScope::All => {}
        ResidentScope::Area {
            prefix,
            institution_id,
        } => {
            let vals = [
                Val::from(prefix.as_str()),
                Val::from(crate::prefix_end(prefix)),
                Val::from(institution_id.unwrap_or(-1)),
            ];
            let clause = format!(
                "({alias}region_code >= ? AND {alias}region_code < ?) OR {alias}registered_at = ?"
            );
            w.and(&clause, vals);
        }
        ResidentScope::Only(id) => {
            w.and(&format!("{alias}id = ?"), [(*id).into()]);
        }
        ResidentScope::Nobody => {
            w.and("1 = 0", []);
        }
    }
}

fn free_text_clause(w: &mut Where, q: &str) {
    let q = q.trim();
    let upper = q.to_ascii_uppercase();
    if q.is_empty() {
    } else if q.len() == 18 && q.is_ascii() {
        w.and("id_number = ?", [upper.into()]);
    } else if upper.starts_with('E') && q.len() == 19 && q.is_ascii() {
        w.and("health_card_id = ?", [upper.into()]);
    } else if q.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        w.prefix("phone", q);
    } else if q.is_ascii() {
        let lower = q.to_ascii_lowercase().replace(' ', "");
        let end = crate::prefix_end(&lower);
        w.and(
            "(name_pinyin >= ? AND name_pinyin < ?) OR name_initials = ?",
            [lower.clone().into(), end.into(), lower.into()],
        );
    } else {
        w.prefix("name", q);
    }
}

/// A page of residents visible under `scope`, newest registrations last.
pub async fn search(
    conn: &mut Conn,
    f: &ResidentFilter,
    scope: &ResidentScope,
    paging: Paging,
) -> Result<Page<ResidentRow>, StoreError> {
    let mut w = Where::new();
    scope_clause(&mut w, scope);
    if !f.include_merged {
        w.and("merged_into IS NULL", []);
    }
    if let Some(q) = &f.q {
        free_text_clause(&mut w, q);
    }
    if let Some(v) = &f.id_number {
        w.and("id_number = ?", [v.trim().to_ascii_uppercase().into()]);
    }
    if let Some(v) = &f.health_card_id {
        w.and("health_card_id = ?", [v.trim().to_ascii_uppercase().into()]);
    }
    if let Some(v) = &f.phone {
        w.and("phone = ?", [v.trim().into()]);
    }
    if let Some(v) = &f.name {
        w.and("name = ?", [v.trim().into()]);
    }
    if let Some(v) = &f.within {
        w.prefix("region_code", v);
    }
    if let Some(v) = &f.household_code {
        w.and("household_code = ?", [v.as_str().into()]);
    }
    if let Some(v) = f.id {
        w.and("id = ?", [v.into()]);
    }
    if let Some(v) = &f.born_from {
        w.and("birth_date >= ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.born_before {
        w.and("birth_date < ?", [v.as_str().into()]);
    }
    w.page(conn, RESIDENT_COLS, "residents", "id", paging).await
}

/// Whether a resident is visible under `scope`.
pub fn admits(scope: &ResidentScope, r: &ResidentRow) -> bool {
    scope.admits(r.id, &r.region_code, r.registered_at)
}

/// Number of residents (all, including merged ones).
pub async fn count(conn: &mut Conn) -> Result<i64, StoreError> {
    Sql::new("SELECT COUNT(*) FROM residents")
        .scalar_i64(conn)
        .await
}
