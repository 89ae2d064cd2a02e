#!/bin/sh
# The wolfSSL the build links: mk/wolfssl.sh MODE DIR writes DIR/flags, two lines (compiler
# flags, linker flags) that the Makefile reads.
#
#   MODE system  the distribution's libwolfssl, through pkg-config.
#   MODE asm     the same wolfSSL version as the installed libwolfssl-dev, from Debian's own
#                source package (its patches included), configured with Debian's flags plus
#                --enable-aesni --enable-intelasm --enable-sp=ec256 --enable-sp-asm
#                --disable-sakke and -DLARGE_STATIC_BUFFERS, linked statically.
#
# Why: Debian builds wolfSSL portable (no AES-NI, no AVX2). There its fastest TLS 1.3 cipher,
# ChaCha20-Poly1305, does about 290 MB/s on one core and table AES-GCM about 140 MB/s, so a
# clipboard image over the agent channel cannot pass about 200 MB/s. With the assembly,
# AES-128-GCM does several GB/s. The handshake: Debian's build verifies and signs P-256 with
# the generic big-number code (sp_int), about 70% of an agent connection's instructions;
# --enable-sp=ec256 --enable-sp-asm adds wolfSSL's single-precision P-256 code in x86-64
# assembly, several times faster. P-256 only: each other curve's (and SAKKE's 1024-bit)
# single-precision code brings a per-thread point cache (FP_ECC, thread-local), 1.3 MiB
# in every thread of every program for curves the agent never uses; SAKKE, which nothing
# here uses, is what pulls the 1024-bit one in. LARGE_STATIC_BUFFERS: each session's
# input and output buffers hold a whole 16 KiB record; without it wolfSSL allocated a
# buffer for every record it read, and zeroed and freed it again once it was read, more
# instructions than the copy of the record itself (issue 20); keys and secrets are still
# zeroed when a session ends. Where the assembly build is impossible
# (not x86-64, no Debian source, offline), this says why and falls back to the system library.
set -u
mode=${1:?usage: mk/wolfssl.sh system|asm DIR}
dir=${2:?usage: mk/wolfssl.sh system|asm DIR}
mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
# Two makes at once (make all beside make asan) build it once: the second waits, then
# finds it done.
exec 9>"$dir.lock"
flock 9
[ -s "$dir/flags" ] && [ "$dir/flags" -nt "$0" ] && [ "$dir/flags" -nt "$dir/version" ] && exit 0

system_flags() {
	{
		pkg-config --cflags wolfssl
		pkg-config --libs wolfssl
	} >"$dir/flags.tmp" && mv "$dir/flags.tmp" "$dir/flags"
}

fallback() {
	: >"$dir/fallback" # make deps removes it, and the flags, so that the next build tries again
	echo "wolfssl: $1" >&2
	echo "wolfssl: using the system's libwolfssl (portable C: the agent's clipboard transfers are" >&2
	echo "wolfssl: about 3x slower); 'make deps' (which make test and make run call) tries again," >&2
	echo "wolfssl: 'make WOLFSSL=system' says so without this message" >&2
	system_flags
	exit $?
}

rm -f "$dir/fallback"
[ "$mode" = system ] && { system_flags; exit $?; }
[ "$mode" = asm ] || { echo "wolfssl: WOLFSSL is system or asm, not '$mode'" >&2; exit 2; }

[ "$(uname -m)" = x86_64 ] || fallback "no wolfSSL assembly for $(uname -m)"
command -v apt-get >/dev/null 2>&1 || fallback "not a Debian system: cannot fetch Debian's wolfSSL source"
ver=$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null) || fallback "libwolfssl-dev is not installed"
for t in autoreconf automake libtoolize dpkg-source; do
	command -v $t >/dev/null 2>&1 || fallback "$t is missing (make deps installs it)"
done

src=$dir/src
log=$dir/build.log
rm -rf "$dir/inst"
: >"$log"
echo "wolfssl: building wolfSSL $ver with AES-NI, AVX2 and single-precision ECC assembly (log: $log)" >&2
. "$(dirname "$0")/debsrc.sh"
why=$(debsrc_get wolfssl "$ver" "$src" "$log") || fallback "$why (see $log)"
# Debian's configure flags (debian/rules), plus the assembly; static, no tests or examples.
(
	cd "$src" && ./autogen.sh && ./configure --prefix="$dir/inst" CPPFLAGS="-DLARGE_STATIC_BUFFERS" \
		--enable-distro --enable-pkcs11 \
		--disable-examples --disable-crypttests --disable-benchmark --enable-static \
		--enable-aesni --enable-intelasm --enable-sp=ec256 --enable-sp-asm --disable-sakke &&
		make -j"$(nproc 2>/dev/null || echo 2)" && make install &&
		cp wolfssl/options.h "$dir/inst/include/wolfssl/" # what this build was configured with
) >>"$log" 2>&1 || fallback "the wolfSSL build failed (see $log)"
grep -q '^#define WOLFSSL_AESNI' "$dir/inst/include/wolfssl/options.h" ||
	fallback "the build has no AES-NI (see $log)"
for m in WOLFSSL_HAVE_SP_ECC WOLFSSL_SP_X86_64_ASM; do
	grep -q "^#define $m" "$dir/inst/include/wolfssl/options.h" ||
		fallback "the build has no $m: no single-precision P-256 assembly (see $log)"
done
rm -rf "$src"
{
	echo "-I$dir/inst/include"
	echo "$dir/inst/lib/libwolfssl.a -lm -lpthread -ldl"
} >"$dir/flags"
echo "wolfssl: done: $dir/inst/lib/libwolfssl.a" >&2
