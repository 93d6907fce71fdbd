//! The guide's three projections over orders, as durable read models:
//!
//! - [`OrderSummaryProjection`]: one summary per order, written out by hand
//!   against the [`Projection`] trait (the guide's `TenantOrderSummary`);
//! - [`tenant_orders`]: the same orders with their lines, declared with
//!   typed handlers (the guide's declarative tenant order projection);
//! - [`tenant_statistics`]: per tenant, the number of orders, the revenue
//!   and the number shipped.
//!
//! Each keeps its documents under the event's tenant, so a tenant's read
//! model is read with a tenant filter like its events are.

use std::sync::Arc;

use async_trait::async_trait;
use eventsource::projection::{
    DeclarativeProjection, DocumentKey, Projection, ProjectionError, ProjectionTx,
};
use eventsource::{Aggregate, DomainEvent, StoredEvent, TenantFilter};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::order::{Order, OrderCreated, OrderEvent, OrderItemAdded, OrderShipped, OrderStatus};

/// One order at a glance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// The order.
    pub order_id: Uuid,
    /// Who ordered.
    pub customer_id: Option<Uuid>,
    /// The order's total.
    #[serde(with = "crate::guide::money")]
    pub total_amount: Decimal,
    /// Items added (their quantities summed).
    pub item_count: u64,
    /// Where it is.
    pub status: OrderStatus,
}

/// Summaries of orders, one document per order.
pub struct OrderSummaryProjection {
    tenant: TenantFilter,
}

impl OrderSummaryProjection {
    /// The projection's name.
    pub const NAME: &'static str = "order_summaries";

    /// Summaries of every tenant's orders.
    pub fn new() -> Self {
        Self {
            tenant: TenantFilter::Any,
        }
    }

    /// Summaries of the orders `tenant` admits.
    pub fn for_tenant(tenant: TenantFilter) -> Self {
        Self { tenant }
    }
}

impl Default for OrderSummaryProjection {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Projection for OrderSummaryProjection {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn event_types(&self) -> Option<Vec<String>> {
        let types = [
            OrderCreated::EVENT_TYPE,
            OrderItemAdded::EVENT_TYPE,
            OrderShipped::EVENT_TYPE,
        ];
        Some(types.map(str::to_owned).to_vec())
    }

    fn tenant_filter(&self) -> TenantFilter {
        self.tenant
    }

    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let envelope = &event.event.envelope;
        let order: OrderEvent = event.event.decode::<OrderEvent>()?.payload;
        let key = envelope.aggregate_id.to_string();
        let stored = model.get(envelope.tenant_id, &key).await?;
        let mut summary: OrderSummary = match stored {
            Some(value) => serde_json::from_value(value).map_err(|error| ProjectionError::Document {
                key: key.clone(),
                message: error.to_string(),
            })?,
            None => OrderSummary {
                order_id: envelope.aggregate_id,
                ..OrderSummary::default()
            },
        };
        match order {
            OrderEvent::Created(created) => {
                summary.customer_id = Some(created.customer_id);
                summary.total_amount = created.total_amount;
                summary.status = OrderStatus::Created;
            }
            OrderEvent::ItemAdded(item) => summary.item_count += u64::from(item.quantity),
            OrderEvent::Shipped(_) => summary.status = OrderStatus::Shipped,
        }
        let value = serde_json::to_value(&summary).map_err(|error| ProjectionError::Document {
            key: key.clone(),
            message: error.to_string(),
        })?;
        model.put(envelope.tenant_id, &key, &value).await?;
        Ok(())
    }
}

/// The name of [`tenant_orders`].
pub const TENANT_ORDERS: &str = "tenant_orders";

/// Orders with their lines, one document per order: the order's own state,
/// built by typed handlers.
pub fn tenant_orders(tenant: TenantFilter) -> DeclarativeProjection<Order> {
    fn apply(order: &mut Option<Order>, event: OrderEvent) -> Result<(), String> {
        order.get_or_insert_with(Order::default).apply(&event);
        Ok(())
    }
    DeclarativeProjection::<Order>::new(TENANT_ORDERS)
        .for_tenant(tenant)
        .on::<OrderCreated>(|event, order| apply(order, event.payload.clone().into()))
        .on::<OrderItemAdded>(|event, order| {
            if order.is_none() {
                return Err(format!(
                    "item added to order {} before it was created",
                    event.envelope.aggregate_id
                ));
            }
            apply(order, event.payload.clone().into())
        })
        .on::<OrderShipped>(|event, order| apply(order, event.payload.clone().into()))
}

/// A tenant's order figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantStatistics {
    /// Orders placed.
    pub order_count: u64,
    /// The sum of the placed orders' totals, exactly.
    #[serde(with = "crate::guide::money")]
    pub total_revenue: Decimal,
    /// Orders shipped.
    pub shipped_count: u64,
}

/// The name of [`tenant_statistics`].
pub const TENANT_STATISTICS: &str = "tenant_statistics";

/// Per-tenant order figures, one document per tenant (and one for orders
/// without a tenant).
pub fn tenant_statistics() -> DeclarativeProjection<TenantStatistics> {
    DeclarativeProjection::<TenantStatistics>::new(TENANT_STATISTICS)
        .keyed_by(DocumentKey::per_tenant)
        .on::<OrderCreated>(|event, statistics| {
            let statistics = statistics.get_or_insert_with(TenantStatistics::default);
            statistics.order_count += 1;
            statistics.total_revenue += event.payload.total_amount;
            Ok(())
        })
        .on::<OrderShipped>(|_, statistics| {
            statistics
                .get_or_insert_with(TenantStatistics::default)
                .shipped_count += 1;
            Ok(())
        })
}

/// The guide's projections over every tenant, as the CLI runs them.
pub fn builtin() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(OrderSummaryProjection::new()),
        Arc::new(tenant_orders(TenantFilter::Any)),
        Arc::new(tenant_statistics()),
    ]
}
