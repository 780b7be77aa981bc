use super::disk::SimDisk;
use super::*;

fn opts() -> StackOptions {
    StackOptions {
        intents: 6,
        ..StackOptions::default()
    }
}

#[test]
// rule: stack_fuzz
fn the_correct_adapter_passes_a_seed_range_with_crashes_torn_tails_and_faults() {
    let (mut crashes, mut torn, mut faults) = (0, 0, 0);
    let mut failed = Vec::new();
    for seed in 0..150 {
        let r = run_seed(seed, &opts());
        crashes += r.crashes;
        torn += r.torn;
        faults += r.faults.values().sum::<u64>();
        assert!(
            r.requests > 0 && !r.journal.is_empty(),
            "seed {seed} ran nothing"
        );
        if let Some(v) = r.violation {
            failed.push(format!("seed {seed}: {v}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    // The range exercises what the mode is for: restarts, torn journal ends, venue faults.
    assert!(
        crashes > 50 && torn > 20 && faults > 100,
        "{crashes} {torn} {faults}"
    );
}

#[test]
// rule: stack_fuzz
fn each_adapter_mutant_is_caught_within_a_few_seeds() {
    const {
        assert!(
            AdapterMutant::AVAILABLE,
            "the tests build the deliberate bugs"
        )
    };
    for m in AdapterMutant::ALL {
        let o = StackOptions {
            adapter_mutant: Some(m),
            ..opts()
        };
        let found = (0..60).find_map(|s| run_seed(s, &o).violation);
        assert!(found.is_some(), "{} survived 60 seeds", m.name());
    }
}

#[test]
// rule: stack_fuzz
fn a_stack_seed_reruns_to_the_same_bytes() {
    // Seeds with a torn crash and venue faults: every source of nondeterminism has a chance
    // to show.
    let seeds: Vec<(u64, StackRun)> = (0..40)
        .map(|s| (s, run_seed(s, &opts())))
        .filter(|(_, r)| r.torn > 0 && !r.faults.is_empty())
        .take(3)
        .collect();
    assert_eq!(seeds.len(), 3, "seeds with torn crashes and faults");
    for (seed, a) in seeds {
        let b = run_seed(seed, &opts());
        assert!(!a.record.is_empty() && !a.journal.is_empty());
        assert!(a.journal == b.journal, "seed {seed}: journals differ");
        assert!(a.record == b.record, "seed {seed}: venue records differ");
        assert_eq!((a.crashes, a.torn, a.faults), (b.crashes, b.torn, b.faults));
    }
}

#[test]
// rule: journal_damage
fn a_crash_keeps_synced_bytes_and_may_tear_the_unsynced_ones() {
    use crate::driver::AuditSink;
    use crate::live::store::{JournalFile, Store};
    let disk = SimDisk::default();
    let mut store = disk::SimStore::new(disk.clone());
    let mut j = store.create().unwrap();
    j.jsonl(b"{\"a\":1}\n", 1);
    assert!(j.make_durable());
    disk.crash_at_sync(Some(1));
    j.jsonl(b"{\"b\":2}\n{\"c\":3}\n", 2);
    assert!(!j.make_durable(), "the sync crashed");
    assert!(j.failure().is_some());
    assert!(disk.is_down());
    // Every cut of the unsynced bytes happens for some seed; the synced line always stays.
    let mut ends = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let d = SimDisk::default();
        let mut s = disk::SimStore::new(d.clone());
        let mut j = s.create().unwrap();
        j.jsonl(b"{\"a\":1}\n", 1);
        assert!(j.make_durable());
        d.crash_at_sync(Some(1));
        j.jsonl(b"{\"b\":2}\n", 1);
        assert!(!j.make_durable());
        let c = d.crash(&mut ChaCha8Rng::seed_from_u64(seed));
        let bytes = d.journal();
        assert!(bytes.starts_with(b"{\"a\":1}\n"));
        assert_eq!(c.torn, !bytes.ends_with(b"\n"));
        ends.insert(bytes.len());
    }
    assert_eq!(
        ends.len(),
        9,
        "every length from the synced line to the whole batch"
    );
}
