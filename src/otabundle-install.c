/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle-install: the on-target verifier and A/B installer. Argument
 * parsing and printing only; every decision is made in libotabundle. */
#include <otabundle/config.h>
#include <otabundle/cancel.h>
#include <otabundle/install.h>
#include <otabundle/text.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-url-options.h"
#include "lib/json-output.h"
#include "progress-line.h"
#include "rauc-device-cli.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define DEFAULT_CONF "/etc/otabundle/system.conf"

static char *opt_conf;
static char *opt_boot_slot;
static char *opt_output_format;
static gboolean opt_verbose;
static gboolean opt_quiet;
static gboolean opt_version;

static const GOptionEntry global_entries[] = {
	{"conf", 'c', 0, G_OPTION_ARG_FILENAME, &opt_conf,
	 "System configuration (default " DEFAULT_CONF ")", "FILE"},
	{"override-boot-slot", 0, 0, G_OPTION_ARG_STRING, &opt_boot_slot,
	 "Take this slot (bootname or name) as booted, for tests", "SLOT"},
	{"output-format", 0, 0, G_OPTION_ARG_STRING, &opt_output_format,
	 "text (default) or json, for info and status", "FORMAT"},
	{"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Print error details", NULL},
	{"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
	 "No progress line (shown on a terminal while images are written)", NULL},
	{"version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL},
	{NULL}};

/* A message may quote a bundle's text: each line is escaped as printed. */
static int fail(const GError *error)
{
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", opt_verbose ? -1 : 2);

	progress_line_erase();
	/* Interrupted: the signal is the story, told by the exit status. */
	if (ota_cancel_get_signal() != 0)
		return EXIT_REJECTED;
	for (char **l = lines; *l && (l == lines || opt_verbose); l++) {
		g_autofree char *line = ota_text_escape_controls(*l);

		g_printerr("%s%s\n", l == lines ? "otabundle-install: " : "", line);
	}
	return EXIT_REJECTED;
}

static int usage(const char *message)
{
	g_printerr("otabundle-install: %s\nTry 'otabundle-install --help'.\n", message);
	return EXIT_USAGE;
}

static OtaTarget *open_target(GError **error)
{
	return ota_target_open(opt_conf ? opt_conf : DEFAULT_CONF, opt_boot_slot, "/proc/cmdline",
	                       error);
}

static gboolean json_output(void)
{
	return g_strcmp0(opt_output_format, "json") == 0;
}

/* The URL options given, on @t; each replaces the setting of system.conf's
 * [streaming]. EXIT_USAGE if they can't be used. */
static int set_url_options(OtaTarget *t)
{
	g_autoptr(GError) error = NULL;
	OtaBundleUrlOptions o;

	if (!cli_url_options_get("otabundle-install", &o, &error))
		return usage(error->message);
	ota_target_set_url_options(t, &o);
	return EXIT_SUCCESS;
}

/* --- commands -------------------------------------------------------------- */

static int cmd_install(OtaTarget *t, char **args)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *summary = NULL;
	guint64 downloaded, reused;

	if (!ota_install(t, args[0], &error))
		return fail(error);
	/* A summary quotes the bundle's version, escaped already. */
	summary = ota_text_escape_controls(ota_target_get_install_summary(t));
	g_print("%s\n", summary);
	ota_target_get_install_bytes(t, &downloaded, &reused);
	if (downloaded > 0 || reused > 0)
		g_print("Downloaded %" G_GUINT64_FORMAT " bytes, reused %" G_GUINT64_FORMAT
		        " bytes from this device.\n", downloaded, reused);
	if (ota_target_get_pending(t) != NULL)
		g_print("Next boot: slot %s. After its self-test passes, run 'otabundle-install "
		        "mark-good' there.\n", ota_target_get_pending(t));
	return EXIT_SUCCESS;
}

static void info_text(const char *bundle, const OtaInstallPlan *p)
{
	g_autofree char *path = ota_text_escape(bundle);
	const char *bootname;
	const char *boot_target = ota_install_plan_get_boot_target(p, &bootname);

	g_print("%s: OK for this system (policies: ", path);
	for (guint i = 0; i < ota_install_plan_get_n_policies(p); i++)
		g_print("%s%s", i ? ", " : "", ota_install_plan_get_policy(p, i));
	g_print(")\nAn install would write:\n");
	for (guint i = 0; i < ota_install_plan_get_n_steps(p); i++) {
		const char *image, *slot, *device;
		g_autofree char *filename = NULL;

		ota_install_plan_get_step(p, i, &image, &slot, &device);
		filename = ota_text_escape(image);
		g_print("  %s -> %s (%s)\n", filename, slot, device);
	}
	if (boot_target != NULL)
		g_print("and then boot slot %s (%s).\n", bootname, boot_target);
	else
		g_print("and not switch the boot (no A/B slot written).\n");
}

/* What an install of @bundle would do (@p), or why it would be refused
 * (@error; then the plan's members are null or empty). */
static void info_json(const char *bundle, const OtaInstallPlan *p, const GError *error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_output_begin_document(b, JSON_SCHEMA_INSTALL_INFO);
	json_output_add_string(b, "bundle", bundle);
	json_output_add_bool(b, "installable", p != NULL);
	json_output_add_error(b, error);
	json_output_add_string(b, "version", p ? ota_install_plan_get_manifest(p)->version : NULL);
	json_output_add_string(b, "boot_target", p ? ota_install_plan_get_boot_target(p, NULL) : NULL);
	json_builder_set_member_name(b, "policies");
	json_builder_begin_array(b);
	for (guint i = 0; p != NULL && i < ota_install_plan_get_n_policies(p); i++)
		json_builder_add_string_value(b, ota_install_plan_get_policy(p, i));
	json_builder_end_array(b);
	json_builder_set_member_name(b, "steps");
	json_builder_begin_array(b);
	for (guint i = 0; p != NULL && i < ota_install_plan_get_n_steps(p); i++) {
		const char *image, *slot, *device;

		ota_install_plan_get_step(p, i, &image, &slot, &device);
		json_builder_begin_object(b);
		json_output_add_string(b, "image", image);
		json_output_add_string(b, "slot", slot);
		json_output_add_string(b, "device", device);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_output_print(b);
}

static int cmd_info(OtaTarget *t, char **args)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaInstallPlan) p = ota_install_plan(t, args[0], &error);
	/* Never a URL's credentials. */
	g_autofree char *shown = ota_bundle_location_for_display(args[0]);

	if (p == NULL) {
		if (json_output())
			info_json(shown, NULL, error);
		return fail(error);
	}
	if (json_output())
		info_json(shown, p, NULL);
	else
		info_text(shown, p);
	return EXIT_SUCCESS;
}

static void status_json(const OtaStatus *st)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_output_begin_document(b, JSON_SCHEMA_INSTALL_STATUS);
	json_output_add_string(b, "compatible", st->compatible);
	json_output_add_string(b, "booted", st->booted);
	json_output_add_string(b, "primary", st->primary);
	json_output_add_string(b, "installed_version", st->installed_version);
	json_output_add_int(b, "security_floor", st->security_floor);
	json_output_add_string(b, "not_before", st->not_before);
	json_output_add_string(b, "pending", st->pending);
	json_builder_set_member_name(b, "trust");
	if (st->trust_path == NULL) {
		json_builder_add_null_value(b);
	} else {
		json_builder_begin_object(b);
		json_output_add_int(b, "version", st->trust_version);
		json_output_add_string(b, "sha256", st->trust_sha256);
		json_output_add_string(b, "path", st->trust_path);
		json_output_add_bool(b, "installed", st->trust_installed);
		json_output_add_string(b, "error", st->trust_error);
		json_builder_end_object(b);
	}
	json_builder_set_member_name(b, "slots");
	json_builder_begin_array(b);
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "name", s->name);
		json_output_add_string(b, "device", s->device);
		json_output_add_string(b, "bootname", s->bootname);
		json_output_add_bool(b, "booted", s->booted);
		json_output_add_string(b, "state", s->state);
		json_output_add_string(b, "version", s->version);
		json_output_add_string(b, "installed", s->installed);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "results");
	json_builder_begin_array(b);
	for (guint i = 0; i < st->results->len; i++) {
		const OtaResultStatus *r = g_ptr_array_index(st->results, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "time", r->time);
		json_output_add_string(b, "operation", r->operation);
		json_output_add_string(b, "bundle", r->bundle);
		json_output_add_bool(b, "ok", r->ok);
		json_output_add_string(b, "reason", r->reason);
		json_output_add_int(b, "downloaded_bytes", r->downloaded_bytes);
		json_output_add_int(b, "reused_bytes", r->reused_bytes);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_output_print(b);
}

/* Versions and results in the state come from bundles (a manifest's version,
 * an error quoting one), the primary slot from a bootloader backend's
 * output: escaped like everything else printed from outside. */
static void status_text(const OtaStatus *st)
{
	g_autofree char *primary = ota_text_escape(st->primary ? st->primary : "?");
	g_autofree char *installed = ota_text_escape(st->installed_version);

	g_print("Compatible:        %s\n", st->compatible);
	g_print("Booted:            %s (%s)\n", st->booted, st->booted_bootname);
	g_print("Primary:           %s\n", primary);
	g_print("Installed version: %s\n", installed ? installed : "-");
	g_print("Security floor:    %" G_GUINT64_FORMAT "\n", st->security_floor);
	if (st->not_before != NULL)
		g_print("Not before:        %s (newest trusted timestamp installed)\n",
		        st->not_before);
	g_print("Pending:           %s\n", st->pending ? st->pending : "-");
	if (st->trust_path != NULL) {
		g_autofree char *path = ota_text_escape(st->trust_path);

		g_print("Trust list:        version %" G_GUINT64_FORMAT " (%s, %s)\n", st->trust_version,
		        st->trust_installed ? "installed by a trust update" : "shipped in the image",
		        path);
		if (st->trust_error != NULL) {
			g_autofree char *why = ota_text_escape_controls(st->trust_error);

			g_print("                   UNUSABLE: %s\n", why);
		}
	}
	g_print("Slots:\n");
	for (guint i = 0; i < st->slots->len; i++) {
		const OtaSlotStatus *s = g_ptr_array_index(st->slots, i);
		g_autofree char *version = ota_text_escape(s->version ? s->version : "-");

		g_print("  %-12s %-6s %-5s %-12s %s%s\n", s->name, s->bootname ? s->bootname : "",
		        s->state ? s->state : "", version, s->device, s->booted ? "  (booted)" : "");
	}
	g_print("Last results:\n");
	for (guint i = 0; i < st->results->len; i++) {
		const OtaResultStatus *r = g_ptr_array_index(st->results, i);
		g_autofree char *time = ota_text_escape(r->time);
		/* A reason is a message whose quoted values were escaped already. */
		g_autofree char *reason = ota_text_escape_controls(r->reason);

		g_print("  %s %-12s %s %s", time, r->operation, r->ok ? "ok    " : "FAILED", reason);
		if (r->downloaded_bytes > 0 || r->reused_bytes > 0)
			g_print(" (%" G_GUINT64_FORMAT " bytes downloaded, %" G_GUINT64_FORMAT
			        " reused)", r->downloaded_bytes, r->reused_bytes);
		g_print("\n");
	}
}

static int cmd_status(OtaTarget *t, char **args)
{
	g_autoptr(OtaStatus) status = ota_target_get_status(t);

	if (json_output())
		status_json(status);
	else
		status_text(status);
	return EXIT_SUCCESS;
}

/* Trust update files, applied in the order given (a chain). */
static int cmd_trust_update(OtaTarget *t, char **args)
{
	g_autoptr(GError) error = NULL;

	if (!ota_target_update_trust(t, (const char *const *)args, &error))
		return fail(error);
	g_print("%s\n", ota_target_get_trust_summary(t));
	return EXIT_SUCCESS;
}

/* A slot: booted (the default), other, or a slot's name, as in RAUC. */
static int cmd_mark(OtaTarget *t, OtaMark mark, char **args)
{
	static const char *const names[] = {
		[OTA_MARK_GOOD] = "good", [OTA_MARK_BAD] = "bad", [OTA_MARK_ACTIVE] = "active"};
	g_autoptr(GError) error = NULL;
	const char *slot = NULL;

	if (!ota_target_mark_slot(t, mark, args[0] ? args[0] : "booted", &slot, &error))
		return fail(error);
	g_print("Marked %s %s\n", slot, names[mark]);
	return EXIT_SUCCESS;
}

static int cmd_mark_good(OtaTarget *t, char **args)
{
	return cmd_mark(t, OTA_MARK_GOOD, args);
}

static int cmd_mark_bad(OtaTarget *t, char **args)
{
	return cmd_mark(t, OTA_MARK_BAD, args);
}

static int cmd_mark_active(OtaTarget *t, char **args)
{
	return cmd_mark(t, OTA_MARK_ACTIVE, args);
}

/* --- check-config: the system.conf alone, nothing on the device touched ---- */

/* Paths and URIs only: the header file's contents are secrets. */
/* [casync]: only when set, like [encryption]. */
static void check_config_casync_text(const OtaConfigReport *r)
{
	g_autofree char *store = NULL;
	g_autofree char *tmp = NULL;
	g_autofree char *args = NULL;

	if (r->casync_store_path == NULL && r->casync_tmp_path == NULL &&
	    r->casync_install_args == NULL)
		return;
	store = ota_text_escape(r->casync_store_path ? r->casync_store_path
	                                             : "beside the bundle (.castr)");
	g_print("casync:         store %s", store);
	if (r->casync_tmp_path != NULL) {
		tmp = ota_text_escape(r->casync_tmp_path);
		g_print(", tmppath %s", tmp);
	}
	if (r->casync_install_args != NULL) {
		args = ota_text_escape(r->casync_install_args);
		g_print(", install-args %s", args);
	}
	g_print("\n");
}

static void check_config_streaming_text(const OtaConfigReport *r)
{
	g_autofree char *ca = ota_text_escape(r->streaming_tls_ca ? r->streaming_tls_ca
	                                                          : "the system's CAs");
	g_autofree char *headers = g_strjoinv(", ", r->streaming_send_headers);

	g_print("Streaming:      TLS CA %s", ca);
	if (r->streaming_tls_cert != NULL) {
		g_autofree char *cert = ota_text_escape(r->streaming_tls_cert);
		g_autofree char *key = ota_text_escape(r->streaming_tls_key ? r->streaming_tls_key : "");

		g_print(", client certificate %s, key %s", cert, key);
	}
	g_print("\n                timeout %us", r->streaming_timeout);
	if (r->streaming_max_size > 0)
		g_print(", bundles up to %" G_GUINT64_FORMAT " bytes", r->streaming_max_size);
	if (r->streaming_header_file != NULL) {
		g_autofree char *file = ota_text_escape(r->streaming_header_file);

		g_print(", headers from %s", file);
	}
	if (*headers != '\0')
		g_print(", sends %s", headers);
	g_print("\n");
}

static void check_config_text(const OtaConfigReport *r)
{
	g_autofree char *path = ota_text_escape(r->path);
	g_autofree char *compatible = ota_text_escape(r->compatible);
	g_autofree char *formats = g_strjoinv(" ", r->bundle_formats);
	g_autofree char *variant = ota_text_escape(r->variant ? r->variant : "");

	g_print("%s: OK\n", path);
	g_print("Compatible:     %s\n", compatible);
	g_print("Bootloader:     %s\n", r->bootloader);
	g_print("Data directory: %s\n", r->data_directory);
	g_print("Bundle formats: %s\n", formats);
	g_print("Variant:        %s%s%s\n", r->variant_source, r->variant ? " " : "", variant);
	if (r->encryption_key != NULL) {
		g_autofree char *key = ota_text_escape(r->encryption_key);
		g_autofree char *cert = ota_text_escape(r->encryption_cert ? r->encryption_cert : "");

		g_print("Decryption key: %s%s%s\n", key, r->encryption_cert ? ", certificate " : "",
		        cert);
	}
	check_config_streaming_text(r);
	check_config_casync_text(r);
	if (r->trust_initial != NULL) {
		g_autofree char *initial = ota_text_escape(r->trust_initial);
		g_autofree char *directory = ota_text_escape(r->trust_directory);
		g_autofree char *tiers = r->trust_tiers ? g_strjoinv(", ", r->trust_tiers) : NULL;
		g_autofree char *escaped = tiers ? ota_text_escape(tiers) : NULL;

		g_print("Trust list:     shipped %s", initial);
		if (r->trust_tiers != NULL)
			g_print(" (version %" G_GUINT64_FORMAT ", tiers %s)", r->trust_initial_version,
			        escaped);
		else
			g_print(" (not present here)");
		g_print("\n                installed ones in %s, the newest in effect\n", directory);
		g_print("Policies:       the tiers of the trust list in effect\n");
	} else {
		g_print("Policies:\n");
	}
	for (guint i = 0; i < r->policies->len; i++) {
		const OtaConfigPolicy *p = g_ptr_array_index(r->policies, i);
		g_autofree char *keyrings = g_strjoinv(", ", p->keyrings);
		g_autofree char *escaped = ota_text_escape(keyrings);

		g_autofree char *tsa = ota_text_escape(p->tsa_keyring ? p->tsa_keyring : "");

		g_print("  %-10s %s%s, threshold %u, purpose %s%s%s, check-time %s%s%s\n", p->name,
		        escaped, p->present ? "" : " (not present here)", p->threshold, p->purpose,
		        p->crl ? ", CRLs " : "", p->crl ? p->crl : "", p->check_time,
		        p->tsa_keyring ? ", TSA keyring " : "", tsa);
	}
	g_print("Slots:\n  %-16s %-12s %-16s %-10s %-16s %s\n", "NAME", "CLASS", "TYPE", "BOOTNAME",
	        "PARENT", "DEVICE");
	for (guint i = 0; i < r->slots->len; i++) {
		const OtaConfigSlot *s = g_ptr_array_index(r->slots, i);
		g_autofree char *device = ota_text_escape(s->device);

		g_print("  %-16s %-12s %-16s %-10s %-16s %s%s%s%s\n", s->name, s->slotclass, s->type,
		        s->bootname ? s->bootname : "-", s->parent ? s->parent : "-", device,
		        s->readonly ? "  (readonly)" : "", s->policy ? "  policy " : "",
		        s->policy ? s->policy : "");
	}
	g_print("Installs:\n");
	for (guint i = 0; i < r->boots->len; i++) {
		const OtaConfigBoot *b = g_ptr_array_index(r->boots, i);

		g_print("  booted %s (%s): ", b->bootname, b->booted);
		if (b->error != NULL) {
			g_print("no install possible: %s\n", b->error);
			continue;
		}
		g_print("writes");
		for (guint j = 0; j < b->writes->len; j++) {
			const OtaConfigWrite *w = g_ptr_array_index(b->writes, j);

			g_print("%s %s", j ? "," : "", w->slot);
		}
		g_print("; boots %s next\n", b->boot_target);
	}
}

/* The report @r, or (without it) why @path was refused (@error). */
static void check_config_json(const char *path, const OtaConfigReport *r, const GError *error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_output_begin_document(b, JSON_SCHEMA_INSTALL_CHECK_CONFIG);
	json_output_add_string(b, "config", path);
	json_output_add_bool(b, "valid", r != NULL);
	json_output_add_error(b, error);
	json_output_add_string(b, "compatible", r ? r->compatible : NULL);
	json_output_add_string(b, "bootloader", r ? r->bootloader : NULL);
	json_output_add_string(b, "data_directory", r ? r->data_directory : NULL);
	json_output_add_strv(b, "bundle_formats", r ? r->bundle_formats : NULL);
	json_output_add_string(b, "variant_source", r ? r->variant_source : NULL);
	json_output_add_string(b, "variant", r ? r->variant : NULL);
	json_output_add_string(b, "encryption_key", r ? r->encryption_key : NULL);
	json_output_add_string(b, "encryption_cert", r ? r->encryption_cert : NULL);
	json_builder_set_member_name(b, "streaming");
	if (r == NULL) {
		json_builder_add_null_value(b);
	} else {
		json_builder_begin_object(b);
		json_output_add_string(b, "tls_ca", r->streaming_tls_ca);
		json_output_add_string(b, "tls_cert", r->streaming_tls_cert);
		json_output_add_string(b, "tls_key", r->streaming_tls_key);
		json_output_add_string(b, "header_file", r->streaming_header_file);
		json_output_add_strv(b, "send_headers", r->streaming_send_headers);
		json_output_add_int(b, "timeout", r->streaming_timeout);
		if (r->streaming_max_size > 0)
			json_output_add_int(b, "max_bundle_size", r->streaming_max_size);
		else
			json_output_add_null(b, "max_bundle_size");
		json_builder_end_object(b);
	}
	json_builder_set_member_name(b, "casync");
	json_builder_begin_object(b);
	json_output_add_string(b, "storepath", r ? r->casync_store_path : NULL);
	json_output_add_string(b, "tmppath", r ? r->casync_tmp_path : NULL);
	json_output_add_string(b, "install_args", r ? r->casync_install_args : NULL);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "policies");
	json_builder_begin_array(b);
	for (guint i = 0; r != NULL && i < r->policies->len; i++) {
		const OtaConfigPolicy *p = g_ptr_array_index(r->policies, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "name", p->name);
		json_output_add_strv(b, "keyrings", p->keyrings);
		json_output_add_bool(b, "present", p->present);
		json_output_add_string(b, "crl", p->crl);
		json_output_add_int(b, "threshold", p->threshold);
		json_output_add_string(b, "purpose", p->purpose);
		json_output_add_string(b, "check_time", p->check_time);
		json_output_add_string(b, "tsa_keyring", p->tsa_keyring);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "trust");
	if (r == NULL || r->trust_initial == NULL) {
		json_builder_add_null_value(b);
	} else {
		json_builder_begin_object(b);
		json_output_add_string(b, "initial", r->trust_initial);
		json_output_add_string(b, "directory", r->trust_directory);
		json_output_add_bool(b, "present", r->trust_tiers != NULL);
		if (r->trust_tiers != NULL)
			json_output_add_int(b, "version", r->trust_initial_version);
		else
			json_output_add_null(b, "version");
		json_output_add_strv(b, "tiers", r->trust_tiers);
		json_builder_end_object(b);
	}
	json_builder_set_member_name(b, "slots");
	json_builder_begin_array(b);
	for (guint i = 0; r != NULL && i < r->slots->len; i++) {
		const OtaConfigSlot *s = g_ptr_array_index(r->slots, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "name", s->name);
		json_output_add_string(b, "class", s->slotclass);
		json_output_add_string(b, "device", s->device);
		json_output_add_string(b, "type", s->type);
		json_output_add_string(b, "bootname", s->bootname);
		json_output_add_string(b, "parent", s->parent);
		json_output_add_string(b, "policy", s->policy);
		json_output_add_bool(b, "readonly", s->readonly);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "installs");
	json_builder_begin_array(b);
	for (guint i = 0; r != NULL && i < r->boots->len; i++) {
		const OtaConfigBoot *boot = g_ptr_array_index(r->boots, i);

		json_builder_begin_object(b);
		json_output_add_string(b, "booted", boot->booted);
		json_output_add_string(b, "bootname", boot->bootname);
		json_output_add_string(b, "boot_target", boot->boot_target);
		json_builder_set_member_name(b, "writes");
		json_builder_begin_array(b);
		for (guint j = 0; j < boot->writes->len; j++) {
			const OtaConfigWrite *w = g_ptr_array_index(boot->writes, j);

			json_builder_begin_object(b);
			json_output_add_string(b, "class", w->slotclass);
			json_output_add_string(b, "slot", w->slot);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_output_add_string(b, "error", boot->error);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	json_output_print(b);
}

static int cmd_check_config(void)
{
	const char *path = opt_conf ? opt_conf : DEFAULT_CONF;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaConfigReport) report = ota_config_check(path, &error);

	if (json_output())
		check_config_json(path, report, error);
	else if (report != NULL)
		check_config_text(report);
	return report != NULL ? EXIT_SUCCESS : fail(error);
}

static const struct {
	const char *name;
	int min_args, max_args;
	int (*run)(OtaTarget *t, char **args);
	const char *summary;
} commands[] = {
	{"install", 1, 1, cmd_install, "install BUNDLE into the inactive slots"},
	{"info", 1, 1, cmd_info, "check BUNDLE against this system and show what install would do"},
	{"status", 0, 0, cmd_status, "slots, boot selection, versions, floor, trust, last results"},
	{"trust-update", 1, G_MAXINT, cmd_trust_update,
	 "FILE... apply signed trust updates, in order ([trust] in system.conf)"},
	{"mark-good", 0, 1, cmd_mark_good,
	 "[booted|other|SLOT] commit the booted slot after its self-test"},
	{"mark-bad", 0, 1, cmd_mark_bad,
	 "[booted|other|SLOT] mark a slot bad so the bootloader falls back"},
	{"mark-active", 0, 1, cmd_mark_active,
	 "[booted|other|SLOT] make a slot primary: the next boot tries it"},
};

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("COMMAND [BUNDLE]");
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTarget) target = NULL;
	g_autoptr(GString) summary = g_string_new("Commands:\n");
	const char *warning;
	int status;

	setlocale(LC_ALL, "");
	/* As `rauc` (otabundle-install(8), RAUC COMPATIBILITY). */
	if (rauc_device_cli_applies(argv))
		return rauc_device_cli_run(argc, argv);
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		g_string_append_printf(summary, "  %-12s %s\n", commands[i].name, commands[i].summary);
	g_string_append_printf(summary, "  %-12s %s\n", "check-config",
	                       "validate the system.conf and show what installs do; touches nothing");
	g_option_context_set_summary(context, summary->str);
	g_option_context_add_main_entries(context, global_entries, NULL);
	/* install and info of an http:// or https:// URL */
	g_option_context_add_main_entries(
		context, cli_url_option_entries("[streaming] timeout=, 60"), NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return usage(error->message);
	if (opt_version && argc < 2) {
		g_print("otabundle-install %s\n", OTABUNDLE_VERSION);
		return EXIT_SUCCESS;
	}
	if (argc < 2)
		return usage("missing command");
	if (opt_output_format != NULL && !g_str_equal(opt_output_format, "json") &&
	    !g_str_equal(opt_output_format, "text"))
		return usage("--output-format must be text or json");
	progress_line_enable(!opt_quiet && isatty(STDERR_FILENO));
	/* It reads the configuration only: no target to open. */
	if (g_str_equal(argv[1], "check-config"))
		return argc == 2 ? cmd_check_config() : usage("this command takes no arguments");

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (!g_str_equal(argv[1], commands[i].name))
			continue;
		if (argc - 2 < commands[i].min_args || argc - 2 > commands[i].max_args)
			return usage(commands[i].run == cmd_trust_update ? "give one or more trust update FILEs"
			             : commands[i].min_args ? "give one BUNDLE"
			             : commands[i].max_args ? "give at most one slot: booted, other or a slot name"
			                                    : "this command takes no arguments");
		target = open_target(&error);
		if (target == NULL) {
			/* info's document says why even when the system can't be read. */
			if (commands[i].run == cmd_info && json_output()) {
				g_autofree char *shown = ota_bundle_location_for_display(argv[2]);

				info_json(shown, NULL, error);
			}
			return fail(error);
		}
		status = set_url_options(target);
		if (status != EXIT_SUCCESS)
			return status;
		/* SIGINT, SIGTERM or SIGHUP stop an install at its next check:
		 * the slot it writes stays marked bad, its hook scratch
		 * directory and child go, and the process ends by the signal. */
		if (!ota_cancel_on_signals(&error))
			return fail(error);
		status = commands[i].run(target, argv + 2);
		ota_cancel_exit();
		warning = ota_target_get_event_log_error(target);
		if (warning != NULL) {
			g_autofree char *line = ota_text_escape_controls(warning);

			g_printerr("otabundle-install: warning: %s\n", line);
		}
		return status;
	}
	return usage("unknown command");
}
