//! The seam a hardware element plugs into.

use crate::crypto::Key;

/// A secret a hardware element (such as an ATECC608 on a HAT) contributes to every key
/// derivation, so an image of the disk alone is not enough to attack the PINs. Kits without one
/// use [`NoHardwareSecret`].
pub trait HardwareSecret: Send + Sync {
    /// The secret for this vault, or `None` when the kit has no secure element.
    fn secret(&self, vault_id: &[u8; 16]) -> Option<Key>;
}

/// No secure element: the credential alone protects the keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHardwareSecret;

impl HardwareSecret for NoHardwareSecret {
    fn secret(&self, _vault_id: &[u8; 16]) -> Option<Key> {
        None
    }
}
