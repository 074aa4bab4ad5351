//! `scripts/plan`: the planner from the command line. Arguments are the page's parameters,
//! as `key=value` or `--key value` (`--samples-file PATH` reads measured service times, one
//! number of milliseconds per line or a JSON array); `--json` prints the page's JSON.

use poolgate_sim::{plan, Plan, PRESETS};
use std::process::ExitCode;

const USAGE: &str =
    "usage: scripts/plan [key=value | --key value]... [--samples-file PATH] [--json] [--query]

Simulates the traffic through poolgate's core in virtual time, without and with the gate.
Keys (the planner page's URL parameters): preset, seed, ops, arrival (burst|steady|bursts|trace),
rate, burst, every, trace, service (fixed|lognormal|samples), service_ms, p50, p99, samples,
instances, limit, reserved, other, max (or auto), pool, pool_timeout, queue_timeout, max_queue,
retries, retry_delay, connect, reject, idle, patience. Times in milliseconds; inf = no limit.

  --json        the report as JSON (what the page draws)
  --query       print the plan's full query string (a shareable link's parameters) and exit";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plan: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_samples(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--samples-file {path}: {e}"))?;
    let values: Vec<&str> = text
        .split(|c: char| c == ',' || c == '\n' || c == '[' || c == ']' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if values.is_empty() {
        return Err(format!("--samples-file {path}: no numbers in it"));
    }
    Ok(values.join(","))
}

fn run() -> Result<(), String> {
    let mut pairs = Vec::new();
    let (mut json, mut query_only) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}\n\npresets:");
                for (name, about) in PRESETS {
                    println!("  {name:<16} {about}");
                }
                return Ok(());
            }
            "--json" => json = true,
            "--query" => query_only = true,
            "--samples-file" => {
                let path = args.next().ok_or("--samples-file needs a path")?;
                pairs.push(format!("samples={}", read_samples(&path)?));
            }
            _ => {
                let body = a.strip_prefix("--").unwrap_or(&a);
                if let Some((k, v)) = body.split_once('=') {
                    pairs.push(format!("{k}={v}"));
                } else if a.starts_with("--") {
                    let v = args.next().ok_or(format!("--{body} needs a value"))?;
                    pairs.push(format!("{body}={v}"));
                } else {
                    return Err(format!("{a}: write key=value (try --help)"));
                }
            }
        }
    }
    let p = Plan::from_query(&pairs.join("&"))?;
    if query_only {
        println!("{}", p.to_query());
        return Ok(());
    }
    let report = plan(&p, false)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
