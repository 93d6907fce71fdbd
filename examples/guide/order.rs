//! The Order aggregate of the guide.

use eventsource::{event_set, Aggregate, DomainEvent, SnapshotState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An order was placed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// Who ordered.
    pub customer_id: Uuid,
    /// The order's total.
    #[serde(with = "crate::guide::money")]
    pub total_amount: Decimal,
}

impl DomainEvent for OrderCreated {
    const EVENT_TYPE: &'static str = "OrderCreated";
    const AGGREGATE_TYPE: &'static str = "Order";
}

/// An item was added to an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderItemAdded {
    /// The product's stock-keeping unit.
    pub sku: String,
    /// The product's name.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// The price of one.
    #[serde(with = "crate::guide::money")]
    pub unit_price: Decimal,
}

impl DomainEvent for OrderItemAdded {
    const EVENT_TYPE: &'static str = "OrderItemAdded";
    const AGGREGATE_TYPE: &'static str = "Order";
}

/// An order left the warehouse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderShipped {
    /// The carrier's tracking number.
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

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Not created yet.
    #[default]
    New,
    /// Placed, not shipped.
    Created,
    /// On its way.
    Shipped,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product's stock-keeping unit.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// The price of one.
    #[serde(with = "crate::guide::money")]
    pub unit_price: Decimal,
}

/// An order's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Who ordered.
    pub customer_id: Option<Uuid>,
    /// The total given when the order was placed.
    #[serde(with = "crate::guide::money")]
    pub total_amount: Decimal,
    /// The items added.
    pub lines: Vec<OrderLine>,
    /// Where it is.
    pub status: OrderStatus,
    /// The tracking number once shipped.
    pub tracking_number: Option<String>,
}

impl Order {
    /// The sum of the lines' prices.
    pub fn items_total(&self) -> Decimal {
        self.lines
            .iter()
            .map(|line| line.unit_price * Decimal::from(line.quantity))
            .sum()
    }
}

impl Aggregate for Order {
    type Event = OrderEvent;

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Created(created) => {
                self.customer_id = Some(created.customer_id);
                self.total_amount = created.total_amount;
                self.status = OrderStatus::Created;
            }
            OrderEvent::ItemAdded(item) => self.lines.push(OrderLine {
                sku: item.sku.clone(),
                quantity: item.quantity,
                unit_price: item.unit_price,
            }),
            OrderEvent::Shipped(shipped) => {
                self.status = OrderStatus::Shipped;
                self.tracking_number = Some(shipped.tracking_number.clone());
            }
        }
    }
}

impl SnapshotState for Order {}
