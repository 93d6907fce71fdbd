//! An Order aggregate behind the tenant-aware repository.
//!
//! Money is a `rust_decimal::Decimal`, stored as a string so no amount is
//! ever rounded through a float. The example creates an order, adds items,
//! shows that another tenant cannot see it, shows that a stale copy cannot
//! overwrite newer changes (the concurrency error names the expected and
//! the actual version), and ships the order.
//!
//! Run it with `cargo run -p eventsource-examples --example order_tenant_repository`.

use std::error::Error;
use std::sync::Arc;

use eventsource::interchange::to_flat_json;
use eventsource::{
    event_set, tenant_scope, Aggregate, AggregateRoot, DomainEvent, EventStore, InMemoryEventStore,
    RepositoryError, StreamId, TenantAwareRepository, TenantId,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// --- Events ---

/// An order was opened for a customer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderCreated {
    pub customer_id: Uuid,
    /// The amount the order opens with (a handling fee, say); items add to
    /// it.
    #[serde(with = "rust_decimal::serde::str")]
    pub total_amount: Decimal,
}

impl DomainEvent for OrderCreated {
    const EVENT_TYPE: &'static str = "OrderCreated";
    const AGGREGATE_TYPE: &'static str = "Order";
}

/// An item was added to an order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderItemAdded {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price: Decimal,
}

impl DomainEvent for OrderItemAdded {
    const EVENT_TYPE: &'static str = "OrderItemAdded";
    const AGGREGATE_TYPE: &'static str = "Order";
}

/// An order left the warehouse.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderShipped {
    pub tracking_number: String,
}

impl DomainEvent for OrderShipped {
    const EVENT_TYPE: &'static str = "OrderShipped";
    const AGGREGATE_TYPE: &'static str = "Order";
}

event_set! {
    /// Everything that can happen to an order.
    pub enum OrderEvent: "Order" {
        Created(OrderCreated),
        ItemAdded(OrderItemAdded),
        Shipped(OrderShipped),
    }
}

// --- State ---

/// An order's state, rebuilt from its events.
#[derive(Debug, Default)]
pub struct Order {
    pub customer_id: Option<Uuid>,
    pub items: Vec<OrderItemAdded>,
    pub total: Decimal,
    pub tracking_number: Option<String>,
}

impl Aggregate for Order {
    type Event = OrderEvent;

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Created(created) => {
                self.customer_id = Some(created.customer_id);
                self.total = created.total_amount;
            }
            OrderEvent::ItemAdded(item) => {
                self.total += Decimal::from(item.quantity) * item.unit_price;
                self.items.push(item.clone());
            }
            OrderEvent::Shipped(shipped) => self.tracking_number = Some(shipped.tracking_number.clone()),
        }
    }
}

// --- Commands: they check the rules, then record an event. ---

fn add_item(
    order: &mut AggregateRoot<Order>,
    sku: &str,
    name: &str,
    quantity: u32,
    unit_price: Decimal,
) -> Result<(), String> {
    if order.state().tracking_number.is_some() {
        return Err(format!("order {} has shipped; no more items", order.id()));
    }
    if quantity == 0 {
        return Err("an item needs a quantity of at least 1".into());
    }
    order.record(OrderItemAdded {
        sku: sku.into(),
        name: name.into(),
        quantity,
        unit_price,
    });
    Ok(())
}

fn ship(order: &mut AggregateRoot<Order>, tracking_number: &str) -> Result<(), String> {
    if order.state().items.is_empty() {
        return Err(format!("order {} has no items to ship", order.id()));
    }
    if order.state().tracking_number.is_some() {
        return Err(format!("order {} has already shipped", order.id()));
    }
    order.record(OrderShipped {
        tracking_number: tracking_number.into(),
    });
    Ok(())
}

type Orders = TenantAwareRepository<Order>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = Arc::new(InMemoryEventStore::new());
    let orders = Orders::new(store.clone());
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let order_id = Uuid::new_v4();

    // Create an order with two items, saved in one atomic append.
    tenant_scope(acme, async {
        let mut order = orders.create_new(order_id)?;
        order.record(OrderCreated {
            customer_id: Uuid::new_v4(),
            total_amount: Decimal::new(500, 2),
        });
        add_item(&mut order, "SKU-1001", "Widget", 2, Decimal::new(1999, 2))?;
        add_item(&mut order, "SKU-2002", "Gadget", 1, Decimal::new(14950, 2))?;
        orders.save(&mut order).await?;
        Ok::<_, Box<dyn Error>>(())
    })
    .await?;
    println!("Acme created order {order_id}");

    // Load it back: the state is rebuilt from the three events.
    let order = tenant_scope(acme, orders.load(order_id)).await?;
    println!(
        "Loaded: {} items, total {}, version {}",
        order.state().items.len(),
        order.state().total,
        order.version()
    );
    let history = store.read_stream(&StreamId::new(order_id, "Order"), 0).await?;
    println!(
        "Stored OrderCreated (amounts are strings): {}",
        to_flat_json(&history[0].event)
    );

    // Another tenant gets exactly what it would get for a missing order.
    match tenant_scope(globex, orders.load(order_id)).await {
        Err(RepositoryError::NotFound { .. }) => println!("Globex loading Acme's order: not found"),
        Ok(_) => return Err("tenant isolation violated: Globex loaded Acme's order".into()),
        Err(other) => return Err(other.into()),
    }

    // Two copies loaded at the same version: the first save wins, the stale
    // copy is refused with the version it expected and the one it found.
    tenant_scope(acme, async {
        let mut fresh = orders.load(order_id).await?;
        let mut stale = orders.load(order_id).await?;
        add_item(&mut fresh, "SKU-3003", "Gizmo", 3, Decimal::new(250, 2))?;
        orders.save(&mut fresh).await?;
        println!("Saved a third item: version {}", fresh.version());

        ship(&mut stale, "TRK-STALE")?;
        match orders.save(&mut stale).await {
            Err(RepositoryError::Concurrency { expected, actual, .. }) => {
                println!("Stale copy refused: expected {expected}, actual version {actual}");
            }
            Ok(()) => return Err("a stale copy overwrote newer changes".into()),
            Err(other) => return Err(other.into()),
        }

        // Reload and ship from the current state.
        let mut current = orders.load(order_id).await?;
        ship(&mut current, "TRK-100497933")?;
        orders.save(&mut current).await?;
        println!(
            "Shipped with {} items, total {}, tracking {}: version {}",
            current.state().items.len(),
            current.state().total,
            current.state().tracking_number.as_deref().unwrap_or_default(),
            current.version()
        );
        Ok::<_, Box<dyn Error>>(())
    })
    .await?;
    Ok(())
}
