//! Images per second through the input pipeline: PNG decode + RandomCrop(padding) +
//! RandomHorizontalFlip + Normalize, batched by the `DataLoader` (batch 64, shuffled), on 1,024
//! 32x32 RGB and 1,024 28x28 grayscale PNG files of an ImageFolder (no decoded-image cache:
//! every image is decoded every epoch, as torchvision's `ImageFolder` does), with 0 and 2
//! loader workers. The PyTorch side is `benches/torch_image_pipeline.py`, on the same files
//! (written under `target/bench-images` by this bench).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tuna::data::{DataConfig, DataContext, DataLoader, Dataset};

#[path = "support/mod.rs"]
mod benchutil;
use benchutil::splitmix;

const IMAGES: usize = 1024;

/// Writes `IMAGES` PNG files of `side`x`side` with `channels` channels in 10 class folders
/// (pixels from splitmix64, smoothed so they compress like photos), once.
fn image_folder(name: &str, side: u32, channels: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-images")
        .join(name);
    let done = root.join(".complete");
    if done.exists() {
        return root;
    }
    for i in 0..IMAGES {
        let dir = root.join(format!("class{}", i % 10));
        std::fs::create_dir_all(&dir).unwrap();
        let n = (side * side) as usize * channels;
        let pixels: Vec<u8> = (0..n)
            .map(|k| {
                let r = splitmix(i as u64, (k / 4) as u64);
                (r >> 56) as u8 / 2 + ((k % (side as usize * channels)) as u8)
            })
            .collect();
        let color = if channels == 3 {
            image::ExtendedColorType::Rgb8
        } else {
            image::ExtendedColorType::L8
        };
        image::save_buffer(dir.join(format!("{i:04}.png")), &pixels, side, side, color).unwrap();
    }
    std::fs::write(&done, "").unwrap();
    root
}

fn dataset(root: &Path, mode: &str, side: u32, padding: u32) -> Arc<dyn Dataset> {
    let (mean, std) = if mode == "RGB" {
        ("[0.4914, 0.4822, 0.4465]", "[0.2470, 0.2435, 0.2616]")
    } else {
        ("[0.1307]", "[0.3081]")
    };
    let json = format!(
        r#"{{"type": "ImageFolder", "path": {:?}, "mode": "{mode}", "cache_mib": 0,
            "train_transforms": [
              {{"type": "RandomCrop", "size": {side}, "padding": {padding}}},
              {{"type": "RandomHorizontalFlip"}},
              {{"type": "Normalize", "mean": {mean}, "std": {std}}}]}}"#,
        root.display().to_string()
    );
    let cfg: Box<dyn DataConfig> = serde_json::from_str(&json).expect("data config");
    cfg.load(&DataContext::new(0)).expect("images load").train
}

fn pipeline(c: &mut Criterion) {
    tuna::link_all();
    let mut group = c.benchmark_group("image_pipeline");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.sample_size(10);
    for (name, mode, side, padding, channels) in
        [("rgb32", "RGB", 32, 4, 3), ("gray28", "L", 28, 2, 1)]
    {
        let data = dataset(&image_folder(name, side, channels), mode, side, padding);
        for workers in [0usize, 2] {
            let loader = DataLoader::new(data.clone(), 64, true, false, 0).with_workers(workers, 2);
            let mut epoch = 0;
            group.bench_function(format!("{name}/workers{workers}"), |b| {
                b.iter(|| {
                    epoch += 1;
                    let mut n = 0;
                    for batch in loader.try_epoch_from(epoch, 0) {
                        n += batch.expect("batch").len();
                    }
                    assert_eq!(n, IMAGES);
                })
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    tuna::tensor::set_num_threads(1);
    Criterion::default()
}

criterion_group! { name = benches; config = config(); targets = pipeline }
criterion_main!(benches);
