# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle verify: black-box tests."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, bundle_trailer, create_bundle,
                      flip_byte, make_input, run, run_tool)


def verify(pki, bundle, *extra, keyring=None):
    return run("verify", "--keyring", keyring or pki.root, *extra, bundle)


def bundle_for(pki, tmp_path, leaf, *extra, intermediate=True):
    make_input(tmp_path / "in")
    return create_bundle(pki, tmp_path / "in", tmp_path / f"{leaf}.raucb", *extra, leaf=leaf,
                         intermediate=intermediate)


def rewrite_trailer(path, length):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:-8] + length.to_bytes(8, "big"))


# --- accepted ---------------------------------------------------------------------


def test_verify_accepts_a_good_bundle_and_says_ok(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(verify(pki, bundle))
    assert proc.stderr == ""
    assert "OK" in proc.stdout and str(bundle) in proc.stdout


def test_verify_json_output_reports_a_verified_bundle(pki, good_bundle_of_each_format):
    fmt, (bundle, _, contents) = good_bundle_of_each_format
    proc = assert_ok(verify(pki, bundle, "--output-format=json"))
    result = json.loads(proc.stdout)
    assert result["verified"] is True
    assert result["verification"] == "ok"
    assert result["format"] == fmt
    if fmt == "verity":
        v = result["verity"]
        assert result["payload_size"] == v["data_size"] + v["tree_size"]
    assert result["trusted_signers"] == 1
    assert result["bundle"] == str(bundle)
    assert result["size"] == bundle.stat().st_size
    assert result["payload_size"] % 4096 == 0
    assert result["payload_size"] + result["signature_size"] + 8 == result["size"]
    assert {i["filename"] for i in result["manifest"]["images"]} == set(contents)
    assert [s["status"] for s in result["signers"]] == ["counted"]


def test_verify_text_output_is_explicitly_selectable(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(verify(pki, bundle, "--output-format=text"))
    assert "OK" in proc.stdout


def test_verify_accepts_an_embedded_intermediate_with_only_the_root_in_the_keyring(
        pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "ec256")
    keyring = pki.root.read_text()
    assert keyring.count("BEGIN CERTIFICATE") == 1
    assert_ok(verify(pki, bundle))


def test_verify_rejects_a_bundle_without_its_intermediate_when_the_keyring_has_only_the_root(
        pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "ec256", intermediate=False)
    assert_failure(verify(pki, bundle), bundle, "trusted", "issuer")


def test_verify_accepts_a_bundle_without_intermediate_when_the_keyring_pins_it(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "ec256", intermediate=False)
    assert_ok(verify(pki, bundle, keyring=pki.intermediate))


def test_verify_check_images_hashes_every_image_of_a_good_bundle(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(verify(pki, bundle, "--check-images"))
    assert "hashed" in proc.stdout
    result = json.loads(assert_ok(verify(pki, bundle, "--check-images",
                                         "--output-format=json")).stdout)
    assert result["verified"] is True


@pytest.mark.parametrize("leaf", ["ec384", "rsa2048"])
def test_verify_accepts_p384_and_rsa2048_signers(pki, tmp_path, leaf):
    assert_ok(verify(pki, bundle_for(pki, tmp_path, leaf)))


# --- trust ------------------------------------------------------------------------


def test_verify_rejects_a_bundle_against_another_ca_keyring(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = verify(pki, bundle, keyring=pki.other_root)
    assert_failure(proc, bundle, "trusted")
    assert proc.stdout == ""


def test_verify_rejects_a_bundle_signed_by_another_ca(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "other", intermediate=False)
    assert_ok(verify(pki, bundle, keyring=pki.other_root))
    assert_failure(verify(pki, bundle), bundle, "trusted")


def test_verify_rejects_an_expired_signer_saying_expired(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "expired", "--no-check-time")
    assert_failure(verify(pki, bundle), bundle, "expired")


def test_verify_with_no_check_time_accepts_an_expired_signer(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "expired", "--no-check-time")
    assert_ok(verify(pki, bundle, "--no-check-time"))


def test_verify_check_purpose_codesign_accepts_a_codesigning_leaf(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "codesign")
    assert_ok(verify(pki, bundle, "--check-purpose", "codesign"))


def test_verify_check_purpose_codesign_rejects_a_leaf_without_eku(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "ec256")
    assert_failure(verify(pki, bundle, "--check-purpose", "codesign"), bundle, "codeSigning")


def test_verify_check_purpose_codesign_rejects_an_email_protection_leaf(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "email")
    assert_failure(verify(pki, bundle, "--check-purpose", "codesign"), bundle, "codeSigning")


def test_verify_check_purpose_smimesign_accepts_a_leaf_without_eku(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "ec256")
    assert_ok(verify(pki, bundle, "--check-purpose", "smimesign"))


def test_verify_check_purpose_smimesign_accepts_an_email_protection_leaf(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "email")
    assert_ok(verify(pki, bundle, "--check-purpose", "smimesign"))


def test_verify_check_purpose_smimesign_rejects_a_codesigning_only_leaf(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "codesign")
    assert_failure(verify(pki, bundle, "--check-purpose", "smimesign"), bundle, "purpose")


@pytest.mark.parametrize("leaf", ["codesign", "email", "ec256", "tls_client", "encryption"])
def test_verify_check_purpose_any_is_an_explicit_opt_out_accepting_any_eku(pki, tmp_path, leaf):
    bundle = bundle_for(pki, tmp_path, leaf)
    assert_ok(verify(pki, bundle, "--check-purpose", "any"))


@pytest.mark.parametrize("leaf", ["ec256", "email"])
def test_verify_default_purpose_is_smimesign_as_rauc_and_accepts_a_signing_leaf(pki, tmp_path,
                                                                                 leaf):
    assert_ok(verify(pki, bundle_for(pki, tmp_path, leaf)))


@pytest.mark.parametrize("leaf", ["tls_client", "encryption", "codesign"])
def test_verify_default_purpose_rejects_a_tls_encryption_or_codesign_only_leaf(pki, tmp_path,
                                                                               leaf):
    """A TLS client certificate or an encryption-only one issued by the
    keyring's CA must not sign updates: the default is RAUC's smimesign."""
    bundle = bundle_for(pki, tmp_path, leaf)
    assert_failure(verify(pki, bundle), bundle, "purpose")


@pytest.mark.parametrize("leaf", ["tls_client", "encryption"])
def test_verify_check_purpose_codesign_rejects_a_tls_or_encryption_leaf(pki, tmp_path, leaf):
    bundle = bundle_for(pki, tmp_path, leaf)
    assert_failure(verify(pki, bundle, "--check-purpose", "codesign"), bundle, "codeSigning")


def test_verify_check_purpose_codesign_rejects_a_codesign_leaf_whose_key_usage_is_encryption(
        pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "codesign_encrypt")
    assert_failure(verify(pki, bundle, "--check-purpose", "codesign"), bundle,
                   "digital signatures")


def test_verify_with_crl_rejects_a_revoked_signer_saying_revoked(pki, tmp_path):
    bundle = bundle_for(pki, tmp_path, "revoked")
    assert_ok(verify(pki, bundle))
    assert_ok(verify(pki, bundle, "--crl", pki.empty_crl))
    assert_failure(verify(pki, bundle, "--crl", pki.crl), bundle, "revoked")


def test_verify_with_crl_accepts_a_signer_that_is_not_revoked(pki, good_bundle):
    bundle, _, _ = good_bundle
    assert_ok(verify(pki, bundle, "--crl", pki.crl))


def test_verify_rejects_an_unreadable_crl_file_naming_it(pki, good_bundle):
    bundle, _, _ = good_bundle
    garbage = pki.dir / "garbage.pem"
    assert_failure(verify(pki, bundle, "--crl", garbage), garbage, "CRL")


def test_verify_rejects_a_keyring_that_is_not_pem_naming_it(pki, good_bundle):
    bundle, _, _ = good_bundle
    garbage = pki.dir / "garbage.pem"
    assert_failure(verify(pki, bundle, keyring=garbage), garbage)


def test_verify_rejects_a_missing_keyring_file_naming_it(pki, good_bundle, tmp_path):
    bundle, _, _ = good_bundle
    missing = tmp_path / "missing.pem"
    assert_failure(verify(pki, bundle, keyring=missing), missing)


def test_verify_counts_one_trusted_signer_of_two_and_reports_the_other(pki, tmp_path):
    make_input(tmp_path / "in")
    bundle = tmp_path / "two.raucb"
    assert_ok(run("create", *pki.sign_args("ec256"), "--cert", pki.other.cert, "--key",
                  pki.other.key, tmp_path / "in", bundle))
    result = json.loads(assert_ok(verify(pki, bundle, "--output-format=json")).stdout)
    assert result["trusted_signers"] == 1
    statuses = {s["subject"].split("CN=")[1].split(",")[0]: s for s in result["signers"]}
    assert statuses["signer ec256"]["status"] == "counted"
    assert statuses["signer other CA"]["status"] == "untrusted"
    assert statuses["signer other CA"]["reason"]


# --- tampering ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["superblock", "first-image", "middle", "last-payload-byte"])
def test_verify_rejects_a_flipped_byte_in_the_payload(pki, good_bundle, where):
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    payload = size - 8 - cms_len
    offset = {"superblock": 0, "first-image": 200, "middle": payload // 2,
              "last-payload-byte": payload - 1}[where]
    flip_byte(bundle, offset)
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_flipped_image_byte_saying_it_was_modified(pki, good_bundle):
    bundle, _, _ = good_bundle
    flip_byte(bundle, 4096)
    assert_failure(verify(pki, bundle), bundle, "modified")


@pytest.mark.parametrize("where", ["first", "quarter", "middle", "three-quarters", "last"])
def test_verify_rejects_a_flipped_byte_in_the_cms(pki, good_bundle, where):
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    start = size - 8 - cms_len
    offset = start + {"first": 0, "quarter": cms_len // 4, "middle": cms_len // 2,
                      "three-quarters": 3 * cms_len // 4, "last": cms_len - 1}[where]
    flip_byte(bundle, offset)
    assert_failure(verify(pki, bundle), bundle)


def cms_outer_digest_oid_offset(bundle):
    """Offset in the file of the last content byte of the first OID in
    SignedData.digestAlgorithms (the unsigned list of digest algorithms)."""
    size, cms_len = bundle_trailer(bundle)
    start = size - 8 - cms_len
    cms = bundle.read_bytes()[start:start + cms_len]
    sha256_oid = bytes.fromhex("0609608648016503040201")
    i = cms.index(sha256_oid)
    assert i < 40, "the first sha256 OID is expected in digestAlgorithms"
    return start + i + len(sha256_oid) - 1


def test_verify_rejects_a_cms_whose_digest_algorithms_no_longer_list_sha256(pki, good_bundle):
    """SignedData.digestAlgorithms changed from SHA-256 to another OID: the
    CMS no longer declares the digest its signer uses. rauc 1.8 rejects
    this bundle; so must otabundle (a verifier must not be more lenient
    than the devices, nor accept a bundle altered after signing)."""
    bundle, _, _ = good_bundle
    # sha256 (2.16.840.1.101.3.4.2.1) becomes 2.16.840.1.101.3.4.2.0.
    flip_byte(bundle, cms_outer_digest_oid_offset(bundle), 0x01)
    assert_failure(verify(pki, bundle), bundle)


@pytest.mark.parametrize("keep", ["0", "1", "7", "8", "9", "100", "4096", "payload",
                                  "payload+8", "size-9", "size-8", "size-1"])
def test_verify_rejects_a_truncated_bundle(pki, good_bundle, keep):
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    payload = size - 8 - cms_len
    n = {"payload": payload, "payload+8": payload + 8, "size-9": size - 9, "size-8": size - 8,
         "size-1": size - 1}.get(keep)
    n = int(keep) if n is None else n
    with open(bundle, "r+b") as f:
        f.truncate(n)
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_trailer_length_of_zero(pki, good_bundle):
    bundle, _, _ = good_bundle
    rewrite_trailer(bundle, 0)
    assert_failure(verify(pki, bundle), bundle, "signature size", "0")


def test_verify_rejects_a_trailer_length_larger_than_the_file(pki, good_bundle):
    bundle, _, _ = good_bundle
    # A 20 000-byte file whose trailer claims a 30 000-byte CMS: below the
    # 64 KiB cap, so only the file size can reject it.
    data = bundle.read_bytes()[:20000 - 8]
    bundle.write_bytes(data + (30000).to_bytes(8, "big"))
    assert_failure(verify(pki, bundle), bundle, "30000")


def test_verify_rejects_a_trailer_length_equal_to_the_file_minus_trailer(pki, good_bundle):
    bundle, _, _ = good_bundle
    size, _ = bundle_trailer(bundle)
    rewrite_trailer(bundle, size - 8)
    assert_failure(verify(pki, bundle), bundle, "signature size")


@pytest.mark.parametrize("length", [64 * 1024 + 1, 1 << 31, 1 << 32, (1 << 63) + 5,
                                    (1 << 64) - 1])
def test_verify_rejects_a_trailer_length_over_64_kib_saying_so(pki, good_bundle, length):
    bundle, _, _ = good_bundle
    assert bundle.stat().st_size > 64 * 1024 + 8
    rewrite_trailer(bundle, length)
    assert_failure(verify(pki, bundle), bundle, "exceeds", "65536")


def test_verify_rejects_a_trailer_length_one_too_small(pki, good_bundle):
    bundle, _, _ = good_bundle
    _, cms_len = bundle_trailer(bundle)
    rewrite_trailer(bundle, cms_len - 1)
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_trailer_length_one_too_large(pki, good_bundle):
    bundle, _, _ = good_bundle
    _, cms_len = bundle_trailer(bundle)
    rewrite_trailer(bundle, cms_len + 1)
    assert_failure(verify(pki, bundle), bundle)


def not_a_bundle(kind, path):
    """Writes a file of @kind that is no bundle to @path."""
    if kind == "squashfs":
        (path.parent / "content").mkdir()
        (path.parent / "content" / "a").write_text("a")
        run_tool("mksquashfs", path.parent / "content", path, "-quiet", "-noappend")
    else:
        path.write_bytes({"text": b"Release notes: nothing to see.\n" * 300,
                          "random-1MiB": os.urandom(1 << 20),
                          "elf": Path(shutil.which("true")).read_bytes(),
                          "empty": b""}[kind])


@pytest.mark.parametrize("kind", ["text", "random-1MiB", "elf", "squashfs", "empty"])
@pytest.mark.parametrize("command", ["info", "verify"])
def test_a_file_that_is_not_a_bundle_is_refused_as_such_without_a_size_read_from_it(
        pki, tmp_path, command, kind):
    path = tmp_path / kind
    not_a_bundle(kind, path)
    proc = run(command, "--keyring", pki.root, path)
    assert_failure(proc, path, "not a bundle (")
    # No "signature size 7597710787466307182": no number of 6 digits or more.
    assert not re.search(r"\d{6}", proc.stderr.replace(str(path), ""))


@pytest.mark.parametrize("garbage", [b"\x00", b"\x00" * 8, os.urandom(100), b"\x00" * 4096],
                         ids=["1-byte", "8-zero-bytes", "100-random", "4096-zero-bytes"])
def test_verify_rejects_appended_garbage(pki, good_bundle, garbage):
    bundle, _, _ = good_bundle
    with open(bundle, "ab") as f:
        f.write(garbage)
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_second_signature_block_appended(pki, good_bundle):
    """CMS and trailer appended again: the last trailer is valid, and the
    first copy now pretends to be payload."""
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    data = bundle.read_bytes()
    bundle.write_bytes(data + data[size - 8 - cms_len:])
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_bytes_inserted_between_cms_and_trailer(pki, good_bundle):
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    data = bundle.read_bytes()
    bundle.write_bytes(data[:-8] + b"\x00" * 16 + (cms_len + 16).to_bytes(8, "big"))
    assert_failure(verify(pki, bundle), bundle, "trailing")


def test_verify_rejects_a_page_of_zeros_inserted_after_the_payload(pki, good_bundle):
    """Still 4 KiB aligned and the CMS intact: only the digest catches it."""
    bundle, _, _ = good_bundle
    size, cms_len = bundle_trailer(bundle)
    data = bundle.read_bytes()
    payload = size - 8 - cms_len
    bundle.write_bytes(data[:payload] + b"\x00" * 4096 + data[payload:])
    assert_failure(verify(pki, bundle), bundle, "modified")


def test_verify_rejects_a_payload_from_another_bundle(pki, good_bundle, tmp_path):
    """Signature of one bundle glued to the payload of another."""
    bundle, _, _ = good_bundle
    make_input(tmp_path / "in2")
    other = create_bundle(pki, tmp_path / "in2", tmp_path / "other.raucb")
    size, cms_len = bundle_trailer(bundle)
    osize, ocms_len = bundle_trailer(other)
    data, odata = bundle.read_bytes(), other.read_bytes()
    bundle.write_bytes(odata[:osize - 8 - ocms_len] + data[size - 8 - cms_len:])
    assert_failure(verify(pki, bundle), bundle, "modified")


# --- not bundles --------------------------------------------------------------------


def test_verify_rejects_a_ten_byte_file(pki, tmp_path):
    bundle = tmp_path / "ten.raucb"
    bundle.write_bytes(b"0123456789")
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_an_empty_file(pki, tmp_path):
    bundle = tmp_path / "empty.raucb"
    bundle.write_bytes(b"")
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_file_of_random_bytes(pki, tmp_path):
    bundle = tmp_path / "random.raucb"
    bundle.write_bytes(os.urandom(3 * 4096 + 500))
    assert_failure(verify(pki, bundle), bundle)


def test_verify_rejects_a_nonexistent_file(pki, tmp_path):
    bundle = tmp_path / "nonexistent.raucb"
    assert_failure(verify(pki, bundle), bundle, "no such file")


def test_verify_rejects_a_directory(pki, tmp_path):
    assert_failure(verify(pki, tmp_path), tmp_path)


def test_verify_json_output_on_failure_reports_the_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    flip_byte(bundle, 4096)
    proc = verify(pki, bundle, "--output-format=json")
    line = assert_failure(proc, bundle)
    result = json.loads(proc.stdout)
    assert result["verified"] is False
    assert result["bundle"] == str(bundle)
    assert result["error"]["message"] and result["error"]["message"] in line


# --- usage -----------------------------------------------------------------------


def test_verify_without_keyring_is_a_usage_error(good_bundle):
    bundle, _, _ = good_bundle
    proc = run("verify", bundle)
    assert_usage(proc)
    assert "--keyring" in proc.stderr
    assert proc.stdout == ""


def test_verify_without_bundle_is_a_usage_error(pki):
    assert_usage(run("verify", "--keyring", pki.root))


def test_verify_with_two_bundles_is_a_usage_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    assert_usage(run("verify", "--keyring", pki.root, bundle, bundle))


def test_verify_with_unknown_check_purpose_is_a_usage_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    assert_usage(verify(pki, bundle, "--check-purpose", "timestamping"))


def test_verify_with_unknown_output_format_is_a_usage_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    assert_usage(verify(pki, bundle, "--output-format=xml"))


def test_verify_with_unknown_option_is_a_usage_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = verify(pki, bundle, "--bogus")
    assert_usage(proc)
    assert "--bogus" in proc.stderr
