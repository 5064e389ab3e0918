//! Sign-in and lockout: the failed-attempt counters, the delays, the wipe, the recovery key,
//! and the checks that the file is the current one before a session starts.
//!
//! Every attempt is counted and committed to disk *before* the credential is checked, so
//! cutting the power during the check cannot reset the count. Counts are kept per name, plus a
//! global count against guessing across names; a name without a slot (or a reserved one such
//! as `#recovery`) has its own count and never raises a real caseworker's. Only failures under
//! real caseworkers' names count toward the wipe. The recovery key has its own count and
//! delays too.
//!
//! The counters are plaintext (they change before anyone is signed in), so they are checked
//! afterwards: the sealed state holds them as of the last authenticated commit, and at the next
//! successful sign-in they must equal that snapshot plus what the audit entries since then
//! record. Lowering them in the file is therefore noticed, and with a rollback anchor (a TPM's
//! NV counter) so is cutting those audit entries or copying back an older file.
//!
//! **Moving into a TPM.** A kit is provisioned on a technician's PC, in software mode; its
//! TPM is on the kit. Sealing a slot in the TPM needs a value derived from the owner's PIN,
//! which only a sign-in has, so the move happens at sign-ins on the kit
//! ([`OpenOptions::adopt_software`](crate::OpenOptions::adopt_software)): the first sign-in
//! under a TPM switches the vault's mode and rollback anchor to the TPM's and lists every
//! other slot as still in software mode (meta `software_slots`); each slot is sealed anew in
//! the TPM, and its software form replaced, at its owner's next sign-in. Each move is part of
//! the sign-in's one write transaction, and the TPM keeps nothing of a sealed object until the
//! vault stores it, so a power cut at any point leaves the vault as it was before that
//! sign-in, or after it: it opens either way.

use crate::error::{ReadError, SignInError};
use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use fieldkit_domain::{Hlc, HlcClock};

use crate::audit::{AuditAction, AuditEntry, AuditHead, append_audit};
use crate::crypto::{self, KdfParams};
use crate::error::CryptoError;
use crate::error::{Result, VaultError};
use crate::hardware::{HardwareError, SOFTWARE};
use crate::keyslot::{
    Credential, Keys, SlotContext, SlotOwner, StoredSlot, is_reserved, new_slot, normalise,
    open_slot, policy_digest, slot_kek, upgrade_slot,
};
use crate::manifest::{State, open_state, roster_digests};
use crate::migrate::migrate;
use crate::policy::CredentialPolicy;
use crate::recovery::RecoveryKey;
use crate::schema::{AUDIT, KEYSLOTS, RECOVERY_SLOT, SCHEMA_VERSION, meta};
use crate::session::Session;
use crate::storage::{begin, decode, read_meta, read_meta_w, write_meta};
use crate::uptime::{Uptime, elapsed_ms};
use crate::vault::Vault;

/// Failed attempts under one name since its last success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counter {
    pub(crate) failures: u32,
    pub(crate) last_attempt_ms: u64,
    /// The boot clock at the last attempt, which waits are measured on when there is one.
    pub(crate) last_boot: Option<Uptime>,
}

/// How many names without a slot keep a counter; beyond it, the oldest is forgotten (each one
/// still raises the global count, which is what limits guessing across names).
const MAX_UNKNOWN_NAMES: usize = 64;

/// The lockout state (meta `lockouts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lockouts {
    /// All attempts under any name since the last success.
    pub(crate) global: Counter,
    /// Per name tried (caseworkers, unknown names, `#recovery`).
    pub(crate) names: BTreeMap<String, Counter>,
    /// Failures under real caseworkers' names since the last success: the wipe counts these.
    pub(crate) real_failures: u32,
    /// The caseworkers' slots were erased.
    pub(crate) wiped: bool,
}

/// The lockout state as schema 1 and 2 kept it (meta `lockout`): one counter for everyone.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct LegacyLockout {
    failures: u32,
    last_attempt_ms: u64,
    wiped: bool,
}

impl From<LegacyLockout> for Lockouts {
    fn from(l: LegacyLockout) -> Lockouts {
        Lockouts {
            global: Counter {
                failures: l.failures,
                last_attempt_ms: l.last_attempt_ms,
                last_boot: None,
            },
            names: BTreeMap::new(),
            real_failures: l.failures,
            wiped: l.wiped,
        }
    }
}

impl Lockouts {
    pub(crate) fn read(txn: &ReadTransaction) -> Result<Lockouts> {
        if let Some(l) = read_meta::<Lockouts>(txn, meta::LOCKOUTS)? {
            return Ok(l);
        }
        Ok(read_meta::<LegacyLockout>(txn, meta::LOCKOUT)?
            .unwrap_or_default()
            .into())
    }

    pub(crate) fn read_w(txn: &WriteTransaction) -> Result<Lockouts> {
        if let Some(l) = read_meta_w::<Lockouts>(txn, meta::LOCKOUTS)? {
            return Ok(l);
        }
        Ok(read_meta_w::<LegacyLockout>(txn, meta::LOCKOUT)?
            .unwrap_or_default()
            .into())
    }

    pub(crate) fn write(&self, txn: &WriteTransaction) -> Result<()> {
        write_meta(txn, meta::LOCKOUTS, self)?;
        txn.open_table(crate::schema::META)?.remove(meta::LOCKOUT)?;
        Ok(())
    }

    /// The counts the sealed state vouches for: what must survive unchanged between sign-ins
    /// except through recorded attempts (times and forgotten unknown names are left out).
    pub(crate) fn vouched(&self, real: &dyn Fn(&str) -> bool) -> Lockouts {
        Lockouts {
            global: Counter {
                failures: self.global.failures,
                ..Counter::default()
            },
            names: self
                .names
                .iter()
                .filter(|(n, _)| real(n))
                .map(|(n, c)| {
                    (
                        n.clone(),
                        Counter {
                            failures: c.failures,
                            ..Counter::default()
                        },
                    )
                })
                .collect(),
            real_failures: self.real_failures,
            wiped: self.wiped,
        }
    }
}

/// What a vault was created with: its hardware secret's kind and its rollback anchor's
/// (meta `mode`). Absent in vaults made before schema 3: software mode, no anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mode {
    pub(crate) hardware: String,
    pub(crate) anchor: Option<String>,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            hardware: SOFTWARE.to_string(),
            anchor: None,
        }
    }
}

/// How the recovery key signs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Accept the vault as it is although it is older than its rollback anchor, or its sealed
    /// state does not match the file (records, key slots, audit or lockout edited outside
    /// fieldkit). What was found is written to the audit trail, and the state is sealed anew.
    /// Only for a supervisor who knows why (a restored backup).
    pub accept_rollback: bool,
}

impl Vault {
    /// Failed sign-in attempts under any name since the last success.
    pub fn failed_attempts(&self) -> Result<u32, ReadError> {
        let txn = self.db.begin_read()?;
        Ok(Lockouts::read(&txn)?.global.failures)
    }

    /// How many caseworkers can sign in (names, roles and rights need a sign-in:
    /// [`Session::caseworkers`]).
    pub fn caseworker_count(&self) -> Result<usize, ReadError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KEYSLOTS)?;
        let mut n = 0;
        for row in table.iter()? {
            let (k, _) = row?;
            if !is_reserved(k.value()) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Signs a caseworker in. The attempt is counted and committed to disk *before* the
    /// credential is checked; a success sets that name's count and the global count back to
    /// zero. Reserved names such as `#recovery` never sign in here.
    pub fn unlock(
        self,
        username: &str,
        credential: &[u8],
        now_ms: u64,
    ) -> Result<Session, SignInError> {
        let credential = normalise(credential)?;
        Ok(self.unlock_with(username, Credential::Secret(&credential), None, now_ms)?)
    }

    /// Signs in with the recovery key, as a supervisor named `#recovery`. Clears a wipe: the
    /// supervisor can then reset caseworkers' credentials. Rate-limited like any sign-in.
    pub fn unlock_recovery(
        self,
        recovery: &RecoveryKey,
        now_ms: u64,
    ) -> Result<Session, SignInError> {
        self.unlock_recovery_with(recovery, RecoveryOptions::default(), now_ms)
    }

    /// [`Vault::unlock_recovery`] with options (accepting a rolled-back or altered vault).
    pub fn unlock_recovery_with(
        self,
        recovery: &RecoveryKey,
        options: RecoveryOptions,
        now_ms: u64,
    ) -> Result<Session, SignInError> {
        Ok(self.unlock_with(
            RECOVERY_SLOT,
            Credential::Recovery(&recovery.0),
            Some(options),
            now_ms,
        )?)
    }

    fn unlock_with(
        self,
        username: &str,
        credential: Credential<'_>,
        recovery: Option<RecoveryOptions>,
        now_ms: u64,
    ) -> Result<Session> {
        let is_recovery = recovery.is_some();
        let accept = recovery.is_some_and(|r| r.accept_rollback);
        let txn = begin(&self.db)?;
        let mode: Mode = read_meta_w(&txn, meta::MODE)?.unwrap_or_default();
        let adopting = self.adopts(&mode);
        if !adopting {
            self.check_mode(&mode)?;
        }
        let counter: u64 = read_meta_w(&txn, meta::COUNTER)?.unwrap_or(0);
        let anchored = match &self.opts.anchor {
            Some(a) => Some(a.read().map_err(VaultError::Hardware)?),
            None => None,
        };
        // A vault taken into a TPM starts at whatever the TPM's counter holds, as a new vault
        // does (a TPM's counter starts high); it is not an older copy.
        if let Some(anchor) = anchored
            && counter < anchor
            && !accept
            && !adopting
        {
            return Err(VaultError::RolledBack {
                file: counter,
                anchor,
            });
        }
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        let mut lockouts = Lockouts::read_w(&txn)?;
        if lockouts.wiped && !is_recovery {
            return Err(VaultError::Wiped);
        }
        // A reserved name typed at the sign-in prompt is just an unknown name: it never opens
        // the recovery slot, and it has its own count.
        let slot: Option<StoredSlot> = if is_reserved(username) && !is_recovery {
            None
        } else {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            v.map(|g| StoredSlot::decode(g.value())).transpose()?
        };
        let mine = lockouts.names.get(username).copied().unwrap_or_default();
        // Waits are measured on the boot clock, which nobody at the kit can set; without one,
        // on the wall clock, where a clock that went backwards (a Pi without RTC after a power
        // cut) must not shorten the wait: it counts from now instead.
        let boot = self.opts.boot_clock.now();
        let wait = |c: Counter, delay: u64| -> u64 {
            let wall = now_ms.saturating_sub(c.last_attempt_ms);
            let elapsed = boot.map_or(wall, |b| elapsed_ms(c.last_boot, b, wall));
            delay.saturating_sub(elapsed / 1000)
        };
        let retry_after_s = wait(mine, policy.delay_s(mine.failures)).max(wait(
            lockouts.global,
            policy.global_delay_s(lockouts.global.failures),
        ));
        if retry_after_s > 0 {
            let mut moved = false;
            for c in std::iter::once(&mut lockouts.global).chain(lockouts.names.values_mut()) {
                if now_ms < c.last_attempt_ms {
                    c.last_attempt_ms = now_ms;
                    moved = true;
                }
            }
            if moved {
                lockouts.write(&txn)?;
                txn.commit()?;
            }
            return Err(VaultError::LockedOut {
                failures: mine.failures.max(lockouts.global.failures),
                retry_after_s,
            });
        }
        let bump = |c: &mut Counter| {
            c.failures = c.failures.saturating_add(1);
            c.last_attempt_ms = now_ms;
            c.last_boot = boot;
        };
        bump(lockouts.names.entry(username.to_string()).or_default());
        bump(&mut lockouts.global);
        forget_unknown_names(&txn, &mut lockouts)?;
        lockouts.write(&txn)?;
        let counter = counter + 1;
        write_meta(&txn, meta::COUNTER, &counter)?;
        append_audit(
            &txn,
            None,
            now_ms,
            username,
            AuditAction::LoginAttempt,
            None,
        )?;
        txn.commit()?;
        self.anchor(counter)?;
        tracing::debug!("sign-in attempt recorded");

        let ctx = SlotContext {
            vault_id: self.vault_id,
            policy: policy_digest(&policy)?,
            hardware: self.opts.hardware.as_ref(),
            software_slots: self.software_slots(adopting)?,
        };
        let outcome = match &slot {
            Some(slot) => {
                slot_kek(&ctx, slot, credential).and_then(|kek| open_slot(&ctx, slot, kek))
            }
            None => {
                // Spend the same effort for an unknown name, so timing does not reveal names.
                if let Credential::Secret(c) = credential {
                    crypto::stretch(c, &[0; 16], KdfParams::FLOOR)?;
                }
                Err(VaultError::Crypto(CryptoError::Authentication))
            }
        };
        let unlocked = match outcome {
            Ok(u) => u,
            Err(VaultError::Crypto(CryptoError::Authentication))
            | Err(VaultError::Hardware(HardwareError::WrongAuth)) => {
                return Err(self.failed(username, slot.is_some(), is_recovery, &policy, now_ms));
            }
            Err(VaultError::Hardware(HardwareError::Lockout { retry_after_s })) => {
                return Err(VaultError::LockedOut {
                    failures: lockouts.global.failures,
                    retry_after_s,
                });
            }
            Err(e) => return Err(e),
        };
        let Some(slot) = slot else {
            return Err(VaultError::Corrupt("a key slot vanished".into()));
        };
        self.signed_in(
            username,
            SignedIn {
                slot,
                unlocked,
                credential,
                mode,
                adopting,
                accept,
                anchored,
            },
            &policy,
            now_ms,
        )
    }

    /// Whether this sign-in takes a software-mode vault into the configured hardware.
    fn adopts(&self, mode: &Mode) -> bool {
        self.opts.adopt_software
            && mode.hardware == SOFTWARE
            && self.opts.hardware.kind() != SOFTWARE
    }

    /// The slots still sealed in software mode: every slot while the vault is being taken
    /// into hardware, else meta `software_slots`.
    fn software_slots(&self, adopting: bool) -> Result<BTreeSet<String>> {
        let txn = self.db.begin_read()?;
        if adopting {
            return slot_names(&txn.open_table(KEYSLOTS)?);
        }
        Ok(read_meta(&txn, meta::SOFTWARE_SLOTS)?.unwrap_or_default())
    }

    /// The vault's protection as it stands: which hardware holds its key slots and how many
    /// caseworkers' slots the PIN alone still protects (provisioned in software mode, not yet
    /// signed in under the TPM). Needs no sign-in.
    pub fn hardware_status(&self) -> Result<HardwareStatus, ReadError> {
        let txn = self.db.begin_read()?;
        let mode: Mode = read_meta(&txn, meta::MODE)?.unwrap_or_default();
        let pin_only = if mode.hardware == SOFTWARE {
            self.caseworker_count()?
        } else {
            let names: BTreeSet<String> =
                read_meta(&txn, meta::SOFTWARE_SLOTS)?.unwrap_or_default();
            names.iter().filter(|n| !is_reserved(n)).count()
        };
        Ok(HardwareStatus {
            hardware: mode.hardware,
            pin_only_slots: pin_only,
        })
    }

    /// Refuses a vault created under another hardware mode than the one configured.
    fn check_mode(&self, mode: &Mode) -> Result<()> {
        let configured = self.opts.hardware.kind();
        if mode.hardware != configured {
            return Err(VaultError::HardwareMismatch {
                vault: mode.hardware.clone(),
                configured: configured.to_string(),
            });
        }
        if let Some(kind) = &mode.anchor {
            let configured = self.opts.anchor.as_ref().map_or("none", |a| a.kind());
            if configured != kind {
                return Err(VaultError::HardwareMismatch {
                    vault: format!("rollback anchor {kind}"),
                    configured: format!("rollback anchor {configured}"),
                });
            }
        }
        Ok(())
    }

    /// Moves the rollback anchor up to `counter` (no anchor: nothing to do).
    pub(crate) fn anchor(&self, counter: u64) -> Result<()> {
        if let Some(a) = &self.opts.anchor {
            a.advance_to(counter).map_err(VaultError::Hardware)?;
        }
        Ok(())
    }

    /// Records a failed attempt, and erases the caseworkers' slots when the policy says so.
    fn failed(
        &self,
        username: &str,
        real: bool,
        is_recovery: bool,
        policy: &CredentialPolicy,
        now_ms: u64,
    ) -> VaultError {
        let record = || -> Result<VaultError> {
            let txn = begin(&self.db)?;
            let mut lockouts = Lockouts::read_w(&txn)?;
            append_audit(&txn, None, now_ms, username, AuditAction::LoginFailed, None)?;
            let counter: u64 = read_meta_w::<u64>(&txn, meta::COUNTER)?.unwrap_or(0) + 1;
            write_meta(&txn, meta::COUNTER, &counter)?;
            let failures = lockouts
                .names
                .get(username)
                .map_or(0, |c| c.failures)
                .max(lockouts.global.failures);
            if real && !is_recovery {
                lockouts.real_failures = lockouts.real_failures.saturating_add(1);
                if policy
                    .wipe_after
                    .is_some_and(|n| lockouts.real_failures >= n)
                {
                    wipe_slots(&txn)?;
                    lockouts.wiped = true;
                    lockouts.write(&txn)?;
                    append_audit(&txn, None, now_ms, username, AuditAction::Wiped, None)?;
                    txn.commit()?;
                    self.anchor(counter)?;
                    tracing::warn!(
                        failures = lockouts.real_failures,
                        "caseworker key slots erased after repeated failures"
                    );
                    return Ok(VaultError::Wiped);
                }
                lockouts.write(&txn)?;
            }
            txn.commit()?;
            self.anchor(counter)?;
            tracing::warn!(failures, "failed sign-in");
            Ok(VaultError::WrongCredential { failures })
        };
        record().unwrap_or_else(|e| e)
    }

    /// The credential was right: check the file against its sealed state, migrate, move the
    /// slot into the hardware element if it is still in software mode, reset the counts, and
    /// start the session.
    fn signed_in(
        self,
        username: &str,
        found: SignedIn<'_>,
        policy: &CredentialPolicy,
        now_ms: u64,
    ) -> Result<Session> {
        let SignedIn {
            slot,
            unlocked,
            credential,
            mode,
            adopting,
            accept,
            anchored,
        } = found;
        let keys = unlocked.keys;
        let txn = begin(&self.db)?;
        let schema: u32 = read_meta_w(&txn, meta::SCHEMA)?.unwrap_or(1);
        let counter: u64 = read_meta_w(&txn, meta::COUNTER)?.unwrap_or(0);
        let mut lockouts = Lockouts::read_w(&txn)?;
        let mut findings = Vec::new();
        let mut manifest = if schema < 3 {
            match migrate(&txn, &keys) {
                Ok(m) => m,
                Err(VaultError::Tampered { what }) if accept => {
                    findings.push(what);
                    crate::migrate::rebuild_versions(&txn, &keys)?
                }
                Err(e) => return Err(e),
            }
        } else {
            let epoch: u32 = read_meta_w(&txn, meta::EPOCH)?.unwrap_or(0);
            let sealed = read_meta_w(&txn, meta::STATE)?
                .ok_or_else(|| VaultError::Corrupt("no sealed state".into()))?;
            let state = match open_state(&keys, &self.vault_id, &sealed) {
                Ok(s) => Some(s),
                Err(_) if keys.epoch < epoch => {
                    return Err(VaultError::Forbidden(format!(
                        "`{username}`'s access was revoked: this key slot belongs to key epoch {}, the vault is at {epoch}",
                        keys.epoch
                    )));
                }
                Err(e) if accept => {
                    findings.push(e.to_string());
                    None
                }
                Err(e) => return Err(e),
            };
            let current = crate::manifest::scan_versions(&txn, &keys)?;
            if let Some(state) = state {
                let mut check = check_state(&txn, &state, counter, &lockouts, policy, &keys)?;
                if state.manifest != current {
                    check.push(crate::manifest::difference(&state.manifest, &current));
                }
                if !check.is_empty() && !accept {
                    return Err(VaultError::Tampered {
                        what: format!(
                            "{} — a supervisor can accept the vault as it is with the recovery key (`fieldkit recover --accept-rollback`)",
                            check.join("; ")
                        ),
                    });
                }
                findings.extend(check);
            }
            current
        };
        if let Some(anchor) = anchored
            && counter < anchor
        {
            if !adopting {
                findings.push(format!(
                    "the file's commit counter {counter} is below its anchor's {anchor}: an older copy"
                ));
            }
            write_meta(&txn, meta::COUNTER, &anchor)?;
        }

        if accept && !findings.is_empty() {
            // Accepting the file as it is: its records are what the versions say.
            manifest = crate::migrate::rebuild_versions(&txn, &keys)?;
        }
        if schema < SCHEMA_VERSION {
            // Schema 4: photos under the manifest (schema 3's photo rows have no version).
            let sealed = crate::photos::seal_unversioned(&txn, &keys, &mut manifest)?;
            if sealed > 0 {
                tracing::info!(photos = sealed, "photos sealed at their versions");
            }
            write_meta(&txn, meta::SCHEMA, &SCHEMA_VERSION)?;
        }

        // The counts start again for this name and for everyone; the recovery key also lifts
        // a wipe.
        lockouts.names.remove(username);
        lockouts.global = Counter::default();
        lockouts.real_failures = 0;
        if slot_is_recovery(username) {
            lockouts.wiped = false;
        }
        lockouts.write(&txn)?;
        // A slot still in software mode under a hardware element is sealed anew in it (which
        // also rewrites a legacy slot); a legacy slot otherwise is rewritten in the current
        // format under the same key.
        let hardware = self.opts.hardware.kind();
        let mut software = if adopting {
            slot_names(&txn.open_table(KEYSLOTS)?)?
        } else {
            read_meta_w(&txn, meta::SOFTWARE_SLOTS)?.unwrap_or_default()
        };
        let moving = hardware != SOFTWARE && software.remove(username);
        if moving {
            let ctx = SlotContext {
                vault_id: self.vault_id,
                policy: policy_digest(policy)?,
                hardware: self.opts.hardware.as_ref(),
                software_slots: BTreeSet::new(),
            };
            let who = slot.caseworker();
            let sealed = new_slot(
                &ctx,
                SlotOwner {
                    username,
                    display_name: &who.display_name,
                    role: who.role,
                    incident_access: who.incident_access,
                },
                credential,
                policy.kdf,
                &keys,
            )?;
            txn.open_table(KEYSLOTS)?
                .insert(username, sealed.to_bytes()?.as_slice())?;
            write_meta(&txn, meta::SOFTWARE_SLOTS, &software)?;
        } else if let (StoredSlot::Legacy(legacy), Some(kek)) = (&slot, &unlocked.legacy_kek) {
            let ctx = SlotContext {
                vault_id: self.vault_id,
                policy: policy_digest(policy)?,
                hardware: self.opts.hardware.as_ref(),
                software_slots: software.clone(),
            };
            let upgraded = upgrade_slot(&ctx, legacy, kek, &keys)?;
            txn.open_table(KEYSLOTS)?
                .insert(username, upgraded.to_bytes()?.as_slice())?;
        }
        let mode = Mode {
            hardware: hardware.to_string(),
            anchor: self
                .opts
                .anchor
                .as_ref()
                .map(|a| a.kind().to_string())
                .or(mode.anchor),
        };
        write_meta(&txn, meta::MODE, &mode)?;
        write_meta(&txn, meta::EPOCH, &keys.epoch)?;
        let actor = if slot_is_recovery(username) {
            "#recovery"
        } else {
            username
        };
        append_audit(
            &txn,
            Some(&keys.audit),
            now_ms,
            actor,
            AuditAction::LoginOk,
            None,
        )?;
        if slot_is_recovery(username) {
            append_audit(
                &txn,
                Some(&keys.audit),
                now_ms,
                actor,
                AuditAction::Recovery,
                None,
            )?;
        }
        if moving {
            append_audit(
                &txn,
                Some(&keys.audit),
                now_ms,
                actor,
                AuditAction::SealedInHardware {
                    hardware: hardware.to_string(),
                    still_in_software: u32::try_from(
                        software.iter().filter(|n| !is_reserved(n)).count(),
                    )
                    .unwrap_or(u32::MAX),
                },
                None,
            )?;
            tracing::info!(
                hardware,
                left = software.len(),
                "key slot sealed in the hardware element"
            );
        }
        if !findings.is_empty() {
            tracing::warn!(findings = findings.len(), "vault accepted as it is");
            append_audit(
                &txn,
                Some(&keys.audit),
                now_ms,
                actor,
                AuditAction::RollbackAccepted {
                    findings: findings.join("; "),
                },
                None,
            )?;
        }
        let clock: Hlc = read_meta_w(&txn, meta::CLOCK)?
            .ok_or_else(|| VaultError::Corrupt("no clock state".into()))?;
        let indexer_id: Option<String> = read_meta_w(&txn, meta::INDEXER)?;
        let incidents_id: Option<String> =
            read_meta_w(&txn, meta::INDEXER_INCIDENTS)?.or_else(|| indexer_id.clone());
        let mut user = slot.caseworker();
        user.username = actor.to_string();
        let mut session = Session {
            clock: HlcClock::resume(clock),
            user,
            keys,
            vault: self,
            manifest,
            terms_seen: crate::index::TermCache::default(),
            listed: crate::listed::Lists::default(),
        };
        session.commit(txn)?;
        if schema < SCHEMA_VERSION {
            tracing::info!(schema = SCHEMA_VERSION, "vault migrated");
        }
        let id = session.index_id();
        let incidents_stale =
            session.keys.incidents.is_some() && incidents_id.as_deref() != Some(id.as_str());
        if indexer_id.as_deref() != Some(id.as_str()) || incidents_stale {
            session.reindex()?;
        }
        Ok(session)
    }
}

/// What a right credential found, handed from the attempt to the session's start.
struct SignedIn<'a> {
    slot: StoredSlot,
    unlocked: crate::keyslot::Unlocked,
    credential: Credential<'a>,
    mode: Mode,
    adopting: bool,
    accept: bool,
    anchored: Option<u64>,
}

/// A vault's protection, as [`Vault::hardware_status`] tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HardwareStatus {
    /// The hardware the vault's slots are sealed in ([`SOFTWARE`], `"none"`, or `"tpm2"`).
    pub hardware: String,
    /// Caseworkers' slots the PIN alone still protects (each moves into the hardware at its
    /// owner's next sign-in under it).
    pub pin_only_slots: usize,
}

/// Takes `name` off the list of slots still in software mode (a new slot is sealed under the
/// vault's hardware).
pub(crate) fn forget_software_slot(txn: &WriteTransaction, name: &str) -> Result<()> {
    let mut names: BTreeSet<String> = read_meta_w(txn, meta::SOFTWARE_SLOTS)?.unwrap_or_default();
    if names.remove(name) {
        write_meta(txn, meta::SOFTWARE_SLOTS, &names)?;
    }
    Ok(())
}

/// The names of every key slot (the recovery key's included).
fn slot_names(table: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for row in table.iter()? {
        names.insert(row?.0.value().to_string());
    }
    Ok(names)
}

fn slot_is_recovery(username: &str) -> bool {
    username == RECOVERY_SLOT
}

/// Forgets the oldest counts of names that have no slot, beyond [`MAX_UNKNOWN_NAMES`].
fn forget_unknown_names(txn: &WriteTransaction, lockouts: &mut Lockouts) -> Result<()> {
    let slots = txn.open_table(KEYSLOTS)?;
    let mut unknown = Vec::new();
    for (name, c) in &lockouts.names {
        if slots.get(name.as_str())?.is_none() {
            unknown.push((c.last_attempt_ms, name.clone()));
        }
    }
    if unknown.len() > MAX_UNKNOWN_NAMES {
        unknown.sort();
        for (_, name) in unknown.iter().take(unknown.len() - MAX_UNKNOWN_NAMES) {
            lockouts.names.remove(name);
        }
    }
    Ok(())
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

/// What the file says since the sealed state was written, checked against it: the commit
/// counter only grew, the audit chain continues the sealed head with sign-in attempts only, the
/// lockout counts equal the sealed ones plus those attempts, and the policy and key slots are
/// the sealed ones. Returns what does not hold (empty when all is well).
fn check_state(
    txn: &WriteTransaction,
    state: &State,
    counter: u64,
    lockouts: &Lockouts,
    policy: &CredentialPolicy,
    keys: &Keys,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if counter < state.counter {
        out.push(format!(
            "the commit counter ({counter}) is below the sealed state's ({})",
            state.counter
        ));
    }
    if state.epoch != keys.epoch {
        out.push("the key epoch differs from the sealed state's".into());
    }
    if policy_digest(policy)? != policy_digest(&state.policy)? {
        out.push("the credential policy was changed outside fieldkit".into());
    }
    // The audit entries after the sealed head.
    let head: AuditHead = read_meta_w(txn, meta::AUDIT_HEAD)?.unwrap_or(AuditHead {
        len: 0,
        hash: [0; 32],
    });
    let table = txn.open_table(AUDIT)?;
    let mut suffix = Vec::new();
    if head.len < state.audit.len {
        out.push(format!(
            "the audit trail has {} entries, fewer than the {} the sealed state saw: entries were removed",
            head.len, state.audit.len
        ));
    } else {
        if state.audit.len > 0 {
            let last = table
                .get(state.audit.len - 1)?
                .map(|g| decode::<AuditEntry>(g.value(), "audit entry"))
                .transpose()?;
            if last.map(|e| e.hash()).transpose()? != Some(state.audit.hash) {
                out.push("the audit trail differs from the sealed state's head".into());
            }
        }
        let mut prev = state.audit.hash;
        for seq in state.audit.len..head.len {
            let entry: AuditEntry = match table.get(seq)? {
                Some(g) => decode(g.value(), "audit entry")?,
                None => {
                    out.push(format!("audit entry {seq} is missing"));
                    break;
                }
            };
            if entry.prev != prev || entry.seq != seq {
                out.push(format!("audit entry {seq} does not link to the one before"));
                break;
            }
            prev = entry.hash()?;
            suffix.push(entry);
        }
        if suffix.len() as u64 == head.len - state.audit.len && prev != head.hash {
            out.push("the audit head does not match the last entry".into());
        }
        let commits = counter.saturating_sub(state.counter);
        if (suffix.len() as u64) < commits {
            out.push(format!(
                "{commits} commits since the sealed state but only {} audit entries",
                suffix.len()
            ));
        }
    }
    // Replay the attempts on the sealed counts.
    let real = |n: &str| state.roster.contains_key(n);
    let mut expected = state.lockouts.clone();
    for e in &suffix {
        match e.action {
            AuditAction::LoginAttempt => {
                expected.names.entry(e.actor.clone()).or_default().failures += 1;
                expected.global.failures += 1;
            }
            AuditAction::LoginFailed if real(&e.actor) && !slot_is_recovery(&e.actor) => {
                expected.real_failures += 1;
            }
            AuditAction::LoginFailed => {}
            AuditAction::Wiped => expected.wiped = true,
            ref other => {
                out.push(format!(
                    "audit entry {} ({other:?}) was written without the vault's key: the sealed state is older than the file",
                    e.seq
                ));
            }
        }
    }
    if expected.vouched(&real) != lockouts.vouched(&real) {
        out.push("the failed-attempt counters were changed outside fieldkit".into());
    }
    // The key slots: as sealed, or (after a wipe) the recovery slot alone.
    let now = roster_digests(txn)?;
    let wiped = suffix.iter().any(|e| e.action == AuditAction::Wiped);
    let sealed: BTreeMap<String, [u8; 32]> = state
        .roster
        .iter()
        .filter(|(n, _)| !wiped || slot_is_recovery(n))
        .map(|(n, d)| (n.clone(), *d))
        .collect();
    if now != sealed {
        let changed: Vec<&String> = now
            .keys()
            .chain(sealed.keys())
            .filter(|n| now.get(*n) != sealed.get(*n))
            .collect();
        out.push(format!(
            "key slots were changed outside fieldkit ({})",
            changed
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(out)
}
