//! Fresh, isolated stores for tests on either backend. SQLite: a file in a
//! temporary directory. PostgreSQL (when `YILIAN_TEST_PG` holds a URL): a new
//! schema `yt_<random>` selected through the connection's `search_path`.

use crate::{Backend, Store, StoreError};

/// Environment variable naming the PostgreSQL server for tests.
pub const PG_ENV: &str = "YILIAN_TEST_PG";

/// A store for one test; keeps its temporary directory alive.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL URL for tests, if configured.
pub fn pg_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|s| !s.is_empty())
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap_or_default();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl TestDb {
    /// A migrated, empty store on `backend`, or `None` (with a loud message)
    /// when PostgreSQL is asked for but `YILIAN_TEST_PG` is not set.
    pub async fn new(backend: Backend) -> Result<Option<TestDb>, StoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = Store::open(&url).await?;
                Ok(Some(TestDb {
                    store,
                    url,
                    _dir: Some(dir),
                }))
            }
            Backend::Postgres => {
                let Some(base) = pg_url() else {
                    eprintln!(
                        "SKIPPED (PostgreSQL leg): set {PG_ENV}=postgres://… to run this test on PostgreSQL"
                    );
                    return Ok(None);
                };
                let schema = format!("yt_{}", random_suffix());
                let admin = Store::connect(&base).await?;
                {
                    let mut c = admin.read().await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                        .execute(&mut *c)
                        .await?;
                }
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                let store = Store::open(&url).await?;
                Ok(Some(TestDb {
                    store,
                    url,
                    _dir: None,
                }))
            }
        }
    }
}
