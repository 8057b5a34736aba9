//! Every case of `fixtures/torchvision/transforms.json` (torchvision.transforms.v2 kernels on
//! fixed float32 images, made by `fixtures/torchvision/make_transforms.py`) replayed through
//! Tuna's kernels, with the tolerance each case states: exact for crops, pads, flips,
//! nearest warps and erasing; 1e-6 for colour, blur and normalization; 2e-6 for resizing
//! and hue; 1e-5 for bilinear warps.

use serde_json::Value;
use tuna_data::transform::kernels;
use tuna_data::transform::{
    affine, resized_size, rotate, AffineParams, CenterCrop, Image, Interpolation, Normalize,
    PaddingMode, RandomGrayscale, Size, Transform,
};
use tuna_tensor::Generator;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/torchvision/transforms.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn image(t: &Value) -> Image {
    let s = usizes(&t["shape"]);
    Image::from_vec(s[0], s[1], s[2], floats(&t["data"]))
}

fn interp(a: &Value) -> Interpolation {
    serde_json::from_value(a["interpolation"].clone()).unwrap()
}

fn f(a: &Value, k: &str) -> f64 {
    a[k].as_f64().unwrap()
}

fn center(a: &Value) -> Option<[f64; 2]> {
    a["center"]
        .as_array()
        .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
}

/// Runs one case's op on its input; returns the output values and shape.
fn run(op: &str, a: &Value, input: &Value) -> (Vec<f32>, Vec<usize>) {
    let out = |img: Image| (img.data.clone(), img.shape().to_vec());
    let mut img = if op.starts_with("mix") || op == "cutmix" {
        Image::zeros(1, 1, 1)
    } else {
        image(input)
    };
    let g = &mut Generator::new(0);
    match op {
        "resize" => {
            let size = usizes(&a["size"]);
            let s = if size.len() == 1 {
                Size::One(size[0])
            } else {
                Size::Pair([size[0], size[1]])
            };
            let [h, w] = resized_size(img.height, img.width, s, None);
            let aa = a["antialias"].as_bool().unwrap();
            out(kernels::resize(&img, h, w, interp(a), aa))
        }
        "center_crop" => {
            let s = usizes(&a["size"]);
            let t = CenterCrop {
                size: Size::Pair([s[0], s[1]]),
            };
            out(t.apply(img, g).unwrap())
        }
        "pad" => {
            let p = usizes(&a["padding"]);
            let mode: PaddingMode = serde_json::from_value(a["padding_mode"].clone()).unwrap();
            out(kernels::pad(
                &img,
                [p[0], p[1], p[2], p[3]],
                mode,
                &[f(a, "fill") as f32],
            ))
        }
        "crop" => {
            let i = |k: &str| a[k].as_i64().unwrap();
            out(kernels::crop(
                &img,
                i("top"),
                i("left"),
                i("height") as usize,
                i("width") as usize,
            ))
        }
        "resized_crop" => {
            let i = |k: &str| a[k].as_i64().unwrap();
            let c = kernels::crop(
                &img,
                i("top"),
                i("left"),
                i("height") as usize,
                i("width") as usize,
            );
            let s = usizes(&a["size"]);
            out(kernels::resize(
                &c,
                s[0],
                s[1],
                Interpolation::Bilinear,
                true,
            ))
        }
        "hflip" => {
            kernels::hflip(&mut img);
            out(img)
        }
        "vflip" => {
            kernels::vflip(&mut img);
            out(img)
        }
        "rotate" => {
            let expand = a["expand"].as_bool().unwrap();
            let fill = [f(a, "fill") as f32];
            out(rotate(
                &img,
                f(a, "angle"),
                interp(a),
                expand,
                center(a),
                &fill,
            ))
        }
        "affine" => {
            let t = floats(&a["translate"]);
            let sh = floats(&a["shear"]);
            let p = AffineParams {
                angle: f(a, "angle"),
                translate: [f64::from(t[0]), f64::from(t[1])],
                scale: f(a, "scale"),
                shear: [f64::from(sh[0]), f64::from(sh[1])],
            };
            out(affine(&img, p, interp(a), &[f(a, "fill") as f32], None))
        }
        "brightness" | "contrast" | "saturation" | "hue" => {
            let x = f(a, "factor") as f32;
            match op {
                "brightness" => kernels::adjust_brightness(&mut img, x),
                "contrast" => kernels::adjust_contrast(&mut img, x),
                "saturation" => kernels::adjust_saturation(&mut img, x),
                _ => kernels::adjust_hue(&mut img, x),
            }
            out(img)
        }
        "grayscale" => out(RandomGrayscale { p: 1.0 }.apply(img, g).unwrap()),
        "gaussian_blur" => {
            let k = usizes(&a["kernel_size"]);
            let s = f(a, "sigma") as f32;
            let (kx, ky) = (
                kernels::gaussian_kernel(k[0], s),
                kernels::gaussian_kernel(k[1], s),
            );
            out(kernels::gaussian_blur(&img, &kx, &ky))
        }
        "normalize" => {
            let t = Normalize {
                mean: Some(floats(&a["mean"])),
                std: Some(floats(&a["std"])),
                inplace: false,
            };
            out(t.apply(img, g).unwrap())
        }
        "erase" => {
            let i = |k: &str| a[k].as_u64().unwrap() as usize;
            kernels::erase(
                &mut img,
                i("i"),
                i("j"),
                i("h"),
                i("w"),
                &floats(&a["value"]),
            );
            out(img)
        }
        "mixup" | "cutmix" => {
            let shape = usizes(&input["shape"]);
            let mut v = floats(&input["data"]);
            let per = [shape[1], shape[2], shape[3]];
            if op == "mixup" {
                kernels::mix_rows(&mut v, per.iter().product(), f(a, "lam") as f32);
            } else {
                let b = usizes(&a["box"]);
                kernels::paste_box(&mut v, per, [b[0], b[1], b[2], b[3]]);
            }
            (v, shape)
        }
        "mixup_labels" => {
            let labels = usizes(&a["labels"]);
            let k = a["classes"].as_u64().unwrap() as usize;
            let mut t = vec![0.0f32; labels.len() * k];
            for (i, &l) in labels.iter().enumerate() {
                t[i * k + l] = 1.0;
            }
            kernels::mix_rows(&mut t, k, f(a, "lam") as f32);
            (t, vec![labels.len(), k])
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn every_torchvision_case_matches() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let input = &fx["inputs"][c["input"].as_str().unwrap()];
        let (got, shape) = run(c["op"].as_str().unwrap(), &c["args"], input);
        let want = floats(&c["output"]["data"]);
        let want_shape = usizes(&c["output"]["shape"]);
        let atol = c["atol"].as_f64().unwrap() as f32;
        if shape != want_shape {
            failures.push(format!(
                "{name}: shape {shape:?}, torchvision {want_shape:?}"
            ));
            continue;
        }
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        if worst > atol {
            failures.push(format!("{name}: max |diff| {worst:e} > {atol:e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
