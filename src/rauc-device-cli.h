/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle-install as `rauc` on a device (/usr/bin/rauc a symlink to it):
 * RAUC's device command lines (1.8 to 1.15) for the scripts and units that
 * call rauc: install, info, status and status mark-good|mark-bad|
 * mark-active, with RAUC's options, outputs and formats. Part of the
 * otabundle-install program: it parses and prints, the library decides.
 * The build host's `rauc` is otabundle's (rauc-cli.c). */
#pragma once

#include <glib.h>

/* Whether the program was invoked as `rauc`. */
gboolean rauc_device_cli_applies(char **argv);

/* Runs the rauc command line @argv; returns the exit status: 0 success, 1
 * failed or refused (one line on stderr), 2 wrong usage or a command or
 * option that otabundle-install does not run on a device. */
int rauc_device_cli_run(int argc, char **argv);
