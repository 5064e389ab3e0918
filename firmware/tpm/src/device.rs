//! A TPM named by its TCTI string, and what every operation shares: a connection, the owner
//! hierarchy's primary key, a salted HMAC session, the dictionary-attack figures.

use std::str::FromStr;

use tss_esapi::Context;
use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::{PropertyTag, SessionType};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    EccPoint, Public, PublicBuilder, PublicEccParametersBuilder, SymmetricDefinition,
    SymmetricDefinitionObject,
};
use tss_esapi::tcti_ldr::TctiNameConf;

use crate::error::TpmError;

/// A TPM 2.0, reached through tpm2-tss. Holds only the address: each operation connects.
#[derive(Debug, Clone)]
pub struct Tpm {
    tcti: TctiNameConf,
    label: String,
}

/// What a TPM says about itself, for `fieldkit init` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmInfo {
    /// The manufacturer's four-letter id (`IFX` for Infineon, `IBM` for swtpm).
    pub manufacturer: String,
    /// Dictionary-attack figures.
    pub da: DaStatus,
    /// True when the lockout hierarchy has an authorisation value. Without one, anyone holding
    /// the kit can reset the dictionary-attack counter and guess on.
    pub lockout_auth_set: bool,
}

/// The TPM's dictionary-attack state (TPM 2.0 part 1, 19.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaStatus {
    /// Failed authorisations counted now.
    pub failed_tries: u32,
    /// Failures allowed before lockout (`maxTries`).
    pub max_tries: u32,
    /// Seconds after which one failure is forgiven (`recoveryTime`).
    pub recovery_s: u32,
    /// Seconds the lockout hierarchy stays locked after a failed lockout authorisation.
    pub lockout_recovery_s: u32,
}

impl DaStatus {
    /// True when the TPM refuses authorisations of DA-protected objects.
    pub fn in_lockout(&self) -> bool {
        self.max_tries > 0 && self.failed_tries >= self.max_tries
    }
}

/// `TPMA_PERMANENT.lockoutAuthSet` (TPM 2.0 part 2, 8.6).
const LOCKOUT_AUTH_SET: u32 = 1 << 2;

impl Tpm {
    /// A TPM at `tcti` (`device:/dev/tpmrm0`, `swtpm:host=…,port=…`). Does not connect.
    pub fn new(tcti: &str) -> Result<Tpm, TpmError> {
        let conf =
            TctiNameConf::from_str(tcti.trim()).map_err(|_| TpmError::BadTcti(tcti.to_string()))?;
        Ok(Tpm {
            tcti: conf,
            label: tcti.trim().to_string(),
        })
    }

    /// The TCTI string it was made from.
    pub fn address(&self) -> &str {
        &self.label
    }

    /// Opens a connection.
    pub(crate) fn connect(&self) -> Result<Context, TpmError> {
        Context::new(self.tcti.clone()).map_err(|source| TpmError::Unreachable {
            tcti: self.label.clone(),
            source,
        })
    }

    /// Connects and reads what the TPM says about itself: proves a TPM answers.
    pub fn info(&self) -> Result<TpmInfo, TpmError> {
        let mut ctx = self.connect()?;
        let manufacturer = property(&mut ctx, PropertyTag::Manufacturer)?;
        let manufacturer = manufacturer
            .to_be_bytes()
            .iter()
            .filter(|b| b.is_ascii_graphic())
            .map(|&b| char::from(b))
            .collect();
        let permanent = property(&mut ctx, PropertyTag::Permanent)?;
        Ok(TpmInfo {
            manufacturer,
            da: da_status(&mut ctx)?,
            lockout_auth_set: permanent & LOCKOUT_AUTH_SET != 0,
        })
    }

    /// The dictionary-attack figures now.
    pub fn da_status(&self) -> Result<DaStatus, TpmError> {
        da_status(&mut self.connect()?)
    }
}

fn property(ctx: &mut Context, tag: PropertyTag) -> Result<u32, TpmError> {
    ctx.get_tpm_property(tag)
        .map_err(TpmError::command("read its properties"))?
        .ok_or(TpmError::Nonsense("a property query"))
}

pub(crate) fn da_status(ctx: &mut Context) -> Result<DaStatus, TpmError> {
    Ok(DaStatus {
        failed_tries: property(ctx, PropertyTag::LockoutCounter)?,
        max_tries: property(ctx, PropertyTag::MaxAuthFail)?,
        recovery_s: property(ctx, PropertyTag::LockoutInterval)?,
        lockout_recovery_s: property(ctx, PropertyTag::LockoutRecovery)?,
    })
}

/// The template of the storage primary key: ECC P-256 (fast to derive, unlike RSA), restricted
/// decryption with AES-128-CFB for its children; `noDA`, since its authorisation is empty and a
/// lockout should stop PIN guesses, not the loading of slots. A primary key is a function of the hierarchy's
/// seed and this template, so the same template gives the same key on this TPM every time, and
/// a different key on any other TPM or after a TPM2_Clear.
fn primary_template() -> Result<Public, TpmError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_decrypt(true)
        .with_restricted(true)
        .with_no_da(true)
        .build()
        .map_err(TpmError::command("build the primary key's attributes"))?;
    let params = PublicEccParametersBuilder::new_restricted_decryption_key(
        SymmetricDefinitionObject::AES_128_CFB,
        EccCurve::NistP256,
    )
    .build()
    .map_err(TpmError::command("build the primary key's parameters"))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(params)
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
        .map_err(TpmError::command("build the primary key's template"))
}

/// Derives the storage primary key in the owner hierarchy (empty owner authorisation).
pub(crate) fn primary(ctx: &mut Context) -> Result<KeyHandle, TpmError> {
    let template = primary_template()?;
    ctx.execute_with_nullauth_session(|ctx| {
        ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
    })
    .map(|r| r.key_handle)
    .map_err(TpmError::command("derive the storage primary key"))
}

/// An HMAC session salted to `primary`: its session key is unknown to anyone watching the bus,
/// so authorisations are HMACs an eavesdropper cannot replay or check, and parameters marked
/// for it travel encrypted (AES-128-CFB).
pub(crate) fn salted_session(
    ctx: &mut Context,
    primary: KeyHandle,
    decrypt: bool,
    encrypt: bool,
) -> Result<AuthSession, TpmError> {
    let session = ctx
        .start_auth_session(
            Some(primary),
            None,
            None,
            SessionType::Hmac,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(TpmError::command("start a salted session"))?
        .ok_or(TpmError::Nonsense("starting a session"))?;
    set_encryption(ctx, session, decrypt, encrypt)?;
    Ok(session)
}

/// Which parameters the session encrypts: `decrypt` the command's first parameter, `encrypt`
/// the response's. A command without a sized first parameter refuses `decrypt`.
pub(crate) fn set_encryption(
    ctx: &mut Context,
    session: AuthSession,
    decrypt: bool,
    encrypt: bool,
) -> Result<(), TpmError> {
    let (attributes, mask) = SessionAttributesBuilder::new()
        .with_continue_session(true)
        .with_decrypt(decrypt)
        .with_encrypt(encrypt)
        .build();
    ctx.tr_sess_set_attributes(session, attributes, mask)
        .map_err(TpmError::command("set the session's attributes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcti_strings_are_checked_without_connecting() {
        assert!(Tpm::new("device:/dev/tpmrm0").is_ok());
        assert!(Tpm::new("swtpm:host=127.0.0.1,port=2321").is_ok());
        let e = Tpm::new("bluetooth:tpm").unwrap_err();
        assert!(e.to_string().contains("device:/dev/tpmrm0"), "{e}");
    }

    #[test]
    fn lockout_is_reached_at_max_tries() {
        let mut da = DaStatus {
            failed_tries: 2,
            max_tries: 3,
            recovery_s: 1000,
            lockout_recovery_s: 1000,
        };
        assert!(!da.in_lockout());
        da.failed_tries = 3;
        assert!(da.in_lockout());
        da.max_tries = 0;
        assert!(!da.in_lockout());
    }
}
