//! The event queue: events ordered by `(t_ms, sequence)`, so equal times keep insertion order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::model::TimeMs;

/// A min-heap of small keys over a slab of events: events (commands with their orders) are
/// large, and only the keys move when the heap reorders.
#[derive(Debug)]
pub struct Queue<E> {
    heap: BinaryHeap<Reverse<(TimeMs, u64, usize)>>,
    slots: Vec<Option<E>>,
    free: Vec<usize>,
    next_seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            heap: BinaryHeap::with_capacity(64),
            slots: Vec::with_capacity(64),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> Queue<E> {
    pub fn push(&mut self, at: TimeMs, event: E) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(event);
                i
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((at, self.next_seq, slot)));
        self.next_seq += 1;
    }

    pub fn peek_time(&self) -> Option<TimeMs> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    pub fn pop(&mut self) -> Option<(TimeMs, E)> {
        let Reverse((t, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots.get_mut(slot)?.take().map(|e| (t, e))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
