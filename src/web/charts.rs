//! Charts drawn on the server as SVG: horizontal bars (with an optional target line) and lines
//! over time. Only presentation attributes (`fill`, `stroke`, `x`, `width`…), never a `style`
//! attribute or a script, so the console's strict Content-Security-Policy holds; every chart has
//! a title and description for screen readers and the page pairs it with the same numbers as a
//! table. Text is XML-escaped here, so a hospital's name cannot inject markup.

use std::fmt::Write;

/// Width of every chart, in SVG user units (the image scales to its container).
const WIDTH: f64 = 640.0;
/// Left margin for bar labels.
const LABEL: f64 = 190.0;
/// Height of one bar row.
const ROW: f64 = 26.0;
/// Colours: bars, the second series, target lines, axes and text.
const BAR: &str = "#1f5f9f";
const BAR2: &str = "#c26a00";
const TARGET: &str = "#b00020";
const AXIS: &str = "#5b6470";
const TEXT: &str = "#1d2430";

/// Escapes text for SVG content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One bar row: a label and one or two values (the second drawn beside the first).
#[derive(Debug, Clone)]
pub struct Bar {
    /// What the row is.
    pub label: String,
    /// First value.
    pub value: f64,
    /// Second value (e.g. p90 beside the median), if any.
    pub second: Option<f64>,
}

/// A horizontal bar chart. `max` is the axis end (e.g. 1.0 for rates), `target` draws a
/// vertical line, `fmt` writes a value's label; `legend` names the series when there are two.
pub fn bars(
    id: &str,
    title: &str,
    rows: &[Bar],
    max: f64,
    target: Option<f64>,
    fmt: impl Fn(f64) -> String,
    legend: Option<(&str, &str)>,
) -> String {
    let two = rows.iter().any(|r| r.second.is_some());
    let row_h = if two { ROW * 1.6 } else { ROW };
    let top = if legend.is_some() {
        34.0
    } else if target.is_some() {
        24.0
    } else {
        12.0
    };
    let height = top + row_h * rows.len().max(1) as f64 + 28.0;
    let plot = WIDTH - LABEL - 70.0;
    let max = if max > 0.0 { max } else { 1.0 };
    let x = |v: f64| LABEL + (v / max).clamp(0.0, 1.0) * plot;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" aria-labelledby="{id}-t" id="{id}" class="chart"><title id="{id}-t">{}</title>"#,
        escape(title)
    );
    if let Some((a, b)) = legend {
        let _ = write!(
            s,
            r#"<rect x="{LABEL}" y="8" width="12" height="12" fill="{BAR}"/><text x="{}" y="18" font-size="12" fill="{TEXT}">{}</text><rect x="{}" y="8" width="12" height="12" fill="{BAR2}"/><text x="{}" y="18" font-size="12" fill="{TEXT}">{}</text>"#,
            LABEL + 16.0,
            escape(a),
            LABEL + 136.0,
            LABEL + 152.0,
            escape(b)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bar_h = if two { row_h * 0.4 } else { row_h * 0.7 };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="{TEXT}">{}</text>"#,
            LABEL - 6.0,
            y + bar_h * if two { 1.2 } else { 0.75 },
            escape(&r.label)
        );
        let _ = write!(
            s,
            r#"<rect x="{LABEL}" y="{y:.1}" width="{:.1}" height="{bar_h:.1}" fill="{BAR}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{TEXT}">{}</text>"#,
            x(r.value) - LABEL,
            x(r.value) + 4.0,
            y + bar_h * 0.8,
            escape(&fmt(r.value))
        );
        if let Some(v) = r.second {
            let y2 = y + bar_h + 2.0;
            let _ = write!(
                s,
                r#"<rect x="{LABEL}" y="{y2:.1}" width="{:.1}" height="{bar_h:.1}" fill="{BAR2}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{TEXT}">{}</text>"#,
                x(v) - LABEL,
                x(v) + 4.0,
                y2 + bar_h * 0.8,
                escape(&fmt(v))
            );
        }
    }
    let bottom = height - 22.0;
    let _ = write!(
        s,
        r#"<line x1="{LABEL}" y1="{top}" x2="{LABEL}" y2="{bottom:.1}" stroke="{AXIS}"/><text x="{LABEL}" y="{:.1}" font-size="11" fill="{AXIS}">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{AXIS}">{}</text>"#,
        bottom + 14.0,
        escape(&fmt(0.0)),
        LABEL + plot,
        bottom + 14.0,
        escape(&fmt(max))
    );
    if let Some(t) = target {
        let tx = x(t);
        let _ = write!(
            s,
            r#"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{bottom:.1}" stroke="{TARGET}" stroke-width="2" stroke-dasharray="5 3"/><text x="{tx:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{TARGET}">{}</text>"#,
            top - 4.0,
            top - 8.0,
            escape(&fmt(t))
        );
    }
    s.push_str("</svg>");
    s
}

/// One line of a line chart: its name and a value per x position (none: a gap).
#[derive(Debug, Clone)]
pub struct Series {
    /// Name in the legend.
    pub name: String,
    /// Values, one per x label.
    pub values: Vec<Option<f64>>,
}

/// A line chart over `xs` (e.g. months), values 0–`max`, with an optional target line.
pub fn lines(
    id: &str,
    title: &str,
    xs: &[String],
    series: &[Series],
    max: f64,
    target: Option<f64>,
    fmt: impl Fn(f64) -> String,
) -> String {
    let (left, right, top, height) = (56.0, 20.0, 34.0, 260.0);
    let bottom = height - 36.0;
    let plot_w = WIDTH - left - right;
    let max = if max > 0.0 { max } else { 1.0 };
    let step = if xs.len() > 1 {
        plot_w / (xs.len() - 1) as f64
    } else {
        0.0
    };
    let px = |i: usize| left + step * i as f64;
    let py = |v: f64| bottom - (v / max).clamp(0.0, 1.0) * (bottom - top);
    let colours = [BAR, BAR2, "#2e7d32", "#6a1b9a"];
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="{id}-t" id="{id}" class="chart"><title id="{id}-t">{}</title>"#,
        escape(title)
    );
    // Legend entries one after another, each as wide as its name (CJK characters are wider).
    let mut lx = left;
    for (k, se) in series.iter().enumerate() {
        let c = colours[k % colours.len()];
        let name_w: f64 = se
            .name
            .chars()
            .map(|ch| if ch.is_ascii() { 6.5 } else { 12.0 })
            .sum();
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="8" width="12" height="12" fill="{c}"/><text x="{}" y="18" font-size="12" fill="{TEXT}">{}</text>"#,
            lx + 16.0,
            escape(&se.name)
        );
        lx += name_w + 36.0;
    }
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/><line x1="{left}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="{AXIS}"/><text x="{}" y="{}" font-size="11" text-anchor="end" fill="{AXIS}">{}</text><text x="{}" y="{}" font-size="11" text-anchor="end" fill="{AXIS}">{}</text>"#,
        left + plot_w,
        left - 4.0,
        bottom,
        escape(&fmt(0.0)),
        left - 4.0,
        top + 4.0,
        escape(&fmt(max))
    );
    let every = (xs.len() / 12).max(1);
    for (i, x) in xs.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="{AXIS}">{}</text>"#,
                px(i),
                bottom + 16.0,
                escape(x)
            );
        }
    }
    if let Some(t) = target {
        let _ = write!(
            s,
            r#"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{TARGET}" stroke-width="2" stroke-dasharray="5 3"/>"#,
            left + plot_w,
            y = py(t)
        );
    }
    for (k, se) in series.iter().enumerate() {
        let c = colours[k % colours.len()];
        // A gap (no value) ends one polyline and starts the next.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, s: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in se.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let (x, y) = (px(i), py(*v));
                    run.push(format!("{x:.1},{y:.1}"));
                    let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{c}"/>"#);
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_text_and_use_no_style_attribute() {
        let b = bars(
            "c1",
            "Coverage <by> hospital",
            &[Bar {
                label: "医院 <script>\"x\"".into(),
                value: 0.9,
                second: None,
            }],
            1.0,
            Some(0.98),
            |v| format!("{:.0}%", v * 100.0),
            None,
        );
        assert!(b.contains("&lt;script&gt;&quot;x&quot;") && !b.contains("<script"));
        assert!(b.contains("<title id=\"c1-t\">Coverage &lt;by&gt; hospital</title>"));
        assert!(!b.contains("style="));
        assert!(b.contains("98%"), "the target is labelled");
        let l = lines(
            "c2",
            "Trend",
            &["2026-01".into(), "2026-02".into(), "2026-03".into()],
            &[Series {
                name: "DBS".into(),
                values: vec![Some(0.5), None, Some(1.0)],
            }],
            1.0,
            None,
            |v| format!("{v}"),
        );
        assert!(
            !l.contains("style=") && !l.contains("polyline"),
            "a gap leaves single points"
        );
        assert_eq!(l.matches("<circle").count(), 2);
    }
}
