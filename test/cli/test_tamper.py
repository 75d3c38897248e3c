# SPDX-License-Identifier: LGPL-2.1-or-later
"""A tamper sweep over real bundles of both formats: every region of the
file gets a few flipped bytes, the file is cut at many lengths, garbage is
appended, and the CMS of another valid bundle is swapped in. Each variant
goes through `otabundle verify --keyring`, `otabundle extract` and
`otabundle-install install` on a fresh simulated A/B device, and each of
them must reject it: exit 1 (no crash: no signal, no exit code >= 128), one
stderr line naming the bundle, and nothing written (no OUTDIR, no staging
directory, no scratch file in TMPDIR, no slot or boot selection changed).

`info --keyring` is left out on purpose: for a verity bundle it checks the
CMS and the manifest but not the payload blocks (documented, like rauc
info), so it accepts a flipped payload byte that verify rejects.

The bundles are small (one 12 KiB image in 4 KiB squashfs blocks: three
data blocks, a fragment block holding the manifest uncompressed, gzip
compressed inode and directory tables) so the whole sweep is quick, and
the verity one still has a hash tree and padding to flip.

Regions, computed from the real bundle (squashfs superblock fields, the
CMS parsed as DER):

    superblock          the first 96 bytes of the squashfs
    image-data          the image's bytes (its three data blocks)
    squashfs-manifest   manifest.raucm in the squashfs' fragment block
    inode-table         squashfs inode table (compressed metadata)
    directory-table     squashfs directory table (compressed metadata)
    lookup-tables       fragment, export and id tables up to bytes_used
    squashfs-padding    zeros from bytes_used up to the 4 KiB boundary
    hash-tree           (verity) the dm-verity hash tree
    cms-manifest        (verity) the manifest the CMS encapsulates
    cms-certificates    the certificates embedded in the CMS
    cms-signed-attrs    the signer's signed attributes (content type,
                        signing time, message digest)
    cms-signature       the signer's signature value
    trailer             the 8-byte big-endian CMS length
"""
import os
import random
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import assert_failure, assert_ok, info_json, run, run_tool, sha256_file
from test_install import assert_refused, install_cmd, make_device, write_manifest

FORMATS = ["verity", "plain"]
BLOCK = 4096
IMAGE_SIZE = 3 * BLOCK
# Small blocks so that a 12 KiB image has real data blocks, and the
# fragment block (which holds the manifest) stored uncompressed so that
# the manifest can be found in it.
MKSQUASHFS_ARGS = "--mksquashfs-args=-b 4096 -noF"
COMMANDS = ["verify", "extract", "install"]


# --- the bundles and their regions --------------------------------------------------


def der(data, off):
    """(tag, content start, end) of the DER TLV at @off."""
    tag = data[off]
    n = data[off + 1]
    if n < 0x80:
        return tag, off + 2, off + 2 + n
    k = n & 0x7F
    length = int.from_bytes(data[off + 2:off + 2 + k], "big")
    return tag, off + 2 + k, off + 2 + k + length


def der_children(data, start, end):
    """[(tag, content start, end)] of the TLVs in data[start:end]."""
    out, off = [], start
    while off < end:
        tlv = der(data, off)
        out.append(tlv)
        off = tlv[2]
    assert off == end
    return out


def cms_regions(data, cms_start):
    """Regions of the CMS SignedData at @cms_start (absolute offsets)."""
    tag, c, end = der(data, cms_start)                        # ContentInfo
    assert tag == 0x30
    oid, explicit = der_children(data, c, end)
    assert explicit[0] == 0xA0
    (signed_data,) = der_children(data, explicit[1], explicit[2])
    fields = der_children(data, signed_data[1], signed_data[2])
    regions = {}
    encap = fields[2]                                         # EncapsulatedContentInfo
    encap_fields = der_children(data, encap[1], encap[2])
    if len(encap_fields) == 2:                                # eContent present
        (octets,) = der_children(data, encap_fields[1][1], encap_fields[1][2])
        regions["cms-manifest"] = (octets[1], octets[2])
    certs = next(f for f in fields[3:] if f[0] == 0xA0)
    regions["cms-certificates"] = (certs[1], certs[2])
    signer_infos = fields[-1]
    assert signer_infos[0] == 0x31
    signer = der_children(data, signer_infos[1], signer_infos[2])[0]
    parts = der_children(data, signer[1], signer[2])
    signed_attrs = next(p for p in parts if p[0] == 0xA0)
    regions["cms-signed-attrs"] = (signed_attrs[1], signed_attrs[2])
    signature = [p for p in parts if p[0] == 0x04][-1]        # OCTET STRING after the alg
    regions["cms-signature"] = (signature[1], signature[2])
    return regions


@dataclass
class Template:
    fmt: str
    path: Path
    image: bytes
    regions: dict          # name -> (start, end), absolute offsets in the file
    bytes_used: int        # of the squashfs
    data_size: int         # payload for plain; squashfs padded for verity
    tree_size: int
    cms_start: int
    cms_len: int
    size: int


def make_template(pki, d, fmt, image):
    d = Path(d)
    inputdir = d / "in"
    inputdir.mkdir(parents=True)
    (inputdir / "rootfs.img").write_bytes(image)
    write_manifest(inputdir, {"rootfs": "rootfs.img"})
    bundle = d / f"{fmt}.raucb"
    assert_ok(run("create", f"--format={fmt}", *pki.sign_args(), MKSQUASHFS_ARGS, inputdir,
                  bundle))
    data = bundle.read_bytes()
    size = len(data)
    cms_len = int.from_bytes(data[-8:], "big")
    cms_start = size - 8 - cms_len
    info = info_json(bundle)
    assert info["format"] == fmt
    tree_size = info["verity"]["tree_size"] if fmt == "verity" else 0
    data_size = cms_start - tree_size

    sb = struct.unpack("<IIIIIHHHHHHQQQQQQQQ", data[:96])
    assert sb[0] == 0x73717368 and sb[3] == BLOCK   # "hsqs", -b 4096
    bytes_used, id_table, inode_table, dir_table, frag_table = sb[12], sb[13], sb[15], \
        sb[16], sb[17]
    assert 96 < inode_table < dir_table < frag_table < id_table < bytes_used <= data_size
    image_at = data.find(image)
    assert 96 <= image_at and image_at + len(image) <= inode_table
    manifest = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout.encode()
    manifest_at = data.find(manifest, 96, inode_table)
    assert manifest_at > 0, "manifest not stored uncompressed in the fragment block"

    regions = {
        "superblock": (0, 96),
        "image-data": (image_at, image_at + len(image)),
        "squashfs-manifest": (manifest_at, manifest_at + len(manifest)),
        "inode-table": (inode_table, dir_table),
        "directory-table": (dir_table, frag_table),
        "lookup-tables": (frag_table, bytes_used),
        "squashfs-padding": (bytes_used, data_size),
        **cms_regions(data, cms_start),
        "trailer": (size - 8, size),
    }
    if fmt == "verity":
        regions["hash-tree"] = (data_size, cms_start)
        assert tree_size >= BLOCK
        assert data_size // BLOCK >= 4    # three image blocks and the metadata
        assert b"verity-hash=" in data[slice(*regions["cms-manifest"])]
    else:
        assert "cms-manifest" not in regions   # detached
    for name, (start, end) in regions.items():
        assert 0 <= start < end <= size, name
    return Template(fmt, bundle, image, regions, bytes_used, data_size, tree_size, cms_start,
                    cms_len, size)


@pytest.fixture(scope="module")
def templates(pki, tmp_path_factory):
    """{fmt: Template} of a good bundle, and {fmt: path} of another good
    bundle of the same signer with other content."""
    d = tmp_path_factory.mktemp("tamper")
    rng = random.Random(25860)
    good, other = {}, {}
    for fmt in FORMATS:
        good[fmt] = make_template(pki, d / fmt, fmt, rng.randbytes(IMAGE_SIZE))
        other[fmt] = make_template(pki, d / f"other-{fmt}", fmt, rng.randbytes(IMAGE_SIZE)).path
    return good, other


REGIONS = {
    "verity": ["superblock", "image-data", "squashfs-manifest", "inode-table",
               "directory-table", "lookup-tables", "squashfs-padding", "hash-tree",
               "cms-manifest", "cms-certificates", "cms-signed-attrs", "cms-signature",
               "trailer"],
    "plain": ["superblock", "image-data", "squashfs-manifest", "inode-table",
              "directory-table", "lookup-tables", "squashfs-padding", "cms-certificates",
              "cms-signed-attrs", "cms-signature", "trailer"],
}
POSITIONS = ["first", "middle", "last"]

TRUNCATIONS = {
    "verity": ["0", "1", "7", "8", "9", "4096", "mid-squashfs", "mid-tree", "mid-cms",
               "without-trailer", "size-1"],
    "plain": ["0", "1", "7", "8", "9", "4096", "mid-squashfs", "mid-cms", "without-trailer",
              "size-1"],
}

APPENDED = {"1-byte": 1, "4-KiB": 4096}


def truncated_length(t, where):
    return {
        "mid-squashfs": t.bytes_used // 2,
        "mid-tree": t.data_size + t.tree_size // 2,
        "mid-cms": t.cms_start + t.cms_len // 2,
        "without-trailer": t.size - 8,
        "size-1": t.size - 1,
    }.get(where) if not where.isdigit() else int(where)


# --- running the three consumers -----------------------------------------------------


@pytest.fixture
def scratch(tmp_path):
    """TMPDIR for the commands: it must be empty after each of them."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    return d


def assert_no_crash(proc, what):
    assert 0 <= proc.returncode < 128, (
        f"{what} crashed: exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")


def check_rejected_by(command, pki, tmp_path, scratch, bundle):
    """Runs @command on @bundle and asserts the clean rejection."""
    env = dict(os.environ, TMPDIR=str(scratch))
    digest = sha256_file(bundle)
    if command == "verify":
        proc = run("verify", "--keyring", pki.root, bundle, env=env)
        assert_no_crash(proc, "otabundle verify")
        assert_failure(proc, bundle)
    elif command == "extract":
        parent = tmp_path / "parent"
        parent.mkdir()
        proc = run("extract", "--keyring", pki.root, bundle, parent / "out", env=env)
        assert_no_crash(proc, "otabundle extract")
        assert_failure(proc, bundle)
        assert os.listdir(parent) == [], "extract left OUTDIR or a staging directory"
    else:
        dev = make_device(tmp_path, pki.root)
        before = dev.snapshot()
        proc = subprocess.run(install_cmd(dev.conf, "install", bundle), capture_output=True,
                              text=True, env=env)
        assert_no_crash(proc, "otabundle-install install")
        assert_refused(proc, path=bundle)
        assert dev.snapshot() == before, "a refused install changed a slot or the boot selection"
        status = dev.status()
        assert (status["primary"], status["pending"]) == ("A", None)
    assert os.listdir(scratch) == [], f"{command} left scratch files in TMPDIR"
    assert sha256_file(bundle) == digest, f"{command} changed the bundle"


def tampered(t, tmp_path, data):
    path = tmp_path / f"tampered-{t.fmt}.raucb"
    path.write_bytes(data)
    return path


# --- the sweep ------------------------------------------------------------------------


def test_untampered_bundles_pass_all_three_consumers(pki, templates, tmp_path):
    """The control: the sweep's rejections are due to the tampering."""
    good, other = templates
    for fmt in FORMATS:
        for which, bundle in (("good", good[fmt].path), ("other", other[fmt])):
            assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))
            out = tmp_path / f"out-{which}-{fmt}"
            assert_ok(run("extract", "--keyring", pki.root, bundle, out))
            assert (out / "rootfs.img").stat().st_size == IMAGE_SIZE
            dev = make_device(tmp_path, pki.root, name=f"device-{which}-{fmt}")
            assert_ok(subprocess.run(install_cmd(dev.conf, "install", bundle),
                                     capture_output=True, text=True))
            assert dev.primary() == "B"
        assert (tmp_path / f"out-good-{fmt}" / "rootfs.img").read_bytes() == good[fmt].image


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("fmt, region", [(f, r) for f in FORMATS for r in REGIONS[f]])
def test_a_flipped_byte_is_rejected_without_writing_anything(pki, templates, tmp_path, scratch,
                                                             fmt, region, position, command):
    t = templates[0][fmt]
    start, end = t.regions[region]
    offset = {"first": start, "middle": (start + end) // 2, "last": end - 1}[position]
    data = bytearray(t.path.read_bytes())
    data[offset] ^= 0xFF
    check_rejected_by(command, pki, tmp_path, scratch, tampered(t, tmp_path, bytes(data)))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fmt, where", [(f, w) for f in FORMATS for w in TRUNCATIONS[f]])
def test_a_truncated_bundle_is_rejected_without_writing_anything(pki, templates, tmp_path,
                                                                 scratch, fmt, where, command):
    t = templates[0][fmt]
    length = truncated_length(t, where)
    assert 0 <= length < t.size
    if where == "mid-squashfs":
        assert 96 < length < t.bytes_used
    elif where == "mid-tree":
        assert t.data_size < length < t.cms_start
    elif where == "mid-cms":
        assert t.cms_start < length < t.size - 8
    check_rejected_by(command, pki, tmp_path, scratch,
                      tampered(t, tmp_path, t.path.read_bytes()[:length]))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("amount", list(APPENDED))
@pytest.mark.parametrize("fmt", FORMATS)
def test_garbage_appended_to_a_bundle_is_rejected_without_writing_anything(
        pki, templates, tmp_path, scratch, fmt, amount, command):
    t = templates[0][fmt]
    garbage = random.Random(amount).randbytes(APPENDED[amount])
    check_rejected_by(command, pki, tmp_path, scratch,
                      tampered(t, tmp_path, t.path.read_bytes() + garbage))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_cms_of_another_bundle_of_the_same_signer_swapped_in_is_rejected(
        pki, templates, tmp_path, scratch, fmt, command):
    """The other bundle is valid and signed by the same key; its CMS and
    trailer replace this bundle's."""
    t, other = templates[0][fmt], templates[1][fmt]
    odata = other.read_bytes()
    ocms_len = int.from_bytes(odata[-8:], "big")
    data = t.path.read_bytes()[:t.cms_start] + odata[len(odata) - 8 - ocms_len:]
    assert data != t.path.read_bytes()
    check_rejected_by(command, pki, tmp_path, scratch, tampered(t, tmp_path, data))
