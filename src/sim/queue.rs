//! The event queue: events ordered by `(t_ms, sequence)`, so equal times keep insertion order.

use std::collections::BTreeMap;

use crate::model::TimeMs;

#[derive(Debug)]
pub struct Queue<E> {
    events: BTreeMap<(TimeMs, u64), E>,
    next_seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            events: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<E> Queue<E> {
    pub fn push(&mut self, at: TimeMs, event: E) {
        self.events.insert((at, self.next_seq), event);
        self.next_seq += 1;
    }

    pub fn peek_time(&self) -> Option<TimeMs> {
        self.events.first_key_value().map(|(&(t, _), _)| t)
    }

    pub fn pop(&mut self) -> Option<(TimeMs, E)> {
        self.events.pop_first().map(|((t, _), e)| (t, e))
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = Queue::default();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
    }
}
