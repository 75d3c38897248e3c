# SPDX-License-Identifier: LGPL-2.1-or-later
"""create --set NAME=VALUE: fields of the packed manifest set at build time,
the input directory left as it is."""
import pytest

from conftest import (assert_ok, assert_usage, info_json, run, run_tool, signed_manifest,
                      tree_digest)


def create(pki, inputdir, bundle, *extra):
    return run("create", *pki.sign_args(), *extra, inputdir, bundle)


def test_set_overrides_and_adds_fields_in_the_bundle(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--set", "update.version=2.0.1",
                     "--set", "update.build=pipeline 77", "--set", "meta.ci.commit=abc123",
                     "--set", "update.description=nightly"))
    manifest = info_json(bundle, pki.root)["manifest"]
    assert manifest["version"] == "2.0.1"
    assert manifest["build"] == "pipeline 77"
    assert manifest["description"] == "nightly"
    assert manifest["meta"]["ci"] == {"commit": "abc123"}
    assert manifest["compatible"] == "otabundle-test"


def test_set_leaves_the_input_directory_untouched(pki, tmp_path, input_dir):
    before = tree_digest(input_dir)
    manifest_before = (input_dir / "manifest.raucm").read_bytes()
    assert_ok(create(pki, input_dir, tmp_path / "out.raucb", "--set", "update.version=9",
                     "--set", "meta.ci.id=1"))
    assert (input_dir / "manifest.raucm").read_bytes() == manifest_before
    assert tree_digest(input_dir) == before


def test_set_fields_are_signed(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--set", "update.build=b-42"))
    assert b"\nbuild=b-42\n" in signed_manifest(bundle)
    assert_ok(run("verify", "--keyring", pki.root, bundle))


def test_set_fields_are_in_the_plain_bundles_manifest(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--format=plain", "--set", "update.build=b-43"))
    packed = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout
    assert "\nbuild=b-43\n" in packed
    assert info_json(bundle, pki.root)["manifest"]["build"] == "b-43"


def test_set_value_with_special_characters_round_trips(pki, tmp_path, input_dir):
    value = "x=1; #not a comment \\ and trailing space "
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--set", f"update.description={value}"))
    assert info_json(bundle, pki.root)["manifest"]["description"] == value


@pytest.mark.parametrize("setting", ["image.img0.sha256=" + "0" * 64, "bundle.format=plain",
                                     "hooks.filename=hook.sh", "update.size=1",
                                     "handler.args=x"])
def test_set_refuses_fields_it_does_not_own(pki, tmp_path, input_dir, setting):
    bundle = tmp_path / "out.raucb"
    proc = create(pki, input_dir, bundle, "--set", setting)
    assert_usage(proc)
    assert f"--set {setting.split('=')[0]}: not a field" in proc.stderr.splitlines()[0]
    assert not bundle.exists()


@pytest.mark.parametrize("setting, words", [
    ("update.version", "NAME=VALUE"),
    ("meta.bad label.key=1", "meta.LABEL.KEY"),
    ("meta.label=1", "meta.LABEL.KEY"),
    ("update.compatible=", "compatible"),
])
def test_set_refuses_malformed_settings(pki, tmp_path, input_dir, setting, words):
    bundle = tmp_path / "out.raucb"
    proc = create(pki, input_dir, bundle, "--set", setting)
    assert_usage(proc)
    first = proc.stderr.splitlines()[0]
    assert f"--set {setting.split('=')[0]}" in first and words in first, first
    assert not bundle.exists()


def test_set_refuses_a_field_given_twice(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    proc = create(pki, input_dir, bundle, "--set", "update.version=1", "--set",
                  "update.version=2")
    assert_usage(proc)
    assert "--set update.version: given twice" in proc.stderr
    assert not bundle.exists()


def test_set_can_change_compatible(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--set", "update.compatible=other-board"))
    assert info_json(bundle, pki.root)["manifest"]["compatible"] == "other-board"
