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
    /// Stops one retry short of `max_retries` (an off-by-one in the retry condition).
    StopRetryingEarly,
    /// Backs off linearly (`backoff_ms * attempt`) instead of doubling.
    LinearBackoff,
    /// Places every attempt one tick inside the cap: safe, but it fills less than it should.
    LimitInsideCap,
    /// Takes an IOC order that filled only in part for a filled one.
    PartialAsFilled,
    /// Books a trade answer whole, without the order filter or the trade-id de-duplication.
    BookWholeAnswer,
    /// Refuses a reservation that exactly fits the available balance.
    RefuseExactBudget,
    /// Refuses an intent outright (`price`) when the market is beyond its cap at delivery.
    RefuseBeyondCap,
    /// The assembler leaves the risk quantity out of the intent id.
    AssemblerIgnoresQty,
    /// Releases commands before their audit lines are durable (no write-ahead).
    SendBeforeDurable,
    /// Recovery forgets which intents finished, so a redelivery after a restart runs again.
    ForgetFinishedOnRestart,
    /// Recovery re-places an order that may be out under a new client order id, without
    /// asking the venue about the old one.
    ReplaceInFlightOnRestart,
    /// Recovery does not hold the budget of intents in flight again.
    ReleaseInFlightOnRestart,
    /// Recovery reads a torn last journal line as data when it still parses.
    ReadTornTail,
}

impl Mutant {
    pub const ALL: [Mutant; 26] = [
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
        Mutant::StopRetryingEarly,
        Mutant::LinearBackoff,
        Mutant::LimitInsideCap,
        Mutant::PartialAsFilled,
        Mutant::BookWholeAnswer,
        Mutant::RefuseExactBudget,
        Mutant::RefuseBeyondCap,
        Mutant::AssemblerIgnoresQty,
        Mutant::SendBeforeDurable,
        Mutant::ForgetFinishedOnRestart,
        Mutant::ReplaceInFlightOnRestart,
        Mutant::ReleaseInFlightOnRestart,
        Mutant::ReadTornTail,
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
            Mutant::StopRetryingEarly => "stop-retrying-early",
            Mutant::LinearBackoff => "linear-backoff",
            Mutant::LimitInsideCap => "limit-inside-cap",
            Mutant::PartialAsFilled => "partial-as-filled",
            Mutant::BookWholeAnswer => "book-whole-answer",
            Mutant::RefuseExactBudget => "refuse-exact-budget",
            Mutant::RefuseBeyondCap => "refuse-beyond-cap",
            Mutant::AssemblerIgnoresQty => "assembler-ignores-qty",
            Mutant::SendBeforeDurable => "send-before-durable",
            Mutant::ForgetFinishedOnRestart => "forget-finished-on-restart",
            Mutant::ReplaceInFlightOnRestart => "replace-in-flight-on-restart",
            Mutant::ReleaseInFlightOnRestart => "release-in-flight-on-restart",
            Mutant::ReadTornTail => "read-torn-tail",
        }
    }

    pub fn parse(s: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == s)
    }
}
