//! yilian-domain — the heart of yilian: validated types and policy rules.
//!
//! Every rule lives here as a named, documented function or type, with its unit
//! tests beside it. Nothing in this crate does IO, async or SQL; handlers and
//! stores call these rules and never re-decide them.
#![forbid(unsafe_code)]

pub mod access;
pub mod chronic;
pub mod contract;
pub mod error;
pub mod health_card;
pub mod icd10;
pub mod id_number;
pub mod insurance;
pub mod mask;
pub mod money;
pub mod monitoring;
pub mod mpi;
pub mod name;
pub mod phone;
pub mod plan;
pub mod prescription;
pub mod recognition;
pub mod record;
pub mod referral;
pub mod region;
pub mod registry;
pub mod remote;
pub mod resident;
pub mod surveillance;

pub use error::Explain;
