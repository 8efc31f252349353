//! The tracker: associates plate findings across frames, votes, and emits one read per pass.

use super::formats::PlateFormats;
use super::read::PlateRead;
use super::vote::Vote;
use crate::access::plate_distance;
use crate::config::TrackerSettings;
use crate::geometry::BBox;
use crate::inference::{Candidate, PlateFinding, Recognition};
use crate::video::Frame;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// A box that overlaps a track but reads this differently is another car (e.g. the next car
/// stopping where the previous one stood), unless one of the reads is too short to judge.
const OVERLAP_MIN_SIMILARITY: f32 = 0.3;
/// Text-only association needs the boxes this close: centre distance at most this many box
/// widths, and sizes within this factor of each other.
const NEAR_WIDTHS: f32 = 3.0;
const NEAR_SIZE_FACTOR: f32 = 2.5;
/// Latest single-frame texts kept per track for association: a noisy vote early in a track
/// (few reads) should not make the next read look like another car.
const RECENT_TEXTS: usize = 4;
/// Distinct single-frame texts remembered per track (for candidates).
const MAX_TEXTS: usize = 32;
/// Candidates reported with a read.
const MAX_CANDIDATES: usize = 5;

/// Counters for the status page and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub tracks_opened: u64,
    /// Reads emitted while the plate was still in view (vote stable).
    pub emitted_stable: u64,
    /// Reads emitted when a track closed before its vote became stable.
    pub emitted_at_close: u64,
    /// Tracks closed with fewer than `min_reads` reads (nothing emitted).
    pub dropped_short: u64,
}

/// One finding prepared for association.
struct Detection<'a> {
    finding: &'a PlateFinding,
    text: String,
    char_confidences: Vec<f32>,
}

/// The single plate-shaped read that best shows the plate (its frame becomes the event's
/// picture). Only plausible reads (see [`crate::pipeline::plausible`]) keep a frame: in a busy
/// scene most tracks are window rows and signs, and a decoded 1080p frame held by each of them
/// was the largest share of the daemon's memory.
struct BestRead {
    confidence: f32,
    bbox: BBox,
    frame: Frame,
}

/// The frame a read came from, for the emission trigger.
#[derive(Clone, Copy)]
struct FrameMark {
    captured_at: jiff::Timestamp,
    captured_mono: Instant,
    detect_ms: f32,
    ocr_ms: f32,
}

/// Reads after which a track that has not produced a plate-shaped vote is treated as settled
/// (about one second at 25 fps; a real plate normally settles within a few reads).
pub const GIVE_UP_READS: u32 = 25;

struct Track {
    id: u64,
    bbox: BBox,
    last_seen_ms: u64,
    first_seen: jiff::Timestamp,
    vote: Vote,
    reads: u32,
    voted_text: String,
    /// Consecutive reads after which the vote was `voted_text`.
    stable: u32,
    emitted: bool,
    best: Option<BestRead>,
    last_read: Option<FrameMark>,
    /// Distinct single-frame texts: how often read and summed confidence.
    texts: HashMap<String, (u32, f32)>,
    /// The latest single-frame texts, newest last.
    recent: VecDeque<String>,
}

impl Track {
    /// How much `text` looks like this track's plate: the best similarity to the vote or to one
    /// of the latest reads; `None` when the texts are too short to judge.
    fn similarity(&self, text: &str) -> Option<f32> {
        if text.len() < 3 {
            return None;
        }
        std::iter::once(&self.voted_text)
            .chain(self.recent.iter())
            .filter(|t| t.len() >= 3)
            .map(|t| text_similarity(t, text))
            .max_by(f32::total_cmp)
    }
}

/// Normalised similarity of two plate texts (1 = same, OCR confusions count half).
fn text_similarity(a: &str, b: &str) -> f32 {
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 0.0;
    }
    (1.0 - plate_distance(a, b) / longest as f32).max(0.0)
}

fn near(a: &BBox, b: &BBox) -> bool {
    let (ax, ay) = a.center();
    let (bx, by) = b.center();
    let width = a.width().max(b.width()).max(1.0);
    let distance = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
    let ratio = a.width().max(1.0) / b.width().max(1.0);
    distance <= NEAR_WIDTHS * width && (1.0 / NEAR_SIZE_FACTOR..=NEAR_SIZE_FACTOR).contains(&ratio)
}

/// Follows plates of one camera across frames.
pub struct Tracker {
    camera: String,
    settings: TrackerSettings,
    formats: PlateFormats,
    tracks: Vec<Track>,
    next_id: u64,
    /// Clock origin for frames without a stream position.
    mono_origin: Option<Instant>,
    last_time_ms: Option<u64>,
    /// The latest frame pushed: the picture of a read whose track never had a plausible read.
    last_frame: Option<Frame>,
    stats: TrackerStats,
}

impl Tracker {
    pub fn new(camera: &str, settings: &TrackerSettings, formats: PlateFormats) -> Tracker {
        Tracker {
            camera: camera.to_string(),
            settings: settings.clone(),
            formats,
            tracks: Vec::new(),
            next_id: 1,
            mono_origin: None,
            last_time_ms: None,
            last_frame: None,
            stats: TrackerStats::default(),
        }
    }

    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// Tracks currently open (plates in view or seen within `max_gap_ms`).
    pub fn open_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Stream time of a frame in ms: its presentation time when known (so a file replayed faster
    /// than real time keeps its gaps), else its monotonic capture time.
    fn frame_time_ms(&mut self, frame: &Frame) -> u64 {
        if let Some(pts) = frame.pts_ms {
            return pts;
        }
        let origin = *self.mono_origin.get_or_insert(frame.captured_mono);
        frame
            .captured_mono
            .saturating_duration_since(origin)
            .as_millis() as u64
    }

    /// Boxes whose reading has nothing more to give for now: passes already emitted (the car is
    /// still in view), and tracks read [`GIVE_UP_READS`] times without a plate-shaped result
    /// (window rows, signs, an unreadable plate).
    pub fn settled_boxes(&self) -> Vec<BBox> {
        self.tracks
            .iter()
            .filter(|t| t.emitted || t.reads >= GIVE_UP_READS)
            .map(|t| t.bbox)
            .collect()
    }

    /// Tracks holding a decoded frame for an event picture still to come (at 1080p, 3 MB each).
    pub fn frames_held(&self) -> usize {
        self.tracks.iter().filter(|t| t.best.is_some()).count()
    }

    /// Feeds one analysed frame (also frames without plates: they let tracks time out).
    /// Returns the reads that became ready: votes that settled now and tracks that closed.
    pub fn push(&mut self, frame: &Frame, recognition: &Recognition) -> Vec<PlateRead> {
        let now = self.frame_time_ms(frame);
        let mut out = Vec::new();
        // The stream restarted (looped file, camera reconnect with a new clock): nothing before
        // belongs to what comes now.
        if self
            .last_time_ms
            .is_some_and(|last| now + self.settings.max_gap_ms < last)
        {
            out.extend(self.flush());
        }
        self.last_time_ms = Some(now);
        self.last_frame = Some(frame.clone());
        self.close_stale(now, &mut out);

        let mark = FrameMark {
            captured_at: frame.captured_at,
            captured_mono: frame.captured_mono,
            detect_ms: recognition.detect_ms,
            ocr_ms: recognition.ocr_ms,
        };
        let detections: Vec<Detection> = recognition
            .plates
            .iter()
            .map(|finding| {
                // Keep only A-Z 0-9 with their confidences aligned.
                let mut text = String::new();
                let mut char_confidences = Vec::new();
                for (i, c) in finding.text.text.chars().enumerate() {
                    let c = c.to_ascii_uppercase();
                    if c.is_ascii_alphanumeric() {
                        text.push(c);
                        char_confidences.push(
                            finding
                                .text
                                .char_confidences
                                .get(i)
                                .copied()
                                .unwrap_or(finding.text.confidence),
                        );
                    }
                }
                Detection {
                    finding,
                    text,
                    char_confidences,
                }
            })
            .collect();

        // Greedy one-to-one matching, best pairs first.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            for (di, det) in detections.iter().enumerate() {
                let iou = track.bbox.iou(&det.finding.plate_box.bbox);
                let similarity = track.similarity(&det.text);
                let by_overlap = iou >= self.settings.min_iou
                    && similarity.is_none_or(|s| s >= OVERLAP_MIN_SIMILARITY);
                let by_text = similarity.is_some_and(|s| s >= self.settings.min_text_similarity)
                    && near(&track.bbox, &det.finding.plate_box.bbox);
                if by_overlap || by_text {
                    pairs.push((iou + similarity.unwrap_or(0.0), ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_taken = vec![false; self.tracks.len()];
        let mut detection_track: Vec<Option<usize>> = vec![None; detections.len()];
        for (_, ti, di) in pairs {
            if !track_taken[ti] && detection_track[di].is_none() {
                track_taken[ti] = true;
                detection_track[di] = Some(ti);
            }
        }

        for (di, det) in detections.iter().enumerate() {
            let ti = match detection_track[di] {
                Some(ti) => ti,
                // An illegible box starts nothing; it only keeps a matching track alive.
                None if det.text.is_empty() => continue,
                None => {
                    self.stats.tracks_opened += 1;
                    self.tracks.push(Track {
                        id: self.next_id,
                        bbox: det.finding.plate_box.bbox,
                        last_seen_ms: now,
                        first_seen: frame.captured_at,
                        vote: Vote::default(),
                        reads: 0,
                        voted_text: String::new(),
                        stable: 0,
                        emitted: false,
                        best: None,
                        last_read: None,
                        texts: HashMap::new(),
                        recent: VecDeque::with_capacity(RECENT_TEXTS + 1),
                    });
                    self.next_id += 1;
                    self.tracks.len() - 1
                }
            };
            let track = &mut self.tracks[ti];
            track.bbox = det.finding.plate_box.bbox;
            track.last_seen_ms = now;
            if det.text.is_empty() {
                continue;
            }
            track.vote.add(&det.text, &det.char_confidences);
            track.reads += 1;
            track.last_read = Some(mark);
            track.recent.push_back(det.text.clone());
            if track.recent.len() > RECENT_TEXTS {
                track.recent.pop_front();
            }
            let confidence = det.finding.text.confidence;
            if track.texts.len() < MAX_TEXTS || track.texts.contains_key(&det.text) {
                let entry = track.texts.entry(det.text.clone()).or_insert((0, 0.0));
                entry.0 += 1;
                entry.1 += confidence;
            }
            // An emitted pass's picture is already in its event: holding a better one would
            // only keep a decoded frame alive until the car leaves.
            if !track.emitted
                && crate::pipeline::plausible(&det.text, confidence)
                && track
                    .best
                    .as_ref()
                    .is_none_or(|b| confidence > b.confidence)
            {
                track.best = Some(BestRead {
                    confidence,
                    bbox: det.finding.plate_box.bbox,
                    frame: frame.clone(),
                });
            }
            let Some(result) = track.vote.result() else {
                continue;
            };
            if result.text == track.voted_text {
                track.stable += 1;
            } else {
                track.voted_text = result.text.clone();
                track.stable = 1;
            }
            let settled = !track.emitted
                && track.reads >= self.settings.min_reads
                && track.stable >= self.settings.stable_reads
                && result.confidence >= self.settings.min_confidence;
            if settled {
                // Early emission needs a plate-shaped text; otherwise wait for more reads
                // (the close emits whatever the vote is then).
                let fitted = self.formats.fit(
                    &result.text,
                    &result.char_confidences,
                    &candidates(track, &result.text),
                );
                if fitted.is_some() || self.formats.is_empty() {
                    track.emitted = true;
                    self.stats.emitted_stable += 1;
                    out.push(self.make_read(ti, mark));
                    self.tracks[ti].best = None;
                }
            }
        }
        out
    }

    /// End of stream: emits every open track that has enough reads and was not emitted yet.
    pub fn flush(&mut self) -> Vec<PlateRead> {
        let mut out = Vec::new();
        self.close_where(|_| true, &mut out);
        out
    }

    fn close_stale(&mut self, now: u64, out: &mut Vec<PlateRead>) {
        let gap = self.settings.max_gap_ms;
        self.close_where(|t| now.saturating_sub(t.last_seen_ms) > gap, out);
    }

    fn close_where(&mut self, closing: impl Fn(&Track) -> bool, out: &mut Vec<PlateRead>) {
        let mut i = 0;
        while i < self.tracks.len() {
            if !closing(&self.tracks[i]) {
                i += 1;
                continue;
            }
            let track = &self.tracks[i];
            if !track.emitted {
                match track.last_read {
                    Some(mark) if track.reads >= self.settings.min_reads => {
                        self.stats.emitted_at_close += 1;
                        out.push(self.make_read(i, mark));
                    }
                    _ => self.stats.dropped_short += 1,
                }
            }
            self.tracks.remove(i);
        }
    }

    /// Builds the read of track `ti` as voted now, triggered by the frame `mark`.
    fn make_read(&self, ti: usize, mark: FrameMark) -> PlateRead {
        let track = &self.tracks[ti];
        let result = track.vote.result();
        let (voted, char_confidences, confidence) = match result {
            Some(r) => (r.text, r.char_confidences, r.confidence),
            None => (String::new(), Vec::new(), 0.0),
        };
        let mut candidates = candidates(track, &voted);
        let (text, format) = match self.formats.fit(&voted, &char_confidences, &candidates) {
            Some((text, format)) => (text, Some(format)),
            None => (voted.clone(), None),
        };
        if text != voted {
            // The fix changed the text: the raw vote becomes the first alternative.
            candidates.retain(|c| c.text != text);
            candidates.insert(
                0,
                Candidate {
                    text: voted.clone(),
                    confidence,
                },
            );
            candidates.truncate(MAX_CANDIDATES);
        }
        let (bbox, frame) = match (&track.best, &self.last_frame) {
            (Some(b), _) => (b.bbox, b.frame.clone()),
            // No single read was plate-shaped (the read filter usually drops such a vote).
            (None, Some(latest)) => (track.bbox, latest.clone()),
            (None, None) => (
                track.bbox,
                Frame::from_rgb(self.camera.as_str().into(), 1, 1, &[0, 0, 0]),
            ),
        };
        PlateRead {
            camera: self.camera.clone(),
            track_id: track.id,
            text,
            confidence,
            char_confidences,
            candidates,
            format,
            bbox,
            frame,
            reads: track.reads,
            first_seen: track.first_seen,
            trigger_captured_at: mark.captured_at,
            trigger_captured_mono: mark.captured_mono,
            detect_ms: mark.detect_ms,
            ocr_ms: mark.ocr_ms,
        }
    }
}

/// Other texts single frames read for this track, most frequent first.
fn candidates(track: &Track, voted: &str) -> Vec<Candidate> {
    let mut list: Vec<(&String, &(u32, f32))> = track
        .texts
        .iter()
        .filter(|(t, _)| t.as_str() != voted)
        .collect();
    list.sort_by(|a, b| {
        b.1 .0
            .cmp(&a.1 .0)
            .then(b.1 .1.total_cmp(&a.1 .1))
            .then(a.0.cmp(b.0))
    });
    list.into_iter()
        .take(MAX_CANDIDATES)
        .map(|(text, &(_, sum))| Candidate {
            text: text.clone(),
            confidence: sum / track.reads.max(1) as f32,
        })
        .collect()
}
