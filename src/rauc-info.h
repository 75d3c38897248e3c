/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `rauc info`'s output formats, for both programs run as `rauc`. Part of
 * the programs, not the library: printing only. */
#pragma once

#include <otabundle/bundle.h>

/* Whether @format is one `otabundle info --rauc-output-format` prints:
 * json, json-pretty or shell. */
gboolean rauc_cli_info_format_is_known(const char *format);

/* `rauc info --output-format=@format`: @bundle's manifest under RAUC's
 * names (JSON members, RAUC_MF_* and RAUC_IMAGE_* variables), with
 * otabundle's own facts beside them under names RAUC does not use. */
void rauc_cli_print_info(const OtaBundle *bundle, const char *format);

/* `rauc info` without --output-format (or readable): RAUC's readable
 * layout of @bundle's manifest, every value from the bundle escaped. */
void rauc_cli_print_info_readable(const OtaBundle *bundle);

/* `rauc info --dump-cert`: each signer's certificate, as text. */
void rauc_cli_print_certificates(const OtaBundle *bundle);

/* One NAME='value' line, quoted for a POSIX shell's eval as RAUC quotes it;
 * NULL prints an empty value. */
void rauc_print_shell(const char *name, const char *value);
/* The same for NAME_@n, RAUC's numbered variables. */
void rauc_print_shell_n(const char *name, guint n, const char *value);
