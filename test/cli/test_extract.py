# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle extract: black-box tests."""
import os

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, create_bundle, flip_byte,
                      info_json, make_input, run, run_tool, signed_manifest, tree_digest)


def extract(pki, bundle, outdir, *extra, keyring=None):
    return run("extract", "--keyring", keyring or pki.root, *extra, bundle, outdir)


@pytest.fixture
def parent(tmp_path):
    """The directory OUTDIR goes into, holding nothing else."""
    d = tmp_path / "parent"
    d.mkdir()
    return d


def assert_extracted(out, inputdir, contents):
    assert sorted(os.listdir(out)) == sorted(["manifest.raucm", *contents])
    for name, data in contents.items():
        assert (out / name).read_bytes() == data
        assert (out / name).read_bytes() == (inputdir / name).read_bytes()


def test_extract_of_a_verity_bundle_writes_the_signed_manifest_and_images_identical_to_the_inputs(
        pki, good_bundle, parent):
    """The manifest written is the one the CMS signs (with the verity
    keys), not the unsigned copy inside the squashfs."""
    bundle, inputdir, contents = good_bundle
    assert info_json(bundle)["format"] == "verity"
    out = parent / "out"
    proc = assert_ok(extract(pki, bundle, out))
    assert proc.stderr == ""
    assert_extracted(out, inputdir, contents)
    signed = signed_manifest(bundle)
    assert b"verity-hash=" in signed
    assert (out / "manifest.raucm").read_bytes() == signed
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_of_a_plain_bundle_writes_the_manifest_and_images_identical_to_the_inputs(
        pki, tmp_path, parent):
    contents = make_input(tmp_path / "in", sizes=(70000, 4096 * 3, 1))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "plain.raucb", "--format=plain")
    assert info_json(bundle)["format"] == "plain"
    out = parent / "out"
    proc = assert_ok(extract(pki, bundle, out))
    assert proc.stderr == ""
    assert_extracted(out, tmp_path / "in", contents)
    inner = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout
    assert (out / "manifest.raucm").read_text() == inner
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_accepts_an_existing_empty_outdir(pki, good_bundle, parent):
    bundle, _, contents = good_bundle
    out = parent / "out"
    out.mkdir()
    assert_ok(extract(pki, bundle, out))
    assert sorted(os.listdir(out)) == sorted(["manifest.raucm", *contents])
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_accepts_an_outdir_with_a_trailing_slash(pki, good_bundle, parent):
    bundle, _, contents = good_bundle
    assert_ok(extract(pki, bundle, f"{parent / 'out'}/"))
    assert sorted(os.listdir(parent / "out")) == sorted(["manifest.raucm", *contents])
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_refuses_a_non_empty_outdir_and_leaves_it_alone(pki, good_bundle, parent):
    bundle, _, _ = good_bundle
    out = parent / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    before = tree_digest(out)
    assert_failure(extract(pki, bundle, out), out, "not empty")
    assert tree_digest(out) == before
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_refuses_an_outdir_that_is_a_file(pki, good_bundle, parent):
    bundle, _, _ = good_bundle
    out = parent / "out"
    out.write_text("a file")
    assert_failure(extract(pki, bundle, out), out)
    assert out.read_text() == "a file"
    assert sorted(os.listdir(parent)) == ["out"]


def test_extract_with_wrong_keyring_leaves_no_outdir_and_no_temporary_files(
        pki, good_bundle, parent):
    bundle, _, _ = good_bundle
    out = parent / "out"
    proc = extract(pki, bundle, out, keyring=pki.other_root)
    assert_failure(proc, bundle, "trusted")
    assert os.listdir(parent) == []


def test_extract_with_wrong_keyring_leaves_an_empty_outdir_empty(pki, good_bundle, parent):
    bundle, _, _ = good_bundle
    out = parent / "out"
    out.mkdir()
    assert_failure(extract(pki, bundle, out, keyring=pki.other_root), bundle, "trusted")
    assert os.listdir(out) == []
    assert os.listdir(parent) == ["out"]


@pytest.mark.parametrize("where", ["payload", "cms", "trailer"])
def test_extract_of_a_tampered_bundle_leaves_nothing(pki, good_bundle, parent, where):
    bundle, _, _ = good_bundle
    size = bundle.stat().st_size
    flip_byte(bundle, {"payload": 4096, "cms": size - 200, "trailer": size - 2}[where])
    out = parent / "out"
    assert_failure(extract(pki, bundle, out), bundle)
    assert os.listdir(parent) == []


def test_extract_of_a_nonexistent_bundle_leaves_nothing(pki, tmp_path, parent):
    bundle = tmp_path / "nope.raucb"
    assert_failure(extract(pki, bundle, parent / "out"), bundle, "no such file")
    assert os.listdir(parent) == []


def test_extract_of_an_expired_signer_is_refused_and_allowed_with_no_check_time(
        pki, tmp_path, parent):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--no-check-time",
                           leaf="expired")
    assert_failure(extract(pki, bundle, parent / "out"), bundle, "expired")
    assert os.listdir(parent) == []
    assert_ok(extract(pki, bundle, parent / "out", "--no-check-time"))


def test_extract_with_crl_refuses_a_revoked_signer(pki, tmp_path, parent):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", leaf="revoked")
    assert_failure(extract(pki, bundle, parent / "out", "--crl", pki.crl), bundle, "revoked")
    assert os.listdir(parent) == []


def test_extract_without_keyring_is_a_usage_error(good_bundle, parent):
    bundle, _, _ = good_bundle
    assert_usage(run("extract", bundle, parent / "out"))
    assert os.listdir(parent) == []


def test_extract_without_outdir_is_a_usage_error(pki, good_bundle):
    bundle, _, _ = good_bundle
    assert_usage(run("extract", "--keyring", pki.root, bundle))


def test_extract_into_a_missing_parent_directory_names_the_outdir(pki, good_bundle, tmp_path):
    bundle, _, _ = good_bundle
    out = tmp_path / "missing-parent" / "out"
    assert_failure(extract(pki, bundle, out), out)
    assert not (tmp_path / "missing-parent").exists()
