//! Storage for every submission the gate knows about, and the FIFO queue threaded through it.
//!
//! Entries live in a slab (a `Vec` with a free list) so a ticket is an index plus a generation.
//! The queue is an intrusive doubly linked list over the same slab: pushing, popping the oldest
//! and unlinking a waiter from the middle (queue timeout, abort) are all O(1), however deep the
//! queue is. The old wrapper's `Array.shift` made each grant cost the queue's length.

use crate::time::{Duration, Instant};

/// "No entry" in the links.
const NIL: u32 = u32::MAX;
/// Generations wrap at 16 bits so a ticket packs into the 53 bits a JavaScript number holds
/// exactly, with room left for an event kind.
const GENERATION_MASK: u32 = 0xFFFF;

/// A handle on one submission (or one back-off sleep), valid until the gate frees it.
///
/// A stale ticket (already settled, or never issued) is refused by every call that takes one;
/// it can never act on another submission that reuses the same slot, unless 65,536 submissions
/// reuse that exact slot in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket {
    index: u32,
    generation: u32,
}

impl Ticket {
    /// Packs the ticket into 48 bits: generation above, slot index in the low 32 bits.
    pub const fn to_bits(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// Unpacks a ticket made by [`Ticket::to_bits`]. Any value is accepted; a bogus one is a
    /// ticket the gate will refuse.
    pub const fn from_bits(bits: u64) -> Ticket {
        Ticket {
            index: bits as u32,
            generation: ((bits >> 32) as u32) & GENERATION_MASK,
        }
    }

    /// The slot index: stable while the ticket is live, reused after it is freed.
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The generation that tells this ticket from earlier users of the same slot.
    pub(crate) const fn generation(self) -> u32 {
        self.generation
    }
}

/// Where a submission is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Slot unused.
    Free,
    /// Waiting in the FIFO queue for a slot.
    Queued,
    /// Holding a slot; its caller is still waiting for the result.
    Active,
    /// Holding a slot, but its caller was already told it timed out or was aborted: its query
    /// may still be running on a database connection.
    Zombie,
    /// Timed out with `releaseOnTimeout`: the slot was given back before the operation settled.
    FreedAtTimeout,
    /// A retry back-off in progress; wakes at its deadline.
    Sleeping,
    /// Just taken out of the queue; the gate gives it its next state at once.
    Unlinked,
}

/// One slab entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub state: State,
    generation: u32,
    prev: u32,
    next: u32,
    /// When the current state began (queued at, granted at).
    pub since: Instant,
    /// The deadline of the current state, or [`Instant::NEVER`].
    pub deadline: Instant,
    /// Operation timeout to apply once granted.
    pub op_timeout: Option<Duration>,
    /// The caller's overall deadline (the end of its retry budget, say): it bounds every wait
    /// and every attempt. [`Instant::NEVER`] when there is none.
    pub overall_deadline: Instant,
    /// The retry policy's id in the gate's table, or 0 for a call that is never retried.
    pub retry_policy: u16,
    /// Failed attempts so far (for the retry policy).
    pub failed_attempts: u16,
    /// Whether the caller said the operation may run twice safely.
    pub idempotent: bool,
    /// The tag of the timer record of `deadline` (only that record is live).
    pub timer_tag: u16,
}

/// The slab and the FIFO queue.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    entries: Vec<Entry>,
    free_head: Option<u32>,
    head: Option<u32>,
    tail: Option<u32>,
    queued: u32,
}

impl Waiters {
    /// Number of entries in the queue.
    pub fn queued(&self) -> u32 {
        self.queued
    }

    /// Takes a free slot (reusing the most recently freed one) and returns its ticket, or
    /// `None` if the slab cannot grow any further.
    pub fn alloc(&mut self, state: State, now: Instant) -> Option<Ticket> {
        let fresh = Entry {
            state,
            generation: 0,
            prev: NIL,
            next: NIL,
            since: now,
            deadline: Instant::NEVER,
            op_timeout: None,
            overall_deadline: Instant::NEVER,
            retry_policy: 0,
            failed_attempts: 0,
            idempotent: false,
            timer_tag: 0,
        };
        let index = match self.free_head {
            Some(index) => {
                let entry = self.entries.get_mut(index as usize)?;
                self.free_head = (entry.next != NIL).then_some(entry.next);
                *entry = Entry {
                    generation: entry.generation,
                    ..fresh
                };
                index
            }
            None => {
                let index = u32::try_from(self.entries.len())
                    .ok()
                    .filter(|&i| i != NIL)?;
                self.entries.push(fresh);
                index
            }
        };
        let generation = self.entries.get(index as usize)?.generation;
        Some(Ticket { index, generation })
    }

    /// Returns a live entry by ticket, or `None` if the ticket is stale or bogus.
    pub fn get(&self, ticket: Ticket) -> Option<&Entry> {
        self.entries
            .get(ticket.index as usize)
            .filter(|e| e.generation == ticket.generation && e.state != State::Free)
    }

    /// Mutable access to a live entry by ticket.
    pub fn get_mut(&mut self, ticket: Ticket) -> Option<&mut Entry> {
        self.entries
            .get_mut(ticket.index as usize)
            .filter(|e| e.generation == ticket.generation && e.state != State::Free)
    }

    /// The ticket of the live entry at `index` whose generation matches, used to validate
    /// timer records.
    pub fn live_at(&self, index: u32, generation: u32) -> Option<(Ticket, &Entry)> {
        let ticket = Ticket { index, generation };
        self.get(ticket).map(|e| (ticket, e))
    }

    /// Frees a live entry: it leaves the queue if queued, and its ticket goes stale.
    pub fn free(&mut self, ticket: Ticket) {
        if self.get(ticket).is_none() {
            return;
        }
        if self.entries[ticket.index as usize].state == State::Queued {
            self.unlink(ticket);
        }
        let next_free = self.free_head.unwrap_or(NIL);
        let entry = &mut self.entries[ticket.index as usize];
        entry.state = State::Free;
        entry.generation = (entry.generation + 1) & GENERATION_MASK;
        entry.prev = NIL;
        entry.next = next_free;
        self.free_head = Some(ticket.index);
    }

    /// Appends a live, unqueued entry to the back of the queue and marks it queued.
    pub fn push_back(&mut self, ticket: Ticket) {
        let tail = self.tail;
        let Some(entry) = self.get_mut(ticket) else {
            return;
        };
        entry.state = State::Queued;
        entry.next = NIL;
        entry.prev = tail.unwrap_or(NIL);
        match tail {
            Some(t) => self.entries[t as usize].next = ticket.index,
            None => self.head = Some(ticket.index),
        }
        self.tail = Some(ticket.index);
        self.queued += 1;
    }

    /// The oldest queued entry, without removing it.
    pub fn front(&self) -> Option<Ticket> {
        let index = self.head?;
        let generation = self.entries.get(index as usize)?.generation;
        Some(Ticket { index, generation })
    }

    /// Removes a queued entry from the queue in O(1) and marks it `Unlinked` until the caller
    /// frees it or gives it its next state.
    pub fn unlink(&mut self, ticket: Ticket) {
        let Some(entry) = self.get(ticket).filter(|e| e.state == State::Queued) else {
            return;
        };
        let (prev, next) = (entry.prev, entry.next);
        match prev {
            NIL => self.head = (next != NIL).then_some(next),
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.tail = (prev != NIL).then_some(prev),
            n => self.entries[n as usize].prev = prev,
        }
        let entry = &mut self.entries[ticket.index as usize];
        entry.prev = NIL;
        entry.next = NIL;
        entry.state = State::Unlinked;
        self.queued -= 1;
    }

    /// Tickets of every queued entry, oldest first (used by `close`).
    pub fn drain_queue(&mut self) -> Vec<Ticket> {
        let mut out = Vec::with_capacity(self.queued as usize);
        while let Some(t) = self.front() {
            self.unlink(t);
            out.push(t);
        }
        out
    }

    /// Tickets of every live entry in `state`, in slot order.
    pub fn tickets_in(&self, state: State) -> impl Iterator<Item = Ticket> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.state == state)
            .map(|(i, e)| Ticket {
                index: i as u32,
                generation: e.generation,
            })
    }

    /// Queued tickets oldest first (for checks and tests; O(n)).
    pub fn queue_order(&self) -> Vec<Ticket> {
        let mut out = Vec::new();
        let mut cursor = self.head;
        while let Some(index) = cursor {
            let Some(entry) = self.entries.get(index as usize) else {
                break;
            };
            out.push(Ticket {
                index,
                generation: entry.generation,
            });
            cursor = (entry.next != NIL).then_some(entry.next);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(w: &mut Waiters) -> Ticket {
        let t = w.alloc(State::Unlinked, Instant::ZERO).unwrap();
        w.push_back(t);
        t
    }

    #[test]
    fn fifo_with_removal_from_the_middle() {
        let mut w = Waiters::default();
        let a = queued(&mut w);
        let b = queued(&mut w);
        let c = queued(&mut w);
        w.unlink(b);
        w.free(b);
        assert_eq!(w.queue_order(), vec![a, c]);
        assert_eq!(w.queued(), 2);
        w.unlink(a);
        w.free(a);
        assert_eq!(w.front(), Some(c));
        w.unlink(c);
        assert_eq!(w.front(), None);
        assert_eq!(w.queued(), 0);
    }

    #[test]
    fn freed_tickets_go_stale_and_slots_are_reused() {
        let mut w = Waiters::default();
        let a = w.alloc(State::Active, Instant::ZERO).unwrap();
        w.free(a);
        assert!(w.get(a).is_none());
        let b = w.alloc(State::Active, Instant::ZERO).unwrap();
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert!(w.get(a).is_none());
        assert!(w.get(b).is_some());
        // Freeing a stale ticket is a no-op, not a double free.
        w.free(a);
        assert!(w.get(b).is_some());
    }

    #[test]
    fn ticket_bits_round_trip_and_fit_a_js_number() {
        let mut w = Waiters::default();
        let mut t = w.alloc(State::Active, Instant::ZERO).unwrap();
        for _ in 0..70_000 {
            w.free(t);
            t = w.alloc(State::Active, Instant::ZERO).unwrap();
        }
        assert_eq!(Ticket::from_bits(t.to_bits()), t);
        assert!(t.to_bits() < (1u64 << 48));
    }
}
