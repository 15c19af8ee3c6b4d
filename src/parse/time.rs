//! Camera timestamps: unit chosen by magnitude, implausible values dropped.

/// 2000-01-01T00:00:00Z in µs.
const MIN_US: u64 = 946_684_800_000_000;
/// 2100-01-01T00:00:00Z in µs.
const MAX_US: u64 = 4_102_444_800_000_000;

/// Normalises a `currentTime` text to µs since the epoch: below 10^12 it is
/// seconds, below 10^15 milliseconds, otherwise microseconds. Values that do
/// not parse or fall outside 2000–2100 are `None`.
pub(crate) fn normalise(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    let us = if v < 1_000_000_000_000 {
        v.checked_mul(1_000_000)?
    } else if v < 1_000_000_000_000_000 {
        v.checked_mul(1_000)?
    } else {
        v
    };
    (MIN_US..MAX_US).contains(&us).then_some(us)
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn unit_follows_magnitude() {
        assert_eq!(normalise("1732045234"), Some(1_732_045_234_000_000));
        assert_eq!(normalise("1732045234584"), Some(1_732_045_234_584_000));
        assert_eq!(normalise("1732045234584193"), Some(1_732_045_234_584_193));
    }

    #[test]
    fn implausible_values_are_none() {
        assert_eq!(normalise("18445822972087551616"), None);
        assert_eq!(normalise("99999999999999999999999"), None);
        assert_eq!(normalise("0"), None);
        assert_eq!(normalise("-5"), None);
        assert_eq!(normalise("12abc"), None);
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("946684799"), None);
        assert_eq!(normalise("946684800"), Some(MIN_US_FOR_TEST));
        assert_eq!(normalise("4102444799999999"), Some(4_102_444_799_999_999));
        assert_eq!(normalise("4102444800000000"), None);
    }

    const MIN_US_FOR_TEST: u64 = super::MIN_US;
}
