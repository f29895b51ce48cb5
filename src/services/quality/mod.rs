//! Quality indicators: the report, its breakdowns and the facts tables it counts.

pub mod breakdowns;
pub mod dashboard;
pub mod facts;
pub mod report;
