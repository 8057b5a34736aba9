//! Every figure kind Tuna draws, rendered to SVG and PNG: the words are in the SVG, the PNG
//! has ink where the words go, no two words overlap or leave the image, the legend sits
//! beside the data, never on it. `TUNA_PLOT_GALLERY=DIR cargo test -p tuna-plot` also writes
//! the figures to DIR to look at.

use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;

use plotters::prelude::{DrawingBackend, IntoDrawingArea};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind, FontTransform,
};

use crate::plan::{self, Plan, Rect};
use crate::*;

fn epochs(n: usize) -> Vec<f64> {
    (1..=n).map(|e| e as f64).collect()
}

/// The learning curves of a run with a diagnosis (what `tuna diagnose --plot` draws).
fn curves() -> Figure {
    let e = epochs(12);
    let decay = |a: f64, b: f64| e.iter().map(|x| a / x + b).collect::<Vec<_>>();
    let rise = |a: f64| e.iter().map(|x| a - 0.4 / x).collect::<Vec<_>>();
    let mut val_loss = decay(0.9, 0.2);
    val_loss[9] = f64::NAN;
    let loss = Panel::new("loss")
        .from_zero(true)
        .with_series(Series::new("train", e.clone(), decay(1.0, 0.05)))
        .with_series(Series::new("validation", e.clone(), val_loss));
    let accuracy = Panel::new("accuracy")
        .with_series(Series::new("train", e.clone(), rise(0.99)))
        .with_series(Series::new("validation", e.clone(), rise(0.93)));
    let f1 = Panel::new("f1").with_series(Series::new("train", e.clone(), rise(0.97)));
    let lr = Panel::new("lr").log_y(true).with_series(Series::new(
        "lr",
        e.clone(),
        e.iter().map(|x| 0.1 * 0.5f64.powf(*x)).collect(),
    ));
    Figure::new(
        "mnist-mlp (diagnosis)",
        "epoch",
        vec![loss, accuracy, f1, lr],
    )
    .integer_x(true)
    .with_marker(Marker::new(8.0, "best epoch"))
    .with_marker(Marker::new(9.0, "overfitting starts"))
}

/// `tuna lr-find --plot`: loss against a log learning rate, the suggestions marked.
fn lr_find() -> Figure {
    let lrs: Vec<f64> = (0..60)
        .map(|i| 1e-6 * 10f64.powf(i as f64 / 10.0))
        .collect();
    let loss: Vec<f64> = lrs
        .iter()
        .map(|lr| 2.3 - 0.4 * (lr.log10() + 6.0).min(4.0) + (lr.log10() + 1.5).max(0.0).powi(2))
        .collect();
    let raw: Vec<f64> = loss
        .iter()
        .enumerate()
        .map(|(i, l)| l + 0.05 * ((i * 7 % 5) as f64 - 2.0))
        .collect();
    let panel = Panel::new("training loss")
        .with_series(Series::new("raw loss", lrs.clone(), raw).with_color([0xaa; 3]))
        .with_series(Series::new("smoothed loss", lrs, loss).with_color(PALETTE[0]))
        .with_marker(Marker::new(3e-3, "valley 3.0e-3"))
        .with_marker(Marker::new(1e-3, "steepest 1.0e-3"));
    Figure::new(
        "LR range test: mnist-mlp",
        "learning rate (log scale)",
        vec![panel],
    )
    .log_x(true)
}

/// `tuna schedule --plot` of a one-cycle schedule: lr and momentum.
fn schedule() -> Figure {
    let steps: Vec<f64> = (0..200).map(f64::from).collect();
    let lr = steps
        .iter()
        .map(|s| 0.1 * (1.0 - (s / 199.0 * std::f64::consts::PI * 2.0).cos()) / 2.0)
        .collect();
    let momentum = steps
        .iter()
        .map(|s| 0.95 - 0.1 * (s / 199.0 * std::f64::consts::PI).sin())
        .collect();
    let panels = vec![
        Panel::new("learning rate")
            .with_series(Series::new("lr", steps.clone(), lr))
            .from_zero(true)
            .show_legend(false),
        Panel::new("momentum").with_series(Series::new("momentum", steps, momentum)),
    ];
    Figure::new("OneCycleLR schedule (base lr 0.1)", "step", panels).integer_x(true)
}

fn history() -> Figure {
    let x = epochs(20);
    let y: Vec<f64> = x
        .iter()
        .map(|t| 0.3 + 0.2 * ((t * 1.7).sin()).abs())
        .collect();
    let mut best = Vec::new();
    for v in &y {
        best.push(best.last().map_or(*v, |b: &f64| b.min(*v)));
    }
    Figure::new(
        "mnist-search: optimization history",
        "trial number",
        vec![Panel::new("val_loss")
            .with_series(Series::new("complete trial", x.clone(), y).scatter())
            .with_series(Series::new("best so far", x, best))],
    )
    .integer_x(true)
}

fn intermediate() -> Figure {
    let mut panel = Panel::new("val_loss");
    let mut stops = (Vec::new(), Vec::new());
    for t in 0..8 {
        let n = if t % 3 == 1 { 3 } else { 10 };
        let x = epochs(n);
        let y: Vec<f64> = x.iter().map(|e| 0.3 + 0.1 * t as f64 / e).collect();
        let (name, color) = if n < 10 {
            stops.0.push(x[n - 1]);
            stops.1.push(y[n - 1]);
            ("pruned trial", PALETTE[3])
        } else {
            ("complete trial", PALETTE[0])
        };
        panel = panel.with_series(Series::new(name, x, y).with_color(color));
    }
    panel = panel.with_series(
        Series::new("pruned here", stops.0, stops.1)
            .with_style(Style::Crosses)
            .with_color(PALETTE[3]),
    );
    Figure::new(
        "mnist-search: val_loss per epoch of each trial",
        "epoch",
        vec![panel],
    )
    .integer_x(true)
}

fn importances() -> Figure {
    let bars = [
        ("optimizer.lr", 0.62),
        ("model.layers.1.out_features", 0.25),
        ("loader.batch_size", 0.13),
    ]
    .map(|(n, v)| Bar::new(n, v));
    Figure::new(
        "mnist-search: parameter importances",
        "importance (share of the variance of val_loss it explains)",
        vec![Panel::new("parameter").with_bars(bars)],
    )
}

fn parallel() -> Figure {
    let names = [
        "optimizer.lr",
        "model.layers.1.out_features",
        "optimizer",
        "val_loss",
    ];
    let mut panel = Panel::new("position in range").y_range(-0.04, 1.04);
    let quarters = [
        ("worst 25 %", [0xc6, 0xdb, 0xef]),
        ("best 25 %", [0x08, 0x30, 0x6b]),
    ];
    for t in 0..12 {
        let y: Vec<f64> = (0..4)
            .map(|k| ((t * 7 + k * 3) % 11) as f64 / 10.0)
            .collect();
        let (name, color) = quarters[usize::from(t >= 6)];
        panel = panel.with_series(Series::new(name, vec![0.0, 1.0, 2.0, 3.0], y).with_color(color));
    }
    for (k, lo, hi) in [
        (0.0, "1e-4", "0.1"),
        (1.0, "16", "256"),
        (3.0, "0.21", "0.48"),
    ] {
        panel = panel
            .with_note(Note::new(k, 0.0, lo))
            .with_note(Note::new(k, 1.0, hi));
    }
    for (i, o) in ["SGD", "Adam", "AdamW"].iter().enumerate() {
        panel = panel.with_note(Note::new(2.0, i as f64 / 2.0, *o));
    }
    let ticks = names
        .iter()
        .enumerate()
        .map(|(i, n)| (i as f64, n.to_string()))
        .collect();
    Figure::new(
        "mnist-search: parallel coordinates of the complete trials",
        "parameter (and the objective, last)",
        vec![panel],
    )
    .with_x_ticks(ticks)
}

fn slice_log() -> Figure {
    let x: Vec<f64> = (0..15).map(|i| 1e-4 * 10f64.powf(i as f64 / 5.0)).collect();
    let y = x
        .iter()
        .map(|v| 0.3 + (v.log10() + 2.5).powi(2) / 10.0)
        .collect();
    Figure::new(
        "mnist-search: val_loss against optimizer.lr",
        "optimizer.lr",
        vec![Panel::new("val_loss")
            .with_series(Series::new("complete trial", x, y).scatter())
            .show_legend(false)],
    )
    .log_x(true)
}

fn slice_choice() -> Figure {
    let x = vec![0.0, 1.0, 1.0, 2.0, 0.0, 2.0];
    let y = vec![0.4, 0.3, 0.32, 0.35, 0.45, 0.31];
    let ticks = ["SGD", "Adam", "AdamW"]
        .iter()
        .enumerate()
        .map(|(i, n)| (i as f64, n.to_string()))
        .collect();
    Figure::new(
        "mnist-search: val_loss against optimizer",
        "optimizer",
        vec![Panel::new("val_loss")
            .with_series(Series::new("complete trial", x, y).scatter())
            .show_legend(false)],
    )
    .with_x_ticks(ticks)
}

fn pareto() -> Figure {
    let x = vec![0.95, 0.97, 0.98, 0.96, 0.95];
    let y = vec![10.0, 20.0, 60.0, 30.0, 12.0];
    Figure::new(
        "mnist-search: Pareto front, val_accuracy vs seconds",
        "val_accuracy",
        vec![Panel::new("seconds")
            .with_series(Series::new("trial", x, y).scatter())
            .with_series(
                Series::new(
                    "Pareto front",
                    vec![0.95, 0.97, 0.98],
                    vec![10.0, 20.0, 60.0],
                )
                .with_style(Style::LineAndDots),
            )],
    )
}

/// Every figure kind, with the words its SVG must show.
fn kinds() -> Vec<(&'static str, Figure, Vec<&'static str>)> {
    vec![
        (
            "curves",
            curves(),
            vec![
                "loss",
                "accuracy",
                "f1",
                "lr",
                "train",
                "validation",
                "best epoch",
                "1e-4",
            ],
        ),
        (
            "lr_find",
            lr_find(),
            vec![
                "raw loss",
                "smoothed loss",
                "valley 3.0e-3",
                "1e-6",
                "0.001",
            ],
        ),
        (
            "schedule",
            schedule(),
            vec!["learning rate", "momentum", "0.04", "150"],
        ),
        (
            "history",
            history(),
            vec!["val_loss", "complete trial", "best so far"],
        ),
        (
            "intermediate",
            intermediate(),
            vec!["complete trial", "pruned trial", "pruned here"],
        ),
        (
            "importances",
            importances(),
            vec![
                "optimizer.lr",
                "loader.batch_size",
                "0.62",
                "0.13",
                "parameter",
            ],
        ),
        (
            "parallel_coordinates",
            parallel(),
            vec!["optimizer.lr", "val_loss", "AdamW", "1e-4", "best 25 %"],
        ),
        (
            "slice_lr",
            slice_log(),
            vec!["optimizer.lr", "1e-4", "0.01"],
        ),
        (
            "slice_optimizer",
            slice_choice(),
            vec!["SGD", "Adam", "AdamW"],
        ),
        (
            "pareto",
            pareto(),
            vec!["Pareto front", "seconds", "val_accuracy"],
        ),
    ]
}

/// Decodes a PNG to (width, height, RGB pixels).
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels darker than light grey (text, axes, lines) inside `r`.
fn ink(px: &[u8], width: u32, r: &Rect) -> usize {
    let mut n = 0;
    for y in r.y0.max(0.0) as usize..r.y1 as usize {
        for x in r.x0.max(0.0) as usize..r.x1 as usize {
            let i = (y * width as usize + x) * 3;
            if i + 2 < px.len() && px[i..i + 3].iter().map(|c| u32::from(*c)).sum::<u32>() < 3 * 160
            {
                n += 1;
            }
        }
    }
    n
}

/// A text the drawing code set, and the box it covers.
#[derive(Debug)]
struct Word {
    text: String,
    rect: Rect,
}

/// A backend that only records where text goes.
struct Recorder {
    size: (u32, u32),
    words: Rc<RefCell<Vec<Word>>>,
}

impl DrawingBackend for Recorder {
    type ErrorType = Infallible;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        _: BackendCoord,
        _: BackendColor,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        (x, y): BackendCoord,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let size = font::css_size(style.size());
        let w = font::width(text, size);
        let a = style.anchor();
        let left = match a.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let base = match a.v_pos {
            VPos::Top => 0.76,
            VPos::Center => 0.5 * font::x_height(),
            VPos::Bottom => -0.5 * font::x_height(),
        } * size;
        // Capitals and ascenders reach 0.76 em above the baseline, descenders 0.24 below.
        let (x0, x1, y0, y1) = (left, left + w, base - 0.76 * size, base + 0.24 * size);
        let (x, y) = (f64::from(x), f64::from(y));
        let rect = match style.transform() {
            FontTransform::Rotate270 => Rect {
                x0: x + y0,
                y0: y - x1,
                x1: x + y1,
                y1: y - x0,
            },
            _ => Rect {
                x0: x + x0,
                y0: y + y0,
                x1: x + x1,
                y1: y + y1,
            },
        };
        self.words.borrow_mut().push(Word {
            text: text.to_string(),
            rect,
        });
        Ok(())
    }
}

fn words(figure: &Figure, plan: &Plan) -> Vec<Word> {
    let words = Rc::new(RefCell::new(Vec::new()));
    let root = Recorder {
        size: (plan.width, plan.height),
        words: words.clone(),
    }
    .into_drawing_area();
    crate::draw::draw(&root, figure, plan).unwrap();
    drop(root);
    Rc::try_unwrap(words).unwrap().into_inner()
}

#[test]
fn every_kind_has_its_words_in_the_svg() {
    for (name, figure, expected) in kinds() {
        if let Ok(dir) = std::env::var("TUNA_PLOT_GALLERY") {
            std::fs::create_dir_all(&dir).unwrap();
            figure.save(format!("{dir}/{name}.svg")).unwrap();
            figure.save(format!("{dir}/{name}.png")).unwrap();
        }
        let svg = figure.to_svg();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}"
        );
        let titles = [figure.title.as_str(), figure.x_name.as_str()];
        let panels = figure.panels.iter().map(|p| p.name.as_str());
        for word in titles.into_iter().chain(panels).chain(expected) {
            assert!(
                svg.contains(&format!(">{word}</text>")),
                "{name}: {word} missing"
            );
        }
        assert!(
            svg.contains("font-family=\"DejaVu Sans, sans-serif\""),
            "{name}"
        );
    }
}

#[test]
fn words_stay_inside_the_image_and_apart() {
    for (name, figure, _) in kinds() {
        let plan = plan::plan(&figure);
        let words = words(&figure, &plan);
        assert!(
            words.iter().any(|w| w.text == figure.title),
            "{name}: no title"
        );
        let (w, h) = (f64::from(plan.width), f64::from(plan.height));
        for a in &words {
            let r = &a.rect;
            assert!(
                r.x0 >= 0.0 && r.y0 >= 0.0 && r.x1 <= w && r.y1 <= h,
                "{name}: {:?} leaves the image",
                a
            );
        }
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert!(!a.rect.overlaps(&b.rect), "{name}: {a:?} overlaps {b:?}");
            }
        }
    }
}

#[test]
fn legends_sit_beside_the_data_and_labels_are_inked_in_the_png() {
    for (name, figure, _) in kinds() {
        let plan = plan::plan(&figure);
        let (w, h, px) = decode(&figure.to_png().unwrap());
        assert_eq!((w, h), (plan.width, plan.height), "{name}");
        let title = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: f64::from(w),
            y1: plan::TITLE_HEIGHT,
        };
        assert!(ink(&px, w, &title) > 100, "{name}: no title drawn");
        for (panel, p) in figure.panels.iter().zip(&plan.panels) {
            let r = &p.plot;
            let y_name = Rect {
                x0: 0.0,
                y0: r.y0,
                x1: 8.0 + plan::AXIS_SIZE + 4.0,
                y1: r.y1,
            };
            assert!(ink(&px, w, &y_name) > 10, "{name}: no y-axis name");
            let y_ticks = Rect {
                x0: y_name.x1,
                y0: r.y0,
                x1: r.x0 - plan::TICK_LEN,
                y1: r.y1,
            };
            assert!(ink(&px, w, &y_ticks) > 50, "{name}: no y tick labels");
            let below = Rect {
                x0: r.x0,
                y0: r.y1 + 2.0,
                x1: r.x1,
                y1: r.y1 + 60.0,
            };
            assert!(
                ink(&px, w, &below) > 150,
                "{name}: no x tick labels or x name"
            );
            // Every drawn point of every series lies inside the plot area.
            let mut data: Option<Rect> = None;
            for s in &panel.series {
                for pt in
                    s.x.iter()
                        .zip(&s.y)
                        .filter_map(|(&x, &y)| p.point(&plan.x, (x, y)))
                {
                    assert!(pt.0 >= r.x0 && pt.0 <= r.x1 && pt.1 >= r.y0 && pt.1 <= r.y1);
                    let d = data.get_or_insert(Rect {
                        x0: pt.0,
                        y0: pt.1,
                        x1: pt.0,
                        y1: pt.1,
                    });
                    (d.x0, d.y0, d.x1, d.y1) = (
                        d.x0.min(pt.0),
                        d.y0.min(pt.1),
                        d.x1.max(pt.0),
                        d.y1.max(pt.1),
                    );
                }
            }
            if let Some(legend) = &p.legend {
                assert!(!legend.rect.overlaps(r), "{name}: legend on the plot area");
                if let Some(d) = data {
                    assert!(!legend.rect.overlaps(&d), "{name}: legend on the data");
                }
                assert!(legend.rect.x1 <= f64::from(w), "{name}: legend cut off");
                assert!(ink(&px, w, &legend.rect) > 100, "{name}: empty legend box");
            }
        }
    }
}

#[test]
fn legend_entries_are_one_per_name_in_series_colors() {
    let plan = plan::plan(&intermediate());
    let legend = plan.panels[0].legend.as_ref().unwrap();
    let names: Vec<&str> = legend.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["complete trial", "pruned trial", "pruned here"]);
    assert_eq!(legend.entries[2].style, Style::Crosses);
    assert_eq!(legend.entries[1].color, PALETTE[3]);
    // Without explicit colors, series of one name share the palette color of that name.
    let p = Panel::new("y")
        .with_series(Series::new("a", vec![1.0], vec![1.0]))
        .with_series(Series::new("b", vec![1.0], vec![2.0]))
        .with_series(Series::new("a", vec![2.0], vec![1.0]));
    let plan = plan::plan(&Figure::new("t", "x", vec![p]));
    assert_eq!(plan.panels[0].colors, [PALETTE[0], PALETTE[1], PALETTE[0]]);
    // A single series named like its panel needs no legend; `show_legend` overrides.
    let lone = Panel::new("lr").with_series(Series::new("lr", vec![1.0, 2.0], vec![1.0, 2.0]));
    assert!(
        plan::plan(&Figure::new("t", "x", vec![lone.clone()])).panels[0]
            .legend
            .is_none()
    );
    let forced = Figure::new("t", "x", vec![lone.show_legend(true)]);
    assert!(plan::plan(&forced).panels[0].legend.is_some());
}

#[test]
fn a_long_legend_is_cut_with_a_count_of_the_rest() {
    let mut p = Panel::new("y");
    for i in 0..40 {
        p = p.with_series(Series::new(
            format!("trial {i}"),
            vec![1.0, 2.0],
            vec![0.0, f64::from(i)],
        ));
    }
    let figure = Figure::new("many", "x", vec![p]);
    let plan = plan::plan(&figure);
    let legend = plan.panels[0].legend.as_ref().unwrap();
    assert!(legend.more > 0 && legend.entries.len() + legend.more == 40);
    assert!(legend.rect.y1 <= plan.panels[0].plot.y1 + 1.0);
    assert!(figure
        .to_svg()
        .contains(&format!(">+ {} more</text>", legend.more)));
}

#[test]
fn crowded_tick_labels_are_thinned_or_staggered() {
    // Large step counts: numeric labels would touch, so every other one is kept.
    let x: Vec<f64> = (0..=10).map(|i| 1_234_567.0 * f64::from(i)).collect();
    let p = Panel::new("y").with_series(Series::new("y", x.clone(), x.clone()));
    let plan = plan::plan(&Figure::new("t", "x", vec![p]));
    assert!(plan.x.ticks.len() >= 3);
    // Long parameter names: two rows, shortened if needed.
    let ticks = (0..12)
        .map(|i| (f64::from(i), format!("model.layers.{i}.out_features")))
        .collect();
    let p = Panel::new("y").with_series(Series::new("y", vec![0.0, 11.0], vec![0.0, 1.0]));
    let figure = Figure::new("t", "x", vec![p]).with_x_ticks(ticks);
    let plan = plan::plan(&figure);
    assert_eq!(plan.x.ticks.iter().map(|t| t.2).max(), Some(1));
    assert!(plan.x.ticks.iter().any(|t| t.1.contains('…')));
    let words = words(&figure, &plan);
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            assert!(!a.rect.overlaps(&b.rect), "{a:?} overlaps {b:?}");
        }
    }
}

#[test]
fn gaps_dots_and_empty_figures() {
    // The NaN splits the line into two; the lone point after a gap is a dot.
    let p = Panel::new("loss").with_series(Series::new(
        "train",
        vec![1.0, 2.0, 3.0, 4.0, 5.0],
        vec![1.0, 0.5, f64::NAN, 0.4, f64::NAN],
    ));
    let svg = Figure::new("t", "epoch", vec![p]).to_svg();
    // One line piece, and the legend's swatch.
    assert_eq!(
        svg.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#1F77B4\"")
            .count(),
        2
    );
    assert_eq!(svg.matches("<circle").count(), 1);
    let empty = Figure::new("nothing yet", "epoch", Vec::new());
    assert!(empty.to_svg().contains(">nothing yet</text>"));
    let (w, h, _) = decode(&empty.to_png().unwrap());
    assert_eq!((w as usize, h as usize), empty.size());
    // All-NaN, empty and non-positive-on-log series: axes only, no panic.
    let blank = Figure::new(
        "t",
        "x",
        vec![Panel::new("y")
            .with_series(Series::new("a", vec![1.0, 2.0], vec![f64::NAN; 2]))
            .with_series(Series::new("b", vec![], vec![]))
            .with_series(Series::new("c", vec![1.0], vec![-1.0]))
            .log_y(true)],
    )
    .log_x(true);
    // Series lines are 2 px wide (legend swatches 3, axes and grid 1): none here.
    assert!(!blank.to_svg().contains("stroke-width=\"2\""));
    blank.to_png().unwrap();
}

#[test]
fn save_picks_the_format_by_extension() {
    let dir = std::env::temp_dir().join(format!("tuna-plot-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let figure = curves();
    figure.save(dir.join("a.svg")).unwrap();
    figure.save(dir.join("a.PNG")).unwrap();
    let svg = std::fs::read_to_string(dir.join("a.svg")).unwrap();
    assert_eq!(svg, figure.to_svg());
    let (w, h, _) = decode(&std::fs::read(dir.join("a.PNG")).unwrap());
    assert_eq!((w, h), (800, 1200));
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
