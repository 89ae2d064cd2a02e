/* Device names as lspci shows them, looked up when a front end first asks for one.
 *
 * pci.ids: libpci reads the whole file into a hash at the first name (about 25 million
 * instructions, most of a short command's time). Here one pass notes where each vendor's and
 * each class's block starts (a line in 17 is a top-level entry), and a lookup reads the one
 * block it needs, with libpci's own reading of a line: the same names, in a fraction of the time.
 * A command that prints no name never opens the file.
 *
 * udev's hwdb: on the live system (sysroot /), an id pci.ids does not know is asked of the
 * hwdb through libpci (PCI_LOOKUP_SKIP_LOCAL: without loading pci.ids again), like lspci
 * does; it names devices newer than the distribution's pci.ids. A fake sysroot never asks
 * the host's hwdb, so its names come from pci.ids alone and stay repeatable. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pci/pci.h>
#include <zlib.h>

#include "base/internal.h"
#include "scan/scan_internal.h"

struct nr_pci_label {
	struct nr_pci_names *db;
	bool done, vendor_known, device_known;
	char *vendor_name, *device_name, *class_name, *name;
};

/* A top-level entry of pci.ids: its id, its name's line, and its block of nested lines,
 * whose first level (devices, subclasses) is indexed when first looked up in. */
struct ids_entry {
	unsigned id;
	size_t line, body, end;     /* offsets in the text */
	struct ids_entry *subs;     /* the nesting level 1 entries (.line: the name; no block) */
	size_t n_subs;
	bool indexed;
};

struct nr_pci_names {
	pthread_mutex_t lock;
	char *ids_path;             /* the pci.ids parameter; NULL: libpci's default */
	bool use_hwdb;
	bool loaded;                /* pci.ids was looked for (found or not) */
	char *text;                 /* pci.ids: mapped, or inflated when compressed */
	size_t len;
	bool mapped;
	struct ids_entry *vendors, *classes;
	size_t n_vendors, n_classes;
	struct pci_access *pa;      /* libpci: the default path and the hwdb; NULL until needed */
	bool pa_failed;
	struct nr_pci_label *labels;
	size_t n_labels;
};

/* libpci's error hook must not return: jump back to the caller. */
static __thread jmp_buf *pci_jump;

static void __attribute__((noreturn)) pci_error_hook(char *msg, ...)
{
	(void)msg;
	if (pci_jump)
		longjmp(*pci_jump, 1);
	abort(); /* unreachable: every libpci call below runs under a jump buffer */
}

static void pci_quiet_hook(char *msg, ...)
{
	(void)msg;
}

/* The libpci handle for the default path and hwdb lookups (not for reading devices:
 * pci.c does that). NULL when libpci failed. */
static struct pci_access *names_pa(struct nr_pci_names *db)
{
	struct pci_access *volatile pa = NULL;
	jmp_buf jb;

	if (db->pa || db->pa_failed)
		return db->pa;
	pci_jump = &jb;
	if (setjmp(jb)) {
		pci_jump = NULL;
		db->pa_failed = true;
		return NULL; /* libpci's allocation failed: leak the half-made handle, never free it twice */
	}
	pa = pci_alloc();
	pa->error = pci_error_hook;
	pa->warning = pci_quiet_hook;
	pa->debug = pci_quiet_hook;
	pa->id_lookup_mode = 0;     /* no ~/.pciids-cache, no network */
	pci_jump = NULL;
	db->pa = pa;
	return pa;
}

/* n hex digits at p (libpci's id_hex), -1 when they are not. */
static long id_hex(const char *p, const char *end, int n)
{
	long v = 0;

	if (end - p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		int d = nr_hex_digit(p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static bool white(char c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line at p as libpci reads it: before '\n' or '\r', less one trailing
 * blank. *next: the start of the next line. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p)), *e;

	if (!nl)
		nl = end;
	*next = nl < end ? nl + 1 : end;
	e = memchr(p, '\r', (size_t)(nl - p));
	if (!e)
		e = nl;
	if (e > p && white(e[-1]))
		e--;
	return e;
}

/* The name after an id ending at p (the blank after it included), or NULL when empty. */
static const char *entry_name(const char *p, const char *e, size_t *len)
{
	while (p < e && white(*p))
		p++;
	*len = (size_t)(e - p);
	return *len ? p : NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct ids_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line; /* the first in the file wins */
}

/* Sort by id, and drop later duplicates (libpci stops at a duplicate: the first one stands). */
static size_t entries_sort(struct ids_entry *v, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	for (k = 1; k < n && v[k - 1].id < v[k].id; k++)
		;
	if (k == n)
		return n;   /* pci.ids keeps its entries in order: nothing to sort or drop */
	k = 0;
	qsort(v, n, sizeof(*v), entry_cmp);
	for (size_t i = 1; i < n; i++)
		if (v[i].id != v[k].id)
			v[++k] = v[i];
	return k + 1;
}

static int entries_add(struct ids_entry **v, size_t *n, size_t *cap, unsigned id, size_t line, size_t body)
{
	if (*n == *cap) {
		struct ids_entry *p = realloc(*v, (*cap = *cap ? *cap * 2 : 256) * sizeof(*p));
		if (!p)
			return -1;
		*v = p;
	}
	(*v)[(*n)++] = (struct ids_entry){ .id = id, .line = line, .body = body, .end = body, .subs = NULL };
	return 0;
}

/* One pass over the text: where each vendor's and class's block is. */
static int ids_index(struct nr_pci_names *db)
{
	const char *t = db->text, *end = t + db->len, *p, *next;
	size_t cap_v = 0, cap_c = 0;
	struct ids_entry *open = NULL;  /* the entry whose block the lines now belong to */
	bool open_is_vendor = false;

	for (p = t; p < end; p = next) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
		long id;
		next = nl ? nl + 1 : end;
		if (*p == '\t' || *p == '#' || *p == '\n' || *p == '\r')
			continue;   /* nested, comment or empty: none ends a block */
		if (*p == ' ') {
			for (q = p; q < next && white(*q); q++)
				;
			if (q == next || *q == '\n' || *q == '\r' || *q == '#')
				continue;
			break;      /* libpci's "Parse error": it stops reading here */
		}
		if (open)
			open->end = (size_t)(p - t);
		open = NULL;
		if (p[0] == 'C' && next - p > 1 && p[1] == ' ') {
			id = id_hex(p + 2, end, 2);
			if (id < 0 || next - p < 5 || !white(p[4]))
				break;
			if (entries_add(&db->classes, &db->n_classes, &cap_c, (unsigned)id,
					(size_t)(p + 5 - t), (size_t)(next - t)) < 0)
				return -1;
			open_is_vendor = false;
		} else if (p[0] >= 'A' && p[0] <= 'Z' && next - p > 1 && p[1] == ' ') {
			continue;   /* a generic subsystem or unknown block: nothing we look up */
		} else {
			id = id_hex(p, end, 4);
			if (id < 0 || next - p < 5 || !white(p[4]))
				break;
			if (entries_add(&db->vendors, &db->n_vendors, &cap_v, (unsigned)id,
					(size_t)(p + 5 - t), (size_t)(next - t)) < 0)
				return -1;
			open_is_vendor = true;
		}
		open = open_is_vendor ? &db->vendors[db->n_vendors - 1] : &db->classes[db->n_classes - 1];
	}
	if (open)
		open->end = (size_t)(p - t);
	db->n_vendors = entries_sort(db->vendors, db->n_vendors);
	db->n_classes = entries_sort(db->classes, db->n_classes);
	return 0;
}

/* Inflate a gzip'd pci.ids (libpci reads pci.ids.gz the same way). */
static int read_gz(int fd, char **out, size_t *len)
{
	gzFile gz = gzdopen(fd, "rb");
	struct nr_buf b;
	char chunk[65536];
	int n;

	if (!gz) {
		close(fd);
		return -1;
	}
	nr_buf_init(&b);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0 && !b.oom)
		nr_buf_append(&b, chunk, (size_t)n);
	gzclose(gz);
	if (n != 0 || b.oom || !b.data) {
		nr_buf_done(&b);
		return -1;
	}
	*len = b.len;
	*out = b.data;
	return 0;
}

/* Open the file libpci would: the path, else the path less ".gz". */
static int open_ids(const char *path)
{
	size_t n = strlen(path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && n > 3 && strcmp(path + n - 3, ".gz") == 0) {
		char *plain = strndup(path, n - 3);
		if (plain) {
			fd = open(plain, O_RDONLY | O_CLOEXEC);
			free(plain);
		}
	}
	return fd;
}

static void ids_load(struct nr_pci_names *db)
{
	const char *path = db->ids_path;
	struct pci_access *pa;
	unsigned char magic[2];
	struct stat st;
	int fd;

	db->loaded = true;
	if (!path) {
		pa = names_pa(db);
		if (!pa || !pa->id_file_name)
			return;
		path = pa->id_file_name;
	}
	fd = open_ids(path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return;
	}
	if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		if (read_gz(fd, &db->text, &db->len) < 0)
			db->text = NULL;
	} else {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return;
		db->text = m;
		db->len = (size_t)st.st_size;
		db->mapped = true;
	}
	if (db->text && ids_index(db) < 0) {
		free(db->vendors);
		free(db->classes);
		db->vendors = db->classes = NULL;
		db->n_vendors = db->n_classes = 0;
	}
}

static struct ids_entry *entry_find(struct ids_entry *v, size_t n, unsigned id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid].id == id)
			return &v[mid];
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A top-level entry's name (vendor or class) into buf; false when pci.ids lacks it. */
static bool top_name(struct nr_pci_names *db, bool vendor, unsigned id, char *buf, size_t size)
{
	const struct ids_entry *e = vendor ? entry_find(db->vendors, db->n_vendors, id)
					   : entry_find(db->classes, db->n_classes, id);
	const char *next, *le, *name;
	size_t len;

	if (!e)
		return false;
	le = line_end(db->text + e->line, db->text + db->len, &next);
	name = entry_name(db->text + e->line, le, &len);
	if (!name)
		return false;
	snprintf(buf, size, "%.*s", (int)len, name);
	return true;
}

/* Index a block's first nesting level (a vendor's devices, width 4, or a class's
 * subclasses, width 2): one pass, once. */
static void block_index(const struct nr_pci_names *db, struct ids_entry *e, int width)
{
	const char *p, *end = db->text + e->end, *next;
	size_t cap = 0;

	e->indexed = true;
	for (p = db->text + e->body; p < end; p = next) {
		const char *le = line_end(p, end, &next);
		long id;
		if (p[0] != '\t' || le - p < width + 2 || p[1] == '\t' || !white(p[1 + width]))
			continue;   /* not nesting level 1: comments, subsystems, prog-ifs */
		id = id_hex(p + 1, le, width);
		if (id < 0)
			continue;
		if (entries_add(&e->subs, &e->n_subs, &cap, (unsigned)id, (size_t)(p + 2 + width - db->text), 0) < 0) {
			free(e->subs);
			e->subs = NULL;
			e->n_subs = 0;
			e->indexed = false; /* out of memory: try again next time */
			return;
		}
	}
	e->n_subs = entries_sort(e->subs, e->n_subs);
}

/* A nested entry's name (a vendor's device or a class's subclass). */
static bool nested_name(struct nr_pci_names *db, bool vendor, unsigned id, unsigned sub,
			char *buf, size_t size)
{
	struct ids_entry *e = vendor ? entry_find(db->vendors, db->n_vendors, id)
				     : entry_find(db->classes, db->n_classes, id);
	const struct ids_entry *s;
	const char *next, *le, *name;
	size_t len;

	if (!e)
		return false;
	if (!e->indexed)
		block_index(db, e, vendor ? 4 : 2);
	s = entry_find(e->subs, e->n_subs, sub);
	if (!s)
		return false;
	le = line_end(db->text + s->line, db->text + db->len, &next);
	name = entry_name(db->text + s->line, le, &len);
	if (!name)
		return false;
	snprintf(buf, size, "%.*s", (int)len, name);
	return true;
}

/* An id pci.ids lacks, asked of udev's hwdb through libpci; false when it has none. */
static bool hwdb_name(struct nr_pci_names *db, int flags, char *buf, size_t size, int a, int b)
{
	struct pci_access *pa;
	jmp_buf jb;
	char *volatile r = NULL;

	if (!db->use_hwdb || !(pa = names_pa(db)))
		return false;
	pci_jump = &jb;
	if (setjmp(jb) == 0)
		r = pci_lookup_name(pa, buf, (int)size, flags | PCI_LOOKUP_SKIP_LOCAL | PCI_LOOKUP_NO_NUMBERS, a, b);
	pci_jump = NULL;
	return r != NULL && r[0] != '<';    /* "<pci_lookup_name: ...>": libpci's own failure */
}

/* The class's name as libpci gives it: its subclass's, else the class's own, else "Class 0300".
 * Each from pci.ids first, then the hwdb. */
static void class_name(struct nr_pci_names *db, unsigned cls, char *buf, size_t size)
{
	char hw[256], suffix[16];
	size_t lh, ls;

	if (nested_name(db, false, cls >> 8, cls & 0xff, buf, size))
		return;
	/* libpci's class lookup in the hwdb: the subclass, else "Class name [0300]" */
	if (hwdb_name(db, PCI_LOOKUP_CLASS, hw, sizeof(hw), (int)cls, 0)) {
		snprintf(suffix, sizeof(suffix), " [%04x]", cls);
		lh = strlen(hw);
		ls = strlen(suffix);
		if (lh <= ls || strcmp(hw + lh - ls, suffix) != 0) {
			snprintf(buf, size, "%s", hw);
			return;
		}
		hw[lh - ls] = '\0';
		if (!top_name(db, false, cls >> 8, buf, size))
			snprintf(buf, size, "%s", hw);
		return;
	}
	if (top_name(db, false, cls >> 8, buf, size))
		return;
	snprintf(buf, size, "Class %04x", cls);
}

static void label_clear(struct nr_pci_label *l)
{
	free(l->vendor_name);
	free(l->device_name);
	free(l->class_name);
	free(l->name);
	l->vendor_name = l->device_name = l->class_name = l->name = NULL;
}

static void label_fill(struct nr_pci_names *db, struct nr_pci_label *l, const struct nr_pci_dev *d)
{
	char v[256], dv[256], c[256];

	if (!db->loaded)
		ids_load(db);
	l->vendor_known = top_name(db, true, d->vendor, v, sizeof(v)) ||
			  hwdb_name(db, PCI_LOOKUP_VENDOR, v, sizeof(v), d->vendor, 0);
	l->device_known = nested_name(db, true, d->vendor, d->device, dv, sizeof(dv)) ||
			  hwdb_name(db, PCI_LOOKUP_DEVICE, dv, sizeof(dv), d->vendor, d->device);
	if (!l->vendor_known)
		snprintf(v, sizeof(v), "Vendor %04x", d->vendor);
	if (!l->device_known)
		snprintf(dv, sizeof(dv), "Device %04x", d->device);
	class_name(db, d->class_id, c, sizeof(c));
	l->vendor_name = strdup(v);
	l->device_name = strdup(dv);
	l->class_name = strdup(c);
	if (asprintf(&l->name, "%s %s", v, dv) < 0)
		l->name = NULL;
	if (!l->vendor_name || !l->device_name || !l->class_name || !l->name)
		label_clear(l);     /* out of memory: "?" this time, another try next time */
	else
		l->done = true;
}

/* The device's names, looked up now if they were not; NULL for a device no scan read
 * (or out of memory). */
static const struct nr_pci_label *label(const struct nr_pci_dev *d)
{
	struct nr_pci_label *l = d->label;
	bool done;

	if (!l)
		return NULL;
	pthread_mutex_lock(&l->db->lock);
	if (!l->done)
		label_fill(l->db, l, d);
	done = l->done;
	pthread_mutex_unlock(&l->db->lock);
	return done ? l : NULL;
}

const char *nr_pci_name(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l ? l->name : "?";
}

const char *nr_pci_vendor_name(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l ? l->vendor_name : "?";
}

const char *nr_pci_device_name(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l ? l->device_name : "?";
}

const char *nr_pci_class_name(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l ? l->class_name : "?";
}

bool nr_pci_vendor_known(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l && l->vendor_known;
}

bool nr_pci_device_known(const struct nr_pci_dev *d)
{
	const struct nr_pci_label *l = label(d);
	return l && l->device_known;
}

int nr_pci_names_new(const struct nr_ctx *ctx, struct nr_pci_dev *devs, size_t n, struct nr_pci_names **out)
{
	const char *ids = nr_ctx_get(ctx, "pci.ids"), *sysroot = nr_ctx_get(ctx, "sysroot");
	struct nr_pci_names *db = calloc(1, sizeof(*db));

	*out = NULL;
	if (!db)
		return -NR_E_NOMEM;
	db->labels = calloc(n ? n : 1, sizeof(*db->labels));
	db->ids_path = ids && ids[0] ? strdup(ids) : NULL;
	if (!db->labels || (ids && ids[0] && !db->ids_path)) {
		free(db->labels);
		free(db);
		return -NR_E_NOMEM;
	}
	pthread_mutex_init(&db->lock, NULL);
	db->use_hwdb = sysroot && strcmp(sysroot, "/") == 0;
	db->n_labels = n;
	for (size_t i = 0; i < n; i++) {
		db->labels[i].db = db;
		devs[i].label = &db->labels[i];
	}
	*out = db;
	return 0;
}

void nr_pci_names_free(struct nr_pci_names *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_labels; i++)
		label_clear(&db->labels[i]);
	free(db->labels);
	if (db->mapped)
		munmap(db->text, db->len);
	else
		free(db->text);
	for (size_t i = 0; i < db->n_vendors; i++)
		free(db->vendors[i].subs);
	for (size_t i = 0; i < db->n_classes; i++)
		free(db->classes[i].subs);
	free(db->vendors);
	free(db->classes);
	free(db->ids_path);
	if (db->pa) {
		jmp_buf jb;
		pci_jump = &jb;
		if (setjmp(jb) == 0)
			pci_cleanup(db->pa);
		pci_jump = NULL;
	}
	pthread_mutex_destroy(&db->lock);
	free(db);
}
