//! [`ImageGrid`]: images in a grid, each with a caption, under a title (torchvision's
//! `make_grid` with labels): what `tuna show-batch` draws to show a batch after augmentation.

use std::path::Path;

use crate::{font, Format, PlotError};

/// One image of an [`ImageGrid`]: 8-bit RGB pixels, row-major `[height, width, 3]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width · height · 3` bytes, row by row, R, G, B.
    pub rgb: Vec<u8>,
    /// The text under the image (a class name).
    pub caption: String,
}

impl Tile {
    /// A tile from RGB pixels.
    ///
    /// # Panics
    /// If `rgb` does not hold `width · height · 3` bytes.
    pub fn new(width: usize, height: usize, rgb: Vec<u8>, caption: impl Into<String>) -> Self {
        assert_eq!(rgb.len(), width * height * 3, "Tile: {width}x{height} RGB");
        Tile {
            width,
            height,
            rgb,
            caption: caption.into(),
        }
    }
}

/// Images in rows of `columns`, every one scaled up by the same whole factor (nearest
/// neighbour, so pixels stay visible) to about [`ImageGrid::TARGET_SIDE`] pixels, with its
/// caption below it and the title above the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageGrid {
    title: String,
    tiles: Vec<Tile>,
    columns: usize,
}

const TITLE_SIZE: f64 = 16.0;
const CAPTION_SIZE: f64 = 11.0;
const TITLE_BAND: usize = 36;
const CAPTION_BAND: usize = 18;
const GAP: usize = 8;
const MARGIN: usize = 12;
const MIN_CELL: usize = 96;
const TEXT: [u8; 3] = [0x22, 0x22, 0x22];

/// Where everything goes, shared by the PNG and the SVG.
struct Layout {
    width: usize,
    height: usize,
    scale: usize,
    cell: usize,
    /// Top-left corner of every tile's image.
    origins: Vec<(usize, usize)>,
}

impl ImageGrid {
    /// The side, in pixels, images are scaled up towards.
    pub const TARGET_SIDE: usize = 96;

    /// A grid of `tiles` in rows of `columns` (at least 1) under `title`.
    pub fn new(title: impl Into<String>, tiles: Vec<Tile>, columns: usize) -> Self {
        ImageGrid {
            title: title.into(),
            tiles,
            columns: columns.max(1),
        }
    }

    fn layout(&self) -> Layout {
        let side = self
            .tiles
            .iter()
            .map(|t| t.width.max(t.height))
            .max()
            .unwrap_or(1)
            .max(1);
        let scale = (Self::TARGET_SIDE / side).max(1);
        let cell = (side * scale).max(MIN_CELL);
        let cols = self.columns.min(self.tiles.len()).max(1);
        let rows = self.tiles.len().div_ceil(cols).max(1);
        let width = (2 * MARGIN + cols * cell + (cols - 1) * GAP)
            .max(font::width(&self.title, TITLE_SIZE) as usize + 2 * MARGIN);
        let row_height = cell + CAPTION_BAND + GAP;
        let height = TITLE_BAND + rows * row_height + MARGIN;
        let origins = self
            .tiles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (r, c) = (i / cols, i % cols);
                let x = MARGIN + c * (cell + GAP) + (cell - t.width * scale) / 2;
                let y = TITLE_BAND + r * row_height + (cell - t.height * scale) / 2;
                (x, y)
            })
            .collect();
        Layout {
            width,
            height,
            scale,
            cell,
            origins,
        }
    }

    /// The caption's center x and baseline y for tile `i`.
    fn caption_anchor(&self, l: &Layout, i: usize) -> (f64, f64) {
        let cols = self.columns.min(self.tiles.len()).max(1);
        let (r, c) = (i / cols, i % cols);
        let x = MARGIN + c * (l.cell + GAP) + l.cell / 2;
        let y = TITLE_BAND + r * (l.cell + CAPTION_BAND + GAP) + l.cell + CAPTION_BAND - 5;
        (x as f64, y as f64)
    }

    /// The caption as drawn: shortened with an ellipsis to the cell width.
    fn caption(&self, l: &Layout, i: usize) -> String {
        font::fit(&self.tiles[i].caption, CAPTION_SIZE, l.cell as f64)
    }

    /// The grid as a PNG (RGB, 8 bits).
    ///
    /// # Errors
    /// [`PlotError::Font`] if the embedded font does not load, [`PlotError::Png`] if the
    /// encoder fails.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        font::face()?;
        let l = self.layout();
        let mut canvas = Canvas {
            width: l.width,
            height: l.height,
            pixels: vec![255u8; l.width * l.height * 3],
        };
        for (tile, &(x0, y0)) in self.tiles.iter().zip(&l.origins) {
            canvas.blit(tile, x0, y0, l.scale);
        }
        canvas.text(&self.title, TITLE_SIZE, l.width as f64 / 2.0, 24.0);
        for i in 0..self.tiles.len() {
            let (x, y) = self.caption_anchor(&l, i);
            canvas.text(&self.caption(&l, i), CAPTION_SIZE, x, y);
        }
        encode_rgb(l.width, l.height, &canvas.pixels)
    }

    /// The grid as an SVG document: the same layout, each image embedded as a PNG
    /// (`<image href="data:image/png;base64,…">`, drawn pixelated), the words as `<text>`.
    ///
    /// # Errors
    /// As [`ImageGrid::to_png`].
    pub fn to_svg(&self) -> Result<String, PlotError> {
        font::face()?;
        let l = self.layout();
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
            w = l.width,
            h = l.height
        );
        s += &svg_text(&self.title, TITLE_SIZE, l.width as f64 / 2.0, 24.0);
        for (i, (tile, &(x, y))) in self.tiles.iter().zip(&l.origins).enumerate() {
            let png = tile_png(tile)?;
            s += &format!(
                "<image x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" \
                 style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
                tile.width * l.scale,
                tile.height * l.scale,
                base64(&png)
            );
            let (cx, cy) = self.caption_anchor(&l, i);
            s += &svg_text(&self.caption(&l, i), CAPTION_SIZE, cx, cy);
        }
        s += "</svg>\n";
        Ok(s)
    }

    /// Writes the grid to `path`, as SVG or PNG by its extension.
    ///
    /// # Errors
    /// [`PlotError::Extension`] for another extension (nothing is written),
    /// [`PlotError::Io`], or an encoding error.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let bytes = match Format::from_path(path)? {
            Format::Svg => self.to_svg()?.into_bytes(),
            Format::Png => self.to_png()?,
        };
        std::fs::write(path, bytes).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The image size in pixels, (width, height).
    pub fn size(&self) -> (usize, usize) {
        let l = self.layout();
        (l.width, l.height)
    }
}

/// An RGB pixel buffer.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn blit(&mut self, tile: &Tile, x0: usize, y0: usize, scale: usize) {
        for y in 0..tile.height * scale {
            for x in 0..tile.width * scale {
                let (cx, cy) = (x0 + x, y0 + y);
                if cx >= self.width || cy >= self.height {
                    continue;
                }
                let src = ((y / scale) * tile.width + x / scale) * 3;
                let dst = (cy * self.width + cx) * 3;
                self.pixels[dst..dst + 3].copy_from_slice(&tile.rgb[src..src + 3]);
            }
        }
    }

    /// `text` centered on `x` with its baseline at `y`.
    fn text(&mut self, text: &str, size: f64, x: f64, y: f64) {
        let left = (x - font::width(text, size) / 2.0).round() as i32;
        let base = y.round() as i32;
        let (w, h) = (self.width as i32, self.height as i32);
        let pixels = &mut self.pixels;
        font::rasterize(text, size, |px, py, c| {
            let (px, py) = (left + px, base + py);
            if px < 0 || py < 0 || px >= w || py >= h {
                return;
            }
            let a = c.clamp(0.0, 1.0);
            let at = (py as usize * w as usize + px as usize) * 3;
            for (k, ink) in TEXT.iter().enumerate() {
                let old = f32::from(pixels[at + k]);
                pixels[at + k] = (old + (f32::from(*ink) - old) * a).round() as u8;
            }
        });
    }
}

fn svg_text(text: &str, size: f64, x: f64, y: f64) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-family=\"{}\" font-size=\"{size}\" \
         fill=\"#222222\">{escaped}</text>\n",
        font::FAMILY
    )
}

fn tile_png(tile: &Tile) -> Result<Vec<u8>, PlotError> {
    encode_rgb(tile.width, tile.height, &tile.rgb)
}

/// 8-bit RGB pixels as a PNG file.
fn encode_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(side: usize, caption: &str) -> Tile {
        let rgb = (0..side * side)
            .flat_map(|i| {
                let v = if (i / side + i % side) % 2 == 0 {
                    0
                } else {
                    255
                };
                [v, v / 2, 255 - v]
            })
            .collect();
        Tile::new(side, side, rgb, caption)
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn tiles_are_scaled_by_a_whole_factor_and_placed_in_rows() {
        let grid = ImageGrid::new(
            "batch 1",
            (0..5).map(|i| checker(8, &i.to_string())).collect(),
            3,
        );
        let l = grid.layout();
        assert_eq!(l.scale, 12);
        assert_eq!(l.origins[0].1, l.origins[2].1);
        assert!(l.origins[3].1 > l.origins[0].1);
        assert_eq!(l.origins[3].0, l.origins[0].0);
        let png = grid.to_png().unwrap();
        let decoded = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoded.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width as usize, info.height as usize), grid.size());
        // the first tile's top-left pixel (scaled 12x) is the checker's first pixel
        let (x, y) = l.origins[0];
        let at = (y * info.width as usize + x) * 3;
        assert_eq!(&buf[at..at + 3], &[0, 0, 255]);
        let at = ((y + 12) * info.width as usize + x) * 3;
        assert_eq!(&buf[at..at + 3], &[255, 127, 0]);
        // captions and the title put ink in the bands outside the images
        let dark = |y0: usize, y1: usize| {
            (y0..y1).any(|y| {
                (0..info.width as usize).any(|x| buf[(y * info.width as usize + x) * 3] < 100)
            })
        };
        assert!(dark(0, TITLE_BAND), "title");
        let caption_top = y + 8 * 12;
        assert!(dark(caption_top, caption_top + CAPTION_BAND), "caption");
    }

    #[test]
    fn the_svg_has_the_words_and_an_image_per_tile() {
        let grid = ImageGrid::new(
            "MixUp <train>",
            vec![checker(4, "cat & dog"), checker(4, "7")],
            8,
        );
        let svg = grid.to_svg().unwrap();
        assert!(svg.contains(">MixUp &lt;train&gt;</text>"));
        assert!(svg.contains(">cat &amp; dog</text>"));
        assert_eq!(svg.matches("<image ").count(), 2);
        assert!(svg.contains("href=\"data:image/png;base64,iVBORw0KGgo"));
    }
}
