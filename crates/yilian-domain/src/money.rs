//! 金额 — money is integer fen (分) everywhere; never floats.
//!
//! Rounding is defined once, here: a share of an amount is rounded half up
//! to the fen ([`share_of`]); a split of an amount among several takes the
//! floor of each share and hands the remaining fen to the largest remainders
//! ([`split_by_weights`]) so the parts always add up to the whole.

/// Basis points (万分之一): 7,000 bp = 70 %.
pub type BasisPoints = u32;

/// `amount × bp / 10,000`, rounded half up to the fen.
pub fn share_of(amount_fen: i64, bp: BasisPoints) -> i64 {
    let num = i128::from(amount_fen) * i128::from(bp);
    let q = num.div_euclid(10_000);
    let r = num.rem_euclid(10_000);
    (q + i128::from(r * 2 >= 10_000)) as i64
}

/// Splits `amount_fen` in proportion to non-negative `weights` (largest
/// remainder method). All-zero weights split evenly. The parts sum to the
/// amount exactly; ties go to the earlier position.
pub fn split_by_weights(amount_fen: i64, weights: &[f64]) -> Vec<i64> {
    let n = weights.len();
    if n == 0 {
        return vec![];
    }
    let clean: Vec<f64> = weights
        .iter()
        .map(|w| if w.is_finite() && *w > 0.0 { *w } else { 0.0 })
        .collect();
    let total: f64 = clean.iter().sum();
    let ws: Vec<f64> = if total > 0.0 { clean } else { vec![1.0; n] };
    let total: f64 = ws.iter().sum();
    let exact: Vec<f64> = ws.iter().map(|w| amount_fen as f64 * w / total).collect();
    let mut parts: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut left = amount_fen - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let mut k = 0;
    while left > 0 {
        parts[order[k % n]] += 1;
        left -= 1;
        k += 1;
    }
    parts
}

/// Formats fen as yuan with two decimals: 12345 → "123.45".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_half_up_to_the_fen() {
        assert_eq!(share_of(12_000, 7_000), 8_400);
        assert_eq!(share_of(1, 5_000), 1); // 0.5 fen rounds up
        assert_eq!(share_of(1, 4_999), 0);
        assert_eq!(share_of(0, 7_000), 0);
    }

    #[test]
    fn splits_add_up_exactly() {
        assert_eq!(split_by_weights(100, &[1.0, 1.0, 1.0]), vec![34, 33, 33]);
        assert_eq!(split_by_weights(100, &[0.0, 0.0]), vec![50, 50]);
        assert_eq!(split_by_weights(10, &[3.0, 1.0]), vec![8, 2]);
        let parts = split_by_weights(999_999, &[0.37, 0.21, 0.42, f64::NAN]);
        assert_eq!(parts.iter().sum::<i64>(), 999_999);
        assert_eq!(parts[3], 0);
        assert!(split_by_weights(5, &[]).is_empty());
    }

    #[test]
    fn yuan_format() {
        assert_eq!(yuan(12_345), "123.45");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-120), "-1.20");
    }
}
