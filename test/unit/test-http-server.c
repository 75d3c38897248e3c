/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP reader (http-reader.c) against a real lighttpd on 127.0.0.1:
 * plain HTTP, HTTPS with a test CA made by openssl, client certificates,
 * redirects, a server without range support and a file swapped on the
 * server. Skipped when /usr/sbin/lighttpd is missing. */
#include "http-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <otabundle/cancel.h>

#include "cancel-private.h"
#include "pki.h"

#define LIGHTTPD "/usr/sbin/lighttpd"
#define FILE_SIZE 300000

typedef struct {
	char *dir;
	GPid pid;
	guint port;       /* http */
	guint tls_port;   /* https */
	guint mtls_port;  /* https with client certificates required */
	guint8 *content;  /* of /data */
	char *ca;         /* the server's CA */
	char *other_ca;   /* a CA that signed nothing here */
	char *client_cert, *client_key;
} Server;

static Server server;

static void run(const char *const *argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;
	int status = 0;

	g_assert_true(g_spawn_sync(server.dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
	                           NULL, &err, &status, &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("%s failed: %s", argv[0], err);
}

static char *path_in(const char *name)
{
	return g_build_filename(server.dir, name, NULL);
}

/* A CA, and a leaf @name.pem/@name.key it signed with @ext. */
static void make_ca(const char *name)
{
	g_autofree char *key = g_strdup_printf("%s.key", name);
	g_autofree char *pem = g_strdup_printf("%s.pem", name);
	g_autofree char *subject = g_strdup_printf("/CN=otabundle test %s", name);
	const char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
	                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
	                      "-subj", subject, "-days", "2", NULL};

	run(argv);
}

static void make_leaf(const char *name, const char *ca, const char *ext)
{
	g_autofree char *key = g_strdup_printf("%s.key", name);
	g_autofree char *csr = g_strdup_printf("%s.csr", name);
	g_autofree char *pem = g_strdup_printf("%s.pem", name);
	g_autofree char *ca_pem = g_strdup_printf("%s.pem", ca);
	g_autofree char *ca_key = g_strdup_printf("%s.key", ca);
	g_autofree char *ext_file = g_strdup_printf("%s.ext", name);
	g_autofree char *ext_path = path_in(ext_file);
	const char *req[] = {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	                     "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1", NULL};
	const char *sign[] = {"openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
	                      "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext_file,
	                      NULL};

	g_assert_true(g_file_set_contents(ext_path, ext, -1, NULL));
	run(req);
	run(sign);
}

static guint free_port(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd);
	return ntohs(addr.sin_port);
}

static gboolean port_open(guint port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((guint16)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	gboolean open = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;

	close(fd);
	return open;
}

static void write_config(void)
{
	g_autofree char *conf = path_in("lighttpd.conf");
	g_autofree char *text = g_strdup_printf(
		"server.document-root = \"%1$s\"\n"
		"server.bind = \"127.0.0.1\"\n"
		"server.port = %2$u\n"
		"server.errorlog = \"%1$s/error.log\"\n"
		"server.modules += (\"mod_redirect\", \"mod_accesslog\", \"mod_openssl\")\n"
		/* without a type, lighttpd sends neither ETag nor Last-Modified */
		"mimetype.assign = (\"\" => \"application/octet-stream\")\n"
		"server.stat-cache-engine = \"disable\"\n"
		"accesslog.filename = \"%1$s/access.log\"\n"
		"accesslog.format = \"%%U \\\"%%{X-Token}i\\\" \\\"%%{Authorization}i\\\" \\\"%%{X-Info}i\\\"\"\n"
		"$HTTP[\"url\"] =~ \"^/norange-\" { server.range-requests = \"disable\" }\n"
		"url.redirect = (\"^/moved-same/(.*)$\" => \"/$1\",\n"
		"  \"^/moved-other/(.*)$\" => \"http://localhost:%2$u/$1\",\n"
		"  \"^/moved-loop/(.*)$\" => \"/moved-loop/$1\",\n"
		"  \"^/moved-ftp/(.*)$\" => \"ftp://user:secret@127.0.0.1/$1?secret\",\n"
		"  \"^/moved-http/(.*)$\" => \"http://127.0.0.1:%2$u/$1\")\n"
		"$SERVER[\"socket\"] == \"127.0.0.1:%3$u\" {\n"
		"  ssl.engine = \"enable\"\n"
		"  ssl.pemfile = \"%1$s/server.pem\"\n"
		"  ssl.privkey = \"%1$s/server.key\"\n"
		"}\n"
		"$SERVER[\"socket\"] == \"127.0.0.1:%4$u\" {\n"
		"  ssl.engine = \"enable\"\n"
		"  ssl.pemfile = \"%1$s/server.pem\"\n"
		"  ssl.privkey = \"%1$s/server.key\"\n"
		"  ssl.ca-file = \"%1$s/ca.pem\"\n"
		"  ssl.verifyclient.activate = \"enable\"\n"
		"  ssl.verifyclient.enforce = \"enable\"\n"
		"}\n",
		server.dir, server.port, server.tls_port, server.mtls_port);

	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
}

/* lighttpd ends with the test, even one that aborts. */
static void die_with_parent(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean start_lighttpd(void)
{
	g_autofree char *conf = path_in("lighttpd.conf");
	const char *argv[] = {LIGHTTPD, "-D", "-f", conf, NULL};
	g_autoptr(GError) error = NULL;

	server.port = free_port();
	server.tls_port = free_port();
	server.mtls_port = free_port();
	write_config();
	g_assert_true(g_spawn_async(server.dir, (char **)argv, NULL,
	                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
	                                G_SPAWN_STDERR_TO_DEV_NULL,
	                            die_with_parent, NULL, &server.pid, &error));
	g_assert_no_error(error);
	/* Up once all three ports answer; a port taken meanwhile ends it. */
	for (;;) {
		int status;

		if (waitpid(server.pid, &status, WNOHANG) == server.pid) {
			server.pid = 0;
			return FALSE;
		}
		if (port_open(server.port) && port_open(server.tls_port) &&
		    port_open(server.mtls_port))
			return TRUE;
		g_usleep(10000);
	}
}

static void write_data(const char *name, const guint8 *content, gsize size)
{
	g_autofree char *path = path_in(name);
	g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);

	g_assert_true(g_file_set_contents(tmp, (const char *)content, (gssize)size, NULL));
	g_assert_cmpint(rename(tmp, path), ==, 0);
}

static void server_start(void)
{
	server.dir = test_tmpdir_new();
	server.content = g_malloc(FILE_SIZE);
	for (gsize i = 0; i < FILE_SIZE; i++)
		server.content[i] = (guint8)(g_random_int() >> 5);
	write_data("data", server.content, FILE_SIZE);
	write_data("norange-data", server.content, FILE_SIZE);
	write_data("other-origin-data", server.content, FILE_SIZE);

	make_ca("ca");
	make_ca("other-ca");
	make_leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
	make_leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
	server.ca = path_in("ca.pem");
	server.other_ca = path_in("other-ca.pem");
	server.client_cert = path_in("client.pem");
	server.client_key = path_in("client.key");

	for (int attempt = 0; !start_lighttpd(); attempt++)
		g_assert_cmpint(attempt, <, 10);
}

static void server_stop(void)
{
	if (server.pid > 0) {
		kill(server.pid, SIGTERM);
		waitpid(server.pid, NULL, 0);
	}
	test_tmpdir_remove(server.dir);
	g_free(server.dir);
	g_free(server.content);
	g_free(server.ca);
	g_free(server.other_ca);
	g_free(server.client_cert);
	g_free(server.client_key);
}

static char *url(const char *scheme, guint port, const char *path)
{
	return g_strdup_printf("%s://127.0.0.1:%u/%s", scheme, port, path);
}

static void assert_reads(OtaReader *r, guint64 offset, gsize size)
{
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *buffer = g_malloc(size ? size : 1);

	g_assert_true(ota_reader_read_at(r, offset, buffer, size, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(buffer, size, server.content + offset, size);
}

/* The lines lighttpd logged for @path, once it has written them. */
static char **log_lines_for(const char *path, guint count)
{
	g_autofree char *log = path_in("access.log");

	/* lighttpd writes its access log about once a second */
	for (int i = 0; i < 100; i++) {
		g_autofree char *text = NULL;
		g_auto(GStrv) lines = NULL;
		g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);

		if (g_file_get_contents(log, &text, NULL, NULL)) {
			lines = g_strsplit(text, "\n", -1);
			for (gsize j = 0; lines[j]; j++) {
				if (g_str_has_prefix(lines[j], path) && lines[j][strlen(path)] == ' ')
					g_ptr_array_add(found, g_strdup(lines[j]));
			}
			if (found->len >= count) {
				g_ptr_array_add(found, NULL);
				return (char **)g_ptr_array_free(g_steal_pointer(&found), FALSE);
			}
		}
		g_usleep(100000);
	}
	g_assert_not_reached();
}

/* ---- plain HTTP */

static void test_reads_match_the_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(r->size, ==, FILE_SIZE);
	assert_reads(r, 0, 100);
	assert_reads(r, 65530, 16);      /* across two cached chunks */
	assert_reads(r, 1000, 70000);    /* straight from the server */
	assert_reads(r, FILE_SIZE - 8, 8); /* the trailer of the first request */
	assert_reads(r, FILE_SIZE - 10, 10);
	assert_reads(r, FILE_SIZE - 100, 50); /* the last, short chunk */
	assert_reads(r, 0, FILE_SIZE);
	assert_reads(r, 12345, 0);
}

static void test_downloaded_counts_what_came_and_cache_hits_nothing(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8);
	assert_reads(r, 10, 10);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8 + 65536);
	assert_reads(r, 100, 1000);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8 + 65536);
	assert_reads(r, 200000, 65536);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8 + 2 * 65536);
}

static void test_server_without_ranges_is_refused_at_the_first_request(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "norange-data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_NO_RANGES);
	g_assert_true(g_str_has_prefix(error->message, u));
	g_assert_null(strchr(error->message, '\n'));
}

static void test_missing_file_is_a_status_error(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "missing");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS);
	g_assert_nonnull(strstr(error->message, "404"));
}

static void test_errors_do_not_show_credentials_or_query(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u =
		g_strdup_printf("http://user:s3cret@127.0.0.1:%u/missing?token=s3cret", server.port);
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_null(strstr(error->message, "s3cret"));
	g_assert_nonnull(strstr(error->message, "/missing"));
}

static void test_redirect_target_in_a_message_has_no_credentials(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "moved-ftp/data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_nonnull(strstr(error->message, "ftp://127.0.0.1/data"));
	g_assert_null(strstr(error->message, "secret"));
}

static void test_unsupported_scheme_is_refused(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_http_reader_new("ftp://127.0.0.1/data", NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_URL);
	g_assert_nonnull(strstr(error->message, "unsupported URL scheme"));
}

static void test_header_with_a_line_break_is_refused_before_any_request(void)
{
	const char *headers[] = {"X-Token: a\r\nX-Evil: b", NULL};
	OtaHttpOptions options = {.headers = headers};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
}

static void test_connection_refused_fails_after_retries(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", free_port(), "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER);
	g_assert_nonnull(strstr(error->message, "retries"));
}

/* ---- a relay between reader and server that drops or stalls */

/* A TCP relay on 127.0.0.1 to lighttpd's http port. From the @fault_from-th
 * request on (counting "GET " in what the client sends), @faulty requests
 * get @limit bytes of the server's answer, then the connection closes (or,
 * when @stall, goes quiet while still open). It forwards bytes it does not
 * parse: the server is still the real lighttpd. */
typedef struct {
	int listen_fd;
	guint port;
	gint fault_from;
	gint faulty;
	gsize limit;
	gboolean stall;
	gboolean interrupt; /* SIGINT to the process once it stalls */
	gint requests;
	GThread *thread;
} Relay;

typedef struct {
	Relay *relay;
	int client;
	gboolean faulty;
} RelayConnection;

static gboolean write_all(int fd, const char *data, gsize size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		size -= (gsize)n;
	}
	return TRUE;
}

static int connect_to(guint port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((guint16)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	return fd;
}

static gpointer relay_connection(gpointer data)
{
	RelayConnection *c = data;
	int upstream = connect_to(server.port);
	gsize forwarded = 0;
	gboolean quiet = FALSE;
	char buffer[16384];

	for (;;) {
		struct pollfd fds[2] = {{c->client, POLLIN, 0}, {upstream, quiet ? 0 : POLLIN, 0}};
		ssize_t n;

		if (poll(fds, 2, -1) < 0)
			break;
		if (fds[0].revents) {
			n = read(c->client, buffer, sizeof(buffer));
			if (n <= 0 || quiet)
				break;
			if (memmem(buffer, (gsize)n, "GET ", 4) != NULL) {
				gint number = g_atomic_int_add(&c->relay->requests, 1) + 1;

				c->faulty = number >= c->relay->fault_from &&
				            number < c->relay->fault_from + c->relay->faulty;
				forwarded = 0;
			}
			if (!write_all(upstream, buffer, (gsize)n))
				break;
		}
		if (fds[1].revents) {
			gsize allowed;

			n = read(upstream, buffer, sizeof(buffer));
			if (n <= 0)
				break;
			allowed = c->faulty ? MIN((gsize)n, c->relay->limit - forwarded) : (gsize)n;
			if (!write_all(c->client, buffer, allowed))
				break;
			forwarded += allowed;
			if (c->faulty && forwarded == c->relay->limit) {
				if (!c->relay->stall)
					break;
				quiet = TRUE; /* open, silent, until the client gives up */
				if (c->relay->interrupt)
					kill(getpid(), SIGINT);
			}
		}
	}
	close(upstream);
	close(c->client);
	g_free(c);
	return NULL;
}

static gpointer relay_accept(gpointer data)
{
	Relay *relay = data;
	int fd;

	while ((fd = accept4(relay->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		RelayConnection *c = g_new0(RelayConnection, 1);

		c->relay = relay;
		c->client = fd;
		g_thread_unref(g_thread_new("relay", relay_connection, c));
	}
	return NULL;
}

static Relay *relay_new(gint fault_from, gint faulty, gsize limit, gboolean stall)
{
	Relay *relay = g_new0(Relay, 1);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);

	relay->limit = limit;
	relay->fault_from = fault_from;
	relay->faulty = faulty;
	relay->stall = stall;
	relay->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(bind(relay->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(listen(relay->listen_fd, 16), ==, 0);
	g_assert_cmpint(getsockname(relay->listen_fd, (struct sockaddr *)&addr, &len), ==, 0);
	relay->port = ntohs(addr.sin_port);
	relay->thread = g_thread_new("relay-accept", relay_accept, relay);
	return relay;
}

static void relay_free(Relay *relay)
{
	shutdown(relay->listen_fd, SHUT_RDWR);
	g_thread_join(relay->thread);
	close(relay->listen_fd);
	g_free(relay);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Relay, relay_free)

static void test_dropped_connections_resume_with_the_missing_bytes_only(void)
{
	g_autoptr(Relay) relay = relay_new(2, 2, 100000, FALSE);
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", relay->port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_no_error(error);
	assert_reads(r, 0, FILE_SIZE);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8 + FILE_SIZE);
}

static void test_stalled_connection_is_retried_after_the_timeout(void)
{
	OtaHttpOptions options = {.timeout = 1};
	g_autoptr(Relay) relay = relay_new(2, 1, 100000, TRUE);
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", relay->port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_no_error(error);
	assert_reads(r, 0, FILE_SIZE);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), ==, 8 + FILE_SIZE);
}

static void test_connection_stalled_for_good_says_so(void)
{
	OtaHttpOptions options = {.timeout = 1};
	g_autoptr(Relay) relay = relay_new(2, 100, 100, TRUE);
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", relay->port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);
	g_autofree guint8 *buffer = g_malloc(FILE_SIZE);

	g_assert_no_error(error);
	g_assert_false(ota_reader_read_at(r, 0, buffer, FILE_SIZE, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STALLED);
	g_assert_nonnull(strstr(error->message, "no data for 1 s"));
}

static void test_stall_is_cancelled_by_a_signal(void)
{
	if (g_test_subprocess()) {
		OtaHttpOptions options = {.timeout = OTA_HTTP_MAX_TIMEOUT};
		g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;
		g_autoptr(Relay) relay = relay_new(2, 1, 100, TRUE);
		g_autoptr(GError) error = NULL;
		g_autofree char *u = url("http", relay->port, "data");
		g_autoptr(OtaReader) r = NULL;
		guint8 buffer[16];

		signal(SIGINT, SIG_DFL);
		g_assert_true(ota_cancel_on_signals(&error));
		g_assert_true(ota_cancel_hold(&hold, &error));
		r = ota_http_reader_new(u, &options, &error);
		g_assert_no_error(error);
		relay->interrupt = TRUE;
		g_assert_false(ota_reader_read_at(r, 0, buffer, sizeof(buffer), &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

/* ---- limits */

static void test_file_larger_than_max_size_is_refused_at_the_first_request(void)
{
	OtaHttpOptions options = {.max_size = FILE_SIZE - 1};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TOO_LARGE);
}

static void test_downloading_more_than_max_size_is_refused(void)
{
	OtaHttpOptions options = {.max_size = FILE_SIZE + 100};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);
	g_autofree guint8 *buffer = g_malloc(FILE_SIZE);

	g_assert_no_error(error);
	assert_reads(r, 0, FILE_SIZE);
	g_assert_false(ota_reader_read_at(r, 0, buffer, FILE_SIZE, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TOO_LARGE);
	g_assert_cmpuint(ota_http_reader_get_downloaded(r), <=, FILE_SIZE + 100);
}

/* ---- a file that changes on the server */

static void test_file_replaced_on_the_server_is_found(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "swap");
	g_autoptr(OtaReader) r = NULL;
	g_autofree guint8 *other = g_memdup2(server.content, FILE_SIZE);
	guint8 buffer[16];

	write_data("swap", server.content, FILE_SIZE);
	r = ota_http_reader_new(u, NULL, &error);
	g_assert_no_error(error);
	assert_reads(r, 0, 16);
	other[100000] ^= 1;
	write_data("swap", other, FILE_SIZE);
	g_assert_false(ota_reader_read_at(r, 100000, buffer, sizeof(buffer), &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
	g_assert_true(g_str_has_prefix(error->message, u));
}

static void test_file_shortened_on_the_server_is_found(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "shrink");
	g_autoptr(OtaReader) r = NULL;
	guint8 buffer[16];

	write_data("shrink", server.content, FILE_SIZE);
	r = ota_http_reader_new(u, NULL, &error);
	g_assert_no_error(error);
	write_data("shrink", server.content, 1000);
	g_assert_false(ota_reader_read_at(r, 100000, buffer, sizeof(buffer), &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
}

/* ---- redirects */

static void test_redirect_on_the_same_origin_is_followed(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "moved-same/data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_no_error(error);
	assert_reads(r, 5000, 100);
}

static void test_headers_and_userinfo_stay_with_their_origin(void)
{
	/* localhost is another origin than 127.0.0.1, on the same server */
	const char *headers[] = {"X-Token: token-for-the-first-origin", NULL};
	const char *info[] = {"X-Info: device-1", NULL};
	OtaHttpOptions options = {.headers = headers, .info_headers = info};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = g_strdup_printf(
		"http://user:password@127.0.0.1:%u/moved-other/other-origin-data?q", server.port);
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);
	g_auto(GStrv) first = NULL;
	g_auto(GStrv) later = NULL;

	g_assert_no_error(error);
	assert_reads(r, 0, 100);
	first = log_lines_for("/moved-other/other-origin-data", 1);
	g_assert_nonnull(strstr(first[0], "\"token-for-the-first-origin\""));
	g_assert_nonnull(strstr(first[0], "\"Basic "));
	g_assert_nonnull(strstr(first[0], "\"device-1\""));
	later = log_lines_for("/other-origin-data", 2);
	for (gsize i = 0; later[i]; i++) {
		g_assert_null(strstr(later[i], "token-for-the-first-origin"));
		g_assert_null(strstr(later[i], "Basic"));
		g_assert_null(strstr(later[i], "device-1"));
	}
}

static void test_redirect_loop_is_refused(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "moved-loop/data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT);
}

static void test_redirect_to_another_scheme_is_refused(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("http", server.port, "moved-ftp/data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, NULL, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT);
}

static void test_redirect_from_https_to_http_is_refused(void)
{
	OtaHttpOptions options = {.tls_ca = server.ca};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.tls_port, "moved-http/data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT);
}

/* ---- HTTPS */

static void test_https_with_the_servers_ca_reads(void)
{
	OtaHttpOptions options = {.tls_ca = server.ca};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.tls_port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_no_error(error);
	assert_reads(r, 70000, 70000);
	assert_reads(r, 10, 10);
}

static void test_https_with_another_ca_is_a_tls_error(void)
{
	OtaHttpOptions options = {.tls_ca = server.other_ca};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.tls_port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS);
	g_assert_null(strchr(error->message, '\n'));
}

static void test_https_without_verification_reads(void)
{
	OtaHttpOptions options = {.tls_ca = server.other_ca, .tls_no_verify = TRUE};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.tls_port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_no_error(error);
	assert_reads(r, 0, 10);
}

static void test_client_certificate_is_presented(void)
{
	OtaHttpOptions options = {.tls_ca = server.ca, .tls_cert = server.client_cert,
	                          .tls_key = server.client_key};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.mtls_port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_no_error(error);
	assert_reads(r, 1, 1000);
}

static void test_without_a_client_certificate_is_refused(void)
{
	OtaHttpOptions options = {.tls_ca = server.ca};
	g_autoptr(GError) error = NULL;
	g_autofree char *u = url("https", server.mtls_port, "data");
	g_autoptr(OtaReader) r = ota_http_reader_new(u, &options, &error);

	g_assert_null(r);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS);
}

/* lighttpd is a test dependency (contrib/install-deps.sh --tests): without
 * it these tests can't run, which is a failure, not a pass. */
static void fail_without_lighttpd(void)
{
	g_test_message(LIGHTTPD " is not installed (contrib/install-deps.sh --tests)");
	g_test_fail();
}

int main(int argc, char **argv)
{
	int result;

	g_test_init(&argc, &argv, NULL);
	if (!g_file_test(LIGHTTPD, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_add_func("/http-server/needs-lighttpd", fail_without_lighttpd);
		return g_test_run();
	}
	g_test_add_func("/http-server/reads-match-the-file", test_reads_match_the_file);
	g_test_add_func("/http-server/downloaded-counts-what-came-and-cache-hits-nothing",
	                test_downloaded_counts_what_came_and_cache_hits_nothing);
	g_test_add_func("/http-server/server-without-ranges-is-refused-at-the-first-request",
	                test_server_without_ranges_is_refused_at_the_first_request);
	g_test_add_func("/http-server/missing-file-is-a-status-error",
	                test_missing_file_is_a_status_error);
	g_test_add_func("/http-server/errors-do-not-show-credentials-or-query",
	                test_errors_do_not_show_credentials_or_query);
	g_test_add_func("/http-server/redirect-target-in-a-message-has-no-credentials",
	                test_redirect_target_in_a_message_has_no_credentials);
	g_test_add_func("/http-server/unsupported-scheme-is-refused",
	                test_unsupported_scheme_is_refused);
	g_test_add_func("/http-server/header-with-a-line-break-is-refused-before-any-request",
	                test_header_with_a_line_break_is_refused_before_any_request);
	g_test_add_func("/http-server/connection-refused-fails-after-retries",
	                test_connection_refused_fails_after_retries);
	g_test_add_func("/http-server/dropped-connections-resume-with-the-missing-bytes-only",
	                test_dropped_connections_resume_with_the_missing_bytes_only);
	g_test_add_func("/http-server/stalled-connection-is-retried-after-the-timeout",
	                test_stalled_connection_is_retried_after_the_timeout);
	g_test_add_func("/http-server/connection-stalled-for-good-says-so",
	                test_connection_stalled_for_good_says_so);
	g_test_add_func("/http-server/stall-is-cancelled-by-a-signal",
	                test_stall_is_cancelled_by_a_signal);
	g_test_add_func("/http-server/file-larger-than-max-size-is-refused-at-the-first-request",
	                test_file_larger_than_max_size_is_refused_at_the_first_request);
	g_test_add_func("/http-server/downloading-more-than-max-size-is-refused",
	                test_downloading_more_than_max_size_is_refused);
	g_test_add_func("/http-server/file-replaced-on-the-server-is-found",
	                test_file_replaced_on_the_server_is_found);
	g_test_add_func("/http-server/file-shortened-on-the-server-is-found",
	                test_file_shortened_on_the_server_is_found);
	g_test_add_func("/http-server/redirect-on-the-same-origin-is-followed",
	                test_redirect_on_the_same_origin_is_followed);
	g_test_add_func("/http-server/headers-and-userinfo-stay-with-their-origin",
	                test_headers_and_userinfo_stay_with_their_origin);
	g_test_add_func("/http-server/redirect-loop-is-refused", test_redirect_loop_is_refused);
	g_test_add_func("/http-server/redirect-to-another-scheme-is-refused",
	                test_redirect_to_another_scheme_is_refused);
	g_test_add_func("/http-server/redirect-from-https-to-http-is-refused",
	                test_redirect_from_https_to_http_is_refused);
	g_test_add_func("/http-server/https-with-the-servers-ca-reads",
	                test_https_with_the_servers_ca_reads);
	g_test_add_func("/http-server/https-with-another-ca-is-a-tls-error",
	                test_https_with_another_ca_is_a_tls_error);
	g_test_add_func("/http-server/https-without-verification-reads",
	                test_https_without_verification_reads);
	g_test_add_func("/http-server/client-certificate-is-presented",
	                test_client_certificate_is_presented);
	g_test_add_func("/http-server/without-a-client-certificate-is-refused",
	                test_without_a_client_certificate_is_refused);
	server_start();
	result = g_test_run();
	server_stop();
	return result;
}
