//! Helpers shared by the test modules.

pub mod log_capture;
pub mod mock_log;
