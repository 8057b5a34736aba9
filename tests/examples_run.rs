//! Runs the examples (and so the book's code, which is included from them) as tests.

#[path = "../examples/autograd_basics.rs"]
mod autograd_basics;

#[test]
fn autograd_basics_runs() {
    autograd_basics::main();
}

#[path = "../examples/schedules.rs"]
mod schedules;

#[test]
fn schedules_runs() {
    schedules::main();
}

#[path = "../examples/custom_plugin.rs"]
#[allow(dead_code)] // its `main` is the binary entry point
mod custom_plugin;

#[test]
fn custom_plugins_load_by_name_and_train() {
    let (first, last) = custom_plugin::run();
    assert!(last < first / 10.0);
}

#[test]
fn a_custom_schedule_composes_inside_sequential_lr() {
    let lrs = custom_plugin::schedule_in_sequence();
    // warmup: min(t/2, sqrt(2/t)) for t = 1, 2, 3; then ExponentialLR restarts from the base
    // lr at the milestone and halves it each step.
    let expected = [0.5, 1.0, (2.0f64 / 3.0).sqrt(), 1.0, 0.5, 0.25];
    for (got, want) in lrs.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{lrs:?}");
    }
    assert_eq!(lrs.len(), expected.len());
}

#[path = "../examples/sequence_models.rs"]
mod sequence_models;

#[test]
fn sequence_models_runs() {
    sequence_models::main();
}

#[path = "../examples/train_from_code.rs"]
#[allow(dead_code)]
mod train_from_code;

#[test]
fn train_from_code_learns_iris() {
    let acc = train_from_code::run();
    assert!(acc > 0.9, "test accuracy {acc}");
}

#[path = "../examples/linear_regression.rs"]
#[allow(dead_code)]
mod linear_regression;

#[test]
fn linear_regression_finds_the_line() {
    let (w, b) = linear_regression::run();
    assert!(
        (w - 3.0).abs() < 0.05 && (b + 2.0).abs() < 0.05,
        "w {w}, b {b}"
    );
}

#[path = "../examples/sgd_step_lr.rs"]
mod sgd_step_lr;

#[test]
fn sgd_step_lr_halves_every_three_epochs() {
    sgd_step_lr::main();
}

#[path = "../examples/l2_penalty.rs"]
mod l2_penalty;

#[test]
fn l2_penalty_shrinks_the_weights() {
    l2_penalty::main();
}

#[path = "../examples/export_digits.rs"]
#[allow(dead_code)]
mod export_digits;

#[test]
fn exported_digits_are_the_idx_pixels_and_an_existing_folder_is_kept() {
    use tuna::data::{find_idx_file, read_idx_images, read_idx_labels, MNIST_FILES};
    let out = std::env::temp_dir().join(format!("tuna-export-digits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mnist = export_digits::bundled_mnist();
    assert_eq!(
        export_digits::run(&mnist, &out, Some(40)).unwrap(),
        (40, 40)
    );
    let idx = read_idx_images(&find_idx_file(&mnist, MNIST_FILES[2]).unwrap()).unwrap();
    let labels = read_idx_labels(&find_idx_file(&mnist, MNIST_FILES[3]).unwrap()).unwrap();
    for i in [0usize, 17, 39] {
        let file = out.join(format!("test/{}/{i:02}.png", labels[i]));
        let png = image::open(&file).unwrap().into_luma8();
        assert_eq!(png.dimensions(), (28, 28));
        assert_eq!(
            png.as_raw()[..],
            idx.pixels[i * 784..(i + 1) * 784],
            "{file:?}"
        );
    }
    let files: usize = (0..10)
        .map(|d| {
            std::fs::read_dir(out.join(format!("train/{d}")))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(files, 40);
    let e = export_digits::run(&mnist, &out, Some(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not empty"), "{e}");
    std::fs::remove_dir_all(&out).unwrap();
}
