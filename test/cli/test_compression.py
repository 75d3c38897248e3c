# SPDX-License-Identifier: LGPL-2.1-or-later
"""`create --compression`: which squashfs compressor a bundle's payload
uses. The default is zstd at level 3; gzip (RAUC's default), xz, lz4 and
no compression are one option away, and every choice round-trips."""
import pytest

from conftest import (assert_ok, assert_usage, create_bundle, make_input, run, run_tool,
                      sha256_file)


def squashfs_stat(bundle):
    return run_tool("unsquashfs", "-s", bundle).stdout


def test_default_compression_is_zstd_level_3(pki, tmp_path):
    make_input(tmp_path / "in")
    stat = squashfs_stat(create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb"))
    assert "Compression zstd" in stat
    assert "compression-level 3" in stat


@pytest.mark.parametrize("name,expected", [
    # Level 9 is mksquashfs's default, which it does not record.
    ("gzip", ["Compression gzip"]),
    ("gzip:1", ["Compression gzip", "compression-level 1"]),
    ("zstd:19", ["Compression zstd", "compression-level 19"]),
    ("xz", ["Compression xz"]),
    ("lz4", ["Compression lz4"]),
    ("none", ["Data is uncompressed", "Inodes are uncompressed", "Fragments are uncompressed"]),
])
def test_compression_option_chooses_the_payload_compressor(pki, tmp_path, name, expected):
    make_input(tmp_path / "in")
    stat = squashfs_stat(create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb",
                                       f"--compression={name}"))
    for text in expected:
        assert text in stat, stat


@pytest.mark.parametrize("name", ["gzip", "xz", "zstd", "lz4", "none"])
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_every_compression_extracts_to_the_original_images(pki, tmp_path, name, fmt):
    contents = make_input(tmp_path / "in", sizes=(300000, 4096, 1))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}",
                           f"--compression={name}")
    assert_ok(run("verify", "--check-images", "--keyring", pki.root, bundle))
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"))
    for filename, data in contents.items():
        assert (tmp_path / "out" / filename).read_bytes() == data


@pytest.mark.parametrize("value", ["brotli", "gzip:10", "zstd:0", "zstd:x", "xz:6", ""])
def test_unknown_compression_is_a_usage_error_before_any_work(pki, tmp_path, value):
    make_input(tmp_path / "in")
    proc = run("create", *pki.sign_args(), f"--compression={value}", tmp_path / "in",
               tmp_path / "b.raucb")
    assert_usage(proc)
    assert "compression" in proc.stderr
    assert not (tmp_path / "b.raucb").exists()


def test_compression_and_a_comp_flag_in_mksquashfs_args_is_a_usage_error(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run("create", *pki.sign_args(), "--compression=gzip", "--mksquashfs-args",
               "-comp xz", tmp_path / "in", tmp_path / "b.raucb")
    assert_usage(proc)
    assert "--compression" in proc.stderr


def test_extract_turns_zero_blocks_into_holes(pki, tmp_path):
    make_input(tmp_path / "in", sizes=(1,))
    zeros = tmp_path / "in" / "img0.img"
    zeros.write_bytes(bytes(8 * 1024 * 1024))
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb")
    assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out"))
    out = tmp_path / "out" / "img0.img"
    assert sha256_file(out) == sha256_file(zeros)
    assert out.stat().st_blocks * 512 < 1024 * 1024
