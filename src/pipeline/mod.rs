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
/// plate: see [`crate::tracker::Tracker::settled_boxes`]) is not read again while it looks as it
/// did when its spot was first seen settled: same size and the same coarse picture ([`Look`]).
/// A different car that stops in the same spot, or a plate coming closer, is read on every frame
/// where it shows, until every [`SettledPlates::RECHECK_EVERY`]th frame all settled boxes are
/// read and their spots seen afresh. Skipped boxes only keep their tracks alive. This saves the
/// reader's time while a car waits at the barrier and on static plate-like patterns (window
/// rows, signs).
#[derive(Debug, Default)]
pub struct SettledPlates {
    frames: u64,
    boxes: Vec<crate::geometry::BBox>,
    /// Box and look of each settled spot when first seen since the last recheck. Interior
    /// mutability because the reader asks through a shared closure, box by box.
    seen: std::cell::RefCell<Vec<(crate::geometry::BBox, Look)>>,
}

impl SettledPlates {
    /// Frames between reads of every settled box, changed or not (1 s at 25 fps).
    pub const RECHECK_EVERY: u64 = 25;
    /// Overlap with a settled track's box for a detection to count as the same plate.
    pub const MIN_IOU: f32 = 0.5;
    /// Width change that makes a box worth reading again (a plate coming closer has more pixels
    /// to read).
    pub const MAX_WIDTH_CHANGE: f32 = 0.15;

    /// Call once per frame, before recognition.
    pub fn update(&mut self, tracker: &crate::tracker::Tracker) {
        self.set_settled(tracker.settled_boxes());
    }

    fn set_settled(&mut self, boxes: Vec<crate::geometry::BBox>) {
        self.frames += 1;
        self.boxes = boxes;
        let seen = self.seen.get_mut();
        if self.frames % Self::RECHECK_EVERY == 0 {
            seen.clear();
        } else {
            let boxes = &self.boxes;
            seen.retain(|(b, _)| boxes.iter().any(|d| d.iou(b) >= Self::MIN_IOU));
        }
    }

    /// Whether the reader can skip box `b` of `frame`.
    pub fn skips(&self, frame: &crate::video::Frame, b: &crate::geometry::BBox) -> bool {
        if !self.boxes.iter().any(|d| d.iou(b) >= Self::MIN_IOU) {
            return false;
        }
        let look = Look::of(frame, b);
        let mut seen = self.seen.borrow_mut();
        match seen.iter().find(|(s, _)| s.iou(b) >= Self::MIN_IOU) {
            Some((first_box, first_look)) => {
                let grew = (b.width() / first_box.width().max(1.0) - 1.0).abs();
                grew <= Self::MAX_WIDTH_CHANGE && first_look.same_as(&look)
            }
            None => {
                // First sight of this spot since the last recheck: read it once more, then its
                // look is the reference.
                seen.push((*b, look));
                false
            }
        }
    }
}

/// A box's picture at a glance: mean brightness of a grid of cells across it, less the mean of
/// the whole box (so that a cloud or headlights do not count as a change). Cells are about as
/// wide as a character: a different plate changes some cells a lot, while coding noise and a
/// box jittering by a pixel or two change them a little.
#[derive(Debug, Clone, PartialEq)]
pub struct Look([i16; Look::COLS * Look::ROWS]);

impl Look {
    const COLS: usize = 8;
    const ROWS: usize = 1;
    /// Largest cell difference (grey levels) still counted as the same picture.
    pub const MAX_CELL_CHANGE: i16 = 32;
    /// Samples per cell side at most: the cost stays bounded for a large box.
    const SAMPLES: u32 = 6;

    /// The look of box `b` (clamped to the frame) of `frame`.
    pub fn of(frame: &crate::video::Frame, b: &crate::geometry::BBox) -> Look {
        let c = b.clamp(frame.width, frame.height);
        let mut cells = [0i16; Look::COLS * Look::ROWS];
        if c.width() < 1.0 || c.height() < 1.0 {
            return Look(cells);
        }
        let mut sum_all = 0i32;
        for row in 0..Look::ROWS {
            for col in 0..Look::COLS {
                let (mut sum, mut n) = (0u32, 0u32);
                for sy in 0..Look::SAMPLES {
                    for sx in 0..Look::SAMPLES {
                        let fx = (col as f32 + (sx as f32 + 0.5) / Look::SAMPLES as f32)
                            / Look::COLS as f32;
                        let fy = (row as f32 + (sy as f32 + 0.5) / Look::SAMPLES as f32)
                            / Look::ROWS as f32;
                        let x = (c.x1 + fx * c.width()) as u32;
                        let y = (c.y1 + fy * c.height()) as u32;
                        sum +=
                            frame.gray_at(x.min(frame.width - 1), y.min(frame.height - 1)) as u32;
                        n += 1;
                    }
                }
                let mean = (sum / n) as i16;
                cells[row * Look::COLS + col] = mean;
                sum_all += mean as i32;
            }
        }
        let mean_all = (sum_all / cells.len() as i32) as i16;
        for v in &mut cells {
            *v -= mean_all;
        }
        Look(cells)
    }

    /// True when no cell changed by more than [`Look::MAX_CELL_CHANGE`].
    pub fn same_as(&self, other: &Look) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .all(|(a, b)| (a - b).abs() <= Look::MAX_CELL_CHANGE)
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

    /// A 320x120 frame with a white plate at (40, 40)-(280, 80) carrying dark strokes
    /// (characters: x offset and width), plus `noise` grey levels of pseudo-random noise.
    fn plate_frame(strokes: &[(u32, u32)], noise: u8, seed: u32) -> crate::video::Frame {
        let (w, h) = (320usize, 120usize);
        let mut rgb = vec![90u8; w * h * 3];
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        for y in 0..h {
            for x in 0..w {
                let mut v = 90i32;
                if (40..280).contains(&x) && (40..80).contains(&y) {
                    v = 230;
                    let in_stroke = strokes
                        .iter()
                        .any(|&(s, w)| (40 + s as usize..40 + (s + w) as usize).contains(&x))
                        && (46..74).contains(&y);
                    if in_stroke {
                        v = 20;
                    }
                }
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if noise > 0 {
                    v += (state % (2 * noise as u32 + 1)) as i32 - noise as i32;
                }
                let v = v.clamp(0, 255) as u8;
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[v, v, v]);
            }
        }
        crate::video::Frame::from_rgb("cam".into(), w as u32, h as u32, &rgb)
    }

    #[test]
    fn a_settled_box_is_read_again_only_when_it_looks_different() {
        use crate::geometry::BBox;
        let plate_a = [
            (10, 12),
            (40, 12),
            (70, 12),
            (100, 12),
            (130, 12),
            (160, 12),
            (190, 12),
        ];
        // Three characters of plate B are bolder ones ("1" against "8").
        let plate_b = [
            (10, 12),
            (32, 26),
            (70, 12),
            (92, 26),
            (130, 12),
            (152, 26),
            (190, 12),
        ];
        let spot = BBox::new(40.0, 40.0, 280.0, 80.0);
        let mut settled = SettledPlates::default();
        let next = |settled: &mut SettledPlates| settled.set_settled(vec![spot]);

        next(&mut settled);
        assert!(
            !settled.skips(&plate_frame(&plate_a, 0, 1), &spot),
            "first look at a settled spot is read"
        );
        for seed in 2..10 {
            next(&mut settled);
            // The same plate, coding-like noise and a box off by two pixels: not read again.
            let jitter = BBox::new(42.0, 39.0, 281.0, 81.0);
            assert!(
                settled.skips(&plate_frame(&plate_a, 6, seed), &jitter),
                "same plate, frame {seed}"
            );
        }
        // A different plate in the same spot is read on every frame until the recheck.
        for seed in 20..24 {
            next(&mut settled);
            assert!(
                !settled.skips(&plate_frame(&plate_b, 6, seed), &spot),
                "a different plate in the same spot, frame {seed}"
            );
        }
        while settled.frames % SettledPlates::RECHECK_EVERY != 0 {
            next(&mut settled);
        }
        assert!(
            !settled.skips(&plate_frame(&plate_b, 6, 30), &spot),
            "the recheck reads it"
        );
        next(&mut settled);
        assert!(
            settled.skips(&plate_frame(&plate_b, 6, 31), &spot),
            "now it is the spot's look"
        );
        assert!(
            !settled.skips(&plate_frame(&plate_a, 6, 31), &spot),
            "and the old one differs"
        );
        // A plate coming closer: the same picture, bigger. (A flat frame keeps the look equal, so
        // that only the width counts here.)
        let flat = crate::video::Frame::from_rgb("cam".into(), 320, 120, &[128; 320 * 120 * 3]);
        let mut settled = SettledPlates::default();
        next(&mut settled);
        assert!(!settled.skips(&flat, &spot), "first look");
        next(&mut settled);
        let closer = BBox::new(30.0, 38.0, 290.0, 84.0);
        let wider = BBox::new(20.0, 36.0, 300.0, 86.0);
        assert!(settled.skips(&flat, &closer), "8 % wider");
        next(&mut settled);
        assert!(!settled.skips(&flat, &wider), "17 % wider: read again");
        // A box that is not settled is always read.
        assert!(!settled.skips(&flat, &BBox::new(0.0, 0.0, 30.0, 20.0)));
        // Every RECHECK_EVERY frames everything is read, changed or not.
        while settled.frames % SettledPlates::RECHECK_EVERY != SettledPlates::RECHECK_EVERY - 1 {
            next(&mut settled);
            assert!(settled.skips(&flat, &spot));
        }
        next(&mut settled);
        assert!(!settled.skips(&flat, &spot), "periodic recheck");
    }

    #[test]
    fn a_brighter_scene_is_not_a_different_plate() {
        let a = plate_frame(&[(10, 12), (40, 12), (70, 12)], 0, 1);
        let spot = crate::geometry::BBox::new(40.0, 40.0, 280.0, 80.0);
        let brighter = {
            let rgb: Vec<u8> = (0..a.height)
                .flat_map(|y| (0..a.width).map(move |x| (x, y)))
                .flat_map(|(x, y)| {
                    let v = a.gray_at(x, y).saturating_add(20);
                    [v, v, v]
                })
                .collect();
            crate::video::Frame::from_rgb("cam".into(), a.width, a.height, &rgb)
        };
        assert!(Look::of(&a, &spot).same_as(&Look::of(&brighter, &spot)));
        let other = plate_frame(&[(10, 12), (32, 26), (70, 12)], 0, 1);
        assert!(!Look::of(&a, &spot).same_as(&Look::of(&other, &spot)));
    }
}
