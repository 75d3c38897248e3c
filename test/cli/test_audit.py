# SPDX-License-Identifier: LGPL-2.1-or-later
"""create --audit-log: one JSON line per signature, written before the
bundle appears."""
import hashlib
import json

from conftest import (assert_failure, assert_ok, bundle_trailer, info_json, make_input,
                      read_audit_log, run, validate_json_document)


def create_logged(pki, tmp_path, log, *extra, leaves=("ec256",), fmt="verity"):
    make_input(tmp_path / "in")
    args = ["create", f"--format={fmt}", "--audit-log", log, "--intermediate", pki.intermediate]
    for leaf in leaves:
        args += ["--cert", pki.leaves[leaf].cert, "--key", pki.leaves[leaf].key]
    return run(*args, *extra, tmp_path / "in", tmp_path / "out.raucb")


def log_lines(log):
    return read_audit_log(log)


def test_each_signer_of_a_bundle_gets_one_audit_line(pki, tmp_path):
    log = tmp_path / "audit.log"
    assert_ok(create_logged(pki, tmp_path, log, leaves=("ec256", "rsa2048")))
    lines = log_lines(log)
    assert len(lines) == 2
    assert {line["operation"] for line in lines} == {"create"}
    assert sorted(line["key_uri"] for line in lines) == sorted(
        str(pki.leaves[k].key) for k in ("ec256", "rsa2048"))
    for line in lines:
        assert line["time"].endswith("Z")
        assert len(line["certificate_sha256"]) == 64
        assert "signer" in line["signer_subject"]


def test_plain_audit_line_records_the_payload_digest(pki, tmp_path):
    log = tmp_path / "audit.log"
    assert_ok(create_logged(pki, tmp_path, log, fmt="plain"))
    data = (tmp_path / "out.raucb").read_bytes()
    size, cms_size = bundle_trailer(tmp_path / "out.raucb")
    payload_size = size - 8 - cms_size
    (line,) = log_lines(log)
    assert line["format"] == "plain"
    assert line["signed_sha256"] == hashlib.sha256(data[:payload_size]).hexdigest()
    assert line["verity_root_hash"] is None


def test_verity_audit_line_records_the_root_hash(pki, tmp_path):
    log = tmp_path / "audit.log"
    assert_ok(create_logged(pki, tmp_path, log))
    (line,) = log_lines(log)
    info = info_json(tmp_path / "out.raucb", pki.root)
    assert line["format"] == "verity"
    assert line["verity_root_hash"] == info["verity"]["root_hash"]


def test_audit_log_is_appended_to(pki, tmp_path):
    log = tmp_path / "audit.log"
    log.write_text('{"earlier": true}\n')
    assert_ok(create_logged(pki, tmp_path, log))
    earlier, added = log.read_text().splitlines()
    assert earlier == '{"earlier": true}'
    validate_json_document(json.loads(added))


def test_unwritable_audit_log_means_no_bundle(pki, tmp_path):
    log = tmp_path / "missing-dir" / "audit.log"
    proc = create_logged(pki, tmp_path, log)
    assert_failure(proc, log, "audit log")
    assert not (tmp_path / "out.raucb").exists()


def test_failed_create_writes_no_audit_line(pki, tmp_path):
    log = tmp_path / "audit.log"
    make_input(tmp_path / "in")
    (tmp_path / "in" / "manifest.raucm").write_text("[update]\ncolour=blue\n")
    proc = run("create", "--audit-log", log, *pki.sign_args(), tmp_path / "in",
               tmp_path / "out.raucb")
    assert proc.returncode == 1
    assert not log.exists() or log.read_text() == ""
