//! Snapshot files: everything a restart needs as of one journal line, so the journal before it
//! can go and a restart costs what is open, not the whole history.
//!
//! Layout (see docs/durability.md): one JSON header line (`format`, `version`, the last journal
//! line it covers, counters, bookings, open intents, the number of finished intents), then the
//! finished-intent set as little-endian `u64`s (8 bytes each), then the CRC-32C of every byte
//! before it (4 bytes, little-endian). Written atomically: a temporary file, `fsync`, `rename`
//! over the old snapshot, `fsync` of the directory.

use std::io::{self, Write};
use std::path::Path;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use smallvec::SmallVec;

use crate::decision::Intent;
use crate::model::{Asset, ClientOrderId, OrderId};
use crate::router::{
    EdgeCounts, Finished, LastLine, OpenIntent, RecoverError, Replay, RouterStats, State,
    STATE_COUNT,
};

/// The `format` a snapshot's header names, and the one version this build reads.
pub const FORMAT: &str = "order-router snapshot";
pub const VERSION: u64 = 1;

/// Bounds a snapshot must keep, so a damaged or hostile file cannot ask for unbounded memory.
const MAX_FINISHED: u64 = 1 << 32;
const MAX_HEADER: usize = 1 << 30;

/// The snapshot of a replay, as bytes.
pub fn encode(r: &Replay) -> Vec<u8> {
    // Exact digits as a JSON number (serde_json keeps them with `arbitrary_precision`).
    let dec = |d: Decimal| serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null);
    let open: Vec<Value> = r
        .open()
        .map(|o| {
            json!({
                "intent": serde_json::to_value(&o.intent).unwrap_or(Value::Null),
                "state": o.state.as_str(),
                "reserved": o.reserved.as_ref().map(|(a, x)| json!([a.as_str(), dec(*x)])),
                "qty": dec(o.qty),
                "cap": dec(o.cap),
                "attempt": o.attempt,
                "orders": o.orders.iter().map(|(c, id, f)| json!([c.as_str(), id.to_string(), dec(*f)])).collect::<Vec<_>>(),
                "order": o.order.as_ref().map(|(c, t)| json!([c.as_str(), t])),
                "retry_at": o.retry_at,
                "cancelled": o.cancelled,
            })
        })
        .collect();
    let s = &r.stats;
    let booked: Map<String, Value> = r
        .booked
        .iter()
        .map(|(a, d)| (a.as_str().to_string(), dec(*d)))
        .collect();
    let header = json!({
        "format": FORMAT,
        "version": VERSION,
        "last": r.last.map(|l| json!({
            "seq": l.seq, "t_ms": l.t_ms, "intent": format!("{:016x}", l.intent), "state": l.state.as_str(),
        })),
        "stats": [s.intents, s.duplicates_ignored, s.orders_sent, s.retries, s.unknown_outcomes, s.unknown_resolved],
        "edges": r.edges.iter().map(|row| row.to_vec()).collect::<Vec<_>>(),
        "booked": booked,
        "open": open,
        "finished": r.finished().len(),
    });
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.reserve(r.finished().len() * 8 + 4);
    for e in r.finished().raw() {
        out.extend_from_slice(&e.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn bad(message: impl Into<String>) -> RecoverError {
    RecoverError::Snapshot(message.into())
}

/// Reads a snapshot's bytes; anything damaged, of another format or version, is refused.
pub fn decode(bytes: &[u8]) -> Result<Replay, RecoverError> {
    let Some((body, crc)) = bytes.split_last_chunk::<4>() else {
        return Err(bad("too short to be a snapshot"));
    };
    let nl = body
        .iter()
        .take(MAX_HEADER)
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line: not a snapshot"))?;
    let header: Value = serde_json::from_slice(&body[..nl])
        .map_err(|e| bad(format!("header is not JSON: {e}: not a snapshot")))?;
    if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(bad(format!("not an {FORMAT} file")));
    }
    match header.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        v => {
            return Err(bad(format!(
                "unknown format version {} (this build reads version {VERSION})",
                v.map_or("none".to_string(), |v| v.to_string())
            )))
        }
    }
    if u32::from_le_bytes(*crc) != crc32c::crc32c(body) {
        return Err(bad("checksum mismatch: the file is damaged"));
    }
    let h = Header(&header);
    let count = h.u64("finished")?;
    let entries = &body[nl + 1..];
    if count > MAX_FINISHED || entries.len() as u64 != count * 8 {
        return Err(bad(format!(
            "{count} finished intents announced, {} bytes of them present",
            entries.len()
        )));
    }
    let mut finished = Finished::with_capacity(count as usize);
    for chunk in entries.chunks_exact(8) {
        let mut e = [0u8; 8];
        e.copy_from_slice(chunk);
        if !finished.insert_raw(u64::from_le_bytes(e)) {
            return Err(bad("a finished intent with no terminal state"));
        }
    }
    let last = match header.get("last") {
        None | Some(Value::Null) => None,
        Some(l) => {
            let l = Header(l);
            Some(LastLine {
                seq: l.u64("seq")?,
                t_ms: l.u64("t_ms")?,
                intent: u64::from_str_radix(l.str("intent")?, 16)
                    .map_err(|_| bad("last.intent is not 16 hex digits"))?,
                state: l.state("state")?,
            })
        }
    };
    let stats = {
        let s = h.u64s("stats", 6)?;
        RouterStats {
            intents: s[0],
            duplicates_ignored: s[1],
            orders_sent: s[2],
            retries: s[3],
            unknown_outcomes: s[4],
            unknown_resolved: s[5],
        }
    };
    // A snapshot written before `DONE` existed has one row and one column fewer: the
    // missing counts are zero.
    let mut edges: EdgeCounts = [[0u64; STATE_COUNT]; STATE_COUNT + 1];
    let rows = header
        .get("edges")
        .and_then(Value::as_array)
        .filter(|r| r.len() == STATE_COUNT + 1 || r.len() == STATE_COUNT)
        .ok_or_else(|| bad(format!("edges: expected {} rows", STATE_COUNT + 1)))?;
    let width = rows.len() - 1;
    for (row, v) in edges.iter_mut().zip(rows) {
        let v = Header(v).as_u64s(width)?;
        row[..width].copy_from_slice(&v);
    }
    let mut booked = Vec::new();
    if let Some(m) = header.get("booked").and_then(Value::as_object) {
        for (a, v) in m {
            booked.push((asset(a)?, number(v)?));
        }
    }
    let mut open = Vec::new();
    for o in header
        .get("open")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("open: expected a list"))?
    {
        open.push(open_intent(o)?);
    }
    Ok(Replay::from_parts(
        open, finished, booked, stats, edges, last,
    ))
}

fn asset(s: &str) -> Result<Asset, RecoverError> {
    Asset::new(s).map_err(|e| bad(format!("asset {s:?}: {e}")))
}

fn number(v: &Value) -> Result<Decimal, RecoverError> {
    v.as_number()
        .and_then(|n| n.to_string().parse::<Decimal>().ok())
        .ok_or_else(|| bad(format!("{v} is not a decimal")))
}

fn open_intent(v: &Value) -> Result<OpenIntent, RecoverError> {
    let h = Header(v);
    let intent: Intent = serde_json::from_value(v.get("intent").cloned().unwrap_or(Value::Null))
        .map_err(|e| bad(format!("open intent: {e}")))?;
    let pair = |key: &str| -> Option<&Vec<Value>> { v.get(key).and_then(Value::as_array) };
    let reserved = match pair("reserved") {
        Some(p) if p.len() == 2 => {
            Some((asset(p[0].as_str().unwrap_or_default())?, number(&p[1])?))
        }
        _ => None,
    };
    let mut orders = SmallVec::new();
    for o in pair("orders").into_iter().flatten() {
        let o = o
            .as_array()
            .filter(|o| o.len() == 3)
            .ok_or_else(|| bad("orders: expected triples"))?;
        let coid = ClientOrderId::new(o[0].as_str().unwrap_or_default())
            .map_err(|e| bad(e.to_string()))?;
        let oid =
            OrderId::new(o[1].as_str().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
        orders.push((coid, oid, number(&o[2])?));
    }
    let order = match pair("order") {
        Some(p) if p.len() == 2 => Some((
            ClientOrderId::new(p[0].as_str().unwrap_or_default())
                .map_err(|e| bad(e.to_string()))?,
            p[1].as_u64().ok_or_else(|| bad("order: expected a time"))?,
        )),
        _ => None,
    };
    Ok(OpenIntent {
        intent,
        state: h.state("state")?,
        reserved,
        qty: number(v.get("qty").unwrap_or(&Value::Null))?,
        cap: number(v.get("cap").unwrap_or(&Value::Null))?,
        attempt: u32::try_from(h.u64("attempt")?).map_err(|_| bad("attempt out of range"))?,
        orders,
        order,
        retry_at: h.u64("retry_at")?,
        // Absent in a snapshot written before cancel intents.
        cancelled: v.get("cancelled").and_then(Value::as_bool).unwrap_or(false),
    })
}

struct Header<'a>(&'a Value);

impl Header<'_> {
    fn u64(&self, key: &str) -> Result<u64, RecoverError> {
        self.0
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("{key}: expected a non-negative integer")))
    }

    fn str(&self, key: &str) -> Result<&str, RecoverError> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{key}: expected a string")))
    }

    fn state(&self, key: &str) -> Result<State, RecoverError> {
        let s = self.str(key)?;
        State::parse(s).ok_or_else(|| bad(format!("{key}: unknown state {s:?}")))
    }

    fn u64s(&self, key: &str, n: usize) -> Result<Vec<u64>, RecoverError> {
        Header(self.0.get(key).unwrap_or(&Value::Null))
            .as_u64s(n)
            .map_err(|_| bad(format!("{key}: expected {n} integers")))
    }

    fn as_u64s(&self, n: usize) -> Result<Vec<u64>, RecoverError> {
        let a = self
            .0
            .as_array()
            .filter(|a| a.len() == n)
            .ok_or_else(|| bad(format!("expected {n} integers")))?;
        a.iter()
            .map(|x| x.as_u64().ok_or_else(|| bad("expected an integer")))
            .collect()
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one whole:
/// a temporary file beside it, `fsync`, `rename`, `fsync` of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads and decodes a snapshot file.
pub fn read(path: &Path) -> Result<Replay, RecoverError> {
    let bytes = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    decode(&bytes)
}
