//! The budget's time constants, below both the budget and the scenarios that test it
//! (and the same numbers as `budget.lua`'s).

use std::time::Duration;

/// Extra wait after an advertised reset, for clock granularity between client and server.
pub(crate) const RESET_MARGIN: Duration = Duration::from_millis(20);
/// How long to wait when the window is full but its reset time is not known yet.
pub(crate) const POLL: Duration = Duration::from_millis(50);
/// Never sleep longer than this in one go; the caller asks again afterwards.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(120);
/// A window whose reset no answer has told lasts at most this long (the provider's limits
/// are per minute), so a seeded limit without rate-limit headers still frees slots.
pub(crate) const UNKNOWN_WINDOW: Duration = Duration::from_secs(60);
/// Requests-per-day budgets reset at midnight UTC (the provider's "epoch").
pub(crate) const DAY: Duration = Duration::from_secs(86_400);
