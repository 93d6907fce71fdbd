//! The Task aggregate of the multi-tenant guide: a task is created with a
//! title (and optionally a description and an assignee) and completed once.

use anyhow::bail;
use eventsource::{event_set, Aggregate, AggregateRoot, DomainEvent, Event};
use serde::{Deserialize, Serialize};

/// A task was created.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskCreated {
    /// What is to be done.
    pub title: String,
    /// More words about it.
    pub description: Option<String>,
    /// Who is to do it.
    pub assigned_to: Option<String>,
}

impl DomainEvent for TaskCreated {
    const EVENT_TYPE: &'static str = "TaskCreated";
    const AGGREGATE_TYPE: &'static str = "Task";
}

/// A task was done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskCompleted {
    /// Who did it.
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

/// A task's state, rebuilt from its events.
#[derive(Debug, Default)]
pub struct Task {
    /// What is to be done.
    pub title: String,
    /// Who is to do it.
    pub assigned_to: Option<String>,
    /// Who did it, once done.
    pub completed_by: Option<String>,
}

impl Aggregate for Task {
    type Event = TaskEvent;

    fn apply(&mut self, event: &TaskEvent) {
        match event {
            TaskEvent::Created(created) => {
                self.title.clone_from(&created.title);
                self.assigned_to.clone_from(&created.assigned_to);
            }
            TaskEvent::Completed(completed) => self.completed_by = Some(completed.completed_by.clone()),
        }
    }
}

/// Records the creation of a new task, done by `actor`.
///
/// # Errors
///
/// When the task already exists.
pub fn create(task: &mut AggregateRoot<Task>, created: TaskCreated, actor: &str) -> anyhow::Result<()> {
    if task.version() > 0 {
        bail!("task {} already exists", task.id());
    }
    task.record_event(Event::new(task.id(), created).with_actor(actor));
    Ok(())
}

/// Records that `actor` completed the task.
///
/// # Errors
///
/// When the task does not exist or is already completed.
pub fn complete(task: &mut AggregateRoot<Task>, actor: &str) -> anyhow::Result<()> {
    if task.version() == 0 {
        bail!("task {} does not exist", task.id());
    }
    if task.state().completed_by.is_some() {
        bail!("task {} is already completed", task.id());
    }
    let completed = TaskCompleted {
        completed_by: actor.to_owned(),
    };
    task.record_event(Event::new(task.id(), completed).with_actor(actor));
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_task_is_completed_once() {
        let mut task = AggregateRoot::<Task>::new(Uuid::new_v4(), None);
        let created = TaskCreated {
            title: "Write the report".into(),
            description: None,
            assigned_to: None,
        };
        create(&mut task, created, "user:alice").unwrap();
        complete(&mut task, "user:alice").unwrap();
        assert_eq!(task.state().completed_by.as_deref(), Some("user:alice"));
        assert!(complete(&mut task, "user:bob").is_err());
        assert_eq!(task.version(), 2);
    }

    #[test]
    fn recorded_events_carry_the_actor() {
        let mut task = AggregateRoot::<Task>::new(Uuid::new_v4(), None);
        let created = TaskCreated {
            title: "Plan".into(),
            description: None,
            assigned_to: Some("bob".into()),
        };
        create(&mut task, created, "user:alice").unwrap();
        assert_eq!(
            task.uncommitted_events()[0].envelope.actor_id.as_deref(),
            Some("user:alice")
        );
    }
}
