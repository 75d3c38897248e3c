# SPDX-License-Identifier: LGPL-2.1-or-later
"""Interrupting otabundle leaves nothing behind: SIGINT or SIGTERM while a
command writes removes its scratch directories and its unfinished output,
kills and reaps mksquashfs with whatever it started, keeps the input and an
existing output as they were, prints nothing, and ends the process by the
signal (a shell sees 128+N and stops its script).

Each test holds otabundle at a known point, after it made its temporaries,
without any timing: mksquashfs reading a pseudo file from a FIFO nobody
writes, an audit log that is a FIFO nobody reads yet (the last step before
the output is renamed into place), or the progress line on a terminal whose
output is stopped, as by ^S (the first line blocks until the test types
^Q)."""
import ctypes
import errno
import os
import signal
import subprocess
import termios
import time
import tty
from pathlib import Path

import pytest

from conftest import OTABUNDLE, make_input, sha256_file, tree_digest

SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.fixture(params=SIGNALS, ids=lambda s: s.name)
def signo(request):
    return request.param


@pytest.fixture
def private_tmp(tmp_path):
    """(environment with a private, empty TMPDIR for otabundle, that directory)."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    return dict(os.environ, TMPDIR=str(d)), d


@pytest.fixture
def subreaper():
    """This process as the reaper of orphans, so that a process mksquashfs
    started comes to the test when mksquashfs dies, and tells how it ended."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    PR_SET_CHILD_SUBREAPER = 36
    assert prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def default_signals():
    """In the child before exec: SIGINT and SIGTERM at their defaults. A
    shell starts background jobs with SIGINT ignored, and an ignored signal
    stays ignored across exec (otabundle keeps it so, as nohup expects), so a
    test suite run in the background would otherwise wait for ever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wchan(pid):
    """Where in the kernel the process's main thread sleeps."""
    return Path(f"/proc/{pid}/wchan").read_text()


def kernel_names_sleeps(tmp):
    """Whether /proc/PID/wchan names the kernel function a process sleeps in
    (some kernels or containers show "0"): the tests below wait on those
    names, so without them they would wait for ever. This probe is the only
    bounded wait, and it only decides whether the tests can run here."""
    fifo = Path(tmp) / "probe.fifo"
    os.mkfifo(fifo)
    probe = subprocess.Popen(["sh", "-c", f"exec 3>'{fifo}'"])
    try:
        for _ in range(5000):
            if wchan(probe.pid) == "wait_for_partner":
                return True
            time.sleep(0.002)
        return False
    finally:
        probe.kill()
        probe.wait()


@pytest.fixture(scope="module", autouse=True)
def needs_wchan(tmp_path_factory):
    if not kernel_names_sleeps(tmp_path_factory.mktemp("wchan")):
        pytest.skip("/proc/PID/wchan does not name kernel sleeps on this machine")


def wait_until(proc, condition, what):
    """Polls @condition. No time limit: every state waited for is one the
    test holds otabundle in until it lets go. Fails if otabundle exits
    first."""
    while not condition():
        assert proc.poll() is None, f"otabundle exited ({proc.returncode}) before {what}"
        time.sleep(0.002)


def entries(directory):
    return sorted(p.name for p in Path(directory).iterdir())


def unnamed_outputs(pid, directory):
    """The unfinished outputs (O_TMPFILE: "DIR/#INODE (deleted)") that
    process @pid has open in @directory."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith(f"{directory}/#") and target.endswith(" (deleted)"):
            found.append(target)
    return found


class HeldAtProgress:
    """otabundle with stderr on a terminal whose output is stopped, as by ^S:
    it draws progress there, and its first progress line blocks it until
    release() types ^Q."""

    def __init__(self, args, env=None):
        master, slave = os.openpty()
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[tty.IFLAG] |= termios.IXON
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        os.set_blocking(master, False)
        os.write(master, b"\x13")
        # The terminal reads ^S on its own time: until then a write goes
        # through (and is read off again, so none is refused for space).
        probe = os.open(os.ttyname(slave), os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        while True:
            try:
                while os.read(master, 65536):
                    pass
            except BlockingIOError:
                pass
            try:
                os.write(probe, b"\0")
            except BlockingIOError:
                break
        os.close(probe)
        os.set_blocking(master, True)
        self.proc = subprocess.Popen([OTABUNDLE, *map(str, args)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=slave, env=env,
                                     preexec_fn=default_signals)
        os.close(slave)
        self.master = master

    def wait_until(self, condition, what):
        """Waits until otabundle is held at its first progress line, which
        must come after @condition holds."""
        while True:
            if wchan(self.proc.pid) == "wait_woken":
                if not condition():
                    self.proc.kill()
                    self.release()
                    pytest.fail(f"otabundle is held before {what}")
                return
            assert self.proc.poll() is None, (
                f"otabundle exited ({self.proc.returncode}) before {what}")
            time.sleep(0.002)

    def release(self):
        """Types ^Q and reads the terminal until otabundle has ended: (exit
        status, stdout, what it wrote on the terminal)."""
        os.write(self.master, b"\x11")
        written = bytearray()
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: otabundle has closed the terminal
                break
            if not chunk:
                break
            written += chunk
        os.close(self.master)
        stdout = self.proc.stdout.read().decode()
        self.proc.stdout.close()
        return self.proc.wait(), stdout, written.replace(b"\0", b"").decode()


def assert_ended_by(signo, status, stdout, stderr, terminal=True):
    """Killed by the signal, having printed nothing: on a terminal, no more
    than the progress line it was held at, erased again."""
    assert status == -signo, (status, stdout, stderr)
    assert stdout == ""
    if terminal:
        assert "\n" not in stderr and "otabundle" not in stderr, stderr
        assert stderr == "" or stderr.endswith("\r\x1b[K"), stderr
    else:
        assert stderr == ""


# --- create -----------------------------------------------------------------------


def test_interrupted_create_kills_mksquashfs_with_what_it_started_and_leaves_nothing(
        pki, tmp_path, private_tmp, subreaper, signo):
    env, tmpdir = private_tmp
    inputdir = tmp_path / "in"
    make_input(inputdir)
    before = tree_digest(inputdir)
    outdir = tmp_path / "out"
    outdir.mkdir()
    fifo, pids = tmp_path / "fifo", tmp_path / "pids"
    os.mkfifo(fifo)
    # A pseudo file whose content mksquashfs reads from a command: the real
    # mksquashfs, held until the test ends it, with a process of its own.
    pseudo = f"held f 444 0 0 echo $PPID $$ > {pids}; exec cat {fifo}"
    proc = subprocess.Popen(
        [OTABUNDLE, "create", *map(str, pki.sign_args()), "--mksquashfs-args",
         f"-p '{pseudo}'", inputdir, outdir / "b.raucb"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=default_signals)
    try:
        wait_until(proc, lambda: pids.exists() and pids.read_text().endswith("\n"),
                   "mksquashfs runs the pseudo file's command")
        mksquashfs, command = map(int, pids.read_text().split())
        assert entries(tmpdir) != []  # the scratch directory

        os.kill(proc.pid, signo)
        stdout, stderr = proc.communicate()
        assert_ended_by(signo, proc.returncode, stdout, stderr, terminal=False)
        # mksquashfs was reaped: not even a zombie is left of it.
        assert not Path(f"/proc/{mksquashfs}").exists()
    finally:
        # A command left waiting for the FIFO ends now, having read nothing.
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as e:
            assert e.errno == errno.ENXIO  # no reader: none was left
    # Its command was killed with it.
    _, status = os.waitpid(command, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert entries(tmpdir) == []
    assert entries(outdir) == []
    assert tree_digest(inputdir) == before


def test_create_interrupted_before_mksquashfs_starts_leaves_nothing(
        pki, tmp_path, private_tmp, signo):
    env, tmpdir = private_tmp
    inputdir = tmp_path / "in"
    make_input(inputdir)
    before = tree_digest(inputdir)
    outdir = tmp_path / "out"
    outdir.mkdir()
    held = HeldAtProgress(["create", *pki.sign_args(), inputdir, outdir / "b.raucb"], env)
    # "pack" begins once the scratch directory and the output exist.
    held.wait_until(lambda: entries(tmpdir) and unnamed_outputs(held.proc.pid, outdir),
                    "the scratch directory and the output exist")

    os.kill(held.proc.pid, signo)
    assert_ended_by(signo, *held.release())

    assert entries(tmpdir) == []
    assert entries(outdir) == []
    assert tree_digest(inputdir) == before


def audit_fifo(tmp_path):
    path = tmp_path / "audit.fifo"
    os.mkfifo(path)
    return path


def interrupt_at_audit_log(proc, fifo, signo):
    """Interrupts @proc while it waits to append to the audit log @fifo (its
    last step before the output is renamed into place), then lets it go on."""
    wait_until(proc, lambda: wchan(proc.pid) == "wait_for_partner",
               "it opens the audit log")
    os.kill(proc.pid, signo)
    # Opened without waiting (a writer that is gone would never come), and
    # kept open until otabundle has ended: its open() is restarted after the
    # signal handler, and a reader that came and went in between would leave
    # it waiting for another one for ever.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    while proc.poll() is None:
        try:
            os.read(reader, 65536)
        except BlockingIOError:
            pass
        time.sleep(0.002)
    os.close(reader)
    stdout, stderr = proc.communicate()
    return proc.returncode, stdout, stderr


def popen(*args, env=None):
    return subprocess.Popen([OTABUNDLE, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=default_signals)


def test_create_interrupted_just_before_the_rename_keeps_the_existing_bundle(
        pki, tmp_path, private_tmp, signo):
    env, tmpdir = private_tmp
    inputdir = tmp_path / "in"
    make_input(inputdir)
    outdir = tmp_path / "out"
    outdir.mkdir()
    existing = outdir / "b.raucb"
    existing.write_bytes(b"the release before")
    fifo = audit_fifo(tmp_path)
    proc = popen("create", "--force", *pki.sign_args(), "--audit-log", fifo, inputdir,
                 existing, env=env)

    assert_ended_by(signo, *interrupt_at_audit_log(proc, fifo, signo), terminal=False)

    assert entries(outdir) == ["b.raucb"]
    assert existing.read_bytes() == b"the release before"
    assert entries(tmpdir) == []


# --- extract ------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["good_bundle", "good_plain_bundle"])
def test_interrupted_extract_leaves_no_staging_directory(request, pki, tmp_path, fixture,
                                                        signo):
    bundle, _, _ = request.getfixturevalue(fixture)
    digest = sha256_file(bundle)
    parent = tmp_path / "extracted"
    parent.mkdir()
    outdir = parent / "out"
    held = HeldAtProgress(["extract", "--keyring", pki.root, bundle, outdir])
    held.wait_until(lambda: any(name.startswith(".out.") for name in entries(parent)),
                    "the staging directory exists")

    os.kill(held.proc.pid, signo)
    assert_ended_by(signo, *held.release())

    assert entries(parent) == []
    assert sha256_file(bundle) == digest


def test_interrupted_extract_leaves_an_existing_empty_outdir_empty(pki, good_plain_bundle,
                                                                   tmp_path):
    bundle, _, _ = good_plain_bundle
    outdir = tmp_path / "out"
    outdir.mkdir()
    held = HeldAtProgress(["extract", "--keyring", pki.root, bundle, outdir])
    held.wait_until(lambda: any(n.startswith(".out.") for n in entries(tmp_path)),
                    "the staging directory exists")

    os.kill(held.proc.pid, signal.SIGTERM)
    assert_ended_by(signal.SIGTERM, *held.release())

    assert outdir.is_dir() and entries(outdir) == []
    assert not [n for n in entries(tmp_path) if n.startswith(".out.")]


# --- signing existing bundles -----------------------------------------------------------


def made_by(*args):
    proc = subprocess.run([OTABUNDLE, *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def signing_command(name, pki, bundle, out, tmp_path):
    """@name's command line writing @out from @bundle."""
    if name == "resign":
        return ["resign", "--keyring", pki.root, *pki.sign_args("rsa2048"), bundle, out]
    if name == "sign":
        return ["sign", *pki.sign_args("rsa2048"), bundle, out]
    sig = tmp_path / "sig.cms"
    if name == "merge":
        made_by("sign", "--detached", sig, *pki.sign_args("rsa2048"), bundle)
        return ["merge", bundle, out, sig]
    made_by("extract-signature", bundle, sig)  # a replacement signs what the bundle signs
    return ["replace-signature", "--keyring", pki.root, bundle, sig, out]


SIGNING = ["resign", "sign", "merge", "replace-signature"]


@pytest.mark.parametrize("command", SIGNING)
def test_interrupted_signing_command_leaves_no_partial_output(pki, good_bundle, tmp_path,
                                                              command, signo):
    bundle, _, _ = good_bundle
    digest = sha256_file(bundle)
    outdir = tmp_path / "out"
    outdir.mkdir()
    held = HeldAtProgress(signing_command(command, pki, bundle, outdir / "b.raucb", tmp_path))
    # "copy" begins once the unfinished output exists.
    held.wait_until(lambda: unnamed_outputs(held.proc.pid, outdir), "the output exists")

    os.kill(held.proc.pid, signo)
    assert_ended_by(signo, *held.release())

    assert entries(outdir) == []
    assert sha256_file(bundle) == digest


def test_interrupted_resign_keeps_the_existing_output(pki, good_bundle, tmp_path):
    bundle, _, _ = good_bundle
    out = tmp_path / "out.raucb"
    out.write_bytes(b"the release before")
    held = HeldAtProgress(["resign", "--force", "--keyring", pki.root,
                           *pki.sign_args("rsa2048"), bundle, out])
    held.wait_until(lambda: unnamed_outputs(held.proc.pid, tmp_path), "the output exists")

    os.kill(held.proc.pid, signal.SIGINT)
    assert_ended_by(signal.SIGINT, *held.release())

    assert out.read_bytes() == b"the release before"
    assert not [n for n in entries(tmp_path) if n.startswith(".out.raucb")]


@pytest.mark.parametrize("command", ["resign", "sign", "sign --detached"])
def test_signing_interrupted_just_before_the_rename_writes_nothing(pki, good_bundle, tmp_path,
                                                                   command, signo):
    bundle, _, _ = good_bundle
    digest = sha256_file(bundle)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "result"
    fifo = audit_fifo(tmp_path)
    signing = [*pki.sign_args("rsa2048"), "--audit-log", fifo]
    args = {
        "resign": ["resign", "--keyring", pki.root, *signing, bundle, out],
        "sign": ["sign", *signing, bundle, out],
        "sign --detached": ["sign", "--detached", out, *signing, bundle],
    }[command]

    assert_ended_by(signo, *interrupt_at_audit_log(popen(*args), fifo, signo), terminal=False)

    assert entries(outdir) == []
    assert sha256_file(bundle) == digest
