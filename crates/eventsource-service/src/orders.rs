//! The order endpoints: place, change and read one order through the
//! tenant-aware repository, and list the tenant's orders from the order
//! summaries read model.
//!
//! Every call runs inside the request's tenant scope (opened by the tenant
//! layer), so the repository reads and writes that tenant's orders only:
//! another tenant's order id answers 404 exactly as an unknown one.

use axum::extract::State;
use axum::http::header::{ETAG, LOCATION};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use eventsource::{Event, TenantFilter};
use eventsource_axum::{Authenticated, CurrentTenant};
use eventsource_examples::guide::order::{
    Order, OrderCreated, OrderEvent, OrderItemAdded, OrderShipped, OrderStatus,
};
use eventsource_examples::guide::projections::{OrderSummary, OrderSummaryProjection};
use tracing::{error, info, instrument};
use uuid::Uuid;

use crate::api::{
    AddItemRequest, CreateOrderRequest, CreatedOrder, OrderPage, OrderSummaryView, OrderView,
    ShipOrderRequest,
};
use crate::error::{ApiError, ErrorBody, CONCURRENT_CHANGE};
use crate::input::{JsonObject, OrderId, Paging};
use crate::AppState;

/// The answer to a change whose `expected_version` is not the order's.
const VERSION_MISMATCH: &str = "the order is not at the expected version; reload it and try again";

/// Places an order for the request's tenant.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    request_body = CreateOrderRequest,
    responses(
        (status = 201, description = "The order was placed.", body = CreatedOrder,
            headers(("Location" = String, description = "The new order's URL.")),
            links(
                ("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/order_id")))),
                ("AddItem" = (operation_id = "add_item", parameters(("id" = "$response.body#/order_id")))),
                ("ShipOrder" = (operation_id = "ship_order", parameters(("id" = "$response.body#/order_id")))),
            )),
        (status = 415, description = "The body is not declared as JSON.", body = ErrorBody),
        (status = 422, description = "The body is invalid; `field` names the offending field.", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(order_id))]
pub async fn create_order(
    State(state): State<AppState>,
    who: Authenticated,
    body: JsonObject,
) -> Result<impl IntoResponse, ApiError> {
    let request = CreateOrderRequest::from_body(body)?;
    let orders = state.orders();
    let id = Uuid::new_v4();
    tracing::Span::current().record("order_id", tracing::field::display(id));

    let mut order = orders.create_new(id)?;
    let created = OrderCreated {
        customer_id: request.customer_id,
        total_amount: request.total_amount,
    };
    order.record_event(event_by(&who, id, created));
    orders.save(&mut order).await?;

    info!(version = order.version(), "order placed");
    let created = CreatedOrder {
        order_id: id,
        version: order.version(),
    };
    Ok((
        StatusCode::CREATED,
        [(LOCATION, format!("/orders/{id}"))],
        Json(created),
    ))
}

/// Reads one of the tenant's orders from its events.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    responses(
        (status = 200, description = "The order.", body = OrderView,
            headers(("ETag" = String, description = "The order's version, quoted."))),
        (status = 404, description = "The tenant has no order with this id.", body = ErrorBody),
        (status = 422, description = "The id is not a UUID.", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(order_id = %id))]
pub async fn get_order(
    State(state): State<AppState>,
    OrderId(id): OrderId,
) -> Result<impl IntoResponse, ApiError> {
    let order = state.orders().load(id).await?;
    let view = OrderView::new(id, order.state(), order.version());
    Ok(([(ETAG, format!("\"{}\"", order.version()))], Json(view)))
}

/// Adds an item to one of the tenant's orders.
#[utoipa::path(
    post,
    path = "/orders/{id}/items",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = AddItemRequest,
    responses(
        (status = 200, description = "The item was added; the order as it is now.", body = OrderView),
        (status = 404, description = "The tenant has no order with this id.", body = ErrorBody),
        (status = 409, description = "The order has shipped, or changed concurrently, or is not at `expected_version`.", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON.", body = ErrorBody),
        (status = 422, description = "The id or the body is invalid; `field` names the offending field.", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(order_id = %id))]
pub async fn add_item(
    State(state): State<AppState>,
    who: Authenticated,
    OrderId(id): OrderId,
    body: JsonObject,
) -> Result<Json<OrderView>, ApiError> {
    let request = AddItemRequest::from_body(body)?;
    change_order(&state, &who, id, request.expected_version, |order| {
        if order.status == OrderStatus::Shipped {
            return Err(ApiError::Conflict(
                "the order has shipped; items can no longer be added",
            ));
        }
        Ok(OrderItemAdded {
            sku: request.sku,
            name: request.name,
            quantity: request.quantity,
            unit_price: request.unit_price,
        }
        .into())
    })
    .await
}

/// Ships one of the tenant's orders.
#[utoipa::path(
    post,
    path = "/orders/{id}/ship",
    tag = "orders",
    params(("id" = Uuid, Path, description = "The order's id.")),
    request_body = ShipOrderRequest,
    responses(
        (status = 200, description = "The order was shipped; the order as it is now.", body = OrderView),
        (status = 404, description = "The tenant has no order with this id.", body = ErrorBody),
        (status = 409, description = "The order has already shipped, or changed concurrently, or is not at `expected_version`.", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON.", body = ErrorBody),
        (status = 422, description = "The id or the body is invalid; `field` names the offending field.", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(order_id = %id))]
pub async fn ship_order(
    State(state): State<AppState>,
    who: Authenticated,
    OrderId(id): OrderId,
    body: JsonObject,
) -> Result<Json<OrderView>, ApiError> {
    let request = ShipOrderRequest::from_body(body)?;
    change_order(&state, &who, id, request.expected_version, |order| {
        if order.status == OrderStatus::Shipped {
            return Err(ApiError::Conflict("the order has already shipped"));
        }
        Ok(OrderShipped {
            tracking_number: request.tracking_number,
        }
        .into())
    })
    .await
}

/// Loads an order, checks the expected version, records the event `decide`
/// chooses and saves it under optimistic concurrency.
async fn change_order(
    state: &AppState,
    who: &Authenticated,
    id: Uuid,
    expected_version: Option<u64>,
    decide: impl FnOnce(&Order) -> Result<OrderEvent, ApiError>,
) -> Result<Json<OrderView>, ApiError> {
    let orders = state.orders();
    let mut order = orders.load(id).await?;
    if expected_version.is_some_and(|expected| expected != order.version()) {
        info!(
            version = order.version(),
            ?expected_version,
            "change refused: another version"
        );
        return Err(ApiError::Conflict(VERSION_MISMATCH));
    }

    let event = decide(order.state())?;
    let event_type = eventsource::EventSet::event_type(&event);
    order.record_event(event_by(who, id, event));
    if let Err(error) = orders.save(&mut order).await {
        let error = ApiError::from(error);
        if error == ApiError::Conflict(CONCURRENT_CHANGE) {
            info!(event_type, "change refused: the order changed concurrently");
        }
        return Err(error);
    }

    info!(event_type, version = order.version(), "order changed");
    Ok(Json(OrderView::new(id, order.state(), order.version())))
}

/// An event of this order, recorded on behalf of the token's subject.
fn event_by(who: &Authenticated, id: Uuid, payload: impl Into<OrderEvent>) -> Event<OrderEvent> {
    let event = Event::new(id, payload);
    match who.subject() {
        Some(subject) => event.with_actor(subject),
        None => event,
    }
}

/// Lists the tenant's orders, a page at a time, ordered by id.
///
/// The list comes from the order summaries read model, which follows the
/// event store in the background: an order placed or changed a moment ago
/// may show up, or show its change, only a moment later.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    params(
        ("limit" = Option<usize>, Query, description = "Orders per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("after" = Option<Uuid>, Query, description = "The `next` cursor of the previous page (an order id)."),
    ),
    responses(
        (status = 200, description = "A page of the tenant's orders.", body = OrderPage),
        (status = 422, description = "A paging parameter is invalid; `field` names it.", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list_orders(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    paging: Paging,
) -> Result<Json<OrderPage>, ApiError> {
    let after = paging
        .after
        .as_deref()
        .map(|cursor| {
            Uuid::parse_str(cursor)
                .map(|id| id.to_string())
                .map_err(|_| ApiError::invalid("after", "after must be the next cursor of a page"))
        })
        .transpose()?;

    // TODO: the projection store has no keyed range read, so a page reads
    // all of the tenant's summaries and skips to the cursor; a
    // `documents` call with a start key and a limit would make a page cost
    // its own size.
    let documents = state
        .models
        .documents(OrderSummaryProjection::NAME, TenantFilter::Tenant(tenant))
        .await?;
    let mut page = documents
        .into_iter()
        .filter(|document| document.tenant_id == Some(tenant))
        .filter(|document| after.as_ref().is_none_or(|after| document.key > *after))
        .take(paging.limit + 1)
        .map(|document| {
            serde_json::from_value::<OrderSummary>(document.value).map_err(|error| {
                error!(key = %document.key, %error, "order summary does not decode");
                ApiError::Internal
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let next = (page.len() > paging.limit).then(|| {
        page.truncate(paging.limit);
        page.last().map(|summary| summary.order_id.to_string())
    });
    Ok(Json(OrderPage {
        orders: page.into_iter().map(OrderSummaryView::from).collect(),
        next: next.flatten(),
    }))
}
