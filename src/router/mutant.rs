//! Deliberately broken routers, compiled only with the `mutants` feature (the crate's own tests
//! turn it on). Each is one plausible bug; the tests show the checks catch every one.

/// One deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// Canary: ignores `intent_id` dedup, so a duplicate delivery executes again.
    IgnoreDedup,
    /// After a timeout, re-places at once under a fresh `client_order_id`.
    FreshIdAfterTimeout,
    /// Releases the reservation when the order fills, before its trades are booked.
    ReleaseBeforeReconcile,
    /// Reserves the price without the fee.
    ForgetFee,
    /// Retries with the cap re-anchored on the latest market price, not the intent's.
    NoSlippageCapOnRetry,
    /// Sends the intent's qty as given, off the lot grid.
    NoLotRounding,
    /// Books every trade twice.
    DoubleApplyFills,
    /// Gives up on an unknown order once no retries are left, releasing its budget.
    AbandonUnknown,
    /// Keeps what is left of a reservation after reconciling, instead of releasing it.
    LeakReservation,
    /// Sends orders without naming the intent they belong to.
    AnonymousOrder,
    /// Takes a server error's unknown outcome for "not placed" and retries without asking.
    UnknownAsNotPlaced,
    /// Executes a repeated delivery of an intent that ended FAILED_FINAL again.
    RetryAfterFailedFinal,
    /// Releases a failed intent's reservation twice.
    ReleaseTwice,
}

impl Mutant {
    pub const ALL: [Mutant; 13] = [
        Mutant::IgnoreDedup,
        Mutant::FreshIdAfterTimeout,
        Mutant::ReleaseBeforeReconcile,
        Mutant::ForgetFee,
        Mutant::NoSlippageCapOnRetry,
        Mutant::NoLotRounding,
        Mutant::DoubleApplyFills,
        Mutant::AbandonUnknown,
        Mutant::LeakReservation,
        Mutant::AnonymousOrder,
        Mutant::UnknownAsNotPlaced,
        Mutant::RetryAfterFailedFinal,
        Mutant::ReleaseTwice,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::IgnoreDedup => "ignore-dedup",
            Mutant::FreshIdAfterTimeout => "fresh-id-after-timeout",
            Mutant::ReleaseBeforeReconcile => "release-before-reconcile",
            Mutant::ForgetFee => "forget-fee",
            Mutant::NoSlippageCapOnRetry => "no-slippage-cap-on-retry",
            Mutant::NoLotRounding => "no-lot-rounding",
            Mutant::DoubleApplyFills => "double-apply-fills",
            Mutant::AbandonUnknown => "abandon-unknown",
            Mutant::LeakReservation => "leak-reservation",
            Mutant::AnonymousOrder => "anonymous-order",
            Mutant::UnknownAsNotPlaced => "unknown-as-not-placed",
            Mutant::RetryAfterFailedFinal => "retry-after-failed-final",
            Mutant::ReleaseTwice => "release-twice",
        }
    }

    pub fn parse(s: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == s)
    }
}
