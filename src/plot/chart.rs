//! Drawing a [`Chart`] with plotters: PNG (its bitmap backend, encoded by the png crate) or
//! SVG. Text is drawn with the one font compiled in (assets/), so a PNG has its labels on a
//! machine without fonts, an image's included.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, time};

/// What to encode the drawing as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Png,
    Svg,
}

/// Twelve colours a reader tells apart (d3's category10 and two darker ones): one per city
/// of the seed's fleet before any repeats.
const PALETTE: [RGBColor; 12] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x39, 0x3b, 0x79),
    RGBColor(0x63, 0x79, 0x39),
];

const FONT: &str = "sans-serif";

fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans-subset.ttf"),
        )
        .map_err(|_| "the compiled-in font does not load".to_string());
    });
    result
}

/// The chart drawn `width` by `height` pixels, encoded as `format`.
pub fn render(
    chart: &Chart,
    format: Format,
    (width, height): (u32, u32),
) -> Result<Vec<u8>, String> {
    register_font()?;
    match format {
        Format::Png => {
            let mut rgb = vec![0u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(|e| e.to_string())?;
            }
            let mut png = Vec::new();
            let mut encoder = png::Encoder::new(&mut png, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut w = encoder.write_header().map_err(|e| e.to_string())?;
            w.write_image_data(&rgb).map_err(|e| e.to_string())?;
            w.finish().map_err(|e| e.to_string())?;
            Ok(png)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(|e| e.to_string())?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// The time axis: epoch seconds, its ticks at round times ([`time::ticks`]) rather than
/// plotters' round numbers (09:03:20 is a round number of seconds since 1970).
struct TimeAxis {
    t0: f64,
    t1: f64,
    ticks: Vec<f64>,
}

impl Ranged for TimeAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (lo, hi): (i32, i32)) -> i32 {
        lo + ((v - self.t0) / (self.t1 - self.t0) * f64::from(hi - lo)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks are the bold grid; there is no light one between them.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.t0..self.t1
    }
}

/// A value axis label with as many decimals as the scale needs.
fn value_text(v: f64, top: f64) -> String {
    match top {
        t if t >= 20.0 => format!("{v:.0}"),
        t if t >= 2.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let width = root.dim_in_pixel().0;
    let (t0, t1) = chart.span();
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };

    root.draw(&Text::new(
        chart.title.as_str(),
        (width as i32 / 2, 10),
        (FONT, 22)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(e)?;

    // The legend takes a strip on the right as wide as its longest name.
    let legend_font = (FONT, 15).into_font();
    let longest = chart
        .series
        .iter()
        .map(|s| {
            root.estimate_text_size(&s.name, &TextStyle::from(legend_font.clone()))
                .map_or(0, |(w, _)| w)
        })
        .max()
        .unwrap_or(0);
    let legend_width = (longest + 60).clamp(120, width / 3);
    let body = root.margin(44, 8, 8, 8);
    let (plot, legend) = body.split_horizontally(body.dim_in_pixel().0 - legend_width);

    let (ticks, step) = time::ticks(t0, t1, (plot.dim_in_pixel().0 / 110).max(2) as usize);
    let with_seconds = step < 60.0;
    let first_day = time::date(t0);
    let last_day = time::date(t1);
    let x_desc = if first_day == last_day {
        format!("time (UTC), {first_day}")
    } else {
        format!("time (UTC), {first_day} to {last_day}")
    };
    let mut cc = ChartBuilder::on(&plot)
        .margin_right(16)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .build_cartesian_2d(TimeAxis { t0, t1, ticks }, 0.0..top)
        .map_err(e)?;
    let tick_text = |t: &f64| {
        // A tick at midnight says which day it starts when the chart spans several.
        if first_day != last_day && t.rem_euclid(86400.0) == 0.0 {
            time::date(*t)[5..].to_string()
        } else {
            time::clock_text(*t, with_seconds)
        }
    };
    let value_label = |v: &f64| value_text(*v, top);
    cc.configure_mesh()
        .x_desc(x_desc)
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&tick_text)
        .y_label_formatter(&value_label)
        .y_labels(8)
        .y_max_light_lines(1)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .light_line_style(RGBColor(0xf2, 0xf2, 0xf2))
        .draw()
        .map_err(e)?;

    for (i, s) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // A gap in the data (an outage, a city not yet started) is a gap in the line.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for &p in &s.points {
            match runs.last_mut() {
                Some(run) if p.0 - run.last().map_or(p.0, |q| q.0) <= chart.step * 1.5 => {
                    run.push(p)
                }
                _ => runs.push(vec![p]),
            }
        }
        for run in runs {
            if run.len() == 1 {
                cc.draw_series(std::iter::once(Circle::new(run[0], 3, color.filled())))
                    .map_err(e)?;
            } else {
                cc.draw_series(LineSeries::new(run, color.stroke_width(2)))
                    .map_err(e)?;
            }
        }
    }

    let mark_style = RGBColor(0x55, 0x55, 0x55);
    for m in chart.marks.iter().filter(|m| (t0..=t1).contains(&m.at)) {
        cc.draw_series(DashedLineSeries::new(
            [(m.at, 0.0), (m.at, top)],
            6,
            4,
            mark_style.stroke_width(1),
        ))
        .map_err(e)?;
        cc.draw_series(std::iter::once(
            EmptyElement::at((m.at, top))
                + Text::new(
                    m.label.clone(),
                    (5, 4),
                    (FONT, 14).into_font().color(&mark_style),
                ),
        ))
        .map_err(e)?;
    }

    for (i, s) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let y = 70 + i as i32 * 22;
        legend
            .draw(&PathElement::new([(8, y), (36, y)], color.stroke_width(3)))
            .map_err(e)?;
        legend
            .draw(&Text::new(
                s.name.as_str(),
                (44, y),
                legend_font
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
    }
    Ok(())
}
