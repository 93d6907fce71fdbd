//! The tower layer that authenticates each request and runs its handler
//! inside the tenant scope.
//!
//! The scope is opened around the inner service's whole future: the handler
//! and everything it awaits see the tenant through
//! [`eventsource::get_current_tenant`], and so do the tasks it spawns with
//! [`eventsource::spawn_with_tenant`] (which carry their own copy of the
//! tenant for as long as they run). The scope ends when the inner service
//! has produced its response; the next request served on the same
//! connection starts with no tenant. A response body streamed after that
//! point is produced outside the scope.

use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use eventsource::{tenant_scope, tenant_scope_sync};
use futures::future::BoxFuture;
use tower_layer::Layer;
use tower_service::Service;
use tracing::{debug, Instrument};

use crate::TenantAuth;

/// A tower [`Layer`] that authenticates requests with a [`TenantAuth`] and
/// runs the services it wraps inside the request's tenant scope. A request
/// it refuses never reaches them: it answers with the
/// [`TenantRejection`](crate::TenantRejection)'s status and JSON body.
///
/// ```
/// use axum::{routing::get, Router};
/// use eventsource_axum::{CurrentTenant, TenantAuth, TenantLayer};
///
/// async fn whoami(CurrentTenant(tenant): CurrentTenant) -> String {
///     tenant.to_string()
/// }
///
/// let auth = TenantAuth::hs256(b"a secret of at least thirty-two bytes!")?;
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .route_layer(TenantLayer::new(auth));
/// # Ok::<(), eventsource_axum::AuthConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TenantLayer {
    auth: TenantAuth,
}

impl TenantLayer {
    /// A layer that authenticates with `auth`.
    pub fn new(auth: TenantAuth) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for TenantLayer {
    type Service = TenantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`TenantLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct TenantService<S> {
    inner: S,
    auth: TenantAuth,
}

impl<S, B> Service<Request<B>> for TenantService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let authenticated = match self.auth.authenticate(request.headers()) {
            Ok(authenticated) => authenticated,
            Err(rejection) => {
                debug!(status = rejection.status().as_u16(), reason = %rejection, "request refused");
                return Box::pin(std::future::ready(Ok(rejection.into_response())));
            }
        };
        let tenant = authenticated.tenant_id();
        request.extensions_mut().insert(authenticated);

        // The instance that was polled ready serves this request; a clone
        // takes its place for the next one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let span = tracing::info_span!("tenant_request", tenant = %tenant);
        // Work the inner service does before returning its future runs in
        // the scope too, not only the future itself.
        let response = span.in_scope(|| tenant_scope_sync(tenant, || inner.call(request)));
        Box::pin(tenant_scope(tenant, response).instrument(span))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{header, StatusCode};
    use eventsource::{get_current_tenant, TenantId};
    use tower::{service_fn, ServiceExt};

    use super::*;
    use crate::issue_token;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn request_for(tenant: TenantId) -> Request<Body> {
        let token = issue_token(SECRET, tenant, Duration::from_secs(60)).unwrap();
        Request::builder()
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    }

    fn layer() -> TenantLayer {
        TenantLayer::new(TenantAuth::hs256(SECRET).unwrap())
    }

    #[tokio::test]
    async fn the_inner_service_runs_in_the_scope_and_the_caller_does_not() {
        let inner = service_fn(|request: Request<Body>| async move {
            let seen = get_current_tenant();
            let stored = request
                .extensions()
                .get::<crate::Authenticated>()
                .map(|a| a.tenant_id());
            assert_eq!(seen, stored);
            Ok::<_, Infallible>(format!("{seen:?}").into_response())
        });
        let tenant = TenantId::new_random();
        let response = layer().layer(inner).oneshot(request_for(tenant)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(get_current_tenant(), None);
    }

    #[tokio::test]
    async fn work_done_before_the_inner_future_is_in_the_scope_too() {
        #[derive(Clone)]
        struct Eager;
        impl Service<Request<Body>> for Eager {
            type Response = Response;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request<Body>) -> Self::Future {
                // Decided synchronously, while `call` runs.
                std::future::ready(Ok(format!("{:?}", get_current_tenant()).into_response()))
            }
        }
        let tenant = TenantId::new_random();
        let response = layer().layer(Eager).oneshot(request_for(tenant)).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(body, format!("{:?}", Some(tenant)));
        assert_eq!(get_current_tenant(), None);
    }

    #[tokio::test]
    async fn a_refused_request_never_reaches_the_inner_service() {
        let inner = service_fn(|_: Request<Body>| async {
            panic!("the inner service was called");
            #[allow(unreachable_code)]
            Ok::<Response, Infallible>(().into_response())
        });
        let response = layer()
            .layer(inner)
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
