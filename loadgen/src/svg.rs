//! The latency percentile chart, drawn as HdrHistogram's plotter draws it: percentile on a
//! log axis of 1/(1-p) (0 %, 90 %, 99 %, 99.9 % ... equally spaced), latency up the side.
//! Written by hand as SVG, so that any browser opens it.

use std::fmt::Write as _;

pub struct Series<'a> {
    pub name: &'a str,
    /// (quantile, microseconds), quantiles rising to 1.
    pub points: &'a [(f64, u64)],
    /// Samples behind the curve: percentiles past 1 - 1/count say nothing more.
    pub count: u64,
}

const W: f64 = 900.0;
const H: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Position on the percentile axis, in decades of 1/(1-q); q = 1 goes to `max_decades`.
fn decades(q: f64, max_decades: f64) -> f64 {
    if q >= 1.0 {
        return max_decades;
    }
    (1.0 / (1.0 - q)).log10().min(max_decades)
}

pub fn latency_chart(title: &str, series: &[Series]) -> String {
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    // Decades enough for the largest sample count (at least to 99.9 %, at most 99.9999 %).
    let samples = series.iter().map(|s| s.count).max().unwrap_or(1).max(1);
    let max_decades = (samples as f64).log10().ceil().clamp(3.0, 6.0);
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let max_us = values.clone().max().unwrap_or(1).max(1) as f64;
    let min_us = values.filter(|&v| v > 0).min().unwrap_or(1).max(1) as f64;
    // A tail many times the median squashes a linear axis flat: go logarithmic then.
    let log_y = max_us / min_us > 50.0;
    let (y_lo, y_hi) = if log_y {
        (min_us.log10().floor(), max_us.log10().ceil())
    } else {
        (0.0, nice_ceiling(max_us))
    };
    let x_of = |d: f64| LEFT + d / max_decades * plot_w;
    let y_of = |us: f64| {
        let f = if log_y {
            (us.max(1.0).log10() - y_lo) / (y_hi - y_lo).max(1e-9)
        } else {
            us / y_hi
        };
        TOP + plot_h - f * plot_h
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    // Percentile grid and labels.
    for d in 0..=max_decades as u32 {
        let x = x_of(f64::from(d));
        let label = match d {
            0 => "0%".to_string(),
            d => format!("{}%", trim(100.0 - 100.0 / 10f64.powi(d as i32))),
        };
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Percentile (log scale of 1/(1-p))</text>"#,
        LEFT + plot_w / 2.0,
        H - 16.0
    );
    // Latency grid and labels.
    let ticks: Vec<f64> = if log_y {
        (y_lo as i32..=y_hi as i32).map(|e| 10f64.powi(e)).collect()
    } else {
        (0..=5).map(|i| y_hi * f64::from(i) / 5.0).collect()
    };
    for us in ticks {
        let y = y_of(us);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            crate::report::micros(us.round() as u64)
        );
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">Latency{}</text>"#,
        TOP + plot_h / 2.0,
        if log_y { " (log scale)" } else { "" }
    );
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    // One line per run, and its legend entry.
    for (i, series) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = series
            .points
            .iter()
            .map(|&(q, us)| {
                format!(
                    "{:.1},{:.1}",
                    x_of(decades(q, max_decades)),
                    y_of(us as f64)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = TOP + 16.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + 12.0,
            LEFT + 36.0,
            LEFT + 42.0,
            ly + 4.0,
            escape(series.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// 1, 2 or 5 times a power of ten, at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_axis_is_in_decades() {
        assert_eq!(decades(0.0, 5.0), 0.0);
        assert!((decades(0.9, 5.0) - 1.0).abs() < 1e-9);
        assert!((decades(0.999, 5.0) - 3.0).abs() < 1e-6);
        assert_eq!(decades(1.0, 5.0), 5.0);
        assert_eq!(trim(99.9), "99.9");
        assert_eq!(trim(90.0), "90");
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(150.0), 200.0);
    }

    #[test]
    fn a_chart_names_every_run_and_labels_its_axes() {
        let a = [(0.0, 50), (0.9, 80), (0.99, 120), (0.999, 400), (1.0, 900)];
        let b = [(0.0, 60), (0.5, 70), (0.99, 300), (1.0, 5_000)];
        let svg = latency_chart(
            "fanout <1→100>",
            &[
                Series {
                    name: "midge",
                    points: &a,
                    count: 1000,
                },
                Series {
                    name: "mosquitto",
                    points: &b,
                    count: 100,
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        for label in [
            "midge",
            "mosquitto",
            "0%",
            "90%",
            "99%",
            "99.9%",
            "&lt;1→100&gt;",
        ] {
            assert!(svg.contains(label), "missing {label}");
        }
        // 5,000 / 50 > 50: the latency axis turns logarithmic.
        assert!(svg.contains("(log scale)</text>"));
    }
}
