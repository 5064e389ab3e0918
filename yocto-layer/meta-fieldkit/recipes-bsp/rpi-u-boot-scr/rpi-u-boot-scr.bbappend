# fieldkit: boot root slot A or B as RAUC's U-Boot backend asks (BOOT_ORDER, BOOT_x_LEFT).
FILESEXTRAPATHS:prepend:fieldkit := "${THISDIR}/files:"

do_compile:prepend:fieldkit() {
    sed -i -e 's#@@FIELDKIT_UBOOT_DISK@@#${FIELDKIT_UBOOT_DISK}#g' \
           -e 's#@@FIELDKIT_ROOT_A@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}2#g' \
           -e 's#@@FIELDKIT_ROOT_B@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}3#g' \
           "${WORKDIR}/boot.cmd.in"
}
