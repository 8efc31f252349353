//! `boomgate --version`: daemon, model and LiteRT versions, read from files without loading the
//! runtime so it works even when the library is broken.

use crate::config::{default_litert_candidates, resolve_model_path, Config};
use std::path::Path;

pub fn report(config: Option<&Config>) -> String {
    let default = Config::demo();
    let config = config.unwrap_or(&default);
    let models_dir = config.runtime.models_dir.as_deref();
    let mut out = format!("boomgate {}\n", crate::VERSION);
    for (what, name) in [
        ("detector", &config.detector.model),
        ("ocr", &config.ocr.model),
    ] {
        let path = resolve_model_path(name, models_dir);
        out.push_str(&format!("{what} model: {}\n", sidecar_version(&path)));
    }
    out.push_str(&format!(
        "LiteRT: {}\n",
        litert_version(config.runtime.litert_library.as_deref())
    ));
    out
}

fn sidecar_version(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return format!("missing ({})", path.display());
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => format!(
            "{} {} ({})",
            v.get("name").and_then(|n| n.as_str()).unwrap_or("?"),
            v.get("version").and_then(|n| n.as_str()).unwrap_or("?"),
            path.display()
        ),
        Err(e) => format!("unreadable sidecar {}: {e}", path.display()),
    }
}

/// The version recorded next to the library by scripts/fetch-litert.sh (`VERSION`), or
/// "unknown" when the library has no such file.
fn litert_version(configured: Option<&Path>) -> String {
    let candidates = match configured {
        Some(p) => vec![p.to_path_buf()],
        None => default_litert_candidates(),
    };
    let Some(lib) = candidates.iter().find(|p| p.exists()) else {
        return format!(
            "not found (looked in {})",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let version = lib
        .parent()
        .and_then(|d| std::fs::read_to_string(d.join("VERSION")).ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    format!("{version} ({})", lib.display())
}
