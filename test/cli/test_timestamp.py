# SPDX-License-Identifier: LGPL-2.1-or-later
"""RFC 3161 timestamps: `--timestamp-url` on every signing command, the
air-gapped `timestamp-request` / `add-timestamp`, and `--tsa-keyring` on
the reading commands, which checks a timestamped signer at its token's
time (so that a signature outlives its certificate).

The TSA is real: `openssl ts -reply` behind lighttpd on 127.0.0.1
(tsa_server.py, the session fixture `tsa`). Tokens are checked with an
independent verifier too, `openssl ts -verify`, over the signature value
read from the CMS by the small DER reader below. Time travel to after a
certificate's expiry or a revocation goes through libfaketime."""
import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (OPENSSL_CNF, OTABUNDLE, assert_failure, assert_ok, assert_usage,
                      bundle_cms, create_bundle, info_json, make_input, read_audit_log, run,
                      run_tool)

# --- a DER reader and writer for CMS, independent of otabundle ---------------------

TOKEN_OID = bytes.fromhex("06 0b 2a 86 48 86 f7 0d 01 09 10 02 0e")  # id-aa-timeStampToken


def _oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = b""
    for n in [40 * parts[0] + parts[1]] + parts[2:]:
        chunk = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            chunk.insert(0, 0x80 | (n & 0x7F))
        body += bytes(chunk)
    return der(0x06, body)


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + content


def items(data):
    """The (tag, content) of each DER element in @data, in order."""
    out, i = [], 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        out.append((tag, data[i:i + n]))
        i += n
    return out


NESTED_OID = _oid("2.25.77578983787829562783207146552732846084")


def signed_data(cms):
    (_, content_info), = items(cms)
    oid, (_, wrapped) = items(content_info)
    (_, sd), = items(wrapped)
    return oid, items(sd)


def with_signed_data(oid, sd_items):
    sd = der(0x30, b"".join(der(t, c) for t, c in sd_items))
    return der(0x30, der(*oid) + der(0xA0, sd))


def signer_infos(cms):
    """Each SignerInfo of @cms as its list of (tag, content)."""
    _, sd = signed_data(cms)
    return [items(c) for _, c in items(sd[-1][1])]


def signature_value(signer_info):
    return next(c for t, c in signer_info if t == 0x04)


def unsigned_attributes(signer_info):
    """[(OID DER, [value DER...])] of the SignerInfo's unsigned attributes."""
    attrs = next((c for t, c in signer_info if t == 0xA1), b"")
    out = []
    for _, attr in items(attrs):
        (ot, oc), (_, values) = items(attr)
        out.append((der(ot, oc), [der(t, c) for t, c in items(values)]))
    return out


def token_of(signer_info):
    return next((v[0] for oid, v in unsigned_attributes(signer_info) if oid == TOKEN_OID), None)


def nested_signatures(signer_info):
    return [v for oid, values in unsigned_attributes(signer_info) if oid == NESTED_OID
            for v in values]


def with_token(cms, token, index=0):
    """@cms with SignerInfo @index's timeStampToken replaced by @token."""
    oid, sd = signed_data(cms)
    infos = [items(c) for _, c in items(sd[-1][1])]
    si = infos[index]
    attrs = [(o, v) for o, v in unsigned_attributes(si) if o != TOKEN_OID] + [(TOKEN_OID, [token])]
    unsigned = b"".join(der(0x30, o + der(0x31, b"".join(v))) for o, v in attrs)
    infos[index] = [(t, c) for t, c in si if t != 0xA1] + [(0xA1, unsigned)]
    signer_set = b"".join(der(0x30, b"".join(der(t, c) for t, c in i)) for i in infos)
    return with_signed_data(oid, sd[:-1] + [(0x31, signer_set)])


def write_bundle_with_cms(src, dst, cms):
    """@src's payload with @cms as its signature, in @dst."""
    data = Path(src).read_bytes()
    old = int.from_bytes(data[-8:], "big")
    payload = data[:len(data) - 8 - old]
    Path(dst).write_bytes(payload + cms + len(cms).to_bytes(8, "big"))
    return Path(dst)


def openssl_ts_verify(tmp_path, token, data, ca):
    """The independent check: `openssl ts -verify` of @token over @data."""
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "data.bin").write_bytes(data)
    return run_tool("openssl", "ts", "-verify", "-token_in", "-in", tmp_path / "token.der",
                    "-data", tmp_path / "data.bin", "-CAfile", ca, check=False)


# --- helpers -----------------------------------------------------------------------


def create_stamped(pki, tsa, tmp_path, name="b.raucb", *extra, leaf="ec256"):
    make_input(tmp_path / f"{name}.in")
    return create_bundle(pki, tmp_path / f"{name}.in", tmp_path / name, "--timestamp-url",
                         tsa.url(), *extra, leaf=leaf)


def signers(bundle, *args):
    return info_json(bundle, *args)["signers"]


def trusting(pki, tsa):
    return ["--keyring", pki.root, "--tsa-keyring", tsa.root]


# --- signing ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_create_stores_a_token_that_openssl_verifies_over_the_signature_value(
        pki, tsa, tmp_path, fmt):
    bundle = create_stamped(pki, tsa, tmp_path, "b.raucb", f"--format={fmt}")
    si, = signer_infos(bundle_cms(bundle))
    token = token_of(si)
    assert token is not None
    proc = openssl_ts_verify(tmp_path, token, signature_value(si), tsa.root)
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stderr


def test_a_token_over_the_signature_value_does_not_verify_over_other_data(pki, tsa, tmp_path):
    """The independent check is itself a check: one flipped bit fails it."""
    bundle = create_stamped(pki, tsa, tmp_path)
    si, = signer_infos(bundle_cms(bundle))
    value = bytearray(signature_value(si))
    value[0] ^= 1
    assert openssl_ts_verify(tmp_path, token_of(si), bytes(value), tsa.root).returncode != 0


def test_a_trusted_timestamp_is_shown_with_its_time_and_tsa(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    s, = signers(bundle, pki.root, "--tsa-keyring", tsa.root)
    assert s["status"] == "counted"
    ts = s["timestamp"]
    assert ts["trusted"] is True and ts["reason"] is None
    assert "CN=otabundle test TSA" in ts["tsa"]
    when = datetime.datetime.strptime(ts["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((datetime.datetime.utcnow() - when).total_seconds()) < 24 * 3600


def test_info_text_shows_the_timestamp_line(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    proc = assert_ok(run("info", *trusting(pki, tsa), bundle))
    assert re.search(r"timestamp: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by .*otabundle test TSA.* "
                     r"\(trusted\)", proc.stdout), proc.stdout


def test_without_a_tsa_keyring_the_token_is_shown_but_not_trusted(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    s, = signers(bundle, pki.root)
    assert s["status"] == "counted"  # checked now, as without a token
    assert s["timestamp"]["trusted"] is False
    assert "no TSA keyring" in s["timestamp"]["reason"]


def test_info_without_verifying_shows_the_token_unchecked(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    s, = info_json(bundle, None, "--no-verify")["signers"]
    assert s["timestamp"]["trusted"] is False
    assert s["timestamp"]["reason"] == "not checked"


def test_a_bundle_without_a_token_shows_timestamp_null(pki, good_bundle):
    s, = info_json(good_bundle[0], pki.root)["signers"]
    assert s["timestamp"] is None


def test_every_nested_signer_gets_its_own_token(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", *pki.sign_args("rsa2048"),
                           "--timestamp-url", tsa.url())
    primary, = signer_infos(bundle_cms(bundle))
    nested = nested_signatures(primary)
    assert len(nested) == 1
    for si in [primary] + signer_infos(nested[0]):
        proc = openssl_ts_verify(tmp_path, token_of(si), signature_value(si), tsa.root)
        assert proc.returncode == 0, proc.stderr
    assert [s["timestamp"]["trusted"] for s in signers(bundle, pki.root, "--tsa-keyring",
                                                       tsa.root)] == [True, True]


def test_every_signer_info_gets_its_own_token(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", *pki.sign_args("rsa2048"),
                           "--signer-encoding=signer-infos", "--timestamp-url", tsa.url())
    infos = signer_infos(bundle_cms(bundle))
    assert len(infos) == 2
    tokens = [token_of(si) for si in infos]
    assert None not in tokens and tokens[0] != tokens[1]
    for si in infos:
        assert openssl_ts_verify(tmp_path, token_of(si), signature_value(si),
                                 tsa.root).returncode == 0


def test_sign_stamps_the_new_signer_and_leaves_the_old_one_as_it_was(pki, tsa, good_bundle,
                                                                     tmp_path):
    out = tmp_path / "signed.raucb"
    assert_ok(run("sign", *pki.sign_args("rsa2048"), "--timestamp-url", tsa.url(),
                  good_bundle[0], out))
    old, new = signers(out, pki.root, "--tsa-keyring", tsa.root)
    assert old["timestamp"] is None
    assert "rsa2048" in new["subject"] and new["timestamp"]["trusted"] is True


def test_a_partial_signature_and_merge_carry_the_token(pki, tsa, good_bundle, tmp_path):
    partial, out = tmp_path / "p.cms", tmp_path / "merged.raucb"
    assert_ok(run("sign", "--detached", partial, *pki.sign_args("rsa2048"), "--timestamp-url",
                  tsa.url(), good_bundle[0]))
    si, = signer_infos(partial.read_bytes())
    assert token_of(si) is not None
    assert_ok(run("merge", good_bundle[0], out, partial))
    assert [s["timestamp"] is not None for s in signers(out, pki.root)] == [False, True]


def test_merge_stamps_a_partial_signer_that_brings_no_token(pki, tsa, good_bundle, tmp_path):
    partial, out = tmp_path / "p.cms", tmp_path / "merged.raucb"
    assert_ok(run("sign", "--detached", partial, *pki.sign_args("rsa2048"), good_bundle[0]))
    assert_ok(run("merge", "--timestamp-url", tsa.url(), good_bundle[0], out, partial))
    old, new = signers(out, pki.root, "--tsa-keyring", tsa.root)
    assert old["timestamp"] is None and new["timestamp"]["trusted"] is True


def test_resign_stamps_the_new_signers(pki, tsa, good_bundle, tmp_path):
    out = tmp_path / "resigned.raucb"
    assert_ok(run("resign", "--keyring", pki.root, *pki.sign_args("rsa2048"), "--timestamp-url",
                  tsa.url(), good_bundle[0], out))
    s, = signers(out, pki.root, "--tsa-keyring", tsa.root)
    assert s["timestamp"]["trusted"] is True


def test_https_tsa_with_its_ca(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--timestamp-url",
                  tsa.url(https=True), "--timestamp-ca", tsa.tls_ca)
    s, = signers(tmp_path / "b.raucb", pki.root, "--tsa-keyring", tsa.root)
    assert s["timestamp"]["trusted"] is True


def test_https_tsa_whose_certificate_the_given_cas_do_not_issue_is_refused(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), "--timestamp-url", tsa.url(https=True),
               "--timestamp-ca", pki.root, tmp_path / "in", out)
    assert_failure(proc, out, "certificate")
    assert not out.exists()


def test_the_tsa_keyring_of_a_signing_command_refuses_a_tsa_outside_it(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), "--timestamp-url", tsa.url(), "--tsa-keyring",
               pki.root, tmp_path / "in", out)
    assert_failure(proc, out, "not trusted by the TSA keyring")
    assert not out.exists()


def test_the_audit_log_records_the_token_time_and_tsa(pki, tsa, tmp_path):
    log = tmp_path / "audit.log"
    bundle = create_stamped(pki, tsa, tmp_path, "b.raucb", "--audit-log", log)
    line, = read_audit_log(log)
    s, = signers(bundle, pki.root)
    assert line["timestamp"]["time"] == s["timestamp"]["time"]
    assert "CN=otabundle test TSA" in line["timestamp"]["tsa"]


def test_the_audit_log_says_null_without_a_timestamp(pki, tmp_path):
    log = tmp_path / "audit.log"
    make_input(tmp_path / "in")
    create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", "--audit-log", log)
    line, = read_audit_log(log)
    assert line["timestamp"] is None


# --- a TSA that misbehaves: one line, exit 1, nothing written -------------------------


@pytest.mark.parametrize("endpoint, words", [
    ("garbage", ["not an RFC 3161 TimeStampResp"]),
    ("error", ["HTTP status 500"]),
    ("sha512-only", ["refused", "rejection"]),
    ("other-imprint", ["stamps another signature"]),
])
def test_a_misbehaving_tsa_fails_create_and_writes_nothing(pki, tsa, tmp_path, endpoint, words):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), "--timestamp-url", tsa.url(endpoint),
               tmp_path / "in", out)
    assert_failure(proc, out, tsa.url(endpoint), *words)
    assert not out.exists()


def test_a_tsa_that_does_not_answer_in_time_fails_create(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    out = tmp_path / "b.raucb"
    proc = run("create", *pki.sign_args(), "--timestamp-url", tsa.url("stall"),
               "--timestamp-timeout", "1", tmp_path / "in", out)
    assert_failure(proc, out, "no answer within 1 second")
    assert not out.exists()


def test_a_tsa_nobody_listens_on_fails_sign(pki, good_bundle, tmp_path):
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "signed.raucb"
    proc = run("sign", *pki.sign_args("rsa2048"), "--timestamp-url",
               f"http://127.0.0.1:{port}/tsa", good_bundle[0], out)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not out.exists()


def test_a_misbehaving_tsa_fails_merge_and_writes_nothing(pki, tsa, good_bundle, tmp_path):
    partial, out = tmp_path / "p.cms", tmp_path / "merged.raucb"
    assert_ok(run("sign", "--detached", partial, *pki.sign_args("rsa2048"), good_bundle[0]))
    proc = run("merge", "--timestamp-url", tsa.url("error"), good_bundle[0], out, partial)
    assert_failure(proc, partial, "HTTP status 500")
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["--timestamp-ca", "x.pem"],
    ["--timestamp-timeout", "5"],
    ["--timestamp-url", "ftp://127.0.0.1/tsa"],
    ["--timestamp-url", "http://127.0.0.1/tsa", "--timestamp-ca", "x.pem"],
    ["--timestamp-url", "http://127.0.0.1/tsa", "--timestamp-timeout", "0"],
])
def test_wrong_timestamp_options_are_usage_errors(pki, tmp_path, args):
    make_input(tmp_path / "in")
    assert_usage(run("create", *pki.sign_args(), *args, tmp_path / "in", tmp_path / "b.raucb"))
    assert not (tmp_path / "b.raucb").exists()


@pytest.mark.parametrize("command, args", [
    ("info", []),
    ("extract-signature", ["sig.cms"]),
    ("replace-signature", ["sig.cms", "out.raucb"]),
    ("merge", ["out.raucb", "sig.cms"]),
])
def test_a_tsa_keyring_without_a_keyring_is_a_usage_error(tsa, good_bundle, tmp_path, command,
                                                          args):
    assert_usage(run(command, "--tsa-keyring", tsa.root, good_bundle[0],
                     *[tmp_path / a for a in args]))
    assert list(tmp_path.iterdir()) == [good_bundle[0]]


# --- RAUC ignores the unsigned attribute ----------------------------------------------


@pytest.mark.skipif(shutil.which("rauc") is None, reason="rauc not installed")
@pytest.mark.parametrize("fmt", ["verity", "plain"])
def test_rauc_accepts_a_timestamped_bundle(pki, tsa, tmp_path, fmt):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", f"--format={fmt}",
                           *pki.sign_args("rsa2048"), "--timestamp-url", tsa.url())
    proc = run_tool("rauc", "info", "--keyring", pki.root, bundle, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "signer ec256" in proc.stdout + proc.stderr


# --- verification: what a token proves, and what it does not --------------------------


def stamped_with(tmp_path, bundle, token, name="crafted.raucb"):
    return write_bundle_with_cms(bundle, tmp_path / name, with_token(bundle_cms(bundle), token))


def test_a_token_over_another_signature_is_reported_and_not_trusted(pki, tsa, tmp_path):
    a = create_stamped(pki, tsa, tmp_path, "a.raucb")
    b = create_stamped(pki, tsa, tmp_path, "b.raucb")
    crafted = stamped_with(tmp_path, b, token_of(signer_infos(bundle_cms(a))[0]))
    s, = signers(crafted, pki.root, "--tsa-keyring", tsa.root)
    assert s["timestamp"]["trusted"] is False
    assert "stamps another signature" in s["timestamp"]["reason"]
    assert s["status"] == "counted"  # checked now, as if it had no token


def test_a_tsa_outside_the_tsa_keyring_is_not_trusted(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    s, = signers(bundle, pki.root, "--tsa-keyring", pki.root)
    assert s["timestamp"]["trusted"] is False
    assert "not trusted by the TSA keyring" in s["timestamp"]["reason"]


def test_a_tsa_certificate_without_the_timestamping_purpose_is_not_trusted(pki, tsa, tmp_path):
    """The TSTInfo of a real token, signed again (with the ESS attribute,
    -cades) by a certificate of the same TSA root that lacks the purpose."""
    bundle = create_stamped(pki, tsa, tmp_path)
    (tmp_path / "token.der").write_bytes(token_of(signer_infos(bundle_cms(bundle))[0]))
    run_tool("openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-binary",
             "-in", tmp_path / "token.der", "-out", tmp_path / "tstinfo.der")
    run_tool("openssl", "cms", "-sign", "-binary", "-nodetach", "-cades", "-md", "sha256",
             "-econtent_type", "id-smime-ct-TSTInfo", "-in", tmp_path / "tstinfo.der",
             "-signer", tsa.no_purpose_cert, "-inkey", tsa.no_purpose_key, "-outform", "DER",
             "-out", tmp_path / "crafted.der")
    crafted = stamped_with(tmp_path, bundle, (tmp_path / "crafted.der").read_bytes())
    s, = signers(crafted, pki.root, "--tsa-keyring", tsa.root)
    assert s["timestamp"]["trusted"] is False
    assert "timeStamping purpose" in s["timestamp"]["reason"]


def test_a_malformed_token_rejects_the_bundle(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    crafted = stamped_with(tmp_path, bundle, der(0x30, der(0x02, b"\x05")))
    proc = run("verify", "--keyring", pki.root, crafted)
    assert_failure(proc, crafted, "timestamp token is malformed")


def test_a_tampered_token_rejects_the_bundle_like_any_tampering(pki, tsa, tmp_path):
    """A token whose genTime was moved a year: its TSA signature fails."""
    bundle = create_stamped(pki, tsa, tmp_path)
    token = bytearray(token_of(signer_infos(bundle_cms(bundle))[0]))
    at = re.search(rb"\x18\x0f(\d{4})", bytes(token)).start(1)
    token[at + 3] = ord("0") + (token[at + 3] - ord("0") + 1) % 10
    crafted = stamped_with(tmp_path, bundle, bytes(token))
    proc = run("verify", "--keyring", pki.root, "--tsa-keyring", tsa.root,
               "--output-format=json", crafted)
    assert_failure(proc, crafted, "timestamp token's signature is invalid")
    assert __import__("json").loads(proc.stdout)["error"]["code"] == "tampered"


# --- air-gapped: timestamp-request and add-timestamp ----------------------------------


def test_an_air_gapped_round_trip_adds_a_trusted_token(pki, tsa, good_bundle, tmp_path):
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    assert_ok(run("timestamp-request", good_bundle[0], tsq))
    tsa.reply(tsq, tsr)
    assert_ok(run("add-timestamp", good_bundle[0], tsr, out))
    s, = signers(out, pki.root, "--tsa-keyring", tsa.root)
    assert s["timestamp"]["trusted"] is True
    assert_ok(run("verify", "--keyring", pki.root, out))


def test_the_request_names_the_signature_value_as_openssl_sees_it(pki, tsa, good_bundle,
                                                                   tmp_path):
    tsq, tsr = tmp_path / "r.tsq", tmp_path / "r.tsr"
    assert_ok(run("timestamp-request", good_bundle[0], tsq))
    tsa.reply(tsq, tsr)
    si, = signer_infos(bundle_cms(good_bundle[0]))
    (tmp_path / "sig.bin").write_bytes(signature_value(si))
    proc = run_tool("openssl", "ts", "-verify", "-in", tsr, "-data", tmp_path / "sig.bin",
                    "-CAfile", tsa.root, check=False)
    assert proc.returncode == 0, proc.stderr
    text = run_tool("openssl", "ts", "-query", "-in", tsq, "-text").stdout
    assert "Nonce:" in text and "Certificate required: yes" in text


def test_a_request_for_one_of_several_signers_needs_its_number(pki, tsa, tmp_path):
    make_input(tmp_path / "in")
    bundle = create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb", *pki.sign_args("rsa2048"))
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    assert_failure(run("timestamp-request", bundle, tsq), bundle, "--signer")
    assert not tsq.exists()
    assert_ok(run("timestamp-request", "--signer", "2", bundle, tsq))
    tsa.reply(tsq, tsr)
    assert_ok(run("add-timestamp", bundle, tsr, out))
    first, second = signers(out, pki.root, "--tsa-keyring", tsa.root)
    assert first["timestamp"] is None and second["timestamp"]["trusted"] is True
    assert "rsa2048" in second["subject"]


def test_a_request_for_a_signer_that_has_a_token_is_refused(pki, tsa, tmp_path):
    bundle = create_stamped(pki, tsa, tmp_path)
    assert_failure(run("timestamp-request", bundle, tmp_path / "r.tsq"), bundle,
                   "has a timestamp already")
    assert not (tmp_path / "r.tsq").exists()


def test_an_answer_for_another_bundle_is_refused(pki, tsa, good_bundle, good_plain_bundle,
                                                 tmp_path):
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    assert_ok(run("timestamp-request", good_plain_bundle[0], tsq))
    tsa.reply(tsq, tsr)
    assert_failure(run("add-timestamp", good_bundle[0], tsr, out), tsr, "stamps none")
    assert not out.exists()


def test_an_answer_for_a_signer_with_a_token_is_refused(pki, tsa, tmp_path):
    a = create_stamped(pki, tsa, tmp_path, "a.raucb")
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    si, = signer_infos(bundle_cms(a))
    (tmp_path / "sig.bin").write_bytes(signature_value(si))
    run_tool("openssl", "ts", "-query", "-data", tmp_path / "sig.bin", "-sha256", "-cert",
             "-out", tsq)
    tsa.reply(tsq, tsr)
    assert_failure(run("add-timestamp", a, tsr, out), tsr, "has a timestamp already")
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", os.urandom(300), b"0\x03\x02\x01\x02"])
def test_a_response_that_is_not_one_is_refused(pki, good_bundle, tmp_path, content):
    tsr, out = tmp_path / "r.tsr", tmp_path / "out.raucb"
    tsr.write_bytes(content)
    assert_failure(run("add-timestamp", good_bundle[0], tsr, out), tsr)
    assert not out.exists()


def test_add_timestamp_checks_the_tsa_keyring_when_given(pki, tsa, good_bundle, tmp_path):
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    assert_ok(run("timestamp-request", good_bundle[0], tsq))
    tsa.reply(tsq, tsr)
    proc = run("add-timestamp", "--tsa-keyring", pki.root, good_bundle[0], tsr, out)
    assert_failure(proc, tsr, "not trusted by the TSA keyring")
    assert not out.exists()


def test_add_timestamp_does_not_overwrite_an_output(pki, tsa, good_bundle, tmp_path):
    tsq, tsr, out = tmp_path / "r.tsq", tmp_path / "r.tsr", tmp_path / "out.raucb"
    assert_ok(run("timestamp-request", good_bundle[0], tsq))
    tsa.reply(tsq, tsr)
    out.write_bytes(b"keep")
    proc = run("add-timestamp", good_bundle[0], tsr, out)
    assert proc.returncode == 1
    assert out.read_bytes() == b"keep"


# --- time travel: signatures outlive their certificates --------------------------------

NOW = datetime.datetime.now(datetime.timezone.utc)


def _asn1(t):
    return t.strftime("%Y%m%d%H%M%SZ")


def at(when, *cmd):
    """@cmd with the clock at @when (libfaketime), as test_signing_time does."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":"))
    cmd = ["faketime", when.strftime("%Y-%m-%d %H:%M:%S"), *[str(c) for c in cmd]]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory, tsa):
    """A root CA and leaves it issues: `brief` valid from yesterday to
    tomorrow; `superseded`, `compromised` and `compromised_before` valid
    for years and revoked tomorrow (superseded; keyCompromise without an
    invalidityDate; keyCompromise dated a day before the signatures), in
    crl.pem issued tomorrow. A bundle of each, signed and timestamped now."""
    d = tmp_path_factory.mktemp("short-pki")
    cnf = d / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF.format(dir=d))
    (d / "root-ca" / "newcerts").mkdir(parents=True)
    (d / "root-ca" / "index.txt").write_text("")
    for name in ("serial", "crlnumber"):
        (d / "root-ca" / name).write_text("1000\n")
    run_tool("openssl", "req", "-config", cnf, "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "root.key", "-out",
             d / "root.pem", "-subj", "/CN=otabundle short-lived root CA", "-days", "3650",
             "-extensions", "v3_root")
    dates = {"brief": (NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=1))}
    bundles = {}
    for name in ("brief", "superseded", "compromised", "compromised_before"):
        run_tool("openssl", "req", "-config", cnf, "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / f"{name}.key",
                 "-out", d / f"{name}.csr", "-subj", f"/CN=short {name}")
        start, end = dates.get(name, (NOW - datetime.timedelta(days=1),
                                      NOW + datetime.timedelta(days=3650)))
        run_tool("openssl", "ca", "-config", cnf, "-name", "root_ca", "-batch", "-notext",
                 "-extensions", "v3_leaf", "-in", d / f"{name}.csr", "-out", d / f"{name}.pem",
                 "-startdate", _asn1(start), "-enddate", _asn1(end))
        make_input(d / f"{name}.in")
        bundles[name] = d / f"{name}.raucb"
        assert_ok(run("create", "--cert", d / f"{name}.pem", "--key", d / f"{name}.key",
                      "--timestamp-url", tsa.url(), d / f"{name}.in", bundles[name]))
    tomorrow = NOW + datetime.timedelta(days=1)
    revocations = {"superseded": ["-crl_reason", "superseded"],
                   "compromised": ["-crl_reason", "keyCompromise"],
                   "compromised_before": ["-crl_compromise",
                                          _asn1(NOW - datetime.timedelta(days=1))]}
    for name, how in revocations.items():
        proc = at(tomorrow, "openssl", "ca", "-config", cnf, "-name", "root_ca", "-revoke",
                  d / f"{name}.pem", *how)
        assert proc.returncode == 0, proc.stderr
    proc = at(tomorrow, "openssl", "ca", "-config", cnf, "-name", "root_ca", "-gencrl",
              "-out", d / "crl.pem")
    assert proc.returncode == 0, proc.stderr
    return d, bundles


faketime_needed = pytest.mark.skipif(shutil.which("faketime") is None,
                                     reason="faketime (libfaketime) not installed")


def verify_at(when, root, bundle, *extra):
    return at(when, OTABUNDLE, "verify", "--keyring", root, *extra, bundle)


@faketime_needed
def test_a_signer_verifies_after_its_certificate_expired_with_a_trusted_token(short_lived, tsa):
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=30)
    proc = verify_at(later, d / "root.pem", bundles["brief"], "--tsa-keyring", tsa.root)
    assert proc.returncode == 0, proc.stderr


@faketime_needed
def test_the_same_signer_fails_after_expiry_without_a_tsa_keyring(short_lived):
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=30)
    proc = verify_at(later, d / "root.pem", bundles["brief"])
    assert proc.returncode == 1
    assert "expired" in proc.stderr and "timestamp is not trusted" in proc.stderr


@faketime_needed
def test_a_tsa_outside_the_keyring_does_not_save_an_expired_signer(short_lived, pki):
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=30)
    proc = verify_at(later, d / "root.pem", bundles["brief"], "--tsa-keyring", pki.root)
    assert proc.returncode == 1
    assert "not trusted by the TSA keyring" in proc.stderr


@faketime_needed
def test_a_revocation_after_the_timestamp_leaves_the_signature_standing(short_lived, tsa):
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=2)
    proc = verify_at(later, d / "root.pem", bundles["superseded"], "--crl", d / "crl.pem",
                     "--tsa-keyring", tsa.root)
    assert proc.returncode == 0, proc.stderr


@faketime_needed
def test_without_a_trusted_token_any_revocation_counts(short_lived):
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=2)
    proc = verify_at(later, d / "root.pem", bundles["superseded"], "--crl", d / "crl.pem")
    assert proc.returncode == 1 and "revoked" in proc.stderr


@faketime_needed
@pytest.mark.parametrize("name", ["compromised", "compromised_before"])
def test_a_key_compromise_revokes_a_timestamped_signature_unless_dated_after_it(
        short_lived, tsa, name):
    """keyCompromise without an invalidityDate says nothing about when the
    key leaked; with one before the token, the signature may be the thief's."""
    d, bundles = short_lived
    later = NOW + datetime.timedelta(days=2)
    proc = verify_at(later, d / "root.pem", bundles[name], "--crl", d / "crl.pem",
                     "--tsa-keyring", tsa.root)
    assert proc.returncode == 1 and "revoked" in proc.stderr, proc.stderr
