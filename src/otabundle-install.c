/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle-install: the on-target verifier and A/B installer. Argument
 * parsing and printing only; every decision is made in libotabundle. */
#include <otabundle/install.h>
#include <otabundle/progress.h>
#include <otabundle/text.h>

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define DEFAULT_CONF "/etc/otabundle/system.conf"

static char *opt_conf;
static char *opt_boot_slot;
static char *opt_output_format;
static gboolean opt_verbose;
static gboolean opt_quiet;

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
	{NULL}};

/* A message may quote a bundle's text: each line is escaped as printed. */
static int fail(const GError *error)
{
	g_auto(GStrv) lines = g_strsplit(error->message, "\n", opt_verbose ? -1 : 2);

	ota_progress_cancel();
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

static void print_json(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	g_autofree char *text = NULL;

	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	g_print("%s\n", text);
}

static void add_string(JsonBuilder *b, const char *key, const char *value)
{
	json_builder_set_member_name(b, key);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void add_bool(JsonBuilder *b, const char *key, gboolean value)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, value);
}

/* --- commands -------------------------------------------------------------- */

static int cmd_install(OtaTarget *t, char **args)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *reason = NULL;
	const OtaResult *r;

	if (!ota_install(t, args[0], &error))
		return fail(error);
	r = g_ptr_array_index(t->state->results, t->state->results->len - 1);
	reason = ota_text_escape_controls(r->reason);
	g_print("%s\n", reason);
	g_print("Next boot: slot %s. After its self-test passes, run 'otabundle-install "
	        "mark-good' there.\n", t->state->pending_slot);
	return EXIT_SUCCESS;
}

static int cmd_info(OtaTarget *t, char **args)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaInstallPlan) p = ota_install_plan(t, args[0], &error);
	g_autoptr(JsonBuilder) b = NULL;

	if (p == NULL)
		return fail(error);
	if (!json_output()) {
		g_autofree char *path = ota_text_escape(args[0]);

		g_print("%s: OK for this system (policies: ", path);
		for (guint i = 0; i < p->policies_used->len; i++)
			g_print("%s%s", i ? ", " : "", (char *)g_ptr_array_index(p->policies_used, i));
		g_print(")\nAn install would write:\n");
		for (guint i = 0; i < p->steps->len; i++) {
			const OtaInstallStep *s = g_ptr_array_index(p->steps, i);
			g_autofree char *filename = ota_text_escape(s->image->filename);

			g_print("  %s -> %s (%s)\n", filename, s->slot->name, s->slot->device);
		}
		g_print("and then boot slot %s (%s).\n", p->boot_target->bootname, p->boot_target->name);
		return EXIT_SUCCESS;
	}
	b = json_builder_new();
	json_builder_begin_object(b);
	add_string(b, "bundle", args[0]);
	add_string(b, "version", p->bundle->manifest->version);
	add_string(b, "boot_target", p->boot_target->name);
	json_builder_set_member_name(b, "steps");
	json_builder_begin_array(b);
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *s = g_ptr_array_index(p->steps, i);

		json_builder_begin_object(b);
		add_string(b, "image", s->image->filename);
		add_string(b, "slot", s->slot->name);
		add_string(b, "device", s->slot->device);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	print_json(b);
	return EXIT_SUCCESS;
}

static const char *slot_state(OtaTarget *t, const OtaSlotConfig *s)
{
	OtaSlotState state;

	if (s->bootname == NULL)
		return NULL;
	if (!ota_bootloader_get_state(t->bootloader, s->bootname, &state, NULL))
		return "unknown";
	return state == OTA_SLOT_STATE_GOOD ? "good" : "bad";
}

static void status_json(OtaTarget *t, const char *primary)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_string(b, "compatible", t->config->compatible);
	add_string(b, "booted", t->booted->name);
	add_string(b, "primary", primary);
	add_string(b, "installed_version", t->state->installed_version);
	json_builder_set_member_name(b, "security_floor");
	json_builder_add_int_value(b, (gint64)t->state->security_floor);
	add_string(b, "pending", t->state->pending_slot);
	json_builder_set_member_name(b, "slots");
	json_builder_begin_array(b);
	for (guint i = 0; i < t->config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);
		const OtaSlotRecord *r = ota_state_get_slot(t->state, s->name);

		json_builder_begin_object(b);
		add_string(b, "name", s->name);
		add_string(b, "device", s->device);
		add_string(b, "bootname", s->bootname);
		add_bool(b, "booted", s->index == t->booted->index);
		add_string(b, "state", slot_state(t, s));
		add_string(b, "version", r ? r->version : NULL);
		add_string(b, "installed", r ? r->installed : NULL);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "results");
	json_builder_begin_array(b);
	for (guint i = 0; i < t->state->results->len; i++) {
		const OtaResult *r = g_ptr_array_index(t->state->results, i);

		json_builder_begin_object(b);
		add_string(b, "time", r->time);
		add_string(b, "operation", r->operation);
		add_string(b, "bundle", r->bundle);
		add_bool(b, "ok", r->ok);
		add_string(b, "reason", r->reason);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	print_json(b);
}

/* Versions and results in the state come from bundles (a manifest's version,
 * an error quoting one), the primary slot from a bootloader backend's
 * output: escaped like everything else printed from outside. */
static void status_text(OtaTarget *t, const char *primary)
{
	g_autofree char *escaped_primary = ota_text_escape(primary ? primary : "?");
	g_autofree char *installed = ota_text_escape(t->state->installed_version);

	g_print("Compatible:        %s\n", t->config->compatible);
	g_print("Booted:            %s (%s)\n", t->booted->name, t->booted->bootname);
	g_print("Primary:           %s\n", escaped_primary);
	g_print("Installed version: %s\n", installed ? installed : "-");
	g_print("Security floor:    %" G_GUINT64_FORMAT "\n", t->state->security_floor);
	g_print("Pending:           %s\n", t->state->pending_slot ? t->state->pending_slot : "-");
	g_print("Slots:\n");
	for (guint i = 0; i < t->config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);
		const OtaSlotRecord *r = ota_state_get_slot(t->state, s->name);
		const char *state = slot_state(t, s);
		g_autofree char *version = ota_text_escape(r && r->version ? r->version : "-");

		g_print("  %-12s %-6s %-5s %-12s %s%s\n", s->name, s->bootname ? s->bootname : "",
		        state ? state : "", version, s->device,
		        s->index == t->booted->index ? "  (booted)" : "");
	}
	g_print("Last results:\n");
	for (guint i = 0; i < t->state->results->len; i++) {
		const OtaResult *r = g_ptr_array_index(t->state->results, i);
		g_autofree char *time = ota_text_escape(r->time);
		/* A reason is a message whose quoted values were escaped already. */
		g_autofree char *reason = ota_text_escape_controls(r->reason);

		g_print("  %s %-9s %s %s\n", time, r->operation, r->ok ? "ok    " : "FAILED", reason);
	}
}

static int cmd_status(OtaTarget *t, char **args)
{
	g_autofree char *primary = ota_bootloader_get_primary(t->bootloader, NULL);

	if (json_output())
		status_json(t, primary);
	else
		status_text(t, primary);
	return EXIT_SUCCESS;
}

static int cmd_mark(OtaTarget *t, gboolean good)
{
	g_autoptr(GError) error = NULL;

	if (!ota_target_mark(t, good, &error))
		return fail(error);
	g_print("Marked %s %s\n", t->booted->name, good ? "good" : "bad");
	return EXIT_SUCCESS;
}

static int cmd_mark_good(OtaTarget *t, char **args)
{
	return cmd_mark(t, TRUE);
}

static int cmd_mark_bad(OtaTarget *t, char **args)
{
	return cmd_mark(t, FALSE);
}

static const struct {
	const char *name;
	int n_args;
	int (*run)(OtaTarget *t, char **args);
	const char *summary;
} commands[] = {
	{"install", 1, cmd_install, "install BUNDLE into the inactive slots"},
	{"info", 1, cmd_info, "check BUNDLE against this system and show what install would do"},
	{"status", 0, cmd_status, "slots, boot selection, versions, floor, last results"},
	{"mark-good", 0, cmd_mark_good, "commit the booted slot after its self-test"},
	{"mark-bad", 0, cmd_mark_bad, "mark the booted slot bad so the bootloader falls back"},
};

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new("COMMAND [BUNDLE]");
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTarget) target = NULL;
	g_autoptr(GString) summary = g_string_new("Commands:\n");

	setlocale(LC_ALL, "");
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		g_string_append_printf(summary, "  %-10s %s\n", commands[i].name, commands[i].summary);
	g_option_context_set_summary(context, summary->str);
	g_option_context_add_main_entries(context, global_entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return usage(error->message);
	if (argc < 2)
		return usage("missing command");
	if (opt_output_format != NULL && !g_str_equal(opt_output_format, "json") &&
	    !g_str_equal(opt_output_format, "text"))
		return usage("--output-format must be text or json");
	ota_progress_enable(!opt_quiet && isatty(STDERR_FILENO));

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (!g_str_equal(argv[1], commands[i].name))
			continue;
		if (argc - 2 != commands[i].n_args)
			return usage(commands[i].n_args ? "give one BUNDLE" : "this command takes no arguments");
		target = open_target(&error);
		if (target == NULL)
			return fail(error);
		return commands[i].run(target, argv + 2);
	}
	return usage("unknown command");
}
