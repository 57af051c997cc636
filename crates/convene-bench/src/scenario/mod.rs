//! The load scenarios, one module each.

pub mod cluster;
mod harness;
pub mod media;
pub mod rooms;
pub mod serve;
