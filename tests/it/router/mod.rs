//! The FSM against the in-memory venue: every edge of the table, every refusal, and the
//! behaviour rules of the router (rounding, backoff, partial fills, unknown outcomes, GTC).

mod edges;
mod output;

use std::collections::BTreeSet;

use order_router::driver::{write_ahead, Discard};
use order_router::exchange::memory::Fault;
use order_router::model::Tif;
use order_router::router::{is_legal, Input, RouterConfig, State};
use rust_decimal::Decimal;

use crate::world::*;

fn cfg(f: impl FnOnce(&mut RouterConfig)) -> RouterConfig {
    let mut c = RouterConfig::default();
    f(&mut c);
    c
}

fn gtc() -> RouterConfig {
    cfg(|c| c.tif = Tif::Gtc)
}

#[test]
// rule: min_notional
fn below_min_notional_is_refused_before_any_order() {
    let mut w = World::default_at("50000");
    // 0.00009 * 50100 = 4.509 < 5
    w.run_at0(vec![buy("small", "0.00009", "50000")]);
    assert_eq!(w.path("small"), [State::New, State::Failed]);
    let l = w.lines_of("small");
    assert_eq!(l[1]["reason"], "reserve_failed");
    assert_eq!(l[1]["detail"], "min_notional");
    assert!(w.venue.orders().is_empty());
    assert_eq!(w.venue.requests(), 0);
    w.assert_clean();
}

#[test]
// rule: min_notional
fn venue_min_notional_is_honoured_too() {
    let mut c = RouterConfig::default();
    c.default_rules.min_notional = d("10");
    let mut w = World::new(c, "10000", "1", "50000");
    // 0.00015 * 50100 = 7.5: above the router's 5, below the venue's 10.
    w.run_at0(vec![buy("mid", "0.00015", "50000")]);
    assert_eq!(w.lines_of("mid")[1]["detail"], "min_notional");
    assert_eq!(w.venue.requests(), 0);
}

#[test]
// rule: min_notional, input_guards
fn a_grid_overflow_is_reported_as_overflow_not_min_notional() {
    let mut c = RouterConfig::default();
    // A lot and a tick of 28 places: 0.001 at the cap 50100 is 10^25 lots times 5.01 * 10^32
    // ticks, beyond the 128-bit integers the router counts a notional in.
    c.default_rules.step_size = Decimal::new(1, 28);
    c.default_rules.tick_size = Decimal::new(1, 28);
    let mut w = World::new(c, "10000", "1", "50000");
    w.run_at0(vec![buy("fine", "0.001", "50000")]);
    assert_eq!(w.path("fine"), [State::New, State::Failed]);
    assert_eq!(w.lines_of("fine")[1]["detail"], "overflow");
    assert_eq!(w.venue.requests(), 0);
}

#[test]
// rule: reservation_non_negative
fn budget_that_does_not_cover_price_and_fee_is_refused() {
    // 0.001 at the cap 50100 is 50.1, plus 0.1% fee 50.1501: 50.15 is not enough.
    let mut w = World::new(RouterConfig::default(), "50.15", "0", "50000");
    w.run_at0(vec![buy("poor", "0.001", "50000")]);
    assert_eq!(w.path("poor"), [State::New, State::Failed]);
    assert_eq!(w.lines_of("poor")[1]["detail"], "insufficient_balance");
    let mut w = World::new(RouterConfig::default(), "50.1501", "0", "50000");
    w.run_at0(vec![buy("exact", "0.001", "50000")]);
    assert_eq!(w.state("exact"), Some(State::Reconciled));
    w.assert_clean();
}

#[test]
// rule: reservation_non_negative
fn sell_without_position_is_refused() {
    let mut w = World::new(RouterConfig::default(), "10000", "0", "50000");
    w.run_at0(vec![sell("naked", "0.001", "50000")]);
    assert_eq!(w.path("naked"), [State::New, State::Failed]);
    assert_eq!(w.lines_of("naked")[1]["detail"], "insufficient_balance");
    assert!(w.venue.orders().is_empty());
}

#[test]
// rule: min_notional
fn qty_below_one_lot_is_refused() {
    let mut w = World::default_at("50000");
    w.run_at0(vec![buy("dust", "0.000009", "50000")]);
    assert_eq!(w.lines_of("dust")[1]["detail"], "lot_size");
}

#[test]
// rule: reservation_non_negative
fn two_simultaneous_intents_cannot_overbook_the_budget() {
    let mut w = World::new(RouterConfig::default(), "80", "0", "50000");
    w.run_at0(vec![
        buy("first", "0.001", "50000"),
        buy("second", "0.001", "50000"),
    ]);
    assert_eq!(w.state("first"), Some(State::Reconciled));
    assert_eq!(w.state("second"), Some(State::Failed));
    w.assert_clean();
}

#[test]
// rule: min_notional, slippage_cap, limit_at_cap
fn qty_rounds_down_to_the_lot_and_buy_limit_down_to_the_tick() {
    let mut w = World::default_at("12000");
    w.run_at0(vec![buy("r", "0.0012345", "12345.67")]);
    let sent = &w.lines_of("r")[2];
    assert_eq!(sent["state"], "SENT");
    // 12345.67 * 1.002 = 12370.36134 -> 12370.36 (down); 0.0012345 -> 0.00123 (down)
    assert_eq!(sent["limit_price"].to_string(), "12370.36");
    assert_eq!(sent["qty"].to_string(), "0.00123");
    w.assert_clean();
}

#[test]
// rule: slippage_cap, limit_at_cap
fn sell_limit_rounds_up_to_the_tick_so_it_never_undercuts_the_cap() {
    let mut w = World::default_at("12400");
    w.run_at0(vec![sell("s", "0.0012345", "12345.67")]);
    let sent = &w.lines_of("s")[2];
    // 12345.67 * 0.998 = 12320.97866 -> 12320.98 (up)
    assert_eq!(sent["limit_price"].to_string(), "12320.98");
    assert_eq!(w.lines_of("s")[1]["asset"], "BTC");
    w.assert_clean();
}

#[test]
// rule: retry_policy
fn retries_back_off_exponentially_and_stop_after_max_retries() {
    let mut w = World::default_at("60000");
    w.run_at0(vec![buy("b", "0.001", "50000")]);
    let lines = w.lines_of("b");
    let sent: Vec<u64> = lines
        .iter()
        .filter(|l| l["state"] == "SENT")
        .map(|l| l["t_ms"].as_u64().unwrap())
        .collect();
    let backoff: Vec<u64> = lines
        .iter()
        .filter(|l| l["state"] == "RETRY")
        .map(|l| l["backoff_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(backoff, [400, 800, 1600]);
    assert_eq!(sent, [0, 400, 1200, 2800]);
    assert_eq!(w.state("b"), Some(State::FailedFinal));
    assert_eq!(w.venue.orders().len(), 4, "1 + max_retries attempts");
    w.assert_clean();
}

#[test]
// rule: retry_policy
fn backoff_is_capped() {
    let mut w = World::new(
        cfg(|c| {
            c.max_retries = 5;
            c.backoff_max_ms = 1000;
        }),
        "10000",
        "1",
        "60000",
    );
    w.run_at0(vec![buy("b", "0.001", "50000")]);
    let backoff: Vec<u64> = w
        .lines_of("b")
        .iter()
        .filter(|l| l["state"] == "RETRY")
        .map(|l| l["backoff_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(backoff, [400, 800, 1000, 1000, 1000]);
}

#[test]
// rule: retry_policy, no_duplicate_orders
fn partial_fill_retries_the_rest_under_a_new_client_order_id() {
    let mut w = World::default_at("50000");
    w.fault(Fault::Partial(d("0.3")));
    w.run_at0(vec![buy("p", "0.01", "50000")]);
    let sent: Vec<_> = w
        .lines_of("p")
        .into_iter()
        .filter(|l| l["state"] == "SENT")
        .collect();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0]["client_order_id"], sent[1]["client_order_id"]);
    assert_eq!(sent[1]["qty"].to_string(), "0.007");
    assert_eq!(w.state("p"), Some(State::Reconciled));
    let rec = w.lines_of("p").pop().unwrap();
    assert_eq!(rec["fills_count"], 2);
    assert_eq!(rec["filled_qty"].to_string(), "0.01");
    w.assert_clean();
}

#[test]
// rule: reconciled
fn partial_success_releases_the_unfilled_part_and_reconciles_the_rest() {
    let mut w = World::new(cfg(|c| c.max_retries = 1), "10000", "1", "50000");
    w.fault(Fault::Partial(d("0.5"))).fault(Fault::Reject);
    w.run_at0(vec![buy("ps", "0.002", "50000")]);
    assert_eq!(
        w.path("ps"),
        [
            State::New,
            State::Reserved,
            State::Sent,
            State::Partial,
            State::Retry,
            State::Sent,
            State::Error,
            State::PartialSuccess,
            State::Reconciled
        ]
    );
    let l = w.lines_of("ps");
    let ps = &l[l.len() - 2];
    assert_eq!(ps["filled_qty"].to_string(), "0.001");
    // The unfilled 0.001 at the cap 50100 plus fee: 50.1501.
    assert_eq!(ps["released"].to_string(), "50.1501");
    w.assert_clean();
}

#[test]
// rule: retry_policy, min_notional
fn remainder_below_min_notional_ends_in_partial_success_without_another_order() {
    let mut w = World::default_at("50000");
    // 0.0002 at 50100 = 10.02; 60% fills, the 0.00008 left is worth 4.008 < 5.
    w.fault(Fault::Partial(d("0.6")));
    w.run_at0(vec![buy("rem", "0.0002", "50000")]);
    assert_eq!(w.venue.orders().len(), 1);
    assert_eq!(w.path("rem").last(), Some(&State::Reconciled));
    assert!(w.path("rem").contains(&State::PartialSuccess));
    w.assert_clean();
}

#[test]
// rule: no_duplicate_orders
fn duplicate_deliveries_create_no_orders_even_after_the_end() {
    let mut w = World::default_at("50000");
    w.run(vec![
        (0, buy("dup", "0.001", "50000")),
        (0, buy("dup", "0.001", "50000")),
        (5, buy("dup", "0.001", "50000")),
        (60_000, buy("dup", "0.001", "50000")),
    ]);
    assert_eq!(w.orders_of("dup").len(), 1);
    let events: Vec<_> = w
        .lines_of("dup")
        .into_iter()
        .filter(|l| l["event"] == "duplicate_ignored")
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2]["state"], "RECONCILED",
        "a late duplicate sees the terminal state"
    );
    assert_eq!(w.router.stats().duplicates_ignored, 3);
    w.assert_clean();
}

#[test]
// rule: no_duplicate_orders
fn lost_reply_is_resolved_by_query_never_by_a_second_order() {
    let mut w = World::default_at("50000");
    w.fault(Fault::ResponseLost);
    w.run_at0(vec![buy("amb", "0.001", "50000")]);
    assert_eq!(w.orders_of("amb").len(), 1);
    assert_eq!(
        w.path("amb"),
        [
            State::New,
            State::Reserved,
            State::Sent,
            State::Unknown,
            State::Filled,
            State::Reconciled
        ]
    );
    w.assert_clean();
}

#[test]
// rule: no_duplicate_orders, reconciled
fn unknown_order_is_never_abandoned_however_long_the_venue_stays_silent() {
    // The reply is lost, then the next 12 queries fail too: far more than max_retries.
    let mut w = World::new(cfg(|c| c.max_retries = 1), "10000", "1", "50000");
    w.fault(Fault::ResponseLost);
    for i in 0..12 {
        w.fault(if i % 3 == 0 {
            Fault::RateLimited
        } else if i % 3 == 1 {
            Fault::ServerError
        } else {
            Fault::RequestLost
        });
    }
    let end = w.run_at0(vec![buy("silent", "0.001", "50000")]);
    assert!(end.idle);
    assert_eq!(w.orders_of("silent").len(), 1);
    assert_eq!(w.state("silent"), Some(State::Reconciled));
    let pending = w
        .lines_of("silent")
        .into_iter()
        .filter(|l| l["event"] == "query_pending")
        .count();
    assert_eq!(pending, 12);
    w.assert_clean();
}

#[test]
// rule: no_duplicate_orders
fn not_found_is_final_only_after_the_receive_window() {
    let mut w = World::default_at("50000");
    w.fault(Fault::RequestLost);
    w.run_at0(vec![buy("nf", "0.001", "50000")]);
    let l = w.lines_of("nf");
    let pending = l
        .iter()
        .find(|l| l["event"] == "query_pending")
        .expect("an early not-found waits");
    assert_eq!(pending["cause"], "not_found_within_recv_window");
    let retry = l
        .iter()
        .find(|l| l["state"] == "RETRY")
        .expect("then the attempt is retried");
    assert!(retry["t_ms"].as_u64().unwrap() > 5_000, "{retry}");
    assert_eq!(w.orders_of("nf").len(), 1);
    assert_eq!(w.state("nf"), Some(State::Reconciled));
    w.assert_clean();
}

#[test]
fn gtc_order_rests_is_polled_and_fills_when_the_market_comes_back() {
    let mut w = World::new(gtc(), "10000", "1", "60000");
    w.venue.schedule(5_000, &btc_usdt(), d("49990"), None);
    w.run(vec![(0, buy("g", "0.001", "50000"))]);
    assert_eq!(
        w.path("g"),
        [
            State::New,
            State::Reserved,
            State::Sent,
            State::Filled,
            State::Reconciled
        ]
    );
    assert_eq!(w.orders_of("g")[0].average, Some(d("49990")));
    let filled_at = w.lines_of("g")[3]["t_ms"].as_u64().unwrap();
    assert!(
        (5_000..=6_000).contains(&filled_at),
        "seen at the first poll after the move: {filled_at}"
    );
    w.assert_clean();
}

#[test]
fn gtc_order_that_never_fills_is_cancelled_at_its_timeout() {
    let mut w = World::new(
        cfg(|c| {
            c.tif = Tif::Gtc;
            c.max_retries = 1;
        }),
        "10000",
        "1",
        "60000",
    );
    w.run(vec![(0, buy("g", "0.001", "50000"))]);
    assert_eq!(w.state("g"), Some(State::FailedFinal));
    let l = w.lines_of("g");
    let cancels: Vec<u64> = l
        .iter()
        .filter(|l| l["event"] == "cancel_requested")
        .map(|l| l["t_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(
        cancels,
        [30_000, 30_400 + 30_000],
        "one cancel per attempt, at the order timeout"
    );
    assert!(w
        .venue
        .orders()
        .iter()
        .all(|o| o.status == order_router::exchange::OrderStatus::Canceled));
    w.assert_clean();
}

#[test]
// rule: reconciled
fn round_trip_buy_then_sell_leaves_portfolio_equal_to_the_venue() {
    let mut w = World::new(RouterConfig::default(), "1000", "0", "50000");
    w.run(vec![
        (0, buy("in", "0.01", "50000")),
        (10_000, sell("out", "0.01", "50000")),
    ]);
    assert_eq!(w.state("in"), Some(State::Reconciled));
    assert_eq!(w.state("out"), Some(State::Reconciled));
    // The buy's fee is 0.00001 of the BTC bought, so the sell is cut to the 0.00999 held:
    // 1000 - 500 + 499.5 - 0.4995 fee in USDT.
    assert_eq!(w.router.portfolio().balance(&usdt()).total, d("999.0005"));
    assert_eq!(w.router.portfolio().balance(&btc()).total, Decimal::ZERO);
    w.assert_clean();
}

#[test]
// rule: slippage_cap, limit_at_cap
fn slippage_guard_is_logged_when_the_market_is_beyond_the_cap() {
    let mut w = World::default_at("60000");
    w.run(vec![
        (
            0,
            Input::Market {
                symbol: btc_usdt(),
                price: d("60000"),
            },
        ),
        (0, buy("guard", "0.001", "50000")),
    ]);
    let g = w
        .lines_of("guard")
        .into_iter()
        .find(|l| l["event"] == "slippage_guard_applied")
        .expect("logged");
    assert_eq!(g["limit_price"].to_string(), "50100");
    assert_eq!(g["market_price"].to_string(), "60000");
    assert!(w.venue.trades().is_empty());
    w.assert_clean();
}

#[test]
fn same_inputs_give_byte_identical_audit_logs() {
    let run = || {
        let mut w = World::default_at("50000");
        w.fault(Fault::ResponseLost).fault(Fault::Partial(d("0.5")));
        w.run(vec![
            (0, buy("a", "0.002", "50000")),
            (0, buy("a", "0.002", "50000")),
            (3, sell("b", "0.01", "50000")),
        ]);
        w.log
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

/// A router and an in-memory venue, each with 1,000 USDT, BTC/USDT at 50,000.
fn router_and_venue() -> (
    order_router::router::Router,
    order_router::exchange::memory::MemoryExchange,
) {
    use order_router::prelude::*;
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut venue = MemoryExchange::new();
    venue.deposit(&usdt(), d("1000"));
    venue.set_price(&btc_usdt(), d("50000"));
    (router, venue)
}

#[test]
// rule: order_truth
fn replies_to_anything_but_the_awaited_request_are_ignored() {
    use order_router::prelude::*;
    let (mut router, mut venue) = router_and_venue();
    router.handle(0, buy("x", "0.001", "50000")).unwrap();
    assert!(
        router.poll_command().is_none(),
        "nothing leaves before its lines are durable"
    );
    write_ahead(&mut router, &mut Discard);
    let place = router.poll_command().expect("placement");
    let reply = order_router::exchange::execute(&place, &mut venue, 0);
    // The request times out first: the intent is UNKNOWN and queries.
    router.handle_timeout(2_000).unwrap();
    assert_eq!(
        router.state_of(&IntentId::new("x").unwrap()),
        Some(State::Unknown)
    );
    // The late placement reply is stale now and changes nothing.
    router.handle(2_001, Input::Reply(reply.clone())).unwrap();
    router.handle(2_001, Input::Reply(reply)).unwrap();
    assert_eq!(
        router.state_of(&IntentId::new("x").unwrap()),
        Some(State::Unknown)
    );
    write_ahead(&mut router, &mut Discard);
    let query = router.poll_command().expect("a query");
    assert_eq!(query.action.name(), "fetch_order");
    assert!(router.poll_command().is_none());
}

/// A router that writes its lines as JSONL itself journals the same bytes as one whose lines
/// are queued and written by the driver, and still holds each command until its lines are
/// durable.
#[test]
// rule: audit_complete, write_ahead
fn lines_written_as_jsonl_by_the_router_are_the_queued_lines_bytes() {
    use order_router::driver::{drive, AuditSink};
    use order_router::prelude::*;
    let run = |jsonl: bool| {
        let (mut router, mut venue) = router_and_venue();
        if jsonl {
            router.write_audit_jsonl();
        }
        let mut log = Vec::new();
        let inputs = [
            buy("a", "0.001", "50000"),
            buy("a", "0.001", "50000"),
            buy("b", "0.002", "50000"),
        ];
        drive(&mut router, &mut venue, 0, inputs, &mut log);
        assert!(router.poll_audit().is_none());
        log
    };
    let queued = run(false);
    assert_eq!(
        String::from_utf8(run(true)).unwrap(),
        String::from_utf8(queued).unwrap()
    );

    struct Counting(u64, bool);
    impl AuditSink for Counting {
        fn line(&mut self, _: AuditLine) {
            self.0 += 100;
        }
        fn jsonl(&mut self, bytes: &[u8], lines: u64) {
            assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count() as u64, lines);
            self.0 += lines;
        }
        fn make_durable(&mut self) -> bool {
            self.1
        }
    }
    for durable in [false, true] {
        let (mut router, _venue) = router_and_venue();
        router.write_audit_jsonl();
        router.handle(0, buy("c", "0.001", "50000")).unwrap();
        assert!(
            router.poll_command().is_none(),
            "nothing before the journal"
        );
        let mut sink = Counting(0, durable);
        assert_eq!(write_ahead(&mut router, &mut sink), durable);
        // NEW, RESERVED and SENT, all written by the router, handed over once.
        assert_eq!(sink.0, 3);
        assert_eq!(router.poll_command().is_some(), durable);
    }
}

/// The router counts an intent's fills in lots of its market: a report of a fraction of a lot
/// is no venue's and is not believed (it is asked again), while the same report on the grid
/// moves the intent.
#[test]
// rule: order_truth
fn a_fill_off_the_lot_grid_is_asked_again_not_booked() {
    use order_router::prelude::*;
    use order_router::router::{Reply, ReplyOutcome};
    let (mut router, mut venue) = router_and_venue();
    router.handle(0, buy("x", "0.001", "50000")).unwrap();
    write_ahead(&mut router, &mut Discard);
    let place = router.poll_command().expect("placement");
    let reply = order_router::exchange::execute(&place, &mut venue, 0);
    let with_fill = |mut r: Reply, filled: &str| {
        let ReplyOutcome::Order(Ok(o)) = &mut r.outcome else {
            panic!("an order: {:?}", r.outcome)
        };
        (o.filled, o.remaining, o.status) = (d(filled), o.amount - d(filled), OrderStatus::Open);
        r
    };
    let id = IntentId::new("x").unwrap();
    // 0.0005 and a millionth: the BTC/USDT lot is 0.00001.
    router
        .handle(1, Input::Reply(with_fill(reply, "0.000501")))
        .unwrap();
    assert_eq!(router.state_of(&id), Some(State::Sent));
    write_ahead(&mut router, &mut Discard);
    assert!(router.poll_command().is_none(), "nothing until the timer");
    // Unanswered, the placement's outcome is unknown: the order is queried.
    router.handle_timeout(60_000).unwrap();
    write_ahead(&mut router, &mut Discard);
    let query = router.poll_command().expect("a query");
    assert_eq!(query.action.name(), "fetch_order");
    let answer = order_router::exchange::execute(&query, &mut venue, 60_000);
    router
        .handle(60_001, Input::Reply(with_fill(answer, "0.0005")))
        .unwrap();
    assert_eq!(router.state_of(&id), Some(State::Partial));
}

/// A venue with a history limit forgets old finished orders and their trades, and keeps
/// answering for the ones it remembers; the router is unaffected.
#[test]
fn a_venue_with_history_forgets_old_finished_orders_only() {
    use order_router::driver::drive;
    use order_router::exchange::{Exchange, ExchangeError};
    use order_router::model::OrderId;
    use order_router::prelude::*;
    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut venue = MemoryExchange::new().with_history(2);
    venue.deposit(&usdt(), d("1000"));
    venue.set_price(&btc_usdt(), d("50000"));
    let mut log = Vec::new();
    let mut first_coid = None;
    for i in 1..=5 {
        drive(
            &mut router,
            &mut venue,
            0,
            [buy(&format!("h{i}"), "0.001", "50000")],
            &mut log,
        );
        first_coid.get_or_insert_with(|| venue.orders()[0].client_order_id.clone());
        let id = IntentId::new(&format!("h{i}")).unwrap();
        assert_eq!(router.state_of(&id), Some(State::Reconciled));
    }
    let kept: Vec<u64> = venue.orders().iter().map(|o| o.order_id.get()).collect();
    assert_eq!(kept, [4, 5]);
    let trades: Vec<u64> = venue.trades().iter().map(|t| t.trade_id.get()).collect();
    assert_eq!(trades, [4, 5]);
    let first = first_coid.unwrap();
    assert_eq!(
        venue.fetch_order(0, &btc_usdt(), &first),
        Err(ExchangeError::NotFound)
    );
    let gone = OrderId::new("1").unwrap();
    assert_eq!(venue.fetch_trades(0, &btc_usdt(), &gone), Ok(vec![]));
    let last = OrderId::new("5").unwrap();
    let fills = venue.fetch_trades(0, &btc_usdt(), &last).unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].trade_id.get(), 5);
    assert_eq!(
        venue.balance(&usdt()),
        router.portfolio().balance(&usdt()).total
    );
}

/// A venue that answers a trade query with the same fill twice and with another order's fill
/// (an at-least-once or sloppy API): the router books the intent's own fill exactly once.
#[test]
// rule: order_truth, reconciled
fn repeated_and_foreign_trades_in_one_answer_are_booked_once() {
    use order_router::driver::drive;
    use order_router::exchange::{Exchange, ExchangeError, Order, Trade};
    use order_router::model::{ClientOrderId, OrderId, Symbol, TimeMs, TradeId};
    use order_router::prelude::*;
    use order_router::router::OrderRequest;

    struct Sloppy(MemoryExchange);
    impl Exchange for Sloppy {
        fn place(&mut self, now: TimeMs, r: &OrderRequest) -> Result<Order, ExchangeError> {
            self.0.place(now, r)
        }
        fn fetch_order(
            &mut self,
            now: TimeMs,
            s: &Symbol,
            c: &ClientOrderId,
        ) -> Result<Order, ExchangeError> {
            self.0.fetch_order(now, s, c)
        }
        fn fetch_trades(
            &mut self,
            now: TimeMs,
            s: &Symbol,
            o: &OrderId,
        ) -> Result<Vec<Trade>, ExchangeError> {
            let mut trades = self.0.fetch_trades(now, s, o)?;
            let mut foreign = trades[0].clone();
            foreign.trade_id = TradeId::new("888").unwrap();
            foreign.order_id = OrderId::new("999").unwrap();
            trades.insert(0, foreign);
            trades.push(trades[1].clone());
            Ok(trades)
        }
        fn cancel(
            &mut self,
            now: TimeMs,
            s: &Symbol,
            c: &ClientOrderId,
        ) -> Result<Order, ExchangeError> {
            self.0.cancel(now, s, c)
        }
    }

    let mut portfolio = Portfolio::new();
    portfolio.deposit(&usdt(), d("1000")).unwrap();
    let mut router = Router::new(RouterConfig::default(), portfolio).unwrap();
    let mut venue = Sloppy(MemoryExchange::new());
    venue.0.deposit(&usdt(), d("1000"));
    venue.0.set_price(&btc_usdt(), d("50000"));
    let mut log = Vec::new();
    drive(
        &mut router,
        &mut venue,
        0,
        [buy("s1", "0.001", "50000")],
        &mut log,
    );
    assert_eq!(
        router.state_of(&IntentId::new("s1").unwrap()),
        Some(State::Reconciled)
    );
    let btc = Asset::new("BTC").unwrap();
    // Less the fee, paid in BTC.
    assert_eq!(router.portfolio().balance(&btc).total, d("0.000999"));
    assert_eq!(
        router.portfolio().balance(&usdt()).total,
        venue.0.balance(&usdt())
    );
    let log = String::from_utf8(log).unwrap();
    assert!(log.contains("\"fills_count\":1,"), "{log}");
}
