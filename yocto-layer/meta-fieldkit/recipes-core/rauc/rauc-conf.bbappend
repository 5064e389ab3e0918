# fieldkit: the A/B slots on the kit's disk, and the CA certificate bundles must be signed
# under. The certificate comes from the technician's key directory (FIELDKIT_KEYS_DIR, set by
# scripts/build-image), never from this repository.
FILESEXTRAPATHS:prepend:fieldkit := "${THISDIR}/files:${FIELDKIT_KEYS_DIR}:"
RAUC_KEYRING_FILE:fieldkit = "fieldkit-ca.cert.pem"

python do_fetch:prepend:fieldkit() {
    keys = d.getVar("FIELDKIT_KEYS_DIR")
    if not keys or not os.path.isfile(os.path.join(keys, "fieldkit-ca.cert.pem")):
        bb.fatal("FIELDKIT_KEYS_DIR must name a directory holding fieldkit-ca.cert.pem "
                 "(see yocto-layer/docs/technicians.md, 'Update keys')")
}

do_install:prepend:fieldkit() {
    sed -i -e 's#@@MACHINE@@#${MACHINE}#g' \
           -e 's#@@ROOT_A@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}2#g' \
           -e 's#@@ROOT_B@@#/dev/${FIELDKIT_BOOT_DISK}${FIELDKIT_PART_PREFIX}3#g' \
           ${WORKDIR}/system.conf
}
