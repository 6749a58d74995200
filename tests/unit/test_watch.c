// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config watcher sees the ways a config file is replaced in practice
 * (written in place, renamed over by an editor, a Kubernetes ..data swap)
 * and ignores other files of the directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

static char dir[64];
static char path[256];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/spee-watch-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fleet.yaml", dir);
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* 1 when the watcher reports a change within 1 s, 0 when it stays quiet. */
static int changed(struct config_watch *w)
{
	struct pollfd pfd = { .fd = watch_fd(w), .events = POLLIN };

	if (poll(&pfd, 1, 1000) <= 0)
		return 0;
	usleep(20000); /* let related events arrive together */
	return watch_process(w);
}

static void writing_the_file_in_place_is_seen(void **state)
{
	struct config_watch *w;

	(void)state;
	write_file(path, "a: 1\n");
	assert_int_equal(watch_open(path, &w), 0);
	write_file(path, "a: 2\n");
	assert_int_equal(changed(w), 1);
	watch_close(w);
}

static void an_editor_renaming_a_new_file_over_it_is_seen(void **state)
{
	struct config_watch *w;
	char tmp[160];

	(void)state;
	write_file(path, "a: 1\n");
	assert_int_equal(watch_open(path, &w), 0);
	snprintf(tmp, sizeof(tmp), "%s/.fleet.yaml.swp", dir);
	write_file(tmp, "a: 3\n");
	assert_int_equal(changed(w), 0); /* the temporary file alone is not the config */
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(changed(w), 1);
	watch_close(w);
}

static void a_configmap_data_swap_is_seen(void **state)
{
	char a[128], b[128], data[128], tmp[128], k8s[80], cmd[1024];
	struct config_watch *w;

	(void)state;
	snprintf(k8s, sizeof(k8s), "%s/cm", dir);
	snprintf(a, sizeof(a), "%s/..2026_a", k8s);
	snprintf(b, sizeof(b), "%s/..2026_b", k8s);
	snprintf(data, sizeof(data), "%s/..data", k8s);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", k8s);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s' && echo 'a: 1' > '%s/fleet.yaml' && "
				   "echo 'a: 2' > '%s/fleet.yaml' && ln -s ..2026_a '%s' && "
				   "ln -s ..data/fleet.yaml '%s/fleet.yaml'",
		 a, b, a, b, data, k8s);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/fleet.yaml", k8s);
	assert_int_equal(watch_open(path, &w), 0);
	assert_int_equal(symlink("..2026_b", tmp), 0);
	assert_int_equal(rename(tmp, data), 0); /* what the kubelet does, atomically */
	assert_int_equal(changed(w), 1);
	watch_close(w);
	snprintf(path, sizeof(path), "%s/fleet.yaml", dir);
}

static void other_files_of_the_directory_are_ignored(void **state)
{
	struct config_watch *w;
	char other[160];

	(void)state;
	write_file(path, "a: 1\n");
	assert_int_equal(watch_open(path, &w), 0);
	snprintf(other, sizeof(other), "%s/notes.txt", dir);
	write_file(other, "hello\n");
	assert_int_equal(changed(w), 0);
	watch_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writing_the_file_in_place_is_seen),
		cmocka_unit_test(an_editor_renaming_a_new_file_over_it_is_seen),
		cmocka_unit_test(a_configmap_data_swap_is_seen),
		cmocka_unit_test(other_files_of_the_directory_are_ignored),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
