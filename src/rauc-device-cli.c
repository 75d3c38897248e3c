/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rauc's device command lines on otabundle-install. Parsed as rauc parses
 * them (src/main.c of RAUC 1.8 to 1.15): global options before or after the
 * command, then the command's own; printed as rauc prints (status in its
 * readable, json, json-pretty and shell formats, with otabundle's facts
 * beside RAUC's under names RAUC does not use). An option that would change
 * what is trusted or written and that otabundle-install does not implement
 * is refused, never ignored. */
#include "rauc-device-cli.h"

#include <otabundle/cancel.h>
#include <otabundle/install.h>
#include <otabundle/text.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-url-options.h"
#include "lib/json-output.h"
#include "progress-line.h"
#include "rauc-cli-common.h"
#include "rauc-info.h"

#define PROGRAM "otabundle-install"
#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define usage_error(...) rauc_cli_usage_error(PROGRAM, __VA_ARGS__)

/* RAUC's system.conf first (a device that ran RAUC keeps it), then ours. */
static const char *const default_confs[] = {"/etc/rauc/system.conf", "/run/rauc/system.conf",
                                            "/usr/lib/rauc/system.conf",
                                            "/etc/otabundle/system.conf"};

static char *opt_conf;
static char *opt_boot_slot;
static gboolean opt_debug;
static char *opt_keyring;
static char **opt_intermediates;
static char *opt_mount;
static char *opt_cert;
static char *opt_key;
static char *opt_output_format;
static gboolean opt_detailed;
static gboolean opt_ignore_compatible;
static gboolean opt_progress;
static char *opt_handler_args;
static gboolean opt_no_verify;
static gboolean opt_no_check_time;
static gboolean opt_dump_cert;
static gboolean opt_dump_recipients;

/* rauc's main entries, and --override-boot-slot (rauc's on install and
 * status): accepted anywhere on the line (with --version and --help,
 * rauc-cli-common.c's). */
static const GOptionEntry global_entries[] = {
	{"conf", 'c', 0, G_OPTION_ARG_FILENAME, &opt_conf,
	 "System configuration (default /etc/rauc/system.conf, else /etc/otabundle/system.conf)",
	 "FILENAME"},
	{"override-boot-slot", 0, 0, G_OPTION_ARG_STRING, &opt_boot_slot,
	 "Override auto-detection of the booted slot", "BOOTNAME"},
	{"keyring", 0, 0, G_OPTION_ARG_FILENAME, &opt_keyring, "Not on a device: system.conf's",
	 "PEMFILE"},
	{"intermediate", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_intermediates,
	 "Not on a device (signing only)", "PEMFILE"},
	{"mount", 0, 0, G_OPTION_ARG_FILENAME, &opt_mount,
	 "Accepted: otabundle-install mounts nothing", "PATH"},
	{"cert", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_cert, NULL, NULL},
	{"key", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &opt_key, NULL, NULL},
	{"debug", 'd', 0, G_OPTION_ARG_NONE, &opt_debug, "Details on failure", NULL},
	{NULL}};

#define BUNDLE_ACCESS_ENTRIES                                                                \
	{"tls-cert", 0, 0, G_OPTION_ARG_STRING, &cli_url_args.tls_cert,                        \
	 "Client certificate for streaming (PEM file or pkcs11: URI)", "PEMFILE|PKCS11-URL"},  \
	{"tls-key", 0, 0, G_OPTION_ARG_STRING, &cli_url_args.tls_key,                          \
	 "Client key for streaming (PEM file or pkcs11: URI)", "PEMFILE|PKCS11-URL"},          \
	{"tls-ca", 0, 0, G_OPTION_ARG_FILENAME, &cli_url_args.tls_ca,                          \
	 "CA file for the server's certificate (streaming)", "PEMFILE"},                       \
	{"tls-no-verify", 0, 0, G_OPTION_ARG_NONE, &cli_url_args.tls_no_verify,                \
	 "Don't check the server's certificate (streaming)", NULL},                            \
	{"http-header", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &cli_url_args.http_headers,         \
	 "Extra HTTP header for streaming (repeatable)", "'HEADER: VALUE'"}

static const GOptionEntry install_entries[] = {
	{"ignore-compatible", 0, 0, G_OPTION_ARG_NONE, &opt_ignore_compatible,
	 "Not supported: the compatible is always checked", NULL},
	{"progress", 0, 0, G_OPTION_ARG_NONE, &opt_progress, "Show progress (on a terminal)", NULL},
	{"handler-args", 0, 0, G_OPTION_ARG_STRING, &opt_handler_args, "Not supported", "ARGS"},
	BUNDLE_ACCESS_ENTRIES,
	{NULL}};

static const GOptionEntry info_entries[] = {
	{"no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify, "Disable bundle verification", NULL},
	{"no-check-time", 0, 0, G_OPTION_ARG_NONE, &opt_no_check_time,
	 "Not on a device (use otabundle info --no-check-time)", NULL},
	{"output-format", 0, 0, G_OPTION_ARG_STRING, &opt_output_format,
	 "readable, json, json-pretty or shell", "FORMAT"},
	{"dump-cert", 0, 0, G_OPTION_ARG_NONE, &opt_dump_cert, "Dump the signer certificate", NULL},
	{"dump-recipients", 0, 0, G_OPTION_ARG_NONE, &opt_dump_recipients,
	 "Not supported (crypt bundles)", NULL},
	BUNDLE_ACCESS_ENTRIES,
	{NULL}};

static const GOptionEntry status_entries[] = {
	{"detailed", 0, 0, G_OPTION_ARG_NONE, &opt_detailed, "Show more status details", NULL},
	{"output-format", 0, 0, G_OPTION_ARG_STRING, &opt_output_format,
	 "readable, json, json-pretty or shell", "FORMAT"},
	{NULL}};

typedef struct {
	RaucCliCommand cli; /* first: rauc_cli_parse() returns a pointer to it */
	int (*run)(OtaTarget *target, char **args, int n_args);
} Command;

/* --- printing -------------------------------------------------------------- */

static int fail(const GError *error)
{
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", opt_debug ? -1 : 2);

	progress_line_erase();
	if (ota_cancel_get_signal() != 0)
		return EXIT_REJECTED; /* interrupted: the exit status tells */
	for (char **l = lines; *l && (l == lines || opt_debug); l++) {
		g_autofree char *line = ota_text_escape_controls(*l);

		g_printerr("%s%s\n", l == lines ? "otabundle-install: " : "", line);
	}
	return EXIT_REJECTED;
}

/* The command ran; a failed event log write is reported, not fatal. */
static int finish(OtaTarget *t, int status)
{
	const char *warning = ota_target_get_event_log_error(t);

	if (warning != NULL) {
		g_autofree char *line = ota_text_escape_controls(warning);

		g_printerr("otabundle-install: warning: %s\n", line);
	}
	return status;
}

/* --- install and info ---------------------------------------------------- */

static int cmd_install(OtaTarget *t, char **args, int n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = ota_bundle_location_for_display(args[0]);
	g_autofree char *bundle = ota_text_escape(shown);

	if (!ota_install(t, args[0], &error))
		return finish(t, fail(error));
	g_print("Installing `%s` succeeded\n", bundle);
	return finish(t, EXIT_SUCCESS);
}

static int cmd_info(OtaTarget *t, char **args, int n_args)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) bundle = NULL;

	bundle = opt_no_verify ? ota_target_open_bundle_unverified(t, args[0], &error)
	                       : ota_target_open_bundle_for_info(t, args[0], &error);
	if (bundle == NULL)
		return fail(error);
	if (opt_output_format == NULL || g_str_equal(opt_output_format, "readable"))
		rauc_cli_print_info_readable(bundle);
	else
		rauc_cli_print_info(bundle, opt_output_format);
	if (opt_dump_cert)
		rauc_cli_print_certificates(bundle);
	return EXIT_SUCCESS;
}

/* --- status -------------------------------------------------------------- */

static const OtaSlotStatus *find_slot(const OtaStatus *st, const char *name)
{
	for (guint i = 0; name != NULL && i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		if (g_str_equal(s->name, name))
			return s;
	}
	return NULL;
}

/* RAUC names the primary slot, the bootloader answers a bootname. */
static const OtaSlotStatus *primary_slot(const OtaStatus *st)
{
	for (guint i = 0; st->primary != NULL && i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		if (g_strcmp0(s->bootname, st->primary) == 0)
			return s;
	}
	return NULL;
}

/* RAUC's boot status: good or bad, unknown where the bootloader can't say
 * (as RAUC 1.11 and later); none for a slot without a bootname. */
static const char *boot_status(const OtaSlotStatus *s)
{
	return s->bootname != NULL ? s->state : NULL;
}

static void json_add_slot_status(JsonBuilder *b, const OtaSlotStatus *s)
{
	json_builder_set_member_name(b, "slot_status");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "bundle");
	json_builder_begin_object(b);
	/* otabundle-install records no bundle's compatible, description or
	 * build; RAUC's member is null then. */
	json_output_add_null(b, "compatible");
	if (s->version != NULL)
		json_output_add_string(b, "version", s->version);
	if (s->bundle_hash != NULL)
		json_output_add_string(b, "hash", s->bundle_hash);
	json_builder_end_object(b);
	if (s->installed != NULL) {
		json_builder_set_member_name(b, "installed");
		json_builder_begin_object(b);
		json_output_add_string(b, "timestamp", s->installed);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
}

static void print_status_json(const OtaStatus *st, gboolean pretty)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	const OtaSlotStatus *primary = primary_slot(st);

	json_builder_begin_object(b);
	json_output_add_string(b, "compatible", st->compatible);
	json_output_add_string(b, "variant", st->variant ? st->variant : "");
	json_output_add_string(b, "booted", st->booted_bootname);
	json_output_add_string(b, "boot_primary", primary ? primary->name : NULL);
	json_builder_set_member_name(b, "slots");
	json_builder_begin_array(b);
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		json_builder_begin_object(b);
		json_builder_set_member_name(b, s->name);
		json_builder_begin_object(b);
		json_output_add_string(b, "class", s->slotclass);
		json_output_add_string(b, "device", s->device);
		json_output_add_string(b, "type", s->type);
		json_output_add_string(b, "bootname", s->bootname);
		json_output_add_string(b, "state", s->activity);
		json_output_add_string(b, "parent", s->parent);
		json_output_add_null(b, "mountpoint");
		json_output_add_string(b, "boot_status", boot_status(s));
		if (opt_detailed)
			json_add_slot_status(b, s);
		json_builder_end_object(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	/* otabundle's own, under names RAUC does not use. */
	json_output_add_string(b, "installed_version", st->installed_version);
	json_output_add_int(b, "security_floor", st->security_floor);
	json_output_add_string(b, "pending", st->pending);
	json_builder_end_object(b);

	json_output_print_formatted(b, pretty);
}


static void print_status_shell(const OtaStatus *st)
{
	const OtaSlotStatus *primary = primary_slot(st);
	g_autoptr(GString) names = g_string_new(NULL);
	g_autoptr(GString) numbers = g_string_new(NULL);
	g_autofree char *floor = g_strdup_printf("%" G_GUINT64_FORMAT, st->security_floor);

	rauc_print_shell("RAUC_SYSTEM_COMPATIBLE", st->compatible);
	rauc_print_shell("RAUC_SYSTEM_VARIANT", st->variant);
	rauc_print_shell("RAUC_SYSTEM_BOOTED_BOOTNAME", st->booted_bootname);
	rauc_print_shell("RAUC_BOOT_PRIMARY", primary ? primary->name : NULL);
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		g_string_append_printf(names, "%s%s", i ? " " : "", s->name);
		g_string_append_printf(numbers, "%s%u", i ? " " : "", i + 1);
	}
	rauc_print_shell("RAUC_SYSTEM_SLOTS", names->str);
	rauc_print_shell("RAUC_SLOTS", numbers->str);
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);
		guint n = i + 1;

		rauc_print_shell_n("RAUC_SLOT_STATE", n, s->activity);
		rauc_print_shell_n("RAUC_SLOT_CLASS", n, s->slotclass);
		rauc_print_shell_n("RAUC_SLOT_DEVICE", n, s->device);
		rauc_print_shell_n("RAUC_SLOT_TYPE", n, s->type);
		rauc_print_shell_n("RAUC_SLOT_BOOTNAME", n, s->bootname);
		rauc_print_shell_n("RAUC_SLOT_PARENT", n, s->parent);
		rauc_print_shell_n("RAUC_SLOT_MOUNTPOINT", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_BOOT_STATUS", n, boot_status(s));
		if (!opt_detailed)
			continue;
		/* What otabundle-install does not record is empty. */
		rauc_print_shell_n("RAUC_SLOT_STATUS_BUNDLE_COMPATIBLE", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_BUNDLE_VERSION", n, s->version);
		rauc_print_shell_n("RAUC_SLOT_STATUS_BUNDLE_DESCRIPTION", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_BUNDLE_BUILD", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_BUNDLE_HASH", n, s->bundle_hash);
		rauc_print_shell_n("RAUC_SLOT_STATUS_CHECKSUM_SHA256", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_CHECKSUM_SIZE", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_INSTALLED_TIMESTAMP", n, s->installed);
		rauc_print_shell_n("RAUC_SLOT_STATUS_INSTALLED_COUNT", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_ACTIVATED_TIMESTAMP", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_ACTIVATED_COUNT", n, NULL);
		rauc_print_shell_n("RAUC_SLOT_STATUS_STATUS", n, NULL);
	}
	rauc_print_shell("OTABUNDLE_INSTALLED_VERSION", st->installed_version);
	rauc_print_shell("OTABUNDLE_SECURITY_FLOOR", floor);
	rauc_print_shell("OTABUNDLE_PENDING", st->pending);
}

static void print_readable_slot(const OtaSlotStatus *s, const OtaSlotStatus *primary,
                                gboolean utf8)
{
	g_autofree char *version = ota_text_escape(s->version);

	if (s->bootname == NULL)
		g_print(" ");
	else if (utf8)
		g_print("%s", s == primary ? "\u23fa" : "\u25cb");
	else
		g_print("%s", s == primary ? "x" : "o");
	g_print("%s[%s] (%s, %s, %s)\n", s->parent ? "   " : " ", s->name, s->device, s->type,
	        s->activity);
	if (s->bootname != NULL)
		g_print("\tbootname: %s\n\tboot status: %s\n", s->bootname, s->state);
	if (!opt_detailed || (s->version == NULL && s->installed == NULL))
		return;
	g_print("      slot status:\n          bundle:\n");
	if (version != NULL)
		g_print("              version=%s\n", version);
	if (s->bundle_hash != NULL)
		g_print("              hash=%s\n", s->bundle_hash);
	if (s->installed != NULL)
		g_print("          installed:\n              timestamp=%s\n", s->installed);
}

/* RAUC's layout (without its colours): each root slot followed by the
 * slots whose parent it is; then otabundle's anti-rollback state. */
static void print_status_readable(const OtaStatus *st)
{
	const OtaSlotStatus *primary = primary_slot(st);
	const OtaSlotStatus *booted = find_slot(st, st->booted);
	g_autofree char *variant = ota_text_escape(st->variant ? st->variant : "");
	g_autofree char *installed = ota_text_escape(st->installed_version);
	gboolean utf8 = g_get_charset(NULL);

	g_print("=== System Info ===\nCompatible:  %s\nVariant:     %s\n", st->compatible, variant);
	g_print("Booted from: %s (%s)\n\n", booted ? booted->name : "(null)", st->booted_bootname);
	g_print("=== Bootloader ===\nActivated: %s (%s)\n\n", primary ? primary->name : "(null)",
	        primary ? primary->bootname : "(null)");
	g_print("=== Slot States ===\n");
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		if (s->parent != NULL)
			continue;
		print_readable_slot(s, primary, utf8);
		for (guint j = 0; j < st->slots->len; j++) {
			const OtaSlotStatus *child = g_ptr_array_index(st->slots, j);

			if (g_strcmp0(child->parent, s->name) == 0)
				print_readable_slot(child, primary, utf8);
		}
		g_print("\n");
	}
	g_print("=== otabundle ===\nInstalled version: %s\nSecurity floor:    %" G_GUINT64_FORMAT
	        "\nPending:           %s\n",
	        installed ? installed : "-", st->security_floor, st->pending ? st->pending : "-");
}

static int cmd_mark(OtaTarget *t, const char *subcommand, const char *which)
{
	static const struct {
		const char *name;
		OtaMark mark;
		const char *done; /* RAUC's words: "<done> <slot>[ as <state>]" */
		const char *as;
	} marks[] = {
		{"mark-good", OTA_MARK_GOOD, "marked slot", " as good"},
		{"mark-bad", OTA_MARK_BAD, "marked slot", " as bad"},
		{"mark-active", OTA_MARK_ACTIVE, "activated slot", ""},
	};
	g_autoptr(GError) error = NULL;
	const char *slot = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(marks); i++) {
		if (!g_str_equal(subcommand, marks[i].name))
			continue;
		if (!ota_target_mark_slot(t, marks[i].mark, which, &slot, &error))
			return finish(t, fail(error));
		g_print("rauc status: %s %s%s\n", marks[i].done, slot, marks[i].as);
		return finish(t, EXIT_SUCCESS);
	}
	return usage_error("unknown status subcommand '%s': expected mark-good, mark-bad or "
	                   "mark-active",
	                   subcommand);
}

static int cmd_status(OtaTarget *t, char **args, int n_args)
{
	g_autoptr(OtaStatus) st = NULL;

	if (n_args > 0)
		return cmd_mark(t, args[0], n_args > 1 ? args[1] : "booted");
	st = ota_target_get_status(t);
	if (opt_output_format == NULL || g_str_equal(opt_output_format, "readable"))
		print_status_readable(st);
	else if (g_str_equal(opt_output_format, "shell"))
		print_status_shell(st);
	else
		print_status_json(st, g_str_equal(opt_output_format, "json-pretty"));
	return EXIT_SUCCESS;
}

static const Command commands[] = {
	{{"install", "install <BUNDLE>", "Install a bundle", 1, 1, install_entries}, cmd_install},
	{{"info", "info <FILE>", "Print bundle info, verified against system.conf's keyring", 1, 1,
	  info_entries},
	 cmd_info},
	{{"status", "status [mark-good|mark-bad|mark-active [booted|other|<SLOT_NAME>]]",
	  "Show system status, or mark a slot (default: the booted one)", 0, 2, status_entries},
	 cmd_status},
};

/* rauc commands otabundle-install does not run, and where to go instead. */
static const RaucCliElsewhere elsewhere[] = {
	{"bundle", "runs on the build host: use otabundle create, or otabundle as rauc"},
	{"resign", "runs on the build host: use otabundle resign, or otabundle as rauc"},
	{"replace-signature", "runs on the build host: use otabundle, or otabundle as rauc"},
	{"extract-signature", "runs on the build host: use otabundle, or otabundle as rauc"},
	{"extract", "is not supported on the device: use otabundle extract on a host"},
	{"convert", "is not supported: otabundle does not make casync bundles"},
	{"encrypt", "runs on the build host: use otabundle encrypt"},
	{"write-slot", "is not supported: otabundle-install writes slots only from a verified "
	               "bundle (rauc install)"},
	{"mount", "is not supported: otabundle-install mounts no bundle"},
	{"service", "is not needed: otabundle-install runs each command itself, without a "
	            "D-Bus service (otabundle-install(8), RAUC COMPATIBILITY)"},
};

/* --- parsing ------------------------------------------------------------- */

gboolean rauc_device_cli_applies(char **argv)
{
	g_autofree char *name = g_path_get_basename(argv[0]);

	return g_str_equal(name, "rauc");
}

/* Options rauc has that would change what is trusted or written, or that
 * need what otabundle-install does not have: refused, with the reason. */
static int refuse_options(void)
{
	if (opt_keyring != NULL)
		return usage_error("--keyring is not supported on the device: the keyring is "
		                   "system.conf's [keyring]");
	if (opt_cert != NULL || opt_key != NULL || opt_intermediates != NULL)
		return usage_error("--cert, --key and --intermediate sign bundles: use otabundle on "
		                   "the build host");
	if (opt_ignore_compatible)
		return usage_error("--ignore-compatible is not supported: otabundle-install always "
		                   "checks the compatible");
	if (opt_handler_args != NULL)
		return usage_error("--handler-args is not supported: otabundle-install has no "
		                   "install handler");
	if (opt_no_check_time)
		return usage_error("--no-check-time is not supported on the device: use otabundle "
		                   "info --no-check-time on a host");
	if (opt_dump_recipients)
		return usage_error("--dump-recipients is not supported: otabundle does not make "
		                   "crypt bundles");
	if (opt_output_format != NULL && !g_str_equal(opt_output_format, "readable") &&
	    !g_str_equal(opt_output_format, "json") && !g_str_equal(opt_output_format, "json-pretty") &&
	    !g_str_equal(opt_output_format, "shell"))
		return usage_error("unknown output format '%s': expected readable, json, json-pretty "
		                   "or shell",
		                   opt_output_format);
	return EXIT_SUCCESS;
}

/* RAUC's streaming options, on @t: they replace system.conf's
 * [streaming] settings. */
static int set_url_options(OtaTarget *t)
{
	g_autoptr(GError) error = NULL;
	OtaBundleUrlOptions o;

	if (!cli_url_options_get("otabundle-install", &o, &error))
		return usage_error("%s", error->message);
	ota_target_set_url_options(t, &o);
	return EXIT_SUCCESS;
}

static const char *conf_path(void)
{
	if (opt_conf != NULL)
		return opt_conf;
	for (gsize i = 0; i < G_N_ELEMENTS(default_confs); i++) {
		if (g_file_test(default_confs[i], G_FILE_TEST_EXISTS))
			return default_confs[i];
	}
	return default_confs[0];
}

static const RaucCli rauc = {
	.program = PROGRAM,
	.side = "device",
	.about = "RAUC's device command lines\n(otabundle-install(8), RAUC COMPATIBILITY).",
	.options = "-c/--conf FILE, --override-boot-slot,\n-d/--debug, --version, --help.",
	.global_entries = global_entries,
	RAUC_CLI_TABLES(commands, elsewhere),
};

int rauc_device_cli_run(int argc, char **argv)
{
	g_auto(GStrv) rest = g_strdupv(argv);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTarget) target = NULL;
	const Command *command;
	char **args = NULL;
	int status = EXIT_USAGE;

	command = (const Command *)rauc_cli_parse(&rauc, &rest, &args, &status);
	if (command == NULL)
		return status;
	status = refuse_options();
	if (status != EXIT_SUCCESS)
		return status;
	progress_line_enable(opt_progress && isatty(STDERR_FILENO));

	rauc_cli_map_pkcs11_environment();
	target = ota_target_open(conf_path(), opt_boot_slot, "/proc/cmdline", &error);
	if (target == NULL || !ota_cancel_on_signals(&error))
		return fail(error);
	status = set_url_options(target);
	if (status != EXIT_SUCCESS)
		return status;
	/* As otabundle-install's own command line: a signal cancels cleanly. */
	status = command->run(target, args, (int)g_strv_length(args));
	ota_cancel_exit();
	return status;
}
