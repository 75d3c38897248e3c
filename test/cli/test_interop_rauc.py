# SPDX-License-Identifier: LGPL-2.1-or-later
"""Interoperability with Debian's rauc 1.8, both ways.

rauc facts (see DESIGN.md): without a system.conf it checks the S/MIME
signing purpose (a leaf with no EKU passes, a codeSigning-only leaf fails);
`rauc info` needs no root; `rauc bundle` rewrites the manifest in its input
directory, so it gets a copy.

What `rauc info --keyring` checks differs by format. For plain it checks
the CMS over the whole squashfs, so a flipped payload byte is caught. For
verity it checks the CMS and the manifest it embeds (root hash, salt, tree
size) but not the payload blocks: those are only checked by dm-verity when
rauc mounts the bundle, which needs root. So the verity tree otabundle
writes is checked against `veritysetup` in test_verity.py instead.
"""
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (assert_failure, assert_ok, bundle_trailer, create_bundle, flip_byte,
                      info_json, make_input, run, run_tool, signed_manifest)

pytestmark = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


def rauc(*args, **kwargs):
    return run_tool("rauc", *args, check=False, **kwargs)


def rauc_info_json(bundle, keyring, conf=None):
    args = ["-c", conf] if conf else []
    proc = rauc(*args, "info", "--keyring", keyring, "--output-format=json", bundle)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def system_conf(tmp_path, keyring, check_purpose=None):
    conf = tmp_path / "system.conf"
    lines = ["[system]", "compatible=otabundle-test", "bootloader=noop", "", "[keyring]",
             f"path={keyring}"]
    if check_purpose:
        lines.append(f"check-purpose={check_purpose}")
    conf.write_text("\n".join(lines) + "\n")
    return conf


# --- otabundle -> rauc -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
@pytest.mark.parametrize("leaf", ["ec256", "ec384", "rsa2048"])
def test_rauc_accepts_a_bundle_made_by_otabundle(pki, tmp_path, leaf, fmt):
    make_input(tmp_path / "in", sizes=(70000, 1, 4096))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}",
                           leaf=leaf)
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode == 0, proc.stderr
    assert f"signer {leaf}" in proc.stderr + proc.stdout
    assert f"Bundle Format: \t{fmt}" in proc.stdout


def test_rauc_accepts_an_otabundle_verity_bundle_and_reads_its_root_hash_and_salt(
        pki, tmp_path):
    """Without root rauc info checks the CMS and the embedded manifest of a
    verity bundle (not the payload blocks: see the module docstring)."""
    make_input(tmp_path / "in", sizes=(70000, 1, 4096))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    v = info_json(bundle, pki.root)["verity"]
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode == 0, proc.stderr
    assert "Bundle Format: \tverity" in proc.stdout
    assert f"Verity Hash: \t'{v['root_hash']}'" in proc.stdout
    assert f"Verity Salt: \t'{v['salt']}'" in proc.stdout
    assert f"Verity Size: \t{v['tree_size']}" in proc.stdout


def test_rauc_reads_the_same_manifest_that_otabundle_wrote(pki, tmp_path):
    make_input(tmp_path / "in", sizes=(70000, 1, 4096),
               extra="[meta.otabundle]\nsecurity-version=3\n")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    assert_same_manifest(bundle, rauc_info_json(bundle, pki.root), info_json(bundle, pki.root))


def test_rauc_accepts_an_otabundle_bundle_compressed_with_xz(pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--mksquashfs-args",
                           "-comp xz")
    assert rauc("info", "--keyring", pki.root, bundle).returncode == 0


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_rauc_rejects_an_otabundle_bundle_with_the_other_ca_root(pki, tmp_path, fmt):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}")
    proc = rauc("info", "--keyring", pki.other_root, bundle)
    assert proc.returncode != 0
    assert "signature verification failed" in proc.stderr


def test_rauc_rejects_a_plain_otabundle_bundle_with_a_flipped_payload_byte(pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--format=plain")
    data = bytearray(bundle.read_bytes())
    data[4096] ^= 0xFF
    bundle.write_bytes(data)
    assert rauc("info", "--keyring", pki.root, bundle).returncode != 0


def test_rauc_rejects_a_verity_otabundle_bundle_with_a_flipped_byte_in_the_embedded_manifest(
        pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    size, cms_len = bundle_trailer(bundle)
    text = b"compatible=otabundle-test"
    offset = bundle.read_bytes().index(text, size - 8 - cms_len) + len(text) - 1
    flip_byte(bundle, offset, 0x01)  # compatible=otabundle-tesu
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode != 0
    assert "signature verification failed" in proc.stderr
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "modified")


def test_rauc_with_check_purpose_codesign_accepts_a_codesigning_leaf_bundle(pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", leaf="codesign")
    conf = system_conf(tmp_path, pki.root, "codesign")
    proc = rauc("-c", conf, "info", bundle)
    assert proc.returncode == 0, proc.stderr
    assert_ok(run("verify", "--keyring", pki.root, "--check-purpose", "codesign", bundle))


def test_rauc_without_system_conf_rejects_a_codesigning_only_leaf_as_smime_purpose(
        pki, tmp_path):
    """The DESIGN.md fact that the codesign interop test relies on; and
    otabundle's smimesign purpose agrees with rauc."""
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", leaf="codesign")
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode != 0
    assert "purpose" in proc.stderr
    assert_failure(run("verify", "--keyring", pki.root, "--check-purpose", "smimesign", bundle),
                   bundle, "purpose")


def test_rauc_with_check_purpose_codesign_rejects_a_leaf_without_eku_like_otabundle(
        pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    conf = system_conf(tmp_path, pki.root, "codesign")
    assert rauc("-c", conf, "info", bundle).returncode != 0
    assert_failure(run("verify", "--keyring", pki.root, "--check-purpose", "codesign", bundle),
                   bundle, "codeSigning")


# --- rauc -> otabundle -------------------------------------------------------------


def rauc_bundle(pki, tmp_path, leaf="ec256", sizes=(70000, 5000, 1), fmt=None):
    """A bundle made by `rauc bundle`; @fmt None leaves the format to rauc
    (plain), otherwise the input manifest says `[bundle] format=@fmt`."""
    src = tmp_path / "in"
    contents = make_input(src, sizes=sizes,
                          extra=f"[bundle]\nformat={fmt}\n" if fmt else "")
    work = tmp_path / "rauc-in"
    shutil.copytree(src, work)  # rauc rewrites the manifest in its input directory
    bundle = tmp_path / "rauc.raucb"
    s = pki.leaves[leaf]
    proc = rauc("bundle", "--cert", s.cert, "--key", s.key, "--intermediate", pki.intermediate,
                work, bundle)
    assert proc.returncode == 0, proc.stderr
    return bundle, contents


def assert_same_manifest(bundle, rauc_json, ota_json):
    m = ota_json["manifest"]
    assert m["compatible"] == rauc_json["compatible"]
    assert m["version"] == rauc_json["version"]
    assert m["description"] == rauc_json["description"]
    assert m["build"] == rauc_json["build"]
    rauc_images = [(slot, v["filename"], v["size"], v["checksum"])
                   for entry in rauc_json["images"] for slot, v in entry.items()]
    ota_images = [(i["slotclass"], i["filename"], i["size"], i["sha256"]) for i in m["images"]]
    assert sorted(ota_images) == sorted(rauc_images)
    assert len(ota_images) == len(rauc_images) > 0


@pytest.mark.parametrize("leaf", ["ec256", "rsa2048"])
def test_otabundle_verify_accepts_a_bundle_made_by_rauc(pki, tmp_path, leaf):
    bundle, _ = rauc_bundle(pki, tmp_path, leaf)
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))


def test_otabundle_info_shows_the_same_manifest_as_rauc_info(pki, tmp_path):
    bundle, contents = rauc_bundle(pki, tmp_path)
    ota = info_json(bundle, pki.root)
    assert ota["verified"] is True
    assert ota["format"] == "plain"
    assert_same_manifest(bundle, rauc_info_json(bundle, pki.root), ota)
    assert {i["filename"]: i["size"] for i in ota["manifest"]["images"]} == \
        {name: len(data) for name, data in contents.items()}


def test_otabundle_extract_of_a_rauc_bundle_gives_the_original_images(pki, tmp_path):
    bundle, contents = rauc_bundle(pki, tmp_path)
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    for name, data in contents.items():
        assert (out / name).read_bytes() == data


def test_otabundle_verify_rejects_a_rauc_bundle_with_the_other_ca_root(pki, tmp_path):
    bundle, _ = rauc_bundle(pki, tmp_path)
    assert_failure(run("verify", "--keyring", pki.other_root, bundle), bundle, "trusted")


def test_otabundle_verify_rejects_a_tampered_rauc_bundle(pki, tmp_path):
    bundle, _ = rauc_bundle(pki, tmp_path)
    data = bytearray(bundle.read_bytes())
    data[4096] ^= 0xFF
    bundle.write_bytes(data)
    assert rauc("info", "--keyring", pki.root, bundle).returncode != 0
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "modified")


# --- rauc verity -> otabundle ------------------------------------------------------


def rauc_signed_manifest(bundle):
    """The [bundle] group of the manifest rauc signed into its verity CMS."""
    text = signed_manifest(bundle).decode()
    group = text.split("[bundle]", 1)[1].split("\n[", 1)[0]
    return dict(line.split("=", 1) for line in group.splitlines() if "=" in line)


@pytest.mark.parametrize("leaf", ["ec256", "rsa2048"])
def test_otabundle_verify_check_images_accepts_a_verity_bundle_made_by_rauc(pki, tmp_path, leaf):
    bundle, _ = rauc_bundle(pki, tmp_path, leaf, fmt="verity")
    proc = assert_ok(run("verify", "--keyring", pki.root, "--check-images",
                         "--output-format=json", bundle))
    result = json.loads(proc.stdout)
    assert result["verified"] is True
    assert result["format"] == "verity"


def test_otabundle_info_of_a_rauc_verity_bundle_shows_rauc_manifest_and_root_hash(
        pki, tmp_path):
    bundle, contents = rauc_bundle(pki, tmp_path, fmt="verity")
    ota = info_json(bundle, pki.root)
    assert ota["verified"] is True
    assert ota["format"] == "verity"
    assert_same_manifest(bundle, rauc_info_json(bundle, pki.root), ota)
    assert {i["filename"]: i["size"] for i in ota["manifest"]["images"]} == \
        {name: len(data) for name, data in contents.items()}
    signed = rauc_signed_manifest(bundle)
    assert signed["format"] == "verity"
    assert ota["verity"]["root_hash"] == signed["verity-hash"]
    assert ota["verity"]["salt"] == signed["verity-salt"]
    assert ota["verity"]["tree_size"] == int(signed["verity-size"])
    assert ota["payload_size"] == ota["verity"]["data_size"] + ota["verity"]["tree_size"]


def test_otabundle_extract_of_a_rauc_verity_bundle_gives_the_original_images(pki, tmp_path):
    bundle, contents = rauc_bundle(pki, tmp_path, fmt="verity")
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, bundle, out))
    assert sorted(os.listdir(out)) == sorted(["manifest.raucm", *contents])
    for name, data in contents.items():
        assert (out / name).read_bytes() == data
    assert (out / "manifest.raucm").read_bytes() == signed_manifest(bundle)


@pytest.mark.parametrize("where", ["superblock", "first-image", "last-data-byte"])
def test_otabundle_verify_rejects_a_rauc_verity_bundle_with_a_flipped_squashfs_byte(
        pki, tmp_path, where):
    bundle, _ = rauc_bundle(pki, tmp_path, fmt="verity")
    data_size = info_json(bundle)["verity"]["data_size"]
    flip_byte(bundle, {"superblock": 0, "first-image": 4096,
                       "last-data-byte": data_size - 1}[where])
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "modified")


def test_otabundle_verify_rejects_a_rauc_verity_bundle_with_the_other_ca_root(pki, tmp_path):
    bundle, _ = rauc_bundle(pki, tmp_path, fmt="verity")
    assert_failure(run("verify", "--keyring", pki.other_root, bundle), bundle, "trusted")


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_otabundle_verify_is_never_more_lenient_than_rauc_on_a_flipped_cms_byte(pki, tmp_path,
                                                                                 fmt):
    """Flips each byte of the CMS in turn (low bit). Whatever rauc rejects,
    otabundle must reject too: a bundle a device refuses must not pass the
    host-side check. (For verity the CMS embeds the manifest, so this also
    covers every byte of the signed manifest.)"""
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}")
    size, cms_len = bundle_trailer(bundle)
    start = size - 8 - cms_len
    original = bundle.read_bytes()

    def check(offset):
        path = tmp_path / f"flip-{offset}.raucb"
        data = bytearray(original)
        data[offset] ^= 0x01
        path.write_bytes(data)
        try:
            ours = run("verify", "--keyring", pki.root, path)
            if ours.returncode == 0 and rauc("info", "--keyring", pki.root,
                                             path).returncode != 0:
                return offset - start
            return None
        finally:
            path.unlink()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        lenient = [o for o in pool.map(check, range(start, start + cms_len)) if o is not None]
    assert lenient == [], f"CMS offsets otabundle accepts but rauc rejects: {lenient}"


@pytest.mark.parametrize("compression", ["default", "gzip", "lz4", "none"])
def test_rauc_extracts_an_otabundle_verity_bundle_of_each_compression(pki, tmp_path,
                                                                      compression):
    contents = make_input(tmp_path / "in", sizes=(300000, 1))
    args = [] if compression == "default" else [f"--compression={compression}"]
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", *args)
    proc = rauc("extract", "--keyring", pki.root, bundle, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    for filename, data in contents.items():
        assert (tmp_path / "out" / filename).read_bytes() == data
