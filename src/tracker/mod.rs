//! Tracks plates across frames and emits one voted read per vehicle pass.

mod read;

pub use read::PlateRead;
