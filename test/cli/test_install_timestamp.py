# SPDX-License-Identifier: LGPL-2.1-or-later
"""Devices without a trustworthy clock: system.conf's [keyring]
check-time= and tsa-keyring= on otabundle-install, and the state's
not-before time (the newest trusted RFC 3161 time of a bundle installed
here, which has certainly passed).

The TSA is test_timestamp.py's real one (`openssl ts -reply` behind
lighttpd, the session fixture `tsa`); its short-lived PKI gives a signer
whose certificate is valid from yesterday to tomorrow. The device's clock
is moved with libfaketime, as test_timestamp.py moves the host's."""
import datetime
import os
import shutil

import pytest

from conftest import assert_ok, run_tool
from test_install import (COMPATIBLE, OTABUNDLE_INSTALL, assert_refused, make_bundle,  # noqa: F401
                          make_device)
from test_timestamp import NOW, OPENSSL_CNF, at, short_lived  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("faketime") is None,
                                reason="faketime (libfaketime) not installed")

LATER = NOW + datetime.timedelta(days=30)


def brief_signer(short_lived):
    d, _ = short_lived
    return ["--cert", d / "brief.pem", "--key", d / "brief.key"]


def stamped_bundle(short_lived, tsa, d, version="2.0", meta=None, name=None):
    return make_bundle(None, d, version=version, meta=meta, name=name,
                       sign=brief_signer(short_lived),
                       create_args=("--timestamp-url", tsa.url()))


def device(tmp_path, short_lived, keyring_extra):
    d, _ = short_lived
    return make_device(tmp_path, d / "root.pem", keyring_extra=keyring_extra)


def install_at(when, dev, bundle, boot="A"):
    return at(when, OTABUNDLE_INSTALL, "--conf", dev.conf, "--override-boot-slot", boot,
              "install", bundle)


def not_before(dev):
    line = next(line for line in dev.state_file.read_text().splitlines()
                if line.startswith("not-before="))
    return datetime.datetime.fromisoformat(line.split("=", 1)[1].replace("Z", "+00:00"))


def test_timestamp_mode_installs_a_bundle_whose_signer_expired_since(short_lived, tsa,
                                                                   tmp_path):
    dev = device(tmp_path, short_lived, f"check-time=timestamp\ntsa-keyring={tsa.root}")
    proc = install_at(LATER, dev, stamped_bundle(short_lived, tsa, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert dev.primary() == "B"


def test_timestamp_mode_refuses_a_bundle_without_a_token(short_lived, tsa, tmp_path):
    dev = device(tmp_path, short_lived, f"check-time=timestamp\ntsa-keyring={tsa.root}")
    bundle = make_bundle(None, tmp_path, sign=brief_signer(short_lived))
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "no trusted timestamp")
    assert dev.snapshot() == before


def test_device_mode_refuses_the_expired_signer_without_a_tsa_keyring(short_lived, tsa,
                                                                    tmp_path):
    dev = device(tmp_path, short_lived, "")
    proc = install_at(LATER, dev, stamped_bundle(short_lived, tsa, tmp_path))
    assert proc.returncode == 1 and "expired" in proc.stderr, proc.stderr


def test_device_mode_with_a_tsa_keyring_trusts_the_token(short_lived, tsa, tmp_path):
    dev = device(tmp_path, short_lived, f"tsa-keyring={tsa.root}")
    proc = install_at(LATER, dev, stamped_bundle(short_lived, tsa, tmp_path))
    assert proc.returncode == 0, proc.stderr


def test_install_records_the_tokens_time_as_not_before(short_lived, tsa, tmp_path):
    dev = device(tmp_path, short_lived, f"tsa-keyring={tsa.root}")
    assert_ok(dev.install(stamped_bundle(short_lived, tsa, tmp_path)))
    assert abs(not_before(dev) - NOW) < datetime.timedelta(days=1)
    status = dev.status()["not_before"]
    assert status == not_before(dev).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_token_outside_the_tsa_keyring_sets_no_not_before(short_lived, tsa, tmp_path):
    dev = device(tmp_path, short_lived, "")
    assert_ok(dev.install(stamped_bundle(short_lived, tsa, tmp_path)))
    assert "not-before=" not in dev.state_file.read_text()


@pytest.fixture(scope="module")
def old_pki(tmp_path_factory):
    """A root CA made twenty days ago (under libfaketime), so that a clock
    set back still finds it valid, and two leaves: `long`, valid from then
    on, and `ended`, valid from ten days ago until yesterday."""
    d = tmp_path_factory.mktemp("old-pki")
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF.format(dir=d))
    (d / "root-ca" / "newcerts").mkdir(parents=True)
    (d / "root-ca" / "index.txt").write_text("")
    (d / "root-ca" / "serial").write_text("1000\n")
    proc = at(NOW - datetime.timedelta(days=20), "openssl", "req", "-config", cnf, "-x509",
              "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
              d / "root.key", "-out", d / "root.pem", "-subj", "/CN=otabundle old root CA",
              "-days", "3650", "-extensions", "v3_root")
    assert proc.returncode == 0, proc.stderr
    signers = {}
    for name, (first, last) in {"long": (20, -3650), "ended": (10, 1)}.items():
        run_tool("openssl", "req", "-config", cnf, "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / f"{name}.key", "-out",
                 d / f"{name}.csr", "-subj", f"/CN=old {name}")
        start, end = (NOW - datetime.timedelta(days=n) for n in (first, last))
        run_tool("openssl", "ca", "-config", cnf, "-name", "root_ca", "-batch", "-notext",
                 "-extensions", "v3_leaf", "-in", d / f"{name}.csr", "-out",
                 d / f"{name}.pem", "-startdate", start.strftime("%Y%m%d%H%M%SZ"),
                 "-enddate", end.strftime("%Y%m%d%H%M%SZ"))
        signers[name] = ["--cert", d / f"{name}.pem", "--key", d / f"{name}.key"]
    return d / "root.pem", signers


def device_that_saw_now(tmp_path, old_pki, tsa):
    """A device trusting old_pki that installed (and committed) a bundle
    stamped now: its not-before is now."""
    root, signers = old_pki
    dev = make_device(tmp_path, root, keyring_extra=f"tsa-keyring={tsa.root}")
    first = make_bundle(None, tmp_path, name="first", sign=signers["long"],
                        create_args=("--timestamp-url", tsa.url()))
    assert_ok(dev.install(first))
    assert_ok(dev.run("mark-good", boot="B"))
    return dev


def expired_bundle(tmp_path, old_pki):
    expires = (NOW - datetime.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return make_bundle(None, tmp_path, version="3.0", meta={"expires": expires},
                       sign=old_pki[1]["long"], name="expired")


def ended_signer_bundle(tmp_path, old_pki):
    return make_bundle(None, tmp_path, version="3.0", name="ended", sign=old_pki[1]["ended"],
                       create_args=("--no-check-time",))


TEN_DAYS_AGO = NOW - datetime.timedelta(days=10)
THREE_DAYS_AGO = NOW - datetime.timedelta(days=3)


def test_a_clock_set_back_does_not_revive_an_expired_bundle(old_pki, tsa, tmp_path):
    # Its clock says ten days ago; the bundle expired five days ago, which
    # the device knows has passed.
    dev = device_that_saw_now(tmp_path, old_pki, tsa)
    proc = install_at(TEN_DAYS_AGO, dev, expired_bundle(tmp_path, old_pki), boot="B")
    assert proc.returncode == 1 and "bundle expired at" in proc.stderr, proc.stderr


def test_without_a_not_before_the_clock_alone_decides_expiry(old_pki, tsa, tmp_path):
    root, _ = old_pki
    dev = make_device(tmp_path, root, keyring_extra=f"tsa-keyring={tsa.root}")
    proc = install_at(TEN_DAYS_AGO, dev, expired_bundle(tmp_path, old_pki))
    assert proc.returncode == 0, proc.stderr


def test_a_clock_set_back_does_not_make_a_certificate_valid_again(old_pki, tsa, tmp_path):
    # The signer was valid from ten days ago until yesterday; the clock says
    # three days ago, inside that validity, but the device knows better.
    dev = device_that_saw_now(tmp_path, old_pki, tsa)
    proc = install_at(THREE_DAYS_AGO, dev, ended_signer_bundle(tmp_path, old_pki), boot="B")
    assert proc.returncode == 1 and "expired" in proc.stderr, proc.stderr


def test_without_a_not_before_the_clock_alone_decides_validity(old_pki, tsa, tmp_path):
    root, _ = old_pki
    dev = make_device(tmp_path, root, keyring_extra=f"tsa-keyring={tsa.root}")
    proc = install_at(THREE_DAYS_AGO, dev, ended_signer_bundle(tmp_path, old_pki))
    assert proc.returncode == 0, proc.stderr


def test_check_config_shows_the_time_check_and_tsa_keyring(short_lived, tsa, tmp_path):
    dev = device(tmp_path, short_lived, f"check-time=timestamp\ntsa-keyring={tsa.root}")
    proc = assert_ok(dev.run("check-config", boot=None))
    assert f"check-time timestamp, TSA keyring {tsa.root}" in proc.stdout
