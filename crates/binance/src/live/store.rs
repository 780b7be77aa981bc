//! The live driver's files behind one seam: the journal (appended, synced, read back, its end
//! cut off), the funding kept beside it, and the lock that keeps a second process off it.
//! [`FsStore`] is the disk; the stack fuzz mode puts a simulated disk here that can crash
//! with unsynced bytes lost or torn ([`crate::stack`]).

use std::io;
use std::path::{Path, PathBuf};

use crate::driver::AuditSink;
use crate::journal::lock::{JournalLock, LockError};
use crate::journal::{snapshot, Cut, FileJournal, SyncPolicy};
use crate::router::JournalScan;

/// A journal the driver appends to: an [`AuditSink`] whose first failure it can tell.
pub trait JournalFile: AuditSink {
    /// The first write or sync error: once there is one, nothing more may be sent.
    fn failure(&self) -> Option<String>;
}

impl JournalFile for FileJournal {
    fn failure(&self) -> Option<String> {
        self.error().map(|e| e.to_string())
    }
}

/// Where the live driver keeps its journal, the journal's funding and its lock.
pub trait Store {
    type Journal: JournalFile;
    /// Held for the whole run; dropping it lets the next process in.
    type Lock;
    /// The journal's name, for messages.
    fn journal_path(&self) -> &Path;
    /// The funding file's name, for messages.
    fn funding_path(&self) -> PathBuf;
    fn lock(&self, holder: &str) -> Result<Self::Lock, LockError>;
    /// The journal's length in bytes (0 when there is none).
    fn journal_len(&self) -> u64;
    fn funding_exists(&self) -> bool;
    fn read_funding(&self) -> io::Result<Vec<u8>>;
    /// Writes the funding whole or not at all, durably.
    fn write_funding(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn read_journal(&self) -> io::Result<Vec<u8>>;
    /// Cuts the journal back to what recovery kept ([`crate::journal::cut_end`]).
    fn cut_end(&mut self, bytes: &[u8], scan: &JournalScan) -> io::Result<Option<Cut>>;
    /// Appends after the first `valid_len` bytes of the journal ([`FileJournal::resume`]).
    fn resume(&mut self, valid_len: u64) -> io::Result<Self::Journal>;
    /// Starts a new journal.
    fn create(&mut self) -> io::Result<Self::Journal>;
}

/// The journal and its funding as files on disk, synced once per batch.
#[derive(Debug, Clone)]
pub struct FsStore {
    journal: PathBuf,
}

impl FsStore {
    pub fn new(journal: &Path) -> FsStore {
        FsStore {
            journal: journal.to_path_buf(),
        }
    }
}

impl Store for FsStore {
    type Journal = FileJournal;
    type Lock = JournalLock;

    fn journal_path(&self) -> &Path {
        &self.journal
    }

    fn funding_path(&self) -> PathBuf {
        super::driver::funding_path(&self.journal)
    }

    fn lock(&self, holder: &str) -> Result<JournalLock, LockError> {
        JournalLock::acquire(&self.journal, holder)
    }

    fn journal_len(&self) -> u64 {
        std::fs::metadata(&self.journal)
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn funding_exists(&self) -> bool {
        self.funding_path().exists()
    }

    fn read_funding(&self) -> io::Result<Vec<u8>> {
        std::fs::read(self.funding_path())
    }

    fn write_funding(&mut self, bytes: &[u8]) -> io::Result<()> {
        snapshot::write_atomic(&self.funding_path(), bytes)
    }

    fn read_journal(&self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.journal)
    }

    fn cut_end(&mut self, bytes: &[u8], scan: &JournalScan) -> io::Result<Option<Cut>> {
        crate::journal::cut_end(&self.journal, bytes, scan)
    }

    fn resume(&mut self, valid_len: u64) -> io::Result<FileJournal> {
        FileJournal::resume(&self.journal, valid_len, SyncPolicy::Batch)
    }

    fn create(&mut self) -> io::Result<FileJournal> {
        FileJournal::append(&self.journal, SyncPolicy::Batch)
    }
}
