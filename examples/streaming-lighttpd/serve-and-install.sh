#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Streaming delivery, runnable on one machine: a release bundle is put on
# a plain web server (lighttpd, lighttpd.conf next to this script, HTTPS
# with a certificate from the update server's own CA) and a simulated
# device (slots are files) installs it straight from the URL, storing
# nothing but the slot it writes. The device checks the signature and
# policy from the first few KiB it fetches, before any image byte, and
# every block of the image against the signed verity tree as it arrives.
#
#   examples/streaming-lighttpd/serve-and-install.sh
#
# Everything lives in a temporary directory, removed at the end (also when
# a step fails), and lighttpd is stopped.
#
# Needs: lighttpd and lighttpd-mod-openssl, openssl, squashfs-tools, and
# otabundle with otabundle-install beside it (OTABUNDLE, else otabundle in
# PATH, else build/otabundle of this checkout).

set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
here=$(dirname "$dir") # examples/, for common.sh
EXAMPLE=streaming-lighttpd
# shellcheck source=examples/common.sh
. "$here/common.sh"
install_tool=$(dirname "$(command -v "$otabundle")")/otabundle-install
[ -x "$install_tool" ] || install_tool="otabundle-install"
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}

[ -x "$LIGHTTPD" ] || die "$LIGHTTPD not found (apt-get install lighttpd lighttpd-mod-openssl)"
for tool in openssl mksquashfs python3 cmp; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-streaming.XXXXXX")
chmod 700 "$work"
server_pid=
teardown() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap teardown EXIT
trap 'exit 130' INT TERM
cd "$work"

# --- 1. Keys -----------------------------------------------------------------------------
step "1. A release root and signer, and the update server's own TLS CA"
# Real fleet: the release key stays with the release officers (an HSM);
# the web server only gets a TLS certificate, from a CA the devices pin.
ca() { # ca NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.pem" -subj "/O=Demo/CN=$2" -days 30 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # leaf NAME CN ISSUER EXTENSIONS...
	local name=$1 cn=$2 issuer=$3
	shift 3
	printf '%s\n' "$@" >"$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
		-out "$name.csr" -subj "/O=Demo/CN=$cn" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
		-CAcreateserial -days 30 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}
ca root "Demo Release Root"
leaf signer "Demo Release Signer" root "basicConstraints=critical,CA:false" \
	"keyUsage=critical,digitalSignature"
ca server-ca "Demo Update Server CA"
mkdir tls
leaf tls/server "127.0.0.1" server-ca "basicConstraints=critical,CA:false" \
	"extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1"
echo "root.pem (devices' keyring), signer.pem, server-ca.pem (devices' tls-ca)"

# --- 2. The release ------------------------------------------------------------------------
step "2. Build and sign a 4 MiB release bundle (verity: streamable)"
mkdir input htdocs
head -c $((4 * 1024 * 1024)) /dev/urandom >input/rootfs.img
cat >input/manifest.raucm <<'EOF'
[update]
compatible=demo-device
version=2.0

[image.rootfs]
filename=rootfs.img
EOF
"$otabundle" create --cert signer.pem --key signer.key input htdocs/update.raucb
"$otabundle" verify --keyring root.pem htdocs/update.raucb

# --- 3. The server -------------------------------------------------------------------------
step "3. Serve it with lighttpd over HTTPS"
# Real server: any HTTP server or CDN that answers range requests; copying
# the bundle there is the whole release step.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir logs
BUNDLE_DIR=$work/htdocs PORT=$port TLS_DIR=$work/tls LOG_DIR=$work/logs \
	"$LIGHTTPD" -D -f "$dir/lighttpd.conf" </dev/null >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 300); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || die "lighttpd did not start: $(cat logs/error.log)"
	sleep 0.1
done
url="https://127.0.0.1:$port/update.raucb"
echo "serving $url"

# --- 4. The device -------------------------------------------------------------------------
step "4. A simulated device: two slot files, pinning the server's CA"
# Real device: the slots are partitions, the bootloader is U-Boot or GRUB,
# and system.conf is in /etc/otabundle/ (or /etc/rauc/).
mkdir -p device/slots
echo "old system" >device/slots/rootfs.0
echo "old system" >device/slots/rootfs.1
cat >device/system.conf <<EOF
[system]
compatible=demo-device
bootloader=file
data-directory=$work/device/data

[keyring]
path=$work/root.pem

[streaming]
tls-ca=$work/server-ca.pem
timeout=30

[slot.rootfs.0]
device=$work/device/slots/rootfs.0
bootname=A

[slot.rootfs.1]
device=$work/device/slots/rootfs.1
bootname=B
EOF
device=("$install_tool" --conf device/system.conf --override-boot-slot=A)

# --- 5. Install from the URL ---------------------------------------------------------------
step "5. Check, then install straight from the URL"
"${device[@]}" info "$url"
"${device[@]}" --quiet install "$url"
cmp -n "$(stat -c %s input/rootfs.img)" input/rootfs.img device/slots/rootfs.1 ||
	die "the slot does not hold the image"
echo "rootfs.1 holds the new image; nothing else was stored on the device"
echo "bundle: $(stat -c %s htdocs/update.raucb) bytes"

step "6. What the server saw: the Range of each request"
# For info, then for install: the last 8 bytes (the signature's size),
# then the signature with the manifest (everything the device checks is
# there) and only then the image, each window checked as it arrives.
kill "$server_pid" # stopping it writes out its access log
wait "$server_pid" || true
server_pid=
grep -o 'bytes=[0-9-]*' logs/access.log

echo
echo "streaming install complete"
