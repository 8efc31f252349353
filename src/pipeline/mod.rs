//! What happens between the tracker and the access decision: implausible reads are dropped and a
//! second read of the same pass is suppressed. Also which plates need no reading at all
//! ([`SettledPlates`]).
//!
//! Why here and not in the tracker: the tracker emits one read per *track*; a track can split when
//! the detector misses a plate for a while or a box jumps as the car approaches, and a bright
//! pattern (windows, signs) can form a short-lived track of junk. Both are cheap to recognise
//! after the vote.

use crate::access::plate_distance;
use crate::tracker::PlateRead;
use std::collections::VecDeque;

/// Reads below this voted confidence are not plates a person could confirm (measured on the
/// generated clips: junk tracks (windows, signs) voted up to 0.41, real passes 0.61 and more).
pub const MIN_READ_CONFIDENCE: f32 = 0.5;
/// Plausible plate lengths (the reader's `min_chars`..=`max_chars`).
pub const MIN_CHARS: usize = 4;
pub const MAX_CHARS: usize = 8;
/// A read within this time of a similar one on the same camera belongs to the same pass.
pub const SAME_PASS_MS: u64 = 5000;

/// True when `text` at `confidence` can be a plate worth an event.
pub fn plausible(text: &str, confidence: f32) -> bool {
    (MIN_CHARS..=MAX_CHARS).contains(&text.len())
        && confidence >= MIN_READ_CONFIDENCE
        && !stripe_like(text)
}

/// Rows of windows, railings and fences read as runs of vertical strokes (`II11011`, `11I1`,
/// `IL1IL11` on the generated clips); real plates mix in other shapes.
fn stripe_like(text: &str) -> bool {
    let strokes = text
        .chars()
        .filter(|c| matches!(c, '1' | 'I' | 'L'))
        .count();
    strokes * 4 >= text.len() * 3
}

/// Two reads of one plate: within one edit (OCR confusions cost half), or one a fragment of the
/// other (a plate half out of the frame).
fn same_plate(a: &str, b: &str) -> bool {
    plate_distance(a, b) <= 1.0 || a.contains(b) || b.contains(a)
}

/// Filters one camera's tracker output.
#[derive(Default)]
pub struct ReadFilter {
    recent: VecDeque<(String, u64)>,
}

impl ReadFilter {
    pub fn new() -> ReadFilter {
        ReadFilter::default()
    }

    /// `at_ms`: the read's stream time (pts, or a monotonic clock for live cameras).
    pub fn accept(&mut self, read: &PlateRead, at_ms: u64) -> bool {
        if !plausible(&read.text, read.confidence) {
            tracing::debug!(plate = %read.text, confidence = read.confidence, "implausible read dropped");
            return false;
        }
        self.recent
            .retain(|(_, t)| at_ms >= *t && at_ms - *t <= SAME_PASS_MS);
        if let Some(entry) = self
            .recent
            .iter_mut()
            .find(|(p, _)| same_plate(p, &read.text))
        {
            tracing::debug!(plate = %read.text, previous = %entry.0, "second read of the same pass dropped");
            // The pass is still going on: keep suppressing its fragments.
            entry.1 = at_ms;
            return false;
        }
        self.recent.push_back((read.text.clone(), at_ms));
        true
    }
}

/// A box whose track is settled (its pass already decided, or read many times without giving a
/// plate: see [`crate::tracker::Tracker::settled_boxes`]) is read again only on every
/// [`SettledPlates::RECHECK_EVERY`]th frame (to notice a different car in the same spot); in
/// between, it is not read and only keeps its track alive. This saves the reader's time while a
/// car waits at the barrier and on static plate-like patterns.
#[derive(Debug, Default)]
pub struct SettledPlates {
    frames: u64,
    boxes: Vec<crate::geometry::BBox>,
}

impl SettledPlates {
    pub const RECHECK_EVERY: u64 = 5;
    /// Overlap with a decided track's box for a detection to count as the same plate.
    pub const MIN_IOU: f32 = 0.5;

    /// Call once per frame, before recognition.
    pub fn update(&mut self, tracker: &crate::tracker::Tracker) {
        self.frames += 1;
        self.boxes = if self.frames % Self::RECHECK_EVERY == 0 {
            Vec::new()
        } else {
            tracker.settled_boxes()
        };
    }

    /// Whether the reader can skip this box on the current frame.
    pub fn skips(&self, b: &crate::geometry::BBox) -> bool {
        self.boxes.iter().any(|d| d.iou(b) >= Self::MIN_IOU)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausibility() {
        assert!(plausible("ABC1234", 0.6));
        assert!(!plausible("L", 0.9));
        assert!(!plausible("III1111", 0.41));
        assert!(!plausible("ABCDEFGHIJ", 0.9));
        assert!(!plausible("11I1", 0.9), "window stripes");
        assert!(!plausible("IL1IL11", 0.9));
        assert!(plausible("LIL1234", 0.9));
    }

    #[test]
    fn fragments_and_near_misses_are_the_same_plate() {
        assert!(same_plate("ABC1234", "ABC12"));
        assert!(same_plate("ABC1234", "A8C1234"));
        assert!(same_plate("ABC1234", "ABC1235"));
        assert!(!same_plate("ABC1234", "7KTR481"));
        assert!(!same_plate("ABC1234", "ABD1284"));
    }
}
