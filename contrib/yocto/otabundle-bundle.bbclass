# SPDX-License-Identifier: LGPL-2.1-or-later
#
# otabundle-bundle.bbclass: build a signed update bundle with otabundle, as
# meta-rauc's bundle.bbclass does with rauc, with the same variables:
#
#   inherit otabundle-bundle
#
#   RAUC_BUNDLE_COMPATIBLE = "my-product"
#   RAUC_BUNDLE_VERSION = "1.2.0"
#   RAUC_BUNDLE_FORMAT = "verity"
#   RAUC_BUNDLE_SLOTS = "rootfs kernel"
#   RAUC_SLOT_rootfs = "core-image-minimal"
#   RAUC_SLOT_kernel = "linux-yocto"
#   RAUC_SLOT_kernel[type] = "kernel"
#   RAUC_KEY_FILE = "${THISDIR}/files/development-1.key.pem"
#   RAUC_CERT_FILE = "${THISDIR}/files/development-1.cert.pem"
#   RAUC_KEYRING_FILE = "${THISDIR}/files/ca.cert.pem"
#
# Supported as in meta-rauc: RAUC_BUNDLE_{COMPATIBLE,VERSION,DESCRIPTION,BUILD,
# FORMAT,SLOTS,HOOKS[file],HOOKS[hooks],EXTRA_FILES,EXTRA_DEPENDS},
# RAUC_SLOT_<slot> with the varflags name, type (image, kernel, boot, file,
# none), fstype, imagetype, file, hooks, rename and depends; RAUC_META_SECTIONS
# and RAUC_META_<section>[key]; RAUC_MANIFEST_EXTRA_LINES; RAUC_KEY_FILE,
# RAUC_CERT_FILE (PEM files or pkcs11: URIs), RAUC_KEYRING_FILE,
# RAUC_ENCRYPT_CRYPT_BUNDLE, RAUC_RECIPIENTS_CERT_FILE, BUNDLE_ARGS and the
# BUNDLE_* names of the deployed files. Added: RAUC_INTERMEDIATE_FILE
# (embedded intermediate certificates) and OTABUNDLE (the binary).
# Not supported: the varflags offset, unpack, convert and adaptive, and
# casync bundles (RAUC_CASYNC_BUNDLE).
# Differences: RAUC_KEYRING_FILE, when set, is also checked at build time
# (create --signing-keyring, then verify --check-images); an empty
# RAUC_BUNDLE_FORMAT means otabundle's default, verity (rauc's is plain; add
# --rauc-defaults to BUNDLE_ARGS for rauc's).
#
# The tasks' shell is otabundle-bundle.sh (found next to this class in
# BBPATH, under classes-recipe/ or classes/); the variables reach it through
# the environment (export).

LICENSE ?= "MIT"
PACKAGE_ARCH = "${MACHINE_ARCH}"
inherit nopackages deploy image-artifact-names

PACKAGES = ""
INHIBIT_DEFAULT_DEPS = "1"
do_patch[noexec] = "1"
do_compile[noexec] = "1"
do_install[noexec] = "1"
deltask do_populate_sysroot

# The host tool: an otabundle on the build host (add HOSTTOOLS_NONFATAL +=
# "otabundle" to local.conf or the distro configuration: BitBake links host
# tools before it parses recipes), or set
# OTABUNDLE = "${STAGING_BINDIR_NATIVE}/otabundle" with an otabundle-native
# recipe in DEPENDS. It runs mksquashfs from PATH (squashfs-tools-native).
OTABUNDLE ??= "otabundle"
DEPENDS = "squashfs-tools-native"

OTABUNDLE_BUNDLE_SH ??= "${@bb.utils.which(d.getVar('BBPATH'), 'classes-recipe/otabundle-bundle.sh') or bb.utils.which(d.getVar('BBPATH'), 'classes/otabundle-bundle.sh')}"

RAUC_IMAGE_FSTYPE ??= "${@(d.getVar('IMAGE_FSTYPES').split() + [''])[0]}"
RAUC_BUNDLE_COMPATIBLE  ??= "${MACHINE}${TARGET_VENDOR}"
RAUC_BUNDLE_VERSION     ??= "${PV}"
RAUC_BUNDLE_DESCRIPTION ??= "${SUMMARY}"
RAUC_BUNDLE_BUILD       ??= "${DATETIME}"
RAUC_BUNDLE_BUILD[vardepsexclude] = "DATETIME"
RAUC_BUNDLE_FORMAT      ??= ""
RAUC_KEY_FILE           ??= ""
RAUC_CERT_FILE          ??= ""
RAUC_INTERMEDIATE_FILE  ??= ""
RAUC_KEYRING_FILE       ??= ""
RAUC_RECIPIENTS_CERT_FILE ??= ""
RAUC_ENCRYPT_CRYPT_BUNDLE ??= "0"
BUNDLE_ARGS             ??= ""

RAUC_VARFLAGS_SLOTS = "name type fstype imagetype file hooks rename depends"

S = "${UNPACKDIR}"
B = "${WORKDIR}/build"
BUNDLE_DIR = "${S}/bundle"

def otabundle_slot_entries(d):
    """SECTION|SOURCE|FILENAME|IMAGETYPE|HOOKS for each of RAUC_BUNDLE_SLOTS,
    the names meta-rauc's bundle class would use."""
    entries = []
    for slot in (d.getVar('RAUC_BUNDLE_SLOTS') or "").split():
        flags = d.getVarFlags('RAUC_SLOT_%s' % slot,
                              expand=d.getVar('RAUC_VARFLAGS_SLOTS').split()) or {}
        section = flags.get('name', slot)
        imagetype = flags.get('imagetype', '')
        kind = flags.get('type', 'image')
        source = filename = ''
        if imagetype == 'emptyfs' or kind == 'none':
            pass
        elif kind == 'image':
            fallback = "%s%s%s.%s" % (d.getVar('RAUC_SLOT_%s' % slot),
                                      d.getVar('IMAGE_MACHINE_SUFFIX'),
                                      d.getVar('IMAGE_NAME_SUFFIX'),
                                      flags.get('fstype', d.getVar('RAUC_IMAGE_FSTYPE')))
            source = filename = flags.get('file', fallback)
        elif kind == 'kernel':
            source = flags.get('file', "zImage-%s.bin" % d.getVar('MACHINE'))
            filename = source + ".img"
        elif kind == 'boot':
            source = filename = flags.get('file', 'barebox.img')
        elif kind == 'file':
            source = flags.get('file')
            if not source:
                bb.fatal('Image type "file" requires [file] varflag to be set for slot %s' % slot)
            filename = source + ".img"
        else:
            bb.fatal('Unknown image type: %s' % kind)
        filename = os.path.basename(flags.get('rename', filename))
        for field in (section, source, filename, imagetype, flags.get('hooks', '')):
            if '|' in field or ' ' in field:
                bb.fatal("RAUC_SLOT_%s: '%s' has a space or '|'" % (slot, field))
        entries.append("|".join([section, source, filename, imagetype, flags.get('hooks', '')]))
    return " ".join(entries)

def otabundle_manifest_extra(d):
    """The [meta.*] sections of RAUC_META_SECTIONS, then RAUC_MANIFEST_EXTRA_LINES."""
    text = ""
    for section in (d.getVar('RAUC_META_SECTIONS') or "").split():
        text += "[meta.%s]\\n" % section
        for key, value in (d.getVarFlags('RAUC_META_%s' % section) or {}).items():
            text += "%s=%s\\n" % (key, value)
        text += "\\n"
    return text + (d.getVar('RAUC_MANIFEST_EXTRA_LINES') or "")

OTABUNDLE_IMAGES = "${@otabundle_slot_entries(d)}"
OTABUNDLE_MANIFEST_EXTRA = "${@otabundle_manifest_extra(d)}"
OTABUNDLE_HOOKS_FILE = "${@d.getVarFlag('RAUC_BUNDLE_HOOKS', 'file') or ''}"
OTABUNDLE_HOOKS = "${@d.getVarFlag('RAUC_BUNDLE_HOOKS', 'hooks') or ''}"

export OTABUNDLE
export BUNDLE_DIR
export DEPLOY_DIR_IMAGE
export UNPACKDIR
export B
export RAUC_BUNDLE_COMPATIBLE
export RAUC_BUNDLE_VERSION
export RAUC_BUNDLE_DESCRIPTION
export RAUC_BUNDLE_BUILD
export RAUC_BUNDLE_FORMAT
export RAUC_BUNDLE_EXTRA_FILES
export OTABUNDLE_IMAGES
export OTABUNDLE_MANIFEST_EXTRA
export OTABUNDLE_HOOKS_FILE
export OTABUNDLE_HOOKS
export RAUC_KEY_FILE
export RAUC_CERT_FILE
export RAUC_INTERMEDIATE_FILE
export RAUC_KEYRING_FILE
export RAUC_RECIPIENTS_CERT_FILE
export RAUC_ENCRYPT_CRYPT_BUNDLE
export BUNDLE_ARGS

# The images' recipes must have deployed before do_configure collects them.
python __anonymous() {
    for slot in (d.getVar('RAUC_BUNDLE_SLOTS') or "").split():
        flags = d.getVarFlags('RAUC_SLOT_%s' % slot,
                              expand=d.getVar('RAUC_VARFLAGS_SLOTS').split()) or {}
        if flags.get('imagetype') == 'emptyfs':
            continue
        kind = flags.get('type', 'image')
        image = d.getVar('RAUC_SLOT_%s' % slot)
        if not image and kind != 'none':
            bb.fatal("No image set for slot '%s'. Specify via 'RAUC_SLOT_%s = \"<recipe-name>\"'"
                     % (slot, slot))
        d.appendVarFlag('do_configure', 'vardeps', ' RAUC_SLOT_%s' % slot)
        if flags.get('depends'):
            d.appendVarFlag('do_configure', 'depends', ' ' + flags['depends'])
        elif kind == 'image':
            d.appendVarFlag('do_configure', 'depends', ' %s:do_image_complete' % image)
        elif kind != 'none':
            d.appendVarFlag('do_configure', 'depends', ' %s:do_deploy' % image)
    for dep in (d.getVar('RAUC_BUNDLE_EXTRA_DEPENDS') or "").split():
        recipe, _, task = dep.partition(':')
        d.appendVarFlag('do_configure', 'depends', ' %s:%s' % (recipe, task or 'do_deploy'))
}

do_configure() {
	. "${OTABUNDLE_BUNDLE_SH}"
	otabundle_configure
}
do_configure[vardeps] += "RAUC_BUNDLE_HOOKS[file] RAUC_BUNDLE_HOOKS[hooks] OTABUNDLE_IMAGES OTABUNDLE_MANIFEST_EXTRA"
do_configure[file-checksums] += "${OTABUNDLE_BUNDLE_SH}:True"

fakeroot do_bundle() {
	. "${OTABUNDLE_BUNDLE_SH}"
	otabundle_bundle
}
do_bundle[dirs] = "${B}"
do_bundle[cleandirs] = "${B}"
do_bundle[file-checksums] += "${RAUC_CERT_FILE}:False ${RAUC_KEY_FILE}:False"
addtask bundle after do_configure

BUNDLE_BASENAME ??= "${PN}"
BUNDLE_NAME ??= "${BUNDLE_BASENAME}-${MACHINE}-${DATETIME}"
BUNDLE_NAME[vardepsexclude] = "DATETIME"
BUNDLE_LINK_NAME ??= "${BUNDLE_BASENAME}-${MACHINE}"
BUNDLE_EXTENSION ??= ".raucb"
ENCRYPTED_BUNDLE_BASENAME ??= "encrypted-${BUNDLE_BASENAME}"
ENCRYPTED_BUNDLE_NAME ??= "${ENCRYPTED_BUNDLE_BASENAME}-${MACHINE}-${DATETIME}"
ENCRYPTED_BUNDLE_NAME[vardepsexclude] = "DATETIME"
ENCRYPTED_BUNDLE_LINK_NAME ??= "${ENCRYPTED_BUNDLE_BASENAME}-${MACHINE}"
ENCRYPTED_BUNDLE_EXTENSION ??= "${BUNDLE_EXTENSION}"

SSTATE_SKIP_CREATION:task-deploy = '1'

do_deploy() {
	install -d ${DEPLOYDIR}
	install -m 0644 ${B}/bundle.raucb ${DEPLOYDIR}/${BUNDLE_NAME}${BUNDLE_EXTENSION}
	ln -sf ${BUNDLE_NAME}${BUNDLE_EXTENSION} ${DEPLOYDIR}/${BUNDLE_LINK_NAME}${BUNDLE_EXTENSION}
	if [ "${RAUC_ENCRYPT_CRYPT_BUNDLE}" = 1 ]; then
		install -m 0644 ${B}/encrypted-bundle.raucb ${DEPLOYDIR}/${ENCRYPTED_BUNDLE_NAME}${ENCRYPTED_BUNDLE_EXTENSION}
		ln -sf ${ENCRYPTED_BUNDLE_NAME}${ENCRYPTED_BUNDLE_EXTENSION} ${DEPLOYDIR}/${ENCRYPTED_BUNDLE_LINK_NAME}${ENCRYPTED_BUNDLE_EXTENSION}
	fi
}
addtask deploy after do_bundle before do_build
