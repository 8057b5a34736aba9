//! Axis ranges and tick values: round linear steps (1, 2 or 5 times a power of ten), powers
//! of ten on logarithmic axes, and their labels (`0.05`, `1e-4`).

/// About `target` round tick values covering `[lo, hi]` (steps of 1, 2 or 5 times a power of
/// ten), and the number of decimals that shows them exactly.
pub(crate) fn linear(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let ticks = (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            // -0.0 and 1e-17 print as "0".
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect();
    (ticks, decimals)
}

/// A linear tick label with `decimals` decimals; `4e-7` style below 1e-5 and for values of
/// 1e7 and more, so labels stay short.
pub(crate) fn label(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        "0".into()
    } else if decimals > 5 || v.abs() >= 1e7 {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        format!("{v:.decimals$}")
    }
}

/// A tick label on a log axis: plain decimals for `[1e-3, 1e4)` (`0.001`, `20`), `m`e`k`
/// outside (`1e-4`, `5e6`).
pub(crate) fn log_label(v: f64) -> String {
    let e = (v.log10() + 1e-9).floor();
    if (-3.0..4.0).contains(&e) {
        let m = v / 10f64.powf(e);
        let decimals = if (m - m.round()).abs() < 1e-6 {
            (-e).max(0.0) as usize
        } else {
            (1.0 - e).max(0.0) as usize
        };
        format!("{v:.decimals$}")
    } else {
        let m = (v / 10f64.powf(e) * 10.0).round() / 10.0;
        format!("{m}e{e}")
    }
}

/// Ticks of a log axis whose data spans `[10^lo, 10^hi]`, as (value, label): powers of ten
/// (every n-th when there are more than 8), else 1, 2, 5 times powers of ten, else round
/// linear values.
pub(crate) fn log(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let inside = |v: f64| {
        let l = v.log10();
        l >= lo - 1e-9 && l <= hi + 1e-9
    };
    let (a, b) = (lo.ceil() as i64, (hi + 1e-9).floor() as i64);
    if b - a >= 1 {
        let every = ((b - a + 1) as f64 / 8.0).ceil().max(1.0) as usize;
        return (a..=b)
            .step_by(every)
            .map(|e| {
                let v = 10f64.powi(e as i32);
                (v, log_label(v))
            })
            .collect();
    }
    let mut out = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e as i32);
            if inside(v) {
                out.push((v, log_label(v)));
            }
        }
    }
    if out.len() >= 2 {
        return out;
    }
    let (t, d) = linear(10f64.powf(lo), 10f64.powf(hi), 4);
    t.into_iter()
        .filter(|&v| v > 0.0 && inside(v))
        .map(|v| (v, label(v, d)))
        .collect()
}

/// The unlabelled minor ticks of a log axis over `[10^lo, 10^hi]`: 2..9 times each power of
/// ten, when the axis spans at most 6 decades (more would be a grey wash).
pub(crate) fn log_minor(lo: f64, hi: f64) -> Vec<f64> {
    if hi - lo > 6.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in 2..=9 {
            let v = (m as f64 * 10f64.powi(e as i32)).log10();
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
    }
    out
}

/// `[lo, hi]` of the finite values, widened by 5% (and by 10% of the value when flat),
/// optionally down to 0 when all values are non-negative. `(0, 1)` without values.
pub(crate) fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    if hi - lo <= 1e-12 * hi.abs().max(1e-300) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        lo -= pad;
        hi += pad;
        if from_zero && lo < 0.0 && hi > 0.0 {
            lo = 0.0;
        }
    } else {
        let pad = (hi - lo) * 0.05;
        hi += pad;
        if !(from_zero && lo == 0.0) {
            lo -= pad;
        }
    }
    (lo, hi)
}

/// `[lo, hi]` of log10 of the positive finite values, padded by 5% (half a decade when
/// flat). `(0, 1)` without values.
pub(crate) fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v.log10());
        hi = hi.max(v.log10());
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round() {
        let (t, d) = linear(0.0, 0.105, 5);
        assert_eq!(d, 2);
        assert_eq!(t.len(), 3);
        assert_eq!(label(t[1], d), "0.05");
        let (t, d) = linear(0.0, 99.0, 8);
        assert_eq!((t[1], d), (20.0, 0));
        assert_eq!(label(4e-7, 7), "4e-7");
        assert_eq!(label(2.5e7, 0), "2.5e7");
        // Ticks through zero print "0", not "-0.00".
        let (t, d) = linear(-0.3, 0.3, 6);
        assert!(t.iter().any(|v| label(*v, d) == "0"), "{t:?}");
    }

    #[test]
    fn log_ticks_are_decades_or_1_2_5() {
        let labels = |t: Vec<(f64, String)>| t.into_iter().map(|(_, l)| l).collect::<Vec<_>>();
        assert_eq!(labels(log(-4.2, -0.9)), ["1e-4", "0.001", "0.01", "0.1"]);
        let t = log(-12.1, 0.1);
        assert!(t.len() <= 8 && t.len() >= 4, "{t:?}");
        assert_eq!(t.last().unwrap().1, "1");
        // Less than a decade: 1-2-5 steps.
        assert_eq!(labels(log(0.05, 0.95)), ["2", "5"]);
        assert_eq!(labels(log(-2.9, -2.1)), ["0.002", "0.005"]);
        // Within one 1-2-5 step: linear ticks.
        assert!(log(0.75, 0.85).len() >= 2);
        assert_eq!(log_label(3e5), "3e5");
        assert_eq!(log_label(2e-5), "2e-5");
        assert_eq!(log_label(2.5e-5), "2.5e-5");
        assert_eq!(log_label(0.0025), "0.0025");
        assert_eq!(log_minor(-1.0, 0.0).len(), 8);
        assert!(log_minor(-10.0, 0.0).is_empty());
    }

    #[test]
    fn ranges_pad_and_survive_empty_or_flat_data() {
        assert_eq!(range([].into_iter(), false), (0.0, 1.0));
        assert_eq!(range([0.0, 10.0].into_iter(), true), (0.0, 10.5));
        let (lo, hi) = range([2.0, 2.0].into_iter(), false);
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(log_range([f64::NAN, -1.0].into_iter()), (0.0, 1.0));
        let (lo, hi) = log_range([1e-3, 1e-1].into_iter());
        assert!(lo < -3.0 && hi > -1.0);
    }
}
