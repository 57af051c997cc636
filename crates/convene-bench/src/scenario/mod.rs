//! The load scenarios, one module each.

pub mod rooms;
pub mod serve;
