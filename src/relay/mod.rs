//! Barrier relays: bounded pulses on a GPIO line (or a simulated one).

mod controller;
mod error;
mod line;
mod types;

pub use controller::{
    pulse_once, relay_log_channel, RelayController, RelayLogSink, RelayStateChange,
};
pub use error::RelayError;
pub use line::{
    monotonic_ns, pulses_of, read_transitions_file, GpioLine, GpioPinError, HalLine, LineFactory,
    RelayLine, SimulatedLine, SimulatedLines, SystemLines, Transition,
};
pub use types::{PulseOutcome, RelayLogEntry, RelayPulse, RelayState};
