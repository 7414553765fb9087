//! What the mock's request log says about generations, for the tests that count them.
#![allow(dead_code)]

use venice_mock::MockServer;

/// The status of every `POST /image/generate` the mock answered, in order.
pub fn generate_statuses(server: &MockServer) -> Vec<u16> {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/image/generate"))
        .map(|r| r.status)
        .collect()
}
