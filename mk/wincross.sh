#!/bin/sh
# The libraries of the Windows guest agent (build/win/, issue 15), cross-built with
# mingw-w64 from Debian's own source packages of the versions installed for the host
# (libwolfssl-dev, libjson-c-dev), their patches included, as static libraries:
#   mk/wincross.sh DIR   writes DIR/flags: two lines (compiler flags, linker flags).
# wolfSSL: configured like Debian's (--enable-distro, less PKCS#11, which needs dlopen),
# static, with AES-NI when WIN_AESNI=yes: see below and README ("The Windows agent").
# json-c: cmake with a mingw-w64 toolchain, static. About two minutes, once.
set -u
dir=${1:?usage: mk/wincross.sh DIR}
mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
exec 9>"$dir.lock"
flock 9
aesni=${WIN_AESNI:-no}
want="wolfssl=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null) json-c=$(dpkg-query -W -f='${Version}' libjson-c-dev 2>/dev/null) aesni=$aesni"
[ -s "$dir/flags" ] && [ "$dir/flags" -nt "$0" ] && [ "$(cat "$dir/want" 2>/dev/null)" = "$want" ] && exit 0

HOST=x86_64-w64-mingw32
log=$dir/build.log
fail() { echo "wincross: $1 (log: $log)" >&2; exit 1; }
for t in $HOST-gcc cmake autoreconf dpkg-source; do
	command -v $t >/dev/null 2>&1 || fail "$t is missing (make deps installs it: mk/packages/win.txt)"
done
wver=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null) || fail "libwolfssl-dev is not installed"
jver=$(dpkg-query -W -f='${Version}' libjson-c-dev 2>/dev/null) || fail "libjson-c-dev is not installed"
. "$here/debsrc.sh"
rm -rf "$dir/inst" "$dir/flags"
: >"$log"
echo "wincross: building wolfSSL $wver and json-c $jver for Windows (log: $log)" >&2
jobs=$(nproc 2>/dev/null || echo 2)

why=$(debsrc_get json-c "$jver" "$dir/json-c" "$log") || fail "$why"
(
	mkdir -p "$dir/json-c/_build" && cd "$dir/json-c/_build" &&
		cmake .. -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_C_COMPILER=$HOST-gcc -DCMAKE_RC_COMPILER=$HOST-windres \
			-DCMAKE_INSTALL_PREFIX="$dir/inst" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
			-DBUILD_STATIC_LIBS=ON -DBUILD_TESTING=OFF -DBUILD_APPS=OFF -DDISABLE_WERROR=ON &&
		make -j"$jobs" && make install
) >>"$log" 2>&1 || fail "the json-c build failed"

# AES-NI: wolfSSL's x86-64 assembly (aes_asm.S, aes_gcm_asm.S, --enable-intelasm) is
# written for the System V calling convention ("parameter 1: %rdi"), and aes.c declares
# those functions without a calling-convention attribute; its Windows version
# (aes_asm.asm) is MASM for MSVC. Built with mingw-w64 (Microsoft's x64 convention:
# rcx, rdx, r8, r9) the functions would read their arguments from the wrong registers.
# So the Windows build is portable C (TLS 1.3 then prefers ChaCha20-Poly1305, see
# core/guest/tls.c); WIN_AESNI=yes builds the assembly anyway, to try a later wolfSSL.
# The same holds for the single-precision ECC assembly (sp_x86_64_asm.S): the guest's side
# of each handshake gets wolfSSL's single-precision P-256 in C (--enable-sp, sp_c64.c),
# still several times faster than the generic big-number code.
# wolfSSL 5.5.4 includes <Wincrypt.h>: mingw-w64's headers are lower case
mkdir -p "$dir/shim" && echo '#include <wincrypt.h>' >"$dir/shim/Wincrypt.h" || fail "cannot write $dir/shim"
asm=""
[ "$aesni" = yes ] && asm="--enable-aesni --enable-intelasm"
why=$(debsrc_get wolfssl "$wver" "$dir/wolfssl" "$log") || fail "$why"
(
	cd "$dir/wolfssl" && ./autogen.sh &&
		./configure --host=$HOST --prefix="$dir/inst" --enable-distro --disable-pkcs11 \
			--disable-examples --disable-crypttests --disable-benchmark --enable-static --disable-shared \
			--enable-sp=yes $asm CFLAGS="-O2 -I$dir/shim" &&
		make -j"$jobs" && make install && cp wolfssl/options.h "$dir/inst/include/wolfssl/"
) >>"$log" 2>&1 || fail "the wolfSSL build failed"
grep -q '^#define WOLFSSL_HAVE_SP_ECC' "$dir/inst/include/wolfssl/options.h" ||
	fail "the wolfSSL build has no single-precision ECC (WOLFSSL_HAVE_SP_ECC)"
[ "$aesni" != yes ] && grep -q '^#define WOLFSSL_SP_X86_64_ASM' "$dir/inst/include/wolfssl/options.h" &&
	fail "the wolfSSL build has the System V ECC assembly, wrong under Windows' calling convention"
rm -rf "$dir/wolfssl" "$dir/json-c"
{
	echo "-I$dir/inst/include"
	echo "$dir/inst/lib/libwolfssl.a $dir/inst/lib/libjson-c.a"
} >"$dir/flags.tmp" && mv "$dir/flags.tmp" "$dir/flags" && echo "$want" >"$dir/want"
echo "wincross: done: $dir/inst" >&2
