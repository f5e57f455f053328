#!/usr/bin/env bats
# pipes.bats: every program in a pipe whose other end goes away.
#
# A consumer that exits early (head -c 100) must end every program that
# writes frames quietly: killed by SIGPIPE as cat(1) would be, nothing on
# stderr. A producer that dies (kill -9 after some bytes, at a frame
# boundary and inside a frame) must make every program that reads frames
# say that its stream is truncated, name it, and exit 1; and what such a
# program wrote itself must read as truncated too, never as complete.
# The outputs are made larger than a pipe can hold (1 MiB, which the
# writer asks for), so that the closed pipe is always met.

setup_file() {
	load helper
	require_data
	local d=$BATS_FILE_TMPDIR
	cd "$d"
	head -4 "$DATA/train_im_list_tiny.txt" | awk -F'\t' -v OFS='\t' '{ $1 = "im_" NR - 1 ".jpg"; print }' > list4.txt
	mli-fetch -q -r "$IMAGES" list4.txt > enc.mli
	mli-decode -q -s 64 enc.mli > img.mli
	mli-cat img.mli img.mli img.mli > img12.mli
	mli-augment -q --train --size 32 img12.mli > aug.mli
	mli-cat aug.mli aug.mli aug.mli aug.mli aug.mli aug.mli > aug72.mli
	for _ in $(seq 20); do cat "$DATA"/tfrecords/*.tfrecords; done > shards.tfrecords
	# A checkpoint of a tiny network, and batches that fit it.
	local fashion=/usr/share/datasets/fashion-mnist
	"$MLI_BUILDDIR/tests/mkmosaic" batches "$fashion/t10k-images-idx3-ubyte.gz" \
		"$fashion/t10k-labels-idx1-ubyte.gz" 6 8 3 > mosaics.mli
	mli-train -q --arch 1,1 --width 4 --threads 2 --checkpoint-dir ckpt < mosaics.mli 2>/dev/null
}

setup() {
	load helper
	cd "$BATS_TEST_TMPDIR"
	F=$BATS_FILE_TMPDIR
}

# Runs the command given (under a 60 s timeout: a hang is a failure too)
# with its stdout through `head -c 100`; sets status to the command's exit
# status and stderr to what it printed.
early_exit() {
	local rc
	timeout 60 "$@" 2> err.txt | head -c 100 > /dev/null
	rc=${PIPESTATUS[0]}
	status=$rc
	stderr=$(cat err.txt)
}

# Asserts the quiet end: SIGPIPE (128 + 13), no message.
assert_quiet_sigpipe() {
	[ "$status" -eq 141 ] || { echo "status $status, stderr: $stderr"; return 1; }
	[ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
}

@test "a consumer that exits early ends every producer of frames quietly, by SIGPIPE" {
	early_exit mli-cat "$F/enc.mli"
	assert_quiet_sigpipe
	early_exit mli-cat -L 3 "$F/enc.mli"
	assert_quiet_sigpipe
	early_exit mli-fetch -r "$IMAGES" "$F/list4.txt"
	assert_quiet_sigpipe
	early_exit mli-decode "$F/enc.mli"
	assert_quiet_sigpipe
	early_exit mli-decode -e 90 "$F/enc.mli"
	assert_quiet_sigpipe
	early_exit mli-augment --train --size 224 "$F/img12.mli"
	assert_quiet_sigpipe
	early_exit mli-batch --size 1 --classes 11166 "$F/aug72.mli"
	assert_quiet_sigpipe
	early_exit mli-import "$F/shards.tfrecords"
	assert_quiet_sigpipe
	early_exit mli-export --tfrecord "$F/enc.mli"
	assert_quiet_sigpipe
}

@test "a consumer that exits early ends a whole pipeline quietly" {
	# Each stage ends by SIGPIPE in turn, from the last one back.
	# (mli-decode reads ahead a few records: more than that are sent.)
	local st
	mli-cat "$F/enc.mli" "$F/enc.mli" "$F/enc.mli" "$F/enc.mli" "$F/enc.mli" 2> e1 |
		mli-decode -j 1 2> e2 | head -c 100 > /dev/null || true "${st:=${PIPESTATUS[*]}}"
	: "${st:=${PIPESTATUS[*]}}"
	[ "$st" = "141 141 0" ] || { echo "$st"; false; }
	[ ! -s e1 ] && [ ! -s e2 ]
}

# Writes the first $2 bytes of file $1, then dies by SIGKILL: a producer
# killed in the middle of a stream.
dying_producer() {
	head -c "$2" "$1"
	kill -9 $BASHPID
}

# The byte offset of record $2 (0-based) of stream $1: a frame boundary.
frame_offset() {
	mli-cat --json "$1" | sed -n "$(($2 + 1))p" | sed 's/^{"offset":\([0-9]*\),.*/\1/'
}

# Runs the command given (under a 60 s timeout) with stdin from a
# producer that dies after $1 bytes of $2; output in out.bin, status and
# stderr as run sets them.
behind_dying_producer() {
	local bytes=$1 file=$2
	shift 2
	status=0
	{ dying_producer "$file" "$bytes" 2>/dev/null; } | timeout 60 "$@" > out.bin 2> err.txt || status=$?
	stderr=$(cat err.txt)
}

# Asserts status 1 and a last message that names stdin and the cut.
assert_truncated() {
	local last
	last=$(tail -n 1 <<< "$stderr")
	[ "$status" -eq 1 ] || { echo "status $status, stderr: $stderr"; return 1; }
	[[ "$last" == "$1: stdin: offset "[0-9]*": "* ]] || [[ "$stderr" == *"$1: stdin: offset "[0-9]*": "* ]] ||
		{ echo "stderr: $stderr"; return 1; }
	[[ "$stderr" == *"truncated frame payload"* || "$stderr" == *"stream ends without an end frame"* ||
		"$stderr" == *"truncated frame header"* ]] || { echo "stderr: $stderr"; return 1; }
}

# Asserts that out.bin holds whole frames and no end frame.
assert_output_truncated() {
	run -1 --separate-stderr mli-cat --verify out.bin
	[[ "$stderr" == "mli-cat: out.bin: offset "*": stream ends without an end frame" ]] ||
		{ echo "out.bin: $stderr"; return 1; }
}

# Kills the producer of every program that reads frames after the first
# frames of its input and $1 bytes more (0: at a frame boundary; more:
# inside the next frame): each must report a truncated stream, and those
# that write frames must leave their output without an end frame.
every_reader_behind_dying_producer() {
	local enc img mos aug
	enc=$(($(frame_offset "$F/enc.mli" 2) + $1))
	img=$(($(frame_offset "$F/img.mli" 3) + $1))
	mos=$(($(frame_offset "$F/mosaics.mli" 4) + $1))
	aug=$(($(frame_offset "$F/aug.mli" 5) + $1))
	behind_dying_producer "$enc" "$F/enc.mli" mli-cat
	assert_truncated mli-cat
	assert_output_truncated
	[ "$(mli-cat --list out.bin 2>/dev/null | wc -l)" -eq 2 ]
	behind_dying_producer "$enc" "$F/enc.mli" mli-cat --list
	assert_truncated mli-cat
	behind_dying_producer "$enc" "$F/enc.mli" mli-decode -s 32
	assert_truncated mli-decode
	assert_output_truncated
	behind_dying_producer "$img" "$F/img.mli" mli-augment --train --size 32
	assert_truncated mli-augment
	assert_output_truncated
	behind_dying_producer "$aug" "$F/aug.mli" mli-batch --size 2
	assert_truncated mli-batch
	assert_output_truncated
	behind_dying_producer "$enc" "$F/enc.mli" mli-export --tfrecord
	assert_truncated mli-export
	behind_dying_producer "$img" "$F/img.mli" mli-stats
	assert_truncated mli-stats
	behind_dying_producer "$mos" "$F/mosaics.mli" mli-train --arch 1,1 --width 4 --threads 2 --checkpoint-dir t
	assert_truncated mli-train
	behind_dying_producer "$mos" "$F/mosaics.mli" mli-eval -c "$F/ckpt/latest.safetensors"
	assert_truncated mli-eval
}

@test "a producer killed at a frame boundary leaves every reader of frames with a truncated stream" {
	local enc mos
	enc=$(frame_offset "$F/enc.mli" 2)
	mos=$(frame_offset "$F/mosaics.mli" 4)
	every_reader_behind_dying_producer 0
	behind_dying_producer "$enc" "$F/enc.mli" mli-cat --verify
	assert_truncated mli-cat
	behind_dying_producer "$enc" "$F/enc.mli" mli-cat --count
	assert_truncated mli-cat
	behind_dying_producer "$mos" "$F/mosaics.mli" mli-eval -c "$F/ckpt/latest.safetensors" --features
	assert_truncated mli-eval
}

@test "a producer killed inside a frame leaves every reader of frames with a truncated stream" {
	every_reader_behind_dying_producer 1000
	behind_dying_producer 20 "$F/enc.mli" mli-cat
	assert_truncated mli-cat
}

@test "a stream cut by a dying producer keeps its whole frames for mli-cat --skip-bad" {
	local cut
	cut=$(($(frame_offset "$F/img12.mli" 5) + 1000))
	behind_dying_producer "$cut" "$F/img12.mli" mli-cat --skip-bad
	assert_truncated mli-cat
	assert_output_truncated
	# The five whole records, byte for byte the first five of the source.
	[ "$(mli-cat --list out.bin 2>/dev/null | wc -l)" -eq 5 ]
	diff <(mli-cat --list out.bin 2>/dev/null) <(mli-cat --list "$F/img12.mli" | head -5)
}

# Feeds the first $2 bytes of file $1 to the command given and keeps the
# pipe open; succeeds once the command's output (out.bin) holds $3 bytes
# or more, fails after 20 s. The producer and the command are killed.
passes_on_while_producer_waits() {
	local file=$1 bytes=$2 want=$3 feeder pid ok=1
	shift 3
	rm -f feed out.bin
	mkfifo feed
	{ head -c "$bytes" "$file"; exec sleep 60; } > feed 3>&- &
	feeder=$!
	"$@" < feed > out.bin 2> err.txt 3>&- &
	pid=$!
	for _ in $(seq 400); do
		[ "$(stat -c %s out.bin)" -ge "$want" ] && { ok=0; break; }
		sleep 0.05
	done
	kill -9 "$pid" "$feeder" 2>/dev/null || true
	wait "$pid" "$feeder" 2>/dev/null || true
	[ "$ok" -eq 0 ] || echo "$*: $(stat -c %s out.bin) bytes out of $want after 20 s: $(cat err.txt)"
	return $ok
}

@test "a filter passes on what it has done while its producer is slow to send more" {
	local enc img aug
	enc=$(frame_offset "$F/enc.mli" 2)
	img=$(frame_offset "$F/img.mli" 2)
	aug=$(frame_offset "$F/aug.mli" 2)
	passes_on_while_producer_waits "$F/enc.mli" "$enc" "$img" mli-decode -s 64 -j 2
	passes_on_while_producer_waits "$F/enc.mli" "$enc" "$img" mli-decode -s 64 -j 1
	passes_on_while_producer_waits "$F/img.mli" "$img" "$img" mli-cat
	passes_on_while_producer_waits "$F/img.mli" "$img" 10 mli-cat --list
	passes_on_while_producer_waits "$F/img.mli" "$img" 6000 mli-augment --train --size 32
	passes_on_while_producer_waits "$F/aug.mli" "$aug" 6000 mli-batch --size 1
	passes_on_while_producer_waits "$DATA/train_urls_tiny.txt" 400 100 mli-import
	passes_on_while_producer_waits "$DATA/tfrecords/0.tfrecords" 59460 10000 mli-import
}
