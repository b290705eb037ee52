//! Wall-clock time as plain numbers, for receipts and cache metadata, and as a readable UTC
//! stamp for log names.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `20261202-170903`: the UTC date and time of `unix_seconds`, for file names that sort by time
/// and that a person can read.
pub fn file_stamp(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let seconds = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian), by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

/// [`file_stamp`] of now.
pub fn file_stamp_now() -> String {
    file_stamp(unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(file_stamp(0), "19700101-000000");
        assert_eq!(file_stamp(951_782_400), "20000229-000000");
        assert_eq!(file_stamp(1_796_230_458), "20261202-165418");
        assert_eq!(file_stamp(4_102_444_799), "20991231-235959");
        assert_eq!(file_stamp(4_107_542_399), "21000228-235959");
    }
}
