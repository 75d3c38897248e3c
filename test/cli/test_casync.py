# SPDX-License-Identifier: LGPL-2.1-or-later
"""casync bundles, RAUC's older delta format: images stored as casync chunk
indexes (.caibx, .caidx), whose manifest size and sha256 describe the image
they rebuild from a chunk store. RAUC's own test bundles (test/data/
rauc-casync/, see its README) and bundles made by Debian's `rauc convert`
from bundles of ours; images are rebuilt by Debian's casync."""
import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from conftest import (assert_failure, assert_ok, flip_byte, info_json, run, run_tool,
                      sha256_file, write_manifest)
from test_install import assert_refused, make_device

DATA = Path(__file__).resolve().parents[1] / "data" / "rauc-casync"
RAUC_KEYRING = DATA / "dev-ca.pem"
RAUC_STORE = DATA / "good-casync-bundle-1.5.1.castr"
RAUC_BUNDLES = ["good-casync-bundle-1.4.raucb", "good-casync-bundle-1.5.1.raucb",
                "good-casync-bundle-verity.raucb"]
ROOTFS = (65536, "de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31")
APPFS = (32768, "c35020473aed1b4642cd726cad727b63fff2824ad68cedd7ffb73c7cbd890479")
COMPATIBLE = "otabundle-test"

needs_casync = pytest.mark.skipif(shutil.which("casync") is None, reason="casync not installed")
needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


def rauc_copy(tmp_path, name, store=True):
    """A copy of RAUC's bundle @name, with its chunk store beside it (the
    default store: the bundle's name with .castr for .raucb)."""
    bundle = tmp_path / name
    shutil.copyfile(DATA / name, bundle)
    if store:
        shutil.copytree(RAUC_STORE, bundle.with_suffix(".castr"))
    return bundle


def rauc_device(tmp_path, extra=""):
    """RAUC's test bundles' system: compatible "Test Config", slot classes
    rootfs and appfs, RAUC's test keyring."""
    dev = make_device(tmp_path, RAUC_KEYRING, classes=("rootfs", "appfs"), extra=extra)
    dev.conf.write_text(dev.conf.read_text().replace(f"compatible={COMPATIBLE}",
                                                      "compatible=Test Config"))
    return dev


# --- info and verify: the index is what the bundle holds ----------------------------------


@pytest.mark.parametrize("name", RAUC_BUNDLES)
def test_rauc_casync_test_bundles_verify_with_rauc_test_keyring(name):
    proc = assert_ok(run("verify", "--keyring", RAUC_KEYRING, DATA / name))
    assert "OK" in proc.stdout


@pytest.mark.parametrize("name", RAUC_BUNDLES)
def test_info_json_says_each_image_is_a_casync_index_of_the_manifest_size(name):
    doc = info_json(DATA / name, RAUC_KEYRING)
    assert doc["verified"] is True
    images = {i["slotclass"]: i for i in doc["manifest"]["images"]}
    assert images["rootfs"]["casync"] == "blob-index"
    assert (images["rootfs"]["size"], images["rootfs"]["sha256"]) == ROOTFS
    assert (images["appfs"]["size"], images["appfs"]["sha256"]) == APPFS


def test_info_text_says_the_image_is_a_casync_index_and_what_size_means():
    proc = assert_ok(run("info", "--keyring", RAUC_KEYRING, DATA / RAUC_BUNDLES[2]))
    assert "casync:      blob-index" in proc.stdout
    assert "size and sha256 are of the image it rebuilds" in proc.stdout


def test_ordinary_images_have_no_casync_in_info_json(pki, tmp_path):
    bundle = make_ours(pki, tmp_path, os.urandom(5000))
    assert info_json(bundle, pki.root)["manifest"]["images"][0]["casync"] is None


@needs_rauc
def test_rauc_1_4_bundle_with_an_unaligned_plain_payload_is_accepted_as_rauc_1_8_does():
    bundle = DATA / "good-casync-bundle-1.4.raucb"
    doc = info_json(bundle, RAUC_KEYRING)
    assert doc["verified"] is True
    assert doc["format"] == "plain"
    payload = bundle.stat().st_size - 8 - struct.unpack(">Q", bundle.read_bytes()[-8:])[0]
    assert payload % 4096 != 0
    proc = run_tool("rauc", "info", "--keyring", RAUC_KEYRING, bundle, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_verity_bundle_with_an_unaligned_payload_is_still_refused(pki, tmp_path):
    bundle = make_ours(pki, tmp_path, os.urandom(5000))
    data = bundle.read_bytes()
    sig = struct.unpack(">Q", data[-8:])[0]
    payload = len(data) - 8 - sig
    bundle.write_bytes(data[:payload] + b"\0" + data[payload:])
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "multiple of 4096")


def caibx(chunk_ends, chunk_max=1 << 20):
    """A casync blob index whose chunks end at @chunk_ends (IDs zero)."""
    n = len(chunk_ends)
    head = struct.pack("<6Q", 48, 0x96824d9c7b129ff9, 0, 1, chunk_max // 2, chunk_max)
    table = struct.pack("<2Q", 2**64 - 1, 0xe75b9e112f17417d)
    items = b"".join(struct.pack("<Q", e) + bytes(32) for e in chunk_ends)
    tail = struct.pack("<5Q", 0, 0, 48, 16 + 40 * n + 40, 0x4b4f050e5549ecd1)
    return head + table + items + tail


def bundle_with_index(pki, tmp_path, index, name="rootfs.img.caibx"):
    """A bundle of ours whose image is the file @index named @name (create
    fills in size and sha256 of the file itself)."""
    d = tmp_path / "in"
    d.mkdir()
    (d / name).write_bytes(index)
    write_manifest(d, {"rootfs": name})
    bundle = tmp_path / "idx.raucb"
    assert_ok(run("create", *pki.sign_args(), d, bundle))
    return bundle


def test_a_garbage_casync_index_is_refused_as_malformed(pki, tmp_path):
    bundle = bundle_with_index(pki, tmp_path, os.urandom(200))
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "casync index")


def test_a_casync_index_whose_tail_lies_about_the_table_is_refused(pki, tmp_path):
    index = bytearray(caibx([4096]))
    index[-16] ^= 0x01  # the tail's table size
    bundle = bundle_with_index(pki, tmp_path, bytes(index))
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "casync index",
                   "table")


def test_a_blob_index_that_rebuilds_another_size_than_the_manifest_says_is_refused(
        pki, tmp_path):
    # create records the index file's own size (184 bytes), the index rebuilds 8192.
    bundle = bundle_with_index(pki, tmp_path, caibx([4096, 8192]))
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "rebuilds 8192",
                   "manifest says 184")


def test_a_chunk_larger_than_the_index_maximum_is_refused(pki, tmp_path):
    bundle = bundle_with_index(pki, tmp_path, caibx([4096, 4096 + 8192], chunk_max=8191))
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "casync index",
                   "chunk 1")


# --- bundles made by rauc convert ---------------------------------------------------------


def make_ours(pki, tmp_path, image, fmt="verity", filename="rootfs.img", name="ours"):
    d = tmp_path / f"{name}.in"
    d.mkdir()
    (d / filename).write_bytes(image)
    # Kept as it is by rauc convert: the converted verity bundle's squashfs
    # must be larger than the 4096 bytes rauc requires.
    (d / "padding").write_bytes(os.urandom(8192))
    write_manifest(d, {"rootfs": filename}, compatible=COMPATIBLE)
    bundle = tmp_path / f"{name}.raucb"
    assert_ok(run("create", f"--format={fmt}", *pki.sign_args(), d, bundle))
    return bundle


def rauc_convert(pki, tmp_path, bundle, name="casync", extra=()):
    """`rauc convert` of @bundle: (casync bundle, its chunk store)."""
    conf = tmp_path / "rauc-system.conf"
    conf.write_text(f"[system]\ncompatible={COMPATIBLE}\nbootloader=noop\n\n"
                    f"[keyring]\npath={pki.root}\n")
    s = pki.leaves["ec256"]
    out = tmp_path / f"{name}.raucb"
    # Small chunks: the index (40 bytes a chunk) then makes the converted
    # squashfs larger than the 4096 bytes rauc requires of a verity bundle.
    proc = run_tool("rauc", "-c", conf, "convert", "--keyring", pki.root, "--cert", s.cert,
                    "--key", s.key, "--intermediate", pki.intermediate,
                    "--casync-args=--chunk-size=2048", *extra, bundle, out, check=False)
    assert proc.returncode == 0, proc.stderr
    return out, out.with_suffix(".castr")


@pytest.fixture
def converted(pki, tmp_path):
    """(image, casync bundle, store): `rauc convert` of a verity bundle of
    ours with a 300 KiB image."""
    if shutil.which("rauc") is None or shutil.which("casync") is None:
        pytest.skip("rauc convert needs rauc and casync")
    image = os.urandom(300 * 1024)
    bundle, store = rauc_convert(pki, tmp_path, make_ours(pki, tmp_path, image))
    return image, bundle, store


def test_a_bundle_made_by_rauc_convert_verifies_and_shows_its_casync_index(pki, converted):
    image, bundle, store = converted
    assert store.is_dir()
    doc = info_json(bundle, pki.root)
    assert doc["verified"] is True
    (entry,) = doc["manifest"]["images"]
    assert entry["filename"] == "rootfs.img.caibx"
    assert entry["casync"] == "blob-index"
    assert entry["size"] == len(image)
    assert_ok(run("verify", "--keyring", pki.root, bundle))


def test_extract_rebuilds_the_image_of_a_converted_bundle_from_the_default_store(
        pki, converted, tmp_path):
    image, bundle, _ = converted
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    assert (out / "rootfs.img").read_bytes() == image
    assert (out / "rootfs.img.caibx").is_file()


def test_extract_takes_the_store_from_casync_store(pki, converted, tmp_path):
    image, bundle, store = converted
    moved = tmp_path / "elsewhere.castr"
    store.rename(moved)
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, "--casync-store", moved, bundle, out))
    assert (out / "rootfs.img").read_bytes() == image


def test_extract_without_the_chunk_store_fails_in_one_line_and_writes_nothing(
        pki, converted, tmp_path):
    _, bundle, store = converted
    shutil.rmtree(store)
    out = tmp_path / "out"
    assert_failure(run("extract", "--keyring", pki.root, bundle, out), bundle, "casync")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_install_rebuilds_the_image_of_a_converted_bundle_into_the_inactive_slot(
        pki, converted, tmp_path):
    image, bundle, _ = converted
    dev = make_device(tmp_path, pki.root)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image
    assert dev.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    assert dev.slot("rootfs.1")["state"] == "good"
    assert dev.primary() == "B"


def test_install_takes_the_chunk_store_from_casync_storepath(pki, converted, tmp_path):
    image, bundle, store = converted
    moved = tmp_path / "fixed.castr"
    store.rename(moved)
    dev = make_device(tmp_path, pki.root, extra=f"[casync]\nstorepath={moved}\n")
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


def test_install_fetches_chunks_from_an_http_store(pki, converted, tmp_path, web):
    image, bundle, store = converted
    name = f"{tmp_path.name}.castr"
    shutil.copytree(store, web.docroot / name)
    dev = make_device(tmp_path, pki.root, extra=f"[casync]\nstorepath={web.url(name)}\n")
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


def chunk_requests(web, store_name):
    """The chunk requests the web server logged for store @store_name."""
    from http_server import _parse_log
    web.flush_logs()
    return [r for r in _parse_log(web.dir / "origin-access.log")
            if f"/{store_name}/" in r.path and r.path.endswith(".cacnk")]


def test_the_active_slot_seeds_the_rebuild_so_its_chunks_are_not_fetched(
        pki, converted, tmp_path, web):
    """RAUC's delta update: an install booted from B, whose slot holds the
    image, fetches no chunk at all."""
    image, bundle, store = converted
    name = f"{tmp_path.name}-seed.castr"
    shutil.copytree(store, web.docroot / name)
    dev = make_device(tmp_path, pki.root, extra=f"[casync]\nstorepath={web.url(name)}\n")
    assert_ok(dev.install(bundle, boot="A"))
    fetched = len(chunk_requests(web, name))
    assert fetched > 0
    assert_ok(dev.install(bundle, boot="B"))
    assert dev.slots["rootfs.0"].read_bytes() == image
    assert len(chunk_requests(web, name)) == fetched


def test_install_of_a_streamed_bundle_takes_chunks_from_the_store_beside_its_url(
        pki, converted, tmp_path, web):
    """As RAUC: the default store of https://host/x.raucb is
    https://host/x.castr."""
    image, bundle, store = converted
    name = web.publish(bundle, f"{tmp_path.name}.raucb")
    shutil.copytree(store, web.docroot / f"{tmp_path.name}.castr")
    dev = make_device(tmp_path, pki.root)
    assert_ok(dev.install(web.url(name)))
    assert dev.slots["rootfs.1"].read_bytes() == image
    assert [r for r in web.requests(f"{tmp_path.name}.raucb")]


def test_install_without_the_chunk_store_is_refused_before_any_slot_is_written(
        pki, converted, tmp_path):
    _, bundle, store = converted
    shutil.rmtree(store)
    dev = make_device(tmp_path, pki.root)
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "casync chunk store", "not a directory")
    assert dev.snapshot() == before


def test_install_from_a_missing_http_store_fails_in_one_line_and_marks_the_slot_bad(
        pki, converted, tmp_path, web):
    _, bundle, _ = converted
    dev = make_device(tmp_path, pki.root,
                      extra=f"[casync]\nstorepath={web.url('no-such-store.castr')}\n")
    assert_refused(dev.install(bundle), "casync extract failed")
    assert dev.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert dev.primary() == "A"


def test_a_corrupt_chunk_in_the_store_fails_the_install_in_one_line(pki, converted, tmp_path):
    _, bundle, store = converted
    for chunk in store.rglob("*.cacnk"):
        chunk.write_bytes(chunk.read_bytes()[:-7] + os.urandom(7))
    dev = make_device(tmp_path, pki.root)
    line = assert_refused(dev.install(bundle))
    assert "casync" in line or "sha256" in line
    assert dev.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    assert dev.slot("rootfs.1")["state"] == "bad"


def test_a_store_of_another_image_is_caught_by_the_sha256_check(pki, converted, tmp_path):
    """The chunks of another image under the names this index asks for:
    casync writes what it finds, the image's sha256 says it is wrong."""
    _, bundle, store = converted
    other, other_store = rauc_convert(pki, tmp_path, make_ours(pki, tmp_path, bytes(300 * 1024),
                                                               name="zeros"), name="other")
    # Every chunk of ours replaced by the one chunk of the other image (zeros).
    zero_chunk = next(other_store.rglob("*.cacnk")).read_bytes()
    for chunk in store.rglob("*.cacnk"):
        chunk.write_bytes(zero_chunk)
    out = tmp_path / "out"
    proc = run("extract", "--keyring", pki.root, bundle, out)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "casync" in proc.stderr or "sha256" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_a_tampered_index_in_the_bundle_is_refused_before_casync_runs(
        pki, tmp_path, fmt):
    if shutil.which("rauc") is None or shutil.which("casync") is None:
        pytest.skip("rauc convert needs rauc and casync")
    image = os.urandom(100 * 1024)
    bundle, _ = rauc_convert(pki, tmp_path, make_ours(pki, tmp_path, image, fmt=fmt),
                             extra=["--mksquashfs-args=-noI -noD -noF -noX"])
    # Stored uncompressed: flip a byte of the index's chunk table.
    data = bundle.read_bytes()
    at = data.find(struct.pack("<Q", 0xe75b9e112f17417d))
    assert at > 0
    flip_byte(bundle, at + 16)
    dev = make_device(tmp_path, pki.root)
    before = dev.snapshot()
    proc = dev.install(bundle)
    assert_refused(proc)
    assert dev.snapshot() == before
    assert run("verify", "--keyring", pki.root, bundle).returncode == 1


@needs_rauc
@needs_casync
def test_a_directory_tree_index_verifies_but_is_refused_for_install_naming_casync(
        pki, tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hello").write_text("hello\n")
    tar = tmp_path / "rootfs.tar"
    run_tool("tar", "-C", tree, "-cf", tar, ".")
    bundle, _ = rauc_convert(pki, tmp_path, make_ours(pki, tmp_path, tar.read_bytes(),
                                                      filename="rootfs.tar"))
    (entry,) = info_json(bundle, pki.root)["manifest"]["images"]
    assert entry["casync"] == "directory-tree-index"
    dev = make_device(tmp_path, pki.root, tar=("rootfs",))
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "casync", ".caidx")
    assert dev.snapshot() == before
    out = tmp_path / "out"
    assert_failure(run("extract", "--keyring", pki.root, bundle, out), bundle, "casync",
                   ".caidx")
    assert not out.exists()


# --- RAUC's test bundles on a device --------------------------------------------------------


@needs_casync
@pytest.mark.parametrize("name", RAUC_BUNDLES)
def test_rauc_casync_test_bundles_install_from_their_store(tmp_path, name):
    bundle = rauc_copy(tmp_path, name)
    dev = rauc_device(tmp_path)
    assert_ok(dev.install(bundle))
    assert (len(dev.slots["rootfs.1"].read_bytes()), sha256_file(dev.slots["rootfs.1"])) == ROOTFS
    assert (len(dev.slots["appfs.1"].read_bytes()), sha256_file(dev.slots["appfs.1"])) == APPFS


def ext4_image(tmp_path, text):
    """A 2 MiB ext4 filesystem holding /etc/hello with @text."""
    src = tmp_path / "ext4.d" / "etc"
    src.mkdir(parents=True)
    (src / "hello").write_text(text)
    path = tmp_path / "rootfs.ext4"
    path.write_bytes(b"")
    os.truncate(path, 2 * 1024 * 1024)
    run_tool("mkfs.ext4", "-q", "-F", "-d", src.parent, path)
    return path.read_bytes()


def test_an_ext4_casync_image_is_rebuilt_into_an_ext4_slot_and_resized(pki, tmp_path):
    if shutil.which("rauc") is None or shutil.which("casync") is None:
        pytest.skip("rauc convert needs rauc and casync")
    image = ext4_image(tmp_path, "hello from casync\n")
    bundle, _ = rauc_convert(pki, tmp_path, make_ours(pki, tmp_path, image,
                                                      filename="rootfs.ext4"))
    dev = make_device(tmp_path, pki.root, class_extra={"rootfs": "type=ext4\nresize=true"})
    for slot in dev.slots.values():
        os.truncate(slot, 4 * 1024 * 1024)  # files standing in for 4 MiB partitions
    assert_ok(dev.install(bundle))
    slot = dev.slots["rootfs.1"]
    assert slot.stat().st_size == 4 * 1024 * 1024
    proc = run_tool("debugfs", "-R", "cat /etc/hello", slot)
    assert proc.stdout == "hello from casync\n"
    fields = dict(line.split(":", 1) for line in
                  run_tool("dumpe2fs", "-h", slot).stdout.splitlines() if ":" in line)
    # resize=true grew the 2 MiB filesystem to the slot.
    assert int(fields["Block count"]) * int(fields["Block size"]) == 4 * 1024 * 1024


def test_casync_images_are_refused_for_a_tar_slot(tmp_path):
    bundle = rauc_copy(tmp_path, RAUC_BUNDLES[2])
    dev = make_device(tmp_path, RAUC_KEYRING, classes=("rootfs", "appfs"), tar=("appfs",))
    dev.conf.write_text(dev.conf.read_text().replace(f"compatible={COMPATIBLE}",
                                                      "compatible=Test Config"))
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "casync", "raw and filesystem slots")
    assert dev.snapshot() == before


# --- system.conf [casync] -----------------------------------------------------------------


def test_check_config_shows_the_casync_settings(tmp_path):
    dev = rauc_device(tmp_path, extra="[casync]\nstorepath=https://updates.example/store\n"
                                      "tmppath=/var/tmp\ninstall-args=--verbose\n")
    proc = assert_ok(dev.run("check-config"))
    assert "casync:         store https://updates.example/store" in proc.stdout
    doc = json.loads(assert_ok(dev.run("check-config", "--output-format=json")).stdout)
    assert doc["casync"] == {"storepath": "https://updates.example/store",
                             "tmppath": "/var/tmp", "install_args": "--verbose"}


def test_use_desync_true_is_refused_in_one_line(tmp_path):
    dev = rauc_device(tmp_path, extra="[casync]\nuse-desync=true\n")
    assert_refused(dev.run("check-config"), "use-desync", "desync")


def test_use_desync_false_is_accepted(tmp_path):
    dev = rauc_device(tmp_path, extra="[casync]\nuse-desync=false\n")
    assert_ok(dev.run("check-config"))


def test_install_args_that_do_not_split_like_a_shell_are_refused(tmp_path):
    dev = rauc_device(tmp_path, extra="[casync]\ninstall-args=--seed 'unbalanced\n")
    assert_refused(dev.run("check-config"), "install-args", "[casync]")


def test_install_args_reach_casync(pki, converted, tmp_path):
    """install-args are casync's: a wrong one fails the rebuild, in one line
    that names casync."""
    _, bundle, _ = converted
    dev = make_device(tmp_path, pki.root, extra="[casync]\ninstall-args=--no-such-option\n")
    assert_refused(dev.install(bundle), "casync extract")
    assert dev.slot("rootfs.1")["state"] == "bad"


def test_an_unknown_key_in_casync_is_refused(tmp_path):
    dev = rauc_device(tmp_path, extra="[casync]\nstore-path=/x\n")
    assert_refused(dev.run("check-config"), "store-path")
