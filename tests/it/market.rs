//! The living market and the fill model as a user meets them: a maker order fills later in
//! the queue than on touch, and a recorded tape drives the market.

use std::path::Path;

use order_router::model::Symbol;
use order_router::sim::exchange::sim::{SimExchange, VenueConfig};
use order_router::sim::flow::queue::FillModel;
use order_router::sim::flow::tape;
use order_router::sim::scenario::{load, Scenario};
use order_router::sim::{run, Report, RunOptions};

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn replay(s: &Scenario, seed: u64) -> Report {
    run(
        s,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    )
}

/// The `t_ms` of the first `FILLED` line of the audit log.
fn filled_at(r: &Report) -> Option<u64> {
    String::from_utf8_lossy(&r.audit)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["state"] == "FILLED")
        .and_then(|v| v["t_ms"].as_u64())
}

/// The scenario under one fill model, its expectations and invariants holding.
fn under(model: FillModel, seed: u64) -> Report {
    let mut s = scenario("queue_vs_touch.csv");
    s.venue.market.fill_model = model;
    let r = replay(&s, seed);
    assert!(
        r.passed(),
        "{} seed {seed}: {:?} {:?}",
        model.name(),
        r.violation,
        r.failed_expects
    );
    r
}

// rule: fill_model
#[test]
fn a_maker_at_the_best_bid_fills_later_in_the_queue_than_on_touch() {
    let seed = scenario("queue_vs_touch.csv")
        .seed
        .expect("the file's seed");
    let queue = filled_at(&under(FillModel::Queue, seed)).expect("filled in the queue");
    let touch = filled_at(&under(FillModel::Touch, seed)).expect("filled on touch");
    // Touch: the first sell at its price, within a poll or two of placing it at 1 s. Queue:
    // only once the displayed size ahead has traded, or the market traded through it.
    assert!(touch < 2_000, "touch filled at {touch} ms");
    assert!(queue > touch + 10_000, "queue {queue} ms, touch {touch} ms");
    // Under other seeds the queue never fills before touch (the same market runs in both).
    for seed in 0..12 {
        let q = filled_at(&under(FillModel::Queue, seed));
        let t = filled_at(&under(FillModel::Touch, seed)).expect("touch fills");
        assert!(
            q.is_none_or(|q| q >= t),
            "seed {seed}: queue {q:?}, touch {t}"
        );
    }
}

const TRADES: &str = "../shared/data/market/binance_spot_btcusdt_trades_20210108.csv";
const QUOTES: &str = "../shared/data/market/binance_spot_btcusdt_quotes_20210108.csv";

/// The recording, or `None` with a message when `../shared` is not beside the repository.
fn recorded(path: &str) -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

/// A maker buy of 0.001 at `limit`, placed 100 ms into the recording, on a living market the
/// recorded tape plays, levels of 0.01 BTC where the tape does not say.
fn on_tape(path: &Path, model: FillModel, limit: &str) -> Report {
    let csv = format!(
        "t_ms,action,symbol,side,qty,price,params
0,config,,,,,market=live;fill_model={};tif=GTC;slippage_bps=0;poll_interval_ms=50;order_timeout_ms=60000
0,balance,USDT,,1000,,
0,price,BTC/USDT,,,39432,spread_bps=2;depth=0.01
100,intent,BTC/USDT,buy,0.001,{limit},id=maker
0,expect,,,,,intent=maker;final_state=RECONCILED;filled_qty=0.001
",
        model.name()
    );
    let mut s = order_router::sim::scenario::parse("tape.csv", csv.as_bytes()).expect("scenario");
    let symbol = s.market_symbol(None).expect("one market");
    let ticks = order_router::sim::market::load(path).expect("ticks");
    let tape = tape::load(path).expect("tape").expect("trades with sides");
    s.play_tape(&symbol, &ticks, tape);
    let r = replay(&s, 0);
    assert!(r.passed(), "{:?} {:?}", r.violation, r.failed_expects);
    r
}

// rule: fill_model
#[test]
fn recorded_binance_trades_fill_a_resting_bid_through_the_queue() {
    let Some(trades) = recorded(TRADES) else {
        return;
    };
    // The recording: a sell of 0.006329 at 39,432.48 at 193 ms, then a sell through it at
    // 39,432.37 at 332 ms. On touch the first fills the bid; in the queue it is behind the
    // 0.01 displayed and only the trade through it fills it.
    let touch = filled_at(&on_tape(&trades, FillModel::Touch, "39432.48")).expect("touch");
    let queue = filled_at(&on_tape(&trades, FillModel::Queue, "39432.48")).expect("queue");
    assert!((193..332).contains(&touch), "touch filled at {touch} ms");
    assert!((332..400).contains(&queue), "queue filled at {queue} ms");
}

#[test]
fn recorded_quotes_set_the_best_bid_and_ask_and_their_sizes() {
    let Some(quotes) = recorded(QUOTES) else {
        return;
    };
    let tape = tape::load(&quotes)
        .expect("tape")
        .expect("quotes with sizes");
    let mut cfg = VenueConfig::default();
    cfg.market.live = true;
    let s = Symbol::parse("BTC/USDT").expect("symbol");
    cfg.tapes.insert(s.clone(), tape);
    let mut x = SimExchange::new(cfg);
    x.set_market(0, &s, "39433".parse().unwrap(), 2.into(), 1.into());
    x.go_live(0, 0, true);
    x.advance_market(0);
    // The first quote: 39,432.99 for 0.0031, 39,433.62 for 0.066851 (rounded down to the lot).
    let (bid, ask) = x.best_bid_ask(&s).expect("both sides");
    assert_eq!(
        (bid.to_string(), ask.to_string()),
        ("39432.99".into(), "39433.62".into())
    );
    assert_eq!(x.bids(&s)[0].qty.to_string(), "0.0031");
    assert_eq!(x.asks(&s)[0].qty.to_string(), "0.06685");
    // The second, 81 ms later: 39,432.33 for 2.
    x.advance_market(81);
    assert_eq!(x.best_bid_ask(&s).expect("both").0.to_string(), "39432.33");
    assert_eq!(x.bids(&s)[0].qty.to_string(), "2");
    assert_eq!(x.public_trades().count(), 0, "quotes print no trades");
}

#[test]
fn a_tape_of_hand_made_trades_is_the_public_tape_in_full() {
    let csv = "trade_id,time_ms,price,qty,is_buyer_maker
1,5000,50000.00,0.000263,true
2,5010,50000.01,0.5,false
3,5030,49999.50,0.25,true
";
    let tape = tape::parse("tape.csv", csv.as_bytes()).unwrap().unwrap();
    let mut cfg = VenueConfig::default();
    cfg.market.live = true;
    let s = Symbol::parse("BTC/USDT").expect("symbol");
    cfg.tapes.insert(s.clone(), tape);
    let mut x = SimExchange::new(cfg);
    x.set_market(0, &s, 50000.into(), 2.into(), 1.into());
    x.go_live(0, 0, true);
    x.advance_market(30);
    let shown: Vec<String> = x
        .public_trades()
        .map(|p| format!("{} {} {} {}", p.t_ms, p.price, p.qty, p.buyer_maker))
        .collect();
    // Every trade, at its recorded time from the start, price, quantity (below the lot too)
    // and side.
    assert_eq!(
        shown,
        [
            "0 50000.00 0.000263 true",
            "10 50000.01 0.5 false",
            "30 49999.50 0.25 true"
        ]
    );
}
