# SPDX-License-Identifier: LGPL-2.1-or-later
"""Black-box tests of otabundle-install's `barebox`, `efi` and `noop`
bootloader backends: for each, the full A/B cycle (install, reboot into the
new slot, mark-good; mark-bad falls back), what it leaves in the
bootloader's state compared with what RAUC sets, and a bootloader tool that
fails.

barebox-state and efibootmgr can't run here: barebox-state needs the
device's state partition, efibootmgr the firmware's variables (efivarfs).
So these tests run the stand-ins in test/bin, put first on PATH: each
implements the documented command line that RAUC uses (barebox-state's
-n/-g/-s/-i; efibootmgr's listing format and its -n/-N/-o/-O options, long
forms included) on a JSON file named by an environment variable, and logs
its calls (see their docstrings). What the boot firmware then does is
simulated here, as barebox's bootchooser and UEFI document it:
bootchooser_boots() and firmware_boots(). As in test_install.py, the booted
slot otherwise comes from --override-boot-slot ("rebooting into B" is
running the next command with --override-boot-slot=B)."""
import json
import os
from pathlib import Path

import pytest

from conftest import assert_ok
from test_install import assert_refused, make_bundle, make_device

TEST_BIN = Path(__file__).resolve().parents[1] / "bin"
OLD_A = b"old system in rootfs.0\n"
OLD_B = b"old system in rootfs.1\n"


@pytest.fixture(autouse=True)
def stand_ins_first_on_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{TEST_BIN}{os.pathsep}{os.environ['PATH']}")


def read_json(path):
    return json.loads(Path(path).read_text())


def write_json(path, doc):
    Path(path).write_text(json.dumps(doc, indent=2))


def calls(state_file):
    """The argument lines of every call of a stand-in on @state_file."""
    log = Path(f"{state_file}.calls")
    return log.read_text().splitlines() if log.exists() else []


def writes(state_file):
    """The calls that changed something: not a listing (efibootmgr without
    arguments) nor a barebox-state -g."""
    return [c for c in calls(state_file) if c and not c.startswith("-g ")]


def bundle_for(pki, tmp_path, version="2.0", security_version=3):
    image = os.urandom(24000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, version=version,
                         meta={"security-version": security_version})
    return bundle, image


def assert_committed(dev, version="2.0", floor=3, boot="B"):
    status = dev.status(boot=boot)
    assert status["installed_version"] == version
    assert status["security_floor"] == floor
    assert status["pending"] is None


def assert_fell_back(dev, boot="B"):
    status = dev.status(boot=boot)
    assert status["installed_version"] is None
    assert status["security_floor"] == 0
    assert status["pending"] is None


# --- barebox ---------------------------------------------------------------------------


def barebox_vars(a=(20, 3), b=(10, 3)):
    """The bootstate variables of bootchooser targets A and B: (priority,
    remaining_attempts) each. The default is a fresh device booting A."""
    return {"bootstate.A.priority": a[0], "bootstate.A.remaining_attempts": a[1],
            "bootstate.B.priority": b[0], "bootstate.B.remaining_attempts": b[1]}


def barebox_device(tmp_path, pki, monkeypatch, system="", statename="state"):
    state_file = tmp_path / "barebox-state.json"
    write_json(state_file, {"states": {statename: barebox_vars()}})
    monkeypatch.setenv("BAREBOX_STATE_FILE", str(state_file))
    dev = make_device(tmp_path, pki.root, bootloader="barebox", system=system)
    return dev, state_file


def bootstate(state_file, statename="state"):
    return read_json(state_file)["states"][statename]


def bootchooser_boots(state_file):
    """A boot, as barebox's bootchooser makes it: of the targets that are
    enabled (priority > 0) and have attempts left, the one with the highest
    priority, whose remaining_attempts it counts down. Returns its name."""
    doc = read_json(state_file)
    state = doc["states"]["state"]
    candidates = [t for t in ("A", "B") if state[f"bootstate.{t}.priority"] > 0 and
                  state[f"bootstate.{t}.remaining_attempts"] > 0]
    assert candidates, f"bootchooser finds no bootable target: {state}"
    target = max(candidates, key=lambda t: state[f"bootstate.{t}.priority"])
    state[f"bootstate.{target}.remaining_attempts"] -= 1
    write_json(state_file, doc)
    return target


def test_barebox_install_makes_the_new_slot_primary_with_rauc_priorities_and_attempts(
        pki, tmp_path, monkeypatch):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch)
    bundle, image = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image
    # RAUC: the target disabled before it is written, then priority 20 and
    # 3 attempts for it, 10 for every other enabled target.
    assert bootstate(state_file) == barebox_vars(a=(10, 3), b=(20, 3))
    assert writes(state_file)[0] == "-s bootstate.B.priority=0 -s bootstate.B.remaining_attempts=0"
    assert dev.primary() == "B"


def test_barebox_install_reboot_and_mark_good_commits_the_new_slot(pki, tmp_path, monkeypatch):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert bootchooser_boots(state_file) == "B"
    assert bootstate(state_file)["bootstate.B.remaining_attempts"] == 2

    assert_ok(dev.run("mark-good", boot="B"))
    # RAUC's mark-good: the attempts back to boot-attempts, the priority kept.
    assert bootstate(state_file) == barebox_vars(a=(10, 3), b=(20, 3))
    assert_committed(dev)
    assert dev.slot("rootfs.1", boot="B")["state"] == "good"
    assert bootchooser_boots(state_file) == "B"


def test_barebox_mark_bad_falls_back_to_the_old_slot(pki, tmp_path, monkeypatch):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert bootchooser_boots(state_file) == "B"

    assert_ok(dev.run("mark-bad", boot="B"))
    assert bootstate(state_file) == barebox_vars(a=(10, 3), b=(0, 0))
    assert dev.primary(boot="B") == "A"
    assert dev.slot("rootfs.1", boot="B")["state"] == "bad"
    assert_fell_back(dev)
    assert bootchooser_boots(state_file) == "A"


def test_barebox_new_slot_that_never_gets_marked_good_falls_back_after_its_attempts(
        pki, tmp_path, monkeypatch):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert [bootchooser_boots(state_file) for _ in range(4)] == ["B", "B", "B", "A"]
    assert_ok(dev.run("mark-good", boot="A"))
    assert_fell_back(dev, boot="A")
    assert dev.slot("rootfs.1", boot="A")["state"] == "bad"


def test_barebox_boot_attempts_settings_are_what_install_and_mark_good_write(
        pki, tmp_path, monkeypatch):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch,
                                     system="boot-attempts=4\nboot-attempts-primary=6")
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert bootstate(state_file) == barebox_vars(a=(10, 3), b=(20, 6))
    bootchooser_boots(state_file)
    assert_ok(dev.run("mark-good", boot="B"))
    assert bootstate(state_file) == barebox_vars(a=(10, 3), b=(20, 4))


def test_barebox_statename_and_dtbpath_reach_every_barebox_state_call(pki, tmp_path,
                                                                      monkeypatch):
    dtb = tmp_path / "state.dtb"
    dtb.write_bytes(b"")
    dev, state_file = barebox_device(
        tmp_path, pki, monkeypatch, statename="bootstate",
        system=f"barebox-statename=bootstate\nbarebox-dtbpath={dtb}")
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert bootstate(state_file, "bootstate") == barebox_vars(a=(10, 3), b=(20, 3))
    made = calls(state_file)
    assert made
    assert all(c.startswith("-n bootstate ") and c.endswith(f" -i {dtb}") for c in made), made


@pytest.mark.parametrize("break_it, reason", [
    pytest.param(lambda doc: doc.update({"read-only": True}), "Read-only file system",
                 id="state-not-writable"),
    pytest.param(lambda doc: doc.update({"states": {"other": barebox_vars()}}),
                 "no state named 'state'", id="state-missing"),
])
def test_barebox_state_failing_is_one_line_and_leaves_the_slots_and_state_alone(
        pki, tmp_path, monkeypatch, break_it, reason):
    dev, state_file = barebox_device(tmp_path, pki, monkeypatch)
    doc = read_json(state_file)
    break_it(doc)
    write_json(state_file, doc)
    before = state_file.read_bytes()
    bundle, _ = bundle_for(pki, tmp_path)
    line = assert_refused(dev.install(bundle), "barebox-state", reason)
    assert "exit status 1" in line
    assert dev.slots["rootfs.0"].read_bytes() == OLD_A
    assert dev.slots["rootfs.1"].read_bytes() == OLD_B
    assert state_file.read_bytes() == before


# --- efi -------------------------------------------------------------------------------


def efi_vars(boot_current="0001", boot_order=("0001", "0002", "0000"), boot_next=None):
    """A firmware with a setup entry and one entry per slot, labelled with
    its bootname, as efibootmgr --create makes them."""
    return {
        "BootCurrent": boot_current, "BootNext": boot_next, "Timeout": 1,
        "BootOrder": list(boot_order),
        "entries": {
            "0000": {"label": "UiApp", "path": "FvVol(7cb8bdc9-f8eb-4f34)/FvFile(462caa21-7614)"},
            "0001": {"label": "A", "path": "HD(2,GPT,0e9f0d1c,0x800,0x200000)/"
                                           "File(\\EFI\\BOOT\\BOOTX64.EFI)"},
            "0002": {"label": "B", "path": "HD(3,GPT,5d1e7c2a,0x200800,0x200000)/"
                                           "File(\\EFI\\BOOT\\BOOTX64.EFI)"},
        },
    }


def efi_device(tmp_path, pki, monkeypatch, system=""):
    state_file = tmp_path / "efivars.json"
    write_json(state_file, efi_vars())
    monkeypatch.setenv("EFIBOOTMGR_STATE_FILE", str(state_file))
    dev = make_device(tmp_path, pki.root, bootloader="efi", system=system)
    return dev, state_file


def efivars(state_file):
    doc = read_json(state_file)
    return {k: doc[k] for k in ("BootCurrent", "BootNext", "BootOrder")}


def firmware_boots(state_file):
    """A boot, as UEFI makes it: BootNext once (the firmware deletes it),
    else the first entry of BootOrder. Returns the booted entry's label."""
    doc = read_json(state_file)
    number = doc["BootNext"] or doc["BootOrder"][0]
    doc["BootNext"] = None
    doc["BootCurrent"] = number
    write_json(state_file, doc)
    return doc["entries"][number]["label"]


def test_efi_install_makes_the_new_slot_bootnext_as_rauc_does(pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, image = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image
    # RAUC: out of BootOrder while it is written, then BootNext, so that a
    # new system that does not come up leaves the firmware on BootOrder.
    assert efivars(state_file) == {"BootCurrent": "0001", "BootNext": "0002",
                                   "BootOrder": ["0001", "0000"]}
    assert writes(state_file) == ["--bootorder 0001,0000", "--bootnext 0002"]
    assert dev.primary() == "B"
    assert dev.slot("rootfs.1")["state"] == "good"


def test_efi_install_reboot_and_mark_good_puts_the_new_slot_first_in_bootorder(
        pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert firmware_boots(state_file) == "B"

    assert_ok(dev.run("mark-good", boot="B"))
    assert efivars(state_file) == {"BootCurrent": "0002", "BootNext": None,
                                   "BootOrder": ["0002", "0001", "0000"]}
    assert_committed(dev)
    assert dev.primary(boot="B") == "B"
    assert firmware_boots(state_file) == "B"


def test_efi_booted_slot_comes_from_bootcurrent(pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle, boot=None))
    firmware_boots(state_file)
    assert dev.status(boot=None)["booted"] == "rootfs.1"
    assert_ok(dev.run("mark-good", boot=None))
    assert_committed(dev, boot=None)


def test_efi_mark_bad_falls_back_to_the_old_slot(pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert firmware_boots(state_file) == "B"

    assert_ok(dev.run("mark-bad", boot="B"))
    assert efivars(state_file)["BootOrder"] == ["0001", "0000"]
    assert dev.primary(boot="B") == "A"
    assert dev.slot("rootfs.1", boot="B")["state"] == "bad"
    assert_fell_back(dev)
    assert firmware_boots(state_file) == "A"


def test_efi_mark_bad_before_the_reboot_cancels_bootnext(pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert_ok(dev.run("mark-bad", "other", boot="A"))
    assert efivars(state_file)["BootNext"] is None
    assert firmware_boots(state_file) == "A"


def test_efi_new_slot_that_does_not_come_up_leaves_the_firmware_on_the_old_one(
        pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert firmware_boots(state_file) == "B"
    # It hangs, the watchdog resets it: BootNext was used up.
    assert firmware_boots(state_file) == "A"
    assert_ok(dev.run("mark-good", boot=None))
    assert_fell_back(dev, boot=None)


def test_efi_use_bootnext_false_puts_the_new_slot_first_in_bootorder(pki, tmp_path,
                                                                     monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch, system="efi-use-bootnext=false")
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert efivars(state_file) == {"BootCurrent": "0001", "BootNext": None,
                                   "BootOrder": ["0002", "0001", "0000"]}
    assert firmware_boots(state_file) == "B"
    assert_ok(dev.run("mark-good", boot="B"))
    assert_committed(dev)


def test_efi_slot_without_a_boot_entry_is_refused_before_anything_is_written(
        pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    doc = read_json(state_file)
    del doc["entries"]["0002"]
    doc["BootOrder"] = ["0001", "0000"]
    write_json(state_file, doc)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_refused(dev.install(bundle), "no boot entry labelled 'B'")
    assert dev.slots["rootfs.1"].read_bytes() == OLD_B
    assert writes(state_file) == []


def test_efibootmgr_failing_is_one_line_and_leaves_the_slots_and_variables_alone(
        pki, tmp_path, monkeypatch):
    dev, state_file = efi_device(tmp_path, pki, monkeypatch)
    doc = read_json(state_file)
    doc["read-only"] = True
    write_json(state_file, doc)
    before = state_file.read_bytes()
    bundle, _ = bundle_for(pki, tmp_path)
    line = assert_refused(dev.install(bundle), "efibootmgr --bootorder 0001,0000",
                          "Read-only file system")
    assert "exit status 1" in line
    assert dev.slots["rootfs.0"].read_bytes() == OLD_A
    assert dev.slots["rootfs.1"].read_bytes() == OLD_B
    assert state_file.read_bytes() == before


# --- noop ------------------------------------------------------------------------------


def noop_device(tmp_path, pki):
    return make_device(tmp_path, pki.root, bootloader="noop")


def test_noop_install_writes_the_slot_and_no_bootloader_state(pki, tmp_path):
    dev = noop_device(tmp_path, pki)
    bundle, image = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image
    assert dev.slots["rootfs.0"].read_bytes() == OLD_A
    assert not dev.bootloader_file.exists()
    status = dev.status()
    assert status["pending"] == "rootfs.1"
    # Something else selects the slot: the bootloader's view is unknown.
    assert status["primary"] is None
    assert {s["name"]: s["state"] for s in status["slots"]} == {"rootfs.0": "unknown",
                                                                "rootfs.1": "unknown"}


def test_noop_reboot_and_mark_good_commits_the_new_slot(pki, tmp_path):
    dev = noop_device(tmp_path, pki)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert_ok(dev.run("mark-good", boot="B"))
    assert_committed(dev)
    text = assert_ok(dev.run("status", boot="B")).stdout
    assert "Primary:           ?" in text.splitlines()


def test_noop_mark_bad_settles_the_install_without_committing_it(pki, tmp_path):
    dev = noop_device(tmp_path, pki)
    bundle, _ = bundle_for(pki, tmp_path)
    assert_ok(dev.install(bundle))
    assert_ok(dev.run("mark-bad", boot="B"))
    assert_fell_back(dev)
    assert dev.status(boot="A")["results"][-1]["operation"] == "mark-bad"
