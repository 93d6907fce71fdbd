//! A property over real HTTP: whatever several tenants do at once, in any
//! interleaving, no response ever carries another tenant's data.
//!
//! Each generated case runs one random script per tenant, all tenants
//! concurrently against one server. Scripts place, change and read their
//! own orders, try other tenants' (and unknown) order ids, and read their
//! listings, audit log and figures. Then every response body a tenant got is
//! searched for other tenants' tenant ids and order ids, and each tenant's
//! read models are checked to hold exactly its own orders.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::json;
use support::{eventually, Reply, TenantClient, TestServer};
use uuid::Uuid;

const TENANTS: usize = 4;

/// Which order a step aims at.
#[derive(Clone, Debug)]
enum Target {
    /// One of the tenant's own orders (by index, wrapping), if it has any.
    Own(usize),
    /// One of another tenant's orders, if that tenant has any yet.
    Foreign { tenant: usize, index: usize },
    /// An id nobody has.
    Missing,
}

#[derive(Clone, Debug)]
enum Step {
    Create { cents: u32 },
    AddItem { target: Target, quantity: u32 },
    Ship { target: Target },
    Get { target: Target },
    List { limit: usize },
    Audit { limit: usize },
    Stats,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => any::<usize>().prop_map(Target::Own),
        2 => (0..TENANTS, any::<usize>()).prop_map(|(tenant, index)| Target::Foreign { tenant, index }),
        1 => Just(Target::Missing),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u32..100_000).prop_map(|cents| Step::Create { cents }),
        2 => (target(), 1u32..5).prop_map(|(target, quantity)| Step::AddItem { target, quantity }),
        1 => target().prop_map(|target| Step::Ship { target }),
        2 => target().prop_map(|target| Step::Get { target }),
        1 => (1usize..6).prop_map(|limit| Step::List { limit }),
        1 => (1usize..6).prop_map(|limit| Step::Audit { limit }),
        1 => Just(Step::Stats),
    ]
}

fn scripts() -> impl Strategy<Value = Vec<Vec<Step>>> {
    proptest::collection::vec(proptest::collection::vec(step(), 1..12), TENANTS)
}

/// The order ids each tenant has placed so far, shared by the scripts.
type Placed = Arc<Mutex<BTreeMap<usize, Vec<Uuid>>>>;

/// What one tenant's script saw.
struct Seen {
    bodies: Vec<String>,
}

async fn run_script(
    me: usize,
    client: TenantClient,
    steps: Vec<Step>,
    placed: Placed,
) -> Result<Seen, String> {
    let mut seen = Seen { bodies: Vec::new() };
    let pick = |target: &Target| -> (Uuid, bool) {
        let placed = placed.lock().unwrap();
        match target {
            Target::Own(index) => match placed.get(&me).filter(|ids| !ids.is_empty()) {
                Some(ids) => (ids[index % ids.len()], true),
                None => (Uuid::new_v4(), false),
            },
            Target::Foreign { tenant, index } => {
                let other = if *tenant == me {
                    (me + 1) % TENANTS
                } else {
                    *tenant
                };
                match placed.get(&other).filter(|ids| !ids.is_empty()) {
                    Some(ids) => (ids[index % ids.len()], false),
                    None => (Uuid::new_v4(), false),
                }
            }
            Target::Missing => (Uuid::new_v4(), false),
        }
    };
    let expect_own_or_hidden = |reply: &Reply, own: bool, ok: &[StatusCode]| -> Result<(), String> {
        let allowed = if own {
            ok.contains(&reply.status)
        } else {
            reply.status == StatusCode::NOT_FOUND
        };
        if !allowed {
            return Err(format!("own={own}: unexpected {}: {}", reply.status, reply.text));
        }
        if !own && reply.text != r#"{"error":"order not found"}"# {
            return Err(format!("a hidden order answered differently: {}", reply.text));
        }
        Ok(())
    };

    for step in steps {
        let reply = match &step {
            Step::Create { cents } => {
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                let reply = client
                    .post(
                        "/orders",
                        json!({"customer_id": Uuid::new_v4(), "total_amount": amount}),
                    )
                    .await;
                if reply.status != StatusCode::CREATED {
                    return Err(format!("create failed: {} {}", reply.status, reply.text));
                }
                let id: Uuid = reply.json()["order_id"].as_str().unwrap().parse().unwrap();
                placed.lock().unwrap().entry(me).or_default().push(id);
                reply
            }
            Step::AddItem { target, quantity } => {
                let (id, own) = pick(target);
                let item = json!({"sku": "SKU", "name": "Thing", "quantity": quantity, "unit_price": "1.10"});
                let reply = client.post(&format!("/orders/{id}/items"), item).await;
                // 409 once the order has shipped.
                expect_own_or_hidden(&reply, own, &[StatusCode::OK, StatusCode::CONFLICT])?;
                reply
            }
            Step::Ship { target } => {
                let (id, own) = pick(target);
                let reply = client
                    .post(&format!("/orders/{id}/ship"), json!({"tracking_number": "TRACK"}))
                    .await;
                expect_own_or_hidden(&reply, own, &[StatusCode::OK, StatusCode::CONFLICT])?;
                reply
            }
            Step::Get { target } => {
                let (id, own) = pick(target);
                let reply = client.get(&format!("/orders/{id}")).await;
                expect_own_or_hidden(&reply, own, &[StatusCode::OK])?;
                reply
            }
            Step::List { limit } => client.get(&format!("/orders?limit={limit}")).await,
            Step::Audit { limit } => client.get(&format!("/audit?limit={limit}")).await,
            Step::Stats => client.get("/stats").await,
        };
        if !reply.status.is_success() && !matches!(reply.status, StatusCode::NOT_FOUND | StatusCode::CONFLICT)
        {
            return Err(format!("{step:?} answered {}: {}", reply.status, reply.text));
        }
        seen.bodies.push(reply.text);
    }
    Ok(seen)
}

async fn run_case(server: &TestServer, scripts: Vec<Vec<Step>>) -> Result<(), String> {
    let clients: Vec<TenantClient> = (0..TENANTS).map(|_| server.new_tenant()).collect();
    let placed: Placed = Arc::default();

    let runs = scripts.into_iter().enumerate().map(|(me, steps)| {
        let (client, placed) = (clients[me].clone(), Arc::clone(&placed));
        tokio::spawn(run_script(me, client, steps, placed))
    });
    let mut seen = Vec::new();
    for run in futures::future::join_all(runs).await {
        seen.push(run.map_err(|panic| panic.to_string())??);
    }

    let placed = placed.lock().unwrap().clone();
    for (me, tenant_seen) in seen.iter().enumerate() {
        let foreign_ids: Vec<String> = (0..TENANTS)
            .filter(|other| *other != me)
            .flat_map(|other| {
                let tenant = clients[other].tenant.to_string();
                let orders = placed.get(&other).cloned().unwrap_or_default();
                std::iter::once(tenant).chain(orders.into_iter().map(|id| id.to_string()))
            })
            .collect();
        for body in &tenant_seen.bodies {
            if let Some(leaked) = foreign_ids.iter().find(|id| body.contains(id.as_str())) {
                return Err(format!(
                    "tenant {me} was shown {leaked} of another tenant: {body}"
                ));
            }
        }
    }

    // Once the read models have caught up, each tenant lists exactly its
    // own orders and counts exactly them.
    for (me, client) in clients.iter().enumerate() {
        let own: BTreeSet<Uuid> = placed.get(&me).cloned().unwrap_or_default().into_iter().collect();
        let listed = eventually("the listing to catch up", || async {
            let listed: BTreeSet<Uuid> = client.listed_order_ids(100).await.into_iter().collect();
            (listed.len() >= own.len()).then_some(listed)
        })
        .await;
        if listed != own {
            return Err(format!("tenant {me} lists {listed:?}, placed {own:?}"));
        }
        let count = eventually("the figures to catch up", || async {
            let stats = client.get("/stats").await.json();
            let count = stats["order_count"].as_u64().unwrap();
            (count >= own.len() as u64).then_some(count)
        })
        .await;
        if count != own.len() as u64 {
            return Err(format!("tenant {me} counts {count} orders, placed {}", own.len()));
        }
    }
    Ok(())
}

#[test]
fn concurrent_tenants_never_see_each_others_data() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());

    let mut runner = TestRunner::new(Config {
        cases: 24,
        // Shrinking replays whole HTTP scenarios; a few rounds find a small one.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&scripts(), |scripts| {
        runtime
            .block_on(run_case(&server, scripts))
            .map_err(TestCaseError::fail)
    });
    runtime.block_on(server.stop());
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
