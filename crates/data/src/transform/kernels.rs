//! The deterministic image operations behind the transforms, each computing what the
//! torchvision.transforms.v2.functional kernel of the same name computes on a float image
//! tensor (the random parameters are drawn by the transforms).

use super::args::{Interpolation, PaddingMode};
use super::image::Image;

/// One output index's source range and weights along an axis.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// The antialiased filter weights of PyTorch's `_upsample_{bilinear,bicubic}2d_aa` (PIL's
/// resampling): the filter of support `interp/2` widened by the scale when downsampling,
/// normalized to sum 1 over the taps inside the image. Computed in f32 as PyTorch does for a
/// float32 image. With `antialias = false` the support is not widened (plain bilinear).
fn aa_taps(input: usize, output: usize, interp: Interpolation, antialias: bool) -> Vec<Taps> {
    let scale = input as f32 / output as f32;
    let (interp_size, filter): (f32, fn(f32) -> f32) = match interp {
        Interpolation::Bicubic => (4.0, cubic_aa),
        _ => (2.0, linear_aa),
    };
    let widen = antialias && scale >= 1.0;
    let support = if widen {
        interp_size * 0.5 * scale
    } else {
        interp_size * 0.5
    };
    let invscale = if widen { 1.0 / scale } else { 1.0 };
    (0..output)
        .map(|i| {
            let center = scale * (i as f32 + 0.5);
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(input as i64).max(0) as usize;
            let mut weights: Vec<f32> = (xmin..xmax)
                .map(|j| filter((j as f32 - center + 0.5) * invscale))
                .collect();
            let total: f32 = weights.iter().sum();
            if total != 0.0 {
                for w in &mut weights {
                    *w /= total;
                }
            }
            Taps {
                start: xmin,
                weights,
            }
        })
        .collect()
}

fn linear_aa(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// Keys' cubic with `a = -0.5` (PyTorch's antialiased bicubic, as PIL).
fn cubic_aa(x: f32) -> f32 {
    const A: f32 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// The taps of PyTorch's plain `upsample_bicubic2d` (`align_corners=False`, `a = -0.75`,
/// indices clamped to the border).
fn cubic_taps(input: usize, output: usize) -> Vec<[(usize, f32); 4]> {
    const A: f32 = -0.75;
    let cc1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let cc2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let scale = input as f32 / output as f32;
    let last = input as i64 - 1;
    (0..output)
        .map(|i| {
            let src = scale * (i as f32 + 0.5) - 0.5;
            let i0 = src.floor();
            let t = src - i0;
            let w = [cc2(t + 1.0), cc1(t), cc1(1.0 - t), cc2(2.0 - t)];
            std::array::from_fn(|k| {
                let idx = (i0 as i64 - 1 + k as i64).clamp(0, last) as usize;
                (idx, w[k])
            })
        })
        .collect()
}

/// PyTorch's `nearest` source index (`floor(dst · in/out)` in f32, as `interpolate`).
fn nearest_index(i: usize, input: usize, output: usize) -> usize {
    if input == output {
        return i;
    }
    if output == 2 * input {
        return i >> 1;
    }
    let scale = input as f32 / output as f32;
    ((i as f32 * scale).floor() as usize).min(input - 1)
}

/// Resizes `img` to `height × width` (`torchvision.transforms.v2.functional.resize` on a
/// float image: `torch.nn.functional.interpolate` with `align_corners=False`, antialiased
/// for bilinear and bicubic when `antialias`).
pub fn resize(
    img: &Image,
    height: usize,
    width: usize,
    interp: Interpolation,
    antialias: bool,
) -> Image {
    if (height, width) == (img.height, img.width) {
        return img.clone();
    }
    match interp {
        Interpolation::Nearest => resize_nearest(img, height, width),
        Interpolation::Bicubic if !antialias => resize_cubic_plain(img, height, width),
        _ => {
            // width first, then height, skipping an axis whose size does not change
            let mut out = img.clone();
            if width != img.width {
                out = resize_axis(&out, &aa_taps(img.width, width, interp, antialias), true);
            }
            if height != img.height {
                out = resize_axis(&out, &aa_taps(img.height, height, interp, antialias), false);
            }
            out
        }
    }
}

fn resize_axis(img: &Image, taps: &[Taps], horizontal: bool) -> Image {
    let (c, h, w) = (img.channels, img.height, img.width);
    let (oh, ow) = if horizontal {
        (h, taps.len())
    } else {
        (taps.len(), w)
    };
    let mut out = Image::zeros(c, oh, ow);
    for ch in 0..c {
        let src = img.channel(ch);
        let dst = &mut out.data[ch * oh * ow..(ch + 1) * oh * ow];
        for y in 0..oh {
            for x in 0..ow {
                let v = if horizontal {
                    let t = &taps[x];
                    let row = &src[y * w + t.start..];
                    weighted(t.weights.iter().zip(row))
                } else {
                    let t = &taps[y];
                    let col = (t.start..).map(|yy| &src[yy * w + x]);
                    weighted(t.weights.iter().zip(col))
                };
                dst[y * ow + x] = v;
            }
        }
    }
    out
}

fn weighted<'a>(mut pairs: impl Iterator<Item = (&'a f32, &'a f32)>) -> f32 {
    let Some((w0, v0)) = pairs.next() else {
        return 0.0;
    };
    pairs.fold(v0 * w0, |acc, (w, v)| acc + v * w)
}

fn resize_nearest(img: &Image, height: usize, width: usize) -> Image {
    let xs: Vec<usize> = (0..width)
        .map(|x| nearest_index(x, img.width, width))
        .collect();
    let mut out = Image::zeros(img.channels, height, width);
    for ch in 0..img.channels {
        let src = img.channel(ch);
        for y in 0..height {
            let sy = nearest_index(y, img.height, height);
            for (x, &sx) in xs.iter().enumerate() {
                out.data[(ch * height + y) * width + x] = src[sy * img.width + sx];
            }
        }
    }
    out
}

fn resize_cubic_plain(img: &Image, height: usize, width: usize) -> Image {
    let xt = cubic_taps(img.width, width);
    let yt = cubic_taps(img.height, height);
    let mut out = Image::zeros(img.channels, height, width);
    for ch in 0..img.channels {
        let src = img.channel(ch);
        for (y, ty) in yt.iter().enumerate() {
            for (x, tx) in xt.iter().enumerate() {
                let row = |sy: usize| {
                    tx.iter()
                        .fold(0.0f32, |a, &(sx, w)| a + src[sy * img.width + sx] * w)
                };
                let v = ty.iter().fold(0.0f32, |a, &(sy, w)| a + row(sy) * w);
                out.data[(ch * height + y) * width + x] = v;
            }
        }
    }
    out
}

/// The source index of `i` (which may lie outside `0..n`) under a padding mode, or `None`
/// for constant padding outside the image.
fn pad_index(i: i64, n: usize, mode: PaddingMode) -> Option<usize> {
    let n = n as i64;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    let mut i = i;
    match mode {
        PaddingMode::Constant => None,
        PaddingMode::Edge => Some(i.clamp(0, n - 1) as usize),
        PaddingMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            while !(0..n).contains(&i) {
                i = if i < 0 { -i } else { 2 * (n - 1) - i };
            }
            Some(i as usize)
        }
        PaddingMode::Symmetric => {
            while !(0..n).contains(&i) {
                i = if i < 0 { -i - 1 } else { 2 * n - 1 - i };
            }
            Some(i as usize)
        }
    }
}

/// Pads `img` by `[left, top, right, bottom]` pixels (`F.pad`, torchvision's argument
/// order): `constant` with `fill` (one value per channel), `edge` repeats the border,
/// `reflect` mirrors without repeating it, `symmetric` mirrors repeating it.
pub fn pad(img: &Image, ltrb: [usize; 4], mode: PaddingMode, fill: &[f32]) -> Image {
    let [l, t, r, b] = ltrb;
    window(
        img,
        -(t as i64),
        -(l as i64),
        img.height + t + b,
        img.width + l + r,
        mode,
        fill,
    )
}

/// The `height × width` window of `img` whose top-left corner is at `(top, left)` (which
/// may lie outside the image), the outside filled as `mode` says: a pad followed by a crop
/// in one pass.
pub fn window(
    img: &Image,
    top: i64,
    left: i64,
    height: usize,
    width: usize,
    mode: PaddingMode,
    fill: &[f32],
) -> Image {
    let xs: Vec<Option<usize>> = (0..width)
        .map(|x| pad_index(left + x as i64, img.width, mode))
        .collect();
    let mut out = Image::zeros(img.channels, height, width);
    for ch in 0..img.channels {
        let src = img.channel(ch);
        let f = fill_of(fill, ch);
        for y in 0..height {
            let sy = pad_index(top + y as i64, img.height, mode);
            let dst = &mut out.data[(ch * height + y) * width..(ch * height + y + 1) * width];
            for (d, sx) in dst.iter_mut().zip(&xs) {
                *d = match (sy, sx) {
                    (Some(sy), Some(sx)) => src[sy * img.width + sx],
                    _ => f,
                };
            }
        }
    }
    out
}

fn fill_of(fill: &[f32], ch: usize) -> f32 {
    match fill.len() {
        0 => 0.0,
        1 => fill[0],
        _ => fill[ch.min(fill.len() - 1)],
    }
}

/// The `height × width` crop at `(top, left)` (`F.crop`); parts outside the image are 0.
pub fn crop(img: &Image, top: i64, left: i64, height: usize, width: usize) -> Image {
    if top == 0 && left == 0 && height == img.height && width == img.width {
        return img.clone();
    }
    window(img, top, left, height, width, PaddingMode::Constant, &[0.0])
}

/// Mirrors left-right (`F.horizontal_flip`).
pub fn hflip(img: &mut Image) {
    let w = img.width;
    for row in img.data.chunks_exact_mut(w.max(1)) {
        row.reverse();
    }
}

/// Mirrors top-bottom (`F.vertical_flip`).
pub fn vflip(img: &mut Image) {
    let (h, w) = (img.height, img.width);
    for plane in img.data.chunks_exact_mut((h * w).max(1)) {
        for y in 0..h / 2 {
            let (a, b) = plane.split_at_mut((h - 1 - y) * w);
            a[y * w..(y + 1) * w].swap_with_slice(&mut b[..w]);
        }
    }
}

/// The inverse affine matrix of torchvision's `_get_inverse_affine_matrix` (angle and shear
/// in degrees, `center` relative to the image centre, in pixels): output pixel → input
/// pixel, row-major `[a, b, c, d, e, f]`.
pub fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear[0].to_radians(), shear[1].to_radians());
    let [cx, cy] = center;
    let [tx, ty] = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(a * sx.tan() + rot.sin());
    let c = (rot - sy).sin() / sy.cos();
    let d = rot.cos() - c * sx.tan();
    let mut m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0];
    m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty);
    m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty);
    m
}

/// Resamples `img` through the inverse affine `matrix` (torchvision's `_affine_grid` +
/// `grid_sample(padding_mode="zeros", align_corners=False)` and its fill mask), in f32 as
/// torchvision computes it for a float32 image. Pixels sampled from outside the image get
/// `fill` (nearest), or are blended toward it by the in-image weight (bilinear).
pub fn affine(
    img: &Image,
    matrix: &[f64; 6],
    out_size: [usize; 2],
    interp: Interpolation,
    fill: &[f32],
) -> Image {
    let (h, w) = (img.height, img.width);
    let [oh, ow] = out_size;
    let theta: Vec<f32> = matrix.iter().map(|&v| v as f32).collect();
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    // rescaled_theta = theta^T / [w/2, h/2]
    let rt = [
        theta[0] / hw,
        theta[3] / hh,
        theta[1] / hw,
        theta[4] / hh,
        theta[2] / hw,
        theta[5] / hh,
    ];
    let mut out = Image::zeros(img.channels, oh, ow);
    for y in 0..oh {
        let by = y as f32 - (oh as f32 - 1.0) * 0.5;
        for x in 0..ow {
            let bx = x as f32 - (ow as f32 - 1.0) * 0.5;
            let gx = bx * rt[0] + by * rt[2] + rt[4];
            let gy = bx * rt[1] + by * rt[3] + rt[5];
            let ix = ((gx + 1.0) * w as f32 - 1.0) / 2.0;
            let iy = ((gy + 1.0) * h as f32 - 1.0) / 2.0;
            sample_at(img, &mut out, y * ow + x, ix, iy, interp, fill);
        }
    }
    out
}

/// Writes the sample of `img` at source position `(ix, iy)` to every channel of `out` at
/// plane offset `at`.
fn sample_at(
    img: &Image,
    out: &mut Image,
    at: usize,
    ix: f32,
    iy: f32,
    interp: Interpolation,
    fill: &[f32],
) {
    let (h, w) = (img.height as i64, img.width as i64);
    let plane = img.plane();
    let out_plane = out.plane();
    let inside = |x: i64, y: i64| (0..w).contains(&x) && (0..h).contains(&y);
    if interp == Interpolation::Nearest {
        let (x, y) = (ix.round_ties_even() as i64, iy.round_ties_even() as i64);
        for c in 0..img.channels {
            out.data[c * out_plane + at] = if inside(x, y) {
                img.data[c * plane + (y * w + x) as usize]
            } else {
                fill_of(fill, c)
            };
        }
        return;
    }
    let (x0, y0) = (ix.floor(), iy.floor());
    let (tx, ty) = (ix - x0, iy - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let corners = [
        (x0, y0, (1.0 - tx) * (1.0 - ty)),
        (x0 + 1, y0, tx * (1.0 - ty)),
        (x0, y0 + 1, (1.0 - tx) * ty),
        (x0 + 1, y0 + 1, tx * ty),
    ];
    let mask: f32 = corners
        .iter()
        .filter(|(x, y, _)| inside(*x, *y))
        .map(|c| c.2)
        .sum();
    for c in 0..img.channels {
        let s = corners
            .iter()
            .filter(|(x, y, _)| inside(*x, *y))
            .fold(0.0f32, |a, &(x, y, wt)| {
                a + img.data[c * plane + (y * w + x) as usize] * wt
            });
        let f = fill_of(fill, c);
        out.data[c * out_plane + at] = (s - f) * mask + f;
    }
}

/// Rotates by `k` quarter turns counter-clockwise (`torch.rot90(img, k, dims=(-2, -1))`,
/// torchvision's fast path for rotations by multiples of 90°).
pub fn rot90(img: &Image, k: usize) -> Image {
    let (h, w) = (img.height, img.width);
    let k = k % 4;
    let (oh, ow) = if k % 2 == 1 { (w, h) } else { (h, w) };
    let mut out = Image::zeros(img.channels, oh, ow);
    for c in 0..img.channels {
        let src = img.channel(c);
        for y in 0..oh {
            for x in 0..ow {
                let (sy, sx) = match k {
                    0 => (y, x),
                    1 => (x, w - 1 - y),
                    2 => (h - 1 - y, w - 1 - x),
                    _ => (h - 1 - x, y),
                };
                out.data[(c * oh + y) * ow + x] = src[sy * w + sx];
            }
        }
    }
    out
}

/// The `[height, width]` that holds the whole image after the affine `matrix` (torchvision's
/// `_compute_affine_output_size`, for `expand=True`).
pub fn affine_output_size(matrix: &[f64; 6], height: usize, width: usize) -> [usize; 2] {
    let (hw, hh) = (0.5 * width as f64, 0.5 * height as f64);
    let [a, b, c, d, e, f] = *matrix;
    let pts = [(-hw, -hh), (-hw, hh), (hw, hh), (hw, -hh)];
    let xs = pts.map(|(x, y)| a * x + b * y + c + hw);
    let ys = pts.map(|(x, y)| d * x + e * y + f + hh);
    let trunc = |v: f64| (v * 1e4).trunc() * 1e-4;
    let span = |v: [f64; 4]| {
        let max = v.iter().copied().fold(f64::MIN, f64::max);
        let min = v.iter().copied().fold(f64::MAX, f64::min);
        (trunc(max).ceil() - trunc(min).floor()) as usize
    };
    [span(ys), span(xs)]
}

/// Luma `0.2989 R + 0.587 G + 0.114 B` per pixel (`F.rgb_to_grayscale`); a one-channel
/// image is returned as it is.
pub fn grayscale_plane(img: &Image) -> Vec<f32> {
    if img.channels == 1 {
        return img.data.clone();
    }
    let (r, g, b) = (img.channel(0), img.channel(1), img.channel(2));
    r.iter()
        .zip(g)
        .zip(b)
        .map(|((&r, &g), &b)| r * 0.2989 + g * 0.587 + b * 0.114)
        .collect()
}

/// `clamp(ratio · img + (1 - ratio) · other, 0, 1)` where `other` is one plane broadcast
/// over the channels, or a constant (torchvision's `_blend`).
fn blend(img: &mut Image, other: Blend<'_>, ratio: f32) {
    let plane = img.plane();
    for (i, v) in img.data.iter_mut().enumerate() {
        let o = match other {
            Blend::Plane(p) => p[i % plane],
            Blend::Value(x) => x,
        };
        *v = (*v * ratio + o * (1.0 - ratio)).clamp(0.0, 1.0);
    }
}

#[derive(Clone, Copy)]
enum Blend<'a> {
    Plane(&'a [f32]),
    Value(f32),
}

/// `F.adjust_brightness`: `clamp(img · factor, 0, 1)`.
pub fn adjust_brightness(img: &mut Image, factor: f32) {
    for v in &mut img.data {
        *v = (*v * factor).clamp(0.0, 1.0);
    }
}

/// `F.adjust_contrast`: blend with the mean of the grayscale image.
pub fn adjust_contrast(img: &mut Image, factor: f32) {
    let gray = grayscale_plane(img);
    let mean = gray.iter().map(|&v| f64::from(v)).sum::<f64>() / gray.len().max(1) as f64;
    blend(img, Blend::Value(mean as f32), factor);
}

/// `F.adjust_saturation`: blend with the grayscale image (grayscale images are unchanged).
pub fn adjust_saturation(img: &mut Image, factor: f32) {
    if img.channels == 1 {
        return;
    }
    let gray = grayscale_plane(img);
    blend(img, Blend::Plane(&gray), factor);
}

/// `F.adjust_hue`: shift the hue (in turns, `[-0.5, 0.5]`) through HSV, as torchvision's
/// `_rgb_to_hsv` / `_hsv_to_rgb` (grayscale images are unchanged).
pub fn adjust_hue(img: &mut Image, factor: f32) {
    if img.channels == 1 {
        return;
    }
    let plane = img.plane();
    for i in 0..plane {
        let rgb = [img.data[i], img.data[plane + i], img.data[2 * plane + i]];
        let [h, s, v] = rgb_to_hsv(rgb);
        let h = (h + factor).rem_euclid(1.0);
        let out = hsv_to_rgb([h, s, v]);
        for (c, o) in out.into_iter().enumerate() {
            img.data[c * plane + i] = o;
        }
    }
}

fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let range = maxc - minc;
    let s = range / if eqc { 1.0 } else { maxc };
    let div = if eqc { 1.0 } else { range };
    let (rc, gc, bc) = ((maxc - r) / div, (maxc - g) / div, (maxc - b) / div);
    let hr = if maxc == r { bc - gc } else { 0.0 };
    let hg = if maxc == g && maxc != r {
        2.0 + rc - bc
    } else {
        0.0
    };
    let hb = if maxc != g && maxc != r {
        4.0 + gc - rc
    } else {
        0.0
    };
    let h = ((hr + hg + hb) * (1.0 / 6.0) + 1.0) % 1.0;
    [h, s, maxc]
}

fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let h6 = h * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let i = (i as i32).rem_euclid(6) as usize;
    let sxf = s * f;
    let q = ((1.0 - sxf) * v).clamp(0.0, 1.0);
    let t = ((sxf + (1.0 - s)) * v).clamp(0.0, 1.0);
    let p = ((1.0 - s) * v).clamp(0.0, 1.0);
    let vpqt = [v, p, q, t];
    const SELECT: [[usize; 6]; 3] = [[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]];
    [vpqt[SELECT[0][i]], vpqt[SELECT[1][i]], vpqt[SELECT[2][i]]]
}

/// MixUp's blend: `t ← λ·t + (1 − λ)·roll(t, 1)` over the batch axis (row `i` with row
/// `i − 1`, row 0 with the last), for rows of `width` values (torchvision's
/// `batch.roll(1, 0).mul_(1 - lam).add_(batch.mul(lam))`).
pub fn mix_rows(values: &mut [f32], width: usize, lam: f32) {
    let n = values.len() / width.max(1);
    if n < 2 {
        return;
    }
    let last: Vec<f32> = values[(n - 1) * width..].to_vec();
    // row i mixes with row i - 1 (row 0 with the last): go backwards so each row still
    // reads its unmixed neighbour
    for i in (1..n).rev() {
        let (prev, cur) = values.split_at_mut(i * width);
        let prev = &prev[(i - 1) * width..];
        for (c, p) in cur[..width].iter_mut().zip(prev) {
            *c = *c * lam + *p * (1.0 - lam);
        }
    }
    for (c, p) in values[..width].iter_mut().zip(&last) {
        *c = *c * lam + *p * (1.0 - lam);
    }
}

/// CutMix's paste: the box `[x1, y1, x2, y2]` of every `[C, H, W]` image of the batch is
/// replaced by the same box of the previous image (the first takes the last's).
pub fn paste_box(images: &mut [f32], shape: [usize; 3], bbox: [usize; 4]) {
    let [c, h, w] = shape;
    let [x1, y1, x2, y2] = bbox;
    let per = c * h * w;
    let n = images.len() / per.max(1);
    if n < 2 {
        return;
    }
    let original = images.to_vec();
    for i in 0..n {
        let src = &original[((i + n - 1) % n) * per..][..per];
        let dst = &mut images[i * per..(i + 1) * per];
        for ch in 0..c {
            for y in y1..y2 {
                let o = (ch * h + y) * w;
                dst[o + x1..o + x2].copy_from_slice(&src[o + x1..o + x2]);
            }
        }
    }
}

/// `F.erase`: the `h × w` box at `(i, j)` set to `values` (one, or one per channel).
pub fn erase(img: &mut Image, i: usize, j: usize, h: usize, w: usize, values: &[f32]) {
    let (ih, iw) = (img.height, img.width);
    for c in 0..img.channels {
        let v = fill_of(values, c);
        for y in i..(i + h).min(ih) {
            for x in j..(j + w).min(iw) {
                img.data[(c * ih + y) * iw + x] = v;
            }
        }
    }
}

/// The normalized 1-D Gaussian of torchvision's `_get_gaussian_kernel1d`.
pub fn gaussian_kernel(size: usize, sigma: f32) -> Vec<f32> {
    let half = (size as f32 - 1.0) * 0.5;
    let pdf: Vec<f32> = (0..size)
        .map(|i| {
            let x = if size > 1 {
                -half + i as f32 * (2.0 * half / (size as f32 - 1.0))
            } else {
                0.0
            };
            (-0.5 * (x / sigma) * (x / sigma)).exp()
        })
        .collect();
    let sum: f32 = pdf.iter().sum();
    pdf.into_iter().map(|p| p / sum).collect()
}

/// `F.gaussian_blur`: separable convolution with the `[kx, ky]` kernels, reflect-padded.
pub fn gaussian_blur(img: &Image, kx: &[f32], ky: &[f32]) -> Image {
    let (h, w) = (img.height, img.width);
    let (rx, ry) = (kx.len() / 2, ky.len() / 2);
    let reflect = |i: i64, n: usize| pad_index(i, n, PaddingMode::Reflect).unwrap_or(0);
    let mut tmp = Image::zeros(img.channels, h, w);
    for ch in 0..img.channels {
        let src = img.channel(ch);
        for y in 0..h {
            for x in 0..w {
                let v = kx.iter().enumerate().fold(0.0f32, |a, (k, &wt)| {
                    a + src[y * w + reflect(x as i64 + k as i64 - rx as i64, w)] * wt
                });
                tmp.data[(ch * h + y) * w + x] = v;
            }
        }
    }
    let mut out = Image::zeros(img.channels, h, w);
    for ch in 0..img.channels {
        let src = tmp.channel(ch);
        for y in 0..h {
            for x in 0..w {
                let v = ky.iter().enumerate().fold(0.0f32, |a, (k, &wt)| {
                    a + src[reflect(y as i64 + k as i64 - ry as i64, h) * w + x] * wt
                });
                out.data[(ch * h + y) * w + x] = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(c: usize, h: usize, w: usize) -> Image {
        let data = (0..c * h * w)
            .map(|i| i as f32 / (c * h * w) as f32)
            .collect();
        Image::from_vec(c, h, w, data)
    }

    #[test]
    fn flips_are_involutions() {
        let img = ramp(3, 5, 4);
        let mut a = img.clone();
        hflip(&mut a);
        assert_eq!(a.data[0], img.data[3]);
        hflip(&mut a);
        assert_eq!(a, img);
        vflip(&mut a);
        assert_eq!(a.data[0], img.data[16]);
        vflip(&mut a);
        assert_eq!(a, img);
    }

    #[test]
    fn padding_modes() {
        let img = Image::from_vec(1, 1, 4, vec![1.0, 2.0, 3.0, 4.0]);
        let row = |m| pad(&img, [2, 0, 2, 0], m, &[9.0]).data;
        assert_eq!(row(PaddingMode::Constant), [9., 9., 1., 2., 3., 4., 9., 9.]);
        assert_eq!(row(PaddingMode::Edge), [1., 1., 1., 2., 3., 4., 4., 4.]);
        assert_eq!(row(PaddingMode::Reflect), [3., 2., 1., 2., 3., 4., 3., 2.]);
        assert_eq!(
            row(PaddingMode::Symmetric),
            [2., 1., 1., 2., 3., 4., 4., 3.]
        );
    }

    #[test]
    fn identity_affine_and_same_size_resize_keep_the_image() {
        let img = ramp(2, 6, 7);
        let m = inverse_affine_matrix([0.0, 0.0], 0.0, [0.0, 0.0], 1.0, [0.0, 0.0]);
        assert_eq!(
            affine(&img, &m, [6, 7], Interpolation::Nearest, &[0.0]),
            img
        );
        let b = affine(&img, &m, [6, 7], Interpolation::Bilinear, &[0.0]);
        for (x, y) in b.data.iter().zip(&img.data) {
            assert!((x - y).abs() < 1e-6);
        }
        assert_eq!(resize(&img, 6, 7, Interpolation::Bilinear, true), img);
    }

    #[test]
    fn resize_weights_sum_to_one_and_keep_constants() {
        let img = Image::from_vec(1, 8, 8, vec![0.25; 64]);
        for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
            for (h, w) in [(3, 5), (13, 17), (8, 3)] {
                let r = resize(&img, h, w, interp, true);
                assert!(r.data.iter().all(|v| (v - 0.25).abs() < 1e-6), "{interp:?}");
            }
        }
    }

    #[test]
    fn hsv_round_trip() {
        for rgb in [
            [0.2, 0.5, 0.9],
            [1.0, 0.0, 0.0],
            [0.3, 0.3, 0.3],
            [0.1, 0.9, 0.4],
        ] {
            let back = hsv_to_rgb(rgb_to_hsv(rgb));
            for (a, b) in back.iter().zip(rgb) {
                assert!((a - b).abs() < 1e-6, "{rgb:?} -> {back:?}");
            }
        }
    }
}
