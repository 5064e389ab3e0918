//! The anti-rollback counter: a TPM NV index of type counter (`TPM_NT_COUNTER`), which only
//! TPM2_NV_Increment changes, by one, and nothing can set back short of clearing the TPM.
//!
//! The index is defined on first use in the owner hierarchy, readable and incrementable with
//! its own (empty) authorisation and `noDA`: anyone may push it forward (that only makes the
//! vault refuse its file, which the recovery path handles), nobody can move it back, and a
//! dictionary-attack lockout from wrong PINs does not block it. It is not `orderly`: an orderly
//! counter jumps forward after a power cut, which would make an honest file look rolled back.
//! A counter's first value is not 0: the TPM starts it at the highest value any counter on it
//! ever had (TPM 2.0 part 1, 37.2.3.3), so even deleting and redefining the index cannot bring
//! an old value back.

use tss_esapi::Context;
use tss_esapi::attributes::NvIndexAttributesBuilder;
use tss_esapi::constants::NvIndexType;
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::handles::{NvIndexHandle, NvIndexTpmHandle, TpmHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::resource_handles::{NvAuth, Provision};
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::NvPublicBuilder;

use crate::device::Tpm;
use crate::error::{CounterError, TpmError};

/// fieldkit's counter: an index in the owner range (0x01000000–0x013FFFFF in the TCG's registry
/// of reserved handles), spelling "?K" 01 so a technician listing NV indices can tell it.
pub const DEFAULT_COUNTER_INDEX: u32 = 0x013F_4B01;

/// The most [`NvCounter::advance_to`] moves the counter in one call. A vault advances it by one
/// per anchored commit; a request far beyond is a bug or a forged value, and each increment
/// wears the TPM's NV memory.
pub const MAX_ADVANCE: u64 = 4096;

/// The monotonic counter at one NV index of a TPM.
#[derive(Debug, Clone)]
pub struct NvCounter {
    tpm: Tpm,
    index: u32,
}

impl NvCounter {
    /// The counter at `index` (see [`DEFAULT_COUNTER_INDEX`]). Does not touch the TPM.
    pub fn new(tpm: Tpm, index: u32) -> Result<NvCounter, CounterError> {
        if !(0x0100_0000..=0x013F_FFFF).contains(&index) {
            return Err(CounterError::BadIndex { index });
        }
        Ok(NvCounter { tpm, index })
    }

    /// The NV index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The counter's value, defining and starting it on first use.
    pub fn read(&self) -> Result<u64, CounterError> {
        let mut ctx = self.tpm.connect()?;
        let handle = self.open(&mut ctx)?;
        read(&mut ctx, handle)
    }

    /// Increments the counter until it is at least `value` and returns its value then (which is
    /// higher than `value` when the counter already was).
    pub fn advance_to(&self, value: u64) -> Result<u64, CounterError> {
        let mut ctx = self.tpm.connect()?;
        let handle = self.open(&mut ctx)?;
        let mut now = read(&mut ctx, handle)?;
        if value.saturating_sub(now) > MAX_ADVANCE {
            return Err(CounterError::TooFar {
                from: now,
                to: value,
            });
        }
        while now < value {
            increment(&mut ctx, handle)?;
            now = read(&mut ctx, handle)?;
        }
        Ok(now)
    }

    /// The index's handle, defining the index (and giving it its first value) when it does not
    /// exist yet.
    fn open(&self, ctx: &mut Context) -> Result<NvIndexHandle, CounterError> {
        let tpm_handle = NvIndexTpmHandle::new(self.index)
            .map_err(TpmError::command("name the counter's NV index"))?;
        let handle = match ctx
            .execute_without_session(|ctx| ctx.tr_from_tpm_public(TpmHandle::NvIndex(tpm_handle)))
        {
            Ok(h) => NvIndexHandle::from(h),
            Err(e) if is_missing(&e) => return self.define(ctx, tpm_handle),
            Err(e) => return Err(TpmError::command("find the counter's NV index")(e).into()),
        };
        let (public, _) = ctx
            .execute_without_session(|ctx| ctx.nv_read_public(handle))
            .map_err(TpmError::command("read the counter's NV index"))?;
        let attributes = public.attributes();
        let is_counter = attributes
            .index_type()
            .is_ok_and(|t| t == NvIndexType::Counter);
        if !is_counter || !attributes.auth_read() || !attributes.auth_write() {
            return Err(CounterError::NotACounter { index: self.index });
        }
        if !attributes.written() {
            // Defined, but the first increment was lost (a power cut between the two).
            increment(ctx, handle)?;
        }
        Ok(handle)
    }

    fn define(
        &self,
        ctx: &mut Context,
        tpm_handle: NvIndexTpmHandle,
    ) -> Result<NvIndexHandle, CounterError> {
        let attributes = NvIndexAttributesBuilder::new()
            .with_nv_index_type(NvIndexType::Counter)
            .with_auth_read(true)
            .with_auth_write(true)
            .with_owner_read(true)
            .with_no_da(true)
            .build()
            .map_err(TpmError::command("build the counter's attributes"))?;
        let public = NvPublicBuilder::new()
            .with_nv_index(tpm_handle)
            .with_index_name_algorithm(HashingAlgorithm::Sha256)
            .with_index_attributes(attributes)
            .with_data_area_size(8)
            .build()
            .map_err(TpmError::command("build the counter's NV public area"))?;
        let handle = ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.nv_define_space(Provision::Owner, None, public)
            })
            .map_err(TpmError::command("define the counter's NV index"))?;
        increment(ctx, handle)?;
        tracing::info!(index = self.index, "TPM anti-rollback counter defined");
        Ok(handle)
    }
}

fn is_missing(e: &tss_esapi::Error) -> bool {
    matches!(e, tss_esapi::Error::Tss2Error(rc) if rc.kind() == Some(Tss2ResponseCodeKind::Handle))
}

fn increment(ctx: &mut Context, handle: NvIndexHandle) -> Result<(), TpmError> {
    ctx.execute_with_session(Some(AuthSession::Password), |ctx| {
        ctx.nv_increment(NvAuth::NvIndex(handle), handle)
    })
    .map_err(TpmError::command("increment the counter"))
}

fn read(ctx: &mut Context, handle: NvIndexHandle) -> Result<u64, CounterError> {
    let data = ctx
        .execute_with_session(Some(AuthSession::Password), |ctx| {
            ctx.nv_read(NvAuth::NvIndex(handle), handle, 8, 0)
        })
        .map_err(TpmError::command("read the counter"))?;
    let bytes: [u8; 8] = data
        .value()
        .try_into()
        .map_err(|_| TpmError::Nonsense("reading the counter"))?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_range_indices_are_accepted() {
        let tpm = Tpm::new("swtpm:host=127.0.0.1,port=1").unwrap();
        assert!(NvCounter::new(tpm.clone(), DEFAULT_COUNTER_INDEX).is_ok());
        assert!(matches!(
            NvCounter::new(tpm.clone(), 0x0140_0000),
            Err(CounterError::BadIndex { .. })
        ));
        assert!(NvCounter::new(tpm, 0x8100_0001).is_err());
    }
}
