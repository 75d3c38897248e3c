/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle: the host tool. Argument parsing and printing only; every
 * decision is made in libotabundle. */
#include <otabundle/bundle.h>
#include <otabundle/cancel.h>
#include <otabundle/text.h>
#include <otabundle/trust.h>

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli-url-options.h"
#include "lib/json-output.h"
#include "progress-line.h"
#include "rauc-cli.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2

/* Options shared by several commands. */
static gboolean opt_verbose;
static gboolean opt_quiet;
static char *opt_compression;
static gboolean opt_force;
static gboolean opt_no_check_time;
static gboolean opt_use_signing_time;
static gboolean opt_no_verify;
static gboolean opt_check_images;
static char **opt_keyrings;
static char **opt_signing_keyrings;
static char *opt_crl;
static char *opt_check_purpose;
static char *opt_output_format;
static char *opt_format;
static char *opt_mksquashfs_args;
static gboolean opt_reproducible;
static char *opt_verity_salt;
static char *opt_crypt_key_file;
static gboolean opt_derive_crypt_key;
static char **opt_settings;
static gboolean opt_allow_large_plain;
static gboolean opt_rauc_defaults;
static char *opt_rauc_output_format;
static gboolean opt_dump_cert;
static char *opt_pkcs11_module;
static int opt_threshold = 1;
static char *opt_audit_log;
static char *opt_signer_encoding;
static char *opt_detached;
static char **opt_certs;
static char **opt_keys;
static char **opt_intermediates;
static char *opt_decrypt_key;
static char *opt_casync_store;
static char *opt_decrypt_cert;
static gboolean opt_dump_recipients;
static char **opt_recipients;
static gboolean opt_allow_large_envelope;
static char *opt_timestamp_url;
static char *opt_timestamp_ca;
static int opt_timestamp_timeout = -1;
static char *opt_tsa_keyring;
static int opt_signer_number;
static char *opt_trust_list;
static char **opt_verify_tiers;
static gint64 opt_trust_version = -1;
static char **opt_trust_tiers;
static char **opt_trust_anchors;
static char **opt_trust_revocations;

static const GOptionEntry verbose_entries[] = {
	{"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
	 "Print the full OpenSSL error queue and details on failure", NULL},
	{"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
	 "No progress line (shown on a terminal for long operations)", NULL},
	{NULL}};

/* How signers are checked, wherever a keyring is. */
#define CHECK_PURPOSE_ENTRY                                                                  \
	{"check-purpose", 0, 0, G_OPTION_ARG_STRING, &opt_check_purpose,                        \
	 "Required signer purpose: smimesign (default, as RAUC), codesign, any", "PURPOSE"}
#define CRL_ENTRY                                                                            \
	{"crl", 0, 0, G_OPTION_ARG_FILENAME, &opt_crl,                                          \
	 "PEM file of CRLs; the signer certificate must not be revoked", "PEM"}
#define USE_SIGNING_TIME_ENTRY                                                               \
	{"use-signing-time", 0, 0, G_OPTION_ARG_NONE, &opt_use_signing_time,                    \
	 "Check certificates at each signer's signingTime, not now (RAUC's "                    \
	 "use-bundle-signing-time; see otabundle(1) for the risk)",                             \
	 NULL}

static const GOptionEntry trust_entries[] = {
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_keyrings,
	 "Trusted root (or pinned intermediate) certificates for the bundle read: a PEM file or a "
	 "hashed directory; repeat to add more",
	 "PEM|DIR"},
	CHECK_PURPOSE_ENTRY,
	CRL_ENTRY,
	{"no-check-time", 0, 0, G_OPTION_ARG_NONE, &opt_no_check_time,
	 "Do not check certificate validity times (for old bundles, on purpose)", NULL},
	USE_SIGNING_TIME_ENTRY,
	{"threshold", 0, 0, G_OPTION_ARG_INT, &opt_threshold,
	 "Distinct trusted signer keys required (N of N-of-M; default 1; when signing: of the "
	 "result, with --signing-keyring)",
	 "N"},
	{NULL}};

/* Every command that writes a bundle or a signature: the trust the result
 * must satisfy before it is written (the --threshold, --check-purpose and
 * --crl of trust_entries or create_trust_entries apply to it). */
static const GOptionEntry signing_keyring_entries[] = {
	{"signing-keyring", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_signing_keyrings,
	 "Write the result only if it verifies against these certificates (PEM file or hashed "
	 "directory; repeat to add more)",
	 "PEM|DIR"},
	{NULL}};

/* create reads no bundle: no --keyring, and --no-check-time is a signer option. */
static const GOptionEntry create_trust_entries[] = {
	CHECK_PURPOSE_ENTRY,
	CRL_ENTRY,
	USE_SIGNING_TIME_ENTRY,
	{"threshold", 0, 0, G_OPTION_ARG_INT, &opt_threshold,
	 "With --signing-keyring: distinct trusted signer keys the bundle needs (default 1)", "N"},
	{NULL}};

static const GOptionEntry output_entries[] = {
	{"output-format", 0, 0, G_OPTION_ARG_STRING, &opt_output_format,
	 "Output format: text (default) or json", "FORMAT"},
	{NULL}};

static const GOptionEntry create_entries[] = {
	{"format", 0, 0, G_OPTION_ARG_STRING, &opt_format,
	 "Bundle format: verity, crypt or plain (default: the manifest's [bundle] format, else "
	 "verity)", "FORMAT"},
	{"compression", 0, 0, G_OPTION_ARG_STRING, &opt_compression,
	 "Squashfs compression: zstd[:LEVEL] (default, level 3), gzip[:LEVEL], xz, lz4 or none",
	 "NAME"},
	{"mksquashfs-args", 0, 0, G_OPTION_ARG_STRING, &opt_mksquashfs_args,
	 "Extra arguments for mksquashfs, e.g. \"-b 1M\"", "ARGS"},
	{"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_settings,
	 "Set a field of the packed manifest (update.version, update.build, update.compatible, "
	 "update.description, meta.LABEL.KEY); the input is not changed; repeatable",
	 "NAME=VALUE"},
	{"reproducible", 0, 0, G_OPTION_ARG_NONE, &opt_reproducible,
	 "Byte-identical payload and manifest for the same input (implied by $SOURCE_DATE_EPOCH)",
	 NULL},
	{"verity-salt", 0, 0, G_OPTION_ARG_STRING, &opt_verity_salt,
	 "Verity salt, 64 hex digits (default: random; reproducible: derived from the payload)",
	 "HEX"},
	{"crypt-key-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_crypt_key_file,
	 "Crypt bundles: the payload key, 64 hex digits in FILE (default: random)", "FILE"},
	{"derive-crypt-key", 0, 0, G_OPTION_ARG_NONE, &opt_derive_crypt_key,
	 "Crypt bundles: derive the payload key from the payload, for reproducible builds (whoever "
	 "has the payload can compute it)", NULL},
	{"allow-large-plain", 0, 0, G_OPTION_ARG_NONE, &opt_allow_large_plain,
	 "Write a plain bundle with a payload over 2 GiB, which no RAUC device verifies correctly",
	 NULL},
	{"rauc-defaults", 0, 0, G_OPTION_ARG_NONE, &opt_rauc_defaults,
	 "Default to what rauc bundle writes: plain without a [bundle] format, gzip compression",
	 NULL},
	{NULL}};

/* Every command that signs. */
static const GOptionEntry signer_entries[] = {
	{"cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_certs,
	 "Signer certificate: PEM file or pkcs11: URI; give once per signer", "PEM|URI"},
	{"key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_keys,
	 "Signer private key: PEM file or pkcs11: URI; one per --cert, in the same order",
	 "PEM|URI"},
	{"intermediate", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_intermediates,
	 "Intermediate certificate(s) to embed (PEM); may be repeated", "PEM"},
	{"pkcs11-module", 0, 0, G_OPTION_ARG_FILENAME, &opt_pkcs11_module,
	 "PKCS#11 module for pkcs11: URIs (default: $OTABUNDLE_PKCS11_MODULE, then p11-kit)",
	 "PATH"},
	{"audit-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_audit_log,
	 "Append one JSON line per signature to FILE", "FILE"},
	{NULL}};

/* Only where no trust options are (those carry their own --no-check-time). */
static const GOptionEntry signer_time_entries[] = {
	{"no-check-time", 0, 0, G_OPTION_ARG_NONE, &opt_no_check_time,
	 "Sign even with a certificate that is expired or not yet valid", NULL},
	{NULL}};

static const GOptionEntry output_file_entries[] = {
	{"force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Overwrite an existing output file", NULL},
	{"signer-encoding", 0, 0, G_OPTION_ARG_STRING, &opt_signer_encoding,
	 "With several signers: nested (default; RAUC accepts it) or signer-infos", "ENCODING"},
	{NULL}};

static const GOptionEntry resign_entries[] = {
	{"no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify,
	 "Don't require IN's signature to be trusted by --keyring (it must still be intact)", NULL},
	{NULL}};

static const GOptionEntry force_entries[] = {
	{"force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Overwrite an existing output file", NULL},
	{NULL}};

static const GOptionEntry sign_entries[] = {
	{"detached", 0, 0, G_OPTION_ARG_FILENAME, &opt_detached,
	 "Write a partial signature to SIG.cms instead of a new bundle", "SIG.cms"},
	{NULL}};

static const GOptionEntry info_entries[] = {
	{"no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify,
	 "Show the bundle without checking its signature (output is untrusted)", NULL},
	{"rauc-output-format", 0, 0, G_OPTION_ARG_STRING, &opt_rauc_output_format,
	 "Print as rauc info --output-format does: json, json-pretty or shell (RAUC's names, "
	 "otabundle's beside)", "FORMAT"},
	{"dump-cert", 0, 0, G_OPTION_ARG_NONE, &opt_dump_cert,
	 "Also print each signer's certificate", NULL},
	{"dump-recipients", 0, 0, G_OPTION_ARG_NONE, &opt_dump_recipients,
	 "Encrypted bundles: also list the recipients (with or without --key)", NULL},
	{NULL}};

/* Encrypted bundles: info, verify and extract take the key as rauc does. */
static const GOptionEntry decryption_entries[] = {
	{"key", 0, 0, G_OPTION_ARG_FILENAME, &opt_decrypt_key,
	 "Encrypted bundles: a recipient's private key, PEM file or pkcs11: URI", "PEM|URI"},
	{"cert", 0, 0, G_OPTION_ARG_FILENAME, &opt_decrypt_cert,
	 "Encrypted bundles: that key's certificate (PEM file or pkcs11: URI), to find its "
	 "recipient by issuer and serial",
	 "PEM|URI"},
	{NULL}};

/* extract: where the images of a casync bundle are rebuilt from. */
static const GOptionEntry casync_entries[] = {
	{"casync-store", 0, 0, G_OPTION_ARG_FILENAME, &opt_casync_store,
	 "casync bundles: the chunk store, a directory or http(s):// URL (default: BUNDLE "
	 "minus .raucb, plus .castr)",
	 "DIR|URL"},
	{NULL}};

/* sign, resign and merge: --key is the signer's there. */
static const GOptionEntry decrypt_key_entries[] = {
	{"decrypt-key", 0, 0, G_OPTION_ARG_FILENAME, &opt_decrypt_key,
	 "Encrypted IN: a recipient's private key, PEM file or pkcs11: URI (OUT is encrypted for "
	 "the same recipients)",
	 "PEM|URI"},
	{"decrypt-cert", 0, 0, G_OPTION_ARG_FILENAME, &opt_decrypt_cert,
	 "Encrypted IN: that key's certificate, to find its recipient by issuer and serial",
	 "PEM|URI"},
	{NULL}};

/* Where no signer_entries bring it. */
static const GOptionEntry pkcs11_module_entries[] = {
	{"pkcs11-module", 0, 0, G_OPTION_ARG_FILENAME, &opt_pkcs11_module,
	 "PKCS#11 module for pkcs11: URIs (default: $OTABUNDLE_PKCS11_MODULE, then p11-kit)",
	 "PATH"},
	{NULL}};

static const GOptionEntry encrypt_entries[] = {
	{"to", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_recipients,
	 "Recipient certificates: a PEM file (one or more) or a pkcs11: URI; repeatable",
	 "PEM|URI"},
	{"allow-large-envelope", 0, 0, G_OPTION_ARG_NONE, &opt_allow_large_envelope,
	 "Allow an EnvelopedData over 64 KiB (many recipients), which otabundle reads and RAUC "
	 "1.8 does not",
	 NULL},
	{"force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Overwrite an existing output file", NULL},
	{NULL}};

/* Every command that signs (and merge): RFC 3161 timestamps for new signers. */
static const GOptionEntry timestamp_entries[] = {
	{"timestamp-url", 0, 0, G_OPTION_ARG_STRING, &opt_timestamp_url,
	 "Get an RFC 3161 timestamp for each new signer from this Time-Stamping Authority",
	 "URL"},
	{"timestamp-ca", 0, 0, G_OPTION_ARG_FILENAME, &opt_timestamp_ca,
	 "https TSA: the CAs its TLS certificate must chain to (PEM; default: the system's)",
	 "PEM"},
	{"timestamp-timeout", 0, 0, G_OPTION_ARG_INT, &opt_timestamp_timeout,
	 "Seconds one TSA request may take (default 60)", "SECONDS"},
	{NULL}};

/* Every command that reads signatures. */
static const GOptionEntry tsa_keyring_entries[] = {
	{"tsa-keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_tsa_keyring,
	 "Trusted Time-Stamping Authorities (PEM file or hashed directory): a signer timestamped "
	 "by one is checked at that time; new timestamps must chain to them",
	 "PEM|DIR"},
	{NULL}};

static const GOptionEntry timestamp_request_entries[] = {
	{"signer", 0, 0, G_OPTION_ARG_INT, &opt_signer_number,
	 "The signer to timestamp, as info numbers them (default: the one without a timestamp)",
	 "N"},
	{"force", 'f', 0, G_OPTION_ARG_NONE, &opt_force, "Overwrite an existing output file", NULL},
	{NULL}};

/* verify: a trust list instead of a keyring. */
static const GOptionEntry verify_trust_entries[] = {
	{"trust", 0, 0, G_OPTION_ARG_FILENAME, &opt_trust_list,
	 "Verify as a device holding this trust list would (instead of --keyring and its checks)",
	 "FILE"},
	{"tier", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_verify_tiers,
	 "With --trust: the bundle must pass this tier of it too, as on a device that binds a "
	 "slot the bundle writes to it; repeatable",
	 "NAME"},
	{NULL}};

static const GOptionEntry trust_create_entries[] = {
	{"version", 0, 0, G_OPTION_ARG_INT64, &opt_trust_version,
	 "The trust list's version: 1 for the first, then the current one's + 1", "N"},
	{"tier", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_trust_tiers,
	 "A tier's settings (default: threshold 1, smimesign, check-time device); repeatable",
	 "NAME:THRESHOLD[:PURPOSE[:CHECK-TIME]]"},
	{"anchor", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_trust_anchors,
	 "Trust the CA certificates of PEM in TIER, optionally only from/until the RFC 3339 times "
	 "given; repeatable",
	 "TIER:PEM[:NOT-BEFORE[:NOT-AFTER]]"},
	{"revoke", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_trust_revocations,
	 "Revoke the certificate of PEM and its key in TIER (without TIER: in every tier); "
	 "repeatable",
	 "[TIER:]PEM"},
	{NULL}};

static const GOptionEntry trust_sign_entries[] = {
	{"detached", 0, 0, G_OPTION_ARG_FILENAME, &opt_detached,
	 "Write a partial signature to SIG.cms instead of a new trust file", "SIG.cms"},
	{NULL}};

static const GOptionEntry trust_verify_entries[] = {
	{"trust", 0, 0, G_OPTION_ARG_FILENAME, &opt_trust_list,
	 "The trust list the device holds now (signed, or a bare document as an image ships it)",
	 "FILE"},
	{NULL}};

static const GOptionEntry verify_entries[] = {
	{"check-images", 0, 0, G_OPTION_ARG_NONE, &opt_check_images,
	 "Also decompress and hash every image against the manifest", NULL},
	{NULL}};

/* --- errors ------------------------------------------------------------ */

/* One line to stderr; the OpenSSL queue and other detail that the library
 * put on further lines only with --verbose. A message may quote a bundle's
 * or a certificate's text: each line is escaped before it is printed. */
static int fail(const GError *error)
{
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", opt_verbose ? -1 : 2);

	progress_line_erase();
	/* Interrupted: the signal is the story, told by the exit status. */
	if (ota_cancel_get_signal() != 0)
		return EXIT_REJECTED;
	for (char **l = lines; *l && (l == lines || opt_verbose); l++) {
		g_autofree char *line = ota_text_escape_controls(*l);

		g_printerr("%s%s\n", l == lines ? "otabundle: " : "", line);
	}
	return EXIT_REJECTED;
}

static int usage_error(GOptionContext *context, const char *message)
{
	g_printerr("otabundle: %s\n", message);
	if (context != NULL)
		g_printerr("Try '%s --help'.\n", g_get_prgname());
	return EXIT_USAGE;
}

static GOptionContext *new_context(const char *params, const char *summary,
                                   const GOptionEntry *const *groups)
{
	GOptionContext *context = g_option_context_new(params);

	g_option_context_set_summary(context, summary);
	for (const GOptionEntry *const *g = groups; *g; g++)
		g_option_context_add_main_entries(context, *g, NULL);
	g_option_context_add_main_entries(context, verbose_entries, NULL);
	return context;
}

/* The one parse path of every command: options, then @min_args to
 * @max_args arguments; FALSE (after printing) means exit with EXIT_USAGE. */
static gboolean parse_args(GOptionContext *context, int *argc, char ***argv, int min_args,
                           int max_args)
{
	g_autoptr(GError) error = NULL;

	if (!g_option_context_parse(context, argc, argv, &error)) {
		usage_error(context, error->message);
		return FALSE;
	}
	if (*argc - 1 < min_args || *argc - 1 > max_args) {
		usage_error(context, *argc - 1 < min_args ? "missing arguments" : "too many arguments");
		return FALSE;
	}
	progress_line_enable(!opt_quiet && isatty(STDERR_FILENO));
	return TRUE;
}

static gboolean wants_json(GOptionContext *context, gboolean *json)
{
	*json = g_strcmp0(opt_output_format, "json") == 0;
	if (opt_output_format == NULL || *json || g_str_equal(opt_output_format, "text"))
		return TRUE;
	usage_error(context, "--output-format must be text or json");
	return FALSE;
}

/* A policy trusting @keyrings, with --check-purpose, --crl, --no-check-time,
 * --use-signing-time and @threshold; NULL with *usage set when the
 * arguments are wrong, NULL with @error when the files are. */
static OtaPolicy *policy_for(GOptionContext *context, char **keyrings, int threshold,
                             gboolean *usage, GError **error)
{
	OtaPurpose purpose = OTA_PURPOSE_DEFAULT;
	OtaPolicy *policy;

	*usage = FALSE;
	if (opt_check_purpose != NULL && !ota_purpose_from_string(opt_check_purpose, &purpose)) {
		*usage = TRUE;
		usage_error(context, "--check-purpose must be any, codesign or smimesign");
		return NULL;
	}
	if (threshold < 1) {
		*usage = TRUE;
		usage_error(context, "--threshold must be at least 1");
		return NULL;
	}
	policy = ota_policy_new_from_keyrings((const char *const *)keyrings, opt_crl, purpose,
	                                      !opt_no_check_time, (guint)threshold, error);
	if (policy == NULL)
		return NULL;
	ota_policy_set_use_signing_time(policy, opt_use_signing_time);
	if (opt_tsa_keyring != NULL && !ota_policy_set_tsa_keyring(policy, opt_tsa_keyring, error))
		g_clear_pointer(&policy, ota_policy_free);
	return policy;
}

/* Builds the policy from --keyring etc. (required) for a command that only
 * reads a bundle; see policy_for(). */
static OtaPolicy *policy_from_options(GOptionContext *context, gboolean *usage, GError **error)
{
	if (opt_keyrings == NULL) {
		*usage = TRUE;
		usage_error(context, "--keyring is required");
		return NULL;
	}
	return policy_for(context, opt_keyrings, opt_threshold, usage, error);
}

/* The policies of a command that writes a signed result: IN's trust from
 * --keyring (a bundle is accepted when one signer is trusted: the
 * threshold is the result's), and the result's from --signing-keyring with
 * --threshold. Each stays NULL without its keyring. A check option with no
 * keyring to apply to is wrong usage. FALSE (after printing) with
 * *exit_code set. */
static gboolean signing_policies(GOptionContext *context, OtaPolicy **input, OtaPolicy **result,
                                 int *exit_code)
{
	g_autoptr(GError) error = NULL;
	gboolean usage;

	if (opt_signing_keyrings == NULL && opt_threshold != 1) {
		*exit_code = usage_error(context, "--threshold is for the result: give --signing-keyring");
		return FALSE;
	}
	if (opt_keyrings == NULL && opt_signing_keyrings == NULL &&
	    (opt_check_purpose != NULL || opt_crl != NULL || opt_use_signing_time)) {
		*exit_code = usage_error(context, "--check-purpose, --crl and --use-signing-time need "
		                                  "--keyring or --signing-keyring");
		return FALSE;
	}
	if (opt_keyrings != NULL) {
		*input = policy_for(context, opt_keyrings, 1, &usage, &error);
		if (*input == NULL) {
			*exit_code = usage ? EXIT_USAGE : fail(error);
			return FALSE;
		}
	}
	if (opt_signing_keyrings != NULL) {
		*result = policy_for(context, opt_signing_keyrings, opt_threshold, &usage, &error);
		if (*result == NULL) {
			*exit_code = usage ? EXIT_USAGE : fail(error);
			return FALSE;
		}
	}
	return TRUE;
}

/* --- keys ---------------------------------------------------------------- */

static void print_warning(const char *message, gpointer user_data)
{
	g_autofree char *escaped = ota_text_escape_controls(message);

	g_printerr("otabundle: warning: %s\n", escaped);
}

/* Reads a PIN from the controlling terminal with echo off; NULL when there
 * is no terminal (CI), so the library reports that a PIN is needed. */
static char *prompt_pin(const char *token_label, gpointer user_data)
{
	struct termios saved, quiet;
	char buf[256];
	FILE *tty;
	char *pin = NULL;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	tty = fdopen(fd, "r+");
	if (tty == NULL) {
		close(fd);
		return NULL;
	}
	if (tcgetattr(fd, &saved) == 0) {
		g_autofree char *label = ota_text_escape(token_label);

		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		/* Echo off before the prompt, so nothing typed early is shown. */
		tcsetattr(fd, TCSAFLUSH, &quiet);
		fprintf(tty, "PIN for token '%s': ", label);
		fflush(tty);
		if (fgets(buf, sizeof(buf), tty) != NULL)
			pin = g_strndup(buf, strcspn(buf, "\r\n"));
		tcsetattr(fd, TCSAFLUSH, &saved);
		fprintf(tty, "\n");
		explicit_bzero(buf, sizeof(buf));
	}
	fclose(tty);
	return pin;
}

static OtaKeyStore *new_key_store(void)
{
	OtaKeyStoreOptions options = {
		.pkcs11_module = opt_pkcs11_module,
		.pin_prompt = prompt_pin,
		.warning = print_warning,
	};

	return ota_key_store_new(&options);
}

/* The URL options given (FALSE after printing, on wrong usage). */
static gboolean url_options_from_args(GOptionContext *context, OtaBundleUrlOptions *o)
{
	g_autoptr(GError) error = NULL;

	if (!cli_url_options_get("otabundle", o, &error)) {
		usage_error(context, error->message);
		return FALSE;
	}
	return TRUE;
}

/* --- encrypted bundles ------------------------------------------------------- */

/* A certificate option (--cert, --decrypt-cert) names the key's. */
static gboolean check_decryption_usage(GOptionContext *context, const char *key_option)
{
	g_autofree char *message = NULL;

	if (opt_decrypt_cert == NULL || opt_decrypt_key != NULL)
		return TRUE;
	message = g_strdup_printf("the certificate of a decryption key needs the key (%s)",
	                          key_option);
	usage_error(context, message);
	return FALSE;
}

/* Decrypts @bundle with --key (--decrypt-key) if one was given; the store
 * is made when needed. */
static gboolean decrypt_bundle(OtaBundle *bundle, OtaKeyStore **store, GError **error)
{
	if (opt_decrypt_key == NULL)
		return TRUE;
	if (*store == NULL)
		*store = new_key_store();
	return ota_bundle_decrypt(bundle, opt_decrypt_key, opt_decrypt_cert, *store, error);
}

/* A bundle left encrypted for want of a key: its one line names the option
 * that gives one. */
static GError *hint_key_option(GError *error, const char *option)
{
	char *message;

	if (error == NULL || !g_error_matches(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_ENCRYPTED))
		return error;
	message = g_strdup_printf("%s (%s PEM|pkcs11:URI)", error->message, option);
	g_free(error->message);
	error->message = message;
	return error;
}

/* Encrypted, and not decrypted: only the format, sizes and recipients are
 * known. */
static gboolean is_sealed(const OtaBundle *bundle)
{
	return ota_bundle_is_encrypted(bundle) && ota_bundle_get_signature(bundle) == NULL;
}

/* --- printing ----------------------------------------------------------- */

/* What info shows for a casync image (ota_image_get_casync()), or NULL. */
static const char *casync_name(const OtaImage *image)
{
	switch (ota_image_get_casync(image)) {
	case OTA_IMAGE_CASYNC_BLOB:
		return "blob-index";
	case OTA_IMAGE_CASYNC_TREE:
		return "directory-tree-index";
	case OTA_IMAGE_CASYNC_NONE:
		break;
	}
	return NULL;
}

static void json_add_manifest(JsonBuilder *b, const OtaManifest *m)
{
	json_builder_set_member_name(b, "manifest");
	json_builder_begin_object(b);
	json_output_add_string(b, "compatible", m->compatible);
	json_output_add_string(b, "version", m->version);
	json_output_add_string(b, "description", m->description);
	json_output_add_string(b, "build", m->build);
	json_output_add_string(b, "hook_filename", m->hook_filename);
	json_output_add_strv(b, "hooks", m->hooks);
	json_output_add_string(b, "handler_filename", m->handler_filename);
	json_output_add_string(b, "handler_args", m->handler_args);
	json_builder_set_member_name(b, "images");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "slotclass", image->slotclass);
		json_output_add_string(b, "variant", image->variant);
		json_output_add_string(b, "filename", image->filename);
		json_output_add_int(b, "size", image->size);
		json_output_add_string(b, "sha256", image->sha256);
		json_output_add_strv(b, "hooks", image->hooks);
		json_output_add_string(b, "casync", casync_name(image));
		{
			g_auto(GStrv) adaptive = ota_image_get_adaptive_methods(image);

			json_output_add_strv(b, "adaptive", adaptive);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_output_add_meta(b, m->meta);
	json_builder_end_object(b);
}

/* "encryption": null for a bundle that is not encrypted, else whether it
 * was decrypted, and with --dump-recipients who it is for. */
static void json_add_encryption(JsonBuilder *builder, const OtaBundle *b)
{
	if (b == NULL || !ota_bundle_is_encrypted(b)) {
		json_output_add_null(builder, "encryption");
		return;
	}
	json_builder_set_member_name(builder, "encryption");
	json_builder_begin_object(builder);
	json_output_add_bool(builder, "decrypted", !is_sealed(b));
	json_output_add_int(builder, "recipient_count", ota_bundle_get_n_recipients(b));
	if (opt_dump_recipients) {
		json_builder_set_member_name(builder, "recipients");
		json_builder_begin_array(builder);
		for (guint i = 0; i < ota_bundle_get_n_recipients(b); i++) {
			const OtaRecipient *r = ota_bundle_get_recipient(b, i);

			json_builder_begin_object(builder);
			json_output_add_string(builder, "key_type", ota_recipient_get_key_type(r));
			json_output_add_string(builder, "algorithm", ota_recipient_get_algorithm(r));
			json_output_add_string(builder, "issuer", ota_recipient_get_issuer(r));
			json_output_add_string(builder, "serial", ota_recipient_get_serial(r));
			json_output_add_string(builder, "subject_key_id",
			                       ota_recipient_get_subject_key_id(r));
			json_builder_end_object(builder);
		}
		json_builder_end_array(builder);
	}
	json_builder_end_object(builder);
}

/* How far the library got, as JSON names it. */
static const char *checked_to_json(OtaBundleChecked checked)
{
	switch (checked) {
	case OTA_BUNDLE_CHECKED_SIGNATURE:
		return "signature";
	case OTA_BUNDLE_CHECKED_PAYLOAD:
		return "payload";
	case OTA_BUNDLE_CHECKED_IMAGES:
		return "images";
	case OTA_BUNDLE_CHECKED_NOTHING:
		break;
	}
	return "nothing";
}

/* The one document of info and verify (@schema), for a bundle that passed
 * (@error NULL) or failed. A failure still lists every signer seen with its
 * status, so a threshold gate can say who signed; what was not learnt
 * (@b NULL: not even opened), or must not be trusted (the manifest of a
 * failed bundle), is null. */
static void print_bundle_json(const char *schema, const char *path, const OtaBundle *b,
                              const OtaPolicy *policy, const char *verification,
                              const GError *error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	const OtaBundleLayout *layout = b ? ota_bundle_get_layout(b) : NULL;
	const OtaManifest *m = b && error == NULL ? ota_bundle_get_manifest(b) : NULL;
	const OtaSignature *sig = b ? ota_bundle_get_signature(b) : NULL;
	guint64 data_size, tree_size;

	json_output_begin_document(builder, schema);
	json_output_add_string(builder, "bundle", path);
	if (b != NULL) {
		json_output_add_string(builder, "format",
		                       ota_bundle_format_to_string(ota_bundle_get_format(b)));
		json_output_add_int(builder, "size", layout->file_size);
		json_output_add_int(builder, "payload_size", layout->payload_size);
		json_output_add_int(builder, "signature_size", layout->signature_size);
		json_output_add_bool(builder, "plain_size_limit_exceeded",
		                     ota_bundle_exceeds_plain_limit(b));
	} else {
		json_output_add_null(builder, "format");
		json_output_add_null(builder, "size");
		json_output_add_null(builder, "payload_size");
		json_output_add_null(builder, "signature_size");
		json_output_add_null(builder, "plain_size_limit_exceeded");
	}
	json_output_add_bool(builder, "verified", error == NULL && ota_bundle_is_verified(b));
	json_output_add_string(builder, "verification", error ? "failed" : verification);
	json_output_add_string(builder, "checked",
	                       checked_to_json(b ? ota_bundle_get_checked(b)
	                                         : OTA_BUNDLE_CHECKED_NOTHING));
	json_output_add_error(builder, error);
	if (policy != NULL)
		json_output_add_int(builder, "threshold", ota_policy_get_threshold(policy));
	else
		json_output_add_null(builder, "threshold");
	json_output_add_int(builder, "trusted_signers", sig ? ota_signature_get_counted(sig) : 0);
	if (m != NULL && ota_bundle_get_verity_sizes(b, &data_size, &tree_size)) {
		json_builder_set_member_name(builder, "verity");
		json_builder_begin_object(builder);
		json_output_add_string(builder, "root_hash", m->verity_hash);
		json_output_add_string(builder, "salt", m->verity_salt);
		json_output_add_int(builder, "data_size", data_size);
		json_output_add_int(builder, "tree_size", tree_size);
		json_builder_end_object(builder);
	}
	if (m != NULL)
		json_add_manifest(builder, m);
	else
		json_output_add_null(builder, "manifest");
	json_output_add_signers(builder, sig);
	json_add_encryption(builder, b);
	json_builder_end_object(builder);
	json_output_print(builder);
}

/* A failed info or verify: with @json, its document on stdout as well. */
static int fail_bundle(gboolean json, const char *schema, const char *path, const OtaBundle *b,
                       const OtaPolicy *policy, const GError *error)
{
	if (json)
		print_bundle_json(schema, path, b, policy, NULL, error);
	return fail(error);
}

/* A signer's RFC 3161 timestamp: when, by which TSA, and whether trusted. */
static void print_timestamp_text(const OtaSignerInfo *s)
{
	const char *time = ota_signer_info_get_timestamp_time_string(s);
	g_autofree char *when = NULL;
	g_autofree char *tsa = NULL;
	g_autofree char *why = NULL;

	if (time == NULL)
		return;
	when = ota_text_escape(time);
	tsa = ota_text_escape_controls(ota_signer_info_get_timestamp_tsa(s));
	why = ota_text_escape_controls(ota_signer_info_get_timestamp_reason(s));
	g_print("     timestamp:   %s by %s (%s%s%s)\n", when, tsa,
	        ota_signer_info_timestamp_is_trusted(s) ? "trusted" : "not trusted", why ? ": " : "",
	        why ? why : "");
}

/* Every string printed in text output may come from the bundle or one of
 * its certificates (even its path is the user's, not ours): all of it goes
 * through ota_text_escape(), so none of it can rewrite another line, such
 * as "Verified:", on a terminal. */
static void print_signers_text(const OtaSignature *sig)
{
	g_print("Signers:\n");
	for (guint i = 0; i < ota_signature_get_n_signers(sig); i++) {
		const OtaSignerInfo *s = ota_signature_get_signer(sig, i);
		const char *not_before = ota_signer_info_get_not_before(s);
		const char *not_after = ota_signer_info_get_not_after(s);
		const char *cert_sha256 = ota_signer_info_get_certificate_sha256(s);
		const char *spki_sha256 = ota_signer_info_get_spki_sha256(s);
		/* Names come in OpenSSL's RFC 2253 form, escaped already
		 * ("\1B"): shown as `openssl x509 -subject` shows them. */
		g_autofree char *subject = ota_text_escape_controls(ota_signer_info_get_subject(s));
		g_autofree char *issuer = ota_text_escape_controls(ota_signer_info_get_issuer(s));
		g_autofree char *from = ota_text_escape(not_before ? not_before : "?");
		g_autofree char *to = ota_text_escape(not_after ? not_after : "?");
		g_autofree char *reason = ota_text_escape_controls(ota_signer_info_get_reason(s));

		g_print("  %u. %s%s\n", i + 1, subject,
		        ota_signer_info_is_nested(s) ? " (nested)" : "");
		g_print("     issuer:      %s\n", issuer);
		g_print("     cert sha256: %s\n", cert_sha256 ? cert_sha256 : "-");
		g_print("     spki sha256: %s\n", spki_sha256 ? spki_sha256 : "-");
		g_print("     valid:       %s to %s\n", from, to);
		g_print("     status:      %s%s%s\n",
		        ota_signer_status_to_string(ota_signer_info_get_status(s)), reason ? " - " : "",
		        reason ? reason : "");
		print_timestamp_text(s);
	}
}

static void print_field(const char *label, const char *value)
{
	g_autofree char *escaped = ota_text_escape(value);

	if (escaped != NULL)
		g_print("%-13s%s\n", label, escaped);
}

static char *escape_strv(char **values)
{
	g_autofree char *joined = values ? g_strjoinv(";", values) : g_strdup("");

	return ota_text_escape(joined);
}

static void print_manifest_text(const OtaManifest *m)
{
	g_auto(GStrv) meta_groups = g_key_file_get_groups(m->meta, NULL);

	print_field("Compatible:", m->compatible);
	print_field("Version:", m->version);
	print_field("Description:", m->description);
	print_field("Build:", m->build);
	if (m->hook_filename != NULL) {
		g_autofree char *filename = ota_text_escape(m->hook_filename);
		g_autofree char *hooks = escape_strv(m->hooks);
		g_print("%-13s%s (%s)\n", "Hooks:", filename, hooks);
	}
	if (m->handler_filename != NULL) {
		g_autofree char *filename = ota_text_escape(m->handler_filename);
		g_autofree char *args = ota_text_escape(m->handler_args ? m->handler_args : "");
		g_print("%-13s%s %s\n", "Handler:", filename, args);
	}
	g_print("Images:\n");
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		g_autofree char *slotclass = ota_text_escape(image->slotclass);
		g_autofree char *variant = ota_text_escape(image->variant);
		g_autofree char *filename = ota_text_escape(image->filename);
		g_autofree char *sha256 = ota_text_escape(image->sha256 ? image->sha256 : "-");

		g_print("  [%s%s%s] %s\n", slotclass, variant ? "." : "", variant ? variant : "",
		        filename);
		g_print("     size:        %" G_GUINT64_FORMAT "\n", image->size);
		g_print("     sha256:      %s\n", sha256);
		if (casync_name(image) != NULL)
			g_print("     casync:      %s (the bundle holds the index; size and sha256 are "
			        "of the image it rebuilds)\n", casync_name(image));
		if (image->hooks != NULL && image->hooks[0] != NULL) {
			g_autofree char *hooks = escape_strv(image->hooks);
			g_print("     hooks:       %s\n", hooks);
		}
		g_auto(GStrv) adaptive = ota_image_get_adaptive_methods(image);
		if (adaptive[0] != NULL) {
			g_autofree char *methods = escape_strv(adaptive);
			g_print("     adaptive:    %s\n", methods);
		}
	}
	for (char **g = meta_groups; *g; g++) {
		g_auto(GStrv) keys = g_key_file_get_keys(m->meta, *g, NULL, NULL);
		g_autofree char *group = ota_text_escape(*g);

		g_print("[%s]\n", group);
		for (char **k = keys; k && *k; k++) {
			g_autofree char *value = g_key_file_get_string(m->meta, *g, *k, NULL);
			g_autofree char *key = ota_text_escape(*k);
			g_autofree char *escaped = ota_text_escape(value ? value : "");

			g_print("  %s=%s\n", key, escaped);
		}
	}
}

static void print_recipients_text(const OtaBundle *b)
{
	g_print("Recipients:\n");
	for (guint i = 0; i < ota_bundle_get_n_recipients(b); i++) {
		const OtaRecipient *r = ota_bundle_get_recipient(b, i);
		g_autofree char *algorithm = ota_text_escape(ota_recipient_get_algorithm(r));
		g_autofree char *issuer = ota_text_escape_controls(ota_recipient_get_issuer(r));
		g_autofree char *serial = ota_text_escape(ota_recipient_get_serial(r));
		g_autofree char *key_id = ota_text_escape(ota_recipient_get_subject_key_id(r));

		g_print("  %u. %s key (%s)\n", i + 1, ota_recipient_get_key_type(r), algorithm);
		if (issuer != NULL)
			g_print("     issuer:      %s\n     serial:      %s\n", issuer,
			        serial != NULL ? serial : "?");
		if (key_id != NULL)
			g_print("     key id:      %s\n", key_id);
	}
}

/* The head of info's text: where the bundle is, what it is, and whether
 * it is encrypted. */
static void print_bundle_head_text(const OtaBundle *b)
{
	const OtaBundleLayout *layout = ota_bundle_get_layout(b);
	guint n = ota_bundle_get_n_recipients(b);

	print_field("Bundle:", ota_bundle_get_path(b));
	print_field("Format:", ota_bundle_format_to_string(ota_bundle_get_format(b)));
	g_print("%-13s%" G_GUINT64_FORMAT " bytes (payload %" G_GUINT64_FORMAT ", signature %"
	        G_GUINT64_FORMAT ")\n", "Size:", layout->file_size, layout->payload_size,
	        layout->signature_size);
	if (ota_bundle_is_encrypted(b))
		g_print("%-13syes, for %u recipient%s (%s)\n", "Encrypted:", n, n == 1 ? "" : "s",
		        is_sealed(b) ? "no --key: manifest and signers are encrypted"
		                     : "decrypted with --key");
}

/* info of an encrypted bundle without its key. */
static void print_sealed_text(const OtaBundle *b, const char *verification)
{
	print_bundle_head_text(b);
	print_field("Verified:", verification);
	if (opt_dump_recipients)
		print_recipients_text(b);
}

static void print_bundle_text(const OtaBundle *b, const char *verification)
{
	const OtaManifest *m = ota_bundle_get_manifest(b);
	guint64 data_size, tree_size;

	print_bundle_head_text(b);
	if (ota_bundle_get_verity_sizes(b, &data_size, &tree_size)) {
		print_field("Verity root:", m->verity_hash);
		print_field("Verity salt:", m->verity_salt);
		g_print("%-13s%" G_GUINT64_FORMAT " bytes of hash tree over %" G_GUINT64_FORMAT
		        " bytes of squashfs\n", "Verity tree:", tree_size, data_size);
	}
	print_field("Verified:", verification);
	print_manifest_text(m);
	print_signers_text(ota_bundle_get_signature(b));
	if (opt_dump_recipients && ota_bundle_is_encrypted(b))
		print_recipients_text(b);
}

/* --- commands --------------------------------------------------------------- */

/* Signers and intermediates from --cert/--key/--intermediate; FALSE
 * (after printing) with *exit_code set. */
static gboolean load_signers(GOptionContext *context, OtaKeyStore *store, GPtrArray *signers,
                             OtaX509Stack *intermediates, int *exit_code)
{
	g_autoptr(GError) error = NULL;
	guint n_certs = opt_certs ? g_strv_length(opt_certs) : 0;
	guint n_keys = opt_keys ? g_strv_length(opt_keys) : 0;

	if (n_certs == 0 || n_certs != n_keys) {
		*exit_code = usage_error(context, "give --cert and --key once per signer, in pairs");
		return FALSE;
	}
	for (guint i = 0; i < n_certs; i++) {
		OtaSigner *signer = ota_signer_load(store, opt_certs[i], opt_keys[i], !opt_no_check_time,
		                                    &error);

		if (signer == NULL) {
			*exit_code = fail(error);
			return FALSE;
		}
		g_ptr_array_add(signers, signer);
	}
	for (char **p = opt_intermediates; p && *p; p++) {
		g_autoptr(OtaX509Stack) certs = ota_keys_load_certificates(*p, &error);

		if (certs == NULL) {
			*exit_code = fail(error);
			return FALSE;
		}
		while (sk_X509_num(certs) > 0)
			sk_X509_push(intermediates, sk_X509_shift(certs));
	}
	return TRUE;
}

/* --timestamp-url and its companions as the library takes them, in
 * *@out (NULL without a URL). FALSE (after printing) on wrong usage. */
static gboolean timestamp_from_args(GOptionContext *context, const OtaTimestampOptions **out)
{
	static OtaTimestampOptions timestamp;
	g_autoptr(GError) error = NULL;

	*out = NULL;
	if (opt_timestamp_url == NULL) {
		if (opt_timestamp_ca == NULL && opt_timestamp_timeout == -1)
			return TRUE;
		usage_error(context, "--timestamp-ca and --timestamp-timeout need --timestamp-url");
		return FALSE;
	}
	if (opt_timestamp_timeout == 0 || opt_timestamp_timeout < -1) {
		usage_error(context, "--timestamp-timeout must be at least 1 second");
		return FALSE;
	}
	timestamp.url = opt_timestamp_url;
	timestamp.tls_ca = opt_timestamp_ca;
	timestamp.timeout = opt_timestamp_timeout > 0 ? (guint)opt_timestamp_timeout : 0;
	timestamp.tsa_keyring = opt_tsa_keyring;
	if (!ota_timestamp_check_options(&timestamp, &error)) {
		usage_error(context, error->message);
		return FALSE;
	}
	*out = &timestamp;
	return TRUE;
}

/* --tsa-keyring applies to a keyring's policy or to new timestamps; alone
 * it would be silently ignored. */
static gboolean check_tsa_keyring_usage(GOptionContext *context, gboolean applies)
{
	if (opt_tsa_keyring == NULL || applies)
		return TRUE;
	usage_error(context, "--tsa-keyring needs a keyring to apply to (or --timestamp-url)");
	return FALSE;
}

static gboolean parse_encoding(GOptionContext *context, OtaSignatureEncoding *encoding)
{
	*encoding = OTA_SIGNATURE_ENCODING_NESTED;
	if (opt_signer_encoding == NULL ||
	    ota_signature_encoding_from_string(opt_signer_encoding, encoding))
		return TRUE;
	usage_error(context, "--signer-encoding must be nested or signer-infos");
	return FALSE;
}

/* The library's verdict on Ed25519 and RAUC devices, in words. */
static void warn_if_rauc_cannot_verify(const char *path, OtaSigner *const *signers, gsize n)
{
	g_autofree char *message = NULL;

	if (!ota_signers_rauc_cannot_verify(signers, n))
		return;
	message = g_strdup_printf("%s: the signer a RAUC device checks, the first (%s), has an "
	                          "Ed25519 key, which RAUC with OpenSSL before 3.5 cannot verify: "
	                          "such devices refuse this bundle; put an ECDSA or RSA signer first "
	                          "(Ed25519 signers after it are nested)",
	                          path, signers[0]->cert_uri);
	print_warning(message, NULL);
}

static int cmd_create(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {create_entries,        signer_entries,
	                                      signer_time_entries,   signing_keyring_entries,
	                                      create_trust_entries,  timestamp_entries,
	                                      tsa_keyring_entries,   output_file_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context =
		new_context("INPUTDIR BUNDLE", "Pack and sign INPUTDIR into BUNDLE.", groups);
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(OtaX509Stack) intermediates = sk_X509_new_null();
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaPolicy) no_input_policy = NULL;
	g_autoptr(OtaPolicy) result_policy = NULL;
	g_autoptr(GError) error = NULL;
	OtaCreateOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 2, 2) || !parse_encoding(context, &options.encoding) ||
	    !timestamp_from_args(context, &options.timestamp) ||
	    !check_tsa_keyring_usage(context, opt_signing_keyrings || opt_timestamp_url))
		return EXIT_USAGE;
	options.compression = opt_compression;
	options.mksquashfs_args = opt_mksquashfs_args;
	options.reproducible = opt_reproducible;
	options.verity_salt = opt_verity_salt;
	options.settings = (const char *const *)opt_settings;
	options.allow_large_plain = opt_allow_large_plain;
	options.rauc_defaults = opt_rauc_defaults;
	options.crypt_key_file = opt_crypt_key_file;
	options.derive_crypt_key = opt_derive_crypt_key;
	if (opt_format != NULL) {
		if (!ota_bundle_format_from_string(opt_format, &options.format))
			return usage_error(context, "--format must be plain, verity or crypt");
		options.format_set = TRUE;
	}
	if (!ota_bundle_check_create_options(&options, &error))
		return usage_error(context, error->message);
	if (!signing_policies(context, &no_input_policy, &result_policy, &exit_code))
		return exit_code;
	options.result_policy = result_policy;

	store = new_key_store();
	if (!load_signers(context, store, signers, intermediates, &exit_code))
		return exit_code;

	options.signers = (OtaSigner *const *)signers->pdata;
	options.n_signers = signers->len;
	options.intermediates = intermediates;
	options.force = opt_force;
	options.audit_log = opt_audit_log;
	if (!ota_bundle_create(argv[1], argv[2], &options, &error))
		return fail(error);
	warn_if_rauc_cannot_verify(argv[2], options.signers, options.n_signers);
	g_print("Created %s\n", argv[2]);
	return EXIT_SUCCESS;
}

/* The library's verdict on RAUC's plain payload limit, in words. */
static void warn_if_over_plain_limit(const char *path, const OtaBundle *bundle)
{
	g_autofree char *message = NULL;

	if (!ota_bundle_exceeds_plain_limit(bundle))
		return;
	message = g_strdup_printf("%s: plain payload over 2 GiB: RAUC 1.15.2 and later refuse it, "
	                          "earlier RAUC verifies only its start (CVE-2026-34155); rebuild "
	                          "it as verity", path);
	print_warning(message, NULL);
}

/* What the library checked, in the words info and verify print. */
static const char *describe_checked(const OtaBundle *bundle)
{
	switch (ota_bundle_get_checked(bundle)) {
	case OTA_BUNDLE_CHECKED_SIGNATURE:
		return "ok (signature and manifest; payload blocks: use verify)";
	case OTA_BUNDLE_CHECKED_PAYLOAD:
		return "ok";
	case OTA_BUNDLE_CHECKED_IMAGES:
		return "ok, images hashed";
	case OTA_BUNDLE_CHECKED_NOTHING:
		break;
	}
	if (is_sealed(bundle))
		return "skipped (encrypted, no --key)";
	return opt_no_verify ? "skipped (--no-verify)" : "skipped (no --keyring)";
}

/* The text summary line of what was not checked says so plainly: a reader
 * skimming for "Verified:" must not take the fields below it for trusted. */
static const char *describe_checked_text(const OtaBundle *bundle)
{
	if (ota_bundle_get_checked(bundle) != OTA_BUNDLE_CHECKED_NOTHING)
		return describe_checked(bundle);
	if (is_sealed(bundle))
		return "NO - encrypted, and no --key given: manifest and signers are unknown";
	return opt_no_verify ? "NO - not verified (--no-verify): nothing below is trusted"
	                     : "NO - not verified (no --keyring): nothing below is trusted";
}

static int cmd_info(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries,      tsa_keyring_entries,
	                                      info_entries,       decryption_entries,
	                                      pkcs11_module_entries, output_entries,
	                                      cli_url_option_entries("60"), NULL};
	g_autoptr(GOptionContext) context = new_context(
		"BUNDLE", "Show a bundle's manifest and signers, verified against --keyring.", groups);
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaBundle) bundle = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = NULL;
	OtaBundleUrlOptions url_options;
	const char *verification;
	gboolean json, usage;

	if (!parse_args(context, &argc, &argv, 1, 1) || !wants_json(context, &json) ||
	    !check_decryption_usage(context, "--key"))
		return EXIT_USAGE;
	/* A URL's credentials are never printed. */
	shown = ota_bundle_location_for_display(argv[1]);
	if (!url_options_from_args(context, &url_options))
		return EXIT_USAGE;
	if (opt_rauc_output_format != NULL &&
	    (opt_output_format != NULL || !rauc_cli_info_format_is_known(opt_rauc_output_format)))
		return usage_error(context, "--rauc-output-format must be json, json-pretty or shell, "
		                            "and not with --output-format");
	if (opt_dump_cert && json)
		return usage_error(context, "--dump-cert would break the JSON document");
	if (!check_tsa_keyring_usage(context, opt_keyrings != NULL && !opt_no_verify))
		return EXIT_USAGE;
	if (!opt_no_verify && opt_keyrings != NULL) {
		policy = policy_from_options(context, &usage, &error);
		if (policy == NULL)
			return usage ? EXIT_USAGE
			             : fail_bundle(json, JSON_SCHEMA_INFO, shown, NULL, NULL, error);
	}

	bundle = ota_bundle_open_location(argv[1], &url_options, &error);
	if (bundle != NULL && !decrypt_bundle(bundle, &store, &error))
		return fail_bundle(json, JSON_SCHEMA_INFO, shown, bundle, policy, error);
	/* Without its key, an encrypted bundle shows what it can: no trust to
	 * check, no manifest to show. rauc's formats and certificates need
	 * the signature: those fail below, saying which option gives it. */
	if (bundle != NULL && is_sealed(bundle) && opt_rauc_output_format == NULL && !opt_dump_cert) {
		if (json)
			print_bundle_json(JSON_SCHEMA_INFO, shown, bundle, NULL,
			                  describe_checked(bundle), NULL);
		else
			print_sealed_text(bundle, describe_checked_text(bundle));
		return EXIT_SUCCESS;
	}
	if (bundle == NULL || !ota_bundle_check_for_info(bundle, policy, &error))
		return fail_bundle(json, JSON_SCHEMA_INFO, shown, bundle, policy,
		                   hint_key_option(error, "--key"));
	verification = describe_checked(bundle);
	if (opt_rauc_output_format != NULL) {
		rauc_cli_print_info(bundle, opt_rauc_output_format);
		warn_if_over_plain_limit(shown, bundle);
	} else if (json) {
		print_bundle_json(JSON_SCHEMA_INFO, shown, bundle, policy, verification, NULL);
	} else {
		print_bundle_text(bundle, describe_checked_text(bundle));
		warn_if_over_plain_limit(shown, bundle);
	}
	if (opt_dump_cert)
		rauc_cli_print_certificates(bundle);
	return EXIT_SUCCESS;
}

/* verify --trust: the trust list sets what --keyring and its checks would;
 * NULL (after printing, *@exit_code set) on wrong usage or a bad file. The
 * "default" tier's policy in *@policy, for the report. */
static OtaTrust *trust_for_verify(GOptionContext *context, gboolean json, const char *bundle,
                                  OtaPolicy **policy, int *exit_code)
{
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(GError) error = NULL;

	if (opt_keyrings != NULL || opt_threshold != 1 || opt_check_purpose != NULL ||
	    opt_crl != NULL || opt_no_check_time || opt_use_signing_time || opt_tsa_keyring) {
		*exit_code = usage_error(context, "--trust replaces --keyring, --threshold, "
		                                  "--check-purpose, --crl, --tsa-keyring and the time "
		                                  "options: the trust list sets them");
		return NULL;
	}
	trust = ota_trust_load(opt_trust_list, &error);
	if (trust == NULL) {
		*exit_code = fail_bundle(json, JSON_SCHEMA_VERIFY, bundle, NULL, NULL, error);
		return NULL;
	}
	/* A tier it lacks is the trust file's fault, said before the bundle is read. */
	for (char **tier = opt_verify_tiers; tier != NULL && *tier != NULL; tier++) {
		g_autoptr(OtaPolicy) stricter = ota_trust_policy_new(trust, *tier, 0, &error);

		if (stricter == NULL) {
			g_prefix_error(&error, "%s: ", opt_trust_list);
			*exit_code = fail_bundle(json, JSON_SCHEMA_VERIFY, bundle, NULL, NULL, error);
			return NULL;
		}
	}
	*policy = ota_trust_policy_new(trust, "default", 0, &error);
	if (*policy == NULL) {
		g_prefix_error(&error, "%s: ", opt_trust_list);
		*exit_code = fail_bundle(json, JSON_SCHEMA_VERIFY, bundle, NULL, NULL, error);
		return NULL;
	}
	return g_steal_pointer(&trust);
}

static int cmd_verify(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries,         verify_trust_entries,
	                                      tsa_keyring_entries,   verify_entries,
	                                      decryption_entries,    pkcs11_module_entries,
	                                      output_entries,        cli_url_option_entries("60"),
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"BUNDLE", "Check BUNDLE's signature, every payload byte and its contents.", groups);
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaBundle) bundle = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = NULL;
	OtaBundleUrlOptions url_options;
	gboolean json, usage, verified;
	int exit_code;

	if (!parse_args(context, &argc, &argv, 1, 1) || !wants_json(context, &json) ||
	    !check_decryption_usage(context, "--key"))
		return EXIT_USAGE;
	/* A URL's credentials are never printed. */
	shown = ota_bundle_location_for_display(argv[1]);
	if (!url_options_from_args(context, &url_options))
		return EXIT_USAGE;
	if (opt_verify_tiers != NULL && opt_trust_list == NULL)
		return usage_error(context, "--tier is a tier of a trust list: give --trust");
	if (opt_trust_list != NULL) {
		trust = trust_for_verify(context, json, shown, &policy, &exit_code);
		if (trust == NULL)
			return exit_code;
	} else {
		policy = policy_from_options(context, &usage, &error);
		if (policy == NULL)
			return usage ? EXIT_USAGE
			             : fail_bundle(json, JSON_SCHEMA_VERIFY, shown, NULL, NULL, error);
	}

	bundle = ota_bundle_open_location(argv[1], &url_options, &error);
	if (bundle != NULL && decrypt_bundle(bundle, &store, &error))
		verified = trust != NULL
		                   ? ota_trust_verify_bundle(bundle, trust,
		                                             (const char *const *)opt_verify_tiers, 0,
		                                             OTA_BUNDLE_VERIFY_PAYLOAD, &error)
		                   : ota_bundle_verify(bundle, policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL,
		                                       &error);
	else
		verified = FALSE;
	if (!verified || !ota_bundle_check_contents(bundle, opt_check_images, &error))
		return fail_bundle(json, JSON_SCHEMA_VERIFY, shown, bundle, policy,
		                   hint_key_option(error, "--key"));

	if (json) {
		print_bundle_json(JSON_SCHEMA_VERIFY, shown, bundle, policy, describe_checked(bundle),
		                  NULL);
	} else {
		g_autofree char *path = ota_text_escape(shown);
		const OtaSignature *sig = ota_bundle_get_signature(bundle);
		guint counted = ota_signature_get_counted(sig);

		g_print("%s: OK (%s, %u trusted signer%s%s)\n", path,
		        ota_bundle_format_to_string(ota_bundle_get_format(bundle)), counted,
		        counted == 1 ? "" : "s", opt_check_images ? ", every image hashed" : "");
		if (opt_verbose)
			print_signers_text(sig);
		warn_if_over_plain_limit(shown, bundle);
	}
	return EXIT_SUCCESS;
}

static int cmd_extract(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries,         tsa_keyring_entries,
	                                      decryption_entries,    casync_entries,
	                                      pkcs11_module_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"BUNDLE OUTDIR", "Verify BUNDLE, then extract its manifest and images.", groups);
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaBundle) bundle = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	gboolean usage, ok;

	if (!parse_args(context, &argc, &argv, 2, 2) || !check_decryption_usage(context, "--key"))
		return EXIT_USAGE;
	policy = policy_from_options(context, &usage, &error);
	if (policy == NULL)
		return usage ? EXIT_USAGE : fail(error);
	bundle = ota_bundle_open(argv[1], &error);
	if (bundle != NULL && opt_casync_store != NULL)
		ota_bundle_set_casync_store(bundle, opt_casync_store);
	ok = bundle != NULL && (opt_decrypt_key == NULL || decrypt_bundle(bundle, &store, &error)) &&
	     ota_bundle_extract_to(bundle, policy, argv[2], &error);
	if (!ok)
		return fail(hint_key_option(error, "--key"));
	g_print("Extracted %s to %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

/* Options for signing an existing bundle; policies only with their keyrings. */
static gboolean sign_options_from_args(GOptionContext *context, OtaSignOptions *options,
                                       OtaPolicy **policy, OtaPolicy **result_policy,
                                       int *exit_code)
{
	if (!parse_encoding(context, &options->encoding) ||
	    !check_decryption_usage(context, "--decrypt-key") ||
	    !timestamp_from_args(context, &options->timestamp) ||
	    !check_tsa_keyring_usage(context,
	                             opt_keyrings || opt_signing_keyrings || opt_timestamp_url)) {
		*exit_code = EXIT_USAGE;
		return FALSE;
	}
	if (!signing_policies(context, policy, result_policy, exit_code))
		return FALSE;
	options->policy = *policy;
	options->result_policy = *result_policy;
	options->force = opt_force;
	options->audit_log = opt_audit_log;
	options->decrypt_key = opt_decrypt_key;
	options->decrypt_cert = opt_decrypt_cert;
	return TRUE;
}

/* The signers (and policy) for a command that signs an existing bundle. */
static gboolean setup_signing(GOptionContext *context, OtaSignOptions *options,
                              OtaPolicy **policy, OtaPolicy **result_policy, OtaKeyStore **store,
                              GPtrArray *signers, OtaX509Stack *intermediates, int *exit_code)
{
	if (!sign_options_from_args(context, options, policy, result_policy, exit_code))
		return FALSE;
	*store = new_key_store();
	options->key_store = *store;
	if (!load_signers(context, *store, signers, intermediates, exit_code))
		return FALSE;
	options->signers = (OtaSigner *const *)signers->pdata;
	options->n_signers = signers->len;
	options->intermediates = intermediates;
	return TRUE;
}

static int cmd_sign(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {signer_entries,          sign_entries,
	                                      trust_entries,           signing_keyring_entries,
	                                      timestamp_entries,       tsa_keyring_entries,
	                                      decrypt_key_entries,     output_file_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT | --detached SIG.cms BUNDLE",
		"Add signers to a signed bundle (after checking its signatures against --keyring, if "
		"given), or write a partial signature for merge.",
		groups);
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(OtaX509Stack) intermediates = sk_X509_new_null();
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaPolicy) result_policy = NULL;
	g_autoptr(GError) error = NULL;
	OtaSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 1, 2))
		return EXIT_USAGE;
	if (argc - 1 != (opt_detached ? 1 : 2))
		return usage_error(context, opt_detached ? "give one BUNDLE with --detached"
		                                         : "give IN and OUT");
	/* A partial signature is one of a set: the merged bundle has a threshold. */
	if (opt_detached != NULL && opt_threshold != 1)
		return usage_error(context, "--threshold does not apply to a partial signature (give "
		                            "it to merge)");
	if (!setup_signing(context, &options, &policy, &result_policy, &store, signers,
	                   intermediates, &exit_code))
		return exit_code;

	if (opt_detached != NULL) {
		if (!ota_bundle_sign_detached(argv[1], opt_detached, &options, &error))
			return fail(hint_key_option(error, "--decrypt-key"));
		g_print("Wrote partial signature %s for %s\n", opt_detached, argv[1]);
		return EXIT_SUCCESS;
	}
	if (!ota_bundle_add_signers(argv[1], argv[2], &options, &error))
		return fail(hint_key_option(error, "--decrypt-key"));
	g_print("Signed %s as %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_merge(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries,       signing_keyring_entries,
	                                      timestamp_entries,   tsa_keyring_entries,
	                                      decrypt_key_entries, pkcs11_module_entries,
	                                      output_file_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT SIG.cms...",
		"Add the signers of partial signatures (from sign --detached) to a bundle.", groups);
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaPolicy) result_policy = NULL;
	g_autoptr(GError) error = NULL;
	OtaSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 3, G_MAXINT))
		return EXIT_USAGE;
	if (!sign_options_from_args(context, &options, &policy, &result_policy, &exit_code))
		return exit_code;
	if (opt_decrypt_key != NULL)
		options.key_store = store = new_key_store();
	if (!ota_bundle_merge(argv[1], argv[2], (const char *const *)&argv[3], (gsize)argc - 3,
	                      &options, &error))
		return fail(hint_key_option(error, "--decrypt-key"));
	g_print("Merged %d partial signature%s into %s\n", argc - 3, argc == 4 ? "" : "s",
	        argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_resign(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {signer_entries,          trust_entries,
	                                      signing_keyring_entries, resign_entries,
	                                      timestamp_entries,       tsa_keyring_entries,
	                                      decrypt_key_entries,     output_file_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT",
		"Replace IN's signatures (checked against the old --keyring) with the given signers' "
		"(checked against --signing-keyring, if given); the payload is copied unchanged.",
		groups);
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(OtaX509Stack) intermediates = sk_X509_new_null();
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaPolicy) result_policy = NULL;
	g_autoptr(GError) error = NULL;
	OtaSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 2, 2))
		return EXIT_USAGE;
	if (opt_keyrings == NULL && !opt_no_verify)
		return usage_error(context, "--keyring (the old keyring) is required, or --no-verify");
	if (opt_no_verify) {
		/* Intact, not trusted: the old signature still says what to sign. */
		g_printerr("otabundle: warning: %s: --no-verify: the old signature is checked for "
		           "integrity only, not trust\n", argv[1]);
		g_clear_pointer(&opt_keyrings, g_strfreev);
	}
	if (!setup_signing(context, &options, &policy, &result_policy, &store, signers,
	                   intermediates, &exit_code))
		return exit_code;
	options.integrity_only = opt_no_verify;
	if (!ota_bundle_resign(argv[1], argv[2], &options, &error))
		return fail(hint_key_option(error, "--decrypt-key"));
	warn_if_rauc_cannot_verify(argv[2], options.signers, options.n_signers);
	g_print("Resigned %s as %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_extract_signature(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries, tsa_keyring_entries, force_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"BUNDLE SIG.cms",
		"Write BUNDLE's CMS signature (DER) to SIG.cms, after checking it against --keyring, if "
		"given.",
		groups);
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	gboolean usage;

	if (!parse_args(context, &argc, &argv, 2, 2) ||
	    !check_tsa_keyring_usage(context, opt_keyrings != NULL))
		return EXIT_USAGE;
	if (opt_keyrings != NULL) {
		policy = policy_from_options(context, &usage, &error);
		if (policy == NULL)
			return usage ? EXIT_USAGE : fail(error);
	}
	if (!ota_bundle_extract_signature(argv[1], argv[2], policy, opt_force, &error))
		return fail(error);
	g_print("Wrote the signature of %s to %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_replace_signature(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries, signing_keyring_entries,
	                                      tsa_keyring_entries, force_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN SIG.cms OUT",
		"Write OUT: IN (checked against --keyring, if given) with its signature replaced by "
		"SIG.cms, which must sign exactly IN's content (and be trusted by --signing-keyring, "
		"if given).",
		groups);
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaPolicy) result_policy = NULL;
	g_autoptr(GError) error = NULL;
	int exit_code;

	if (!parse_args(context, &argc, &argv, 3, 3) ||
	    !check_tsa_keyring_usage(context, opt_keyrings || opt_signing_keyrings))
		return EXIT_USAGE;
	if (!signing_policies(context, &policy, &result_policy, &exit_code))
		return exit_code;
	if (!ota_bundle_replace_signature(argv[1], argv[2], argv[3], policy, result_policy,
	                                  opt_force, &error))
		return fail(error);
	g_print("Wrote %s with the signature from %s\n", argv[3], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_encrypt(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {encrypt_entries, trust_entries, tsa_keyring_entries,
	                                      pkcs11_module_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT",
		"Write OUT: the crypt bundle IN with its signature encrypted for the --to recipients "
		"(IN checked against --keyring, if given, else only for integrity). No signing key is "
		"needed.",
		groups);
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	OtaEncryptOptions options = {0};
	gboolean usage;

	if (!parse_args(context, &argc, &argv, 2, 2))
		return EXIT_USAGE;
	if (opt_recipients == NULL)
		return usage_error(context, "give the recipients' certificates with --to");
	if (!check_tsa_keyring_usage(context, opt_keyrings != NULL))
		return EXIT_USAGE;
	if (opt_keyrings != NULL) {
		policy = policy_from_options(context, &usage, &error);
		if (policy == NULL)
			return usage ? EXIT_USAGE : fail(error);
	} else if (opt_check_purpose != NULL || opt_crl != NULL || opt_use_signing_time ||
	           opt_threshold != 1) {
		return usage_error(context, "--check-purpose, --crl, --use-signing-time and "
		                            "--threshold need --keyring");
	}
	store = new_key_store();
	options.recipients = (const char *const *)opt_recipients;
	options.n_recipients = g_strv_length(opt_recipients);
	options.store = store;
	options.policy = policy;
	options.check_time = !opt_no_check_time;
	options.allow_large_envelope = opt_allow_large_envelope;
	options.force = opt_force;
	if (!ota_bundle_encrypt(argv[1], argv[2], &options, &error))
		return fail(error);
	g_print("Encrypted %s as %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_timestamp_request(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {timestamp_request_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"BUNDLE OUT.tsq",
		"Write an RFC 3161 timestamp request (DER) for one signer of BUNDLE, for a TSA reached "
		"from elsewhere; add the answer with add-timestamp.",
		groups);
	g_autoptr(GError) error = NULL;

	if (!parse_args(context, &argc, &argv, 2, 2))
		return EXIT_USAGE;
	if (opt_signer_number < 0)
		return usage_error(context, "--signer must be at least 1");
	if (!ota_bundle_timestamp_request(argv[1], opt_signer_number - 1, argv[2], opt_force,
	                                  &error))
		return fail(error);
	g_print("Wrote timestamp request %s for %s\n", argv[2], argv[1]);
	return EXIT_SUCCESS;
}

static int cmd_add_timestamp(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_entries, tsa_keyring_entries, force_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN RESP.tsr OUT",
		"Write OUT: IN with the RFC 3161 token of RESP.tsr stored on the signer whose "
		"signature it stamps (IN checked against --keyring, if given, else for integrity).",
		groups);
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) error = NULL;
	guint signer = 0;
	gboolean usage;

	if (!parse_args(context, &argc, &argv, 3, 3))
		return EXIT_USAGE;
	if (opt_keyrings != NULL) {
		policy = policy_from_options(context, &usage, &error);
		if (policy == NULL)
			return usage ? EXIT_USAGE : fail(error);
	}
	if (!ota_bundle_add_timestamp(argv[1], argv[2], argv[3], policy, opt_tsa_keyring, opt_force,
	                              &signer, &error))
		return fail(error);
	g_print("Wrote %s with the timestamp of signer %u from %s\n", argv[3], signer + 1, argv[2]);
	return EXIT_SUCCESS;
}

/* --- trust lists ----------------------------------------------------------------- */

/* Whether @s starts an RFC 3339 time ("2025-..."): where a PEM path given
 * with times ends, since the times have colons of their own. */
static gboolean starts_time(const char *s)
{
	return g_ascii_isdigit(s[0]) && g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) &&
	       g_ascii_isdigit(s[3]) && s[4] == '-';
}

/* The first ':' in @s that ends a field: followed by a time, by another
 * ':' (an empty field) or by nothing; NULL if there is none. */
static char *field_end(char *s)
{
	for (char *p = strchr(s, ':'); p != NULL; p = strchr(p + 1, ':')) {
		if (p[1] == '\0' || p[1] == ':' || starts_time(p + 1))
			return p;
	}
	return NULL;
}

static const char *nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

/* --anchor TIER:PEM[:NOT-BEFORE[:NOT-AFTER]], split in place. */
static gboolean parse_anchor(char *arg, OtaTrustAnchor *anchor)
{
	char *pem = strchr(arg, ':');
	char *times, *after;

	if (pem == NULL || pem == arg || pem[1] == '\0')
		return FALSE;
	*pem++ = '\0';
	anchor->tier = arg;
	anchor->certificate = pem;
	times = field_end(pem);
	if (times == NULL)
		return TRUE;
	*times++ = '\0';
	after = *times == ':' ? times : field_end(times);
	if (after != NULL) {
		*after++ = '\0';
		if (field_end(after) != NULL)
			return FALSE;
		anchor->not_after = nonempty(after);
	}
	anchor->not_before = nonempty(times);
	return *pem != '\0';
}

/* --tier NAME:THRESHOLD[:PURPOSE[:CHECK-TIME]]. */
static gboolean parse_tier(const char *arg, OtaTrustTier *tier, GStrvBuilder *names)
{
	g_auto(GStrv) fields = g_strsplit(arg, ":", 5);
	guint64 threshold;
	guint n = g_strv_length(fields);

	if (n < 2 || n > 4 || *fields[0] == '\0' ||
	    !g_ascii_string_to_unsigned(fields[1], 10, 1, G_MAXUINT, &threshold, NULL))
		return FALSE;
	tier->threshold = (guint)threshold;
	tier->purpose = OTA_PURPOSE_DEFAULT;
	tier->check_time = OTA_CHECK_TIME_DEVICE;
	if (n > 2 && *fields[2] != '\0' && !ota_purpose_from_string(fields[2], &tier->purpose))
		return FALSE;
	if (n > 3 && *fields[3] != '\0' && !ota_check_time_from_string(fields[3], &tier->check_time))
		return FALSE;
	g_strv_builder_add(names, fields[0]);
	return TRUE;
}

/* --revoke [TIER:]PEM, split in place. */
static gboolean parse_revocation(char *arg, OtaTrustRevocation *revocation)
{
	char *colon = strchr(arg, ':');

	revocation->what = arg;
	if (colon == NULL)
		return *arg != '\0';
	*colon = '\0';
	revocation->tier = arg;
	revocation->what = colon + 1;
	return *arg != '\0' && colon[1] != '\0';
}

/* The document `trust create` was asked for; NULL (after printing) with
 * *@exit_code set. */
static GBytes *trust_document_from_args(GOptionContext *context, const char *out,
                                        int *exit_code)
{
	guint n_tiers = opt_trust_tiers ? g_strv_length(opt_trust_tiers) : 0;
	guint n_anchors = opt_trust_anchors ? g_strv_length(opt_trust_anchors) : 0;
	guint n_revoked = opt_trust_revocations ? g_strv_length(opt_trust_revocations) : 0;
	g_autofree OtaTrustTier *tiers = g_new0(OtaTrustTier, n_tiers + 1);
	g_autofree OtaTrustAnchor *anchors = g_new0(OtaTrustAnchor, n_anchors + 1);
	g_autofree OtaTrustRevocation *revoked = g_new0(OtaTrustRevocation, n_revoked + 1);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) names = NULL;
	g_autoptr(GError) error = NULL;
	GBytes *document;

	if (opt_trust_version < 0) {
		*exit_code = usage_error(context, "give the trust list's --version N");
		return NULL;
	}
	if (n_anchors == 0) {
		*exit_code = usage_error(context, "give at least one --anchor TIER:PEM");
		return NULL;
	}
	for (guint i = 0; i < n_tiers; i++) {
		if (!parse_tier(opt_trust_tiers[i], &tiers[i], builder)) {
			*exit_code = usage_error(context, "--tier must be NAME:THRESHOLD[:PURPOSE[:CHECK-"
			                                  "TIME]] (a threshold of at least 1; purpose any, "
			                                  "smimesign or codesign; check-time device, "
			                                  "timestamp, signing-time or none)");
			return NULL;
		}
	}
	names = g_strv_builder_end(builder);
	for (guint i = 0; i < n_tiers; i++)
		tiers[i].name = names[i];
	for (guint i = 0; i < n_anchors; i++) {
		if (!parse_anchor(opt_trust_anchors[i], &anchors[i])) {
			*exit_code = usage_error(context, "--anchor must be TIER:PEM[:NOT-BEFORE[:NOT-"
			                                  "AFTER]], times in RFC 3339 "
			                                  "(2030-01-31T00:00:00Z)");
			return NULL;
		}
	}
	for (guint i = 0; i < n_revoked; i++) {
		if (!parse_revocation(opt_trust_revocations[i], &revoked[i])) {
			*exit_code = usage_error(context, "--revoke must be [TIER:]PEM");
			return NULL;
		}
	}
	document = ota_trust_document_new((guint64)opt_trust_version, tiers, n_tiers, anchors,
	                                  n_anchors, revoked, n_revoked, &error);
	if (document == NULL) {
		g_prefix_error(&error, "%s: ", out);
		*exit_code = fail(error);
	}
	return document;
}

/* The signing options of trust create, sign and merge; FALSE (after
 * printing) with *@exit_code set. */
static gboolean trust_sign_options(GOptionContext *context, OtaTrustSignOptions *options,
                                   int *exit_code)
{
	if (!parse_encoding(context, &options->encoding) ||
	    !timestamp_from_args(context, &options->timestamp) ||
	    !check_tsa_keyring_usage(context, opt_timestamp_url != NULL)) {
		*exit_code = EXIT_USAGE;
		return FALSE;
	}
	options->force = opt_force;
	options->audit_log = opt_audit_log;
	return TRUE;
}

/* The signers of --cert/--key into @options. */
static gboolean trust_signers(GOptionContext *context, OtaTrustSignOptions *options,
                              OtaKeyStore **store, GPtrArray *signers,
                              OtaX509Stack *intermediates, int *exit_code)
{
	*store = new_key_store();
	if (!load_signers(context, *store, signers, intermediates, exit_code))
		return FALSE;
	options->signers = (OtaSigner *const *)signers->pdata;
	options->n_signers = signers->len;
	options->intermediates = intermediates;
	return TRUE;
}

static int cmd_trust_create(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_create_entries, signer_entries,
	                                      signer_time_entries,  timestamp_entries,
	                                      tsa_keyring_entries,  output_file_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"OUT",
		"Write the trust list of --version N to OUT: signed by the --cert/--key signers, or "
		"without them a bare document (the initial list an image ships).",
		groups);
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(OtaX509Stack) intermediates = sk_X509_new_null();
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(GBytes) document = NULL;
	g_autoptr(GError) error = NULL;
	OtaTrustSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 1, 1) ||
	    !trust_sign_options(context, &options, &exit_code))
		return EXIT_USAGE;
	if (opt_certs == NULL && opt_keys == NULL &&
	    (opt_intermediates || opt_audit_log || opt_timestamp_url || opt_signer_encoding))
		return usage_error(context, "--intermediate, --audit-log, --timestamp-url and "
		                            "--signer-encoding are for signers: give --cert and --key");
	document = trust_document_from_args(context, argv[1], &exit_code);
	if (document == NULL)
		return exit_code;
	if ((opt_certs != NULL || opt_keys != NULL) &&
	    !trust_signers(context, &options, &store, signers, intermediates, &exit_code))
		return exit_code;
	if (!ota_trust_write(document, argv[1], &options, &error))
		return fail(error);
	g_print("Wrote trust list version %" G_GINT64_FORMAT " to %s (%s)\n", opt_trust_version,
	        argv[1], signers->len > 0 ? "signed" : "unsigned document");
	return EXIT_SUCCESS;
}

static int cmd_trust_sign(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {signer_entries,      signer_time_entries,
	                                      trust_sign_entries,  timestamp_entries,
	                                      tsa_keyring_entries, output_file_entries,
	                                      NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT | --detached SIG.cms IN",
		"Sign the trust list IN (a document, or signed already: the signers are added), or "
		"write a partial signature of it for trust merge.",
		groups);
	g_autoptr(GPtrArray) signers = g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(OtaX509Stack) intermediates = sk_X509_new_null();
	g_autoptr(OtaKeyStore) store = NULL;
	g_autoptr(GError) error = NULL;
	OtaTrustSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 1, 2))
		return EXIT_USAGE;
	if (argc - 1 != (opt_detached ? 1 : 2))
		return usage_error(context, opt_detached ? "give one IN with --detached"
		                                         : "give IN and OUT");
	if (!trust_sign_options(context, &options, &exit_code) ||
	    !trust_signers(context, &options, &store, signers, intermediates, &exit_code))
		return exit_code;
	if (opt_detached != NULL) {
		if (!ota_trust_sign_detached(argv[1], opt_detached, &options, &error))
			return fail(error);
		g_print("Wrote partial signature %s for %s\n", opt_detached, argv[1]);
		return EXIT_SUCCESS;
	}
	if (!ota_trust_add_signers(argv[1], argv[2], &options, &error))
		return fail(error);
	g_print("Signed %s as %s\n", argv[1], argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_trust_merge(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {timestamp_entries, tsa_keyring_entries,
	                                      output_file_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"IN OUT SIG.cms...",
		"Write OUT: the trust list IN with the signers of the partial signatures (from trust "
		"sign --detached) added.",
		groups);
	g_autoptr(GError) error = NULL;
	OtaTrustSignOptions options = {0};
	int exit_code;

	if (!parse_args(context, &argc, &argv, 3, G_MAXINT) ||
	    !trust_sign_options(context, &options, &exit_code))
		return EXIT_USAGE;
	if (!ota_trust_merge(argv[1], argv[2], (const char *const *)&argv[3], (gsize)argc - 3,
	                     &options, &error))
		return fail(error);
	g_print("Merged %d partial signature%s into %s\n", argc - 3, argc == 4 ? "" : "s",
	        argv[2]);
	return EXIT_SUCCESS;
}

static int cmd_trust_verify(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {trust_verify_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"UPDATE...",
		"Check each trust update as a device holding --trust applies it: signed by the "
		"threshold of the list before it and of its own for every tier it changes, and its "
		"version exactly that list's + 1.",
		groups);
	g_autoptr(OtaTrust) current = NULL;
	g_autoptr(GError) error = NULL;

	if (!parse_args(context, &argc, &argv, 1, G_MAXINT))
		return EXIT_USAGE;
	if (opt_trust_list == NULL)
		return usage_error(context, "give the trust list a device holds with --trust");
	current = ota_trust_load(opt_trust_list, &error);
	if (current == NULL)
		return fail(error);
	for (int i = 1; i < argc; i++) {
		g_autoptr(OtaTrust) update = ota_trust_load(argv[i], &error);
		g_autofree char *path = NULL;

		if (update == NULL)
			return fail(error);
		if (!ota_trust_check_update(current, update, 0, &error)) {
			g_prefix_error(&error, "%s: ", argv[i]);
			return fail(error);
		}
		path = ota_text_escape(argv[i]);
		g_print("%s: OK, version %" G_GUINT64_FORMAT " accepted over version %" G_GUINT64_FORMAT
		        "\n", path, ota_trust_get_version(update), ota_trust_get_version(current));
		g_clear_pointer(&current, ota_trust_free);
		current = g_steal_pointer(&update);
	}
	return EXIT_SUCCESS;
}

static char *format_unix_time(gint64 unix_time)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(unix_time);

	return when != NULL ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
}

static void json_add_time(JsonBuilder *b, const char *key, gboolean has, gint64 unix_time)
{
	g_autofree char *when = has ? format_unix_time(unix_time) : NULL;

	json_output_add_string(b, key, when);
}

static void json_add_trust_tier(JsonBuilder *b, const OtaTrust *trust, const char *tier)
{
	OtaTrustTier settings = {0};
	g_auto(GStrv) keys = ota_trust_get_revoked_keys(trust, tier);
	g_auto(GStrv) certs = ota_trust_get_revoked_certificates(trust, tier);

	(void)ota_trust_get_tier_settings(trust, tier, &settings);
	json_builder_begin_object(b);
	json_output_add_string(b, "name", tier);
	json_output_add_int(b, "threshold", settings.threshold);
	json_output_add_string(b, "check_purpose", ota_purpose_to_string(settings.purpose));
	json_output_add_string(b, "check_time", ota_check_time_to_string(settings.check_time));
	json_builder_set_member_name(b, "anchors");
	json_builder_begin_array(b);
	for (guint i = 0; i < ota_trust_get_n_anchors(trust, tier); i++) {
		OtaTrustAnchorInfo a;

		if (!ota_trust_get_anchor(trust, tier, i, &a))
			continue;
		json_builder_begin_object(b);
		json_output_add_string(b, "subject", a.subject);
		json_output_add_string(b, "certificate_sha256", a.certificate_sha256);
		json_add_time(b, "not_before", a.has_not_before, a.not_before);
		json_add_time(b, "not_after", a.has_not_after, a.not_after);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_output_add_strv(b, "revoked_keys", keys);
	json_output_add_strv(b, "revoked_certificates", certs);
	json_builder_end_object(b);
}

static void print_trust_json(const char *path, const OtaTrust *trust)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_output_begin_document(b, JSON_SCHEMA_TRUST);
	json_output_add_string(b, "file", path);
	json_output_add_int(b, "version", ota_trust_get_version(trust));
	json_output_add_string(b, "document_sha256", ota_trust_get_document_sha256(trust));
	json_output_add_bool(b, "signed", ota_trust_get_signature(trust) != NULL);
	json_builder_set_member_name(b, "tiers");
	json_builder_begin_array(b);
	for (const char *const *t = ota_trust_get_tiers(trust); *t != NULL; t++)
		json_add_trust_tier(b, trust, *t);
	json_builder_end_array(b);
	json_output_add_signers(b, ota_trust_get_signature(trust));
	json_builder_end_object(b);
	json_output_print(b);
}

/* Every string may come from the file (subjects, tier names): escaped. */
static void print_trust_tier_text(const OtaTrust *trust, const char *tier)
{
	OtaTrustTier settings = {0};
	g_auto(GStrv) keys = ota_trust_get_revoked_keys(trust, tier);
	g_auto(GStrv) certs = ota_trust_get_revoked_certificates(trust, tier);
	g_autofree char *name = ota_text_escape(tier);

	(void)ota_trust_get_tier_settings(trust, tier, &settings);
	g_print("Tier %s: threshold %u, check-purpose %s, check-time %s\n", name, settings.threshold,
	        ota_purpose_to_string(settings.purpose),
	        ota_check_time_to_string(settings.check_time));
	for (guint i = 0; i < ota_trust_get_n_anchors(trust, tier); i++) {
		OtaTrustAnchorInfo a;
		g_autofree char *subject = NULL;
		g_autofree char *from = NULL;
		g_autofree char *until = NULL;

		if (!ota_trust_get_anchor(trust, tier, i, &a))
			continue;
		subject = ota_text_escape_controls(a.subject);
		from = a.has_not_before ? format_unix_time(a.not_before) : NULL;
		until = a.has_not_after ? format_unix_time(a.not_after) : NULL;
		g_print("  anchor %u. %s\n", i + 1, subject);
		g_print("     cert sha256: %s\n", a.certificate_sha256);
		if (from != NULL || until != NULL)
			g_print("     trusted:    %s%s%s%s\n", from ? " from " : "", from ? from : "",
			        until ? " until " : "", until ? until : "");
	}
	for (char **k = keys; *k != NULL; k++)
		g_print("  revoked key (spki sha256):  %s\n", *k);
	for (char **c = certs; *c != NULL; c++)
		g_print("  revoked certificate sha256: %s\n", *c);
}

static void print_trust_text(const char *path, const OtaTrust *trust)
{
	const OtaSignature *sig = ota_trust_get_signature(trust);
	g_autofree char *signed_text = NULL;

	if (sig != NULL)
		signed_text = g_strdup_printf("yes, %u signer%s (checked by 'trust verify', not here)",
		                              ota_signature_get_n_signers(sig),
		                              ota_signature_get_n_signers(sig) == 1 ? "" : "s");
	print_field("Trust list:", path);
	g_print("%-13s%" G_GUINT64_FORMAT "\n", "Version:", ota_trust_get_version(trust));
	print_field("Document:", ota_trust_get_document_sha256(trust));
	print_field("Signed:", sig != NULL ? signed_text : "no (a bare document, as an image ships it)");
	for (const char *const *t = ota_trust_get_tiers(trust); *t != NULL; t++)
		print_trust_tier_text(trust, *t);
	if (sig != NULL)
		print_signers_text(sig);
}

static int cmd_trust_show(int argc, char **argv)
{
	const GOptionEntry *const groups[] = {output_entries, NULL};
	g_autoptr(GOptionContext) context = new_context(
		"FILE",
		"Show a trust list: version, tiers with their anchors, windows and revocations, and "
		"who signed it.",
		groups);
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(GError) error = NULL;
	gboolean json;

	if (!parse_args(context, &argc, &argv, 1, 1) || !wants_json(context, &json))
		return EXIT_USAGE;
	trust = ota_trust_load(argv[1], &error);
	if (trust == NULL)
		return fail(error);
	if (json)
		print_trust_json(argv[1], trust);
	else
		print_trust_text(argv[1], trust);
	return EXIT_SUCCESS;
}

typedef struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} CliCommand;

static const CliCommand trust_commands[] = {
	{"create", cmd_trust_create, "write a trust list (signed, or a bare document)"},
	{"sign", cmd_trust_sign, "add signers to a trust list, or write a partial signature"},
	{"merge", cmd_trust_merge, "add partial signatures to a trust list"},
	{"show", cmd_trust_show, "show a trust list's tiers, anchors and signers"},
	{"verify", cmd_trust_verify, "check trust updates as a device applies them"},
};

static void print_commands(FILE *out, const char *usage, const CliCommand *table, gsize n)
{
	fprintf(out, "Usage: %s COMMAND [OPTION...] ARGS\n\nCommands:\n", usage);
	for (gsize i = 0; i < n; i++)
		fprintf(out, "  %-9s %s\n", table[i].name, table[i].summary);
}

/* otabundle trust COMMAND: its own table of commands. */
static int cmd_trust(int argc, char **argv)
{
	if (argc < 2 || g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
	    g_str_equal(argv[1], "help")) {
		FILE *out = argc < 2 ? stderr : stdout;

		if (argc < 2)
			g_printerr("otabundle: trust: give a command\n");
		print_commands(out, "otabundle trust", trust_commands, G_N_ELEMENTS(trust_commands));
		fprintf(out, "\nSigned trust lists and their updates (otabundle(1), KEY ROTATION; "
		             "otabundle-trust(5)).\n");
		return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(trust_commands); i++) {
		if (g_str_equal(argv[1], trust_commands[i].name)) {
			g_autofree char *prgname = g_strdup_printf("otabundle trust %s", argv[1]);

			g_set_prgname(prgname);
			return trust_commands[i].run(argc - 1, argv + 1);
		}
	}
	g_printerr("otabundle: unknown trust command '%s'\n", argv[1]);
	print_commands(stderr, "otabundle trust", trust_commands, G_N_ELEMENTS(trust_commands));
	return EXIT_USAGE;
}

static const CliCommand commands[] = {
	{"create", cmd_create, "pack and sign a directory into a bundle"},
	{"info", cmd_info, "show a bundle's manifest and signers"},
	{"verify", cmd_verify, "check a bundle's signature and contents"},
	{"extract", cmd_extract, "verify, then extract manifest and images"},
	{"sign", cmd_sign, "add signers to a bundle, or write a partial signature"},
	{"merge", cmd_merge, "add partial signatures to a bundle"},
	{"resign", cmd_resign, "replace a bundle's signatures (devel to release)"},
	{"extract-signature", cmd_extract_signature, "write a bundle's CMS signature to a file"},
	{"replace-signature", cmd_replace_signature, "replace a bundle's signature with a given CMS"},
	{"encrypt", cmd_encrypt, "encrypt a crypt bundle for recipients (no signing key needed)"},
	{"timestamp-request", cmd_timestamp_request, "write an RFC 3161 request for one signer"},
	{"add-timestamp", cmd_add_timestamp, "store a TSA's RFC 3161 answer on its signer"},
	{"trust", cmd_trust, "make, sign, show and check trust lists (key rotation)"},
};

static void print_usage(FILE *out)
{
	print_commands(out, "otabundle", commands, G_N_ELEMENTS(commands));
	fprintf(out, "\n'otabundle COMMAND --help' shows a command's options; see otabundle(1).\n"
	             "Run as 'rauc', otabundle takes rauc's host command lines (otabundle(1), "
	             "RAUC COMPATIBILITY).\n");
}

/* SIGINT, SIGTERM or SIGHUP leave nothing behind: the library cancels
 * what it is doing and removes its temporaries, the command returns
 * without printing an error, and the process ends by that signal
 * (otabundle(1), SIGNALS). */
static int run_interruptibly(int (*run)(int argc, char **argv), int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int status;

	if (!ota_cancel_on_signals(&error))
		return fail(error);
	status = run(argc, argv);
	progress_line_erase();
	ota_cancel_exit();
	return status;
}

int main(int argc, char **argv)
{
	g_auto(GStrv) rauc_argv = NULL;
	/* What the command parses: GOption drops the options it takes from
	 * this array without freeing them, so rauc_argv keeps owning them. */
	g_autofree char **rauc_args = NULL;

	setlocale(LC_ALL, "");

	/* As `rauc` (otabundle(1), RAUC COMPATIBILITY): rauc's command line
	 * becomes the otabundle command line that does the same. */
	if (rauc_cli_applies(argc, argv)) {
		g_autoptr(GError) error = NULL;
		int exit_code;

		if (!rauc_cli_translate(argv, &rauc_argv, &exit_code, &error))
			return error != NULL ? fail(error) : exit_code;
		argc = (int)g_strv_length(rauc_argv);
		rauc_args = g_memdup2(rauc_argv, sizeof(char *) * ((gsize)argc + 1));
		argv = rauc_args;
	}
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
	    g_str_equal(argv[1], "help")) {
		print_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (g_str_equal(argv[1], "--version")) {
		g_print("otabundle %s\n", OTABUNDLE_VERSION);
		return EXIT_SUCCESS;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (g_str_equal(argv[1], commands[i].name)) {
			g_autofree char *prgname = g_strdup_printf("otabundle %s", argv[1]);

			g_set_prgname(prgname);
			return run_interruptibly(commands[i].run, argc - 1, argv + 1);
		}
	}
	g_printerr("otabundle: unknown command '%s'\n", argv[1]);
	print_usage(stderr);
	return EXIT_USAGE;
}
