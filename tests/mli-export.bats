#!/usr/bin/env bats
# mli-export.bats: streams written as TFRecord shards in the original
# schema, checked by an independent reader, and read back exactly.

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	SHARDS=("$DATA/tfrecords/0.tfrecords" "$DATA/tfrecords/1.tfrecords")
}

# Checks every TFRecord CRC of a file with a CRC32C written in Python and
# prints "records N".
python_check() {
	python3 - "$1" <<'PY'
import struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8): c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    T.append(c)
def crc(b):
    c = 0xffffffff
    for x in b: c = (c >> 8) ^ T[(c ^ x) & 0xff]
    c ^= 0xffffffff
    return (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff
data = open(sys.argv[1], 'rb').read(); i = n = 0
while i < len(data):
    hdr = data[i:i + 8]; (length,) = struct.unpack('<Q', hdr)
    assert struct.unpack('<I', data[i + 8:i + 12])[0] == crc(hdr), 'length crc at %d' % i
    body = data[i + 12:i + 12 + length]
    assert struct.unpack('<I', data[i + 12 + length:i + 16 + length])[0] == crc(body), 'data crc at %d' % i
    i += 16 + length; n += 1
assert i == len(data)
print('records', n)
PY
}

@test "export then import gives back the imported records byte for byte" {
	mli-import -q "${SHARDS[@]}" > a.mli
	run -0 mli-export --tfrecord a.mli
	mli-export a.mli > a.tfrecords
	mli-import -q a.tfrecords > b.mli
	cmp a.mli b.mli
	# And again: export(import(export(x))) is export(x).
	mli-export b.mli | cmp - a.tfrecords
}

@test "the shards' CRCs check with an independent CRC32C, and the first record is the original's bytes" {
	mli-import -q "${SHARDS[@]}" | mli-export > a.tfrecords
	run -0 python_check a.tfrecords
	[ "$output" = "records 4" ]
	# The first original record has its features in the order mli-export writes.
	cmp <(head -c 59460 "${SHARDS[0]}") <(head -c 59460 a.tfrecords)
	# The images extract to the same bytes as from the originals.
	mkdir orig exp
	python3 "$MLI_SRCDIR/tests/tfrecord-images.py" orig "${SHARDS[@]}" > orig.txt
	python3 "$MLI_SRCDIR/tests/tfrecord-images.py" exp a.tfrecords > exp.txt
	cmp orig/0-0.jpg exp/a-0.jpg
	cmp orig/1-1.jpg exp/a-3.jpg
	diff <(cut -d' ' -f2,3 orig.txt) <(cut -d' ' -f2,3 exp.txt)
}

@test "fetched-style records without width and height get the JPEG's own size" {
	mli-import -q "$IMAGES" | mli-export -c 10 > p.tfrecords
	mkdir exp
	run -0 python3 "$MLI_SRCDIR/tests/tfrecord-images.py" exp p.tfrecords
	[ "${lines[1]}" = "p-1.jpg 1280 960" ]
	[ "${lines[3]}" = "p-3.jpg 1024 768" ]
	cmp exp/p-1.jpg "$IMAGES/im_1.jpg"
}

@test "records that cannot be exported are skipped and counted" {
	mli-import -q "$DATA/train_im_list_tiny.txt" > ann.mli
	mli-import -q "${SHARDS[0]}" > enc.mli
	run -0 --separate-stderr bash -c 'mli-export --classes 100 enc.mli ann.mli | wc -c'
	[ "$output" -eq 0 ]
	[[ "$stderr" == *"enc.mli: offset 0: a class beyond --classes (skipped)"* ]]
	[[ "$stderr" == *"102 in, 0 out, 102 skipped (2 class-out-of-range, 100 not-encoded)"* ]]
	run -0 --separate-stderr bash -c "mli-export --dict '$DATA/dictionary_and_semantic_hierarchy.txt' enc.mli | mli-import -q | cmp - enc.mli"
}

@test "a damaged stream is reported with its offset and exit 1" {
	mli-import -q "${SHARDS[@]}" > a.mli
	head -c 20000 a.mli > cut.mli
	run -1 --separate-stderr mli-export cut.mli
	[[ "$stderr" == "mli-export: cut.mli: offset "*": "* ]]
	run -2 mli-export --classes 0
}

@test "--output splits the records into whole shards; a fault leaves the last one temporary" {
	mli-import -q "${SHARDS[@]}" "${SHARDS[@]}" > a.mli
	mli-export a.mli > all.tfrecords
	run -0 mli-export -o part -n 3 a.mli
	[ "$(ls part-*)" = $'part-00000.tfrecords\npart-00001.tfrecords\npart-00002.tfrecords' ]
	cat part-0000[0-2].tfrecords | cmp - all.tfrecords
	[ "$(mli-import -q part-00001.tfrecords | mli-cat --count)" -eq 3 ]
	[ "$(mli-import -q part-00002.tfrecords | mli-cat --count)" -eq 2 ]
	# Cut inside the sixth record: five whole records, the second shard unfinished.
	head -c "$(mli-cat --json a.mli | sed -n 6p | grep -o '"offset":[0-9]*' | cut -d: -f2)" a.mli > cut.mli
	head -c 100 a.mli >> cut.mli
	run -1 --separate-stderr mli-export -o cut -n 3 cut.mli
	[[ "$stderr" == *"mli-export: cut-00001.tfrecords.tmp left incomplete"* ]]
	[ "$(ls cut-*)" = $'cut-00000.tfrecords\ncut-00001.tfrecords.tmp' ]
	run -2 mli-export -n 3 a.mli
}

@test "the man page examples run as shown" {
	mkdir tfrecords images
	cp "${SHARDS[@]}" tfrecords/
	cp "$IMAGES"/im_*.jpg images/
	run_man_examples "$MLI_SRCDIR/man/mli-export.1"
}
