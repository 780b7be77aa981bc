//! The venue with a living market: the flow trades against the book and resting orders fill
//! through the fill model.

use super::*;
use crate::flow::queue::FillModel;

fn live_venue(seed: u64, model: FillModel) -> SimExchange {
    let mut cfg = VenueConfig::default();
    cfg.market.live = true;
    cfg.market.fill_model = model;
    let mut x = venue(cfg, "1000000", "10", "1");
    x.go_live(seed, 0, true);
    x
}

fn order(id: &str, side: Side, qty: &str, limit: Decimal) -> NewOrder {
    NewOrder {
        client_order_id: coid(id),
        symbol: btc_usdt(),
        side,
        qty: d(qty),
        limit_price: limit,
        tif: Tif::Gtc,
        market: false,
    }
}

/// Runs the market in 5 ms steps until the order is filled or `until`; its fill time.
fn filled_at(x: &mut SimExchange, id: &str, until: TimeMs) -> Option<TimeMs> {
    let mut t = x.live.as_ref().map_or(0, |l| l.time());
    while t < until {
        t += 5;
        x.advance_market(t);
        let o = x.order_by_coid(&btc_usdt(), &coid(id)).unwrap();
        if o.status == OrderStatus::Closed {
            return x.trades_of(&o.order_id).last().map(|tr| tr.t_ms);
        }
    }
    None
}

#[test]
fn the_same_seed_and_calls_give_the_same_market() {
    let run = |seed| {
        let mut x = live_venue(seed, FillModel::Queue);
        for t in (0..30_000).step_by(700) {
            x.advance_market(t);
        }
        let prints: Vec<PublicTrade> = x.public_trades().cloned().collect();
        (format!("{prints:?}"), format!("{:?}", x.bids(&btc_usdt())))
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a.0, run(8).0);
    assert!(a.0.len() > 1_000);
}

#[test]
fn the_living_market_prints_trades_and_keeps_a_book_on_the_grid() {
    let mut x = live_venue(1, FillModel::Queue);
    x.advance_market(60_000);
    let prints: Vec<&PublicTrade> = x.public_trades().collect();
    // About one trade every 20 ms at the recorded pace, each on the tick and lot grids.
    assert!(prints.len() > 1_500, "{}", prints.len());
    for p in &prints {
        assert!(
            on_grid(p.price, d("0.01")) && on_grid(p.qty, d("0.00001")),
            "{p:?}"
        );
        assert!(p.qty > Decimal::ZERO);
    }
    assert!(prints
        .windows(2)
        .all(|w| w[0].t_ms <= w[1].t_ms && w[0].id + 1 == w[1].id));
    let (bid, ask) = x.best_bid_ask(&btc_usdt()).unwrap();
    assert!(bid < ask);
    assert_eq!(x.bids(&btc_usdt()).len(), 10);
    // A taker order of the account takes from the living book and is printed too.
    let before = x.public_trades().count();
    let o = x
        .submit(60_000, order("t1", Side::Buy, "0.001", ask))
        .unwrap();
    assert_eq!(o.status, OrderStatus::Closed);
    assert_eq!(x.public_trades().count(), before + 1);
}

#[test]
fn a_bid_joining_the_best_bid_fills_later_in_the_queue_than_on_touch() {
    let mut later = 0;
    for seed in 0..20 {
        let mut times = Vec::new();
        for model in [FillModel::Queue, FillModel::Touch] {
            let mut x = live_venue(seed, model);
            x.advance_market(1_000);
            let (bid, _) = x.best_bid_ask(&btc_usdt()).unwrap();
            x.submit(1_000, order("m1", Side::Buy, "0.001", bid))
                .unwrap();
            times.push(filled_at(&mut x, "m1", 120_000));
        }
        let (q, t) = (times[0], times[1]);
        // Never earlier in the queue than on touch.
        assert!(t.is_some());
        assert!(
            q.is_none_or(|q| q >= t.unwrap()),
            "seed {seed}: {q:?} {t:?}"
        );
        later += usize::from(q != t);
    }
    assert!(later >= 5, "the queue made a difference in {later} of 20");
}

#[test]
fn entry_latency_keeps_an_order_out_of_the_queue_until_it_arrives() {
    let mut cfg = VenueConfig::default();
    cfg.market.live = true;
    cfg.market.order_latency_ms = 60_000;
    let mut x = venue(cfg, "1000000", "10", "1");
    x.go_live(3, 0, true);
    x.advance_market(1_000);
    let (bid, _) = x.best_bid_ask(&btc_usdt()).unwrap();
    // Far below the market it could only fill by trades through it, and not before it arrives.
    x.submit(1_000, order("l1", Side::Buy, "0.001", bid))
        .unwrap();
    x.advance_market(60_999);
    let o = x.order_by_coid(&btc_usdt(), &coid("l1")).unwrap();
    assert_eq!(o.filled, Decimal::ZERO, "{o:?}");
}

/// A venue whose market plays `csv` (a tape) from 0, with levels of `depth` BTC.
fn tape_venue(csv: &str, model: FillModel, depth: &str) -> SimExchange {
    let mut cfg = VenueConfig::default();
    cfg.market.live = true;
    cfg.market.fill_model = model;
    let tape = crate::flow::tape::parse("tape.csv", csv.as_bytes())
        .unwrap()
        .unwrap();
    cfg.tapes.insert(btc_usdt(), tape);
    let mut x = venue(cfg, "1000000", "10", depth);
    x.go_live(0, 0, true);
    x.advance_market(0);
    x
}

/// Sells at 50,000.00 (the taker sold: `is_buyer_maker` true) of 0.4 BTC at 0, 100, 200 and
/// 300 ms, then one at 49,999.99 at 400 ms.
const SELLS: &str = "trade_id,time_ms,price,qty,is_buyer_maker
1,1000,50000.00,0.4,true
2,1100,50000.00,0.4,true
3,1200,50000.00,0.4,true
4,1300,50000.00,0.4,true
5,1400,49999.99,0.4,true
";

#[test]
fn a_recorded_tape_is_the_public_tape_and_sets_the_book() {
    let mut x = tape_venue(SELLS, FillModel::Queue, "1");
    x.advance_market(250);
    let prints: Vec<(Decimal, Decimal, bool)> = x
        .public_trades()
        .map(|p| (p.price, p.qty, p.buyer_maker))
        .collect();
    assert_eq!(prints, vec![(d("50000"), d("0.4"), true); 3]);
    // The taker sold at 50,000: the best bid is there, the ask a tick above.
    assert_eq!(
        x.best_bid_ask(&btc_usdt()),
        Some((d("50000"), d("50000.01")))
    );
    // Quotes set the best levels and their sizes.
    let quotes = "time_ms,bid_price,bid_qty,ask_price,ask_qty\n0,49990.5,0.25,49991.5,0.75\n";
    let x = tape_venue(quotes, FillModel::Queue, "1");
    assert_eq!(
        x.best_bid_ask(&btc_usdt()),
        Some((d("49990.5"), d("49991.5")))
    );
    assert_eq!(x.bids(&btc_usdt())[0].qty, d("0.25"));
    assert_eq!(x.asks(&btc_usdt())[0].qty, d("0.75"));
    assert_eq!(x.public_trades().count(), 0);
}

#[test]
fn recorded_trades_at_a_resting_orders_price_consume_the_queue_ahead_of_it() {
    // A bid of 0.5 at 50,000 placed at 50 ms joins behind the 1 BTC displayed there (the
    // scenario's depth): the trades of 0.4 at 100 and 200 ms leave 0.2 ahead, the one at
    // 300 ms fills 0.2 of it, the trade through it at 400 ms the rest.
    let mut x = tape_venue(SELLS, FillModel::Queue, "1");
    x.advance_market(50);
    x.submit(50, order("q", Side::Buy, "0.5", d("50000")))
        .unwrap();
    let filled = |x: &SimExchange| x.order_by_coid(&btc_usdt(), &coid("q")).unwrap().filled;
    x.advance_market(250);
    assert_eq!(filled(&x), Decimal::ZERO);
    x.advance_market(350);
    assert_eq!(filled(&x), d("0.2"));
    assert_eq!(x.market_counts().queue_partials, 1);
    x.advance_market(450);
    assert_eq!(filled(&x), d("0.5"));
    // On touch the first trade at its price fills all of it.
    let mut x = tape_venue(SELLS, FillModel::Touch, "1");
    x.advance_market(50);
    x.submit(50, order("q", Side::Buy, "0.5", d("50000")))
        .unwrap();
    x.advance_market(150);
    assert_eq!(filled(&x), d("0.5"));
}

// rule: stop_orders
#[test]
fn a_stop_triggers_on_the_living_markets_trades() {
    let mut x = live_venue(7, FillModel::Queue);
    x.advance_market(1_000);
    let last = x.last_price(&btc_usdt()).unwrap();
    let prints_before = x.public_trades().count();
    // A sell stop one tick below the last trade: the market's next dip reaches it.
    let stop_px = last - d("0.01");
    let o = x
        .submit_stop(
            1_000,
            NewOrder {
                market: true,
                tif: Tif::Ioc,
                ..order("stop", Side::Sell, "0.001", Decimal::ZERO)
            },
            Stop {
                kind: StopKind::StopLoss,
                price: stop_px,
            },
        )
        .unwrap();
    let mut t = 1_000;
    while x.extras(&o.order_id).unwrap().waiting && t < 600_000 {
        t += 50;
        x.advance_market(t);
    }
    let after = x.order_by_id(&o.order_id).unwrap();
    assert_eq!(
        after.status,
        OrderStatus::Closed,
        "the stop never triggered"
    );
    // A trade of the market after placement reached the stop before the order traded.
    let reached = x
        .public_trades()
        .skip(prints_before)
        .any(|p| p.price <= stop_px && p.t_ms <= t);
    assert!(reached);
    assert_eq!(x.extras(&o.order_id).unwrap().working_ms, Some(t));
}
