# SPDX-License-Identifier: GPL-2.0-only
# speebpf build. `make` builds build/speebpf with the BPF objects embedded as
# skeletons; `make test` builds everything and runs every test (as root);
# `make demo` runs the namespace lab; `make bench` the benchmarks.

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
BUILD := build

PKGS := libbpf yaml-0.1 json-c libcares nettle libmicrohttpd libsystemd libmnl
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
SRC_LAYERS := base config policy export kernel render agent cli
VERSION := $(shell cat VERSION)
CFLAGS := -std=gnu11 -D_GNU_SOURCE -DSPEEBPF_VERSION='"$(VERSION)"' $(WARN) -O2 -g -Iinclude $(SRC_LAYERS:%=-Isrc/%) -I$(BUILD) \
	$(PKG_CFLAGS)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# bpf/ takes the kernel's layouts from its UAPI headers (bpf/uapi.bpf.h), whose
# <asm/...> clang does not look for in the multiarch directory with -target bpf.
BPF_MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Iinclude $(WARN) \
	$(if $(BPF_MULTIARCH),-idirafter /usr/include/$(BPF_MULTIARCH)) \
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

.PHONY: all deps test unit-test bpf-test e2e-test lint demo bench vmlinux install clean deb \
	deploy-test docs
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

# EXTRA_CFLAGS, EXTRA_LDFLAGS: added by a distribution's build (debian/rules
# passes Debian's hardening flags) to the objects of build/speebpf.
$(BUILD)/obj/%.o: src/%.c $(SKEL) | $(BUILD)/obj
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: src/%.c $(SKEL) | $(BUILD)/san
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/speebpf: $(OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The same binary under AddressSanitizer and UBSan, for the CLI and e2e tests.
$(BUILD)/speebpf-san: $(SAN_OBJ)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(PKG_LIBS)

# The man page and the bash completion, written from the command line's
# tables (src/cli/docgen.h) by a generator linked with the same objects.
# Their date: SOURCE_DATE_EPOCH (dpkg-buildpackage sets it), else the last
# commit's, else today's: a rebuild of one source writes the same page.
DOCGEN := $(BUILD)/speebpf-docgen
MAN_DATE := $(shell d=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null)}; \
	date -u -d "@$${d:-$$(date +%s)}" +%Y-%m-%d)
GENERATED_DOCS := $(BUILD)/speebpf.8 $(BUILD)/speebpf.bash-completion

$(DOCGEN): tools/docgen/docgen.c $(filter-out $(BUILD)/obj/cli/main.o,$(OBJ))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(EXTRA_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/speebpf.8: $(DOCGEN) VERSION
	$(call msg,GEN,$@)
	$(Q)$(DOCGEN) man $(VERSION) $(MAN_DATE) > $@

$(BUILD)/speebpf.bash-completion: $(DOCGEN)
	$(call msg,GEN,$@)
	$(Q)$(DOCGEN) bash-completion > $@

docs: $(GENERATED_DOCS)

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
	@$(MAKE) --no-print-directory lint unit-test bpf-test e2e-test deploy-test fuzz-short \
		test-kernel-6.1

.PHONY: test-build
test-build: $(BUILD)/speebpf $(BUILD)/speebpf-san $(UNIT_BIN) $(BPFT_BIN) $(TOOL_BIN) $(BENCH_BIN) \
	$(GENERATED_DOCS)

lint:
	@tools/lint.sh

unit-test: $(BUILD)/speebpf $(BUILD)/speebpf-san $(UNIT_BIN) $(TOOL_BIN) $(GENERATED_DOCS)
	@tests/run-unit.sh $(UNIT_BIN) tests/cli/test_cli.sh tests/cli/test_export.sh \
		tests/cli/test_docs.sh tests/tools/test_check_layers.sh

bpf-test: $(BPFT_BIN)
	@tests/run-unit.sh --bpffs $(BPFT_BIN)

# The package test (test_deb.sh) installs, starts and purges `make deb`'s package.
e2e-test: $(BUILD)/speebpf-san $(TOOL_BIN) deb
	@tests/e2e/run.sh

# deploy/: manifests (Kubernetes API schema), unit (systemd-analyze), alert
# rules (promtool), dashboard, make install. No lab, no root needed.
deploy-test: $(BUILD)/speebpf
	@tests/deploy/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/speebpf $(TOOL_BIN)
	@tools/demo.sh

# ---- benchmarks (tools/bench/): not part of `make test`, which only builds them ----

$(BUILD)/bench/bench.bpf.o: tools/bench/bench.bpf.c tools/bench/bench_abi.h | $(BUILD)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ivmlinux -Itools/bench -c $< -o $@.tmp.o
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

# `make install`: the binary, the systemd unit, /etc/default/speebpf (an
# existing one is kept), the documents, the dashboard and the alert rules.
# The example fleet config goes under the doc dir as an example only: nothing
# is enforced until an administrator writes /etc/speebpf/fleet.yaml (the
# unit does not start without it). debian/rules installs through here too.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
UNITDIR ?= /etc/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/speebpf
DATADIR ?= $(PREFIX)/share/speebpf
# The man page (speebpf.8) and the bash completion are generated from the
# command table (issue 15, item 6); they install to these two.
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: $(BUILD)/speebpf $(GENERATED_DOCS)
	install -D -m 0755 $(BUILD)/speebpf $(DESTDIR)$(SBINDIR)/speebpf
	install -D -m 0644 $(BUILD)/speebpf.8 $(DESTDIR)$(MANDIR)/man8/speebpf.8
	install -D -m 0644 $(BUILD)/speebpf.bash-completion $(DESTDIR)$(BASHCOMPDIR)/speebpf
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/sbin/speebpf|$(SBINDIR)/speebpf|g' -e 's|/usr/share/doc/speebpf|$(DOCDIR)|g' \
		deploy/speebpf.service > $(DESTDIR)$(UNITDIR)/speebpf.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/speebpf.service
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/deployment.md $(DESTDIR)$(DOCDIR)/deployment.md
	install -D -m 0644 deploy/fleet.example.yaml $(DESTDIR)$(DOCDIR)/examples/fleet.example.yaml
	install -D -m 0644 deploy/grafana/speebpf.json $(DESTDIR)$(DATADIR)/grafana/speebpf.json
	install -D -m 0644 deploy/prometheus/speebpf-alerts.yml \
		$(DESTDIR)$(DATADIR)/prometheus/speebpf-alerts.yml
	install -d -m 0755 $(DESTDIR)/etc/speebpf
	[ -e $(DESTDIR)/etc/default/speebpf ] || \
		install -D -m 0644 deploy/speebpf.default $(DESTDIR)/etc/default/speebpf

# `make deb`: build/deb/speebpf_VERSION_ARCH.deb, built by dpkg-buildpackage
# (debian/) in a copy of the source tree, so that this tree stays as it is.
deb:
	@tools/build-deb.sh

clean:
	rm -rf $(BUILD)

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d) $(TEST_LIB_OBJ:.o=.d) $(BENCH_OBJ:.o=.d)

# ---- hardening: differential test, fuzzing, older kernels ----
# `make diff-long SEED=... N=...`: the differential test (tests/bpf/test_diff.c)
# with N packets per program. `make fuzz` runs each libFuzzer target for
# FUZZ_TIME seconds; `make fuzz-short` (part of `make test`) a few seconds each.
# `make test-kernels` runs the BPF tests on Debian's 6.1 and 6.12 under QEMU
# (tools/test-kernels.sh, which installs and downloads what it needs);
# `make test-kernel-6.1` (part of `make test`) the verdict table and the gateway's on 6.1 only.
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

.PHONY: fuzz fuzz-short fuzz-build diff-long test-kernels test-kernel-6.1 test-kernels-runner
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

test-kernels: $(BPF_OBJ) $(BPFT_BIN) test-kernels-runner
	@tools/test-kernels.sh $(BPF_OBJ) -- $(BPFT_BIN)

test-kernel-6.1: $(BPF_OBJ) $(BUILD)/tests/test_verdicts $(BUILD)/tests/test_gateway
	@tools/test-kernels.sh -k 6.1 $(BPF_OBJ) -- $(BUILD)/tests/test_verdicts \
		$(BUILD)/tests/test_gateway

# The runner's own check: it must fail on an object 6.1 rejects and on a failing test.
$(BUILD)/kernels/bad.bpf.o: tests/kernels/bad.bpf.c | $(BUILD)/bpf
	@mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ivmlinux -c $< -o $@

test-kernels-runner: $(BPF_OBJ) $(BUILD)/kernels/bad.bpf.o
	@tests/kernels/test_runner.sh $(firstword $(BPF_OBJ)) $(BUILD)/kernels/bad.bpf.o
