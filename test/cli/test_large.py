# SPDX-License-Identifier: LGPL-2.1-or-later
"""A bundle whose payload crosses 2^31 bytes.

RAUC's CVE-2026-34155 signed only the first bytes of a large payload; a
verifier with a 32-bit length somewhere would do the same. This test puts
a modification beyond 2 GiB and expects verify to notice, in both formats
(plain: the CMS digest over the payload; verity: the hash tree). It writes about
4.5 GB (a sparse input image, a real bundle) under pytest's tmp dir, on the
same filesystem as /tmp, and removes it at the end.
"""
import json
import shutil

import pytest

from conftest import assert_failure, assert_ok, bundle_trailer, flip_byte, run, write_manifest

GIB2 = 1 << 31
IMAGE_SIZE = GIB2 + (64 << 20)       # 2 GiB + 64 MiB
FLIP_OFFSET = GIB2 + (1 << 20)       # inside the image data, beyond 2^31


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_verify_rejects_a_flipped_byte_beyond_2_gib_in_the_payload(pki, tmp_path, fmt):
    work = tmp_path / "large"
    inputdir = work / "in"
    inputdir.mkdir(parents=True)
    try:
        image = inputdir / "big.img"
        with open(image, "wb") as f:  # sparse: costs no disk space
            f.truncate(IMAGE_SIZE)
        write_manifest(inputdir, {"big": "big.img"})
        bundle = work / "big.raucb"
        # Uncompressed data, zero blocks stored as data rather than holes,
        # no fragments: the squashfs really is larger than the image.
        # A plain payload this large is refused without the flag (test_plain_limit.py).
        allow = ["--allow-large-plain"] if fmt == "plain" else []
        assert_ok(run("create", *pki.sign_args(), f"--format={fmt}", *allow,
                      "--mksquashfs-args", "-noD -no-sparse -no-fragments", inputdir, bundle))
        image.unlink()

        size, cms_len = bundle_trailer(bundle)
        payload = size - 8 - cms_len
        assert payload > IMAGE_SIZE > FLIP_OFFSET > GIB2
        info = json.loads(assert_ok(run("info", "--no-verify", "--output-format=json",
                                        bundle)).stdout)
        assert info["format"] == fmt
        assert info["payload_size"] == payload
        assert info["manifest"]["images"][0]["size"] == IMAGE_SIZE

        assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))

        flip_byte(bundle, FLIP_OFFSET)
        assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "modified")
    finally:
        shutil.rmtree(work, ignore_errors=True)
