# SPDX-License-Identifier: LGPL-2.1-or-later
"""Progress lines: on a terminal, long operations show bytes done, rate and
time left on one line on stderr, rewritten in place, and end with a line
of total, time and average rate. Not on a pipe, not with --quiet."""
import re

import pytest

from conftest import (OTABUNDLE, assert_ok, create_bundle, flip_byte, make_input, run,
                      run_on_terminal)

# "verify: 612.0 MiB of 1.2 GiB (49%), 1.1 GiB/s, 0:01 left"
RUNNING = r"{}: [\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]?i?B \(\d+%\), [\d.]+ [KMGT]?i?B/s, (\d+:\d\d|\?) left"
# "verify: 1.2 GiB in 0:01, 1.1 GiB/s"
FINAL = r"{}: [\d.]+ [KMGT]?i?B in \d+:\d\d, [\d.]+ [KMGT]?i?B/s\n"


def assert_progress(terminal, phase):
    assert re.search(RUNNING.format(re.escape(phase)), terminal), terminal
    assert re.search(FINAL.format(re.escape(phase)), terminal), terminal
    # Each redraw returns to the line start and erases it.
    assert f"\r\x1b[K{phase}: " in terminal


@pytest.fixture(params=["verity", "plain"])
def bundle_format(request):
    return request.param


@pytest.fixture
def bundle(pki, tmp_path, bundle_format):
    make_input(tmp_path / "in", sizes=(3 * 1024 * 1024, 70000))
    return create_bundle(pki, tmp_path / "in", tmp_path / "b.raucb",
                         f"--format={bundle_format}")


def test_create_shows_packing_and_hashing_progress_on_a_terminal(pki, tmp_path, bundle_format):
    make_input(tmp_path / "in", sizes=(3 * 1024 * 1024,))
    status, stdout, terminal = run_on_terminal(
        [OTABUNDLE, "create", f"--format={bundle_format}", *pki.sign_args(),
         tmp_path / "in", tmp_path / "b.raucb"])
    assert status == 0, terminal
    assert_progress(terminal, "pack")
    assert_progress(terminal, "hash tree" if bundle_format == "verity" else "hash")
    assert stdout.startswith("Created ")


def test_verify_shows_progress_on_a_terminal(pki, bundle):
    status, stdout, terminal = run_on_terminal(
        [OTABUNDLE, "verify", "--keyring", pki.root, bundle])
    assert status == 0, terminal
    assert_progress(terminal, "verify")
    assert "OK" in stdout


def test_verify_check_images_shows_the_image_check_too(pki, bundle):
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "verify", "--check-images", "--keyring", pki.root, bundle])
    assert status == 0, terminal
    assert_progress(terminal, "check images")


def test_extract_shows_progress_on_a_terminal(pki, bundle, tmp_path):
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "extract", "--keyring", pki.root, bundle, tmp_path / "out"])
    assert status == 0, terminal
    assert_progress(terminal, "extract")


def test_resign_shows_progress_on_a_terminal(pki, bundle, tmp_path):
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "resign", "--keyring", pki.root, *pki.sign_args(), bundle,
         tmp_path / "re.raucb"])
    assert status == 0, terminal
    assert_progress(terminal, "copy")


def test_sign_shows_progress_on_a_terminal(pki, bundle, tmp_path):
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "sign", "--keyring", pki.root, *pki.sign_args("ec384"), bundle,
         tmp_path / "signed.raucb"])
    assert status == 0, terminal
    assert_progress(terminal, "copy")


def test_merge_shows_progress_on_a_terminal(pki, bundle, tmp_path):
    partial = tmp_path / "ec384.cms"
    assert_ok(run("sign", "--detached", partial, *pki.sign_args("ec384"), bundle))
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "merge", "--keyring", pki.root, bundle, tmp_path / "merged.raucb", partial])
    assert status == 0, terminal
    assert_progress(terminal, "copy")


def test_quiet_shows_no_progress_on_a_terminal(pki, bundle, tmp_path):
    for args in (["verify", "--keyring", pki.root, bundle],
                 ["extract", "--keyring", pki.root, bundle, tmp_path / "out"]):
        status, _, terminal = run_on_terminal([OTABUNDLE, args[0], "--quiet", *args[1:]])
        assert status == 0, terminal
        assert terminal == "", terminal


def test_no_progress_when_stderr_is_not_a_terminal(pki, bundle, tmp_path):
    assert assert_ok(run("verify", "--keyring", pki.root, bundle)).stderr == ""
    assert assert_ok(run("extract", "--keyring", pki.root, bundle, tmp_path / "out")).stderr == ""


def test_a_failure_erases_the_progress_line_and_prints_one_error_line(pki, bundle):
    flip_byte(bundle, 4096 + 100)
    status, _, terminal = run_on_terminal(
        [OTABUNDLE, "verify", "--keyring", pki.root, bundle])
    assert status == 1
    # The last line, as the terminal shows it (after its last carriage
    # return), is the error; an unfinished progress line was erased.
    last_line = terminal.rstrip("\n").split("\n")[-1]
    visible = last_line.split("\r")[-1].replace("\x1b[K", "")
    assert visible.startswith(f"otabundle: {bundle}: "), repr(terminal)
    assert terminal.count("otabundle:") == 1, repr(terminal)
