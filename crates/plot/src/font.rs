//! The embedded font: DejaVu Sans (from `assets/`, with its licence), measured and rasterized
//! with `ab_glyph`, so PNGs draw their words on a machine without any fonts.
//!
//! Sizes are CSS font sizes in pixels (the em), as the SVG's `font-size`.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::style::{FontDesc, FontFamily, FontStyle};

use crate::PlotError;

/// The SVG `font-family`: viewers without DejaVu Sans fall back to their sans-serif font.
pub(crate) const FAMILY: &str = "DejaVu Sans, sans-serif";

/// plotters' text size is 1.24 times the CSS font size it writes into SVG.
const PLOTTERS_SCALE: f64 = 1.24;

static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The parsed font.
///
/// # Errors
/// [`PlotError::Font`] if the embedded file does not parse (a broken build, caught by the
/// tests).
pub(crate) fn face() -> Result<&'static FontRef<'static>, PlotError> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
        .ok_or(PlotError::Font)
}

/// plotters' font description for text of CSS size `size` (what the SVG backend writes).
pub(crate) fn at(size: f64) -> FontDesc<'static> {
    FontDesc::new(
        FontFamily::Name(FAMILY),
        size * PLOTTERS_SCALE,
        FontStyle::Normal,
    )
}

/// The CSS size of a plotters text size.
pub(crate) fn css_size(plotters_size: f64) -> f64 {
    plotters_size / PLOTTERS_SCALE
}

/// The `ab_glyph` scale whose em is `size` pixels.
fn scale(font: &FontRef<'_>, size: f64) -> PxScale {
    let upem = font.units_per_em().unwrap_or(2048.0);
    PxScale::from(size as f32 * font.height_unscaled() / upem)
}

/// Each glyph of `text` and its pen x at `size`, kerned, and the advance of the whole.
pub(crate) fn layout(font: &FontRef<'_>, text: &str, size: f64) -> (Vec<(GlyphId, f32)>, f32) {
    let scaled = font.as_scaled(scale(font, size));
    let mut caret = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        out.push((id, caret));
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    (out, caret)
}

/// Rasterizes `text` at `size` with its baseline starting at the origin: calls `pixel(x, y,
/// coverage)` for every covered pixel, in pixels relative to the origin (y down).
pub(crate) fn rasterize(text: &str, size: f64, mut pixel: impl FnMut(i32, i32, f32)) {
    let Ok(font) = face() else { return };
    let s = scale(font, size);
    let (glyphs, _) = layout(font, text, size);
    for (id, x) in glyphs {
        let glyph = id.with_scale_and_position(s, point(x, 0.0));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, c| {
                pixel(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, c);
            });
        }
    }
}

/// The font's x-height as a fraction of the em (what SVG's `ex` unit is).
pub(crate) fn x_height() -> f64 {
    static X_HEIGHT: OnceLock<f64> = OnceLock::new();
    *X_HEIGHT.get_or_init(|| {
        face()
            .ok()
            .and_then(|f| {
                let upem = f.units_per_em()?;
                let x = f.outline(f.glyph_id('x'))?.bounds;
                Some(f64::from(x.max.y.abs().max(x.min.y.abs()) / upem))
            })
            .unwrap_or(0.5)
    })
}

/// The width of `text` in pixels at CSS size `size`.
pub(crate) fn width(text: &str, size: f64) -> f64 {
    match face() {
        Ok(f) => f64::from(layout(f, text, size).1),
        Err(_) => 0.6 * size * text.chars().count() as f64,
    }
}

/// `text` shortened with a middle ellipsis (`model.lay…features`) to at most `max` pixels
/// wide at `size`; unchanged when it fits.
pub(crate) fn fit(text: &str, size: f64, max: f64) -> String {
    if width(text, size) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 1 {
        keep -= 1;
        let head = keep.div_ceil(2);
        let tail = keep / 2;
        let s: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(&chars[chars.len() - tail..])
            .collect();
        if width(&s, size) <= max {
            return s;
        }
    }
    "…".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_parses_and_measures() {
        face().unwrap();
        let w = width("validation", 12.0);
        assert!((40.0..100.0).contains(&w), "{w}");
        assert!(width("MMMM", 12.0) > width("iiii", 12.0));
        let x = x_height();
        assert!((0.45..0.6).contains(&x), "{x}");
        assert_eq!(fit("loss", 12.0, 200.0), "loss");
        let short = fit("model.layers.1.out_features", 12.0, 80.0);
        assert!(
            short.contains('…') && width(&short, 12.0) <= 80.0,
            "{short}"
        );
        assert!(short.starts_with("mod") && short.ends_with("es"), "{short}");
    }

    #[test]
    fn glyphs_sit_on_the_baseline_in_order() {
        let mut xs = Vec::new();
        let mut top = 0;
        rasterize("l.", 20.0, |x, y, c| {
            if c > 0.5 {
                xs.push(x);
                top = top.min(y);
            }
        });
        // "l" rises about 0.76 em above the baseline; nothing hangs below it; the dot comes
        // after the "l", not on top of it.
        assert!((-17..=-13).contains(&top), "{top}");
        let (lo, hi) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
        assert!(lo >= 0 && hi > 6, "{lo} {hi}");
    }
}
