//! Use cases. Each runs in one transaction over a connection it is given, validates with the
//! domain rules first (so a rejected request writes nothing) and returns `AppError`.

pub mod admin;
pub mod follow_up;
pub mod management;
pub mod quality;
pub mod screening;
