//! Events and their envelope.
//!
//! An event is a typed payload (what happened, in the domain's words) inside
//! an [`Envelope`] (who, when, to which aggregate, in which tenant, caused by
//! what). Payload types implement [`DomainEvent`]; the set of events one
//! aggregate accepts implements [`EventSet`], usually through the
//! [`event_set!`](crate::event_set) macro, which is also the registry that
//! maps a stored `event_type` name back to its Rust type.
//!
//! [`RawEvent`] is an event whose payload is still JSON: what stores hold and
//! what readers get when they ask for events of types they do not know.

use chrono::{DateTime, SubsecRound, Utc};
use serde::de::{DeserializeOwned, Visitor};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::tenant::{get_required_tenant, TenancyError, TenantId};

/// The JSON object type used for metadata and raw payloads.
pub type JsonObject = Map<String, Value>;

/// One kind of event: a payload type with a fixed name.
///
/// ```
/// use eventsource::DomainEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct TaskCompleted { completed_by: String }
///
/// impl DomainEvent for TaskCompleted {
///     const EVENT_TYPE: &'static str = "TaskCompleted";
///     const AGGREGATE_TYPE: &'static str = "Task";
/// }
/// ```
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The name stored in `event_type`.
    const EVENT_TYPE: &'static str;
    /// The aggregate type this event belongs to.
    const AGGREGATE_TYPE: &'static str;
    /// The schema version of the payload.
    const EVENT_VERSION: u32 = 1;
}

/// The events one aggregate type accepts, and the registry that decodes a
/// stored event by its `event_type` name.
pub trait EventSet: Clone + Send + Sync + 'static {
    /// The aggregate type these events belong to.
    const AGGREGATE_TYPE: &'static str;
    /// Every event type name of the set.
    const EVENT_TYPES: &'static [&'static str];

    /// The `event_type` name of this event.
    fn event_type(&self) -> &'static str;
    /// The payload schema version of this event.
    fn event_version(&self) -> u32;
    /// The payload as a JSON object.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Payload`] when the payload does not serialise to an
    /// object.
    fn to_payload(&self) -> Result<JsonObject, DecodeError>;
    /// Decodes a stored payload of the named type.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownEventType`] for a name outside the set, and
    /// [`DecodeError::Payload`] when the payload does not match the type.
    fn from_payload(event_type: &str, payload: &JsonObject) -> Result<Self, DecodeError>;
}

/// Serialises a single payload as a JSON object.
///
/// # Errors
///
/// [`DecodeError::Payload`] when the payload is not a JSON object, or has a
/// field named like an envelope field (`tenant_id`, `event_id`, …).
pub fn payload_to_object<P: Serialize>(event_type: &str, payload: &P) -> Result<JsonObject, DecodeError> {
    match serde_json::to_value(payload) {
        Ok(Value::Object(object)) => {
            // The flat interchange form puts payload fields beside the
            // envelope's: a payload field of the same name would replace it.
            if let Some(field) = object
                .keys()
                .find(|key| crate::interchange::ENVELOPE_FIELDS.contains(&key.as_str()))
            {
                return Err(DecodeError::Payload {
                    event_type: event_type.to_owned(),
                    message: format!("payload field `{field}` has the name of an envelope field"),
                });
            }
            Ok(object)
        }
        Ok(other) => Err(DecodeError::Payload {
            event_type: event_type.to_owned(),
            message: format!("a payload must serialise to a JSON object, not {other}"),
        }),
        Err(error) => Err(DecodeError::Payload {
            event_type: event_type.to_owned(),
            message: error.to_string(),
        }),
    }
}

/// Decodes a single payload from a JSON object.
///
/// # Errors
///
/// [`DecodeError::Payload`] naming the type and what did not match.
pub fn payload_from_object<P: DeserializeOwned>(
    event_type: &str,
    payload: &JsonObject,
) -> Result<P, DecodeError> {
    // Deserialising from the borrowed map copies nothing, and `&Value`
    // keeps numbers exact (arbitrary precision).
    P::deserialize(BorrowedObject(payload)).map_err(|error| DecodeError::Payload {
        event_type: event_type.to_owned(),
        message: error.to_string(),
    })
}

/// A payload object deserialised in place, accepting every payload type
/// that serialises to an object, as deserialising from an owned
/// `Value::Object` does: structs and maps, newtype structs around them,
/// `Option`s of them and externally tagged enums (serde_json's own
/// deserializer for a borrowed map refuses newtypes and options).
struct BorrowedObject<'a>(&'a JsonObject);

impl<'de> serde::Deserializer<'de> for BorrowedObject<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// Declares the enum of events an aggregate accepts and implements
/// [`EventSet`] for it. Each variant wraps one [`DomainEvent`] type.
///
/// ```
/// use eventsource::{event_set, DomainEvent, EventSet};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// pub struct TaskCreated { pub title: String }
/// impl DomainEvent for TaskCreated {
///     const EVENT_TYPE: &'static str = "TaskCreated";
///     const AGGREGATE_TYPE: &'static str = "Task";
/// }
///
/// event_set! {
///     /// Everything that can happen to a task.
///     pub enum TaskEvent: "Task" {
///         Created(TaskCreated),
///     }
/// }
///
/// assert_eq!(TaskEvent::EVENT_TYPES, &["TaskCreated"]);
/// ```
#[macro_export]
macro_rules! event_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $aggregate_type:literal {
            $($variant:ident($payload:ty)),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis enum $name {
            $($variant($payload)),+
        }

        $(
            impl From<$payload> for $name {
                fn from(event: $payload) -> Self {
                    Self::$variant(event)
                }
            }
        )+

        impl $crate::EventSet for $name {
            const AGGREGATE_TYPE: &'static str = $aggregate_type;
            const EVENT_TYPES: &'static [&'static str] =
                &[$(<$payload as $crate::DomainEvent>::EVENT_TYPE),+];

            fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$payload as $crate::DomainEvent>::EVENT_TYPE),+
                }
            }

            fn event_version(&self) -> u32 {
                match self {
                    $(Self::$variant(_) => <$payload as $crate::DomainEvent>::EVENT_VERSION),+
                }
            }

            fn to_payload(&self) -> Result<$crate::JsonObject, $crate::DecodeError> {
                match self {
                    $(Self::$variant(event) => $crate::event::payload_to_object(
                        <$payload as $crate::DomainEvent>::EVENT_TYPE,
                        event,
                    )),+
                }
            }

            fn from_payload(
                event_type: &str,
                payload: &$crate::JsonObject,
            ) -> Result<Self, $crate::DecodeError> {
                $(
                    if event_type == <$payload as $crate::DomainEvent>::EVENT_TYPE {
                        return $crate::event::payload_from_object::<$payload>(event_type, payload)
                            .map(Self::$variant);
                    }
                )+
                Err($crate::DecodeError::UnknownEventType {
                    event_type: event_type.to_owned(),
                    aggregate_type: $aggregate_type.to_owned(),
                })
            }
        }
    };
}

/// A stored event could not be turned back into a typed event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The stored `event_type` is not one the reader knows.
    #[error("unknown event type {event_type:?} for aggregate type {aggregate_type:?}; read it as a raw event instead")]
    UnknownEventType {
        /// The stored name.
        event_type: String,
        /// The aggregate type the reader expected.
        aggregate_type: String,
    },
    /// The payload does not match its type.
    #[error("payload of {event_type} does not match its type: {message}")]
    Payload {
        /// The event type being decoded.
        event_type: String,
        /// What did not match.
        message: String,
    },
}

/// Everything about an event except its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Unique id of the event; stored once.
    pub event_id: Uuid,
    /// The payload's type name.
    pub event_type: String,
    /// The payload's schema version (1 unless the payload type says so).
    pub event_version: u32,
    /// When it happened, in UTC with microsecond precision.
    pub occurred_at: DateTime<Utc>,
    /// The aggregate the event belongs to.
    pub aggregate_id: Uuid,
    /// The aggregate's type; with `aggregate_id` it names the stream.
    pub aggregate_type: String,
    /// The 1-based position of the event in its stream.
    pub aggregate_version: u64,
    /// The tenant, when the event belongs to one.
    pub tenant_id: Option<TenantId>,
    /// Who caused it (a user, a service), when known.
    pub actor_id: Option<String>,
    /// Shared by every event of one business operation.
    pub correlation_id: Uuid,
    /// The event that caused this one, when there is one.
    pub causation_id: Option<Uuid>,
    /// Free-form context.
    pub metadata: JsonObject,
}

/// An event: its envelope and a payload of type `P`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<P> {
    /// Ids, stream, tenant, time and causality.
    pub envelope: Envelope,
    /// What happened.
    pub payload: P,
}

/// An event whose payload is still JSON, as stored.
pub type RawEvent = Event<JsonObject>;

/// A stored event with its position in the global feed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The position in the global feed; strictly increasing in commit order.
    pub position: u64,
    /// The event as stored.
    pub event: RawEvent,
}

/// The current time truncated to microseconds, the precision every store keeps.
pub fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Envelope {
    /// A new envelope for an event of `event_type` in the stream
    /// `(aggregate_id, aggregate_type)`: fresh event and correlation ids, the
    /// current time, version 1 of the payload and of the stream, no tenant.
    pub fn new(event_type: impl Into<String>, aggregate_id: Uuid, aggregate_type: impl Into<String>) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            event_type: event_type.into(),
            event_version: 1,
            occurred_at: now_micros(),
            aggregate_id,
            aggregate_type: aggregate_type.into(),
            aggregate_version: 1,
            tenant_id: None,
            actor_id: None,
            correlation_id: Uuid::new_v4(),
            causation_id: None,
            metadata: JsonObject::new(),
        }
    }
}

impl<E: EventSet> Event<E> {
    /// A new event for the aggregate `aggregate_id`, with a fresh envelope.
    pub fn new(aggregate_id: Uuid, payload: impl Into<E>) -> Self {
        let payload = payload.into();
        let mut envelope = Envelope::new(payload.event_type(), aggregate_id, E::AGGREGATE_TYPE);
        envelope.event_version = payload.event_version();
        Self { envelope, payload }
    }

    /// A new event stamped with the tenant of the current context.
    ///
    /// # Errors
    ///
    /// [`TenancyError::ContextNotSet`] outside a tenant scope.
    pub fn with_tenant_context(aggregate_id: Uuid, payload: impl Into<E>) -> Result<Self, TenancyError> {
        let tenant = get_required_tenant()?;
        Ok(Self::new(aggregate_id, payload).with_tenant(tenant))
    }

    /// Encodes the payload into a raw event for storing.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Payload`] when the payload does not serialise.
    pub fn to_raw(&self) -> Result<RawEvent, DecodeError> {
        Ok(Event {
            envelope: self.envelope.clone(),
            payload: self.payload.to_payload()?,
        })
    }
}

impl<P> Event<P> {
    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: TenantId) -> Self {
        self.envelope.tenant_id = Some(tenant);
        self
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor_id: impl Into<String>) -> Self {
        self.envelope.actor_id = Some(actor_id.into());
        self
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.envelope.metadata.insert(key.into(), value.into());
        self
    }

    /// Marks this event as caused by `parent`: it takes the parent's tenant
    /// and correlation id, and its causation id becomes the parent's event id.
    pub fn caused_by<Q>(mut self, parent: &Event<Q>) -> Self {
        self.envelope.tenant_id = parent.envelope.tenant_id;
        self.envelope.correlation_id = parent.envelope.correlation_id;
        self.envelope.causation_id = Some(parent.envelope.event_id);
        self
    }
}

impl RawEvent {
    /// Decodes the payload into the typed event set `E`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownEventType`] naming the stored type when `E` does
    /// not know it, [`DecodeError::Payload`] when the payload does not match.
    pub fn decode<E: EventSet>(&self) -> Result<Event<E>, DecodeError> {
        if self.envelope.aggregate_type != E::AGGREGATE_TYPE {
            return Err(DecodeError::UnknownEventType {
                event_type: self.envelope.event_type.clone(),
                aggregate_type: E::AGGREGATE_TYPE.to_owned(),
            });
        }
        Ok(Event {
            envelope: self.envelope.clone(),
            payload: E::from_payload(&self.envelope.event_type, &self.payload)?,
        })
    }
}

/// An event whose tenant is required: it can only be built with a tenant,
/// either given or taken from the current context.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantEvent<P> {
    tenant_id: TenantId,
    event: Event<P>,
}

impl<E: EventSet> TenantEvent<E> {
    /// A new event of `tenant`.
    pub fn new(tenant: TenantId, aggregate_id: Uuid, payload: impl Into<E>) -> Self {
        Self {
            tenant_id: tenant,
            event: Event::new(aggregate_id, payload).with_tenant(tenant),
        }
    }

    /// A new event of the tenant of the current context.
    ///
    /// # Errors
    ///
    /// [`TenancyError::ContextNotSet`] outside a tenant scope.
    pub fn from_context(aggregate_id: Uuid, payload: impl Into<E>) -> Result<Self, TenancyError> {
        Ok(Self::new(get_required_tenant()?, aggregate_id, payload))
    }
}

impl<P> TenantEvent<P> {
    /// The tenant, always present.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The event inside.
    pub fn event(&self) -> &Event<P> {
        &self.event
    }

    /// Unwraps the event.
    pub fn into_event(self) -> Event<P> {
        self.event
    }
}
