//! 监测预警 — public-health early-warning algorithms (SPEC §2.8).
//!
//! Daily counts per township and syndrome (fever clinic visits, notifiable
//! disease reports, sentinel-drug sales, school absenteeism…) go in; signals
//! come out. Every algorithm is a pure function over slices: no IO, no
//! clock, no global state, and no panic on any input (empty series, NaN,
//! zero variance, mismatched lengths all give an empty or `None` answer or a
//! documented fallback).
//!
//! | module | method | reference |
//! |---|---|---|
//! | [`ears`](mod@ears) | EARS C1, C2, C3 | Hutwagner et al. 2003; R `surveillance::earsC` |
//! | [`cusum`](mod@cusum) | Poisson CUSUM (standard / Rossi / Gaussian) | Rossi et al. 1999; R `surveillance::cusum` |
//! | [`percentile`] | CIDARS moving percentile method | Yang et al. 2011; Li et al. 2014 |
//! | [`scan`] | space–time permutation scan statistic | Kulldorff et al. 2005 |
//! | [`multipoint`](mod@multipoint) | 多点触发 multi-channel agreement | national plan (seed 002) |
//! | [`evaluate`](mod@evaluate) | sensitivity, false signals, timeliness | — |
//!
//! # Conventions shared by the time-series methods
//!
//! * A series is a dense slice of daily counts, index 0 being the first day.
//! * A count that is NaN, infinite or negative is **missing**. A day whose own
//!   count is missing, or whose baseline contains a missing day, gets no
//!   result (EARS, percentile) — the algorithms never impute.
//! * Each result carries its **upper bound in counts**: the count at which
//!   (EARS, percentile: above which) the day would alarm, so a chart can draw
//!   the threshold line next to the observed counts.
//!
//! The R cross-check (`tests/r_oracle.rs` with `tests/r_oracle.R`) runs the
//! CRAN package `surveillance` on fixed series and compares upper bounds and
//! alarms with these implementations to 1e-6.

pub mod cusum;
pub mod ears;
pub mod evaluate;
pub mod multipoint;
pub mod percentile;
pub mod scan;
pub mod stats;

pub use cusum::{CusumParams, CusumPoint, CusumReference, CusumTransform, cusum};
pub use ears::{EarsMethod, EarsParams, EarsPoint, ears, ears_from, ears_with};
pub use evaluate::{Metrics, Outbreak, evaluate};
pub use multipoint::{ChannelSignal, MultiSignal, multipoint};
pub use percentile::{
    PercentileParams, PercentilePoint, Season, dense_from_pairs, moving_percentile,
    moving_percentile_all,
};
pub use scan::{Cluster, ScanParams, space_time_permutation, space_time_permutation_clusters};

/// The value of a day's count if it is usable: finite and not negative.
#[inline]
pub(crate) fn usable(x: f64) -> Option<f64> {
    (x.is_finite() && x >= 0.0).then_some(x)
}
