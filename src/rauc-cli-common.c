/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rauc's two passes over a command line, as RAUC's src/main.c makes them,
 * for both programs run as `rauc`. */
#include "rauc-cli-common.h"

#include <string.h>

#define EXIT_USAGE 2

static gboolean opt_version;
static gboolean opt_help;

/* The end of rauc's main entries, the same in both programs. */
static const GOptionEntry help_entries[] = {
	{"version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Display version", NULL},
	{"help", 'h', 0, G_OPTION_ARG_NONE, &opt_help, "Display help and exit", NULL},
	{NULL}};

int rauc_cli_usage_error(const char *program, const char *format, ...)
{
	va_list args;
	g_autofree char *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("%s: %s\nTry 'rauc --help'.\n", program, message);
	return EXIT_USAGE;
}

static const RaucCliCommand *command_at(const RaucCli *cli, gsize i)
{
	return (const void *)((const char *)cli->commands + i * cli->command_size);
}

static void print_help(const RaucCli *cli)
{
	int width = 0;

	for (gsize i = 0; i < cli->n_commands; i++)
		width = MAX(width, (int)strlen(command_at(cli, i)->name));
	g_print("Usage: rauc [OPTION...] <COMMAND> ...\n\n%s %s, run as rauc: %s\n\nCommands:\n",
	        cli->program, OTABUNDLE_VERSION, cli->about);
	for (gsize i = 0; i < cli->n_commands; i++)
		g_print("  %-*s %s\n", width + 1, command_at(cli, i)->name, command_at(cli, i)->summary);
	g_print("\nOptions before or after the command: %s\n", cli->options);
}

/* The first argument that is not an option: rauc's command (rauc's own
 * rule, after its first pass took the global options out). */
static const char *find_command(char **argv)
{
	for (char **a = argv + 1; *a; a++) {
		if ((*a)[0] != '-')
			return *a;
		if (g_str_equal(*a, "--"))
			return a[1];
	}
	return NULL;
}

static const RaucCliCommand *lookup(const RaucCli *cli, const char *name)
{
	for (gsize i = 0; i < cli->n_commands; i++) {
		if (g_str_equal(name, command_at(cli, i)->name))
			return command_at(cli, i);
	}
	return NULL;
}

/* The first pass: the global options, then the command, unless there is
 * none to run (help, version, a command the program leaves to the other). */
static const RaucCliCommand *parse_global(const RaucCli *cli, char ***argv, int *exit_code)
{
	g_autoptr(GOptionContext) global = g_option_context_new("<COMMAND>");
	g_autoptr(GError) error = NULL;
	const RaucCliCommand *command;
	const char *name;

	g_option_context_set_help_enabled(global, FALSE);
	g_option_context_set_ignore_unknown_options(global, TRUE);
	g_option_context_add_main_entries(global, cli->global_entries, NULL);
	g_option_context_add_main_entries(global, help_entries, NULL);
	if (!g_option_context_parse_strv(global, argv, &error)) {
		rauc_cli_usage_error(cli->program, "%s", error->message);
		return NULL;
	}
	name = find_command(*argv);
	if (name == NULL && opt_version) {
		g_print("%s %s (rauc %s command lines)\n", cli->program, OTABUNDLE_VERSION, cli->side);
		*exit_code = EXIT_SUCCESS;
		return NULL;
	}
	if (name == NULL && !opt_help) {
		rauc_cli_usage_error(cli->program, "no command given");
		return NULL;
	}
	if (name == NULL || g_str_equal(name, "help")) {
		print_help(cli);
		*exit_code = EXIT_SUCCESS;
		return NULL;
	}
	for (gsize i = 0; i < cli->n_elsewhere; i++) {
		if (g_str_equal(name, cli->elsewhere[i].name)) {
			g_printerr("%s: rauc %s %s\n", cli->program, name, cli->elsewhere[i].instead);
			return NULL;
		}
	}
	command = lookup(cli, name);
	if (command == NULL)
		rauc_cli_usage_error(cli->program, "unknown rauc command '%s'", name);
	return command;
}

const RaucCliCommand *rauc_cli_parse(const RaucCli *cli, char ***argv, char ***args,
                                     int *exit_code)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	const RaucCliCommand *command;
	int n_args;

	*exit_code = EXIT_USAGE;
	command = parse_global(cli, argv, exit_code);
	if (command == NULL)
		return NULL;

	context = g_option_context_new(command->usage);
	g_option_context_set_help_enabled(context, FALSE);
	g_option_context_add_main_entries(context, cli->global_entries, NULL);
	g_option_context_add_main_entries(context, help_entries, NULL);
	g_option_context_add_main_entries(context, command->entries, NULL);
	if (!g_option_context_parse_strv(context, argv, &error)) {
		rauc_cli_usage_error(cli->program, "%s", error->message);
		return NULL;
	}
	if (opt_help) {
		g_autofree char *help = g_option_context_get_help(context, TRUE, NULL);

		g_print("%s", help);
		*exit_code = EXIT_SUCCESS;
		return NULL;
	}
	/* What is left: the program, the command, its arguments. */
	n_args = (int)g_strv_length(*argv) - 2;
	if (n_args < command->min_args || n_args > command->max_args) {
		rauc_cli_usage_error(cli->program, "rauc %s takes %s", command->name, command->usage);
		return NULL;
	}
	*args = &(*argv)[2];
	return command;
}

void rauc_cli_map_pkcs11_environment(void)
{
	const char *module = g_getenv("OTABUNDLE_PKCS11_MODULE");
	const char *rauc_module = g_getenv("RAUC_PKCS11_MODULE");
	const char *rauc_pin = g_getenv("RAUC_PKCS11_PIN");

	if ((module == NULL || *module == '\0') && rauc_module != NULL && *rauc_module != '\0')
		g_setenv("OTABUNDLE_PKCS11_MODULE", rauc_module, TRUE);
	if (g_getenv("OTABUNDLE_PKCS11_PIN") == NULL && rauc_pin != NULL)
		g_setenv("OTABUNDLE_PKCS11_PIN", rauc_pin, TRUE);
}
