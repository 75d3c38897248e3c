/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libp11.h declares functions with OpenSSL's deprecated RSA_METHOD and
 * EC_KEY_METHOD types. This file alone allows them, and includes libp11.h
 * before any other OpenSSL header so their include guards don't hide the
 * types. Nothing deprecated is called here. */
#undef OPENSSL_NO_DEPRECATED
#include <libp11.h>

#include <dlfcn.h>
#include <openssl/err.h>
#include <string.h>

#include "openssl-private.h"
#include "pkcs11-eddsa.h"
#include "pkcs11.h"

/* The PKCS#11 return codes we explain (libp11 puts them in the OpenSSL
 * error queue as reasons of its CKR library). */
#define CKR_PIN_INCORRECT 0xa0UL
#define CKR_PIN_LEN_RANGE 0xa2UL
#define CKR_PIN_EXPIRED 0xa3UL
#define CKR_PIN_LOCKED 0xa4UL
#define CKR_USER_PIN_NOT_INITIALIZED 0x102UL

/* p11-kit's proxy module, which forwards to every module the system
 * registered: the last resort when no module is named. */
static const char *const proxy_modules[] = {
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib64/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
	NULL,
};

typedef struct {
	char *path;
	PKCS11_CTX *ctx;
	gboolean loaded; /* PKCS11_CTX_unload() crashes on a failed load */
	PKCS11_SLOT *slots;
	unsigned int n_slots;
} Module;

struct OtaPkcs11 {
	OtaKeyStoreOptions options; /* pkcs11_module owned (copied) */
	GHashTable *modules;        /* path -> Module* */
	OtaPkcs11Eddsa *eddsa;      /* Ed25519 token keys, or NULL */
};

/* --- URIs ------------------------------------------------------------------ */

typedef struct {
	char *token, *manufacturer, *serial, *model, *object, *type;
	GBytes *id;
	gboolean has_slot_id;
	guint64 slot_id;
	char *pin_source, *pin_value, *module_path;
} Uri;

static void uri_clear(Uri *u)
{
	g_free(u->token);
	g_free(u->manufacturer);
	g_free(u->serial);
	g_free(u->model);
	g_free(u->object);
	g_free(u->type);
	if (u->id != NULL)
		g_bytes_unref(u->id);
	if (u->pin_value != NULL)
		explicit_bzero(u->pin_value, strlen(u->pin_value));
	g_free(u->pin_value);
	g_free(u->pin_source);
	g_free(u->module_path);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Uri, uri_clear)

static gboolean uri_error(GError **error, const char *display, const char *reason)
{
	g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_URI, "%s: %s", display, reason);
	return FALSE;
}

/* Percent-decodes one value; text values must not contain NUL. */
static gboolean decode_value(const char *raw, gboolean binary, char **text, GBytes **bytes)
{
	g_autoptr(GBytes) decoded = g_uri_unescape_bytes(raw, -1, NULL, NULL);
	gsize len = 0;
	const char *data;

	if (decoded == NULL)
		return FALSE;
	data = g_bytes_get_data(decoded, &len);
	if (binary) {
		*bytes = g_steal_pointer(&decoded);
		return TRUE;
	}
	if (memchr(data, '\0', len) != NULL)
		return FALSE;
	*text = g_strndup(data, len);
	return TRUE;
}

static gboolean uri_set(Uri *u, const char *name, const char *raw, gboolean query)
{
	struct {
		const char *name;
		gboolean query;
		char **text;
	} fields[] = {
		{"token", FALSE, &u->token},       {"manufacturer", FALSE, &u->manufacturer},
		{"serial", FALSE, &u->serial},     {"model", FALSE, &u->model},
		{"object", FALSE, &u->object},     {"type", FALSE, &u->type},
		{"pin-source", TRUE, &u->pin_source}, {"pin-value", TRUE, &u->pin_value},
		{"module-path", TRUE, &u->module_path},
	};
	g_autofree char *slot_id = NULL;

	if (!query && g_str_equal(name, "id"))
		return u->id == NULL && decode_value(raw, TRUE, NULL, &u->id);
	if (!query && g_str_equal(name, "slot-id")) {
		if (u->has_slot_id || !decode_value(raw, FALSE, &slot_id, NULL) ||
		    !g_ascii_string_to_unsigned(slot_id, 10, 0, G_MAXULONG, &u->slot_id, NULL))
			return FALSE;
		u->has_slot_id = TRUE;
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (fields[i].query == query && g_str_equal(name, fields[i].name))
			return *fields[i].text == NULL && decode_value(raw, FALSE, fields[i].text, NULL);
	}
	return FALSE;
}

/* RFC 7512: pkcs11:attr=value;attr=value?qattr=value&qattr=value. An
 * attribute we don't know is an error, not ignored: ignoring it could make
 * the URI select a different key than the user meant. */
static gboolean uri_parse(const char *uri, const char *display, Uri *u, GError **error)
{
	g_auto(GStrv) halves = NULL;

	if (!g_str_has_prefix(uri, "pkcs11:"))
		return uri_error(error, display, "not a pkcs11: URI");
	halves = g_strsplit(uri + strlen("pkcs11:"), "?", 2);
	for (int part = 0; part < 2 && halves[part] != NULL; part++) {
		g_auto(GStrv) attrs = g_strsplit(halves[part], part == 0 ? ";" : "&", -1);

		for (char **a = attrs; *a; a++) {
			g_auto(GStrv) kv = NULL;

			if (**a == '\0')
				continue;
			kv = g_strsplit(*a, "=", 2);
			if (kv[1] == NULL || !uri_set(u, kv[0], kv[1], part == 1)) {
				g_autofree char *msg = g_strdup_printf(
					"unsupported, repeated or misplaced attribute '%s'", kv[0]);
				return uri_error(error, display, msg);
			}
		}
	}
	return TRUE;
}

gboolean ota_keys_is_pkcs11_uri(const char *uri)
{
	return uri != NULL && g_str_has_prefix(uri, "pkcs11:");
}

/* Drops every pin-value attribute from one part of a URI. */
static char *without_pin_value(const char *part, const char *separator)
{
	g_auto(GStrv) attrs = g_strsplit(part, separator, -1);
	g_autoptr(GStrvBuilder) kept = g_strv_builder_new();
	g_auto(GStrv) kept_attrs = NULL;

	for (char **a = attrs; *a; a++) {
		if (!g_str_has_prefix(*a, "pin-value"))
			g_strv_builder_add(kept, *a);
	}
	kept_attrs = g_strv_builder_end(kept);
	return g_strjoinv(separator, kept_attrs);
}

/* Removes pin-value wherever it stands: in the query, where it belongs,
 * and in the path, where a user may put it by mistake (and where the
 * parser's "unsupported attribute" error would otherwise echo it). */
char *ota_keys_uri_for_display(const char *uri)
{
	g_auto(GStrv) halves = NULL;
	g_autofree char *path = NULL;
	g_autofree char *query = NULL;

	if (!ota_keys_is_pkcs11_uri(uri))
		return g_strdup(uri);
	halves = g_strsplit(uri, "?", 2);
	path = without_pin_value(halves[0], ";");
	if (halves[1] == NULL)
		return g_steal_pointer(&path);
	query = without_pin_value(halves[1], "&");
	return *query ? g_strdup_printf("%s?%s", path, query) : g_steal_pointer(&path);
}

/* --- modules and tokens ------------------------------------------------------- */

static void module_free(Module *m)
{
	if (m->slots != NULL)
		PKCS11_release_all_slots(m->ctx, m->slots, m->n_slots);
	if (m->loaded)
		PKCS11_CTX_unload(m->ctx);
	if (m->ctx != NULL)
		PKCS11_CTX_free(m->ctx);
	g_free(m->path);
	g_free(m);
}

OtaPkcs11 *ota_pkcs11_new(const OtaKeyStoreOptions *options)
{
	OtaPkcs11 *p11 = g_new0(OtaPkcs11, 1);

	if (options != NULL)
		p11->options = *options;
	p11->options.pkcs11_module = g_strdup(p11->options.pkcs11_module);
	p11->modules = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                     (GDestroyNotify)module_free);
	return p11;
}

void ota_pkcs11_free(OtaPkcs11 *p11)
{
	if (p11 == NULL)
		return;
	/* Their sessions first, while the modules are loaded. */
	ota_pkcs11_eddsa_free(p11->eddsa);
	g_hash_table_unref(p11->modules);
	g_free((char *)p11->options.pkcs11_module);
	g_free(p11);
}

static const char *choose_module(OtaPkcs11 *p11, const Uri *u)
{
	const char *env = g_getenv("OTABUNDLE_PKCS11_MODULE");

	if (u->module_path != NULL)
		return u->module_path;
	if (p11->options.pkcs11_module != NULL)
		return p11->options.pkcs11_module;
	if (env != NULL && *env != '\0')
		return env;
	for (const char *const *p = proxy_modules; *p; p++) {
		if (g_file_test(*p, G_FILE_TEST_EXISTS))
			return *p;
	}
	return NULL;
}

/* libp11's loader prints its own complaint to stderr; checking first
 * keeps the error ours and in one line. */
static gboolean check_module_loadable(const char *path, const char *display, GError **error)
{
	void *handle;
	gboolean has_entry;

	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: PKCS#11 module %s does not exist", display, path);
		return FALSE;
	}
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: cannot load PKCS#11 module: %s", display, dlerror());
		return FALSE;
	}
	has_entry = dlsym(handle, "C_GetFunctionList") != NULL;
	dlclose(handle);
	if (!has_entry)
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: cannot load PKCS#11 module %s: it has no C_GetFunctionList", display,
		            path);
	return has_entry;
}

static Module *load_module(OtaPkcs11 *p11, const Uri *u, const char *display, GError **error)
{
	const char *path = choose_module(p11, u);
	Module *m;

	if (path == NULL) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: no PKCS#11 module (use --pkcs11-module or OTABUNDLE_PKCS11_MODULE)",
		            display);
		return NULL;
	}
	m = g_hash_table_lookup(p11->modules, path);
	if (m != NULL)
		return m;
	if (!check_module_loadable(path, display, error))
		return NULL;

	m = g_new0(Module, 1);
	m->path = g_strdup(path);
	m->ctx = PKCS11_CTX_new();
	m->loaded = m->ctx != NULL && PKCS11_CTX_load(m->ctx, path) == 0;
	if (!m->loaded) {
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		                      "%s: cannot load PKCS#11 module %s", display, path);
		module_free(m);
		return NULL;
	}
	if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->n_slots) != 0) {
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		                      "%s: cannot list the slots of %s", display, path);
		module_free(m);
		return NULL;
	}
	g_hash_table_insert(p11->modules, m->path, m);
	return m;
}

static gboolean token_matches(PKCS11_SLOT *slot, const Uri *u)
{
	PKCS11_TOKEN *t = slot->token;

	return t != NULL && t->initialized &&
	       (u->token == NULL || g_strcmp0(t->label, u->token) == 0) &&
	       (u->manufacturer == NULL || g_strcmp0(t->manufacturer, u->manufacturer) == 0) &&
	       (u->serial == NULL || g_strcmp0(t->serialnr, u->serial) == 0) &&
	       (u->model == NULL || g_strcmp0(t->model, u->model) == 0) &&
	       (!u->has_slot_id || PKCS11_get_slotid_from_slot(slot) == u->slot_id);
}

static PKCS11_SLOT *find_slot(Module *m, const Uri *u, const char *display, GError **error)
{
	PKCS11_SLOT *found = NULL;
	guint n = 0;

	for (unsigned int i = 0; i < m->n_slots; i++) {
		if (token_matches(&m->slots[i], u)) {
			found = &m->slots[i];
			n++;
		}
	}
	if (n == 1)
		return found;
	g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
	            n == 0 ? "%s: no token matches (module %s)"
	                   : "%s: several tokens match; name one with token= or serial= (module %s)",
	            display, m->path);
	return NULL;
}

/* --- PIN and login ------------------------------------------------------------- */

static void warn(OtaPkcs11 *p11, const char *message)
{
	if (p11->options.warning != NULL)
		p11->options.warning(message, p11->options.warning_data);
	else
		g_warning("%s", message);
}

static char *read_pin_file(const char *source, const char *display, GError **error)
{
	const char *path = g_str_has_prefix(source, "file:") ? source + strlen("file:") : source;
	g_autofree char *contents = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize len = 0;
	char *pin;

	if (g_str_has_prefix(path, "//"))
		path += 2; /* file:///path */
	if (!g_file_get_contents(path, &contents, &len, &ierror)) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN, "%s: cannot read pin-source: %s",
		            display, ierror->message);
		return NULL;
	}
	pin = g_strndup(contents, strcspn(contents, "\r\n"));
	explicit_bzero(contents, len);
	return pin;
}

/* In order: the URI's pin-source, its pin-value (with a warning: it is
 * visible in argv), $OTABUNDLE_PKCS11_PIN, a prompt. */
static char *get_pin(OtaPkcs11 *p11, const Uri *u, PKCS11_TOKEN *token, const char *display,
                     GError **error)
{
	const char *env = g_getenv("OTABUNDLE_PKCS11_PIN");
	char *pin = NULL;

	if (u->pin_source != NULL)
		return read_pin_file(u->pin_source, display, error);
	if (u->pin_value != NULL) {
		warn(p11, "a pin-value in a PKCS#11 URI is visible to other users in the process "
		          "list; use pin-source=file:... or OTABUNDLE_PKCS11_PIN");
		return g_strdup(u->pin_value);
	}
	if (env != NULL)
		return g_strdup(env);
	if (p11->options.pin_prompt != NULL)
		pin = p11->options.pin_prompt(token->label, p11->options.pin_prompt_data);
	if (pin == NULL)
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN,
		            "%s: token '%s' needs a PIN (set OTABUNDLE_PKCS11_PIN, use "
		            "pin-source=file:..., or run on a terminal)",
		            display, token->label);
	return pin;
}

static unsigned long last_ckr_reason(void)
{
	unsigned long err = ERR_peek_last_error();

	return err ? (unsigned long)ERR_GET_REASON(err) : 0;
}

static gboolean login(OtaPkcs11 *p11, PKCS11_SLOT *slot, const Uri *u, const char *display,
                      GError **error)
{
	PKCS11_TOKEN *token = slot->token;
	int logged_in = 0;
	char *pin;
	int rc;

	if (!token->loginRequired ||
	    (PKCS11_is_logged_in(slot, 0, &logged_in) == 0 && logged_in))
		return TRUE;
	if (token->userPinLocked) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN,
		            "%s: the user PIN of token '%s' is locked", display, token->label);
		return FALSE;
	}
	if (!token->userPinSet) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN,
		            "%s: token '%s' has no user PIN set (initialise it first)", display,
		            token->label);
		return FALSE;
	}
	pin = get_pin(p11, u, token, display, error);
	if (pin == NULL)
		return FALSE;
	rc = PKCS11_login(slot, 0, pin);
	explicit_bzero(pin, strlen(pin));
	g_free(pin);
	if (rc == 0)
		return TRUE;

	switch (last_ckr_reason()) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LEN_RANGE:
		ERR_clear_error();
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN, "%s: wrong PIN for token '%s'",
		            display, token->label);
		return FALSE;
	case CKR_PIN_LOCKED:
		ERR_clear_error();
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_PIN,
		            "%s: the user PIN of token '%s' is locked", display, token->label);
		return FALSE;
	default:
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		                      "%s: login to token '%s' failed", display, token->label);
		return FALSE;
	}
}

/* --- objects ----------------------------------------------------------------- */

static gboolean object_matches(const Uri *u, const char *label, const unsigned char *id,
                               size_t id_len)
{
	gsize want_len = 0;
	const guint8 *want = u->id ? g_bytes_get_data(u->id, &want_len) : NULL;

	return (u->object == NULL || g_strcmp0(label, u->object) == 0) &&
	       (u->id == NULL || (id_len == want_len && memcmp(id, want, want_len) == 0));
}

static PKCS11_SLOT *open_token(OtaPkcs11 *p11, const Uri *u, const char *display,
                               const char *wanted_type, gboolean needs_login, GError **error)
{
	Module *m;
	PKCS11_SLOT *slot;

	if (u->type != NULL && !g_str_equal(u->type, wanted_type)) {
		g_autofree char *msg = g_strdup_printf("type=%s given where a %s object is needed",
		                                       u->type, wanted_type);
		uri_error(error, display, msg);
		return NULL;
	}
	if (u->object == NULL && u->id == NULL) {
		uri_error(error, display, "names no object (add object= or id=)");
		return NULL;
	}
	m = load_module(p11, u, display, error);
	if (m == NULL)
		return NULL;
	slot = find_slot(m, u, display, error);
	if (slot == NULL || (needs_login && !login(p11, slot, u, display, error)))
		return NULL;
	return slot;
}

static gboolean check_single_match(guint n, const char *display, const char *what,
                                   GError **error)
{
	if (n == 1)
		return TRUE;
	g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
	            n == 0 ? "%s: no %s on the token matches" : "%s: several %ss match; be more specific",
	            display, what);
	return FALSE;
}

EVP_PKEY *ota_pkcs11_load_private_key(OtaPkcs11 *p11, const char *uri, GError **error)
{
	g_autofree char *display = ota_keys_uri_for_display(uri);
	g_auto(Uri) u = {0};
	PKCS11_SLOT *slot;
	PKCS11_KEY *keys = NULL, *found = NULL;
	unsigned int n_keys = 0;
	guint n = 0;
	gboolean listed;
	EVP_PKEY *key;

	if (!uri_parse(uri, display, &u, error))
		return NULL;
	slot = open_token(p11, &u, display, "private", TRUE, error);
	if (slot == NULL)
		return NULL;
	/* libp11 0.4 knows no EdDSA keys, and fails to list a token that
	 * holds one: such a key is looked for through the module itself. */
	listed = PKCS11_enumerate_keys(slot->token, &keys, &n_keys) == 0;
	if (!listed)
		ERR_clear_error();
	for (unsigned int i = 0; listed && i < n_keys; i++) {
		if (keys[i].isPrivate && object_matches(&u, keys[i].label, keys[i].id, keys[i].id_len)) {
			found = &keys[i];
			n++;
		}
	}
	if (n == 0)
		return ota_pkcs11_eddsa_load(&p11->eddsa, choose_module(p11, &u),
		                             PKCS11_get_slotid_from_slot(slot), u.object, u.id, listed,
		                             display, error);
	if (!check_single_match(n, display, "private key", error))
		return NULL;
	key = PKCS11_get_private_key(found);
	if (key == NULL)
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		                      "%s: cannot use the private key", display);
	return key;
}

X509 *ota_pkcs11_load_certificate(OtaPkcs11 *p11, const char *uri, GError **error)
{
	g_autofree char *display = ota_keys_uri_for_display(uri);
	g_auto(Uri) u = {0};
	PKCS11_SLOT *slot;
	PKCS11_CERT *certs = NULL, *found = NULL;
	unsigned int n_certs = 0;
	guint n = 0;

	if (!uri_parse(uri, display, &u, error))
		return NULL;
	/* Certificates are public objects: no login unless the token says so. */
	slot = open_token(p11, &u, display, "cert", FALSE, error);
	if (slot == NULL)
		return NULL;
	if (PKCS11_enumerate_certs(slot->token, &certs, &n_certs) != 0) {
		ota_set_openssl_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		                      "%s: cannot list the token's certificates", display);
		return NULL;
	}
	for (unsigned int i = 0; i < n_certs; i++) {
		if (object_matches(&u, certs[i].label, certs[i].id, certs[i].id_len)) {
			found = &certs[i];
			n++;
		}
	}
	if (!check_single_match(n, display, "certificate", error))
		return NULL;
	return X509_dup(found->x509);
}

gboolean ota_pkcs11_is_eddsa_key(OtaPkcs11 *p11, EVP_PKEY *key)
{
	return ota_pkcs11_eddsa_owns(p11->eddsa, key);
}

gboolean ota_pkcs11_sign_eddsa(OtaPkcs11 *p11, EVP_PKEY *key, const guint8 *data, gsize length,
                               guint8 *signature, gsize signature_len, GError **error)
{
	return ota_pkcs11_eddsa_sign(p11->eddsa, key, data, length, signature, signature_len, error);
}
