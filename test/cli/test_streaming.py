# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installing, inspecting and verifying bundles over HTTP(S) without
storing them: `otabundle-install install|info URL`, `otabundle info|verify
URL`, system.conf [streaming], and `rauc install URL` on a device.

The servers are real lighttpd processes (http_server.py: HTTP, HTTPS with a
test CA, mutual TLS, prefixes without ranges or ETags, a throttled one,
redirects to the same and to another origin, CGI answers 503 and 403);
faults come from a TCP relay in front of them (fault_proxy.py) that cuts,
stalls, or swaps the served file after N bytes. The device is
test_install.py's: file-backed slots, the `file` bootloader backend.

Every bundle a test serves is published under a name of its own, so the
access log's lines for that name are that test's requests: which byte
ranges were asked for (a refused bundle: the size probe and the CMS only,
nothing of the payload) and which headers reached which server.

Every failure: exactly one stderr line naming the URL (never its
credentials), exit 1, the active slot byte-identical, the inactive slot
untouched when refused before the payload and marked bad when the failure
came while writing it, and nothing left in the data directory."""
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import SOFTHSM_MODULE, assert_ok, bundle_trailer, run, run_tool, softhsm_env
from fault_proxy import FaultProxy
from http_server import PlainLighttpd
from test_encrypt import devices  # noqa: F401 (a fixture)
from test_install import (NO_COMPRESSION, OTABUNDLE_INSTALL, assert_refused, image_offset,
                          install_cmd, make_bundle, make_device, signer_args)
from test_install_encrypted import encrypted_bundle
from test_tamper import cms_regions

IMAGE_SIZE = 3 << 20     # several verity windows, far from the CMS
CHUNK = 64 << 10         # the reader rounds small reads to 64 KiB chunks
DATA_FILES = {"bootloader.state", "lock", "state"}
TOKEN_PIN = "stream-pin-3318-0552"
TOKEN_KEY = "pkcs11:token=stream;object=client;type=private"
SECRET = "tok-9b1e-77c2-streaming"


# --- bundles and devices -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundles(pki, tmp_path_factory):
    """Bundles made once for this module: {name: (path, image bytes)}. Every
    image is stored uncompressed, IMAGE_SIZE bytes unless named small."""
    d = tmp_path_factory.mktemp("stream-bundles")
    made = {}

    def make(name, size=IMAGE_SIZE, **kw):
        image = os.urandom(size)
        made[name] = (make_bundle(pki, d, {"rootfs": image}, name=name,
                                  create_args=[NO_COMPRESSION], **kw), image)

    make("v2", version="2.0")
    make("v2-other", version="2.0")          # same version, other bytes
    make("v3", version="3.0")
    make("small", size=100_000, version="2.0")
    make("plain", version="2.0", fmt="plain")
    make("incompatible", version="2.0", compatible="someone-else")
    make("expired", version="2.0", meta={"expires": "2001-02-03T04:05:06Z"})
    make("untrusted", version="2.0", sign=signer_args(pki.leaves["other"]))
    make("crypt", version="2.0", fmt="crypt")
    return made


def bad_signature(src, dst):
    """A copy of the bundle @src whose signature value has its last byte
    flipped: well-formed, not the signer's."""
    data = bytearray(Path(src).read_bytes())
    size, cms_len = len(data), int.from_bytes(data[-8:], "big")
    start, end = cms_regions(bytes(data), size - 8 - cms_len)["cms-signature"]
    data[end - 1] ^= 0x01
    Path(dst).write_bytes(data)
    return Path(dst)


def device_for(tmp_path, pki, streaming="", system="", name="device"):
    extra = f"[streaming]\n{streaming}" if streaming else ""
    return make_device(tmp_path, pki.root, system=system, extra=extra, name=name)


def snapshot(dev):
    """What a refused install leaves alone: the slots' bytes (and mtime,
    inode) and the bootloader's state."""
    return dev.snapshot()


def data_leftovers(dev):
    return sorted(set(os.listdir(dev.data)) - DATA_FILES) if dev.data.exists() else []


def assert_one_line_naming(proc, url, *words):
    """Exit 1 and one stderr line `otabundle-install: URL: reason`: the URL
    (as displayed: without credentials) named once, then the reason."""
    line = assert_refused(proc, *words, path=url)
    assert line.startswith(f"otabundle-install: {url}: "), line
    assert line.count(url) == 1, f"the URL is named more than once: {line}"
    return line


def assert_refused_cleanly(dev, proc, url, before, *words):
    """One line naming @url, exit 1, the slots and boot state as @before,
    nothing new in the data directory. Returns the line."""
    line = assert_one_line_naming(proc, url, *words)
    assert snapshot(dev) == before
    assert data_leftovers(dev) == []
    return line


def assert_failed_while_writing(dev, proc, url, active_before, *words, pattern=None):
    """One line naming @url, exit 1; the inactive slot marked bad, the old
    system primary and byte-identical, nothing left in the data directory."""
    line = assert_one_line_naming(proc, url, *words)
    if pattern:
        assert re.search(pattern, line, re.I), f"{pattern!r} not in: {line}"
    status = dev.status()
    assert status["primary"] == "A"
    assert status["pending"] is None
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert dev.slots["rootfs.0"].read_bytes() == active_before
    assert data_leftovers(dev) == []
    return line


def assert_only_trailer_and_cms_fetched(web, name, bundle):
    """The manifest-first proof: the server saw the size probe (the last 8
    bytes), then range requests of the CMS and the trailer only (the first
    one rounded down to the reader's 64 KiB chunk), nothing below: of the
    3 MiB image at the start of the bundle, at most the chunk's head."""
    size, cms_len = bundle_trailer(bundle)
    floor = (size - 8 - cms_len) // CHUNK * CHUNK
    requests = web.requests(name)
    assert requests, f"no request for {name} reached the server"
    assert requests[0].range == "bytes=-8", requests[0]
    assert len(requests) <= 3, [r.range for r in requests]
    for r in requests:
        assert r.status == 206, r
        span = r.span()
        assert span is not None, f"a request without a range: {r}"
        if span[0] == "-":
            assert span[1] <= 8 + cms_len, r
        else:
            assert span[0] >= floor, f"payload bytes fetched before the checks: {r}"


def url_of(web, bundle, prefix="", base=None):
    name = web.publish(bundle)
    return web.url(name, base=base, prefix=prefix), name


# --- a streamed install ----------------------------------------------------------------------


def test_streamed_install_writes_the_same_slot_as_a_local_install(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    local = device_for(tmp_path, pki, name="local")
    streamed = device_for(tmp_path, pki, name="streamed")
    assert_ok(local.install(bundle))
    url, _ = url_of(web, bundle)
    proc = assert_ok(streamed.install(url))
    assert "rootfs.1" in proc.stdout
    assert streamed.slots["rootfs.1"].read_bytes() == local.slots["rootfs.1"].read_bytes()
    assert streamed.slots["rootfs.1"].read_bytes()[:len(image)] == image
    assert streamed.slots["rootfs.0"].read_bytes() == b"old system in rootfs.0\n"
    assert streamed.primary() == "B"
    assert streamed.slot("rootfs.1")["version"] == "2.0"


def test_streamed_install_reports_downloaded_bytes_and_a_local_one_none(pki, web, bundles,
                                                                         tmp_path):
    bundle, _ = bundles["v2"]
    size = bundle.stat().st_size
    local = device_for(tmp_path, pki, name="local")
    streamed = device_for(tmp_path, pki, name="streamed")
    assert_ok(local.install(bundle))
    url, _ = url_of(web, bundle)
    assert_ok(streamed.install(url))
    last = streamed.status()["results"][-1]
    assert last["ok"] is True and last["bundle"] == url
    assert IMAGE_SIZE <= last["downloaded_bytes"] <= size + 4 * CHUNK, last
    assert last["reused_bytes"] == 0
    local_last = local.status()["results"][-1]
    assert (local_last["downloaded_bytes"], local_last["reused_bytes"]) == (0, 0)


def test_only_a_few_requests_are_made_for_a_clean_streamed_install(pki, web, bundles, tmp_path):
    """Reads are 1 MiB windows on one kept-alive connection: a 3 MiB image
    is not fetched in thousands of small requests."""
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    url, name = url_of(web, bundle)
    assert_ok(dev.install(url))
    requests = web.requests(name)
    assert all(r.status == 206 for r in requests), requests
    assert len(requests) <= 16, [r.range for r in requests]


def test_every_request_after_the_probe_pins_the_etag_with_if_range(pki, web, bundles,
                                                                  tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    url, name = url_of(web, bundle)
    assert_ok(dev.install(url))
    probe, *later = web.requests(name)
    assert probe.range == "bytes=-8"
    assert later and all(r.if_range.startswith('"') for r in later), later
    assert len({r.if_range for r in later}) == 1


def test_without_etag_the_last_modified_time_is_pinned_with_if_range(pki, web, bundles,
                                                                     tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    url, name = url_of(web, bundle, prefix="noetag")
    assert_ok(dev.install(url))
    _, *later = web.requests(name)
    assert later and all(r.if_range.endswith(" GMT") for r in later), later


def test_results_record_the_url_without_credentials_or_query(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    name = web.publish(bundle)
    url = f"http://user:{SECRET}@127.0.0.1:{web.http_port}/{name}?sig={SECRET}"
    proc = assert_ok(dev.install(url))
    assert SECRET not in proc.stdout + proc.stderr
    assert dev.status()["results"][-1]["bundle"] == web.url(name)
    for path in dev.data.rglob("*"):
        assert SECRET.encode() not in path.read_bytes()


def test_error_lines_name_the_url_without_credentials(pki, web, tmp_path):
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url = f"http://user:{SECRET}@127.0.0.1:{web.http_port}/missing.raucb?sig={SECRET}"
    line = assert_refused_cleanly(dev, dev.install(url), f"{web.http}/missing.raucb", before,
                                  "404")
    assert SECRET not in line


def test_crypt_bundle_streams(pki, web, devices, tmp_path):  # noqa: F811
    dev = make_device(tmp_path, pki.root, extra=f"[encryption]\nkey={devices['ec'].key}\n")
    bundle = encrypted_bundle(pki, tmp_path, [devices["ec"]])
    url, _ = url_of(web, bundle)
    assert_ok(dev.install(url))
    installed = dev.slots["rootfs.1"].read_bytes()
    local = make_device(tmp_path, pki.root, name="local",
                        extra=f"[encryption]\nkey={devices['ec'].key}\n")
    assert_ok(local.install(bundle))
    assert installed == local.slots["rootfs.1"].read_bytes()


def test_unencrypted_crypt_bundle_streams(pki, web, bundles, tmp_path):
    bundle, image = bundles["crypt"]
    dev = device_for(tmp_path, pki)
    url, _ = url_of(web, bundle)
    assert_ok(dev.install(url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


# --- info and verify of a URL ----------------------------------------------------------------


def test_info_url_on_the_device_says_what_install_would_do_and_writes_nothing(pki, web, bundles,
                                                                             tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url, name = url_of(web, bundle)
    proc = assert_ok(dev.run("info", url))
    assert "OK for this system" in proc.stdout
    assert "rootfs.1" in proc.stdout
    assert snapshot(dev) == before
    assert data_leftovers(dev) == []
    # It reads what it needs to check, not the images.
    assert sum(r.bytes for r in web.requests(name)) < IMAGE_SIZE // 2


def test_info_url_on_the_device_prints_json(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    url, _ = url_of(web, bundle)
    doc = json.loads(assert_ok(dev.run("info", "--output-format=json", url)).stdout)
    assert (doc["bundle"], doc["installable"], doc["version"]) == (url, True, "2.0")


def test_host_info_url_shows_the_same_manifest_as_for_the_file(pki, web, bundles):
    bundle, _ = bundles["v2"]
    url, _ = url_of(web, bundle)
    remote = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                      url)).stdout)
    local = json.loads(assert_ok(run("info", "--keyring", pki.root, "--output-format=json",
                                     bundle)).stdout)
    assert remote["verified"] is True
    assert remote["manifest"] == local["manifest"]


def test_host_verify_url_checks_the_signature_and_every_block(pki, web, bundles):
    bundle, _ = bundles["v2"]
    url, name = url_of(web, bundle)
    proc = assert_ok(run("verify", "--keyring", pki.root, url))
    assert url in proc.stdout and "OK" in proc.stdout
    fetched = sum(r.bytes for r in web.requests(name))
    assert fetched >= IMAGE_SIZE


def test_host_verify_url_of_a_bundle_signed_by_another_ca_fails_with_one_line(pki, web,
                                                                             bundles):
    bundle, _ = bundles["untrusted"]
    url, name = url_of(web, bundle)
    proc = run("verify", "--keyring", pki.root, url)
    assert proc.returncode == 1, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("otabundle: ") and url in lines[0], lines
    assert_only_trailer_and_cms_fetched(web, name, bundle)


def test_host_info_url_of_a_missing_bundle_fails_with_one_line_naming_the_url_once(web):
    url = web.url("no-such-bundle.raucb")
    proc = run("info", "--no-verify", url)
    assert proc.returncode == 1, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"otabundle: {url}: ") and lines[0].count(url) == 1, lines
    assert "404" in lines[0]


# --- refused before any payload byte ------------------------------------------------------------


def test_plain_bundle_is_refused_for_streaming_with_one_line(pki, web, bundles, tmp_path):
    bundle, _ = bundles["plain"]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url, name = url_of(web, bundle)
    assert_refused_cleanly(dev, dev.install(url), url, before, "plain")
    assert_only_trailer_and_cms_fetched(web, name, bundle)


def test_plain_bundle_is_refused_by_host_info_url(pki, web, bundles):
    bundle, _ = bundles["plain"]
    url, _ = url_of(web, bundle)
    proc = run("info", "--keyring", pki.root, url)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and url in lines[0] and "plain" in lines[0], lines


@pytest.mark.parametrize("kind,words", [
    ("incompatible", ["someone-else"]),
    ("expired", ["expired"]),
    ("untrusted", []),
    ("bad-signature", []),
], ids=["incompatible", "expired", "untrusted", "bad-signature"])
def test_bundle_refused_by_policy_fetches_nothing_but_the_trailer_and_cms(
        pki, web, bundles, tmp_path, kind, words):
    if kind == "bad-signature":
        bundle = bad_signature(bundles["v2"][0], tmp_path / "bad-signature.raucb")
    else:
        bundle, _ = bundles[kind]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url, name = url_of(web, bundle)
    assert_refused_cleanly(dev, dev.install(url), url, before, *words)
    assert_only_trailer_and_cms_fetched(web, name, bundle)


def test_downgrade_is_refused_fetching_nothing_but_the_trailer_and_cms(pki, web, bundles,
                                                                        tmp_path):
    dev = device_for(tmp_path, pki)
    assert_ok(dev.install(bundles["v3"][0]))
    assert_ok(dev.run("mark-good", boot="B"))
    bundle, _ = bundles["v2"]
    url, name = url_of(web, bundle)
    before = snapshot(dev)
    proc = dev.run("install", url, boot="B")
    assert_one_line_naming(proc, url, "downgrade")
    assert snapshot(dev) == before
    assert data_leftovers(dev) == []
    assert_only_trailer_and_cms_fetched(web, name, bundle)


def test_server_without_range_support_is_refused(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url, name = url_of(web, bundle, prefix="norange")
    assert_refused_cleanly(dev, dev.install(url), url, before, "range")
    # The 200 was cut off at once, not downloaded whole.
    assert len(web.requests(name)) == 1


def test_max_bundle_download_size_set_and_too_small_refuses_at_the_probe(pki, web, bundles,
                                                                         tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki, system="max-bundle-download-size=100000")
    before = snapshot(dev)
    url, name = url_of(web, bundle)
    line = assert_refused_cleanly(dev, dev.install(url), url, before)
    assert "max-bundle-download-size" in line or "100000" in line, line
    assert [r.range for r in web.requests(name)] == ["bytes=-8"]


def test_max_bundle_download_size_unset_does_not_cap_a_streamed_bundle(pki, web, tmp_path):
    """The 8 MiB default applies to plain bundles stored locally only:
    RAUC's streaming has no cap unless one is set."""
    image = os.urandom(9 << 20)
    bundle = make_bundle(pki, tmp_path, {"rootfs": image}, version="2.0",
                         create_args=[NO_COMPRESSION])
    dev = device_for(tmp_path, pki)
    url, _ = url_of(web, bundle)
    assert_ok(dev.install(url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


def test_forbidden_answer_is_refused_without_retrying(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    name = web.publish(bundle)
    url = web.url(f"status.cgi/{name}")
    proc = dev.install(f"{url}?fail=1000&code=403")
    assert_refused_cleanly(dev, proc, url, before, "403")
    assert len(web.requests(name)) == 1


@pytest.mark.parametrize("argv", [
    ["otabundle-install", "install"], ["otabundle-install", "info"],
    ["otabundle", "info"], ["otabundle", "verify"]], ids=" ".join)
def test_unsupported_url_scheme_is_refused_with_one_line(pki, tmp_path, argv):
    dev = device_for(tmp_path, pki)
    url = "ftp://127.0.0.1/update.raucb"
    if argv[0] == "otabundle-install":
        before = snapshot(dev)
        proc = dev.run(argv[1], url)
        assert_refused_cleanly(dev, proc, url, before, "unsupported URL scheme")
    else:
        proc = run(argv[1], "--keyring", pki.root, url)
        assert proc.returncode == 1, proc
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "unsupported url scheme" in lines[0].lower(), lines


def test_unsupported_url_scheme_error_hides_the_password(pki, tmp_path):
    proc = run("info", "--keyring", pki.root, "ftp://user:s3cret@127.0.0.1/update.raucb?token=t0k")
    assert proc.returncode == 1, proc
    assert "s3cret" not in proc.stderr and "t0k" not in proc.stderr, proc.stderr
    assert "ftp://127.0.0.1/update.raucb: unsupported URL scheme" in proc.stderr, proc.stderr


# --- system.conf [streaming] and the options --------------------------------------------------


def test_streaming_section_with_raucs_keys_and_ours_passes_check_config(pki, web, tmp_path):
    headers = header_file(tmp_path, f"X-Token: {SECRET}")
    dev = device_for(tmp_path, pki, streaming=(
        f"sandbox-user=nobody\ntls-ca={web.ca}\ntls-cert={web.client_cert}\n"
        f"tls-key={web.client_key}\nsend-headers=boot-id;machine-id;transaction-id;uptime\n"
        f"timeout=30\nheader-file={headers}\n"))
    proc = assert_ok(dev.run("check-config"))
    assert SECRET not in proc.stdout + proc.stderr


def test_send_headers_with_an_unknown_value_is_refused_naming_it(pki, tmp_path):
    dev = device_for(tmp_path, pki, streaming="send-headers=boot-id;colour\n")
    proc = dev.run("check-config")
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "colour" in proc.stderr, proc.stderr


@pytest.mark.parametrize("timeout", ["0", "3601", "ten"])
def test_streaming_timeout_outside_1_to_3600_is_refused(pki, tmp_path, timeout):
    dev = device_for(tmp_path, pki, streaming=f"timeout={timeout}\n")
    proc = dev.run("check-config")
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "timeout" in proc.stderr, proc.stderr


@pytest.mark.parametrize("timeout", ["0", "3601"])
def test_timeout_option_outside_1_to_3600_is_a_usage_error(pki, web, tmp_path, timeout):
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    proc = dev.run("install", "--timeout", timeout, web.url("never-asked.raucb"))
    assert proc.returncode == 2, proc
    assert proc.stderr.startswith("otabundle-install: ") and "timeout" in proc.stderr
    assert snapshot(dev) == before
    assert web.requests("never-asked.raucb") == []


# --- a robust transport --------------------------------------------------------------------------


def test_connection_dropped_on_the_first_connections_resumes_and_installs(pki, web, bundles,
                                                                          tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    name = web.publish(bundle)
    with FaultProxy(web.http_port, cut_after=700_000, times=2) as proxy:
        assert_ok(dev.install(proxy.url(name)))
        assert proxy.cuts == 2
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    assert dev.primary() == "B"
    # Resumed where it stopped: about one bundle downloaded, not three.
    downloaded = dev.status()["results"][-1]["downloaded_bytes"]
    assert downloaded <= bundle.stat().st_size + 2 * (1 << 20), downloaded


def test_server_killed_and_restarted_mid_install_is_resumed(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    name = web.publish(bundle)
    server = PlainLighttpd(tmp_path, web.docroot)

    def crash_and_restart():
        server.kill()
        server.start()

    try:
        with FaultProxy(server.port, hook_after=bundle.stat().st_size // 2,
                        hook=crash_and_restart) as proxy:
            assert_ok(dev.install(proxy.url(name)))
            assert proxy.hooked.is_set()
            assert proxy.connections >= 2   # the dropped one, and after the restart
    finally:
        server.stop()
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    assert dev.primary() == "B"


def test_server_busy_503_once_is_retried_and_installs(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    name = web.publish(bundle)
    assert_ok(dev.install(web.url(f"status.cgi/{name}") + "?fail=1&code=503"))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    assert web.requests(name)[0].status == 503


def test_server_gone_for_good_mid_install_fails_and_marks_the_slot_bad(pki, web, bundles,
                                                                        tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)
    with FaultProxy(web.http_port, down_after=bundle.stat().st_size // 2) as proxy:
        url = proxy.url(name)
        proc = dev.install(url)
        assert proxy.down.is_set()
    assert_failed_while_writing(dev, proc, url, active)


def test_stalled_server_with_timeout_1_fails_with_one_line_naming_the_stall(pki, web, bundles,
                                                                            tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)
    with FaultProxy(web.http_port, stall_after=bundle.stat().st_size // 2) as proxy:
        url = proxy.url(name)
        proc = dev.run("install", "--timeout", "1", url)
        assert proxy.stalled.is_set()
    assert_failed_while_writing(dev, proc, url, active, pattern=r"stall|no data")


def test_slow_server_that_keeps_sending_is_not_a_stall(pki, web, bundles, tmp_path):
    """32 KiB/s: each 1 MiB-ish request takes longer than the timeout, yet
    data keeps coming, so the install goes on."""
    bundle, image = bundles["small"]
    dev = device_for(tmp_path, pki)
    url, _ = url_of(web, bundle, prefix="slow")
    assert_ok(dev.run("install", "--timeout", "2", url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


def test_bundle_renamed_over_on_the_server_mid_install_is_refused_as_changed(pki, web, bundles,
                                                                            tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)

    def swap():
        web.publish(bundles["v2-other"][0], name)

    with FaultProxy(web.http_port, hook_after=bundle.stat().st_size // 2, hook=swap) as proxy:
        url = proxy.url(name)
        proc = dev.install(url)
        assert proxy.hooked.is_set()
    assert_failed_while_writing(dev, proc, url, active, "changed")


def test_bundle_renamed_over_behind_a_server_that_ignores_if_range_is_refused_as_changed(
        pki, web, bundles, tmp_path):
    """The server drops If-Range and answers 206 from the new file, of the
    same size: the ETag of the answer, checked before its body is taken,
    differs."""
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)
    offset = image_offset(bundle, _image_file(tmp_path, image))
    other = bytearray(bundle.read_bytes())
    other[offset + IMAGE_SIZE // 2:offset + IMAGE_SIZE] = os.urandom(IMAGE_SIZE // 2)
    (tmp_path / "same-size.raucb").write_bytes(other)

    def swap():
        web.publish(tmp_path / "same-size.raucb", name)

    with FaultProxy(web.http_port, hook_after=bundle.stat().st_size // 2, hook=swap) as proxy:
        url = proxy.url(f"ignore-if-range/{name}")
        proc = dev.install(url)
        assert proxy.hooked.is_set()
    assert_failed_while_writing(dev, proc, url, active, "changed")


def test_bundle_overwritten_in_place_without_etag_mid_install_fails_verity(pki, web, bundles,
                                                                           tmp_path):
    """Same size, same mtime, no ETag: the server can't tell; the verity
    tree does."""
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)
    served = web.docroot / name
    offset = image_offset(bundle, _image_file(tmp_path, image))

    def overwrite():
        st = served.stat()
        with open(served, "r+b") as f:
            f.seek(offset + IMAGE_SIZE // 2)
            f.write(os.urandom(IMAGE_SIZE // 2))
        os.utime(served, ns=(st.st_atime_ns, st.st_mtime_ns))

    with FaultProxy(web.http_port, hook_after=bundle.stat().st_size // 4,
                    hook=overwrite) as proxy:
        url = proxy.url(f"noetag/{name}")
        proc = dev.install(url)
        assert proxy.hooked.is_set()
    assert_failed_while_writing(dev, proc, url, active,
                                pattern=r"verity|modified|hash|changed")


def _image_file(tmp_path, image):
    path = tmp_path / "image.img"
    path.write_bytes(image)
    return path


def interrupted(proc):
    return subprocess.CompletedProcess(proc.args, proc.returncode, *proc.communicate())


def restore_default_signals():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_sigint_during_a_streamed_install_ends_it_cleanly(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    active = dev.slots["rootfs.0"].read_bytes()
    name = web.publish(bundle)
    with FaultProxy(web.http_port, stall_after=bundle.stat().st_size // 2) as proxy:
        proc = subprocess.Popen(install_cmd(dev.conf, "install", proxy.url(name)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=restore_default_signals)
        # Held by the silent relay (the default timeout is 60 s): no time limit.
        while not proxy.stalled.wait(0.05):
            assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
    assert proc.returncode == -signal.SIGINT, (proc.returncode, out, err)
    assert err == ""
    status = dev.status()
    assert status["primary"] == "A" and status["pending"] is None
    assert dev.slot("rootfs.1")["state"] == "bad"
    assert dev.slots["rootfs.0"].read_bytes() == active
    assert data_leftovers(dev) == []


# --- TLS ---------------------------------------------------------------------------------------


def test_https_with_tls_ca_in_system_conf_installs(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.ca}\n")
    url, _ = url_of(web, bundle, base=web.https)
    assert_ok(dev.install(url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


def test_https_with_the_wrong_ca_fails_with_one_tls_line(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.wrong_ca}\n")
    before = snapshot(dev)
    url, _ = url_of(web, bundle, base=web.https)
    line = assert_refused_cleanly(dev, dev.install(url), url, before)
    assert re.search(r"tls|certificate", line, re.I), line


def test_tls_no_verify_installs_from_an_unknown_ca_with_a_warning(pki, web, bundles, tmp_path):
    """RAUC's --tls-no-verify: the server is not authenticated, the bundle
    still is (by its signature), and the user is told."""
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.wrong_ca}\n")
    url, _ = url_of(web, bundle, base=web.https)
    proc = assert_ok(dev.run("install", "--tls-no-verify", url))
    assert re.search(r"warning", proc.stderr, re.I), proc.stderr
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


def test_tls_ca_on_the_command_line_wins_over_system_conf(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.wrong_ca}\n")
    url, _ = url_of(web, bundle, base=web.https)
    assert_ok(dev.run("install", "--tls-ca", web.ca, url))


def test_mutual_tls_with_a_pem_client_key_installs(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=(f"tls-ca={web.ca}\ntls-cert={web.client_cert}\n"
                                               f"tls-key={web.client_key}\n"))
    url, _ = url_of(web, bundle, base=web.mtls)
    assert_ok(dev.install(url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image


def test_mutual_tls_without_a_client_certificate_fails_with_one_line(pki, web, bundles,
                                                                     tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.ca}\n")
    before = snapshot(dev)
    url, _ = url_of(web, bundle, base=web.mtls)
    assert_refused_cleanly(dev, dev.install(url), url, before)


@pytest.fixture(scope="module")
def client_token(web, tmp_path_factory):
    """A fresh SoftHSM2 token "stream" holding the client's TLS key
    (object "client"): the environment to run otabundle-install in."""
    env = softhsm_env(tmp_path_factory.mktemp("stream-token"))
    run_tool("softhsm2-util", "--init-token", "--free", "--label", "stream", "--pin", TOKEN_PIN,
             "--so-pin", "so-" + TOKEN_PIN, env=env)
    run_tool("softhsm2-util", "--import", web.client_key_pkcs8, "--token", "stream", "--label",
             "client", "--id", "01", "--pin", TOKEN_PIN, env=env)
    return env


def test_mutual_tls_with_a_client_key_in_a_token_installs_and_the_pin_appears_nowhere(
        pki, web, bundles, client_token, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=(f"tls-ca={web.ca}\ntls-cert={web.client_cert}\n"
                                               f"tls-key={TOKEN_KEY}\n"))
    url, _ = url_of(web, bundle, base=web.mtls)
    env = dict(client_token, OTABUNDLE_PKCS11_MODULE=SOFTHSM_MODULE,
               OTABUNDLE_PKCS11_PIN=TOKEN_PIN)
    proc = assert_ok(dev.install(url, env=env))
    assert TOKEN_PIN not in proc.stdout + proc.stderr
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    for path in dev.data.rglob("*"):
        assert TOKEN_PIN.encode() not in path.read_bytes()


# --- headers -----------------------------------------------------------------------------------


def header_file(tmp_path, *lines):
    path = tmp_path / "headers"
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return path


def test_header_file_token_reaches_the_origin_on_every_request(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    headers = header_file(tmp_path, "# the fleet's token", f"X-Token: {SECRET}")
    dev = device_for(tmp_path, pki, streaming=f"header-file={headers}\n")
    url, name = url_of(web, bundle, prefix="redirect")
    assert_ok(dev.install(url))
    requests = web.requests(name)
    assert len(requests) >= 3
    assert all(r.token == SECRET for r in requests), requests


def test_header_file_token_is_not_sent_to_another_host_after_a_redirect(pki, web, bundles,
                                                                        tmp_path):
    bundle, image = bundles["v2"]
    headers = header_file(tmp_path, f"X-Token: {SECRET}")
    dev = device_for(tmp_path, pki, streaming=f"header-file={headers}\n")
    url, name = url_of(web, bundle, prefix="elsewhere")
    assert_ok(dev.install(url))
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    origin = web.requests(name)
    assert [(r.status, r.token) for r in origin] == [(301, SECRET)]
    other = web.requests(name, other=True)
    assert other and all(r.token == "" and r.authorization == "" for r in other), other
    assert SECRET not in (web.dir / "other-access.log").read_text()


def test_redirect_loop_is_refused_after_a_bounded_number_of_hops(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    before = snapshot(dev)
    url, name = url_of(web, bundle, prefix="loop")
    line = assert_refused_cleanly(dev, dev.install(url), url, before)
    assert "redirect" in line.lower(), line
    assert 2 <= len(web.requests(name)) <= 10


def test_redirect_from_https_to_http_is_refused(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki, streaming=f"tls-ca={web.ca}\n")
    before = snapshot(dev)
    url, name = url_of(web, bundle, prefix="elsewhere", base=web.https)
    line = assert_refused_cleanly(dev, dev.install(url), url, before)
    assert "redirect" in line.lower(), line
    assert web.requests(name, other=True) == []


def test_header_file_readable_by_others_is_refused(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    headers = header_file(tmp_path, f"X-Token: {SECRET}")
    headers.chmod(0o644)
    dev = device_for(tmp_path, pki, streaming=f"header-file={headers}\n")
    before = snapshot(dev)
    url, name = url_of(web, bundle)
    proc = dev.install(url)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and SECRET not in proc.stderr, proc.stderr
    assert snapshot(dev) == before
    assert web.requests(name) == []


def test_send_headers_boot_id_reaches_the_server_on_the_first_request_only(pki, web, bundles,
                                                                          tmp_path):
    bundle, _ = bundles["v2"]
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    dev = device_for(tmp_path, pki, streaming="send-headers=boot-id\n")
    url, name = url_of(web, bundle)
    assert_ok(dev.install(url))
    requests = web.requests(name)
    assert requests[0].boot_id == boot_id
    assert all(r.boot_id == "" for r in requests[1:]), requests


def test_http_header_option_is_sent(pki, web, bundles, tmp_path):
    bundle, _ = bundles["v2"]
    dev = device_for(tmp_path, pki)
    url, name = url_of(web, bundle)
    assert_ok(dev.run("install", "--http-header", f"X-Token: {SECRET}", url))
    assert all(r.token == SECRET for r in web.requests(name))


# --- rauc on the device ------------------------------------------------------------------------


def test_rauc_install_url_with_http_header_and_tls_ca_installs(pki, web, bundles, tmp_path):
    bundle, image = bundles["v2"]
    dev = device_for(tmp_path, pki)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "rauc").symlink_to(OTABUNDLE_INSTALL)
    url, name = url_of(web, bundle, base=web.https)
    proc = subprocess.run(["rauc", "--conf", str(dev.conf), "--override-boot-slot=A", "install",
                           "--tls-ca", str(web.ca), "--http-header", f"X-Token: {SECRET}", url],
                          capture_output=True, text=True,
                          env=dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}"))
    assert_ok(proc)
    assert proc.stdout == f"Installing `{url}` succeeded\n"
    assert dev.slots["rootfs.1"].read_bytes()[:len(image)] == image
    assert all(r.token == SECRET for r in web.requests(name))
