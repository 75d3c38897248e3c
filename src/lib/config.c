/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config-private.h"

#include <otabundle/keys.h>
#include <otabundle/text.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "keyfile.h"
#include "openssl-private.h"

G_DEFINE_QUARK(ota-config-error-quark, ota_config_error)

static const OtaKeyfileErrors errors = {ota_config_error_quark, OTA_CONFIG_ERROR_MISSING,
                                        OTA_CONFIG_ERROR_INVALID,
                                        OTA_CONFIG_ERROR_UNKNOWN_FIELD};

#define DEFAULT_DATA_DIRECTORY "/var/lib/otabundle"

static void policy_config_free(OtaPolicyConfig *p)
{
	g_free(p->name);
	g_free(p->keyring);
	g_free(p->crl);
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
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSlotConfig, slot_config_free)

void ota_system_config_free(OtaSystemConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->path);
	g_free(c->compatible);
	g_free(c->data_directory);
	g_free(c->hardware_revision);
	g_free(c->custom_backend);
	g_free(c->grubenv);
	g_free(c->uboot_config);
	if (c->policies != NULL)
		g_ptr_array_unref(c->policies);
	if (c->slots != NULL)
		g_ptr_array_unref(c->slots);
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

static gboolean parse_bootloader(const char *name, OtaBootloaderKind *kind)
{
	static const struct {
		const char *name;
		OtaBootloaderKind kind;
	} kinds[] = {{"file", OTA_BOOTLOADER_FILE},
	             {"custom", OTA_BOOTLOADER_CUSTOM},
	             {"uboot", OTA_BOOTLOADER_UBOOT},
	             {"grub", OTA_BOOTLOADER_GRUB}};

	for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
		if (g_strcmp0(name, kinds[i].name) == 0) {
			*kind = kinds[i].kind;
			return TRUE;
		}
	}
	return FALSE;
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

static gboolean parse_system(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	g_autofree char *bootloader = NULL;
	const char *missing;

	if (!ota_keyfile_take_required(kf, "system", "compatible", &c->compatible, &errors, error) ||
	    !ota_keyfile_take_required(kf, "system", "bootloader", &bootloader, &errors, error))
		return FALSE;
	if (!parse_bootloader(bootloader, &c->bootloader))
		return invalid(error, "invalid bootloader '%s' in group [system]: expected file, "
		                      "custom, uboot or grub", bootloader);
	c->data_directory = ota_keyfile_take_string(kf, "system", "data-directory");
	if (c->data_directory == NULL)
		c->data_directory = g_strdup(DEFAULT_DATA_DIRECTORY);
	c->grubenv = ota_keyfile_take_string(kf, "system", "grubenv");
	c->hardware_revision = ota_keyfile_take_string(kf, "system", "hardware-revision");
	c->uboot_config = ota_keyfile_take_string(kf, "system", "fw-env-config");
	if (!ota_keyfile_take_bool(kf, "system", "allow-downgrade", &c->allow_downgrade, &errors,
	                           error))
		return FALSE;
	c->custom_backend = ota_keyfile_take_string(kf, "handlers", "bootloader-custom-backend");
	missing = config_bootloader_missing_setting(c);
	if (missing != NULL)
		return invalid(error, "bootloader=%s needs %s", bootloader, missing);
	return TRUE;
}

static OtaPolicyConfig *parse_policy(GKeyFile *kf, const char *group, const char *name,
                                     GError **error)
{
	g_autoptr(OtaPolicyConfig) p = g_new0(OtaPolicyConfig, 1);
	g_autofree char *purpose = NULL;
	gboolean has_threshold;
	guint64 threshold = 1;

	p->name = g_strdup(name);
	p->purpose = OTA_PURPOSE_DEFAULT;
	if (!ota_keyfile_take_required(kf, group, "path", &p->keyring, &errors, error) ||
	    !ota_keyfile_take_uint64(kf, group, "threshold", 1, 64, &has_threshold, &threshold,
	                             &errors, error))
		return NULL;
	p->threshold = (guint)threshold;
	p->crl = ota_keyfile_take_string(kf, group, "crl");
	purpose = ota_keyfile_take_string(kf, group, "check-purpose");
	if (purpose != NULL && !ota_purpose_from_string(purpose, &p->purpose)) {
		invalid(error, "invalid check-purpose '%s' in group [%s]: expected any, codesign or "
		               "smimesign", purpose, group);
		return NULL;
	}
	return g_steal_pointer(&p);
}

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

static OtaSlotConfig *parse_slot(GKeyFile *kf, const char *group, GError **error)
{
	g_autoptr(OtaSlotConfig) s = g_new0(OtaSlotConfig, 1);
	g_auto(GStrv) parts = g_strsplit(group, ".", -1);
	g_autofree char *type = NULL;
	guint64 index = 0;

	if (g_strv_length(parts) != 3 || !ota_keyfile_name_is_valid(parts[1]) ||
	    !g_ascii_string_to_unsigned(parts[2], 10, 0, 99, &index, NULL)) {
		invalid(error, "invalid slot group [%s]: expected [slot.<class>.<index>]", group);
		return NULL;
	}
	s->slotclass = g_strdup(parts[1]);
	s->index = (guint)index;
	s->name = g_strdup_printf("%s.%u", s->slotclass, s->index);
	if (!ota_keyfile_take_required(kf, group, "device", &s->device, &errors, error))
		return NULL;
	type = ota_keyfile_take_string(kf, group, "type");
	if (type == NULL || g_str_equal(type, "raw")) {
		s->type = OTA_SLOT_RAW;
	} else if (g_str_equal(type, "tar")) {
		s->type = OTA_SLOT_TAR;
	} else {
		invalid(error, "invalid type '%s' in group [%s]: expected raw or tar", type, group);
		return NULL;
	}
	s->bootname = ota_keyfile_take_string(kf, group, "bootname");
	if (s->bootname != NULL && !config_bootname_is_valid(s->bootname)) {
		invalid(error, "invalid bootname '%s' in group [%s]: letters, digits and '_' only",
		        s->bootname, group);
		return NULL;
	}
	s->policy = ota_keyfile_take_string(kf, group, "policy");
	return g_steal_pointer(&s);
}

static gboolean parse_groups(GKeyFile *kf, OtaSystemConfig *c, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	OtaPolicyConfig *p;
	OtaSlotConfig *s;

	p = parse_policy(kf, "keyring", "default", error);
	if (p == NULL)
		return FALSE;
	g_ptr_array_add(c->policies, p);
	for (char **g = groups; *g; g++) {
		if (g_str_has_prefix(*g, "policy.")) {
			const char *name = *g + strlen("policy.");

			if (!ota_keyfile_name_is_valid(name) || g_str_equal(name, "default"))
				return invalid(error, "invalid policy group [%s]", *g);
			p = parse_policy(kf, *g, name, error);
			if (p == NULL)
				return FALSE;
			g_ptr_array_add(c->policies, p);
		} else if (g_str_has_prefix(*g, "slot.")) {
			s = parse_slot(kf, *g, error);
			if (s == NULL)
				return FALSE;
			g_ptr_array_add(c->slots, s);
		} else if (!g_str_equal(*g, "system") && !g_str_equal(*g, "keyring") &&
		           !g_str_equal(*g, "handlers")) {
			g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_UNKNOWN_FIELD,
			            "unknown group [%s]", *g);
			return FALSE;
		}
	}
	return TRUE;
}

/* Slots must be addressable without ambiguity, and every policy a slot
 * names must exist: a typo must not silently fall back to a weaker one. */
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
		if (s->policy != NULL && ota_system_config_get_policy(c, s->policy) == NULL)
			return invalid(error, "slot %s names policy '%s', but there is no [policy.%s]",
			               s->name, s->policy, s->policy);
		for (guint j = 0; j < i; j++) {
			const OtaSlotConfig *t = g_ptr_array_index(c->slots, j);

			if (g_str_equal(s->device, t->device))
				return invalid(error, "slots %s and %s share device %s", t->name, s->name,
				               s->device);
		}
	}
	return TRUE;
}

OtaSystemConfig *ota_system_config_parse(const char *data, gsize length, const char *path,
                                         GError **error)
{
	g_autoptr(OtaSystemConfig) c = g_new0(OtaSystemConfig, 1);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;

	c->path = g_strdup(path);
	c->policies = g_ptr_array_new_with_free_func((GDestroyNotify)policy_config_free);
	c->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_config_free);
	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror)) {
		g_set_error(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_PARSE, "%s: not a valid INI file: %s",
		            path, ierror->message);
		return NULL;
	}
	if (!ota_keyfile_check_no_duplicates(kf, &errors, &ierror) ||
	    !ota_keyfile_check_no_locale_keys(data, length, &errors, &ierror) ||
	    !parse_system(kf, c, &ierror) || !parse_groups(kf, c, &ierror) ||
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

/* --- [keyring] alone, for host tools (otabundle/config.h) ------------------ */

struct OtaKeyringConfig {
	char *path;
	char *directory;
	gboolean has_purpose;
	OtaPurpose purpose;
	char *crl;
	guint threshold;
};

void ota_keyring_config_free(OtaKeyringConfig *k)
{
	if (k == NULL)
		return;
	g_free(k->path);
	g_free(k->directory);
	g_free(k->crl);
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


/* A file named in [keyring], resolved as RAUC resolves it: relative to the
 * directory of the system.conf, not to the working directory. */
static gboolean take_file(GKeyFile *kf, const char *key, const char *conf_path, char **out,
                          GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, "keyring", key);
	g_autofree char *dir = NULL;

	*out = NULL;
	if (value == NULL)
		return TRUE;
	if (*value == '\0')
		return invalid(error, "empty %s in group [keyring]", key);
	if (g_path_is_absolute(value)) {
		*out = g_steal_pointer(&value);
		return TRUE;
	}
	dir = g_path_get_dirname(conf_path);
	*out = g_build_filename(dir, value, NULL);
	return TRUE;
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
	gboolean signing_time = FALSE;
	g_autofree char *cns = ota_keyfile_take_string(kf, "keyring", "allowed-signer-cns");

	if (cns != NULL)
		return unsupported(error, "allowed-signer-cns in group [keyring] is not supported");
	if (!ota_keyfile_take_bool(kf, "keyring", "use-bundle-signing-time", &signing_time,
	                           &errors, error))
		return FALSE;
	if (signing_time)
		return unsupported(error, "use-bundle-signing-time=true in group [keyring] is not "
		                          "supported");
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

static gboolean parse_keyring_group(GKeyFile *kf, const char *path, OtaKeyringConfig *k,
                                    GError **error)
{
	gboolean check_crl = FALSE, partial_chain = FALSE, has_threshold;
	guint64 threshold = 1;
	g_autofree char *crl = NULL;

	if (!g_key_file_has_group(kf, "keyring")) {
		g_set_error_literal(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_MISSING,
		                    "no [keyring] group");
		return FALSE;
	}
	if (!take_file(kf, "path", path, &k->path, error) ||
	    !take_file(kf, "directory", path, &k->directory, error))
		return FALSE;
	if (k->path == NULL && k->directory == NULL) {
		g_set_error_literal(error, OTA_CONFIG_ERROR, OTA_CONFIG_ERROR_MISSING,
		                    "group [keyring] names no path or directory");
		return FALSE;
	}
	if (!take_keyring_purpose(kf, k, error) || !refuse_unimplemented(kf, error) ||
	    !ota_keyfile_take_bool(kf, "keyring", "check-crl", &check_crl, &errors, error) ||
	    !ota_keyfile_take_bool(kf, "keyring", "allow-partial-chain", &partial_chain, &errors,
	                           error) ||
	    !take_file(kf, "crl", path, &crl, error) ||
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
