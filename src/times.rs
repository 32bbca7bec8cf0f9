//! Instants and durations: RFC 3339 in (any offset), `2024-01-15T10:30:00Z` out, `90d` spans.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A point in time with whole-second precision, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, `1970-01-01T00:00:00Z`: the creation time of keys whose age is unknown.
    pub(crate) const EPOCH: Timestamp = Timestamp(0);

    /// The first instant jwksmith reads and writes: `0001-01-01T00:00:00Z`.
    pub(crate) const MIN: Timestamp = Timestamp(-62_135_596_800);

    /// The last instant jwksmith reads and writes: `9999-12-31T23:59:59Z` (a later one has no
    /// `YYYY-MM-DDTHH:MM:SSZ` form).
    pub(crate) const MAX: Timestamp = Timestamp(253_402_300_799);

    /// True when this instant can be written as `YYYY-MM-DDTHH:MM:SSZ` and read again: it lies
    /// between [`Timestamp::MIN`] and [`Timestamp::MAX`].
    pub(crate) fn is_writable(self) -> bool {
        (Timestamp::MIN..=Timestamp::MAX).contains(&self)
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub(crate) fn unix(self) -> i64 {
        self.0
    }

    /// The current time of the system clock, truncated to the second.
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    /// Parses any RFC 3339 time (any offset, any fraction); fractions are truncated.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map_err(|e| format!("`{text}` is not an RFC 3339 time ({e}); write it like 2024-01-15T10:30:00Z"))?;
        // Only instants that can be written back as `YYYY-MM-DDTHH:MM:SSZ`.
        // 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z
        if !Timestamp(t.unix_timestamp()).is_writable() {
            return Err(format!("`{text}` is out of range: use a time between years 0001 and 9999 (UTC)"));
        }
        Ok(Timestamp(t.unix_timestamp()))
    }

    /// This instant plus a span (saturating).
    pub(crate) fn plus(self, span: Span) -> Self {
        Timestamp(self.0.saturating_add(span.0))
    }

    /// This instant minus a span (saturating).
    pub(crate) fn minus(self, span: Span) -> Self {
        Timestamp(self.0.saturating_sub(span.0))
    }
}

impl fmt::Display for Timestamp {
    /// Writes `2024-01-15T10:30:00Z`: UTC, `Z` suffix, whole seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        match OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => {
                let text = t.to_offset(UtcOffset::UTC).format(&format).map_err(|_| fmt::Error)?;
                f.write_str(&text)
            }
            Err(_) => write!(f, "@{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A length of time in whole seconds, written in keyset.toml as `90d`, `12h`, `30m`, `1h 30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

impl Span {
    /// The longest span accepted in keyset.toml: 100 years.
    pub(crate) const MAX: Span = Span(100 * 366 * 86_400);

    /// A span of `secs` seconds.
    pub(crate) fn from_secs(secs: i64) -> Self {
        Span(secs)
    }

    /// Length in seconds.
    pub(crate) fn secs(self) -> i64 {
        self.0
    }

    /// Parses `90d`, `14d`, `12h`, `30m`, `45s`, `2w` or combinations such as `1d 12h`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = humantime::parse_duration(text.trim())
            .map_err(|e| format!("`{text}` is not a duration ({e}); write it like 90d, 12h or 30m"))?;
        let secs = i64::try_from(parsed.as_secs()).map_err(|_| format!("`{text}` is too long"))?;
        if secs > Span::MAX.0 {
            return Err(format!("`{text}` is too long: at most 100 years"));
        }
        Ok(Span(secs))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        let mut first = true;
        for (size, unit) in units {
            if rest >= size {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_utc_whole_seconds_with_z() {
        let t = Timestamp::parse("2024-01-15T12:30:00.987+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-01-15T10:30:00Z");
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_non_rfc3339() {
        assert!(Timestamp::parse("2024-01-15").is_err());
        assert!(Timestamp::parse("0000-01-01T00:00:00+01:00").is_err());
        assert!(Timestamp::parse("9999-12-31T23:59:59-01:00").is_err());
        assert!(Timestamp::parse("9999-12-31T23:59:59Z").is_ok());
        assert!(Timestamp::parse("yesterday").is_err());
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59Z").unwrap(), Timestamp::MAX);
        assert_eq!(Timestamp::parse("0001-01-01T00:00:00Z").unwrap(), Timestamp::MIN);
        assert!(!Timestamp::MAX.plus(Span::from_secs(1)).is_writable());
        assert!(!Timestamp::MIN.minus(Span::from_secs(1)).is_writable());
    }

    #[test]
    fn spans_parse_days_hours_minutes() {
        assert_eq!(Span::parse("90d").unwrap().secs(), 90 * 86_400);
        assert_eq!(Span::parse("1h").unwrap().secs(), 3_600);
        assert_eq!(Span::parse("30m").unwrap().secs(), 1_800);
        assert_eq!(Span::parse("1d 12h").unwrap().to_string(), "1d 12h");
        assert!(Span::parse("ninety days").is_err());
        assert!(Span::parse("11248014679091191s").unwrap_err().contains("too long"));
    }
}
