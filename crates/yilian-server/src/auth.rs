//! Authentication: argon2 password hashes, sessions (a cookie for the web, a
//! bearer token for the API — the same opaque token, stored only as its
//! SHA-256), CSRF tokens for cookie-authenticated writes, and the login rate
//! limit. Authorization itself is the domain's `access` module.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::CookieJar;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use yilian_domain::access::{Action, InstitutionRef, Principal, Role, allowed};
use yilian_domain::region::RegionCode;
use yilian_domain::registry::InstitutionKind;
use yilian_store::users::{self, UserRow};
use yilian_store::{Conn, registry};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "yl_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions last a working day.
pub const SESSION_HOURS: i64 = 12;

/// A fresh random token: 32 bytes from the OS, hex. Fails closed.
pub fn random_token() -> ApiResult<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| ApiError::internal())?;
    Ok(hex::encode(b))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| ApiError::internal())?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ApiError::internal())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A login's password must be 8–128 characters.
pub fn check_password_policy(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if (8..=128).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "password",
            "密码长度应为8至128个字符",
            "a password has 8 to 128 characters",
        ))
    }
}

/// Checks a login and opens a session. Returns (token, csrf token).
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
) -> ApiResult<(String, String)> {
    if state
        .login_limiter
        .check_key(&username.to_lowercase())
        .is_err()
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "登录尝试过于频繁，请稍后再试",
            "too many login attempts; wait a minute",
        ));
    }
    let mut conn = state.store.read().await?;
    let user = users::by_username(&mut conn, username).await?;
    // Verify against a dummy hash when the user is unknown, so timing does
    // not reveal which usernames exist.
    let hash = user
        .as_ref()
        .map_or(DUMMY_HASH, |u| u.password_hash.as_str());
    let ok = verify_password(password, hash);
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "用户名或密码错误",
            "wrong username or password",
        ));
    };
    let token = random_token()?;
    let csrf = random_token()?;
    let expires = (Utc::now() + Duration::hours(SESSION_HOURS))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    users::create_session(&mut conn, &token_hash(&token), user.id, &csrf, &expires).await?;
    Ok((token, csrf))
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0D9vGQ2wNsR0ekFz7a5kQyM1Z3XjYw5kK8S8pZ0x7bE";

/// The principal behind a user row: their institution or region resolved.
pub async fn principal_of(conn: &mut Conn, u: &UserRow) -> ApiResult<Principal> {
    let role = Role::parse(&u.role).ok_or_else(ApiError::internal)?;
    let institution = match u.institution_id {
        Some(id) => registry::get_institution(conn, id).await?.and_then(|i| {
            Some(InstitutionRef {
                id: i.id,
                kind: InstitutionKind::parse(&i.kind)?,
                region_code: RegionCode::parse(&i.region_code).ok()?,
                code: i.code,
                name: i.name,
            })
        }),
        None => None,
    };
    Ok(Principal {
        user_id: u.id,
        username: u.username.clone(),
        role,
        institution,
        region: u
            .region_code
            .as_deref()
            .and_then(|r| RegionCode::parse(r).ok()),
        resident_id: u.resident_id,
    })
}

/// The authenticated caller, from `Authorization: Bearer` or the session
/// cookie. A cookie-authenticated write must carry the CSRF token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    pub csrf: String,
    pub token_hash: String,
}

impl Auth {
    /// Refuses with 403 unless the role may take `action`.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        if allowed(self.principal.role, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, via_cookie) = match bearer(parts) {
            Some(t) => (t, false),
            None => {
                let jar = CookieJar::from_headers(&parts.headers);
                let t = jar
                    .get(SESSION_COOKIE)
                    .map(|c| c.value().to_string())
                    .ok_or_else(ApiError::unauthenticated)?;
                (t, true)
            }
        };
        let hash = token_hash(&token);
        let mut conn = state.store.read().await?;
        let (user, csrf) = users::session_user(&mut conn, &hash)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        // Nested routers see a stripped path; the original tells API from pages.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(parts.uri.path(), |u| u.0.path());
        let is_api = path.starts_with("/api/") || path.starts_with("/fhir");
        if via_cookie && unsafe_method && is_api {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if sent != csrf {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "请求校验失败，请刷新页面后重试",
                    "CSRF token missing or wrong",
                ));
            }
        }
        let principal = principal_of(&mut conn, &user).await?;
        Ok(Auth {
            principal,
            csrf,
            token_hash: hash,
        })
    }
}

/// Optional authentication for pages that also serve anonymous visitors.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<Auth>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Auth::from_request_parts(parts, state).await {
            Ok(a) => Ok(MaybeAuth(Some(a))),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(MaybeAuth(None)),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("anything", DUMMY_HASH));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token().unwrap());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
