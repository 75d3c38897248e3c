# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tests' local servers share (tsa_server.py, http_server.py):
free ports on 127.0.0.1, lighttpd started and stopped as a process group,
and the openssl bits of their throw-away PKIs."""
import os
import signal
import socket
import subprocess
import time

LIGHTTPD = "/usr/sbin/lighttpd"

# The start of an openssl.cnf for `openssl req`: the subject comes from -subj.
CNF_REQ = """\
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

"""

# A CA certificate's extensions.
CNF_V3_CA = """\
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

"""


def openssl(*args):
    proc = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True)
    assert proc.returncode == 0, f"openssl {' '.join(map(str, args))}: {proc.stderr}"
    return proc


def ec_key(d, name):
    """A new EC P-256 key, d/NAME.key."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", d / f"{name}.key")
    return d / f"{name}.key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, log):
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"lighttpd exited ({proc.returncode}): {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"lighttpd did not listen on {port}")


def start_lighttpd(conf, port, errorlog):
    """lighttpd with @conf, once it listens on @port. Its own process group:
    stop_lighttpd() stops it with its CGI scripts (a stalled one too)."""
    proc = subprocess.Popen([LIGHTTPD, "-D", "-f", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for_port(port, proc, errorlog)
    except BaseException:
        stop_lighttpd(proc)
        raise
    return proc


def stop_lighttpd(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait()
