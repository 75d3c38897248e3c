# SPDX-License-Identifier: LGPL-2.1-or-later
"""One state-changing otabundle-install at a time, with real concurrent
processes: install, mark-good and mark-bad hold the data directory's lock
for their whole run, and a second one fails at once instead of writing the
same slot or saving a stale state over the first one's. The lock dies with
its process.

An install is held still, deterministically, by its bundle's install-check
hook: it creates the file $OTA_TEST_STARTED, then waits until
$OTA_TEST_RELEASE exists. Every wait here is bounded and only fails the
test when a process hangs; no test measures time."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import assert_ok, check_json_output, run, write_manifest
from test_install import COMPATIBLE, assert_refused, install_cmd, make_bundle, make_device

BUSY = "another otabundle-install is running"
# Only for a hung process: the tests never get near it.
HANG = 120

BLOCKING_HOOK = """#!/bin/sh
if [ "$1" = install-check ]; then
    : > "$OTA_TEST_STARTED"
    while [ ! -e "$OTA_TEST_RELEASE" ]; do sleep 0.05; done
fi
"""


def blocking_bundle(pki, d, image):
    """A bundle writing @image to rootfs, whose install-check hook holds the
    install until it is released."""
    src = Path(d) / "blocking.in"
    src.mkdir()
    (src / "rootfs.img").write_bytes(image)
    (src / "hook.sh").write_text(BLOCKING_HOOK)
    (src / "hook.sh").chmod(0o755)
    write_manifest(src, {"rootfs": "rootfs.img"}, compatible=COMPATIBLE, version="2.0.0",
                   extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    bundle = Path(d) / "blocking.raucb"
    assert_ok(run("create", *pki.sign_args(), src, bundle))
    return bundle


class HeldInstall:
    """`otabundle-install install` of a blocking bundle, run in the
    background and held in its install-check hook."""

    def __init__(self, device, bundle, tmp_path):
        self.started = tmp_path / "hook-started"
        self.release_file = tmp_path / "hook-release"
        env = dict(os.environ, OTA_TEST_STARTED=str(self.started),
                   OTA_TEST_RELEASE=str(self.release_file))
        self.proc = subprocess.Popen(install_cmd(device.conf, "install", bundle), env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_until_held(self):
        deadline = time.monotonic() + HANG
        while not self.started.exists():
            assert self.proc.poll() is None, f"install ended early: {self.proc.communicate()}"
            assert time.monotonic() < deadline, "the install-check hook never started"
            time.sleep(0.02)

    def release(self):
        self.release_file.touch()

    def finish(self):
        self.release()
        out, err = self.proc.communicate(timeout=HANG)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)

    def close(self):
        # Also lets an orphaned hook (its installer killed) finish.
        self.release()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=HANG)


@pytest.fixture
def device(tmp_path, pki):
    return make_device(tmp_path, pki.root)


@pytest.fixture
def held(device, pki, tmp_path):
    """An install of `held.image` into rootfs.1, held in its hook."""
    image = os.urandom(30000)
    h = HeldInstall(device, blocking_bundle(pki, tmp_path, image), tmp_path)
    h.image = image
    h.wait_until_held()
    yield h
    h.close()


def run_now(device, *args, boot="A"):
    """A command that must not wait for the lock: bounded, so that waiting
    fails the test instead of hanging it."""
    cmd = install_cmd(device.conf, *args, boot=boot)
    return check_json_output(cmd, subprocess.run(cmd, capture_output=True, text=True,
                                                 timeout=HANG))


def test_second_install_while_one_runs_fails_at_once_and_the_slot_holds_the_first(
        pki, device, held, tmp_path):
    other = make_bundle(pki, tmp_path, {"rootfs": os.urandom(30000)}, version="3.0.0")

    assert_refused(run_now(device, "install", other), BUSY, path=device.data / "lock")
    # It did not wait for the first: that one is still held in its hook.
    assert held.proc.poll() is None

    assert_ok(held.finish())
    assert device.slots["rootfs.1"].read_bytes() == held.image
    assert device.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    results = device.status()["results"]
    assert [(r["operation"], r["ok"]) for r in results] == [("install", True)]
    assert results[0]["reason"].startswith("installed 2.0.0 into")


@pytest.mark.parametrize("command,boot", [("mark-good", "A"), ("mark-bad", "A"),
                                          ("mark-good", "B")])
def test_mark_during_a_running_install_fails_at_once_and_changes_nothing(
        device, held, command, boot):
    before = device.snapshot()

    assert_refused(run_now(device, command, boot=boot), BUSY, path=device.data / "lock")
    assert held.proc.poll() is None
    assert device.snapshot() == before

    assert_ok(held.finish())
    status = device.status()
    assert [r["operation"] for r in status["results"]] == ["install"]
    assert status["pending"] == "rootfs.1"
    assert device.slot("rootfs.0")["state"] == "good"


def test_status_and_info_work_while_an_install_runs(pki, device, held, tmp_path):
    status = json.loads(assert_ok(run_now(device, "status", "--output-format=json")).stdout)
    assert_ok(run_now(device, "status"))
    assert_ok(run_now(device, "info", make_bundle(pki, tmp_path, version="3.0.0")))
    assert held.proc.poll() is None
    assert status["pending"] is None and status["results"] == []
    assert_ok(held.finish())


def test_install_after_the_lock_holder_was_killed_succeeds(pki, device, held, tmp_path):
    held.proc.send_signal(signal.SIGKILL)
    held.proc.wait(timeout=HANG)
    # Its hook still runs, orphaned: the lock must not live on in it.
    assert not held.release_file.exists()
    image = os.urandom(30000)

    assert_ok(run_now(device, "install",
                      make_bundle(pki, tmp_path, {"rootfs": image}, version="3.0.0")))
    assert device.slots["rootfs.1"].read_bytes() == image
    assert_ok(run_now(device, "mark-good", boot="B"))


def test_lock_file_that_is_a_symlink_is_refused_and_not_followed(pki, device, tmp_path):
    device.data.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (device.data / "lock").symlink_to(elsewhere)
    before = device.snapshot()

    assert_refused(run_now(device, "install", make_bundle(pki, tmp_path)), "symbolic link",
                   path=device.data / "lock")
    assert_refused(run_now(device, "mark-good"), "symbolic link", path=device.data / "lock")
    assert not elsewhere.exists()
    assert device.snapshot() == before
