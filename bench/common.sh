# shellcheck shell=bash
# Sourced by the bench scripts (compare-rauc.sh, stream-install.sh,
# adaptive-download.sh): the paths, the tools, the build, the work area
# (removed on exit, with the lighttpd a script started), a throw-away PKI,
# a simulated device and lighttpd. A script sets `set -euo pipefail` and
# checks its arguments first.
# The variables set here are for the scripts that source this file:
# shellcheck disable=SC2034

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=${BUILD_DIR:-$src/build}
otabundle="$build/otabundle"
install="$build/otabundle-install"
GNU_TIME=/usr/bin/time
LIGHTTPD=/usr/sbin/lighttpd
MiB=$((1024 * 1024))

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# bench_tools [--time] [PROGRAM...]: installs missing tools with
# contrib/install-deps.sh --tests (and, with --time, GNU time); fails unless
# each PROGRAM (a path) is there.
bench_tools() {
	"$src/contrib/install-deps.sh" --tests
	if [ "${1:-}" = --time ]; then
		shift
		if [ ! -x "$GNU_TIME" ]; then
			echo "Installing: time"
			as_root apt-get update -qq
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends time
		fi
	fi
	local tool
	for tool in "$@"; do
		[ -x "$tool" ] || { echo "$tool not found (contrib/install-deps.sh --tests)" >&2; exit 1; }
	done
}

# bench_build: builds otabundle in $build (meson setup first if needed).
bench_build() {
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$src" >/dev/null
	fi
	local log
	if ! log=$(ninja -C "$build" 2>&1); then
		echo "$log" >&2
		echo "build failed in $build" >&2
		exit 1
	fi
}

# bench_work_area NAME: $tmp, a new directory under TMPDIR, removed on exit,
# when the lighttpd of $lighttpd_pid (if any) is stopped too; $device in it.
bench_work_area() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	device="$tmp/device"
	lighttpd_pid=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
bench_cleanup() {
	if [ -n "$lighttpd_pid" ]; then
		kill "$lighttpd_pid" 2>/dev/null || true
		wait "$lighttpd_pid" 2>/dev/null || true
	fi
	rm -rf -- "$tmp"
}

# bench_pki: $pki, with an EC P-256 root CA (root.pem, root.key) and a signer
# leaf (signer.pem, signer.key; keyUsage digitalSignature) it issued.
bench_pki() {
	pki="$tmp/pki"
	mkdir -p "$pki"
	{
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$pki/root.key" -out "$pki/root.pem" -subj "/CN=bench root CA" -days 30 \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$pki/signer.key" -out "$pki/signer.csr" -subj "/CN=bench signer"
		printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' \
			>"$pki/leaf.ext"
		openssl x509 -req -in "$pki/signer.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" \
			-set_serial 2 -days 30 -sha256 -extfile "$pki/leaf.ext" -out "$pki/signer.pem"
	} >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log" >&2; echo "PKI creation failed" >&2; exit 1; }
}

# bench_device [ACTIVE]: a fresh simulated device in $device (file-backed
# slots rootfs.0 and rootfs.1, bootnames A and B, the file bootloader
# backend, $pki/root.pem the keyring, no state): slot A holds a copy of the
# file ACTIVE (default: "old system in A"), slot B "old system in B".
bench_device() {
	rm -rf "$device"
	mkdir -p "$device/slots"
	if [ $# -gt 0 ]; then
		cp "$1" "$device/slots/rootfs.0"
	else
		echo "old system in A" >"$device/slots/rootfs.0"
	fi
	echo "old system in B" >"$device/slots/rootfs.1"
	cat >"$device/system.conf" <<EOF
[system]
compatible=bench
bootloader=file
data-directory=$device/data

[keyring]
path=$pki/root.pem

[slot.rootfs.0]
device=$device/slots/rootfs.0
type=raw
bootname=A

[slot.rootfs.1]
device=$device/slots/rootfs.1
type=raw
bootname=B
EOF
}

# bench_lighttpd_conf HTDOCS [LINE...]: $port, a free port on 127.0.0.1, and
# $tmp/lighttpd.conf, lighttpd serving HTDOCS there, with the lighttpd.conf
# LINEs added; $url_base, its http:// URL.
bench_lighttpd_conf() {
	local htdocs=$1
	shift
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	url_base="http://127.0.0.1:$port"
	cat >"$tmp/lighttpd.conf" <<EOF
server.document-root = "$htdocs"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$tmp/lighttpd-error.log"
mimetype.assign = ("" => "application/octet-stream")
EOF
	if [ $# -gt 0 ]; then printf '%s\n' "$@" >>"$tmp/lighttpd.conf"; fi
}

# start_lighttpd: runs lighttpd with $tmp/lighttpd.conf in the background,
# in $lighttpd_pid, and waits until it listens on $port.
start_lighttpd() {
	"$LIGHTTPD" -D -f "$tmp/lighttpd.conf" </dev/null >/dev/null 2>&1 &
	lighttpd_pid=$!
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$lighttpd_pid" 2>/dev/null || { cat "$tmp/lighttpd-error.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "lighttpd did not start" >&2
	exit 1
}
