// SPDX-License-Identifier: GPL-2.0-only
#include "confirm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "instance.h"
#include "loader.h"
#include "maps.h"

#define WATCH_STEP_NS 100000000ull /* how often the watcher looks for a confirm */

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void confirm_snapshot_free(struct confirm_snapshot *snap)
{
	free(snap->rules);
	snap->rules = NULL;
}

int confirm_prepare(const char *pin_dir, struct confirm_snapshot *snap, struct diags *d)
{
	struct spee_map_fds m;
	int err;

	memset(snap, 0, sizeof(*snap));
	snap->rules = calloc(SPEE_MAX_RULES, sizeof(*snap->rules));
	if (!snap->rules)
		return -ENOMEM;
	if (!instance_exists(pin_dir))
		return 0;
	err = loader_open_pinned(&m, pin_dir, d);
	if (err)
		return err;
	snap->existed = true;
	err = maps_read_runtime(&m, &snap->rt, d);
	if (!err)
		err = maps_read_instance(&m, &snap->inst, d);
	if (!err)
		err = maps_read_rules(&m, snap->rules, d);
	if (!err && snap->inst.confirm_deadline) {
		diag_add(d, NULL, 0, 0,
			 "generation %u is still waiting for `speebpf confirm`; confirm it (or let "
			 "it revert) before applying another policy with --confirm",
			 snap->inst.confirm_generation);
		err = -EBUSY;
	}
	loader_close_pinned(&m);
	return err;
}

/* Writes spee_rules back as it was; stats show the previous policy's rules again. */
static int restore_rules(const struct spee_map_fds *m, const struct spee_rule_meta *rules)
{
	for (uint32_t i = 0; i < SPEE_MAX_RULES; i++)
		if (bpf_map_update_elem(m->fd[SPEE_MAP_RULES], &i, &rules[i], BPF_ANY))
			return -errno;
	return 0;
}

/* The watcher's decision at the deadline. Returns true when it reverted. */
static bool revert(const char *pin_dir, const struct confirm_snapshot *snap, uint32_t generation,
		   unsigned secs)
{
	struct spee_map_fds m;
	struct spee_runtime rt;
	struct spee_instance inst;
	bool done = false;

	int lock;

	if (!snap->existed) {
		/* There was no policy before: going back means no instance. */
		return instance_detach(pin_dir, NULL) == 0;
	}
	lock = instance_lock(pin_dir, NULL);
	if (lock < 0)
		return false;
	if (loader_open_pinned(&m, pin_dir, NULL)) {
		instance_unlock(lock);
		return false;
	}
	if (maps_read_runtime(&m, &rt, NULL) || maps_read_instance(&m, &inst, NULL))
		goto out;
	/* Only the policy that waits for confirmation is taken back, never a later one. */
	if (rt.slot[rt.active & 1].generation != generation || !inst.confirm_deadline)
		goto out;
	if (maps_flip(&m, (uint8_t)(snap->rt.active & 1), NULL))
		goto out;
	restore_rules(&m, snap->rules);
	inst = snap->inst;
	inst.confirm_deadline = 0;
	inst.confirm_generation = 0;
	inst.reverted_generation = generation;
	inst.last_result_ok = 0;
	snprintf(inst.last_error, sizeof(inst.last_error),
		 "generation %u was not confirmed within %u s and was reverted to generation %u",
		 generation, secs, snap->inst.generation);
	maps_write_instance(&m, &inst, NULL);
	done = true;
out:
	loader_close_pinned(&m);
	instance_unlock(lock);
	return done;
}

/* The detached watcher: waits for a confirm (or a later apply) until the deadline. */
static void watch(const char *pin_dir, const struct confirm_snapshot *snap, uint32_t generation,
		  unsigned secs, uint64_t deadline)
{
	for (;;) {
		struct timespec step = { 0, WATCH_STEP_NS };
		struct spee_map_fds m;
		struct spee_instance inst;
		bool pending;

		if (loader_open_pinned(&m, pin_dir, NULL))
			return; /* detached meanwhile */
		pending = !maps_read_instance(&m, &inst, NULL) && inst.confirm_deadline &&
			  inst.confirm_generation == generation;
		loader_close_pinned(&m);
		if (!pending)
			return;
		if (realtime_ns() >= deadline) {
			revert(pin_dir, snap, generation, secs);
			return;
		}
		nanosleep(&step, NULL);
	}
}

/* Detaches from the terminal and the session so that a closing SSH session does not stop it. */
static int spawn_watcher(const char *pin_dir, const struct confirm_snapshot *snap,
			 uint32_t generation, unsigned secs, uint64_t deadline)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		return 0;
	if (setsid() < 0 || fork() != 0)
		_exit(0); /* the grandchild is adopted by init and cannot regain a terminal */
	{
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
	}
	signal(SIGHUP, SIG_IGN);
	watch(pin_dir, snap, generation, secs, deadline);
	_exit(0);
}

int confirm_arm(const char *pin_dir, struct confirm_snapshot *snap, uint32_t generation,
		unsigned secs, struct diags *d)
{
	uint64_t deadline = realtime_ns() + (uint64_t)secs * 1000000000ull;
	struct spee_map_fds m;
	struct spee_instance inst;
	int err;

	err = loader_open_pinned(&m, pin_dir, d);
	if (err)
		return err;
	err = maps_read_instance(&m, &inst, d);
	if (!err) {
		inst.confirm_deadline = deadline;
		inst.confirm_generation = generation;
		err = maps_write_instance(&m, &inst, d);
	}
	loader_close_pinned(&m);
	if (!err)
		err = spawn_watcher(pin_dir, snap, generation, secs, deadline);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot arm the confirmation: %s", strerror(-err));
	return err;
}

int confirm_commit(const char *pin_dir, uint32_t *generation, struct diags *d)
{
	struct spee_map_fds m;
	struct spee_instance inst;
	int err, lock = instance_lock_existing(pin_dir, d);

	if (lock < 0)
		return lock;
	err = loader_open_pinned(&m, pin_dir, d);
	if (err) {
		instance_unlock(lock);
		return err;
	}
	err = maps_read_instance(&m, &inst, d);
	if (err)
		goto out;
	if (!inst.confirm_deadline) {
		if (inst.reverted_generation)
			diag_add(d, NULL, 0, 0, "nothing to confirm: generation %u was already "
						"reverted",
				 inst.reverted_generation);
		else
			diag_add(d, NULL, 0, 0, "nothing to confirm at %s", pin_dir);
		err = -ENOENT;
		goto out;
	}
	if (realtime_ns() >= inst.confirm_deadline) {
		diag_add(d, NULL, 0, 0, "too late: generation %u is being reverted",
			 inst.confirm_generation);
		err = -ETIME;
		goto out;
	}
	*generation = inst.confirm_generation;
	inst.confirm_deadline = 0;
	inst.confirm_generation = 0;
	err = maps_write_instance(&m, &inst, d);
out:
	loader_close_pinned(&m);
	instance_unlock(lock);
	return err;
}
