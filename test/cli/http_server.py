# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real web servers for the streaming tests: two lighttpd processes on
127.0.0.1 at free ports, serving one temporary document root. The session
fixture `web` (imported by conftest.py) starts them once per test run and
stops them afterwards.

The main lighttpd ("origin") listens on
  http     plain HTTP
  https    HTTPS, its certificate issued by the test CA (`ca`)
  mtls     HTTPS that requires a client certificate issued by the test CA
The second lighttpd ("other") listens on one plain HTTP port: another
origin (same host, other port) that redirects lead to; its own access log
shows what a client sent it.

Paths (every prefix is a symlink to the document root, so /x.raucb,
/norange/x.raucb, /slow/x.raucb ... all serve the same file):
  /NAME                  the file, with ranges, ETag and Last-Modified
  /norange/NAME          server.range-requests = "disable": 200 for a range
  /noetag/NAME           static-file.etags = "disable": Last-Modified only
  /ignore-if-range/NAME  If-Range is removed from the request: a range of
                         whatever file is there now, as a server (or cache)
                         that ignores If-Range sends it
  /slow/NAME             connection.kbytes-per-second = SLOW_KBPS
  /redirect/NAME         301 to /NAME on the same origin
  /elsewhere/NAME        301 to /NAME on the other lighttpd (http://, also
                         from the https ports)
  /loop/NAME             301 to itself, for ever
  /status.cgi/NAME?fail=K&code=C
                         the first K requests for NAME get HTTP C (503
                         with Retry-After: 1, 403, ...), later ones the
                         file with ranges, as the static handler serves it
server.stat-cache-engine = "disable": a file swapped on disk is seen by
the next request.

Both access logs have one line per request (LOG_FORMAT): status, body
bytes, the Range, If-Range, X-Token, RAUC-Boot-ID and Authorization
request headers, the path. `Web.requests(name)` parses them, so a test can say which byte
ranges were asked for (the manifest-first proof) and which headers reached
which server.
"""
import itertools
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from server_util import (CNF_REQ, CNF_V3_CA, ec_key, free_port, openssl, start_lighttpd,
                         stop_lighttpd, wait_for_port)

SLOW_KBPS = 32

# Quoted fields; a header that was not sent is logged as "-".
LOG_FORMAT = (r'%s %b \"%{Range}i\" \"%{If-Range}i\" \"%{X-Token}i\" '
              r'\"%{RAUC-Boot-ID}i\" \"%{Authorization}i\" %U')
_Q = r'"((?:[^"\\]|\\.)*)"'
LOG_LINE = re.compile(rf"^(\d+) (\S+) {_Q} {_Q} {_Q} {_Q} {_Q} (\S+)$")

OPENSSL_CNF = CNF_REQ + CNF_V3_CA + """\
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid,issuer

[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid,issuer
"""

# Serves PATH_INFO's file from the document root as the static handler
# would (ranges, ETag, If-Range), after failing the first `fail` requests
# for it with HTTP `code`. The count lives in the state directory.
STATUS_CGI = """\
import os, sys, urllib.parse
ROOT, STATE = {root!r}, {state!r}
name = os.path.basename(os.environ.get("PATH_INFO", ""))
query = dict(urllib.parse.parse_qsl(os.environ.get("QUERY_STRING", "")))
fail, code = int(query.get("fail", "0")), int(query.get("code", "503"))
out = sys.stdout.buffer

def send(status, headers, body=b""):
    head = f"Status: {{status}}\\r\\n" + "".join(f"{{k}}: {{v}}\\r\\n" for k, v in headers)
    out.write(head.encode() + f"Content-Length: {{len(body)}}\\r\\n\\r\\n".encode() + body)

counter = os.path.join(STATE, f"{{name}}.{{code}}")
seen = int(open(counter).read()) if os.path.exists(counter) else 0
path = os.path.join(ROOT, name)
if seen < fail or not name or not os.path.isfile(path):
    open(counter, "w").write(str(seen + 1))
    if not os.path.isfile(path):
        code = 404
    send(f"{{code}} Refused", [("Retry-After", "1")] if code == 503 else [], b"refused\\n")
    sys.exit(0)
st = os.stat(path)
etag = f'"{{st.st_ino:x}}-{{st.st_size:x}}-{{st.st_mtime_ns:x}}"'
size = st.st_size
spec = os.environ.get("HTTP_RANGE", "")
if_range = os.environ.get("HTTP_IF_RANGE")
with open(path, "rb") as f:
    if not spec.startswith("bytes=") or (if_range is not None and if_range != etag):
        send("200 OK", [("ETag", etag), ("Accept-Ranges", "bytes")], f.read())
        sys.exit(0)
    first, last = spec[6:].split(",")[0].split("-")
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    f.seek(start)
    send("206 Partial Content", [("ETag", etag), ("Accept-Ranges", "bytes"),
                                 ("Content-Range", f"bytes {{start}}-{{end}}/{{size}}")],
         f.read(end - start + 1))
"""

MAIN_CONF = """\
server.modules = ("mod_access", "mod_redirect", "mod_setenv", "mod_cgi", "mod_openssl",
                  "mod_accesslog")
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {http}
server.errorlog = "{dir}/origin-error.log"
server.max-worker = 0
server.stat-cache-engine = "disable"
server.follow-symlink = "enable"
accesslog.filename = "{dir}/origin-access.log"
accesslog.format = "{log_format}"
cgi.assign = (".cgi" => "/usr/bin/python3")
mimetype.assign = ("" => "application/octet-stream")
url.redirect = ("^/redirect/(.*)$" => "/$1",
                "^/elsewhere/(.*)$" => "http://127.0.0.1:{other}/$1",
                "^/loop/(.*)$" => "/loop/$1")
$HTTP["url"] =~ "^/norange/" {{
    server.range-requests = "disable"
}}
$HTTP["url"] =~ "^/noetag/" {{
    static-file.etags = "disable"
}}
$HTTP["url"] =~ "^/ignore-if-range/" {{
    setenv.set-request-header = ("If-Range" => "")
}}
$HTTP["url"] =~ "^/slow/" {{
    connection.kbytes-per-second = {slow_kbps}
}}
$SERVER["socket"] == "127.0.0.1:{https}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{dir}/server.pem"
    ssl.privkey = "{dir}/server.key"
}}
$SERVER["socket"] == "127.0.0.1:{mtls}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{dir}/server.pem"
    ssl.privkey = "{dir}/server.key"
    ssl.verifyclient.activate = "enable"
    ssl.verifyclient.enforce = "enable"
    ssl.verifyclient.depth = 2
    ssl.ca-file = "{dir}/ca.pem"
}}
"""

OTHER_CONF = """\
server.modules = ("mod_accesslog")
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/other-error.log"
server.max-worker = 0
server.stat-cache-engine = "disable"
accesslog.filename = "{dir}/other-access.log"
accesslog.format = "{log_format}"
mimetype.assign = ("" => "application/octet-stream")
"""

PLAIN_CONF = """\
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/plain-error.log"
server.max-worker = 0
server.stat-cache-engine = "disable"
mimetype.assign = ("" => "application/octet-stream")
"""

_serial = itertools.count(1)  # names of published files and log markers


@dataclass
class Request:
    status: int
    bytes: int              # body bytes sent (0 for "-")
    range: str              # the Range header, "" if none
    if_range: str
    token: str              # the X-Token header
    boot_id: str            # the RAUC-Boot-ID header
    authorization: str
    path: str

    def span(self):
        """(first, last) byte of a `bytes=a-b` range, or ("-", n) for a
        suffix range, or None."""
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.range)
        if not m:
            return None
        if m.group(1) == "":
            return ("-", int(m.group(2)))
        return (int(m.group(1)), int(m.group(2)) if m.group(2) else None)


def _parse_log(path):
    requests = []
    if not path.exists():
        return requests
    for line in path.read_text().splitlines():
        m = LOG_LINE.match(line)
        assert m, f"unexpected access log line: {line!r}"
        f = [("" if v == "-" else re.sub(r"\\(.)", r"\1", v)) for v in m.groups()]
        requests.append(Request(int(f[0]), int(f[1] or 0), f[2], f[3], f[4], f[5], f[6], f[7]))
    return requests


@dataclass
class Web:
    dir: Path
    docroot: Path
    http: str          # http://127.0.0.1:PORT
    https: str         # https://127.0.0.1:PORT (certificate from `ca`)
    mtls: str          # https://127.0.0.1:PORT, client certificate required
    other: str         # http://127.0.0.1:PORT of the second lighttpd
    http_port: int
    other_port: int
    ca: Path           # the test CA: tls-ca for https and mtls
    wrong_ca: Path     # an unrelated CA
    client_cert: Path  # issued by `ca` for clientAuth
    client_key: Path   # its key, PEM
    client_key_pkcs8: Path
    proc: subprocess.Popen
    other_proc: subprocess.Popen

    def publish(self, src, name=None):
        """Copies @src into the document root as @name (default: a name
        of its own, bN-<file name>), replacing what was there at once
        (a rename). Returns the name."""
        name = name or f"b{next(_serial)}-{Path(src).name}"
        data = Path(src).read_bytes()
        tmp = self.docroot / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.docroot / name)
        return name

    def url(self, name, base=None, prefix=""):
        base = base or self.http
        return f"{base}/{prefix + '/' if prefix else ''}{name}"

    def requests(self, name, other=False):
        """The requests whose path ends in /@name, as logged by the origin
        (or by the other lighttpd), oldest first."""
        self.flush_logs()
        log = self.dir / ("other-access.log" if other else "origin-access.log")
        return [r for r in _parse_log(log) if r.path.rstrip("/").split("/")[-1] == name]

    def flush_logs(self):
        """Makes both lighttpds write out their buffered access log lines
        (they do every few seconds, and at once when they reopen their logs
        on SIGHUP): requests a marker path from each, sends SIGHUP, and
        waits until the marker's line is in the log."""
        marker = f"flush-{next(_serial)}"
        for base, log, proc in ((self.http, "origin-access.log", self.proc),
                                (self.other, "other-access.log", self.other_proc)):
            try:
                urllib.request.urlopen(f"{base}/{marker}").read()
            except urllib.error.HTTPError:  # a 404 is what it gets, and all it needs
                pass
            proc.send_signal(signal.SIGHUP)
            path = self.dir / log
            while not (path.exists() and f"/{marker}" in path.read_text()):
                time.sleep(0.01)


def make_web_pki(d):
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF)

    for ca in ("ca", "wrong-ca"):
        openssl("req", "-config", cnf, "-new", "-x509", "-key", ec_key(d, ca), "-subj",
                f"/O=otabundle tests/CN=streaming {ca}", "-days", "3650", "-sha256",
                "-extensions", "v3_ca", "-out", d / f"{ca}.pem")
    for serial, (name, cn, ext) in enumerate([("server", "127.0.0.1", "v3_server"),
                                              ("client", "device 0001", "v3_client")], 2):
        openssl("req", "-config", cnf, "-new", "-key", ec_key(d, name), "-subj",
                f"/O=otabundle tests/CN={cn}", "-out", d / f"{name}.csr")
        openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
                d / "ca.key", "-set_serial", str(serial), "-days", "3650", "-sha256",
                "-extfile", cnf, "-extensions", ext, "-out", d / f"{name}.pem")
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", d / "client.key", "-out", d / "client.p8")
    os.chmod(d / "client.key", 0o600)


class PlainLighttpd:
    """One more lighttpd on a free port serving the document root @docroot
    over plain HTTP, which a test may kill and start again (a server crash
    and restart). Stopped by stop()."""

    def __init__(self, d, docroot):
        self.dir = Path(d)
        self.port = free_port()
        self.conf = self.dir / "plain-lighttpd.conf"
        self.conf.write_text(PLAIN_CONF.format(docroot=docroot, dir=self.dir, port=self.port))
        self.proc = None
        self.start()

    def start(self):
        self.proc = start_lighttpd(self.conf, self.port, self.dir / "plain-error.log")

    def kill(self):
        """SIGKILL: no goodbye to its clients."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            stop_lighttpd(self.proc)


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    """The streaming tests' web servers, for the whole session."""
    d = tmp_path_factory.mktemp("web")
    make_web_pki(d)
    docroot, state = d / "htdocs", d / "cgi-state"
    docroot.mkdir()
    state.mkdir()
    for prefix in ("norange", "noetag", "ignore-if-range", "slow"):
        (docroot / prefix).symlink_to(".")
    (docroot / "status.cgi").write_text(STATUS_CGI.format(root=str(docroot), state=str(state)))
    http, https, mtls, other = (free_port() for _ in range(4))
    fmt = LOG_FORMAT
    (d / "origin.conf").write_text(MAIN_CONF.format(
        docroot=docroot, dir=d, http=http, https=https, mtls=mtls, other=other,
        slow_kbps=SLOW_KBPS, log_format=fmt))
    (d / "other.conf").write_text(OTHER_CONF.format(docroot=docroot, dir=d, port=other,
                                                    log_format=fmt))
    procs = []
    try:
        procs.append(start_lighttpd(d / "origin.conf", http, d / "origin-error.log"))
        for port in (https, mtls):
            wait_for_port(port, procs[0], d / "origin-error.log")
        procs.append(start_lighttpd(d / "other.conf", other, d / "other-error.log"))
        yield Web(dir=d, docroot=docroot, http=f"http://127.0.0.1:{http}",
                  https=f"https://127.0.0.1:{https}", mtls=f"https://127.0.0.1:{mtls}",
                  other=f"http://127.0.0.1:{other}", http_port=http, other_port=other,
                  ca=d / "ca.pem", wrong_ca=d / "wrong-ca.pem", client_cert=d / "client.pem",
                  client_key=d / "client.key", client_key_pkcs8=d / "client.p8",
                  proc=procs[0], other_proc=procs[1])
    finally:
        for proc in procs:
            stop_lighttpd(proc)

