# SPDX-License-Identifier: LGPL-2.1-or-later
"""otabundle as a drop-in for `rauc` on the build host (otabundle(1), RAUC
COMPATIBILITY).

The command lines that meta-rauc, ptxdist (through genimage), Buildroot
(br2rauc), Nix (playos) and RAUC's own manual run are kept verbatim in
test/data/rauc-command-lines/ with their source; they run here through a
`rauc` symlink to the built otabundle, first on PATH, with only paths
filled in, and what they make must pass Debian's real rauc 1.8
(`/usr/bin/rauc info --keyring`). As rauc 1.8 needs no system.conf for
info, the interop checks use none unless a test is about one.
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (OTABUNDLE, assert_ok, assert_usage, make_input, run, run_tool,
                      signed_manifest)
# SoftHSM2's token, as test_pkcs11 makes it (the fixture hsm is reused).
from test_pkcs11 import EC_CERT, EC_KEY, SOFTHSM_MODULE, USER_PIN, WRONG_PIN, hsm  # noqa: F401

DATA = Path(__file__).resolve().parents[1] / "data" / "rauc-command-lines"
REAL_RAUC = "/usr/bin/rauc"

needs_rauc = pytest.mark.skipif(not Path(REAL_RAUC).exists(), reason="rauc not installed")


# --- running ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rauc_dir(tmp_path_factory):
    """A directory holding `rauc`, a symlink to the built otabundle."""
    d = tmp_path_factory.mktemp("rauc-bin")
    (d / "rauc").symlink_to(Path(OTABUNDLE).resolve())
    return d


@pytest.fixture
def env(rauc_dir):
    """The environment of a build: our `rauc` first on PATH, and no
    PKCS#11 variables of the caller."""
    e = {k: v for k, v in os.environ.items() if "PKCS11" not in k}
    e["PATH"] = f"{rauc_dir}{os.pathsep}{e['PATH']}"
    return e


@pytest.fixture
def rauc(rauc_dir):
    """rauc(*args, **kwargs): runs our `rauc` (the symlink)."""
    def rauc(*args, **kwargs):
        return run(*args, binary=rauc_dir / "rauc", **kwargs)
    return rauc


def real_rauc(*args, **kwargs):
    return run_tool(REAL_RAUC, *args, check=False, **kwargs)


def assert_rauc_accepts(bundle, keyring, *extra, fmt=None):
    """Debian's rauc 1.8 verifies @bundle against @keyring."""
    proc = real_rauc(*extra, "info", "--keyring", keyring, bundle)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if fmt is not None:
        assert f"Bundle Format: \t{fmt}" in proc.stdout, proc.stdout
    return proc


def shell(script, env, cwd=None):
    """Runs @script with /bin/sh, as a build system does."""
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env,
                          cwd=cwd)


def data_lines(name):
    """The lines of test data file @name, without its comment lines."""
    return [l for l in (DATA / name).read_text().splitlines() if not l.startswith("#")]


def data_section(name, section):
    """The lines of @name after the marker "# --- @section ..." up to the
    next marker."""
    text = (DATA / name).read_text()
    start = text.index(f"# --- {section}")
    start = text.index("\n", start) + 1
    end = text.find("\n# --- ", start)
    return text[start:end if end >= 0 else None]


def expand(text, **values):
    """Textual ${NAME} expansion, as BitBake and Nix do before a shell runs."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", str(value))
    assert "${" not in text, text
    return text


def assert_one_line(proc, *words, code):
    """Exit @code and otabundle's one line (a usage error adds "Try ...")
    holding each of @words."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("otabundle: "), proc.stderr
    assert len(lines) == 1 or (code == 2 and lines[1:] == ["Try 'rauc --help'."]), proc.stderr
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]
    return lines[0]


def rootfs_input(d, fmt="verity"):
    """An input directory as meta-rauc's bundle.bbclass writes it."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "rootfs.ext4").write_bytes(os.urandom(70000))
    text = "[update]\ncompatible=qemux86-64\nversion=1.0\ndescription=demo\nbuild=20260101\n\n"
    if fmt is not None:
        text += f"[bundle]\nformat={fmt}\n\n"
    text += "[image.rootfs]\nfilename=rootfs.ext4\n"
    (d / "manifest.raucm").write_text(text)
    return d


def compression(bundle):
    return re.search(r"Compression (\w+)", run_tool("unsquashfs", "-s", bundle).stdout).group(1)


# --- meta-rauc (Yocto) -----------------------------------------------------------------

META_RAUC = "meta-rauc-bundle.bbclass.sh"


def meta_rauc_bundle(pki, rauc_dir, tmp_path, bundle_args=""):
    """bundle.bbclass's do_bundle rauc line, expanded as BitBake does."""
    b = tmp_path / "B"
    b.mkdir()
    script = expand(data_section(META_RAUC, "bundle"), STAGING_BINDIR_NATIVE=rauc_dir,
                    RAUC_CERT_FILE=pki.other.cert, RAUC_KEY_FILE=pki.other.key,
                    BUNDLE_ARGS=bundle_args,
                    BUNDLE_DIR=tmp_path / "bundle-dir", B=b)
    return script, b / "bundle.raucb"


@needs_rauc
def test_meta_rauc_bundle_line_makes_a_bundle_that_rauc_accepts(pki, rauc_dir, env, tmp_path):
    rootfs_input(tmp_path / "bundle-dir")
    script, bundle = meta_rauc_bundle(pki, rauc_dir, tmp_path)
    assert "--debug" in script and "rauc bundle" in script
    assert_ok(shell(script, env))
    assert_rauc_accepts(bundle, pki.other_root, fmt="verity")


@needs_rauc
def test_meta_rauc_bundle_args_example_packs_with_the_given_mksquashfs_args(pki, rauc_dir, env,
                                                                          tmp_path):
    example = re.search(r"BUNDLE_ARGS \+= '(.*)'", (DATA / META_RAUC).read_text()).group(1)
    rootfs_input(tmp_path / "bundle-dir")
    script, bundle = meta_rauc_bundle(pki, rauc_dir, tmp_path, bundle_args=example)
    assert_ok(shell(script, env))
    assert compression(bundle) == "zstd"
    assert_rauc_accepts(bundle, pki.other_root, fmt="verity")


@needs_rauc
def test_meta_rauc_without_a_bundle_format_gets_a_gzip_plain_bundle_as_from_rauc(
        pki, rauc_dir, env, tmp_path):
    """bundle.bbclass writes no [bundle] group without RAUC_BUNDLE_FORMAT:
    rauc then makes a plain bundle, with mksquashfs's gzip, which a fleet
    without dm-verity or zstd in its kernels can install."""
    rootfs_input(tmp_path / "bundle-dir", fmt=None)
    script, bundle = meta_rauc_bundle(pki, rauc_dir, tmp_path)
    assert_ok(shell(script, env))
    assert compression(bundle) == "gzip"
    assert_rauc_accepts(bundle, pki.other_root, fmt="plain")


@needs_rauc
def test_meta_rauc_encrypt_line_encrypts_its_crypt_bundle_for_the_recipient(pki, rauc_dir, env,
                                                                           tmp_path):
    rootfs_input(tmp_path / "bundle-dir", fmt="crypt")
    script, bundle = meta_rauc_bundle(pki, rauc_dir, tmp_path)
    assert_ok(shell(script, env))
    encrypt = expand(data_section(META_RAUC, "encrypt"),
                     STAGING_BINDIR_NATIVE=rauc_dir,
                     RAUC_RECIPIENTS_CERT_FILE=pki.encryption.cert,
                     RAUC_KEYRING_FILE=pki.other_root, B=bundle.parent)
    assert_ok(shell(encrypt, env))
    encrypted = bundle.parent / "encrypted-bundle.raucb"
    assert_rauc_accepts(encrypted, pki.other_root, "--key", pki.encryption.key, fmt="crypt")


# --- ptxdist through genimage --------------------------------------------------------


def genimage_formats():
    lines = data_lines("genimage-image-rauc.txt")
    keyring, intermediate, command = lines
    return keyring, intermediate, command


def ptxdist_manifest(**values):
    """The manifest of ptxdist's config/images/rauc.config, as genimage
    writes it (tabs and all), its @VARIABLES@ filled in as ptxdist does."""
    config = (DATA / "ptxdist-rauc.config").read_text()
    manifest = re.search(r'manifest = "\n(.*?)"\n', config, re.S).group(1)
    for name, value in values.items():
        manifest = manifest.replace(f"@{name}@", value)
    assert "@" not in manifest
    return manifest


def genimage_bundle(pki, rauc_dir, tmp_path, intermediates=True, keyring=None):
    tmpdir = tmp_path / "genimage-tmp" / "rauc-update.raucb"
    tmpdir.mkdir(parents=True)
    (tmpdir / "manifest.raucm").write_text(ptxdist_manifest(
        RAUC_BUNDLE_COMPATIBLE="Demo Board", RAUC_BUNDLE_VERSION="2026.01.0",
        RAUC_BUNDLE_BUILD="2026-01-01T12:00:00+0000", RAUC_BUNDLE_DESCRIPTION="demo"))
    (tmpdir / "root.tar.gz").write_bytes(os.urandom(30000))
    keyring_fmt, intermediate_fmt, command_fmt = genimage_formats()
    out = tmp_path / "images" / "update.raucb"
    out.parent.mkdir()
    keyringarg = keyring_fmt % (keyring or pki.root)
    intermediatearg = intermediate_fmt % pki.intermediate if intermediates else ""
    leaf = pki.leaves["ec256"]
    return command_fmt % (rauc_dir / "rauc", tmpdir, leaf.cert, leaf.key, keyringarg,
                          intermediatearg, "", out), out


@needs_rauc
def test_genimage_line_of_ptxdist_makes_a_bundle_that_rauc_accepts(pki, rauc_dir, env,
                                                                   tmp_path):
    script, bundle = genimage_bundle(pki, rauc_dir, tmp_path)
    assert_ok(shell(script, env))
    proc = assert_rauc_accepts(bundle, pki.root, fmt="plain")
    assert "Compatible: \t'Demo Board'" in proc.stdout


def test_genimage_line_without_the_intermediate_is_caught_by_its_keyring(pki, rauc_dir, env,
                                                                          tmp_path):
    """genimage passes --keyring: as rauc does, the new bundle is checked
    against it before it is written."""
    script, bundle = genimage_bundle(pki, rauc_dir, tmp_path, intermediates=False)
    proc = shell(script, env)
    assert_one_line(proc, str(bundle), "did you forget --intermediate", code=1)
    assert list(bundle.parent.iterdir()) == []


# --- Buildroot: br2rauc ---------------------------------------------------------------


def br2rauc_tree(pki, tmp_path):
    """BR2_EXTERNAL with br2rauc's openssl-ca layout (development-1 signed
    by the CA directly, as its openssl-ca.sh makes it) and BINARIES_DIR
    with the temp-update directory post-image.sh fills."""
    ext = tmp_path / "br2rauc"
    dev = ext / "openssl-ca" / "dev"
    (dev / "private").mkdir(parents=True)
    shutil.copy(pki.other.cert, dev / "development-1.cert.pem")
    shutil.copy(pki.other.key, dev / "private" / "development-1.key.pem")
    shutil.copy(pki.other_root, dev / "ca.cert.pem")
    binaries = tmp_path / "images"
    (binaries / "temp-update").mkdir(parents=True)
    (binaries / "temp-update" / "boot.vfat").write_bytes(os.urandom(40000))
    (binaries / "temp-update" / "rootfs.ext4").write_bytes(os.urandom(90000))
    (binaries / "temp-update" / "manifest.raucm").write_text(
        "[update]\ncompatible=br2rauc-rpi4-64\nversion=2026.02\n[bundle]\nformat=verity\n"
        "[image.bootloader]\nfilename=boot.vfat\n[image.rootfs]\nfilename=rootfs.ext4\n")
    return ext, binaries


@needs_rauc
def test_br2rauc_post_image_lines_make_a_bundle_and_its_status_file(pki, rauc_dir, env,
                                                                     tmp_path):
    ext, binaries = br2rauc_tree(pki, tmp_path)
    host = tmp_path / "host"
    (host / "bin").mkdir(parents=True)
    (host / "bin" / "rauc").symlink_to(rauc_dir / "rauc")
    script = "\n".join(data_lines("br2rauc-post-image.sh"))
    proc = shell(script, dict(env, HOST_DIR=str(host), BINARIES_DIR=str(binaries),
                              BR2_EXTERNAL_BR2RAUC_PATH=str(ext)))
    assert_ok(proc)
    bundle = binaries / "update.raucb"
    assert_rauc_accepts(bundle, pki.other_root, fmt="verity")
    status = (binaries / "rauc.status").read_text()
    boot = hashlib.sha256((binaries / "temp-update" / "boot.vfat").read_bytes()).hexdigest()
    rootfs = hashlib.sha256((binaries / "temp-update" / "rootfs.ext4").read_bytes()).hexdigest()
    assert ("[slot.bootloader.0]\nbundle.compatible=br2rauc-rpi4-64\nbundle.version=2026.02\n"
            f"status=ok\nsha256={boot}\nsize=40000\n") in status
    assert f"[slot.rootfs.0]\nbundle.compatible=br2rauc-rpi4-64\n" in status
    assert f"sha256={rootfs}\nsize=90000\n" in status


# --- Nix: playos ----------------------------------------------------------------------


@needs_rauc
def test_playos_nix_line_with_options_before_the_command_makes_a_bundle(pki, env, tmp_path):
    temp = tmp_path / "temp"
    (temp / "rauc-bundle").mkdir(parents=True)
    (temp / "rauc-bundle" / "system.tar.xz").write_bytes(os.urandom(20000))
    (temp / "rauc-bundle" / "manifest.raucm").write_text(
        "  [update]\n  compatible=Dividat Play Computer\n  version=2026.1.0\n\n"
        "  [image.system]\n  filename=system.tar.xz\n")
    out = tmp_path / "bundle-2026.1.0.raucb"
    script = expand("\n".join(data_lines("playos-make-rauc-bundle.nix.sh")),
                    cert=pki.other.cert, key=pki.other.key)
    assert script.lstrip().startswith("rauc \\")
    assert_ok(shell(script, dict(env, TEMP=str(temp), out=str(out))))
    assert_rauc_accepts(out, pki.other_root, fmt="plain")


# --- RAUC's manual ---------------------------------------------------------------------


def manual_line(prefix):
    return next(l for l in data_lines("rauc-docs.sh") if l.startswith(prefix))


@pytest.fixture
def manual_dir(pki, tmp_path):
    """The files the manual's examples name, in one working directory."""
    d = tmp_path / "manual"
    d.mkdir()
    for name in ("ca.cert.pem", "ca-cert.pem"):
        shutil.copy(pki.root, d / name)
    shutil.copy(pki.other_root, d / "new-ca-cert.pem")
    shutil.copy(pki.other.cert, d / "new-signer.cert.pem")
    shutil.copy(pki.other.key, d / "new-signer.key.pem")
    shutil.copy(pki.other.cert, d / "demo.cert.pem")
    shutil.copy(pki.other.key, d / "demo.key.pem")
    return d


@needs_rauc
def test_manual_bundle_example_with_options_before_the_command(pki, env, manual_dir):
    make_input(manual_dir / "temp-dir")
    assert_ok(shell(manual_line("rauc --cert demo.cert.pem"), env, cwd=manual_dir))
    assert_rauc_accepts(manual_dir / "update-2015.04-1.raucb", pki.other_root)


@pytest.fixture
def signed(pki, tmp_path):
    """A verity bundle signed by the session PKI's ec256 leaf (with its
    intermediate), made by otabundle itself."""
    make_input(tmp_path / "in", sizes=(50000, 3000), extra="[meta.release]\nchannel=stable\n")
    bundle = tmp_path / "signed.raucb"
    assert_ok(run("create", *pki.sign_args(), tmp_path / "in", bundle))
    return bundle


@needs_rauc
def test_manual_resign_line_makes_a_bundle_that_rauc_accepts(pki, env, manual_dir, tmp_path):
    """The manual's PKI signs with a certificate its CA issued directly, so
    one keyring checks both the old and the new signature."""
    make_input(tmp_path / "in")
    devel = tmp_path / "devel.raucb"
    assert_ok(run("create", *pki.sign_args("other", intermediate=False), tmp_path / "in",
                  devel))
    script = (manual_line("rauc resign").replace("<certfile>", str(pki.other.cert))
              .replace("<keyfile>", str(pki.other.key))
              .replace("<keyring>", str(pki.other_root))
              .replace("<input-bundle>", str(devel))
              .replace("<output-bundle>", "release.raucb"))
    assert_ok(shell(script, env, cwd=manual_dir))
    assert_rauc_accepts(manual_dir / "release.raucb", pki.other_root)


@needs_rauc
def test_manual_secure_room_recipe_moves_a_bundle_to_a_new_ca(pki, env, manual_dir, signed):
    """reference.rst: extract the signature, sign its manifest elsewhere,
    replace the signature. The manual's `openssl cms -sign` lacks -binary,
    so OpenSSL signs the manifest with CRLF line ends: otabundle requires
    the replacement to sign the bundle's manifest byte for byte, so -binary
    is added there (otabundle(1), RAUC COMPATIBILITY)."""
    shutil.copy(signed, manual_dir / "bundle.raucb")
    steps = [manual_line("rauc extract-signature"), manual_line("openssl cms -verify"),
             manual_line("openssl cms -sign").replace(" -nodetach", " -binary -nodetach"),
             manual_line("rauc replace-signature")]
    for step in steps:
        assert_ok(shell(step, env, cwd=manual_dir))
    assert_rauc_accepts(manual_dir / "new-bundle.raucb", pki.other_root)
    assert real_rauc("info", "--keyring", pki.root, manual_dir / "new-bundle.raucb").returncode


def test_manual_info_line_takes_every_output_format(pki, env, signed, rauc):
    line = manual_line("rauc info")
    for fmt in ("readable", "json", "json-pretty", "shell"):
        script = (line.replace("<certfile>", str(pki.root))
                  .replace("[--output-format=<format>]", f"--output-format={fmt}")
                  .replace("<input-file>", str(signed)))
        assert_ok(shell(script, env))


# --- rauc info: RAUC's keys ---------------------------------------------------------


@pytest.fixture(params=["verity", "plain"])
def rich_bundle(request, pki, tmp_path):
    """A bundle with everything RAUC's info shows: description, build,
    hooks (bundle and image), a variant, adaptive, metadata."""
    d = tmp_path / "rich"
    d.mkdir()
    (d / "hook.sh").write_text("#!/bin/sh\nexit 0\n")
    # adaptive=block-hash-index wants whole 4 KiB blocks.
    (d / "rootfs.img").write_bytes(os.urandom(17 * 4096))
    (d / "appfs.img").write_bytes(os.urandom(5000))
    (d / "manifest.raucm").write_text(
        "[update]\ncompatible=otabundle-test\nversion=2.1.0\ndescription=Rich bundle\n"
        "build=20260102\n\n[hooks]\nfilename=hook.sh\nhooks=install-check\n\n"
        "[image.rootfs]\nfilename=rootfs.img\nhooks=post-install;pre-install\n"
        "adaptive=block-hash-index\n\n"
        "[image.appfs.special]\nfilename=appfs.img\n\n"
        "[meta.release]\nchannel=stable\nbuild-id=42\n")
    bundle = tmp_path / f"rich-{request.param}.raucb"
    assert_ok(run("create", f"--format={request.param}", *pki.sign_args(), d, bundle))
    return bundle


def shell_vars(text):
    """NAME=VALUE lines as a POSIX shell's eval would set them."""
    out = {}
    for line in filter(None, text.splitlines()):
        name, _, value = line.partition("=")
        words = shlex.split(value)
        out[name] = words[0] if words else ""
    return out


@needs_rauc
def test_rauc_info_json_has_the_value_of_every_key_rauc_prints(pki, rauc, rich_bundle):
    ours = json.loads(assert_ok(rauc("info", "--keyring", pki.root, "--output-format=json",
                                     rich_bundle)).stdout)
    proc = real_rauc("info", "--keyring", pki.root, "--output-format=json", rich_bundle)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    assert theirs, proc.stdout
    for key, value in theirs.items():
        if key == "images":
            assert len(ours["images"]) == len(value)
            for mine, rauc_image in zip(ours["images"], value):
                (slotclass, fields), = rauc_image.items()
                assert list(mine) == [slotclass]
                for k, v in fields.items():
                    assert mine[slotclass][k] == v, (slotclass, k)
        else:
            assert ours[key] == value, key


@needs_rauc
def test_rauc_info_shell_sets_every_variable_rauc_sets_to_its_value(pki, rauc, rich_bundle):
    ours = shell_vars(assert_ok(rauc("info", "--keyring", pki.root, "--output-format=shell",
                                     rich_bundle)).stdout)
    proc = real_rauc("info", "--keyring", pki.root, "--output-format=shell", rich_bundle)
    assert proc.returncode == 0, proc.stderr
    theirs = shell_vars(proc.stdout)
    assert "RAUC_IMAGE_HOOKS_0" in theirs and "RAUC_MF_HOOKS" in theirs
    assert {k: ours.get(k) for k in theirs} == theirs


def test_rauc_info_adds_later_raucs_hash_format_and_metadata(pki, rauc, rich_bundle):
    """RAUC 1.9 to 1.15 added the manifest hash, the format and the
    metadata; otabundle prints them as the newest does."""
    v = shell_vars(assert_ok(rauc("info", "--keyring", pki.root, "--output-format=shell",
                                  rich_bundle)).stdout)
    doc = json.loads(assert_ok(rauc("info", "--keyring", pki.root, "--output-format=json",
                                    rich_bundle)).stdout)
    fmt = "verity" if "verity" in rich_bundle.name else "plain"
    assert v["RAUC_MF_FORMAT"] == doc["format"] == fmt
    assert v["RAUC_MF_HASH"] == doc["hash"]
    if fmt == "verity":
        assert v["RAUC_MF_HASH"] == hashlib.sha256(signed_manifest(rich_bundle)).hexdigest()
    assert v["RAUC_META_RELEASE_CHANNEL"] == "stable"
    assert v["RAUC_META_RELEASE_BUILD_ID"] == "42"
    assert v["RAUC_IMAGE_HOOKS_0"] == "pre-install post-install"
    assert v["RAUC_IMAGE_ADAPTIVE_0"] == "block-hash-index"
    assert v["RAUC_IMAGE_VARIANT_1"] == "special"


def test_rauc_info_json_carries_otabundles_verdict_and_signers_beside(pki, rauc, signed):
    doc = json.loads(assert_ok(rauc("info", "--keyring", pki.root, "--output-format=json",
                                    signed)).stdout)
    assert doc["verified"] is True and doc["trusted_signers"] == 1
    assert "CN=signer ec256" in doc["signers"][0]["subject"]
    assert doc["signers"][0]["status"] == "counted"
    assert doc["meta"] == {"release": {"channel": "stable"}}
    assert "schema" not in doc


def test_rauc_info_json_pretty_is_the_same_document_indented(pki, rauc, signed):
    compact = assert_ok(rauc("info", "--keyring", pki.root, "--output-format=json", signed))
    pretty = assert_ok(rauc("info", "--keyring", pki.root, "--output-format=json-pretty",
                            signed))
    assert "\n" not in compact.stdout.strip() and "\n  " in pretty.stdout
    assert json.loads(compact.stdout) == json.loads(pretty.stdout)


def test_rauc_info_dump_cert_prints_the_signer_certificate(pki, rauc, signed):
    proc = assert_ok(rauc("info", "--keyring", pki.root, "--dump-cert", signed))
    expected = run_tool("openssl", "x509", "-in", pki.ec256.cert, "-noout", "-text").stdout
    assert "Certificate:" in proc.stdout and "CN=signer ec256" in proc.stdout
    # The certificate's text as openssl prints it, from its first line.
    assert expected.splitlines()[0] in proc.stdout
    assert expected.splitlines()[-1].strip() in proc.stdout


def test_rauc_info_no_verify_shows_an_untrusted_bundle_as_not_verified(pki, rauc, signed):
    doc = json.loads(assert_ok(rauc("info", "--no-verify", "--output-format=json",
                                    signed)).stdout)
    assert doc["verified"] is False and doc["compatible"] == "otabundle-test"


def test_rauc_info_against_another_keyring_fails_in_one_line(pki, rauc, signed):
    proc = rauc("info", "--keyring", pki.other_root, "--output-format=shell", signed)
    assert_one_line(proc, str(signed), code=1)
    assert proc.stdout == ""


def test_rauc_info_of_an_old_bundle_with_no_check_time(pki, rauc, tmp_path):
    make_input(tmp_path / "in")
    bundle = tmp_path / "old.raucb"
    assert_ok(run("create", "--no-check-time", *pki.sign_args("expired"), tmp_path / "in",
                  bundle))
    assert_one_line(rauc("info", "--keyring", pki.root, bundle), "expired", code=1)
    assert_ok(rauc("info", "--keyring", pki.root, "--no-check-time", bundle))


# --- as otabundle -----------------------------------------------------------------------


def test_otabundle_with_an_option_before_the_command_reads_it_as_rauc(pki, signed):
    proc = assert_ok(run("--keyring", pki.root, "--output-format=shell", "info", signed))
    assert "RAUC_MF_COMPATIBLE='otabundle-test'" in proc.stdout


@needs_rauc
def test_otabundle_bundle_is_rauc_bundle(pki, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    assert_ok(run("bundle", "--cert", pki.other.cert, "--key", pki.other.key, tmp_path / "in",
                  out))
    assert_rauc_accepts(out, pki.other_root, fmt="plain")


def test_otabundle_keeps_its_own_info_command(pki, signed):
    proc = assert_ok(run("info", "--keyring", pki.root, signed))
    assert "Verified:" in proc.stdout


# --- options as rauc means them ------------------------------------------------------


@pytest.mark.parametrize("form", ["equals", "separate"])
def test_options_take_their_value_after_equals_or_as_the_next_argument(pki, rauc, tmp_path,
                                                                       form):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    opts = {"cert": pki.ec256.cert, "key": pki.ec256.key, "intermediate": pki.intermediate,
            "keyring": pki.root, "mksquashfs-args": "-b 64K"}
    args = []
    for name, value in opts.items():
        args += [f"--{name}={value}"] if form == "equals" else [f"--{name}", value]
    assert_ok(rauc("bundle", *args, tmp_path / "in", out))
    assert_ok(run("verify", "--keyring", pki.root, out))


def test_global_options_after_the_command_work_too(pki, rauc, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    assert_ok(rauc("-d", "bundle", tmp_path / "in", out, "--cert", pki.ec256.cert, "--key",
                   pki.ec256.key, "--intermediate", pki.intermediate))
    assert out.is_file()


def test_bundle_keyring_checks_the_new_bundle_and_writes_nothing_it_rejects(pki, rauc,
                                                                            tmp_path):
    """rauc bundle --keyring K verifies the new bundle against K (what
    otabundle calls --signing-keyring)."""
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = rauc("--keyring", pki.other_root, "bundle", *pki.sign_args(), tmp_path / "in", out)
    assert_one_line(proc, str(out), "signing keyring", code=1)
    assert not out.exists()


def test_bundle_signing_keyring_wins_over_keyring(pki, rauc, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    assert_ok(rauc("bundle", "--keyring", pki.other_root, "--signing-keyring", pki.root,
                   *pki.sign_args(), tmp_path / "in", out))


def test_bundle_mksquashfs_args_may_choose_the_compression(pki, rauc, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    assert_ok(rauc("bundle", "--mksquashfs-args=-comp xz", *pki.sign_args(), tmp_path / "in",
                   out))
    assert compression(out) == "xz"


def test_resign_keyring_checks_the_input_and_the_result(pki, rauc, signed, tmp_path):
    """As rauc: --keyring verifies IN and, without --signing-keyring, the
    new signature too."""
    out = tmp_path / "release.raucb"
    proc = rauc("resign", "--keyring", pki.root, "--cert", pki.other.cert, "--key",
                pki.other.key, signed, out)
    assert_one_line(proc, str(out), "signing keyring", code=1)
    assert not out.exists()
    assert_ok(rauc("resign", "--keyring", pki.root, "--signing-keyring", pki.other_root,
                   "--cert", pki.other.cert, "--key", pki.other.key, signed, out))
    assert_ok(run("verify", "--keyring", pki.other_root, out))


def test_resign_refuses_an_input_its_keyring_does_not_trust(pki, rauc, signed, tmp_path):
    out = tmp_path / "release.raucb"
    proc = rauc("resign", "--keyring", pki.other_root, "--signing-keyring", pki.other_root,
                "--cert", pki.other.cert, "--key", pki.other.key, signed, out)
    assert_one_line(proc, str(signed), code=1)
    assert not out.exists()


def test_resign_no_verify_takes_an_untrusted_input(pki, rauc, signed, tmp_path):
    out = tmp_path / "release.raucb"
    proc = assert_ok(rauc("resign", "--no-verify", "--keyring", pki.other_root, "--cert",
                          pki.other.cert, "--key", pki.other.key, signed, out))
    assert "integrity only" in proc.stderr
    assert_ok(run("verify", "--keyring", pki.other_root, out))


def test_replace_signature_checks_the_result_against_the_keyring_without_signing_keyring(
        pki, rauc, signed, tmp_path):
    sig = tmp_path / "sig.cms"
    assert_ok(rauc("extract-signature", "--keyring", pki.root, signed, sig))
    manifest = tmp_path / "manifest.raucm"
    manifest.write_bytes(signed_manifest(signed))
    new = tmp_path / "new.cms"
    run_tool("openssl", "cms", "-sign", "-binary", "-nodetach", "-signer", pki.other.cert,
             "-inkey", pki.other.key, "-in", manifest, "-outform", "DER", "-out", new)
    out = tmp_path / "new.raucb"
    assert_one_line(rauc("replace-signature", "--keyring", pki.root, signed, new, out),
                    str(out), code=1)
    assert not out.exists()
    assert_ok(rauc("replace-signature", "--no-verify", "--keyring", pki.other_root, signed, new,
                   out))


@pytest.mark.parametrize("command", ["extract", "extract-signature"])
def test_extracting_verifies_the_bundle_first(pki, rauc, signed, tmp_path, command):
    out = tmp_path / "out"
    proc = rauc(command, "--keyring", pki.other_root, signed, out)
    assert_one_line(proc, str(signed), code=1)
    assert not out.exists()
    assert_ok(rauc(command, "--keyring", pki.root, "--trust-environment", signed, out))
    assert out.exists()


# --- commands that are not here ----------------------------------------------------------


@pytest.mark.parametrize("args", [["install", "b.raucb"], ["status"],
                                  ["status", "mark-good", "booted"], ["mark-bad"],
                                  ["service"], ["write-slot", "rootfs.0", "x.img"],
                                  ["mount", "b.raucb"], ["-c", "system.conf", "install", "x"]])
def test_device_commands_point_at_otabundle_install(rauc, args):
    command = next(a for a in args if not a.startswith("-") and a != "system.conf")
    proc = rauc(*args)
    line = assert_one_line(proc, f"rauc {command}", "device", code=2)
    assert "otabundle-install" in line
    assert len(proc.stderr.splitlines()) == 1 and proc.stdout == ""


def test_otabundle_install_command_points_at_otabundle_install():
    assert_one_line(run("install", "b.raucb"), "otabundle-install install", code=2)


@pytest.mark.parametrize("command", ["convert"])
def test_casync_commands_say_they_are_not_supported(rauc, command):
    proc = rauc(command, "in.raucb", "out.raucb")
    assert_one_line(proc, command, "not supported", code=2)
    assert len(proc.stderr.splitlines()) == 1


# --- wrong usage -------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["info"],
    ["info", "a.raucb", "b.raucb"],
    ["--nonsense", "info", "a.raucb"],
    ["info", "--output-format=yaml", "--no-verify", "a.raucb"],
    ["info", "--output-format=json-2", "--no-verify", "a.raucb"],
    ["info", "a.raucb"],
    ["extract", "a.raucb", "out"],
    ["resign", "--cert=c", "--key=k", "a.raucb", "b.raucb"],
    ["bundle", "in", "out.raucb"],
    ["bundle", "--cert=a", "--cert=b", "--key=k", "in", "out.raucb"],
    ["--keyring=a", "--keyring=b", "info", "x.raucb"],
    ["extract-signature", "--keyring=k.pem", "--key=dec.pem", "a.raucb", "s.cms"],
    ["encrypt", "--keyring=k.pem", "a.raucb", "b.raucb"],
    ["encrypt", "--to=c.pem", "a.raucb", "b.raucb"],
])
def test_wrong_usage_exits_2_without_running_anything(rauc, tmp_path, args):
    proc = rauc(*args, cwd=tmp_path)
    assert_usage(proc)
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_help_and_version(rauc):
    assert "bundle" in assert_ok(rauc("--help")).stdout
    assert "otabundle" in assert_ok(rauc("--version")).stdout
    assert "--mksquashfs-args" in assert_ok(rauc("bundle", "--help")).stdout


# --- -c system.conf ----------------------------------------------------------------------


def write_conf(d, keyring_lines, device_groups=True):
    """A RAUC system.conf in @d; its [keyring] group is @keyring_lines."""
    d.mkdir(parents=True, exist_ok=True)
    text = "[system]\ncompatible=otabundle-test\nbootloader=barebox\n\n" if device_groups else ""
    text += "[keyring]\n" + "\n".join(keyring_lines) + "\n"
    if device_groups:
        text += "\n[slot.rootfs.0]\ndevice=/dev/mmcblk0p2\ntype=ext4\nbootname=A\n"
        text += "\n[casync]\nstorepath=/tmp\n"
    conf = d / "system.conf"
    conf.write_text(text)
    return conf


def test_conf_keyring_path_is_relative_to_the_conf_not_the_working_directory(pki, rauc,
                                                                            signed, tmp_path):
    conf = write_conf(tmp_path / "etc" / "rauc", ["path=ca.cert.pem"])
    shutil.copy(pki.root, conf.parent / "ca.cert.pem")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = assert_ok(rauc("-c", conf, "info", "--output-format=shell", signed, cwd=elsewhere))
    assert "OTABUNDLE_VERIFIED='true'" in proc.stdout


def test_conf_keyring_directory_is_a_hashed_directory(pki, rauc, signed, tmp_path):
    certs = tmp_path / "etc" / "certs"
    certs.mkdir(parents=True)
    shutil.copy(pki.root, certs / "root.pem")
    run_tool("openssl", "rehash", certs)
    conf = write_conf(tmp_path / "etc", ["directory=certs"])
    assert_ok(rauc("--conf", conf, "info", signed))
    make_input(tmp_path / "in")
    other = tmp_path / "other.raucb"
    assert_ok(run("create", *pki.sign_args("other", intermediate=False), tmp_path / "in", other))
    assert_one_line(rauc("--conf", conf, "info", other), str(other), code=1)


def test_command_line_keyring_replaces_the_confs_path(pki, rauc, signed, tmp_path):
    conf = write_conf(tmp_path, [f"path={pki.other_root}"])
    assert_one_line(rauc("-c", conf, "info", signed), str(signed), code=1)
    assert_ok(rauc("-c", conf, "--keyring", pki.root, "info", signed))


@needs_rauc
def test_conf_check_purpose_codesign_is_applied_to_the_new_bundle_as_rauc_does(
        pki, rauc, tmp_path):
    conf = write_conf(tmp_path / "etc", [f"path={pki.root}", "check-purpose=codesign"])
    make_input(tmp_path / "in")
    refused = tmp_path / "smime.raucb"
    assert_one_line(rauc("-c", conf, "bundle", *pki.sign_args("ec256"), tmp_path / "in",
                         refused), "codeSigning", code=1)
    assert not refused.exists()
    out = tmp_path / "codesign.raucb"
    assert_ok(rauc("-c", conf, "bundle", *pki.sign_args("codesign"), tmp_path / "in", out))
    proc = real_rauc("-c", conf, "info", out)
    assert proc.returncode == 0, proc.stderr


@needs_rauc
def test_conf_check_crl_finds_the_crls_in_the_keyring_file_as_rauc_does(pki, rauc, tmp_path):
    keyring = tmp_path / "keyring.pem"
    keyring.write_text(pki.root.read_text() + pki.crl.read_text())
    conf = write_conf(tmp_path, [f"path={keyring}", "check-crl=true"])
    for leaf in ("ec256", "revoked"):
        make_input(tmp_path / leaf)
        assert_ok(run("create", *pki.sign_args(leaf), tmp_path / leaf, tmp_path / f"{leaf}.raucb"))
    assert_ok(rauc("-c", conf, "info", tmp_path / "ec256.raucb"))
    assert_one_line(rauc("-c", conf, "info", tmp_path / "revoked.raucb"), "revoked", code=1)
    assert real_rauc("-c", conf, "info", tmp_path / "revoked.raucb").returncode != 0
    assert real_rauc("-c", conf, "info", tmp_path / "ec256.raucb").returncode == 0


def test_conf_keyring_with_an_intermediate_alone_needs_allow_partial_chain(pki, rauc, signed,
                                                                           tmp_path):
    """RAUC trusts a certificate that is no root only with
    allow-partial-chain=true; otabundle trusts every keyring certificate,
    so it refuses what would otherwise be trusted more than on a device."""
    conf = write_conf(tmp_path, [f"path={pki.intermediate}"])
    assert_one_line(rauc("-c", conf, "info", signed), str(conf), "allow-partial-chain",
                    code=1)
    conf = write_conf(tmp_path, [f"path={pki.intermediate}", "allow-partial-chain=true"])
    assert_ok(rauc("-c", conf, "info", signed))


@pytest.mark.parametrize("line,words", [
    # use-bundle-signing-time=true is applied: test_signing_time.py
    ("allowed-signer-cns=signer ec256", ["allowed-signer-cns", "not supported"]),
    ("check-purpose=sslserver", ["sslserver", "not supported"]),
    ("check-purpose=no-such-purpose", ["check-purpose"]),
    ("check-crl=maybe", ["check-crl"]),
    ("frobnicate=1", ["unknown key", "frobnicate"]),
])
def test_conf_keyring_settings_otabundle_does_not_implement_are_refused(pki, rauc, signed,
                                                                       tmp_path, line, words):
    conf = write_conf(tmp_path, [f"path={pki.root}", line])
    proc = rauc("-c", conf, "info", signed)
    assert_one_line(proc, str(conf), *words, code=1)
    assert proc.stdout == ""


def test_conf_check_crl_with_only_a_directory_is_refused(pki, rauc, signed, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(pki.root, certs / "root.pem")
    run_tool("openssl", "rehash", certs)
    conf = write_conf(tmp_path, ["directory=certs", "check-crl=true"])
    assert_one_line(rauc("-c", conf, "info", signed), str(conf), "directory", code=1)


@pytest.mark.parametrize("keyring_lines", [None, [], ["check-purpose=codesign"]])
def test_conf_without_a_keyring_is_refused(pki, rauc, signed, tmp_path, keyring_lines):
    conf = tmp_path / "system.conf"
    if keyring_lines is None:
        conf.write_text("[system]\ncompatible=x\nbootloader=barebox\n")
    else:
        write_conf(tmp_path, keyring_lines)
    assert_one_line(rauc("-c", conf, "info", signed), str(conf), code=1)


def test_conf_that_is_not_ini_or_missing_is_refused(rauc, signed, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("this is [not an ini file\n")
    assert_one_line(rauc("-c", bad, "info", signed), str(bad), code=1)
    assert_one_line(rauc("-c", tmp_path / "none.conf", "info", signed), "none.conf", code=1)


# --- PKCS#11 through RAUC's variables ---------------------------------------------------

needs_softhsm = pytest.mark.skipif(not Path(SOFTHSM_MODULE).exists(),
                                   reason="SoftHSM2 (softhsm2) not installed")


def token_env(hsm, **variables):
    """test_pkcs11's token environment (no PKCS#11 variables of the
    caller) with @variables."""
    e = {k: v for k, v in hsm.env.items() if "PKCS11" not in k}
    e.update(variables)
    return e


@needs_softhsm
@needs_rauc
def test_rauc_pkcs11_module_and_pin_sign_with_a_token_key(pki, rauc, hsm, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    env = token_env(hsm, RAUC_PKCS11_MODULE=SOFTHSM_MODULE, RAUC_PKCS11_PIN=USER_PIN)
    proc = rauc("bundle", f"--cert={EC_CERT}", f"--key={EC_KEY}",
                f"--intermediate={pki.intermediate}", f"--keyring={pki.root}",
                tmp_path / "in", out, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    assert_ok(proc)
    assert USER_PIN not in proc.stdout + proc.stderr
    assert_rauc_accepts(out, pki.root)


@needs_softhsm
def test_otabundle_pkcs11_variables_win_over_raucs(pki, rauc, hsm, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    env = token_env(hsm, RAUC_PKCS11_MODULE="/nonexistent/module.so",
                    RAUC_PKCS11_PIN=WRONG_PIN, OTABUNDLE_PKCS11_MODULE=SOFTHSM_MODULE,
                    OTABUNDLE_PKCS11_PIN=USER_PIN)
    assert_ok(rauc("bundle", f"--cert={EC_CERT}", f"--key={EC_KEY}",
                   f"--intermediate={pki.intermediate}", tmp_path / "in", out, env=env,
                   stdin=subprocess.DEVNULL, start_new_session=True))


@needs_softhsm
def test_a_wrong_rauc_pkcs11_pin_fails_in_one_line_without_showing_it(pki, rauc, hsm,
                                                                      tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    env = token_env(hsm, RAUC_PKCS11_MODULE=SOFTHSM_MODULE, RAUC_PKCS11_PIN=WRONG_PIN)
    proc = rauc("bundle", f"--cert={EC_CERT}", f"--key={EC_KEY}", tmp_path / "in", out,
                env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    assert_one_line(proc, "PIN", code=1)
    assert WRONG_PIN not in proc.stdout + proc.stderr
    assert not out.exists()


# --- installed ----------------------------------------------------------------------------


def test_meson_install_puts_rauc_in_libexecdir_not_in_bindir(tmp_path):
    build = Path(OTABUNDLE).parent
    run_tool("meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", tmp_path)
    # The links point at the installed programs, outside the staging root:
    # dangling here, so they are looked for by name, not by glob. One for a
    # build host (otabundle), one for a device (otabundle-install).
    links = {Path(d).name: Path(d) / "rauc" for d, _, files in os.walk(tmp_path)
             if "rauc" in files}
    assert set(links) == {"otabundle", "otabundle-install"}, links
    for program, link in links.items():
        assert link.is_symlink()
        assert link.parent.parent.name == "libexec"
        target = Path(os.readlink(link))
        assert target.is_absolute() and target.name == program and target.parent.name == "bin"
        assert (tmp_path / target.relative_to("/")).is_file()
