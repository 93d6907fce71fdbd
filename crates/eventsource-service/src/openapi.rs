//! The OpenAPI 3 description of the service, served at `/openapi.json`.
//!
//! Operations and schemas are derived from the handlers and the types in
//! [`crate::api`]; what every tenant route shares (the bearer token, the
//! optional `X-Tenant-ID` header and the 400/401/403 answers of the tenant
//! layer) is added to each of them here, in one place.

use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

/// The OpenAPI document as JSON.
pub fn document() -> Value {
    // Built from static annotations; every map key is a string, so turning
    // it into a JSON value cannot fail.
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    camel_case_links(&mut document);
    document
}

/// utoipa 5 writes the fields of a response link in snake case
/// (`operation_id`); OpenAPI names them in camel case (`operationId`).
/// Fixed in utoipa 6, which needs a newer Rust than this workspace.
fn camel_case_links(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (snake, camel) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(snake) {
                link.insert(camel.to_owned(), value);
            }
        }
    }
}

/// The routes that need no credential.
pub const PUBLIC_PATHS: [&str; 2] = ["/healthz", "/openapi.json"];

/// The name of the bearer token security scheme.
const BEARER: &str = "bearer";

/// The service's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "eventsource reference service",
        description = "Orders, audit log and figures of the tenant named by the bearer token. \
            Every route but /healthz and /openapi.json needs `Authorization: Bearer <JWT>` whose \
            `tenant_id` claim names the tenant; an optional `X-Tenant-ID` header must name the same \
            tenant. The tenant is never read from a request body."
    ),
    paths(
        crate::orders::create_order,
        crate::orders::list_orders,
        crate::orders::get_order,
        crate::orders::add_item,
        crate::orders::ship_order,
        crate::tenant::audit_log,
        crate::tenant::stats,
        crate::service::healthz,
        crate::service::openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&TenantRoutes),
    tags(
        (name = "orders", description = "The tenant's orders."),
        (name = "tenant", description = "The tenant's audit log and figures."),
        (name = "service", description = "The service itself."),
    )
)]
pub struct ApiDoc;

/// Adds what the tenant layer does to every route behind it.
struct TenantRoutes;

impl Modify for TenantRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT (HS256 or RS256, as the service is configured) with an `exp` claim and \
                         the tenant in its `tenant_id` claim.",
                    ))
                    .build(),
            ),
        );

        for (path, item) in openapi.paths.paths.iter_mut() {
            if PUBLIC_PATHS.contains(&path.as_str()) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_tenant_layer(operation);
            }
        }
    }
}

fn add_tenant_layer(operation: &mut Operation) {
    operation
        .security
        .get_or_insert_with(Vec::new)
        .push(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    operation.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name("X-Tenant-ID")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some("The tenant meant; must be the token's tenant."))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
            ))))
            .build(),
    );
    let refusals = [
        (
            "400",
            "The token's tenant claim or the X-Tenant-ID header is not a tenant id.",
        ),
        (
            "401",
            "No bearer token, or one that is malformed, wrongly signed, expired or names no tenant.",
        ),
        (
            "403",
            "The X-Tenant-ID header names another tenant than the token.",
        ),
    ];
    for (status, description) in refusals {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(response.into());
    }
}
