//! The route table: the one place each route declares who may call it. [`RouteTable::route`]
//! takes the access as a required argument (a route without one does not compile), wraps the
//! handler in the guard for it, and records a [`RouteSpec`] so tests can walk every route
//! (`api::route_specs()`), e.g. the authorization matrix.

use crate::auth::guard;
use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

pub use crate::auth::guard::Access;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
}

/// One route and its declared access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// The axum path template, e.g. `/api/v1/users/{id}`.
    pub path: &'static str,
    pub access: Access,
}

/// Routes being declared.
#[derive(Default)]
pub struct RouteTable {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route with its access; the guard for `access` runs before `handler`.
    pub fn route<H, T>(self, verb: Verb, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(verb, path, access, None, handler)
    }

    fn add<H, T>(
        mut self,
        verb: Verb,
        path: &'static str,
        access: Access,
        body_limit: Option<usize>,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mut method_router: MethodRouter<AppState> = match verb {
            Verb::Get => get(handler),
            Verb::Post => post(handler),
            Verb::Put => put(handler),
            Verb::Patch => patch(handler),
            Verb::Delete => delete(handler),
        };
        if let Some(limit) = body_limit {
            method_router = method_router.layer(axum::extract::DefaultBodyLimit::max(limit));
        }
        let guarded = method_router.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                guard::check(access, req, next)
            },
        ));
        self.router = self.router.route(path, guarded);
        self.specs.push(RouteSpec {
            method: verb.method(),
            path,
            access,
        });
        self
    }

    /// [`route`](Self::route) with its own body limit (uploads).
    pub fn route_with_body_limit<H, T>(
        self,
        verb: Verb,
        path: &'static str,
        access: Access,
        limit: usize,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(verb, path, access, Some(limit), handler)
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
