SUMMARY = "fieldkit board integration: device names, access, rotation, watchdog"
DESCRIPTION = "udev rules naming /dev/charger, /dev/lora, /dev/modem and the panel's DRM card, \
               backlight and governor access for the kiosk, the touch panel's calibration \
               matching the display rotation, the hardware watchdog and updates from a USB \
               stick."
HOMEPAGE = "https://example.invalid/fieldkit"
SECTION = "base"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = "file://70-fieldkit.rules \
           file://fieldkit-board-access \
           file://10-fieldkit-watchdog.conf \
           file://fieldkit-usb-update \
           file://fieldkit-usb-update@.service \
           "

S = "${WORKDIR}"

inherit allarch

# One setting turns both the picture and the touch input: SLINT_KMS_ROTATION for the kiosk
# and libinput's calibration matrix for every touch screen. Slint's linuxkms backend rotates only
# the picture (touches are scaled to the rotated window, not turned). With rotation 90 it draws
# window point (u, v) at panel pixel (W - v, u), the window's top along the panel's right edge;
# with 270 at (v, H - u). The matrix [a b c; d e f] maps the panel's normalised touch (x, y) to
# the window's normalised (u, v) = (a x + b y + c, d x + e y + f), the inverse of that drawing.
FIELDKIT_DISPLAY_ROTATION ??= "0"

def fieldkit_touch_matrix(d):
    matrices = {
        "0": "1 0 0 0 1 0",
        "90": "0 1 0 -1 0 1",
        "180": "-1 0 1 0 -1 1",
        "270": "0 -1 1 1 0 0",
    }
    rotation = d.getVar("FIELDKIT_DISPLAY_ROTATION")
    if rotation not in matrices:
        bb.fatal("FIELDKIT_DISPLAY_ROTATION must be 0, 90, 180 or 270, not %r" % rotation)
    return matrices[rotation]

FIELDKIT_TOUCH_MATRIX = "${@fieldkit_touch_matrix(d)}"

do_compile() {
    printf '# Written at build time from FIELDKIT_DISPLAY_ROTATION.\nSLINT_KMS_ROTATION=%s\n' \
        "${FIELDKIT_DISPLAY_ROTATION}" >${B}/fieldkit-display
    printf '# Touch input turned with the picture (FIELDKIT_DISPLAY_ROTATION=%s).\nSUBSYSTEM=="input", KERNEL=="event*", ENV{ID_INPUT_TOUCHSCREEN}=="1", ENV{LIBINPUT_CALIBRATION_MATRIX}="%s"\n' \
        "${FIELDKIT_DISPLAY_ROTATION}" "${FIELDKIT_TOUCH_MATRIX}" >${B}/71-fieldkit-touch.rules
}

do_install() {
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/70-fieldkit.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -m 0644 ${B}/71-fieldkit-touch.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -d ${D}${sysconfdir}/default
    install -m 0644 ${B}/fieldkit-display ${D}${sysconfdir}/default/fieldkit-display
    install -d ${D}${libexecdir}
    install -m 0755 ${S}/fieldkit-board-access ${D}${libexecdir}/fieldkit-board-access
    install -m 0755 ${S}/fieldkit-usb-update ${D}${libexecdir}/fieldkit-usb-update
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/fieldkit-usb-update@.service ${D}${systemd_system_unitdir}/
    install -d ${D}${systemd_unitdir}/system.conf.d
    install -m 0644 ${S}/10-fieldkit-watchdog.conf ${D}${systemd_unitdir}/system.conf.d/
}

do_compile[vardeps] += "FIELDKIT_DISPLAY_ROTATION"

FILES:${PN} += "${nonarch_base_libdir}/udev/rules.d ${systemd_unitdir}/system.conf.d \
                ${systemd_system_unitdir}/fieldkit-usb-update@.service"
# RAUC's U-Boot backend: fw_printenv/fw_setenv, and /etc/fw_env.config (U-Boot's environment
# in uboot.env on the boot partition) from meta-raspberrypi's u-boot-env.
RDEPENDS:${PN} += "libubootenv-bin rauc u-boot-default-env"
