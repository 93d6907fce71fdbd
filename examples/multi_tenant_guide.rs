//! The multi-tenant guide's complete example, on the in-memory store.
//!
//! Two tenants share one event store. Each creates tasks through a
//! tenant-aware repository inside its own tenant scope; one task is
//! completed. Then each tenant's events are listed with a tenant-filtered
//! query, and the example checks that one tenant cannot load, detect or
//! change another tenant's task.
//!
//! Run it with `cargo run -p eventsource-examples --example multi_tenant_guide`.

use std::error::Error;
use std::sync::Arc;

use eventsource::{
    event_set, tenant_scope, Aggregate, DomainEvent, Event, EventFilter, EventStore, InMemoryEventStore,
    RepositoryError, TenantAwareRepository, TenantFilter, TenantId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// --- The domain: a task is created, then completed. ---

/// A task was created.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskCreated {
    pub title: String,
    pub description: Option<String>,
    pub assigned_to: Option<String>,
}

impl DomainEvent for TaskCreated {
    const EVENT_TYPE: &'static str = "TaskCreated";
    const AGGREGATE_TYPE: &'static str = "Task";
}

/// A task was done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskCompleted {
    pub completed_by: String,
}

impl DomainEvent for TaskCompleted {
    const EVENT_TYPE: &'static str = "TaskCompleted";
    const AGGREGATE_TYPE: &'static str = "Task";
}

event_set! {
    /// Everything that can happen to a task.
    pub enum TaskEvent: "Task" {
        Created(TaskCreated),
        Completed(TaskCompleted),
    }
}

/// A task's state, rebuilt from its events. The `match` is the declarative
/// part: one arm per event type.
#[derive(Debug, Default)]
pub struct Task {
    pub title: String,
    pub completed_by: Option<String>,
}

impl Aggregate for Task {
    type Event = TaskEvent;

    fn apply(&mut self, event: &TaskEvent) {
        match event {
            TaskEvent::Created(created) => self.title.clone_from(&created.title),
            TaskEvent::Completed(completed) => self.completed_by = Some(completed.completed_by.clone()),
        }
    }
}

type Tasks = TenantAwareRepository<Task>;

// --- The application: every operation runs inside a tenant scope. ---

/// Creates a task for the tenant of the current scope.
async fn create_task(tasks: &Tasks, title: &str, assigned_to: Option<&str>) -> Result<Uuid, RepositoryError> {
    let id = Uuid::new_v4();
    let mut task = tasks.create_new(id)?;
    let created = TaskCreated {
        title: title.to_owned(),
        description: None,
        assigned_to: assigned_to.map(str::to_owned),
    };
    // `record_event` keeps the actor we set; the repository fills in the
    // aggregate, its version and the current tenant.
    task.record_event(Event::new(id, created).with_actor("user:guide"));
    tasks.save(&mut task).await?;
    Ok(id)
}

/// Completes a task of the tenant of the current scope.
async fn complete_task(tasks: &Tasks, id: Uuid, by: &str) -> Result<(), RepositoryError> {
    let mut task = tasks.load(id).await?;
    task.record_event(
        Event::new(
            id,
            TaskCompleted {
                completed_by: by.to_owned(),
            },
        )
        .with_actor(by),
    );
    tasks.save(&mut task).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = Arc::new(InMemoryEventStore::new());
    let tasks = Tasks::new(store.clone());
    let tenant_a = TenantId::new_random();
    let tenant_b = TenantId::new_random();

    println!("=== Multi-Tenant Event Sourcing Demo ===");
    println!("Tenant A (Acme Corp): {tenant_a}");
    println!("Tenant B (Globex): {tenant_b}");
    println!();

    let report = tenant_scope(
        tenant_a,
        create_task(&tasks, "Prepare the quarterly report", Some("alice")),
    )
    .await?;
    println!("Created task for Tenant A: {report}");
    let contracts = tenant_scope(tenant_a, create_task(&tasks, "Review vendor contracts", None)).await?;
    println!("Created task for Tenant A: {contracts}");
    for title in ["Plan the product launch", "Migrate the billing system"] {
        let id = tenant_scope(tenant_b, create_task(&tasks, title, Some("bob"))).await?;
        println!("Created task for Tenant B: {id}");
    }
    tenant_scope(tenant_a, complete_task(&tasks, report, "user:alice")).await?;
    println!("Completed task for Tenant A: {report}");
    println!();

    // The guide's `get_events_by_type("Task", tenant_id=...)`: the tenant
    // filter runs in the store.
    for (label, tenant) in [("Tenant A", tenant_a), ("Tenant B", tenant_b)] {
        let filter = EventFilter::tenant(TenantFilter::Tenant(tenant)).aggregate_type("Task");
        let events = store.events_by_type(filter, None).await?;
        println!("{label} events: {}", events.len());
        for stored in &events {
            let envelope = &stored.event.envelope;
            assert_eq!(
                envelope.tenant_id,
                Some(tenant),
                "a tenant's query returns only its events"
            );
            println!(
                "  - {} (aggregate {})",
                envelope.event_type, envelope.aggregate_id
            );
        }
    }
    println!(
        "Total events in store: {}",
        store.count(&EventFilter::all()).await?
    );
    println!();

    // Tenant B cannot load Tenant A's task: it is reported exactly like a
    // task that does not exist, so B cannot even learn that it exists.
    match tenant_scope(tenant_b, tasks.load(report)).await {
        Err(RepositoryError::NotFound { .. }) => {
            println!("Isolation: Tenant B cannot load Tenant A's task: not found");
        }
        Ok(_) => return Err("tenant isolation violated: Tenant B loaded Tenant A's task".into()),
        Err(other) => return Err(other.into()),
    }
    assert!(!tenant_scope(tenant_b, tasks.exists(report)).await?);
    println!("Isolation: Tenant B cannot tell that Tenant A's task exists");

    // Nor can it save events to it, even holding a copy loaded by Tenant A.
    let mut task = tenant_scope(tenant_a, tasks.load(contracts)).await?;
    task.record(TaskCompleted {
        completed_by: "user:intruder".into(),
    });
    match tenant_scope(tenant_b, tasks.save(&mut task)).await {
        Err(RepositoryError::TenantMismatch { .. }) => {
            println!("Isolation: Tenant B cannot save events to Tenant A's task: refused");
        }
        Ok(()) => return Err("tenant isolation violated: Tenant B saved to Tenant A's task".into()),
        Err(other) => return Err(other.into()),
    }
    println!("Tenant isolation verified");
    Ok(())
}
