//! Plate detection and reading with LiteRT (loaded at run time).

mod types;

pub use types::{Candidate, PlateBox, PlateFinding, PlateText, Recognition};
