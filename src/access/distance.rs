//! Plate normalisation and the OCR-aware edit distance used for fuzzy list matching.

use crate::tracker::is_confusion;

/// Cost of substituting one character of an OCR confusion pair (0/O, 1/I, 8/B, 5/S, 2/Z) for the
/// other: a reader's typical mistake, so it costs half a normal edit.
pub const CONFUSION_COST: f32 = 0.5;

/// Upper-case A-Z and 0-9 only: spaces, dashes and dots on plates are not part of the identity.
pub fn normalize_plate(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = c.to_ascii_uppercase();
            c.is_ascii_alphanumeric().then_some(c)
        })
        .collect()
}

/// Levenshtein distance where OCR-confusion substitutions cost [`CONFUSION_COST`] and every
/// other insertion, deletion or substitution costs 1. Both texts should be normalised.
pub fn plate_distance(a: &str, b: &str) -> f32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<f32> = (0..=b.len()).map(|j| j as f32).collect();
    let mut row = vec![0.0f32; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        row[0] = (i + 1) as f32;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = if ca == cb {
                0.0
            } else if is_confusion(ca, cb) {
                CONFUSION_COST
            } else {
                1.0
            };
            row[j + 1] = (prev[j] + substitute)
                .min(prev[j + 1] + 1.0)
                .min(row[j] + 1.0);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_separators_and_case() {
        assert_eq!(normalize_plate(" ab-12 3.c "), "AB123C");
    }

    #[test]
    fn confusions_are_cheap() {
        assert_eq!(plate_distance("ABC123", "ABC123"), 0.0);
        assert_eq!(plate_distance("ABC123", "ABCI23"), 0.5);
        assert_eq!(plate_distance("ABC123", "ABC124"), 1.0);
        assert_eq!(plate_distance("ABC123", "ABC12"), 1.0);
        assert_eq!(plate_distance("8OS", "B05"), 1.5);
        assert_eq!(plate_distance("", "AB"), 2.0);
    }
}
