//! Per-character vote over the single-frame reads of one track.

use std::collections::BTreeMap;

/// Slots per position: A-Z then 0-9.
const ALPHABET: usize = 36;

fn slot(c: char) -> Option<usize> {
    match c {
        'A'..='Z' => Some(c as usize - 'A' as usize),
        '0'..='9' => Some(26 + c as usize - '0' as usize),
        _ => None,
    }
}

fn char_of(slot: usize) -> char {
    if slot < 26 {
        (b'A' + slot as u8) as char
    } else {
        (b'0' + (slot - 26) as u8) as char
    }
}

/// Reads of one length: per position, the summed confidence of each character.
#[derive(Debug, Clone)]
struct LengthGroup {
    reads: u32,
    /// Summed mean character confidence of the reads (the group's weight).
    weight: f32,
    positions: Vec<[f32; ALPHABET]>,
}

/// The current outcome of a vote.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteResult {
    pub text: String,
    /// Per position: the winner's summed confidence divided by the reads of that length, so a
    /// position where reads disagree scores low.
    pub char_confidences: Vec<f32>,
    /// Lowest character confidence times the share of reads that had the winning length.
    pub confidence: f32,
}

/// Accumulates reads; memory does not grow with the number of reads (a car parked for minutes).
#[derive(Debug, Clone, Default)]
pub struct Vote {
    groups: BTreeMap<usize, LengthGroup>,
}

impl Vote {
    /// Adds one read (`text` A-Z 0-9; `char_confidences` aligned with it, missing ones count 0.5).
    pub fn add(&mut self, text: &str, char_confidences: &[f32]) {
        let chars: Vec<char> = text.chars().collect();
        if chars.is_empty() {
            return;
        }
        let group = self
            .groups
            .entry(chars.len())
            .or_insert_with(|| LengthGroup {
                reads: 0,
                weight: 0.0,
                positions: vec![[0.0; ALPHABET]; chars.len()],
            });
        let mut sum = 0.0;
        for (i, &c) in chars.iter().enumerate() {
            let conf = char_confidences
                .get(i)
                .copied()
                .unwrap_or(0.5)
                .clamp(0.0, 1.0);
            sum += conf;
            if let Some(s) = slot(c) {
                group.positions[i][s] += conf;
            }
        }
        group.reads += 1;
        group.weight += sum / chars.len() as f32;
    }

    /// The voted text; `None` before any read.
    pub fn result(&self) -> Option<VoteResult> {
        let total: f32 = self.groups.values().map(|g| g.weight).sum();
        // Heaviest length wins; ties go to more reads, then the longer text (a dropped
        // character is a likelier mistake than an invented one).
        let (_, group) = self.groups.iter().max_by(|(la, a), (lb, b)| {
            a.weight
                .total_cmp(&b.weight)
                .then(a.reads.cmp(&b.reads))
                .then(la.cmp(lb))
        })?;
        let mut text = String::with_capacity(group.positions.len());
        let mut char_confidences = Vec::with_capacity(group.positions.len());
        for position in &group.positions {
            let (best, weight) = position
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(s, w)| (s, *w))
                .unwrap_or((0, 0.0));
            text.push(char_of(best));
            char_confidences.push((weight / group.reads as f32).clamp(0.0, 1.0));
        }
        let lowest = char_confidences.iter().copied().fold(1.0f32, f32::min);
        let share = if total > 0.0 {
            group.weight / total
        } else {
            0.0
        };
        Some(VoteResult {
            text,
            char_confidences,
            confidence: lowest * share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_per_position_weighted_by_confidence() {
        let mut v = Vote::default();
        v.add("ABC123", &[0.9; 6]);
        v.add("A8C123", &[0.9, 0.3, 0.9, 0.9, 0.9, 0.9]);
        v.add("ABC128", &[0.9, 0.9, 0.9, 0.9, 0.9, 0.4]);
        v.add("ABC12", &[0.9; 5]);
        let r = v.result().unwrap();
        assert_eq!(r.text, "ABC123");
        assert!(r.confidence > 0.4 && r.confidence < 0.9, "{}", r.confidence);
    }

    #[test]
    fn empty_vote_has_no_result() {
        assert!(Vote::default().result().is_none());
    }
}
