//! `order-router report`: the run report of an audit log, as one HTML file.

use std::path::Path;
use std::process::ExitCode;

use order_router::model::Symbol;
use order_router::report::fold::Fold;
use order_router::report::{render_with, Inputs, MarketPath};
use order_router::sim::{market, scenario};

pub struct Args<'a> {
    pub file: &'a Path,
    pub market: Option<&'a Path>,
    pub market_symbol: Option<&'a str>,
    pub scenario: Option<&'a Path>,
    pub out: &'a Path,
}

fn bad(message: &str) -> ExitCode {
    errln!("error: {message}");
    ExitCode::from(2)
}

pub fn main(args: Args<'_>) -> ExitCode {
    let open = || -> std::io::Result<Box<dyn std::io::BufRead>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(args.file)?,
        )))
    };
    let fold = match open().and_then(|r| Fold::stream(r, open)) {
        Ok(f) => f,
        Err(e) => return bad(&format!("{}: {e}", args.file.display())),
    };
    let scenario = match args.scenario.map(scenario::load).transpose() {
        Ok(s) => s,
        Err(e) => return bad(&e.to_string()),
    };
    let mut ticks = None;
    if let Some(path) = args.market {
        // Read twice, one record at a time (a day of trades is millions of them): once to count
        // the price changes, once to keep what the page draws.
        let t = match market_path(path, fold.t_max) {
            Ok(t) => t,
            Err(e) => return bad(&e),
        };
        let symbol = match args.market_symbol {
            Some(s) => match Symbol::parse(s) {
                Ok(s) => s,
                Err(e) => return bad(&format!("--market-symbol: {e}")),
            },
            None => match fold.symbols.as_slice() {
                [one] => match Symbol::parse(one) {
                    Ok(s) => s,
                    Err(e) => return bad(&e.to_string()),
                },
                [] => {
                    return bad(&format!(
                        "{}: no intents, so no symbol for --market; name one with --market-symbol",
                        args.file.display()
                    ))
                }
                _ => {
                    return bad(&format!(
                    "{}: the log trades several symbols; name the market's with --market-symbol",
                    args.file.display()
                ))
                }
            },
        };
        ticks = Some((symbol, t));
    }
    let name = args.file.display().to_string();
    let fold_end = fold.end.clone();
    let html = render_with(
        fold,
        Inputs {
            name: &name,
            audit: &[],
            market: None,
            scenario: scenario.as_ref(),
        },
        ticks.as_ref().map(|(s, t)| (s, t)),
    );
    let html = match html {
        Ok(h) => h,
        Err(e) => {
            let at = match e {
                order_router::report::ReportError::Market(_) => args.market.unwrap_or(args.file),
                _ => args.file,
            };
            return bad(&format!("{}: {e}", at.display()));
        }
    };
    let inputs: Vec<&Path> = std::iter::once(args.file)
        .chain(args.market)
        .chain(args.scenario)
        .collect();
    if let Err(e) = crate::output::write_whole(args.out, &inputs, html.as_bytes()) {
        return bad(&e);
    }
    // The verdict `recover` and `check-audit` give the same file; the page shows it too.
    if fold_end != order_router::audit::LogEnd::Whole {
        outln!("journal   {}: {fold_end}", args.file.display());
    }
    outln!(
        "report    {} ({} KiB)",
        args.out.display(),
        html.len().div_ceil(1024)
    );
    ExitCode::SUCCESS
}

/// The market file's path as the report draws it, in constant memory.
fn market_path(path: &Path, until: order_router::model::TimeMs) -> Result<MarketPath, String> {
    let mut count = 0;
    for t in market::changes(market::Records::open(path).map_err(|e| e.to_string())?) {
        t.map_err(|e| e.to_string())?;
        count += 1;
    }
    let records = market::Records::open(path).map_err(|e| e.to_string())?;
    MarketPath::stream(count, market::changes(records), until)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}:1: file: no price records", path.display()))
}
