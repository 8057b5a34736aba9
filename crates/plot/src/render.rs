//! The two renderers: SVG text and an RGB raster encoded as PNG.

use std::fmt::Write as _;

use crate::layout::{Anchor, Shape};

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn svg((w, h): (usize, usize), shapes: &[Shape]) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for shape in shapes {
        match shape {
            Shape::Line {
                a,
                b,
                color,
                width,
                dashed,
            } => {
                let dash = if *dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke=\"{}\" stroke-width=\"{width}\"{dash}/>",
                    a.0, a.1, b.0, b.1, hex(*color)
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
                    hex(*color),
                    pts.join(" ")
                );
            }
            Shape::Dot { at, color } => {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"3\" fill=\"{}\"/>",
                    at.0,
                    at.1,
                    hex(*color)
                );
            }
            Shape::Rect { at, size, stroke } => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"{}\"/>",
                    at.0,
                    at.1,
                    size.0,
                    size.1,
                    hex(*stroke)
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
                    Anchor::Start => "start",
                    Anchor::Middle => "middle",
                    Anchor::End => "end",
                };
                let transform = if *rotate {
                    format!(" transform=\"rotate(-90 {:.2} {:.2})\"", at.0, at.1)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{size}\" text-anchor=\"{anchor}\"{transform}>{}</text>",
                    at.0,
                    at.1,
                    escape(text)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

pub(crate) fn png((w, h): (usize, usize), shapes: &[Shape]) -> Result<Vec<u8>, String> {
    let mut canvas = Canvas {
        w,
        h,
        px: vec![255; w * h * 3],
    };
    for shape in shapes {
        match shape {
            Shape::Line {
                a,
                b,
                color,
                width,
                dashed,
            } => canvas.line(*a, *b, *color, *width, *dashed),
            Shape::Polyline { points, color } => {
                for pair in points.windows(2) {
                    canvas.line(pair[0], pair[1], *color, 2.0, false);
                }
            }
            Shape::Dot { at, color } => canvas.dot(*at, *color),
            Shape::Rect { at, size, stroke } => canvas.rect(*at, *size, *stroke),
            Shape::Text {
                at,
                text,
                anchor,
                words: false,
                ..
            } => canvas.digits(*at, text, *anchor),
            Shape::Text { .. } => {}
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&canvas.px)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
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

    /// A line of the given width, by stepping along its longer axis; a dashed line draws 6
    /// pixels of every 10.
    fn line(&mut self, a: (f64, f64), b: (f64, f64), color: [u8; 3], width: f64, dashed: bool) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let n = dx.abs().max(dy.abs()).ceil().max(1.0) as usize;
        let r = ((width - 1.0) / 2.0).round() as i64;
        for i in 0..=n {
            if dashed && i % 10 >= 6 {
                continue;
            }
            let t = i as f64 / n as f64;
            let (x, y) = ((a.0 + t * dx).round() as i64, (a.1 + t * dy).round() as i64);
            for ox in -r..=r {
                for oy in -r..=r {
                    self.set(x + ox, y + oy, color);
                }
            }
        }
    }

    /// A filled disc of radius 3.
    fn dot(&mut self, at: (f64, f64), color: [u8; 3]) {
        let (cx, cy) = (at.0.round() as i64, at.1.round() as i64);
        for ox in -3i64..=3 {
            for oy in -3i64..=3 {
                if ox * ox + oy * oy <= 10 {
                    self.set(cx + ox, cy + oy, color);
                }
            }
        }
    }

    /// A white rectangle with a 1-pixel border.
    fn rect(&mut self, at: (f64, f64), size: (f64, f64), stroke: [u8; 3]) {
        let (x0, y0) = (at.0.round() as i64, at.1.round() as i64);
        let (x1, y1) = (
            (at.0 + size.0).round() as i64,
            (at.1 + size.1).round() as i64,
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let edge = x == x0 || x == x1 || y == y0 || y == y1;
                self.set(x, y, if edge { stroke } else { [255; 3] });
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
                Anchor::Start => 0,
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
