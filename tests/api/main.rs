//! Integration tests: the real HTTP app on a real database (SQLite by default, PostgreSQL when
//! `TEST_DATABASE_URL` is set), one binary with a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod auth;
mod browser;
mod browser_admin;
mod browser_hospital;
mod browser_management;
mod browser_quality;
mod cases;
mod catalogue;
mod cli;
mod console;
mod fidelity;
mod hardening;
mod helpers;
mod hl7;
mod hl7_recovery;
mod hospitals;
mod infants;
mod isolation;
mod jobs;
mod management;
mod operations;
mod quality;
mod recovery;
mod replica;
mod screening;
mod screens;
mod seed;
mod sinks;
mod transactions;
mod typed;
mod validation;
