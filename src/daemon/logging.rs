//! Log output: human-readable lines (journald adds its own timestamps) or JSON, level from config
//! unless `RUST_LOG` says otherwise.

use crate::config::{LogFormat, LoggingSettings};
use tracing_subscriber::EnvFilter;

pub fn init(settings: &LoggingSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    // Colour only on a terminal: journald and log files get plain `key=value` text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A second init (tests running the daemon in-process twice) is harmless.
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.try_init(),
    };
}
