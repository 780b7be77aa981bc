//! What a Binance client asks before it trades, beyond spot's `/api/v3`: CCXT's
//! `load_markets()` with its default options reads the coin list (`capital/config/getall`)
//! and the USDⓈ-M and COIN-M futures listings, and bots read their trade fees. The venue
//! answers them so that a client needs only its URLs changed: the coins are the venue's
//! assets, the fees its market rules, and every other market type is listed empty.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::shapes::dec;
use super::{Call, Op as VenueOp, Venue};
use crate::model::{bps_fraction, Symbol, TimeMs};

#[derive(Debug, Clone)]
pub enum Op {
    /// `GET /sapi/v1/capital/config/getall`.
    Coins,
    /// `GET /sapi/v1/asset/tradeFee`: one market or all.
    TradeFee(Option<Symbol>),
    /// A futures or options `exchangeInfo`: no markets (`options`: the `optionSymbols` shape).
    NoMarkets { options: bool },
    /// A margin pair listing: none.
    Empty,
}

fn call(op: Op) -> Result<Call, ApiError> {
    Ok(Call {
        op: VenueOp::Startup(op),
        symbol: None,
    })
}

pub(super) fn coins(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    call(Op::Coins)
}

pub(super) fn trade_fee(v: &Venue, p: &Params) -> Result<Call, ApiError> {
    let symbol = match p.ident("symbol", 20)? {
        Some(s) => Some(v.symbol(s)?),
        None => None,
    };
    call(Op::TradeFee(symbol))
}

pub(super) fn futures_info(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    call(Op::NoMarkets { options: false })
}

pub(super) fn options_info(_: &Venue, _: &Params) -> Result<Call, ApiError> {
    call(Op::NoMarkets { options: true })
}

pub(super) fn margin_pairs(_: &Venue, p: &Params) -> Result<Call, ApiError> {
    let _ = p.ident("symbol", 20)?;
    call(Op::Empty)
}

fn to_body(value: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|_| ApiError::unknown_endpoint())
}

pub(super) fn execute(v: &Venue, now: TimeMs, op: Op) -> Result<Vec<u8>, ApiError> {
    match op {
        Op::Coins => {
            // Every asset of a market or of the account, with what the account holds.
            let mut coins: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
            for s in v.symbols.values() {
                for a in [s.base(), s.quote()] {
                    coins.entry(a.as_str().to_string()).or_default();
                }
            }
            for (a, f) in v.ex.assets() {
                coins.insert(a.as_str().to_string(), (f.free, f.locked));
            }
            let zero = dec(Decimal::ZERO);
            let list: Vec<Value> = coins
                .into_iter()
                .map(|(coin, (free, locked))| {
                    json!({
                        "coin": coin, "name": coin,
                        "depositAllEnable": false, "withdrawAllEnable": false,
                        "free": dec(free), "locked": dec(locked), "freeze": zero,
                        "withdrawing": zero, "ipoing": zero, "ipoable": zero, "storage": zero,
                        "isLegalMoney": false, "trading": true,
                        // One network, closed: the venue neither deposits nor withdraws.
                        "networkList": [{
                            "network": coin, "coin": coin, "name": coin,
                            "withdrawIntegerMultiple": "0.00000001", "isDefault": true,
                            "depositEnable": false, "withdrawEnable": false,
                            "depositDesc": "", "withdrawDesc": "", "specialTips": "",
                            "resetAddressStatus": false, "addressRegex": "", "addressRule": "",
                            "memoRegex": "", "withdrawFee": zero, "withdrawMin": zero,
                            "withdrawMax": zero, "minConfirm": 0, "unLockConfirm": 0,
                            "sameAddress": false, "estimatedArrivalTime": 0, "busy": false,
                        }],
                    })
                })
                .collect();
            to_body(&Value::Array(list))
        }
        Op::TradeFee(one) => {
            let fee = |s: &Symbol| {
                let rate =
                    v.ex.rules(s)
                        .fee_bps
                        .checked_mul(bps_fraction())
                        .unwrap_or(Decimal::ZERO)
                        .normalize();
                json!({
                    "symbol": format!("{}{}", s.base(), s.quote()),
                    "makerCommission": rate.to_string(),
                    "takerCommission": rate.to_string(),
                })
            };
            let rows: Vec<Value> = match one {
                Some(s) => vec![fee(&s)],
                None => v.symbols.values().map(fee).collect(),
            };
            to_body(&Value::Array(rows))
        }
        Op::NoMarkets { options } => {
            let list = if options { "optionSymbols" } else { "symbols" };
            to_body(&json!({
                "timezone": "UTC",
                "serverTime": now,
                "rateLimits": [],
                "exchangeFilters": [],
                list: [],
            }))
        }
        Op::Empty => to_body(&json!([])),
    }
}
