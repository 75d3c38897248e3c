# SPDX-License-Identifier: LGPL-2.1-or-later
"""libotabundle as others use it: installed with `meson install`, found
through pkg-config, linked by a program of their own
(examples/library/verify-bundle.c); its installed headers each compile on
their own, and the shared library exports exactly what they declare."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import OTABUNDLE, assert_ok, flip_byte, run, run_tool

BUILD = Path(OTABUNDLE).parent
SOURCE = Path(__file__).resolve().parents[2]
EXAMPLE = SOURCE / "examples" / "library" / "verify-bundle.c"


def sanitizer_flags():
    """An ASan/UBSan build's library needs its runtime in the program too."""
    options = json.loads(run_tool("meson", "introspect", "--buildoptions", BUILD).stdout)
    sanitize = next(o["value"] for o in options if o["name"] == "b_sanitize")
    return [] if sanitize in ("none", "") else [f"-fsanitize={sanitize}"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A `meson install` of this build into a staging root: (root, libdir,
    environment for pkg-config)."""
    root = tmp_path_factory.mktemp("staged")
    run_tool("meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", root)
    pc = next(root.rglob("otabundle.pc"))
    lib = next(root.rglob("libotabundle.so.0"))
    # The staged otabundle.pc with its prefix moved under the staging root;
    # the other packages' .pc files stay as they are.
    pcdir = tmp_path_factory.mktemp("pkgconfig")
    (pcdir / "otabundle.pc").write_text(
        re.sub(r"^prefix=", f"prefix={root}", pc.read_text(), count=1, flags=re.M))
    return root, lib.parent, dict(os.environ, PKG_CONFIG_PATH=str(pcdir))


def pkg_config(env, *args):
    proc = subprocess.run(["pkg-config", *args, "otabundle"], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.fixture(scope="module")
def verifier(installed, tmp_path_factory):
    """examples/library/verify-bundle.c, built against the installed copy."""
    root, libdir, env = installed
    exe = tmp_path_factory.mktemp("example") / "verify-bundle"
    cflags, libs = pkg_config(env, "--cflags"), pkg_config(env, "--libs")
    assert any(flag.startswith("-I" + str(root)) for flag in cflags), cflags
    run_tool("cc", *sanitizer_flags(), "-Wall", "-Wextra", "-Werror", EXAMPLE, *cflags, *libs,
             "-o", exe)
    return exe, libdir


def run_verifier(verifier, *args):
    exe, libdir = verifier
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))


def test_installed_library_has_a_versioned_soname(installed):
    _, libdir, _ = installed
    dynamic = run_tool("readelf", "-d", libdir / "libotabundle.so.0").stdout
    assert "Library soname: [libotabundle.so.0]" in dynamic


def test_example_verifier_built_against_the_installed_library_accepts_a_good_bundle(
        verifier, pki, good_bundle):
    bundle, _, _ = good_bundle
    proc = run_verifier(verifier, pki.root, bundle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("verified: otabundle-test")


def test_example_verifier_rejects_a_tampered_bundle_with_one_line(verifier, pki, good_bundle,
                                                                   tmp_path):
    bundle, _, _ = good_bundle
    bad = tmp_path / "bad.raucb"
    shutil.copy(bundle, bad)
    flip_byte(bad, 100)
    proc = run_verifier(verifier, pki.root, bad)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and str(bad) in proc.stderr


def installed_headers(root):
    return sorted((next(root.rglob("include/otabundle"))).glob("*.h"))


def test_every_installed_header_compiles_on_its_own(installed, tmp_path):
    root, _, env = installed
    headers = installed_headers(root)
    assert len(headers) >= 8
    for header in headers:
        source = tmp_path / f"{header.stem}.c"
        source.write_text(f"#include <otabundle/{header.name}>\n")
        run_tool("cc", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", *pkg_config(env, "--cflags"),
                 source)


def test_shared_library_exports_exactly_the_functions_its_headers_declare(installed):
    root, libdir, _ = installed
    nm = run_tool("nm", "-D", "--defined-only", libdir / "libotabundle.so.0").stdout
    exported = {m.group(1) for m in re.finditer(r" T (\w+)@@OTABUNDLE_0$", nm, re.M)}
    declared = set()
    for header in installed_headers(root):
        code = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
        declared |= set(re.findall(r"\b(ota_\w+)\s*\(", code))
    assert exported, nm
    assert exported == declared, (sorted(exported - declared), sorted(declared - exported))


def undocumented_functions(text):
    """Functions declared in a header's @text without a comment above them
    (a declaration may share the comment of those right before it)."""
    lines = text.split("\n")
    missing = []
    for i, line in enumerate(lines):
        m = re.match(r"^[A-Za-z].*\b(ota_\w+)\s*\(", line)
        if not m or line.startswith("#") or "G_DEFINE" in line:
            continue
        j = i - 1
        while j >= 0 and lines[j].strip() and not lines[j].rstrip().endswith("*/"):
            j -= 1
        if j < 0 or not lines[j].strip():
            missing.append(m.group(1))
    return missing


def test_every_function_of_an_installed_header_has_a_comment(installed):
    root, _, _ = installed
    missing = {h.name: undocumented_functions(h.read_text()) for h in installed_headers(root)}
    assert not {h: f for h, f in missing.items() if f}, missing


def test_no_installed_header_declares_an_internal_field(installed):
    root, _, _ = installed
    for header in installed_headers(root):
        assert not re.search(r"\binternal\b", header.read_text(), re.I), header.name


def test_every_json_schema_is_installed_in_datadir(installed):
    root, _, _ = installed
    (schema_dir,) = root.rglob("share/otabundle/schema")
    shipped = sorted(p.name for p in (SOURCE / "contrib" / "schema").glob("*.schema.json"))
    assert shipped and sorted(p.name for p in schema_dir.iterdir()) == shipped
