//! Logins and sessions. Passwords arrive already hashed (argon2, by the
//! server); session tokens are stored only as their SHA-256 hash.

use serde::Serialize;
use sqlx::FromRow;

use crate::sql::Sql;
use crate::{Conn, StoreError, now_text};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    pub scope_code: Option<String>,
    pub institution_id: Option<i64>,
    pub region_code: Option<String>,
    pub resident_id: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub scope_code: Option<String>,
    pub institution_id: Option<i64>,
    pub region_code: Option<String>,
    pub resident_id: Option<i64>,
}

const USER_COLS: &str = "id, username, password_hash, role, scope_code, institution_id, region_code, resident_id, created_at";

pub async fn insert(conn: &mut Conn, u: &NewUser) -> Result<UserRow, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO users (username, password_hash, role, scope_code, institution_id, region_code, resident_id, created_at) VALUES (",
    );
    q.bind_list([
        u.username.clone().into(),
        u.password_hash.clone().into(),
        u.role.clone().into(),
        u.scope_code.clone().into(),
        u.institution_id.into(),
        u.region_code.clone().into(),
        u.resident_id.into(),
        now_text().into(),
    ]);
    q.push(&format!(") RETURNING {USER_COLS}"));
    q.fetch_one(conn).await
}

pub async fn by_username(conn: &mut Conn, username: &str) -> Result<Option<UserRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users WHERE username = "));
    q.bind(username);
    q.fetch_optional(conn).await
}

pub async fn list(conn: &mut Conn) -> Result<Vec<UserRow>, StoreError> {
    Sql::new(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))
        .fetch_all(conn)
        .await
}

pub async fn create_session(
    conn: &mut Conn,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    let mut q = Sql::new(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (",
    );
    q.bind_list([
        token_hash.into(),
        user_id.into(),
        csrf.into(),
        now_text().into(),
        expires_at.into(),
    ])
    .push(")");
    q.execute(conn).await.map(|_| ())
}

#[derive(Debug, Clone, FromRow)]
struct SessionUser {
    csrf_token: String,
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    scope_code: Option<String>,
    institution_id: Option<i64>,
    region_code: Option<String>,
    resident_id: Option<i64>,
    created_at: String,
}

/// The user behind an unexpired session token hash, with its CSRF token.
pub async fn session_user(
    conn: &mut Conn,
    token_hash: &str,
) -> Result<Option<(UserRow, String)>, StoreError> {
    let mut q = Sql::new(
        "SELECT s.csrf_token, u.id, u.username, u.password_hash, u.role, u.scope_code, u.institution_id, u.region_code, u.resident_id, u.created_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ",
    );
    q.bind(token_hash)
        .push(" AND s.expires_at > ")
        .bind(now_text());
    Ok(q.fetch_optional::<SessionUser>(conn).await?.map(|s| {
        let user = UserRow {
            id: s.id,
            username: s.username,
            password_hash: s.password_hash,
            role: s.role,
            scope_code: s.scope_code,
            institution_id: s.institution_id,
            region_code: s.region_code,
            resident_id: s.resident_id,
            created_at: s.created_at,
        };
        (user, s.csrf_token)
    }))
}

pub async fn delete_session(conn: &mut Conn, token_hash: &str) -> Result<(), StoreError> {
    let mut q = Sql::new("DELETE FROM sessions WHERE token_hash = ");
    q.bind(token_hash);
    q.execute(conn).await.map(|_| ())
}

/// Removes expired sessions; returns how many.
pub async fn purge_expired(conn: &mut Conn) -> Result<u64, StoreError> {
    let mut q = Sql::new("DELETE FROM sessions WHERE expires_at <= ");
    q.bind(now_text());
    q.execute(conn).await
}
