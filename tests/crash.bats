#!/usr/bin/env bats
# crash.bats: the long-running programs killed at several points.
#
# mli-fetch is killed with SIGKILL mid-download at three points and
# resumed each time: the end result holds every image once, byte for byte
# as an uninterrupted run. mli-decode is killed after 1, 3 and 7 frames of
# output, and once exactly inside a frame (a file size limit: SIGXFSZ in
# the middle of a write): what is left is always a prefix of the complete
# output, whole frames that mli-cat reads back and a cut that it reports
# as truncated. mli-train is killed inside a checkpoint write (SIGXFSZ
# again) and with SIGKILL at several points: the latest checkpoint always
# loads, a temporary file never replaces a good checkpoint, and --resume
# ends where an uninterrupted run ends, tensor for tensor.

setup_file() {
	load helper
	local d=$BATS_FILE_TMPDIR
	# nginx on loopback serves the sample photographs under /slow/ at
	# 100 KB/s a request (the first 100 KB at once), so that a transfer
	# lasts from 0.7 to 2 seconds.
	nginx_start "$d/nginx" 100k
}

teardown_file() {
	load helper
	nginx_stop "$BATS_FILE_TMPDIR/nginx"
}

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	PATH="$MLI_BUILDDIR/tests:$PATH"
}

# Waits (at most 30 s) until file $1 holds at least $2 bytes.
wait_for_size() {
	for _ in $(seq 600); do
		[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "$1 never reached $2 bytes" >&2
	return 1
}

# Kills process $1 with SIGKILL and reaps it.
kill9() {
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# The byte offsets of the frames of stream $1, one a line.
frame_offsets() {
	mli-cat --json "$1" | sed 's/^{"offset":\([0-9]*\),.*/\1/'
}

# Asserts that file $1 is a prefix of file $2, byte for byte.
assert_prefix() {
	local n
	n=$(stat -c %s "$1")
	cmp -n "$n" "$1" "$2" || { echo "$1 ($n bytes) is not a prefix of $2"; return 1; }
}

# Asserts that stream $1 holds whole frames up to a cut that mli-cat
# reports as the one fault, at its end: --skip-bad skips nothing else.
assert_whole_frames_then_cut() {
	run -1 --separate-stderr mli-cat --verify "$1"
	[[ "$stderr" == "mli-cat: $1: offset "[0-9]*": "* ]] || { echo "$stderr"; return 1; }
	[[ "$stderr" == *"truncated frame"* || "$stderr" == *"stream ends without an end frame"* ]] ||
		{ echo "$stderr"; return 1; }
	run -1 --separate-stderr mli-cat --skip-bad "$1"
	[[ "$stderr" != *"bad frame"* && "$stderr" != *skipped* ]] || { echo "$stderr"; return 1; }
}

@test "mli-fetch killed mid-download three times and resumed loses and duplicates nothing" {
	local i
	# Nine photographs of 170 to 300 KB through the slow location.
	for i in $(seq 9); do
		printf 'http://127.0.0.1:%s/slow/im_%d.jpg?n=%d\t%d:0.9\t%d:1\n' "$NGINX_PORT" $((i % 3 + 1)) "$i" "$i" $((i + 100))
	done > list.txt
	# The uninterrupted run, from the fast location.
	sed 's,/slow/,/,' list.txt | mli-fetch -q -j 9 > whole.mli
	[ "$(mli-cat --count whole.mli)" -eq 9 ]
	# Three runs, each killed once it has written one more image (150 KB
	# more: every image is larger; they are written as they complete, the
	# others still arriving), each resuming from what the last one left.
	# The thresholds are relative: a run that began past a fixed one would
	# be killed before fetching anything. Two transfers at a time leave
	# at least three images to the last run.
	for round in 1 2 3; do
		start=$(stat -c %s out.mli 2>/dev/null || echo 0)
		mli-fetch -q -j 2 --resume out.mli list.txt 2> err.txt 3>&- &
		pid=$!
		wait_for_size out.mli $((start + 150000))
		kill9 $pid
		[ ! -s err.txt ]
		# Only whole frames and at most a cut at the end; the records
		# there are some of the list's, each once.
		assert_whole_frames_then_cut out.mli
		mli-cat --skip-bad -q --list out.mli > part.txt || true
		[ "$(wc -l < part.txt)" -ge 1 ] && [ "$(wc -l < part.txt)" -lt 9 ]
		[ "$(cut -f2 part.txt | sort | uniq -d | wc -l)" -eq 0 ]
	done
	run -0 --separate-stderr mli-fetch -j 9 --resume out.mli list.txt
	[[ "$stderr" == "mli-fetch: 9 lines, "*" ok, 0 failed, "*" already done"* ]]
	run -0 --separate-stderr mli-cat --verify out.mli
	[[ "$output" == "out.mli: ok, 9 records in "[2-4]" segments" ]]
	# The same records as the uninterrupted run, labels and bytes alike.
	diff <(mli-cat --list out.mli | sed 's,/slow/,/,' | sort) <(mli-cat --list whole.mli | sort)
	diff <(mli-cat -x a out.mli >/dev/null && cd a && sha256sum * | sort) \
		<(mli-cat -x b whole.mli >/dev/null && cd b && sha256sum * | sort)
}

@test "mli-decode killed after 1, 3 and 5 frames leaves a prefix of whole frames" {
	local offs ins i k
	# Twelve records fed one every 0.15 s through a pipe that then stays
	# open; decoded at a size whose frames are each written on their own.
	mli-fetch -q -r "$IMAGES" <(printf 'im_%d.jpg\t1:1\n' 1 2 3 1 2 3 1 2 3 1 2 3) > enc.mli
	mli-decode -q -s 256 -j 2 enc.mli > whole.mli
	mapfile -t offs < <(frame_offsets whole.mli)
	mapfile -t ins < <(frame_offsets enc.mli)
	ins+=("$(stat -c %s enc.mli)")
	for k in 1 3 5; do
		rm -f out.mli feed
		mkfifo feed
		{
			for i in $(seq 0 11); do
				tail -c +$((ins[i] + 1)) enc.mli | head -c $((ins[i + 1] - ins[i]))
				sleep 0.15
			done
			exec sleep 30
		} > feed 3>&- &
		feeder=$!
		mli-decode -q -s 256 -j 2 < feed > out.mli 3>&- &
		pid=$!
		# k frames are out when frame k (0-based) begins.
		wait_for_size out.mli "${offs[k]}"
		kill9 $pid
		kill9 $feeder
		assert_prefix out.mli whole.mli
		assert_whole_frames_then_cut out.mli
		run -1 --separate-stderr mli-cat --skip-bad -q --count out.mli
		[ "$output" -ge "$k" ] && [ "$output" -lt 12 ]
	done
}

@test "mli-decode killed inside a frame (file size limit) leaves whole frames and a visible cut" {
	mli-fetch -q -r "$IMAGES" <(printf 'im_%d.jpg\t1:1\n' 1 2 3 1 2 3) > enc.mli
	mli-decode -q -s 100 enc.mli > whole.mli
	# 100 KiB: inside the third frame (about 45 KB each).
	run -153 bash -c 'ulimit -f 100; exec mli-decode -q -s 100 enc.mli > out.mli'
	[ "$(stat -c %s out.mli)" -eq 102400 ]
	assert_prefix out.mli whole.mli
	assert_whole_frames_then_cut out.mli
	run -1 --separate-stderr mli-cat --verify out.mli
	[[ "$stderr" == *"truncated frame payload" ]]
	run -1 --separate-stderr mli-cat --skip-bad -q --list out.mli
	[ "${#lines[@]}" -eq 2 ]
	diff <(printf '%s\n' "${lines[@]}") <(mli-cat --list whole.mli | head -2)
}

# The tensor bytes of a checkpoint (everything after the JSON header).
tensors() {
	python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; sys.stdout.buffer.write(b[8+n:])' "$1"
}

@test "mli-train killed inside a checkpoint write keeps the latest checkpoint, and resumes exactly" {
	local small=(--arch 1,1 --width 4 --threads 2 --snapshot 1)
	local set="$FASHION/t10k-images-idx3-ubyte.gz $FASHION/t10k-labels-idx1-ubyte.gz"
	# shellcheck disable=SC2086
	mkmosaic batches $set 8 8 3 > all.mli
	# shellcheck disable=SC2086
	mkmosaic batches $set 4 8 3 > first.mli
	# shellcheck disable=SC2086
	mkmosaic batches $set 8 8 3 4 > rest.mli
	mli-train -q "${small[@]}" --checkpoint-dir whole < all.mli 2>/dev/null
	mli-train -q "${small[@]}" --checkpoint-dir ck < first.mli 2>/dev/null
	[ "$(readlink ck/latest.safetensors)" = step-00000004.safetensors ]
	cp ck/step-00000004.safetensors good.safetensors
	size=$(stat -c %s good.safetensors)
	# A file size limit under one checkpoint: the next write dies in the
	# middle (SIGXFSZ), after the step has been trained.
	run -153 bash -c "ulimit -f $((size / 1024 / 2)); exec mli-train -q ${small[*]} --checkpoint-dir ck --resume < rest.mli"
	[ "$(readlink ck/latest.safetensors)" = step-00000004.safetensors ]
	cmp ck/step-00000004.safetensors good.safetensors
	[ ! -e ck/step-00000005.safetensors ]
	# The latest checkpoint loads, and the run resumes where it stopped.
	run -0 mkmosaic eval ck/latest.safetensors < first.mli
	run -0 --separate-stderr mli-train -q "${small[@]}" --checkpoint-dir ck --resume < rest.mli
	[ "$(readlink ck/latest.safetensors)" = step-00000008.safetensors ]
	cmp <(tensors ck/step-00000008.safetensors) <(tensors whole/step-00000008.safetensors)
}

# Asserts that each file named is a whole safetensors file: its header
# parses and its tensors end where the file ends.
assert_safetensors() {
	python3 -c '
import json, struct, sys
for f in sys.argv[1:]:
    b = open(f, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
    if 8 + n + end != len(b):
        sys.exit(f + " is not a whole checkpoint")' "$@"
}

@test "mli-train killed with SIGKILL at several points always leaves a latest checkpoint that loads" {
	local small=(--arch 1,1 --width 8 --threads 2 --snapshot 1)
	local set="$FASHION/t10k-images-idx3-ubyte.gz $FASHION/t10k-labels-idx1-ubyte.gz"
	local k resume=()
	# shellcheck disable=SC2086
	mkmosaic batches $set 20 8 3 > all.mli
	for k in 2 5 9; do
		mli-train -q "${small[@]}" --checkpoint-dir ck "${resume[@]}" < all.mli 2>/dev/null 3>&- &
		pid=$!
		resume=(--resume)
		# Kill once the latest checkpoint is of step k or later: the next
		# write is under way or about to be.
		for _ in $(seq 1000); do
			latest=$(readlink ck/latest.safetensors 2>/dev/null || echo step-0)
			latest=${latest#step-}
			[ "$((10#${latest%.safetensors}))" -ge "$k" ] && break
			sleep 0.01
		done
		kill9 $pid
		run -0 mkmosaic eval ck/latest.safetensors < all.mli
		[[ "$output" == *mAP* ]]
		# Every file under a checkpoint's name is whole: no temporary
		# file took one.
		assert_safetensors ck/step-*.safetensors
	done
}
