// SPDX-License-Identifier: GPL-2.0-only
#include "watch.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct config_watch {
	int fd;
	char dir[PATH_MAX];
	char name[NAME_MAX + 1];
};

#define KUBERNETES_DATA_LINK "..data"

int watch_open(const char *path, struct config_watch **out)
{
	struct config_watch *w = calloc(1, sizeof(*w));
	char copy[PATH_MAX];
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(w->dir, sizeof(w->dir), "%s", dirname(copy));
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(w->name, sizeof(w->name), "%s", basename(copy));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	/* Every way a file can be replaced in a directory, and the ..data swap (a rename). */
	if (inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
					      IN_DELETE | IN_MOVED_FROM | IN_ATTRIB) < 0) {
		err = -errno;
		close(w->fd);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

int watch_fd(const struct config_watch *w)
{
	return w->fd;
}

int watch_process(struct config_watch *w)
{
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;

	for (;;) {
		ssize_t len = read(w->fd, buf, sizeof(buf));

		if (len < 0)
			return errno == EAGAIN ? hit : -errno;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1; /* events were lost: look at the file anyway */
			else if (ev->len && (!strcmp(ev->name, w->name) ||
					     !strcmp(ev->name, KUBERNETES_DATA_LINK)))
				hit = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
}

void watch_close(struct config_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}
