//! One process per journal. Two processes appending to one journal would each place every
//! order it describes: the lock makes the second one stop before it sends anything.
//!
//! The lock is an OS file lock (`flock`) on `JOURNAL.lock`, held for the life of the
//! [`JournalLock`]: the kernel drops it when the process ends in any way, SIGKILL included, so a
//! stale lock never blocks a restart. The file says who holds it, for the refusal's message;
//! it is never removed (removing it would let two processes lock two different files).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "journal {journal} is in use by another process ({holder}); two processes on one journal would place every order twice"
    )]
    Held { journal: String, holder: String },
    #[error("journal {journal}: cannot lock {lock}: {source}")]
    Io {
        journal: String,
        lock: String,
        source: std::io::Error,
    },
}

/// The exclusive lock on one journal and its side files; released when dropped.
#[derive(Debug)]
pub struct JournalLock {
    _file: File,
    path: PathBuf,
}

/// `JOURNAL.lock`.
pub fn lock_path(journal: &Path) -> PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The most of a holder's description a refusal quotes.
const MAX_HOLDER: usize = 200;

impl JournalLock {
    /// Locks `journal` for this process, which `holder` describes (e.g. `order-router live
    /// --venue ...`); refused at once, without waiting, when another process holds it.
    pub fn acquire(journal: &Path, holder: &str) -> Result<JournalLock, LockError> {
        let path = lock_path(journal);
        let io = |source| LockError::Io {
            journal: journal.display().to_string(),
            lock: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = (&file).take(MAX_HOLDER as u64).read_to_string(&mut text);
                let holder = text.trim();
                return Err(LockError::Held {
                    journal: journal.display().to_string(),
                    holder: if holder.is_empty() {
                        "holder unknown".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let who = format!("pid {}: {holder}\n", std::process::id());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(who.as_bytes()).map_err(io)?;
        Ok(JournalLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // rule: journal_lock
    fn one_journal_one_process_a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("live.jsonl");
        let first = JournalLock::acquire(&journal, "order-router live (first)").unwrap();
        let err = JournalLock::acquire(&journal, "second").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{msg}");
        assert!(msg.contains("order-router live (first)"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        // Released with its holder: the next process takes it, and names itself.
        let again = JournalLock::acquire(&journal, "third").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.ends_with(": third\n"), "{text}");
    }
}
