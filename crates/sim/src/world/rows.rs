//! Scenario rows applied as the clock reaches them: balances, prices, signals through the
//! assembler, intents through the bus, faults armed.

use super::*;

impl World<'_> {
    pub(super) fn row(&mut self, row: Row) -> Option<Violation> {
        self.venue_touched = true;
        match &row.kind {
            RowKind::Balance { asset, amount } => {
                // The scenario parser guarantees a positive amount.
                let _ = self.router.deposit(asset, *amount);
                if let Some(o) = self.oracle.as_mut() {
                    o.deposit(asset, *amount);
                }
                if let Some(c) = self.crashes.as_mut() {
                    let _ = c.funding.deposit(asset, *amount);
                }
                self.venue.deposit(asset, *amount);
            }
            RowKind::Price {
                symbol,
                mid,
                spread_bps,
                depth,
            } => {
                self.venue
                    .set_market(self.now, symbol, *mid, *spread_bps, *depth);
                self.inv.on_market(symbol, *mid);
                if let Some(o) = self.oracle.as_mut() {
                    o.market(symbol, *mid);
                }
                if let Some(c) = self.crashes.as_mut() {
                    // A restarted router is told the market again before it resumes.
                    c.funding.set_last_price(symbol, *mid);
                }
                let told = self.router.handle(
                    self.now,
                    Input::Market {
                        symbol: symbol.clone(),
                        price: *mid,
                    },
                );
                self.told(told);
                if self.opts.check_invariants {
                    return self.inv.after_venue(&self.venue);
                }
            }
            RowKind::Signal {
                symbol,
                side,
                ref_price,
                risk_qty,
                guards_pass,
                label,
            } => {
                let seen = self.venue.seen_mid(symbol, self.now);
                let Some(ref_price) = ref_price.or(seen) else {
                    self.report.signals_vetoed += 1;
                    return None;
                };
                let signal = Signal {
                    ts_ms: self.now,
                    symbol: symbol.clone(),
                    side: *side,
                    ref_price,
                };
                let guards = Guards::from_checks([("scenario", *guards_pass)]);
                let risk = Risk { qty: *risk_qty };
                let assembled = if self
                    .router
                    .config()
                    .has(crate::router::Mutant::AssemblerIgnoresQty)
                {
                    crate::decision::assemble_ignoring_qty(&signal, &guards, &risk)
                } else {
                    assemble(&signal, &guards, &risk)
                };
                let spec = Spec {
                    symbol: symbol.clone(),
                    side: *side,
                    qty: risk_qty.normalize(),
                    ref_price: ref_price.normalize(),
                };
                if self.opts.check_invariants {
                    if let Some(v) =
                        self.inv
                            .on_assembled(&spec, self.now, *guards_pass, assembled.as_ref())
                    {
                        return Some(v);
                    }
                }
                match assembled {
                    Some(intent) => {
                        let key = SignalKey {
                            ts_ms: self.now,
                            symbol: symbol.to_string(),
                            side: *side,
                            ref_price: ref_price.normalize(),
                            risk_qty: risk_qty.normalize(),
                        };
                        let cov = &mut self.report.coverage;
                        cov[Coverage::Signal as usize] += 1;
                        if let Some(prev) = &self.last_signal {
                            match key.differences(prev) {
                                Some(0) => cov[Coverage::SignalEqual as usize] += 1,
                                Some(1) => cov[Coverage::SignalOneInput as usize] += 1,
                                _ => {}
                            }
                        }
                        let found = if self.opts.check_invariants {
                            self.inv.on_signal(key.text(), intent.intent_id())
                        } else {
                            None
                        };
                        self.last_signal = Some(key);
                        if let Some(l) = label {
                            self.labels.insert(l.clone(), intent.intent_id().clone());
                        }
                        self.queue.push(
                            self.now,
                            Event::Deliver {
                                intent,
                                spec,
                                original: true,
                            },
                        );
                        return found;
                    }
                    None => self.report.signals_vetoed += 1,
                }
            }
            RowKind::Intent {
                intent,
                spec,
                deliveries,
                gap_ms,
            } => {
                for k in 0..u64::from(*deliveries) {
                    let at = self.now.saturating_add(k.saturating_mul(*gap_ms));
                    self.queue.push(
                        at,
                        Event::Deliver {
                            intent: intent.clone(),
                            spec: spec.clone(),
                            original: k == 0,
                        },
                    );
                }
            }
            RowKind::Fault {
                symbol,
                kind,
                count,
            } => self.plan.schedule(symbol.clone(), *kind, *count),
            RowKind::Calm => {
                self.calm = true;
                self.plan.calm();
            }
            RowKind::Crash { after, mode } => return self.crash_row(*after, *mode),
        }
        None
    }

    /// An intent as another process would receive it: written to JSON and read back. What
    /// comes out must be what went in.
    pub(super) fn through_bus(&mut self, intent: Intent) -> Result<Intent, Violation> {
        let text = intent.to_json();
        let back = Intent::from_json(&text);
        match back {
            Ok(i) if i == intent => Ok(i),
            other => Err(self.inv.report(
                "intent_identity",
                Some(intent.intent_id().as_str()),
                format!("the bus's JSON {text} reads back as {other:?}"),
            )),
        }
    }

    /// Coverage: where an intent's quantity sits against its market's lot grid.
    pub(super) fn count_grid(&mut self, intent: &Intent) {
        let step = self.venue.rules(intent.symbol()).step_size;
        let Some(floor) = floor_to(intent.qty(), step) else {
            return;
        };
        let below = intent.qty() - floor;
        let c = if below.is_zero() {
            Coverage::QtyOnGrid
        } else if below + below < step {
            Coverage::QtyAboveGrid
        } else {
            Coverage::QtyBelowGrid
        };
        self.report.coverage[c as usize] += 1;
    }
}
