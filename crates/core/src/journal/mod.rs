//! The journal: the audit log on disk, made durable before the commands it describes go out.
//!
//! An adapter around the sans-IO router (the router itself writes nothing): a [`FileJournal`]
//! is an [`AuditSink`] for [`crate::driver`] that appends each line to a buffer and, when the
//! drive loop asks for durability (before it releases the batch's commands), writes the batch
//! and syncs it. The sync policy decides what "durable" costs:
//!
//! * [`SyncPolicy::Batch`] (group commit): one `fdatasync` per batch, so a crash after a
//!   command went out never loses the lines that describe it;
//! * [`SyncPolicy::Never`]: the batch is handed to the operating system only; a machine crash
//!   can lose the last batches (a process crash cannot). For tests and throughput runs.

pub mod lock;
pub mod snapshot;

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::audit::{write_line, AuditLine, LogEnd};
use crate::driver::AuditSink;
use crate::router::JournalScan;

/// When the journal syncs to disk: `batch` or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumString)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum SyncPolicy {
    /// One `fdatasync` per batch, before the batch's commands go out (group commit).
    #[default]
    #[strum(serialize = "batch")]
    Batch,
    /// Never sync; the operating system writes back when it likes.
    #[strum(serialize = "none")]
    #[cfg_attr(feature = "clap", value(name = "none"))]
    Never,
}

impl SyncPolicy {
    /// `batch` or `none`.
    pub fn parse(s: &str) -> Option<SyncPolicy> {
        s.parse().ok()
    }
}

/// An append-only journal file.
#[derive(Debug)]
pub struct FileJournal {
    out: BufWriter<File>,
    policy: SyncPolicy,
    line: Vec<u8>,
    /// Lines written, syncs made, and the first error (later batches are not written).
    pub lines: u64,
    pub syncs: u64,
    error: Option<io::Error>,
}

impl FileJournal {
    /// Opens `path` for appending (creating it).
    pub fn append(path: &Path, policy: SyncPolicy) -> io::Result<FileJournal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(FileJournal {
            out: BufWriter::with_capacity(1 << 16, file),
            policy,
            line: Vec::with_capacity(512),
            lines: 0,
            syncs: 0,
            error: None,
        })
    }

    /// Reopens a journal after recovery: cuts off its torn tail (everything from `valid_len`,
    /// which recovery reported; damage goes through [`cut_end`] first, to keep it), syncs that,
    /// and appends from there. A last line recovery read whole but without its newline gets it,
    /// so the next line does not run into it.
    pub fn resume(path: &Path, valid_len: u64, policy: SyncPolicy) -> io::Result<FileJournal> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        if file.metadata()?.len() != valid_len {
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        if valid_len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(valid_len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.seek(SeekFrom::End(0))?;
                file.write_all(b"\n")?;
                file.sync_all()?;
            }
        }
        drop(file);
        FileJournal::append(path, policy)
    }

    /// Starts a new, empty segment at `path` once a snapshot covers every line written (write
    /// the snapshot first): the old lines go, atomically, and appending goes on.
    pub fn rotate(&mut self, path: &Path) -> io::Result<()> {
        self.out.flush()?;
        snapshot::write_atomic(path, b"")?;
        let policy = self.policy;
        let lines = self.lines;
        let syncs = self.syncs;
        *self = FileJournal::append(path, policy)?;
        self.lines = lines;
        self.syncs = syncs;
        Ok(())
    }

    /// The first write or sync error, if any: once one happened the journal is not durable,
    /// and a driver must stop sending commands.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        if self.policy == SyncPolicy::Batch {
            self.out.get_ref().sync_data()?;
            self.syncs += 1;
        }
        Ok(())
    }
}

/// What reopening a journal cut off its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub journal: PathBuf,
    /// The verdict on the end that was cut (torn or damaged).
    pub end: LogEnd,
    pub bytes: u64,
    /// The side file that keeps damaged bytes (a torn write held nothing durable: not kept).
    pub kept: Option<PathBuf>,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "journal   {}: ", self.journal.display())?;
        match (&self.end, &self.kept) {
            (LogEnd::Damaged(d), Some(side)) => write!(
                f,
                "damaged line {} (byte {}): {}; cut off with what follows, as --truncate-damaged \
                 asked: the {} bytes cut are kept in {}",
                d.line,
                d.offset,
                d.reason(),
                self.bytes,
                side.display()
            ),
            (LogEnd::Torn { line, offset }, _) => write!(
                f,
                "torn tail line {line} (byte {offset}): no newline, so the writer stopped in it; \
                 cut off ({} bytes)",
                self.bytes
            ),
            (end, _) => write!(f, "{end}; cut off ({} bytes)", self.bytes),
        }
    }
}

/// Cuts the journal file at `path` back to what recovery kept (`scan.valid_len`), `bytes` being
/// what recovery read from it. Damage it was told to cut goes to a side file first
/// (`JOURNAL.broken`, or `JOURNAL.broken.1`, `.2`, ... when older ones exist, never
/// overwritten), synced before the journal is cut, so no byte is lost. `None` when nothing is cut.
pub fn cut_end(path: &Path, bytes: &[u8], scan: &JournalScan) -> io::Result<Option<Cut>> {
    let Some(cut) = bytes.get(scan.valid_len..).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let kept = match scan.damaged {
        Some(_) => Some(keep_broken(path, cut)?),
        None => None,
    };
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(scan.valid_len as u64)?;
    file.sync_all()?;
    Ok(Some(Cut {
        journal: path.to_path_buf(),
        end: scan.end(),
        bytes: cut.len() as u64,
        kept,
    }))
}

/// Writes `cut` to the first free `PATH.broken[.N]` and syncs it and its directory.
fn keep_broken(path: &Path, cut: &[u8]) -> io::Result<PathBuf> {
    for i in 0..10_000u32 {
        let mut side = path.as_os_str().to_owned();
        side.push(".broken");
        if i > 0 {
            side.push(format!(".{i}"));
        }
        let side = PathBuf::from(side);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&side)
        {
            Ok(mut f) => {
                f.write_all(cut)?;
                f.sync_all()?;
                let dir = side
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                File::open(dir)?.sync_all()?;
                return Ok(side);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}.broken .. .broken.9999 all exist: move the old ones away",
        path.display()
    )))
}

impl AuditSink for FileJournal {
    fn line(&mut self, line: AuditLine) {
        self.line.clear();
        write_line(&mut self.line, &line);
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(&self.line) {
                self.error = Some(e);
            }
        }
        self.lines += 1;
    }

    fn jsonl(&mut self, bytes: &[u8], lines: u64) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
        self.lines += lines;
    }

    fn make_durable(&mut self) -> bool {
        if self.error.is_none() {
            if let Err(e) = self.sync() {
                self.error = Some(e);
            }
        }
        self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{read, Detail};
    use crate::model::IntentId;
    use crate::router::State;

    fn line(seq: u64) -> AuditLine {
        AuditLine {
            seq,
            t_ms: seq,
            intent_id: IntentId::new("j").unwrap(),
            state: State::New,
            detail: Detail::DuplicateIgnored,
        }
    }

    #[test]
    // rule: write_ahead
    fn a_batch_is_on_disk_and_synced_once_when_made_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = FileJournal::append(&path, SyncPolicy::Batch).unwrap();
        j.line(line(0));
        j.line(line(1));
        // Buffered, not yet written: nothing is durable before make_durable.
        assert_eq!(std::fs::read(&path).unwrap().len(), 0);
        assert!(j.make_durable());
        assert_eq!((j.lines, j.syncs), (2, 1));
        let recs = read(&std::fs::read(&path).unwrap());
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(Result::is_ok), "{recs:?}");
        // Appending again keeps what is there.
        drop(j);
        let mut j = FileJournal::append(&path, SyncPolicy::Never).unwrap();
        j.line(line(2));
        assert!(j.make_durable());
        assert_eq!(j.syncs, 0, "never syncs");
        assert_eq!(read(&std::fs::read(&path).unwrap()).len(), 3);
    }

    #[test]
    // rule: recovery, journal_damage
    fn a_snapshot_then_rotation_leaves_what_recovery_needs_and_resume_cuts_a_torn_tail() {
        use crate::router::{scan, Replay, RouterConfig};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let snap = dir.path().join("snapshot");
        let new = |seq: u64, id: &str| AuditLine {
            seq,
            t_ms: seq,
            intent_id: IntentId::new(id).unwrap(),
            state: State::New,
            detail: Detail::New {
                symbol: crate::model::Symbol::parse("BTC/USDT").unwrap(),
                side: crate::model::Side::Buy,
                qty: rust_decimal::Decimal::ONE,
                ref_price: rust_decimal::Decimal::ONE,
            },
        };
        let mut j = FileJournal::append(&path, SyncPolicy::Batch).unwrap();
        j.line(new(0, "a"));
        j.line(new(1, "b"));
        assert!(j.make_durable());
        // Snapshot what the journal holds, then start a new segment.
        let mut replay = Replay::default();
        scan(
            &mut replay,
            &std::fs::read(&path).unwrap(),
            &RouterConfig::default(),
        )
        .unwrap();
        snapshot::write_atomic(&snap, &snapshot::encode(&replay)).unwrap();
        j.rotate(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 0);
        j.line(new(2, "c"));
        assert!(j.make_durable());
        drop(j);
        // A torn line after it: resume cuts it off.
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(b"{\"seq\":3,\"t_ms\":3,\"int");
        std::fs::write(&path, &bytes).unwrap();
        let mut r = snapshot::read(&snap).unwrap();
        let found = scan(&mut r, &bytes, &RouterConfig::default()).unwrap();
        assert_eq!((found.lines, found.valid_len), (1, whole));
        assert_eq!(r.open().count(), 3);
        let mut j = FileJournal::resume(&path, found.valid_len as u64, SyncPolicy::Batch).unwrap();
        j.line(new(3, "d"));
        assert!(j.make_durable());
        let mut r = snapshot::read(&snap).unwrap();
        let found = scan(
            &mut r,
            &std::fs::read(&path).unwrap(),
            &RouterConfig::default(),
        )
        .unwrap();
        assert_eq!(
            (found.lines, found.torn_tail, r.open().count()),
            (2, None, 4)
        );
    }

    #[test]
    fn sync_policies_parse() {
        assert_eq!(SyncPolicy::parse("batch"), Some(SyncPolicy::Batch));
        assert_eq!(SyncPolicy::parse("none"), Some(SyncPolicy::Never));
        assert_eq!(SyncPolicy::parse("always"), None);
    }
}
