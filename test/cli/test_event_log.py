# SPDX-License-Identifier: LGPL-2.1-or-later
"""RAUC's event log ([log.<name>] in system.conf) as otabundle-install writes
it: install, boot, mark and writeslot events, in RAUC's readable, short,
json and json-pretty formats, with its rotation (max-size, max-files).

The expected records are RAUC's (src/event_log.c, install.c, mark.c and
main.c of RAUC 1.11-1.15; Debian's rauc 1.8 predates the event log, so
there is no binary to compare with): the same message IDs, the same fields
in the order RAUC's structured log calls give them, the same messages.
"Rebooting" is running the next command with another booted slot."""
import json
import os
import re

import pytest

from test_install import assert_ok, make_bundle, make_device

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def log_device(tmp_path, pki, log, **kwargs):
    """A device with the [log.test] group @log (its keys, one a line)."""
    return make_device(tmp_path, pki.root, extra="[log.test]\n" + log, **kwargs)


def json_records(path):
    """Each record of a json or json-pretty log, with the order of its members."""
    text, records, decoder, i = path.read_text(), [], json.JSONDecoder(), 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        record, i = decoder.raw_decode(text, i)
        records.append(record)
    return records


def by_type(records, event_type):
    return [r for r in records if r["RAUC_EVENT_TYPE"] == event_type]


# --- install --------------------------------------------------------------------------


def test_install_writes_raucs_started_and_succeeded_records(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=install\n")
    bundle = make_bundle(pki, tmp_path, version="2.1")
    assert_ok(dev.install(bundle))
    started, done = json_records(tmp_path / "events.log")
    assert list(started) == ["TS", "MESSAGE", "PRIORITY", "GLIB_DOMAIN", "RAUC_EVENT_TYPE",
                             "MESSAGE_ID", "TRANSACTION_ID"]
    assert list(done) == ["TS", "MESSAGE", "MESSAGE_ID", "PRIORITY", "GLIB_DOMAIN",
                          "RAUC_EVENT_TYPE", "BUNDLE_HASH", "BUNDLE_DESCRIPTION",
                          "BUNDLE_VERSION", "TRANSACTION_ID"]
    transaction = started["TRANSACTION_ID"]
    assert UUID.match(transaction) and done["TRANSACTION_ID"] == transaction
    assert TS.match(started["TS"])
    assert started["MESSAGE"] == f"Installation {transaction[:8]} started"
    assert started["MESSAGE_ID"] == "b05410e8a93345389cd061aab1e9516d"
    assert (started["PRIORITY"], started["GLIB_DOMAIN"]) == ("5", "rauc-event")
    assert done["MESSAGE"] == f"Installation {transaction[:8]} succeeded"
    assert done["MESSAGE_ID"] == "0163db5468ac4237b090d28490c301ed"
    assert done["BUNDLE_VERSION"] == "2.1"
    assert re.fullmatch(r"[0-9a-f]{64}", done["BUNDLE_HASH"])


def test_refused_install_is_recorded_as_rejected_with_the_reason(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=install\n")
    bundle = make_bundle(pki, tmp_path, compatible="someone-else")
    assert dev.install(bundle).returncode == 1
    _, done = json_records(tmp_path / "events.log")
    assert done["MESSAGE_ID"] == "60bea7e4fea549ccad68af457308b13a"
    assert re.match(r"^Installation [0-9a-f]{8} rejected: .*someone-else", done["MESSAGE"])


def test_install_records_each_slot_it_updates_as_a_writeslot_event(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=writeslot\n", classes=("rootfs", "appfs"))
    bundle = make_bundle(pki, tmp_path, {"rootfs": os.urandom(1000), "appfs": os.urandom(1000)})
    assert_ok(dev.install(bundle))
    records = json_records(tmp_path / "events.log")
    assert [r["MESSAGE"] for r in records] == ["Updating slot rootfs.1", "Updating slot appfs.1"]
    assert list(records[0]) == ["TS", "MESSAGE", "PRIORITY", "GLIB_DOMAIN", "RAUC_EVENT_TYPE"]


# --- marks and boots -----------------------------------------------------------------------


@pytest.mark.parametrize("command,message,message_id", [
    ("mark-good", "Marked slot rootfs.0 as good", "3304e15a7a9a447885eb208ba7ae3a05"),
    ("mark-bad", "Marked slot rootfs.0 as bad", "ccb0e584a47043d7a5316994bce77ae5"),
])
def test_mark_good_and_mark_bad_write_raucs_mark_records(pki, tmp_path, command, message,
                                                         message_id):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=mark\n")
    assert_ok(dev.run(command))
    [record] = json_records(tmp_path / "events.log")
    assert record == {"TS": record["TS"], "MESSAGE": message, "PRIORITY": "5",
                      "GLIB_DOMAIN": "rauc-event", "RAUC_EVENT_TYPE": "mark",
                      "MESSAGE_ID": message_id, "SLOT_NAME": "rootfs.0", "SLOT_BOOTNAME": "A"}
    assert list(record)[-2:] == ["SLOT_NAME", "SLOT_BOOTNAME"]


def test_mark_active_names_the_bundle_in_the_slot(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=mark\n")
    assert_ok(dev.install(make_bundle(pki, tmp_path)))
    assert_ok(dev.run("mark-active", "rootfs.1"))
    [record] = json_records(tmp_path / "events.log")
    assert record["MESSAGE"] == "Marked slot rootfs.1 as active"
    assert record["MESSAGE_ID"] == "8b5e7435e1054d86858278e7544fe6da"
    assert len(record["BUNDLE_HASH"]) == 64


def test_first_command_after_a_reboot_records_the_boot_once(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json\n"
                     "events=boot\n")
    assert_ok(dev.install(make_bundle(pki, tmp_path)))
    assert_ok(dev.run("mark-good", boot="B"))
    assert_ok(dev.run("mark-good", boot="B"))
    first, boot = json_records(tmp_path / "events.log")
    assert first["MESSAGE"] == "Booted into rootfs.0 (A)"
    assert first["BUNDLE_HASH"] == "unknown"
    assert boot["MESSAGE"] == "Booted into rootfs.1 (B)"
    assert list(boot) == ["TS", "MESSAGE", "MESSAGE_ID", "PRIORITY", "GLIB_DOMAIN",
                          "RAUC_EVENT_TYPE", "SLOT_NAME", "SLOT_BOOTNAME", "BOOT_ID",
                          "BUNDLE_HASH"]
    assert boot["MESSAGE_ID"] == "e60e0addd3454cb8b796eae0d497af96"
    assert (boot["SLOT_NAME"], boot["SLOT_BOOTNAME"]) == ("rootfs.1", "B")
    assert UUID.match(boot["BOOT_ID"])
    assert len(boot["BUNDLE_HASH"]) == 64


def test_status_records_nothing(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\n")
    dev.status()
    assert not (tmp_path / "events.log").exists()


def test_events_select_what_a_logger_records(pki, tmp_path):
    dev = make_device(tmp_path, pki.root, extra=(
        f"[log.marks]\nfilename={tmp_path}/marks.log\nformat=json\nevents=mark\n\n"
        f"[log.all]\nfilename={tmp_path}/all.log\nformat=json\n"))
    assert_ok(dev.install(make_bundle(pki, tmp_path)))
    assert_ok(dev.run("mark-good"))
    assert [r["RAUC_EVENT_TYPE"] for r in json_records(tmp_path / "marks.log")] == ["mark"]
    assert [r["RAUC_EVENT_TYPE"] for r in json_records(tmp_path / "all.log")] == [
        "boot", "install", "writeslot", "install", "mark"]


# --- formats --------------------------------------------------------------------------


def test_readable_format_is_the_message_then_raucs_labelled_fields(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nevents=mark\n")
    assert_ok(dev.run("mark-good"))
    text = (tmp_path / "events.log").read_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: Marked slot rootfs.0 as good\n"
                        r" {22}slot: rootfs.0\n {22}bootname: A\n", text), text


def test_short_format_is_one_line_per_record(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n")
    assert_ok(dev.run("mark-good"))
    assert_ok(dev.run("mark-bad", "other"))
    lines = (tmp_path / "events.log").read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "Booted into rootfs.0 (A)", "Marked slot rootfs.0 as good", "Marked slot rootfs.1 as bad"]


def test_json_pretty_format_spreads_each_record_over_lines(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=json-pretty\n"
                     "events=mark\n")
    assert_ok(dev.run("mark-good"))
    assert_ok(dev.run("mark-good"))
    text = (tmp_path / "events.log").read_text()
    assert text.startswith('{\n  "TS" : ')
    assert [r["MESSAGE"] for r in json_records(tmp_path / "events.log")] == [
        "Marked slot rootfs.0 as good"] * 2


def test_relative_filename_is_in_the_data_directory(pki, tmp_path):
    dev = log_device(tmp_path, pki, "filename=events.log\nformat=json\n")
    assert_ok(dev.run("mark-good"))
    assert by_type(json_records(dev.data / "events.log"), "mark")


def test_a_log_that_cannot_be_written_warns_and_the_command_still_succeeds(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/no-such-dir/events.log\n")
    proc = assert_ok(dev.run("mark-good"))
    assert proc.stdout == "Marked rootfs.0 good\n"
    [warning] = proc.stderr.splitlines()
    assert warning.startswith("otabundle-install: warning: event log 'test': ")
    assert "no-such-dir" in warning
    assert dev.slot("rootfs.0")["state"] == "good"


# --- rotation ------------------------------------------------------------------------------


def log_files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("events.log"))


def test_max_size_rotates_to_numbered_files_and_max_files_drops_the_oldest(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n"
                     "events=mark\nmax-size=100\nmax-files=3\n")
    for _ in range(6):
        assert_ok(dev.run("mark-good"))
    # Each short record is ~52 bytes: two fit under 100, so each file holds
    # one; the newest three are kept.
    assert log_files(tmp_path) == ["events.log", "events.log.1", "events.log.2"]
    for name in log_files(tmp_path):
        content = (tmp_path / name).read_text()
        assert len(content.encode()) <= 100
        assert content.count("Marked slot rootfs.0 as good") == 1


def test_rotation_keeps_records_in_order_across_files(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n"
                     "events=mark\nmax-size=120\nmax-files=10\n")
    for which in ("rootfs.0", "rootfs.1", "rootfs.0", "rootfs.1", "rootfs.1"):
        assert_ok(dev.run("mark-good", which))
    text = "".join((tmp_path / name).read_text() for name in
                   ["events.log.2", "events.log.1", "events.log"])
    assert re.findall(r"Marked slot (\S+) as good", text) == [
        "rootfs.0", "rootfs.1", "rootfs.0", "rootfs.1", "rootfs.1"]


def test_max_size_takes_raucs_binary_suffixes(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n"
                     "max-size=1K\n")
    for _ in range(30):
        assert_ok(dev.run("mark-good"))
    assert log_files(tmp_path) == ["events.log", "events.log.1"]
    assert len((tmp_path / "events.log.1").read_bytes()) <= 1024


def test_max_files_1_keeps_only_the_current_file(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n"
                     "events=mark\nmax-size=60\nmax-files=1\n")
    for _ in range(3):
        assert_ok(dev.run("mark-good"))
    assert log_files(tmp_path) == ["events.log"]
    assert (tmp_path / "events.log").read_text().count("\n") == 1


def test_without_max_size_the_log_is_never_rotated(pki, tmp_path):
    dev = log_device(tmp_path, pki, f"filename={tmp_path}/events.log\nformat=short\n")
    for _ in range(20):
        assert_ok(dev.run("mark-good"))
    assert log_files(tmp_path) == ["events.log"]
