# helper.bash: loaded by every bats test (load helper in setup()).
#
# Puts the built programs first on PATH and names the sample data of the
# original release. The build tree is MLI_BUILDDIR and the sources
# MLI_SRCDIR (set by make check); run by hand, they default to the
# directories around this file.

bats_require_minimum_version 1.5.0

: "${MLI_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${MLI_BUILDDIR:=$MLI_SRCDIR}"
: "${MLI_DATA:=$MLI_SRCDIR/../shared/data/tencent-ml-images}"
PATH="$MLI_BUILDDIR/filters:$PATH"
DATA=$MLI_DATA
IMAGES=$DATA/images
# Debian's dataset-fashion-mnist: real images for the training tests.
FASHION=/usr/share/datasets/fashion-mnist

# Fails the test unless the sample data is there: the tests need it.
require_data() {
	[ -f "$DATA/train_urls_tiny.txt" ] || {
		echo "sample data missing: $DATA" >&2
		return 1
	}
}

# Fails the test unless Debian's dataset-fashion-mnist is installed.
require_fashion() {
	[ -f "$FASHION/t10k-images-idx3-ubyte.gz" ] || {
		echo "dataset-fashion-mnist missing: $FASHION" >&2
		return 1
	}
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# Starts nginx in directory $1 (its configuration, logs and pid file
# nginx.pid), serving the sample photographs on a free loopback port, and
# under /slow/ at $2 (such as 100k) a second a request; exports NGINX_PORT
# once it answers. nginx_stop DIR ends it (in teardown_file).
nginx_start() {
	local dir=$1 rate=$2
	mkdir -p "$dir"
	NGINX_PORT=$(free_port)
	sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ROOT@|$IMAGES|g" \
		-e "s|@RATE@|$rate|g" "$MLI_SRCDIR/tests/nginx-fetch.conf" > "$dir/nginx.conf"
	nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
		-g 'daemon off; master_process off;' 3>&- &
	echo $! > "$dir/nginx.pid"
	export NGINX_PORT
	for _ in $(seq 100); do
		curl -fso /dev/null "http://127.0.0.1:$NGINX_PORT/im_3.jpg" && return 0
		sleep 0.1
	done
	echo "nginx did not answer on 127.0.0.1:$NGINX_PORT" >&2
	return 1
}

nginx_stop() {
	[ -f "$1/nginx.pid" ] && kill "$(cat "$1/nginx.pid")" 2>/dev/null || true
}

# Prints the examples of a man page as a script of tab-separated lines:
# "cmd<TAB>COMMAND" for each "$ COMMAND" line of the EXAMPLES section's
# literal displays, and "out<TAB>LINE" for each line of expected output
# shown after it.
man_examples() {
	awk '
		/^\.Sh / { in_ex = ($2 == "EXAMPLES") }
		in_ex && /^\.Bd -literal/ { lit = 1; next }
		in_ex && /^\.Ed/ { lit = 0; next }
		in_ex && lit && /^\$ / { sub(/^\$ /, ""); print "cmd\t" $0; next }
		in_ex && lit { print "out\t" $0 }
	' "$1" | sed 's/\\e/\\/g; s/\\(aq/'"'"'/g'
}

# Runs every example of a man page in the current directory with bash,
# requiring each command to succeed and, where the page shows output, to
# print exactly that.
run_man_examples() {
	local kind line cmd="" expected="" got
	check_one() {
		[ -n "$cmd" ] || return 0
		got=$(bash -o pipefail -c "$cmd" 2>"$BATS_TEST_TMPDIR/example.err") || {
			echo "example failed: $cmd"
			cat "$BATS_TEST_TMPDIR/example.err"
			return 1
		}
		if [ -n "$expected" ] && [ "$got" != "${expected%$'\n'}" ]; then
			echo "example: $cmd"
			echo "expected: ${expected%$'\n'}"
			echo "got:      $got"
			return 1
		fi
	}
	while IFS=$'\t' read -r kind line; do
		if [ "$kind" = cmd ]; then
			check_one || return 1
			cmd=$line
			expected=""
		else
			expected+="$line"$'\n'
		fi
	done < <(man_examples "$1")
	check_one
}
