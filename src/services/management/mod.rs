//! Long-term management of confirmed infants (高危儿专案管理): plan versions, episodes and
//! their actions, the contact escalation sweep and the management report.

pub mod episodes;
pub mod plans;
pub mod report;
pub mod sweep;
pub mod treatment_targets;
