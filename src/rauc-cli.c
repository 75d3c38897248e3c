/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rauc's host command lines, mapped onto otabundle's commands. Parsed as
 * rauc parses them (src/main.c of RAUC 1.8 to 1.15): global options before
 * or after the command, both --opt=VAL and --opt VAL, then the command's
 * own options. Every option keeps rauc's meaning: `rauc bundle --keyring K`
 * checks the new bundle against K (otabundle's --signing-keyring), and in
 * resign and replace-signature --keyring checks the input and, unless
 * --signing-keyring is given, the result too, as rauc does. */
#include "rauc-cli.h"

#include <otabundle/config.h>

#include <string.h>

#include "rauc-cli-common.h"

#define PROGRAM "otabundle"
#define EXIT_USAGE 2
#define usage_error(...) rauc_cli_usage_error(PROGRAM, __VA_ARGS__)

/* rauc's options. Like rauc, a value given twice is refused where rauc has
 * one (it would silently take the last): --cert, --key, --keyring. */
static char *opt_conf;
static char **opt_certs;
static char **opt_keys;
static char **opt_keyrings;
static char **opt_intermediates;
static gboolean opt_debug;
static char **opt_signing_keyrings;
static char *opt_mksquashfs_args;
static gboolean opt_no_verify;
static gboolean opt_no_check_time;
static gboolean opt_trust_environment;
static char *opt_output_format;
static gboolean opt_dump_cert;
static char **opt_recipients;

/* rauc's main entries: accepted anywhere on the line (with --version and
 * --help, rauc-cli-common.c's). */
static const GOptionEntry global_entries[] = {
	{"conf", 'c', 0, G_OPTION_ARG_FILENAME, &opt_conf,
	 "RAUC system.conf: its [keyring] group gives the keyring", "FILENAME"},
	{"cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_certs,
	 "Signing certificate (PEM or pkcs11: URI)", "PEMFILE|PKCS11-URL"},
	{"key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_keys, "Signing key (PEM or pkcs11: URI)",
	 "PEMFILE|PKCS11-URL"},
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_keyrings, "Keyring file", "PEMFILE"},
	{"intermediate", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_intermediates,
	 "Intermediate CA certificate to embed (PEM); may be repeated", "PEMFILE"},
	{"debug", 'd', 0, G_OPTION_ARG_NONE, &opt_debug, "Details on failure (otabundle --verbose)",
	 NULL},
	{NULL}};

#define SIGNING_KEYRING_ENTRY                                                                \
	{"signing-keyring", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_signing_keyrings,             \
	 "Keyring the new signature must verify against", "PEMFILE"}
#define NO_VERIFY_ENTRY                                                                      \
	{"no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify, "Disable bundle verification", NULL}
#define NO_CHECK_TIME_ENTRY                                                                  \
	{"no-check-time", 0, 0, G_OPTION_ARG_NONE, &opt_no_check_time,                         \
	 "Don't check certificate validity periods against the current time", NULL}
/* Host-side otabundle never checks who owns a bundle file: nothing to skip. */
#define TRUST_ENVIRONMENT_ENTRY                                                              \
	{"trust-environment", 0, 0, G_OPTION_ARG_NONE, &opt_trust_environment,                 \
	 "Accepted for compatibility (otabundle makes no bundle access checks)", NULL}

static const GOptionEntry bundle_entries[] = {
	SIGNING_KEYRING_ENTRY,
	{"mksquashfs-args", 0, 0, G_OPTION_ARG_STRING, &opt_mksquashfs_args,
	 "mksquashfs extra args", "ARGS"},
	{NULL}};

static const GOptionEntry resign_entries[] = {
	NO_VERIFY_ENTRY, NO_CHECK_TIME_ENTRY, SIGNING_KEYRING_ENTRY, {NULL}};

static const GOptionEntry replace_entries[] = {
	TRUST_ENVIRONMENT_ENTRY, NO_VERIFY_ENTRY, SIGNING_KEYRING_ENTRY, {NULL}};

static const GOptionEntry extract_entries[] = {TRUST_ENVIRONMENT_ENTRY, {NULL}};

static const GOptionEntry info_entries[] = {
	NO_VERIFY_ENTRY,
	NO_CHECK_TIME_ENTRY,
	{"output-format", 0, 0, G_OPTION_ARG_STRING, &opt_output_format,
	 "Output format: readable, json, json-pretty or shell", "FORMAT"},
	{"dump-cert", 0, 0, G_OPTION_ARG_NONE, &opt_dump_cert, "Dump the signer certificate", NULL},
	{NULL}};

static const GOptionEntry encrypt_entries[] = {
	{"to", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_recipients, "recipient cert(s)",
	 "PEMFILE"},
	{NULL}};

typedef struct Command Command;
/* Adds the command and its options to @out (the arguments follow); FALSE
 * when the command line can't be run (said on stderr). */
typedef gboolean (*TranslateFunc)(const Command *command, GPtrArray *keyrings, GPtrArray *out);

struct Command {
	RaucCliCommand cli; /* first: rauc_cli_parse() returns a pointer to it */
	TranslateFunc translate;
};

/* --- trust --------------------------------------------------------------- */

/* The keyrings of rauc's command line: --keyring replaces the
 * system.conf's path= and keeps its directory=, as rauc's context does. */
static GPtrArray *effective_keyrings(const OtaKeyringConfig *conf)
{
	GPtrArray *keyrings = g_ptr_array_new();

	if (opt_keyrings != NULL)
		g_ptr_array_add(keyrings, opt_keyrings[0]);
	else if (conf != NULL && ota_keyring_config_get_path(conf) != NULL)
		g_ptr_array_add(keyrings, (char *)ota_keyring_config_get_path(conf));
	if (conf != NULL && ota_keyring_config_get_directory(conf) != NULL)
		g_ptr_array_add(keyrings, (char *)ota_keyring_config_get_directory(conf));
	return keyrings;
}

static void add(GPtrArray *out, const char *arg)
{
	g_ptr_array_add(out, g_strdup(arg));
}

static void add_option(GPtrArray *out, const char *name, const char *value)
{
	g_ptr_array_add(out, g_strdup_printf("--%s=%s", name, value));
}

static void add_keyrings(GPtrArray *out, const char *name, GPtrArray *keyrings)
{
	for (guint i = 0; i < keyrings->len; i++)
		add_option(out, name, g_ptr_array_index(keyrings, i));
}

/* What the system.conf says about checking: the purpose, CRLs, signing
 * time and threshold, for every keyring otabundle is given. */
static void add_checks(GPtrArray *out, const OtaKeyringConfig *conf)
{
	OtaPurpose purpose;

	if (conf == NULL)
		return;
	if (ota_keyring_config_get_purpose(conf, &purpose))
		add_option(out, "check-purpose", ota_purpose_to_string(purpose));
	if (ota_keyring_config_get_crl(conf) != NULL)
		add_option(out, "crl", ota_keyring_config_get_crl(conf));
	if (ota_keyring_config_get_use_signing_time(conf))
		add(out, "--use-signing-time");
	if (ota_keyring_config_get_threshold(conf) != 1) {
		g_autofree char *n = g_strdup_printf("%u", ota_keyring_config_get_threshold(conf));

		add_option(out, "threshold", n);
	}
}

/* The positional arguments, after "--" so that none is taken for an
 * option. */
static void add_args(GPtrArray *out, const Command *command, char **args)
{
	add(out, "--");
	for (int i = 0; i < command->cli.max_args; i++)
		add(out, args[i]);
}

/* --- commands ------------------------------------------------------------ */

static OtaKeyringConfig *conf_keyring;

/* The input bundle is verified unless --no-verify: rauc wants a keyring. */
static gboolean require_keyring(const Command *command, GPtrArray *keyrings)
{
	gboolean has_no_verify = FALSE;

	if (opt_no_verify || keyrings->len > 0)
		return TRUE;
	for (const GOptionEntry *e = command->cli.entries; e->long_name != NULL; e++)
		has_no_verify |= g_str_equal(e->long_name, "no-verify");
	usage_error("rauc %s verifies the bundle: give --keyring or -c system.conf%s",
	            command->cli.name, has_no_verify ? ", or --no-verify" : "");
	return FALSE;
}

static gboolean require_signer(void)
{
	if (opt_certs != NULL && opt_keys != NULL)
		return TRUE;
	usage_error("Cert and key files must be provided (--cert and --key)");
	return FALSE;
}

static void add_signer(GPtrArray *out)
{
	add_option(out, "cert", opt_certs[0]);
	add_option(out, "key", opt_keys[0]);
	for (char **i = opt_intermediates; i && *i; i++)
		add_option(out, "intermediate", *i);
}

/* What is checked: the input against @keyrings (@verify_input), what is
 * written against --signing-keyring, else @keyrings (@check_result); the
 * system.conf's checking rules wherever any keyring checks; and
 * --no-check-time (resign and info have it). */
static void add_trust(GPtrArray *out, GPtrArray *keyrings, gboolean verify_input,
                      gboolean check_result)
{
	g_autoptr(GPtrArray) signing = g_ptr_array_new();

	if (verify_input)
		add_keyrings(out, "keyring", keyrings);
	if (check_result) {
		for (char **k = opt_signing_keyrings; k && *k; k++)
			g_ptr_array_add(signing, *k);
		add_keyrings(out, "signing-keyring", signing->len > 0 ? signing : keyrings);
	}
	if (verify_input || (check_result && (keyrings->len > 0 || signing->len > 0)))
		add_checks(out, conf_keyring);
	if (opt_no_check_time)
		add(out, "--no-check-time");
}

static gboolean translate_bundle(const Command *command, GPtrArray *keyrings, GPtrArray *out)
{
	if (!require_signer())
		return FALSE;
	add(out, "create");
	add(out, "--rauc-defaults");
	add_signer(out);
	if (opt_mksquashfs_args != NULL)
		add_option(out, "mksquashfs-args", opt_mksquashfs_args);
	add_trust(out, keyrings, FALSE, TRUE);
	return TRUE;
}

static gboolean translate_resign(const Command *command, GPtrArray *keyrings, GPtrArray *out)
{
	if (!require_signer() || !require_keyring(command, keyrings))
		return FALSE;
	add(out, "resign");
	add_signer(out);
	if (opt_no_verify)
		add(out, "--no-verify");
	add_trust(out, keyrings, !opt_no_verify, TRUE);
	return TRUE;
}

static gboolean translate_replace_signature(const Command *command, GPtrArray *keyrings,
                                            GPtrArray *out)
{
	if (!require_keyring(command, keyrings))
		return FALSE;
	add(out, "replace-signature");
	add_trust(out, keyrings, !opt_no_verify, TRUE);
	return TRUE;
}

/* In info and extract, rauc's --key is the decryption key of an encrypted
 * bundle. */
static void add_decryption_key(GPtrArray *out)
{
	if (opt_keys != NULL)
		add_option(out, "key", opt_keys[0]);
}

/* extract, extract-signature: the bundle is verified first, as rauc does. */
static gboolean translate_reading(const Command *command, GPtrArray *keyrings, GPtrArray *out)
{
	if (!require_keyring(command, keyrings))
		return FALSE;
	add(out, command->cli.name);
	add_decryption_key(out);
	add_trust(out, keyrings, TRUE, FALSE);
	return TRUE;
}

/* rauc encrypt verifies its input against the keyring first. */
static gboolean translate_encrypt(const Command *command, GPtrArray *keyrings, GPtrArray *out)
{
	if (opt_recipients == NULL) {
		usage_error("One or multiple recipient certificates must be provided (via --to)");
		return FALSE;
	}
	if (!require_keyring(command, keyrings))
		return FALSE;
	add(out, "encrypt");
	for (char **r = opt_recipients; *r; r++)
		add_option(out, "to", *r);
	add_trust(out, keyrings, TRUE, FALSE);
	return TRUE;
}

static gboolean translate_info(const Command *command, GPtrArray *keyrings, GPtrArray *out)
{
	const char *format = opt_output_format;

	if (format != NULL && !g_str_equal(format, "readable") &&
	    !rauc_cli_info_format_is_known(format)) {
		usage_error("unknown output format '%s': expected readable, json, json-pretty or "
		            "shell", format);
		return FALSE;
	}
	if (!require_keyring(command, keyrings))
		return FALSE;
	add(out, "info");
	if (format != NULL && !g_str_equal(format, "readable"))
		add_option(out, "rauc-output-format", format);
	if (opt_dump_cert)
		add(out, "--dump-cert");
	if (opt_no_verify)
		add(out, "--no-verify");
	add_decryption_key(out);
	add_trust(out, keyrings, !opt_no_verify, FALSE);
	return TRUE;
}

static const Command commands[] = {
	{{"bundle", "<INPUTDIR> <BUNDLENAME>",
	  "Create a bundle from a content directory (otabundle create)", 2, 2, bundle_entries},
	 translate_bundle},
	{{"resign", "<INBUNDLE> <OUTBUNDLE>", "Resign an already signed bundle (otabundle resign)",
	  2, 2, resign_entries},
	 translate_resign},
	{{"replace-signature", "<INBUNDLE> <INPUTSIG> <OUTBUNDLE>",
	  "Replace the signature of a bundle (otabundle replace-signature)", 3, 3, replace_entries},
	 translate_replace_signature},
	{{"extract-signature", "<BUNDLENAME> <OUTPUTSIG>",
	  "Extract the bundle signature (otabundle extract-signature)", 2, 2, extract_entries},
	 translate_reading},
	{{"extract", "<BUNDLENAME> <OUTPUTDIR>", "Extract the bundle content (otabundle extract)", 2,
	  2, extract_entries},
	 translate_reading},
	{{"info", "<BUNDLE>", "Print bundle info (otabundle info)", 1, 1, info_entries},
	 translate_info},
	{{"encrypt", "<INBUNDLE> <OUTBUNDLE>", "Encrypt a crypt bundle (otabundle encrypt)", 2, 2,
	  encrypt_entries},
	 translate_encrypt},
};

/* rauc commands that otabundle does not run, with where to go instead. */
static const RaucCliElsewhere elsewhere[] = {
	{"install", "runs on the device: use otabundle-install install, or otabundle-install as "
	            "rauc there (otabundle-install(8))"},
	{"status", "runs on the device: use otabundle-install status, or otabundle-install as "
	           "rauc there (otabundle-install(8))"},
	{"mark-good", "runs on the device: use otabundle-install mark-good (otabundle-install(8))"},
	{"mark-bad", "runs on the device: use otabundle-install mark-bad (otabundle-install(8))"},
	{"mark-active", "runs on the device: use otabundle-install mark-active "
	                "(otabundle-install(8))"},
	{"service", "runs on the device: otabundle-install needs no service; see "
	            "otabundle-install(8)"},
	{"write-slot", "runs on the device: otabundle-install writes slots only from a verified "
	               "bundle (otabundle-install install)"},
	{"mount", "runs on the device: otabundle-install has no mount; use rauc extract to look "
	          "inside a bundle"},
	{"convert", "is not supported: otabundle does not make casync bundles"},
};

/* --- parsing ------------------------------------------------------------- */

static gboolean is_rauc_only(const char *arg)
{
	if (g_str_equal(arg, "bundle"))
		return TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(elsewhere); i++) {
		if (g_str_equal(arg, elsewhere[i].name))
			return TRUE;
	}
	return FALSE;
}

gboolean rauc_cli_applies(int argc, char **argv)
{
	g_autofree char *name = g_path_get_basename(argv[0]);

	if (g_str_equal(name, "rauc"))
		return TRUE;
	if (argc < 2)
		return FALSE;
	if (argv[1][0] == '-')
		return !g_str_equal(argv[1], "--help") && !g_str_equal(argv[1], "-h") &&
		       !g_str_equal(argv[1], "--version");
	return is_rauc_only(argv[1]);
}

/* rauc keeps the last of a repeated --cert, --key or --keyring; a line
 * that gives two means something else than rauc would do with it. */
static gboolean check_single(char **values, const char *name)
{
	if (values == NULL || values[1] == NULL)
		return TRUE;
	usage_error("--%s is given more than once (rauc uses one; for several signers use "
	            "otabundle create or sign)", name);
	return FALSE;
}

static const RaucCli rauc = {
	.program = PROGRAM,
	.side = "host",
	.about = "RAUC's host command lines, checked and signed\nby otabundle (otabundle(1), RAUC "
	         "COMPATIBILITY).",
	.options = "-c/--conf FILE, --cert, --key, --keyring,\n--intermediate, -d/--debug, "
	           "--version, --help. Environment: RAUC_PKCS11_MODULE\nand RAUC_PKCS11_PIN (when "
	           "the OTABUNDLE_PKCS11_* variables are unset).\nDevice commands (install, status, "
	           "...) are otabundle-install's.",
	.global_entries = global_entries,
	RAUC_CLI_TABLES(commands, elsewhere),
};

/* rauc's two passes over the strv *@argv (rauc_cli_parse()), then what
 * otabundle adds: a signer or keyring is given once. */
static gboolean parse(char ***argv, const Command **command, char ***args, int *exit_code)
{
	const RaucCliCommand *found = rauc_cli_parse(&rauc, argv, args, exit_code);

	if (found == NULL)
		return FALSE;
	*command = (const Command *)found;
	return check_single(opt_certs, "cert") && check_single(opt_keys, "key") &&
	       check_single(opt_keyrings, "keyring");
}

/* rauc's --key signs in bundle and resign and decrypts in info and
 * extract; extract-signature would write the decrypted signature, which
 * otabundle's does not. */
static gboolean check_decryption_key(const Command *command)
{
	if (opt_keys == NULL || !g_str_equal(command->cli.name, "extract-signature"))
		return TRUE;
	usage_error("rauc extract-signature --key (the signature of an encrypted bundle) is not "
	            "supported");
	return FALSE;
}

gboolean rauc_cli_translate(char **argv, GStrv *otabundle_argv, int *exit_code, GError **error)
{
	g_auto(GStrv) rest = g_strdupv(argv);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) keyrings = NULL;
	const Command *command = NULL;
	char **args = NULL;

	*otabundle_argv = NULL;
	if (!parse(&rest, &command, &args, exit_code) ||
	    !check_decryption_key(command))
		return FALSE;
	*exit_code = EXIT_USAGE;
	if (opt_conf != NULL) {
		conf_keyring = ota_keyring_config_load(opt_conf, error);
		if (conf_keyring == NULL) {
			*exit_code = EXIT_FAILURE;
			return FALSE;
		}
	}
	rauc_cli_map_pkcs11_environment();

	keyrings = effective_keyrings(conf_keyring);
	add(out, "otabundle");
	if (!command->translate(command, keyrings, out))
		return FALSE;
	add_args(out, command, args);
	if (opt_debug)
		g_ptr_array_insert(out, 2, g_strdup("--verbose"));
	g_ptr_array_add(out, NULL);
	*otabundle_argv = (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
	return TRUE;
}
