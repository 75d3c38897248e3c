# SPDX-License-Identifier: LGPL-2.1-or-later
"""The verity bundle format, otabundle's default: black-box tests.

Layout: [squashfs, 4 KiB aligned, >= 2 blocks][dm-verity hash tree][CMS
SignedData embedding the manifest][8-byte big-endian CMS length]. The tree
is checked against `veritysetup` (cryptsetup), the reference for what the
kernel's dm-verity accepts, since rauc only checks it when it mounts a
bundle, which needs root. Bundles built here by hand with mksquashfs,
veritysetup and `openssl cms` are an implementation independent of both
otabundle and rauc.
"""
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (assert_failure, assert_ok, bundle_trailer, create_bundle, flip_byte,
                      info_json, make_input, run, run_tool, signed_manifest, write_manifest)

BLOCK = 4096

needs_veritysetup = pytest.mark.skipif(shutil.which("veritysetup") is None,
                                       reason="veritysetup (cryptsetup-bin) not installed")
needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


@dataclass
class Layout:
    size: int          # the whole file
    data_size: int     # squashfs, padded
    tree_size: int     # dm-verity hash tree
    cms_len: int
    root_hash: str
    salt: str

    @property
    def cms_start(self):
        return self.data_size + self.tree_size


def layout(bundle):
    info = info_json(bundle)
    assert info["format"] == "verity"
    v = info["verity"]
    size, cms_len = bundle_trailer(bundle)
    assert v["data_size"] + v["tree_size"] == size - 8 - cms_len == info["payload_size"]
    return Layout(size, v["data_size"], v["tree_size"], cms_len, v["root_hash"], v["salt"])


def squashfs_bytes_used(bundle):
    """bytes_used from the squashfs superblock (little-endian u64 at 40)."""
    sb = Path(bundle).read_bytes()[:96]
    assert sb[:4] == b"hsqs"
    return int.from_bytes(sb[40:48], "little")


def verify(pki, bundle, *extra, keyring=None):
    return run("verify", "--keyring", keyring or pki.root, *extra, bundle)


def splice(bundle, start, end, insert=b""):
    """Replaces bytes [start, end) of @bundle with @insert."""
    data = bundle.read_bytes()
    bundle.write_bytes(data[:start] + insert + data[end:])


def signed_bundle_group(bundle):
    """The [bundle] group of the manifest the CMS signs, as a dict."""
    text = signed_manifest(bundle).decode()
    group = text.split("[bundle]\n", 1)[1].split("\n[", 1)[0]
    return dict(line.split("=", 1) for line in group.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def verity_template(pki, tmp_path_factory):
    """A verity bundle big enough for a two-level tree with several blocks
    on the lowest level: (path, inputdir, contents)."""
    d = tmp_path_factory.mktemp("verity")
    contents = make_input(d / "input", sizes=(3_000_000, 70000, 1))
    bundle = create_bundle(pki, d / "input", d / "verity.raucb")
    lay = layout(bundle)
    # 128 digests per 4 KiB tree block: more than 128 data blocks means
    # two levels, the top block first.
    assert lay.data_size // BLOCK > 4 * 128
    assert lay.tree_size // BLOCK >= 5
    return bundle, d / "input", contents


@pytest.fixture
def verity_bundle(verity_template, tmp_path):
    """A private copy of the verity template: (path, inputdir, contents)."""
    src, inputdir, contents = verity_template
    dst = tmp_path / "verity.raucb"
    dst.write_bytes(src.read_bytes())
    return dst, inputdir, contents


@pytest.fixture
def parent(tmp_path):
    d = tmp_path / "parent"
    d.mkdir()
    return d


# --- choosing the format ------------------------------------------------------------


def test_create_makes_a_verity_bundle_by_default(pki, tmp_path, input_dir):
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    info = info_json(bundle, pki.root)
    assert info["format"] == "verity"
    assert set(info["verity"]) == {"root_hash", "salt", "data_size", "tree_size"}
    group = signed_bundle_group(bundle)
    assert group == {"format": "verity", "verity-hash": info["verity"]["root_hash"],
                     "verity-salt": info["verity"]["salt"],
                     "verity-size": str(info["verity"]["tree_size"])}


def test_verity_bundle_squashfs_holds_the_manifest_without_the_verity_keys(pki, tmp_path,
                                                                          input_dir):
    """As rauc writes it: the root hash can't be inside the data it hashes."""
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    inner = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout
    assert re.search(r"^\[bundle\]\nformat=verity$", inner, re.M)
    assert "verity-hash" not in inner and "verity-salt" not in inner \
        and "verity-size" not in inner
    signed = signed_manifest(bundle).decode()
    assert re.sub(r"^verity-(hash|salt|size)=.*\n", "", signed, flags=re.M) == inner


def test_create_with_format_plain_makes_a_plain_bundle(pki, tmp_path, input_dir):
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb", "--format=plain")
    info = info_json(bundle, pki.root)
    assert info["format"] == "plain"
    assert info.get("verity") is None
    assert_ok(verify(pki, bundle, "--check-images"))


def test_create_takes_the_format_from_the_input_manifest_without_format_option(
        pki, tmp_path, input_dir):
    write_manifest(input_dir, {"img0": "img0.img"}, extra="[bundle]\nformat=plain\n")
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    assert info_json(bundle, pki.root)["format"] == "plain"


@pytest.mark.parametrize("in_manifest, option", [("plain", "verity"), ("verity", "plain")])
def test_create_format_option_overrides_the_input_manifest(pki, tmp_path, input_dir,
                                                          in_manifest, option):
    write_manifest(input_dir, {"img0": "img0.img"},
                   extra=f"[bundle]\nformat={in_manifest}\n")
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb", f"--format={option}")
    assert info_json(bundle, pki.root)["format"] == option
    assert_ok(verify(pki, bundle, "--check-images"))


@pytest.mark.parametrize("bundle_group, words", [
    ("format=crypt\ncrypt-key=" + "00" * 32, ("crypt", "computed by create")),
    ("format=squash", ("squash",)),
    ("format=verity\nverity-hash=" + "00" * 32, ("verity",)),
    ("format=verity\nverity-salt=" + "00" * 32, ("verity",)),
    ("format=verity\nverity-size=4096", ("verity",)),
], ids=["crypt-key", "unknown-format", "verity-hash", "verity-salt", "verity-size"])
def test_create_refuses_an_input_manifest_with_an_unknown_format_or_verity_or_crypt_keys(
        pki, tmp_path, input_dir, bundle_group, words):
    """The verity keys and the crypt key are computed by create."""
    write_manifest(input_dir, {"img0": "img0.img"}, extra=f"[bundle]\n{bundle_group}\n")
    bundle = tmp_path / "out.raucb"
    proc = run("create", *pki.sign_args(), input_dir, bundle)
    assert_failure(proc, input_dir / "manifest.raucm", *words)
    assert sorted(os.listdir(tmp_path)) == ["input"]


# --- layout and the hash tree ---------------------------------------------------------


def test_verity_bundle_is_squashfs_then_tree_then_cms_then_trailer(verity_bundle):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    assert lay.data_size % BLOCK == 0 and lay.tree_size % BLOCK == 0
    used = squashfs_bytes_used(bundle)
    assert lay.data_size - BLOCK < used <= lay.data_size
    data = bundle.read_bytes()
    assert data[used:lay.data_size] == b"\0" * (lay.data_size - used)
    assert data[lay.cms_start] == 0x30  # DER SEQUENCE: ContentInfo
    assert lay.cms_start + lay.cms_len + 8 == lay.size
    assert b"verity-hash=" + lay.root_hash.encode() in signed_manifest(bundle)


def cut_data_and_tree(bundle, d):
    lay = layout(bundle)
    data = bundle.read_bytes()
    d.mkdir(exist_ok=True)
    (d / "data").write_bytes(data[:lay.data_size])
    (d / "tree").write_bytes(data[lay.data_size:lay.cms_start])
    return lay, d / "data", d / "tree"


@needs_veritysetup
@pytest.mark.parametrize("which", ["big", "default-input"])
def test_veritysetup_verify_accepts_the_hash_tree_of_a_verity_bundle(
        pki, verity_bundle, tmp_path, input_dir, which):
    bundle = verity_bundle[0] if which == "big" else create_bundle(pki, input_dir,
                                                                   tmp_path / "small.raucb")
    lay, data, tree = cut_data_and_tree(bundle, tmp_path / "cut")
    run_tool("veritysetup", "verify", data, tree, lay.root_hash, "--no-superblock",
             f"--salt={lay.salt}")


@needs_veritysetup
def test_veritysetup_verify_rejects_our_tree_when_the_data_changed(verity_bundle, tmp_path):
    """The check above can fail: veritysetup verify does look at the data."""
    bundle, _, _ = verity_bundle
    lay, data, tree = cut_data_and_tree(bundle, tmp_path / "cut")
    flip_byte(data, lay.data_size // 2)
    proc = run_tool("veritysetup", "verify", data, tree, lay.root_hash, "--no-superblock",
                    f"--salt={lay.salt}", check=False)
    assert proc.returncode != 0


@needs_veritysetup
def test_veritysetup_format_over_the_squashfs_reproduces_our_tree_and_root_hash(
        verity_bundle, tmp_path):
    bundle, _, _ = verity_bundle
    lay, data, tree = cut_data_and_tree(bundle, tmp_path / "cut")
    ref_tree = tmp_path / "cut" / "ref-tree"
    out = run_tool("veritysetup", "format", data, ref_tree, "--no-superblock",
                   f"--salt={lay.salt}", "--hash=sha256", "--data-block-size=4096",
                   "--hash-block-size=4096").stdout
    root = re.search(r"^Root hash:\s+([0-9a-f]{64})$", out, re.M).group(1)
    assert root == lay.root_hash
    assert ref_tree.read_bytes() == tree.read_bytes()


def test_each_verity_bundle_gets_its_own_salt(pki, tmp_path, input_dir):
    a = layout(create_bundle(pki, input_dir, tmp_path / "a.raucb"))
    b = layout(create_bundle(pki, input_dir, tmp_path / "b.raucb"))
    assert a.salt != b.salt
    assert a.root_hash != b.root_hash


# --- verify accepts -----------------------------------------------------------------


def test_verify_accepts_a_verity_bundle_and_says_verity(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    proc = assert_ok(verify(pki, bundle))
    assert proc.stderr == ""
    assert "OK" in proc.stdout and "verity" in proc.stdout
    result = json.loads(assert_ok(verify(pki, bundle, "--output-format=json")).stdout)
    assert result["verified"] is True
    assert result["format"] == "verity"
    assert result["verity"]["root_hash"] == layout(bundle).root_hash


def test_verify_check_images_hashes_every_image_of_a_verity_bundle(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    proc = assert_ok(verify(pki, bundle, "--check-images"))
    assert "hashed" in proc.stdout
    result = json.loads(assert_ok(verify(pki, bundle, "--check-images",
                                         "--output-format=json")).stdout)
    assert result["verified"] is True


# --- verify rejects -------------------------------------------------------------------


def image_offset(bundle, data):
    """Where the (incompressible) image @data lies in the bundle."""
    raw = bundle.read_bytes()
    i = raw.find(data[:BLOCK])
    assert i >= 0, "image data not found uncompressed in the squashfs"
    assert raw[i:i + len(data)] == data, "image data not contiguous in the squashfs"
    return i


@pytest.mark.parametrize("where", ["superblock", "first-block-end", "image-middle",
                                   "image-last-block", "squashfs-last-byte",
                                   "last-data-block-first-byte", "last-data-byte"])
def test_verify_rejects_a_flipped_byte_in_the_squashfs(pki, verity_bundle, where):
    bundle, _, contents = verity_bundle
    lay = layout(bundle)
    image = contents["img0.img"]
    start = image_offset(bundle, image)
    offset = {"superblock": 0, "first-block-end": BLOCK - 1,
              "image-middle": start + len(image) // 2,
              "image-last-block": start + len(image) - 10,
              "squashfs-last-byte": squashfs_bytes_used(bundle) - 1,
              "last-data-block-first-byte": lay.data_size - BLOCK,
              "last-data-byte": lay.data_size - 1}[where]
    assert offset < lay.data_size
    flip_byte(bundle, offset)
    assert_failure(verify(pki, bundle), bundle, "modified")


@pytest.mark.parametrize("where", ["first-block-first-byte", "first-block-last-byte",
                                   "second-block-first-byte", "middle",
                                   "last-block-first-byte", "last-block-last-byte"])
def test_verify_rejects_a_flipped_byte_in_the_hash_tree(pki, verity_bundle, where):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    offset = lay.data_size + {
        "first-block-first-byte": 0, "first-block-last-byte": BLOCK - 1,
        "second-block-first-byte": BLOCK, "middle": lay.tree_size // 2 + 7,
        "last-block-first-byte": lay.tree_size - BLOCK,
        "last-block-last-byte": lay.tree_size - 1}[where]
    flip_byte(bundle, offset)
    assert_failure(verify(pki, bundle), bundle, "modified")


def test_verify_rejects_a_flipped_byte_in_every_block_of_the_hash_tree(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    original = bundle.read_bytes()
    for block in range(lay.tree_size // BLOCK):
        offset = lay.data_size + block * BLOCK + 100
        flip_byte(bundle, offset, 0x01)
        assert_failure(verify(pki, bundle), bundle, "modified")
        bundle.write_bytes(original)


def test_verify_rejects_a_flipped_byte_in_the_embedded_manifest(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    data = bundle.read_bytes()
    i = data.index(b"verity-hash=", lay.cms_start) + len(b"verity-hash=") + 5
    flip_byte(bundle, i, 0x01)  # still a hex digit: the manifest still parses
    assert_failure(verify(pki, bundle), bundle, "modified")


@pytest.mark.parametrize("block", ["first", "last"])
def test_verify_rejects_the_hash_tree_cut_short_by_one_block(pki, verity_bundle, block):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    start = lay.data_size if block == "first" else lay.cms_start - BLOCK
    splice(bundle, start, start + BLOCK)
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_the_squashfs_cut_short_by_one_block(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    splice(bundle, lay.data_size - BLOCK, lay.data_size)
    assert_failure(verify(pki, bundle), bundle)


@pytest.mark.parametrize("where, insert", [
    ("after-squashfs", b"\0" * BLOCK),
    ("after-tree", b"\0" * BLOCK),
    ("after-tree", b"\0" * 100),
], ids=["zero-block-after-squashfs", "zero-block-after-tree", "100-bytes-after-tree"])
def test_verify_rejects_bytes_inserted_into_the_payload(pki, verity_bundle, where, insert):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    at = lay.data_size if where == "after-squashfs" else lay.cms_start
    splice(bundle, at, at, insert)
    assert_failure(verify(pki, bundle), bundle)


@pytest.mark.parametrize("garbage", [b"\x00", b"\x00" * 8, os.urandom(100), b"\x00" * BLOCK],
                         ids=["1-byte", "8-zero-bytes", "100-random", "4096-zero-bytes"])
def test_verify_rejects_garbage_appended_to_a_verity_bundle(pki, verity_bundle, garbage):
    bundle, _, _ = verity_bundle
    with open(bundle, "ab") as f:
        f.write(garbage)
    assert_failure(verify(pki, bundle), bundle)


def cms_and_trailer(bundle):
    size, cms_len = bundle_trailer(bundle)
    return bundle.read_bytes()[size - 8 - cms_len:]


@pytest.mark.parametrize("other_input", ["same", "different"])
def test_verify_rejects_the_signature_of_another_verity_bundle_swapped_in(
        pki, verity_bundle, tmp_path, other_input):
    """Another bundle's CMS (its root hash) on this bundle's squashfs and
    tree; from the same input directory only the salt differs."""
    bundle, inputdir, _ = verity_bundle
    if other_input == "different":
        make_input(tmp_path / "in2", sizes=(3_000_000, 70000, 1))
        inputdir = tmp_path / "in2"
    other = create_bundle(pki, inputdir, tmp_path / "other.raucb")
    assert_ok(verify(pki, other))
    lay = layout(bundle)
    bundle.write_bytes(bundle.read_bytes()[:lay.cms_start] + cms_and_trailer(other))
    assert_failure(verify(pki, bundle), bundle, "modified")


def test_verify_rejects_this_squashfs_with_the_tree_and_signature_of_another_bundle(
        pki, verity_bundle, tmp_path):
    """The other bundle's input differs from this one's in one image byte.
    (Not the same input: mksquashfs makes the same squashfs of it within
    the same second, and the spliced file would be the other, valid, bundle.)"""
    bundle, inputdir, contents = verity_bundle
    shutil.copytree(inputdir, tmp_path / "in2")
    flip_byte(tmp_path / "in2" / "img0.img", len(contents["img0.img"]) // 2)
    other = create_bundle(pki, tmp_path / "in2", tmp_path / "other.raucb")
    assert_ok(verify(pki, other))
    lay, olay = layout(bundle), layout(other)
    assert lay.data_size == olay.data_size
    data, odata = bundle.read_bytes(), other.read_bytes()
    assert data[:lay.data_size] != odata[:olay.data_size]
    bundle.write_bytes(data[:lay.data_size] + odata[olay.data_size:])
    assert_failure(verify(pki, bundle), bundle, "modified")


def test_verify_json_output_on_a_corrupted_verity_bundle_reports_the_error(pki, verity_bundle):
    bundle, _, _ = verity_bundle
    flip_byte(bundle, layout(bundle).data_size - 1)
    proc = verify(pki, bundle, "--output-format=json")
    line = assert_failure(proc, bundle, "modified")
    result = json.loads(proc.stdout)
    assert result["verified"] is False
    assert result["error"]["message"] and result["error"]["message"] in line


# --- info checks less than verify, like rauc info --------------------------------------


def test_info_with_keyring_accepts_a_flipped_squashfs_byte_that_verify_rejects(
        pki, verity_bundle):
    """Documented, rauc-like: info checks the CMS and the manifest of a
    verity bundle, not the payload blocks, and says so."""
    bundle, _, contents = verity_bundle
    flip_byte(bundle, image_offset(bundle, contents["img0.img"]) + 1000)
    info = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                    bundle)).stdout)
    assert info["verified"] is True
    assert "verify" in info["verification"]  # points at verify for the payload blocks
    assert_failure(verify(pki, bundle), bundle, "modified")


# --- extract ----------------------------------------------------------------------------


def test_extract_of_a_verity_bundle_gives_the_images_and_the_signed_manifest(
        pki, verity_bundle, parent):
    bundle, _, contents = verity_bundle
    out = parent / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    assert sorted(os.listdir(out)) == sorted(["manifest.raucm", *contents])
    for name, data in contents.items():
        assert (out / name).read_bytes() == data
    assert (out / "manifest.raucm").read_bytes() == signed_manifest(bundle)


@pytest.mark.parametrize("where", ["first-byte", "middle", "last-byte"])
def test_extract_of_a_verity_bundle_with_a_flipped_image_byte_writes_nothing(
        pki, verity_bundle, parent, where):
    bundle, _, contents = verity_bundle
    image = contents["img0.img"]
    offset = image_offset(bundle, image) + {"first-byte": 0, "middle": len(image) // 2,
                                            "last-byte": len(image) - 1}[where]
    flip_byte(bundle, offset)
    assert_failure(run("extract", "--keyring", pki.root, bundle, parent / "out"), bundle,
                   "modified")
    assert os.listdir(parent) == []


def test_extract_of_a_verity_bundle_with_a_flipped_tree_byte_writes_nothing_into_an_empty_outdir(
        pki, verity_bundle, parent):
    bundle, _, _ = verity_bundle
    lay = layout(bundle)
    flip_byte(bundle, lay.cms_start - 1)
    out = parent / "out"
    out.mkdir()
    assert_failure(run("extract", "--keyring", pki.root, bundle, out), bundle, "modified")
    assert os.listdir(out) == []
    assert os.listdir(parent) == ["out"]


# --- tiny input ------------------------------------------------------------------------


@pytest.fixture
def tiny_bundle(pki, tmp_path):
    """An image of a few bytes: the squashfs fits in one 4 KiB block."""
    contents = make_input(tmp_path / "tiny", sizes=(5,))
    bundle = create_bundle(pki, tmp_path / "tiny", tmp_path / "tiny.raucb")
    return bundle, contents


def test_create_pads_a_one_block_squashfs_of_a_tiny_input_to_two_blocks(pki, tiny_bundle,
                                                                        tmp_path):
    bundle, contents = tiny_bundle
    lay = layout(bundle)
    assert squashfs_bytes_used(bundle) <= BLOCK
    assert lay.data_size == 2 * BLOCK
    assert lay.tree_size == BLOCK
    assert bundle.read_bytes()[BLOCK:2 * BLOCK] == b"\0" * BLOCK
    assert_ok(verify(pki, bundle, "--check-images"))
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    assert (out / "img0.img").read_bytes() == contents["img0.img"]


@needs_veritysetup
def test_veritysetup_verify_accepts_the_tree_of_a_tiny_verity_bundle(tiny_bundle, tmp_path):
    bundle, _ = tiny_bundle
    lay, data, tree = cut_data_and_tree(bundle, tmp_path / "cut")
    run_tool("veritysetup", "verify", data, tree, lay.root_hash, "--no-superblock",
             f"--salt={lay.salt}")


@needs_rauc
def test_rauc_accepts_a_tiny_verity_bundle(pki, tiny_bundle):
    """rauc refuses verity data of a single block (`squashfs size (4096)
    must be larger than 4096 bytes`), hence the padding."""
    bundle, _ = tiny_bundle
    proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Bundle Format: \tverity" in proc.stdout


def test_verify_rejects_a_flipped_byte_in_the_padding_block_of_a_tiny_bundle(pki, tiny_bundle):
    bundle, _ = tiny_bundle
    flip_byte(bundle, 2 * BLOCK - 1, 0x01)
    assert_failure(verify(pki, bundle), bundle, "modified")


# --- bundles built by hand: mksquashfs + veritysetup + openssl cms ----------------------


def manifest_text(images):
    """@images: {filename: bytes}; slot class = filename without .img."""
    text = "[update]\ncompatible=otabundle-test\nversion=1.0.0\n\n[bundle]\nformat=verity\n"
    for name, data in images.items():
        text += (f"\n[image.{name.removesuffix('.img')}]\nfilename={name}\nsize={len(data)}\n"
                 f"sha256={hashlib.sha256(data).hexdigest()}\n")
    return text


def handmade_verity_bundle(pki, d, manifest, populate, leaf="ec256"):
    """A verity bundle built without otabundle: the squashfs of a directory
    that @populate(dir) fills (plus @manifest as manifest.raucm), padded to
    4 KiB, the tree from `veritysetup format`, and @manifest with the
    verity keys signed by `openssl cms -sign -nodetach -binary`."""
    d = Path(d)
    src = d / "squashfs-root"
    src.mkdir(parents=True)
    (src / "manifest.raucm").write_text(manifest)
    populate(src)
    img = d / "squashfs.img"
    run_tool("mksquashfs", src, img, "-quiet", "-all-root", "-noappend")
    with open(img, "ab") as f:
        f.write(b"\0" * (-img.stat().st_size % BLOCK))
    assert img.stat().st_size >= 2 * BLOCK, "rauc requires more than one block"
    salt = os.urandom(32).hex()
    tree = d / "tree"
    out = run_tool("veritysetup", "format", img, tree, "--no-superblock",
                   f"--salt={salt}").stdout
    root = re.search(r"^Root hash:\s+([0-9a-f]{64})$", out, re.M).group(1)
    signed = manifest.replace(
        "[bundle]\nformat=verity\n",
        f"[bundle]\nformat=verity\nverity-hash={root}\nverity-salt={salt}\n"
        f"verity-size={tree.stat().st_size}\n")
    (d / "signed.raucm").write_text(signed)
    s = pki.leaves[leaf]
    run_tool("openssl", "cms", "-sign", "-nodetach", "-binary", "-md", "sha256",
             "-in", d / "signed.raucm", "-signer", s.cert, "-inkey", s.key,
             "-certfile", pki.intermediate, "-outform", "DER", "-out", d / "cms.der")
    cms = (d / "cms.der").read_bytes()
    bundle = d / "handmade.raucb"
    bundle.write_bytes(img.read_bytes() + tree.read_bytes() + cms
                       + len(cms).to_bytes(8, "big"))
    return bundle, root


def write_images(images):
    def populate(src):
        for name, data in images.items():
            (src / name).write_bytes(data)
    return populate


@needs_veritysetup
def test_verify_and_extract_accept_a_verity_bundle_built_by_hand(pki, tmp_path):
    images = {"a.img": os.urandom(20000), "b.img": os.urandom(5)}
    bundle, root = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images),
                                          write_images(images))
    assert_ok(verify(pki, bundle, "--check-images"))
    info = info_json(bundle, pki.root)
    assert info["verity"]["root_hash"] == root
    assert {i["filename"]: i["sha256"] for i in info["manifest"]["images"]} == \
        {name: hashlib.sha256(data).hexdigest() for name, data in images.items()}
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    for name, data in images.items():
        assert (out / name).read_bytes() == data


@needs_veritysetup
def test_verify_rejects_a_verity_bundle_whose_squashfs_lacks_an_image_of_the_manifest(
        pki, tmp_path, parent):
    images = {"a.img": os.urandom(20000), "b.img": os.urandom(5000)}
    bundle, _ = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images),
                                       write_images({"a.img": images["a.img"]}))
    assert_failure(verify(pki, bundle), bundle, "b.img")
    assert_failure(run("extract", "--keyring", pki.root, bundle, parent / "out"), bundle,
                   "b.img")
    assert os.listdir(parent) == []


@needs_veritysetup
@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_verify_rejects_a_verity_bundle_whose_image_is_not_a_regular_file(
        pki, tmp_path, parent, kind):
    host = Path("/etc/hostname") if Path("/etc/hostname").is_file() else Path("/etc/passwd")
    images = {"a.img": os.urandom(20000), "b.img": host.read_bytes()}

    def populate(src):
        (src / "a.img").write_bytes(images["a.img"])
        if kind == "symlink":
            os.symlink(host, src / "b.img")
        else:
            (src / "b.img").mkdir()

    bundle, _ = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images), populate)
    assert_failure(verify(pki, bundle), bundle, "b.img")
    assert_failure(run("extract", "--keyring", pki.root, bundle, parent / "out"), bundle,
                   "b.img")
    assert os.listdir(parent) == []


@needs_veritysetup
def test_verify_rejects_a_verity_bundle_whose_image_size_differs_from_the_manifest(
        pki, tmp_path):
    images = {"a.img": os.urandom(20000)}
    bundle, _ = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images),
                                       write_images({"a.img": images["a.img"] + b"!"}))
    assert_failure(verify(pki, bundle), bundle, "a.img")


@needs_veritysetup
def test_verify_check_images_rejects_a_verity_bundle_whose_image_differs_from_its_sha256(
        pki, tmp_path, parent):
    images = {"a.img": os.urandom(20000)}
    bundle, _ = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images),
                                       write_images({"a.img": os.urandom(20000)}))
    assert_failure(verify(pki, bundle, "--check-images"), bundle, "a.img", "sha256")


def test_extract_writes_what_the_verity_tree_authenticates_without_hashing_images_again(
        pki, tmp_path, parent):
    # Every block extract reads is checked against the signed root hash, so
    # the images are not hashed a second time; `verify --check-images` (and
    # install) compare them with the manifest's sha256.
    signed = os.urandom(20000)
    bundle, _ = handmade_verity_bundle(pki, tmp_path / "hand",
                                       manifest_text({"a.img": os.urandom(20000)}),
                                       write_images({"a.img": signed}))
    assert_ok(run("extract", "--keyring", pki.root, bundle, parent / "out"))
    assert (parent / "out" / "a.img").read_bytes() == signed


@needs_veritysetup
@needs_rauc
def test_rauc_accepts_the_hand_built_verity_bundle_that_otabundle_accepts(pki, tmp_path):
    """The hand-built bundle is a fair reference: rauc reads it too."""
    images = {"a.img": os.urandom(20000)}
    bundle, root = handmade_verity_bundle(pki, tmp_path / "hand", manifest_text(images),
                                          write_images(images))
    proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"Verity Hash: \t'{root}'" in proc.stdout
    assert_ok(verify(pki, bundle, "--check-images"))


def sign_inline(pki, d, text, leaf="ec256"):
    """A CMS embedding @text, as rauc signs a verity manifest."""
    (d / "inline.raucm").write_text(text)
    s = pki.leaves[leaf]
    run_tool("openssl", "cms", "-sign", "-nodetach", "-binary", "-md", "sha256",
             "-in", d / "inline.raucm", "-signer", s.cert, "-inkey", s.key,
             "-certfile", pki.intermediate, "-outform", "DER", "-out", d / "inline.der")
    return (d / "inline.der").read_bytes()


@pytest.mark.parametrize("bundle_group", ["", "\n[bundle]\nformat=plain\n"],
                         ids=["no-bundle-group", "format-plain"])
def test_verify_rejects_an_embedded_manifest_that_does_not_declare_verity(
        pki, good_plain_bundle, tmp_path, bundle_group):
    """A correctly signed manifest embedded in the CMS, glued to a plain
    payload: nothing signs the payload, so it must not pass (rauc rejects
    it too)."""
    bundle, _, _ = good_plain_bundle
    size, cms_len = bundle_trailer(bundle)
    payload = bundle.read_bytes()[:size - 8 - cms_len]
    inner = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout
    cms = sign_inline(pki, tmp_path, inner + bundle_group)
    bundle.write_bytes(payload + cms + len(cms).to_bytes(8, "big"))
    assert_failure(verify(pki, bundle), bundle)
    assert_failure(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"), bundle)
    assert not (tmp_path / "out").exists()
    if shutil.which("rauc"):
        assert run_tool("rauc", "info", "--keyring", pki.root, bundle,
                        check=False).returncode != 0
