# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle info: black-box tests."""
import hashlib
import json
import re
import subprocess

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, bundle_trailer, create_bundle,
                      flip_byte, make_input, run, run_tool, sha256_file, signed_manifest)


def cert_facts(cert):
    """What openssl says about @cert, in the forms otabundle prints."""
    fp = run_tool("openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256").stdout
    fingerprint = fp.strip().split("=", 1)[1].replace(":", "").lower()
    dates = run_tool("openssl", "x509", "-in", cert, "-noout", "-startdate", "-enddate",
                     "-dateopt", "iso_8601").stdout
    d = dict(line.split("=", 1) for line in dates.split("\n") if "=" in line)
    rfc3339 = {k: v.strip().replace(" ", "T") for k, v in d.items()}
    pub = run_tool("openssl", "x509", "-in", cert, "-noout", "-pubkey").stdout
    spki_der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                              input=pub.encode(), capture_output=True, check=True).stdout
    return {"certificate_sha256": fingerprint, "not_before": rfc3339["notBefore"],
            "not_after": rfc3339["notAfter"], "spki_sha256": hashlib.sha256(spki_der).hexdigest()}


def test_info_json_shows_format_compatible_version_and_images(pki, good_bundle_of_each_format):
    fmt, (bundle, inputdir, contents) = good_bundle_of_each_format
    info = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                    bundle)).stdout)
    assert info["format"] == fmt
    assert info["verified"] is True
    if fmt == "plain":
        assert info["verification"] == "ok"
        assert info.get("verity") is None
    else:
        # info checks signature and manifest of a verity bundle, not its blocks.
        assert info["verification"].startswith("ok")
    assert info["bundle"] == str(bundle)
    m = info["manifest"]
    assert m["compatible"] == "otabundle-test"
    assert m["version"] == "1.0.0"
    assert len(m["images"]) == len(contents)
    for image in m["images"]:
        assert image["slotclass"] == image["filename"].removesuffix(".img")
        assert image["size"] == len(contents[image["filename"]])
        assert image["sha256"] == sha256_file(inputdir / image["filename"])


def test_info_json_shows_the_signer_certificate(pki, good_bundle):
    bundle, _, _ = good_bundle
    info = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                    bundle)).stdout)
    assert info["trusted_signers"] == 1
    assert len(info["signers"]) == 1
    s = info["signers"][0]
    assert "CN=signer ec256" in s["subject"]
    assert "CN=otabundle test intermediate CA" in s["issuer"]
    facts = cert_facts(pki.ec256.cert)
    assert s["certificate_sha256"] == facts["certificate_sha256"]
    assert s["spki_sha256"] == facts["spki_sha256"]
    assert s["not_before"] == facts["not_before"]
    assert s["not_after"] == facts["not_after"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["not_before"])
    assert s["status"] == "counted"


def test_info_json_of_a_verity_bundle_shows_root_hash_salt_and_sizes_of_the_signed_manifest(
        pki, good_bundle):
    bundle, _, _ = good_bundle
    info = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                    bundle)).stdout)
    v = info["verity"]
    signed = dict(line.split("=", 1) for line in signed_manifest(bundle).decode().splitlines()
                  if "=" in line)
    assert signed["format"] == "verity"
    assert v["root_hash"] == signed["verity-hash"]
    assert v["salt"] == signed["verity-salt"]
    assert v["tree_size"] == int(signed["verity-size"])
    assert re.fullmatch(r"[0-9a-f]{64}", v["root_hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", v["salt"])
    assert v["data_size"] % 4096 == 0 and v["data_size"] >= 2 * 4096
    assert v["tree_size"] % 4096 == 0 and v["tree_size"] > 0
    assert info["payload_size"] == v["data_size"] + v["tree_size"]
    assert info["payload_size"] + info["signature_size"] + 8 == bundle.stat().st_size


def test_info_text_shows_format_compatible_version_images_and_signer(
        pki, good_bundle_of_each_format):
    fmt, (bundle, inputdir, contents) = good_bundle_of_each_format
    proc = assert_ok(run("info", "--keyring", pki.root, bundle))
    out = proc.stdout
    assert proc.stderr == ""
    assert re.search(rf"^Format:\s+{fmt}$", out, re.M)
    assert re.search(r"^Compatible:\s+otabundle-test$", out, re.M)
    assert re.search(r"^Version:\s+1\.0\.0$", out, re.M)
    if fmt == "plain":
        assert re.search(r"^Verified:\s+ok$", out, re.M)
        assert "Verity" not in out
    else:
        assert re.search(r"^Verified:\s+ok\b", out, re.M)
        v = json.loads(assert_ok(run("info", "--no-verify", "--output-format=json",
                                     bundle)).stdout)["verity"]
        assert re.search(rf"^Verity root:\s+{v['root_hash']}$", out, re.M)
        assert re.search(rf"^Verity salt:\s+{v['salt']}$", out, re.M)
        tree = re.search(r"^Verity tree:\s+(.*)$", out, re.M)
        assert tree and str(v["tree_size"]) in tree.group(1) \
            and str(v["data_size"]) in tree.group(1), out
    for name, data in contents.items():
        assert name in out
        assert sha256_file(inputdir / name) in out
        assert re.search(rf"size:\s+{len(data)}$", out, re.M)
    assert "CN=signer ec256" in out
    assert cert_facts(pki.ec256.cert)["certificate_sha256"] in out
    assert "counted" in out


def test_info_text_shows_meta_groups(pki, tmp_path):
    make_input(tmp_path / "in", extra="[meta.otabundle]\nsecurity-version=42\n")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    out = assert_ok(run("info", "--keyring", pki.root, bundle)).stdout
    assert "[meta.otabundle]" in out and "security-version=42" in out


def test_info_no_verify_works_without_keyring_and_says_verification_was_skipped(good_bundle):
    bundle, _, contents = good_bundle
    proc = assert_ok(run("info", "--no-verify", bundle))
    assert re.search(r"^Verified:\s+NO - not verified \(--no-verify\): nothing below is trusted$",
                     proc.stdout, re.M)
    info = json.loads(assert_ok(run("info", "--no-verify", "--output-format=json",
                                    bundle)).stdout)
    assert info["verified"] is False
    assert "skipped" in info["verification"]
    assert info["trusted_signers"] == 0
    assert {i["filename"] for i in info["manifest"]["images"]} == set(contents)
    assert [s["status"] for s in info["signers"]] == ["unchecked"]
    assert "CN=signer ec256" in info["signers"][0]["subject"]


def test_info_no_verify_ignores_a_keyring_that_would_reject(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(run("info", "--no-verify", "--keyring", pki.other_root, bundle))
    assert re.search(r"^Verified:\s+NO - not verified \(--no-verify\)", proc.stdout, re.M)


def test_info_without_keyring_says_verification_was_skipped(good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(run("info", "--output-format=json", bundle))
    info = json.loads(proc.stdout)
    assert info["verified"] is False
    assert "skipped" in info["verification"]


def test_info_without_keyring_says_in_its_summary_line_that_nothing_was_verified(good_bundle):
    bundle, _, _ = good_bundle
    out = assert_ok(run("info", bundle)).stdout
    verified = [line for line in out.splitlines() if line.startswith("Verified:")]
    assert verified == ["Verified:    NO - not verified (no --keyring): nothing below is trusted"]


def test_info_with_wrong_keyring_fails_and_prints_nothing(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = run("info", "--keyring", pki.other_root, bundle)
    assert_failure(proc, bundle, "trusted")
    assert proc.stdout == ""


def test_info_with_wrong_keyring_in_json_mode_fails(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = run("info", "--keyring", pki.other_root, "--output-format=json", bundle)
    assert_failure(proc, bundle, "trusted")


def test_info_rejects_a_plain_bundle_with_a_flipped_payload_byte(pki, good_plain_bundle):
    """The CMS of a plain bundle signs the whole payload, so info checks it."""
    bundle, _, _ = good_plain_bundle
    flip_byte(bundle, 4096)
    assert_failure(run("info", "--keyring", pki.root, bundle), bundle, "modified")


def embedded_manifest_offset(bundle, text=b"compatible=otabundle-test"):
    """Offset in the file of the last byte of @text inside the CMS (the
    verity bundle's signed manifest)."""
    data = bundle.read_bytes()
    start = len(data) - 8 - bundle_trailer(bundle)[1]
    i = data.index(text, start)
    return i + len(text) - 1


def test_info_rejects_a_verity_bundle_with_a_flipped_byte_in_the_embedded_manifest(
        pki, good_bundle):
    """Still a well-formed manifest (compatible=otabundle-tesu), but not
    the one that was signed."""
    bundle, _, _ = good_bundle
    flip_byte(bundle, embedded_manifest_offset(bundle), 0x01)
    proc = run("info", "--keyring", pki.root, bundle)
    assert_failure(proc, bundle, "modified")
    assert proc.stdout == ""


def test_info_rejects_a_file_that_is_not_a_bundle(tmp_path):
    bundle = tmp_path / "ten.raucb"
    bundle.write_bytes(b"0123456789")
    assert_failure(run("info", "--no-verify", bundle), bundle)


def test_info_rejects_a_nonexistent_file(tmp_path):
    bundle = tmp_path / "nope.raucb"
    assert_failure(run("info", "--no-verify", bundle), bundle, "no such file")


@pytest.mark.parametrize("args", [[], ["--output-format=yaml"], ["--check-purpose=nope",
                                                                  "--keyring", "x.pem"],
                                  ["--bogus"]],
                         ids=["no-bundle", "bad-format", "bad-purpose", "unknown-option"])
def test_info_with_wrong_usage_exits_2(good_bundle, args):
    bundle, _, _ = good_bundle
    assert_usage(run("info", *args, *([] if args == [] else [bundle])))
