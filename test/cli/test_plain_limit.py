# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plain bundles over 2 GiB: RAUC 1.15.2 refuses a plain payload larger than
INT32_MAX bytes, and earlier RAUC signs and verifies only its first bytes
(CVE-2026-34155). create refuses to write one unless --allow-large-plain;
info and verify say when a bundle is one.

The bundles read here are crafted cheaply: a small real squashfs followed by
a hole up to the size under test (sparse, no disk space), then a CMS. The
one that must verify is signed by `openssl cms` over that whole payload."""
import json
import os
import subprocess

import pytest

from conftest import (assert_failure, assert_ok, bundle_cms, bundle_trailer, create_bundle,
                      run, write_manifest)

LIMIT = (1 << 31) - 1  # INT32_MAX, RAUC's check
OVER = 1 << 31         # the smallest 4 KiB aligned payload over it
UNDER = OVER - 4096    # the largest one within it


@pytest.fixture(scope="module")
def small_plain(pki, tmp_path_factory):
    """(payload bytes, CMS) of a small, real plain bundle."""
    d = tmp_path_factory.mktemp("small-plain")
    (d / "in").mkdir()
    (d / "in" / "a.img").write_bytes(b"a" * 10000)
    write_manifest(d / "in", {"a": "a.img"})
    bundle = create_bundle(pki, d / "in", d / "small.raucb", "--format=plain")
    size, cms_len = bundle_trailer(bundle)
    with open(bundle, "rb") as f:
        return f.read(size - 8 - cms_len), bundle_cms(bundle)


def write_bundle(path, squashfs, payload_size, cms):
    """@squashfs, zeros up to @payload_size (a hole), @cms, the trailer."""
    with open(path, "wb") as f:
        f.write(squashfs)
        f.truncate(payload_size)
        f.seek(payload_size)
        f.write(cms + len(cms).to_bytes(8, "big"))
    return path


@pytest.fixture(scope="module")
def signed_over_limit(pki, small_plain, tmp_path_factory):
    """A plain bundle with a payload of 2 GiB, validly signed over all of it."""
    d = tmp_path_factory.mktemp("over-limit")
    squashfs, _ = small_plain
    payload = d / "payload"
    with open(payload, "wb") as f:
        f.write(squashfs)
        f.truncate(OVER)
    signer = pki.leaves["ec256"]
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", payload,
                    "-signer", signer.cert, "-inkey", signer.key, "-certfile",
                    pki.intermediate, "-outform", "DER", "-out", d / "sig.der"], check=True)
    cms = (d / "sig.der").read_bytes()
    with open(payload, "ab") as f:
        f.write(cms + len(cms).to_bytes(8, "big"))
    bundle = d / "over.raucb"
    os.rename(payload, bundle)
    return bundle


WARNING_WORDS = ("warning", "plain payload over 2 GiB", "CVE-2026-34155", "verity")


def assert_one_warning(proc, bundle):
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"otabundle: warning: {bundle}: "), lines[0]
    for word in WARNING_WORDS:
        assert word in lines[0], lines[0]


def test_verify_accepts_but_warns_about_a_plain_payload_over_2_gib(pki, signed_over_limit):
    proc = assert_ok(run("verify", "--keyring", pki.root, signed_over_limit))
    assert proc.stdout.startswith(f"{signed_over_limit}: OK (plain")
    assert_one_warning(proc, signed_over_limit)


def test_info_warns_about_a_plain_payload_over_2_gib(small_plain, tmp_path):
    bundle = write_bundle(tmp_path / "b.raucb", small_plain[0], OVER, small_plain[1])
    proc = assert_ok(run("info", "--no-verify", bundle))
    assert "Format:      plain" in proc.stdout
    assert_one_warning(proc, bundle)


def test_info_json_says_a_plain_payload_is_over_the_limit(small_plain, tmp_path):
    bundle = write_bundle(tmp_path / "b.raucb", small_plain[0], OVER, small_plain[1])
    proc = assert_ok(run("info", "--no-verify", "--output-format=json", bundle))
    assert json.loads(proc.stdout)["plain_size_limit_exceeded"] is True
    assert proc.stderr == ""


def test_a_plain_payload_of_2_gib_minus_4_kib_is_within_the_limit(small_plain, tmp_path):
    bundle = write_bundle(tmp_path / "b.raucb", small_plain[0], UNDER, small_plain[1])
    text = assert_ok(run("info", "--no-verify", bundle))
    assert text.stderr == ""
    proc = assert_ok(run("info", "--no-verify", "--output-format=json", bundle))
    assert json.loads(proc.stdout)["plain_size_limit_exceeded"] is False


def test_a_verity_bundle_is_never_over_the_plain_limit(pki, tmp_path, input_dir):
    bundle = create_bundle(pki, input_dir, tmp_path / "v.raucb")
    proc = assert_ok(run("verify", "--keyring", pki.root, "--output-format=json", bundle))
    assert json.loads(proc.stdout)["plain_size_limit_exceeded"] is False


def test_create_refuses_a_plain_payload_over_2_gib(pki, tmp_path):
    """A real squashfs over 2 GiB: a sparse image stored uncompressed with
    its zero blocks as data. It costs 2 GiB of disk while create runs."""
    inputdir = tmp_path / "in"
    inputdir.mkdir()
    with open(inputdir / "big.img", "wb") as f:
        f.truncate(OVER)
    write_manifest(inputdir, {"big": "big.img"})
    bundle = tmp_path / "big.raucb"
    proc = run("create", *pki.sign_args(), "--format=plain", "--compression=none",
               "--mksquashfs-args", "-no-sparse", inputdir, bundle)
    assert_failure(proc, bundle, "plain payload", "over 2 GiB", "CVE-2026-34155",
                   "--format=verity", "--allow-large-plain")
    assert sorted(os.listdir(tmp_path)) == ["in"]
