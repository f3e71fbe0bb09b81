//! The fleet report's forms (issue 17): JUnit XML against the Jenkins JUnit schema and an
//! XML parser, Prometheus text against real parsers, and the HTML page against an HTML
//! parser and in a real headless browser (chromium), over a fleet of real audits.

mod browser;
mod fleet;
mod html;
mod junit;
mod prometheus;
mod properties;
