# SPDX-License-Identifier: LGPL-2.1-or-later
"""Version order on the device (otabundle-install(8), VERSIONS): a bundle
older than the installed version is refused unless allow-downgrade=true,
RAUC's [system] min-bundle-version and [meta.otabundle]
min-installed-version are lower bounds, and all three order versions by
semantic-versioning precedence (a pre-release before its release, build
metadata ignored), with RAUC's leniencies (1.2 is 1.2.0, 2024.07.0 is
2024.7.0). A version that has no such order is refused with one line
naming it, never guessed at. The full order is a table in
test/unit/test-version.c; here each rule is seen through a real install."""
import pytest

from test_install import assert_ok, assert_refused, make_bundle, make_device


def with_installed(pki, tmp_path, version, **device_args):
    """A device that installed @version and committed it (booted from B)."""
    device = make_device(tmp_path, pki.root, **device_args)
    assert_ok(device.install(make_bundle(pki, tmp_path, version=version, name="installed")))
    assert_ok(device.run("mark-good", boot="B"))
    assert device.status(boot="B")["installed_version"] == version
    return device


# (lower, higher): the higher installs over the lower; the lower is a
# downgrade from the higher.
STEPS = [
    ("2024.07.0-rc1", "2024.07.0"),
    ("1.0.0-alpha", "1.0.0-alpha.1"),
    ("1.0.0-alpha.beta", "1.0.0-beta"),
    ("1.0.0-beta.2", "1.0.0-beta.11"),
    ("1.0.0-rc.1", "1.0.0"),
    ("1.2", "1.2.1"),
    ("2024.06.1", "2024.7.0"),
]


@pytest.mark.parametrize("lower, higher", STEPS)
def test_a_higher_version_installs(pki, tmp_path, lower, higher):
    device = with_installed(pki, tmp_path, lower)
    assert_ok(device.install(make_bundle(pki, tmp_path, version=higher), boot="B"))


@pytest.mark.parametrize("lower, higher", STEPS)
def test_a_lower_version_is_refused_as_a_downgrade(pki, tmp_path, lower, higher):
    device = with_installed(pki, tmp_path, higher)
    bundle = make_bundle(pki, tmp_path, version=lower)
    before = device.snapshot()
    assert_refused(device.install(bundle, boot="B"), f"version {lower} is older than the "
                   f"installed {higher}", "downgrades are not allowed", path=bundle)
    assert device.snapshot() == before


def test_a_release_candidate_installs_over_an_installed_one_with_allow_downgrade(pki, tmp_path):
    device = with_installed(pki, tmp_path, "2024.07.0", system="allow-downgrade=true")
    assert_ok(device.install(make_bundle(pki, tmp_path, version="2024.07.0-rc1"), boot="B"))


@pytest.mark.parametrize("installed, bundle", [
    ("2024.07.0", "2024.7.0"),           # leading zeros compare by value, as in RAUC
    ("1.2", "1.2.0"),                    # a missing PATCH is 0, as in RAUC
    ("1.0.0+build.9", "1.0.0+build.2"),  # build metadata does not rank
])
def test_the_same_version_written_otherwise_is_not_a_downgrade(pki, tmp_path, installed,
                                                               bundle):
    device = with_installed(pki, tmp_path, installed)
    assert_ok(device.install(make_bundle(pki, tmp_path, version=bundle), boot="B"))


def test_a_v_prefixed_version_is_refused_not_ranked_above_a_release(pki, tmp_path):
    """strverscmp ranked "v1.0" above "5.0": a downgrade let through."""
    device = with_installed(pki, tmp_path, "5.0")
    bundle = make_bundle(pki, tmp_path, version="v1.0")
    before = device.snapshot()
    assert_refused(device.install(bundle, boot="B"), "bundle version 'v1.0' is not a semantic "
                   "version", "does not start with a number", "downgrades are not allowed",
                   path=bundle)
    assert device.snapshot() == before


def test_an_unorderable_version_is_refused_even_with_nothing_installed(pki, tmp_path):
    """Recorded as installed, it would leave the next bundle nothing to be
    compared with."""
    device = make_device(tmp_path, pki.root)
    bundle = make_bundle(pki, tmp_path, version="1.0~rc1")
    assert_refused(device.install(bundle), "'1.0~rc1' is not a semantic version",
                   "'~' after a number", path=bundle)


def test_an_unorderable_version_installs_with_allow_downgrade(pki, tmp_path):
    device = make_device(tmp_path, pki.root, system="allow-downgrade=true")
    assert_ok(device.install(make_bundle(pki, tmp_path, version="build-42")))


def test_an_unorderable_installed_version_is_named_when_it_blocks_an_install(pki, tmp_path):
    device = with_installed(pki, tmp_path, "build-42", system="allow-downgrade=true")
    device.conf.write_text(device.conf.read_text().replace("allow-downgrade=true\n", ""))
    bundle = make_bundle(pki, tmp_path, version="2.0.0")
    assert_refused(device.install(bundle, boot="B"), "installed version 'build-42' is not a "
                   "semantic version", path=bundle)


def test_a_bundle_without_a_version_is_refused_once_a_version_is_installed(pki, tmp_path):
    """It would be recorded as installed with no version, and the next
    downgrade would have nothing to be compared with."""
    device = with_installed(pki, tmp_path, "2.0.0")
    bundle = make_bundle(pki, tmp_path, version=None)
    assert_refused(device.install(bundle, boot="B"), "no version", "2.0.0", path=bundle)


# --- [system] min-bundle-version (RAUC 1.12) ------------------------------------------------


@pytest.mark.parametrize("version", ["2024.07.0-rc1", "2024.06.9", "2023.12"])
def test_a_bundle_below_min_bundle_version_is_refused(pki, tmp_path, version):
    device = make_device(tmp_path, pki.root,
                         system="min-bundle-version=2024.07.0\nallow-downgrade=true")
    bundle = make_bundle(pki, tmp_path, version=version)
    before = device.snapshot()
    assert_refused(device.install(bundle), f"version {version} is below this system's "
                   "min-bundle-version 2024.07.0", path=bundle)
    assert device.snapshot() == before


@pytest.mark.parametrize("version", ["2024.07.0", "2024.7.0+build.3", "2024.07.1-rc1"])
def test_a_bundle_at_or_above_min_bundle_version_installs(pki, tmp_path, version):
    device = make_device(tmp_path, pki.root, system="min-bundle-version=2024.07.0")
    assert_ok(device.install(make_bundle(pki, tmp_path, version=version)))


def test_min_bundle_version_refuses_a_bundle_without_a_version(pki, tmp_path):
    """As RAUC: "Expected at least ... but bundle manifest has no version"."""
    device = make_device(tmp_path, pki.root, system="min-bundle-version=1.0")
    bundle = make_bundle(pki, tmp_path, version=None)
    assert_refused(device.install(bundle), "no version", "min-bundle-version is 1.0",
                   path=bundle)


def test_an_unorderable_min_bundle_version_refuses_the_config(pki, tmp_path):
    """As RAUC, which refuses such a system.conf when it loads it."""
    device = make_device(tmp_path, pki.root, system="min-bundle-version=v1.foo.2-baa")
    line = assert_refused(device.run("status"), "min-bundle-version", "[system]",
                          "'v1.foo.2-baa' is not a semantic version", path=device.conf)
    assert "does not start with a number" in line


# --- [meta.otabundle] min-installed-version ---------------------------------------------------


def test_min_installed_version_is_not_met_by_its_release_candidate(pki, tmp_path):
    device = with_installed(pki, tmp_path, "2.0.0-rc1")
    bundle = make_bundle(pki, tmp_path, version="3.0.0",
                         meta={"min-installed-version": "2.0.0"})
    assert_refused(device.install(bundle, boot="B"), "needs installed version 2.0.0 or later",
                   "2.0.0-rc1", path=bundle)


def test_an_unorderable_min_installed_version_is_refused_with_its_name(pki, tmp_path):
    device = with_installed(pki, tmp_path, "2.0.0")
    bundle = make_bundle(pki, tmp_path, version="3.0.0",
                         meta={"min-installed-version": "2.x"})
    assert_refused(device.install(bundle, boot="B"), "min-installed-version '2.x' is not a "
                   "semantic version", path=bundle)
