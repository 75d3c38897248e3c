# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bash completion of `otabundle` and `otabundle-install`
(contrib/bash-completion/otabundle): a real bash sources it, with and
without the bash-completion package loaded, is handed a command line split
into COMP_WORDS as bash splits it, runs the function registered with
`complete -F`, and the test reads COMPREPLY. `meson install` puts it where
bash-completion's loader finds it."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import OTABUNDLE, run, run_tool

SOURCE = Path(__file__).resolve().parents[2]
COMPLETION = SOURCE / "contrib" / "bash-completion" / "otabundle"
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")
BUILD = Path(OTABUNDLE).parent
OTABUNDLE_INSTALL = os.environ.get("OTABUNDLE_INSTALL",
                                   str(Path(OTABUNDLE).with_name("otabundle-install")))
# bash's default COMP_WORDBREAKS: it splits words at these, too.
WORDBREAKS = "\"'><=;|&(:"

COMMANDS = {"create", "info", "verify", "extract", "sign", "merge", "resign",
            "extract-signature", "replace-signature", "trust"}
TRUST_COMMANDS = {"create", "sign", "merge", "show", "verify"}

# The script runs the function that `complete -p` names for the command,
# with the arguments bash passes it, and prints COMPREPLY NUL-separated.
RUN_COMPLETION = r"""
[[ -n $WITH_BASH_COMPLETION ]] && . "$WITH_BASH_COMPLETION"
[[ -n $COMPLETION ]] && . "$COMPLETION"
[[ -n $LOAD ]] && { __load_completion "$LOAD" || exit 3; }
COMP_LINE=$LINE COMP_POINT=${#LINE} COMP_WORDS=("$@") COMP_CWORD=$CWORD
spec=$(complete -p "$1") || exit 4
[[ $spec =~ -F\ ([^ ]+) ]] || exit 5
"${BASH_REMATCH[1]}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\0' "${COMPREPLY[@]}"
"""


def comp_words(line):
    """COMP_WORDS and COMP_CWORD as bash makes them for @line with the
    cursor at its end: words split at blanks, then runs of COMP_WORDBREAKS
    characters split off as words of their own."""
    words = []
    for token in line.split():
        words += re.findall(f"[{re.escape(WORDBREAKS)}]+|[^{re.escape(WORDBREAKS)}]+", token)
    if line.endswith(" "):
        words.append("")
    return words, len(words) - 1


@pytest.fixture(scope="module")
def path_dir(tmp_path_factory):
    """A PATH directory holding the programs under test by their names."""
    bindir = tmp_path_factory.mktemp("bin")
    (bindir / "otabundle").symlink_to(OTABUNDLE)
    (bindir / "otabundle-install").symlink_to(OTABUNDLE_INSTALL)
    return bindir


def run_completion(line, cwd, bindir, with_package, completion=COMPLETION, load="", env=None):
    """COMPREPLY for @line, completed in @cwd by a bash that sourced
    @completion (with bash-completion first if @with_package), or that had
    bash-completion's loader @load it, with @bindir first in PATH."""
    words, cword = comp_words(line)
    environ = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", LINE=line,
                   CWORD=str(cword), COMPLETION=str(completion or ""), LOAD=load,
                   WITH_BASH_COMPLETION=str(BASH_COMPLETION) if with_package else "",
                   **(env or {}))
    proc = subprocess.run(["bash", "-c", RUN_COMPLETION, "bash", *words], cwd=cwd,
                          capture_output=True, text=True, env=environ)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return [w for w in proc.stdout.split("\0") if w]


@pytest.fixture(params=["bash alone", "with bash-completion"])
def complete(request, path_dir, tmp_path):
    """complete(line) -> COMPREPLY for @line, completed in tmp_path."""
    with_package = request.param == "with bash-completion"
    if with_package:
        assert BASH_COMPLETION.exists(), "install bash-completion (contrib/install-deps.sh --tests)"
    return lambda line: run_completion(line, tmp_path, path_dir, with_package)


def help_options(*command):
    """The long options that `--help` lists, as the completion offers them
    (with a trailing '=' when they take a value)."""
    out = subprocess.run([*command, "--help"], capture_output=True, text=True,
                         env=dict(os.environ, LC_ALL="C")).stdout
    return {m[1] + ("=" if m[2] else "")
            for m in re.finditer(r"^ +(?:-\w, )?(--[\w-]+)(=)?", out, flags=re.M)}


# --- otabundle --------------------------------------------------------------


def test_first_word_completes_to_every_command(complete):
    assert COMMANDS <= set(complete("otabundle "))


def test_command_prefix_completes_to_the_commands_it_starts(complete):
    assert complete("otabundle ext") == ["extract", "extract-signature"]


def test_first_word_option_completes_to_help_and_version(complete):
    assert complete("otabundle --") == ["--help", "--version"]


def test_create_options_are_exactly_those_create_help_lists(complete):
    offered = set(complete("otabundle create --"))
    assert offered == help_options(OTABUNDLE, "create")
    assert {"--cert=", "--key=", "--format=", "--compression=", "--force"} <= offered


def test_an_option_of_another_command_is_not_offered(complete):
    assert "--check-images" not in complete("otabundle create --")
    assert "--check-images" in complete("otabundle verify --")


def test_option_prefix_completes_to_the_option_with_its_equals_sign(complete):
    assert complete("otabundle create --form") == ["--format="]


@pytest.mark.parametrize("line", ["otabundle info --output-format=",
                                  "otabundle info --output-format "])
def test_output_format_completes_to_its_values(complete, line):
    assert sorted(complete(line)) == ["json", "text"]


def test_output_format_value_prefix_completes_after_the_equals_sign(complete):
    assert complete("otabundle verify --output-format=js") == ["json"]


@pytest.mark.parametrize("line,values", [
    ("otabundle verify --check-purpose=", ["any", "codesign", "smimesign"]),
    ("otabundle create --format=", ["crypt", "plain", "verity"]),
    ("otabundle create --compression=", ["gzip", "lz4", "none", "xz", "zstd"]),
    ("otabundle merge --signer-encoding=", ["nested", "signer-infos"]),
])
def test_an_option_with_fixed_values_completes_to_them(complete, line, values):
    assert sorted(complete(line)) == values


def test_a_pem_option_completes_to_files(complete, tmp_path):
    (tmp_path / "cert.pem").write_text("")
    (tmp_path / "certs").mkdir()
    (tmp_path / "key.pem").write_text("")
    assert sorted(complete("otabundle create --cert=ce")) == ["cert.pem", "certs"]
    assert complete("otabundle create --key k") == ["key.pem"]


def test_a_pkcs11_uri_is_left_alone(complete, tmp_path):
    (tmp_path / "pkcs11-notes.txt").write_text("")
    assert complete("otabundle sign --key=pkcs11:token=release") == []
    assert complete("otabundle sign --key pkcs11:") == []


def test_create_input_completes_to_directories_only(complete, tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "index.txt").write_text("")
    assert complete("otabundle create i") == ["input"]


def test_an_option_value_is_not_counted_as_an_argument(complete, tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "index.txt").write_text("")
    assert complete("otabundle create --cert c.pem --format=plain i") == ["input"]


def test_create_output_completes_to_files(complete, tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "update.raucb").write_text("")
    assert complete("otabundle create input u") == ["update.raucb"]


def test_bundle_argument_completes_to_files(complete, tmp_path):
    (tmp_path / "update.raucb").write_text("")
    assert complete("otabundle verify --keyring root.pem up") == ["update.raucb"]


def test_a_file_name_with_a_colon_completes_after_the_colon(complete, tmp_path):
    (tmp_path / "a:b.raucb").write_text("")
    assert complete("otabundle info a:") == ["b.raucb"]


def test_trust_completes_to_its_own_commands(complete):
    assert set(complete("otabundle trust ")) == TRUST_COMMANDS
    assert complete("otabundle trust m") == ["merge"]


@pytest.mark.parametrize("command", sorted(TRUST_COMMANDS))
def test_each_trust_command_offers_exactly_the_options_its_help_lists(complete, command):
    offered = set(complete(f"otabundle trust {command} --"))
    assert offered and offered == help_options(OTABUNDLE, "trust", command)


def test_trust_create_tier_option_and_verify_trust_are_offered(complete):
    assert {"--version=", "--tier=", "--anchor=", "--revoke="} <= set(
        complete("otabundle trust create --"))
    assert {"--trust=", "--tier="} <= set(complete("otabundle verify --"))


def test_trust_file_argument_completes_to_files(complete, tmp_path):
    (tmp_path / "v2.trust").write_text("")
    assert complete("otabundle trust verify --trust v1.trust v") == ["v2.trust"]
    assert sorted(complete("otabundle trust show --output-format=")) == ["json", "text"]


def test_unknown_command_completes_nothing(complete):
    assert complete("otabundle frobnicate --") == []


def test_help_is_read_once_per_shell(tmp_path):
    """Two completions in one shell run `otabundle create --help` once."""
    calls = tmp_path / "calls"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "otabundle"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >>"{calls}"\nexec "{OTABUNDLE}" "$@"\n')
    wrapper.chmod(0o755)
    script = """
        . "$COMPLETION"
        for i in 1 2; do
            COMP_LINE="otabundle create --" COMP_POINT=19
            COMP_WORDS=(otabundle create --) COMP_CWORD=2
            _otabundle otabundle -- create
            printf '%s\\n' "${#COMPREPLY[@]}"
        done
    """
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}",
                                   COMPLETION=str(COMPLETION)))
    assert proc.returncode == 0, proc.stderr
    counts = proc.stdout.split()
    assert len(counts) == 2 and counts[0] == counts[1] and int(counts[0]) > 5
    assert calls.read_text() == "create --help\n"


# --- otabundle-install ------------------------------------------------------


def test_install_first_word_completes_to_its_commands(complete):
    assert set(complete("otabundle-install ")) == {"install", "info", "status", "mark-good",
                                                   "mark-bad", "mark-active", "trust-update",
                                                   "check-config"}


def test_install_options_are_exactly_those_its_help_lists(complete):
    offered = set(complete("otabundle-install --"))
    assert offered == help_options(OTABUNDLE_INSTALL)
    assert {"--conf=", "--output-format="} <= offered


def test_install_output_format_completes_to_its_values(complete):
    assert sorted(complete("otabundle-install status --output-format=")) == ["json", "text"]


def test_install_conf_completes_to_files(complete, tmp_path):
    (tmp_path / "system.conf").write_text("")
    assert complete("otabundle-install -c sys") == ["system.conf"]


def test_install_bundle_argument_completes_to_files(complete, tmp_path):
    (tmp_path / "update.raucb").write_text("")
    assert complete("otabundle-install -c system.conf install up") == ["update.raucb"]


def test_install_trust_update_completes_to_files(complete, tmp_path):
    (tmp_path / "trust-2.der").write_text("")
    (tmp_path / "trust-3.der").write_text("")
    assert complete("otabundle-install trust-update trust-3") == ["trust-3.der"]
    assert complete("otabundle-install trust-update trust-2.der trust-3") == ["trust-3.der"]


def test_install_second_bundle_completes_no_files(complete, tmp_path):
    (tmp_path / "update.raucb").write_text("")
    assert complete("otabundle-install install update.raucb up") == []


def test_install_command_without_bundle_completes_no_files(complete, tmp_path):
    (tmp_path / "update.raucb").write_text("")
    assert complete("otabundle-install status ") == []


# --- installation -----------------------------------------------------------


@pytest.fixture(scope="module")
def installed_share(tmp_path_factory):
    """The share directory (prefix/datadir) of a `meson install` of this
    build into a staging root."""
    root = tmp_path_factory.mktemp("staged")
    run_tool("meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", root)
    options = {o["name"]: o["value"] for o in
               json.loads(run_tool("meson", "introspect", "--buildoptions", BUILD).stdout)}
    if options["bash-completion-dir"] not in ("", "no"):
        pytest.skip("built with -Dbash-completion-dir")
    return root / Path(options["prefix"]).relative_to("/") / options["datadir"]


@pytest.mark.parametrize("program", ["otabundle", "otabundle-install"])
def test_meson_install_puts_the_completion_in_bash_completions_directory(installed_share,
                                                                          program):
    assert (installed_share / "bash-completion" / "completions" / program).is_file()


@pytest.mark.parametrize("line,expected", [("otabundle ext", ["extract", "extract-signature"]),
                                           ("otabundle-install mark-", ["mark-good", "mark-bad",
                                                                       "mark-active"])])
def test_bash_completions_loader_finds_the_installed_completion(installed_share, path_dir,
                                                                tmp_path, line, expected):
    env = {"XDG_DATA_DIRS": str(installed_share),
           "BASH_COMPLETION_USER_DIR": str(tmp_path / "none")}
    reply = run_completion(line, tmp_path, path_dir, with_package=True, completion=None,
                           load=line.split()[0], env=env)
    assert sorted(reply) == sorted(expected)
