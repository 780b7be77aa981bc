//! The one CSV record reader of every CSV the product reads (scenarios, market files, tapes):
//! csv-core's RFC 4180 state machine (quoted fields, `""` escapes, quoted line breaks), fed
//! either a whole file from memory or a stream one physical line at a time.

use csv_core::ReadRecordResult;

/// What one [`RecordReader::read`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// A record is complete: its fields are [`RecordReader::field`]s until the next read.
    Record,
    /// The input was used up inside a record (or before one): feed more, or the end.
    NeedInput,
    /// The end of the input, with no record left.
    End,
}

/// A CSV state machine and the record it is reading.
pub(crate) struct RecordReader {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Bytes and field ends written so far of the record being read (it may span feeds).
    wrote: usize,
    ended: usize,
    /// Field count of the last complete record.
    fields: usize,
}

impl RecordReader {
    pub(crate) fn new(core: csv_core::Reader) -> Self {
        RecordReader {
            core,
            out: vec![0; 1024],
            ends: vec![0; 16],
            wrote: 0,
            ended: 0,
            fields: 0,
        }
    }

    /// Reads from `input` until a record ends or `input` is used up; an empty `input` is the
    /// end of the file. Returns what happened and how many bytes of `input` were used.
    pub(crate) fn read(&mut self, input: &[u8]) -> (Read, usize) {
        let mut at = 0;
        loop {
            let (res, read, wrote, ended) = self.core.read_record(
                &input[at..],
                &mut self.out[self.wrote..],
                &mut self.ends[self.ended..],
            );
            // (Field ends count from the record's start: the reader keeps its place.)
            at += read;
            self.wrote += wrote;
            self.ended += ended;
            match res {
                ReadRecordResult::InputEmpty => return (Read::NeedInput, at),
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    self.fields = self.ended;
                    (self.wrote, self.ended) = (0, 0);
                    return (Read::Record, at);
                }
                ReadRecordResult::End => return (Read::End, at),
            }
        }
    }

    /// How many fields the last record has.
    pub(crate) fn len(&self) -> usize {
        self.fields
    }

    /// Field `i` of the last record, unquoted.
    pub(crate) fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends[..self.fields].get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out.get(start..end)
    }

    /// The fields of the last record, unquoted.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.fields).filter_map(|i| self.field(i))
    }

    /// The state machine back, reset for another file.
    pub(crate) fn into_core(mut self) -> csv_core::Reader {
        let mut core = std::mem::take(&mut self.core);
        core.reset();
        core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(feeds: &[&[u8]]) -> Vec<Vec<String>> {
        let mut r = RecordReader::new(csv_core::Reader::new());
        let mut got = Vec::new();
        for feed in feeds.iter().copied().chain([&b""[..]]) {
            let mut at = 0;
            loop {
                let (what, n) = r.read(&feed[at..]);
                at += n;
                match what {
                    Read::Record => got.push(
                        r.fields()
                            .map(|f| String::from_utf8_lossy(f).into_owned())
                            .collect(),
                    ),
                    Read::NeedInput | Read::End => break,
                }
                if at == feed.len() && !feed.is_empty() {
                    break;
                }
            }
        }
        got
    }

    #[test]
    fn a_quoted_field_fed_line_by_line_is_one_field() {
        let whole = records(&[b"a,\"b,\"\"c\"\"\nd\",e\n1,2,3\n"]);
        let lines = records(&[b"a,\"b,\"\"c\"\"\n", b"d\",e\n", b"1,2,3"]);
        assert_eq!(whole, lines);
        assert_eq!(whole[0], ["a", "b,\"c\"\nd", "e"]);
        assert_eq!(whole[1], ["1", "2", "3"]);
    }
}
