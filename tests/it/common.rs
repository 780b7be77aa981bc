//! What several test modules need: the binary, run with arguments.

use std::process::Command;

/// The `order-router` binary, run from the crate's directory.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_order-router"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
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
