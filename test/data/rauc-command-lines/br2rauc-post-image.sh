# Source: https://github.com/cdsteinkuehler/br2rauc
# Path:   board/raspberrypi/post-image.sh
# Commit: 1db03c174e0a7cd5b03f0e15d88502fc44d262c1
# A Buildroot post-image script: HOST_DIR, BINARIES_DIR and
# BR2_EXTERNAL_BR2RAUC_PATH come from the environment.
#
# --- bundle
${HOST_DIR}/bin/rauc bundle \
	--cert ${BR2_EXTERNAL_BR2RAUC_PATH}/openssl-ca/dev/development-1.cert.pem \
	--key ${BR2_EXTERNAL_BR2RAUC_PATH}/openssl-ca/dev/private/development-1.key.pem \
	--keyring ${BR2_EXTERNAL_BR2RAUC_PATH}/openssl-ca/dev/ca.cert.pem \
	${BINARIES_DIR}/temp-update/ \
	${BINARIES_DIR}/update.raucb
# --- info
eval $(rauc --keyring ${BR2_EXTERNAL_BR2RAUC_PATH}/openssl-ca/dev/ca.cert.pem --output-format=shell info ${BINARIES_DIR}/update.raucb)

cat > ${BINARIES_DIR}/rauc.status << EOF
[slot.rescue.0]
bundle.compatible=${RAUC_MF_COMPATIBLE}
bundle.version=${RAUC_MF_VERSION}
status=ok

[slot.${RAUC_IMAGE_CLASS_0}.0]
bundle.compatible=${RAUC_MF_COMPATIBLE}
bundle.version=${RAUC_MF_VERSION}
status=ok
sha256=${RAUC_IMAGE_DIGEST_0}
size=${RAUC_IMAGE_SIZE_0}

[slot.${RAUC_IMAGE_CLASS_1}.0]
bundle.compatible=${RAUC_MF_COMPATIBLE}
bundle.version=${RAUC_MF_VERSION}
status=ok
sha256=${RAUC_IMAGE_DIGEST_1}
size=${RAUC_IMAGE_SIZE_1}
EOF
