//! Splits: disjoint, complete, seeded, and stratified ones keep class proportions.

use proptest::prelude::*;
use tuna_data::{random_split, stratified_split, SplitIndices};

fn assert_partition(s: &SplitIndices, n: usize) {
    let mut all: Vec<usize> = s
        .train
        .iter()
        .chain(&s.validation)
        .chain(&s.test)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
}

#[test]
fn stratified_proportions_on_imbalanced_classes() {
    // 600 / 300 / 100 samples, interleaved
    let labels: Vec<usize> = (0..1000)
        .map(|i| match i % 10 {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        })
        .collect();
    let s = stratified_split(&labels, 3, 0.2, 0.1, 11).unwrap();
    assert_partition(&s, 1000);
    assert_eq!(
        (s.train.len(), s.validation.len(), s.test.len()),
        (700, 200, 100)
    );
    let count = |part: &[usize], c: usize| part.iter().filter(|&&i| labels[i] == c).count();
    assert_eq!(
        [
            count(&s.validation, 0),
            count(&s.validation, 1),
            count(&s.validation, 2)
        ],
        [120, 60, 20]
    );
    assert_eq!(
        [count(&s.test, 0), count(&s.test, 1), count(&s.test, 2)],
        [60, 30, 10]
    );
    // a plain random split of the same data is usually off by several samples per class
    let r = random_split(1000, 0.2, 0.1, 11).unwrap();
    assert_partition(&r, 1000);
    assert_eq!(r.validation.len(), 200);
}

proptest! {
    #[test]
    fn stratified_is_a_seeded_partition(
        labels in prop::collection::vec(0usize..5, 2..300),
        validation in 0.0f64..0.5,
        test in 0.0f64..0.4,
        seed in any::<u64>(),
    ) {
        let n = labels.len();
        let Ok(s) = stratified_split(&labels, 5, validation, test, seed) else {
            // only too-small data sets may be refused
            prop_assert!(n < 4);
            return Ok(());
        };
        assert_partition(&s, n);
        prop_assert!(!s.train.is_empty());
        prop_assert_eq!(&s, &stratified_split(&labels, 5, validation, test, seed).unwrap());
        // every class with enough samples appears in every held-out split large enough to
        // hold one of each
        let sizes: Vec<usize> = (0..5).map(|c| labels.iter().filter(|&&l| l == c).count()).collect();
        let eligible = |min: usize| sizes.iter().filter(|&&s| s >= min).count();
        for c in 0..5 {
            let size = labels.iter().filter(|&&l| l == c).count();
            let has = |p: &[usize]| p.iter().any(|&i| labels[i] == c);
            prop_assert!(size == 0 || has(&s.train));
            if size >= 2 && s.validation.len() >= eligible(2) {
                prop_assert!(has(&s.validation), "class {} of size {} not in validation", c, size);
            }
            if size >= 3 && s.test.len() >= eligible(3) {
                prop_assert!(has(&s.test), "class {} of size {} not in test", c, size);
            }
        }
    }

    #[test]
    fn random_split_is_a_seeded_partition(
        n in 2usize..500,
        validation in 0.0f64..0.5,
        test in 0.0f64..0.4,
        seed in any::<u64>(),
    ) {
        let size = |f: f64| if f > 0.0 { ((f * n as f64).round() as usize).max(1) } else { 0 };
        let (v, t) = (size(validation), size(test));
        match random_split(n, validation, test, seed) {
            Ok(s) => {
                assert_partition(&s, n);
                prop_assert_eq!((s.validation.len(), s.test.len()), (v, t));
                prop_assert_eq!(s, random_split(n, validation, test, seed).unwrap());
            }
            // refused only when nothing would be left for training
            Err(e) => prop_assert!(v + t >= n, "{}", e),
        }
    }
}
