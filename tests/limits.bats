#!/usr/bin/env bats
# limits.bats: every program at the end of a resource.
#
# Few descriptors (ulimit -n), little memory (ulimit -v), a full disk (a
# 1 MiB tmpfs, mounted by the test as root) and a downstream that closes
# early: each program must end with a one-line message naming what it
# could not read or write and a defined exit status, never hang (every
# run is under timeout(1)) and never leave a corrupt output: what was
# written verifies, or reads as truncated, or is not there at all.

setup_file() {
	load helper
	require_data
	local d=$BATS_FILE_TMPDIR
	cd "$d"
	# nginx on loopback, for mli-fetch with many transfers.
	nginx_start "$d/nginx" 100k
	head -4 "$DATA/train_im_list_tiny.txt" | awk -F'\t' -v OFS='\t' '{ $1 = "im_" NR - 1 ".jpg"; print }' > list4.txt
	mli-fetch -q -r "$IMAGES" list4.txt > enc.mli
	mli-fetch -q -r "$IMAGES" <(head -1 list4.txt) > im0.mli
	mli-decode -q -s 64 enc.mli > img.mli
	mli-cat img.mli img.mli img.mli > img12.mli
	mli-augment -q --train --size 32 img12.mli > aug.mli
	for _ in $(seq 20); do cat "$DATA"/tfrecords/*.tfrecords; done > shards.tfrecords
	"$MLI_BUILDDIR/tests/mkmosaic" batches "$FASHION/t10k-images-idx3-ubyte.gz" \
		"$FASHION/t10k-labels-idx1-ubyte.gz" 6 8 3 > mosaics.mli
	mli-train -q --arch 1,1 --width 4 --threads 2 --checkpoint-dir ckpt < mosaics.mli 2>/dev/null
}

teardown_file() {
	load helper
	nginx_stop "$BATS_FILE_TMPDIR/nginx"
}

setup() {
	load helper
	cd "$BATS_TEST_TMPDIR"
	F=$BATS_FILE_TMPDIR
}

teardown() {
	if [ -n "${FULL:-}" ] && mountpoint -q "$FULL"; then
		umount "$FULL"
	fi
}

# Runs a shell command line under a 60 s timeout; sets status and stderr
# as run does (stdout goes where the command line sends it).
limited() {
	status=0
	timeout 60 bash -c "$1" 2> err.txt || status=$?
	stderr=$(cat err.txt)
}

# Asserts exit status 1 and a single message line, from program $1,
# holding each further argument.
assert_one_line_failure() {
	local prog=$1 what
	shift
	[ "$status" -eq 1 ] || { echo "status $status (124: timed out), stderr: $stderr"; return 1; }
	[ "$(wc -l <<< "$stderr")" -eq 1 ] || { echo "not one line: $stderr"; return 1; }
	[[ "$stderr" == "$prog: "* ]] || { echo "stderr: $stderr"; return 1; }
	for what in "$@"; do
		[[ "$stderr" == *"$what"* ]] || { echo "no '$what' in: $stderr"; return 1; }
	done
}

# Asserts that stream $1 is complete, or else whole frames with a cut
# that mli-cat reports as truncation, or that it is empty.
assert_not_corrupt() {
	[ -s "$1" ] || return 0
	run --separate-stderr mli-cat --verify "$1"
	[ "$status" -eq 0 ] && return 0
	[[ "$stderr" == *"truncated frame"* || "$stderr" == *"stream ends without an end frame"* ||
		"$stderr" == *"stream ends before its end frame"* ]] || { echo "$1: $stderr"; return 1; }
	run -1 --separate-stderr mli-cat --skip-bad "$1"
	[[ "$stderr" != *"bad frame"* && "$stderr" != *skipped* ]] || { echo "$1: $stderr"; return 1; }
}

# Whether the programs are built with AddressSanitizer, which reserves
# terabytes of address space and so cannot run under ulimit -v.
asan_build() {
	grep -q '^SAN_CFLAGS = .*-fsanitize=address' "$MLI_BUILDDIR/Makefile" 2>/dev/null
}

@test "with ulimit -n 64, mli-fetch with 256 jobs fetches every image" {
	local i
	for i in $(seq 150); do
		printf 'http://127.0.0.1:%s/im_%d.jpg?n=%d\t%d:1\n' "$NGINX_PORT" $((i % 3 + 1)) "$i" "$i"
	done > list.txt
	limited "ulimit -n 64; exec mli-fetch -j 256 -f failures.tsv list.txt > out.mli"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[[ "$stderr" == "mli-fetch: --jobs 256 lowered to 16 to stay within the descriptor limit"$'\n'"mli-fetch: 150 lines, 150 ok, 0 failed, "* ]]
	run -0 mli-cat --verify out.mli
	[ "$output" = "out.mli: ok, 150 records in 1 segments" ]
	[ ! -s failures.tsv ]
}

@test "with ulimit -n 64, descriptors already taken make mli-fetch fail with a message, not blame the files" {
	local i
	for i in $(seq 40); do printf 'im_%d.jpg\t%d:1\n' $((i % 3 + 1)) "$i"; done > list.txt
	# 53 of the 64 descriptors held open by the parent: the libraries
	# load, the event loop starts, and no file can be opened.
	limited "exec > out.mli; ulimit -n 64; for fd in \$(seq 3 63); do eval \"exec \$fd>&-\"; done; for fd in \$(seq 3 55); do eval \"exec \$fd</dev/null\"; done; exec mli-fetch -j 8 -r '$IMAGES' -f failures.tsv list.txt"
	assert_one_line_failure mli-fetch "out of file descriptors: Too many open files"
	[ ! -s failures.tsv ]
	assert_not_corrupt out.mli
}

@test "with ulimit -n 16, the programs that read many files close each one" {
	local files=() augs=()
	for _ in $(seq 40); do files+=("$F/img.mli"); augs+=("$F/aug.mli"); done
	limited "ulimit -n 16; exec mli-cat ${files[*]} > cat.mli"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ "$(mli-cat --count cat.mli)" -eq 160 ]
	limited "ulimit -n 16; exec mli-batch --size 16 ${augs[*]} > batch.mli"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ "$(mli-cat --count batch.mli)" -eq 30 ]
	limited "ulimit -n 16; exec mli-stats ${files[*]} > stats.txt"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	grep -q $'^images\t160$' stats.txt
	limited "ulimit -n 16; exec mli-export --tfrecord -o shard -n 10 $(for _ in $(seq 10); do printf '%s ' "$F/enc.mli"; done)"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ "$(ls shard-*.tfrecords | wc -l)" -eq 4 ]
}

@test "with ulimit -v tight, the programs say they ran out of memory, naming what" {
	if asan_build; then
		skip "AddressSanitizer reserves more address space than any ulimit -v leaves"
	fi
	# Decoding the 10-megapixel photograph needs 30 MB for its pixels.
	limited "ulimit -v 60000; exec mli-decode -j 2 '$F/im0.mli' > dec.mli"
	[ "$status" -eq 0 ] || [ "$status" -eq 1 ]
	[[ "$stderr" == *"out of memory"* || "$stderr" == *"Cannot allocate memory"* ]] || { echo "$stderr"; false; }
	assert_not_corrupt dec.mli
	# A ResNet-101 does not fit in 400 MB.
	limited "ulimit -v 400000; exec mli-train --threads 2 --checkpoint-dir big < '$F/mosaics.mli'"
	[ "$status" -eq 1 ]
	[[ "$(tail -n 1 <<< "$stderr")" == "mli-train: "*"out of memory" ]] || { echo "$stderr"; false; }
	[ ! -e big/latest.safetensors ]
	# A batch with a million label columns, a shuffle buffer of 16M
	# records, an augmentation to 8192x8192.
	limited "ulimit -v 100000; exec mli-batch --size 64 --classes 1000000 '$F/aug.mli' > b.mli"
	assert_one_line_failure mli-batch "a batch of 64 images with 1000000 classes: out of memory"
	assert_not_corrupt b.mli
	limited "ulimit -v 60000; exec mli-batch --shuffle 16000000 '$F/aug.mli' > b.mli"
	assert_one_line_failure mli-batch "--shuffle 16000000: out of memory"
	limited "ulimit -v 100000; exec mli-augment --train --size 8192 '$F/img.mli' > a.mli"
	assert_one_line_failure mli-augment "img.mli: im_0.jpg: out of memory"
	assert_not_corrupt a.mli
}

# Mounts a tmpfs of ${2:-1024} KiB on full/ (as root; the CI runs as
# root) and fills all but $1 KiB of it.
full_disk() {
	local size=${2:-1024}
	[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
	FULL=$BATS_TEST_TMPDIR/full
	mkdir -p "$FULL"
	mount -t tmpfs -o "size=${size}k" tmpfs "$FULL"
	dd if=/dev/zero of="$FULL/filler" bs=1k count=$((size - $1)) 2>/dev/null || true
}

@test "on a full disk every program that writes frames says so, names its output and leaves no corrupt stream" {
	full_disk 4
	limited "exec mli-cat '$F/enc.mli' > '$FULL/cat.mli'"
	assert_one_line_failure mli-cat "stdout: No space left on device"
	assert_not_corrupt "$FULL/cat.mli"
	limited "exec mli-fetch -q -r '$IMAGES' '$F/list4.txt' > '$FULL/fetch.mli'"
	assert_one_line_failure mli-fetch "stdout: No space left on device"
	assert_not_corrupt "$FULL/fetch.mli"
	rm -f "$FULL"/*.mli
	limited "exec mli-decode -q -s 256 '$F/enc.mli' > '$FULL/decode.mli'"
	assert_one_line_failure mli-decode "stdout: No space left on device"
	assert_not_corrupt "$FULL/decode.mli"
	rm -f "$FULL"/*.mli
	limited "exec mli-augment -q --train --size 224 '$F/img12.mli' > '$FULL/augment.mli'"
	assert_one_line_failure mli-augment "stdout: No space left on device"
	assert_not_corrupt "$FULL/augment.mli"
	rm -f "$FULL"/*.mli
	limited "exec mli-batch -q --size 2 --classes 11166 '$F/aug.mli' > '$FULL/batch.mli'"
	assert_one_line_failure mli-batch "stdout: No space left on device"
	assert_not_corrupt "$FULL/batch.mli"
	rm -f "$FULL"/*.mli
	limited "exec mli-import -q '$F/shards.tfrecords' > '$FULL/import.mli'"
	assert_one_line_failure mli-import "stdout: No space left on device"
	assert_not_corrupt "$FULL/import.mli"
	rm -f "$FULL"/*.mli
	limited "exec mli-eval -q -c '$F/ckpt/latest.safetensors' --features < '$F/mosaics.mli' > '$FULL/features.mli'"
	assert_one_line_failure mli-eval "stdout: No space left on device"
	assert_not_corrupt "$FULL/features.mli"
	rm -f "$FULL"/*.mli
	# Without -q: the closing summary is not printed before the failure.
	limited "exec mli-eval -c '$F/ckpt/latest.safetensors' --predict 13 < '$F/mosaics.mli' > '$FULL/p.tsv'"
	assert_one_line_failure mli-eval "stdout: No space left on device"
	rm -f "$FULL/p.tsv"
	# A .npy that does not fit is not left behind cut, nor its temporary.
	limited "exec mli-eval -q -c '$F/ckpt/latest.safetensors' --features-npy '$FULL/f.npy' < '$F/mosaics.mli' > /dev/null"
	assert_one_line_failure mli-eval "$FULL/f.npy: No space left on device"
	[ "$(ls -A "$FULL")" = filler ]
}

@test "mli-fetch --resume on a full disk stops with a message, and completes once there is room" {
	full_disk 600 4096
	limited "exec mli-fetch -q -r '$IMAGES' --resume '$FULL/out.mli' '$F/list4.txt'"
	assert_one_line_failure mli-fetch "$FULL/out.mli: No space left on device"
	assert_not_corrupt "$FULL/out.mli"
	rm "$FULL/filler"
	limited "exec mli-fetch -r '$IMAGES' --resume '$FULL/out.mli' '$F/list4.txt'"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	run -0 mli-cat --verify "$FULL/out.mli"
	[[ "$output" == *": ok, 4 records in "[12]" segments" ]]
	diff <(mli-cat --list "$FULL/out.mli" | sort) <(mli-cat --list "$F/enc.mli" | sort)
}

@test "on a full disk the programs that write files leave none under its final name unless whole" {
	full_disk 8
	# TFRecord shards: the open one keeps its temporary name.
	limited "exec mli-export -q -o '$FULL/shard' '$F/enc.mli'"
	assert_one_line_failure mli-export "$FULL/shard-00000.tfrecords.tmp: No space left on device"
	[ ! -e "$FULL/shard-00000.tfrecords" ]
	rm -f "$FULL"/shard*
	# Figures: no empty TSV, no cut PNG.
	limited "exec mli-stats -o '$FULL/figures' '$F/enc.mli' > /dev/null"
	[ "$status" -eq 1 ] && [[ "$stderr" == "mli-stats: $FULL/figures"*"No space left on device"* ||
		"$stderr" == "mli-stats: $FULL/figures: gnuplot failed"* ]] || { echo "$stderr"; false; }
	for f in "$FULL"/figures/*; do
		[ -e "$f" ] || continue
		case $f in
		*.tsv) [ -s "$f" ] ;;
		*.png) [ "$(tail -c 8 "$f" | od -An -c | tr -d ' ')" = "IEND\256B\`\202" ] ;;
		*) echo "left behind: $f"; false ;;
		esac
	done
	rm -rf "$FULL/figures"
	# Extracted images: whole or not at all.
	limited "exec mli-cat -x '$FULL/images' '$F/enc.mli'"
	assert_one_line_failure mli-cat "$FULL/images/im_0.jpg: No space left on device"
	[ -z "$(ls "$FULL/images")" ]
	# The failures log.
	printf 'missing-%d.jpg\t1:1\n' $(seq 2000) > missing.txt
	limited "exec mli-fetch -q -r '$IMAGES' -f '$FULL/failures.tsv' missing.txt > /dev/null"
	assert_one_line_failure mli-fetch "$FULL/failures.tsv: No space left on device"
	rm -f "$FULL/failures.tsv"
}

@test "mli-train on a full disk keeps its latest checkpoint whole" {
	full_disk 1000
	mli-train -q --arch 1,1 --width 4 --threads 2 --checkpoint-dir "$FULL/ck" < "$F/mosaics.mli" 2>/dev/null
	[ "$(readlink "$FULL/ck/latest.safetensors")" = step-00000006.safetensors ]
	cp "$FULL/ck/step-00000006.safetensors" good.safetensors
	dd if=/dev/zero of="$FULL/filler2" bs=1k count=1024 2>/dev/null || true
	limited "exec mli-train -q --arch 1,1 --width 4 --threads 2 --checkpoint-dir '$FULL/ck' --resume < '$F/mosaics.mli'"
	[ "$status" -eq 1 ]
	[[ "$(tail -n 1 <<< "$stderr")" == "mli-train: $FULL/ck/"*"No space left on device" ]] || { echo "$stderr"; false; }
	[ "$(readlink "$FULL/ck/latest.safetensors")" = step-00000006.safetensors ]
	cmp "$FULL/ck/step-00000006.safetensors" good.safetensors
	[ ! -e "$FULL/ck/step-00000012.safetensors" ]
}

@test "a downstream that closes early ends the text writers quietly" {
	local p
	for p in "mli-cat --list $F/img12.mli $F/img12.mli $F/img12.mli" "mli-cat --json $F/img12.mli" \
		"mli-stats $F/img12.mli" "mli-eval -q -c $F/ckpt/latest.safetensors --predict 3 < $F/mosaics.mli"; do
		timeout 60 bash -c "exec $p" 2> err.txt | head -c 10 > /dev/null
		status=${PIPESTATUS[0]}
		[ "$status" -eq 0 ] || [ "$status" -eq 141 ] || { echo "$p: status $status"; false; }
		[ ! -s err.txt ] || { echo "$p: $(cat err.txt)"; false; }
	done
}
