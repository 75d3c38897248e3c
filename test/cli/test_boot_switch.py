# SPDX-License-Identifier: LGPL-2.1-or-later
"""Black-box tests of RAUC's boot-mbr-switch and boot-gpt-switch slot types
in otabundle-install.

The device's disk is a 16 MiB image file partitioned by sfdisk (a dos or a
gpt label), full of random bytes elsewhere. The bootloader region is 1 MiB
to 5 MiB (region-start=1M, region-size=4M): two 2 MiB halves at sectors
2048 and 6144; partition 1, the bootloader, covers one of them; partitions
2 and 3 lie after the region. The slot [slot.bootloader.0] is that whole
disk, installed along with the A/B root filesystem slots of test_install.py
(rootfs.0 = A, rootfs.1 = B), as RAUC installs it: not A/B, but switched in
place whatever runs.

Where partition 1 is, before and after, is read with sfdisk (--dump, -J);
the tables' consistency with `sfdisk --verify` and gdisk's `sgdisk -v`; a
vfat bootloader with mtools at the offset sfdisk gives. And Debian's rauc
1.8 installs the same bundle on a copy of the same disk: both disks, as
loop devices, must end up byte for byte the same. As in test_install.py,
"rebooting into B" is running the next command with
--override-boot-slot=B."""
import contextlib
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import assert_ok, run, run_tool
from test_install import assert_refused, install_cmd, make_bundle, make_device
from test_rauc_device_cli import custom_device, real_rauc

SECTOR = 512
DISK_SIZE = 16 << 20
REGION_START = 1 << 20
REGION_SIZE = 4 << 20
HALF = REGION_SIZE // 2
HALF_SECTORS = HALF // SECTOR
FIRST = REGION_START // SECTOR           # 2048: the first half
SECOND = (REGION_START + HALF) // SECTOR  # 6144: the second half
SLOT_TYPES = {"dos": "boot-mbr-switch", "gpt": "boot-gpt-switch"}
BOOT_TYPES = {"dos": "c", "gpt": "uefi"}
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


# --- the disk ----------------------------------------------------------------------------


def make_disk(path, label, boot_start=FIRST, boot_size=HALF_SECTORS):
    """@path: DISK_SIZE random bytes, partitioned by sfdisk: partition 1 at
    @boot_start (sectors), @boot_size sectors; partitions 2 and 3 after the
    region (sectors 10240 and 18432, 4 MiB each)."""
    with open(path, "wb") as f:
        f.write(os.urandom(DISK_SIZE))
    script = (f"label: {label}\n"
              f"start={boot_start}, size={boot_size}, type={BOOT_TYPES[label]}\n"
              "start=10240, size=8192, type=linux\n"
              "start=18432, size=8192, type=linux\n")
    run_tool("sfdisk", "-q", "--wipe", "never", "--no-reread", "--no-tell-kernel", path,
             input=script)
    return Path(path)


def partitions(disk):
    """sfdisk's view of @disk: its partitions as sfdisk -J lists them."""
    table = json.loads(run_tool("sfdisk", "-J", disk).stdout)["partitiontable"]
    return table["partitions"]


def boot_partition(disk):
    """(start, size) of partition 1 in sectors, by sfdisk --dump."""
    line = next(line for line in run_tool("sfdisk", "--dump", disk).stdout.splitlines()
                if line.startswith(f"{disk}1 :"))
    fields = dict(f.strip().split("=", 1) for f in line.split(":", 1)[1].split(","))
    return int(fields["start"]), int(fields["size"])


def assert_tables_valid(disk, label):
    """sfdisk finds no error; for a GPT, gdisk neither (both headers, both
    entry arrays and their CRCs)."""
    assert "No errors detected" in run_tool("sfdisk", "--verify", disk).stdout
    if label == "gpt":
        assert "No problems found" in run_tool("sgdisk", "-v", disk).stdout


def half(data, which):
    start = REGION_START + which * HALF
    return data[start:start + HALF]


def table_bytes(data, label):
    """The byte ranges a switch may change: MBR: partition entry 1; GPT:
    both headers and entry 1 of both entry arrays (where the backup header
    says its array is)."""
    if label == "dos":
        return [(446, 16)]
    last = DISK_SIZE - SECTOR
    backup_entries = struct.unpack_from("<Q", data, last + 72)[0] * SECTOR
    return [(SECTOR, SECTOR), (2 * SECTOR, 128), (backup_entries, 128), (last, SECTOR)]


def assert_same_outside(before, after, ranges):
    """@before and @after are equal outside @ranges [(offset, length)]."""
    keep = bytearray(before)
    for offset, length in ranges:
        keep[offset:offset + length] = after[offset:offset + length]
    assert bytes(keep) == after, "bytes outside the free half and the table changed"


# --- the device ----------------------------------------------------------------------------


def boot_device(tmp_path, pki, label, region_start="1M", region_size="4M", slot_type=None,
                **disk):
    """test_install's A/B device plus [slot.bootloader.0], the whole disk,
    made by make_disk(). Returns (device, disk path)."""
    disk_path = make_disk(tmp_path / "disk.img", label, **disk)
    dev = make_device(tmp_path, pki.root, extra=f"""
        [slot.bootloader.0]
        device={disk_path}
        type={slot_type or SLOT_TYPES[label]}
        region-start={region_start}
        region-size={region_size}
        """)
    return dev, disk_path


def boot_bundle(pki, tmp_path, image, version="2.0", filename="bootloader.img"):
    return make_bundle(pki, tmp_path, {"rootfs": os.urandom(20000),
                                       "bootloader": (filename, image)}, version=version)


# --- the switch --------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_install_writes_the_free_half_and_points_partition_1_at_it(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    image = os.urandom(300000)
    assert boot_partition(disk) == (FIRST, HALF_SECTORS)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, image)))
    data = disk.read_bytes()
    assert half(data, 1)[:len(image)] == image
    assert half(data, 1)[len(image):] == bytes(HALF - len(image))  # the rest cleared
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)
    assert dev.primary() == "B"  # the root filesystem as ever


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_switch_changes_nothing_but_partition_1_and_the_free_half(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    before, table = disk.read_bytes(), partitions(disk)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))))
    after = disk.read_bytes()
    assert partitions(disk)[1:] == table[1:]
    assert partitions(disk)[0] == {**table[0], "start": SECOND}
    assert_same_outside(before, after, [(REGION_START + HALF, HALF)] + table_bytes(after, label))
    assert half(after, 0) == half(before, 0)  # the running bootloader


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_switched_tables_verify_with_sfdisk_and_gdisk(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))))
    assert_tables_valid(disk, label)


def test_gpt_partition_1_keeps_its_type_guid_and_name(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "gpt")
    run_tool("sfdisk", "-q", "--part-label", disk, "1", "bootloader")
    before = partitions(disk)[0]
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))))
    after = partitions(disk)[0]
    assert after["start"] == SECOND
    assert {k: v for k, v in after.items() if k != "start"} == \
        {k: v for k, v in before.items() if k != "start"}


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_second_install_switches_back_and_restores_the_table_sfdisk_wrote(pki, tmp_path,
                                                                           label):
    dev, disk = boot_device(tmp_path, pki, label)
    original = disk.read_bytes()
    first, second = os.urandom(7000), os.urandom(9000)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, first, version="2.0")))
    assert_ok(dev.run("mark-good", boot="B"))
    assert_ok(dev.install(boot_bundle(pki, tmp_path, second, version="3.0"), boot="B"))
    data = disk.read_bytes()
    assert boot_partition(disk) == (FIRST, HALF_SECTORS)
    assert half(data, 0)[:len(second)] == second
    assert half(data, 1)[:len(first)] == first  # now the free half
    # Outside the region every byte is as sfdisk left it, tables included.
    assert_same_outside(original, data, [(REGION_START, REGION_SIZE)])
    assert_tables_valid(disk, label)
    assert dev.primary(boot="B") == "A"


# --- with the A/B cycle -------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_install_reboot_and_mark_good_commit_rootfs_and_bootloader(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000), version="2.0")))
    status = dev.status()
    assert status["primary"] == "B" and status["pending"] == "rootfs.1"
    assert_ok(dev.run("mark-good", boot="B"))
    status = dev.status(boot="B")
    assert status["installed_version"] == "2.0"
    assert status["pending"] is None
    assert dev.slot("rootfs.1", boot="B")["state"] == "good"
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_mark_bad_falls_back_the_rootfs_and_the_bootloader_stays_switched(pki, tmp_path, label):
    # As in RAUC: the bootloader is switched in place, not A/B, so the
    # fallback is the root filesystem's; the new bootloader boots either.
    dev, disk = boot_device(tmp_path, pki, label)
    old_rootfs = dev.slots["rootfs.0"].read_bytes()
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))))
    assert_ok(dev.run("mark-bad", boot="B"))
    status = dev.status(boot="B")
    assert status["primary"] == "A"
    assert status["installed_version"] is None
    assert dev.slot("rootfs.1", boot="B")["state"] == "bad"
    assert dev.slots["rootfs.0"].read_bytes() == old_rootfs
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)


def test_install_from_either_slot_writes_the_one_bootloader_slot(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000), version="2.0"),
                          boot="B"))
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)
    assert dev.primary(boot="B") == "A"


# --- a bootloader-only bundle: written and switched in place, the boot left alone -------------


def bootloader_only_bundle(pki, tmp_path, version="2.0", name=None):
    return make_bundle(pki, tmp_path, {"bootloader": ("bootloader.img", os.urandom(5000))},
                       version=version, name=name)


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_bootloader_only_bundle_switches_the_region_and_not_the_boot(pki, tmp_path, label):
    # RAUC installs a bundle for slots outside the A/B groups without
    # marking any slot active: nothing to boot into, nothing to mark good.
    dev, disk = boot_device(tmp_path, pki, label)
    rootfs = dev.slots["rootfs.1"].read_bytes()
    proc = assert_ok(dev.install(bootloader_only_bundle(pki, tmp_path)))
    assert "the boot is not switched" in proc.stdout
    assert "Next boot" not in proc.stdout
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)
    assert_tables_valid(disk, label)
    status = dev.status()
    assert status["primary"] == "A" and status["pending"] is None
    assert status["installed_version"] is None
    assert dev.slots["rootfs.1"].read_bytes() == rootfs
    assert dev.slot("bootloader.0")["version"] == "2.0"


def test_bootloader_only_bundle_leaves_a_pending_system_install_pending(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_ok(dev.install(make_bundle(pki, tmp_path, version="2.0")))
    assert_ok(dev.install(bootloader_only_bundle(pki, tmp_path, version="3.0")))
    assert dev.status()["pending"] == "rootfs.1"
    assert dev.primary() == "B"
    assert_ok(dev.run("mark-good", boot="B"))
    assert dev.status(boot="B")["installed_version"] == "2.0"


def test_info_says_a_bootloader_only_bundle_switches_nothing(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    bundle = bootloader_only_bundle(pki, tmp_path)
    assert "and not switch the boot" in assert_ok(dev.run("info", bundle)).stdout
    doc = json.loads(assert_ok(dev.run("info", "--output-format=json", bundle)).stdout)
    assert doc["installable"] is True and doc["boot_target"] is None


def test_bootloader_bundle_is_compared_with_the_bootloaders_version_not_the_systems(
        pki, tmp_path):
    # Its version is the bootloader's: below the system's 5.0 is no downgrade.
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_ok(dev.install(make_bundle(pki, tmp_path, version="5.0")))
    assert_ok(dev.run("mark-good", boot="B"))
    assert_ok(dev.install(bootloader_only_bundle(pki, tmp_path, version="2024.1.0"), boot="B"))


def test_older_bootloader_only_bundle_is_refused_as_a_downgrade(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_ok(dev.install(bootloader_only_bundle(pki, tmp_path, version="2024.7.0", name="new")))
    before = disk.read_bytes()
    proc = dev.install(bootloader_only_bundle(pki, tmp_path, version="2024.1.0", name="old"))
    assert_refused(proc, "version 2024.1.0 is older than bootloader.0's 2024.7.0")
    assert disk.read_bytes() == before


def test_application_only_bundle_is_still_refused(pki, tmp_path):
    # An image for a class that moves with the A/B groups, without the
    # boot slot's: booting the older system with it would be wrong.
    dev, disk = boot_device(tmp_path, pki, "dos")
    with open(dev.conf, "a") as f:
        f.write(f"\n[slot.appfs.0]\ndevice={tmp_path / 'appfs0'}\nparent=rootfs.0\n"
                f"[slot.appfs.1]\ndevice={tmp_path / 'appfs1'}\nparent=rootfs.1\n")
    for name in ("appfs0", "appfs1"):
        (tmp_path / name).write_bytes(bytes(65536))
    bundle = make_bundle(pki, tmp_path, {"appfs": os.urandom(5000),
                                         "bootloader": ("bootloader.img", os.urandom(5000))})
    assert_refused(dev.install(bundle), "no image for the boot slot class 'rootfs'")


# --- what is refused, before anything is written ------------------------------------------


def assert_nothing_written(dev, disk, before_disk, before_slots):
    assert disk.read_bytes() == before_disk
    assert dev.snapshot() == before_slots


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_image_larger_than_half_the_region_is_refused_before_anything_is_written(
        pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    before, slots = disk.read_bytes(), dev.snapshot()
    line = assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(HALF + 1))),
                          "bootloader.0", "does not fit", str(HALF))
    assert "bootloader.img" in line
    assert_nothing_written(dev, disk, before, slots)
    assert dev.primary() == "A"


def test_info_refuses_an_image_larger_than_half_the_region_too(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "gpt")
    before, slots = disk.read_bytes(), dev.snapshot()
    assert_refused(dev.run("info", boot_bundle(pki, tmp_path, os.urandom(HALF + 1))),
                   "does not fit")
    assert_nothing_written(dev, disk, before, slots)


def test_image_of_exactly_half_the_region_fits(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "gpt")
    image = os.urandom(HALF)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, image)))
    assert half(disk.read_bytes(), 1) == image


def flip(disk, offset):
    data = bytearray(disk.read_bytes())
    data[offset] ^= 0x01
    disk.write_bytes(bytes(data))


@pytest.mark.parametrize("label,offset,words", [
    ("dos", 510, ["no partition table", "signature"]),
    ("gpt", SECTOR + 48, ["primary GPT header", "CRC"]),        # last usable LBA
    ("gpt", DISK_SIZE - 33 * SECTOR + 40, ["backup GPT partition entries", "CRC"]),
    ("gpt", DISK_SIZE - SECTOR + 8, ["backup GPT header", "CRC"]),  # revision
    ("gpt", 450, ["no GPT"]),                                    # pMBR type 0xEE
], ids=["mbr-signature", "gpt-primary-header", "gpt-backup-entries", "gpt-backup-header",
        "gpt-protective-mbr"])
def test_corrupt_partition_table_is_refused_before_anything_is_written(pki, tmp_path, label,
                                                                      offset, words):
    dev, disk = boot_device(tmp_path, pki, label)
    flip(disk, offset)
    before, slots = disk.read_bytes(), dev.snapshot()
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))), str(disk),
                   *words)
    assert_nothing_written(dev, disk, before, slots)


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_partition_1_at_neither_half_is_refused(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label, boot_start=FIRST + 2048,
                            boot_size=HALF_SECTORS - 2048)
    before, slots = disk.read_bytes(), dev.snapshot()
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))), "neither half",
                   str(FIRST), str(SECOND))
    assert_nothing_written(dev, disk, before, slots)


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_partition_1_reaching_into_the_free_half_is_refused(pki, tmp_path, label):
    # Writing the "free" half would overwrite the bootloader that runs.
    dev, disk = boot_device(tmp_path, pki, label, boot_size=HALF_SECTORS + 2048)
    before, slots = disk.read_bytes(), dev.snapshot()
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))),
                   "reaches beyond the first half")
    assert_nothing_written(dev, disk, before, slots)


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_region_overlapping_another_partition_is_refused(pki, tmp_path, label):
    # 1 MiB..7 MiB: partition 2 starts at 5 MiB.
    dev, disk = boot_device(tmp_path, pki, label, region_size="6M")
    before, slots = disk.read_bytes(), dev.snapshot()
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))),
                   "partition 2", "overlaps the region")
    assert_nothing_written(dev, disk, before, slots)


def test_gpt_region_off_the_1mib_grain_is_refused(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "gpt", region_start="1536K", region_size="2M")
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))), "region-start",
                   "1 MiB")


def test_mbr_switch_on_a_gpt_disk_is_refused_with_the_right_type(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "gpt", slot_type="boot-mbr-switch")
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))),
                   "type=boot-gpt-switch")


def test_gpt_switch_on_an_mbr_disk_is_refused_with_the_right_type(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos", slot_type="boot-gpt-switch")
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))),
                   "type=boot-mbr-switch")


def test_gpt_whose_backup_is_not_at_the_end_of_the_disk_is_refused(pki, tmp_path):
    # As after writing a disk image onto a larger disk: RAUC repairs the
    # table on its own; otabundle leaves that to the user, and says how.
    dev, disk = boot_device(tmp_path, pki, "gpt")
    with open(disk, "ab") as f:
        f.write(bytes(1 << 20))
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))),
                   "backup header", "sfdisk --relocate gpt-bak-std")


def test_tar_image_is_refused_for_a_boot_switch_slot(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000),
                                           filename="bootloader.tar")),
                   "bootloader.tar", "boot-mbr-switch", "*.img")


def test_missing_disk_is_refused(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    disk.unlink()
    assert_refused(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000))), str(disk))
    assert not disk.exists()


# --- filesystems, hooks, concurrent changes -----------------------------------------------


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_vfat_bootloader_reads_through_the_switched_partition(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    src = tmp_path / "boot"
    src.mkdir()
    (src / "u-boot.bin").write_bytes(b"bootloader 2.0\n")
    image = tmp_path / "boot.vfat"
    image.write_bytes(bytes(1 << 20))
    run_tool("mkfs.vfat", image)
    run_tool("mcopy", "-i", image, src / "u-boot.bin", "::/", env=MTOOLS_ENV)
    assert_ok(dev.install(boot_bundle(pki, tmp_path, image.read_bytes(),
                                      filename="boot.vfat")))
    start = partitions(disk)[0]["start"] * SECTOR
    content = run_tool("mtype", "-i", f"{disk}@@{start}", "::/u-boot.bin",
                       env=MTOOLS_ENV).stdout
    assert content == "bootloader 2.0\n"


HOOK = """#!/bin/sh
[ "$1" = slot-post-install ] || exit 0
[ "$RAUC_SLOT_CLASS" = bootloader ] || exit 0
{
    echo "activating=$RAUC_BOOT_PARTITION_ACTIVATING"
    echo "start=$RAUC_BOOT_PARTITION_START"
    echo "size=$RAUC_BOOT_PARTITION_SIZE"
    sfdisk --dump "$RAUC_SLOT_DEVICE" | grep "1 :"
} > "$LOG"
[ -n "$CHANGE_TABLE" ] && sfdisk -q --no-reread --no-tell-kernel --delete "$RAUC_SLOT_DEVICE" 3
exit 0
"""


def hooked_boot_bundle(pki, tmp_path, image):
    inputdir = tmp_path / "hooked.in"
    inputdir.mkdir()
    (inputdir / "rootfs.img").write_bytes(os.urandom(20000))
    (inputdir / "bootloader.img").write_bytes(image)
    (inputdir / "hook.sh").write_text(HOOK)
    (inputdir / "hook.sh").chmod(0o755)
    (inputdir / "manifest.raucm").write_text(
        "[update]\ncompatible=otabundle-test\nversion=2.0\n\n"
        "[hooks]\nfilename=hook.sh\n\n"
        "[image.rootfs]\nfilename=rootfs.img\n\n"
        "[image.bootloader]\nfilename=bootloader.img\nhooks=post-install\n")
    bundle = tmp_path / "hooked.raucb"
    assert_ok(run("create", *pki.sign_args(), inputdir, bundle))
    return bundle


def install_with_env(dev, bundle, env):
    return subprocess.run(install_cmd(dev.conf, "install", bundle),
                          capture_output=True, text=True, env={**os.environ, **env})


def test_post_install_hook_runs_before_the_switch_with_raucs_variables(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    log = tmp_path / "hook.log"
    assert_ok(install_with_env(dev, hooked_boot_bundle(pki, tmp_path, os.urandom(5000)),
                               {"LOG": str(log)}))
    lines = log.read_text().splitlines()
    assert lines[:3] == ["activating=1", f"start={REGION_START + HALF}", f"size={HALF}"]
    # The hook still saw the old table: the switch comes after it, as in RAUC.
    assert f"start=        {FIRST}," in lines[3]
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)


def test_table_changed_during_the_install_is_not_switched(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    proc = install_with_env(dev, hooked_boot_bundle(pki, tmp_path, os.urandom(5000)),
                            {"LOG": str(tmp_path / "hook.log"), "CHANGE_TABLE": "1"})
    line = assert_refused(proc, "partition table changed during the install")
    assert str(disk) in line
    assert boot_partition(disk) == (FIRST, HALF_SECTORS)
    assert dev.primary() == "A"


# --- against RAUC 1.8 --------------------------------------------------------------------------


@contextlib.contextmanager
def loop_devices(*paths):
    """Each of @paths attached to a loop device (without partition scanning),
    detached afterwards: RAUC writes boot-*-switch slots only to block
    devices."""
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    loops = []
    try:
        for path in paths:
            loops.append(run_tool("losetup", "--find", "--show", path).stdout.strip())
        yield loops
    finally:
        for loop in loops:
            run_tool("losetup", "--detach", loop)


@pytest.mark.parametrize("with_rootfs", [True, False], ids=["with-rootfs", "bootloader-only"])
@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_disk_is_byte_for_byte_what_rauc_1_8_makes_of_it(pki, tmp_path, label, with_rootfs):
    # Two copies of one disk, each a loop device: Debian's rauc 1.8 installs
    # a bundle on one, otabundle-install the same bundle on the other.
    disk = make_disk(tmp_path / "rauc.img", label)
    twin = tmp_path / "ota.img"
    twin.write_bytes(disk.read_bytes())
    images = {"bootloader": ("bootloader.img", os.urandom(300000))}
    if with_rootfs:
        images["rootfs"] = os.urandom(20000)
    bundle = make_bundle(pki, tmp_path, images, fmt="plain")
    with loop_devices(disk, twin) as loops:
        devs = []
        for name, loop in zip(("rauc", "ota"), loops):
            dev = custom_device(tmp_path, pki, name)
            with open(dev.conf, "a") as f:
                f.write(f"\n[slot.bootloader.0]\ndevice={loop}\ntype={SLOT_TYPES[label]}\n"
                        "region-start=1M\nregion-size=4M\n")
            devs.append(dev)
        [(rc, out, err)] = real_rauc(tmp_path, devs[0], [["install", bundle]])
        assert rc == 0, out + err
        assert_ok(devs[1].install(bundle))
    assert boot_partition(disk) == (SECOND, HALF_SECTORS)
    assert disk.read_bytes() == twin.read_bytes()


# --- configuration and status --------------------------------------------------------------------


def test_status_shows_the_bootloader_slot_as_not_running_with_either(pki, tmp_path):
    dev, disk = boot_device(tmp_path, pki, "dos")
    assert_ok(dev.install(boot_bundle(pki, tmp_path, os.urandom(5000), version="2.0")))
    slot = dev.slot("bootloader.0")
    assert slot["booted"] is False
    assert slot["version"] == "2.0"


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_check_config_accepts_a_boot_switch_slot(pki, tmp_path, label):
    dev, disk = boot_device(tmp_path, pki, label)
    proc = assert_ok(dev.run("check-config"))
    assert SLOT_TYPES[label] in proc.stdout
