//! The Task aggregate of the guide.

use eventsource::{event_set, Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// A task was created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskCreated {
    /// What to do.
    pub title: String,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who should do it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

impl DomainEvent for TaskCreated {
    const EVENT_TYPE: &'static str = "TaskCreated";
    const AGGREGATE_TYPE: &'static str = "Task";
}

/// A task was done.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskCompleted {
    /// Who did it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
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

/// A task's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// What to do.
    pub title: String,
    /// Who should do it.
    pub assigned_to: Option<String>,
    /// Whether it is done.
    pub completed: bool,
}

impl Aggregate for Task {
    type Event = TaskEvent;

    fn apply(&mut self, event: &TaskEvent) {
        match event {
            TaskEvent::Created(created) => {
                self.title = created.title.clone();
                self.assigned_to = created.assigned_to.clone();
            }
            TaskEvent::Completed(_) => self.completed = true,
        }
    }
}
