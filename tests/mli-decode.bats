#!/usr/bin/env bats
# mli-decode.bats: decoding the sample photos of the original release and
# a fault corpus made from them, through the whole program.

bats_require_minimum_version 1.5.0

setup() {
	load helper
	require_data
	MKENCODED=$MLI_BUILDDIR/tests/mkencoded
	FAULTS=$MLI_SRCDIR/tests/faults
	cd "$BATS_TEST_TMPDIR"
	# Keys are the file names; im_0 .. im_3 with labels of the original
	# annotation format.
	cp "$IMAGES"/im_*.jpg .
	"$MKENCODED" im_0.jpg=5:1,7:0.9 im_1.jpg=12:1 im_2.jpg im_3.jpg=3:0.8 > samples.mli
}

shapes() {
	mli-cat --list "$1" | awk -F '\t' '{ match($4, /shape=[0-9x]+/); print $2, substr($4, RSTART + 6, RLENGTH - 6) }'
}

@test "the sample photos come out 256 on the short side, in order, keys and labels kept" {
	run -0 mli-decode -q --short-side 256 samples.mli
	mli-decode -q -s 256 samples.mli > out.mli
	run -0 shapes out.mli
	[ "$output" = "im_0.jpg 256x341x3
im_1.jpg 256x341x3
im_2.jpg 256x384x3
im_3.jpg 256x341x3" ]
	run -0 mli-cat --list out.mli
	[[ "${lines[0]}" == IMAGE$'\t'im_0.jpg$'\t'5:1,7:0.9$'\t'* ]]
	[[ "${lines[1]}" == IMAGE$'\t'im_1.jpg$'\t'12:1$'\t'* ]]
	[[ "${lines[2]}" == IMAGE$'\t'im_2.jpg$'\t'-$'\t'* ]]
	run -0 mli-cat --verify out.mli
}

@test "the images inside the original TFRecord shards decode to their recorded size and djpeg's pixels" {
	mkdir tf
	python3 "$MLI_SRCDIR/tests/tfrecord-images.py" tf "$DATA"/tfrecords/*.tfrecords > sizes
	[ "$(wc -l < sizes)" = 4 ]
	cd tf
	"$MKENCODED" $(cut -d ' ' -f 1 ../sizes) > ../tf.mli
	cd ..
	mli-decode -q tf.mli > full.mli
	run -0 shapes full.mli
	[ "$output" = "$(awk '{ print $1, $3 "x" $2 "x3" }' sizes)" ]
	mli-cat -q --extract x full.mli
	for f in $(cut -d ' ' -f 1 sizes); do
		djpeg -ppm tf/$f | cmp - x/$f.ppm
	done
	mli-decode -q -s 256 tf.mli > small.mli
	run -0 shapes small.mli
	[ "${lines[0]}" = "0-0.jpg 256x342x3" ]
	[ "${lines[2]}" = "1-0.jpg 256x341x3" ]
}

@test "at a DCT scale's size the pixels are djpeg's at that scale, byte for byte" {
	for f in im_0 im_2; do
		djpeg -scale 1/4 -ppm $f.jpg > $f.ref.ppm
		size=$(head -2 $f.ref.ppm | tail -1 | tr ' ' x)
		"$MKENCODED" $f.jpg | mli-decode -q --size "$size" > one.mli
		mli-cat -q --extract x one.mli
		cmp x/$f.jpg.ppm $f.ref.ppm
	done
}

@test "--fast is djpeg -dct fast -nosmooth at a DCT scale's size, the same on any thread count" {
	for f in im_1 im_3; do
		djpeg -dct fast -nosmooth -ppm $f.jpg > $f.ref.ppm
		size=$(head -2 $f.ref.ppm | tail -1 | tr ' ' x)
		"$MKENCODED" $f.jpg | mli-decode -q --fast --size "$size" > one.mli
		mli-cat -q --extract x one.mli
		cmp x/$f.jpg.ppm $f.ref.ppm
		rm -r x
	done
	mli-decode -q --fast -j 1 -s 200 samples.mli > f1.mli
	mli-decode -q --fast -j 3 -s 200 samples.mli > f3.mli
	cmp f1.mli f3.mli
	run -0 shapes f1.mli
	[ "${lines[0]}" = "im_0.jpg 200x267x3" ]
}

@test "MLI_KERNELS=ref gives the bytes of the SIMD resize" {
	cat samples.mli samples.mli > two.mli
	for s in 256 200 97; do
		mli-decode -q -j 2 -s $s two.mli > simd.mli
		MLI_KERNELS=ref mli-decode -q -j 2 -s $s two.mli > ref.mli
		cmp simd.mli ref.mli
	done
}

@test "the output is the same bytes on 1, 2, 3 and 8 threads" {
	cat samples.mli samples.mli samples.mli > many.mli
	mli-decode -q -j 1 -s 200 many.mli > t1.mli
	for n in 2 3 8; do
		mli-decode -q -j $n -s 200 many.mli > t$n.mli
		cmp t1.mli t$n.mli
	done
	mli-decode -q -j 1 -s 200 -e 85 many.mli > e1.mli
	mli-decode -q -j 3 -s 200 -e 85 many.mli > e3.mli
	cmp e1.mli e3.mli
	run -0 mli-cat --count t1.mli
	[ "$output" = 12 ]
}

@test "--unordered writes the same records, in any order" {
	cat samples.mli samples.mli > many.mli
	mli-decode -q -j 1 -s 100 many.mli > ordered.mli
	mli-decode -q -j 3 --unordered -s 100 many.mli > any.mli
	run -0 mli-cat --verify any.mli
	[ "$(mli-cat --list ordered.mli | sort)" = "$(mli-cat --list any.mli | sort)" ]
	mli-decode -q -j 1 --unordered -s 100 many.mli > one.mli
	cmp ordered.mli one.mli
}

@test "--encode writes JPEG records that decode back to the size asked" {
	mli-decode -q -s 256 -e 90 samples.mli > shard.mli
	run -0 mli-cat --list shard.mli
	[ "${#lines[@]}" -eq 4 ]
	for l in "${lines[@]}"; do [[ "$l" == ENCODED* && "$l" == *media=image/jpeg* ]]; done
	mli-cat -q --extract jpg shard.mli
	run -0 identify_jpeg jpg/im_2.jpg
	[ "$output" = "384x256" ]
	mli-decode -q shard.mli > again.mli
	run -0 shapes again.mli
	[ "${lines[0]}" = "im_0.jpg 256x341x3" ]
	[ "${lines[2]}" = "im_2.jpg 256x384x3" ]
	# Far smaller than the originals.
	[ "$(stat -c %s shard.mli)" -lt 200000 ]
}

identify_jpeg() {
	djpeg -ppm "$1" | head -2 | tail -1 | tr ' ' x
}

@test "--max-side, --size and --upscale size as documented" {
	mli-decode -q --max-side 100 samples.mli > a.mli
	run -0 shapes a.mli
	[ "${lines[0]}" = "im_0.jpg 75x100x3" ]
	[ "${lines[2]}" = "im_2.jpg 67x100x3" ]
	mli-decode -q --size 224x224 samples.mli > b.mli
	run -0 shapes b.mli
	[ "${lines[3]}" = "im_3.jpg 224x224x3" ]
	# Not enlarged without --upscale, enlarged with it.
	mli-decode -q -s 1000 samples.mli > c.mli
	run -0 shapes c.mli
	[ "${lines[3]}" = "im_3.jpg 768x1024x3" ]
	mli-decode -q -s 1000 --upscale samples.mli > d.mli
	run -0 shapes d.mli
	[ "${lines[3]}" = "im_3.jpg 1000x1333x3" ]
	[ "${lines[0]}" = "im_0.jpg 1000x1333x3" ]
	# Short and long side together: the smaller scale wins.
	mli-decode -q -s 256 -m 300 samples.mli > e.mli
	run -0 shapes e.mli
	[ "${lines[2]}" = "im_2.jpg 200x300x3" ]
}

@test "every file of the fault corpus is decoded or skipped with its reason, never a crash" {
	cd "$FAULTS"
	names=$(grep -v '^#' expected | cut -f 1)
	"$MKENCODED" $names > "$BATS_TEST_TMPDIR/faults.mli"
	cd "$BATS_TEST_TMPDIR"
	for n in 1 2; do
		rm -f failed.tsv
		run -0 --separate-stderr mli-decode -j $n -s 64 --failures failed.tsv faults.mli
		mli-decode -q -j $n -s 64 faults.mli > out.mli
		{ shapes out.mli | tr ' ' '\t'; cut -f 1,2 failed.tsv; } > got
		grep -v '^#' "$FAULTS/expected" | sed 's/@[^\t]*//' > want
		diff want got
		[[ "${stderr_lines[-1]}" == "mli-decode: 15 in, 7 out, 8 skipped (1 corrupt, 1 empty, 2 unsupported-format, 1 bomb, 1 too-many-scans, 2 truncated), "* ]]
		[[ "$stderr" == *"truncated.jpg: truncated: Premature end of JPEG file (skipped)"* ]]
	done
}

@test "--lenient decodes a truncated JPEG; --max-scans 0 lifts the scan cap" {
	"$MKENCODED" "$FAULTS/truncated.jpg" "$FAULTS/many-scans.jpg" > t.mli
	run -0 --separate-stderr mli-decode --lenient --max-scans 0 -s 64 t.mli
	mli-decode -q --lenient --max-scans 0 -s 64 t.mli > out.mli
	run -0 mli-cat --count out.mli
	[ "$output" = 2 ]
}

@test "--max-pixels skips the camera original as a bomb" {
	run -0 --separate-stderr mli-decode --max-pixels 5M -s 64 samples.mli
	[[ "$stderr" == *"im_0.jpg: bomb: 3648x2736 is more than 5242880 pixels (skipped)"* ]]
	mli-decode -q --max-pixels 5M -s 64 samples.mli > out.mli
	run -0 mli-cat --count out.mli
	[ "$output" = 3 ]
}

@test "--strict stops at the first bad record with status 1 and a truncated output" {
	"$MKENCODED" im_3.jpg "$FAULTS/truncated.jpg" im_1.jpg > s.mli
	run -1 --separate-stderr sh -c 'mli-decode --strict -s 64 s.mli > out.mli'
	[[ "${stderr_lines[0]}" == *"truncated.jpg: truncated: Premature end of JPEG file" ]]
	run -1 mli-cat --verify out.mli
	[ "$(mli-cat -q --list out.mli 2>/dev/null | wc -l)" = 1 ]
}

@test "records that are not ENCODED are skipped as not-encoded" {
	mli-decode -q -s 64 samples.mli > pixels.mli
	run -0 --separate-stderr mli-decode -s 32 pixels.mli
	[[ "${stderr_lines[-1]}" == "mli-decode: 4 in, 0 out, 4 skipped (4 not-encoded), "* ]]
}

@test "a damaged input stream ends the run with status 1 and the offset" {
	head -c 400000 samples.mli > cut.mli
	run -1 --separate-stderr mli-decode -s 64 cut.mli
	[[ "$stderr" == *"mli-decode: cut.mli: "* ]]
	run -1 mli-decode -s 64 no-such-file.mli
}

@test "usage errors exit 2" {
	run -2 mli-decode --short-side 0
	run -2 mli-decode --size 10
	run -2 mli-decode --size 10x10 --short-side 5
	run -2 mli-decode --encode 101
	run -2 mli-decode --threads 0
	run -2 mli-decode --bogus
	run -0 mli-decode --help
	[[ "$output" == usage:* ]]
}

@test "the examples of mli-decode(1) run as shown" {
	"$MKENCODED" im_3.jpg > encoded.mli
	run_man_examples "$MLI_SRCDIR/man/mli-decode.1"
	[ -f failed.tsv ] && [ ! -s failed.tsv ]
}

@test "the decode fuzz corpus replays through the decode path without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-decode" "$MLI_SRCDIR/fuzz/corpus/decode"
	[[ "$output" == *"ok 1 - "*"decode: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}
