//! Backup and restore. SQLite: an online, consistent copy with `VACUUM INTO`
//! while the store stays open; restore checks the copy and swaps the file in.
//! PostgreSQL: the server's own `pg_dump` / `pg_restore`.

use std::path::{Path, PathBuf};

use crate::sql::Sql;
use crate::{Backend, Store, StoreError};

/// The file path behind a `sqlite://PATH[?…]` URL.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Writes a backup of `store` to `dest` (which must not exist).
pub async fn backup(store: &Store, dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::Tool(format!(
            "{} already exists",
            dest.display()
        )));
    }
    match store.backend() {
        Backend::Sqlite => {
            let mut conn = store.read().await?;
            let mut q = Sql::new("VACUUM INTO ");
            q.bind(dest.to_string_lossy().to_string());
            q.execute(&mut conn).await?;
            Ok(())
        }
        Backend::Postgres => {
            let dest = dest.to_string_lossy();
            let mut args = vec![
                "--format=custom",
                "--no-owner",
                "--file",
                &dest,
                "--dbname",
                store.url(),
            ];
            let schema = pg_schema(store.url());
            if let Some(s) = &schema {
                args.extend(["--schema", s]);
            }
            run("pg_dump", &args).await
        }
    }
}

/// Restores `src` into the database at `url`. SQLite: the server must be
/// stopped; the backup is opened and checked before it replaces the file.
pub async fn restore(url: &str, src: &Path) -> Result<(), StoreError> {
    if !src.exists() {
        return Err(StoreError::Tool(format!(
            "{} does not exist",
            src.display()
        )));
    }
    match Backend::from_url(url)? {
        Backend::Sqlite => {
            let target = sqlite_path(url).ok_or_else(|| StoreError::BadUrl(url.to_string()))?;
            // Check a copy, then swap it in: the live file is touched only
            // by the final rename.
            let tmp = PathBuf::from(format!("{}.restore-tmp", target.display()));
            std::fs::copy(src, &tmp)?;
            let check = Store::connect(&format!("sqlite://{}", tmp.display())).await?;
            let ok: String = {
                let mut c = check.read().await?;
                sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_one(&mut *c)
                    .await?
            };
            check.close().await;
            if ok != "ok" {
                std::fs::remove_file(&tmp)?;
                return Err(StoreError::Corrupt(format!(
                    "backup failed integrity check: {ok}"
                )));
            }
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", target.display()));
                if side.exists() {
                    std::fs::remove_file(side)?;
                }
            }
            std::fs::rename(&tmp, &target)?;
            Ok(())
        }
        Backend::Postgres => {
            let src = src.to_string_lossy();
            let mut args = vec![
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--dbname",
                url,
            ];
            let schema = pg_schema(url);
            if let Some(s) = &schema {
                args.extend(["--schema", s]);
            }
            args.push(&src);
            run("pg_restore", &args).await
        }
    }
}

/// The schema a URL selects with `options=-c search_path=NAME`, if any: a
/// backup of such a store covers that schema only.
pub fn pg_schema(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let opts = u.query_pairs().find(|(k, _)| k == "options")?.1.to_string();
    let path = opts.split("search_path=").nth(1)?;
    Some(path.split([' ', ',']).next()?.to_string()).filter(|s| !s.is_empty())
}

async fn run(tool: &str, args: &[&str]) -> Result<(), StoreError> {
    let out = tokio::process::Command::new(tool)
        .args(args)
        .output()
        .await
        .map_err(|e| {
            StoreError::Tool(format!(
                "cannot run {tool} (install the PostgreSQL client tools): {e}"
            ))
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(StoreError::Tool(format!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
