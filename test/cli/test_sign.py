# SPDX-License-Identifier: LGPL-2.1-or-later
"""Signing existing bundles: `sign` adds signers, `sign --detached` writes a
partial signature, `merge` adds partial signatures; both encodings of
several signers, and what Debian's rauc 1.8 makes of each."""
import json
import subprocess

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, bundle_trailer, flip_byte,
                      make_input, read_audit_log, run, sha256_file)

FORMATS = ["verity", "plain"]


def signer(pki, leaf):
    return ["--cert", pki.leaves[leaf].cert, "--key", pki.leaves[leaf].key,
            "--intermediate", pki.intermediate]


@pytest.fixture(params=FORMATS)
def bundle(request, pki, tmp_path):
    """A bundle signed by ec256 alone, in each format."""
    make_input(tmp_path / "in")
    path = tmp_path / f"one-{request.param}.raucb"
    assert_ok(run("create", f"--format={request.param}", *signer(pki, "ec256"),
                  tmp_path / "in", path))
    return path


def counted(pki, path, threshold):
    proc = run("verify", "--keyring", pki.root, "--threshold", str(threshold),
               "--output-format=json", path)
    return proc, json.loads(proc.stdout)


def payload(path):
    size, cms = bundle_trailer(path)
    return path.read_bytes()[:size - 8 - cms]


def rauc_device(tmp_path, pki, *args):
    """rauc as on a device, with a system.conf."""
    conf = tmp_path / "system.conf"
    conf.write_text(f"[system]\ncompatible=otabundle-test\nbootloader=noop\n"
                    f"[keyring]\npath={pki.root}\n")
    return subprocess.run(["rauc", "-c", str(conf), *map(str, args)], capture_output=True,
                          text=True)


def test_sign_adds_a_signer_and_keeps_the_payload(pki, bundle, tmp_path):
    before = sha256_file(bundle)
    out = tmp_path / "two.raucb"
    assert_ok(run("sign", "--keyring", pki.root, *signer(pki, "rsa2048"), bundle, out))
    proc, result = counted(pki, out, 2)
    assert_ok(proc)
    assert result["trusted_signers"] == 2
    assert payload(out) == payload(bundle)
    assert sha256_file(bundle) == before


def test_sign_without_keyring_still_refuses_a_tampered_bundle(pki, bundle, tmp_path):
    flip_byte(bundle, bundle.stat().st_size - 20)  # inside the CMS signature value
    out = tmp_path / "two.raucb"
    proc = run("sign", *signer(pki, "rsa2048"), bundle, out)
    assert proc.returncode == 1
    assert not out.exists()


def test_sign_refuses_a_bundle_the_keyring_does_not_trust(pki, bundle, tmp_path):
    out = tmp_path / "two.raucb"
    proc = run("sign", "--keyring", pki.other_root, *signer(pki, "rsa2048"), bundle, out)
    assert_failure(proc, bundle, "trusted")
    assert not out.exists()


def test_sign_refuses_an_existing_output_without_force(pki, bundle, tmp_path):
    out = tmp_path / "two.raucb"
    out.write_bytes(b"keep")
    assert_failure(run("sign", *signer(pki, "rsa2048"), bundle, out), out, "exists")
    assert out.read_bytes() == b"keep"
    assert_ok(run("sign", "--force", *signer(pki, "rsa2048"), bundle, out))


def test_detached_signatures_merge_into_a_three_of_three_bundle(pki, bundle, tmp_path):
    before = sha256_file(bundle)
    sigs = []
    for leaf in ("rsa2048", "ec384"):
        sig = tmp_path / f"{leaf}.cms"
        assert_ok(run("sign", "--detached", sig, *signer(pki, leaf), bundle))
        sigs.append(sig)
    assert sha256_file(bundle) == before
    out = tmp_path / "three.raucb"
    assert_ok(run("merge", "--keyring", pki.root, bundle, out, *sigs))
    proc, result = counted(pki, out, 3)
    assert_ok(proc)
    assert result["trusted_signers"] == 3
    assert [s["nested"] for s in result["signers"]] == [False, True, True]
    assert payload(out) == payload(bundle)


def test_merge_refuses_a_partial_signature_of_another_bundle(pki, bundle, tmp_path):
    make_input(tmp_path / "other-in", sizes=(4096 * 3 + 7,))
    other = tmp_path / "other.raucb"
    fmt = "plain" if "plain" in bundle.name else "verity"
    assert_ok(run("create", f"--format={fmt}", *signer(pki, "ec256"), tmp_path / "other-in", other))
    sig = tmp_path / "other.cms"
    assert_ok(run("sign", "--detached", sig, *signer(pki, "rsa2048"), other))
    out = tmp_path / "merged.raucb"
    proc = run("merge", bundle, out, sig)
    assert_failure(proc, sig, "signs another bundle", "content digest differs")
    assert "modified" not in proc.stderr
    assert not out.exists()


def test_merge_refuses_a_file_that_is_not_a_signature(pki, bundle, tmp_path):
    sig = tmp_path / "garbage.cms"
    sig.write_bytes(b"\x30\x03\x02\x01\x01")
    out = tmp_path / "merged.raucb"
    assert_failure(run("merge", bundle, out, sig), sig)
    assert not out.exists()


def test_merge_refuses_a_whole_bundle_signature_with_embedded_content(pki, tmp_path):
    make_input(tmp_path / "in")
    verity = tmp_path / "v.raucb"
    assert_ok(run("create", *signer(pki, "ec256"), tmp_path / "in", verity))
    size, cms = bundle_trailer(verity)
    sig = tmp_path / "whole.cms"
    sig.write_bytes(verity.read_bytes()[size - 8 - cms:size - 8])
    out = tmp_path / "merged.raucb"
    assert_failure(run("merge", verity, out, sig), sig, "detached")
    assert not out.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_rauc_device_accepts_a_nested_multi_signer_bundle(pki, tmp_path, fmt):
    make_input(tmp_path / "in")
    out = tmp_path / "nested.raucb"
    assert_ok(run("create", f"--format={fmt}", *signer(pki, "ec256"), *signer(pki, "rsa2048"),
                  tmp_path / "in", out))
    proc = rauc_device(tmp_path, pki, "info", out)
    assert proc.returncode == 0, proc.stderr
    # rauc checks the one SignerInfo; otabundle counts both.
    proc, result = counted(pki, out, 2)
    assert_ok(proc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rauc_device_rejects_the_signer_infos_encoding(pki, tmp_path, fmt):
    make_input(tmp_path / "in")
    out = tmp_path / "infos.raucb"
    assert_ok(run("create", f"--format={fmt}", "--signer-encoding=signer-infos",
                  *signer(pki, "ec256"), *signer(pki, "rsa2048"), tmp_path / "in", out))
    proc = rauc_device(tmp_path, pki, "info", out)
    assert proc.returncode != 0
    assert "Unsupported number of signers" in proc.stderr + proc.stdout
    assert_ok(counted(pki, out, 2)[0])


def test_rauc_on_the_host_rejects_the_signer_infos_encoding_too(pki, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "infos.raucb"
    assert_ok(run("create", "--signer-encoding=signer-infos", *signer(pki, "ec256"),
                  *signer(pki, "rsa2048"), tmp_path / "in", out))
    proc = subprocess.run(["rauc", "info", "--keyring", str(pki.root), str(out)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Unsupported number of signers" in proc.stderr + proc.stdout


def test_a_stripped_nested_signature_only_lowers_the_count(pki, tmp_path):
    # Removing a nested signer (here: merging only one of two partials) can't
    # make a bundle pass a threshold it didn't meet.
    make_input(tmp_path / "in")
    base = tmp_path / "base.raucb"
    assert_ok(run("create", *signer(pki, "ec256"), tmp_path / "in", base))
    sig = tmp_path / "rsa.cms"
    assert_ok(run("sign", "--detached", sig, *signer(pki, "rsa2048"), base))
    two = tmp_path / "two.raucb"
    assert_ok(run("merge", base, two, sig))
    assert_ok(counted(pki, two, 2)[0])
    assert_failure(run("verify", "--keyring", pki.root, "--threshold", "2", base), base, "1 of 2")


def test_sign_appends_audit_lines_for_its_signers(pki, bundle, tmp_path):
    log = tmp_path / "audit.log"
    out = tmp_path / "two.raucb"
    assert_ok(run("sign", "--audit-log", log, *signer(pki, "rsa2048"), bundle, out))
    (line,) = read_audit_log(log)
    assert line["operation"] == "sign"
    assert "rsa2048" in line["signer_subject"]
    if "verity" in bundle.name:
        assert len(line["verity_root_hash"]) == 64


@pytest.mark.parametrize("args", [
    pytest.param(["sign", "{cert}", "{key}", "{b}"], id="sign-one-positional"),
    pytest.param(["sign", "--detached", "{sig}", "{cert}", "{key}", "{b}", "{b}2"],
                 id="detached-two-positionals"),
    pytest.param(["merge", "{b}", "{b}2"], id="merge-without-signature"),
    pytest.param(["merge", "--signer-encoding=zip", "{b}", "{b}2", "{sig}"], id="bad-encoding"),
])
def test_wrong_usage_exits_2(pki, bundle, tmp_path, args):
    subst = {"{b}": str(bundle), "{sig}": str(tmp_path / "x.cms"),
             "{cert}": f"--cert={pki.leaves['rsa2048'].cert}",
             "{key}": f"--key={pki.leaves['rsa2048'].key}"}
    argv = []
    for a in args:
        for k, v in subst.items():
            a = a.replace(k, v)
        argv.append(a)
    assert_usage(run(*argv))


def test_air_gapped_signer_signs_only_the_verity_manifest(pki, tmp_path):
    """For verity the signed content is the manifest: a signer who only has
    that small file (and any CMS tool) produces a partial that merges."""
    make_input(tmp_path / "in")
    bundle = tmp_path / "b.raucb"
    assert_ok(run("create", *signer(pki, "ec256"), tmp_path / "in", bundle))
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "x"))
    sig = tmp_path / "air.cms"
    rsa = pki.leaves["rsa2048"]
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-nosmimecap", "-md", "sha256",
                    "-outform", "DER", "-in", str(tmp_path / "x" / "manifest.raucm"),
                    "-signer", str(rsa.cert), "-inkey", str(rsa.key),
                    "-certfile", str(pki.intermediate), "-out", str(sig)], check=True)
    out = tmp_path / "two.raucb"
    assert_ok(run("merge", bundle, out, sig))
    assert_ok(counted(pki, out, 2)[0])
    assert rauc_device(tmp_path, pki, "info", out).returncode == 0
