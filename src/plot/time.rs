//! Times and durations as `perftest plot` reads and prints them: UTC throughout, as
//! CloudWatch and Prometheus graph by default, so charts from different cities line up.

/// Seconds in `text`: a number (seconds) or a number followed by s, m, h or d.
pub fn duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        _ => return None,
    };
    let v: f64 = number.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * scale)
}

/// Epoch seconds in `text`: epoch seconds, RFC 3339 (`2026-12-02T09:00:00Z`, a space for the
/// T, an offset such as +02:00 or none for UTC), `now`, `now-1h` or `-1h` (before `now`), or `HH:MM[:SS]` UTC
/// on the day that `day_of` falls in.
pub fn instant(text: &str, now: f64, day_of: f64) -> Option<f64> {
    let text = text.trim();
    if text == "now" {
        return Some(now);
    }
    if let Some(ago) = text.strip_prefix("now-").or_else(|| text.strip_prefix('-')) {
        return duration(ago).map(|d| now - d);
    }
    if let Ok(v) = text.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    if let Some(secs) = clock(text) {
        return Some((day_of / 86400.0).floor() * 86400.0 + secs);
    }
    rfc3339(text)
}

/// `HH:MM` or `HH:MM:SS` as seconds into a day.
fn clock(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
        return None;
    }
    let n: Vec<u32> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    (h < 24 && m < 60 && s < 60).then(|| f64::from(h * 3600 + m * 60 + s))
}

/// RFC 3339's date-time (fractions of a second allowed); a bare date is its midnight UTC.
fn rfc3339(text: &str) -> Option<f64> {
    let (date, rest) = text.split_at_checked(10)?;
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || d[0].len() != 4 || d[1].len() != 2 || d[2].len() != 2 {
        return None;
    }
    let (y, mo, da): (i64, u32, u32) = (d[0].parse().ok()?, d[1].parse().ok()?, d[2].parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let midnight = days_from_civil(y, mo, da) as f64 * 86400.0;
    if rest.is_empty() {
        return Some(midnight);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // The offset: Z, +HH:MM or -HH:MM after the time; none is UTC too, as every chart is.
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0.0)
    } else if let Some(at) = rest.rfind(['+', '-']) {
        let (t, o) = rest.split_at(at);
        let sign = if o.starts_with('-') { -1.0 } else { 1.0 };
        (t, sign * clock(&o[1..])?)
    } else {
        (rest, 0.0)
    };
    let (whole, fraction) = match time.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            (w, format!("0.{f}").parse::<f64>().ok()?)
        }
        Some(_) => return None,
        None => (time, 0.0),
    };
    Some(midnight + clock(whole)? + fraction - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number: (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `2026-12-02`.
pub fn date(t: f64) -> String {
    let (y, m, d) = civil_from_days((t / 86400.0).floor() as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `09:05`, or `09:05:30` when `seconds`.
pub fn clock_text(t: f64, seconds: bool) -> String {
    let s = t.rem_euclid(86400.0).round() as u32 % 86400;
    if seconds {
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 3600, s / 60 % 60)
    }
}

/// `2026-12-02T09:05:00Z`.
pub fn rfc3339_text(t: f64) -> String {
    format!("{}T{}Z", date(t), clock_text(t.floor(), true))
}

/// Tick marks for the span `t0..t1` at a round step (1 s up to a week) giving at most `most`.
pub fn ticks(t0: f64, t1: f64, most: usize) -> (Vec<f64>, f64) {
    const STEPS: [f64; 19] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0, 604800.0,
    ];
    let span = (t1 - t0).max(1.0);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= most as f64)
        .unwrap_or(604800.0);
    let mut t = (t0 / step).ceil() * step;
    let mut out = Vec::new();
    while t <= t1 {
        out.push(t);
        t += step;
    }
    (out, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_form_read_as_the_same_second() {
        let now = 1_764_666_000.0; // 2025-12-02T09:00:00Z
        for text in [
            "1764666000",
            "2025-12-02T09:00:00Z",
            "2025-12-02 09:00:00z",
            "2025-12-02T10:00:00+01:00",
            "2025-12-02T04:30:00-04:30",
            "2025-12-02T09:00",
            "09:00",
            "09:00:00",
            "now",
            "now-0s",
        ] {
            assert_eq!(instant(text, now, now + 3600.0), Some(now), "{text}");
        }
        assert_eq!(instant("-1h", now, now), Some(now - 3600.0));
        assert_eq!(instant("now-90m", now, now), Some(now - 5400.0));
        assert_eq!(instant("2025-12-02", now, now), Some(now - 9.0 * 3600.0));
        assert_eq!(
            instant("2025-12-02T09:00:00.25Z", now, now),
            Some(now + 0.25)
        );
        for bad in [
            "",
            "25:00",
            "09:60",
            "2025-13-01",
            "2025-12-02T9",
            "tomorrow",
        ] {
            assert_eq!(instant(bad, now, now), None, "{bad}");
        }
    }

    #[test]
    fn dates_round_trip_across_eras_and_leap_days() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2100, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(rfc3339_text(1_764_666_005.7), "2025-12-02T09:00:05Z");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("90"), Some(90.0));
        assert_eq!(duration("5m"), Some(300.0));
        assert_eq!(duration("1.5h"), Some(5400.0));
        assert_eq!(duration("2d"), Some(172800.0));
        assert_eq!(duration("5w"), None);
        assert_eq!(duration("-5"), None);
    }

    #[test]
    fn ticks_fall_on_round_times() {
        let (t, step) = ticks(1_764_666_010.0, 1_764_666_010.0 + 3600.0, 10);
        assert_eq!(step, 600.0);
        assert!(t.iter().all(|x| x % 600.0 == 0.0), "{t:?}");
        assert_eq!(t.len(), 6);
    }
}
