//! Rate limits as Binance enforces them: request weight per minute and new orders per ten
//! seconds, in fixed windows per client. A client over a limit gets HTTP 429 with
//! `Retry-After`; one that keeps sending before that time is up gets banned with HTTP 418,
//! and each ban lasts twice as long as the one before.

use std::collections::BTreeMap;

use super::error::ApiError;
use crate::model::TimeMs;

/// The limits, per client (API key, or address for public requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request weight per minute (Binance spot: 6,000).
    pub weight_per_minute: u32,
    /// New orders per 10 seconds (Binance spot: 100).
    pub orders_per_10s: u32,
    /// Requests sent while told to wait before a ban (418) follows.
    pub strikes_before_ban: u32,
    /// The first ban's length; later bans double, up to three days.
    pub ban_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            weight_per_minute: 6_000,
            orders_per_10s: 100,
            strikes_before_ban: 3,
            ban_ms: 120_000,
        }
    }
}

const MINUTE_MS: u64 = 60_000;
const TEN_S_MS: u64 = 10_000;
const MAX_BAN_MS: u64 = 3 * 24 * 3_600_000;
/// Clients remembered at most; the one idle longest is forgotten first.
const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Default)]
struct Client {
    minute: u64,
    weight: u32,
    ten_s: u64,
    orders: u32,
    /// Told to wait (429) until then.
    wait_until: TimeMs,
    strikes: u32,
    banned_until: TimeMs,
    bans: u32,
    seen: TimeMs,
}

/// What a client has used, for the `X-MBX-USED-WEIGHT-1M` and `X-MBX-ORDER-COUNT-10S`
/// headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub weight_1m: u32,
    pub orders_10s: u32,
}

/// A refusal by the limiter, with the seconds the client must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ApiError,
    pub retry_after_s: u64,
    /// When the wait or ban ends: the first moment the client may send again.
    pub until: TimeMs,
    pub usage: Usage,
}

/// Per-client counters.
#[derive(Debug, Clone, Default)]
pub struct Limiter {
    limits: Limits,
    clients: BTreeMap<String, Client>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            clients: BTreeMap::new(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts a request of `weight` (and one new order when `order`) for `who` at `now`.
    pub fn admit(
        &mut self,
        who: &str,
        now: TimeMs,
        weight: u32,
        order: bool,
    ) -> Result<Usage, Refusal> {
        if !self.clients.contains_key(who) && self.clients.len() >= MAX_CLIENTS {
            let idle = self
                .clients
                .iter()
                .min_by_key(|(k, c)| (c.seen, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(k) = idle {
                self.clients.remove(&k);
            }
        }
        let l = self.limits;
        let c = self.clients.entry(who.to_string()).or_default();
        c.seen = now;
        let refuse = |c: &Client, error: ApiError, until: TimeMs| Refusal {
            error,
            retry_after_s: secs_until(now, until),
            until,
            usage: Usage {
                weight_1m: c.weight,
                orders_10s: c.orders,
            },
        };
        if now < c.banned_until {
            return Err(refuse(c, ApiError::banned(c.banned_until), c.banned_until));
        }
        if now < c.wait_until {
            c.strikes += 1;
            if c.strikes >= l.strikes_before_ban {
                let len = l
                    .ban_ms
                    .saturating_mul(1u64 << c.bans.min(20))
                    .min(MAX_BAN_MS);
                c.bans += 1;
                c.strikes = 0;
                c.banned_until = now.saturating_add(len);
                return Err(refuse(c, ApiError::banned(c.banned_until), c.banned_until));
            }
        }
        let minute = now / MINUTE_MS;
        if c.minute != minute {
            c.minute = minute;
            c.weight = 0;
        }
        let ten_s = now / TEN_S_MS;
        if c.ten_s != ten_s {
            c.ten_s = ten_s;
            c.orders = 0;
        }
        c.weight = c.weight.saturating_add(weight);
        if c.weight > l.weight_per_minute {
            c.wait_until = (minute + 1) * MINUTE_MS;
            let e = ApiError::too_much_weight(l.weight_per_minute);
            return Err(refuse(c, e, c.wait_until));
        }
        if order {
            c.orders = c.orders.saturating_add(1);
            if c.orders > l.orders_per_10s {
                c.wait_until = (ten_s + 1) * TEN_S_MS;
                let e = ApiError::too_many_orders(l.orders_per_10s, "10 SECOND");
                return Err(refuse(c, e, c.wait_until));
            }
        }
        c.strikes = 0;
        Ok(Usage {
            weight_1m: c.weight,
            orders_10s: c.orders,
        })
    }
}

fn secs_until(now: TimeMs, until: TimeMs) -> u64 {
    until.saturating_sub(now).div_ceil(1_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // rule: rate_limit_hold
    fn over_the_weight_429_then_418_for_a_client_that_keeps_going() {
        let mut l = Limiter::new(Limits {
            weight_per_minute: 10,
            ban_ms: 1_000,
            ..Limits::default()
        });
        let t = 60_000;
        for _ in 0..10 {
            assert!(l.admit("k", t, 1, false).is_ok());
        }
        let r = l.admit("k", t + 1, 1, false).unwrap_err();
        assert_eq!((r.error.status, r.error.code), (429, -1003));
        assert_eq!(r.retry_after_s, 60);
        // Another client is not affected.
        assert!(l.admit("other", t + 1, 1, false).is_ok());
        // Three more before the wait is over: banned.
        assert_eq!(l.admit("k", t + 2, 1, false).unwrap_err().error.status, 429);
        assert_eq!(l.admit("k", t + 3, 1, false).unwrap_err().error.status, 429);
        let ban = l.admit("k", t + 4, 1, false).unwrap_err();
        assert_eq!(ban.error.status, 418);
        assert!(
            ban.error.msg.contains("banned until 61004"),
            "{}",
            ban.error.msg
        );
        // Still banned in the next minute until it ends; then a clean slate.
        assert_eq!(
            l.admit("k", t + 900, 1, false).unwrap_err().error.status,
            418
        );
        assert!(l.admit("k", 2 * t + 5, 1, false).is_ok());
    }

    #[test]
    fn orders_per_ten_seconds() {
        let mut l = Limiter::new(Limits {
            orders_per_10s: 2,
            ..Limits::default()
        });
        assert!(l.admit("k", 0, 1, true).is_ok());
        assert!(l.admit("k", 1, 1, true).is_ok());
        let r = l.admit("k", 2, 1, true).unwrap_err();
        assert_eq!((r.error.status, r.error.code), (429, -1015));
        assert_eq!(l.admit("k", 10_000, 1, true).unwrap().orders_10s, 1);
    }
}
