# The Windows guest agent (issue 15), when mingw-w64 is installed (make deps:
# mk/packages/win.txt): build/win/neuron-agent.exe (the service, and --console),
# build/win/neuron-session.exe (the helper in the user's session) and
# build/win/neuron-agent.msi (wixl). Linked statically against wolfSSL and json-c
# cross-built from Debian's source packages into .deps/win (mk/wincross.sh, once).
# Authenticode: make SIGN_CERT=cert.pem SIGN_KEY=key.pem signs both programs and the MSI
# with osslsigncode; without them they are unsigned (README: "The Windows agent").
WIN_CC    ?= x86_64-w64-mingw32-gcc
WIN_HAVE  := $(shell command -v $(WIN_CC) >/dev/null 2>&1 && command -v wixl >/dev/null 2>&1 && echo yes)
WIN_DEPS  := .deps/win
WIN_FLAGS := $(WIN_DEPS)/flags
WIN_OUT   := $(BUILD)/win
WIN_VERSION := $(shell sed -n 's/^\#define AGENT_VERSION "\(.*\)"/\1/p' agent/main.c)
# agent/main.c and the core files it pulls in (tests/port/run.sh names the same set)
WIN_PORTABLE := agent/main.c agent/platform_memory.c agent/platform_common.c core/guest/tls.c core/guest/agent_proto.c \
	core/base/util.c core/base/error.c
WIN_AGENT_SRC  := $(WIN_PORTABLE) agent/win/service.c agent/win/system.c agent/win/desktop.c agent/win/apps.c \
	agent/win/session.c agent/win/ipc.c agent/win/shares.c
WIN_HELPER_SRC := agent/win/helper.c agent/win/desktop.c agent/win/apps.c agent/win/shares.c agent/win/ipc.c agent/platform_common.c core/base/util.c
WIN_CFLAGS = -std=gnu11 -O2 -g $(WARN) -Wno-missing-prototypes -Wno-format -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00 \
	-DWINVER=0x0A00 -Icore/include -Icore $(shell sed -n 1p $(WIN_FLAGS) 2>/dev/null)
WIN_LIBS = $(shell sed -n 2p $(WIN_FLAGS) 2>/dev/null) -lwtsapi32 -luserenv -lwindowscodecs -lole32 -luuid \
	-lshell32 -lversion -ldwmapi -luser32 -lgdi32 -ladvapi32 -lcrypt32 -lws2_32 -lbcrypt -lpthread
winobj = $(1:%.c=$(WIN_OUT)/obj/%.o)
WIN_PROGRAMS := $(WIN_OUT)/neuron-agent.exe $(WIN_OUT)/neuron-session.exe
# tests/win's probe: the helper's own apps and shares code called in-process (not shipped)
WIN_PROBE_SRC := tests/win/probe.c $(filter-out agent/win/helper.c,$(WIN_HELPER_SRC))

.PHONY: win
ifeq ($(WIN_HAVE),yes)
all: win
endif
win: $(WIN_OUT)/neuron-agent.msi $(WIN_OUT)/tests/probe.exe

$(WIN_FLAGS): mk/wincross.sh mk/debsrc.sh $(WOLFSSL_WANT)
	@sh mk/wincross.sh $(WIN_DEPS)

# GCC checks formats against msvcrt here, not the C99 printf of __USE_MINGW_ANSI_STDIO=1
# (%zu, %lld): the host build checks them.
# main.c's main becomes agent_main: service.c's main runs it as a service or --console
$(WIN_OUT)/obj/%.o: %.c $(WIN_FLAGS)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) $(if $(filter agent/main.c,$<),-Dmain=agent_main) -MMD -MP -c -o $@ $<

# Signed in place when SIGN_CERT and SIGN_KEY are given.
win_sign = $(if $(and $(SIGN_CERT),$(SIGN_KEY)),osslsigncode sign -certs $(SIGN_CERT) -key $(SIGN_KEY) \
	-n "NeuronOS guest agent" -h sha256 -in $(1) -out $(1).signed && mv $(1).signed $(1))

$(WIN_OUT)/neuron-agent.exe: $(call winobj,$(WIN_AGENT_SRC)) $(WIN_FLAGS)
	$(WIN_CC) -static -o $@ $(filter %.o,$^) $(WIN_LIBS)
	$(call win_sign,$@)

$(WIN_OUT)/neuron-session.exe: $(call winobj,$(WIN_HELPER_SRC)) $(WIN_FLAGS)
	$(WIN_CC) -static -municode -mwindows -o $@ $(filter %.o,$^) $(WIN_LIBS)
	$(call win_sign,$@)

$(WIN_OUT)/tests/probe.exe: $(call winobj,$(WIN_PROBE_SRC)) $(WIN_FLAGS)
	@mkdir -p $(dir $@)
	$(WIN_CC) -static -o $@ $(filter %.o,$^) $(WIN_LIBS)

# wixl takes the files' Source paths relative to where it runs (an absolute one fails)
$(WIN_OUT)/neuron-agent.msi: agent/win/neuron-agent.wxs $(WIN_PROGRAMS)
	cd $(WIN_OUT) && wixl -a x64 -D BinDir=. -D Version=$(WIN_VERSION) -o neuron-agent.msi.tmp $(abspath $<)
	@mv $@.tmp $@
	$(call win_sign,$@)

-include $(shell find $(WIN_OUT)/obj -name '*.d' 2>/dev/null)
