//! Downsampling long curves on the server, so that a run with 100,000 epochs (or logged
//! steps) reaches the page as a few thousand points that still show every spike.
//!
//! [`pick`] keeps, in each of `B` equal buckets of the x axis, the first and last point and
//! every series' minimum and maximum (min-max decimation, as plotting libraries do for large
//! time series): the drawn envelope is the same as the full curve's at screen resolution, and
//! all series keep one shared x axis.

/// The indices of the points to keep (ascending) so that at most `max_points` remain: every
/// index when there are no more than that. NaN values are never a bucket's minimum or maximum.
pub fn pick(len: usize, series: &[&[f64]], max_points: usize) -> Vec<usize> {
    if len <= max_points.max(2) {
        return (0..len).collect();
    }
    let per_bucket = 2 + 2 * series.len();
    let buckets = (max_points / per_bucket).max(1);
    let mut keep = Vec::with_capacity(buckets * per_bucket);
    for b in 0..buckets {
        let (start, end) = (b * len / buckets, (b + 1) * len / buckets);
        if start >= end {
            continue;
        }
        keep.push(start);
        keep.push(end - 1);
        for s in series {
            let mut lo: Option<usize> = None;
            let mut hi: Option<usize> = None;
            for i in start..end.min(s.len()) {
                let v = s[i];
                if v.is_nan() {
                    continue;
                }
                if lo.is_none_or(|j| v < s[j]) {
                    lo = Some(i);
                }
                if hi.is_none_or(|j| v > s[j]) {
                    hi = Some(i);
                }
            }
            keep.extend(lo);
            keep.extend(hi);
        }
    }
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// `values` at `indices` (NaN where a series is shorter).
pub fn take(values: &[f64], indices: &[usize]) -> Vec<f64> {
    indices
        .iter()
        .map(|&i| values.get(i).copied().unwrap_or(f64::NAN))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_are_kept_whole() {
        assert_eq!(
            pick(5, &[&[1.0, 2.0, 3.0, 4.0, 5.0]], 100),
            vec![0, 1, 2, 3, 4]
        );
        assert!(pick(0, &[], 100).is_empty());
    }

    #[test]
    fn long_series_keep_their_extremes_within_the_budget() {
        let n = 100_000;
        let mut a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).sin()).collect();
        a[54_321] = 50.0; // a spike
        a[77_777] = f64::NAN;
        let b: Vec<f64> = (0..n).map(|i| -(i as f64)).collect();
        let keep = pick(n, &[&a, &b], 2000);
        assert!(keep.len() <= 2000, "{}", keep.len());
        assert!(
            keep.len() >= 2 * (2000 / 6),
            "every bucket keeps its first and last point"
        );
        assert!(keep.contains(&54_321));
        assert!(keep.contains(&0) && keep.contains(&(n - 1)));
        assert!(keep.windows(2).all(|w| w[0] < w[1]));
        let kept = take(&a, &keep);
        assert_eq!(kept.iter().cloned().fold(f64::MIN, f64::max), 50.0);
    }
}
