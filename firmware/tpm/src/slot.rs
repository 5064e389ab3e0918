//! Key slots sealed in the TPM, opened only with the PIN-derived authorisation.

use sha2::{Digest as _, Sha256};
use tss_esapi::Context;
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::structures::{
    Auth, Digest, KeyedHashScheme, Private, Public, PublicBuilder, PublicKeyedHashParameters,
    SensitiveData,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use zeroize::{Zeroize, Zeroizing};

use crate::SlotSecret;
use crate::blob::SlotBlob;
use crate::device::{Tpm, da_status, primary, salted_session, set_encryption};
use crate::error::{SealError, TpmError, UnsealError};

/// Seals and opens the vault's key slots in a TPM.
#[derive(Debug, Clone)]
pub struct SlotSealer {
    tpm: Tpm,
}

/// The sealed data object's authorisation value: SHA-256 over a label, the vault id and the
/// vault's 32-byte PIN-derived value, so one value never opens another vault's slot. 32 bytes,
/// the most a SHA-256 object accepts.
fn object_auth(vault_id: &[u8; 16], auth: &[u8; 32]) -> Result<Auth, TpmError> {
    let mut h = Sha256::new();
    h.update(b"fieldkit tpm slot auth v1");
    h.update(vault_id);
    h.update(auth);
    let mut digest: [u8; 32] = h.finalize().into();
    let out = Auth::try_from(digest.to_vec()).map_err(TpmError::command("size an authorisation"));
    digest.zeroize();
    out
}

/// A keyed-hash object with no scheme holds sealed data. `fixedTPM | fixedParent`: it can never
/// be duplicated to another TPM. `userWithAuth`: the authorisation value opens it. Not `noDA`:
/// the TPM counts every wrong authorisation towards its lockout.
fn sealed_object_template() -> Result<Public, TpmError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .with_no_da(false)
        .build()
        .map_err(TpmError::command("build the slot's attributes"))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_auth_policy(Digest::default())
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(TpmError::command("build the slot's template"))
}

fn random_secret() -> Result<SlotSecret, TpmError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(secret.as_mut()).map_err(|e| TpmError::Random(e.to_string()))?;
    Ok(secret)
}

impl SlotSealer {
    /// Slots in `tpm`.
    pub fn new(tpm: Tpm) -> SlotSealer {
        SlotSealer { tpm }
    }

    /// The TPM.
    pub fn tpm(&self) -> &Tpm {
        &self.tpm
    }

    /// Seals a fresh random 32-byte secret for `vault_id`, opened by `auth`. Returns the blob to
    /// store and the secret.
    pub fn enroll(
        &self,
        vault_id: &[u8; 16],
        auth: &[u8; 32],
    ) -> Result<(Vec<u8>, SlotSecret), SealError> {
        let secret = random_secret()?;
        let mut ctx = self.tpm.connect()?;
        let primary = primary(&mut ctx)?;
        let result = seal(&mut ctx, primary, vault_id, auth, &secret);
        let _ = ctx.flush_context(primary.into());
        Ok((result?, secret))
    }

    /// Opens the slot in `blob` with `auth`. A wrong `auth` is a failure the TPM counts.
    pub fn unseal(
        &self,
        vault_id: &[u8; 16],
        blob: &[u8],
        auth: &[u8; 32],
    ) -> Result<SlotSecret, UnsealError> {
        let blob = SlotBlob::parse(blob)?;
        if blob.vault_id != *vault_id {
            return Err(UnsealError::ForeignVault);
        }
        let public = Public::unmarshall(&blob.public)
            .map_err(|e| UnsealError::BadBlob(format!("public area: {e}")))?;
        let private = Private::try_from(blob.private.clone())
            .map_err(|e| UnsealError::BadBlob(format!("private area: {e}")))?;
        let mut ctx = self.tpm.connect()?;
        let primary = primary(&mut ctx)?;
        let result = unseal(
            &mut ctx,
            primary,
            public,
            private,
            object_auth(vault_id, auth)?,
        );
        let _ = ctx.flush_context(primary.into());
        result
    }
}

fn seal(
    ctx: &mut Context,
    primary: KeyHandle,
    vault_id: &[u8; 16],
    auth: &[u8; 32],
    secret: &SlotSecret,
) -> Result<Vec<u8>, SealError> {
    let data = SensitiveData::try_from(secret.to_vec())
        .map_err(TpmError::command("size the sealed data"))?;
    let object_auth = object_auth(vault_id, auth)?;
    // The authorisation value and the secret are the command's first parameter: encrypted.
    let template = sealed_object_template()?;
    let session = salted_session(ctx, primary, true, true)?;
    let created = ctx
        .execute_with_session(Some(session), |ctx| {
            ctx.create(primary, template, Some(object_auth), Some(data), None, None)
        })
        .map_err(TpmError::command("seal a key slot"));
    let _ = ctx.flush_context(ObjectHandle::from(session_handle(session)));
    let created = created?;
    let public = created
        .out_public
        .marshall()
        .map_err(TpmError::command("marshal the slot's public area"))?;
    Ok(SlotBlob {
        vault_id: *vault_id,
        public,
        private: created.out_private.value().to_vec(),
    }
    .to_bytes())
}

fn session_handle(
    session: tss_esapi::interface_types::session_handles::AuthSession,
) -> tss_esapi::handles::SessionHandle {
    session.into()
}

fn unseal(
    ctx: &mut Context,
    primary: KeyHandle,
    public: Public,
    private: Private,
    object_auth: Auth,
) -> Result<SlotSecret, UnsealError> {
    // Load's first parameter (the private area) is already encrypted under the primary key;
    // Unseal has no command parameter, and its response (the secret) is encrypted.
    let session = salted_session(ctx, primary, false, true)?;
    let loaded = ctx.execute_with_session(Some(session), |ctx| ctx.load(primary, private, public));
    let object = match loaded {
        Ok(h) => h,
        Err(e) => {
            let _ = ctx.flush_context(ObjectHandle::from(session_handle(session)));
            return Err(load_error(ctx, e));
        }
    };
    let result = ctx
        .tr_set_auth(object.into(), object_auth)
        .map_err(|e| UnsealError::from(TpmError::command("set the slot's authorisation")(e)))
        .and_then(|()| {
            set_encryption(ctx, session, false, true)?;
            ctx.execute_with_session(Some(session), |ctx| ctx.unseal(object.into()))
                .map_err(|e| unseal_error(ctx, e))
        });
    let _ = ctx.flush_context(object.into());
    let _ = ctx.flush_context(ObjectHandle::from(session_handle(session)));
    let data = result?;
    let mut secret = Zeroizing::new([0u8; 32]);
    let bytes = data.value();
    if bytes.len() != 32 {
        return Err(UnsealError::BadBlob(
            "sealed data of the wrong length".into(),
        ));
    }
    secret.copy_from_slice(bytes);
    Ok(secret)
}

fn kind(e: &tss_esapi::Error) -> Option<Tss2ResponseCodeKind> {
    match e {
        tss_esapi::Error::Tss2Error(rc) => rc.kind(),
        tss_esapi::Error::WrapperError(_) => None,
    }
}

/// A private area that fails its integrity check was made under another primary key: another
/// TPM, or this one before a TPM2_Clear.
fn load_error(ctx: &mut Context, e: tss_esapi::Error) -> UnsealError {
    match kind(&e) {
        Some(Tss2ResponseCodeKind::Integrity) => UnsealError::OtherTpm,
        Some(Tss2ResponseCodeKind::Lockout) => lockout(ctx),
        Some(
            Tss2ResponseCodeKind::Size
            | Tss2ResponseCodeKind::Value
            | Tss2ResponseCodeKind::Type
            | Tss2ResponseCodeKind::Attributes
            | Tss2ResponseCodeKind::Hash
            | Tss2ResponseCodeKind::Symmetric
            | Tss2ResponseCodeKind::KeySize
            | Tss2ResponseCodeKind::Insufficient,
        ) => UnsealError::BadBlob(format!("the TPM refused to load it: {e}")),
        _ => TpmError::command("load a key slot")(e).into(),
    }
}

fn unseal_error(ctx: &mut Context, e: tss_esapi::Error) -> UnsealError {
    match kind(&e) {
        Some(Tss2ResponseCodeKind::AuthFail | Tss2ResponseCodeKind::BadAuth) => {
            UnsealError::WrongAuth
        }
        Some(Tss2ResponseCodeKind::Lockout) => lockout(ctx),
        _ => TpmError::command("unseal a key slot")(e).into(),
    }
}

/// In lockout the TPM forgives one failure per recovery interval: that is the wait.
fn lockout(ctx: &mut Context) -> UnsealError {
    UnsealError::Lockout {
        retry_after_s: da_status(ctx).map_or(0, |d| u64::from(d.recovery_s)),
    }
}
