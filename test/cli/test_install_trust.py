# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device side of trust lists (otabundle-trust(5)): system.conf's
[trust], `otabundle-install trust-update`, and policies taken from the trust
list in effect, on a device made of files as in test_install.py.

Each officer of these tests is a root CA of its own with one signing leaf:
the CA is the anchor a trust list holds, the leaf signs bundles and trust
updates. Trust documents are written here in the format of
otabundle-trust(5) and signed with `openssl cms -sign -nodetach`, so that
the device is tested against a signer other than otabundle's own.

Power loss is simulated with strace's fault injection: the process is
killed (SIGKILL, nothing runs after it) on entry to the n-th fsync, linkat
or rename, for every n up to the last, which stops it between any two of
the steps that make a trust update durable. Whatever it wrote until then
stays, as the page cache would after the crash; what it had not yet made
durable (the next step) never happens."""
import base64
import datetime
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Signer, assert_ok, run_tool
from test_install import (OTABUNDLE_INSTALL, assert_refused, assert_usage, install_cmd,
                          make_bundle, make_ca, make_device, signer_args)
from test_timestamp import NOW, at

needs_faketime = pytest.mark.skipif(shutil.which("faketime") is None,
                                    reason="faketime (libfaketime) not installed")
needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")

DAY = datetime.timedelta(days=1)


# --- officers, trust documents and signed trust files -------------------------------------------


@dataclass
class Officer:
    name: str
    root: Path      # the anchor a trust list holds
    signer: Signer  # the leaf that signs


@pytest.fixture(scope="module")
def officers(tmp_path_factory):
    """Officers by name, each a root CA of its own and a leaf."""
    d = tmp_path_factory.mktemp("officers")
    names = ("old", "new", "alice", "bob", "carol", "k1", "k2", "k3", "k4", "app1", "app2",
             "boot1", "boot2")
    result = {}
    for name in names:
        ca = make_ca(d, name)
        result[name] = Officer(name, ca.root, ca.leaves[0])
    return result


def der_of(pem):
    return subprocess.run(["openssl", "x509", "-in", str(pem), "-outform", "DER"],
                          capture_output=True, check=True).stdout


def spki_sha256(pem):
    """The SHA-256 of a certificate's SubjectPublicKeyInfo: how a trust
    list names a revoked key."""
    pub = run_tool("openssl", "x509", "-in", pem, "-noout", "-pubkey").stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                         capture_output=True, check=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def utc(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def anchor(officer, not_before=None, not_after=None):
    return (officer, not_before, not_after)


def document(version, tiers):
    """A trust document (otabundle-trust(5)). @tiers: {name: {"anchors":
    [Officer or anchor()], "threshold": N, "revoked-spki": [hex]}}, in
    order ("default" first)."""
    text = f"[trust]\nversion={version}\n"
    for name, tier in tiers.items():
        text += f"\n[tier.{name}]\nthreshold={tier.get('threshold', 1)}\n"
        for n, a in enumerate(tier["anchors"], 1):
            officer, not_before, not_after = a if isinstance(a, tuple) else (a, None, None)
            text += f"anchor-{n}={base64.b64encode(der_of(officer.root)).decode()}\n"
            if not_before is not None:
                text += f"anchor-{n}-not-before={utc(not_before)}\n"
            if not_after is not None:
                text += f"anchor-{n}-not-after={utc(not_after)}\n"
        if tier.get("revoked-spki"):
            text += "revoked-spki-sha256=" + ";".join(sorted(tier["revoked-spki"])) + "\n"
    return text


def signed(d, name, text, signers):
    """@text signed by @signers' leaves as `openssl cms` signs: DER
    SignedData embedding the document, one SignerInfo per signer."""
    d = Path(d)
    doc, out = d / f"{name}.doc", d / f"{name}.trust"
    doc.write_text(text)
    cmd = ["openssl", "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha256",
           "-in", doc, "-out", out]
    for o in signers:
        cmd += ["-signer", o.signer.cert, "-inkey", o.signer.key]
    run_tool(*cmd)
    return out


def bundle(d, version, *signers):
    """A bundle of version @version signed by the leaves of @signers."""
    tag = "-".join(o.name for o in signers)
    return make_bundle(None, d, version=version, name=f"b{version}-{tag}",
                       sign=signer_args(*(o.signer for o in signers)))


# --- the device -----------------------------------------------------------------------------------


def trust_device(tmp_path, initial_text, *, trust_extra="", name="device", **kwargs):
    """test_install's device, its [keyring] replaced by [trust] with
    initial= the bare document @initial_text (shipped in the image)."""
    dev = make_device(tmp_path, "KEYRING", name=name, **kwargs)
    initial = dev.root / "trust-initial.conf"
    initial.write_text(initial_text)
    text = dev.conf.read_text()
    assert "[keyring]\npath=KEYRING\n" in text
    dev.conf.write_text(text.replace("[keyring]\npath=KEYRING\n",
                                     f"[trust]\ninitial={initial}\n{trust_extra}"))
    return dev


def trust_of(dev, boot="A"):
    return dev.status(boot)["trust"]


def trust_dir_snapshot(dev):
    d = dev.data / "trust"
    return sorted((p.name, p.read_bytes()) for p in d.iterdir()) if d.exists() else []


def update_trust(dev, *files, boot="A"):
    return dev.run("trust-update", *files, boot=boot)


def at_device(when, dev, *args, boot="A"):
    return at(when, *install_cmd(dev.conf, *args, boot=boot))


# --- (1) a planned rotation with an overlap window ---------------------------------------------


@needs_faketime
def test_planned_rotation_trusts_both_keys_in_the_window_and_only_the_new_one_after_it(
        officers, tmp_path):
    old, new = officers["old"], officers["new"]
    end = NOW + 10 * DAY
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [old]}}))
    # The transition update, signed by the old key, adds the new one and
    # ends the old one's trust at the end of the window.
    v2 = signed(tmp_path, "v2", document(2, {"default": {"anchors": [
        anchor(old, not_after=end), anchor(new, not_before=NOW - DAY)]}}), [old])
    assert "trust list version 2 installed (from version 1)" in assert_ok(
        update_trust(dev, v2)).stdout
    assert trust_of(dev)["version"] == 2 and trust_of(dev)["installed"] is True

    assert_ok(dev.install(bundle(tmp_path, "2.0", old)))
    assert_ok(dev.install(bundle(tmp_path, "3.0", new)))

    after = NOW + 20 * DAY
    proc = at_device(after, dev, "install", bundle(tmp_path, "4.0", old))
    assert_refused(proc)
    assert_ok(at_device(after, dev, "install", bundle(tmp_path, "5.0", new)))


def test_before_any_trust_update_the_shipped_list_decides(officers, tmp_path):
    old, new = officers["old"], officers["new"]
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [old]}}))
    trust = trust_of(dev)
    assert trust["version"] == 1 and trust["installed"] is False and trust["error"] is None
    assert trust["path"].endswith("trust-initial.conf")
    assert_ok(dev.run("info", bundle(tmp_path, "2.0", old)))
    assert_refused(dev.run("info", bundle(tmp_path, "2.0", new)))


# --- (2) an emergency revocation by the remaining officers ------------------------------------


def test_a_leaked_key_revoked_by_the_other_officers_signs_nothing_from_then_on(
        officers, tmp_path):
    alice, bob, carol = officers["alice"], officers["bob"], officers["carol"]
    tier = {"anchors": [alice, bob, carol], "threshold": 2}
    dev = trust_device(tmp_path, document(1, {"default": tier}))
    leaked = bundle(tmp_path, "2.0", alice, bob)
    assert_ok(dev.run("info", leaked))

    revoked = dict(tier, **{"revoked-spki": [spki_sha256(alice.signer.cert)]})
    v2 = signed(tmp_path, "v2", document(2, {"default": revoked}), [bob, carol])
    assert_ok(update_trust(dev, v2))

    line = assert_refused(dev.run("info", leaked), "revoked by trust list version 2")
    assert str(leaked) in line
    assert_refused(dev.install(leaked), "revoked by trust list version 2")
    assert_ok(dev.install(bundle(tmp_path, "3.0", bob, carol)))


def test_the_leaked_key_alone_cannot_undo_its_revocation(officers, tmp_path):
    alice, bob, carol = officers["alice"], officers["bob"], officers["carol"]
    tier = {"anchors": [alice, bob, carol], "threshold": 2}
    revoked = dict(tier, **{"revoked-spki": [spki_sha256(alice.signer.cert)]})
    dev = trust_device(tmp_path, document(1, {"default": revoked}))
    undo = signed(tmp_path, "undo", document(2, {"default": tier}), [alice, bob])
    assert_refused(update_trust(dev, undo), str(undo), "not signed by")
    assert trust_of(dev)["version"] == 1


# --- (3) a device offline for three rotations ----------------------------------------------------


def rotations(officers, d):
    """v1 trusts k1; v2, v3 and v4 each replace the key by the next one,
    signed by the key going and the key coming."""
    keys = [officers[f"k{n}"] for n in range(1, 5)]
    updates = [signed(d, f"v{n + 1}", document(n + 1, {"default": {"anchors": [keys[n]]}}),
                      [keys[n - 1], keys[n]]) for n in range(1, 4)]
    return keys, document(1, {"default": {"anchors": [keys[0]]}}), updates


def test_a_device_offline_for_three_rotations_applies_the_three_updates_in_one_command(
        officers, tmp_path):
    keys, initial, updates = rotations(officers, tmp_path)
    dev = trust_device(tmp_path, initial)
    out = assert_ok(update_trust(dev, *updates)).stdout
    assert "trust list version 4 installed (from version 1)" in out
    assert trust_of(dev)["version"] == 4
    # Every version is kept, for audit, as it was received.
    assert [name for name, _ in trust_dir_snapshot(dev)] == ["trust-2", "trust-3", "trust-4"]
    for n, u in zip((2, 3, 4), updates):
        assert (dev.data / "trust" / f"trust-{n}").read_bytes() == u.read_bytes()
    assert_refused(dev.run("info", bundle(tmp_path, "2.0", keys[0])))
    assert_ok(dev.install(bundle(tmp_path, "2.0", keys[3])))


def test_a_chain_out_of_order_is_refused_whole(officers, tmp_path):
    keys, initial, (v2, v3, v4) = rotations(officers, tmp_path)
    dev = trust_device(tmp_path, initial)
    assert_refused(update_trust(dev, v3, v2, v4), str(v3), "does not follow")
    assert trust_of(dev)["version"] == 1
    assert trust_dir_snapshot(dev) == []


def test_a_chain_whose_last_update_is_bad_stores_none_of_it(officers, tmp_path):
    keys, initial, (v2, v3, _) = rotations(officers, tmp_path)
    dev = trust_device(tmp_path, initial)
    # Signed by the incoming key only.
    bad = signed(tmp_path, "bad-v4", document(4, {"default": {"anchors": [keys[3]]}}), [keys[3]])
    assert_refused(update_trust(dev, v2, v3, bad), str(bad), "current threshold")
    assert trust_of(dev)["version"] == 1
    assert trust_dir_snapshot(dev) == []


# --- (4) a fallback to the old slot keeps the new trust ----------------------------------------


def test_a_fallback_to_the_old_slot_after_a_trust_update_keeps_the_new_trust(officers, tmp_path):
    old, new = officers["old"], officers["new"]
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [old]}}))
    assert_ok(dev.install(bundle(tmp_path, "2.0", old)))
    # Booted into B, the update rotates the key from the old to the new.
    v2 = signed(tmp_path, "v2", document(2, {"default": {"anchors": [new]}}), [old, new])
    assert_ok(update_trust(dev, v2, boot="B"))
    # B fails its self-test: back to A, whose image ships version 1.
    assert_ok(dev.run("mark-bad", boot="B"))
    assert dev.primary(boot="A") == "A"
    trust = trust_of(dev, boot="A")
    assert trust["version"] == 2 and trust["installed"] is True
    assert_refused(dev.run("info", bundle(tmp_path, "3.0", old), boot="A"))
    assert_ok(dev.install(bundle(tmp_path, "3.0", new), boot="A"))


# --- (5) power loss while a trust update is stored ---------------------------------------------


def killed_at(dev, syscall, n, *files):
    """trust-update of @files, killed on entry to its @n-th @syscall;
    True if it was killed, False if it ran to its end (fewer calls)."""
    cmd = ["strace", "-f", "-o", "/dev/null", "-e", f"trace={syscall}",
           "-e", f"inject={syscall}:signal=KILL:when={n}",
           *install_cmd(dev.conf, "trust-update", *files)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)


@needs_strace
@pytest.mark.parametrize("syscall", ["fsync", "linkat", "rename"])
def test_power_lost_at_any_step_of_storing_leaves_the_old_or_the_new_list(
        officers, tmp_path, syscall):
    keys, initial, (v2, v3, _) = rotations(officers, tmp_path)
    seen = set()
    for n in range(1, 50):
        dev = trust_device(tmp_path, initial, name=f"{syscall}-{n}")
        if not killed_at(dev, syscall, n, v2, v3):
            assert n > 1, f"trust-update made no {syscall} call"
            break
        trust = trust_of(dev)
        assert trust["error"] is None, trust
        assert trust["version"] in (1, 3), trust
        seen.add(trust["version"])
        if trust["version"] == 1:
            # The update never took: it applies as if nothing had happened.
            assert_ok(update_trust(dev, v2, v3))
        else:
            assert_refused(update_trust(dev, v2, v3), "does not follow")
        assert trust_of(dev)["version"] == 3
    else:
        pytest.fail(f"trust-update still killed at its 49th {syscall}")
    # Killed before its commit; and after it, at the fsync of the directory.
    assert seen == ({1, 3} if syscall == "fsync" else {1})


# --- refused updates: one line, nothing changed ---------------------------------------------------


@pytest.fixture
def at_v2(officers, tmp_path):
    """A device at trust version 2 (old -> new), and the updates around it."""
    old, new = officers["old"], officers["new"]
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [old]}}))
    v2 = signed(tmp_path, "v2", document(2, {"default": {"anchors": [old, new]}}), [old, new])
    assert_ok(update_trust(dev, v2))
    return dev, v2


def assert_nothing_changed(dev, proc, before, *words):
    assert_refused(proc, *words)
    assert trust_dir_snapshot(dev) == before
    assert trust_of(dev)["version"] == 2


def test_a_replayed_trust_update_is_refused(at_v2):
    dev, v2 = at_v2
    before = trust_dir_snapshot(dev)
    assert_nothing_changed(dev, update_trust(dev, v2), before, str(v2), "version 2",
                           "does not follow the current 2")


def test_a_trust_update_that_skips_a_version_is_refused(officers, at_v2, tmp_path):
    dev, _ = at_v2
    new = officers["new"]
    v4 = signed(tmp_path, "v4", document(4, {"default": {"anchors": [new]}}), [officers["old"], new])
    before = trust_dir_snapshot(dev)
    assert_nothing_changed(dev, update_trust(dev, v4), before, str(v4), "does not follow")


def test_a_trust_update_signed_only_by_the_old_keys_is_refused(officers, at_v2, tmp_path):
    dev, _ = at_v2
    old, new, alice = officers["old"], officers["new"], officers["alice"]
    v3 = signed(tmp_path, "v3", document(3, {"default": {"anchors": [alice]}}), [old, new])
    before = trust_dir_snapshot(dev)
    assert_nothing_changed(dev, update_trust(dev, v3), before, str(v3), "new threshold")


def test_a_trust_update_signed_only_by_the_new_keys_is_refused(officers, at_v2, tmp_path):
    dev, _ = at_v2
    alice = officers["alice"]
    v3 = signed(tmp_path, "v3", document(3, {"default": {"anchors": [alice]}}), [alice])
    before = trust_dir_snapshot(dev)
    assert_nothing_changed(dev, update_trust(dev, v3), before, str(v3), "current threshold")


def test_a_refused_trust_update_is_recorded_in_the_results(at_v2):
    dev, v2 = at_v2
    assert_refused(update_trust(dev, v2))
    last = dev.status()["results"][-1]
    assert last["operation"] == "trust-update" and last["ok"] is False
    assert last["bundle"] == str(v2) and "does not follow" in last["reason"]


# --- tiers ---------------------------------------------------------------------------------------


def test_rotating_the_application_key_needs_no_bootloader_officer(officers, tmp_path):
    app1, app2, boot1 = officers["app1"], officers["app2"], officers["boot1"]
    tiers = {"default": {"anchors": [app1]}, "bootloader": {"anchors": [boot1]}}
    dev = trust_device(tmp_path, document(1, tiers))
    v2 = signed(tmp_path, "v2", document(2, dict(tiers, default={"anchors": [app2]})),
                [app1, app2])
    assert_ok(update_trust(dev, v2))
    # The bootloader tier needs its own officers.
    boot2 = officers["boot2"]
    v3 = signed(tmp_path, "v3", document(3, {"default": {"anchors": [app2]},
                                             "bootloader": {"anchors": [boot2]}}), [app2, boot2])
    assert_refused(update_trust(dev, v3), "tier 'bootloader'", "current threshold")
    assert trust_of(dev)["version"] == 2


def test_a_slot_policy_must_name_a_tier_of_the_trust_list_in_effect(officers, tmp_path):
    app1, boot1 = officers["app1"], officers["boot1"]
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [app1]}}),
                       class_extra={"rootfs": "policy=bootloader"})
    b = bundle(tmp_path, "2.0", app1, boot1)
    assert_refused(dev.install(b), "slot rootfs.1", "trust list version 1 has no tier "
                   "'bootloader'")
    # Adding the tier takes the default tier's threshold and its own.
    v2 = signed(tmp_path, "v2", document(2, {"default": {"anchors": [app1]},
                                             "bootloader": {"anchors": [boot1]}}), [app1, boot1])
    assert_ok(update_trust(dev, v2))
    assert_refused(dev.install(bundle(tmp_path, "2.0", app1)), "policy 'bootloader'")
    assert_ok(dev.install(b))


# --- the stored list -----------------------------------------------------------------------------


def test_a_stored_trust_list_changed_behind_the_state_trusts_nothing(at_v2, officers, tmp_path):
    dev, _ = at_v2
    stored = dev.data / "trust" / "trust-2"
    # Another, validly signed version 2 put in its place.
    other = signed(tmp_path, "other", document(2, {"default": {"anchors": [officers["alice"]]}}),
                   [officers["alice"]])
    stored.write_bytes(other.read_bytes())
    trust = trust_of(dev)
    assert trust["version"] == 2 and "is not trust list version 2" in trust["error"]
    assert_refused(dev.run("info", bundle(tmp_path, "2.0", officers["alice"])), str(stored),
                   "is not trust list version 2")


def test_a_missing_stored_trust_list_is_an_error_not_a_return_to_the_shipped_one(
        at_v2, officers, tmp_path):
    dev, _ = at_v2
    (dev.data / "trust" / "trust-2").unlink()
    assert_refused(dev.run("info", bundle(tmp_path, "2.0", officers["old"])), "trust-2",
                   "can't be read")


def test_trust_lists_live_where_directory_says(officers, tmp_path):
    elsewhere = tmp_path / "persistent" / "trust"
    keys, initial, (v2, _, _) = rotations(officers, tmp_path)
    dev = trust_device(tmp_path, initial, trust_extra=f"directory={elsewhere}\n")
    assert_ok(update_trust(dev, v2))
    assert (elsewhere / "trust-2").read_bytes() == v2.read_bytes()
    assert not (dev.data / "trust").exists()
    assert trust_of(dev)["path"] == str(elsewhere / "trust-2")


# --- status, check-config, the event log ---------------------------------------------------------


def test_status_text_shows_the_trust_list_in_effect(at_v2):
    dev, _ = at_v2
    out = assert_ok(dev.run("status")).stdout
    assert f"Trust list:        version 2 (installed by a trust update, {dev.data}/trust/trust-2)" \
        in out
    assert "trust-update" in out


def test_status_without_trust_shows_none(tmp_path, pki):
    dev = make_device(tmp_path, pki.root)
    assert dev.status()["trust"] is None
    assert "Trust list" not in assert_ok(dev.run("status")).stdout


def test_check_config_shows_the_trust_settings(officers, tmp_path):
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [officers["app1"]]},
                                              "bootloader": {"anchors": [officers["boot1"]]}}))
    doc = json.loads(assert_ok(dev.run("check-config", "--output-format=json")).stdout)
    assert doc["trust"] == {"initial": str(dev.root / "trust-initial.conf"),
                            "directory": str(dev.data / "trust"), "present": True, "version": 1,
                            "tiers": ["default", "bootloader"]}
    assert doc["policies"] == []
    out = assert_ok(dev.run("check-config")).stdout
    assert "(version 1, tiers default, bootloader)" in out
    assert f"installed ones in {dev.data}/trust" in out


def test_trust_updates_are_written_to_the_event_log(at_v2, officers, tmp_path):
    dev, v2 = at_v2
    log = tmp_path / "trust.log"
    with dev.conf.open("a") as f:
        f.write(f"\n[log.trust]\nfilename={log}\nformat=json\nevents=trust\n")
    assert_refused(update_trust(dev, v2))
    v3 = signed(tmp_path, "v3", document(3, {"default": {"anchors": [officers["new"]]}}),
                [officers["old"], officers["new"]])
    assert_ok(update_trust(dev, v3))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["RAUC_EVENT_TYPE"] for r in records] == ["trust", "trust"]
    assert records[0]["MESSAGE"].startswith("Trust update rejected: ")
    assert records[1]["MESSAGE"] == "Trust list updated from version 2 to 3"
    assert records[1]["TRUST_VERSION"] == "3"
    assert records[1]["TRUST_SHA256"] == trust_of(dev)["sha256"]


# --- system.conf ---------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, words", [
    ("[keyring]\npath=/x.pem\n", ["[keyring]", "[trust]"]),
    ("[policy.bootloader]\npath=/x.pem\n", ["[policy.bootloader]", "[trust]"]),
])
def test_trust_and_another_source_of_trust_are_refused_together(officers, tmp_path, extra, words):
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [officers["app1"]]}}),
                       extra=extra)
    assert_refused(dev.run("check-config"), *words)


@pytest.mark.parametrize("trust, words", [
    ("[trust]\n", ["missing key 'initial'"]),
    ("[trust]\ninitial=t.conf\ndirectory=relative/trust\n", ["not an absolute path"]),
])
def test_bad_trust_groups_are_refused(tmp_path, trust, words):
    dev = make_device(tmp_path, "KEYRING")
    dev.conf.write_text(dev.conf.read_text().replace("[keyring]\npath=KEYRING\n", trust))
    assert_refused(dev.run("check-config"), *words)


def test_trust_update_without_trust_in_the_config_is_refused(pki, tmp_path, officers):
    dev = make_device(tmp_path, pki.root)
    v2 = signed(tmp_path, "v2", document(2, {"default": {"anchors": [officers["old"]]}}),
                [officers["old"]])
    assert_refused(dev.run("trust-update", v2), "no [trust] group")


def test_trust_update_without_a_file_is_a_usage_error(officers, tmp_path):
    dev = trust_device(tmp_path, document(1, {"default": {"anchors": [officers["old"]]}}))
    assert_usage(dev.run("trust-update"))


def timestamp_tier(officer):
    """A trust list whose default tier checks certificates only at a
    trusted timestamp's time."""
    text = document(1, {"default": {"anchors": [officer]}})
    return text.replace("[tier.default]\n", "[tier.default]\ncheck-time=timestamp\n")


def stamped(officer, d, tsa):
    return make_bundle(None, d, version="2.0", name=f"stamped-{officer.name}",
                       sign=signer_args(officer.signer),
                       create_args=("--timestamp-url", tsa.url()))


def test_a_timestamp_tier_counts_signers_stamped_by_the_devices_tsa(officers, tsa, tmp_path):
    dev = trust_device(tmp_path, timestamp_tier(officers["k1"]),
                       trust_extra=f"tsa-keyring={tsa.root}\n")
    assert_ok(dev.install(stamped(officers["k1"], tmp_path, tsa)))


def test_a_timestamp_tier_without_a_tsa_keyring_counts_no_signer(officers, tsa, tmp_path):
    dev = trust_device(tmp_path, timestamp_tier(officers["k1"]))
    assert_refused(dev.install(stamped(officers["k1"], tmp_path, tsa)), "no trusted timestamp")
