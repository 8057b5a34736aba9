//! # tuna-plot
//!
//! Line plots, written as hand-made SVG or rasterized to PNG (no plotting dependency). A
//! [`Figure`] is one or more stacked [`Panel`]s sharing the x axis; a panel holds one or more
//! named [`Series`] (train vs validation, ...) in distinct colors with a legend, optional
//! vertical [`Marker`]s ("best epoch") and a linear or logarithmic y axis.
//!
//! ```
//! use tuna_plot::{Figure, Marker, Panel, Series};
//!
//! let epochs = vec![1.0, 2.0, 3.0, 4.0];
//! let loss = Panel::new("loss")
//!     .with_series(Series::new("train", epochs.clone(), vec![1.0, 0.6, 0.4, 0.3]))
//!     .with_series(Series::new("validation", epochs.clone(), vec![1.1, 0.7, 0.6, 0.65]))
//!     .from_zero(true);
//! let lr = Panel::new("lr")
//!     .with_series(Series::new("lr", epochs, vec![1e-1, 1e-2, 1e-3, 1e-4]))
//!     .log_y(true);
//! let figure = Figure::new("run 7", "epoch", vec![loss, lr]).with_marker(Marker::new(3.0, "best epoch"));
//! let svg = figure.to_svg();
//! assert!(svg.contains(">validation</text>") && svg.contains(">best epoch</text>"));
//! assert!(figure.to_png().unwrap().starts_with(b"\x89PNG"));
//! ```
//!
//! The PNG rasterizer draws tick labels with a tiny built-in digit font and leaves out the
//! words (title, axis names, legend and marker labels); legends keep their color swatches.

mod layout;
mod render;

use std::fmt;
use std::path::{Path, PathBuf};

/// One named line: the points `(x[i], y[i])`, joined in order.
///
/// A non-finite `x` or `y` (and, on a logarithmic axis, a `y <= 0`) is a gap: the line
/// stops before it and starts again after it; an isolated point is drawn as a dot. Points
/// past the end of the shorter of `x` and `y` are ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry ("train", "validation", ...).
    pub name: String,
    /// The x values.
    pub x: Vec<f64>,
    /// The y values.
    pub y: Vec<f64>,
    /// Draw each point as a dot, without connecting lines (a scatter plot).
    pub points: bool,
}

impl Series {
    /// A series named `name` through the points `(x[i], y[i])`.
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series {
            name: name.into(),
            x,
            y,
            points: false,
        }
    }

    /// The same points drawn as dots only (scatter).
    pub fn scatter(mut self) -> Self {
        self.points = true;
        self
    }
}

/// A vertical line at `x` with a label ("best epoch", "overfitting starts"), drawn dashed
/// across the whole plot area of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where the line is, in data coordinates.
    pub x: f64,
    /// The label written next to the top of the line (SVG only).
    pub label: String,
}

impl Marker {
    /// A marker at `x` labelled `label`.
    pub fn new(x: f64, label: impl Into<String>) -> Self {
        Marker {
            x,
            label: label.into(),
        }
    }
}

/// One plot area: a y axis named `name` and its series, colored in order (blue, red, green,
/// orange, purple, ... — matplotlib's `tab10`), with a legend in the top-right corner when
/// there are two or more series or the one series is named differently from the panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The y-axis name.
    pub name: String,
    /// The lines, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Whether the (linear) y axis starts at 0 when all data is non-negative.
    pub from_zero: bool,
    /// Whether the y axis is logarithmic (base 10; ticks at powers of ten). Values `<= 0`
    /// are gaps.
    pub log_y: bool,
    /// Vertical marker lines of this panel only (see also [`Figure::with_marker`]).
    pub markers: Vec<Marker>,
    /// Whether to draw the legend: `None` decides (two or more series, or one named unlike
    /// the panel), `Some` forces it on or off (off for plots with one series per trial).
    pub legend: Option<bool>,
}

impl Panel {
    /// An empty panel with a linear y axis named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Panel {
            name: name.into(),
            series: Vec::new(),
            from_zero: false,
            log_y: false,
            markers: Vec::new(),
            legend: None,
        }
    }

    /// Forces the legend on or off (see [`Panel::legend`]).
    pub fn show_legend(mut self, yes: bool) -> Self {
        self.legend = Some(yes);
        self
    }

    /// Adds a line.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Sets whether the linear y axis starts at 0 for non-negative data.
    pub fn from_zero(mut self, yes: bool) -> Self {
        self.from_zero = yes;
        self
    }

    /// Sets whether the y axis is logarithmic (matplotlib `ax.set_yscale("log")`).
    pub fn log_y(mut self, yes: bool) -> Self {
        self.log_y = yes;
        self
    }

    /// Adds a vertical marker line to this panel.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.markers.push(marker);
        self
    }
}

/// Stacked panels sharing one x axis (range: all finite x of every series and marker).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The title, above the first panel.
    pub title: String,
    /// The x-axis name, under every panel.
    pub x_name: String,
    /// The panels, top to bottom.
    pub panels: Vec<Panel>,
    /// Marker lines drawn in every panel.
    pub markers: Vec<Marker>,
    /// Whether x is a count (epochs, steps): no fractional x ticks.
    pub integer_x: bool,
}

/// Why a figure could not be encoded or saved.
#[derive(Debug)]
pub enum PlotError {
    /// [`Figure::save`] was given a path whose extension is neither `svg` nor `png`.
    Extension {
        /// The path.
        path: PathBuf,
    },
    /// The PNG encoder failed.
    Png(String),
    /// Writing the file failed.
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Extension { path } => {
                let ext = path
                    .extension()
                    .map(|e| format!("the extension \".{}\"", e.to_string_lossy()))
                    .unwrap_or_else(|| "no extension".into());
                write!(
                    f,
                    "cannot plot to {}: {ext} is not supported, use .svg or .png",
                    path.display()
                )
            }
            PlotError::Png(e) => write!(f, "PNG encoder: {e}"),
            PlotError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The image format of a plot file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.svg` (case-insensitive): text, with every word.
    Svg,
    /// `.png` (case-insensitive): RGB pixels, digits only.
    Png,
}

impl Format {
    /// The format for `path`'s extension.
    ///
    /// # Errors
    /// [`PlotError::Extension`] (naming the extension) for anything but `.svg` or `.png`.
    pub fn from_path(path: &Path) -> Result<Format, PlotError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(PlotError::Extension {
                path: path.to_path_buf(),
            }),
        }
    }
}

impl Figure {
    /// A figure with a title, an x-axis name and its panels, top to bottom. A figure without
    /// panels is just its title.
    pub fn new(title: &str, x_name: &str, panels: Vec<Panel>) -> Self {
        Figure {
            title: title.to_string(),
            x_name: x_name.to_string(),
            panels,
            markers: Vec::new(),
            integer_x: false,
        }
    }

    /// Sets whether x is a count (epochs, steps), ticked at integers only.
    pub fn integer_x(mut self, yes: bool) -> Self {
        self.integer_x = yes;
        self
    }

    /// Adds a vertical marker line drawn in every panel.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.markers.push(marker);
        self
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> String {
        render::svg(self.size(), &layout::shapes(self))
    }

    /// The figure as a PNG image (RGB, 8 bits, 800 pixels wide and 300 high per panel).
    ///
    /// # Errors
    /// [`PlotError::Png`] if the PNG encoder fails.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        render::png(self.size(), &layout::shapes(self)).map_err(PlotError::Png)
    }

    /// The image bytes in `format`.
    ///
    /// # Errors
    /// See [`Figure::to_png`].
    pub fn encode(&self, format: Format) -> Result<Vec<u8>, PlotError> {
        match format {
            Format::Svg => Ok(self.to_svg().into_bytes()),
            Format::Png => self.to_png(),
        }
    }

    /// Writes the figure to `path`, as SVG or PNG by its extension (case-insensitive).
    ///
    /// # Errors
    /// [`PlotError::Extension`] for another extension (nothing is written),
    /// [`PlotError::Png`] or [`PlotError::Io`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let bytes = self.encode(Format::from_path(path)?)?;
        std::fs::write(path, bytes).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The image size in pixels: (width, height).
    pub fn size(&self) -> (usize, usize) {
        layout::size(self.panels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_series() -> Figure {
        let x: Vec<f64> = (1..=6).map(f64::from).collect();
        let loss = Panel::new("loss")
            .with_series(Series::new(
                "train",
                x.clone(),
                vec![1.0, 0.7, f64::NAN, 0.4, 0.3, 0.25],
            ))
            .with_series(Series::new(
                "validation",
                x.clone(),
                vec![1.1, 0.8, 0.7, 0.72, 0.8, 0.9],
            ))
            .from_zero(true)
            .with_marker(Marker::new(3.0, "best epoch"));
        let lr = Panel::new("lr")
            .with_series(Series::new(
                "lr",
                x,
                vec![1e-1, 1e-2, 1e-3, 0.0, 1e-5, 1e-6],
            ))
            .log_y(true);
        Figure::new("run <1>", "epoch", vec![loss, lr])
            .with_marker(Marker::new(5.0, "overfitting starts"))
    }

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn svg_has_legend_markers_gaps_and_log_ticks() {
        let svg = two_series().to_svg();
        for word in [
            ">train</text>",
            ">validation</text>",
            ">best epoch</text>",
            ">overfitting starts</text>",
            ">loss</text>",
            ">lr</text>",
            ">epoch</text>",
            "run &lt;1&gt;",
            ">1e-5</text>",
            ">0.01</text>",
        ] {
            assert!(svg.contains(word), "{word} missing");
        }
        // The lr panel's only series is named like the panel: no legend there, so "lr"
        // appears once (the axis name).
        assert_eq!(svg.matches(">lr</text>").count(), 1);
        // The train NaN splits its line into 2 + 3 points; the lr 0.0 (log axis) into 3 + 2.
        assert_eq!(svg.matches("<polyline").count(), 2 + 1 + 2);
        // Blue: 4 line pieces and the loss legend's swatch; red: 1 line and its swatch.
        assert_eq!(svg.matches("stroke=\"#1f77b4\"").count(), 4 + 1);
        assert_eq!(svg.matches("stroke=\"#d62728\"").count(), 1 + 1);
        // The figure marker in both panels, the panel marker in one.
        assert_eq!(svg.matches("stroke-dasharray").count(), 2 + 1);
        assert!(svg.trim_end().ends_with("</svg>"));
        // x spans 1..3: ticks every 0.5, or every integer on a count axis.
        let short = Figure::new(
            "t",
            "epoch",
            vec![Panel::new("y").with_series(Series::new("y", vec![1.0, 2.0, 3.0], vec![0.0; 3]))],
        );
        assert!(short.to_svg().contains(">1.5</text>"));
        let svg = short.integer_x(true).to_svg();
        assert!(!svg.contains(">1.5</text>") && svg.contains(">3</text>"));
    }

    #[test]
    fn png_decodes_to_the_figure_size_with_both_colors() {
        let figure = two_series();
        let (w, h, px) = decode(&figure.to_png().unwrap());
        assert_eq!((w as usize, h as usize), figure.size());
        assert_eq!((w, h), (800, 600));
        let has = |c: [u8; 3]| px.chunks(3).any(|p| p == c);
        assert!(has(layout::COLORS[0]) && has(layout::COLORS[1]));
        assert!(!has(layout::COLORS[2]));
    }

    #[test]
    fn isolated_points_are_dots_and_empty_figures_encode() {
        let one = Figure::new(
            "one epoch",
            "epoch",
            vec![Panel::new("loss").with_series(Series::new("train", vec![1.0], vec![0.5]))],
        );
        let svg = one.to_svg();
        assert!(svg.contains("<circle") && !svg.contains("<polyline"));
        assert!(one.to_png().is_ok());
        let empty = Figure::new("nothing yet", "epoch", Vec::new());
        assert!(empty.to_svg().contains(">nothing yet</text>"));
        let (w, h, _) = decode(&empty.to_png().unwrap());
        assert_eq!((w as usize, h as usize), empty.size());
        // All-NaN and empty series: axes only, no panic.
        let blank = Figure::new(
            "t",
            "x",
            vec![Panel::new("y")
                .with_series(Series::new("a", vec![1.0, 2.0], vec![f64::NAN; 2]))
                .with_series(Series::new("b", vec![], vec![]))
                .log_y(true)],
        );
        assert!(!blank.to_svg().contains("<polyline"));
        blank.to_png().unwrap();
    }

    #[test]
    fn save_picks_the_format_by_extension() {
        let dir = std::env::temp_dir().join(format!("tuna-plot-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let figure = two_series();
        figure.save(dir.join("a.svg")).unwrap();
        figure.save(dir.join("a.PNG")).unwrap();
        let svg = std::fs::read_to_string(dir.join("a.svg")).unwrap();
        assert_eq!(svg, figure.to_svg());
        let (w, h, _) = decode(&std::fs::read(dir.join("a.PNG")).unwrap());
        assert_eq!((w, h), (800, 600));
        let err = figure.save(dir.join("a.jpg")).unwrap_err();
        assert!(matches!(err, PlotError::Extension { .. }));
        let msg = err.to_string();
        assert!(msg.contains("\".jpg\"") && msg.contains("a.jpg"), "{msg}");
        assert!(!dir.join("a.jpg").exists());
        let msg = figure.save(dir.join("noext")).unwrap_err().to_string();
        assert!(msg.contains("no extension"), "{msg}");
        let err = figure.save(dir.join("missing/a.svg")).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
