/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "squashfs-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress-private.h"
#include "subprocess-private.h"

static const char *mksquashfs_binary(void)
{
	const char *env = g_getenv("OTABUNDLE_MKSQUASHFS");

	return env && *env ? env : "mksquashfs";
}

/* Flags by which --mksquashfs-args may already choose the compression. */
static gboolean args_choose_compression(char *const *args)
{
	static const char *const flags[] = {"-comp", "-noI", "-noD", "-noF", "-noX",
	                                    "-noInode-compression", "-noData-compression",
	                                    "-noFragment-compression", "-noXattr-compression", NULL};

	for (char *const *a = args; a && *a; a++) {
		if (g_strv_contains(flags, *a))
			return TRUE;
	}
	return FALSE;
}

gboolean ota_squashfs_extra_args_choose_compression(const char *extra_args)
{
	g_auto(GStrv) extra = NULL;

	return extra_args != NULL && g_shell_parse_argv(extra_args, NULL, &extra, NULL) &&
	       args_choose_compression(extra);
}

static gboolean parse_level(const char *spec, const char *level, guint64 max, guint64 *out,
                            GError **error)
{
	if (g_ascii_string_to_unsigned(level, 10, 1, max, out, NULL))
		return TRUE;
	g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
	            "compression '%s': level must be 1 to %" G_GUINT64_FORMAT, spec, max);
	return FALSE;
}

/* Appends the mksquashfs arguments for @spec to @args. */
static gboolean add_compression_args(GPtrArray *args, const char *spec, GError **error)
{
	g_autofree char *name = g_strdup(spec);
	char *level = strchr(name, ':');
	guint64 value;

	if (level != NULL)
		*level++ = '\0';
	if (strcmp(name, "gzip") == 0 || strcmp(name, "zstd") == 0) {
		gboolean gzip = name[0] == 'g';

		/* gzip: level 9, as mksquashfs and RAUC use it. zstd: level 3,
		 * zstd's own default; mksquashfs's 15 is many times slower. */
		value = gzip ? 9 : 3;
		if (level != NULL && !parse_level(spec, level, gzip ? 9 : 22, &value, error))
			return FALSE;
		g_ptr_array_add(args, g_strdup("-comp"));
		g_ptr_array_add(args, g_strdup(name));
		g_ptr_array_add(args, g_strdup("-Xcompression-level"));
		g_ptr_array_add(args, g_strdup_printf("%" G_GUINT64_FORMAT, value));
		return TRUE;
	}
	if (level == NULL && (strcmp(name, "xz") == 0 || strcmp(name, "lz4") == 0)) {
		g_ptr_array_add(args, g_strdup("-comp"));
		g_ptr_array_add(args, g_strdup(name));
		return TRUE;
	}
	if (level == NULL && strcmp(name, "none") == 0) {
		for (const char *const *f = (const char *const[]){"-noI", "-noD", "-noF", "-noX", NULL};
		     *f; f++)
			g_ptr_array_add(args, g_strdup(*f));
		return TRUE;
	}
	g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
	            "unknown compression '%s' (gzip[:LEVEL], xz, zstd[:LEVEL], lz4 or none)", spec);
	return FALSE;
}

GStrv ota_squashfs_build_args(const char *compression, const char *extra_args, GError **error)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) ierror = NULL;
	g_auto(GStrv) extra = NULL;

	if (extra_args != NULL && !g_shell_parse_argv(extra_args, NULL, &extra, &ierror) &&
	    !g_error_matches(ierror, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING)) {
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
		            "invalid --mksquashfs-args: %s", ierror->message);
		return NULL;
	}
	if (compression != NULL && args_choose_compression(extra)) {
		g_set_error_literal(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS,
		                    "--compression and a compression flag in --mksquashfs-args "
		                    "contradict each other; give one");
		return NULL;
	}
	if (!args_choose_compression(extra) &&
	    !add_compression_args(args, compression ? compression : OTA_SQUASHFS_DEFAULT_COMPRESSION,
	                          error))
		return NULL;
	/* mksquashfs would size its caches by RAM (a quarter of it); the
	 * compressors stay just as busy with this. A later -mem wins. */
	g_ptr_array_add(args, g_strdup("-mem"));
	g_ptr_array_add(args, g_strdup(OTA_SQUASHFS_MKSQUASHFS_MEM));
	for (char **a = extra; a && *a; a++)
		g_ptr_array_add(args, g_strdup(*a));
	g_ptr_array_add(args, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&args), FALSE);
}

/* mksquashfs reads every input byte once, so the bytes its threads have
 * read (rchar in /proc/PID/io) measure its progress; polled from a thread
 * while the caller waits for it. */
typedef struct {
	char *io_path;
	gint stop;
	GThread *thread;
} ReadPoller;

static guint64 read_rchar(const char *io_path)
{
	g_autofree char *text = NULL;
	const char *line;

	if (!g_file_get_contents(io_path, &text, NULL, NULL))
		return 0;
	line = strstr(text, "rchar: ");
	return line ? g_ascii_strtoull(line + strlen("rchar: "), NULL, 10) : 0;
}

static gpointer read_poller_run(gpointer data)
{
	ReadPoller *p = data;

	while (!g_atomic_int_get(&p->stop)) {
		ota_progress_set(read_rchar(p->io_path));
		g_usleep(G_USEC_PER_SEC / 10);
	}
	return NULL;
}

/* ota_subprocess_run's started callback: @data is where the poller goes. */
static void read_poller_start(GSubprocess *proc, gpointer data)
{
	ReadPoller **out = data;
	ReadPoller *p;

	if (!ota_progress_reporting() || g_subprocess_get_identifier(proc) == NULL)
		return;
	p = g_new0(ReadPoller, 1);
	p->io_path = g_strdup_printf("/proc/%s/io", g_subprocess_get_identifier(proc));
	p->thread = g_thread_new("ota-mksquashfs-progress", read_poller_run, p);
	*out = p;
}

static void read_poller_stop(ReadPoller *p)
{
	if (p == NULL)
		return;
	g_atomic_int_set(&p->stop, 1);
	g_thread_join(p->thread);
	g_free(p->io_path);
	g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReadPoller, read_poller_stop)

/* Appends a pseudo definition that sets @name (a path from the image root)
 * to the reproducible mode, quoted as mksquashfs reads it. */
static void add_mode(GString *list, const char *name, const struct stat *st)
{
	gboolean exec = S_ISDIR(st->st_mode) || (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));

	/* A symlink's mode means nothing. */
	if (S_ISLNK(st->st_mode))
		return;
	g_string_append_c(list, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(list, '\\');
		g_string_append_c(list, *p);
	}
	g_string_append_printf(list, "\" m %s 0 0\n", exec ? "755" : "644");
}

/* Mode definitions for @path, packed as @name, and everything below it. */
static gboolean add_modes(GString *list, const char *path, const char *name, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	const char *child;
	struct stat st;

	if (lstat(path, &st) < 0) {
		int err = errno;

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE, "%s: %s", path,
		            g_strerror(err));
		return FALSE;
	}
	/* The list has one definition per line. */
	if (strchr(name, '\n') != NULL) {
		g_autofree char *escaped = ota_text_escape(path);

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE,
		            "%s: a name with a newline can't be packed reproducibly", escaped);
		return FALSE;
	}
	add_mode(list, name, &st);
	if (!S_ISDIR(st.st_mode))
		return TRUE;
	dir = g_dir_open(path, 0, error);
	if (dir == NULL)
		return FALSE;
	while ((child = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child_path = g_build_filename(path, child, NULL);
		g_autofree char *child_name = g_build_filename(name, child, NULL);

		if (!add_modes(list, child_path, child_name, error))
			return FALSE;
	}
	return TRUE;
}

/* Writes the mode list for @sources into @repro's scratch directory and
 * returns its path. */
static char *write_mode_list(const char *const *sources, const OtaSquashfsReproducible *repro,
                             GError **error)
{
	g_autoptr(GString) list = g_string_new(NULL);
	g_autofree char *path = g_build_filename(repro->scratch_dir, "modes-XXXXXX", NULL);
	int fd;
	gboolean ok;

	for (const char *const *s = sources; *s; s++) {
		g_autofree char *name = g_path_get_basename(*s);

		if (!add_modes(list, *s, name, error))
			return NULL;
	}
	fd = g_mkstemp_full(path, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE, "%s: %s", path,
		            g_strerror(err));
		return NULL;
	}
	ok = ota_write_all(fd, list->str, list->len, error);
	close(fd);
	return ok ? g_steal_pointer(&path) : NULL;
}

static gboolean run_mksquashfs(const char *const *sources, const char *output,
                               const char *const *fixed_args, const char *const *args,
                               const OtaSquashfsReproducible *repro, GError **error)
{
	static const char *const unset_env[] = {"SOURCE_DATE_EPOCH", NULL};
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) ierror = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *time = NULL;
	g_autofree char *modes = NULL;
	g_autoptr(ReadPoller) poller = NULL;
	const OtaSubprocessOptions options = {
		.stderr_lines = OTA_SUBPROCESS_STDERR_FIRST_ERROR_LINE,
		.unset_env = unset_env,
		.started = read_poller_start,
		.user_data = &poller,
		.reason_out = &reason,
	};

	if (repro != NULL) {
		time = g_strdup_printf("%" G_GUINT32_FORMAT, repro->time);
		modes = write_mode_list(sources, repro, error);
		if (modes == NULL)
			return FALSE;
	}
	g_ptr_array_add(argv, (gpointer)mksquashfs_binary());
	for (const char *const *s = sources; *s; s++)
		g_ptr_array_add(argv, (gpointer)*s);
	g_ptr_array_add(argv, (gpointer)output);
	for (const char *const *a = fixed_args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	if (repro != NULL) {
		const char *const repro_args[] = {"-mkfs-time", time, "-all-time", time, "-pf", modes};

		for (gsize i = 0; i < G_N_ELEMENTS(repro_args); i++)
			g_ptr_array_add(argv, (gpointer)repro_args[i]);
	}
	/* Last: the caller's arguments win. */
	for (const char *const *a = args; a && *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);

	if (ota_subprocess_run((const char *const *)argv->pdata, &options, NULL, &ierror))
		return TRUE;
	if (g_error_matches(ierror, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_propagate_error(error, g_steal_pointer(&ierror));
		return FALSE;
	}
	/* The exit status would only repeat what the line says. */
	if (g_error_matches(ierror, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED))
		g_set_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE, "%s failed: %s",
		            mksquashfs_binary(), reason ? reason : "no error output");
	else
		g_set_error_literal(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE,
		                    ierror->message);
	return FALSE;
}

/* As RAUC does: reproducible ownership, no xattrs (a device must not take
 * them from a bundle). */
#define COMMON_ARGS "-all-root", "-no-progress", "-no-xattrs", "-quiet"

gboolean ota_squashfs_create(const char *const *sources, const char *output,
                             const char *const *args, const OtaSquashfsReproducible *repro,
                             GError **error)
{
	static const char *const fixed_args[] = {COMMON_ARGS, "-noappend", NULL};

	return run_mksquashfs(sources, output, fixed_args, args, repro, error);
}

gboolean ota_squashfs_append(const char *const *sources, const char *output,
                             const OtaSquashfsReproducible *repro, GError **error)
{
	/* Compression and block size come from the image's superblock; the
	 * recovery file mksquashfs would leave in $HOME protects nothing that
	 * an unfinished (never committed) output needs. */
	static const char *const fixed_args[] = {COMMON_ARGS, "-no-recovery", "-mem",
	                                         OTA_SQUASHFS_MKSQUASHFS_MEM, NULL};

	return run_mksquashfs(sources, output, fixed_args, NULL, repro, error);
}
