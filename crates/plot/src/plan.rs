//! The layout of a figure in pixels, decided before anything is drawn: the title strip, each
//! panel's plot area, the axes (ranges, ticks, labels), the legend column to the right of the
//! plot areas and the rows of marker labels above them. Both backends draw the same plan.

use crate::{font, ticks, Color, Figure, Panel, Style, PALETTE};

pub(crate) const WIDTH: f64 = 800.0;
pub(crate) const PANEL_HEIGHT: f64 = 300.0;
const EMPTY_HEIGHT: f64 = 60.0;
/// The strip above the first panel that holds the title.
pub(crate) const TITLE_HEIGHT: f64 = 36.0;

/// Font sizes (CSS pixels).
pub(crate) const TITLE_SIZE: f64 = 17.0;
pub(crate) const AXIS_SIZE: f64 = 14.0;
pub(crate) const TICK_SIZE: f64 = 12.0;
pub(crate) const SMALL_SIZE: f64 = 11.0;

pub(crate) const TICK_LEN: f64 = 5.0;
const PAD: f64 = 8.0;
/// The height of a row of tick or marker labels.
pub(crate) const ROW: f64 = 16.0;
pub(crate) const LEGEND_ROW: f64 = 18.0;
pub(crate) const SWATCH: f64 = 24.0;
const LEGEND_GAP: f64 = 14.0;
const MAX_LEGEND_TEXT: f64 = 170.0;

/// The image size for a figure of `panels` panels.
pub(crate) fn size(panels: usize) -> (u32, u32) {
    let h = if panels == 0 {
        EMPTY_HEIGHT
    } else {
        PANEL_HEIGHT * panels as f64
    };
    (WIDTH as u32, h as u32)
}

/// A rectangle in pixels (`x0 < x1`, `y0 < y1`, y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    #[cfg(test)]
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// One axis: its range in axis space (log10 of the data on a log axis) and its ticks.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// (position in axis space, label, label row).
    pub ticks: Vec<(f64, String, usize)>,
    /// Unlabelled minor grid positions (log axes).
    pub minor: Vec<f64>,
}

impl Axis {
    /// A data value in axis space; `None` for a gap (non-finite, or `<= 0` on a log axis).
    pub fn value(&self, v: f64) -> Option<f64> {
        let a = if self.log {
            if v > 0.0 {
                v.log10()
            } else {
                return None;
            }
        } else {
            v
        };
        a.is_finite().then_some(a)
    }

    /// Whether an axis-space value lies in the range (with a hair of tolerance).
    pub fn contains(&self, a: f64) -> bool {
        let eps = (self.hi - self.lo).abs() * 1e-9;
        a >= self.lo - eps && a <= self.hi + eps
    }

    fn rows(&self) -> usize {
        self.ticks.iter().map(|t| t.2 + 1).max().unwrap_or(1)
    }
}

/// A legend entry: a distinct series name, its color and how it is drawn.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub color: Color,
    pub style: Style,
}

/// The legend box of a panel, right of its plot area.
#[derive(Clone, Debug)]
pub(crate) struct Legend {
    pub rect: Rect,
    pub entries: Vec<Entry>,
    /// Entries left out for lack of room ("+ 3 more").
    pub more: usize,
}

/// A marker line and where its label goes (centered at `label_x`, in label row `row` above
/// the plot area).
#[derive(Clone, Debug)]
pub(crate) struct MarkerPlan {
    pub x: f64,
    pub label: String,
    pub label_x: f64,
    pub row: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct PanelPlan {
    pub plot: Rect,
    pub y: Axis,
    /// The y-axis name, shortened to the plot height.
    pub y_name: String,
    /// Each series' color.
    pub colors: Vec<Color>,
    pub legend: Option<Legend>,
    pub markers: Vec<MarkerPlan>,
}

impl PanelPlan {
    /// The pixel x of an x-axis value (axis space).
    pub fn px(&self, x: &Axis, a: f64) -> f64 {
        self.plot.x0 + (a - x.lo) / (x.hi - x.lo) * self.plot.width()
    }

    /// The pixel y of a y-axis value (axis space).
    pub fn py(&self, a: f64) -> f64 {
        self.plot.y1 - (a - self.y.lo) / (self.y.hi - self.y.lo) * self.plot.height()
    }

    /// The pixel position of a data point, or `None` for a gap or a point outside the axes.
    pub fn point(&self, x: &Axis, (vx, vy): (f64, f64)) -> Option<(f64, f64)> {
        let (ax, ay) = (x.value(vx)?, self.y.value(vy)?);
        (x.contains(ax) && self.y.contains(ay)).then(|| (self.px(x, ax), self.py(ay)))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub title_size: f64,
    pub x: Axis,
    pub x_name: String,
    pub panels: Vec<PanelPlan>,
}

/// Lays `figure` out.
pub(crate) fn plan(figure: &Figure) -> Plan {
    let (width, height) = size(figure.panels.len());
    let (title, title_size) = fit_title(&figure.title);
    let mut x = x_axis(figure);
    let ys: Vec<Axis> = figure.panels.iter().map(y_axis).collect();
    let legends: Vec<Option<Vec<Entry>>> = figure.panels.iter().map(legend_entries).collect();
    let legend_w = legends
        .iter()
        .flatten()
        .flatten()
        .map(|e| legend_width(&e.name))
        .fold(0.0, f64::max);
    let legend_col = if legend_w > 0.0 {
        legend_w + LEGEND_GAP
    } else {
        0.0
    };
    let tick_w = ys
        .iter()
        .flat_map(|y| y.ticks.iter())
        .map(|t| font::width(&t.1, TICK_SIZE))
        .fold(0.0, f64::max);
    let left = PAD + AXIS_SIZE + 8.0 + tick_w + 4.0 + TICK_LEN;
    let overhang = x
        .ticks
        .last()
        .map(|t| font::width(&t.1, TICK_SIZE) / 2.0 + 4.0)
        .unwrap_or(0.0);
    let right = WIDTH - legend_col - overhang.max(16.0);
    fit_x_labels(&mut x, figure.x_ticks.is_empty(), left, right);
    let bottom = TICK_LEN + 4.0 + ROW * x.rows() as f64 + 6.0 + AXIS_SIZE + PAD;

    let n = figure.panels.len().max(1) as f64;
    let band = (f64::from(height) - TITLE_HEIGHT) / n;
    let mut panels = Vec::new();
    for (i, ((panel, y), entries)) in figure.panels.iter().zip(ys).zip(legends).enumerate() {
        let top = TITLE_HEIGHT + band * i as f64;
        let markers = marker_rows(figure, panel, &x, (left, right));
        let rows = markers.iter().map(|m| m.row + 1).max().unwrap_or(0);
        let plot = Rect {
            x0: left,
            y0: top + 10.0 + ROW * rows as f64,
            x1: right,
            y1: top + band - bottom,
        };
        let legend = entries.map(|entries| place_legend(entries, &plot, legend_w));
        let colors = series_colors(panel);
        panels.push(PanelPlan {
            plot,
            y_name: font::fit(&panel.name, AXIS_SIZE, plot.height()),
            y,
            colors,
            legend,
            markers,
        });
    }
    Plan {
        width,
        height,
        title,
        title_size,
        x_name: font::fit(&figure.x_name, AXIS_SIZE, right - left),
        x,
        panels,
    }
}

/// The title at 17 px, or smaller (down to 12) when it is wider than the figure, shortened
/// as a last resort.
fn fit_title(title: &str) -> (String, f64) {
    let max = WIDTH - 24.0;
    let mut size = TITLE_SIZE;
    while size > 12.0 && font::width(title, size) > max {
        size -= 1.0;
    }
    (font::fit(title, size, max), size)
}

/// The shared x axis: every finite x of every series, marker, note and named tick, and 0 and
/// the bar values when there are bars (with room for the values written after them).
fn x_axis(figure: &Figure) -> Axis {
    let panels = &figure.panels;
    let bars = panels.iter().flat_map(|p| p.bars.iter().map(|b| b.value));
    let has_bars = panels.iter().any(|p| !p.bars.is_empty());
    let values = panels
        .iter()
        .flat_map(|p| {
            p.series
                .iter()
                .flat_map(|s| s.x.iter().take(s.y.len()).copied())
                .chain(p.markers.iter().map(|m| m.x))
                .chain(p.notes.iter().map(|n| n.x))
        })
        .chain(figure.markers.iter().map(|m| m.x))
        .chain(figure.x_ticks.iter().map(|t| t.0))
        .chain(bars)
        .chain(has_bars.then_some(0.0));
    if figure.log_x {
        let (lo, hi) = ticks::log_range(values);
        return log_axis(lo, hi);
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    } else if hi - lo < 1e-12 * hi.abs().max(1.0) {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    } else if has_bars {
        // Room for the values written after the bar ends.
        let pad = (hi - lo) * 0.15;
        (lo, hi) = (
            if lo < 0.0 { lo - pad } else { lo },
            if hi > 0.0 { hi + pad } else { hi },
        );
    } else {
        let pad = (hi - lo) * 0.03;
        (lo, hi) = (lo - pad, hi + pad);
    }
    let ticks = if !figure.x_ticks.is_empty() {
        figure
            .x_ticks
            .iter()
            .filter(|t| t.0.is_finite())
            .map(|t| (t.0, t.1.clone(), 0))
            .collect()
    } else {
        let (mut t, mut d) = ticks::linear(lo, hi, 8);
        if figure.integer_x && d > 0 {
            // Steps below 1 on a count axis (epochs): every integer instead.
            t = (lo.ceil() as i64..=hi.floor() as i64)
                .map(|i| i as f64)
                .collect();
            d = 0;
        }
        t.into_iter().map(|v| (v, ticks::label(v, d), 0)).collect()
    };
    Axis {
        lo,
        hi,
        log: false,
        ticks,
        minor: Vec::new(),
    }
}

fn log_axis(lo: f64, hi: f64) -> Axis {
    Axis {
        lo,
        hi,
        log: true,
        ticks: ticks::log(lo, hi)
            .into_iter()
            .map(|(v, l)| (v.log10(), l, 0))
            .collect(),
        minor: ticks::log_minor(lo, hi),
    }
}

/// A panel's y axis: the bar names, a fixed range, or the data's range.
fn y_axis(panel: &Panel) -> Axis {
    if !panel.bars.is_empty() {
        let n = panel.bars.len();
        let max = 0.35 * WIDTH;
        return Axis {
            lo: -0.5,
            hi: n as f64 - 0.5,
            log: false,
            ticks: panel
                .bars
                .iter()
                .enumerate()
                .map(|(i, b)| ((n - 1 - i) as f64, font::fit(&b.name, TICK_SIZE, max), 0))
                .collect(),
            minor: Vec::new(),
        };
    }
    let ys = || panel.series.iter().flat_map(|s| s.y.iter().copied());
    let (lo, hi) = match (panel.y_range, panel.log_y) {
        (Some((a, b)), true) if a > 0.0 && b > a => (a.log10(), b.log10()),
        (Some((a, b)), false) if b > a => (a, b),
        (_, true) => ticks::log_range(ys()),
        (_, false) => ticks::range(ys(), panel.from_zero),
    };
    if panel.log_y {
        return log_axis(lo, hi);
    }
    let (mut t, mut d) = ticks::linear(lo, hi, 5);
    if t.len() < 4 {
        (t, d) = ticks::linear(lo, hi, 8);
    }
    Axis {
        lo,
        hi,
        log: false,
        ticks: t.into_iter().map(|v| (v, ticks::label(v, d), 0)).collect(),
        minor: Vec::new(),
    }
}

/// Numeric x labels that would touch are thinned (every 2nd, 3rd, ... kept); named ones go
/// on two staggered rows, and are shortened if even that is not enough.
fn fit_x_labels(x: &mut Axis, numeric: bool, left: f64, right: f64) {
    let px = |a: f64| left + (a - x.lo) / (x.hi - x.lo) * (right - left);
    let crowded = |ticks: &[(f64, String, usize)], step: usize| {
        ticks.windows(step + 1).any(|w| {
            let (a, b) = (&w[0], &w[step]);
            let need = (font::width(&a.1, TICK_SIZE) + font::width(&b.1, TICK_SIZE)) / 2.0 + 8.0;
            (px(b.0) - px(a.0)).abs() < need
        })
    };
    if numeric {
        let mut every = 1;
        while every < x.ticks.len() && crowded(&x.ticks, every) {
            every += 1;
        }
        if every > 1 {
            let first = x.ticks.iter().position(|t| t.1 == "0").unwrap_or(0) % every;
            x.ticks = x.ticks.iter().skip(first).step_by(every).cloned().collect();
        }
        return;
    }
    if !crowded(&x.ticks, 1) {
        return;
    }
    for (i, t) in x.ticks.iter_mut().enumerate() {
        t.2 = i % 2;
    }
    let gap = x
        .ticks
        .windows(3)
        .map(|w| (px(w[2].0) - px(w[0].0)).abs())
        .fold(right - left, f64::min);
    for t in &mut x.ticks {
        t.1 = font::fit(&t.1, TICK_SIZE, gap - 8.0);
    }
}

/// Each series' color: its own, or the palette's by the order of distinct names.
fn series_colors(panel: &Panel) -> Vec<Color> {
    let mut names: Vec<&str> = Vec::new();
    panel
        .series
        .iter()
        .map(|s| {
            let i = names.iter().position(|n| *n == s.name).unwrap_or_else(|| {
                names.push(&s.name);
                names.len() - 1
            });
            s.color.unwrap_or(PALETTE[i % PALETTE.len()])
        })
        .collect()
}

/// The legend entries of a panel (one per distinct series name), or `None` without a legend.
fn legend_entries(panel: &Panel) -> Option<Vec<Entry>> {
    if !panel.bars.is_empty() {
        return None;
    }
    let colors = series_colors(panel);
    let mut entries: Vec<Entry> = Vec::new();
    for (s, color) in panel.series.iter().zip(colors) {
        if !entries.iter().any(|e| e.name == s.name) {
            entries.push(Entry {
                name: font::fit(&s.name, TICK_SIZE, MAX_LEGEND_TEXT),
                color,
                style: s.style,
            });
        }
    }
    let auto = entries.len() >= 2 || entries.first().is_some_and(|e| e.name != panel.name);
    (panel.legend.unwrap_or(auto) && !entries.is_empty()).then_some(entries)
}

fn legend_width(name: &str) -> f64 {
    PAD + SWATCH + 6.0 + font::width(name, TICK_SIZE) + PAD
}

/// The legend box at the top of the column right of `plot`, with as many entries as fit.
fn place_legend(mut entries: Vec<Entry>, plot: &Rect, width: f64) -> Legend {
    let fit = (((plot.height() - PAD) / LEGEND_ROW).floor() as usize).max(1);
    let mut more = 0;
    if entries.len() > fit {
        more = entries.len() - (fit - 1);
        entries.truncate(fit - 1);
    }
    let rows = entries.len() + usize::from(more > 0);
    let x0 = plot.x1 + LEGEND_GAP;
    Legend {
        rect: Rect {
            x0,
            y0: plot.y0,
            x1: x0 + width,
            y1: plot.y0 + PAD + LEGEND_ROW * rows as f64,
        },
        entries,
        more,
    }
}

/// The markers of `panel` (the figure's and its own) inside the x range, each label in the
/// first row above the plot area where it does not touch another.
fn marker_rows(
    figure: &Figure,
    panel: &Panel,
    x: &Axis,
    (left, right): (f64, f64),
) -> Vec<MarkerPlan> {
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut out = Vec::new();
    for m in figure.markers.iter().chain(&panel.markers) {
        let Some(a) = x.value(m.x).filter(|a| x.contains(*a)) else {
            continue;
        };
        let px = left + (a - x.lo) / (x.hi - x.lo) * (right - left);
        let label = font::fit(&m.label, SMALL_SIZE, WIDTH / 2.0);
        let half = font::width(&label, SMALL_SIZE) / 2.0 + 3.0;
        let center = px.clamp(half + 2.0, WIDTH - half - 2.0);
        let span = (center - half, center + half);
        let row = rows
            .iter()
            .position(|r| r.iter().all(|s| span.1 <= s.0 || span.0 >= s.1))
            .unwrap_or_else(|| {
                rows.push(Vec::new());
                rows.len() - 1
            });
        rows[row].push(span);
        out.push(MarkerPlan {
            x: px,
            label,
            label_x: center,
            row,
        });
    }
    out
}
