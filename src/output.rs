//! Where the command line writes. Standard output survives a closed pipe (`... | head -1` ends
//! the command quietly instead of panicking), and output files are written whole or not at
//! all: into a temporary file beside the target, renamed over it once complete, and removed on
//! an error, on Ctrl-C and on SIGTERM. Nothing but a regular file is ever replaced: `-` means
//! standard output, a device or pipe is written in place, a symbolic link is followed, and a
//! path that is one of the command's inputs is refused.

use std::fmt;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Exit status after a closed standard output, as if SIGPIPE had ended the process.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Temporary files being written, removed if the process is interrupted.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every temporary file still being written.
fn remove_temporary() {
    if let Ok(mut list) = TEMPORARY.lock() {
        for p in list.drain(..) {
            let _ = fs::remove_file(p);
        }
    }
}

/// On Ctrl-C or SIGTERM: remove the temporary files, then exit 130 as a shell would report.
pub fn on_interrupt_clean_up() {
    let _ = ctrlc::set_handler(|| {
        remove_temporary();
        std::process::exit(130);
    });
}

/// Writes to standard output; a closed pipe ends the process quietly.
pub fn stdout(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        quit_on(&e);
    }
}

/// Whether standard output is a pipe whose reader has gone (`... | head -1`): a long
/// command that writes little polls this to stop early instead of running for nothing.
pub fn stdout_closed() -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let out = io::stdout();
    let fd = out.as_fd();
    let mut fds = [PollFd::new(&fd, PollFlags::empty())];
    let now = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(1) if fds[0].revents().contains(PollFlags::ERR))
}

/// Ends the process as a closed standard output does: quietly, temporary files removed.
pub fn exit_broken_pipe() -> ! {
    remove_temporary();
    std::process::exit(BROKEN_PIPE_EXIT);
}

/// Writes to standard error, ignoring failures: there is nowhere left to report them.
pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

fn quit_on(e: &io::Error) {
    remove_temporary();
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_EXIT);
    }
    let _ = writeln!(io::stderr(), "error: standard output: {e}");
    std::process::exit(2);
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` that survives a closed pipe.
macro_rules! out {
    ($($t:tt)*) => { $crate::output::stdout(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($t:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($t)*))) };
}

/// Where an output goes.
enum Dest {
    Stdout,
    /// A device or pipe: written in place.
    InPlace(PathBuf),
    /// A regular file, or none yet: written beside it, then renamed over it.
    File(PathBuf),
}

/// `path` as it would be once it exists: canonical, so two spellings of one file compare equal.
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

fn resolve(user: &Path, inputs: &[&Path]) -> Result<Dest, String> {
    if user.as_os_str() == "-" {
        return Ok(Dest::Stdout);
    }
    let target = canonical(user).ok_or("no such directory")?;
    for input in inputs {
        if canonical(input).as_ref() == Some(&target) {
            return Err(format!(
                "is the input {}; refusing to write over it",
                input.display()
            ));
        }
    }
    match fs::metadata(&target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = target.parent().ok_or("no such directory")?;
            if parent.is_dir() {
                Ok(Dest::File(target))
            } else {
                Err("no such directory".into())
            }
        }
        Err(e) => Err(e.to_string()),
        Ok(m) if m.is_dir() => Err("is a directory".into()),
        Ok(m) if m.is_file() => Ok(Dest::File(target)),
        Ok(_) => Ok(Dest::InPlace(target)),
    }
}

/// An output being written; [`Output::commit`] makes it appear whole.
pub struct Output {
    user: PathBuf,
    sink: Sink,
    /// `flush` also syncs the file to disk (`fdatasync`): a journal's group commit.
    sync: bool,
}

enum Sink {
    Stdout(BufWriter<io::Stdout>),
    InPlace(BufWriter<fs::File>),
    File {
        tmp: BufWriter<tempfile::NamedTempFile>,
        target: PathBuf,
    },
}

impl Output {
    /// Opens `user` (a path, or `-`) for writing; `inputs` are the files the command reads.
    /// Errors name the path as the user gave it.
    pub fn create(user: &Path, inputs: &[&Path]) -> Result<Output, String> {
        let named = |e: String| format!("{}: {e}", user.display());
        let sink = match resolve(user, inputs).map_err(named)? {
            Dest::Stdout => Sink::Stdout(BufWriter::new(io::stdout())),
            Dest::InPlace(p) => Sink::InPlace(BufWriter::new(
                fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(|e| named(e.to_string()))?,
            )),
            Dest::File(target) => {
                let dir = target.parent().unwrap_or(Path::new("."));
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(".{name}."))
                    .suffix(".partial")
                    .tempfile_in(dir)
                    .map_err(|e| named(e.to_string()))?;
                if let Ok(mut list) = TEMPORARY.lock() {
                    list.push(tmp.path().to_path_buf());
                }
                Sink::File {
                    tmp: BufWriter::with_capacity(1 << 20, tmp),
                    target,
                }
            }
        };
        Ok(Output {
            user: user.to_path_buf(),
            sink,
            sync: false,
        })
    }

    /// Makes `flush` sync the file to disk, as a journal's group commit does.
    pub fn syncing(mut self, yes: bool) -> Output {
        self.sync = yes;
        self
    }

    /// Whether this output is standard output (where a summary must then not go).
    pub fn is_stdout(&self) -> bool {
        matches!(self.sink, Sink::Stdout(_))
    }

    /// Finishes the output: a file replaces its target whole. On error nothing is left behind.
    pub fn commit(self) -> Result<(), String> {
        let named = |e: &dyn fmt::Display| format!("{}: {e}", self.user.display());
        match self.sink {
            Sink::Stdout(mut w) => w.flush().map_err(|e| {
                quit_on(&e);
                named(&e)
            }),
            Sink::InPlace(mut w) => w.flush().map_err(|e| named(&e)),
            Sink::File { tmp, target } => {
                let tmp = tmp.into_inner().map_err(|e| named(e.error()))?;
                let path = tmp.path().to_path_buf();
                // A temporary file is private (0600); the output gets the permissions of the
                // file it replaces, or the usual rw-r--r--.
                let mode = fs::metadata(&target).map_or(0o644, |m| m.permissions().mode());
                let _ = fs::set_permissions(&path, fs::Permissions::from_mode(mode));
                let done = tmp
                    .as_file()
                    .sync_all()
                    .map_err(|e| named(&e))
                    .and_then(|()| tmp.persist(&target).map(drop).map_err(|e| named(&e.error)));
                if let Ok(mut list) = TEMPORARY.lock() {
                    list.retain(|p| *p != path);
                }
                done
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write(buf).inspect_err(quit_on),
            Sink::InPlace(w) => w.write(buf),
            Sink::File { tmp, .. } => tmp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.flush().inspect_err(quit_on),
            Sink::InPlace(w) => {
                w.flush()?;
                if self.sync {
                    w.get_ref().sync_data()?;
                }
                Ok(())
            }
            Sink::File { tmp, .. } => {
                tmp.flush()?;
                if self.sync {
                    tmp.get_ref().as_file().sync_data()?;
                }
                Ok(())
            }
        }
    }
}

/// Writes `bytes` to `user` whole (see [`Output`]).
pub fn write_whole(user: &Path, inputs: &[&Path], bytes: &[u8]) -> Result<(), String> {
    let mut out = Output::create(user, inputs)?;
    out.write_all(bytes)
        .map_err(|e| format!("{}: {e}", user.display()))?;
    out.commit()
}

/// Makes sure `dir` exists (creating it) and a file can be written in it, before long work
/// whose result would otherwise be lost.
pub fn ensure_dir(dir: &Path) -> Result<(), String> {
    let named = |e: io::Error| format!("{}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(named)?;
    tempfile::Builder::new()
        .prefix(".order-router-probe.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(named)
}

/// The tokio runtime of the commands that do network I/O (`venue`, `live`): two workers, as
/// many as this product's machines have cores; timers and sockets on.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
