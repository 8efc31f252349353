//! Relay output lines: an embedded-hal 1.0 `OutputPin` (GPIO character device or simulated)
//! wrapped so the controller only speaks "active" / "inactive" and never cares about polarity.

use super::RelayError;
use crate::config::{RelayDriver, RelaySettings};
use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A relay output as the controller sees it: active closes the contact.
pub trait RelayLine: Send {
    fn set_active(&mut self, active: bool) -> Result<(), RelayError>;
    /// What the line is, for logs (`/dev/gpiochip0 line 17`, `simulated`).
    fn describe(&self) -> String;
}

/// Opens the line of a configured relay. Injected from `main` so tests and the demo can use
/// simulated lines while the appliance uses GPIO.
pub trait LineFactory {
    fn open(&self, settings: &RelaySettings) -> Result<Box<dyn RelayLine>, RelayError>;
}

/// Any embedded-hal output pin as a relay line. `active_low` maps "active" to a low level, so
/// the pin itself only ever sees physical levels.
pub struct HalLine<P> {
    pin: P,
    relay: String,
    active_low: bool,
    what: String,
}

impl<P> HalLine<P> {
    pub fn new(pin: P, relay: &str, active_low: bool, what: String) -> HalLine<P> {
        HalLine {
            pin,
            relay: relay.to_string(),
            active_low,
            what,
        }
    }
}

impl<P> RelayLine for HalLine<P>
where
    P: OutputPin + Send,
{
    fn set_active(&mut self, active: bool) -> Result<(), RelayError> {
        let high = active != self.active_low;
        let result = if high {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        result.map_err(|e| RelayError::Drive {
            relay: self.relay.clone(),
            level: if high { "high" } else { "low" },
            detail: format!("{e:?}"),
        })
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

/// Physical level that leaves the relay released.
fn inactive_level_high(active_low: bool) -> bool {
    active_low
}

/// Error of a GPIO write, as embedded-hal wants it.
#[derive(Debug)]
pub struct GpioPinError(pub gpiocdev::Error);

impl embedded_hal::digital::Error for GpioPinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// One output line of the Linux GPIO character device, driven by physical level.
pub struct GpioLine {
    request: gpiocdev::Request,
    offset: u32,
}

impl GpioLine {
    /// Requests the line as an output whose initial value leaves the relay released, so there is
    /// no glitch between the request and the controller's first write.
    pub fn open(settings: &RelaySettings) -> Result<(GpioLine, String), RelayError> {
        let relay = settings.id.clone();
        let chip_path = settings.chip.as_deref().map(chip_path);
        let (chip, offset) = match (chip_path, settings.line, settings.line_name.as_deref()) {
            (Some(chip), Some(offset), _) => {
                gpiocdev::chip::is_chip(&chip).map_err(|source| RelayError::Chip {
                    relay: relay.clone(),
                    chip: chip.display().to_string(),
                    source,
                })?;
                (chip, offset)
            }
            (Some(chip), None, Some(name)) => {
                let c = gpiocdev::Chip::from_path(&chip).map_err(|source| RelayError::Chip {
                    relay: relay.clone(),
                    chip: chip.display().to_string(),
                    source,
                })?;
                let info = c
                    .find_line_info(name)
                    .ok_or_else(|| RelayError::LineNotFound {
                        relay: relay.clone(),
                        line: name.to_string(),
                        chip: Some(chip.display().to_string()),
                    })?;
                (chip, info.offset)
            }
            (None, _, Some(name)) => {
                let found =
                    gpiocdev::find_named_line(name).ok_or_else(|| RelayError::LineNotFound {
                        relay: relay.clone(),
                        line: name.to_string(),
                        chip: None,
                    })?;
                (found.chip, found.info.offset)
            }
            _ => return Err(RelayError::MissingLine { relay }),
        };
        let initial = if inactive_level_high(settings.active_low) {
            gpiocdev::line::Value::Active
        } else {
            gpiocdev::line::Value::Inactive
        };
        let request = gpiocdev::Request::builder()
            .on_chip(&chip)
            .with_consumer(format!("boomgate-{relay}"))
            .with_line(offset)
            .as_output(initial)
            .request()
            .map_err(|source| RelayError::Request {
                relay: relay.clone(),
                chip: chip.display().to_string(),
                offset,
                source,
            })?;
        let what = format!(
            "{} line {offset}{}",
            chip.display(),
            if settings.active_low {
                " (active low)"
            } else {
                ""
            }
        );
        Ok((GpioLine { request, offset }, what))
    }
}

/// `gpiochip0` → `/dev/gpiochip0`; paths are kept.
fn chip_path(chip: &str) -> PathBuf {
    if chip.contains('/') {
        PathBuf::from(chip)
    } else {
        Path::new("/dev").join(chip)
    }
}

impl ErrorType for GpioLine {
    type Error = GpioPinError;
}

impl OutputPin for GpioLine {
    fn set_low(&mut self) -> Result<(), GpioPinError> {
        self.request
            .set_value(self.offset, gpiocdev::line::Value::Inactive)
            .map_err(GpioPinError)
    }

    fn set_high(&mut self) -> Result<(), GpioPinError> {
        self.request
            .set_value(self.offset, gpiocdev::line::Value::Active)
            .map_err(GpioPinError)
    }
}

/// One level change of a simulated line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub relay: String,
    /// Physical level: 1 high, 0 low.
    pub level: u8,
    /// Whether the relay contact is closed (barrier opening).
    pub active: bool,
    /// CLOCK_MONOTONIC in nanoseconds, comparable across processes on one boot.
    pub mono_ns: u64,
    pub at: jiff::Timestamp,
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// A pin with no hardware: records each level change in memory and, when a file is given,
/// appends it as a JSON line from a background thread (so a pulse never waits for disk).
pub struct SimulatedLine {
    relay: String,
    active_low: bool,
    level: Option<bool>,
    memory: Arc<Mutex<Vec<Transition>>>,
    file_tx: Option<crossbeam_channel::Sender<Transition>>,
    file_thread: Option<JoinHandle<()>>,
}

/// Transitions waiting for the file writer; beyond this they are still kept in memory.
const TRANSITION_FILE_QUEUE: usize = 1024;

impl SimulatedLine {
    pub fn new(
        relay: &str,
        active_low: bool,
        file: Option<&Path>,
    ) -> Result<SimulatedLine, RelayError> {
        Self::with_memory(relay, active_low, file, Arc::new(Mutex::new(Vec::new())))
    }

    /// Like `new`, recording into a shared list (several lines may share one).
    pub fn with_memory(
        relay: &str,
        active_low: bool,
        file: Option<&Path>,
        memory: Arc<Mutex<Vec<Transition>>>,
    ) -> Result<SimulatedLine, RelayError> {
        let (file_tx, file_thread) = match file {
            None => (None, None),
            Some(path) => {
                let err = |source| RelayError::TransitionsFile {
                    relay: relay.to_string(),
                    path: path.to_path_buf(),
                    source,
                };
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(err)?;
                }
                let mut out = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(err)?;
                let (tx, rx) = crossbeam_channel::bounded::<Transition>(TRANSITION_FILE_QUEUE);
                let path_for_log = path.to_path_buf();
                let handle = std::thread::Builder::new()
                    .name(format!("relay-sim-{relay}"))
                    .spawn(move || {
                        for t in rx {
                            let line = serde_json::to_string(&t).unwrap_or_default();
                            if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                                tracing::warn!(file = %path_for_log.display(), error = %e, "writing relay transition");
                            }
                        }
                    })
                    .map_err(|source| RelayError::Thread { relay: relay.to_string(), source })?;
                (Some(tx), Some(handle))
            }
        };
        Ok(SimulatedLine {
            relay: relay.to_string(),
            active_low,
            level: None,
            memory,
            file_tx,
            file_thread,
        })
    }

    /// Everything recorded so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.memory.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn record(&mut self, high: bool) {
        if self.level == Some(high) {
            return;
        }
        self.level = Some(high);
        let t = Transition {
            relay: self.relay.clone(),
            level: u8::from(high),
            active: high != self.active_low,
            mono_ns: monotonic_ns(),
            at: jiff::Timestamp::now(),
        };
        if let Ok(mut m) = self.memory.lock() {
            m.push(t.clone());
        }
        if let Some(tx) = &self.file_tx {
            if tx.try_send(t).is_err() {
                tracing::warn!(relay = %self.relay, "relay transitions file writer is behind; transition kept in memory only");
            }
        }
    }
}

impl Drop for SimulatedLine {
    fn drop(&mut self) {
        // Close the channel and wait so the file holds every transition once the line is gone.
        self.file_tx = None;
        if let Some(h) = self.file_thread.take() {
            let _ = h.join();
        }
    }
}

impl ErrorType for SimulatedLine {
    type Error = std::convert::Infallible;
}

impl OutputPin for SimulatedLine {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.record(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.record(true);
        Ok(())
    }
}

/// The lines the configuration asks for: GPIO for `driver = "gpio"`, simulated otherwise.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLines;

impl LineFactory for SystemLines {
    fn open(&self, settings: &RelaySettings) -> Result<Box<dyn RelayLine>, RelayError> {
        match settings.driver {
            RelayDriver::Gpio => {
                let (pin, what) = GpioLine::open(settings)?;
                Ok(Box::new(HalLine::new(
                    pin,
                    &settings.id,
                    settings.active_low,
                    what,
                )))
            }
            RelayDriver::Simulated => {
                let pin = SimulatedLine::new(
                    &settings.id,
                    settings.active_low,
                    settings.transitions_file.as_deref(),
                )?;
                Ok(Box::new(HalLine::new(
                    pin,
                    &settings.id,
                    settings.active_low,
                    "simulated".into(),
                )))
            }
        }
    }
}

/// Simulated lines for every relay whatever its driver, recording into one shared list that
/// tests can read without a file.
#[derive(Debug, Default, Clone)]
pub struct SimulatedLines {
    memory: Arc<Mutex<Vec<Transition>>>,
}

impl SimulatedLines {
    pub fn new() -> SimulatedLines {
        SimulatedLines::default()
    }

    pub fn transitions(&self) -> Vec<Transition> {
        self.memory.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl LineFactory for SimulatedLines {
    fn open(&self, settings: &RelaySettings) -> Result<Box<dyn RelayLine>, RelayError> {
        let pin = SimulatedLine::with_memory(
            &settings.id,
            settings.active_low,
            settings.transitions_file.as_deref(),
            self.memory.clone(),
        )?;
        Ok(Box::new(HalLine::new(
            pin,
            &settings.id,
            settings.active_low,
            "simulated".into(),
        )))
    }
}

/// Reads a transitions file written by simulated lines.
pub fn read_transitions_file(path: &Path) -> Result<Vec<Transition>, RelayError> {
    let file = std::fs::File::open(path).map_err(|source| RelayError::ReadTransitions {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| RelayError::ReadTransitions {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let t = serde_json::from_str(&line).map_err(|source| RelayError::ParseTransition {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        out.push(t);
    }
    Ok(out)
}

/// Pulses of one relay: each active period as (start time, length in ms measured on the
/// monotonic clock). A pulse still active at the end of the list is left out.
pub fn pulses_of(transitions: &[Transition], relay: &str) -> Vec<(jiff::Timestamp, f64)> {
    let mut out = Vec::new();
    let mut open: Option<&Transition> = None;
    for t in transitions.iter().filter(|t| t.relay == relay) {
        match (t.active, open) {
            (true, None) => open = Some(t),
            (false, Some(start)) => {
                out.push((
                    start.at,
                    t.mono_ns.saturating_sub(start.mono_ns) as f64 / 1e6,
                ));
                open = None;
            }
            _ => {}
        }
    }
    out
}
