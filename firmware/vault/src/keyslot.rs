//! Key slots: each caseworker's (and the recovery key's) wrapping of the data keys, the key
//! hierarchy a signed-in session derives from them, and the supervisor's roster commands.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use fieldkit_domain::RecordKind;

use crate::audit::AuditAction;
use crate::crypto::{self, KdfParams, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::policy::CredentialPolicy;
use crate::schema::{KEYSLOTS, meta};
use crate::session::Session;
use crate::signin::Lockout;
use crate::storage::{begin, decode, encode, read_meta_w, write_meta};

/// What a caseworker may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Registers and manages cases.
    Caseworker,
    /// Also adds caseworkers and resets their credentials.
    Supervisor,
}

/// A caseworker as listed (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caseworker {
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// May read GBV incidents.
    pub incident_access: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeySlot {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) role: Role,
    pub(crate) incident_access: bool,
    pub(crate) salt: [u8; 16],
    pub(crate) kdf: KdfParams,
    /// The data key, wrapped.
    pub(crate) dek: Sealed,
    /// The incident key, wrapped (only for slots with incident access, and the recovery slot).
    pub(crate) iek: Option<Sealed>,
}

impl KeySlot {
    pub(crate) fn caseworker(&self) -> Caseworker {
        Caseworker {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            incident_access: self.incident_access,
        }
    }
}

/// The keys of a signed-in session, zeroized on drop.
pub(crate) struct Keys {
    pub(crate) records: Key,
    pub(crate) index: Key,
    pub(crate) audit: Key,
    pub(crate) manifest: Key,
    pub(crate) bundle: Key,
    pub(crate) incidents: Option<Key>,
    pub(crate) incident_index: Option<Key>,
    pub(crate) dek: Key,
    pub(crate) iek: Option<Key>,
}

impl Keys {
    pub(crate) fn new(dek: Key, iek: Option<Key>) -> Keys {
        Keys {
            records: dek.derive("fieldkit records v1"),
            index: dek.derive("fieldkit name index v1"),
            audit: dek.derive("fieldkit audit v1"),
            manifest: dek.derive("fieldkit manifest v1"),
            bundle: dek.derive("fieldkit bundle v1"),
            incidents: iek.as_ref().map(|k| k.derive("fieldkit incidents v1")),
            incident_index: iek.as_ref().map(|k| k.derive("fieldkit incident index v1")),
            dek,
            iek,
        }
    }

    pub(crate) fn record_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incidents.as_ref().ok_or_else(|| {
                VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
            }),
            _ => Ok(&self.records),
        }
    }

    pub(crate) fn index_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incident_index.as_ref().ok_or_else(|| {
                VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
            }),
            _ => Ok(&self.index),
        }
    }
}

pub(crate) fn slot_aad(vault_id: &[u8; 16], slot: &KeySlot, which: &str) -> Vec<u8> {
    let mut aad = b"fieldkit/keyslot/v1|".to_vec();
    aad.extend_from_slice(vault_id);
    aad.push(b'|');
    aad.extend_from_slice(slot.username.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(match slot.role {
        Role::Caseworker => b"caseworker",
        Role::Supervisor => b"supervisor",
    });
    aad.push(if slot.incident_access { b'I' } else { b'-' });
    aad.push(b'|');
    aad.extend_from_slice(which.as_bytes());
    aad
}

pub(crate) fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadChange(format!(
            "caseworker name `{name}`: use 1–64 letters, digits, '.', '_' or '-'"
        )))
    }
}

pub(crate) struct SlotOwner<'a> {
    pub(crate) username: &'a str,
    pub(crate) display_name: &'a str,
    pub(crate) role: Role,
    pub(crate) incident_access: bool,
}

pub(crate) enum Credential<'a> {
    Secret(&'a [u8], Option<&'a Key>),
    Recovery(&'a Key),
}

pub(crate) fn wrap_slot(
    vault_id: &[u8; 16],
    owner: SlotOwner<'_>,
    credential: Credential<'_>,
    kdf: KdfParams,
    dek: &Key,
    iek: Option<&Key>,
) -> Result<KeySlot> {
    let mut salt = [0u8; 16];
    crypto::fill_random(&mut salt)?;
    let kek = match credential {
        Credential::Secret(c, hw) => crypto::credential_kek(c, &salt, kdf, hw)?,
        Credential::Recovery(r) => crypto::recovery_kek(r, &salt),
    };
    let mut slot = KeySlot {
        username: owner.username.to_string(),
        display_name: owner.display_name.to_string(),
        role: owner.role,
        incident_access: owner.incident_access && iek.is_some(),
        salt,
        kdf,
        dek: Sealed {
            nonce: [0; 24],
            ciphertext: Vec::new(),
        },
        iek: None,
    };
    slot.dek = crypto::seal(&kek, &slot_aad(vault_id, &slot, "dek"), dek.expose())?;
    if let Some(iek) = iek.filter(|_| slot.incident_access) {
        slot.iek = Some(crypto::seal(
            &kek,
            &slot_aad(vault_id, &slot, "iek"),
            iek.expose(),
        )?);
    }
    Ok(slot)
}

pub(crate) fn unwrap_slot(vault_id: &[u8; 16], slot: &KeySlot, kek: &Key) -> Result<Keys> {
    let key_of = |plain: Zeroizing<Vec<u8>>| -> Result<Key> {
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Corrupt("wrapped key of wrong length".into()))?;
        Ok(Key::from_bytes(bytes))
    };
    let dek = key_of(crypto::open(
        kek,
        &slot_aad(vault_id, slot, "dek"),
        &slot.dek,
    )?)?;
    let iek = match (&slot.iek, slot.incident_access) {
        (Some(w), true) => Some(key_of(crypto::open(
            kek,
            &slot_aad(vault_id, slot, "iek"),
            w,
        )?)?),
        _ => None,
    };
    Ok(Keys::new(dek, iek))
}

impl Session {
    /// Adds a caseworker. Supervisors only.
    pub fn add_caseworker(
        &mut self,
        username: &str,
        display_name: &str,
        credential: &[u8],
        role: Role,
        incident_access: bool,
        now_ms: u64,
    ) -> Result<()> {
        self.require_supervisor()?;
        validate_username(username)?;
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(credential)?;
        if txn.open_table(KEYSLOTS)?.get(username)?.is_some() {
            return Err(VaultError::CaseworkerExists(username.to_string()));
        }
        if incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "only a caseworker with incident access can grant it".into(),
            ));
        }
        self.write_slot(
            &txn,
            SlotOwner {
                username,
                display_name,
                role,
                incident_access,
            },
            credential,
            policy.kdf,
        )?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CaseworkerAdded {
                username: username.to_string(),
            },
            None,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Wraps this session's keys under `credential` (and the kit's hardware secret) for `owner`
    /// and writes the slot.
    pub(crate) fn write_slot(
        &self,
        txn: &WriteTransaction,
        owner: SlotOwner<'_>,
        credential: &[u8],
        kdf: KdfParams,
    ) -> Result<()> {
        let hw = self.vault.opts.hardware.secret(&self.vault.vault_id);
        let username = owner.username;
        let slot = wrap_slot(
            &self.vault.vault_id,
            owner,
            Credential::Secret(credential, hw.as_ref()),
            kdf,
            &self.keys.dek,
            self.keys.iek.as_ref(),
        )?;
        txn.open_table(KEYSLOTS)?
            .insert(username, encode(&slot).as_slice())?;
        Ok(())
    }

    /// Sets a caseworker's credential: one's own, or anyone's for a supervisor (a reset). Only the
    /// key slot is rewrapped; no record is re-encrypted.
    pub fn set_credential(&mut self, username: &str, credential: &[u8], now_ms: u64) -> Result<()> {
        if username != self.user.username {
            self.require_supervisor()?;
        }
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(credential)?;
        let old: KeySlot = {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            match v {
                Some(g) => decode(g.value(), "key slot")?,
                None => return Err(VaultError::NoSuchCaseworker(username.to_string())),
            }
        };
        if old.incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "cannot reset a caseworker with incident access".into(),
            ));
        }
        self.write_slot(
            &txn,
            SlotOwner {
                username,
                display_name: &old.display_name,
                role: old.role,
                incident_access: old.incident_access,
            },
            credential,
            policy.kdf,
        )?;
        let mut lockout: Lockout = read_meta_w(&txn, meta::LOCKOUT)?.unwrap_or_default();
        lockout.wiped = false;
        write_meta(&txn, meta::LOCKOUT, &lockout)?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CredentialChanged {
                username: username.to_string(),
            },
            None,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// The caseworkers who can sign in.
    pub fn caseworkers(&self) -> Result<Vec<Caseworker>> {
        self.vault.caseworkers()
    }
}
