//! Figure → drawing primitives in pixel coordinates: panel frames, ticks, lines, legends
//! and markers. Both renderers draw the same shapes.

use crate::{Figure, Marker, Panel};

pub(crate) const WIDTH: f64 = 800.0;
pub(crate) const PANEL_HEIGHT: f64 = 300.0;
const TOP: f64 = 36.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 24.0;
const BOTTOM: f64 = 48.0;
/// The height of a figure without panels (the title only).
const EMPTY_HEIGHT: f64 = 60.0;

/// matplotlib's `tab10` palette.
pub(crate) const COLORS: [[u8; 3]; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xd6, 0x27, 0x28],
    [0x2c, 0xa0, 0x2c],
    [0xff, 0x7f, 0x0e],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [0xdd, 0xdd, 0xdd];
const MARKER: [u8; 3] = [0x55, 0x55, 0x55];

/// A drawing primitive, in pixel coordinates.
pub(crate) enum Shape {
    Line {
        a: (f64, f64),
        b: (f64, f64),
        color: [u8; 3],
        width: f64,
        dashed: bool,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        color: [u8; 3],
    },
    Dot {
        at: (f64, f64),
        color: [u8; 3],
    },
    Rect {
        at: (f64, f64),
        size: (f64, f64),
        stroke: [u8; 3],
    },
    Text {
        at: (f64, f64),
        text: String,
        anchor: Anchor,
        size: f64,
        rotate: bool,
        /// Words are SVG-only; the PNG font has digits and signs.
        words: bool,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

pub(crate) fn size(panels: usize) -> (usize, usize) {
    let h = if panels == 0 {
        EMPTY_HEIGHT
    } else {
        PANEL_HEIGHT * panels as f64
    };
    (WIDTH as usize, h as usize)
}

/// About `target` round tick values covering `[lo, hi]` (steps of 1, 2 or 5 times a power of
/// ten), and the number of decimals that shows them exactly.
pub(crate) fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    ((first..=last).map(|i| i as f64 * step).collect(), decimals)
}

pub(crate) fn label(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        "0".into()
    } else if decimals > 5 {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        format!("{v:.decimals$}")
    }
}

/// A tick label on a log axis: `m`e`k` outside `[1e-3, 1e4)`, plain decimals inside.
fn log_label(v: f64) -> String {
    let e = (v.log10() + 1e-9).floor();
    if (-3.0..4.0).contains(&e) {
        let decimals = (-e).max(0.0) as usize;
        format!("{v:.decimals$}")
    } else {
        let m = (v / 10f64.powf(e)).round();
        format!("{m}e{e}")
    }
}

/// Ticks of a log axis whose data spans `[10^lo, 10^hi]`: powers of ten (every n-th when
/// there are many), else 1, 2, 5 times powers of ten, else round linear values.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let inside = |v: f64| {
        let l = v.log10();
        l >= lo - 1e-9 && l <= hi + 1e-9
    };
    let (a, b) = (lo.ceil() as i64, (hi + 1e-9).floor() as i64);
    if b - a >= 1 {
        let every = ((b - a + 1) as f64 / 8.0).ceil().max(1.0) as usize;
        return (a..=b)
            .step_by(every)
            .map(|e| {
                let v = 10f64.powi(e as i32);
                (v, log_label(v))
            })
            .collect();
    }
    let mut out = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e as i32);
            if inside(v) {
                out.push((v, log_label(v)));
            }
        }
    }
    if out.len() >= 2 {
        return out;
    }
    let (t, d) = ticks(10f64.powf(lo), 10f64.powf(hi), 4);
    t.into_iter()
        .filter(|&v| v > 0.0 && inside(v))
        .map(|v| (v, label(v, d)))
        .collect()
}

/// `[lo, hi]` of the finite data, widened when flat and (optionally) down to 0.
pub(crate) fn range(y: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in y.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    if hi - lo <= 1e-12 * hi.abs().max(1e-300) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        lo -= pad;
        hi += pad;
        if from_zero && lo < 0.0 && hi > 0.0 {
            lo = 0.0;
        }
    } else {
        let pad = (hi - lo) * 0.05;
        hi += pad;
        if !(from_zero && lo == 0.0) {
            lo -= pad;
        }
    }
    (lo, hi)
}

/// `[lo, hi]` of log10 of the positive finite data, padded by 5% (half a decade when flat).
fn log_range(y: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in y.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v.log10());
        hi = hi.max(v.log10());
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }
}

/// The shared x range: every finite x of every series and marker.
fn x_range(figure: &Figure) -> (f64, f64) {
    let xs = figure
        .panels
        .iter()
        .flat_map(|p| {
            p.series
                .iter()
                .flat_map(|s| s.x.iter().copied())
                .chain(p.markers.iter().map(|m| m.x))
        })
        .chain(figure.markers.iter().map(|m| m.x))
        .filter(|x| x.is_finite());
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    (lo, hi.max(lo + 1.0))
}

fn text(at: (f64, f64), text: String, anchor: Anchor, size: f64, words: bool) -> Shape {
    Shape::Text {
        at,
        text,
        anchor,
        size,
        rotate: false,
        words,
    }
}

fn line(a: (f64, f64), b: (f64, f64), color: [u8; 3]) -> Shape {
    Shape::Line {
        a,
        b,
        color,
        width: 1.0,
        dashed: false,
    }
}

pub(crate) fn shapes(figure: &Figure) -> Vec<Shape> {
    let mut shapes = vec![text(
        (WIDTH / 2.0, 22.0),
        figure.title.clone(),
        Anchor::Middle,
        16.0,
        true,
    )];
    let (x_lo, x_hi) = x_range(figure);
    for (p, panel) in figure.panels.iter().enumerate() {
        panel_shapes(&mut shapes, figure, panel, p, (x_lo, x_hi));
    }
    shapes
}

fn panel_shapes(
    shapes: &mut Vec<Shape>,
    figure: &Figure,
    panel: &Panel,
    index: usize,
    (x_lo, x_hi): (f64, f64),
) {
    let top = PANEL_HEIGHT * index as f64 + TOP;
    let bottom = PANEL_HEIGHT * (index + 1) as f64 - BOTTOM;
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let ys = || panel.series.iter().flat_map(|s| s.y.iter().copied());
    let (y_lo, y_hi) = if panel.log_y {
        log_range(ys())
    } else {
        range(ys(), panel.from_zero)
    };
    let px = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * (right - left);
    let to_axis = |y: f64| if panel.log_y { y.log10() } else { y };
    let py = |y: f64| bottom - (to_axis(y) - y_lo) / (y_hi - y_lo) * (bottom - top);

    let y_ticks: Vec<(f64, String)> = if panel.log_y {
        log_ticks(y_lo, y_hi)
    } else {
        let (t, d) = ticks(y_lo, y_hi, 5);
        t.into_iter().map(|v| (v, label(v, d))).collect()
    };
    for (t, name) in y_ticks {
        let y = py(t);
        shapes.push(line((left, y), (right, y), GRID));
        shapes.push(line((left - 5.0, y), (left, y), BLACK));
        shapes.push(text((left - 8.0, y + 4.0), name, Anchor::End, 11.0, false));
    }
    let (mut xt, mut xd) = ticks(x_lo, x_hi, 8);
    if figure.integer_x && xd > 0 {
        // Steps below 1 on a count axis (epochs): every integer instead.
        xt = (x_lo.ceil() as i64..=x_hi.floor() as i64)
            .map(|i| i as f64)
            .collect();
        xd = 0;
    }
    for t in xt {
        let x = px(t);
        shapes.push(line((x, bottom), (x, bottom + 5.0), BLACK));
        shapes.push(text(
            (x, bottom + 18.0),
            label(t, xd),
            Anchor::Middle,
            11.0,
            false,
        ));
    }
    shapes.push(line((left, top), (left, bottom), BLACK));
    shapes.push(line((left, bottom), (right, bottom), BLACK));
    shapes.push(text(
        ((left + right) / 2.0, bottom + 38.0),
        figure.x_name.clone(),
        Anchor::Middle,
        13.0,
        true,
    ));
    shapes.push(Shape::Text {
        at: (20.0, (top + bottom) / 2.0),
        text: panel.name.clone(),
        anchor: Anchor::Middle,
        size: 13.0,
        rotate: true,
        words: true,
    });

    // Markers under the data, labels staggered so that neighbours stay readable.
    let markers: Vec<&Marker> = figure.markers.iter().chain(&panel.markers).collect();
    for (i, m) in markers.iter().enumerate() {
        if !m.x.is_finite() {
            continue;
        }
        let x = px(m.x);
        shapes.push(Shape::Line {
            a: (x, top),
            b: (x, bottom),
            color: MARKER,
            width: 1.0,
            dashed: true,
        });
        let y = top + 12.0 + 14.0 * i as f64;
        let (at, anchor) = if x > (left + right) / 2.0 {
            ((x - 4.0, y), Anchor::End)
        } else {
            ((x + 4.0, y), Anchor::Start)
        };
        shapes.push(text(at, m.label.clone(), anchor, 11.0, true));
    }

    for (s, series) in panel.series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, shapes: &mut Vec<Shape>| {
            match run.len() {
                0 => {}
                1 => shapes.push(Shape::Dot { at: run[0], color }),
                _ => shapes.push(Shape::Polyline {
                    points: std::mem::take(run),
                    color,
                }),
            }
            run.clear();
        };
        for (&x, &y) in series.x.iter().zip(&series.y) {
            if x.is_finite() && y.is_finite() && !(panel.log_y && y <= 0.0) {
                run.push((px(x), py(y)));
                if series.points {
                    flush(&mut run, shapes);
                }
            } else {
                flush(&mut run, shapes);
            }
        }
        flush(&mut run, shapes);
    }

    let legend = panel.legend.unwrap_or_else(|| {
        panel.series.len() >= 2 || panel.series.first().is_some_and(|s| s.name != panel.name)
    });
    if legend {
        let chars = panel
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0) as f64;
        let (w, h) = (36.0 + 7.0 * chars, 8.0 + 16.0 * panel.series.len() as f64);
        let (x0, y0) = (right - 8.0 - w, top + 8.0);
        shapes.push(Shape::Rect {
            at: (x0, y0),
            size: (w, h),
            stroke: GRID,
        });
        for (s, series) in panel.series.iter().enumerate() {
            let y = y0 + 12.0 + 16.0 * s as f64;
            shapes.push(Shape::Line {
                a: (x0 + 6.0, y),
                b: (x0 + 26.0, y),
                color: COLORS[s % COLORS.len()],
                width: 3.0,
                dashed: false,
            });
            shapes.push(text(
                (x0 + 32.0, y + 4.0),
                series.name.clone(),
                Anchor::Start,
                11.0,
                true,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let (t, d) = ticks(0.0, 0.105, 5);
        assert_eq!(d, 2);
        assert_eq!(t.len(), 3);
        assert_eq!(label(t[1], d), "0.05");
        let (t, d) = ticks(0.0, 99.0, 8);
        assert_eq!((t[1], d), (20.0, 0));
        assert_eq!(label(4e-7, 7), "4e-7");
    }

    #[test]
    fn log_ticks_are_decades_or_1_2_5() {
        let t = log_ticks(-4.2, -0.9);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1e-4", "0.001", "0.01", "0.1"]);
        let t = log_ticks(-12.1, 0.1);
        assert!(t.len() <= 8 && t.len() >= 4, "{t:?}");
        assert_eq!(t.last().unwrap().1, "1");
        // Less than a decade: 1-2-5 steps.
        let t = log_ticks(0.05, 0.95);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["2", "5"]);
        // Within one 1-2-5 step: linear ticks.
        assert!(log_ticks(0.75, 0.85).len() >= 2);
        assert_eq!(log_label(3e5), "3e5");
        assert_eq!(log_label(2e-5), "2e-5");
    }
}
