# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CI example (examples/ci-pipeline.sh) and the quick start
(contrib/quickstart.sh) do what their headers say."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import OTABUNDLE, make_input, run_tool, validate_json_document

CI_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ci-pipeline.sh"


def run_ci(pki, tmp_path, **env):
    signer = pki.leaves["ec256"]
    full_env = dict(os.environ, OTABUNDLE=OTABUNDLE, OTABUNDLE_CERT=str(signer.cert),
                    OTABUNDLE_KEY=str(signer.key), OTABUNDLE_KEYRING=str(pki.root),
                    OTABUNDLE_INTERMEDIATE=str(pki.intermediate),
                    OTABUNDLE_INPUT=str(tmp_path / "in"),
                    OTABUNDLE_OUTPUT=str(tmp_path / "out" / "update.raucb"))
    full_env.update(env)
    (tmp_path / "out").mkdir()
    return subprocess.run(["sh", CI_SCRIPT], env=full_env, capture_output=True, text=True)


def test_ci_example_builds_and_verifies_a_bundle(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run_ci(pki, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = validate_json_document(
        json.loads((tmp_path / "out" / "update.raucb.json").read_text()))
    assert result["verified"] is True
    assert "Compression zstd" in run_tool("unsquashfs", "-s", tmp_path / "out" / "update.raucb").stdout


def test_ci_example_passes_the_chosen_compression_on(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run_ci(pki, tmp_path, OTABUNDLE_COMPRESSION="gzip")
    assert proc.returncode == 0, proc.stderr
    assert "Compression gzip" in run_tool("unsquashfs", "-s", tmp_path / "out" / "update.raucb").stdout


def test_ci_example_writes_no_bundle_when_the_intermediate_is_forgotten(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run_ci(pki, tmp_path, OTABUNDLE_INTERMEDIATE="")
    assert proc.returncode != 0
    assert "did you forget --intermediate?" in proc.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_ci_example_sets_the_build_id_without_touching_the_input(pki, tmp_path):
    make_input(tmp_path / "in")
    manifest = (tmp_path / "in" / "manifest.raucm").read_bytes()
    proc = run_ci(pki, tmp_path, OTABUNDLE_BUILD_ID="pipeline-4711")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "update.raucb.json").read_text())
    assert result["manifest"]["build"] == "pipeline-4711"
    assert (tmp_path / "in" / "manifest.raucm").read_bytes() == manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["update.raucb",
                                                                   "update.raucb.json"]


QUICKSTART = Path(__file__).resolve().parents[2] / "contrib" / "quickstart.sh"


def test_quickstart_runs_end_to_end(tmp_path):
    """The README's first command: contrib/quickstart.sh builds into build/
    and runs the whole demo; it is checked only against that build (the
    sanitizer pass tests another binary)."""
    if Path(OTABUNDLE).resolve() != QUICKSTART.parents[1] / "build" / "otabundle":
        pytest.skip("quickstart.sh uses build/otabundle, not the binary under test")
    proc = subprocess.run(["bash", QUICKSTART], env=dict(os.environ, TMPDIR=str(tmp_path)),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "installed version and security floor committed" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("Done. Everything is in ")


def test_quickstart_runs_the_programs_in_otabundle_bindir(tmp_path):
    """OTABUNDLE_BINDIR=DIR: the quick start builds nothing and runs DIR's
    otabundle and otabundle-install (test/debian-package.sh points it at the
    unpacked packages); here the binaries under test."""
    bindir = Path(OTABUNDLE).resolve().parent
    env = dict(os.environ, TMPDIR=str(tmp_path), OTABUNDLE_BINDIR=str(bindir))
    proc = subprocess.run(["bash", "-x", QUICKSTART], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "installed version and security floor committed" in proc.stdout
    assert f"+ {bindir}/otabundle create " in proc.stderr
    assert f"+ {bindir}/otabundle-install --conf target/system.conf " in proc.stderr
    assert "install-deps.sh" not in proc.stderr and "ninja" not in proc.stderr


ENCRYPTED_UPDATE = Path(__file__).resolve().parents[2] / "examples" / "encrypted-update.sh"


@pytest.mark.skipif(not Path("/usr/lib/softhsm/libsofthsm2.so").exists(),
                    reason="SoftHSM2 (softhsm2) not installed")
def test_encrypted_update_example_decrypts_only_for_its_devices(tmp_path):
    """examples/encrypted-update.sh: a crypt bundle encrypted for a device
    with a token key and one with a key file; each decrypts it, a third
    device is refused, and the kept bundle names its two recipients."""
    proc = subprocess.run(["bash", ENCRYPTED_UPDATE, tmp_path / "kept"],
                          env=dict(os.environ, OTABUNDLE=OTABUNDLE, TMPDIR=str(tmp_path)),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "update.raucb: OK (crypt, 1 trusted signer, every image hashed)" in proc.stdout
    assert "Extracted update.raucb to extracted" in proc.stdout
    assert "stranger.pem is not a recipient of this bundle" in proc.stderr
    assert proc.stdout.rstrip().splitlines()[-1] == "encrypted update complete"
    doc = json.loads(subprocess.run(
        [OTABUNDLE, "info", "--dump-recipients", "--output-format=json",
         tmp_path / "kept" / "update.raucb"], capture_output=True, text=True).stdout)
    assert [r["key_type"] for r in doc["encryption"]["recipients"]] == ["rsa", "ec"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


HSM_CEREMONY = Path(__file__).resolve().parents[2] / "examples" / "hsm-ceremony.sh"


@pytest.mark.skipif(not Path("/usr/lib/softhsm/libsofthsm2.so").exists(),
                    reason="SoftHSM2 (softhsm2) not installed")
def test_hsm_ceremony_example_signs_with_the_token_key_and_leaves_only_its_outputs(tmp_path):
    """examples/hsm-ceremony.sh: the release key made in a fresh token, its
    certificate issued by the CA, the bundle signed through PKCS#11; the
    kept bundle verifies against the kept keyring, and the token and every
    scratch file are gone."""
    proc = subprocess.run(["bash", HSM_CEREMONY, tmp_path / "kept"],
                          env=dict(os.environ, OTABUNDLE=OTABUNDLE, TMPDIR=str(tmp_path)),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "\nceremony complete\n" in proc.stdout
    kept = tmp_path / "kept"
    assert sorted(p.name for p in kept.iterdir()) == ["release-signer.pem", "release.raucb",
                                                       "root.pem"]
    verify = subprocess.run([OTABUNDLE, "verify", "--keyring", kept / "root.pem",
                             kept / "release.raucb"], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


TIMESTAMPED_RELEASE = Path(__file__).resolve().parents[2] / "examples" / "timestamped-release.sh"


def run_timestamped_release(tmp_path, **env):
    # The script runs otabundle under faketime: an ASan build must let
    # libfaketime's preload come first.
    asan = os.environ.get("ASAN_OPTIONS", "")
    asan = f"{asan}:verify_asan_link_order=0".lstrip(":")
    proc = subprocess.run(["bash", TIMESTAMPED_RELEASE, tmp_path / "kept"],
                          env=dict(os.environ, OTABUNDLE=OTABUNDLE, TMPDIR=str(tmp_path),
                                   ASAN_OPTIONS=asan, **env),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1] == "timestamped release complete"
    kept = tmp_path / "kept"
    assert sorted(p.name for p in kept.iterdir()) == ["release.raucb", "root.pem",
                                                       "tsa-root.pem"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    return proc, kept


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime not installed")
def test_timestamped_release_example_verifies_after_expiry_only_with_its_tsa(tmp_path):
    """examples/timestamped-release.sh, offline: request out, `openssl ts
    -reply` answers, add-timestamp; a month later the bundle verifies with
    the TSA keyring and is refused without it."""
    proc, kept = run_timestamped_release(tmp_path)
    assert "(trusted)" in proc.stdout
    assert proc.stdout.count("release.raucb: OK (verity, 1 trusted signer)") == 2
    assert "certificate has expired" in proc.stderr
    assert "(refused without --tsa-keyring, as it must be)" in proc.stdout
    doc = json.loads(subprocess.run(
        [OTABUNDLE, "info", "--keyring", kept / "root.pem", "--tsa-keyring",
         kept / "tsa-root.pem", "--output-format=json", kept / "release.raucb"],
        capture_output=True, text=True).stdout)
    assert doc["signers"][0]["timestamp"]["trusted"] is True


def test_timestamped_release_example_asks_a_tsa_url_when_given_one(tmp_path, tsa):
    proc, _ = run_timestamped_release(tmp_path, TSA_URL=tsa.url(), TSA_KEYRING=str(tsa.root))
    assert f"have the TSA at {tsa.url()} timestamp" in proc.stdout
    assert "by CN=otabundle test TSA" in proc.stdout and "(trusted)" in proc.stdout


KEY_ROTATION = Path(__file__).resolve().parents[2] / "examples" / "key-rotation.sh"


def test_key_rotation_example_rotates_and_revokes_and_leaves_only_its_outputs(tmp_path):
    """examples/key-rotation.sh: (1) a planned rotation with an overlap
    window, (2) a leaked officer key revoked by the two others; every
    one-sided, skipped or replayed update is refused, and the kept trust
    lists form a chain from v1."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    proc = subprocess.run(["bash", KEY_ROTATION, tmp_path / "kept"],
                          env=dict(os.environ, OTABUNDLE=OTABUNDLE, TMPDIR=str(tmp_path),
                                   ASAN_OPTIONS=f"{asan}:verify_asan_link_order=0".lstrip(":")),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1] == "key rotation complete"
    assert "v4.trust: OK, version 4 accepted over version 3" in proc.stdout
    assert "not signed by its current threshold (0 of 1)" in proc.stdout  # new key alone
    assert "not signed by its current threshold (1 of 2)" in proc.stdout  # one officer alone
    assert "CN=carol: revoked by trust list version 4" in proc.stdout
    # The device: v1 refuses the new key, v2 accepts it; v3 and v4 in one go.
    assert "trust list version 2 installed (from version 1)" in proc.stdout
    assert "trust list version 4 installed (from version 2)" in proc.stdout
    assert ("otabundle-install: boot.raucb: policy 'bootloader' of slot bootloader.0"
            in proc.stdout)
    kept = tmp_path / "kept"
    assert sorted(p.name for p in kept.iterdir()) == ["audit.log", "v1.trust", "v2.trust",
                                                       "v3.trust", "v4.trust"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    chain = subprocess.run([OTABUNDLE, "trust", "verify", "--trust", kept / "v1.trust",
                            *(kept / f"v{n}.trust" for n in (2, 3, 4))],
                           capture_output=True, text=True)
    assert chain.returncode == 0, chain.stderr
    audit = [json.loads(line) for line in (kept / "audit.log").read_text().splitlines()]
    assert [(a["operation"], a["format"]) for a in audit] == [
        ("create", "trust"), ("create", "trust"), ("sign-detached", "trust"),
        ("sign-detached", "trust")]


STREAMING = Path(__file__).resolve().parents[2] / "examples" / "streaming-lighttpd"


def test_streaming_example_installs_from_lighttpd_and_leaves_nothing(tmp_path):
    """examples/streaming-lighttpd/: lighttpd with the example's
    lighttpd.conf serves a signed bundle over HTTPS, and the simulated
    device checks it and installs it from the URL, fetching the size and
    the signature before any image byte; lighttpd is stopped and every
    file removed at the end."""
    proc = subprocess.run(["bash", STREAMING / "serve-and-install.sh"],
                          env=dict(os.environ, OTABUNDLE=OTABUNDLE, TMPDIR=str(tmp_path)),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.rstrip().splitlines()[-1] == "streaming install complete"
    assert "OK for this system" in proc.stdout
    assert "installed 2.0 into rootfs.1" in proc.stdout
    size = int(re.search(r"^bundle: (\d+) bytes$", proc.stdout, re.M).group(1))
    ranges = proc.stdout.split("the Range of each request\n", 1)[1].splitlines()
    # The size probe, then the signature at the end of the 4 MiB bundle.
    assert ranges[0] == "bytes=-8"
    first, last = map(int, ranges[1][len("bytes="):].split("-"))
    assert size - (256 << 10) <= first < last < size
    assert sorted(p.name for p in tmp_path.iterdir()) == []
