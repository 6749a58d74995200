// SPDX-License-Identifier: GPL-2.0-only
/* confirm.c - apply --confirm: the snapshot, the watcher, the revert (confirm.h). */
#include "confirm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "detach.h"
#include "maps.h"
#include "pindir.h"

#define WATCH_STEP_NS 100000000ull /* how often the watcher looks for a confirm */

/* The maps a snapshot reads and a revert writes. */
#define SNAPSHOT_MAPS ((1u << SPEE_MAP_RT) | (1u << SPEE_MAP_INST) | (1u << SPEE_MAP_RULES))

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

int confirm_prepare(struct instance *inst, struct confirm_snapshot *snap, struct diags *d)
{
	int err;

	memset(snap, 0, sizeof(*snap));
	snap->rules = calloc(SPEE_MAX_RULES, sizeof(*snap->rules));
	if (!snap->rules)
		return -ENOMEM;
	if (!inst->exists)
		return 0;
	if ((inst->other_layout | inst->missing) & SNAPSHOT_MAPS) {
		diag_add(d, NULL, 0, 0,
			 "the instance at %s was made by another build: apply once without "
			 "--confirm, so that this build takes it over",
			 inst->pin_dir);
		return -EPROTO;
	}
	snap->existed = true;
	snap->inst = inst->rec;
	err = maps_read_runtime(&inst->maps, &snap->rt, d);
	if (!err)
		err = maps_read_rules(&inst->maps, snap->rules, d);
	if (!err && snap->inst.confirm_deadline) {
		diag_add(d, NULL, 0, 0,
			 "generation %u is still waiting for `speebpf confirm`; confirm it (or let "
			 "it revert) before applying another policy with --confirm",
			 snap->inst.confirm_generation);
		err = -EBUSY;
	}
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

/* The watcher's decision at the deadline, inst locked. Returns true when it reverted. */
static bool revert(struct instance *inst, const struct confirm_snapshot *snap,
		   uint32_t generation, unsigned secs)
{
	struct spee_instance rec = inst->rec;
	struct spee_runtime rt;

	/* Confirmed, or replaced by a later apply (which ended the wait). */
	if (!rec.confirm_deadline || rec.confirm_generation != generation)
		return false;
	if (maps_read_runtime(&inst->maps, &rt, NULL))
		return false;
	if (rt.slot[rt.active & 1].generation != generation) {
		/* Not the policy that waits: never take back a later one; the wait is over. */
		rec.confirm_deadline = 0;
		rec.confirm_generation = 0;
		inst->rec = rec;
		instance_save_record(inst, NULL);
		return false;
	}
	if (!snap->existed) /* there was no policy before: going back means no instance */
		return detach_instance(inst, NULL) == 0;
	if (maps_flip(&inst->maps, (uint8_t)(snap->rt.active & 1), NULL))
		return false;
	restore_rules(&inst->maps, snap->rules);
	rec = snap->inst;
	rec.confirm_deadline = 0;
	rec.confirm_generation = 0;
	rec.reverted_generation = generation;
	rec.last_result_ok = 0;
	snprintf(rec.last_error, sizeof(rec.last_error),
		 "generation %u was not confirmed within %u s and was reverted to generation %u",
		 generation, secs, snap->inst.generation);
	inst->rec = rec;
	instance_save_record(inst, NULL);
	return true;
}

/* Still waiting for a confirm of generation? Read through the handle's own map fd. */
static bool pending(struct instance *inst, uint32_t generation)
{
	char path[PATH_MAX];
	struct spee_instance rec;
	struct stat st;

	/* The pin gone (detach) or replaced (an upgrade took the instance over): look again. */
	if (pindir_map(path, sizeof(path), inst->pin_dir, SPEE_MAP_INST) || stat(path, &st))
		return false;
	if (st.st_ino != inst->map_ino[SPEE_MAP_INST]) {
		if (instance_relock(inst, NULL))
			return false;
		instance_release(inst);
	}
	return !maps_read_instance(&inst->maps, &rec, NULL) && rec.confirm_deadline &&
	       rec.confirm_generation == generation;
}

/* The detached watcher: waits for a confirm (or a later apply) until the deadline. */
static void watch(struct instance *inst, const struct confirm_snapshot *snap, uint32_t generation,
		  unsigned secs, uint64_t deadline)
{
	for (;;) {
		struct timespec step = { 0, WATCH_STEP_NS };

		if (!pending(inst, generation))
			return;
		if (realtime_ns() >= deadline) {
			if (instance_relock(inst, NULL) == 0) {
				revert(inst, snap, generation, secs);
				instance_release(inst);
			}
			return;
		}
		nanosleep(&step, NULL);
	}
}

/* Detaches from the terminal and the session so that a closing SSH session does not stop it. */
static int spawn_watcher(struct instance *inst, const struct confirm_snapshot *snap,
			 uint32_t generation, unsigned secs, uint64_t deadline)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* the child forks the watcher and exits at once */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	/*
	 * The lock is the apply's until it exits: the watcher's copy of its fd
	 * goes (closing it releases nothing while the apply holds its own).
	 */
	close(inst->lock_fd);
	inst->lock_fd = -1;
	inst->mode = INSTANCE_WRITE; /* an instance detached meanwhile is not made again */
	if (setsid() < 0 || fork() != 0)
		_exit(0); /* the grandchild is adopted by init and cannot regain a terminal */
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	signal(SIGHUP, SIG_IGN);
	watch(inst, snap, generation, secs, deadline);
	_exit(0);
}

int confirm_arm(struct instance *inst, const struct confirm_snapshot *snap, uint32_t generation,
		unsigned secs, struct diags *d)
{
	uint64_t deadline = realtime_ns() + (uint64_t)secs * 1000000000ull;
	int err;

	inst->rec.confirm_deadline = deadline;
	inst->rec.confirm_generation = generation;
	err = instance_save_record(inst, d);
	if (!err)
		err = spawn_watcher(inst, snap, generation, secs, deadline);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot arm the confirmation: %s", strerror(-err));
	return err;
}

int confirm_commit(struct instance *inst, uint32_t *generation, struct diags *d)
{
	struct spee_instance *rec = &inst->rec;

	if (!rec->confirm_deadline) {
		if (rec->reverted_generation)
			diag_add(d, NULL, 0, 0,
				 "nothing to confirm: generation %u was already reverted",
				 rec->reverted_generation);
		else
			diag_add(d, NULL, 0, 0, "nothing to confirm at %s", inst->pin_dir);
		return -ENOENT;
	}
	if (realtime_ns() >= rec->confirm_deadline) {
		diag_add(d, NULL, 0, 0, "too late: generation %u is being reverted",
			 rec->confirm_generation);
		return -ETIME;
	}
	*generation = rec->confirm_generation;
	rec->confirm_deadline = 0;
	rec->confirm_generation = 0;
	return instance_save_record(inst, d);
}
