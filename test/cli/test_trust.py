# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trust lists on the host (otabundle trust create|sign|merge|show|verify,
verify --trust): who may sign updates, rotated and revoked by signed trust
updates (otabundle-trust(5)).

A PKI of its own, made once per module with the openssl CLI:

    root           signs                 tier in the lists below
    app-old-root   app-old               default (the release key being retired)
    app-new-root   app-new               default (its successor)
    officer-root   alice, bob, carol     officers: bootloader, or default at 2 of 3

Bob's key also lives in a fresh SoftHSM2 token for the ceremony tests.
Time travel (the end of an overlap window) is `faketime`, as in
test_timestamp.py.
"""
import datetime
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (OTABUNDLE, SOFTHSM_MODULE, assert_failure, assert_ok, assert_usage,
                      make_input, read_audit_log, run, run_tool, softhsm_env,
                      validate_json_document)

TOKEN_PIN = "officer-pin-5519-0271"
BOB_TOKEN_KEY = "pkcs11:token=officers;object=bob;type=private"

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
# The planned rotation's overlap: the new root from yesterday, the old one
# for a month more.
OVERLAP_START = NOW - datetime.timedelta(days=1)
OVERLAP_END = NOW + datetime.timedelta(days=30)


def rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(when, *cmd):
    """otabundle @cmd with the clock at @when (libfaketime)."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":"))
    return subprocess.run(["faketime", when.strftime("%Y-%m-%d %H:%M:%S"), OTABUNDLE,
                           *[str(c) for c in cmd]], capture_output=True, text=True, env=env)


# --- the PKI ----------------------------------------------------------------------------


LEAF_EXT = "[leaf]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n"


@dataclass
class Officer:
    cert: Path
    key: Path

    def args(self):
        return ["--cert", self.cert, "--key", self.key]


@dataclass
class RotationPki:
    dir: Path
    app_old_root: Path
    app_new_root: Path
    officer_root: Path
    app_old: Officer
    app_new: Officer
    alice: Officer
    bob: Officer
    carol: Officer


def _root(d, name):
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    run_tool("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-subj", f"/O=otabundle tests/CN={name}",
             "-days", "3650", "-addext", "basicConstraints=critical,CA:true",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def _leaf(d, name, root, root_key):
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    run_tool("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", key)
    run_tool("openssl", "req", "-new", "-key", key, "-subj", f"/O=otabundle tests/CN={name}",
             "-out", csr)
    (d / "leaf.cnf").write_text(LEAF_EXT)
    run_tool("openssl", "x509", "-req", "-in", csr, "-CA", root, "-CAkey", root_key,
             "-CAcreateserial", "-days", "3650", "-extfile", d / "leaf.cnf", "-extensions", "leaf",
             "-out", cert)
    return Officer(cert, key)


@pytest.fixture(scope="module")
def rpki(tmp_path_factory):
    d = tmp_path_factory.mktemp("rotation-pki")
    app_old_root, app_old_key = _root(d, "app-old-root")
    app_new_root, app_new_key = _root(d, "app-new-root")
    officer_root, officer_key = _root(d, "officer-root")
    return RotationPki(
        dir=d, app_old_root=app_old_root, app_new_root=app_new_root, officer_root=officer_root,
        app_old=_leaf(d, "app-old", app_old_root, app_old_key),
        app_new=_leaf(d, "app-new", app_new_root, app_new_key),
        alice=_leaf(d, "alice", officer_root, officer_key),
        bob=_leaf(d, "bob", officer_root, officer_key),
        carol=_leaf(d, "carol", officer_root, officer_key))


# --- helpers ----------------------------------------------------------------------------


def create(path, version, *args):
    """trust create; fails the test unless it succeeds. Returns @path."""
    assert_ok(run("trust", "create", "--version", version, *args, path))
    return path


def show(path):
    return json.loads(assert_ok(run("trust", "show", "--output-format=json", path)).stdout)


def trust_verify(current, *updates):
    return run("trust", "verify", "--trust", current, *updates)


@pytest.fixture(scope="module")
def bundles(rpki, tmp_path_factory):
    """One bundle per set of signers: app-old, app-new, alice+carol,
    alice+bob, app-old+alice+bob."""
    d = tmp_path_factory.mktemp("trust-bundles")
    make_input(d / "in")
    made = {}
    for name, signers in [("app-old", [rpki.app_old]), ("app-new", [rpki.app_new]),
                          ("alice+carol", [rpki.alice, rpki.carol]),
                          ("alice+bob", [rpki.alice, rpki.bob]),
                          ("app-old+alice+bob", [rpki.app_old, rpki.alice, rpki.bob])]:
        bundle = d / f"{name}.raucb"
        args = [a for s in signers for a in s.args()]
        assert_ok(run("create", *args, d / "in", bundle))
        made[name] = bundle
    return made


@pytest.fixture(scope="module")
def planned(rpki, tmp_path_factory):
    """The planned rotation of the default tier, as a release team makes it:
    v1 trusts the old root (shipped in the image, unsigned); v2, the
    transition signed by the old key, adds the new root and ends the old
    one's trust with the overlap; v3, after the overlap, trusts only the new
    root, signed by the new key and the old."""
    d = tmp_path_factory.mktemp("planned")
    v1 = create(d / "v1.trust", 1, "--anchor", f"default:{rpki.app_old_root}")
    v2 = create(d / "v2.trust", 2,
                "--anchor", f"default:{rpki.app_old_root}::{rfc3339(OVERLAP_END)}",
                "--anchor", f"default:{rpki.app_new_root}:{rfc3339(OVERLAP_START)}",
                *rpki.app_old.args())
    v3_doc = create(d / "v3.doc", 3, "--anchor", f"default:{rpki.app_new_root}")
    v3 = d / "v3.trust"
    assert_ok(run("trust", "sign", *rpki.app_new.args(), v3_doc, d / "v3-new.trust"))
    assert_ok(run("trust", "sign", *rpki.app_old.args(), d / "v3-new.trust", v3))
    return d, v1, v2, v3


# --- create, sign, show -------------------------------------------------------------------


def test_create_without_signers_writes_a_bare_document_that_show_reads(rpki, tmp_path):
    v1 = create(tmp_path / "v1.trust", 1, "--anchor", f"default:{rpki.app_old_root}")
    assert v1.read_text().lstrip().startswith(("#", "["))
    doc = show(v1)
    assert (doc["version"], doc["signed"], doc["signers"]) == (1, False, [])
    (tier,) = doc["tiers"]
    assert tier["name"] == "default" and tier["threshold"] == 1
    assert tier["check_purpose"] == "smimesign" and tier["check_time"] == "device"
    (anchor,) = tier["anchors"]
    assert "CN=app-old-root" in anchor["subject"]
    assert (anchor["not_before"], anchor["not_after"]) == (None, None)


def test_show_gives_each_tier_its_settings_anchors_windows_and_revocations(rpki, tmp_path):
    trust = create(tmp_path / "t.trust", 4,
                   "--tier", "bootloader:2:codesign:none",
                   "--anchor", f"default:{rpki.app_old_root}::{rfc3339(OVERLAP_END)}",
                   "--anchor", f"default:{rpki.app_new_root}:{rfc3339(OVERLAP_START)}",
                   "--anchor", f"bootloader:{rpki.officer_root}",
                   "--revoke", f"bootloader:{rpki.carol.cert}")
    doc = show(trust)
    assert [t["name"] for t in doc["tiers"]] == ["default", "bootloader"]
    default, boot = doc["tiers"]
    assert [(a["not_before"], a["not_after"]) for a in default["anchors"]] == [
        (None, rfc3339(OVERLAP_END)), (rfc3339(OVERLAP_START), None)]
    assert (boot["threshold"], boot["check_purpose"], boot["check_time"]) == (2, "codesign",
                                                                              "none")
    spki = run_tool("sh", "-c", f"openssl x509 -in {rpki.carol.cert} -pubkey -noout | "
                                "openssl pkey -pubin -outform DER | sha256sum").stdout.split()[0]
    assert boot["revoked_keys"] == [spki] and len(boot["revoked_certificates"]) == 1
    assert default["revoked_keys"] == []
    text = assert_ok(run("trust", "show", trust)).stdout
    assert "Version:     4" in text
    assert "Tier bootloader: threshold 2, check-purpose codesign, check-time none" in text
    assert f"until {rfc3339(OVERLAP_END)}" in text and spki in text


def test_revoke_without_a_tier_revokes_in_every_tier(rpki, tmp_path):
    trust = create(tmp_path / "t.trust", 1, "--anchor", f"default:{rpki.app_old_root}",
                   "--anchor", f"bootloader:{rpki.officer_root}", "--revoke", rpki.carol.cert)
    assert all(len(t["revoked_keys"]) == 1 for t in show(trust)["tiers"])


def test_create_with_a_signer_writes_a_signed_trust_list(rpki, tmp_path):
    trust = create(tmp_path / "v1.trust", 1, "--anchor", f"default:{rpki.app_old_root}",
                   *rpki.app_old.args())
    doc = show(trust)
    assert doc["signed"] is True
    (signer,) = doc["signers"]
    assert "CN=app-old" in signer["subject"] and signer["status"] == "unchecked"
    assert "Signers:" in assert_ok(run("trust", "show", trust)).stdout


def test_sign_round_trip_keeps_the_document_and_adds_each_signer(rpki, tmp_path):
    doc = create(tmp_path / "v1.doc", 1, "--anchor", f"default:{rpki.officer_root}")
    digest = show(doc)["document_sha256"]
    assert_ok(run("trust", "sign", *rpki.alice.args(), doc, tmp_path / "a.trust"))
    assert_ok(run("trust", "sign", *rpki.bob.args(), tmp_path / "a.trust", tmp_path / "ab.trust"))
    signed = show(tmp_path / "ab.trust")
    assert signed["document_sha256"] == digest and signed["version"] == 1
    assert sorted(s["subject"].split(",")[0] for s in signed["signers"]) == ["CN=alice", "CN=bob"]


def test_sign_refuses_a_key_that_already_signs(rpki, tmp_path):
    trust = create(tmp_path / "a.trust", 1, "--anchor", f"default:{rpki.officer_root}",
                   *rpki.alice.args())
    out = tmp_path / "aa.trust"
    assert_failure(run("trust", "sign", *rpki.alice.args(), trust, out), trust,
                   "already signs")
    assert not out.exists()


def test_signers_of_a_trust_list_get_a_timestamp_from_the_tsa(rpki, tsa, tmp_path):
    trust = create(tmp_path / "v1.trust", 1, "--anchor", f"default:{rpki.officer_root}",
                   *rpki.alice.args(), "--timestamp-url", tsa.url(), "--tsa-keyring", tsa.root)
    (signer,) = show(trust)["signers"]
    assert "otabundle test TSA" in signer["timestamp"]["tsa"]


# --- ceremonies ------------------------------------------------------------------------


def test_officers_sign_a_document_in_parallel_and_merge_makes_the_trust_list(rpki, tmp_path):
    doc = create(tmp_path / "v1.doc", 1, "--anchor", f"default:{rpki.officer_root}")
    for name in ("alice", "bob"):
        officer = getattr(rpki, name)
        assert_ok(run("trust", "sign", "--detached", tmp_path / f"{name}.cms", *officer.args(),
                      doc))
    assert show(doc)["signed"] is False  # unchanged
    out = tmp_path / "v1.trust"
    proc = assert_ok(run("trust", "merge", doc, out, tmp_path / "alice.cms", tmp_path / "bob.cms"))
    assert "Merged 2 partial signatures" in proc.stdout
    assert len(show(out)["signers"]) == 2
    assert show(out)["document_sha256"] == show(doc)["document_sha256"]


def test_merge_adds_partials_to_a_signed_trust_list(rpki, tmp_path):
    trust = create(tmp_path / "a.trust", 1, "--anchor", f"default:{rpki.officer_root}",
                   *rpki.alice.args())
    assert_ok(run("trust", "sign", "--detached", tmp_path / "carol.cms", *rpki.carol.args(),
                  trust))
    assert_ok(run("trust", "merge", "--signer-encoding=signer-infos", trust, tmp_path / "ac.trust",
                  tmp_path / "carol.cms"))
    assert [s["nested"] for s in show(tmp_path / "ac.trust")["signers"]] == [False, False]


def test_merge_refuses_a_partial_signature_of_another_version(rpki, tmp_path):
    v1 = create(tmp_path / "v1.doc", 1, "--anchor", f"default:{rpki.officer_root}")
    v2 = create(tmp_path / "v2.doc", 2, "--anchor", f"default:{rpki.officer_root}",
                "--revoke", rpki.carol.cert)
    assert_ok(run("trust", "sign", "--detached", tmp_path / "bob.cms", *rpki.bob.args(), v1))
    out = tmp_path / "v2.trust"
    assert_failure(run("trust", "merge", v2, out, tmp_path / "bob.cms"), tmp_path / "bob.cms",
                   "signs another trust document")
    assert not out.exists()


@pytest.fixture(scope="module")
def token(rpki, tmp_path_factory):
    """A fresh SoftHSM2 token "officers" holding Bob's key: the environment
    that reaches it (module and PIN from OTABUNDLE_PKCS11_*)."""
    env = softhsm_env(tmp_path_factory.mktemp("softhsm"))
    run_tool("softhsm2-util", "--init-token", "--free", "--label", "officers", "--pin", TOKEN_PIN,
             "--so-pin", "so-5519", env=env)
    run_tool("softhsm2-util", "--import", rpki.bob.key, "--token", "officers", "--label", "bob",
             "--id", "b0", "--pin", TOKEN_PIN, env=env)
    return dict(env, OTABUNDLE_PKCS11_MODULE=SOFTHSM_MODULE, OTABUNDLE_PKCS11_PIN=TOKEN_PIN)


def test_threshold_ceremony_with_a_token_key_is_logged_without_the_pin(rpki, token, tmp_path):
    """2 of 3 officers: Alice with a key file, Bob with his token, each a
    partial signature with an audit line; merged, the update is accepted
    over the list before it."""
    v1 = create(tmp_path / "v1.trust", 1, "--tier", "default:2",
                "--anchor", f"default:{rpki.officer_root}")
    v2 = create(tmp_path / "v2.doc", 2, "--tier", "default:2",
                "--anchor", f"default:{rpki.officer_root}", "--revoke", rpki.carol.cert)
    log = tmp_path / "audit.log"
    assert_ok(run("trust", "sign", "--detached", tmp_path / "alice.cms", *rpki.alice.args(),
                  "--audit-log", log, v2))
    assert_ok(run("trust", "sign", "--detached", tmp_path / "bob.cms", "--cert", rpki.bob.cert,
                  "--key", BOB_TOKEN_KEY, "--audit-log", log, v2, env=token))
    out = tmp_path / "v2.trust"
    assert_ok(run("trust", "merge", v2, out, tmp_path / "alice.cms", tmp_path / "bob.cms"))
    assert_ok(trust_verify(v1, out))

    lines = read_audit_log(log)
    assert [(line["operation"], line["format"]) for line in lines] == [
        ("sign-detached", "trust")] * 2
    assert {line["signed_sha256"] for line in lines} == {show(v2)["document_sha256"]}
    assert lines[1]["key_uri"] == BOB_TOKEN_KEY and "CN=bob" in lines[1]["signer_subject"]
    assert TOKEN_PIN not in log.read_text()


def test_create_and_sign_append_an_audit_line_per_signer(rpki, tmp_path):
    log = tmp_path / "audit.log"
    trust = create(tmp_path / "v1.trust", 1, "--anchor", f"default:{rpki.officer_root}",
                   *rpki.alice.args(), *rpki.bob.args(), "--audit-log", log)
    assert_ok(run("trust", "sign", *rpki.carol.args(), "--audit-log", log, trust,
                  tmp_path / "abc.trust"))
    lines = read_audit_log(log)
    assert [line["operation"] for line in lines] == ["create", "create", "sign"]
    assert [line["bundle"] for line in lines] == [str(trust)] * 2 + [str(tmp_path / "abc.trust")]
    assert {line["signed_sha256"] for line in lines} == {show(trust)["document_sha256"]}
    assert all(line["verity_root_hash"] is None for line in lines)


# --- trust verify: the chain rule as a device applies it -----------------------------------


def test_transition_signed_by_the_old_key_is_accepted(planned):
    _, v1, v2, _ = planned
    proc = assert_ok(trust_verify(v1, v2))
    assert "version 2 accepted over version 1" in proc.stdout


def test_transition_signed_only_by_the_new_key_is_refused(rpki, planned, tmp_path):
    d, v1, _, _ = planned
    forged = create(tmp_path / "v2.trust", 2,
                    "--anchor", f"default:{rpki.app_old_root}::{rfc3339(OVERLAP_END)}",
                    "--anchor", f"default:{rpki.app_new_root}", *rpki.app_new.args())
    assert_failure(trust_verify(v1, forged), forged, "default", "current threshold")


def test_update_signed_only_by_the_old_key_is_refused_once_it_drops_that_key(rpki, planned,
                                                                           tmp_path):
    _, _, v2, _ = planned
    old_only = create(tmp_path / "v3.trust", 3, "--anchor", f"default:{rpki.app_new_root}",
                      *rpki.app_old.args())
    assert_failure(trust_verify(v2, old_only), old_only, "default", "new threshold")


def test_device_that_missed_updates_walks_the_chain_in_order(planned):
    _, v1, v2, v3 = planned
    proc = assert_ok(trust_verify(v1, v2, v3))
    assert proc.stdout.count(": OK, version") == 2


def test_skipping_a_version_is_refused(planned):
    _, v1, _, v3 = planned
    assert_failure(trust_verify(v1, v3), v3, "version 3", "does not follow")


def test_replaying_an_older_update_is_refused(planned):
    _, _, v2, v3 = planned
    assert_failure(trust_verify(v3, v2), v2, "version 2")
    assert_failure(trust_verify(v2, v2), v2, "version 2")


def test_an_unsigned_update_is_refused(rpki, planned, tmp_path):
    _, v1, _, _ = planned
    bare = create(tmp_path / "v2.doc", 2, "--anchor", f"default:{rpki.app_new_root}")
    assert_failure(trust_verify(v1, bare), bare, "not signed")


def test_a_tampered_update_is_refused(planned, tmp_path):
    _, v1, v2, _ = planned
    bad = tmp_path / "v2.trust"
    data = bytearray(v2.read_bytes())
    at_ = data.index(b"version=2")
    data[at_ + len("version=")] = ord("3")
    bad.write_bytes(bytes(data))
    assert_failure(trust_verify(v1, bad), bad)


# --- tiers rotate independently -----------------------------------------------------------


@pytest.fixture(scope="module")
def tiered(rpki, tmp_path_factory):
    """v1: the application key in "default", the officers (2 of 3) in
    "bootloader"."""
    d = tmp_path_factory.mktemp("tiered")
    v1 = create(d / "v1.trust", 1, "--tier", "bootloader:2",
                "--anchor", f"default:{rpki.app_old_root}",
                "--anchor", f"bootloader:{rpki.officer_root}")
    return d, v1


def test_rotating_the_application_tier_needs_no_bootloader_officer(rpki, tiered, tmp_path):
    _, v1 = tiered
    v2 = create(tmp_path / "v2.trust", 2, "--tier", "bootloader:2",
                "--anchor", f"default:{rpki.app_old_root}",
                "--anchor", f"default:{rpki.app_new_root}",
                "--anchor", f"bootloader:{rpki.officer_root}", *rpki.app_old.args())
    assert_ok(trust_verify(v1, v2))


def test_the_application_key_cannot_change_the_bootloader_tier(rpki, tiered, tmp_path):
    _, v1 = tiered
    v2 = create(tmp_path / "v2.trust", 2, "--tier", "bootloader:1",
                "--anchor", f"default:{rpki.app_old_root}",
                "--anchor", f"bootloader:{rpki.officer_root}", *rpki.app_old.args())
    assert_failure(trust_verify(v1, v2), v2, "bootloader", "0 of 2")


def test_changing_the_bootloader_tier_needs_its_own_threshold(rpki, tiered, tmp_path):
    _, v1 = tiered
    args = ["--tier", "bootloader:2", "--anchor", f"default:{rpki.app_old_root}",
            "--anchor", f"bootloader:{rpki.officer_root}", "--revoke", f"bootloader:{rpki.carol.cert}"]
    one = create(tmp_path / "one.trust", 2, *args, *rpki.alice.args())
    assert_failure(trust_verify(v1, one), one, "bootloader", "1 of 2")
    two = create(tmp_path / "two.trust", 2, *args, *rpki.alice.args(), *rpki.bob.args())
    assert_ok(trust_verify(v1, two))


# --- emergency: a leaked officer key revoked by the others ---------------------------------


@pytest.fixture(scope="module")
def emergency(rpki, tmp_path_factory):
    """v1: the default tier trusts the officers at 2 of 3; Carol's key
    leaks, and v2, signed by Alice and Bob, revokes it."""
    d = tmp_path_factory.mktemp("emergency")
    args = ["--tier", "default:2", "--anchor", f"default:{rpki.officer_root}"]
    v1 = create(d / "v1.trust", 1, *args)
    v2 = create(d / "v2.trust", 2, *args, "--revoke", rpki.carol.cert, *rpki.alice.args(),
                *rpki.bob.args())
    return d, v1, v2, args


def test_remaining_officers_revoke_a_leaked_key(emergency):
    _, v1, v2, _ = emergency
    assert_ok(trust_verify(v1, v2))


def test_one_officer_alone_cannot_revoke(rpki, emergency, tmp_path):
    _, v1, _, args = emergency
    alone = create(tmp_path / "v2.trust", 2, *args, "--revoke", rpki.carol.cert,
                   *rpki.alice.args())
    assert_failure(trust_verify(v1, alone), alone, "default", "1 of 2")


def test_a_bundle_the_leaked_key_signs_is_refused_after_the_revocation(emergency, bundles):
    _, v1, v2, _ = emergency
    bundle = bundles["alice+carol"]
    assert_ok(run("verify", "--trust", v1, bundle))
    assert_failure(run("verify", "--trust", v2, bundle), bundle, "1 of 2", "CN=carol",
                   "revoked by trust list version 2")
    doc = json.loads(run("verify", "--trust", v2, "--output-format=json", bundle).stdout)
    assert sorted(s["status"] for s in doc["signers"]) == ["counted", "revoked"]
    assert_ok(run("verify", "--trust", v2, bundles["alice+bob"]))


# --- verify --trust: a bundle as a device holding the list sees it --------------------------


def test_during_the_overlap_bundles_of_either_key_verify(planned, bundles):
    _, _, v2, _ = planned
    for name in ("app-old", "app-new"):
        proc = assert_ok(run("verify", "--trust", v2, bundles[name]))
        assert "OK (verity, 1 trusted signer)" in proc.stdout


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime not installed")
def test_after_the_overlap_only_the_new_key_verifies(planned, bundles):
    _, _, v2, _ = planned
    later = OVERLAP_END + datetime.timedelta(days=2)
    assert at(later, "verify", "--trust", v2, bundles["app-new"]).returncode == 0
    assert_failure(at(later, "verify", "--trust", v2, bundles["app-old"]), bundles["app-old"])


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime not installed")
def test_an_anchor_is_trusted_only_once_its_window_opens(rpki, bundles, tmp_path):
    opens = NOW + datetime.timedelta(days=10)
    trust = create(tmp_path / "t.trust", 1, "--anchor", f"default:{rpki.app_old_root}",
                   "--anchor", f"default:{rpki.app_new_root}:{rfc3339(opens)}")
    assert_failure(run("verify", "--trust", trust, bundles["app-new"]), bundles["app-new"])
    later = opens + datetime.timedelta(days=1)
    assert at(later, "verify", "--trust", trust, bundles["app-new"]).returncode == 0


def test_after_the_rotation_the_old_key_no_longer_verifies(planned, bundles):
    _, v1, _, v3 = planned
    assert_ok(run("verify", "--trust", v1, bundles["app-old"]))
    assert_failure(run("verify", "--trust", v1, bundles["app-new"]), bundles["app-new"])
    assert_ok(run("verify", "--trust", v3, bundles["app-new"]))
    assert_failure(run("verify", "--trust", v3, bundles["app-old"]), bundles["app-old"])


def test_verify_trust_with_a_tier_needs_that_tier_too(tiered, bundles):
    _, v1 = tiered
    assert_ok(run("verify", "--trust", v1, bundles["app-old"]))
    assert_failure(run("verify", "--trust", v1, "--tier", "bootloader", bundles["app-old"]),
                   bundles["app-old"], "tier 'bootloader'", "0 of 2")
    assert_ok(run("verify", "--trust", v1, "--tier", "bootloader",
                  bundles["app-old+alice+bob"]))


def test_verify_trust_asks_every_tier_of_a_bundle_with_hooks(rpki, tiered, tmp_path):
    """As a device does: a hook runs as root and could write any slot."""
    _, v1 = tiered
    make_input(tmp_path / "in", extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    (tmp_path / "in" / "hook.sh").write_text("#!/bin/sh\nexit 0\n")
    bundle = tmp_path / "hooks.raucb"
    assert_ok(run("create", *rpki.app_old.args(), tmp_path / "in", bundle))
    assert_failure(run("verify", "--trust", v1, bundle), bundle, "tier 'bootloader'",
                   "a bundle with hooks")
    signed = tmp_path / "hooks-officers.raucb"
    assert_ok(run("sign", *rpki.alice.args(), *rpki.bob.args(), bundle, signed))
    assert_ok(run("verify", "--trust", v1, signed))


def test_verify_trust_json_is_the_verify_document(planned, bundles):
    _, _, v2, _ = planned
    doc = validate_json_document(json.loads(assert_ok(run(
        "verify", "--trust", v2, "--output-format=json", bundles["app-new"])).stdout))
    assert doc["verified"] is True and doc["threshold"] == 1


def test_verify_trust_of_an_unknown_tier_fails_naming_it(tiered, bundles):
    _, v1 = tiered
    assert_failure(run("verify", "--trust", v1, "--tier", "recovery", bundles["app-old"]), v1,
                   "no tier 'recovery'")


def test_verify_trust_replaces_the_keyring_options(planned, bundles, rpki):
    _, v1, _, _ = planned
    assert_usage(run("verify", "--trust", v1, "--keyring", rpki.app_old_root, bundles["app-old"]))
    assert_usage(run("verify", "--tier", "bootloader", "--keyring", rpki.app_old_root,
                     bundles["app-old"]))


# --- bad input: one line, exit 1, nothing written ------------------------------------------


def test_create_with_an_anchor_that_is_no_certificate_writes_nothing(tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(os.urandom(300))
    out = tmp_path / "v1.trust"
    assert_failure(run("trust", "create", "--version", "1", "--anchor", f"default:{garbage}",
                       out), garbage)
    assert not out.exists()


def test_create_without_a_default_tier_writes_nothing(rpki, tmp_path):
    out = tmp_path / "v1.trust"
    assert_failure(run("trust", "create", "--version", "1", "--anchor",
                       f"bootloader:{rpki.officer_root}", out), out, "default")
    assert not out.exists()


def test_create_does_not_overwrite_without_force(rpki, tmp_path):
    out = tmp_path / "v1.trust"
    out.write_text("keep")
    args = ["trust", "create", "--version", "1", "--anchor", f"default:{rpki.app_old_root}"]
    assert_failure(run(*args, out), out, "already exists")
    assert out.read_text() == "keep"
    assert_ok(run(*args, "--force", out))


@pytest.mark.parametrize("args", [
    [],                                                           # no --version
    ["--version", "1"],                                           # no anchor
    ["--version", "1", "--anchor", "default"],                    # no PEM
    ["--version", "1", "--anchor", "default:r.pem", "--tier", "default"],
    ["--version", "1", "--anchor", "default:r.pem", "--tier", "default:0"],
    ["--version", "1", "--anchor", "default:r.pem", "--tier", "default:1:sometimes"],
    ["--version", "1", "--anchor", "default:r.pem", "--audit-log", "a.log"],  # no signer
], ids=["no-version", "no-anchor", "no-pem", "no-threshold", "zero-threshold", "bad-purpose",
        "audit-without-signer"])
def test_create_usage_errors_exit_2_and_write_nothing(tmp_path, args):
    out = tmp_path / "v1.trust"
    assert_usage(run("trust", "create", *args, out, cwd=tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_sign_of_a_file_that_is_no_trust_list_writes_nothing(rpki, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a trust list\n")
    out = tmp_path / "out.trust"
    assert_failure(run("trust", "sign", *rpki.alice.args(), notes, out), notes)
    assert not out.exists()


def test_sign_of_a_tampered_trust_list_writes_nothing(rpki, tmp_path):
    trust = create(tmp_path / "a.trust", 1, "--anchor", f"default:{rpki.officer_root}",
                   *rpki.alice.args())
    data = bytearray(trust.read_bytes())
    i = data.index(b"threshold=1")
    data[i + len("threshold=")] = ord("2")
    trust.write_bytes(bytes(data))
    out = tmp_path / "ab.trust"
    assert_failure(run("trust", "sign", *rpki.bob.args(), trust, out), trust)
    assert not out.exists()


def test_merge_of_a_file_that_is_no_signature_writes_nothing(rpki, tmp_path):
    doc = create(tmp_path / "v1.doc", 1, "--anchor", f"default:{rpki.officer_root}")
    junk = tmp_path / "junk.cms"
    junk.write_bytes(os.urandom(200))
    out = tmp_path / "v1.trust"
    assert_failure(run("trust", "merge", doc, out, junk), junk)
    assert not out.exists()


def test_unknown_trust_command_is_a_usage_error():
    assert_usage(run("trust", "rotate"))
    assert_usage(run("trust"))


def test_trust_help_lists_its_commands():
    out = assert_ok(run("trust", "--help")).stdout
    for command in ("create", "sign", "merge", "show", "verify"):
        assert f"\n  {command} " in out


def test_verify_trust_json_names_a_tier_the_list_lacks_trust_invalid(planned, bundles):
    _, v1, _, _ = planned
    proc = run("verify", "--trust", v1, "--tier", "nonesuch", "--output-format=json",
               bundles["app-old"])
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "trust-invalid"


def test_trust_verify_of_a_skipped_version_is_refused_naming_both_versions(planned):
    _, v1, _, v3 = planned
    proc = run("trust", "verify", "--trust", v1, v3)
    assert proc.returncode == 1 and "does not follow the current 1" in proc.stderr
