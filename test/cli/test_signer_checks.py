# SPDX-License-Identifier: LGPL-2.1-or-later
"""What makes a signer count, against Debian's rauc 1.8 as the reference:

- the signer purpose is RAUC's smimesign unless `any` is asked for;
- every SignerInfo must verify: one whose certificate is not in the CMS
  rejects the whole signature, as in rauc;
- a strength floor: OpenSSL security level 2 (RSA >= 2048 bits, no SHA-1
  certificate signatures) and EC keys of >= 256 bits on the whole chain;
- CRLs are checked for every CA of the chain, as rauc's check-crl does.

Bundles otabundle would refuse to make get a CMS made by `openssl cms
-sign`, spliced in (helpers from test_signer_identity.py)."""
import shutil
import subprocess

import pytest

from conftest import Signer, assert_failure, assert_ok, make_input, run, run_tool
from test_install import assert_refused, make_bundle, make_device
from test_signer_identity import (cert_der, der, der_children, issue, new_key_and_csr,
                                  resign_bundle)

FORMATS = ["verity", "plain"]
needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


def rauc(*args):
    return subprocess.run(["rauc", *map(str, args)], capture_output=True, text=True)


def rauc_conf(path, keyring, *keyring_lines):
    """A system.conf for rauc with no check-purpose unless in @keyring_lines."""
    path.write_text("[system]\ncompatible=otabundle-test\nbootloader=noop\n\n[keyring]\n"
                    f"path={keyring}\n" + "".join(f"{line}\n" for line in keyring_lines))
    return path


def verify(pki, bundle, *extra):
    return run("verify", "--keyring", pki.root, *extra, bundle)


def bundle_by(pki, tmp_path, leaf, fmt="verity"):
    make_input(tmp_path / "in")
    bundle = tmp_path / f"{leaf}-{fmt}.raucb"
    assert_ok(run("create", f"--format={fmt}", *pki.sign_args(leaf), tmp_path / "in", bundle))
    return bundle


@pytest.fixture(params=FORMATS)
def base_bundle(request, pki, tmp_path):
    """A bundle of each format to take the payload (and what it signs) from."""
    return bundle_by(pki, tmp_path, "ec256", request.param)


# --- 5: the default purpose is smimesign, as rauc's ------------------------------------------


@needs_rauc
@pytest.mark.parametrize("leaf", ["tls_client", "encryption"])
def test_tls_client_or_encryption_leaf_is_rejected_by_default_like_rauc(pki, tmp_path, leaf):
    bundle = bundle_by(pki, tmp_path, leaf)
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode != 0 and "unsuitable certificate purpose" in proc.stderr
    proc = rauc("-c", rauc_conf(tmp_path / "system.conf", pki.root), "info", bundle)
    assert proc.returncode != 0 and "unsuitable certificate purpose" in proc.stderr
    assert_failure(verify(pki, bundle), bundle, "purpose")


@pytest.mark.parametrize("leaf", ["tls_client", "encryption"])
def test_device_without_check_purpose_refuses_a_tls_client_or_encryption_leaf(pki, tmp_path,
                                                                              leaf):
    dev = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, sign=pki.sign_args(leaf))
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "purpose", path=bundle)
    assert dev.snapshot() == before


# --- 8: every SignerInfo must verify --------------------------------------------------------


def without_certificate(cert_pem, corrupt_its_signature=False):
    """An edit for resign_bundle(): drops @cert_pem from SignedData.certificates
    and, optionally, flips a bit of the signature of the SignerInfo naming
    it (issuerAndSerialNumber)."""
    cert = cert_der(cert_pem)
    serial = der_children(der_children(cert)[0])[1]

    def edit(cms):
        oid, explicit = der_children(cms)
        fields = der_children(der_children(explicit)[0])  # SignedData's
        i = next(i for i, f in enumerate(fields) if f[0] == 0xA0)
        certs = der_children(fields[i])
        assert cert in certs
        fields[i] = der(0xA0, b"".join(c for c in certs if c != cert))
        if corrupt_its_signature:
            infos = der_children(fields[-1])
            for j, info in enumerate(infos):
                parts = der_children(info)
                if der_children(parts[1])[1] == serial:
                    parts[-1] = parts[-1][:-1] + bytes([parts[-1][-1] ^ 1])
                    infos[j] = der(0x30, b"".join(parts))
            fields[-1] = der(0x31, b"".join(infos))
        return der(0x30, oid + der(0xA0, der(0x30, b"".join(fields))))
    return edit


@needs_rauc
@pytest.mark.parametrize("corrupt", [False, True], ids=["intact", "corrupt-signature"])
def test_signer_info_without_its_certificate_rejects_the_bundle_beside_a_good_signer(
        pki, base_bundle, tmp_path, corrupt):
    """ec256 alone would count; the ec384 SignerInfo beside it can't be
    checked (and, corrupted, would be garbage riding along). rauc rejects
    it too."""
    signers = [pki.leaves["ec256"], pki.leaves["ec384"]]
    # The control: with both certificates, both signers count.
    both = resign_bundle(pki, base_bundle, tmp_path / "both.raucb", signers)
    assert_ok(verify(pki, both, "--threshold", "2"))
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb", signers,
                           edit=without_certificate(pki.leaves["ec384"].cert, corrupt))
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode != 0 and "signer certificate not found" in proc.stderr
    assert_failure(verify(pki, bundle), bundle, "certificate is not included")


@needs_rauc
def test_single_signer_cms_without_certificates_is_rejected_like_rauc(pki, tmp_path):
    """`openssl cms -sign -nocerts`. Also rejected before every SignerInfo
    had to verify (no signer counted); kept as a guard, with rauc."""
    base = bundle_by(pki, tmp_path, "ec256")
    bundle = resign_bundle(pki, base, tmp_path / "b.raucb", [pki.leaves["ec256"]],
                           extra=["-nocerts"])
    proc = rauc("info", "--keyring", pki.root, bundle)
    assert proc.returncode != 0 and "signer certificate not found" in proc.stderr
    assert_failure(verify(pki, bundle), bundle, "certificate is not included")


# --- 9: a strength floor ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def weak(pki, tmp_path_factory):
    """Leaves otabundle create would not take, or whose chain is weak:
    p224 (an EC P-224 leaf), sha1 (a P-256 leaf the intermediate signed
    with ECDSA-SHA1), weak_ca (a P-256 leaf of a P-224 intermediate CA
    issued by the root): {name: Signer}, and "weak_ca_cert"."""
    d = tmp_path_factory.mktemp("weak")
    p224 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224"]
    p256 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    out = {}
    key, csr = new_key_and_csr(pki, d, "p224", *p224)
    out["p224"] = Signer(issue(pki, csr, d / "p224.pem", 8001, "signer p224"), key)
    key, csr = new_key_and_csr(pki, d, "sha1", *p256)
    out["sha1"] = Signer(issue(pki, csr, d / "sha1.pem", 8002, "signer sha1", md="sha1"), key)
    assert "ecdsa-with-SHA1" in run_tool("openssl", "x509", "-in", d / "sha1.pem", "-noout",
                                         "-text").stdout
    ca_key, ca_csr = new_key_and_csr(pki, d, "p224-ca", *p224)
    ca = issue(pki, ca_csr, d / "p224-ca.pem", 8003, "intermediate p224", ca=pki.root,
               ca_key=pki.root_key, ext="v3_intermediate")
    key, csr = new_key_and_csr(pki, d, "under-p224-ca", *p256)
    out["weak_ca"] = Signer(issue(pki, csr, d / "under-p224-ca.pem", 8004,
                                  "signer under p224 ca", ca=ca, ca_key=ca_key), key)
    out["weak_ca_cert"] = ca
    return out


def spliced_single_signer(pki, base_bundle, tmp_path, signer):
    return resign_bundle(pki, base_bundle, tmp_path / "b.raucb", [signer])


def test_rsa1024_signer_is_not_counted_as_too_weak(pki, base_bundle, tmp_path):
    """rauc 1.8 is more lenient: OpenSSL's default security level 1 takes
    RSA-1024, and rauc accepts this bundle. otabundle does not."""
    bundle = spliced_single_signer(pki, base_bundle, tmp_path, pki.leaves["rsa1024"])
    assert_failure(verify(pki, bundle), bundle, "too weak")


def test_ec_p224_signer_is_not_counted_as_too_weak(pki, weak, base_bundle, tmp_path):
    """rauc 1.8 accepts a P-224 signer (112 bits pass even level 2); the
    256-bit curve floor is otabundle's own."""
    bundle = spliced_single_signer(pki, base_bundle, tmp_path, weak["p224"])
    assert_failure(verify(pki, bundle), bundle, "too weak", "EC under 256 bits")


def test_leaf_certificate_signed_with_sha1_is_not_counted(pki, weak, base_bundle, tmp_path):
    """rauc 1.8 accepts it (OpenSSL 3.0's level 1 takes SHA-1 certificate
    signatures); level 2 does not."""
    bundle = spliced_single_signer(pki, base_bundle, tmp_path, weak["sha1"])
    assert_failure(verify(pki, bundle), bundle, "digest algorithm too weak")


def test_p224_intermediate_ca_makes_its_p256_leaf_not_counted(pki, weak, tmp_path):
    """The EC floor holds for every certificate of the chain, not only the
    signer's. (Made by otabundle create: the leaf itself is P-256.)"""
    make_input(tmp_path / "in")
    bundle = tmp_path / "b.raucb"
    s = weak["weak_ca"]
    assert_ok(run("create", "--cert", s.cert, "--key", s.key, "--intermediate",
                  weak["weak_ca_cert"], tmp_path / "in", bundle))
    assert_failure(verify(pki, bundle), bundle, "CA certificate key too weak")


def test_rsa1024_signer_beside_two_strong_ones_does_not_make_a_third(pki, base_bundle, tmp_path):
    """A weak signer is only not counted: ec256 and rsa2048 meet 2, not 3."""
    bundle = resign_bundle(pki, base_bundle, tmp_path / "b.raucb",
                           [pki.leaves["ec256"], pki.leaves["rsa2048"], pki.leaves["rsa1024"]])
    assert_ok(verify(pki, bundle, "--threshold", "2"))
    assert_failure(verify(pki, bundle, "--threshold", "3"), bundle, "2 of 3", "too weak")


# --- 12: CRLs for every CA of the chain ----------------------------------------------------


def test_leaf_of_a_revoked_intermediate_is_rejected_saying_revoked(pki, tmp_path):
    bundle = bundle_by(pki, tmp_path, "ec256")
    assert_ok(verify(pki, bundle, "--crl", pki.empty_crl))  # both CAs' CRLs, none revoked
    assert_failure(verify(pki, bundle, "--crl", pki.crl_revoked_intermediate), bundle,
                   "revoked")


def rauc_check_crl(pki, tmp_path, crl, bundle):
    """rauc info with a keyring file of the root and @crl, check-crl=true."""
    keyring = tmp_path / "keyring.pem"
    keyring.write_text(pki.root.read_text() + crl.read_text())
    return rauc("-c", rauc_conf(tmp_path / "system.conf", keyring, "check-crl=true"), "info",
                bundle)


@needs_rauc
def test_rauc_check_crl_also_rejects_a_leaf_of_a_revoked_intermediate(pki, tmp_path):
    bundle = bundle_by(pki, tmp_path, "ec256")
    proc = rauc_check_crl(pki, tmp_path, pki.empty_crl, bundle)  # the control
    assert proc.returncode == 0, proc.stderr
    proc = rauc_check_crl(pki, tmp_path, pki.crl_revoked_intermediate, bundle)
    assert proc.returncode != 0 and "certificate revoked" in proc.stderr
    assert_failure(verify(pki, bundle, "--crl", pki.crl_revoked_intermediate), bundle,
                   "revoked")


def test_device_with_keyring_crl_refuses_a_leaf_of_a_revoked_intermediate(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, keyring_extra=f"crl={pki.crl_revoked_intermediate}")
    bundle = make_bundle(pki, tmp_path)
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "revoked", path=bundle)
    assert dev.snapshot() == before
