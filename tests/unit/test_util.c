/* Small core helpers: command-line parsing, sanitising, errors, addresses, the LG size rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "base/internal.h"
#include "neuron/ctx.h"
#include "neuron/error.h"
#include "neuron/host.h"
#include "neuron/lg.h"
#include "neuron/pci.h"
#include "neuron/util.h"

static void test_cmdline(void **state)
{
	const char *cl = "BOOT_IMAGE=/vmlinuz root=UUID=x rw quiet intel_iommu=on "
			 "acpi_osi=\"Windows 2015\" vfio-pci.ids=10de:1b80,10de:10f0 intel_iommu=off";
	char *v;

	v = nr_cmdline_get(cl, "intel_iommu"); /* the last one wins, as in the kernel */
	assert_string_equal(v, "off");
	free(v);
	v = nr_cmdline_get(cl, "acpi_osi");
	assert_string_equal(v, "Windows 2015");
	free(v);
	v = nr_cmdline_get(cl, "vfio_pci.ids"); /* '-' and '_' are the same to the kernel */
	assert_string_equal(v, "10de:1b80,10de:10f0");
	free(v);
	v = nr_cmdline_get(cl, "quiet");
	assert_string_equal(v, "");
	free(v);
	assert_null(nr_cmdline_get(cl, "iommu"));
	assert_false(nr_cmdline_has(cl, "Windows"));
	assert_true(nr_cmdline_has(cl, "rw"));
}

static void test_sanitize(void **state)
{
	char out[64];

	nr_text_sanitize(out, sizeof(out), "VM\x1b[2Jname\n\x7f", false);
	assert_string_equal(out, "VM?[2Jname??");
	nr_text_sanitize(out, sizeof(out), "caf\xc3\xa9 \xff \xc2\x9b", false);
	assert_string_equal(out, "caf\xc3\xa9 ? ?");
	nr_text_sanitize(out, sizeof(out), "caf\xc3\xa9", true);
	assert_string_equal(out, "caf?");
	/* never cut a UTF-8 sequence */
	nr_text_sanitize(out, 5, "abc\xc3\xa9", false);
	assert_string_equal(out, "abc");
	nr_text_sanitize(out, sizeof(out), NULL, false);
	assert_string_equal(out, "");
}

static void test_errors(void **state)
{
	struct nr_error err = { 0 };

	assert_string_equal(nr_strerror(-NR_E_NOIOMMU), "IOMMU is off");
	assert_string_equal(nr_errname(-NR_E_IO), "IO");
	assert_string_equal(nr_strerror(0), "success");
	assert_string_equal(nr_strerror(-5), "unknown error");
	assert_int_equal(nr_error_set(&err, -NR_E_PARSE, "line %d", 3), -NR_E_PARSE);
	nr_error_prefix(&err, "%s: ", "win11.yaml");
	assert_string_equal(err.msg, "win11.yaml: line 3");
	assert_int_equal(nr_error_set(NULL, -NR_E_IO, "x"), -NR_E_IO);
}

static void test_addr(void **state)
{
	char a[NR_ADDR_LEN];

	assert_int_equal(nr_pci_parse_addr("01:00.0", a), 0);
	assert_string_equal(a, "0000:01:00.0");
	assert_int_equal(nr_pci_parse_addr("0000:0C:00.1", a), 0);
	assert_string_equal(a, "0000:0c:00.1");
	assert_int_equal(nr_pci_parse_addr("01:00.8", a), -NR_E_INVAL);
	assert_int_equal(nr_pci_parse_addr("01:20.0", a), -NR_E_INVAL);
	assert_int_equal(nr_pci_parse_addr("01:00.0x", a), -NR_E_INVAL);
	assert_int_equal(nr_pci_parse_addr("", a), -NR_E_INVAL);
}

static void test_ctx(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };
	char *p;

	assert_string_equal(nr_ctx_get(ctx, "sysroot"), "/");
	assert_string_equal(nr_ctx_get(ctx, "connect"), "qemu:///system");
	p = nr_ctx_sys_path(ctx, "sys/bus/pci");
	assert_string_equal(p, "/sys/bus/pci");
	free(p);
	nr_ctx_set(ctx, "sysroot", "/tmp/x/", &err);
	p = nr_ctx_sys_path(ctx, "/proc/cmdline");
	assert_string_equal(p, "/tmp/x/proc/cmdline");
	free(p);
	assert_int_equal(nr_ctx_set(ctx, "nonsense", "1", &err), -NR_E_INVAL);
	assert_null(nr_ctx_get(ctx, "nonsense"));
	nr_ctx_free(ctx);
	nr_ctx_free(NULL);
}

/* The global options both front ends take: one table, one function. */
static void test_ctx_options(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	struct nr_error err = { 0 };

	assert_int_equal(nr_ctx_set_option(ctx, "root", "/mnt", &err), 0);
	assert_string_equal(nr_ctx_get(ctx, "root"), "/mnt");
	assert_int_equal(nr_ctx_set_option(ctx, "param", "lg.client=/opt/lg=x", &err), 0);
	assert_string_equal(nr_ctx_get(ctx, "lg.client"), "/opt/lg=x");
	assert_int_equal(nr_ctx_set_option(ctx, "param", "state_dir=", &err), 0);
	assert_string_equal(nr_ctx_get(ctx, "state_dir"), "");
	assert_int_equal(nr_ctx_set_option(ctx, "param", "nonsense=1", &err), -NR_E_USAGE);
	assert_int_equal(err.code, -NR_E_USAGE);
	assert_string_equal(err.msg, "unknown parameter 'nonsense'");
	assert_int_equal(nr_ctx_set_option(ctx, "param", "root", &err), -NR_E_USAGE);
	assert_non_null(strstr(err.msg, "NAME=VALUE"));
	assert_int_equal(nr_ctx_set_option(ctx, "param", "=x", &err), -NR_E_USAGE);
	/* an option that is not a global one, even when a parameter has its name */
	assert_int_equal(nr_ctx_set_option(ctx, "state_dir", "/x", &err), -NR_E_USAGE);
	assert_string_equal(nr_ctx_get(ctx, "root"), "/mnt");
	nr_ctx_free(ctx);
}

/* The string list: copies or takes its items, stays NULL-terminated, unchanged on failure. */
static void test_strv(void **state)
{
	char **v = NULL;
	size_t n = 0;

	assert_int_equal(nr_strv_add(&v, &n, "a"), 0);
	assert_int_equal(nr_strv_take(&v, &n, strdup("b")), 0);
	assert_int_equal(nr_strv_add_unique(&v, &n, "a"), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b");
	assert_null(v[2]);
	assert_int_equal(nr_strv_take(&v, &n, NULL), -NR_E_NOMEM);   /* a failed strdup */
	assert_int_equal(n, 2);
	assert_null(v[2]);
	nr_strv_free_null(v);
	nr_strv_free(NULL, 0);
	nr_strv_free_null(NULL);
}

/* The one runtime-directory rule: the parameter, else $XDG_RUNTIME_DIR/neuron, else /run/neuron. */
static void test_runtime_dir(void **state)
{
	struct nr_ctx *ctx = nr_ctx_new();
	char *d;

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	d = nr_ctx_runtime_dir(ctx);
	assert_string_equal(d, "/run/user/1000/neuron");
	free(d);
	setenv("XDG_RUNTIME_DIR", "relative", 1);        /* not a path: ignored */
	d = nr_ctx_runtime_dir(ctx);
	assert_string_equal(d, "/run/neuron");
	free(d);
	unsetenv("XDG_RUNTIME_DIR");
	d = nr_ctx_runtime_dir(ctx);
	assert_string_equal(d, "/run/neuron");
	free(d);
	nr_ctx_set(ctx, "runtime_dir", "/tmp/rt", NULL);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	d = nr_ctx_runtime_dir(ctx);
	assert_string_equal(d, "/tmp/rt");
	free(d);
	nr_ctx_free(ctx);
}

/* mkdir -p: every missing level with its mode, existing ones kept, a file in the way named. */
static void test_mkdir_p(void **state)
{
	char dir[] = "/tmp/neuron-util-XXXXXX", path[256];
	struct nr_error err = { 0 };
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(nr_mkdir_p(path, 0700, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(nr_mkdir_p(path, 0700, &err), 0);      /* already there */
	snprintf(path, sizeof(path), "%s/a/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/a/file/d", dir);
	assert_int_equal(nr_mkdir_p(path, 0755, &err), -NR_E_IO);
	assert_non_null(strstr(err.msg, "/a/file/d"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void test_lg_size(void **state)
{
	unsigned w, h;

	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 1920, 1080, false), 32);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 2560, 1440, false), 64);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 3840, 2160, false), 128);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 1920, 1080, true), 64);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 3840, 2160, true), 256);
	assert_int_equal(nr_lg_shm_size_mib(NR_LG_STACK_B7, 0, 1080, false), 0);
	assert_int_equal(nr_lg_parse_resolution("2560x1440", &w, &h), 0);
	assert_int_equal(w, 2560);
	assert_int_equal(nr_lg_parse_resolution("4K", &w, &h), 0);
	assert_int_equal(h, 2160);
	assert_int_equal(nr_lg_parse_resolution("1920x", &w, &h), -NR_E_INVAL);
	assert_int_equal(nr_lg_parse_resolution("99999x1", &w, &h), -NR_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_ctx),
		cmocka_unit_test(test_ctx_options),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_runtime_dir),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_lg_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
