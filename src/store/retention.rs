//! Retention: delete old events, and the oldest events while the data directory is over its
//! quota or the file system is short of free space. Rows and their media files go together.
//! Events still waiting in the outbox are deleted last, and counted in the report.

use super::db::{ms, Store};
use super::StoreError;
use crate::config::StorageSettings;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MIB: u64 = 1024 * 1024;
/// Events deleted per transaction.
const CHUNK: usize = 500;

/// What one retention run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub deleted_by_age: u64,
    pub deleted_by_quota: u64,
    /// Deleted events that had not been delivered on every channel yet (data lost to the back
    /// office; should stay 0 on a healthy gate).
    pub undelivered_deleted: u64,
    pub files_deleted: u64,
    pub media_bytes_freed: u64,
    /// Still over `max_disk_mb` or under `min_free_mb` with nothing left to delete.
    pub still_over_quota: bool,
    /// Media files that could not be removed (already gone, permissions), with the reason.
    pub file_errors: Vec<String>,
}

struct Victim {
    seq: i64,
    event_id: String,
    crop: Option<String>,
    frame: Option<String>,
    media_bytes: i64,
    row_bytes: i64,
    undelivered: bool,
}

/// Bytes available to unprivileged users on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we own; `c` is a valid NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| (s.f_bavail as u64).saturating_mul(s.f_frsize as u64))
}

impl Store {
    /// Bytes used by the data directory as retention counts them: database pages in use plus
    /// media files of stored events.
    pub fn disk_usage_bytes(&self) -> Result<u64, StoreError> {
        let (pages, free, size): (i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT freelist_count FROM pragma_freelist_count()),
                        (SELECT page_size FROM pragma_page_size())",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(self.db_err())?;
        let media: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(media_bytes), 0) FROM events",
                [],
                |r| r.get(0),
            )
            .map_err(self.db_err())?;
        Ok(((pages - free).max(0) * size).max(0) as u64 + media.max(0) as u64)
    }

    fn victims(
        &self,
        where_sql: &str,
        args: &[i64],
        limit: usize,
    ) -> Result<Vec<Victim>, StoreError> {
        let sql = format!(
            "SELECT seq, event_id, crop_path, frame_path, media_bytes, length(json) + 200,
                    EXISTS(SELECT 1 FROM outbox o WHERE o.event_id = e.event_id)
             FROM events e WHERE {where_sql} ORDER BY captured_at, seq LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.db_err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok(Victim {
                    seq: r.get(0)?,
                    event_id: r.get(1)?,
                    crop: r.get(2)?,
                    frame: r.get(3)?,
                    media_bytes: r.get(4)?,
                    row_bytes: r.get(5)?,
                    undelivered: r.get(6)?,
                })
            })
            .map_err(self.db_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db_err())
    }

    /// Deletes rows (events + outbox) in one transaction, then their files.
    fn delete_victims(
        &mut self,
        victims: &[Victim],
        report: &mut RetentionReport,
    ) -> Result<(), StoreError> {
        let db_path = self.db_path.clone();
        let err = |source| StoreError::Db {
            path: db_path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut del_outbox = tx
                .prepare_cached("DELETE FROM outbox WHERE event_id = ?1")
                .map_err(err)?;
            let mut del_event = tx
                .prepare_cached("DELETE FROM events WHERE seq = ?1")
                .map_err(err)?;
            for v in victims {
                del_outbox.execute(params![v.event_id]).map_err(err)?;
                del_event.execute(params![v.seq]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        for v in victims {
            if v.undelivered {
                report.undelivered_deleted += 1;
                tracing::warn!(event_id = %v.event_id, "retention deleted an event not yet delivered");
            }
            for rel in [&v.crop, &v.frame].into_iter().flatten() {
                let path = self.media_dir.join(rel);
                match std::fs::remove_file(&path) {
                    Ok(()) => report.files_deleted += 1,
                    Err(e) => report.file_errors.push(format!("{}: {e}", path.display())),
                }
                if let Some(parent) = path.parent() {
                    // Only succeeds once the day folder is empty.
                    let _ = std::fs::remove_dir(parent);
                }
            }
            report.media_bytes_freed += v.media_bytes.max(0) as u64;
        }
        Ok(())
    }

    /// Deletes by age (`retention_days`), then oldest-first while over `max_disk_mb` or under
    /// `min_free_mb` free. Delivered events go before undelivered ones.
    pub fn run_retention(
        &mut self,
        settings: &StorageSettings,
    ) -> Result<RetentionReport, StoreError> {
        let mut report = RetentionReport::default();
        if settings.retention_days > 0 {
            let cutoff =
                ms(jiff::Timestamp::now()) - i64::from(settings.retention_days) * 86_400_000;
            for delivered_first in [true, false] {
                let filter = if delivered_first {
                    "captured_at < ?1 AND NOT EXISTS(SELECT 1 FROM outbox o WHERE o.event_id = e.event_id)"
                } else {
                    "captured_at < ?1"
                };
                loop {
                    let victims = self.victims(filter, &[cutoff], CHUNK)?;
                    if victims.is_empty() {
                        break;
                    }
                    report.deleted_by_age += victims.len() as u64;
                    self.delete_victims(&victims, &mut report)?;
                }
            }
        }
        // Quota: bounded number of rounds so a file system that never frees up cannot spin.
        for _ in 0..10_000 {
            let used = self.disk_usage_bytes()?;
            let over_quota = if settings.max_disk_mb > 0 {
                used.saturating_sub(settings.max_disk_mb.saturating_mul(MIB))
            } else {
                0
            };
            let short_of_free = if settings.min_free_mb > 0 {
                free_bytes(&self.dir)
                    .map(|f| settings.min_free_mb.saturating_mul(MIB).saturating_sub(f))
                    .unwrap_or(0)
            } else {
                0
            };
            if over_quota == 0 && short_of_free == 0 {
                break;
            }
            // Only media files give space back to the file system (the database file keeps its
            // size and reuses pages), so free-space pressure only picks events with files.
            let media_only = over_quota == 0;
            let base = if media_only { "media_bytes > 0" } else { "1=1" };
            let mut candidates = self.victims(
                &format!(
                    "{base} AND NOT EXISTS(SELECT 1 FROM outbox o WHERE o.event_id = e.event_id)"
                ),
                &[],
                CHUNK,
            )?;
            if candidates.is_empty() {
                candidates = self.victims(base, &[], CHUNK)?;
            }
            if candidates.is_empty() {
                report.still_over_quota = true;
                tracing::warn!(dir = %self.dir.display(), used, "data directory over quota with nothing left to delete");
                break;
            }
            let need = over_quota.max(short_of_free) as i64;
            let mut freed = 0i64;
            let mut take = 0;
            for v in &candidates {
                take += 1;
                freed += v.media_bytes + if media_only { 0 } else { v.row_bytes };
                if freed >= need {
                    break;
                }
            }
            candidates.truncate(take);
            report.deleted_by_quota += candidates.len() as u64;
            self.delete_victims(&candidates, &mut report)?;
        }
        Ok(report)
    }
}

impl Store {
    /// Removes media files no stored event refers to (left by a crash between writing an
    /// event's files and committing its row, or temp files of an interrupted write), if they are
    /// older than `min_age`. Run at start; returns how many files were removed.
    pub fn sweep_orphan_media(&mut self, min_age: std::time::Duration) -> Result<u64, StoreError> {
        let media_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Media { path, source }
        };
        let mut removed = 0;
        let days = std::fs::read_dir(&self.media_dir).map_err(media_err(&self.media_dir))?;
        for day in days.flatten() {
            let day_path = day.path();
            if !day_path.is_dir() {
                continue;
            }
            let Some(day_name) = day_path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let Ok(files) = std::fs::read_dir(&day_path) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let old_enough = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= min_age);
                if !old_enough {
                    continue;
                }
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                let rel = format!("{day_name}/{name}");
                let event_id = name
                    .strip_suffix("-crop.jpg")
                    .or_else(|| name.strip_suffix("-frame.jpg"));
                let referenced = match event_id {
                    Some(id) => self
                        .conn
                        .query_row(
                            "SELECT 1 FROM events WHERE event_id = ?1 AND (crop_path = ?2 OR frame_path = ?2)",
                            params![id, rel],
                            |r| r.get::<_, i64>(0),
                        )
                        .map(|_| true)
                        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(false) } else { Err(e) })
                        .map_err(self.db_err())?,
                    None => false,
                };
                if !referenced {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {
                            removed += 1;
                            tracing::info!(file = %path.display(), "removed media file of no stored event");
                        }
                        Err(e) => {
                            tracing::warn!(file = %path.display(), error = %e, "removing orphan media file")
                        }
                    }
                }
            }
            let _ = std::fs::remove_dir(&day_path);
        }
        Ok(removed)
    }
}
