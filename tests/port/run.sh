#!/bin/sh
# "A Windows port of the guest agent only adds a platform file" (agent/platform.h, issue 6):
# the agent's portable part is every agent/*.c but the system files below, and every
# core file those pull out of libneuron.a. For each file of that part:
#  - it includes only ISO C headers, json-c, wolfSSL, getopt.h and pthread.h (both in
#    mingw-w64) and GCC's x86 intrinsics, and so do the project headers it includes;
#  - its object calls only ISO C, json-c, wolfSSL, the portable part itself, GCC's CPU
#    detection and the system layer of agent/platform.h (sys_*, spawn_detached,
#    nr_now_ms, nr_sleep_ms, nr_tls_key_private);
#  - it compiles for Windows with mingw-w64 (x86_64-w64-mingw32-gcc, mk/packages/port.txt)
#    against the real wolfSSL and json-c headers.
set -u
: "${BUILD:?}"
. "$(dirname "$0")/../lib.sh"
verbose=1
cd "$top" || exit 1
T=$(mktemp -d /tmp/neuron-port-XXXXXX)
trap 'rm -rf "$T"' EXIT
show=$T/why

# What a Windows build leaves out, its own platform file(s) taking their place.
SYSTEM_FILES="agent/platform_posix.c agent/platform_linux.c agent/apps_linux.c agent/shares_linux.c agent/spawn.c core/guest/tls_fd.c core/base/clock.c"
is_system() { case " $SYSTEM_FILES " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the portable part
portable="" objs=""
for f in agent/*.c; do
	is_system "$f" && continue
	portable="$portable $f" objs="$objs $BUILD/obj/${f%.c}.o"
done
# the members of libneuron.a that the link of those objects pulls in (ld -t -t)
members=$(cc -nostdlib -no-pie -Wl,-t,-t -Wl,--unresolved-symbols=ignore-all -o "$T/agent" $objs \
	"$BUILD/libneuron.a" 2>/dev/null | sed -n 's/^(.*libneuron\.a)\(.*\)\.o$/\1.c/p')
# an archive keeps member names without their folder: find each under core/
for m in $members; do
	f=$(cd "$top" && ls core/*/"$m")
	is_system "$f" && continue
	portable="$portable $f" objs="$objs $BUILD/obj/${f%.c}.o"
done
: >"$T/why"
case " $portable " in
*" agent/main.c "*" core/guest/tls.c "*) ok "portable part:$portable" ;;
*) echo "found:$portable" >"$T/why"; bad "the portable part holds agent/main.c and core/guest/tls.c" ;;
esac

# ---- headers
iso='assert|complex|ctype|errno|fenv|float|inttypes|iso646|limits|locale|math|setjmp|signal|stdalign|stdarg|stdatomic|stdbool|stddef|stdint|stdio|stdlib|stdnoreturn|string|tgmath|threads|time|uchar|wchar|wctype'
allowed="^(($iso)\\.h|getopt\\.h|pthread\\.h|[a-z0-9]*intrin\\.h|cpuid\\.h|json-c/.*|wolfssl/.*)\$"
for f in $portable; do
	# the file and the project headers it includes (from its dependency file)
	files="$f $(sed -e 's/\\$//' -e 's/^[^:]*://' "$BUILD/obj/${f%.c}.d" 2>/dev/null | tr ' ' '\n' |
		grep -v '^/' | grep '\.h$' | sort -u)"
	: >"$T/why"
	for h in $files; do
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$h" |
			grep -Ev "$allowed" | sed "s|^|$h: <|; s|\$|> is not portable|" >>"$T/why"
	done
	if [ -s "$T/why" ]; then bad "$f includes only portable headers"; else ok "$f includes only portable headers"; fi
done

# ---- symbols
nm --defined-only $objs 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$T/defined"
libc='abort|abs|atexit|atoi|atol|atoll|bsearch|calloc|clearerr|clock|exit|_Exit|fclose|feof|ferror|fflush|fgetc|fgets|fopen|fprintf|fputc|fputs|fread|free|freopen|fscanf|fseek|ftell|fwrite|getc|getchar|getenv|gmtime|isalnum|isalpha|isdigit|isprint|isspace|isupper|isxdigit|labs|llabs|localtime|malloc|memchr|memcmp|memcpy|memmove|memset|mktime|perror|printf|putc|putchar|puts|qsort|raise|rand|realloc|remove|rename|rewind|setvbuf|snprintf|sprintf|srand|sscanf|strcat|strchr|strcmp|strcoll|strcpy|strcspn|strdup|strerror|strftime|strlen|strncat|strncmp|strncpy|strpbrk|strrchr|strspn|strstr|strtod|strtok|strtol|strtoll|strtoul|strtoull|time|tolower|toupper|vfprintf|vprintf|vsnprintf|vsprintf|stdin|stdout|stderr'
extra='getopt_long|optarg|optind|opterr|optopt|pthread_once'
# the toolchain's names for the above (glibc's errno, fortify, scanf aliases; sanitizers;
# __builtin_cpu_supports, which mingw-w64's libgcc has too)
tool='__cpu_model|__cpu_features2|__cpu_indicator_init|__errno_location|__stack_chk_fail|_GLOBAL_OFFSET_TABLE_|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__assert_fail|__(asan|ubsan|sanitizer|lsan)_.*|__.*_chk|__isoc(99|23)_.*'
ours='json_.*|wolfSSL.*|wolfTLS.*|wc_.*|sys_.*|spawn_detached|nr_now_ms|nr_sleep_ms|nr_tls_key_private'
for f in $portable; do
	nm -u "$BUILD/obj/${f%.c}.o" 2>/dev/null | awk '{ print $NF }' | sort -u |
		grep -Ev "^($libc|$extra|$tool|$ours)\$" | comm -23 - "$T/defined" |
		sed 's/$/ (neither ISO C, json-c, wolfSSL nor the system layer of agent\/platform.h)/' >"$T/why"
	if [ -s "$T/why" ]; then bad "$f calls only portable functions"; else ok "$f calls only portable functions"; fi
done

# ---- Windows
# GCC's printf archetype is Microsoft's on this target (no %zu, %lld), though the C library
# a build with __USE_MINGW_ANSI_STDIO=1 uses has them: formats are checked by the host build.
MINGW=${MINGW_CC:-x86_64-w64-mingw32-gcc}
if command -v "$MINGW" >/dev/null 2>&1; then
	mkdir -p "$T/inc"
	for lib in wolfssl json-c; do
		ln -s "$(pkg-config --variable=includedir "$lib")/$lib" "$T/inc/$lib"
	done
	for f in $portable; do
		if "$MINGW" -std=gnu11 -D__USE_MINGW_ANSI_STDIO=1 -fsyntax-only -Wall -Wextra -Wno-unused-parameter \
			-Wno-format -Werror -Icore/include -Icore -I"$T/inc" "$f" >"$T/why" 2>&1; then
			ok "$f compiles for Windows"
		else
			bad "$f compiles for Windows"
		fi
	done
else
	echo "no $MINGW: install it with make deps (mk/packages/port.txt)" >"$T/why"
	bad "mingw-w64 is there"
fi

summary port
