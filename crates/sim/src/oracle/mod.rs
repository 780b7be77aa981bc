//! An independent, deliberately simple model of the router's rules, run in lockstep with the
//! real router by the simulator (the `model_agrees` invariant).
//!
//! Written from docs/router.md, the README's transition table and docs/audit-log.md, it shares
//! no code with the router: no grid, portfolio, intent state machine, rounding or backoff
//! helper; plain `Decimal` arithmetic, `Vec`s and loops. It reads the same inputs at the same
//! times (deliveries, replies, timer firings, market prices, deposits, crashes) and predicts
//! every audit line (state, event and amounts) and every command (kind, client order id,
//! quantity, price, side, time in force, and the step it leaves in) the router releases, and
//! when the router's next timer is due. Anything else is a divergence.
//!
//! It abstains where the journal's replay takes over: after a crash, the intents the restart
//! rebuilds, and intents first delivered while one of those is still open, are followed (their
//! lines move the model's money) but not predicted.

mod book;
mod intent;
mod journal;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rust_decimal::Decimal;

pub use book::Ledger;
use intent::{IntentModel, Out, Step, Want};
use journal::View;

use crate::audit::{AuditLine, Detail};
use crate::decision::Intent;
use crate::exchange::ExchangeError;
use crate::model::{Asset, Side, Symbol, TimeMs};
use crate::router::{Action, Command, Reply, ReplyOutcome, RequestId, RouterConfig, State};

/// A disagreement between the model and the router: the intent, and what differed.
pub type Divergence = (Option<String>, String);

#[derive(Debug)]
enum Kind {
    /// Predicted line by line.
    Predicted(Box<IntentModel>),
    /// Finished while predicted; only its final state is kept (for duplicate deliveries).
    Finished(State),
    /// Followed, not predicted.
    Abstained { recovered: bool },
    /// Open in the journal of a router that crashed: resumed at the restart.
    Down,
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    /// The state of the last line of it the journal holds.
    seen: Option<State>,
    symbol: Symbol,
    side: Side,
    /// The model stopped predicting it at some point (or never did).
    abstained: bool,
    /// What its durable lines say (from its `NEW` on).
    view: Option<View>,
}

/// Counts for the coverage line: intents predicted from their first delivery, and intents the
/// model abstained on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OracleStats {
    pub predicted: u64,
    pub abstained: u64,
}

/// The model of the router.
#[derive(Debug)]
pub struct Oracle {
    cfg: rules::Settings,
    intents: BTreeMap<String, Entry>,
    /// Intents whose terminal line the journal does not hold yet: the only ones a step, a
    /// timer or a crash can concern (so a long run costs what is open, not what ran).
    open: BTreeSet<String>,
    counts: OracleStats,
    /// Money as the predicted lines (and the followed ones) move it.
    ledger: Ledger,
    /// Money as the journal's lines move it: what a restart starts from.
    durable: Ledger,
    /// New intents waiting until no rebuilt intent's order may still be out.
    waiting: VecDeque<Intent>,
    prices: BTreeMap<String, Decimal>,
    hold_until: TimeMs,
    /// The router's request ids of the commands the model matched, to its own numbers.
    requests: BTreeMap<RequestId, (String, u32)>,
    /// This step's predictions not yet seen, per intent.
    lines: BTreeMap<String, VecDeque<(State, Detail)>>,
    cmds: BTreeMap<String, VecDeque<(Want, u32)>>,
    now: TimeMs,
    /// After a restart: until every rebuilt intent is finished, new intents are not predicted.
    fog: bool,
    found: Option<Divergence>,
}

impl Oracle {
    pub fn new(cfg: &RouterConfig) -> Oracle {
        Oracle {
            cfg: rules::Settings::from_config(cfg),
            intents: BTreeMap::new(),
            open: BTreeSet::new(),
            counts: OracleStats::default(),
            ledger: Ledger::default(),
            durable: Ledger::default(),
            waiting: VecDeque::new(),
            prices: BTreeMap::new(),
            hold_until: 0,
            requests: BTreeMap::new(),
            lines: BTreeMap::new(),
            cmds: BTreeMap::new(),
            now: 0,
            fog: false,
            found: None,
        }
    }

    fn diverge(&mut self, intent: Option<&str>, what: String) {
        if self.found.is_none() {
            self.found = Some((intent.map(str::to_string), what));
        }
    }

    pub fn deposit(&mut self, asset: &Asset, amount: Decimal) {
        self.ledger.deposit(asset, amount);
        self.durable.deposit(asset, amount);
    }

    pub fn market(&mut self, symbol: &Symbol, price: Decimal) {
        self.prices.insert(symbol.to_string(), price);
    }

    fn open_entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.open
            .iter()
            .filter_map(|id| self.intents.get(id).map(|e| (id, e)))
    }

    /// Whether a rebuilt intent the model only follows is still open.
    fn fog_now(&self) -> bool {
        self.open_entries()
            .any(|(_, e)| matches!(e.kind, Kind::Abstained { recovered: true }))
    }

    /// Time moves to `now`: a predicted timer due earlier should have fired.
    fn advance(&mut self, now: TimeMs) {
        self.now = now;
        let overdue = self.open_entries().find_map(|(id, e)| match &e.kind {
            Kind::Predicted(m) => m.timer.filter(|t| *t < now).map(|t| (id.clone(), t)),
            _ => None,
        });
        if let Some((id, t)) = overdue {
            self.diverge(
                Some(&id),
                format!("the model's timer due at t_ms {t} did not fire (now {now})"),
            );
        }
    }

    /// Runs one step of a predicted intent and queues what it predicts.
    fn run(&mut self, id: &str, f: impl FnOnce(&mut IntentModel, &mut Step<'_>)) {
        let Some(e) = self.intents.get_mut(id) else {
            return;
        };
        let Kind::Predicted(m) = &mut e.kind else {
            return;
        };
        let mut out = Vec::new();
        let mut s = Step {
            cfg: &self.cfg,
            now: self.now,
            hold_until: self.hold_until,
            market: self.prices.get(&e.symbol.to_string()).copied(),
            ledger: &self.ledger,
            out: &mut out,
        };
        f(m, &mut s);
        if m.done() {
            e.kind = Kind::Finished(m.state);
        }
        for o in out {
            match o {
                Out::Line(st, d) => {
                    self.ledger.apply(id, &d);
                    self.lines
                        .entry(id.to_string())
                        .or_default()
                        .push_back((st, d))
                }
                Out::Cmd(w, n) => self
                    .cmds
                    .entry(id.to_string())
                    .or_default()
                    .push_back((w, n)),
            }
        }
    }

    /// A delivery of `intent` by the bus.
    pub fn deliver(&mut self, now: TimeMs, intent: &Intent) {
        self.advance(now);
        let id = intent.intent_id().as_str().to_string();
        if let Some(e) = self.intents.get(&id) {
            let state = match &e.kind {
                Kind::Predicted(m) => Some(m.state),
                Kind::Finished(s) => Some(*s),
                Kind::Abstained { .. } | Kind::Down => None,
            };
            if let Some(state) = state {
                self.lines
                    .entry(id)
                    .or_default()
                    .push_back((state, Detail::DuplicateIgnored));
            }
            return self.admit();
        }
        if self.in_doubt() {
            if !self
                .waiting
                .iter()
                .any(|i| i.intent_id() == intent.intent_id())
            {
                self.waiting.push_back(intent.clone());
            }
            return;
        }
        self.begin(intent);
        self.admit();
    }

    /// Whether some rebuilt intent's order may still be out.
    fn in_doubt(&self) -> bool {
        self.open_entries()
            .any(|(_, e)| matches!(&e.kind, Kind::Predicted(m) if m.in_doubt))
    }

    /// Intents that waited go in once nothing is in doubt, in the order they came.
    fn admit(&mut self) {
        while !self.in_doubt() {
            let Some(intent) = self.waiting.pop_front() else {
                break;
            };
            self.begin(&intent);
        }
    }

    /// A new intent: predicted from its `NEW` on (or, in the fog after a restart, followed).
    fn begin(&mut self, intent: &Intent) {
        let id = intent.intent_id().as_str().to_string();
        let kind = if self.fog {
            Kind::Abstained { recovered: false }
        } else {
            Kind::Predicted(Box::new(IntentModel::new(intent, &self.cfg)))
        };
        let predicted = matches!(kind, Kind::Predicted(_));
        if predicted {
            self.counts.predicted += 1;
        } else {
            self.counts.abstained += 1;
        }
        self.open.insert(id.clone());
        self.intents.insert(
            id.clone(),
            Entry {
                kind,
                seen: None,
                symbol: intent.symbol().clone(),
                side: intent.side(),
                abstained: !predicted,
                view: None,
            },
        );
        if predicted {
            self.run(&id, |m, s| m.start(intent, s));
        }
    }

    /// A reply handed to the router.
    pub fn reply(&mut self, now: TimeMs, reply: &Reply) {
        self.advance(now);
        let limited = match &reply.outcome {
            ReplyOutcome::Order(Err(ExchangeError::RateLimited { retry_after_ms }))
            | ReplyOutcome::Trades(Err(ExchangeError::RateLimited { retry_after_ms })) => {
                Some(*retry_after_ms)
            }
            _ => None,
        };
        if let Some(ms) = limited {
            self.hold_until = self.hold_until.max(now + ms);
        }
        let Some((id, n)) = self.requests.get(&reply.request_id).cloned() else {
            return;
        };
        let awaited = matches!(
            self.intents.get(&id).map(|e| &e.kind),
            Some(Kind::Predicted(m)) if m.awaiting == Some(n)
        );
        if !awaited {
            return;
        }
        self.run(&id, |m, s| {
            m.awaiting = None;
            match &reply.outcome {
                ReplyOutcome::Order(r) => m.on_order_reply(s, r),
                ReplyOutcome::Trades(Ok(t)) => m.on_trades(s, t),
                ReplyOutcome::Trades(Err(e)) => {
                    if matches!(m.phase, intent::Phase::Reconciling { .. }) {
                        m.trades_later(s, intent_error_name(e));
                    }
                }
            }
        });
        self.admit();
    }

    /// The router's timers fired at `now`: every predicted timer due fires too.
    pub fn timeout(&mut self, now: TimeMs) {
        // A timer rebuilt from the journal may be due before the restart: it fires now.
        self.now = now;
        loop {
            let due = self.open_entries().find_map(|(id, e)| match &e.kind {
                Kind::Predicted(m) if m.timer.is_some_and(|t| t <= now) => Some(id.clone()),
                _ => None,
            });
            let Some(id) = due else { break };
            self.run(&id, |m, s| m.on_timer(s));
        }
        self.admit();
    }

    /// One line the router wrote that the journal now holds.
    pub fn on_line(&mut self, line: &AuditLine) {
        let id = line.intent_id.as_str();
        self.durable.apply(id, &line.detail);
        let Some(e) = self.intents.get_mut(id) else {
            return self.diverge(
                Some(id),
                format!("seq {}: a line for an intent never delivered", line.seq),
            );
        };
        e.seen = Some(line.state);
        if line.state.is_terminal() {
            self.open.remove(id);
        }
        match &mut e.view {
            Some(v) => v.apply(line),
            None => e.view = View::begin(line),
        }
        if matches!(e.kind, Kind::Abstained { .. }) {
            self.ledger.apply(id, &line.detail);
            if line.state.is_terminal() && line.detail.event().is_none() {
                self.fog = self.fog_now();
            }
            return;
        }
        let want = self.lines.get_mut(id).and_then(VecDeque::pop_front);
        match want {
            None => self.diverge(
                Some(id),
                format!(
                    "seq {}: the router wrote {} {:?} at t_ms {}; the model expected no line",
                    line.seq, line.state, line.detail, line.t_ms
                ),
            ),
            Some((state, detail)) => {
                if state != line.state || detail != line.detail || line.t_ms != self.now {
                    self.diverge(
                        Some(id),
                        format!(
                            "seq {}: the router wrote {} {:?} at t_ms {}; the model expected {} {:?} at t_ms {}",
                            line.seq, line.state, line.detail, line.t_ms, state, detail, self.now
                        ),
                    );
                }
            }
        }
    }

    /// One command the router released in this step.
    pub fn on_command(&mut self, cmd: &Command) {
        let id = cmd.intent_id.as_str();
        let Some(e) = self.intents.get(id) else {
            return self.diverge(
                Some(id),
                format!("{} for an intent never delivered", cmd.action.name()),
            );
        };
        let side = e.side;
        let symbol = e.symbol.clone();
        if matches!(e.kind, Kind::Abstained { .. }) {
            return;
        }
        let want = self.cmds.get_mut(id).and_then(VecDeque::pop_front);
        let Some((want, n)) = want else {
            return self.diverge(
                Some(id),
                format!(
                    "the router sent {:?} at t_ms {}; the model expected no command",
                    cmd.action, self.now
                ),
            );
        };
        if !matches_action(&cmd.action, &want, &symbol, side, &self.cfg, self.now) {
            return self.diverge(
                Some(id),
                format!(
                    "the router sent {:?} at t_ms {}; the model expected {want:?}",
                    cmd.action, self.now
                ),
            );
        }
        self.requests.insert(cmd.request_id, (id.to_string(), n));
    }

    /// The end of a step: every prediction must have been seen, and the router's next timer
    /// must be the model's (no earlier when the model abstains on some intent).
    pub fn end_step(&mut self, router_timer: Option<TimeMs>) -> Option<Divergence> {
        if self.found.is_none() {
            let left = self
                .lines
                .iter()
                .find_map(|(id, q)| {
                    q.front()
                        .map(|l| (id.clone(), format!("{} {:?}", l.0, l.1)))
                })
                .or_else(|| {
                    self.cmds
                        .iter()
                        .find_map(|(id, q)| q.front().map(|c| (id.clone(), format!("{:?}", c.0))))
                });
            if let Some((id, what)) = left {
                self.diverge(
                    Some(&id),
                    format!(
                        "the model expected {what} at t_ms {}; the router did not",
                        self.now
                    ),
                );
            }
        }
        self.lines.clear();
        self.cmds.clear();
        if self.found.is_none() {
            let (mine, who) = self.next_timer();
            let open_abstained = self
                .open_entries()
                .any(|(_, e)| matches!(e.kind, Kind::Abstained { .. }));
            let agree = match (router_timer, mine) {
                (r, m) if r == m => true,
                (Some(r), Some(m)) => open_abstained && r < m,
                (Some(_), None) => open_abstained,
                (None, _) => false,
            };
            if !agree {
                self.diverge(
                    who.as_deref(),
                    format!(
                        "the router's next timer is {router_timer:?}; the model's is {mine:?} (t_ms {})",
                        self.now
                    ),
                );
            }
        }
        self.found.take()
    }

    fn next_timer(&self) -> (Option<TimeMs>, Option<String>) {
        let mut best: (Option<TimeMs>, Option<String>) = (None, None);
        for (id, e) in self.open_entries() {
            if let Kind::Predicted(m) = &e.kind {
                if let Some(t) = m.timer {
                    if best.0.is_none_or(|b| t < b) {
                        best = (Some(t), Some(id.clone()));
                    }
                }
            }
        }
        best
    }

    /// The router's process died: what its journal holds is all a restart knows. Intents it
    /// holds unfinished are followed from now on, not predicted; those it does not know are
    /// forgotten (the bus delivers them again).
    pub fn crash(&mut self) {
        self.lines.clear();
        self.cmds.clear();
        self.requests.clear();
        self.waiting.clear();
        self.hold_until = 0;
        self.ledger = self.durable.clone();
        let mut gone = Vec::new();
        for id in &self.open {
            let Some(e) = self.intents.get_mut(id) else {
                continue;
            };
            match e.seen {
                None => gone.push(id.clone()),
                Some(s) if s.is_terminal() => {
                    if !matches!(e.kind, Kind::Finished(_))
                        && !matches!(e.kind, Kind::Abstained { .. })
                    {
                        e.kind = Kind::Finished(s);
                    }
                }
                Some(_) if e.view.is_some() => e.kind = Kind::Down,
                Some(_) => {
                    e.kind = Kind::Abstained { recovered: true };
                    if !e.abstained {
                        e.abstained = true;
                        self.counts.predicted -= 1;
                        self.counts.abstained += 1;
                    }
                }
            }
        }
        for id in gone {
            self.open.remove(&id);
            if let Some(e) = self.intents.remove(&id) {
                if e.abstained {
                    self.counts.abstained -= 1;
                } else {
                    self.counts.predicted -= 1;
                }
            }
        }
        self.fog = self.fog_now();
    }

    /// The router came back at `now`, rebuilt from its journal: every intent the journal leaves
    /// open goes on from its last durable line, in journal order.
    pub fn restart(&mut self, now: TimeMs) {
        self.now = now;
        let mut open: Vec<(u64, String)> = self
            .open_entries()
            .filter(|(_, e)| matches!(e.kind, Kind::Down))
            .filter_map(|(id, e)| e.view.as_ref().map(|v| (v.first_seq, id.clone())))
            .collect();
        open.sort();
        for (_, id) in open {
            let Some(e) = self.intents.get_mut(&id) else {
                continue;
            };
            let Some(view) = e.view.clone() else {
                continue;
            };
            let mut out = Vec::new();
            let mut s = Step {
                cfg: &self.cfg,
                now,
                hold_until: self.hold_until,
                market: self.prices.get(&e.symbol.to_string()).copied(),
                ledger: &self.ledger,
                out: &mut out,
            };
            let m = IntentModel::resume(&id, &view, &self.cfg, &mut s);
            e.kind = if m.done() {
                Kind::Finished(m.state)
            } else {
                Kind::Predicted(Box::new(m))
            };
            for o in out {
                match o {
                    Out::Line(st, d) => {
                        self.ledger.apply(&id, &d);
                        self.lines.entry(id.clone()).or_default().push_back((st, d))
                    }
                    Out::Cmd(w, n) => self.cmds.entry(id.clone()).or_default().push_back((w, n)),
                }
            }
        }
    }

    /// A divergence found and not yet reported (the step stopped at another check first).
    pub fn diverged(&self) -> bool {
        self.found.is_some()
    }

    /// Intents predicted from their first delivery to their end, and intents abstained on.
    pub fn stats(&self) -> OracleStats {
        self.counts
    }

    /// At the end of the run: no predicted timer may be left unfired.
    pub fn at_end(&mut self) -> Option<Divergence> {
        let (t, who) = self.next_timer();
        if let Some(t) = t {
            self.diverge(
                who.as_deref(),
                format!("the run ended with the model's timer due at t_ms {t} never fired"),
            );
        }
        self.found.take()
    }
}

fn intent_error_name(e: &ExchangeError) -> &'static str {
    match e {
        ExchangeError::Rejected { .. } => "rejected",
        ExchangeError::RateLimited { .. } => "rate_limited",
        ExchangeError::RecvWindowExpired => "recv_window_expired",
        ExchangeError::DuplicateClientOrderId(_) => "duplicate_client_order_id",
        ExchangeError::NotFound => "not_found",
        ExchangeError::Timeout => "timeout",
        ExchangeError::ServerError(_) => "server_error",
    }
}

/// Whether the router's command is the one the model expects.
fn matches_action(
    a: &Action,
    want: &Want,
    symbol: &Symbol,
    side: Side,
    cfg: &rules::Settings,
    now: TimeMs,
) -> bool {
    match (a, want) {
        (Action::Place(r), Want::Place { coid, qty, price }) => {
            r.client_order_id().as_str() == coid
                && r.symbol() == symbol
                && r.side() == side
                && r.qty() == *qty
                && r.limit_price() == *price
                && r.tif() == cfg.tif
                && r.sent_ms() == now
        }
        (
            Action::FetchOrder {
                symbol: s,
                client_order_id,
            },
            Want::Query { coid },
        )
        | (
            Action::Cancel {
                symbol: s,
                client_order_id,
            },
            Want::Cancel { coid },
        ) => s == symbol && client_order_id.as_str() == coid,
        (
            Action::FetchTrades {
                symbol: s,
                order_id,
            },
            Want::Trades { order_id: o },
        ) => s == symbol && order_id == o,
        _ => false,
    }
}
