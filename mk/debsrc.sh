# Sourced by mk/wolfssl.sh and mk/wincross.sh: fetch and unpack a Debian source package
# with a private source list, lists and cache under $dir (the machine's own apt
# configuration is not touched).
#   debsrc_get PACKAGE VERSION DEST LOG   unpacks PACKAGE=VERSION into DEST; 1 on failure
debsrc_get() {
	_d=$dir/debsrc
	rm -rf "$_d" "$3"
	mkdir -p "$_d/lists/partial" "$_d/cache/archives/partial" "$_d/dl" || return 1
	{
		echo "deb-src http://deb.debian.org/debian bookworm main"
		echo "deb-src http://deb.debian.org/debian-security bookworm-security main"
		echo "deb-src http://deb.debian.org/debian bookworm-updates main"
	} >"$_d/sources.list"
	_apt() {
		apt-get -q -o Dir::Etc::SourceList="$_d/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
			-o Dir::State::Lists="$_d/lists" -o Dir::Cache="$_d/cache" -o Debug::NoLocking=1 \
			-o APT::Sandbox::User="$(id -un)" "$@"
	}
	_apt update >>"$4" 2>&1 || { echo "cannot reach Debian's source archive"; return 1; }
	(cd "$_d/dl" && _apt source --download-only "$1=$2") >>"$4" 2>&1 ||
		{ echo "cannot download the source of $1 $2"; return 1; }
	dpkg-source -x "$_d/dl/$1"_*.dsc "$3" >>"$4" 2>&1 || { echo "cannot unpack the source of $1"; return 1; }
	rm -rf "$_d"
}
