# SPDX-License-Identifier: LGPL-2.1-or-later
"""`otabundle-install check-config`: a system.conf loaded and validated as
the device would load it, without touching the device; on the real-world
configurations of test/data/system-conf (their sources are in its README),
and on RAUC's parent= rule, which must choose the slots RAUC chooses."""
import json
import os
from pathlib import Path

import pytest

from conftest import assert_ok
from test_install import (assert_refused, make_bundle, make_device, run_install)

DATA = Path(__file__).resolve().parent.parent / "data" / "system-conf"

# Every collected configuration: None when otabundle-install loads it, else
# words of the one-line reason it is refused for. When a feature lands,
# move its configurations to None here (and nowhere else).
REAL_WORLD = {
    "br2rauc-raspberrypi.conf": None,
    "distrokit.conf": None,
    "haos-odroid-n2.conf": None,
    "haos-ova.conf": None,
    "haos-rpi5-64.conf": None,
    "infix-aarch64.conf": None,
    "infix-x86_64.conf": None,
    "lxatac.conf": ["slot type 'boot-emmc'", "[slot.bootloader.0]", "not supported"],
    "meta-rauc-community-beaglebone-ai64.conf": None,
    "meta-rauc-community-beaglebone.conf": None,
    "meta-rauc-community-genericx86-64.conf": None,
    "meta-rauc-community-nxp.conf": None,
    "meta-rauc-community-pocketbeagle2.conf": None,
    "meta-rauc-community-qemuarm.conf": None,
    "meta-rauc-community-qemux86-64.conf": None,
    "meta-rauc-community-raspberrypi.conf": None,
    "meta-rauc-community-rockchip.conf": None,
    "meta-rauc-community-sunxi.conf": None,
    "nilrt.conf": ["no [keyring] group"],
    "phytec-ampliphy-emmc.conf": ["pre-install in group [handlers]", "not supported"],
    "phytec-ampliphy-nand.conf": ["pre-install in group [handlers]", "not supported"],
}


def check_config(conf, *args):
    return run_install(conf, *args, "check-config", boot=None)


def json_report(conf):
    return json.loads(check_config(conf, "--output-format=json").stdout)


def test_every_collected_configuration_has_an_expectation():
    assert sorted(p.name for p in DATA.glob("*.conf")) == sorted(REAL_WORLD)
    assert len(REAL_WORLD) >= 15


def test_every_collected_configuration_names_its_source():
    readme = (DATA / "README").read_text()
    for name in REAL_WORLD:
        assert name in readme, f"{name} has no source in {DATA / 'README'}"


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_configuration_loads_or_is_refused_with_its_reason(name, tmp_path):
    """Checked in place: relative paths resolve against the file's own
    directory, and nothing the file names (devices, keyrings) exists here."""
    conf = DATA / name
    proc = check_config(conf)
    if REAL_WORLD[name] is None:
        assert_ok(proc)
        assert proc.stdout.startswith(f"{conf}: OK\n")
    else:
        assert_refused(proc, *REAL_WORLD[name], path=conf)
    doc = json_report(conf)
    assert doc["valid"] is (REAL_WORLD[name] is None)


# --- what the real-world configurations would do -------------------------------------------


def installs(conf):
    """{bootname: (boot target, [slots written])} from the JSON report."""
    return {i["bootname"]: (i["boot_target"], [w["slot"] for w in i["writes"]])
            for i in json_report(conf)["installs"]}


def test_home_assistant_os_writes_the_kernel_its_rootfs_child_and_the_one_boot_slot():
    """HAOS binds rootfs.N to kernel.N with parent= and has one boot slot."""
    assert installs(DATA / "haos-ova.conf") == {
        "A": ("kernel.1", ["boot.0", "kernel.1", "rootfs.1"]),
        "B": ("kernel.0", ["boot.0", "kernel.0", "rootfs.0"]),
    }


def test_a_readonly_slot_is_never_written():
    assert installs(DATA / "meta-rauc-community-qemux86-64.conf") == {
        "A": ("rootfs.1", ["efi.0", "rootfs.1"]),
        "B": ("rootfs.0", ["efi.0", "rootfs.0"]),
    }


def test_statusfile_without_data_directory_keeps_the_state_beside_it():
    """Infix keeps RAUC's status on /mnt/aux, storage that updates don't
    overwrite; so must otabundle's state (and its anti-rollback floor)."""
    assert json_report(DATA / "infix-aarch64.conf")["data_directory"] == "/mnt/aux/otabundle"


def test_bundle_formats_are_reported_as_allowed():
    assert json_report(DATA / "infix-aarch64.conf")["bundle_formats"] == ["verity", "crypt"]
    assert json_report(DATA / "distrokit.conf")["bundle_formats"] == ["verity"]


# --- check-config itself ---------------------------------------------------------------------


def test_check_config_touches_nothing(tmp_path):
    """No slot device, data directory, bootloader state or lock is made."""
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\n"
                    f"data-directory={tmp_path}/data\n[keyring]\npath={tmp_path}/ca.pem\n"
                    f"[slot.rootfs.0]\ndevice={tmp_path}/r0\nbootname=A\n"
                    f"[slot.rootfs.1]\ndevice={tmp_path}/r1\nbootname=B\n")
    before = sorted(tmp_path.iterdir())
    assert_ok(check_config(conf))
    assert sorted(tmp_path.iterdir()) == before


def test_text_report_shows_slots_parents_bootloader_policies_and_installs(tmp_path, pki):
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=board\nbootloader=uboot\ndata-directory=/data\n"
                    f"[keyring]\npath={pki.root}\n[policy.boot]\npath={pki.root}\nthreshold=2\n"
                    "[slot.rootfs.0]\ndevice=/dev/r0\nbootname=A\n"
                    "[slot.rootfs.1]\ndevice=/dev/r1\nbootname=B\n"
                    "[slot.appfs.0]\ndevice=/dev/a0\nparent=rootfs.0\n"
                    "[slot.appfs.1]\ndevice=/dev/a1\nparent=rootfs.1\n"
                    "[slot.bootloader.0]\ndevice=/dev/bl\npolicy=boot\n")
    out = assert_ok(check_config(conf)).stdout
    assert f"{conf}: OK" in out
    assert "Bootloader:     uboot" in out
    assert f"default    {pki.root}, threshold 1" in out
    assert "boot       " in out and "threshold 2" in out
    assert any(line.split()[:5] == ["appfs.1", "appfs", "raw", "-", "rootfs.1"]
               for line in out.splitlines())
    assert "booted A (rootfs.0): writes rootfs.1, appfs.1, bootloader.0; boots rootfs.1" in out
    assert "booted B (rootfs.1): writes rootfs.0, appfs.0, bootloader.0; boots rootfs.0" in out


def test_refusal_is_one_line_naming_the_file_group_and_key(tmp_path):
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\ngrubenv=/boot/grubenv\n"
                    "[keyring]\npath=/k\n[slot.rootfs.0]\ndevice=/dev/a\n")
    assert_refused(check_config(conf), "grubenv", "[system]", "bootloader=grub", path=conf)
    doc = json_report(conf)
    assert doc["valid"] is False
    assert "grubenv" in doc["error"]["message"]
    assert doc["slots"] == [] and doc["installs"] == []


def test_a_missing_configuration_is_refused(tmp_path):
    assert_refused(check_config(tmp_path / "none.conf"), path=tmp_path / "none.conf")


def test_a_documented_rauc_key_is_never_unknown(tmp_path):
    """Every key and group RAUC 1.8-1.15 documents is parsed: accepted, or
    refused by name as not supported, never reported as unknown."""
    keys = {
        "system": ["compatible=c", "bootloader=uboot", "bundle-formats=-plain",
                   "mountprefix=/run/rauc", "statusfile=/data/rauc.status",
                   "max-bundle-download-size=1000", "max-bundle-signature-size=70000",
                   "variant-name=v", "boot-attempts=3", "boot-attempts-primary=3",
                   "activate-installed=true", "prevent-late-fallback=false",
                   "perform-pre-check=true", "min-bundle-version=1.0"],
        "keyring": ["path=/k", "directory=/kd", "use-bundle-signing-time=false",
                    "allow-partial-chain=true", "check-purpose=codesign"],
        "slot.rootfs.0": ["device=/r0", "type=raw", "bootname=A", "readonly=false",
                          "install-same=true", "resize=false", "allow-mounted=false",
                          "extra-mount-opts=ro", "description=root"],
        "slot.rootfs.1": ["device=/r1", "bootname=B", "force-install-same=true"],
        "slot.appfs.0": ["device=/a0", "parent=rootfs.0", "ignore-checksum=true"],
        "slot.appfs.1": ["device=/a1", "parent=rootfs.1"],
        "streaming": ["sandbox-user=nobody", "tls-cert=/c.pem", "tls-key=/k.pem",
                      "tls-ca=/ca.pem", "send-headers=boot-id;machine-id;system-version;"
                      "serial;variant;transaction-id;uptime"],
        "casync": ["storepath=/var/lib/default.castr", "tmppath=/tmp",
                   "install-args=--verbose", "use-desync=false"],
        "log.events": ["filename=/var/log/rauc.log", "events=install;mark", "format=short",
                       "max-size=1M", "max-files=3"],
    }
    conf = tmp_path / "system.conf"
    conf.write_text("".join(f"[{g}]\n" + "".join(f"{k}\n" for k in ks)
                            for g, ks in keys.items()))
    assert_ok(check_config(conf))
    refused = {
        "[autoinstall]\npath=/b.raucb\n": "[autoinstall]",
        "[artifacts.addons]\npath=/srv\ntype=trees\n": "[artifacts.addons]",
        "[handlers]\nsystem-info=/i\n": "system-info",
        "[handlers]\npost-install=/p\n": "post-install",
    }
    for group, words in refused.items():
        conf.write_text(conf.read_text() + group)
        line = assert_refused(check_config(conf), words, "not supported", path=conf)
        assert "unknown" not in line
        conf.write_text(conf.read_text().replace(group, ""))


def test_streaming_settings_are_shown_without_secrets(tmp_path):
    """check-config names the header file, never what it holds, and a
    pkcs11: client key without its PIN."""
    (tmp_path / "headers").write_text("Authorization: Bearer s3cr3t-token\n")
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\nmax-bundle-download-size=5242880\n"
                    "[keyring]\npath=ca.pem\n[streaming]\ntls-ca=server-ca.pem\n"
                    "tls-cert=client.pem\ntls-key=pkcs11:token=dev;object=tls?pin-value=4321\n"
                    "header-file=headers\ntimeout=30\nsend-headers=boot-id;uptime\n"
                    "[slot.rootfs.0]\ndevice=/r0\nbootname=A\n"
                    "[slot.rootfs.1]\ndevice=/r1\nbootname=B\n")
    text = assert_ok(check_config(conf)).stdout
    assert f"TLS CA {tmp_path / 'server-ca.pem'}" in text
    assert "key pkcs11:token=dev;object=tls" in text
    assert f"headers from {tmp_path / 'headers'}" in text
    assert "timeout 30s, bundles up to 5242880 bytes" in text
    doc = json.loads(assert_ok(check_config(conf, "--output-format=json")).stdout)
    assert doc["streaming"] == {
        "tls_ca": str(tmp_path / "server-ca.pem"), "tls_cert": str(tmp_path / "client.pem"),
        "tls_key": "pkcs11:token=dev;object=tls", "header_file": str(tmp_path / "headers"),
        "send_headers": ["boot-id", "uptime"], "timeout": 30, "max_bundle_size": 5242880}
    for out in (text, json.dumps(doc)):
        assert "s3cr3t" not in out and "4321" not in out


def test_encryption_key_and_cert_are_reported_without_a_pin(tmp_path):
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\n[keyring]\npath=ca.pem\n"
                    "[encryption]\nkey=pkcs11:token=device;object=crypt?pin-value=9876\n"
                    "cert=crypt.cert.pem\n[slot.rootfs.0]\ndevice=/r0\nbootname=A\n"
                    "[slot.rootfs.1]\ndevice=/r1\nbootname=B\n")
    proc = assert_ok(check_config(conf))
    assert f"Decryption key: pkcs11:token=device;object=crypt, certificate " \
           f"{tmp_path / 'crypt.cert.pem'}" in proc.stdout
    assert "9876" not in proc.stdout + proc.stderr
    doc = json.loads(assert_ok(check_config(conf, "--output-format=json")).stdout)
    assert doc["encryption_key"] == "pkcs11:token=device;object=crypt"
    assert doc["encryption_cert"] == str(tmp_path / "crypt.cert.pem")


def test_unknown_key_in_encryption_is_refused(tmp_path):
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\n[keyring]\npath=ca.pem\n"
                    "[encryption]\nkey=k.pem\n"
                    "keys=k2.pem\n[slot.rootfs.0]\ndevice=/r0\nbootname=A\n")
    assert_refused(check_config(conf), "unknown key 'keys' in group [encryption]", path=conf)


def test_an_existing_keyring_that_does_not_load_is_refused(tmp_path):
    keyring = tmp_path / "ca.pem"
    keyring.write_text("not a certificate\n")
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=c\nbootloader=uboot\n[keyring]\npath=ca.pem\n"
                    "[slot.rootfs.0]\ndevice=/r0\nbootname=A\n")
    assert_refused(check_config(conf), "[keyring]", str(keyring), path=conf)


def test_a_keyring_that_is_present_is_reported_present(tmp_path, pki):
    conf = tmp_path / "system.conf"
    conf.write_text(f"[system]\ncompatible=c\nbootloader=uboot\n[keyring]\npath={pki.root}\n"
                    "[slot.rootfs.0]\ndevice=/r0\nbootname=A\n")
    (policy,) = json_report(conf)["policies"]
    assert (policy["name"], policy["keyrings"], policy["present"]) == ("default", [str(pki.root)],
                                                                       True)


def test_an_intermediate_keyring_needs_allow_partial_chain_as_in_rauc(tmp_path, pki):
    """RAUC ends a chain only at a root of the keyring unless
    allow-partial-chain=true: trusting the intermediate alone would accept
    bundles that a RAUC device with this file refuses."""
    conf = tmp_path / "system.conf"
    text = (f"[system]\ncompatible=c\nbootloader=uboot\n[keyring]\npath={pki.intermediate}\n"
            "[slot.rootfs.0]\ndevice=/r0\nbootname=A\n")
    conf.write_text(text)
    assert_refused(check_config(conf), "allow-partial-chain", path=conf)
    conf.write_text(text.replace("[slot.", "allow-partial-chain=true\n[slot.", 1))
    assert_ok(check_config(conf))


# --- RAUC's parent= rule, installed ------------------------------------------------------------


def test_a_child_slot_is_installed_with_its_parent_whatever_its_index(pki, tmp_path):
    """appfs.7 has parent=rootfs.1 and appfs.3 parent=rootfs.0: booted from
    A, RAUC writes rootfs.1 and appfs.7; booted from B, rootfs.0 and
    appfs.3. Indices mean nothing once parent= says which goes with which."""
    dev = make_device(tmp_path, pki.root)
    for index, parent in ((7, "rootfs.1"), (3, "rootfs.0")):
        slot = dev.root / "slots" / f"appfs.{index}"
        slot.write_bytes(b"old appfs\n")
        dev.slots[f"appfs.{index}"] = slot
        with dev.conf.open("a") as f:
            f.write(f"\n[slot.appfs.{index}]\ndevice={slot}\nparent={parent}\n")
    rootfs, appfs = os.urandom(20000), os.urandom(12000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": rootfs, "appfs": appfs})
    assert installs(dev.conf)["A"] == ("rootfs.1", ["rootfs.1", "appfs.7"])
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == rootfs
    assert dev.slots["appfs.7"].read_bytes() == appfs
    assert dev.slots["appfs.3"].read_bytes() == b"old appfs\n"
    assert dev.slots["rootfs.0"].read_bytes().startswith(b"old system")


def test_a_child_of_the_booted_slot_is_never_written(pki, tmp_path):
    dev = make_device(tmp_path, pki.root)
    slot = dev.root / "slots" / "appfs.0"
    slot.write_bytes(b"running appfs\n")
    with dev.conf.open("a") as f:
        f.write(f"\n[slot.appfs.0]\ndevice={slot}\nparent=rootfs.0\n")
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(20000), "appfs": b"x" * 100})
    assert_refused(dev.install(bundle), "appfs", path=bundle)
    assert slot.read_bytes() == b"running appfs\n"


def test_a_variant_image_is_chosen_over_the_default_one(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="variant-name=rev-b")
    default, rev_b = os.urandom(20000), os.urandom(20000)
    bundle = make_bundle(pki, tmp_path, {"rootfs": default, "rootfs.rev-b": ("rev-b.img", rev_b)})
    assert_ok(dev.install(bundle))
    assert dev.slots["rootfs.1"].read_bytes() == rev_b


def test_a_format_bundle_formats_excludes_is_refused(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="bundle-formats=-plain")
    bundle = make_bundle(pki, tmp_path, fmt="plain")
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "plain", "bundle-formats", path=bundle)
    assert dev.snapshot() == before
    assert_ok(dev.install(make_bundle(pki, tmp_path, fmt="verity")))


def test_a_signature_over_max_bundle_signature_size_is_refused(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, system="max-bundle-signature-size=100")
    bundle = make_bundle(pki, tmp_path)
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "max-bundle-signature-size", path=bundle)
    assert dev.snapshot() == before


def test_a_class_of_one_slot_is_written_from_either_boot_slot(pki, tmp_path):
    """As Home Assistant OS's boot.0: one slot, no parent, no bootname. It
    has the booted index when A runs, and is still RAUC's target."""
    dev = make_device(tmp_path, pki.root)
    boot = dev.root / "slots" / "boot.0"
    boot.write_bytes(b"old boot\n")
    with dev.conf.open("a") as f:
        f.write(f"\n[slot.boot.0]\ndevice={boot}\n")
    first, second = os.urandom(3000), os.urandom(3000)
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": os.urandom(20000),
                                                      "boot": first})))
    assert boot.read_bytes() == first
    assert_ok(dev.run("mark-good", boot="B"))
    assert_ok(dev.install(make_bundle(pki, tmp_path, {"rootfs": os.urandom(20000),
                                                      "boot": second}, version="2.0.0"),
                          boot="B"))
    assert boot.read_bytes() == second
