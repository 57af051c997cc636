//! The integration tests, as one test binary: each file is a module, all share `common`.
//! One binary links the crate once instead of forty times (a clean build wrote ~45 GB of
//! test executables before, and a CI machine ran out of disk while linking them).

mod common;

mod accounts;
mod api;
mod authz_matrix;
mod authz_ws;
mod board_export;
mod browser;
mod browser_board;
mod browser_cluster;
mod browser_devices;
mod browser_files;
mod browser_guests;
mod browser_media;
mod browser_remote;
mod browser_roles;
mod cli;
mod cluster;
mod conversions;
mod faults;
mod files;
mod first_run;
mod hashing_busy;
mod http_limits;
mod https;
mod invitations;
mod leases;
mod live;
mod media;
mod openmeetings;
mod ownership;
mod reachability;
mod readiness;
mod recordings;
mod rights_live;
mod security;
mod self_service;
mod storage_s3;
mod store;
mod waiting_room;
mod whiteboard;
mod ws_slow_reader;
