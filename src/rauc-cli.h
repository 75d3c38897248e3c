/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle as a drop-in for `rauc` on the build host: rauc's host-side
 * command lines (1.8 to 1.15), translated into otabundle's, and the
 * formats of `rauc info`. Part of the otabundle program, not the library:
 * what a system.conf means is the library's (otabundle/config.h). */
#pragma once

#include <otabundle/bundle.h>

#include "rauc-info.h"

/* Whether @argv is a rauc command line: the program was invoked as `rauc`
 * (a symlink to otabundle), or as otabundle with an option before the
 * command or a command that only rauc has (bundle, install, ...). */
gboolean rauc_cli_applies(int argc, char **argv);

/* Translates the rauc command line @argv (NULL-terminated) into the otabundle command line
 * that does the same (*@otabundle_argv: "otabundle", the command, its
 * options and arguments). FALSE when there is nothing to run: then
 * *@exit_code is set, and either @error (a system.conf that can't be used,
 * for the caller to report) or the reason is printed already (help,
 * version, wrong usage, a command that only runs on a device). */
gboolean rauc_cli_translate(char **argv, GStrv *otabundle_argv, int *exit_code, GError **error);
