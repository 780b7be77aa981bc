//! What goes in and out of the router: inputs, commands for the venue, and their replies.

use std::fmt;

use rust_decimal::Decimal;

use super::stream::OrderUpdate;
use crate::decision::{CancelIntent, Intent};
use crate::exchange::{ExchangeError, Order, OrderList, Trade};
use crate::model::{ClientOrderId, IntentId, OrderId, Side, Symbol, Tif, TimeMs};

/// A limit order the router decided to place.
///
/// Its fields are private and its constructor is private to the router, so an order request
/// cannot be made anywhere else: "no order outside the router" is checked by the compiler.
///
/// ```compile_fail
/// use order_router::router::OrderRequest;
/// let forged = OrderRequest { client_order_id: todo!(), symbol: todo!(), side: todo!(),
///     qty: todo!(), limit_price: todo!(), tif: todo!(), sent_ms: 0 };
/// ```
/// ```compile_fail
/// use order_router::router::OrderRequest;
/// let forged = OrderRequest::new(todo!(), todo!(), todo!(), todo!(), todo!(), todo!(), 0);
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct OrderRequest {
    client_order_id: ClientOrderId,
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    limit_price: Decimal,
    tif: Tif,
    sent_ms: TimeMs,
}

impl OrderRequest {
    pub(super) fn new(
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        limit_price: Decimal,
        tif: Tif,
        sent_ms: TimeMs,
    ) -> Self {
        OrderRequest {
            client_order_id,
            symbol,
            side,
            qty,
            limit_price,
            tif,
            sent_ms,
        }
    }
    /// A request that did not come from the router, compiled only with the deliberate bugs:
    /// the proof that the simulator's `single_router` check catches an order that bypassed it.
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub fn forged(
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        limit_price: Decimal,
    ) -> Self {
        OrderRequest::new(client_order_id, symbol, side, qty, limit_price, Tif::Ioc, 0)
    }

    pub fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    pub fn side(&self) -> Side {
        self.side
    }
    pub fn qty(&self) -> Decimal {
        self.qty
    }
    pub fn limit_price(&self) -> Decimal {
        self.limit_price
    }
    pub fn tif(&self) -> Tif {
        self.tif
    }
    /// When the router sent it: the request's `timestamp`, which the venue's receive window
    /// is measured from.
    pub fn sent_ms(&self) -> TimeMs {
        self.sent_ms
    }
}

/// An order list the router decided to place: an OCO exit (take-profit and stop-loss on a held
/// position) or an OTOCO bracket (an entry, then that OCO for the entry's quantity once it has
/// filled completely). Only the router can make one, as an [`OrderRequest`].
///
/// Semantics are Binance spot's, and a venue implementing [`Action::PlaceList`] keeps them: the
/// list is placed whole or refused whole; the two exit legs share one reservation of the
/// quantity (they can never fill more than it together); a fill of either exit leg, partial or
/// whole, or the stop's trigger, expires the other (`OCO_TRIGGER`); cancelling any leg ends the
/// list; an OTOCO's exit legs wait (`pending`) until the entry has filled completely, and an
/// entry that ends without filling completely expires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    list_client_order_id: ClientOrderId,
    symbol: Symbol,
    /// The exit legs' side (the entry's is the other).
    exit_side: Side,
    qty: Decimal,
    /// The entry's limit price and time in force (an OTOCO), with its client order id.
    entry: Option<(ClientOrderId, Decimal, Tif)>,
    /// The take-profit leg: client order id, limit price.
    take_profit: (ClientOrderId, Decimal),
    /// The stop-loss leg: client order id, stop price, and the limit price of a stop-limit
    /// (`None`: a market order when triggered).
    stop_loss: (ClientOrderId, Decimal, Option<Decimal>),
    sent_ms: TimeMs,
}

impl ListRequest {
    #[allow(clippy::too_many_arguments)]
    #[allow(dead_code)]
    pub(super) fn new(
        list_client_order_id: ClientOrderId,
        symbol: Symbol,
        exit_side: Side,
        qty: Decimal,
        entry: Option<(ClientOrderId, Decimal, Tif)>,
        take_profit: (ClientOrderId, Decimal),
        stop_loss: (ClientOrderId, Decimal, Option<Decimal>),
        sent_ms: TimeMs,
    ) -> Self {
        ListRequest {
            list_client_order_id,
            symbol,
            exit_side,
            qty,
            entry,
            take_profit,
            stop_loss,
            sent_ms,
        }
    }

    /// The list's own client id (`listClientOrderId`): an unknown placement is resolved by
    /// asking for it ([`Action::FetchList`]), never by placing again.
    pub fn list_client_order_id(&self) -> &ClientOrderId {
        &self.list_client_order_id
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    pub fn exit_side(&self) -> Side {
        self.exit_side
    }
    /// The quantity of every leg: the entry's, and the exit pair's (shared).
    pub fn qty(&self) -> Decimal {
        self.qty
    }
    /// An OTOCO's entry: its client order id, limit price and time in force.
    pub fn entry(&self) -> Option<&(ClientOrderId, Decimal, Tif)> {
        self.entry.as_ref()
    }
    pub fn take_profit(&self) -> &(ClientOrderId, Decimal) {
        &self.take_profit
    }
    pub fn stop_loss(&self) -> &(ClientOrderId, Decimal, Option<Decimal>) {
        &self.stop_loss
    }
    pub fn sent_ms(&self) -> TimeMs {
        self.sent_ms
    }
}

/// Correlates a reply with the command it answers. Replies to anything but the request an
/// intent is waiting for (late, duplicated, superseded) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    pub(super) intent: u64,
    pub(super) n: u32,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.intent, self.n)
    }
}

/// Something the router wants done at the venue.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    pub request_id: RequestId,
    pub intent_id: IntentId,
    pub action: Action,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Place(OrderRequest),
    FetchOrder {
        symbol: Symbol,
        client_order_id: ClientOrderId,
    },
    FetchTrades {
        symbol: Symbol,
        order_id: OrderId,
    },
    Cancel {
        symbol: Symbol,
        client_order_id: ClientOrderId,
    },
    /// Place an order list whole; answered with [`ReplyOutcome::List`]. Boxed: a list request
    /// is several times an order's size, and commands are moved on every step.
    PlaceList(Box<ListRequest>),
    /// The list by its client id, every leg with its fill; answered with
    /// [`ReplyOutcome::List`] (`NotFound` when the venue never saw it).
    FetchList {
        symbol: Symbol,
        list_client_order_id: ClientOrderId,
    },
    /// Cancel every open leg of the list; answered with [`ReplyOutcome::List`] as it ended.
    CancelList {
        symbol: Symbol,
        list_client_order_id: ClientOrderId,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Place(_) => "place",
            Action::FetchOrder { .. } => "fetch_order",
            Action::FetchTrades { .. } => "fetch_trades",
            Action::Cancel { .. } => "cancel",
            Action::PlaceList(_) => "place_list",
            Action::FetchList { .. } => "fetch_list",
            Action::CancelList { .. } => "cancel_list",
        }
    }
}

/// The venue's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: RequestId,
    pub outcome: ReplyOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Answer to `Place`, `FetchOrder` or `Cancel`.
    Order(Result<Order, ExchangeError>),
    /// Answer to `FetchTrades`.
    Trades(Result<Vec<Trade>, ExchangeError>),
    /// Answer to `PlaceList`, `FetchList` or `CancelList`: the list with every leg.
    List(Result<OrderList, ExchangeError>),
}

impl Command {
    /// The reply a driver hands back when the request or its answer was lost in transit.
    pub fn lost(&self, error: ExchangeError) -> Reply {
        let outcome = match self.action {
            Action::FetchTrades { .. } => ReplyOutcome::Trades(Err(error)),
            Action::PlaceList(_) | Action::FetchList { .. } | Action::CancelList { .. } => {
                ReplyOutcome::List(Err(error))
            }
            _ => ReplyOutcome::Order(Err(error)),
        };
        Reply {
            request_id: self.request_id,
            outcome,
        }
    }
}

/// An input to the router besides replies and timers.
#[derive(Debug, Clone)]
pub enum Input {
    /// A delivery of an intent by the bus (duplicates are normal).
    Deliver(Intent),
    /// A delivery of a cancel intent (duplicates are normal): stops the intent it names.
    Cancel(CancelIntent),
    /// A reply to one of the router's commands.
    Reply(Reply),
    /// Market data: the last traded price of a symbol.
    Market { symbol: Symbol, price: Decimal },
    /// The venue asked for nothing to be sent before `until_ms` (a `Retry-After` the driver
    /// read, a ban, or the minute's request weight nearly spent). The router holds every
    /// request back until then: a wait, not an attempt.
    Hold { until_ms: TimeMs },
    /// An order update from the venue's user data stream (Binance's `executionReport`),
    /// believed as far as a REST report of the same order would be ([`super::stream`]).
    Stream(OrderUpdate),
    /// The user data stream is connected again (or for the first time): what it sent while
    /// it was down is lost, so the router asks for every resting order by REST at once.
    StreamConnected,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{LegRole, ListLeg, ListStatus, OrderStatus};
    use crate::model::{Asset, OrderId};

    fn coid(s: &str) -> ClientOrderId {
        ClientOrderId::new(s).unwrap()
    }

    #[test]
    // rule: order_truth
    fn a_lost_list_request_is_answered_as_a_list_and_its_fills_sum_the_exit_legs() {
        let symbol = Symbol::parse("BTC/USDT").unwrap();
        let req = ListRequest::new(
            coid("ol-1"),
            symbol.clone(),
            Side::Sell,
            Decimal::new(2, 3),
            Some((coid("ol-1-e"), Decimal::from(50_000), Tif::Gtc)),
            (coid("ol-1-tp"), Decimal::from(51_000)),
            (coid("ol-1-sl"), Decimal::from(49_000), None),
            7,
        );
        assert_eq!(req.list_client_order_id().as_str(), "ol-1");
        let cmd = Command {
            request_id: RequestId { intent: 1, n: 0 },
            intent_id: IntentId::new("b").unwrap(),
            action: Action::PlaceList(Box::new(req)),
        };
        assert_eq!(cmd.action.name(), "place_list");
        assert_eq!(
            cmd.lost(ExchangeError::Timeout).outcome,
            ReplyOutcome::List(Err(ExchangeError::Timeout))
        );
        let leg = |role, id: &str, filled: i64| ListLeg {
            role,
            pending: false,
            order: Order {
                order_id: OrderId::new("1").unwrap(),
                client_order_id: coid(id),
                symbol: symbol.clone(),
                side: Side::Sell,
                price: Decimal::from(51_000),
                amount: Decimal::new(2, 3),
                filled: Decimal::new(filled, 3),
                remaining: Decimal::new(2 - filled, 3),
                average: None,
                status: OrderStatus::Open,
                fee: Decimal::ZERO,
                fee_asset: Asset::new("USDT").unwrap(),
            },
        };
        let list = OrderList {
            list_order_id: 0,
            list_client_order_id: coid("ol-1"),
            symbol: symbol.clone(),
            status: ListStatus::Executing,
            legs: vec![
                leg(LegRole::Entry, "ol-1-e", 2),
                leg(LegRole::TakeProfit, "ol-1-tp", 1),
                leg(LegRole::StopLoss, "ol-1-sl", 0),
            ],
        };
        // The entry's fill is not an exit's.
        assert_eq!(list.exit_filled(), Decimal::new(1, 3));
        assert_eq!(
            list.leg(LegRole::StopLoss).unwrap().order.filled,
            Decimal::ZERO
        );
    }
}
