//! Limits per user, shared by every transport of a node: one keyed rate limiter for
//! requests (WebSocket messages, HTTP requests, SSE streams opened), one for jobs that
//! cost money, and the count of connections per source address still waiting for their
//! `hello`. Keyed by user, so more connections buy no more rate. (The per-user
//! connection limit, which holds across nodes, is [`crate::connections`].)

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use protocol::{ErrorBody, ErrorCode, UserId};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often idle users' limiter states are forgotten: each holds a few bytes, so a
/// minute keeps the maps small without churning the state of active users.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// The node's limiters. One per node (in the hub).
pub struct Limits {
    requests: DefaultKeyedRateLimiter<UserId>,
    jobs: DefaultKeyedRateLimiter<UserId>,
    handshakes: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_handshakes: usize,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("users", &self.requests.len())
            .field("max_handshakes", &self.max_handshakes)
            .finish()
    }
}

/// A connection from `addr` waiting for its `hello`; dropping it (hello received, or
/// the connection gone) frees its place.
#[derive(Debug)]
pub struct Handshake {
    handshakes: Arc<Mutex<HashMap<IpAddr, usize>>>,
    addr: IpAddr,
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let mut map = self.handshakes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.addr) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.addr);
            }
        }
    }
}

impl Limits {
    pub fn new(
        per_second: u32,
        burst: u32,
        jobs_per_minute: u32,
        max_handshakes_per_address: usize,
    ) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        let jobs = NonZeroU32::new(jobs_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            requests: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            // The whole minute's quota may be used at once; it refills one job every
            // 60 / n seconds.
            jobs: RateLimiter::keyed(Quota::per_minute(jobs)),
            handshakes: Arc::default(),
            max_handshakes: max_handshakes_per_address.max(1),
            clock: DefaultClock::default(),
        }
    }

    /// One request of `user` (a WebSocket message, an HTTP request, an SSE stream);
    /// `rate_limited` with the wait when they are over their rate.
    pub fn request(&self, user: &UserId) -> Result<(), ErrorBody> {
        self.requests.check_key(user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => "requests").increment(1);
            ErrorBody::new(ErrorCode::RateLimited, "too many requests; slow down")
                .with_retry_after_ms(millis(wait))
        })
    }

    /// One job that costs money for `user`; `rate_limited` with the wait when their
    /// quota for the minute is used up.
    pub fn job(&self, user: &UserId) -> Result<(), ErrorBody> {
        self.jobs.check_key(user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => "jobs").increment(1);
            ErrorBody::new(
                ErrorCode::RateLimited,
                "too many drafts and chat replies asked for; try again later",
            )
            .with_retry_after_ms(millis(wait))
        })
    }

    /// A place for one more connection from `addr` waiting for `hello`, or `None` when
    /// that address has the most allowed.
    pub fn handshake(&self, addr: IpAddr) -> Option<Handshake> {
        let mut map = self.handshakes.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(addr).or_insert(0);
        if *count >= self.max_handshakes {
            metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => "handshakes").increment(1);
            return None;
        }
        *count += 1;
        Some(Handshake {
            handshakes: self.handshakes.clone(),
            addr,
        })
    }

    /// Forgets the state of users idle long enough to be back at a full burst, every
    /// minute until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(FORGET_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.requests.retain_recent();
            self.requests.shrink_to_fit();
            self.jobs.retain_recent();
            self.jobs.shrink_to_fit();
        }
    }
}

/// A wait in whole milliseconds for `retry_after_ms`, at least 1.
pub(crate) fn millis(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_rate_is_per_user_and_answers_the_wait() {
        let limits = Limits::new(1, 3, 2, 1);
        let alice = UserId::from("alice");
        for _ in 0..3 {
            assert!(limits.request(&alice).is_ok());
        }
        let refused = limits.request(&alice).err();
        assert!(matches!(
            refused,
            Some(ErrorBody { code: ErrorCode::RateLimited, retry_after_ms: Some(ms), .. }) if ms <= 1000
        ));
        assert!(limits.request(&UserId::from("bob")).is_ok());
        assert!(limits.job(&alice).is_ok());
        assert!(limits.job(&alice).is_ok());
        let refused = limits.job(&alice).err();
        assert!(matches!(
            refused,
            Some(ErrorBody { retry_after_ms: Some(ms), .. }) if ms > 1000 && ms <= 30_000
        ));
    }

    #[test]
    fn handshakes_are_counted_per_address_and_freed_on_drop() {
        let limits = Limits::new(1, 1, 1, 2);
        let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = limits.handshake(here);
        let b = limits.handshake(here);
        assert!(a.is_some() && b.is_some());
        assert!(limits.handshake(here).is_none());
        assert!(
            limits
                .handshake(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
                .is_some()
        );
        drop(a);
        assert!(limits.handshake(here).is_some());
    }
}
