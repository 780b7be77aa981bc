//! The model on hand-made inputs, one rule each: what it predicts is what docs/router.md says.

use rust_decimal::Decimal;

use super::intent::{IntentModel, Out, Step, Want};
use super::rules::{self, Settings};
use super::Ledger;
use crate::audit::Detail;
use crate::decision::Intent;
use crate::exchange::{ExchangeError, Order, OrderStatus, Trade};
use crate::model::{Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, Tif, TradeId};
use crate::router::{RouterConfig, State};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn cfg() -> Settings {
    Settings::from_config(&RouterConfig::default())
}

fn funded(usdt: &str) -> Ledger {
    let mut l = Ledger::default();
    l.deposit(&Asset::new("USDT").unwrap(), d(usdt));
    l.deposit(&Asset::new("BTC").unwrap(), d("1"));
    l
}

fn intent(side: Side, qty: &str, price: &str) -> Intent {
    Intent::new(
        IntentId::new("t1").unwrap(),
        0,
        Symbol::parse("BTC/USDT").unwrap(),
        side,
        d(qty),
        d(price),
    )
    .unwrap()
}

/// Runs `f` on `m` at `now` and returns what it predicts.
fn step(
    m: &mut IntentModel,
    cfg: &Settings,
    ledger: &Ledger,
    now: u64,
    f: impl FnOnce(&mut IntentModel, &mut Step<'_>),
) -> Vec<Out> {
    let mut out = Vec::new();
    let mut s = Step {
        cfg,
        now,
        hold_until: 0,
        market: None,
        ledger,
        out: &mut out,
    };
    f(m, &mut s);
    out
}

fn started(
    side: Side,
    qty: &str,
    price: &str,
    cfg: &Settings,
    ledger: &Ledger,
) -> (IntentModel, Vec<Out>) {
    let i = intent(side, qty, price);
    let mut m = IntentModel::new(&i, cfg);
    let out = step(&mut m, cfg, ledger, 1_000, |m, s| m.start(&i, s));
    (m, out)
}

fn states(out: &[Out]) -> Vec<State> {
    out.iter()
        .filter_map(|o| match o {
            Out::Line(s, d) if d.event().is_none() => Some(*s),
            _ => None,
        })
        .collect()
}

fn order(coid: &str, amount: &str, filled: &str, status: OrderStatus) -> Order {
    Order {
        order_id: OrderId::new("7").unwrap(),
        client_order_id: ClientOrderId::new(coid).unwrap(),
        symbol: Symbol::parse("BTC/USDT").unwrap(),
        side: Side::Buy,
        price: d("50100"),
        amount: d(amount),
        filled: d(filled),
        remaining: d(amount) - d(filled),
        average: Some(d("50000")),
        status,
        fee: Decimal::ZERO,
        fee_asset: Asset::new("USDT").unwrap(),
    }
}

#[test]
// rule: model_agrees
fn a_buy_reserves_qty_at_the_cap_plus_fee_and_a_sell_its_base() {
    let c = cfg();
    let l = funded("1000");
    let (_, out) = started(Side::Buy, "0.001", "50000", &c, &l);
    let reserved = out.iter().find_map(|o| match o {
        Out::Line(
            State::Reserved,
            Detail::Reserved {
                amount,
                reserved_price,
                ..
            },
        ) => Some((*amount, *reserved_price)),
        _ => None,
    });
    // 0.001 * 50100 * (1 + 0.001) = 50.1501, the example of docs/audit-log.md.
    assert_eq!(reserved, Some((d("50.1501"), d("50100"))));
    let (_, out) = started(Side::Sell, "0.001", "50000", &c, &l);
    assert!(out.iter().any(|o| matches!(o,
        Out::Line(State::Reserved, Detail::Reserved { amount, asset, .. })
            if *amount == d("0.001") && asset.as_str() == "BTC")));
    // One unit short of the need: refused before any order.
    let (_, out) = started(Side::Buy, "0.001", "50000", &c, &funded("50.1500"));
    assert_eq!(states(&out), [State::New, State::Failed]);
}

#[test]
// rule: model_agrees
fn the_cap_rounds_down_for_a_buy_and_up_for_a_sell_off_the_tick() {
    let tick = d("0.01");
    let bps = d("20");
    assert_eq!(
        rules::cap(Side::Buy, d("100.004"), bps, tick),
        Some(d("100.20"))
    );
    assert_eq!(
        rules::cap(Side::Sell, d("100.004"), bps, tick),
        Some(d("99.81"))
    );
    // On the tick already: no rounding either way.
    assert_eq!(rules::cap(Side::Buy, d("100"), bps, tick), Some(d("100.2")));
    assert_eq!(rules::cap(Side::Sell, d("100"), bps, tick), Some(d("99.8")));
}

#[test]
// rule: model_agrees
fn the_quantity_rounds_down_to_the_lot_and_below_one_lot_is_refused() {
    let c = cfg();
    let l = funded("1000");
    let (_, out) = started(Side::Buy, "0.0012349", "50000", &c, &l);
    assert!(out.iter().any(|o| matches!(o,
        Out::Line(State::Reserved, Detail::Reserved { reserved_qty, .. }) if *reserved_qty == d("0.00123"))));
    let (_, out) = started(Side::Buy, "0.000009", "50000", &c, &l);
    assert!(out.iter().any(|o| matches!(
        o,
        Out::Line(
            State::Failed,
            Detail::Failed {
                detail: "lot_size",
                ..
            }
        )
    )));
    // 0.0001 at 50100 is 5.01: at least the minimum of 5; 0.00009 is 4.509: refused.
    let (_, out) = started(Side::Buy, "0.00009", "50000", &c, &l);
    assert!(out.iter().any(|o| matches!(
        o,
        Out::Line(
            State::Failed,
            Detail::Failed {
                detail: "min_notional",
                ..
            }
        )
    )));
}

#[test]
// rule: model_agrees
fn retries_back_off_doubling_up_to_the_cap() {
    let mut c = cfg();
    c.backoff_ms = 400;
    c.backoff_max_ms = 1_000;
    let waits: Vec<u64> = (1..=4).map(|k| c.backoff_before_next(k)).collect();
    assert_eq!(waits, [400, 800, 1_000, 1_000]);
    // A rejected first attempt: RETRY attempt 2 after 400 ms, the timer at that time.
    let l = funded("1000");
    let (mut m, _) = started(Side::Buy, "0.001", "50000", &c, &l);
    let rejected = Err(ExchangeError::Rejected {
        code: -2010,
        message: "no".into(),
    });
    let out = step(&mut m, &c, &l, 1_050, |m, s| m.on_order_reply(s, &rejected));
    assert_eq!(states(&out), [State::Error, State::Retry]);
    assert!(out.iter().any(|o| matches!(
        o,
        Out::Line(
            _,
            Detail::Retry {
                attempt: 2,
                backoff_ms: 400,
                ..
            }
        )
    )));
    assert_eq!(m.timer, Some(1_450));
}

#[test]
// rule: model_agrees
fn a_resting_order_is_polled_then_cancelled_at_its_timeout() {
    let mut c = cfg();
    c.tif = Tif::Gtc;
    c.poll_interval_ms = 1_000;
    c.order_timeout_ms = 2_500;
    let l = funded("1000");
    let (mut m, _) = started(Side::Buy, "0.001", "50000", &c, &l);
    let coid = rules::client_order_id("t1", 1);
    let open = Ok(order(&coid, "0.001", "0", OrderStatus::Open));
    step(&mut m, &c, &l, 1_020, |m, s| m.on_order_reply(s, &open));
    assert_eq!(m.timer, Some(2_020), "polled every poll_interval_ms");
    let out = step(&mut m, &c, &l, 2_020, |m, s| m.on_timer(s));
    assert!(matches!(out.last(), Some(Out::Cmd(Want::Query { .. }, _))));
    step(&mut m, &c, &l, 2_040, |m, s| {
        m.awaiting = None;
        m.on_order_reply(s, &open)
    });
    assert_eq!(m.timer, Some(3_040));
    step(&mut m, &c, &l, 3_040, |m, s| m.on_timer(s));
    step(&mut m, &c, &l, 3_060, |m, s| {
        m.awaiting = None;
        m.on_order_reply(s, &open)
    });
    // The next poll would be at 4060, past the deadline 1000 + 2500: the timer stops there.
    assert_eq!(m.timer, Some(3_500));
    let out = step(&mut m, &c, &l, 3_500, |m, s| m.on_timer(s));
    assert!(
        matches!(out.last(), Some(Out::Cmd(Want::Query { .. }, _))),
        "a poll first"
    );
    step(&mut m, &c, &l, 3_520, |m, s| {
        m.awaiting = None;
        m.on_order_reply(s, &open)
    });
    let out = step(&mut m, &c, &l, 3_520, |m, s| m.on_timer(s));
    assert!(out
        .iter()
        .any(|o| matches!(o, Out::Line(_, Detail::CancelRequested { .. }))));
    assert!(matches!(out.last(), Some(Out::Cmd(Want::Cancel { .. }, _))));
}

#[test]
// rule: model_agrees
fn not_found_is_final_only_when_asked_after_the_receive_window() {
    let c = cfg();
    let l = funded("1000");
    let (mut m, _) = started(Side::Buy, "0.001", "50000", &c, &l);
    // No reply: UNKNOWN at the request timeout, a query at once.
    let out = step(&mut m, &c, &l, 3_000, |m, s| m.on_timer(s));
    assert_eq!(states(&out), [State::Unknown]);
    let out = step(&mut m, &c, &l, 3_000, |m, s| m.on_timer(s));
    assert!(matches!(out.last(), Some(Out::Cmd(Want::Query { .. }, _))));
    // Asked at 3000, inside the window (sent 1000 + 5000): asked again at 6001.
    let nf = Err(ExchangeError::NotFound);
    let out = step(&mut m, &c, &l, 3_100, |m, s| {
        m.awaiting = None;
        m.on_order_reply(s, &nf)
    });
    assert!(out.iter().any(|o| matches!(
        o,
        Out::Line(
            State::Unknown,
            Detail::QueryPending {
                next_ms: 6_001,
                cause: "not_found_within_recv_window",
                ..
            }
        )
    )));
    step(&mut m, &c, &l, 6_001, |m, s| m.on_timer(s));
    let out = step(&mut m, &c, &l, 6_050, |m, s| {
        m.awaiting = None;
        m.on_order_reply(s, &nf)
    });
    assert_eq!(
        states(&out),
        [State::Retry],
        "never placed: the attempt ends"
    );
}

#[test]
// rule: model_agrees
fn a_partial_fill_with_no_retries_left_releases_the_unfilled_share() {
    let mut c = cfg();
    c.max_retries = 0;
    let l = funded("1000");
    let (mut m, _) = started(Side::Buy, "0.002", "50000", &c, &l);
    let coid = rules::client_order_id("t1", 1);
    let expired = Ok(order(&coid, "0.002", "0.0005", OrderStatus::Expired));
    let out = step(&mut m, &c, &l, 1_050, |m, s| m.on_order_reply(s, &expired));
    assert_eq!(states(&out), [State::Partial, State::PartialSuccess]);
    // 0.0015 unfilled at the cap 50100 with the fee: 75.22515 of 100.3002 released.
    assert!(out.iter().any(|o| matches!(o,
        Out::Line(State::PartialSuccess, Detail::PartialSuccess { filled_qty, released })
            if *filled_qty == d("0.0005") && *released == d("75.22515"))));
    // Reconciled from the trades: the rest of the reservation released.
    step(&mut m, &c, &l, 1_050, |m, s| m.on_timer(s));
    let trade = Trade {
        trade_id: TradeId::numbered(1),
        order_id: OrderId::new("7").unwrap(),
        symbol: Symbol::parse("BTC/USDT").unwrap(),
        side: Side::Buy,
        price: d("50000"),
        qty: d("0.0005"),
        fee: d("0.025"),
        fee_asset: Asset::new("USDT").unwrap(),
        t_ms: 1_040,
    };
    let out = step(&mut m, &c, &l, 1_100, |m, s| {
        m.awaiting = None;
        m.on_trades(s, &[trade.clone(), trade.clone()])
    });
    // What is left once 0.0005 at 50000 and its fee are paid: 0.05005.
    let want_released = d("0.05005");
    assert!(
        out.iter().any(|o| matches!(o,
        Out::Line(State::Reconciled, Detail::Reconciled { fills_count: 1, released, fee, .. })
            if *released == want_released && *fee == d("0.025"))),
        "{out:?}"
    );
}

/// The first failing seed of `0..200` with deliberate bug `m`, and whether the model disagreed
/// with the router by then (as `model_agrees`, or in the same step as the check that fired).
fn first_failure(m: crate::router::Mutant) -> Option<(u64, &'static str, bool)> {
    use crate::fuzz::{run_seed, FuzzOptions};
    use crate::gen::FaultMix;
    let opts = FuzzOptions {
        start: 0,
        end: 200,
        shard_index: 0,
        shard_count: 1,
        intents: 8,
        mix: FaultMix::Swarm,
        check_determinism: false,
        mutant: Some(m),
        model: true,
    };
    (0..200).find_map(|seed| {
        let r = run_seed(seed, &opts).report;
        r.violation.map(|v| (seed, v.invariant, r.model_diverged))
    })
}

#[test]
// rule: model_agrees
fn the_timing_bugs_only_the_model_sees_are_caught_as_model_agrees() {
    use crate::router::Mutant;
    for m in [
        Mutant::LateCancel,
        Mutant::BackoffOffByOne,
        Mutant::LatePoll,
        Mutant::LateRequery,
    ] {
        let found = first_failure(m);
        assert!(
            matches!(found, Some((_, "model_agrees", true))),
            "{}: {found:?}",
            m.name()
        );
    }
}

#[test]
#[ignore = "runs every deliberate bug; prints how many the model sees"]
fn how_many_deliberate_bugs_the_model_sees() {
    let mut seen = Vec::new();
    for m in crate::router::Mutant::ALL {
        let found = first_failure(m);
        println!("{:32} {found:?}", m.name());
        if found.is_some_and(|f| f.2) {
            seen.push(m.name());
        }
    }
    println!(
        "the model disagrees on {} of {}",
        seen.len(),
        crate::router::Mutant::ALL.len()
    );
}
