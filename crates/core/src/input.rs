//! Bounds every reader of a user's file shares: the longest line it buffers, and how much of
//! a value an error message quotes. A hostile or mistaken file (a gigabyte without a newline,
//! a 100 MB cell) costs a bounded amount of memory and prints a readable error.

use std::io::{BufRead, Read};

/// The longest line (bytes, its `\n` or `\r\n` not counted) of any line-oriented input:
/// scenario, market and tape CSV, intents JSONL, audit logs. Real lines are under a kilobyte.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The most characters of a value an error message quotes.
pub const MAX_SHOWN_CHARS: usize = 64;

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("the line is longer than {MAX_LINE_BYTES} bytes, the most a line may have")]
    TooLong,
}

/// Reads the next line into `buf` (cleared first; the line end kept), buffering at most
/// [`MAX_LINE_BYTES`] + 2 bytes of it: `Ok(false)` at the end of the input. After
/// [`LineError::TooLong`] the rest of that line is still unread.
pub fn read_line<R: BufRead + ?Sized>(input: &mut R, buf: &mut Vec<u8>) -> Result<bool, LineError> {
    read_line_within(input, buf, MAX_LINE_BYTES)
}

/// [`read_line`] with another bound (for tests of the bound itself).
pub fn read_line_within<R: BufRead + ?Sized>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool, LineError> {
    buf.clear();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(2);
    let n = input.take(cap).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    let text = buf.strip_suffix(b"\n").unwrap_or(buf);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.len() > max {
        return Err(LineError::TooLong);
    }
    Ok(true)
}

/// [`read_line`] for readers that report `std::io::Error`s: a line too long is an
/// `InvalidData` error naming `line` (the 1-based number of the line being read).
pub fn read_line_io<R: BufRead + ?Sized>(
    input: &mut R,
    buf: &mut Vec<u8>,
    line: usize,
) -> std::io::Result<bool> {
    read_line(input, buf).map_err(|e| match e {
        LineError::Io(e) => e,
        LineError::TooLong => {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("line {line}: {e}"))
        }
    })
}

/// Consumes the rest of a line [`read_line`] refused as too long, without holding it:
/// `Ok(false)` when the input ended first.
pub fn skip_line<R: BufRead + ?Sized>(input: &mut R) -> std::io::Result<bool> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(false);
        }
        match memchr::memchr(b'\n', chunk) {
            Some(i) => {
                input.consume(i + 1);
                return Ok(true);
            }
            None => {
                let n = chunk.len();
                input.consume(n);
            }
        }
    }
}

/// A value for an error message: quoted and escaped, cut after [`MAX_SHOWN_CHARS`]
/// characters with `…`, so a 100 MB cell prints as one readable line.
pub fn show(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// A message from elsewhere (a JSON parser's, which quotes the value it choked on) cut the
/// same way, to four times [`MAX_SHOWN_CHARS`] characters.
pub fn cut(message: &str) -> std::borrow::Cow<'_, str> {
    match message.char_indices().nth(4 * MAX_SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &message[..at]).into(),
        None => message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_past_the_bound_is_refused_without_reading_it_whole() {
        let mut input: &[u8] = b"ab\ncdef\r\nghijkl\nx";
        let mut buf = Vec::new();
        assert!(read_line_within(&mut input, &mut buf, 4).unwrap());
        assert_eq!(buf, b"ab\n");
        // Four bytes and a CRLF: exactly the bound.
        assert!(read_line_within(&mut input, &mut buf, 4).unwrap());
        assert_eq!(buf, b"cdef\r\n");
        assert!(matches!(
            read_line_within(&mut input, &mut buf, 4),
            Err(LineError::TooLong)
        ));
        assert!(buf.len() <= 6, "buffered {} bytes", buf.len());
        assert!(skip_line(&mut input).unwrap());
        assert!(read_line_within(&mut input, &mut buf, 4).unwrap());
        assert_eq!(buf, b"x");
        let mut last: &[u8] = b"x";
        assert!(read_line_within(&mut last, &mut buf, 4).unwrap());
        assert!(!read_line_within(&mut last, &mut buf, 4).unwrap());
    }

    #[test]
    fn a_long_value_is_shown_cut() {
        assert_eq!(show("abc"), "\"abc\"");
        let long = "x".repeat(100_000);
        let s = show(&long);
        assert!(
            s.ends_with('…') && s.chars().count() == MAX_SHOWN_CHARS + 3,
            "{s}"
        );
        // Cut on a character, not a byte.
        let wide = "é".repeat(100);
        assert!(show(&wide).starts_with("\"éé"));
        assert_eq!(cut(&long).chars().count(), 4 * MAX_SHOWN_CHARS + 1);
        assert_eq!(cut("short"), "short");
    }
}
