# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle create with keys and certificates on a PKCS#11 token.

A SoftHSM2 made fresh once per session stands in for the HSM. It has its
own SOFTHSM2_CONF and token directory under pytest's tmp dir; the
configuration reaches every process through env= (os.environ is never
changed, so other tests and any SoftHSM2 tokens of the machine are left
alone). OTABUNDLE_PKCS11_* variables of the caller are dropped from that
environment so that each test states where its module and PIN come from.

Token "release" (user PIN USER_PIN, SO PIN SO_PIN):

    label        id              key                          certificate
    release-ec   e1 c0 ff ee 01  EC P-256, imported (PKCS#8)  on the token, same label and id
    release-rsa  02              RSA 2048, imported           PEM file only
    twin         71              EC P-256, imported           PEM file only
    twin         72              EC P-256, imported           PEM file only
    onboard      05              EC P-256, generated on the   on the token: its CSR is signed
                                 token (never leaves it)      by the token key via certtool

Token "blank": initialised by the security officer, user PIN never set.
SoftHSM2 never locks a user PIN (it only raises "count low"), so this is
the unusable-token state that can be reached with it.

Every certificate is issued by the session PKI's intermediate CA (conftest's
`pki`), so `--keyring pki.root` (and rauc with that keyring) trusts them.
Every otabundle run has stdin on /dev/null and a new session, so there is
no terminal to prompt on unless a test provides one.
"""
import os
import pty
import re
import select
import shutil
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (OTABUNDLE, assert_failure, assert_ok, info_json, make_input, run,
                      run_tool)

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
P11KIT_PROXY = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

# Distinctive, so that finding one in any output means it leaked.
USER_PIN = "rel-pin-6392-8817"
SO_PIN = "so-pin-2750-4431"
WRONG_PIN = "bad-pin-1144-0093"

EC_ID = bytes.fromhex("e1c0ffee01")
EC_KEY = "pkcs11:token=release;object=release-ec;type=private"
EC_CERT = "pkcs11:token=release;object=release-ec;type=cert"
RSA_KEY = "pkcs11:token=release;object=release-rsa;type=private"
ONBOARD_KEY = "pkcs11:token=release;object=onboard;type=private"
ONBOARD_CERT = "pkcs11:token=release;object=onboard;type=cert"

pytestmark = pytest.mark.skipif(not Path(SOFTHSM_MODULE).exists(),
                                reason="SoftHSM2 (softhsm2) not installed")


def pct(data):
    """RFC 7512 percent-encoding of every byte, as for id=."""
    return "".join(f"%{b:02x}" for b in data)


# --- the token ----------------------------------------------------------------


@dataclass
class Hsm:
    dir: Path
    env: dict            # os.environ + SOFTHSM2_CONF, without OTABUNDLE_PKCS11_*
    slot_id: int         # of token "release", as C_GetSlotList reports it
    serial: str          # of token "release"
    certs: dict          # name -> PEM certificate: ec, rsa, twin-a, twin-b, onboard
    onboard_skip: str = None  # why there is no key generated on the token, or None

    def environ(self, **extra):
        env = dict(self.env)
        env.update({k: v for k, v in extra.items() if v is not None})
        return env


def _issue(pki, csr, cert):
    """Issues @csr as a leaf (no EKU, which rauc 1.8 accepts without a
    system.conf) from the session PKI's intermediate CA."""
    run_tool("openssl", "ca", "-config", pki.dir / "openssl.cnf", "-batch", "-notext", "-md",
             "sha256", "-extensions", "v3_leaf", "-days", "3650", "-in", csr, "-out", cert)


def _new_leaf(pki, d, name, kind):
    """A new key (PKCS#8 PEM, what softhsm2-util --import wants) and its
    certificate from the session PKI."""
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    alg = {"ec256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
           "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]}[kind]
    run_tool("openssl", "genpkey", *alg, "-out", key)
    run_tool("openssl", "req", "-config", pki.dir / "openssl.cnf", "-new", "-key", key,
             "-sha256", "-subj", f"/O=otabundle tests/CN=token {name}", "-out", csr)
    _issue(pki, csr, cert)
    return key, cert


@pytest.fixture(scope="session")
def hsm(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\n"
                    "objectstore.backend = file\n"
                    "log.level = ERROR\n"
                    "slots.removable = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTABUNDLE_PKCS11_")}
    env["SOFTHSM2_CONF"] = str(conf)

    def p11tool(*args):
        return run_tool("pkcs11-tool", "--module", SOFTHSM_MODULE, *args, env=env)

    def write_cert(pem, label, key_id):
        der = pem.with_suffix(".der")
        run_tool("openssl", "x509", "-in", pem, "-outform", "DER", "-out", der)
        p11tool("--token-label", "release", "--login", "--pin", USER_PIN, "--write-object", der,
                "--type", "cert", "--label", label, "--id", key_id.hex())

    # "blank" first, while the only free slot has index 0: the SO
    # initialises it and never sets a user PIN (no --init-pin).
    p11tool("--init-token", "--label", "blank", "--so-pin", SO_PIN, "--slot-index", "0")
    run_tool("softhsm2-util", "--init-token", "--free", "--label", "release", "--pin", USER_PIN,
             "--so-pin", SO_PIN, env=env)

    certs = {}
    for name, kind, label, key_id, cert_on_token in [
            ("ec", "ec256", "release-ec", EC_ID, True),
            ("rsa", "rsa2048", "release-rsa", b"\x02", False),
            ("twin-a", "ec256", "twin", b"\x71", False),
            ("twin-b", "ec256", "twin", b"\x72", False)]:
        key, cert = _new_leaf(pki, d, name, kind)
        run_tool("softhsm2-util", "--import", key, "--token", "release", "--label", label,
                 "--id", key_id.hex(), "--pin", USER_PIN, env=env)
        if cert_on_token:
            write_cert(cert, label, key_id)
        certs[name] = cert

    # A key generated on the token. openssl 3.0 here has no PKCS#11
    # provider or engine to make its CSR, but GnuTLS's certtool signs a
    # CSR with a token key, which is what a real HSM ceremony does.
    onboard_skip = None
    if shutil.which("certtool") is None:
        onboard_skip = "certtool (gnutls-bin) is not installed: no CSR for an on-token key"
    else:
        p11tool("--token-label", "release", "--login", "--pin", USER_PIN, "--keypairgen",
                "--key-type", "EC:prime256v1", "--usage-sign", "--label", "onboard", "--id", "05")
        template = d / "onboard.tmpl"
        template.write_text('organization = "otabundle tests"\ncn = "token onboard"\n')
        csr, cert = d / "onboard.csr", d / "onboard.pem"
        run_tool("certtool", "--provider", SOFTHSM_MODULE, "--generate-request",
                 "--load-privkey", ONBOARD_KEY, "--template", template, "--outfile", csr,
                 env=dict(env, GNUTLS_PIN=USER_PIN))
        run_tool("openssl", "req", "-in", csr, "-noout", "-verify")
        _issue(pki, csr, cert)
        write_cert(cert, "onboard", b"\x05")
        certs["onboard"] = cert

    listing = p11tool("--list-slots").stdout
    m = re.search(r"\(0x([0-9a-f]+)\):[^\n]*\n\s*token label\s*:\s*release\n"
                  r"(?:\s*[^\n]*\n)*?\s*serial num\s*:\s*(\S+)", listing)
    assert m, listing
    return Hsm(dir=d, env=env, slot_id=int(m.group(1), 16), serial=m.group(2), certs=certs,
               onboard_skip=onboard_skip)


# --- running create ------------------------------------------------------------


def listing(d):
    return sorted(os.listdir(d))


def create_args(pki, cert, key, inputdir, bundle, *extra, module=SOFTHSM_MODULE):
    args = ["create"]
    if module is not None:
        args += ["--pkcs11-module", module]
    return args + ["--cert", cert, "--key", key, "--intermediate", pki.intermediate, *extra,
                   inputdir, bundle]


@pytest.fixture
def sign(pki, hsm, tmp_path, input_dir):
    """sign(cert, key, *extra, pin=USER_PIN, module=SOFTHSM_MODULE, env={},
    bundle=tmp_path/out.raucb) runs otabundle create on input_dir with the
    PIN in OTABUNDLE_PKCS11_PIN (none if pin=None) and the module given by
    --pkcs11-module (none if module=None). Returns (proc, bundle)."""

    def sign(cert, key, *extra, pin=USER_PIN, module=SOFTHSM_MODULE, env=None, bundle=None):
        bundle = bundle or tmp_path / "out.raucb"
        environ = hsm.environ(OTABUNDLE_PKCS11_PIN=pin, **(env or {}))
        proc = run(*create_args(pki, cert, key, input_dir, bundle, *extra, module=module),
                   env=environ, stdin=subprocess.DEVNULL, start_new_session=True)
        return proc, bundle

    return sign


@pytest.fixture
def refused(sign, tmp_path):
    """refused(name, *words, cert=EC_CERT, key=EC_KEY, **sign_kwargs) runs
    create and asserts: exit 1, one stderr line naming @name (a URI as
    shown, or a file) and containing @words, no bundle, nothing new beside
    it, no scratch files in TMPDIR. Returns the line."""
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()

    def refused(name, *words, cert=EC_CERT, key=EC_KEY, env=None, **kwargs):
        before = listing(tmp_path)
        proc, bundle = sign(cert, key, env=dict(env or {}, TMPDIR=str(scratch)), **kwargs)
        line = assert_failure(proc, name, *words)
        assert proc.stdout == ""
        assert not bundle.exists()
        assert listing(tmp_path) == before
        assert listing(scratch) == []
        return line

    return refused


def signer_subjects(pki, bundle):
    return [s["subject"] for s in info_json(bundle, pki.root)["signers"]]


def assert_verified(pki, bundle, cn, fmt=None):
    """otabundle verify and, if installed, rauc info accept @bundle against
    the root alone; its one signer is CN=@cn."""
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))
    subjects = signer_subjects(pki, bundle)
    assert len(subjects) == 1 and f"CN={cn}" in subjects[0], subjects
    if shutil.which("rauc"):
        proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
        assert proc.returncode == 0, proc.stderr
        assert cn in proc.stdout + proc.stderr
        if fmt:
            assert f"Bundle Format: \t{fmt}" in proc.stdout


# --- signing with a token key --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_create_signs_with_an_ec_token_key_and_its_certificate_on_the_token(pki, sign, fmt):
    proc, bundle = sign(EC_CERT, EC_KEY, f"--format={fmt}")
    assert_ok(proc)
    assert proc.stderr == ""
    assert info_json(bundle, pki.root)["format"] == fmt
    assert_verified(pki, bundle, "token ec", fmt)


def test_create_signs_with_an_rsa_token_key_and_a_pem_certificate(pki, hsm, sign):
    proc, bundle = sign(hsm.certs["rsa"], RSA_KEY)
    assert_ok(proc)
    assert proc.stderr == ""
    assert_verified(pki, bundle, "token rsa")


def test_create_signs_with_a_key_generated_on_the_token(pki, hsm, sign):
    if hsm.onboard_skip:
        pytest.skip(hsm.onboard_skip)
    proc, bundle = sign(ONBOARD_CERT, ONBOARD_KEY)
    assert_ok(proc)
    assert_verified(pki, bundle, "token onboard")


@pytest.mark.parametrize("case", ["lower", "upper"])
def test_create_selects_key_and_certificate_by_percent_encoded_id(pki, sign, case):
    ident = pct(EC_ID) if case == "lower" else pct(EC_ID).upper()
    proc, bundle = sign(f"pkcs11:token=release;id={ident};type=cert",
                        f"pkcs11:token=release;id={ident};type=private")
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


def test_create_tells_two_keys_with_the_same_label_apart_by_id(pki, hsm, sign):
    proc, bundle = sign(hsm.certs["twin-b"], "pkcs11:token=release;object=twin;id=%72")
    assert_ok(proc)
    assert_verified(pki, bundle, "token twin-b")


def test_create_selects_the_token_by_serial_instead_of_label(pki, hsm, sign):
    proc, bundle = sign(f"pkcs11:serial={hsm.serial};object=release-ec;type=cert",
                        f"pkcs11:serial={hsm.serial};object=release-ec;type=private")
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


def test_create_selects_the_token_by_slot_id(pki, hsm, sign):
    proc, bundle = sign(EC_CERT, f"pkcs11:slot-id={hsm.slot_id};object=release-ec")
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


# --- which module ---------------------------------------------------------------


def test_create_loads_the_module_named_in_otabundle_pkcs11_module(pki, sign):
    proc, bundle = sign(EC_CERT, EC_KEY, module=None,
                        env={"OTABUNDLE_PKCS11_MODULE": SOFTHSM_MODULE})
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


@pytest.mark.skipif(not Path(P11KIT_PROXY).exists(), reason="p11-kit proxy not installed")
def test_create_finds_the_token_through_the_p11_kit_proxy_without_a_module(pki, sign):
    """Debian's softhsm2 registers itself with p11-kit
    (/usr/share/p11-kit/modules/softhsm2.module); the proxy loads it in
    otabundle's process, where SoftHSM2 reads our SOFTHSM2_CONF."""
    proc, bundle = sign(EC_CERT, EC_KEY, module=None)
    assert_ok(proc)
    assert proc.stderr == ""
    assert_verified(pki, bundle, "token ec")


def test_create_prefers_pkcs11_module_option_over_the_environment(pki, sign, tmp_path):
    proc, bundle = sign(EC_CERT, EC_KEY,
                        env={"OTABUNDLE_PKCS11_MODULE": str(tmp_path / "nonexistent.so")})
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


def test_create_prefers_the_uris_module_path_over_pkcs11_module_option(pki, sign, tmp_path):
    query = f"?module-path={SOFTHSM_MODULE}"
    proc, bundle = sign(EC_CERT + query, EC_KEY + query, module=tmp_path / "nonexistent.so")
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


# --- where the PIN comes from -------------------------------------------------------------


@pytest.fixture
def pin_file(tmp_path):
    def pin_file(pin=USER_PIN, newline=True):
        path = tmp_path / "pin"
        path.write_text(pin + ("\n" if newline else ""))
        path.chmod(0o600)
        return path

    return pin_file


@pytest.mark.parametrize("form", ["file:", "file://", "bare path"])
def test_create_reads_the_pin_from_the_uris_pin_source(pki, sign, pin_file, form):
    path = pin_file()
    source = {"file:": f"file:{path}", "file://": f"file://{path}", "bare path": str(path)}[form]
    proc, bundle = sign(EC_CERT, f"{EC_KEY}?pin-source={source}", pin=None)
    assert_ok(proc)
    assert proc.stderr == ""
    assert_verified(pki, bundle, "token ec")


def test_create_reads_a_pin_source_without_a_trailing_newline(pki, sign, pin_file):
    proc, bundle = sign(EC_CERT, f"{EC_KEY}?pin-source=file:{pin_file(newline=False)}",
                        pin=None)
    assert_ok(proc)


def test_create_prefers_pin_source_over_otabundle_pkcs11_pin(pki, sign, pin_file):
    proc, bundle = sign(EC_CERT, f"{EC_KEY}?pin-source=file:{pin_file()}", pin=WRONG_PIN)
    assert_ok(proc)
    assert_verified(pki, bundle, "token ec")


def test_create_with_pin_value_warns_in_one_line_and_signs(pki, sign):
    proc, bundle = sign(EC_CERT, f"{EC_KEY}?pin-value={USER_PIN}", pin=None)
    assert_ok(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("otabundle: warning: "), lines[0]
    assert "pin-value" in lines[0]
    assert USER_PIN not in proc.stderr + proc.stdout
    assert_verified(pki, bundle, "token ec")


def test_create_prompts_for_the_pin_on_the_terminal_without_echoing_it(pki, hsm, tmp_path,
                                                                       input_dir):
    """With no PIN anywhere else, create asks on its controlling terminal
    (here a pty) and turns echo off before the PIN is typed."""
    bundle = tmp_path / "out.raucb"
    argv = [OTABUNDLE] + [str(a) for a in create_args(pki, EC_CERT, EC_KEY, input_dir, bundle)]
    # A guard against a hang if the prompt misbehaves, not a time limit on
    # otabundle's work.
    deadline = time.monotonic() + 300
    pid, master = pty.fork()
    if pid == 0:  # child: the pty is stdin/out/err and controlling terminal
        try:
            os.execve(argv[0], argv, hsm.env)
        finally:
            os._exit(127)
    transcript = b""
    typed = False
    try:
        while True:
            if not typed and b"PIN for token 'release'" in transcript:
                # The prompt sets ECHO off with TCSAFLUSH, which discards
                # input typed before it: type once the terminal is quiet.
                if not termios.tcgetattr(master)[3] & termios.ECHO:
                    os.write(master, USER_PIN.encode() + b"\n")
                    typed = True
            assert time.monotonic() < deadline, f"no end of the PIN dialogue:\n{transcript!r}"
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                transcript += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert typed, transcript
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert USER_PIN.encode() not in transcript
    assert_verified(pki, bundle, "token ec")


# --- refusals ------------------------------------------------------------------------------


def test_create_refuses_a_wrong_pin(refused):
    refused(EC_KEY, "wrong PIN", "release", pin=WRONG_PIN)


def test_create_refuses_a_wrong_pin_from_pin_source(refused, pin_file):
    key = f"{EC_KEY}?pin-source=file:{pin_file(WRONG_PIN)}"
    refused(key, "wrong PIN", key=key, pin=None)


def test_create_refuses_a_pin_source_that_cannot_be_read(refused, tmp_path):
    key = f"{EC_KEY}?pin-source=file:{tmp_path / 'no-such-pin'}"
    refused(key, "pin-source", key=key, pin=None)


def test_create_refuses_a_token_key_when_no_pin_is_available(refused):
    """stdin is not a terminal, there is no controlling terminal, no
    OTABUNDLE_PKCS11_PIN and no PIN in the URI: no prompt, no hang."""
    refused(EC_KEY, "needs a PIN", "release", pin=None)


def test_create_refuses_a_uri_naming_a_missing_token(refused):
    key = "pkcs11:token=no-such-token;object=release-ec;type=private"
    refused(key, "no token matches", SOFTHSM_MODULE, key=key)


def test_create_refuses_a_uri_that_matches_several_tokens(refused):
    key = "pkcs11:object=release-ec;type=private"
    refused(key, "several tokens", key=key)


def test_create_refuses_a_uri_naming_a_missing_private_key(refused):
    key = "pkcs11:token=release;object=no-such-key;type=private"
    refused(key, "no private key", key=key)


def test_create_refuses_a_uri_naming_a_missing_certificate(refused):
    cert = "pkcs11:token=release;object=no-such-cert;type=cert"
    refused(cert, "no certificate", cert=cert)


def test_create_refuses_a_label_shared_by_two_keys(refused, hsm):
    key = "pkcs11:token=release;object=twin;type=private"
    refused(key, "several private keys", key=key, cert=hsm.certs["twin-a"])


def test_create_refuses_a_token_key_with_a_certificate_of_another_key(refused, pki):
    refused(EC_KEY, "does not match", str(pki.ec256.cert), cert=pki.ec256.cert)


def test_create_refuses_a_token_whose_user_pin_was_never_set(refused, pki):
    key = "pkcs11:token=blank;object=release-ec;type=private"
    refused(key, "blank", "no user PIN", key=key, cert=pki.ec256.cert)


def test_create_refuses_a_nonexistent_module(refused, tmp_path):
    module = tmp_path / "no-such-module.so"
    refused(EC_CERT, "does not exist", str(module), module=module)


@pytest.mark.parametrize("kind", ["text file", "library without C_GetFunctionList"])
def test_create_refuses_a_file_that_is_not_a_pkcs11_module_in_one_line(refused, tmp_path,
                                                                       kind):
    if kind == "text file":
        module = tmp_path / "not-a-module.so"
        module.write_text("not a shared object\n")
    else:
        module = Path("/usr/lib/x86_64-linux-gnu/libz.so.1")
        if not module.exists():
            pytest.skip(f"{module} not found")
    refused(EC_CERT, "cannot load", str(module), module=module)


@pytest.mark.parametrize("key", [
    "pkcs11:token=release;object=release-ec;library-version=1",    # RFC 7512, unsupported
    "pkcs11:token=release;object=release-ec?module-name=softhsm2",  # RFC 7512, unsupported
    "pkcs11:token=release;objet=release-ec",                       # misspelt
    "pkcs11:token=release;object",                                 # no value
    "pkcs11:token=release;object=release-ec;object=twin",          # repeated
    "pkcs11:token=release;slot-id=first;object=release-ec",        # not a number
    "pkcs11:token=release;object=release-ec?pin-source=a&pin-source=b",
])
def test_create_refuses_an_unsupported_or_malformed_uri_attribute(refused, key):
    refused(key, "attribute", key=key)


def test_create_refuses_a_uri_naming_no_object(refused):
    key = "pkcs11:token=release;type=private"
    refused(key, "object", key=key)


def test_create_refuses_type_cert_in_the_key_uri(refused):
    key = "pkcs11:token=release;object=release-ec;type=cert"
    refused(key, "type=cert", key=key)


def test_create_refuses_type_private_in_the_certificate_uri(refused):
    cert = "pkcs11:token=release;object=release-ec;type=private"
    refused(cert, "type=private", cert=cert)


def test_create_does_not_echo_a_pin_value_misplaced_in_the_uri_path(sign):
    """pin-value is a query attribute (RFC 7512 section 2.3); in the path it
    is refused as malformed, and the PIN must not be printed with it."""
    proc, bundle = sign(EC_CERT, f"{EC_KEY};pin-value={USER_PIN}", pin=None)
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert USER_PIN not in proc.stderr + proc.stdout
    assert not bundle.exists()


# --- the PIN stays secret -----------------------------------------------------------------


def _process_tree(root):
    """{pid: cmdline bytes} of @root and its descendants (read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [p for p, pp in parents.items() if pp == pid and p not in tree]
    cmdlines = {}
    for pid in tree:
        try:
            cmdlines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            pass
    return cmdlines


@pytest.mark.parametrize("source", ["pin-source", "env"])
def test_the_pin_never_appears_in_the_command_line_of_create_or_its_children(
        pki, hsm, tmp_path, pin_file, source):
    inputdir = tmp_path / "big"
    make_input(inputdir, sizes=(32 << 20, 70000))
    bundle = tmp_path / "out.raucb"
    key = EC_KEY + (f"?pin-source=file:{pin_file()}" if source == "pin-source" else "")
    env = hsm.environ(OTABUNDLE_PKCS11_PIN=USER_PIN if source == "env" else None)
    cmd = [OTABUNDLE] + [str(a) for a in create_args(pki, EC_CERT, key, inputdir, bundle)]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    seen = {}
    while proc.poll() is None:
        for pid, cmdline in _process_tree(proc.pid).items():
            if cmdline:  # empty once a process is a zombie
                seen.setdefault(pid, set()).add(cmdline)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    own = seen.get(proc.pid, set())
    assert any(b"create" in c and b"pkcs11:" in c for c in own), (
        f"never read /proc/{proc.pid}/cmdline while create ran: {seen}")
    assert any(b"mksquashfs" in c for pid, cs in seen.items() if pid != proc.pid for c in cs), (
        f"never saw create's mksquashfs: {seen}")
    for pid, cmdlines in seen.items():
        for c in cmdlines:
            assert USER_PIN.encode() not in c, f"PID {pid}: {c!r}"
    assert USER_PIN.encode() not in out + err


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
@pytest.mark.parametrize("outcome", ["success", "wrong-pin"])
@pytest.mark.parametrize("source", ["pin-source", "env", "pin-value"])
def test_the_pin_never_appears_in_the_output_of_create(pki, sign, pin_file, source, outcome,
                                                       verbose):
    pin = USER_PIN if outcome == "success" else WRONG_PIN
    key, shown, env_pin = EC_KEY, EC_KEY, None
    if source == "pin-source":
        key = shown = f"{EC_KEY}?pin-source=file:{pin_file(pin)}"
    elif source == "env":
        env_pin = pin
    else:
        key = f"{EC_KEY}?pin-value={pin}"
    proc, bundle = sign(EC_CERT, key, *(["--verbose"] if verbose else []), pin=env_pin)

    for secret in (USER_PIN, WRONG_PIN):
        assert secret not in proc.stdout, proc.stdout
        assert secret not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    warnings = [l for l in lines if l.startswith("otabundle: warning: ")]
    assert len(warnings) == (1 if source == "pin-value" else 0), proc.stderr
    if outcome == "success":
        assert_ok(proc)
        assert lines == warnings, proc.stderr
        assert bundle.is_file()
    else:
        assert proc.returncode == 1, proc.stderr
        errors = [l for l in lines if l not in warnings]
        # The URI is shown without its pin-value.
        assert errors and errors[0].startswith(f"otabundle: {shown}: "), proc.stderr
        assert "wrong PIN" in errors[0]
        if not verbose:
            assert len(errors) == 1, proc.stderr
        assert not bundle.exists()


# --- a token key among several signers ----------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_token_key_and_pem_key_sign_one_two_of_two_bundle(pki, sign, fmt):
    rsa = pki.leaves["rsa2048"]
    proc, bundle = sign(EC_CERT, EC_KEY, "--cert", rsa.cert, "--key", rsa.key, f"--format={fmt}")
    assert_ok(proc)
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "2", bundle))
    rauc = subprocess.run(["rauc", "info", "--keyring", str(pki.root), str(bundle)],
                          capture_output=True, text=True)
    assert rauc.returncode == 0, rauc.stderr


def test_token_key_adds_a_detached_signature_that_merges(pki, hsm, tmp_path, input_dir):
    bundle = tmp_path / "one.raucb"
    assert_ok(run("create", *pki.sign_args(), input_dir, bundle))
    sig = tmp_path / "token.cms"
    proc = run("sign", "--detached", sig, "--pkcs11-module", SOFTHSM_MODULE, "--cert", EC_CERT,
               "--key", EC_KEY, "--intermediate", pki.intermediate, bundle,
               env=hsm.environ(OTABUNDLE_PKCS11_PIN=USER_PIN), stdin=subprocess.DEVNULL,
               start_new_session=True)
    assert_ok(proc)
    out = tmp_path / "two.raucb"
    assert_ok(run("merge", bundle, out, sig))
    assert_ok(run("verify", "--keyring", pki.root, "--threshold", "2", out))


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_resign_moves_a_bundle_to_a_token_key(pki, hsm, tmp_path, input_dir, fmt):
    devel = tmp_path / "devel.raucb"
    assert_ok(run("create", f"--format={fmt}", *pki.sign_args("ec384"), input_dir, devel))
    out = tmp_path / "release.raucb"
    proc = run("resign", "--keyring", pki.root, "--pkcs11-module", SOFTHSM_MODULE,
               "--cert", EC_CERT, "--key", EC_KEY, "--intermediate", pki.intermediate,
               devel, out, env=hsm.environ(OTABUNDLE_PKCS11_PIN=USER_PIN),
               stdin=subprocess.DEVNULL, start_new_session=True)
    assert_ok(proc)
    assert USER_PIN not in proc.stdout + proc.stderr
    # The devel signer (ec384) is gone; the token's key signed instead.
    (signer,) = info_json(out, pki.root)["signers"]
    assert "ec384" not in signer["subject"]
    assert signer["status"] == "counted"
    rauc = subprocess.run(["rauc", "info", "--keyring", str(pki.root), str(out)],
                          capture_output=True, text=True)
    assert rauc.returncode == 0, rauc.stderr
