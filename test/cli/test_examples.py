# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CI example (examples/ci-pipeline.sh) does what its header says."""
import json
import os
import subprocess
from pathlib import Path


from conftest import OTABUNDLE, make_input, run_tool

CI_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ci-pipeline.sh"


def run_ci(pki, tmp_path, **env):
    signer = pki.leaves["ec256"]
    full_env = dict(os.environ, OTABUNDLE=OTABUNDLE, OTABUNDLE_CERT=str(signer.cert),
                    OTABUNDLE_KEY=str(signer.key), OTABUNDLE_KEYRING=str(pki.root),
                    OTABUNDLE_INTERMEDIATE=str(pki.intermediate),
                    OTABUNDLE_INPUT=str(tmp_path / "in"),
                    OTABUNDLE_OUTPUT=str(tmp_path / "out" / "update.raucb"), **env)
    (tmp_path / "out").mkdir()
    return subprocess.run(["sh", CI_SCRIPT], env=full_env, capture_output=True, text=True)


def test_ci_example_builds_and_verifies_a_bundle(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run_ci(pki, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "update.raucb.json").read_text())
    assert result["verified"] is True
    assert "Compression zstd" in run_tool("unsquashfs", "-s", tmp_path / "out" / "update.raucb").stdout


def test_ci_example_passes_the_chosen_compression_on(pki, tmp_path):
    make_input(tmp_path / "in")
    proc = run_ci(pki, tmp_path, OTABUNDLE_COMPRESSION="gzip")
    assert proc.returncode == 0, proc.stderr
    assert "Compression gzip" in run_tool("unsquashfs", "-s", tmp_path / "out" / "update.raucb").stdout
