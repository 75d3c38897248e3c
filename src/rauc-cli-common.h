/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rauc's command line rules, shared by both programs run as `rauc`: otabundle
 * on the build host (rauc-cli.c) and otabundle-install on a device
 * (rauc-device-cli.c). rauc parses in two passes (src/main.c of RAUC 1.8 to
 * 1.15): the global options, to find the command; then the command's own
 * with the global ones again. Part of the programs, not the library:
 * parsing and printing only. */
#pragma once

#include <glib.h>

/* A command the program runs as rauc. A program's table entry starts with
 * one, so that rauc_cli_parse() can return the entry it found. */
typedef struct {
	const char *name;
	const char *usage;   /* its help's parameter line, and the "takes" of wrong usage */
	const char *summary; /* for the program's --help */
	int min_args, max_args;
	const GOptionEntry *entries; /* its own options, besides the global ones */
} RaucCliCommand;

/* A rauc command the program does not run, and where to go instead. */
typedef struct {
	const char *name;
	const char *instead;
} RaucCliElsewhere;

/* A program run as rauc: what both passes, --version and --help need to
 * know of it. */
typedef struct {
	const char *program; /* otabundle or otabundle-install: messages' prefix */
	const char *side;    /* host or device: whose command lines it takes */
	const char *about;   /* --help: what the program is as rauc */
	const char *options; /* --help: the global options, and what else to know */
	/* Accepted before and after the command; rauc_cli_parse() adds rauc's
	 * --version and --help after them. */
	const GOptionEntry *global_entries;
	/* The commands: n_commands entries of command_size bytes, each starting
	 * with a RaucCliCommand. */
	const void *commands;
	gsize n_commands;
	gsize command_size;
	const RaucCliElsewhere *elsewhere;
	gsize n_elsewhere;
} RaucCli;

/* RaucCli's table members, from the arrays themselves. */
#define RAUC_CLI_TABLES(command_table, elsewhere_table)                                    \
	.commands = (command_table), .n_commands = G_N_ELEMENTS(command_table),              \
	.command_size = sizeof((command_table)[0]), .elsewhere = (elsewhere_table),          \
	.n_elsewhere = G_N_ELEMENTS(elsewhere_table)

/* Wrong usage: "PROGRAM: message" and rauc's hint on stderr. Returns 2, the
 * exit status. */
int rauc_cli_usage_error(const char *program, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Parses the strv *@argv in rauc's two passes, taking out the options it
 * parses, and checks the number of the command's arguments. Returns the
 * program's table entry of the command, with its arguments (after the
 * command name, NULL-terminated) in *@args; NULL when there is nothing to
 * run: then *@exit_code is set and what to say was printed (help, version,
 * wrong usage, a command the program does not run). */
const RaucCliCommand *rauc_cli_parse(const RaucCli *cli, char ***argv, char ***args,
                                     int *exit_code);

/* RAUC's names for the PKCS#11 module and PIN (RAUC_PKCS11_MODULE,
 * RAUC_PKCS11_PIN), where otabundle's are not set: the library reads
 * otabundle's. A PIN is never put on a command line. */
void rauc_cli_map_pkcs11_environment(void);
