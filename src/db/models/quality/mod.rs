//! Quality indicators: how each is counted and listed, the rows behind their breakdowns, and
//! the facts tables they count.

pub mod breakdowns;
pub mod facts;
pub mod indicators;
pub mod touch;
