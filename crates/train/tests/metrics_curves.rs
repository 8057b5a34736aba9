//! `tuna_train::curves::learning_curves`: panels and series from `metrics.jsonl` records,
//! gaps, the lr log scale, SVG words and PNG size.

use tuna_plot::Figure;
use tuna_train::curves::learning_curves;
use tuna_train::EpochRecord;

/// `metrics.jsonl` lines as the trainer writes them (validation every epoch but the 3rd,
/// a diverged train accuracy at epoch 4, lr decaying 1000x).
fn records() -> Vec<EpochRecord> {
    let lines = [
        r#"{"epoch":1,"train_loss":1.2,"val_loss":1.3,"train_accuracy":0.5,"val_accuracy":0.45,"lr":0.1,"seconds":1.5}"#,
        r#"{"epoch":2,"train_loss":0.8,"val_loss":0.9,"train_accuracy":0.7,"val_accuracy":0.66,"lr":0.01,"seconds":1.4}"#,
        r#"{"epoch":3,"train_loss":0.6,"train_accuracy":0.8,"lr":0.001,"seconds":1.4}"#,
        r#"{"epoch":4,"train_loss":0.5,"val_loss":0.95,"train_accuracy":null,"val_accuracy":0.7,"lr":0.0001,"seconds":1.4,"train_f1":0.6}"#,
    ];
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Width and height from a PNG's IHDR, after checking the signature and every chunk's CRC.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let mut at = 8;
    let mut kinds = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let body = &bytes[at + 4..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc32fast::hash(body), crc, "chunk CRC");
        kinds.push(String::from_utf8_lossy(&body[..4]).to_string());
        at += 12 + len;
    }
    assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
    assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn panel_names(f: &Figure) -> Vec<&str> {
    f.panels.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn panels_series_gaps_and_log_lr() {
    let f = learning_curves(&records(), "iris-mlp");
    assert_eq!(panel_names(&f), ["loss", "accuracy", "f1", "lr"]);
    let loss = &f.panels[0];
    assert!(loss.from_zero && !loss.log_y);
    let names: Vec<&str> = loss.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["train", "validation"]);
    assert_eq!(loss.series[0].x, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(loss.series[0].y, [1.2, 0.8, 0.6, 0.5]);
    // The missing val_loss of epoch 3 and the null train_accuracy of epoch 4 are gaps.
    assert!(loss.series[1].y[2].is_nan());
    assert!(f.panels[1].series[0].y[3].is_nan());
    // train_f1 only at epoch 4: train series only.
    assert_eq!(f.panels[2].series.len(), 1);
    assert_eq!(f.panels[2].series[0].name, "train");
    // lr spans 1000x: log scale.
    assert!(f.panels[3].log_y);
    assert!(f.integer_x);

    let svg = f.to_svg();
    for word in [
        ">iris-mlp</text>",
        ">loss</text>",
        ">accuracy</text>",
        ">f1</text>",
        ">lr</text>",
        ">epoch</text>",
        ">train</text>",
        ">validation</text>",
        ">1e-4</text>",
    ] {
        assert!(svg.contains(word), "{word} missing");
    }
    assert!(!svg.contains("seconds"));
    // validation loss: epochs 1-2 joined, epoch 4 alone (a dot).
    assert!(svg.contains("<circle"));

    let (w, h) = png_size(&f.to_png().unwrap());
    assert_eq!((w, h), (800, 4 * 300));
    let (fw, fh) = f.size();
    assert_eq!((w as usize, h as usize), (fw, fh));
}

#[test]
fn without_validation_only_train_lines_and_linear_lr() {
    let recs: Vec<EpochRecord> = (1..=5)
        .map(|e| {
            let mut r = EpochRecord::new(e);
            r.set("train_loss", 2.0 / e as f64);
            r.set("train_mae", 1.0 / e as f64);
            r.set("lr", 0.1 - 0.01 * e as f64);
            r
        })
        .collect();
    let f = learning_curves(&recs, "reg");
    assert_eq!(panel_names(&f), ["loss", "mae", "lr"]);
    assert!(f.panels[..2].iter().all(|p| p.series.len() == 1));
    assert!(!f.panels[2].log_y);
    let svg = f.to_svg();
    assert!(svg.contains(">train</text>") && !svg.contains(">validation</text>"));
    assert_eq!(png_size(&f.to_png().unwrap()), (800, 900));

    // No lr recorded: no lr panel.
    let mut r = EpochRecord::new(1);
    r.set("val_loss", 0.3);
    let f = learning_curves(&[r], "val only");
    assert_eq!(panel_names(&f), ["loss"]);
    assert_eq!(f.panels[0].series[0].name, "validation");
}

#[test]
fn no_records_give_an_empty_figure_that_still_renders() {
    let f = learning_curves(&[], "crashed run");
    assert!(f.panels.is_empty());
    assert!(f
        .to_svg()
        .contains(">crashed run (no epochs recorded)</text>"));
    let (w, h) = png_size(&f.to_png().unwrap());
    assert_eq!((w as usize, h as usize), f.size());
    assert!(h > 0);
}

#[test]
fn save_writes_svg_and_png_and_rejects_other_extensions() {
    let dir = std::env::temp_dir().join(format!("tuna-curves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = learning_curves(&records(), "run");
    f.save(dir.join("curves.svg")).unwrap();
    f.save(dir.join("curves.png")).unwrap();
    assert!(std::fs::read_to_string(dir.join("curves.svg"))
        .unwrap()
        .contains(">validation</text>"));
    assert_eq!(
        png_size(&std::fs::read(dir.join("curves.png")).unwrap()),
        (800, 1200)
    );
    let e = f.save(dir.join("curves.pdf")).unwrap_err().to_string();
    assert!(e.contains(".pdf"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
