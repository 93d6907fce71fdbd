//! The `demo` command: the multi-tenant guide's complete example, run
//! against whatever store `--database` names.
//!
//! Two tenants create tasks through a tenant-aware repository, each inside
//! its own tenant scope; one task is completed. The demo then lists each
//! tenant's events with a tenant-filtered query and checks the isolation
//! the guide promises. A broken promise is an error, not a line of output,
//! so the command fails when isolation does not hold.

mod task;

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use eventsource::{
    tenant_scope, EventFilter, EventStore, RepositoryError, TenantAwareRepository, TenantFilter, TenantId,
};
use uuid::Uuid;

use self::task::{Task, TaskCompleted, TaskCreated};

type Tasks = TenantAwareRepository<Task>;

struct Tenant {
    label: &'static str,
    name: &'static str,
    id: TenantId,
}

/// Runs the demo and prints what happens.
///
/// # Errors
///
/// When the store fails or tenant isolation does not hold.
pub async fn run(store: Arc<dyn EventStore>, out: &mut impl Write) -> anyhow::Result<()> {
    let tasks = Tasks::new(Arc::clone(&store));
    let acme = Tenant {
        label: "Tenant A",
        name: "Acme Corp",
        id: TenantId::new_random(),
    };
    let globex = Tenant {
        label: "Tenant B",
        name: "Globex",
        id: TenantId::new_random(),
    };

    writeln!(out, "=== Multi-Tenant Event Sourcing Demo ===")?;
    for tenant in [&acme, &globex] {
        writeln!(out, "{} ({}): {}", tenant.label, tenant.name, tenant.id)?;
    }
    writeln!(out)?;

    let report = create_task(&tasks, &acme, "Prepare the quarterly report", Some("alice"), out).await?;
    create_task(&tasks, &acme, "Review vendor contracts", None, out).await?;
    create_task(&tasks, &globex, "Plan the product launch", Some("bob"), out).await?;
    create_task(&tasks, &globex, "Migrate the billing system", None, out).await?;
    complete_task(&tasks, &acme, report, "user:alice", out).await?;
    writeln!(out)?;

    for tenant in [&acme, &globex] {
        list_events(store.as_ref(), tenant, out).await?;
    }
    writeln!(
        out,
        "Total events in store: {}",
        store.count(&EventFilter::all()).await?
    )?;
    writeln!(out)?;

    check_isolation(&tasks, &acme, &globex, report, out).await?;
    writeln!(out, "Isolation: each tenant's query returns only its own events")?;
    writeln!(out, "Tenant isolation verified")?;
    Ok(())
}

async fn create_task(
    tasks: &Tasks,
    tenant: &Tenant,
    title: &str,
    assigned_to: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<Uuid> {
    let id = Uuid::new_v4();
    let created = TaskCreated {
        title: title.to_owned(),
        description: Some(format!("{title}, for {}", tenant.name)),
        assigned_to: assigned_to.map(str::to_owned),
    };
    tenant_scope(tenant.id, async {
        let mut task = tasks.create_new(id)?;
        task::create(&mut task, created, "user:demo")?;
        tasks.save(&mut task).await?;
        anyhow::Ok(())
    })
    .await
    .with_context(|| format!("cannot create a task for {}", tenant.label))?;
    writeln!(out, "Created task for {}: {id}", tenant.label)?;
    Ok(id)
}

async fn complete_task(
    tasks: &Tasks,
    tenant: &Tenant,
    id: Uuid,
    actor: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    tenant_scope(tenant.id, async {
        let mut task = tasks.load(id).await?;
        task::complete(&mut task, actor)?;
        tasks.save(&mut task).await?;
        anyhow::Ok(())
    })
    .await
    .with_context(|| format!("cannot complete task {id} of {}", tenant.label))?;
    writeln!(out, "Completed task for {}: {id}", tenant.label)?;
    Ok(())
}

/// Lists the tenant's Task events (the guide's `get_events_by_type` with a
/// tenant), checking that the query returned no other tenant's event.
async fn list_events(store: &dyn EventStore, tenant: &Tenant, out: &mut impl Write) -> anyhow::Result<()> {
    let filter = EventFilter::tenant(TenantFilter::Tenant(tenant.id)).aggregate_type("Task");
    let events = store.events_by_type(filter, None).await?;
    writeln!(out, "{} events: {}", tenant.label, events.len())?;
    for stored in &events {
        let envelope = &stored.event.envelope;
        if envelope.tenant_id != Some(tenant.id) {
            bail!(
                "tenant isolation violated: {}'s query returned another tenant's event",
                tenant.label
            );
        }
        writeln!(
            out,
            "  - {} (aggregate {})",
            envelope.event_type, envelope.aggregate_id
        )?;
    }
    Ok(())
}

/// Tenant B, in its own scope, can neither load, detect nor change Tenant
/// A's task.
async fn check_isolation(
    tasks: &Tasks,
    owner: &Tenant,
    other: &Tenant,
    id: Uuid,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (a, b) = (owner.label, other.label);

    match tenant_scope(other.id, tasks.load(id)).await {
        Err(RepositoryError::NotFound { .. }) => {
            writeln!(out, "Isolation: {b} cannot load {a}'s task: not found")?;
        }
        Ok(_) => bail!("tenant isolation violated: {b} loaded {a}'s task"),
        Err(error) => return Err(error).context(format!("{b} loading {a}'s task failed unexpectedly")),
    }

    if tenant_scope(other.id, tasks.exists(id)).await? {
        bail!("tenant isolation violated: {b} can tell that {a}'s task exists");
    }
    writeln!(out, "Isolation: {b} cannot tell that {a}'s task exists")?;

    let mut task = tenant_scope(owner.id, tasks.load(id)).await?;
    // Recorded directly, as a careless or hostile caller would: the save is
    // what must refuse it.
    task.record(TaskCompleted {
        completed_by: Some("user:intruder".into()),
    });
    let refused = tenant_scope(other.id, tasks.save(&mut task)).await;
    match refused {
        Err(RepositoryError::TenantMismatch { .. }) => {
            writeln!(out, "Isolation: {b} cannot save events to {a}'s task: refused")?;
        }
        Ok(()) => bail!("tenant isolation violated: {b} saved events to {a}'s task"),
        Err(error) => return Err(error).context(format!("{b} saving to {a}'s task failed unexpectedly")),
    }
    Ok(())
}
