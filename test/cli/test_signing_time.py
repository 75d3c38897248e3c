# SPDX-License-Identifier: LGPL-2.1-or-later
"""[keyring] use-bundle-signing-time=true (RAUC's, for devices without a
trustworthy clock) and `otabundle verify --use-signing-time`: each
signer's certificate chain is checked at its CMS signingTime instead of
now; revocation is still checked, with CRLs judged now.

Honest expiry without waiting: a PKI whose root dates from 2019 and whose
signer was valid through 2020 only, and bundles signed by the real
`otabundle create` under libfaketime (Debian's faketime), so that their
signingTime (which OpenSSL sets from the clock) lies in 2020. The
certificates are long expired when the tests run, as on a device whose
bundle outlived its signer's certificate."""
import os
import shutil
from pathlib import Path

import pytest

from conftest import OPENSSL_CNF, OTABUNDLE, assert_ok, run, run_tool, write_manifest
from test_install import COMPATIBLE, assert_refused, make_device

pytestmark = pytest.mark.skipif(shutil.which("faketime") is None,
                                reason="faketime (libfaketime) not installed")

VALID_FROM, VALID_TO = "20200101000000Z", "20210101000000Z"
WHILE_VALID = "2020-06-01 12:00:00"
BEFORE_VALID = "2019-06-01 12:00:00"
OPTION = "use-bundle-signing-time=true"


def at(when, *cmd, **kwargs):
    """Runs @cmd with the clock at @when. LD_PRELOADing libfaketime into an
    ASan build needs ASan told not to insist on coming first."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":"))
    return run_tool("faketime", when, *cmd, env=env, **kwargs)


@pytest.fixture(scope="module")
def past(tmp_path_factory):
    """root.pem (2019 for a century), the leaves `signer` and `revoked`
    (valid 2020 only; `revoked` is revoked by crl.pem, issued now),
    ring.pem (root and CRL, for RAUC's check-crl=true), and the bundles:
    `then` and `revoked_then` signed in 2020, `after` signed now (after the
    signer expired), `before` signed in 2019 (before it was valid)."""
    d = tmp_path_factory.mktemp("past-pki")
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF.format(dir=d))
    (d / "root-ca" / "newcerts").mkdir(parents=True)
    (d / "root-ca" / "index.txt").write_text("")
    for name in ("serial", "crlnumber"):
        (d / "root-ca" / name).write_text("1000\n")
    at("2019-01-01 00:00:00", "openssl", "req", "-config", cnf, "-x509", "-newkey", "ec",
       "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "root.key",
       "-out", d / "root.pem", "-subj", "/CN=otabundle past root CA", "-days", "36500",
       "-extensions", "v3_root")
    for name in ("signer", "revoked"):
        run_tool("openssl", "req", "-config", cnf, "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / f"{name}.key",
                 "-out", d / f"{name}.csr", "-subj", f"/CN=past {name}")
        run_tool("openssl", "ca", "-config", cnf, "-name", "root_ca", "-batch", "-notext",
                 "-extensions", "v3_leaf", "-in", d / f"{name}.csr", "-out", d / f"{name}.pem",
                 "-startdate", VALID_FROM, "-enddate", VALID_TO)
    run_tool("openssl", "ca", "-config", cnf, "-name", "root_ca", "-revoke", d / "revoked.pem",
             "-crl_reason", "keyCompromise")
    run_tool("openssl", "ca", "-config", cnf, "-name", "root_ca", "-gencrl",
             "-out", d / "crl.pem")
    (d / "ring.pem").write_text((d / "root.pem").read_text() + (d / "crl.pem").read_text())

    def bundle(name, signer, when, *extra):
        inputdir = d / f"{name}.in"
        inputdir.mkdir()
        (inputdir / "rootfs.img").write_bytes(os.urandom(9000))
        write_manifest(inputdir, {"rootfs": "rootfs.img"}, compatible=COMPATIBLE,
                       version="1.0.0")
        out = d / f"{name}.raucb"
        cmd = [OTABUNDLE, "create", "--cert", d / f"{signer}.pem", "--key",
               d / f"{signer}.key", *extra, inputdir, out]
        if when is None:
            run_tool(*cmd)
        else:
            at(when, *cmd)
        return out

    bundles = {
        "then": bundle("then", "signer", WHILE_VALID),
        "revoked_then": bundle("revoked-then", "revoked", WHILE_VALID),
        "after": bundle("after", "signer", None, "--no-check-time"),
        "before": bundle("before", "signer", BEFORE_VALID, "--no-check-time"),
    }
    return d, bundles


def device(tmp_path, past, keyring_extra=OPTION, keyring="root.pem"):
    d, _ = past
    return make_device(tmp_path, d / keyring, keyring_extra=keyring_extra)


# --- the device -----------------------------------------------------------------------------


def test_a_bundle_whose_signer_expired_since_is_refused_without_the_option(past, tmp_path):
    bundle = past[1]["then"]
    dev = device(tmp_path, past, keyring_extra="")
    assert_refused(dev.install(bundle), "certificate has expired", path=bundle)


def test_a_signer_valid_at_its_signing_time_installs_with_the_option(past, tmp_path):
    dev = device(tmp_path, past)
    assert_ok(dev.install(past[1]["then"]))


def test_the_option_set_to_false_checks_at_the_current_time(past, tmp_path):
    bundle = past[1]["then"]
    dev = device(tmp_path, past, keyring_extra="use-bundle-signing-time=false")
    assert_refused(dev.install(bundle), "certificate has expired", path=bundle)


def test_a_signature_made_after_the_certificate_expired_is_refused(past, tmp_path):
    """Signed now (create --no-check-time): the signingTime is past the
    certificate's end, so the option gains it nothing."""
    bundle = past[1]["after"]
    dev = device(tmp_path, past)
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "certificate has expired at the signing time",
                   path=bundle)
    assert dev.snapshot() == before


def test_a_signature_dated_before_the_certificate_was_valid_is_refused(past, tmp_path):
    bundle = past[1]["before"]
    dev = device(tmp_path, past)
    # libfaketime starts the clock at BEFORE_VALID and lets it run: the
    # signing time is that day, seconds later on a slow (sanitizer) build.
    assert_refused(dev.install(bundle), "certificate is not yet valid at the signing time "
                   "2019-06-01T12:", path=bundle)


def test_a_signer_revoked_after_it_signed_is_refused(past, tmp_path):
    """The risk of the option: whoever holds an expired key can date a
    signature back into its validity. Only revocation stops that, so the
    CRL still applies, and is judged now."""
    bundle = past[1]["revoked_then"]
    dev = device(tmp_path, past, keyring_extra=f"{OPTION}\ncheck-crl=true", keyring="ring.pem")
    before = dev.snapshot()
    assert_refused(dev.install(bundle), "certificate revoked", path=bundle)
    assert dev.snapshot() == before


def test_a_crl_issued_after_the_signature_does_not_refuse_a_good_signer(past, tmp_path):
    """At the signing time the CRL was "not yet valid"; it is judged at the
    current time. (Debian's rauc 1.8 checks the CRL at the signing time too
    and so refuses every bundle with check-crl=true and this option; see
    test_rauc_refuses_with_a_crl_newer_than_the_signature.)"""
    dev = device(tmp_path, past, keyring_extra=f"{OPTION}\ncheck-crl=true", keyring="ring.pem")
    assert_ok(dev.install(past[1]["then"]))


@pytest.mark.parametrize("tier_option, accepted", [("", False), (OPTION, True)])
def test_a_signing_tier_takes_the_option_of_its_own(past, tmp_path, tier_option, accepted):
    """[policy.<name>] has its own setting, as each has its own keyring: a
    tier checked at the current time refuses what [keyring] accepts."""
    d, bundles = past
    dev = make_device(tmp_path, d / "root.pem", keyring_extra=OPTION,
                      class_extra={"rootfs": "policy=boot"},
                      extra=f"[policy.boot]\npath={d / 'root.pem'}\n{tier_option}")
    proc = dev.install(bundles["then"])
    if accepted:
        assert_ok(proc)
    else:
        assert_refused(proc, "policy 'boot'", "certificate has expired", path=bundles["then"])


# --- the host tools ---------------------------------------------------------------------------


def test_verify_use_signing_time_accepts_what_verify_refuses(past):
    d, bundles = past
    proc = run("verify", "--keyring", d / "root.pem", bundles["then"])
    assert proc.returncode == 1 and "certificate has expired" in proc.stderr, proc.stderr
    assert_ok(run("verify", "--keyring", d / "root.pem", "--use-signing-time", bundles["then"]))


def test_verify_use_signing_time_still_checks_the_crl(past):
    d, bundles = past
    proc = run("verify", "--keyring", d / "root.pem", "--crl", d / "crl.pem",
               "--use-signing-time", bundles["revoked_then"])
    assert proc.returncode == 1 and "certificate revoked" in proc.stderr, proc.stderr


def test_use_signing_time_without_a_keyring_is_wrong_usage(past, tmp_path):
    d, bundles = past
    proc = run("resign", "--use-signing-time", "--no-verify", "--cert", d / "signer.pem",
               "--key", d / "signer.key", bundles["then"], tmp_path / "out.raucb")
    assert proc.returncode == 2, proc.stderr
    assert "--use-signing-time need" in proc.stderr


def host_conf(tmp_path, past, option=OPTION):
    d, _ = past
    conf = tmp_path / "system.conf"
    conf.write_text(f"[system]\ncompatible={COMPATIBLE}\nbootloader=noop\n\n"
                    f"[keyring]\npath={d / 'root.pem'}\n{option}\n")
    return conf


def test_rauc_drop_in_applies_the_option_of_its_system_conf(past, tmp_path):
    link = tmp_path / "bin" / "rauc"
    link.parent.mkdir()
    link.symlink_to(Path(OTABUNDLE).resolve())
    bundle = past[1]["then"]
    assert_ok(run("-c", host_conf(tmp_path, past), "info", bundle, binary=link))
    proc = run("-c", host_conf(tmp_path, past, option=""), "info", bundle, binary=link)
    assert proc.returncode == 1 and "certificate has expired" in proc.stderr, proc.stderr


# --- Debian's rauc 1.8, the reference -------------------------------------------------------

needs_rauc = pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")


def real_rauc_info(conf, bundle):
    return run_tool("rauc", "-c", conf, "info", bundle, check=False)


@needs_rauc
@pytest.mark.parametrize("name, accepted", [("then", True), ("after", False),
                                            ("before", False)])
def test_rauc_decides_as_otabundle_install_with_the_option(past, tmp_path, name, accepted):
    proc = real_rauc_info(host_conf(tmp_path, past), past[1][name])
    assert (proc.returncode == 0) == accepted, proc.stdout + proc.stderr


@needs_rauc
def test_rauc_refuses_an_expired_signer_without_the_option(past, tmp_path):
    proc = real_rauc_info(host_conf(tmp_path, past, option=""), past[1]["then"])
    assert proc.returncode != 0 and "certificate has expired" in proc.stderr, proc.stderr


@needs_rauc
def test_rauc_refuses_with_a_crl_newer_than_the_signature(past, tmp_path):
    """Where otabundle deliberately differs (otabundle-system.conf(5)): rauc
    checks the CRL's own dates at the signing time too, so a CRL issued
    since (as every CRL that matters is) makes it refuse a good signer."""
    d, bundles = past
    conf = tmp_path / "system.conf"
    conf.write_text(f"[system]\ncompatible={COMPATIBLE}\nbootloader=noop\n\n"
                    f"[keyring]\npath={d / 'ring.pem'}\ncheck-crl=true\n{OPTION}\n")
    proc = real_rauc_info(conf, bundles["then"])
    assert proc.returncode != 0 and "CRL is not yet valid" in proc.stderr, proc.stderr
