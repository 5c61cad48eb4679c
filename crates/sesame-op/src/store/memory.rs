//! An in-memory store: for tests, examples and single-process development.
//! Everything is lost on restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use sesame_core::{ClientId, Subject, UnixTime};

use super::{
    ClientStore, ConsentStore, DeviceStore, GrantStore, InteractionStore, IssuedTokens, KeyStore,
    StoreError, StoreResult,
};
use crate::model::{
    AccessTokenRecord, Client, CodeRecord, CodeUse, Consent, DeviceAuthorization, Grant,
    Interaction, RefreshTokenRecord, RefreshUse, StoredKey,
};

#[derive(Debug, Default)]
struct Tables {
    clients: BTreeMap<String, Client>,
    codes: HashMap<String, (CodeRecord, bool)>,
    access: HashMap<String, AccessTokenRecord>,
    refresh: HashMap<String, (RefreshTokenRecord, bool)>,
    revoked_grants: HashMap<String, UnixTime>,
    jtis: HashMap<String, UnixTime>,
    consents: HashMap<(String, String), Consent>,
    keys: Vec<StoredKey>,
    interactions: HashMap<String, Interaction>,
    devices: HashMap<String, DeviceAuthorization>,
    /// (sid, client id) → until when `clients_of_session` names the client.
    session_clients: HashMap<(String, String), UnixTime>,
    /// Lease name → (holder, expiry).
    leases: HashMap<String, (String, UnixTime)>,
}

impl Tables {
    fn put_access_token(&mut self, key: &str, token: &AccessTokenRecord) {
        self.record_session_client(&token.grant, token.expires_at);
        self.access.insert(key.to_owned(), token.clone());
    }

    fn put_refresh_token(&mut self, key: &str, token: &RefreshTokenRecord) {
        self.record_session_client(&token.grant, token.expires_at);
        self.refresh.insert(key.to_owned(), (token.clone(), false));
    }

    /// Records that `grant`'s client took part in its session until `expires_at`
    /// plus the retention.
    fn record_session_client(&mut self, grant: &Grant, expires_at: UnixTime) {
        if let Some(sid) = &grant.sid {
            let until = expires_at.saturating_add(super::SESSION_CLIENT_RETENTION);
            let entry = self
                .session_clients
                .entry((sid.as_str().to_owned(), grant.client_id.as_str().to_owned()))
                .or_insert(until);
            *entry = (*entry).max(until);
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Tables>> {
        self.tables
            .lock()
            .map_err(|_| StoreError::new("memory store lock poisoned"))
    }
}

fn grant_of_session(grant: &Grant, sid: &str) -> bool {
    grant.sid.as_ref().is_some_and(|s| s.as_str() == sid)
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn find_client(&self, client_id: &ClientId) -> StoreResult<Option<Client>> {
        Ok(self.lock()?.clients.get(client_id.as_str()).cloned())
    }

    async fn save_client(&self, client: &Client) -> StoreResult<()> {
        self.lock()?
            .clients
            .insert(client.client_id.as_str().to_owned(), client.clone());
        Ok(())
    }

    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        Ok(self.lock()?.clients.remove(client_id.as_str()).is_some())
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        Ok(self.lock()?.clients.values().cloned().collect())
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn save_code(&self, key: &str, code: &CodeRecord) -> StoreResult<()> {
        let mut t = self.lock()?;
        t.record_session_client(&code.grant, code.expires_at);
        t.codes.insert(key.to_owned(), (code.clone(), false));
        Ok(())
    }

    async fn consume_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeUse>> {
        let mut t = self.lock()?;
        let Some((code, used)) = t.codes.get_mut(key) else {
            return Ok(None);
        };
        if *used {
            return Ok(Some(CodeUse::Replayed {
                grant_id: code.grant.grant_id.clone(),
            }));
        }
        if code.expires_at <= now {
            return Ok(None);
        }
        *used = true;
        let code = code.clone();
        if t.revoked_grants.contains_key(&code.grant.grant_id) {
            return Ok(None);
        }
        Ok(Some(CodeUse::First(Box::new(code))))
    }

    async fn find_code(&self, key: &str, now: UnixTime) -> StoreResult<Option<CodeRecord>> {
        let t = self.lock()?;
        Ok(t.codes
            .get(key)
            .filter(|(code, used)| {
                !*used
                    && code.expires_at > now
                    && !t.revoked_grants.contains_key(&code.grant.grant_id)
            })
            .map(|(code, _)| code.clone()))
    }

    /// Atomic under the one lock.
    async fn redeem_code(
        &self,
        key: &str,
        now: UnixTime,
        tokens: &IssuedTokens,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        let usable = t.codes.get(key).is_some_and(|(code, used)| {
            !*used && code.expires_at > now && !t.revoked_grants.contains_key(&code.grant.grant_id)
        });
        if !usable {
            return Ok(false);
        }
        if let Some((_, used)) = t.codes.get_mut(key) {
            *used = true;
        }
        let (access_key, access) = &tokens.access;
        t.put_access_token(access_key, access);
        if let Some((refresh_key, refresh)) = &tokens.refresh {
            t.put_refresh_token(refresh_key, refresh);
        }
        Ok(true)
    }

    async fn save_access_token(&self, key: &str, token: &AccessTokenRecord) -> StoreResult<()> {
        self.lock()?.put_access_token(key, token);
        Ok(())
    }

    async fn find_access_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let t = self.lock()?;
        Ok(t.access
            .get(key)
            .filter(|r| r.expires_at > now && !t.revoked_grants.contains_key(&r.grant.grant_id))
            .cloned())
    }

    async fn revoke_access_token(&self, key: &str) -> StoreResult<bool> {
        Ok(self.lock()?.access.remove(key).is_some())
    }

    async fn save_refresh_token(&self, key: &str, token: &RefreshTokenRecord) -> StoreResult<()> {
        self.lock()?.put_refresh_token(key, token);
        Ok(())
    }

    async fn use_refresh_token(&self, key: &str, now: UnixTime) -> StoreResult<Option<RefreshUse>> {
        let mut t = self.lock()?;
        let revoked = match t.refresh.get(key) {
            Some((r, _)) => t.revoked_grants.contains_key(&r.grant.grant_id),
            None => return Ok(None),
        };
        let Some((record, used)) = t.refresh.get_mut(key) else {
            return Ok(None);
        };
        if *used {
            return Ok(Some(RefreshUse::Reused {
                grant_id: record.grant.grant_id.clone(),
            }));
        }
        if revoked || record.expires_at <= now {
            return Ok(None);
        }
        *used = true;
        Ok(Some(RefreshUse::First(Box::new(record.clone()))))
    }

    async fn find_refresh_token(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        let t = self.lock()?;
        Ok(t.refresh
            .get(key)
            .filter(|(r, used)| {
                !used && r.expires_at > now && !t.revoked_grants.contains_key(&r.grant.grant_id)
            })
            .map(|(r, _)| r.clone()))
    }

    async fn revoke_grant(&self, grant_id: &str, until: UnixTime) -> StoreResult<()> {
        let mut t = self.lock()?;
        t.access.retain(|_, r| r.grant.grant_id != grant_id);
        t.refresh.retain(|_, (r, _)| r.grant.grant_id != grant_id);
        let previous = t.revoked_grants.get(grant_id).copied().unwrap_or(0);
        t.revoked_grants
            .insert(grant_id.to_owned(), until.max(previous));
        Ok(())
    }

    async fn clients_of_session(&self, sid: &str) -> StoreResult<Vec<ClientId>> {
        let t = self.lock()?;
        let mut clients: Vec<ClientId> = t
            .access
            .values()
            .map(|r| &r.grant)
            .chain(t.refresh.values().map(|(r, _)| &r.grant))
            .chain(t.codes.values().map(|(c, _)| &c.grant))
            .filter(|g| grant_of_session(g, sid))
            .map(|g| g.client_id.clone())
            .chain(
                t.session_clients
                    .keys()
                    .filter(|(s, _)| s == sid)
                    .map(|(_, c)| ClientId::new(c)),
            )
            .collect();
        clients.sort();
        clients.dedup();
        Ok(clients)
    }

    async fn remember_jti(&self, key: &str, expires_at: UnixTime) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if t.jtis.contains_key(key) {
            return Ok(false);
        }
        t.jtis.insert(key.to_owned(), expires_at);
        Ok(true)
    }

    async fn sweep(&self, now: UnixTime) -> StoreResult<u64> {
        let mut t = self.lock()?;
        let before = t.codes.len()
            + t.access.len()
            + t.refresh.len()
            + t.jtis.len()
            + t.interactions.len()
            + t.revoked_grants.len()
            + t.consents.len()
            + t.session_clients.len()
            + t.devices.len();
        t.devices
            .retain(|_, d| d.expires_at.saturating_add(super::DEVICE_RETENTION) > now);
        t.codes.retain(|_, (c, _)| c.expires_at > now);
        t.access.retain(|_, r| r.expires_at > now);
        t.refresh.retain(|_, (r, _)| r.expires_at > now);
        t.jtis.retain(|_, exp| *exp > now);
        t.interactions.retain(|_, i| i.expires_at > now);
        t.revoked_grants.retain(|_, until| *until > now);
        t.consents.retain(|_, c| c.expires_at > now);
        t.session_clients.retain(|_, until| *until > now);
        let after = t.codes.len()
            + t.access.len()
            + t.refresh.len()
            + t.jtis.len()
            + t.interactions.len()
            + t.revoked_grants.len()
            + t.consents.len()
            + t.session_clients.len()
            + t.devices.len();
        Ok((before - after) as u64)
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn find_consent(
        &self,
        subject: &Subject,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<Option<Consent>> {
        Ok(self
            .lock()?
            .consents
            .get(&(subject.as_str().to_owned(), client_id.as_str().to_owned()))
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
        self.lock()?.consents.insert(
            (
                consent.subject.as_str().to_owned(),
                consent.client_id.as_str().to_owned(),
            ),
            consent.clone(),
        );
        Ok(())
    }

    async fn revoke_consent(&self, subject: &Subject, client_id: &ClientId) -> StoreResult<()> {
        self.lock()?
            .consents
            .remove(&(subject.as_str().to_owned(), client_id.as_str().to_owned()));
        Ok(())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>> {
        Ok(self.lock()?.keys.clone())
    }

    async fn save_key(&self, key: &StoredKey) -> StoreResult<()> {
        let mut t = self.lock()?;
        match t.keys.iter_mut().find(|k| k.kid == key.kid) {
            Some(existing) => *existing = key.clone(),
            None => t.keys.push(key.clone()),
        }
        Ok(())
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        let mut t = self.lock()?;
        let before = t.keys.len();
        t.keys.retain(|k| k.kid != kid);
        Ok(t.keys.len() != before)
    }

    async fn add_key_if_missing(&self, key: &StoredKey) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if t.keys
            .iter()
            .any(|k| k.alg == key.alg && k.state == key.state)
        {
            return Ok(false);
        }
        t.keys.push(key.clone());
        Ok(true)
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixTime,
        ttl: i64,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if let Some((other, until)) = t.leases.get(name)
            && other != holder
            && *until > now
        {
            return Ok(false);
        }
        t.leases.insert(
            name.to_owned(),
            (holder.to_owned(), now.saturating_add(ttl)),
        );
        Ok(true)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.leases.get(name).is_some_and(|(h, _)| h == holder) {
            t.leases.remove(name);
        }
        Ok(())
    }
}

#[async_trait]
impl InteractionStore for MemoryStore {
    async fn save_interaction(&self, key: &str, interaction: &Interaction) -> StoreResult<()> {
        self.lock()?
            .interactions
            .insert(key.to_owned(), interaction.clone());
        Ok(())
    }

    async fn take_interaction(&self, key: &str, now: UnixTime) -> StoreResult<Option<Interaction>> {
        Ok(self
            .lock()?
            .interactions
            .remove(key)
            .filter(|i| i.expires_at > now))
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn save_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        let taken = t
            .devices
            .values()
            .any(|d| d.user_code_key == record.user_code_key && d.expires_at > now);
        if taken || t.devices.contains_key(key) {
            return Ok(false);
        }
        t.devices.insert(key.to_owned(), record.clone());
        Ok(true)
    }

    async fn find_device_authorization(
        &self,
        key: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        Ok(self.lock()?.devices.get(key).cloned())
    }

    async fn find_device_by_user_code(
        &self,
        user_code_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<(String, DeviceAuthorization)>> {
        Ok(self
            .lock()?
            .devices
            .iter()
            .find(|(_, d)| d.user_code_key == user_code_key && d.expires_at > now)
            .map(|(k, d)| (k.clone(), d.clone())))
    }

    async fn update_device_authorization(
        &self,
        key: &str,
        record: &DeviceAuthorization,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        match t.devices.get_mut(key) {
            Some(d) if d.revision.checked_add(1) == Some(record.revision) => {
                *d = record.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
