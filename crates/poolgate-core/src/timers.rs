//! Every deadline the gate tracks, in one min-heap, so the driver needs one timer for the whole
//! pool: [`Timers::peek`] is the next time anything can happen.
//!
//! Records are never removed when their entry settles early (the common case: a waiter granted
//! long before its queue timeout). A record is live only while its entry still exists with the
//! same generation and the same deadline; stale records are dropped when they reach the top, and
//! the heap is rebuilt from live records whenever stale ones outnumber them, so memory stays
//! proportional to what is pending. Ties are broken by a sequence number, so deadlines that fall
//! together fire in the order they were set. An entry remembers the tag of its latest record
//! ([`TimerRecord::tag`]), so an older record of the same entry that happens to name the same
//! instant is stale too: the order of ties never depends on which stale records are still
//! in the heap.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One deadline of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerRecord {
    pub at: Instant,
    seq: u64,
    pub index: u32,
    pub generation: u32,
}

impl TimerRecord {
    /// The low 16 bits of the record's sequence number: an entry's records differ in it unless
    /// 65,536 deadlines were set in between, by which time the older one has long fired or
    /// been dropped.
    pub fn tag(&self) -> u16 {
        self.seq as u16
    }
}

/// The deadline heap.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<TimerRecord>>,
    seq: u64,
}

impl Timers {
    /// Adds a deadline for the entry at `index` with `generation`; returns the record's tag,
    /// for the entry to tell its latest record from older ones.
    pub fn push(&mut self, at: Instant, index: u32, generation: u32) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        let record = TimerRecord {
            at,
            seq: self.seq,
            index,
            generation,
        };
        self.heap.push(Reverse(record));
        record.tag()
    }

    /// The earliest record, live or stale.
    pub fn peek(&self) -> Option<TimerRecord> {
        self.heap.peek().map(|r| r.0)
    }

    /// Removes the earliest record.
    pub fn pop(&mut self) -> Option<TimerRecord> {
        self.heap.pop().map(|r| r.0)
    }

    /// Number of records held, live and stale.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Rebuilds the heap from the records `is_live` accepts, when stale ones outnumber `live`
    /// (the count of live records) by enough to be worth it. Amortised O(1) per record.
    pub fn compact_if_sparse(&mut self, live: usize, is_live: impl Fn(&TimerRecord) -> bool) {
        if self.heap.len() > 64 && self.heap.len() > 2 * live {
            self.heap.retain(|r| is_live(&r.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_insertion_order() {
        let mut t = Timers::default();
        t.push(Instant::from_micros(5), 1, 0);
        t.push(Instant::from_micros(3), 2, 0);
        t.push(Instant::from_micros(5), 0, 0);
        let order: Vec<u32> = std::iter::from_fn(|| t.pop()).map(|r| r.index).collect();
        assert_eq!(order, vec![2, 1, 0]);
    }

    #[test]
    fn compaction_keeps_only_live_records() {
        let mut t = Timers::default();
        for i in 0..200 {
            t.push(Instant::from_micros(i), i as u32, 0);
        }
        t.compact_if_sparse(10, |r| r.index % 20 == 0);
        assert_eq!(t.len(), 10);
        t.compact_if_sparse(10, |_| false);
        assert_eq!(t.len(), 10, "small heaps are left alone");
    }
}
