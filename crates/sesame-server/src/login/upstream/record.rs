//! sesame-rp keeps a pending login in a session; here that session lives
//! for one request, in a store of one record, and the record itself goes to
//! the database (`sesame_upstream_logins`), so the login survives a restart
//! and its callback may reach any instance.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum_login::tower_sessions::Session;
use axum_login::tower_sessions::session::{Id, Record};
use axum_login::tower_sessions::session_store::{self, SessionStore};

/// A session store holding at most one record, in memory.
#[derive(Debug, Default)]
pub(super) struct OneRecord(Mutex<Option<Record>>);

impl OneRecord {
    fn put(&self, record: &Record) {
        if let Ok(mut r) = self.0.lock() {
            *r = Some(record.clone());
        }
    }

    fn get(&self) -> Option<Record> {
        self.0.lock().ok().and_then(|r| r.clone())
    }
}

#[async_trait]
impl SessionStore for OneRecord {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.put(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.put(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.get().filter(|r| r.id == *id))
    }

    async fn delete(&self, _id: &Id) -> session_store::Result<()> {
        if let Ok(mut r) = self.0.lock() {
            *r = None;
        }
        Ok(())
    }
}

/// A fresh, empty session and its store.
pub(super) fn fresh() -> (Session, Arc<OneRecord>) {
    let store = Arc::new(OneRecord::default());
    (Session::new(None, Arc::clone(&store), None), store)
}

/// Saves `session` and returns its record as JSON (for the database).
pub(super) async fn export(session: &Session, store: &OneRecord) -> Result<String, String> {
    session.save().await.map_err(|e| e.to_string())?;
    let record = store.get().ok_or("the session was not saved")?;
    serde_json::to_string(&record).map_err(|e| e.to_string())
}

/// The session whose record `json` is (from [`export`]).
pub(super) fn import(json: &str) -> Result<Session, String> {
    let record: Record = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let id = record.id;
    let store = Arc::new(OneRecord(Mutex::new(Some(record))));
    Ok(Session::new(Some(id), store, None))
}
