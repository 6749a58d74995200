// SPDX-License-Identifier: GPL-2.0-only
/*
 * pindir.c: one module names every path of a pin directory, and its lock
 * is never a lock on a directory that was removed: whoever waited for the
 * lock of a pin dir that its holder removed (detach, a failed first apply)
 * finds out, and locks the directory that is there now, or none. Runs on
 * /tmp (flock works on any directory; no BPF filesystem is needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pindir.h"

static void paths_name_the_layout(void **state)
{
	char p[256];

	(void)state;
	assert_int_equal(pindir_map(p, sizeof(p), "/b/i", SPEE_MAP_RT), 0);
	assert_string_equal(p, "/b/i/maps/spee_rt");
	assert_int_equal(pindir_names_store(p, sizeof(p), "/b/i"), 0);
	assert_string_equal(p, "/b/i/maps/spee_names");
	assert_int_equal(pindir_maps_staging_dir(p, sizeof(p), "/b/i"), 0);
	assert_string_equal(p, "/b/i/maps-new");
	assert_int_equal(pindir_link(p, sizeof(p), "/b/i", SPEE_PROG_XDP, "eth0"), 0);
	assert_string_equal(p, "/b/i/links/xdp-eth0");
	assert_int_equal(pindir_link(p, sizeof(p), "/b/i", SPEE_PROG_EGRESS, "ignored"), 0);
	assert_string_equal(p, "/b/i/links/cgroup-egress");
	assert_int_equal(pindir_staging(p, sizeof(p), "/b/i/links/cgroup-egress"), 0);
	assert_string_equal(p, "/b/i/links/cgroup-egress-new");
	assert_int_equal(pindir_map(p, 16, "/a/long/pin/dir", SPEE_MAP_RT), -ENAMETOOLONG);
}

static void names_that_are_no_link_of_ours_do_not_parse(void **state)
{
	enum spee_prog_id prog;
	char ifname[16];

	(void)state;
	assert_true(pindir_parse_link("cgroup-connect6", &prog, ifname, sizeof(ifname)));
	assert_int_equal(prog, SPEE_PROG_CONNECT6);
	assert_false(pindir_parse_link("cgroup-egress-new", &prog, ifname, sizeof(ifname)));
	assert_false(pindir_parse_link("xdp-", &prog, ifname, sizeof(ifname)));
	assert_false(pindir_parse_link("xdp-an-interface-name-too-long", &prog, ifname,
				       sizeof(ifname)));
	assert_false(pindir_parse_link("something", &prog, ifname, sizeof(ifname)));
}

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/spk-lock-%d", getpid());
	return mkdir(dir, 0700);
}

static int remove_dir(void **state)
{
	(void)state;
	rmdir(dir);
	return 0;
}

/* True once someone waits in flock() for the lock of the directory with this inode. */
static bool a_waiter_on(ino_t ino)
{
	char line[256], want[32];
	FILE *f = fopen("/proc/locks", "r");
	bool found = false;

	snprintf(want, sizeof(want), ":%lu ", (unsigned long)ino);
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "-> FLOCK") && strstr(line, want);
	if (f)
		fclose(f);
	return found;
}

/*
 * A child locks dir; once the parent waits for the lock, the child removes
 * dir (and, with again, makes a new one there), then exits (its lock goes).
 */
static pid_t holder(bool again)
{
	int to_parent[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(to_parent), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY);
		struct stat st;
		struct timespec step = { 0, 10000000 };

		if (fd < 0 || flock(fd, LOCK_EX) || fstat(fd, &st))
			_exit(1);
		if (write(to_parent[1], "l", 1) != 1)
			_exit(1);
		for (int i = 0; i < 500 && !a_waiter_on(st.st_ino); i++) /* 5 s at most */
			nanosleep(&step, NULL);
		if (!a_waiter_on(st.st_ino) || rmdir(dir) || (again && mkdir(dir, 0700)))
			_exit(2);
		_exit(0);
	}
	close(to_parent[1]);
	assert_int_equal(read(to_parent[0], &c, 1), 1); /* it holds the lock */
	close(to_parent[0]);
	return pid;
}

static void a_writer_that_waited_locks_the_directory_that_is_there_now(void **state)
{
	struct stat have, now;
	int status, fd;
	pid_t pid;

	(void)state;
	pid = holder(true);
	fd = pindir_lock(dir, true, true, NULL);
	assert_true(fd >= 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* not the directory the holder removed: the one at the path now */
	assert_int_equal(fstat(fd, &have), 0);
	assert_int_equal(stat(dir, &now), 0);
	assert_int_equal(have.st_ino, now.st_ino);
	pindir_unlock(fd);
}

static void a_reader_that_waited_finds_no_directory(void **state)
{
	int status, fd;
	pid_t pid;

	(void)state;
	pid = holder(false);
	fd = pindir_lock(dir, false, false, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(fd, -ENOENT);
	assert_int_equal(mkdir(dir, 0700), 0); /* for remove_dir */
}

static void readers_share_and_a_writer_waits_for_them(void **state)
{
	int r1, r2;

	(void)state;
	r1 = pindir_lock(dir, false, false, NULL);
	r2 = pindir_lock(dir, false, false, NULL);
	assert_true(r1 >= 0 && r2 >= 0);
	{
		int w = open(dir, O_RDONLY | O_DIRECTORY);

		assert_true(w >= 0);
		assert_int_equal(flock(w, LOCK_EX | LOCK_NB), -1);
		assert_int_equal(errno, EWOULDBLOCK);
		close(w);
	}
	pindir_unlock(r1);
	pindir_unlock(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_name_the_layout),
		cmocka_unit_test(names_that_are_no_link_of_ours_do_not_parse),
		cmocka_unit_test_setup_teardown(
			a_writer_that_waited_locks_the_directory_that_is_there_now, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(a_reader_that_waited_finds_no_directory, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(readers_share_and_a_writer_waits_for_them, make_dir,
						remove_dir),
	};

	return cmocka_run_group_tests_name("pindir", tests, NULL, NULL);
}
