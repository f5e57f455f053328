#!/usr/bin/env bats
# mli-stats.bats: the README's statistics of the sample list, checked
# against a count made by awk; figures as TSV and PNG.

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	LIST=$DATA/train_im_list_tiny.txt
	DICT=$DATA/dictionary_and_semantic_hierarchy.txt
}

# The statistics counted by awk from a list: images, classes, trainable
# (over $1 images), tags per image, images per class.
awk_stats() {
	awk -F'\t' -v min="$1" '
		NF == 0 { next }
		{
			images++
			for (i = 2; i <= NF; i++) {
				split($i, p, ":")
				if (p[2] + 0 > 0) { tags++; per[p[1]]++ }
			}
		}
		END {
			for (c in per) { classes++; if (per[c] > min) trainable++ }
			printf "images\t%d\nclasses\t%d\ntrainable classes (over %d images)\t%d\n", images, classes, min, trainable
			printf "tags per image\t%.2f\nimages per class\t%.2f\n", tags / images, tags / classes
		}' "$2"
}

@test "the statistics of the sample list match a count made by awk" {
	run -0 mli-stats "$LIST"
	[ "$output" = "$(awk_stats 100 "$LIST")" ]
	[ "${lines[0]}" = $'images\t100' ]
	run -0 mli-stats --min-images 5 "$LIST"
	[ "$output" = "$(awk_stats 5 "$LIST")" ]
	[ "${lines[2]}" != $'trainable classes (over 5 images)\t0' ]
}

@test "a stream, stdin and the URL list give the same statistics as the list" {
	mli-import -q "$LIST" > list.mli
	expected=$(mli-stats "$LIST")
	[ "$(mli-stats list.mli)" = "$expected" ]
	[ "$(mli-stats < list.mli)" = "$expected" ]
	[ "$(mli-stats < "$LIST")" = "$expected" ]
	[ "$(mli-stats "$DATA/train_urls_tiny.txt")" = "$expected" ]
}

@test "batches count each of their images, with or without a dense label matrix" {
	printf 'im_0.jpg\t1:1\t5:0.9\nim_1.jpg\t2:1\nim_2.jpg\t3:0.8\t2:1\nim_3.jpg\t4:1\n' > l4.txt
	expected=$(mli-stats l4.txt)
	[ "$(sed -n 4p <<<"$expected")" = $'tags per image\t1.50' ]
	mli-import -q -r "$IMAGES" l4.txt | mli-decode -q -S 32x32 > images.mli
	[ "$(mli-batch -q -n 3 images.mli | mli-stats)" = "$expected" ]
	[ "$(mli-batch -q -n 3 -c 8 images.mli | mli-stats)" = "$expected" ]
}

@test "the figures' TSV hold the per-class counts and the histogram awk makes" {
	run -0 mli-stats -q -d "$DICT" --figures figs --no-plot "$LIST"
	[ ! -e figs/images-per-class.png ]
	# Every class of the dictionary is listed, those without images too.
	[ "$(grep -vc '^#' figs/images-per-class.tsv)" -eq 11166 ]
	awk -F'\t' '{ for (i = 2; i <= NF; i++) { split($i, p, ":"); n[p[1]]++ } } END { for (c in n) print c "\t" n[c] }' \
		"$LIST" | sort > expected.tsv
	awk -F'\t' '!/^#/ && $2 > 0 { print $1 "\t" $2 }' figs/images-per-class.tsv | sort > got.tsv
	diff expected.tsv got.tsv
	grep -q $'^2\t45\tobject, physical object$' figs/images-per-class.tsv
	awk -F'\t' '{ h[NF - 1]++ } END { for (t in h) print t "\t" h[t] }' "$LIST" | sort -n > expected.tsv
	awk -F'\t' '!/^#/ && $2 > 0' figs/tags-per-image.tsv | sort -n > got.tsv
	diff expected.tsv got.tsv
}

@test "the figures are drawn as PNG by gnuplot" {
	command -v gnuplot || skip "gnuplot is not installed"
	run -0 mli-stats -q --figures figs "$LIST"
	for f in images-per-class tags-per-image; do
		[ "$(head -c 8 figs/$f.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	done
}

@test "class names are printed beside the largest classes, and propagation counts ancestors" {
	run -0 mli-stats -d "$DICT" --top 2 "$LIST"
	[ "${lines[5]}" = $'top 1\t2\t45\tobject, physical object' ]
	[ "${lines[6]}" = $'top 2\t865\t40\twhole, unit' ]
	# With --propagate the root classes count every image labelled below them.
	run -0 mli-stats -d "$DICT" --propagate "$LIST"
	roots=$(mli-import -q -d "$DICT" -P "$LIST" | mli-cat --list | cut -f 3 | tr ',' '\n' | cut -d: -f1 | sort -u | wc -l)
	[ "${lines[1]}" = "classes	$roots" ]
}

@test "bad lines are skipped and counted; a damaged stream fails" {
	printf 'a.jpg\t1:1\nb.jpg\tnot-a-label\nc.jpg\t1:1\t2:0.5\n' > l.txt
	run -0 --separate-stderr mli-stats l.txt
	[ "${lines[0]}" = $'images\t2' ]
	[ "${lines[3]}" = $'tags per image\t1.50' ]
	[[ "$stderr" == *"l.txt: line 2: not an annotation (skipped)"* ]]
	mli-import -q "$LIST" | head -c 1000 > cut.mli
	run -1 mli-stats cut.mli
	run -2 mli-stats --no-plot "$LIST"
}

@test "the man page examples run as shown" {
	cp "$LIST" train_im_list_tiny.txt
	cp "$DICT" dictionary.txt
	command -v gnuplot || skip "gnuplot is not installed"
	run_man_examples "$MLI_SRCDIR/man/mli-stats.1"
}
