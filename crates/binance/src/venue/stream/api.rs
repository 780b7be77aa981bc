//! Binance's WebSocket API envelope, sans-IO: a request `{"id","method","params"}` becomes the
//! REST call it stands for (so it runs through [`Venue::handle`](crate::venue::Venue::handle)'s
//! checks, limits, faults and record exactly as over HTTP), and the REST answer becomes
//! `{"id","status","result"|"error","rateLimits"}`.
//!
//! Signing: the signature covers every parameter but `signature`, `apiKey` included, sorted by
//! name and written `name=value` joined by `&`, values as sent (not URL-encoded).

use serde_json::{json, Map, Value};

use crate::venue::error::ApiError;
use crate::venue::params::MAX_PARAMS;
use crate::venue::{Method, Reply};

/// What a WebSocket API method does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The REST endpoint it stands for.
    Rest {
        method: Method,
        path: &'static str,
        signed: bool,
    },
    /// `userDataStream.subscribe.signature`.
    Subscribe,
    /// `userDataStream.unsubscribe`.
    Unsubscribe,
    /// `session.subscriptions`.
    Subscriptions,
}

const fn rest(method: Method, path: &'static str, signed: bool) -> Action {
    Action::Rest {
        method,
        path,
        signed,
    }
}

/// The methods served and what each stands for.
pub const METHODS: [(&str, Action); 20] = [
    ("ping", rest(Method::Get, "/api/v3/ping", false)),
    ("time", rest(Method::Get, "/api/v3/time", false)),
    (
        "exchangeInfo",
        rest(Method::Get, "/api/v3/exchangeInfo", false),
    ),
    ("depth", rest(Method::Get, "/api/v3/depth", false)),
    ("trades.recent", rest(Method::Get, "/api/v3/trades", false)),
    (
        "trades.aggregate",
        rest(Method::Get, "/api/v3/aggTrades", false),
    ),
    ("klines", rest(Method::Get, "/api/v3/klines", false)),
    (
        "ticker.24hr",
        rest(Method::Get, "/api/v3/ticker/24hr", false),
    ),
    (
        "ticker.price",
        rest(Method::Get, "/api/v3/ticker/price", false),
    ),
    (
        "ticker.book",
        rest(Method::Get, "/api/v3/ticker/bookTicker", false),
    ),
    ("order.place", rest(Method::Post, "/api/v3/order", true)),
    ("order.test", rest(Method::Post, "/api/v3/order/test", true)),
    ("order.status", rest(Method::Get, "/api/v3/order", true)),
    ("order.cancel", rest(Method::Delete, "/api/v3/order", true)),
    (
        "openOrders.status",
        rest(Method::Get, "/api/v3/openOrders", true),
    ),
    (
        "openOrders.cancelAll",
        rest(Method::Delete, "/api/v3/openOrders", true),
    ),
    ("account.status", rest(Method::Get, "/api/v3/account", true)),
    ("userDataStream.subscribe.signature", Action::Subscribe),
    ("userDataStream.unsubscribe", Action::Unsubscribe),
    ("session.subscriptions", Action::Subscriptions),
];

/// The methods of account queries served under their own names too.
pub const MORE_METHODS: [(&str, Action); 2] = [
    ("allOrders", rest(Method::Get, "/api/v3/allOrders", true)),
    ("myTrades", rest(Method::Get, "/api/v3/myTrades", true)),
];

/// The action of `name` (a `v3/` prefix is allowed, as Binance allows it).
pub fn action(name: &str) -> Option<Action> {
    let name = name.strip_prefix("v3/").unwrap_or(name);
    METHODS
        .iter()
        .chain(MORE_METHODS.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
}

/// One request, its parameters as strings in the order sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub id: Value,
    pub method: String,
    pub params: Vec<(String, String)>,
}

impl ApiRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// What the client signed: every parameter but `signature`, sorted by name.
    pub fn signed_payload(&self) -> Vec<u8> {
        let mut items: Vec<&(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "signature")
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (i, (k, v)) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    /// Whether the answer carries `rateLimits` (`returnRateLimits`, default true).
    pub fn wants_rate_limits(&self) -> bool {
        self.param("returnRateLimits") != Some("false")
    }

    /// The parameters as a REST query string, without `apiKey` (it travels as the header)
    /// and `returnRateLimits` (the envelope's own).
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        let own = |k: &str| k == "apiKey" || k == "returnRateLimits";
        for (k, v) in self.params.iter().filter(|(k, _)| !own(k)) {
            q.append_pair(k, v);
        }
        q.finish()
    }
}

/// A parameter value as text: strings as they are, numbers with the digits sent, booleans as
/// `true`/`false`, lists and objects as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Reads one request frame; a frame that is no request gets its error answer.
pub fn parse(frame: &str) -> Result<ApiRequest, String> {
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(frame) else {
        return Err(error(&Value::Null, &invalid_json(), None));
    };
    let id = m.remove("id").unwrap_or(Value::Null);
    let id_ok = match &id {
        Value::Null => true,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::String(s) => s.len() <= 36,
        _ => false,
    };
    if !id_ok {
        return Err(error(&Value::Null, &ApiError::illegal_chars("id"), None));
    }
    let method = match m.remove("method") {
        Some(Value::String(s)) => s,
        _ => return Err(error(&id, &ApiError::mandatory("method"), None)),
    };
    let params = match m.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(p)) => p.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Some(_) => return Err(error(&id, &invalid_json(), None)),
    };
    if params.len() > MAX_PARAMS {
        return Err(error(&id, &ApiError::too_many_params(), None));
    }
    Ok(ApiRequest { id, method, params })
}

fn invalid_json() -> ApiError {
    ApiError {
        status: 400,
        code: -1135,
        msg: "Invalid JSON Request".into(),
        data: None,
    }
}

/// The `rateLimits` of an answer, from the REST reply's usage headers.
pub fn rate_limits(reply: &Reply, weight_limit: u32, orders_limit: u32) -> Value {
    let used = |name: &str| {
        reply
            .headers
            .iter()
            .find(|(h, _)| *h == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let mut out = Vec::new();
    if let Some(n) = used("X-MBX-ORDER-COUNT-10S") {
        out.push(
            json!({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": orders_limit, "count": n}),
        );
    }
    if let Some(n) = used("X-MBX-USED-WEIGHT-1M") {
        out.push(
            json!({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                        "intervalNum": 1, "limit": weight_limit, "count": n}),
        );
    }
    Value::Array(out)
}

/// A successful answer.
pub fn ok(id: &Value, result: Value, limits: Option<Value>) -> String {
    let mut m = Map::new();
    m.insert("id".into(), id.clone());
    m.insert("status".into(), json!(200));
    m.insert("result".into(), result);
    if let Some(l) = limits {
        m.insert("rateLimits".into(), l);
    }
    Value::Object(m).to_string()
}

/// A refused request.
pub fn error(id: &Value, e: &ApiError, limits: Option<Value>) -> String {
    let mut m = Map::new();
    m.insert("id".into(), id.clone());
    m.insert("status".into(), json!(e.status));
    m.insert("error".into(), json!({"code": e.code, "msg": e.msg}));
    if let Some(l) = limits {
        m.insert("rateLimits".into(), l);
    }
    Value::Object(m).to_string()
}

/// The answer to a REST reply: its body as `result`, or its `{"code","msg"}` as `error`.
pub fn from_reply(id: &Value, reply: &Reply, limits: Option<Value>) -> String {
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if reply.status == 200 {
        return ok(id, body, limits);
    }
    let mut m = Map::new();
    m.insert("id".into(), id.clone());
    m.insert("status".into(), json!(reply.status));
    m.insert("error".into(), body);
    if let Some(l) = limits {
        m.insert("rateLimits".into(), l);
    }
    Value::Object(m).to_string()
}

/// `-1000 Unknown method`: a method this venue does not serve.
pub fn unknown_method() -> ApiError {
    ApiError {
        status: 400,
        code: -1000,
        msg: "Unknown method.".into(),
        data: None,
    }
}

/// `-2035`: a second user data subscription on one connection.
pub fn subscription_active() -> ApiError {
    ApiError {
        status: 400,
        code: -2035,
        msg: "User Data Stream subscription already active.".into(),
        data: None,
    }
}

/// `-2036`: unsubscribing what is not subscribed.
pub fn subscription_inactive() -> ApiError {
    ApiError {
        status: 400,
        code: -2036,
        msg: "User Data Stream subscription not active.".into(),
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // rule: venue_streams
    #[test]
    fn the_envelope_is_read_and_bad_frames_get_binances_errors() {
        let r = parse(r#"{"id":"a1","method":"order.place","params":{"symbol":"BTCUSDT","quantity":0.001,"timestamp":1700000000000,"newOrderRespType":"ACK","test":true}}"#).unwrap();
        assert_eq!(r.id, json!("a1"));
        assert_eq!(r.param("quantity"), Some("0.001"));
        assert_eq!(r.param("timestamp"), Some("1700000000000"));
        assert_eq!(r.param("test"), Some("true"));
        let bad: Value = serde_json::from_str(&parse("{not json").unwrap_err()).unwrap();
        assert_eq!(bad["status"], 400);
        assert_eq!(bad["error"]["code"], -1135);
        assert_eq!(bad["id"], Value::Null);
        let no_method: Value = serde_json::from_str(&parse(r#"{"id":7}"#).unwrap_err()).unwrap();
        assert_eq!(no_method["id"], 7);
        assert_eq!(no_method["error"]["code"], -1102);
        assert!(parse(r#"{"id":[1],"method":"ping"}"#).is_err());
        assert_eq!(action("v3/order.place"), action("order.place"));
        assert!(action("order.place").is_some());
        assert_eq!(action("order.explode"), None);
    }

    // rule: venue_streams
    #[test]
    fn the_signed_payload_is_the_sorted_parameters_apikey_included() {
        // Binance's worked example (WebSocket API, SIGNED request example (HMAC)).
        let r = parse(r#"{"id":"x","method":"order.place","params":{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC","quantity":"0.01000000","price":"52000.00","recvWindow":100,"timestamp":1645423376532,"apiKey":"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A","signature":"zz"}}"#).unwrap();
        let want = "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT";
        assert_eq!(String::from_utf8(r.signed_payload()).unwrap(), want);
        let c = crate::venue::Credentials::new(
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        assert_eq!(
            c.sign(want.as_bytes()),
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
        // The REST query string leaves the key out (it is the header) and keeps the rest.
        assert!(!r.query().contains("apiKey"));
        assert!(r.query().contains("signature=zz"));
    }
}
