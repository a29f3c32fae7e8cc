//! yilian-store — persistence behind one code path for two backends.
//!
//! SQLite (a file; the embedded default) and PostgreSQL (production) are both
//! reached through sqlx's `Any` driver with runtime queries. The SQL text is
//! shared (`$1` placeholders work on both); each backend has its own
//! migrations directory. The contract suite in `tests/contract.rs` runs every
//! store behaviour against both.
//!
//! Functions take `&mut Conn` so a caller composes several into one
//! transaction: `let mut tx = store.write().await?; …; tx.commit().await?`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod bulk;
pub mod care;
mod codec;
pub mod error;
pub mod generated;
pub mod insurance;
mod logwriter;
pub mod monitoring;
pub mod mpi;
pub mod recognition;
pub mod records;
pub mod referrals;
pub mod registry;
pub mod remote;
pub mod residents;
pub mod sql;
pub mod surveillance;
pub mod testkit;
pub mod users;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions, Executor};

pub use codec::{CodeList, CountMap, Flag};
pub use error::StoreError;
pub use sql::Val;
pub use sqlx;

/// A connection of either backend.
pub type Conn = sqlx::AnyConnection;
/// A transaction of either backend.
/// A write transaction. On SQLite it also holds the store's write gate until
/// it commits or is dropped, so writers queue in FIFO order in the process
/// instead of polling SQLite's lock with its busy handler's growing sleeps.
pub struct Tx {
    tx: sqlx::Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("gated", &self._gate.is_some())
            .finish()
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(redact(url)))
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://yilian.db";

/// A pool on one backend. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// SQLite has one writer; this queues ours (see [`Tx`]).
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Appends the access log in batches (see [`Store::log_access`]).
    access_writer: logwriter::AccessWriter,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// Hides a password in a database URL for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

static DRIVERS: std::sync::Once = std::sync::Once::new();

/// What a store is opened for; on SQLite it sets the connections and the
/// page cache (PostgreSQL is tuned on its server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Many concurrent requests: 8 connections, 32 MB of page cache each,
    /// the file mapped.
    Serve,
    /// One process loading a county (`yilian generate`): one connection with
    /// a 512 MB page cache. Writes are serial anyway (one writer at a time);
    /// with several connections each write transaction ran on the next one
    /// in the pool, whose cache SQLite had emptied because another
    /// connection wrote since, so every transaction read the indexes it
    /// touched again. The caller must never hold two connections at once.
    Bulk,
}

const SERVE_CACHE_KIB: u32 = 32 * 1024;
const BULK_CACHE_KIB: u32 = 512 * 1024;

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`). A SQLite file is
    /// created if missing, in WAL mode with foreign keys on.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_as(url, Load::Serve).await
    }

    /// [`Store::connect`] for `load`.
    pub async fn connect_as(url: &str, load: Load) -> Result<Store, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let full = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&full)
            .map_err(|_| StoreError::BadUrl(redact(url)))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        let (max, cache_kib) = match (backend, load) {
            (Backend::Sqlite, Load::Serve) => (8, SERVE_CACHE_KIB),
            (Backend::Sqlite, Load::Bulk) => (1, BULK_CACHE_KIB),
            (Backend::Postgres, _) => (16, 0),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // A 2 MB default page cache made random row
                        // lookups (work lists join residents) read pages
                        // again on every request; map the file instead.
                        let pragmas = format!(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                             PRAGMA cache_size=-{cache_kib}; PRAGMA mmap_size=1073741824;"
                        );
                        conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool,
            backend,
            url: url.to_string(),
            write_gate: Default::default(),
            access_writer: Default::default(),
        })
    }

    /// Applies this backend's migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Connects and migrates: what every command does first.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_as(url, Load::Serve).await
    }

    /// [`Store::open`] for `load`.
    pub async fn open_as(url: &str, load: Load) -> Result<Store, StoreError> {
        let s = Store::connect_as(url, load).await?;
        s.migrate().await?;
        Ok(s)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for reads (no transaction).
    pub async fn read(&self) -> Result<PoolConnection<Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A read-only transaction: one consistent snapshot for several reads,
    /// without the write lock.
    pub async fn read_tx(&self) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// A write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so concurrent writers queue instead of failing
    /// with a lock upgrade error.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let gate = self.write_gate.clone().lock_owned().await;
                Tx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _gate: Some(gate),
                }
            }
            Backend::Postgres => Tx {
                tx: self.pool.begin().await?,
                _gate: None,
            },
        })
    }

    /// Refreshes the query planner's statistics (after bulk loads, and
    /// hourly while serving). SQLite samples at most 1,000 rows per index
    /// (`analysis_limit`), so it stays fast on a million residents.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let conn: &mut Conn = &mut tx;
        match self.backend {
            Backend::Sqlite => {
                conn.execute("PRAGMA analysis_limit=1000; ANALYZE;").await?;
            }
            // Only this store's schema: a bare ANALYZE would walk every schema
            // in the database (test schemas included).
            Backend::Postgres => {
                let tables: Vec<(String,)> = sql::Sql::new(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                )
                .fetch_all(conn)
                .await?;
                if !tables.is_empty() {
                    let names: Vec<String> = tables.into_iter().map(|(t,)| t).collect();
                    sql::Sql::new(&format!("ANALYZE {}", names.join(", ")))
                        .execute(conn)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Current time as stored: RFC 3339, UTC, seconds precision.
pub fn now_text() -> String {
    utc_text(chrono::Utc::now().naive_utc())
}

/// A UTC time as stored (see [`now_text`]).
pub fn utc_text(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One page of a list, with the total count of matching rows.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Paging parameters, clamped: limit 1..=500 (default 50), offset ≥ 0.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Paging {
        Paging {
            limit: limit.unwrap_or(50).clamp(1, 500),
            offset: offset.unwrap_or(0).max(0),
        }
    }
}

impl Default for Paging {
    fn default() -> Self {
        Paging::new(None, None)
    }
}

/// The exclusive upper bound of a prefix range: every string that starts with
/// `prefix` is `>= prefix` and `< prefix_end(prefix)` in byte order (SQLite
/// BINARY, PostgreSQL `COLLATE "C"`), so an index serves prefix search.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}
