//! Back-channel logout delivery (Back-Channel Logout 1.0 §2.5): the
//! provider posts each logout token the end-session flow returned, in the
//! background, with retries. Flows return notices; only this module spawns.

use std::fmt;
use std::time::Duration;

use sesame_core::ClientId;
use tokio::task::JoinHandle;

use crate::provider::Provider;

/// A logout token to post to one client's `backchannel_logout_uri`.
pub(crate) struct LogoutNotice {
    pub(crate) client_id: ClientId,
    pub(crate) uri: String,
    /// The signed logout token: a credential, never in `Debug`.
    pub(crate) token: String,
}

impl fmt::Debug for LogoutNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutNotice")
            .field("client_id", &self.client_id.as_str())
            .field("uri", &self.uri)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// How many times one notice is posted before giving up.
const ATTEMPTS: u32 = 3;

impl Provider {
    /// Delivers each notice in its own background task (at most
    /// [`ATTEMPTS`] posts, backing off from 500 ms). A URI that
    /// `outbound.rs` refuses is not posted to. The handles resolve to whether
    /// the client accepted the token; tests wait on them.
    pub(crate) fn deliver_logout_notices(
        &self,
        notices: Vec<LogoutNotice>,
    ) -> Vec<JoinHandle<bool>> {
        notices
            .into_iter()
            .map(|notice| {
                let http = self.inner.http.clone();
                let allowed = crate::outbound::check_target(
                    &notice.uri,
                    self.inner.settings.allow_private_outbound,
                );
                tokio::spawn(async move {
                    if let Err(why) = allowed {
                        tracing::error!(client_id = notice.client_id.as_str(), why, "back-channel logout not sent: its URI {why} (allow_private_outbound is off)");
                        return false;
                    }
                    deliver(&http, &notice).await
                })
            })
            .collect()
    }
}

/// Posts one notice until the client accepts it, it is refused for good, or
/// the attempts run out.
async fn deliver(http: &reqwest::Client, notice: &LogoutNotice) -> bool {
    let client_id = notice.client_id.as_str();
    for attempt in 0..ATTEMPTS {
        let sent = http
            .post(&notice.uri)
            .form(&[("logout_token", notice.token.as_str())])
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => {
                tracing::warn!(client_id, status = %r.status(), attempt, "back-channel logout refused")
            }
            Err(e) if crate::outbound::refused(&e) => {
                tracing::error!(client_id, error = %e, "back-channel logout not sent (allow_private_outbound is off)");
                return false;
            }
            Err(e) => tracing::warn!(client_id, error = %e, attempt, "back-channel logout failed"),
        }
        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
    }
    false
}
