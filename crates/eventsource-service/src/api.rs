//! The shapes of the API: what requests carry and what responses hold.
//!
//! Each request type reads itself from a JSON object field by field (see
//! [`crate::input`]), so the OpenAPI schema derived here and the checks
//! applied are one definition. Amounts are decimals: accepted as a JSON
//! string or number, always answered as a string, never through a float.

use chrono::{DateTime, Utc};
use eventsource::interchange::format_timestamp;
use eventsource::StoredEvent;
use eventsource_examples::guide::order::{Order, OrderStatus};
use eventsource_examples::guide::projections::{OrderSummary, TenantStatistics};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::input::{self, Fields, JsonObject, MAX_AMOUNT_DECIMAL_PLACES, MAX_AMOUNT_INTEGER_DIGITS};

/// The schema of an amount in a request: a decimal as a string or a number.
fn amount_input() -> RefOr<Schema> {
    let as_text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            r"^[0-9]{{1,{MAX_AMOUNT_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_AMOUNT_DECIMAL_PLACES}}})?$"
        )))
        .examples(["12.50"]);
    let as_number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .exclusive_maximum(Some(10f64.powi(MAX_AMOUNT_INTEGER_DIGITS as i32)))
        .multiple_of(Some(10f64.powi(-(MAX_AMOUNT_DECIMAL_PLACES as i32))));
    OneOfBuilder::new()
        .item(as_text)
        .item(as_number)
        .description(Some(format!(
            "A non-negative decimal amount, as a JSON string or number, kept exactly as written: \
             at most {MAX_AMOUNT_INTEGER_DIGITS} digits before the decimal point and \
             {MAX_AMOUNT_DECIMAL_PLACES} after it."
        )))
        .into()
}

/// Places an order.
#[derive(Clone, Debug, PartialEq, ToSchema)]
#[schema(example = json!({"customer_id": "6f1c2a9e-0b7d-4c55-9d6e-3f1a2b3c4d5e", "total_amount": "12.50"}))]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Who orders.
    pub customer_id: Uuid,
    /// The order's total.
    #[schema(schema_with = amount_input)]
    pub total_amount: Decimal,
}

impl CreateOrderRequest {
    /// Reads and checks the body.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the first field at fault.
    pub fn from_body(body: JsonObject) -> Result<Self, ApiError> {
        let mut fields = Fields::new(body, &["customer_id", "total_amount"])?;
        Ok(Self {
            customer_id: fields.required("customer_id", input::uuid)?,
            total_amount: fields.required("total_amount", input::amount)?,
        })
    }
}

/// Adds an item to an order.
#[derive(Clone, Debug, PartialEq, ToSchema)]
#[schema(example = json!({"sku": "SKU-1", "name": "Widget", "quantity": 2, "unit_price": "4.25"}))]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    /// The product's stock-keeping unit.
    #[schema(min_length = 1, max_length = 200)]
    pub sku: String,
    /// The product's name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// How many (at least 1).
    #[schema(minimum = 1)]
    pub quantity: u32,
    /// The price of one.
    #[schema(schema_with = amount_input)]
    pub unit_price: Decimal,
    /// The order version the change is meant for; a different current
    /// version answers 409. Without it, the change applies to whatever
    /// version is current (still 409 when another change lands between
    /// reading and saving the order).
    #[schema(minimum = 1)]
    pub expected_version: Option<u64>,
}

impl AddItemRequest {
    /// Reads and checks the body.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the first field at fault.
    pub fn from_body(body: JsonObject) -> Result<Self, ApiError> {
        let mut fields = Fields::new(
            body,
            &["sku", "name", "quantity", "unit_price", "expected_version"],
        )?;
        Ok(Self {
            sku: fields.required("sku", input::text)?,
            name: fields.required("name", input::text)?,
            quantity: fields.required("quantity", input::quantity)?,
            unit_price: fields.required("unit_price", input::amount)?,
            expected_version: fields.optional("expected_version", input::version)?,
        })
    }
}

/// Ships an order.
#[derive(Clone, Debug, PartialEq, ToSchema)]
#[schema(example = json!({"tracking_number": "1Z999AA10123456784", "expected_version": 2}))]
#[serde(deny_unknown_fields)]
pub struct ShipOrderRequest {
    /// The carrier's tracking number.
    #[schema(min_length = 1, max_length = 200)]
    pub tracking_number: String,
    /// As for [`AddItemRequest::expected_version`].
    #[schema(minimum = 1)]
    pub expected_version: Option<u64>,
}

impl ShipOrderRequest {
    /// Reads and checks the body.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the first field at fault.
    pub fn from_body(body: JsonObject) -> Result<Self, ApiError> {
        let mut fields = Fields::new(body, &["tracking_number", "expected_version"])?;
        Ok(Self {
            tracking_number: fields.required("tracking_number", input::text)?,
            expected_version: fields.optional("expected_version", input::version)?,
        })
    }
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Placed, not shipped.
    Created,
    /// On its way.
    Shipped,
}

impl OrderState {
    fn of(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Shipped => Self::Shipped,
            // A stored order has been created; `New` is the state before
            // its first event and never reaches a response.
            OrderStatus::New | OrderStatus::Created => Self::Created,
        }
    }
}

/// The answer to placing an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedOrder {
    /// The new order's id.
    pub order_id: Uuid,
    /// Its version (1).
    pub version: u64,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderLineView {
    /// The product's stock-keeping unit.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// The price of one, as a decimal string.
    #[schema(example = "4.25")]
    pub unit_price: String,
}

/// An order as its events have made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderView {
    /// The order's id.
    pub order_id: Uuid,
    /// Who ordered.
    pub customer_id: Option<Uuid>,
    /// The total given when the order was placed, as a decimal string.
    #[schema(example = "12.50")]
    pub total_amount: String,
    /// The sum of the lines' prices, as a decimal string.
    #[schema(example = "8.50")]
    pub items_total: String,
    /// Where it is.
    pub status: OrderState,
    /// The items added, in order.
    pub lines: Vec<OrderLineView>,
    /// The tracking number once shipped.
    pub tracking_number: Option<String>,
    /// The order's version: the number of events it has. Send it as
    /// `expected_version` to change exactly this version.
    pub version: u64,
}

impl OrderView {
    /// The view of an order at `version`.
    pub fn new(order_id: Uuid, order: &Order, version: u64) -> Self {
        Self {
            order_id,
            customer_id: order.customer_id,
            total_amount: order.total_amount.to_string(),
            items_total: order.items_total().to_string(),
            status: OrderState::of(order.status),
            lines: order
                .lines
                .iter()
                .map(|line| OrderLineView {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price: line.unit_price.to_string(),
                })
                .collect(),
            tracking_number: order.tracking_number.clone(),
            version,
        }
    }
}

/// One order in a listing, from the order summaries read model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderSummaryView {
    /// The order's id.
    pub order_id: Uuid,
    /// Who ordered.
    pub customer_id: Option<Uuid>,
    /// The order's total, as a decimal string.
    #[schema(example = "12.50")]
    pub total_amount: String,
    /// Items added (their quantities summed).
    pub item_count: u64,
    /// Where it is.
    pub status: OrderState,
}

impl From<OrderSummary> for OrderSummaryView {
    fn from(summary: OrderSummary) -> Self {
        Self {
            order_id: summary.order_id,
            customer_id: summary.customer_id,
            total_amount: summary.total_amount.to_string(),
            item_count: summary.item_count,
            status: OrderState::of(summary.status),
        }
    }
}

/// A page of the tenant's orders, ordered by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderPage {
    /// The orders of this page.
    pub orders: Vec<OrderSummaryView>,
    /// The cursor of the next page (pass it as `after`); absent on the
    /// last page.
    pub next: Option<String>,
}

/// One event of the tenant's audit log.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    /// The event's id.
    pub event_id: Uuid,
    /// What happened.
    #[schema(example = "OrderCreated")]
    pub event_type: String,
    /// The kind of thing it happened to.
    #[schema(example = "Order")]
    pub aggregate_type: String,
    /// The thing it happened to.
    pub aggregate_id: Uuid,
    /// The thing's version after the event.
    pub aggregate_version: u64,
    /// When it happened (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: String,
    /// Who did it: the `sub` claim of the token used, when it had one.
    pub actor_id: Option<String>,
    /// The request or process the event belongs to.
    pub correlation_id: Uuid,
    /// The event that caused it, if any.
    pub causation_id: Option<Uuid>,
    /// What happened, in detail.
    #[schema(value_type = Object)]
    pub payload: Map<String, Value>,
}

impl From<StoredEvent> for AuditEntry {
    fn from(stored: StoredEvent) -> Self {
        let envelope = stored.event.envelope;
        Self {
            event_id: envelope.event_id,
            event_type: envelope.event_type,
            aggregate_type: envelope.aggregate_type,
            aggregate_id: envelope.aggregate_id,
            aggregate_version: envelope.aggregate_version,
            occurred_at: timestamp(&envelope.occurred_at),
            actor_id: envelope.actor_id,
            correlation_id: envelope.correlation_id,
            causation_id: envelope.causation_id,
            payload: stored.event.payload,
        }
    }
}

fn timestamp(at: &DateTime<Utc>) -> String {
    format_timestamp(at)
}

/// A page of the tenant's audit log, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AuditPage {
    /// The events of this page.
    pub events: Vec<AuditEntry>,
    /// The cursor of the next page (pass it as `after`); absent on the
    /// last page.
    pub next: Option<String>,
}

/// The tenant's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TenantStatsView {
    /// Orders placed (from the statistics read model).
    pub order_count: u64,
    /// The sum of the placed orders' totals, as a decimal string (from the
    /// statistics read model).
    #[schema(example = "1250.00")]
    pub total_revenue: String,
    /// Orders shipped (from the statistics read model).
    pub shipped_count: u64,
    /// Events stored for the tenant (counted in the event store).
    pub event_count: u64,
}

impl TenantStatsView {
    /// The figures from the read model's document and the store's count.
    pub fn new(statistics: TenantStatistics, event_count: u64) -> Self {
        Self {
            order_count: statistics.order_count,
            total_revenue: statistics.total_revenue.to_string(),
            shipped_count: statistics.shipped_count,
            event_count,
        }
    }
}

/// The service's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the event store answers.
    #[schema(example = "ok")]
    pub status: String,
}
