//! Stop orders and order lists: triggers by the last trade, OCO pairs, OTO pending legs.

use super::*;

fn new(id: &str, side: Side, qty: &str, limit: &str, tif: Tif) -> NewOrder {
    NewOrder {
        client_order_id: ClientOrderId::new(id).unwrap(),
        symbol: btc_usdt(),
        side,
        qty: d(qty),
        limit_price: d(limit),
        tif,
        market: false,
    }
}

fn market(id: &str, side: Side, qty: &str) -> NewOrder {
    NewOrder {
        market: true,
        tif: Tif::Ioc,
        ..new(id, side, qty, "0", Tif::Ioc)
    }
}

fn stop(kind: StopKind, price: &str) -> Stop {
    Stop {
        kind,
        price: d(price),
    }
}

fn leg(order: NewOrder, stop: Option<Stop>, maker_only: bool) -> Leg {
    Leg {
        order,
        stop,
        maker_only,
    }
}

fn by_coid<'a>(x: &'a SimExchange, id: &str) -> &'a Order {
    x.order_by_coid(&btc_usdt(), &ClientOrderId::new(id).unwrap())
        .unwrap()
}

fn extras(x: &SimExchange, id: &str) -> OrderExtras {
    x.extras(&by_coid(x, id).order_id).unwrap()
}

/// A SELL OCO of 1 BTC: take profit as a limit maker at 50100, stop loss limit at 49900
/// (limit 49850), around the mid of 50000.
fn sell_oco(list_id: &str) -> NewList {
    NewList {
        list_client_id: ClientOrderId::new(list_id).unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Oco {
            above: leg(new("tp", Side::Sell, "1", "50100", Tif::Gtc), None, true),
            below: leg(
                new("sl", Side::Sell, "1", "49850", Tif::Gtc),
                Some(stop(StopKind::StopLoss, "49900")),
                false,
            ),
        },
    }
}

fn code(r: Result<u64, ExchangeError>) -> (i32, String) {
    match r {
        Err(ExchangeError::Rejected { code, message }) => (code, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// rule: stop_orders
#[test]
fn a_stop_loss_waits_locked_then_triggers_when_the_last_price_reaches_it() {
    let mut x = venue(VenueConfig::default(), "0", "1", "5");
    let s = btc_usdt();
    // The last price (the mid, 50000) is already below a sell stop at 50100.
    let early = x.submit_stop(
        1,
        market("early", Side::Sell, "1"),
        stop(StopKind::StopLoss, "50100"),
    );
    assert_eq!(
        rejected_with(early),
        (-2010, "Order would trigger immediately.".into())
    );
    let o = x
        .submit_stop(
            1,
            market("sl", Side::Sell, "1"),
            stop(StopKind::StopLoss, "49900"),
        )
        .unwrap();
    assert_eq!((o.status, o.filled), (OrderStatus::Open, Decimal::ZERO));
    assert!(extras(&x, "sl").waiting);
    assert_eq!(
        (x.funds(&btc()).free, x.funds(&btc()).locked),
        (d("0"), d("1"))
    );
    // Not reached: still waiting, nothing filled even though the bids are above nothing.
    x.set_market(2, &s, d("49950"), d("2"), d("5"));
    assert!(extras(&x, "sl").waiting);
    assert_eq!(by_coid(&x, "sl").filled, Decimal::ZERO);
    // Reached: it sells at the market.
    x.set_market(3, &s, d("49890"), d("2"), d("5"));
    let o = by_coid(&x, "sl").clone();
    assert_eq!((o.status, o.filled), (OrderStatus::Closed, d("1")));
    assert!(!extras(&x, "sl").waiting);
    assert_eq!(extras(&x, "sl").working_ms, Some(3));
    assert_eq!(x.funds(&btc()).total(), Decimal::ZERO);
    assert_eq!(
        x.trades_of(&o.order_id).next().unwrap().price,
        d("49885.01")
    );
}

// rule: stop_orders
#[test]
fn a_stop_limit_buy_triggers_on_the_accounts_own_trade() {
    let mut x = venue(VenueConfig::default(), "200000", "0", "1");
    // A buy stop above the last price (50000), to buy up to 50100.
    x.submit_stop(
        1,
        new("slb", Side::Buy, "0.5", "50100", Tif::Gtc),
        stop(StopKind::StopLoss, "50005"),
    )
    .unwrap();
    assert!(extras(&x, "slb").waiting);
    assert_eq!(x.funds(&usdt()).locked, d("25050"));
    // The account's own market buy prints at 50005: the stop is reached.
    x.submit(2, market("mkt", Side::Buy, "0.1")).unwrap();
    let o = by_coid(&x, "slb");
    assert_eq!((o.status, o.filled), (OrderStatus::Closed, d("0.5")));
    // It took what the market order left at 50005 (0.9), at no worse than its limit.
    assert!(x.trades_of(&o.order_id).all(|t| t.price <= d("50100")));
    assert_eq!(x.funds(&usdt()).locked, Decimal::ZERO);
}

// rule: order_lists
#[test]
fn a_sell_oco_locks_its_quantity_once_and_numbers_the_stop_leg_first() {
    let mut x = venue(VenueConfig::default(), "0", "1", "1");
    let id = x.submit_list(1, sell_oco("L1")).unwrap();
    assert_eq!(id, 0);
    let list = x.order_list(id).unwrap().clone();
    assert_eq!(list.contingency, Contingency::Oco);
    assert_eq!(list.orders.len(), 2);
    assert_eq!(list.orders[0], by_coid(&x, "sl").order_id);
    assert_eq!(list.orders[1], by_coid(&x, "tp").order_id);
    assert_eq!(
        (x.funds(&btc()).free, x.funds(&btc()).locked),
        (d("0"), d("1"))
    );
    assert_eq!(extras(&x, "tp").list_id, Some(0));
    assert!(x.list_open(0));
    // The same list client id is refused while the list is open.
    let again = x.submit_list(2, sell_oco("L1"));
    assert!(matches!(
        again,
        Err(ExchangeError::DuplicateClientOrderId(_))
    ));
    // A second OCO would need the BTC again: insufficient.
    let mut other = sell_oco("L2");
    if let ListShape::Oco { above, below } = &mut other.shape {
        above.order.client_order_id = ClientOrderId::new("tp2").unwrap();
        below.order.client_order_id = ClientOrderId::new("sl2").unwrap();
    }
    assert_eq!(
        code(x.submit_list(2, other)),
        (-2010, INSUFFICIENT_BALANCE.to_string())
    );
}

// rule: order_lists
#[test]
fn a_partial_fill_of_the_limit_leg_expires_the_stop_leg() {
    let mut x = venue(VenueConfig::default(), "0", "1", "0.4");
    x.submit_list(1, sell_oco("L")).unwrap();
    // The bids rise to the take-profit: one level (0.4) at or above 50100.
    x.set_market(2, &btc_usdt(), d("50110"), d("2"), d("0.4"));
    let tp = by_coid(&x, "tp").clone();
    assert_eq!((tp.status, tp.filled), (OrderStatus::Open, d("0.4")));
    let sl = by_coid(&x, "sl");
    assert_eq!(sl.status, OrderStatus::Expired);
    assert_eq!(extras(&x, "sl").expiry, Some(ExpiryReason::OcoTrigger));
    // The remaining 0.6 stays locked for the take-profit leg alone.
    assert_eq!(
        (x.funds(&btc()).free, x.funds(&btc()).locked),
        (d("0"), d("0.6"))
    );
    assert!(x.list_open(0));
    // Its last fill ends the list.
    x.set_market(3, &btc_usdt(), d("50200"), d("2"), d("1"));
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Closed);
    assert!(!x.list_open(0));
    assert_eq!(x.funds(&btc()).total(), Decimal::ZERO);
}

// rule: order_lists
#[test]
fn the_stop_leg_triggering_expires_the_limit_leg_and_takes_the_lock() {
    let mut x = venue(VenueConfig::default(), "0", "1", "1");
    x.submit_list(1, sell_oco("L")).unwrap();
    x.set_market(2, &btc_usdt(), d("49880"), d("2"), d("1"));
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Expired);
    assert_eq!(extras(&x, "tp").expiry, Some(ExpiryReason::OcoTrigger));
    let sl = by_coid(&x, "sl");
    assert_eq!((sl.status, sl.filled), (OrderStatus::Closed, d("1")));
    assert!(x.trades_of(&sl.order_id).all(|t| t.price >= d("49850")));
    assert_eq!(x.funds(&btc()).total(), Decimal::ZERO);
    assert!(!x.list_open(0));
}

// rule: order_lists
#[test]
fn a_buy_oco_locks_the_larger_of_its_legs_once() {
    let mut x = venue(VenueConfig::default(), "60000", "0", "1");
    let list = NewList {
        list_client_id: ClientOrderId::new("B").unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Oco {
            above: leg(
                new("bsl", Side::Buy, "1", "50200", Tif::Gtc),
                Some(stop(StopKind::StopLoss, "50100")),
                false,
            ),
            below: leg(new("btp", Side::Buy, "1", "49900", Tif::Gtc), None, true),
        },
    };
    x.submit_list(1, list).unwrap();
    assert_eq!(x.funds(&usdt()).locked, d("50200"));
    assert_eq!(x.funds(&usdt()).free, d("9800"));
    // The limit leg fills at 49900: the stop leg expires, what the buy did not spend returns.
    x.set_market(2, &btc_usdt(), d("49890"), d("2"), d("1"));
    let btp = by_coid(&x, "btp").clone();
    assert_eq!(btp.status, OrderStatus::Closed);
    assert_eq!(by_coid(&x, "bsl").status, OrderStatus::Expired);
    let paid = x.trades_of(&btp.order_id).next().unwrap().price;
    assert_eq!(paid, d("49894.99"));
    assert_eq!(x.funds(&usdt()).locked, Decimal::ZERO);
    assert_eq!(x.funds(&usdt()).free, d("60000") - paid);
}

// rule: order_lists
#[test]
fn oco_roles_and_price_relationships_are_binances() {
    let mut x = venue(VenueConfig::default(), "100000", "2", "1");
    let oco = |above: Leg, below: Leg| NewList {
        list_client_id: ClientOrderId::new("R").unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Oco { above, below },
    };
    let lm = |id: &str, side, px: &str| leg(new(id, side, "1", px, Tif::Gtc), None, true);
    let sl = |id: &str, side, px: &str| {
        leg(
            new(id, side, "1", px, Tif::Gtc),
            Some(stop(StopKind::StopLoss, px)),
            false,
        )
    };
    // SELL: limit 49990 is not above the last price (50000).
    let r = x.submit_list(
        1,
        oco(lm("a", Side::Sell, "49990"), sl("b", Side::Sell, "49900")),
    );
    assert_eq!(
        code(r),
        (
            -2010,
            "The relationship of the prices for the orders is not correct.".into()
        )
    );
    // SELL: the stop-loss leg must be below.
    let r = x.submit_list(
        1,
        oco(sl("a", Side::Sell, "49900"), lm("b", Side::Sell, "50100")),
    );
    assert_eq!(code(r).0, -1197);
    // SELL: a limit maker below.
    let r = x.submit_list(
        1,
        oco(lm("a", Side::Sell, "50100"), lm("b", Side::Sell, "49900")),
    );
    assert_eq!(code(r).0, -1166);
    // BUY: the stop-loss leg must be above.
    let r = x.submit_list(
        1,
        oco(lm("a", Side::Buy, "49900"), sl("b", Side::Buy, "50100")),
    );
    assert_eq!(code(r).0, -1196);
    // BUY: stop 49990 is not above the last price.
    let r = x.submit_list(
        1,
        oco(sl("a", Side::Buy, "49990"), lm("b", Side::Buy, "49900")),
    );
    assert_eq!(code(r).0, -2010);
    // Nothing was placed or locked by any of them.
    assert_eq!(x.order_count(), 0);
    assert_eq!(x.funds(&btc()).locked, Decimal::ZERO);
    assert_eq!(x.funds(&usdt()).locked, Decimal::ZERO);
}

// rule: order_lists
#[test]
fn cancelling_one_leg_cancels_the_list_and_releases_the_lock() {
    let mut x = venue(VenueConfig::default(), "0", "1", "1");
    x.submit_list(1, sell_oco("L")).unwrap();
    let tp = by_coid(&x, "tp").order_id;
    x.cancel_by_id(2, &btc_usdt(), &tp).unwrap();
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Canceled);
    assert_eq!(by_coid(&x, "sl").status, OrderStatus::Canceled);
    assert!(!x.list_open(0));
    assert_eq!(
        (x.funds(&btc()).free, x.funds(&btc()).locked),
        (d("1"), d("0"))
    );
    // A finished list cannot be cancelled again; its client id may be used again.
    assert_eq!(
        x.cancel_list(3, &btc_usdt(), 0).err(),
        Some(ExchangeError::NotFound)
    );
    x.submit_list(4, sell_oco("L")).unwrap();
    assert_eq!(x.order_list_by_client("L").map(|l| l.id), Some(1));
}

fn oto(working: NewOrder, pending: Leg) -> NewList {
    NewList {
        list_client_id: ClientOrderId::new("O").unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Oto {
            working: leg(working, None, false),
            pending,
        },
    }
}

// rule: order_lists
#[test]
fn an_oto_places_its_pending_leg_with_its_own_quantity_only_on_a_complete_fill() {
    let mut x = venue(VenueConfig::default(), "100000", "0", "0.2");
    let list = oto(
        new("w", Side::Buy, "0.5", "49900", Tif::Gtc),
        leg(new("p", Side::Sell, "0.3", "50200", Tif::Gtc), None, false),
    );
    x.submit_list(1, list).unwrap();
    assert_eq!(x.order_list(0).unwrap().contingency, Contingency::Oto);
    assert!(extras(&x, "p").pending);
    assert_eq!(by_coid(&x, "p").status, OrderStatus::Open);
    // Two ask levels of 0.2 at or below 49900: a partial fill leaves the leg pending.
    x.set_market(2, &btc_usdt(), d("49890"), d("2"), d("0.2"));
    assert_eq!(by_coid(&x, "w").filled, d("0.4"));
    assert!(extras(&x, "p").pending);
    assert_eq!(x.funds(&btc()).locked, Decimal::ZERO);
    // The rest fills: the pending sell goes on the book for 0.3, locking it.
    x.set_market(3, &btc_usdt(), d("49890"), d("2"), d("0.2"));
    assert_eq!(by_coid(&x, "w").status, OrderStatus::Closed);
    let p = by_coid(&x, "p");
    assert!(!extras(&x, "p").pending);
    assert_eq!(
        (p.status, p.amount, p.filled),
        (OrderStatus::Open, d("0.3"), d("0"))
    );
    assert_eq!(x.funds(&btc()).locked, d("0.3"));
    assert_eq!(extras(&x, "p").working_ms, Some(3));
}

// rule: order_lists
#[test]
fn an_oto_whose_working_leg_ends_unfilled_expires_or_cancels_the_pending_leg() {
    let mut x = venue(VenueConfig::default(), "100000", "0", "1");
    // An IOC working leg that cannot fill: it expires, and so does the pending leg.
    let list = oto(
        new("w", Side::Buy, "0.5", "49000", Tif::Ioc),
        leg(new("p", Side::Sell, "0.5", "50200", Tif::Gtc), None, false),
    );
    x.submit_list(1, list).unwrap();
    assert_eq!(by_coid(&x, "w").status, OrderStatus::Expired);
    assert_eq!(by_coid(&x, "p").status, OrderStatus::Expired);
    assert_eq!(
        extras(&x, "p").expiry,
        Some(ExpiryReason::OtoPhaseOneExpired)
    );
    // Cancelling the pending leg cancels the working one too.
    let list = oto(
        new("w2", Side::Buy, "0.5", "49000", Tif::Gtc),
        leg(new("p2", Side::Sell, "0.5", "50200", Tif::Gtc), None, false),
    );
    let id = x.submit_list(2, list).unwrap();
    let p2 = by_coid(&x, "p2").order_id;
    x.cancel_by_id(3, &btc_usdt(), &p2).unwrap();
    assert_eq!(by_coid(&x, "w2").status, OrderStatus::Canceled);
    assert!(!x.list_open(id));
    assert_eq!(x.funds(&usdt()).locked, Decimal::ZERO);
}

// rule: order_lists
#[test]
fn an_otoco_filled_at_once_places_its_pair_locking_once() {
    let mut x = venue(VenueConfig::default(), "100000", "0", "5");
    let list = NewList {
        list_client_id: ClientOrderId::new("T").unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Otoco {
            working: leg(new("w", Side::Buy, "1", "50010", Tif::Gtc), None, false),
            above: leg(new("tp", Side::Sell, "1", "50300", Tif::Gtc), None, true),
            below: leg(
                new("sl", Side::Sell, "1", "49700", Tif::Gtc),
                Some(stop(StopKind::StopLoss, "49750")),
                false,
            ),
        },
    };
    x.submit_list(1, list).unwrap();
    let l = x.order_list(0).unwrap();
    assert_eq!(l.orders.len(), 3);
    assert_eq!(l.working, Some(by_coid(&x, "w").order_id));
    // The stop-loss leg of the pair has the lower id.
    assert_eq!(l.orders[1], by_coid(&x, "sl").order_id);
    assert_eq!(by_coid(&x, "w").status, OrderStatus::Closed);
    // The pair needs 1 BTC (once for both legs), but the buy's fee in BTC left 0.999: the
    // pair could not be placed.
    assert!(!extras(&x, "tp").pending && !extras(&x, "sl").pending);
    assert_eq!(by_coid(&x, "sl").status, OrderStatus::Expired);
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Expired);
    assert_eq!(
        extras(&x, "tp").expiry,
        Some(ExpiryReason::InsufficientBalance)
    );
}

// rule: order_lists
#[test]
fn an_otoco_pair_shares_one_lock_once_placed() {
    let mut x = venue(VenueConfig::default(), "100000", "0.001", "5");
    let list = NewList {
        list_client_id: ClientOrderId::new("T").unwrap(),
        symbol: btc_usdt(),
        shape: ListShape::Otoco {
            working: leg(new("w", Side::Buy, "1", "50010", Tif::Gtc), None, false),
            above: leg(new("tp", Side::Sell, "1", "50300", Tif::Gtc), None, true),
            below: leg(
                new("sl", Side::Sell, "1", "49700", Tif::Gtc),
                Some(stop(StopKind::StopLoss, "49750")),
                false,
            ),
        },
    };
    x.submit_list(1, list).unwrap();
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Open);
    assert_eq!(by_coid(&x, "sl").status, OrderStatus::Open);
    assert_eq!(x.funds(&btc()).locked, d("1"));
    assert!(x.list_open(0));
    // The market falls through the stop: the take-profit leg expires, the stop sells.
    x.set_market(2, &btc_usdt(), d("49740"), d("2"), d("5"));
    assert_eq!(by_coid(&x, "tp").status, OrderStatus::Expired);
    assert_eq!(by_coid(&x, "sl").status, OrderStatus::Closed);
    assert!(!x.list_open(0));
    assert_eq!(x.funds(&btc()).locked, Decimal::ZERO);
}

// rule: stop_orders
#[test]
fn algo_order_limit_is_max_num_algo_orders() {
    let mut cfg = VenueConfig::default();
    cfg.limits.max_algo_orders = 1;
    let mut x = venue(cfg, "0", "2", "1");
    x.submit_stop(
        1,
        market("s1", Side::Sell, "1"),
        stop(StopKind::StopLoss, "49000"),
    )
    .unwrap();
    let r = x.submit_stop(
        1,
        market("s2", Side::Sell, "1"),
        stop(StopKind::StopLoss, "49000"),
    );
    assert_eq!(
        rejected_with(r),
        (-1013, "Filter failure: MAX_NUM_ALGO_ORDERS".into())
    );
}
