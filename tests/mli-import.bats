#!/usr/bin/env bats
# mli-import.bats: the release's TFRecord shards, lists and images brought
# into streams; CRC faults reported with their offsets; labels propagated
# through the hierarchy as the dictionary says.

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	SHARDS=("$DATA/tfrecords/0.tfrecords" "$DATA/tfrecords/1.tfrecords")
	DICT=$DATA/dictionary_and_semantic_hierarchy.txt
}

# What the shards hold, read by an independent reader (Python, standard
# library): "name<TAB>jpeg size<TAB>width<TAB>height<TAB>labels", the
# labels being the non-zero classes of the dense vector as class:value.
python_dump() {
	python3 - "$@" <<'PY'
import struct, sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i); f, t = k >> 3, k & 7
        if t == 2:
            n, i = varint(b, i); yield f, b[i:i + n]; i += n
        elif t == 0:
            v, i = varint(b, i); yield f, v
        else: raise ValueError(t)
for path in sys.argv[1:]:
    data = open(path, 'rb').read(); i = 0
    while i < len(data):
        (n,) = struct.unpack_from('<Q', data, i); rec = data[i + 12:i + 12 + n]; i += 16 + n
        ex = {}
        for _, feats in fields(rec):
            for _, entry in fields(feats):
                d = dict(fields(entry)); lst = dict(fields(d[2]))
                kind, body = next(iter(lst.items()))
                v = dict(fields(body))[1]
                ex[d[1].decode()] = varint(v, 0)[0] if kind == 3 else v
        lab = struct.unpack('<%df' % (len(ex['label']) // 4), ex['label'])
        labels = ','.join('%d:%g' % (c, float('%.7g' % x)) for c, x in enumerate(lab) if x != 0)
        print('%s\t%d\t%d\t%d\t%s' % (ex['name'].decode(), len(ex['image']), ex['width'], ex['height'], labels))
PY
}

@test "the four sample records import with their names, sizes and labels" {
	mli-import --quiet "${SHARDS[@]}" > out.mli
	run -0 mli-cat --list out.mli
	[ "${#lines[@]}" -eq 4 ]
	python_dump "${SHARDS[@]}" > expected.tsv
	[ "$(wc -l < expected.tsv)" -eq 4 ]
	mli-cat --list out.mli | awk -F'\t' '{ split($4, s, " "); sub("bytes=", "", s[3]); print $2 "\t" s[3] "\t" $3 }' > got.tsv
	cut -f 1,2,5 expected.tsv | diff - got.tsv
	[ "${lines[0]}" = $'ENCODED\tim_2.jpeg\t3:1,5193:0.9,5851:0.9,9413:1,9416:1\tcontent=14816 stored=14816 bytes=14676 media=image/jpeg' ]
	[[ "${lines[2]}" == $'ENCODED\tim_0.jpeg\t5170:0.9,5177:0.9\t'*" bytes=95443 media=image/jpeg" ]]
}

@test "the imported images are the shards' JPEG bytes, and width and height are kept" {
	mkdir py
	python3 "$MLI_SRCDIR/tests/tfrecord-images.py" py "${SHARDS[@]}" > dims.txt
	mli-import -q "${SHARDS[@]}" | mli-cat -q --extract out
	cmp py/0-0.jpg out/im_2.jpeg
	cmp py/0-1.jpg out/im_3.jpeg
	cmp py/1-0.jpg out/im_0.jpeg
	cmp py/1-1.jpg out/im_1.jpeg
	# WIDTH (48) and HEIGHT (49) of the first record: 500 x 374.
	mli-import -q "${SHARDS[0]}" | head -c 14900 > first.bin
	python3 -c '
import struct, sys
b = open("first.bin", "rb").read()[32:]
i, f = 0, {}
while i + 8 <= len(b):
    tag, size = struct.unpack_from("<II", b, i); f[tag] = b[i + 8:i + 8 + size]; i += 8 + size + (-size % 8)
print(struct.unpack("<I", f[48])[0], struct.unpack("<I", f[49])[0])' > wh.txt
	[ "$(cat wh.txt)" = "$(sed -n 1p dims.txt | cut -d' ' -f2,3)" ]
}

@test "a shard read from stdin is recognised and imports the same" {
	mli-import -q "${SHARDS[@]}" > a.mli
	cat "${SHARDS[@]}" | mli-import -q > b.mli
	cmp a.mli b.mli
}

@test "a damaged data CRC is reported with the record's offset, exit 1 and a truncated output" {
	cp "${SHARDS[0]}" bad.tfrecords
	chmod u+w bad.tfrecords
	# The second record starts at 59460; flip a byte of its image.
	printf '\377' | dd of=bad.tfrecords bs=1 seek=$((59460 + 30000)) conv=notrunc status=none
	run -1 --separate-stderr mli-import bad.tfrecords
	[ "$stderr" = "mli-import: bad.tfrecords: offset 59460: data CRC mismatch" ]
	mli-import bad.tfrecords > partial.mli 2>/dev/null || true
	# The first record was written whole; the stream has no end frame.
	run -1 --separate-stderr mli-cat --count partial.mli
	[ "$output" = 1 ]
	[ "$stderr" = "mli-cat: partial.mli: offset 14848: stream ends without an end frame" ]
}

@test "a damaged length CRC and a cut shard are reported with their offsets" {
	cp "${SHARDS[1]}" bad.tfrecords
	chmod u+w bad.tfrecords
	printf '\001' | dd of=bad.tfrecords bs=1 seek=$((140231 + 9)) conv=notrunc status=none
	run -1 --separate-stderr mli-import -f tfrecord bad.tfrecords
	[ "$stderr" = "mli-import: bad.tfrecords: offset 140231: length CRC mismatch (not a TFRecord, or damaged)" ]
	head -c 150000 "${SHARDS[1]}" > cut.tfrecords
	run -1 --separate-stderr mli-import cut.tfrecords
	[ "$stderr" = "mli-import: cut.tfrecords: offset 140231: input ends inside a record" ]
}

@test "the sample list becomes one annotation record per line, labels unchanged" {
	run -0 mli-import -q "$DATA/train_im_list_tiny.txt"
	mli-import -q "$DATA/train_im_list_tiny.txt" | mli-cat --list | cut -f 2,3 | tr ',' '\t' > got.tsv
	awk -F'\t' '{ line = $1; for (i = 2; i <= NF; i++) { split($i, p, ":"); line = line "\t" p[1] ":" (p[2] + 0) } print line }' \
		"$DATA/train_im_list_tiny.txt" > expected.tsv
	[ "$(wc -l < got.tsv)" -eq 100 ]
	diff expected.tsv got.tsv
}

@test "a list with --root reads the files it names; missing ones are skipped and counted" {
	printf 'im_1.jpg\t7:1\nnope.jpg\t8:1\nim_3.jpg\t9:0.8\n' > list.txt
	run -0 --separate-stderr mli-import --root "$IMAGES" list.txt
	[[ "$stderr" == *"nope.jpg: No such file or directory (skipped)"* ]]
	[[ "$stderr" == *"3 in, 2 out, 1 skipped (1 unreadable)"* ]]
	mli-import -q --root "$IMAGES" list.txt | mli-cat -q --extract out
	cmp "$IMAGES/im_1.jpg" out/im_1.jpg
	cmp "$IMAGES/im_3.jpg" out/im_3.jpg
	run -0 bash -c "mli-import -q -r '$IMAGES' list.txt | mli-cat --list | cut -f 1-3"
	[ "$output" = $'ENCODED\tim_1.jpg\t7:1\nENCODED\tim_3.jpg\t9:0.8' ]
}

@test "a directory imports every image below it in name order, other files skipped" {
	mkdir -p d/sub d/.hidden
	cp "$IMAGES/im_1.jpg" d/b.jpg
	cp "$IMAGES/im_3.jpg" d/sub/a.jpg
	cp "$IMAGES/im_2.jpg" d/.hidden/x.jpg
	echo 'not an image' > d/notes.txt
	run -0 --separate-stderr bash -c 'mli-import d | mli-cat --list | cut -f 1,2'
	[ "$output" = $'ENCODED\tb.jpg\nENCODED\tsub/a.jpg' ]
	[[ "$stderr" == *"d/notes.txt: not an image (skipped)"* ]]
}

@test "propagation adds exactly the ancestors the dictionary gives" {
	mli-import -q -d "$DICT" --propagate "$DATA/train_im_list_tiny.txt" | mli-cat --list | cut -f 2,3 > got.tsv
	# The closure of each line's classes under the parent column, by awk.
	awk -F'\t' '
		NR == FNR { if (FNR > 1) parent[$1] = $3; next }
		{
			delete seen; n = 0
			for (i = 2; i <= NF; i++) { split($i, p, ":"); if (!(p[1] in seen)) { seen[p[1]] = 1; n++ } }
			for (i = 2; i <= NF; i++) {
				split($i, p, ":"); c = p[1]
				while (parent[c] != -1) { c = parent[c]; if (!(c in seen)) { seen[c] = 1; n++ } }
			}
			out = ""
			for (c in seen) out = out " " c
			print $1 "\t" n
		}' "$DICT" "$DATA/train_im_list_tiny.txt" > expected.tsv
	awk -F'\t' '{ print $1 "\t" split($2, a, ",") }' got.tsv > counts.tsv
	diff expected.tsv counts.tsv
	# Every class of every output line has its parent on the line too.
	awk -F'\t' '
		NR == FNR { if (FNR > 1) parent[$1] = $3; next }
		{
			delete has; n = split($2, a, ",")
			for (i = 1; i <= n; i++) { split(a[i], p, ":"); has[p[1]] = 1 }
			for (c in has) if (parent[c] != -1 && !(parent[c] in has)) { print "missing parent of " c " on " $1; bad = 1 }
		}
		END { exit bad }' "$DICT" got.tsv
	# 35 of the 100 sample lines are closed already; propagation leaves those as they are.
	run -0 bash -c "diff <(cut -f 2 got.tsv) <(mli-import -q '$DATA/train_im_list_tiny.txt' | mli-cat --list | cut -f 3) | grep -c '^<'"
	[ "$output" -eq 65 ]
}

@test "a map renumbers and subsets classes" {
	printf '# keep two classes\n5177\n3\t7\n' > m.map
	run -0 bash -c "mli-import -q --map m.map '${SHARDS[0]}' '${SHARDS[1]}' | mli-cat --list | cut -f 3"
	[ "$output" = $'7:1\n-\n0:0.9\n-' ]
	printf '1\tx\n' > bad.map
	run -1 --separate-stderr mli-import -m bad.map "${SHARDS[0]}"
	[ "$stderr" = "mli-import: bad.map: line 1: not OLD or OLD<TAB>NEW (whole classes)" ]
}

@test "a class outside the dictionary is skipped and counted" {
	printf 'a.jpg\t2:1\nb.jpg\t99999:1\n' > list.txt
	run -0 --separate-stderr mli-import -d "$DICT" -P list.txt
	[[ "$stderr" == *"list.txt: line 2: class 99999 is not in the dictionary (skipped)"* ]]
	[[ "$stderr" == *"2 in, 1 out, 1 skipped (1 unknown-class)"* ]]
}

@test "usage errors exit 2" {
	run -2 mli-import --propagate list.txt
	run -2 mli-import --format csv
}

@test "the man page examples run as shown" {
	mkdir tfrecords images
	cp "${SHARDS[@]}" tfrecords/
	cp "$IMAGES"/im_*.jpg images/
	cp "$DICT" dictionary.txt
	cut -f 1 "$DICT" | sed -n '2,6000p' > trainable.map
	printf 'im_0.jpg\t1:1\nim_1.jpg\t2:1\n' > train_im_list.txt
	run_man_examples "$MLI_SRCDIR/man/mli-import.1"
}

@test "the tfrecord and dictionary fuzz corpora replay without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-tfrecord" "$MLI_SRCDIR/fuzz/corpus/tfrecord"
	[[ "$output" == *"ok 1 - "*"tfrecord: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
	run -0 "$MLI_BUILDDIR/fuzz/replay-dictionary" "$MLI_SRCDIR/fuzz/corpus/dictionary"
	[[ "$output" == *"ok 1 - "*"dictionary: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}
