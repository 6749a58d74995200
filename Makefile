# SPDX-License-Identifier: GPL-2.0-only
# speebpf build. `make` builds build/speebpf with the BPF objects embedded as
# skeletons; `make test` builds everything and runs every test (as root);
# `make demo` runs the namespace lab; `make bench` the benchmarks.

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
BUILD := build

PKGS := libbpf yaml-0.1 json-c libcares nettle libmicrohttpd libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz

# `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

WARN := -Wall -Wextra -Werror
# src/ is layered (README, "Layout"); every layer's headers are on the path.
SRC_LAYERS := base config policy kernel agent cli
CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -Iinclude $(SRC_LAYERS:%=-Isrc/%) -I$(BUILD) \
	$(PKG_CFLAGS)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ivmlinux -Iinclude $(WARN) \
	-Wno-unused-function -Wno-compare-distinct-pointer-types

SRC := $(sort $(wildcard src/*/*.c))
LIB_SRC := $(filter-out src/cli/main.c,$(SRC))
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o)
SAN_OBJ := $(SRC:src/%.c=$(BUILD)/san/%.o)
SAN_LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/san/%.o)

BPF_SRC := $(sort $(wildcard bpf/*.bpf.c))
BPF_HDR := $(wildcard bpf/*.h) include/spee_abi.h
BPF_OBJ := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
SKEL := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/%.skel.h)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BPFT_SRC := $(sort $(wildcard tests/bpf/test_*.c))
BPFT_BIN := $(BPFT_SRC:tests/bpf/%.c=$(BUILD)/tests/%)
TEST_LIB_SRC := $(sort $(wildcard tests/lib/*.c))
TEST_LIB_OBJ := $(TEST_LIB_SRC:tests/lib/%.c=$(BUILD)/tests/lib/%.o)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
# The benchmarks (tools/bench/, `make bench`); their rules are at the end.
BENCH_SRC := $(sort $(filter-out %.bpf.c,$(wildcard tools/bench/*.c)))
BENCH_OBJ := $(BENCH_SRC:tools/bench/%.c=$(BUILD)/bench/%.o) $(BUILD)/bench/pkt.o
BENCH_BIN := $(BUILD)/bench/speebpf-bench
BENCH_SKEL := $(BUILD)/bench/bench.skel.h

.PHONY: all deps test unit-test bpf-test e2e-test lint demo bench vmlinux install clean
.DELETE_ON_ERROR:

all: $(BUILD)/speebpf

# Installs missing Debian packages (needs root when something is missing).
deps:
	@tools/install-deps.sh

# Each stage header of bpf/ compiles on its own: it includes the stage before it.
$(BUILD)/bpf/headers.ok: $(BPF_HDR) | $(BUILD)/bpf
	$(call msg,BPF-HDR,'bpf/*.bpf.h')
	$(Q)for h in $(sort $(wildcard bpf/*.bpf.h)); do \
		$(CLANG) $(BPF_CFLAGS) -fsyntax-only -x c $$h || exit 1; done
	@touch $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDR) $(BUILD)/bpf/headers.ok | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/obj/%.o: src/%.c $(SKEL) | $(BUILD)/obj
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: src/%.c $(SKEL) | $(BUILD)/san
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/speebpf: $(OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# The same binary under AddressSanitizer and UBSan, for the CLI and e2e tests.
$(BUILD)/speebpf-san: $(SAN_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/lib/%.o: tests/lib/%.c $(SKEL) | $(BUILD)/tests/lib
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -Itests/lib -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(SAN_LIB_OBJ) $(TEST_LIB_OBJ) | $(BUILD)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -Itests/lib -o $@ $^ $(PKG_LIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(SAN_LIB_OBJ) $(TEST_LIB_OBJ) | $(BUILD)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -Itests/lib -o $@ $^ $(PKG_LIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/bpf $(BUILD)/obj $(BUILD)/san $(BUILD)/tests $(BUILD)/tests/lib $(BUILD)/tools:
	@mkdir -p $@

# vmlinux.h is committed so that building does not need this kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

test: deps
	@$(MAKE) --no-print-directory test-build
	@$(MAKE) --no-print-directory lint unit-test bpf-test e2e-test fuzz-short test-kernel-6.1

.PHONY: test-build
test-build: $(BUILD)/speebpf $(BUILD)/speebpf-san $(UNIT_BIN) $(BPFT_BIN) $(TOOL_BIN) $(BENCH_BIN)

lint:
	@tools/lint.sh

unit-test: $(BUILD)/speebpf-san $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN) tests/cli/test_cli.sh

bpf-test: $(BPFT_BIN)
	@tests/run-unit.sh --bpffs $(BPFT_BIN)

e2e-test: $(BUILD)/speebpf-san $(TOOL_BIN)
	@tests/e2e/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/speebpf $(TOOL_BIN)
	@tools/demo.sh

# ---- benchmarks (tools/bench/): not part of `make test`, which only builds them ----

$(BUILD)/bench/bench.bpf.o: tools/bench/bench.bpf.c tools/bench/bench_abi.h | $(BUILD)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Itools/bench -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(BENCH_SKEL): $(BUILD)/bench/bench.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name bench > $@

$(BUILD)/bench/%.o: tools/bench/%.c $(SKEL) $(BENCH_SKEL) | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itools/bench -Itests/lib -I$(BUILD)/bench -MMD -MP -c $< -o $@

$(BUILD)/bench/pkt.o: tests/lib/pkt.c | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lib -MMD -MP -c $< -o $@

$(BENCH_BIN): $(BENCH_OBJ) $(filter-out $(BUILD)/obj/cli/main.o,$(OBJ))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench:
	@mkdir -p $@

# Runs as root in a sandbox of its own; prints a table, writes BENCHMARKS.md.
bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@tools/bench/run.sh

# The binary, the systemd unit, and an example config (an existing one is kept).
PREFIX ?= /usr/local
UNITDIR ?= /etc/systemd/system
install: $(BUILD)/speebpf
	install -D -m 0755 $(BUILD)/speebpf $(DESTDIR)$(PREFIX)/sbin/speebpf
	install -D -m 0644 deploy/speebpf.service $(DESTDIR)$(UNITDIR)/speebpf.service
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/speebpf/README.md
	install -d -m 0755 $(DESTDIR)/etc/speebpf
	[ -e $(DESTDIR)/etc/speebpf/fleet.yaml ] || \
		install -m 0644 deploy/fleet.example.yaml $(DESTDIR)/etc/speebpf/fleet.yaml
	[ -e $(DESTDIR)/etc/default/speebpf ] || \
		install -D -m 0644 deploy/speebpf.default $(DESTDIR)/etc/default/speebpf

clean:
	rm -rf $(BUILD)

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TEST_LIB_OBJ:.o=.d) $(BENCH_OBJ:.o=.d)

# ---- hardening: differential test, fuzzing, older kernels ----
# `make diff-long SEED=... N=...`: the differential test (tests/bpf/test_diff.c)
# with N packets per program. `make fuzz` runs each libFuzzer target for
# FUZZ_TIME seconds; `make fuzz-short` (part of `make test`) a few seconds each.
# `make test-kernels` runs the BPF tests on Debian's 6.1 and 6.12 under QEMU;
# `make test-kernel-6.1` (part of `make test`) the verdict table on 6.1 only.
FUZZ_CC ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_LINK := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/fuzz/obj/%.o) $(BUILD)/fuzz/obj/fixture.o \
	    $(BUILD)/fuzz/obj/pktmodel.o
FUZZ_TIME ?= 600
FUZZ_SHORT ?= 4
SEED ?= $(shell date +%s)
N ?= 1000000

.PHONY: fuzz fuzz-short fuzz-build diff-long test-kernels test-kernel-6.1
.SECONDARY: $(BPF_OBJ) $(FUZZ_OBJ)

$(BUILD)/fuzz/obj/%.o: src/%.c $(SKEL) | $(BUILD)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -c $< -o $@

# The test library's parts that the fuzz targets need (not its kernel harness).
$(BUILD)/fuzz/obj/fixture.o $(BUILD)/fuzz/obj/pktmodel.o: $(BUILD)/fuzz/obj/%.o: tests/lib/%.c | $(BUILD)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -Itests/lib -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_LINK) -Itests/lib -o $@ $^ $(PKG_LIBS)

$(BUILD)/fuzz/obj:
	@mkdir -p $@

fuzz-build: $(FUZZ_BIN)

fuzz-short: $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_SHORT) $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BIN)

diff-long: $(BUILD)/tests/test_diff
	SPEE_DIFF_SEED=$(SEED) SPEE_DIFF_N=$(N) $(BUILD)/tests/test_diff

test-kernels: $(BPF_OBJ) $(BPFT_BIN)
	@tools/test-kernels.sh $(BPF_OBJ) $(BPFT_BIN)

test-kernel-6.1: $(BPF_OBJ) $(BUILD)/tests/test_verdicts
	@tools/test-kernels.sh -k default $(BPF_OBJ) $(BUILD)/tests/test_verdicts
