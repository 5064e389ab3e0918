SUMMARY = "fieldkit kit image: boots straight into the kiosk, read-only root, A/B updates"
DESCRIPTION = "The root file system every kit runs: the fieldkit kiosk under systemd, RAUC for \
A/B updates, tpm2-tss for the TPM. Per-kit identity and keys live on the data partition, \
written by scripts/provision, so one image serves every kit."
HOMEPAGE = "https://example.invalid/fieldkit"
SECTION = "base"
# Licence notes: the image's own recipe is Apache-2.0, but the fieldkit binary it installs
# links Slint, which a kit receives under GPL-3.0-only (Slint's royalty-free licence excludes
# embedded devices); the binary is then distributed under GPL-3.0-only as a whole, with its
# source, unless the agency obtains a Slint licence (see fieldkit_git.bb).
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

inherit core-image

# Read-only root: a power cut at any moment cannot damage the system, only the data partition
# sees writes (and redb commits there are durable).
IMAGE_FEATURES += "read-only-rootfs"
IMAGE_FEATURES:remove = "debug-tweaks"

IMAGE_INSTALL = " \
    packagegroup-core-boot \
    fieldkit \
    fieldkit-board \
    fieldkit-fonts-noto \
    rauc \
    rauc-mark-good \
    libubootenv-bin \
    tpm2-tss \
    kernel-image \
    kernel-modules \
    e2fsprogs-e2fsck \
    dosfstools \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

IMAGE_LINGUAS = ""

# A disk image for bmaptool, plus the ext4 root RAUC bundles are made from.
IMAGE_FSTYPES = "wic.bz2 wic.bmap ext4"
WKS_FILE = "fieldkit-ab.wks.in"
WICVARS:append = " FIELDKIT_BOOT_DISK FIELDKIT_ROOT_SIZE FIELDKIT_DATA_SIZE"
# The A/B boot script on the boot partition (U-Boot loads the kernel from the root slot; the
# kernel, its modules, e.g. for the modem's and charger's USB serial chips, ship in the root).
WKS_FILE_DEPENDS:append = " rpi-u-boot-scr"
