//! Row structs, insert/update forms and query functions, one file per table. Functions take
//! `&mut AnyConnection` and return `QueryResult`, so services can compose them in one transaction.

pub mod api_client;
pub mod audit;
pub mod case;
pub mod catalogue;
pub mod contact;
pub mod dbs;
pub mod hospital;
pub mod idempotency;
pub mod infant;
pub mod instance_secret;
pub mod merge;
pub mod notification;
pub mod policy;
pub mod quality_facts;
pub mod screens;
pub mod user;
pub mod visit;
