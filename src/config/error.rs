//! Config errors that name the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Syntax error, wrong type, unknown field, or a value that fails validation.
    #[error("{path}:{line}: {field}: {message}", field = FieldName(field))]
    Invalid {
        path: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
}

struct FieldName<'a>(&'a str);

impl fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(document)")
        } else {
            f.write_str(self.0)
        }
    }
}

impl ConfigError {
    /// The dotted field path (`cameras[0].url`), empty for whole-document errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            ConfigError::Read { .. } => None,
        }
    }

    /// 1-based line number of the offending text.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Read { .. } => None,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A syntax error found before deserialization starts.
pub(super) fn from_toml(path: &Path, text: &str, e: toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        field: String::new(),
        message: e.message().trim().to_string(),
    }
}

/// A type or unknown-field error; serde_path_to_error supplies the field path.
pub(super) fn from_path_error(
    path: &Path,
    text: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> ConfigError {
    let field = e.path().to_string();
    let field = if field == "." { String::new() } else { field };
    let inner = e.into_inner();
    let line = inner
        .span()
        .map(|s| line_of(text, s.start))
        .or_else(|| find_line(text, &field))
        .unwrap_or(1);
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        field,
        message: inner.message().trim().to_string(),
    }
}

/// A validation error on a field that parsed fine.
pub(super) fn semantic(path: &Path, text: &str, field: &str, message: String) -> ConfigError {
    let line = find_line(text, field).unwrap_or(1);
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        field: field.to_string(),
        message,
    }
}

/// Line of the deepest part of a dotted path like `cameras[1].relay` that exists in the document.
fn find_line(text: &str, field: &str) -> Option<usize> {
    let doc = DeTable::parse(text).ok()?;
    let mut table: &DeTable = doc.get_ref();
    let mut best: Option<usize> = None;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let (k, v) = table.get_key_value(key)?;
        best = Some(line_of(text, k.span().start));
        let mut value: &DeValue = v.get_ref();
        if let Some(i) = index {
            if let DeValue::Array(items) = value {
                let item = items.get(i)?;
                best = Some(line_of(text, item.span().start));
                value = item.get_ref();
            }
        }
        match value {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    best
}
