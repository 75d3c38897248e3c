# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle create: black-box tests."""
import os

import pytest

from conftest import (assert_failure, assert_ok, assert_usage, bundle_trailer, create_bundle,
                      info_json, make_input, run, run_tool, sha256_file, tree_digest,
                      write_manifest)


def listing(d):
    return sorted(os.listdir(d))


@pytest.fixture
def scratch_tmp(tmp_path):
    """A private TMPDIR, to see that create leaves no scratch files behind."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    env = dict(os.environ, TMPDIR=str(d))
    return d, env


@pytest.fixture
def refused(pki, tmp_path, scratch_tmp):
    """Returns check(inputdir, path, *words, args=(), leaf=, sign_args=) that
    runs create into tmp_path/out.raucb and asserts: exit 1, one stderr line
    naming @path and containing @words, no bundle, nothing new beside it, no
    scratch files left in TMPDIR, the input directory unchanged."""
    tmpdir, env = scratch_tmp

    def check(inputdir, path, *words, args=(), leaf="ec256", sign_args=None):
        before = tree_digest(inputdir)
        beside = listing(tmp_path)
        bundle = tmp_path / "out.raucb"
        if sign_args is None:
            sign_args = pki.sign_args(leaf)
        proc = run("create", *sign_args, *args, inputdir, bundle, env=env)
        line = assert_failure(proc, path, *words)
        assert not bundle.exists()
        assert listing(tmp_path) == beside
        assert listing(tmpdir) == []
        assert tree_digest(inputdir) == before
        return line

    return check


def create(pki, inputdir, bundle, *extra, leaf="ec256", env=None):
    return run("create", *pki.sign_args(leaf), *extra, inputdir, bundle, env=env)


# --- success -------------------------------------------------------------------


def test_create_makes_a_bundle_that_verify_accepts(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    proc = assert_ok(create(pki, input_dir, bundle))
    assert proc.stderr == ""
    assert bundle.is_file()
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))


def test_create_writes_size_and_sha256_of_the_image_into_the_bundle_manifest(
        pki, tmp_path, input_dir):
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    info = info_json(bundle, pki.root)
    images = info["manifest"]["images"]
    assert len(images) == 1
    image = input_dir / "img0.img"
    assert images[0]["filename"] == "img0.img"
    assert images[0]["slotclass"] == "img0"
    assert images[0]["size"] == image.stat().st_size
    assert images[0]["sha256"] == sha256_file(image)
    assert info["manifest"]["compatible"] == "otabundle-test"
    assert info["manifest"]["version"] == "1.0.0"


def test_create_hashes_every_image_when_there_are_several(pki, tmp_path):
    sizes = (1, 4095, 4096, 4097, 131072 + 17, 300000)
    contents = make_input(tmp_path / "in", sizes=sizes)
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "out.raucb")
    images = {i["filename"]: i for i in info_json(bundle, pki.root)["manifest"]["images"]}
    assert set(images) == set(contents)
    for name, data in contents.items():
        assert images[name]["size"] == len(data)
        assert images[name]["sha256"] == sha256_file(tmp_path / "in" / name)
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))


def test_create_does_not_modify_the_input_directory(pki, tmp_path, input_dir):
    before = tree_digest(input_dir)
    manifest_before = (input_dir / "manifest.raucm").read_bytes()
    create_bundle(pki, input_dir, tmp_path / "out.raucb")
    assert tree_digest(input_dir) == before
    assert (input_dir / "manifest.raucm").read_bytes() == manifest_before
    assert b"sha256" not in manifest_before


def test_create_leaves_no_scratch_files_in_tmpdir(pki, tmp_path, input_dir, scratch_tmp):
    tmpdir, env = scratch_tmp
    assert_ok(create(pki, input_dir, tmp_path / "out.raucb", env=env))
    assert listing(tmpdir) == []


def test_create_leaves_no_temporary_file_beside_the_bundle(pki, tmp_path, input_dir):
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    create_bundle(pki, input_dir, outdir / "out.raucb")
    assert listing(outdir) == ["out.raucb"]


@pytest.mark.parametrize("leaf", ["ec384", "rsa2048"])
def test_create_signs_with_p384_and_rsa2048_keys(pki, tmp_path, input_dir, leaf):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, leaf=leaf))
    assert_ok(run("verify", "--keyring", pki.root, bundle))
    signers = info_json(bundle, pki.root)["signers"]
    assert len(signers) == 1
    assert f"CN=signer {leaf}" in signers[0]["subject"]


def test_create_keeps_meta_otabundle_group_in_the_bundle_manifest(pki, tmp_path):
    make_input(tmp_path / "in", extra="""
        [meta.otabundle]
        security-version=7
        expires=2099-01-01T00:00:00Z
        hardware-revisions=rev-a;rev-b
        """)
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "out.raucb")
    meta = info_json(bundle, pki.root)["manifest"]["meta"]
    assert meta["otabundle"]["security-version"] == "7"
    assert meta["otabundle"]["expires"] == "2099-01-01T00:00:00Z"
    assert meta["otabundle"]["hardware-revisions"] == "rev-a;rev-b"
    inner = run_tool("unsquashfs", "-cat", bundle, "manifest.raucm").stdout
    assert "[meta.otabundle]" in inner and "security-version=7" in inner


def test_create_packs_the_hook_file_named_in_the_manifest(pki, tmp_path, input_dir):
    (input_dir / "hook.sh").write_text("#!/bin/sh\nexit 0\n")
    write_manifest(input_dir, {"img0": {"filename": "img0.img", "hooks": "post-install"}},
                   extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    m = info_json(bundle, pki.root)["manifest"]
    assert m["hook_filename"] == "hook.sh"
    assert m["hooks"] == ["install-check"]
    assert m["images"][0]["hooks"] == ["post-install"]
    assert run_tool("unsquashfs", "-cat", bundle, "hook.sh").stdout == "#!/bin/sh\nexit 0\n"


def test_create_with_mksquashfs_args_comp_xz_makes_an_xz_payload(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--mksquashfs-args", "-comp xz"))
    stat = run_tool("unsquashfs", "-s", bundle).stdout
    assert "Compression xz" in stat
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))


def test_create_with_force_overwrites_an_existing_bundle(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    bundle.write_bytes(b"old contents")
    assert_ok(create(pki, input_dir, bundle, "--force"))
    assert_ok(run("verify", "--keyring", pki.root, bundle))
    assert listing(tmp_path) == sorted(["input", "out.raucb"])


def test_create_with_no_check_time_signs_with_an_expired_certificate(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--no-check-time", leaf="expired"))
    assert_ok(run("verify", "--keyring", pki.root, "--no-check-time", bundle))


# --- refused output ----------------------------------------------------------------


def test_create_refuses_an_existing_bundle_without_force(pki, tmp_path, input_dir):
    bundle = tmp_path / "out.raucb"
    bundle.write_bytes(b"old contents")
    proc = create(pki, input_dir, bundle)
    assert_failure(proc, bundle, "exists")
    assert bundle.read_bytes() == b"old contents"
    assert listing(tmp_path) == sorted(["input", "out.raucb"])


def test_create_refuses_an_output_in_a_missing_directory(pki, tmp_path, input_dir):
    bundle = tmp_path / "nonexistent" / "out.raucb"
    assert_failure(create(pki, input_dir, bundle), bundle)
    assert not (tmp_path / "nonexistent").exists()


def test_create_refuses_a_missing_input_directory(pki, tmp_path):
    bundle = tmp_path / "out.raucb"
    assert_failure(create(pki, tmp_path / "nope", bundle), tmp_path / "nope")
    assert not bundle.exists()


# --- refused input -------------------------------------------------------------------


def test_create_refuses_a_manifest_naming_a_missing_image(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": "img0.img", "extra": "missing.img"})
    refused(input_dir, input_dir / "missing.img", "no such file")


def test_create_refuses_an_input_directory_without_manifest(tmp_path, input_dir, refused):
    (input_dir / "manifest.raucm").unlink()
    refused(input_dir, input_dir / "manifest.raucm")


def test_create_refuses_a_symlinked_image(tmp_path, input_dir, refused):
    (input_dir / "img0.img").rename(input_dir / "real.img")
    os.symlink("real.img", input_dir / "img0.img")
    line = refused(input_dir, input_dir / "img0.img")
    assert "symbolic link" in line or "not a regular file" in line, line


def test_create_refuses_a_symlinked_image_pointing_outside(tmp_path, input_dir, refused):
    outside = tmp_path / "outside.img"
    (input_dir / "img0.img").rename(outside)
    os.symlink(outside, input_dir / "img0.img")
    line = refused(input_dir, input_dir / "img0.img")
    assert "symbolic link" in line or "not a regular file" in line, line


def test_create_refuses_an_image_that_is_a_directory(tmp_path, input_dir, refused):
    (input_dir / "img0.img").unlink()
    (input_dir / "img0.img").mkdir()
    refused(input_dir, input_dir / "img0.img")


def test_create_refuses_an_unknown_key_in_the_manifest(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": "img0.img"}, update_extra="colour=blue")
    refused(input_dir, input_dir / "manifest.raucm", "unknown", "colour")


def test_create_refuses_an_unknown_key_in_an_image_group(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": {"filename": "img0.img", "colour": "blue"}})
    refused(input_dir, input_dir / "manifest.raucm", "unknown", "colour")


def test_create_refuses_an_unknown_group_in_the_manifest(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": "img0.img"}, extra="[colours]\nsky=blue\n")
    refused(input_dir, input_dir / "manifest.raucm", "colours")


def test_create_refuses_a_manifest_without_compatible(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": "img0.img"}, compatible=None)
    refused(input_dir, input_dir / "manifest.raucm", "compatible")


def test_create_refuses_a_manifest_without_images(tmp_path, input_dir, refused):
    write_manifest(input_dir, {})
    refused(input_dir, input_dir / "manifest.raucm", "image")


def test_create_refuses_an_image_named_like_the_manifest(tmp_path, input_dir, refused):
    """The bundle's manifest.raucm is the completed manifest, not this
    file: a bundle made from it would fail its own verify --check-images."""
    write_manifest(input_dir, {"img0": "img0.img", "m": "manifest.raucm"})
    refused(input_dir, input_dir / "manifest.raucm", "manifest.raucm")


def test_create_refuses_a_symlinked_hook_file(tmp_path, input_dir, refused):
    os.symlink("/etc/passwd", input_dir / "hook.sh")
    write_manifest(input_dir, {"img0": "img0.img"},
                   extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    refused(input_dir, input_dir / "hook.sh")


def test_create_refuses_a_missing_hook_file(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": "img0.img"},
                   extra="[hooks]\nfilename=hook.sh\nhooks=install-check\n")
    refused(input_dir, input_dir / "hook.sh")


def test_create_refuses_an_unknown_hook_name(tmp_path, input_dir, refused):
    (input_dir / "hook.sh").write_text("#!/bin/sh\n")
    write_manifest(input_dir, {"img0": "img0.img"},
                   extra="[hooks]\nfilename=hook.sh\nhooks=format-disk\n")
    refused(input_dir, input_dir / "manifest.raucm", "format-disk")


def test_create_refuses_a_manifest_that_is_not_ini(tmp_path, input_dir, refused):
    (input_dir / "manifest.raucm").write_bytes(b"\x00\xff garbage\n[[[\n")
    refused(input_dir, input_dir / "manifest.raucm")


@pytest.mark.parametrize("filename", ["sub/img0.img", "../outside.img", "..", ".",
                                      "./img0.img", "/etc/passwd", ""])
def test_create_refuses_an_image_filename_with_a_slash_or_dot_dot(tmp_path, input_dir, refused,
                                                                  filename):
    (input_dir / "sub").mkdir()
    (input_dir / "sub" / "img0.img").write_bytes(b"x" * 100)
    (tmp_path / "outside.img").write_bytes(b"y" * 100)
    write_manifest(input_dir, {"img0": filename})
    refused(input_dir, input_dir / "manifest.raucm", "filename")


@pytest.mark.parametrize("field, value, word", [
    ("size", "12345", "size"),
    ("size", "65660", "size"),  # one more than the real size
    ("sha256", "00" * 32, "sha256"),
])
def test_create_refuses_a_size_or_sha256_in_the_input_manifest_that_does_not_match_the_image(
        tmp_path, input_dir, refused, field, value, word):
    write_manifest(input_dir, {"img0": {"filename": "img0.img", field: value}})
    refused(input_dir, input_dir / "img0.img", word, "match")


def test_create_accepts_a_correct_size_and_sha256_in_the_input_manifest(pki, tmp_path,
                                                                        input_dir):
    image = input_dir / "img0.img"
    write_manifest(input_dir, {"img0": {"filename": "img0.img", "size": image.stat().st_size,
                                        "sha256": sha256_file(image).upper()}})
    bundle = create_bundle(pki, input_dir, tmp_path / "out.raucb")
    assert info_json(bundle, pki.root)["manifest"]["images"][0]["sha256"] == sha256_file(image)


def test_create_refuses_a_malformed_sha256_in_the_input_manifest(tmp_path, input_dir, refused):
    write_manifest(input_dir, {"img0": {"filename": "img0.img", "sha256": "xyz"}})
    refused(input_dir, input_dir / "manifest.raucm", "sha256")


# --- keys and certificates ------------------------------------------------------------


def test_create_refuses_a_missing_key_file(pki, tmp_path, input_dir, refused):
    missing = tmp_path / "missing.key"
    refused(input_dir, missing, sign_args=["--cert", pki.ec256.cert, "--key", missing])


def test_create_refuses_a_garbage_key_file(pki, tmp_path, input_dir, refused):
    garbage = pki.dir / "garbage.pem"
    refused(input_dir, garbage, "key", sign_args=["--cert", pki.ec256.cert, "--key", garbage])


def test_create_refuses_a_garbage_certificate_file(pki, tmp_path, input_dir, refused):
    garbage = pki.dir / "garbage.pem"
    refused(input_dir, garbage, "certificate",
            sign_args=["--cert", garbage, "--key", pki.ec256.key])


def test_create_refuses_a_key_given_as_certificate(pki, tmp_path, input_dir, refused):
    refused(input_dir, pki.ec256.key, sign_args=["--cert", pki.ec256.key, "--key", pki.ec256.key])


def test_create_refuses_a_key_path_that_is_a_directory(pki, tmp_path, input_dir, refused):
    key = tmp_path / "key-dir"
    key.mkdir()
    refused(input_dir, key, sign_args=["--cert", pki.ec256.cert, "--key", key])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files")
def test_create_refuses_an_unreadable_key_file(pki, tmp_path, input_dir, refused):
    key = tmp_path / "unreadable.key"
    key.write_bytes(pki.ec256.key.read_bytes())
    key.chmod(0)
    refused(input_dir, key, sign_args=["--cert", pki.ec256.cert, "--key", key])


def test_create_refuses_a_key_that_does_not_match_the_certificate(pki, tmp_path, input_dir,
                                                                  refused):
    refused(input_dir, pki.ec384.key, "match",
            sign_args=["--cert", pki.ec256.cert, "--key", pki.ec384.key])


def test_create_refuses_an_rsa_1024_key(pki, tmp_path, input_dir, refused):
    refused(input_dir, pki.rsa1024.key, "1024", leaf="rsa1024")


def test_create_refuses_an_expired_certificate(pki, tmp_path, input_dir, refused):
    refused(input_dir, pki.expired.cert, "expired", leaf="expired")


def test_create_pads_the_payload_to_4_kib_even_with_nopad(pki, tmp_path, input_dir):
    # The manifest is added to the image in a second mksquashfs run, which
    # pads; the bundle format needs the 4 KiB alignment.
    bundle = tmp_path / "out.raucb"
    assert_ok(create(pki, input_dir, bundle, "--format=plain", "--mksquashfs-args", "-nopad"))
    file_size, cms_size = bundle_trailer(bundle)
    assert (file_size - cms_size - 8) % 4096 == 0
    assert_ok(run("verify", "--keyring", pki.root, "--check-images", bundle))


def mksquashfs_wrapper(tmp_path, script):
    """An OTABUNDLE_MKSQUASHFS that runs @script (sh, with the arguments in
    "$@") before the real mksquashfs; the append run is the one with
    -no-recovery."""
    wrapper = tmp_path / "mksquashfs-wrapper"
    wrapper.write_text(f"#!/bin/sh\n{script}\nexec mksquashfs \"$@\"\n")
    wrapper.chmod(0o755)
    return dict(os.environ, OTABUNDLE_MKSQUASHFS=str(wrapper))


def test_create_refuses_an_image_that_changes_while_it_is_packed(pki, tmp_path, input_dir):
    # Another process appends to the image just as mksquashfs starts: the
    # hash in the manifest and the packed bytes could differ.
    image = input_dir / "img0.img"
    env = mksquashfs_wrapper(tmp_path, f'case " $* " in *" -no-recovery "*) ;; '
                                       f'*) printf x >> "{image}" ;; esac')
    bundle = tmp_path / "out.raucb"
    beside = listing(tmp_path)
    assert_failure(create(pki, input_dir, bundle, env=env), image, "changed while")
    assert not bundle.exists()
    assert listing(tmp_path) == beside


def test_create_reports_a_failing_manifest_append_and_writes_nothing(pki, tmp_path, input_dir):
    env = mksquashfs_wrapper(tmp_path, 'case " $* " in *" -no-recovery "*) '
                                       'echo "FATAL ERROR: No space left on device" >&2; exit 1;; esac')
    bundle = tmp_path / "out.raucb"
    before = tree_digest(input_dir)
    beside = listing(tmp_path)
    assert_failure(create(pki, input_dir, bundle, env=env), bundle, "No space left")
    assert not bundle.exists()
    assert listing(tmp_path) == beside
    assert tree_digest(input_dir) == before


def test_create_refuses_mksquashfs_args_that_mksquashfs_rejects_naming_the_cause(
        pki, tmp_path, input_dir, refused):
    # The decisive line of mksquashfs' error output, not whatever it printed last.
    refused(input_dir, tmp_path / "out.raucb", "no-such-compressor",
            args=("--mksquashfs-args", "-comp no-such-compressor"))


def test_create_with_unparsable_mksquashfs_args_is_a_usage_error(pki, tmp_path, input_dir):
    proc = run("create", *pki.sign_args(), "--mksquashfs-args", "-comp 'xz", input_dir,
               tmp_path / "out.raucb")
    assert_usage(proc)
    assert "--mksquashfs-args" in proc.stderr
    assert listing(tmp_path) == ["input"]


# --- usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    pytest.param(["--cert", "{cert}", "{in}", "{out}"], id="missing-key"),
    pytest.param(["--key", "{key}", "{in}", "{out}"], id="missing-cert"),
    pytest.param(["--cert", "{cert}", "--cert", "{cert}", "--key", "{key}", "{in}", "{out}"],
                 id="two-certs-one-key"),
    pytest.param(["--cert", "{cert}", "--key", "{key}", "{in}"], id="one-positional"),
    pytest.param(["--cert", "{cert}", "--key", "{key}", "{in}", "{out}", "{out}2"],
                 id="three-positionals"),
    pytest.param(["--cert", "{cert}", "--key", "{key}", "--bogus", "{in}", "{out}"],
                 id="unknown-option"),
    pytest.param(["--cert", "{cert}", "--key", "{key}", "--format=squash", "{in}", "{out}"],
                 id="unknown-format"),
    pytest.param(["--cert", "{cert}", "--key", "{key}", "{in}", "{out}", "--key"],
                 id="option-without-value"),
])
def test_create_with_wrong_usage_exits_2_and_writes_nothing(pki, tmp_path, input_dir, args):
    out = tmp_path / "out.raucb"
    subst = {"{cert}": str(pki.ec256.cert), "{key}": str(pki.ec256.key),
             "{in}": str(input_dir), "{out}": str(out), "{out}2": str(out) + "2"}
    proc = run("create", *[subst.get(a, a) for a in args])
    assert_usage(proc)
    assert listing(tmp_path) == ["input"]
