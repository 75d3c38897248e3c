/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* system.conf as RAUC 1.8-1.15 documents it, with RAUC's meaning and
 * context rules (a key of one bootloader or slot type is an error with
 * another), plus otabundle's own keys. A documented setting otabundle does
 * not implement is refused by name (OTA_CONFIG_ERROR_UNSUPPORTED), never
 * ignored where that would change what is written or trusted. */
#include "config-private.h"

#include <otabundle/keys.h>
#include <otabundle/manifest.h>
#include <otabundle/text.h>
#include <otabundle/version.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <string.h>

#include "http-private.h"
#include "keyfile.h"
#include "openssl-private.h"

G_DEFINE_QUARK(ota-config-error-quark, ota_config_error)

static const OtaKeyfileErrors errors = {ota_config_error_quark, OTA_CONFIG_ERROR_MISSING,
                                        OTA_CONFIG_ERROR_INVALID,
                                        OTA_CONFIG_ERROR_UNKNOWN_FIELD};

#define DEFAULT_DATA_DIRECTORY "/var/lib/otabundle"
#define DEFAULT_GRUBENV "/boot/grub/grubenv"               /* RAUC's */
#define DEFAULT_MAX_BUNDLE_DOWNLOAD_SIZE (8 * 1024 * 1024) /* RAUC's */
#define DEFAULT_MAX_BUNDLE_SIGNATURE_SIZE (64 * 1024)      /* RAUC's */
#define DEFAULT_LOG_MAX_FILES 10                           /* RAUC's */

static void policy_config_free(OtaPolicyConfig *p)
{
	g_free(p->name);
	g_free(p->keyring);
	g_free(p->directory);
	g_free(p->crl);
	g_free(p->tsa_keyring);
	g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaPolicyConfig, policy_config_free)

static void slot_config_free(OtaSlotConfig *s)
{
	g_free(s->name);
	g_free(s->slotclass);
	g_free(s->device);
	g_free(s->bootname);
	g_free(s->policy);
	g_free(s->description);
	g_free(s->parent_name);
	g_strfreev(s->extra_mkfs_opts);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSlotConfig, slot_config_free)

static void log_config_free(OtaLogConfig *l)
{
	g_free(l->name);
	g_free(l->filename);
	g_free(l);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaLogConfig, log_config_free)

void ota_system_config_free(OtaSystemConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->path);
	g_free(c->compatible);
	g_free(c->data_directory);
	g_free(c->hardware_revision);
	g_free(c->custom_backend);
	g_free(c->encryption_key);
	g_free(c->encryption_cert);
	g_free(c->streaming.tls_ca);
	g_free(c->streaming.tls_cert);
	g_free(c->streaming.tls_key);
	g_free(c->streaming.header_file);
	g_free(c->streaming.sandbox_user);
	g_free(c->trust_initial);
	g_free(c->trust_directory);
	g_free(c->trust_tsa_keyring);
	g_free(c->casync_store_path);
	g_free(c->casync_tmp_path);
	g_free(c->casync_install_args);
	g_free(c->grubenv);
	g_free(c->uboot_config);
	g_free(c->barebox_statename);
	g_free(c->barebox_dtbpath);
	g_free(c->min_bundle_version);
	g_free(c->variant);
	if (c->policies != NULL)
		g_ptr_array_unref(c->policies);
	if (c->slots != NULL)
		g_ptr_array_unref(c->slots);
	if (c->loggers != NULL)
		g_ptr_array_unref(c->loggers);
	g_free(c);
}

static gboolean config_error(GError **error, OtaConfigError code, const char *format, ...)
	G_GNUC_PRINTF(3, 4);
static gboolean config_error(GError **error, OtaConfigError code, const char *format, ...)
{
	va_list args;
	g_autofree char *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, OTA_CONFIG_ERROR, code, msg);
	return FALSE;
}

/* A malformed value; a documented RAUC setting otabundle does not
 * implement. Both return FALSE. */
#define invalid(error, ...) config_error((error), OTA_CONFIG_ERROR_INVALID, __VA_ARGS__)
#define unsupported(error, ...) config_error((error), OTA_CONFIG_ERROR_UNSUPPORTED, __VA_ARGS__)

/* --- values ------------------------------------------------------------------------ */

/* A path in system.conf, resolved as RAUC resolves it: relative to the
 * directory of the system.conf, not to the working directory. An empty
 * value is an error, as in RAUC. */
static gboolean take_path(GKeyFile *kf, const char *group, const char *key,
                          const char *conf_path, char **out, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_autofree char *dir = NULL;

	*out = NULL;
	if (value == NULL)
		return TRUE;
	if (*value == '\0')
		return invalid(error, "empty %s in group [%s]", key, group);
	if (g_path_is_absolute(value)) {
		*out = g_steal_pointer(&value);
		return TRUE;
	}
	dir = g_path_get_dirname(conf_path);
	*out = g_build_filename(dir, value, NULL);
	return TRUE;
}

/* take_path(), or a pkcs11: URI as written (a token object, not a file). */
static gboolean take_path_or_uri(GKeyFile *kf, const char *group, const char *key,
                                 const char *conf_path, char **out, GError **error)
{
	g_autofree char *value = g_key_file_get_string(kf, group, key, NULL);

	if (value != NULL && ota_keys_is_pkcs11_uri(value)) {
		*out = ota_keyfile_take_string(kf, group, key);
		return TRUE;
	}
	return take_path(kf, group, key, conf_path, out, error);
}

/* A size in bytes with RAUC's optional binary suffix: 4M, 512K, 1G, 2T. */
static gboolean take_size(GKeyFile *kf, const char *group, const char *key, gboolean *present,
                          guint64 *out, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_autofree char *escaped = NULL;
	const char *suffixes = "KMGT";
	const char *s;
	char *end = NULL;
	guint64 number;
	guint shift = 0;

	*present = value != NULL;
	if (value == NULL)
		return TRUE;
	escaped = ota_text_escape(value);
	if (!g_ascii_isdigit(value[0]))
		goto bad;
	errno = 0;
	number = g_ascii_strtoull(value, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end != '\0') {
		s = strchr(suffixes, g_ascii_toupper(*end));
		if (s == NULL || end[1] != '\0')
			goto bad;
		shift = 10 * (guint)(s - suffixes + 1);
	}
	if (shift > 0 && number > (G_MAXUINT64 >> shift))
		goto bad;
	*out = number << shift;
	return TRUE;
bad:
	return invalid(error, "invalid %s '%s' in group [%s]: expected bytes, optionally with a "
	                      "K, M, G or T suffix", key, escaped, group);
}

/* A key RAUC reads only in one context (a bootloader, a slot type): RAUC
 * leaves it unread elsewhere and refuses the file for it. So do we, saying
 * where it belongs rather than that it is unknown. */
static gboolean refuse_out_of_context(GKeyFile *kf, const char *group, const char *key,
                                      const char *context, GError **error)
{
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	return invalid(error, "%s in group [%s] is only valid %s", key, group, context);
}

/* A documented RAUC key otabundle does not implement, refused by name when
 * present (with @what saying which feature it belongs to). */
static gboolean refuse_key(GKeyFile *kf, const char *group, const char *key, const char *what,
                           GError **error)
{
	if (!g_key_file_has_key(kf, group, key, NULL))
		return TRUE;
	return unsupported(error, "%s in group [%s] (%s) is not supported", key, group, what);
}

/* --- [keyring]: one parser for the device and the host tools (otabundle/config.h) --- */

struct OtaKeyringConfig {
	char *path;
	char *directory;
	gboolean has_purpose;
	OtaPurpose purpose;
	char *crl;
	guint threshold;
	OtaCheckTime check_time;
	char *tsa_keyring;
};

static void keyring_config_clear(OtaKeyringConfig *k)
{
	g_free(k->path);
	g_free(k->directory);
	g_free(k->crl);
	g_free(k->tsa_keyring);
}

void ota_keyring_config_free(OtaKeyringConfig *k)
{
	if (k == NULL)
		return;
	keyring_config_clear(k);
	g_free(k);
}

const char *ota_keyring_config_get_path(const OtaKeyringConfig *k)
{
	return k->path;
}

const char *ota_keyring_config_get_directory(const OtaKeyringConfig *k)
{
	return k->directory;
}

gboolean ota_keyring_config_get_purpose(const OtaKeyringConfig *k, OtaPurpose *purpose)
{
	if (k->has_purpose)
		*purpose = k->purpose;
	return k->has_purpose;
}

const char *ota_keyring_config_get_crl(const OtaKeyringConfig *k)
{
	return k->crl;
}

guint ota_keyring_config_get_threshold(const OtaKeyringConfig *k)
{
	return k->threshold;
}

gboolean ota_keyring_config_get_use_signing_time(const OtaKeyringConfig *k)
{
	return k->check_time == OTA_CHECK_TIME_SIGNING_TIME;
}


/* RAUC passes check-purpose to OpenSSL, so any OpenSSL purpose name is
 * valid there; otabundle checks three of them. */
static gboolean take_keyring_purpose(GKeyFile *kf, OtaKeyringConfig *k, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, "keyring", "check-purpose");
	g_autofree char *escaped = NULL;

	if (value == NULL)
		return TRUE;
	if (ota_purpose_from_string(value, &k->purpose)) {
		k->has_purpose = TRUE;
		return TRUE;
	}
	escaped = ota_text_escape(value);
	if (X509_PURPOSE_get_by_sname(value) >= 0)
		return unsupported(error, "check-purpose=%s in group [keyring] is not supported: "
		                          "otabundle checks any, smimesign or codesign", escaped);
	return invalid(error, "invalid check-purpose '%s' in group [keyring]: expected any, "
	                      "codesign or smimesign", escaped);
}

/* Settings RAUC documents that would narrow what is trusted in ways
 * otabundle does not check: refused, never ignored. */
static gboolean refuse_unimplemented(GKeyFile *kf, GError **error)
{
	g_autofree char *cns = ota_keyfile_take_string(kf, "keyring", "allowed-signer-cns");

	if (cns != NULL)
		return unsupported(error, "allowed-signer-cns in group [keyring] is not supported");
	return TRUE;
}

/* Without allow-partial-chain OpenSSL (and so RAUC) ends a chain only at a
 * self-signed certificate of the keyring; any other keyring certificate
 * just helps to reach one. otabundle trusts each keyring certificate as an
 * anchor, so a certificate that reaches no root would make otabundle trust
 * bundles that a RAUC device with this system.conf refuses. */
static gboolean check_anchors_reach_a_root(const char *keyring, GError **error)
{
	g_autoptr(OtaX509Stack) certs = NULL;
	g_autoptr(X509_STORE) store = NULL;

	certs = ota_keys_load_certificates(keyring, NULL);
	if (certs == NULL)
		return TRUE; /* the policy that loads it says what is wrong */
	store = X509_STORE_new();
	if (store == NULL)
		return invalid(error, "cannot create a certificate store");
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1)
			return invalid(error, "%s: cannot add certificate %d", keyring, i + 1);
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *cert = sk_X509_value(certs, i);
		g_autoptr(X509_STORE_CTX) ctx = NULL;
		g_autofree char *subject = NULL;
		int err;

		if (X509_get_extension_flags(cert) & EXFLAG_SS)
			continue;
		ctx = X509_STORE_CTX_new();
		if (ctx == NULL || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
			return invalid(error, "cannot create a certificate store context");
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
		                            X509_V_FLAG_NO_CHECK_TIME);
		if (X509_verify_cert(ctx) == 1)
			continue;
		ERR_clear_error();
		err = X509_STORE_CTX_get_error(ctx);
		if (err != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
		    err != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
			continue;
		subject = ota_x509_name_to_string(X509_get_subject_name(cert));
		return unsupported(error,
		                   "keyring %s holds %s, which reaches no root CA in it: RAUC trusts "
		                   "it only with allow-partial-chain=true in group [keyring]",
		                   keyring, subject ? subject : "a certificate");
	}
	return TRUE;
}

/* When a policy checks certificate times: RAUC's use-bundle-signing-time,
 * or otabundle's check-time= naming every mode (OtaCheckTime), whose
 * timestamp mode needs tsa-keyring=, the anchors of trusted TSAs (which
 * every mode but none uses when given). */
static gboolean take_time_check(GKeyFile *kf, const char *group, const char *conf_path,
                                OtaCheckTime *mode, char **tsa_keyring, GError **error)
{
	g_autofree char *name = ota_keyfile_take_string(kf, group, "check-time");
	gboolean use_signing_time = FALSE;
	OtaCheckTime named;

	if (!ota_keyfile_take_bool(kf, group, "use-bundle-signing-time", &use_signing_time,
	                           &errors, error) ||
	    !take_path(kf, group, "tsa-keyring", conf_path, tsa_keyring, error))
		return FALSE;
	*mode = use_signing_time ? OTA_CHECK_TIME_SIGNING_TIME : OTA_CHECK_TIME_DEVICE;
	if (name != NULL) {
		g_autofree char *escaped = ota_text_escape(name);

		if (!ota_check_time_from_string(name, &named))
			return invalid(error, "invalid check-time '%s' in group [%s]: expected device, "
			                      "timestamp, signing-time or none", escaped, group);
		if (use_signing_time && named != OTA_CHECK_TIME_SIGNING_TIME)
			return invalid(error, "use-bundle-signing-time=true and check-time=%s in group "
			                      "[%s]: give one", escaped, group);
		*mode = named;
	}
	if (*mode == OTA_CHECK_TIME_TIMESTAMP && *tsa_keyring == NULL)
		return config_error(error, OTA_CONFIG_ERROR_MISSING,
		                    "check-time=timestamp in group [%s] needs a tsa-keyring=", group);
	return TRUE;
}

static gboolean parse_keyring_group(GKeyFile *kf, const char *path, OtaKeyringConfig *k,
                                    GError **error)
{
	gboolean check_crl = FALSE, partial_chain = FALSE, has_threshold;
	guint64 threshold = 1;
	g_autofree char *crl = NULL;

	if (!g_key_file_has_group(kf, "keyring")) {
		g_set_error_literal(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_MISSING,
		                    "no [keyring] group: a path= or directory= of trusted "
		                    "certificates is required");
		return FALSE;
	}
	if (!take_path(kf, "keyring", "path", path, &k->path, error) ||
	    !take_path(kf, "keyring", "directory", path, &k->directory, error))
		return FALSE;
	if (k->path == NULL && k->directory == NULL) {
		g_set_error_literal(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_MISSING,
		                    "group [keyring] names no path or directory");
		return FALSE;
	}
	if (!take_keyring_purpose(kf, k, error) || !refuse_unimplemented(kf, error) ||
	    !take_time_check(kf, "keyring", path, &k->check_time, &k->tsa_keyring, error) ||
	    !ota_keyfile_take_bool(kf, "keyring", "check-crl", &check_crl, &errors, error) ||
	    !ota_keyfile_take_bool(kf, "keyring", "allow-partial-chain", &partial_chain, &errors,
	                           error) ||
	    !take_path(kf, "keyring", "crl", path, &crl, error) ||
	    !ota_keyfile_take_uint64(kf, "keyring", "threshold", 1, 64, &has_threshold, &threshold,
	                             &errors, error))
		return FALSE;
	k->threshold = (guint)threshold;
	if (check_crl && crl != NULL)
		return invalid(error, "check-crl=true and crl= in group [keyring]: give one");
	if (check_crl) {
		/* RAUC finds CRLs in the keyring itself; a directory's CRL links are
		 * only used together with a CRL file. */
		if (k->path == NULL)
			return unsupported(error, "check-crl=true with only a keyring directory is "
			                          "not supported (add a path= holding the CRLs)");
		crl = g_strdup(k->path);
	}
	k->crl = g_steal_pointer(&crl);
	return partial_chain || k->path == NULL || check_anchors_reach_a_root(k->path, error);
}

/* --- bootloaders and slot types -------------------------------------------------------- */

/* Every bootloader RAUC knows, and otabundle's file; @supported says
 * whether otabundle-install has a backend for it. */
static const struct {
	const char *name;
	OtaBootloaderKind kind;
	gboolean supported;
} bootloaders[] = {
	{"file", OTA_BOOTLOADER_FILE, TRUE},       {"custom", OTA_BOOTLOADER_CUSTOM, TRUE},
	{"uboot", OTA_BOOTLOADER_UBOOT, TRUE},     {"grub", OTA_BOOTLOADER_GRUB, TRUE},
	{"barebox", OTA_BOOTLOADER_BAREBOX, TRUE}, {"efi", OTA_BOOTLOADER_EFI, TRUE},
	{"noop", OTA_BOOTLOADER_NOOP, TRUE},
};

const char *config_bootloader_to_string(OtaBootloaderKind kind)
{
	for (gsize i = 0; i < G_N_ELEMENTS(bootloaders); i++) {
		if (bootloaders[i].kind == kind)
			return bootloaders[i].name;
	}
	g_return_val_if_reached("?");
}

/* Every slot type RAUC documents, and otabundle's tar; @supported says
 * whether otabundle-install can write it. */
static const struct {
	const char *name;
	OtaSlotType type;
	gboolean supported;
} slot_types[] = {
	{"raw", OTA_SLOT_RAW, TRUE},
	{"tar", OTA_SLOT_TAR, TRUE},
	{"ext4", OTA_SLOT_EXT4, TRUE},
	{"ext2", OTA_SLOT_EXT2, TRUE}, /* otabundle's */
	{"ext3", OTA_SLOT_EXT3, TRUE}, /* otabundle's */
	{"vfat", OTA_SLOT_VFAT, TRUE},
	{"ubifs", OTA_SLOT_UBIFS, FALSE},
	{"ubivol", OTA_SLOT_UBIVOL, FALSE},
	{"nand", OTA_SLOT_NAND, FALSE},
	{"nor", OTA_SLOT_NOR, FALSE},
	{"jffs2", OTA_SLOT_JFFS2, FALSE},
	{"boot-emmc", OTA_SLOT_BOOT_EMMC, FALSE},
	{"boot-mbr-switch", OTA_SLOT_BOOT_MBR_SWITCH, TRUE},
	{"boot-gpt-switch", OTA_SLOT_BOOT_GPT_SWITCH, TRUE},
	{"boot-raw-fallback", OTA_SLOT_BOOT_RAW_FALLBACK, FALSE},
};

const char *config_slot_type_to_string(OtaSlotType type)
{
	for (gsize i = 0; i < G_N_ELEMENTS(slot_types); i++) {
		if (slot_types[i].type == type)
			return slot_types[i].name;
	}
	g_return_val_if_reached("?");
}

static gboolean slot_type_has_region(OtaSlotType type)
{
	return type == OTA_SLOT_BOOT_MBR_SWITCH || type == OTA_SLOT_BOOT_GPT_SWITCH ||
	       type == OTA_SLOT_BOOT_RAW_FALLBACK;
}

const char *config_bootloader_missing_setting(const OtaSystemConfig *c)
{
	static const struct {
		OtaBootloaderKind kind;
		gsize offset;
		const char *setting;
	} needs[] = {
		{OTA_BOOTLOADER_FILE, G_STRUCT_OFFSET(OtaSystemConfig, data_directory),
		 "[system] data-directory"},
		{OTA_BOOTLOADER_CUSTOM, G_STRUCT_OFFSET(OtaSystemConfig, custom_backend),
		 "[handlers] bootloader-custom-backend"},
		{OTA_BOOTLOADER_GRUB, G_STRUCT_OFFSET(OtaSystemConfig, grubenv), "[system] grubenv"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(needs); i++) {
		const char *value = G_STRUCT_MEMBER(const char *, c, needs[i].offset);

		if (needs[i].kind == c->bootloader && (value == NULL || *value == '\0'))
			return needs[i].setting;
	}
	return NULL;
}

/* --- [system] ---------------------------------------------------------------------- */

static gboolean parse_bootloader(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	g_autofree char *name = NULL;
	g_autofree char *escaped = NULL;

	if (!ota_keyfile_take_required(kf, "system", "bootloader", &name, &errors, error))
		return FALSE;
	for (gsize i = 0; i < G_N_ELEMENTS(bootloaders); i++) {
		if (!g_str_equal(name, bootloaders[i].name))
			continue;
		if (!bootloaders[i].supported)
			return unsupported(error, "bootloader=%s in group [system] is not supported",
			                   name);
		c->bootloader = bootloaders[i].kind;
		return TRUE;
	}
	escaped = ota_text_escape(name);
	return invalid(error, "invalid bootloader '%s' in group [system]: expected barebox, grub, "
	                      "uboot, efi, custom, noop or file", escaped);
}

/* The keys of one bootloader: RAUC reads them only with it. */
static gboolean parse_bootloader_keys(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                                      GError **error)
{
	OtaBootloaderKind kind = c->bootloader;

	c->efi_use_bootnext = TRUE;
	if (kind == OTA_BOOTLOADER_GRUB) {
		if (!take_path(kf, "system", "grubenv", conf_path, &c->grubenv, error))
			return FALSE;
		if (c->grubenv == NULL)
			c->grubenv = g_strdup(DEFAULT_GRUBENV);
	}
	if (kind == OTA_BOOTLOADER_BAREBOX) {
		c->barebox_statename = ota_keyfile_take_string(kf, "system", "barebox-statename");
		if (!take_path(kf, "system", "barebox-dtbpath", conf_path, &c->barebox_dtbpath, error))
			return FALSE;
	}
	if (kind == OTA_BOOTLOADER_EFI &&
	    !ota_keyfile_take_bool(kf, "system", "efi-use-bootnext", &c->efi_use_bootnext, &errors,
	                           error))
		return FALSE;
	if (kind == OTA_BOOTLOADER_CUSTOM &&
	    !take_path(kf, "handlers", "bootloader-custom-backend", conf_path, &c->custom_backend,
	               error))
		return FALSE;
	if (kind == OTA_BOOTLOADER_UBOOT &&
	    !take_path(kf, "system", "fw-env-config", conf_path, &c->uboot_config, error))
		return FALSE;
	return refuse_out_of_context(kf, "system", "grubenv", "with bootloader=grub", error) &&
	       refuse_out_of_context(kf, "system", "barebox-statename",
	                             "with bootloader=barebox", error) &&
	       refuse_out_of_context(kf, "system", "barebox-dtbpath", "with bootloader=barebox",
	                             error) &&
	       refuse_out_of_context(kf, "system", "efi-use-bootnext", "with bootloader=efi",
	                             error) &&
	       refuse_out_of_context(kf, "handlers", "bootloader-custom-backend",
	                             "with bootloader=custom", error) &&
	       refuse_out_of_context(kf, "system", "fw-env-config", "with bootloader=uboot",
	                             error);
}

/* RAUC sets these only through U-Boot's and barebox's counters; a value
 * for another bootloader is an error there. */
static gboolean parse_boot_attempts(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	static const char *const keys[] = {"boot-attempts", "boot-attempts-primary"};
	guint *fields[] = {&c->boot_attempts, &c->boot_attempts_primary};

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		gboolean present;
		guint64 value = 0;

		if (!ota_keyfile_take_uint64(kf, "system", keys[i], 0, G_MAXINT, &present, &value,
		                             &errors, error))
			return FALSE;
		*fields[i] = (guint)value;
		if (value > 0 && c->bootloader != OTA_BOOTLOADER_UBOOT &&
		    c->bootloader != OTA_BOOTLOADER_BAREBOX)
			return invalid(error, "%s in group [system] is only valid with bootloader=uboot "
			                      "or barebox", keys[i]);
	}
	return TRUE;
}

/* RAUC's syntax: a list of formats ("plain verity") replaces the default
 * set; +format and -format change it. The two can't be mixed, and at least
 * one format must remain. */
static gboolean parse_bundle_formats(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	static const char *const names[] = {[OTA_BUNDLE_FORMAT_PLAIN] = "plain",
	                                    [OTA_BUNDLE_FORMAT_VERITY] = "verity",
	                                    [OTA_BUNDLE_FORMAT_CRYPT] = "crypt"};
	g_autofree char *value = ota_keyfile_take_string(kf, "system", "bundle-formats");
	g_auto(GStrv) tokens = NULL;
	gboolean set = FALSE, modify = FALSE;
	guint mask;

	c->bundle_formats = 1u << OTA_BUNDLE_FORMAT_PLAIN | 1u << OTA_BUNDLE_FORMAT_VERITY |
	                    1u << OTA_BUNDLE_FORMAT_CRYPT;
	if (value == NULL)
		return TRUE;
	mask = c->bundle_formats;
	tokens = g_strsplit(value, " ", -1);
	for (char **t = tokens; *t; t++) {
		const char *name = *t;
		gboolean minus = FALSE, found = FALSE;

		if (*name == '\0')
			continue;
		if (*name == '-' || *name == '+') {
			minus = *name == '-';
			modify = TRUE;
			name++;
		} else {
			if (!set)
				mask = 0;
			set = TRUE;
		}
		for (guint f = 0; f < G_N_ELEMENTS(names); f++) {
			if (!g_str_equal(name, names[f]))
				continue;
			found = TRUE;
			mask = minus ? mask & ~(1u << f) : mask | 1u << f;
		}
		if (!found) {
			g_autofree char *escaped = ota_text_escape(name);

			return invalid(error, "invalid bundle-formats '%s' in group [system]: expected "
			                      "plain, verity or crypt", escaped);
		}
	}
	if (set && modify)
		return invalid(error, "bundle-formats in group [system] mixes a list of formats with "
		                      "+/- changes");
	if (mask == 0)
		return invalid(error, "bundle-formats in group [system] leaves no format allowed");
	c->bundle_formats = mask;
	return TRUE;
}

static gboolean parse_variant(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                              GError **error)
{
	gboolean dtb = FALSE;
	g_autofree char *file = NULL;
	g_autofree char *name = ota_keyfile_take_string(kf, "system", "variant-name");

	if (!ota_keyfile_take_bool(kf, "system", "variant-dtb", &dtb, &errors, error) ||
	    !take_path(kf, "system", "variant-file", conf_path, &file, error))
		return FALSE;
	if (name != NULL && *name == '\0')
		return invalid(error, "empty variant-name in group [system]");
	if ((dtb ? 1 : 0) + (file ? 1 : 0) + (name ? 1 : 0) > 1)
		return invalid(error, "group [system] sets more than one of variant-dtb, variant-file "
		                      "and variant-name");
	if (dtb)
		c->variant_source = OTA_VARIANT_DTB;
	else if (file != NULL)
		c->variant_source = OTA_VARIANT_FILE;
	else if (name != NULL)
		c->variant_source = OTA_VARIANT_NAME;
	c->variant = file ? g_steal_pointer(&file) : g_steal_pointer(&name);
	return TRUE;
}

/* Where the state lives. RAUC keeps its slot status in statusfile= (on
 * storage that updates don't overwrite) or in data-directory=; otabundle
 * keeps its state (installed version, security floor, results) in the
 * data directory, so without data-directory= it takes the directory of
 * RAUC's status file, rather than a default that may be on the A/B root
 * file system, where the anti-rollback floor would not survive an update. */
static gboolean parse_data_directory(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                                     GError **error)
{
	g_autofree char *statusfile = NULL;

	if (!take_path(kf, "system", "data-directory", conf_path, &c->data_directory, error))
		return FALSE;
	statusfile = ota_keyfile_take_string(kf, "system", "statusfile");
	if (statusfile != NULL && *statusfile == '\0')
		return invalid(error, "empty statusfile in group [system]");
	if (g_strcmp0(statusfile, "per-slot") == 0) {
		if (c->data_directory != NULL)
			return invalid(error, "statusfile=per-slot and data-directory in group [system]: "
			                      "give one");
	} else if (statusfile != NULL && c->data_directory == NULL) {
		g_autofree char *dir = NULL;

		if (!g_path_is_absolute(statusfile)) {
			g_autofree char *confdir = g_path_get_dirname(conf_path);
			g_autofree char *resolved = g_build_filename(confdir, statusfile, NULL);

			g_free(statusfile);
			statusfile = g_steal_pointer(&resolved);
		}
		dir = g_path_get_dirname(statusfile);
		c->data_directory = g_build_filename(dir, "otabundle", NULL);
	}
	if (c->data_directory == NULL)
		c->data_directory = g_strdup(DEFAULT_DATA_DIRECTORY);
	return TRUE;
}

static gboolean parse_system_limits(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	gboolean present;

	c->max_bundle_download_size = DEFAULT_MAX_BUNDLE_DOWNLOAD_SIZE;
	c->max_bundle_signature_size = DEFAULT_MAX_BUNDLE_SIGNATURE_SIZE;
	return ota_keyfile_take_uint64(kf, "system", "max-bundle-download-size", 1, G_MAXUINT64,
	                               &c->max_bundle_download_size_set,
	                               &c->max_bundle_download_size, &errors, error) &&
	       ota_keyfile_take_uint64(kf, "system", "max-bundle-signature-size", 1, G_MAXUINT64,
	                               &present, &c->max_bundle_signature_size, &errors, error);
}

/* RAUC refuses a min-bundle-version it can't order; so do we
 * (otabundle/version.h), rather than refuse every bundle later. */
static gboolean take_min_bundle_version(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	g_autoptr(GError) ierror = NULL;

	c->min_bundle_version = ota_keyfile_take_string(kf, "system", "min-bundle-version");
	if (c->min_bundle_version == NULL || ota_version_check(c->min_bundle_version, &ierror))
		return TRUE;
	return invalid(error, "invalid min-bundle-version in group [system]: %s", ierror->message);
}

static gboolean parse_system(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                             GError **error)
{
	g_autofree char *mountprefix = NULL;
	gboolean pre_check = FALSE;
	const char *missing;

	c->activate_installed = TRUE;
	if (!ota_keyfile_take_required(kf, "system", "compatible", &c->compatible, &errors,
	                               error) ||
	    !parse_bootloader(kf, c, error) || !parse_bootloader_keys(kf, conf_path, c, error) ||
	    !parse_boot_attempts(kf, c, error) || !parse_bundle_formats(kf, c, error) ||
	    !parse_variant(kf, conf_path, c, error) ||
	    !parse_data_directory(kf, conf_path, c, error) || !parse_system_limits(kf, c, error) ||
	    !ota_keyfile_take_bool(kf, "system", "activate-installed", &c->activate_installed,
	                           &errors, error) ||
	    !ota_keyfile_take_bool(kf, "system", "prevent-late-fallback",
	                           &c->prevent_late_fallback, &errors, error) ||
	    /* otabundle checks every block of a bundle before it writes a slot */
	    !ota_keyfile_take_bool(kf, "system", "perform-pre-check", &pre_check, &errors, error) ||
	    !ota_keyfile_take_bool(kf, "system", "allow-downgrade", &c->allow_downgrade, &errors,
	                           error))
		return FALSE;
	/* otabundle-install mounts neither bundles nor slots */
	mountprefix = ota_keyfile_take_string(kf, "system", "mountprefix");
	if (!take_min_bundle_version(kf, c, error))
		return FALSE;
	c->hardware_revision = ota_keyfile_take_string(kf, "system", "hardware-revision");
	if (!c->activate_installed)
		return unsupported(error, "activate-installed=false in group [system] is not "
		                          "supported");
	missing = config_bootloader_missing_setting(c);
	if (missing != NULL)
		return invalid(error, "bootloader=%s needs %s", config_bootloader_to_string(c->bootloader),
		               missing);
	return TRUE;
}

/* --- [handlers], [log.*] and the groups otabundle refuses ------------------------------ */

/* RAUC runs these scripts with its own environment (the bundle mounted at
 * RAUC_UPDATE_SOURCE, RAUC_SLOTS, ...): a script that can veto or finish an
 * install must not be skipped, and otabundle does not run them. */
static gboolean parse_handlers(GKeyFile *kf, GError **error)
{
	return refuse_key(kf, "handlers", "system-info", "a system information handler", error) &&
	       refuse_key(kf, "handlers", "pre-install", "a pre-install handler", error) &&
	       refuse_key(kf, "handlers", "post-install", "a post-install handler", error);
}

static gboolean parse_log_events(const char *group, const char *value, OtaLogConfig *l,
                                 GError **error)
{
	static const struct {
		const char *name;
		guint bits;
	} events[] = {{"all", OTA_LOG_EVENT_ALL},
	              {"install", OTA_LOG_EVENT_INSTALL},
	              {"boot", OTA_LOG_EVENT_BOOT},
	              {"mark", OTA_LOG_EVENT_MARK},
	              {"service", OTA_LOG_EVENT_SERVICE},
	              {"writeslot", OTA_LOG_EVENT_WRITESLOT},
	              {"trust", OTA_LOG_EVENT_TRUST}};
	g_auto(GStrv) list = NULL;

	l->events = value == NULL ? OTA_LOG_EVENT_ALL : 0;
	if (value == NULL)
		return TRUE;
	list = g_strsplit(value, ";", -1);
	for (char **e = list; *e; e++) {
		gboolean found = FALSE;

		g_strstrip(*e);
		if (**e == '\0' && e[1] == NULL && e != list)
			break; /* GKeyFile lists may end in ';' */
		for (gsize i = 0; i < G_N_ELEMENTS(events); i++) {
			if (g_str_equal(*e, events[i].name)) {
				l->events |= events[i].bits;
				found = TRUE;
			}
		}
		if (!found) {
			g_autofree char *escaped = ota_text_escape(*e);

			return invalid(error, "invalid event '%s' in events of group [%s]", escaped,
			               group);
		}
		if (g_str_equal(*e, "all") && g_strv_length(list) > 1 &&
		    !(g_strv_length(list) == 2 && *list[1] == '\0'))
			return invalid(error, "events=all in group [%s] can't be combined", group);
	}
	return TRUE;
}

static OtaLogConfig *parse_log(GKeyFile *kf, const char *group, const OtaSystemConfig *c,
                               gboolean explicit_data_directory, GError **error)
{
	static const char *const formats[] = {[OTA_LOG_FORMAT_READABLE] = "readable",
	                                      [OTA_LOG_FORMAT_SHORT] = "short",
	                                      [OTA_LOG_FORMAT_JSON] = "json",
	                                      [OTA_LOG_FORMAT_JSON_PRETTY] = "json-pretty"};
	g_autoptr(OtaLogConfig) l = g_new0(OtaLogConfig, 1);
	g_autofree char *format = NULL;
	g_autofree char *events = NULL;
	gboolean present, found = FALSE;
	guint64 max_files = DEFAULT_LOG_MAX_FILES;

	l->name = g_strdup(group + strlen("log."));
	if (*l->name == '\0') {
		invalid(error, "invalid log group [%s]: expected [log.<name>]", group);
		return NULL;
	}
	if (!ota_keyfile_take_required(kf, group, "filename", &l->filename, &errors, error))
		return NULL;
	if (*l->filename == '\0') {
		invalid(error, "empty filename in group [%s]", group);
		return NULL;
	}
	if (!g_path_is_absolute(l->filename)) {
		char *absolute;

		/* RAUC: relative to data-directory, which must then be given */
		if (!explicit_data_directory) {
			invalid(error, "relative filename in group [%s] needs data-directory in group "
			               "[system]", group);
			return NULL;
		}
		absolute = g_build_filename(c->data_directory, l->filename, NULL);
		g_free(l->filename);
		l->filename = absolute;
	}
	format = ota_keyfile_take_string(kf, group, "format");
	for (gsize i = 0; format != NULL && i < G_N_ELEMENTS(formats); i++) {
		if (g_str_equal(format, formats[i])) {
			l->format = (OtaLogFormat)i;
			found = TRUE;
		}
	}
	if (format != NULL && !found) {
		g_autofree char *escaped = ota_text_escape(format);

		invalid(error, "invalid format '%s' in group [%s]: expected readable, short, json or "
		               "json-pretty", escaped, group);
		return NULL;
	}
	events = ota_keyfile_take_string(kf, group, "events");
	if (!parse_log_events(group, events, l, error) ||
	    !take_size(kf, group, "max-size", &present, &l->max_size, error) ||
	    !ota_keyfile_take_uint64(kf, group, "max-files", 1, 1000, &present, &max_files, &errors,
	                             error))
		return NULL;
	l->max_files = (guint)max_files;
	return g_steal_pointer(&l);
}

/* Groups of RAUC features that otabundle-install does not have: refused
 * as a whole, by feature, so that a device maker knows what is missing. */
static gboolean refuse_group(const char *group, GError **error)
{
	static const struct {
		const char *group;
		gboolean prefix;
		const char *what;
	} refused[] = {
		{"autoinstall", FALSE, "auto-install"},
		{"polling", FALSE, "polling for updates (RAUC 1.16)"},
		{"artifacts.", TRUE, "artifact repositories"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
		if (refused[i].prefix ? g_str_has_prefix(group, refused[i].group)
		                      : g_str_equal(group, refused[i].group))
			return unsupported(error, "group [%s] (%s) is not supported", group,
			                   refused[i].what);
	}
	return TRUE;
}

/* [encryption]: RAUC's key (and its certificate) that decrypts encrypted
 * bundles, each a file relative to the configuration or a pkcs11: URI. */
static gboolean parse_encryption(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                                 GError **error)
{
	return take_path_or_uri(kf, "encryption", "key", conf_path, &c->encryption_key, error) &&
	       take_path_or_uri(kf, "encryption", "cert", conf_path, &c->encryption_cert, error);
}

/* --- [streaming] ----------------------------------------------------------------------- */

/* RAUC's send-headers values, in its order, and the bit of each. */
static const struct {
	const char *name;
	OtaSendHeader bit;
} send_header_names[] = {
	{"boot-id", OTA_SEND_HEADER_BOOT_ID},
	{"machine-id", OTA_SEND_HEADER_MACHINE_ID},
	{"system-version", OTA_SEND_HEADER_SYSTEM_VERSION},
	{"serial", OTA_SEND_HEADER_SERIAL},
	{"variant", OTA_SEND_HEADER_VARIANT},
	{"transaction-id", OTA_SEND_HEADER_TRANSACTION_ID},
	{"uptime", OTA_SEND_HEADER_UPTIME},
};

const char *config_send_header_name(OtaSendHeader bit)
{
	for (gsize i = 0; i < G_N_ELEMENTS(send_header_names); i++) {
		if (send_header_names[i].bit == bit)
			return send_header_names[i].name;
	}
	return NULL;
}

/* A ';'-separated list, as RAUC reads it; an unknown name is an error
 * there too. */
static gboolean take_send_headers(GKeyFile *kf, guint *out, GError **error)
{
	g_auto(GStrv) names = NULL;

	*out = 0;
	if (!g_key_file_has_key(kf, "streaming", "send-headers", NULL))
		return TRUE;
	names = g_key_file_get_string_list(kf, "streaming", "send-headers", NULL, NULL);
	g_key_file_remove_key(kf, "streaming", "send-headers", NULL);
	for (char **n = names; n != NULL && *n != NULL; n++) {
		g_autofree char *escaped = NULL;
		gsize i;

		g_strstrip(*n);
		if (**n == '\0')
			continue;
		for (i = 0; i < G_N_ELEMENTS(send_header_names); i++) {
			if (g_str_equal(*n, send_header_names[i].name))
				break;
		}
		if (i < G_N_ELEMENTS(send_header_names)) {
			*out |= send_header_names[i].bit;
			continue;
		}
		escaped = ota_text_escape(*n);
		return invalid(error, "invalid send-headers value '%s' in group [streaming]: "
		                      "expected boot-id, machine-id, system-version, serial, variant, "
		                      "transaction-id or uptime", escaped);
	}
	return TRUE;
}

/* [streaming]: RAUC's keys (sandbox-user has no effect: otabundle-install
 * runs no helper process) and otabundle's timeout= and header-file=. Paths
 * are resolved relative to the configuration like every other. */
static gboolean parse_streaming(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                                GError **error)
{
	OtaStreamingConfig *s = &c->streaming;
	guint64 timeout = OTA_HTTP_DEFAULT_TIMEOUT;
	gboolean present;

	s->timeout = OTA_HTTP_DEFAULT_TIMEOUT;
	if (!g_key_file_has_group(kf, "streaming"))
		return TRUE;
	s->sandbox_user = ota_keyfile_take_string(kf, "streaming", "sandbox-user");
	if (!take_path(kf, "streaming", "tls-ca", conf_path, &s->tls_ca, error) ||
	    !take_path_or_uri(kf, "streaming", "tls-cert", conf_path, &s->tls_cert, error) ||
	    !take_path_or_uri(kf, "streaming", "tls-key", conf_path, &s->tls_key, error) ||
	    !take_path(kf, "streaming", "header-file", conf_path, &s->header_file, error) ||
	    !take_send_headers(kf, &s->send_headers, error) ||
	    !ota_keyfile_take_uint64(kf, "streaming", "timeout", 1, OTA_HTTP_MAX_TIMEOUT,
	                             &present, &timeout, &errors, error))
		return FALSE;
	s->timeout = (guint)timeout;
	if ((s->tls_cert == NULL) != (s->tls_key == NULL))
		return invalid(error, "%s in group [streaming] needs %s as well (mutual TLS)",
		               s->tls_cert ? "tls-cert" : "tls-key", s->tls_cert ? "tls-key" : "tls-cert");
	return TRUE;
}

/* [casync]: RAUC's settings for installing casync bundles. storepath is
 * passed to casync as RAUC passes it when it is a URL, else resolved like
 * the other paths; desync is not in Debian, so use-desync=true is refused
 * rather than quietly running casync. */
static gboolean parse_casync(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                             GError **error)
{
	g_autofree char *store = ota_keyfile_take_string(kf, "casync", "storepath");
	gboolean use_desync = FALSE;

	if (store != NULL && strstr(store, "://") != NULL) {
		c->casync_store_path = g_steal_pointer(&store);
	} else if (store != NULL) {
		g_key_file_set_string(kf, "casync", "storepath", store);
		if (!take_path(kf, "casync", "storepath", conf_path, &c->casync_store_path, error))
			return FALSE;
	}
	if (!take_path(kf, "casync", "tmppath", conf_path, &c->casync_tmp_path, error) ||
	    !ota_keyfile_take_bool(kf, "casync", "use-desync", &use_desync, &errors, error))
		return FALSE;
	c->casync_install_args = ota_keyfile_take_string(kf, "casync", "install-args");
	/* Split when an install runs casync: an error then would come after
	 * the slot was opened for writing. */
	if (c->casync_install_args != NULL && *c->casync_install_args != '\0') {
		g_auto(GStrv) argv = NULL;
		g_autoptr(GError) ierror = NULL;

		if (!g_shell_parse_argv(c->casync_install_args, NULL, &argv, &ierror))
			return invalid(error, "invalid install-args in group [casync]: %s",
			               ierror->message);
	}
	if (use_desync)
		return unsupported(error, "[casync] use-desync=true is not supported: otabundle-install "
		                          "rebuilds casync images with casync (desync is not in Debian)");
	return TRUE;
}

/* --- [trust] --------------------------------------------------------------------------- */

/* [trust]: otabundle's signed trust lists (otabundle-trust(5)). initial=
 * is shipped in the image, so it is resolved like a keyring; directory=
 * holds what trust updates installed and must outlive a fallback to the
 * other slot, so it must not be in the image: an absolute path, by
 * default in the data directory. */
static gboolean parse_trust(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                            GError **error)
{
	g_autofree char *directory = ota_keyfile_take_string(kf, "trust", "directory");

	/* The TSAs whose tokens the tiers' time checks may trust (a device's
	 * own choice, like its clock: not part of the signed list). */
	if (!take_path(kf, "trust", "initial", conf_path, &c->trust_initial, error) ||
	    !take_path(kf, "trust", "tsa-keyring", conf_path, &c->trust_tsa_keyring, error))
		return FALSE;
	if (c->trust_initial == NULL)
		return config_error(error, OTA_CONFIG_ERROR_MISSING,
		                    "missing key 'initial' in group [trust]: the trust list shipped "
		                    "in the image");
	if (directory != NULL && !g_path_is_absolute(directory)) {
		g_autofree char *escaped = ota_text_escape(directory);

		return invalid(error, "directory '%s' in group [trust] is not an absolute path: the "
		                      "trust lists installed must live outside the A/B slots",
		               escaped);
	}
	c->trust_directory = directory != NULL ? g_steal_pointer(&directory)
	                                       : g_build_filename(c->data_directory, "trust", NULL);
	return TRUE;
}

/* With [trust], the trust list's tiers are the policies: a [keyring] or
 * [policy.<name>] beside it would be a second, unsigned source of trust
 * that a trust update could not revoke. A slot's policy= names a tier. */
static gboolean refuse_with_trust(const char *group, GError **error)
{
	if (g_str_equal(group, "keyring") || g_str_has_prefix(group, "policy."))
		return invalid(error, "group [%s] and group [trust] both say whom to trust: with "
		                      "[trust], the trust list's tiers replace [keyring] and "
		                      "[policy.<name>] (a slot's policy= names a tier)",
		               group);
	return TRUE;
}

/* --- [keyring] and [policy.*] ---------------------------------------------------------- */

/* [keyring] is RAUC's, read by the one parser the host tools use too; it
 * becomes the "default" policy. */
static OtaPolicyConfig *parse_default_policy(GKeyFile *kf, const char *conf_path,
                                             GError **error)
{
	g_autoptr(OtaPolicyConfig) p = g_new0(OtaPolicyConfig, 1);
	OtaKeyringConfig k = {0};

	if (!parse_keyring_group(kf, conf_path, &k, error)) {
		keyring_config_clear(&k);
		return NULL;
	}
	p->name = g_strdup("default");
	p->keyring = g_steal_pointer(&k.path);
	p->directory = g_steal_pointer(&k.directory);
	p->crl = g_steal_pointer(&k.crl);
	p->threshold = k.threshold;
	p->purpose = k.has_purpose ? k.purpose : OTA_PURPOSE_DEFAULT;
	p->check_time = k.check_time;
	p->tsa_keyring = g_steal_pointer(&k.tsa_keyring);
	keyring_config_clear(&k);
	return g_steal_pointer(&p);
}

/* [policy.<name>]: otabundle's stricter tiers; each certificate of path=
 * is a trust anchor. */
static OtaPolicyConfig *parse_policy(GKeyFile *kf, const char *conf_path, const char *group,
                                     const char *name, GError **error)
{
	g_autoptr(OtaPolicyConfig) p = g_new0(OtaPolicyConfig, 1);
	g_autofree char *purpose = NULL;
	gboolean has_threshold;
	guint64 threshold = 1;

	p->name = g_strdup(name);
	p->purpose = OTA_PURPOSE_DEFAULT;
	if (!take_path(kf, group, "path", conf_path, &p->keyring, error) ||
	    !take_path(kf, group, "crl", conf_path, &p->crl, error) ||
	    !ota_keyfile_take_uint64(kf, group, "threshold", 1, 64, &has_threshold, &threshold,
	                             &errors, error) ||
	    !take_time_check(kf, group, conf_path, &p->check_time, &p->tsa_keyring, error))
		return NULL;
	if (p->keyring == NULL) {
		config_error(error, OTA_CONFIG_ERROR_MISSING, "missing key 'path' in group [%s]",
		             group);
		return NULL;
	}
	p->threshold = (guint)threshold;
	purpose = ota_keyfile_take_string(kf, group, "check-purpose");
	if (purpose != NULL && !ota_purpose_from_string(purpose, &p->purpose)) {
		g_autofree char *escaped = ota_text_escape(purpose);

		invalid(error, "invalid check-purpose '%s' in group [%s]: expected any, codesign or "
		               "smimesign", escaped, group);
		return NULL;
	}
	return g_steal_pointer(&p);
}

/* --- [slot.<class>.<index>] ------------------------------------------------------------ */

gboolean config_bootname_is_valid(const char *name)
{
	if (*name == '\0')
		return FALSE;
	for (const char *p = name; *p; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean parse_slot_type(GKeyFile *kf, const char *group, OtaSlotConfig *s,
                                GError **error)
{
	g_autofree char *type = ota_keyfile_take_string(kf, group, "type");
	g_autofree char *escaped = NULL;

	if (type == NULL) {
		s->type = OTA_SLOT_RAW;
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(slot_types); i++) {
		if (!g_str_equal(type, slot_types[i].name))
			continue;
		if (!slot_types[i].supported)
			return unsupported(error, "slot type '%s' of [%s] is not supported", type, group);
		s->type = slot_types[i].type;
		return TRUE;
	}
	escaped = ota_text_escape(type);
	return invalid(error, "invalid type '%s' in group [%s]: not a RAUC slot type", escaped,
	               group);
}

/* install-same, or its older spellings (which RAUC still reads, in this
 * order of precedence). */
static gboolean parse_install_same(GKeyFile *kf, const char *group, OtaSlotConfig *s,
                                   GError **error)
{
	static const char *const keys[] = {"install-same", "force-install-same", "ignore-checksum"};
	gboolean seen = FALSE;

	s->install_same = TRUE;
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		gboolean value = TRUE;
		gboolean present = g_key_file_has_key(kf, group, keys[i], NULL);

		if (!ota_keyfile_take_bool(kf, group, keys[i], &value, &errors, error))
			return FALSE;
		if (present && !seen)
			s->install_same = value;
		seen = seen || present;
	}
	return TRUE;
}

/* Keys whose meaning depends on the slot type: RAUC reads region-start and
 * region-size (both required) only for the atomic bootloader types, and
 * size-limit only for boot-emmc. */
static gboolean parse_slot_type_keys(GKeyFile *kf, const char *group, OtaSlotConfig *s,
                                     GError **error)
{
	const char *type = config_slot_type_to_string(s->type);
	gboolean present;

	if (slot_type_has_region(s->type)) {
		if (!take_size(kf, group, "region-start", &present, &s->region_start, error))
			return FALSE;
		if (!present)
			return config_error(error, OTA_CONFIG_ERROR_MISSING,
			                    "missing key 'region-start' in group [%s] (required for %s)",
			                    group, type);
		if (!take_size(kf, group, "region-size", &present, &s->region_size, error))
			return FALSE;
		if (!present)
			return config_error(error, OTA_CONFIG_ERROR_MISSING,
			                    "missing key 'region-size' in group [%s] (required for %s)",
			                    group, type);
		if (s->region_size == 0)
			return invalid(error, "region-size in group [%s] is 0", group);
	}
	if (s->type == OTA_SLOT_BOOT_EMMC &&
	    !take_size(kf, group, "size-limit", &present, &s->size_limit, error))
		return FALSE;
	return refuse_out_of_context(kf, group, "region-start",
	                             "for boot-mbr-switch, boot-gpt-switch and boot-raw-fallback "
	                             "slots", error) &&
	       refuse_out_of_context(kf, group, "region-size",
	                             "for boot-mbr-switch, boot-gpt-switch and boot-raw-fallback "
	                             "slots", error) &&
	       refuse_out_of_context(kf, group, "size-limit", "for boot-emmc slots", error);
}

static gboolean parse_slot_flags(GKeyFile *kf, const char *group, OtaSlotConfig *s,
                                 GError **error)
{
	g_autofree char *mkfs = ota_keyfile_take_string(kf, group, "extra-mkfs-opts");
	/* otabundle-install never mounts a slot: it writes or builds the file
	 * system without mounting it */
	G_GNUC_UNUSED g_autofree char *mount_opts =
		ota_keyfile_take_string(kf, group, "extra-mount-opts");
	g_autoptr(GError) ierror = NULL;

	if (!parse_install_same(kf, group, s, error) ||
	    !ota_keyfile_take_bool(kf, group, "readonly", &s->readonly, &errors, error) ||
	    !ota_keyfile_take_bool(kf, group, "resize", &s->resize, &errors, error) ||
	    !ota_keyfile_take_bool(kf, group, "allow-mounted", &s->allow_mounted, &errors, error))
		return FALSE;
	if (mkfs != NULL && !g_shell_parse_argv(mkfs, NULL, &s->extra_mkfs_opts, &ierror)) {
		g_autofree char *escaped = ota_text_escape(mkfs);

		return invalid(error, "invalid extra-mkfs-opts '%s' in group [%s]: %s", escaped, group,
		               ierror->message);
	}
	return refuse_key(kf, group, "efi-loader", "EFI boot entries, RAUC 1.16", error) &&
	       refuse_key(kf, group, "efi-cmdline", "EFI boot entries, RAUC 1.16", error);
}

static OtaSlotConfig *parse_slot(GKeyFile *kf, const char *conf_path, const char *group,
                                 GError **error)
{
	g_autoptr(OtaSlotConfig) s = g_new0(OtaSlotConfig, 1);
	g_auto(GStrv) parts = g_strsplit(group, ".", -1);
	guint64 index = 0;

	if (g_strv_length(parts) != 3 || !ota_keyfile_name_is_valid(parts[1]) ||
	    !g_ascii_string_to_unsigned(parts[2], 10, 0, 99, &index, NULL)) {
		invalid(error, "invalid slot group [%s]: expected [slot.<class>.<index>]", group);
		return NULL;
	}
	s->slotclass = g_strdup(parts[1]);
	s->index = (guint)index;
	s->name = g_strdup_printf("%s.%u", s->slotclass, s->index);
	if (!take_path(kf, group, "device", conf_path, &s->device, error))
		return NULL;
	if (s->device == NULL) {
		config_error(error, OTA_CONFIG_ERROR_MISSING, "missing key 'device' in group [%s]",
		             group);
		return NULL;
	}
	if (!parse_slot_type(kf, group, s, error) || !parse_slot_type_keys(kf, group, s, error) ||
	    !parse_slot_flags(kf, group, s, error))
		return NULL;
	s->description = ota_keyfile_take_string(kf, group, "description");
	s->parent_name = ota_keyfile_take_string(kf, group, "parent");
	s->bootname = ota_keyfile_take_string(kf, group, "bootname");
	if (s->bootname != NULL && !config_bootname_is_valid(s->bootname)) {
		g_autofree char *escaped = ota_text_escape(s->bootname);

		invalid(error, "invalid bootname '%s' in group [%s]: letters, digits and '_' only",
		        escaped, group);
		return NULL;
	}
	if (s->bootname != NULL && s->parent_name != NULL) {
		invalid(error, "slot %s has a parent and a bootname: only a slot without parent= can "
		               "have a bootname", s->name);
		return NULL;
	}
	s->policy = ota_keyfile_take_string(kf, group, "policy");
	return g_steal_pointer(&s);
}

static gboolean parse_groups(GKeyFile *kf, const char *conf_path, OtaSystemConfig *c,
                             gboolean explicit_data_directory, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	OtaPolicyConfig *p;

	gboolean trust = g_key_file_has_group(kf, "trust");

	if (!parse_handlers(kf, error) || !parse_encryption(kf, conf_path, c, error) ||
	    !parse_streaming(kf, conf_path, c, error))
		return FALSE;
	if (trust && !parse_trust(kf, conf_path, c, error))
		return FALSE;
	if (g_key_file_has_group(kf, "casync") && !parse_casync(kf, conf_path, c, error))
		return FALSE;
	if (!trust) {
		p = parse_default_policy(kf, conf_path, error);
		if (p == NULL)
			return FALSE;
		g_ptr_array_add(c->policies, p);
	}
	for (char **g = groups; *g; g++) {
		if (!refuse_group(*g, error) || (trust && !refuse_with_trust(*g, error)))
			return FALSE;
		if (g_str_has_prefix(*g, "policy.")) {
			const char *name = *g + strlen("policy.");

			if (!ota_keyfile_name_is_valid(name) || g_str_equal(name, "default"))
				return invalid(error, "invalid policy group [%s]", *g);
			p = parse_policy(kf, conf_path, *g, name, error);
			if (p == NULL)
				return FALSE;
			g_ptr_array_add(c->policies, p);
		} else if (g_str_has_prefix(*g, "slot.")) {
			OtaSlotConfig *s = parse_slot(kf, conf_path, *g, error);

			if (s == NULL)
				return FALSE;
			g_ptr_array_add(c->slots, s);
		} else if (g_str_has_prefix(*g, "log.")) {
			OtaLogConfig *l = parse_log(kf, *g, c, explicit_data_directory, error);

			if (l == NULL)
				return FALSE;
			g_ptr_array_add(c->loggers, l);
		} else if (!g_str_equal(*g, "system") && !g_str_equal(*g, "keyring") &&
		           !g_str_equal(*g, "handlers") && !g_str_equal(*g, "encryption") &&
		           !g_str_equal(*g, "streaming") && !g_str_equal(*g, "trust") &&
		           !g_str_equal(*g, "casync")) {
			g_autofree char *escaped = ota_text_escape(*g);

			return config_error(error, OTA_CONFIG_ERROR_UNKNOWN_FIELD, "unknown group [%s]",
			                    escaped);
		}
	}
	return TRUE;
}

/* --- the slots as a whole -------------------------------------------------------------- */

/* parent= names a slot; RAUC follows a chain of them to its root (and
 * refuses a loop), so every child belongs to one root slot's group. */
static gboolean resolve_parents(OtaSystemConfig *c, GError **error)
{
	for (guint i = 0; i < c->slots->len; i++) {
		OtaSlotConfig *s = g_ptr_array_index(c->slots, i);
		const OtaSlotConfig *root = s;

		for (guint steps = 0; root->parent_name != NULL; steps++) {
			const OtaSlotConfig *next = NULL;

			for (guint j = 0; j < c->slots->len && next == NULL; j++) {
				const OtaSlotConfig *t = g_ptr_array_index(c->slots, j);

				if (g_str_equal(t->name, root->parent_name))
					next = t;
			}
			if (next == NULL)
				return invalid(error, "slot %s names parent %s, but there is no [slot.%s]",
				               root->name, root->parent_name, root->parent_name);
			if (steps > c->slots->len)
				return invalid(error, "slot %s: its parent= links form a loop", s->name);
			root = next;
		}
		s->parent = root == s ? NULL : root;
	}
	return TRUE;
}

/* Slots must be addressable without ambiguity, and every policy a slot
 * names must exist: a typo must not silently fall back to a weaker one. */

/* A slot outside every A/B group: the only one of its class, no bootname,
 * no parent and nobody's parent. RAUC lets such slots share a device (Home
 * Assistant OS's ODROID configurations name one device for their boot and
 * spl slots); a slot of a group never shares one, so the inactive slot's
 * device can never be the active one's. */
static gboolean slot_stands_alone(const OtaSystemConfig *c, const OtaSlotConfig *s)
{
	if (s->bootname != NULL || s->parent_name != NULL)
		return FALSE;
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *o = g_ptr_array_index(c->slots, i);

		if (o != s && (g_str_equal(o->slotclass, s->slotclass) ||
		               g_strcmp0(o->parent_name, s->name) == 0))
			return FALSE;
	}
	return TRUE;
}

static gboolean check_slots(OtaSystemConfig *c, GError **error)
{
	g_autoptr(GHashTable) bootnames = g_hash_table_new(g_str_hash, g_str_equal);

	if (c->slots->len == 0)
		return invalid(error, "no [slot.<class>.<index>] group");
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		for (guint j = 0; j < i; j++) {
			if (g_str_equal(s->name, ((const OtaSlotConfig *)g_ptr_array_index(c->slots, j))->name))
				return invalid(error, "slot %s is defined twice", s->name);
		}

		if (s->bootname != NULL && !g_hash_table_add(bootnames, s->bootname))
			return invalid(error, "bootname '%s' is used by two slots", s->bootname);
		/* With [trust], the tiers are the trust list's, which trust
		 * updates change: checked when an install needs the tier. */
		if (s->policy != NULL && c->trust_initial == NULL &&
		    ota_system_config_get_policy(c, s->policy) == NULL)
			return invalid(error, "slot %s names policy '%s', but there is no [policy.%s]",
			               s->name, s->policy, s->policy);
		for (guint j = 0; j < i; j++) {
			const OtaSlotConfig *t = g_ptr_array_index(c->slots, j);

			if (g_str_equal(s->device, t->device) &&
			    (!slot_stands_alone(c, s) || !slot_stands_alone(c, t)))
				return invalid(error, "slots %s and %s share device %s", t->name, s->name,
				               s->device);
		}
	}
	return resolve_parents(c, error);
}

OtaSystemConfig *ota_system_config_parse(const char *data, gsize length, const char *path,
                                         GError **error)
{
	g_autoptr(OtaSystemConfig) c = g_new0(OtaSystemConfig, 1);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;
	gboolean explicit_data_directory;

	c->path = g_strdup(path);
	c->policies = g_ptr_array_new_with_free_func((GDestroyNotify)policy_config_free);
	c->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_config_free);
	c->loggers = g_ptr_array_new_with_free_func((GDestroyNotify)log_config_free);
	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_PARSE, "%s: not a valid INI file: %s",
		            path, ierror->message);
		return NULL;
	}
	explicit_data_directory = g_key_file_has_key(kf, "system", "data-directory", NULL);
	if (!ota_keyfile_check_no_duplicates(kf, &errors, &ierror) ||
	    !ota_keyfile_check_no_locale_keys(data, length, &errors, &ierror) ||
	    !parse_system(kf, path, c, &ierror) ||
	    !parse_groups(kf, path, c, explicit_data_directory, &ierror) ||
	    !check_slots(c, &ierror) || !ota_keyfile_check_nothing_left(kf, &errors, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&c);
}

OtaSystemConfig *ota_system_config_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_PARSE, "%s", ierror->message);
		return NULL;
	}
	return ota_system_config_parse(data, length, path, error);
}

const OtaPolicyConfig *ota_system_config_get_policy(const OtaSystemConfig *c, const char *name)
{
	for (guint i = 0; i < c->policies->len; i++) {
		const OtaPolicyConfig *p = g_ptr_array_index(c->policies, i);

		if (g_str_equal(p->name, name))
			return p;
	}
	return NULL;
}

OtaPolicy *config_policy_new(const OtaPolicyConfig *pc, gint64 now, GError **error)
{
	const char *keyrings[3] = {0};
	g_autoptr(OtaPolicy) policy = NULL;
	guint n = 0;

	/* [keyring] path= and directory= both add anchors, as in RAUC */
	if (pc->keyring != NULL)
		keyrings[n++] = pc->keyring;
	if (pc->directory != NULL)
		keyrings[n++] = pc->directory;
	policy = ota_policy_new_from_keyrings(keyrings, pc->crl, pc->purpose, TRUE, pc->threshold,
	                                      error);
	if (policy == NULL ||
	    (pc->tsa_keyring != NULL && !ota_policy_set_tsa_keyring(policy, pc->tsa_keyring, error)))
		return NULL;
	ota_policy_set_check_time(policy, pc->check_time);
	if (now != 0)
		ota_policy_set_now(policy, now);
	return g_steal_pointer(&policy);
}

/* The device's variant, read when asked: a variant-file or the device
 * tree may change between boots. */
char *config_read_variant(const OtaSystemConfig *c, GError **error)
{
	const char *file = c->variant_source == OTA_VARIANT_DTB
	                           ? "/sys/firmware/devicetree/base/compatible"
	                           : c->variant;
	g_autofree char *contents = NULL;
	g_autoptr(GError) ierror = NULL;

	if (c->variant_source == OTA_VARIANT_NONE)
		return NULL;
	if (c->variant_source == OTA_VARIANT_NAME)
		return g_strdup(c->variant);
	/* A variant we can't read is an error, not "no variant": it would
	 * choose another image for the slot. */
	if (!g_file_get_contents(file, &contents, NULL, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_INVALID, "variant: %s",
		            ierror->message);
		return NULL;
	}
	/* the device tree's compatible is a list of NUL-terminated strings:
	 * RAUC takes the first */
	g_strstrip(contents);
	if (*contents == '\0') {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_INVALID, "variant: %s is empty",
		            file);
		return NULL;
	}
	return g_strdup(contents);
}

/* --- [keyring] alone, for host tools ------------------------------------------------- */

OtaKeyringConfig *ota_keyring_config_load(const char *path, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	g_autofree char *data = NULL;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_PARSE, "%s", ierror->message);
		return NULL;
	}
	return ota_keyring_config_parse(data, length, path, error);
}

OtaKeyringConfig *ota_keyring_config_parse(const char *data, gsize length, const char *path,
                                           GError **error)
{
	g_autoptr(OtaKeyringConfig) k = g_new0(OtaKeyringConfig, 1);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) groups = NULL;

	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_PARSE,
		            "%s: not a valid INI file: %s", path, ierror->message);
		return NULL;
	}
	/* The device's groups are none of a host's business. */
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++) {
		if (!g_str_equal(*g, "keyring"))
			g_key_file_remove_group(kf, *g, NULL);
	}
	if (!ota_keyfile_check_no_duplicates(kf, &errors, &ierror) ||
	    !ota_keyfile_check_no_locale_keys(data, length, &errors, &ierror) ||
	    !parse_keyring_group(kf, path, k, &ierror) ||
	    !ota_keyfile_check_nothing_left(kf, &errors, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&k);
}
