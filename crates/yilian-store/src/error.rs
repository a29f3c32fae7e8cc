//! The store's one error type. Unique-constraint violations are normalised to
//! `table.column` on both backends so the server maps them in one place.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL is not sqlite://… or postgres://…: {0}")]
    BadUrl(String),
    #[error("not found")]
    NotFound,
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("foreign key violated")]
    ForeignKey,
    #[error("the database cannot store this text: {0}")]
    BadText(String),
    #[error("the record was changed by someone else (version {expected} is stale)")]
    VersionConflict { expected: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tool(String),
}

/// PostgreSQL constraint names, mapped to the `table.column` SQLite reports.
const PG_UNIQUE: &[(&str, &str)] = &[
    ("residents_id_number_key", "residents.id_number"),
    ("residents_health_card_id_key", "residents.health_card_id"),
    ("institutions_code_key", "institutions.code"),
    ("consortia_code_key", "consortia.code"),
    ("practitioners_code_key", "practitioners.code"),
    ("teams_code_key", "teams.code"),
    ("users_username_key", "users.username"),
    ("regions_pkey", "regions.code"),
    (
        "consortium_members_pkey",
        "consortium_members.consortium_id",
    ),
    ("team_members_pkey", "team_members.team_id"),
    ("practice_sites_pkey", "practice_sites.practitioner_id"),
    ("dup_candidates_a_id_b_id_key", "dup_candidates.a_id"),
    ("idempotency_pkey", "idempotency.user_id"),
    ("contracts_one_active", "contracts.resident_id"),
    ("appointments_one_per_slot", "appointments.slot_id"),
    ("enrolments_one_active", "enrolments.resident_id"),
    (
        "fee_settlements_team_id_period_key",
        "fee_settlements.team_id",
    ),
];

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = e {
            return StoreError::NotFound;
        }
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                let target = match db.constraint() {
                    Some(c) => PG_UNIQUE
                        .iter()
                        .find(|(pg, _)| *pg == c)
                        .map_or(c.to_string(), |(_, t)| t.to_string()),
                    None => {
                        let m = db.message();
                        let t = m.split("constraint failed: ").nth(1).unwrap_or(m);
                        t.split(',').next().unwrap_or(t).trim().to_string()
                    }
                };
                return StoreError::Unique(target);
            }
            if db.is_foreign_key_violation() {
                return StoreError::ForeignKey;
            }
            // PostgreSQL refuses NUL bytes and invalid encodings in text.
            if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
                return StoreError::BadText(db.message().to_string());
            }
        }
        StoreError::Db(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
