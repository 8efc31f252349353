//! The SQLite database and media folder of one data directory.
//!
//! Durability: WAL journal with `synchronous = FULL`, so every commit fsyncs the WAL before it
//! returns. A committed event therefore survives `kill -9` and a power cut (NORMAL would only
//! survive a process crash). The cost is one fsync per transaction; the writer thread batches
//! queued events into one transaction to keep that cost per batch, not per event.
//! Media files are written (temp file, fsync, rename, fsync of the folder) before the
//! transaction that references them, so a stored event never points at a missing file.

use super::event::Event;
use super::StoreError;
use crate::access::{AccessEntry, Action, ListKind};
use crate::relay::{PulseOutcome, RelayLogEntry};
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Numbered schema migrations; index + 1 is the version. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        captured_at INTEGER NOT NULL,          -- unix ms, UTC
        camera TEXT NOT NULL,
        plate TEXT NOT NULL,
        decision TEXT NOT NULL,                -- open | deny | ignore
        crop_path TEXT,                        -- relative to media/
        frame_path TEXT,
        media_bytes INTEGER NOT NULL DEFAULT 0,
        json TEXT NOT NULL
    );
    CREATE INDEX events_time ON events(captured_at);
    CREATE INDEX events_plate ON events(plate, captured_at);
    CREATE INDEX events_decision ON events(decision, captured_at);
    CREATE INDEX events_camera ON events(camera, captured_at);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER,
        UNIQUE(channel, event_id)
    );
    CREATE INDEX outbox_channel ON outbox(channel, seq);
    CREATE INDEX outbox_event ON outbox(event_id);
    CREATE TABLE access_list (
        id INTEGER PRIMARY KEY,
        plate TEXT NOT NULL UNIQUE,
        list TEXT NOT NULL,                    -- allow | deny
        label TEXT NOT NULL DEFAULT '',
        valid_from INTEGER,
        valid_until INTEGER,
        schedule TEXT NOT NULL DEFAULT '[]',
        relays TEXT NOT NULL DEFAULT '[]',
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE relay_log (
        id INTEGER PRIMARY KEY,
        relay TEXT NOT NULL,
        at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        plate TEXT,
        event_id TEXT,
        outcome TEXT NOT NULL
    );
    CREATE INDEX relay_log_at ON relay_log(at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta(key, value) VALUES ('access_version', 0);",
    // 2: decisions per UTC day, kept by triggers so per-day statistics read days, not events
    "CREATE TABLE day_counts (
        day INTEGER NOT NULL,                  -- captured_at / 86400000
        decision TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, decision)
    ) WITHOUT ROWID;
    INSERT INTO day_counts(day, decision, n)
        SELECT captured_at / 86400000, decision, COUNT(*) FROM events GROUP BY 1, 2;
    CREATE TRIGGER events_day_count_insert AFTER INSERT ON events BEGIN
        INSERT INTO day_counts(day, decision, n) VALUES (NEW.captured_at / 86400000, NEW.decision, 1)
            ON CONFLICT(day, decision) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER events_day_count_delete AFTER DELETE ON events BEGIN
        UPDATE day_counts SET n = n - 1 WHERE day = OLD.captured_at / 86400000 AND decision = OLD.decision;
    END;",
];

/// Schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An event about to be stored, with its encoded images.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub event: &'a Event,
    pub crop_jpeg: Option<&'a [u8]>,
    pub frame_jpeg: Option<&'a [u8]>,
}

/// Which access entry to delete.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessKey {
    Id(i64),
    Plate(String),
}

/// One data directory: `boomgate.db` (+ WAL) and `media/`.
pub struct Store {
    pub(super) conn: Connection,
    pub(super) dir: PathBuf,
    pub(super) db_path: PathBuf,
    pub(super) media_dir: PathBuf,
}

pub(super) fn action_str(a: Action) -> &'static str {
    match a {
        Action::Open => "open",
        Action::Deny => "deny",
        Action::Ignore => "ignore",
    }
}

fn list_str(l: ListKind) -> &'static str {
    match l {
        ListKind::Allow => "allow",
        ListKind::Deny => "deny",
    }
}

pub(super) fn ms(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

pub(super) fn from_ms(v: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(v).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Event ids become file names: keep them to a safe alphabet.
fn check_event_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadEventId(id.to_string()))
    }
}

/// Writes `bytes` to `path` so that after return the file is complete on disk: temp file,
/// fsync, rename. The caller fsyncs the folder.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let err = |source| StoreError::Media {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("jpg.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

fn fsync_dir(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Media {
            path: path.to_path_buf(),
            source,
        })
}

impl Store {
    /// Opens (creating if needed) the data directory, its database and media folder, and runs
    /// pending migrations.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let dir_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::DataDir { path, source }
        };
        std::fs::create_dir_all(data_dir).map_err(dir_err(data_dir))?;
        let media_dir = data_dir.join("media");
        std::fs::create_dir_all(&media_dir).map_err(dir_err(&media_dir))?;
        let db_path = data_dir.join("boomgate.db");
        let db_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Db { path, source }
        };
        let conn = Connection::open(&db_path).map_err(db_err(&db_path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err(&db_path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err(&db_path))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(db_err(&db_path))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(db = %db_path.display(), mode, "database is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err(&db_path))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err(&db_path))?;
        let mut store = Store {
            conn,
            dir: data_dir.to_path_buf(),
            db_path,
            media_dir,
        };
        store.migrate()?;
        Ok(store)
    }

    pub(super) fn db_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Db {
            path: self.db_path.clone(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        self.conn
            .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .map_err(err)?;
        let current: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: self.db_path.clone(),
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as i64 + 1;
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_version(version, applied_at) VALUES (?1, ?2)",
                params![version, ms(jiff::Timestamp::now())],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(db = %self.db_path.display(), version, "database migrated");
        }
        Ok(())
    }

    /// Schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(self.db_err())
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub fn media_dir(&self) -> &Path {
        &self.media_dir
    }

    /// Stores one event with an outbox row per channel; images first, then one transaction.
    /// Returns the event as stored (with `crop_url` / `frame_url` set). The event counts as
    /// stored once this returns `Ok`.
    pub fn insert_event(
        &mut self,
        event: &Event,
        channels: &[&str],
        crop_jpeg: Option<&[u8]>,
        frame_jpeg: Option<&[u8]>,
    ) -> Result<Event, StoreError> {
        let mut out = self.insert_events(
            &[NewEvent {
                event,
                crop_jpeg,
                frame_jpeg,
            }],
            channels,
        )?;
        Ok(out.remove(0))
    }

    /// Stores several events in one transaction (one fsync for all). All or nothing: on error no
    /// row is written and the batch's new media files are removed again.
    pub fn insert_events(
        &mut self,
        batch: &[NewEvent<'_>],
        channels: &[&str],
    ) -> Result<Vec<Event>, StoreError> {
        let mut written: Vec<PathBuf> = Vec::new();
        let result = self.insert_events_inner(batch, channels, &mut written);
        if result.is_err() {
            for f in &written {
                let _ = std::fs::remove_file(f);
            }
        }
        result
    }

    fn insert_events_inner(
        &mut self,
        batch: &[NewEvent<'_>],
        channels: &[&str],
        written: &mut Vec<PathBuf>,
    ) -> Result<Vec<Event>, StoreError> {
        let mut stored = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        let mut dirs: Vec<PathBuf> = Vec::new();
        for item in batch {
            let ev = item.event;
            check_event_id(&ev.event_id)?;
            // Before any file is written: a retry of a stored event must not overwrite its media.
            let exists: Option<i64> = self
                .conn
                .query_row(
                    "SELECT 1 FROM events WHERE event_id = ?1",
                    [&ev.event_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db_err())?;
            if exists.is_some() {
                return Err(StoreError::DuplicateEvent(ev.event_id.clone()));
            }
            let mut ev = ev.clone();
            let day = ev
                .captured_at
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .to_string();
            let mut media_bytes = 0i64;
            let mut paths: [Option<String>; 2] = [None, None];
            for (slot, (kind, bytes)) in [("crop", item.crop_jpeg), ("frame", item.frame_jpeg)]
                .into_iter()
                .enumerate()
            {
                let Some(bytes) = bytes else { continue };
                let day_dir = self.media_dir.join(&day);
                if !dirs.contains(&day_dir) {
                    if !day_dir.is_dir() {
                        std::fs::create_dir_all(&day_dir).map_err(|source| StoreError::Media {
                            path: day_dir.clone(),
                            source,
                        })?;
                        fsync_dir(&self.media_dir)?;
                    }
                    dirs.push(day_dir.clone());
                }
                let rel = format!("{day}/{}-{kind}.jpg", ev.event_id);
                let path = self.media_dir.join(&rel);
                write_durable(&path, bytes)?;
                written.push(path);
                media_bytes += bytes.len() as i64;
                paths[slot] = Some(rel);
            }
            ev.crop_url = paths[0].as_ref().map(|p| format!("/media/{p}"));
            ev.frame_url = paths[1].as_ref().map(|p| format!("/media/{p}"));
            let json = serde_json::to_string(&ev).map_err(|source| StoreError::EventJson {
                event_id: ev.event_id.clone(),
                source,
            })?;
            let [crop, frame] = paths;
            rows.push((json, crop, frame, media_bytes));
            stored.push(ev);
        }
        for d in &dirs {
            fsync_dir(d)?;
        }
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let now = ms(jiff::Timestamp::now());
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO events(event_id, captured_at, camera, plate, decision, crop_path, frame_path, media_bytes, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            let mut outbox = tx
                .prepare_cached(
                    "INSERT INTO outbox(event_id, channel, created_at) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (ev, (json, crop, frame, media_bytes)) in stored.iter().zip(&rows) {
                ins.execute(params![
                    ev.event_id,
                    ms(ev.captured_at),
                    ev.camera,
                    ev.plate,
                    action_str(ev.decision.action),
                    crop,
                    frame,
                    media_bytes,
                    json
                ])
                .map_err(err)?;
                for ch in channels {
                    outbox.execute(params![ev.event_id, ch, now]).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(stored)
    }

    /// Events waiting for `channel`, oldest first, with their outbox sequence number.
    pub fn outbox_pending(
        &self,
        channel: &str,
        limit: u32,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.seq, e.event_id, e.json FROM outbox o JOIN events e ON e.event_id = o.event_id
                 WHERE o.channel = ?1 ORDER BY o.seq LIMIT ?2",
            )
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map(params![channel, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.db_err())?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, id, json) = row.map_err(self.db_err())?;
            let ev = serde_json::from_str(&json).map_err(|source| StoreError::EventJson {
                event_id: id,
                source,
            })?;
            out.push((seq, ev));
        }
        Ok(out)
    }

    /// Outbox rows of `channel` with sequence above `after_seq`, oldest first, as
    /// `(seq, event_id, stored event JSON)`: a publisher with rows in flight asks only for the
    /// ones after them, and sends the stored JSON as is.
    pub fn outbox_pending_raw(
        &self,
        channel: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.seq, e.event_id, e.json FROM outbox o JOIN events e ON e.event_id = o.event_id
                 WHERE o.channel = ?1 AND o.seq > ?2 ORDER BY o.seq LIMIT ?3",
            )
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map(params![channel, after_seq, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.db_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db_err())
    }

    /// Marks the event delivered on `channel`. Returns whether a row was pending.
    pub fn outbox_ack(&self, channel: &str, event_id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE channel = ?1 AND event_id = ?2")
            .and_then(|mut s| s.execute(params![channel, event_id]))
            .map_err(self.db_err())?;
        Ok(n > 0)
    }

    /// Acknowledges several events on `channel` in one transaction (one fsync). Returns how
    /// many rows were pending.
    pub fn outbox_ack_many(
        &mut self,
        channel: &str,
        event_ids: &[&str],
    ) -> Result<usize, StoreError> {
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM outbox WHERE channel = ?1 AND event_id = ?2")
                .map_err(err)?;
            for id in event_ids {
                n += stmt.execute(params![channel, id]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }

    /// Records a delivery attempt (for status and backoff decisions of a publisher).
    pub fn outbox_note_attempt(&self, channel: &str, event_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?3 WHERE channel = ?1 AND event_id = ?2")
            .and_then(|mut s| s.execute(params![channel, event_id, ms(jiff::Timestamp::now())]))
            .map_err(self.db_err())?;
        Ok(())
    }

    /// Outbox rows waiting (all channels) and the age in seconds of the oldest one (0 if none).
    pub fn outbox_stats(&self) -> Result<(u64, f64), StoreError> {
        let (depth, oldest): (i64, Option<i64>) = self
            .conn
            .query_row("SELECT COUNT(*), MIN(created_at) FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.db_err())?;
        let age = oldest
            .map(|o| ((ms(jiff::Timestamp::now()) - o).max(0)) as f64 / 1000.0)
            .unwrap_or(0.0);
        Ok((depth.max(0) as u64, age))
    }

    /// One event by id.
    pub fn event_by_id(&self, event_id: &str) -> Result<Option<Event>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT json FROM events WHERE event_id = ?1",
                [event_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db_err())?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|source| StoreError::EventJson {
                event_id: event_id.to_string(),
                source,
            })
        })
        .transpose()
    }

    /// Number of stored events.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .map_err(self.db_err())?;
        Ok(n.max(0) as u64)
    }

    /// The file behind a `/media/<relative>` URL, only if it belongs to a stored event and
    /// exists. Anything else (`..`, absolute paths, NUL, unknown files) gives `None`.
    pub fn media_file(&self, relative: &str) -> Option<PathBuf> {
        if relative.is_empty() || relative.contains('\0') || relative.contains('\\') {
            return None;
        }
        let rel = Path::new(relative);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        let file_name = rel.file_name()?.to_str()?;
        let event_id = file_name
            .strip_suffix("-crop.jpg")
            .or_else(|| file_name.strip_suffix("-frame.jpg"))?;
        let known: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM events WHERE event_id = ?1 AND (crop_path = ?2 OR frame_path = ?2)",
                params![event_id, relative],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        known?;
        let path = self.media_dir.join(rel);
        path.is_file().then_some(path)
    }

    /// Inserts or updates an allow/deny entry: by `id` when non-zero, else by plate.
    /// Returns the entry's id. Bumps `access_version`.
    pub fn access_upsert(&mut self, entry: &AccessEntry) -> Result<i64, StoreError> {
        if entry.plate.trim().is_empty() {
            return Err(StoreError::BadAccessEntry("plate is empty".into()));
        }
        let schedule = serde_json::to_string(&entry.schedule)
            .map_err(|e| StoreError::BadAccessEntry(e.to_string()))?;
        let relays = serde_json::to_string(&entry.relays)
            .map_err(|e| StoreError::BadAccessEntry(e.to_string()))?;
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let now = ms(jiff::Timestamp::now());
        let tx = self.conn.transaction().map_err(err)?;
        let id = if entry.id != 0 {
            let n = tx
                .execute(
                    "UPDATE access_list SET plate=?2, list=?3, label=?4, valid_from=?5, valid_until=?6, schedule=?7, relays=?8, updated_at=?9
                     WHERE id = ?1",
                    params![
                        entry.id,
                        entry.plate,
                        list_str(entry.list),
                        entry.label,
                        entry.valid_from.map(ms),
                        entry.valid_until.map(ms),
                        schedule,
                        relays,
                        now
                    ],
                )
                .map_err(err)?;
            if n == 0 {
                return Err(StoreError::UnknownAccessEntry(entry.id));
            }
            entry.id
        } else {
            tx.query_row(
                "INSERT INTO access_list(plate, list, label, valid_from, valid_until, schedule, relays, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(plate) DO UPDATE SET list=excluded.list, label=excluded.label, valid_from=excluded.valid_from,
                   valid_until=excluded.valid_until, schedule=excluded.schedule, relays=excluded.relays, updated_at=excluded.updated_at
                 RETURNING id",
                params![
                    entry.plate,
                    list_str(entry.list),
                    entry.label,
                    entry.valid_from.map(ms),
                    entry.valid_until.map(ms),
                    schedule,
                    relays,
                    now
                ],
                |r| r.get(0),
            )
            .map_err(err)?
        };
        tx.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'access_version'",
            [],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id)
    }

    /// Deletes an entry by id or plate. Returns whether one existed; bumps `access_version` if so.
    pub fn access_delete(&mut self, key: &AccessKey) -> Result<bool, StoreError> {
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let n = match key {
            AccessKey::Id(id) => tx.execute("DELETE FROM access_list WHERE id = ?1", [id]),
            AccessKey::Plate(p) => tx.execute("DELETE FROM access_list WHERE plate = ?1", [p]),
        }
        .map_err(err)?;
        if n > 0 {
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'access_version'",
                [],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n > 0)
    }

    /// Every entry, by plate.
    pub fn access_list(&self) -> Result<Vec<AccessEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, plate, list, label, valid_from, valid_until, schedule, relays FROM access_list ORDER BY plate")
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(self.db_err())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, plate, list, label, from, until, schedule, relays) =
                row.map_err(self.db_err())?;
            out.push(AccessEntry {
                id,
                plate,
                list: if list == "deny" {
                    ListKind::Deny
                } else {
                    ListKind::Allow
                },
                label,
                valid_from: from.map(from_ms),
                valid_until: until.map(from_ms),
                schedule: serde_json::from_str(&schedule).unwrap_or_default(),
                relays: serde_json::from_str(&relays).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Changes whenever the access list changes (from any connection), so the daemon can
    /// reload its policy snapshot.
    pub fn access_version(&self) -> Result<u64, StoreError> {
        let v: i64 = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'access_version'",
                [],
                |r| r.get(0),
            )
            .map_err(self.db_err())?;
        Ok(v.max(0) as u64)
    }

    pub fn relay_log_insert(&mut self, entry: &RelayLogEntry) -> Result<(), StoreError> {
        self.relay_log_insert_many(std::slice::from_ref(entry))
    }

    /// Several relay log entries in one transaction.
    pub fn relay_log_insert_many(&mut self, entries: &[RelayLogEntry]) -> Result<(), StoreError> {
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO relay_log(relay, at, duration_ms, reason, plate, event_id, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(err)?;
            for e in entries {
                let outcome = serde_json::to_value(e.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                stmt.execute(params![
                    e.relay,
                    ms(e.at),
                    e.duration_ms,
                    e.reason,
                    e.plate,
                    e.event_id,
                    outcome
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Newest relay log entries first.
    pub fn relay_log_recent(&self, limit: u32) -> Result<Vec<RelayLogEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT relay, at, duration_ms, reason, plate, event_id, outcome FROM relay_log ORDER BY id DESC LIMIT ?1")
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map([limit], |r| {
                let outcome: String = r.get(6)?;
                Ok(RelayLogEntry {
                    relay: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    duration_ms: r.get(2)?,
                    reason: r.get(3)?,
                    plate: r.get(4)?,
                    event_id: r.get(5)?,
                    outcome: serde_json::from_value(serde_json::Value::String(outcome))
                        .unwrap_or(PulseOutcome::Failed),
                })
            })
            .map_err(self.db_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db_err())
    }
}
