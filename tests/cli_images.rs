//! A user's own images end to end: `tuna train` on an ImageFolder experiment
//! (`examples/configs/shapes-cnn.toml` over `datasets/shapes`, made by
//! `datasets/shapes/make_shapes.py`) started from another working directory, then
//! `tuna eval` and `tuna predict` on the run folder, which reuse the class names and the
//! fitted `Normalize` statistics saved in `preprocessing.json`.

mod common;

use common::ok_in as tuna_ok;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn temp_dir(name: &str) -> PathBuf {
    common::scratch("cli-images", name)
}

#[test]
fn image_folder_trains_evaluates_and_predicts_from_another_directory() {
    let cwd = temp_dir("shapes");
    let config = Path::new(ROOT).join("examples/configs/shapes-cnn.toml");
    tuna_ok(
        &cwd,
        &["train", config.to_str().unwrap(), "--out", "run", "--quiet"],
    );
    let run = cwd.join("run");

    let pre: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("preprocessing.json")).unwrap())
            .unwrap();
    assert_eq!(pre["type"], "ImageFolder");
    assert_eq!(
        pre["classes"],
        serde_json::json!(["cross", "disk", "frame"])
    );
    assert_eq!(pre["shape"], serde_json::json!([3, 16, 16]));
    let mean = pre["normalize"]["mean"].as_array().unwrap();
    let std = pre["normalize"]["std"].as_array().unwrap();
    assert_eq!((mean.len(), std.len()), (3, 3), "{pre}");
    for (m, s) in mean.iter().zip(std) {
        let (m, s) = (m.as_f64().unwrap(), s.as_f64().unwrap());
        assert!(m > 0.2 && m < 0.6 && s > 0.1 && s < 0.5, "{pre}");
    }

    let eval = tuna_ok(&cwd, &["eval", "run"]);
    assert!(eval.contains("24 samples (test split"), "{eval}");
    let acc: f64 = eval
        .lines()
        .find_map(|l| l.strip_prefix("accuracy"))
        .and_then(|v| v.trim().strip_suffix('%'))
        .unwrap_or_else(|| panic!("no accuracy in:\n{eval}"))
        .parse()
        .unwrap();
    assert!(acc >= 75.0, "test accuracy {acc}%\n{eval}");

    // every test image of a class folder, then one file given by a relative path
    let disks = Path::new(ROOT).join("datasets/shapes/test/disk");
    let csv = tuna_ok(&cwd, &["predict", "run", disks.to_str().unwrap()]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,prediction,p_cross,p_disk,p_frame"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8, "{csv}");
    let right = rows
        .iter()
        .filter(|r| r.split(',').nth(1) == Some("disk"))
        .count();
    assert!(right >= 6, "{right} of 8 disks predicted as disks:\n{csv}");

    std::fs::copy(
        Path::new(ROOT).join("datasets/shapes/test/frame/00.png"),
        cwd.join("mine.png"),
    )
    .unwrap();
    let one = tuna_ok(&cwd, &["predict", "run", "mine.png", "--format", "jsonl"]);
    let row: serde_json::Value = serde_json::from_str(one.trim()).unwrap();
    let probs = row["probabilities"].as_object().unwrap();
    let total: f64 = probs.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6, "{one}");
    assert_eq!(probs.len(), 3, "{one}");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[path = "../examples/export_digits.rs"]
#[allow(dead_code)]
mod export_digits;

#[test]
fn exported_digits_train_as_an_image_folder_from_the_working_directory() {
    let cwd = temp_dir("digits");
    let written = export_digits::run(
        &export_digits::bundled_mnist(),
        &cwd.join("digits"),
        Some(600),
    )
    .unwrap();
    assert_eq!(written, (600, 600));
    let config = Path::new(ROOT).join("examples/configs/digits-folder.toml");
    // `digits/train` is not next to the config: it is found in the working directory
    tuna_ok(
        &cwd,
        &[
            "train",
            config.to_str().unwrap(),
            "--out",
            "run",
            "--quiet",
            "--set",
            "train.epochs=3",
        ],
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("run/summary.json")).unwrap())
            .unwrap();
    let acc = summary["test"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "600 digits, 3 epochs: test accuracy {acc}");
    let pre = std::fs::read_to_string(cwd.join("run/preprocessing.json")).unwrap();
    assert!(pre.contains("\"0\"") && pre.contains("\"9\""), "{pre}");
}

/// Writes CIFAR-10 binary files (`data_batch_1..5.bin`, `test_batch.bin`) of `per_file`
/// records with cycling labels and pseudo-random pixels.
fn write_cifar10(dir: &Path, per_file: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 0x2545_f491_u32;
    let mut byte = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 24) as u8
    };
    let names = (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .chain(["test_batch.bin".to_string()]);
    for name in names {
        let mut bytes = Vec::with_capacity(per_file * 3073);
        for r in 0..per_file {
            bytes.push((r % 10) as u8);
            bytes.extend((0..3072).map(|_| byte()));
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn the_resnet_config_trains_on_cifar_files_in_the_working_directory() {
    let cwd = temp_dir("resnet");
    write_cifar10(&cwd.join("cifar-10-batches-bin"), 20);
    let config = Path::new(ROOT).join("examples/configs/resnet-cifar.toml");
    let config = config.to_str().unwrap();
    let table = tuna_ok(&cwd, &["summary", config]);
    assert!(table.contains("Total params: 78,042"), "{table}");
    tuna_ok(
        &cwd,
        &[
            "train",
            config,
            "--out",
            "run",
            "--quiet",
            "--set",
            "train.epochs=1",
            "--set",
            "loader.batch_size=16",
        ],
    );
    let weights = std::fs::read(cwd.join("run/model.safetensors")).unwrap();
    let header = String::from_utf8_lossy(&weights[..weights.len().min(4096)]).into_owned();
    assert!(header.contains("\"7.shortcut.0.weight\""), "{header}");
    tuna_ok(
        &cwd,
        &["show-batch", config, "--out", "batch.png", "--count", "8"],
    );
    assert!(std::fs::read(cwd.join("batch.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
}
