//! Guthrie: newborn screening follow-up and recall workflow server.
//!
//! Layers (see `docs/architecture.md`): `domain` (pure rules) ← `db` (diesel over SQLite and
//! PostgreSQL) ← `services` (use cases, one transaction each) ← `api` (HTTP). `auth`, `config`,
//! `error` and `telemetry` support them; `startup` wires everything; `cli` is the command line.

/// mimalloc for every binary that links the crate (server, tests, benchmarks): cheaper small
/// allocations than glibc's malloc under the write path's many short-lived strings.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo_data;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod notify;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
