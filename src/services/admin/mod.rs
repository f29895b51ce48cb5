//! Administration: accounts, hospitals, clients, versioned catalogues and policies, audit.

pub mod accounts;
pub mod audit;
pub mod bootstrap;
pub mod catalogue;
pub mod compare;
pub mod policy;
pub mod sessions;
pub mod template_preview;
pub mod versioned;
pub mod versions;
