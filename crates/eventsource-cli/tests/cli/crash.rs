//! Exactly once across crashes: `projections run` is killed with SIGKILL at
//! random moments, while catching up and while following events imported
//! under it, and restarted each time. However often it dies, every order
//! ends up counted exactly once: each batch's documents and checkpoint
//! commit in one transaction, so a killed batch leaves no trace and is
//! done again by the next run.
//!
//! The moments come from a seeded generator; the seed is printed, and
//! `EVENTSOURCE_CRASH_SEED=N` replays a run.

use std::process::Child;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::orders::{as_lines, documents, expected_figures, order_created, standings, statistics, BUILTIN};
use crate::support::Workspace;

/// A small, good-enough generator (SplitMix64), so the test needs no
/// dependency and a seed means the same run everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

fn seed() -> u64 {
    match std::env::var("EVENTSOURCE_CRASH_SEED") {
        Ok(text) => text.parse().expect("EVENTSOURCE_CRASH_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is past 1970")
            .as_nanos() as u64,
    }
}

/// Three tenants, and orders without a tenant.
type Tenants = [Option<Uuid>; 4];

/// `count` orders spread over the tenants, with amounts in cents written
/// as strings or as numbers, as real logs do.
fn generated_orders(random: &mut SplitMix64, tenants: &Tenants, count: u64, first_second: u64) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let tenant = tenants[random.between(0, tenants.len() as u64) as usize];
            let cents = random.between(1, 10_000_000);
            let amount = Decimal::new(cents as i64, 2);
            let written = if i % 2 == 0 {
                json!(amount.to_string())
            } else {
                serde_json::from_str(&amount.to_string()).expect("an amount is a JSON number")
            };
            order_created(tenant, written, first_second + i)
        })
        .collect()
}

/// Where the projections stood after a kill.
struct Kill {
    after: Duration,
    head: u64,
    positions: Vec<Option<u64>>,
    /// Whether the runner had caught up and was following the feed when
    /// the orders it died on were imported.
    following: bool,
}

impl Kill {
    fn mid_catch_up(&self) -> bool {
        self.positions
            .iter()
            .any(|position| position.unwrap_or(0) < self.head)
    }
}

/// Kills the runner with SIGKILL and notes where the projections stood.
fn kill(workspace: &Workspace, mut runner: Child, after: Duration, head: u64, following: bool) -> Kill {
    runner.kill().expect("the runner can be killed");
    let output = runner.wait_with_output().expect("the runner ends");
    assert!(
        !output.status.success(),
        "the runner ended by itself before the kill: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let standings = standings(workspace);
    Kill {
        after,
        head,
        positions: BUILTIN
            .iter()
            .map(|name| standings[*name]["position"].as_u64())
            .collect(),
        following,
    }
}

/// Waits until every built-in projection stands at `head`.
fn wait_until_caught_up(workspace: &Workspace, head: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !standings(workspace)
        .values()
        .all(|standing| standing["position"] == head)
    {
        assert!(
            Instant::now() < deadline,
            "the runner did not catch up with {head}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn import(workspace: &Workspace, name: &str, events: &[Value]) {
    let file = workspace.file(name, &as_lines(events));
    workspace.ok(&["import", file.to_str().unwrap()]);
}

#[test]
fn orders_are_counted_exactly_once_however_often_the_runner_is_killed() {
    const FIRST: u64 = 3_000;
    const LIVE_CHUNKS: u64 = 4;
    const CHUNK: u64 = 250;
    const ROUNDS: usize = 10;

    let seed = seed();
    println!("crash test seed: {seed} (EVENTSOURCE_CRASH_SEED={seed} replays it)");
    let mut random = SplitMix64(seed);
    let workspace = Workspace::new();

    let tenants: Tenants = [
        Some(Uuid::new_v4()),
        Some(Uuid::new_v4()),
        Some(Uuid::new_v4()),
        None,
    ];
    let mut orders = generated_orders(&mut random, &tenants, FIRST, 0);
    import(&workspace, "orders.jsonl", &orders);

    let mut kills = Vec::new();
    let mut chunks_imported = 0;
    for round in 0..ROUNDS {
        let runner = workspace.spawn(&["projections", "run", "--batch-size", "25"]);
        // The first rounds die early, while catching up; later ones live
        // longer, while more orders are imported under the runner.
        let after = Duration::from_millis(random.between(30, if round < 4 { 400 } else { 1_500 }));
        if round >= ROUNDS - LIVE_CHUNKS as usize {
            std::thread::sleep(after / 2);
            let chunk = generated_orders(&mut random, &tenants, CHUNK, FIRST + chunks_imported * CHUNK);
            import(&workspace, &format!("live-{round}.jsonl"), &chunk);
            orders.extend(chunk);
            chunks_imported += 1;
            std::thread::sleep(after / 2);
        } else {
            std::thread::sleep(after);
        }
        kills.push(kill(&workspace, runner, after, orders.len() as u64, false));
    }

    // A last runner catches up, follows the feed, and dies while it
    // projects orders imported under it.
    let runner = workspace.spawn(&["projections", "run", "--batch-size", "25"]);
    wait_until_caught_up(&workspace, orders.len() as u64);
    let chunk = generated_orders(&mut random, &tenants, CHUNK, FIRST + chunks_imported * CHUNK);
    import(&workspace, "followed.jsonl", &chunk);
    orders.extend(chunk);
    // Past the first poll for new events (every 250 ms), so that it most
    // likely dies inside a batch of them.
    let after = Duration::from_millis(random.between(300, 700));
    std::thread::sleep(after);
    kills.push(kill(&workspace, runner, after, orders.len() as u64, true));

    let finish = workspace.ok(&["projections", "run", "--once"]);
    let total = orders.len() as u64;

    println!(
        "{} kills with SIGKILL; checkpoints right after each ({BUILTIN:?}):",
        kills.len()
    );
    for (round, kill) in kills.iter().enumerate() {
        println!(
            "  kill {:>2} after {:>4} ms: head {:>4}, checkpoints {:?}{}",
            round + 1,
            kill.after.as_millis(),
            kill.head,
            kill.positions,
            match (kill.following, kill.mid_catch_up()) {
                (true, true) => " (was following; died mid-way through orders imported under it)",
                (true, false) => " (was following; done with the orders imported under it)",
                (false, true) => " (mid catch-up)",
                (false, false) => "",
            }
        );
    }
    print!("final run:\n{finish}");
    assert!(
        kills
            .iter()
            .filter(|kill| !kill.following && kill.mid_catch_up())
            .count()
            >= 2,
        "at least two kills must land while catching up"
    );

    let expected = expected_figures(&orders);
    let counted = statistics(&workspace);
    for (tenant, figures) in &expected {
        println!(
            "  tenant {tenant}: {} orders, revenue {} (counted: {:?})",
            figures.orders,
            figures.revenue,
            counted.get(tenant)
        );
    }
    assert_eq!(counted, expected, "every order counted exactly once");

    for (name, standing) in standings(&workspace) {
        assert_eq!(standing["position"], total, "{name}");
        assert_eq!(standing["lag"], 0, "{name}");
        assert_eq!(standing["parked"], 0, "{name}");
        assert_eq!(
            standing["events_processed"], total,
            "{name}: each event processed once, in committed batches only"
        );
    }
    assert_eq!(documents(&workspace, "order_summaries").len() as u64, total);
}
