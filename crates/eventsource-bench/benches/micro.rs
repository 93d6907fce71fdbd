//! Micro benchmarks of the per-event hot paths: the flat JSON Lines form
//! (import and export), payload encoding and decoding, and a repository
//! save and load in memory.
//!
//! `cargo bench -p eventsource-bench --bench micro`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use eventsource::interchange::{from_flat_json, to_flat_json};
use eventsource::{AggregateRoot, Event, InMemoryEventStore, RawEvent, Repository, TenantId};
use eventsource_examples::guide::order::{Order, OrderEvent, OrderItemAdded};
use rust_decimal::Decimal;
use uuid::Uuid;

fn item_event() -> Event<OrderEvent> {
    Event::<OrderEvent>::new(
        Uuid::new_v4(),
        OrderItemAdded {
            sku: "SKU-00042".to_owned(),
            name: "Product 42 (line 3)".to_owned(),
            quantity: 3,
            unit_price: Decimal::new(1_999, 2),
        },
    )
    .with_tenant(TenantId::new_random())
    .with_actor("bench")
}

fn interchange(c: &mut Criterion) {
    let raw: RawEvent = item_event().to_raw().expect("serialises");
    let line = to_flat_json(&raw);
    c.bench_function("flat line: encode", |b| b.iter(|| to_flat_json(black_box(&raw))));
    c.bench_function("flat line: decode", |b| {
        b.iter(|| from_flat_json(black_box(&line)).expect("decodes"))
    });
}

fn payloads(c: &mut Criterion) {
    let event = item_event();
    let raw = event.to_raw().expect("serialises");
    c.bench_function("payload: typed to raw", |b| {
        b.iter(|| black_box(&event).to_raw().expect("serialises"))
    });
    c.bench_function("payload: raw to typed", |b| {
        b.iter(|| black_box(&raw).decode::<OrderEvent>().expect("decodes"))
    });
}

/// An order of ten items, recorded but not saved.
fn recorded_order(id: Uuid, tenant: Option<TenantId>) -> AggregateRoot<Order> {
    let mut order = AggregateRoot::<Order>::new(id, tenant);
    for n in 1..=10 {
        order.record(OrderItemAdded {
            sku: format!("SKU-{n:05}"),
            name: "Product".to_owned(),
            quantity: 1,
            unit_price: Decimal::new(999, 2),
        });
    }
    order
}

fn repository(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let tenant = Some(TenantId::new_random());

    // Each save goes into a store of its own (made outside the timing), so
    // the figure does not drift as one store grows by millions of events.
    c.bench_function("repository in memory: save an order of 10 events", |b| {
        b.iter_batched(
            || {
                let store = Arc::new(InMemoryEventStore::new());
                let orders = Repository::<Order, InMemoryEventStore>::new(store);
                let order = recorded_order(Uuid::new_v4(), tenant);
                (orders, order)
            },
            |(orders, mut order)| {
                runtime.block_on(orders.save(&mut order)).expect("saves");
                (orders, order)
            },
            BatchSize::SmallInput,
        )
    });

    let orders = Repository::<Order, InMemoryEventStore>::new(Arc::new(InMemoryEventStore::new()));
    let id = Uuid::new_v4();
    runtime
        .block_on(orders.save(&mut recorded_order(id, tenant)))
        .expect("saves");
    c.bench_function("repository in memory: load an order of 10 events", |b| {
        b.iter(|| runtime.block_on(orders.load(black_box(id))).expect("loads"))
    });
}

criterion_group!(benches, interchange, payloads, repository);
criterion_main!(benches);
