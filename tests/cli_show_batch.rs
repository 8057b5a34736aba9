//! `tuna show-batch` the way a user runs it, from another working directory: an image batch
//! drawn as a labelled grid (the same batch every time, another one the next epoch), a text
//! batch decoded back to the corpus' words, a table batch printed, and clear errors.

mod common;

use common::{err_in as tuna_err, ok_in as tuna_ok};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn temp_dir(name: &str) -> PathBuf {
    common::scratch("show-batch", name)
}

fn config(name: &str) -> String {
    Path::new(ROOT)
        .join("examples/configs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The `<text>` contents of an SVG, in order.
fn texts(svg: &str) -> Vec<String> {
    svg.lines()
        .filter_map(|l| {
            let start = l.find("<text")?;
            let open = l[start..].find('>')? + start + 1;
            let close = l.find("</text>")?;
            Some(l[open..close].to_string())
        })
        .collect()
}

#[test]
fn an_image_batch_is_drawn_with_class_names_and_is_the_same_every_time() {
    let cwd = temp_dir("images");
    let shapes = config("shapes-cnn.toml");
    let args = |out: &'static str, epoch: &'static str| {
        vec![
            "show-batch",
            &shapes,
            "--out",
            out,
            "--epoch",
            epoch,
            "--count",
            "12",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| tuna_ok(&cwd, &a.iter().map(String::as_str).collect::<Vec<_>>());
    run(args("a.svg", "1"));
    run(args("b.svg", "1"));
    run(args("c.svg", "2"));
    run(args("a.png", "1"));
    let read = |f: &str| std::fs::read_to_string(cwd.join(f)).unwrap();
    let (a, b, c) = (read("a.svg"), read("b.svg"), read("c.svg"));
    assert_eq!(a, b, "the same batch twice");
    assert_ne!(a, c, "epoch 2 is shuffled and augmented anew");
    let words = texts(&a);
    assert!(
        words[0].starts_with("shapes-cnn: train batch 0 of epoch 1 (12 of 16"),
        "{words:?}"
    );
    assert_eq!(words.len(), 13);
    assert!(words[1..]
        .iter()
        .all(|w| ["cross", "disk", "frame"].contains(&w.as_str())));
    assert_eq!(a.matches("<image ").count(), 12);
    let png = std::fs::read(cwd.join("a.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // the test split is in folder order: the first images are the crosses
    run(vec![
        "show-batch".into(),
        shapes.clone(),
        "--split".into(),
        "test".into(),
        "--count".into(),
        "3".into(),
        "--out".into(),
        "test.svg".into(),
    ]);
    assert_eq!(texts(&read("test.svg"))[1..], ["cross", "cross", "cross"]);
}

#[test]
fn a_text_batch_is_decoded_back_to_words_of_the_corpus() {
    let cwd = temp_dir("text");
    let out = tuna_ok(
        &cwd,
        &["show-batch", &config("names-gru.toml"), "--count", "5"],
    );
    let names = std::fs::read_to_string(Path::new(ROOT).join("datasets/text/names/names.csv"))
        .unwrap()
        .to_lowercase();
    let known: std::collections::HashMap<&str, &str> = names
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split('\t').collect();
        let (label, length, name) = (cells[0], cells[1], cells[2]);
        assert_eq!(
            length.parse::<usize>().unwrap(),
            name.chars().count(),
            "{line}"
        );
        assert_eq!(known.get(name), Some(&label), "{line}");
    }
}

#[test]
fn a_table_batch_is_printed_and_mistakes_are_named() {
    let cwd = temp_dir("errors");
    let out = tuna_ok(&cwd, &["show-batch", &config("iris.toml"), "--count", "4"]);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out
        .lines()
        .skip(1)
        .all(|l| l.split('\t').nth(1).unwrap().split(' ').count() == 4));

    let e = tuna_err(
        &cwd,
        &["show-batch", &config("iris.toml"), "--out", "x.png"],
    );
    assert!(e.contains("only image batches are drawn"), "{e}");
    assert!(!cwd.join("x.png").exists());
    let e = tuna_err(&cwd, &["show-batch", &config("shapes-cnn.toml")]);
    assert!(e.contains("give --out"), "{e}");
    let e = tuna_err(
        &cwd,
        &[
            "show-batch",
            &config("shapes-cnn.toml"),
            "--batch",
            "99",
            "--out",
            "g.png",
        ],
    );
    assert!(e.contains("--batch 99: epoch 1 has"), "{e}");
    let e = tuna_err(
        &cwd,
        &[
            "show-batch",
            &config("iris.toml"),
            "--unset",
            "data.test",
            "--split",
            "test",
        ],
    );
    assert!(e.contains("no test split"), "{e}");
    let e = tuna_err(
        &cwd,
        &["show-batch", &config("shapes-cnn.toml"), "--out", "g.jpg"],
    );
    assert!(e.contains("use .svg or .png"), "{e}");
}
