# neuron: the NeuronOS passthrough console.
#   make          build build/libneuron.a, build/neuronctl (and neuron-tui, neuron-agent)
#   make run      install what is missing, build, open the TUI on the bundled demo machine
#   make test     install what is missing, build, run every test (plain, then ASan+UBSan)
#   make asan     the same suite under AddressSanitizer and UBSan only
#   make bench    benchmarks (figures and ratios, never a pass/fail)
#   make install  install under PREFIX (default /usr/local), staged under DESTDIR; see mk/install.mk
#   make uninstall
#   make screenshots  PNGs of the TUI from real runs into screenshots/
#   make test-vm  the VM lane alone: a real kernel under QEMU, real libvirt (root; part of make test)

BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CC       ?= cc
PYTHON   ?= /usr/bin/python3
PKGS     := ncursesw libvirt libpci zlib yaml-0.1 libxml-2.0 json-c
# wolfSSL: asm (default on x86-64: Debian's wolfSSL source built with AES-NI/AVX2, linked
# statically) or system (the distribution's libwolfssl). See mk/wolfssl.sh.
WOLFSSL  ?= $(if $(filter x86_64,$(shell uname -m)),asm,system)
WOLFSSL_DIR := .deps/wolfssl-$(WOLFSSL)
WOLFSSL_FLAGS := $(WOLFSSL_DIR)/flags
# Stamps rewritten only when what they hold changes: the choice (asm or system; objects
# depend on it, so switching back and forth rebuilds) and the installed libwolfssl-dev
# version (a security update rebuilds the static copy).
WOLFSSL_CHOICE := .deps/wolfssl.choice
WOLFSSL_WANT := $(WOLFSSL_DIR)/version
OPTFLAGS ?= -O2 -g
SANFLAGS ?=
CFLAGS   ?=
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# Recursive on purpose: read when a recipe runs, after $(WOLFSSL_FLAGS) was made.
WOLFSSL_CFLAGS = $(shell sed -n 1p $(WOLFSSL_FLAGS) 2>/dev/null)
WOLFSSL_LIBS   = $(shell sed -n 2p $(WOLFSSL_FLAGS) 2>/dev/null)
PKG_CFLAGS = $(WOLFSSL_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libvirt is not linked: core/vm/virt_dl.c loads it when a program first needs it.
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libvirt,$(PKGS)) 2>/dev/null) $(WOLFSSL_LIBS) -ldl
CMOCKA_LIBS = $(shell pkg-config --libs cmocka libvirt 2>/dev/null)
# Front ends see the public headers only; core/ and its unit tests also reach the private ones,
# named by folder ("plan/plan_internal.h").
ALL_CFLAGS = -std=gnu11 $(OPTFLAGS) $(SANFLAGS) $(WARN) -D_GNU_SOURCE -Icore/include $(PKG_CFLAGS) $(CFLAGS)
PRIVATE_INC = -Icore
ALL_LDFLAGS = $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm -lpthread

CORE_SRC  := $(wildcard core/*/*.c)
CLI_SRC   := $(wildcard cli/*.c)
TUI_SRC   := $(wildcard tui/*.c)
AGENT_SRC := $(wildcard agent/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
MACHINES  := $(wildcard tests/fixtures/machines/*.yaml)

LIB       := $(BUILD)/libneuron.a
PROGRAMS  := $(BUILD)/neuronctl $(if $(TUI_SRC),$(BUILD)/neuron-tui) $(if $(AGENT_SRC),$(BUILD)/neuron-agent)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SYSROOTS  := $(MACHINES:tests/fixtures/machines/%.yaml=$(BUILD)/sysroots/%/.stamp)

.SECONDARY:

obj = $(1:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps wolfssl FORCE test check asan run bench clean distclean sysroots screenshots test-vm
all: $(LIB) $(PROGRAMS)

# After a wolfSSL build that fell back to the system library (mk/wolfssl.sh says why: often
# a tool make deps installs), the next build tries again.
deps:
	@sh mk/deps.sh
	@if [ -e $(WOLFSSL_DIR)/fallback ]; then rm -f $(WOLFSSL_DIR)/fallback $(WOLFSSL_FLAGS); fi

$(WOLFSSL_CHOICE): FORCE
	@mkdir -p $(dir $@); [ "$$(cat $@ 2>/dev/null)" = "$(WOLFSSL)" ] || echo "$(WOLFSSL)" >$@
$(WOLFSSL_WANT): FORCE
	@mkdir -p $(dir $@); v=$$(dpkg-query -W -f='$${Version}' libwolfssl-dev 2>/dev/null); \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@
$(WOLFSSL_FLAGS): mk/wolfssl.sh $(WOLFSSL_WANT)
	@sh mk/wolfssl.sh $(WOLFSSL) $(WOLFSSL_DIR)
wolfssl: $(WOLFSSL_FLAGS)
FORCE:

# Every object depends on the wolfSSL choice: its headers (options.h) must match the library.
$(BUILD)/obj/%.o: %.c $(WOLFSSL_FLAGS) $(WOLFSSL_CHOICE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(if $(filter core/% tests/unit/% tests/bench/%,$<),$(PRIVATE_INC)) -MMD -MP -c -o $@ $<

$(LIB): $(call obj,$(CORE_SRC))
	@rm -f $@
	ar rcs $@ $^

# Programs relink when the wolfSSL choice changes (its flags file is a prerequisite).
$(BUILD)/neuronctl: $(call obj,$(CLI_SRC)) $(LIB) $(WOLFSSL_FLAGS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS)

$(BUILD)/neuron-tui: $(call obj,$(TUI_SRC)) $(LIB) $(WOLFSSL_FLAGS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS)

$(BUILD)/neuron-agent: $(call obj,$(AGENT_SRC)) $(LIB) $(WOLFSSL_FLAGS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB) $(WOLFSSL_FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS) $(CMOCKA_LIBS)

# The CLI's command tree (its dispatcher and table check) is tested apart from the commands.
$(BUILD)/tests/test_cli: $(BUILD)/obj/tests/unit/test_cli.o $(call obj,cli/tree.c cli/output.c) $(LIB) $(WOLFSSL_FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS) $(CMOCKA_LIBS)

# One sysroot per machine description, rebuilt when it or the generator changes.
$(BUILD)/sysroots/%/.stamp: tests/fixtures/machines/%.yaml tests/fixtures/gen-sysroot.py
	@$(PYTHON) tests/fixtures/gen-sysroot.py $< $(BUILD)/sysroots/$*
	@touch $@
sysroots: $(SYSROOTS)

# The suite: every unit binary, then every tests/<suite>/run.sh, counted by tests/run-all.sh.
check: all $(UNIT_BINS) $(SYSROOTS)
	@BUILD=$(abspath $(BUILD)) sh tests/run-all.sh $(UNIT_BINS)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory -j$(JOBS) check
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory test-vm

asan:
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build-asan OPTFLAGS="-O1 -g" \
		SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		NEURON_ASAN=1 check

# The VM lane: a real kernel with an emulated IOMMU under QEMU, real libvirt (tests/vm/lane.sh).
# Not a tests/*/run.sh suite, so it runs once, not again under ASan.
test-vm: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(abspath $(BUILD)) sh tests/vm/lane.sh $(VM)

run: deps
	@$(MAKE) --no-print-directory all $(BUILD)/sysroots/demo/.stamp
	@if [ -x $(BUILD)/neuron-tui ]; then $(BUILD)/neuron-tui --demo; \
	else $(BUILD)/neuronctl --sysroot $(BUILD)/sysroots/demo scan; fi

# Benchmark programs: built like the tools they measure (same flags, same wolfSSL).
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB) $(WOLFSSL_FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS)

bench: deps all $(BUILD)/bench/agent_bench $(BUILD)/sysroots/intel-nvidia/.stamp
	@sh mk/deps.sh mk/packages/extra/bench.txt
	@BUILD=$(abspath $(BUILD)) PYTHON=$(PYTHON) sh tests/bench/bench.sh

# PNGs of the TUI from real runs (tmux -> aha -> headless Chromium) into screenshots/.
screenshots: deps
	@sh mk/deps.sh mk/packages/extra/screenshots.txt
	@$(MAKE) --no-print-directory all $(BUILD)/sysroots/demo/.stamp
	@BUILD=$(abspath $(BUILD)) sh tests/tui/screenshots.sh screenshots

clean:
	rm -rf build build-asan

# also the assembly-enabled wolfSSL of mk/wolfssl.sh (rebuilt on the next make, about a minute)
distclean: clean
	rm -rf .deps

include mk/install.mk
include mk/win.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
