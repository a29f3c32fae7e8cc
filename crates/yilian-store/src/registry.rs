//! Registries: regions, institutions, consortia, practitioners, family doctor
//! teams. Create, read, update (optimistic, by version) and filtered pages.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use yilian_domain::registry::{
    ConsortiumKind, Grade, InstitutionKind, Ownership, Profession, TeamRole,
};

use crate::sql::{Sql, Val, Where};
use crate::{CodeList, Conn, CountMap, Flag, Page, Paging, StoreError, now_text};

/// Turns "0 rows updated" into NotFound or VersionConflict.
async fn settle_update(
    conn: &mut Conn,
    table: &str,
    key_col: &str,
    key: Val,
    affected: u64,
    expected: i64,
) -> Result<(), StoreError> {
    if affected == 1 {
        return Ok(());
    }
    let mut q = Sql::new(&format!("SELECT COUNT(*) FROM {table} WHERE {key_col} = "));
    q.bind(key);
    if q.scalar_i64(conn).await? == 0 {
        Err(StoreError::NotFound)
    } else {
        Err(StoreError::VersionConflict { expected })
    }
}

// ---------------------------------------------------------------- regions

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub population: Option<i64>,
    pub version: i64,
    pub updated_at: String,
}

/// A region as written (its level derives from the code).
#[derive(Debug, Clone)]
pub struct RegionData {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub population: Option<i64>,
}

pub(crate) const REGION_COLS: &str =
    "code, name, level, parent_code, lon, lat, population, version, updated_at";

pub async fn insert_region(conn: &mut Conn, r: &RegionData) -> Result<RegionRow, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO regions (code, name, level, parent_code, lon, lat, population, updated_at) VALUES (",
    );
    q.bind_list([
        r.code.clone().into(),
        r.name.clone().into(),
        r.level.clone().into(),
        r.parent_code.clone().into(),
        r.lon.into(),
        r.lat.into(),
        r.population.into(),
        now_text().into(),
    ]);
    q.push(&format!(") RETURNING {REGION_COLS}"));
    q.fetch_one(conn).await
}

pub async fn update_region(
    conn: &mut Conn,
    r: &RegionData,
    version: i64,
) -> Result<RegionRow, StoreError> {
    let mut q = Sql::new("UPDATE regions SET name = ");
    q.bind(r.name.clone())
        .push(", lon = ")
        .bind(r.lon)
        .push(", lat = ")
        .bind(r.lat);
    q.push(", population = ")
        .bind(r.population)
        .push(", updated_at = ")
        .bind(now_text());
    q.push(", version = version + 1 WHERE code = ")
        .bind(r.code.clone())
        .push(" AND version = ")
        .bind(version);
    let n = q.execute(conn).await?;
    settle_update(conn, "regions", "code", r.code.clone().into(), n, version).await?;
    get_region(conn, &r.code).await?.ok_or(StoreError::NotFound)
}

pub async fn get_region(conn: &mut Conn, code: &str) -> Result<Option<RegionRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {REGION_COLS} FROM regions WHERE code = "));
    q.bind(code);
    q.fetch_optional(conn).await
}

#[derive(Debug, Clone, Default)]
pub struct RegionFilter {
    pub parent_code: Option<String>,
    pub level: Option<String>,
    pub within: Option<String>,
    pub q: Option<String>,
}

pub async fn list_regions(
    conn: &mut Conn,
    f: &RegionFilter,
    paging: Paging,
) -> Result<Page<RegionRow>, StoreError> {
    let mut w = Where::new();
    if let Some(p) = &f.parent_code {
        w.and("parent_code = ?", [p.as_str().into()]);
    }
    if let Some(l) = &f.level {
        w.and("level = ?", [l.as_str().into()]);
    }
    if let Some(p) = &f.within {
        w.prefix("code", p);
    }
    if let Some(q) = &f.q {
        w.and("name LIKE ?", [format!("%{q}%").into()]);
    }
    w.page(conn, REGION_COLS, "regions", "code", paging).await
}

// ---------------------------------------------------------------- institutions

/// An institution as written.
#[derive(Debug, Clone)]
pub struct InstitutionData {
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub grade: Option<Grade>,
    pub ownership: Ownership,
    pub region_code: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub beds: CountMap,
    pub staff: CountMap,
    pub services: CodeList,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct InstitutionRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub grade: Option<String>,
    pub ownership: String,
    pub region_code: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    #[sqlx(try_from = "String")]
    pub beds: CountMap,
    #[sqlx(try_from = "String")]
    pub staff: CountMap,
    #[sqlx(try_from = "String")]
    pub services: CodeList,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) const INSTITUTION_COLS: &str = "id, code, name, kind, grade, ownership, region_code, address, lon, lat, beds, staff, services, version, created_at, updated_at";

fn institution_vals(d: &InstitutionData) -> [Val; 12] {
    [
        d.code.clone().into(),
        d.name.clone().into(),
        d.kind.as_str().into(),
        d.grade.map(|g| g.as_str()).into(),
        d.ownership.as_str().into(),
        d.region_code.clone().into(),
        d.address.clone().into(),
        d.lon.into(),
        d.lat.into(),
        d.beds.encode().into(),
        d.staff.encode().into(),
        d.services.encode().into(),
    ]
}

pub async fn insert_institution(
    conn: &mut Conn,
    d: &InstitutionData,
) -> Result<InstitutionRow, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO institutions (code, name, kind, grade, ownership, region_code, address, lon, lat, beds, staff, services, created_at, updated_at) VALUES (",
    );
    q.bind_list(
        institution_vals(d)
            .into_iter()
            .chain([now.clone().into(), now.into()]),
    );
    q.push(&format!(") RETURNING {INSTITUTION_COLS}"));
    q.fetch_one(conn).await
}

pub async fn update_institution(
    conn: &mut Conn,
    id: i64,
    version: i64,
    d: &InstitutionData,
) -> Result<InstitutionRow, StoreError> {
    let cols = [
        "code",
        "name",
        "kind",
        "grade",
        "ownership",
        "region_code",
        "address",
        "lon",
        "lat",
        "beds",
        "staff",
        "services",
    ];
    let mut q = Sql::new("UPDATE institutions SET ");
    for (c, v) in cols.iter().zip(institution_vals(d)) {
        q.push(c).push(" = ").bind(v).push(", ");
    }
    q.push("updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id);
    q.push(" AND version = ").bind(version);
    let n = q.execute(conn).await?;
    settle_update(conn, "institutions", "id", id.into(), n, version).await?;
    get_institution(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn get_institution(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<InstitutionRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {INSTITUTION_COLS} FROM institutions WHERE id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

pub async fn get_institution_by_code(
    conn: &mut Conn,
    code: &str,
) -> Result<Option<InstitutionRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {INSTITUTION_COLS} FROM institutions WHERE code = "
    ));
    q.bind(code);
    q.fetch_optional(conn).await
}

#[derive(Debug, Clone, Default)]
pub struct InstitutionFilter {
    pub kind: Option<String>,
    pub within: Option<String>,
    pub service: Option<String>,
    pub consortium_id: Option<i64>,
    pub ownership: Option<String>,
    pub q: Option<String>,
}

pub async fn list_institutions(
    conn: &mut Conn,
    f: &InstitutionFilter,
    paging: Paging,
) -> Result<Page<InstitutionRow>, StoreError> {
    let mut w = Where::new();
    if let Some(k) = &f.kind {
        w.and("kind = ?", [k.as_str().into()]);
    }
    if let Some(p) = &f.within {
        w.prefix("region_code", p);
    }
    if let Some(s) = &f.service {
        w.and("services LIKE ?", [CodeList::like(s).into()]);
    }
    if let Some(o) = &f.ownership {
        w.and("ownership = ?", [o.as_str().into()]);
    }
    if let Some(c) = f.consortium_id {
        w.and(
            "id IN (SELECT institution_id FROM consortium_members WHERE consortium_id = ?)",
            [c.into()],
        );
    }
    if let Some(q) = &f.q {
        w.and(
            "(name LIKE ? OR code = ?)",
            [format!("%{q}%").into(), q.as_str().into()],
        );
    }
    w.page(
        conn,
        INSTITUTION_COLS,
        "institutions",
        "region_code, id",
        paging,
    )
    .await
}

/// A short reference to an institution, used inside other rows.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct InstitutionBrief {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
}

// ---------------------------------------------------------------- consortia

#[derive(Debug, Clone)]
pub struct ConsortiumData {
    pub code: String,
    pub name: String,
    pub kind: ConsortiumKind,
    pub lead_institution_id: i64,
    pub region_code: String,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ConsortiumRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub lead_institution_id: i64,
    pub region_code: String,
    pub member_count: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const CONSORTIUM_COLS: &str = "id, code, name, kind, lead_institution_id, region_code, \
     (SELECT COUNT(*) FROM consortium_members m WHERE m.consortium_id = consortia.id) AS member_count, version, created_at, updated_at";

/// Creates a consortium; its lead is its first member.
pub async fn insert_consortium(
    conn: &mut Conn,
    d: &ConsortiumData,
) -> Result<ConsortiumRow, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO consortia (code, name, kind, lead_institution_id, region_code, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        d.code.clone().into(),
        d.name.clone().into(),
        d.kind.as_str().into(),
        d.lead_institution_id.into(),
        d.region_code.clone().into(),
        now.clone().into(),
        now.into(),
    ]);
    q.push(") RETURNING id");
    let id = q.scalar_i64(conn).await?;
    add_member(conn, id, d.lead_institution_id).await?;
    get_consortium(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn update_consortium(
    conn: &mut Conn,
    id: i64,
    version: i64,
    d: &ConsortiumData,
) -> Result<ConsortiumRow, StoreError> {
    let mut q = Sql::new("UPDATE consortia SET code = ");
    q.bind(d.code.clone())
        .push(", name = ")
        .bind(d.name.clone())
        .push(", kind = ")
        .bind(d.kind.as_str());
    q.push(", lead_institution_id = ")
        .bind(d.lead_institution_id)
        .push(", region_code = ")
        .bind(d.region_code.clone());
    q.push(", updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id);
    q.push(" AND version = ").bind(version);
    let n = q.execute(conn).await?;
    settle_update(conn, "consortia", "id", id.into(), n, version).await?;
    if !is_member(conn, id, d.lead_institution_id).await? {
        add_member(conn, id, d.lead_institution_id).await?;
    }
    get_consortium(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn get_consortium(conn: &mut Conn, id: i64) -> Result<Option<ConsortiumRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CONSORTIUM_COLS} FROM consortia WHERE id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

#[derive(Debug, Clone, Default)]
pub struct ConsortiumFilter {
    pub kind: Option<String>,
    pub member_institution_id: Option<i64>,
    pub within: Option<String>,
    pub q: Option<String>,
}

pub async fn list_consortia(
    conn: &mut Conn,
    f: &ConsortiumFilter,
    paging: Paging,
) -> Result<Page<ConsortiumRow>, StoreError> {
    let mut w = Where::new();
    if let Some(k) = &f.kind {
        w.and("kind = ?", [k.as_str().into()]);
    }
    if let Some(i) = f.member_institution_id {
        w.and(
            "id IN (SELECT consortium_id FROM consortium_members WHERE institution_id = ?)",
            [i.into()],
        );
    }
    if let Some(p) = &f.within {
        w.prefix("region_code", p);
    }
    if let Some(q) = &f.q {
        w.and("name LIKE ?", [format!("%{q}%").into()]);
    }
    w.page(conn, CONSORTIUM_COLS, "consortia", "id", paging)
        .await
}

pub async fn is_member(
    conn: &mut Conn,
    consortium_id: i64,
    institution_id: i64,
) -> Result<bool, StoreError> {
    let mut q = Sql::new("SELECT COUNT(*) FROM consortium_members WHERE consortium_id = ");
    q.bind(consortium_id)
        .push(" AND institution_id = ")
        .bind(institution_id);
    Ok(q.scalar_i64(conn).await? > 0)
}

pub async fn add_member(
    conn: &mut Conn,
    consortium_id: i64,
    institution_id: i64,
) -> Result<(), StoreError> {
    let mut q = Sql::new(
        "INSERT INTO consortium_members (consortium_id, institution_id, joined_at) VALUES (",
    );
    q.bind_list([
        consortium_id.into(),
        institution_id.into(),
        now_text().into(),
    ])
    .push(")");
    q.execute(conn).await.map(|_| ())
}

pub async fn remove_member(
    conn: &mut Conn,
    consortium_id: i64,
    institution_id: i64,
) -> Result<(), StoreError> {
    let mut q = Sql::new("DELETE FROM consortium_members WHERE consortium_id = ");
    q.bind(consortium_id)
        .push(" AND institution_id = ")
        .bind(institution_id);
    if q.execute(conn).await? == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub async fn members(
    conn: &mut Conn,
    consortium_id: i64,
) -> Result<Vec<InstitutionBrief>, StoreError> {
    let mut q = Sql::new(
        "SELECT i.id, i.code, i.name, i.kind FROM institutions i JOIN consortium_members m ON m.institution_id = i.id WHERE m.consortium_id = ",
    );
    q.bind(consortium_id).push(" ORDER BY i.region_code, i.id");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- practitioners

#[derive(Debug, Clone)]
pub struct PractitionerData {
    pub code: String,
    pub name: String,
    pub sex: String,
    pub profession: Profession,
    pub specialty: Option<String>,
    pub is_gp: bool,
    pub is_tcm: bool,
    pub phone: String,
    /// Practice sites (多点执业); the first is the main site.
    pub site_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PractitionerRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub sex: String,
    pub profession: String,
    pub specialty: Option<String>,
    #[sqlx(try_from = "i64")]
    pub is_gp: Flag,
    #[sqlx(try_from = "i64")]
    pub is_tcm: Flag,
    pub phone: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A practitioner with their practice sites.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Practitioner {
    #[serde(flatten)]
    pub row: PractitionerRow,
    pub sites: Vec<InstitutionBrief>,
}

const PRACTITIONER_COLS: &str = "id, code, name, sex, profession, specialty, is_gp, is_tcm, phone, version, created_at, updated_at";

async fn set_sites(
    conn: &mut Conn,
    practitioner_id: i64,
    site_ids: &[i64],
) -> Result<(), StoreError> {
    let mut del = Sql::new("DELETE FROM practice_sites WHERE practitioner_id = ");
    del.bind(practitioner_id);
    del.execute(conn).await?;
    for (i, site) in site_ids.iter().enumerate() {
        let mut q = Sql::new(
            "INSERT INTO practice_sites (practitioner_id, institution_id, is_main) VALUES (",
        );
        q.bind_list([practitioner_id.into(), (*site).into(), (i == 0).into()])
            .push(")");
        q.execute(conn).await?;
    }
    Ok(())
}

pub async fn insert_practitioner(
    conn: &mut Conn,
    d: &PractitionerData,
) -> Result<Practitioner, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO practitioners (code, name, sex, profession, specialty, is_gp, is_tcm, phone, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        d.code.clone().into(),
        d.name.clone().into(),
        d.sex.clone().into(),
        d.profession.as_str().into(),
        d.specialty.clone().into(),
        d.is_gp.into(),
        d.is_tcm.into(),
        d.phone.clone().into(),
        now.clone().into(),
        now.into(),
    ]);
    q.push(") RETURNING id");
    let id = q.scalar_i64(conn).await?;
    set_sites(conn, id, &d.site_ids).await?;
    get_practitioner(conn, id)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn update_practitioner(
    conn: &mut Conn,
    id: i64,
    version: i64,
    d: &PractitionerData,
) -> Result<Practitioner, StoreError> {
    let mut q = Sql::new("UPDATE practitioners SET code = ");
    q.bind(d.code.clone())
        .push(", name = ")
        .bind(d.name.clone())
        .push(", sex = ")
        .bind(d.sex.clone());
    q.push(", profession = ")
        .bind(d.profession.as_str())
        .push(", specialty = ")
        .bind(d.specialty.clone());
    q.push(", is_gp = ")
        .bind(d.is_gp)
        .push(", is_tcm = ")
        .bind(d.is_tcm)
        .push(", phone = ")
        .bind(d.phone.clone());
    q.push(", updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id);
    q.push(" AND version = ").bind(version);
    let n = q.execute(conn).await?;
    settle_update(conn, "practitioners", "id", id.into(), n, version).await?;
    set_sites(conn, id, &d.site_ids).await?;
    get_practitioner(conn, id)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get_practitioner(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<Practitioner>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {PRACTITIONER_COLS} FROM practitioners WHERE id = "
    ));
    q.bind(id);
    let Some(row) = q.fetch_optional::<PractitionerRow>(conn).await? else {
        return Ok(None);
    };
    let mut s = Sql::new(
        "SELECT i.id, i.code, i.name, i.kind FROM institutions i JOIN practice_sites s ON s.institution_id = i.id WHERE s.practitioner_id = ",
    );
    s.bind(id).push(" ORDER BY s.is_main DESC, i.id");
    Ok(Some(Practitioner {
        row,
        sites: s.fetch_all(conn).await?,
    }))
}

pub async fn get_practitioner_by_code(
    conn: &mut Conn,
    code: &str,
) -> Result<Option<PractitionerRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {PRACTITIONER_COLS} FROM practitioners WHERE code = "
    ));
    q.bind(code);
    q.fetch_optional(conn).await
}

#[derive(Debug, Clone, Default)]
pub struct PractitionerFilter {
    pub institution_id: Option<i64>,
    pub profession: Option<String>,
    pub is_gp: Option<bool>,
    pub is_tcm: Option<bool>,
    pub q: Option<String>,
}

pub async fn list_practitioners(
    conn: &mut Conn,
    f: &PractitionerFilter,
    paging: Paging,
) -> Result<Page<PractitionerRow>, StoreError> {
    let mut w = Where::new();
    if let Some(i) = f.institution_id {
        w.and(
            "id IN (SELECT practitioner_id FROM practice_sites WHERE institution_id = ?)",
            [i.into()],
        );
    }
    if let Some(p) = &f.profession {
        w.and("profession = ?", [p.as_str().into()]);
    }
    if let Some(b) = f.is_gp {
        w.and("is_gp = ?", [b.into()]);
    }
    if let Some(b) = f.is_tcm {
        w.and("is_tcm = ?", [b.into()]);
    }
    if let Some(q) = &f.q {
        w.and(
            "(name LIKE ? OR code = ?)",
            [format!("%{q}%").into(), q.as_str().into()],
        );
    }
    w.page(conn, PRACTITIONER_COLS, "practitioners", "id", paging)
        .await
}

// ---------------------------------------------------------------- teams

#[derive(Debug, Clone)]
pub struct TeamData {
    pub code: String,
    pub name: String,
    pub institution_id: i64,
    pub capacity: i64,
    pub members: Vec<(i64, TeamRole)>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct TeamRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub institution_id: i64,
    pub capacity: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct TeamMember {
    pub practitioner_id: i64,
    pub name: String,
    pub profession: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    #[serde(flatten)]
    pub row: TeamRow,
    pub members: Vec<TeamMember>,
}

const TEAM_COLS: &str = "id, code, name, institution_id, capacity, version, created_at, updated_at";

async fn set_team_members(
    conn: &mut Conn,
    team_id: i64,
    members: &[(i64, TeamRole)],
) -> Result<(), StoreError> {
    let mut del = Sql::new("DELETE FROM team_members WHERE team_id = ");
    del.bind(team_id);
    del.execute(conn).await?;
    for (pid, role) in members {
        let mut q = Sql::new("INSERT INTO team_members (team_id, practitioner_id, role) VALUES (");
        q.bind_list([team_id.into(), (*pid).into(), role.as_str().into()])
            .push(")");
        q.execute(conn).await?;
    }
    Ok(())
}

pub async fn insert_team(conn: &mut Conn, d: &TeamData) -> Result<Team, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO teams (code, name, institution_id, capacity, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        d.code.clone().into(),
        d.name.clone().into(),
        d.institution_id.into(),
        d.capacity.into(),
        now.clone().into(),
        now.into(),
    ]);
    q.push(") RETURNING id");
    let id = q.scalar_i64(conn).await?;
    set_team_members(conn, id, &d.members).await?;
    get_team(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn update_team(
    conn: &mut Conn,
    id: i64,
    version: i64,
    d: &TeamData,
) -> Result<Team, StoreError> {
    let mut q = Sql::new("UPDATE teams SET code = ");
    q.bind(d.code.clone())
        .push(", name = ")
        .bind(d.name.clone())
        .push(", institution_id = ")
        .bind(d.institution_id);
    q.push(", capacity = ")
        .bind(d.capacity)
        .push(", updated_at = ")
        .bind(now_text());
    q.push(", version = version + 1 WHERE id = ")
        .bind(id)
        .push(" AND version = ")
        .bind(version);
    let n = q.execute(conn).await?;
    settle_update(conn, "teams", "id", id.into(), n, version).await?;
    set_team_members(conn, id, &d.members).await?;
    get_team(conn, id).await?.ok_or(StoreError::NotFound)
}

pub async fn get_team(conn: &mut Conn, id: i64) -> Result<Option<Team>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {TEAM_COLS} FROM teams WHERE id = "));
    q.bind(id);
    let Some(row) = q.fetch_optional::<TeamRow>(conn).await? else {
        return Ok(None);
    };
    let mut m = Sql::new(
        "SELECT p.id AS practitioner_id, p.name, p.profession, t.role FROM team_members t JOIN practitioners p ON p.id = t.practitioner_id WHERE t.team_id = ",
    );
    m.bind(id).push(" ORDER BY p.id");
    Ok(Some(Team {
        row,
        members: m.fetch_all(conn).await?,
    }))
}

#[derive(Debug, Clone, Default)]
pub struct TeamFilter {
    pub institution_id: Option<i64>,
    pub practitioner_id: Option<i64>,
    pub q: Option<String>,
}

pub async fn list_teams(
    conn: &mut Conn,
    f: &TeamFilter,
    paging: Paging,
) -> Result<Page<TeamRow>, StoreError> {
    let mut w = Where::new();
    if let Some(i) = f.institution_id {
        w.and("institution_id = ?", [i.into()]);
    }
    if let Some(p) = f.practitioner_id {
        w.and(
            "id IN (SELECT team_id FROM team_members WHERE practitioner_id = ?)",
            [p.into()],
        );
    }
    if let Some(q) = &f.q {
        w.and("name LIKE ?", [format!("%{q}%").into()]);
    }
    w.page(conn, TEAM_COLS, "teams", "id", paging).await
}
