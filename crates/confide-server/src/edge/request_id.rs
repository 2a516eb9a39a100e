//! Request ids from the injected entropy; echoed as `x-request-id` and recorded in logs.

use axum::http::{HeaderValue, Request};
use confide_core::entropy::{SharedEntropy, random_array};
use tower_http::request_id::{MakeRequestId, RequestId};

pub const HEADER: &str = "x-request-id";

#[derive(Clone)]
pub struct MakeId(pub SharedEntropy);

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let bytes: [u8; 12] = random_array(self.0.as_ref());
        HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// The request id of a request, for logs and error reports.
pub fn of<B>(req: &Request<B>) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}
