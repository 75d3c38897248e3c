/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config-private.h"

#include <string.h>

#include "pki.h"

#define BASE "[system]\ncompatible=board\nbootloader=file\n[keyring]\npath=/k.pem\n"
#define AB "[slot.rootfs.0]\ndevice=/dev/a\nbootname=A\n[slot.rootfs.1]\ndevice=/dev/b\nbootname=B\n"

static OtaSystemConfig *parse(const char *text, GError **error)
{
	return ota_system_config_parse(text, strlen(text), "system.conf", error);
}

static void assert_rejected(const char *text, OtaConfigError code, const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(text, &error);

	g_assert_null(c);
	g_assert_error(error, OTA_CONFIG_ERROR, (gint)code);
	g_assert_true(g_str_has_prefix(error->message, "system.conf: "));
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void test_parses_a_full_configuration(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(
		"[system]\ncompatible=board\nbootloader=custom\ndata-directory=/data\n"
		"allow-downgrade=true\nhardware-revision=r2\n"
		"[keyring]\npath=/k.pem\nthreshold=2\ncheck-purpose=codesign\ncrl=/c.pem\n"
		"[policy.bootloader]\npath=/boot.pem\nthreshold=3\n"
		"[handlers]\nbootloader-custom-backend=/usr/bin/bl\n" AB
		"[slot.bootloader.0]\ndevice=/dev/bl0\npolicy=bootloader\n"
		"[slot.app.1]\ndevice=/srv/app\ntype=tar\n",
		&error);
	const OtaPolicyConfig *def, *boot;
	const OtaSlotConfig *bl, *app;

	g_assert_no_error(error);
	g_assert_cmpint(c->bootloader, ==, OTA_BOOTLOADER_CUSTOM);
	g_assert_cmpstr(c->custom_backend, ==, "/usr/bin/bl");
	g_assert_cmpstr(c->data_directory, ==, "/data");
	g_assert_true(c->allow_downgrade);
	g_assert_cmpstr(c->hardware_revision, ==, "r2");
	def = ota_system_config_get_policy(c, "default");
	g_assert_cmpuint(def->threshold, ==, 2);
	g_assert_cmpint(def->purpose, ==, OTA_PURPOSE_CODESIGN);
	g_assert_cmpstr(def->crl, ==, "/c.pem");
	boot = ota_system_config_get_policy(c, "bootloader");
	g_assert_cmpstr(boot->keyring, ==, "/boot.pem");
	g_assert_cmpuint(boot->threshold, ==, 3);
	g_assert_cmpuint(c->slots->len, ==, 4);
	bl = g_ptr_array_index(c->slots, 2);
	g_assert_cmpstr(bl->name, ==, "bootloader.0");
	g_assert_cmpstr(bl->policy, ==, "bootloader");
	app = g_ptr_array_index(c->slots, 3);
	g_assert_cmpint(app->type, ==, OTA_SLOT_TAR);
	g_assert_cmpuint(app->index, ==, 1);
}

static void test_defaults(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(BASE AB, &error);
	const OtaSlotConfig *a;

	g_assert_no_error(error);
	g_assert_cmpstr(c->data_directory, ==, "/var/lib/otabundle");
	g_assert_false(c->allow_downgrade);
	g_assert_cmpuint(ota_system_config_get_policy(c, "default")->threshold, ==, 1);
	a = g_ptr_array_index(c->slots, 0);
	g_assert_cmpint(a->type, ==, OTA_SLOT_RAW);
	g_assert_null(a->policy);
}

static void test_rejects_unknown_key(void)
{
	assert_rejected(BASE "colour=blue\n" AB, OTA_CONFIG_ERROR_UNKNOWN_FIELD, "colour");
}

static void test_rejects_unknown_group(void)
{
	assert_rejected(BASE AB "[surprise]\nx=1\n", OTA_CONFIG_ERROR_UNKNOWN_FIELD, "[surprise]");
}

static void test_rejects_duplicate_key(void)
{
	assert_rejected(BASE AB "[slot.rootfs.0]\ndevice=/dev/c\n", OTA_CONFIG_ERROR_INVALID,
	                "duplicate key 'device'");
}

static void test_requires_a_keyring(void)
{
	assert_rejected("[system]\ncompatible=b\nbootloader=file\n" AB, OTA_CONFIG_ERROR_MISSING,
	                "[keyring]");
}

static void test_requires_compatible(void)
{
	assert_rejected("[system]\nbootloader=file\n[keyring]\npath=/k\n" AB, OTA_CONFIG_ERROR_MISSING,
	                "compatible");
}

static void test_rejects_unknown_bootloader(void)
{
	assert_rejected("[system]\ncompatible=b\nbootloader=lilo\n[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "lilo");
}

static void test_custom_bootloader_needs_a_backend(void)
{
	assert_rejected("[system]\ncompatible=b\nbootloader=custom\n[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "bootloader-custom-backend");
}

static void test_grub_needs_grubenv(void)
{
	assert_rejected("[system]\ncompatible=b\nbootloader=grub\n[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "grubenv");
}

static void test_slot_policy_must_exist(void)
{
	assert_rejected(BASE AB "[slot.bootloader.0]\ndevice=/dev/x\npolicy=boot\n",
	                OTA_CONFIG_ERROR_INVALID, "policy 'boot'");
}

static void test_bootnames_are_unique(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\nbootname=A\n[slot.rootfs.1]\ndevice=/b\n"
	                     "bootname=A\n",
	                OTA_CONFIG_ERROR_INVALID, "bootname 'A'");
}

static void test_devices_are_unique(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\n[slot.rootfs.1]\ndevice=/a\n",
	                OTA_CONFIG_ERROR_INVALID, "share device");
}

static void test_rejects_malformed_slot_group(void)
{
	assert_rejected(BASE "[slot.rootfs]\ndevice=/a\n", OTA_CONFIG_ERROR_INVALID, "[slot.rootfs]");
	assert_rejected(BASE "[slot.root/fs.0]\ndevice=/a\n", OTA_CONFIG_ERROR_INVALID, "root/fs");
}

static void test_rejects_bad_values(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\ntype=ext4\n", OTA_CONFIG_ERROR_INVALID,
	                "ext4");
	assert_rejected("[system]\ncompatible=b\nbootloader=file\nallow-downgrade=yes\n"
	                "[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "allow-downgrade");
	assert_rejected("[system]\ncompatible=b\nbootloader=file\n[keyring]\npath=/k\nthreshold=0\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "threshold");
	assert_rejected("[system]\ncompatible=b\nbootloader=file\n[keyring]\npath=/k\n"
	                "check-purpose=email\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "email");
}

static void test_bootnames_fit_bootloader_variable_names(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\nbootname=A-1\n", OTA_CONFIG_ERROR_INVALID,
	                "A-1");
}

static void test_a_slot_defined_twice_is_refused(void)
{
	assert_rejected(BASE "[slot.appfs.1]\ndevice=/a\n[slot.appfs.01]\ndevice=/b\n",
	                OTA_CONFIG_ERROR_INVALID, "appfs.1 is defined twice");
}

static void test_rejects_localized_keys(void)
{
	assert_rejected("[system]\ncompatible=board\ncompatible[de]=other\nbootloader=file\n"
	                "[keyring]\npath=/k.pem\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "localized key 'compatible[de]'");
}

static void test_needs_a_slot(void)
{
	assert_rejected(BASE, OTA_CONFIG_ERROR_INVALID, "no [slot.");
}

/* --- [keyring] alone, as a host reads a RAUC system.conf ------------------- */

typedef struct {
	char *dir;
	char *root;         /* a root CA's certificate */
	char *intermediate; /* a CA issued by the root */
} KeyringFixture;

static void keyring_setup(KeyringFixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) root = test_pki_identity("ec", "keyring root", NULL, -1, 365);
	g_autoptr(TestIdentity) inter = test_pki_identity("ec", "keyring intermediate", root, -1,
	                                                  365);
	g_autofree char *root_key = NULL, *inter_key = NULL;

	f->dir = test_tmpdir_new();
	test_pki_write(root, f->dir, "root", &f->root, &root_key);
	test_pki_write(inter, f->dir, "inter", &f->intermediate, &inter_key);
}

static void keyring_teardown(KeyringFixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->root);
	g_free(f->intermediate);
}

static OtaKeyringConfig *load_keyring(KeyringFixture *f, const char *text, GError **error)
{
	g_autofree char *path = g_build_filename(f->dir, "system.conf", NULL);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return ota_keyring_config_load(path, error);
}

static void assert_keyring_refused(KeyringFixture *f, const char *text, OtaConfigError code,
                                   const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaKeyringConfig) k = load_keyring(f, text, &error);
	g_autofree char *prefix = g_strdup_printf("%s/system.conf: ", f->dir);

	g_assert_null(k);
	g_assert_error(error, OTA_CONFIG_ERROR, (gint)code);
	g_assert_true(g_str_has_prefix(error->message, prefix));
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void test_keyring_paths_are_relative_to_the_conf(KeyringFixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaKeyringConfig) k = load_keyring(
		f, "[system]\ncompatible=x\nbootloader=barebox\n[keyring]\npath=root.pem\n"
		   "directory=certs\n[slot.rootfs.0]\ndevice=/dev/a\n[casync]\nstorepath=/s\n",
		&error);
	g_autofree char *dir = g_build_filename(f->dir, "certs", NULL);
	OtaPurpose purpose = OTA_PURPOSE_ANY;

	g_assert_no_error(error);
	g_assert_cmpstr(ota_keyring_config_get_path(k), ==, f->root);
	g_assert_cmpstr(ota_keyring_config_get_directory(k), ==, dir);
	g_assert_false(ota_keyring_config_get_purpose(k, &purpose));
	g_assert_cmpint(purpose, ==, OTA_PURPOSE_ANY);
	g_assert_null(ota_keyring_config_get_crl(k));
	g_assert_cmpuint(ota_keyring_config_get_threshold(k), ==, 1);
}

static void test_keyring_settings_are_read(KeyringFixture *f, gconstpointer data)
{
	g_autofree char *text = g_strdup_printf(
		"[keyring]\npath=%s\ncheck-purpose=codesign\ncheck-crl=true\nthreshold=2\n"
		"use-bundle-signing-time=false\nallow-partial-chain=false\n", f->root);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaKeyringConfig) k = load_keyring(f, text, &error);
	OtaPurpose purpose;

	g_assert_no_error(error);
	g_assert_true(ota_keyring_config_get_purpose(k, &purpose));
	g_assert_cmpint(purpose, ==, OTA_PURPOSE_CODESIGN);
	/* RAUC keeps the CRLs in the keyring file. */
	g_assert_cmpstr(ota_keyring_config_get_crl(k), ==, f->root);
	g_assert_cmpuint(ota_keyring_config_get_threshold(k), ==, 2);
	g_assert_null(ota_keyring_config_get_directory(k));
}

static void test_keyring_settings_otabundle_lacks_are_refused(KeyringFixture *f,
                                                              gconstpointer data)
{
	static const struct {
		const char *line;
		const char *needle;
	} cases[] = {
		{"use-bundle-signing-time=true", "use-bundle-signing-time=true"},
		{"allowed-signer-cns=a;b", "allowed-signer-cns"},
		{"check-purpose=sslclient", "check-purpose=sslclient"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text =
			g_strdup_printf("[keyring]\npath=root.pem\n%s\n", cases[i].line);

		assert_keyring_refused(f, text, OTA_CONFIG_ERROR_UNSUPPORTED, cases[i].needle);
	}
	assert_keyring_refused(f, "[keyring]\ndirectory=certs\ncheck-crl=true\n",
	                       OTA_CONFIG_ERROR_UNSUPPORTED, "directory");
}

static void test_keyring_rejects_what_rauc_rejects(KeyringFixture *f, gconstpointer data)
{
	assert_keyring_refused(f, "[keyring]\npath=root.pem\nfrob=1\n",
	                       OTA_CONFIG_ERROR_UNKNOWN_FIELD, "frob");
	assert_keyring_refused(f, "[keyring]\npath=root.pem\ncheck-crl=yes\n",
	                       OTA_CONFIG_ERROR_INVALID, "check-crl");
	assert_keyring_refused(f, "[keyring]\npath=root.pem\ncheck-purpose=nonsense\n",
	                       OTA_CONFIG_ERROR_INVALID, "nonsense");
	assert_keyring_refused(f, "[keyring]\npath=root.pem\npath=other.pem\n",
	                       OTA_CONFIG_ERROR_INVALID, "duplicate");
	assert_keyring_refused(f, "[keyring]\npath=\n", OTA_CONFIG_ERROR_INVALID, "empty path");
	assert_keyring_refused(f, "[keyring]\npath=root.pem\ncrl=c.pem\ncheck-crl=true\n",
	                       OTA_CONFIG_ERROR_INVALID, "give one");
	assert_keyring_refused(f, "[system]\ncompatible=x\n", OTA_CONFIG_ERROR_MISSING,
	                       "[keyring]");
	assert_keyring_refused(f, "[keyring]\ncheck-purpose=codesign\n", OTA_CONFIG_ERROR_MISSING,
	                       "path or directory");
	assert_keyring_refused(f, "[keyring\n", OTA_CONFIG_ERROR_PARSE, "INI");
}

/* An intermediate alone in a keyring: RAUC trusts it only with
 * allow-partial-chain=true, otabundle always would. */
static void test_keyring_anchor_without_its_root_needs_partial_chain(KeyringFixture *f,
                                                                     gconstpointer data)
{
	g_autofree char *both = g_build_filename(f->dir, "both.pem", NULL);
	g_autofree char *root_pem = NULL, *inter_pem = NULL, *pems = NULL;
	g_autoptr(OtaKeyringConfig) with_root = NULL;
	g_autoptr(OtaKeyringConfig) partial = NULL;
	g_autoptr(GError) error = NULL;

	assert_keyring_refused(f, "[keyring]\npath=inter.pem\n", OTA_CONFIG_ERROR_UNSUPPORTED,
	                       "allow-partial-chain=true");
	partial = load_keyring(f, "[keyring]\npath=inter.pem\nallow-partial-chain=true\n", &error);
	g_assert_no_error(error);
	g_assert_nonnull(partial);

	g_assert_true(g_file_get_contents(f->root, &root_pem, NULL, NULL));
	g_assert_true(g_file_get_contents(f->intermediate, &inter_pem, NULL, NULL));
	pems = g_strconcat(inter_pem, root_pem, NULL);
	g_assert_true(g_file_set_contents(both, pems, -1, NULL));
	with_root = load_keyring(f, "[keyring]\npath=both.pem\n", &error);
	g_assert_no_error(error);
	g_assert_nonnull(with_root);
}

static void add_keyring_test(const char *path, void (*func)(KeyringFixture *, gconstpointer))
{
	g_test_add(path, KeyringFixture, NULL, keyring_setup, func, keyring_teardown);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/parses-a-full-configuration", test_parses_a_full_configuration);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/rejects-unknown-key", test_rejects_unknown_key);
	g_test_add_func("/config/rejects-unknown-group", test_rejects_unknown_group);
	g_test_add_func("/config/rejects-duplicate-key", test_rejects_duplicate_key);
	g_test_add_func("/config/requires-a-keyring", test_requires_a_keyring);
	g_test_add_func("/config/requires-compatible", test_requires_compatible);
	g_test_add_func("/config/rejects-unknown-bootloader", test_rejects_unknown_bootloader);
	g_test_add_func("/config/custom-bootloader-needs-a-backend",
	                test_custom_bootloader_needs_a_backend);
	g_test_add_func("/config/grub-needs-grubenv", test_grub_needs_grubenv);
	g_test_add_func("/config/slot-policy-must-exist", test_slot_policy_must_exist);
	g_test_add_func("/config/bootnames-are-unique", test_bootnames_are_unique);
	g_test_add_func("/config/devices-are-unique", test_devices_are_unique);
	g_test_add_func("/config/rejects-malformed-slot-group", test_rejects_malformed_slot_group);
	g_test_add_func("/config/rejects-bad-values", test_rejects_bad_values);
	g_test_add_func("/config/needs-a-slot", test_needs_a_slot);
	g_test_add_func("/config/a-slot-defined-twice-is-refused", test_a_slot_defined_twice_is_refused);
	g_test_add_func("/config/bootnames-fit-bootloader-variable-names",
	                test_bootnames_fit_bootloader_variable_names);
	g_test_add_func("/config/rejects-localized-keys", test_rejects_localized_keys);
	add_keyring_test("/config/keyring/paths-are-relative-to-the-conf",
	                 test_keyring_paths_are_relative_to_the_conf);
	add_keyring_test("/config/keyring/settings-are-read", test_keyring_settings_are_read);
	add_keyring_test("/config/keyring/settings-otabundle-lacks-are-refused",
	                 test_keyring_settings_otabundle_lacks_are_refused);
	add_keyring_test("/config/keyring/rejects-what-rauc-rejects",
	                 test_keyring_rejects_what_rauc_rejects);
	add_keyring_test("/config/keyring/anchor-without-its-root-needs-partial-chain",
	                 test_keyring_anchor_without_its_root_needs_partial_chain);
	return g_test_run();
}
