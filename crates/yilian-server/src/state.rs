//! Shared application state: the store, templates, the GB/T 2260 table,
//! the login rate limiter and settings.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{FixedOffset, NaiveDate, Offset, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use yilian_domain::region::RegionTable;
use yilian_store::Store;

/// Settings the server is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory of built front-end assets (`web/dist`), if found.
    pub assets: Option<PathBuf>,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Login attempts allowed per username per minute.
    pub login_per_minute: u32,
    /// Contract caps per profession (签约上限).
    pub caps: yilian_domain::contract::CapPolicy,
    /// Response time limits of the receiving side, by urgency.
    pub response_limits: yilian_domain::referral::ResponseLimits,
    /// Where referral notifications are posted (`YILIAN_WEBHOOK_URL`).
    pub webhook_url: Option<String>,
    /// Days an encounter at an institution grounds its clinicians' reads of
    /// the record (`YILIAN_RECORD_ENCOUNTER_DAYS`).
    pub encounter_days: i64,
    /// Remote-diagnosis turnaround limits by urgency (`YILIAN_REMOTE_TURNAROUND`).
    pub remote_limits: yilian_domain::remote::TurnaroundLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            assets: find_assets(),
            secure_cookies: false,
            login_per_minute: 10,
            caps: load_caps(),
            response_limits: Default::default(),
            webhook_url: std::env::var("YILIAN_WEBHOOK_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            encounter_days: std::env::var("YILIAN_RECORD_ENCOUNTER_DAYS")
                .ok()
                .and_then(|d| d.parse().ok())
                .filter(|d| *d >= 0)
                .unwrap_or(yilian_domain::record::ENCOUNTER_GROUND_DAYS),
            remote_limits: crate::remote::load_limits(),
        }
    }
}

/// Contract caps from `YILIAN_CAPS` or `config/contract_caps.toml`; the
/// built-in defaults when neither exists. A file that does not parse is
/// reported and the defaults are used.
pub fn load_caps() -> yilian_domain::contract::CapPolicy {
    let path = std::env::var("YILIAN_CAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("config/contract_caps.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
            tracing::error!(path = %path.display(), error = %e, "contract caps file does not parse; using defaults");
            Default::default()
        }),
        Err(_) => Default::default(),
    }
}

/// Finds `web/dist`: `YILIAN_ASSETS`, then the working directory, then the
/// source tree this binary was built from.
pub fn find_assets() -> Option<PathBuf> {
    let candidates = [
        std::env::var("YILIAN_ASSETS").ok().map(PathBuf::from),
        Some(PathBuf::from("web/dist")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("htmx.min.js").exists())
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub regions: Arc<RegionTable>,
    pub login_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// The referral catalogue in force (first-contact and do-not-refer-up lists).
    pub catalog: Arc<yilian_domain::icd10::ReferralCatalog>,
    /// The test-result recognition catalogue in force (检查检验结果互认项目目录).
    pub recognition_catalog: Arc<yilian_domain::recognition::RecognitionCatalog>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("regions", &self.regions.len())
            .finish()
    }
}

impl AppState {
    pub fn new(store: Store, settings: Settings) -> AppState {
        let regions = load_region_table(settings.assets.as_deref());
        let per_minute =
            NonZeroU32::new(settings.login_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        AppState {
            store,
            regions: Arc::new(regions),
            login_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            catalog: Arc::new(crate::referral::load_catalog()),
            recognition_catalog: Arc::new(crate::recognition::load_catalog()),
            settings: Arc::new(settings),
        }
    }

    /// Today in China Standard Time, the date every rule runs on.
    pub fn today(&self) -> NaiveDate {
        today()
    }
}

/// Today in China Standard Time (UTC+8).
pub fn today() -> NaiveDate {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix());
    Utc::now().with_timezone(&cst).date_naive()
}

/// Loads the GB/T 2260 county table written by the front-end build from npm
/// data (`web/dist/gbt2260.json`: an object code → name). Without it every
/// identity-number prefix not registered locally gets the warning.
pub fn load_region_table(assets: Option<&Path>) -> RegionTable {
    let Some(path) = assets.map(|a| a.join("gbt2260.json")) else {
        tracing::warn!(
            "front-end assets not found: the GB/T 2260 table is empty (run `make assets`)"
        );
        return RegionTable::default();
    };
    match std::fs::read_to_string(&path)
        .map(|s| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&s))
    {
        Ok(Ok(map)) => RegionTable::new(map.into_keys()),
        other => {
            tracing::warn!(path = %path.display(), ok = other.is_ok(), "cannot read the GB/T 2260 table");
            RegionTable::default()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_caps_file_parses_with_the_national_family_doctor_cap() {
        let caps: yilian_domain::contract::CapPolicy =
            toml::from_str(include_str!("../../../config/contract_caps.toml")).unwrap();
        assert_eq!(caps.licensed_physician, 2_000);
        assert_eq!(
            caps,
            yilian_domain::contract::CapPolicy::default(),
            "the file and the built-in defaults agree"
        );
    }
}
