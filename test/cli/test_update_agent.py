# SPDX-License-Identifier: LGPL-2.1-or-later
"""The example update agent, contrib/systemd/otabundle-update, run as
otabundle-update.service runs it but without systemd, against the real
otabundle-install on test_self_test's simulated device. The bundle's
location is a path here (otabundle-install takes a path or a URL alike)."""
import os
import subprocess

import pytest

from test_install import OTABUNDLE_INSTALL, make_bundle
from test_self_test import CONTRIB, Device, assert_exit

AGENT = CONTRIB / "otabundle-update"


@pytest.fixture
def device(tmp_path, pki):
    return Device(tmp_path, pki)


def agent(device, url, tmp_path, **extra):
    env = dict(os.environ, OTABUNDLE_INSTALL=OTABUNDLE_INSTALL, OTABUNDLE_CONF=str(device.dev.conf),
               OTABUNDLE_UPDATE_URL=str(url), OTABUNDLE_UPDATE_STATE=str(tmp_path / "agent" / "last"),
               **extra)
    return subprocess.run([str(AGENT)], capture_output=True, text=True, env=env)


def installs(device):
    return [r for r in device.status()["results"] if r["operation"] == "install"]


def test_a_new_version_is_installed_and_boots_next(device, pki, tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0")
    proc = assert_exit(agent(device, bundle, tmp_path), 0)
    assert "installing 2.0" in proc.stdout
    assert device.status()["pending"] == "rootfs.1"
    assert str(bundle) not in proc.stdout  # a URL may carry a token


def test_nothing_is_installed_while_an_install_is_pending(device, pki, tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0")
    assert_exit(agent(device, bundle, tmp_path), 0)
    proc = assert_exit(agent(device, bundle, tmp_path), 0)
    assert "pending" in proc.stdout
    assert len(installs(device)) == 1


def test_the_installed_version_is_not_installed_again(device, pki, tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0")
    assert_exit(agent(device, bundle, tmp_path), 0)
    device.boot("B")
    assert_exit(device.self_test(), 0)
    proc = assert_exit(agent(device, bundle, tmp_path), 0)
    assert "up to date" in proc.stdout
    assert len(installs(device)) == 1


def test_a_version_that_failed_its_self_test_is_not_retried(device, pki, tmp_path):
    bad = make_bundle(pki, tmp_path, version="2.0")
    assert_exit(agent(device, bad, tmp_path), 0)
    device.boot("B")
    device.hook("10-app", "exit 1")
    assert_exit(device.self_test(), 1)  # marked bad: the bootloader falls back
    device.boot("A")
    proc = assert_exit(agent(device, bad, tmp_path), 0)
    assert "not retried" in proc.stdout
    assert len(installs(device)) == 1

    fixed = make_bundle(pki, tmp_path, version="2.1")
    assert_exit(agent(device, fixed, tmp_path), 0)
    assert len(installs(device)) == 2 and device.status()["pending"] == "rootfs.1"


def test_a_refused_bundle_fails_and_is_not_remembered(device, pki, tmp_path):
    bundle = make_bundle(pki, tmp_path, version="2.0", compatible="another-device")
    proc = assert_exit(agent(device, bundle, tmp_path), 1)
    assert "otabundle-install: " in proc.stderr
    assert not (tmp_path / "agent" / "last").exists()
    assert device.status()["pending"] is None


def test_without_a_url_it_is_a_setup_error(device, tmp_path):
    proc = assert_exit(agent(device, "", tmp_path), 2)
    assert "OTABUNDLE_UPDATE_URL" in proc.stderr


def test_a_bundle_is_streamed_from_a_url_without_showing_its_token(device, pki, tmp_path, web):
    name = web.publish(make_bundle(pki, tmp_path, version="2.0"))
    url = web.url(name) + "?token=s3cr3t-t0ken"
    proc = assert_exit(agent(device, url, tmp_path), 0)
    assert "s3cr3t-t0ken" not in proc.stdout + proc.stderr
    assert device.status()["pending"] == "rootfs.1"
    assert (tmp_path / "agent" / "last").read_text() == "2.0\n"
