# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the black-box CLI tests of `otabundle`.

Everything is real: a throw-away PKI made with the `openssl` CLI once per
session, `mksquashfs` (through otabundle) and, in the interop tests, rauc.
"""
import functools
import hashlib
import json
import os
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest

from server_util import CNF_REQ
# The session's real RFC 3161 TSA (lighttpd + `openssl ts -reply`), started
# on 127.0.0.1 when a test first needs it and stopped at the end.
from tsa_server import tsa  # noqa: F401
# The streaming tests' lighttpd servers (HTTP, HTTPS, mutual TLS, a second
# origin), started on 127.0.0.1 when a test first needs them.
from http_server import web  # noqa: F401

# The test servers are on loopback: a proxy from the CI machine's
# environment (libcurl honours http_proxy) must not stand in between.
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = "127.0.0.1,localhost"

OTABUNDLE = os.environ.get("OTABUNDLE", "/work/main/build/otabundle")
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "contrib" / "schema"

# Expired leaf: valid for a year, a few years ago. `openssl ca` takes
# explicit -startdate/-enddate, which OpenSSL 3.0's `x509 -req` can't.
EXPIRED_START = "20200101000000Z"
EXPIRED_END = "20210101000000Z"


# --- running ----------------------------------------------------------------


def run(*args, binary=None, env=None, **kwargs):
    """Runs otabundle with @args; never raises on a non-zero exit. JSON
    output is validated against its schema (check_json_output())."""
    cmd = [binary or OTABUNDLE] + [str(a) for a in args]
    return check_json_output(cmd, subprocess.run(cmd, capture_output=True, text=True, env=env,
                                                 **kwargs))


# --- JSON output ------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def json_schemas():
    """{"schema" value: (file, JSON Schema)} of every contrib/schema/ file."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        schemas[schema["properties"]["schema"]["const"]] = (path, schema)
    return schemas


def validate_json_document(doc):
    """Fails the test unless @doc names its kind in `schema` and is valid
    against that kind's JSON Schema. Returns @doc."""
    assert isinstance(doc, dict) and "schema" in doc, f"JSON document without a schema: {doc}"
    schemas = json_schemas()
    assert doc["schema"] in schemas, f"no file in {SCHEMA_DIR} for schema {doc['schema']!r}"
    path, schema = schemas[doc["schema"]]
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
    assert not errors, f"{path.name}: " + "\n".join(
        f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    return doc


def read_audit_log(path):
    """The lines of the audit log @path, each validated against its schema."""
    return [validate_json_document(json.loads(line))
            for line in Path(path).read_text().splitlines()]


# Commands that print one JSON document with --output-format=json: on
# success, and (True) on failure (exit 1) too.
JSON_COMMANDS = {
    "otabundle": {"info": True, "verify": True, "trust": False},
    "otabundle-install": {"info": True, "status": False, "check-config": True},
}


def json_command(cmd):
    """The command of JSON_COMMANDS that @cmd runs in otabundle's own
    command line, or None (as `rauc`, or in rauc's forms, it is rauc's)."""
    program, args = Path(cmd[0]).name, [str(a) for a in cmd[1:]]
    if program == "otabundle":  # its command comes first
        return args[0] if args and args[0] in JSON_COMMANDS[program] else None
    if program == "otabundle-install":  # after global options
        return next((a for a in args if a in JSON_COMMANDS[program]), None)
    return None


def check_json_output(cmd, proc):
    """The test suite's one check of every JSON output: when @cmd asks for
    --output-format=json, what @proc printed on stdout must be one JSON
    document, valid against the schema it names; JSON_COMMANDS must print
    one. Documents in rauc's format (the drop-in's `rauc info`) are rauc's
    and need no schema. Returns @proc."""
    args = [str(a) for a in cmd[1:]]
    asked = any(a == "--output-format=json" or (a == "--output-format" and b == "json")
                for a, b in zip(args, args[1:] + [""]))
    if not asked:
        return proc
    program, command = Path(cmd[0]).name, json_command(cmd)
    must_print = command is not None and (
        proc.returncode == 0 or (proc.returncode == 1 and JSON_COMMANDS[program][command]))
    if not proc.stdout.lstrip().startswith("{"):
        assert not must_print, (
            f"{program} {command} --output-format=json exited {proc.returncode} without a "
            f"JSON document on stdout:\n{proc.stdout}\nstderr: {proc.stderr}")
        return proc
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout is not one JSON document ({e}):\n{proc.stdout}")
    if command is None and "schema" not in doc:
        return proc
    validate_json_document(doc)
    return proc


def run_on_terminal(cmd):
    """Runs @cmd with stderr on a pseudo-terminal (stdout on a pipe), as a
    person at a shell would see it. Returns (exit status, stdout, every byte
    written to the terminal as text)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    terminal = bytearray()
    while True:  # read while it runs: a full terminal buffer would block it
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    stdout = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(), stdout, terminal.decode().replace("\r\n", "\n")


def run_tool(*args, check=True, **kwargs):
    """Runs another tool (openssl, rauc, unsquashfs)."""
    cmd = [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def softhsm_env(d):
    """The environment of a fresh SoftHSM2 store, without tokens, in the
    directory @d: SOFTHSM2_CONF set, otabundle's OTABUNDLE_PKCS11_* taken
    out. Skips the test when SoftHSM2 is not installed."""
    if not Path(SOFTHSM_MODULE).exists():
        pytest.skip("SoftHSM2 (softhsm2) not installed")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTABUNDLE_PKCS11_")}
    env["SOFTHSM2_CONF"] = str(conf)
    return env


def assert_failure(proc, path, *reason_words, code=1):
    """Exit @code and exactly one stderr line `otabundle: <path>...: <reason>`
    that names @path and contains each of @reason_words (case-insensitive)."""
    assert proc.returncode == code, (
        f"expected exit {code}, got {proc.returncode}\nstdout: {proc.stdout}\n"
        f"stderr: {proc.stderr}")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("otabundle: "), line
    assert str(path) in line, f"stderr does not name {path}: {line}"
    # Something follows the file name: a reason.
    rest = line.split(str(path), 1)[1]
    assert rest.startswith(":") and rest.strip(": ").strip(), f"no reason after the file: {line}"
    for word in reason_words:
        assert word.lower() in line.lower(), f"{word!r} not in stderr line: {line}"
    return line


def assert_usage(proc):
    """Exit 2, and the first stderr line is otabundle's own."""
    assert proc.returncode == 2, (
        f"expected exit 2, got {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    first = proc.stderr.splitlines()[0] if proc.stderr else ""
    assert first.startswith("otabundle"), proc.stderr


def assert_ok(proc):
    assert proc.returncode == 0, (
        f"expected success, got {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root):
    """Names, types, modes, sizes, mtimes and contents of everything under
    @root (symlinks not followed): any change to the tree changes it."""
    root = Path(root)
    entries = []
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = str(p.relative_to(root))
        if p.is_symlink():
            entries.append((rel, "l", os.readlink(p)))
        elif p.is_file():
            entries.append((rel, "f", st.st_mode, st.st_size, st.st_mtime_ns, sha256_file(p)))
        else:
            entries.append((rel, "d", st.st_mode))
    st = root.lstat()
    entries.append((".", st.st_mode, st.st_mtime_ns))
    return entries


def flip_byte(path, offset, mask=0xFF):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def bundle_trailer(path):
    """(file size, CMS length from the trailer)."""
    data = Path(path).read_bytes()
    return len(data), int.from_bytes(data[-8:], "big")


def bundle_cms(path):
    """The CMS SignedData (DER) that the trailer points at."""
    data = Path(path).read_bytes()
    cms_len = int.from_bytes(data[-8:], "big")
    return data[len(data) - 8 - cms_len:len(data) - 8]


def signed_manifest(path):
    """The manifest a verity bundle's CMS encapsulates (its signed content),
    as openssl unpacks it without checking the signer."""
    proc = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-binary",
                           "-inform", "DER"], input=bundle_cms(path), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def info_json(bundle, keyring=None, *extra):
    args = ["info", "--output-format=json"]
    if keyring is not None:
        args += ["--keyring", keyring]
    else:
        args += ["--no-verify"]
    proc = assert_ok(run(*args, *extra, bundle))
    return json.loads(proc.stdout)


# --- PKI ------------------------------------------------------------------


@dataclass
class Signer:
    cert: Path
    key: Path


@dataclass
class Pki:
    dir: Path
    root: Path                # root CA certificate (the keyring)
    root_key: Path
    intermediate: Path        # intermediate CA certificate
    intermediate_key: Path
    other_root: Path          # an unrelated root CA
    crl: Path                 # intermediate's CRL revoking `revoked`, and the root's (empty)
    empty_crl: Path           # both CAs' CRLs before any revocation
    crl_revoked_intermediate: Path  # the root's CRL revoking the intermediate CA, and its empty one
    leaves: dict = field(default_factory=dict)

    def __getattr__(self, name):
        leaves = self.__dict__.get("leaves", {})
        if name in leaves:
            return leaves[name]
        raise AttributeError(name)

    def sign_args(self, leaf="ec256", intermediate=True):
        s = self.leaves[leaf]
        args = ["--cert", s.cert, "--key", s.key]
        if intermediate:
            args += ["--intermediate", self.intermediate]
        return args


def _openssl(*args, cwd=None):
    return run_tool("openssl", *args, cwd=cwd)


OPENSSL_CNF = CNF_REQ + """\
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer

[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_leaf_codesign]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_leaf_email]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_leaf_tls_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_leaf_encryption]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment,keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_leaf_codesign_encrypt]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[ca]
default_ca = intermediate_ca

[root_ca]
dir = {dir}/root-ca
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = {dir}/root.pem
private_key = {dir}/root.key
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[intermediate_ca]
dir = {dir}/ca
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = {dir}/intermediate.pem
private_key = {dir}/intermediate.key
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[policy_any]
commonName = supplied
organizationName = optional
"""


def _keygen(path, kind):
    algs = {
        "ec256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "ec384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "ed25519": ["-algorithm", "ED25519"],
    }
    _openssl("genpkey", *algs[kind], "-out", path)


def _self_signed_ca(d, name, cn, cnf):
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    _keygen(key, "ec256")
    _openssl("req", "-config", cnf, "-new", "-x509", "-key", key, "-out", cert,
             "-subj", f"/O=otabundle tests/CN={cn}", "-days", "3650", "-sha256",
             "-extensions", "v3_root")
    return cert, key


def _csr(d, name, cn, kind, cnf):
    key, csr = d / f"{name}.key", d / f"{name}.csr"
    _keygen(key, kind)
    sign = [] if kind == "ed25519" else ["-sha256"]
    _openssl("req", "-config", cnf, "-new", "-key", key, "-out", csr,
             "-subj", f"/O=otabundle tests/CN={cn}", *sign)
    return key, csr


def _issue_leaf(d, cnf, name, cn, kind="ec256", ext="v3_leaf", dates=None):
    """A leaf issued by the intermediate CA through `openssl ca`."""
    key, csr = _csr(d, name, cn, kind, cnf)
    cert = d / f"{name}.pem"
    when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "3650"]
    _openssl("ca", "-config", cnf, "-batch", "-notext", "-md", "sha256", "-extensions", ext,
             "-in", csr, "-out", cert, *when)
    return Signer(cert, key)


def make_pki(d):
    d = Path(d)
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF.format(dir=d))
    for ca in ("ca", "root-ca"):
        (d / ca / "newcerts").mkdir(parents=True)
        (d / ca / "index.txt").write_text("")
        (d / ca / "serial").write_text("1000\n")
        (d / ca / "crlnumber").write_text("1000\n")

    root, root_key = _self_signed_ca(d, "root", "otabundle test root CA", cnf)

    inter_key, inter_csr = _csr(d, "intermediate", "otabundle test intermediate CA", "ec256",
                                cnf)
    intermediate = d / "intermediate.pem"
    _openssl("x509", "-req", "-in", inter_csr, "-CA", root, "-CAkey", root_key,
             "-set_serial", "2", "-days", "3650", "-sha256", "-extfile", cnf,
             "-extensions", "v3_intermediate", "-out", intermediate)

    leaves = {
        "ec256": _issue_leaf(d, cnf, "leaf-ec256", "signer ec256"),
        "ec384": _issue_leaf(d, cnf, "leaf-ec384", "signer ec384", kind="ec384"),
        "rsa2048": _issue_leaf(d, cnf, "leaf-rsa2048", "signer rsa2048", kind="rsa2048"),
        "rsa1024": _issue_leaf(d, cnf, "leaf-rsa1024", "signer rsa1024", kind="rsa1024"),
        "ed25519": _issue_leaf(d, cnf, "leaf-ed25519", "signer ed25519", kind="ed25519"),
        "expired": _issue_leaf(d, cnf, "leaf-expired", "signer expired",
                               dates=(EXPIRED_START, EXPIRED_END)),
        "codesign": _issue_leaf(d, cnf, "leaf-codesign", "signer codesign",
                                ext="v3_leaf_codesign"),
        "email": _issue_leaf(d, cnf, "leaf-email", "signer email", ext="v3_leaf_email"),
        "revoked": _issue_leaf(d, cnf, "leaf-revoked", "signer revoked"),
        # Issued by the same CA for other uses: they must not sign updates.
        "tls_client": _issue_leaf(d, cnf, "leaf-tls-client", "signer tls client",
                                  ext="v3_leaf_tls_client"),
        "encryption": _issue_leaf(d, cnf, "leaf-encryption", "signer encryption",
                                  ext="v3_leaf_encryption"),
        "codesign_encrypt": _issue_leaf(d, cnf, "leaf-codesign-encrypt",
                                        "signer codesign encrypt",
                                        ext="v3_leaf_codesign_encrypt"),
    }

    # CRLs are checked for every CA of the chain (as RAUC's check-crl does),
    # so each file holds the intermediate's CRL and the root's.
    def gencrl(name, ca="intermediate_ca"):
        path = d / name
        _openssl("ca", "-config", cnf, "-name", ca, "-gencrl", "-out", path)
        return path.read_text()

    root_empty = gencrl("root-crl-empty.pem", "root_ca")
    inter_empty = gencrl("intermediate-crl-empty.pem")
    _openssl("ca", "-config", cnf, "-revoke", leaves["revoked"].cert,
             "-crl_reason", "keyCompromise")
    inter_revoking = gencrl("intermediate-crl.pem")
    _openssl("ca", "-config", cnf, "-name", "root_ca", "-revoke", intermediate,
             "-crl_reason", "cACompromise")
    root_revoking = gencrl("root-crl.pem", "root_ca")
    empty_crl = d / "crl-empty.pem"
    empty_crl.write_text(inter_empty + root_empty)
    crl = d / "crl.pem"
    crl.write_text(inter_revoking + root_empty)
    crl_revoked_intermediate = d / "crl-revoked-intermediate.pem"
    crl_revoked_intermediate.write_text(inter_empty + root_revoking)

    # An unrelated root CA with a leaf signed directly by it.
    other_root, other_key = _self_signed_ca(d, "other-root", "otabundle other root CA", cnf)
    okey, ocsr = _csr(d, "leaf-other", "signer other CA", "ec256", cnf)
    ocert = d / "leaf-other.pem"
    _openssl("x509", "-req", "-in", ocsr, "-CA", other_root, "-CAkey", other_key,
             "-set_serial", "3", "-days", "3650", "-sha256", "-extfile", cnf,
             "-extensions", "v3_leaf", "-out", ocert)
    leaves["other"] = Signer(ocert, okey)

    # Files that are not what they claim to be.
    (d / "garbage.pem").write_bytes(os.urandom(512))

    return Pki(dir=d, root=root, root_key=root_key, intermediate=intermediate,
               intermediate_key=inter_key, other_root=other_root, crl=crl,
               empty_crl=empty_crl, crl_revoked_intermediate=crl_revoked_intermediate,
               leaves=leaves)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- input directories ------------------------------------------------------


def write_manifest(inputdir, images, compatible="otabundle-test", version="1.0.0",
                   extra="", update_extra=""):
    """@images: {slotclass: filename} or {slotclass: {key: value}}."""
    lines = ["[update]"]
    if compatible is not None:
        lines.append(f"compatible={compatible}")
    if version is not None:
        lines.append(f"version={version}")
    if update_extra:
        lines.append(update_extra.strip())
    for slotclass, spec in images.items():
        lines.append("")
        lines.append(f"[image.{slotclass}]")
        if isinstance(spec, str):
            spec = {"filename": spec}
        for k, v in spec.items():
            lines.append(f"{k}={v}")
    text = "\n".join(lines) + "\n"
    if extra:
        text += "\n" + textwrap.dedent(extra).strip() + "\n"
    path = Path(inputdir) / "manifest.raucm"
    path.write_text(text)
    return path


def make_input(inputdir, sizes=(65536 + 123,), compatible="otabundle-test", version="1.0.0",
               extra="", seed=None):
    """An input directory with a manifest naming len(@sizes) random images,
    slot classes img0, img1, ... and files img0.img, img1.img, ...
    Returns {filename: bytes}."""
    inputdir = Path(inputdir)
    inputdir.mkdir(parents=True, exist_ok=True)
    images, contents = {}, {}
    for i, size in enumerate(sizes):
        name = f"img{i}.img"
        data = os.urandom(size)
        (inputdir / name).write_bytes(data)
        images[f"img{i}"] = name
        contents[name] = data
    write_manifest(inputdir, images, compatible=compatible, version=version, extra=extra)
    return contents


@pytest.fixture
def input_dir(tmp_path):
    d = tmp_path / "input"
    make_input(d)
    return d


def create_bundle(pki, inputdir, bundle, *extra, leaf="ec256", intermediate=True):
    proc = run("create", *pki.sign_args(leaf, intermediate), *extra, inputdir, bundle)
    assert_ok(proc)
    assert Path(bundle).is_file()
    return Path(bundle)


@pytest.fixture(scope="session")
def good_bundle_template(pki, tmp_path_factory):
    """One good bundle per session (two images); tests copy it before
    changing it."""
    d = tmp_path_factory.mktemp("good")
    contents = make_input(d / "input", sizes=(70000, 4096 * 3, 1))
    bundle = create_bundle(pki, d / "input", d / "good.raucb")
    return bundle, d / "input", contents


@pytest.fixture
def good_bundle(good_bundle_template, tmp_path):
    """A private copy of a good bundle in the default (verity) format:
    (path, inputdir, contents)."""
    src, inputdir, contents = good_bundle_template
    dst = tmp_path / "bundle.raucb"
    dst.write_bytes(src.read_bytes())
    return dst, inputdir, contents


@pytest.fixture(scope="session")
def good_plain_bundle_template(pki, tmp_path_factory):
    """Like good_bundle_template, in the plain format."""
    d = tmp_path_factory.mktemp("good-plain")
    contents = make_input(d / "input", sizes=(70000, 4096 * 3, 1))
    bundle = create_bundle(pki, d / "input", d / "good-plain.raucb", "--format=plain")
    return bundle, d / "input", contents


@pytest.fixture
def good_plain_bundle(good_plain_bundle_template, tmp_path):
    """A private copy of a good plain bundle: (path, inputdir, contents)."""
    src, inputdir, contents = good_plain_bundle_template
    dst = tmp_path / "plain.raucb"
    dst.write_bytes(src.read_bytes())
    return dst, inputdir, contents


@pytest.fixture(params=["verity", "plain"])
def good_bundle_of_each_format(request):
    """(format, (path, inputdir, contents)) for a good bundle of each format."""
    fixture = "good_bundle" if request.param == "verity" else "good_plain_bundle"
    return request.param, request.getfixturevalue(fixture)
