/* autounattend.xml of a profile with `unattended` (neuron/unattend.h), built with libxml2 so
 * that every value from the profile stays data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/tree.h>

#include "base/internal.h"
#include "neuron/media.h"
#include "neuron/unattend.h"

#define X(s) ((const xmlChar *)(s))
#define UNATTEND_NS "urn:schemas-microsoft-com:unattend"
#define WCM_NS "http://schemas.microsoft.com/WMIConfig/2002/State"

/* One row per Windows version: its template, virtio-win's folder name, the edition the ISO
 * installs by default. */
static const struct windows_version {
	const char *template_name, *virtio_dir, *edition;
} versions[] = {
	{ "windows11", "w11", "Windows 11 Pro" },
	{ "windows10", "w10", "Windows 10 Pro" },
};

/* virtio-win's drivers Windows PE needs: the disk (virtio-blk, virtio-scsi), the network
 * and the serial port the agent talks over (loaded early, so the first logon has it). */
static const char *const pe_drivers[] = { "viostor", "vioscsi", "NetKVM", "vioserial" };

/* The drive letters the virtio-win media may get in Windows PE: a missing path is skipped. */
static const char drive_letters[] = "DEFGH";

static const struct windows_version *version_of(const char *template_name)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (template_name && strcmp(versions[i].template_name, template_name) == 0)
			return &versions[i];
	return NULL;
}

const char *nr_unattend_driver_dir(const char *template_name, size_t i, char *buf, size_t size)
{
	const struct windows_version *v = version_of(template_name);

	if (!v || i >= sizeof(pe_drivers) / sizeof(pe_drivers[0]))
		return NULL;
	snprintf(buf, size, "%s\\%s\\amd64", pe_drivers[i], v->virtio_dir);
	return buf;
}

/* ---- building -------------------------------------------------------------------------- */

struct ubuild {
	xmlDocPtr doc;
	xmlNsPtr wcm;
	bool oom;
};

static xmlNodePtr el(struct ubuild *b, xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n = xmlNewChild(parent, NULL, X(name), NULL);

	if (!n) {
		b->oom = true;
		return parent; /* keeps the callers simple; the build fails at the end */
	}
	if (text) {
		xmlNodePtr t = xmlNewText(X(text));
		if (!t)
			b->oom = true;
		else
			xmlAddChild(n, t);
	}
	return n;
}

static void at(struct ubuild *b, xmlNodePtr n, const char *name, const char *value)
{
	if (!xmlSetProp(n, X(name), X(value)))
		b->oom = true;
}

/* wcm:action="add" (and wcm:keyValue) on a list item */
static void add_action(struct ubuild *b, xmlNodePtr n, const char *key)
{
	if (!xmlSetNsProp(n, b->wcm, X("action"), X("add")) || (key && !xmlSetNsProp(n, b->wcm, X("keyValue"), X(key))))
		b->oom = true;
}

static xmlNodePtr component(struct ubuild *b, xmlNodePtr settings, const char *name)
{
	xmlNodePtr c = el(b, settings, "component", NULL);

	at(b, c, "name", name);
	at(b, c, "processorArchitecture", "amd64");
	at(b, c, "publicKeyToken", "31bf3856ad364e35");
	at(b, c, "language", "neutral");
	at(b, c, "versionScope", "nonSxS");
	return c;
}

static xmlNodePtr settings(struct ubuild *b, xmlNodePtr root, const char *pass)
{
	xmlNodePtr s = el(b, root, "settings", NULL);

	at(b, s, "pass", pass);
	return s;
}

/* Windows Setup's "not plain text" form: base64 of UTF-16LE(password + suffix). An
 * obfuscation that keeps the password out of sight, not a secret: the media is 0600. */
static char *encode_password(const char *password, const char *suffix)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(password) + strlen(suffix), len = 0;
	unsigned char *u16 = malloc(n * 4 + 4);
	char *out = NULL;

	if (!u16)
		return NULL;
	for (int part = 0; part < 2; part++) {
		const unsigned char *s = (const unsigned char *)(part ? suffix : password);
		while (*s) {
			unsigned cp;
			int more;
			if (*s < 0x80)
				cp = *s, more = 0;
			else if ((*s & 0xe0) == 0xc0)
				cp = *s & 0x1f, more = 1;
			else if ((*s & 0xf0) == 0xe0)
				cp = *s & 0x0f, more = 2;
			else if ((*s & 0xf8) == 0xf0)
				cp = *s & 0x07, more = 3;
			else
				goto bad;
			s++;
			for (int k = 0; k < more; k++, s++) {
				if ((*s & 0xc0) != 0x80)
					goto bad;
				cp = cp << 6 | (*s & 0x3f);
			}
			if (cp >= 0x10000) { /* a surrogate pair */
				unsigned hi = 0xd800 + ((cp - 0x10000) >> 10), lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				u16[len++] = hi & 0xff, u16[len++] = hi >> 8, u16[len++] = lo & 0xff, u16[len++] = lo >> 8;
			} else {
				u16[len++] = cp & 0xff, u16[len++] = cp >> 8;
			}
		}
	}
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out) {
		size_t o = 0;
		for (size_t i = 0; i < len; i += 3) {
			unsigned v = (unsigned)u16[i] << 16 | (i + 1 < len ? (unsigned)u16[i + 1] << 8 : 0) |
				     (i + 2 < len ? u16[i + 2] : 0);
			out[o++] = b64[v >> 18 & 63];
			out[o++] = b64[v >> 12 & 63];
			out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
			out[o++] = i + 2 < len ? b64[v & 63] : '=';
		}
		out[o] = '\0';
	}
bad:
	memset(u16, 0, n * 4 + 4);
	free(u16);
	return out;
}

static void password_el(struct ubuild *b, xmlNodePtr parent, const char *encoded)
{
	xmlNodePtr pw = el(b, parent, "Password", NULL);

	el(b, pw, "Value", encoded);
	el(b, pw, "PlainText", "false");
}

static void international(struct ubuild *b, xmlNodePtr c, const char *locale, bool pe)
{
	if (pe) {
		xmlNodePtr ui = el(b, c, "SetupUILanguage", NULL);
		el(b, ui, "UILanguage", locale);
	}
	el(b, c, "InputLocale", locale);
	el(b, c, "SystemLocale", locale);
	el(b, c, "UILanguage", locale);
	el(b, c, "UserLocale", locale);
}

/* The VM's name as a NetBIOS computer name: letters, digits, '-', at most 15. */
static void computer_name(const char *vm, char out[16])
{
	size_t n = 0;

	for (const char *c = vm; *c && n < 15; c++)
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    (*c == '-' && n > 0))
			out[n++] = *c;
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n || strspn(out, "0123456789") == n)
		snprintf(out, 16, "NEURON-VM");
}

static void partition(struct ubuild *b, xmlNodePtr list, const char *order, const char *type, const char *size)
{
	xmlNodePtr p = el(b, list, "CreatePartition", NULL);

	add_action(b, p, NULL);
	el(b, p, "Order", order);
	el(b, p, "Type", type);
	if (size)
		el(b, p, "Size", size);
	else
		el(b, p, "Extend", "true");
}

static void modify(struct ubuild *b, xmlNodePtr list, const char *order, const char *id, const char *format,
		   const char *label, const char *letter, const char *type_id)
{
	xmlNodePtr m = el(b, list, "ModifyPartition", NULL);

	add_action(b, m, NULL);
	el(b, m, "Order", order);
	el(b, m, "PartitionID", id);
	if (format)
		el(b, m, "Format", format);
	if (label)
		el(b, m, "Label", label);
	if (letter)
		el(b, m, "Letter", letter);
	if (type_id)
		el(b, m, "TypeID", type_id);
}

static void first_logon(struct ubuild *b, xmlNodePtr list, const char *order, const char *line, const char *what)
{
	xmlNodePtr c = el(b, list, "SynchronousCommand", NULL);

	add_action(b, c, NULL);
	el(b, c, "Order", order);
	el(b, c, "CommandLine", line);
	el(b, c, "Description", what);
}

int nr_unattend_build(const struct nr_profile *p, const char *password, char **xml, struct nr_error *err)
{
	const struct windows_version *v = version_of(p->template_name);
	struct ubuild b = { 0 };
	char *pw_account = NULL, *pw_logon = NULL, name[16], buf[64], letters[8];
	xmlChar *text = NULL;
	xmlNodePtr root, s, c, n, m, l;
	int len = 0, rc = 0;

	*xml = NULL;
	if (!v || !p->unattended.enabled || !p->unattended.user)
		return nr_error_set(err, -NR_E_INVAL, "the profile has no unattended Windows install");
	if (!password || !password[0])
		return nr_error_set(err, -NR_E_INVAL, "unattended: the account needs a password");
	pw_account = encode_password(password, "Password");
	pw_logon = encode_password(password, "Password");
	if (!pw_account || !pw_logon) {
		rc = nr_error_set(err, -NR_E_INVAL, "unattended: the password is not valid UTF-8");
		goto out;
	}
	b.doc = xmlNewDoc(X("1.0"));
	root = b.doc ? xmlNewNode(NULL, X("unattend")) : NULL;
	if (!root) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	xmlDocSetRootElement(b.doc, root);
	xmlSetNs(root, xmlNewNs(root, X(UNATTEND_NS), NULL));
	b.wcm = xmlNewNs(root, X(WCM_NS), X("wcm"));

	/* windowsPE: language, drivers, disk, image */
	s = settings(&b, root, "windowsPE");
	international(&b, component(&b, s, "Microsoft-Windows-International-Core-WinPE"), p->unattended.locale, true);
	c = component(&b, s, "Microsoft-Windows-PnpCustomizationsWinPE");
	l = el(&b, c, "DriverPaths", NULL);
	{
		unsigned key = 1;
		for (size_t i = 0; nr_unattend_driver_dir(p->template_name, i, buf, sizeof(buf)); i++)
			for (const char *d = drive_letters; *d; d++) {
				char path[96], kv[16];
				snprintf(path, sizeof(path), "%c:\\%s", *d, buf);
				snprintf(kv, sizeof(kv), "%u", key++);
				n = el(&b, l, "PathAndCredentials", NULL);
				add_action(&b, n, kv);
				el(&b, n, "Path", path);
			}
	}
	c = component(&b, s, "Microsoft-Windows-Setup");
	n = el(&b, el(&b, c, "DiskConfiguration", NULL), "Disk", NULL);
	add_action(&b, n, NULL);
	el(&b, n, "DiskID", "0");
	el(&b, n, "WillWipeDisk", "true");
	/* UEFI/GPT: EFI system partition, MSR, Windows */
	m = el(&b, n, "CreatePartitions", NULL);
	partition(&b, m, "1", "EFI", "260");
	partition(&b, m, "2", "MSR", "16");
	partition(&b, m, "3", "Primary", NULL);
	m = el(&b, n, "ModifyPartitions", NULL);
	modify(&b, m, "1", "1", "FAT32", "System", NULL, NULL);
	modify(&b, m, "2", "2", NULL, NULL, NULL, NULL);
	modify(&b, m, "3", "3", "NTFS", "Windows", "C", NULL);
	n = el(&b, el(&b, c, "ImageInstall", NULL), "OSImage", NULL);
	m = el(&b, el(&b, n, "InstallFrom", NULL), "MetaData", NULL);
	add_action(&b, m, NULL);
	el(&b, m, "Key", "/IMAGE/NAME");
	el(&b, m, "Value", p->unattended.edition ? p->unattended.edition : v->edition);
	m = el(&b, n, "InstallTo", NULL);
	el(&b, m, "DiskID", "0");
	el(&b, m, "PartitionID", "3");
	n = el(&b, c, "UserData", NULL);
	el(&b, n, "AcceptEula", "true");
	if (p->unattended.product_key) {
		m = el(&b, n, "ProductKey", NULL);
		el(&b, m, "Key", p->unattended.product_key);
		el(&b, m, "WillShowUI", "OnError");
	}

	/* specialize: the machine's name and clock */
	s = settings(&b, root, "specialize");
	c = component(&b, s, "Microsoft-Windows-Shell-Setup");
	computer_name(p->name, name);
	el(&b, c, "ComputerName", name);
	el(&b, c, "TimeZone", p->unattended.timezone);

	/* oobeSystem: the account, one automatic logon, what runs at the first logon */
	s = settings(&b, root, "oobeSystem");
	international(&b, component(&b, s, "Microsoft-Windows-International-Core"), p->unattended.locale, false);
	c = component(&b, s, "Microsoft-Windows-Shell-Setup");
	n = el(&b, c, "OOBE", NULL);
	el(&b, n, "HideEULAPage", "true");
	el(&b, n, "HideOEMRegistrationScreen", "true");
	el(&b, n, "HideOnlineAccountScreens", "true");
	el(&b, n, "HideWirelessSetupInOOBE", "true");
	el(&b, n, "ProtectYourPC", "3");
	n = el(&b, el(&b, el(&b, c, "UserAccounts", NULL), "LocalAccounts", NULL), "LocalAccount", NULL);
	add_action(&b, n, NULL);
	password_el(&b, n, pw_account);
	el(&b, n, "Group", "Administrators");
	el(&b, n, "Name", p->unattended.user);
	el(&b, n, "DisplayName", p->unattended.user);
	n = el(&b, c, "AutoLogon", NULL);
	password_el(&b, n, pw_logon);
	el(&b, n, "Enabled", "true");
	el(&b, n, "LogonCount", "1");
	el(&b, n, "Username", p->unattended.user);
	l = el(&b, c, "FirstLogonCommands", NULL);
	snprintf(letters, sizeof(letters), "%s", drive_letters);
	{
		char line[512], list[32] = "";
		size_t o = 0;
		for (const char *d = letters; *d && o + 3 < sizeof(list); d++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%c", o ? " " : "", *d);
		/* virtio-win's guest tools (the drivers and its agent), from its media's root */
		snprintf(line, sizeof(line),
			 "cmd /c for %%d in (%s) do @if exist %%d:\\virtio-win-guest-tools.exe "
			 "start \"\" /wait %%d:\\virtio-win-guest-tools.exe /install /quiet /norestart", list);
		first_logon(&b, l, "1", line, "virtio-win guest tools");
		/* the NeuronOS agent from the guest-tools media: the drive that has setup.cmd and certs */
		snprintf(line, sizeof(line),
			 "cmd /c for %%d in (%s) do @if exist %%d:\\certs\\guest.pem if exist %%d:\\setup.cmd "
			 "call %%d:\\setup.cmd", list);
		first_logon(&b, l, "2", line, "NeuronOS agent (guest-tools media)");
		/* the Looking Glass host the profile names, from the same media, silently (/S: the
		 * switch of its NSIS installer); it installs Looking Glass's own service */
		if (p->lg.enabled && p->lg.installer) {
			snprintf(line, sizeof(line),
				 "cmd /c for %%d in (%s) do @if exist %%d:\\certs\\guest.pem if exist %%d:\\%s "
				 "start \"\" /wait %%d:\\%s /S", list, NR_MEDIA_LG_INSTALLER, NR_MEDIA_LG_INSTALLER);
			first_logon(&b, l, "3", line, "Looking Glass host (guest-tools media)");
		}
	}
	if (b.oom) {
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
		goto out;
	}
	xmlDocDumpFormatMemoryEnc(b.doc, &text, &len, "utf-8", 1);
	if (!text || !(*xml = strdup((const char *)text)))
		rc = nr_error_set(err, -NR_E_NOMEM, NULL);
out:
	if (text) {
		memset(text, 0, (size_t)len);
		xmlFree(text);
	}
	if (pw_account) {
		memset(pw_account, 0, strlen(pw_account));
		free(pw_account);
	}
	if (pw_logon) {
		memset(pw_logon, 0, strlen(pw_logon));
		free(pw_logon);
	}
	xmlFreeDoc(b.doc);
	return rc;
}

int nr_unattend_read_password(const char *file, char **password, struct nr_error *err)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	int rc;

	*password = NULL;
	if (stat(file, &st) < 0)
		return nr_error_set(err, errno == ENOENT ? -NR_E_NOTFOUND : -NR_E_IO,
				    "unattended.password_file %s: %s", file, strerror(errno));
	if (st.st_mode & 077)
		return nr_error_set(err, -NR_E_PERM,
				    "unattended.password_file %s can be read by others: chmod 600 '%s'", file, file);
	rc = nr_read_file_max(file, 4096, &text, &len, err);
	if (rc < 0)
		return rc;
	text[strcspn(text, "\r\n")] = '\0';
	if (!text[0]) {
		free(text);
		return nr_error_set(err, -NR_E_INVAL, "unattended.password_file %s: the first line is empty", file);
	}
	*password = text;
	return 0;
}
