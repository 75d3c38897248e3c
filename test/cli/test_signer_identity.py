# SPDX-License-Identifier: LGPL-2.1-or-later
"""One key is one signer, whatever its certificate's encoding.

The CA issues several certificates for ONE key, each encoding the
SubjectPublicKeyInfo differently: an EC P-256 point uncompressed,
compressed and hybrid (and with explicit curve parameters), an RSA-2048 key
with the rsaEncryption parameters NULL (normal) and absent. Their SPKI bytes
differ, but they are one key: a bundle signed with several of them has one
signer, which must not meet `--threshold 2` (verify), a two-key signing
tier (otabundle-install), nor be added again by `sign` or `merge`.

Bundles with several SignerInfos of one key can't be made with otabundle
(it refuses them), so their CMS is made with `openssl cms -sign` over what
the bundle signs (a verity bundle's manifest, embedded; a plain bundle's
payload, detached) and spliced into the bundle in place of its own.

The small DER and CMS helpers here are used by test_signer_checks.py too."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import (Signer, assert_failure, assert_ok, bundle_trailer, make_input, run,
                      run_tool, sha256_file, signed_manifest)
from test_install import assert_refused, make_bundle, make_device, signer_args

FORMATS = ["verity", "plain"]
EC_ENCODINGS = ["uncompressed", "compressed", "hybrid"]


# --- DER ----------------------------------------------------------------------------


def der_tlv(data, off=0):
    """(tag, content start, end) of the DER element at @off (definite lengths)."""
    tag, n = data[off], data[off + 1]
    start = off + 2
    if n & 0x80:
        start += n & 0x7F
        n = int.from_bytes(data[off + 2:start], "big")
    return tag, start, start + n


def der_content(element):
    _, start, end = der_tlv(element)
    return element[start:end]


def der_children(element):
    """The elements (whole TLVs) inside the constructed DER @element."""
    body, out, off = der_content(element), [], 0
    while off < len(body):
        end = der_tlv(body, off)[2]
        out.append(body[off:end])
        off = end
    return out


def der(tag, body):
    """The DER element @tag with content @body."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def cert_der(pem):
    return subprocess.run(["openssl", "x509", "-in", str(pem), "-outform", "DER"],
                          capture_output=True, check=True).stdout


def spki(cert_pem):
    """The SubjectPublicKeyInfo (DER) of the certificate @cert_pem."""
    return der_children(der_children(cert_der(cert_pem))[0])[6]


# --- certificates ---------------------------------------------------------------------


def issue(pki, csr, out, serial, cn, *, pubkey=None, md="sha256", ca=None, ca_key=None,
          ext="v3_leaf"):
    """A certificate for @csr's key (or the public key file @pubkey, as it is
    encoded there) issued by the intermediate CA (or @ca)."""
    force = ["-force_pubkey", pubkey] if pubkey else []
    run_tool("openssl", "x509", "-req", "-in", csr, "-CA", ca or pki.intermediate,
             "-CAkey", ca_key or pki.intermediate_key, *force, "-set_serial", serial,
             "-subj", f"/O=otabundle tests/CN={cn}", "-extfile", pki.dir / "openssl.cnf",
             "-extensions", ext, "-days", "3650", f"-{md}", "-out", out)
    return Path(out)


def new_key_and_csr(pki, d, name, *genpkey):
    key, csr = d / f"{name}.key", d / f"{name}.csr"
    run_tool("openssl", "genpkey", *genpkey, "-out", key)
    run_tool("openssl", "req", "-config", pki.dir / "openssl.cnf", "-new", "-key", key,
             "-out", csr, "-subj", f"/CN={name}")
    return key, csr


RSA_NULL_PARAMS = bytes.fromhex("300d06092a864886f70d0101010500")
RSA_ABSENT_PARAMS = bytes.fromhex("300b06092a864886f70d010101")


def without_rsa_null_parameters(pki, cert_pem, out):
    """@cert_pem again with its SPKI's rsaEncryption parameters absent instead
    of NULL, re-signed by the intermediate CA."""
    tbs, sig_alg, _ = der_children(cert_der(cert_pem))
    fields = der_children(tbs)
    alg, key = der_children(fields[6])
    assert alg == RSA_NULL_PARAMS
    fields[6] = der(0x30, RSA_ABSENT_PARAMS + key)
    tbs = der(0x30, b"".join(fields))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(pki.intermediate_key)],
                         input=tbs, capture_output=True, check=True).stdout
    der_path = Path(out).with_suffix(".der")
    der_path.write_bytes(der(0x30, tbs + sig_alg + der(0x03, b"\0" + sig)))
    run_tool("openssl", "x509", "-inform", "DER", "-in", der_path, "-out", out)
    text = run_tool("openssl", "x509", "-in", out, "-noout", "-text").stdout
    assert "rsaEncryption" in text and "Public-Key: (2048 bit)" in text
    assert spki(out).startswith(bytes.fromhex("30820120") + RSA_ABSENT_PARAMS)
    return Path(out)


@pytest.fixture(scope="module")
def one_ec_key(pki, tmp_path_factory):
    """{encoding: Signer}: certificates of ONE P-256 key, its point
    uncompressed, compressed and hybrid, and with explicit curve parameters."""
    d = tmp_path_factory.mktemp("one-ec-key")
    key, csr = new_key_and_csr(pki, d, "one-ec-key", "-algorithm", "EC", "-pkeyopt",
                               "ec_paramgen_curve:P-256")
    certs = {}
    for serial, enc in enumerate(EC_ENCODINGS + ["explicit"], start=7001):
        pub = d / f"{enc}.pub.pem"
        form = ["-param_enc", "explicit"] if enc == "explicit" else ["-conv_form", enc]
        run_tool("openssl", "ec", "-in", key, "-pubout", *form, "-out", pub)
        cert = issue(pki, csr, d / f"{enc}.pem", serial, f"one ec key {enc}", pubkey=pub)
        certs[enc] = Signer(cert, key)
    assert len({spki(s.cert) for s in certs.values()}) == 4  # four encodings of one key
    return certs


@pytest.fixture(scope="module")
def one_rsa_key(pki, tmp_path_factory):
    """{"null": Signer, "absent": Signer}: certificates of ONE RSA-2048 key
    with the rsaEncryption parameters NULL and absent."""
    d = tmp_path_factory.mktemp("one-rsa-key")
    key, csr = new_key_and_csr(pki, d, "one-rsa-key", "-algorithm", "RSA", "-pkeyopt",
                               "rsa_keygen_bits:2048")
    null = issue(pki, csr, d / "null.pem", 7101, "one rsa key null")
    # Its own serial and subject (as a CA would issue it), then re-encoded.
    tmp = issue(pki, csr, d / "absent-tmp.pem", 7102, "one rsa key absent")
    absent = without_rsa_null_parameters(pki, tmp, d / "absent.pem")
    return {"null": Signer(null, key), "absent": Signer(absent, key)}


# --- CMS --------------------------------------------------------------------------------


def bundle_payload(bundle):
    size, cms_len = bundle_trailer(bundle)
    return Path(bundle).read_bytes()[:size - 8 - cms_len]


def cms_sign(pki, content, signers, *, detached=False, extra=()):
    """DER CMS SignedData by `openssl cms -sign` over @content with one
    SignerInfo per Signer in @signers, the intermediate CA's certificate
    included."""
    args = ["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-nosmimecap",
            "-outform", "DER"]
    if not detached:
        args.append("-nodetach")
    for s in signers:
        args += ["-signer", str(s.cert), "-inkey", str(s.key)]
    args += ["-certfile", str(pki.intermediate), *extra]
    proc = subprocess.run(args, input=content, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def resign_bundle(pki, bundle, out, signers, *, extra=(), edit=None):
    """@bundle's payload with a CMS made by openssl for @signers over what
    @bundle signs (verity: its manifest; plain: its payload), optionally
    passed through @edit(cms) first, and the trailer, written to @out."""
    payload = bundle_payload(bundle)
    plain = json.loads(assert_ok(run("info", "--no-verify", "--output-format=json",
                                     bundle)).stdout)["format"] == "plain"
    content = payload if plain else signed_manifest(bundle)
    cms = cms_sign(pki, content, signers, detached=plain, extra=extra)
    if edit is not None:
        cms = edit(cms)
    Path(out).write_bytes(payload + cms + len(cms).to_bytes(8, "big"))
    return Path(out)


@pytest.fixture(scope="module", params=FORMATS)
def base_bundle(request, pki, tmp_path_factory):
    """A bundle of each format to take the payload (and what it signs) from."""
    d = tmp_path_factory.mktemp(f"base-{request.param}")
    make_input(d / "in")
    bundle = d / "base.raucb"
    assert_ok(run("create", f"--format={request.param}", *pki.sign_args(), d / "in", bundle))
    return bundle


# --- verify: one key in several encodings counts once ------------------------------


def verify_json(pki, bundle, *extra):
    proc = run("verify", "--keyring", pki.root, "--output-format=json", *extra, bundle)
    return proc, json.loads(proc.stdout)


@pytest.mark.parametrize("other", ["compressed", "hybrid"])
def test_one_ec_key_uncompressed_and_re_encoded_does_not_meet_threshold_two(
        pki, one_ec_key, one_rsa_key, base_bundle, tmp_path, other):
    # The control: two keys, spliced the same way, do meet it.
    two_keys = resign_bundle(pki, base_bundle, tmp_path / "two-keys.raucb",
                             [one_ec_key[other], one_rsa_key["null"]])
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "2", two_keys))
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb",
                           [one_ec_key["uncompressed"], one_ec_key[other]])
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "1", bundle))
    assert_failure(run("verify", "--keyring", pki.root, "--threshold", "2", bundle), bundle,
                   "1 of 2", "counted once")


def test_one_ec_key_in_every_point_encoding_counts_once_and_the_rest_are_duplicate_key(
        pki, one_ec_key, base_bundle, tmp_path):
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb",
                           [one_ec_key[e] for e in EC_ENCODINGS])
    proc, result = verify_json(pki, bundle)
    assert_ok(proc)
    assert result["trusted_signers"] == 1
    assert sorted(s["status"] for s in result["signers"]) == \
        ["counted", "duplicate-key", "duplicate-key"]
    for threshold in ("2", "3"):
        assert_failure(run("verify", "--keyring", pki.root, "--threshold", threshold, bundle),
                       bundle, f"1 of {threshold}", "counted once")


def test_one_ec_key_in_four_encodings_with_explicit_curve_parameters_is_still_one_signer(
        pki, one_ec_key, base_bundle, tmp_path):
    """The explicit-parameters certificate is refused by OpenSSL's chain
    check itself (its status is untrusted, not duplicate-key); what matters
    is that four certificates of one key never make more than one signer."""
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb",
                           [one_ec_key[e] for e in EC_ENCODINGS + ["explicit"]])
    proc, result = verify_json(pki, bundle)
    assert_ok(proc)
    assert result["trusted_signers"] == 1
    assert [s["status"] for s in result["signers"]].count("counted") == 1
    assert_failure(run("verify", "--keyring", pki.root, "--threshold", "4", bundle), bundle,
                   "1 of 4")


def test_one_rsa_key_with_null_and_absent_parameters_does_not_meet_threshold_two(
        pki, one_rsa_key, base_bundle, tmp_path):
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb",
                           [one_rsa_key["null"], one_rsa_key["absent"]])
    proc, result = verify_json(pki, bundle)
    assert_ok(proc)
    assert result["trusted_signers"] == 1
    assert sorted(s["status"] for s in result["signers"]) == ["counted", "duplicate-key"]
    assert_failure(run("verify", "--keyring", pki.root, "--threshold", "2", bundle), bundle,
                   "1 of 2", "counted once")


# --- create, sign, merge: refuse a key that already signs ---------------------------------


def test_create_refuses_one_ec_key_given_in_two_certificate_encodings(pki, one_ec_key,
                                                                      tmp_path):
    """Also refused by the code before keys were compared as keys (it
    compared the private keys, here one file); kept as a guard."""
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = run("create", *signer_args(one_ec_key["uncompressed"], one_ec_key["compressed"],
                                      intermediate=pki.intermediate), tmp_path / "in", out)
    assert_failure(proc, one_ec_key["compressed"].key, "same key")
    assert not out.exists()


@pytest.fixture(params=FORMATS)
def signed_by_uncompressed(request, pki, one_ec_key, tmp_path):
    """A bundle made by otabundle, signed by the uncompressed certificate."""
    make_input(tmp_path / "in")
    bundle = tmp_path / f"one-{request.param}.raucb"
    assert_ok(run("create", f"--format={request.param}",
                  *signer_args(one_ec_key["uncompressed"], intermediate=pki.intermediate),
                  tmp_path / "in", bundle))
    return bundle


def test_sign_refuses_to_add_the_compressed_certificate_of_the_key_that_already_signs(
        pki, one_ec_key, signed_by_uncompressed, tmp_path):
    bundle = signed_by_uncompressed
    before = sha256_file(bundle)
    out = tmp_path / "two.raucb"
    proc = run("sign", "--keyring", pki.root,
               *signer_args(one_ec_key["compressed"], intermediate=pki.intermediate),
               bundle, out)
    assert proc.returncode == 1, proc.stderr
    assert "same key already signs" in proc.stderr
    assert not out.exists()
    assert sha256_file(bundle) == before


def test_sign_detached_refuses_the_same_key_in_another_encoding_before_signing(
        pki, one_ec_key, signed_by_uncompressed, tmp_path):
    sig = tmp_path / "compressed.cms"
    proc = run("sign", "--detached", sig,
               *signer_args(one_ec_key["compressed"], intermediate=pki.intermediate),
               signed_by_uncompressed)
    assert proc.returncode == 1, proc.stderr
    assert "same key already signs" in proc.stderr
    assert not sig.exists()


def test_merge_refuses_a_detached_signature_by_the_same_key_in_another_encoding(
        pki, one_ec_key, signed_by_uncompressed, tmp_path):
    """The partial is made elsewhere (openssl), as a co-signer's tool might."""
    bundle = signed_by_uncompressed
    plain = json.loads(assert_ok(run("info", "--no-verify", "--output-format=json",
                                     bundle)).stdout)["format"] == "plain"
    content = bundle_payload(bundle) if plain else signed_manifest(bundle)
    sig = tmp_path / "compressed.cms"
    sig.write_bytes(cms_sign(pki, content, [one_ec_key["compressed"]], detached=True))
    out = tmp_path / "merged.raucb"
    proc = run("merge", "--keyring", pki.root, bundle, out, sig)
    assert proc.returncode == 1, proc.stderr
    assert "same key already signs" in proc.stderr
    assert not out.exists()


# --- otabundle-install: a two-key signing tier ----------------------------------------------


def test_install_tier_threshold_two_refuses_one_key_signing_in_two_encodings(
        pki, one_ec_key, one_rsa_key, tmp_path):
    """[policy.bootloader] with threshold=2 binds the bootloader slots; the
    bundle has images for the booted class (rootfs) and the bootloader."""
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "bootloader"),
                      class_extra={"bootloader": "policy=bootloader"},
                      extra=f"[policy.bootloader]\npath={pki.root}\nthreshold=2\n")
    images = {"rootfs": os.urandom(5000), "bootloader": os.urandom(3000)}
    base = make_bundle(pki, tmp_path, images)
    one_key = resign_bundle(pki, base, tmp_path / "one-key.raucb",
                            [one_ec_key["uncompressed"], one_ec_key["compressed"]])
    before = dev.snapshot()
    assert_refused(dev.install(one_key), "bootloader", "1 of 2", path=one_key)
    assert dev.snapshot() == before
    # The control: two keys, spliced the same way, satisfy the tier.
    two_keys = resign_bundle(pki, base, tmp_path / "two-keys.raucb",
                             [one_ec_key["uncompressed"], one_rsa_key["null"]])
    assert_ok(dev.install(two_keys))
    assert dev.slots["bootloader.1"].read_bytes() == images["bootloader"]
