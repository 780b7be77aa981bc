//! What several test modules need: the binary, run with arguments.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The `order-router` binary, run from the crate's directory.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_order-router"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Waits for `child` and its output, killing it after `secs` seconds: a process that hangs
/// fails its test, with what it printed, instead of stalling the whole suite.
pub fn output_within(child: Child, secs: u64) -> std::process::Output {
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = done.clone();
    std::thread::spawn(move || {
        for _ in 0..secs * 10 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if watch.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().expect("wait for the process");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        out.status.code().is_some(),
        "killed after {secs} s (hung?): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Exit code, stdout, stderr.
pub fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().args(args).output().expect("run the binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit code, and stdout followed by stderr.
pub fn cli_joined(args: &[&str]) -> (Option<i32>, String) {
    let (code, mut out, err) = cli(args);
    out.push_str(&err);
    (code, out)
}

/// `order-router venue` on a free loopback port with `args` (keys included): the process and
/// the URL it printed.
pub fn spawn_venue(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut child = bin()
        .args(["venue", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the venue");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the venue's first line");
    let url = line
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, url)
}
