//! Barrier relays: bounded pulses on a GPIO line (or a simulated one).

mod types;

pub use types::{PulseOutcome, RelayLogEntry, RelayPulse, RelayState};
