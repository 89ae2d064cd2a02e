/* The Windows desktop, in the user's session (the session helper, or --console):
 * - clipboard: CF_UNICODETEXT <-> UTF-8; images as the registered "PNG" format when it is
 *   there, else CF_DIB converted with the system's codecs (WIC, windowscodecs); setting an
 *   image puts PNG and offers CF_DIB by delayed rendering (decoded only when a program asks
 *   for a bitmap: most ask for PNG, and decoding 16 MiB is most of the cost of a set).
 *   Nothing is read while the input desktop is not the user's (the lock screen, UAC's
 *   secure desktop).
 * - changes: a hidden window on its own thread, a clipboard format listener
 *   (AddClipboardFormatListener) and WM_DISPLAYCHANGE.
 * - resolution: EnumDisplaySettingsExW / ChangeDisplaySettingsExW on the primary display;
 *   a size the driver does not list is refused with the sizes it offers.
 * - launch: CreateProcessW with the caller's token (the helper runs with the user's).
 * And, in the service: the OS name (RtlGetVersion, the registry) and shutdown. */
#define COBJMACROS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <objbase.h>
#include <wincodec.h>

#include "../platform.h"
#include "neuron/agent_proto.h"
#include "win.h"

#define CLIP_OPEN_TRIES 20

static HWND listener;
static volatile LONG clip_dirty, res_dirty;
static unsigned long long clip_seen; /* hash of the clipboard last reported or set */
static int res_w, res_h;

static int fail(const char **code, char *why, const char *c, const char *what)
{
	*code = c;
	snprintf(why, 256, "%s", what);
	return -1;
}

static int fail_win(const char **code, char *why, const char *what, DWORD e)
{
	*code = "failed";
	win_why(why, what, e);
	return -1;
}

/* The user's desktop has the input (not the lock screen or a UAC prompt). */
static bool input_desktop_is_users(void)
{
	HDESK d = OpenInputDesktop(0, FALSE, DESKTOP_READOBJECTS);
	wchar_t name[64] = L"";
	DWORD n;

	if (!d)
		return false;
	GetUserObjectInformationW(d, UOI_NAME, name, sizeof(name), &n);
	CloseDesktop(d);
	return _wcsicmp(name, L"Default") == 0;
}

static bool clip_open(void)
{
	for (int i = 0; i < CLIP_OPEN_TRIES; i++) {
		if (OpenClipboard(listener))
			return true;
		Sleep(10); /* another program has it open for a moment */
	}
	return false;
}

static UINT png_format(void)
{
	static UINT f;

	if (!f)
		f = RegisterClipboardFormatW(L"PNG");
	return f;
}

/* ---- WIC */

static IWICImagingFactory *wic(const char **code, char *why)
{
	static IWICImagingFactory *f;
	HRESULT hr;

	if (f)
		return f;
	CoInitializeEx(NULL, COINIT_MULTITHREADED);
	hr = CoCreateInstance(&CLSID_WICImagingFactory, NULL, CLSCTX_INPROC_SERVER, &IID_IWICImagingFactory,
			      (void **)&f);
	if (FAILED(hr)) {
		f = NULL;
		fail_win(code, why, "the Windows imaging component (WIC)", (DWORD)hr);
	}
	return f;
}

/* Encode a bitmap source as PNG into out. */
static int encode_png(IWICImagingFactory *f, IWICBitmapSource *src, struct nr_buf *out, const char **code,
		      char *why)
{
	IWICBitmapEncoder *enc = NULL;
	IWICBitmapFrameEncode *frame = NULL;
	IStream *st = NULL;
	HGLOBAL mem = NULL;
	UINT w, h;
	WICPixelFormatGUID fmt = GUID_WICPixelFormat32bppBGRA;
	HRESULT hr;
	int rc = -1;

	if (FAILED(hr = CreateStreamOnHGlobal(NULL, TRUE, &st)) ||
	    FAILED(hr = IWICImagingFactory_CreateEncoder(f, &GUID_ContainerFormatPng, NULL, &enc)) ||
	    FAILED(hr = IWICBitmapEncoder_Initialize(enc, st, WICBitmapEncoderNoCache)) ||
	    FAILED(hr = IWICBitmapEncoder_CreateNewFrame(enc, &frame, NULL)) ||
	    FAILED(hr = IWICBitmapFrameEncode_Initialize(frame, NULL)) ||
	    FAILED(hr = IWICBitmapSource_GetSize(src, &w, &h)) ||
	    FAILED(hr = IWICBitmapFrameEncode_SetSize(frame, w, h)) ||
	    FAILED(hr = IWICBitmapFrameEncode_SetPixelFormat(frame, &fmt)) ||
	    FAILED(hr = IWICBitmapFrameEncode_WriteSource(frame, src, NULL)) ||
	    FAILED(hr = IWICBitmapFrameEncode_Commit(frame)) || FAILED(hr = IWICBitmapEncoder_Commit(enc)) ||
	    FAILED(hr = GetHGlobalFromStream(st, &mem))) {
		fail_win(code, why, "encoding the image as PNG", (DWORD)hr);
		goto out;
	}
	STATSTG stat;
	if (FAILED(hr = IStream_Stat(st, &stat, STATFLAG_NONAME))) {
		fail_win(code, why, "encoding the image as PNG", (DWORD)hr);
		goto out;
	}
	void *p = GlobalLock(mem);
	nr_buf_append(out, p, (size_t)stat.cbSize.QuadPart);
	GlobalUnlock(mem);
	rc = 0;
out:
	if (frame)
		IWICBitmapFrameEncode_Release(frame);
	if (enc)
		IWICBitmapEncoder_Release(enc);
	if (st)
		IStream_Release(st);
	return rc;
}

IWICImagingFactory *win_wic(const char **code, char *why)
{
	return wic(code, why);
}

int win_encode_png(IWICImagingFactory *f, IWICBitmapSource *src, struct nr_buf *out, const char **code, char *why)
{
	return encode_png(f, src, out, code, why);
}

/* An image in memory (a BMP or PNG file's bytes) decoded by WIC as 32-bit BGRA. */
struct decoded {
	IWICStream *st;
	IWICBitmapDecoder *dec;
	IWICBitmapFrameDecode *frame;
	IWICBitmapSource *bgra;
};

static HRESULT decode_bgra(IWICImagingFactory *f, const void *bytes, size_t len, struct decoded *d)
{
	HRESULT hr;

	memset(d, 0, sizeof(*d));
	if (FAILED(hr = IWICImagingFactory_CreateStream(f, &d->st)) ||
	    FAILED(hr = IWICStream_InitializeFromMemory(d->st, (BYTE *)bytes, (DWORD)len)) ||
	    FAILED(hr = IWICImagingFactory_CreateDecoderFromStream(f, (IStream *)d->st, NULL,
								   WICDecodeMetadataCacheOnDemand, &d->dec)) ||
	    FAILED(hr = IWICBitmapDecoder_GetFrame(d->dec, 0, &d->frame)))
		return hr;
	return WICConvertBitmapSource(&GUID_WICPixelFormat32bppBGRA, (IWICBitmapSource *)d->frame, &d->bgra);
}

static void decoded_release(struct decoded *d)
{
	if (d->bgra)
		IWICBitmapSource_Release(d->bgra);
	if (d->frame)
		IWICBitmapFrameDecode_Release(d->frame);
	if (d->dec)
		IWICBitmapDecoder_Release(d->dec);
	if (d->st)
		IWICStream_Release(d->st);
}

/* A CF_DIB (a BITMAPINFO and its bits) as PNG: WIC's BMP decoder reads it once it has a
 * file header in front. */
static int dib_to_png(const void *dib, size_t len, struct nr_buf *out, const char **code, char *why)
{
	IWICImagingFactory *f = wic(code, why);
	const BITMAPINFOHEADER *bi = dib;
	BITMAPFILEHEADER fh = { .bfType = 0x4d42 };
	struct decoded d;
	unsigned char *file;
	size_t colors, off;
	HRESULT hr;
	int rc = -1;

	if (!f)
		return -1;
	if (len < sizeof(*bi) || bi->biSize > len)
		return fail(code, why, "failed", "the clipboard's bitmap is cut short");
	colors = bi->biClrUsed ? bi->biClrUsed : bi->biBitCount <= 8 ? (1u << bi->biBitCount) : 0;
	off = bi->biSize + colors * 4;
	if (bi->biSize == sizeof(BITMAPINFOHEADER) && bi->biCompression == BI_BITFIELDS)
		off += 12; /* the three masks follow a plain header */
	if (!(file = malloc(sizeof(fh) + len)))
		return fail(code, why, "failed", "out of memory");
	fh.bfSize = (DWORD)(sizeof(fh) + len);
	fh.bfOffBits = (DWORD)(sizeof(fh) + off);
	memcpy(file, &fh, sizeof(fh));
	memcpy(file + sizeof(fh), dib, len);
	if (FAILED(hr = decode_bgra(f, file, sizeof(fh) + len, &d)))
		fail_win(code, why, "reading the clipboard's bitmap", (DWORD)hr);
	else
		rc = encode_png(f, d.bgra, out, code, why);
	decoded_release(&d);
	free(file);
	return rc;
}

/* The size of a decoded image, or a failure when it is not a PNG the system reads or too
 * large for the clipboard. */
static HRESULT png_size(IWICImagingFactory *f, const void *png, size_t len, struct decoded *d, UINT *w, UINT *h,
			const char **code, char *why)
{
	HRESULT hr;

	*w = *h = 0;
	if (FAILED(hr = decode_bgra(f, png, len, d)) || FAILED(hr = IWICBitmapSource_GetSize(d->bgra, w, h))) {
		*code = "bad-request";
		win_why(why, "the image is not a PNG the system can read", (DWORD)hr);
		return FAILED(hr) ? hr : E_FAIL;
	}
	size_t stride = (size_t)*w * 4, bytes = stride * *h;
	if (!*w || !*h || bytes / *h != stride || bytes > NR_AGENT_TRANSFER_MAX * 4ull) {
		fail(code, why, "too-large", "the image is too large for the clipboard");
		return E_FAIL;
	}
	return S_OK;
}

/* PNG bytes to a CF_DIB: 32 bits per pixel, bottom-up, in a movable global block. */
static HGLOBAL png_to_dib(const void *png, size_t len, const char **code, char *why)
{
	IWICImagingFactory *f = wic(code, why);
	struct decoded d;
	HGLOBAL mem = NULL;
	UINT w, h;
	HRESULT hr;

	if (!f)
		return NULL;
	if (FAILED(png_size(f, png, len, &d, &w, &h, code, why)))
		goto out;
	size_t stride = (size_t)w * 4, bytes = stride * h;
	mem = GlobalAlloc(GMEM_MOVEABLE, sizeof(BITMAPINFOHEADER) + bytes);
	unsigned char *p = mem ? GlobalLock(mem) : NULL;
	if (!p) {
		fail(code, why, "failed", "out of memory");
		if (mem)
			GlobalFree(mem);
		mem = NULL;
		goto out;
	}
	BITMAPINFOHEADER bi = { .biSize = sizeof(bi), .biWidth = (LONG)w, .biHeight = (LONG)h, .biPlanes = 1,
				.biBitCount = 32, .biCompression = BI_RGB, .biSizeImage = (DWORD)bytes };
	memcpy(p, &bi, sizeof(bi));
	/* WIC's rows run top-down, a DIB's with a positive height bottom-up */
	hr = S_OK;
	for (UINT y = 0; y < h && SUCCEEDED(hr); y++) {
		WICRect r = { 0, (INT)y, (INT)w, 1 };
		hr = IWICBitmapSource_CopyPixels(d.bgra, &r, (UINT)stride, (UINT)stride,
						 p + sizeof(bi) + (size_t)(h - 1 - y) * stride);
	}
	GlobalUnlock(mem);
	if (FAILED(hr)) {
		GlobalFree(mem);
		mem = NULL;
		fail_win(code, why, "decoding the image", (DWORD)hr);
	}
out:
	decoded_release(&d);
	return mem;
}

/* The PNG behind the CF_DIB this agent offered and has not rendered yet (delayed
 * rendering): set with the clipboard open, rendered on the listener's thread when a program
 * asks (WM_RENDERFORMAT) or before the window goes (WM_RENDERALLFORMATS), dropped when the
 * clipboard is emptied (WM_DESTROYCLIPBOARD). */
static CRITICAL_SECTION pending_lock;
static unsigned char *pending_png;
static size_t pending_len;

static void pending_set(unsigned char *png, size_t len)
{
	EnterCriticalSection(&pending_lock);
	free(pending_png);
	pending_png = png;
	pending_len = len;
	LeaveCriticalSection(&pending_lock);
}

/* Put the pending image as CF_DIB (the clipboard is open for this agent's window). */
static void pending_render(void)
{
	const char *code;
	char why[256];
	HGLOBAL dib;

	EnterCriticalSection(&pending_lock);
	if (pending_png && (dib = png_to_dib(pending_png, pending_len, &code, why)) && !SetClipboardData(CF_DIB, dib))
		GlobalFree(dib);
	LeaveCriticalSection(&pending_lock);
}

/* ---- clipboard */

static bool is_text(const char *mime)
{
	return strcmp(mime, "text/plain") == 0;
}

/* The length of the PNG at p (to the end of its IEND chunk): a global block may be
 * larger than what was put in it. */
static size_t png_length(const unsigned char *p, size_t n)
{
	size_t off = 8;

	if (n < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0)
		return n;
	while (off + 12 <= n) {
		size_t len = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
		if (len > n - off - 12)
			return n;
		off += 12 + len;
		if (memcmp(p + off - len - 8, "IEND", 4) == 0)
			return off;
	}
	return n;
}

/* The clipboard's content as mime (the clipboard is open). */
static int clip_read(const char *mime, struct nr_buf *out, const char **code, char *why)
{
	HANDLE d;
	void *p;

	if (is_text(mime)) {
		if (!(d = GetClipboardData(CF_UNICODETEXT)) || !(p = GlobalLock(d)))
			return fail(code, why, "failed", "the clipboard holds no text");
		char *u = win_utf8(p);
		GlobalUnlock(d);
		if (!u)
			return fail(code, why, "failed", "the clipboard's text cannot be converted to UTF-8");
		nr_buf_append(out, u, strlen(u));
		free(u);
		return 0;
	}
	if (strcmp(mime, "image/png") != 0)
		return fail(code, why, "unsupported", "the Windows agent carries text/plain and image/png");
	if ((d = GetClipboardData(png_format())) && (p = GlobalLock(d))) {
		nr_buf_append(out, p, png_length(p, GlobalSize(d)));
		GlobalUnlock(d);
		return 0;
	}
	if (!(d = GetClipboardData(CF_DIB)) || !(p = GlobalLock(d)))
		return fail(code, why, "failed", "the clipboard holds no image");
	int rc = dib_to_png(p, GlobalSize(d), out, code, why);
	GlobalUnlock(d);
	return rc;
}

int win_clip_get(const char *mime, struct nr_buf *out, const char **code, char *why)
{
	int rc;

	if (!input_desktop_is_users())
		return fail(code, why, "unsupported", "the session is locked or on the secure desktop");
	if (!clip_open())
		return fail_win(code, why, "OpenClipboard", GetLastError());
	rc = clip_read(mime, out, code, why);
	CloseClipboard();
	return rc;
}

static HGLOBAL global_copy(const void *data, size_t len)
{
	HGLOBAL g = GlobalAlloc(GMEM_MOVEABLE, len ? len : 1);
	void *p = g ? GlobalLock(g) : NULL;

	if (!p) {
		if (g)
			GlobalFree(g);
		return NULL;
	}
	memcpy(p, data, len);
	GlobalUnlock(g);
	return g;
}

int win_clip_set(const char *mime, const void *data, size_t len, const char **code, char *why)
{
	HGLOBAL text = NULL, png = NULL;
	unsigned char *keep = NULL;
	int rc = -1;

	if (!input_desktop_is_users())
		return fail(code, why, "unsupported", "the session is locked or on the secure desktop");
	if (is_text(mime)) {
		char *s = malloc(len + 1);
		wchar_t *w;
		if (!s)
			return fail(code, why, "failed", "out of memory");
		memcpy(s, data, len);
		s[len] = '\0';
		w = win_wide(s);
		free(s);
		if (!w)
			return fail(code, why, "bad-request", "the text is not UTF-8");
		text = global_copy(w, (wcslen(w) + 1) * sizeof(wchar_t));
		free(w);
		if (!text)
			return fail(code, why, "failed", "out of memory");
	} else if (strcmp(mime, "image/png") == 0) {
		/* checked now (a PNG the system reads, a size the clipboard takes); its bitmap is
		 * made when a program asks for one */
		IWICImagingFactory *f = wic(code, why);
		struct decoded d;
		UINT w, h;
		HRESULT hr;
		if (!f)
			return -1;
		hr = png_size(f, data, len, &d, &w, &h, code, why);
		decoded_release(&d);
		if (FAILED(hr))
			return -1;
		if (!(png = global_copy(data, len)) || !(keep = malloc(len ? len : 1))) {
			if (png)
				GlobalFree(png);
			return fail(code, why, "failed", "out of memory");
		}
		memcpy(keep, data, len);
	} else {
		return fail(code, why, "unsupported", "the Windows agent carries text/plain and image/png");
	}
	if (!clip_open()) {
		fail_win(code, why, "OpenClipboard", GetLastError());
		goto out;
	}
	EmptyClipboard(); /* drops what was pending (WM_DESTROYCLIPBOARD) */
	if (text && SetClipboardData(CF_UNICODETEXT, text)) {
		text = NULL;
	} else if (png && SetClipboardData(png_format(), png)) {
		png = NULL;
		pending_set(keep, len);
		keep = NULL;
		SetClipboardData(CF_DIB, NULL); /* rendered on request */
	}
	if (text || png)
		fail_win(code, why, "SetClipboardData", GetLastError());
	else
		rc = 0;
	CloseClipboard();
	if (rc == 0) /* our own change is not reported back to the host */
		clip_seen = platform_clip_hash(mime, data, len);
out:
	if (text)
		GlobalFree(text);
	if (png)
		GlobalFree(png);
	free(keep);
	return rc;
}

/* ---- changes */

static LRESULT CALLBACK listener_proc(HWND w, UINT msg, WPARAM wp, LPARAM lp)
{
	if (msg == WM_CLIPBOARDUPDATE) {
		InterlockedExchange(&clip_dirty, 1);
		return 0;
	}
	if (msg == WM_DISPLAYCHANGE) {
		InterlockedExchange(&res_dirty, 1);
		return 0;
	}
	if (msg == WM_RENDERFORMAT) {
		if (wp == CF_DIB)
			pending_render();
		return 0;
	}
	if (msg == WM_RENDERALLFORMATS) {
		if (OpenClipboard(w)) {
			if (GetClipboardOwner() == w)
				pending_render();
			CloseClipboard();
		}
		return 0;
	}
	if (msg == WM_DESTROYCLIPBOARD) {
		pending_set(NULL, 0);
		return 0;
	}
	return DefWindowProcW(w, msg, wp, lp);
}

static DWORD WINAPI listener_thread(void *arg)
{
	HANDLE ready = arg;
	WNDCLASSW wc = { .lpfnWndProc = listener_proc, .hInstance = GetModuleHandleW(NULL),
			 .lpszClassName = L"NeuronAgentListener" };
	MSG m;

	/* WM_RENDERFORMAT decodes with WIC on this thread */
	CoInitializeEx(NULL, COINIT_MULTITHREADED);
	RegisterClassW(&wc);
	/* a top-level window that is never shown: WM_DISPLAYCHANGE goes to top-level windows only */
	listener = CreateWindowExW(0, wc.lpszClassName, L"NeuronOS agent", WS_POPUP, 0, 0, 0, 0, NULL, NULL,
				   wc.hInstance, NULL);
	if (listener)
		AddClipboardFormatListener(listener);
	SetEvent(ready);
	if (!listener)
		return 1;
	while (GetMessageW(&m, NULL, 0, 0) > 0) {
		TranslateMessage(&m);
		DispatchMessageW(&m);
	}
	return 0;
}

int win_desktop_start(void)
{
	HANDLE ready = CreateEventW(NULL, TRUE, FALSE, NULL), t;
	const char *code;
	char why[256];

	/* The display first, on the thread that will make the calls: under Wine, a process
	 * whose first window came from another thread could not read its display settings. */
	if (win_res_get(&res_w, &res_h, &code, why) < 0)
		res_w = res_h = 0;
	InitializeCriticalSection(&pending_lock);
	if (!ready || !(t = CreateThread(NULL, 0, listener_thread, ready, 0, NULL))) {
		if (ready)
			CloseHandle(ready);
		return -1;
	}
	WaitForSingleObject(ready, 10000);
	CloseHandle(ready);
	CloseHandle(t);
	/* what is on the clipboard now is not a change */
	win_changes(NULL, 0, NULL);
	InterlockedExchange(&clip_dirty, 0);
	return listener ? 0 : -1;
}

int win_changes(char *mime, size_t mime_size, long long *size)
{
	int changed = 0, w, h;
	const char *code;
	char why[256];

	if (InterlockedExchange(&res_dirty, 0) || !listener) {
		/* without a listener, compare at each poll */
		if (win_res_get(&w, &h, &code, why) == 0 && (w != res_w || h != res_h)) {
			res_w = w;
			res_h = h;
			changed |= PLATFORM_RESOLUTION_CHANGED;
		}
	}
	if ((InterlockedExchange(&clip_dirty, 0) || !mime) && input_desktop_is_users() && clip_open()) {
		const char *types[] = { "text/plain", "image/png" };
		UINT formats[] = { CF_UNICODETEXT, CF_DIB };
		for (int i = 0; i < 2; i++) {
			struct nr_buf b;
			if (!IsClipboardFormatAvailable(formats[i]) && !(i == 1 && IsClipboardFormatAvailable(png_format())))
				continue;
			nr_buf_init(&b);
			if (clip_read(types[i], &b, &code, why) == 0 && !b.oom) {
				unsigned long long hsh = platform_clip_hash(types[i], b.data ? b.data : "", b.len);
				if (hsh != clip_seen) {
					clip_seen = hsh;
					if (mime) {
						snprintf(mime, mime_size, "%s", types[i]);
						*size = (long long)b.len;
						changed |= PLATFORM_CLIPBOARD_CHANGED;
					}
				}
			}
			nr_buf_done(&b);
			break;
		}
		CloseClipboard();
	}
	return changed;
}

/* ---- resolution */

int win_res_get(int *w, int *h, const char **code, char *why)
{
	DEVMODEW dm = { .dmSize = sizeof(dm) };

	if (!EnumDisplaySettingsExW(NULL, ENUM_CURRENT_SETTINGS, &dm, 0))
		return fail(code, why, "unsupported", "the display settings cannot be read in this session");
	*w = (int)dm.dmPelsWidth;
	*h = (int)dm.dmPelsHeight;
	return 0;
}

int win_res_set(int w, int h, const char **code, char *why)
{
	DEVMODEW dm = { .dmSize = sizeof(dm) }, cur = { .dmSize = sizeof(cur) }, best;
	char sizes[200] = "";
	size_t used = 0;
	bool found = false;
	LONG r;

	EnumDisplaySettingsExW(NULL, ENUM_CURRENT_SETTINGS, &cur, 0);
	for (DWORD i = 0; EnumDisplaySettingsExW(NULL, i, &dm, 0); i++) {
		char one[24];
		if ((int)dm.dmPelsWidth == w && (int)dm.dmPelsHeight == h &&
		    (!found || dm.dmBitsPerPel == cur.dmBitsPerPel)) {
			best = dm;
			found = true;
		}
		snprintf(one, sizeof(one), "%lux%lu", (unsigned long)dm.dmPelsWidth, (unsigned long)dm.dmPelsHeight);
		if (!strstr(sizes, one) && used + strlen(one) + 2 < sizeof(sizes))
			used += (size_t)snprintf(sizes + used, sizeof(sizes) - used, "%s%s", used ? " " : "", one);
	}
	if (!found) {
		*code = "unsupported";
		snprintf(why, 256, "the display offers no %dx%d; it offers %s", w, h, sizes[0] ? sizes : "nothing");
		return -1;
	}
	best.dmFields = DM_PELSWIDTH | DM_PELSHEIGHT | DM_BITSPERPEL | DM_DISPLAYFREQUENCY;
	r = ChangeDisplaySettingsExW(NULL, &best, NULL, CDS_UPDATEREGISTRY, NULL);
	if (r != DISP_CHANGE_SUCCESSFUL) {
		*code = "failed";
		snprintf(why, 256, "ChangeDisplaySettingsEx refused %dx%d (DISP_CHANGE %ld)", w, h, (long)r);
		return -1;
	}
	res_w = w; /* the host knows: no event for its own change */
	res_h = h;
	InterlockedExchange(&res_dirty, 0);
	return 0;
}

/* ---- launch */

/* One argument quoted the way CommandLineToArgvW and the C runtime read it back. */
static void quote_arg(struct nr_buf *b, const wchar_t *a)
{
	if (a[0] && !wcspbrk(a, L" \t\n\v\"")) {
		nr_buf_append(b, (const char *)a, wcslen(a) * sizeof(wchar_t));
		return;
	}
	nr_buf_append(b, (const char *)L"\"", sizeof(wchar_t));
	for (const wchar_t *p = a;; p++) {
		size_t slashes = 0;
		while (*p == L'\\') {
			p++;
			slashes++;
		}
		size_t n = !*p ? slashes * 2 : *p == L'"' ? slashes * 2 + 1 : slashes;
		for (size_t i = 0; i < n; i++)
			nr_buf_append(b, (const char *)L"\\", sizeof(wchar_t));
		if (!*p)
			break;
		nr_buf_append(b, (const char *)p, sizeof(wchar_t));
	}
	nr_buf_append(b, (const char *)L"\"", sizeof(wchar_t));
}

int win_launch(const char *const *argv, long long *pid, const char **code, char *why)
{
	STARTUPINFOW si = { .cb = sizeof(si) };
	PROCESS_INFORMATION pi;
	struct nr_buf cmd;
	wchar_t home[MAX_PATH];
	int rc = 0;

	nr_buf_init(&cmd);
	for (size_t i = 0; argv[i]; i++) {
		wchar_t *w = win_wide(argv[i]);
		if (!w) {
			nr_buf_done(&cmd);
			return fail(code, why, "bad-request", "the program and its arguments must be UTF-8");
		}
		if (i)
			nr_buf_append(&cmd, (const char *)L" ", sizeof(wchar_t));
		quote_arg(&cmd, w);
		free(w);
	}
	nr_buf_append(&cmd, (const char *)L"\0", sizeof(wchar_t));
	if (cmd.oom) {
		nr_buf_done(&cmd);
		return fail(code, why, "failed", "out of memory");
	}
	DWORD n = GetEnvironmentVariableW(L"USERPROFILE", home, MAX_PATH);
	if (!CreateProcessW(NULL, (wchar_t *)cmd.data, NULL, NULL, FALSE,
			    CREATE_UNICODE_ENVIRONMENT | CREATE_NEW_CONSOLE | CREATE_DEFAULT_ERROR_MODE, NULL,
			    n && n < MAX_PATH ? home : NULL, &si, &pi)) {
		char what[240];
		snprintf(what, sizeof(what), "cannot start %.200s", argv[0]);
		rc = fail_win(code, why, what, GetLastError());
	} else {
		*pid = (long long)pi.dwProcessId;
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
	}
	nr_buf_done(&cmd);
	return rc;
}

/* ---- in the service */

void win_os_name(char *out, size_t size)
{
	RTL_OSVERSIONINFOW v = { .dwOSVersionInfoSize = sizeof(v) };
	LONG(WINAPI * get)(RTL_OSVERSIONINFOW *) =
		(LONG(WINAPI *)(RTL_OSVERSIONINFOW *))(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlGetVersion");
	wchar_t product[128] = L"Windows", display[64] = L"";
	DWORD n = sizeof(product);
	char *p, *d;

	if (get)
		get(&v);
	RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", L"ProductName",
		     RRF_RT_REG_SZ, NULL, product, &n);
	n = sizeof(display);
	if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", L"DisplayVersion",
			 RRF_RT_REG_SZ, NULL, display, &n) != ERROR_SUCCESS) {
		n = sizeof(display);
		RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", L"ReleaseId",
			     RRF_RT_REG_SZ, NULL, display, &n);
	}
	/* Windows 11 still calls itself "Windows 10" in ProductName: its build tells */
	wchar_t *ten = wcsstr(product, L"Windows 10");
	if (ten && v.dwBuildNumber >= 22000)
		ten[9] = L'1';
	p = win_utf8(product);
	d = win_utf8(display);
	snprintf(out, size, "%s%s%s (%lu.%lu.%lu)", p ? p : "Windows", d && d[0] ? " " : "", d ? d : "",
		 (unsigned long)v.dwMajorVersion, (unsigned long)v.dwMinorVersion, (unsigned long)v.dwBuildNumber);
	free(p);
	free(d);
}

int win_shutdown(const char *mode, const char **code, char *why)
{
	TOKEN_PRIVILEGES tp = { .PrivilegeCount = 1 };
	HANDLE tok;
	DWORD e;

	if (OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &tok)) {
		if (LookupPrivilegeValueW(NULL, L"SeShutdownPrivilege", &tp.Privileges[0].Luid)) {
			tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
			AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL);
		}
		CloseHandle(tok);
	}
	e = InitiateShutdownW(NULL, L"NeuronOS: shutdown asked by the host", 0,
			      SHUTDOWN_FORCE_OTHERS | (strcmp(mode, "reboot") == 0 ? SHUTDOWN_RESTART : SHUTDOWN_POWEROFF),
			      SHTDN_REASON_MAJOR_OTHER | SHTDN_REASON_MINOR_OTHER | SHTDN_REASON_FLAG_PLANNED);
	if (e != ERROR_SUCCESS)
		return fail_win(code, why, "InitiateShutdown", e);
	return 0;
}

/* ---- the direct platform (console mode) */

static int d_clip_get(struct agent_platform *p, const char *mime, struct nr_buf *out, const char **code, char *why)
{
	return win_clip_get(mime, out, code, why);
}

static int d_clip_set(struct agent_platform *p, const char *mime, const void *data, size_t len, const char **code,
		      char *why)
{
	return win_clip_set(mime, data, len, code, why);
}

static int d_launch(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		    const char **code, char *why)
{
	return win_launch(argv, pid, code, why);
}

static int d_res_get(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	return win_res_get(w, h, code, why);
}

static int d_res_set(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	return win_res_set(w, h, code, why);
}

static int d_shutdown(struct agent_platform *p, const char *mode, const char **code, char *why)
{
	return win_shutdown(mode, code, why);
}

static void d_os_name(struct agent_platform *p, char *out, size_t size)
{
	win_os_name(out, size);
}

static int d_changes(struct agent_platform *p, char *mime, size_t mime_size, long long *size)
{
	return win_changes(mime, mime_size, size);
}

static int d_apps(struct agent_platform *p, agent_app_fn each, void *ctx, const char **code, char *why)
{
	return win_apps(each, ctx, code, why);
}

static int d_app_icon(struct agent_platform *p, const char *id, int size, struct nr_buf *out, const char **code,
		      char *why)
{
	return win_app_icon(id, size, out, code, why);
}

static int d_open(struct agent_platform *p, const char *path, const char *app, long long *pid, const char **code,
		  char *why)
{
	return win_open(path, app, pid, code, why);
}

static int d_windows(struct agent_platform *p, agent_window_fn each, void *ctx, const char **code, char *why)
{
	return win_windows(each, ctx, code, why);
}

static int d_window_focus(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return win_window_focus(id, code, why);
}

static int d_window_close(struct agent_platform *p, const char *id, const char **code, char *why)
{
	return win_window_close(id, code, why);
}

static void d_free(struct agent_platform *p)
{
	free(p);
}

struct agent_platform *win_direct_new(void)
{
	struct agent_platform *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	win_desktop_start();
	*p = (struct agent_platform){
		.name = "windows", .clipboard_get = d_clip_get, .clipboard_set = d_clip_set, .launch = d_launch,
		.get_resolution = d_res_get, .set_resolution = d_res_set, .shutdown = d_shutdown,
		.apps = d_apps, .app_icon = d_app_icon, .open = d_open, .windows = d_windows,
		.window_focus = d_window_focus, .window_close = d_window_close, .shares = win_shares,
		.os_name = d_os_name, .poll_changes = d_changes, .free = d_free,
	};
	return p;
}
