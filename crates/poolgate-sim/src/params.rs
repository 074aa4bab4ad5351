//! A plan's parameters, read from one `key=value&key=value` string: the page's URL query, the
//! command line's arguments and the wasm export all go through [`Plan::from_query`], so a plan
//! shared as a link gives the same figures everywhere. Bad input is refused with a message that
//! names the key and says what to write instead.

use crate::presets::preset;

/// How operations arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrival {
    /// All `ops` at time 0 (what the load tool does).
    Burst,
    /// A Poisson stream at `rate` per second.
    Steady,
    /// A Poisson stream at `rate`, plus `burst` operations at once every `every_ms`.
    Bursts,
    /// Arrival times in milliseconds, as given (sorted; `ops` is their count).
    Trace(Vec<f64>),
}

/// How long one operation holds its connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Service {
    /// Always `ms`.
    Fixed(f64),
    /// Log-normal with the given median and 99th percentile, in milliseconds.
    LogNormal {
        /// Median.
        p50: f64,
        /// 99th percentile (at least the median).
        p99: f64,
    },
    /// Drawn with replacement from measured samples, in milliseconds.
    Samples(Vec<f64>),
}

/// Every input of a simulation. Times are in milliseconds; `None` means no limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The preset the plan started from, if any (kept for the link and the report).
    pub preset: Option<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// Operations to simulate.
    pub ops: u64,
    /// Arrival pattern.
    pub arrival: Arrival,
    /// Operations per second for `steady` and `bursts`.
    pub rate: f64,
    /// Operations per burst for `bursts`.
    pub burst: u64,
    /// Milliseconds between bursts for `bursts`.
    pub every_ms: f64,
    /// Service time of one operation.
    pub service: Service,
    /// Application instances (processes), each with its own client pool and gate.
    pub instances: u32,
    /// The server's connection limit (PostgreSQL `max_connections`).
    pub limit: u32,
    /// Slots of `limit` the application cannot use (`superuser_reserved_connections`).
    pub reserved: u32,
    /// Slots taken by other clients (monitoring, migrations, a second app).
    pub other: u32,
    /// poolgate's `maxConnections` per instance; `None` uses the recommendation.
    pub max: Option<u32>,
    /// The client pool's size per instance (pg `max`, SQLAlchemy `pool_size + max_overflow`).
    pub pool: u32,
    /// The client pool's own wait limit (pg `connectionTimeoutMillis`, `pool_timeout`).
    pub pool_timeout_ms: Option<f64>,
    /// poolgate's `queueTimeoutMs`.
    pub queue_timeout_ms: Option<f64>,
    /// poolgate's `maxQueue`.
    pub max_queue: u32,
    /// poolgate's retries of "too many connections".
    pub retries: u32,
    /// poolgate's base back-off (the n-th retry waits n times it).
    pub retry_delay_ms: f64,
    /// Time to open a server connection.
    pub connect_ms: f64,
    /// Time for the server to refuse one ("too many clients already").
    pub reject_ms: f64,
    /// The client pool closes a connection idle this long (pg `idleTimeoutMillis`).
    pub idle_ms: Option<f64>,
    /// How long a user waits before the wait itself is a failure (sizes `queueTimeoutMs`).
    pub patience_ms: f64,
    /// Client-side CPU per operation and per refused connection, in milliseconds, run one at a
    /// time per instance (a Node.js event loop: the ORM's query building and result parsing).
    /// 0 leaves the client out of the model.
    pub cpu_ms: f64,
    /// Machines the instances run on (instance `i` on machine `i % hosts`), whose cores their
    /// client CPU shares; 0 gives every instance a machine of its own.
    pub hosts: u32,
    /// Cores of each machine for the client CPU (with `hosts`).
    pub cores: u32,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            preset: None,
            seed: 1,
            ops: 10_000,
            arrival: Arrival::Steady,
            rate: 200.0,
            burst: 500,
            every_ms: 5000.0,
            service: Service::LogNormal {
                p50: 20.0,
                p99: 200.0,
            },
            instances: 1,
            limit: 100,
            reserved: 3,
            other: 0,
            max: None,
            pool: 10,
            pool_timeout_ms: None,
            queue_timeout_ms: Some(10_000.0),
            max_queue: 10_000,
            retries: 3,
            retry_delay_ms: 1000.0,
            connect_ms: 5.0,
            reject_ms: 5.0,
            idle_ms: Some(10_000.0),
            patience_ms: 10_000.0,
            cpu_ms: 0.0,
            hosts: 0,
            cores: 1,
        }
    }
}

/// Largest accepted `ops` (the page's budget is 100,000 in under a second).
pub const MAX_OPS: u64 = 2_000_000;
/// Largest accepted `instances`.
pub const MAX_INSTANCES: u32 = 10_000;

fn num(key: &str, v: &str, min: f64, max: f64) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{key} must be a number from {min} to {max}, got {v:?}"
        )),
    }
}

fn int(key: &str, v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{key} must be a whole number from {min} to {max}, got {v:?}"
        )),
    }
}

fn millis_or_inf(key: &str, v: &str, min: f64) -> Result<Option<f64>, String> {
    if v == "inf" || v == "Infinity" {
        return Ok(None);
    }
    num(key, v, min, 2_147_483_647.0)
        .map(Some)
        .map_err(|e| format!("{e} (or inf for no limit)"))
}

fn list(key: &str, v: &str) -> Result<Vec<f64>, String> {
    let out: Result<Vec<f64>, String> = v
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| num(key, s, 0.0, 1e9))
        .collect();
    let out = out.map_err(|e| format!("{e}: write comma-separated milliseconds"))?;
    if out.is_empty() {
        return Err(format!("{key} needs at least one value in milliseconds"));
    }
    Ok(out)
}

/// Undoes URL percent-encoding (and `+` for a space) in one query component.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "inf".to_string(), |v| format!("{v}"))
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Plan {
    /// Reads a plan from `key=value` pairs separated by `&` (a URL query, with or without its
    /// `?`). A `preset=NAME` is applied first, whatever its position; the other keys override
    /// it. Unknown keys and bad values are refused.
    pub fn from_query(query: &str) -> Result<Plan, String> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        let mut plan = Plan::default();
        if let Some((_, name)) = pairs.iter().find(|(k, _)| k == "preset") {
            plan = preset(name)?;
        }
        let mut kind: Option<String> = None;
        let mut service_kind: Option<String> = None;
        let mut trace = None;
        let (mut fixed, mut p50, mut p99, mut samples) = (None, None, None, None);
        for (k, v) in &pairs {
            let v = v.as_str();
            match k.as_str() {
                "preset" => {}
                "seed" => plan.seed = int(k, v, 0, u64::MAX)?,
                "ops" => plan.ops = int(k, v, 1, MAX_OPS)?,
                "arrival" => kind = Some(v.to_string()),
                "rate" => plan.rate = num(k, v, 0.001, 1e7)?,
                "burst" => plan.burst = int(k, v, 1, MAX_OPS)?,
                "every" => plan.every_ms = num(k, v, 1.0, 1e9)?,
                "trace" => trace = Some(list(k, v)?),
                "service" => service_kind = Some(v.to_string()),
                "service_ms" => fixed = Some(num(k, v, 0.0, 1e7)?),
                "p50" => p50 = Some(num(k, v, 0.001, 1e7)?),
                "p99" => p99 = Some(num(k, v, 0.001, 1e7)?),
                "samples" => samples = Some(list(k, v)?),
                "instances" => plan.instances = int(k, v, 1, MAX_INSTANCES.into())? as u32,
                "limit" => plan.limit = int(k, v, 1, 1_000_000)? as u32,
                "reserved" => plan.reserved = int(k, v, 0, 1_000_000)? as u32,
                "other" => plan.other = int(k, v, 0, 1_000_000)? as u32,
                "max" => {
                    plan.max = if v == "auto" {
                        None
                    } else {
                        Some(
                            int(k, v, 1, 1_000_000)
                                .map_err(|e| format!("{e} (or auto for the recommendation)"))?
                                as u32,
                        )
                    }
                }
                "pool" => plan.pool = int(k, v, 1, 1_000_000)? as u32,
                "pool_timeout" => plan.pool_timeout_ms = millis_or_inf(k, v, 1.0)?,
                "queue_timeout" => plan.queue_timeout_ms = millis_or_inf(k, v, 0.0)?,
                "max_queue" => plan.max_queue = int(k, v, 0, 16_777_216)? as u32,
                "retries" => plan.retries = int(k, v, 0, 1000)? as u32,
                "retry_delay" => plan.retry_delay_ms = num(k, v, 0.0, 2_147_483_647.0)?,
                "connect" => plan.connect_ms = num(k, v, 0.0, 1e6)?,
                "reject" => plan.reject_ms = num(k, v, 0.0, 1e6)?,
                "idle" => plan.idle_ms = millis_or_inf(k, v, 1.0)?,
                "patience" => plan.patience_ms = num(k, v, 1.0, 1e9)?,
                "cpu" => plan.cpu_ms = num(k, v, 0.0, 1e6)?,
                "hosts" => plan.hosts = int(k, v, 0, MAX_INSTANCES.into())? as u32,
                "cores" => plan.cores = int(k, v, 1, 1024)? as u32,
                _ => {
                    return Err(format!(
                        "unknown parameter {k:?}: known ones are {}",
                        KEYS.join(", ")
                    ))
                }
            }
        }
        if let Some(kind) = kind {
            plan.arrival = match kind.as_str() {
                "burst" => Arrival::Burst,
                "steady" => Arrival::Steady,
                "bursts" => Arrival::Bursts,
                "trace" => Arrival::Trace(trace.clone().ok_or(
                    "arrival=trace needs trace=MS,MS,... (arrival times in milliseconds)",
                )?),
                other => {
                    return Err(format!(
                        "arrival must be burst, steady, bursts or trace, got {other:?}"
                    ))
                }
            };
        } else if let Some(t) = trace {
            plan.arrival = Arrival::Trace(t);
        }
        if let Arrival::Trace(t) = &mut plan.arrival {
            t.sort_by(f64::total_cmp);
            plan.ops = t.len() as u64;
        }
        let kind = service_kind.unwrap_or_else(|| {
            if samples.is_some() {
                "samples".into()
            } else if fixed.is_some() {
                "fixed".into()
            } else if p50.is_some() || p99.is_some() {
                "lognormal".into()
            } else {
                String::new()
            }
        });
        plan.service = match kind.as_str() {
            "" => plan.service,
            "fixed" => Service::Fixed(fixed.ok_or("service=fixed needs service_ms=MS")?),
            "lognormal" => {
                let (d50, d99) = match plan.service {
                    Service::LogNormal { p50, p99 } => (p50, p99),
                    _ => (20.0, 200.0),
                };
                let (p50, p99) = (p50.unwrap_or(d50), p99.unwrap_or(d99));
                if p99 < p50 {
                    return Err(format!(
                        "p99 must be at least p50 (the median), got p50={p50} p99={p99}"
                    ));
                }
                Service::LogNormal { p50, p99 }
            }
            "samples" => Service::Samples(
                samples
                    .ok_or("service=samples needs samples=MS,MS,... (measured service times)")?,
            ),
            other => {
                return Err(format!(
                    "service must be fixed, lognormal or samples, got {other:?}"
                ))
            }
        };
        if plan.reserved + plan.other >= plan.limit {
            return Err(format!(
                "reserved ({}) + other ({}) leave no connection of limit ({}) to the application",
                plan.reserved, plan.other, plan.limit
            ));
        }
        Ok(plan)
    }

    /// The server connections the application may open: `limit - reserved - other`.
    pub fn app_limit(&self) -> u32 {
        self.limit - self.reserved - self.other
    }

    /// The plan as a query string that [`Plan::from_query`] reads back to the same plan.
    pub fn to_query(&self) -> String {
        let mut q = Vec::new();
        if let Some(p) = &self.preset {
            q.push(format!("preset={p}"));
        }
        q.push(format!("seed={}", self.seed));
        match &self.arrival {
            Arrival::Burst => q.push("arrival=burst".into()),
            Arrival::Steady => q.push("arrival=steady".into()),
            Arrival::Bursts => q.push("arrival=bursts".into()),
            Arrival::Trace(t) => q.push(format!("arrival=trace&trace={}", join(t))),
        }
        if !matches!(self.arrival, Arrival::Trace(_)) {
            q.push(format!("ops={}", self.ops));
        }
        q.push(format!(
            "rate={}&burst={}&every={}",
            self.rate, self.burst, self.every_ms
        ));
        match &self.service {
            Service::Fixed(ms) => q.push(format!("service=fixed&service_ms={ms}")),
            Service::LogNormal { p50, p99 } => {
                q.push(format!("service=lognormal&p50={p50}&p99={p99}"))
            }
            Service::Samples(s) => q.push(format!("service=samples&samples={}", join(s))),
        }
        q.push(format!(
            "instances={}&limit={}&reserved={}&other={}",
            self.instances, self.limit, self.reserved, self.other
        ));
        q.push(format!(
            "max={}",
            self.max.map_or_else(|| "auto".into(), |m| m.to_string())
        ));
        q.push(format!(
            "pool={}&pool_timeout={}&queue_timeout={}&max_queue={}",
            self.pool,
            fmt_ms(self.pool_timeout_ms),
            fmt_ms(self.queue_timeout_ms),
            self.max_queue
        ));
        q.push(format!(
            "retries={}&retry_delay={}&connect={}&reject={}&idle={}&patience={}&cpu={}&hosts={}&cores={}",
            self.retries,
            self.retry_delay_ms,
            self.connect_ms,
            self.reject_ms,
            fmt_ms(self.idle_ms),
            self.patience_ms,
            self.cpu_ms,
            self.hosts,
            self.cores
        ));
        q.join("&")
    }
}

/// Every key [`Plan::from_query`] accepts.
pub const KEYS: &[&str] = &[
    "preset",
    "seed",
    "ops",
    "arrival",
    "rate",
    "burst",
    "every",
    "trace",
    "service",
    "service_ms",
    "p50",
    "p99",
    "samples",
    "instances",
    "limit",
    "reserved",
    "other",
    "max",
    "pool",
    "pool_timeout",
    "queue_timeout",
    "max_queue",
    "retries",
    "retry_delay",
    "connect",
    "reject",
    "idle",
    "patience",
    "cpu",
    "hosts",
    "cores",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let p = Plan::from_query(
            "?preset=mysql-151&ops=500&arrival=bursts&max=7&queue_timeout=inf&service=fixed&service_ms=3",
        )
        .unwrap();
        assert_eq!(p.ops, 500);
        assert_eq!(p.max, Some(7));
        assert_eq!(p.queue_timeout_ms, None);
        assert_eq!(p.service, Service::Fixed(3.0));
        assert_eq!(Plan::from_query(&p.to_query()).unwrap(), p);
        let t = Plan::from_query("trace=5,1,3&samples=1.5,2").unwrap();
        assert_eq!(t.arrival, Arrival::Trace(vec![1.0, 3.0, 5.0]));
        assert_eq!(t.ops, 3);
        assert_eq!(Plan::from_query(&t.to_query()).unwrap(), t);
    }

    #[test]
    fn bad_input_names_the_key() {
        let e = |q: &str| Plan::from_query(q).unwrap_err();
        assert!(
            e("ops=0").starts_with("ops must be a whole number"),
            "{}",
            e("ops=0")
        );
        assert!(e("rate=-1").starts_with("rate must be a number"));
        assert!(e("colour=red").starts_with("unknown parameter \"colour\""));
        assert!(e("arrival=sometimes").starts_with("arrival must be"));
        assert!(e("p50=10&p99=5").starts_with("p99 must be at least p50"));
        assert!(e("limit=3&reserved=3").contains("leave no connection"));
        assert!(e("preset=nope").contains("unknown preset"));
        assert!(e("queue_timeout=-5").contains("or inf"));
        assert_eq!(decode("a%2Cb+c"), "a,b c");
    }
}
