# Debian source packages in a private apt state (sourced by tools/*.sh).
#
# debsrc_setup DIR     write deb-src entries for the Debian archives this
#                      machine already uses into DIR, and apt-get update there;
#                      the system's apt configuration is left alone
# debsrc_opts DIR      the apt-get options that use DIR's state
# debsrc_fetch DIR SRC[=VERSION] DEST
#                      apt-get source --download-only into DEST
# Functions return non-zero on failure; callers decide how to report it.

debsrc_opts() {
	local a=$1
	echo "-o Dir::Etc::SourceList=$a/sources.list"
	echo "-o Dir::Etc::SourceParts=$a/sources.list.d"
	echo "-o Dir::State::Lists=$a/lists"
	echo "-o Dir::Cache=$a/cache"
	[ "$(id -u)" -eq 0 ] && echo "-o APT::Sandbox::User=root"
	echo "-q"
}

debsrc_setup() {
	local a=$1 f
	mkdir -p "$a/lists/partial" "$a/sources.list.d" "$a/cache/archives/partial"
	: > "$a/sources.list"
	rm -f "$a/sources.list.d/"*
	# deb822 files: keep stanzas whose URIs are Debian's, as deb-src.
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
		     /URIs:[^\n]*debian/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' \
			"$f" > "$a/sources.list.d/$(basename "$f")"
	done
	# one-line format
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' "$f" >> "$a/sources.list"
	done
	# shellcheck disable=SC2046
	apt-get $(debsrc_opts "$a") update >&2
}

debsrc_fetch() {
	# shellcheck disable=SC2046
	(cd "$3" && apt-get $(debsrc_opts "$1") source --download-only "$2" >&2)
}
