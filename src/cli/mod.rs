//! Command line: parses arguments, runs one subcommand, maps its failure to a documented exit code.
//!
//! Exit codes (stable; scripts and systemd rely on them):
//! 0 success · 1 runtime failure · 2 usage or configuration error · 3 model or LiteRT runtime
//! problem · 4 video input problem · 5 storage problem · 6 relay problem.

mod events;
mod exit;
mod recognize;
mod relay;
mod version;

pub use exit::{ExitKind, Failure};

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "boomgate",
    about = "Licence-plate gate controller",
    disable_version_flag = true
)]
struct Cli {
    /// Print the daemon, model and LiteRT versions.
    #[arg(short = 'V', long = "version", global = false)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gate daemon (without --config: the built-in demo on the bundled clip).
    Run {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Read plates from images, image folders and video files.
    Recognize {
        /// One JSON object per line (the stable contract for tooling).
        #[arg(long)]
        json: bool,
        /// Models, LiteRT, detector/OCR/tracker/format settings from this config.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Check a config file and print what it sets up.
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Manual relay test.
    Relay {
        #[command(subcommand)]
        action: RelayCommand,
    },
    /// Stored events.
    Events {
        #[command(subcommand)]
        action: EventsCommand,
    },
    /// Measure decode, inference and full-pipeline speed on a video file.
    Bench {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Allow list used for the decisions (CSV); plates not listed are denied.
        #[arg(long, value_name = "CSV")]
        allow: Option<PathBuf>,
        #[arg(value_name = "VIDEO")]
        video: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RelayCommand {
    /// Close the relay contact once (default: its configured pulse length).
    Pulse {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "MS")]
        ms: Option<u32>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Write every stored event as CSV.
    Export {
        #[arg(long, required = true)]
        csv: bool,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Data folder (overrides the config's storage.data_dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Output file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitKind::Usage as u8
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if cli.version {
        print!("{}", version::report(None));
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        eprintln!("boomgate: no command given; try `boomgate --help`");
        return ExitCode::from(ExitKind::Usage as u8);
    };
    match dispatch(command) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("boomgate: error: {}", failure.message);
            ExitCode::from(failure.kind as u8)
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    match path {
        Some(p) => Config::load(p).map_err(|e| Failure::new(ExitKind::Usage, e.to_string())),
        None => Ok(Config::demo()),
    }
}

fn dispatch(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Run { config } => {
            let label = config
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in demo config".into());
            let config = load_config(config.as_ref())?;
            crate::daemon::run_from_cli(config, &label)
        }
        Command::Recognize {
            json,
            config,
            paths,
        } => {
            let config = load_config(config.as_ref())?;
            recognize::run(&config, &paths, json)
        }
        Command::CheckConfig { file } => {
            let config =
                Config::load(&file).map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
            println!("{}: ok", file.display());
            println!("{}", summary(&config));
            Ok(ExitCode::SUCCESS)
        }
        Command::Relay {
            action: RelayCommand::Pulse { id, ms, config },
        } => {
            let config = load_config(config.as_ref())?;
            relay::pulse(&config, &id, ms)
        }
        Command::Events {
            action:
                EventsCommand::Export {
                    csv: _,
                    config,
                    data_dir,
                    output,
                },
        } => {
            let config = load_config(config.as_ref())?;
            events::export_csv(&config, data_dir.as_deref(), output.as_deref())
        }
        Command::Bench {
            config,
            allow,
            video,
        } => {
            let config = load_config(config.as_ref())?;
            crate::bench::run(&config, &video, allow.as_deref())
        }
    }
}

/// One line per camera and relay, for `check-config`.
fn summary(config: &Config) -> String {
    let mut out = format!("site {} ({})", config.site.id, config.site.name);
    for c in &config.cameras {
        out.push_str(&format!(
            "\ncamera {}: {} decoder={:?} relay={}",
            c.id,
            crate::video::redact_url(&c.url),
            c.decoder,
            c.relay.as_deref().unwrap_or("(none)")
        ));
    }
    for r in &config.relays {
        out.push_str(&format!(
            "\nrelay {}: {:?} pulse {} ms (max {} ms, cooldown {} ms)",
            r.id, r.driver, r.pulse_ms, r.max_pulse_ms, r.cooldown_ms
        ));
    }
    out.push_str(&format!("\ndata dir {}", config.storage.data_dir.display()));
    out.push_str(&format!(
        "\nmqtt {}",
        if config.mqtt.enabled {
            &config.mqtt.url
        } else {
            "off"
        }
    ));
    out
}
