//! A simulated disk for the live driver's journal, with crash semantics: bytes written are
//! durable only once synced, and a crash keeps the synced bytes and a seeded part of the
//! unsynced ones, so the journal may end in a torn line. A disk can be told to crash at its
//! `n`-th sync: the batch is written, not synced, and the sync fails, as if the machine went
//! down in the middle of `fdatasync`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::Rng;

use crate::audit::{write_line, AuditLine};
use crate::driver::AuditSink;
use crate::journal::lock::LockError;
use crate::journal::Cut;
use crate::live::store::{JournalFile, Store};
use crate::router::JournalScan;

/// What the disk holds.
#[derive(Debug, Default)]
struct Files {
    journal: Vec<u8>,
    /// The journal's first `synced` bytes survive a crash.
    synced: usize,
    funding: Option<Vec<u8>>,
    /// Damaged ends cut off and kept, as `JOURNAL.broken` keeps them.
    broken: Vec<Vec<u8>>,
    syncs: u64,
    /// The sync (counted from 1) that crashes instead.
    crash_at_sync: Option<u64>,
    /// The disk crashed: nothing more is written until [`SimDisk::crash`] has run.
    down: bool,
}

/// The disk, shared by the store and the journal it opens.
#[derive(Debug, Clone, Default)]
pub struct SimDisk(Arc<Mutex<Files>>);

/// Whole or torn: what a crash did to the journal's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crashed {
    /// Unsynced bytes lost.
    pub lost: usize,
    /// The journal now ends in a line without its newline.
    pub torn: bool,
}

impl SimDisk {
    fn files(&self) -> MutexGuard<'_, Files> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the `n`-th sync from now crash (`None`: none does).
    pub fn crash_at_sync(&self, n: Option<u64>) {
        let mut f = self.files();
        f.crash_at_sync = n.map(|n| f.syncs + n);
    }

    /// Whether a sync crashed.
    pub fn is_down(&self) -> bool {
        self.files().down
    }

    /// The machine goes down: what was not synced is lost, but for a seeded part of it that
    /// reached the platter anyway (so the last line may be torn). The disk is up again after.
    pub fn crash(&self, rng: &mut impl Rng) -> Crashed {
        let mut f = self.files();
        let unsynced = f.journal.len() - f.synced;
        let kept = if unsynced == 0 {
            0
        } else {
            rng.random_range(0..=unsynced)
        };
        let len = f.synced + kept;
        f.journal.truncate(len);
        f.synced = len;
        f.down = false;
        f.crash_at_sync = None;
        Crashed {
            lost: unsynced - kept,
            torn: !f.journal.is_empty() && !f.journal.ends_with(b"\n"),
        }
    }

    /// The journal's bytes as they are now.
    pub fn journal(&self) -> Vec<u8> {
        self.files().journal.clone()
    }

    /// How many damaged ends were cut off and kept.
    pub fn broken(&self) -> usize {
        self.files().broken.len()
    }
}

/// The store of one driver run on a [`SimDisk`].
#[derive(Debug)]
pub struct SimStore {
    disk: SimDisk,
    path: PathBuf,
}

impl SimStore {
    pub fn new(disk: SimDisk) -> SimStore {
        SimStore {
            disk,
            path: PathBuf::from("sim/journal.jsonl"),
        }
    }
}

impl Store for SimStore {
    type Journal = SimJournal;
    /// One simulated process at a time: there is nothing to lock.
    type Lock = ();

    fn journal_path(&self) -> &Path {
        &self.path
    }

    fn funding_path(&self) -> PathBuf {
        crate::live::driver::funding_path(&self.path)
    }

    fn lock(&self, _holder: &str) -> Result<(), LockError> {
        Ok(())
    }

    fn journal_len(&self) -> u64 {
        self.disk.files().journal.len() as u64
    }

    fn funding_exists(&self) -> bool {
        self.disk.files().funding.is_some()
    }

    fn read_funding(&self) -> io::Result<Vec<u8>> {
        self.disk
            .files()
            .funding
            .clone()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn write_funding(&mut self, bytes: &[u8]) -> io::Result<()> {
        // Written atomically and synced, as `write_atomic` does.
        self.disk.files().funding = Some(bytes.to_vec());
        Ok(())
    }

    fn read_journal(&self) -> io::Result<Vec<u8>> {
        Ok(self.disk.journal())
    }

    fn cut_end(&mut self, bytes: &[u8], scan: &JournalScan) -> io::Result<Option<Cut>> {
        let Some(cut) = bytes.get(scan.valid_len..).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let mut f = self.disk.files();
        let kept = scan.damaged.is_some().then(|| {
            f.broken.push(cut.to_vec());
            PathBuf::from(format!("sim/journal.jsonl.broken.{}", f.broken.len()))
        });
        f.journal.truncate(scan.valid_len);
        f.synced = f.synced.min(scan.valid_len);
        Ok(Some(Cut {
            journal: self.path.clone(),
            end: scan.end(),
            bytes: cut.len() as u64,
            kept,
        }))
    }

    fn resume(&mut self, valid_len: u64) -> io::Result<SimJournal> {
        {
            let mut f = self.disk.files();
            let len = usize::try_from(valid_len).map_err(io::Error::other)?;
            f.journal.truncate(len);
            if !f.journal.is_empty() && !f.journal.ends_with(b"\n") {
                f.journal.push(b'\n');
            }
            f.synced = f.journal.len();
        }
        self.create()
    }

    fn create(&mut self) -> io::Result<SimJournal> {
        Ok(SimJournal {
            disk: self.disk.clone(),
            pending: Vec::new(),
            failed: None,
        })
    }
}

/// A journal on the simulated disk: lines are buffered, written and synced per batch.
#[derive(Debug)]
pub struct SimJournal {
    disk: SimDisk,
    pending: Vec<u8>,
    failed: Option<String>,
}

impl AuditSink for SimJournal {
    fn line(&mut self, line: AuditLine) {
        write_line(&mut self.pending, &line);
    }

    fn jsonl(&mut self, bytes: &[u8], _lines: u64) {
        self.pending.extend_from_slice(bytes);
    }

    fn make_durable(&mut self) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let mut f = self.disk.files();
        if f.down {
            self.failed = Some("the disk is down".into());
            return false;
        }
        f.journal.append(&mut self.pending);
        f.syncs += 1;
        if f.crash_at_sync == Some(f.syncs) {
            // Written, never synced: the machine went down in the sync.
            f.down = true;
            self.failed = Some("crashed in fdatasync".into());
            return false;
        }
        f.synced = f.journal.len();
        true
    }
}

impl JournalFile for SimJournal {
    fn failure(&self) -> Option<String> {
        self.failed.clone()
    }
}
