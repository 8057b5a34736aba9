//! Draws a [`Plan`] with plotters: one function for every backend, so the SVG and the PNG
//! carry the same lines and the same words.

use plotters::coord::Shift;
use plotters::element::{Circle, Cross, DashedPathElement, PathElement, Rectangle, Text};
use plotters::prelude::{BitMapBackend, DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color as _, FontTransform, RGBColor, ShapeStyle};

use crate::plan::{self, Axis, Legend, PanelPlan, Plan, Rect};
use crate::raster::Glyphs;
use crate::{font, Color, Figure, Panel, PlotError, Series, Style};

const BLACK: Color = [0, 0, 0];
const TEXT: Color = [0x22, 0x22, 0x22];
const GRID: Color = [0xdd, 0xdd, 0xdd];
const MINOR: Color = [0xf0, 0xf0, 0xf0];
const FRAME: Color = [0xbb, 0xbb, 0xbb];
const AXIS_GREY: Color = [0x99, 0x99, 0x99];
const MARKER: Color = [0x55, 0x55, 0x55];
const BAR: Color = crate::PALETTE[0];

/// The figure as an SVG document.
pub(crate) fn svg(figure: &Figure) -> Result<String, PlotError> {
    font::face()?;
    let plan = plan::plan(figure);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (plan.width, plan.height)).into_drawing_area();
        draw(&root, figure, &plan)?;
        root.present().map_err(err)?;
    }
    Ok(inline_text(&out))
}

/// The figure as a PNG (RGB, 8 bits).
pub(crate) fn png(figure: &Figure) -> Result<Vec<u8>, PlotError> {
    font::face()?;
    let plan = plan::plan(figure);
    let (w, h) = (plan.width, plan.height);
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = Glyphs(BitMapBackend::with_buffer(&mut pixels, (w, h))).into_drawing_area();
        draw(&root, figure, &plan)?;
        root.present().map_err(err)?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

fn err(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// plotters writes a `<text>`'s content on a line of its own; one line per element reads
/// (and greps) better: `<text ...>validation</text>`.
fn inline_text(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut lines = svg.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        if line.starts_with("<text") && !line.ends_with("/>") {
            for inner in lines.by_ref() {
                let done = inner == "</text>";
                out.push_str(inner);
                if done {
                    break;
                }
            }
        }
        out.push('\n');
    }
    out
}

type Area<DB> = DrawingArea<DB, Shift>;

fn rgb(c: Color) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn stroke(c: Color, width: u32) -> ShapeStyle {
    ShapeStyle {
        color: rgb(c).to_rgba(),
        filled: false,
        stroke_width: width,
    }
}

fn fill(c: Color) -> ShapeStyle {
    ShapeStyle {
        color: rgb(c).to_rgba(),
        filled: true,
        stroke_width: 1,
    }
}

fn px((x, y): (f64, f64)) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

fn line<DB: DrawingBackend>(
    root: &Area<DB>,
    a: (f64, f64),
    b: (f64, f64),
    style: ShapeStyle,
) -> Result<(), PlotError> {
    root.draw(&PathElement::new(vec![px(a), px(b)], style))
        .map_err(err)
}

fn rect<DB: DrawingBackend>(root: &Area<DB>, r: &Rect, style: ShapeStyle) -> Result<(), PlotError> {
    root.draw(&Rectangle::new([px((r.x0, r.y0)), px((r.x1, r.y1))], style))
        .map_err(err)
}

/// `s` at `at` in `size`, anchored by `pos`, optionally rotated to read bottom-up.
fn text<DB: DrawingBackend>(
    root: &Area<DB>,
    s: &str,
    at: (f64, f64),
    size: f64,
    pos: (HPos, VPos),
    rotate: bool,
) -> Result<(), PlotError> {
    let mut f = font::at(size);
    if rotate {
        f = f.transform(FontTransform::Rotate270);
    }
    let style = f.color(&rgb(TEXT)).pos(Pos::new(pos.0, pos.1));
    root.draw(&Text::new(s.to_string(), px(at), style))
        .map_err(err)
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    figure: &Figure,
    plan: &Plan,
) -> Result<(), PlotError> {
    root.fill(&rgb([255, 255, 255])).map_err(err)?;
    let title_y = plan::TITLE_HEIGHT / 2.0 + 2.0;
    text(
        root,
        &plan.title,
        (f64::from(plan.width) / 2.0, title_y),
        plan.title_size,
        (HPos::Center, VPos::Center),
        false,
    )?;
    for (panel, p) in figure.panels.iter().zip(&plan.panels) {
        grid(root, figure, plan, p)?;
        bars(root, &plan.x, panel, p)?;
        for m in &p.markers {
            let dash = DashedPathElement::new(
                vec![px((m.x, p.plot.y0)), px((m.x, p.plot.y1))],
                6,
                4,
                stroke(MARKER, 1),
            );
            root.draw(&dash).map_err(err)?;
        }
        for (s, color) in panel.series.iter().zip(&p.colors) {
            series(root, &plan.x, p, s, *color)?;
        }
        notes(root, &plan.x, panel, p)?;
        axes(root, plan, p)?;
        if let Some(legend) = &p.legend {
            draw_legend(root, legend)?;
        }
        marker_labels(root, p)?;
    }
    Ok(())
}

/// Grid lines at the ticks (lighter at minor ticks), under the data.
fn grid<DB: DrawingBackend>(
    root: &Area<DB>,
    figure: &Figure,
    plan: &Plan,
    p: &PanelPlan,
) -> Result<(), PlotError> {
    let r = &p.plot;
    // Named x ticks are axes of their own (parallel coordinates) or categories: darker.
    let x_grid = if figure.x_ticks.is_empty() {
        GRID
    } else {
        AXIS_GREY
    };
    for (a, color) in plan
        .x
        .minor
        .iter()
        .map(|a| (*a, MINOR))
        .chain(plan.x.ticks.iter().map(|t| (t.0, x_grid)))
    {
        if plan.x.contains(a) {
            let x = p.px(&plan.x, a);
            line(root, (x, r.y0), (x, r.y1), stroke(color, 1))?;
        }
    }
    for (a, color) in
        p.y.minor
            .iter()
            .map(|a| (*a, MINOR))
            .chain(p.y.ticks.iter().map(|t| (t.0, GRID)))
    {
        if p.y.contains(a) {
            let y = p.py(a);
            line(root, (r.x0, y), (r.x1, y), stroke(color, 1))?;
        }
    }
    Ok(())
}

/// The axis lines, tick marks, tick labels and axis names.
fn axes<DB: DrawingBackend>(root: &Area<DB>, plan: &Plan, p: &PanelPlan) -> Result<(), PlotError> {
    let r = &p.plot;
    let black = stroke(BLACK, 1);
    line(root, (r.x0, r.y0), (r.x0, r.y1), black)?;
    line(root, (r.x0, r.y1), (r.x1, r.y1), black)?;
    for (a, label, _) in &p.y.ticks {
        if !p.y.contains(*a) {
            continue;
        }
        let y = p.py(*a);
        line(root, (r.x0 - plan::TICK_LEN, y), (r.x0, y), black)?;
        let at = (r.x0 - plan::TICK_LEN - 4.0, y);
        text(
            root,
            label,
            at,
            plan::TICK_SIZE,
            (HPos::Right, VPos::Center),
            false,
        )?;
    }
    for (a, label, row) in &plan.x.ticks {
        if !plan.x.contains(*a) {
            continue;
        }
        let x = p.px(&plan.x, *a);
        line(root, (x, r.y1), (x, r.y1 + plan::TICK_LEN), black)?;
        let y = r.y1 + plan::TICK_LEN + 4.0 + plan::ROW * *row as f64;
        text(
            root,
            label,
            (x, y),
            plan::TICK_SIZE,
            (HPos::Center, VPos::Top),
            false,
        )?;
    }
    let rows = plan.x.ticks.iter().map(|t| t.2 + 1).max().unwrap_or(1);
    let name_y = r.y1 + plan::TICK_LEN + 4.0 + plan::ROW * rows as f64 + 6.0;
    text(
        root,
        &plan.x_name,
        ((r.x0 + r.x1) / 2.0, name_y),
        plan::AXIS_SIZE,
        (HPos::Center, VPos::Top),
        false,
    )?;
    text(
        root,
        &p.y_name,
        (8.0 + plan::AXIS_SIZE / 2.0, (r.y0 + r.y1) / 2.0),
        plan::AXIS_SIZE,
        (HPos::Center, VPos::Center),
        true,
    )
}

/// One series: lines through runs of drawable points, and dots or crosses.
fn series<DB: DrawingBackend>(
    root: &Area<DB>,
    x: &Axis,
    p: &PanelPlan,
    s: &Series,
    color: Color,
) -> Result<(), PlotError> {
    let points: Vec<Option<(i32, i32)>> =
        s.x.iter()
            .zip(&s.y)
            .map(|(&vx, &vy)| p.point(x, (vx, vy)).map(px))
            .collect();
    let joined = matches!(s.style, Style::Line | Style::LineAndDots);
    if joined {
        for run in points.split(Option::is_none) {
            let run: Vec<(i32, i32)> = run.iter().flatten().copied().collect();
            match run.len() {
                0 => {}
                1 => root
                    .draw(&Circle::new(run[0], 3, fill(color)))
                    .map_err(err)?,
                _ => root
                    .draw(&PathElement::new(run, stroke(color, 2)))
                    .map_err(err)?,
            }
        }
    }
    for &at in points.iter().flatten() {
        match s.style {
            Style::Line => {}
            Style::Dots | Style::LineAndDots => {
                root.draw(&Circle::new(at, 3, fill(color))).map_err(err)?
            }
            Style::Crosses => root
                .draw(&Cross::new(at, 5, stroke(color, 2)))
                .map_err(err)?,
        }
    }
    Ok(())
}

/// Horizontal bars from 0, each with its value written after its end.
fn bars<DB: DrawingBackend>(
    root: &Area<DB>,
    x: &Axis,
    panel: &Panel,
    p: &PanelPlan,
) -> Result<(), PlotError> {
    let n = panel.bars.len();
    let zero = p.px(x, 0.0f64.clamp(x.lo, x.hi));
    for (i, b) in panel.bars.iter().enumerate() {
        let center = p.py((n - 1 - i) as f64);
        let half = 0.3 * p.plot.height() / n as f64;
        let end = if b.value.is_finite() {
            p.px(x, b.value.clamp(x.lo, x.hi))
        } else {
            zero
        };
        let r = Rect {
            x0: zero.min(end),
            y0: center - half,
            x1: zero.max(end),
            y1: center + half,
        };
        rect(root, &r, fill(BAR))?;
        let (at, h) = if b.value < 0.0 {
            (r.x0 - 5.0, HPos::Right)
        } else {
            (r.x1 + 5.0, HPos::Left)
        };
        let value = bar_value(b.value);
        text(
            root,
            &value,
            (at, center),
            plan::SMALL_SIZE,
            (h, VPos::Center),
            false,
        )?;
    }
    Ok(())
}

/// A bar's value with up to three significant digits (`0.62`, `12.5`, `3`).
fn bar_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let decimals = (2.0 - v.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Notes on white boxes beside their points.
fn notes<DB: DrawingBackend>(
    root: &Area<DB>,
    x: &Axis,
    panel: &Panel,
    p: &PanelPlan,
) -> Result<(), PlotError> {
    for n in &panel.notes {
        let (Some(ax), Some(ay)) = (x.value(n.x), p.y.value(n.y)) else {
            continue;
        };
        let (cx, cy) = (p.px(x, ax), p.py(ay));
        let w = font::width(&n.text, plan::SMALL_SIZE);
        let left_side = cx > p.plot.x0 + 0.75 * p.plot.width();
        let x0 = if left_side { cx - 6.0 - w } else { cx + 6.0 };
        let y = cy.clamp(p.plot.y0 + 8.0, p.plot.y1 - 8.0);
        let bg = Rect {
            x0: x0 - 2.0,
            y0: y - 8.0,
            x1: x0 + w + 2.0,
            y1: y + 8.0,
        };
        rect(root, &bg, fill([255, 255, 255]))?;
        text(
            root,
            &n.text,
            (x0, y),
            plan::SMALL_SIZE,
            (HPos::Left, VPos::Center),
            false,
        )?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(root: &Area<DB>, legend: &Legend) -> Result<(), PlotError> {
    let r = &legend.rect;
    rect(root, r, fill([255, 255, 255]))?;
    rect(root, r, stroke(FRAME, 1))?;
    for (i, e) in legend.entries.iter().enumerate() {
        let y = r.y0 + 4.0 + plan::LEGEND_ROW * (i as f64 + 0.5);
        let (a, b) = (r.x0 + 8.0, r.x0 + 8.0 + plan::SWATCH);
        let mid = px(((a + b) / 2.0, y));
        if matches!(e.style, Style::Line | Style::LineAndDots) {
            line(root, (a, y), (b, y), stroke(e.color, 3))?;
        }
        match e.style {
            Style::Line => {}
            Style::Dots | Style::LineAndDots => root
                .draw(&Circle::new(mid, 4, fill(e.color)))
                .map_err(err)?,
            Style::Crosses => root
                .draw(&Cross::new(mid, 5, stroke(e.color, 2)))
                .map_err(err)?,
        }
        let at = (b + 6.0, y);
        text(
            root,
            &e.name,
            at,
            plan::TICK_SIZE,
            (HPos::Left, VPos::Center),
            false,
        )?;
    }
    if legend.more > 0 {
        let y = r.y0 + 4.0 + plan::LEGEND_ROW * (legend.entries.len() as f64 + 0.5);
        let s = format!("+ {} more", legend.more);
        text(
            root,
            &s,
            (r.x0 + 8.0, y),
            plan::TICK_SIZE,
            (HPos::Left, VPos::Center),
            false,
        )?;
    }
    Ok(())
}

/// Marker labels above the plot area, row 0 nearest to it.
fn marker_labels<DB: DrawingBackend>(root: &Area<DB>, p: &PanelPlan) -> Result<(), PlotError> {
    for m in &p.markers {
        let y = p.plot.y0 - 3.0 - plan::ROW * m.row as f64;
        text(
            root,
            &m.label,
            (m.label_x, y),
            plan::SMALL_SIZE,
            (HPos::Center, VPos::Bottom),
            false,
        )?;
    }
    Ok(())
}
