// SPDX-License-Identifier: GPL-2.0-only
/*
 * include/spee_objects.h against the BPF object it lists: every map and
 * program of the object is on the list and every one on the list is in the
 * object; the shapes user space checks pinned maps against are the
 * object's own; the pin names of links parse back to their program. The
 * object is opened from the embedded skeleton, not loaded (no root needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "loader.h"
#include "objects.h"
#include "pindir.h"
#include "speebpf.skel.h"

static struct speebpf *skel;

static int open_object(void **state)
{
	(void)state;
	skel = speebpf__open();
	return skel ? 0 : -1;
}

static int close_object(void **state)
{
	(void)state;
	speebpf__destroy(skel);
	return 0;
}

static int list_index(const char *name)
{
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (!strcmp(name, spee_map_names[i]))
			return i;
	return -1;
}

static bool scratch(const char *name)
{
	for (size_t i = 0; i < spee_scratch_map_count; i++)
		if (!strcmp(name, spee_scratch_map_names[i]))
			return true;
	return false;
}

static void every_map_of_the_object_is_on_the_list_and_back(void **state)
{
	bool seen[SPEE_MAP_COUNT] = { false };
	size_t scratch_seen = 0;
	struct bpf_map *m;

	(void)state;
	bpf_object__for_each_map(m, skel->obj) {
		const char *name = bpf_map__name(m);
		int i = list_index(name);

		if (strchr(name, '.'))
			continue; /* the object's own data (.rodata), made by libbpf */
		if (scratch(name)) {
			scratch_seen++;
			continue;
		}
		if (i < 0)
			fail_msg("map %s of the object is not on the list of spee_objects.h", name);
		seen[i] = true;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (!seen[i])
			fail_msg("map %s of the list is not in the object", spee_map_names[i]);
	assert_int_equal(scratch_seen, spee_scratch_map_count);
}

static void every_program_of_the_object_is_on_the_list_and_back(void **state)
{
	struct bpf_program *p;
	int n = 0;

	(void)state;
	bpf_object__for_each_program(p, skel->obj) {
		enum bpf_prog_type type = bpf_program__type(p);
		bool found = false;

		for (int k = 0; k < SPEE_PROG_COUNT; k++) {
			if (strcmp(bpf_program__name(p), spee_progs[k].name))
				continue;
			found = true;
			/* where the list attaches it is where its type attaches */
			if (spee_where_per_iface(spee_progs[k].where))
				assert_int_equal(type, BPF_PROG_TYPE_XDP);
			else if (spee_progs[k].where == SPEE_ATTACH_TC ||
				 spee_progs[k].where == SPEE_ATTACH_GW_TC)
				assert_int_equal(type, BPF_PROG_TYPE_SCHED_CLS);
			else
				assert_true(type == BPF_PROG_TYPE_CGROUP_SKB ||
					    type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR ||
					    type == BPF_PROG_TYPE_CGROUP_SOCK);
			/* an interface program says which frames it parses; a cgroup one none */
			assert_int_equal(spee_progs[k].where == SPEE_ATTACH_CGROUP,
					 spee_progs[k].frames == SPEE_FRAMES_NONE);
			assert_int_equal(loader_attach_type((enum spee_prog_id)k),
					 bpf_program__expected_attach_type(p));
		}
		if (!found)
			fail_msg("program %s of the object is not on the list", bpf_program__name(p));
		n++;
	}
	assert_int_equal(n, SPEE_PROG_COUNT);
}

static void shapes_are_the_objects_own(void **state)
{
	(void)state;
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, spee_map_names[i]);
		const struct loader_shape *s = loader_shape((enum spee_map_id)i);

		assert_non_null(m);
		assert_non_null(s);
		assert_int_equal(s->type, bpf_map__type(m));
		assert_int_equal(s->key_size, bpf_map__key_size(m));
		assert_int_equal(s->value_size, bpf_map__value_size(m));
		assert_int_equal(s->flags, bpf_map__map_flags(m) & LOADER_SHAPE_FLAGS);
	}
	/* the ABI structs are what the maps hold */
	assert_int_equal(loader_shape(SPEE_MAP_EXACT)->key_size, sizeof(struct spee_rule_key));
	assert_int_equal(loader_shape(SPEE_MAP_PREFIX)->key_size, sizeof(struct spee_prefix_key));
	assert_int_equal(loader_shape(SPEE_MAP_INST)->value_size, sizeof(struct spee_instance));
	assert_int_equal(loader_shape(SPEE_MAP_RT)->value_size, sizeof(struct spee_runtime));
}

static void sized_maps_are_the_ones_the_loader_sizes(void **state)
{
	struct loader_sizes sz;

	(void)state;
	loader_sizes_default(&sz);
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		assert_int_equal(sz.max_entries[i] != 0, (spee_map_flags[i] & SPEE_MAPF_SIZED) != 0);
}

static void link_pin_names_are_unique_and_parse_back(void **state)
{
	char path[256], ifname[16];
	enum spee_prog_id prog;

	(void)state;
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		const char *name;
		int hook;

		if (spee_progs[p].where == SPEE_ATTACH_TC || spee_progs[p].where == SPEE_ATTACH_GW_TC) {
			/* a tc filter is no link: nothing pinned */
			assert_null(spee_progs[p].pin);
			assert_false(spee_prog_names_hook((enum spee_prog_id)p));
			assert_int_equal(pindir_link(path, sizeof(path), "/pins",
						     (enum spee_prog_id)p, "eth0"),
					 -EINVAL);
			continue;
		}
		assert_non_null(spee_progs[p].pin);
		assert_null(strchr(spee_progs[p].pin, '.')); /* bpffs refuses dots */
		/* the program whose links the pin names: itself, or its hook's Ethernet variant */
		hook = spee_where_per_iface(spee_progs[p].where) ?
			       spee_prog_for(spee_progs[p].where, SPEE_FRAMES_ETHERNET) :
			       p;
		assert_int_equal(spee_prog_names_hook((enum spee_prog_id)p), hook == p);
		for (int k = 0; k < SPEE_PROG_COUNT; k++) {
			bool same_hook = spee_where_per_iface(spee_progs[k].where) &&
					 spee_progs[k].where == spee_progs[p].where;

			if (k == p || !spee_progs[k].pin)
				continue;
			if (same_hook) /* the variants of a hook share its pin */
				assert_string_equal(spee_progs[k].pin, spee_progs[p].pin);
			else /* and no other hook's pin is a prefix of it */
				assert_false(!strncmp(spee_progs[k].pin, spee_progs[p].pin,
						      strlen(spee_progs[k].pin)));
		}
		assert_int_equal(pindir_link(path, sizeof(path), "/pins", (enum spee_prog_id)p,
					     "eth0"),
				 0);
		name = strrchr(path, '/') + 1;
		assert_true(pindir_parse_link(name, &prog, ifname, sizeof(ifname)));
		assert_int_equal(prog, hook);
		assert_string_equal(ifname,
				    spee_where_per_iface(spee_progs[p].where) ? "eth0" : "");
	}
}

/* An interface hook has a program for either start of frames. */
static void every_interface_hook_has_a_program_for_each_kind_of_frames(void **state)
{
	(void)state;
	for (int w = SPEE_ATTACH_XDP; w <= SPEE_ATTACH_TC; w++) {
		int eth = spee_prog_for((enum spee_attach_where)w, SPEE_FRAMES_ETHERNET);
		int ip = spee_prog_for((enum spee_attach_where)w, SPEE_FRAMES_IP);

		assert_true(eth >= 0);
		assert_true(ip >= 0);
		assert_int_not_equal(eth, ip);
	}
	assert_int_equal(spee_prog_for(SPEE_ATTACH_CGROUP, SPEE_FRAMES_IP), -1);
}

/*
 * The record has a tag of its own for every program, the first four where
 * the record's first layout had them (an older record carries over as it is).
 */
static void every_program_has_a_tag_of_its_own_in_the_record(void **state)
{
	struct spee_instance rec;
	uint8_t *seen[SPEE_PROG_COUNT];

	(void)state;
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		seen[p] = spee_instance_prog_tag(&rec, (enum spee_prog_id)p);
		assert_true(seen[p] >= (uint8_t *)&rec);
		assert_true(seen[p] + SPEE_TAG_SIZE <= (uint8_t *)(&rec + 1));
		for (int k = 0; k < p; k++)
			assert_true(seen[k] + SPEE_TAG_SIZE <= seen[p] ||
				    seen[p] + SPEE_TAG_SIZE <= seen[k]);
	}
	assert_ptr_equal(seen[SPEE_PROG_XDP], rec.prog_tag[0]);
	assert_ptr_equal(seen[SPEE_PROG_CONNECT6], rec.prog_tag[3]);
	assert_true(seen[SPEE_PROG_COUNT - 1] >= rec.prog_tag_more[0]);
}

/*
 * The head of a .BTF.ext section (the kernel's Documentation/bpf/btf.rst):
 * offsets and lengths of its parts; core_relo_* only where hdr_len covers them.
 */
struct btf_ext_head {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len;
	uint32_t line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len;
};

/*
 * No field access of the object is a CO-RE relocation: every layout it
 * reads is fixed ABI (bpf/uapi.bpf.h). One would make libbpf read and parse
 * the running kernel's BTF, megabytes, on every load (tools/bench/analysis.md).
 */
static void the_object_has_no_core_relocation(void **state)
{
	struct btf_ext_head head = { 0 };
	bool found = false;
	size_t size, shstrndx;
	const void *bytes = speebpf__elf_bytes(&size);
	char *copy = malloc(size);
	Elf_Scn *scn = NULL;
	Elf *elf;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, bytes, size);
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	elf = elf_memory(copy, size);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		const char *name;

		assert_non_null(gelf_getshdr(scn, &sh));
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".BTF.ext"))
			continue;
		data = elf_getdata(scn, NULL);
		assert_non_null(data);
		assert_true(data->d_size >= offsetof(struct btf_ext_head, core_relo_off));
		memcpy(&head, data->d_buf,
		       data->d_size < sizeof(head) ? data->d_size : sizeof(head));
		found = true;
	}
	/* the section itself is expected: it carries the line info of verifier messages */
	assert_true(found);
	assert_int_equal(head.magic, 0xeB9F);
	if (head.hdr_len >= sizeof(head) && head.core_relo_len)
		fail_msg("the BPF object has %u bytes of CO-RE relocations: a kernel "
			 "struct with preserve_access_index (vmlinux.h?) came back into bpf/",
			 head.core_relo_len);
	elf_end(elf);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_map_of_the_object_is_on_the_list_and_back),
		cmocka_unit_test(every_program_of_the_object_is_on_the_list_and_back),
		cmocka_unit_test(shapes_are_the_objects_own),
		cmocka_unit_test(sized_maps_are_the_ones_the_loader_sizes),
		cmocka_unit_test(link_pin_names_are_unique_and_parse_back),
		cmocka_unit_test(every_interface_hook_has_a_program_for_each_kind_of_frames),
		cmocka_unit_test(every_program_has_a_tag_of_its_own_in_the_record),
		cmocka_unit_test(the_object_has_no_core_relocation),
	};

	return cmocka_run_group_tests_name("objects", tests, open_object, close_object);
}
