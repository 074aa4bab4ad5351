//! What a run reports: counts, percentiles, peaks, a time series in at most [`MAX_BUCKETS`]
//! buckets, and the plan-level report (both sides and the recommendation) as text or JSON.

use crate::params::Plan;

/// Most buckets a series keeps; past it, neighbours merge and the bucket width doubles.
pub const MAX_BUCKETS: usize = 200;

/// Failed operations by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// poolgate's queue was full.
    pub queue_full: u64,
    /// Waited in poolgate's queue past `queueTimeoutMs`.
    pub queue_timeout: u64,
    /// The server refused a connection ("too many connections"), retries exhausted.
    pub too_many_connections: u64,
    /// Waited in the client pool's own queue past its timeout.
    pub pool_timeout: u64,
}

impl ErrorCounts {
    /// Every failure.
    pub fn total(&self) -> u64 {
        self.queue_full + self.queue_timeout + self.too_many_connections + self.pool_timeout
    }
}

/// Levels over time (the maximum within each bucket) and settlements per bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Width of one bucket, in microseconds.
    pub bucket_us: u64,
    /// Connections in use (opening or running a query).
    pub active: Vec<u32>,
    /// Operations waiting (in poolgate's queue or the client pool's).
    pub queued: Vec<u32>,
    /// Connections the server holds for the application.
    pub server: Vec<u32>,
    /// Operations that completed in the bucket.
    pub completed: Vec<u32>,
    /// Operations that failed in the bucket.
    pub failed: Vec<u32>,
    last: (u32, u32, u32),
    /// When the last operation settled, in microseconds.
    pub last_settle: u64,
}

impl Default for Series {
    fn default() -> Series {
        Series::new()
    }
}

impl Series {
    /// An empty series with 1 ms buckets.
    pub fn new() -> Series {
        Series {
            bucket_us: 1000,
            active: Vec::new(),
            queued: Vec::new(),
            server: Vec::new(),
            completed: Vec::new(),
            failed: Vec::new(),
            last: (0, 0, 0),
            last_settle: 0,
        }
    }

    fn bucket(&mut self, t: u64) -> usize {
        while t / self.bucket_us >= MAX_BUCKETS as u64 {
            let merge_max = |v: &mut Vec<u32>| {
                *v = v
                    .chunks(2)
                    .map(|c| c.iter().copied().max().unwrap_or(0))
                    .collect()
            };
            let merge_sum = |v: &mut Vec<u32>| *v = v.chunks(2).map(|c| c.iter().sum()).collect();
            merge_max(&mut self.active);
            merge_max(&mut self.queued);
            merge_max(&mut self.server);
            merge_sum(&mut self.completed);
            merge_sum(&mut self.failed);
            self.bucket_us *= 2;
        }
        let i = (t / self.bucket_us) as usize;
        while self.active.len() <= i {
            self.active.push(self.last.0);
            self.queued.push(self.last.1);
            self.server.push(self.last.2);
            self.completed.push(0);
            self.failed.push(0);
        }
        i
    }

    /// Records the levels after a step at `t`.
    pub fn sample(&mut self, t: u64, active: u32, queued: u32, server: u32) {
        let i = self.bucket(t);
        self.active[i] = self.active[i].max(active);
        self.queued[i] = self.queued[i].max(queued);
        self.server[i] = self.server[i].max(server);
        self.last = (active, queued, server);
    }

    /// Counts an operation settled at `t`.
    pub fn settle(&mut self, t: u64, ok: bool) {
        let i = self.bucket(t);
        if ok {
            self.completed[i] += 1;
        } else {
            self.failed[i] += 1;
        }
        self.last_settle = self.last_settle.max(t);
    }
}

/// Percentiles in milliseconds (nearest rank, as the load tool computes them).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pcts {
    /// Values measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Pcts {
    /// Sorts `us` (microseconds) and reads its percentiles; all zero when empty.
    pub fn of(us: &mut [u64]) -> Pcts {
        if us.is_empty() {
            return Pcts::default();
        }
        us.sort_unstable();
        let n = us.len();
        let at = |p: f64| {
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            us[rank.clamp(1, n) - 1] as f64 / 1000.0
        };
        Pcts {
            count: n as u64,
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: us[n - 1] as f64 / 1000.0,
        }
    }
}

/// The result of one side of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Whether each instance had a gate.
    pub gated: bool,
    /// The gate's `maxConnections` per instance, when gated.
    pub gate_max: Option<u32>,
    /// Operations simulated.
    pub ops: u64,
    /// Operations that completed.
    pub completed: u64,
    /// Operations that failed, by kind.
    pub errors: ErrorCounts,
    /// Retries the gate scheduled.
    pub retries: u64,
    /// Time from arrival to the start of the query (completed operations).
    pub wait: Pcts,
    /// Time from arrival to the result (completed operations).
    pub latency: Pcts,
    /// Most connections in use at once.
    pub peak_active: u32,
    /// Most operations waiting at once.
    pub peak_queued: u32,
    /// Most server connections at once.
    pub peak_server: u32,
    /// When the last operation settled, in milliseconds (the load tool's wall time).
    pub wall_ms: f64,
    /// Levels over time.
    pub series: Series,
    /// Invariant checks made (0 unless the run was checked).
    pub checks: u64,
}

impl Outcome {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plan: &Plan,
        gated: bool,
        ops: u64,
        completed: u64,
        errors: ErrorCounts,
        retries: u64,
        waits: &mut [u64],
        latencies: &mut [u64],
        peaks: (u32, u32, u32),
        end_us: u64,
        series: Series,
        checks: u64,
    ) -> Outcome {
        let _ = plan;
        Outcome {
            gated,
            gate_max: None,
            ops,
            completed,
            errors,
            retries,
            wait: Pcts::of(waits),
            latency: Pcts::of(latencies),
            peak_active: peaks.0,
            peak_queued: peaks.1,
            peak_server: peaks.2,
            wall_ms: end_us as f64 / 1000.0,
            series,
            checks,
        }
    }

    /// Failed operations as a percentage of all.
    pub fn failed_pct(&self) -> f64 {
        100.0 * self.errors.total() as f64 / self.ops.max(1) as f64
    }
}

/// The settings the planner recommends.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    /// poolgate `maxConnections` per instance.
    pub max_connections: u32,
    /// The client pool's size (pg `max`) per instance: no larger than the gate lets through.
    pub pg_max: u32,
    /// poolgate `queueTimeoutMs`.
    pub queue_timeout_ms: f64,
    /// The p99 wait with that `maxConnections` and no queue timeout, in milliseconds.
    pub p99_wait_ms: f64,
    /// Server connections the application may use.
    pub budget: u32,
    /// Warnings, if the plan cannot fit.
    pub notes: Vec<String>,
}

/// A whole plan's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The plan, as a query string.
    pub query: String,
    /// Instances in the plan.
    pub instances: u32,
    /// Without poolgate.
    pub without: Outcome,
    /// With poolgate.
    pub with: Outcome,
    /// The recommended settings.
    pub recommend: Recommendation,
}

fn f(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Report {
    /// What a user sees at the p99 on one side, in one sentence.
    pub fn p99_sentence(o: &Outcome) -> String {
        let fail = o.failed_pct();
        if fail >= 1.0 {
            format!(
                "{}% of requests fail ({} queue full, {} queue timeout, {} too many connections, {} pool timeout); the p99 of the rest waits {} ms for a {} ms answer",
                f(fail),
                o.errors.queue_full,
                o.errors.queue_timeout,
                o.errors.too_many_connections,
                o.errors.pool_timeout,
                f(o.wait.p99),
                f(o.latency.p99)
            )
        } else {
            format!(
                "the p99 request waits {} ms and answers in {} ms ({} failed)",
                f(o.wait.p99),
                f(o.latency.p99),
                o.errors.total()
            )
        }
    }

    /// The report as an aligned text table (what `scripts/plan` prints).
    pub fn to_text(&self) -> String {
        let sides = [&self.without, &self.with];
        let label = |o: &Outcome| match o.gate_max {
            Some(m) => format!("with poolgate (max {m})"),
            None => "without poolgate".to_string(),
        };
        let row = |name: &str, g: &dyn Fn(&Outcome) -> String| {
            let mut r = vec![name.to_string()];
            r.extend(sides.iter().map(|o| g(o)));
            r
        };
        let trio = |p: &Pcts| format!("{} / {} / {}", f(p.p50), f(p.p95), f(p.p99));
        let rows = vec![
            row("", &|o| label(o)),
            row("operations", &|o| o.ops.to_string()),
            row("completed", &|o| o.completed.to_string()),
            row("failed", &|o| o.errors.total().to_string()),
            row("  queue full", &|o| o.errors.queue_full.to_string()),
            row("  queue timeout", &|o| o.errors.queue_timeout.to_string()),
            row("  too many connections", &|o| {
                o.errors.too_many_connections.to_string()
            }),
            row("  pool timeout", &|o| o.errors.pool_timeout.to_string()),
            row("retries", &|o| o.retries.to_string()),
            row("wait p50 / p95 / p99 (ms)", &|o| trio(&o.wait)),
            row("latency p50 / p95 / p99 (ms)", &|o| trio(&o.latency)),
            row("peak connections in use", &|o| o.peak_active.to_string()),
            row("peak waiting", &|o| o.peak_queued.to_string()),
            row("peak server connections", &|o| o.peak_server.to_string()),
            row("wall time (ms)", &|o| f(o.wall_ms)),
        ];
        let widths: Vec<usize> = (0..3)
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            let line = format!(
                "{:<w0$}   {:>w1$}   {:>w2$}",
                r[0],
                r[1],
                r[2],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
            if i == 0 {
                out.push_str(&format!(
                    "{}   {}   {}\n",
                    "-".repeat(widths[0]),
                    "-".repeat(widths[1]),
                    "-".repeat(widths[2])
                ));
            }
        }
        let r = &self.recommend;
        out.push_str(&format!(
            "\nrecommended: maxConnections {} per instance (x{} = {} of {} server connections), pg max {}, queueTimeoutMs {}\n",
            r.max_connections,
            self.instances,
            r.max_connections * self.instances,
            r.budget,
            r.pg_max,
            f(r.queue_timeout_ms)
        ));
        for n in &r.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&format!(
            "p99 without poolgate: {}\np99 with poolgate:    {}\n",
            Report::p99_sentence(&self.without),
            Report::p99_sentence(&self.with)
        ));
        out
    }

    /// The report as JSON (what the page reads).
    pub fn to_json(&self) -> String {
        let mut j = String::with_capacity(16 * 1024);
        j.push_str(&format!("{{\"query\":{},", jstr(&self.query)));
        j.push_str(&format!("\"instances\":{},", self.instances));
        j.push_str(&format!("\"without\":{},", outcome_json(&self.without)));
        j.push_str(&format!("\"with\":{},", outcome_json(&self.with)));
        let r = &self.recommend;
        j.push_str(&format!(
            "\"recommend\":{{\"maxConnections\":{},\"pgMax\":{},\"queueTimeoutMs\":{},\"p99WaitMs\":{},\"budget\":{},\"notes\":[{}]}},",
            r.max_connections,
            r.pg_max,
            num(r.queue_timeout_ms),
            num(r.p99_wait_ms),
            r.budget,
            r.notes.iter().map(|n| jstr(n)).collect::<Vec<_>>().join(",")
        ));
        j.push_str(&format!(
            "\"p99\":{{\"without\":{},\"with\":{}}}}}",
            jstr(&Report::p99_sentence(&self.without)),
            jstr(&Report::p99_sentence(&self.with))
        ));
        j
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn jstr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn arr(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(","))
}

fn pcts_json(p: &Pcts) -> String {
    format!(
        "{{\"count\":{},\"p50\":{},\"p95\":{},\"p99\":{},\"max\":{}}}",
        p.count,
        num(p.p50),
        num(p.p95),
        num(p.p99),
        num(p.max)
    )
}

fn outcome_json(o: &Outcome) -> String {
    let s = &o.series;
    format!(
        "{{\"gated\":{},\"gateMax\":{},\"ops\":{},\"completed\":{},\"failed\":{},\"errors\":{{\"queueFull\":{},\"queueTimeout\":{},\"tooManyConnections\":{},\"poolTimeout\":{}}},\"retries\":{},\"wait\":{},\"latency\":{},\"peakActive\":{},\"peakQueued\":{},\"peakServer\":{},\"wallMs\":{},\"series\":{{\"bucketMs\":{},\"active\":{},\"queued\":{},\"server\":{},\"completed\":{},\"failed\":{}}}}}",
        o.gated,
        o.gate_max.map_or_else(|| "null".into(), |m| m.to_string()),
        o.ops,
        o.completed,
        o.errors.total(),
        o.errors.queue_full,
        o.errors.queue_timeout,
        o.errors.too_many_connections,
        o.errors.pool_timeout,
        o.retries,
        pcts_json(&o.wait),
        pcts_json(&o.latency),
        o.peak_active,
        o.peak_queued,
        o.peak_server,
        num(o.wall_ms),
        num(s.bucket_us as f64 / 1000.0),
        arr(&s.active),
        arr(&s.queued),
        arr(&s.server),
        arr(&s.completed),
        arr(&s.failed)
    )
}
