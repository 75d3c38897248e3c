/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bootloader-private.h"

#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>

#include "pki.h"

static const char *const bootnames[] = {"A", "B", NULL};

typedef struct {
	char *dir;
	OtaSystemConfig *config;
	char *fw_env_config; /* uboot */
} Fixture;

/* Filled by hand: the config parser is not what is tested here. */
static OtaSystemConfig *config_new(OtaBootloaderKind kind)
{
	OtaSystemConfig *c = g_new0(OtaSystemConfig, 1);

	c->bootloader = kind;
	c->compatible = g_strdup("test-device");
	return c;
}

static void config_free(OtaSystemConfig *c)
{
	g_free(c->compatible);
	g_free(c->data_directory);
	g_free(c->custom_backend);
	g_free(c->grubenv);
	g_free(c->uboot_config);
	g_free(c->barebox_statename);
	g_free(c->barebox_dtbpath);
	g_free(c);
}

static OtaBootloader *bootloader_new(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	OtaBootloader *bl = ota_bootloader_new(f->config, bootnames, &error);

	g_assert_no_error(error);
	g_assert_nonnull(bl);
	return bl;
}

/* Runs a command from PATH, asserts that it succeeds, returns its stdout. */
static char *run_ok(const char *first, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;
	char *out = NULL;
	int status;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
		g_ptr_array_add(argv, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(argv, NULL);

	g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
	                           &out, &err, &status, &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("%s failed: %s", first, err);
	return out;
}

static void assert_one_line_error(const GError *error)
{
	g_assert_nonnull(error);
	g_assert_null(strchr(error->message, '\n'));
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->fw_env_config);
	config_free(f->config);
}

/* --- common -------------------------------------------------------------- */

static void setup_file(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->config = config_new(OTA_BOOTLOADER_FILE);
	f->config->data_directory = g_build_filename(f->dir, "data", NULL);
}

static void test_bootname_that_is_not_a_variable_name_is_refused(void)
{
	static const char *const names[] = {"A", "B C", NULL};
	OtaSystemConfig *config = config_new(OTA_BOOTLOADER_FILE);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBootloader) bl = NULL;

	config->data_directory = g_strdup("/nonexistent");
	bl = ota_bootloader_new(config, names, &error);
	g_assert_null(bl);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'B C'"));
	config_free(config);
}

static void test_duplicate_bootname_is_refused(void)
{
	static const char *const names[] = {"A", "A", NULL};
	OtaSystemConfig *config = config_new(OTA_BOOTLOADER_FILE);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBootloader) bl = NULL;

	config->data_directory = g_strdup("/nonexistent");
	bl = ota_bootloader_new(config, names, &error);
	g_assert_null(bl);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	config_free(config);
}

static void test_custom_backend_without_script_is_refused(void)
{
	OtaSystemConfig *config = config_new(OTA_BOOTLOADER_CUSTOM);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBootloader) bl = ota_bootloader_new(config, bootnames, &error);

	g_assert_null(bl);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "bootloader-custom-backend"));
	config_free(config);
}

static void test_grub_backend_without_grubenv_is_refused(void)
{
	OtaSystemConfig *config = config_new(OTA_BOOTLOADER_GRUB);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBootloader) bl = ota_bootloader_new(config, bootnames, &error);

	g_assert_null(bl);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "grubenv"));
	config_free(config);
}

/* --- file ---------------------------------------------------------------- */

static char *state_path(Fixture *f)
{
	return g_build_filename(f->config->data_directory, "bootloader.state", NULL);
}

static void write_state_file(Fixture *f, const char *content)
{
	g_autofree char *path = state_path(f);

	g_assert_cmpint(g_mkdir_with_parents(f->config->data_directory, 0755), ==, 0);
	g_assert_true(g_file_set_contents(path, content, -1, NULL));
}

static void test_file_first_boot_primary_is_first_bootname(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = ota_bootloader_get_primary(bl, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "A");
	/* Reading never creates the state. */
	g_assert_false(g_file_test(f->config->data_directory, G_FILE_TEST_EXISTS));
}

static void test_file_set_primary_creates_data_directory_and_state_file(Fixture *f,
                                                                         gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GDir) dir = NULL;
	g_autofree char *path = state_path(f);
	g_autofree char *primary = NULL;
	g_autofree char *state = NULL;
	guint entries = 0;

	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_true(g_key_file_load_from_file(kf, path, 0, &error));
	g_assert_no_error(error);
	primary = g_key_file_get_string(kf, "bootloader", "primary", NULL);
	state = g_key_file_get_string(kf, "slot.B", "state", NULL);
	g_assert_cmpstr(primary, ==, "B");
	g_assert_cmpstr(state, ==, "good");

	/* Written through a temporary file: nothing but the state is left. */
	dir = g_dir_open(f->config->data_directory, 0, NULL);
	while (g_dir_read_name(dir) != NULL)
		entries++;
	g_assert_cmpuint(entries, ==, 1);
}

static void test_file_bad_primary_loses_primary(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *again = NULL;

	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_BAD, &error));
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "A");

	/* Marking it good again doesn't make it primary: only set_primary does. */
	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_GOOD, &error));
	again = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again, ==, "A");
}

static void test_file_all_slots_bad_has_no_primary(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	g_assert_true(ota_bootloader_set_state(bl, "A", OTA_SLOT_STATE_BAD, &error));
	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_BAD, &error));
	g_assert_no_error(error);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
}

static void test_file_unknown_primary_in_state_file_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	write_state_file(f, "[bootloader]\nprimary=C\n");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'C'"));
}

static void test_file_unknown_state_in_state_file_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	OtaSlotState state;

	write_state_file(f, "[slot.A]\nstate=maybe\n");
	g_assert_false(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'maybe'"));
}

static void test_file_corrupt_state_file_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = state_path(f);

	write_state_file(f, "this is not an ini file\n");
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, path));
}

static void test_file_data_directory_that_cannot_be_created_fails_clearly(Fixture *f,
                                                                           gconstpointer data)
{
	g_autofree char *blocker = g_build_filename(f->dir, "blocker", NULL);
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(blocker, "", 0, NULL));
	g_free(f->config->data_directory);
	f->config->data_directory = g_build_filename(blocker, "data", NULL);
	bl = bootloader_new(f);
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, f->config->data_directory));
	assert_one_line_error(error);
}

/* --- custom -------------------------------------------------------------- */

/* A stand-in for a device's script: RAUC's custom backend interface with
 * the contract's semantics (set-primary makes a slot good, a bad primary
 * hands over to a good slot), its state in files next to itself, its
 * arguments logged. */
static const char custom_script[] =
	"#!/bin/sh\n"
	"dir=\"$(dirname \"$0\")\"\n"
	"echo \"$*\" >> \"$dir/calls\"\n"
	"state() { cat \"$dir/state.$1\" 2>/dev/null; }\n"
	"case \"$1\" in\n"
	"get-primary)\n"
	"  if [ \"$(state \"$(cat \"$dir/primary\")\")\" = bad ]; then\n"
	"    echo 'no slot is good' >&2; exit 1\n"
	"  fi\n"
	"  cat \"$dir/primary\" ;;\n"
	"set-primary) echo \"$2\" > \"$dir/primary\"; echo good > \"$dir/state.$2\" ;;\n"
	"get-state) cat \"$dir/state.$2\" ;;\n"
	"set-state)\n"
	"  echo \"$3\" > \"$dir/state.$2\"\n"
	"  if [ \"$3\" = bad ] && [ \"$(cat \"$dir/primary\")\" = \"$2\" ]; then\n"
	"    for slot in A B; do\n"
	"      if [ \"$(state $slot)\" = good ]; then echo $slot > \"$dir/primary\"; break; fi\n"
	"    done\n"
	"  fi ;;\n"
	"get-current) cat \"$dir/current\" ;;\n"
	"*) echo \"unknown command $1\" >&2; exit 2 ;;\n"
	"esac\n";

static void write_script(const char *path, const char *content)
{
	g_assert_true(g_file_set_contents(path, content, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
}

static void write_in_dir(Fixture *f, const char *name, const char *content)
{
	g_autofree char *path = g_build_filename(f->dir, name, NULL);

	g_assert_true(g_file_set_contents(path, content, -1, NULL));
}

static char *read_in_dir(Fixture *f, const char *name)
{
	g_autofree char *path = g_build_filename(f->dir, name, NULL);
	char *content = NULL;

	g_assert_true(g_file_get_contents(path, &content, NULL, NULL));
	return content;
}

static void setup_custom(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->config = config_new(OTA_BOOTLOADER_CUSTOM);
	f->config->custom_backend = g_build_filename(f->dir, "backend.sh", NULL);
	write_script(f->config->custom_backend, custom_script);
	write_in_dir(f, "primary", "A\n");
	write_in_dir(f, "state.A", "good\n");
	write_in_dir(f, "state.B", "good\n");
}

static void test_custom_get_primary_returns_trimmed_script_output(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *calls = NULL;

	write_in_dir(f, "primary", "  B \n\n");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
	calls = read_in_dir(f, "calls");
	g_assert_cmpstr(calls, ==, "get-primary\n");
}

static void test_custom_set_primary_passes_bootname_as_rauc_does(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *calls = NULL;

	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_no_error(error);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
	calls = read_in_dir(f, "calls");
	g_assert_cmpstr(calls, ==, "set-primary B\nget-primary\n");
}

static void test_custom_set_state_round_trips_with_rauc_arguments(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *calls = NULL;
	OtaSlotState state;

	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_BAD, &error));
	g_assert_true(ota_bootloader_get_state(bl, "B", &state, &error));
	g_assert_no_error(error);
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_BAD);
	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_GOOD, &error));
	g_assert_true(ota_bootloader_get_state(bl, "B", &state, &error));
	g_assert_no_error(error);
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_GOOD);
	calls = read_in_dir(f, "calls");
	g_assert_cmpstr(calls, ==, "set-state B bad\nget-state B\nset-state B good\nget-state B\n");
}

static void test_custom_get_current_returns_booted_slot(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;

	write_in_dir(f, "current", "B\n");
	booted = ota_bootloader_get_booted(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(booted, ==, "B");
}

static void test_custom_unknown_bootname_from_script_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	write_in_dir(f, "primary", "C\n");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'C'"));
}

static void test_custom_unknown_bootname_from_get_current_is_rejected(Fixture *f,
                                                                       gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;

	write_in_dir(f, "current", "rescue\n");
	booted = ota_bootloader_get_booted(bl, &error);
	g_assert_null(booted);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'rescue'"));
}

static void test_custom_state_other_than_good_or_bad_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	OtaSlotState state;

	write_in_dir(f, "state.A", "pending\n");
	g_assert_false(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'pending'"));
}

static void test_custom_failing_script_error_names_script_and_last_stderr_line(
	Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;

	write_script(f->config->custom_backend, "#!/bin/sh\n"
	                                        "echo 'reading env' >&2\n"
	                                        "echo 'env partition unreadable' >&2\n"
	                                        "exit 3\n");
	bl = bootloader_new(f);
	g_assert_false(ota_bootloader_set_state(bl, "A", OTA_SLOT_STATE_BAD, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, f->config->custom_backend));
	g_assert_nonnull(strstr(error->message, "set-state A bad"));
	g_assert_nonnull(strstr(error->message, "exit status 3"));
	g_assert_nonnull(strstr(error->message, "env partition unreadable"));
	g_assert_null(strstr(error->message, "reading env"));
	assert_one_line_error(error);
}

static void test_custom_missing_script_fails_clearly(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	g_assert_cmpint(g_unlink(f->config->custom_backend), ==, 0);
	bl = bootloader_new(f);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, f->config->custom_backend));
	assert_one_line_error(error);
}

/* --- uboot --------------------------------------------------------------- */

static void uboot_set(Fixture *f, const char *name, const char *value)
{
	g_free(run_ok("fw_setenv", "-c", f->fw_env_config, name, value, NULL));
}

static void uboot_unset(Fixture *f, const char *name)
{
	g_free(run_ok("fw_setenv", "-c", f->fw_env_config, name, NULL));
}

static char *uboot_get(Fixture *f, const char *name)
{
	char *out = run_ok("fw_printenv", "-c", f->fw_env_config, "-n", name, NULL);

	return g_strchomp(out);
}

/* An environment in a plain file. libubootenv refuses a file with a bad
 * CRC unless given a default environment (-f), so the first write gets an
 * empty one; the file itself must exist. */
static void setup_uboot(Fixture *f, gconstpointer data)
{
	g_autofree char *env = NULL;
	g_autofree char *defenv = NULL;
	g_autofree char *line = NULL;
	g_autofree char *out = NULL;

	f->dir = test_tmpdir_new();
	env = g_build_filename(f->dir, "uboot.env", NULL);
	defenv = g_build_filename(f->dir, "default.env", NULL);
	f->fw_env_config = g_build_filename(f->dir, "fw_env.config", NULL);
	line = g_strdup_printf("%s 0x0000 0x4000\n", env);
	g_assert_true(g_file_set_contents(f->fw_env_config, line, -1, NULL));
	g_assert_true(g_file_set_contents(env, "", 0, NULL));
	g_assert_true(g_file_set_contents(defenv, "", 0, NULL));
	out = run_ok("fw_setenv", "-c", f->fw_env_config, "-f", defenv, "BOOT_ORDER", "A B", NULL);
	uboot_set(f, "BOOT_A_LEFT", "3");
	uboot_set(f, "BOOT_B_LEFT", "3");

	f->config = config_new(OTA_BOOTLOADER_UBOOT);
	f->config->uboot_config = g_strdup(f->fw_env_config);
}

static void test_uboot_primary_is_first_in_boot_order(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	uboot_set(f, "BOOT_ORDER", "B A");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_uboot_primary_skips_slot_without_attempts_left(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	uboot_set(f, "BOOT_A_LEFT", "0");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_uboot_set_primary_moves_slot_to_front_with_three_attempts(Fixture *f,
                                                                            gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *order = NULL;
	g_autofree char *left = NULL;

	uboot_set(f, "BOOT_B_LEFT", "1");
	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_no_error(error);
	order = uboot_get(f, "BOOT_ORDER");
	left = uboot_get(f, "BOOT_B_LEFT");
	g_assert_cmpstr(order, ==, "B A");
	g_assert_cmpstr(left, ==, "3");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_uboot_set_primary_creates_missing_boot_order(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *order = NULL;

	uboot_unset(f, "BOOT_ORDER");
	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_no_error(error);
	order = uboot_get(f, "BOOT_ORDER");
	g_assert_cmpstr(order, ==, "B A");
}

static void test_uboot_set_state_bad_zeroes_attempts_and_moves_slot_last(Fixture *f,
                                                                          gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *order = NULL;
	g_autofree char *left = NULL;
	OtaSlotState state;

	g_assert_true(ota_bootloader_set_state(bl, "A", OTA_SLOT_STATE_BAD, &error));
	g_assert_no_error(error);
	order = uboot_get(f, "BOOT_ORDER");
	left = uboot_get(f, "BOOT_A_LEFT");
	g_assert_cmpstr(order, ==, "B A");
	g_assert_cmpstr(left, ==, "0");
	g_assert_true(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_BAD);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_uboot_set_state_good_restores_three_attempts(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *left = NULL;
	OtaSlotState state;

	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_BAD, &error));
	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_GOOD, &error));
	g_assert_no_error(error);
	left = uboot_get(f, "BOOT_B_LEFT");
	g_assert_cmpstr(left, ==, "3");
	g_assert_true(ota_bootloader_get_state(bl, "B", &state, &error));
	g_assert_no_error(error);
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_GOOD);
}

static void test_uboot_unknown_bootname_in_boot_order_is_rejected(Fixture *f,
                                                                   gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	uboot_set(f, "BOOT_ORDER", "C A B");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'C'"));
}

static void test_uboot_attempts_that_are_not_a_number_are_rejected(Fixture *f,
                                                                    gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	OtaSlotState state;

	uboot_set(f, "BOOT_A_LEFT", "three");
	g_assert_false(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "BOOT_A_LEFT"));
}

static void test_uboot_missing_boot_order_is_reported(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	uboot_unset(f, "BOOT_ORDER");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "BOOT_ORDER"));
}

static void test_uboot_unreadable_environment_gives_one_clear_error(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *env = g_build_filename(f->dir, "uboot.env", NULL);

	/* A corrupted environment: the CRC no longer matches. */
	g_assert_true(g_file_set_contents(env, "garbage", -1, NULL));
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "fw_printenv"));
	g_assert_nonnull(strstr(error->message, f->fw_env_config));
	assert_one_line_error(error);
}

static void test_uboot_missing_environment_configuration_is_reported(Fixture *f,
                                                                      gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	OtaSlotState state;

	g_assert_cmpint(g_unlink(f->fw_env_config), ==, 0);
	bl = bootloader_new(f);
	g_assert_false(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, f->fw_env_config));
	g_assert_nonnull(strstr(error->message, "does not exist"));
}

/* The real tools are test dependencies (contrib/install-deps.sh --tests):
 * without them the backend would go untested, so that is a failure. */
static void test_uboot_tools_are_missing(void)
{
	g_test_fail_printf("fw_printenv/fw_setenv (libubootenv-tool) not installed: run "
	                   "contrib/install-deps.sh --tests");
}

/* --- grub ---------------------------------------------------------------- */

static void grub_set(Fixture *f, const char *assignment)
{
	g_free(run_ok("grub-editenv", f->config->grubenv, "set", assignment, NULL));
}

static char *grub_get(Fixture *f, const char *name)
{
	g_autofree char *out = run_ok("grub-editenv", f->config->grubenv, "list", NULL);
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	g_autofree char *prefix = g_strdup_printf("%s=", name);

	for (char **l = lines; *l; l++) {
		if (g_str_has_prefix(*l, prefix))
			return g_strdup(*l + strlen(prefix));
	}
	return NULL;
}

static void setup_grub(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	f->dir = test_tmpdir_new();
	f->config = config_new(OTA_BOOTLOADER_GRUB);
	f->config->grubenv = g_build_filename(f->dir, "grubenv", NULL);
	out = run_ok("grub-editenv", f->config->grubenv, "create", NULL);
	g_free(out);
	out = run_ok("grub-editenv", f->config->grubenv, "set", "ORDER=A B", "A_OK=1", "A_TRY=0",
	             "B_OK=1", "B_TRY=0", NULL);
}

static void test_grub_primary_is_first_ok_slot_in_order(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	grub_set(f, "ORDER=B A");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_grub_primary_skips_slot_being_tried(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	grub_set(f, "A_TRY=1");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_grub_set_primary_puts_slot_first_ok_and_untried(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *order = NULL;
	g_autofree char *ok = NULL;
	g_autofree char *try = NULL;

	grub_set(f, "B_OK=0");
	grub_set(f, "B_TRY=1");
	g_assert_true(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_no_error(error);
	order = grub_get(f, "ORDER");
	ok = grub_get(f, "B_OK");
	try = grub_get(f, "B_TRY");
	g_assert_cmpstr(order, ==, "B A");
	g_assert_cmpstr(ok, ==, "1");
	g_assert_cmpstr(try, ==, "0");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, "B");
}

static void test_grub_set_state_round_trips(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *ok = NULL;
	g_autofree char *try = NULL;
	OtaSlotState state;

	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_BAD, &error));
	g_assert_no_error(error);
	ok = grub_get(f, "B_OK");
	try = grub_get(f, "B_TRY");
	g_assert_cmpstr(ok, ==, "0");
	g_assert_cmpstr(try, ==, "0");
	g_assert_true(ota_bootloader_get_state(bl, "B", &state, &error));
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_BAD);

	g_assert_true(ota_bootloader_set_state(bl, "B", OTA_SLOT_STATE_GOOD, &error));
	g_assert_no_error(error);
	g_free(ok);
	ok = grub_get(f, "B_OK");
	g_assert_cmpstr(ok, ==, "1");
	g_assert_true(ota_bootloader_get_state(bl, "B", &state, &error));
	g_assert_cmpint(state, ==, OTA_SLOT_STATE_GOOD);
}

static void test_grub_unknown_bootname_in_order_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	grub_set(f, "ORDER=X A B");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'X'"));
}

static void test_grub_missing_grubenv_is_an_error_and_stays_missing(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	/* grub-editenv itself would create it, even for "list". */
	g_assert_cmpint(g_unlink(f->config->grubenv), ==, 0);
	bl = bootloader_new(f);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, f->config->grubenv));
	g_assert_false(g_file_test(f->config->grubenv, G_FILE_TEST_EXISTS));
}

static void test_grub_corrupt_grubenv_gives_one_clear_error(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(f->config->grubenv, "garbage\n", -1, NULL));
	g_assert_false(ota_bootloader_set_state(bl, "A", OTA_SLOT_STATE_GOOD, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "grub-editenv"));
	g_assert_nonnull(strstr(error->message, "invalid environment block"));
	assert_one_line_error(error);
}

static void test_grub_tools_are_missing(void)
{
	g_test_fail_printf("grub-editenv (grub-common) not installed: run "
	                   "contrib/install-deps.sh --tests");
}

/* --- the contract every backend keeps ------------------------------------ */

/* Each test below is registered once per backend, whose setup leaves it in
 * its fresh state: A and B good, A primary, the booted slot unknown. */

static void assert_primary(OtaBootloader *bl, const char *expected)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = ota_bootloader_get_primary(bl, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(primary, ==, expected);
}

static void assert_state(OtaBootloader *bl, const char *bootname, OtaSlotState expected)
{
	g_autoptr(GError) error = NULL;
	OtaSlotState state = expected == OTA_SLOT_STATE_GOOD ? OTA_SLOT_STATE_BAD : OTA_SLOT_STATE_GOOD;

	g_assert_true(ota_bootloader_get_state(bl, bootname, &state, &error));
	g_assert_no_error(error);
	g_assert_cmpint(state, ==, expected);
}

static void set_state_ok(OtaBootloader *bl, const char *bootname, OtaSlotState state)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bootloader_set_state(bl, bootname, state, &error));
	g_assert_no_error(error);
}

static void set_primary_ok(OtaBootloader *bl, const char *bootname)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bootloader_set_primary(bl, bootname, &error));
	g_assert_no_error(error);
}

static void test_fresh_primary_is_first_bootname(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	assert_primary(bl, "A");
}

static void test_fresh_every_slot_is_good(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	assert_state(bl, "A", OTA_SLOT_STATE_GOOD);
	assert_state(bl, "B", OTA_SLOT_STATE_GOOD);
}

/* The installer then asks the kernel command line. */
static void test_fresh_booted_is_unknown_without_error(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = ota_bootloader_get_booted(bl, &error);

	g_assert_no_error(error);
	g_assert_null(booted);
}

static void test_set_primary_then_get_primary_returns_it(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_primary_ok(bl, "B");
	assert_primary(bl, "B");
}

/* An install marks its target bad before writing it, then makes it primary. */
static void test_set_primary_makes_a_bad_slot_good_and_primary(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	set_primary_ok(bl, "B");
	assert_state(bl, "B", OTA_SLOT_STATE_GOOD);
	assert_primary(bl, "B");
}

/* The slot left behind stays the fallback. */
static void test_set_primary_leaves_the_other_slot_good(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_primary_ok(bl, "B");
	assert_state(bl, "A", OTA_SLOT_STATE_GOOD);
}

static void test_set_state_bad_then_get_state_is_bad(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	assert_state(bl, "B", OTA_SLOT_STATE_BAD);
	assert_state(bl, "A", OTA_SLOT_STATE_GOOD);
}

static void test_set_state_good_after_bad_then_get_state_is_good(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	set_state_ok(bl, "B", OTA_SLOT_STATE_GOOD);
	assert_state(bl, "B", OTA_SLOT_STATE_GOOD);
}

static void test_bad_primary_loses_primary_to_the_good_slot(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_state_ok(bl, "A", OTA_SLOT_STATE_BAD);
	assert_primary(bl, "B");
}

static void test_all_slots_bad_has_no_primary(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	set_state_ok(bl, "A", OTA_SLOT_STATE_BAD);
	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_true(error != NULL && error->domain == OTA_BOOTLOADER_ERROR);
	assert_one_line_error(error);
}

/* What one instance writes is what the next boot reads. */
static void test_state_survives_a_new_bootloader_instance(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) writer = bootloader_new(f);
	g_autoptr(OtaBootloader) reader = NULL;

	set_primary_ok(writer, "B");
	set_state_ok(writer, "A", OTA_SLOT_STATE_BAD);
	reader = bootloader_new(f);
	assert_primary(reader, "B");
	assert_state(reader, "A", OTA_SLOT_STATE_BAD);
}

static void assert_unconfigured_bootname_error(GError *error)
{
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'C'"));
}

static void test_unconfigured_bootname_argument_is_refused_unchanged(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) set_primary_error = NULL;
	g_autoptr(GError) get_state_error = NULL;
	g_autoptr(GError) set_state_error = NULL;
	OtaSlotState state;

	g_assert_false(ota_bootloader_set_primary(bl, "C", &set_primary_error));
	assert_unconfigured_bootname_error(set_primary_error);
	g_assert_false(ota_bootloader_get_state(bl, "C", &state, &get_state_error));
	assert_unconfigured_bootname_error(get_state_error);
	g_assert_false(ota_bootloader_set_state(bl, "C", OTA_SLOT_STATE_BAD, &set_state_error));
	assert_unconfigured_bootname_error(set_state_error);
	assert_primary(bl, "A");
}

typedef void (*FixtureFunc)(Fixture *f, gconstpointer data);

static const struct {
	const char *name;
	FixtureFunc test;
} contract_tests[] = {
	{"fresh-primary-is-first-bootname", test_fresh_primary_is_first_bootname},
	{"fresh-every-slot-is-good", test_fresh_every_slot_is_good},
	{"fresh-booted-is-unknown-without-error", test_fresh_booted_is_unknown_without_error},
	{"set-primary-then-get-primary-returns-it", test_set_primary_then_get_primary_returns_it},
	{"set-primary-makes-a-bad-slot-good-and-primary",
	 test_set_primary_makes_a_bad_slot_good_and_primary},
	{"set-primary-leaves-the-other-slot-good", test_set_primary_leaves_the_other_slot_good},
	{"set-state-bad-then-get-state-is-bad", test_set_state_bad_then_get_state_is_bad},
	{"set-state-good-after-bad-then-get-state-is-good",
	 test_set_state_good_after_bad_then_get_state_is_good},
	{"bad-primary-loses-primary-to-the-good-slot", test_bad_primary_loses_primary_to_the_good_slot},
	{"all-slots-bad-has-no-primary", test_all_slots_bad_has_no_primary},
	{"state-survives-a-new-bootloader-instance", test_state_survives_a_new_bootloader_instance},
	{"unconfigured-bootname-argument-is-refused-unchanged",
	 test_unconfigured_bootname_argument_is_refused_unchanged},
};

/* @setup leaves the backend in its fresh state. */
static void add_contract_tests(const char *backend, FixtureFunc setup)
{
	for (gsize i = 0; i < G_N_ELEMENTS(contract_tests); i++) {
		g_autofree char *path =
			g_strdup_printf("/bootloader/%s/contract/%s", backend, contract_tests[i].name);

		g_test_add(path, Fixture, NULL, setup, contract_tests[i].test, teardown);
	}
}

/* --- uboot: settings the contract does not cover ---------------------- */

/* U-Boot's setexpr counts in hex, and RAUC writes the attempts so. */
static void test_uboot_boot_attempts_are_configurable_and_hexadecimal(Fixture *f,
                                                                      gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autofree char *primary_left = NULL;
	g_autofree char *good_left = NULL;

	f->config->boot_attempts = 12;
	f->config->boot_attempts_primary = 10;
	bl = bootloader_new(f);
	set_primary_ok(bl, "B");
	primary_left = uboot_get(f, "BOOT_B_LEFT");
	g_assert_cmpstr(primary_left, ==, "a");
	set_state_ok(bl, "A", OTA_SLOT_STATE_GOOD);
	good_left = uboot_get(f, "BOOT_A_LEFT");
	g_assert_cmpstr(good_left, ==, "c");
	assert_state(bl, "B", OTA_SLOT_STATE_GOOD);
}

/* --- barebox (through test/bin/barebox-state, a stand-in on a file) ------ */

/* The fresh state of a two-target bootchooser: A first. */
static const char barebox_fresh[] =
	"{\"states\": {\"state\": {\"bootstate.A.priority\": 20, "
	"\"bootstate.A.remaining_attempts\": 3, \"bootstate.B.priority\": 10, "
	"\"bootstate.B.remaining_attempts\": 3}}}";

/* The stand-ins' files, named in their environment variables once, in
 * main(): setenv() is not safe once GLib runs threads. Each setup writes
 * them afresh. */
static char *stand_in_dir;

static char *barebox_state_file(void)
{
	return g_build_filename(stand_in_dir, "barebox-state.json", NULL);
}

/* A state file of a stand-in, and its log of calls, made afresh. */
static void write_stand_in_file(const char *path, const char *json)
{
	g_autofree char *log = g_strdup_printf("%s.calls", path);

	g_assert_true(g_file_set_contents(path, json, -1, NULL));
	(void)g_unlink(log);
}

static void write_barebox_state(Fixture *f, const char *json)
{
	g_autofree char *path = barebox_state_file();

	g_assert_true(g_file_set_contents(path, json, -1, NULL));
}

static void setup_barebox(Fixture *f, gconstpointer data)
{
	g_autofree char *path = NULL;

	f->dir = test_tmpdir_new();
	f->config = config_new(OTA_BOOTLOADER_BAREBOX);
	path = barebox_state_file();
	write_stand_in_file(path, barebox_fresh);
}

static guint64 barebox_get(const char *var)
{
	g_autofree char *out = run_ok("barebox-state", "-g", var, NULL);
	guint64 value;

	g_assert_true(g_ascii_string_to_unsigned(g_strstrip(out), 10, 0, G_MAXUINT32, &value, NULL));
	return value;
}

/* The arguments of the last call of the stand-in. */
static char *last_call(const char *state_file_name)
{
	g_autofree char *path = g_strdup_printf("%s/%s.calls", stand_in_dir, state_file_name);
	g_autofree char *calls = NULL;
	g_auto(GStrv) lines = NULL;
	guint n;

	g_assert_true(g_file_get_contents(path, &calls, NULL, NULL));
	lines = g_strsplit(g_strchomp(calls), "\n", -1);
	n = g_strv_length(lines);
	g_assert_cmpuint(n, >, 0);
	return g_strdup(lines[n - 1]);
}

static void test_barebox_set_primary_writes_rauc_priorities_and_attempts(Fixture *f,
                                                                          gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	write_barebox_state(f, "{\"states\": {\"state\": {\"bootstate.A.priority\": 20, "
	                       "\"bootstate.A.remaining_attempts\": 2, \"bootstate.B.priority\": 0, "
	                       "\"bootstate.B.remaining_attempts\": 0}}}");
	set_primary_ok(bl, "B");
	g_assert_cmpuint(barebox_get("bootstate.B.priority"), ==, 20);
	g_assert_cmpuint(barebox_get("bootstate.B.remaining_attempts"), ==, 3);
	g_assert_cmpuint(barebox_get("bootstate.A.priority"), ==, 10);
	g_assert_cmpuint(barebox_get("bootstate.A.remaining_attempts"), ==, 2);
}

static void test_barebox_set_primary_leaves_a_disabled_slot_disabled(Fixture *f,
                                                                      gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_primary_ok(bl, "A");
	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	set_primary_ok(bl, "A");
	g_assert_cmpuint(barebox_get("bootstate.B.priority"), ==, 0);
	g_assert_cmpuint(barebox_get("bootstate.B.remaining_attempts"), ==, 0);
}

static void test_barebox_set_state_bad_zeroes_priority_and_attempts(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	g_autofree char *call = NULL;

	set_state_ok(bl, "A", OTA_SLOT_STATE_BAD);
	call = last_call("barebox-state.json");
	g_assert_cmpstr(call, ==, "-s bootstate.A.priority=0 -s bootstate.A.remaining_attempts=0");
	g_assert_cmpuint(barebox_get("bootstate.A.priority"), ==, 0);
	g_assert_cmpuint(barebox_get("bootstate.A.remaining_attempts"), ==, 0);
}

/* RAUC's mark-good resets the attempts only: the priority stays. */
static void test_barebox_set_state_good_resets_attempts_only(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	write_barebox_state(f, "{\"states\": {\"state\": {\"bootstate.A.priority\": 10, "
	                       "\"bootstate.A.remaining_attempts\": 3, \"bootstate.B.priority\": 20, "
	                       "\"bootstate.B.remaining_attempts\": 1}}}");
	g_autofree char *call = NULL;

	set_state_ok(bl, "B", OTA_SLOT_STATE_GOOD);
	call = last_call("barebox-state.json");
	g_assert_cmpstr(call, ==, "-s bootstate.B.remaining_attempts=3");
	g_assert_cmpuint(barebox_get("bootstate.B.remaining_attempts"), ==, 3);
	g_assert_cmpuint(barebox_get("bootstate.B.priority"), ==, 20);
}

static void test_barebox_boot_attempts_are_configurable(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;

	f->config->boot_attempts = 5;
	f->config->boot_attempts_primary = 7;
	bl = bootloader_new(f);
	set_primary_ok(bl, "B");
	g_assert_cmpuint(barebox_get("bootstate.B.remaining_attempts"), ==, 7);
	set_state_ok(bl, "B", OTA_SLOT_STATE_GOOD);
	g_assert_cmpuint(barebox_get("bootstate.B.remaining_attempts"), ==, 5);
}

static void test_barebox_primary_is_highest_priority_with_attempts_left(Fixture *f,
                                                                          gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	write_barebox_state(f, "{\"states\": {\"state\": {\"bootstate.A.priority\": 20, "
	                       "\"bootstate.A.remaining_attempts\": 0, \"bootstate.B.priority\": 10, "
	                       "\"bootstate.B.remaining_attempts\": 1}}}");
	assert_primary(bl, "B");
	assert_state(bl, "A", OTA_SLOT_STATE_BAD);
}

static void test_barebox_statename_and_dtbpath_are_passed_as_rauc_passes_them(
	Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autofree char *call = NULL;
	g_autofree char *expected = NULL;

	write_barebox_state(f, "{\"states\": {\"system\": {\"bootstate.A.priority\": 20, "
	                       "\"bootstate.A.remaining_attempts\": 3, \"bootstate.B.priority\": 10, "
	                       "\"bootstate.B.remaining_attempts\": 3}}}");
	f->config->barebox_statename = g_strdup("system");
	f->config->barebox_dtbpath = g_build_filename(f->dir, "state.dtb", NULL);
	g_assert_true(g_file_set_contents(f->config->barebox_dtbpath, "", 0, NULL));
	bl = bootloader_new(f);
	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	expected = g_strdup_printf("-n system -s bootstate.B.priority=0 "
	                           "-s bootstate.B.remaining_attempts=0 -i %s",
	                           f->config->barebox_dtbpath);
	call = last_call("barebox-state.json");
	g_assert_cmpstr(call, ==, expected);
	assert_primary(bl, "A");
}

/* RAUC reads either; bootchooser passes the first. */
static void test_barebox_booted_slot_is_read_from_bootchooser_active(Fixture *f,
                                                                     gconstpointer data)
{
	static const char *const cmdlines[] = {
		"console=ttymxc1,115200 root=/dev/mmcblk1p3 bootchooser.active=B rootwait\n",
		"bootstate.active=B quiet\n",
	};
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autofree char *path = g_build_filename(f->dir, "cmdline", NULL);

	for (gsize i = 0; i < G_N_ELEMENTS(cmdlines); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *booted = NULL;

		g_assert_true(g_file_set_contents(path, cmdlines[i], -1, NULL));
		booted = ota_bootloader_booted_from_cmdline(bl, path, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(booted, ==, "B");
	}
}

static void test_barebox_bootchooser_active_that_is_no_bootname_is_rejected(Fixture *f,
                                                                            gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autofree char *path = g_build_filename(f->dir, "cmdline", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;

	g_assert_true(g_file_set_contents(path, "bootchooser.active=recovery\n", -1, NULL));
	booted = ota_bootloader_booted_from_cmdline(bl, path, &error);
	g_assert_null(booted);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "'recovery'"));
}

/* Only barebox's bootchooser passes it. */
static void test_bootchooser_active_means_nothing_to_other_backends(Fixture *f,
                                                                    gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autofree char *path = g_build_filename(f->dir, "cmdline", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;

	g_assert_true(g_file_set_contents(path, "bootchooser.active=B\n", -1, NULL));
	booted = ota_bootloader_booted_from_cmdline(bl, path, &error);
	g_assert_no_error(error);
	g_assert_null(booted);
}

static void test_barebox_value_that_is_not_a_number_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *primary = NULL;

	write_barebox_state(f, "{\"states\": {\"state\": {\"bootstate.A.priority\": \"high\", "
	                       "\"bootstate.A.remaining_attempts\": 3, \"bootstate.B.priority\": 10, "
	                       "\"bootstate.B.remaining_attempts\": 3}}}");
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "bootstate.A.priority"));
	g_assert_nonnull(strstr(error->message, "'high'"));
}

static void test_barebox_failing_tool_gives_one_line_error(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);
	g_autoptr(GError) error = NULL;

	write_barebox_state(f, "{\"read-only\": true, \"states\": {\"state\": {"
	                       "\"bootstate.A.priority\": 20, \"bootstate.A.remaining_attempts\": 3, "
	                       "\"bootstate.B.priority\": 10, \"bootstate.B.remaining_attempts\": 3}}}");
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "barebox-state"));
	g_assert_nonnull(strstr(error->message, "Read-only file system"));
	assert_one_line_error(error);
	assert_primary(bl, "A");
}

/* --- efi (through test/bin/efibootmgr, a stand-in on a file) ------------- */

/* Entries as firmware lists them: device paths after a tab, one not a
 * slot's; no BootCurrent (the contract's fresh state knows no booted slot). */
static const char efi_fresh[] =
	"{\"BootOrder\": [\"0001\", \"0002\", \"0000\"], \"Timeout\": 1, \"entries\": {"
	"\"0000\": {\"label\": \"UiApp\", \"path\": \"FvVol(7cb8bdc9)/FvFile(462caa21)\"}, "
	"\"0001\": {\"label\": \"A\", \"path\": \"HD(2,GPT,aa,0x800,0x1000)/File(\\\\EFI\\\\A.EFI)\"}, "
	"\"0002\": {\"label\": \"B\", \"path\": \"HD(3,GPT,bb,0x1800,0x1000)/File(\\\\EFI\\\\B.EFI)\"}}}";

static char *efi_state_file(void)
{
	return g_build_filename(stand_in_dir, "efivars.json", NULL);
}

static void write_efi_state(Fixture *f, const char *json)
{
	g_autofree char *path = efi_state_file();

	g_assert_true(g_file_set_contents(path, json, -1, NULL));
}

static void setup_efi(Fixture *f, gconstpointer data)
{
	g_autofree char *path = NULL;

	f->dir = test_tmpdir_new();
	f->config = config_new(OTA_BOOTLOADER_EFI);
	f->config->efi_use_bootnext = TRUE;
	path = efi_state_file();
	write_stand_in_file(path, efi_fresh);
}

/* efibootmgr's listing line @prefix..., or NULL. */
static char *efi_line(const char *prefix)
{
	g_autofree char *out = run_ok("efibootmgr", NULL);
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

	for (char **l = lines; *l; l++) {
		if (g_str_has_prefix(*l, prefix))
			return g_strdup(*l);
	}
	return NULL;
}

static void assert_efi_line(const char *prefix, const char *expected)
{
	g_autofree char *line = efi_line(prefix);

	g_assert_cmpstr(line, ==, expected);
}

static void test_efi_set_primary_sets_bootnext_and_keeps_bootorder(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	g_autofree char *call = NULL;

	set_primary_ok(bl, "B");
	call = last_call("efivars.json");
	g_assert_cmpstr(call, ==, "--bootnext 0002");
	assert_efi_line("BootNext:", "BootNext: 0002");
	assert_efi_line("BootOrder:", "BootOrder: 0001,0002,0000");
}

static void test_efi_set_primary_without_bootnext_puts_the_entry_first(Fixture *f,
                                                                        gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;

	f->config->efi_use_bootnext = FALSE;
	bl = bootloader_new(f);
	set_primary_ok(bl, "B");
	assert_efi_line("BootNext:", NULL);
	assert_efi_line("BootOrder:", "BootOrder: 0002,0001,0000");
	assert_primary(bl, "B");
}

static void test_efi_set_state_good_puts_the_entry_first_in_bootorder(Fixture *f,
                                                                       gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_state_ok(bl, "B", OTA_SLOT_STATE_GOOD);
	assert_efi_line("BootOrder:", "BootOrder: 0002,0001,0000");
}

/* An install marks its target bad first: a BootNext left from an earlier
 * install must not boot the slot while it is written. */
static void test_efi_set_state_bad_removes_the_entry_from_bootorder_and_bootnext(
	Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = bootloader_new(f);

	set_primary_ok(bl, "B");
	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	assert_efi_line("BootNext:", NULL);
	assert_efi_line("BootOrder:", "BootOrder: 0001,0000");
	assert_state(bl, "B", OTA_SLOT_STATE_BAD);
}

static void test_efi_booted_is_the_bootcurrent_entry(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;
	g_autofree char *json = g_strconcat("{\"BootCurrent\": \"0002\", ", efi_fresh + 1, NULL);

	write_efi_state(f, json);
	bl = bootloader_new(f);
	booted = ota_bootloader_get_booted(bl, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(booted, ==, "B");
}

/* Booted from a recovery stick, say: the kernel command line tells. */
static void test_efi_bootcurrent_of_another_entry_is_unknown(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *booted = NULL;
	g_autofree char *json = g_strconcat("{\"BootCurrent\": \"0000\", ", efi_fresh + 1, NULL);

	write_efi_state(f, json);
	bl = bootloader_new(f);
	booted = ota_bootloader_get_booted(bl, &error);
	g_assert_no_error(error);
	g_assert_null(booted);
}

static void test_efi_slot_without_a_boot_entry_is_an_error(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;

	write_efi_state(f, "{\"BootOrder\": [\"0001\"], \"entries\": {"
	                   "\"0001\": {\"label\": \"A\", \"path\": \"HD(2)\"}}}");
	bl = bootloader_new(f);
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "no boot entry labelled 'B'"));
}

static void test_efi_failing_tool_gives_one_line_error(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBootloader) bl = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *json = g_strconcat("{\"read-only\": true, ", efi_fresh + 1, NULL);

	write_efi_state(f, json);
	bl = bootloader_new(f);
	g_assert_false(ota_bootloader_set_primary(bl, "B", &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "efibootmgr --bootnext 0002"));
	g_assert_nonnull(strstr(error->message, "Read-only file system"));
	assert_one_line_error(error);
	assert_primary(bl, "A");
}

/* --- noop ---------------------------------------------------------------- */

static void test_noop_changes_nothing_and_knows_nothing(void)
{
	OtaSystemConfig *config = config_new(OTA_BOOTLOADER_NOOP);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBootloader) bl = ota_bootloader_new(config, bootnames, &error);
	g_autofree char *primary = NULL;
	OtaSlotState state;

	g_assert_no_error(error);
	set_primary_ok(bl, "B");
	set_state_ok(bl, "B", OTA_SLOT_STATE_BAD);
	set_state_ok(bl, "B", OTA_SLOT_STATE_GOOD);
	primary = ota_bootloader_get_primary(bl, &error);
	g_assert_null(primary);
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(ota_bootloader_get_state(bl, "A", &state, &error));
	g_assert_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_NOT_SUPPORTED);
	config_free(config);
}

static gboolean have_program(const char *name)
{
	g_autofree char *path = g_find_program_in_path(name);

	return path != NULL;
}

int main(int argc, char **argv)
{
	int status;

	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/bootloader/bootname-that-is-not-a-variable-name-is-refused",
	                test_bootname_that_is_not_a_variable_name_is_refused);
	g_test_add_func("/bootloader/duplicate-bootname-is-refused",
	                test_duplicate_bootname_is_refused);
	g_test_add_func("/bootloader/custom-backend-without-script-is-refused",
	                test_custom_backend_without_script_is_refused);
	g_test_add_func("/bootloader/grub-backend-without-grubenv-is-refused",
	                test_grub_backend_without_grubenv_is_refused);

#define ADD_FILE(name, fn) g_test_add("/bootloader/file/" name, Fixture, NULL, setup_file, fn, teardown)
	add_contract_tests("file", setup_file);
	ADD_FILE("first-boot-primary-is-first-bootname", test_file_first_boot_primary_is_first_bootname);
	ADD_FILE("set-primary-creates-data-directory-and-state-file",
	         test_file_set_primary_creates_data_directory_and_state_file);
	ADD_FILE("bad-primary-loses-primary", test_file_bad_primary_loses_primary);
	ADD_FILE("all-slots-bad-has-no-primary", test_file_all_slots_bad_has_no_primary);
	ADD_FILE("unknown-primary-in-state-file-is-rejected",
	         test_file_unknown_primary_in_state_file_is_rejected);
	ADD_FILE("unknown-state-in-state-file-is-rejected",
	         test_file_unknown_state_in_state_file_is_rejected);
	ADD_FILE("corrupt-state-file-is-rejected", test_file_corrupt_state_file_is_rejected);
	ADD_FILE("data-directory-that-cannot-be-created-fails-clearly",
	         test_file_data_directory_that_cannot_be_created_fails_clearly);

#define ADD_CUSTOM(name, fn) \
	g_test_add("/bootloader/custom/" name, Fixture, NULL, setup_custom, fn, teardown)
	add_contract_tests("custom", setup_custom);
	ADD_CUSTOM("get-primary-returns-trimmed-script-output",
	           test_custom_get_primary_returns_trimmed_script_output);
	ADD_CUSTOM("set-primary-passes-bootname-as-rauc-does",
	           test_custom_set_primary_passes_bootname_as_rauc_does);
	ADD_CUSTOM("set-state-round-trips-with-rauc-arguments",
	           test_custom_set_state_round_trips_with_rauc_arguments);
	ADD_CUSTOM("get-current-returns-booted-slot", test_custom_get_current_returns_booted_slot);
	ADD_CUSTOM("unknown-bootname-from-script-is-rejected",
	           test_custom_unknown_bootname_from_script_is_rejected);
	ADD_CUSTOM("unknown-bootname-from-get-current-is-rejected",
	           test_custom_unknown_bootname_from_get_current_is_rejected);
	ADD_CUSTOM("state-other-than-good-or-bad-is-rejected",
	           test_custom_state_other_than_good_or_bad_is_rejected);
	ADD_CUSTOM("failing-script-error-names-script-and-last-stderr-line",
	           test_custom_failing_script_error_names_script_and_last_stderr_line);
	ADD_CUSTOM("missing-script-fails-clearly", test_custom_missing_script_fails_clearly);

	if (have_program("fw_printenv") && have_program("fw_setenv")) {
#define ADD_UBOOT(name, fn) \
	g_test_add("/bootloader/uboot/" name, Fixture, NULL, setup_uboot, fn, teardown)
		add_contract_tests("uboot", setup_uboot);
		ADD_UBOOT("primary-is-first-in-boot-order", test_uboot_primary_is_first_in_boot_order);
		ADD_UBOOT("primary-skips-slot-without-attempts-left",
		          test_uboot_primary_skips_slot_without_attempts_left);
		ADD_UBOOT("set-primary-moves-slot-to-front-with-three-attempts",
		          test_uboot_set_primary_moves_slot_to_front_with_three_attempts);
		ADD_UBOOT("set-primary-creates-missing-boot-order",
		          test_uboot_set_primary_creates_missing_boot_order);
		ADD_UBOOT("set-state-bad-zeroes-attempts-and-moves-slot-last",
		          test_uboot_set_state_bad_zeroes_attempts_and_moves_slot_last);
		ADD_UBOOT("set-state-good-restores-three-attempts",
		          test_uboot_set_state_good_restores_three_attempts);
		ADD_UBOOT("unknown-bootname-in-boot-order-is-rejected",
		          test_uboot_unknown_bootname_in_boot_order_is_rejected);
		ADD_UBOOT("attempts-that-are-not-a-number-are-rejected",
		          test_uboot_attempts_that_are_not_a_number_are_rejected);
		ADD_UBOOT("missing-boot-order-is-reported", test_uboot_missing_boot_order_is_reported);
		ADD_UBOOT("unreadable-environment-gives-one-clear-error",
		          test_uboot_unreadable_environment_gives_one_clear_error);
		ADD_UBOOT("missing-environment-configuration-is-reported",
		          test_uboot_missing_environment_configuration_is_reported);
		ADD_UBOOT("boot-attempts-are-configurable-and-hexadecimal",
		          test_uboot_boot_attempts_are_configurable_and_hexadecimal);
	} else {
		g_test_add_func("/bootloader/uboot/tools-are-missing", test_uboot_tools_are_missing);
	}

	/* barebox-state and efibootmgr can't run here: test/bin has stand-ins
	 * that implement their command lines on a file. */
	{
		const char *srcdir = g_getenv("G_TEST_SRCDIR");
		g_autofree char *bin = g_build_filename(srcdir ? srcdir : TEST_SRCDIR, "bin", NULL);
		g_autofree char *path = g_strdup_printf("%s:%s", bin, g_getenv("PATH"));
		g_autofree char *barebox = NULL;
		g_autofree char *efi = NULL;

		stand_in_dir = test_tmpdir_new();
		barebox = g_build_filename(stand_in_dir, "barebox-state.json", NULL);
		efi = g_build_filename(stand_in_dir, "efivars.json", NULL);
		g_setenv("PATH", path, TRUE);
		g_setenv("BAREBOX_STATE_FILE", barebox, TRUE);
		g_setenv("EFIBOOTMGR_STATE_FILE", efi, TRUE);
	}
#define ADD_BAREBOX(name, fn) \
	g_test_add("/bootloader/barebox/" name, Fixture, NULL, setup_barebox, fn, teardown)
	add_contract_tests("barebox", setup_barebox);
	ADD_BAREBOX("set-primary-writes-rauc-priorities-and-attempts",
	            test_barebox_set_primary_writes_rauc_priorities_and_attempts);
	ADD_BAREBOX("set-primary-leaves-a-disabled-slot-disabled",
	            test_barebox_set_primary_leaves_a_disabled_slot_disabled);
	ADD_BAREBOX("set-state-bad-zeroes-priority-and-attempts",
	            test_barebox_set_state_bad_zeroes_priority_and_attempts);
	ADD_BAREBOX("set-state-good-resets-attempts-only",
	            test_barebox_set_state_good_resets_attempts_only);
	ADD_BAREBOX("boot-attempts-are-configurable", test_barebox_boot_attempts_are_configurable);
	ADD_BAREBOX("primary-is-highest-priority-with-attempts-left",
	            test_barebox_primary_is_highest_priority_with_attempts_left);
	ADD_BAREBOX("statename-and-dtbpath-are-passed-as-rauc-passes-them",
	            test_barebox_statename_and_dtbpath_are_passed_as_rauc_passes_them);
	ADD_BAREBOX("booted-slot-is-read-from-bootchooser-active",
	            test_barebox_booted_slot_is_read_from_bootchooser_active);
	ADD_BAREBOX("bootchooser-active-that-is-no-bootname-is-rejected",
	            test_barebox_bootchooser_active_that_is_no_bootname_is_rejected);
	ADD_BAREBOX("value-that-is-not-a-number-is-rejected",
	            test_barebox_value_that_is_not_a_number_is_rejected);
	ADD_BAREBOX("failing-tool-gives-one-line-error", test_barebox_failing_tool_gives_one_line_error);

#define ADD_EFI(name, fn) \
	g_test_add("/bootloader/efi/" name, Fixture, NULL, setup_efi, fn, teardown)
	add_contract_tests("efi", setup_efi);
	ADD_EFI("set-primary-sets-bootnext-and-keeps-bootorder",
	        test_efi_set_primary_sets_bootnext_and_keeps_bootorder);
	ADD_EFI("set-primary-without-bootnext-puts-the-entry-first",
	        test_efi_set_primary_without_bootnext_puts_the_entry_first);
	ADD_EFI("set-state-good-puts-the-entry-first-in-bootorder",
	        test_efi_set_state_good_puts_the_entry_first_in_bootorder);
	ADD_EFI("set-state-bad-removes-the-entry-from-bootorder-and-bootnext",
	        test_efi_set_state_bad_removes_the_entry_from_bootorder_and_bootnext);
	ADD_EFI("booted-is-the-bootcurrent-entry", test_efi_booted_is_the_bootcurrent_entry);
	ADD_EFI("bootcurrent-of-another-entry-is-unknown",
	        test_efi_bootcurrent_of_another_entry_is_unknown);
	ADD_EFI("slot-without-a-boot-entry-is-an-error",
	        test_efi_slot_without_a_boot_entry_is_an_error);
	ADD_EFI("failing-tool-gives-one-line-error", test_efi_failing_tool_gives_one_line_error);
	ADD_EFI("bootchooser-active-means-nothing-to-other-backends",
	        test_bootchooser_active_means_nothing_to_other_backends);

	g_test_add_func("/bootloader/noop/changes-nothing-and-knows-nothing",
	                test_noop_changes_nothing_and_knows_nothing);

	if (have_program("grub-editenv")) {
#define ADD_GRUB(name, fn) \
	g_test_add("/bootloader/grub/" name, Fixture, NULL, setup_grub, fn, teardown)
		add_contract_tests("grub", setup_grub);
		ADD_GRUB("primary-is-first-ok-slot-in-order", test_grub_primary_is_first_ok_slot_in_order);
		ADD_GRUB("primary-skips-slot-being-tried", test_grub_primary_skips_slot_being_tried);
		ADD_GRUB("set-primary-puts-slot-first-ok-and-untried",
		         test_grub_set_primary_puts_slot_first_ok_and_untried);
		ADD_GRUB("set-state-round-trips", test_grub_set_state_round_trips);
		ADD_GRUB("unknown-bootname-in-order-is-rejected",
		         test_grub_unknown_bootname_in_order_is_rejected);
		ADD_GRUB("missing-grubenv-is-an-error-and-stays-missing",
		         test_grub_missing_grubenv_is_an_error_and_stays_missing);
		ADD_GRUB("corrupt-grubenv-gives-one-clear-error",
		         test_grub_corrupt_grubenv_gives_one_clear_error);
	} else {
		g_test_add_func("/bootloader/grub/tools-are-missing", test_grub_tools_are_missing);
	}
	status = g_test_run();
	test_tmpdir_remove(stand_in_dir);
	g_free(stand_in_dir);
	return status;
}
