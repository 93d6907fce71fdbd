//! The demo's commands on the guide's Task aggregate: create a task once,
//! complete it once. The domain itself (events, state) is the guide's, in
//! `eventsource_examples::guide::task`; these are the decisions a command
//! handler makes before recording an event.

use anyhow::bail;
use eventsource::{AggregateRoot, Event};
pub use eventsource_examples::guide::task::{Task, TaskCompleted, TaskCreated};

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
    if task.state().completed {
        bail!("task {} is already completed", task.id());
    }
    let completed = TaskCompleted {
        completed_by: Some(actor.to_owned()),
    };
    task.record_event(Event::new(task.id(), completed).with_actor(actor));
    Ok(())
}

#[cfg(test)]
mod tests {
    use eventsource_examples::guide::task::TaskEvent;
    use uuid::Uuid;

    use super::*;

    fn new_task() -> AggregateRoot<Task> {
        AggregateRoot::<Task>::new(Uuid::new_v4(), None)
    }

    fn created(title: &str, assigned_to: Option<&str>) -> TaskCreated {
        TaskCreated {
            title: title.into(),
            description: None,
            assigned_to: assigned_to.map(str::to_owned),
        }
    }

    #[test]
    fn a_task_is_completed_once() {
        let mut task = new_task();
        create(&mut task, created("Write the report", None), "user:alice").unwrap();
        complete(&mut task, "user:alice").unwrap();
        assert!(task.state().completed);
        assert!(complete(&mut task, "user:bob").is_err());
        assert_eq!(task.version(), 2);
    }

    #[test]
    fn a_task_that_was_never_created_cannot_be_completed() {
        assert!(complete(&mut new_task(), "user:alice").is_err());
    }

    #[test]
    fn recorded_events_carry_the_actor_and_who_completed_the_task() {
        let mut task = new_task();
        create(&mut task, created("Plan", Some("bob")), "user:alice").unwrap();
        complete(&mut task, "user:bob").unwrap();
        let events = task.uncommitted_events();
        assert_eq!(events[0].envelope.actor_id.as_deref(), Some("user:alice"));
        assert!(
            matches!(
                &events[1].payload,
                TaskEvent::Completed(TaskCompleted { completed_by: Some(by) }) if by == "user:bob"
            ),
            "{:?}",
            events[1].payload
        );
    }
}
