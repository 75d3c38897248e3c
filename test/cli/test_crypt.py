# SPDX-License-Identifier: LGPL-2.1-or-later
"""Crypt bundles whose CMS is a plain SignedData ("unencrypted crypt
bundles"): the squashfs encrypted as dm-crypt's aes-cbc-plain64 with
4 KiB sectors does it, the verity tree over the ciphertext, the key in the
signed manifest's `[bundle] crypt-key`.

The format is checked against implementations independent of otabundle:
Python's `cryptography` and `openssl enc` (AES-256-CBC per sector, the IV
the 512-byte sector number, little-endian, zero-padded), `veritysetup`
(the tree), `unsquashfs` (the plaintext) and Debian's rauc 1.8, both ways.
rauc 1.8 reads an unencrypted crypt bundle without any --key; its
`extract` leaves the whole decrypted payload in $TMPDIR, which otabundle
must never do: plaintext goes only to the extract output or the slot.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import (assert_failure, assert_ok, assert_usage, bundle_trailer, create_bundle,
                      flip_byte, info_json, make_input, run, run_tool, sha256_file,
                      signed_manifest)
from test_install import assert_refused, make_bundle, make_device

SECTOR = 4096
needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")
needs_veritysetup = pytest.mark.skipif(shutil.which("veritysetup") is None,
                                       reason="veritysetup (cryptsetup-bin) not installed")


# --- helpers --------------------------------------------------------------------------


def bundle_group(bundle):
    """The [bundle] group of the manifest the CMS signs, as a dict."""
    text = signed_manifest(bundle).decode()
    group = text.split("[bundle]\n", 1)[1].split("\n[", 1)[0]
    return dict(line.split("=", 1) for line in group.splitlines() if "=" in line)


def plain64_iv(sector):
    """dm-crypt's plain64 IV of 4 KiB sector @sector: its 512-byte sector
    number, little-endian, zero-padded to the AES block."""
    return (sector * (SECTOR // 512)).to_bytes(16, "little")


def decrypt_payload(ciphertext, key):
    out = bytearray()
    for n in range(len(ciphertext) // SECTOR):
        dec = Cipher(algorithms.AES(key), modes.CBC(plain64_iv(n))).decryptor()
        out += dec.update(ciphertext[n * SECTOR:(n + 1) * SECTOR]) + dec.finalize()
    return bytes(out)


def ciphertext_of(bundle):
    """(ciphertext of the squashfs, verity tree, [bundle] group)."""
    group = bundle_group(bundle)
    size, cms_len = bundle_trailer(bundle)
    payload = Path(bundle).read_bytes()[:size - 8 - cms_len]
    tree_size = int(group["verity-size"])
    return payload[:len(payload) - tree_size], payload[len(payload) - tree_size:], group


def resign_with_manifest(pki, bundle, manifest, out, tmp_path):
    """@bundle's payload under a new CMS (conftest's ec256 leaf) that embeds
    @manifest (bytes): a validly signed bundle whose manifest says what
    the test wants."""
    (tmp_path / "m.raucm").write_bytes(manifest)
    s = pki.leaves["ec256"]
    run_tool("openssl", "cms", "-sign", "-binary", "-nodetach", "-nosmimecap", "-md", "sha256",
             "-in", tmp_path / "m.raucm", "-signer", s.cert, "-inkey", s.key, "-certfile",
             pki.intermediate, "-outform", "DER", "-out", tmp_path / "m.der")
    size, cms_len = bundle_trailer(bundle)
    der = (tmp_path / "m.der").read_bytes()
    out.write_bytes(Path(bundle).read_bytes()[:size - 8 - cms_len] + der
                    + len(der).to_bytes(8, "big"))
    return out


def with_crypt_key(manifest, key_hex):
    lines = [f"crypt-key={key_hex}" if line.startswith("crypt-key=") else line
             for line in manifest.decode().split("\n")]
    return "\n".join(lines).encode()


def env_with_tmpdir(tmpdir):
    tmpdir.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmpdir)}


def assert_same_images(outdir, contents):
    for name, data in contents.items():
        assert (Path(outdir) / name).read_bytes() == data, name


@pytest.fixture(scope="module")
def crypt_template(pki, tmp_path_factory):
    """A crypt bundle of a few hundred sectors: (path, inputdir, contents)."""
    d = tmp_path_factory.mktemp("crypt")
    contents = make_input(d / "input", sizes=(1_500_000, 70000, 1))
    bundle = create_bundle(pki, d / "input", d / "crypt.raucb", "--format=crypt",
                           "--compression=none")
    return bundle, d / "input", contents


@pytest.fixture
def crypt_bundle(crypt_template, tmp_path):
    """A private copy of the crypt template: (path, inputdir, contents)."""
    src, inputdir, contents = crypt_template
    dst = tmp_path / "crypt.raucb"
    dst.write_bytes(src.read_bytes())
    return dst, inputdir, contents


# --- the format -----------------------------------------------------------------------


def test_signed_manifest_says_crypt_with_a_crypt_key_and_verity_parameters(crypt_bundle):
    bundle, _, _ = crypt_bundle
    group = bundle_group(bundle)
    assert group["format"] == "crypt"
    assert len(group["crypt-key"]) == 64 and int(group["crypt-key"], 16) >= 0
    assert {"verity-hash", "verity-salt", "verity-size"} <= set(group)


def test_payload_is_the_squashfs_encrypted_as_aes_cbc_plain64_in_4k_sectors(crypt_bundle,
                                                                            tmp_path):
    """Decrypted by Python's cryptography, sector by sector with the plain64
    IV, the payload is a squashfs that unsquashfs unpacks to the input."""
    bundle, _, contents = crypt_bundle
    ciphertext, _, group = ciphertext_of(bundle)
    assert len(ciphertext) % SECTOR == 0 and len(ciphertext) > 256 * SECTOR
    plaintext = decrypt_payload(ciphertext, bytes.fromhex(group["crypt-key"]))
    assert plaintext[:4] == b"hsqs" and ciphertext[:4] != b"hsqs"
    (tmp_path / "plain.sqfs").write_bytes(plaintext)
    run_tool("unsquashfs", "-no-xattrs", "-d", tmp_path / "unpacked", tmp_path / "plain.sqfs")
    assert_same_images(tmp_path / "unpacked", contents)
    # As RAUC's: the squashfs holds the manifest without the key.
    packed = (tmp_path / "unpacked" / "manifest.raucm").read_text()
    assert "format=crypt" in packed and "crypt-key" not in packed


@pytest.mark.parametrize("which", ["first", "second", "last"])
def test_each_sector_decrypts_with_openssl_enc_and_the_512_byte_sector_iv(crypt_bundle,
                                                                          tmp_path, which):
    bundle, _, _ = crypt_bundle
    ciphertext, _, group = ciphertext_of(bundle)
    n = {"first": 0, "second": 1, "last": len(ciphertext) // SECTOR - 1}[which]
    (tmp_path / "sector").write_bytes(ciphertext[n * SECTOR:(n + 1) * SECTOR])
    proc = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-nopad", "-K",
                           group["crypt-key"], "-iv", plain64_iv(n).hex(), "-in",
                           tmp_path / "sector"], capture_output=True, check=True)
    assert proc.stdout == decrypt_payload(ciphertext, bytes.fromhex(group["crypt-key"]))[
        n * SECTOR:(n + 1) * SECTOR]
    if which == "first":
        assert proc.stdout[:4] == b"hsqs"


@needs_veritysetup
def test_veritysetup_verifies_the_tree_over_the_ciphertext(crypt_bundle, tmp_path):
    bundle, _, _ = crypt_bundle
    ciphertext, tree, group = ciphertext_of(bundle)
    (tmp_path / "data").write_bytes(ciphertext)
    (tmp_path / "tree").write_bytes(tree)
    run_tool("veritysetup", "verify", tmp_path / "data", tmp_path / "tree", group["verity-hash"],
             "--no-superblock", f"--salt={group['verity-salt']}")


def test_every_crypt_bundle_gets_its_own_random_key(pki, crypt_bundle, tmp_path):
    bundle, inputdir, _ = crypt_bundle
    again = create_bundle(pki, inputdir, tmp_path / "again.raucb", "--format=crypt",
                          "--compression=none")
    assert bundle_group(again)["crypt-key"] != bundle_group(bundle)["crypt-key"]


def test_the_manifest_can_ask_for_the_crypt_format(pki, tmp_path):
    make_input(tmp_path / "in", extra="[bundle]\nformat=crypt\n")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    assert info_json(bundle, pki.root)["format"] == "crypt"


def test_a_tiny_payload_is_padded_before_it_is_encrypted(pki, tmp_path):
    """RAUC's verity wants two blocks at least; the padding block is
    encrypted too, so dm-crypt maps the whole data area."""
    contents = make_input(tmp_path / "in", sizes=(1,))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--format=crypt")
    ciphertext, _, group = ciphertext_of(bundle)
    assert len(ciphertext) == 2 * SECTOR
    assert ciphertext[SECTOR:] != bytes(SECTOR)
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"))
    assert_same_images(tmp_path / "out", contents)


# --- the key, and reproducible builds ----------------------------------------------------


def test_reproducible_crypt_bundle_without_a_key_choice_is_refused(pki, tmp_path, input_dir):
    """A random key would change the bundle each build; a derived one must
    be asked for."""
    out = tmp_path / "b.raucb"
    proc = run("create", "--format=crypt", *pki.sign_args(), input_dir, out,
               env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert_usage(proc)
    assert "--crypt-key-file" in proc.stderr and "--derive-crypt-key" in proc.stderr
    assert_usage(run("create", "--format=crypt", "--reproducible", *pki.sign_args(), input_dir,
                     out))
    assert not out.exists()


def test_reproducible_crypt_bundle_from_a_manifest_format_without_a_key_choice_is_refused(
        pki, tmp_path):
    make_input(tmp_path / "in", extra="[bundle]\nformat=crypt\n")
    out = tmp_path / "b.raucb"
    assert_failure(run("create", "--reproducible", *pki.sign_args(), tmp_path / "in", out),
                   tmp_path / "in" / "manifest.raucm", "--derive-crypt-key")
    assert not out.exists()


def test_rauc_defaults_keep_rauc_random_key_under_source_date_epoch(pki, tmp_path, input_dir):
    """What rauc bundle does; build systems set SOURCE_DATE_EPOCH always."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    keys = []
    for i in range(2):
        out = tmp_path / f"b{i}.raucb"
        assert_ok(run("create", "--rauc-defaults", "--format=crypt", *pki.sign_args(),
                      input_dir, out, env=env))
        keys.append(bundle_group(out)["crypt-key"])
    assert keys[0] != keys[1]


def test_derived_key_makes_a_reproducible_crypt_bundle(pki, tmp_path, input_dir):
    bundles = [create_bundle(pki, input_dir, tmp_path / f"b{i}.raucb", "--format=crypt",
                             "--reproducible", "--derive-crypt-key") for i in range(2)]
    first, second = (ciphertext_of(b) for b in bundles)
    assert first == second
    assert signed_manifest(bundles[0]) == signed_manifest(bundles[1])
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundles[0]))


def test_key_file_gives_the_payload_key_also_in_a_reproducible_build(pki, tmp_path,
                                                                     input_dir):
    key = os.urandom(32).hex()
    (tmp_path / "crypt.key").write_text(key + "\n")
    proc = run("create", "--format=crypt", "--crypt-key-file", tmp_path / "crypt.key",
               *pki.sign_args(), input_dir, tmp_path / "b.raucb",
               env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    assert_ok(proc)
    bundle = tmp_path / "b.raucb"
    ciphertext, _, group = ciphertext_of(bundle)
    assert group["crypt-key"] == key
    assert decrypt_payload(ciphertext, bytes.fromhex(key))[:4] == b"hsqs"


def test_a_malformed_key_file_is_refused_without_quoting_it(pki, tmp_path, input_dir):
    (tmp_path / "crypt.key").write_text("hunter2-not-a-key\n")
    out = tmp_path / "b.raucb"
    line = assert_failure(run("create", "--format=crypt", "--crypt-key-file",
                              tmp_path / "crypt.key", *pki.sign_args(), input_dir, out),
                          tmp_path / "crypt.key", "64 hex digits")
    assert "hunter2" not in line
    assert not out.exists()


@pytest.mark.parametrize("option", [["--derive-crypt-key"], ["--crypt-key-file", "k"]])
def test_a_crypt_key_option_for_a_verity_bundle_is_wrong_usage(pki, tmp_path, input_dir,
                                                               option):
    proc = run("create", "--format=verity", *option, *pki.sign_args(), input_dir,
               tmp_path / "b.raucb")
    assert_usage(proc)
    assert "crypt bundles" in proc.stderr


def test_both_crypt_key_options_are_wrong_usage(pki, tmp_path, input_dir):
    assert_usage(run("create", "--format=crypt", "--derive-crypt-key", "--crypt-key-file", "k",
                     *pki.sign_args(), input_dir, tmp_path / "b.raucb"))


# --- reading --------------------------------------------------------------------------


def test_info_shows_a_crypt_bundle_without_its_key(pki, crypt_bundle):
    bundle, _, _ = crypt_bundle
    key = bundle_group(bundle)["crypt-key"]
    info = info_json(bundle, pki.root)
    assert info["format"] == "crypt" and info["verified"] is True
    assert info["verity"]["root_hash"] == bundle_group(bundle)["verity-hash"]
    text = assert_ok(run("info", "--keyring", pki.root, bundle)).stdout
    assert "Format:      crypt" in text
    assert key not in json.dumps(info) and key not in text
    assert key not in assert_ok(run("info", "--no-verify", bundle)).stdout


def test_verify_checks_every_ciphertext_block_and_every_decrypted_image(pki, crypt_bundle):
    bundle, _, _ = crypt_bundle
    proc = assert_ok(run("verify", "--keyring", pki.root, "--check-images",
                         "--output-format=json", bundle))
    result = json.loads(proc.stdout)
    assert result["format"] == "crypt" and result["checked"] == "images"


def test_extract_writes_the_plaintext_images(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"))
    assert sorted(os.listdir(tmp_path / "out")) == sorted(["manifest.raucm", *contents])
    assert_same_images(tmp_path / "out", contents)
    assert (tmp_path / "out" / "manifest.raucm").read_bytes() == signed_manifest(bundle)


def test_extract_leaves_nothing_in_tmpdir(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    env = env_with_tmpdir(tmp_path / "tmp")
    parent = tmp_path / "parent"
    parent.mkdir()
    assert_ok(run("extract", "--keyring", pki.root, bundle, parent / "out", env=env))
    assert os.listdir(tmp_path / "tmp") == []
    assert os.listdir(parent) == ["out"]
    assert_same_images(parent / "out", contents)


def test_failed_extract_leaves_no_plaintext_anywhere(pki, crypt_bundle, tmp_path):
    """A ciphertext block in the middle of the first (stored) image
    flipped: extraction fails midway, after plaintext of that image was
    written to its staging directory, which goes with it."""
    bundle, _, _ = crypt_bundle
    ciphertext, _, _ = ciphertext_of(bundle)
    flip_byte(bundle, len(ciphertext) // 2)
    env = env_with_tmpdir(tmp_path / "tmp")
    parent = tmp_path / "parent"
    parent.mkdir()
    assert_failure(run("extract", "--keyring", pki.root, bundle, parent / "out", env=env),
                   bundle, "verity")
    assert os.listdir(tmp_path / "tmp") == []
    assert os.listdir(parent) == []


@pytest.mark.parametrize("where", ["superblock", "middle", "last-sector"])
def test_a_flipped_ciphertext_byte_is_caught_by_verity_before_decryption(pki, crypt_bundle,
                                                                         where):
    """The error is verity's: the block was refused before it was
    decrypted (a decrypted forged block would fail as a squashfs or with
    the crypt-key message instead)."""
    bundle, _, _ = crypt_bundle
    ciphertext, _, _ = ciphertext_of(bundle)
    offset = {"superblock": 0, "middle": len(ciphertext) // 2,
              "last-sector": len(ciphertext) - 1}[where]
    flip_byte(bundle, offset)
    line = assert_failure(run("verify", "--keyring", pki.root, "--check-images", bundle),
                          bundle, "verity hash tree", "modified")
    assert "crypt-key" not in line and "squashfs" not in line


def test_a_flipped_superblock_ciphertext_byte_fails_even_info(pki, crypt_bundle):
    bundle, _, _ = crypt_bundle
    flip_byte(bundle, 10)
    assert_failure(run("info", "--keyring", pki.root, bundle), bundle,
                   "verity hash tree", "modified")


@pytest.mark.parametrize("command", ["verify", "extract", "info"])
def test_a_crypt_key_that_does_not_decrypt_the_payload_is_one_clear_error(pki, crypt_bundle,
                                                                          tmp_path, command):
    """Signed, intact, and wrong: the manifest's key is another one."""
    bundle, _, _ = crypt_bundle
    wrong = resign_with_manifest(pki, bundle,
                                 with_crypt_key(signed_manifest(bundle), os.urandom(32).hex()),
                                 tmp_path / "wrong.raucb", tmp_path)
    parent = tmp_path / "parent"
    parent.mkdir()
    args = [parent / "out"] if command == "extract" else []
    assert_failure(run(command, "--keyring", pki.root, wrong, *args, env=env_with_tmpdir(
        tmp_path / "tmp")), wrong, "crypt-key does not decrypt the payload to a squashfs")
    assert os.listdir(parent) == [] and os.listdir(tmp_path / "tmp") == []


def test_a_malformed_crypt_key_in_a_signed_manifest_is_refused_without_quoting_it(
        pki, crypt_bundle, tmp_path):
    bundle, _, _ = crypt_bundle
    short = "ab" * 31
    bad = resign_with_manifest(pki, bundle, with_crypt_key(signed_manifest(bundle), short),
                               tmp_path / "bad.raucb", tmp_path)
    line = assert_failure(run("verify", "--keyring", pki.root, bad), bad, "crypt-key")
    assert short not in line


def test_a_crypt_manifest_without_a_crypt_key_is_refused(pki, crypt_bundle, tmp_path):
    bundle, _, _ = crypt_bundle
    manifest = b"\n".join(line for line in signed_manifest(bundle).split(b"\n")
                          if not line.startswith(b"crypt-key="))
    bad = resign_with_manifest(pki, bundle, manifest, tmp_path / "bad.raucb", tmp_path)
    assert_failure(run("verify", "--keyring", pki.root, bad), bad, "lacks its crypt-key")


# --- signing existing crypt bundles ---------------------------------------------------------


def assert_still_the_same_crypt_bundle(pki, original, result, contents, tmp_path):
    """@result keeps @original's ciphertext, tree and signed manifest, and
    reads back to the same images."""
    assert ciphertext_of(result) == ciphertext_of(original)
    assert signed_manifest(result) == signed_manifest(original)
    assert info_json(result, pki.root)["format"] == "crypt"
    out = tmp_path / f"out-{result.stem}"
    assert_ok(run("extract", "--keyring", pki.root, result, out))
    assert_same_images(out, contents)


def test_resign_keeps_the_crypt_payload_and_manifest(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    out = tmp_path / "resigned.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *pki.sign_args("rsa2048"), bundle, out))
    assert_still_the_same_crypt_bundle(pki, bundle, out, contents, tmp_path)


def test_sign_adds_a_signer_to_a_crypt_bundle(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    out = tmp_path / "signed.raucb"
    assert_ok(run("sign", "--keyring", pki.root, *pki.sign_args("rsa2048"), bundle, out))
    assert_still_the_same_crypt_bundle(pki, bundle, out, contents, tmp_path)
    assert len(info_json(out, pki.root)["signers"]) == 2


def test_detached_signature_merges_into_a_crypt_bundle(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    sig = tmp_path / "part.cms"
    assert_ok(run("sign", "--detached", sig, *pki.sign_args("rsa2048"), bundle))
    out = tmp_path / "merged.raucb"
    assert_ok(run("merge", bundle, out, sig))
    assert_still_the_same_crypt_bundle(pki, bundle, out, contents, tmp_path)


def test_replace_signature_of_a_crypt_bundle(pki, crypt_bundle, tmp_path):
    bundle, _, contents = crypt_bundle
    sig = tmp_path / "sig.cms"
    assert_ok(run("extract-signature", "--keyring", pki.root, bundle, sig))
    other = tmp_path / "other.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *pki.sign_args("rsa2048"), bundle, other))
    out = tmp_path / "replaced.raucb"
    assert_ok(run("replace-signature", "--keyring", pki.root, other, sig, out))
    assert_still_the_same_crypt_bundle(pki, bundle, out, contents, tmp_path)
    assert out.read_bytes() == bundle.read_bytes()


# --- installing -----------------------------------------------------------------------


def test_install_writes_the_plaintext_image_into_the_slot(pki, tmp_path):
    device = make_device(tmp_path, pki.root)
    image = os.urandom(300000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt="crypt")
    assert_ok(device.install(bundle))
    assert device.slots["rootfs.1"].read_bytes() == image


def test_install_refuses_a_crypt_bundle_whose_key_does_not_decrypt_and_writes_nothing(
        pki, tmp_path):
    device = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(300000)}, fmt="crypt")
    wrong = resign_with_manifest(pki, bundle,
                                 with_crypt_key(signed_manifest(bundle), os.urandom(32).hex()),
                                 tmp_path / "wrong.raucb", tmp_path)
    before = device.snapshot()
    assert_refused(device.install(wrong), "crypt-key does not decrypt", path=wrong)
    assert device.snapshot() == before


def test_install_refuses_crypt_when_bundle_formats_does_not_allow_it(pki, tmp_path):
    device = make_device(tmp_path, pki.root, system="bundle-formats=verity")
    bundle = make_bundle(pki, tmp_path, fmt="crypt")
    before = device.snapshot()
    assert_refused(device.install(bundle), "crypt", "bundle-formats")
    assert device.snapshot() == before


# --- interop with rauc 1.8 --------------------------------------------------------------


def rauc(*args, **kwargs):
    return run_tool("rauc", *args, check=False, **kwargs)


@pytest.fixture(scope="module")
def rauc_crypt_template(pki, tmp_path_factory):
    """A crypt bundle made by `rauc bundle`: (path, contents)."""
    d = tmp_path_factory.mktemp("rauc-crypt")
    contents = make_input(d / "in", sizes=(1_200_000, 5000, 1),
                          extra="[bundle]\nformat=crypt\n")
    shutil.copytree(d / "in", d / "work")  # rauc rewrites the manifest in its input
    s = pki.leaves["ec256"]
    proc = rauc("bundle", "--cert", s.cert, "--key", s.key, "--intermediate", pki.intermediate,
                d / "work", d / "rauc.raucb")
    assert proc.returncode == 0, proc.stderr
    return d / "rauc.raucb", contents


@needs_rauc
def test_otabundle_reads_verifies_and_extracts_a_crypt_bundle_made_by_rauc(
        pki, rauc_crypt_template, tmp_path):
    bundle, contents = rauc_crypt_template
    assert bundle_group(bundle)["format"] == "crypt"
    info = info_json(bundle, pki.root)
    assert info["format"] == "crypt"
    assert {i["filename"]: i["size"] for i in info["manifest"]["images"]} == \
        {name: len(data) for name, data in contents.items()}
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"))
    assert_same_images(tmp_path / "out", contents)


@needs_rauc
def test_rauc_crypt_bundle_decrypts_with_the_independent_implementation(rauc_crypt_template):
    """The plain64 IV fact, on rauc's own bundle."""
    bundle, _ = rauc_crypt_template
    ciphertext, _, group = ciphertext_of(bundle)
    assert decrypt_payload(ciphertext, bytes.fromhex(group["crypt-key"]))[:4] == b"hsqs"


@needs_rauc
def test_rauc_accepts_an_otabundle_crypt_bundle_without_any_key(pki, crypt_bundle):
    bundle, _, _ = crypt_bundle
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode == 0, proc.stderr
    assert "Bundle Format: \tcrypt" in proc.stdout
    assert f"Verity Hash: \t'{bundle_group(bundle)['verity-hash']}'" in proc.stdout


@needs_rauc
def test_rauc_extract_of_an_otabundle_crypt_bundle_gives_the_same_images(pki, crypt_bundle,
                                                                        tmp_path):
    bundle, _, contents = crypt_bundle
    env = env_with_tmpdir(tmp_path / "rauc-tmp")
    proc = rauc("extract", "--keyring", pki.root, bundle, tmp_path / "rauc-out", env=env)
    assert proc.returncode == 0, proc.stderr
    assert_same_images(tmp_path / "rauc-out", contents)
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "ota-out"))
    for name in contents:
        assert sha256_file(tmp_path / "rauc-out" / name) == \
            sha256_file(tmp_path / "ota-out" / name)
