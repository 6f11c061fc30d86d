#!/bin/sh
# www.sh SRC DEST: the portal as nginx serves it, from the repository's www/ (SRC) into
# DEST, with its assets under a name that changes whenever they do, so that browsers
# may keep them for a year and still never run a stale one:
#
#   DEST/app/<hash>/...   a copy of SRC/app/ (the modules, the style sheet, the icon);
#                         <hash> = the first 12 hex digits of the SHA-256 of every file's
#                         name and contents under SRC/app/. nginx/kaiden.conf serves these
#                         paths with a one-year lifetime.
#   DEST/index.html,      SRC's pages, with every "/app/ reference rewritten to
#   DEST/help.html        "/app/<hash>/: revalidated at every load (no-cache), so a new
#                         release is seen at once.
#   DEST/...              SRC's other top-level files, as they are.
#
# The modules import each other by relative paths ('./api.js', '../dom.js'), which stay
# inside the hashed directory: nothing under app/ is rewritten. Nothing in SRC changes.
#
# Used by scripts/stack.sh (make run and the tests: each stack writes its own copy under
# its directory), by `make www` (build/www) and by a sysadmin installing the portal
# (README: sh scripts/www.sh www /usr/share/kaiden/www). Safe on a live DEST: the new
# app/<hash>/ is complete before the pages point at it (each page is replaced by a
# rename), and only then are other app/ entries removed. Prints nothing when DEST is
# already up to date, one line when it wrote something.
set -eu

[ $# -eq 2 ] || { echo "usage: scripts/www.sh SRC DEST" >&2; exit 2; }
src=$1
dest=$2
if [ ! -f "$src/index.html" ] || [ ! -d "$src/app" ]; then
	echo "www.sh: $src is not the portal (no index.html and app/)" >&2
	exit 1
fi

# Every file's name and contents, in a fixed order, then the digest of that list.
hash=$(cd "$src/app" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
	sha256sum | cut -c1-12)
case $hash in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) echo "www.sh: could not hash $src/app" >&2; exit 1 ;;
esac

mkdir -p "$dest/app"
wrote=

# 1. The assets, complete under their new name before anything points at them.
if [ ! -d "$dest/app/$hash" ]; then
	rm -rf "$dest/app/.$hash.tmp"
	cp -R "$src/app" "$dest/app/.$hash.tmp"
	chmod -R a+rX "$dest/app/.$hash.tmp"
	mv "$dest/app/.$hash.tmp" "$dest/app/$hash"
	wrote=1
fi

# 2. The top-level files (pages rewritten), each replaced by a rename when it differs.
for f in "$src"/*; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	tmp=$dest/.$name.tmp
	case $name in
	*.html) sed "s|\"/app/|\"/app/$hash/|g" "$f" >"$tmp" ;;
	*) cp "$f" "$tmp" ;;
	esac
	chmod a+r "$tmp"
	if cmp -s "$tmp" "$dest/$name"; then
		rm -f "$tmp"
	else
		mv "$tmp" "$dest/$name"
		wrote=1
	fi
done

# 3. Whatever else is under app/ (an older hash, a plain copy of www/app/) goes.
for old in "$dest/app"/* "$dest/app"/.[!.]*; do
	[ -e "$old" ] || continue
	[ "$old" = "$dest/app/$hash" ] && continue
	rm -rf "$old"
	wrote=1
done

[ -z "$wrote" ] || echo "www.sh: $dest: the portal, assets under /app/$hash/"
