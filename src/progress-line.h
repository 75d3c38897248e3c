/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The progress line both CLIs draw on stderr from libotabundle's progress
 * reports, rewritten in place:
 *
 *   verify: 612.0 MiB of 1.2 GiB (49%), 1.1 GiB/s, 0:01 left
 *
 * and ended with a line of the total, time and average rate. */
#pragma once

#include <glib.h>

/* Installs the drawing as libotabundle's progress handler when @enable
 * (the CLIs pass: stderr is a terminal and --quiet was not given), and
 * removes it otherwise. */
void progress_line_enable(gboolean enable);

/* Erases an unfinished line, so that an error printed next starts a clean
 * line. Nothing to do when no line is unfinished. */
void progress_line_erase(void);
