# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ed25519 signers (RFC 8419) in every signing command.

OpenSSL 3.0's CMS can neither make nor check an Ed25519 SignerInfo, so
otabundle builds and checks it itself. What it writes is checked here
with an independent implementation: a small DER walker over the CMS and
Python's `cryptography` (Debian's python3-cryptography) verifying the
Ed25519 signature over the DER of the signed attributes, re-tagged as a
SET, and the SHA-512 message digest of the content (RFC 8419 section 3).

RAUC devices (OpenSSL before 3.5, Debian 12's rauc 1.8 among them) can't
verify such a signer: rauc refuses a bundle whose outer signer is Ed25519,
and accepts one whose outer signer is ECDSA with an Ed25519 signer nested.
"""
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import (SOFTHSM_MODULE, Signer, assert_failure, assert_ok, bundle_cms, info_json,
                      make_input, run, run_tool, softhsm_env)
from test_install import assert_refused, make_bundle, make_device
from test_install import signer_args as install_signers

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SHA256 = "2.16.840.1.101.3.4.2.1"
ID_SHA512 = "2.16.840.1.101.3.4.2.3"
ID_ED25519 = "1.3.101.112"
NESTED_OID = "2.25.77578983787829562783207146552732846084"

USER_PIN = "ed-pin-5521-9034"
SO_PIN = "ed-so-7310-2268"


# --- an independent reading of the CMS -------------------------------------------


def tlv(data, pos):
    """(tag, start, content start, end) of the DER element at @pos."""
    tag, length, i = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    return tag, pos, i, i + length


def children(data, start, end):
    pos = start
    while pos < end:
        element = tlv(data, pos)
        yield element
        pos = element[3]


def oid(data, start, end):
    body = data[start:end]
    first, arcs, value = body[0], [], 0
    for b in body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in [first // 40, first % 40] + arcs)


def algorithm(data, element):
    """(OID, parameters DER or None) of an AlgorithmIdentifier."""
    parts = list(children(data, element[2], element[3]))
    params = data[parts[1][1]:parts[1][3]] if len(parts) > 1 else None
    return oid(data, parts[0][2], parts[0][3]), params


def attributes(data, element):
    """{OID: [value DER, ...]} of a SET OF Attribute (or its [0]/[1] form)."""
    out = {}
    for attr in children(data, element[2], element[3]):
        attr_oid, values = children(data, attr[2], attr[3])
        key = oid(data, attr_oid[2], attr_oid[3])
        out.setdefault(key, []).extend(data[v[1]:v[3]]
                                       for v in children(data, values[2], values[3]))
    return out


@dataclass
class SignerInfo:
    serial: int
    digest_algorithm: tuple
    signed_attrs_der: bytes  # re-tagged as a SET, what the signature covers
    signed_attrs: dict
    signature_algorithm: tuple
    signature: bytes
    signature_offset: int    # in the CMS it came from
    certificate: x509.Certificate
    nested: bool
    digest_algorithms: list  # those its SignedData lists


@dataclass
class SignedData:
    digest_algorithms: list
    content: bytes           # eContent, or None when detached
    signers: list            # SignerInfo, nested ones after the outer


def parse_signed_data(data, nested=False, base=0):
    content_info = tlv(data, 0)
    ctype, explicit = list(children(data, content_info[2], content_info[3]))
    assert oid(data, ctype[2], ctype[3]) == ID_SIGNED_DATA
    sd = tlv(data, explicit[2])
    fields = list(children(data, sd[2], sd[3]))
    digest_algorithms = [algorithm(data, a) for a in children(data, fields[1][2], fields[1][3])]
    encap = list(children(data, fields[2][2], fields[2][3]))
    content = None
    if len(encap) > 1:
        octets = tlv(data, encap[1][2])
        content = data[octets[2]:octets[3]]
    certificates = []
    for f in fields[3:-1]:
        if f[0] == 0xA0:
            certificates = [x509.load_der_x509_certificate(data[c[1]:c[3]])
                            for c in children(data, f[2], f[3])]
    out = SignedData(digest_algorithms, content, [])
    nested_cms = []
    for si in children(data, fields[-1][2], fields[-1][3]):
        parts = list(children(data, si[2], si[3]))
        sid_fields = list(children(data, parts[1][2], parts[1][3]))
        serial = int.from_bytes(data[sid_fields[-1][2]:sid_fields[-1][3]], "big", signed=True)
        signed = parts[3]
        assert signed[0] == 0xA0, "no signed attributes"
        signature = parts[5]
        cert = next(c for c in certificates if c.serial_number == serial)
        out.signers.append(SignerInfo(
            serial=serial,
            digest_algorithm=algorithm(data, parts[2]),
            signed_attrs_der=b"\x31" + data[signed[1] + 1:signed[3]],
            signed_attrs=attributes(data, signed),
            signature_algorithm=algorithm(data, parts[4]),
            signature=data[signature[2]:signature[3]],
            signature_offset=base + signature[2],
            certificate=cert,
            nested=nested,
            digest_algorithms=digest_algorithms))
        if len(parts) > 6 and parts[6][0] == 0xA1:
            unsigned_start = parts[6]
            for a in children(data, unsigned_start[2], unsigned_start[3]):
                attr_oid, values = children(data, a[2], a[3])
                if oid(data, attr_oid[2], attr_oid[3]) == NESTED_OID:
                    nested_cms.extend((v[1], data[v[1]:v[3]])
                                      for v in children(data, values[2], values[3]))
    for offset, der in nested_cms:
        out.signers.extend(parse_signed_data(der, nested=True, base=base + offset).signers)
    return out


def bundle_signed_data(bundle):
    """(SignedData, the signed content, offset of the CMS in the file)."""
    data = Path(bundle).read_bytes()
    cms = bundle_cms(bundle)
    start = len(data) - 8 - len(cms)
    sd = parse_signed_data(cms, base=start)
    # Plain: the CMS is detached over the squashfs, all that precedes it.
    content = sd.content if sd.content is not None else data[:start]
    return sd, content, start


def is_ed25519(signer):
    return isinstance(signer.certificate.public_key(), Ed25519PublicKey)


def check_rfc8419(signer, content):
    """What RFC 8419 section 3 asks of an Ed25519 SignerInfo, checked with
    `cryptography`; raises on any difference."""
    assert signer.digest_algorithm == (ID_SHA512, None)
    assert (ID_SHA512, None) in signer.digest_algorithms
    assert signer.signature_algorithm == (ID_ED25519, None)
    assert len(signer.signature) == 64
    assert signer.signed_attrs[ID_CONTENT_TYPE] == [bytes([0x06, 9]) + bytes.fromhex(
        "2a864886f70d010701")]
    (md,) = signer.signed_attrs[ID_MESSAGE_DIGEST]
    assert md == bytes([0x04, 64]) + hashlib.sha512(content).digest()
    signer.certificate.public_key().verify(signer.signature, signer.signed_attrs_der)


def ed25519_signers_checked(bundle):
    """Checks every Ed25519 signer of @bundle, nested ones too; their number."""
    sd, content, _ = bundle_signed_data(bundle)
    ed = [s for s in sd.signers if is_ed25519(s)]
    for s in ed:
        check_rfc8419(s, content)
    return len(ed)


# --- keys and certificates ------------------------------------------------------------


def openssl(*args, **kwargs):
    return run_tool("openssl", *args, **kwargs)


def issue(pki, d, name, cn, ca, kind="ED25519", ext="v3_leaf", pubkey=None):
    """A key of @kind (or, with @pubkey, just that public key) certified by
    @ca, a Signer (None: self-signed), as a Signer (key None with @pubkey)."""
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    openssl("genpkey", "-algorithm", kind, "-out", key)
    openssl("req", "-config", pki.dir / "openssl.cnf", "-new", "-key", key, "-out", csr,
            "-subj", f"/O=otabundle tests/CN={cn}")
    ca = ca or Signer(None, key)
    # An EdDSA CA signs without a separate digest.
    md = [] if _is_eddsa(ca.key) else ["-sha256"]
    signing = ["-signkey", key] if ca.cert is None else ["-CA", ca.cert, "-CAkey", ca.key]
    force = ["-force_pubkey", pubkey] if pubkey else []
    openssl("x509", "-req", "-in", csr, *signing, *force, *md, "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")), "-days", "3650",
            "-extfile", pki.dir / "openssl.cnf", "-extensions", ext, "-out", cert)
    return Signer(cert, None if pubkey else key)


def _is_eddsa(key):
    text = openssl("pkey", "-in", key, "-noout", "-text").stdout
    return text.startswith("ED25519") or text.startswith("ED448")


@dataclass
class EdPki:
    root: Path             # an Ed25519 root CA ...
    intermediate: Path     # ... its Ed25519 intermediate ...
    leaf: Signer           # ... and its Ed25519 leaf
    second: Signer         # another Ed25519 leaf of the session PKI's intermediate
    ed448: Signer          # an Ed448 leaf of the session PKI's intermediate


@pytest.fixture(scope="module")
def ed(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("ed25519-pki")
    pki_ca = Signer(pki.intermediate, pki.intermediate_key)
    root = issue(pki, d, "ed-root", "Ed25519 root CA", None, ext="v3_root")
    inter = issue(pki, d, "ed-intermediate", "Ed25519 intermediate CA", root,
                  ext="v3_intermediate")
    leaf = issue(pki, d, "ed-leaf", "signer ed25519 chain", inter)
    second = issue(pki, d, "ed-second", "signer ed25519 second", pki_ca)
    ed448 = issue(pki, d, "ed448", "signer ed448", pki_ca, kind="ED448")
    return EdPki(root.cert, inter.cert, leaf, second, ed448)


def signer_args(pki, leaf):
    return ["--cert", leaf.cert, "--key", leaf.key]


def create(pki, inputdir, bundle, *signers, extra=(), intermediate=None):
    args = []
    for s in signers:
        args += signer_args(pki, s)
    args += ["--intermediate", intermediate or pki.intermediate]
    return run("create", *args, *extra, inputdir, bundle)


@pytest.fixture
def inputdir(tmp_path):
    d = tmp_path / "in"
    make_input(d, sizes=(70000, 4096))
    return d


def verify(pki, bundle, *extra, keyring=None):
    return run("verify", "--keyring", keyring or pki.root, *extra, bundle)


def rauc_warning_lines(proc):
    return [line for line in proc.stderr.splitlines() if "Ed25519" in line and "RAUC" in line]


# --- create -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain", "crypt"])
def test_create_with_an_ed25519_key_verifies(pki, tmp_path, inputdir, fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519, extra=[f"--format={fmt}"]))
    proc = assert_ok(verify(pki, bundle, "--check-images"))
    assert "1 trusted signer" in proc.stdout
    assert info_json(bundle, pki.root)["signers"][0]["status"] == "counted"


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_ed25519_signer_is_rfc_8419_as_python_cryptography_checks_it(pki, tmp_path, inputdir,
                                                                     fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519, extra=[f"--format={fmt}"]))
    assert ed25519_signers_checked(bundle) == 1


def test_independent_check_fails_on_a_flipped_signature_byte(pki, tmp_path, inputdir):
    """The walker and `cryptography` really check: a flipped bit fails them."""
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519))
    sd, content, _ = bundle_signed_data(bundle)
    signer = sd.signers[0]
    signer.signature = bytes([signer.signature[0] ^ 1]) + signer.signature[1:]
    with pytest.raises(InvalidSignature):
        check_rfc8419(signer, content)


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_tampered_ed25519_signature_is_rejected(pki, tmp_path, inputdir, fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519, extra=[f"--format={fmt}"]))
    sd, _, _ = bundle_signed_data(bundle)
    offset = sd.signers[0].signature_offset + 17
    data = bytearray(bundle.read_bytes())
    data[offset] ^= 0x01
    bundle.write_bytes(bytes(data))
    assert_failure(verify(pki, bundle), bundle, "signature is invalid")


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_modified_content_under_an_ed25519_signer_is_rejected(pki, tmp_path, inputdir, fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519, extra=[f"--format={fmt}"]))
    data = bytearray(bundle.read_bytes())
    if fmt == "plain":
        data[100] ^= 0x01  # in the squashfs, which the signature covers
    else:
        sd, manifest, start = bundle_signed_data(bundle)
        at = data.index(b"compatible=", start)
        data[at] ^= 0x20  # in the manifest the CMS embeds
    bundle.write_bytes(bytes(data))
    assert_failure(verify(pki, bundle), bundle, "modified after signing")


def test_ed25519_ca_chain_is_trusted_by_its_root(pki, ed, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, ed.leaf, intermediate=ed.intermediate))
    assert_ok(verify(pki, bundle, keyring=ed.root))
    assert ed25519_signers_checked(bundle) == 1
    # ...and by nothing else: the chain rules are those of every signer.
    assert_failure(verify(pki, bundle), bundle, "no trusted signer")


def test_ed25519_signer_without_its_intermediate_does_not_chain(pki, ed, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    args = ["create", *signer_args(pki, ed.leaf), inputdir, bundle]
    assert_ok(run(*args))
    assert_failure(verify(pki, bundle, keyring=ed.root), bundle, "issuer")


def test_codesign_purpose_applies_to_an_ed25519_signer(pki, tmp_path, inputdir):
    """The leaf has no codeSigning usage: refused as an ECDSA leaf would be."""
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519))
    assert_failure(verify(pki, bundle, "--check-purpose", "codesign"), bundle, "codeSigning")


def test_revoked_ca_revokes_its_ed25519_signer(pki, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519))
    assert_failure(verify(pki, bundle, "--crl", pki.crl_revoked_intermediate), bundle,
                   "revoked")


def test_create_refuses_an_ed448_key_with_a_clear_reason(pki, ed, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    proc = create(pki, inputdir, bundle, ed.ed448)
    assert_failure(proc, ed.ed448.key, "ED448")
    assert not bundle.exists()


# --- threshold sets with ECDSA and RSA signers -------------------------------------------


@pytest.mark.parametrize("encoding", ["nested", "signer-infos"])
@pytest.mark.parametrize("order", [("ec256", "ed25519", "rsa2048"),
                                   ("ed25519", "rsa2048", "ec256")])
def test_mixed_set_meets_a_threshold_of_three(pki, tmp_path, inputdir, encoding, order):
    bundle = tmp_path / "b.raucb"
    signers = [pki.leaves[name] for name in order]
    assert_ok(create(pki, inputdir, bundle, *signers,
                     extra=[f"--signer-encoding={encoding}"]))
    assert_ok(verify(pki, bundle, "--threshold", "3"))
    doc = info_json(bundle, pki.root)
    assert [s["status"] for s in doc["signers"]] == ["counted"] * 3
    assert ed25519_signers_checked(bundle) == 1


def test_second_ed25519_key_counts_as_a_distinct_signer(pki, ed, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ec256, pki.ed25519, ed.second))
    assert_ok(verify(pki, bundle, "--threshold", "3"))
    assert ed25519_signers_checked(bundle) == 2


def test_tampered_nested_ed25519_signature_rejects_the_bundle(pki, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ec256, pki.ed25519))
    sd, _, _ = bundle_signed_data(bundle)
    (nested,) = [s for s in sd.signers if s.nested]
    data = bytearray(bundle.read_bytes())
    data[nested.signature_offset + 3] ^= 0x80
    bundle.write_bytes(bytes(data))
    assert_failure(verify(pki, bundle), bundle, "signature is invalid")


# --- sign, sign --detached + merge, resign ------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_sign_adds_an_ed25519_signer(pki, tmp_path, inputdir, fmt):
    first, second = tmp_path / "a.raucb", tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, first, pki.ec256, extra=[f"--format={fmt}"]))
    assert_ok(run("sign", "--keyring", pki.root, *signer_args(pki, pki.ed25519), first, second))
    assert_ok(verify(pki, second, "--threshold", "2"))
    assert ed25519_signers_checked(second) == 1


@pytest.mark.parametrize("encoding", ["nested", "signer-infos"])
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_detached_ed25519_signature_merges(pki, tmp_path, inputdir, fmt, encoding):
    first, merged = tmp_path / "a.raucb", tmp_path / "m.raucb"
    partial = tmp_path / "ed.cms"
    assert_ok(create(pki, inputdir, first, pki.rsa2048, extra=[f"--format={fmt}"]))
    assert_ok(run("sign", "--detached", partial, "--keyring", pki.root,
                  *signer_args(pki, pki.ed25519), first))
    assert_ok(run("merge", "--keyring", pki.root, f"--signer-encoding={encoding}", first,
                  merged, partial))
    assert_ok(verify(pki, merged, "--threshold", "2"))
    assert ed25519_signers_checked(merged) == 1


def test_merge_refuses_an_ed25519_partial_of_another_bundle(pki, tmp_path, inputdir):
    a, b, out = tmp_path / "a.raucb", tmp_path / "b.raucb", tmp_path / "out.raucb"
    partial = tmp_path / "ed.cms"
    assert_ok(create(pki, inputdir, a, pki.ec256, extra=["--format=plain"]))
    make_input(tmp_path / "other", sizes=(5000,))
    assert_ok(create(pki, tmp_path / "other", b, pki.ec256, extra=["--format=plain"]))
    assert_ok(run("sign", "--detached", partial, *signer_args(pki, pki.ed25519), b))
    assert_failure(run("merge", a, out, partial), partial, "another bundle")
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_resign_with_an_ed25519_key(pki, tmp_path, inputdir, fmt):
    first, second = tmp_path / "a.raucb", tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, first, pki.ec256, extra=[f"--format={fmt}"]))
    proc = assert_ok(run("resign", "--keyring", pki.root, *signer_args(pki, pki.ed25519),
                         "--intermediate", pki.intermediate, first, second))
    assert len(rauc_warning_lines(proc)) == 1
    assert_ok(verify(pki, second))
    assert ed25519_signers_checked(second) == 1


def test_resign_of_an_ed25519_bundle_checks_its_signer(pki, tmp_path, inputdir):
    first, second = tmp_path / "a.raucb", tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, first, pki.ed25519))
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(pki, pki.ec256),
                  "--intermediate", pki.intermediate, first, second))
    assert_ok(verify(pki, second))
    assert ed25519_signers_checked(second) == 0


def test_signing_keyring_checks_an_ed25519_result(pki, ed, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    proc = create(pki, inputdir, bundle, pki.ed25519, extra=["--signing-keyring", ed.root])
    assert_failure(proc, bundle, "signing keyring")
    assert not bundle.exists()


# --- RAUC devices --------------------------------------------------------------------------


def test_create_warns_when_the_signer_rauc_checks_is_ed25519(pki, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    proc = assert_ok(create(pki, inputdir, bundle, pki.ed25519, pki.ec256))
    (line,) = rauc_warning_lines(proc)
    assert line.startswith(f"otabundle: warning: {bundle}: ")
    assert "OpenSSL before 3.5" in line and str(pki.ed25519.cert) in line


def test_create_does_not_warn_when_an_ed25519_signer_is_nested(pki, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    proc = assert_ok(create(pki, inputdir, bundle, pki.ec256, pki.ed25519))
    assert proc.stderr == ""


rauc_installed = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


@rauc_installed
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_rauc_refuses_a_bundle_whose_outer_signer_is_ed25519(pki, tmp_path, inputdir, fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ed25519, pki.ec256,
                     extra=[f"--format={fmt}"]))
    proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
    assert proc.returncode != 0
    assert "signature verification failed" in proc.stderr


@rauc_installed
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_rauc_accepts_an_outer_ecdsa_signer_with_ed25519_nested(pki, tmp_path, inputdir, fmt):
    bundle = tmp_path / "b.raucb"
    assert_ok(create(pki, inputdir, bundle, pki.ec256, pki.ed25519,
                     extra=[f"--format={fmt}"]))
    proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
    assert proc.returncode == 0, proc.stderr
    assert_ok(verify(pki, bundle, "--threshold", "2"))


# --- PKCS#11 ----------------------------------------------------------------------------------


@dataclass
class Token:
    env: dict
    imported: Signer   # key imported into the token (PEM copy kept), certificate from the PKI
    generated: Signer  # key generated on the token, never out of it


@pytest.fixture(scope="module")
def token(pki, tmp_path_factory):
    """A fresh SoftHSM2 token "ed" holding two Ed25519 keys, and a token
    "mixed" holding an Ed25519 and an ECDSA key."""
    d = tmp_path_factory.mktemp("ed25519-softhsm")
    env = softhsm_env(d)
    if "ASAN_OPTIONS" in env:
        # SoftHSM2's own leak in its EdDSA C_Sign, suppressed by
        # test/lsan.supp; that entry matches a frame of ours below
        # libcrypto's, which has no frame pointers: only the slow unwinder
        # records it.
        env["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        env["LSAN_OPTIONS"] = f"suppressions={Path(__file__).resolve().parents[1] / 'lsan.supp'}"

    def p11tool(*args):
        return run_tool("pkcs11-tool", "--module", SOFTHSM_MODULE, *args, env=env)

    for label in ("ed", "mixed"):
        run_tool("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", USER_PIN,
                 "--so-pin", SO_PIN, env=env)
    pki_ca = Signer(pki.intermediate, pki.intermediate_key)
    imported = issue(pki, d, "imported", "token ed25519 imported", pki_ca)
    run_tool("softhsm2-util", "--import", imported.key, "--token", "ed", "--label", "imported",
             "--id", "e1", "--pin", USER_PIN, env=env)
    p11tool("--token-label", "ed", "--login", "--pin", USER_PIN, "--keypairgen", "--key-type",
            "EC:edwards25519", "--label", "generated", "--id", "e2")
    pub = d / "generated.pub"
    p11tool("--token-label", "ed", "--read-object", "--type", "pubkey", "--id", "e2",
            "--output-file", pub)
    generated = issue(pki, d, "generated", "token ed25519 generated", pki_ca, pubkey=pub)
    mixed_ec = d / "mixed-ec.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            mixed_ec)
    run_tool("softhsm2-util", "--import", mixed_ec, "--token", "mixed", "--label", "ec",
             "--id", "01", "--pin", USER_PIN, env=env)
    run_tool("softhsm2-util", "--import", imported.key, "--token", "mixed", "--label", "ed",
             "--id", "02", "--pin", USER_PIN, env=env)
    return Token(env, imported, Signer(generated.cert, None))


def token_create(pki, token, inputdir, bundle, key_uri, cert, *extra, pin=USER_PIN):
    env = dict(token.env, OTABUNDLE_PKCS11_PIN=pin)
    return run("create", "--pkcs11-module", SOFTHSM_MODULE, "--cert", cert, "--key", key_uri,
               "--intermediate", pki.intermediate, *extra, inputdir, bundle, env=env,
               stdin=open(os.devnull))


@pytest.mark.parametrize("fmt", ["verity", "plain"])
@pytest.mark.parametrize("which", ["imported", "generated"])
def test_create_signs_with_an_ed25519_token_key(pki, token, tmp_path, inputdir, fmt, which):
    bundle = tmp_path / "b.raucb"
    cert = getattr(token, which).cert
    proc = token_create(pki, token, inputdir, bundle, f"pkcs11:token=ed;object={which}", cert,
                        f"--format={fmt}")
    assert_ok(proc)
    assert USER_PIN not in proc.stdout + proc.stderr
    assert_ok(verify(pki, bundle))
    assert ed25519_signers_checked(bundle) == 1


def test_token_ed25519_key_joins_a_pem_ecdsa_signer(pki, token, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    proc = token_create(pki, token, inputdir, bundle, "pkcs11:token=ed;object=generated",
                        token.generated.cert, "--cert", pki.ec256.cert, "--key", pki.ec256.key)
    assert_ok(proc)
    assert_ok(verify(pki, bundle, "--threshold", "2"))
    assert ed25519_signers_checked(bundle) == 1


def test_token_ed25519_key_with_another_certificate_is_refused(pki, token, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    uri = "pkcs11:token=ed;object=generated"
    proc = token_create(pki, token, inputdir, bundle, uri, token.imported.cert)
    assert_failure(proc, uri, "does not match")
    assert not bundle.exists()


def test_wrong_pin_for_an_ed25519_token_key_is_refused(pki, token, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    uri = "pkcs11:token=ed;object=imported"
    proc = token_create(pki, token, inputdir, bundle, uri, token.imported.cert,
                        pin="wrong-9921-0457")
    line = assert_failure(proc, uri, "wrong PIN")
    assert "9921" not in line


def test_ed25519_token_key_is_found_beside_an_ecdsa_key(pki, token, tmp_path, inputdir):
    bundle = tmp_path / "b.raucb"
    assert_ok(token_create(pki, token, inputdir, bundle, "pkcs11:token=mixed;object=ed",
                           token.imported.cert))
    assert ed25519_signers_checked(bundle) == 1


def test_ecdsa_key_beside_an_ed25519_key_is_refused_with_the_reason(pki, token, tmp_path,
                                                                    inputdir):
    """Debian 12's libp11 fails to list a token holding an EdDSA key, so
    its other keys can't be used; the one line says so."""
    bundle = tmp_path / "b.raucb"
    uri = "pkcs11:token=mixed;object=ec"
    proc = token_create(pki, token, inputdir, bundle, uri, pki.ec256.cert)
    assert_failure(proc, uri, "libp11 cannot list")


# --- otabundle-install ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_device_installs_a_bundle_signed_by_ed25519_alone(pki, tmp_path, fmt):
    dev = make_device(tmp_path, pki.root)
    image = os.urandom(30000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt=fmt,
                         sign=install_signers(pki.ed25519, intermediate=pki.intermediate))
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_device_counts_a_nested_ed25519_signer_toward_its_threshold(pki, tmp_path, fmt):
    dev = make_device(tmp_path, pki.root, keyring_extra="threshold=2")
    image = os.urandom(30000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt=fmt,
                         sign=install_signers(pki.ec256, pki.ed25519,
                                              intermediate=pki.intermediate))
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


def test_device_refuses_a_plain_payload_changed_under_an_ed25519_signer(pki, tmp_path):
    dev = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(30000)}, fmt="plain",
                         sign=install_signers(pki.ed25519, intermediate=pki.intermediate))
    data = bytearray(bundle.read_bytes())
    data[20000] ^= 0x01
    bundle.write_bytes(bytes(data))
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "modified after signing", path=bundle)
    assert dev.snapshot() == before
