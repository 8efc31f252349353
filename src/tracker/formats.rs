//! Plate formats: which texts count as real plates, and cheap OCR-confusion fixes that make a
//! slightly misread plate fit one.
//!
//! A read that fits no enabled format is still stored as an event but never opens the gate, so
//! the formats are the first line of defence against garbage reads (signs, stickers, half plates).

use crate::config::FormatSettings;
use crate::inference::Candidate;
use regex::Regex;
use std::ops::RangeInclusive;

/// Characters the reader mixes up, as (digit, letter) pairs. Used to fix reads towards a format
/// and, in the access policy, to make such substitutions cheap.
pub const OCR_CONFUSIONS: [(char, char); 5] =
    [('0', 'O'), ('1', 'I'), ('8', 'B'), ('5', 'S'), ('2', 'Z')];

/// Whether `a` and `b` are an OCR confusion pair (in either order).
pub fn is_confusion(a: char, b: char) -> bool {
    OCR_CONFUSIONS
        .iter()
        .any(|&(d, l)| (a == d && b == l) || (a == l && b == d))
}

/// The other half of a confusion pair, if `c` has one.
fn confusion_partner(c: char) -> Option<char> {
    OCR_CONFUSIONS.iter().find_map(|&(d, l)| {
        if c == d {
            Some(l)
        } else if c == l {
            Some(d)
        } else {
            None
        }
    })
}

/// Most confusion substitutions tried to make a read fit a format without a fixed shape.
const MAX_FREE_FIXES: usize = 2;
/// Most substitutions accepted for a fixed-shape format (letters vs digits per position).
const MAX_SHAPE_FIXES: usize = 3;

/// Why the format settings cannot be used. Messages name the config field.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("formats.presets[{index}]: unknown preset '{name}'; expected us, eu, br, br-old or br-mercosul")]
    UnknownPreset { index: usize, name: String },
    #[error("formats.custom[{index}].regex: invalid regular expression '{regex}': {message}")]
    BadRegex {
        index: usize,
        regex: String,
        message: String,
    },
    #[error("formats.custom[{index}].name: must not be empty")]
    EmptyName { index: usize },
}

/// Letter or digit slot of a fixed-shape format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Letter,
    Digit,
}

impl Slot {
    fn accepts(self, c: char) -> bool {
        match self {
            Slot::Letter => c.is_ascii_uppercase(),
            Slot::Digit => c.is_ascii_digit(),
        }
    }
}

/// One plate format.
#[derive(Debug, Clone)]
struct PlateFormat {
    name: String,
    /// Anchored.
    regex: Regex,
    len: RangeInclusive<usize>,
    /// Also needs at least one digit (regex has no look-ahead).
    needs_digit: bool,
    /// Fixed letters/digits layout, for position-wise fixes.
    shape: Option<Vec<Slot>>,
}

impl PlateFormat {
    fn preset(
        name: &str,
        regex: &str,
        len: RangeInclusive<usize>,
        needs_digit: bool,
        shape: Option<&str>,
    ) -> PlateFormat {
        PlateFormat {
            name: name.to_string(),
            // Preset patterns are constants checked by the tests.
            regex: Regex::new(regex).expect("preset plate regex"),
            len,
            needs_digit,
            shape: shape.map(|s| {
                s.chars()
                    .map(|c| if c == 'L' { Slot::Letter } else { Slot::Digit })
                    .collect()
            }),
        }
    }

    fn fits(&self, text: &str) -> bool {
        self.len.contains(&text.len())
            && (!self.needs_digit || text.bytes().any(|b| b.is_ascii_digit()))
            && self.regex.is_match(text)
    }

    /// Position-wise fix for a fixed-shape format: each letter in a digit slot (or the reverse)
    /// is swapped for its confusion partner. Returns the fixed text and the changed positions.
    fn shape_fix(&self, chars: &[char]) -> Option<(String, Vec<usize>)> {
        let shape = self.shape.as_ref()?;
        if shape.len() != chars.len() {
            return None;
        }
        let mut fixed = String::with_capacity(chars.len());
        let mut changed = Vec::new();
        for (i, (&slot, &c)) in shape.iter().zip(chars).enumerate() {
            if slot.accepts(c) {
                fixed.push(c);
            } else {
                let partner = confusion_partner(c).filter(|&p| slot.accepts(p))?;
                fixed.push(partner);
                changed.push(i);
            }
        }
        (changed.len() <= MAX_SHAPE_FIXES && self.fits(&fixed)).then_some((fixed, changed))
    }
}

fn us() -> PlateFormat {
    // Generic US: 2-8 letters/digits with at least one digit (state layouts vary too much for more).
    PlateFormat::preset("us", r"^[A-Z0-9]+$", 2..=8, true, None)
}

fn eu() -> PlateFormat {
    // Generic EU: letter prefix + number + optional letter suffix (DE, FR, IT, UK, PL, ...), or a
    // number first (ES `1234ABC`, NL `12ABC3`).
    PlateFormat::preset(
        "eu",
        r"^(?:[A-Z]{1,3}[0-9]{1,4}[A-Z]{0,3}|[0-9]{1,4}[A-Z]{1,3}[0-9]{0,3})$",
        4..=8,
        true,
        None,
    )
}

fn br_old() -> PlateFormat {
    PlateFormat::preset(
        "br-old",
        r"^[A-Z]{3}[0-9]{4}$",
        7..=7,
        true,
        Some("LLLDDDD"),
    )
}

fn br_mercosul() -> PlateFormat {
    PlateFormat::preset(
        "br-mercosul",
        r"^[A-Z]{3}[0-9][A-Z][0-9]{2}$",
        7..=7,
        true,
        Some("LLLDLDD"),
    )
}

/// Presets from the most specific to the most generic.
const PRESET_ORDER: [&str; 4] = ["br-old", "br-mercosul", "eu", "us"];

/// The enabled plate formats, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct PlateFormats {
    formats: Vec<PlateFormat>,
}

/// A fix candidate: text, format index, changed positions.
struct Fit {
    text: String,
    format: usize,
    changes: usize,
    /// Summed confidence of the changed characters (lower: the fix touched doubtful characters).
    changed_confidence: f32,
}

impl PlateFormats {
    /// Builds the formats from the config; `br` means both `br-old` and `br-mercosul`.
    ///
    /// Formats are tried from the most specific to the most generic, whatever the order in the
    /// config: custom formats (the installer's explicit choice, in config order), then `br-old`,
    /// `br-mercosul`, `eu`, `us`. Otherwise the generic US preset would claim nearly every plate.
    pub fn from_settings(settings: &FormatSettings) -> Result<PlateFormats, FormatError> {
        let mut formats = Vec::new();
        for (index, custom) in settings.custom.iter().enumerate() {
            if custom.name.trim().is_empty() {
                return Err(FormatError::EmptyName { index });
            }
            let regex = Regex::new(&format!("^(?:{})$", custom.regex)).map_err(|e| {
                FormatError::BadRegex {
                    index,
                    regex: custom.regex.clone(),
                    message: e.to_string(),
                }
            })?;
            formats.push(PlateFormat {
                name: custom.name.clone(),
                regex,
                len: 1..=usize::MAX,
                needs_digit: false,
                shape: None,
            });
        }
        for (index, name) in settings.presets.iter().enumerate() {
            let mut add = |f: PlateFormat| {
                if !formats.iter().any(|have| have.name == f.name) {
                    formats.push(f);
                }
            };
            match name.as_str() {
                "us" => add(us()),
                "eu" => add(eu()),
                "br" => {
                    add(br_old());
                    add(br_mercosul());
                }
                "br-old" => add(br_old()),
                "br-mercosul" => add(br_mercosul()),
                _ => {
                    return Err(FormatError::UnknownPreset {
                        index,
                        name: name.clone(),
                    })
                }
            }
        }
        let customs = settings.custom.len();
        formats[customs..].sort_by_key(|f| PRESET_ORDER.iter().position(|&n| n == f.name));
        Ok(PlateFormats { formats })
    }

    /// No format enabled: nothing can ever fit.
    pub fn is_empty(&self) -> bool {
        self.formats.is_empty()
    }

    /// Names of the enabled formats, in the order they are tried.
    pub fn names(&self) -> Vec<&str> {
        self.formats.iter().map(|f| f.name.as_str()).collect()
    }

    /// Name of the first format that `text` (normalised A-Z 0-9) fits as it is.
    pub fn classify(&self, text: &str) -> Option<String> {
        self.formats
            .iter()
            .find(|f| f.fits(text))
            .map(|f| f.name.clone())
    }

    /// Makes a read fit a format: the text as it is, else the fewest OCR-confusion swaps
    /// (0/O, 1/I, 8/B, 5/S, 2/Z) preferring the least confident characters, else a candidate
    /// reading that fits as it is, else a candidate with swaps. Returns (text, format name).
    pub fn fit(
        &self,
        text: &str,
        char_confidences: &[f32],
        candidates: &[Candidate],
    ) -> Option<(String, String)> {
        if let Some(name) = self.classify(text) {
            return Some((text.to_string(), name));
        }
        if let Some(found) = self.best_fix(text, char_confidences) {
            return Some(found);
        }
        for c in candidates {
            if let Some(name) = self.classify(&c.text) {
                return Some((c.text.clone(), name));
            }
        }
        candidates.iter().find_map(|c| self.best_fix(&c.text, &[]))
    }

    /// The cheapest confusion fix of `text` over all formats.
    fn best_fix(&self, text: &str, char_confidences: &[f32]) -> Option<(String, String)> {
        let chars: Vec<char> = text.chars().collect();
        let conf = |i: usize| char_confidences.get(i).copied().unwrap_or(1.0);
        let mut best: Option<Fit> = None;
        let mut consider = |fit: Fit| {
            // Fewest swaps, then the least confident characters swapped; ties keep the earlier format.
            let better = best.as_ref().is_none_or(|b| {
                (fit.changes, fit.changed_confidence) < (b.changes, b.changed_confidence)
            });
            if better {
                best = Some(fit);
            }
        };
        // Positions that could be swapped, for formats without a shape.
        let swappable: Vec<usize> = (0..chars.len())
            .filter(|&i| confusion_partner(chars[i]).is_some())
            .collect();
        for (index, format) in self.formats.iter().enumerate() {
            if format.shape.is_some() {
                if let Some((fixed, changed)) = format.shape_fix(&chars) {
                    let changed_confidence = changed.iter().map(|&i| conf(i)).sum();
                    consider(Fit {
                        text: fixed,
                        format: index,
                        changes: changed.len(),
                        changed_confidence,
                    });
                }
                continue;
            }
            if !format.len.contains(&chars.len()) {
                continue;
            }
            for subset in subsets_up_to(&swappable, MAX_FREE_FIXES) {
                let mut fixed = chars.clone();
                for &i in &subset {
                    if let Some(p) = confusion_partner(fixed[i]) {
                        fixed[i] = p;
                    }
                }
                let fixed: String = fixed.into_iter().collect();
                if format.fits(&fixed) {
                    let changed_confidence = subset.iter().map(|&i| conf(i)).sum();
                    consider(Fit {
                        text: fixed,
                        format: index,
                        changes: subset.len(),
                        changed_confidence,
                    });
                }
            }
        }
        best.map(|b| (b.text, self.formats[b.format].name.clone()))
    }
}

/// All non-empty subsets of `items` with at most `max` elements.
fn subsets_up_to(items: &[usize], max: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut frontier: Vec<Vec<usize>> = vec![Vec::new()];
    for _ in 0..max {
        let mut next = Vec::new();
        for s in &frontier {
            let start = s.last().map(|&l| l + 1).unwrap_or(0);
            for k in start..items.len() {
                let mut grown = s.clone();
                grown.push(k);
                next.push(grown);
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    // Indices into `items` → the items themselves.
    out.into_iter()
        .map(|s| s.into_iter().map(|k| items[k]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_small_and_complete() {
        let s = subsets_up_to(&[1, 4, 6], 2);
        assert_eq!(s.len(), 3 + 3);
        assert!(s.contains(&vec![4, 6]));
    }

    #[test]
    fn confusion_pairs_are_symmetric() {
        assert!(is_confusion('0', 'O') && is_confusion('O', '0'));
        assert!(!is_confusion('A', '4'));
    }
}
