//! Where installed files are looked for when the config does not say.
//!
//! Order, first hit wins: the `BOOMGATE_*` environment variable, the Debian package layout
//! (`/usr/lib/boomgate`, `/usr/share/boomgate`), the layout next to the executable
//! (`<exe>/../lib/boomgate`, `<exe>/../share/boomgate`), and last the source checkout the binary
//! was built from (so `cargo run` works after `scripts/bootstrap.sh`).

use std::path::{Path, PathBuf};

const CHECKOUT: &str = env!("CARGO_MANIFEST_DIR");

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

/// Candidate paths of `libLiteRt.so`, in search order.
pub fn default_litert_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("BOOMGATE_LITERT_LIB") {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from("/usr/lib/boomgate/libLiteRt.so"));
    if let Some(dir) = exe_dir() {
        out.push(dir.join("libLiteRt.so"));
        out.push(dir.join("../lib/boomgate/libLiteRt.so"));
    }
    out.push(Path::new(CHECKOUT).join(".litert/libLiteRt.so"));
    out
}

/// Candidate folders holding the models, in search order.
pub fn default_model_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("BOOMGATE_MODELS_DIR") {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from("/usr/share/boomgate/models"));
    if let Some(dir) = exe_dir() {
        out.push(dir.join("../share/boomgate/models"));
    }
    out.push(Path::new(CHECKOUT).join("models"));
    out
}

/// Resolves a model sidecar path: absolute or `./`-relative paths as given, bare names in the
/// configured models folder or else the first default folder that has the file. Returns the
/// configured/first candidate when nothing exists, so the error names a real place.
pub fn resolve_model_path(name: &Path, models_dir: Option<&Path>) -> PathBuf {
    if name.is_absolute() || name.starts_with(".") || name.components().count() > 1 {
        return name.to_path_buf();
    }
    if let Some(dir) = models_dir {
        return dir.join(name);
    }
    let dirs = default_model_dirs();
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| dirs[0].join(name))
}

/// The bundled demo clip.
pub fn demo_clip_path() -> PathBuf {
    demo_asset("BOOMGATE_DEMO_CLIP", "demo-gate.mp4")
}

/// The allow list the demo starts with (some of the demo clip's plates, so the barrier opens).
pub fn demo_allowlist_path() -> PathBuf {
    demo_asset("BOOMGATE_DEMO_ALLOWLIST", "allowlist.csv")
}

fn demo_asset(env: &str, name: &str) -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os(env) {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(Path::new("/usr/share/boomgate/demo").join(name));
    if let Some(dir) = exe_dir() {
        candidates.push(dir.join("../share/boomgate/demo").join(name));
    }
    candidates.push(Path::new(CHECKOUT).join("assets/demo").join(name));
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| candidates.last().unwrap().clone())
}
