//! Journal damage against a tear: only a last line without its newline is torn (the writer
//! stopped in it); a line with its newline that does not read was damaged after it was written,
//! and stops the restart unless `--truncate-damaged` cuts it into `JOURNAL.broken`. `recover`,
//! `report` and `check-audit` give one file one verdict.

use std::path::{Path, PathBuf};

use crate::common::{cli, cli_joined};
use crate::recovery::{first_lines, funded, journal_of};
use order_router::audit::{log_end, read, LogEnd, ReadError};
use order_router::journal::cut_end;
use order_router::router::{
    scan, scan_with, OnDamage, RecoverError, Replay, Resume, Router, RouterConfig, State,
};

/// NEW, RESERVED and SENT of one intent, the SENT line with one digit changed and its newline
/// intact; and where the SENT line starts.
fn damaged_sent() -> (Vec<u8>, usize) {
    let journal = journal_of("scenarios/basic_buy.csv");
    let mut bytes = first_lines(&journal, 3);
    let states: Vec<State> = read(&bytes).into_iter().map(|r| r.unwrap().state).collect();
    assert_eq!(states, [State::New, State::Reserved, State::Sent]);
    let two = first_lines(&journal, 2).len();
    let at = (two..bytes.len())
        .find(|&i| bytes[i].is_ascii_digit())
        .expect("a digit");
    bytes[at] = if bytes[at] == b'9' {
        b'0'
    } else {
        bytes[at] + 1
    };
    assert_eq!(bytes.last(), Some(&b'\n'));
    (bytes, two)
}

fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("journal.jsonl");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn broken(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.broken{suffix}", path.display()))
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
// rule: journal_damage, recovery
fn a_terminated_sent_line_with_a_flipped_byte_stops_recovery_instead_of_placing_again() {
    let (bytes, two) = damaged_sent();
    let err = scan(&mut Replay::default(), &bytes, &RouterConfig::default()).unwrap_err();
    let RecoverError::Damaged(d) = &err else {
        panic!("taken for something else: {err}");
    };
    assert_eq!(
        (d.line, d.offset, &d.error),
        (3, two as u64, &ReadError::Checksum { line: 3 })
    );
    let text = err.to_string();
    assert!(
        text.contains("damaged line 3") && text.contains("--truncate-damaged"),
        "{text}"
    );
    // No router is built: nothing could place attempt 1 again.
    let rec = Router::recover(
        RouterConfig::default(),
        funded(),
        Replay::default(),
        &bytes,
        10_000,
    );
    assert!(matches!(rec, Err(RecoverError::Damaged(_))), "{rec:?}");
}

#[test]
// rule: journal_damage
fn truncate_damaged_cuts_the_damaged_line_off_and_resumes_from_the_lines_before() {
    let (bytes, two) = damaged_sent();
    let rec = Router::recover_with(
        RouterConfig::default(),
        funded(),
        Replay::default(),
        &bytes,
        10_000,
        OnDamage::Cut,
    )
    .expect("cut, as asked");
    assert_eq!(rec.scan.damaged.as_ref().map(|d| d.line), Some(3));
    assert_eq!((rec.scan.valid_len, rec.scan.torn_tail), (two, None));
    assert_eq!(
        rec.resumed.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(),
        [(State::Reserved, Resume::Place)]
    );
    // The file: the cut bytes kept beside it, exactly; an older side file never overwritten.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &bytes);
    let cut = cut_end(&path, &bytes, &rec.scan).unwrap().expect("a cut");
    assert_eq!(cut.kept.as_deref(), Some(broken(&path, "").as_path()));
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..two]);
    assert_eq!(std::fs::read(broken(&path, "")).unwrap(), &bytes[two..]);
    let mut again = bytes[..two].to_vec();
    again.extend_from_slice(b"more damage\n");
    std::fs::write(&path, &again).unwrap();
    let s = scan_with(
        &mut Replay::default(),
        &again,
        &RouterConfig::default(),
        OnDamage::Cut,
    )
    .unwrap();
    let cut = cut_end(&path, &again, &s).unwrap().expect("a cut");
    assert_eq!(cut.kept.as_deref(), Some(broken(&path, ".1").as_path()));
    assert_eq!(
        std::fs::read(broken(&path, ".1")).unwrap(),
        b"more damage\n"
    );
    assert_eq!(std::fs::read(broken(&path, "")).unwrap(), &bytes[two..]);
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..two]);
}

#[test]
// rule: journal_damage
fn recover_refuses_a_damaged_sent_line_with_exit_2_and_leaves_the_journal_untouched() {
    let (bytes, _) = damaged_sent();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &bytes);
    let p = path.to_str().unwrap();
    let (code, out) = cli_joined(&["recover", p]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("error: {p}: damaged line 3 "))
            && out.contains("checksum mismatch")
            && !out.contains("-> place"),
        "{out}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "journal touched");
    assert_eq!(files_in(dir.path()), 1, "something written");
}

#[test]
// rule: journal_damage
fn recover_truncate_damaged_keeps_exactly_the_cut_bytes_in_a_broken_file_and_goes_on() {
    let (bytes, two) = damaged_sent();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &bytes);
    let p = path.to_str().unwrap();
    let (code, out) = cli_joined(&["recover", p, "--truncate-damaged"]);
    assert_eq!(code, Some(0), "{out}");
    let side = broken(&path, "");
    assert!(
        out.contains(&format!("damaged line 3 (byte {two})"))
            && out.contains(&format!("kept in {}", side.display()))
            && out.contains("-> place"),
        "{out}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..two]);
    assert_eq!(std::fs::read(&side).unwrap(), &bytes[two..]);
    // Now whole: a plain `recover` agrees, and writes nothing more.
    let (code, out) = cli_joined(&["recover", p]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("torn tail none"), "{out}");
    assert_eq!(files_in(dir.path()), 2);
}

#[test]
// rule: journal_damage
fn an_unterminated_torn_tail_is_still_cut_and_reported() {
    let (damaged, two) = damaged_sent();
    let whole = first_lines(&journal_of("scenarios/basic_buy.csv"), 3);
    // The garbled SENT without its newline, and the SENT cut short.
    for bytes in [&damaged[..damaged.len() - 1], &whole[..whole.len() - 25]] {
        let s = scan(&mut Replay::default(), bytes, &RouterConfig::default()).expect("a tear");
        assert_eq!(
            (
                s.lines,
                s.valid_len,
                s.torn_tail.map(|t| t.line),
                &s.damaged
            ),
            (2, two, Some(3), &None)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), bytes);
        let (code, out) = cli_joined(&["recover", path.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains(&format!("torn tail line 3 (byte {two})")),
            "{out}"
        );
        assert!(out.contains("-> place"), "{out}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "recover only reads");
        // What a restart does to the file: cut, said, nothing kept.
        let cut = cut_end(&path, bytes, &s).unwrap().expect("a cut");
        assert!(cut.to_string().contains("torn tail line 3"), "{cut}");
        assert_eq!((cut.kept, files_in(dir.path())), (None, 1));
        assert_eq!(std::fs::read(&path).unwrap(), &bytes[..two]);
    }
}

#[test]
// rule: journal_damage
fn terminated_trailing_garbage_is_damage_not_a_tear() {
    let journal = journal_of("scenarios/basic_buy.csv");
    let lines = read(&journal).len();
    let mut bytes = journal.clone();
    bytes.extend_from_slice(b"garbage\n\0\0\0");
    let err = scan(&mut Replay::default(), &bytes, &RouterConfig::default()).unwrap_err();
    assert!(
        matches!(&err, RecoverError::Damaged(d) if d.line == lines + 1
            && d.offset == journal.len() as u64
            && matches!(d.error, ReadError::Json { .. })),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &bytes);
    let p = path.to_str().unwrap();
    let (code, out) = cli_joined(&["recover", p]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("damaged line {}", lines + 1)),
        "{out}"
    );
    let (code, out) = cli_joined(&["recover", p, "--truncate-damaged"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), journal);
    assert_eq!(
        std::fs::read(broken(&path, "")).unwrap(),
        b"garbage\n\0\0\0"
    );
    // Unterminated garbage is a tear; garbage with whole lines after it cannot be cut.
    let mut torn = journal.clone();
    torn.extend_from_slice(b"garbage");
    let s = scan(&mut Replay::default(), &torn, &RouterConfig::default()).unwrap();
    assert_eq!(s.torn_tail.map(|t| t.line), Some(lines + 1));
    let mut middle = first_lines(&journal, 1);
    middle.extend_from_slice(b"garbage\n");
    middle.extend_from_slice(&journal[middle.len() - 8..]);
    let err = scan_with(
        &mut Replay::default(),
        &middle,
        &RouterConfig::default(),
        OnDamage::Cut,
    )
    .unwrap_err();
    assert!(matches!(err, RecoverError::Corrupt(_)), "{err}");
}

#[test]
// rule: journal_damage
fn recover_report_and_check_audit_give_one_verdict_on_the_same_file() {
    let journal = journal_of("scenarios/basic_buy.csv");
    let (sent, _) = damaged_sent();
    let mut garbage = journal.clone();
    garbage.extend_from_slice(b"{\"not\":\"ours\"}\n");
    let cases: [(&str, &[u8]); 4] = [
        ("damaged SENT", &sent),
        ("trailing garbage", &garbage),
        ("torn", &sent[..sent.len() - 1]),
        ("whole", &journal),
    ];
    for (what, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), bytes);
        let p = path.to_str().unwrap();
        let verdict = log_end(bytes);
        let said = verdict.to_string();
        let (rc, recover) = cli_joined(&["recover", p]);
        let (_, check, _) = cli(&["check-audit", p]);
        let html = dir.path().join("r.html");
        let (report_rc, report) = cli_joined(&["report", p, "-o", html.to_str().unwrap()]);
        assert_eq!(report_rc, Some(0), "{what}: {report}");
        let page = std::fs::read_to_string(&html).unwrap();
        let (_, json, _) = cli(&["check-audit", p, "--json"]);
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        match &verdict {
            LogEnd::Damaged(_) => {
                assert_eq!(rc, Some(2), "{what}: {recover}");
                assert!(page.contains("id=\"damaged\""), "{what}");
                assert_eq!(json["end"]["kind"], "damaged", "{what}");
            }
            LogEnd::Torn { .. } => {
                assert_eq!(rc, Some(0), "{what}: {recover}");
                assert!(page.contains("id=\"torn\""), "{what}");
                assert_eq!(json["end"]["kind"], "torn", "{what}");
            }
            LogEnd::Whole => {
                assert!(recover.contains("torn tail none"), "{what}: {recover}");
                assert_eq!(json["end"]["kind"], "whole", "{what}");
                for out in [&recover, &check, &report] {
                    assert!(
                        !out.contains("damaged line") && !out.contains("torn tail line"),
                        "{what}: {out}"
                    );
                }
                continue;
            }
        }
        for (cmd, out) in [
            ("recover", &recover),
            ("check-audit", &check),
            ("report", &report),
        ] {
            assert!(
                out.contains(&said),
                "{what}: {cmd} says otherwise:\n{out}\nnot {said}"
            );
        }
        assert_eq!(json["end"]["message"], said, "{what}");
    }
}
