//! Running the service: the HTTP server plus the read models it serves
//! from, until shutdown.

use std::future::Future;
use std::sync::Arc;

use eventsource::projection::{Projection, ProjectionRunner};
use eventsource_examples::guide::projections::{tenant_statistics, OrderSummaryProjection};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info};

use crate::{router, AppState};

/// The read models the service answers from: the order summaries
/// (`GET /orders`) and the tenant statistics (`GET /stats`).
pub fn read_models() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(OrderSummaryProjection::new()),
        Arc::new(tenant_statistics()),
    ]
}

/// Serves the API on `listener` until `shutdown` completes, keeping the
/// [`read_models`] up to date in background tasks meanwhile.
///
/// The read models follow the event store: `GET /orders` and `GET /stats`
/// show a write once its projection has caught up, usually within a
/// fraction of a second (the runner's poll interval). `GET /orders/{id}`
/// reads the order's events and always shows every write that answered.
///
/// On shutdown the server stops accepting connections, finishes the
/// requests under way, then the projections finish and commit the batch
/// they are in.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use eventsource_axum::TenantAuth;
/// use eventsource_service::{serve, AppState};
///
/// let auth = TenantAuth::hs256_from_file("jwt-secret")?;
/// let state = AppState::open_sqlite("sqlite://events.db", auth).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// serve(listener, state, async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let address = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let runner = ProjectionRunner::new(Arc::clone(state.projection_feed()), Arc::clone(&state.models));
    let projections: Vec<_> = read_models()
        .into_iter()
        .map(|projection| {
            let runner = runner.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let stop_requested = async move {
                    // An error means the sender is gone: stop as well.
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                runner.run(projection, stop_requested).await;
            })
        })
        .collect();

    info!(%address, "serving");
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    info!("server stopped; stopping projections");

    // Ignored error: every receiver may already be gone.
    let _ = stop.send(true);
    for projection in projections {
        if let Err(failure) = projection.await {
            error!(%failure, "a projection task failed");
        }
    }
    served
}
