//! Which projections the tool can run: the guide's built-in ones, found by
//! name. A database may also hold read models of projections that a
//! program of its own runs; the tool can list and show those, and manage
//! their dead letters, but not run them, since their code is not here.

use std::sync::Arc;

use anyhow::bail;
use eventsource::projection::{Projection, ProjectionStore};

/// The built-in projections, in the order they are listed and run.
pub fn builtin() -> Vec<Arc<dyn Projection>> {
    eventsource_examples::guide::projections::builtin()
}

/// The names of the built-in projections, for messages.
pub fn builtin_names() -> String {
    builtin()
        .iter()
        .map(|projection| projection.name().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in projection called `name`.
///
/// # Errors
///
/// When there is none, naming the ones there are.
pub fn find(name: &str) -> anyhow::Result<Arc<dyn Projection>> {
    match builtin().into_iter().find(|projection| projection.name() == name) {
        Some(projection) => Ok(projection),
        None => bail!(
            "no built-in projection named {name:?} (the built-in projections are {})",
            builtin_names()
        ),
    }
}

/// The built-in projections' names, then those of every other projection
/// the database holds a checkpoint of, by name.
///
/// # Errors
///
/// When the store fails.
pub async fn known_names(models: &dyn ProjectionStore) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = builtin()
        .iter()
        .map(|projection| projection.name().to_owned())
        .collect();
    for checkpoint in models.checkpoints().await? {
        if !names.contains(&checkpoint.projection) {
            names.push(checkpoint.projection);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_projections_are_the_guides_three() {
        let names: Vec<String> = builtin().iter().map(|p| p.name().to_owned()).collect();
        assert_eq!(names, ["order_summaries", "tenant_orders", "tenant_statistics"]);
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_valid_ones() {
        let error = find("orders").err().expect("no such projection").to_string();
        assert_eq!(
            error,
            "no built-in projection named \"orders\" (the built-in projections are \
             order_summaries, tenant_orders, tenant_statistics)"
        );
        assert_eq!(find("tenant_orders").unwrap().name(), "tenant_orders");
    }
}
