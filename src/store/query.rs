//! Reading events back: filtered, paginated lists, per-day counts, CSV export.

use super::db::{action_str, from_ms, ms, Store};
use super::event::Event;
use super::StoreError;
use crate::access::Action;
use rusqlite::types::Value;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

/// Which events to list. Every field narrows the result; plate filters are normalised
/// (upper-case, A-Z 0-9 only) like stored plates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Plate contains this text (scans the rows left after the other filters).
    pub plate_contains: Option<String>,
    /// Plate starts with this text (served by the plate index).
    pub plate_prefix: Option<String>,
    /// Captured at or after.
    pub from: Option<jiff::Timestamp>,
    /// Captured before.
    pub to: Option<jiff::Timestamp>,
    pub decision: Option<Action>,
    pub camera: Option<String>,
}

/// One page of a newest-first list. `before` is the `event_id` of the last event of the
/// previous page; the page holds the events that come after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub limit: u32,
    pub before: Option<String>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 50,
            before: None,
        }
    }
}

/// Decisions on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    pub day: jiff::civil::Date,
    pub open: u64,
    pub deny: u64,
    pub ignore: u64,
}

fn normalise_plate(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Upper bound of the half-open range of strings starting with `prefix` (ASCII alphanumeric).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    if let Some(last) = end.pop() {
        end.push(char::from(last as u8 + 1));
    }
    end
}

impl Store {
    fn filter_sql(
        &self,
        filter: &EventFilter,
        page: Option<&Page>,
    ) -> Result<(String, Vec<Value>), StoreError> {
        let mut sql = String::from("SELECT json FROM events WHERE 1=1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(p) = filter
            .plate_prefix
            .as_deref()
            .map(normalise_plate)
            .filter(|p| !p.is_empty())
        {
            sql.push_str(" AND plate >= ? AND plate < ?");
            args.push(Value::Text(p.clone()));
            args.push(Value::Text(prefix_end(&p)));
        }
        if let Some(p) = filter
            .plate_contains
            .as_deref()
            .map(normalise_plate)
            .filter(|p| !p.is_empty())
        {
            // A substring cannot use the index as a search, but scanning the narrow plate index
            // reads a fraction of the pages a scan of the rows (with their JSON) would.
            sql.push_str(" AND seq IN (SELECT seq FROM events INDEXED BY events_plate WHERE instr(plate, ?) > 0)");
            args.push(Value::Text(p));
        }
        if let Some(from) = filter.from {
            sql.push_str(" AND captured_at >= ?");
            args.push(Value::Integer(ms(from)));
        }
        if let Some(to) = filter.to {
            sql.push_str(" AND captured_at < ?");
            args.push(Value::Integer(ms(to)));
        }
        if let Some(d) = filter.decision {
            sql.push_str(" AND decision = ?");
            args.push(Value::Text(action_str(d).into()));
        }
        if let Some(c) = &filter.camera {
            sql.push_str(" AND camera = ?");
            args.push(Value::Text(c.clone()));
        }
        if let Some(page) = page {
            if let Some(before) = &page.before {
                let cursor: Option<(i64, i64)> = self
                    .conn
                    .query_row(
                        "SELECT captured_at, seq FROM events WHERE event_id = ?1",
                        [before],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(self.db_err())?;
                let (at, seq) = cursor.ok_or_else(|| StoreError::UnknownCursor(before.clone()))?;
                sql.push_str(" AND (captured_at < ? OR (captured_at = ? AND seq < ?))");
                args.extend([Value::Integer(at), Value::Integer(at), Value::Integer(seq)]);
            }
            sql.push_str(" ORDER BY captured_at DESC, seq DESC LIMIT ?");
            args.push(Value::Integer(i64::from(page.limit)));
        }
        Ok((sql, args))
    }

    /// Events matching `filter`, newest first, one page.
    pub fn events_query(
        &self,
        filter: &EventFilter,
        page: &Page,
    ) -> Result<Vec<Event>, StoreError> {
        let (sql, args) = self.filter_sql(filter, Some(page))?;
        let mut stmt = self.conn.prepare(&sql).map_err(self.db_err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
            .map_err(self.db_err())?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(self.db_err())?;
            let ev: Event =
                serde_json::from_str(&json).map_err(|source| StoreError::EventJson {
                    event_id: "(from query)".into(),
                    source,
                })?;
            out.push(ev);
        }
        Ok(out)
    }

    /// SQLite's plan for `events_query` (for tests and benchmarks: is an index used?).
    pub fn events_query_plan(
        &self,
        filter: &EventFilter,
        page: &Page,
    ) -> Result<String, StoreError> {
        let (sql, args) = self.filter_sql(filter, Some(page))?;
        let mut stmt = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .map_err(self.db_err())?;
        let lines: Result<Vec<String>, _> = rows.collect();
        Ok(lines.map_err(self.db_err())?.join("\n"))
    }

    /// Counts of decisions per UTC day for events captured in `[from, to)`, oldest day first.
    /// Days without events are left out. Whole days come from `day_counts` (kept by triggers);
    /// only the partial first and last day are counted from the (decision, time) index.
    pub fn day_stats(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<DayStats>, StoreError> {
        const DAY: i64 = 86_400_000;
        let (from, to) = (ms(from), ms(to));
        let mut days: std::collections::BTreeMap<i64, DayStats> = std::collections::BTreeMap::new();
        let mut add = |day: i64, decision: &str, n: i64| {
            let d = days.entry(day).or_insert_with(|| DayStats {
                day: from_ms(day * DAY).to_zoned(jiff::tz::TimeZone::UTC).date(),
                open: 0,
                deny: 0,
                ignore: 0,
            });
            let n = n.max(0) as u64;
            match decision {
                "open" => d.open += n,
                "deny" => d.deny += n,
                _ => d.ignore += n,
            }
        };
        if from >= to {
            return Ok(Vec::new());
        }
        // Whole days inside the range, and the partial pieces at either end.
        let first_whole = from.div_euclid(DAY) + i64::from(from.rem_euclid(DAY) != 0);
        let end_whole = to.div_euclid(DAY);
        let mut partial = Vec::new();
        if first_whole < end_whole {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT day, decision, n FROM day_counts WHERE day >= ?1 AND day < ?2 AND n > 0")
                .map_err(self.db_err())?;
            let rows = stmt
                .query_map(rusqlite::params![first_whole, end_whole], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(self.db_err())?;
            for row in rows {
                let (day, decision, n) = row.map_err(self.db_err())?;
                add(day, &decision, n);
            }
            if from < first_whole * DAY {
                partial.push((from, first_whole * DAY));
            }
            if end_whole * DAY < to {
                partial.push((end_whole * DAY, to));
            }
        } else {
            partial.push((from, to));
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT captured_at / 86400000 AS day, COUNT(*) FROM events
                 WHERE decision = ?1 AND captured_at >= ?2 AND captured_at < ?3 GROUP BY day",
            )
            .map_err(self.db_err())?;
        for (a, b) in partial {
            for action in [Action::Open, Action::Deny, Action::Ignore] {
                let rows = stmt
                    .query_map(rusqlite::params![action_str(action), a, b], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(self.db_err())?;
                for row in rows {
                    let (day, n) = row.map_err(self.db_err())?;
                    add(day, action_str(action), n);
                }
            }
        }
        Ok(days
            .into_values()
            .filter(|d| d.open + d.deny + d.ignore > 0)
            .collect())
    }

    /// Every event as CSV (header line first), oldest first.
    pub fn events_export_csv(&self, writer: &mut dyn std::io::Write) -> Result<u64, StoreError> {
        writeln!(
            writer,
            "event_id,captured_at,site,camera,plate,confidence,format,decision,reason,matched_plate,matched_label,distance,relay,pulse_ms,relay_outcome,reads,crop_url,frame_url"
        )
        .map_err(StoreError::Export)?;
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM events ORDER BY captured_at, seq")
            .map_err(self.db_err())?;
        let mut rows = stmt.query([]).map_err(self.db_err())?;
        let mut n = 0u64;
        while let Some(row) = rows.next().map_err(self.db_err())? {
            let json: String = row.get(0).map_err(self.db_err())?;
            let Ok(ev) = serde_json::from_str::<Event>(&json) else {
                continue;
            };
            let action = action_str(ev.decision.action);
            let matched = ev.decision.matched_entry.as_ref();
            let relay_outcome = ev
                .relay
                .as_ref()
                .and_then(|r| serde_json::to_value(r.outcome).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let fields = [
                ev.event_id.clone(),
                ev.captured_at.to_string(),
                ev.site.clone(),
                ev.camera.clone(),
                ev.plate.clone(),
                format!("{:.3}", ev.confidence),
                ev.format.clone().unwrap_or_default(),
                action.to_string(),
                ev.decision.reason.clone(),
                matched.map(|m| m.plate.clone()).unwrap_or_default(),
                matched.map(|m| m.label.clone()).unwrap_or_default(),
                ev.decision
                    .distance
                    .map(|d| format!("{d}"))
                    .unwrap_or_default(),
                ev.relay.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
                ev.relay
                    .as_ref()
                    .map(|r| r.pulse_ms.to_string())
                    .unwrap_or_default(),
                relay_outcome,
                ev.reads.to_string(),
                ev.crop_url.clone().unwrap_or_default(),
                ev.frame_url.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            writeln!(writer, "{}", line.join(",")).map_err(StoreError::Export)?;
            n += 1;
        }
        writer.flush().map_err(StoreError::Export)?;
        Ok(n)
    }
}

/// RFC 4180 quoting; a leading `=`, `+`, `-`, `@` is prefixed with `'` so spreadsheets do not
/// run labels typed by users as formulas.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err()) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
