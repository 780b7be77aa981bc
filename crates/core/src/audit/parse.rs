//! Audit lines read back exactly as the router wrote them: the inverse of
//! [`super::write_line`], for recovery from the journal. Unlike [`super::read`], which accepts
//! any implementation's log and keeps what checking needs, this takes only this product's
//! lines, and every field.

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::line::{AuditLine, Detail};
use super::read::{opt_dec, opt_str, opt_u32, req_u64, ReadError};
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
    "rate_limit",
    "order_limit",
];

/// One of [`WORDS`], as the `'static` string the router uses.
pub fn word(s: &str) -> Option<&'static str> {
    WORDS.iter().copied().find(|w| *w == s)
}

/// Parses one line (without its newline; checksum already verified) into the line the router
/// wrote. `n` is its 1-based line number, for errors.
///
/// A line as the router writes it (no escapes, no duplicate keys) is read by a borrowing
/// reader that allocates nothing per field; anything else, and every error, goes through the
/// exact reader over a JSON value, so what is accepted and every message are the same.
pub fn parse_audit_line(n: usize, raw: &[u8]) -> Result<AuditLine, ReadError> {
    // Escapes are decoded (and checked) only by the exact reader: a line with any goes there,
    // and so does one that is not UTF-8 throughout, ignored fields included.
    if !raw.contains(&b'\\') {
        if let Ok(text) = std::str::from_utf8(raw) {
            if let Some(fast) = Fast::read(text) {
                if let Ok(line) = build(&FastFields { line: &fast, n }) {
                    return Ok(line);
                }
            }
        }
    }
    parse_exact(n, raw)
}

/// The exact reader: every field through a JSON value, errors naming the field.
pub(crate) fn parse_exact(n: usize, raw: &[u8]) -> Result<AuditLine, ReadError> {
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
    build(&Fields { obj: &obj, n })
}

fn build(f: &impl Get) -> Result<AuditLine, ReadError> {
    let state_text = f.str("state")?;
    let state = State::parse(state_text).ok_or_else(|| f.bad("state", "unknown state"))?;
    let detail = match f.opt_str("event")? {
        Some(event) => f.event(event)?,
        None => f.transition(state)?,
    };
    Ok(AuditLine {
        seq: f.u64("seq")?,
        t_ms: f.u64("t_ms")?,
        intent_id: IntentId::new(f.str("intent_id")?).map_err(|e| f.bad("intent_id", e))?,
        state,
        detail,
    })
}

/// What building a line reads of it.
trait Get {
    fn n(&self) -> usize;
    fn opt_str(&self, field: &'static str) -> Result<Option<&str>, ReadError>;
    fn opt_dec(&self, field: &'static str) -> Result<Option<Decimal>, ReadError>;
    fn u64(&self, field: &'static str) -> Result<u64, ReadError>;
    fn opt_u32(&self, field: &'static str) -> Result<Option<u32>, ReadError>;
    /// `code` of an `ERROR` line, when the line has one.
    fn code(&self) -> Result<Option<i32>, ReadError>;
    fn booked(&self) -> Result<Box<[(Asset, Decimal)]>, ReadError>;

    fn bad(&self, field: &'static str, message: impl ToString) -> ReadError {
        ReadError::Field {
            line: self.n(),
            field,
            message: message.to_string(),
        }
    }

    fn missing(&self, field: &'static str) -> ReadError {
        ReadError::Missing {
            line: self.n(),
            field,
        }
    }

    fn str(&self, field: &'static str) -> Result<&str, ReadError> {
        self.opt_str(field)?.ok_or_else(|| self.missing(field))
    }

    fn dec(&self, field: &'static str) -> Result<Decimal, ReadError> {
        self.opt_dec(field)?.ok_or_else(|| self.missing(field))
    }

    fn u32(&self, field: &'static str) -> Result<u32, ReadError> {
        self.opt_u32(field)?.ok_or_else(|| self.missing(field))
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
            "held" => Detail::Held {
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
                avg_price: self.opt_dec("avg_price")?,
            },
            State::Error => Detail::Error {
                client_order_id: self.coid()?,
                error: self.word("error")?,
                rejection: match self.code()? {
                    None => None,
                    Some(code) => Some(Box::new((code, self.str("msg")?.to_string()))),
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
                fee_asset: match self.opt_str("fee_asset")? {
                    Some(a) => Some(self.asset("fee_asset", a)?),
                    None => None,
                },
                released: self.dec("released")?,
                booked: self.booked()?,
            },
        })
    }
}

struct Fields<'a> {
    obj: &'a Map<String, Value>,
    n: usize,
}

impl Get for Fields<'_> {
    fn n(&self) -> usize {
        self.n
    }

    fn opt_str(&self, field: &'static str) -> Result<Option<&str>, ReadError> {
        opt_str(self.obj, self.n, field)
    }

    fn opt_dec(&self, field: &'static str) -> Result<Option<Decimal>, ReadError> {
        opt_dec(self.obj, self.n, field)
    }

    fn u64(&self, field: &'static str) -> Result<u64, ReadError> {
        req_u64(self.obj, self.n, field)
    }

    fn opt_u32(&self, field: &'static str) -> Result<Option<u32>, ReadError> {
        opt_u32(self.obj, self.n, field)
    }

    fn code(&self) -> Result<Option<i32>, ReadError> {
        match self.obj.get("code") {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .map(Some)
                .ok_or_else(|| self.bad("code", "expected a 32-bit integer")),
        }
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

/// A line as the router writes it, borrowed from the input: every field any line can have.
/// Both readers (this exact one for recovery, and the checker's) take lines through it.
#[derive(Deserialize, Default)]
pub(crate) struct Fast<'a> {
    pub(crate) seq: u64,
    pub(crate) t_ms: u64,
    #[serde(borrow)]
    pub(crate) intent_id: &'a str,
    #[serde(borrow)]
    pub(crate) state: &'a str,
    #[serde(borrow, default)]
    pub(crate) event: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) symbol: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) side: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) reason: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) detail: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) asset: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) fee_asset: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) client_order_id: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) tif: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) order_id: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) error: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) msg: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) cause: Option<&'a str>,
    #[serde(borrow, default)]
    pub(crate) qty: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) ref_price: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(crate) reserved_qty: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(crate) reserved_price: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) amount: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(crate) limit_price: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(crate) filled_qty: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) avg_price: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) remaining_qty: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) released: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) fee: Option<Num<'a>>,
    #[serde(borrow, default)]
    pub(super) market_price: Option<Num<'a>>,
    #[serde(default)]
    pub(crate) backoff_ms: Option<u64>,
    #[serde(default)]
    pub(crate) next_ms: Option<u64>,
    #[serde(default)]
    pub(crate) attempt: Option<u32>,
    #[serde(default)]
    pub(crate) attempts: Option<u32>,
    #[serde(default)]
    pub(super) fills_count: Option<u32>,
    /// Present (even as `null`) or not: the exact reader tells the two apart.
    #[serde(default, deserialize_with = "present")]
    pub(super) code: Option<Value>,
    #[serde(borrow, default)]
    pub(super) booked: Option<BTreeMap<&'a str, Num<'a>>>,
}

impl<'a> Fast<'a> {
    /// The scanner for the router's own lines, else the general JSON reader.
    pub(crate) fn read(text: &'a str) -> Option<Fast<'a>> {
        super::scan::scan(text).or_else(|| serde_json::from_str(text).ok())
    }
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A number as written, borrowed from the line (no allocation): read into a decimal only
/// when a field is asked for.
#[derive(Clone, Copy)]
pub(crate) struct Num<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Num<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de serde_json::value::RawValue>::deserialize(d)?;
        let text = raw.get();
        // Only a JSON number (a string, object or `true` is the exact reader's to refuse).
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Num(text))
        } else {
            Err(serde::de::Error::custom("expected a number"))
        }
    }
}

impl<'a> Num<'a> {
    /// Digits the scanner has checked against JSON's number grammar.
    pub(super) fn of(text: &'a str) -> Self {
        Num(text)
    }

    /// The digits as the exact reader reads them: plain, else scientific.
    pub(crate) fn dec(self) -> Option<Decimal> {
        Decimal::from_str(self.0)
            .or_else(|_| Decimal::from_scientific(self.0))
            .ok()
    }
}

struct FastFields<'a, 'b> {
    line: &'b Fast<'a>,
    n: usize,
}

impl Get for FastFields<'_, '_> {
    fn n(&self) -> usize {
        self.n
    }

    fn opt_str(&self, field: &'static str) -> Result<Option<&str>, ReadError> {
        let l = self.line;
        Ok(match field {
            "state" => Some(l.state),
            "intent_id" => Some(l.intent_id),
            "event" => l.event,
            "symbol" => l.symbol,
            "side" => l.side,
            "reason" => l.reason,
            "detail" => l.detail,
            "asset" => l.asset,
            "fee_asset" => l.fee_asset,
            "client_order_id" => l.client_order_id,
            "tif" => l.tif,
            "order_id" => l.order_id,
            "error" => l.error,
            "msg" => l.msg,
            "cause" => l.cause,
            _ => return Err(self.missing(field)),
        })
    }

    fn opt_dec(&self, field: &'static str) -> Result<Option<Decimal>, ReadError> {
        let l = self.line;
        let n = match field {
            "qty" => &l.qty,
            "ref_price" => &l.ref_price,
            "reserved_qty" => &l.reserved_qty,
            "reserved_price" => &l.reserved_price,
            "amount" => &l.amount,
            "limit_price" => &l.limit_price,
            "filled_qty" => &l.filled_qty,
            "avg_price" => &l.avg_price,
            "remaining_qty" => &l.remaining_qty,
            "released" => &l.released,
            "fee" => &l.fee,
            "market_price" => &l.market_price,
            _ => return Err(self.missing(field)),
        };
        match n {
            None => Ok(None),
            Some(n) => n.dec().map(Some).ok_or_else(|| self.missing(field)),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, ReadError> {
        let l = self.line;
        match field {
            "seq" => Ok(l.seq),
            "t_ms" => Ok(l.t_ms),
            "backoff_ms" => l.backoff_ms.ok_or_else(|| self.missing(field)),
            "next_ms" => l.next_ms.ok_or_else(|| self.missing(field)),
            _ => Err(self.missing(field)),
        }
    }

    fn opt_u32(&self, field: &'static str) -> Result<Option<u32>, ReadError> {
        let l = self.line;
        match field {
            "attempt" => Ok(l.attempt),
            "attempts" => Ok(l.attempts),
            "fills_count" => Ok(l.fills_count),
            _ => Err(self.missing(field)),
        }
    }

    fn code(&self) -> Result<Option<i32>, ReadError> {
        match &self.line.code {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .map(Some)
                .ok_or_else(|| self.missing("code")),
        }
    }

    fn booked(&self) -> Result<Box<[(Asset, Decimal)]>, ReadError> {
        let Some(moves) = &self.line.booked else {
            return Err(self.missing("booked"));
        };
        let mut out = Vec::with_capacity(moves.len());
        for (asset, n) in moves {
            let delta = n.0.parse::<Decimal>().map_err(|_| self.missing("booked"))?;
            out.push((self.asset("booked", asset)?, delta));
        }
        Ok(out.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every line of every scenario's log.
    fn logged_lines() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let s = order_router_sim::scenario::load(&f).unwrap();
            let opts = order_router_sim::RunOptions {
                seed: s.seed.unwrap_or(0),
                ..order_router_sim::RunOptions::default()
            };
            let r = order_router_sim::run(&s, &opts);
            out.extend(
                r.audit
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        out
    }

    #[test]
    fn the_borrowing_reader_reads_every_logged_line_as_the_exact_one_does() {
        let lines = logged_lines();
        assert!(lines.len() > 300, "{} lines", lines.len());
        for l in &lines {
            let fast = serde_json::from_slice::<Fast<'_>>(l)
                .map_err(|e| e.to_string())
                .and_then(|f| build(&FastFields { line: &f, n: 1 }).map_err(|e| e.to_string()));
            assert!(fast.is_ok(), "{}: {fast:?}", String::from_utf8_lossy(l));
            assert_eq!(fast.ok(), parse_exact(1, l).ok());
            let text = std::str::from_utf8(l).unwrap();
            // The scanner reads each of the router's lines itself, the same way.
            let scanned = super::super::scan::scan(text).expect("the scanner reads it");
            assert_eq!(
                build(&FastFields {
                    line: &scanned,
                    n: 1
                })
                .ok(),
                parse_exact(1, l).ok()
            );
            assert!(super::super::read::reads_borrowed(text), "{text}");
            let record = super::super::read::parse_line(1, text);
            assert!(record.is_ok());
            assert_eq!(record, super::super::read::parse_line_exact(1, text));
        }
    }

    proptest! {
        /// Damaged lines: whatever the borrowing reader accepts, the exact one reads the same;
        /// the rest (and every error) is the exact reader's.
        #[test]
        // rule: journal_damage
        fn damaged_lines_read_the_same_either_way(
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            edit in 0u8..6,
            byte in any::<u8>(),
        ) {
            thread_local!(static LINES: Vec<Vec<u8>> = logged_lines());
            let mut l = LINES.with(|ls| ls[pick.index(ls.len())].clone());
            let i = at.index(l.len());
            match edit {
                0 => { l.remove(i); }
                1 => l[i] = byte,
                2 => l.insert(i, byte),
                3 => l.truncate(i),
                // A value made null, a key given twice.
                4 => {
                    if let Some(c) = l[i..].iter().position(|&b| b == b':') {
                        let end = l[i + c..].iter().position(|&b| b == b',' || b == b'}').map_or(l.len(), |e| i + c + e);
                        l.splice(i + c + 1..end, b"null".iter().copied());
                    }
                }
                _ => {
                    let dup = b"\"seq\":1,".to_vec();
                    l.splice(1..1, dup);
                }
            }
            let fast = parse_audit_line(1, &l);
            let exact = parse_exact(1, &l);
            prop_assert_eq!(fast, exact);
            // Whatever the scanner accepts, serde's borrowing reader accepts and reads the same.
            if let Some(scanned) = std::str::from_utf8(&l).ok().and_then(super::super::scan::scan) {
                let general = serde_json::from_slice::<Fast<'_>>(&l);
                prop_assert!(general.is_ok(), "{}", String::from_utf8_lossy(&l));
                if let Ok(general) = general {
                    prop_assert_eq!(
                        build(&FastFields { line: &scanned, n: 1 }),
                        build(&FastFields { line: &general, n: 1 })
                    );
                }
            }
            // The checker's reader too.
            if let Ok(text) = std::str::from_utf8(&l) {
                prop_assert_eq!(
                    super::super::read::parse_line(1, text),
                    super::super::read::parse_line_exact(1, text)
                );
            }
        }
    }
}
