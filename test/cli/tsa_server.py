# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real RFC 3161 Time-Stamping Authority for the tests: OpenSSL's
`openssl ts -reply` behind lighttpd's CGI, on 127.0.0.1 at a free port,
over HTTP and HTTPS. The session fixture `tsa` (imported by conftest.py)
starts it once per test run and stops it afterwards.

Endpoints (each a CGI script in the document root):
  /tsa.cgi            a good TSA (its certificate: timeStamping, critical)
  /sha512-only.cgi    a TSA that accepts only SHA-512 imprints: refuses ours
  /other-imprint.cgi  stamps another imprint (the request's nonce kept)
  /garbage.cgi        answers 200 with random bytes
  /error.cgi          answers HTTP 500
  /stall.cgi          answers only after a long time
"""
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from server_util import (CNF_REQ, CNF_V3_CA, ec_key, free_port, openssl, start_lighttpd,
                         stop_lighttpd, wait_for_port)

STALL_SECONDS = 120

OPENSSL_CNF = CNF_REQ + CNF_V3_CA + """\
[v3_tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_no_purpose]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1

[tsa]
default_tsa = tsa_good

[tsa_good]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[tsa_sha512_only]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha512
ess_cert_id_alg = sha256
"""

# Every endpoint: the request on stdin (CONTENT_LENGTH bytes), the answer
# on stdout after CGI headers.
CGI_COMMON = """\
import os, subprocess, sys, tempfile
CNF = {cnf!r}

def query():
    return sys.stdin.buffer.read(int(os.environ.get("CONTENT_LENGTH") or 0))

def answer(body, status="200 OK", ctype="application/timestamp-reply"):
    sys.stdout.buffer.write(
        f"Status: {{status}}\\r\\nContent-Type: {{ctype}}\\r\\n\\r\\n".encode() + body)

def reply(tsq, section="tsa_good"):
    with tempfile.TemporaryDirectory() as d:
        q, r = os.path.join(d, "q.tsq"), os.path.join(d, "r.tsr")
        open(q, "wb").write(tsq)
        subprocess.run(["openssl", "ts", "-reply", "-config", CNF, "-section", section,
                        "-queryfile", q, "-out", r], check=True, capture_output=True)
        return open(r, "rb").read()
"""

CGI_SCRIPTS = {
    "tsa.cgi": "answer(reply(query()))",
    "sha512-only.cgi": "answer(reply(query(), 'tsa_sha512_only'))",
    # The SHA-256 imprint follows its AlgorithmIdentifier (OID, NULL):
    # flipping it keeps the request well-formed and its nonce.
    "other-imprint.cgi": textwrap.dedent("""\
        q = bytearray(query())
        at = q.index(bytes.fromhex("05000420")) + 4
        q[at:at + 32] = bytes(b ^ 0xFF for b in q[at:at + 32])
        answer(reply(bytes(q)))"""),
    "garbage.cgi": "query(); answer(os.urandom(700))",
    "error.cgi": "query(); answer(b'TSA out of order', '500 Internal Server Error', 'text/plain')",
    "stall.cgi": f"import time; query(); time.sleep({STALL_SECONDS}); answer(b'')",
}

LIGHTTPD_CONF = """\
server.modules = ("mod_cgi", "mod_openssl")
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/lighttpd-error.log"
server.max-worker = 0
cgi.assign = (".cgi" => "/usr/bin/python3")
$SERVER["socket"] == "127.0.0.1:{tls_port}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{dir}/server.pem"
    ssl.privkey = "{dir}/server.key"
}}
"""


@dataclass
class Tsa:
    dir: Path
    http: str             # http://127.0.0.1:PORT
    https: str            # https://127.0.0.1:PORT
    root: Path            # the TSA's root CA: the --tsa-keyring
    cert: Path            # the TSA certificate (timeStamping, critical)
    key: Path
    no_purpose_cert: Path  # issued by the same root, without timeStamping
    no_purpose_key: Path
    tls_ca: Path          # what the https server's certificate chains to
    cnf: Path             # openssl.cnf with the [tsa] sections

    def url(self, endpoint="tsa", https=False):
        return f"{self.https if https else self.http}/{endpoint}.cgi"

    def reply(self, query, out):
        """Answers the TimeStampReq file @query as the good TSA, into @out."""
        openssl("ts", "-reply", "-config", self.cnf, "-section", "tsa_good",
                "-queryfile", query, "-out", out)
        return Path(out)


def make_tsa_pki(d):
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF.format(dir=d))
    (d / "tsaserial").write_text("01\n")

    serials = {"tsa": 2, "no-purpose": 3}

    def issue(name, cn, ext):
        openssl("req", "-config", cnf, "-new", "-key", ec_key(d, name), "-subj",
                f"/O=otabundle tests/CN={cn}", "-out", d / f"{name}.csr")
        openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "tsa-root.pem",
                "-CAkey", d / "tsa-root.key", "-set_serial", str(serials[name]),
                "-days", "3650", "-sha256", "-extfile", cnf, "-extensions", ext,
                "-out", d / f"{name}.pem")
        return d / f"{name}.pem"

    openssl("req", "-config", cnf, "-new", "-x509", "-key", ec_key(d, "tsa-root"),
            "-subj", "/O=otabundle tests/CN=otabundle test TSA root", "-days", "3650",
            "-sha256", "-extensions", "v3_ca", "-out", d / "tsa-root.pem")
    issue("tsa", "otabundle test TSA", "v3_tsa")
    issue("no-purpose", "otabundle test TSA without purpose", "v3_no_purpose")
    openssl("req", "-config", cnf, "-new", "-x509", "-key", ec_key(d, "server"),
            "-subj", "/CN=127.0.0.1", "-days", "3650", "-sha256", "-extensions", "v3_server",
            "-out", d / "server.pem")
    return cnf


@pytest.fixture(scope="session")
def tsa(tmp_path_factory):
    """The test TSA, served by lighttpd for the whole session."""
    d = tmp_path_factory.mktemp("tsa")
    cnf = make_tsa_pki(d)
    docroot = d / "htdocs"
    docroot.mkdir()
    for name, body in CGI_SCRIPTS.items():
        (docroot / name).write_text(CGI_COMMON.format(cnf=str(cnf)) + body + "\n")
    port, tls_port = free_port(), free_port()
    conf = d / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(docroot=docroot, port=port, tls_port=tls_port, dir=d))
    proc = start_lighttpd(conf, port, d / "lighttpd-error.log")
    try:
        wait_for_port(tls_port, proc, d / "lighttpd-error.log")
        yield Tsa(dir=d, http=f"http://127.0.0.1:{port}", https=f"https://127.0.0.1:{tls_port}",
                  root=d / "tsa-root.pem", cert=d / "tsa.pem", key=d / "tsa.key",
                  no_purpose_cert=d / "no-purpose.pem", no_purpose_key=d / "no-purpose.key",
                  tls_ca=d / "server.pem", cnf=cnf)
    finally:
        stop_lighttpd(proc)
