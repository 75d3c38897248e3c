# SPDX-License-Identifier: LGPL-2.1-or-later
"""Encrypted bundles: a crypt bundle's signature (the CMS SignedData that
embeds the manifest, and with it the payload key) wrapped in a CMS
EnvelopedData for recipients, as `rauc encrypt` does it: AES-256-CBC
content, RSA key transport (PKCS#1 v1.5) and ECDH key agreement, each
recipient named by the issuer and serial of its certificate.

Interop runs both ways against Debian's rauc 1.8: bundles rauc made and
encrypted are read by otabundle (info with and without a key, verify,
extract, the recipient list), and bundles otabundle made and encrypted are
read by `rauc info --key` and extracted by `rauc extract --key` byte for
byte. Device keys live in PEM files and in a SoftHSM2 token made for this
module (its own SOFTHSM2_CONF under pytest's tmp dir, as test_pkcs11.py
makes its tokens). Recipient certificates come from the session PKI's
intermediate CA with keyEncipherment and keyAgreement; the many
recipients of the size tests are made with Python's `cryptography`.
"""
import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import (SOFTHSM_MODULE, _issue_leaf, assert_failure, assert_ok, assert_usage,
                      bundle_cms, bundle_trailer, create_bundle, info_json, make_input, run,
                      run_tool, softhsm_env)

needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")

needs_softhsm = pytest.mark.skipif(not Path(SOFTHSM_MODULE).exists(),
                                   reason="SoftHSM2 (softhsm2) not installed")
# Distinctive, so that finding it in any output means it leaked.
USER_PIN = "dev-pin-5519-2284"
SO_PIN = "so-pin-8830-1172"
TOKEN_RSA_KEY = "pkcs11:token=device;object=dev-rsa;type=private"
TOKEN_EC_KEY = "pkcs11:token=device;object=dev-ec;type=private"
TOKEN_EC_CERT = "pkcs11:token=device;object=dev-ec;type=cert"
TOKEN_NODERIVE_KEY = "pkcs11:token=device;object=no-derive;type=private"

RAUC_MAX_CMS = 65536  # RAUC 1.8's MAX_BUNDLE_SIGNATURE_SIZE (src/bundle.c)


def rauc(*args, tmpdir=None):
    env = dict(os.environ, TMPDIR=str(tmpdir)) if tmpdir else None
    return run_tool("rauc", *args, check=False, env=env)


def listing(d):
    return sorted(os.listdir(d))


# --- recipients -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def devices(pki):
    """Device certificates (keyEncipherment, keyAgreement) from the session
    PKI's intermediate CA: {name: Signer(cert, key)}. "ec2" is a second EC
    device; "signing" has digitalSignature only; "rsa1024" is too weak."""
    cnf = pki.dir / "openssl.cnf"
    issue = lambda name, kind, ext="v3_leaf_encryption", **kw: _issue_leaf(  # noqa: E731
        pki.dir, cnf, f"device-{name}", f"device {name}", kind=kind, ext=ext, **kw)
    return {
        "rsa": issue("rsa", "rsa2048"),
        "ec": issue("ec", "ec256"),
        "ec2": issue("ec2", "ec256"),
        "ec384": issue("ec384", "ec384"),
        "rsa1024": issue("rsa1024", "rsa1024"),
        "signing": issue("signing", "ec256", ext="v3_leaf"),
        "expired": issue("expired", "ec256", dates=("20200101000000Z", "20210101000000Z")),
    }


def serial_of(cert):
    out = run_tool("openssl", "x509", "-in", cert, "-noout", "-serial").stdout
    return out.strip().split("=", 1)[1]


def write_many_recipients(path, n, ca_key=None):
    """A PEM file of @n EC P-256 device certificates (keyAgreement) from a
    throw-away CA, each with a 16-byte serial, as a fleet CA would issue
    them. Returns the private key of the first."""
    ca_key = ca_key or ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Devices"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Example Device CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    pems, first = [], None
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        first = first or key
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            f"device-{i:05d}")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number() >> 32)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.KeyUsage(False, False, False, False, True, False, False,
                                             False, False), critical=True)
                .sign(ca_key, hashes.SHA256()))
        pems.append(cert.public_bytes(serialization.Encoding.PEM))
    Path(path).write_bytes(b"".join(pems))
    key_path = Path(path).with_suffix(".key")
    key_path.write_bytes(first.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    return key_path


# --- bundles --------------------------------------------------------------------------


def crypt_input(d):
    return make_input(d, sizes=(70000, 5000, 1), extra="[bundle]\nformat=crypt\n")


@pytest.fixture(scope="module")
def ota_crypt(pki, tmp_path_factory):
    """An unencrypted crypt bundle made by otabundle: (path, contents)."""
    d = tmp_path_factory.mktemp("ota-crypt")
    contents = crypt_input(d / "in")
    return create_bundle(pki, d / "in", d / "crypt.raucb", "--format=crypt"), contents


@pytest.fixture(scope="module")
def ota_encrypted(pki, devices, ota_crypt, tmp_path_factory):
    """ota_crypt encrypted by otabundle for the RSA and the EC device."""
    d = tmp_path_factory.mktemp("ota-encrypted")
    out = d / "encrypted.raucb"
    assert_ok(run("encrypt", "--to", devices["rsa"].cert, "--to", devices["ec"].cert,
                  "--keyring", pki.root, ota_crypt[0], out))
    return out, ota_crypt[1]


@pytest.fixture(scope="module")
def rauc_crypt(pki, tmp_path_factory):
    """An unencrypted crypt bundle made by `rauc bundle`: (path, contents)."""
    if shutil.which("rauc") is None:
        pytest.skip("rauc not installed")
    d = tmp_path_factory.mktemp("rauc-crypt")
    contents = crypt_input(d / "in")
    s = pki.leaves["ec256"]
    bundle = d / "crypt.raucb"
    proc = rauc("bundle", "--cert", s.cert, "--key", s.key, "--intermediate", pki.intermediate,
                d / "in", bundle)
    assert proc.returncode == 0, proc.stderr
    return bundle, contents


@pytest.fixture(scope="module")
def rauc_encrypted(pki, devices, rauc_crypt, tmp_path_factory):
    """rauc_crypt encrypted by `rauc encrypt` for three devices: RSA, EC, EC."""
    d = tmp_path_factory.mktemp("rauc-encrypted")
    out = d / "encrypted.raucb"
    proc = rauc("encrypt", "--to", devices["rsa"].cert, "--to", devices["ec"].cert, "--to",
                devices["ec2"].cert, "--keyring", pki.root, rauc_crypt[0], out)
    assert proc.returncode == 0, proc.stderr
    return out, rauc_crypt[1]


@pytest.fixture
def encrypted(ota_encrypted, tmp_path):
    """A private copy of ota_encrypted: (path, contents)."""
    dst = tmp_path / "encrypted.raucb"
    dst.write_bytes(ota_encrypted[0].read_bytes())
    return dst, ota_encrypted[1]


def assert_same_images(outdir, contents):
    assert sorted(p.name for p in Path(outdir).iterdir()) == sorted(
        ["manifest.raucm", *contents])
    for name, data in contents.items():
        assert (Path(outdir) / name).read_bytes() == data, name


def envelope_parts(bundle):
    """The RecipientInfos (DER) of @bundle's EnvelopedData, as openssl cuts
    it: what must stay byte for byte when otabundle encrypts again."""
    der = bundle_cms(bundle)
    out = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=der,
                         capture_output=True, check=True).stdout.decode().splitlines()
    # depth 3 is the EnvelopedData's own fields: version, recipientInfos, ...
    line = next(l for l in out if "d=3" in l and "SET" in l)
    offset = int(line.split(":", 1)[0])
    header = int(line.split("hl=")[1].split()[0])
    length = int(line.split("l=", 2)[2].split()[0])
    return der[offset:offset + header + length]


# --- otabundle reads what rauc encrypted ------------------------------------------------


@needs_rauc
@pytest.mark.parametrize("device", ["rsa", "ec", "ec2"])
def test_info_with_any_recipients_key_shows_the_manifest_of_a_bundle_rauc_encrypted(
        pki, devices, rauc_encrypted, device):
    bundle, contents = rauc_encrypted
    doc = info_json(bundle, pki.root, "--key", devices[device].key)
    assert doc["verified"] is True
    assert doc["format"] == "crypt"
    assert doc["encryption"] == {"decrypted": True, "recipient_count": 3}
    assert {i["filename"]: i["size"] for i in doc["manifest"]["images"]} == \
        {name: len(data) for name, data in contents.items()}
    assert "CN=signer ec256" in doc["signers"][0]["subject"]


@needs_rauc
def test_info_without_a_key_exits_0_and_says_the_bundle_is_encrypted(rauc_encrypted):
    bundle, _ = rauc_encrypted
    proc = assert_ok(run("info", bundle))
    assert "Format:      crypt" in proc.stdout
    assert "Encrypted:   yes, for 3 recipients" in proc.stdout
    assert "NO - encrypted" in proc.stdout
    assert "Compatible" not in proc.stdout
    assert proc.stderr == ""


@needs_rauc
def test_info_without_a_key_but_with_a_keyring_still_exits_0_and_checks_nothing(
        pki, rauc_encrypted):
    bundle, _ = rauc_encrypted
    doc = info_json(bundle, pki.root)
    assert doc["verified"] is False and doc["checked"] == "nothing"
    assert doc["manifest"] is None and doc["signers"] == []
    assert doc["encryption"] == {"decrypted": False, "recipient_count": 3}


@needs_rauc
def test_dump_recipients_lists_issuer_serial_and_key_type_of_each_recipient_without_a_key(
        pki, devices, rauc_encrypted):
    bundle, _ = rauc_encrypted
    doc = info_json(bundle, None, "--dump-recipients")
    issuer = "CN=otabundle test intermediate CA,O=otabundle tests"
    # In DER order: the key agreements' order depends on their ephemeral keys.
    by_serial = lambda recipients: sorted(recipients, key=lambda r: r["serial"])  # noqa: E731
    assert by_serial(doc["encryption"]["recipients"]) == by_serial([
        {"key_type": "rsa", "algorithm": "rsaEncryption", "issuer": issuer,
         "serial": serial_of(devices["rsa"].cert), "subject_key_id": None},
        {"key_type": "ec", "algorithm": "dhSinglePass-stdDH-sha1kdf-scheme", "issuer": issuer,
         "serial": serial_of(devices["ec"].cert), "subject_key_id": None},
        {"key_type": "ec", "algorithm": "dhSinglePass-stdDH-sha1kdf-scheme", "issuer": issuer,
         "serial": serial_of(devices["ec2"].cert), "subject_key_id": None},
    ])
    text = assert_ok(run("info", "--dump-recipients", bundle)).stdout
    assert "Recipients:\n  1. rsa key (rsaEncryption)\n" in text
    assert f"     serial:      {serial_of(devices['ec2'].cert)}\n" in text


@needs_rauc
def test_dump_recipients_lists_what_rauc_lists(pki, devices, rauc_encrypted):
    bundle, _ = rauc_encrypted
    proc = rauc("info", "--keyring", pki.root, "--key", devices["ec"].key, "--dump-recipients",
                bundle)
    assert proc.returncode == 0, proc.stderr
    ours = info_json(bundle, None, "--dump-recipients")["encryption"]["recipients"]
    for r in ours:
        assert f"Serial:    {int(r['serial'], 16)}" in proc.stdout
        assert f"Algorithm: {r['algorithm']}" in proc.stdout


@needs_rauc
@pytest.mark.parametrize("device", ["rsa", "ec"])
def test_verify_with_a_key_checks_a_rauc_encrypted_bundle_and_every_image(
        pki, devices, rauc_encrypted, device):
    bundle, _ = rauc_encrypted
    proc = assert_ok(run("verify", "--keyring", pki.root, "--key", devices[device].key,
                         "--check-images", bundle))
    assert "OK (crypt, 1 trusted signer, every image hashed)" in proc.stdout


@needs_rauc
def test_extract_with_a_key_gives_the_images_of_a_rauc_encrypted_bundle(
        pki, devices, rauc_encrypted, tmp_path):
    bundle, contents = rauc_encrypted
    out = tmp_path / "out"
    assert_ok(run("extract", "--keyring", pki.root, "--key", devices["rsa"].key, bundle, out))
    assert_same_images(out, contents)


# --- rauc reads what otabundle encrypted ------------------------------------------------


@needs_rauc
@pytest.mark.parametrize("device", ["rsa", "ec"])
def test_rauc_info_with_either_recipients_key_accepts_a_bundle_otabundle_encrypted(
        pki, devices, ota_encrypted, device):
    bundle, _ = ota_encrypted
    proc = rauc("info", "--keyring", pki.root, "--key", devices[device].key, bundle)
    assert proc.returncode == 0, proc.stderr
    assert "crypt" in proc.stdout and "[encrypted CMS]" in proc.stdout


@needs_rauc
def test_rauc_extract_of_a_bundle_otabundle_made_and_encrypted_is_byte_identical(
        pki, devices, ota_encrypted, tmp_path):
    bundle, contents = ota_encrypted
    (tmp_path / "tmp").mkdir()
    proc = rauc("extract", "--keyring", pki.root, "--key", devices["ec"].key, bundle,
                tmp_path / "rauc-out", tmpdir=tmp_path / "tmp")
    assert proc.returncode == 0, proc.stderr
    assert_ok(run("extract", "--keyring", pki.root, "--key", devices["ec"].key, bundle,
                  tmp_path / "ota-out"))
    for name, data in contents.items():
        assert (tmp_path / "rauc-out" / name).read_bytes() == data, name
        assert (tmp_path / "ota-out" / name).read_bytes() == data, name


@needs_rauc
def test_otabundle_encrypt_of_a_rauc_crypt_bundle_is_read_by_rauc(
        pki, devices, rauc_crypt, tmp_path):
    out = tmp_path / "enc.raucb"
    assert_ok(run("encrypt", "--to", devices["ec"].cert, rauc_crypt[0], out))
    proc = rauc("info", "--keyring", pki.root, "--key", devices["ec"].key, out)
    assert proc.returncode == 0, proc.stderr


@needs_rauc
def test_rauc_without_a_key_refuses_a_bundle_otabundle_encrypted(pki, ota_encrypted):
    proc = rauc("info", "--keyring", pki.root, ota_encrypted[0])
    assert proc.returncode != 0
    assert "no decryption key" in proc.stderr


# --- encrypt --------------------------------------------------------------------------


def test_encrypt_needs_no_signing_key_and_copies_the_payload_unchanged(ota_crypt, devices,
                                                                       tmp_path):
    out = tmp_path / "enc.raucb"
    proc = assert_ok(run("encrypt", "--to", devices["rsa"].cert, ota_crypt[0], out))
    assert f"Encrypted {ota_crypt[0]} as {out}" in proc.stdout
    size, cms_len = bundle_trailer(ota_crypt[0])
    payload = size - 8 - cms_len
    assert out.read_bytes()[:payload] == ota_crypt[0].read_bytes()[:payload]
    assert info_json(out, None)["encryption"] == {"decrypted": False, "recipient_count": 1}


def test_encrypt_takes_every_certificate_of_a_pem_file(ota_crypt, devices, tmp_path):
    both = tmp_path / "fleet.pem"
    both.write_text(devices["rsa"].cert.read_text() + devices["ec"].cert.read_text())
    out = tmp_path / "enc.raucb"
    assert_ok(run("encrypt", "--to", both, ota_crypt[0], out))
    recipients = info_json(out, None, "--dump-recipients")["encryption"]["recipients"]
    assert sorted(r["serial"] for r in recipients) == sorted([serial_of(devices["rsa"].cert),
                                                             serial_of(devices["ec"].cert)])


def test_encrypt_makes_a_certificate_given_twice_one_recipient(ota_crypt, devices, tmp_path):
    out = tmp_path / "enc.raucb"
    assert_ok(run("encrypt", "--to", devices["ec"].cert, "--to", devices["ec"].cert,
                  ota_crypt[0], out))
    assert info_json(out, None)["encryption"]["recipient_count"] == 1


def test_encrypt_with_a_keyring_refuses_an_input_it_does_not_trust(pki, ota_crypt, devices,
                                                                   tmp_path):
    out = tmp_path / "enc.raucb"
    assert_failure(run("encrypt", "--to", devices["ec"].cert, "--keyring", pki.other_root,
                       ota_crypt[0], out), ota_crypt[0], "signature")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_encrypt_refuses_a_bundle_that_is_not_crypt(pki, devices, tmp_path, fmt):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}")
    out = tmp_path / "enc.raucb"
    assert_failure(run("encrypt", "--to", devices["ec"].cert, bundle, out), bundle,
                   "only crypt bundles", fmt)
    assert not out.exists()


def test_encrypt_refuses_a_bundle_encrypted_already(ota_encrypted, devices, tmp_path):
    out = tmp_path / "again.raucb"
    assert_failure(run("encrypt", "--to", devices["ec"].cert, ota_encrypted[0], out),
                   ota_encrypted[0], "encrypted already")
    assert not out.exists()


@pytest.mark.parametrize("device, words", [
    ("signing", ["keyAgreement"]),
    ("rsa1024", ["1024 bits", "too weak"]),
    ("expired", ["expired"]),
])
def test_encrypt_refuses_a_certificate_that_cannot_be_a_recipient(ota_crypt, devices, tmp_path,
                                                                  device, words):
    out = tmp_path / "enc.raucb"
    cert = devices[device].cert
    assert_failure(run("encrypt", "--to", devices["ec"].cert, "--to", cert, ota_crypt[0], out),
                   cert, "cannot encrypt to this certificate", *words)
    assert listing(tmp_path) == []


def test_encrypt_refuses_an_ed25519_certificate(pki, ota_crypt, tmp_path):
    cert = pki.ed25519.cert
    assert_failure(run("encrypt", "--to", cert, ota_crypt[0], tmp_path / "o.raucb"), cert,
                   "ED25519")


def test_encrypt_with_no_check_time_takes_an_expired_recipient(ota_crypt, devices, tmp_path):
    assert_ok(run("encrypt", "--no-check-time", "--to", devices["expired"].cert, ota_crypt[0],
                  tmp_path / "enc.raucb"))


def test_encrypt_keeps_an_existing_output_without_force(ota_crypt, devices, tmp_path):
    out = tmp_path / "enc.raucb"
    out.write_bytes(b"precious")
    assert_failure(run("encrypt", "--to", devices["ec"].cert, ota_crypt[0], out), out, "exists")
    assert out.read_bytes() == b"precious"
    assert_ok(run("encrypt", "--force", "--to", devices["ec"].cert, ota_crypt[0], out))


def test_encrypt_without_a_recipient_is_wrong_usage(ota_crypt, tmp_path):
    assert_usage(run("encrypt", ota_crypt[0], tmp_path / "enc.raucb"))


def test_encrypt_refuses_an_unreadable_recipient_file(ota_crypt, pki, tmp_path):
    assert_failure(run("encrypt", "--to", pki.dir / "garbage.pem", ota_crypt[0],
                       tmp_path / "enc.raucb"), pki.dir / "garbage.pem", "certificate")
    assert listing(tmp_path) == []


# --- how many recipients fit ------------------------------------------------------------


def envelope_size(bundle):
    return bundle_trailer(bundle)[1]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """600 EC P-256 device certificates in one PEM file, and the first's key."""
    d = tmp_path_factory.mktemp("fleet")
    key = write_many_recipients(d / "fleet.pem", 600)
    return d / "fleet.pem", key


def first_certs(fleet_pem, n, path):
    """The first @n certificates of @fleet_pem, in a PEM file @path."""
    marker = "-----END CERTIFICATE-----\n"
    certs = fleet_pem.read_text().split(marker)[:n]
    path.write_text("".join(c + marker for c in certs))
    return path


@pytest.fixture(scope="module")
def most_that_fit(ota_crypt, fleet, tmp_path_factory):
    """The most recipients of `fleet` whose EnvelopedData RAUC 1.8 reads,
    found from the measured size of one recipient."""
    d = tmp_path_factory.mktemp("fit")
    sizes = {}
    for n in (1, 11):
        out = d / f"n{n}.raucb"
        assert_ok(run("encrypt", "--to", first_certs(fleet[0], n, d / f"n{n}.pem"), ota_crypt[0],
                      out))
        sizes[n] = envelope_size(out)
    per = (sizes[11] - sizes[1]) // 10
    n = 3 + (RAUC_MAX_CMS - sizes[1]) // per
    while True:  # lengths of lengths may grow by a byte or two: settle it
        out = d / "fit.raucb"
        proc = run("encrypt", "--force", "--to", first_certs(fleet[0], n, d / "fit.pem"),
                   ota_crypt[0], out)
        if proc.returncode == 0:
            return n, per
        n -= 1


@needs_rauc
def test_the_most_recipients_that_fit_are_read_by_rauc_and_one_more_is_refused(
        pki, ota_crypt, fleet, most_that_fit, tmp_path):
    n, per = most_that_fit
    assert 150 < n < 400, (n, per)
    out = tmp_path / "fit.raucb"
    assert_ok(run("encrypt", "--to", first_certs(fleet[0], n, tmp_path / "fit.pem"),
                  ota_crypt[0], out))
    assert envelope_size(out) <= RAUC_MAX_CMS
    proc = rauc("info", "--keyring", pki.root, "--key", fleet[1], out)
    assert proc.returncode == 0, proc.stderr

    over = tmp_path / "over.raucb"
    line = assert_failure(run("encrypt", "--to", first_certs(fleet[0], n + 1,
                                                             tmp_path / "over.pem"),
                              ota_crypt[0], over), over, f"{n + 1} recipients", "65536",
                          "--allow-large-envelope")
    assert "a key per device group" in line
    assert not over.exists()


@needs_rauc
def test_allow_large_envelope_writes_a_bundle_otabundle_reads_and_rauc_refuses(
        pki, ota_crypt, fleet, tmp_path):
    out = tmp_path / "large.raucb"
    assert_ok(run("encrypt", "--allow-large-envelope", "--to", fleet[0], ota_crypt[0], out))
    assert envelope_size(out) > RAUC_MAX_CMS
    doc = info_json(out, pki.root, "--key", fleet[1])
    assert doc["verified"] is True
    assert doc["encryption"]["recipient_count"] == 600
    proc = rauc("info", "--keyring", pki.root, "--key", fleet[1], out)
    assert proc.returncode != 0
    assert "exceeds 64KiB" in proc.stderr


def test_a_trailer_over_64_kib_that_points_at_no_envelope_is_still_refused(good_bundle):
    bundle, _, _ = good_bundle
    data = bytearray(bundle.read_bytes())
    data[-8:] = (RAUC_MAX_CMS + 4096).to_bytes(8, "big")
    bundle.write_bytes(data)
    assert_failure(run("info", bundle), bundle, "exceeds", "65536")


# --- decryption errors ------------------------------------------------------------------


def test_a_key_that_is_no_recipient_is_refused_saying_so(pki, devices, encrypted, tmp_path):
    bundle, _ = encrypted
    proc = run("info", "--keyring", pki.root, "--key", devices["ec2"].key, bundle)
    assert_failure(proc, bundle, str(devices["ec2"].key), "not a recipient")


def test_a_certificate_that_is_no_recipient_is_refused_naming_its_issuer_and_serial(
        pki, devices, encrypted):
    bundle, _ = encrypted
    ec2 = devices["ec2"]
    line = assert_failure(run("info", "--key", ec2.key, "--cert", ec2.cert, bundle), bundle,
                          str(ec2.cert), "not a recipient", serial_of(ec2.cert))
    assert "CN=otabundle test intermediate CA" in line


def test_an_rsa_key_that_is_no_recipient_is_refused_pointing_to_its_certificate(
        pki, devices, rauc_encrypted, tmp_path):
    """Without the certificate, an RSA key that decrypts nothing can't be
    told from a damaged EnvelopedData (telling them apart would be a
    padding oracle): the message says both, and how to tell."""
    cnf = pki.dir / "openssl.cnf"
    other = _issue_leaf(pki.dir, cnf, "device-rsa-other", "device rsa other", kind="rsa2048",
                        ext="v3_leaf_encryption")
    bundle, _ = rauc_encrypted
    assert_failure(run("info", "--key", other.key, bundle), bundle, "not a recipient",
                   "damaged", "certificate")
    assert_failure(run("info", "--key", other.key, "--cert", other.cert, bundle), bundle,
                   "not a recipient")


def test_a_key_of_a_type_no_recipient_has_is_refused_as_the_wrong_key_type(
        pki, devices, ota_crypt, tmp_path):
    bundle = tmp_path / "rsa-only.raucb"
    assert_ok(run("encrypt", "--to", devices["rsa"].cert, ota_crypt[0], bundle))
    assert_failure(run("info", "--key", devices["ec"].key, bundle), bundle, "wrong key type",
                   "EC key", "only for RSA")
    assert_failure(run("info", "--key", pki.ed25519.key, bundle), bundle, "wrong key type")


def test_a_key_that_does_not_match_its_certificate_is_refused(devices, encrypted):
    bundle, _ = encrypted
    assert_failure(run("info", "--key", devices["rsa"].key, "--cert", devices["ec"].cert,
                       bundle), bundle, "does not match")


@pytest.mark.parametrize("device, cert", [("ec", False), ("ec", True), ("rsa", True)])
def test_a_damaged_encrypted_content_is_refused_as_a_damaged_envelope(
        pki, devices, encrypted, tmp_path, device, cert):
    bundle, _ = encrypted
    size, cms_len = bundle_trailer(bundle)
    data = bytearray(bundle.read_bytes())
    # The CMS ends with the encrypted content: this flips the top bit of the
    # last plaintext byte, the padding length, which then exceeds a block.
    data[size - 8 - 16 - 1] ^= 0x80
    bundle.write_bytes(data)
    args = ["--cert", devices[device].cert] if cert else []
    out = tmp_path / "out"
    proc = run("extract", "--keyring", pki.root, "--key", devices[device].key, *args, bundle,
               out)
    assert_failure(proc, bundle, "damaged EnvelopedData")
    assert not out.exists()


def test_a_truncated_envelope_is_refused_as_damaged(encrypted):
    bundle, _ = encrypted
    data = bytearray(bundle.read_bytes())
    size, cms_len = bundle_trailer(bundle)
    # The ContentInfo says it is longer than the CMS the trailer frames.
    data[size - 8 - cms_len + 3] ^= 0x10
    bundle.write_bytes(data)
    assert_failure(run("info", bundle), bundle, "damaged EnvelopedData")


def test_verify_without_a_key_names_the_option_that_gives_one(pki, encrypted):
    bundle, _ = encrypted
    assert_failure(run("verify", "--keyring", pki.root, bundle), bundle, "encrypted", "--key")
    proc = run("verify", "--keyring", pki.root, "--output-format=json", bundle)
    assert json.loads(proc.stdout)["error"]["code"] == "bundle-encrypted"


def test_extract_without_a_key_writes_nothing(pki, encrypted, tmp_path):
    bundle, _ = encrypted
    before = listing(tmp_path)
    assert_failure(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"), bundle,
                   "encrypted", "--key")
    assert listing(tmp_path) == before


def test_extract_with_a_key_that_is_no_recipient_writes_nothing(pki, devices, encrypted,
                                                                tmp_path):
    bundle, _ = encrypted
    before = listing(tmp_path)
    proc = run("extract", "--keyring", pki.root, "--key", devices["ec2"].key, bundle,
               tmp_path / "out")
    assert_failure(proc, bundle, "not a recipient")
    assert listing(tmp_path) == before
    assert json.loads(run("info", "--output-format=json", "--key", devices["ec2"].key,
                          bundle).stdout)["error"]["code"] == "not-a-recipient"


def test_cert_without_key_is_wrong_usage(devices, encrypted):
    assert_usage(run("info", "--cert", devices["ec"].cert, encrypted[0]))


def test_a_key_for_an_unencrypted_bundle_is_ignored(pki, devices, ota_crypt):
    doc = info_json(ota_crypt[0], pki.root, "--key", devices["ec"].key)
    assert doc["verified"] is True and doc["encryption"] is None


# --- resign, sign, merge ---------------------------------------------------------------


def test_resign_encrypts_for_the_same_recipients_with_the_same_recipient_infos(
        pki, devices, encrypted, tmp_path):
    bundle, contents = encrypted
    out = tmp_path / "resigned.raucb"
    assert_ok(run("resign", "--keyring", pki.root, "--signing-keyring", pki.root,
                  *pki.sign_args("rsa2048"), "--decrypt-key", devices["ec"].key, bundle, out))
    assert envelope_parts(out) == envelope_parts(bundle)
    assert bundle_cms(out) != bundle_cms(bundle)
    doc = info_json(out, pki.root, "--key", devices["rsa"].key)
    assert "CN=signer rsa2048" in doc["signers"][0]["subject"]
    assert doc["encryption"]["recipient_count"] == 2
    out_dir = tmp_path / "x"
    assert_ok(run("extract", "--keyring", pki.root, "--key", devices["rsa"].key, out, out_dir))
    assert_same_images(out_dir, contents)


@needs_rauc
def test_rauc_reads_a_resigned_encrypted_bundle_with_the_other_recipients_key(
        pki, devices, encrypted, tmp_path):
    bundle, _ = encrypted
    out = tmp_path / "resigned.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *pki.sign_args("rsa2048"),
                  "--decrypt-key", devices["ec"].key, bundle, out))
    proc = rauc("info", "--keyring", pki.root, "--key", devices["rsa"].key, out)
    assert proc.returncode == 0, proc.stderr
    assert "signer rsa2048" in proc.stdout + proc.stderr


def test_resign_without_a_decryption_key_names_the_option(pki, encrypted, tmp_path):
    bundle, _ = encrypted
    assert_failure(run("resign", "--keyring", pki.root, *pki.sign_args(), bundle,
                       tmp_path / "out.raucb"), bundle, "encrypted", "--decrypt-key")
    assert listing(tmp_path) == ["encrypted.raucb"]


def test_resign_with_a_key_that_is_no_recipient_writes_nothing(pki, devices, encrypted,
                                                               tmp_path):
    bundle, _ = encrypted
    assert_failure(run("resign", "--keyring", pki.root, *pki.sign_args(), "--decrypt-key",
                       devices["ec2"].key, bundle, tmp_path / "out.raucb"), bundle,
                   "not a recipient")
    assert listing(tmp_path) == ["encrypted.raucb"]


def test_sign_adds_a_signer_and_the_bundle_stays_encrypted(pki, devices, encrypted, tmp_path):
    bundle, _ = encrypted
    out = tmp_path / "signed.raucb"
    assert_ok(run("sign", "--keyring", pki.root, *pki.sign_args("rsa2048"), "--decrypt-key",
                  devices["rsa"].key, "--decrypt-cert", devices["rsa"].cert, bundle, out))
    assert envelope_parts(out) == envelope_parts(bundle)
    assert info_json(out, None)["encryption"]["decrypted"] is False
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "2", "--key",
                  devices["ec"].key, out))


def test_merge_adds_a_partial_signature_to_an_encrypted_bundle(pki, devices, encrypted,
                                                               tmp_path):
    bundle, _ = encrypted
    partial, out = tmp_path / "p.cms", tmp_path / "merged.raucb"
    assert_ok(run("sign", "--detached", partial, *pki.sign_args("ec384"), "--decrypt-key",
                  devices["ec"].key, bundle))
    assert_ok(run("merge", "--decrypt-key", devices["ec"].key, bundle, out, partial))
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "2", "--key",
                  devices["rsa"].key, out))


# --- keys in a token -------------------------------------------------------------------


@pytest.fixture(scope="module")
def token(devices, tmp_path_factory):
    """A fresh SoftHSM2 token "device" (user PIN USER_PIN) holding the RSA
    device key (softhsm2-util), the EC device key with CKA_DERIVE, its
    public key and certificate (pkcs11-tool), and the EC key once more
    without CKA_DERIVE. Returns the environment to run otabundle in."""
    d = tmp_path_factory.mktemp("device-token")
    env = softhsm_env(d)
    env["PIN"] = USER_PIN

    def p11tool(*args):
        return run_tool("pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "device",
                        "--login", "--pin", "env:PIN", *args, env=env)

    run_tool("softhsm2-util", "--init-token", "--free", "--label", "device", "--pin", USER_PIN,
             "--so-pin", SO_PIN, env=env)
    rsa_p8 = d / "rsa.p8"
    run_tool("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", devices["rsa"].key, "-out", rsa_p8)
    run_tool("softhsm2-util", "--import", rsa_p8, "--token", "device", "--label", "dev-rsa",
             "--id", "01", "--pin", USER_PIN, env=env)
    ec_p8 = d / "ec.p8"
    run_tool("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", devices["ec"].key, "-out", ec_p8)
    run_tool("softhsm2-util", "--import", ec_p8, "--token", "device", "--label", "no-derive",
             "--id", "03", "--pin", USER_PIN, env=env)
    pub, cert = d / "ec.pub.der", d / "ec.cert.der"
    run_tool("openssl", "pkey", "-in", devices["ec"].key, "-pubout", "-outform", "DER", "-out",
             pub)
    run_tool("openssl", "x509", "-in", devices["ec"].cert, "-outform", "DER", "-out", cert)
    p11tool("--write-object", devices["ec"].key, "--type", "privkey", "--label", "dev-ec",
            "--id", "02", "--usage-derive")
    p11tool("--write-object", pub, "--type", "pubkey", "--label", "dev-ec", "--id", "02")
    p11tool("--write-object", cert, "--type", "cert", "--label", "dev-ec", "--id", "02")
    del env["PIN"]
    return env


def run_with_token(token, *args, pin=USER_PIN):
    env = dict(token, OTABUNDLE_PKCS11_PIN=pin) if pin else token
    return run(*args, "--pkcs11-module", SOFTHSM_MODULE, env=env, stdin=subprocess.DEVNULL,
               start_new_session=True)


@needs_softhsm
@pytest.mark.parametrize("key", [TOKEN_RSA_KEY, TOKEN_EC_KEY])
def test_a_key_in_a_token_decrypts_and_the_pin_appears_nowhere(pki, token, encrypted, tmp_path,
                                                              key):
    bundle, contents = encrypted
    proc = assert_ok(run_with_token(token, "extract", "--keyring", pki.root, "--key", key,
                                    bundle, tmp_path / "out"))
    assert_same_images(tmp_path / "out", contents)
    assert USER_PIN not in proc.stdout + proc.stderr


@needs_softhsm
def test_a_token_key_with_its_certificate_on_the_token_decrypts(pki, token, encrypted):
    proc = assert_ok(run_with_token(token, "verify", "--keyring", pki.root, "--key",
                                    TOKEN_EC_KEY, "--cert", TOKEN_EC_CERT, encrypted[0]))
    assert "OK (crypt" in proc.stdout


@needs_softhsm
def test_a_wrong_pin_is_refused_without_showing_it(token, encrypted):
    bundle, _ = encrypted
    proc = run_with_token(token, "info", "--key", TOKEN_EC_KEY, bundle, pin="bad-pin-0000-1111")
    assert_failure(proc, bundle, "wrong PIN")
    assert "bad-pin-0000-1111" not in proc.stdout + proc.stderr


@needs_softhsm
def test_a_token_key_that_may_not_derive_is_refused_saying_so_not_as_no_recipient(
        token, encrypted):
    bundle, _ = encrypted
    assert_failure(run_with_token(token, "info", "--key", TOKEN_NODERIVE_KEY, bundle), bundle,
                   "cannot do key agreement")


@needs_softhsm
def test_encrypt_takes_a_recipient_certificate_from_a_token(pki, devices, token, ota_crypt,
                                                            tmp_path):
    out = tmp_path / "enc.raucb"
    assert_ok(run_with_token(token, "encrypt", "--to", TOKEN_EC_CERT, ota_crypt[0], out,
                             pin=None))
    recipients = info_json(out, None, "--dump-recipients")["encryption"]["recipients"]
    assert [r["serial"] for r in recipients] == [serial_of(devices["ec"].cert)]


@needs_softhsm
def test_resign_decrypts_with_a_token_key(pki, token, encrypted, tmp_path):
    bundle, _ = encrypted
    out = tmp_path / "resigned.raucb"
    assert_ok(run_with_token(token, "resign", "--keyring", pki.root, *pki.sign_args(),
                             "--decrypt-key", TOKEN_RSA_KEY, bundle, out))
    assert envelope_parts(out) == envelope_parts(bundle)
