//! The request rules: sending during a 429's wait or a 418's ban, timestamp refusals the
//! client does not correct, balance refusals repeated unchanged.

use std::collections::{BTreeMap, BTreeSet};

use super::record::Line;
use super::{evidence, Finding, Kind, Out};

/// A request that reached the venue within this long of the answer that told its client to
/// wait may have been on its way already (a client with requests in flight); only later ones
/// count as sent during the wait.
pub const IN_FLIGHT_GRACE_MS: u64 = 500;

/// Refusals for the timestamp (`-1021`) that make a burst, and the window they fall in.
const DRIFT_BURST: usize = 3;
const DRIFT_WINDOW_MS: u64 = 60_000;

pub(super) fn audit_run(lines: &[Line], out: &mut Out) {
    holds(lines, out);
    drift(lines, out);
    balance(lines, out);
}

/// A wait the client was told of, and what it sent during it.
struct Hold {
    start: usize,
    /// When the client had the answer.
    told: u64,
    until: u64,
    offenders: Vec<usize>,
    /// The first offender the venue answered with a ban.
    ban: Option<usize>,
}

fn holds(lines: &[Line], out: &mut Out) {
    let mut open: BTreeMap<&str, Hold> = BTreeMap::new();
    let mut done: Vec<(String, Hold)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let who = l.limited_as();
        if let Some(h) = open.get(who) {
            if l.t_ms >= h.until {
                if let Some(h) = open.remove(who) {
                    done.push((who.to_string(), h));
                }
            }
        }
        if let Some(h) = open.get_mut(who) {
            if l.t_ms >= h.told.saturating_add(IN_FLIGHT_GRACE_MS) {
                h.offenders.push(i);
                if l.status == Some(418) && lines[h.start].status != Some(418) && h.ban.is_none() {
                    h.ban = Some(i);
                }
            }
            if let Some(until) = l.hold() {
                h.until = h.until.max(until);
            }
            continue;
        }
        if let Some(until) = l.hold() {
            open.insert(
                who,
                Hold {
                    start: i,
                    told: l.answered_at(),
                    until,
                    offenders: Vec::new(),
                    ban: None,
                },
            );
        }
    }
    done.extend(open.into_iter().map(|(w, h)| (w.to_string(), h)));
    for (who, h) in done {
        if h.offenders.is_empty() {
            continue;
        }
        let first = &lines[h.start];
        let n = h.offenders.len();
        let (kind, why) = if first.status == Some(418) {
            (
                Kind::IgnoredBan,
                format!(
                    "The client was banned (HTTP 418) until {} and still sent {n} request(s) before then: each was refused, and a banned client cannot even cancel.",
                    h.until
                ),
            )
        } else if let Some(b) = h.ban {
            (
                Kind::Banned,
                format!(
                    "The venue told the client to wait (HTTP 429, Retry-After {} s) and it sent {n} request(s) before the wait ended, which earned a ban (HTTP 418) until {}: every request, queries and cancels included, is refused until then.",
                    first.retry_after_s.unwrap_or(0),
                    lines[b].hold().unwrap_or(h.until)
                ),
            )
        } else {
            (
                Kind::IgnoredRetryAfter,
                format!(
                    "The venue told the client to wait (HTTP 429, Retry-After {} s) and it sent {n} request(s) before the wait ended: Binance answers that with a ban (HTTP 418) that doubles each time.",
                    first.retry_after_s.unwrap_or(0)
                ),
            )
        };
        let mut ev = vec![evidence(first)];
        ev.extend(h.offenders.iter().map(|&k| evidence(&lines[k])));
        out.push(
            &who,
            Finding {
                kind,
                symbol: None,
                client_order_id: None,
                notional: None,
                why,
                evidence: ev,
            },
        );
    }
}

/// Timestamp refusals with no correction between: a time sync (`GET /api/v3/time`, from the
/// key or its address) or a signed request the venue accepted.
fn drift(lines: &[Line], out: &mut Out) {
    // Per key: the address it last sent from, and its uncorrected refusals.
    let mut chains: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
    let mut done: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let who = l.who().to_string();
        if l.is("GET", "/api/v3/time") {
            let synced: Vec<String> = chains
                .iter()
                .filter(|(k, (addr, _))| *addr == l.client || **k == who)
                .map(|(k, _)| k.clone())
                .collect();
            for k in synced {
                if let Some((_, c)) = chains.remove(&k) {
                    done.push((k, c));
                }
            }
        } else if l.answered() && l.code == Some(-1021) {
            let c = chains
                .entry(who)
                .or_insert_with(|| (l.client.clone(), Vec::new()));
            c.0 = l.client.clone();
            c.1.push(i);
        } else if l.answered() && l.status == Some(200) && l.params.contains_key("timestamp") {
            if let Some((_, c)) = chains.remove(&who) {
                done.push((who, c));
            }
        }
    }
    done.extend(chains.into_iter().map(|(k, (_, c))| (k, c)));
    for (who, chain) in done {
        let burst = chain.windows(DRIFT_BURST).any(|w| {
            lines[w[DRIFT_BURST - 1]]
                .t_ms
                .saturating_sub(lines[w[0]].t_ms)
                <= DRIFT_WINDOW_MS
        });
        if !burst {
            continue;
        }
        out.push(
            &who,
            Finding {
                kind: Kind::ClockDrift,
                symbol: None,
                client_order_id: None,
                notional: None,
                why: format!(
                    "{} requests were refused for their timestamp (-1021), {DRIFT_BURST} or more within a minute, with no time sync in between: the client's clock is off and it does not correct it, so its signed requests, cancels included, keep failing.",
                    chain.len()
                ),
                evidence: chain.iter().map(|&k| evidence(&lines[k])).collect(),
            },
        );
    }
}

/// A placement refused for the balance (`-2010`, not a duplicate client id, not a drawn
/// reject) sent again unchanged while nothing could have changed the balance: no trade and no
/// accepted placement or cancel in between.
fn balance(lines: &[Line], out: &mut Out) {
    let mut coids: BTreeSet<&str> = BTreeSet::new();
    // Per client and order shape: the first refusal and its repeats.
    let mut open: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut done: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let changed = !l.trades.is_empty()
            || (l.status == Some(200)
                && (l.is_placement()
                    || l.path.ends_with("/order")
                    || l.path.ends_with("/openOrders"))
                && l.method != "GET");
        if changed {
            done.extend(
                std::mem::take(&mut open)
                    .into_iter()
                    .map(|((w, _), v)| (w, v)),
            );
        }
        if let Some(o) = &l.order {
            coids.insert(&o.client_order_id);
        }
        if !(l.is_placement() && l.answered() && l.code == Some(-2010)) {
            continue;
        }
        let duplicate = l
            .param("newClientOrderId")
            .is_some_and(|c| coids.contains(&c));
        if duplicate || l.faults.iter().any(|f| f == "reject") {
            continue;
        }
        let shape = [
            "symbol",
            "side",
            "type",
            "quantity",
            "quoteOrderQty",
            "price",
        ]
        .iter()
        .map(|k| l.param(k).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("|");
        open.entry((l.who().to_string(), shape))
            .or_default()
            .push(i);
    }
    done.extend(open.into_iter().map(|((w, _), v)| (w, v)));
    for (who, refusals) in done {
        if refusals.len() < 2 {
            continue;
        }
        let first = &lines[refusals[0]];
        out.push(
            &who,
            Finding {
                kind: Kind::RepeatedBalanceRefusal,
                symbol: first.param("symbol").map(str::to_string),
                client_order_id: None,
                notional: None,
                why: format!(
                    "The venue refused this order for the account's balance (-2010) and the client sent it again {} more time(s) unchanged, with no trade or order change in between that could have made it pass: it does not read the refusal.",
                    refusals.len() - 1
                ),
                evidence: refusals.iter().map(|&k| evidence(&lines[k])).collect(),
            },
        );
    }
}
