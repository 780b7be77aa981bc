//! Tests of the sim module, kept beside it.

mod fee_assets;
mod live;
mod retention;

use super::*;
use crate::decision::Intent;
use crate::driver::{next_command, Discard, Step};
use crate::model::IntentId;
use crate::portfolio::Portfolio;
use crate::router::{Action, Input, Router, RouterConfig};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn btc_usdt() -> Symbol {
    Symbol::parse("BTC/USDT").unwrap()
}
fn usdt() -> Asset {
    Asset::new("USDT").unwrap()
}
fn btc() -> Asset {
    Asset::new("BTC").unwrap()
}
fn coid(id: &str) -> ClientOrderId {
    ClientOrderId::for_attempt(&IntentId::new(id).unwrap(), 1)
}

/// An `OrderRequest` exactly as given. Only the router can make one, so this drives a
/// router whose own rules are finer than any venue's and whose budget is unlimited; the
/// client id is `coid(id)`.
fn request(
    id: &str,
    symbol: &Symbol,
    side: Side,
    qty: &str,
    limit: &str,
    tif: Tif,
    sent_ms: TimeMs,
) -> OrderRequest {
    let fine = MarketRules {
        tick_size: d("0.00000001"),
        step_size: d("0.00000001"),
        min_notional: Decimal::ZERO,
        fee_bps: Decimal::ZERO,
    };
    let cfg = RouterConfig {
        tif,
        slippage_bps: Decimal::ZERO,
        min_notional: Decimal::ZERO,
        default_rules: fine,
        ..RouterConfig::default()
    };
    let mut portfolio = Portfolio::new();
    for a in [symbol.base(), symbol.quote()] {
        portfolio.deposit(a, d("1000000000000000")).unwrap();
    }
    let mut router = Router::new(cfg, portfolio).unwrap();
    let intent = Intent::new(
        IntentId::new(id).unwrap(),
        sent_ms,
        symbol.clone(),
        side,
        d(qty),
        d(limit),
    )
    .unwrap();
    router.handle(sent_ms, Input::Deliver(intent)).unwrap();
    // write_ahead: the placement goes out once its lines are durable.
    while let Step::Send(cmd) = next_command(&mut router, &mut Discard) {
        if let Action::Place(r) = cmd.action {
            assert_eq!(r.client_order_id(), &coid(id));
            assert_eq!((r.qty(), r.limit_price()), (d(qty), d(limit)));
            return r;
        }
    }
    panic!("the router placed nothing for {id}");
}

fn buy(id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
    request(id, &btc_usdt(), Side::Buy, qty, limit, tif, 0)
}
fn sell(id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
    request(id, &btc_usdt(), Side::Sell, qty, limit, tif, 0)
}

/// Default venue, BTC/USDT at 50000 (bid 49995, ask 50005, levels 5 apart), `depth` each.
fn venue(cfg: VenueConfig, usdt_amount: &str, btc_amount: &str, depth: &str) -> SimExchange {
    let mut x = SimExchange::new(cfg);
    x.deposit(&usdt(), d(usdt_amount));
    x.deposit(&btc(), d(btc_amount));
    x.set_market(0, &btc_usdt(), d("50000"), d("2"), d(depth));
    x
}

fn rejected_with(r: Result<Order, ExchangeError>) -> (i32, String) {
    match r {
        Err(ExchangeError::Rejected { code, message }) => (code, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn book_is_built_from_mid_spread_and_depth_on_the_tick_grid() {
    let mut x = venue(VenueConfig::default(), "0", "0", "0.5");
    let s = btc_usdt();
    assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50005"))));
    assert_eq!(x.mid(&s), Some(d("50000")));
    let (asks, bids) = (x.asks(&s), x.bids(&s));
    assert_eq!((asks.len(), bids.len()), (10, 10));
    // Spacing: 50000 * 0.0001 = 5.
    assert_eq!(asks[1].price, d("50010"));
    assert_eq!(asks[9].price, d("50050"));
    assert_eq!(bids[9].price, d("49950"));
    assert!(asks.iter().chain(&bids).all(|l| l.qty == d("0.5")));

    // Ask rounds up, bid rounds down; spacing never below one tick.
    x.set_market(1, &s, d("100.003"), d("1"), d("2"));
    assert_eq!(x.best_bid_ask(&s), Some((d("99.99"), d("100.01"))));
    assert_eq!(x.asks(&s)[1].price, d("100.02"));
    assert_eq!(x.bids(&s)[1].price, d("99.98"));
    // Touching quotes are separated by one tick.
    x.set_market(2, &s, d("100"), d("0"), d("2"));
    assert_eq!(x.best_bid_ask(&s), Some((d("100"), d("100.01"))));
    // Bids at or below zero do not exist.
    x.set_market(3, &s, d("0.015"), d("0"), d("2"));
    assert_eq!(x.best_bid_ask(&s), Some((d("0.01"), d("0.02"))));
    assert_eq!(x.bids(&s).len(), 1);
    assert_eq!(x.asks(&s).len(), 10);
    // A non-positive mid is ignored: the book stays.
    x.set_market(4, &s, d("0"), d("2"), d("2"));
    assert_eq!(x.mid(&s), Some(d("0.015")));
    // No market yet: no book, and placements are refused as an invalid symbol.
    let eth = Symbol::parse("ETH/USDT").unwrap();
    assert_eq!(x.mid(&eth), None);
    assert_eq!(x.best_bid_ask(&eth), None);
    x.deposit(&usdt(), d("100000"));
    let r = request("e1", &eth, Side::Buy, "1", "3000", Tif::Ioc, 0);
    assert_eq!(
        rejected_with(x.place(0, &r)),
        (-1121, "Invalid symbol.".to_string())
    );
    assert!(x.orders().next().is_none());
}

/// Ticks of 0.05 and lots of 0.25: the book's integer levels read back as the decimals the
/// rounding gives, and an order walks them lot by lot up to its limit.
#[test]
fn a_book_on_a_grid_of_twentieths_and_quarters_matches_whole_ticks_and_lots() {
    let s = btc_usdt();
    let mut cfg = VenueConfig::default();
    let rules = MarketRules {
        tick_size: d("0.05"),
        step_size: d("0.25"),
        min_notional: Decimal::ZERO,
        fee_bps: Decimal::ZERO,
    };
    cfg.markets.insert(s.clone(), rules);
    let mut x = SimExchange::new(cfg);
    x.deposit(&usdt(), d("1000000"));
    x.set_market(0, &s, d("1000.02"), d("0"), d("0.6"));
    // Ask up to the tick, bid down; spacing 0.100002 down to 0.10; depth 0.6 down to 0.5.
    assert_eq!(x.best_bid_ask(&s), Some((d("1000"), d("1000.05"))));
    let asks = x.asks(&s);
    assert_eq!((asks[1].price, asks[9].price), (d("1000.15"), d("1000.95")));
    assert!(asks.iter().all(|l| l.qty == d("0.5")));
    let r = request("q", &s, Side::Buy, "1.25", "1000.15", Tif::Ioc, 1);
    let o = x.place(1, &r).unwrap();
    // Two levels of 0.5 within the limit: one lot of 0.25 expires.
    assert_eq!(
        (o.filled, o.remaining, o.status),
        (d("1"), d("0.25"), OrderStatus::Expired)
    );
    assert_eq!(o.average, Some(d("1000.10")));
    assert_eq!((x.asks(&s)[1].qty, x.asks(&s)[2].qty), (d("0"), d("0.5")));
}

#[test]
fn ioc_buy_walks_levels_with_one_trade_each_and_exact_money() {
    let mut x = venue(VenueConfig::default(), "10000", "0", "0.01");
    let s = btc_usdt();
    let o = x.place(3, &buy("i1", "0.025", "50020", Tif::Ioc)).unwrap();
    assert_eq!(o.order_id.get(), 1);
    assert_eq!(o.status, OrderStatus::Closed);
    assert_eq!((o.filled, o.remaining), (d("0.025"), d("0")));
    assert_eq!(o.average, Some(d("50009")));
    // The fee comes out of the BTC bought: 0.025 * 10 bps.
    assert_eq!(o.fee, d("0.000025"));
    assert_eq!(o.fee_asset, btc());
    let trades = x.fetch_trades(4, &s, &o.order_id).unwrap();
    let got: Vec<_> = trades.iter().map(|t| (t.price, t.qty, t.fee)).collect();
    assert_eq!(
        got,
        vec![
            (d("50005"), d("0.01"), d("0.00001")),
            (d("50010"), d("0.01"), d("0.00001")),
            (d("50015"), d("0.005"), d("0.000005")),
        ]
    );
    assert!(trades.iter().all(|t| t.t_ms == 3 && t.fee_asset == btc()));
    let ids: Vec<_> = trades.iter().map(|t| t.trade_id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);
    // 10000 - 1250.225 notional; the fee is not paid in USDT.
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("8749.775"),
            locked: d("0")
        }
    );
    assert_eq!(x.funds(&btc()).free, d("0.024975"));
    // Consumed depth stays consumed.
    assert_eq!(x.asks(&s)[2].qty, d("0.005"));
    assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50015"))));

    // The rest of an IOC beyond the limit expires and its lock comes back.
    let o = x.place(5, &buy("i2", "0.04", "50015", Tif::Ioc)).unwrap();
    assert_eq!(o.status, OrderStatus::Expired);
    assert_eq!((o.filled, o.remaining), (d("0.005"), d("0.035")));
    assert_eq!(o.average, Some(d("50015")));
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("8499.7"),
            locked: d("0")
        }
    );
    assert_eq!(x.funds(&btc()).total(), d("0.02997"));
    assert_eq!(x.open_orders().count(), 0);
    // An unknown order has no trades; another symbol's trades are not this one's.
    let eth = Symbol::parse("ETH/USDT").unwrap();
    assert!(x.fetch_trades(6, &eth, &o.order_id).unwrap().is_empty());
    let none = OrderId::new("99").unwrap();
    assert!(x.fetch_trades(6, &s, &none).unwrap().is_empty());
}

#[test]
fn sell_walks_bids_down_and_is_paid_notional_minus_fee() {
    let mut x = venue(VenueConfig::default(), "0", "1", "0.01");
    let o = x.place(0, &sell("s1", "0.015", "49990", Tif::Gtc)).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
    assert_eq!(o.average, Some(d("749.9") / d("0.015")));
    // 499.95 + 249.95 = 749.9; fee 0.7499.
    assert_eq!(o.fee, d("0.7499"));
    assert_eq!(x.funds(&usdt()).free, d("749.1501"));
    assert_eq!(
        x.funds(&btc()),
        Funds {
            free: d("0.985"),
            locked: d("0")
        }
    );
}

#[test]
fn partial_fault_fills_the_ratio_and_expires_the_rest_even_for_gtc() {
    let mut x = venue(VenueConfig::default(), "10000", "0", "1");
    x.arm(PlacementFault::Partial { ratio: d("0.333") });
    let o = x.place(0, &buy("p1", "0.01", "50100", Tif::Gtc)).unwrap();
    assert_eq!(x.armed(), None);
    assert_eq!(o.status, OrderStatus::Expired);
    // 0.01 * 0.333 = 0.00333, already on the step grid.
    assert_eq!((o.filled, o.remaining), (d("0.00333"), d("0.00667")));
    assert_eq!(x.trades().count(), 1);
    assert_eq!(x.open_orders().count(), 0);
    // Notional 166.51665, the fee 0.00000333 BTC; nothing stays locked.
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("9833.48335"),
            locked: d("0")
        }
    );
    // Rounded down to the step: 0.01 * 0.3333 = 0.003333 -> 0.00333; a sell as well.
    x.deposit(&btc(), d("1"));
    x.arm(PlacementFault::Partial { ratio: d("0.3333") });
    let o = x.place(0, &sell("p2", "0.01", "49000", Tif::Ioc)).unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0.00333")));
    assert_eq!(x.funds(&btc()).locked, d("0"));
    assert_eq!(x.funds(&btc()).total(), d("1.00332667") - d("0.00333"));
    // The fault was for one placement only.
    let o = x.place(0, &buy("p3", "0.01", "50100", Tif::Gtc)).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
}

#[test]
fn partial_then_rest_leaves_a_gtc_remainder_open_not_expired() {
    let mut x = venue(VenueConfig::default(), "10000", "1", "1");
    x.arm(PlacementFault::PartialThenRest { ratio: d("0.5") });
    let o = x.place(0, &buy("h1", "0.01", "50100", Tif::Gtc)).unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Open, d("0.005")));
    assert_eq!(x.open_orders().count(), 1);
    assert!(x.funds(&usdt()).locked > d("0"), "the rest stays locked");
    // An immediate-or-cancel remainder still expires.
    x.arm(PlacementFault::PartialThenRest { ratio: d("0.5") });
    let o = x.place(0, &sell("h2", "0.01", "49000", Tif::Ioc)).unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0.005")));
}

#[test]
fn requote_moves_the_market_against_the_order_and_it_stays_there() {
    let mut x = venue(VenueConfig::default(), "10000", "1", "1");
    let s = btc_usdt();
    // A resting sell below the new bid fills when the market moves up.
    let resting = x.place(0, &sell("r0", "0.01", "50100", Tif::Gtc)).unwrap();
    assert_eq!(resting.status, OrderStatus::Open);
    x.arm(PlacementFault::Requote { bps: d("50") });
    let o = x.place(1, &buy("r1", "0.01", "50100", Tif::Ioc)).unwrap();
    // 50000 * 1.005 = 50250; ask 50255.025 -> 50255.03 is above the buyer's cap.
    assert_eq!(x.mid(&s), Some(d("50250")));
    assert_eq!(x.best_bid_ask(&s), Some((d("50244.97"), d("50255.03"))));
    assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
    assert_eq!(x.funds(&usdt()).locked, d("0"));
    let r = x.fetch_order(1, &s, &coid("r0")).unwrap();
    assert_eq!(
        (r.status, r.average),
        (OrderStatus::Closed, Some(d("50244.97")))
    );
    assert_eq!(x.trades().count(), 1);
    assert_eq!(x.trades().next().unwrap().t_ms, 1);
    // It stays moved: the same cap still does not fill without any fault.
    let o = x.place(2, &buy("r2", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
    // Against a sell it moves down: 50250 * 0.995 = 49998.75, bid 49993.750125 -> 49993.75.
    x.arm(PlacementFault::Requote { bps: d("50") });
    let o = x.place(3, &sell("r3", "0.01", "50000", Tif::Ioc)).unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Expired, d("0")));
    assert_eq!(x.mid(&s), Some(d("49998.75")));
    assert_eq!(x.best_bid_ask(&s).map(|b| b.0), Some(d("49993.75")));
    // A refused placement does not move the market, and the fault is used up.
    x.arm(PlacementFault::Requote { bps: d("50") });
    let bad = x.place(4, &buy("r4", "0.01", "50100.001", Tif::Ioc));
    assert!(bad.is_err());
    assert_eq!((x.mid(&s), x.armed()), (Some(d("49998.75")), None));
}

#[test]
fn recv_window_refuses_late_placements_and_still_uses_the_fault() {
    let mut x = venue(VenueConfig::default(), "10000", "0", "1");
    x.arm(PlacementFault::Reject);
    let late = request("w1", &btc_usdt(), Side::Buy, "0.01", "50100", Tif::Ioc, 100);
    assert_eq!(x.place(5_101, &late), Err(ExchangeError::RecvWindowExpired));
    assert!(x.orders().next().is_none() && x.trades().next().is_none());
    assert_eq!(x.funds(&usdt()).free, d("10000"));
    assert_eq!(x.armed(), None);
    assert_eq!(
        x.fetch_order(5_101, &btc_usdt(), &coid("w1")),
        Err(ExchangeError::NotFound)
    );
    // At the edge of the window it executes; the reject was used up by the late one.
    let o = x.place(5_100, &late).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
}

#[test]
fn armed_reject_refuses_without_any_effect() {
    let mut x = venue(VenueConfig::default(), "10000", "0", "1");
    x.arm(PlacementFault::Reject);
    let (code, _) = rejected_with(x.place(0, &buy("j1", "0.01", "50100", Tif::Ioc)));
    assert_eq!(code, -1013);
    assert!(x.orders().next().is_none());
    assert_eq!(x.funds(&usdt()).free, d("10000"));
    assert!(x.place(0, &buy("j1", "0.01", "50100", Tif::Ioc)).is_ok());
}

#[test]
// rule: no_duplicate_orders
fn open_only_dedup_lets_a_blind_resend_of_a_finished_id_create_a_second_order() {
    let mut x = venue(VenueConfig::default(), "100000", "0", "1");
    let s = btc_usdt();
    let resting = x.place(0, &buy("a", "0.01", "49000", Tif::Gtc)).unwrap();
    assert_eq!(resting.status, OrderStatus::Open);
    let again = x.place(1, &buy("a", "0.01", "50100", Tif::Ioc));
    assert_eq!(again, Err(ExchangeError::DuplicateClientOrderId(coid("a"))));
    assert_eq!(x.orders().count(), 1);
    x.cancel(2, &s, &coid("a")).unwrap();
    // Not open any more: the same id is a new order.
    let second = x.place(3, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!(second.order_id.get(), 2);
    assert_eq!(second.status, OrderStatus::Closed);
    // The trap: resending a filled order's id buys again.
    let third = x.place(4, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!(third.order_id.get(), 3);
    // Two fills of 0.01, each less its fee of 0.00001 in BTC.
    assert_eq!(x.funds(&btc()).free, d("0.01998"));
    assert_eq!(x.orders().count(), 3);
    // A query by client id answers with the latest order.
    assert_eq!(x.fetch_order(5, &s, &coid("a")).unwrap(), third);
    let eth = Symbol::parse("ETH/USDT").unwrap();
    assert_eq!(
        x.fetch_order(5, &eth, &coid("a")),
        Err(ExchangeError::NotFound)
    );
}

#[test]
// rule: no_duplicate_orders
fn always_dedup_refuses_any_repeat() {
    let cfg = VenueConfig {
        dedup: Dedup::Always,
        ..VenueConfig::default()
    };
    let mut x = venue(cfg, "100000", "0", "1");
    let o = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
    let again = x.place(1, &buy("a", "0.01", "50100", Tif::Ioc));
    assert_eq!(again, Err(ExchangeError::DuplicateClientOrderId(coid("a"))));
    // An IOC that filled nothing counts as well.
    x.place(2, &buy("b", "0.01", "40000", Tif::Ioc)).unwrap();
    assert!(x.place(3, &buy("b", "0.01", "40000", Tif::Ioc)).is_err());
    assert_eq!(x.orders().count(), 2);
    assert_eq!(x.funds(&btc()).free, d("0.00999"));
}

#[test]
// rule: min_notional
fn rules_refuse_off_grid_prices_and_quantities_and_small_notionals() {
    let eth = Symbol::parse("ETH/USDT").unwrap();
    let mut cfg = VenueConfig::default();
    cfg.markets.insert(
        eth.clone(),
        MarketRules {
            tick_size: d("0.1"),
            step_size: d("0.001"),
            min_notional: d("10"),
            fee_bps: d("10"),
        },
    );
    let mut x = venue(cfg, "100000", "0", "1");
    x.set_market(0, &eth, d("3000"), d("2"), d("10"));
    let filter = |r| rejected_with(r).1;
    assert_eq!(
        filter(x.place(0, &buy("f1", "0.01", "50000.005", Tif::Ioc))),
        "Filter failure: PRICE_FILTER"
    );
    assert_eq!(
        filter(x.place(0, &buy("f2", "0.000015", "50000", Tif::Ioc))),
        "Filter failure: LOT_SIZE"
    );
    // 0.0001 * 49999.99 = 4.999999 < 5.
    assert_eq!(
        filter(x.place(0, &buy("f3", "0.0001", "49999.99", Tif::Ioc))),
        "Filter failure: NOTIONAL"
    );
    let (code, _) = rejected_with(x.place(0, &buy("f3", "0.0001", "40000", Tif::Ioc)));
    assert_eq!(code, -1013);
    // Exactly the minimum is enough.
    assert!(x.place(0, &buy("f4", "0.0001", "50000", Tif::Gtc)).is_ok());
    // Per-market rules: ETH's tick is 0.1 and its minimum notional 10.
    let eth_buy = |id, qty, px| request(id, &eth, Side::Buy, qty, px, Tif::Ioc, 0);
    assert_eq!(
        filter(x.place(0, &eth_buy("f5", "1", "3000.05"))),
        "Filter failure: PRICE_FILTER"
    );
    assert_eq!(
        filter(x.place(0, &eth_buy("f6", "0.0001", "3000.1"))),
        "Filter failure: LOT_SIZE"
    );
    assert_eq!(
        filter(x.place(0, &eth_buy("f7", "0.003", "3000.1"))),
        "Filter failure: NOTIONAL"
    );
    assert!(x.place(0, &eth_buy("f8", "0.004", "3000.1")).is_ok());
    assert_eq!(x.orders().count(), 2);
}

#[test]
fn insufficient_balance_counts_the_notional_for_buys_and_the_base_for_sells() {
    let mut x = venue(VenueConfig::default(), "4999.99", "0.09999", "1");
    let insufficient = (-2010, INSUFFICIENT_BALANCE.to_string());
    // 0.1 * 50000 = 5000: the fee is paid in BTC when it fills, so it is not locked.
    let r = buy("b1", "0.1", "50000", Tif::Gtc);
    assert_eq!(rejected_with(x.place(0, &r)), insufficient);
    x.deposit(&usdt(), d("0.01"));
    let o = x.place(0, &r).unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("0"),
            locked: d("5000")
        }
    );
    // Locked funds are not free for the next order.
    let r2 = buy("b2", "0.0001", "50000", Tif::Gtc);
    assert_eq!(rejected_with(x.place(0, &r2)), insufficient);
    let s = sell("s1", "0.1", "60000", Tif::Gtc);
    assert_eq!(rejected_with(x.place(0, &s)), insufficient);
    x.deposit(&btc(), d("0.00001"));
    assert_eq!(x.place(0, &s).unwrap().status, OrderStatus::Open);
    assert_eq!(
        x.funds(&btc()),
        Funds {
            free: d("0"),
            locked: d("0.1")
        }
    );
    assert_eq!(x.orders().count(), 2);
}

#[test]
fn gtc_rests_locks_and_fills_on_a_later_market_move_unlocking_the_difference() {
    let mut x = venue(VenueConfig::default(), "10000", "0", "1");
    let s = btc_usdt();
    let o = x.place(0, &buy("g1", "0.1", "49900", Tif::Gtc)).unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert!(x.trades().next().is_none());
    // 0.1 * 49900: the price only, the fee is paid in BTC.
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("5010"),
            locked: d("4990")
        }
    );
    assert_eq!(x.open_orders().count(), 1);
    // A move that does not reach it changes nothing.
    x.set_market(5, &s, d("49950"), d("2"), d("1"));
    assert_eq!(
        x.fetch_order(5, &s, &coid("g1")).unwrap().status,
        OrderStatus::Open
    );
    // Ask 49800 * 1.0001 = 49804.98 <= 49900: fills at the book's price, not the limit.
    x.set_market(7, &s, d("49800"), d("2"), d("1"));
    let o = x.fetch_order(8, &s, &coid("g1")).unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
    assert_eq!(o.average, Some(d("49804.98")));
    assert_eq!((o.fee, o.fee_asset.as_str()), (d("0.0001"), "BTC"));
    assert_eq!(x.trades().next().unwrap().t_ms, 7);
    // 10000 - 4980.498: the difference to the limit comes back.
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("5019.502"),
            locked: d("0")
        }
    );
    assert_eq!(x.funds(&btc()).free, d("0.0999"));
    assert_eq!(x.open_orders().count(), 0);
    assert_eq!(x.asks(&s)[0].qty, d("0.9"));
}

#[test]
fn resting_orders_fill_oldest_first_against_limited_depth() {
    let cfg = VenueConfig {
        levels: 1,
        ..VenueConfig::default()
    };
    let mut x = venue(cfg, "10000", "0", "1");
    let s = btc_usdt();
    x.place(0, &buy("o1", "0.01", "49900", Tif::Gtc)).unwrap();
    x.place(0, &buy("o2", "0.01", "49950", Tif::Gtc)).unwrap();
    x.set_market(3, &s, d("49800"), d("2"), d("0.015"));
    let first = x.fetch_order(3, &s, &coid("o1")).unwrap();
    let second = x.fetch_order(3, &s, &coid("o2")).unwrap();
    assert_eq!(first.status, OrderStatus::Closed);
    assert_eq!(
        (second.status, second.filled),
        (OrderStatus::Open, d("0.005"))
    );
    let open: Vec<_> = x.open_orders().map(|o| o.order_id.get()).collect();
    assert_eq!(open, [2]);
    // The partly filled resting buy still locks exactly its remaining qty at its limit.
    assert_eq!(x.funds(&usdt()).locked, d("0.005") * d("49950"));
}

#[test]
fn cancel_releases_the_lock_and_a_second_cancel_is_not_found() {
    let mut x = venue(VenueConfig::default(), "10000", "1", "1");
    let s = btc_usdt();
    x.place(0, &buy("c1", "0.1", "49900", Tif::Gtc)).unwrap();
    x.place(0, &sell("c2", "0.5", "51000", Tif::Gtc)).unwrap();
    assert_eq!(x.funds(&btc()).locked, d("0.5"));
    let eth = Symbol::parse("ETH/USDT").unwrap();
    assert_eq!(x.cancel(1, &eth, &coid("c1")), Err(ExchangeError::NotFound));
    let o = x.cancel(1, &s, &coid("c1")).unwrap();
    assert_eq!(
        (o.status, o.filled, o.remaining),
        (OrderStatus::Canceled, d("0"), d("0.1"))
    );
    assert_eq!(
        x.funds(&usdt()),
        Funds {
            free: d("10000"),
            locked: d("0")
        }
    );
    assert_eq!(x.cancel(2, &s, &coid("c1")), Err(ExchangeError::NotFound));
    assert_eq!(
        x.fetch_order(2, &s, &coid("c1")).unwrap().status,
        OrderStatus::Canceled
    );
    // A canceled order never fills, whatever the market does.
    x.set_market(3, &s, d("40000"), d("2"), d("1"));
    assert!(x.trades().next().is_none());
    x.cancel(4, &s, &coid("c2")).unwrap();
    assert_eq!(
        x.funds(&btc()),
        Funds {
            free: d("1"),
            locked: d("0")
        }
    );
    assert_eq!(x.open_orders().count(), 0);
    assert_eq!(
        x.cancel(5, &s, &coid("never")),
        Err(ExchangeError::NotFound)
    );
}

#[test]
fn consumed_depth_is_replenished_by_set_market() {
    let mut x = venue(VenueConfig::default(), "100000", "0", "0.5");
    let s = btc_usdt();
    x.place(0, &buy("d1", "0.5", "50005", Tif::Ioc)).unwrap();
    assert_eq!(x.asks(&s)[0].qty, d("0"));
    assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50010"))));
    // Nothing left at 50005 until the book is rebuilt.
    let o = x.place(1, &buy("d2", "0.1", "50005", Tif::Ioc)).unwrap();
    assert_eq!(o.filled, d("0"));
    x.set_market(2, &s, d("50000"), d("2"), d("0.5"));
    assert_eq!(x.asks(&s)[0].qty, d("0.5"));
    assert_eq!(x.best_bid_ask(&s), Some((d("49995"), d("50005"))));
    let o = x.place(3, &buy("d3", "0.1", "50005", Tif::Ioc)).unwrap();
    assert_eq!(o.filled, d("0.1"));
}

/// Random placements, faults, market moves and cancels from a fixed-seed generator; after
/// every step funds are non-negative, locks match the open orders, and both assets'
/// totals equal the deposits moved by the trades, minus their fees.
#[test]
// rule: reservation_non_negative
fn funds_stay_non_negative_and_are_conserved_except_fees() {
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let s = btc_usdt();
    let mut x = venue(VenueConfig::default(), "100000", "2", "0.05");
    let fee_rate = d("0.001");
    for step in 0..400u64 {
        let now = step * 10;
        match next(10) {
            0 | 1 => {
                let mid = Decimal::from(45_000 + next(10_000)) + Decimal::new(next(100) as i64, 2);
                let spread = Decimal::from(next(10));
                let depth = Decimal::new(next(100) as i64, 3);
                x.set_market(now, &s, mid, spread, depth);
            }
            2 => {
                let id = format!("k{}", next(8));
                let _ = x.cancel(now, &s, &coid(&id));
            }
            _ => {
                match next(6) {
                    0 => x.arm(PlacementFault::Reject),
                    1 => x.arm(PlacementFault::Partial {
                        ratio: Decimal::new(next(100) as i64, 2),
                    }),
                    2 => x.arm(PlacementFault::Requote {
                        bps: Decimal::from(next(30)),
                    }),
                    _ => {}
                }
                let mid = x.mid(&s).unwrap_or(Decimal::from(50_000));
                let offset = Decimal::from(next(200)) - Decimal::from(100);
                let limit = (mid * (Decimal::ONE + offset * bps_fraction())).round_dp(2);
                let qty = Decimal::new(1 + next(30_000) as i64, 5);
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                let tif = if next(2) == 0 { Tif::Ioc } else { Tif::Gtc };
                let id = format!("k{}", next(8));
                let sent = now.saturating_sub(next(6_000));
                let r = request(
                    &id,
                    &s,
                    side,
                    &qty.to_string(),
                    &limit.to_string(),
                    tif,
                    sent,
                );
                let _ = x.place(now, &r);
            }
        }
        for (_, f) in x.assets() {
            assert!(
                f.free >= Decimal::ZERO && f.locked >= Decimal::ZERO,
                "step {step}"
            );
        }
        let (mut quote, mut base) = (d("100000"), d("2"));
        for t in x.trades() {
            let notional = t.price * t.qty;
            // A buy pays in the base it receives, a sell in the quote, rounded half up to 8
            // places.
            match t.side {
                Side::Buy => {
                    assert_eq!(
                        (&t.fee_asset, t.fee),
                        (&btc(), fees::round_fee(t.qty * fee_rate))
                    );
                    quote -= notional;
                    base += t.qty - t.fee;
                }
                Side::Sell => {
                    assert_eq!(
                        (&t.fee_asset, t.fee),
                        (&usdt(), fees::round_fee(notional * fee_rate))
                    );
                    quote += notional - t.fee;
                    base -= t.qty;
                }
            }
        }
        assert_eq!(x.funds(&usdt()).total(), quote, "step {step}");
        assert_eq!(x.funds(&btc()).total(), base, "step {step}");
        let (mut quote_locked, mut base_locked) = (Decimal::ZERO, Decimal::ZERO);
        for o in x.open_orders() {
            assert_eq!(o.status, OrderStatus::Open);
            match o.side {
                Side::Buy => quote_locked += o.remaining * o.price,
                Side::Sell => base_locked += o.remaining,
            }
        }
        assert_eq!(x.funds(&usdt()).locked, quote_locked, "step {step}");
        assert_eq!(x.funds(&btc()).locked, base_locked, "step {step}");
        let open = x.orders().filter(|o| o.status == OrderStatus::Open);
        assert_eq!(open.count(), x.open_orders().count());
        for o in x.orders().cloned().collect::<Vec<_>>() {
            assert_eq!(o.filled + o.remaining, o.amount);
            let filled: Decimal = x
                .fetch_trades(now, &s, &o.order_id)
                .unwrap()
                .iter()
                .map(|t| t.qty)
                .sum();
            assert_eq!(filled, o.filled);
        }
    }
    // The loop did exercise the venue.
    assert!(x.trades().count() > 20, "{}", x.trades().count());
    assert!(x.orders().any(|o| o.status == OrderStatus::Canceled));
    assert!(x
        .orders()
        .any(|o| o.status == OrderStatus::Expired && o.filled > Decimal::ZERO));
}
