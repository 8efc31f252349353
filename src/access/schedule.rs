//! Weekly schedules: text form `mon-fri 07:00-19:00;sat 08:00-12:00` (used by CSV, HTTP and MQTT)
//! and the check whether a moment lies inside one, in the site's time zone.

use super::error::ScheduleError;
use super::types::ScheduleWindow;

/// Day names in week order; `ScheduleWindow::days` uses these.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn err(text: &str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        text: text.to_string(),
        message: message.into(),
    }
}

fn day_index(name: &str) -> Option<usize> {
    DAYS.iter().position(|d| d.eq_ignore_ascii_case(name))
}

/// Minutes since midnight of `HH:MM` (`24:00` allowed as an end).
fn parse_time(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}

/// Parses a day list: `mon-fri`, `sat,sun`, `fri-mon` (wraps), `daily`. Sorted, no duplicates.
fn parse_days(text: &str) -> Result<Vec<String>, ScheduleError> {
    let mut set = [false; 7];
    for part in text.split(',') {
        let part = part.trim();
        if part.eq_ignore_ascii_case("daily") || part == "*" {
            set = [true; 7];
            continue;
        }
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (Some(a), Some(b)) = (day_index(from), day_index(to)) else {
            return Err(err(
                part,
                "expected days like mon, mon-fri, sat,sun or daily",
            ));
        };
        let mut d = a;
        loop {
            set[d] = true;
            if d == b {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(DAYS
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(d, _)| d.to_string())
        .collect())
}

/// Parses one window `DAYS HH:MM-HH:MM`.
pub fn parse_window(text: &str) -> Result<ScheduleWindow, ScheduleError> {
    let text = text.trim();
    let Some((days, times)) = text.rsplit_once(char::is_whitespace) else {
        return Err(err(
            text,
            "expected 'DAYS HH:MM-HH:MM', e.g. 'mon-fri 07:00-19:00'",
        ));
    };
    let days = parse_days(days.trim())?;
    let Some((start, end)) = times.split_once('-') else {
        return Err(err(times, "expected a time range HH:MM-HH:MM"));
    };
    let window = ScheduleWindow {
        days,
        start: start.to_string(),
        end: end.to_string(),
    };
    validate_window(&window)?;
    Ok(window)
}

/// Parses `;`-separated windows; empty text means no schedule (valid all week).
pub fn parse_schedule(text: &str) -> Result<Vec<ScheduleWindow>, ScheduleError> {
    text.split(';')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(parse_window)
        .collect()
}

/// Checks a window built elsewhere (JSON from HTTP/MQTT): known days, `HH:MM` times.
pub fn validate_window(window: &ScheduleWindow) -> Result<(), ScheduleError> {
    if window.days.is_empty() {
        return Err(err("", "a window needs at least one day"));
    }
    if let Some(bad) = window.days.iter().find(|d| day_index(d).is_none()) {
        return Err(err(
            bad,
            "unknown day; expected mon, tue, wed, thu, fri, sat or sun",
        ));
    }
    for t in [&window.start, &window.end] {
        if parse_time(t).is_none() {
            return Err(err(t, "expected a time HH:MM between 00:00 and 24:00"));
        }
    }
    if parse_time(&window.start) == Some(24 * 60) {
        return Err(err(&window.start, "a window cannot start at 24:00"));
    }
    Ok(())
}

/// Day list in its shortest text form: runs of three or more days as ranges.
fn format_days(days: &[String]) -> String {
    let mut set = [false; 7];
    for d in days {
        if let Some(i) = day_index(d) {
            set[i] = true;
        }
    }
    if set.iter().all(|&on| on) {
        return "daily".into();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 7 {
        if !set[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < 7 && set[i + 1] {
            i += 1;
        }
        match i - start {
            0 => parts.push(DAYS[start].to_string()),
            1 => parts.push(format!("{},{}", DAYS[start], DAYS[i])),
            _ => parts.push(format!("{}-{}", DAYS[start], DAYS[i])),
        }
        i += 1;
    }
    parts.join(",")
}

/// Text form of one window.
pub fn format_window(window: &ScheduleWindow) -> String {
    format!(
        "{} {}-{}",
        format_days(&window.days),
        window.start,
        window.end
    )
}

/// Text form of a schedule (`;`-separated); empty for no schedule.
pub fn format_schedule(windows: &[ScheduleWindow]) -> String {
    windows
        .iter()
        .map(format_window)
        .collect::<Vec<_>>()
        .join(";")
}

/// Whether local time `day` (0 = Monday) at `minute` after midnight lies inside the window.
/// `end` before `start` runs past midnight into the next day; `end == start` covers 24 hours.
/// An invalid window never matches.
pub fn window_contains(window: &ScheduleWindow, day: usize, minute: u32) -> bool {
    let (Some(start), Some(end)) = (parse_time(&window.start), parse_time(&window.end)) else {
        return false;
    };
    let has = |d: usize| window.days.iter().any(|name| day_index(name) == Some(d));
    let yesterday = (day + 6) % 7;
    if start < end {
        has(day) && minute >= start && minute < end
    } else {
        // Past midnight: the evening part on a listed day, the morning part on the day after.
        (has(day) && minute >= start) || (has(yesterday) && minute < end)
    }
}

/// Whether the moment `at`, seen in `tz`, lies inside the schedule (empty: always).
pub fn schedule_contains(
    windows: &[ScheduleWindow],
    at: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> bool {
    if windows.is_empty() {
        return true;
    }
    let local = at.to_zoned(tz.clone());
    let day = local.weekday().to_monday_zero_offset() as usize;
    let minute = local.hour() as u32 * 60 + local.minute() as u32;
    windows.iter().any(|w| window_contains(w, day, minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        let text = "mon-fri 07:00-19:00;sat 08:00-12:00";
        let windows = parse_schedule(text).unwrap();
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].days, vec!["mon", "tue", "wed", "thu", "fri"]);
        assert_eq!(format_schedule(&windows), text);
        let wrap = parse_schedule("fri-mon 22:00-06:00; sat,sun 10:00-11:00").unwrap();
        assert_eq!(wrap[0].days, vec!["mon", "fri", "sat", "sun"]);
        assert_eq!(parse_schedule(&format_schedule(&wrap)).unwrap(), wrap);
        assert_eq!(
            format_window(&parse_window("daily 00:00-24:00").unwrap()),
            "daily 00:00-24:00"
        );
    }

    #[test]
    fn rejects_bad_text() {
        assert!(parse_schedule("mon-fry 07:00-19:00")
            .unwrap_err()
            .text
            .contains("fry"));
        assert!(parse_schedule("mon 7:00").is_err());
        assert!(parse_schedule("mon 07:00-25:00").is_err());
        assert!(parse_schedule("07:00-19:00").is_err());
        assert_eq!(parse_schedule("  ").unwrap(), vec![]);
    }

    #[test]
    fn past_midnight_window_covers_next_morning() {
        let w = parse_window("fri 22:00-06:00").unwrap();
        assert!(window_contains(&w, 4, 23 * 60));
        assert!(window_contains(&w, 5, 5 * 60 + 59));
        assert!(!window_contains(&w, 5, 6 * 60));
        assert!(!window_contains(&w, 4, 5 * 60));
        assert!(!window_contains(&w, 3, 23 * 60));
    }
}
