# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device's state file is whole or refused: one that was cut short,
lost its security floor or changed behind otabundle-install's back makes
every command exit 1 with one line naming it, and nothing is written. A
state that is read wrongly would lower the anti-rollback floor."""
import re

import pytest

from test_install import assert_ok, assert_refused, make_bundle, make_device


def cut_floor_number(text):
    # security-floor=12 cut to =1: still a number, a lower one.
    return text[:text.index("security-floor=12") + len("security-floor=1")]


def drop_floor_line(text):
    return text.replace("security-floor=12\n", "")


def drop_system_group(text):
    return re.sub(r"\[system\]\n(?:[^\[\n][^\n]*\n)*\n?", "", text, count=1)


def flip_floor_digit(text):
    return text.replace("security-floor=12", "security-floor=13")


def drop_integrity_line(text):
    # What a pre-release otabundle-install wrote.
    return text[:text.index("\n[integrity]")] + "\n"


@pytest.mark.parametrize("damage", [cut_floor_number, drop_floor_line, drop_system_group,
                                    flip_floor_digit, drop_integrity_line])
def test_damaged_state_file_refuses_install_and_mark_and_writes_nothing(pki, tmp_path, damage):
    device = make_device(tmp_path, pki.root)
    assert_ok(device.install(make_bundle(pki, tmp_path, name="floor-12", version="2.0",
                                         meta={"security-version": 12})))
    assert_ok(device.run("mark-good", boot="B"))
    text = device.state_file.read_text()
    damaged = damage(text)
    assert damaged != text
    device.state_file.write_text(damaged)
    # Accepted by a floor of 1: refused only because the state is.
    old = make_bundle(pki, tmp_path, name="floor-1", version="3.0",
                      meta={"security-version": 1})
    before = device.snapshot()

    assert_refused(device.install(old, boot="B"), path=device.state_file)
    for command in ("mark-good", "mark-bad"):
        assert_refused(device.run(command, boot="B"), path=device.state_file)
    assert_refused(device.run("status", boot="B"), path=device.state_file)
    assert device.snapshot() == before
    assert device.state_file.read_text() == damaged


def test_state_file_of_a_pre_release_says_what_to_do(pki, tmp_path):
    device = make_device(tmp_path, pki.root)
    device.data.mkdir()
    device.state_file.write_text("[system]\nsecurity-floor=0\n")

    line = assert_refused(device.install(make_bundle(pki, tmp_path)), "integrity",
                          path=device.state_file)
    assert "delete it" in line
