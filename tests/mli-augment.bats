#!/usr/bin/env bats
# mli-augment.bats: the training, evaluation and ten-crop views of the
# release's sample photographs, scaled to 256 pixels on the short side.

setup_file() {
	load helper
	require_data
	cd "$BATS_FILE_TMPDIR"
	printf 'im_0.jpg\t1:1\t5:0.9\nim_1.jpg\t2:1\nim_2.jpg\t3:0.8\nim_3.jpg\t4:1\n' > list.txt
	mli-fetch --quiet --root "$IMAGES" < list.txt | mli-decode -q -s 256 > photos.mli
	# The same records in the opposite order.
	tac list.txt | mli-fetch --quiet --root "$IMAGES" | mli-decode -q -s 256 > reversed.mli
	# 100 small images under distinct names: many chunks of work.
	mkdir many
	for i in $(seq 0 99); do
		ln -s "$IMAGES/im_$((i % 4)).jpg" many/$i.jpg
		echo "many/$i.jpg"
	done | xargs "$MLI_BUILDDIR/tests/mkencoded" | mli-decode -q -s 48 > many.mli
}

setup() {
	load helper
	cd "$BATS_TEST_TMPDIR"
	cp "$BATS_FILE_TMPDIR"/photos.mli "$BATS_FILE_TMPDIR"/reversed.mli "$BATS_FILE_TMPDIR"/many.mli .
}

# Extracts the images of a stream into directory $2, one PPM per key.
extract() {
	mli-cat -q --extract "$2" "$1"
}

@test "training views are 224 pixels square and the same bytes on 1, 2 and 3 threads, SIMD or not" {
	mli-augment -t --seed 5 -j 1 photos.mli > j1.mli
	mli-augment -t --seed 5 -j 2 photos.mli > j2.mli
	mli-augment -t --seed 5 -j 3 photos.mli > j3.mli
	cmp j1.mli j2.mli
	cmp j1.mli j3.mli
	# The portable kernels give the same bytes as the AVX2 ones.
	MLI_KERNELS=ref mli-augment -t --seed 5 -j 2 photos.mli | cmp - j1.mli
	run -0 mli-cat --list j1.mli
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == "IMAGE"$'\t'"im_0.jpg"$'\t'"1:1,5:0.9"$'\t'*"shape=224x224x3" ]]
	[[ "${lines[3]}" == "IMAGE"$'\t'"im_3.jpg"$'\t'"4:1"$'\t'*"shape=224x224x3" ]]
}

@test "over many chunks of records, every thread count gives the same bytes" {
	mli-augment -t -S 32 --seed 2 -j 1 many.mli > j1.mli
	[ "$(mli-cat --count j1.mli)" -eq 100 ]
	for j in 2 3 5; do
		mli-augment -t -S 32 --seed 2 -j $j many.mli | cmp - j1.mli
	done
	mli-augment -T -S 32 --resize 40 -j 1 many.mli > t1.mli
	[ "$(mli-cat --count t1.mli)" -eq 1000 ]
	mli-augment -T -S 32 --resize 40 -j 3 many.mli | cmp - t1.mli
	# Records of one source under different keys get different views.
	extract j1.mli x
	[ -s x/0.jpg.ppm ] && [ -s x/4.jpg.ppm ]
	run -1 cmp -s x/0.jpg.ppm x/4.jpg.ppm
}

@test "an image's training view does not depend on the order records arrive in" {
	mli-augment -t --seed 5 -j 2 photos.mli > a.mli
	mli-augment -t --seed 5 -j 3 reversed.mli > b.mli
	run -1 cmp -s a.mli b.mli
	extract a.mli a
	extract b.mli b
	for i in 0 1 2 3; do
		cmp a/im_$i.jpg.ppm b/im_$i.jpg.ppm
	done
}

@test "another seed or another epoch gives every image other views" {
	mli-augment -t --seed 5 photos.mli > a.mli
	mli-augment -t --seed 6 photos.mli > s.mli
	mli-augment -t --seed 5 --epoch 1 photos.mli > e.mli
	extract a.mli a
	extract s.mli s
	extract e.mli e
	for i in 0 1 2 3; do
		run -1 cmp -s a/im_$i.jpg.ppm s/im_$i.jpg.ppm
		run -1 cmp -s a/im_$i.jpg.ppm e/im_$i.jpg.ppm
	done
}

@test "without distortions and with the whole area, training is the evaluation view of all of it" {
	mli-augment -t --area 1,1 --aspect 0.1,10 --attempts 0 --flip 0 --rotate 0 --color 0 photos.mli > t.mli
	mli-augment -e --central 1 photos.mli > e.mli
	cmp t.mli e.mli
	# Mirror every image instead: each row reversed.
	mli-augment -t --attempts 0 --flip 1 --rotate 0 --color 0 photos.mli > f.mli
	extract e.mli e
	extract f.mli f
	python3 - <<-'PY'
	for i in range(4):
	    a = open(f"e/im_{i}.jpg.ppm", "rb").read().split(b"\n", 3)[3]
	    b = open(f"f/im_{i}.jpg.ppm", "rb").read().split(b"\n", 3)[3]
	    for y in range(224):
	        ra = a[y * 672:(y + 1) * 672]
	        rb = b[y * 672:(y + 1) * 672]
	        assert ra == b"".join(rb[x * 3:x * 3 + 3] for x in reversed(range(224))), (i, y)
	PY
}

@test "evaluation views are 224 pixels square; --size and --central change them" {
	run -0 bash -c 'mli-augment -e photos.mli | mli-cat --list | grep -o "shape=.*" | uniq -c'
	[ "$output" = "      4 shape=224x224x3" ]
	run -0 bash -c 'mli-augment -e -S 100 photos.mli | mli-cat --list | grep -o "shape=.*" | uniq -c'
	[ "$output" = "      4 shape=100x100x3" ]
	mli-augment -e photos.mli > a.mli
	mli-augment -e --central 0.9 photos.mli > b.mli
	run -1 cmp -s a.mli b.mli
	mli-augment -e --seed 3 --epoch 9 -j 3 photos.mli | cmp - a.mli
}

@test "ten crops per image share its key, carry views 0 to 9, and 5 to 9 mirror 0 to 4" {
	mli-augment -T photos.mli > t.mli
	[ "$(mli-cat --count t.mli)" -eq 40 ]
	mli-batch -n 40 -c 10 t.mli > b.mli
	run -0 "$MLI_BUILDDIR/tests/unit-batch" dump b.mli
	[ "${lines[0]}" = "batch batch-000000 40 3x224x224 uint8" ]
	[ "${lines[1]}" = "im_0.jpg	0	1:1,5:0.9" ]
	[ "${lines[10]}" = "im_0.jpg	9	1:1,5:0.9" ]
	[ "${lines[11]}" = "im_1.jpg	0	2:1" ]
	[ "${lines[40]}" = "im_3.jpg	9	4:1" ]
	extract t.mli t
	python3 - <<-'PY'
	def px(name):
	    return open(name, "rb").read().split(b"\n", 3)[3]
	for i in range(4):
	    v = [px(f"t/im_{i}.jpg.ppm")] + [px(f"t/im_{i}.jpg-{k}.ppm") for k in range(1, 10)]
	    assert len(set(v[:5])) == 5, i
	    for k in range(5):
	        for y in (0, 100, 223):
	            a = v[k][y * 672:(y + 1) * 672]
	            b = v[k + 5][y * 672:(y + 1) * 672]
	            assert a == b"".join(b[x * 3:x * 3 + 3] for x in reversed(range(224))), (i, k, y)
	PY
}

@test "--resize sets the scale before ten-crop: at --size, the boxes span the short side" {
	mli-augment -T --resize 256 photos.mli | mli-cat -q --extract t -
	mli-augment -T --resize 224 photos.mli | mli-cat -q --extract u -
	# Every sample is wider than high: at 224 on the short side the top
	# and bottom boxes coincide (views 0 and 2), at 256 they do not.
	for i in 0 1 2 3; do
		cmp u/im_$i.jpg.ppm u/im_$i.jpg-2.ppm
		run -1 cmp -s t/im_$i.jpg.ppm t/im_$i.jpg-2.ppm
		run -1 cmp -s u/im_$i.jpg.ppm u/im_$i.jpg-1.ppm
	done
}

@test "records that are not images are skipped and counted" {
	"$MLI_BUILDDIR/tests/mkencoded" "$IMAGES/im_3.jpg" > enc.mli
	run -0 --separate-stderr bash -c 'mli-augment -e --progress enc.mli > out.mli'
	[[ "$stderr" == *"mli-augment: 1 in, 0 out, 1 skipped (1 not-image)"* ]]
	[ "$(mli-cat --count out.mli)" -eq 0 ]
}

@test "a truncated input keeps the whole records before the cut and ends with exit 1" {
	size=$(stat -c %s photos.mli)
	head -c $((size - 10)) photos.mli > cut.mli
	run -1 --separate-stderr bash -c 'mli-augment -e -j 2 cut.mli > out.mli'
	[[ "$stderr" == "mli-augment: cut.mli: offset "*": truncated frame"* ]]
	[ "$(mli-cat --list out.mli 2>/dev/null | wc -l)" -eq 4 ]
	run -1 mli-cat --verify out.mli
	run -1 --separate-stderr bash -c 'mli-augment -e no-such.mli > out.mli'
	[ "$stderr" = "mli-augment: no-such.mli: No such file or directory" ]
}

@test "usage errors exit 2" {
	run -2 mli-augment photos.mli
	run -2 mli-augment -t -e photos.mli
	run -2 mli-augment -t --area 0.9,0.5 photos.mli
	run -2 mli-augment -t --area 0,1 photos.mli
	run -2 mli-augment -T --resize 200 photos.mli
	run -2 mli-augment -t --flip 2 photos.mli
	run -2 mli-augment -t --seed x photos.mli
}

@test "the man page's examples work as shown" {
	run_man_examples "$MLI_SRCDIR/man/mli-augment.1"
}
