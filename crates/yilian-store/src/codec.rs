//! Column encodings shared by both backends: count maps as JSON text and code
//! lists as `,a,b,` text (so `LIKE '%,a,%'` finds a member on either backend).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts by vocabulary code (beds by type, staff by profession).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct CountMap(pub BTreeMap<String, i64>);

impl TryFrom<String> for CountMap {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&s).map(CountMap)
    }
}

impl CountMap {
    pub fn encode(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
    pub fn total(&self) -> i64 {
        self.0.values().sum()
    }
}

/// A set of vocabulary codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct CodeList(pub Vec<String>);

impl From<String> for CodeList {
    fn from(s: String) -> Self {
        CodeList(
            s.split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

impl CodeList {
    pub fn encode(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut v = self.0.clone();
        v.sort();
        v.dedup();
        format!(",{},", v.join(","))
    }
    /// The `LIKE` pattern that finds rows whose list holds `code`.
    pub fn like(code: &str) -> String {
        format!("%,{code},%")
    }
}

/// A boolean stored as integer 0/1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl From<i64> for Flag {
    fn from(i: i64) -> Self {
        Flag(i != 0)
    }
}
