//! The planted-problem benchmark of `tuna diagnose` (start): generated tables (blobs, linear
//! regression at several target scales, label noise, class imbalance, unscaled features) and
//! iris, each trained with one planted fault (or none) over several seeds. Every case states
//! the root cause it plants; the report's primary finding is scored against it.
//!
//! The cases are split once by a fixed rule — the FNV-1a hash of the case name, even: the
//! **seen** half (may be looked at while choosing rules and thresholds), odd: the **held-out**
//! half (only scored) — and precision / recall per finding id are printed for both halves:
//!
//! ```text
//! cargo test --release --test diagnose_benchmark -- --ignored --nocapture
//! ```
//!
//! Every remedy of every report is also applied to its case's experiment as `--set` /
//! `--unset` and must give a valid experiment, and no report may hold two remedies that
//! contradict each other.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tuna::train::diagnose::{toml_value, Change, Diagnosis};
use tuna::train::experiment::Experiment;
use tuna::train::{RunDir, Trainer};

/// xorshift64* with Box-Muller normals: the generated data sets are a pure function of the seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// How a generated classification table is made.
#[derive(Clone, Copy)]
struct Blobs {
    rows: usize,
    features: usize,
    classes: usize,
    /// Features multiplied by this (1 = unit scale).
    scale: f64,
    /// Share of labels replaced by a random other class.
    flip: f64,
    /// Share of the rows in class 0 (the others share the rest); 0 = balanced.
    majority: f64,
    /// Spread of the points around their class centre.
    spread: f64,
}

impl Blobs {
    fn new() -> Blobs {
        Blobs {
            rows: 600,
            features: 8,
            classes: 3,
            scale: 1.0,
            flip: 0.0,
            majority: 0.0,
            spread: 0.8,
        }
    }

    fn write(&self, path: &Path, seed: u64) {
        let mut rng = Rng::new(seed + 1);
        let centres: Vec<Vec<f64>> = (0..self.classes)
            .map(|_| {
                (0..self.features)
                    .map(|_| 2.0 * rng.normal() / (self.features as f64).sqrt() * 2.0)
                    .collect()
            })
            .collect();
        let mut text = String::new();
        for _ in 0..self.rows {
            let class = if self.majority > 0.0 && rng.uniform() < self.majority {
                0
            } else if self.majority > 0.0 {
                1 + (rng.uniform() * (self.classes - 1) as f64) as usize % (self.classes - 1)
            } else {
                (rng.uniform() * self.classes as f64) as usize % self.classes
            };
            for c in &centres[class] {
                let _ = write!(
                    text,
                    "{:.5},",
                    (c + self.spread * rng.normal()) * self.scale
                );
            }
            let label = if rng.uniform() < self.flip {
                (class + 1 + (rng.uniform() * (self.classes - 1) as f64) as usize) % self.classes
            } else {
                class
            };
            let _ = writeln!(text, "{label}");
        }
        std::fs::write(path, text).unwrap();
    }
}

/// A linear regression table `y = offset + scale * (w . x + 0.1 e)`.
fn write_linear(path: &Path, seed: u64, scale: f64, offset: f64) {
    let mut rng = Rng::new(seed + 101);
    let w: Vec<f64> = (0..6).map(|_| rng.normal()).collect();
    let mut text = String::new();
    for _ in 0..500 {
        let x: Vec<f64> = (0..6).map(|_| rng.normal()).collect();
        let y = offset
            + scale * (x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + 0.1 * rng.normal());
        for v in &x {
            let _ = write!(text, "{v:.5},");
        }
        let _ = writeln!(text, "{y:.5}");
    }
    std::fs::write(path, text).unwrap();
}

/// One planted case: its name, the root cause it plants (`healthy` for none) and its
/// experiment text.
struct Case {
    name: String,
    planted: &'static str,
    toml: String,
}

/// The knobs a case changes from the healthy classification experiment.
struct Spec<'a> {
    data: String,
    regression: bool,
    standardize: bool,
    layers: &'a str,
    optimizer: &'a str,
    epochs: usize,
    extra_data: &'a str,
}

fn experiment(s: &Spec<'_>, seed: u64) -> String {
    let (task, loss, metrics) = if s.regression {
        ("task = \"regression\"\n", "MSELoss", "[\"mae\"]")
    } else {
        ("stratified = true\n", "CrossEntropyLoss", "[\"accuracy\"]")
    };
    format!(
        "seed = {seed}\n[data]\ntype = \"Csv\"\npath = {:?}\nheader = false\nvalidation = 0.25\ntest = 0.0\n{task}standardize = {}\n{}\n\
         [loader]\nbatch_size = 32\nshuffle = true\n[model]\ntype = \"Sequential\"\nlayers = [\n  {}\n]\n\
         [loss]\ntype = \"{loss}\"\n[optimizer]\n{}\n[train]\nepochs = {}\nmetrics = {metrics}\n",
        s.data, s.standardize, s.extra_data, s.layers, s.optimizer, s.epochs
    )
}

fn mlp(inputs: usize, hidden: &[usize], act: &str, outputs: usize) -> String {
    let mut layers = Vec::new();
    let mut w = inputs;
    for h in hidden {
        layers.push(format!(
            "{{ type = \"Linear\", in_features = {w}, out_features = {h} }}"
        ));
        layers.push(format!("{{ type = \"{act}\" }}"));
        w = *h;
    }
    layers.push(format!(
        "{{ type = \"Linear\", in_features = {w}, out_features = {outputs} }}"
    ));
    layers.join(",\n  ")
}

const ADAM: &str = "type = \"Adam\"\nlr = 0.01";

/// Every case of one seed; data files go to `dir`.
fn cases(dir: &Path, seed: u64) -> Vec<Case> {
    let file = |name: &str| dir.join(format!("{name}-{seed}.csv")).display().to_string();
    let blob = |name: &str, b: Blobs| {
        let f = file(name);
        b.write(Path::new(&f), seed);
        f
    };
    let base = Blobs::new();
    let clean = blob("blobs", base);
    let spec = |data: &str| Spec {
        data: data.to_string(),
        regression: false,
        standardize: true,
        layers: "",
        optimizer: ADAM,
        epochs: 25,
        extra_data: "",
    };
    let mlp16 = mlp(8, &[16], "ReLU", 3);
    let mut out = Vec::new();
    let mut add = |name: &str, planted: &'static str, s: Spec<'_>| {
        out.push(Case {
            name: format!("{name}-s{seed}"),
            planted,
            toml: experiment(&s, seed),
        });
    };
    add(
        "healthy-blobs",
        "healthy",
        Spec {
            layers: &mlp16,
            ..spec(&clean)
        },
    );
    let wide = mlp(8, &[64, 32], "ReLU", 3);
    add(
        "healthy-blobs-deep",
        "healthy",
        Spec {
            layers: &wide,
            epochs: 15,
            ..spec(&clean)
        },
    );
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/iris/iris.csv");
    let iris_layers = mlp(4, &[16], "ReLU", 3);
    add(
        "healthy-iris",
        "healthy",
        Spec {
            layers: &iris_layers,
            epochs: 60,
            extra_data: "skip_rows = 1\nlabel = 4",
            ..spec(&iris.display().to_string())
        },
    );
    let lin = file("linear");
    write_linear(Path::new(&lin), seed, 1.0, 0.0);
    let reg = mlp(6, &[16], "ReLU", 1);
    add(
        "healthy-regression",
        "healthy",
        Spec {
            regression: true,
            layers: &reg,
            ..spec(&lin)
        },
    );
    let sgd_high = "type = \"SGD\"\nlr = 200.0\nmomentum = 0.9";
    add(
        "lr-high",
        "lr_too_high",
        Spec {
            layers: &mlp16,
            optimizer: sgd_high,
            ..spec(&clean)
        },
    );
    let sgd_low = "type = \"SGD\"\nlr = 1e-6";
    add(
        "lr-low",
        "lr_too_low",
        Spec {
            layers: &mlp16,
            optimizer: sgd_low,
            ..spec(&clean)
        },
    );
    let big = blob(
        "unscaled",
        Blobs {
            scale: 1000.0,
            ..base
        },
    );
    let sgd = "type = \"SGD\"\nlr = 0.01\nmomentum = 0.9";
    add(
        "unscaled-inputs",
        "unscaled_inputs",
        Spec {
            standardize: false,
            layers: &mlp16,
            optimizer: sgd,
            ..spec(&big)
        },
    );
    for (k, scale) in [150.0, 1e4].into_iter().enumerate() {
        let f = file(&format!("linear-big{k}"));
        write_linear(Path::new(&f), seed, scale, scale);
        add(
            &format!("unscaled-targets-{scale}"),
            "unscaled_targets",
            Spec {
                regression: true,
                layers: &reg,
                optimizer: sgd,
                ..spec(&f)
            },
        );
    }
    let noisy = blob(
        "noisy",
        Blobs {
            flip: 0.35,
            spread: 0.4,
            ..base
        },
    );
    add(
        "label-noise",
        "label_noise",
        Spec {
            layers: &mlp16,
            ..spec(&noisy)
        },
    );
    let skew = blob(
        "skew",
        Blobs {
            majority: 0.93,
            spread: 1.6,
            classes: 2,
            ..base
        },
    );
    let two = mlp(8, &[16], "ReLU", 2);
    add(
        "class-imbalance",
        "class_imbalance",
        Spec {
            layers: &two,
            ..spec(&skew)
        },
    );
    let many = blob(
        "many",
        Blobs {
            classes: 10,
            spread: 0.5,
            features: 8,
            ..base
        },
    );
    let tiny = mlp(8, &[1], "ReLU", 10);
    add(
        "model-too-small",
        "model_too_small",
        Spec {
            layers: &tiny,
            epochs: 30,
            ..spec(&many)
        },
    );
    let slow = "type = \"SGD\"\nlr = 0.003";
    add(
        "too-short",
        "training_too_short",
        Spec {
            layers: &mlp16,
            optimizer: slow,
            epochs: 4,
            ..spec(&clean)
        },
    );
    let few = blob(
        "few",
        Blobs {
            rows: 80,
            features: 8,
            spread: 1.4,
            ..base
        },
    );
    let huge = mlp(8, &[256, 256], "ReLU", 3);
    add(
        "overfitting",
        "overfitting",
        Spec {
            layers: &huge,
            epochs: 80,
            ..spec(&few)
        },
    );
    let softmax = format!("{mlp16},\n  {{ type = \"Softmax\", dim = 1 }}");
    add(
        "softmax-into-ce",
        "loss_mismatch",
        Spec {
            layers: &softmax,
            ..spec(&clean)
        },
    );
    let deep = mlp(8, &[32; 8], "Sigmoid", 3);
    let sgd_small = "type = \"SGD\"\nlr = 0.05";
    add(
        "deep-sigmoid",
        "saturating_activations",
        Spec {
            layers: &deep,
            optimizer: sgd_small,
            epochs: 8,
            ..spec(&clean)
        },
    );
    out
}

/// FNV-1a: the fixed rule that splits the cases (even: seen, odd: held out).
fn held_out(name: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 2 == 1
}

/// Trains the case in `dir` and diagnoses the run (`None` when the experiment is rejected).
fn run_case(case: &Case, dir: &Path) -> (PathBuf, Option<Diagnosis>) {
    let config = dir.join(format!("{}.toml", case.name));
    std::fs::write(&config, &case.toml).unwrap();
    let run_dir = dir.join(&case.name);
    let exp =
        Experiment::load_edited(&config, &[], &[]).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let ctx = exp.data_context();
    let Ok(mut trainer) = Trainer::new(exp, &ctx) else {
        return (config, None);
    };
    let run = RunDir::create(&run_dir).unwrap();
    run.write_origin(&config, &[]).unwrap();
    trainer.set_run_dir(run).unwrap();
    let _ = trainer.fit();
    (config, Diagnosis::from_run_dir(&run_dir).ok())
}

/// Every remedy applies to the experiment; returns the number of contradicting pairs.
fn check_remedies(case: &Case, config: &Path, d: &Diagnosis) -> usize {
    let remedies: Vec<_> = d.remedies().collect();
    for r in &remedies {
        let (mut set, mut unset) = (Vec::new(), Vec::new());
        for c in &r.changes {
            match c {
                Change::Set { path, value } => set.push(format!("{path}={}", toml_value(value))),
                Change::Unset { path } => unset.push(path.clone()),
            }
        }
        if let Err(e) = Experiment::load_edited(config, &set, &unset) {
            panic!("{}: remedy `{}` does not apply: {e}", case.name, r.to_cli());
        }
    }
    let mut contradictions = 0;
    for (i, a) in remedies.iter().enumerate() {
        contradictions += remedies[i + 1..]
            .iter()
            .filter(|b| a.contradicts(b))
            .count();
    }
    contradictions
}

/// Per finding id: (true positives, predicted, planted).
type Scores = BTreeMap<String, (usize, usize, usize)>;

fn table(title: &str, results: &[(String, String, bool)]) -> String {
    let mut scores = Scores::new();
    for (planted, got, _) in results {
        scores.entry(planted.clone()).or_default().2 += 1;
        let e = scores.entry(got.clone()).or_default();
        e.1 += 1;
        if planted == got {
            e.0 += 1;
        }
    }
    let right = results.iter().filter(|(p, g, _)| p == g).count();
    let mut s = format!(
        "\n{title}: primary finding right on {right}/{} cases\n| finding | planted | reported | precision | recall |\n|---|---|---|---|---|\n",
        results.len()
    );
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * a as f64 / b as f64)
        }
    };
    for (id, (tp, predicted, planted)) in &scores {
        let _ = writeln!(
            s,
            "| {id} | {planted} | {predicted} | {} | {} |",
            pct(*tp, *predicted),
            pct(*tp, *planted)
        );
    }
    s
}

#[test]
fn the_split_rule_is_fixed() {
    // The rule must never change once cases have been looked at: these are pinned.
    assert!(!held_out("lr-high-s0"));
    assert!(held_out("healthy-blobs-s0"));
    assert!(held_out("label-noise-s1"));
    assert!(!held_out("overfitting-s2"));
    let names: Vec<String> = (0..3)
        .flat_map(|s| ["healthy-blobs", "lr-high", "label-noise"].map(|n| format!("{n}-s{s}")))
        .collect();
    let held = names.iter().filter(|n| held_out(n)).count();
    assert!(held > 0 && held < names.len(), "{names:?}");
}

#[test]
#[ignore = "the planted-problem benchmark: trains ~50 small runs"]
fn planted_problem_benchmark() {
    tuna::link_all();
    let dir = common::scratch("diagbench", "cases");
    let seeds: u64 = std::env::var("TUNA_BENCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let (mut seen, mut held) = (Vec::new(), Vec::new());
    let mut contradictions = 0;
    for seed in 0..seeds {
        for case in cases(&dir, seed) {
            let (config, d) = run_case(&case, &dir);
            let got = match &d {
                Some(d) => {
                    contradictions += check_remedies(&case, &config, d);
                    d.primary.to_string()
                }
                None => "rejected".to_string(),
            };
            let ok = got == case.planted;
            eprintln!(
                "{:<32} {:<9} planted {:<24} got {got}{}",
                case.name,
                if held_out(&case.name) {
                    "held-out"
                } else {
                    "seen"
                },
                case.planted,
                if ok { "" } else { "   <-- wrong" }
            );
            let row = (case.planted.to_string(), got, ok);
            if held_out(&case.name) {
                held.push(row);
            } else {
                seen.push(row);
            }
        }
    }
    println!("{}", table("seen half", &seen));
    println!("{}", table("held-out half", &held));
    println!("reports with contradicting remedies: {contradictions}");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(contradictions, 0);
}
