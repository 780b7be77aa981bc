//! Binance's error payload, `{"code": -1013, "msg": "..."}`, with the HTTP status it travels
//! under. Codes and messages are Binance's own, so a client's error mapping (CCXT's, say)
//! raises the same exception it would raise against the real venue.

use std::borrow::Cow;

use serde::Serialize;

/// A refused request: what the client receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("HTTP {status}: {code} {msg}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub code: i32,
    pub msg: Cow<'static, str>,
    /// What each half of a cancel-replace did (`-2021`, `-2022`).
    /// Serialized already, its fields in Binance's order.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "raw")]
    pub data: Option<String>,
}

const fn fixed(status: u16, code: i32, msg: &'static str) -> ApiError {
    ApiError {
        status,
        code,
        msg: Cow::Borrowed(msg),
        data: None,
    }
}

fn owned(status: u16, code: i32, msg: String) -> ApiError {
    ApiError {
        status,
        code,
        msg: Cow::Owned(msg),
        data: None,
    }
}

/// Writes already serialized JSON as it is.
fn raw<S: serde::Serializer>(data: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match data {
        Some(d) => serde_json::value::RawValue::from_string(d.clone())
            .map_err(serde::ser::Error::custom)?
            .serialize(s),
        None => s.serialize_none(),
    }
}

impl ApiError {
    /// A matching-engine refusal under its own code (the OCO role errors, `-11xx`).
    pub fn rejected_with(code: i32, msg: String) -> ApiError {
        owned(400, code, msg)
    }
    /// `-2021`: one half of a cancel-replace failed (HTTP 409).
    pub fn cancel_replace_partial(data: &serde_json::value::RawValue) -> ApiError {
        ApiError {
            data: Some(data.get().to_string()),
            ..fixed(409, -2021, "Order cancel-replace partially failed.")
        }
    }
    /// `-2022`: the cancel failed, and the new order failed or was not attempted (HTTP 400).
    pub fn cancel_replace_failed(data: &serde_json::value::RawValue) -> ApiError {
        ApiError {
            data: Some(data.get().to_string()),
            ..fixed(400, -2022, "Order cancel-replace failed.")
        }
    }
    /// `-1158`: a leg type an OCO does not take.
    pub fn oco_order_type() -> ApiError {
        fixed(400, -1158, "Order type not supported in OCO.")
    }
    pub fn unknown_endpoint() -> ApiError {
        fixed(
            404,
            -1000,
            "An unknown error occurred while processing the request.",
        )
    }
    pub fn method_not_allowed() -> ApiError {
        fixed(
            405,
            -1000,
            "An unknown error occurred while processing the request.",
        )
    }
    /// HTTP 429: the request weight of the last minute is spent.
    pub fn too_much_weight(limit: u32) -> ApiError {
        owned(
            429,
            -1003,
            format!(
                "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
            ),
        )
    }
    /// HTTP 418: the client kept going after 429s and is banned until `until_ms`.
    pub fn banned(until_ms: u64) -> ApiError {
        owned(
            418,
            -1003,
            format!(
                "Way too much request weight used; IP banned until {until_ms}. Please use WebSocket Streams for live updates to avoid bans."
            ),
        )
    }
    /// The backend did not answer in time: the order may or may not have executed.
    pub fn execution_unknown() -> ApiError {
        fixed(
            503,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        )
    }
    /// HTTP 429 for placements: too many new orders in the window.
    pub fn too_many_orders(limit: u32, window: &str) -> ApiError {
        owned(
            429,
            -1015,
            format!("Too many new orders; current limit is {limit} orders per {window}."),
        )
    }
    pub fn timestamp_ahead() -> ApiError {
        fixed(
            400,
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        )
    }
    pub fn outside_recv_window() -> ApiError {
        fixed(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        )
    }
    pub fn bad_signature() -> ApiError {
        fixed(400, -1022, "Signature for this request is not valid.")
    }
    pub fn illegal_chars(param: &str) -> ApiError {
        owned(
            400,
            -1100,
            format!(
                "Illegal characters found in parameter '{param}'; legal range is '{}'.",
                legal_range(param)
            ),
        )
    }
    pub fn duplicate_param() -> ApiError {
        fixed(400, -1101, "Duplicate values for a parameter detected.")
    }
    pub fn too_many_params() -> ApiError {
        fixed(400, -1101, "Too many parameters sent for this endpoint.")
    }
    pub fn mandatory(param: &str) -> ApiError {
        owned(
            400,
            -1102,
            format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
        )
    }
    pub fn one_of(a: &str, b: &str) -> ApiError {
        owned(
            400,
            -1102,
            format!("Param '{a}' or '{b}' must be sent, but both were empty/null!"),
        )
    }
    pub fn unread_params(read: usize, sent: usize) -> ApiError {
        owned(
            400,
            -1104,
            format!("Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'."),
        )
    }
    pub fn empty_param(param: &str) -> ApiError {
        owned(400, -1105, format!("Parameter '{param}' was empty."))
    }
    pub fn not_required(param: &str) -> ApiError {
        owned(
            400,
            -1106,
            format!("Parameter '{param}' sent when not required."),
        )
    }
    pub fn too_much_precision(param: &str) -> ApiError {
        owned(
            400,
            -1111,
            format!("Parameter '{param}' has too much precision."),
        )
    }
    pub fn invalid_tif() -> ApiError {
        fixed(400, -1115, "Invalid timeInForce.")
    }
    pub fn invalid_order_type() -> ApiError {
        fixed(400, -1116, "Invalid orderType.")
    }
    pub fn invalid_side() -> ApiError {
        fixed(400, -1117, "Invalid side.")
    }
    pub fn invalid_symbol() -> ApiError {
        fixed(400, -1121, "Invalid symbol.")
    }
    pub fn invalid_interval() -> ApiError {
        fixed(400, -1120, "Invalid interval.")
    }
    pub fn bad_recv_window() -> ApiError {
        fixed(400, -1131, "recvWindow must be less than 60000")
    }
    pub fn invalid_resp_type() -> ApiError {
        fixed(400, -1136, "Invalid newOrderRespType")
    }
    pub fn bad_limit() -> ApiError {
        fixed(400, -1127, "Lookup interval is too big.")
    }
    pub fn bad_combination() -> ApiError {
        fixed(400, -1128, "Combination of optional parameters invalid.")
    }
    /// `-1013` with the filter's name, e.g. `Filter failure: LOT_SIZE`.
    pub fn filter(msg: String) -> ApiError {
        owned(400, -1013, msg)
    }
    pub fn new_order_rejected(msg: &str) -> ApiError {
        owned(400, -2010, msg.to_string())
    }
    pub fn duplicate_order() -> ApiError {
        fixed(400, -2010, "Duplicate order sent.")
    }
    pub fn cancel_rejected() -> ApiError {
        fixed(400, -2011, "Unknown order sent.")
    }
    pub fn no_such_order() -> ApiError {
        fixed(400, -2013, "Order does not exist.")
    }
    pub fn bad_api_key_format() -> ApiError {
        fixed(401, -2014, "API-key format invalid.")
    }
    pub fn rejected_api_key() -> ApiError {
        fixed(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    }
    /// More WebSocket connection attempts from one IP than Binance allows (300 in 5 minutes).
    pub fn too_many_connections() -> ApiError {
        fixed(
            429,
            -1003,
            "Too many connection attempts; please use the WebSocket connections you have.",
        )
    }
    pub fn payload_too_large() -> ApiError {
        fixed(413, -1000, "Request too large.")
    }
    /// HTTP 408: the body did not arrive within the server's read timeout.
    pub fn body_timeout() -> ApiError {
        fixed(408, -1000, "Timeout waiting for the request body.")
    }
    /// What the HTTP layer answers to a request it cannot parse (400), a path over its limit
    /// (414) or headers over theirs (431).
    pub fn protocol(status: u16) -> ApiError {
        let msg = match status {
            414 => "Request URI too long.",
            431 => "Request header fields too large.",
            _ => "Malformed HTTP request.",
        };
        fixed(status, -1000, msg)
    }
    /// HTTP 503: the venue can no longer write its record, so it executes nothing more.
    /// Binance's code for an internal failure.
    pub fn internal() -> ApiError {
        fixed(
            503,
            -1001,
            "Internal error; unable to process your request. Please try again.",
        )
    }

    /// The payload as JSON bytes.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"code":-1000,"msg":"error"}"#.to_vec())
    }
}

/// The pattern Binance quotes for a parameter's legal characters.
fn legal_range(param: &str) -> &'static str {
    match param {
        "symbol" => "^[A-Z0-9-_.]{1,20}$",
        "newClientOrderId" | "origClientOrderId" => "^[a-zA-Z0-9-_]{1,36}$",
        "quantity" | "price" | "quoteOrderQty" => "^([0-9]{1,20})(\\.[0-9]{1,20})?$",
        "type" => "^(FULL|MINI)$",
        _ => "^-?[0-9]{1,20}$",
    }
}
