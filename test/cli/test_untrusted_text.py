# SPDX-License-Identifier: LGPL-2.1-or-later
"""Text from a bundle or a certificate reaches a terminal escaped: no
control character of a manifest or a signer's subject can move the cursor,
rewrite the 'Verified:' line or split one line into two."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import OTABUNDLE, assert_ok, create_bundle, run, run_tool, write_manifest

OTABUNDLE_INSTALL = os.environ.get("OTABUNDLE_INSTALL",
                                   str(Path(OTABUNDLE).with_name("otabundle-install")))

# Cursor up, erase line, carriage return, then a forged line; C1 CSI (U+009B)
# and DEL as well. Written raw into the manifest (GKeyFile keeps them).
FORGED = "\x1b[1A\x1b[2K\x1b[0GVerified:    ok\u009b2K\x7f"
# GKeyFile escapes: real CR, LF and TAB after parsing.
INI_ESCAPES = "line\\rVerified:    ok\\nsecond\\tline"


def assert_no_control_characters(data):
    """@data (bytes) is UTF-8 and holds no control character but LF."""
    text = data.decode("utf-8")  # strict: an invalid byte fails here
    bad = sorted({f"U+{ord(c):04X}" for c in text
                  if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f})
    assert not bad, f"control characters reached the output: {bad}\n{text!r}"
    return text


def run_bytes(*cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True)


def make_hostile_input(d, compatible="otabundle-test", version="1.0.0" + FORGED):
    d.mkdir(parents=True)
    image = "img" + FORGED.replace("\u009b", "").replace("/", "") + ".img"
    (d / image).write_bytes(os.urandom(5000))
    write_manifest(d, {"rootfs": image}, compatible=compatible, version=version,
                   update_extra=f"description=desc{FORGED}\nbuild={INI_ESCAPES}",
                   extra=f"[meta.evil]\nkey=value{FORGED}\nother={INI_ESCAPES}\n")
    return image


@pytest.fixture(params=["verity", "plain"])
def hostile_bundle(request, pki, tmp_path):
    make_hostile_input(tmp_path / "input")
    return create_bundle(pki, tmp_path / "input", tmp_path / "hostile.raucb",
                         f"--format={request.param}")


def verified_lines(text):
    return [line for line in text.splitlines() if line.startswith("Verified:")]


def test_info_no_verify_escapes_manifest_control_characters(hostile_bundle):
    proc = run_bytes(OTABUNDLE, "info", "--no-verify", hostile_bundle)
    assert proc.returncode == 0, proc.stderr
    out = assert_no_control_characters(proc.stdout)
    assert_no_control_characters(proc.stderr)
    assert verified_lines(out) == [
        "Verified:    NO - not verified (--no-verify): nothing below is trusted"]
    assert "Version:     1.0.0\\x1b[1A\\x1b[2K\\x1b[0GVerified:    ok\\u009b2K\\x7f" in out
    assert "Build:       line\\rVerified:    ok\\nsecond\\tline" in out
    assert "  key=value\\x1b[1A" in out


def test_info_with_keyring_escapes_manifest_control_characters(pki, hostile_bundle):
    proc = run_bytes(OTABUNDLE, "info", "--keyring", pki.root, hostile_bundle)
    assert proc.returncode == 0, proc.stderr
    out = assert_no_control_characters(proc.stdout)
    assert len(verified_lines(out)) == 1
    assert verified_lines(out)[0].startswith("Verified:    ok")
    assert "Description: desc\\x1b[1A" in out


def test_verify_escapes_manifest_control_characters(pki, hostile_bundle):
    proc = run_bytes(OTABUNDLE, "verify", "--verbose", "--check-images", "--keyring", pki.root,
                     hostile_bundle)
    assert proc.returncode == 0, proc.stderr
    assert_no_control_characters(proc.stdout)
    assert_no_control_characters(proc.stderr)


def test_info_json_escapes_control_characters_as_json(pki, hostile_bundle):
    proc = run_bytes(OTABUNDLE, "info", "--keyring", pki.root, "--output-format=json",
                     hostile_bundle)
    assert proc.returncode == 0, proc.stderr
    # json-glib writes C0 and DEL as \uXXXX; C1 characters are valid JSON
    # text, left as they are for the JSON parser.
    raw = proc.stdout.decode()
    assert not any(ord(c) < 0x20 and c != "\n" for c in raw)
    assert "\\u001b[1A" in raw


def test_error_quoting_a_manifest_value_stays_one_escaped_line(pki, tmp_path):
    inputdir = tmp_path / "input"
    inputdir.mkdir()
    (inputdir / "a.img").write_bytes(b"x")
    write_manifest(inputdir, {"rootfs": {"filename": "a.img", "size": "1" + INI_ESCAPES}})
    # create refuses it; the message quotes the value escaped, on one line.
    proc = run_bytes(OTABUNDLE, "create", *pki.sign_args(), inputdir, tmp_path / "b.raucb")
    assert proc.returncode == 1
    err = assert_no_control_characters(proc.stderr)
    assert err.count("\n") == 1, err
    assert "1line\\rVerified:    ok\\nsecond\\tline" in err


@pytest.fixture(scope="module")
def hostile_signer(tmp_path_factory):
    """A self-signed signer whose subject CN holds ESC, CR, LF and DEL (as a
    UTF8String: openssl req -utf8 takes the bytes as they are)."""
    d = tmp_path_factory.mktemp("hostile-signer")
    key, cert = d / "key.pem", d / "cert.pem"
    run_tool("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-utf8", "-subj", "/CN=evil\x1b[1A\x1b[2K\rVerified: ok\nx\x7f\u009b",
             "-days", "30", "-keyout", key, "-out", cert,
             "-addext", "keyUsage=critical,digitalSignature")
    text = run_tool("openssl", "x509", "-in", cert, "-noout", "-subject",
                    "-nameopt", "utf8,-esc_ctrl").stdout
    assert "\x1b" in text, "openssl did not keep the control characters"
    return cert, key


def test_signer_subject_control_characters_are_escaped(hostile_signer, tmp_path):
    cert, key = hostile_signer
    make_input_dir = tmp_path / "input"
    make_input_dir.mkdir()
    (make_input_dir / "a.img").write_bytes(b"x" * 100)
    write_manifest(make_input_dir, {"rootfs": "a.img"})
    assert_ok(run("create", "--cert", cert, "--key", key, make_input_dir, tmp_path / "b.raucb"))
    for args in (["info", "--no-verify"], ["info", "--keyring", cert],
                 ["verify", "--verbose", "--keyring", cert]):
        proc = run_bytes(OTABUNDLE, *args, tmp_path / "b.raucb")
        assert proc.returncode == 0, (args, proc.stderr)
        out = assert_no_control_characters(proc.stdout)
        assert_no_control_characters(proc.stderr)
        if args[0] == "info":
            assert len(verified_lines(out)) == 1
        # OpenSSL's RFC 2253 form already escapes them; printed as is.
        assert "CN=evil\\1B[1A\\1B[2K\\0DVerified: ok\\0Ax" in out
    # An untrusted one: the refusal names the subject on one escaped line.
    proc = run_bytes(OTABUNDLE, "verify", "--keyring", cert, "--threshold", "2",
                     tmp_path / "b.raucb")
    assert proc.returncode == 1
    assert_no_control_characters(proc.stderr).count("\n") == 1


# --- otabundle-install ---------------------------------------------------------


def make_device(tmp_path, keyring, system=""):
    root = tmp_path / "device"
    (root / "slots").mkdir(parents=True)
    text = (f"[system]\ncompatible=otabundle-test\nbootloader=file\n{system}"
            f"data-directory={root / 'data'}\n\n[keyring]\npath={keyring}\n")
    for index, bootname in enumerate(("A", "B")):
        dev = root / "slots" / f"rootfs.{index}"
        dev.write_bytes(b"old\n")
        text += f"\n[slot.rootfs.{index}]\ndevice={dev}\nbootname={bootname}\n"
    conf = root / "system.conf"
    conf.write_text(text)
    return conf


def run_install(conf, *args):
    return run_bytes(OTABUNDLE_INSTALL, "--conf", conf, "--override-boot-slot=A", *args)


def test_install_info_and_status_escape_bundle_text(pki, tmp_path):
    # A version with an escape sequence has no order: only allow-downgrade
    # installs it (see the next test).
    conf = make_device(tmp_path, pki.root, system="allow-downgrade=true\n")
    make_hostile_input(tmp_path / "input")
    bundle = create_bundle(pki, tmp_path / "input", tmp_path / "hostile.raucb")

    proc = run_install(conf, "info", bundle)
    assert proc.returncode == 0, proc.stderr
    assert "\\x1b[1A" in assert_no_control_characters(proc.stdout)

    proc = run_install(conf, "install", bundle)
    assert proc.returncode == 0, proc.stderr
    assert_no_control_characters(proc.stdout)

    proc = run_install(conf, "status")
    assert proc.returncode == 0, proc.stderr
    out = assert_no_control_characters(proc.stdout)
    assert "1.0.0\\x1b[1A" in out


def test_install_refusal_quoting_a_version_stays_one_escaped_line(pki, tmp_path):
    conf = make_device(tmp_path, pki.root)
    make_hostile_input(tmp_path / "input")
    bundle = create_bundle(pki, tmp_path / "input", tmp_path / "hostile.raucb")

    for command in ("info", "install"):
        proc = run_install(conf, command, bundle)
        assert proc.returncode == 1
        err = assert_no_control_characters(proc.stderr)
        assert err.count("\n") == 1, err
        assert "bundle version '1.0.0\\x1b[1A" in err


def test_install_refusal_quoting_compatible_stays_one_escaped_line(pki, tmp_path):
    conf = make_device(tmp_path, pki.root)
    make_hostile_input(tmp_path / "input", compatible="other" + FORGED + "\\nsecond")
    bundle = create_bundle(pki, tmp_path / "input", tmp_path / "hostile.raucb")

    for command in ("info", "install"):
        proc = run_install(conf, command, bundle)
        assert proc.returncode == 1
        err = assert_no_control_characters(proc.stderr)
        assert err.count("\n") == 1, err
        assert "bundle is for 'other\\x1b[1A" in err
        assert "\\nsecond'" in err

    proc = run_install(conf, "status")
    assert proc.returncode == 0, proc.stderr
    assert "other\\x1b[1A" in assert_no_control_characters(proc.stdout)
