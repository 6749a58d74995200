/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * runsort.h - a stable merge sort that merges the runs its input already
 * has: the compiler's entries and the maps' images come out of loops over
 * rules and peers in long ascending runs, which a few passes merge where a
 * general sort takes log2(n) passes (glibc's qsort moves items over 32
 * bytes through a pointer array on each of them).
 *
 * RUNSORT_DEFINE(name, type, cmp) defines
 *     static int name(type *v, size_t n)
 * which sorts v by cmp(const type *, const type *) (negative, zero,
 * positive), stably (equal items keep their order), and returns 0 or
 * -ENOMEM (v unchanged). A definition per type keeps the comparison and the
 * moves inline: the image of a one-host change sorts 30,000 items each time.
 */
#ifndef SPEE_RUNSORT_H
#define SPEE_RUNSORT_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RUNSORT_DEFINE(name, type, cmp)                                                          \
	static int name(type *v, size_t n)                                                       \
	{                                                                                        \
		type *tmp, *src = v, *dst;                                                       \
		size_t *run, n_run = 0;                                                          \
                                                                                                 \
		if (n < 2)                                                                       \
			return 0;                                                                \
		run = malloc((n + 1) * sizeof(*run));                                            \
		tmp = malloc(n * sizeof(*tmp));                                                  \
		if (!run || !tmp) {                                                              \
			free(run);                                                               \
			free(tmp);                                                               \
			return -ENOMEM;                                                          \
		}                                                                                \
		/* where the input descends: the runs' starts */                                 \
		run[n_run++] = 0;                                                                \
		for (size_t i = 1; i < n; i++)                                                   \
			if (cmp(&v[i - 1], &v[i]) > 0)                                           \
				run[n_run++] = i;                                                \
		run[n_run] = n;                                                                  \
		/* neighbouring runs merged pairwise, pass by pass, between v and tmp */        \
		dst = tmp;                                                                       \
		while (n_run > 1) {                                                              \
			size_t out = 0;                                                          \
                                                                                                 \
			for (size_t r = 0; r < n_run; r += 2) {                                  \
				size_t a = run[r], a_end = run[r + 1], b = a_end;                \
				size_t b_end = r + 2 <= n_run ? run[r + 2] : a_end, k = a;       \
                                                                                                 \
				/* the left run's item first on a tie: stable */                 \
				while (a < a_end && b < b_end)                                   \
					dst[k++] = cmp(&src[a], &src[b]) <= 0 ? src[a++] : src[b++]; \
				while (a < a_end)                                                \
					dst[k++] = src[a++];                                     \
				while (b < b_end)                                                \
					dst[k++] = src[b++];                                     \
				run[out++] = run[r];                                             \
			}                                                                        \
			run[out] = n;                                                            \
			n_run = out;                                                             \
			src = dst;                                                               \
			dst = dst == tmp ? v : tmp;                                              \
		}                                                                                \
		if (src != v)                                                                    \
			memcpy(v, src, n * sizeof(*v));                                          \
		free(run);                                                                       \
		free(tmp);                                                                       \
		return 0;                                                                        \
	}

#endif
