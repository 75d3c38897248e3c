# SPDX-License-Identifier: LGPL-2.1-or-later
"""JSON a CI gate can rely on: every document names its schema
(contrib/schema/), a failed info or verify still prints one document with a
stable error code and every signer seen, and the error codes the library
can give are exactly those otabundle(1) and the schemas list.

Every JSON output of the whole suite is validated against its schema by
conftest.check_json_output(); these tests pin the schemas themselves and the
failure documents."""
import json
import re
from pathlib import Path

import jsonschema
import pytest

from conftest import (SCHEMA_DIR, assert_failure, create_bundle, flip_byte, json_schemas,
                      make_input, read_audit_log, run, validate_json_document)
from test_install import assert_refused, make_bundle, make_device, run_install

SOURCE = Path(__file__).resolve().parents[2]
ERROR_CODE_C = SOURCE / "src" / "lib" / "error-code.c"
MAN_PAGE = SOURCE / "man" / "otabundle.1"


def failed_json(proc, path, *words):
    """The one document a failed command printed on stdout, after its one
    stderr line naming @path."""
    line = assert_failure(proc, path, *words)
    doc = validate_json_document(json.loads(proc.stdout))
    assert doc["error"]["message"] in line
    return doc


def verify_json(pki, bundle, *extra):
    return run("verify", "--keyring", pki.root, "--output-format=json", *extra, bundle)


# --- the schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_file_is_a_valid_draft_2020_12_json_schema(path):
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "additionalProperties" in schema["description"], "say the compatibility policy"


def test_every_schema_file_is_named_after_the_document_kind_it_describes():
    for schema_id, (path, _) in json_schemas().items():
        program, kind, version = schema_id.split("/")
        assert version.isdigit(), schema_id
        prefix = {"otabundle": "", "otabundle-install": "install-"}[program]
        assert path.name == f"{prefix}{kind}.schema.json", (schema_id, path.name)


def test_info_and_verify_schemas_share_their_definitions():
    """Both describe one document shape; the shared parts can't drift apart."""
    schemas = json_schemas()
    info, verify = schemas["otabundle/info/1"][1], schemas["otabundle/verify/1"][1]
    assert info["$defs"] == verify["$defs"]
    assert info["properties"].keys() == verify["properties"].keys()


def info_document(pki, tmp_path, good_bundle):
    return run("info", "--keyring", pki.root, "--output-format=json", good_bundle[0])


def verify_document(pki, tmp_path, good_bundle):
    return verify_json(pki, good_bundle[0])


def audit_document(pki, tmp_path, good_bundle):
    log = tmp_path / "audit.log"
    create_bundle(pki, good_bundle[1], tmp_path / "logged.raucb", "--audit-log", log)
    return read_audit_log(log)[0]


def install_info_document(pki, tmp_path, good_bundle):
    device = make_device(tmp_path, pki.root)
    return device.run("info", "--output-format=json", make_bundle(pki, tmp_path))


def install_status_document(pki, tmp_path, good_bundle):
    return make_device(tmp_path, pki.root).run("status", "--output-format=json")


def install_check_config_document(pki, tmp_path, good_bundle):
    conf = make_device(tmp_path, pki.root).conf
    return run_install(conf, "check-config", "--output-format=json", boot=None)


def trust_document(pki, tmp_path, good_bundle):
    trust = tmp_path / "v1.trust"
    proc = run("trust", "create", "--version", "1", "--anchor", f"default:{pki.root}",
               *pki.sign_args(), trust)
    assert proc.returncode == 0, proc.stderr
    return run("trust", "show", "--output-format=json", trust)


# A test that produces each kind of document, so that no schema goes untested.
PRODUCERS = {
    "otabundle/info/1": info_document,
    "otabundle/verify/1": verify_document,
    "otabundle/audit/1": audit_document,
    "otabundle/trust/1": trust_document,
    "otabundle-install/info/1": install_info_document,
    "otabundle-install/status/1": install_status_document,
    "otabundle-install/check-config/1": install_check_config_document,
}


def test_every_schema_file_describes_a_document_that_a_test_produces():
    assert set(json_schemas()) == set(PRODUCERS)


@pytest.mark.parametrize("schema_id", sorted(PRODUCERS))
def test_each_kind_of_document_is_valid_against_its_schema_file(pki, tmp_path, good_bundle,
                                                                schema_id):
    produced = PRODUCERS[schema_id](pki, tmp_path, good_bundle)
    if not isinstance(produced, dict):
        assert produced.returncode == 0, produced.stderr
        produced = json.loads(produced.stdout)
    assert produced["schema"] == schema_id
    validate_json_document(produced)


def test_a_document_that_breaks_its_schema_fails_the_check(pki, good_bundle):
    """The suite-wide check is not a formality."""
    doc = json.loads(verify_json(pki, good_bundle[0]).stdout)
    doc["signers"][0]["status"] = "trusted-enough"
    with pytest.raises(AssertionError, match="status"):
        validate_json_document(doc)
    del doc["schema"]
    with pytest.raises(AssertionError, match="without a schema"):
        validate_json_document(doc)


# --- a failed verify or info still says who signed ----------------------------------------


@pytest.fixture
def one_trusted_one_untrusted(pki, tmp_path):
    """Signed by a key under the test root and by one under another root."""
    make_input(tmp_path / "in")
    return create_bundle(pki, tmp_path / "in", tmp_path / "two.raucb", "--cert",
                         pki.other.cert, "--key", pki.other.key)


def test_failed_threshold_verify_lists_the_counted_and_the_untrusted_signer(
        pki, one_trusted_one_untrusted):
    bundle = one_trusted_one_untrusted
    doc = failed_json(verify_json(pki, bundle, "--threshold", "2"), bundle, "1 of 2")
    assert doc["verified"] is False
    assert doc["error"]["code"] == "threshold-not-met"
    assert (doc["threshold"], doc["trusted_signers"]) == (2, 1)
    by_status = {s["status"]: s for s in doc["signers"]}
    assert set(by_status) == {"counted", "untrusted"}
    assert "signer ec256" in by_status["counted"]["subject"]
    assert "signer other CA" in by_status["untrusted"]["subject"]
    assert by_status["untrusted"]["reason"]
    assert doc["manifest"] is None


def test_failed_info_prints_one_document_with_the_signers_seen(pki, one_trusted_one_untrusted):
    bundle = one_trusted_one_untrusted
    proc = run("info", "--keyring", pki.other_root, "--threshold", "2", "--output-format=json",
               bundle)
    doc = failed_json(proc, bundle)
    assert doc["error"]["code"] == "threshold-not-met"
    assert sorted(s["status"] for s in doc["signers"]) == ["counted", "untrusted"]


def test_failed_verify_of_a_tampered_bundle_says_tampered(pki, good_bundle_of_each_format):
    fmt, (bundle, _, _) = good_bundle_of_each_format
    flip_byte(bundle, 4096)
    doc = failed_json(verify_json(pki, bundle), bundle)
    assert doc["error"]["code"] == "tampered"
    assert doc["format"] == fmt and len(doc["signers"]) == 1


def test_failed_verify_of_a_file_that_is_not_a_bundle_says_bundle_malformed(pki, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("release notes, not a bundle\n")
    doc = failed_json(verify_json(pki, text), text)
    assert doc["error"]["code"] == "bundle-malformed"
    assert doc["format"] is None and doc["size"] is None and doc["signers"] == []


def test_failed_verify_of_a_missing_file_says_io(pki, tmp_path):
    missing = tmp_path / "gone.raucb"
    assert failed_json(verify_json(pki, missing), missing)["error"]["code"] == "io"


def test_verify_with_an_unusable_keyring_prints_its_code(pki, good_bundle, tmp_path):
    garbage = pki.dir / "garbage.pem"
    proc = run("verify", "--keyring", garbage, "--output-format=json", good_bundle[0])
    assert proc.returncode == 1
    doc = validate_json_document(json.loads(proc.stdout))
    assert doc["error"]["code"] == "keyring-invalid"
    assert doc["signers"] == []


def test_a_usage_error_prints_no_json(pki, good_bundle):
    proc = run("verify", "--output-format=json", good_bundle[0])  # no --keyring
    assert proc.returncode == 2 and proc.stdout == ""


def test_otabundle_install_info_refusing_a_bundle_prints_its_code(pki, tmp_path):
    device = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, compatible="another-product")
    proc = device.run("info", "--output-format=json", bundle)
    assert_refused(proc, "another-product", path=bundle)
    doc = validate_json_document(json.loads(proc.stdout))
    assert doc["installable"] is False
    assert doc["error"]["code"] == "incompatible"
    assert doc["error"]["message"] in proc.stderr


# --- error codes: library, man page and schemas agree ----------------------------------


def library_codes():
    return set(re.findall(r'"([a-z][a-z0-9-]*)"', ERROR_CODE_C.read_text()))


def documented_codes():
    """The codes listed under JSON OUTPUT, "Error codes", in otabundle(1)."""
    text = MAN_PAGE.read_text()
    section = text.split('.SS "Error codes"', 1)[1]
    section = re.split(r"^\.S[HS] ", section, maxsplit=1, flags=re.M)[0]
    return {m.replace("\\-", "-") for m in re.findall(r"^\.TP\n\.B (\S+)$", section, re.M)}


def test_every_error_code_of_the_library_is_documented_and_every_documented_one_exists():
    assert library_codes() == documented_codes()


def test_every_schema_lists_exactly_the_library_error_codes():
    for schema_id, (path, schema) in json_schemas().items():
        error = schema.get("$defs", {}).get("error")
        if error is not None:
            assert set(error["properties"]["code"]["enum"]) == library_codes(), path.name


def test_otabundle_install_info_on_an_unusable_system_conf_prints_its_code(pki, tmp_path):
    device = make_device(tmp_path, pki.root)
    device.conf.write_text("[system]\ncompatible=x\nno-such-key=1\n")
    proc = device.run("info", "--output-format=json", make_bundle(pki, tmp_path))
    assert_refused(proc)
    doc = validate_json_document(json.loads(proc.stdout))
    assert doc["error"]["code"] == "config-invalid"
    assert doc["steps"] == [] and doc["installable"] is False
