# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adaptive updates (RAUC's adaptive=block-hash-index), black box.

`create` writes <image>.block-hash-index (the SHA-256 of each 4 KiB block
of the image) into the bundle, byte for byte what Debian's rauc 1.8 writes;
`otabundle-install` then takes each block it can find on the device (the
target slot where it already holds it, the target's old contents not yet
overwritten, blocks of the new image already written, the active slot of
the class), makes zero blocks itself and reads only the rest from the
bundle; the image's sha256 is checked over the result as for a full
write. Slots are regular files (see test_install.py)."""
import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from conftest import assert_failure, assert_ok, run, run_tool, write_manifest
from test_install import assert_refused, make_device
from test_verity import handmade_verity_bundle

BLOCK = 4096
COMPATIBLE = "otabundle-test"

needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


def block_hashes(data):
    return b"".join(hashlib.sha256(data[i:i + BLOCK]).digest()
                    for i in range(0, len(data), BLOCK))


def random_blocks(n, seed):
    return random.Random(seed).randbytes(n * BLOCK)


def adaptive_input(d, data, filename="rootfs.img", adaptive="block-hash-index", version="1.0.0",
                   fmt="verity"):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    (d / filename).write_bytes(data)
    write_manifest(d, {"rootfs": {"filename": filename, "adaptive": adaptive}},
                   version=version, extra=f"[bundle]\nformat={fmt}\n")
    return d


def make_adaptive_bundle(pki, d, data, name="adaptive", **kwargs):
    inputdir = adaptive_input(Path(d) / f"{name}.in", data, **kwargs)
    bundle = Path(d) / f"{name}.raucb"
    assert_ok(run("create", *pki.sign_args(), inputdir, bundle))
    return bundle


def unsquash(bundle, dest):
    run_tool("unsquashfs", "-no-xattrs", "-d", dest, bundle)
    return Path(dest)


def last_result(dev):
    results = [r for r in dev.status()["results"] if r["operation"] == "install"]
    return results[-1]


def snapshot(path):
    st = Path(path).stat()
    return st.st_mtime_ns, hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- create ---------------------------------------------------------------------------


# Random blocks, zero blocks and a block repeated: every case the index has.
MIXED = random_blocks(20, 1) + bytes(3 * BLOCK) + random_blocks(1, 2) * 4 + random_blocks(5, 3)


@needs_rauc
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_create_writes_the_block_hash_index_byte_identical_to_rauc_1_8(pki, tmp_path, fmt):
    ours = make_adaptive_bundle(pki, tmp_path, MIXED, fmt=fmt)
    theirs_in = adaptive_input(tmp_path / "rauc.in", MIXED, fmt=fmt)
    theirs = tmp_path / "rauc.raucb"
    s = pki.leaves["ec256"]
    run_tool("rauc", "bundle", "--cert", s.cert, "--key", s.key, theirs_in, theirs)
    a = unsquash(ours, tmp_path / "ours") / "rootfs.img.block-hash-index"
    b = unsquash(theirs, tmp_path / "theirs") / "rootfs.img.block-hash-index"
    run_tool("cmp", a, b)
    assert a.read_bytes() == block_hashes(MIXED)


def test_create_leaves_the_input_directory_unchanged(pki, tmp_path):
    """rauc writes the index into its input directory; create does not."""
    inputdir = adaptive_input(tmp_path / "in", MIXED)
    before = sorted(p.name for p in inputdir.iterdir())
    manifest = (inputdir / "manifest.raucm").read_bytes()
    assert_ok(run("create", *pki.sign_args(), inputdir, tmp_path / "b.raucb"))
    assert sorted(p.name for p in inputdir.iterdir()) == before
    assert (inputdir / "manifest.raucm").read_bytes() == manifest


def test_create_replaces_a_stale_index_left_in_the_input_directory(pki, tmp_path):
    """A run of `rauc bundle` leaves rootfs.img.block-hash-index behind; the
    image changed since. The bundle gets the index of the image it holds."""
    inputdir = adaptive_input(tmp_path / "in", MIXED)
    (inputdir / "rootfs.img.block-hash-index").write_bytes(block_hashes(random_blocks(9, 4)))
    bundle = tmp_path / "b.raucb"
    assert_ok(run("create", *pki.sign_args(), inputdir, bundle))
    out = unsquash(bundle, tmp_path / "out")
    assert (out / "rootfs.img.block-hash-index").read_bytes() == block_hashes(MIXED)


def test_create_writes_no_index_for_an_image_without_adaptive(pki, tmp_path):
    inputdir = adaptive_input(tmp_path / "in", MIXED, adaptive="")
    bundle = tmp_path / "b.raucb"
    assert_ok(run("create", *pki.sign_args(), inputdir, bundle))
    assert not (unsquash(bundle, tmp_path / "out") / "rootfs.img.block-hash-index").exists()


@pytest.mark.parametrize("size,words", [(4096 * 3 + 1, ["not a multiple of 4096"]),
                                        (0, ["empty"])])
def test_create_refuses_an_adaptive_image_that_is_not_whole_4k_blocks(pki, tmp_path, size, words):
    inputdir = adaptive_input(tmp_path / "in", os.urandom(size))
    bundle = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), inputdir, bundle)
    assert_failure(proc, inputdir / "rootfs.img", "block-hash-index", *words)
    assert not bundle.exists()


def test_create_refuses_an_unknown_adaptive_method(pki, tmp_path):
    """As `rauc bundle` does ("Unsupported adaptive method")."""
    inputdir = adaptive_input(tmp_path / "in", MIXED, adaptive="block-hash-index;rsync-delta")
    bundle = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), inputdir, bundle)
    assert_failure(proc, inputdir / "rootfs.img", "unsupported adaptive method", "rsync-delta")
    assert not bundle.exists()


# --- interop ----------------------------------------------------------------------------


@needs_rauc
def test_rauc_accepts_an_adaptive_bundle_made_by_otabundle(pki, tmp_path):
    bundle = make_adaptive_bundle(pki, tmp_path, MIXED)
    proc = run_tool("rauc", "info", "--keyring", pki.root, "--output-format=json", bundle,
                    check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"][0]["rootfs"]["adaptive"] == ["block-hash-index"]


@needs_rauc
def test_otabundle_verifies_an_adaptive_bundle_made_by_rauc(pki, tmp_path):
    inputdir = adaptive_input(tmp_path / "in", MIXED)
    bundle = tmp_path / "rauc.raucb"
    s = pki.leaves["ec256"]
    run_tool("rauc", "bundle", "--cert", s.cert, "--key", s.key, "--intermediate",
             pki.intermediate, inputdir, bundle)
    assert_ok(run("verify", "--keyring", pki.root, bundle))


# --- install ----------------------------------------------------------------------------


def adaptive_device(tmp_path, pki, active, target=b"old system in rootfs.1\n", **kwargs):
    dev = make_device(tmp_path, pki.root, **kwargs)
    dev.slots["rootfs.0"].write_bytes(active)  # A, booted: the active slot
    dev.slots["rootfs.1"].write_bytes(target)
    return dev


def changed(data, blocks, seed):
    """@data with the 4 KiB blocks numbered in @blocks replaced by random ones."""
    out = bytearray(data)
    rnd = random.Random(seed)
    for b in blocks:
        out[b * BLOCK:(b + 1) * BLOCK] = rnd.randbytes(BLOCK)
    return bytes(out)


OLD = random_blocks(200, 10) + bytes(40 * BLOCK) + random_blocks(16, 11)
# 10 of 256 blocks changed, in two runs; the zero run and the rest unchanged.
NEW = changed(OLD, list(range(30, 36)) + list(range(244, 248)), 12)
NONZERO_SHARED = (256 - 40 - 10) * BLOCK


def test_adaptive_install_reuses_the_active_slots_blocks_and_writes_the_image_exactly(
        pki, tmp_path):
    dev = adaptive_device(tmp_path, pki, OLD)
    active = snapshot(dev.slots["rootfs.0"])
    bundle = make_adaptive_bundle(pki, tmp_path, NEW, version="2.0.0")
    proc = assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == NEW
    assert snapshot(dev.slots["rootfs.0"]) == active
    result = last_result(dev)
    assert result["ok"]
    assert result["reused_bytes"] == NONZERO_SHARED
    assert f"reused {NONZERO_SHARED} bytes" in proc.stdout


def test_install_without_adaptive_reuses_nothing(pki, tmp_path):
    dev = adaptive_device(tmp_path, pki, OLD)
    bundle = make_adaptive_bundle(pki, tmp_path, NEW, adaptive="")
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == NEW
    assert last_result(dev)["reused_bytes"] == 0


def test_adaptive_install_does_not_use_corrupted_blocks_of_the_active_slot(pki, tmp_path):
    """Blocks of the active slot that no longer hold what the image needs
    (bit rot, a tampered device) are not taken: they come from the bundle,
    and the slot is still exactly the image."""
    corrupted = bytearray(OLD)
    for b in (1, 2, 100):
        corrupted[b * BLOCK + 7] ^= 0x01
    dev = adaptive_device(tmp_path, pki, bytes(corrupted))
    bundle = make_adaptive_bundle(pki, tmp_path, NEW, version="2.0.0")
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == NEW
    assert last_result(dev)["reused_bytes"] == NONZERO_SHARED - 3 * BLOCK


def test_adaptive_install_takes_target_blocks_only_before_overwriting_them(pki, tmp_path):
    """The target slot holds the new image's blocks in reverse order and
    the active slot nothing of use: the first half of the image comes from
    later offsets of the target, read before they are overwritten; the
    second half's blocks were overwritten by then and must come from the
    bundle (were they read, the re-hash would refuse them too: the slot can
    only ever get the image). Blocks are written in batches of 1 MiB: 4 MiB
    make the halves exact."""
    n = 1024
    new = random_blocks(n, 20)
    reversed_blocks = b"".join(new[(n - 1 - i) * BLOCK:(n - i) * BLOCK] for i in range(n))
    dev = adaptive_device(tmp_path, pki, random_blocks(n, 21), target=reversed_blocks)
    bundle = make_adaptive_bundle(pki, tmp_path, new, version="2.0.0")
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == new
    assert last_result(dev)["reused_bytes"] == n // 2 * BLOCK


def test_adaptive_install_over_an_unchanged_target_reuses_every_block(pki, tmp_path):
    """Installing into a slot that already holds the image (an interrupted
    install retried, say) takes every block from where it is."""
    dev = adaptive_device(tmp_path, pki, random_blocks(8, 30), target=NEW + b"tail" * 100)
    bundle = make_adaptive_bundle(pki, tmp_path, NEW, version="2.0.0")
    assert_ok(dev.install(bundle))
    # A raw slot's file is cut to the image, as a full write leaves it.
    assert dev.slots["rootfs.1"].read_bytes() == NEW
    assert last_result(dev)["reused_bytes"] == (256 - 40) * BLOCK


def test_adaptive_install_into_an_ext4_slot_keeps_the_files_size(pki, tmp_path):
    """A filesystem slot's file stands in for a block device: it is never
    truncated, before or after."""
    target = OLD + bytes(64 * BLOCK)
    dev = adaptive_device(tmp_path, pki, OLD, target=target,
                          class_extra={"rootfs": "type=ext4"})
    bundle = make_adaptive_bundle(pki, tmp_path, NEW, filename="rootfs.ext4", version="2.0.0")
    assert_ok(dev.install(bundle))
    written = dev.slots["rootfs.1"].read_bytes()
    assert len(written) == len(target)
    assert written[:len(NEW)] == NEW
    assert last_result(dev)["reused_bytes"] == NONZERO_SHARED


# --- a bad index ---------------------------------------------------------------------


def adaptive_manifest(data, index_name="rootfs.img"):
    return (f"[update]\ncompatible={COMPATIBLE}\nversion=2.0.0\n\n[bundle]\nformat=verity\n\n"
            f"[image.rootfs]\nfilename=rootfs.img\nsize={len(data)}\n"
            f"sha256={hashlib.sha256(data).hexdigest()}\nadaptive=block-hash-index\n")


@pytest.mark.parametrize("index", [
    pytest.param(lambda d: block_hashes(d)[:-1], id="one-byte-short"),
    pytest.param(lambda d: block_hashes(d) + bytes(32), id="one-hash-too-many"),
    pytest.param(lambda d: b"", id="empty"),
])
def test_install_refuses_a_block_hash_index_of_the_wrong_length(pki, tmp_path, index):
    """Signed and intact, but the index does not fit its image: refused
    before anything is written (RAUC would use what it can of it)."""
    def populate(src):
        (src / "rootfs.img").write_bytes(NEW)
        (src / "rootfs.img.block-hash-index").write_bytes(index(NEW))
    bundle, _ = handmade_verity_bundle(pki, tmp_path, adaptive_manifest(NEW), populate)
    dev = adaptive_device(tmp_path, pki, OLD)
    target = snapshot(dev.slots["rootfs.1"])
    assert_refused(dev.install(bundle), "rootfs.img.block-hash-index", "needs exactly")
    assert snapshot(dev.slots["rootfs.1"]) == target
    proc = run("verify", "--keyring", pki.root, bundle)
    assert_failure(proc, bundle, "rootfs.img.block-hash-index", "needs exactly")


def test_install_refuses_an_adaptive_image_without_its_index(pki, tmp_path):
    def populate(src):
        (src / "rootfs.img").write_bytes(NEW)
    bundle, _ = handmade_verity_bundle(pki, tmp_path, adaptive_manifest(NEW), populate)
    dev = adaptive_device(tmp_path, pki, OLD)
    target = snapshot(dev.slots["rootfs.1"])
    assert_refused(dev.install(bundle), "rootfs.img.block-hash-index", "not found")
    assert snapshot(dev.slots["rootfs.1"]) == target


def test_a_block_found_through_the_index_is_rehashed_before_it_is_used(pki, tmp_path):
    """The index claims that block 10 holds what block 600 holds (it does
    not). Block 10 is found nowhere on the device, so it comes from the
    bundle as it really is; when block 600 is due, the index points at the
    written block 10: read back and re-hashed, it does not match and is not
    used. The slot is exactly the image (without the re-hash it would get
    block 10's bytes at 600, and the install would fail its sha256)."""
    new = random_blocks(1024, 50)
    index = bytearray(block_hashes(new))
    index[10 * 32:11 * 32] = index[600 * 32:601 * 32]

    def populate(src):
        (src / "rootfs.img").write_bytes(new)
        (src / "rootfs.img.block-hash-index").write_bytes(bytes(index))
    bundle, _ = handmade_verity_bundle(pki, tmp_path, adaptive_manifest(new), populate)
    dev = adaptive_device(tmp_path, pki, random_blocks(64, 51))
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == new
    assert last_result(dev)["reused_bytes"] == 0


def test_a_wrong_block_hash_index_of_the_right_length_cannot_corrupt_the_slot(pki, tmp_path):
    """An index (signed, of the right length) whose hashes point at other
    blocks of the device: the blocks found by it are not the image's, and
    the image's sha256, checked over what was written, refuses the result."""
    def populate(src):
        (src / "rootfs.img").write_bytes(NEW)
        (src / "rootfs.img.block-hash-index").write_bytes(block_hashes(OLD[::-1][:len(NEW)]))
    bundle, _ = handmade_verity_bundle(pki, tmp_path, adaptive_manifest(NEW), populate)
    dev = adaptive_device(tmp_path, pki, OLD[::-1])
    proc = dev.install(bundle)
    assert_refused(proc, "sha256")
    assert dev.slot("rootfs.1")["state"] == "bad"


# --- over HTTP --------------------------------------------------------------------------


def test_adaptive_install_over_http_downloads_only_the_changed_blocks(pki, tmp_path, web):
    """4 MiB of incompressible image, 128 KiB of it changed in one run: the
    install fetches those blocks (a squashfs block or two around them), the
    index (32 KiB), hash blocks and the signature, not the 4 MiB."""
    old = random_blocks(1024, 40)
    new = changed(old, range(500, 532), 41)
    bundle = make_adaptive_bundle(pki, tmp_path, new, version="2.0.0")
    name = web.publish(bundle)
    dev = adaptive_device(tmp_path, pki, old)
    assert_ok(dev.install(web.url(name)))
    assert dev.slots["rootfs.1"].read_bytes() == new
    served = sum(r.bytes for r in web.requests(name))
    assert served < 600 * 1024, f"{served} of {bundle.stat().st_size} bytes downloaded"
    result = last_result(dev)
    assert result["downloaded_bytes"] == served
    assert result["reused_bytes"] == (1024 - 32) * BLOCK


def test_info_shows_the_adaptive_methods(pki, tmp_path):
    bundle = make_adaptive_bundle(pki, tmp_path, MIXED)
    text = assert_ok(run("info", "--keyring", pki.root, bundle)).stdout
    assert "adaptive:    block-hash-index" in text
    doc = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                   bundle)).stdout)
    assert doc["manifest"]["images"][0]["adaptive"] == ["block-hash-index"]


def test_install_writes_an_image_with_only_unknown_adaptive_methods_whole(pki, tmp_path):
    """A method a newer RAUC may define (create refuses it, a bundle made
    elsewhere may have it): shown by info, otherwise ignored; the image is
    written whole, as RAUC 1.8 does."""
    manifest = adaptive_manifest(NEW).replace("adaptive=block-hash-index",
                                              "adaptive=some-future-method")

    def populate(src):
        (src / "rootfs.img").write_bytes(NEW)
    bundle, _ = handmade_verity_bundle(pki, tmp_path, manifest, populate)
    dev = adaptive_device(tmp_path, pki, OLD)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == NEW
    assert last_result(dev)["reused_bytes"] == 0
    assert "adaptive:    some-future-method" in assert_ok(
        run("info", "--keyring", pki.root, bundle)).stdout

