//! Helpers shared by the test modules.

pub mod log_capture;
pub mod mock_log;
/// The library's own `redis-server` starter (test support in its `src`, compiled here too).
#[cfg(feature = "redis")]
#[path = "../../../src/pacing/redis_server.rs"]
pub mod redis_server;
pub mod workers;
