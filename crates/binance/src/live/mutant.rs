//! Deliberate bugs of the live adapter, for tests that prove the stack fuzz mode
//! ([`crate::stack`]) catches each one. They can be switched on only in builds with the
//! `mutants` feature ([`AdapterMutant::AVAILABLE`]); in any other build the switch does nothing.

use crate::exchange::ExchangeError;

/// One deliberate bug of the adapter (client, error table or driver).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum AdapterMutant {
    /// The error table reads a 5xx or a `-1007` ("execution status unknown") as a refusal:
    /// the router retries under a new attempt an order that may have been placed.
    AdapterUnknownAsRefused,
    /// The client keeps no hold after a 429 or 418: it ignores `Retry-After` and goes on
    /// sending at once.
    AdapterIgnoresRetryAfter,
    /// On restart, a torn last journal line is cut off together with the intact line before
    /// it: what that line recorded (a placement sent, a fill booked) is forgotten, and the
    /// placement is sent again without asking the venue about it.
    RestartResendsBlind,
}

impl AdapterMutant {
    pub const ALL: [AdapterMutant; 3] = [
        AdapterMutant::AdapterUnknownAsRefused,
        AdapterMutant::AdapterIgnoresRetryAfter,
        AdapterMutant::RestartResendsBlind,
    ];

    /// Whether this build has the deliberate bugs (the `mutants` feature).
    pub const AVAILABLE: bool = cfg!(feature = "mutants");

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<AdapterMutant> {
        s.parse().ok()
    }
}

/// `AdapterUnknownAsRefused`: an answer whose outcome is unknown, read as a refusal.
pub(crate) fn unknown_as_refused(error: ExchangeError, status: u16) -> ExchangeError {
    match error {
        ExchangeError::ServerError(message) => ExchangeError::Rejected {
            code: -i32::from(status),
            message,
        },
        other => other,
    }
}

/// `RestartResendsBlind`: the journal bytes recovery reads, the intact line before a torn
/// tail dropped with it.
pub(crate) fn drop_line_before_torn_tail(bytes: &[u8]) -> &[u8] {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return bytes;
    }
    // The torn line starts after the last newline; the intact line before it after the one
    // before that.
    let Some(torn) = bytes.iter().rposition(|&b| b == b'\n') else {
        return bytes;
    };
    let start = bytes[..torn]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    &bytes[..start]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_mutant_names_stay_what_commands_and_tests_type() {
        use strum::VariantArray;
        assert_eq!(AdapterMutant::ALL.as_slice(), AdapterMutant::VARIANTS);
        let names: Vec<&str> = AdapterMutant::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "adapter-unknown-as-refused",
                "adapter-ignores-retry-after",
                "restart-resends-blind"
            ]
        );
        for m in AdapterMutant::VARIANTS {
            assert_eq!(AdapterMutant::parse(m.name()), Some(*m));
        }
    }

    #[test]
    fn the_blind_restart_drops_the_intact_line_before_a_torn_one() {
        assert_eq!(drop_line_before_torn_tail(b"a\nb\nc"), b"a\n");
        assert_eq!(drop_line_before_torn_tail(b"a\nb\n"), b"a\nb\n");
        assert_eq!(drop_line_before_torn_tail(b"b\nc"), b"");
    }
}
