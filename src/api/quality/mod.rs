//! Quality indicators: the report, its breakdowns and the facts tables it counts.

pub mod reports;
