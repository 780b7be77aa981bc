//! The charts, drawn by `plotters` into SVG strings. Every chart aggregates: a million intents
//! give histograms with fixed bins, series over at most [`BUCKETS`] time buckets, and at most
//! [`MAX_MARKS`] markers of a kind, so a page stays a few megabytes.

use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::fold::{Fold, Mark, TROUBLE};
use crate::model::TimeMs;
use crate::router::State;

pub const BUCKETS: usize = 400;
pub const MAX_MARKS: usize = 2_000;
pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 320;
/// Intents drawn one bar each in the state timeline; beyond, it aggregates.
pub const GANTT_MAX: usize = 40;

const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// A chart on an [`Area`], with the coordinates `X` and `Y` map to.
type Chart<'a, 'b, X, Y> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;
type Res = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

/// Draws one chart into an SVG string; a failure leaves a chart that says so.
fn svg(title: &str, draw: impl FnOnce(&Area<'_>) -> Res) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        let result = root.fill(&WHITE).map_err(e).and_then(|()| draw(&root));
        if let Err(msg) = result {
            let _ = root.fill(&WHITE);
            let _ = root.draw(&Text::new(
                format!("{title}: {msg}"),
                (20, 40),
                (FONT, 16).into_font(),
            ));
        }
        let _ = root.present();
    }
    out
}

/// The chart area every chart shares: caption, margins, label areas (the y one `y_area` wide).
fn frame<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    root: &'a Area<'b>,
    caption: &str,
    y_area: u32,
    x: X,
    y: Y,
) -> Result<Chart<'a, 'b, X, Y>, String> {
    ChartBuilder::on(root)
        .caption(caption, (FONT, 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x, y)
        .map_err(e)
}

/// The legend of the series drawn with labels, boxed in the upper right.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
) -> Res {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)
}

fn empty(root: &Area<'_>, title: &str) -> Res {
    root.draw(&Text::new(
        format!("{title}: nothing to show in this run"),
        (20, 40),
        (FONT, 16).into_font(),
    ))
    .map_err(e)
}

/// Seconds since the run's first line.
fn secs(t: TimeMs, t0: TimeMs) -> f64 {
    t.saturating_sub(t0) as f64 / 1000.0
}

/// At most `max` of `marks` on `symbol`, evenly picked (the same ones every time).
fn thin(marks: &[Mark], symbol: u16, max: usize) -> Vec<Mark> {
    let on: Vec<Mark> = marks
        .iter()
        .filter(|m| m.symbol == symbol)
        .copied()
        .collect();
    if on.len() <= max {
        return on;
    }
    let step = on.len().div_ceil(max);
    on.into_iter().step_by(step).collect()
}

fn pad(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        let d = if lo.abs() > 1.0 {
            lo.abs() * 0.001
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * 0.05;
    (lo - d, hi + d)
}

/// The price path of one symbol (a line) with order, fill, cancel and unknown markers.
pub fn price(fold: &Fold, symbol: u16, raw_path: &[(TimeMs, f64)]) -> String {
    let name = fold
        .symbols
        .get(symbol as usize)
        .cloned()
        .unwrap_or_default();
    let title = format!("Price of {name}, with the router's orders");
    svg(&title, |root| {
        let t0 = fold.t_min.unwrap_or(0);
        let kinds = [
            (
                "order sent (limit)",
                thin(&fold.sent, symbol, MAX_MARKS),
                0usize,
            ),
            ("fill (average)", thin(&fold.fills, symbol, MAX_MARKS), 2),
            ("cancel", thin(&fold.cancels, symbol, MAX_MARKS), 7),
            (
                "unknown outcome",
                thin(&fold.unknowns, symbol, MAX_MARKS),
                3,
            ),
        ];
        // A step line: each price holds until the next, the last one to the end of the run.
        let mut path: Vec<(f64, f64)> = Vec::with_capacity(raw_path.len() * 2 + 1);
        for (t, p) in downsample(raw_path) {
            if let Some(&(_, prev)) = path.last() {
                path.push((secs(t, t0), prev));
            }
            path.push((secs(t, t0), p));
        }
        if let Some(&(x, p)) = path.last() {
            let end = secs(fold.t_max, t0);
            if end > x {
                path.push((end, p));
            }
        }
        let mut ys: Vec<f64> = path.iter().map(|p| p.1).collect();
        for (_, m, _) in &kinds {
            ys.extend(m.iter().map(|m| m.price).filter(|p| *p > 0.0));
        }
        if ys.is_empty() {
            return empty(root, &title);
        }
        let (lo, hi) = pad(
            ys.iter().copied().fold(f64::MAX, f64::min),
            ys.iter().copied().fold(f64::MIN, f64::max),
        );
        let x_end = secs(fold.t_max, t0)
            .max(path.last().map_or(0.0, |p| p.0))
            .max(0.001);
        let mut chart = frame(root, &title, 70, 0f64..x_end, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("price")
            .draw()
            .map_err(e)?;
        if !path.is_empty() {
            chart
                .draw_series(LineSeries::new(path, &PALETTE[7]))
                .map_err(e)?
                .label("market")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], PALETTE[7]));
        }
        for (label, marks, c) in kinds {
            if marks.is_empty() {
                continue;
            }
            let color = PALETTE[c];
            let pts: Vec<(f64, f64)> = marks
                .iter()
                .filter(|m| m.price > 0.0)
                .map(|m| (secs(m.t, t0), m.price))
                .collect();
            let series = match c {
                0 => chart.draw_series(
                    pts.into_iter()
                        .map(|p| TriangleMarker::new(p, 4, color.filled())),
                ),
                2 => chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled()))),
                3 => chart.draw_series(
                    pts.into_iter()
                        .map(|p| Cross::new(p, 4, color.stroke_width(2))),
                ),
                _ => chart.draw_series(
                    pts.into_iter()
                        .map(|p| Circle::new(p, 3, color.stroke_width(1))),
                ),
            }
            .map_err(e)?;
            series
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        legend(&mut chart)
    })
}

/// At most `BUCKETS * 2` points: each bucket's first and last price in time order.
pub(crate) fn downsample(path: &[(TimeMs, f64)]) -> Vec<(TimeMs, f64)> {
    if path.len() <= BUCKETS * 2 {
        return path.to_vec();
    }
    let step = path.len().div_ceil(BUCKETS);
    let mut out = Vec::with_capacity(BUCKETS * 2 + 1);
    for chunk in path.chunks(step) {
        out.push(chunk[0]);
        if chunk.len() > 1 {
            out.push(chunk[chunk.len() - 1]);
        }
    }
    out
}

fn state_color(s: State) -> RGBColor {
    match s {
        State::New | State::Reserved => PALETTE[7],
        State::Sent => PALETTE[0],
        State::Unknown => PALETTE[3],
        State::Partial | State::Filled | State::Canceled => PALETTE[2],
        State::Error | State::Retry => PALETTE[1],
        _ => PALETTE[4],
    }
}

/// The groups of states the aggregated timeline counts.
const GROUPS: [(&str, usize); 5] = [
    ("reserving", 7),
    ("sent, waiting", 0),
    ("unknown outcome", 3),
    ("filling", 2),
    ("retrying", 1),
];

fn group(s: State) -> Option<usize> {
    match s {
        State::New | State::Reserved => Some(0),
        State::Sent => Some(1),
        State::Unknown => Some(2),
        State::Partial | State::Filled | State::Canceled => Some(3),
        State::Error | State::Retry => Some(4),
        _ => None,
    }
}

/// Intents' states over time: a Gantt bar per intent for a few, counts per state group over
/// time for many.
pub fn states(fold: &Fold) -> String {
    let title = "Intent states over time";
    svg(title, |root| {
        if fold.changes.is_empty() {
            return empty(root, title);
        }
        let t0 = fold.t_min.unwrap_or(0);
        let x_end = secs(fold.t_max, t0).max(0.001);
        if fold.intents.len() <= GANTT_MAX {
            return gantt(root, fold, t0, x_end);
        }
        let width = (fold.t_max.saturating_sub(t0) / BUCKETS as u64).max(1);
        let mut counts = vec![[0i64; 5]; BUCKETS + 1];
        let mut level = [0i64; 5];
        let mut k = 0;
        let mut changes = fold.changes.clone();
        changes.sort_by_key(|c| (c.0, c.1));
        for (b, row) in counts.iter_mut().enumerate() {
            let until = t0 + (b as u64 + 1) * width;
            while k < changes.len() && changes[k].0 < until {
                let (_, _, from, to) = changes[k];
                if from != to || from == State::New {
                    if from != to {
                        if let Some(g) = group(from) {
                            level[g] -= 1;
                        }
                    }
                    if let Some(g) = group(to) {
                        level[g] += 1;
                    }
                }
                k += 1;
            }
            *row = level;
        }
        let top = counts
            .iter()
            .flat_map(|r| r.iter())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1);
        let mut chart = frame(
            root,
            &format!("{title} ({} intents, counted)", fold.intents.len()),
            60,
            0f64..x_end,
            0i64..top + top / 10 + 1,
        )?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("intents")
            .draw()
            .map_err(e)?;
        for (g, (label, c)) in GROUPS.iter().enumerate() {
            let color = PALETTE[*c];
            let pts: Vec<(f64, i64)> = counts
                .iter()
                .enumerate()
                .map(|(b, r)| (secs(t0 + b as u64 * width, t0), r[g]))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e)?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        legend(&mut chart)
    })
}

fn gantt(root: &Area<'_>, fold: &Fold, t0: TimeMs, x_end: f64) -> Res {
    let n = fold.intents.len() as i32;
    let mut chart = frame(
        root,
        "Intent states over time (one bar per intent)",
        60,
        0f64..x_end,
        0i32..n,
    )?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("intent")
        .disable_y_mesh()
        .draw()
        .map_err(e)?;
    // Per intent: its state spans, from the changes in log order.
    let mut spans: Vec<Vec<(f64, State)>> = vec![Vec::new(); fold.intents.len()];
    for (i, facts) in fold.intents.iter().enumerate() {
        spans[i].push((secs(facts.new_t, t0), State::New));
    }
    for (i, trail) in fold.trails().into_iter().enumerate() {
        for (t, s) in trail {
            spans[i].push((secs(t, t0), s));
        }
    }
    let mut rects = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        for (k, (x0, state)) in s.iter().enumerate() {
            let x1 = s.get(k + 1).map_or_else(
                || fold.intents[i].end_t.map_or(x_end, |t| secs(t, t0)),
                |n| n.0,
            );
            if state_terminal(*state) {
                continue;
            }
            rects.push(Rectangle::new(
                [(*x0, i as i32), (x1.max(*x0), i as i32 + 1)],
                state_color(*state).filled(),
            ));
        }
    }
    chart.draw_series(rects).map_err(e)?;
    for (label, c) in GROUPS {
        let color = PALETTE[c];
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, i32)>>())
            .map_err(e)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
    }
    legend(&mut chart)
}

fn state_terminal(s: State) -> bool {
    matches!(
        s,
        State::Reconciled | State::FailedFinal | State::Failed | State::PartialSuccess
    )
}

/// A histogram of `values` (sorted) in at most 40 bins.
pub fn histogram(title: &str, x_desc: &str, values: &[f64]) -> String {
    svg(title, |root| {
        if values.is_empty() {
            return empty(root, title);
        }
        let (lo, hi) = (values[0], values[values.len() - 1]);
        let (lo, hi) = if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        let bins = 40usize;
        let w = (hi - lo) / bins as f64;
        let mut counts = vec![0u64; bins];
        for v in values {
            let b = (((v - lo) / w) as usize).min(bins - 1);
            counts[b] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1);
        let mut chart = frame(root, title, 60, lo..hi, 0u64..top + top / 10 + 1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("intents")
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(b, c)| {
                        let x0 = lo + b as f64 * w;
                        Rectangle::new([(x0, 0), (x0 + w, *c)], PALETTE[0].filled())
                    }),
            )
            .map_err(e)?;
        Ok(())
    })
}

/// Bars of how many intents had each count (orders, retries).
pub fn counts(title: &str, x_desc: &str, by: &std::collections::BTreeMap<u32, u64>) -> String {
    svg(title, |root| {
        if by.is_empty() {
            return empty(root, title);
        }
        let max_k = by.keys().copied().max().unwrap_or(0).min(50);
        let top = by.values().copied().max().unwrap_or(1);
        let mut chart = frame(
            root,
            title,
            60,
            -0.5f64..f64::from(max_k) + 0.5,
            0u64..top + top / 10 + 1,
        )?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("intents")
            .x_labels((max_k as usize + 1).min(26))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(by.iter().filter(|(k, _)| **k <= max_k).map(|(k, n)| {
                let x = f64::from(*k);
                Rectangle::new([(x - 0.4, 0), (x + 0.4, *n)], PALETTE[4].filled())
            }))
            .map_err(e)?;
        Ok(())
    })
}

/// Per time bucket and kind, the trouble the log shows (timeouts, server errors, ...).
pub fn trouble(fold: &Fold) -> String {
    let title = "Faults seen over time (what the router met)";
    svg(title, |root| {
        if fold.trouble.is_empty() {
            return empty(root, title);
        }
        let t0 = fold.t_min.unwrap_or(0);
        let width = (fold.t_max.saturating_sub(t0) / 100).max(1);
        let n = (fold.t_max.saturating_sub(t0) / width) as usize + 1;
        let mut grid = vec![vec![0u64; n]; TROUBLE.len()];
        for (t, k) in &fold.trouble {
            let b = (t.saturating_sub(t0) / width) as usize;
            grid[*k as usize][b.min(n - 1)] += 1;
        }
        let top = grid.iter().flatten().copied().max().unwrap_or(1);
        let x_end = secs(fold.t_max, t0).max(0.001);
        let mut chart = frame(root, title, 60, 0f64..x_end, 0u64..top + top / 10 + 1)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc(format!("per {} ms", width))
            .draw()
            .map_err(e)?;
        for (k, row) in grid.iter().enumerate() {
            if row.iter().all(|c| *c == 0) {
                continue;
            }
            let color = PALETTE[k % PALETTE.len()];
            let pts: Vec<(f64, u64)> = row
                .iter()
                .enumerate()
                .map(|(b, c)| (secs(t0 + b as u64 * width, t0), *c))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e)?
                .label(TROUBLE[k])
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        legend(&mut chart)
    })
}

/// Reserved budget per asset over time (at most four assets).
pub fn reserved(fold: &Fold) -> String {
    let title = "Reserved budget over time";
    svg(title, |root| {
        if fold.reserved.is_empty() {
            return empty(root, title);
        }
        let t0 = fold.t_min.unwrap_or(0);
        let x_end = secs(fold.t_max, t0).max(0.001);
        let mut events = fold.reserved.clone();
        events.sort_by_key(|r| r.0);
        let width = (fold.t_max.saturating_sub(t0) / BUCKETS as u64).max(1);
        let assets = fold.assets.len().min(4);
        let mut series = vec![Vec::with_capacity(BUCKETS + 1); assets];
        let mut level = vec![0f64; fold.assets.len()];
        let mut k = 0;
        let mut top = 0f64;
        for b in 0..=BUCKETS {
            let until = t0 + (b as u64 + 1) * width;
            let mut peak = level.clone();
            while k < events.len() && events[k].0 < until {
                let (_, a, amount) = events[k];
                level[a as usize] += amount;
                peak[a as usize] = peak[a as usize].max(level[a as usize]);
                k += 1;
            }
            for a in 0..assets {
                let v = peak[a].max(0.0);
                top = top.max(v);
                series[a].push((secs(t0 + b as u64 * width, t0), v));
            }
        }
        let mut chart = frame(root, title, 80, 0f64..x_end, 0f64..(top * 1.1).max(1e-9))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("reserved (peak per bucket)")
            .draw()
            .map_err(e)?;
        for (a, pts) in series.into_iter().enumerate() {
            let color = PALETTE[a];
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e)?
                .label(fold.assets[a].clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        legend(&mut chart)
    })
}
