//! Reading the scenario file's records: `csv-core`'s state machine over the bytes, physical
//! line numbers for errors, and the header check.

use super::*;
use crate::csv::{Read, RecordReader};

/// Physical line numbers of byte offsets.
///
/// The CSV reader positions a record where the previous one ended, before the blank and comment
/// lines it skips, so its own line number can be too small. This skips them the same way (at the
/// start of a record: line terminators are discarded and `#` discards up to the next `\n`) and
/// counts the `\n`s before the record's first byte.
pub(super) struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte of the record the reader positioned at `start`. Offsets
    /// must not decrease between calls (smaller ones count from the last).
    pub(super) fn line_at(&mut self, start: u64) -> usize {
        let mut at = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        loop {
            match self.bytes.get(at) {
                Some(b'\r' | b'\n') => at += 1,
                Some(b'#') => {
                    at = match self.bytes[at..].iter().position(|&b| b == b'\n') {
                        Some(nl) => at + nl + 1,
                        None => self.bytes.len(),
                    }
                }
                _ => break,
            }
        }
        if at > self.offset {
            let newlines = self.bytes[self.offset..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines;
            self.offset = at;
        }
        self.line
    }
}

/// The scenario's records (RFC 4180 quoting, `#` comment lines, any number of fields), over
/// bytes in memory. The state machine is built once per thread and reset for the next file:
/// building it costs more than reading a generated scenario, and the fuzzer reads one per seed.
pub(super) struct CsvRecords<'a> {
    reader: Option<RecordReader>,
    input: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> CsvRecords<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        let core = CSV_CORE
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| csv_core::ReaderBuilder::new().comment(Some(b'#')).build());
        CsvRecords {
            reader: Some(RecordReader::new(core)),
            input,
            at: 0,
            done: false,
        }
    }

    /// Reads the next record; returns the offset where reading it began (where the previous
    /// one ended, before any blank or comment lines).
    pub(super) fn next_record(&mut self) -> Option<usize> {
        let start = self.at;
        let reader = self.reader.as_mut()?;
        while !self.done {
            // The rest of the input, then (empty) its end.
            let (what, read) = reader.read(&self.input[self.at..]);
            self.at += read;
            match what {
                Read::Record => return Some(start),
                Read::NeedInput => {}
                Read::End => self.done = true,
            }
        }
        None
    }

    /// The fields of the record just read.
    pub(super) fn fields(&self) -> Vec<&[u8]> {
        self.reader
            .as_ref()
            .map_or_else(Vec::new, |r| r.fields().collect())
    }
}

thread_local! {
    /// The reader's state machine between files (see [`CsvRecords`]).
    static CSV_CORE: std::cell::RefCell<Option<csv_core::Reader>> =
        const { std::cell::RefCell::new(None) };
}

impl Drop for CsvRecords<'_> {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            let core = reader.into_core();
            CSV_CORE.with(|c| *c.borrow_mut() = Some(core));
        }
    }
}

pub(super) fn check_header(at: At<'_>, record: &[&[u8]]) -> Result<(), ScenarioError> {
    let cells: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    if cells.iter().map(String::as_str).eq(HEADER) {
        return Ok(());
    }
    Err(at.err(
        "header",
        format!(
            "expected {}, found {}",
            HEADER.join(","),
            show(&cells.join(","))
        ),
    ))
}
