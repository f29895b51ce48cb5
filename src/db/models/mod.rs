//! Row structs, insert/update forms and query functions, one file per table. Functions take
//! `&mut AnyConnection` and return `QueryResult`, so services can compose them in one transaction.

pub mod admin;
pub mod follow_up;
pub mod quality;
pub mod screening;
