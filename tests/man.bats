#!/usr/bin/env bats
# man.bats: every man page is clean mdoc, and every program's page and
# --help name the same options.

setup() {
	load helper
}

@test "every man page passes mandoc -Tlint at warning level" {
	for page in "$MLI_SRCDIR"/man/*.[0-9]; do
		run -0 "${MANDOC:-mandoc}" -Tlint -W warning "$page"
		[ -z "$output" ] || { echo "$page: $output"; false; }
	done
}

@test "every long option in a program's --help has an entry in its man page, and back" {
	for src in "$MLI_SRCDIR"/filters/mli-*.c; do
		prog=$(basename "$src" .c)
		page="$MLI_SRCDIR/man/$prog.1"
		[ -f "$page" ] || { echo "$prog has no man page"; false; }
		run -0 "$prog" --help
		from_help=$(grep -o -- '--[a-z][a-z0-9-]*' <<<"$output" | sort -u)
		# The entries of the options list: ".It Fl x , Fl Fl name ...".
		from_page=$(grep -E '^\.It (Fl|Xo)' "$page" | grep -o 'Fl Fl [a-z][a-z0-9-]*' | sed 's/Fl Fl /--/' | sort -u)
		[ "$from_help" = "$from_page" ] || {
			echo "$prog: --help and man page differ:"
			diff <(echo "$from_help") <(echo "$from_page")
			false
		}
	done
}

@test "every program answers --version with the package version" {
	for src in "$MLI_SRCDIR"/filters/mli-*.c; do
		prog=$(basename "$src" .c)
		run -0 "$prog" --version
		[[ "$output" == "$prog (mli) "[0-9]* ]]
	done
}
