//! Bar charts as server-rendered SVG, for the console's home page: no script, no charting
//! library. A chart is a `<figure>` holding an SVG of the bars (stretched to the width of the
//! page, so it reads the same at 375 px and on a desktop) and its labels in HTML, where they
//! keep their size whatever the SVG's scale. Each bar has a `<title>` (the day and its counts),
//! which browsers show on hover and screen readers read.

use std::fmt::Write as _;

/// One stacked series: a label, a colour and one value per column.
#[derive(Clone, Debug)]
pub struct Series<'a> {
    pub label: &'a str,
    /// A CSS colour (`#2563eb`), written into the SVG's `fill` attributes.
    pub color: &'a str,
    pub values: &'a [i64],
}

/// The SVG's drawing box: 10 units per column, `HEIGHT` high.
const HEIGHT: i64 = 100;
const COLUMN: i64 = 10;
const BAR: i64 = 7;

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `n`, so the top
/// line of a chart is a number one reads at a glance.
pub fn nice_ceiling(n: i64) -> i64 {
    if n <= 1 {
        return 1;
    }
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// A stacked bar chart of `series` over `columns` (one label each, e.g. a day), titled
/// `title`, as an HTML fragment. Columns beyond a series' values count as 0.
pub fn bar_chart(title: &str, columns: &[String], series: &[Series<'_>]) -> String {
    let n = columns.len().max(1);
    let totals: Vec<i64> =
        (0..columns.len()).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0).max(0)).sum()).collect();
    let top = nice_ceiling(totals.iter().copied().max().unwrap_or(0));
    let sum: i64 = totals.iter().sum();
    let width = COLUMN * n as i64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart-bars\" viewBox=\"0 0 {width} {HEIGHT}\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"{}: {sum} in all, at most {} a day\">",
        escape(title),
        totals.iter().copied().max().unwrap_or(0)
    );
    for y in [0, HEIGHT / 2, HEIGHT] {
        let _ = write!(
            svg,
            "<line x1=\"0\" x2=\"{width}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#d4d4d8\" stroke-width=\"1\" \
             vector-effect=\"non-scaling-stroke\"/>"
        );
    }
    for (i, label) in columns.iter().enumerate() {
        let x = i as i64 * COLUMN + (COLUMN - BAR) / 2;
        let mut tip = escape(label);
        for s in series {
            let _ = write!(tip, ", {} {}", s.values.get(i).copied().unwrap_or(0), escape(s.label));
        }
        let _ = write!(svg, "<g><title>{tip}</title>");
        // A transparent full-height hit area, so the tooltip shows over short bars too.
        let _ = write!(svg, "<rect x=\"{x}\" y=\"0\" width=\"{BAR}\" height=\"{HEIGHT}\" fill=\"transparent\"/>");
        let mut base = HEIGHT;
        for s in series {
            let v = s.values.get(i).copied().unwrap_or(0).max(0);
            if v == 0 {
                continue;
            }
            // Rounded up to a unit, so a single event still shows.
            let h = ((v * HEIGHT + top - 1) / top).max(1);
            base -= h;
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{base}\" width=\"{BAR}\" height=\"{h}\" fill=\"{}\"/>",
                escape(s.color)
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    let mut html = String::new();
    let _ = write!(html, "<figure class=\"chart\"><figcaption><span class=\"chart-title\">{}</span>", escape(title));
    let _ = write!(html, " <span class=\"chart-total\">{sum}</span></figcaption>");
    let _ = write!(html, "<div class=\"chart-plot\"><span class=\"chart-top\">{top}</span>{svg}</div>");
    if let (Some(first), Some(last)) = (columns.first(), columns.last()) {
        let _ =
            write!(html, "<div class=\"chart-axis\"><span>{}</span><span>{}</span></div>", escape(first), escape(last));
    }
    if series.len() > 1 {
        html.push_str("<ul class=\"chart-legend\">");
        for s in series {
            let total: i64 = s.values.iter().map(|v| (*v).max(0)).sum();
            let _ = write!(
                html,
                "<li><svg viewBox=\"0 0 10 10\" width=\"10\" height=\"10\" aria-hidden=\"true\">\
                 <rect width=\"10\" height=\"10\" rx=\"2\" fill=\"{}\"/></svg>{} <b>{total}</b></li>",
                escape(s.color),
                escape(s.label)
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</figure>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("Nov {d}")).collect()
    }

    #[test]
    fn ceilings_are_round() {
        let got: Vec<i64> = [0, 1, 2, 3, 6, 10, 11, 99, 101, 4999].into_iter().map(nice_ceiling).collect();
        assert_eq!(got, vec![1, 1, 2, 5, 10, 10, 20, 100, 200, 5000]);
    }

    #[test]
    fn bars_stack_to_their_total_and_scale_to_the_top_line() {
        let a = [1, 0, 4];
        let b = [1, 0, 6];
        let html = bar_chart(
            "Sign-ins",
            &days(3),
            &[
                Series { label: "Password", color: "#111", values: &a },
                Series { label: "Passkey", color: "#222", values: &b },
            ],
        );
        // Top line 10: day 3's 4 + 6 fill the whole height, day 1's two bars 10 units each.
        assert!(html.contains("<rect x=\"21\" y=\"60\" width=\"7\" height=\"40\" fill=\"#111\"/>"), "{html}");
        assert!(html.contains("<rect x=\"21\" y=\"0\" width=\"7\" height=\"60\" fill=\"#222\"/>"), "{html}");
        assert!(html.contains("y=\"90\" width=\"7\" height=\"10\" fill=\"#111\""));
        assert!(html.contains("<title>Nov 2, 0 Password, 0 Passkey</title>"));
        assert!(html.contains("<span class=\"chart-top\">10</span>"));
        assert!(html.contains("aria-label=\"Sign-ins: 12 in all, at most 10 a day\""));
        assert!(html.contains("Password <b>5</b>") && html.contains("Passkey <b>7</b>"));
        assert_eq!(html.matches("<g>").count(), 3);
    }

    #[test]
    fn a_lone_event_is_still_visible_and_text_is_escaped() {
        let v = [1000, 1];
        let html = bar_chart("<New> & \"users\"", &days(2), &[Series { label: "u", color: "#333", values: &v }]);
        assert!(html.contains("height=\"1\" fill=\"#333\""), "{html}");
        assert!(html.contains("&lt;New&gt; &amp; &quot;users&quot;"));
        assert!(!html.contains("<New>"));
        assert!(!html.contains("chart-legend"), "one series needs no legend");
    }

    #[test]
    fn an_empty_chart_renders() {
        let html = bar_chart("Nothing", &days(30), &[Series { label: "x", color: "#444", values: &[] }]);
        assert!(html.contains("<span class=\"chart-top\">1</span>"));
        assert_eq!(html.matches("<rect").count(), 30, "hit areas only");
    }
}
