//! `boomgate relay pulse ID`: closes one relay once, for wiring checks at installation.

use super::{ExitKind, Failure};
use crate::config::Config;
use crate::relay::{pulse_once, PulseOutcome, SystemLines};
use std::process::ExitCode;

pub fn pulse(config: &Config, id: &str, ms: Option<u32>) -> Result<ExitCode, Failure> {
    let outcome = pulse_once(&config.relays, id, ms, &SystemLines)?;
    match outcome {
        PulseOutcome::Pulsed => {
            let r = config.relays.iter().find(|r| r.id == id);
            let len = ms.or(r.map(|r| r.pulse_ms)).unwrap_or(0);
            println!("relay {id}: pulsed {len} ms");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Failure::new(
            ExitKind::Relay,
            format!("relay {id}: pulse refused ({other:?})"),
        )),
    }
}
