//! # tuna-plot
//!
//! Tuna's figures, drawn with [`plotters`] into SVG or PNG from the same code, with the words
//! people read them by: a title, axis names, tick labels (`1e-4` on log axes), a legend beside
//! the plot area (never over the data) and labelled marker lines. Text is set in DejaVu Sans,
//! embedded in the crate (see `assets/`), so a PNG looks the same on a machine without fonts.
//!
//! A [`Figure`] is one or more stacked [`Panel`]s sharing the x axis; a panel holds named
//! [`Series`] (lines, dots or crosses; series of the same name share a color and a legend
//! entry), or labelled horizontal [`Bar`]s, plus vertical [`Marker`]s ("best epoch") and
//! [`Note`]s. This crate knows nothing of runs or studies: callers turn those into series.
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
//! let figure = Figure::new("run 7", "epoch", vec![loss, lr])
//!     .integer_x(true)
//!     .with_marker(Marker::new(3.0, "best epoch"));
//! let svg = figure.to_svg();
//! assert!(svg.contains(">validation</text>") && svg.contains(">best epoch</text>"));
//! assert!(svg.contains(">1e-4</text>"));
//! assert!(figure.to_png().unwrap().starts_with(b"\x89PNG"));
//! ```

mod draw;
mod font;
mod grid;
mod plan;
mod raster;
#[cfg(test)]
mod tests;
mod ticks;

use std::path::{Path, PathBuf};

pub use grid::{ImageGrid, Tile};

/// An RGB color.
pub type Color = [u8; 3];

/// matplotlib's `tab10` palette: the colors series get in order of their distinct names
/// (blue, orange, green, red, purple, ...).
pub const PALETTE: [Color; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

/// How a series' points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// Points joined in order (an isolated point, between gaps, is a dot).
    #[default]
    Line,
    /// A dot per point, unjoined (a scatter plot).
    Dots,
    /// A cross (×) per point, unjoined: events such as "pruned here".
    Crosses,
    /// Points joined and each drawn as a dot.
    LineAndDots,
}

/// One named line or point set: the points `(x[i], y[i])`.
///
/// A non-finite `x` or `y` (and, on a logarithmic axis, a value `<= 0`) is a gap: the line
/// stops before it and starts again after it. Points past the end of the shorter of `x` and
/// `y` are ignored. Series of the same name in a panel share one color and one legend entry
/// (one line per trial, all named "pruned trial").
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry ("train", "validation", ...).
    pub name: String,
    /// The x values.
    pub x: Vec<f64>,
    /// The y values.
    pub y: Vec<f64>,
    /// How the points are drawn.
    pub style: Style,
    /// The color; `None` takes the next [`PALETTE`] color by distinct name.
    pub color: Option<Color>,
}

impl Series {
    /// A line named `name` through the points `(x[i], y[i])`.
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series {
            name: name.into(),
            x,
            y,
            style: Style::Line,
            color: None,
        }
    }

    /// The same points drawn as dots only (matplotlib `ax.scatter`).
    pub fn scatter(self) -> Self {
        self.with_style(Style::Dots)
    }

    /// The same points drawn in `style`.
    pub fn with_style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// The same points in `color` instead of the palette's.
    pub fn with_color(mut self, color: Color) -> Self {
        self.color = Some(color);
        self
    }
}

/// A vertical dashed line at `x` across a panel's plot area, its label written above the
/// plot area ("best epoch", "overfitting starts").
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where the line is, in data coordinates.
    pub x: f64,
    /// The label above the line.
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

/// A short text at a data point, on a white box beside it (right of the point, or left of
/// it in the right quarter of the plot): the range ends of a parallel-coordinates axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The point's x, in data coordinates.
    pub x: f64,
    /// The point's y, in data coordinates.
    pub y: f64,
    /// The text.
    pub text: String,
}

impl Note {
    /// `text` beside the point `(x, y)`.
    pub fn new(x: f64, y: f64, text: impl Into<String>) -> Self {
        Note {
            x,
            y,
            text: text.into(),
        }
    }
}

/// One horizontal bar of a bar panel: a category and its value, drawn from 0 to `value` along
/// the figure's x axis, with the value written at its end.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The category, written on the y axis.
    pub name: String,
    /// The length.
    pub value: f64,
}

impl Bar {
    /// A bar for `name` of length `value`.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Bar {
            name: name.into(),
            value,
        }
    }
}

/// One plot area: a y axis named `name` and its series (or bars), markers and notes, with a
/// legend to the right of the plot area when there are two or more series names, or the one
/// series is named unlike the panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The y-axis name.
    pub name: String,
    /// The series, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Horizontal bars, top to bottom, with their names on the y axis (matplotlib
    /// `ax.barh`). A panel with bars draws no series.
    pub bars: Vec<Bar>,
    /// Whether the (linear) y axis starts at 0 when all data is non-negative.
    pub from_zero: bool,
    /// Whether the y axis is logarithmic (base 10). Values `<= 0` are gaps.
    pub log_y: bool,
    /// A fixed y range `(low, high)` instead of one fitted to the data; values outside it
    /// are gaps.
    pub y_range: Option<(f64, f64)>,
    /// Vertical marker lines of this panel only (see also [`Figure::with_marker`]).
    pub markers: Vec<Marker>,
    /// Texts at data points.
    pub notes: Vec<Note>,
    /// Whether to draw the legend: `None` decides (two or more series names, or one named
    /// unlike the panel), `Some` forces it on or off.
    pub legend: Option<bool>,
}

impl Panel {
    /// An empty panel with a linear y axis named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Panel {
            name: name.into(),
            series: Vec::new(),
            bars: Vec::new(),
            from_zero: false,
            log_y: false,
            y_range: None,
            markers: Vec::new(),
            notes: Vec::new(),
            legend: None,
        }
    }

    /// Forces the legend on or off (see [`Panel::legend`]).
    pub fn show_legend(mut self, yes: bool) -> Self {
        self.legend = Some(yes);
        self
    }

    /// Adds a series.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds horizontal bars, drawn below those already added.
    pub fn with_bars(mut self, bars: impl IntoIterator<Item = Bar>) -> Self {
        self.bars.extend(bars);
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

    /// Fixes the y range (matplotlib `ax.set_ylim(low, high)`).
    pub fn y_range(mut self, low: f64, high: f64) -> Self {
        self.y_range = Some((low, high));
        self
    }

    /// Adds a vertical marker line to this panel.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.markers.push(marker);
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: Note) -> Self {
        self.notes.push(note);
        self
    }
}

/// Stacked panels sharing one x axis (range: every finite x of every series, marker and note,
/// 0 and the bar values, and the named ticks), 800 pixels wide and 300 high per panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The title, above the first panel.
    pub title: String,
    /// The x-axis name (with its unit), under every panel.
    pub x_name: String,
    /// The panels, top to bottom.
    pub panels: Vec<Panel>,
    /// Marker lines drawn in every panel.
    pub markers: Vec<Marker>,
    /// Whether x is a count (epochs, steps): no fractional x ticks.
    pub integer_x: bool,
    /// Whether the x axis is logarithmic (base 10). Values `<= 0` are gaps.
    pub log_x: bool,
    /// Named x ticks `(x, label)` instead of numbers (parameter names of a parallel
    /// coordinates plot, the options of a choice). Empty: numeric ticks.
    pub x_ticks: Vec<(f64, String)>,
}

/// Why a figure could not be drawn, encoded or saved.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// [`Figure::save`] was given a path whose extension is neither `svg` nor `png`.
    #[error(
        "cannot plot to {}: {} is not supported, use .svg or .png",
        path.display(),
        describe_extension(path)
    )]
    Extension {
        /// The path.
        path: PathBuf,
    },
    /// The embedded font did not load (a broken build).
    #[error("the embedded DejaVu Sans font did not load")]
    Font,
    /// Drawing failed.
    #[error("drawing the figure: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("PNG encoder: {0}")]
    Png(#[from] png::EncodingError),
    /// Writing the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn describe_extension(path: &Path) -> String {
    path.extension()
        .map(|e| format!("the extension \".{}\"", e.to_string_lossy()))
        .unwrap_or_else(|| "no extension".into())
}

/// The image format of a plot file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.svg` (case-insensitive): text, with every word as a `<text>` element.
    Svg,
    /// `.png` (case-insensitive): RGB pixels, the same drawing.
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
            log_x: false,
            x_ticks: Vec::new(),
        }
    }

    /// Sets whether x is a count (epochs, steps), ticked at integers only.
    pub fn integer_x(mut self, yes: bool) -> Self {
        self.integer_x = yes;
        self
    }

    /// Sets whether the x axis is logarithmic (matplotlib `ax.set_xscale("log")`).
    pub fn log_x(mut self, yes: bool) -> Self {
        self.log_x = yes;
        self
    }

    /// Names the x ticks: a label at each given x instead of numbers.
    pub fn with_x_ticks(mut self, ticks: Vec<(f64, String)>) -> Self {
        self.x_ticks = ticks;
        self
    }

    /// Adds a vertical marker line drawn in every panel.
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.markers.push(marker);
        self
    }

    /// The figure as an SVG document.
    ///
    /// # Errors
    /// [`PlotError::Font`] or [`PlotError::Draw`] (neither happens with a sound build: the
    /// SVG backend writes into a string).
    pub fn try_to_svg(&self) -> Result<String, PlotError> {
        draw::svg(self)
    }

    /// The figure as an SVG document: [`Figure::try_to_svg`].
    ///
    /// # Panics
    /// Only if the embedded font is broken (a build defect the crate's tests catch).
    pub fn to_svg(&self) -> String {
        self.try_to_svg()
            .unwrap_or_else(|e| panic!("tuna-plot: {e}"))
    }

    /// The figure as a PNG image (RGB, 8 bits, [`Figure::size`] pixels).
    ///
    /// # Errors
    /// [`PlotError::Png`] if the PNG encoder fails, [`PlotError::Font`] or
    /// [`PlotError::Draw`] if drawing does.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        draw::png(self)
    }

    /// The image bytes in `format`.
    ///
    /// # Errors
    /// See [`Figure::to_png`] and [`Figure::try_to_svg`].
    pub fn encode(&self, format: Format) -> Result<Vec<u8>, PlotError> {
        match format {
            Format::Svg => Ok(self.try_to_svg()?.into_bytes()),
            Format::Png => self.to_png(),
        }
    }

    /// Writes the figure to `path`, as SVG or PNG by its extension (case-insensitive).
    ///
    /// # Errors
    /// [`PlotError::Extension`] for another extension (nothing is written),
    /// [`PlotError::Io`], or an encoding error (see [`Figure::encode`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let bytes = self.encode(Format::from_path(path)?)?;
        std::fs::write(path, bytes).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The image size in pixels, (width, height): 800 wide, 300 high per panel (60 without
    /// panels).
    pub fn size(&self) -> (usize, usize) {
        let (w, h) = plan::size(self.panels.len());
        (w as usize, h as usize)
    }
}
