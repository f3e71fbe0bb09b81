//! The fleet report as html (to be written: see the report module).

use crate::fleet::FleetReport;

/// `report` as html.
pub fn render(report: &FleetReport) -> String {
    let _ = report;
    String::new()
}
