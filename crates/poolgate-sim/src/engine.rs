//! The simulation: a discrete-event loop in virtual time (microseconds) over K application
//! instances, each with a client pool (node-postgres' rules: lazy connects, LIFO idle reuse, a
//! FIFO of callers, idle close) and optionally a poolgate gate in front of it, sharing one
//! server with a connection limit.
//!
//! Life of an operation: it arrives at instance `i % K`; with a gate it is submitted there
//! (granted, queued, or refused); holding a slot (or straight away without a gate) it asks the
//! client pool for a connection: an idle one, a new one (the server accepts it if it has a free
//! slot, after `connect_ms`, or refuses it after `reject_ms`: "too many connections"), or a
//! place in the pool's queue. With a connection it runs for its service time, then hands the
//! connection to the pool's next caller and gives its gate slot back. A refused connection with
//! a gate goes through the core's retry policy; without a gate it fails.

use crate::gate_driver::{Admit, AfterFailure, GateDriver, GateOptions, Happened, Tk};
use crate::params::Plan;
use crate::report::{ErrorCounts, Outcome, Series};
use crate::rng::Rng;
use crate::traffic::{Arrivals, ServiceTimes};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    New,
    GateQueued,
    Sleeping,
    PoolQueued,
    Connecting,
    Running,
    Done,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    arrival: u64,
    service: u64,
    instance: u32,
    ticket: Tk,
    stage: Stage,
    pool_since: u64,
    connect_ok: bool,
}

#[derive(Debug, Default)]
struct ClientPool {
    /// Connections open or opening.
    open: u32,
    /// Idle connections: the time each went idle (reused from the back, closed from the front).
    idle: VecDeque<u64>,
    /// Callers waiting for a connection (some may have left on `pool_timeout`).
    waiting: VecDeque<u32>,
}

#[derive(Debug)]
struct Instance {
    /// When the instance's event loop is next free (FIFO client CPU, see `Plan::cpu_ms`).
    cpu_free: u64,
    /// The machine it runs on, when machines are shared (`Plan::hosts`).
    host: Option<usize>,
    gate: Option<GateDriver>,
    /// The gate's queue length as last read (the sum over instances is kept in `Sim::queued`).
    gate_queued: u32,
    armed: Option<u64>,
    tickets: HashMap<Tk, u32>,
    pool: ClientPool,
}

const ARRIVE: u8 = 0;
const CONNECTED: u8 = 1;
const FINISHED: u8 = 2;
const GATE_TIMER: u8 = 3;
const IDLE_CHECK: u8 = 4;
const POOL_TIMEOUT: u8 = 5;

/// Why an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// poolgate's queue held `maxQueue` waiters.
    QueueFull,
    /// Waited in poolgate's queue past `queueTimeoutMs`.
    QueueTimeout,
    /// The server refused the connection (and retries, if any, ran out).
    TooManyConnections,
    /// Waited in the client pool's own queue past its timeout.
    PoolTimeout,
}

/// One simulation run (one side: with or without the gate).
pub struct Sim<'p> {
    plan: &'p Plan,
    rng: Rng,
    service: ServiceTimes,
    arrivals: Arrivals,
    ops: Vec<Op>,
    instances: Vec<Instance>,
    /// Per shared machine, when each core is next free.
    cores: Vec<Vec<u64>>,
    heap: BinaryHeap<Reverse<(u64, u64, u8, u32)>>,
    seq: u64,
    now: u64,
    server: u32,
    app_limit: u32,
    active: u32,
    queued: u32,
    settled: u64,
    errors: ErrorCounts,
    retries: u64,
    waits: Vec<u64>,
    latencies: Vec<u64>,
    series: Series,
    peak_active: u32,
    peak_queued: u32,
    peak_server: u32,
    check: bool,
    checks: u64,
    settled_twice: u64,
}

impl<'p> Sim<'p> {
    /// A run of `plan`, with a gate of `gate_max` per instance, or without a gate (`None`).
    /// With `check`, every step verifies the gate's and the simulator's invariants (slow: for
    /// tests). Refused when the core refuses the gate's options.
    pub fn new(plan: &'p Plan, gate_max: Option<u32>, check: bool) -> Result<Sim<'p>, String> {
        let mut rng = Rng::new(plan.seed);
        let arrivals = Arrivals::new(plan, &mut rng);
        let options = gate_max.map(|m| GateOptions {
            max_connections: m,
            max_queue: plan.max_queue,
            queue_timeout_ms: plan.queue_timeout_ms,
            max_retries: plan.retries,
            retry_delay_ms: plan.retry_delay_ms,
        });
        let instances = (0..plan.instances)
            .map(|i| {
                Ok(Instance {
                    cpu_free: 0,
                    host: (plan.hosts > 0).then(|| (i % plan.hosts) as usize),
                    gate: options.map(GateDriver::new).transpose()?,
                    gate_queued: 0,
                    armed: None,
                    tickets: HashMap::new(),
                    pool: ClientPool::default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Sim {
            plan,
            rng,
            service: ServiceTimes::new(&plan.service),
            arrivals,
            ops: Vec::with_capacity(plan.ops.min(1 << 22) as usize),
            instances,
            cores: vec![vec![0; plan.cores as usize]; plan.hosts as usize],
            heap: BinaryHeap::new(),
            seq: 0,
            now: 0,
            server: 0,
            app_limit: plan.app_limit(),
            active: 0,
            queued: 0,
            settled: 0,
            errors: ErrorCounts::default(),
            retries: 0,
            waits: Vec::new(),
            latencies: Vec::new(),
            series: Series::new(),
            peak_active: 0,
            peak_queued: 0,
            peak_server: 0,
            check,
            checks: 0,
            settled_twice: 0,
        })
    }

    fn push(&mut self, at: u64, kind: u8, id: u32) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, kind, id)));
    }

    fn ms(v: f64) -> u64 {
        (v * 1000.0).round() as u64
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Result<Outcome, String> {
        if let Some(t) = self.arrivals.next(&mut self.rng) {
            self.push(t, ARRIVE, 0);
        }
        while let Some(Reverse((at, _, kind, id))) = self.heap.pop() {
            self.now = at;
            match kind {
                ARRIVE => self.arrive(id),
                CONNECTED => self.connected(id),
                FINISHED => self.finished(id),
                GATE_TIMER => self.gate_timer(id, at),
                IDLE_CHECK => self.idle_check(id),
                _ => self.pool_timeout(id),
            }
            self.peak_active = self.peak_active.max(self.active);
            self.peak_queued = self.peak_queued.max(self.queued);
            self.peak_server = self.peak_server.max(self.server);
            // After the last operation settled only stale timers and idle closes remain: they
            // would stretch the chart's time axis past the run.
            if self.settled < self.plan.ops {
                self.series
                    .sample(self.now, self.active, self.queued, self.server);
            }
            if self.check {
                self.verify()?;
            }
        }
        if self.settled_twice > 0 {
            return Err(format!("{} operations settled twice", self.settled_twice));
        }
        if self.settled != self.ops.len() as u64 || self.ops.len() as u64 != self.plan.ops {
            return Err(format!(
                "simulation ended with {} of {} operations settled ({} arrived)",
                self.settled,
                self.plan.ops,
                self.ops.len()
            ));
        }
        let end = self.series.last_settle;
        Ok(Outcome::new(
            self.plan,
            self.instances[0].gate.is_some(),
            self.ops.len() as u64,
            self.latencies.len() as u64,
            self.errors,
            self.retries,
            &mut self.waits,
            &mut self.latencies,
            (self.peak_active, self.peak_queued, self.peak_server),
            end,
            self.series,
            self.checks,
        ))
    }

    fn verify(&mut self) -> Result<(), String> {
        self.checks += 1;
        if self.server > self.app_limit {
            return Err(format!(
                "server connections {} above the limit {}",
                self.server, self.app_limit
            ));
        }
        let (mut active, mut queued) = (0u32, 0u32);
        for (i, inst) in self.instances.iter().enumerate() {
            let in_pool = inst.pool.open - inst.pool.idle.len() as u32;
            active += in_pool;
            queued += inst
                .pool
                .waiting
                .iter()
                .filter(|&&op| self.ops[op as usize].stage == Stage::PoolQueued)
                .count() as u32;
            if let Some(g) = &inst.gate {
                g.check_invariants()
                    .map_err(|e| format!("instance {i}: gate invariant broken: {e}"))?;
                queued += g.queued();
                // Every connection in use belongs to an operation holding a gate slot.
                if in_pool > g.active() {
                    return Err(format!(
                        "instance {i}: {in_pool} connections in use but {} gate slots held",
                        g.active()
                    ));
                }
            }
        }
        if active != self.active || queued != self.queued {
            return Err(format!(
                "counters drifted: active {} (recount {active}), queued {} (recount {queued})",
                self.active, self.queued
            ));
        }
        let settled = self.latencies.len() as u64 + self.errors.total();
        if settled != self.settled {
            return Err(format!("{} settled but {settled} counted", self.settled));
        }
        Ok(())
    }

    fn arrive(&mut self, _: u32) {
        let id = self.ops.len() as u32;
        let instance = id % self.plan.instances;
        let service = self.service.draw(&mut self.rng);
        self.ops.push(Op {
            arrival: self.now,
            service,
            instance,
            ticket: 0,
            stage: Stage::New,
            pool_since: 0,
            connect_ok: false,
        });
        if let Some(t) = self.arrivals.next(&mut self.rng) {
            self.push(t, ARRIVE, 0);
        }
        if self.instances[instance as usize].gate.is_some() {
            self.submit(id);
            self.drain(instance);
        } else {
            self.acquire(id);
        }
    }

    fn submit(&mut self, op: u32) {
        let inst = self.ops[op as usize].instance as usize;
        let now = self.now;
        let admit = self.instances[inst].gate.as_mut().map(|g| g.submit(now));
        match admit {
            Some(Admit::Now(tk)) => {
                self.ops[op as usize].ticket = tk;
                self.instances[inst].tickets.insert(tk, op);
                self.acquire(op);
            }
            Some(Admit::Later(tk)) => {
                self.ops[op as usize].ticket = tk;
                self.ops[op as usize].stage = Stage::GateQueued;
                self.instances[inst].tickets.insert(tk, op);
            }
            Some(Admit::QueueFull) => self.fail(op, Failure::QueueFull),
            Some(Admit::NoWait) | None => self.fail(op, Failure::QueueTimeout),
        }
    }

    /// Acts on the gate's events, then re-arms its timer.
    fn drain(&mut self, inst: u32) {
        loop {
            let ev = self.instances[inst as usize]
                .gate
                .as_mut()
                .and_then(GateDriver::next_event);
            let Some(ev) = ev else { break };
            match ev {
                Happened::Granted(tk) => {
                    let op = self.instances[inst as usize].tickets[&tk];
                    self.acquire(op);
                }
                Happened::QueueTimeout(tk) => {
                    let op = self.instances[inst as usize]
                        .tickets
                        .remove(&tk)
                        .unwrap_or(0);
                    self.fail(op, Failure::QueueTimeout);
                }
            }
        }
        // Waiters are counted by the gate itself (a retry may rejoin its queue unseen).
        let i = &mut self.instances[inst as usize];
        let now_queued = i.gate.as_ref().map_or(0, GateDriver::queued);
        self.queued = self.queued + now_queued - i.gate_queued;
        i.gate_queued = now_queued;
        let next = self.instances[inst as usize]
            .gate
            .as_mut()
            .and_then(GateDriver::next_deadline);
        if let Some(at) = next {
            if self.instances[inst as usize].armed != Some(at) {
                self.instances[inst as usize].armed = Some(at);
                self.push(at, GATE_TIMER, inst);
            }
        }
    }

    fn gate_timer(&mut self, inst: u32, at: u64) {
        if self.instances[inst as usize].armed != Some(at) {
            return; // replaced by a later arming
        }
        self.instances[inst as usize].armed = None;
        let now = self.now;
        if let Some(g) = self.instances[inst as usize].gate.as_mut() {
            g.fire(now);
        }
        self.drain(inst);
    }

    /// The operation asks its instance's client pool for a connection.
    fn acquire(&mut self, op: u32) {
        let inst = self.ops[op as usize].instance as usize;
        let pool = &mut self.instances[inst].pool;
        if pool.idle.pop_back().is_some() {
            self.active += 1;
            self.start(op);
        } else if pool.open < self.plan.pool {
            self.open(op);
        } else {
            pool.waiting.push_back(op);
            let o = &mut self.ops[op as usize];
            o.stage = Stage::PoolQueued;
            o.pool_since = self.now;
            self.queued += 1;
            if let Some(t) = self.plan.pool_timeout_ms {
                let at = self.now + Self::ms(t);
                self.push(at, POOL_TIMEOUT, op);
            }
        }
    }

    /// Opens a new server connection for `op`.
    fn open(&mut self, op: u32) {
        let inst = self.ops[op as usize].instance as usize;
        self.instances[inst].pool.open += 1;
        self.active += 1;
        let ok = self.server < self.app_limit;
        if ok {
            self.server += 1;
        }
        let o = &mut self.ops[op as usize];
        o.stage = Stage::Connecting;
        o.connect_ok = ok;
        let at = if ok {
            self.now + Self::ms(self.plan.connect_ms)
        } else {
            // The refusal's error goes through the instance's event loop before anyone sees it.
            let refused = self.now + Self::ms(self.plan.reject_ms);
            self.cpu(inst, refused)
        };
        self.push(at, CONNECTED, op);
    }

    fn connected(&mut self, op: u32) {
        if self.ops[op as usize].connect_ok {
            self.start(op);
            return;
        }
        let inst = self.ops[op as usize].instance;
        self.instances[inst as usize].pool.open -= 1;
        self.active -= 1;
        self.refused(op);
        // The pool opens a connection for its next caller, if it has room (pg-pool's pulse).
        self.pulse(inst);
    }

    fn pulse(&mut self, inst: u32) {
        let pool = &self.instances[inst as usize].pool;
        if pool.open >= self.plan.pool {
            return;
        }
        if let Some(next) = self.next_waiter(inst) {
            self.open(next);
        }
    }

    fn next_waiter(&mut self, inst: u32) -> Option<u32> {
        while let Some(op) = self.instances[inst as usize].pool.waiting.pop_front() {
            if self.ops[op as usize].stage == Stage::PoolQueued {
                self.queued -= 1;
                return Some(op);
            }
        }
        None
    }

    /// Runs `cpu_ms` of client work on `inst`'s event loop, ready at `ready`: when it ends.
    fn cpu(&mut self, inst: usize, ready: u64) -> u64 {
        let cost = Self::ms(self.plan.cpu_ms);
        if cost == 0 {
            return ready;
        }
        let i = &mut self.instances[inst];
        // One event loop: the work starts when the loop is free...
        let mut start = i.cpu_free.max(ready);
        // ...and, on a shared machine, when a core is (the earliest free one).
        let core = i.host.and_then(|h| {
            let cores = &mut self.cores[h];
            let (c, _) = cores.iter().enumerate().min_by_key(|&(_, &t)| t)?;
            Some(&mut cores[c])
        });
        if let Some(core) = core {
            start = start.max(*core);
            *core = start + cost;
        }
        let end = start + cost;
        self.instances[inst].cpu_free = end;
        end
    }

    fn start(&mut self, op: u32) {
        let o = self.ops[op as usize];
        self.ops[op as usize].stage = Stage::Running;
        self.waits.push(self.now - o.arrival);
        // The client's work (building the query, parsing the rows) waits for the event loop;
        // then the query runs for its service time.
        let at = self.cpu(o.instance as usize, self.now) + o.service;
        self.push(at, FINISHED, op);
    }

    fn finished(&mut self, op: u32) {
        let o = self.ops[op as usize];
        let inst = o.instance;
        self.latencies.push(self.now - o.arrival);
        self.settle(op, true);
        // The connection goes to the pool's next caller, or idles.
        if let Some(next) = self.next_waiter(inst) {
            self.start(next);
        } else {
            self.active -= 1;
            let now = self.now;
            self.instances[inst as usize].pool.idle.push_back(now);
            if let Some(idle) = self.plan.idle_ms {
                self.push(now + Self::ms(idle), IDLE_CHECK, inst);
            }
        }
        let now = self.now;
        if let Some(g) = self.instances[inst as usize].gate.as_mut() {
            g.succeeded(now, o.ticket);
            self.instances[inst as usize].tickets.remove(&o.ticket);
            self.drain(inst);
        }
    }

    fn refused(&mut self, op: u32) {
        let o = self.ops[op as usize];
        let inst = o.instance as usize;
        let now = self.now;
        let random = self.rng.unit();
        if self.instances[inst].gate.is_none() {
            self.fail(op, Failure::TooManyConnections);
            return;
        }
        let i = &mut self.instances[inst];
        i.tickets.remove(&o.ticket);
        let after = i
            .gate
            .as_mut()
            .map(|g| g.connection_refused(now, o.ticket, random));
        match after.unwrap_or(AfterFailure::GaveUp) {
            AfterFailure::Retry(tk) => {
                self.retries += 1;
                let o = &mut self.ops[op as usize];
                o.ticket = tk;
                o.stage = Stage::Sleeping;
                self.instances[inst].tickets.insert(tk, op);
            }
            AfterFailure::GaveUp => self.fail(op, Failure::TooManyConnections),
        }
        self.drain(inst as u32);
    }

    fn idle_check(&mut self, inst: u32) {
        let Some(idle) = self.plan.idle_ms else {
            return;
        };
        let cutoff = self.now.saturating_sub(Self::ms(idle));
        let pool = &mut self.instances[inst as usize].pool;
        while pool.idle.front().is_some_and(|&since| since <= cutoff) {
            pool.idle.pop_front();
            pool.open -= 1;
            self.server -= 1;
        }
    }

    fn pool_timeout(&mut self, op: u32) {
        let o = self.ops[op as usize];
        let Some(t) = self.plan.pool_timeout_ms else {
            return;
        };
        if o.stage != Stage::PoolQueued || o.pool_since + Self::ms(t) != self.now {
            return; // served meanwhile, or a later wait of the same operation
        }
        self.queued -= 1;
        // Left in `waiting`; skipped when popped.
        self.ops[op as usize].stage = Stage::New;
        let inst = o.instance as usize;
        let now = self.now;
        if let Some(g) = self.instances[inst].gate.as_mut() {
            // It held a gate slot while it waited in the pool: give it back.
            g.gave_up(now, o.ticket);
            self.instances[inst].tickets.remove(&o.ticket);
        }
        self.fail(op, Failure::PoolTimeout);
        self.drain(inst as u32);
    }

    fn fail(&mut self, op: u32, why: Failure) {
        match why {
            Failure::QueueFull => self.errors.queue_full += 1,
            Failure::QueueTimeout => self.errors.queue_timeout += 1,
            Failure::TooManyConnections => self.errors.too_many_connections += 1,
            Failure::PoolTimeout => self.errors.pool_timeout += 1,
        }
        self.settle(op, false);
    }

    fn settle(&mut self, op: u32, ok: bool) {
        let o = &mut self.ops[op as usize];
        if o.stage == Stage::Done {
            self.settled_twice += 1;
        }
        o.stage = Stage::Done;
        self.settled += 1;
        self.series.settle(self.now, ok);
    }
}
