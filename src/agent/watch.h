/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * watch.h - notices when the config file may have changed. It watches the
 * file's directory with inotify rather than the file itself, because the
 * file is usually replaced rather than written: editors write a new file
 * and rename it over the old one, and a Kubernetes ConfigMap volume reaches
 * the file through a `..data` symlink that the kubelet swaps atomically.
 * Both show up as events on the directory.
 */
#ifndef SPEE_WATCH_H
#define SPEE_WATCH_H

struct config_watch;

/* Starts watching path's directory. Returns 0 or a negative errno. */
int watch_open(const char *path, struct config_watch **out);

/* The descriptor to poll for readability. */
int watch_fd(const struct config_watch *w);

/* Drains pending events; returns 1 when one concerns the config, else 0 (or -errno). */
int watch_process(struct config_watch *w);

void watch_close(struct config_watch *w);

#endif
