//! Runs the language-neutral scenarios in `tests/spec/*.json` against the core gate, with a fake
//! clock. The JavaScript package runs the very same files (`tests/node/spec.test.mjs`), so the
//! core and the package cannot drift apart. The format is described in `tests/spec/README.md`.
//!
//! This runner plays the part of the JavaScript driver (`pkg/src/pool.js`) and drives the core
//! the same way: it fires the gate's single timer exactly at `poll_timeout()`, maps scenario
//! ids to tickets, settles callers on events and release answers, and for a retry only starts
//! attempts when granted and reports each failure's class; the core counts the attempts,
//! backs off and queues the retry again.

use poolgate_core::{
    classify, Cancelled, Config, Event, Gate, Instant, OperationTimeout, RawConfig, RawRetryPolicy,
    Rejected, Released, Request, RetryPolicy, Submitted, Ticket,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

const OUTCOME_KEYS: [&str; 6] = ["status", "grantedAt", "at", "waitedMs", "attempts", "error"];

#[derive(Clone, Debug, Default)]
struct Outcome {
    status: String,
    granted_at: Option<f64>,
    at: Option<f64>,
    waited_ms: Option<f64>,
    attempts: Vec<f64>,
    error: Option<String>,
}

impl Outcome {
    fn field(&self, key: &str, is_retry: bool) -> Value {
        let num = |v: Option<f64>| v.map_or(Value::Null, Value::from);
        match key {
            "status" => Value::from(self.status.clone()),
            "grantedAt" => num(self.granted_at),
            "at" => num(self.at),
            "waitedMs" => num(self.waited_ms),
            "attempts" if is_retry => Value::from(self.attempts.clone()),
            "attempts" => Value::Null,
            "error" => self.error.clone().map_or(Value::Null, Value::from),
            _ => unreachable!(),
        }
    }

    fn is_terminal(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "granted" | "pending")
    }
}

struct Retry {
    failures: Vec<(String, String)>,
    /// Attempts that ran (and consumed a scripted failure, while any are left).
    attempts: usize,
}

struct Runner {
    file: String,
    gate: Gate,
    now: Instant,
    outcomes: BTreeMap<String, Outcome>,
    tickets: HashMap<Ticket, String>,
    id_ticket: HashMap<String, Ticket>,
    retries: HashMap<String, Retry>,
    /// Retry attempts that started and settle right away (in JS: a microtask later).
    settles: VecDeque<String>,
}

fn ms(i: Instant) -> f64 {
    i.as_micros() as f64 / 1000.0
}

fn at_ms(t: f64) -> Instant {
    Instant::from_millis_f64(t)
}

fn opt_millis(v: Option<&Value>, what: &str) -> Option<f64> {
    match v {
        None => None,
        Some(Value::String(s)) if s == "Infinity" => Some(f64::INFINITY),
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => panic!("{what}: expected a number or \"Infinity\", got {other}"),
    }
}

impl Runner {
    fn new(file: String, pool: &Map<String, Value>) -> Runner {
        for key in pool.keys() {
            assert!(
                [
                    "maxConnections",
                    "maxQueue",
                    "queueTimeoutMs",
                    "operationTimeoutMs",
                    "releaseOnTimeout",
                    "adaptive",
                    "rejectEarly"
                ]
                .contains(&key.as_str()),
                "{file}: unknown pool option {key}"
            );
        }
        let raw = RawConfig {
            max_connections: opt_millis(pool.get("maxConnections"), "maxConnections"),
            max_queue: opt_millis(pool.get("maxQueue"), "maxQueue"),
            queue_timeout_ms: opt_millis(pool.get("queueTimeoutMs"), "queueTimeoutMs"),
            operation_timeout_ms: opt_millis(pool.get("operationTimeoutMs"), "operationTimeoutMs"),
            release_on_timeout: pool.get("releaseOnTimeout").and_then(Value::as_bool),
            adaptive_min: pool
                .get("adaptive")
                .and_then(|a| a.get("min"))
                .and_then(Value::as_f64),
            reject_early: pool.get("rejectEarly").and_then(Value::as_bool),
        };
        let config: Config = raw.validate().expect("pool options");
        Runner {
            file,
            gate: Gate::new(config),
            now: Instant::ZERO,
            outcomes: BTreeMap::new(),
            tickets: HashMap::new(),
            id_ticket: HashMap::new(),
            retries: HashMap::new(),
            settles: VecDeque::new(),
        }
    }

    fn check(&self, step: usize) {
        if let Err(e) = self.gate.check_invariants() {
            panic!("{}: step {step}: invariant broken: {e}", self.file);
        }
    }

    fn map(&mut self, id: &str, ticket: Ticket) {
        self.tickets.insert(ticket, id.to_string());
        self.id_ticket.insert(id.to_string(), ticket);
    }

    fn unmap(&mut self, id: &str) {
        if let Some(t) = self.id_ticket.remove(id) {
            self.tickets.remove(&t);
        }
    }

    fn out(&mut self, id: &str) -> &mut Outcome {
        self.outcomes.get_mut(id).expect("known id")
    }

    fn finish(&mut self, id: &str, status: &str) {
        let now = ms(self.now);
        let o = self.out(id);
        o.status = status.to_string();
        o.at = Some(now);
    }

    /// Moves the clock to `t`, firing the pool's single timer at each deadline on the way.
    fn advance_to(&mut self, t: Instant) {
        assert!(
            t >= self.now,
            "{}: steps must not go back in time",
            self.file
        );
        while let Some(at) = self.gate.poll_timeout().filter(|&at| at <= t) {
            self.now = self.now.max(at);
            self.gate.handle_timeout(self.now);
            self.drain();
        }
        self.now = t;
    }

    fn submit(&mut self, id: &str, request: Request) {
        match self.gate.submit(self.now, request) {
            Ok(Submitted::Granted(tk) | Submitted::GrantedNoDeadline(tk)) => {
                self.map(id, tk);
                self.on_granted(id);
            }
            Ok(Submitted::Queued(tk)) => self.map(id, tk),
            Err(r) => {
                let status = match r {
                    Rejected::QueueFull { .. } => "queue-full",
                    Rejected::NoWait => "queue-timeout",
                    Rejected::Closed => "closed",
                    Rejected::WouldTimeOut { .. } => "would-time-out",
                };
                if self.retries.contains_key(id) {
                    // Pool refusals are not modelled in retry scenarios: report them as is.
                    panic!(
                        "{}: retry id {id} refused by the pool ({status})",
                        self.file
                    );
                }
                self.finish(id, status);
                if r == Rejected::NoWait {
                    self.out(id).waited_ms = Some(0.0);
                }
            }
        }
        self.drain();
    }

    fn on_granted(&mut self, id: &str) {
        let now = ms(self.now);
        if self.retries.contains_key(id) {
            self.out(id).attempts.push(now);
            self.settles.push_back(id.to_string());
            return;
        }
        let o = self.out(id);
        o.granted_at = Some(now);
        if o.status == "queued" {
            o.status = "granted".into();
        }
    }

    fn drain(&mut self) {
        loop {
            while let Some(ev) = self.gate.poll_event() {
                let Some(id) = self.tickets.get(&ev.ticket()).cloned() else {
                    continue;
                };
                let retry = self.retries.contains_key(&id);
                match ev {
                    Event::Granted(_) => self.on_granted(&id),
                    Event::QueueTimeout { waited, .. } => {
                        assert!(
                            !retry,
                            "{}: retry id {id} timed out in the queue",
                            self.file
                        );
                        self.unmap(&id);
                        self.finish(&id, "queue-timeout");
                        self.out(&id).waited_ms = Some(waited.as_micros() as f64 / 1000.0);
                    }
                    Event::OperationTimeout(_) => {
                        assert!(!retry, "{}: retry id {id} timed out", self.file);
                        if !self.out(&id).is_terminal() {
                            self.finish(&id, "operation-timeout");
                        }
                    }
                    Event::Closed(_) => {
                        self.unmap(&id);
                        self.finish(&id, "closed");
                    }
                }
            }
            let Some(id) = self.settles.pop_front() else {
                break;
            };
            self.settle_attempt(&id);
        }
    }

    /// A retry attempt ran: it fails with the next scripted error, or succeeds. The core
    /// decides what a failure leads to.
    fn settle_attempt(&mut self, id: &str) {
        let tk = self.id_ticket[id];
        let r = self.retries.get_mut(id).unwrap();
        let failure = r.failures.get(r.attempts).cloned();
        r.attempts += 1;
        let outcome = match &failure {
            None => poolgate_core::Outcome::Ok,
            Some((code, message)) => {
                poolgate_core::Outcome::Failed(classify([code.as_str()], [message.as_str()]))
            }
        };
        let released = self
            .gate
            .release_with(self.now, tk, outcome, 0.0)
            .expect("release attempt");
        match (released, failure) {
            (Released::Retrying { .. }, _) => {}
            (_, None) => {
                self.unmap(id);
                self.finish(id, "resolved");
            }
            (_, Some((code, _))) => {
                self.unmap(id);
                self.finish(id, "rejected");
                self.out(id).error = Some(code);
            }
        }
    }

    fn step(&mut self, i: usize, step: &Map<String, Value>) {
        let file = self.file.clone();
        let get = |k: &str| step.get(k);
        let id = || -> String {
            get("id")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{file}: step {i}: missing id"))
                .to_string()
        };
        let t = get("t")
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{file}: step {i}: missing t"));
        self.advance_to(at_ms(t));
        self.drain();
        let op = get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "advance" => {}
            "submit" => {
                let id = id();
                assert!(
                    !self.outcomes.contains_key(&id),
                    "{file}: duplicate id {id}"
                );
                self.outcomes.insert(
                    id.clone(),
                    Outcome {
                        status: "queued".into(),
                        ..Outcome::default()
                    },
                );
                if get("aborted").and_then(Value::as_bool) == Some(true) {
                    // The driver rejects an already-aborted signal before asking the gate.
                    self.finish(&id, "aborted");
                    return;
                }
                let operation_timeout = match opt_millis(get("timeoutMs"), "timeoutMs") {
                    None => OperationTimeout::PoolDefault,
                    Some(x) if x == f64::INFINITY => OperationTimeout::Never,
                    Some(x) => OperationTimeout::After(poolgate_core::Duration::from_millis_f64(x)),
                };
                self.submit(
                    &id,
                    Request {
                        operation_timeout,
                        ..Request::default()
                    },
                );
            }
            "settle" => {
                let id = id();
                let ok = match get("result").and_then(Value::as_str) {
                    Some("ok") => true,
                    Some("err") => false,
                    other => panic!("{file}: step {i}: result must be ok or err, got {other:?}"),
                };
                // An error's code and message, when given, are classified like the driver does.
                let class = get("error").map_or(poolgate_core::ErrorClass::Permanent, |e| {
                    classify(
                        [e["code"].as_str().unwrap_or("")],
                        [e["message"].as_str().unwrap_or("")],
                    )
                });
                let outcome = if ok {
                    poolgate_core::Outcome::Ok
                } else {
                    poolgate_core::Outcome::Failed(class)
                };
                let tk = *self
                    .id_ticket
                    .get(&id)
                    .unwrap_or_else(|| panic!("{file}: step {i}: {id} holds no slot"));
                self.gate
                    .release_with(self.now, tk, outcome, 0.0)
                    .unwrap_or_else(|e| panic!("{file}: step {i}: release {id}: {e}"));
                self.unmap(&id);
                if self.out(&id).status == "granted" {
                    self.finish(&id, if ok { "resolved" } else { "rejected" });
                }
                self.drain();
            }
            "abort" => {
                let id = id();
                if !self.out(&id).is_terminal() {
                    let tk = self.id_ticket[&id];
                    let c = self.gate.cancel(self.now, tk).expect("cancel");
                    if c == Cancelled::Removed {
                        self.unmap(&id);
                    }
                    self.finish(&id, "aborted");
                    self.drain();
                }
            }
            "resize" => {
                let n = get("maxConnections")
                    .and_then(Value::as_f64)
                    .expect("maxConnections");
                self.gate.set_max_connections(self.now, n).expect("resize");
                self.drain();
            }
            "close" => {
                self.gate.close(self.now);
                self.drain();
            }
            "retry" => {
                let id = id();
                assert!(
                    !self.outcomes.contains_key(&id),
                    "{file}: duplicate id {id}"
                );
                let failures = get("failures")
                    .and_then(Value::as_array)
                    .expect("failures")
                    .iter()
                    .map(|f| {
                        (
                            f["code"].as_str().expect("failure code").to_string(),
                            f["message"].as_str().expect("failure message").to_string(),
                        )
                    })
                    .collect();
                let policy = RetryPolicy::from_raw(&RawRetryPolicy {
                    max_retries: get("maxRetries").and_then(Value::as_f64),
                    delay_ms: get("delayMs").and_then(Value::as_f64),
                    deadline_ms: get("deadlineMs").and_then(Value::as_f64),
                    login_lockout_ms: get("loginLockoutMs").and_then(Value::as_f64),
                    ..RawRetryPolicy::default()
                })
                .expect("retry policy");
                let policy = self
                    .gate
                    .register_retry_policy(policy)
                    .expect("register policy");
                self.retries.insert(
                    id.clone(),
                    Retry {
                        failures,
                        attempts: 0,
                    },
                );
                self.outcomes.insert(
                    id.clone(),
                    Outcome {
                        status: "pending".into(),
                        ..Outcome::default()
                    },
                );
                self.submit(
                    &id,
                    Request {
                        retry: Some(policy),
                        idempotent: get("idempotent").and_then(Value::as_bool).unwrap_or(false),
                        ..Request::default()
                    },
                );
            }
            "expect" => self.expect(i, step),
            other => panic!("{file}: step {i}: unknown op {other:?}"),
        }
        // A deadline at this very instant (a zero back-off) fires now, as the JS timer would.
        self.advance_to(self.now);
        self.check(i);
    }

    fn expect(&mut self, i: usize, step: &Map<String, Value>) {
        let file = &self.file;
        let t = &step["t"];
        if let Some(outcomes) = step.get("outcomes").and_then(Value::as_object) {
            for (id, want) in outcomes {
                let got = self
                    .outcomes
                    .get(id)
                    .unwrap_or_else(|| panic!("{file}: step {i}: unknown id {id}"));
                let is_retry = self.retries.contains_key(id);
                for (key, want) in want.as_object().expect("outcome object") {
                    assert!(
                        OUTCOME_KEYS.contains(&key.as_str()),
                        "{file}: step {i}: unknown outcome key {key}"
                    );
                    let got = got.field(key, is_retry);
                    assert!(
                        same(&got, want),
                        "{file}: step {i} (t={t}): {id}.{key} is {got}, expected {want}\n{got_all:?}",
                        got_all = self.outcomes[id]
                    );
                }
            }
        }
        if let Some(want) = step.get("stats").and_then(Value::as_object) {
            let s = self.gate.stats();
            let m = self.gate.metrics();
            for (key, want) in want {
                let got = match key.as_str() {
                    "active" => s.active_connections,
                    "queued" => s.queued_connections,
                    "available" => s.available_connections,
                    "zombies" => m.zombies,
                    "maxConnections" => s.max_connections,
                    "effectiveLimit" => m.effective_limit,
                    other => panic!("{file}: step {i}: unknown stat {other}"),
                };
                assert!(
                    same(&Value::from(got), want),
                    "{file}: step {i} (t={t}): stats.{key} is {got}, expected {want}"
                );
            }
        }
    }
}

/// JSON equality with numbers compared as f64 (1 == 1.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// `tests/spec`, or `POOLGATE_SPEC_DIR` when set (to try a scenario before adding it).
fn spec_dir() -> PathBuf {
    match std::env::var_os("POOLGATE_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/spec"),
    }
}

fn run_file(path: &Path) {
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).expect("read scenario");
    let spec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let pool = spec["pool"].as_object().expect("pool object");
    let mut runner = Runner::new(file.clone(), pool);
    for (i, step) in spec["steps"].as_array().expect("steps").iter().enumerate() {
        runner.step(i, step.as_object().expect("step object"));
    }
}

#[test]
fn every_spec_scenario_holds_for_the_core() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(spec_dir())
        .expect("tests/spec")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the scenario files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    // Each scenario's panic is collected and reported below, not printed as it happens.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for f in &files {
        let r = std::panic::catch_unwind(|| run_file(f));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(msg);
        }
    }
    std::panic::set_hook(hook);
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{} scenarios passed", files.len());
}
