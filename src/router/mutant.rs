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
    /// Retries at the market price instead of the slippage cap.
    NoSlippageCapOnRetry,
    /// Sends the intent's qty as given, off the lot grid.
    NoLotRounding,
    /// Books every trade twice.
    DoubleApplyFills,
    /// Gives up on an unknown order once no retries are left, releasing its budget.
    AbandonUnknown,
}

impl Mutant {
    pub const ALL: [Mutant; 8] = [
        Mutant::IgnoreDedup,
        Mutant::FreshIdAfterTimeout,
        Mutant::ReleaseBeforeReconcile,
        Mutant::ForgetFee,
        Mutant::NoSlippageCapOnRetry,
        Mutant::NoLotRounding,
        Mutant::DoubleApplyFills,
        Mutant::AbandonUnknown,
    ];
}
