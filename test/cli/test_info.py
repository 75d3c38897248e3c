# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle info: black-box tests."""
import hashlib
import json
import re
import subprocess

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, create_bundle, flip_byte,
                      make_input, run, run_tool, sha256_file)


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


def test_info_json_shows_format_compatible_version_and_images(pki, good_bundle):
    bundle, inputdir, contents = good_bundle
    info = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                    bundle)).stdout)
    assert info["format"] == "plain"
    assert info["verified"] is True
    assert info["verification"] == "ok"
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


def test_info_text_shows_format_compatible_version_images_and_signer(pki, good_bundle):
    bundle, inputdir, contents = good_bundle
    proc = assert_ok(run("info", "--keyring", pki.root, bundle))
    out = proc.stdout
    assert proc.stderr == ""
    assert re.search(r"^Format:\s+plain$", out, re.M)
    assert re.search(r"^Compatible:\s+otabundle-test$", out, re.M)
    assert re.search(r"^Version:\s+1\.0\.0$", out, re.M)
    assert re.search(r"^Verified:\s+ok$", out, re.M)
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
    assert re.search(r"^Verified:\s+skipped", proc.stdout, re.M)
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
    assert re.search(r"^Verified:\s+skipped", proc.stdout, re.M)


def test_info_without_keyring_says_verification_was_skipped(good_bundle):
    bundle, _, _ = good_bundle
    proc = assert_ok(run("info", "--output-format=json", bundle))
    info = json.loads(proc.stdout)
    assert info["verified"] is False
    assert "skipped" in info["verification"]


def test_info_with_wrong_keyring_fails_and_prints_nothing(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = run("info", "--keyring", pki.other_root, bundle)
    assert_failure(proc, bundle, "trusted")
    assert proc.stdout == ""


def test_info_with_wrong_keyring_in_json_mode_fails(pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = run("info", "--keyring", pki.other_root, "--output-format=json", bundle)
    assert_failure(proc, bundle, "trusted")


def test_info_rejects_a_tampered_bundle(pki, good_bundle):
    bundle, _, _ = good_bundle
    flip_byte(bundle, 4096)
    assert_failure(run("info", "--keyring", pki.root, bundle), bundle, "modified")


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
