/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a libFuzzer target without libFuzzer, so CI can replay the seed
 * corpora and the regression inputs with any compiler (gcc included) and
 * under ASan/UBSan:
 *
 *   fuzz-manifest-replay FILE|DIR...
 *
 * Each file (a directory: each regular file in it, sorted) is run once in
 * a child process, and reported as TAP ("ok N FILE" / "not ok N FILE"):
 * a crash, a sanitizer report (LeakSanitizer runs when the child exits)
 * or a hang past OTABUNDLE_REPLAY_TIMEOUT seconds (default 60) fails that
 * input and the others still run. Exit status 1 if any input failed. */
#include <glib.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static gint compare_paths(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_inputs(GPtrArray *inputs, const char *path)
{
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) names = NULL;
	const char *name;

	if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
		g_ptr_array_add(inputs, g_strdup(path));
		return;
	}
	dir = g_dir_open(path, 0, NULL);
	names = g_ptr_array_new_with_free_func(g_free);
	while (dir && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		/* README files and the like may sit next to regression inputs. */
		if (name[0] != '.' && g_file_test(child, G_FILE_TEST_IS_REGULAR))
			g_ptr_array_add(names, g_steal_pointer(&child));
	}
	g_ptr_array_sort(names, compare_paths);
	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(inputs, g_strdup(g_ptr_array_index(names, i)));
}

/* In the child: run one input, then exit() so LeakSanitizer checks it. */
static G_GNUC_NORETURN void run_one(const char *path, guint timeout)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) error = NULL;
	uint8_t *copy;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, &error)) {
		fprintf(stderr, "%s\n", error->message);
		exit(2);
	}
	alarm(timeout);
	/* A copy of exactly @length bytes, as libFuzzer passes them: ASan
	 * catches a read one past the end instead of finding the NUL that
	 * g_file_get_contents() appends. Never NULL, even when empty. */
	copy = g_malloc(MAX(length, 1));
	memcpy(copy, data, length);
	g_clear_pointer(&data, g_free);
	LLVMFuzzerTestOneInput(copy, length);
	g_free(copy);
	exit(0);
}

int main(int argc, char **argv)
{
	g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func(g_free);
	const char *timeout_env = g_getenv("OTABUNDLE_REPLAY_TIMEOUT");
	guint timeout = timeout_env ? (guint)g_ascii_strtoull(timeout_env, NULL, 10) : 60;
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		add_inputs(inputs, argv[i]);

	printf("1..%u\n", inputs->len);
	for (guint i = 0; i < inputs->len; i++) {
		const char *path = g_ptr_array_index(inputs, i);
		int status = 0;
		pid_t pid;

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0)
			run_one(path, timeout);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %u %s\n", i + 1, path);
		} else {
			failed++;
			if (WIFSIGNALED(status))
				printf("not ok %u %s # killed by signal %d%s\n", i + 1, path,
				       WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
			else
				printf("not ok %u %s # exit status %d\n", i + 1, path, WEXITSTATUS(status));
		}
	}
	return failed ? 1 : 0;
}
