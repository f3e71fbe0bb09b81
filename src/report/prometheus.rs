//! The fleet report as prometheus (to be written: see the report module).

use crate::fleet::FleetReport;

/// `report` as prometheus.
pub fn render(report: &FleetReport) -> String {
    let _ = report;
    String::new()
}
