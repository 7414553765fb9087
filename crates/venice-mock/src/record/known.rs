//! What the recorder knows must be scrubbed, and the scrubber built from it: rebuilt
//! only when something new is learned (building it costs about a millisecond), shared
//! by every exchange in flight.

use std::sync::{Arc, Mutex};

use crate::scrub::{Scrubber, Secrets};

struct Known {
    secrets: Secrets,
    scrubber: Arc<Scrubber>,
}

/// The secrets learned so far and their scrubber.
pub(super) struct SecretsCell(Mutex<Known>);

impl SecretsCell {
    pub fn new(secrets: Secrets) -> Self {
        let scrubber = Arc::new(secrets.scrubber());
        Self(Mutex::new(Known { secrets, scrubber }))
    }

    /// Lets `learn` add secrets (it says whether it did), and gives the scrubber of
    /// everything known now; `None` only when the lock was poisoned.
    pub fn learn(&self, learn: impl FnOnce(&mut Secrets) -> bool) -> Option<Arc<Scrubber>> {
        let mut known = self.0.lock().ok()?;
        if learn(&mut known.secrets) {
            known.scrubber = Arc::new(known.secrets.scrubber());
        }
        Some(Arc::clone(&known.scrubber))
    }
}
