# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CI templates of contrib/ci/: the GitLab and GitHub Actions pipelines
parse and call the steps of contrib/ci/otabundle-ci.sh, and those steps run
against the real tool: build with a development key, gate on
`verify --threshold N --output-format=json`, promote with `resign` and a
release key in a fresh SoftHSM2 token standing in for the HSM, its PIN in
the environment only (never in argv or output: checked with strace).
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import yaml
except ImportError:  # python3-yaml; only the YAML tests need it
    yaml = None

from conftest import (OTABUNDLE, SOFTHSM_MODULE, assert_ok, info_json, make_input, run,
                      run_tool, softhsm_env)

CI_DIR = Path(__file__).resolve().parents[2] / "contrib" / "ci"
SCRIPT = CI_DIR / "otabundle-ci.sh"
STEPS = ("build", "gate", "promote")

# Distinctive, so that finding it anywhere means it leaked.
RELEASE_PIN = "ci-pin-5830-2291-7764"
SO_PIN = "ci-so-3317-0462"
RELEASE_KEY = "pkcs11:token=release;object=release-signer;type=private"
RELEASE_CERT = "pkcs11:token=release;object=release-signer;type=cert"

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
needs_yaml = pytest.mark.skipif(yaml is None, reason="python3-yaml not installed")


# --- the YAML files ------------------------------------------------------------------


def load(name):
    return yaml.safe_load((CI_DIR / name).read_text())


def script_lines(commands):
    """The shell lines of a GitLab `script:` or a GitHub `run:`."""
    if isinstance(commands, str):
        return commands.splitlines()
    return [line for c in commands for line in str(c).splitlines()]


def gitlab_jobs():
    doc = load("gitlab-ci.yml")
    return {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}


def github_steps():
    """{job: [step, ...]} of the workflow."""
    return {name: job["steps"] for name, job in load("github-actions.yml")["jobs"].items()}


def calls(lines):
    """The otabundle-ci.sh subcommands called in @lines."""
    return [line.split("otabundle-ci.sh", 1)[1].split()[0] for line in lines
            if "contrib/ci/otabundle-ci.sh" in line]


@needs_yaml
def test_gitlab_pipeline_runs_build_gate_promote_in_three_stages_each_through_the_script():
    doc = load("gitlab-ci.yml")
    jobs = gitlab_jobs()
    assert doc["stages"] == ["build", "gate", "promote"]
    by_step = {}
    for name, job in jobs.items():
        for step in calls(script_lines(job["script"])):
            by_step[step] = (name, job)
    assert sorted(by_step) == sorted(STEPS)
    for step in STEPS:
        assert by_step[step][1]["stage"] == step
    assert by_step["gate"][1]["needs"] == [by_step["build"][0]]
    assert by_step["promote"][1]["needs"] == [by_step["gate"][0]]


@needs_yaml
def test_gitlab_pin_comes_only_from_the_ci_variables_never_the_file_or_a_command():
    text = (CI_DIR / "gitlab-ci.yml").read_text()
    doc = load("gitlab-ci.yml")
    assert "OTABUNDLE_PKCS11_PIN" not in doc.get("variables", {})
    for job in gitlab_jobs().values():
        assert "OTABUNDLE_PKCS11_PIN" not in job.get("variables", {})
        for line in script_lines(job["script"]) + script_lines(job.get("before_script", [])):
            assert "PIN" not in line and "pin-value" not in line, line
    assert "pin-value" not in text
    promote = next(j for j in gitlab_jobs().values()
                   if calls(script_lines(j["script"])) == ["promote"])
    assert promote["variables"]["OTABUNDLE_RELEASE_KEY"].startswith("pkcs11:")
    assert promote["environment"] == "production"


@needs_yaml
def test_github_workflow_runs_build_gate_promote_as_dependent_jobs_through_the_script():
    doc = load("github-actions.yml")
    # PyYAML reads the bare key `on` as YAML 1.1's true.
    assert "push" in (doc.get("on") or doc.get(True))
    steps = github_steps()
    by_step = {}
    for job, job_steps in steps.items():
        for s in job_steps:
            for step in calls(script_lines(s.get("run", ""))):
                by_step[step] = job
    assert sorted(by_step) == sorted(STEPS)
    jobs = doc["jobs"]
    assert jobs[by_step["gate"]]["needs"] == by_step["build"]
    assert jobs[by_step["promote"]]["needs"] == by_step["gate"]


@needs_yaml
def test_github_pin_comes_from_secrets_into_the_promote_steps_environment_only():
    steps = github_steps()
    with_pin = []
    for job_steps in steps.values():
        for s in job_steps:
            assert "PIN" not in s.get("run", ""), s["run"]
            if "OTABUNDLE_PKCS11_PIN" in s.get("env", {}):
                with_pin.append(s)
    assert len(with_pin) == 1
    assert with_pin[0]["env"]["OTABUNDLE_PKCS11_PIN"] == "${{ secrets.OTABUNDLE_PKCS11_PIN }}"
    assert calls(script_lines(with_pin[0]["run"])) == ["promote"]
    assert "pin-value" not in (CI_DIR / "github-actions.yml").read_text()


# --- running the steps ---------------------------------------------------------------


@pytest.fixture
def token(pki, tmp_path):
    """A fresh SoftHSM2 token "release" holding the release signer's key
    and certificate (pki's `other` leaf, under the unrelated root that
    stands for production). Returns its environment (SOFTHSM2_CONF)."""
    d = tmp_path / "hsm"
    d.mkdir()
    env = softhsm_env(d)
    signer = pki.other
    pkcs8 = d / "release.p8"
    run_tool("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", signer.key, "-out", pkcs8)
    run_tool("softhsm2-util", "--init-token", "--free", "--label", "release",
             "--pin", RELEASE_PIN, "--so-pin", SO_PIN, env=env)
    run_tool("softhsm2-util", "--import", pkcs8, "--token", "release", "--label",
             "release-signer", "--id", "c1", "--pin", RELEASE_PIN, env=env)
    der = d / "release.der"
    run_tool("openssl", "x509", "-in", signer.cert, "-outform", "DER", "-out", der)
    run_tool("pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "release", "--login",
             "--pin", "env:PIN", "--write-object", der, "--type", "cert", "--label",
             "release-signer", "--id", "c1", env=dict(env, PIN=RELEASE_PIN))
    return env


@pytest.fixture
def ci(pki, tmp_path):
    """ci(step, **env) runs `otabundle-ci.sh STEP` in tmp_path with the
    pipeline's variables; @env adds to (or, with None, removes from) them."""
    inputdir = tmp_path / "bundle-input"
    make_input(inputdir, sizes=(70000, 4096))
    base = {k: v for k, v in os.environ.items() if "PKCS11" not in k}
    base.update(OTABUNDLE=OTABUNDLE, OTABUNDLE_BUNDLE="out/update.raucb",
                OTABUNDLE_INPUT=str(inputdir), OTABUNDLE_DEV_CERT=str(pki.ec256.cert),
                OTABUNDLE_DEV_KEY=str(pki.ec256.key),
                OTABUNDLE_DEV_INTERMEDIATE=str(pki.intermediate),
                OTABUNDLE_DEV_KEYRING=str(pki.root), OTABUNDLE_VERSION="2.4.0",
                OTABUNDLE_BUILD_ID="pipeline-77",
                OTABUNDLE_RELEASE_KEYRING=str(pki.other_root),
                OTABUNDLE_PKCS11_MODULE=SOFTHSM_MODULE,
                OTABUNDLE_RELEASE_KEY=RELEASE_KEY, OTABUNDLE_RELEASE_CERT=RELEASE_CERT)

    def ci(step, *wrapper, **env):
        e = dict(base)
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run([*wrapper, "/bin/sh", str(SCRIPT), step], cwd=tmp_path, env=e,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    return ci


def assert_one_line_failure(proc, step, *words):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"otabundle-ci: {step}: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@needs_jq
def test_build_gate_promote_turns_a_development_bundle_into_a_release_bundle(pki, tmp_path, ci,
                                                                              token):
    assert_ok(ci("build"))
    bundle = tmp_path / "out" / "update.raucb"
    manifest = info_json(bundle, pki.root)["manifest"]
    assert (manifest["version"], manifest["build"]) == ("2.4.0", "pipeline-77")

    gate = assert_ok(ci("gate"))
    assert "passed, version 2.4.0" in gate.stdout
    result = json.loads((tmp_path / "out" / "update.raucb.verify.json").read_text())
    assert result["verified"] is True and result["trusted_signers"] == 1

    promote = assert_ok(ci("promote", OTABUNDLE_PKCS11_PIN=RELEASE_PIN, **token))
    release = tmp_path / "out" / "update-release.raucb"
    assert f"promote: out/{release.name}" in promote.stdout
    # Production trusts it, development no longer does; same payload.
    assert_ok(run("verify", "--keyring", pki.other_root, "--check-images", release))
    assert run("verify", "--keyring", pki.root, release).returncode == 1
    assert info_json(release, pki.other_root)["manifest"] == manifest
    if shutil.which("rauc"):
        assert run_tool("rauc", "info", "--keyring", pki.other_root, release,
                        check=False).returncode == 0


@needs_jq
def test_gate_fails_with_one_line_for_a_bundle_below_the_threshold(tmp_path, ci):
    assert_ok(ci("build"))
    proc = ci("gate", OTABUNDLE_THRESHOLD="2")
    assert_one_line_failure(proc, "gate", "out/update.raucb", "threshold-not-met",
                            "trusted signers 1, need 2")
    # The document the decision was taken on stays, for the artifacts.
    result = json.loads((tmp_path / "out" / "update.raucb.verify.json").read_text())
    assert result["verified"] is False and result["error"]["code"] == "threshold-not-met"


@needs_jq
def test_gate_passes_a_threshold_of_two_once_a_second_key_signed(pki, tmp_path, ci):
    assert_ok(ci("build"))
    bundle = tmp_path / "out" / "update.raucb"
    assert_ok(run("sign", "--force", "--cert", pki.ec384.cert, "--key", pki.ec384.key,
                  "--intermediate", pki.intermediate, bundle, bundle))
    proc = assert_ok(ci("gate", OTABUNDLE_THRESHOLD="2"))
    assert "2 of 2 trusted signer(s)" in proc.stdout


@needs_jq
def test_gate_fails_with_one_line_for_a_tampered_bundle(tmp_path, ci):
    assert_ok(ci("build"))
    bundle = tmp_path / "out" / "update.raucb"
    data = bytearray(bundle.read_bytes())
    data[100] ^= 0xFF
    bundle.write_bytes(bytes(data))
    assert_one_line_failure(ci("gate"), "gate", "out/update.raucb")


@needs_jq
def test_promote_refuses_a_pin_in_the_key_uri(ci, token):
    assert_ok(ci("build"))
    proc = ci("promote", OTABUNDLE_PKCS11_PIN=RELEASE_PIN,
              OTABUNDLE_RELEASE_KEY=RELEASE_KEY + "?pin-value=" + RELEASE_PIN, **token)
    line = assert_one_line_failure(proc, "promote", "pin-value=", "OTABUNDLE_PKCS11_PIN")
    assert RELEASE_PIN not in line


@needs_jq
def test_promote_without_the_pin_secret_fails_with_one_line(tmp_path, ci, token):
    assert_ok(ci("build"))
    proc = ci("promote", OTABUNDLE_PKCS11_PIN=None, **token)
    assert_one_line_failure(proc, "promote", "OTABUNDLE_PKCS11_PIN is not set")
    assert not (tmp_path / "out" / "update-release.raucb").exists()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@needs_jq
def test_promote_never_puts_the_pin_in_argv_or_output(tmp_path, ci, token):
    assert_ok(ci("build"))
    trace = tmp_path / "execve.trace"
    # LeakSanitizer can't run under ptrace (the ASan pass of test/run.sh):
    # leaks are checked by the untraced promote tests.
    env = dict(token)
    env["ASAN_OPTIONS"] = ":".join(
        filter(None, [env.get("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS")), "detect_leaks=0"]))
    proc = assert_ok(ci("promote", "strace", "-f", "-e", "trace=execve", "-s", "4096", "-o",
                        str(trace), OTABUNDLE_PKCS11_PIN=RELEASE_PIN, **env))
    execs = trace.read_text()
    # The trace saw otabundle resign run with the token key (so the check
    # means something), and the PIN in none of the command lines.
    assert '"resign"' in execs and RELEASE_KEY in execs, execs
    assert RELEASE_PIN not in execs
    assert RELEASE_PIN not in proc.stdout + proc.stderr
    assert (tmp_path / "out" / "update-release.raucb").is_file()


def test_script_without_a_step_is_a_usage_error(ci):
    proc = ci("deploy")
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: ")
