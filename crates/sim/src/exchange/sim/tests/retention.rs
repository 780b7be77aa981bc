//! Retention: finished orders are forgotten with their trades after `order_retention_ms`; an
//! open order holds back later ones, a newer order under the same client id stays found, and
//! without retention nothing is forgotten.

use super::*;

/// A BTC/USDT request sent at `now`, for placements beyond the receive window of 0.
fn at(now: TimeMs, side: Side, id: &str, qty: &str, limit: &str, tif: Tif) -> OrderRequest {
    request(id, &btc_usdt(), side, qty, limit, tif, now)
}

fn retaining(ms: Option<u64>) -> VenueConfig {
    VenueConfig {
        order_retention_ms: ms,
        ..VenueConfig::default()
    }
}

fn coids(x: &SimExchange) -> Vec<String> {
    x.orders()
        .map(|o| o.client_order_id.as_str().to_string())
        .collect()
}

#[test]
fn retention_forgets_orders_finished_long_ago_with_their_trades() {
    let mut x = venue(retaining(Some(1000)), "100000", "0", "1");
    let s = btc_usdt();
    let a = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!(a.status, OrderStatus::Closed);
    let b = x.place(500, &buy("b", "0.01", "50100", Tif::Ioc)).unwrap();
    // 999 ms after `a` ended: still kept.
    x.place(999, &buy("c", "0.01", "50100", Tif::Ioc)).unwrap();
    assert_eq!(x.order_count(), 3);
    assert_eq!(x.orders().count(), 3);
    assert_eq!(x.fetch_order(999, &s, &coid("a")).unwrap(), a);
    // 1000 ms after: forgotten by the next placement, with its trade.
    let fourth = x
        .place(1_000, &buy("d", "0.01", "50100", Tif::Ioc))
        .unwrap();
    assert_eq!(fourth.order_id.get(), 4);
    assert_eq!(x.order_count(), 4);
    assert_eq!(x.first_retained_order(), 1);
    assert_eq!(
        coids(&x),
        [coid("b"), coid("c"), coid("d")].map(|c| c.to_string())
    );
    assert_eq!(
        x.fetch_order(1_000, &s, &coid("a")),
        Err(ExchangeError::NotFound)
    );
    assert!(x.fetch_trades(1_000, &s, &a.order_id).unwrap().is_empty());
    assert_eq!((x.trade_count(), x.trades().count()), (4, 3));
    assert_eq!(x.first_retained_trade(), 1);
    let ids: Vec<_> = x.trades().map(|t| t.trade_id.get()).collect();
    assert_eq!(ids, [2, 3, 4]);
    // Lookups of what is kept still work.
    assert_eq!(x.fetch_order(1_000, &s, &coid("b")).unwrap(), b);
    let tb = x.fetch_trades(1_000, &s, &b.order_id).unwrap();
    assert_eq!(tb.iter().map(|t| t.trade_id.get()).collect::<Vec<_>>(), [2]);
    // Absolute cursors: from a forgotten index, from the oldest kept; past the end, nothing.
    assert_eq!(x.orders_from(0).count(), 3);
    let from2: Vec<_> = x.orders_from(2).map(|o| o.order_id.get()).collect();
    assert_eq!(from2, [3, 4]);
    assert_eq!(x.orders_from(4).count(), 0);
    assert_eq!(x.orders_from(99).count(), 0);
    let t3: Vec<_> = x.trades_from(3).map(|t| t.trade_id.get()).collect();
    assert_eq!(t3, [4]);
    assert_eq!(x.trades_from(0).count(), 3);
    // Numbering goes on from what was ever created.
    let e = x
        .place(1_200, &buy("e", "0.01", "50100", Tif::Ioc))
        .unwrap();
    assert_eq!(e.order_id.get(), 5);
    assert_eq!(x.trades().last().unwrap().trade_id.get(), 5);
    // Much later, everything finished is gone; the counts stay.
    x.place(
        10_000,
        &at(10_000, Side::Buy, "f", "0.01", "50100", Tif::Ioc),
    )
    .unwrap();
    assert_eq!(coids(&x), [coid("f").to_string()]);
    assert_eq!((x.order_count(), x.trade_count()), (6, 6));
    assert_eq!(x.trades().count(), 1);
    // Six buys of 0.01, each less its fee in BTC.
    assert_eq!(x.funds(&btc()).free, d("0.05994"));
}

#[test]
fn a_forgotten_order_leaves_a_newer_one_of_the_same_client_id_in_place() {
    let mut x = venue(retaining(Some(1000)), "100000", "0", "1");
    let s = btc_usdt();
    x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    // OpenOnly: a finished id is a new order.
    let again = x.place(500, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    x.place(1_000, &buy("z", "0.01", "50100", Tif::Ioc))
        .unwrap();
    assert_eq!(x.first_retained_order(), 1);
    assert_eq!(x.fetch_order(1_000, &s, &coid("a")).unwrap(), again);
    x.place(1_500, &buy("y", "0.01", "50100", Tif::Ioc))
        .unwrap();
    assert_eq!(
        x.fetch_order(1_500, &s, &coid("a")),
        Err(ExchangeError::NotFound)
    );
}

#[test]
fn an_open_order_at_the_front_holds_back_later_ones_until_it_ends() {
    let mut x = venue(retaining(Some(1000)), "100000", "1", "0.01");
    let s = btc_usdt();
    // g rests; a fills at once; j sells 0.01 at once and rests the rest.
    x.place(0, &buy("g", "0.01", "49900", Tif::Gtc)).unwrap();
    let a = x.place(0, &buy("a", "0.01", "50005", Tif::Ioc)).unwrap();
    assert_eq!(a.status, OrderStatus::Closed);
    let j = x.place(0, &sell("j", "0.05", "49995", Tif::Gtc)).unwrap();
    assert_eq!((j.status, j.filled), (OrderStatus::Open, d("0.01")));
    // Long after `a` ended, the open `g` in front keeps it.
    x.place(5_000, &buy("b", "0.01", "50010", Tif::Ioc))
        .unwrap();
    assert_eq!(x.orders().count(), 4);
    assert_eq!(x.fetch_order(5_000, &s, &coid("a")).unwrap(), a);
    assert_eq!(x.fetch_trades(5_000, &s, &a.order_id).unwrap().len(), 1);
    // g fills on a move down at 6000 (the resting sell j at 49995 does not).
    x.set_market(6_000, &s, d("49800"), d("2"), d("1"));
    let g = x.fetch_order(6_000, &s, &coid("g")).unwrap();
    assert_eq!(g.status, OrderStatus::Closed);
    let ids: Vec<_> = x.trades().map(|t| t.trade_id.get()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    // 6999: g ended 999 ms ago, nothing goes.
    x.place(6_999, &at(6_999, Side::Buy, "c", "0.01", "50000", Tif::Ioc))
        .unwrap();
    assert_eq!(x.first_retained_order(), 0);
    // 7000: g and a go; the open j stops the walk (b ended long ago but comes after it).
    x.place(7_000, &at(7_000, Side::Buy, "e", "0.01", "50000", Tif::Ioc))
        .unwrap();
    assert_eq!(x.first_retained_order(), 2);
    assert_eq!(coids(&x), ["j", "b", "c", "e"].map(|c| coid(c).to_string()));
    for gone in ["g", "a"] {
        assert_eq!(
            x.fetch_order(7_000, &s, &coid(gone)),
            Err(ExchangeError::NotFound)
        );
    }
    // a's trade T1 went; j's T2 (kept) now holds back g's T4 (forgotten order, unreachable).
    let ids: Vec<_> = x.trades().map(|t| t.trade_id.get()).collect();
    assert_eq!(ids[..3], [2, 3, 4]);
    assert!(x.fetch_trades(7_000, &s, &g.order_id).unwrap().is_empty());
    // The kept orders still work by their absolute indices: j fills on a move up, then
    // b is found, and a cancel finds j after the compaction.
    let fills = x.fetch_trades(7_000, &s, &j.order_id).unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(
        x.fetch_order(7_000, &s, &coid("b")).unwrap().status,
        OrderStatus::Closed
    );
    x.set_market(7_100, &s, d("50000"), d("2"), d("0.02"));
    let j_now = x.fetch_order(7_100, &s, &coid("j")).unwrap();
    assert_eq!((j_now.status, j_now.filled), (OrderStatus::Open, d("0.03")));
    assert_eq!(x.fetch_trades(7_100, &s, &j.order_id).unwrap().len(), 2);
    assert_eq!(x.open_orders().count(), 1);
    let canceled = x.cancel(7_200, &s, &coid("j")).unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(x.funds(&btc()).locked, d("0"));
    // Once j is old enough, everything before the newest goes, trades included.
    x.place(8_200, &at(8_200, Side::Buy, "h", "0.01", "50005", Tif::Ioc))
        .unwrap();
    assert_eq!(coids(&x), [coid("h").to_string()]);
    assert!(x.trades().all(|t| t.order_id.get() == 7));
    assert_eq!((x.order_count(), x.trades().count()), (7, 1));
}

#[test]
fn without_retention_nothing_is_ever_forgotten() {
    let mut x = venue(retaining(None), "100000", "1", "1");
    let s = btc_usdt();
    let a = x.place(0, &buy("a", "0.01", "50100", Tif::Ioc)).unwrap();
    x.place(0, &sell("b", "0.01", "60000", Tif::Gtc)).unwrap();
    x.cancel(1, &s, &coid("b")).unwrap();
    let late = crate::router::limits::MAX_TIME_MS;
    x.forget_before(late);
    x.place(late, &at(late, Side::Buy, "c", "0.01", "50100", Tif::Ioc))
        .unwrap();
    assert_eq!((x.first_retained_order(), x.first_retained_trade()), (0, 0));
    assert_eq!(x.orders().count(), 3);
    assert_eq!(x.trades().count(), 2);
    assert_eq!(x.fetch_order(late, &s, &coid("a")).unwrap(), a);
    assert_eq!(x.fetch_trades(late, &s, &a.order_id).unwrap().len(), 1);
    assert_eq!(
        x.fetch_order(late, &s, &coid("b")).unwrap().status,
        OrderStatus::Canceled
    );
}
