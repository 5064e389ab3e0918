SUMMARY = "fieldkit: child-protection case management kiosk for solar-powered field kits"
DESCRIPTION = "The fieldkit binary built with its kiosk feature: the kiosk daemon (encrypted \
               case vault, family tracing, power policy) and the command line technicians use."
HOMEPAGE = "https://example.invalid/fieldkit"
SECTION = "applications"
# fieldkit itself is Apache-2.0. The crates linked into it are MIT or Apache-2.0 (most offer
# both), MPL-2.0 (serialport), ISC (any_ascii), 0BSD (enum-iterator) and Unicode-3.0
# (unicode-ident, unicode-normalization), BSD-3-Clause (x25519-dalek, curve25519-dalek, subtle:
# the vault's key grants). scripts/check-layer checks every crate of
# `cargo tree -p fieldkit --no-default-features --features kiosk` against this list.
LICENSE = "Apache-2.0 & MIT & MPL-2.0 & ISC & 0BSD & Unicode-3.0 & BSD-3-Clause"
# The workspace's `license = "Apache-2.0"` line (scripts/update-crates-inc keeps the line number true).
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=50;endline=50;md5=2507bd5f0713f05419cd2f22fa06fe62 \
                    file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10 \
                    file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# What Slint's linuxkms backend links (libinput, libudev, xkbcommon) and reads at run time
# (fontconfig configuration, the Noto fonts of every bundled language); tss-esapi links
# tpm2-tss's libtss2-esys (found through pkg-config).
DEPENDS += "fontconfig libinput libxkbcommon systemd tpm2-tss"

PV = "0.1.0+git"

# The source is this repository at one commit: scripts/build-image passes the checkout it runs
# from (FIELDKIT_GIT_URI, FIELDKIT_SRCREV), so the image holds exactly the committed tree.
FIELDKIT_GIT_URI ??= "git://example.invalid/fieldkit.git;protocol=https"
# All zeros parses (for yocto-check-layer and `bitbake -e`); do_fetch stops on it.
FIELDKIT_SRCREV ??= "0000000000000000000000000000000000000000"
SRC_URI = "${FIELDKIT_GIT_URI};nobranch=1;name=fieldkit \
           file://fieldkit.service \
           file://fieldkit.toml \
           file://fieldkit-tmpfiles.conf \
           file://cargo-config.toml.in \
           "
SRCREV_fieldkit = "${FIELDKIT_SRCREV}"
SRCREV_FORMAT = "fieldkit"

require fieldkit-crates.inc

S = "${WORKDIR}/git"

inherit cargo_bin systemd useradd pkgconfig

# The board build: the device feature set only (--no-default-features drops the simulated kit
# and its pseudo-terminals, which CI checks the device build does not link); --frozen:
# Cargo.lock as committed, no network, every crate from the bitbake-fetched copies.
CARGO_FEATURES = "kiosk"
EXTRA_CARGO_FLAGS = "--frozen --no-default-features -p fieldkit --bin fieldkit"

# The kiosk runs as its own user: video (DRM, backlight), input (the touch panel), tss (the
# TPM through tpm2-tss), dialout (/dev/charger, /dev/lora, /dev/modem), i2c (fuel gauge and
# current monitors) and gpio (the modem's power pin).
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system tss; --system i2c; --system gpio"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir /data/fieldkit \
                       --shell /sbin/nologin --user-group \
                       --groups video,input,tss,dialout,i2c,gpio kiosk"

SYSTEMD_SERVICE:${PN} = "fieldkit.service"
SYSTEMD_AUTO_ENABLE = "enable"

python do_fetch:prepend() {
    if set(d.getVar("SRCREV_fieldkit")) == {"0"}:
        bb.fatal("No fieldkit commit to build: run scripts/build-image, which sets FIELDKIT_GIT_URI "
                 "and FIELDKIT_SRCREV from the checkout")
}

# Point cargo at the crates bitbake unpacked into ${WORKDIR}/cargo_home/bitbake (the crate
# fetcher writes each crate's .cargo-checksum.json there) instead of crates.io.
do_configure:append() {
    sed -e 's#@VENDOR_DIR@#${WORKDIR}/cargo_home/bitbake#' \
        ${WORKDIR}/cargo-config.toml.in >${CARGO_HOME}/config.toml
}

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/fieldkit.service ${D}${systemd_system_unitdir}/fieldkit.service
    install -d ${D}${sysconfdir}/fieldkit
    install -m 0644 ${WORKDIR}/fieldkit.toml ${D}${sysconfdir}/fieldkit/fieldkit.toml
    install -d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${WORKDIR}/fieldkit-tmpfiles.conf ${D}${nonarch_libdir}/tmpfiles.d/fieldkit.conf
    install -d ${D}${datadir}/fieldkit
    install -m 0644 ${S}/yocto-layer/docs/technicians.md ${D}${datadir}/fieldkit/technicians.md
}

FILES:${PN} += "${systemd_system_unitdir}/fieldkit.service ${nonarch_libdir}/tmpfiles.d/fieldkit.conf \
                ${datadir}/fieldkit/technicians.md"
CONFFILES:${PN} = "${sysconfdir}/fieldkit/fieldkit.toml"
RDEPENDS:${PN} += "fieldkit-board fieldkit-fonts-noto fontconfig libinput libudev libxkbcommon"
# tpm2-tss's TCTI loader opens the device TCTI (device:/dev/tpmrm0) with dlopen, so the shared
# library scan cannot see it; meta-tpm packages it apart from libtss2.
RDEPENDS:${PN} += "libtss2-tcti-device"
