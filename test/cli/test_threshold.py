# SPDX-License-Identifier: LGPL-2.1-or-later
"""N-of-M threshold verification: `verify --threshold N` counts distinct
trusted signer keys and reports every signer's status."""
import json

import pytest

from conftest import assert_failure, assert_ok, assert_usage, make_input, run

FORMATS = ["verity", "plain"]


def multi_signer_bundle(pki, tmp_path, fmt, *leaves, no_check_time=False):
    make_input(tmp_path / "in")
    args = ["create", f"--format={fmt}"]
    for leaf in leaves:
        args += ["--cert", pki.leaves[leaf].cert, "--key", pki.leaves[leaf].key]
    args += ["--intermediate", pki.intermediate]
    if no_check_time:
        args.append("--no-check-time")
    bundle = tmp_path / "multi.raucb"
    assert_ok(run(*args, tmp_path / "in", bundle))
    return bundle


def verify_json(pki, bundle, *extra):
    proc = run("verify", "--keyring", pki.root, "--output-format=json", *extra, bundle)
    return proc, json.loads(proc.stdout)


def statuses(result):
    return {s["subject"]: s["status"] for s in result["signers"]}


def status_of(result, cn):
    """The status of the one signer whose subject has CN=@cn."""
    found = [s["status"] for s in result["signers"] if f"CN={cn}" in s["subject"]]
    assert len(found) == 1, result["signers"]
    return found[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_distinct_trusted_keys_meet_threshold_two(pki, tmp_path, fmt):
    bundle = multi_signer_bundle(pki, tmp_path, fmt, "ec256", "rsa2048")
    proc, result = verify_json(pki, bundle, "--threshold", "2")
    assert_ok(proc)
    assert result["trusted_signers"] == 2
    assert set(statuses(result).values()) == {"counted"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_signers_do_not_meet_threshold_three(pki, tmp_path, fmt):
    bundle = multi_signer_bundle(pki, tmp_path, fmt, "ec256", "rsa2048")
    proc = run("verify", "--keyring", pki.root, "--threshold", "3", bundle)
    assert_failure(proc, bundle, "2 of 3")


def test_one_signer_does_not_meet_threshold_two(pki, tmp_path):
    bundle = multi_signer_bundle(pki, tmp_path, "verity", "ec256")
    proc = run("verify", "--keyring", pki.root, "--threshold", "2", bundle)
    assert_failure(proc, bundle, "1 of 2")


def test_info_applies_the_threshold_too(pki, tmp_path):
    bundle = multi_signer_bundle(pki, tmp_path, "verity", "ec256")
    proc = run("info", "--keyring", pki.root, "--threshold", "2", bundle)
    assert_failure(proc, bundle, "1 of 2")


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threshold_below_one_or_not_a_number_is_wrong_usage(pki, good_bundle, value):
    bundle, _, _ = good_bundle
    assert_usage(run("verify", "--keyring", pki.root, "--threshold", value, bundle))


@pytest.mark.parametrize("fmt", FORMATS)
def test_expired_signer_is_reported_expired_and_not_counted(pki, tmp_path, fmt):
    bundle = multi_signer_bundle(pki, tmp_path, fmt, "ec256", "expired", no_check_time=True)
    proc, result = verify_json(pki, bundle)
    assert_ok(proc)
    assert result["trusted_signers"] == 1
    assert status_of(result, "signer expired") == "expired"
    assert status_of(result, "signer ec256") == "counted"
    proc = run("verify", "--keyring", pki.root, "--threshold", "2", bundle)
    assert_failure(proc, bundle, "1 of 2", "expired")


@pytest.mark.parametrize("fmt", FORMATS)
def test_revoked_signer_is_reported_revoked_and_not_counted(pki, tmp_path, fmt):
    bundle = multi_signer_bundle(pki, tmp_path, fmt, "ec256", "revoked")
    proc, result = verify_json(pki, bundle, "--crl", pki.crl)
    assert_ok(proc)
    assert status_of(result, "signer revoked") == "revoked"
    assert result["trusted_signers"] == 1


def test_signer_from_another_ca_is_reported_untrusted_and_not_counted(pki, tmp_path):
    bundle = multi_signer_bundle(pki, tmp_path, "verity", "ec256", "other")
    proc, result = verify_json(pki, bundle)
    assert_ok(proc)
    assert result["trusted_signers"] == 1
    assert "untrusted" in statuses(result).values()


def test_text_output_lists_every_signer_with_its_status(pki, tmp_path):
    bundle = multi_signer_bundle(pki, tmp_path, "verity", "ec256", "expired", no_check_time=True)
    proc = assert_ok(run("info", "--keyring", pki.root, bundle))
    assert "status:      counted" in proc.stdout
    assert "status:      expired" in proc.stdout
