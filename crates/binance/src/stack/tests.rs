use super::*;

fn opts() -> StackOptions {
    StackOptions {
        intents: 6,
        ..StackOptions::default()
    }
}

#[test]
fn explore() {
    let mut bad = Vec::new();
    let (mut crashes, mut torn, mut req) = (0, 0, 0);
    for seed in 0..300 {
        let r = run_seed(seed, &opts());
        crashes += r.crashes;
        torn += r.torn;
        req += r.requests;
        if let Some(v) = &r.violation {
            bad.push(format!("{seed}: {v}"));
        }
    }
    eprintln!("crashes {crashes} torn {torn} requests {req}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn explore_mutants() {
    use strum::VariantArray;
    for m in AdapterMutant::VARIANTS {
        let o = StackOptions {
            adapter_mutant: Some(*m),
            ..opts()
        };
        let found = (0..200).find_map(|s| run_seed(s, &o).violation.map(|v| (s, v)));
        eprintln!("{}: {found:?}", m.name());
    }
}
