# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle-install runs a bundle's hooks only from the verified payload,
with RAUC's arguments and environment, and refuses bundles that would take
the install out of its hands (a [handler], an image 'install' hook)."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import OTABUNDLE, assert_ok, check_json_output, run

INSTALL = os.environ.get("OTABUNDLE_INSTALL",
                         str(Path(OTABUNDLE).with_name("otabundle-install")))

HOOK = """#!/bin/sh
case "$1" in
install-check)
    [ -f "$REFUSE" ] && { echo "not today" >&2; exit 1; }
    echo "check $RAUC_MF_COMPATIBLE $RAUC_MF_VERSION $RAUC_SYSTEM_COMPATIBLE" >> "$LOG";;
slot-pre-install) echo "pre $RAUC_SLOT_NAME $RAUC_SLOT_CLASS $RAUC_IMAGE_NAME" >> "$LOG";;
slot-post-install) echo "post $RAUC_SLOT_NAME $RAUC_SLOT_BOOTNAME" >> "$LOG";;
esac
"""


def target(tmp_path, pki):
    d = tmp_path / "target"
    (d / "data").mkdir(parents=True)
    for name in ("root0", "root1"):
        (d / name).write_bytes(b"old")
    conf = d / "system.conf"
    conf.write_text(f"""[system]
compatible=otabundle-test
bootloader=file
data-directory={d / 'data'}

[keyring]
path={pki.root}

[slot.rootfs.0]
device={d / 'root0'}
bootname=A

[slot.rootfs.1]
device={d / 'root1'}
bootname=B
""")
    return conf, d


def hooked_bundle(tmp_path, pki, image_hooks="pre-install;post-install", script=HOOK):
    src = tmp_path / "in"
    src.mkdir()
    (src / "rootfs.img").write_bytes(os.urandom(70000))
    (src / "hook.sh").write_text(script)
    (src / "hook.sh").chmod(0o755)
    (src / "manifest.raucm").write_text(f"""[update]
compatible=otabundle-test
version=2.0

[hooks]
filename=hook.sh
hooks=install-check

[image.rootfs]
filename=rootfs.img
hooks={image_hooks}
""")
    bundle = tmp_path / "hooked.raucb"
    assert_ok(run("create", *pki.sign_args(), src, bundle))
    return bundle


def install(conf, bundle, env):
    return subprocess.run([INSTALL, "--conf", str(conf), "--override-boot-slot", "A", "install",
                           str(bundle)], capture_output=True, text=True,
                          env=dict(os.environ, **env))


def test_hooks_run_in_order_with_raucs_environment(pki, tmp_path):
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki)
    log = tmp_path / "hook.log"
    proc = install(conf, bundle, {"LOG": str(log), "REFUSE": str(tmp_path / "nope")})
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == [
        "check otabundle-test 2.0 otabundle-test",
        "pre rootfs.1 rootfs rootfs.img",
        "post rootfs.1 B",
    ]


def test_install_check_hook_can_refuse_with_its_reason(pki, tmp_path):
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki)
    refuse = tmp_path / "refuse"
    refuse.write_text("")
    proc = install(conf, bundle, {"LOG": str(tmp_path / "hook.log"), "REFUSE": str(refuse)})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "otabundle-install: hook install-check refused the install: not today"]
    assert (d / "root1").read_bytes() == b"old"


def test_hook_runs_from_the_verified_payload_not_the_bundle_file(pki, tmp_path):
    # The hook that runs is the signed one, copied out privately: its path is
    # not inside the bundle's directory and it is gone afterwards.
    conf, d = target(tmp_path, pki)
    script = HOOK.replace('slot-post-install)', 'slot-post-install) echo "$0" >> "$LOG.self";')
    bundle = hooked_bundle(tmp_path, pki, script=script)
    log = tmp_path / "hook.log"
    proc = install(conf, bundle, {"LOG": str(log), "REFUSE": str(tmp_path / "nope")})
    assert proc.returncode == 0, proc.stderr
    ran = Path(Path(str(log) + ".self").read_text().strip())
    assert ran.parent.parent == d / "data"
    assert not ran.exists()
    assert sorted(p.name for p in (d / "data").iterdir()) == ["bootloader.state", "lock", "state"]


def test_bundle_with_an_install_hook_is_refused_not_half_installed(pki, tmp_path):
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki, image_hooks="install")
    proc = install(conf, bundle, {"LOG": str(tmp_path / "hook.log"), "REFUSE": "/nonexistent"})
    assert proc.returncode == 1
    assert "'install' hook" in proc.stderr
    assert (d / "root1").read_bytes() == b"old"


def test_info_refuses_a_bundle_with_an_install_hook_as_install_does(pki, tmp_path):
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki, image_hooks="install")
    proc = subprocess.run([INSTALL, "--conf", str(conf), "--override-boot-slot", "A", "info",
                           str(bundle)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "'install' hook" in proc.stderr


def test_bundle_with_a_handler_is_refused(pki, tmp_path):
    conf, d = target(tmp_path, pki)
    src = tmp_path / "in"
    src.mkdir()
    (src / "rootfs.img").write_bytes(os.urandom(5000))
    (src / "handler.sh").write_text("#!/bin/sh\nexit 0\n")
    (src / "manifest.raucm").write_text("[update]\ncompatible=otabundle-test\n"
                                        "[handler]\nfilename=handler.sh\n"
                                        "[image.rootfs]\nfilename=rootfs.img\n")
    bundle = tmp_path / "handler.raucb"
    assert_ok(run("create", *pki.sign_args(), src, bundle))
    proc = install(conf, bundle, {})
    assert proc.returncode == 1
    assert "[handler]" in proc.stderr
    assert (d / "root1").read_bytes() == b"old"


def test_mark_good_after_a_fallback_settles_the_failed_install(pki, tmp_path):
    # Installed into B, B failed, the bootloader fell back to A, A is marked
    # good: nothing is pending any more and the installed version is A's.
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki, image_hooks="post-install")
    env = {"LOG": str(tmp_path / "hook.log"), "REFUSE": str(tmp_path / "nope")}
    assert install(conf, bundle, env).returncode == 0
    # B failed its boots: the bootloader (file backend) now says B is bad
    # and boots A again.
    (d / "data" / "bootloader.state").write_text(
        "[bootloader]\nprimary=A\n\n[slot.A]\nstate=good\n\n[slot.B]\nstate=bad\n")
    proc = subprocess.run([INSTALL, "--conf", str(conf), "--override-boot-slot", "A",
                           "mark-good"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    cmd = [INSTALL, "--conf", str(conf), "--override-boot-slot", "A", "status",
           "--output-format=json"]
    status = check_json_output(cmd, subprocess.run(cmd, capture_output=True, text=True))
    import json
    result = json.loads(status.stdout)
    assert result["pending"] is None
    assert result["installed_version"] is None


HELD_HOOK = """#!/bin/sh
case "$1" in
slot-pre-install) echo $$ > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 100000;;
esac
"""


def restore_default_signals():
    """SIGINT and SIGTERM at their defaults in the child: a test suite run
    in the background has them ignored, and ignored they stay."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupted_install_kills_its_hook_removes_its_scratch_and_boots_nothing(
        pki, tmp_path, signo):
    conf, d = target(tmp_path, pki)
    bundle = hooked_bundle(tmp_path, pki, image_hooks="pre-install", script=HELD_HOOK)
    pidfile = tmp_path / "hook.pid"
    proc = subprocess.Popen([INSTALL, "--conf", str(conf), "--override-boot-slot", "A",
                             "install", str(bundle)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=restore_default_signals,
                            env=dict(os.environ, PIDFILE=str(pidfile)))
    # Held in its pre-install hook until signalled: no time limit needed.
    while not pidfile.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    hook_pid = int(pidfile.read_text())
    proc.send_signal(signo)
    out, err = proc.communicate()
    assert proc.returncode == -signo, err
    assert err == ""
    assert not Path(f"/proc/{hook_pid}").exists()
    assert not [p.name for p in (d / "data").iterdir() if p.name.startswith("hook-")]
    assert (d / "root1").read_bytes() == b"old"
    boot = (d / "data" / "bootloader.state").read_text()
    assert "primary=B" not in boot and "[slot.B]\nstate=bad" in boot
