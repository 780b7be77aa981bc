//! Every line carries its CRC-32C, so a damaged line is never read as data.

use super::*;
use order_router::audit::{Damage, LogEnd};

#[test]
// rule: journal_damage
fn every_line_the_writer_makes_carries_a_valid_checksum() {
    for l in every_variant() {
        let text = written_str(&l);
        let line = text.strip_suffix('\n').expect("one line");
        assert_eq!(
            order_router::audit::checksum_ok(line.as_bytes()),
            Some(true),
            "{line}"
        );
        assert!(
            line.ends_with("\"}") && line.contains(",\"crc\":\""),
            "{line}"
        );
    }
}

#[test]
// rule: journal_damage, audit_complete
fn a_damaged_last_line_with_its_newline_is_damage_and_only_one_without_it_is_torn() {
    let log = written(&every_variant()[..4]);
    let text = String::from_utf8(log).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    // One digit changed in the second line: still valid JSON, no longer its checksum.
    let damaged = lines[1].replacen("\"seq\":1", "\"seq\":7", 1);
    assert_ne!(damaged, lines[1]);
    let middle = format!("{}\n{damaged}\n{}\n{}\n", lines[0], lines[2], lines[3]);
    let recs = read(middle.as_bytes());
    assert_eq!(recs[1], Err(ReadError::Checksum { line: 2 }), "{recs:?}");
    assert!(recs[0].is_ok() && recs[2].is_ok() && recs[3].is_ok());
    // Last, with its newline: written whole, damaged since. Not a tear.
    let end = format!("{}\n{}\n{damaged}\n", lines[0], lines[2]);
    let recs = read(end.as_bytes());
    assert_eq!(recs[2], Err(ReadError::Checksum { line: 3 }), "{recs:?}");
    let offset = (lines[0].len() + lines[2].len() + 2) as u64;
    assert_eq!(
        order_router::audit::log_end(end.as_bytes()),
        LogEnd::Damaged(Damage {
            line: 3,
            offset,
            error: ReadError::Checksum { line: 3 }
        })
    );
    // The same through the streaming reader, which gives the same verdict.
    let mut streamed = Vec::new();
    let verdict = order_router::audit::read_stream(end.as_bytes(), |r| {
        streamed.push(r);
        std::ops::ControlFlow::Continue(())
    })
    .expect("read");
    assert_eq!(streamed, recs);
    assert_eq!(verdict, order_router::audit::log_end(end.as_bytes()));
    // Without its newline: the writer stopped in it, a tear.
    let torn = end.trim_end_matches('\n');
    let recs = read(torn.as_bytes());
    assert_eq!(recs[2], Err(ReadError::Truncated { line: 3 }), "{recs:?}");
    assert_eq!(
        order_router::audit::log_end(torn.as_bytes()),
        LogEnd::Torn { line: 3, offset }
    );
}

#[test]
fn logs_written_without_checksums_still_read_and_check() {
    assert_eq!(order_router::audit::checksum_ok(L0.as_bytes()), None);
    let recs = read(format!("{L0}\n{L1}\n").as_bytes());
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}
