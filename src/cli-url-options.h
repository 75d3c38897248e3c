/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The options of a bundle at an http:// or https:// URL (--timeout,
 * --http-header, --tls-ca, --tls-cert, --tls-key, --tls-no-verify), shared
 * by otabundle (info, verify) and otabundle-install (install, info, and
 * rauc's install and info). Part of the programs, not the library: parsing
 * and printing only; ota_bundle_check_url_options() decides. */
#pragma once

#include <glib.h>
#include <otabundle/bundle.h>

/* What the options were given, filled in by GOption. */
typedef struct {
	int timeout; /* -1: not given */
	char **http_headers;
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	gboolean tls_no_verify;
} CliUrlArgs;

extern CliUrlArgs cli_url_args;

/* The options' GOption table (NULL-terminated, static); @timeout_default
 * is --timeout's default as --help tells it, e.g. "60". */
const GOptionEntry *cli_url_option_entries(const char *timeout_default);

/* The options given, in *@options (pointing into cli_url_args). FALSE on
 * wrong usage, with the message in @error, for the caller to print as
 * such. Warns on stderr, as "@program: warning: ...", of --tls-no-verify. */
gboolean cli_url_options_get(const char *program, OtaBundleUrlOptions *options,
                             GError **error);
