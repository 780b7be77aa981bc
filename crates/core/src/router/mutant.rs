//! Deliberately broken routers, compiled only with the `mutants` feature (the crate's own tests
//! turn it on). Each is one plausible bug; the tests show the checks catch every one.

/// One deliberate bug.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
    /// Settings validation takes a `max_retries` one past its bound.
    LooseSettings,
    /// After a restart, new intents go in at once, while orders it left may still be out.
    AdmitDuringDoubt,
    /// An order query that timed out is asked again the moment it times out, with no backoff.
    QueryAtTimeout,
    /// Books an order's trades only once two answers agree: the first complete one is asked
    /// again.
    TradesAskedTwice,
    /// Logs the plain mean of the trade prices as the average price, not the
    /// quantity-weighted one.
    AvgPriceUnweighted,
    /// Takes an order the venue reports `REJECTED` for a cancelled one.
    RejectedAsCanceled,
    /// The snapshot leaves out the fills of an open intent's earlier orders.
    SnapshotForgetsFills,
    /// Recovery cuts a journal at any damaged line, as if it were the torn last one.
    CutDamagedMiddle,
    /// Lets an error answer to a trade query pass silently: the next query goes out when the
    /// request would have timed out, with nothing in the log.
    IgnoreTradeErrors,
    /// Ignores the venue's `Retry-After`: requests go on during a rate-limit hold.
    IgnoreRateLimitHold,
    /// Spends an attempt on every placement that waits out a rate-limit hold (logged as a
    /// `rate_limited` ERROR that no venue answer gave), as a client that refuses locally does.
    HoldSpendsRetry,
    /// Recovery verifies the checksum of the last journal line only: a line before it that was
    /// damaged after it was written is read as data when it still parses.
    ChecksumOnLastLineOnly,
    /// Books every fee against the quote asset, whatever asset the venue charged it in.
    FeeInQuoteAlways,
    /// Books a buy's whole quantity as its position, as if no fee came out of the base.
    BuyPositionIgnoresFee,
    /// A resting order's timeout compared strictly (`>` for `>=`): the cancel goes out one
    /// poll after the order timeout instead of at it.
    LateCancel,
    /// Repeated queries (an unknown order, trades) back off one doubling ahead of the rule.
    BackoffOffByOne,
    /// A resting order's poll fires 1 ms after `poll_interval_ms`.
    LatePoll,
    /// After a "not found" inside the receive window, asks again 2 ms after the window closes
    /// instead of 1 ms.
    LateRequery,
}

impl Mutant {
    pub const ALL: [Mutant; 44] = [
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
        Mutant::LooseSettings,
        Mutant::AdmitDuringDoubt,
        Mutant::QueryAtTimeout,
        Mutant::TradesAskedTwice,
        Mutant::AvgPriceUnweighted,
        Mutant::RejectedAsCanceled,
        Mutant::SnapshotForgetsFills,
        Mutant::CutDamagedMiddle,
        Mutant::IgnoreTradeErrors,
        Mutant::IgnoreRateLimitHold,
        Mutant::HoldSpendsRetry,
        Mutant::ChecksumOnLastLineOnly,
        Mutant::FeeInQuoteAlways,
        Mutant::BuyPositionIgnoresFee,
        Mutant::LateCancel,
        Mutant::BackoffOffByOne,
        Mutant::LatePoll,
        Mutant::LateRequery,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether this build has the deliberate bugs (the `mutants` feature).
    pub const AVAILABLE: bool = cfg!(feature = "mutants");

    pub fn parse(s: &str) -> Option<Mutant> {
        s.parse().ok()
    }
}

// The deliberate bugs' own code, kept here so that the router's files hold only the router. The
// router calls these where a bug hooks in; `cargo mutants` leaves this file alone (it is not
// product code), so a mutation score counts the router and nothing else.

use rust_decimal::Decimal;

use super::{RouterConfig, State};
use crate::model::{floor_to, Side};

impl RouterConfig {
    /// Whether the deliberate bug `m` is switched on; always false without the feature.
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub fn has(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
    #[cfg(not(feature = "mutants"))]
    #[inline(always)]
    #[doc(hidden)]
    pub fn has(&self, _: Mutant) -> bool {
        false
    }

    /// Switches on the deliberate bug `m`: `false`, and nothing changed, in a build without
    /// them (see [`Mutant::AVAILABLE`]).
    pub fn set_mutant(&mut self, m: Mutant) -> bool {
        #[cfg(feature = "mutants")]
        {
            self.mutant = Some(m);
            true
        }
        #[cfg(not(feature = "mutants"))]
        {
            let _ = m;
            false
        }
    }
}

/// `RefuseExactBudget`: a reservation that exactly fits is refused.
pub(crate) fn refuses_exact_fit(cfg: &RouterConfig, available: Decimal, amount: Decimal) -> bool {
    cfg.has(Mutant::RefuseExactBudget) && available == amount
}

/// `RefuseBeyondCap`: the intent is refused when the last market price is past its cap.
pub(crate) fn refuses_beyond_cap(
    cfg: &RouterConfig,
    side: Side,
    market: Option<Decimal>,
    cap: Decimal,
) -> bool {
    cfg.has(Mutant::RefuseBeyondCap)
        && market.is_some_and(|m| match side {
            Side::Buy => m > cap,
            Side::Sell => m < cap,
        })
}

/// The limit price a deliberate bug sends instead of the cap, if one is on.
pub(crate) fn limit_price(
    cfg: &RouterConfig,
    side: Side,
    attempt: u32,
    cap: Decimal,
    tick: Decimal,
    market: impl FnOnce() -> Option<Decimal>,
    buy_factor: Decimal,
) -> Decimal {
    let mut limit = cap;
    if cfg.has(Mutant::LimitInsideCap) {
        limit = match side {
            Side::Buy => cap - tick,
            Side::Sell => cap + tick,
        };
    }
    if cfg.has(Mutant::NoSlippageCapOnRetry) && attempt > 1 {
        // Re-anchors the cap on the market that ran away, not on the intent's price.
        if let Some(p) = market() {
            limit = floor_to(p * buy_factor, tick).unwrap_or(cap);
        }
    }
    limit
}

/// `FreshIdAfterTimeout` and `AbandonUnknown`: an order whose outcome is unknown is given up.
pub(crate) fn abandons_unknown(cfg: &RouterConfig, attempt: u32) -> bool {
    cfg.has(Mutant::FreshIdAfterTimeout)
        || (cfg.has(Mutant::AbandonUnknown) && attempt > cfg.max_retries)
}

/// `PartialAsFilled`: a final order that filled in part is taken for a filled one.
pub(crate) fn partial_as_filled(cfg: &RouterConfig, is_final: bool, state: State) -> bool {
    cfg.has(Mutant::PartialAsFilled) && is_final && state != State::Partial
}

/// `StopRetryingEarly`: whether retries remain, one short.
pub(crate) fn retries_left_early(attempt: u32, max_retries: u32) -> bool {
    attempt < max_retries
}

/// `BookWholeAnswer`: what was booked is taken as the order's fill once it reaches it.
pub(crate) fn whole_answer_sum(sum: Decimal, filled: Decimal) -> Decimal {
    if sum >= filled {
        filled
    } else {
        sum
    }
}

/// `ReleaseBeforeReconcile`: what is reserved again once the trades are known.
pub(crate) fn reserve_again(side: Side, trades: &[crate::exchange::Trade]) -> Decimal {
    match side {
        Side::Buy => trades.iter().map(|t| t.qty * t.price + t.fee).sum(),
        Side::Sell => trades.iter().map(|t| t.qty).sum(),
    }
}

/// `FeeInQuoteAlways` and `BuyPositionIgnoresFee`: the trades as the broken router books them
/// (what it logs of them is still the venue's).
pub(crate) fn misread_fees(
    cfg: &RouterConfig,
    symbol: &crate::model::Symbol,
    trades: &[crate::exchange::Trade],
) -> Vec<crate::exchange::Trade> {
    let mut trades = trades.to_vec();
    for t in &mut trades {
        if cfg.has(Mutant::FeeInQuoteAlways) {
            t.fee_asset = symbol.quote().clone();
        }
        if cfg.has(Mutant::BuyPositionIgnoresFee)
            && t.side == Side::Buy
            && &t.fee_asset == symbol.base()
        {
            t.fee = Decimal::ZERO;
        }
    }
    trades
}

/// `RetryAfterFailedFinal`: a redelivery of an intent in `state` runs again.
pub(crate) fn redoes(cfg: &RouterConfig, state: State) -> bool {
    cfg.has(Mutant::RetryAfterFailedFinal) && state == State::FailedFinal
}

/// `ReadTornTail`: the last journal line is read even when its checksum fails.
pub(crate) fn reads_torn_tail(cfg: &RouterConfig, last: bool) -> bool {
    last && cfg.has(Mutant::ReadTornTail)
}

/// `RejectedAsCanceled`: the status the router acts on.
pub(crate) fn status_seen(
    cfg: &RouterConfig,
    status: crate::exchange::OrderStatus,
) -> crate::exchange::OrderStatus {
    use crate::exchange::OrderStatus;
    if cfg.has(Mutant::RejectedAsCanceled) && status == OrderStatus::Rejected {
        OrderStatus::Canceled
    } else {
        status
    }
}

/// `AvgPriceUnweighted`: the mean of the trades' prices.
pub(crate) fn unweighted_avg(trades: &[crate::exchange::Trade]) -> Decimal {
    let sum: Decimal = trades.iter().map(|t| t.price).sum();
    sum.checked_div(Decimal::from(trades.len()))
        .unwrap_or_default()
}

/// `LateCancel`: whether a resting order sent at `sent` has outlived its timeout at `now`.
pub(crate) fn expired(cfg: &RouterConfig, now: u64, sent: u64) -> bool {
    let deadline = sent.saturating_add(cfg.order_timeout_ms);
    if cfg.has(Mutant::LateCancel) {
        now > deadline
    } else {
        now >= deadline
    }
}

/// `BackoffOffByOne`: the first wait of a series of queries, one doubling ahead.
pub(crate) fn first_query_backoff(cfg: &RouterConfig) -> u64 {
    if cfg.has(Mutant::BackoffOffByOne) {
        cfg.backoff_ms.saturating_mul(2)
    } else {
        cfg.backoff_ms
    }
}

/// `LatePoll`: the poll interval a resting order is polled at.
pub(crate) fn poll_interval(cfg: &RouterConfig) -> u64 {
    if cfg.has(Mutant::LatePoll) {
        cfg.poll_interval_ms.saturating_add(1)
    } else {
        cfg.poll_interval_ms
    }
}

/// `LateRequery`: how long after the receive window closes an order is asked about again.
pub(crate) fn after_window(cfg: &RouterConfig) -> u64 {
    if cfg.has(Mutant::LateRequery) {
        2
    } else {
        1
    }
}

/// The highest `max_retries` validation takes; one more with `LooseSettings`.
pub(crate) fn max_retries_bound(cfg: &RouterConfig) -> u32 {
    let bound = super::limits::MAX_RETRIES;
    if cfg.has(Mutant::LooseSettings) {
        bound + 1
    } else {
        bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutant_names_stay_what_commands_and_tests_type() {
        use strum::VariantArray;
        assert_eq!(Mutant::ALL.as_slice(), Mutant::VARIANTS);
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "ignore-dedup",
                "fresh-id-after-timeout",
                "release-before-reconcile",
                "forget-fee",
                "no-slippage-cap-on-retry",
                "no-lot-rounding",
                "double-apply-fills",
                "abandon-unknown",
                "leak-reservation",
                "anonymous-order",
                "unknown-as-not-placed",
                "retry-after-failed-final",
                "release-twice",
                "stop-retrying-early",
                "linear-backoff",
                "limit-inside-cap",
                "partial-as-filled",
                "book-whole-answer",
                "refuse-exact-budget",
                "refuse-beyond-cap",
                "assembler-ignores-qty",
                "send-before-durable",
                "forget-finished-on-restart",
                "replace-in-flight-on-restart",
                "release-in-flight-on-restart",
                "read-torn-tail",
                "loose-settings",
                "admit-during-doubt",
                "query-at-timeout",
                "trades-asked-twice",
                "avg-price-unweighted",
                "rejected-as-canceled",
                "snapshot-forgets-fills",
                "cut-damaged-middle",
                "ignore-trade-errors",
                "ignore-rate-limit-hold",
                "hold-spends-retry",
                "checksum-on-last-line-only",
                "fee-in-quote-always",
                "buy-position-ignores-fee",
                "late-cancel",
                "backoff-off-by-one",
                "late-poll",
                "late-requery"
            ]
        );
        for m in Mutant::ALL {
            assert_eq!(Mutant::parse(m.name()), Some(m));
        }
        assert_eq!(Mutant::parse("IgnoreDedup"), None);
    }

    #[cfg(feature = "clap")]
    #[test]
    fn the_command_line_spells_mutants_as_their_names() {
        use clap::ValueEnum;
        for m in Mutant::ALL {
            let v = m.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(v.as_deref(), Some(m.name()));
        }
    }
}
