# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle-install and encrypted crypt bundles: system.conf's
[encryption] key= (a PEM file or a key in a token) and cert=, with RAUC's
meaning. The device decrypts the EnvelopedData with its key, verifies the
signature inside, and writes each image decrypted block by block after the
block's verity check; plaintext lands only in the slot.

Bundles are made by `otabundle create --format=crypt` and encrypted by
`otabundle encrypt` for the device certificates of test_encrypt.py (and by
Debian's rauc 1.8, `rauc encrypt`, for one); the token is test_encrypt.py's
fresh SoftHSM2 token. As in test_install.py, "rebooting into B" is running
the next command with --override-boot-slot=B."""
import os
import shutil

import pytest

from conftest import assert_ok, run, run_tool
from test_encrypt import (SOFTHSM_MODULE, TOKEN_EC_KEY, TOKEN_RSA_KEY, USER_PIN,  # noqa: F401
                          devices, token)
from test_install import OTABUNDLE_INSTALL, assert_refused, make_bundle, make_device

IMAGE = os.urandom(300000)


def encrypted_bundle(pki, d, recipients, version="2.0", name="update"):
    crypt = make_bundle(pki, d, {"rootfs": IMAGE}, version=version, fmt="crypt", name=name)
    out = d / f"{name}.encrypted.raucb"
    to = [arg for r in recipients for arg in ("--to", r.cert)]
    assert_ok(run("encrypt", *to, "--keyring", pki.root, crypt, out))
    return out


def device_with_key(tmp_path, pki, key=None, cert=None, system=""):
    encryption = ""
    if key is not None:
        encryption = f"[encryption]\nkey={key}\n" + (f"cert={cert}\n" if cert else "")
    return make_device(tmp_path, pki.root, extra=encryption, system=system)


def slot_holds_the_image(dev, slot):
    return dev.slots[slot].read_bytes()[:len(IMAGE)] == IMAGE


def listing(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_encrypted_bundle_installs_with_the_devices_key(pki, devices, tmp_path, kind):
    dev = device_with_key(tmp_path, pki, key=devices[kind].key)
    bundle = encrypted_bundle(pki, tmp_path, [devices["rsa"], devices["ec"]])
    assert_ok(dev.install(bundle))
    assert slot_holds_the_image(dev, "rootfs.1")
    assert dev.primary() == "B"
    assert_ok(dev.run("mark-good", boot="B"))
    assert dev.status(boot="B")["installed_version"] == "2.0"


def test_key_with_its_certificate_finds_the_recipient_by_issuer_and_serial(pki, devices,
                                                                          tmp_path):
    dev = device_with_key(tmp_path, pki, key=devices["ec"].key, cert=devices["ec"].cert)
    assert_ok(dev.install(encrypted_bundle(pki, tmp_path, [devices["rsa"], devices["ec"]])))
    assert slot_holds_the_image(dev, "rootfs.1")


def test_encrypted_bundle_without_an_encryption_key_is_refused(pki, devices, tmp_path):
    dev = device_with_key(tmp_path, pki)
    before = dev.snapshot()
    proc = dev.install(encrypted_bundle(pki, tmp_path, [devices["ec"]]))
    assert_refused(proc, "encrypted", "[encryption] key")
    assert dev.snapshot() == before


def test_a_device_that_is_not_a_recipient_is_refused_and_nothing_written(pki, devices,
                                                                        tmp_path):
    dev = device_with_key(tmp_path, pki, key=devices["ec2"].key, cert=devices["ec2"].cert)
    before = dev.snapshot()
    proc = dev.install(encrypted_bundle(pki, tmp_path, [devices["rsa"], devices["ec"]]))
    assert_refused(proc, "not a recipient")
    assert dev.snapshot() == before


def test_bundle_formats_without_crypt_refuses_an_encrypted_bundle_before_decrypting(
        pki, devices, tmp_path):
    # No key is configured: the format alone refuses it.
    dev = device_with_key(tmp_path, pki, system="bundle-formats=-crypt")
    proc = dev.install(encrypted_bundle(pki, tmp_path, [devices["ec"]]))
    assert_refused(proc, "crypt format is not allowed by bundle-formats")


def test_unencrypted_crypt_bundle_needs_no_key(pki, tmp_path):
    dev = device_with_key(tmp_path, pki)
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": IMAGE}, fmt="crypt")))
    assert slot_holds_the_image(dev, "rootfs.1")


def test_info_on_the_device_decrypts_with_its_key(pki, devices, tmp_path):
    dev = device_with_key(tmp_path, pki, key=devices["ec"].key)
    proc = assert_ok(dev.run("info", encrypted_bundle(pki, tmp_path, [devices["ec"]])))
    assert "OK for this system" in proc.stdout


def test_install_leaves_no_plaintext_outside_the_slot(pki, devices, tmp_path):
    dev = device_with_key(tmp_path, pki, key=devices["ec"].key)
    bundle = encrypted_bundle(pki, tmp_path, [devices["ec"]])
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    data_before = listing(dev.data)
    env = dict(os.environ, TMPDIR=str(scratch))
    assert_ok(dev.install(bundle, env=env))
    assert listing(scratch) == []
    assert set(listing(dev.data)) - set(data_before) <= {"state", "lock", "bootloader.state"}
    for path in dev.data.rglob("*"):
        assert IMAGE[:4096] not in path.read_bytes()


@pytest.mark.parametrize("key", [TOKEN_EC_KEY, TOKEN_RSA_KEY], ids=["ec", "rsa"])
def test_device_key_in_a_token_decrypts_and_its_pin_appears_nowhere(pki, devices, token,
                                                                    tmp_path, key):
    dev = device_with_key(tmp_path, pki, key=key)
    bundle = encrypted_bundle(pki, tmp_path, [devices["rsa"], devices["ec"]])
    env = dict(token, OTABUNDLE_PKCS11_MODULE=SOFTHSM_MODULE, OTABUNDLE_PKCS11_PIN=USER_PIN)
    proc = assert_ok(dev.install(bundle, env=env))
    assert USER_PIN not in proc.stdout + proc.stderr
    assert slot_holds_the_image(dev, "rootfs.1")
    for path in dev.data.rglob("*"):
        assert USER_PIN.encode() not in path.read_bytes()


def test_rauc_command_line_takes_raucs_pkcs11_variables(pki, devices, token, tmp_path):
    dev = device_with_key(tmp_path, pki, key=TOKEN_EC_KEY)
    bundle = encrypted_bundle(pki, tmp_path, [devices["ec"]])
    rauc = tmp_path / "bin" / "rauc"
    rauc.parent.mkdir()
    rauc.symlink_to(OTABUNDLE_INSTALL)
    env = dict(token, RAUC_PKCS11_MODULE=SOFTHSM_MODULE, RAUC_PKCS11_PIN=USER_PIN)
    proc = run_tool(rauc, "--conf", dev.conf, "--override-boot-slot", "A", "install", bundle,
                    check=False, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert slot_holds_the_image(dev, "rootfs.1")


def test_bundle_encrypted_by_rauc_installs(pki, devices, tmp_path):
    if shutil.which("rauc") is None:
        pytest.skip("rauc not installed")
    crypt = make_bundle(pki, tmp_path, {"rootfs": IMAGE}, fmt="crypt")
    out = tmp_path / "rauc-encrypted.raucb"
    proc = run_tool("rauc", "encrypt", "--to", devices["ec"].cert, "--keyring", pki.root,
                    crypt, out, check=False)
    assert proc.returncode == 0, proc.stderr
    dev = device_with_key(tmp_path, pki, key=devices["ec"].key)
    assert_ok(dev.install(out))
    assert slot_holds_the_image(dev, "rootfs.1")
