# SPDX-License-Identifier: LGPL-2.1-or-later
"""Promotion from development to release keys without touching the payload:
resign, extract-signature, replace-signature."""
import os
import signal
import subprocess
import time

import pytest

from conftest import (OTABUNDLE, assert_failure, assert_ok, assert_usage, bundle_trailer,
                      make_input, run, sha256_file)

FORMATS = ["verity", "plain"]


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """A release PKI independent of the development one (conftest's pki)."""
    d = tmp_path_factory.mktemp("release-pki")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "release.key",
                    "-out", d / "release.pem", "-subj", "/CN=release signer", "-days", "30",
                    "-addext", "keyUsage=critical,digitalSignature"],
                   check=True, capture_output=True)
    return d


def signer_args(release):
    return ["--cert", release / "release.pem", "--key", release / "release.key"]


@pytest.fixture(params=FORMATS)
def devel_bundle(request, pki, tmp_path):
    make_input(tmp_path / "in")
    path = tmp_path / f"devel-{request.param}.raucb"
    assert_ok(run("create", f"--format={request.param}", *pki.sign_args(), tmp_path / "in", path))
    return path


def payload(path):
    size, cms = bundle_trailer(path)
    return path.read_bytes()[:size - 8 - cms]


def rauc_info(keyring, bundle):
    return subprocess.run(["rauc", "info", "--keyring", str(keyring), str(bundle)],
                          capture_output=True, text=True)


def test_resigned_bundle_is_trusted_by_the_release_keyring_only(pki, release, devel_bundle,
                                                                tmp_path):
    out = tmp_path / "release.raucb"
    assert_failure(run("verify", "--keyring", release / "release.pem", devel_bundle),
                   devel_bundle)
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), devel_bundle, out))
    assert_ok(run("verify", "--keyring", release / "release.pem", "--check-images", out))
    assert_failure(run("verify", "--keyring", pki.root, out), out)


def test_resign_keeps_payload_and_signed_manifest_byte_identical(pki, release, devel_bundle,
                                                                 tmp_path):
    out = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), devel_bundle, out))
    assert payload(out) == payload(devel_bundle)
    if "verity" in devel_bundle.name:
        from conftest import signed_manifest
        assert signed_manifest(out) == signed_manifest(devel_bundle)


def test_resign_leaves_the_input_unchanged(pki, release, devel_bundle, tmp_path):
    before = sha256_file(devel_bundle)
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), devel_bundle,
                  tmp_path / "release.raucb"))
    assert sha256_file(devel_bundle) == before


def test_resign_with_the_wrong_old_keyring_writes_nothing(pki, release, devel_bundle, tmp_path):
    out = tmp_path / "release.raucb"
    proc = run("resign", "--keyring", pki.other_root, *signer_args(release), devel_bundle, out)
    assert_failure(proc, devel_bundle, "trusted")
    assert not out.exists()


def test_resign_no_verify_warns_but_still_refuses_a_tampered_bundle(pki, release, devel_bundle,
                                                                    tmp_path):
    out = tmp_path / "release.raucb"
    proc = run("resign", "--no-verify", *signer_args(release), devel_bundle, out)
    assert_ok(proc)
    assert "warning" in proc.stderr and "--no-verify" in proc.stderr
    tampered = tmp_path / "tampered.raucb"
    data = bytearray(devel_bundle.read_bytes())
    data[-40] ^= 0x01  # inside the CMS signature value
    tampered.write_bytes(bytes(data))
    out2 = tmp_path / "release2.raucb"
    proc = run("resign", "--no-verify", *signer_args(release), tampered, out2)
    assert proc.returncode == 1
    assert not out2.exists()


def test_resign_needs_the_old_keyring_or_no_verify(release, devel_bundle, tmp_path):
    assert_usage(run("resign", *signer_args(release), devel_bundle, tmp_path / "o.raucb"))


def test_resign_to_two_release_signers(pki, release, devel_bundle, tmp_path):
    out = tmp_path / "release.raucb"
    rsa = pki.leaves["rsa2048"]
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), "--cert", rsa.cert,
                  "--key", rsa.key, "--intermediate", pki.intermediate, devel_bundle, out))
    both = out.parent / "both.pem"
    both.write_bytes((release / "release.pem").read_bytes() + pki.root.read_bytes())
    assert_ok(run("verify", "--keyring", both, "--threshold", "2", out))


def test_rauc_accepts_an_otabundle_resign_with_the_release_keyring_only(pki, release,
                                                                        devel_bundle, tmp_path):
    out = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), devel_bundle, out))
    assert rauc_info(release / "release.pem", out).returncode == 0
    assert rauc_info(pki.root, out).returncode != 0


def test_otabundle_accepts_a_rauc_resign(pki, release, devel_bundle, tmp_path):
    out = tmp_path / "rauc-release.raucb"
    proc = subprocess.run(["rauc", "resign", "--cert", str(release / "release.pem"),
                           "--key", str(release / "release.key"), "--keyring", str(pki.root),
                           "--signing-keyring", str(release / "release.pem"),
                           str(devel_bundle), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert_ok(run("verify", "--keyring", release / "release.pem", "--check-images", out))


def test_extract_then_replace_signature_round_trips(pki, release, devel_bundle, tmp_path):
    resigned = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *signer_args(release), devel_bundle, resigned))
    sig = tmp_path / "release.cms"
    assert_ok(run("extract-signature", resigned, sig))
    size, cms = bundle_trailer(resigned)
    assert sig.read_bytes() == resigned.read_bytes()[size - 8 - cms:size - 8]
    out = tmp_path / "replaced.raucb"
    assert_ok(run("replace-signature", "--keyring", pki.root, "--signing-keyring",
                  release / "release.pem", devel_bundle, sig, out))
    assert out.read_bytes() == resigned.read_bytes()


def test_replace_signature_refuses_a_signature_over_other_content(pki, release, tmp_path):
    make_input(tmp_path / "a")
    make_input(tmp_path / "b", sizes=(12345,))
    a, b = tmp_path / "a.raucb", tmp_path / "b.raucb"
    assert_ok(run("create", "--format=plain", *signer_args(release), tmp_path / "a", a))
    assert_ok(run("create", "--format=plain", *signer_args(release), tmp_path / "b", b))
    sig = tmp_path / "b.cms"
    assert_ok(run("extract-signature", b, sig))
    out = tmp_path / "out.raucb"
    proc = run("replace-signature", "--keyring", release / "release.pem", a, sig, out)
    assert_failure(proc, sig, "signs another bundle", "content digest differs")
    assert "modified" not in proc.stderr
    assert not out.exists()


def test_replace_signature_refuses_a_verity_signature_of_another_manifest(pki, release,
                                                                         tmp_path):
    make_input(tmp_path / "a")
    make_input(tmp_path / "b", sizes=(12345,))
    a, b = tmp_path / "a.raucb", tmp_path / "b.raucb"
    assert_ok(run("create", *signer_args(release), tmp_path / "a", a))
    assert_ok(run("create", *signer_args(release), tmp_path / "b", b))
    sig = tmp_path / "b.cms"
    assert_ok(run("extract-signature", b, sig))
    out = tmp_path / "out.raucb"
    assert_failure(run("replace-signature", "--keyring", release / "release.pem", a, sig, out),
                   sig, "signs another bundle", "another manifest")
    assert not out.exists()


def test_replace_signature_refuses_a_signature_the_signing_keyring_does_not_trust(
        pki, release, devel_bundle, tmp_path):
    sig = tmp_path / "devel.cms"
    assert_ok(run("extract-signature", devel_bundle, sig))
    out = tmp_path / "out.raucb"
    assert_failure(run("replace-signature", "--signing-keyring", release / "release.pem",
                       devel_bundle, sig, out), out, "not written", "trusted")
    assert not out.exists()


def test_replace_signature_checks_the_input_against_keyring(pki, release, devel_bundle,
                                                           tmp_path):
    sig = tmp_path / "devel.cms"
    assert_ok(run("extract-signature", devel_bundle, sig))
    out = tmp_path / "out.raucb"
    assert_failure(run("replace-signature", "--keyring", release / "release.pem", devel_bundle,
                       sig, out), devel_bundle, "trusted")
    assert not out.exists()


def test_extract_signature_refuses_an_existing_file_without_force(devel_bundle, tmp_path):
    sig = tmp_path / "s.cms"
    sig.write_bytes(b"keep")
    assert_failure(run("extract-signature", devel_bundle, sig), sig, "exists")
    assert sig.read_bytes() == b"keep"


def _holds_unnamed_output(pid, directory):
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(str(directory)) and target.endswith("(deleted)"):
                return True
    except (FileNotFoundError, ProcessLookupError):
        pass
    return False


def test_resign_killed_mid_copy_leaves_no_output(pki, release, tmp_path):
    make_input(tmp_path / "in", sizes=(384 * 1024 * 1024,))
    big = tmp_path / "big.raucb"
    assert_ok(run("create", "--format=plain", "--mksquashfs-args", "-noD -noF", *pki.sign_args(),
                  tmp_path / "in", big))
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "release.raucb"
    proc = subprocess.Popen([OTABUNDLE, "resign", "--keyring", str(pki.root),
                             *map(str, signer_args(release)), str(big), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait until it writes its (still unnamed) output, then kill it there.
    while proc.poll() is None and not _holds_unnamed_output(proc.pid, outdir):
        time.sleep(0.0005)
    caught = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert caught, "resign finished before the test could interrupt it"
    assert os.listdir(outdir) == []
