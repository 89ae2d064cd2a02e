#!/bin/sh
# make-root.sh NAME DEST: assemble the fixture root NAME into DEST (which must not exist):
# its own files, then the distributions' shipped files its .shipped lists.
set -eu
here=$(cd "$(dirname "$0")/../fixtures/roots" && pwd)
name=$1 dest=$2
[ -d "$here/$name" ] || { echo "make-root.sh: no fixture root $name" >&2; exit 2; }
mkdir -p "$dest"
cp -a "$here/$name/." "$dest/"
if [ -f "$dest/.shipped" ]; then
	while read -r src dst; do
		[ -n "$src" ] || continue
		mkdir -p "$dest/$(dirname "$dst")"
		cp "$here/_shipped/$src" "$dest/$dst"
	done < "$dest/.shipped"
	rm -f "$dest/.shipped"
fi
