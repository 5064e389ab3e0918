SUMMARY = "Noto fonts for every language the fieldkit kiosk ships"
DESCRIPTION = "Noto Sans (Latin: English, French, Spanish, Portuguese, Somali, Swahili), Noto \
Sans Arabic and Noto Naskh Arabic (Arabic, Dari/Persian), Noto Sans Bengali and Noto Sans \
Myanmar (Burmese), regular and bold, taken from Debian's build of the Noto release."
HOMEPAGE = "https://notofonts.github.io/"
SECTION = "fonts"
LICENSE = "OFL-1.1"
LIC_FILES_CHKSUM = "file://usr/share/doc/fonts-noto-core/copyright;md5=35c8217bc931a1c510ad30567ac9615d"

# Debian's fonts-noto-core package of the 2020-12-25 Noto release, checked by SHA-256 (the same
# file any Debian mirror serves). bitbake unpacks the .deb's data archive.
SRC_URI = "${DEBIAN_MIRROR}/main/f/fonts-noto/fonts-noto-core_${PV}-1_all.deb;subdir=${BP}"
SRC_URI[sha256sum] = "58f4f0bb6720f919f92096b3508e1412a0f1544424ade6c5b5bf1eb694dd64ba"

inherit allarch fontcache

FIELDKIT_FONT_FAMILIES = "NotoSans NotoSansArabic NotoNaskhArabic NotoSansBengali NotoSansMyanmar"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/fonts/truetype/noto
    for family in ${FIELDKIT_FONT_FAMILIES}; do
        for weight in Regular Bold; do
            install -m 0644 ${S}/usr/share/fonts/truetype/noto/$family-$weight.ttf \
                ${D}${datadir}/fonts/truetype/noto/
        done
    done
}

FILES:${PN} += "${datadir}/fonts/truetype/noto"
FONT_PACKAGES = "${PN}"
