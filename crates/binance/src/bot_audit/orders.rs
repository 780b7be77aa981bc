//! The order rules: orphans, probable double orders, client ids reused after a fill, orders
//! resting unseen, cancels of orders the client knew were finished. One pass over a run keeps
//! every order as the record shows it (created by a placement's or cancel's `order`, filled
//! by the `trades`), every placement whose outcome the client could not know, and the first
//! query that would have told the client about it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::record::{Line, ORDER};
use super::{evidence, Evidence, Finding, Kind, Out};

/// An order as the record shows it so far.
struct Track {
    who: String,
    symbol: String,
    side: String,
    coid: String,
    orig_qty: Decimal,
    executed: Decimal,
    notional: Decimal,
    status: String,
    open: bool,
    /// Index of the placement line.
    placed: usize,
    /// An answer the client got said the order was finished.
    known_final: bool,
}

/// What a placement asked for: two placements of the same shape are the same order.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    symbol: String,
    side: String,
    kind: String,
    qty: Option<Decimal>,
    quote_qty: Option<Decimal>,
    price: Option<Decimal>,
}

impl Shape {
    fn of(l: &Line) -> Shape {
        Shape {
            symbol: l.param("symbol").unwrap_or_default().to_string(),
            side: l.param("side").unwrap_or_default().to_string(),
            kind: l.param("type").unwrap_or_default().to_string(),
            qty: l.param_dec("quantity"),
            quote_qty: l.param_dec("quoteOrderQty"),
            price: l.param_dec("price"),
        }
    }

    /// Same market, side and type; quantities and prices within 1%.
    fn same(&self, o: &Shape) -> bool {
        self.symbol == o.symbol
            && self.side == o.side
            && self.kind == o.kind
            && close(self.qty, o.qty)
            && close(self.quote_qty, o.quote_qty)
            && close(self.price, o.price)
    }
}

/// Both absent, or within 1% of the first.
fn close(a: Option<Decimal>, b: Option<Decimal>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let diff = a.checked_sub(b).map(|d| d.abs());
            let tolerance = a.abs().checked_div(Decimal::ONE_HUNDRED);
            matches!((diff, tolerance), (Some(d), Some(t)) if d <= t)
        }
        _ => false,
    }
}

/// A placement whose outcome the client could not know from what it got.
struct Attempt {
    at: usize,
    who: String,
    shape: Shape,
    /// The client order id the client sent (it knows no other).
    coid: Option<String>,
    /// The order the venue created, if it did.
    order: Option<u64>,
    /// The first later request that would have told the client about it.
    asked: Option<usize>,
    /// Already matched with a later placement of the same shape.
    paired: bool,
}

fn is_open(status: &str) -> bool {
    matches!(status, "NEW" | "PARTIALLY_FILLED")
}

/// An answer that tells the client about orders: a success, or "no such order".
fn informative(l: &Line) -> bool {
    l.answered()
        && !l.outcome_unknown()
        && (l.status == Some(200) || matches!(l.code, Some(-2013 | -2011)))
}

/// The newest order under each (market, client order id): the one the venue answers about.
type ByCoid = BTreeMap<(String, String), u64>;

/// The order a query or cancel names.
fn named<'a>(
    l: &Line,
    orders: &'a BTreeMap<u64, Track>,
    by_coid: &ByCoid,
) -> Option<(u64, &'a Track)> {
    let symbol = l.param("symbol")?;
    if let Some(id) = l.param("orderId").and_then(|s| s.parse::<u64>().ok()) {
        return orders
            .get(&id)
            .filter(|t| t.symbol == symbol)
            .map(|t| (id, t));
    }
    let coid = l.param("origClientOrderId")?;
    let id = *by_coid.get(&(symbol.to_string(), coid.to_string()))?;
    orders.get(&id).map(|t| (id, t))
}

/// Whether request `l` (an informative answer to the attempt's client) would have shown it.
fn covers(l: &Line, a: &Attempt, orders: &BTreeMap<u64, Track>) -> bool {
    let symbol = l.param("symbol");
    let on_symbol = symbol == Some(a.shape.symbol.as_str());
    let track = a.order.and_then(|id| orders.get(&id));
    let order_id = l.param("orderId").and_then(|s| s.parse::<u64>().ok());
    match (l.method.as_str(), l.path.as_str()) {
        ("GET" | "DELETE", ORDER) => {
            on_symbol
                && ((order_id.is_some() && order_id == a.order)
                    || (a.coid.is_some() && l.param("origClientOrderId") == a.coid.as_deref()))
        }
        ("GET", "/api/v3/openOrders") => {
            (symbol.is_none() || on_symbol) && track.is_none_or(|t| t.open)
        }
        ("DELETE", "/api/v3/openOrders") => on_symbol && track.is_none_or(|t| t.open),
        ("GET", "/api/v3/allOrders") => {
            on_symbol && order_id.is_none_or(|from| a.order.is_none_or(|id| from <= id))
        }
        ("GET", "/api/v3/myTrades") => {
            on_symbol
                && track.is_none_or(|t| t.executed > Decimal::ZERO)
                && order_id.is_none_or(|id| Some(id) == a.order)
        }
        _ => false,
    }
}

/// The attempts not yet asked about, indexed by what can ask about them, so a long record of a
/// client that never asks costs time in proportion to its length. Entries go stale when an
/// attempt is asked about (or paired) and are dropped when next met.
#[derive(Default)]
struct Pending {
    /// Per (client, market): not created, or created and not known to have ended.
    open: BTreeMap<(String, String), Vec<usize>>,
    /// Per (client, market): created and ended (open orders can no longer show them).
    ended: BTreeMap<(String, String), Vec<usize>>,
    by_coid: BTreeMap<(String, String, String), Vec<usize>>,
    by_order: BTreeMap<(String, u64), usize>,
    /// Per (client, market): not yet matched with a later placement of the same shape.
    unpaired: BTreeMap<(String, String), Vec<usize>>,
}

impl Pending {
    fn add(&mut self, k: usize, a: &Attempt) {
        let market = (a.who.clone(), a.shape.symbol.clone());
        self.open.entry(market.clone()).or_default().push(k);
        self.unpaired.entry(market).or_default().push(k);
        if let Some(c) = &a.coid {
            let key = (a.who.clone(), a.shape.symbol.clone(), c.clone());
            self.by_coid.entry(key).or_default().push(k);
        }
        if let Some(id) = a.order {
            self.by_order.insert((a.who.clone(), id), k);
        }
    }

    /// The attempts request `l` of `who` might ask about (then `covers` decides).
    fn candidates(
        &mut self,
        l: &Line,
        who: &str,
        attempts: &[Attempt],
        orders: &BTreeMap<u64, Track>,
    ) -> Vec<usize> {
        let asked = |k: &usize| attempts[*k].asked.is_some();
        let ended = |k: &usize| {
            attempts[*k]
                .order
                .and_then(|id| orders.get(&id))
                .is_some_and(|t| !t.open)
        };
        let symbol = l.param("symbol").map(str::to_string);
        let mut found = Vec::new();
        match (l.method.as_str(), l.path.as_str(), symbol) {
            ("GET" | "DELETE", ORDER, Some(sym)) => {
                if let Some(c) = l.param("origClientOrderId") {
                    let key = (who.to_string(), sym, c.to_string());
                    found.extend(self.by_coid.get(&key).into_iter().flatten().copied());
                }
                if let Some(id) = l.param("orderId").and_then(|s| s.parse::<u64>().ok()) {
                    found.extend(self.by_order.get(&(who.to_string(), id)).copied());
                }
            }
            ("GET" | "DELETE", "/api/v3/openOrders", sym) => {
                let keys: Vec<(String, String)> = match sym {
                    Some(s) => vec![(who.to_string(), s)],
                    None => self
                        .open
                        .keys()
                        .filter(|(w, _)| w == who)
                        .cloned()
                        .collect(),
                };
                for key in keys {
                    let Some(list) = self.open.get_mut(&key) else {
                        continue;
                    };
                    let mut moved = Vec::new();
                    list.retain(|k| {
                        if asked(k) {
                            false
                        } else if ended(k) {
                            moved.push(*k);
                            false
                        } else {
                            found.push(*k);
                            true
                        }
                    });
                    self.ended.entry(key).or_default().extend(moved);
                }
            }
            ("GET", "/api/v3/allOrders" | "/api/v3/myTrades", Some(sym)) => {
                let key = (who.to_string(), sym);
                for list in [self.open.get_mut(&key), self.ended.get_mut(&key)]
                    .into_iter()
                    .flatten()
                {
                    list.retain(|k| !asked(k));
                    found.extend(list.iter().copied());
                }
            }
            _ => {}
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The first attempt of `who` on `shape`'s market, not asked about and not yet matched,
    /// that `shape` under client id `coid` places again.
    fn twin(
        &mut self,
        who: &str,
        shape: &Shape,
        coid: Option<&String>,
        attempts: &[Attempt],
    ) -> Option<usize> {
        let list = self
            .unpaired
            .get_mut(&(who.to_string(), shape.symbol.clone()))?;
        list.retain(|k| attempts[*k].asked.is_none() && !attempts[*k].paired);
        list.iter().copied().find(|&k| {
            let a = &attempts[k];
            a.shape.same(shape) && (a.coid.is_none() || a.coid.as_ref() != coid)
        })
    }
}

pub(super) fn audit_run(lines: &[Line], out: &mut Out) {
    let mut orders: BTreeMap<u64, Track> = BTreeMap::new();
    let mut by_coid: ByCoid = BTreeMap::new();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut pending = Pending::default();
    let mut doubles: Vec<(usize, usize)> = Vec::new();
    let mut reused: Vec<(u64, u64)> = Vec::new();
    let mut cancels: Vec<(usize, u64)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let who = l.who();
        // The order the request created or changed.
        if let Some(o) = &l.order {
            match orders.get_mut(&o.order_id) {
                Some(t) => {
                    t.status = o.status.clone();
                    t.open = is_open(&o.status);
                }
                None if l.is_placement() => {
                    let key = (o.symbol.clone(), o.client_order_id.clone());
                    if let Some(first) = by_coid.insert(key, o.order_id) {
                        if orders
                            .get(&first)
                            .is_some_and(|t| t.executed > Decimal::ZERO)
                        {
                            reused.push((first, o.order_id));
                        }
                    }
                    out.stats(who).orders += 1;
                    orders.insert(
                        o.order_id,
                        Track {
                            who: who.to_string(),
                            symbol: o.symbol.clone(),
                            side: o.side.clone(),
                            coid: o.client_order_id.clone(),
                            orig_qty: o.orig_qty,
                            executed: Decimal::ZERO,
                            notional: Decimal::ZERO,
                            status: o.status.clone(),
                            open: is_open(&o.status),
                            placed: i,
                            known_final: false,
                        },
                    );
                }
                None => {}
            }
        }
        // Trades since the previous line: this request's, and resting orders' fills.
        for tr in &l.trades {
            let Some(t) = orders.get_mut(&tr.order_id) else {
                continue;
            };
            t.executed = t.executed.checked_add(tr.qty).unwrap_or(t.executed);
            let n = tr.price.checked_mul(tr.qty).unwrap_or(Decimal::ZERO);
            t.notional = t.notional.checked_add(n).unwrap_or(t.notional);
            if t.executed >= t.orig_qty {
                t.open = false;
                t.status = "FILLED".into();
            } else if t.open {
                t.status = "PARTIALLY_FILLED".into();
            }
        }
        // What the client was told about an order's end.
        if l.answered() && l.status == Some(200) {
            let told = if l.is_placement() || l.is("DELETE", ORDER) {
                l.order.as_ref().map(|o| o.order_id)
            } else if l.is("GET", ORDER) {
                named(l, &orders, &by_coid).map(|(id, _)| id)
            } else {
                None
            };
            if let Some(t) = told.and_then(|id| orders.get_mut(&id)) {
                if !t.open {
                    t.known_final = true;
                }
            }
        }
        if l.is("DELETE", ORDER) && l.answered() && l.code == Some(-2011) {
            if let Some((id, t)) = named(l, &orders, &by_coid) {
                if !t.open && t.known_final && t.who == who {
                    cancels.push((i, id));
                }
            }
        }
        if informative(l) {
            for k in pending.candidates(l, who, &attempts, &orders) {
                let a = &mut attempts[k];
                if a.asked.is_none() && a.who == who && covers(l, a, &orders) {
                    a.asked = Some(i);
                }
            }
        }
        if l.is_placement() {
            out.stats(who).placements += 1;
            let shape = Shape::of(l);
            let coid = l.param("newClientOrderId").map(str::to_string);
            if let Some(k) = pending.twin(who, &shape, coid.as_ref(), &attempts) {
                attempts[k].paired = true;
                doubles.push((k, i));
            }
            if l.outcome_unknown() {
                attempts.push(Attempt {
                    at: i,
                    who: who.to_string(),
                    shape,
                    coid,
                    order: l.order.as_ref().map(|o| o.order_id),
                    asked: None,
                    paired: false,
                });
                if let Some(a) = attempts.last() {
                    pending.add(attempts.len() - 1, a);
                }
            }
        }
    }
    for t in orders.values() {
        if t.executed > Decimal::ZERO {
            out.stats(&t.who).executed += 1;
        }
    }
    let run = lines.first().map_or(0, |l| l.run);
    // Orphans and orders resting unseen: the client never asked, to the record's end.
    for a in attempts.iter().filter(|a| a.asked.is_none()) {
        let Some((id, t)) = a.order.and_then(|id| orders.get(&id).map(|t| (id, t))) else {
            continue;
        };
        let l = &lines[a.at];
        if t.executed > Decimal::ZERO {
            out.stats(&a.who).orphaned += 1;
            out.risk(&a.who, run, id, &t.symbol, t.notional);
            out.push(
                &a.who,
                Finding {
                    kind: Kind::Orphan,
                    symbol: Some(t.symbol.clone()),
                    client_order_id: Some(t.coid.clone()),
                    notional: Some(t.notional.normalize().to_string()),
                    why: format!(
                        "Order {id} ({} {} {}) executed {} although the client never got an answer saying so ({}), and the client never asked about it afterwards: it holds a position it does not know about.",
                        t.side, t.orig_qty.normalize(), t.symbol, t.executed.normalize(), super::answer(l)
                    ),
                    evidence: vec![evidence(l)],
                },
            );
        } else if t.open {
            out.push(
                &a.who,
                Finding {
                    kind: Kind::UnknownOpenOrder,
                    symbol: Some(t.symbol.clone()),
                    client_order_id: Some(t.coid.clone()),
                    notional: None,
                    why: format!(
                        "Order {id} ({} {} {}) rests on the book although the client never got the answer that placed it and never asked about it: it can fill at any moment without the client knowing.",
                        t.side, t.orig_qty.normalize(), t.symbol
                    ),
                    evidence: vec![evidence(l)],
                },
            );
        }
    }
    for (k, q) in doubles {
        let a = &attempts[k];
        if a.asked.is_some() {
            continue;
        }
        let first = &lines[a.at];
        let track = a.order.and_then(|id| orders.get(&id));
        let executed = track.is_some_and(|t| t.executed > Decimal::ZERO);
        out.stats(&a.who).doubled += 1;
        let why = if executed {
            "The client placed the same order again under a new client id without asking whether the first one, whose answer it never got, had executed; it had, so the position is doubled."
        } else {
            "The client placed the same order again under a new client id without asking whether the first one, whose answer it never got, had executed; this time the first had not, but had it executed the position would be doubled."
        };
        out.push(
            &a.who,
            Finding {
                kind: Kind::DoubleOrder,
                symbol: Some(a.shape.symbol.clone()),
                client_order_id: a.coid.clone(),
                notional: track
                    .filter(|_| executed)
                    .map(|t| t.notional.normalize().to_string()),
                why: why.into(),
                evidence: vec![evidence(first), evidence(&lines[q])],
            },
        );
    }
    for (first, second) in reused {
        let (Some(a), Some(b)) = (orders.get(&first), orders.get(&second)) else {
            continue;
        };
        out.risk(&b.who, run, first, &a.symbol, a.notional);
        out.push(
            &b.who,
            Finding {
                kind: Kind::SameIdRetry,
                symbol: Some(a.symbol.clone()),
                client_order_id: Some(a.coid.clone()),
                notional: Some(a.notional.normalize().to_string()),
                why: format!(
                    "Client order id {} was placed again after its first order ({first}) had executed: Binance accepts a client id again once its order is no longer open, so the retry became a second order (order {second}) and a query by that id now shows only the newer one.",
                    a.coid
                ),
                evidence: vec![evidence(&lines[a.placed]), evidence(&lines[b.placed])],
            },
        );
    }
    for (i, id) in cancels {
        let Some(t) = orders.get(&id) else { continue };
        let told: Vec<Evidence> = vec![evidence(&lines[t.placed]), evidence(&lines[i])];
        out.push(
            &t.who,
            Finding {
                kind: Kind::CancelOfFinal,
                symbol: Some(t.symbol.clone()),
                client_order_id: Some(t.coid.clone()),
                notional: None,
                why: format!(
                    "The client cancelled order {id} after an answer had told it the order was finished ({}): its view of its own orders is stale.",
                    t.status
                ),
                evidence: told,
            },
        );
    }
}
