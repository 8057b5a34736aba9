//! # tuna-plot
//!
//! Line plots, written as hand-made SVG or rasterized to PNG (no plotting
//! dependency). A figure is one or more stacked panels sharing the x axis, each with axes,
//! ticks, tick labels and an axis name. The PNG rasterizer draws tick labels with a tiny
//! built-in digit font and leaves out the words (title, axis names), which the SVG has.

use std::fmt::Write as _;

const WIDTH: f64 = 800.0;
const PANEL_HEIGHT: f64 = 300.0;
const TOP: f64 = 36.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 24.0;
const BOTTOM: f64 = 48.0;
const COLORS: [[u8; 3]; 2] = [[0x1f, 0x77, 0xb4], [0xd6, 0x27, 0x28]];

/// One curve, drawn in its own panel.
pub struct Series {
    /// The y-axis name.
    pub name: String,
    /// The x values.
    pub x: Vec<f64>,
    /// The y values.
    pub y: Vec<f64>,
    /// Whether the y axis starts at 0 (for non-negative data).
    pub from_zero: bool,
}

/// Stacked panels sharing an x axis.
pub struct Figure {
    title: String,
    x_name: String,
    panels: Vec<Series>,
}

/// A drawing primitive, in pixel coordinates.
enum Shape {
    Line {
        a: (f64, f64),
        b: (f64, f64),
        color: [u8; 3],
        width: f64,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        color: [u8; 3],
    },
    Text {
        at: (f64, f64),
        text: String,
        anchor: Anchor,
        size: f64,
        rotate: bool,
        words: bool,
    },
}

#[derive(Clone, Copy)]
enum Anchor {
    Middle,
    End,
}

/// About `target` round tick values covering `[lo, hi]` (steps of 1, 2 or 5 times a power of
/// ten), and the number of decimals that shows them exactly.
fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
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

fn label(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        "0".into()
    } else if decimals > 5 {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        format!("{v:.decimals$}")
    }
}

/// `[lo, hi]` of the data, widened when flat and (optionally) down to 0.
fn range(y: &[f64], from_zero: bool) -> (f64, f64) {
    let mut lo = y.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
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

impl Figure {
    /// A figure with a title, an x-axis name and one panel per series.
    pub fn new(title: &str, x_name: &str, panels: Vec<Series>) -> Self {
        Figure {
            title: title.to_string(),
            x_name: x_name.to_string(),
            panels,
        }
    }

    fn height(&self) -> f64 {
        PANEL_HEIGHT * self.panels.len() as f64
    }

    fn shapes(&self) -> Vec<Shape> {
        let mut shapes = vec![Shape::Text {
            at: (WIDTH / 2.0, 22.0),
            text: self.title.clone(),
            anchor: Anchor::Middle,
            size: 16.0,
            rotate: false,
            words: true,
        }];
        let black = [0, 0, 0];
        let grey = [0xdd, 0xdd, 0xdd];
        for (p, series) in self.panels.iter().enumerate() {
            let top = PANEL_HEIGHT * p as f64 + TOP;
            let bottom = PANEL_HEIGHT * (p + 1) as f64 - BOTTOM;
            let (left, right) = (LEFT, WIDTH - RIGHT);
            let x_lo = series.x.first().copied().unwrap_or(0.0);
            let x_hi = series.x.last().copied().unwrap_or(1.0).max(x_lo + 1.0);
            let (y_lo, y_hi) = range(&series.y, series.from_zero);
            let px = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * (right - left);
            let py = |y: f64| bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top);
            let (yt, yd) = ticks(y_lo, y_hi, 5);
            for &t in &yt {
                let y = py(t);
                shapes.push(Shape::Line {
                    a: (left, y),
                    b: (right, y),
                    color: grey,
                    width: 1.0,
                });
                shapes.push(Shape::Line {
                    a: (left - 5.0, y),
                    b: (left, y),
                    color: black,
                    width: 1.0,
                });
                shapes.push(Shape::Text {
                    at: (left - 8.0, y + 4.0),
                    text: label(t, yd),
                    anchor: Anchor::End,
                    size: 11.0,
                    rotate: false,
                    words: false,
                });
            }
            let (xt, xd) = ticks(x_lo, x_hi, 8);
            for &t in &xt {
                let x = px(t);
                shapes.push(Shape::Line {
                    a: (x, bottom),
                    b: (x, bottom + 5.0),
                    color: black,
                    width: 1.0,
                });
                shapes.push(Shape::Text {
                    at: (x, bottom + 18.0),
                    text: label(t, xd),
                    anchor: Anchor::Middle,
                    size: 11.0,
                    rotate: false,
                    words: false,
                });
            }
            shapes.push(Shape::Line {
                a: (left, top),
                b: (left, bottom),
                color: black,
                width: 1.0,
            });
            shapes.push(Shape::Line {
                a: (left, bottom),
                b: (right, bottom),
                color: black,
                width: 1.0,
            });
            shapes.push(Shape::Text {
                at: ((left + right) / 2.0, bottom + 38.0),
                text: self.x_name.clone(),
                anchor: Anchor::Middle,
                size: 13.0,
                rotate: false,
                words: true,
            });
            shapes.push(Shape::Text {
                at: (20.0, (top + bottom) / 2.0),
                text: series.name.clone(),
                anchor: Anchor::Middle,
                size: 13.0,
                rotate: true,
                words: true,
            });
            let points = series
                .x
                .iter()
                .zip(&series.y)
                .map(|(&x, &y)| (px(x), py(y)))
                .collect();
            shapes.push(Shape::Polyline {
                points,
                color: COLORS[p % COLORS.len()],
            });
        }
        shapes
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> String {
        let (w, h) = (WIDTH, self.height());
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        for shape in self.shapes() {
            match shape {
                Shape::Line { a, b, color, width } => {
                    let _ = writeln!(
                        s,
                        "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke=\"{}\" stroke-width=\"{width}\"/>",
                        a.0, a.1, b.0, b.1, hex(color)
                    );
                }
                Shape::Polyline { points, color } => {
                    let pts: Vec<String> = points
                        .iter()
                        .map(|(x, y)| format!("{x:.2},{y:.2}"))
                        .collect();
                    let _ = writeln!(
                        s,
                        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                        hex(color),
                        pts.join(" ")
                    );
                }
                Shape::Text {
                    at,
                    text,
                    anchor,
                    size,
                    rotate,
                    ..
                } => {
                    let anchor = match anchor {
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let transform = if rotate {
                        format!(" transform=\"rotate(-90 {:.2} {:.2})\"", at.0, at.1)
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{size}\" text-anchor=\"{anchor}\"{transform}>{}</text>",
                        at.0,
                        at.1,
                        escape(&text)
                    );
                }
            }
        }
        s.push_str("</svg>\n");
        s
    }

    /// The figure as a PNG image (RGB, 8 bits).
    ///
    /// # Errors
    /// If the PNG encoder fails.
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let (w, h) = (WIDTH as usize, self.height() as usize);
        let mut canvas = Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        };
        for shape in self.shapes() {
            match shape {
                Shape::Line { a, b, color, width } => canvas.line(a, b, color, width),
                Shape::Polyline { points, color } => {
                    for pair in points.windows(2) {
                        canvas.line(pair[0], pair[1], color, 2.0);
                    }
                }
                Shape::Text {
                    at,
                    text,
                    anchor,
                    words: false,
                    ..
                } => canvas.digits(at, &text, anchor),
                Shape::Text { .. } => {}
            }
        }
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder
                .write_header()
                .map_err(|e| format!("PNG encoder: {e}"))?;
            writer
                .write_image_data(&canvas.px)
                .map_err(|e| format!("PNG encoder: {e}"))?;
        }
        Ok(out)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An RGB pixel buffer.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

/// A 3x5 font for tick labels: each glyph is five rows of three bits.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '+' => [0b000, 0b010, 0b111, 0b010, 0b000],
        'e' => [0b010, 0b101, 0b111, 0b100, 0b011],
        _ => return None,
    })
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&color);
        }
    }

    /// A line of the given width, by stepping along its longer axis.
    fn line(&mut self, a: (f64, f64), b: (f64, f64), color: [u8; 3], width: f64) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let n = dx.abs().max(dy.abs()).ceil().max(1.0) as usize;
        let r = ((width - 1.0) / 2.0).round() as i64;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = ((a.0 + t * dx).round() as i64, (a.1 + t * dy).round() as i64);
            for ox in -r..=r {
                for oy in -r..=r {
                    self.set(x + ox, y + oy, color);
                }
            }
        }
    }

    /// Digits and signs at scale 2 (6x10 pixels a glyph, 2 pixels apart), baseline at `at.1`.
    fn digits(&mut self, at: (f64, f64), text: &str, anchor: Anchor) {
        const SCALE: i64 = 2;
        let advance = 4 * SCALE;
        let width = text.chars().count() as i64 * advance - SCALE;
        let x0 = at.0.round() as i64
            - match anchor {
                Anchor::Middle => width / 2,
                Anchor::End => width,
            };
        let y0 = at.1.round() as i64 - 5 * SCALE;
        for (i, c) in text.chars().enumerate() {
            let Some(rows) = glyph(c) else { continue };
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        for sx in 0..SCALE {
                            for sy in 0..SCALE {
                                let x = x0 + i as i64 * advance + col * SCALE + sx;
                                self.set(x, y0 + row as i64 * SCALE + sy, [0, 0, 0]);
                            }
                        }
                    }
                }
            }
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
}
