//! The audit trail: one JSON line per transition or notable event of an intent.
//!
//! [`AuditLine`] is what the router emits (typed, no strings formatted until written);
//! [`write_line`] renders it as JSONL with exact decimal digits; [`read`] parses any log
//! (ours or another implementation's) into [`Record`]s; [`Checker`] validates records against
//! the one transition table, line by line in O(1) each.

mod check;
mod line;
mod parse;
mod problem;
pub(crate) mod read;
mod scan;

pub use check::{Checker, LineView, Policy};
pub(crate) use line::digits_u64;
pub use line::{checksum_ok, write_line, AuditLine, Detail, CRC_KEY};
pub use parse::{parse_audit_line, word};
pub use problem::{Problem, ProblemKind};
pub use read::{
    check_stream, log_end, read, read_line, read_line_with, read_stream, CheckError, CheckedLog,
    Damage, EndWatch, LogEnd, ReadError, Record,
};
