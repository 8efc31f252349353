//! boomgate: gate appliance firmware. Camera → plate detector → plate reader → one read per
//! vehicle pass → access decision → relay pulse, with every event stored in SQLite and delivered
//! to the back office. See DESIGN.md in the project for the data path; each module is one stage.

pub mod access;
pub mod bench;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod geometry;
pub mod http;
pub mod inference;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod relay;
pub mod shutdown;
pub mod store;
pub mod tracker;
pub mod video;

/// Crate version, as printed by `boomgate --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
