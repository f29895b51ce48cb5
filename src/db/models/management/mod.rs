//! Long-term management (高危儿专案管理): plan-set versions, episodes, their follow-up contacts,
//! treatments, fired contact rungs and timeline.

pub mod contact;
pub mod episode;
pub mod history;
pub mod plan;
pub mod report;
