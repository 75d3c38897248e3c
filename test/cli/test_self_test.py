# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device's post-update self-test, contrib/systemd/otabundle-self-test,
run as otabundle-self-test.service runs it but without systemd: hooks in a
directory, then the real otabundle-install marks the booted slot good or
bad on a simulated device (slot files, a custom bootloader backend whose
get-current says which slot booted, so no --override-boot-slot is needed).
Also: the units pass `systemd-analyze verify`, and the example system.conf
passes `check-config`."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import assert_ok
from test_install import CUSTOM_BACKEND, OTABUNDLE_INSTALL, make_bundle, make_device

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
RUNNER = CONTRIB / "otabundle-self-test"
UNITS = ("otabundle-self-test.service", "otabundle-update.service", "otabundle-update.timer")


class Device:
    """A device booted from A with a custom backend; `boot(X)` is a reboot
    into X."""

    def __init__(self, tmp_path, pki):
        self.bootenv = tmp_path / "bootenv"
        self.bootenv.write_text("primary=A\nstate_A=good\nstate_B=good\ncurrent=A\n")
        script = tmp_path / "backend.sh"
        script.write_text(CUSTOM_BACKEND.format(state=self.bootenv, log=tmp_path / "backend.log"))
        script.chmod(0o755)
        self.dev = make_device(tmp_path, pki.root, bootloader="custom",
                               extra=f"[handlers]\nbootloader-custom-backend={script}\n")
        self.hooks = tmp_path / "self-test.d"
        self.hooks.mkdir()

    def boot(self, bootname):
        text = re.sub(r"^current=.*$", f"current={bootname}", self.bootenv.read_text(), flags=re.M)
        self.bootenv.write_text(text)

    def install(self, bundle):
        assert_ok(self.dev.install(bundle, boot=None))

    def status(self):
        return self.dev.status(boot=None)

    def hook(self, name, body, mode=0o755):
        path = self.hooks / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(mode)
        return path

    def self_test(self, timeout=None, hooks=None):
        env = dict(os.environ, OTABUNDLE_INSTALL=OTABUNDLE_INSTALL,
                   OTABUNDLE_CONF=str(self.dev.conf),
                   OTABUNDLE_SELF_TEST_DIR=str(hooks or self.hooks))
        if timeout is not None:
            env["OTABUNDLE_SELF_TEST_TIMEOUT"] = str(timeout)
        return subprocess.run([str(RUNNER)], capture_output=True, text=True, env=env)


@pytest.fixture
def device(tmp_path, pki):
    return Device(tmp_path, pki)


@pytest.fixture
def on_trial(device, pki, tmp_path):
    """The device after installing 2.0 (security version 2) from A and
    rebooting into B: B is pending, on trial."""
    device.install(make_bundle(pki, tmp_path, version="2.0", meta={"security-version": 2}))
    device.boot("B")
    status = device.status()
    assert status["booted"] == "rootfs.1" and status["pending"] == "rootfs.1"
    return device


def assert_exit(proc, code):
    assert proc.returncode == code, (
        f"expected exit {code}, got {proc.returncode}\nstdout: {proc.stdout}\n"
        f"stderr: {proc.stderr}")
    return proc


def last_result(device):
    return device.status()["results"][-1]


def test_all_hooks_pass_marks_the_trial_slot_good_and_commits_the_update(on_trial):
    on_trial.hook("10-network", "echo network up")
    on_trial.hook("20-app", "exit 0")
    assert_exit(on_trial.self_test(), 0)
    status = on_trial.status()
    assert status["pending"] is None
    assert status["installed_version"] == "2.0"
    assert status["security_floor"] == 2
    assert last_result(on_trial)["operation"] == "mark-good"
    assert "state_B=good" in on_trial.bootenv.read_text()


def test_a_failing_hook_marks_the_trial_slot_bad(on_trial):
    on_trial.hook("10-network", "exit 0")
    on_trial.hook("20-app", "echo app did not start >&2; exit 3")
    proc = assert_exit(on_trial.self_test(), 1)
    assert "20-app" in proc.stdout and "status 3" in proc.stdout
    status = on_trial.status()
    assert status["pending"] is None
    assert status["installed_version"] is None  # nothing committed
    assert last_result(on_trial)["operation"] == "mark-bad"
    assert "state_B=bad" in on_trial.bootenv.read_text()


def test_a_hook_that_hangs_times_out_and_marks_the_trial_slot_bad(on_trial):
    on_trial.hook("10-hangs", "echo waiting; sleep 100000")
    proc = assert_exit(on_trial.self_test(timeout=1), 1)
    assert "10-hangs timed out after 1 s" in proc.stdout
    assert last_result(on_trial)["operation"] == "mark-bad"
    assert "state_B=bad" in on_trial.bootenv.read_text()


def test_a_hook_that_ignores_sigterm_is_killed_and_counts_as_timed_out(on_trial):
    on_trial.hook("10-stubborn", "trap '' TERM; while :; do sleep 1; done")
    proc = assert_exit(on_trial.self_test(timeout=1), 1)
    assert "10-stubborn timed out after 1 s" in proc.stdout
    assert last_result(on_trial)["operation"] == "mark-bad"


def test_hooks_after_the_first_failure_are_not_run(on_trial, tmp_path):
    marker = tmp_path / "ran"
    on_trial.hook("10-fails", "exit 1")
    on_trial.hook("20-later", f"touch '{marker}'")
    proc = assert_exit(on_trial.self_test(), 1)
    assert not marker.exists()
    assert "not run: 20-later" in proc.stdout


def test_hooks_run_in_lexical_byte_order(on_trial, tmp_path):
    order = tmp_path / "order"
    for name in ("b", "A", "10-x", "_z", "a-1"):
        on_trial.hook(name, f"echo {name} >> '{order}'")
    assert_exit(on_trial.self_test(), 0)
    assert order.read_text().split() == sorted(["b", "A", "10-x", "_z", "a-1"])


def test_non_executable_files_and_backups_are_skipped(on_trial, tmp_path):
    ran = tmp_path / "ran"
    on_trial.hook("10-not-executable", f"touch '{ran}.1'; exit 1", mode=0o644)
    on_trial.hook("20-app~", f"touch '{ran}.2'; exit 1")
    on_trial.hook("20-app.dpkg-old", f"touch '{ran}.3'; exit 1")
    on_trial.hook("30-check.sh", f"touch '{ran}.4'; exit 1")
    (on_trial.hooks / "40-directory").mkdir(mode=0o755)
    on_trial.hook("50-ok", "exit 0")
    proc = assert_exit(on_trial.self_test(), 0)
    assert not list(tmp_path.glob("ran.*"))
    for name in ("10-not-executable", "20-app~", "20-app.dpkg-old", "30-check.sh",
                 "40-directory"):
        assert f"skipped: {name}" in proc.stdout
    assert on_trial.status()["installed_version"] == "2.0"


def test_an_empty_hook_directory_marks_good(on_trial):
    assert_exit(on_trial.self_test(), 0)
    assert on_trial.status()["installed_version"] == "2.0"


def test_a_missing_hook_directory_marks_good(on_trial, tmp_path):
    assert_exit(on_trial.self_test(hooks=tmp_path / "absent"), 0)
    assert on_trial.status()["installed_version"] == "2.0"


def test_hook_output_carries_the_hook_name(on_trial):
    on_trial.hook("10-net", "echo link up; echo no carrier on eth1 >&2")
    proc = assert_exit(on_trial.self_test(), 0)
    assert "10-net: link up\n" in proc.stdout
    assert "10-net: no carrier on eth1\n" in proc.stdout


def test_hooks_are_told_the_booted_slot_and_whether_it_is_on_trial(on_trial, tmp_path):
    seen = tmp_path / "seen"
    on_trial.hook("10-env", f"echo \"$OTABUNDLE_BOOTED_SLOT $OTABUNDLE_PENDING_SLOT "
                            f"$OTABUNDLE_SELF_TEST_TRIAL $OTABUNDLE_SELF_TEST_TIMEOUT\" > '{seen}'")
    assert_exit(on_trial.self_test(timeout=7), 0)
    assert seen.read_text().split() == ["rootfs.1", "rootfs.1", "yes", "7"]


def test_without_an_update_pending_passing_hooks_still_mark_good(device):
    # Boot counters count every boot: mark-good resets them, as RAUC's
    # rauc-mark-good.service does on every boot.
    assert_exit(device.self_test(), 0)
    assert last_result(device)["operation"] == "mark-good"


def test_without_an_update_pending_a_failing_hook_marks_nothing(device):
    device.hook("10-app", "exit 1")
    before = device.bootenv.read_text()
    proc = assert_exit(device.self_test(), 3)
    assert "not on trial" in proc.stdout
    assert device.bootenv.read_text() == before
    assert device.status()["results"] == []


def test_a_bad_timeout_is_a_usage_error_and_marks_nothing(on_trial):
    proc = assert_exit(on_trial.self_test(timeout="soon"), 2)
    assert "OTABUNDLE_SELF_TEST_TIMEOUT" in proc.stderr
    assert on_trial.status()["pending"] == "rootfs.1"


def test_a_failing_mark_command_is_exit_4(on_trial):
    # /bin/false stands in for an otabundle-install that cannot mark.
    env = dict(os.environ, OTABUNDLE_INSTALL="/bin/false",
               OTABUNDLE_SELF_TEST_DIR=str(on_trial.hooks))
    proc = subprocess.run([str(RUNNER)], capture_output=True, text=True, env=env)
    assert_exit(proc, 4)


# --- the units and the example configuration --------------------------------------------------


def test_example_system_conf_passes_check_config():
    proc = subprocess.run([OTABUNDLE_INSTALL, "--conf", str(CONTRIB / "system.conf.example"),
                           "check-config"], capture_output=True, text=True)
    assert_exit(proc, 0)


def test_units_pass_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze (systemd) not installed")
    # verify wants every ExecStart binary to exist: the units point at the
    # installed paths, so check copies pointing at the built ones.
    built = {"/usr/bin/otabundle-install": OTABUNDLE_INSTALL,
             "/usr/libexec/otabundle/otabundle-self-test": str(RUNNER),
             "/usr/libexec/otabundle/otabundle-update": str(CONTRIB / "otabundle-update")}
    for unit in UNITS:
        text = (CONTRIB / unit).read_text()
        for installed, here in built.items():
            text = text.replace(installed, here)
        (tmp_path / unit).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *[str(tmp_path / u) for u in UNITS]],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
