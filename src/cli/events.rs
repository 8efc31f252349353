//! `boomgate events export --csv`: every stored event, oldest first.

use super::{ExitKind, Failure};
use crate::config::Config;
use crate::store::Store;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn export_csv(
    config: &Config,
    data_dir: Option<&Path>,
    output: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let dir = data_dir.unwrap_or(&config.storage.data_dir);
    if !dir.join("boomgate.db").exists() {
        return Err(Failure::new(
            ExitKind::Storage,
            format!(
                "no event database in {} (boomgate.db missing)",
                dir.display()
            ),
        ));
    }
    let store = Store::open(dir)?;
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| {
                Failure::new(
                    ExitKind::Storage,
                    format!("cannot create {}: {e}", p.display()),
                )
            },
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    store.events_export_csv(&mut out)?;
    out.flush()
        .map_err(|e| Failure::new(ExitKind::Runtime, format!("cannot write the export: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
