# fieldkit: mount the boot partition (U-Boot's environment for RAUC) and the data partition.
FILESEXTRAPATHS:prepend:fieldkit := "${THISDIR}/files:"

do_install:append:fieldkit() {
    sed -i -e 's#@@BOOT@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}1#g' \
           -e 's#@@DATA@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}4#g' \
           ${D}${sysconfdir}/fstab
    install -d ${D}/data
}

FILES:${PN}:append:fieldkit = " /data"
