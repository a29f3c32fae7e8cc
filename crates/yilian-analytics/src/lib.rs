//! yilian-analytics — pure computations over bulk data: record linkage,
//! indicators, surveillance, accessibility. No IO.
#![forbid(unsafe_code)]

pub mod access;
pub mod linkage;
pub mod surveillance;
