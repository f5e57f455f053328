#!/usr/bin/env bats
# mli-batch.bats: batches of the release's sample photographs with their
# annotation lines, and a shuffle of many small images.

setup_file() {
	load helper
	require_data
	cd "$BATS_FILE_TMPDIR"
	# The first four annotation lines of the file-name list, keyed by the
	# four sample photographs.
	head -4 "$DATA/train_im_list_tiny.txt" | cut -f2- | paste <(printf 'im_%d.jpg\n' 0 1 2 3) - > list.txt
	mli-fetch --quiet --root "$IMAGES" < list.txt | mli-decode -q --size 224x224 > images.mli
	# 300 small images, each labelled with its own index as class.
	mkdir many
	for i in $(seq 0 299); do
		ln -s "$IMAGES/im_3.jpg" many/$i.jpg
		echo "many/$i.jpg=$i:1"
	done | xargs "$MLI_BUILDDIR/tests/mkencoded" | mli-decode -q --size 8x6 > many.mli
}

setup() {
	load helper
	cd "$BATS_TEST_TMPDIR"
	cp "$BATS_FILE_TMPDIR"/images.mli "$BATS_FILE_TMPDIR"/many.mli "$BATS_FILE_TMPDIR"/list.txt .
	dump() { "$MLI_BUILDDIR/tests/unit-batch" dump "$@"; }
}

# The rows mli-batch should write for list.txt: key, view -1, the labels
# in class order as class:confidence.
expected_rows() {
	local key rest labs
	while IFS=$'\t' read -r key rest; do
		labs=$(tr '\t' '\n' <<<"$rest" | sort -t: -k1,1n | awk -F: -v t="${1:-0}" '
			{ c = $2; if (t > 0) c = (c + 0 >= t) ? 1 : 0
			  if (c + 0 != 0) { printf "%s%d:%g", sep, $1, c; sep = "," } }')
		printf '%s\t-1%s\n' "$key" "${labs:+$'\t'$labs}"
	done < list.txt
}

@test "the label matrix holds exactly the annotation lines' labels" {
	mli-batch -n 4 -c 11166 images.mli > b.mli
	run -0 dump b.mli
	[ "${lines[0]}" = "batch batch-000000 4 3x224x224 uint8" ]
	diff <(printf '%s\n' "${lines[@]:1:4}") <(expected_rows)
	# The dictionary gives the same 11166 columns.
	mli-batch -n 4 -d "$DATA/dictionary_and_semantic_hierarchy.txt" images.mli > d.mli
	cmp b.mli d.mli
}

@test "--threshold binarises the confidences" {
	mli-batch -n 4 -c 11166 -t 0.9 images.mli > b.mli
	run -0 dump b.mli
	diff <(printf '%s\n' "${lines[@]:1:4}") <(expected_rows 0.9)
	grep -q ':0.8' list.txt
}

@test "a class beyond --classes is an error naming the image" {
	run -1 --separate-stderr mli-batch -n 4 -c 100 images.mli
	[ "$stderr" = "mli-batch: images.mli: im_0.jpg: class 940 is beyond the 100 classes" ]
}

@test "float32 pixels are the uint8 ones scaled to [-1, 1]" {
	mli-batch -n 3 images.mli > u8.mli
	mli-batch -n 3 --float images.mli > f32.mli
	run -0 dump u8.mli
	u8=("${lines[@]}")
	run -0 dump f32.mli
	[ "${lines[0]}" = "batch batch-000000 3 3x224x224 float32" ]
	[ "$(echo "${u8[4]}" | cut -d' ' -f2)" -gt 1000000 ]
	diff <(printf '%s\n' "${u8[4]}") <(printf '%s\n' "${lines[4]}")
}

@test "the last batch holds the rest, unless --drop-last" {
	run -0 mli-batch -n 3 many.mli
	run -0 bash -c 'mli-batch -n 7 many.mli | mli-cat --list | grep -o "input=[0-9]*" | uniq -c'
	[ "${lines[0]}" = "     42 input=7" ]
	[ "${lines[1]}" = "      1 input=6" ]
	mli-batch -n 7 --drop-last many.mli > d.mli 2> err
	[ "$(mli-cat --count d.mli)" -eq 42 ]
	run -0 mli-batch -n 7 --drop-last --progress many.mli
}

# The class of each image, in output order: its input index.
order() {
	dump "$1" | awk -F'\t' 'NF == 3 { split($3, p, ":"); print p[1] }'
}

@test "the shuffle is a permutation, bounded by the buffer, reproducible from the seed and epoch" {
	mli-batch -n 10 -c 300 many.mli > plain.mli
	[ "$(order plain.mli | tr '\n' ' ')" = "$(seq 0 299 | tr '\n' ' ')" ]
	mli-batch -n 10 -c 300 -s 50 --seed 3 many.mli > s1.mli
	order s1.mli > o1
	[ "$(sort -n o1 | tr '\n' ' ')" = "$(seq 0 299 | tr '\n' ' ')" ]
	# An image read at index i is written at index at least i - 50.
	awk '{ if ($1 > NR - 1 + 50) { print "too early: " $1 " at " NR - 1; bad = 1 } } END { exit bad }' o1
	[ "$(awk '$1 != NR - 1' o1 | wc -l)" -gt 200 ]
	mli-batch -n 10 -c 300 -s 50 --seed 3 many.mli > s2.mli
	cmp s1.mli s2.mli
	mli-batch -n 10 -c 300 -s 50 --seed 4 many.mli > s3.mli
	run -1 cmp -s s1.mli s3.mli
	mli-batch -n 10 -c 300 -s 50 --seed 3 --epoch 1 many.mli > s4.mli
	run -1 cmp -s s1.mli s4.mli
	[ "$(order s4.mli | sort -n | tr '\n' ' ')" = "$(seq 0 299 | tr '\n' ' ')" ]
}

@test "an image of another size is an error naming it and both sizes" {
	cat many.mli images.mli > mixed.mli
	run -1 --separate-stderr bash -c 'mli-batch -n 4 mixed.mli > out.mli'
	[ "$stderr" = "mli-batch: mixed.mli: im_0.jpg: image of 224x224x3 (HxWxC) in a stream of 6x8x3" ]
	# The whole batches before it are kept, without an end frame.
	[ "$(mli-cat --list out.mli 2>/dev/null | wc -l)" -eq 75 ]
	run -1 mli-cat --verify out.mli
}

@test "usage errors exit 2" {
	run -2 mli-batch -n 0
	run -2 mli-batch -t 0.5
	run -2 mli-batch -c 10 -d x
	run -2 mli-batch --seed -1
}

@test "the man page's examples work as shown" {
	cp "$DATA/dictionary_and_semantic_hierarchy.txt" dictionary.txt
	run_man_examples "$MLI_SRCDIR/man/mli-batch.1"
}
