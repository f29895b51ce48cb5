//! Row structs, insert/update forms and query functions, one file per table. Functions take
//! `&mut AnyConnection` and return `QueryResult`, so services can compose them in one transaction.
//!
//! Every `Insertable` row says `treat_none_as_default_value = false`: a `None` is written as
//! NULL (no nullable column has a default), so an insert's text is the same whatever the row
//! holds and diesel prepares it once per connection instead of PostgreSQL parsing it on every
//! write. `tests/architecture.rs` keeps new rows to it.

pub mod admin;
pub mod follow_up;
pub mod management;
pub mod quality;
pub mod screening;
