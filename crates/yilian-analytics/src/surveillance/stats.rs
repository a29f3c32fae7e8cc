//! Small numerical helpers shared by the surveillance algorithms, written to
//! agree with R where R is the reference.

/// The standard normal quantile function Φ⁻¹(p), as R's `qnorm(p)`.
///
/// Algorithm AS 241 (M. J. Wichura, "The Percentage Points of the Normal
/// Distribution", *Applied Statistics* 37(3):477–484, 1988), the PPND16
/// variant accurate to about 1 part in 10¹⁶ — the algorithm R's `qnorm`
/// uses, so thresholds agree with R to the last few bits.
///
/// Returns −∞ for `p == 0`, +∞ for `p == 1` and NaN outside `[0, 1]` or for
/// NaN.
pub fn qnorm(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * horner(&A_NUM, r) / (horner(&A_DEN, r) * r + 1.0);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let val = if r <= 5.0 {
        let r = r - 1.6;
        horner(&B_NUM, r) / (horner(&B_DEN, r) * r + 1.0)
    } else {
        let r = r - 5.0;
        horner(&C_NUM, r) / (horner(&C_DEN, r) * r + 1.0)
    };
    if q < 0.0 { -val } else { val }
}

/// Evaluates `(…((c[0]·r + c[1])·r + c[2])…)·r + c[n−1]`, in the nesting
/// order of R's `qnorm.c`.
fn horner(c: &[f64], r: f64) -> f64 {
    c.iter()
        .skip(1)
        .fold(c.first().copied().unwrap_or(0.0), |acc, &ci| acc * r + ci)
}

/// AS 241 coefficients (PPND16), highest power first; each denominator
/// polynomial's constant term 1 is implicit.
const A_NUM: [f64; 8] = [
    2509.0809287301227,
    33430.57558358813,
    67265.7709270087,
    45921.95393154987,
    13731.69376550946,
    1971.5909503065513,
    133.14166789178438,
    3.3871328727963665,
];
const A_DEN: [f64; 7] = [
    5226.495278852546,
    28729.085735721943,
    39307.89580009271,
    21213.794301586597,
    5394.196021424751,
    687.1870074920579,
    42.31333070160091,
];
const B_NUM: [f64; 8] = [
    0.0007745450142783414,
    0.022723844989269184,
    0.2417807251774506,
    1.2704582524523684,
    3.6478483247632045,
    5.769497221460691,
    4.630337846156546,
    1.4234371107496835,
];
const B_DEN: [f64; 7] = [
    1.0507500716444169e-9,
    0.0005475938084995345,
    0.015198666563616457,
    0.14810397642748008,
    0.6897673349851,
    1.6763848301838038,
    2.053191626637759,
];
const C_NUM: [f64; 8] = [
    2.0103343992922881e-7,
    2.7115555687434876e-5,
    0.0012426609473880784,
    0.026532189526576124,
    0.29656057182850487,
    1.7848265399172913,
    5.463784911164114,
    6.657904643501103,
];
const C_DEN: [f64; 7] = [
    2.0442631033899397e-15,
    1.421511758316446e-7,
    1.8463183175100548e-5,
    0.0007868691311456133,
    0.014875361290850615,
    0.1369298809227358,
    0.599832206555888,
];

/// Mean and sample standard deviation (denominator n − 1) of `values`, by
/// the two-pass algorithm, as R's `mean` and `sd`. `None` for fewer than two
/// values or when any value is not finite.
pub fn mean_sd(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    let sd = (ss / (n - 1.0)).sqrt();
    sd.is_finite().then_some((mean, sd))
}

/// The `prob` quantile (0 ≤ prob ≤ 1) of `values` by linear interpolation
/// between order statistics — Hyndman & Fan's type 7, the default of R's
/// `quantile()` and of Excel's `PERCENTILE`:
///
/// ```text
/// sorted v[0] ≤ … ≤ v[n−1];  h = (n − 1)·prob;  j = ⌊h⌋
/// Q = v[j] + (h − j)·(v[j+1] − v[j])
/// ```
///
/// (R. J. Hyndman and Y. Fan, "Sample Quantiles in Statistical Packages",
/// *The American Statistician* 50(4):361–365, 1996.) Non-finite values are
/// ignored; `None` when nothing is left or `prob` is outside `[0, 1]`.
pub fn quantile_type7(values: &[f64], prob: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&prob) {
        return None;
    }
    // The moving percentile method asks for 15 or 25 values per day: copy
    // them to the stack instead of a new vector each time.
    const ON_STACK: usize = 64;
    if values.len() <= ON_STACK {
        let mut buf = [0.0f64; ON_STACK];
        let mut n = 0;
        for &x in values {
            if x.is_finite() {
                buf[n] = x;
                n += 1;
            }
        }
        quantile_type7_in_place(&mut buf[..n], prob)
    } else {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        quantile_type7_in_place(&mut v, prob)
    }
}

/// [`quantile_type7`] of finite `v` (`0 ≤ prob ≤ 1`), reordering `v`.
///
/// Only the order statistics `v[j]` and `v[j+1]` are needed: a selection
/// (`select_nth_unstable`, linear time) puts the `j`-th smallest value at
/// `j` and only larger-or-equal ones after it, whose minimum is then the
/// `(j+1)`-th. Under `f64::total_cmp` equal values have equal bits, so both
/// are exactly the values a full sort would put there.
fn quantile_type7_in_place(v: &mut [f64], prob: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let h = (v.len() - 1) as f64 * prob;
    let j = h.floor() as usize;
    let frac = h - j as f64;
    let (_, &mut lo, above) = v.select_nth_unstable_by(j, f64::total_cmp);
    let next = above.iter().copied().min_by(f64::total_cmp);
    Some(match next {
        Some(hi) if frac > 0.0 => lo + frac * (hi - lo),
        _ => lo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qnorm_matches_r() {
        // Values printed by R 4.2: sprintf("%.17g", qnorm(c(...)))
        let cases = [
            (0.999, 3.090_232_306_167_813_5),
            (0.975, 1.959_963_984_540_054),
            (0.5, 0.0),
            (0.025, -1.959_963_984_540_054),
            (1e-10, -6.361_340_902_404_056),
            (0.9, 1.281_551_565_544_600_4),
        ];
        for (p, want) in cases {
            let got = qnorm(p);
            assert!(
                (got - want).abs() < 1e-14,
                "qnorm({p}) = {got}, want {want}"
            );
        }
        assert!(qnorm(f64::NAN).is_nan());
        assert!(qnorm(1.5).is_nan());
        assert_eq!(qnorm(0.0), f64::NEG_INFINITY);
        assert_eq!(qnorm(1.0), f64::INFINITY);
    }

    #[test]
    fn mean_sd_is_the_sample_sd() {
        // 4,6,5,4,6,4,6: mean 35/7 = 5, squared deviations 1+1+0+1+1+1+1 = 6, 6/(7−1) = 1.
        assert_eq!(mean_sd(&[4., 6., 5., 4., 6., 4., 6.]), Some((5.0, 1.0)));
        assert_eq!(mean_sd(&[3.0]), None);
        assert_eq!(mean_sd(&[]), None);
        assert_eq!(mean_sd(&[1.0, f64::NAN]), None);
        assert_eq!(mean_sd(&[2.0, 2.0, 2.0]), Some((2.0, 0.0)));
    }

    #[test]
    fn quantile_type7_as_r() {
        // R: quantile(c(1, 2, 3, 4, 10), 0.8) = 4 + 0.2·(10 − 4) = 5.2 (h = 4·0.8 = 3.2)
        let q = quantile_type7(&[10., 1., 3., 2., 4.], 0.8).unwrap();
        assert!((q - 5.2).abs() < 1e-12);
        assert_eq!(quantile_type7(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile_type7(&[1.0, 2.0], 1.0), Some(2.0));
        assert_eq!(quantile_type7(&[1.0, 2.0], 0.0), Some(1.0));
        assert_eq!(quantile_type7(&[], 0.5), None);
        assert_eq!(quantile_type7(&[f64::NAN], 0.5), None);
        assert_eq!(quantile_type7(&[1.0], f64::NAN), None);
        assert_eq!(quantile_type7(&[1.0], 1.2), None);
    }

    #[test]
    fn selection_equals_a_full_sort() {
        use rand::{Rng, SeedableRng};
        let sorted = |values: &[f64], prob: f64| -> Option<f64> {
            let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
            if v.is_empty() || !(0.0..=1.0).contains(&prob) {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let h = (v.len() - 1) as f64 * prob;
            let j = h.floor() as usize;
            let frac = h - j as f64;
            Some(match v.get(j + 1) {
                Some(&hi) if frac > 0.0 => v[j] + frac * (hi - v[j]),
                _ => v[j],
            })
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for round in 0..2000 {
            // Up to 100 values (past the 64 kept on the stack), many ties.
            let n = rng.random_range(0..100);
            let values: Vec<f64> = (0..n)
                .map(|_| match rng.random_range(0..20) {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => -0.0,
                    3 => rng.random_range(-5.0..5.0),
                    _ => f64::from(rng.random_range(0..8u8)),
                })
                .collect();
            for prob in [0.0, 0.5, 0.65, 0.8, 0.9, 1.0, rng.random_range(0.0..1.0)] {
                assert_eq!(
                    quantile_type7(&values, prob).map(f64::to_bits),
                    sorted(&values, prob).map(f64::to_bits),
                    "round {round}, prob {prob}, {values:?}"
                );
            }
        }
    }
}
