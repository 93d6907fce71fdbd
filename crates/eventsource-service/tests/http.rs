//! The reference service over real HTTP, with several tenants: every status
//! code it answers, and that no answer crosses tenants.

mod support;

use std::collections::BTreeSet;

use eventsource::TenantId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{eventually, now, signed, Database, TestServer};
use uuid::Uuid;

#[tokio::test]
async fn health_answers_without_a_credential() {
    let server = TestServer::start().await;
    let reply = server.get_anonymous("/healthz").await.expect(StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let server = TestServer::start().await;
    let document = server
        .get_anonymous("/openapi.json")
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let operations: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "POST /orders",
        "GET /orders",
        "GET /orders/{id}",
        "POST /orders/{id}/items",
        "POST /orders/{id}/ship",
        "GET /audit",
        "GET /stats",
        "GET /healthz",
        "GET /openapi.json",
    ]
    .map(String::from)
    .into();
    assert_eq!(operations, expected);

    let create = &document["paths"]["/orders"]["post"];
    for status in ["201", "400", "401", "403", "422"] {
        assert!(
            create["responses"][status].is_object(),
            "POST /orders lacks {status}"
        );
    }
    assert_eq!(create["security"], json!([{"bearer": []}]));
    assert!(create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "X-Tenant-ID"));
    assert!(document["paths"]["/healthz"]["get"]["security"].is_null());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let request = &document["components"]["schemas"]["CreateOrderRequest"];
    assert!(
        request["properties"]["total_amount"]["oneOf"].is_array(),
        "{request}"
    );
    assert_eq!(request["additionalProperties"], false, "{request}");
    let links = &create["responses"]["201"]["links"];
    assert_eq!(links["GetOrder"]["operationId"], "get_order", "{links}");
    assert_eq!(links["GetOrder"]["parameters"]["id"], "$response.body#/order_id");
    server.stop().await;
}

#[tokio::test]
async fn the_service_serves_from_an_in_memory_database_too() {
    let server = TestServer::start_on(Database::Memory).await;
    let acme = server.new_tenant();
    let order = acme.create_order(json!("3.20")).await;
    acme.post(&format!("/orders/{order}/ship"), json!({"tracking_number": "T"}))
        .await
        .expect(StatusCode::OK);
    eventually("the figures to catch up", || async {
        let stats = acme.get("/stats").await.expect(StatusCode::OK).json();
        (stats["shipped_count"] == 1).then_some(())
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn placing_an_order_answers_201_with_its_id_and_location() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let reply = acme
        .post(
            "/orders",
            json!({"customer_id": Uuid::new_v4(), "total_amount": "12.50"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let body = reply.json();
    let id: Uuid = body["order_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(reply.headers["location"], format!("/orders/{id}"));
    server.stop().await;
}

#[tokio::test]
async fn an_amount_may_be_a_json_string_or_number_and_stays_exact() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let as_text = acme.create_order(json!("12.50")).await;
    let precise: Value = serde_json::from_str("98765432109876543.21").unwrap();
    let as_number = acme.create_order(precise).await;

    let text_order = acme
        .get(&format!("/orders/{as_text}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(text_order["total_amount"], "12.50");
    let number_order = acme
        .get(&format!("/orders/{as_number}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(number_order["total_amount"], "98765432109876543.21");
    server.stop().await;
}

#[tokio::test]
async fn an_order_reads_back_with_its_items_shipment_and_version() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let customer = Uuid::new_v4();
    let reply = acme
        .post("/orders", json!({"customer_id": customer, "total_amount": 20}))
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json()["order_id"].as_str().unwrap().to_owned();

    let item = json!({"sku": "SKU-1", "name": "Widget", "quantity": 2, "unit_price": "4.25"});
    let after_item = acme
        .post(&format!("/orders/{id}/items"), item)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(after_item["version"], 2);
    assert_eq!(after_item["items_total"], "8.50");

    let ship = json!({"tracking_number": "1Z999", "expected_version": 2});
    acme.post(&format!("/orders/{id}/ship"), ship)
        .await
        .expect(StatusCode::OK);

    let reply = acme.get(&format!("/orders/{id}")).await.expect(StatusCode::OK);
    assert_eq!(reply.headers["etag"], "\"3\"");
    assert_eq!(
        reply.json(),
        json!({
            "order_id": id,
            "customer_id": customer,
            "total_amount": "20",
            "items_total": "8.50",
            "status": "shipped",
            "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "4.25"}],
            "tracking_number": "1Z999",
            "version": 3,
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_without_a_valid_credential_is_401_and_changes_nothing() {
    let server = TestServer::start().await;
    let tenant = TenantId::new_random();
    let body = json!({"customer_id": Uuid::new_v4(), "total_amount": "1"});

    let anonymous = server
        .client
        .post(format!("{}/orders", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let expired = signed(json!({"tenant_id": tenant, "exp": now() - 3600}));
    let garbage = "not.a.token".to_owned();
    for token in [expired, garbage] {
        let client = server.with_token(tenant, token);
        client
            .post("/orders", body.clone())
            .await
            .expect(StatusCode::UNAUTHORIZED);
        client.get("/stats").await.expect(StatusCode::UNAUTHORIZED);
    }

    let audit = server
        .tenant(tenant)
        .get("/audit")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(audit["events"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn a_token_whose_tenant_is_not_a_tenant_id_is_400() {
    let server = TestServer::start().await;
    let token = signed(json!({"tenant_id": "acme", "exp": now() + 600}));
    let client = server.with_token(TenantId::new_random(), token);
    let reply = client.get("/orders").await.expect(StatusCode::BAD_REQUEST);
    assert!(reply.json()["error"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_header_for_another_tenant_is_403_and_a_malformed_one_400() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let globex = TenantId::new_random();
    let request = |header: String| {
        server
            .client
            .get(format!("{}/stats", server.base))
            .bearer_auth(&acme.token)
            .header("x-tenant-id", header)
            .send()
    };

    let forbidden = request(globex.to_string()).await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let text = forbidden.text().await.unwrap();
    assert!(!text.contains(&globex.to_string()) && !text.contains(&acme.tenant.to_string()));

    let malformed = request("globex".into()).await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let matching = request(acme.tenant.to_string()).await.unwrap();
    assert_eq!(matching.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn another_tenants_order_is_404_exactly_like_a_missing_one() {
    let server = TestServer::start().await;
    let (acme, globex) = (server.new_tenant(), server.new_tenant());
    let order = acme.create_order(json!("30.00")).await;
    let missing = Uuid::new_v4();

    let item = json!({"sku": "S", "name": "N", "quantity": 1, "unit_price": "1"});
    let ship = json!({"tracking_number": "T"});
    for id in [order, missing] {
        let read = globex
            .get(&format!("/orders/{id}"))
            .await
            .expect(StatusCode::NOT_FOUND);
        let added = globex
            .post(&format!("/orders/{id}/items"), item.clone())
            .await
            .expect(StatusCode::NOT_FOUND);
        let shipped = globex
            .post(&format!("/orders/{id}/ship"), ship.clone())
            .await
            .expect(StatusCode::NOT_FOUND);
        for reply in [read, added, shipped] {
            assert_eq!(reply.text, r#"{"error":"order not found"}"#);
            assert_eq!(reply.headers["content-type"], "application/json");
            assert!(!reply.text.contains(&id.to_string()));
        }
    }

    // Nothing globex tried reached acme's order.
    let unchanged = acme
        .get(&format!("/orders/{order}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["status"], "created");
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_id_in_the_body_is_refused_not_used() {
    let server = TestServer::start().await;
    let (acme, globex) = (server.new_tenant(), server.new_tenant());
    let body = json!({"customer_id": Uuid::new_v4(), "total_amount": "1", "tenant_id": globex.tenant});
    acme.post("/orders", body).await.expect_invalid("tenant_id");
    let audit = globex.get("/audit").await.expect(StatusCode::OK).json();
    assert_eq!(audit["events"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_field() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let customer = Uuid::new_v4();
    let order = acme.create_order(json!("5")).await;
    let items = format!("/orders/{order}/items");
    let ship = format!("/orders/{order}/ship");
    let item = |field: &str, value: Value| {
        let mut body = json!({"sku": "S", "name": "N", "quantity": 1, "unit_price": "1"});
        body[field] = value;
        body
    };

    let bodies = [
        (
            "/orders",
            json!({"customer_id": "nope", "total_amount": "1"}),
            "customer_id",
        ),
        ("/orders", json!({"total_amount": "1"}), "customer_id"),
        ("/orders", json!({"customer_id": customer}), "total_amount"),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": null}),
            "total_amount",
        ),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": "-0.01"}),
            "total_amount",
        ),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": -3}),
            "total_amount",
        ),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": "ten"}),
            "total_amount",
        ),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": true}),
            "total_amount",
        ),
        (
            "/orders",
            json!({"customer_id": customer, "total_amount": "1", "extra": 1}),
            "extra",
        ),
        (&items, item("quantity", json!(0)), "quantity"),
        (&items, item("quantity", json!(-2)), "quantity"),
        (&items, item("quantity", json!(1.5)), "quantity"),
        (&items, item("unit_price", json!("-1")), "unit_price"),
        (&items, item("sku", json!("")), "sku"),
        (&items, item("name", json!(42)), "name"),
        (&items, item("expected_version", json!(0)), "expected_version"),
        (&ship, json!({}), "tracking_number"),
        (
            &ship,
            json!({"tracking_number": "T", "expected_version": "2"}),
            "expected_version",
        ),
    ];
    for (path, body, field) in bodies {
        let reply = acme.post(path, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {}",
            reply.text
        );
        assert_eq!(reply.json()["field"], field, "{path} {body}: {}", reply.text);
    }

    for raw in ["{", "[]", "\"order\"", "{\"a\": 1} trailing"] {
        let reply = acme
            .post_raw("/orders", raw)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.json()["error"].is_string(), "{raw}");
    }

    acme.get("/orders/not-a-uuid").await.expect_invalid("id");
    acme.post("/orders/not-a-uuid/ship", json!({"tracking_number": "T"}))
        .await
        .expect_invalid("id");
    acme.get("/orders?limit=0").await.expect_invalid("limit");
    acme.get("/orders?limit=101").await.expect_invalid("limit");
    acme.get("/orders?limit=ten").await.expect_invalid("limit");
    acme.get("/orders?after=nope").await.expect_invalid("after");
    acme.get("/orders?page=2").await.expect_invalid("page");
    acme.get("/audit?after=0000000000000001x")
        .await
        .expect_invalid("after");

    // The order is as it was: no invalid request changed it.
    let unchanged = acme
        .get(&format!("/orders/{order}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(unchanged["version"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_415_and_an_oversized_one_413() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let plain = server
        .client
        .post(format!("{}/orders", server.base))
        .bearer_auth(&acme.token)
        .body(r#"{"customer_id": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!(
        r#"{{"sku": "{}"}}"#,
        "x".repeat(eventsource_service::MAX_BODY_BYTES)
    );
    let order = acme.create_order(json!("1")).await;
    acme.post_raw(&format!("/orders/{order}/items"), &huge)
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipping_concurrently_lets_exactly_one_request_win() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let order = acme.create_order(json!("10")).await;

    let attempts = (0..8).map(|n| {
        let acme = acme.clone();
        async move {
            acme.post(
                &format!("/orders/{order}/ship"),
                json!({"tracking_number": format!("T{n}")}),
            )
            .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let shipped = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((shipped, conflicts), (1, 7), "{replies:?}");
    for conflict in replies.iter().filter(|r| r.status == StatusCode::CONFLICT) {
        assert!(conflict.json()["error"].is_string());
    }

    let order = acme
        .get(&format!("/orders/{order}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(order["version"], 2, "exactly one shipment was stored");
    server.stop().await;
}

#[tokio::test]
async fn a_stale_expected_version_is_409_and_changes_nothing() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let order = acme.create_order(json!("10")).await;
    let item = |version: u64| json!({"sku": "S", "name": "N", "quantity": 1, "unit_price": "2", "expected_version": version});

    acme.post(&format!("/orders/{order}/items"), item(1))
        .await
        .expect(StatusCode::OK);
    acme.post(&format!("/orders/{order}/items"), item(1))
        .await
        .expect(StatusCode::CONFLICT);
    acme.post(
        &format!("/orders/{order}/ship"),
        json!({"tracking_number": "T", "expected_version": 5}),
    )
    .await
    .expect(StatusCode::CONFLICT);

    let current = acme
        .get(&format!("/orders/{order}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(current["version"], 2);
    assert_eq!(current["lines"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_shipped_order_takes_no_more_items_nor_a_second_shipment() {
    let server = TestServer::start().await;
    let acme = server.new_tenant();
    let order = acme.create_order(json!("10")).await;
    acme.post(&format!("/orders/{order}/ship"), json!({"tracking_number": "T"}))
        .await
        .expect(StatusCode::OK);

    acme.post(&format!("/orders/{order}/ship"), json!({"tracking_number": "U"}))
        .await
        .expect(StatusCode::CONFLICT);
    let item = json!({"sku": "S", "name": "N", "quantity": 1, "unit_price": "2"});
    acme.post(&format!("/orders/{order}/items"), item)
        .await
        .expect(StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test]
async fn the_order_list_pages_through_the_tenants_own_orders() {
    let server = TestServer::start().await;
    let (acme, globex) = (server.new_tenant(), server.new_tenant());
    let mut acme_orders = BTreeSet::new();
    for n in 0..5 {
        acme_orders.insert(acme.create_order(json!(n)).await);
    }
    let globex_order = globex.create_order(json!("7")).await;

    let listed = eventually("acme's orders to be listed", || async {
        let listed = acme.listed_order_ids(2).await;
        (listed.len() == acme_orders.len()).then_some(listed)
    })
    .await;
    assert!(listed.windows(2).all(|pair| pair[0] < pair[1]), "ordered by id");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), acme_orders);

    let globex_listed = eventually("globex's order to be listed", || async {
        let listed = globex.listed_order_ids(100).await;
        (!listed.is_empty()).then_some(listed)
    })
    .await;
    assert_eq!(globex_listed, vec![globex_order]);

    let first_page = acme.get("/orders?limit=5").await.expect(StatusCode::OK).json();
    assert_eq!(first_page["next"], Value::Null, "a full last page has no next");
    server.stop().await;
}

#[tokio::test]
async fn the_audit_log_pages_through_the_tenants_own_events_with_opaque_cursors() {
    let server = TestServer::start().await;
    let acme_tenant = TenantId::new_random();
    let acme = server.tenant_as(acme_tenant, "alice");
    let globex = server.new_tenant();

    let first = acme.create_order(json!("1")).await;
    globex.create_order(json!("2")).await;
    let second = acme.create_order(json!("3")).await;
    globex.create_order(json!("4")).await;
    let item = json!({"sku": "S", "name": "N", "quantity": 1, "unit_price": "1"});
    acme.post(&format!("/orders/{first}/items"), item)
        .await
        .expect(StatusCode::OK);

    let mut events = Vec::new();
    let mut path = "/audit?limit=2".to_owned();
    loop {
        let page = acme.get(&path).await.expect(StatusCode::OK).json();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        let Some(cursor) = page["next"].as_str() else {
            break;
        };
        assert_eq!(cursor.len(), 16);
        assert!(cursor.chars().all(|c| c.is_ascii_hexdigit()));
        path = format!("/audit?limit=2&after={cursor}");
    }

    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap().to_owned(),
                e["aggregate_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("OrderCreated".to_owned(), first.to_string()),
            ("OrderCreated".to_owned(), second.to_string()),
            ("OrderItemAdded".to_owned(), first.to_string()),
        ]
    );
    assert!(events.iter().all(|e| e["actor_id"] == "alice"));
    assert!(events.iter().all(|e| e.get("position").is_none()));
    assert_eq!(events[0]["payload"]["total_amount"], "1");
    server.stop().await;
}

#[tokio::test]
async fn the_figures_count_only_the_tenants_own_orders() {
    let server = TestServer::start().await;
    let (acme, globex) = (server.new_tenant(), server.new_tenant());
    let first = acme.create_order(json!("10.00")).await;
    acme.create_order(json!("2.50")).await;
    acme.post(&format!("/orders/{first}/ship"), json!({"tracking_number": "T"}))
        .await
        .expect(StatusCode::OK);
    globex.create_order(json!("1000")).await;

    let expected = json!({"order_count": 2, "total_revenue": "12.50", "shipped_count": 1, "event_count": 3});
    eventually("acme's figures to catch up", || async {
        let stats = acme.get("/stats").await.expect(StatusCode::OK).json();
        (stats == expected).then_some(())
    })
    .await;

    let newcomer = server.new_tenant();
    let empty = newcomer.get("/stats").await.expect(StatusCode::OK).json();
    assert_eq!(
        empty,
        json!({"order_count": 0, "total_revenue": "0", "shipped_count": 0, "event_count": 0})
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let server = TestServer::start().await;
    let reply = server
        .get_anonymous("/nowhere")
        .await
        .expect(StatusCode::NOT_FOUND);
    assert!(reply.json()["error"].is_string());

    let acme = server.new_tenant();
    let reply = acme
        .post("/stats", json!({}))
        .await
        .expect(StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.json()["error"].is_string());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_on_an_sqlite_file_never_wait_for_the_busy_timeout() {
    // More writers than the store has connections, while the read models
    // follow: a projection batch holding the write lock must never wait for
    // a connection that a writer blocked on that lock holds. When it did,
    // a round stalled for the whole 30-second busy timeout.
    let server = TestServer::start().await;
    let tenants: Vec<_> = (0..4).map(|_| server.new_tenant()).collect();
    for round in 0..10 {
        let writes = (0..32).map(|n| {
            let tenant = tenants[n % tenants.len()].clone();
            async move { tenant.create_order(json!("1")).await }
        });
        let round_time = std::time::Duration::from_secs(20);
        let finished = tokio::time::timeout(round_time, futures::future::join_all(writes)).await;
        assert!(finished.is_ok(), "round {round} of writes stalled");
    }
    for tenant in &tenants {
        eventually("the figures to catch up", || async {
            let stats = tenant.get("/stats").await.expect(StatusCode::OK).json();
            (stats["order_count"] == 80).then_some(())
        })
        .await;
    }
    server.stop().await;
}
