//! Administration: accounts, hospitals, clients, versioned catalogues and policies, audit.

pub mod audit;
pub mod catalogue;
pub mod clients;
pub mod hospitals;
pub mod jobs;
pub mod users;
