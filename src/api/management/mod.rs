//! `/api/v1/management`: long-term management of confirmed infants (高危儿专案管理) —
//! episodes, their actions, the management worklist and the management report.

pub mod episodes;
pub mod report;
