//! Convene: a self-hosted web-conferencing server. One node on SQLite, or a cluster of
//! nodes sharing PostgreSQL; see `docs/` for the design.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod files;
pub mod ids;
pub mod maintenance;
pub mod media;
pub mod metrics;
pub mod ops;
pub mod rooms;
pub mod secret;
pub mod server;
pub mod signal;
pub mod store;
pub mod time;
pub mod web;

pub use config::{Config, Settings};
pub use server::run;
