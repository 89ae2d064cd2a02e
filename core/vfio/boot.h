/* Text edits of boot configuration files, each pure (text in, text out) and keeping
 * every byte it does not need to change. Private to core/ (and its unit tests). */
#ifndef NEURON_BOOT_H
#define NEURON_BOOT_H

#include <stdbool.h>
#include <stddef.h>

/* True when the kernel command line already satisfies param ("intel_iommu=on" is
 * satisfied by "intel_iommu=on,igfx_off"; the last occurrence wins, as in the kernel). */
bool nr_boot_param_satisfied(const char *cmdline, const char *param);
/* The params of want[] (NULL-terminated) that cmdline lacks, space-joined ("" when
 * none). malloc'd, NULL on OOM. */
char *nr_boot_missing_params(const char *cmdline, const char *const *want);

/* /etc/default/grub: the effective GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT
 * (shell quoting and $GRUB_CMDLINE_LINUX_DEFAULT self-references evaluated), joined. */
char *nr_grub_cmdline(const char *text);
/* Add the missing params to the last GRUB_CMDLINE_LINUX_DEFAULT assignment, inside its
 * final quotes (or a new quoted segment). A new assignment when there is none. */
char *nr_grub_add_params(const char *text, const char *const *want);
/* The same for one file of several that grub-mkconfig sources in turn (/etc/default/grub,
 * then /etc/default/grub.d/\*.cfg): before and after are the files around it. The
 * effective values come from all of them; the edit goes to text's last assignment, or a
 * new "$GRUB_CMDLINE_LINUX_DEFAULT ..." one at its end. */
char *nr_grub_add_params_in(const char *before, const char *text, const char *after,
			    const char *const *want);

/* True when text assigns GRUB_CMDLINE_LINUX_DEFAULT. */
bool nr_grub_assigns_default(const char *text);

/* A systemd-boot entry: every "options" line joined. */
char *nr_sdboot_cmdline(const char *text);
/* Append the missing params to the last options line (or add one). */
char *nr_sdboot_add_params(const char *text, const char *const *want);
/* True when the entry boots a Linux kernel ("linux" key). */
bool nr_sdboot_is_linux(const char *text);

/* /etc/kernel/cmdline: the whole file is the command line. */
char *nr_kernel_cmdline_add_params(const char *text, const char *const *want);

/* mkinitcpio.conf (bash): the items of the last NAME=(...) or NAME="..." assignment. */
char **nr_mkinitcpio_array(const char *text, const char *name, size_t *n);
/* Put the missing items first in the array NAME (a new NAME=(...) line when absent).
 * For MODULES, "vfio-pci" and "vfio_pci" are the same module. */
char *nr_mkinitcpio_prepend(const char *text, const char *name, const char *const *items);

/* /etc/initramfs-tools/modules: append the missing modules, one a line. */
char *nr_initramfs_tools_add_modules(const char *text, const char *const *modules);

/* How a file quotes: a shell script (/etc/default/grub, mkinitcpio.conf: '' and "" with
 * backslashes, NAME=(...) arrays), a kernel command line (/etc/kernel/cmdline: "" only),
 * a systemd-boot entry (each "options" line a kernel command line). */
enum nr_syntax { NR_SYNTAX_SHELL, NR_SYNTAX_CMDLINE, NR_SYNTAX_SDBOOT };
/* 0 when text's quotes (and parentheses) balance; else -1 with the 1-based line where the
 * unbalanced one opens (or the stray one is), and what it is, in words. An edit of an
 * unbalanced file would put the parameters inside the open quote. */
int nr_boot_balance(const char *text, enum nr_syntax syntax, size_t *line, char *what, size_t size);

/* "6.1.0-13-amd64" -> 601 (major * 100 + minor); -1 when it does not parse. */
int nr_kernel_version_code(const char *release);

#endif
