//! Administration: accounts, hospitals, clients, versioned catalogues and policies, audit.

pub mod api_client;
pub mod audit;
pub mod catalogue;
pub mod hospital;
pub mod idempotency;
pub mod instance_secret;
pub mod policy;
pub mod user;
pub mod web_session;
