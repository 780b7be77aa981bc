//! Every line carries its CRC-32C, so a damaged line is never read as data.

use super::*;

#[test]
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
fn a_damaged_line_is_corruption_in_the_middle_and_a_torn_tail_at_the_end() {
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
    let end = format!("{}\n{}\n{damaged}\n", lines[0], lines[2]);
    let recs = read(end.as_bytes());
    assert_eq!(recs[2], Err(ReadError::Truncated { line: 3 }), "{recs:?}");
    // The same through the streaming reader, which only knows the last line at the end.
    let mut streamed = Vec::new();
    order_router::audit::read_stream(end.as_bytes(), |r| {
        streamed.push(r);
        std::ops::ControlFlow::Continue(())
    })
    .expect("read");
    assert_eq!(streamed, recs);
}

#[test]
fn logs_written_without_checksums_still_read_and_check() {
    assert_eq!(order_router::audit::checksum_ok(L0.as_bytes()), None);
    let recs = read(format!("{L0}\n{L1}\n").as_bytes());
    assert!(recs.iter().all(Result::is_ok), "{recs:?}");
}
