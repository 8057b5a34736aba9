//! Convolution and pooling kernels (forward and backward) against naive direct loops in f64,
//! at odd sizes, with stride, padding, dilation, groups, bias, ceil mode and strided views.

use tuna_tensor::{
    adaptive_avg_pool2d_backward, avg_pool2d_backward, conv1d_backward_bias, conv1d_backward_input,
    conv1d_backward_weight, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight,
    conv_transpose2d_backward_bias, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, max_pool2d_backward, set_num_threads, AvgPool2dOptions,
    Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions, Padding1d, Padding2d,
    Tensor,
};

/// Deterministic pseudo-random values in [-1, 1).
fn vals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// A `[n, c, h, w]` tensor with the given row-major values, stored as `[n, h, w, c]` and
/// permuted back, so the view is not contiguous.
fn nchw_from_nhwc(data: &[f64], s: [usize; 4]) -> Tensor {
    let [n, c, h, w] = s;
    let mut nhwc = vec![0.0; data.len()];
    for i in 0..n {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    nhwc[((i * h + y) * w + x) * c + ch] = data[((i * c + ch) * h + y) * w + x];
                }
            }
        }
    }
    let t = Tensor::from_vec(nhwc, &[n, h, w, c]).permute(&[0, 3, 1, 2]);
    assert!(!t.is_contiguous() || c == 1);
    t
}

fn assert_close(what: &str, got: &Tensor, want: &[f64], shape: &[usize]) {
    assert_eq!(got.shape(), shape, "{what}: shape");
    let g = got.to_vec_f64();
    for (i, (a, b)) in g.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
            "{what}[{i}]: got {a}, want {b}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// naive convolution: one loop giving the output and, for an upstream gradient, dx, dw and db

struct ConvCase {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    cout: usize,
    groups: usize,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    same: bool,
    dil: [usize; 2],
    bias: bool,
}

struct Naive {
    y: Vec<f64>,
    oh: usize,
    ow: usize,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

/// Direct-loop conv2d (cross-correlation) with `pad` before each dim; `gy_of` maps the output
/// size to the upstream gradient.
fn naive_conv(
    cs: &ConvCase,
    x: &[f64],
    wt: &[f64],
    b: Option<&[f64]>,
    gy_of: impl Fn(usize) -> Vec<f64>,
) -> Naive {
    let (cg, og) = (cs.c / cs.groups, cs.cout / cs.groups);
    let [kh, kw] = cs.k;
    let (pad, oh, ow) = if cs.same {
        let p = [cs.dil[0] * (kh - 1) / 2, cs.dil[1] * (kw - 1) / 2];
        (p, cs.h, cs.w)
    } else {
        let o = |size: usize, i: usize| {
            (size + 2 * cs.pad[i] - cs.dil[i] * (cs.k[i] - 1) - 1) / cs.stride[i] + 1
        };
        (cs.pad, o(cs.h, 0), o(cs.w, 1))
    };
    let gy = gy_of(cs.n * cs.cout * oh * ow);
    let mut y = vec![0.0; cs.n * cs.cout * oh * ow];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; wt.len()];
    let mut db = vec![0.0; cs.cout];
    for n in 0..cs.n {
        for co in 0..cs.cout {
            let g = co / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((n * cs.cout + co) * oh + oy) * ow + ox;
                    let mut acc = b.map_or(0.0, |b| b[co]);
                    db[co] += gy[yi];
                    for ci in 0..cg {
                        let c = g * cg + ci;
                        for i in 0..kh {
                            for j in 0..kw {
                                let ih =
                                    (oy * cs.stride[0] + i * cs.dil[0]) as isize - pad[0] as isize;
                                let iw =
                                    (ox * cs.stride[1] + j * cs.dil[1]) as isize - pad[1] as isize;
                                if ih < 0 || iw < 0 || ih >= cs.h as isize || iw >= cs.w as isize {
                                    continue;
                                }
                                let xi = ((n * cs.c + c) * cs.h + ih as usize) * cs.w + iw as usize;
                                let wi = ((co * cg + ci) * kh + i) * kw + j;
                                acc += x[xi] * wt[wi];
                                dx[xi] += gy[yi] * wt[wi];
                                dw[wi] += gy[yi] * x[xi];
                            }
                        }
                    }
                    y[yi] = acc;
                }
            }
        }
    }
    Naive {
        y,
        oh,
        ow,
        dx,
        dw,
        db,
    }
}

fn conv_cases() -> Vec<ConvCase> {
    let c = |n, c, h, w, cout, groups, k, stride, pad, same, dil, bias| ConvCase {
        n,
        c,
        h,
        w,
        cout,
        groups,
        k,
        stride,
        pad,
        same,
        dil,
        bias,
    };
    vec![
        c(
            2,
            3,
            7,
            9,
            4,
            1,
            [3, 2],
            [2, 1],
            [1, 0],
            false,
            [1, 2],
            true,
        ),
        c(
            3,
            4,
            6,
            5,
            6,
            2,
            [2, 3],
            [1, 2],
            [0, 1],
            false,
            [2, 1],
            false,
        ),
        // depthwise, and depthwise with a channel multiplier
        c(
            2,
            5,
            8,
            7,
            5,
            5,
            [3, 3],
            [2, 2],
            [1, 1],
            false,
            [1, 1],
            true,
        ),
        c(
            1,
            3,
            5,
            6,
            6,
            3,
            [3, 1],
            [1, 1],
            [0, 0],
            true,
            [1, 1],
            false,
        ),
        // 1x1
        c(
            2,
            4,
            5,
            5,
            3,
            1,
            [1, 1],
            [1, 1],
            [0, 0],
            false,
            [1, 1],
            true,
        ),
        // "same" with an even, dilated kernel (asymmetric padding)
        c(2, 3, 6, 7, 4, 1, [4, 2], [1, 1], [0, 0], true, [2, 1], true),
        // big enough for the GEMM kernel and multi-sample chunks (with a short last chunk)
        c(
            5,
            6,
            11,
            13,
            8,
            2,
            [3, 3],
            [1, 1],
            [1, 1],
            false,
            [1, 1],
            true,
        ),
        c(
            7,
            3,
            9,
            10,
            5,
            1,
            [5, 4],
            [2, 3],
            [2, 2],
            false,
            [1, 1],
            true,
        ),
        // kernel as large as the padded input
        c(
            2,
            2,
            3,
            4,
            3,
            1,
            [5, 6],
            [1, 1],
            [1, 1],
            false,
            [1, 1],
            false,
        ),
    ]
}

fn opts_of(cs: &ConvCase) -> Conv2dOptions {
    Conv2dOptions::new()
        .stride(cs.stride)
        .padding(if cs.same {
            Padding2d::Same
        } else {
            Padding2d::Explicit(cs.pad)
        })
        .dilation(cs.dil)
        .groups(cs.groups)
}

#[test]
fn conv2d_forward_and_backward_match_naive() {
    for (ci, cs) in conv_cases().iter().enumerate() {
        let xs = [cs.n, cs.c, cs.h, cs.w];
        let ws = [cs.cout, cs.c / cs.groups, cs.k[0], cs.k[1]];
        let x = vals(xs.iter().product(), 1 + ci as u64);
        let w = vals(ws.iter().product(), 100 + ci as u64);
        let b = vals(cs.cout, 200 + ci as u64);
        let bias = cs.bias.then_some(b.as_slice());
        let r = naive_conv(cs, &x, &w, bias, |len| vals(len, 300 + ci as u64));
        let os = [cs.n, cs.cout, r.oh, r.ow];
        let gy = Tensor::from_vec(vals(os.iter().product(), 300 + ci as u64), &os);
        let wt = Tensor::from_vec(w.clone(), &ws);
        let bt = Tensor::from_vec(b.clone(), &[cs.cout]);
        let o = opts_of(cs);
        for (view, xt) in [
            ("contiguous", Tensor::from_vec(x.clone(), &xs)),
            ("permuted", nchw_from_nhwc(&x, xs)),
        ] {
            let what = format!("case {ci} ({view})");
            let y = xt.conv2d(&wt, cs.bias.then_some(&bt), &o);
            assert_close(&format!("{what} output"), &y, &r.y, &os);
            let dx = conv2d_backward_input(&gy, &wt, &xs, &o);
            assert_close(&format!("{what} dx"), &dx, &r.dx, &xs);
            let dw = conv2d_backward_weight(&gy, &xt, &ws, &o);
            assert_close(&format!("{what} dw"), &dw, &r.dw, &ws);
            // a transposed (non-contiguous) upstream gradient gives the same gradients
            let gyt = gy
                .permute(&[0, 1, 3, 2])
                .contiguous()
                .permute(&[0, 1, 3, 2]);
            assert_close(
                &format!("{what} dx (strided gy)"),
                &conv2d_backward_input(&gyt, &wt, &xs, &o),
                &r.dx,
                &xs,
            );
            assert_close(
                &format!("{what} dw (strided gy)"),
                &conv2d_backward_weight(&gyt, &xt, &ws, &o),
                &r.dw,
                &ws,
            );
        }
        assert_close(
            &format!("case {ci} db"),
            &conv2d_backward_bias(&gy),
            &r.db,
            &[cs.cout],
        );
        // a non-contiguous weight (stored as [kh, kw, cout, cg])
        let wp = Tensor::from_vec(w.clone(), &ws)
            .permute(&[2, 3, 0, 1])
            .contiguous()
            .permute(&[2, 3, 0, 1]);
        let y = Tensor::from_vec(x.clone(), &xs).conv2d(&wp, cs.bias.then_some(&bt), &o);
        assert_close(&format!("case {ci} output (strided weight)"), &y, &r.y, &os);
        assert_close(
            &format!("case {ci} dx (strided weight)"),
            &conv2d_backward_input(&gy, &wp, &xs, &o),
            &r.dx,
            &xs,
        );
        // unbatched input: sample 0
        let x0 = Tensor::from_vec(x.clone(), &xs).select(0, 0);
        let y0 = x0.conv2d(&wt, cs.bias.then_some(&bt), &o);
        let per = cs.cout * r.oh * r.ow;
        assert_close(&format!("case {ci} unbatched"), &y0, &r.y[..per], &os[1..]);
        let dx0 = conv2d_backward_input(&gy.select(0, 0), &wt, &xs[1..], &o);
        assert_eq!(dx0.shape(), &xs[1..]);
    }
}

#[test]
fn conv2d_f32_matches_f64() {
    let cs = &conv_cases()[6];
    let xs = [cs.n, cs.c, cs.h, cs.w];
    let ws = [cs.cout, cs.c / cs.groups, cs.k[0], cs.k[1]];
    let x = vals(xs.iter().product(), 7);
    let w = vals(ws.iter().product(), 8);
    let r = naive_conv(cs, &x, &w, None, |len| vals(len, 9));
    let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let y = Tensor::from_vec(f(&x), &xs).conv2d(&Tensor::from_vec(f(&w), &ws), None, &opts_of(cs));
    assert_eq!(y.dtype(), tuna_tensor::DType::F32);
    for (a, b) in y.to_vec_f64().iter().zip(&r.y) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn conv1d_matches_naive() {
    // (n, c, l, cout, groups, k, stride, pad, same, dil, bias)
    let cases = [
        (2, 4, 11, 6, 2, 3, 2, 1, false, 2, true),
        (3, 3, 9, 3, 3, 4, 1, 0, true, 1, false),
        (2, 2, 7, 5, 1, 2, 1, 0, true, 3, true),
        (4, 5, 130, 7, 1, 5, 3, 2, false, 1, true),
    ];
    for (ci, &(n, c, l, cout, groups, k, stride, pad, same, dil, bias)) in cases.iter().enumerate()
    {
        let cs = ConvCase {
            n,
            c,
            h: 1,
            w: l,
            cout,
            groups,
            k: [1, k],
            stride: [1, stride],
            pad: [0, pad],
            same,
            dil: [1, dil],
            bias,
        };
        let xs = [n, c, l];
        let ws = [cout, c / groups, k];
        let x = vals(n * c * l, 11 + ci as u64);
        let w = vals(ws.iter().product(), 12 + ci as u64);
        let b = vals(cout, 13 + ci as u64);
        let r = naive_conv(&cs, &x, &w, bias.then_some(b.as_slice()), |len| {
            vals(len, 14 + ci as u64)
        });
        let os = [n, cout, r.ow];
        let gy = Tensor::from_vec(vals(os.iter().product(), 14 + ci as u64), &os);
        let o = Conv1dOptions::new()
            .stride(stride)
            .padding(if same {
                Padding1d::Same
            } else {
                Padding1d::Explicit(pad)
            })
            .dilation(dil)
            .groups(groups);
        let wt = Tensor::from_vec(w.clone(), &ws);
        let bt = Tensor::from_vec(b.clone(), &[cout]);
        // the input as a transposed view of [n, l, c] storage
        let xt = Tensor::from_vec(x.clone(), &xs)
            .permute(&[0, 2, 1])
            .contiguous()
            .permute(&[0, 2, 1]);
        let y = xt.conv1d(&wt, bias.then_some(&bt), &o);
        assert_close(&format!("conv1d {ci} output"), &y, &r.y, &os);
        assert_close(
            &format!("conv1d {ci} dx"),
            &conv1d_backward_input(&gy, &wt, &xs, &o),
            &r.dx,
            &xs,
        );
        assert_close(
            &format!("conv1d {ci} dw"),
            &conv1d_backward_weight(&gy, &xt, &ws, &o),
            &r.dw,
            &ws,
        );
        assert_close(
            &format!("conv1d {ci} db"),
            &conv1d_backward_bias(&gy),
            &r.db,
            &[cout],
        );
        // unbatched
        let y0 = xt.select(0, 0).conv1d(&wt, bias.then_some(&bt), &o);
        assert_close(
            &format!("conv1d {ci} unbatched"),
            &y0,
            &r.y[..cout * r.ow],
            &os[1..],
        );
        let dx0 = conv1d_backward_input(&gy.select(0, 0), &wt, &xs[1..], &o);
        assert_close(
            &format!("conv1d {ci} unbatched dx"),
            &dx0,
            &r.dx[..c * l],
            &xs[1..],
        );
    }
}

#[test]
fn conv_transpose2d_matches_naive() {
    // (n, cin, h, w, cout, groups, k, stride, pad, out_pad, dil, bias)
    let cases = [
        (
            2,
            4,
            3,
            5,
            6,
            2,
            [3, 2],
            [2, 3],
            [1, 0],
            [1, 2],
            [1, 1],
            true,
        ),
        (
            1,
            3,
            4,
            4,
            2,
            1,
            [2, 2],
            [1, 1],
            [0, 0],
            [0, 0],
            [2, 2],
            false,
        ),
        (
            3,
            6,
            5,
            4,
            3,
            3,
            [3, 3],
            [2, 1],
            [1, 1],
            [0, 0],
            [1, 2],
            true,
        ),
        (
            4,
            5,
            9,
            8,
            7,
            1,
            [4, 3],
            [2, 2],
            [1, 0],
            [1, 1],
            [1, 1],
            true,
        ),
    ];
    for (ci, &(n, cin, h, w, cout, groups, k, stride, pad, opad, dil, bias)) in
        cases.iter().enumerate()
    {
        let (cg, og) = (cin / groups, cout / groups);
        let oh = (h - 1) * stride[0] + dil[0] * (k[0] - 1) + opad[0] + 1 - 2 * pad[0];
        let ow = (w - 1) * stride[1] + dil[1] * (k[1] - 1) + opad[1] + 1 - 2 * pad[1];
        let xs = [n, cin, h, w];
        let ws = [cin, og, k[0], k[1]];
        let os = [n, cout, oh, ow];
        let x = vals(xs.iter().product(), 21 + ci as u64);
        let wv = vals(ws.iter().product(), 22 + ci as u64);
        let b = vals(cout, 23 + ci as u64);
        let gy = vals(os.iter().product(), 24 + ci as u64);
        // naive scatter form: y[n, g·og+co, iy·s-p+i·d, ...] += x[n, ci, iy, ix]·w[ci, co, i, j]
        let mut y = vec![0.0; gy.len()];
        let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; wv.len()]);
        for bn in 0..n {
            for c in 0..cin {
                let g = c / cg;
                for iy in 0..h {
                    for ix in 0..w {
                        let xi = ((bn * cin + c) * h + iy) * w + ix;
                        for co in 0..og {
                            for i in 0..k[0] {
                                for j in 0..k[1] {
                                    let oy =
                                        (iy * stride[0] + i * dil[0]) as isize - pad[0] as isize;
                                    let ox =
                                        (ix * stride[1] + j * dil[1]) as isize - pad[1] as isize;
                                    if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                        continue;
                                    }
                                    let yi = ((bn * cout + g * og + co) * oh + oy as usize) * ow
                                        + ox as usize;
                                    let wi = ((c * og + co) * k[0] + i) * k[1] + j;
                                    y[yi] += x[xi] * wv[wi];
                                    dx[xi] += gy[yi] * wv[wi];
                                    dw[wi] += gy[yi] * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut db = vec![0.0; cout];
        if bias {
            for (yi, v) in y.iter_mut().enumerate() {
                *v += b[(yi / (oh * ow)) % cout];
            }
        }
        for (yi, v) in gy.iter().enumerate() {
            db[(yi / (oh * ow)) % cout] += v;
        }
        let o = ConvTranspose2dOptions::new()
            .stride(stride)
            .padding(pad)
            .output_padding(opad)
            .dilation(dil)
            .groups(groups);
        let wt = Tensor::from_vec(wv.clone(), &ws);
        let bt = Tensor::from_vec(b.clone(), &[cout]);
        let gyt = Tensor::from_vec(gy.clone(), &os);
        for (view, xt) in [
            ("contiguous", Tensor::from_vec(x.clone(), &xs)),
            ("permuted", nchw_from_nhwc(&x, xs)),
        ] {
            let what = format!("conv_transpose2d {ci} ({view})");
            let yt = xt.conv_transpose2d(&wt, bias.then_some(&bt), &o);
            assert_close(&format!("{what} output"), &yt, &y, &os);
            let dw_t = conv_transpose2d_backward_weight(&gyt, &xt, &ws, &o);
            assert_close(&format!("{what} dw"), &dw_t, &dw, &ws);
        }
        let gyp = nchw_from_nhwc(&gy, os);
        assert_close(
            &format!("conv_transpose2d {ci} dx"),
            &conv_transpose2d_backward_input(&gyp, &wt, &xs, &o),
            &dx,
            &xs,
        );
        assert_close(
            &format!("conv_transpose2d {ci} db"),
            &conv_transpose2d_backward_bias(&gyt),
            &db,
            &[cout],
        );
        // unbatched
        let y0 = Tensor::from_vec(x.clone(), &xs)
            .select(0, 0)
            .conv_transpose2d(&wt, bias.then_some(&bt), &o);
        assert_close(
            &format!("conv_transpose2d {ci} unbatched"),
            &y0,
            &y[..cout * oh * ow],
            &os[1..],
        );
    }
}

#[test]
fn conv_results_do_not_depend_on_thread_count() {
    let xs = [9, 8, 20, 21];
    let ws = [16, 8, 3, 3];
    let f = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect::<Vec<f32>>();
    let x = Tensor::from_vec(f(vals(xs.iter().product(), 1)), &xs);
    let w = Tensor::from_vec(f(vals(ws.iter().product(), 2)), &ws);
    let o = Conv2dOptions::new().padding(1);
    let run = |t: usize| {
        set_num_threads(t);
        let y = x.conv2d(&w, None, &o);
        let gy = y.mul_scalar(0.5);
        let dx = conv2d_backward_input(&gy, &w, &xs, &o);
        let dw = conv2d_backward_weight(&gy, &x, &ws, &o);
        let (p, i) = y.max_pool2d_with_indices(&MaxPool2dOptions::new([2, 2]));
        (y, dx, dw, p, i)
    };
    let a = run(1);
    let b = run(2);
    let c = run(3);
    set_num_threads(0);
    for other in [&b, &c] {
        assert!(a.0.equal(&other.0) && a.1.equal(&other.1) && a.2.equal(&other.2));
        assert!(a.3.equal(&other.3) && a.4.equal(&other.4));
    }
}

#[test]
fn conv_errors_name_the_op_and_shapes() {
    let x = Tensor::zeros(&[2, 3, 5, 5], tuna_tensor::DType::F32);
    let w = Tensor::zeros(&[4, 2, 3, 3], tuna_tensor::DType::F32);
    let e = x
        .try_conv2d(&w, None, &Conv2dOptions::new())
        .expect_err("channel mismatch")
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("[2, 3, 5, 5]") && e.contains("[4, 2, 3, 3]"),
        "{e}"
    );
    let w = Tensor::zeros(&[4, 3, 7, 3], tuna_tensor::DType::F32);
    assert!(x.try_conv2d(&w, None, &Conv2dOptions::new()).is_err());
    let w = Tensor::zeros(&[4, 3, 3, 3], tuna_tensor::DType::F32);
    let same_strided = Conv2dOptions::new().padding(Padding2d::Same).stride([2, 2]);
    assert!(x.try_conv2d(&w, None, &same_strided).is_err());
    let b = Tensor::zeros(&[3], tuna_tensor::DType::F32);
    assert!(x.try_conv2d(&w, Some(&b), &Conv2dOptions::new()).is_err());
    assert!(x
        .to_dtype(tuna_tensor::DType::F64)
        .try_conv2d(&w, None, &Conv2dOptions::new())
        .is_err());
    let bad_opad = ConvTranspose2dOptions::new().output_padding([1, 1]);
    assert!(x
        .try_conv_transpose2d(
            &Tensor::zeros(&[3, 2, 2, 2], tuna_tensor::DType::F32),
            None,
            &bad_opad
        )
        .is_err());
    let r = std::panic::catch_unwind(|| {
        x.conv2d(
            &Tensor::zeros(&[4, 2, 3, 3], tuna_tensor::DType::F32),
            None,
            &Conv2dOptions::new(),
        )
    });
    assert!(r.is_err());
    assert!(x
        .try_max_pool2d(&MaxPool2dOptions::new([2, 2]).padding([2, 2]))
        .is_err());
    assert!(x
        .try_avg_pool2d(&AvgPool2dOptions::new([2, 2]).divisor_override(Some(0)))
        .is_err());
}

#[test]
fn options_deserialize_like_pytorch_configs() {
    let o: Conv2dOptions =
        serde_json::from_str(r#"{"stride": 2, "padding": "same", "groups": 3}"#).unwrap();
    assert_eq!(
        o,
        Conv2dOptions::new()
            .stride([2, 2])
            .padding(Padding2d::Same)
            .groups(3)
    );
    let o: Conv2dOptions =
        serde_json::from_str(r#"{"padding": [1, 2], "dilation": [2, 1]}"#).unwrap();
    assert_eq!(o.padding, Padding2d::Explicit([1, 2]));
    let o: Conv1dOptions =
        serde_json::from_str(r#"{"stride": [2], "padding": "valid", "dilation": 3}"#).unwrap();
    assert_eq!(
        o,
        Conv1dOptions::new()
            .stride(2)
            .padding(Padding1d::Valid)
            .dilation(3)
    );
    let o: MaxPool2dOptions = serde_json::from_str(r#"{"kernel_size": 3, "stride": []}"#).unwrap();
    assert_eq!(o, MaxPool2dOptions::new([3, 3]));
    let o: AvgPool2dOptions = serde_json::from_str(
        r#"{"kernel_size": [2, 3], "stride": null, "count_include_pad": false}"#,
    )
    .unwrap();
    assert_eq!(o, AvgPool2dOptions::new([2, 3]).count_include_pad(false));
    let round: Conv2dOptions = serde_json::from_str(
        &serde_json::to_string(&Conv2dOptions::new().padding(Padding2d::Same)).unwrap(),
    )
    .unwrap();
    assert_eq!(round.padding, Padding2d::Same);
}

// ------------------------------------------------------------------------------------------------
// pooling

/// PyTorch's output size rule, written out independently.
fn pool_size(size: usize, k: usize, p: usize, s: usize, d: usize, ceil: bool) -> usize {
    let eff = d * (k - 1) + 1;
    let span = size + 2 * p - eff;
    let mut o = if ceil {
        span.div_ceil(s) + 1
    } else {
        span / s + 1
    };
    if ceil && (o - 1) * s >= size + p {
        o -= 1;
    }
    o
}

#[test]
fn max_pool2d_matches_naive() {
    // (n, c, h, w, k, stride, pad, dil, ceil)
    let cases = [
        (2, 3, 7, 8, [2, 2], None, [0, 0], [1, 1], false),
        (2, 3, 7, 9, [3, 3], Some([2, 2]), [1, 1], [1, 1], false),
        (1, 4, 9, 8, [3, 2], Some([1, 2]), [0, 1], [2, 1], true),
        (3, 2, 10, 11, [3, 3], Some([2, 3]), [1, 1], [1, 2], true),
        (2, 2, 6, 6, [2, 3], Some([3, 2]), [1, 1], [2, 2], true),
    ];
    for (ci, &(n, c, h, w, k, stride, pad, dil, ceil)) in cases.iter().enumerate() {
        let s = stride.unwrap_or(k);
        let (oh, ow) = (
            pool_size(h, k[0], pad[0], s[0], dil[0], ceil),
            pool_size(w, k[1], pad[1], s[1], dil[1], ceil),
        );
        let xs = [n, c, h, w];
        let mut x = vals(xs.iter().product(), 31 + ci as u64);
        // ties: the first maximum in window order wins
        for v in x.iter_mut().step_by(5) {
            *v = 0.5;
        }
        let os = [n, c, oh, ow];
        let gy = vals(os.iter().product(), 32 + ci as u64);
        let (mut y, mut idx, mut dx) = (
            vec![0.0; gy.len()],
            vec![0i64; gy.len()],
            vec![0.0; x.len()],
        );
        for p in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut best, mut bi) = (f64::NEG_INFINITY, -1i64);
                    for i in 0..k[0] {
                        for j in 0..k[1] {
                            let ih = (oy * s[0] + i * dil[0]) as isize - pad[0] as isize;
                            let iw = (ox * s[1] + j * dil[1]) as isize - pad[1] as isize;
                            if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                continue;
                            }
                            let v = x[p * h * w + ih as usize * w + iw as usize];
                            if v > best || bi < 0 {
                                best = v;
                                bi = (ih as usize * w + iw as usize) as i64;
                            }
                        }
                    }
                    let oi = (p * oh + oy) * ow + ox;
                    y[oi] = best;
                    idx[oi] = bi;
                    dx[p * h * w + bi as usize] += gy[oi];
                }
            }
        }
        let mut o = MaxPool2dOptions::new(k)
            .padding(pad)
            .dilation(dil)
            .ceil_mode(ceil);
        o.stride = stride;
        let gyt = Tensor::from_vec(gy.clone(), &os);
        for (view, xt) in [
            ("contiguous", Tensor::from_vec(x.clone(), &xs)),
            ("permuted", nchw_from_nhwc(&x, xs)),
        ] {
            let what = format!("max_pool2d {ci} ({view})");
            let (yt, it) = xt.max_pool2d_with_indices(&o);
            assert_close(&format!("{what} output"), &yt, &y, &os);
            assert_eq!(it.to_vec::<i64>(), idx, "{what} indices");
            assert!(xt.max_pool2d(&o).equal(&yt));
            assert_close(
                &format!("{what} dx"),
                &max_pool2d_backward(&gyt, &it, &xs),
                &dx,
                &xs,
            );
        }
        let x0 = Tensor::from_vec(x.clone(), &xs).select(0, 0);
        let (y0, i0) = x0.max_pool2d_with_indices(&o);
        assert_close(
            &format!("max_pool2d {ci} unbatched"),
            &y0,
            &y[..c * oh * ow],
            &os[1..],
        );
        let dx0 = max_pool2d_backward(&gyt.select(0, 0), &i0, &xs[1..]);
        assert_close(
            &format!("max_pool2d {ci} unbatched dx"),
            &dx0,
            &dx[..c * h * w],
            &xs[1..],
        );
    }
    // NaN propagates
    let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0, 2.0], &[1, 1, 2, 2]);
    let (y, i) = x.max_pool2d_with_indices(&MaxPool2dOptions::new([2, 2]));
    assert!(y.to_vec::<f32>()[0].is_nan());
    assert_eq!(i.to_vec::<i64>(), vec![1]);
}

#[test]
fn avg_pool2d_matches_naive() {
    // (n, c, h, w, k, stride, pad, ceil, include_pad, divisor)
    let cases = [
        (2, 3, 7, 8, [2, 2], None, [0, 0], false, true, None),
        (2, 2, 7, 8, [3, 3], Some([2, 2]), [1, 1], false, true, None),
        (2, 2, 7, 8, [3, 3], Some([2, 2]), [1, 1], true, false, None),
        (
            1,
            3,
            8,
            9,
            [2, 3],
            Some([1, 2]),
            [1, 1],
            false,
            true,
            Some(4),
        ),
        (3, 2, 9, 10, [4, 3], Some([3, 2]), [2, 1], true, true, None),
        (
            2,
            2,
            5,
            6,
            [3, 2],
            Some([2, 3]),
            [1, 1],
            true,
            false,
            Some(5),
        ),
    ];
    for (ci, &(n, c, h, w, k, stride, pad, ceil, include_pad, divisor)) in cases.iter().enumerate()
    {
        let s = stride.unwrap_or(k);
        let (oh, ow) = (
            pool_size(h, k[0], pad[0], s[0], 1, ceil),
            pool_size(w, k[1], pad[1], s[1], 1, ceil),
        );
        let xs = [n, c, h, w];
        let x = vals(xs.iter().product(), 41 + ci as u64);
        let os = [n, c, oh, ow];
        let gy = vals(os.iter().product(), 42 + ci as u64);
        let (mut y, mut dx) = (vec![0.0; gy.len()], vec![0.0; x.len()]);
        for p in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    // window in padded coordinates, clipped to the padded input
                    let y0 = oy * s[0];
                    let x0 = ox * s[1];
                    let y1 = (y0 + k[0]).min(h + 2 * pad[0]);
                    let x1 = (x0 + k[1]).min(w + 2 * pad[1]);
                    let mut cells = vec![];
                    for py in y0..y1 {
                        for px in x0..x1 {
                            if py >= pad[0] && px >= pad[1] && py - pad[0] < h && px - pad[1] < w {
                                cells.push(p * h * w + (py - pad[0]) * w + (px - pad[1]));
                            }
                        }
                    }
                    let div = match divisor {
                        Some(d) => d as f64,
                        None if include_pad => ((y1 - y0) * (x1 - x0)) as f64,
                        None => cells.len() as f64,
                    };
                    let oi = (p * oh + oy) * ow + ox;
                    y[oi] = cells.iter().map(|&i| x[i]).sum::<f64>() / div;
                    for &i in &cells {
                        dx[i] += gy[oi] / div;
                    }
                }
            }
        }
        let mut o = AvgPool2dOptions::new(k)
            .padding(pad)
            .ceil_mode(ceil)
            .count_include_pad(include_pad)
            .divisor_override(divisor);
        o.stride = stride;
        let gyt = Tensor::from_vec(gy.clone(), &os);
        for (view, xt) in [
            ("contiguous", Tensor::from_vec(x.clone(), &xs)),
            ("permuted", nchw_from_nhwc(&x, xs)),
        ] {
            let what = format!("avg_pool2d {ci} ({view})");
            assert_close(&format!("{what} output"), &xt.avg_pool2d(&o), &y, &os);
        }
        assert_close(
            &format!("avg_pool2d {ci} dx"),
            &avg_pool2d_backward(&gyt, &xs, &o),
            &dx,
            &xs,
        );
        let gyp = nchw_from_nhwc(&gy, os);
        assert_close(
            &format!("avg_pool2d {ci} dx (strided gy)"),
            &avg_pool2d_backward(&gyp, &xs, &o),
            &dx,
            &xs,
        );
        let y0 = Tensor::from_vec(x.clone(), &xs).select(0, 0).avg_pool2d(&o);
        assert_close(
            &format!("avg_pool2d {ci} unbatched"),
            &y0,
            &y[..c * oh * ow],
            &os[1..],
        );
    }
}

#[test]
fn adaptive_avg_pool2d_matches_naive() {
    for (ci, &(n, c, h, w, oh, ow)) in [
        (2, 3, 7, 8, 3, 5),
        (1, 2, 5, 5, 1, 1),
        (2, 2, 4, 6, 6, 4),
        (1, 3, 9, 7, 4, 7),
    ]
    .iter()
    .enumerate()
    {
        let xs = [n, c, h, w];
        let x = vals(xs.iter().product(), 51 + ci as u64);
        let os = [n, c, oh, ow];
        let gy = vals(os.iter().product(), 52 + ci as u64);
        let (mut y, mut dx) = (vec![0.0; gy.len()], vec![0.0; x.len()]);
        for p in 0..n * c {
            for oy in 0..oh {
                let (y0, y1) = (
                    (oy * h) as f64 / oh as f64,
                    ((oy + 1) * h) as f64 / oh as f64,
                );
                let (y0, y1) = (y0.floor() as usize, y1.ceil() as usize);
                for ox in 0..ow {
                    let (x0, x1) = (
                        (ox * w) as f64 / ow as f64,
                        ((ox + 1) * w) as f64 / ow as f64,
                    );
                    let (x0, x1) = (x0.floor() as usize, x1.ceil() as usize);
                    let cnt = ((y1 - y0) * (x1 - x0)) as f64;
                    let oi = (p * oh + oy) * ow + ox;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            y[oi] += x[p * h * w + iy * w + ix] / cnt;
                            dx[p * h * w + iy * w + ix] += gy[oi] / cnt;
                        }
                    }
                }
            }
        }
        let gyt = Tensor::from_vec(gy.clone(), &os);
        for (view, xt) in [
            ("contiguous", Tensor::from_vec(x.clone(), &xs)),
            ("permuted", nchw_from_nhwc(&x, xs)),
        ] {
            assert_close(
                &format!("adaptive {ci} ({view})"),
                &xt.adaptive_avg_pool2d([oh, ow]),
                &y,
                &os,
            );
        }
        assert_close(
            &format!("adaptive {ci} dx"),
            &adaptive_avg_pool2d_backward(&gyt, &xs),
            &dx,
            &xs,
        );
        let y0 = Tensor::from_vec(x.clone(), &xs)
            .select(0, 0)
            .adaptive_avg_pool2d([oh, ow]);
        assert_close(
            &format!("adaptive {ci} unbatched"),
            &y0,
            &y[..c * oh * ow],
            &os[1..],
        );
        let dx0 = adaptive_avg_pool2d_backward(&gyt.select(0, 0), &xs[1..]);
        assert_close(
            &format!("adaptive {ci} unbatched dx"),
            &dx0,
            &dx[..c * h * w],
            &xs[1..],
        );
    }
}
