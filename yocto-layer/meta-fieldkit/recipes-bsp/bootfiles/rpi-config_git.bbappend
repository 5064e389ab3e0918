# fieldkit: the TPM 2.0 on SPI0 (Infineon SLB 9670, as on TPM HATs), and the LoRa module on the
# UART at GPIO 14/15. ENABLE_SPI_BUS and ENABLE_I2C are set by the distro.
RPI_EXTRA_CONFIG:append:fieldkit = " \n# fieldkit: TPM 2.0 on SPI0\ndtoverlay=tpm-slb9670\n"
# Pi 4: give the PL011 (ttyAMA0) to GPIO 14/15; Bluetooth moves to the mini UART.
RPI_EXTRA_CONFIG:append:fieldkit:raspberrypi4-64 = " \n# fieldkit: PL011 to GPIO 14/15\ndtoverlay=miniuart-bt\n"
# Pi 5: switch on UART0 on GPIO 14/15 (the debug connector is a separate UART).
RPI_EXTRA_CONFIG:append:fieldkit:raspberrypi5 = " \n# fieldkit: UART0 on GPIO 14/15\ndtparam=uart0=on\n"
