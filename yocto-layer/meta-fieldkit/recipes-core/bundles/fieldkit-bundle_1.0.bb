SUMMARY = "fieldkit update bundle: a signed RAUC bundle of the kit's root file system"
DESCRIPTION = "Installs fieldkit-image into the inactive root slot; the kit boots it once, and \
keeps it only if the kiosk reports ready (rauc-mark-good), else falls back."
HOMEPAGE = "https://example.invalid/fieldkit"
SECTION = "base"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

inherit bundle

# Nothing to fetch: the bundle is made from fieldkit-image.
SRC_URI = ""

RAUC_BUNDLE_COMPATIBLE = "fieldkit-${MACHINE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}-${DATETIME}"
RAUC_BUNDLE_VERSION[vardepsexclude] = "DATETIME"
RAUC_BUNDLE_DESCRIPTION = "fieldkit root file system"
RAUC_BUNDLE_FORMAT = "verity"

RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "fieldkit-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

# The signing key and certificate are the technician's, kept off the build machine's
# repository: scripts/build-image passes FIELDKIT_KEYS_DIR (see the technicians' guide).
FIELDKIT_KEYS_DIR ??= ""
RAUC_KEY_FILE = "${FIELDKIT_KEYS_DIR}/fieldkit-update.key.pem"
RAUC_CERT_FILE = "${FIELDKIT_KEYS_DIR}/fieldkit-update.cert.pem"
RAUC_KEYRING_FILE = "${FIELDKIT_KEYS_DIR}/fieldkit-ca.cert.pem"
