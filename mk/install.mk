# make install / make uninstall, included by the Makefile.
#
#   make install PREFIX=/usr DESTDIR=/tmp/pkg
#
# PREFIX (default /usr/local), DESTDIR (staging root, default empty), BINDIR, DATADIR,
# MANDIR, SYSCONFDIR, and the directories below can each be set on the command line.
# What goes where (with PREFIX=/usr):
#   /usr/bin/neuronctl, neuron-tui, neuron-agent      the programs that were built
#   /usr/share/neuron/templates/*.xml                 libvirt domain XML templates
#   /usr/share/neuron/profiles/*.yaml                 example VM profiles
#   /usr/share/neuron/demo/                           the demo machine (a generated sysroot)
#   /usr/share/neuron/examples/                       snippets to copy and edit (vfio ids,
#                                                     the Looking Glass user): never active
#   /usr/share/neuron/guest/                          what each VM's guest-tools media carries
#                                                     beside neuron-agent: its systemd user unit,
#                                                     its udev rule, neuron-agent.msi when built
#   /usr/lib/systemd/user/neuron-sync@.service        the clipboard sync of a VM (agent sync),
#                                                     a user unit template (VM = instance)
#   /usr/lib/tmpfiles.d/neuron.conf                   neuron's state and runtime directories
#   /usr/lib/udev/rules.d/70-neuron-kvmfr.rules       /dev/kvmfr* for the kvm group
#   /usr/lib/systemd/system/neuron-gpu-restore.service at boot, finishes the release of an
#                                                     interrupted single-GPU hand-off
#   /usr/share/doc/neuron/                            README.md, PROTOCOL.md and the other docs
#   /usr/share/man/man1, man8                         neuronctl(1), neuron-tui(1), neuron-agent(8)
#   /usr/share/bash-completion/completions/neuronctl  bash completion
#   /etc/neuron/                                      (SYSCONFDIR) an empty directory for the
#                                                     administrator's own profiles

VERSION      := 0.1.0
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
DATADIR      ?= $(PREFIX)/share
MANDIR       ?= $(DATADIR)/man
SYSCONFDIR   ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
LIBDIR_SYS   ?= $(PREFIX)/lib
TMPFILESDIR  ?= $(LIBDIR_SYS)/tmpfiles.d
UDEVRULESDIR ?= $(LIBDIR_SYS)/udev/rules.d
USERUNITDIR  ?= $(LIBDIR_SYS)/systemd/user
UNITDIR      ?= $(LIBDIR_SYS)/systemd/system
BASHCOMPDIR  ?= $(DATADIR)/bash-completion/completions
NEURONDIR    ?= $(DATADIR)/neuron
INSTALL      ?= install

TEMPLATES := $(wildcard templates/*.xml)
PROFILES  := $(wildcard config/profiles/*.yaml)
EXAMPLES  := $(wildcard config/examples/*)
DOCS      := README.md $(wildcard docs/*.md)
DOCDIR    ?= $(DATADIR)/doc/neuron
MAN1      := docs/neuronctl.1 $(if $(TUI_SRC),docs/neuron-tui.1)
MAN8      := $(if $(AGENT_SRC),docs/neuron-agent.8)
GUEST     := $(if $(AGENT_SRC),config/guest/neuron-agent.service config/guest/70-neuron-agent.rules)
GUEST_MSI := $(BUILD)/win/neuron-agent.msi
DEMO      := $(BUILD)/sysroots/demo

.PHONY: install uninstall dist demo
# The demo machine (a generated sysroot), built before install so that install needs no python.
demo: $(DEMO)/.stamp

install: all $(DEMO)/.stamp
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -d $(DESTDIR)$(NEURONDIR)/templates $(DESTDIR)$(NEURONDIR)/profiles \
		$(DESTDIR)$(NEURONDIR)/examples
	$(if $(TEMPLATES),$(INSTALL) -m 0644 $(TEMPLATES) $(DESTDIR)$(NEURONDIR)/templates/)
	$(if $(PROFILES),$(INSTALL) -m 0644 $(PROFILES) $(DESTDIR)$(NEURONDIR)/profiles/)
	$(if $(EXAMPLES),$(INSTALL) -m 0644 $(EXAMPLES) $(DESTDIR)$(NEURONDIR)/examples/)
	rm -rf $(DESTDIR)$(NEURONDIR)/demo
	$(INSTALL) -d $(DESTDIR)$(NEURONDIR)/demo
	cd $(DEMO) && tar cf - --exclude=./.stamp . | (cd $(abspath $(DESTDIR)$(NEURONDIR))/demo && tar xf - --no-same-owner)
	$(if $(GUEST),$(INSTALL) -d $(DESTDIR)$(NEURONDIR)/guest)
	$(if $(GUEST),$(INSTALL) -m 0644 $(GUEST) $(DESTDIR)$(NEURONDIR)/guest/)
	if [ -f $(GUEST_MSI) ]; then $(INSTALL) -D -m 0644 $(GUEST_MSI) $(DESTDIR)$(NEURONDIR)/guest/neuron-agent.msi; fi
	$(INSTALL) -D -m 0644 config/tmpfiles/neuron.conf $(DESTDIR)$(TMPFILESDIR)/neuron.conf
	$(INSTALL) -D -m 0644 config/systemd/neuron-sync@.service $(DESTDIR)$(USERUNITDIR)/neuron-sync@.service
	$(INSTALL) -D -m 0644 config/udev/70-neuron-kvmfr.rules $(DESTDIR)$(UDEVRULESDIR)/70-neuron-kvmfr.rules
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' config/systemd/neuron-gpu-restore.service.in >$(DESTDIR)$(UNITDIR)/neuron-gpu-restore.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/neuron-gpu-restore.service
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(if $(MAN8),$(INSTALL) -d $(DESTDIR)$(MANDIR)/man8)
	$(if $(MAN8),$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	$(INSTALL) -D -m 0644 completion/neuronctl.bash $(DESTDIR)$(BASHCOMPDIR)/neuronctl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/neuron
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/neuronctl $(DESTDIR)$(BINDIR)/neuron-tui $(DESTDIR)$(BINDIR)/neuron-agent
	rm -rf $(DESTDIR)$(NEURONDIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(TMPFILESDIR)/neuron.conf $(DESTDIR)$(UDEVRULESDIR)/70-neuron-kvmfr.rules
	rm -f $(DESTDIR)$(USERUNITDIR)/neuron-sync@.service
	rm -f $(DESTDIR)$(UNITDIR)/neuron-gpu-restore.service
	rm -f $(DESTDIR)$(MANDIR)/man1/neuronctl.1 $(DESTDIR)$(MANDIR)/man1/neuron-tui.1 \
		$(DESTDIR)$(MANDIR)/man8/neuron-agent.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/neuronctl
	rmdir $(DESTDIR)$(SYSCONFDIR)/neuron 2>/dev/null || true

# The source tarball that PKGBUILD builds from: the committed tree (HEAD).
dist:
	git archive --format=tar.gz --prefix=neuron-$(VERSION)/ -o neuron-$(VERSION).tar.gz HEAD
