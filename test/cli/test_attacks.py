# SPDX-License-Identifier: LGPL-2.1-or-later
"""Known attacks on OTA update systems, one test each, named after the
attack: replay and rollback, cross-model bundles, expired bundles, foreign
signers, stripped signatures, path traversal and symlinks in the payload,
forged squashfs metadata under a valid signature, oversized lengths, a
bundle changed between verification and install (CVE-2020-25860), and
secrets leaking into logs.

Every refusal is a clean one: exit 1 (never a signal or an exit code of
128 or more), one stderr line, and nothing written: no OUTDIR or staging
directory for extract, no slot and no boot selection changed for install,
nothing outside the places a command owns touched.

Bundles the tools would refuse to make are built by hand as the other
tests do: mksquashfs + `openssl cms` (plain), plus veritysetup (verity).
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import test_pkcs11
from conftest import (assert_failure, assert_ok, make_input, run, run_tool, sha256_file,
                      tree_digest, validate_json_document, write_manifest)
from test_install import COMPATIBLE, assert_refused, make_bundle, make_device, signer_args
from test_pkcs11 import hsm  # noqa: F401  (the fixture: a fresh SoftHSM2 token)
from test_verity import handmade_verity_bundle

FORMATS = ["verity", "plain"]
BLOCK = 4096

needs_veritysetup = pytest.mark.skipif(shutil.which("veritysetup") is None,
                                       reason="veritysetup (cryptsetup-bin) not installed")


def fmt_params():
    """verity (needs veritysetup for hand-built bundles) and plain."""
    return [pytest.param("verity", marks=needs_veritysetup), "plain"]


# --- refusals ------------------------------------------------------------------------


def assert_no_crash(proc, what):
    assert 0 <= proc.returncode < 128, (
        f"{what} crashed: exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")


def verify_refuses(pki, bundle, *words, keyring=None):
    proc = run("verify", "--keyring", keyring or pki.root, bundle)
    assert_no_crash(proc, "otabundle verify")
    return assert_failure(proc, bundle, *words)


def info_refuses(pki, bundle, *words):
    proc = run("info", "--keyring", pki.root, bundle)
    assert_no_crash(proc, "otabundle info")
    return assert_failure(proc, bundle, *words)


def extract_refuses(pki, bundle, parent, *words, keyring=None):
    """extract into parent/out is refused, and leaves @parent empty."""
    parent.mkdir(exist_ok=True)
    assert os.listdir(parent) == []
    proc = run("extract", "--keyring", keyring or pki.root, bundle, parent / "out")
    assert_no_crash(proc, "otabundle extract")
    line = assert_failure(proc, bundle, *words)
    assert os.listdir(parent) == [], "a refused extract left OUTDIR or a staging directory"
    return line


def install_refuses(dev, bundle, *words, boot="A", command="install"):
    """otabundle-install @command is refused and changes no slot and no
    boot selection."""
    before = dev.snapshot()
    primary = dev.primary(boot=boot)
    proc = dev.run(command, bundle, boot=boot)
    assert_no_crash(proc, f"otabundle-install {command}")
    line = assert_refused(proc, *words, path=bundle)
    assert dev.snapshot() == before, f"a refused {command} changed a slot or the boot selection"
    status = dev.status(boot=boot)
    assert status["primary"] == primary
    return line


def refused_everywhere(pki, tmp_path, bundle, *words):
    """verify, info --keyring, extract, otabundle-install info and install
    (on a fresh device) all refuse @bundle."""
    verify_refuses(pki, bundle, *words)
    info_refuses(pki, bundle, *words)
    extract_refuses(pki, bundle, tmp_path / "parent", *words)
    dev = make_device(tmp_path, pki.root, name="refusing-device")
    install_refuses(dev, bundle, *words, command="info")
    install_refuses(dev, bundle, *words)
    assert dev.status()["pending"] is None


def outside(root, *exclude):
    """tree_digest of @root without the entries under @exclude (relative
    paths): what a command must leave alone."""
    return [e for e in tree_digest(root) if e[0] != "." and
            not any(e[0] == x or e[0].startswith(x + "/") for x in exclude)]


# --- hand-built bundles ---------------------------------------------------------------


def manifest_text(fmt, images, version="1.0.0"):
    """@images: {slotclass: (filename, bytes the size and sha256 describe)}."""
    text = f"[update]\ncompatible={COMPATIBLE}\nversion={version}\n"
    if fmt == "verity":
        text += "\n[bundle]\nformat=verity\n"
    for cls, (name, data) in images.items():
        text += (f"\n[image.{cls}]\nfilename={name}\nsize={len(data)}\n"
                 f"sha256={hashlib.sha256(data).hexdigest()}\n")
    return text


def mksquashfs(src, img):
    run_tool("mksquashfs", src, img, "-quiet", "-all-root", "-noappend", "-no-xattrs")


def sign_plain(pki, d, payload, leaf="ec256"):
    """A plain bundle of @payload (a squashfs image, padded here to 4 KiB as
    otabundle pads it) signed detached by `openssl cms`."""
    d = Path(d)
    payload += b"\0" * (-len(payload) % BLOCK)
    (d / "payload.img").write_bytes(payload)
    s = pki.leaves[leaf]
    cms = d / "payload.der"
    run_tool("openssl", "cms", "-sign", "-binary", "-nosmimecap", "-md", "sha256",
             "-outform", "DER", "-in", d / "payload.img", "-signer", s.cert, "-inkey", s.key,
             "-certfile", pki.intermediate, "-out", cms)
    bundle = d / "handmade.raucb"
    der = cms.read_bytes()
    bundle.write_bytes(payload + der + len(der).to_bytes(8, "big"))
    return bundle


def handmade(pki, d, fmt, manifest, populate):
    """A bundle of @fmt, signed by conftest's ec256 leaf, whose squashfs
    holds @manifest as manifest.raucm and whatever @populate(dir) puts
    there."""
    d = Path(d)
    if fmt == "verity":
        def populate_and_fill(src):
            # rauc wants more than one 4 KiB block of verity data; an
            # entry the manifest doesn't name makes sure there are two.
            populate(src)
            (src / "filler.bin").write_bytes(os.urandom(2 * BLOCK))
        return handmade_verity_bundle(pki, d, manifest, populate_and_fill)[0]
    src = d / "squashfs-root"
    src.mkdir(parents=True)
    (src / "manifest.raucm").write_text(manifest)
    populate(src)
    mksquashfs(src, d / "squashfs.img")
    return sign_plain(pki, d, (d / "squashfs.img").read_bytes())


def cms_start(bundle):
    data = Path(bundle).read_bytes()
    return len(data) - 8 - int.from_bytes(data[-8:], "big")


# --- replay and rollback -------------------------------------------------------------


def test_replay_of_an_older_signed_bundle_is_refused_after_mark_good(pki, tmp_path):
    """The attacker keeps a validly signed 1.0 (one the device even ran) and
    offers it again once 2.0 is committed."""
    dev = make_device(tmp_path, pki.root)
    old = make_bundle(pki, tmp_path, version="1.0")
    assert_ok(dev.install(old))
    assert_ok(dev.run("mark-good", boot="B"))
    new = make_bundle(pki, tmp_path, version="2.0")
    assert_ok(dev.install(new, boot="B"))
    assert_ok(dev.run("mark-good", boot="A"))
    assert dev.status()["installed_version"] == "2.0"
    # Still a perfectly valid bundle: only the device's history refuses it.
    assert_ok(run("verify", "--keyring", pki.root, old))
    install_refuses(dev, old, "downgrade", "1.0", "2.0")
    assert dev.status()["installed_version"] == "2.0"


def test_replay_of_a_same_version_bundle_below_the_security_floor_is_refused(pki, tmp_path):
    """A vulnerable build of 2.0 (security-version 3) replaced by a fixed
    build of the same version (security-version 4): the version check lets
    an equal version through, the floor must not, even with downgrades
    allowed."""
    dev = make_device(tmp_path, pki.root, system="allow-downgrade=true")
    vulnerable = make_bundle(pki, tmp_path, version="2.0", meta={"security-version": 3},
                             name="vulnerable")
    fixed = make_bundle(pki, tmp_path, version="2.0", meta={"security-version": 4},
                        name="fixed")
    assert_ok(dev.install(vulnerable))
    assert_ok(dev.run("mark-good", boot="B"))
    assert_ok(dev.install(fixed, boot="B"))
    assert_ok(dev.run("mark-good", boot="A"))
    status = dev.status()
    assert (status["installed_version"], status["security_floor"]) == ("2.0", 4)
    assert_ok(run("verify", "--keyring", pki.root, vulnerable))
    install_refuses(dev, vulnerable, "floor", "3", "4")
    assert dev.status()["security_floor"] == 4


# --- bundles for another device, out of date, or from another signer ------------------


def test_cross_model_bundle_for_another_compatible_is_refused_by_install(pki, tmp_path):
    dev = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, compatible="other-board")
    assert_ok(run("verify", "--keyring", pki.root, bundle))  # well signed, wrong device
    install_refuses(dev, bundle, "other-board", COMPATIBLE, command="info")
    install_refuses(dev, bundle, "other-board", COMPATIBLE)
    assert dev.status()["pending"] is None


def test_expired_bundle_is_refused_by_install(pki, tmp_path):
    """[meta.otabundle] expires in the past: an old, withdrawn update that
    an attacker holds back and serves later."""
    dev = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, meta={"expires": "2020-06-01T00:00:00Z"})
    install_refuses(dev, bundle, "expired", command="info")
    install_refuses(dev, bundle, "expired")
    assert dev.status()["pending"] is None


@pytest.mark.parametrize("embedded", ["leaf-only", "its-own-root-embedded"])
def test_bundle_from_a_signer_of_another_ca_is_refused_by_verify_and_install(
        pki, tmp_path, embedded):
    """A certificate from another CA, alone or with that CA's root embedded
    as if it were an intermediate: only the device's keyring is a trust
    anchor."""
    other = pki.leaves["other"]
    sign = signer_args(other, intermediate=pki.other_root if embedded != "leaf-only" else None)
    bundle = make_bundle(pki, tmp_path, sign=sign)
    # The bundle itself is sound: its own CA accepts it.
    assert_ok(run("verify", "--keyring", pki.other_root, bundle))
    verify_refuses(pki, bundle, "trusted")
    extract_refuses(pki, bundle, tmp_path / "parent", "trusted")
    dev = make_device(tmp_path, pki.root)
    install_refuses(dev, bundle, "trusted")


# --- the signature taken away ---------------------------------------------------------


STRIPPED = ["trailer-says-0", "trailer-says-0-cms-kept", "cms-zeroed",
            "truncated-to-the-squashfs", "truncated-to-the-payload"]


@pytest.mark.parametrize("how", STRIPPED)
@pytest.mark.parametrize("fmt", FORMATS)
def test_stripped_signature_is_refused_everywhere(pki, tmp_path, fmt, how):
    bundle = make_bundle(pki, tmp_path, fmt=fmt)
    data = bundle.read_bytes()
    start = cms_start(bundle)
    bytes_used = struct.unpack_from("<Q", data, 40)[0]
    stripped = {
        "trailer-says-0": data[:start] + bytes(8),
        "trailer-says-0-cms-kept": data[:-8] + bytes(8),
        "cms-zeroed": data[:start] + bytes(len(data) - 8 - start) + data[-8:],
        "truncated-to-the-squashfs": data[:bytes_used],
        "truncated-to-the-payload": data[:start],
    }[how]
    bundle.write_bytes(stripped)
    refused_everywhere(pki, tmp_path, bundle)


# --- path traversal and symlinks in the payload --------------------------------------


TRAVERSALS = ["../evil.img", "../../evil.img", "sub/evil.img", "ABSOLUTE"]


def traversal_name(name, tmp_path):
    return str(tmp_path / "outside" / "evil.img") if name == "ABSOLUTE" else name


@pytest.mark.parametrize("name", TRAVERSALS)
def test_create_refuses_an_image_filename_with_path_traversal(pki, tmp_path, name):
    """Even when the file the name points at exists outside INPUTDIR."""
    evil = os.urandom(5000)
    inputdir = tmp_path / "in"
    inputdir.mkdir()
    (inputdir / "sub").mkdir()
    (tmp_path / "outside").mkdir()
    for p in (tmp_path / "evil.img", tmp_path / "outside" / "evil.img",
              inputdir / "sub" / "evil.img"):
        p.write_bytes(evil)
    name = traversal_name(name, tmp_path)
    write_manifest(inputdir, {"rootfs": name})
    bundle = tmp_path / "out.raucb"
    before = outside(tmp_path)
    proc = run("create", *pki.sign_args(), inputdir, bundle)
    assert_no_crash(proc, "otabundle create")
    assert_failure(proc, inputdir / "manifest.raucm", name)
    assert not bundle.exists()
    assert outside(tmp_path) == before


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.parametrize("fmt", fmt_params())
def test_signed_bundle_with_path_traversal_in_an_image_filename_is_refused(
        pki, tmp_path, fmt, name):
    """Hand-built and validly signed: the manifest names a path that
    leaves OUTDIR (or the bundle root); the squashfs has a file at each
    place the name could be resolved to."""
    evil = os.urandom(5000)
    work = tmp_path / "work"
    (work / "outside").mkdir(parents=True)
    name = traversal_name(name, work)

    def populate(src):
        (src / "evil.img").write_bytes(evil)
        (src / "sub").mkdir()
        (src / "sub" / "evil.img").write_bytes(evil)

    bundle = handmade(pki, tmp_path / "hand", fmt, manifest_text(fmt, {"rootfs": (name, evil)}),
                      populate)
    before = outside(tmp_path, "hand", "work/parent", "device")
    verify_refuses(pki, bundle, name)
    extract_refuses(pki, bundle, work / "parent", name)
    dev = make_device(tmp_path, pki.root)
    install_refuses(dev, bundle, name)
    assert outside(tmp_path, "hand", "work/parent", "device") == before
    assert os.listdir(work / "outside") == []
    assert not (tmp_path / "evil.img").exists() and not (work / "evil.img").exists()


def snapshot_file(path):
    st = os.lstat(path)
    return sha256_file(path), st.st_mtime_ns, st.st_size


@pytest.mark.parametrize("fmt", fmt_params())
def test_image_that_is_a_symlink_to_etc_passwd_is_refused_and_nothing_outside_is_touched(
        pki, tmp_path, fmt):
    """The manifest names rootfs.img with the size and sha256 of
    /etc/passwd; in the squashfs rootfs.img is a symlink to /etc/passwd. A
    reader that follows it would extract or install the host's file (and
    find the hash right)."""
    passwd = Path("/etc/passwd")
    content = passwd.read_bytes()
    manifest = manifest_text(fmt, {"rootfs": ("rootfs.img", content)})
    bundle = handmade(pki, tmp_path / "hand", fmt, manifest,
                      lambda src: os.symlink(passwd, src / "rootfs.img"))
    before = snapshot_file(passwd), outside(tmp_path, "hand", "parent", "device")
    verify_refuses(pki, bundle, "rootfs.img", "regular file")
    extract_refuses(pki, bundle, tmp_path / "parent", "rootfs.img", "regular file")
    dev = make_device(tmp_path, pki.root)
    install_refuses(dev, bundle, "rootfs.img", "regular file")
    assert dev.slots["rootfs.1"].read_bytes() == b"old system in rootfs.1\n"
    assert (snapshot_file(passwd), outside(tmp_path, "hand", "parent", "device")) == before


@pytest.mark.parametrize("target", ["dotdot", "absolute-dir"])
@pytest.mark.parametrize("fmt", fmt_params())
def test_image_that_is_a_symlink_out_of_the_squashfs_is_refused(pki, tmp_path, fmt, target):
    """rootfs.img is a symlink that climbs out with ../ to a victim file
    (whose size and sha256 the manifest gives), or an absolute symlink to
    the directory holding it."""
    victim_dir = tmp_path / "outside"
    victim_dir.mkdir()
    victim = victim_dir / "victim"
    victim.write_bytes(os.urandom(3000))
    link = ("../" * 32 + str(victim).lstrip("/")) if target == "dotdot" else str(victim_dir)
    manifest = manifest_text(fmt, {"rootfs": ("rootfs.img", victim.read_bytes())})
    bundle = handmade(pki, tmp_path / "hand", fmt, manifest,
                      lambda src: os.symlink(link, src / "rootfs.img"))
    before = outside(tmp_path, "hand", "parent", "device")
    verify_refuses(pki, bundle, "rootfs.img", "regular file")
    extract_refuses(pki, bundle, tmp_path / "parent", "rootfs.img", "regular file")
    dev = make_device(tmp_path, pki.root)
    install_refuses(dev, bundle, "rootfs.img", "regular file")
    assert dev.slots["rootfs.1"].read_bytes() == b"old system in rootfs.1\n"
    assert outside(tmp_path, "hand", "parent", "device") == before


@pytest.mark.parametrize("fmt", fmt_params())
def test_symlinks_out_of_the_squashfs_that_the_manifest_does_not_name_are_never_extracted(
        pki, tmp_path, fmt):
    """Extra entries pointing outside (absolute, ../, a directory symlink
    with a file "behind" it in a later entry's name) are not images: they
    are not extracted, not followed, and nothing outside OUTDIR changes.
    (otabundle(1): "Other entries of the bundle are not extracted.")"""
    victim_dir = tmp_path / "outside"
    victim_dir.mkdir()
    (victim_dir / "victim").write_bytes(b"keep me\n")
    image = os.urandom(5000)

    def populate(src):
        (src / "rootfs.img").write_bytes(image)
        os.symlink("/etc/passwd", src / "abs-link")
        os.symlink("../" * 32 + str(victim_dir).lstrip("/"), src / "dotdot-link")
        os.symlink(str(victim_dir), src / "dir-link")
        os.symlink("../" * 32 + "tmp", src / "tmp-link")

    bundle = handmade(pki, tmp_path / "hand", fmt,
                      manifest_text(fmt, {"rootfs": ("rootfs.img", image)}), populate)
    before = outside(tmp_path, "hand", "parent", "device")
    etc_passwd = snapshot_file("/etc/passwd")
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))
    out = tmp_path / "parent" / "out"
    (tmp_path / "parent").mkdir()
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    assert sorted(os.listdir(out)) == ["manifest.raucm", "rootfs.img"]
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert (out / "rootfs.img").read_bytes() == image
    dev = make_device(tmp_path, pki.root)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image
    assert outside(tmp_path, "hand", "parent", "device") == before
    assert snapshot_file("/etc/passwd") == etc_passwd


# --- forged squashfs metadata under a valid signature -----------------------------------


# struct squashfs_super_block (squashfs 4.0), little endian.
SUPERBLOCK = struct.Struct("<IIIIIHHHHHHQQQQQQQQ")
FIELDS = ["magic", "inodes", "mkfs_time", "block_size", "fragments", "compression",
          "block_log", "flags", "no_ids", "s_major", "s_minor", "root_inode", "bytes_used",
          "id_table_start", "xattr_id_table_start", "inode_table_start",
          "directory_table_start", "fragment_table_start", "lookup_table_start"]
TABLES = ["id_table_start", "xattr_id_table_start", "inode_table_start",
          "directory_table_start", "fragment_table_start", "lookup_table_start"]


@pytest.fixture(scope="module")
def plain_squashfs(pki, tmp_path_factory):
    """(squashfs image bytes, image bytes) of a plain bundle's payload with
    one 20000-byte rootfs image, made by mksquashfs."""
    d = tmp_path_factory.mktemp("forged")
    image = os.urandom(20000)
    src = d / "src"
    src.mkdir()
    (src / "manifest.raucm").write_text(manifest_text("plain", {"rootfs": ("rootfs.img",
                                                                            image)}))
    (src / "rootfs.img").write_bytes(image)
    mksquashfs(src, d / "squashfs.img")
    return (d / "squashfs.img").read_bytes(), image


@pytest.mark.parametrize("field, value", [
    (f, v) for f in ["root_inode", "bytes_used", *TABLES, "every-table"]
    for v in ["bytes-used", "past-the-payload", "2^63"]
    if (f, v) != ("bytes_used", "bytes-used")])   # that one is no forgery
def test_validly_signed_squashfs_with_a_forged_superblock_is_refused_cleanly(
        pki, tmp_path, plain_squashfs, field, value):
    """The superblock is edited so that a table (or the root inode, or the
    image's end) lies past the end of the squashfs, and the payload is
    signed again: the signature is valid, the squashfs is not, and no
    reader may crash or read beyond it."""
    squashfs, image = plain_squashfs
    sb = dict(zip(FIELDS, SUPERBLOCK.unpack_from(squashfs)))
    payload_size = len(squashfs) + (-len(squashfs) % BLOCK)
    forged = {"bytes-used": sb["bytes_used"], "past-the-payload": payload_size + BLOCK,
              "2^63": 1 << 63}[value]
    if field == "root_inode":
        # An inode reference: metadata block start << 16 | offset in it.
        forged = (forged << 16) & (1 << 64) - 1 if value != "2^63" else forged
    for f in (TABLES if field == "every-table" else [field]):
        sb[f] = forged
    d = tmp_path / "hand"
    d.mkdir()
    bundle = sign_plain(pki, d, SUPERBLOCK.pack(*sb.values()) + squashfs[SUPERBLOCK.size:])
    refused_everywhere(pki, tmp_path, bundle, "squashfs")


def test_the_unforged_squashfs_of_the_forgery_test_is_accepted(pki, tmp_path, plain_squashfs):
    """The control of the test above: re-signing alone breaks nothing."""
    squashfs, image = plain_squashfs
    d = tmp_path / "hand"
    d.mkdir()
    bundle = sign_plain(pki, d, squashfs)
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))
    dev = make_device(tmp_path, pki.root)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


# --- oversized lengths ----------------------------------------------------------------


@pytest.mark.parametrize("length", ["2^64-1", "2^63", "2^32", "65537", "file-size+1",
                                    "file-size-7"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_oversized_cms_length_in_the_trailer_is_refused(pki, tmp_path, fmt, length):
    """The trailer's length is trusted by nobody: not to seek, not to
    allocate, not to read."""
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(5000)}, fmt=fmt)
    size = bundle.stat().st_size
    assert size < 65537
    value = {"2^64-1": (1 << 64) - 1, "2^63": 1 << 63, "2^32": 1 << 32, "65537": 65537,
             "file-size+1": size + 1, "file-size-7": size - 7}[length]
    bundle.write_bytes(bundle.read_bytes()[:-8] + value.to_bytes(8, "big"))
    refused_everywhere(pki, tmp_path, bundle, "signature size")


# --- a bundle changed after it was verified (CVE-2020-25860) ---------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_bundle_modified_between_verification_and_install_is_refused(pki, tmp_path, fmt):
    """`otabundle-install info` verifies the bundle, then a byte of the
    image changes on disk, then install runs: it must check again, not
    trust the earlier verdict. The modification *during* an install (the
    race of CVE-2020-25860) is covered in test_install.py with a 300 MiB
    bundle and a process stopped while it writes the slot:
    test_plain_bundle_changed_during_install_is_installed_from_the_private_copy
    (a plain install reads only its private copy, made while hashing) and
    test_verity_bundle_changed_during_install_is_refused_and_not_made_bootable
    (every verity block is checked as it is read)."""
    image = os.urandom(50000)
    dev = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt=fmt)
    assert_ok(dev.run("info", bundle))
    offset = bundle.read_bytes().find(image[20000:20100])
    assert 0 < offset < cms_start(bundle)
    with open(bundle, "r+b") as f:
        f.seek(offset)
        f.write(b"\0" * 100)
    install_refuses(dev, bundle, "modified")
    status = dev.status()
    assert status["pending"] is None
    assert dev.slot("rootfs.1")["version"] is None


# --- secrets in logs ------------------------------------------------------------------


@pytest.fixture
def token(hsm):  # noqa: F811
    """test_pkcs11's SoftHSM2 token ("release", its `hsm` fixture) and
    that module, for its names."""
    return test_pkcs11, hsm


def key_secrets(key_pem):
    """Text and byte forms of the private key in @key_pem that must never
    be shown: PEM body lines, DER, the private scalar in hex and raw."""
    pem = Path(key_pem).read_text()
    der = subprocess.run(["openssl", "pkey", "-in", str(key_pem), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    text = run_tool("openssl", "pkey", "-in", key_pem, "-noout", "-text").stdout
    hexcolons = "".join(text.split("priv:", 1)[1].split("pub:", 1)[0].split())
    scalar = bytes.fromhex(hexcolons.replace(":", ""))
    body = [line for line in pem.splitlines()
            if len(line) >= 16 and not line.startswith("-----")]
    assert len(scalar) == 32 and scalar in der   # P-256
    strings = body + [hexcolons, scalar.hex(), scalar.hex().upper()]
    return strings, [der, scalar]


@pytest.mark.skipif(not Path(test_pkcs11.SOFTHSM_MODULE).exists(),
                    reason="SoftHSM2 (softhsm2) not installed")
@pytest.mark.parametrize("outcome", ["signs", "wrong-pin"])
@pytest.mark.parametrize("source", ["env", "pin-source", "pin-value"])
@pytest.mark.parametrize("command", ["create", "sign"])
def test_pin_and_private_key_never_leak_into_output_or_the_audit_log(
        pki, token, tmp_path, command, source, outcome):
    """A PKCS#11 key signs with --verbose and --audit-log: the PIN (right
    or wrong, from any source) and the key (a copy of the one imported
    into the token) appear in no output, no audit line and no bundle, and
    the audit log's key_uri carries no pin-value."""
    mod, softhsm = token
    pin = mod.USER_PIN if outcome == "signs" else mod.WRONG_PIN
    key, env_pin = mod.EC_KEY, None
    if source == "env":
        env_pin = pin
    elif source == "pin-source":
        pin_file = tmp_path / "pin"
        pin_file.write_text(pin + "\n")
        pin_file.chmod(0o600)
        key = f"{mod.EC_KEY}?pin-source=file:{pin_file}"
    else:
        key = f"{mod.EC_KEY}?pin-value={pin}"
    env = softhsm.environ(OTABUNDLE_PKCS11_PIN=env_pin)
    log = tmp_path / "audit.log"
    out = tmp_path / "out.raucb"
    make_input(tmp_path / "in")
    signing = ["--pkcs11-module", mod.SOFTHSM_MODULE, "--cert", mod.EC_CERT, "--key", key,
               "--intermediate", pki.intermediate, "--audit-log", log, "--verbose"]
    if command == "create":
        args = ["create", *signing, tmp_path / "in", out]
    else:
        base = tmp_path / "base.raucb"
        assert_ok(run("create", *pki.sign_args(), tmp_path / "in", base))
        args = ["sign", *signing, base, out]
    proc = run(*args, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    assert_no_crash(proc, f"otabundle {command}")

    logged = log.read_bytes() if log.exists() else b""
    bundle = out.read_bytes() if out.exists() else b""
    strings, raw = key_secrets(softhsm.dir / "ec.key")
    for secret in (mod.USER_PIN, mod.WRONG_PIN, *strings):
        for name, text in (("stdout", proc.stdout), ("stderr", proc.stderr),
                           ("audit log", logged.decode(errors="replace"))):
            assert secret not in text, f"{secret!r} leaked into {name}:\n{text}"
    for secret in raw:
        for name, data in (("stdout", proc.stdout.encode()), ("stderr", proc.stderr.encode()),
                           ("audit log", logged), ("bundle", bundle)):
            assert secret not in data, f"private key bytes leaked into {name}"
    assert mod.USER_PIN.encode() not in bundle

    if outcome == "signs":
        assert_ok(proc)
        (line,) = [validate_json_document(json.loads(x)) for x in logged.decode().splitlines()]
        assert line["operation"] == command
        assert "pin-value" not in line["key_uri"]
        assert line["key_uri"].startswith(mod.EC_KEY)
        assert_ok(run("verify", "--keyring", pki.root, out))
    else:
        assert proc.returncode == 1
        assert "wrong PIN" in proc.stderr
        assert logged == b""
        assert not out.exists()
