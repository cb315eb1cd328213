//! [`Timestamp`]: a time Podman reported (a container's creation, start and end). It is parsed from
//! RFC 3339 and written back in the form Podman writes (Go's `RFC3339Nano`: trailing zeros of the
//! fraction dropped, `Z` for UTC, the offset otherwise), so a time horizon shows reads like the one
//! `podman inspect` shows. chrono parses and does the calendar arithmetic; it stays out of the
//! public API.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What Podman reports for a time that never came (a container never started or never stopped):
/// Go's zero `time.Time`.
pub const PODMAN_NEVER: &str = "0001-01-01T00:00:00Z";
/// Go's zero time in seconds since the Unix epoch.
const GO_ZERO_UNIX_SECONDS: i64 = -62_135_596_800;
/// Seconds in an hour and in a minute, for writing an offset.
const HOUR_SECS: i32 = 3600;
const MINUTE_SECS: i32 = 60;

/// An instant with the UTC offset it was reported in. Equal and ordered by instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<FixedOffset>);

/// Text that is not an RFC 3339 time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 time ({reason})")]
pub struct TimestampError {
    /// What the parser found wrong.
    reason: String,
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub fn unix_epoch() -> Self {
        Timestamp(DateTime::<Utc>::UNIX_EPOCH.fixed_offset())
    }

    /// The instant `seconds` after the Unix epoch, in UTC; `None` beyond chrono's range (about
    /// 262,000 years either way).
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        DateTime::<Utc>::from_timestamp(seconds, 0).map(|time| Timestamp(time.fixed_offset()))
    }

    /// Seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// Whether this is Podman's "never" ([`PODMAN_NEVER`], Go's zero time).
    pub fn is_podman_never(&self) -> bool {
        self.0.timestamp() == GO_ZERO_UNIX_SECONDS && self.0.timestamp_subsec_nanos() == 0
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(text)
            .map(Timestamp)
            .map_err(|error| TimestampError {
                reason: error.to_string(),
            })
    }
}

impl fmt::Display for Timestamp {
    /// Go's `RFC3339Nano`, as Podman writes times.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            time.year(),
            time.month(),
            time.day(),
            time.hour(),
            time.minute(),
            time.second()
        )?;
        // chrono marks a leap second with a nanosecond count past one second; Go has none.
        let nanos = time.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        let offset = time.offset().local_minus_utc();
        if offset == 0 {
            return f.write_str("Z");
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.abs();
        write!(
            f,
            "{sign}{:02}:{:02}",
            offset / HOUR_SECS,
            offset % HOUR_SECS / MINUTE_SECS
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serialises an optional time as Podman does: `None` as [`PODMAN_NEVER`]. The `--json` reports
/// keep Podman's form, so their schema did not change when the times became typed.
pub(crate) fn serialize_or_never<S: Serializer>(
    time: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => time.serialize(serializer),
        None => serializer.serialize_str(PODMAN_NEVER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_times_read_back_as_podman_writes_them() {
        for text in [
            "2026-11-25T10:00:00.5Z",
            "2026-11-25T10:00:01Z",
            "2024-05-01T10:00:00.123456789+02:00",
            "2024-05-01T10:00:00.1234567-05:30",
            PODMAN_NEVER,
        ] {
            let time: Timestamp = text.parse().unwrap();
            assert_eq!(time.to_string(), text);
            assert_eq!(serde_json::to_value(time).unwrap(), text);
        }
    }

    #[test]
    fn times_compare_by_instant_whatever_their_offset() {
        let utc: Timestamp = "2024-05-01T08:00:00Z".parse().unwrap();
        let local: Timestamp = "2024-05-01T10:00:00+02:00".parse().unwrap();
        assert_eq!(utc, local);
        assert!(utc < "2024-05-01T08:00:00.1Z".parse().unwrap());
        assert_eq!(utc.unix_seconds(), 1_714_550_400);
        assert_eq!(Timestamp::from_unix_seconds(1_714_550_400), Some(utc));
        assert_eq!(Timestamp::unix_epoch().to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn only_go_zero_time_is_never() {
        assert!(PODMAN_NEVER.parse::<Timestamp>().unwrap().is_podman_never());
        assert!(!Timestamp::unix_epoch().is_podman_never());
        assert!(
            !"0001-01-01T00:00:00.5Z"
                .parse::<Timestamp>()
                .unwrap()
                .is_podman_never()
        );
    }

    #[test]
    fn text_that_is_no_rfc_3339_time_is_refused() {
        for text in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-25T10:00:00",
            "",
        ] {
            let error = text.parse::<Timestamp>().unwrap_err();
            assert!(
                error.to_string().starts_with("not an RFC 3339 time ("),
                "{text}: {error}"
            );
        }
    }
}
