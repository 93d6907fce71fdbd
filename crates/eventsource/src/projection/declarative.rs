//! Projections declared as typed handlers, one per event type, each
//! changing one document.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::store::{DocumentKey, ProjectionTx};
use super::{Projection, ProjectionError};
use crate::event::{payload_from_object, DomainEvent, Envelope, Event, StoredEvent};
use crate::store::TenantFilter;

type Handler<D> = Arc<dyn Fn(&StoredEvent, &mut Option<D>) -> Result<(), ProjectionError> + Send + Sync>;
type KeyFn = Arc<dyn Fn(&Envelope) -> DocumentKey + Send + Sync>;

/// A projection whose handlers are picked by event type. Each handler gets
/// the typed event and the document it changes (`None` when there is none
/// yet; set it to `None` to delete the document).
///
/// ```
/// use eventsource::projection::{DeclarativeProjection, DocumentKey};
/// use eventsource::DomainEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct TaskCreated { title: String }
/// impl DomainEvent for TaskCreated {
///     const EVENT_TYPE: &'static str = "TaskCreated";
///     const AGGREGATE_TYPE: &'static str = "Task";
/// }
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct TaskCount { tasks: u64 }
///
/// let projection = DeclarativeProjection::<TaskCount>::new("task_counts")
///     .keyed_by(DocumentKey::per_tenant)
///     .on::<TaskCreated>(|_event, count| {
///         count.get_or_insert_with(TaskCount::default).tasks += 1;
///         Ok(())
///     });
/// ```
pub struct DeclarativeProjection<D> {
    name: String,
    tenant: TenantFilter,
    key: KeyFn,
    handlers: HashMap<&'static str, Handler<D>>,
}

impl<D: Serialize + DeserializeOwned + Send + Sync + 'static> DeclarativeProjection<D> {
    /// A projection with no handlers, one document per aggregate, every
    /// tenant.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tenant: TenantFilter::Any,
            key: Arc::new(DocumentKey::per_aggregate),
            handlers: HashMap::new(),
        }
    }

    /// Sees only the events `tenant` admits.
    pub fn for_tenant(mut self, tenant: TenantFilter) -> Self {
        self.tenant = tenant;
        self
    }

    /// Chooses the document each event changes.
    pub fn keyed_by(mut self, key: impl Fn(&Envelope) -> DocumentKey + Send + Sync + 'static) -> Self {
        self.key = Arc::new(key);
        self
    }

    /// Handles events of type `P`. The handler's `Err` text is what a dead
    /// letter records.
    pub fn on<P: DomainEvent>(
        mut self,
        handler: impl Fn(&Event<P>, &mut Option<D>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        let typed: Handler<D> = Arc::new(move |stored, document| {
            let envelope = &stored.event.envelope;
            let payload: P = payload_from_object(&envelope.event_type, &stored.event.payload)?;
            let event = Event {
                envelope: envelope.clone(),
                payload,
            };
            handler(&event, document).map_err(ProjectionError::Handler)
        });
        self.handlers.insert(P::EVENT_TYPE, typed);
        self
    }
}

#[async_trait]
impl<D: Serialize + DeserializeOwned + Send + Sync + 'static> Projection for DeclarativeProjection<D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn event_types(&self) -> Option<Vec<String>> {
        let mut types: Vec<String> = self.handlers.keys().map(|name| (*name).to_owned()).collect();
        types.sort();
        Some(types)
    }

    fn tenant_filter(&self) -> TenantFilter {
        self.tenant
    }

    /// The key of every event it has a handler for, as [`Self::apply`]
    /// will ask for it.
    fn document_keys(&self, events: &[StoredEvent]) -> Option<Vec<DocumentKey>> {
        let keys = events
            .iter()
            .map(|event| &event.event.envelope)
            .filter(|envelope| self.handlers.contains_key(envelope.event_type.as_str()))
            .map(|envelope| (self.key)(envelope))
            .collect();
        Some(keys)
    }

    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let envelope = &event.event.envelope;
        let Some(handler) = self.handlers.get(envelope.event_type.as_str()) else {
            // Never reached through the runner, which asks only for handled
            // types; a caller feeding events by hand gets the same skip.
            return Ok(());
        };
        let DocumentKey { tenant_id, key } = (self.key)(envelope);
        let malformed = |message: String| ProjectionError::Document {
            key: key.clone(),
            message,
        };

        let mut document: Option<D> = model
            .get(tenant_id, &key)
            .await?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|error| malformed(error.to_string()))?;
        handler(event, &mut document)?;
        match document {
            Some(document) => {
                let value = serde_json::to_value(&document).map_err(|error| malformed(error.to_string()))?;
                model.put(tenant_id, &key, &value).await?;
            }
            None => model.delete(tenant_id, &key).await?,
        }
        Ok(())
    }
}
