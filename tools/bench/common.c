// SPDX-License-Identifier: GPL-2.0-only
/*
 * common.c - timing, statistics and the small system calls every part of
 * the harness needs.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <pthread.h>

#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

const size_t bench_sizes[BENCH_SIZES] = {10, 1000, 10000, 100000};

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t bench_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int bench_test_run(int prog_fd, const void *data, int len, const void *ctx, int ctx_len,
		   int repeat, double ns[CLK_COUNT], uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = (__u32)len,
		    .ctx_in = ctx, .ctx_size_in = (__u32)ctx_len, .repeat = repeat);
	uint64_t t0, t1;

	t0 = bench_thread_cpu_ns();
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	t1 = bench_thread_cpu_ns();
	ns[CLK_CPU] = (double)(t1 - t0) / repeat;
	ns[CLK_KERNEL] = o.duration;
	*retval = o.retval;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void stat3_of(const double *v, int n, struct stat3 *out)
{
	double *s;

	memset(out, 0, sizeof(*out));
	if (n <= 0)
		return;
	s = malloc((size_t)n * sizeof(*s));
	if (!s)
		return;
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	out->min = s[0];
	out->max = s[n - 1];
	/* An even count has two middles: their mean. */
	out->med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	out->n = n;
	free(s);
}

void bench_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int bench_rounds(double *t, int rows, int variants, int rounds, bench_time_fn time, void *ctx,
		 const char *what)
{
	int err = 0;

	for (int r = 0; r < rounds && !err; r++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < rows && !err; i++) {
			for (int k = 0; k < variants && !err; k++) {
				int v = (k + r) % variants;
				double ns[CLK_COUNT];

				err = time(ctx, i, v, ns);
				if (err > 0) {
					err = 0; /* not measured */
					continue;
				}
				for (int c = 0; c < CLK_COUNT && !err; c++)
					BENCH_CELL(t, variants, rounds, i, v, c, r) = ns[c];
			}
		}
		bench_log("%s: round %d of %d took %.1f s", what, r + 1, rounds,
			  (double)(bench_now_ns() - t0) / 1e9);
	}
	return err;
}

int bench_park_xdp(const char *prefix, int n, int prog_fd)
{
	char name[IF_NAMESIZE], peer[IF_NAMESIZE], cmd[128];
	int ifindex, err;

	snprintf(name, sizeof(name), "%.10sp%d", prefix, n);
	snprintf(peer, sizeof(peer), "%.10sq%d", prefix, n);
	ifindex = (int)if_nametoindex(name);
	if (!ifindex) {
		snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s", name, peer);
		if (system(cmd))
			return -EIO;
		ifindex = (int)if_nametoindex(name);
		if (!ifindex)
			return -ENODEV;
	}
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	return err ? err : ifindex;
}

void bench_unpark_xdp(int ifindex)
{
	if (ifindex > 0)
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

int bench_enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

int bench_write_file(const char *dir, const char *name, const char *buf, size_t len, char *out,
		     size_t out_len)
{
	int fd, err = 0;

	if (snprintf(out, out_len, "%s/%s", dir, name) >= (int)out_len)
		return -ENAMETOOLONG;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			break;
		}
		buf += w;
		len -= (size_t)w;
	}
	if (close(fd) && !err)
		err = -errno;
	return err;
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	if (cpu >= 0) {
		CPU_SET(cpu, &set);
	} else {
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	}
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* ---- other tenants ---- */

#define MAX_TASKS 4096

struct task_cpu {
	int pid;
	unsigned long long ticks; /* utime + stime */
	char comm[20];
};

static struct task_cpu tasks_at_start[MAX_TASKS];
static int n_tasks_at_start;
static uint64_t tasks_start_ns;

/* utime + stime of pid from /proc/PID/stat, and its name; false when it is gone. */
static bool task_ticks(int pid, unsigned long long *ticks, char *comm, size_t len)
{
	char path[64], buf[1024], *open, *close;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name is in parentheses and may hold spaces: fields follow the last ')'. */
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return false;
	snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
	if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) !=
	    2)
		return false;
	*ticks = ut + st;
	return true;
}

/* Kernel threads have no command line; ours (softirq, kworkers) work for this run too. */
static bool is_kernel_thread(int pid)
{
	char path[64], c;
	FILE *f;
	bool empty;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	empty = fread(&c, 1, 1, f) != 1;
	fclose(f);
	return empty;
}

void bench_tenants_start(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	tasks_start_ns = bench_now_ns();
	n_tasks_at_start = 0;
	while (d && (de = readdir(d)) && n_tasks_at_start < MAX_TASKS) {
		struct task_cpu *t = &tasks_at_start[n_tasks_at_start];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		t->pid = atoi(de->d_name);
		if (t->pid != getpid() && !is_kernel_thread(t->pid) &&
		    task_ticks(t->pid, &t->ticks, t->comm, sizeof(t->comm)))
			n_tasks_at_start++;
	}
	if (d)
		closedir(d);
}

int bench_tenants_busy(struct tenant *out, int max, double *total)
{
	double secs = (double)(bench_now_ns() - tasks_start_ns) / 1e9, hz = sysconf(_SC_CLK_TCK);
	int n = 0;

	*total = 0;
	for (int i = 0; i < n_tasks_at_start && secs > 0; i++) {
		const struct task_cpu *t = &tasks_at_start[i];
		unsigned long long now;
		char comm[20];
		double share;

		if (!task_ticks(t->pid, &now, comm, sizeof(comm)) || strcmp(comm, t->comm))
			continue;
		share = (double)(now - t->ticks) / hz / secs;
		*total += share;
		if (share < 0.1 || n == max)
			continue;
		snprintf(out[n].comm, sizeof(out[n].comm), "%s", comm);
		out[n++].cpu_share = share;
	}
	return n;
}

/* ---- runnable tasks beside the measurements ---- */

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	bool on, stop, started;
	double sum;
	long n;
} sampler = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Tasks runnable now (the numerator of /proc/loadavg's fourth field), or -1. */
static int running_now(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	int running = -1;

	if (f) {
		if (fscanf(f, "%*f %*f %*f %d/", &running) != 1)
			running = -1;
		fclose(f);
	}
	return running;
}

static void *sample_loop(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		int running;

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&sampler.lock);
		if (sampler.stop) {
			pthread_mutex_unlock(&sampler.lock);
			return NULL;
		}
		/* this thread and the measuring one are running: the rest are others */
		if (sampler.on && (running = running_now()) >= 2) {
			sampler.sum += running - 2;
			sampler.n++;
		}
		pthread_mutex_unlock(&sampler.lock);
	}
}

void bench_others_sample(bool on)
{
	pthread_mutex_lock(&sampler.lock);
	sampler.on = on;
	if (on && !sampler.started)
		sampler.started = !pthread_create(&sampler.thread, NULL, sample_loop, NULL);
	pthread_mutex_unlock(&sampler.lock);
}

double bench_others_running(long *samples)
{
	pthread_mutex_lock(&sampler.lock);
	sampler.stop = true;
	pthread_mutex_unlock(&sampler.lock);
	if (sampler.started)
		pthread_join(sampler.thread, NULL);
	sampler.started = false;
	*samples = sampler.n;
	return sampler.n ? sampler.sum / (double)sampler.n : 0;
}
