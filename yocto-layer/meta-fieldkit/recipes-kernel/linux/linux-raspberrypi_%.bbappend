# fieldkit: the TPM driver and the pieces RAUC's verity bundles and the watchdog need.
FILESEXTRAPATHS:prepend:fieldkit := "${THISDIR}/files:"
SRC_URI:append:fieldkit = " file://fieldkit.cfg"

# The device tree overlay config.txt loads for the TPM.
RPI_KERNEL_DEVICETREE_OVERLAYS:append:fieldkit = " overlays/tpm-slb9670.dtbo"
