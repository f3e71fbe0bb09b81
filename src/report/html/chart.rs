//! The page's chart: one horizontal bar per cluster whose oldest boot image build is
//! known, its length the build's age in days, labelled with the cluster's name and
//! version and coloured by the cluster's status; oldest first. Inline SVG, no script.

use super::{esc, status_class};
use crate::fleet::{FleetReport, TargetReport};
use crate::report::status::ClusterStatus;

const WIDTH: u32 = 880;
const LABEL_WIDTH: u32 = 300;
const BAR_SPACE: u32 = 440;
const ROW: u32 = 24;
const TOP: u32 = 10;
const AXIS_SPACE: u32 = 34;
/// The longest label, in characters, before it is cut short (the whole is the bar's
/// tooltip).
const LABEL_CHARS: usize = 42;

/// Writes the chart section.
pub fn write(out: &mut String, report: &FleetReport) {
    out.push_str(
        "<section aria-labelledby=\"h-chart\">\n<h2 id=\"h-chart\">Boot image age per cluster</h2>\n",
    );
    let mut bars: Vec<(&TargetReport, i64)> = report
        .targets
        .iter()
        .filter_map(|t| t.boot_image_age.as_ref().map(|a| (t, a.age_days)))
        .collect();
    if bars.is_empty() {
        out.push_str("<p>No cluster's boot image build is known.</p>\n</section>\n");
        return;
    }
    bars.sort_by_key(|(_, age)| std::cmp::Reverse(*age));
    out.push_str(
        "<p class=\"muted\">Days from the build date of the oldest boot image each cluster's \
         MachineSets use to the audit's day, labelled with the cluster's version.</p>\n",
    );
    let max = bars.iter().map(|(_, a)| *a).max().unwrap_or(0).max(1);
    let height = ROW
        .saturating_mul(u32::try_from(bars.len()).unwrap_or(u32::MAX))
        .saturating_add(TOP + AXIS_SPACE);
    out.push_str(&format!(
        "<svg id=\"age-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-labelledby=\"h-chart\">\n"
    ));
    let axis_y = height - AXIS_SPACE + 4;
    for tick in ticks(max) {
        let x = LABEL_WIDTH + scale(tick, max);
        out.push_str(&format!(
            "<line class=\"grid\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{axis_y}\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{tick}</text>\n",
            axis_y + 16
        ));
    }
    out.push_str(&format!(
        "<line class=\"axis\" x1=\"{LABEL_WIDTH}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">age in days</text>\n",
        LABEL_WIDTH + BAR_SPACE,
        LABEL_WIDTH - 8,
        axis_y + 16
    ));
    for (i, (t, age)) in bars.iter().enumerate() {
        bar(out, i, t, *age, max);
    }
    out.push_str("</svg>\n</section>\n");
}

fn bar(out: &mut String, i: usize, t: &TargetReport, age: i64, max: i64) {
    let y = ROW
        .saturating_mul(u32::try_from(i).unwrap_or(u32::MAX))
        .saturating_add(TOP);
    let status = ClusterStatus::of(t);
    let fill = status_class(status).replace("r-", "bar-");
    let version = t.version.as_deref().unwrap_or("version unknown");
    let label = format!("{} ({version})", t.name);
    let short = if label.chars().count() > LABEL_CHARS {
        let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        label.clone()
    };
    let build = t
        .boot_image_age
        .as_ref()
        .map(|a| format!("{} ({})", a.oldest_build, a.build_date))
        .unwrap_or_default();
    let w = scale(age, max).max(1);
    out.push_str(&format!(
        "<g class=\"bar\" data-cluster=\"{}\" data-age=\"{age}\"><title>{}: oldest boot image \
         {}, {age} days old; {}</title>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <rect class=\"{fill}\" x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{w}\" height=\"{}\"/>\
         <text x=\"{}\" y=\"{}\">{age} d</text></g>\n",
        esc(&t.name),
        esc(&label),
        esc(&build),
        esc(status.label()),
        LABEL_WIDTH - 8,
        y + 16,
        esc(&short),
        y + 4,
        ROW - 8,
        LABEL_WIDTH + w + 6,
        y + 16,
    ));
}

/// `days` as a bar length (negative ages, a build dated after the audit, are 0).
fn scale(days: i64, max: i64) -> u32 {
    let days = i128::from(days.clamp(0, max));
    u32::try_from(days * i128::from(BAR_SPACE) / i128::from(max)).unwrap_or(0)
}

/// Round gridline values up to `max`: 0 and 4–5 steps of 1, 2 or 5 × 10ⁿ days.
fn ticks(max: i64) -> Vec<i64> {
    let mut step = 1;
    'outer: loop {
        for m in [1, 2, 5] {
            if max / (step * m) <= 5 {
                step *= m;
                break 'outer;
            }
        }
        step *= 10;
    }
    (0..=max / step).map(|k| k * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gridlines_fall_on_round_numbers() {
        assert_eq!(ticks(1), vec![0, 1]);
        assert_eq!(ticks(366), vec![0, 100, 200, 300]);
        assert_eq!(ticks(1900), vec![0, 500, 1000, 1500]);
        assert_eq!(ticks(9), vec![0, 2, 4, 6, 8]);
        assert_eq!(scale(366, 366), BAR_SPACE);
        assert_eq!(scale(-3, 366), 0);
    }
}
