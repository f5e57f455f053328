# helper.bash: loaded by every bats test (load helper in setup()).
#
# Puts the built programs first on PATH and names the sample data of the
# original release. The build tree is MLI_BUILDDIR and the sources
# MLI_SRCDIR (set by make check); run by hand, they default to the
# directories around this file.

: "${MLI_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${MLI_BUILDDIR:=$MLI_SRCDIR}"
: "${MLI_DATA:=$MLI_SRCDIR/../shared/data/tencent-ml-images}"
PATH="$MLI_BUILDDIR/filters:$PATH"
DATA=$MLI_DATA
IMAGES=$DATA/images

# Fails the test unless the sample data is there: the tests need it.
require_data() {
	[ -f "$DATA/train_urls_tiny.txt" ] || {
		echo "sample data missing: $DATA" >&2
		return 1
	}
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}
