//! Runs the `tuna schedule` binary on temporary configs: CSV output, the SVG and PNG plots,
//! and error cases (exit status and message, never a panic).

use std::path::PathBuf;
use std::process::{Command, Output};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-cli-schedule-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tuna(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn prints_csv_and_plots_svg_and_png() {
    let dir = temp_dir("ok");
    let config = dir.join("step.toml");
    std::fs::write(&config, "type = \"StepLR\"\nstep_size = 2\ngamma = 0.5\n").unwrap();
    let svg = dir.join("step.svg");
    let out = tuna(&[
        "schedule",
        config.to_str().unwrap(),
        "--steps",
        "5",
        "--lr",
        "0.1",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv, "step,lr\n0,0.1\n1,0.1\n2,0.05\n3,0.05\n4,0.025\n");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg"), "{svg_text}");
    assert!(
        svg_text.contains("<polyline")
            && svg_text.contains("StepLR")
            && svg_text.contains(">step</text>")
    );
    assert!(svg_text.trim_end().ends_with("</svg>"));

    // JSON config, a schedule that cycles momentum (third column), PNG plot; OneCycleLR gets
    // total_steps from --steps.
    let config = dir.join("onecycle.json");
    std::fs::write(&config, r#"{"type": "OneCycleLR", "max_lr": 0.1}"#).unwrap();
    let png = dir.join("onecycle.png");
    let out = tuna(&[
        "schedule",
        config.to_str().unwrap(),
        "--steps",
        "50",
        "--lr",
        "0.1",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "step,lr,momentum");
    assert_eq!(rows.len(), 51);
    let last: Vec<f64> = rows[50].split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(last[0], 49.0);
    assert!(
        (last[1] - 0.1 / 25.0 / 1e4).abs() < 1e-15,
        "ends at min_lr: {}",
        rows[50]
    );
    assert!((last[2] - 0.95).abs() < 1e-12);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    // The shipped example configs all run.
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs/schedules");
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        let out = tuna(&[
            "schedule",
            path.to_str().unwrap(),
            "--steps",
            "300",
            "--lr",
            "0.1",
        ]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 301);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_name_the_file_and_field_and_exit_nonzero() {
    let dir = temp_dir("err");
    let cases = [
        (
            "bad_field.toml",
            "type = \"StepLR\"\nstepsize = 3\n",
            "unknown field `stepsize`, expected one of `step_size`",
        ),
        (
            "bad_value.toml",
            "type = \"StepLR\"\nstep_size = 0\n",
            "StepLR.step_size: must be a positive integer, got 0",
        ),
        (
            "bad_type.toml",
            "type = \"CosineLR\"\n",
            "unknown variant `CosineLR`, expected one of",
        ),
        ("bad_syntax.toml", "type = \"StepLR\n", "TOML parse error"),
        (
            "bad_milestones.json",
            r#"{"type": "MultiStepLR", "milestones": [30, 10]}"#,
            "MultiStepLR.milestones: must be increasing",
        ),
    ];
    for (file, text, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let out = tuna(&[
            "schedule",
            path.to_str().unwrap(),
            "--steps",
            "3",
            "--lr",
            "0.1",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(stderr.starts_with("error: "), "{file}: {stderr}");
        assert!(
            stderr.contains(file),
            "{file}: the message names the file: {stderr}"
        );
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let missing = dir.join("missing.toml");
    let out = tuna(&[
        "schedule",
        missing.to_str().unwrap(),
        "--steps",
        "3",
        "--lr",
        "0.1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("cannot read") && stderr.contains("missing.toml"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
