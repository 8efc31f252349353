//! CSV import/export of allow/deny entries.
//!
//! Columns `plate,list,label,valid_from,valid_until,schedule,relays` (header required, any order;
//! only `plate` is mandatory). `list` is `allow` (default) or `deny`; timestamps are RFC 3339 or
//! empty; `schedule` uses the text form `mon-fri 07:00-19:00;sat 08:00-12:00`; `relays` is
//! `gate|side` (empty: all relays). Quoting follows RFC 4180.

use super::distance::normalize_plate;
use super::error::AccessError;
use super::schedule::{format_schedule, parse_schedule};
use super::types::{AccessEntry, ListKind};
use std::collections::HashMap;
use std::path::Path;

/// Column names in export order.
pub const COLUMNS: [&str; 7] = [
    "plate",
    "list",
    "label",
    "valid_from",
    "valid_until",
    "schedule",
    "relays",
];

/// One CSV record with the 1-based line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes and newlines).
fn records(text: &str, source_name: &str) -> Result<Vec<Record>, AccessError> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut in_quotes = false;
    let mut quoted_field = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() && !quoted_field => {
                field.clear();
                in_quotes = true;
                quoted_field = true;
            }
            '"' => {
                return Err(AccessError::Csv {
                    source_name: source_name.into(),
                    line,
                    column: format!("#{}", fields.len() + 1),
                    message: "stray quote inside an unquoted field".into(),
                })
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
                out.push(Record {
                    line: record_line,
                    fields: std::mem::take(&mut fields),
                });
                line += 1;
                record_line = line;
            }
            _ if quoted_field => {
                if !c.is_whitespace() {
                    return Err(AccessError::Csv {
                        source_name: source_name.into(),
                        line,
                        column: format!("#{}", fields.len() + 1),
                        message: "text after a closing quote".into(),
                    });
                }
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(AccessError::Csv {
            source_name: source_name.into(),
            line: record_line,
            column: format!("#{}", fields.len() + 1),
            message: "quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() || quoted_field {
        fields.push(field);
        out.push(Record {
            line: record_line,
            fields,
        });
    }
    // Blank lines carry nothing.
    out.retain(|r| !(r.fields.len() == 1 && r.fields[0].trim().is_empty()));
    Ok(out)
}

fn parse_timestamp(text: &str) -> Result<Option<jiff::Timestamp>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<jiff::Timestamp>().map(Some).map_err(|e| {
        format!("'{text}' is not an RFC 3339 timestamp such as 2026-01-31T18:00:00Z: {e}")
    })
}

/// Parses CSV text into entries (ids 0). `source_name` (file name, `upload`) goes into errors,
/// which also name the line and the column.
pub fn parse_csv(text: &str, source_name: &str) -> Result<Vec<AccessEntry>, AccessError> {
    let records = records(text, source_name)?;
    let Some((header, rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let err = |line: usize, column: &str, message: String| AccessError::Csv {
        source_name: source_name.into(),
        line,
        column: column.into(),
        message,
    };
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, name) in header.fields.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        let Some(&known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(err(
                header.line,
                &name,
                format!("unknown column; expected {}", COLUMNS.join(",")),
            ));
        };
        if index.insert(known, i).is_some() {
            return Err(err(header.line, known, "column appears twice".into()));
        }
    }
    if !index.contains_key("plate") {
        return Err(err(
            header.line,
            "plate",
            "the header has no plate column".into(),
        ));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        if row.fields.len() > header.fields.len() {
            return Err(err(
                row.line,
                &format!("#{}", header.fields.len() + 1),
                format!(
                    "{} fields but the header has {}",
                    row.fields.len(),
                    header.fields.len()
                ),
            ));
        }
        let cell = |name: &str| {
            index
                .get(name)
                .and_then(|&i| row.fields.get(i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let plate = normalize_plate(cell("plate"));
        if plate.is_empty() {
            return Err(err(
                row.line,
                "plate",
                format!("'{}' has no letters or digits", cell("plate")),
            ));
        }
        if let Some(first) = seen.insert(plate.clone(), row.line) {
            return Err(err(
                row.line,
                "plate",
                format!("{plate} is already listed on line {first}"),
            ));
        }
        let list = match cell("list").to_ascii_lowercase().as_str() {
            "" | "allow" => ListKind::Allow,
            "deny" => ListKind::Deny,
            other => {
                return Err(err(
                    row.line,
                    "list",
                    format!("'{other}' must be allow or deny"),
                ))
            }
        };
        let valid_from =
            parse_timestamp(cell("valid_from")).map_err(|m| err(row.line, "valid_from", m))?;
        let valid_until =
            parse_timestamp(cell("valid_until")).map_err(|m| err(row.line, "valid_until", m))?;
        if let (Some(from), Some(until)) = (valid_from, valid_until) {
            if until <= from {
                return Err(err(
                    row.line,
                    "valid_until",
                    format!("{until} is not after valid_from {from}"),
                ));
            }
        }
        let schedule = parse_schedule(cell("schedule"))
            .map_err(|e| err(row.line, "schedule", e.to_string()))?;
        let relays: Vec<String> = cell("relays")
            .split('|')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(String::from)
            .collect();
        if let Some(bad) = relays.iter().find(|r| {
            !r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(err(
                row.line,
                "relays",
                format!("'{bad}' is not a relay id (A-Z a-z 0-9 _ -; separate ids with |)"),
            ));
        }
        entries.push(AccessEntry {
            id: 0,
            plate,
            list,
            label: cell("label").to_string(),
            valid_from,
            valid_until,
            schedule,
            relays,
        });
    }
    Ok(entries)
}

/// Reads and parses a CSV file; errors name the file.
pub fn read_csv_file(path: &Path) -> Result<Vec<AccessEntry>, AccessError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_csv(&text, &path.display().to_string())
}

fn quote(field: &str) -> String {
    let needs = field.contains([',', '"', '\n', '\r']) || field.trim() != field;
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Writes entries as CSV with a header; [`parse_csv`] reads it back to the same entries
/// (apart from ids, which are not exported).
pub fn to_csv(entries: &[AccessEntry]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for e in entries {
        let list = match e.list {
            ListKind::Allow => "allow",
            ListKind::Deny => "deny",
        };
        let row = [
            e.plate.clone(),
            list.to_string(),
            e.label.clone(),
            e.valid_from.map(|t| t.to_string()).unwrap_or_default(),
            e.valid_until.map(|t| t.to_string()).unwrap_or_default(),
            format_schedule(&e.schedule),
            e.relays.join("|"),
        ];
        out.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
