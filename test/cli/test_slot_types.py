# SPDX-License-Identifier: LGPL-2.1-or-later
"""Black-box tests of otabundle-install's filesystem slots: type=ext4 (and
otabundle's ext2, ext3) and type=vfat, with RAUC's resize, extra-mkfs-opts
and install-same.

A slot device is a regular file standing in for a block device (its size is
the partition's). What lands in a slot is read with tools independent of
otabundle: debugfs, e2fsck, dumpe2fs and e2label for ext4; fsck.vfat,
fatlabel and mtools (mdir, mtype) for vfat. As in test_install.py, the
booted slot comes from --override-boot-slot: "rebooting into B" is running
the next command with --override-boot-slot=B."""
import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import assert_ok, run_tool
from test_install import (COMPATIBLE, assert_refused, handmade_plain_bundle, make_bundle,
                          make_device, tar_bytes)

SLOT_SIZE = 16 << 20
IMAGE_SIZE = 8 << 20
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


# --- independent views of a slot ---------------------------------------------------------


def tool(*args, check=True):
    return run_tool(*args, check=check, env=MTOOLS_ENV)


def ext_cat(slot, path):
    """The contents of @path in the ext filesystem in @slot, by debugfs."""
    proc = subprocess.run(["debugfs", "-R", f"cat {path}", str(slot)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ext_stat(slot, path):
    """debugfs' stat of @path (type, mode, owner, link target)."""
    return tool("debugfs", "-R", f"stat {path}", slot).stdout


def ext_ls(slot, path="/"):
    """The names in directory @path, by debugfs (without . and ..)."""
    out = tool("debugfs", "-R", f"ls -p {path}", slot).stdout
    names = [line.split("/")[5] for line in out.splitlines() if line.startswith("/")]
    return sorted(n for n in names if n not in (".", ".."))


def assert_ext_clean(slot):
    tool("e2fsck", "-fn", slot)


def ext_superblock(slot):
    """dumpe2fs -h as {field: value}."""
    out = tool("dumpe2fs", "-h", slot).stdout
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in out.splitlines()) if v}


def ext_size(slot):
    sb = ext_superblock(slot)
    return int(sb["Block count"]) * int(sb["Block size"])


def vfat_cat(slot, path):
    return subprocess.run(["mtype", "-i", str(slot), f"::{path}"], capture_output=True,
                          env=MTOOLS_ENV, check=True).stdout


def vfat_ls(slot, path="/"):
    """The names in directory @path, long names as they are, by mdir."""
    out = tool("mdir", "-i", slot, "-b", f"::{path}").stdout
    return sorted(Path(line).name for line in out.splitlines() if line.strip())


def assert_vfat_clean(slot):
    tool("fsck.vfat", "-n", slot)


# --- devices and images --------------------------------------------------------------


def tree(d, files):
    """A directory @d holding @files ({relative path: bytes})."""
    d = Path(d)
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    d.mkdir(parents=True, exist_ok=True)
    return d


def make_ext4(path, files, size=IMAGE_SIZE, *opts):
    """An ext4 filesystem of @size bytes in file @path, holding @files."""
    src = tree(f"{path}.d", files)
    Path(path).write_bytes(b"")
    os.truncate(path, size)
    tool("mkfs.ext4", "-q", "-F", *opts, "-d", src, path)
    return Path(path)


def make_vfat(path, files, size=IMAGE_SIZE):
    src = tree(f"{path}.d", files)
    Path(path).write_bytes(b"")
    os.truncate(path, size)
    tool("mkfs.vfat", path)
    tops = [src / n for n in os.listdir(src)]
    if tops:
        tool("mcopy", "-i", path, "-s", *tops, "::/")
    return Path(path)


def fs_device(tmp_path, pki, fstype, slot_extra="", classes=("rootfs",), name="device",
              system=""):
    """A device whose slot class @classes[0] (bootnames A and B) has
    type=@fstype slots of SLOT_SIZE, each holding an old filesystem with
    /version; more @classes are raw slots."""
    dev = make_device(tmp_path, pki.root, classes=classes, name=name, system=system,
                      class_extra={classes[0]: f"type={fstype}\n{slot_extra}"})
    for slot, path in dev.slots.items():
        if not slot.startswith(f"{classes[0]}."):
            continue
        old = {"version": f"old system in {slot}\n".encode()}
        if fstype == "vfat":
            make_vfat(path, old, SLOT_SIZE)
        else:
            make_ext4(path, old, SLOT_SIZE)
    return dev


def assert_slot_unchanged(dev, slot, before):
    assert hashlib.sha256(dev.slots[slot].read_bytes()).hexdigest() == before


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def no_scratch_left(dev):
    return not dev.data.exists() or not [p for p in dev.data.iterdir()
                                          if p.name.startswith("slot-fs-")]


def install_and_reboot(dev, bundle):
    """Installs from A; then B is primary and pending."""
    proc = assert_ok(dev.install(bundle))
    status = dev.status()
    assert status["primary"] == "B"
    assert status["pending"] == "rootfs.1"
    return proc


def assert_committed(dev, version):
    assert_ok(dev.run("mark-good", boot="B"))
    status = dev.status(boot="B")
    assert status["installed_version"] == version
    assert status["pending"] is None
    assert status["primary"] == "B"
    assert dev.slot("rootfs.1", boot="B")["state"] == "good"


def assert_fell_back(dev):
    assert_ok(dev.run("mark-bad", boot="B"))
    status = dev.status(boot="B")
    assert status["primary"] == "A"
    assert status["pending"] is None
    assert status["installed_version"] is None
    assert dev.slot("rootfs.1", boot="B")["state"] == "bad"


# --- filesystem images, written as they are ----------------------------------------------


def test_ext4_image_is_written_booted_and_marked_good(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n", "etc/app.conf": b"a=1\n"})
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", image.read_bytes())},
                         version="2.0")
    install_and_reboot(dev, bundle)
    slot = dev.slots["rootfs.1"]
    assert slot.stat().st_size == SLOT_SIZE
    assert slot.read_bytes()[:IMAGE_SIZE] == image.read_bytes()
    assert ext_cat(slot, "/etc/app.conf") == b"a=1\n"
    assert_ext_clean(slot)
    assert ext_cat(dev.slots["rootfs.0"], "/version") == b"old system in rootfs.0\n"
    assert_committed(dev, "2.0")


def test_ext4_image_marked_bad_falls_back_to_the_old_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    before = digest(dev.slots["rootfs.0"])
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"})
    install_and_reboot(dev, make_bundle(pki, tmp_path,
                                        {"rootfs": ("rootfs.ext4", image.read_bytes())}))
    assert_fell_back(dev)
    assert_slot_unchanged(dev, "rootfs.0", before)
    assert ext_cat(dev.slots["rootfs.0"], "/version") == b"old system in rootfs.0\n"


def test_vfat_image_is_written_booted_and_marked_good(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    image = make_vfat(tmp_path / "boot.vfat", {"zImage": b"kernel 2.0\n",
                                                "dtbs/board.dtb": b"dtb\n"})
    install_and_reboot(dev, make_bundle(pki, tmp_path,
                                        {"rootfs": ("boot.vfat", image.read_bytes())},
                                        version="2.0"))
    slot = dev.slots["rootfs.1"]
    assert_vfat_clean(slot)
    assert vfat_cat(slot, "/zImage") == b"kernel 2.0\n"
    assert vfat_cat(slot, "/dtbs/board.dtb") == b"dtb\n"
    assert vfat_cat(dev.slots["rootfs.0"], "/version") == b"old system in rootfs.0\n"
    assert_committed(dev, "2.0")


def test_vfat_image_marked_bad_falls_back_to_the_old_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    before = digest(dev.slots["rootfs.0"])
    image = make_vfat(tmp_path / "boot.vfat", {"zImage": b"kernel 2.0\n"})
    install_and_reboot(dev, make_bundle(pki, tmp_path,
                                        {"rootfs": ("boot.vfat", image.read_bytes())}))
    assert_fell_back(dev)
    assert_slot_unchanged(dev, "rootfs.0", before)


def test_img_image_goes_into_an_ext4_slot_as_a_filesystem_image(pki, tmp_path):
    """RAUC's rule: *.img is a raw image, which an ext4 slot takes as is."""
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.img", {"version": b"img\n"})
    assert_ok(dev.install(make_bundle(pki, tmp_path,
                                      {"rootfs": ("rootfs.img", image.read_bytes())})))
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"img\n"


def test_resize_true_grows_an_ext4_image_to_the_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4", "resize=true")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"})
    assert ext_size(image) == IMAGE_SIZE
    assert_ok(dev.install(make_bundle(pki, tmp_path,
                                      {"rootfs": ("rootfs.ext4", image.read_bytes())})))
    slot = dev.slots["rootfs.1"]
    assert ext_size(slot) == SLOT_SIZE
    assert ext_cat(slot, "/version") == b"2.0\n"
    assert_ext_clean(slot)


def test_without_resize_an_ext4_image_keeps_its_size(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"})
    assert_ok(dev.install(make_bundle(pki, tmp_path,
                                      {"rootfs": ("rootfs.ext4", image.read_bytes())})))
    assert ext_size(dev.slots["rootfs.1"]) == IMAGE_SIZE


def test_filesystem_image_larger_than_the_slot_is_refused_before_anything_is_written(
        pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"big\n"}, size=SLOT_SIZE + 4096)
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", image.read_bytes())})
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "larger than slot rootfs.1", path=bundle)
    assert dev.snapshot() == before
    assert dev.primary() == "A"


@pytest.mark.parametrize("filename, words", [
    ("rootfs.squashfs", ["of type squashfs", "can't go into slot rootfs.1 (type=ext4)"]),
    ("boot.vfat", ["of type vfat", "can't go into slot rootfs.1 (type=ext4)"]),
    ("rootfs.bin", ["takes *.ext4, *.img or *.tar* images"]),
])
def test_image_an_ext4_slot_can_not_take_is_refused_by_its_filename(pki, tmp_path, filename,
                                                                     words):
    dev = fs_device(tmp_path, pki, "ext4")
    bundle = make_bundle(pki, tmp_path, {"rootfs": (filename, os.urandom(4096))})
    before = dev.snapshot()
    assert_refused(dev.install(bundle), filename, *words, path=bundle)
    assert dev.snapshot() == before


def test_ext4_image_whose_hash_does_not_match_is_not_made_bootable(pki, tmp_path):
    """As for a raw slot: the slot was written, and stays marked bad."""
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"}).read_bytes()
    wrong = hashlib.sha256(b"not the image").hexdigest()
    manifest = (f"[update]\ncompatible={COMPATIBLE}\nversion=1.0.0\n\n[image.rootfs]\n"
                f"filename=rootfs.ext4\nsize={len(image)}\nsha256={wrong}\n")
    bundle = handmade_plain_bundle(pki, tmp_path / "hand", manifest, {"rootfs.ext4": image})
    assert_refused(dev.install(bundle), "sha256", path=bundle)
    assert dev.primary() == "A"
    assert dev.slot("rootfs.1")["state"] == "bad"


# --- tar images, made into a filesystem ---------------------------------------------------


ROOTFS_TAR = [
    ({"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
    ({"name": "etc/os-release", "mode": 0o644}, b"VERSION=2.0\n"),
    ({"name": "usr/bin/tool", "mode": 0o755, "uid": 1000, "gid": 1001}, b"#!/bin/sh\n"),
    ({"name": "usr/lib/secret", "mode": 0o600}, b"s\n"),
    ({"name": "bin/busybox", "mode": 0o755}, b"busybox\n"),
    ({"name": "bin/sh", "type": tarfile.LNKTYPE, "linkname": "bin/busybox"}, None),
    ({"name": "etc/link", "type": tarfile.SYMTYPE, "linkname": "os-release"}, None),
]


def compressed(data, suffix):
    if suffix == ".tar":
        return data
    if suffix == ".tar.gz":
        return gzip.compress(data)
    if suffix == ".tar.bz2":
        return bz2.compress(data)
    if suffix == ".tar.xz":
        return lzma.compress(data)
    assert suffix == ".tar.zst"
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"])
def test_tar_image_becomes_an_ext4_filesystem_booted_and_marked_good(pki, tmp_path, suffix):
    dev = fs_device(tmp_path, pki, "ext4")
    image = compressed(tar_bytes([(dict(f), d) for f, d in ROOTFS_TAR]), suffix)
    install_and_reboot(dev, make_bundle(pki, tmp_path, {"rootfs": (f"rootfs{suffix}", image)},
                                        version="2.0"))
    slot = dev.slots["rootfs.1"]
    assert_ext_clean(slot)
    assert ext_ls(slot) == ["bin", "etc", "lost+found", "usr"]
    assert ext_cat(slot, "/etc/os-release") == b"VERSION=2.0\n"
    assert ext_cat(slot, "/usr/bin/tool") == b"#!/bin/sh\n"
    tool_stat = ext_stat(slot, "/usr/bin/tool")
    assert re.search(r"Mode:\s+0755", tool_stat), tool_stat
    if os.geteuid() == 0:  # owners are set as root only
        assert re.search(r"User:\s+1000\s+Group:\s+1001", tool_stat), tool_stat
    assert re.search(r"Mode:\s+0600", ext_stat(slot, "/usr/lib/secret"))
    assert 'Fast link dest: "os-release"' in ext_stat(slot, "/etc/link")
    inode = re.compile(r"Inode:\s+(\d+)")
    assert (inode.search(ext_stat(slot, "/bin/sh")).group(1) ==
            inode.search(ext_stat(slot, "/bin/busybox")).group(1))
    # RAUC's default label: the slot's name.
    assert tool("e2label", slot).stdout.strip() == "rootfs.1"
    assert ext_cat(dev.slots["rootfs.0"], "/version") == b"old system in rootfs.0\n"
    assert no_scratch_left(dev)
    assert_committed(dev, "2.0")


def test_tar_image_in_an_ext4_slot_marked_bad_falls_back_to_the_old_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    before = digest(dev.slots["rootfs.0"])
    image = tar_bytes([({"name": "version"}, b"2.0\n")])
    install_and_reboot(dev, make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)}))
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"2.0\n"
    assert_fell_back(dev)
    assert_slot_unchanged(dev, "rootfs.0", before)


@pytest.mark.parametrize("fstype", ["ext2", "ext3"])
def test_tar_image_becomes_the_slots_ext_filesystem(pki, tmp_path, fstype):
    dev = fs_device(tmp_path, pki, fstype)
    image = tar_bytes([({"name": "version"}, b"2.0\n")])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar.gz",
                                                                 gzip.compress(image))})))
    slot = dev.slots["rootfs.1"]
    features = ext_superblock(slot)["Filesystem features"].split()
    assert ("has_journal" in features) == (fstype == "ext3")
    assert "extent" not in features
    assert ext_cat(slot, "/version") == b"2.0\n"
    assert_ext_clean(slot)


def test_tar_image_becomes_a_vfat_filesystem_booted_and_marked_good(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    image = tar_bytes([
        ({"name": "zImage"}, b"kernel 2.0\n"),
        ({"name": "overlays", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "overlays/Long Name Overlay.dtbo"}, b"overlay\n"),
        ({"name": "config.txt"}, b"enable_uart=1\n"),
        ({"name": "copy-of-zImage", "type": tarfile.LNKTYPE, "linkname": "zImage"}, None),
    ])
    install_and_reboot(dev, make_bundle(pki, tmp_path, {"rootfs": ("boot.tar.gz",
                                                                   gzip.compress(image))},
                                        version="2.0"))
    slot = dev.slots["rootfs.1"]
    assert_vfat_clean(slot)
    assert vfat_ls(slot) == ["config.txt", "copy-of-zImage", "overlays", "zImage"]
    assert vfat_cat(slot, "/zImage") == b"kernel 2.0\n"
    assert vfat_cat(slot, "/copy-of-zImage") == b"kernel 2.0\n"
    assert vfat_cat(slot, "/overlays/Long Name Overlay.dtbo") == b"overlay\n"
    # RAUC's default label: the slot's name, as FAT allows it.
    assert tool("fatlabel", slot).stdout.strip() == "ROOTFS_1"
    assert vfat_cat(dev.slots["rootfs.0"], "/version") == b"old system in rootfs.0\n"
    assert no_scratch_left(dev)
    assert_committed(dev, "2.0")


def test_tar_image_in_a_vfat_slot_marked_bad_falls_back_to_the_old_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    before = digest(dev.slots["rootfs.0"])
    image = tar_bytes([({"name": "zImage"}, b"kernel 2.0\n")])
    install_and_reboot(dev, make_bundle(pki, tmp_path, {"rootfs": ("boot.tar", image)}))
    assert_fell_back(dev)
    assert_slot_unchanged(dev, "rootfs.0", before)


def test_extra_mkfs_opts_are_passed_to_mkfs_ext4(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4", "extra-mkfs-opts=-L 'my root' -O ^has_journal")
    image = tar_bytes([({"name": "version"}, b"2.0\n")])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    slot = dev.slots["rootfs.1"]
    assert tool("e2label", slot).stdout.strip() == "my root"
    assert "has_journal" not in ext_superblock(slot)["Filesystem features"].split()
    assert_ext_clean(slot)


def test_extra_mkfs_opts_are_passed_to_mkfs_vfat(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat", "extra-mkfs-opts=-n BOOTFS -i 1234ABCD")
    image = tar_bytes([({"name": "zImage"}, b"kernel\n")])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("boot.tar", image)})))
    slot = dev.slots["rootfs.1"]
    assert tool("fatlabel", slot).stdout.strip() == "BOOTFS"
    assert "Serial Number is 1234-ABCD" in tool("mdir", "-i", slot, "::/").stdout
    assert vfat_cat(slot, "/zImage") == b"kernel\n"


def test_extra_mkfs_opts_mkfs_refuses_fails_the_install_and_names_the_slot(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4", "extra-mkfs-opts=-O no_such_feature")
    image = tar_bytes([({"name": "version"}, b"2.0\n")])
    line = assert_refused(dev.install(make_bundle(pki, tmp_path,
                                                  {"rootfs": ("rootfs.tar", image)})),
                          "mkfs.ext4", path=dev.slots["rootfs.1"])
    assert "no_such_feature" in line
    assert dev.primary() == "A"
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert no_scratch_left(dev)


def test_tar_tree_larger_than_the_ext4_slot_fails_the_install(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = gzip.compress(tar_bytes([({"name": "big"}, os.urandom(SLOT_SIZE))]), 1)
    proc = dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar.gz", image)}))
    assert_refused(proc, "mkfs.ext4", path=dev.slots["rootfs.1"])
    assert dev.primary() == "A"
    assert no_scratch_left(dev)


def test_tar_tree_larger_than_the_vfat_slot_fails_the_install(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    image = gzip.compress(tar_bytes([({"name": "big"}, os.urandom(SLOT_SIZE))]), 1)
    proc = dev.install(make_bundle(pki, tmp_path, {"rootfs": ("boot.tar.gz", image)}))
    assert_refused(proc, "mcopy", path=dev.slots["rootfs.1"])
    assert dev.primary() == "A"
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert no_scratch_left(dev)


def test_tree_left_by_a_power_cut_is_removed_by_the_next_install(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    leftover = dev.data / "slot-fs-ABC123" / "tree" / "usr"
    leftover.mkdir(parents=True)
    (leftover / "big").write_bytes(b"x" * 4096)
    image = tar_bytes([({"name": "version"}, b"2.0\n")])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    assert no_scratch_left(dev)


def test_info_refuses_an_image_the_slot_can_not_take(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "vfat")
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", os.urandom(4096))})
    assert_refused(dev.run("info", bundle), "of type ext4",
                   "can't go into slot rootfs.1 (type=vfat)",
                   path=bundle)


def test_tar_image_whose_hash_does_not_match_leaves_the_slot_untouched(pki, tmp_path):
    """The tree is extracted while the image's hash is checked; no
    filesystem is made unless it matched."""
    dev = fs_device(tmp_path, pki, "ext4")
    image = tar_bytes([({"name": "version"}, b"evil\n")])
    wrong = hashlib.sha256(b"not the image").hexdigest()
    manifest = (f"[update]\ncompatible={COMPATIBLE}\nversion=1.0.0\n\n[image.rootfs]\n"
                f"filename=rootfs.tar\nsize={len(image)}\nsha256={wrong}\n")
    bundle = handmade_plain_bundle(pki, tmp_path / "hand", manifest, {"rootfs.tar": image})
    before = dev.snapshot()[0]
    assert_refused(dev.install(bundle), "sha256", path=bundle)
    assert dev.snapshot()[0] == before
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"old system in rootfs.1\n"
    assert dev.primary() == "A"
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert no_scratch_left(dev)


def test_tar_with_data_after_its_end_is_read_to_the_end_and_installed(pki, tmp_path):
    """libarchive stops at the end-of-archive blocks; the rest of the image
    (more than a pipe holds) is still read and hashed."""
    image = tar_bytes([({"name": "version"}, b"2.0\n")]) + os.urandom(1 << 20)
    dev = fs_device(tmp_path, pki, "ext4")
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"2.0\n"


def test_image_that_is_not_a_tar_for_a_filesystem_slot_is_refused(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    before = dev.snapshot()[0]
    proc = dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", os.urandom(9000))}))
    assert_refused(proc, "tar image")
    assert dev.snapshot()[0] == before
    assert no_scratch_left(dev)


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes are made as root only")
def test_device_nodes_of_a_tar_image_are_made_in_the_ext4_filesystem(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = tar_bytes([({"name": "dev/console", "type": tarfile.CHRTYPE, "devmajor": 5,
                         "devminor": 1, "mode": 0o600}, None)])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    st = ext_stat(dev.slots["rootfs.1"], "/dev/console")
    assert "Type: character special" in st, st
    assert re.search(r"Device major/minor number: 0*5:0*1", st), st


# --- hostile tar images -----------------------------------------------------------------


def hostile_entries(kind, outside):
    if kind == "dotdot":
        return [({"name": "../x"}, b"escaped\n")]
    if kind == "nested-dotdot":
        return [({"name": "etc/../../../x"}, b"escaped\n")]
    if kind == "absolute":
        return [({"name": str(outside / "x")}, b"escaped\n")]
    if kind == "file-through-symlink":
        return [({"name": "link", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
                ({"name": "link/x"}, b"escaped\n")]
    if kind == "file-through-relative-symlink":
        return [({"name": "up", "type": tarfile.SYMTYPE, "linkname": "../../../.."}, None),
                ({"name": "up/x"}, b"escaped\n")]
    if kind == "hardlink-through-symlink":
        return [({"name": "link", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
                ({"name": "hl", "type": tarfile.LNKTYPE, "linkname": "link/victim"}, None),
                ({"name": "hl"}, b"overwritten\n")]
    if kind == "root-replaced-by-symlink":
        return [({"name": ".", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
                ({"name": "x"}, b"escaped\n")]
    assert kind == "hardlink-absolute"
    return [({"name": "hl", "type": tarfile.LNKTYPE, "linkname": str(outside / "victim")}, None),
            ({"name": "hl"}, b"overwritten\n")]


HOSTILE = {"dotdot": "..", "nested-dotdot": "..", "absolute": "absolute",
           "file-through-symlink": "symlink", "file-through-relative-symlink": "symlink",
           "hardlink-through-symlink": "symlink", "hardlink-absolute": "absolute",
           "root-replaced-by-symlink": "top directory"}


def hostile_reason(kind, fstype):
    """Why it is refused: a vfat slot takes no symlink in the first place."""
    if fstype == "vfat" and HOSTILE[kind] == "symlink":
        return "symbolic link"
    return HOSTILE[kind]


@pytest.mark.parametrize("fstype", ["ext4", "vfat"])
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_tar_image_writes_nothing_outside_and_leaves_the_slot_untouched(
        pki, tmp_path, kind, fstype):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"keep me\n")
    dev = fs_device(tmp_path, pki, fstype)
    watched = {p: digest(p) for p in tmp_path.rglob("*") if p.is_file()}
    image = tar_bytes([({"name": "ok.txt"}, b"fine\n")] + hostile_entries(kind, outside))
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})
    proc = dev.install(bundle)
    assert_refused(proc, "tar image", hostile_reason(kind, fstype), path=bundle)
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"keep me\n"
    for path in ("x", "../x", "../../x"):
        assert not (dev.data / path).exists()
    # Nothing that was there changed but the state (which records the
    # failure) and the bootloader's (the target marked bad).
    for path, before in watched.items():
        if path.parent != dev.data:
            assert digest(path) == before, path
    assert dev.primary() == "A"
    assert no_scratch_left(dev)


@pytest.mark.parametrize("entry, words", [
    (({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/shadow"}, None),
     ["symbolic link"]),
    (({"name": "null", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None),
     ["device node"]),
    (({"name": "fifo", "type": tarfile.FIFOTYPE}, None), ["FIFO"]),
    (({"name": "a:b"}, b"x"), ["a:b", "character"]),
    (({"name": "trailing."}, b"x"), ["trailing."]),
    (({"name": "README"}, b"x"), ["readme", "only in case"]),
    (({"name": "DOCS/x"}, b"x"), ["DOCS", "only in case"]),
])
def test_tar_entry_a_vfat_slot_can_not_hold_is_refused_by_name(pki, tmp_path, entry, words):
    dev = fs_device(tmp_path, pki, "vfat")
    before = dev.snapshot()[0]
    image = tar_bytes([({"name": "readme"}, b"r\n"), ({"name": "docs/y"}, b"y\n"),
                       (dict(entry[0]), entry[1])])
    proc = dev.install(make_bundle(pki, tmp_path, {"rootfs": ("boot.tar", image)}))
    assert_refused(proc, "tar image", *words)
    assert dev.snapshot()[0] == before
    assert no_scratch_left(dev)


# --- install-same -----------------------------------------------------------------------


SKIPPED = "not rewritten, as install-same=false"


@pytest.mark.parametrize("key", ["install-same", "force-install-same", "ignore-checksum"])
def test_install_same_false_skips_a_slot_that_holds_the_image_and_says_so(pki, tmp_path, key):
    dev = fs_device(tmp_path, pki, "ext4", f"{key}=false")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"}).read_bytes()
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", image)})
    first = assert_ok(dev.install(bundle))
    assert SKIPPED not in first.stdout
    slot = dev.slots["rootfs.1"]
    written = slot.stat().st_mtime_ns
    second = assert_ok(dev.install(bundle))
    assert SKIPPED in second.stdout and "rootfs.1" in second.stdout
    assert slot.stat().st_mtime_ns == written
    # Still an install: the slot is the one to boot.
    assert dev.status()["pending"] == "rootfs.1"
    assert dev.primary() == "B"


def test_install_same_defaults_to_true_and_writes_the_slot_again(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"2.0\n"}).read_bytes()
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", image)})
    assert_ok(dev.install(bundle))
    slot = dev.slots["rootfs.1"]
    os.utime(slot, ns=(0, 0))
    assert SKIPPED not in assert_ok(dev.install(bundle)).stdout
    assert slot.stat().st_mtime_ns != 0


def test_install_same_false_writes_another_image(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4", "install-same=false")
    one = make_ext4(tmp_path / "one.ext4", {"version": b"1\n"}).read_bytes()
    two = make_ext4(tmp_path / "two.ext4", {"version": b"2\n"}).read_bytes()
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", one)},
                                      version="1.0")))
    proc = assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", two)},
                                             version="2.0")))
    assert SKIPPED not in proc.stdout
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"2\n"


def test_install_same_false_skips_only_the_unchanged_slot_of_a_bundle(pki, tmp_path):
    dev = fs_device(tmp_path, pki, "ext4", classes=("rootfs", "appfs"))
    dev.conf.write_text(dev.conf.read_text().replace(
        "[slot.appfs.1]\n", "[slot.appfs.1]\ninstall-same=false\n"))
    app = os.urandom(30000)
    first = make_ext4(tmp_path / "a.ext4", {"version": b"1\n"}).read_bytes()
    second = make_ext4(tmp_path / "b.ext4", {"version": b"2\n"}).read_bytes()
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", first),
                                                      "appfs": app}, version="1.0")))
    appfs = dev.slots["appfs.1"]
    written = appfs.stat().st_mtime_ns
    proc = assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", second),
                                                             "appfs": app}, version="2.0")))
    assert re.search(rf"{SKIPPED}.*appfs\.1", proc.stdout), proc.stdout
    assert appfs.stat().st_mtime_ns == written
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"2\n"
    assert dev.slot("appfs.1")["version"] == "2.0"


def test_install_same_false_writes_a_slot_whose_last_install_failed(pki, tmp_path):
    """A slot's record of its image is cleared before it is written: a slot
    left half-written is never taken for one that holds the image."""
    dev = fs_device(tmp_path, pki, "ext4", "install-same=false")
    image = make_ext4(tmp_path / "rootfs.ext4", {"version": b"good\n"}).read_bytes()
    good = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.ext4", image)})
    assert_ok(dev.install(good))
    other = make_ext4(tmp_path / "other.ext4", {"version": b"bad\n"}).read_bytes()
    wrong = hashlib.sha256(b"not the image").hexdigest()
    manifest = (f"[update]\ncompatible={COMPATIBLE}\nversion=1.0.0\n\n[image.rootfs]\n"
                f"filename=rootfs.ext4\nsize={len(other)}\nsha256={wrong}\n")
    broken = handmade_plain_bundle(pki, tmp_path / "hand", manifest, {"rootfs.ext4": other})
    assert_refused(dev.install(broken), "sha256")
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"bad\n"  # written, then refused
    proc = assert_ok(dev.install(good))
    assert SKIPPED not in proc.stdout
    assert ext_cat(dev.slots["rootfs.1"], "/version") == b"good\n"
