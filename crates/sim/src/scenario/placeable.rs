//! The warning for market rules under which no order of a scenario can be valid: a seam of its
//! own, since it judges a whole scenario after every row was read.

use super::*;

impl Builder {
    /// The line of the last `config` row that set `key` for `symbol` (its own rows apply
    /// after the symbol-less ones); `None` when the value is the default.
    pub(super) fn set_at(
        configs: &[ConfigRow],
        symbol: &Symbol,
        key: fn(&Setting) -> bool,
    ) -> Option<usize> {
        let sets = |c: &&ConfigRow| c.settings.iter().any(key);
        let own = configs
            .iter()
            .rev()
            .filter(|c| c.symbol.as_ref() == Some(symbol));
        let all = configs.iter().rev().filter(|c| c.symbol.is_none());
        own.chain(all).find(sets).map(|c| c.line)
    }

    /// Refuses market rules, set by a `config` row, under which no intent of the scenario on
    /// that market could ever be a valid order: a lot step above every intent's qty, a tick
    /// above every buy's price cap, or a minimum notional above what every intent could reach
    /// at its cap. Markets with signals (sized and priced at run time) and rules left at their
    /// defaults are not judged; a market where one intent can be valid passes, whatever the
    /// others test.
    pub(super) fn check_placeable(
        configs: &[ConfigRow],
        file: &str,
        s: &Scenario,
    ) -> Result<(), ScenarioError> {
        let slip = s.router.slippage_bps * crate::model::bps_fraction();
        let mut symbols: Vec<&Symbol> = Vec::new();
        for r in &s.rows {
            if let RowKind::Intent { spec, .. } = &r.kind {
                if !symbols.contains(&&spec.symbol) {
                    symbols.push(&spec.symbol);
                }
            }
        }
        for symbol in symbols {
            let signalled = s
                .rows
                .iter()
                .any(|r| matches!(&r.kind, RowKind::Signal { symbol: x, .. } if x == symbol));
            if signalled {
                continue;
            }
            let rules = s
                .router
                .markets
                .get(symbol)
                .unwrap_or(&s.router.default_rules);
            let intents: Vec<(usize, &Spec)> = s
                .rows
                .iter()
                .filter_map(|r| match &r.kind {
                    RowKind::Intent { spec, .. } if spec.symbol == *symbol => Some((r.line, spec)),
                    _ => None,
                })
                .collect();
            let refuse = |key: &str, line: usize, why: String| {
                error(
                    file,
                    line,
                    key,
                    format!("{why}, so every order on {symbol} would be refused"),
                )
            };
            // The most each intent could be worth at its cap (a sell's cap is below a buy's).
            let most = |spec: &Spec| -> Option<Decimal> {
                let lots = crate::model::floor_to(spec.qty, rules.step_size)?;
                let cap = spec.ref_price.checked_mul(Decimal::ONE + slip)?;
                lots.checked_mul(cap.checked_add(rules.tick_size)?)
            };
            let biggest = intents.iter().max_by_key(|(_, spec)| spec.qty);
            if let Some((at, big)) = biggest.filter(|(_, b)| b.qty < rules.step_size) {
                if let Some(line) =
                    Self::set_at(configs, symbol, |x| matches!(x, Setting::StepSize(_)))
                {
                    return Err(refuse(
                        "step_size",
                        line,
                        format!(
                            "{} is above every intent's qty (the largest is {} on line {at})",
                            rules.step_size, big.qty
                        ),
                    ));
                }
            }
            let buys_under_tick = intents.iter().all(|(_, spec)| {
                spec.side == Side::Buy
                    && spec
                        .ref_price
                        .checked_mul(Decimal::ONE + slip)
                        .is_some_and(|cap| cap < rules.tick_size)
            });
            if buys_under_tick {
                if let Some(line) =
                    Self::set_at(configs, symbol, |x| matches!(x, Setting::TickSize(_)))
                {
                    return Err(refuse(
                        "tick_size",
                        line,
                        format!("{} is above every intent's price cap", rules.tick_size),
                    ));
                }
            }
            let min = s.router.min_notional.max(rules.min_notional);
            let reach = intents.iter().filter_map(|(_, spec)| most(spec)).max();
            // An intent whose worth does not fit a decimal is taken to reach any minimum.
            let overflows = intents
                .iter()
                .any(|(_, spec)| most(spec).is_none() && spec.qty >= rules.step_size);
            if let Some(reach) = reach.filter(|r| *r < min && !overflows) {
                let (key, line) = if s.router.min_notional >= rules.min_notional {
                    (
                        "min_notional",
                        Self::set_at(configs, symbol, |x| matches!(x, Setting::MinNotional(_))),
                    )
                } else {
                    (
                        "venue_min_notional",
                        Self::set_at(configs, symbol, |x| {
                            matches!(x, Setting::VenueMinNotional(_))
                        }),
                    )
                };
                if let Some(line) = line {
                    return Err(refuse(
                        key,
                        line,
                        format!(
                            "{min} is more than any intent's qty times its price cap reaches (at most {})",
                            reach.round_dp(8).normalize()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, read};

    #[test]
    fn rules_under_which_no_order_can_be_valid_are_warned_of_at_load() {
        let head = "t_ms,action,symbol,side,qty,price,params\n0,balance,USDT,,100000,,\n\
                    0,price,BTC/USDT,,,50000,\n";
        let with = |rows: &str| format!("{head}{rows}");
        let refused = |rows: &str, want: &str| {
            let s = read("s.csv", with(rows).as_bytes(), true).unwrap();
            assert_eq!(s.warnings.len(), 1, "{rows:?}");
            let e = s.warnings[0].to_string();
            assert!(e.starts_with(want), "{rows:?}: {e}");
            // `parse` (generated cases) still reads it: it runs, each intent failing.
            parse("s.csv", with(rows).as_bytes()).unwrap();
        };
        refused(
            "0,config,BTC/USDT,,,,step_size=1\n10,intent,BTC/USDT,buy,0.5,50000,id=a\n",
            "s.csv:4: step_size:",
        );
        refused(
            "0,config,,,,,min_notional=100\n10,intent,BTC/USDT,buy,0.001,50000,id=a\n\
             11,intent,BTC/USDT,sell,0.0015,50000,id=b\n",
            "s.csv:4: min_notional:",
        );
        refused(
            "10,intent,BTC/USDT,buy,0.001,50000,id=a\n0,config,BTC/USDT,,,,venue_min_notional=1000\n",
            "s.csv:5: venue_min_notional:",
        );
        refused(
            "0,config,,,,,tick_size=100000\n10,intent,BTC/USDT,buy,0.001,50000,id=a\n",
            "s.csv:4: tick_size:",
        );
        // One intent that can be valid is enough: the others may test refusals.
        let fine = [
            "0,config,,,,,min_notional=100\n10,intent,BTC/USDT,buy,0.001,50000,id=a\n\
             11,intent,BTC/USDT,buy,0.01,50000,id=b\n",
            // Rules left at their defaults are not judged: a lone tiny intent tests min_notional.
            "10,intent,BTC/USDT,buy,0.00009,50000,id=tiny\n",
            // A signal is sized at run time.
            "0,config,BTC/USDT,,,,step_size=1\n10,intent,BTC/USDT,buy,0.5,50000,id=a\n\
             10,signal,BTC/USDT,buy,,,risk_qty=2\n",
            // The rules of another market.
            "0,config,ETH/USDT,,,,step_size=1\n10,intent,BTC/USDT,buy,0.5,50000,id=a\n",
        ];
        for rows in fine {
            let s = read("s.csv", with(rows).as_bytes(), true).unwrap();
            assert!(s.warnings.is_empty(), "{rows:?}: {:?}", s.warnings);
        }
        let shipped = include_bytes!("../../../../scenarios/min_notional.csv");
        let s = read("min_notional.csv", shipped, true).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }
}
