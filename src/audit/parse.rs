//! Audit lines read back exactly as the router wrote them: the inverse of
//! [`super::write_line`], for recovery from the journal. Unlike [`super::read`], which accepts
//! any implementation's log and keeps what checking needs, this takes only this product's
//! lines, and every field.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::line::{AuditLine, Detail};
use super::read::{opt_dec, opt_str, opt_u32, req_str, req_u64, ReadError};
use crate::model::{Asset, ClientOrderId, IntentId, OrderId, Side, Symbol, Tif};
use crate::router::State;

/// Every word the router writes in a fixed-vocabulary field (`reason`, `detail`, `error`,
/// `cause`): a line read back holds the same `&'static str` as the one written.
const WORDS: &[&str] = &[
    "reserve_failed",
    "overflow",
    "lot_size",
    "price",
    "min_notional",
    "insufficient_balance",
    "rejected",
    "rate_limited",
    "recv_window_expired",
    "duplicate_client_order_id",
    "not_found",
    "timeout",
    "server_error",
    "not_found_within_recv_window",
    "incomplete",
    "booking_refused",
    "restart",
];

/// One of [`WORDS`], as the `'static` string the router uses.
pub fn word(s: &str) -> Option<&'static str> {
    WORDS.iter().copied().find(|w| *w == s)
}

/// Parses one line (without its newline; checksum already verified) into the line the router
/// wrote. `n` is its 1-based line number, for errors.
pub fn parse_audit_line(n: usize, raw: &[u8]) -> Result<AuditLine, ReadError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| ReadError::Json {
        line: n,
        message: e.to_string(),
    })?;
    let Value::Object(obj) = value else {
        return Err(ReadError::Json {
            line: n,
            message: "expected an object".into(),
        });
    };
    let f = Fields { obj: &obj, n };
    let state_text = f.str("state")?;
    let state = State::parse(state_text).ok_or_else(|| f.bad("state", "unknown state"))?;
    let detail = match opt_str(&obj, n, "event")? {
        Some(event) => f.event(event)?,
        None => f.transition(state)?,
    };
    Ok(AuditLine {
        seq: req_u64(&obj, n, "seq")?,
        t_ms: req_u64(&obj, n, "t_ms")?,
        intent_id: IntentId::new(f.str("intent_id")?).map_err(|e| f.bad("intent_id", e))?,
        state,
        detail,
    })
}

struct Fields<'a> {
    obj: &'a Map<String, Value>,
    n: usize,
}

impl Fields<'_> {
    fn bad(&self, field: &'static str, message: impl ToString) -> ReadError {
        ReadError::Field {
            line: self.n,
            field,
            message: message.to_string(),
        }
    }

    fn str(&self, field: &'static str) -> Result<&str, ReadError> {
        req_str(self.obj, self.n, field)
    }

    fn dec(&self, field: &'static str) -> Result<Decimal, ReadError> {
        opt_dec(self.obj, self.n, field)?.ok_or(ReadError::Missing {
            line: self.n,
            field,
        })
    }

    fn u64(&self, field: &'static str) -> Result<u64, ReadError> {
        req_u64(self.obj, self.n, field)
    }

    fn u32(&self, field: &'static str) -> Result<u32, ReadError> {
        opt_u32(self.obj, self.n, field)?.ok_or(ReadError::Missing {
            line: self.n,
            field,
        })
    }

    fn word(&self, field: &'static str) -> Result<&'static str, ReadError> {
        let s = self.str(field)?;
        word(s).ok_or_else(|| self.bad(field, format!("`{s}` is not a word this router writes")))
    }

    fn coid(&self) -> Result<ClientOrderId, ReadError> {
        ClientOrderId::new(self.str("client_order_id")?).map_err(|e| self.bad("client_order_id", e))
    }

    fn order_id(&self) -> Result<OrderId, ReadError> {
        OrderId::new(self.str("order_id")?).map_err(|e| self.bad("order_id", e))
    }

    fn asset(&self, field: &'static str, s: &str) -> Result<Asset, ReadError> {
        Asset::new(s).map_err(|e| self.bad(field, e))
    }

    fn event(&self, event: &str) -> Result<Detail, ReadError> {
        Ok(match event {
            "duplicate_ignored" => Detail::DuplicateIgnored,
            "recovered" => Detail::Recovered,
            "slippage_guard_applied" => Detail::SlippageGuardApplied {
                market_price: self.dec("market_price")?,
                limit_price: self.dec("limit_price")?,
            },
            "query_pending" => Detail::QueryPending {
                client_order_id: self.coid()?,
                cause: self.word("cause")?,
                next_ms: self.u64("next_ms")?,
            },
            "cancel_requested" => Detail::CancelRequested {
                client_order_id: self.coid()?,
            },
            "trades_pending" => Detail::TradesPending {
                cause: self.word("cause")?,
                next_ms: self.u64("next_ms")?,
            },
            other => return Err(self.bad("event", format!("unknown event `{other}`"))),
        })
    }

    fn transition(&self, state: State) -> Result<Detail, ReadError> {
        Ok(match state {
            State::New => Detail::New {
                symbol: Symbol::parse(self.str("symbol")?).map_err(|e| self.bad("symbol", e))?,
                side: Side::parse(self.str("side")?).map_err(|e| self.bad("side", e))?,
                qty: self.dec("qty")?,
                ref_price: self.dec("ref_price")?,
            },
            State::Failed => Detail::Failed {
                reason: self.word("reason")?,
                detail: self.word("detail")?,
            },
            State::Reserved => Detail::Reserved {
                reserved_qty: self.dec("reserved_qty")?,
                reserved_price: self.dec("reserved_price")?,
                asset: self.asset("asset", self.str("asset")?)?,
                amount: self.dec("amount")?,
            },
            State::Sent => Detail::Sent {
                client_order_id: self.coid()?,
                attempt: self.u32("attempt")?,
                qty: self.dec("qty")?,
                limit_price: self.dec("limit_price")?,
                tif: Tif::parse(self.str("tif")?).map_err(|e| self.bad("tif", e))?,
            },
            State::Filled | State::Partial | State::Canceled => Detail::Order {
                client_order_id: self.coid()?,
                order_id: self.order_id()?,
                filled_qty: self.dec("filled_qty")?,
                avg_price: opt_dec(self.obj, self.n, "avg_price")?,
            },
            State::Error => Detail::Error {
                client_order_id: self.coid()?,
                error: self.word("error")?,
                rejection: match self.obj.get("code") {
                    None => None,
                    Some(v) => {
                        let code = v
                            .as_i64()
                            .and_then(|c| i32::try_from(c).ok())
                            .ok_or_else(|| self.bad("code", "expected a 32-bit integer"))?;
                        Some(Box::new((code, self.str("msg")?.to_string())))
                    }
                },
            },
            State::Unknown => Detail::Unknown {
                client_order_id: self.coid()?,
                cause: self.word("cause")?,
            },
            State::Retry => Detail::Retry {
                attempt: self.u32("attempt")?,
                remaining_qty: self.dec("remaining_qty")?,
                backoff_ms: self.u64("backoff_ms")?,
            },
            State::FailedFinal => Detail::FailedFinal {
                attempts: self.u32("attempts")?,
                released: self.dec("released")?,
            },
            State::PartialSuccess => Detail::PartialSuccess {
                filled_qty: self.dec("filled_qty")?,
                released: self.dec("released")?,
            },
            State::Reconciled => Detail::Reconciled {
                fills_count: self.u32("fills_count")?,
                filled_qty: self.dec("filled_qty")?,
                avg_price: self.dec("avg_price")?,
                fee: self.dec("fee")?,
                released: self.dec("released")?,
                booked: self.booked()?,
            },
        })
    }

    fn booked(&self) -> Result<Box<[(Asset, Decimal)]>, ReadError> {
        let Some(Value::Object(moves)) = self.obj.get("booked") else {
            return Err(ReadError::Missing {
                line: self.n,
                field: "booked",
            });
        };
        let mut out = Vec::with_capacity(moves.len());
        for (asset, v) in moves {
            let delta = v
                .as_number()
                .and_then(|n| n.to_string().parse::<Decimal>().ok())
                .ok_or_else(|| self.bad("booked", format!("`{asset}` is not a decimal")))?;
            out.push((self.asset("booked", asset)?, delta));
        }
        Ok(out.into_boxed_slice())
    }
}
