# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check what you sign before you write it: `--signing-keyring` on every
signing command (create, sign, sign --detached, merge, resign,
replace-signature) verifies the finished result, with the command's
--threshold, --check-purpose, --crl and --no-check-time, before it is
renamed into place. `--keyring` always means the trust of the bundle being
read. Both may be repeated (the anchors add up) and may name a directory
hashed by `openssl rehash`."""
import json
import shutil
import subprocess

import pytest

from conftest import assert_failure, assert_ok, assert_usage, make_input, run, run_tool

FORMATS = ["verity", "plain"]
HINT = "did you forget --intermediate?"


def signer(pki, leaf="ec256", intermediate=True):
    s = pki.leaves[leaf]
    return ["--cert", s.cert, "--key", s.key] + (
        ["--intermediate", pki.intermediate] if intermediate else [])


@pytest.fixture(params=FORMATS)
def fmt(request):
    return request.param


@pytest.fixture
def inputdir(tmp_path):
    make_input(tmp_path / "in")
    return tmp_path / "in"


@pytest.fixture
def bundle(pki, inputdir, tmp_path, fmt):
    """A bundle signed by ec256 (with the intermediate), in each format."""
    path = tmp_path / f"base-{fmt}.raucb"
    assert_ok(run("create", f"--format={fmt}", *signer(pki), inputdir, path))
    return path


@pytest.fixture
def devel_bundle(pki, inputdir, tmp_path, fmt):
    """A development bundle: signed by a leaf of the unrelated other root."""
    path = tmp_path / f"devel-{fmt}.raucb"
    assert_ok(run("create", f"--format={fmt}", *signer(pki, "other", intermediate=False),
                  inputdir, path))
    return path


def verify(keyrings, bundle, *extra):
    args = []
    for k in keyrings:
        args += ["--keyring", k]
    return run("verify", *args, *extra, bundle)


def assert_refused_untouched(proc, out, before, *words):
    """Exit 1, one line naming @out, and @out as it was (absent or @before)."""
    assert_failure(proc, out, "not written", *words)
    if before is None:
        assert not out.exists()
        assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []
    else:
        assert out.read_bytes() == before


# --- every signing command: a good and a bad signing keyring ------------------


def command_args(command, pki, src, out, tmp_path, signing_keyring, partial=None):
    """The command line of @command writing @out from @src, its result
    checked against @signing_keyring."""
    check = ["--signing-keyring", signing_keyring]
    if command == "create":
        return ["create", *signer(pki), *check, src.parent / "in", out]
    if command == "sign":
        return ["sign", "--keyring", pki.root, *signer(pki, "rsa2048"), *check, src, out]
    if command == "sign-detached":
        return ["sign", "--detached", out, *signer(pki, "rsa2048"), *check, src]
    if command == "merge":
        return ["merge", "--keyring", pki.root, *check, src, out, partial]
    if command == "resign":
        return ["resign", "--keyring", pki.root, *signer(pki, "rsa2048"), *check, src, out]
    if command == "replace-signature":
        return ["replace-signature", "--keyring", pki.root, *check, src, partial, out]
    raise AssertionError(command)


def partial_for(command, pki, src, tmp_path):
    """What merge and replace-signature take besides the bundle."""
    if command == "merge":
        sig = tmp_path / "rsa.cms"
        assert_ok(run("sign", "--detached", sig, *signer(pki, "rsa2048"), src))
        return sig
    if command == "replace-signature":
        resigned = tmp_path / "resigned.raucb"
        assert_ok(run("resign", "--keyring", pki.root, *signer(pki, "rsa2048"), src, resigned))
        sig = tmp_path / "resigned.cms"
        assert_ok(run("extract-signature", resigned, sig))
        return sig
    return None


COMMANDS = ["create", "sign", "sign-detached", "merge", "resign", "replace-signature"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_result_the_signing_keyring_trusts_is_written(pki, bundle, tmp_path, command):
    out = tmp_path / ("out.cms" if command == "sign-detached" else "out.raucb")
    partial = partial_for(command, pki, bundle, tmp_path)
    assert_ok(run(*command_args(command, pki, bundle, out, tmp_path, pki.root, partial)))
    if command != "sign-detached":
        assert_ok(verify([pki.root], out, "--check-images"))
    else:
        assert out.stat().st_size > 0


@pytest.mark.parametrize("command", COMMANDS)
def test_a_result_the_signing_keyring_does_not_trust_is_not_written(pki, bundle, tmp_path,
                                                                     command):
    out = tmp_path / ("out.cms" if command == "sign-detached" else "out.raucb")
    partial = partial_for(command, pki, bundle, tmp_path)
    proc = run(*command_args(command, pki, bundle, out, tmp_path, pki.other_root, partial))
    assert_refused_untouched(proc, out, None, "signing keyring", "trusted")
    # The chain stops at the CA above the embedded intermediate: the root
    # is what is missing, not an intermediate.
    assert HINT not in proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_result_leaves_an_existing_output_untouched_with_force(pki, bundle, tmp_path,
                                                                         command):
    out = tmp_path / ("out.cms" if command == "sign-detached" else "out.raucb")
    partial = partial_for(command, pki, bundle, tmp_path)
    out.write_bytes(b"the previous release")
    proc = run(*command_args(command, pki, bundle, out, tmp_path, pki.other_root, partial),
               "--force")
    assert_refused_untouched(proc, out, b"the previous release")


# --- the forgotten intermediate ---------------------------------------------------


def test_resign_without_intermediate_writes_a_bundle_the_release_root_rejects(
        pki, devel_bundle, tmp_path):
    """Why --signing-keyring exists: without it, nothing new is refused."""
    out = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.other_root,
                  *signer(pki, "ec256", intermediate=False), devel_bundle, out))
    assert_failure(verify([pki.root], out), out, "unable to get local issuer certificate")


def test_resign_without_intermediate_is_caught_by_the_signing_keyring_with_the_hint(
        pki, devel_bundle, tmp_path):
    out = tmp_path / "release.raucb"
    proc = run("resign", "--keyring", pki.other_root, *signer(pki, "ec256", intermediate=False),
               "--signing-keyring", pki.root, devel_bundle, out)
    line = assert_failure(proc, out, "not written", "unable to get local issuer certificate",
                          HINT)
    assert "otabundle test intermediate CA" in line
    assert not out.exists()
    assert "Resigned" not in proc.stdout


def test_resign_with_the_intermediate_passes_the_signing_keyring(pki, devel_bundle, tmp_path):
    out = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.other_root, *signer(pki),
                  "--signing-keyring", pki.root, devel_bundle, out))
    assert_ok(verify([pki.root], out))


def test_create_without_intermediate_is_refused_with_the_hint(pki, inputdir, tmp_path, fmt):
    out = tmp_path / "update.raucb"
    proc = run("create", f"--format={fmt}", *signer(pki, intermediate=False),
               "--signing-keyring", pki.root, inputdir, out)
    assert_refused_untouched(proc, out, None, HINT)


def test_sign_detached_without_intermediate_is_refused_with_the_hint(pki, bundle, tmp_path):
    sig = tmp_path / "rsa.cms"
    proc = run("sign", "--detached", sig, *signer(pki, "rsa2048", intermediate=False),
               "--signing-keyring", pki.root, bundle)
    assert_refused_untouched(proc, sig, None, HINT)


def test_a_root_missing_from_the_signing_keyring_gives_no_intermediate_hint(pki, inputdir,
                                                                            tmp_path):
    out = tmp_path / "update.raucb"
    proc = run("create", *signer(pki), "--signing-keyring", pki.other_root, inputdir, out)
    assert_refused_untouched(proc, out, None, "unable to get local issuer certificate")
    assert "intermediate" not in proc.stderr


def test_without_a_signing_keyring_a_leaf_without_intermediate_is_still_signed(pki, inputdir,
                                                                                tmp_path):
    out = tmp_path / "update.raucb"
    assert_ok(run("create", *signer(pki, intermediate=False), inputdir, out))
    # A keyring holding the intermediate (pinned) trusts it, as designed.
    assert_ok(verify([pki.intermediate], out))


# --- threshold, purpose, CRL and time on the result ----------------------------------


def test_create_threshold_is_checked_on_the_result(pki, inputdir, tmp_path):
    out = tmp_path / "update.raucb"
    proc = run("create", *signer(pki), "--signing-keyring", pki.root, "--threshold", "2",
               inputdir, out)
    assert_refused_untouched(proc, out, None, "1 of 2")
    assert_ok(run("create", *signer(pki), *signer(pki, "rsa2048", intermediate=False),
                  "--signing-keyring", pki.root, "--threshold", "2", inputdir, out))
    assert_ok(verify([pki.root], out, "--threshold", "2"))


def test_merge_meets_the_threshold_only_with_enough_trusted_partials(pki, bundle, tmp_path):
    trusted, foreign = tmp_path / "rsa.cms", tmp_path / "other.cms"
    assert_ok(run("sign", "--detached", trusted, *signer(pki, "rsa2048"), bundle))
    assert_ok(run("sign", "--detached", foreign, *signer(pki, "other", intermediate=False),
                  bundle))
    out = tmp_path / "release.raucb"
    proc = run("merge", "--signing-keyring", pki.root, "--threshold", "3", bundle, out, trusted,
               foreign)
    assert_refused_untouched(proc, out, None, "2 of 3", "signer other CA")
    assert_ok(run("merge", "--signing-keyring", pki.root, "--threshold", "2", bundle, out,
                  trusted, foreign))


def test_sign_threshold_counts_the_existing_and_the_new_signers(pki, bundle, tmp_path):
    out = tmp_path / "two.raucb"
    assert_ok(run("sign", "--keyring", pki.root, *signer(pki, "rsa2048"),
                  "--signing-keyring", pki.root, "--threshold", "2", bundle, out))
    proc = run("sign", "--keyring", pki.root, *signer(pki, "ec384"), "--signing-keyring",
               pki.root, "--threshold", "4", out, tmp_path / "three.raucb")
    assert_refused_untouched(proc, tmp_path / "three.raucb", None, "3 of 4")


def test_a_one_signer_devel_bundle_is_resigned_to_a_two_of_n_release(pki, devel_bundle,
                                                                      tmp_path):
    """--threshold is the result's: the input's check wants one trusted signer."""
    out = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.other_root, *signer(pki),
                  *signer(pki, "rsa2048", intermediate=False), "--signing-keyring", pki.root,
                  "--threshold", "2", devel_bundle, out))
    assert_ok(verify([pki.root], out, "--threshold", "2"))


def test_check_purpose_is_passed_to_the_result_check(pki, inputdir, tmp_path):
    out = tmp_path / "update.raucb"
    proc = run("create", *signer(pki), "--signing-keyring", pki.root,
               "--check-purpose", "codesign", inputdir, out)
    assert_refused_untouched(proc, out, None, "codeSigning")
    assert_ok(run("create", *signer(pki, "codesign"), "--signing-keyring", pki.root,
                  "--check-purpose", "codesign", inputdir, out))


def test_crl_is_passed_to_the_result_check(pki, inputdir, tmp_path):
    out = tmp_path / "update.raucb"
    proc = run("create", *signer(pki, "revoked"), "--signing-keyring", pki.root,
               "--crl", pki.crl, inputdir, out)
    assert_refused_untouched(proc, out, None, "revoked")
    assert_ok(run("create", *signer(pki), "--signing-keyring", pki.root, "--crl", pki.crl,
                  inputdir, out))


def test_no_check_time_is_passed_to_the_result_check(pki, inputdir, tmp_path):
    out = tmp_path / "old.raucb"
    assert_ok(run("create", *signer(pki, "expired"), "--no-check-time",
                  "--signing-keyring", pki.root, inputdir, out))


def test_threshold_without_signing_keyring_is_wrong_usage(pki, bundle, tmp_path):
    """It used to apply to the input: silently ignoring it would hide a gate."""
    sig = tmp_path / "rsa.cms"
    assert_ok(run("sign", "--detached", sig, *signer(pki, "rsa2048"), bundle))
    out = tmp_path / "out.raucb"
    assert_usage(run("merge", "--keyring", pki.root, "--threshold", "2", bundle, out, sig))
    assert not out.exists()


def test_threshold_with_a_partial_signature_is_wrong_usage(pki, bundle, tmp_path):
    sig = tmp_path / "rsa.cms"
    assert_usage(run("sign", "--detached", sig, *signer(pki, "rsa2048"), "--signing-keyring",
                     pki.root, "--threshold", "2", bundle))
    assert not sig.exists()


def test_create_check_options_without_signing_keyring_are_wrong_usage(pki, inputdir, tmp_path):
    for extra in (["--threshold", "2"], ["--check-purpose", "codesign"], ["--crl", pki.crl]):
        assert_usage(run("create", *signer(pki), *extra, inputdir, tmp_path / "u.raucb"))
    assert not (tmp_path / "u.raucb").exists()


# --- replace-signature: --keyring is the input's, --signing-keyring the result's ------


@pytest.fixture
def release_signature(pki, devel_bundle, tmp_path):
    """A signature by the pki's ec256 leaf over the devel bundle's content."""
    resigned = tmp_path / "release.raucb"
    assert_ok(run("resign", "--keyring", pki.other_root, *signer(pki), devel_bundle, resigned))
    sig = tmp_path / "release.cms"
    assert_ok(run("extract-signature", resigned, sig))
    return sig, resigned


def test_replace_signature_checks_the_input_against_keyring(pki, devel_bundle,
                                                           release_signature, tmp_path):
    sig, _ = release_signature
    out = tmp_path / "out.raucb"
    proc = run("replace-signature", "--keyring", pki.root, devel_bundle, sig, out)
    assert_failure(proc, devel_bundle, "trusted")
    assert not out.exists()


def test_replace_signature_checks_the_result_against_signing_keyring(pki, devel_bundle,
                                                                    release_signature,
                                                                    tmp_path):
    sig, resigned = release_signature
    out = tmp_path / "out.raucb"
    assert_ok(run("replace-signature", "--keyring", pki.other_root, "--signing-keyring",
                  pki.root, devel_bundle, sig, out))
    assert out.read_bytes() == resigned.read_bytes()
    out.unlink()
    proc = run("replace-signature", "--keyring", pki.other_root, "--signing-keyring",
               pki.other_root, devel_bundle, sig, out)
    assert_refused_untouched(proc, out, None, "trusted")


def test_replace_signature_without_keyrings_checks_integrity_and_content_only(
        pki, devel_bundle, release_signature, tmp_path):
    sig, resigned = release_signature
    out = tmp_path / "out.raucb"
    assert_ok(run("replace-signature", devel_bundle, sig, out))
    assert out.read_bytes() == resigned.read_bytes()


# --- keyrings: repeated, directories, missing -------------------------------------------


@pytest.fixture
def two_pki_bundle(pki, inputdir, tmp_path):
    """Signed by a leaf of each root: pki's ec256 (with its intermediate) and other."""
    path = tmp_path / "two-pki.raucb"
    assert_ok(run("create", *signer(pki), *signer(pki, "other", intermediate=False), inputdir,
                  path))
    return path


def test_repeated_keyrings_add_their_roots(pki, two_pki_bundle):
    assert_failure(verify([pki.root], two_pki_bundle, "--threshold", "2"), two_pki_bundle,
                   "1 of 2")
    proc = assert_ok(verify([pki.root, pki.other_root], two_pki_bundle, "--threshold", "2",
                            "--output-format=json"))
    assert json.loads(proc.stdout)["trusted_signers"] == 2


def test_repeated_signing_keyrings_add_their_roots(pki, inputdir, tmp_path):
    out = tmp_path / "two-pki.raucb"
    args = ["create", *signer(pki), *signer(pki, "other", intermediate=False), "--threshold",
            "2", inputdir, out]
    assert_refused_untouched(run(*args, "--signing-keyring", pki.root), out, None, "1 of 2")
    assert_ok(run(*args, "--signing-keyring", pki.root, "--signing-keyring", pki.other_root))


def hashed_dir(tmp_path, *certs, rehash=True):
    d = tmp_path / "keyring.d"
    d.mkdir()
    for i, cert in enumerate(certs):
        shutil.copy(cert, d / f"cert{i}.pem")
    if rehash:
        run_tool("openssl", "rehash", d)
    return d


def test_a_keyring_directory_hashed_by_openssl_rehash_is_trusted(pki, two_pki_bundle,
                                                                 tmp_path):
    d = hashed_dir(tmp_path, pki.root, pki.other_root)
    assert_ok(verify([d], two_pki_bundle, "--threshold", "2"))


def test_a_keyring_directory_trusts_only_what_it_holds(pki, two_pki_bundle, tmp_path):
    d = hashed_dir(tmp_path, pki.root)
    assert_failure(verify([d], two_pki_bundle, "--threshold", "2"), two_pki_bundle, "1 of 2")


def test_a_keyring_directory_can_pin_an_intermediate(pki, bundle, tmp_path):
    d = hashed_dir(tmp_path, pki.intermediate)
    assert_ok(verify([d], bundle))


def test_a_keyring_directory_and_a_file_add_up(pki, two_pki_bundle, tmp_path):
    d = hashed_dir(tmp_path, pki.other_root)
    assert_ok(verify([d, pki.root], two_pki_bundle, "--threshold", "2"))


def test_a_signing_keyring_directory_checks_the_result(pki, inputdir, tmp_path):
    d = hashed_dir(tmp_path, pki.root)
    out = tmp_path / "update.raucb"
    assert_refused_untouched(run("create", *signer(pki, intermediate=False),
                                 "--signing-keyring", d, inputdir, out), out, None, HINT)
    assert_ok(run("create", *signer(pki), "--signing-keyring", d, inputdir, out))


def test_a_keyring_directory_without_hashed_links_is_refused_in_one_line(pki, bundle, tmp_path):
    d = hashed_dir(tmp_path, pki.root, rehash=False)
    assert_failure(verify([d], bundle), d, "openssl rehash")


def test_a_missing_keyring_is_refused_in_one_line(pki, bundle, tmp_path):
    missing = tmp_path / "no-such-keyring.pem"
    assert_failure(verify([pki.root, missing], bundle), missing, "no such file")


def test_a_missing_signing_keyring_writes_nothing(pki, inputdir, tmp_path):
    missing = tmp_path / "no-such-keyring.pem"
    out = tmp_path / "update.raucb"
    assert_failure(run("create", *signer(pki), "--signing-keyring", missing, inputdir, out),
                   missing, "no such file")
    assert not out.exists()


def test_rauc_accepts_what_a_signing_keyring_directory_accepted(pki, inputdir, tmp_path):
    """The same hashed directory given to rauc as its keyring directory."""
    d = hashed_dir(tmp_path, pki.root)
    out = tmp_path / "update.raucb"
    assert_ok(run("create", *signer(pki), "--signing-keyring", d, inputdir, out))
    conf = tmp_path / "system.conf"
    conf.write_text("[system]\ncompatible=otabundle-test\nbootloader=noop\n"
                    f"[keyring]\ndirectory={d}\n")
    proc = subprocess.run(["rauc", "-c", str(conf), "info", str(out)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
