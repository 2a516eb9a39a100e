//! Load shedding that keeps webhooks first. A webhook backlog delays every customer's message
//! (Meta retries, but late), so under a flood of UI, API or sign-in traffic the other requests are
//! the ones refused: at most `limits.max_in_flight` of them are answered at once, and at most
//! `limits.sign_in_in_flight` sign-ins (each hashes a password; by default four per core: the
//! hashing itself runs `auth.hashing_permits` at a time, and a longer queue of sign-ins is not
//! kept). Over a cap a request is answered at once with 503 `busy` and
//! `Retry-After: 1` instead of queueing. Webhooks are never counted or shed.

use super::rate::Class;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Shedder {
    others: Arc<Semaphore>,
    sign_ins: Arc<Semaphore>,
}

/// A request's place among those in flight (released when dropped); webhooks hold none.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

impl Shedder {
    pub fn new(limits: &confide_app::config::LimitsConfig) -> Shedder {
        let sign_ins = if limits.sign_in_in_flight == 0 {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2);
            cores * 4
        } else {
            limits.sign_in_in_flight
        };
        Shedder {
            others: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            sign_ins: Arc::new(Semaphore::new(sign_ins)),
        }
    }

    /// Sign-ins that could still start now (for operators' metrics and tests).
    pub fn sign_in_places_left(&self) -> usize {
        self.sign_ins.available_permits()
    }

    /// A place for a request of `class` (`None`: never limited), or `None` when it is shed.
    pub fn admit(&self, class: Option<Class>) -> Option<Admitted> {
        match class {
            // Webhooks, and health checks (a load balancer must see a busy instance alive).
            Some(Class::Webhooks) | None => Some(Admitted(Vec::new())),
            Some(Class::SignIn) => {
                let s = self.sign_ins.clone().try_acquire_owned().ok()?;
                let o = self.others.clone().try_acquire_owned().ok()?;
                Some(Admitted(vec![s, o]))
            }
            _ => Some(Admitted(vec![
                self.others.clone().try_acquire_owned().ok()?,
            ])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_app::config::LimitsConfig;

    #[test]
    fn webhooks_are_never_shed_and_the_rest_waits_for_nothing() {
        let s = Shedder::new(&LimitsConfig {
            max_in_flight: 2,
            sign_in_in_flight: 1,
            ..LimitsConfig::default()
        });
        let sign_in = s.admit(Some(Class::SignIn)).unwrap();
        assert!(
            s.admit(Some(Class::SignIn)).is_none(),
            "one sign-in at a time"
        );
        let api = s.admit(Some(Class::Api)).unwrap();
        assert!(s.admit(Some(Class::Api)).is_none(), "two in flight in all");
        assert!(s.admit(Some(Class::Media)).is_none());
        for _ in 0..1_000 {
            assert!(s.admit(Some(Class::Webhooks)).is_some(), "webhooks always");
        }
        assert!(s.admit(None).is_some(), "health checks always");
        drop(sign_in);
        let again = s.admit(Some(Class::SignIn)).unwrap();
        assert!(s.admit(Some(Class::Api)).is_none());
        drop((api, again));
        assert!(s.admit(Some(Class::Api)).is_some());
    }
}
