//! Untrusted input never panics and corrupt input is never accepted: seeded mutations (byte
//! flips, cuts, insertions, duplications, swaps, digits turned to letters) of experiment
//! files, CSV tables, IDX files, checkpoints and weights files, 10,000 of each, through the
//! readers the CLI uses. Checkpoints and checksummed weights must reject every mutation.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use tuna::data::{Column, Csv, DataConfig, DataContext};
use tuna::train::checkpoint::Checkpoint;
use tuna::train::experiment::Experiment;

const MUTATIONS: usize = 10_000;

/// SplitMix64: a seeded, dependency-free stream of numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to three random edits of `input`.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        let n = b.len();
        let i = rng.below(n);
        match rng.below(7) {
            0 if n > 0 => b[i] ^= 1 << rng.below(8),
            1 if n > 0 => b[i] = rng.next() as u8,
            2 => b.truncate(i),
            3 => {
                let junk: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
                b.splice(i..i, junk);
            }
            4 if n > 1 => {
                let end = (i + 1 + rng.below(32)).min(n);
                let piece = b[i..end].to_vec();
                let at = rng.below(n);
                b.splice(at..at, piece);
            }
            5 if n > 1 => {
                let j = rng.below(n);
                b.swap(i, j);
            }
            _ => {
                if let Some(d) = b
                    .iter()
                    .position(|c| c.is_ascii_digit())
                    .map(|p| (p + i) % n)
                {
                    b[d] = b"xq-.e"[rng.below(5)];
                }
            }
        }
    }
    b
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tuna-fuzz-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `f` on every mutation of `seed_input`; a panic fails the test with the mutation.
fn fuzz(name: &str, seed: u64, seed_input: &[u8], mut f: impl FnMut(&[u8])) {
    let mut rng = Rng(seed);
    for k in 0..MUTATIONS {
        let m = mutate(seed_input, &mut rng);
        if catch_unwind(AssertUnwindSafe(|| f(&m))).is_err() {
            panic!(
                "{name}: mutation {k} panicked; input ({} bytes): {:?}",
                m.len(),
                String::from_utf8_lossy(&m[..m.len().min(400)])
            );
        }
    }
}

#[test]
fn experiment_files() {
    tuna::link_all();
    for (i, file) in [
        "iris.toml",
        "mnist-cnn.toml",
        "names-gru.toml",
        "spam-transformer.toml",
    ]
    .iter()
    .enumerate()
    {
        let text = std::fs::read(repo().join("examples/configs").join(file)).unwrap();
        fuzz(file, i as u64, &text, |m| {
            let Ok(text) = std::str::from_utf8(m) else {
                return;
            };
            if let Ok(exp) = Experiment::from_toml_str(text) {
                // a valid experiment renders and parses back
                Experiment::from_toml_str(&exp.to_toml_string()).unwrap();
            }
        });
    }
}

#[test]
fn csv_tables() {
    tuna::link_all();
    let dir = scratch("csv");
    let iris = std::fs::read(repo().join("datasets/iris/iris.csv")).unwrap();
    let table = b"id,color,size,weight,kind\n1,red,3.5,10,a\n2,blue,,12,b\n3,red,4,NA,a\n4,green,2.5,9,b\n5,blue,3,11,a\n6,red,2,8,b\n".to_vec();
    let cases: [(&[u8], Csv); 2] = [
        (&iris, {
            let mut c = Csv::new(dir.join("t.csv"));
            c.header = false;
            c.skip_rows = 1;
            c
        }),
        (&table, {
            let mut c = Csv::new(dir.join("t.csv"));
            c.label = Some(Column::Name("kind".into()));
            c.id_column = Some(Column::Name("id".into()));
            c.validation = 0.3.into();
            c
        }),
    ];
    for (i, (input, cfg)) in cases.iter().enumerate() {
        fuzz("csv", 100 + i as u64, input, |m| {
            std::fs::write(dir.join("t.csv"), m).unwrap();
            let _ = cfg.load(&DataContext::new(0));
        });
    }
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn idx_files() {
    let dir = scratch("idx");
    let pixels: Vec<u8> = (0..20 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let images = idx(2051, &[20, 28, 28], &pixels);
    let labels = idx(2049, &[20], &(0..20).map(|i| i % 10).collect::<Vec<u8>>());
    let (ip, lp) = (dir.join("images"), dir.join("labels"));
    std::fs::write(&lp, &labels).unwrap();
    fuzz("idx images", 200, &images, |m| {
        std::fs::write(&ip, m).unwrap();
        let r = tuna::data::read_mnist(&ip, &lp, true);
        if m != images.as_slice() && m.len() != images.len() {
            assert!(r.is_err(), "a file of the wrong length was accepted");
        }
    });
    std::fs::write(&ip, &images).unwrap();
    fuzz("idx labels", 201, &labels, |m| {
        std::fs::write(&lp, m).unwrap();
        let _ = tuna::data::read_mnist(&ip, &lp, true);
    });
}

/// A real checkpoint and weights file from a short iris run.
fn trained_run() -> PathBuf {
    let dir = scratch("run");
    let exp = Experiment::load_edited(
        &repo().join("examples/configs/iris.toml"),
        &["train.epochs=2".into(), "train.signals=false".into()],
        &[],
    )
    .unwrap();
    let ctx = exp.data_context();
    let mut t = tuna::train::Trainer::new(exp, &ctx).unwrap();
    t.set_run_dir(tuna::train::RunDir::create(&dir.join("run")).unwrap())
        .unwrap();
    t.fit().unwrap();
    dir.join("run")
}

#[test]
fn checkpoints_and_weights_reject_every_mutation() {
    tuna::link_all();
    let run = trained_run();
    let last = run.join("checkpoints/last.ckpt");
    let ckpt = std::fs::read(&last).unwrap();
    fuzz("checkpoint", 300, &ckpt, |m| {
        let r = Checkpoint::from_bytes(m, Path::new("last.ckpt"));
        if m != ckpt.as_slice() {
            assert!(r.is_err(), "a corrupt checkpoint was accepted");
        }
    });
    let weights_path = run.join("model.safetensors");
    let weights = std::fs::read(&weights_path).unwrap();
    let dir = tuna::train::RunDir::open(&run).unwrap();
    let exp = Experiment::load(&run.join("config.toml"), &[]).unwrap();
    let model = exp
        .model
        .build(&mut tuna::nn::BuildContext::new(0))
        .unwrap();
    fuzz("weights", 301, &weights, |m| {
        std::fs::write(&weights_path, m).unwrap();
        let r = dir.load_weights(model.as_ref());
        if m != weights.as_slice() {
            assert!(r.is_err(), "corrupt weights were accepted");
        }
        // without the recorded checksum, the reader itself must not panic
        let _ = tuna::nn::deserialize_state(m);
    });
}
