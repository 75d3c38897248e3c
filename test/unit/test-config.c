/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config-private.h"

#include <otabundle/manifest.h>

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

/* Each policy has its own: [keyring] as RAUC's, a tier as its own. */
static void test_use_bundle_signing_time_is_read_per_policy(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(BASE "use-bundle-signing-time=true\n" AB
	                                     "[policy.boot]\npath=/b.pem\n"
	                                     "[policy.app]\npath=/a.pem\n"
	                                     "use-bundle-signing-time=true\n",
	                                     &error);

	g_assert_no_error(error);
	g_assert_cmpint(ota_system_config_get_policy(c, "default")->check_time, ==,
	                OTA_CHECK_TIME_SIGNING_TIME);
	g_assert_cmpint(ota_system_config_get_policy(c, "boot")->check_time, ==,
	                OTA_CHECK_TIME_DEVICE);
	g_assert_cmpint(ota_system_config_get_policy(c, "app")->check_time, ==,
	                OTA_CHECK_TIME_SIGNING_TIME);
}

static void test_check_time_is_read_per_policy_and_timestamp_needs_a_tsa_keyring(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(BASE "check-time=timestamp\ntsa-keyring=/tsa.pem\n" AB
	                                     "[policy.boot]\npath=/b.pem\ncheck-time=none\n",
	                                     &error);

	g_assert_no_error(error);
	g_assert_cmpint(ota_system_config_get_policy(c, "default")->check_time, ==,
	                OTA_CHECK_TIME_TIMESTAMP);
	g_assert_cmpstr(ota_system_config_get_policy(c, "default")->tsa_keyring, ==, "/tsa.pem");
	g_assert_cmpint(ota_system_config_get_policy(c, "boot")->check_time, ==,
	                OTA_CHECK_TIME_NONE);
	assert_rejected(BASE "check-time=timestamp\n" AB, OTA_CONFIG_ERROR_MISSING, "tsa-keyring");
	assert_rejected(BASE "check-time=sometimes\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "invalid check-time 'sometimes'");
	assert_rejected(BASE "use-bundle-signing-time=true\ncheck-time=device\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "give one");
}

/* As RAUC, which refuses the file: "Min version format invalid". */
static void test_min_bundle_version_must_have_an_order(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(
		"[system]\ncompatible=b\nbootloader=file\nmin-bundle-version=2024.05-downgrade+barrier\n"
		"[keyring]\npath=/k\n" AB, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->min_bundle_version, ==, "2024.05-downgrade+barrier");
	assert_rejected("[system]\ncompatible=b\nbootloader=file\nmin-bundle-version=v1.foo.2-baa\n"
	                "[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "min-bundle-version");
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

static void test_encryption_key_is_a_path_relative_to_the_conf_or_a_token_uri(void)
{
	static const char text[] = BASE AB "[encryption]\nkey=keys/crypt.pem\n"
	                                   "cert=pkcs11:token=dev;object=crypt\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		ota_system_config_parse(text, strlen(text), "/etc/rauc/system.conf", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->encryption_key, ==, "/etc/rauc/keys/crypt.pem");
	g_assert_cmpstr(c->encryption_cert, ==, "pkcs11:token=dev;object=crypt");
}

/* RAUC's [casync] keys: a local store resolves like other paths, a URL
 * stays as written. */
static void test_casync_keys_are_rauc_s(void)
{
	static const char local[] = BASE AB "[casync]\nstorepath=store.castr\ntmppath=/var/tmp\n"
	                                    "install-args=--verbose\nuse-desync=false\n";
	static const char remote[] = BASE AB "[casync]\nstorepath=https://u.example/s.castr\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		ota_system_config_parse(local, strlen(local), "/etc/rauc/system.conf", &error);
	g_autoptr(OtaSystemConfig) r = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(c->casync_store_path, ==, "/etc/rauc/store.castr");
	g_assert_cmpstr(c->casync_tmp_path, ==, "/var/tmp");
	g_assert_cmpstr(c->casync_install_args, ==, "--verbose");
	r = ota_system_config_parse(remote, strlen(remote), "/etc/rauc/system.conf", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(r->casync_store_path, ==, "https://u.example/s.castr");
	g_assert_null(r->casync_tmp_path);
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

static void test_grub_defaults_to_rauc_grubenv(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		parse("[system]\ncompatible=b\nbootloader=grub\n[keyring]\npath=/k\n" AB, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->grubenv, ==, "/boot/grub/grubenv");
}

static void test_slot_policy_must_exist(void)
{
	assert_rejected(BASE AB "[slot.bootloader.0]\ndevice=/dev/x\npolicy=boot\n",
	                OTA_CONFIG_ERROR_INVALID, "policy 'boot'");
}

#define TRUST_BASE "[system]\ncompatible=b\nbootloader=file\ndata-directory=/data\n[trust]\n"

static void test_trust_replaces_the_keyring_and_names_its_files(void)
{
	static const char text[] = TRUST_BASE "initial=trust.der\n" AB;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		ota_system_config_parse(text, strlen(text), "/etc/otabundle/system.conf", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->trust_initial, ==, "/etc/otabundle/trust.der");
	g_assert_cmpstr(c->trust_directory, ==, "/data/trust");
	g_assert_cmpuint(c->policies->len, ==, 0);
}

/* With [trust], a slot's policy is a tier of the list, which updates
 * change: not checked against the file. */
static void test_with_trust_a_slot_policy_names_a_tier(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c = parse(TRUST_BASE "initial=/t\ndirectory=/persist/trust\n" AB
	                                     "[slot.bootloader.0]\ndevice=/dev/x\npolicy=boot\n",
	                                     &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->trust_directory, ==, "/persist/trust");
	g_assert_cmpstr(((const OtaSlotConfig *)g_ptr_array_index(c->slots, 2))->policy, ==, "boot");
}

static void test_trust_refuses_a_keyring_or_a_policy_beside_it(void)
{
	assert_rejected(TRUST_BASE "initial=/t\n[keyring]\npath=/k\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "group [keyring] and group [trust] both say whom to trust");
	assert_rejected(TRUST_BASE "initial=/t\n[policy.boot]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "group [policy.boot] and group [trust]");
}

static void test_trust_needs_its_initial_list_and_an_absolute_directory(void)
{
	assert_rejected(TRUST_BASE AB, OTA_CONFIG_ERROR_MISSING, "missing key 'initial'");
	assert_rejected(TRUST_BASE "initial=/t\ndirectory=trust\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "not an absolute path");
	assert_rejected(TRUST_BASE "initial=/t\nkeyring=/k\n" AB, OTA_CONFIG_ERROR_UNKNOWN_FIELD,
	                "keyring");
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

/* As RAUC allows (Home Assistant OS on ODROID): slots outside every A/B
 * group may name one device; an A/B slot (bootname, parent, a class of
 * several) never shares. */
static void test_only_slots_outside_ab_groups_share_a_device(void)
{
	g_autoptr(OtaSystemConfig) config = NULL;
	g_autoptr(GError) error = NULL;

	config = parse(BASE AB "[slot.boot.0]\ndevice=/boot\n[slot.spl.0]\ndevice=/boot\n", &error);
	g_assert_no_error(error);
	g_assert_nonnull(config);
	assert_rejected(BASE AB "[slot.spl.0]\ndevice=/dev/a\n",
	                OTA_CONFIG_ERROR_INVALID, "share device");
	assert_rejected(BASE AB "[slot.appfs.0]\ndevice=/app\nparent=rootfs.0\n"
	                "[slot.spl.0]\ndevice=/app\n",
	                OTA_CONFIG_ERROR_INVALID, "share device");
}

static void test_rejects_malformed_slot_group(void)
{
	assert_rejected(BASE "[slot.rootfs]\ndevice=/a\n", OTA_CONFIG_ERROR_INVALID, "[slot.rootfs]");
	assert_rejected(BASE "[slot.root/fs.0]\ndevice=/a\n", OTA_CONFIG_ERROR_INVALID, "root/fs");
}

static void test_rejects_bad_values(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\ntype=btrfs\n", OTA_CONFIG_ERROR_INVALID,
	                "btrfs");
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

/* --- RAUC's keys and context rules ------------------------------------------------------ */

#define SYS(lines) "[system]\ncompatible=b\nbootloader=uboot\n" lines "[keyring]\npath=/k\n"

static OtaSystemConfig *parse_ok(const char *text)
{
	g_autoptr(GError) error = NULL;
	OtaSystemConfig *c = parse(text, &error);

	g_assert_no_error(error);
	return c;
}

static void test_bundle_formats_follow_rauc_syntax(void)
{
	const guint plain = 1u << OTA_BUNDLE_FORMAT_PLAIN, verity = 1u << OTA_BUNDLE_FORMAT_VERITY,
		    crypt = 1u << OTA_BUNDLE_FORMAT_CRYPT;
	static const struct {
		const char *value;
		guint mask;
	} cases[] = {{NULL, 0}, {"-plain", 0}, {"verity", 0}, {"plain verity", 0}, {"-crypt -plain", 0}};
	const guint masks[] = {plain | verity | crypt, verity | crypt, verity, plain | verity, verity};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *text = cases[i].value
			? g_strdup_printf(SYS("bundle-formats=%s\n") AB, cases[i].value)
			: g_strdup(SYS("") AB);
		g_autoptr(OtaSystemConfig) c = parse_ok(text);

		g_assert_cmpuint(c->bundle_formats, ==, masks[i]);
	}
	assert_rejected(SYS("bundle-formats=verity -plain\n") AB, OTA_CONFIG_ERROR_INVALID, "+/-");
	assert_rejected(SYS("bundle-formats=-plain -verity -crypt\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "no format");
	assert_rejected(SYS("bundle-formats=squashfs\n") AB, OTA_CONFIG_ERROR_INVALID, "squashfs");
}

static void test_a_bootloader_key_is_refused_with_another_bootloader(void)
{
	assert_rejected(SYS("grubenv=/boot/grubenv\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "grubenv in group [system] is only valid with bootloader=grub");
	assert_rejected(SYS("barebox-statename=state\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "only valid with bootloader=barebox");
	assert_rejected(SYS("efi-use-bootnext=false\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "only valid with bootloader=efi");
	assert_rejected(SYS("") "[handlers]\nbootloader-custom-backend=/x\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "only valid with bootloader=custom");
	assert_rejected("[system]\ncompatible=b\nbootloader=grub\nboot-attempts=3\n"
	                "[keyring]\npath=/k\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "boot-attempts in group [system] is only valid");
}

static void test_boot_attempts_are_read_for_uboot(void)
{
	g_autoptr(OtaSystemConfig) c =
		parse_ok(SYS("boot-attempts=5\nboot-attempts-primary=2\n") AB);

	g_assert_cmpuint(c->boot_attempts, ==, 5);
	g_assert_cmpuint(c->boot_attempts_primary, ==, 2);
}

static void test_a_slot_type_key_is_refused_with_another_type(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\nregion-start=4M\n",
	                OTA_CONFIG_ERROR_INVALID, "region-start in group [slot.rootfs.0] is only valid");
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\nsize-limit=1M\n", OTA_CONFIG_ERROR_INVALID,
	                "only valid for boot-emmc slots");
}

static void test_an_unimplemented_slot_type_is_refused_by_name(void)
{
	assert_rejected(BASE "[slot.rootfs.0]\ndevice=/a\ntype=nand\n", OTA_CONFIG_ERROR_UNSUPPORTED,
	                "slot type 'nand' of [slot.rootfs.0] is not supported");
}

static void test_slot_flags_and_older_spellings(void)
{
	g_autoptr(OtaSystemConfig) c =
		parse_ok(BASE "[slot.a.0]\ndevice=/a\nreadonly=true\nallow-mounted=true\n"
		              "install-same=false\nextra-mkfs-opts=-O ^metadata_csum -L 'my root'\n"
		              "description=first\nextra-mount-opts=noatime\n"
		              "[slot.a.1]\ndevice=/b\nforce-install-same=false\n"
		              "[slot.a.2]\ndevice=/c\nignore-checksum=false\n"
		              "[slot.a.3]\ndevice=/d\n");
	const OtaSlotConfig *a0 = g_ptr_array_index(c->slots, 0);

	g_assert_true(a0->readonly);
	g_assert_true(a0->allow_mounted);
	g_assert_false(a0->install_same);
	g_assert_cmpstr(a0->description, ==, "first");
	g_assert_cmpuint(g_strv_length(a0->extra_mkfs_opts), ==, 4);
	g_assert_cmpstr(a0->extra_mkfs_opts[3], ==, "my root");
	g_assert_false(((const OtaSlotConfig *)g_ptr_array_index(c->slots, 1))->install_same);
	g_assert_false(((const OtaSlotConfig *)g_ptr_array_index(c->slots, 2))->install_same);
	g_assert_true(((const OtaSlotConfig *)g_ptr_array_index(c->slots, 3))->install_same);
}

static void test_sizes_take_binary_suffixes(void)
{
	g_autoptr(OtaSystemConfig) c = NULL;
	g_autoptr(GError) error = NULL;

	c = parse(BASE "[log.x]\nfilename=/l\nmax-size=512K\n" AB, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(((const OtaLogConfig *)g_ptr_array_index(c->loggers, 0))->max_size, ==,
	                 512 * 1024);
	assert_rejected(BASE "[log.x]\nfilename=/l\nmax-size=1Q\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "max-size");
	assert_rejected(BASE "[log.x]\nfilename=/l\nmax-size=99999999999999999999T\n" AB,
	                OTA_CONFIG_ERROR_INVALID, "max-size");
}

static void test_parent_links(void)
{
	assert_rejected(BASE AB "[slot.appfs.0]\ndevice=/x\nparent=rootfs.0\nbootname=C\n",
	                OTA_CONFIG_ERROR_INVALID, "has a parent and a bootname");
	assert_rejected(BASE AB "[slot.appfs.0]\ndevice=/x\nparent=rootfs.7\n",
	                OTA_CONFIG_ERROR_INVALID, "no [slot.rootfs.7]");
	assert_rejected(BASE "[slot.a.0]\ndevice=/x\nparent=b.0\n[slot.b.0]\ndevice=/y\nparent=a.0\n",
	                OTA_CONFIG_ERROR_INVALID, "loop");
}

static void test_statusfile_says_where_state_persists(void)
{
	g_autoptr(OtaSystemConfig) c = parse_ok(SYS("statusfile=/mnt/aux/rauc.status\n") AB);
	g_autoptr(OtaSystemConfig) d =
		parse_ok(SYS("statusfile=/mnt/aux/rauc.status\ndata-directory=/data\n") AB);
	g_autoptr(OtaSystemConfig) e = parse_ok(SYS("statusfile=per-slot\n") AB);

	g_assert_cmpstr(c->data_directory, ==, "/mnt/aux/otabundle");
	g_assert_cmpstr(d->data_directory, ==, "/data");
	g_assert_cmpstr(e->data_directory, ==, "/var/lib/otabundle");
	assert_rejected(SYS("statusfile=per-slot\ndata-directory=/data\n") AB,
	                OTA_CONFIG_ERROR_INVALID, "per-slot");
}

static void test_relative_paths_are_relative_to_the_file(void)
{
	const char *text = "[system]\ncompatible=b\nbootloader=grub\ngrubenv=grubenv\n"
	                   "data-directory=data\n[keyring]\npath=ca.pem\n"
	                   "[slot.rootfs.0]\ndevice=disk0\nbootname=A\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		ota_system_config_parse(text, strlen(text), "/etc/rauc/system.conf", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->grubenv, ==, "/etc/rauc/grubenv");
	g_assert_cmpstr(c->data_directory, ==, "/etc/rauc/data");
	g_assert_cmpstr(ota_system_config_get_policy(c, "default")->keyring, ==, "/etc/rauc/ca.pem");
	g_assert_cmpstr(((const OtaSlotConfig *)g_ptr_array_index(c->slots, 0))->device, ==,
	                "/etc/rauc/disk0");
}

static void test_variant_sources(void)
{
	g_autoptr(OtaSystemConfig) c = parse_ok(SYS("variant-name=rev-b\n") AB);
	g_autoptr(GError) error = NULL;
	g_autofree char *variant = config_read_variant(c, &error);
	g_autoptr(OtaSystemConfig) missing = parse_ok(SYS("variant-file=/nonexistent/variant\n") AB);
	g_autofree char *none = config_read_variant(missing, &error);

	g_assert_cmpstr(variant, ==, "rev-b");
	g_assert_null(none);
	g_assert_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_INVALID);
	assert_rejected(SYS("variant-name=a\nvariant-dtb=true\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "more than one of variant-dtb");
}

/* RAUC's [streaming] keys and otabundle's timeout= and header-file=:
 * paths resolve like every other, a pkcs11: URI stays as written. */
static void test_streaming_keys(void)
{
	static const char text[] = BASE AB "[streaming]\nsandbox-user=nobody\ntls-ca=ca.pem\n"
	                                   "tls-cert=/etc/rauc/client.pem\n"
	                                   "tls-key=pkcs11:token=dev;object=client\n"
	                                   "send-headers=boot-id;machine-id;uptime;transaction-id\n"
	                                   "timeout=15\nheader-file=headers\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSystemConfig) c =
		ota_system_config_parse(text, strlen(text), "/etc/rauc/system.conf", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->streaming.tls_ca, ==, "/etc/rauc/ca.pem");
	g_assert_cmpstr(c->streaming.tls_cert, ==, "/etc/rauc/client.pem");
	g_assert_cmpstr(c->streaming.tls_key, ==, "pkcs11:token=dev;object=client");
	g_assert_cmpstr(c->streaming.header_file, ==, "/etc/rauc/headers");
	g_assert_cmpuint(c->streaming.timeout, ==, 15);
	g_assert_cmpuint(c->streaming.send_headers, ==,
	                 OTA_SEND_HEADER_BOOT_ID | OTA_SEND_HEADER_MACHINE_ID |
	                         OTA_SEND_HEADER_UPTIME | OTA_SEND_HEADER_TRANSACTION_ID);
}

static void test_streaming_defaults(void)
{
	g_autoptr(OtaSystemConfig) c = parse_ok(BASE AB);
	g_autoptr(OtaSystemConfig) empty = parse_ok(BASE AB "[streaming]\n");

	g_assert_cmpuint(c->streaming.timeout, ==, 60);
	g_assert_cmpuint(empty->streaming.timeout, ==, 60);
	g_assert_null(c->streaming.tls_ca);
	g_assert_cmpuint(c->streaming.send_headers, ==, 0);
	/* RAUC's download limit has no effect on streaming unless it is given. */
	g_assert_false(c->max_bundle_download_size_set);
}

static void test_streaming_rejects_bad_values(void)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{BASE AB "[streaming]\nsend-headers=boot-id;mac-address\n", "mac-address"},
		{BASE AB "[streaming]\ntimeout=0\n", "timeout"},
		{BASE AB "[streaming]\ntimeout=3601\n", "timeout"},
		{BASE AB "[streaming]\ntls-cert=/c.pem\n", "needs tls-key"},
		{BASE AB "[streaming]\ntls-ca=\n", "empty tls-ca"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_rejected(cases[i].text, OTA_CONFIG_ERROR_INVALID, cases[i].needle);
	assert_rejected(BASE AB "[streaming]\nretries=3\n", OTA_CONFIG_ERROR_UNKNOWN_FIELD,
	                "retries");
}

static void test_unimplemented_features_are_refused_by_name(void)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{BASE AB "[casync]\nuse-desync=true\n", "use-desync=true is not supported"},
		{BASE AB "[artifacts.addons]\npath=/a\ntype=trees\n", "artifact repositories"},
		{BASE AB "[handlers]\npre-install=/x\n", "pre-install in group [handlers]"},
		{BASE AB "[handlers]\nsystem-info=/x\n", "system-info in group [handlers]"},
		{SYS("activate-installed=false\n") AB, "activate-installed=false"},
		{BASE "[slot.r.0]\ndevice=/a\nefi-loader=\\\\EFI\\\\x\n", "efi-loader"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_rejected(cases[i].text, OTA_CONFIG_ERROR_UNSUPPORTED, cases[i].needle);
}

static void test_accepted_keys_that_change_nothing_here(void)
{
	g_autoptr(OtaSystemConfig) c =
		parse_ok(SYS("mountprefix=/run/rauc\nperform-pre-check=true\n"
		             "max-bundle-download-size=1073741824\nmin-bundle-version=2024.1\n"
		             "prevent-late-fallback=true\n") AB);

	g_assert_cmpuint(c->max_bundle_download_size, ==, 1073741824);
	g_assert_true(c->max_bundle_download_size_set);
	g_assert_cmpstr(c->min_bundle_version, ==, "2024.1");
	g_assert_true(c->prevent_late_fallback);
	assert_rejected(SYS("max-bundle-download-size=0\n") AB, OTA_CONFIG_ERROR_INVALID,
	                "max-bundle-download-size");
}

static void test_event_logs(void)
{
	g_autoptr(OtaSystemConfig) c =
		parse_ok("[system]\ncompatible=b\nbootloader=file\ndata-directory=/data\n"
		         "[keyring]\npath=/k\n[log.a]\nfilename=events.log\n"
		         "[log.b]\nfilename=/var/log/b.json\nformat=json-pretty\nevents=install;mark\n"
		         "max-files=5\n" AB);
	const OtaLogConfig *a = g_ptr_array_index(c->loggers, 0);
	const OtaLogConfig *b = g_ptr_array_index(c->loggers, 1);

	g_assert_cmpstr(a->filename, ==, "/data/events.log");
	g_assert_cmpint(a->format, ==, OTA_LOG_FORMAT_READABLE);
	g_assert_cmpuint(a->events, ==, OTA_LOG_EVENT_ALL);
	g_assert_cmpuint(a->max_files, ==, 10);
	g_assert_cmpint(b->format, ==, OTA_LOG_FORMAT_JSON_PRETTY);
	g_assert_cmpuint(b->events, ==, OTA_LOG_EVENT_INSTALL | OTA_LOG_EVENT_MARK);
	g_assert_cmpuint(b->max_files, ==, 5);
	assert_rejected(BASE "[log.a]\nfilename=rel.log\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "needs data-directory");
	assert_rejected(BASE "[log.a]\nfilename=/l\nevents=all;boot\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "can't be combined");
	assert_rejected(BASE "[log.a]\nfilename=/l\nmax-files=0\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "max-files");
	assert_rejected(BASE "[log.a]\nfilename=/l\nformat=xml\n" AB, OTA_CONFIG_ERROR_INVALID,
	                "xml");
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

static void test_keyring_use_bundle_signing_time_is_read(KeyringFixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaKeyringConfig) absent = load_keyring(f, "[keyring]\npath=root.pem\n", &error);
	g_autoptr(OtaKeyringConfig) set =
		load_keyring(f, "[keyring]\npath=root.pem\nuse-bundle-signing-time=true\n", &error);

	g_assert_no_error(error);
	g_assert_false(ota_keyring_config_get_use_signing_time(absent));
	g_assert_true(ota_keyring_config_get_use_signing_time(set));
	assert_keyring_refused(f, "[keyring]\npath=root.pem\nuse-bundle-signing-time=1\n",
	                       OTA_CONFIG_ERROR_INVALID, "use-bundle-signing-time");
}

static void test_keyring_settings_otabundle_lacks_are_refused(KeyringFixture *f,
                                                              gconstpointer data)
{
	static const struct {
		const char *line;
		const char *needle;
	} cases[] = {
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
	g_test_add_func("/config/trust/replaces-the-keyring-and-names-its-files",
	                test_trust_replaces_the_keyring_and_names_its_files);
	g_test_add_func("/config/trust/a-slot-policy-names-a-tier",
	                test_with_trust_a_slot_policy_names_a_tier);
	g_test_add_func("/config/trust/refuses-a-keyring-or-a-policy-beside-it",
	                test_trust_refuses_a_keyring_or_a_policy_beside_it);
	g_test_add_func("/config/trust/needs-its-initial-list-and-an-absolute-directory",
	                test_trust_needs_its_initial_list_and_an_absolute_directory);
	g_test_add_func("/config/check-time-is-read-per-policy-and-timestamp-needs-a-tsa-keyring",
	                test_check_time_is_read_per_policy_and_timestamp_needs_a_tsa_keyring);
	g_test_add_func("/config/encryption-key-is-a-path-relative-to-the-conf-or-a-token-uri",
	                test_encryption_key_is_a_path_relative_to_the_conf_or_a_token_uri);
	g_test_add_func("/config/use-bundle-signing-time-is-read-per-policy",
	                test_use_bundle_signing_time_is_read_per_policy);
	g_test_add_func("/config/min-bundle-version-must-have-an-order",
	                test_min_bundle_version_must_have_an_order);
	g_test_add_func("/config/rejects-unknown-key", test_rejects_unknown_key);
	g_test_add_func("/config/rejects-unknown-group", test_rejects_unknown_group);
	g_test_add_func("/config/rejects-duplicate-key", test_rejects_duplicate_key);
	g_test_add_func("/config/requires-a-keyring", test_requires_a_keyring);
	g_test_add_func("/config/requires-compatible", test_requires_compatible);
	g_test_add_func("/config/rejects-unknown-bootloader", test_rejects_unknown_bootloader);
	g_test_add_func("/config/custom-bootloader-needs-a-backend",
	                test_custom_bootloader_needs_a_backend);
	g_test_add_func("/config/grub-defaults-to-rauc-grubenv", test_grub_defaults_to_rauc_grubenv);
	g_test_add_func("/config/slot-policy-must-exist", test_slot_policy_must_exist);
	g_test_add_func("/config/bootnames-are-unique", test_bootnames_are_unique);
	g_test_add_func("/config/devices-are-unique", test_devices_are_unique);
	g_test_add_func("/config/only-slots-outside-ab-groups-share-a-device",
	                test_only_slots_outside_ab_groups_share_a_device);
	g_test_add_func("/config/rejects-malformed-slot-group", test_rejects_malformed_slot_group);
	g_test_add_func("/config/rejects-bad-values", test_rejects_bad_values);
	g_test_add_func("/config/needs-a-slot", test_needs_a_slot);
	g_test_add_func("/config/bundle-formats-follow-rauc-syntax",
	                test_bundle_formats_follow_rauc_syntax);
	g_test_add_func("/config/a-bootloader-key-is-refused-with-another-bootloader",
	                test_a_bootloader_key_is_refused_with_another_bootloader);
	g_test_add_func("/config/boot-attempts-are-read-for-uboot",
	                test_boot_attempts_are_read_for_uboot);
	g_test_add_func("/config/a-slot-type-key-is-refused-with-another-type",
	                test_a_slot_type_key_is_refused_with_another_type);
	g_test_add_func("/config/an-unimplemented-slot-type-is-refused-by-name",
	                test_an_unimplemented_slot_type_is_refused_by_name);
	g_test_add_func("/config/slot-flags-and-older-spellings", test_slot_flags_and_older_spellings);
	g_test_add_func("/config/sizes-take-binary-suffixes", test_sizes_take_binary_suffixes);
	g_test_add_func("/config/parent-links", test_parent_links);
	g_test_add_func("/config/statusfile-says-where-state-persists",
	                test_statusfile_says_where_state_persists);
	g_test_add_func("/config/relative-paths-are-relative-to-the-file",
	                test_relative_paths_are_relative_to_the_file);
	g_test_add_func("/config/variant-sources", test_variant_sources);
	g_test_add_func("/config/casync-keys-are-rauc-s", test_casync_keys_are_rauc_s);
	g_test_add_func("/config/streaming-keys", test_streaming_keys);
	g_test_add_func("/config/streaming-defaults", test_streaming_defaults);
	g_test_add_func("/config/streaming-rejects-bad-values", test_streaming_rejects_bad_values);
	g_test_add_func("/config/unimplemented-features-are-refused-by-name",
	                test_unimplemented_features_are_refused_by_name);
	g_test_add_func("/config/accepted-keys-that-change-nothing-here",
	                test_accepted_keys_that_change_nothing_here);
	g_test_add_func("/config/event-logs", test_event_logs);
	g_test_add_func("/config/a-slot-defined-twice-is-refused", test_a_slot_defined_twice_is_refused);
	g_test_add_func("/config/bootnames-fit-bootloader-variable-names",
	                test_bootnames_fit_bootloader_variable_names);
	g_test_add_func("/config/rejects-localized-keys", test_rejects_localized_keys);
	add_keyring_test("/config/keyring/paths-are-relative-to-the-conf",
	                 test_keyring_paths_are_relative_to_the_conf);
	add_keyring_test("/config/keyring/settings-are-read", test_keyring_settings_are_read);
	add_keyring_test("/config/keyring/use-bundle-signing-time-is-read",
	                 test_keyring_use_bundle_signing_time_is_read);
	add_keyring_test("/config/keyring/settings-otabundle-lacks-are-refused",
	                 test_keyring_settings_otabundle_lacks_are_refused);
	add_keyring_test("/config/keyring/rejects-what-rauc-rejects",
	                 test_keyring_rejects_what_rauc_rejects);
	add_keyring_test("/config/keyring/anchor-without-its-root-needs-partial-chain",
	                 test_keyring_anchor_without_its_root_needs_partial_chain);
	return g_test_run();
}
