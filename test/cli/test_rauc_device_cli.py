# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle-install as `rauc` on a device: the command lines that scripts
and systemd units run (`rauc install`, `rauc info`, `rauc status` in each
output format, `rauc status mark-good|mark-bad|mark-active
[booted|other|SLOT]`), through a `rauc` symlink to the built
otabundle-install found on PATH, on the simulated device of test_install.py.

Where Debian's real rauc 1.8 can run here, its output is the reference:
rauc 1.8 is built with its D-Bus service, so `rauc status` asks a `rauc
service` that each such test starts on a private session bus
(dbus-run-session, DBUS_STARTER_BUS_TYPE=session) with the same kind of
system.conf and a `custom` bootloader backend script, and stops again."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from test_install import (CUSTOM_BACKEND, OTABUNDLE_INSTALL, assert_ok, make_bundle,
                          make_device, release)  # noqa: F401 (release: a fixture)

RAUC = "/usr/bin/rauc"


@pytest.fixture
def rauc_dir(tmp_path):
    """A directory holding `rauc`, a symlink to otabundle-install, as a device
    image would have it in /usr/bin."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "rauc").symlink_to(OTABUNDLE_INSTALL)
    return d


def rauc(rauc_dir, dev, *args, boot="A", conf=True):
    """Runs `rauc` from PATH, as a script would, with the device's conf and
    the booted slot given (a test can't reboot)."""
    cmd = ["rauc"]
    if conf:
        cmd += ["--conf", str(dev.conf)]
    if boot is not None:
        cmd.append(f"--override-boot-slot={boot}")
    env = dict(os.environ, PATH=f"{rauc_dir}:{os.environ['PATH']}")
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env)


def status_json(rauc_dir, dev, *extra, boot="A"):
    return json.loads(assert_ok(rauc(rauc_dir, dev, "status", "--output-format=json", *extra,
                                     boot=boot)).stdout)


def slots_of(doc):
    """RAUC's slot list [{name: {...}}] as {name: {...}}."""
    return {name: slot for entry in doc["slots"] for name, slot in entry.items()}


def shell_vars(text):
    """The variables a POSIX shell gets from `eval "$(rauc status --output-format=shell)"`."""
    proc = subprocess.run(["sh", "-c", 'set -a; eval "$1"; env -0', "sh", text], capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"]}, check=True)
    return dict(e.split("=", 1) for e in proc.stdout.split("\0") if "=" in e
                if e.split("=", 1)[0].startswith(("RAUC_", "OTABUNDLE_")))


def assert_one_line(proc, code, *words):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("otabundle-install: "), proc.stderr
    if code == 1:
        assert len(lines) == 1, proc.stderr
    for w in words:
        assert w.lower() in proc.stderr.lower(), proc.stderr


@pytest.fixture
def device(tmp_path, pki):
    return make_device(tmp_path, pki.root)


# --- install and info ----------------------------------------------------------------


def test_rauc_install_writes_the_inactive_slot_and_says_it_succeeded(pki, device, rauc_dir,
                                                                      tmp_path):
    image = os.urandom(50000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image})
    proc = assert_ok(rauc(rauc_dir, device, "install", bundle))
    assert proc.stdout == f"Installing `{bundle}` succeeded\n"
    assert device.slots["rootfs.1"].read_bytes() == image
    assert status_json(rauc_dir, device)["boot_primary"] == "rootfs.1"


def test_rauc_install_of_a_bundle_for_another_device_fails_with_one_line(pki, device, rauc_dir,
                                                                         tmp_path):
    bundle = make_bundle(pki, tmp_path, compatible="someone-else")
    before = device.snapshot()
    assert_one_line(rauc(rauc_dir, device, "install", bundle), 1, "someone-else")
    assert device.snapshot() == before


def test_rauc_install_ignore_compatible_is_refused_not_ignored(pki, device, rauc_dir, tmp_path):
    bundle = make_bundle(pki, tmp_path, compatible="someone-else")
    before = device.snapshot()
    assert_one_line(rauc(rauc_dir, device, "install", "--ignore-compatible", bundle), 2,
                    "--ignore-compatible")
    assert device.snapshot() == before


@pytest.mark.parametrize("fmt", ["json", "json-pretty"])
def test_rauc_info_prints_raucs_info_document_verified_by_the_system_keyring(
        pki, device, rauc_dir, tmp_path, fmt):
    bundle = make_bundle(pki, tmp_path, version="3.1")
    doc = json.loads(assert_ok(rauc(rauc_dir, device, "info", f"--output-format={fmt}",
                                    bundle)).stdout)
    assert (doc["compatible"], doc["version"], doc["verified"]) == ("otabundle-test", "3.1",
                                                                    True)
    assert list(doc["images"][0]) == ["rootfs"]


def test_rauc_info_readable_names_compatible_version_and_images(pki, device, rauc_dir,
                                                                 tmp_path):
    bundle = make_bundle(pki, tmp_path, version="3.1")
    out = assert_ok(rauc(rauc_dir, device, "info", bundle)).stdout
    assert "Compatible: \t'otabundle-test'\n" in out
    assert "Version:    \t'3.1'\n" in out
    assert "1 Image:\n  [rootfs]\n" in out


def test_rauc_info_of_a_bundle_the_device_does_not_trust_fails(pki, release, rauc_dir, tmp_path):
    dev = make_device(tmp_path, release.root)
    bundle = make_bundle(pki, tmp_path)
    assert_one_line(rauc(rauc_dir, dev, "info", bundle), 1)


# --- status ----------------------------------------------------------------------------


def test_rauc_status_json_has_raucs_members_and_values(device, rauc_dir):
    doc = status_json(rauc_dir, device)
    assert list(doc)[:5] == ["compatible", "variant", "booted", "boot_primary", "slots"]
    assert (doc["compatible"], doc["booted"], doc["boot_primary"]) == ("otabundle-test", "A",
                                                                      "rootfs.0")
    slots = slots_of(doc)
    assert list(slots["rootfs.0"]) == ["class", "device", "type", "bootname", "state", "parent",
                                       "mountpoint", "boot_status"]
    assert slots["rootfs.0"] == {"class": "rootfs", "device": str(device.slots["rootfs.0"]),
                                 "type": "raw", "bootname": "A", "state": "booted",
                                 "parent": None, "mountpoint": None, "boot_status": "good"}
    assert slots["rootfs.1"]["state"] == "inactive"


def test_rauc_status_json_keeps_otabundles_facts_beside_raucs(pki, device, rauc_dir, tmp_path):
    assert_ok(rauc(rauc_dir, device, "install", make_bundle(pki, tmp_path)))
    doc = status_json(rauc_dir, device)
    assert (doc["installed_version"], doc["security_floor"], doc["pending"]) == (None, 0,
                                                                                "rootfs.1")


def test_rauc_status_json_pretty_is_the_same_document(device, rauc_dir):
    pretty = assert_ok(rauc(rauc_dir, device, "status", "--output-format=json-pretty")).stdout
    assert "\n  " in pretty
    assert json.loads(pretty) == status_json(rauc_dir, device)


def test_rauc_status_detailed_shows_what_was_installed_into_each_slot(pki, device, rauc_dir,
                                                                      tmp_path):
    assert_ok(rauc(rauc_dir, device, "install", make_bundle(pki, tmp_path, version="4.2")))
    slots = slots_of(status_json(rauc_dir, device, "--detailed"))
    status = slots["rootfs.1"]["slot_status"]
    assert status["bundle"]["version"] == "4.2"
    assert len(status["bundle"]["hash"]) == 64
    assert status["installed"]["timestamp"].endswith("Z")
    assert "slot_status" not in slots_of(status_json(rauc_dir, device))["rootfs.1"]


def test_rauc_status_shell_variables_evaluate_in_sh(pki, device, rauc_dir, tmp_path):
    assert_ok(rauc(rauc_dir, device, "install", make_bundle(pki, tmp_path)))
    out = assert_ok(rauc(rauc_dir, device, "status", "--output-format=shell", "--detailed")).stdout
    env = shell_vars(out)
    assert env["RAUC_SYSTEM_COMPATIBLE"] == "otabundle-test"
    assert env["RAUC_SYSTEM_BOOTED_BOOTNAME"] == "A"
    assert env["RAUC_BOOT_PRIMARY"] == "rootfs.1"
    assert env["RAUC_SYSTEM_SLOTS"] == "rootfs.0 rootfs.1"
    assert env["RAUC_SLOTS"] == "1 2"
    assert (env["RAUC_SLOT_STATE_1"], env["RAUC_SLOT_STATE_2"]) == ("booted", "inactive")
    assert env["RAUC_SLOT_DEVICE_2"] == str(device.slots["rootfs.1"])
    assert env["RAUC_SLOT_STATUS_BUNDLE_VERSION_2"] == "1.0.0"
    assert env["OTABUNDLE_PENDING"] == "rootfs.1"


def test_rauc_status_readable_shows_raucs_sections(device, rauc_dir):
    out = assert_ok(rauc(rauc_dir, device, "status")).stdout
    assert "=== System Info ===\nCompatible:  otabundle-test\n" in out
    assert "Booted from: rootfs.0 (A)\n" in out
    assert "=== Bootloader ===\nActivated: rootfs.0 (A)\n" in out
    assert f"[rootfs.1] ({device.slots['rootfs.1']}, raw, inactive)\n" in out


def test_rauc_status_with_an_unknown_output_format_is_wrong_usage(device, rauc_dir):
    assert_one_line(rauc(rauc_dir, device, "status", "--output-format=xml"), 2, "xml")


def test_rauc_status_writes_nothing(device, rauc_dir):
    assert_ok(rauc(rauc_dir, device, "status", "--output-format=json"))
    assert not device.state_file.exists()


# --- marks -----------------------------------------------------------------------------


def test_rauc_status_mark_good_without_a_slot_marks_the_booted_one(device, rauc_dir):
    proc = assert_ok(rauc(rauc_dir, device, "status", "mark-good"))
    assert proc.stdout == "rauc status: marked slot rootfs.0 as good\n"


def test_rauc_status_mark_bad_other_marks_the_other_slot_of_the_class(device, rauc_dir):
    proc = assert_ok(rauc(rauc_dir, device, "status", "mark-bad", "other"))
    assert proc.stdout == "rauc status: marked slot rootfs.1 as bad\n"
    slots = slots_of(status_json(rauc_dir, device))
    assert (slots["rootfs.0"]["boot_status"], slots["rootfs.1"]["boot_status"]) == ("good", "bad")


def test_rauc_status_mark_active_slot_makes_it_primary(device, rauc_dir):
    proc = assert_ok(rauc(rauc_dir, device, "status", "mark-active", "rootfs.1"))
    assert proc.stdout == "rauc status: activated slot rootfs.1\n"
    assert status_json(rauc_dir, device)["boot_primary"] == "rootfs.1"


def test_rauc_status_mark_active_booted_cancels_a_pending_install(pki, device, rauc_dir,
                                                                  tmp_path):
    assert_ok(rauc(rauc_dir, device, "install", make_bundle(pki, tmp_path)))
    assert_ok(rauc(rauc_dir, device, "status", "mark-active", "booted"))
    doc = status_json(rauc_dir, device)
    assert (doc["boot_primary"], doc["pending"]) == ("rootfs.0", None)


def test_rauc_mark_of_an_unknown_slot_fails_with_one_line(device, rauc_dir):
    before = device.snapshot()
    assert_one_line(rauc(rauc_dir, device, "status", "mark-bad", "appfs.0"), 1, "appfs.0")
    assert device.snapshot() == before


def test_rauc_mark_with_an_unknown_subcommand_or_too_many_arguments_is_wrong_usage(device,
                                                                                    rauc_dir):
    assert_one_line(rauc(rauc_dir, device, "status", "mark-ugly"), 2, "mark-ugly")
    assert_one_line(rauc(rauc_dir, device, "status", "mark-good", "booted", "other"), 2)


def test_update_cycle_through_rauc_install_reboot_and_mark_good_commits(pki, device, rauc_dir,
                                                                       tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0", meta={"security-version": 3})
    assert_ok(rauc(rauc_dir, device, "install", bundle))
    assert_ok(rauc(rauc_dir, device, "status", "mark-good", boot="B"))
    doc = status_json(rauc_dir, device, boot="B")
    assert (doc["booted"], doc["boot_primary"]) == ("B", "rootfs.1")
    assert (doc["installed_version"], doc["security_floor"], doc["pending"]) == ("2.0", 3, None)


def test_rauc_mark_bad_after_the_reboot_falls_back(pki, device, rauc_dir, tmp_path):
    assert_ok(rauc(rauc_dir, device, "install", make_bundle(pki, tmp_path)))
    assert_ok(rauc(rauc_dir, device, "status", "mark-bad", boot="B"))
    doc = status_json(rauc_dir, device, boot="B")
    assert (doc["boot_primary"], doc["pending"]) == ("rootfs.0", None)
    assert slots_of(doc)["rootfs.1"]["boot_status"] == "bad"


def test_mark_active_of_a_slot_below_the_security_floor_is_refused(pki, device, rauc_dir,
                                                                   tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"security-version": 5})
    assert_ok(rauc(rauc_dir, device, "install", bundle))
    assert_ok(rauc(rauc_dir, device, "status", "mark-good", boot="B"))
    # rootfs.0 holds the factory system: nothing recorded, below floor 5.
    assert_one_line(rauc(rauc_dir, device, "status", "mark-active", "other", boot="B"), 1,
                    "security floor")
    assert status_json(rauc_dir, device, boot="B")["boot_primary"] == "rootfs.1"


# --- otabundle-install's own marks take RAUC's slots -------------------------------------


@pytest.mark.parametrize("which", ["other", "rootfs.1"])
def test_otabundle_install_mark_bad_takes_other_or_a_slot_name(device, which):
    assert_ok(device.run("mark-bad", which))
    assert device.slot("rootfs.1")["state"] == "bad"
    assert device.slot("rootfs.0")["state"] == "good"


def test_otabundle_install_mark_active_makes_the_slot_primary(device):
    assert_ok(device.run("mark-active", "other"))
    assert device.primary() == "B"


def test_otabundle_install_version(device):
    proc = assert_ok(subprocess.run([OTABUNDLE_INSTALL, "--version"], capture_output=True,
                                    text=True))
    assert proc.stdout.startswith("otabundle-install ")


# --- what otabundle-install does not run as rauc ----------------------------------------


@pytest.mark.parametrize("args,words", [
    (["bundle", "in", "out.raucb"], ["build host"]),
    (["resign", "in.raucb", "out.raucb"], ["build host"]),
    (["write-slot", "rootfs.1", "image"], ["verified bundle"]),
    (["service"], ["service"]),
    (["install", "--keyring=k.pem", "b.raucb"], ["--keyring"]),
])
def test_rauc_commands_and_options_otabundle_install_does_not_run_are_wrong_usage(
        device, rauc_dir, args, words):
    before = device.snapshot()
    assert_one_line(rauc(rauc_dir, device, *args), 2, *words)
    assert device.snapshot() == before


def test_rauc_version_and_help_name_otabundle_install(rauc_dir, device):
    assert rauc(rauc_dir, device, "--version", conf=False, boot=None).stdout.startswith(
        "otabundle-install ")
    assert "status" in assert_ok(rauc(rauc_dir, device, "--help", conf=False, boot=None)).stdout


# --- the same device under Debian's rauc 1.8 -------------------------------------------


def custom_device(tmp_path, pki, name):
    """A device whose boot selection is a `custom` backend script (as both
    rauc 1.8 and otabundle-install run it) keeping its state in a file."""
    d = tmp_path / f"{name}-boot"
    d.mkdir()
    state, log, script = d / "bootenv", d / "backend.log", d / "backend.sh"
    state.write_text("primary=A\nstate_A=good\nstate_B=good\ncurrent=A\n")
    script.write_text(CUSTOM_BACKEND.format(state=state, log=log))
    script.chmod(0o755)
    return make_device(tmp_path, pki.root, bootloader="custom", name=name,
                       extra=f"[handlers]\nbootloader-custom-backend={script}\n")


def real_rauc(tmp_path, dev, commands):
    """Runs each of @commands (argument lists) with Debian's rauc 1.8 against
    a `rauc service` for @dev on a private session bus; returns
    [(exit status, stdout, stderr)]."""
    work = tmp_path / "real-rauc"
    work.mkdir(exist_ok=True)
    lines = ["export DBUS_STARTER_BUS_TYPE=session",
             f"{RAUC} service --conf={dev.conf} --override-boot-slot=A "
             f">'{work}/service.log' 2>&1 &",
             "pid=$!",
             # Until the service answers; bounded, it only ends a hung start.
             f"i=0; until {RAUC} status >/dev/null 2>&1; do i=$((i+1)); "
             "[ $i -gt 300 ] && break; sleep 0.1; done"]
    for n, args in enumerate(commands):
        quoted = " ".join(f"'{a}'" for a in args)
        lines.append(f"{RAUC} {quoted} >'{work}/out.{n}' 2>'{work}/err.{n}'; "
                     f"echo $? >'{work}/rc.{n}'")
    lines += ["kill $pid", "wait $pid"]
    script = work / "run.sh"
    script.write_text("\n".join(lines) + "\n")
    subprocess.run(["dbus-run-session", "--", "sh", str(script)], capture_output=True)
    return [(int((work / f"rc.{n}").read_text()), (work / f"out.{n}").read_text(),
             (work / f"err.{n}").read_text()) for n in range(len(commands))]


@pytest.fixture
def twins(tmp_path, pki):
    """The same device twice: one for rauc 1.8, one for otabundle-install."""
    return custom_device(tmp_path, pki, "rauc"), custom_device(tmp_path, pki, "ota")


def comparable(slot, dev):
    """A slot of `rauc status` JSON with its device path made relative to
    the device's root, so twins compare equal."""
    slot = dict(slot)
    slot["device"] = str(Path(slot["device"]).relative_to(dev.root))
    return slot


def test_status_json_matches_rauc_1_8_member_for_member(tmp_path, twins, rauc_dir):
    rauc_dev, ota_dev = twins
    [(rc, out, err)] = real_rauc(tmp_path, rauc_dev, [["status", "--output-format=json"]])
    assert rc == 0, err
    theirs = json.loads(out)
    ours = status_json(rauc_dir, ota_dev)
    assert list(theirs) == [k for k in ours if k in theirs]
    assert {k: v for k, v in ours.items() if k in theirs and k != "slots"} == \
        {k: v for k, v in theirs.items() if k != "slots"}
    their_slots, our_slots = slots_of(theirs), slots_of(ours)
    assert set(their_slots) == set(our_slots)
    for name in their_slots:
        assert list(their_slots[name]) == list(our_slots[name])
        assert comparable(their_slots[name], rauc_dev) == comparable(our_slots[name], ota_dev)


def test_status_shell_variables_match_rauc_1_8(tmp_path, twins, rauc_dir):
    rauc_dev, ota_dev = twins
    results = real_rauc(tmp_path, rauc_dev, [["status", "--output-format=shell"],
                                             ["status", "--output-format=shell", "--detailed"]])
    for (rc, out, err), extra in zip(results, [[], ["--detailed"]]):
        assert rc == 0, err
        theirs = shell_vars(out)
        ours = shell_vars(assert_ok(rauc(rauc_dir, ota_dev, "status", "--output-format=shell",
                                         *extra)).stdout)
        # Every variable RAUC 1.8 sets, otabundle-install sets (RAUC lists
        # the slots in its hash table's order: compared by slot name).
        assert set(theirs) <= set(ours)
        by_slot = {}
        for env in (theirs, ours):
            names = env["RAUC_SYSTEM_SLOTS"].split()
            by_slot[id(env)] = {
                names[int(k.rsplit("_", 1)[1]) - 1] + ":" + k.rsplit("_", 1)[0]: v
                for k, v in env.items() if k.startswith("RAUC_SLOT_") and
                not k.startswith(("RAUC_SLOT_DEVICE_", "RAUC_SLOT_STATUS_"))}
        assert by_slot[id(theirs)] == by_slot[id(ours)]
        for k in ("RAUC_SYSTEM_COMPATIBLE", "RAUC_SYSTEM_VARIANT", "RAUC_SYSTEM_BOOTED_BOOTNAME",
                  "RAUC_BOOT_PRIMARY"):
            assert theirs[k] == ours[k], k


@pytest.mark.parametrize("args", [["mark-good"], ["mark-good", "booted"], ["mark-bad", "other"],
                                  ["mark-active", "other"], ["mark-bad", "rootfs.1"],
                                  ["mark-active", "rootfs.0"]])
def test_status_mark_prints_and_does_what_rauc_1_8_does(tmp_path, twins, rauc_dir, args):
    rauc_dev, ota_dev = twins
    [(rc, out, err), (_, after, _)] = real_rauc(
        tmp_path, rauc_dev, [["status", *args], ["status", "--output-format=json"]])
    assert rc == 0, err
    proc = assert_ok(rauc(rauc_dir, ota_dev, "status", *args))
    assert proc.stdout == out
    theirs, ours = json.loads(after), status_json(rauc_dir, ota_dev)
    assert ours["boot_primary"] == theirs["boot_primary"]
    assert {n: s["boot_status"] for n, s in slots_of(ours).items()} == \
        {n: s["boot_status"] for n, s in slots_of(theirs).items()}


def test_status_mark_of_an_unknown_slot_fails_as_in_rauc_1_8(tmp_path, twins, rauc_dir):
    rauc_dev, ota_dev = twins
    [(rc, _, err)] = real_rauc(tmp_path, rauc_dev, [["status", "mark-bad", "appfs.0"]])
    assert rc == 1 and "appfs.0" in err
    assert_one_line(rauc(rauc_dir, ota_dev, "status", "mark-bad", "appfs.0"), 1, "appfs.0")
