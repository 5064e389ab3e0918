//! Sign-in and lockout: the failed-attempt counter, the delays, the wipe, and the recovery key.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use fieldkit_domain::{Hlc, HlcClock};

use crate::audit::{AuditAction, append_audit};
use crate::crypto::{self, KdfParams, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::keyslot::{KeySlot, unwrap_slot};
use crate::manifest::{Manifest, open_manifest};
use crate::migrate::migrate;
use crate::policy::CredentialPolicy;
use crate::recovery::RecoveryKey;
use crate::schema::{KEYSLOTS, RECOVERY_SLOT, SCHEMA_VERSION, meta};
use crate::session::Session;
use crate::storage::{begin, decode, read_meta, read_meta_w, write_meta};
use crate::vault::Vault;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lockout {
    pub(crate) failures: u32,
    pub(crate) last_attempt_ms: u64,
    pub(crate) wiped: bool,
}

impl Vault {
    /// Failed sign-in attempts since the last success.
    pub fn failed_attempts(&self) -> Result<u32> {
        let txn = self.db.begin_read()?;
        Ok(read_meta::<Lockout>(&txn, meta::LOCKOUT)?
            .unwrap_or_default()
            .failures)
    }

    /// Signs a caseworker in. The failed-attempt counter is raised and committed to disk
    /// *before* the credential is checked, so cutting the power during the check cannot reset
    /// it; a success sets it back to zero.
    pub fn unlock(self, username: &str, credential: &[u8], now_ms: u64) -> Result<Session> {
        let hw = self.opts.hardware.secret(&self.vault_id);
        self.unlock_with(username, now_ms, |slot| match slot {
            Some(slot) => {
                let kek = crypto::credential_kek(credential, &slot.salt, slot.kdf, hw.as_ref())?;
                Ok(Some(kek))
            }
            None => {
                // Spend the same effort for an unknown name, so timing does not reveal names.
                let _ =
                    crypto::credential_kek(credential, &[0; 16], KdfParams::FLOOR, hw.as_ref())?;
                Ok(None)
            }
        })
    }

    /// Signs in with the recovery key, as a supervisor named `recovery`. Clears a wipe: the
    /// supervisor can then reset caseworkers' credentials.
    pub fn unlock_recovery(self, recovery: &RecoveryKey, now_ms: u64) -> Result<Session> {
        let mut session = self.unlock_with(RECOVERY_SLOT, now_ms, |slot| {
            Ok(slot.map(|s| crypto::recovery_kek(&recovery.0, &s.salt)))
        })?;
        session.user.username = "recovery".into();
        let txn = begin(&session.vault.db)?;
        write_meta(&txn, meta::LOCKOUT, &Lockout::default())?;
        append_audit(
            &txn,
            Some(&session.keys.audit),
            now_ms,
            "recovery",
            AuditAction::Recovery,
            None,
        )?;
        txn.commit()?;
        Ok(session)
    }

    pub(crate) fn unlock_with(
        self,
        username: &str,
        now_ms: u64,
        derive: impl FnOnce(Option<&KeySlot>) -> Result<Option<Key>>,
    ) -> Result<Session> {
        let is_recovery = username == RECOVERY_SLOT;
        let txn = begin(&self.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        let mut lockout: Lockout = read_meta_w(&txn, meta::LOCKOUT)?.unwrap_or_default();
        if lockout.wiped && !is_recovery {
            return Err(VaultError::Wiped);
        }
        // A clock that went backwards (a Pi without RTC after a power cut) must not shorten
        // the wait: count from now instead.
        let elapsed_s = now_ms.saturating_sub(lockout.last_attempt_ms) / 1000;
        let delay = policy.delay_s(lockout.failures);
        if !is_recovery && delay > elapsed_s {
            if now_ms < lockout.last_attempt_ms {
                lockout.last_attempt_ms = now_ms;
                write_meta(&txn, meta::LOCKOUT, &lockout)?;
                txn.commit()?;
            }
            return Err(VaultError::LockedOut {
                failures: lockout.failures,
                retry_after_s: delay - elapsed_s,
            });
        }
        lockout.failures = lockout.failures.saturating_add(1);
        lockout.last_attempt_ms = now_ms;
        write_meta(&txn, meta::LOCKOUT, &lockout)?;
        append_audit(
            &txn,
            None,
            now_ms,
            username,
            AuditAction::LoginAttempt,
            None,
        )?;
        let slot: Option<KeySlot> = {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            v.map(|g| decode(g.value(), "key slot")).transpose()?
        };
        txn.commit()?;
        tracing::debug!("sign-in attempt recorded");

        let kek = derive(slot.as_ref())?;
        let keys = match (slot.as_ref(), kek) {
            (Some(slot), Some(kek)) => unwrap_slot(&self.vault_id, slot, &kek).ok(),
            _ => None,
        };
        let (Some(slot), Some(keys)) = (slot, keys) else {
            let txn = begin(&self.db)?;
            append_audit(&txn, None, now_ms, username, AuditAction::LoginFailed, None)?;
            let wipe = policy.wipe_after.is_some_and(|n| lockout.failures >= n);
            if wipe && !is_recovery {
                wipe_slots(&txn)?;
                lockout.wiped = true;
                write_meta(&txn, meta::LOCKOUT, &lockout)?;
                append_audit(&txn, None, now_ms, username, AuditAction::Wiped, None)?;
                txn.commit()?;
                tracing::warn!(
                    failures = lockout.failures,
                    "caseworker key slots erased after repeated failures"
                );
                return Err(VaultError::Wiped);
            }
            txn.commit()?;
            tracing::warn!(failures = lockout.failures, "failed sign-in");
            return Err(VaultError::WrongCredential {
                failures: lockout.failures,
            });
        };

        let txn = begin(&self.db)?;
        write_meta(
            &txn,
            meta::LOCKOUT,
            &Lockout {
                wiped: lockout.wiped,
                ..Lockout::default()
            },
        )?;
        append_audit(
            &txn,
            Some(&keys.audit),
            now_ms,
            username,
            AuditAction::LoginOk,
            None,
        )?;
        let migrated = migrate(&txn, &keys)?;
        let clock: Hlc = read_meta_w(&txn, meta::CLOCK)?
            .ok_or_else(|| VaultError::Corrupt("no clock state".into()))?;
        let sealed: Sealed = read_meta_w(&txn, meta::MANIFEST)?
            .ok_or_else(|| VaultError::Corrupt("no manifest".into()))?;
        let manifest: Manifest = open_manifest(&keys, &sealed)?;
        let indexer_id: Option<String> = read_meta_w(&txn, meta::INDEXER)?;
        txn.commit()?;
        if migrated {
            tracing::info!(schema = SCHEMA_VERSION, "vault migrated");
        }
        let mut session = Session {
            clock: HlcClock::resume(clock),
            user: slot.caseworker(),
            keys,
            vault: self,
            manifest,
        };
        if indexer_id.as_deref() != Some(session.vault.opts.indexer.id()) {
            session.reindex()?;
        }
        Ok(session)
    }
}

pub(crate) fn wipe_slots(txn: &WriteTransaction) -> Result<()> {
    let mut slots = txn.open_table(KEYSLOTS)?;
    let names: Vec<String> = slots
        .iter()?
        .filter_map(|r| r.ok().map(|(k, _)| k.value().to_string()))
        .filter(|n| n != RECOVERY_SLOT)
        .collect();
    for n in names {
        slots.remove(n.as_str())?;
    }
    Ok(())
}
