//! The network between the router and the venue: each command's fate on the wire (lost,
//! delayed, rate limited, answered), its arrival, and the venue's answer.

use super::*;

impl World<'_> {
    /// Coverage: where the market stands against a placement's limit when it arrives, and
    /// whether it arrives at the end of its receive window.
    fn count_limit(&mut self, cmd: &Command) {
        let Action::Place(r) = &cmd.action else {
            return;
        };
        if self.now
            == r.sent_ms()
                .saturating_add(self.scenario.venue.recv_window_ms)
        {
            self.report.coverage[Coverage::PlacementAtRecvWindowEnd as usize] += 1;
        }
        let Some((bid, ask)) = self.venue.best_bid_ask(r.symbol()) else {
            return;
        };
        let tick = self.venue.rules(r.symbol()).tick_size;
        // Positive: the market is that many ticks inside the limit (it fills).
        let (limit, market) = (
            r.limit_price(),
            if r.side() == Side::Buy { ask } else { bid },
        );
        let inside = match r.side() {
            Side::Buy => limit - market,
            Side::Sell => market - limit,
        };
        let c = if inside.is_zero() {
            Coverage::MarketAtCap
        } else if inside == tick {
            Coverage::MarketTickInsideCap
        } else if inside == -tick {
            Coverage::MarketTickBeyondCap
        } else {
            return;
        };
        self.report.coverage[c as usize] += 1;
    }

    /// Decides a command's fate on the wire and sends it on its way.
    pub(super) fn dispatch(&mut self, cmd: Command) {
        if self.opts.check_invariants {
            let backs_off = self.backs_off(&cmd);
            self.requests.on_dispatch(&cmd, self.now, backs_off);
        }
        let (symbol, request) = match &cmd.action {
            Action::Place(r) => (r.symbol().clone(), Request::Place),
            Action::FetchTrades { symbol, .. } => (symbol.clone(), Request::FetchTrades),
            Action::FetchOrder { symbol, .. } | Action::Cancel { symbol, .. } => {
                (symbol.clone(), Request::Other)
            }
            // The wire's faults hit a list as any request (no placement-only fault applies).
            Action::PlaceList(r) => (r.symbol().clone(), Request::Other),
            Action::FetchList { symbol, .. } | Action::CancelList { symbol, .. } => {
                (symbol.clone(), Request::Other)
            }
        };
        let fate = self.plan.fate(&mut self.rng, Some(&symbol), request);
        let net = match fate.net {
            Net::Clean => None,
            Net::RequestLost => Some("request_lost"),
            Net::ResponseLost => Some("response_lost"),
            Net::ServerError => Some("server_error"),
            Net::RateLimited => Some("rate_limited"),
        };
        if let Some(n) = net {
            self.report.faults[fault_index(n)] += 1;
        }
        if fate.extra_latency_ms > 0 {
            self.report.faults[fault_index("latency")] += 1;
        }
        if let Some(k) = fate.venue {
            self.report.faults[fault_index(k.name())] += 1;
        }
        if fate.net == Net::RequestLost {
            return; // the router's request timeout takes it from here
        }
        let at = self.now + self.latency() + fate.extra_latency_ms;
        let gen = self.gen();
        self.queue.push(at, Event::Arrive { cmd, fate, gen });
    }

    pub(super) fn arrive(&mut self, cmd: Command, fate: Fate, gen: u32) -> Option<Violation> {
        self.venue_touched = true;
        self.count_limit(&cmd);
        let reply = match fate.net {
            Net::RateLimited => {
                if let Action::Place(r) = &cmd.action {
                    *self
                        .rate_limited_answers
                        .entry(r.client_order_id().clone())
                        .or_default() += 1;
                }
                Some(cmd.lost(ExchangeError::RateLimited {
                    retry_after_ms: RETRY_AFTER_MS,
                }))
            }
            Net::ServerError => {
                // The venue failed somewhere around the request: it may have executed it.
                if self.rng.random_bool(0.5) {
                    self.execute(&cmd, fate);
                }
                Some(cmd.lost(ExchangeError::ServerError(
                    "-1007 timeout waiting for backend".into(),
                )))
            }
            Net::ResponseLost => {
                self.execute(&cmd, fate);
                None
            }
            Net::Clean | Net::RequestLost => {
                let mut reply = self.execute(&cmd, fate);
                if matches!(cmd.action, Action::FetchOrder { .. }) {
                    self.stale_answer(&mut reply);
                }
                Some(reply)
            }
        };
        if let Some(reply) = reply {
            let at = self.now + self.latency();
            self.queue.push(at, Event::Reply(reply, gen));
        }
        if self.opts.check_invariants {
            return self.inv.after_venue(&self.venue);
        }
        None
    }

    fn execute(&mut self, cmd: &Command, fate: Fate) -> Reply {
        match (&cmd.action, fate.venue) {
            (Action::Place(_), Some(kind)) => {
                let f = match kind {
                    FaultKind::Partial { ratio } => PlacementFault::Partial { ratio },
                    FaultKind::Requote { bps } => PlacementFault::Requote { bps },
                    FaultKind::RejectedStatus => PlacementFault::RejectedStatus,
                    _ => PlacementFault::Reject,
                };
                self.venue.arm(f);
            }
            (Action::FetchTrades { .. }, Some(kind)) => {
                let f = match kind {
                    FaultKind::TradesRepeat => TradesFault::Repeat,
                    FaultKind::TradesForeign => TradesFault::Foreign,
                    FaultKind::TradesPhantom => TradesFault::Phantom,
                    _ => TradesFault::Split,
                };
                self.venue.arm_trades(f);
            }
            (Action::FetchOrder { .. } | Action::Cancel { .. }, Some(FaultKind::OrderForeign)) => {
                self.venue.arm_foreign_report();
            }
            _ => {}
        }
        crate::exchange::execute(cmd, &mut self.venue, self.now)
    }
}
