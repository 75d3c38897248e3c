#!/usr/bin/env bash
# Installs the Debian packages otabundle needs to build (and, with --tests,
# to run its test suite). Does nothing when all are present.
set -euo pipefail

# e2fsprogs, dosfstools and mtools: otabundle-install makes ext4/vfat slots with them
# (mkfs.ext4 -d, resize2fs, mkfs.vfat, mcopy); the tests read slots back with them.
# libcurl4-openssl-dev: HTTP(S) to a Time-Stamping Authority (--timestamp-url), with
# the OpenSSL the rest already uses.
PACKAGES=(meson ninja-build pkg-config gcc libglib2.0-dev libssl-dev libsquashfs-dev
          libjson-glib-dev libp11-dev libp11-kit-dev libarchive-dev libcurl4-openssl-dev
          squashfs-tools openssl e2fsprogs dosfstools mtools)
# rauc is the interoperability peer the CLI tests check bundles against;
# veritysetup (cryptsetup-bin) is the reference the verity tree is checked against.
# softhsm2, opensc (pkcs11-tool) and p11-kit stand in for an HSM; gnutls-bin's
# certtool makes the CSR of a key generated on the token.
# libubootenv-tool (fw_setenv) and grub-common (grub-editenv) run the U-Boot/GRUB backend tests.
# fdisk (sfdisk) and gdisk (sgdisk) check the partition tables boot-*-switch slots switch.
# bash-completion loads the installed completion in its tests.
# python3-jsonschema validates every JSON document the tests see against contrib/schema/.
# faketime (libfaketime) signs bundles in the past for the use-bundle-signing-time tests,
# and verifies timestamped bundles after their signer expired.
# lighttpd (with lighttpd-mod-openssl for https) serves the tests' RFC 3161 TSA
# (`openssl ts -reply` as CGI) on 127.0.0.1 (test/cli/tsa_server.py), and the
# bundles of the streaming tests, bench/stream-install.sh and
# examples/streaming-lighttpd/ (test/cli/http_server.py).
# zstd compresses the .tar.zst slot images of the ext4/vfat slot tests.
# dbus-daemon (dbus-run-session) gives rauc's service a private bus for `rauc status`.
# strace injects a power loss at every step of storing a trust update (fault injection).
# casync rebuilds the images of casync bundles (on a device that installs them, too)
# and lets `rauc convert` make such bundles for the tests.
# python3-yaml parses the CI templates (contrib/ci/); jq is what their script
# decides the verify gate with.
# build-essential, debhelper, dpkg-dev and fakeroot build the Debian packages
# (dpkg-buildpackage, debian/) that test/debian-package.sh checks with lintian.
TEST_PACKAGES=(python3 python3-pytest valgrind rauc cryptsetup-bin softhsm2 opensc p11-kit gnutls-bin
               libubootenv-tool grub-common bash-completion python3-jsonschema
               faketime zstd dbus-daemon fdisk gdisk lighttpd lighttpd-mod-openssl strace
               casync python3-yaml jq
               build-essential debhelper dpkg-dev fakeroot lintian)

[ "${1:-}" = "--tests" ] && PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "Installing: ${missing[*]}"
log=$(mktemp)
if ! { as_root apt-get update -qq &&
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}"; } >"$log" 2>&1; then
	cat "$log"
	echo "install-deps.sh: apt-get failed" >&2
	exit 1
fi
rm -f "$log"
