# SPDX-License-Identifier: LGPL-2.1-or-later
"""Black-box tests of `otabundle-install`, the on-target verifier and A/B
installer: install, info, status, mark-good and mark-bad on a device made
of files in tmp_path (slot devices are regular files, or directories for
tar slots), with the `file` bootloader backend (its state lives in the data
directory) and once with a `custom` backend script.

Every test builds its own system.conf. The booted slot comes from
--override-boot-slot, as a test can't reboot; "rebooting into B" means
running the next command with --override-boot-slot=B."""
import configparser
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (OTABUNDLE, Signer, assert_ok, check_json_output, flip_byte, run,
                      run_on_terminal, run_tool, sha256_file, tree_digest, write_manifest)

OTABUNDLE_INSTALL = os.environ.get("OTABUNDLE_INSTALL",
                                   str(Path(OTABUNDLE).with_name("otabundle-install")))

COMPATIBLE = "otabundle-test"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Stored, not compressed: the big bundles are made quickly and their image
# bytes lie in the bundle file as they are.
NO_COMPRESSION = "--mksquashfs-args=-noI -noD -noF -noX"
BIG_IMAGE_SIZE = 300 * 1024 * 1024


# --- running and asserting ----------------------------------------------------------------


def install_cmd(conf, *args, boot="A"):
    cmd = [OTABUNDLE_INSTALL]
    if conf is not None:
        cmd += ["--conf", str(conf)]
    if boot is not None:
        cmd.append(f"--override-boot-slot={boot}")
    return cmd + [str(a) for a in args]


def run_install(conf, *args, boot="A", env=None):
    """Runs otabundle-install (in environment @env, default ours); never
    raises on a non-zero exit. JSON output is validated against its schema."""
    cmd = install_cmd(conf, *args, boot=boot)
    return check_json_output(cmd, subprocess.run(cmd, capture_output=True, text=True, env=env))


def assert_refused(proc, *words, path=None):
    """Exit 1 and exactly one stderr line `otabundle-install: ...` that names
    @path (when given) and contains each of @words (case-insensitive)."""
    assert proc.returncode == 1, (
        f"expected exit 1, got {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("otabundle-install: "), line
    assert line[len("otabundle-install: "):].strip(), f"no reason: {line}"
    if path is not None:
        assert str(path) in line, f"stderr does not name {path}: {line}"
    for word in words:
        assert word.lower() in line.lower(), f"{word!r} not in stderr line: {line}"
    return line


def assert_usage(proc):
    assert proc.returncode == 2, (
        f"expected exit 2, got {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    assert proc.stderr.startswith("otabundle-install: "), proc.stderr


# --- the device -------------------------------------------------------------------------


def _block(text):
    """@text as lines of a config file, ending in a newline (or nothing)."""
    text = "\n".join(line.strip() for line in text.strip().splitlines())
    return text + "\n" if text else ""


@dataclass
class Device:
    root: Path
    conf: Path
    data: Path
    slots: dict  # slot name ("rootfs.0") -> device path

    def run(self, *args, boot="A", env=None):
        return run_install(self.conf, *args, boot=boot, env=env)

    def install(self, bundle, boot="A", env=None):
        return self.run("install", bundle, boot=boot, env=env)

    def status(self, boot="A"):
        return json.loads(assert_ok(self.run("status", "--output-format=json", boot=boot)).stdout)

    def slot(self, name, boot="A"):
        """The status JSON entry of slot @name."""
        return next(s for s in self.status(boot)["slots"] if s["name"] == name)

    def primary(self, boot="A"):
        return self.status(boot)["primary"]

    @property
    def state_file(self):
        return self.data / "state"

    @property
    def bootloader_file(self):
        return self.data / "bootloader.state"

    def snapshot(self):
        """Every slot (bytes, mode, mtime) and the bootloader's state: what a
        refused install must leave alone. (The state file records the
        failure, by design, so it is not part of this.)"""
        slots = {name: (tree_digest(p) if p.is_dir() else
                        (p.lstat().st_mtime_ns, p.lstat().st_ino, sha256_file(p)))
                 for name, p in self.slots.items()}
        boot = self.bootloader_file.read_bytes() if self.bootloader_file.exists() else None
        return slots, boot


def make_device(tmp_path, keyring, *, classes=("rootfs",), tar=(), system="", keyring_extra="",
                class_extra=None, extra="", bootloader="file", name="device"):
    """A device under tmp_path/@name: two slots of each slot class (index 0
    and 1; the first class is the bootable one, bootnames A and B), each
    holding an old system; @tar classes are directories with type=tar."""
    root = tmp_path / name
    (root / "slots").mkdir(parents=True)
    data = root / "data"
    text = (f"[system]\ncompatible={COMPATIBLE}\nbootloader={bootloader}\n"
            f"data-directory={data}\n" + _block(system))
    text += f"\n[keyring]\npath={keyring}\n" + _block(keyring_extra)
    slots = {}
    for cls in classes:
        for index, bootname in enumerate(("A", "B")):
            slot = f"{cls}.{index}"
            dev = root / "slots" / slot
            if cls in tar:
                dev.mkdir()
                (dev / "old-file").write_text(f"old system in {slot}\n")
                (dev / "old-dir").mkdir()
                (dev / "old-dir" / "old-nested").write_text("old\n")
            else:
                dev.write_bytes(f"old system in {slot}\n".encode())
            text += f"\n[slot.{slot}]\ndevice={dev}\n"
            if cls in tar:
                text += "type=tar\n"
            if cls == classes[0]:
                text += f"bootname={bootname}\n"
            text += _block((class_extra or {}).get(cls, ""))
            slots[slot] = dev
    if extra:
        text += "\n" + _block(extra)
    conf = root / "system.conf"
    conf.write_text(text)
    return Device(root, conf, data, slots)


@pytest.fixture
def device(tmp_path, pki):
    """rootfs.0 (A) and rootfs.1 (B), trusting conftest's root CA."""
    return make_device(tmp_path, pki.root)


# --- bundles ----------------------------------------------------------------------------


def make_bundle(pki, d, images=None, *, version="1.0.0", compatible=COMPATIBLE, meta=None,
                fmt="verity", sign=None, name=None, create_args=()):
    """A bundle made by `otabundle create` in directory @d. @images:
    {slotclass: bytes or (filename, bytes)} (default: 20000 random bytes
    for rootfs); @meta: [meta.otabundle] keys; @sign: signer arguments
    (default: conftest's ec256 leaf with its intermediate)."""
    d = Path(d)
    images = images if images is not None else {"rootfs": os.urandom(20000)}
    name = name or f"bundle-{version}-{fmt}"
    inputdir = d / f"{name}.in"
    inputdir.mkdir(parents=True)
    spec = {}
    for cls, value in images.items():
        filename, data = value if isinstance(value, tuple) else (f"{cls}.img", value)
        (inputdir / filename).write_bytes(data)
        spec[cls] = filename
    extra = ""
    if meta:
        extra = "[meta.otabundle]\n" + "".join(f"{k}={v}\n" for k, v in meta.items())
    write_manifest(inputdir, spec, compatible=compatible, version=version, extra=extra)
    bundle = d / f"{name}.raucb"
    sign = sign if sign is not None else pki.sign_args()
    assert_ok(run("create", f"--format={fmt}", *sign, *create_args, inputdir, bundle))
    return bundle


def signer_args(*signers, intermediate=None):
    args = []
    for s in signers:
        args += ["--cert", s.cert, "--key", s.key]
    if intermediate is not None:
        args += ["--intermediate", intermediate]
    return args


@dataclass
class Ca:
    root: Path              # the keyring a device holds
    leaves: list            # Signers issued directly by the root


def make_ca(d, name, n_leaves=1):
    """A root CA of its own and @n_leaves leaves it issued, independent of
    conftest's development PKI."""
    d = Path(d)
    root, root_key = d / f"{name}-root.pem", d / f"{name}-root.key"
    run_tool("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", root_key, "-out", root, "-subj", f"/CN={name} root CA",
             "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ext = d / f"{name}-leaf.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    leaves = []
    for i in range(n_leaves):
        key, csr, cert = (d / f"{name}-{i}.key", d / f"{name}-{i}.csr", d / f"{name}-{i}.pem")
        run_tool("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={name} signer {i}")
        run_tool("openssl", "x509", "-req", "-in", csr, "-CA", root, "-CAkey", root_key,
                 "-set_serial", str(100 + i), "-days", "30", "-sha256", "-extfile", ext,
                 "-out", cert)
        leaves.append(Signer(cert, key))
    return Ca(root, leaves)


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """A release CA, distinct from the development PKI."""
    return make_ca(tmp_path_factory.mktemp("release-ca"), "release")


@pytest.fixture(scope="session")
def boot_ca(tmp_path_factory):
    """The bootloader signing tier: its own root and two signers."""
    return make_ca(tmp_path_factory.mktemp("boot-ca"), "boot", n_leaves=2)


# --- watching a running install -----------------------------------------------------------


def stop_while_writing(proc, path):
    """Waits until @proc has @path open for writing, then stops it there
    with SIGSTOP. Returns False if it ended first."""
    target = os.path.realpath(path)
    fd_dir = f"/proc/{proc.pid}/fd"
    while proc.poll() is None:
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            break
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != target:
                    continue
                info = Path(f"/proc/{proc.pid}/fdinfo/{fd}").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            flags = int(re.search(r"^flags:\s*([0-7]+)", info, re.M).group(1), 8)
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                os.kill(proc.pid, signal.SIGSTOP)
                return True
    return False


@dataclass
class BigBundle:
    path: Path
    image: Path       # the image file it was made from
    sha256: str
    size: int


@pytest.fixture(scope="session")
def big_input(tmp_path_factory):
    """An input directory with a 300 MiB random rootfs image, version 2.0.0
    (the big bundles are made next to it, and removed with it)."""
    d = tmp_path_factory.mktemp("big") / "in"
    d.mkdir()
    h = hashlib.sha256()
    with open(d / "rootfs.img", "wb") as f:
        for _ in range(BIG_IMAGE_SIZE // (1 << 20)):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    write_manifest(d, {"rootfs": "rootfs.img"}, compatible=COMPATIBLE, version="2.0.0")
    yield d, h.hexdigest()
    shutil.rmtree(d.parent)


def _big_bundle(pki, big_input, fmt):
    inputdir, digest = big_input
    bundle = inputdir.parent / f"big-{fmt}.raucb"
    if not bundle.exists():
        assert_ok(run("create", f"--format={fmt}", *pki.sign_args(), NO_COMPRESSION, inputdir,
                      bundle))
    return BigBundle(bundle, inputdir / "rootfs.img", digest, BIG_IMAGE_SIZE)


@pytest.fixture(scope="session")
def big_verity(pki, big_input):
    return _big_bundle(pki, big_input, "verity")


@pytest.fixture(scope="session")
def big_plain(pki, big_input):
    return _big_bundle(pki, big_input, "plain")


@pytest.fixture
def drop_big_files(tmp_path):
    """Removes this test's big files (bundle copies, slots) when it ends:
    pytest keeps the last runs' temporary directories."""
    yield
    for p in tmp_path.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.stat().st_size > (16 << 20):
            p.unlink()


def private_copy(big, tmp_path):
    dst = tmp_path / big.path.name
    shutil.copyfile(big.path, dst)
    return dst


def image_offset(bundle, image):
    """Where the (stored, uncompressed) image bytes start in @bundle."""
    with open(image, "rb") as f:
        head = f.read(1 << 16)
    with open(bundle, "rb") as f:
        start = f.read(1 << 22)
    offset = start.find(head)
    assert offset >= 0, "image bytes not found stored in the bundle"
    return offset


# --- a successful install ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_install_writes_the_image_into_the_inactive_slot_and_makes_it_primary(
        pki, device, tmp_path, fmt):
    image = os.urandom(100000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt=fmt)
    proc = assert_ok(device.install(bundle))
    assert "rootfs.1" in proc.stdout
    assert device.slots["rootfs.1"].read_bytes() == image
    assert device.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    status = device.status()
    assert status["primary"] == "B"
    assert status["pending"] == "rootfs.1"
    assert device.slot("rootfs.1")["state"] == "good"
    assert device.slot("rootfs.1")["version"] == "1.0.0"


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_install_shows_progress_per_slot_on_a_terminal_and_none_with_quiet(
        pki, device, tmp_path, fmt):
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(300000)}, fmt=fmt)
    status, stdout, terminal = run_on_terminal(install_cmd(device.conf, "install", bundle))
    assert status == 0, terminal
    size = r"[\d.]+ [KMGT]?i?B"
    assert re.search(rf"install rootfs\.1: {size} of {size} \(\d+%\)", terminal), terminal
    assert re.search(rf"install rootfs\.1: {size} in \d+:\d\d, {size}/s\n", terminal), terminal
    assert "rootfs.1" in stdout
    # Installing again (into the same inactive slot), quietly.
    status, _, terminal = run_on_terminal(install_cmd(device.conf, "--quiet", "install", bundle))
    assert (status, terminal) == (0, "")


def test_install_of_several_slot_classes_writes_the_slots_of_the_boot_target_index(
        pki, tmp_path):
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "appfs"))
    rootfs, appfs = os.urandom(30000), os.urandom(20000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": rootfs, "appfs": appfs})
    assert_ok(dev.install(bundle, boot="B"))
    assert dev.slots["rootfs.0"].read_bytes() == rootfs
    assert dev.slots["appfs.0"].read_bytes() == appfs
    assert dev.slots["rootfs.1"].read_bytes() == b"old system in rootfs.1\n"
    assert dev.slots["appfs.1"].read_bytes() == b"old system in appfs.1\n"
    assert dev.primary(boot="B") == "A"


def test_bundle_with_an_image_for_a_slot_class_the_system_lacks_is_refused(pki, device,
                                                                           tmp_path):
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(1000), "appfs": os.urandom(1000)})
    before = device.snapshot()
    assert_refused(device.install(bundle), "appfs", path=bundle)
    assert device.snapshot() == before


# --- signature policy ---------------------------------------------------------------------


def test_devel_signed_bundle_is_rejected_by_a_release_keyring(pki, release, tmp_path):
    dev = make_device(tmp_path, release.root)
    devel = make_bundle(pki, tmp_path, name="devel")
    before = dev.snapshot()
    assert_refused(dev.install(devel), "trusted", path=devel)
    assert dev.snapshot() == before
    assert dev.primary() == "A"
    released = make_bundle(pki, tmp_path, name="released", sign=signer_args(release.leaves[0]))
    assert_ok(dev.install(released))


def test_one_signer_bundle_is_rejected_by_a_threshold_2_system(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, keyring_extra="threshold=2")
    bundle = make_bundle(pki, tmp_path)
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "1 of 2", path=bundle)
    assert dev.snapshot() == before


def test_two_signer_bundle_is_accepted_by_a_threshold_2_system(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, keyring_extra="threshold=2")
    image = os.urandom(5000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image},
                         sign=signer_args(pki.leaves["ec256"], pki.leaves["rsa2048"],
                                          intermediate=pki.intermediate))
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == image


def test_check_purpose_codesign_rejects_a_signer_without_code_signing_usage(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, keyring_extra="check-purpose=codesign")
    email = make_bundle(pki, tmp_path, name="email", sign=pki.sign_args("email"))
    before = dev.snapshot()
    assert_refused(dev.install(email), "codeSigning", path=email)
    assert dev.snapshot() == before
    codesign = make_bundle(pki, tmp_path, name="codesign", sign=pki.sign_args("codesign"))
    assert_ok(dev.install(codesign))


def test_crl_in_the_keyring_rejects_a_revoked_signer(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, keyring_extra=f"crl={pki.crl}")
    revoked = make_bundle(pki, tmp_path, name="revoked", sign=pki.sign_args("revoked"))
    before = dev.snapshot()
    assert_refused(dev.install(revoked), "revoked", path=revoked)
    assert dev.snapshot() == before
    assert_ok(dev.install(make_bundle(pki, tmp_path, name="good")))


def test_bundle_signed_with_an_expired_certificate_is_rejected(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, sign=pki.sign_args("expired"),
                         create_args=["--no-check-time"])
    before = device.snapshot()
    assert_refused(device.install(bundle), "expired", path=bundle)
    assert device.snapshot() == before


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_bundle_modified_after_signing_is_rejected(pki, device, tmp_path, fmt):
    image = os.urandom(50000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt=fmt)
    offset = bundle.read_bytes().find(image[1000:1100])
    assert offset > 0
    flip_byte(bundle, offset)
    before = device.snapshot()
    assert_refused(device.install(bundle), "modified", path=bundle)
    assert device.snapshot() == before
    assert device.primary() == "A"


# --- signing tiers: [policy.bootloader] -----------------------------------------------------


@pytest.fixture
def tiered(tmp_path, pki, boot_ca):
    """rootfs A/B under the default keyring (the application CA) and a
    bootloader slot pair bound to [policy.bootloader] (the boot CA)."""
    return make_device(tmp_path, pki.root, classes=("rootfs", "bootloader"),
                       class_extra={"bootloader": "policy=bootloader"},
                       extra=f"[policy.bootloader]\npath={boot_ca.root}\n")


def test_application_key_is_refused_for_a_bootloader_image(pki, tiered, tmp_path):
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(5000),
                                         "bootloader": os.urandom(3000)})
    before = tiered.snapshot()
    assert_refused(tiered.install(bundle), "bootloader", path=bundle)
    assert tiered.snapshot() == before
    assert tiered.primary() == "A"
    assert_refused(tiered.run("info", bundle), "bootloader", path=bundle)


def test_application_and_boot_keys_together_install_a_bootloader_image(pki, boot_ca, tiered,
                                                                       tmp_path):
    rootfs, boot = os.urandom(5000), os.urandom(3000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": rootfs, "bootloader": boot},
                         sign=signer_args(pki.leaves["ec256"], boot_ca.leaves[0],
                                          intermediate=pki.intermediate))
    info = assert_ok(tiered.run("info", bundle))
    assert "default, bootloader" in info.stdout
    assert_ok(tiered.install(bundle))
    assert tiered.slots["rootfs.1"].read_bytes() == rootfs
    assert tiered.slots["bootloader.1"].read_bytes() == boot
    assert tiered.slots["bootloader.0"].read_bytes() == b"old system in bootloader.0\n"


def test_boot_key_alone_does_not_satisfy_the_default_policy(pki, boot_ca, tiered, tmp_path):
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(5000),
                                         "bootloader": os.urandom(3000)},
                         sign=signer_args(boot_ca.leaves[0]))
    before = tiered.snapshot()
    assert_refused(tiered.install(bundle), "trusted", path=bundle)
    assert tiered.snapshot() == before


def test_application_key_alone_installs_a_bundle_without_a_bootloader_image(pki, tiered,
                                                                            tmp_path):
    rootfs = os.urandom(5000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": rootfs})
    info = assert_ok(tiered.run("info", bundle))
    assert "bootloader" not in info.stdout.split("policies:")[1].split(")")[0]
    assert_ok(tiered.install(bundle))
    assert tiered.slots["rootfs.1"].read_bytes() == rootfs
    assert tiered.slots["bootloader.1"].read_bytes() == b"old system in bootloader.1\n"


def test_bootloader_policy_threshold_2_refuses_one_boot_signer(pki, boot_ca, tmp_path):
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "bootloader"),
                      class_extra={"bootloader": "policy=bootloader"},
                      extra=f"[policy.bootloader]\npath={boot_ca.root}\nthreshold=2\n")
    images = {"rootfs": os.urandom(5000), "bootloader": os.urandom(3000)}
    one = make_bundle(pki, tmp_path, images, name="one-boot-signer",
                      sign=signer_args(pki.leaves["ec256"], boot_ca.leaves[0],
                                       intermediate=pki.intermediate))
    before = dev.snapshot()
    assert_refused(dev.install(one), "bootloader", "1 of 2", path=one)
    assert dev.snapshot() == before
    two = make_bundle(pki, tmp_path, images, name="two-boot-signers",
                      sign=signer_args(pki.leaves["ec256"], *boot_ca.leaves,
                                       intermediate=pki.intermediate))
    assert_ok(dev.install(two))
    assert dev.slots["bootloader.1"].read_bytes() == images["bootloader"]


# --- compatible, hardware revision, expiry, minimum installed version ---------------------


def test_bundle_for_another_compatible_is_refused(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, compatible="other-board")
    before = device.snapshot()
    assert_refused(device.install(bundle), "other-board", COMPATIBLE, path=bundle)
    assert device.snapshot() == before


def test_bundle_for_other_hardware_revisions_is_refused(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="hardware-revision=r2")
    bundle = make_bundle(pki, tmp_path, meta={"hardware-revisions": "r1,r3"})
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "r1,r3", "r2", path=bundle)
    assert dev.snapshot() == before


def test_bundle_listing_the_hardware_revision_installs(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="hardware-revision=r2")
    bundle = make_bundle(pki, tmp_path, meta={"hardware-revisions": "r1, r2 ,r3"})
    assert_ok(dev.install(bundle))


def test_bundle_with_hardware_revisions_is_refused_by_a_device_without_one(pki, device,
                                                                           tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"hardware-revisions": "r1"})
    assert_refused(device.install(bundle), "r1", path=bundle)


def test_expired_bundle_is_refused(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"expires": "2001-02-03T04:05:06Z"})
    before = device.snapshot()
    assert_refused(device.install(bundle), "expired", "2001-02-03T04:05:06Z", path=bundle)
    assert device.snapshot() == before


def test_bundle_expiring_in_the_future_installs(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"expires": "2999-01-01T00:00:00+01:00"})
    assert_ok(device.install(bundle))


@pytest.mark.parametrize("expires", ["tomorrow", "2999-13-01T00:00:00Z", ""])
def test_expires_that_is_not_a_time_is_refused(pki, device, tmp_path, expires):
    bundle = make_bundle(pki, tmp_path, meta={"expires": expires})
    before = device.snapshot()
    assert_refused(device.install(bundle), "expires", path=bundle)
    assert device.snapshot() == before


def test_expires_without_a_utc_offset_is_refused_as_not_rfc3339(pki, device, tmp_path):
    """RFC 3339 requires the offset; without one the expiry would depend
    on the device's local time zone."""
    bundle = make_bundle(pki, tmp_path, meta={"expires": "2999-01-01T00:00:00"})
    before = device.snapshot()
    assert_refused(device.install(bundle), "expires", path=bundle)
    assert device.snapshot() == before


def test_security_version_that_is_not_a_number_is_refused(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"security-version": "-1"})
    before = device.snapshot()
    assert_refused(device.install(bundle), "security-version", path=bundle)
    assert device.snapshot() == before


def test_min_installed_version_not_met_is_refused(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="1.0.0")))
    assert_ok(device.run("mark-good", boot="B"))
    bundle = make_bundle(pki, tmp_path, version="3.0.0",
                         meta={"min-installed-version": "2.0.0"})
    before = device.snapshot()
    assert_refused(device.install(bundle, boot="B"), "2.0.0", "1.0.0", path=bundle)
    assert device.snapshot() == before


def test_min_installed_version_on_a_device_with_none_recorded_is_refused(pki, device,
                                                                         tmp_path):
    bundle = make_bundle(pki, tmp_path, meta={"min-installed-version": "1.0.0"})
    assert_refused(device.install(bundle), "1.0.0", path=bundle)


def test_min_installed_version_met_installs(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0.0")))
    assert_ok(device.run("mark-good", boot="B"))
    bundle = make_bundle(pki, tmp_path, version="3.0.0",
                         meta={"min-installed-version": "2.0.0"})
    assert_ok(device.install(bundle, boot="B"))


# --- anti-rollback ----------------------------------------------------------------------


def test_downgrade_is_refused_after_mark_good(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0")))
    assert_ok(device.run("mark-good", boot="B"))
    old = make_bundle(pki, tmp_path, version="1.0")
    before = device.snapshot()
    assert_refused(device.install(old, boot="B"), "1.0", "2.0", "downgrade", path=old)
    assert device.snapshot() == before
    assert device.primary(boot="B") == "B"


def test_downgrade_is_accepted_with_allow_downgrade(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="allow-downgrade=true")
    assert_ok(dev.install(make_bundle(pki, tmp_path, version="2.0")))
    assert_ok(dev.run("mark-good", boot="B"))
    image = os.urandom(7000)
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": image}, version="1.0"),
                          boot="B"))
    assert dev.slots["rootfs.0"].read_bytes() == image
    assert dev.primary(boot="B") == "A"


def test_versions_compare_by_number_not_as_text(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="1.9")))
    assert_ok(device.run("mark-good", boot="B"))
    assert_ok(device.install(make_bundle(pki, tmp_path, version="1.10"), boot="B"))


def test_security_version_below_the_floor_is_refused_even_with_allow_downgrade(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="allow-downgrade=true")
    assert_ok(dev.install(make_bundle(pki, tmp_path, version="2.0",
                                      meta={"security-version": 5})))
    assert_ok(dev.run("mark-good", boot="B"))
    assert dev.status(boot="B")["security_floor"] == 5
    for version in ("1.0", "3.0"):
        bundle = make_bundle(pki, tmp_path, version=version, meta={"security-version": 4})
        before = dev.snapshot()
        assert_refused(dev.install(bundle, boot="B"), "floor", "4", "5", path=bundle)
        assert dev.snapshot() == before
    equal = make_bundle(pki, tmp_path, version="1.5", meta={"security-version": 5})
    assert_ok(dev.install(equal, boot="B"))


def test_bundle_without_security_version_is_refused_once_the_floor_is_raised(pki, device,
                                                                             tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 1})))
    assert_ok(device.run("mark-good", boot="B"))
    bundle = make_bundle(pki, tmp_path, version="3.0")
    assert_refused(device.install(bundle, boot="B"), "floor", path=bundle)


def test_floor_does_not_rise_at_install_nor_when_the_old_slot_is_marked_good(pki, device,
                                                                            tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 7})))
    status = device.status()
    assert (status["security_floor"], status["installed_version"]) == (0, None)
    # The new slot never came up: the bootloader gave up on B (marked it bad)
    # and fell back to A, where mark-good commits nothing of B's and settles
    # the failed install.
    device.bootloader_file.write_text(
        "[bootloader]\nprimary=A\n\n[slot.A]\nstate=good\n\n[slot.B]\nstate=bad\n")
    assert_ok(device.run("mark-good", boot="A"))
    status = device.status()
    assert (status["security_floor"], status["installed_version"]) == (0, None)
    assert status["pending"] is None


def test_mark_good_on_the_old_slot_before_the_reboot_does_not_lose_the_pending_install(
        pki, device, tmp_path):
    """A boot-time health check that marks the running slot good may finish
    after an install into the other slot (or run periodically). The new
    slot, booted next and marked good, must still be committed: otherwise
    the floor never rises to its security version."""
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 7})))
    assert_ok(device.run("mark-good", boot="A"))   # still the old system, before the reboot
    assert device.primary() == "B"
    assert_ok(device.run("mark-good", boot="B"))   # after the reboot into B
    status = device.status(boot="B")
    assert status["installed_version"] == "2.0"
    assert status["security_floor"] == 7


# --- writing: hash check, interruption, the booted slot -------------------------------------


def handmade_plain_bundle(pki, d, manifest, files):
    """A plain bundle built without otabundle: mksquashfs of manifest.raucm
    and @files, signed detached by `openssl cms`, CMS and length appended."""
    d = Path(d)
    src = d / "squashfs-root"
    src.mkdir(parents=True)
    (src / "manifest.raucm").write_text(manifest)
    for name, data in files.items():
        (src / name).write_bytes(data)
    img = d / "squashfs.img"
    run_tool("mksquashfs", src, img, "-quiet", "-all-root", "-noappend")
    s = pki.leaves["ec256"]
    cms = d / "cms.der"
    run_tool("openssl", "cms", "-sign", "-binary", "-nosmimecap", "-md", "sha256",
             "-outform", "DER", "-in", img, "-signer", s.cert, "-inkey", s.key,
             "-certfile", pki.intermediate, "-out", cms)
    bundle = d / "handmade.raucb"
    bundle.write_bytes(img.read_bytes() + cms.read_bytes()
                       + cms.stat().st_size.to_bytes(8, "big"))
    return bundle


def test_image_whose_hash_does_not_match_the_manifest_is_not_made_bootable(pki, device,
                                                                           tmp_path):
    image = os.urandom(50000)
    wrong = hashlib.sha256(b"not the image").hexdigest()
    manifest = (f"[update]\ncompatible={COMPATIBLE}\nversion=1.0.0\n\n[image.rootfs]\n"
                f"filename=rootfs.img\nsize={len(image)}\nsha256={wrong}\n")
    bundle = handmade_plain_bundle(pki, tmp_path / "hand", manifest, {"rootfs.img": image})
    # The signature is good: what is wrong is the image.
    assert_ok(run("verify", "--keyring", pki.root, bundle))
    assert_refused(device.install(bundle), "sha256", path=bundle)
    status = device.status()
    assert status["primary"] == "A"
    assert status["pending"] is None
    assert device.slot("rootfs.1")["state"] == "bad"
    assert device.slot("rootfs.1")["version"] is None
    assert device.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    last = status["results"][-1]
    assert last["ok"] is False and "sha256" in last["reason"]


def test_killed_install_leaves_the_old_system_primary(pki, device, tmp_path, big_verity,
                                                      drop_big_files):
    # A committed 1.0.0 in B, which runs now.
    assert_ok(device.install(make_bundle(pki, tmp_path, version="1.0.0")))
    assert_ok(device.run("mark-good", boot="B"))
    state_before = device.state_file.read_bytes()

    proc = subprocess.Popen(install_cmd(device.conf, "install", big_verity.path, boot="B"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert stop_while_writing(proc, device.slots["rootfs.0"]), \
            f"install ended before writing the slot: {proc.communicate()}"
        written = device.slots["rootfs.0"].stat().st_size
        assert written < big_verity.size, "caught too late: the image was already written"
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    status = device.status(boot="B")
    assert status["primary"] == "B"
    assert status["installed_version"] == "1.0.0"
    assert status["pending"] is None
    assert device.slot("rootfs.0", boot="B")["state"] == "bad"
    # The state file is whole: the one from before, a valid key file.
    assert device.state_file.read_bytes() == state_before
    configparser.ConfigParser(interpolation=None).read_string(state_before.decode())
    assert sorted(os.listdir(device.data)) == ["bootloader.state", "lock", "state"]

    image = os.urandom(40000)
    assert_ok(device.install(make_bundle(pki, tmp_path, {"rootfs": image}, version="3.0.0"),
                             boot="B"))
    assert device.slots["rootfs.0"].read_bytes() == image
    assert device.primary(boot="B") == "A"


@pytest.mark.parametrize("booted,inactive", [("A", "rootfs.1"), ("B", "rootfs.0"),
                                             ("rootfs.1", "rootfs.0")])
def test_booted_slot_is_never_written(pki, device, tmp_path, booted, inactive):
    booted_slot = device.slots["rootfs.1" if inactive == "rootfs.0" else "rootfs.0"]
    st = booted_slot.stat()
    before = (booted_slot.read_bytes(), st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    image = os.urandom(30000)
    assert_ok(device.install(make_bundle(pki, tmp_path, {"rootfs": image}), boot=booted))
    st = booted_slot.stat()
    assert (booted_slot.read_bytes(), st.st_mtime_ns, st.st_ctime_ns, st.st_ino) == before
    assert device.slots[inactive].read_bytes() == image


def test_booted_slot_under_another_device_name_is_never_written(pki, tmp_path):
    """appfs.1's device is a symlink to rootfs.0's (as /dev/disk/by-* names
    are): booted in A, an install that writes appfs.1 would overwrite the
    running system."""
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "appfs"))
    alias = dev.root / "slots" / "alias-of-rootfs.0"
    alias.symlink_to(dev.slots["rootfs.0"])
    dev.conf.write_text(dev.conf.read_text().replace(f"device={dev.slots['appfs.1']}\n",
                                                     f"device={alias}\n"))
    booted = dev.slots["rootfs.0"]
    before = (sha256_file(booted), booted.stat().st_mtime_ns)
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(3000), "appfs": os.urandom(2000)})
    proc = dev.install(bundle)
    assert (sha256_file(booted), booted.stat().st_mtime_ns) == before, \
        f"the booted slot rootfs.0 was overwritten (install exit {proc.returncode})"
    assert_refused(proc)
    assert dev.primary() == "A"


def test_missing_inactive_slot_device_is_refused_and_not_created(pki, device, tmp_path):
    """A mistyped or absent device must fail, not fill a new regular file."""
    target = device.slots["rootfs.1"]
    target.unlink()
    booted = device.slots["rootfs.0"]
    before = (sha256_file(booted), booted.stat().st_mtime_ns)
    proc = device.install(make_bundle(pki, tmp_path))
    assert_refused(proc, "rootfs.1", "does not exist", path=target)
    assert not target.exists()
    assert (sha256_file(booted), booted.stat().st_mtime_ns) == before
    assert device.primary() == "A"


def test_failed_write_into_a_slot_names_the_slot_device_not_the_bundle(pki, device, tmp_path):
    """The slot is full (its device a symlink to /dev/full, which takes no
    byte): the error names the device that refused the write, once."""
    target = device.slots["rootfs.1"]
    target.unlink()
    target.symlink_to("/dev/full")
    bundle = make_bundle(pki, tmp_path)
    line = assert_refused(device.install(bundle), "no space left on device", path=target)
    assert line.count(str(target)) == 1, line
    assert f"{bundle}: write failed" not in line, line
    assert device.primary() == "A"


def test_override_boot_slot_that_is_no_bootable_slot_is_refused(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "appfs"))
    bundle = make_bundle(pki, tmp_path)
    for name in ("C", "appfs.0"):
        before = dev.snapshot()
        assert_refused(dev.install(bundle, boot=name), name)
        assert dev.snapshot() == before
    assert not dev.data.exists()


# --- a bundle changed after verification ----------------------------------------------------


def test_plain_bundle_modified_before_install_is_rejected(pki, device, tmp_path):
    image = os.urandom(50000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, fmt="plain")
    offset = bundle.read_bytes().find(image[5000:5100])
    assert offset > 0
    flip_byte(bundle, offset)
    before = device.snapshot()
    assert_refused(device.install(bundle), "signature", path=bundle)
    assert device.snapshot() == before
    last = device.status()["results"][-1]
    assert (last["operation"], last["ok"], last["bundle"]) == ("install", False, str(bundle))


def test_plain_bundle_changed_during_install_is_installed_from_the_private_copy(
        pki, device, tmp_path, big_plain, drop_big_files):
    bundle = private_copy(big_plain, tmp_path)
    offset = image_offset(bundle, big_plain.image)
    proc = subprocess.Popen(install_cmd(device.conf, "install", bundle),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert stop_while_writing(proc, device.slots["rootfs.1"]), \
            f"install ended before writing the slot: {proc.communicate()}"
        assert device.slots["rootfs.1"].stat().st_size < big_plain.size // 2
        # Change the second half of the image in the bundle, in place.
        with open(bundle, "r+b") as f:
            f.seek(offset + big_plain.size // 2)
            f.write(b"\0" * (64 << 20))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert sha256_file(device.slots["rootfs.1"]) == big_plain.sha256
    assert device.primary() == "B"


def test_verity_bundle_changed_during_install_is_refused_and_not_made_bootable(
        pki, device, tmp_path, big_verity, drop_big_files):
    bundle = private_copy(big_verity, tmp_path)
    offset = image_offset(bundle, big_verity.image)
    proc = subprocess.Popen(install_cmd(device.conf, "install", bundle),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert stop_while_writing(proc, device.slots["rootfs.1"]), \
            f"install ended before writing the slot: {proc.communicate()}"
        assert device.slots["rootfs.1"].stat().st_size < big_verity.size // 2
        with open(bundle, "r+b") as f:
            f.seek(offset + big_verity.size // 2)
            f.write(b"\0" * (64 << 20))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate()
    assert_refused(subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
                   "modified", path=bundle)
    status = device.status()
    assert status["primary"] == "A"
    assert status["pending"] is None
    assert device.slot("rootfs.1")["state"] == "bad"


# --- tar images into directory slots --------------------------------------------------------


def tar_bytes(entries):
    """@entries: (TarInfo fields dict, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for fields, data in entries:
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


@pytest.fixture
def tar_device(tmp_path, pki):
    return make_device(tmp_path, pki.root, tar=("rootfs",))


def test_tar_image_is_extracted_into_the_directory_slot(pki, tar_device, tmp_path):
    tool = os.urandom(10000)
    image = tar_bytes([
        ({"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "etc/app", "type": tarfile.DIRTYPE, "mode": 0o750}, None),
        ({"name": "etc/app/config", "mode": 0o644}, b"answer=42\n"),
        ({"name": "usr/bin/tool", "mode": 0o755}, tool),
        ({"name": "usr/lib/empty", "mode": 0o600}, b""),
        ({"name": "etc/link", "type": tarfile.SYMTYPE, "linkname": "app/config"}, None),
    ])
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})
    assert_ok(tar_device.install(bundle))
    slot = tar_device.slots["rootfs.1"]
    assert (slot / "etc" / "app" / "config").read_bytes() == b"answer=42\n"
    assert (slot / "usr" / "bin" / "tool").read_bytes() == tool
    assert (slot / "usr" / "bin" / "tool").stat().st_mode & 0o777 == 0o755
    assert (slot / "etc" / "app").stat().st_mode & 0o777 == 0o750
    assert (slot / "usr" / "lib" / "empty").read_bytes() == b""
    assert os.readlink(slot / "etc" / "link") == "app/config"
    # The slot holds the new tree only, not a mix with the old one.
    assert sorted(p.name for p in slot.iterdir()) == ["etc", "usr"]
    assert (tar_device.slots["rootfs.0"] / "old-file").read_text() == "old system in rootfs.0\n"
    assert tar_device.primary() == "B"


REASONS = {"dotdot": "..", "absolute": "absolute", "symlink": "symlink", "hardlink": "absolute",
           "hardlink-dotdot": ".."}


@pytest.mark.parametrize("kind", list(REASONS))
def test_tar_image_does_not_escape_the_slot_directory(pki, tar_device, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"keep me\n")
    slots_dir = tar_device.root / "slots"
    entries = [({"name": "ok.txt"}, b"fine\n")]
    if kind == "dotdot":
        entries += [({"name": "../evil"}, b"escaped\n"),
                    ({"name": "sub/../../../outside/evil"}, b"escaped\n")]
    elif kind == "absolute":
        entries += [({"name": str(outside / "evil")}, b"escaped\n")]
    elif kind == "symlink":
        entries += [({"name": "link", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
                    ({"name": "link/evil"}, b"escaped\n"),
                    ({"name": "link/victim"}, b"overwritten\n")]
    elif kind == "hardlink":
        entries += [({"name": "hl", "type": tarfile.LNKTYPE, "linkname": str(victim)}, None),
                    ({"name": "hl"}, b"overwritten\n")]
    else:
        entries += [({"name": "hl", "type": tarfile.LNKTYPE,
                      "linkname": "../../../outside/victim"}, None),
                    ({"name": "hl"}, b"overwritten\n")]
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", tar_bytes(entries))})
    proc = tar_device.install(bundle)
    assert victim.read_bytes() == b"keep me\n"
    assert sorted(os.listdir(outside)) == ["victim"]
    assert sorted(os.listdir(slots_dir)) == ["rootfs.0", "rootfs.1"]
    assert not (tmp_path / "evil").exists()
    assert_refused(proc, "tar image", REASONS[kind])
    assert tar_device.primary() == "A"
    assert tar_device.slot("rootfs.1")["state"] == "bad"


# Symlinks the image makes itself, then tries to write or link through.
SYMLINK_ESCAPES = {
    "file-through-a-relative-symlink": lambda outside: [
        ({"name": "up", "type": tarfile.SYMTYPE, "linkname": ".."}, None),
        ({"name": "up/evil"}, b"escaped\n")],
    "directory-through-a-symlink": lambda outside: [
        ({"name": "link", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
        ({"name": "link/sub", "type": tarfile.DIRTYPE, "mode": 0o755}, None)],
    "hardlink-through-a-symlink": lambda outside: [
        ({"name": "link", "type": tarfile.SYMTYPE, "linkname": str(outside)}, None),
        ({"name": "hl", "type": tarfile.LNKTYPE, "linkname": "link/victim"}, None),
        ({"name": "hl"}, b"overwritten\n")],
}


@pytest.mark.parametrize("attack", list(SYMLINK_ESCAPES))
def test_tar_image_can_not_write_or_link_through_its_own_symlinks(pki, tar_device, tmp_path,
                                                                  attack):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"keep me\n")
    untouched = tree_digest(outside)
    image = tar_bytes([({"name": "ok.txt"}, b"fine\n")] + SYMLINK_ESCAPES[attack](outside))
    proc = tar_device.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)}))
    assert_refused(proc, "tar image", "symlink")
    assert tree_digest(outside) == untouched
    assert {p.name for p in (tar_device.root / "slots").iterdir()} == {"rootfs.0", "rootfs.1"}
    assert tar_device.primary() == "A"


def test_tar_image_hardlinked_within_the_slot_is_extracted(pki, tar_device, tmp_path):
    image = tar_bytes([({"name": "bin/busybox", "mode": 0o755}, b"#!/bin/sh\n"),
                       ({"name": "bin/sh", "type": tarfile.LNKTYPE, "linkname": "bin/busybox"},
                        None)])
    assert_ok(tar_device.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    bindir = tar_device.slots["rootfs.1"] / "bin"
    assert (bindir / "sh").stat().st_ino == (bindir / "busybox").stat().st_ino
    assert (bindir / "sh").read_bytes() == b"#!/bin/sh\n"


def test_tar_slot_directory_given_as_a_symlink_is_extracted_into_its_target(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, tar=("rootfs",))
    real = tmp_path / "real-rootfs.1"
    dev.slots["rootfs.1"].rename(real)
    dev.slots["rootfs.1"].symlink_to(real)
    image = tar_bytes([({"name": "etc/config"}, b"new\n")])
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})))
    assert sorted(os.listdir(real)) == ["etc"]
    assert (real / "etc" / "config").read_bytes() == b"new\n"
    assert dev.slots["rootfs.1"].is_symlink()


def test_tar_directory_modes_and_times_are_set_in_the_slot_not_the_working_directory(
        pki, tar_device, tmp_path):
    """Directories get their mode and times after their contents, when
    libarchive finishes: in the slot, whatever directory the installer runs in."""
    cwd = tmp_path / "cwd"
    (cwd / "etc").mkdir(parents=True)
    before = (cwd / "etc").stat()
    image = tar_bytes([
        ({"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o700, "mtime": 1000000000}, None),
        ({"name": "etc/config", "mtime": 1000000000}, b"new\n")])
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})
    assert_ok(subprocess.run(install_cmd(tar_device.conf, "install", bundle), cwd=cwd,
                             capture_output=True, text=True))
    etc = (tar_device.slots["rootfs.1"] / "etc").stat()
    assert (etc.st_mode & 0o777, etc.st_mtime) == (0o700, 1000000000)
    after = (cwd / "etc").stat()
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)


def test_tar_entry_too_long_to_name_in_one_call_is_refused(pki, tar_device, tmp_path):
    """libarchive would chdir() down to it: not in a library's process."""
    name = "/".join(["d" * 200] * 21) + "/file"
    image = tar_bytes([({"name": name}, b"deep\n")])
    proc = tar_device.install(make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)}))
    assert_refused(proc, "tar image", "too long")
    assert tar_device.primary() == "A"


def test_tar_image_whose_hash_does_not_match_leaves_the_slot_directory_untouched(
        pki, tar_device, tmp_path):
    """The tar image is checked whole before a byte of it is extracted."""
    image = tar_bytes([({"name": "new-file"}, b"new\n")])
    wrong = hashlib.sha256(b"not the image").hexdigest()
    manifest = (f"[update]\ncompatible={COMPATIBLE}\nversion=1.0.0\n\n[image.rootfs]\n"
                f"filename=rootfs.tar\nsize={len(image)}\nsha256={wrong}\n")
    bundle = handmade_plain_bundle(pki, tmp_path / "hand", manifest, {"rootfs.tar": image})
    before = tar_device.snapshot()
    assert_refused(tar_device.install(bundle), "sha256", path=bundle)
    assert tar_device.snapshot()[0] == before[0]
    assert tar_device.primary() == "A"


def test_refused_tar_entry_is_reported_with_the_bundle_path(pki, tar_device, tmp_path):
    """A reason about the bundle starts with its path (otabundle-install(8),
    EXIT STATUS), the entry's own name comes after it."""
    image = tar_bytes([({"name": "../evil"}, b"escaped\n")])
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", image)})
    line = assert_refused(tar_device.install(bundle), "../evil", path=bundle)
    assert line.startswith(f"otabundle-install: {bundle}: "), line


def test_image_that_is_not_a_tar_for_a_tar_slot_is_refused(pki, tar_device, tmp_path):
    bundle = make_bundle(pki, tmp_path, {"rootfs": ("rootfs.tar", os.urandom(20000))})
    assert_refused(tar_device.install(bundle), "tar")
    assert tar_device.primary() == "A"
    assert tar_device.slot("rootfs.1")["state"] == "bad"


# --- info -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_info_writes_nothing(pki, device, tmp_path, fmt):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="1.0.0", name="first")))
    assert_ok(device.run("mark-good", boot="B"))
    bundle = make_bundle(pki, tmp_path, version="2.0.0", fmt=fmt)
    before = tree_digest(device.root), sha256_file(bundle)
    assert_ok(device.run("info", bundle, boot="B"))
    assert_ok(device.run("info", "--output-format=json", bundle, boot="B"))
    assert (tree_digest(device.root), sha256_file(bundle)) == before


def test_info_on_a_fresh_device_creates_no_state(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, fmt="plain")
    slots = device.snapshot()
    assert_ok(device.run("info", bundle))
    assert device.snapshot() == slots
    assert not device.data.exists() or list(device.data.iterdir()) == []


def test_info_prints_what_install_would_do(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, classes=("rootfs", "appfs"))
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(3000), "appfs": os.urandom(2000)},
                         version="4.2")
    text = assert_ok(dev.run("info", bundle, boot="B")).stdout
    assert "OK" in text
    assert f"rootfs.img -> rootfs.0 ({dev.slots['rootfs.0']})" in text
    assert f"appfs.img -> appfs.0 ({dev.slots['appfs.0']})" in text
    assert "boot slot A" in text
    info = json.loads(assert_ok(dev.run("info", "--output-format=json", bundle, boot="B")).stdout)
    assert info["bundle"] == str(bundle)
    assert info["version"] == "4.2"
    assert info["boot_target"] == "rootfs.0"
    assert info["steps"] == [
        {"image": "rootfs.img", "slot": "rootfs.0", "device": str(dev.slots["rootfs.0"])},
        {"image": "appfs.img", "slot": "appfs.0", "device": str(dev.slots["appfs.0"])},
    ]


def test_info_of_a_refused_bundle_fails_and_records_nothing(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, name="first")))
    state = device.state_file.read_bytes()
    bundle = make_bundle(pki, tmp_path, compatible="other-board")
    assert_refused(device.run("info", bundle), "other-board", path=bundle)
    assert device.state_file.read_bytes() == state


# --- status, mark-good, mark-bad, results -----------------------------------------------------


def test_status_json_reports_slots_boot_selection_versions_floor_and_results(pki, device,
                                                                             tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0", meta={"security-version": 3})
    assert_ok(device.install(bundle))
    assert_ok(device.run("mark-good", boot="B"))
    status = device.status(boot="B")
    assert status["compatible"] == COMPATIBLE
    assert status["booted"] == "rootfs.1"
    assert status["primary"] == "B"
    assert status["installed_version"] == "2.0"
    assert status["security_floor"] == 3
    assert status["pending"] is None
    slots = {s["name"]: s for s in status["slots"]}
    assert set(slots) == {"rootfs.0", "rootfs.1"}
    a, b = slots["rootfs.0"], slots["rootfs.1"]
    assert (a["device"], a["bootname"], a["booted"], a["state"], a["version"],
            a["installed"]) == (str(device.slots["rootfs.0"]), "A", False, "good", None, None)
    assert (b["device"], b["bootname"], b["booted"], b["state"], b["version"]) == \
        (str(device.slots["rootfs.1"]), "B", True, "good", "2.0")
    assert RFC3339_UTC.match(b["installed"])
    assert [(r["operation"], r["ok"]) for r in status["results"]] == \
        [("install", True), ("mark-good", True)]
    install, mark = status["results"]
    assert install["bundle"] == str(bundle)
    assert "2.0" in install["reason"] and "rootfs.1" in install["reason"]
    assert mark["bundle"] is None
    assert "rootfs.1" in mark["reason"]
    for r in status["results"]:
        assert RFC3339_UTC.match(r["time"])


def test_status_text_names_booted_primary_versions_and_floor(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 3})))
    text = assert_ok(device.run("status")).stdout
    assert re.search(r"^Booted:\s+rootfs\.0 \(A\)$", text, re.M)
    assert re.search(r"^Primary:\s+B$", text, re.M)
    assert re.search(r"^Pending:\s+rootfs\.1$", text, re.M)
    assert re.search(r"^Security floor:\s+0$", text, re.M)
    assert re.search(r"rootfs\.1\s+B\s+good\s+2\.0", text)


def test_status_of_a_fresh_device_writes_nothing(device):
    status = device.status()
    assert status["primary"] == "A"
    assert status["installed_version"] is None
    assert status["security_floor"] == 0
    assert status["results"] == []
    assert not device.data.exists() or list(device.data.iterdir()) == []


def test_mark_good_commits_the_booted_slot(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 4})))
    proc = assert_ok(device.run("mark-good", boot="B"))
    assert "rootfs.1" in proc.stdout
    status = device.status(boot="B")
    assert status["installed_version"] == "2.0"
    assert status["security_floor"] == 4
    assert status["pending"] is None
    assert status["primary"] == "B"
    assert device.slot("rootfs.1", boot="B")["state"] == "good"


def test_mark_bad_switches_primary_back_to_the_old_slot(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 4})))
    assert device.primary() == "B"
    assert_ok(device.run("mark-bad", boot="B"))
    status = device.status(boot="B")
    assert status["primary"] == "A"
    assert status["pending"] is None
    assert status["installed_version"] is None
    assert status["security_floor"] == 0
    assert device.slot("rootfs.1", boot="B")["state"] == "bad"
    assert status["results"][-1]["operation"] == "mark-bad"


def test_install_after_mark_bad_makes_the_slot_good_and_primary_again(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0")))
    assert_ok(device.run("mark-bad", boot="B"))
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.1")))
    assert device.primary() == "B"
    assert device.slot("rootfs.1")["state"] == "good"


def test_failed_installs_are_recorded_with_their_reasons(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="hardware-revision=r2")
    refused = [
        (make_bundle(pki, tmp_path, name="incompatible", compatible="other-board"),
         "other-board"),
        (make_bundle(pki, tmp_path, name="expired", meta={"expires": "2001-01-01T00:00:00Z"}),
         "expired"),
        (make_bundle(pki, tmp_path, name="revision", meta={"hardware-revisions": "r1"}),
         "r1"),
        (make_bundle(pki, tmp_path, name="untrusted", sign=pki.sign_args("other",
                                                                          intermediate=False)),
         None),
    ]
    for bundle, _ in refused:
        assert_refused(dev.install(bundle), path=bundle)
    results = dev.status()["results"]
    assert len(results) == len(refused)
    for result, (bundle, word) in zip(results, refused):
        assert result["operation"] == "install"
        assert result["ok"] is False
        assert result["bundle"] == str(bundle)
        assert result["reason"]
        assert "\n" not in result["reason"]
        if word:
            assert word in result["reason"]
    text = assert_ok(dev.run("status")).stdout
    assert text.count("FAILED") == len(refused)


def test_results_keep_the_last_twenty(pki, device, tmp_path):
    bundle = make_bundle(pki, tmp_path, compatible="other-board")
    for _ in range(22):
        assert_refused(device.install(bundle))
    assert_ok(device.install(make_bundle(pki, tmp_path, name="good")))
    results = device.status()["results"]
    assert len(results) == 20
    assert results[-1]["ok"] is True
    assert all(r["ok"] is False for r in results[:-1])


def test_corrupted_state_file_is_reported_not_reset(pki, device, tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, name="first", version="2.0",
                                         meta={"security-version": 9})))
    assert_ok(device.run("mark-good", boot="B"))
    text = device.state_file.read_text().replace("security-floor=9", "security-floor=nine")
    device.state_file.write_text(text)
    bundle = make_bundle(pki, tmp_path, version="3.0")
    before = device.snapshot()
    assert_refused(device.run("status", boot="B"), path=device.state_file)
    assert_refused(device.install(bundle, boot="B"), path=device.state_file)
    assert device.snapshot() == before
    assert device.state_file.read_text() == text


# --- the custom bootloader backend ------------------------------------------------------------


CUSTOM_BACKEND = """\
#!/bin/sh
# A boot selection kept in a file, as a bootloader environment would be.
STATE='{state}'
echo "$*" >> '{log}'
get() {{ sed -n "s/^$1=//p" "$STATE"; }}
put() {{
    grep -v "^$1=" "$STATE" > "$STATE.new"
    echo "$1=$2" >> "$STATE.new"
    mv "$STATE.new" "$STATE"
}}
case "$1" in
get-primary) get primary ;;
set-primary) put primary "$2"; put "state_$2" good ;;
get-state) get "state_$2" ;;
set-state) put "state_$2" "$3" ;;
get-current) get current ;;
*) echo "unknown command: $1" >&2; exit 1 ;;
esac
"""


def test_custom_backend_install_and_mark_good_end_to_end(pki, tmp_path):
    state, log, script = tmp_path / "bootenv", tmp_path / "backend.log", tmp_path / "backend.sh"
    state.write_text("primary=A\nstate_A=good\nstate_B=good\ncurrent=A\n")
    script.write_text(CUSTOM_BACKEND.format(state=state, log=log))
    script.chmod(0o755)
    dev = make_device(tmp_path, pki.root, bootloader="custom",
                      extra=f"[handlers]\nbootloader-custom-backend={script}\n")
    image = os.urandom(30000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, version="2.0",
                         meta={"security-version": 2})

    # The booted slot comes from the backend's get-current.
    assert_ok(dev.install(bundle, boot=None))
    assert dev.slots["rootfs.1"].read_bytes() == image
    env = dict(line.split("=", 1) for line in state.read_text().splitlines())
    assert env["primary"] == "B" and env["state_B"] == "good" and env["state_A"] == "good"
    calls = log.read_text().splitlines()
    assert calls.index("set-state B bad") < calls.index("set-primary B")
    assert not [c for c in calls if c.startswith("set-") and c.endswith((" A", " A good",
                                                                          " A bad"))]

    # The bootloader boots B.
    state.write_text(state.read_text().replace("current=A", "current=B"))
    assert_ok(dev.run("mark-good", boot=None))
    assert "set-state B good" in log.read_text().splitlines()
    status = dev.status(boot=None)
    assert status["booted"] == "rootfs.1"
    assert status["primary"] == "B"
    assert status["installed_version"] == "2.0"
    assert status["security_floor"] == 2
    assert status["pending"] is None
    assert {s["name"]: s["state"] for s in status["slots"]} == {"rootfs.0": "good",
                                                                "rootfs.1": "good"}


def test_custom_backend_that_fails_is_one_line(pki, tmp_path):
    script = tmp_path / "backend.sh"
    script.write_text("#!/bin/sh\necho 'environment is locked' >&2\nexit 3\n")
    script.chmod(0o755)
    dev = make_device(tmp_path, pki.root, bootloader="custom",
                      extra=f"[handlers]\nbootloader-custom-backend={script}\n")
    bundle = make_bundle(pki, tmp_path)
    assert_refused(dev.install(bundle), "environment is locked")
    assert dev.slots["rootfs.1"].read_bytes() == b"old system in rootfs.1\n"


# --- usage and configuration errors ------------------------------------------------------------


@pytest.mark.parametrize("args", [
    pytest.param([], id="no-command"),
    pytest.param(["frobnicate"], id="unknown-command"),
    pytest.param(["install"], id="install-without-bundle"),
    pytest.param(["install", "{b}", "{b}"], id="install-two-bundles"),
    pytest.param(["info"], id="info-without-bundle"),
    pytest.param(["status", "{b}"], id="status-with-argument"),
    pytest.param(["mark-good", "booted", "other"], id="mark-good-with-two-slots"),
    pytest.param(["mark-bad", "booted", "other"], id="mark-bad-with-two-slots"),
    pytest.param(["--output-format=xml", "status"], id="bad-output-format"),
    pytest.param(["--no-such-option", "status"], id="unknown-option"),
])
def test_wrong_usage_exits_2_and_writes_nothing(device, tmp_path, args):
    bundle = tmp_path / "b.raucb"
    before = device.snapshot()
    assert_usage(device.run(*[a.replace("{b}", str(bundle)) for a in args]))
    assert device.snapshot() == before
    assert not device.data.exists()


CONF_ERRORS = {
    # id: (edit of the conf text, words in the error)
    "unknown-key": (lambda t: t.replace("[system]\n", "[system]\nfrobnicate=1\n"),
                    ["unknown key", "frobnicate"]),
    "unknown-group": (lambda t: t + "\n[frobnicate]\nx=1\n", ["unknown group", "frobnicate"]),
    "missing-keyring-path": (lambda t: re.sub(r"(?m)^path=.*\n", "", t),
                             ["path", "[keyring]"]),
    "missing-keyring-group": (lambda t: re.sub(r"(?m)^\[keyring\]\npath=.*\n", "", t),
                              ["path", "[keyring]"]),
    "undefined-slot-policy": (lambda t: t.replace("bootname=B\n", "bootname=B\npolicy=boot\n"),
                              ["rootfs.1", "policy.boot"]),
    "duplicate-bootname": (lambda t: t.replace("bootname=B\n", "bootname=A\n"),
                           ["bootname", "'A'"]),
    "shared-device": (lambda t: re.sub(r"slots/rootfs\.1\n", "slots/rootfs.0\n", t),
                      ["rootfs.0", "rootfs.1"]),
    "missing-compatible": (lambda t: re.sub(r"(?m)^compatible=.*\n", "", t), ["compatible"]),
    "invalid-bootloader": (lambda t: t.replace("bootloader=file", "bootloader=lilo"),
                           ["bootloader", "lilo"]),
    "invalid-allow-downgrade": (lambda t: t.replace("[system]\n",
                                                    "[system]\nallow-downgrade=yes\n"),
                                ["allow-downgrade", "yes"]),
    "threshold-0": (lambda t: t.replace("[keyring]\n", "[keyring]\nthreshold=0\n"),
                    ["threshold"]),
    "invalid-slot-type": (lambda t: t.replace("bootname=B\n", "bootname=B\ntype=btrfs\n"),
                          ["type", "btrfs"]),
    "invalid-slot-group": (lambda t: t + "\n[slot.rootfs]\ndevice=/dev/null\n",
                           ["slot.rootfs"]),
    "custom-without-backend": (lambda t: t.replace("bootloader=file", "bootloader=custom"),
                               ["bootloader-custom-backend"]),
    "duplicate-key": (lambda t: t.replace("[system]\n", "[system]\ncompatible=x\n"),
                      ["duplicate", "compatible"]),
    "not-ini": (lambda t: "this is not a configuration file\n", ["INI"]),
    "no-slots": (lambda t: t.split("\n[slot.")[0] + "\n", ["slot"]),
}


@pytest.mark.parametrize("case", list(CONF_ERRORS))
def test_invalid_system_conf_is_one_clear_line(pki, device, tmp_path, case):
    edit, words = CONF_ERRORS[case]
    text = edit(device.conf.read_text())
    assert text != device.conf.read_text()
    device.conf.write_text(text)
    bundle = make_bundle(pki, tmp_path)
    before = device.snapshot()
    for args in (["status"], ["install", bundle]):
        assert_refused(device.run(*args), *words, path=device.conf)
    assert device.snapshot() == before
    assert not device.data.exists()


def test_missing_system_conf_is_one_clear_line(device, tmp_path):
    missing = tmp_path / "nowhere" / "system.conf"
    assert_refused(run_install(missing, "status"), path=missing)
    assert not device.data.exists()


# --- no rollback through the other slot --------------------------------------------------


@pytest.fixture
def app_device(tmp_path, pki):
    """rootfs A/B (the boot class) with an appfs slot pair beside them."""
    return make_device(tmp_path, pki.root, classes=("rootfs", "appfs"))


def test_bundle_without_an_image_for_the_boot_class_is_refused(pki, app_device, tmp_path):
    """Installing switches the boot to the other rootfs slot: an
    application-only bundle would boot the older system that slot holds."""
    bundle = make_bundle(pki, tmp_path, {"appfs": os.urandom(5000)})
    before = app_device.snapshot()
    assert_refused(app_device.install(bundle), "boot slot class 'rootfs'", "rootfs.1",
                   path=bundle)
    assert app_device.snapshot() == before
    assert app_device.primary() == "A"
    assert_refused(app_device.run("info", bundle), "boot slot class", path=bundle)


def test_bundle_with_the_boot_class_image_only_for_a_variant_is_refused(pki, app_device,
                                                                        tmp_path):
    bundle = make_bundle(pki, tmp_path, {"rootfs.other-variant": os.urandom(5000),
                                         "appfs": os.urandom(5000)})
    before = app_device.snapshot()
    assert_refused(app_device.install(bundle), "slot class 'rootfs' only for other variants",
                   path=bundle)
    assert app_device.snapshot() == before


def test_application_only_bundle_cannot_roll_the_device_back_through_the_other_slot(
        pki, app_device, tmp_path):
    """The attack: B holds 1.0 (security version 1) and A runs 2.0 (security
    version 5). A validly signed application-only bundle must not make B
    primary, where mark-good would commit 1.0 and so let an older OS pass
    the downgrade lock."""
    dev = app_device
    v1 = make_bundle(pki, tmp_path, {"rootfs": os.urandom(5000), "appfs": os.urandom(5000)},
                     version="1.0", meta={"security-version": 1})
    assert_ok(dev.install(v1, boot="A"))
    assert_ok(dev.run("mark-good", boot="B"))
    v2 = make_bundle(pki, tmp_path, {"rootfs": os.urandom(5000), "appfs": os.urandom(5000)},
                     version="2.0", meta={"security-version": 5})
    assert_ok(dev.install(v2, boot="B"))
    assert_ok(dev.run("mark-good", boot="A"))
    assert (dev.status()["installed_version"], dev.status()["security_floor"]) == ("2.0", 5)

    app_only = make_bundle(pki, tmp_path, {"appfs": os.urandom(5000)}, version="3.0",
                           meta={"security-version": 5})
    assert_refused(dev.install(app_only, boot="A"), "boot slot class", path=app_only)
    assert dev.primary() == "A"
    assert_ok(dev.run("mark-good", boot="A"))
    status = dev.status()
    assert (status["installed_version"], status["security_floor"]) == ("2.0", 5)
    older = make_bundle(pki, tmp_path, version="1.5", name="older",
                        meta={"security-version": 5})
    assert_refused(dev.install(older, boot="A"), "older", path=older)


def test_mark_good_commits_the_installed_bundles_version_and_security_version(pki, device,
                                                                             tmp_path):
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2.0",
                                         meta={"security-version": 9})))
    proc = assert_ok(device.run("mark-good", boot="B"))
    status = device.status(boot="B")
    assert (status["installed_version"], status["security_floor"]) == ("2.0", 9)
    last = status["results"][-1]
    assert "version 2.0 committed" in last["reason"] and "floor 9" in last["reason"], last
    assert proc.returncode == 0


# --- hooks obey every policy ----------------------------------------------------------------


def hooked_input(tmp_path, name="hooked"):
    """An input directory whose bundle writes rootfs only, with an
    install-check hook that leaves a mark when it runs."""
    src = tmp_path / f"{name}.in"
    src.mkdir()
    (src / "rootfs.img").write_bytes(os.urandom(5000))
    (src / "hook.sh").write_text('#!/bin/sh\n[ "$1" = install-check ] && touch "$HOOK_RAN"\n'
                                 "exit 0\n")
    (src / "hook.sh").chmod(0o755)
    write_manifest(src, {"rootfs": "rootfs.img"}, compatible=COMPATIBLE, version="2.0",
                   extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    return src


def test_bundle_with_hooks_signed_by_the_application_key_alone_is_refused_by_a_tiered_device(
        pki, tiered, tmp_path):
    """A hook runs as root and can write any slot, the bootloader's too: a
    bundle that carries one must satisfy every policy, not only those of
    the slots its images go to."""
    bundle = tmp_path / "hooked.raucb"
    assert_ok(run("create", *pki.sign_args(), hooked_input(tmp_path), bundle))
    mark = tmp_path / "hook-ran"
    before = tiered.snapshot()
    proc = subprocess.run(install_cmd(tiered.conf, "install", bundle), capture_output=True,
                          text=True, env=dict(os.environ, HOOK_RAN=str(mark)))
    assert_refused(proc, "policy 'bootloader'", "hooks", path=bundle)
    assert not mark.exists()
    assert tiered.snapshot() == before


def test_bundle_with_hooks_signed_for_every_policy_installs_on_a_tiered_device(
        pki, boot_ca, tiered, tmp_path):
    bundle = tmp_path / "hooked.raucb"
    assert_ok(run("create", *signer_args(pki.leaves["ec256"], boot_ca.leaves[0],
                                         intermediate=pki.intermediate),
                  hooked_input(tmp_path), bundle))
    mark = tmp_path / "hook-ran"
    proc = subprocess.run(install_cmd(tiered.conf, "install", bundle), capture_output=True,
                          text=True, env=dict(os.environ, HOOK_RAN=str(mark)))
    assert_ok(proc)
    assert mark.exists()


# --- plain bundles: nothing staged before trust and space are known ---------------------------


def plain_bundle_with_payload_of(bundle, size, signature_of):
    """A plain bundle of a sparse @size-byte payload (no disk blocks) ending
    in the genuine signature of another bundle @signature_of."""
    data = Path(signature_of).read_bytes()
    cms_len = int.from_bytes(data[-8:], "big")
    tail = data[len(data) - 8 - cms_len:]
    with open(bundle, "wb") as f:
        f.truncate(size)
        f.seek(size)
        f.write(tail)
    return bundle


def data_usage(dev):
    return sum(p.lstat().st_blocks for p in dev.data.rglob("*")) if dev.data.exists() else 0


def test_plain_bundle_larger_than_the_free_space_is_refused_before_staging(pki, device,
                                                                           tmp_path):
    """A genuine signature from another bundle passes the signer check, so
    only the free-space check stops a sparse payload from filling the data
    partition with its private copy."""
    genuine = make_bundle(pki, tmp_path, fmt="plain")
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    size = (free // 4096 + 1024 * 1024) * 4096  # 4 GiB more than is free
    bundle = plain_bundle_with_payload_of(tmp_path / "sparse.raucb", size, genuine)
    before = device.snapshot()
    assert_refused(device.install(bundle), "free", "private copy", path=bundle)
    assert device.snapshot() == before
    assert data_usage(device) < 1024


def test_plain_bundle_with_an_untrusted_signature_is_refused_before_staging(pki, device,
                                                                           tmp_path):
    untrusted = make_bundle(pki, tmp_path, fmt="plain", name="untrusted",
                            sign=signer_args(pki.leaves["other"]))
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    size = (free // 4096 + 1024 * 1024) * 4096
    bundle = plain_bundle_with_payload_of(tmp_path / "sparse.raucb", size, untrusted)
    assert_refused(device.install(bundle), "trusted", path=bundle)
    assert data_usage(device) < 1024
