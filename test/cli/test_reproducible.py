# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reproducible bundles: with SOURCE_DATE_EPOCH (or --reproducible), two
`create` runs on the same input give a byte-identical payload and signed
manifest, whatever the input's mtimes, permission bits beyond the execute
bits, directory order, working directory or TMPDIR. Only the CMS may differ:
ECDSA signatures are randomised, and the signingTime attribute is the real
time of signing (see otabundle(1))."""
import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import (assert_ok, assert_usage, bundle_cms, bundle_trailer, info_json, run,
                      run_tool, signed_manifest, write_manifest)

EPOCH = 1700000000  # 2023-11-14 22:13:20 UTC
SALT_KEY = b"otabundle verity salt v1"


def env_with(**values):
    """os.environ without SOURCE_DATE_EPOCH, plus @values."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env.update({k: str(v) for k, v in values.items()})
    return env


def make_tree(root, reverse=False, mtime=0, file_mode=0o644):
    """The same input each time: two images, a hook script, a directory of
    extras. @reverse creates the entries in the opposite order (another
    directory order on disk); @mtime and @file_mode vary what must not
    matter."""
    root.mkdir(parents=True)
    files = {
        "rootfs.img": bytes(range(256)) * 700,
        "appfs.img": b"app" * 5000,
        "hook.sh": b"#!/bin/sh\nexit 0\n",
        "extra/a.txt": b"a\n",
        "extra/b.txt": b"b\n",
    }
    for name in sorted(files, reverse=reverse):
        path = root / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(files[name])
        path.chmod(0o755 if name == "hook.sh" else file_mode)
    write_manifest(root, {"rootfs": "rootfs.img", "appfs": "appfs.img"},
                   extra="[hooks]\nfilename=hook.sh\n")
    for path in [root / "extra", *root.rglob("*")]:
        if mtime:
            os.utime(path, (mtime, mtime))
    return root


def payload(bundle):
    size, cms_len = bundle_trailer(bundle)
    with open(bundle, "rb") as f:
        return f.read(size - 8 - cms_len)


def create_in(pki, workdir, *extra, leaf="ec256", env=None):
    """Runs create in @workdir with relative paths (the same command line
    whatever @workdir is): input `in`, output `out.raucb`."""
    return run("create", *pki.sign_args(leaf), *extra, "in", "out.raucb", cwd=workdir, env=env)


def two_runs(pki, tmp_path, *extra, leaf="ec256", epoch=EPOCH):
    """Two creates of the same input made differently: other mtimes, modes,
    directory order, working directory and TMPDIR. Returns both procs and
    bundles."""
    procs, bundles = [], []
    for i, (reverse, mtime, mode) in enumerate([(False, 1000000000, 0o644),
                                                (True, 1600000000, 0o600)]):
        work = tmp_path / f"run{i}"
        make_tree(work / "in", reverse=reverse, mtime=mtime, file_mode=mode)
        tmpdir = tmp_path / f"tmp{i}"
        tmpdir.mkdir()
        env = env_with(TMPDIR=tmpdir) if epoch is None else env_with(TMPDIR=tmpdir,
                                                                     SOURCE_DATE_EPOCH=epoch)
        procs.append(assert_ok(create_in(pki, work, *extra, leaf=leaf, env=env)))
        bundles.append(work / "out.raucb")
    return procs, bundles


@pytest.fixture(scope="module")
def verity_runs(pki, tmp_path_factory):
    return two_runs(pki, tmp_path_factory.mktemp("verity-runs"))


def test_payload_is_identical_across_runs(verity_runs):
    _, (a, b) = verity_runs
    assert payload(a) == payload(b)


def test_signed_manifest_is_identical_across_runs(verity_runs):
    _, (a, b) = verity_runs
    assert signed_manifest(a) == signed_manifest(b)


def test_create_prints_the_same_in_both_runs(verity_runs):
    (p, q), _ = verity_runs
    assert (p.stdout, p.stderr) == (q.stdout, q.stderr)
    assert p.stdout == "Created out.raucb\n" and p.stderr == ""


def test_every_squashfs_time_is_source_date_epoch(verity_runs):
    _, (a, _) = verity_runs
    mkfs = run_tool("unsquashfs", "-mkfs-time", a).stdout.split()
    assert int(mkfs[-1]) == EPOCH
    listing = run_tool("unsquashfs", "-lln", "-UTC", a).stdout.splitlines()
    entries = [line for line in listing if line.startswith(("d", "-"))]
    assert len(entries) == 8  # the root, 5 files, a directory, the manifest
    assert all(" 2023-11-14 22:13 " in line for line in entries), listing


def test_modes_are_0644_or_0755_and_owners_root(verity_runs):
    _, (a, _) = verity_runs
    listing = run_tool("unsquashfs", "-lln", a).stdout.splitlines()
    modes = {line.split()[-1].split("/", 1)[-1]: line.split()[:2] for line in listing
             if line.startswith(("d", "-")) and "/" in line.split()[-1]}
    assert modes["hook.sh"] == ["-rwxr-xr-x", "0/0"]
    assert modes["rootfs.img"] == ["-rw-r--r--", "0/0"]
    assert modes["extra"] == ["drwxr-xr-x", "0/0"]
    assert modes["extra/a.txt"] == ["-rw-r--r--", "0/0"]
    assert modes["manifest.raucm"] == ["-rw-r--r--", "0/0"]


def test_verity_salt_is_an_hmac_of_the_squashfs(verity_runs):
    """HMAC-SHA256 keyed "otabundle verity salt v1" over the SHA-256 of the
    squashfs (the data the hash tree covers)."""
    _, (a, _) = verity_runs
    verity = info_json(a)["verity"]
    data = payload(a)[:verity["data_size"]]
    expected = hmac.new(SALT_KEY, hashlib.sha256(data).digest(), hashlib.sha256).hexdigest()
    assert verity["salt"] == expected


def test_reproducible_bundle_verifies_and_rauc_accepts_it(pki, verity_runs):
    _, (a, _) = verity_runs
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", a))
    if shutil.which("rauc") is not None:
        run_tool("rauc", "info", "--keyring", pki.root, a)


def test_plain_payload_is_identical_across_runs(pki, tmp_path):
    _, (a, b) = two_runs(pki, tmp_path, "--format=plain")
    assert payload(a) == payload(b)


def test_reproducible_option_without_source_date_epoch_uses_time_0(pki, tmp_path):
    _, (a, b) = two_runs(pki, tmp_path, "--reproducible", epoch=None)
    assert payload(a) == payload(b)
    assert signed_manifest(a) == signed_manifest(b)
    assert int(run_tool("unsquashfs", "-mkfs-time", a).stdout.split()[-1]) == 0


def test_without_source_date_epoch_the_salt_is_random(pki, tmp_path):
    _, (a, b) = two_runs(pki, tmp_path, epoch=None)
    assert info_json(a)["verity"]["salt"] != info_json(b)["verity"]["salt"]


def test_empty_source_date_epoch_counts_as_unset(pki, tmp_path):
    _, (a, b) = two_runs(pki, tmp_path, epoch="")
    assert info_json(a)["verity"]["salt"] != info_json(b)["verity"]["salt"]


def test_verity_salt_option_is_used_as_given(pki, tmp_path):
    salt = "0123456789ABCDEF" * 4
    _, (a, b) = two_runs(pki, tmp_path, f"--verity-salt={salt}")
    assert info_json(a)["verity"]["salt"] == salt.lower()
    assert signed_manifest(a) == signed_manifest(b)
    assert_ok(run("verify", "--keyring", pki.root, a))


def test_verity_salt_option_applies_without_source_date_epoch(pki, tmp_path):
    salt = "5a" * 32
    _, (a, b) = two_runs(pki, tmp_path, f"--verity-salt={salt}", epoch=None)
    assert info_json(a)["verity"]["salt"] == info_json(b)["verity"]["salt"] == salt


def asn1_lines(der):
    proc = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-i"], input=der,
                          capture_output=True, check=True)
    return proc.stdout.decode().splitlines()


def test_rsa_signatures_differ_at_most_in_signing_time(pki, tmp_path):
    """RSA PKCS#1 v1.5 is deterministic: the two CMS have the same structure,
    certificates, content and digests; only signingTime (the real time of
    signing) and the signature over it may differ."""
    _, (a, b) = two_runs(pki, tmp_path, leaf="rsa2048")
    assert bundle_trailer(a) == bundle_trailer(b)
    ours, theirs = asn1_lines(bundle_cms(a)), asn1_lines(bundle_cms(b))
    assert len(ours) == len(theirs)
    differing = [(x, y) for x, y in zip(ours, theirs) if x != y]
    allowed = {"UTCTIME", "OCTET STRING"}
    for x, y in differing:
        assert any(kind in x for kind in allowed), (x, y)
    # At most the signingTime and the signature value.
    assert len(differing) <= 2, differing
    octets = [i for i, line in enumerate(ours) if "OCTET STRING" in line]
    assert all(ours[i] == theirs[i] for i in octets[:-1])  # content and message digest


@pytest.mark.parametrize("value", ["abc", "-1", "4294967296", "1e9"])
def test_malformed_source_date_epoch_is_a_usage_error(pki, tmp_path, value):
    make_tree(tmp_path / "in")
    proc = create_in(pki, tmp_path, env=env_with(SOURCE_DATE_EPOCH=value))
    assert_usage(proc)
    assert "SOURCE_DATE_EPOCH" in proc.stderr.splitlines()[0]
    assert not (tmp_path / "out.raucb").exists()


@pytest.mark.parametrize("salt", ["00" * 31, "00" * 33, "zz" * 32, ""])
def test_malformed_verity_salt_is_a_usage_error(pki, tmp_path, salt):
    make_tree(tmp_path / "in")
    proc = create_in(pki, tmp_path, f"--verity-salt={salt}")
    assert_usage(proc)
    assert "--verity-salt" in proc.stderr.splitlines()[0]
    assert not (tmp_path / "out.raucb").exists()


def test_verity_salt_with_plain_format_is_a_usage_error(pki, tmp_path):
    make_tree(tmp_path / "in")
    assert_usage(create_in(pki, tmp_path, "--format=plain", "--verity-salt=" + "00" * 32))
    assert not (tmp_path / "out.raucb").exists()


def test_names_with_quotes_backslashes_and_tabs_get_normalised_modes(pki, tmp_path):
    """The list of modes handed to mksquashfs quotes every name."""
    make_tree(tmp_path / "in")
    odd = tmp_path / "in" / "extra" / 'we"ird\\ na\tme'
    odd.write_bytes(b"x")
    odd.chmod(0o600)
    assert_ok(create_in(pki, tmp_path, env=env_with(SOURCE_DATE_EPOCH=EPOCH)))
    listing = run_tool("unsquashfs", "-lln", tmp_path / "out.raucb").stdout
    line = next(line for line in listing.splitlines() if line.endswith("na\tme"))
    assert line.startswith("-rw-r--r-- 0/0 "), line


def test_a_name_with_a_newline_is_refused(pki, tmp_path):
    make_tree(tmp_path / "in")
    (tmp_path / "in" / "extra" / "two\nlines").write_bytes(b"x")
    proc = create_in(pki, tmp_path, env=env_with(SOURCE_DATE_EPOCH=EPOCH))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "packed reproducibly" in lines[0], proc.stderr
    assert "two\\nlines" in lines[0]
    assert not (tmp_path / "out.raucb").exists()
