#!/usr/bin/env bats
# mli-eval.bats: metrics, predictions and features of networks trained
# by mli-train on real images (Fashion-MNIST mosaics and garments, the
# release's sample JPEGs), checked against independent computations.

setup() {
	load helper
	require_fashion
	cd "$BATS_TEST_TMPDIR"
	PATH="$MLI_BUILDDIR/tests:$PATH"
	TRAIN_SET="$FASHION/train-images-idx3-ubyte.gz $FASHION/train-labels-idx1-ubyte.gz"
	TEST_SET="$FASHION/t10k-images-idx3-ubyte.gz $FASHION/t10k-labels-idx1-ubyte.gz"
	# The 13 mosaic classes (mkmosaic): 10 garments under 3 groups.
	{
		printf 'category_index\tcategory_id\tindex_of_parent_category\tcategory_name\n'
		i=0
		for g in "T-shirt/top:10" "Trouser:12" "Pullover:10" "Dress:12" "Coat:10" \
			"Sandal:11" "Shirt:10" "Sneaker:11" "Bag:12" "Ankle boot:11"; do
			printf '%d\tn%08d\t%s\t%s\n' $i $i "${g##*:}" "${g%:*}"
			i=$((i + 1))
		done
		printf '10\tn00000010\t-1\ttops\n11\tn00000011\t-1\tfootwear\n12\tn00000012\t-1\tother\n'
	} > garments.txt
}

# A small multi-label network and 64 held-out mosaics.
trained() {
	mkmosaic batches $TRAIN_SET 60 16 1 > train.mli
	mkmosaic batches $TEST_SET 2 32 2 > mosaics.mli
	mli-train -q --arch 1,1 --width 4 --threads 2 --class-weights fixed --lr 0.01 \
		--checkpoint-dir ckpt < train.mli
}

@test "mAP agrees with an independent evaluator and the JSON parses" {
	trained
	run -0 mkmosaic eval ckpt/latest.safetensors < mosaics.mli
	ref=$(awk '/^mAP/ { print $2 }' <<<"$output")
	run -0 --separate-stderr mli-eval -c ckpt/latest.safetensors < mosaics.mli
	echo "$output"
	[ "$(awk '$1 == "mAP" { print $2 }' <<<"$output")" = "$ref" ]
	[ "$(awk '$1 == "images" { print $2 }' <<<"$output")" = 64 ]
	[ "$(awk '$1 == "classes_positive" { print $2 }' <<<"$output")" = 13 ]
	[[ "$stderr" == *"mli-eval: 64 images in 2 batches"* ]]
	mli-eval -q -c ckpt/latest.safetensors --json --per-class -d garments.txt < mosaics.mli > m.json
	# Every mosaic has 4 garments and 1 to 3 groups; the counts add up,
	# mAP is the mean of the per-class APs, F1 follows from P and R.
	python3 - m.json <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["images"] == 64 and d["images_with_positives"] == 64
	assert d["positives"] + d["negatives"] + d["ignored"] == 64 * 13
	pc = d["per_class"]
	assert [c["name"] for c in pc][:2] == ["T-shirt/top", "Trouser"] and pc[12]["name"] == "other"
	assert sum(c["positives"] for c in pc) == d["positives"]
	aps = [c["AP"] for c in pc if c["positives"]]
	assert abs(sum(aps) / len(aps) - d["mAP"]) < 1e-12
	t = d["at_threshold"]
	assert abs(t["OF1"] - 2 * t["OP"] * t["OR"] / (t["OP"] + t["OR"])) < 1e-12
	assert 0 < d["top1_accuracy"] <= d["top5_accuracy"] <= 1
	EOF
	run -0 mli-eval -q -c ckpt/latest.safetensors --per-class -d garments.txt < mosaics.mli
	[[ "$output" == *"  Ankle boot"* ]]
}

@test "--predict lists each image's top classes by name, most probable first" {
	trained
	run -0 mli-eval -q -c ckpt/latest.safetensors -d garments.txt --predict 3 < mosaics.mli
	[ "${#lines[@]}" -eq 192 ]
	printf '%s\n' "${lines[@]}" > pred.tsv
	python3 - pred.tsv garments.txt <<-'EOF'
	import sys
	names = [l.rstrip("\n").split("\t")[3] for l in open(sys.argv[2])][1:]
	last = {}
	for l in open(sys.argv[1]):
	    key, rank, cls, p, name = l.rstrip("\n").split("\t")
	    assert name == names[int(cls)], l
	    assert 0 < float(p) < 1
	    if rank != "1":
	        assert int(rank) == last[key][0] + 1 and float(p) <= last[key][1], l
	    last[key] = (int(rank), float(p))
	assert len(last) == 64 and set(r for r, _ in last.values()) == {3}
	EOF
	# Without --dict the name column is empty.
	run -0 mli-eval -q -c ckpt/latest.safetensors --predict 1 < mosaics.mli
	[[ "${lines[0]}" == mosaic-0#0$'\t'1$'\t'* ]]
	[ "$(cut -f5 <<<"${lines[0]}")" = "" ]
}

@test "single-label data: top-1 accuracy as an independent count, softmax probabilities sum to 1" {
	mkmosaic plain $TEST_SET 64 0 1 > test.mli
	mkmosaic plain $TRAIN_SET 64 3 1 | mli-train -q --arch 1 --width 4 --threads 2 --loss softmax \
		--lr 0.05 --max-steps 40 --checkpoint-dir soft
	run -0 mkmosaic eval soft/latest.safetensors < test.mli
	ref=$(awk '/^top1/ { print $2 }' <<<"$output")
	run -0 mli-eval -q -c soft/latest.safetensors --json < test.mli
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["single_label_images"] == d["images"] == 10000, d; print("%.4f" % d["top1_accuracy"]); assert d["top1_accuracy"] <= d["top5_accuracy"]' "$output" > top1
	[ "$(cat top1)" = "$ref" ]
	run -0 mli-eval -q -c soft/latest.safetensors --predict 10 < test.mli
	awk -F'\t' '{ s[$1] += $4 } END { for (k in s) if (s[k] < 0.9999 || s[k] > 1.0001) exit 1 }' <<<"$output"
}

@test "--propagate labels the ancestors from the dictionary" {
	trained
	# A hierarchy where "tops" sits under "other": propagation adds
	# "other" to every image with a top, and changes no other class.
	sed 's/^10\tn00000010\t-1/10\tn00000010\t12/' garments.txt > nested.txt
	mli-eval -q -c ckpt/latest.safetensors -d nested.txt --json --per-class < mosaics.mli > plain.json
	mli-eval -q -c ckpt/latest.safetensors -d nested.txt --json --per-class --propagate < mosaics.mli > prop.json
	python3 - plain.json prop.json <<-'EOF'
	import json, sys
	a, b = (json.load(open(f))["per_class"] for f in sys.argv[1:])
	assert [c["positives"] for c in a[:12]] == [c["positives"] for c in b[:12]]
	assert a[12]["positives"] < b[12]["positives"] <= 64
	assert b[12]["positives"] >= a[10]["positives"]
	EOF
}

@test "features: one vector per image, ten crops averaged into one, as .npy or records" {
	trained
	run -0 mli-eval -q -c ckpt/latest.safetensors --features-npy f.npy < mosaics.mli
	[ "${#lines[@]}" -eq 64 ]
	[ "${lines[0]}" = "mosaic-0#0" ]
	# arch 1,1 of width 4: 4 * 4 * 2 = 32 features; 128-byte header.
	python3 -c 'import ast,struct,sys; b=open("f.npy","rb").read(); n=struct.unpack("<H",b[8:10])[0]; h=ast.literal_eval(b[10:10+n].decode()); assert h["shape"]==(64,32) and h["descr"]=="<f4", h; assert len(b)==10+n+64*32*4; assert (10+n)%64==0'
	mli-eval -q -c ckpt/latest.safetensors --features < mosaics.mli > f.mli
	run -0 mli-cat --list f.mli
	[ "${#lines[@]}" -eq 64 ]
	[[ "${lines[1]}" == *"mosaic-0#1"* ]]
	# Ten crops of the release's 4 sample images, 8 per batch: 40 rows
	# averaged into 4 vectors, one per file, in order.
	I=$MLI_DATA/images
	mkencoded $I/im_0.jpg $I/im_1.jpg $I/im_2.jpg $I/im_3.jpg | mli-decode -q --short-side 64 |
		mli-augment -q --ten-crop --resize 40 --size 32 | mli-batch -q --size 8 --classes 5 > ten.mli
	mli-train -q --arch 1 --width 4 --threads 2 --max-steps 1 --checkpoint-dir rgb < ten.mli
	run -0 --separate-stderr mli-eval -c rgb/latest.safetensors --features-npy ten.npy < ten.mli
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[3]}" = "$I/im_3.jpg" ]
	[[ "$stderr" == *"40 images in 5 batches, 4 feature vectors"* ]]
	# FEATURES records keep each image's labels, across batch boundaries.
	mkencoded "$I/im_0.jpg@image/jpeg=1:1,3:0.5" "$I/im_1.jpg@image/jpeg=2:1" $I/im_2.jpg |
		mli-decode -q --short-side 64 | mli-augment -q --ten-crop --resize 40 --size 32 |
		mli-batch -q --size 8 --classes 5 > labelled.mli
	mli-eval -q -c rgb/latest.safetensors --features < labelled.mli > fl.mli
	run -0 mli-cat --list fl.mli
	[ "${#lines[@]}" -eq 3 ]
	[ "$(cut -f2,3 <<<"$output")" = "$I/im_0.jpg	1:1,3:0.5
$I/im_1.jpg	2:1
$I/im_2.jpg	-" ]
	# float32 batches (mli-batch --float) give the features of uint8 ones.
	mkencoded $I/im_0.jpg $I/im_1.jpg $I/im_2.jpg $I/im_3.jpg | mli-decode -q --short-side 64 |
		mli-augment -q --ten-crop --resize 40 --size 32 | mli-batch -q --float --size 8 > tenf.mli
	mli-eval -q -c rgb/latest.safetensors --features-npy tenf.npy < tenf.mli
	cmp ten.npy tenf.npy
}

@test "labels of -1 are ignored; confidences below --label-threshold are negatives" {
	I=$MLI_DATA/images
	mkencoded "$I/im_0.jpg@image/jpeg=1:1,3:-1" "$I/im_1.jpg@image/jpeg=2:1,0:-1" \
		"$I/im_2.jpg@image/jpeg=1:1" "$I/im_3.jpg@image/jpeg=4:0.3" |
		mli-decode -q --short-side 64 | mli-augment -q --eval --size 32 |
		mli-batch -q --size 4 --classes 5 > ign.mli
	mli-train -q --arch 1 --width 4 --threads 2 --checkpoint-dir rgb < ign.mli
	# 4 images x 5 classes: positives 1, 2, 1; ignored 3 and 0; the rest
	# (class 4's 0.3 included) negatives.
	run -0 mli-eval -q -c rgb/latest.safetensors --json --per-class < ign.mli
	[ "$(jq -c '[.positives, .negatives, .ignored, .classes_with_positives, .images_with_positives, [.per_class[] | .ignored]]' <<<"$output")" = '[3,15,2,2,3,[1,0,0,1,0]]' ]
	run -0 mli-eval -q -c rgb/latest.safetensors --json --label-threshold 0.25 < ign.mli
	[ "$(jq -c '[.positives, .negatives, .ignored, .classes_with_positives]' <<<"$output")" = '[4,14,2,3]' ]
}

@test "the scores kept for AP stay within --max-memory" {
	trained
	# 13 classes take 65 bytes per image: 1K holds 15 of the 64.
	run -1 --separate-stderr mli-eval -c ckpt/latest.safetensors --max-memory 1K < mosaics.mli
	[[ "$stderr" == *"after 0 images, the scores kept for AP (5 bytes per image and class) would pass --max-memory 1024 bytes"* ]]
	run -0 mli-eval -q -c ckpt/latest.safetensors --max-memory 5K < mosaics.mli
}

@test "bad input and bad options get one-line errors" {
	trained
	run -2 mli-eval < mosaics.mli
	run -2 mli-eval -c ckpt/latest.safetensors --propagate < mosaics.mli
	run -2 mli-eval -c ckpt/latest.safetensors --predict 2 --features < mosaics.mli
	run -2 mli-eval -c ckpt/latest.safetensors --threshold 1 < mosaics.mli
	run -1 --separate-stderr mli-eval -c nothing.safetensors < mosaics.mli
	[[ "$stderr" == "mli-eval: nothing.safetensors: No such file or directory" ]]
	run -1 --separate-stderr mli-eval -c ckpt/latest.safetensors -d "$MLI_DATA/imagenet2012_dictionary.txt" < mosaics.mli
	[[ "$stderr" == "mli-eval: $MLI_DATA/imagenet2012_dictionary.txt: "* ]]
	# Batches without labels: fine for predictions, not for metrics.
	I=$MLI_DATA/images
	mkencoded $I/im_0.jpg $I/im_1.jpg | mli-decode -q --short-side 64 |
		mli-augment -q --eval --size 32 | mli-batch -q --size 2 > nolabels.mli
	mkencoded $I/im_0.jpg $I/im_1.jpg | mli-decode -q --short-side 64 |
		mli-augment -q --eval --size 32 | mli-batch -q --size 2 --classes 5 |
		mli-train -q --arch 1 --width 4 --threads 2 --checkpoint-dir rgb
	run -1 --separate-stderr mli-eval -c rgb/latest.safetensors < nolabels.mli
	[[ "$stderr" == *"batch-000000: no valid TARGET (the metrics need labels)" ]]
	run -0 mli-eval -q -c rgb/latest.safetensors --predict 1 < nolabels.mli
	[ "${#lines[@]}" -eq 2 ]
	# A checkpoint for other images.
	run -1 --separate-stderr mli-eval -c ckpt/latest.safetensors --predict 1 < nolabels.mli
	[[ "$stderr" == "mli-eval: ckpt/latest.safetensors: "* ]]
}

@test "a truncated stream: the features of its whole batches go out, marked truncated; no .npy" {
	trained
	mli-eval -q -c ckpt/latest.safetensors --features < mosaics.mli > whole.mli
	# The stream cut inside its second batch.
	second=$(mli-cat --json mosaics.mli | sed -n '2s/^{"offset":\([0-9]*\),.*/\1/p')
	head -c $((second + 100)) mosaics.mli > cut.mli
	status=0
	mli-eval -q -c ckpt/latest.safetensors --features < cut.mli > part.mli 2> err.txt || status=$?
	[ "$status" -eq 1 ]
	[[ "$(cat err.txt)" == "mli-eval: stdin: offset $second: "* ]]
	run -1 --separate-stderr mli-cat --verify part.mli
	[[ "$stderr" == *"stream ends without an end frame"* ]]
	# The first batch's vectors, as in the whole run, but its last image's:
	# more views of it could have followed in the lost batch.
	[ "$(mli-cat --list part.mli 2>/dev/null | wc -l)" -eq 31 ]
	diff <(mli-cat --list part.mli 2>/dev/null) <(mli-cat --list whole.mli | head -31)
	run -1 mli-eval -q -c ckpt/latest.safetensors --features-npy f.npy < cut.mli
	[ ! -e f.npy ] && [ -z "$(ls f.npy.* 2>/dev/null)" ]
}

@test "a diverged checkpoint (NaN weights) is an error, not a hang or a NaN mAP" {
	trained
	# The classifier's bias set to NaN, in place.
	python3 - ckpt/latest.safetensors <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
o = json.loads(b[8:8 + n])["logits/dense/bias"]["data_offsets"]
b[8 + n + o[0]:8 + n + o[1]] = struct.pack("<f", float("nan")) * ((o[1] - o[0]) // 4)
open("nan.safetensors", "wb").write(b)
PY
	run -1 --separate-stderr timeout 60 mli-eval -c nan.safetensors < mosaics.mli
	[[ "$stderr" == "mli-eval: stdin: offset 0: the network's outputs are not finite (NaN or infinite): the checkpoint's weights have diverged" ]]
}

@test "the examples of the man page run" {
	trained
	run_man_examples "$MLI_SRCDIR/man/mli-eval.1"
}
