#!/usr/bin/env bats
# mli-cat.bats: concatenating, verifying and inspecting streams made from
# the original release's sample photographs.

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	printf 'im_0.jpg\t1:1\t5:0.9\nim_1.jpg\t2:1\nim_2.jpg\t3:0.8\nim_3.jpg\t4:1\n' > list.txt
	mli-fetch --quiet --root "$IMAGES" < list.txt > photos.mli
}

# The byte offset of the record with this index (from 0), from --json.
record_offset() {
	mli-cat --json "$1" | sed -n "$(($2 + 1))p" | grep -o '"offset":[0-9]*' | cut -d: -f2
}

@test "lists each sample photograph with its key, labels and size" {
	run -0 mli-cat --list photos.mli
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == "ENCODED"$'\t'"im_0.jpg"$'\t'"1:1,5:0.9"$'\t'"content="*" bytes=1907627 media=image/jpeg"* ]]
	[[ "${lines[1]}" == "ENCODED"$'\t'"im_1.jpg"$'\t'"2:1"$'\t'*" bytes=294934 "* ]]
	[[ "${lines[2]}" == *$'\t'"3:0.8"$'\t'*" bytes=303170 "* ]]
	[[ "${lines[3]}" == *" bytes=168722 "* ]]
}

@test "prints JSON lines with offsets, labels and sizes" {
	run -0 mli-cat --json photos.mli
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == '{"offset":0,"type":"ENCODED","key":"im_0.jpg","labels":[[1,1.0],[5,0.9]],'*'"bytes":1907627'* ]]
	[[ "${lines[3]}" == *'"media":"image/jpeg"'* ]]
}

@test "counts records, and a concatenation of two streams holds both" {
	run -0 mli-cat --count photos.mli
	[ "$output" = 4 ]
	cat photos.mli photos.mli > twice.mli
	run -0 mli-cat --count twice.mli
	[ "$output" = 8 ]
	run -0 mli-cat --verify twice.mli
	[ "$output" = "twice.mli: ok, 8 records in 2 segments" ]
}

@test "merges streams into one segment whose records are byte-identical" {
	mli-cat photos.mli - < photos.mli > merged.mli
	run -0 mli-cat --verify merged.mli
	[ "$output" = "merged.mli: ok, 8 records in 1 segments" ]
	diff <(mli-cat --list photos.mli photos.mli) <(mli-cat --list merged.mli)
}

@test "extracts the photographs byte for byte" {
	run -0 mli-cat --quiet --extract out photos.mli
	for i in 0 1 2 3; do
		cmp "$IMAGES/im_$i.jpg" "out/im_$i.jpg"
	done
	# A second extraction never overwrites: it picks new names.
	run -0 mli-cat --quiet --head 1 --extract out photos.mli
	cmp "$IMAGES/im_0.jpg" out/im_0-1.jpg
	[ "$(ls out | wc -l)" -eq 5 ]
}

@test "--head N writes a complete stream of N records" {
	mli-cat --head 2 photos.mli > two.mli
	run -0 mli-cat --verify two.mli
	[ "$output" = "two.mli: ok, 2 records in 1 segments" ]
}

@test "recompressing keeps every record" {
	mli-cat --level 19 photos.mli > re.mli
	run -0 mli-cat --verify re.mli
	diff <(mli-cat --list photos.mli | cut -f1-3) <(mli-cat --list re.mli | cut -f1-3)
}

@test "--verify names the offset of a damaged frame" {
	off=$(record_offset photos.mli 2)
	cp photos.mli bad.mli
	# One byte in the middle of the third record's payload.
	printf '\x00' | dd of=bad.mli bs=1 seek=$((off + 5000)) conv=notrunc status=none
	run -1 --separate-stderr mli-cat --verify bad.mli
	[ "$stderr" = "mli-cat: bad.mli: offset $off: payload checksum mismatch" ]
	# The other inputs are still checked.
	run -1 --separate-stderr mli-cat --verify bad.mli photos.mli
	[ "$output" = "photos.mli: ok, 4 records in 1 segments" ]
}

@test "a truncated stream is reported, and passes on as truncated" {
	size=$(stat -c %s photos.mli)
	head -c $((size - 10)) photos.mli > cut.mli
	run -1 --separate-stderr mli-cat --verify cut.mli
	[[ "$stderr" == "mli-cat: cut.mli: offset "*": truncated frame "* ]]
	# Copying it keeps the whole records but no end frame.
	status=0
	mli-cat cut.mli > copy.mli 2>/dev/null || status=$?
	[ "$status" -eq 1 ]
	run -1 --separate-stderr mli-cat --verify copy.mli
	[[ "$stderr" == *"stream ends without an end frame" ]]
	[ "$(mli-cat --list copy.mli 2>/dev/null | wc -l)" -eq 4 ]
}

@test "an empty input and a file that is not a stream are errors" {
	: > empty.mli
	run -1 --separate-stderr mli-cat --count empty.mli
	[ "$stderr" = "mli-cat: empty.mli: offset 0: stream ends before its end frame" ]
	run -1 --separate-stderr mli-cat --count "$IMAGES/im_3.jpg"
	[ "$stderr" = "mli-cat: $IMAGES/im_3.jpg: offset 0: not an mli frame (bad magic)" ]
	run -1 --separate-stderr mli-cat --count no-such.mli
	[ "$stderr" = "mli-cat: no-such.mli: No such file or directory" ]
}

@test "--skip-bad steps over garbage between frames and counts it" {
	off=$(record_offset photos.mli 1)
	{ head -c "$off" photos.mli; printf 'garbage between frames'; tail -c +$((off + 1)) photos.mli; } > garbage.mli
	run -1 --separate-stderr mli-cat --count garbage.mli
	[ "$stderr" = "mli-cat: garbage.mli: offset $off: not an mli frame (bad magic)" ]
	mli-cat --skip-bad garbage.mli > rescued.mli 2> err
	grep -qF "mli-cat: garbage.mli: offset $off: not an mli frame (bad magic) (skipped)" err
	grep -qF "mli-cat: 4 in, 4 out, 1 skipped (1 bad-frame)" err
	run -0 mli-cat --verify rescued.mli
	[ "$output" = "rescued.mli: ok, 4 records in 1 segments" ]
}

@test "a frame larger than --limit is refused" {
	run -1 --separate-stderr mli-cat --limit 1M --count photos.mli
	[ "$stderr" = "mli-cat: photos.mli: offset 0: frame length exceeds limit" ]
	run -0 mli-cat --limit 2M --count photos.mli
}

@test "usage errors exit 2 with a pointer to --help" {
	run -2 --separate-stderr mli-cat --level 0 photos.mli
	[[ "$stderr" == "mli-cat: --level: not a level from 1 to 19: '0'"* ]]
	[[ "$stderr" == *"Try 'mli-cat --help' for more information." ]]
	run -2 mli-cat --list --count photos.mli
	run -2 mli-cat --no-such-option
	run -2 mli-cat --head -1 photos.mli
}

@test "refuses to write frames to a terminal" {
	command -v script >/dev/null
	run script -qec "mli-cat photos.mli" /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"mli-cat: stdout is a terminal"* ]]
}

@test "a reader that goes away ends mli-cat quietly" {
	cat photos.mli photos.mli photos.mli > big.mli
	run bash -c 'mli-cat big.mli 2>err | head -c 100 > /dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = 141 ]
	[ ! -s err ]
}

@test "shows progress and a summary when asked" {
	run -0 --separate-stderr mli-cat --progress --count photos.mli
	[[ "$stderr" == *"mli-cat: 4 in, 4 out, 0 skipped, "*" s" ]]
}

@test "the examples of mli-cat(1) run as shown" {
	mli-cat --head 2 photos.mli > shard-000.mli
	tail -n 2 list.txt | mli-fetch --quiet --root "$IMAGES" > shard-001.mli
	cp photos.mli damaged.mli
	run_man_examples "$MLI_SRCDIR/man/mli-cat.1"
	[ -s rescued.mli ]
	[ -f images/im_0.jpg ]
}
