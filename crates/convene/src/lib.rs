//! Convene: a self-hosted web-conferencing server. One node on SQLite, or a cluster of
//! nodes sharing PostgreSQL; see `docs/` for the design.

pub mod api;
pub mod auth;
pub mod boards;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod files;
pub mod health;
pub mod http_server;
pub mod ids;
pub mod lease;
pub mod maintenance;
pub mod media;
pub mod metrics;
pub mod node;
pub mod openmeetings;
pub mod ops;
pub mod protocol;
pub mod public_url;
pub mod recordings;
pub mod rooms;
pub mod secret;
pub mod server;
pub mod signal;
pub mod store;
pub mod time;
pub mod tls;
pub mod web;

pub use config::{Config, Settings};
pub use server::{Started, run, run_observed};
