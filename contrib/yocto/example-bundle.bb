# SPDX-License-Identifier: LGPL-2.1-or-later
# An update bundle of core-image-minimal's ext4 root filesystem and the
# kernel, signed with otabundle (otabundle-bundle.bbclass). Put it in your
# layer as recipes-core/bundles/example-bundle.bb; `bitbake example-bundle`
# deploys example-bundle-${MACHINE}.raucb to DEPLOY_DIR_IMAGE.

SUMMARY = "Example otabundle update bundle"
LICENSE = "MIT"

inherit otabundle-bundle

RAUC_BUNDLE_COMPATIBLE = "example-${MACHINE}"
RAUC_BUNDLE_VERSION = "1.0.0"
RAUC_BUNDLE_FORMAT = "verity"

RAUC_BUNDLE_SLOTS = "rootfs kernel"
RAUC_SLOT_rootfs = "core-image-minimal"
RAUC_SLOT_rootfs[fstype] = "ext4"
RAUC_SLOT_kernel = "linux-yocto"
RAUC_SLOT_kernel[type] = "kernel"

RAUC_META_SECTIONS = "example"
RAUC_META_example[channel] = "development"

# Development keys (from `openssl` or your PKI); the release key stays in
# an HSM and signs later (contrib/ci/: otabundle resign).
RAUC_KEY_FILE = "${THISDIR}/files/development-1.key.pem"
RAUC_CERT_FILE = "${THISDIR}/files/development-1.cert.pem"
RAUC_INTERMEDIATE_FILE = "${THISDIR}/files/intermediate.cert.pem"
RAUC_KEYRING_FILE = "${THISDIR}/files/ca.cert.pem"

# Extra create options, quoted as on a command line:
# BUNDLE_ARGS += ' --mksquashfs-args="-b 1M" '
