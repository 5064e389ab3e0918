//! Key slots: each caseworker's (and the recovery key's) wrapping of the data keys, the key
//! hierarchy a signed-in session derives from them, and the supervisor's roster commands.

use std::collections::BTreeSet;

use crate::error::CaseworkerError;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use fieldkit_domain::RecordKind;

use crate::audit::AuditAction;
use crate::crypto::{self, KdfParams, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::hardware::{HardwareSecret, SOFTWARE};
use crate::policy::CredentialPolicy;
use crate::schema::{KEYSLOTS, meta};
use crate::session::Session;
use crate::signin::Lockouts;
use crate::storage::{begin, decode, encode, read_meta_w};

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

/// A key slot as stored since schema 3 (after the byte [`SLOT_V2`]): the slot's X25519 secret
/// sealed under the credential's key-encryption key, and a *grant* of the current data keys
/// sealed to the slot's public key. A supervisor can thus issue new keys to every slot (key
/// rotation after a caseworker is removed) without knowing anyone's PIN.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeySlot {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) role: Role,
    pub(crate) incident_access: bool,
    pub(crate) salt: [u8; 16],
    pub(crate) kdf: KdfParams,
    /// The hardware element's sealed blob (none in software mode and for the recovery slot).
    pub(crate) hardware: Option<Vec<u8>>,
    /// The slot's X25519 public key.
    pub(crate) public: [u8; 32],
    /// The slot's X25519 secret, sealed under the key-encryption key.
    pub(crate) secret: Sealed,
    /// The data keys of the current key epoch, sealed to `public`.
    pub(crate) grant: Grant,
}

/// The data key (and, with incident access, the incident key) of one key epoch, sealed to a
/// slot's public key.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) epoch: u32,
    pub(crate) ephemeral: [u8; 32],
    pub(crate) keys: Sealed,
}

/// A key slot as schema 1 and 2 stored it: the data keys wrapped directly under the
/// key-encryption key. Read for sign-in, and rewritten as a [`KeySlot`] at its owner's first
/// sign-in.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LegacySlot {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) role: Role,
    pub(crate) incident_access: bool,
    pub(crate) salt: [u8; 16],
    pub(crate) kdf: KdfParams,
    pub(crate) dek: Sealed,
    pub(crate) iek: Option<Sealed>,
}

/// The first byte of a slot row in the current format. A legacy row is plain postcard and
/// starts with the length of a 1–64 byte name, so it never starts with this byte.
pub(crate) const SLOT_V2: u8 = 0xF2;

/// A slot row of either format.
pub(crate) enum StoredSlot {
    Legacy(LegacySlot),
    Current(KeySlot),
}

impl StoredSlot {
    pub(crate) fn decode(bytes: &[u8]) -> Result<StoredSlot> {
        match bytes.split_first() {
            Some((&SLOT_V2, rest)) => decode(rest, "key slot").map(StoredSlot::Current),
            _ => decode(bytes, "key slot").map(StoredSlot::Legacy),
        }
    }

    pub(crate) fn caseworker(&self) -> Caseworker {
        let (username, display_name, role, incident_access) = match self {
            StoredSlot::Legacy(s) => (&s.username, &s.display_name, s.role, s.incident_access),
            StoredSlot::Current(s) => (&s.username, &s.display_name, s.role, s.incident_access),
        };
        Caseworker {
            username: username.clone(),
            display_name: display_name.clone(),
            role,
            incident_access,
        }
    }

    pub(crate) fn salt_and_kdf(&self) -> ([u8; 16], KdfParams) {
        match self {
            StoredSlot::Legacy(s) => (s.salt, s.kdf),
            StoredSlot::Current(s) => (s.salt, s.kdf),
        }
    }

    pub(crate) fn hardware_blob(&self) -> Option<&[u8]> {
        match self {
            StoredSlot::Legacy(_) => None,
            StoredSlot::Current(s) => s.hardware.as_deref(),
        }
    }
}

impl KeySlot {
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![SLOT_V2];
        out.extend_from_slice(&encode(self)?);
        Ok(out)
    }
}

/// What every slot of a vault is bound to: the vault, its credential policy (so editing
/// `free_attempts` or the delays in the file makes every slot fail to open, rather than give
/// an attacker more guesses) and its hardware mode.
pub(crate) struct SlotContext<'a> {
    pub(crate) vault_id: [u8; 16],
    pub(crate) policy: [u8; 32],
    pub(crate) hardware: &'a dyn HardwareSecret,
    /// Slots sealed in software mode before the vault moved to `hardware` (meta
    /// `software_slots`): they open bound to software mode. New slots are always bound to
    /// `hardware`, so contexts that only make slots leave this empty.
    pub(crate) software_slots: BTreeSet<String>,
}

impl SlotContext<'_> {
    fn secret_aad(&self, owner: &SlotOwner<'_>) -> Vec<u8> {
        let mut aad = b"fieldkit/keyslot/v2|".to_vec();
        aad.extend_from_slice(&self.vault_id);
        owner_aad(&mut aad, owner);
        aad.extend_from_slice(&self.policy);
        aad.push(b'|');
        let kind = if self.software_slots.contains(owner.username) {
            SOFTWARE
        } else {
            self.hardware.kind()
        };
        aad.extend_from_slice(kind.as_bytes());
        aad
    }

    fn grant_aad(&self, owner: &SlotOwner<'_>, epoch: u32) -> Vec<u8> {
        let mut aad = b"fieldkit/grant/v1|".to_vec();
        aad.extend_from_slice(&self.vault_id);
        owner_aad(&mut aad, owner);
        aad.extend_from_slice(&epoch.to_le_bytes());
        aad
    }
}

fn owner_aad(aad: &mut Vec<u8>, owner: &SlotOwner<'_>) {
    aad.push(b'|');
    aad.extend_from_slice(owner.username.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(match owner.role {
        Role::Caseworker => b"caseworker",
        Role::Supervisor => b"supervisor",
    });
    aad.push(if owner.incident_access { b'I' } else { b'-' });
    aad.push(b'|');
}

/// The digest of a credential policy that slots are bound to.
pub(crate) fn policy_digest(policy: &CredentialPolicy) -> Result<[u8; 32]> {
    Ok(crypto::hash(&[b"fieldkit policy v1", &encode(policy)?]))
}

/// The keys of a signed-in session, zeroized on drop.
pub(crate) struct Keys {
    pub(crate) records: Key,
    pub(crate) index: Key,
    pub(crate) audit: Key,
    pub(crate) manifest: Key,
    pub(crate) state: Key,
    pub(crate) bundle: Key,
    /// Seals what sync keeps (its identity, counters, outbox, inbox, queue).
    pub(crate) sync: Key,
    /// Seals children's photos and their thumbnails.
    pub(crate) photos: Key,
    pub(crate) incidents: Option<Key>,
    pub(crate) incident_index: Option<Key>,
    pub(crate) incident_bundle: Option<Key>,
    pub(crate) dek: Key,
    pub(crate) iek: Option<Key>,
    /// The key epoch these keys belong to (raised by every rotation).
    pub(crate) epoch: u32,
}

impl Keys {
    pub(crate) fn new(dek: Key, iek: Option<Key>, epoch: u32) -> Keys {
        Keys {
            records: dek.derive("fieldkit records v1"),
            index: dek.derive("fieldkit name index v1"),
            audit: dek.derive("fieldkit audit v1"),
            manifest: dek.derive("fieldkit manifest v1"),
            state: dek.derive("fieldkit state v1"),
            bundle: dek.derive("fieldkit bundle v1"),
            sync: dek.derive("fieldkit sync v1"),
            photos: dek.derive("fieldkit photos v1"),
            incidents: iek.as_ref().map(|k| k.derive("fieldkit incidents v1")),
            incident_index: iek.as_ref().map(|k| k.derive("fieldkit incident index v1")),
            incident_bundle: iek
                .as_ref()
                .map(|k| k.derive("fieldkit incident bundle v1")),
            dek,
            iek,
            epoch,
        }
    }

    pub(crate) fn record_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incidents.as_ref().ok_or_else(no_incident_access),
            _ => Ok(&self.records),
        }
    }

    pub(crate) fn index_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incident_index.as_ref().ok_or_else(no_incident_access),
            _ => Ok(&self.index),
        }
    }
}

fn no_incident_access() -> VaultError {
    VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
}

/// The associated data of a legacy slot's wrapped keys.
pub(crate) fn legacy_aad(vault_id: &[u8; 16], slot: &LegacySlot, which: &str) -> Vec<u8> {
    let mut aad = b"fieldkit/keyslot/v1|".to_vec();
    aad.extend_from_slice(vault_id);
    owner_aad(
        &mut aad,
        &SlotOwner {
            username: &slot.username,
            display_name: &slot.display_name,
            role: slot.role,
            incident_access: slot.incident_access,
        },
    );
    aad.extend_from_slice(which.as_bytes());
    aad
}

/// Names that are not caseworkers: `#recovery` and anything else starting with `#`, refused by
/// every command that takes a caseworker name (issue 8, finding 3).
pub(crate) fn is_reserved(name: &str) -> bool {
    name.starts_with('#')
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
        Err(VaultError::BadUsername(name.to_string()))
    }
}

pub(crate) struct SlotOwner<'a> {
    pub(crate) username: &'a str,
    pub(crate) display_name: &'a str,
    pub(crate) role: Role,
    pub(crate) incident_access: bool,
}

impl KeySlot {
    fn owner(&self) -> SlotOwner<'_> {
        SlotOwner {
            username: &self.username,
            display_name: &self.display_name,
            role: self.role,
            incident_access: self.incident_access,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Credential<'a> {
    /// A caseworker's PIN or passphrase.
    Secret(&'a [u8]),
    /// The recovery key.
    Recovery(&'a Key),
}

/// The key-encryption key and the hardware blob for a new slot.
fn new_kek(
    ctx: &SlotContext<'_>,
    credential: Credential<'_>,
    salt: &[u8; 16],
    kdf: KdfParams,
) -> Result<(Key, Option<Vec<u8>>)> {
    match credential {
        Credential::Recovery(r) => Ok((crypto::recovery_kek(r, salt), None)),
        Credential::Secret(c) => {
            let stretched = crypto::stretch(c, salt, kdf)?;
            if ctx.hardware.kind() == SOFTWARE {
                return Ok((crypto::kek_from(&stretched, None), None));
            }
            let auth = crypto::hardware_auth(&stretched);
            let (blob, secret) = ctx.hardware.enroll(&ctx.vault_id, &auth)?;
            Ok((crypto::kek_from(&stretched, Some(&secret)), Some(blob)))
        }
    }
}

/// A new slot for `owner`, its credential, and a grant of `keys`.
pub(crate) fn new_slot(
    ctx: &SlotContext<'_>,
    owner: SlotOwner<'_>,
    credential: Credential<'_>,
    kdf: KdfParams,
    keys: &Keys,
) -> Result<KeySlot> {
    let mut salt = [0u8; 16];
    crypto::fill_random(&mut salt)?;
    let (kek, hardware) = new_kek(ctx, credential, &salt, kdf)?;
    slot_with_kek(ctx, owner, salt, kdf, hardware, &kek, keys)
}

fn slot_with_kek(
    ctx: &SlotContext<'_>,
    owner: SlotOwner<'_>,
    salt: [u8; 16],
    kdf: KdfParams,
    hardware: Option<Vec<u8>>,
    kek: &Key,
    keys: &Keys,
) -> Result<KeySlot> {
    let owner = SlotOwner {
        incident_access: owner.incident_access && keys.iek.is_some(),
        ..owner
    };
    let (secret, public) = crypto::keypair()?;
    let sealed_secret = crypto::seal(kek, &ctx.secret_aad(&owner), secret.expose())?;
    let grant = grant(ctx, &owner, &public, keys)?;
    Ok(KeySlot {
        username: owner.username.to_string(),
        display_name: owner.display_name.to_string(),
        role: owner.role,
        incident_access: owner.incident_access,
        salt,
        kdf,
        hardware,
        public,
        secret: sealed_secret,
        grant,
    })
}

/// Seals `keys` (the incident key only for an owner with incident access) to `public`.
fn grant(
    ctx: &SlotContext<'_>,
    owner: &SlotOwner<'_>,
    public: &[u8; 32],
    keys: &Keys,
) -> Result<Grant> {
    let mut plain = Zeroizing::new(Vec::with_capacity(64));
    plain.extend_from_slice(keys.dek.expose());
    if let Some(iek) = keys.iek.as_ref().filter(|_| owner.incident_access) {
        plain.extend_from_slice(iek.expose());
    }
    let (ephemeral, sealed) = crypto::seal_to(public, &ctx.grant_aad(owner, keys.epoch), &plain)?;
    Ok(Grant {
        epoch: keys.epoch,
        ephemeral,
        keys: sealed,
    })
}

impl KeySlot {
    /// The same slot with a grant of `keys` (a rotation).
    pub(crate) fn regranted(&self, ctx: &SlotContext<'_>, keys: &Keys) -> Result<KeySlot> {
        let mut slot = self.clone();
        slot.grant = grant(ctx, &self.owner(), &self.public, keys)?;
        Ok(slot)
    }
}

/// What a credential unlocks in a slot: the keys, and for a legacy slot the key-encryption key
/// it was opened with (to rewrite it in the current format).
pub(crate) struct Unlocked {
    pub(crate) keys: Keys,
    pub(crate) legacy_kek: Option<Key>,
}

/// The key-encryption key a credential gives for an existing slot. A hardware slot asks the
/// element, which counts a wrong authorisation toward its own lockout.
pub(crate) fn slot_kek(
    ctx: &SlotContext<'_>,
    slot: &StoredSlot,
    credential: Credential<'_>,
) -> Result<Key> {
    let (salt, kdf) = slot.salt_and_kdf();
    match credential {
        Credential::Recovery(r) => Ok(crypto::recovery_kek(r, &salt)),
        Credential::Secret(c) => {
            if !kdf.meets_floor() || !kdf.within_ceiling() {
                return Err(VaultError::Corrupt(format!(
                    "a key slot asks for Argon2 parameters out of range (m = {} KiB, t = {}, p = {})",
                    kdf.m_kib, kdf.t, kdf.p
                )));
            }
            let stretched = crypto::stretch(c, &salt, kdf)?;
            match slot.hardware_blob() {
                None => Ok(crypto::kek_from(&stretched, None)),
                Some(blob) => {
                    let auth = crypto::hardware_auth(&stretched);
                    let secret = ctx.hardware.unseal(&ctx.vault_id, blob, &auth)?;
                    Ok(crypto::kek_from(&stretched, Some(&secret)))
                }
            }
        }
    }
}

/// Opens a slot with its key-encryption key. A wrong key gives
/// [`CryptoError::Authentication`](crate::CryptoError::Authentication).
pub(crate) fn open_slot(ctx: &SlotContext<'_>, slot: &StoredSlot, kek: Key) -> Result<Unlocked> {
    let key_of = |plain: &[u8]| -> Result<Key> {
        let bytes: [u8; 32] = plain
            .try_into()
            .map_err(|_| VaultError::Corrupt("wrapped key of wrong length".into()))?;
        Ok(Key::from_bytes(bytes))
    };
    match slot {
        StoredSlot::Legacy(s) => {
            let dek = key_of(&crypto::open(
                &kek,
                &legacy_aad(&ctx.vault_id, s, "dek"),
                &s.dek,
            )?)?;
            let iek = match (&s.iek, s.incident_access) {
                (Some(w), true) => Some(key_of(&crypto::open(
                    &kek,
                    &legacy_aad(&ctx.vault_id, s, "iek"),
                    w,
                )?)?),
                _ => None,
            };
            Ok(Unlocked {
                keys: Keys::new(dek, iek, 0),
                legacy_kek: Some(kek),
            })
        }
        StoredSlot::Current(s) => {
            let secret = key_of(&crypto::open(&kek, &ctx.secret_aad(&s.owner()), &s.secret)?)?;
            let plain = crypto::open_from(
                &secret,
                &s.grant.ephemeral,
                &ctx.grant_aad(&s.owner(), s.grant.epoch),
                &s.grant.keys,
            )
            .map_err(|_| VaultError::Tampered {
                what: format!("the key grant of `{}`", s.username),
            })?;
            let dek = key_of(plain.get(..32).unwrap_or_default())?;
            let iek = match (plain.get(32..64), s.incident_access) {
                (Some(k), true) => Some(key_of(k)?),
                _ => None,
            };
            Ok(Unlocked {
                keys: Keys::new(dek, iek, s.grant.epoch),
                legacy_kek: None,
            })
        }
    }
}

/// Rewrites a legacy slot in the current format, under the same salt and key-encryption key
/// (no second Argon2 run).
pub(crate) fn upgrade_slot(
    ctx: &SlotContext<'_>,
    slot: &LegacySlot,
    kek: &Key,
    keys: &Keys,
) -> Result<KeySlot> {
    slot_with_kek(
        ctx,
        SlotOwner {
            username: &slot.username,
            display_name: &slot.display_name,
            role: slot.role,
            incident_access: slot.incident_access,
        },
        slot.salt,
        slot.kdf,
        None,
        kek,
        keys,
    )
}

impl Session {
    /// What this vault's slots are bound to, under `policy`.
    pub(crate) fn slot_context(&self, policy: &CredentialPolicy) -> Result<SlotContext<'_>> {
        Ok(SlotContext {
            vault_id: self.vault.vault_id,
            policy: policy_digest(policy)?,
            hardware: self.vault.opts.hardware.as_ref(),
            software_slots: BTreeSet::new(),
        })
    }

    /// Adds a caseworker. Supervisors only.
    pub fn add_caseworker(
        &mut self,
        username: &str,
        display_name: &str,
        credential: &[u8],
        role: Role,
        incident_access: bool,
        now_ms: u64,
    ) -> Result<(), CaseworkerError> {
        self.require_supervisor()?;
        validate_username(username)?;
        let credential = normalise(credential)?;
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(&credential)?;
        if txn.open_table(KEYSLOTS)?.get(username)?.is_some() {
            return Err(VaultError::CaseworkerExists(username.to_string()).into());
        }
        if incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "only a caseworker with incident access can grant it".into(),
            )
            .into());
        }
        let slot = new_slot(
            &self.slot_context(&policy)?,
            SlotOwner {
                username,
                display_name,
                role,
                incident_access,
            },
            Credential::Secret(&credential),
            policy.kdf,
            &self.keys,
        )?;
        txn.open_table(KEYSLOTS)?
            .insert(username, slot.to_bytes()?.as_slice())?;
        crate::signin::forget_software_slot(&txn, username)?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CaseworkerAdded {
                username: username.to_string(),
            },
            None,
        )?;
        Ok(self.commit(txn)?)
    }

    /// Sets a caseworker's credential: one's own, or anyone's for a supervisor (a reset). Only the
    /// key slot is rewritten; no record is re-encrypted. Reserved names (`#recovery`) are
    /// refused: the recovery key is never replaced by a PIN.
    pub fn set_credential(
        &mut self,
        username: &str,
        credential: &[u8],
        now_ms: u64,
    ) -> Result<(), CaseworkerError> {
        if is_reserved(username) {
            return Err(VaultError::Forbidden(format!(
                "`{username}` is not a caseworker: its key cannot be changed"
            ))
            .into());
        }
        if username != self.user.username {
            self.require_supervisor()?;
        }
        let credential = normalise(credential)?;
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(&credential)?;
        let old = {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            match v {
                Some(g) => StoredSlot::decode(g.value())?.caseworker(),
                None => return Err(VaultError::NoSuchCaseworker(username.to_string()).into()),
            }
        };
        if old.incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "cannot reset a caseworker with incident access".into(),
            )
            .into());
        }
        let slot = new_slot(
            &self.slot_context(&policy)?,
            SlotOwner {
                username,
                display_name: &old.display_name,
                role: old.role,
                incident_access: old.incident_access,
            },
            Credential::Secret(&credential),
            policy.kdf,
            &self.keys,
        )?;
        txn.open_table(KEYSLOTS)?
            .insert(username, slot.to_bytes()?.as_slice())?;
        crate::signin::forget_software_slot(&txn, username)?;
        let mut lockouts = Lockouts::read_w(&txn)?;
        lockouts.wiped = false;
        lockouts.names.remove(username);
        lockouts.write(&txn)?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CredentialChanged {
                username: username.to_string(),
            },
            None,
        )?;
        Ok(self.commit(txn)?)
    }

    /// The caseworkers who can sign in, and what they may do. Needs a sign-in, and is audited:
    /// who may read GBV incidents is itself sensitive.
    pub fn caseworkers(&mut self, now_ms: u64) -> Result<Vec<Caseworker>, CaseworkerError> {
        let list = self.vault.roster()?;
        let txn = begin(&self.vault.db)?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::RosterRead {
                caseworkers: u32::try_from(list.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        self.commit(txn)?;
        Ok(list)
    }
}

/// A credential as typed, normalised ([`crate::credential::normalise`]: NFKC, Arabic-Indic and
/// Persian digits as ASCII, surrounding spaces trimmed), as bytes.
pub(crate) fn normalise(credential: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let text = crate::credential::normalise(credential)?;
    Ok(Zeroizing::new(text.as_bytes().to_vec()))
}
