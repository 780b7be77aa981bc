//! `input_guards`: the router's settings, the intent and the assembler, and the portfolio
//! refuse what is out of bounds and take what is exactly at a bound.
//!
//! A scenario's own inputs are checked by its parser before the router sees them, so a run
//! alone never reaches these guards; yet a guard that lets a bad setting through, or refuses
//! a good one, is a bug users meet. Once per run the harness probes them directly, with
//! amounts drawn from the run's seed, against the bounds the reference states (docs/limits).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::decision::{assemble, Guards, Intent, Risk, Signal};
use crate::exchange::Trade;
use crate::model::{
    ceil_to, floor_to, on_grid, Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, TradeId,
};
use crate::portfolio::{Portfolio, PortfolioError};
use crate::router::limits::*;
use crate::router::{Action, Finished, Resume, RouterConfig, State};

/// Probes every guard once; the first one that fails, as a sentence.
pub fn probe(seed: u64, cfg: &RouterConfig) -> Option<String> {
    // A stream of its own, so the probes do not shift what the run itself draws.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6775_6172_6473);
    config(cfg)
        .and_then(|()| rounding(&mut rng))
        .and_then(|()| intent(&mut rng))
        .and_then(|()| portfolio(&mut rng))
        .and_then(|()| finished(&mut rng))
        .and_then(|()| names())
        .err()
}

/// The names users read (in the log, `recover`'s plan, violation messages) are the documented
/// ones.
fn names() -> Result<(), String> {
    for s in State::ALL {
        if s.to_string() != s.as_str() || State::parse(s.as_str()) != Some(s) {
            return Err(format!(
                "state {s:?} is written {s} and named {}",
                s.as_str()
            ));
        }
    }
    let plan = [
        (Resume::Reserve, "reserve"),
        (Resume::Place, "place"),
        (Resume::Query, "query"),
        (Resume::Poll, "poll"),
        (Resume::EndAttempt, "end_attempt"),
        (Resume::Backoff, "backoff"),
        (Resume::Reconcile, "reconcile"),
        (Resume::Wait, "wait"),
    ];
    if let Some((r, name)) = plan.iter().find(|(r, name)| r.as_str() != *name) {
        return Err(format!(
            "the restart plan {r:?} is named {:?}, not {name:?}",
            r.as_str()
        ));
    }
    let symbol = Symbol::parse("BTC/USDT").map_err(|e| e.to_string())?;
    let coid = ClientOrderId::generated("probe");
    let actions = [
        (
            Action::FetchOrder {
                symbol: symbol.clone(),
                client_order_id: coid.clone(),
            },
            "fetch_order",
        ),
        (
            Action::FetchTrades {
                symbol: symbol.clone(),
                order_id: OrderId::numbered(1),
            },
            "fetch_trades",
        ),
        (
            Action::Cancel {
                symbol,
                client_order_id: coid,
            },
            "cancel",
        ),
    ];
    if let Some((a, name)) = actions.iter().find(|(a, name)| a.name() != *name) {
        return Err(format!(
            "the request {a:?} is named {:?}, not {name:?}",
            a.name()
        ));
    }
    Ok(())
}

/// The set of finished intents (what idempotency outlives every intent by): an entry is found
/// with its state until removed, whatever the state's bits, and a removal says what it held.
fn finished(rng: &mut ChaCha8Rng) -> Result<(), String> {
    let mut set = Finished::default();
    if !set.is_empty() {
        return Err("a new finished set is not empty".into());
    }
    let states = [State::Reconciled, State::Failed, State::FailedFinal];
    let fps: Vec<u64> = (0..8).map(|_| rng.random::<u64>()).collect();
    for (i, fp) in fps.iter().enumerate() {
        set.insert(*fp, states[i % 3]);
    }
    for (i, fp) in fps.iter().enumerate() {
        if set.get(*fp) != Some(states[i % 3]) {
            return Err(format!(
                "a finished intent's state reads back as {:?}",
                set.get(*fp)
            ));
        }
    }
    if set.is_empty() {
        return Err("a finished set holding 8 intents says it is empty".into());
    }
    let counts = set.by_state().map(|(_, n)| n);
    if counts != [3, 3, 2, 0] {
        return Err(format!(
            "8 finished intents in turn RECONCILED, FAILED, FAILED_FINAL count by state as {counts:?}"
        ));
    }
    // What a snapshot file stores, read back.
    let mut copy = Finished::default();
    for raw in set.raw() {
        if !copy.insert_raw(raw) {
            return Err(format!(
                "a stored entry {raw:#x} of the finished set does not read back"
            ));
        }
    }
    if let Some(fp) = fps.iter().find(|fp| copy.get(**fp) != set.get(**fp)) {
        return Err(format!(
            "the finished set read back from its stored entries says {:?} for an intent it held as {:?}",
            copy.get(*fp),
            set.get(*fp)
        ));
    }
    let gone = fps[0];
    if set.remove(gone) != Some(states[0]) || set.get(gone).is_some() || set.len() != 7 {
        return Err(
            "a finished intent removed from the set is still there, or its state was lost".into(),
        );
    }
    Ok(())
}

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

/// The smallest step above zero that amounts are written in.
const EPS: Decimal = Decimal::from_parts(1, 0, 0, false, 8);

fn config(base: &RouterConfig) -> Result<(), String> {
    type Edit = fn(&mut RouterConfig);
    // (field, a setting at its bound, a setting past it)
    let cases: [(&str, Edit, Edit); 17] = [
        (
            "max_retries",
            |c| c.max_retries = MAX_RETRIES,
            |c| c.max_retries = MAX_RETRIES + 1,
        ),
        (
            "backoff_ms",
            |c| {
                c.backoff_ms = MAX_WAIT_MS;
                c.backoff_max_ms = MAX_WAIT_MS;
            },
            |c| {
                c.backoff_ms = MAX_WAIT_MS + 1;
                c.backoff_max_ms = MAX_WAIT_MS;
            },
        ),
        (
            "backoff_max_ms",
            |c| c.backoff_max_ms = MAX_WAIT_MS,
            |c| c.backoff_max_ms = MAX_WAIT_MS + 1,
        ),
        (
            "backoff_max_ms",
            |c| c.backoff_max_ms = c.backoff_ms,
            |c| {
                c.backoff_ms = c.backoff_ms.max(1);
                c.backoff_max_ms = c.backoff_ms - 1;
            },
        ),
        (
            "request_timeout_ms",
            |c| c.request_timeout_ms = 1,
            |c| c.request_timeout_ms = 0,
        ),
        (
            "request_timeout_ms",
            |c| c.request_timeout_ms = MAX_WAIT_MS,
            |c| c.request_timeout_ms = MAX_WAIT_MS + 1,
        ),
        (
            "poll_interval_ms",
            |c| c.poll_interval_ms = 1,
            |c| c.poll_interval_ms = 0,
        ),
        (
            "poll_interval_ms",
            |c| c.poll_interval_ms = MAX_WAIT_MS,
            |c| c.poll_interval_ms = MAX_WAIT_MS + 1,
        ),
        (
            "recv_window_ms",
            |c| c.recv_window_ms = MAX_RECV_WINDOW_MS,
            |c| c.recv_window_ms = MAX_RECV_WINDOW_MS + 1,
        ),
        (
            "order_timeout_ms",
            |c| c.order_timeout_ms = MAX_ORDER_TIMEOUT_MS,
            |c| c.order_timeout_ms = MAX_ORDER_TIMEOUT_MS + 1,
        ),
        (
            "slippage_bps",
            |c| c.slippage_bps = MAX_BPS - EPS,
            |c| c.slippage_bps = MAX_BPS,
        ),
        (
            "slippage_bps",
            |c| c.slippage_bps = Decimal::ZERO,
            |c| c.slippage_bps = -EPS,
        ),
        (
            "min_notional",
            |c| c.min_notional = MAX_AMOUNT,
            |c| c.min_notional = MAX_AMOUNT + EPS,
        ),
        (
            "min_notional",
            |c| c.min_notional = Decimal::ZERO,
            |c| c.min_notional = -EPS,
        ),
        (
            "tick_size",
            |c| c.default_rules.tick_size = EPS,
            |c| c.default_rules.tick_size = Decimal::ZERO,
        ),
        (
            "step_size",
            |c| c.default_rules.step_size = MAX_AMOUNT,
            |c| c.default_rules.step_size = MAX_AMOUNT + EPS,
        ),
        (
            "fee_bps",
            |c| {
                if let Some(r) = c.markets.values_mut().next_back() {
                    r.fee_bps = MAX_BPS - EPS;
                }
            },
            |c| match c.markets.values_mut().next_back() {
                Some(r) => r.fee_bps = MAX_BPS,
                None => c.default_rules.fee_bps = -EPS,
            },
        ),
    ];
    for (field, at, past) in cases {
        let mut ok = base.clone();
        at(&mut ok);
        if let Err(e) = ok.validate() {
            return Err(format!(
                "router settings: a setting at the bound of `{field}` was refused: {}: {}",
                e.field, e.message
            ));
        }
        let mut bad = base.clone();
        past(&mut bad);
        match bad.validate() {
            Ok(()) => {
                return Err(format!(
                    "router settings: a `{field}` past its bound was taken"
                ))
            }
            Err(e) if e.field != field => {
                return Err(format!(
                    "router settings: a `{field}` past its bound was refused as `{}`",
                    e.field
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// The lot and tick rounding against plain division: a power-of-ten step and any other, a
/// value on the grid, one just off it, and a random one.
fn rounding(rng: &mut ChaCha8Rng) -> Result<(), String> {
    let steps = [
        d(1, rng.random_range(0..=8)),
        d(rng.random_range(2..=50), rng.random_range(0..=6)),
    ];
    for step in steps {
        let k = rng.random_range(0..=1_000_000i64);
        let on = step * Decimal::from(k);
        let values = [
            on,
            on + EPS * d(1, 2),
            on - EPS * d(1, 2),
            d(
                rng.random_range(-1_000_000_000..=1_000_000_000),
                rng.random_range(0..=10),
            ),
        ];
        for x in values {
            let down = (x / step).floor() * step;
            let up = (x / step).ceil() * step;
            let grid = (x % step).is_zero();
            if floor_to(x, step) != Some(down) || ceil_to(x, step) != Some(up) {
                return Err(format!(
                    "rounding: {x} to a step of {step} gave {:?} down and {:?} up, not {down} and {up}",
                    floor_to(x, step),
                    ceil_to(x, step)
                ));
            }
            if on_grid(x, step) != grid {
                return Err(format!(
                    "rounding: {x} is {}on the grid of {step}, yet on_grid says {}",
                    if grid { "" } else { "not " },
                    !grid
                ));
            }
        }
    }
    if on_grid(Decimal::ONE, Decimal::ZERO) || floor_to(Decimal::ONE, Decimal::ZERO).is_some() {
        return Err("rounding: a zero step was taken".into());
    }
    Ok(())
}

fn intent(rng: &mut ChaCha8Rng) -> Result<(), String> {
    let symbol = Symbol::parse("BTC/USDT").map_err(|e| e.to_string())?;
    let id = IntentId::generated("probe");
    let price = d(rng.random_range(1..=10_000_000), 2);
    let qty = d(rng.random_range(1..=1_000_000), 6);
    let make = |q: Decimal, p: Decimal| Intent::new(id.clone(), 0, symbol.clone(), Side::Buy, q, p);
    if make(EPS, EPS).is_err() {
        return Err("intent: the smallest positive quantity and price were refused".into());
    }
    for (q, p, what) in [
        (Decimal::ZERO, price, "a zero quantity"),
        (-qty, price, "a negative quantity"),
        (qty, Decimal::ZERO, "a zero price"),
        (qty, -price, "a negative price"),
    ] {
        if make(q, p).is_ok() {
            return Err(format!("intent: {what} was taken"));
        }
    }
    let signal = |p: Decimal| Signal {
        ts_ms: 1,
        symbol: symbol.clone(),
        side: Side::Sell,
        ref_price: p,
    };
    let pass = Guards::pass();
    if assemble(&signal(price), &pass, &Risk { qty }).is_none() {
        return Err("assembler: a positive signal with every guard passed gave no intent".into());
    }
    // A market whose name does not fit: the readable part is cut, and the id uses all the
    // room an id has (the hash keeps ids of different markets apart).
    let long = Symbol::parse(&format!("{}/USDT", "L".repeat(110))).map_err(|e| e.to_string())?;
    let on_long = Signal {
        symbol: long,
        ..signal(price)
    };
    match assemble(&on_long, &pass, &Risk { qty }) {
        Some(i) if i.intent_id().as_str().len() == 128 && i.intent_id().as_str().starts_with("1-LLL") => {}
        other => {
            return Err(format!(
                "assembler: on a market named by 114 characters the id is {:?}, not 128 characters that begin with the time and the market",
                other.map(|i| i.intent_id().clone())
            ))
        }
    }
    let vetoed = Guards {
        checks: vec![("probe".into(), false)],
    };
    for (s, g, q, what) in [
        (signal(price), &vetoed, qty, "a failed guard"),
        (signal(price), &pass, Decimal::ZERO, "a zero quantity"),
        (signal(price), &pass, -qty, "a negative quantity"),
        (signal(Decimal::ZERO), &pass, qty, "a zero price"),
        (signal(-price), &pass, qty, "a negative price"),
    ] {
        if assemble(&s, g, &Risk { qty: q }).is_some() {
            return Err(format!("assembler: a signal with {what} gave an intent"));
        }
    }
    Ok(())
}

fn portfolio(rng: &mut ChaCha8Rng) -> Result<(), String> {
    let err = |what: &str| Err(format!("portfolio: {what}"));
    let quote = Asset::generated("USDT");
    let base = Asset::generated("BTC");
    let third = Asset::generated("BNB");
    let symbol = Symbol::parse("BTC/USDT").map_err(|e| e.to_string())?;
    let total = d(rng.random_range(100..=10_000_000), 2);
    let mut p = Portfolio::new();
    p.deposit(&quote, total).map_err(|e| e.to_string())?;
    p.deposit(&third, d(1, 2)).map_err(|e| e.to_string())?;
    if p.reserve(&quote, total + EPS).is_ok() {
        return err("a reservation beyond the available balance was taken");
    }
    let Ok(mut r) = p.reserve(&quote, total) else {
        return err("a reservation of exactly the available balance was refused");
    };
    let before = p.clone();
    if p.release(&mut r, -EPS).is_ok() || p.release(&mut r, total + EPS).is_ok() {
        return err("a release below zero or beyond the reservation was taken");
    }
    if p != before || r.amount() != total {
        return err("a refused release changed the balances");
    }
    let part = d(rng.random_range(0..=total.mantissa() as i64), 2);
    if p.release(&mut r, Decimal::ZERO).is_err() || p.release(&mut r, part).is_err() {
        return err("a release of nothing, or within the reservation, was refused");
    }
    let held = total - part;
    if r.amount() != held || p.balance(&quote).reserved != held {
        return err("a release did not lower the reservation by its amount");
    }
    let trade = |price: Decimal, fee: Decimal, fee_asset: &Asset, symbol: &Symbol| Trade {
        trade_id: TradeId::numbered(u64::MAX >> 1),
        order_id: OrderId::numbered(u64::MAX >> 1),
        symbol: symbol.clone(),
        side: Side::Buy,
        price,
        qty: Decimal::ONE,
        fee,
        fee_asset: fee_asset.clone(),
        t_ms: 0,
    };
    let fee = d(rng.random_range(0..=100), 2).min(held);
    let other = Symbol::parse("BNB/USDT").map_err(|e| e.to_string())?;
    let before = p.clone();
    let refused = [
        (
            trade(held - fee + EPS, fee, &quote, &symbol),
            "spending more than held",
        ),
        (
            trade(held, d(2, 2), &third, &symbol),
            "a fee beyond its asset's balance",
        ),
        (
            trade(held - fee, fee, &quote, &other),
            "a trade of another market",
        ),
    ];
    for (t, what) in refused {
        if p.apply_fills(&mut r, &symbol, std::slice::from_ref(&t))
            .is_ok()
        {
            return Err(format!("portfolio: a booking {what} was taken"));
        }
        if p != before || r.amount() != held {
            return Err(format!(
                "portfolio: a refused booking ({what}) changed the balances"
            ));
        }
    }
    // A fee in a third asset beyond its balance is refused as such; one of exactly its
    // balance is taken (below).
    match p.apply_fills(&mut r, &symbol, &[trade(held, d(2, 2), &third, &symbol)]) {
        Err(crate::portfolio::PortfolioError::Insufficient { asset, wanted, .. })
            if asset == third && wanted == d(2, 2) => {}
        other => {
            return Err(format!(
                "portfolio: a fee beyond its asset's balance gave {other:?}"
            ))
        }
    }
    let exact = trade(held - fee, fee, &quote, &symbol);
    if p.apply_fills(&mut r, &symbol, std::slice::from_ref(&exact))
        .is_err()
    {
        return err("a booking of exactly what was held was refused");
    }
    // A second reservation, released whole by amount.
    let Ok(mut whole) = p.reserve(&base, Decimal::ONE) else {
        return err("a reservation of what a booking brought in was refused");
    };
    if p.release(&mut whole, Decimal::ONE).is_err() || whole.amount() != Decimal::ZERO {
        return err("a release of exactly what was held was refused");
    }
    let listed: Vec<(Asset, Decimal, Decimal)> = p
        .balances()
        .map(|(a, b)| (a.clone(), b.total, b.reserved))
        .collect();
    let expected: Vec<(Asset, Decimal, Decimal)> = [&third, &base, &quote]
        .into_iter()
        .map(|a| (a.clone(), p.balance(a).total, p.balance(a).reserved))
        .collect();
    if listed != expected {
        return Err(format!(
            "portfolio: balances() lists {listed:?}, the balances are {expected:?}"
        ));
    }
    let mut spare = p.reserve(&quote, total - held).ok();
    if let Some(r) = spare.as_mut() {
        let t = trade(Decimal::ZERO, d(1, 2), &third, &symbol);
        if p.apply_fills(
            r,
            &symbol,
            &[Trade {
                qty: Decimal::ZERO,
                ..t
            }],
        )
        .is_err()
        {
            return err("a fee of exactly its asset's balance was refused");
        }
        if p.balance(&third).total != Decimal::ZERO {
            return err("a fee in a third asset was not taken from it");
        }
    }
    if let Some(r) = spare {
        p.release_all(r);
    }
    let q = p.balance(&quote);
    if r.amount() != Decimal::ZERO
        || q.total != total - held
        || q.reserved != Decimal::ZERO
        || p.balance(&base).total != Decimal::ONE
    {
        return err("a booking moved the balances by other than what it spent and brought in");
    }
    // Recovery's rebooking: a move that would take a total below zero is refused, naming what
    // it wanted and what there was, and changes nothing.
    let before = p.clone();
    let have = p.balance(&quote).total;
    match p.rebook(&quote, -(have + EPS)) {
        Err(PortfolioError::Insufficient {
            wanted, available, ..
        }) if wanted == have + EPS && available == have => {}
        other => {
            return Err(format!(
                "portfolio: rebooking {} of {have} {quote} gave {other:?}",
                -(have + EPS)
            ))
        }
    }
    if p != before || p.rebook(&quote, -have).is_err() || p.balance(&quote).total != Decimal::ZERO {
        return err(
            "rebooking changed the balances when refused, or refused a move to exactly zero",
        );
    }
    Ok(())
}
