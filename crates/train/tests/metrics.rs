//! `tuna_train::metrics`: hand-worked cases, the tie rule, errors, and proptests that
//! streaming over batches (and merging) equals one pass, against a plain f64 reference.

use proptest::prelude::*;
use tuna_data::Task;
use tuna_tensor::Tensor;
use tuna_train::metrics::{Metric, MetricAccumulator, MetricError, MetricSet};

fn classification(num_classes: usize) -> Task {
    Task::Classification {
        num_classes,
        class_names: (0..num_classes).map(|c| c.to_string()).collect(),
    }
}

fn regression(outputs: usize) -> Task {
    Task::Regression {
        outputs,
        target_names: (0..outputs).map(|c| format!("y{c}")).collect(),
        target_scale: None,
    }
}

/// One-hot f32 logits `[batch, classes]` that predict `preds`.
fn one_hot(preds: &[usize], classes: usize) -> Tensor {
    let mut v = vec![0.0f32; preds.len() * classes];
    for (i, &p) in preds.iter().enumerate() {
        v[i * classes + p] = 1.0;
    }
    Tensor::from_vec(v, &[preds.len(), classes])
}

fn labels(t: &[i64]) -> Tensor {
    Tensor::from_vec(t.to_vec(), &[t.len()])
}

fn get(values: &[(String, f64)], name: &str) -> f64 {
    values.iter().find(|(n, _)| n == name).unwrap().1
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

const CLASS_METRICS: [&str; 5] = ["accuracy", "precision", "recall", "f1", "confusion_matrix"];

#[test]
fn three_classes_worked_by_hand() {
    // y_true = [0, 0, 0, 1, 1, 2, 2, 2], y_pred = [0, 1, 1, 1, 2, 2, 2, 0]
    //
    //              predicted
    //              0  1  2   | row (true) sums
    //   true 0  [  1, 2, 0 ] | 3
    //   true 1  [  0, 1, 1 ] | 2
    //   true 2  [  1, 0, 2 ] | 3
    //   column sums 2, 3, 3
    //
    // accuracy  = (1 + 1 + 2) / 8                     = 1/2
    // precision = (1/2 + 1/3 + 2/3) / 3               = 1/2
    // recall    = (1/3 + 1/2 + 2/3) / 3               = 1/2
    // f1        = (2/(3+2) + 2/(2+3) + 4/(3+3)) / 3   = 22/45   (2 TP / (row + column))
    // sklearn: f1_score([0,0,0,1,1,2,2,2], [0,1,1,1,2,2,2,0], average="macro") = 0.48888...
    let set = MetricSet::parse(&CLASS_METRICS, &classification(3)).unwrap();
    assert_eq!(set.names(), ["accuracy", "precision", "recall", "f1"]);
    let mut acc = set.accumulator();
    acc.update(
        &one_hot(&[0, 1, 1, 1, 2, 2, 2, 0], 3),
        &labels(&[0, 0, 0, 1, 1, 2, 2, 2]),
    )
    .unwrap();
    let v = acc.finish();
    assert_eq!(
        v.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        set.names()
    );
    assert!(close(get(&v, "accuracy"), 0.5, 1e-15));
    assert!(close(get(&v, "precision"), 0.5, 1e-15));
    assert!(close(get(&v, "recall"), 0.5, 1e-15));
    assert!(close(get(&v, "f1"), 22.0 / 45.0, 1e-15));
    assert_eq!(
        acc.confusion_matrix().unwrap(),
        [[1, 2, 0], [0, 1, 1], [1, 0, 2]]
    );
    assert_eq!(acc.samples(), 8);
}

#[test]
fn macro_average_runs_over_the_classes_seen() {
    // 4 classes, y_true = [0, 0, 1, 1], y_pred = [0, 3, 1, 1]. Class 2 never occurs: left out
    // (sklearn's unique_labels(y_true, y_pred) = [0, 1, 3]). Class 3 is predicted once but
    // never true: precision 0/1, recall 0/0 -> 0 (zero_division=0), f1 0.
    // precision = (1/1 + 2/2 + 0) / 3 = 2/3, recall = (1/2 + 2/2 + 0) / 3 = 1/2,
    // f1 = (2/3 + 1 + 0) / 3 = 5/9, accuracy = 3/4.
    let set = MetricSet::parse(&CLASS_METRICS, &classification(4)).unwrap();
    let mut acc = set.accumulator();
    acc.update(&one_hot(&[0, 3, 1, 1], 4), &labels(&[0, 0, 1, 1]))
        .unwrap();
    let v = acc.finish();
    assert!(close(get(&v, "accuracy"), 0.75, 1e-15));
    assert!(close(get(&v, "precision"), 2.0 / 3.0, 1e-15));
    assert!(close(get(&v, "recall"), 0.5, 1e-15));
    assert!(close(get(&v, "f1"), 5.0 / 9.0, 1e-15));
    assert_eq!(
        acc.confusion_matrix().unwrap(),
        [[1, 0, 0, 1], [0, 2, 0, 0], [0; 4], [0; 4]]
    );
}

#[test]
fn top_k_ties_rank_the_lower_index_first() {
    // Scores [1, 3, 3, 0]: order 1, 2, 0, 3 (classes 1 and 2 tie; 1 ranks first).
    // All-equal scores [0, 0, 0, 0]: order 0, 1, 2, 3.
    let names = [
        "accuracy",
        "top1_accuracy",
        "top2_accuracy",
        "top3_accuracy",
    ];
    let set = MetricSet::parse(&names, &classification(4)).unwrap();
    let hits = |row: [f32; 4], target: i64| {
        let mut acc = set.accumulator();
        acc.update(&Tensor::from_vec(row.to_vec(), &[1, 4]), &labels(&[target]))
            .unwrap();
        acc.finish().iter().map(|(_, v)| *v).collect::<Vec<_>>()
    };
    assert_eq!(hits([1.0, 3.0, 3.0, 0.0], 1), [1.0, 1.0, 1.0, 1.0]);
    assert_eq!(hits([1.0, 3.0, 3.0, 0.0], 2), [0.0, 0.0, 1.0, 1.0]);
    assert_eq!(hits([1.0, 3.0, 3.0, 0.0], 0), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(hits([1.0, 3.0, 3.0, 0.0], 3), [0.0, 0.0, 0.0, 0.0]);
    assert_eq!(hits([0.0; 4], 0), [1.0, 1.0, 1.0, 1.0]);
    assert_eq!(hits([0.0; 4], 2), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(hits([0.0; 4], 3), [0.0, 0.0, 0.0, 0.0]);
    // NaN ranks above everything (torch.topk / torch.argmax).
    assert_eq!(hits([1.0, f32::NAN, 5.0, 0.0], 2), [0.0, 0.0, 1.0, 1.0]);
    assert_eq!(hits([1.0, f32::NAN, 5.0, 0.0], 1), [1.0, 1.0, 1.0, 1.0]);
    // k = num_classes is allowed (always 1).
    let all = MetricSet::parse(&["top4_accuracy"], &classification(4)).unwrap();
    let mut acc = all.accumulator();
    acc.update(&one_hot(&[0, 1], 4), &labels(&[3, 2])).unwrap();
    assert_eq!(acc.finish(), [("top4_accuracy".to_string(), 1.0)]);
}

#[test]
fn regression_worked_by_hand() {
    // Two outputs, three samples.
    //   y    = [[1, 10], [2, 10], [3, 10]]   (column 1 constant)
    //   yhat = [[1, 10], [2, 12], [5, 10]]
    // errors column 0: 0, 0, 2 -> MAE 2/3, RMSE sqrt(4/3), R² = 1 - 4 / 2 = -1
    // errors column 1: 0, 2, 0 -> MAE 2/3, RMSE sqrt(4/3), constant target, not exact: R² 0
    // uniform average: MAE 2/3, RMSE sqrt(4/3), R² = (-1 + 0) / 2 = -0.5
    let set = MetricSet::parse(&["mae", "rmse", "r2"], &regression(2)).unwrap();
    let mut acc = set.accumulator();
    let y = Tensor::from_vec(vec![1.0f32, 10.0, 2.0, 10.0, 3.0, 10.0], &[3, 2]);
    let yhat = Tensor::from_vec(vec![1.0f32, 10.0, 2.0, 12.0, 5.0, 10.0], &[3, 2]);
    acc.update(&yhat, &y).unwrap();
    let v = acc.finish();
    assert!(close(get(&v, "mae"), 2.0 / 3.0, 1e-15));
    assert!(close(get(&v, "rmse"), (4.0f64 / 3.0).sqrt(), 1e-15));
    assert!(close(get(&v, "r2"), -0.5, 1e-15));
    assert_eq!(acc.confusion_matrix(), None);

    // Constant target predicted exactly: R² 1 (sklearn). [batch] shapes with one output.
    let set = MetricSet::parse(&["r2", "mae"], &regression(1)).unwrap();
    let mut acc = set.accumulator();
    let c = Tensor::from_vec(vec![0.1f32; 3], &[3]);
    acc.update(&c, &Tensor::from_vec(vec![0.1f32; 3], &[3, 1]))
        .unwrap();
    assert_eq!(acc.finish(), [("r2".into(), 1.0), ("mae".into(), 0.0)]);
    // Perfect non-constant predictions: R² 1.
    let mut acc = set.accumulator();
    let y = Tensor::from_vec(vec![1.0f64, -2.0, 4.0], &[3]);
    acc.update(&y, &y).unwrap();
    assert_eq!(acc.finish()[0], ("r2".into(), 1.0));
    // Fewer than two samples: R² is NaN (sklearn warns and returns nan); MAE is defined.
    let mut acc = set.accumulator();
    acc.update(
        &Tensor::from_vec(vec![1.0f32], &[1]),
        &Tensor::from_vec(vec![3.0f32], &[1]),
    )
    .unwrap();
    let v = acc.finish();
    assert!(v[0].1.is_nan() && v[1].1 == 2.0);
}

#[test]
fn no_samples_is_nan_and_reset_forgets() {
    let set = MetricSet::parse(&["accuracy", "f1"], &classification(2)).unwrap();
    let mut acc = set.accumulator();
    assert!(acc.finish().iter().all(|(_, v)| v.is_nan()));
    acc.update(&one_hot(&[1], 2), &labels(&[1])).unwrap();
    assert_eq!(acc.finish()[0].1, 1.0);
    acc.reset();
    assert_eq!(acc.samples(), 0);
    assert_eq!(acc, set.accumulator());
    let reg = MetricSet::parse(&["rmse"], &regression(3)).unwrap();
    assert!(reg.accumulator().finish()[0].1.is_nan());
}

#[test]
fn parse_errors_name_the_entry() {
    let task = classification(3);
    let err = |names: &[&str], task: &Task| MetricSet::parse(names, task).unwrap_err().to_string();
    assert_eq!(
        err(&["accuracy", "f1", "acc"], &task),
        "train.metrics[2]: unknown metric \"acc\"; known: accuracy, top{k}_accuracy (k >= 1), \
         precision, recall, f1, confusion_matrix, mae, rmse, r2, perplexity (language models)"
    );
    assert_eq!(
        err(&["mae"], &task),
        "train.metrics[0]: \"mae\" needs a regression task, the data is classification"
    );
    assert_eq!(
        err(&["r2", "accuracy"], &regression(1)),
        "train.metrics[1]: \"accuracy\" needs a classification task, the data is regression"
    );
    assert_eq!(
        err(&["f1", "recall", "f1"], &task),
        "train.metrics[2]: \"f1\" is already listed at train.metrics[0]"
    );
    assert_eq!(
        err(&["top5_accuracy"], &task),
        "train.metrics[0]: \"top5_accuracy\" needs k <= the number of classes, the data has 3"
    );
    for bad in [
        "top0_accuracy",
        "top_accuracy",
        "top03_accuracy",
        "top-1_accuracy",
        "Accuracy",
    ] {
        assert!(
            matches!(
                MetricSet::parse(&[bad], &task),
                Err(MetricError::Unknown { index: 0, .. })
            ),
            "{bad}"
        );
    }
    // Names round-trip; directions.
    for name in [
        "accuracy",
        "top12_accuracy",
        "precision",
        "recall",
        "f1",
        "confusion_matrix",
        "mae",
        "rmse",
        "r2",
    ] {
        assert_eq!(Metric::from_name(name).unwrap().name(), name);
    }
    assert_eq!(
        Metric::from_name("top12_accuracy"),
        Some(Metric::TopKAccuracy { k: 12 })
    );
    assert!(!Metric::Rmse.higher_is_better() && Metric::R2.higher_is_better());
    let empty: [&str; 0] = [];
    assert!(MetricSet::parse(&empty, &task).unwrap().names().is_empty());
}

#[test]
fn shape_and_target_errors_name_both_shapes_and_leave_the_state() {
    let set = MetricSet::parse(&["accuracy", "confusion_matrix"], &classification(3)).unwrap();
    let mut acc = set.accumulator();
    acc.update(&one_hot(&[0], 3), &labels(&[0])).unwrap();
    let before = acc.clone();
    let e = acc
        .update(
            &one_hot(&[0, 1], 3),
            &Tensor::from_vec(vec![0i64, 1], &[2, 1]),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "metrics: outputs of shape [2, 3] and targets of shape [2, 1] do not fit a 3-class \
         task: outputs [batch, 3], targets [batch]"
    );
    let e = acc.update(&one_hot(&[0, 1], 3), &labels(&[0])).unwrap_err();
    assert!(
        e.to_string().contains("[2, 3]") && e.to_string().contains("[1]"),
        "{e}"
    );
    let e = acc
        .update(&one_hot(&[0, 1], 2), &labels(&[0, 1]))
        .unwrap_err();
    assert!(e.to_string().contains("[2, 2]"), "{e}");
    let e = acc
        .update(&one_hot(&[0, 1], 3), &labels(&[0, 3]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "metrics: target 3 of sample 1 in the batch is not a class index in 0..3"
    );
    let e = acc.update(&one_hot(&[0], 3), &labels(&[-100])).unwrap_err();
    assert!(matches!(e, MetricError::BadTarget { value, .. } if value == -100.0));
    let e = acc
        .update(&one_hot(&[0], 3), &Tensor::from_vec(vec![1.5f32], &[1]))
        .unwrap_err();
    assert!(matches!(e, MetricError::BadTarget { sample: 0, .. }), "{e}");
    assert_eq!(acc, before);
    // Integral float targets are class indices.
    acc.update(&one_hot(&[2], 3), &Tensor::from_vec(vec![2.0f32], &[1]))
        .unwrap();
    assert_eq!(acc.confusion_matrix().unwrap()[2][2], 1);

    let set = MetricSet::parse(&["mae"], &regression(2)).unwrap();
    let mut acc = set.accumulator();
    let e = acc
        .update(
            &Tensor::from_vec(vec![0.0f32; 4], &[2, 2]),
            &Tensor::from_vec(vec![0.0f32; 2], &[2]),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "metrics: outputs of shape [2, 2] and targets of shape [2] do not fit a regression \
         task with 2 output(s): outputs and targets [batch, 2]"
    );
    assert_eq!(acc.samples(), 0);
}

#[test]
#[should_panic(expected = "different metric sets")]
fn merging_different_sets_panics() {
    let a = MetricSet::parse(&["accuracy"], &classification(3)).unwrap();
    let b = MetricSet::parse(&["f1"], &classification(3)).unwrap();
    a.accumulator().merge(&b.accumulator());
}

// ---- the independent reference: one pass over all samples, plain f64 -------------------

/// sklearn-style macro precision/recall/f1 over `unique_labels(y_true, y_pred)`.
fn reference_classification(
    scores: &[Vec<f64>],
    targets: &[usize],
    ks: &[usize],
) -> Vec<(String, f64)> {
    let n = targets.len();
    let preds: Vec<usize> = scores
        .iter()
        .map(|row| {
            // First maximum, NaN largest.
            let mut best = 0;
            for j in 1..row.len() {
                let (a, b) = (row[j], row[best]);
                if (a.is_nan() && !b.is_nan()) || (!b.is_nan() && a > b) {
                    best = j;
                }
            }
            best
        })
        .collect();
    let mut out = Vec::new();
    let nan = f64::NAN;
    let correct = preds.iter().zip(targets).filter(|(p, t)| p == t).count();
    out.push((
        "accuracy".to_string(),
        if n == 0 {
            nan
        } else {
            correct as f64 / n as f64
        },
    ));
    for &k in ks {
        let hits = scores
            .iter()
            .zip(targets)
            .filter(|(row, &t)| {
                // Stable sort by descending score (NaN first): ties keep index order.
                let mut order: Vec<usize> = (0..row.len()).collect();
                order.sort_by(|&a, &b| {
                    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
                    match (row[a].is_nan(), row[b].is_nan()) {
                        (true, false) => std::cmp::Ordering::Less,
                        (false, true) => std::cmp::Ordering::Greater,
                        _ => key(row[b]).partial_cmp(&key(row[a])).unwrap(),
                    }
                });
                order[..k].contains(&t)
            })
            .count();
        out.push((
            format!("top{k}_accuracy"),
            if n == 0 { nan } else { hits as f64 / n as f64 },
        ));
    }
    let mut labels: Vec<usize> = targets.iter().chain(&preds).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let (mut p, mut r, mut f) = (0.0, 0.0, 0.0);
    for &c in &labels {
        let tp = (0..n).filter(|&i| targets[i] == c && preds[i] == c).count() as f64;
        let fp = (0..n).filter(|&i| targets[i] != c && preds[i] == c).count() as f64;
        let fn_ = (0..n).filter(|&i| targets[i] == c && preds[i] != c).count() as f64;
        let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        p += div(tp, tp + fp);
        r += div(tp, tp + fn_);
        f += div(2.0 * tp, 2.0 * tp + fp + fn_);
    }
    let m = labels.len() as f64;
    out.push(("precision".into(), if n == 0 { nan } else { p / m }));
    out.push(("recall".into(), if n == 0 { nan } else { r / m }));
    out.push(("f1".into(), if n == 0 { nan } else { f / m }));
    out
}

fn reference_regression(pred: &[Vec<f64>], y: &[Vec<f64>], outputs: usize) -> Vec<(String, f64)> {
    let n = y.len();
    if n == 0 {
        return ["mae", "rmse", "r2"]
            .iter()
            .map(|s| (s.to_string(), f64::NAN))
            .collect();
    }
    let (mut mae, mut rmse, mut r2) = (0.0, 0.0, 0.0);
    for j in 0..outputs {
        let col: Vec<f64> = y.iter().map(|r| r[j]).collect();
        let err: Vec<f64> = pred.iter().zip(y).map(|(p, t)| p[j] - t[j]).collect();
        mae += err.iter().map(|e| e.abs()).sum::<f64>() / n as f64;
        let ss_res: f64 = err.iter().map(|e| e * e).sum();
        rmse += (ss_res / n as f64).sqrt();
        let mean = col.iter().sum::<f64>() / n as f64;
        let ss_tot: f64 = col.iter().map(|v| (v - mean) * (v - mean)).sum();
        let constant = col.iter().all(|&v| v == col[0]);
        r2 += if constant {
            if ss_res == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            1.0 - ss_res / ss_tot
        };
    }
    let k = outputs as f64;
    vec![
        ("mae".into(), mae / k),
        ("rmse".into(), rmse / k),
        ("r2".into(), if n < 2 { f64::NAN } else { r2 / k }),
    ]
}

/// Feeds rows `[lo, hi)` of the data in batches ending at `cuts`.
fn feed(
    acc: &mut MetricAccumulator,
    rows: &[Vec<f64>],
    targets: &Tensor,
    width: usize,
    cuts: &[usize],
    class: bool,
) {
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&rows.len())) {
        let end = end.clamp(start, rows.len());
        let flat: Vec<f32> = rows[start..end]
            .iter()
            .flatten()
            .map(|&v| v as f32)
            .collect();
        let outputs = Tensor::from_vec(flat, &[end - start, width]);
        let t = if class {
            let v = targets.to_vec::<i64>();
            Tensor::from_vec(v[start..end].to_vec(), &[end - start])
        } else {
            let v = targets.to_vec::<f32>();
            Tensor::from_vec(
                v[start * width..end * width].to_vec(),
                &[end - start, width],
            )
        };
        acc.update(&outputs, &t).unwrap();
        start = end;
    }
}

fn class_case() -> impl Strategy<Value = (usize, Vec<Vec<f64>>, Vec<usize>, Vec<usize>)> {
    (1usize..6).prop_flat_map(|c| {
        let row = prop::collection::vec((-2i32..3).prop_map(|v| v as f64), c);
        prop::collection::vec((row, 0..c), 0..40).prop_flat_map(move |samples| {
            let n = samples.len();
            let (scores, targets): (Vec<_>, Vec<_>) = samples.into_iter().unzip();
            (
                Just(c),
                Just(scores),
                Just(targets),
                prop::collection::vec(0..=n, 0..5).prop_map(|mut cuts| {
                    cuts.sort_unstable();
                    cuts
                }),
            )
        })
    })
}

fn reg_case() -> impl Strategy<Value = (usize, Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<usize>)> {
    (1usize..4, prop::bool::ANY).prop_flat_map(|(k, constant_first)| {
        let row = prop::collection::vec((-1000i32..1000).prop_map(|v| v as f64 / 64.0), k);
        prop::collection::vec((row.clone(), row), 0..30).prop_flat_map(move |samples| {
            let n = samples.len();
            let (pred, mut y): (Vec<_>, Vec<_>) = samples.into_iter().unzip();
            if constant_first {
                for r in &mut y {
                    r[0] = 0.375; // exact in f32, like every generated value
                }
            }
            (
                Just(k),
                Just(pred),
                Just(y),
                prop::collection::vec(0..=n, 0..5).prop_map(|mut cuts| {
                    cuts.sort_unstable();
                    cuts
                }),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn classification_streams_merges_and_matches_the_reference(
        (c, scores, targets, cuts) in class_case()
    ) {
        let ks: Vec<usize> = (1..=c.min(3)).collect();
        let mut names: Vec<String> = vec!["accuracy".into()];
        names.extend(ks.iter().map(|k| format!("top{k}_accuracy")));
        names.extend(["precision", "recall", "f1", "confusion_matrix"].map(String::from));
        let set = MetricSet::parse(&names, &classification(c)).unwrap();
        let t = labels(&targets.iter().map(|&v| v as i64).collect::<Vec<_>>());

        let mut once = set.accumulator();
        feed(&mut once, &scores, &t, c, &[], true);
        let mut streamed = set.accumulator();
        feed(&mut streamed, &scores, &t, c, &cuts, true);
        prop_assert_eq!(&streamed, &once);

        // Two workers, merged.
        let mid = cuts.first().copied().unwrap_or(0);
        let mut a = set.accumulator();
        let mut b = set.accumulator();
        let ta = labels(&targets[..mid].iter().map(|&v| v as i64).collect::<Vec<_>>());
        let tb = labels(&targets[mid..].iter().map(|&v| v as i64).collect::<Vec<_>>());
        feed(&mut a, &scores[..mid], &ta, c, &[], true);
        feed(&mut b, &scores[mid..], &tb, c, &[], true);
        a.merge(&b);
        prop_assert_eq!(&a, &once);

        let got = once.finish();
        let want = reference_classification(&scores, &targets, &ks);
        for (name, w) in &want {
            let g = get(&got, name);
            prop_assert!(close(g, *w, 1e-12), "{}: {} vs reference {}", name, g, w);
        }
        prop_assert_eq!(get(&got, "accuracy").to_bits(), get(&got, "top1_accuracy").to_bits());
        let cm = once.confusion_matrix().unwrap();
        prop_assert_eq!(cm.iter().flatten().sum::<u64>(), targets.len() as u64);
        for (i, row) in cm.iter().enumerate() {
            prop_assert_eq!(row.iter().sum::<u64>(), targets.iter().filter(|&&t| t == i).count() as u64);
        }
    }

    #[test]
    fn regression_streams_merges_and_matches_the_reference(
        (k, pred, y, cuts) in reg_case()
    ) {
        let set = MetricSet::parse(&["mae", "rmse", "r2"], &regression(k)).unwrap();
        let flat = |rows: &[Vec<f64>]| -> Tensor {
            Tensor::from_vec(rows.iter().flatten().map(|&v| v as f32).collect(), &[rows.len(), k])
        };
        let t = flat(&y);
        let mut once = set.accumulator();
        feed(&mut once, &pred, &t, k, &[], false);
        let mut streamed = set.accumulator();
        feed(&mut streamed, &pred, &t, k, &cuts, false);
        // Sample-by-sample updates: batching changes nothing, bit for bit.
        prop_assert_eq!(&streamed, &once);

        let want = reference_regression(&pred, &y, k);
        let got = once.finish();
        for (name, w) in &want {
            let g = get(&got, name);
            prop_assert!(close(g, *w, 1e-9), "{}: {} vs reference {}", name, g, w);
        }

        let mid = cuts.first().copied().unwrap_or(0);
        let mut a = set.accumulator();
        let mut b = set.accumulator();
        feed(&mut a, &pred[..mid], &flat(&y[..mid]), k, &[], false);
        feed(&mut b, &pred[mid..], &flat(&y[mid..]), k, &[], false);
        a.merge(&b);
        prop_assert_eq!(a.samples(), once.samples());
        for ((name, m), (_, o)) in a.finish().iter().zip(&got) {
            prop_assert!(close(*m, *o, 1e-9), "{}: merged {} vs one pass {}", name, m, o);
        }
    }
}

#[test]
fn two_classes_scored_by_one_output() {
    let task = Task::Classification {
        num_classes: 2,
        class_names: vec!["no".into(), "yes".into()],
    };
    // logits: class 1 when > 0 (a tie at 0 goes to class 0, the lower index)
    let set = MetricSet::parse(&["accuracy", "confusion_matrix"], &task).unwrap();
    let mut acc = set.accumulator();
    let out = Tensor::from_vec(vec![-1.0f32, 2.0, 0.0, 3.0], &[4, 1]);
    let tgt = Tensor::from_vec(vec![0i64, 1, 1, 1], &[4]);
    acc.update(&out, &tgt).unwrap();
    assert_eq!(acc.finish()[0], ("accuracy".to_string(), 0.75));
    assert_eq!(
        acc.confusion_matrix().unwrap(),
        vec![vec![1, 0], vec![1, 2]]
    );
    // probabilities: class 1 when > 0.5, outputs given as [batch]
    let set = MetricSet::parse(&["accuracy"], &task)
        .unwrap()
        .with_binary_threshold(0.5);
    let mut acc = set.accumulator();
    let out = Tensor::from_vec(vec![0.6f32, 0.7, 0.4, 0.4], &[4]);
    acc.update(&out, &tgt).unwrap();
    assert_eq!(acc.finish()[0].1, 0.25); // predictions 1, 1, 0, 0
}
