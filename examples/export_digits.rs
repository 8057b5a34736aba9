//! Writes the bundled MNIST digits (`datasets/mnist-10k`) as an ImageFolder tree of PNG files,
//! `OUT/train/<digit>/<n>.png` and `OUT/test/<digit>/<n>.png`, so that an ImageFolder
//! experiment can run on real images without a download:
//!
//! ```text
//! cargo run --release --example export_digits              # writes ./digits
//! cargo run --release --example export_digits -- /tmp/digits --limit 1000
//! cargo run --release -- train examples/configs/digits-folder.toml
//! ```
//!
//! `--limit N` keeps the first N images of each split. An existing, non-empty OUT is left
//! alone (an error), so nothing of yours is overwritten.

use std::error::Error;
use std::path::{Path, PathBuf};

use tuna::data::image::{export_image_folder, MemoryImages};
use tuna::data::{find_idx_file, read_idx_images, read_idx_labels, MNIST_FILES};

/// The bundled MNIST-10k folder.
pub fn bundled_mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist-10k")
}

/// Exports the first `limit` (default: all) images of each split of the MNIST files in
/// `mnist` under `out`; returns the number of train and test images written.
///
/// # Errors
/// `out` exists and is not empty, or a file cannot be read or written.
pub fn run(
    mnist: &Path,
    out: &Path,
    limit: Option<usize>,
) -> Result<(usize, usize), Box<dyn Error>> {
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} exists and is not empty: give another folder (nothing was written)",
            out.display()
        )
        .into());
    }
    let classes: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let mut counts = [0; 2];
    for (split, (images, labels)) in [("train", (0, 1)), ("test", (2, 3))] {
        let img_file = find_idx_file(mnist, MNIST_FILES[images])?;
        let idx = read_idx_images(&img_file)?;
        let labels = read_idx_labels(&find_idx_file(mnist, MNIST_FILES[labels])?)?;
        let n = limit.unwrap_or(idx.count).min(idx.count);
        let per = idx.rows * idx.cols;
        let store = MemoryImages::new(
            [1, idx.rows, idx.cols],
            idx.pixels[..n * per].to_vec(),
            img_file.display().to_string(),
        );
        let labels: Vec<usize> = labels[..n].iter().map(|&l| usize::from(l)).collect();
        let written = export_image_folder(&out.join(split), &store, &labels, &classes)?;
        counts[usize::from(split == "test")] = written;
    }
    Ok((counts[0], counts[1]))
}

fn parse_args() -> Result<(PathBuf, Option<usize>), Box<dyn Error>> {
    let mut out = PathBuf::from("digits");
    let mut limit = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--limit" => {
                let v = args.next().ok_or("--limit needs a number")?;
                limit = Some(
                    v.parse()
                        .map_err(|_| format!("--limit: not a number: {v}"))?,
                );
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}").into()),
            s => out = PathBuf::from(s),
        }
    }
    Ok((out, limit))
}

fn main() {
    let result = parse_args().and_then(|(out, limit)| {
        let (train, test) = run(&bundled_mnist(), &out, limit)?;
        println!(
            "wrote {train} training and {test} test digits under {}",
            out.display()
        );
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
