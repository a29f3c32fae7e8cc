//! yilian-analytics — pure computations over bulk data: record linkage,
//! indicators, surveillance. No IO.
#![forbid(unsafe_code)]

pub mod linkage;
pub mod surveillance;
