# SPDX-License-Identifier: LGPL-2.1-or-later
"""The build-system recipes of contrib/yocto/ and contrib/buildroot/.

BitBake is not run here: the shell that otabundle-bundle.bbclass's
do_configure and do_bundle tasks run lives in contrib/yocto/otabundle-bundle.sh,
and runs here with the variables the class exports, against fake
DEPLOY_DIR_IMAGE and UNPACKDIR contents. Buildroot's post-image script runs
against a fake BINARIES_DIR. The bundles made must pass otabundle verify and,
where installed, Debian's rauc 1.8.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import OTABUNDLE, assert_ok, info_json, run, run_tool

ROOT = Path(__file__).resolve().parents[2]
YOCTO = ROOT / "contrib" / "yocto"
BUNDLE_SH = YOCTO / "otabundle-bundle.sh"
POST_IMAGE = ROOT / "contrib" / "buildroot" / "post-image.sh"
MACHINE = "qemux86-64"


def rauc_accepts(bundle, keyring):
    if shutil.which("rauc") is None:
        return
    proc = run_tool("rauc", "info", "--keyring", keyring, bundle, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- Yocto -------------------------------------------------------------------------


@pytest.fixture
def yocto(pki, tmp_path):
    """A fake build: DEPLOY_DIR_IMAGE with a rootfs and a kernel, UNPACKDIR
    with a hook script and a file. yocto(task, **vars) sources
    otabundle-bundle.sh and runs otabundle_<task> with the variables the
    class would export (None removes one)."""
    deploy, unpack = tmp_path / "deploy", tmp_path / "unpack"
    deploy.mkdir()
    unpack.mkdir()
    (deploy / f"core-image-minimal-{MACHINE}.rootfs.ext4").write_bytes(os.urandom(90000))
    (deploy / f"zImage-{MACHINE}.bin").write_bytes(os.urandom(20000))
    (unpack / "hook.sh").write_text("#!/bin/sh\nexit 0\n")
    (unpack / "notes.txt").write_text("release notes\n")
    base = {k: v for k, v in os.environ.items() if "PKCS11" not in k}
    base.update(
        OTABUNDLE=OTABUNDLE, BUNDLE_DIR=str(unpack / "bundle"), DEPLOY_DIR_IMAGE=str(deploy),
        UNPACKDIR=str(unpack), B=str(tmp_path / "build"),
        RAUC_BUNDLE_COMPATIBLE=f"example-{MACHINE}", RAUC_BUNDLE_VERSION="1.0.0",
        RAUC_BUNDLE_DESCRIPTION="Example otabundle update bundle",
        RAUC_BUNDLE_BUILD="20261130162800", RAUC_BUNDLE_FORMAT="verity",
        # What the class computes from RAUC_BUNDLE_SLOTS = "rootfs kernel",
        # RAUC_SLOT_rootfs = "core-image-minimal" ([fstype] ext4, [hooks]
        # post-install) and RAUC_SLOT_kernel = "linux-yocto" ([type] kernel).
        OTABUNDLE_IMAGES=(f"rootfs|core-image-minimal-{MACHINE}.rootfs.ext4|"
                          f"core-image-minimal-{MACHINE}.rootfs.ext4||post-install "
                          f"kernel|zImage-{MACHINE}.bin|zImage-{MACHINE}.bin.img||"),
        OTABUNDLE_MANIFEST_EXTRA=r"[meta.example]\nchannel=development\n\n",
        OTABUNDLE_HOOKS_FILE="hook.sh", OTABUNDLE_HOOKS="",
        RAUC_BUNDLE_EXTRA_FILES="notes.txt",
        RAUC_KEY_FILE=str(pki.ec256.key), RAUC_CERT_FILE=str(pki.ec256.cert),
        RAUC_INTERMEDIATE_FILE=str(pki.intermediate), RAUC_KEYRING_FILE=str(pki.root),
        RAUC_ENCRYPT_CRYPT_BUNDLE="0", RAUC_RECIPIENTS_CERT_FILE="", BUNDLE_ARGS="")

    def yocto(*tasks, **env):
        e = dict(base)
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        script = f'. "{BUNDLE_SH}"\n' + "\n".join(f"otabundle_{t}" for t in tasks)
        return subprocess.run(["/bin/sh", "-ec", script], env=e, capture_output=True,
                              text=True, cwd=tmp_path)

    yocto.bundle_dir = unpack / "bundle"
    yocto.bundle = tmp_path / "build" / "bundle.raucb"
    return yocto


def test_yocto_configure_writes_the_manifest_meta_rauc_would(yocto):
    assert_ok(yocto("configure"))
    manifest = (yocto.bundle_dir / "manifest.raucm").read_text()
    assert manifest == (
        "[update]\n"
        f"compatible=example-{MACHINE}\nversion=1.0.0\n"
        "description=Example otabundle update bundle\nbuild=20261130162800\n\n"
        "[bundle]\nformat=verity\n\n"
        "[hooks]\nfilename=hook.sh\n\n"
        "[image.rootfs]\nhooks=post-install\n"
        f"filename=core-image-minimal-{MACHINE}.rootfs.ext4\n\n"
        f"[image.kernel]\nfilename=zImage-{MACHINE}.bin.img\n\n"
        "[meta.example]\nchannel=development\n\n")
    assert sorted(p.name for p in yocto.bundle_dir.iterdir()) == sorted([
        "manifest.raucm", "hook.sh", "notes.txt", f"zImage-{MACHINE}.bin.img",
        f"core-image-minimal-{MACHINE}.rootfs.ext4"])
    assert os.access(yocto.bundle_dir / "hook.sh", os.X_OK)


def test_yocto_bundle_signs_a_bundle_that_otabundle_and_rauc_verify(pki, yocto):
    assert_ok(yocto("configure", "bundle"))
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", yocto.bundle))
    info = info_json(yocto.bundle, pki.root)
    assert info["format"] == "verity"
    assert info["manifest"]["compatible"] == f"example-{MACHINE}"
    assert info["manifest"]["version"] == "1.0.0"
    rauc_accepts(yocto.bundle, pki.root)


def test_yocto_bundle_args_keep_their_shell_quoting(pki, yocto):
    assert_ok(yocto("configure", "bundle",
                    BUNDLE_ARGS=' --set "update.description=two  words" --compression=gzip '))
    assert info_json(yocto.bundle, pki.root)["manifest"]["description"] == "two  words"


def test_yocto_configure_fails_for_an_image_that_was_not_deployed(yocto, tmp_path):
    (tmp_path / "deploy" / f"zImage-{MACHINE}.bin").unlink()
    proc = yocto("configure")
    assert proc.returncode != 0
    assert f"'zImage-{MACHINE}.bin' is neither in DEPLOY_DIR_IMAGE" in proc.stderr


def test_yocto_bundle_without_a_key_fails_as_meta_rauc_does(yocto):
    assert_ok(yocto("configure"))
    proc = yocto("bundle", RAUC_KEY_FILE="")
    assert proc.returncode != 0
    assert "'RAUC_KEY_FILE' not set" in proc.stderr
    assert not yocto.bundle.exists()


def test_yocto_bundle_is_not_written_when_the_keyring_does_not_trust_the_signer(pki, yocto):
    assert_ok(yocto("configure"))
    proc = yocto("bundle", RAUC_KEYRING_FILE=str(pki.other_root))
    assert proc.returncode != 0
    assert not yocto.bundle.exists()


def test_yocto_crypt_bundle_is_encrypted_for_the_recipients(pki, yocto):
    assert_ok(yocto("configure", "bundle", RAUC_BUNDLE_FORMAT="crypt",
                    RAUC_ENCRYPT_CRYPT_BUNDLE="1",
                    RAUC_RECIPIENTS_CERT_FILE=str(pki.encryption.cert)))
    encrypted = yocto.bundle.parent / "encrypted-bundle.raucb"
    assert_ok(run("verify", "--keyring", pki.root, "--key", pki.encryption.key,
                  "--cert", pki.encryption.cert, encrypted))
    assert run("verify", "--keyring", pki.root, encrypted).returncode == 1


def test_yocto_class_exports_every_variable_its_shell_reads():
    sh = BUNDLE_SH.read_text()
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", sh))
    bbclass = (YOCTO / "otabundle-bundle.bbclass").read_text()
    exported = set(re.findall(r"^export ([A-Z][A-Z0-9_]*)$", bbclass, re.M))
    assert used - exported == set()
    # Its tasks run the shell's functions.
    assert re.search(r'do_configure\(\) \{\n\t\. "\$\{OTABUNDLE_BUNDLE_SH\}"\n'
                     r'\totabundle_configure\n\}', bbclass)
    assert re.search(r'fakeroot do_bundle\(\) \{\n\t\. "\$\{OTABUNDLE_BUNDLE_SH\}"\n'
                     r'\totabundle_bundle\n\}', bbclass)


def test_yocto_example_recipe_sets_the_meta_rauc_variables_the_class_reads():
    recipe = (YOCTO / "example-bundle.bb").read_text()
    assert "inherit otabundle-bundle" in recipe
    for var in ("RAUC_BUNDLE_COMPATIBLE", "RAUC_BUNDLE_VERSION", "RAUC_BUNDLE_FORMAT",
                "RAUC_BUNDLE_SLOTS", "RAUC_SLOT_rootfs", "RAUC_KEY_FILE", "RAUC_CERT_FILE",
                "RAUC_KEYRING_FILE"):
        assert re.search(rf"^{re.escape(var)} = ", recipe, re.M), var


# --- Buildroot ---------------------------------------------------------------------


@pytest.fixture
def buildroot(pki, tmp_path):
    """post_image(*args, **env) runs the post-image script as Buildroot
    does (BINARIES_DIR first), with otabundle as HOST_DIR/bin/otabundle."""
    binaries, host = tmp_path / "images", tmp_path / "host"
    binaries.mkdir()
    (host / "bin").mkdir(parents=True)
    (host / "bin" / "otabundle").symlink_to(Path(OTABUNDLE).resolve())
    (binaries / "rootfs.ext4").write_bytes(os.urandom(100000))
    (binaries / "boot.vfat").write_bytes(os.urandom(30000))
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTABUNDLE")}
    base.update(HOST_DIR=str(host), BINARIES_DIR=str(binaries),
                OTABUNDLE_CERT=str(pki.ec256.cert), OTABUNDLE_KEY=str(pki.ec256.key),
                OTABUNDLE_INTERMEDIATE=str(pki.intermediate), OTABUNDLE_KEYRING=str(pki.root),
                OTABUNDLE_COMPATIBLE="br2-board", SOURCE_DATE_EPOCH="1764520000")

    def post_image(*args, **env):
        return subprocess.run([str(POST_IMAGE), str(binaries), *args], env=dict(base, **env),
                              capture_output=True, text=True, cwd=tmp_path)

    post_image.bundle = binaries / "update.raucb"
    return post_image


def test_buildroot_post_image_bundles_the_rootfs_by_default(pki, buildroot):
    proc = assert_ok(buildroot())
    assert "update.raucb (br2-board 2025.11.30.162640)" in proc.stdout
    info = info_json(buildroot.bundle, pki.root)
    assert [i["slotclass"] for i in info["manifest"]["images"]] == ["rootfs"]
    result = json.loads(Path(str(buildroot.bundle) + ".json").read_text())
    assert result["verified"] is True
    rauc_accepts(buildroot.bundle, pki.root)


def test_buildroot_post_image_bundles_the_images_named_in_its_arguments(pki, buildroot):
    assert_ok(buildroot("rootfs=rootfs.ext4", "boot=boot.vfat"))
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", buildroot.bundle))
    images = info_json(buildroot.bundle, pki.root)["manifest"]["images"]
    assert [(i["slotclass"], i["filename"]) for i in images] == [
        ("rootfs", "rootfs.ext4"), ("boot", "boot.vfat")]
    rauc_accepts(buildroot.bundle, pki.root)


def test_buildroot_post_image_fails_with_one_line_for_a_missing_image(buildroot):
    proc = buildroot("rootfs=rootfs.squashfs")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("post-image.sh: "), proc.stderr
    assert lines[0].endswith("rootfs.squashfs: no such image"), lines[0]
    assert not buildroot.bundle.exists()


def test_buildroot_post_image_writes_nothing_for_a_signer_the_keyring_does_not_trust(
        pki, buildroot):
    proc = buildroot(OTABUNDLE_KEYRING=str(pki.other_root))
    assert proc.returncode == 1
    assert not buildroot.bundle.exists()
