//! `--log FILE --log-format text|json`: the line a caller reads after a failure
//! (containerd keeps the last one, podman parses the file as one object), and RFC 3339
//! timestamps (also the `created` of `state`).

use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

/// Append `n` in decimal, zero-padded to `width` digits.
fn push_num(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut n = n;
    while n > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let i = i.min(digits.len() - width.min(digits.len()));
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// The civil date (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (day 0),
/// in the proleptic Gregorian calendar. The 400-year cycle (146097 days) repeats exactly;
/// within it, years are counted from March 1st, so that the leap day is the cycle's last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Day 0 of the cycle that starts on 0000-03-01 is 719468 days before 1970-01-01.
    let z = days + 719_468;
    let cycle = z.div_euclid(146_097);
    let day_of_cycle = z.rem_euclid(146_097); // 0..=146096
    // Years of 365 days, less the leap days of the 4-, 100- and 400-year rules.
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365; // 0..=399
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100); // 0..=365
    // Months from March: 31 30 31 30 31 31 30 31 30 31 31 28/29 (a 153-day pattern of 5).
    let m = (5 * day_of_year + 2) / 153; // 0..=11
    let day = (day_of_year - (153 * m + 2) / 5 + 1) as u32;
    let month = if m < 10 { m + 3 } else { m - 9 } as u32;
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-08-19T12:00:00.123456789Z`: UTC, always nine fraction digits. Years outside
/// 0..=9999 are written with their digits (RFC 3339 has no form for them).
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u64;
    let mut out = String::with_capacity(30);
    if year < 0 {
        out.push('-');
    }
    push_num(&mut out, year.unsigned_abs(), 4);
    for (sep, n) in [('-', month as u64), ('-', day as u64)] {
        out.push(sep);
        push_num(&mut out, n, 2);
    }
    for (sep, n) in [('T', s / 3600), (':', s / 60 % 60), (':', s % 60)] {
        out.push(sep);
        push_num(&mut out, n, 2);
    }
    out.push('.');
    push_num(&mut out, u64::from(nanos.min(999_999_999)), 9);
    out.push('Z');
    out
}

/// The current time (CLOCK_REALTIME) in [`rfc3339`] form.
pub fn rfc3339_now() -> String {
    let (sec, nsec) = crate::sys::clock_time(libc::CLOCK_REALTIME);
    rfc3339(sec, nsec as u32)
}

/// Where `--log` lines go: nowhere without `--log`.
pub struct Log {
    file: Option<OwnedFd>,
    json: bool,
}

impl Log {
    /// Open `--log FILE` for appending (created 0644, as runc does), with `--log-format`
    /// `text` (the default, also for an empty value) or `json`.
    pub fn open(path: Option<&str>, format: &str) -> Result<Log> {
        let json = match format {
            "" | "text" => false,
            "json" => true,
            _ => return Err(Error::msg(format_args!("invalid log-format: {format}"))),
        };
        let file = match path {
            None => None,
            Some(p) => Some(
                rustix::fs::openat(
                    rustix::fs::CWD,
                    p,
                    OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(|e| Error::sys_msg(format_args!("cannot open log file '{p}'"), e))?,
            ),
        };
        Ok(Log { file, json })
    }

    /// No log file: every line is dropped.
    pub fn none() -> Log {
        Log {
            file: None,
            json: false,
        }
    }

    /// Write one `error` line (see [`Log::line`]).
    pub fn error(&self, msg: &str) {
        self.line("error", msg);
    }

    /// Write one line at `level` (`error`, `warning`, `debug`), with one `write`, as
    /// logrus formats it: `{"level":"error","msg":"…","time":"…"}` or
    /// `time="…" level=error msg="…"`. A log that cannot be written is no reason to fail.
    pub fn line(&self, level: &str, msg: &str) {
        let Some(fd) = &self.file else { return };
        let time = rfc3339_now();
        let mut out = String::with_capacity(msg.len() + 64);
        if self.json {
            out.push_str("{\"level\":\"");
            out.push_str(level);
            out.push_str("\",\"msg\":");
            crate::json::quote(&mut out, msg);
            out.push_str(",\"time\":\"");
            out.push_str(&time);
            out.push_str("\"}\n");
        } else {
            out.push_str("time=\"");
            out.push_str(&time);
            out.push_str("\" level=");
            out.push_str(level);
            out.push_str(" msg=");
            crate::json::quote(&mut out, msg);
            out.push('\n');
        }
        let _ = rustix::io::write(fd, out.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let cases: [(i64, (i64, u32, u32)); 14] = [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (59, (1970, 3, 1)),
            (10_957, (2000, 1, 1)),
            (11_016, (2000, 2, 29)), // 2000: leap (divisible by 400)
            (11_017, (2000, 3, 1)),
            (19_051, (2022, 2, 28)),
            (19_052, (2022, 3, 1)),
            (19_782, (2024, 2, 29)),
            (20_684, (2026, 8, 19)),
            (47_540, (2100, 2, 28)),
            (47_541, (2100, 3, 1)), // 2100: no leap day (divisible by 100)
            (-719_468, (0, 3, 1)),
            (2_932_896, (9999, 12, 31)),
        ];
        for (days, date) in cases {
            assert_eq!(civil_from_days(days), date, "day {days}");
        }
        // Every day follows the one before it.
        let mut prev = civil_from_days(-800_000);
        for d in -799_999..800_000 {
            let (y, m, day) = civil_from_days(d);
            let (py, pm, pd) = prev;
            let next_day = y == py && m == pm && day == pd + 1;
            let next_month = y == py && m == pm + 1 && day == 1;
            let next_year = y == py + 1 && m == 1 && day == 1 && pm == 12 && pd == 31;
            assert!(
                next_day || next_month || next_year,
                "day {d}: {prev:?} -> {y} {m} {day}"
            );
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            if next_month {
                let len = [
                    31,
                    if leap && pm == 2 { 29 } else { 28 },
                    31,
                    30,
                    31,
                    30,
                    31,
                    31,
                    30,
                    31,
                    30,
                    31,
                ];
                assert_eq!(pd, len[pm as usize - 1], "{prev:?}");
            }
            prev = (y, m, day);
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_787_140_800, 123_456_789),
            "2026-08-19T12:00:00.123456789Z"
        );
        assert_eq!(rfc3339(951_825_599, 5), "2000-02-29T11:59:59.000000005Z");
        assert_eq!(rfc3339(4_107_542_399, 0), "2100-02-28T23:59:59.000000000Z");
        assert_eq!(rfc3339(-1, 999_999_999), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339(0, 2_000_000_000), "1970-01-01T00:00:00.999999999Z");
        let now = rfc3339_now();
        assert_eq!(now.len(), 30);
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }

    fn read_log(format: &str, msgs: &[&str]) -> String {
        let dir = std::env::temp_dir().join(format!(
            "crab-can-log-{}-{format}",
            crate::sys::testing::pid()
        ));
        let _ = std::fs::remove_file(&dir);
        let log = Log::open(dir.to_str(), format).unwrap();
        for m in msgs {
            log.error(m);
        }
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().mode() & 0o777,
            0o644 & !umask()
        );
        let text = std::fs::read_to_string(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        text
    }

    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line[6..].trim(), 8).unwrap()
    }

    #[test]
    fn log_lines() {
        let j = read_log("json", &["a \"b\"\nc", "second"]);
        let lines: Vec<&str> = j.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("{\"level\":\"error\",\"msg\":\"a \\\"b\\\"\\nc\",\"time\":\"20")
        );
        assert!(lines[0].ends_with("Z\"}"));
        assert!(lines[1].contains("\"msg\":\"second\""));
        let t = read_log("text", &["x y"]);
        assert!(t.starts_with("time=\"20"));
        assert!(t.ends_with("Z\" level=error msg=\"x y\"\n"));
        assert!(Log::open(None, "xml").is_err());
        Log::open(None, "json").unwrap().error("dropped");
    }
}
