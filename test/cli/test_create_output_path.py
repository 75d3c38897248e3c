# SPDX-License-Identifier: LGPL-2.1-or-later
"""create refuses a bundle path inside its input directory, however either
is spelled: the next create from that directory would pack the old bundle.
Directories are compared by what they are (device and inode), not by how
their paths read."""
import os

import pytest

from conftest import assert_failure, assert_ok, make_input, run, tree_digest


@pytest.fixture
def tree(tmp_path):
    """tmp_path/parent/in (the input, with a subdirectory), a symbolic link
    to it (link), one to its parent (plink), a sibling whose name starts
    like it (in-out) and, inside it, a link to a directory outside (away)."""
    parent = tmp_path / "parent"
    inputdir = parent / "in"
    make_input(inputdir)
    (inputdir / "sub").mkdir()
    (parent / "in-out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (inputdir / "away").symlink_to(tmp_path / "elsewhere")
    (parent / "link").symlink_to("in")
    (tmp_path / "plink").symlink_to("parent")
    return tmp_path


def create(pki, tree, cwd, inputdir, bundle):
    env = dict(os.environ, TMPDIR=str(tree / "tmpdir"))
    (tree / "tmpdir").mkdir(exist_ok=True)
    return run("create", *pki.sign_args(), inputdir, bundle, cwd=tree / cwd, env=env)


INSIDE = [
    pytest.param("parent/in", ".", "b.raucb", id="dot-and-bare-name"),
    pytest.param("parent/in", ".", "./b.raucb", id="dot-slash"),
    pytest.param("parent", "in", "in/b.raucb", id="relative"),
    pytest.param("parent", "in/", "in//b.raucb", id="extra-slashes"),
    pytest.param("parent", "in", "in/sub/../b.raucb", id="dot-dot"),
    pytest.param("parent", "in", "in/../in/b.raucb", id="out-and-back"),
    pytest.param("parent", "in", "in/sub/b.raucb", id="subdirectory"),
    pytest.param("parent", "{tree}/parent/in", "{tree}/parent/in/b.raucb", id="absolute"),
    pytest.param("parent", "in", "{tree}/parent/in/b.raucb", id="relative-input-absolute-output"),
    pytest.param("parent", "in", "link/b.raucb", id="symlink-to-the-input"),
    pytest.param("parent", "link", "in/b.raucb", id="input-through-a-symlink"),
    pytest.param(".", "parent/in", "plink/in/b.raucb", id="symlinked-parent"),
    pytest.param("parent/in/sub", "..", "b.raucb", id="input-is-the-parent-of-cwd"),
]


@pytest.mark.parametrize("cwd,inputdir,bundle", INSIDE)
def test_create_refuses_a_bundle_inside_its_input_directory(pki, tree, cwd, inputdir, bundle):
    inputdir, bundle = (s.format(tree=tree) for s in (inputdir, bundle))
    before = tree_digest(tree / "parent")

    proc = create(pki, tree, cwd, inputdir, bundle)

    assert_failure(proc, bundle, "inside the input directory")
    assert tree_digest(tree / "parent") == before
    assert list((tree / "tmpdir").iterdir()) == []


OUTSIDE = [
    pytest.param("parent", "in", "b.raucb", id="beside-it"),
    pytest.param("parent", "in", "in-out/b.raucb", id="sibling-with-the-same-prefix"),
    pytest.param("parent", "in", "in/away/b.raucb", id="symlink-inside-to-outside"),
]


@pytest.mark.parametrize("cwd,inputdir,bundle", OUTSIDE)
def test_create_accepts_a_bundle_outside_its_input_directory(pki, tree, cwd, inputdir, bundle):
    assert_ok(create(pki, tree, cwd, inputdir, bundle))
    assert (tree / cwd / bundle).is_file()
