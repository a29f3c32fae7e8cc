//! Seeding and sampling helpers. Every generation stage has its own ChaCha8
//! stream derived from the spec's seed, so stages never shift each other's draws.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generation stages, each with an independent random stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    Regions = 1,
    Institutions = 2,
    Practitioners = 3,
    Teams = 4,
    Residents = 5,
    Care = 6,
    Referrals = 7,
    Surveillance = 8,
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from 64 hashed bits.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The random stream of `stage` for `seed`.
pub(crate) fn stage_rng(seed: u64, stage: Stage) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix64(seed ^ mix64(stage as u64)))
}

/// `true` with probability `p` (any `p`; ≤ 0 never, ≥ 1 always).
pub(crate) fn chance<R: Rng>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Picks a uniformly random element of a non-empty slice.
pub(crate) fn pick<'a, T, R: Rng>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Picks a uniformly random string of a non-empty list.
pub(crate) fn pick_str<R: Rng>(rng: &mut R, items: &[&'static str]) -> &'static str {
    items[rng.random_range(0..items.len())]
}

/// A discrete distribution over `0..n` given by integer weights, sampled by
/// binary search over the cumulative weights.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    cum: Vec<u64>,
}

impl Weighted {
    /// Builds the table; at least one weight must be positive.
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cum = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect::<Vec<_>>();
        assert!(total > 0, "a weighted table needs a positive weight");
        Self { cum }
    }

    /// Draws an index.
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        self.sample_in(rng, 0, self.cum.len() - 1)
    }

    /// Draws an index in `lo..=hi` (clamped to the table), with the weights
    /// restricted to that range; falls back to `lo` if they are all zero.
    pub(crate) fn sample_in<R: Rng>(&self, rng: &mut R, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.cum.len() - 1);
        let lo = lo.min(hi);
        let base = if lo == 0 { 0 } else { self.cum[lo - 1] };
        let span = self.cum[hi] - base;
        if span == 0 {
            return lo;
        }
        let x = base + rng.random_range(0..span);
        self.cum.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_respects_ranges_and_zero_weights() {
        let mut rng = stage_rng(7, Stage::Regions);
        let w = Weighted::new([0, 5, 0, 5, 1]);
        for _ in 0..1000 {
            let i = w.sample(&mut rng);
            assert!(i == 1 || i == 3 || i == 4);
            let j = w.sample_in(&mut rng, 2, 3);
            assert_eq!(j, 3);
        }
        assert_eq!(w.sample_in(&mut rng, 2, 2), 2);
    }

    #[test]
    fn stages_have_distinct_streams() {
        let a: u64 = stage_rng(1, Stage::Regions).random();
        let b: u64 = stage_rng(1, Stage::Residents).random();
        let c: u64 = stage_rng(2, Stage::Regions).random();
        assert!(a != b && a != c);
    }
}
