//! The user data stream of Binance's WebSocket API (`<base ws>/ws-api/v3`): the signed
//! subscription request (`userDataStream.subscribe.signature`) and the events it delivers,
//! read into the router's [`OrderUpdate`]. Sans-IO: the socket is the caller's.
//!
//! An `executionReport` becomes an [`OrderUpdate`] (the router believes it only as far as a
//! REST report of the same order, docs/router.md); `outboundAccountPosition` and
//! `balanceUpdate` are read and passed over (balances come from REST at start-up; the router
//! books fills from trades).

use rust_decimal::Decimal;
use serde_json::Value;

use super::binance::{bad, dec, int, status, text, ParseError};
use crate::model::{Asset, ClientOrderId, OrderId, Side, Symbol, TradeId};
use crate::router::OrderUpdate;
use crate::venue::auth::Credentials;

/// The path of the WebSocket API on a venue's WebSocket base (`wss://ws-api.binance.com:443`).
pub const WS_API_PATH: &str = "/ws-api/v3";

/// The JSON text of `userDataStream.subscribe.signature`: `apiKey` and `timestamp`, signed
/// as Binance's WebSocket API signs any request, HMAC-SHA256 of the parameters sorted by
/// name as a query string (`apiKey=...&timestamp=...`), in hex.
pub fn subscribe_request(id: u64, credentials: &Credentials, timestamp_ms: u64) -> String {
    let payload = format!("apiKey={}&timestamp={timestamp_ms}", credentials.key());
    let signature = credentials.sign(payload.as_bytes());
    serde_json::json!({
        "id": id,
        "method": "userDataStream.subscribe.signature",
        "params": {
            "apiKey": credentials.key(),
            "timestamp": timestamp_ms,
            "signature": signature,
        }
    })
    .to_string()
}

/// One message the WebSocket API sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMessage {
    /// The answer to a request: its `id` and HTTP-like `status`; on success of a
    /// subscription, its `subscriptionId`.
    Answer {
        id: Option<u64>,
        status: u16,
        subscription: Option<u64>,
        error: Option<(i64, String)>,
    },
    /// An order changed.
    Order(Box<OrderUpdate>),
    /// An account or balance event, or one of an unknown kind: nothing for the router.
    Other(String),
}

/// Reads one text frame. `symbol` resolves a Binance market name (`BTCUSDT`); an
/// `executionReport` of a market the adapter does not trade is `Other`.
pub fn parse_message(
    frame: &str,
    symbol: impl Fn(&str) -> Option<Symbol>,
) -> Result<StreamMessage, ParseError> {
    let v: Value = serde_json::from_str(frame).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(st) = v.get("status").and_then(Value::as_u64) {
        let error = v.get("error").map(|e| {
            (
                e.get("code").and_then(Value::as_i64).unwrap_or(0),
                e.get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        });
        return Ok(StreamMessage::Answer {
            id: v.get("id").and_then(Value::as_u64),
            status: u16::try_from(st).unwrap_or(u16::MAX),
            subscription: v
                .get("result")
                .and_then(|r| r.get("subscriptionId"))
                .and_then(Value::as_u64),
            error,
        });
    }
    // Events of a subscription come wrapped: {"subscriptionId": 0, "event": {...}}.
    let event = v.get("event").unwrap_or(&v);
    let kind = text(event, "e")?;
    if kind != "executionReport" {
        return Ok(StreamMessage::Other(kind.to_string()));
    }
    let Some(sym) = symbol(text(event, "s")?) else {
        return Ok(StreamMessage::Other(format!(
            "executionReport of {}",
            text(event, "s")?
        )));
    };
    execution_report(event, sym).map(|u| StreamMessage::Order(Box::new(u)))
}

fn execution_report(e: &Value, symbol: Symbol) -> Result<OrderUpdate, ParseError> {
    // A cancel's report names the cancel request in `c` and the order in `C`.
    let orig = text(e, "C").unwrap_or("");
    let coid = if orig.is_empty() { text(e, "c")? } else { orig };
    let side = match text(e, "S")? {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        other => return Err(bad(format!("unknown side {other:?}"))),
    };
    let trade = e.get("t").and_then(Value::as_i64).filter(|t| *t >= 0);
    let fee_asset = match e.get("N") {
        Some(Value::String(a)) if !a.is_empty() => {
            Some(Asset::new(a).map_err(|err| bad(format!("`N`: {err}")))?)
        }
        _ => None,
    };
    Ok(OrderUpdate {
        symbol,
        side,
        client_order_id: ClientOrderId::new(coid).map_err(|err| bad(format!("`c`: {err}")))?,
        order_id: OrderId::new(&int(e, "i")?.to_string())
            .map_err(|err| bad(format!("`i`: {err}")))?,
        status: status(text(e, "X")?)?,
        price: dec(e, "p")?,
        qty: dec(e, "q")?,
        filled: dec(e, "z")?,
        filled_quote: dec(e, "Z")?,
        last_qty: dec(e, "l")?,
        last_price: dec(e, "L")?,
        fee: dec(e, "n").unwrap_or(Decimal::ZERO),
        fee_asset,
        trade_id: match trade {
            Some(t) => {
                Some(TradeId::new(&t.to_string()).map_err(|err| bad(format!("`t`: {err}")))?)
            }
            None => None,
        },
        event_ms: int(e, "E")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::OrderStatus;

    fn eth_btc(name: &str) -> Option<Symbol> {
        (name == "ETHBTC").then(|| Symbol::parse("ETH/BTC").unwrap())
    }

    /// Binance's documented example of an `executionReport` (a new order), as the WebSocket
    /// API wraps it for a subscription.
    const NEW: &str = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#;

    #[test]
    fn a_new_order_report_is_an_open_order_with_nothing_filled() {
        let StreamMessage::Order(u) = parse_message(NEW, eth_btc).unwrap() else {
            panic!("not an order update");
        };
        assert_eq!(u.client_order_id.as_str(), "mUvoqJxFIILMdfAW5iGSOW");
        assert_eq!(u.order_id, OrderId::new("4293153").unwrap());
        assert_eq!(u.status, OrderStatus::Open);
        assert_eq!(u.side, Side::Buy);
        assert_eq!(u.qty, Decimal::ONE);
        assert_eq!(u.price.to_string(), "0.1026441");
        assert!(u.filled.is_zero());
        assert_eq!(u.trade_id, None);
        assert_eq!(u.fee_asset, None);
        assert_eq!(u.event_ms, 1_499_405_658_658);
    }

    #[test]
    fn a_trade_report_carries_its_fill_fee_and_trade_id() {
        let frame = NEW
            .replace(
                r#""x":"NEW","X":"NEW""#,
                r#""x":"TRADE","X":"PARTIALLY_FILLED""#,
            )
            .replace(
                r#""l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null"#,
                r#""l":"0.40000000","z":"0.40000000","L":"0.10260000","n":"0.00040000","N":"ETH""#,
            )
            .replace(r#""t":-1"#, r#""t":77"#)
            .replace(r#""Z":"0.00000000""#, r#""Z":"0.04104000""#);
        let StreamMessage::Order(u) = parse_message(&frame, eth_btc).unwrap() else {
            panic!("not an order update");
        };
        assert_eq!(u.status, OrderStatus::Open);
        assert_eq!(u.filled.to_string(), "0.4");
        assert_eq!(u.last_price.to_string(), "0.1026");
        assert_eq!(u.trade_id, Some(TradeId::new("77").unwrap()));
        assert_eq!(u.fee_asset, Some(Asset::new("ETH").unwrap()));
        // The average a REST query would show: quote spent over quantity filled.
        assert_eq!(u.as_order().average.unwrap().to_string(), "0.1026");
        assert_eq!(u.trade().unwrap().qty.to_string(), "0.4");
    }

    #[test]
    fn a_cancel_report_names_the_order_by_its_original_client_id() {
        let frame = NEW
            .replace(r#""c":"mUvoqJxFIILMdfAW5iGSOW""#, r#""c":"cancelRequest1""#)
            .replace(r#""C":"""#, r#""C":"mUvoqJxFIILMdfAW5iGSOW""#)
            .replace(r#""x":"NEW","X":"NEW""#, r#""x":"CANCELED","X":"CANCELED""#);
        let StreamMessage::Order(u) = parse_message(&frame, eth_btc).unwrap() else {
            panic!("not an order update");
        };
        assert_eq!(u.client_order_id.as_str(), "mUvoqJxFIILMdfAW5iGSOW");
        assert_eq!(u.status, OrderStatus::Canceled);
    }

    #[test]
    fn account_events_answers_and_other_markets_are_not_order_updates() {
        let pos = r#"{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}}"#;
        assert_eq!(
            parse_message(pos, eth_btc).unwrap(),
            StreamMessage::Other("outboundAccountPosition".into())
        );
        let answer = r#"{"id":1,"status":200,"result":{"subscriptionId":0}}"#;
        assert_eq!(
            parse_message(answer, eth_btc).unwrap(),
            StreamMessage::Answer {
                id: Some(1),
                status: 200,
                subscription: Some(0),
                error: None
            }
        );
        let refused = r#"{"id":2,"status":400,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}"#;
        let StreamMessage::Answer { error, .. } = parse_message(refused, eth_btc).unwrap() else {
            panic!("not an answer");
        };
        assert_eq!(error.unwrap().0, -1022);
        let other = NEW.replace("ETHBTC", "BNBUSDT");
        assert!(matches!(
            parse_message(&other, eth_btc).unwrap(),
            StreamMessage::Other(_)
        ));
        assert!(parse_message("{", eth_btc).is_err());
    }

    #[test]
    fn the_subscription_is_signed_over_the_sorted_parameters() {
        let c = Credentials::new(
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        let req: Value =
            serde_json::from_str(&subscribe_request(7, &c, 1_649_729_878_532)).unwrap();
        assert_eq!(req["method"], "userDataStream.subscribe.signature");
        assert_eq!(req["id"], 7);
        assert_eq!(req["params"]["timestamp"], 1_649_729_878_532u64);
        let want = c.sign(format!("apiKey={}&timestamp=1649729878532", c.key()).as_bytes());
        assert_eq!(req["params"]["signature"], want.as_str());
        assert_eq!(want.len(), 64);
    }
}
