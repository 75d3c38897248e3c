/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-url-options.h"

CliUrlArgs cli_url_args = {.timeout = -1};

const GOptionEntry *cli_url_option_entries(const char *timeout_default)
{
	static char *timeout_help;
	static GOptionEntry entries[] = {
		{"timeout", 0, 0, G_OPTION_ARG_INT, &cli_url_args.timeout, NULL, "SECONDS"},
		{"http-header", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli_url_args.http_headers,
		 "Send this header ('Name: value') to the bundle's server (repeatable)", "HEADER"},
		{"tls-ca", 0, 0, G_OPTION_ARG_FILENAME, &cli_url_args.tls_ca,
		 "Trust only the CAs of this PEM file for the server", "FILE"},
		{"tls-cert", 0, 0, G_OPTION_ARG_STRING, &cli_url_args.tls_cert,
		 "Client certificate for mutual TLS (PEM file or pkcs11: URI)", "FILE|URI"},
		{"tls-key", 0, 0, G_OPTION_ARG_STRING, &cli_url_args.tls_key,
		 "Key of the client certificate (PEM file or pkcs11: URI)", "FILE|URI"},
		{"tls-no-verify", 0, 0, G_OPTION_ARG_NONE, &cli_url_args.tls_no_verify,
		 "Don't check the server's certificate (the bundle's signature still is)", NULL},
		{NULL}};

	g_free(timeout_help);
	timeout_help = g_strdup_printf(
		"Seconds without progress before a download fails (default %s)", timeout_default);
	entries[0].description = timeout_help;
	return entries;
}

gboolean cli_url_options_get(const char *program, OtaBundleUrlOptions *options,
                             GError **error)
{
	*options = (OtaBundleUrlOptions){
		.tls_ca = cli_url_args.tls_ca,
		.tls_cert = cli_url_args.tls_cert,
		.tls_key = cli_url_args.tls_key,
		.tls_no_verify = cli_url_args.tls_no_verify,
		.headers = (const char *const *)cli_url_args.http_headers,
		.timeout = (guint)MAX(cli_url_args.timeout, 0),
	};
	if (cli_url_args.timeout == 0 || cli_url_args.timeout < -1) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		                    "--timeout takes 1 to 3600 seconds");
		return FALSE;
	}
	if (!ota_bundle_check_url_options(options, error))
		return FALSE;
	if (cli_url_args.tls_no_verify)
		g_printerr("%s: warning: --tls-no-verify: the server's certificate is not checked "
		           "(the bundle's signature still is)\n",
		           program);
	return TRUE;
}
