#!/usr/bin/env bats
# mli-train.bats: training on real images (2x2 mosaics of Debian's
# Fashion-MNIST garments, multi-label), checkpoints, exact resume after
# an interruption, and the failures a user must be told about.

setup() {
	load helper
	require_fashion
	cd "$BATS_TEST_TMPDIR"
	PATH="$MLI_BUILDDIR/tests:$PATH"
	TRAIN_SET="$FASHION/train-images-idx3-ubyte.gz $FASHION/train-labels-idx1-ubyte.gz"
	TEST_SET="$FASHION/t10k-images-idx3-ubyte.gz $FASHION/t10k-labels-idx1-ubyte.gz"
	SMALL=(--arch 1,1 --width 4 --threads 2)
}

# The tensor bytes of a checkpoint (everything after the JSON header).
tensors() {
	python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; sys.stdout.buffer.write(b[8+n:])' "$1"
}

@test "a small ResNet learns garment mosaics: held-out mAP far above chance" {
	# 800 batches of 32 training mosaics; 1024 held-out ones from the
	# test images. Dense labels: fixed class weights (see the man page).
	mkmosaic batches $TRAIN_SET 800 32 1 > train.mli
	mkmosaic batches $TEST_SET 16 64 2 > heldout.mli
	run -0 --separate-stderr mli-train -q --arch 1,1,1 --width 16 --class-weights fixed \
		--lr 0.003 --threads 2 --checkpoint-dir ckpt --log train.tsv < train.mli
	[[ "$stderr" == *"mli-train: 800 steps, 25600 images, 0 batches skipped,"* ]]
	[ "$(wc -l < train.tsv)" -eq 801 ]
	run -0 mkmosaic eval ckpt/latest.safetensors < heldout.mli
	echo "$output"
	[ "${lines[2]}" = "images 1024" ]
	# Chance (random scores) is about 0.45; this run reaches about 0.87.
	awk '/^chance/ { if ($2 > 0.5) exit 1 } /^mAP/ { if ($2 < 0.80) exit 1 }' <<<"$output"
	# The curves, drawn by gnuplot.
	run -0 "$MLI_SRCDIR/pipelines/plot-loss" train.tsv curves.png
	[ "$(head -c 4 curves.png | od -An -c | tr -d ' ')" = "211PNG" ]
}

@test "trained through Winograd on every 3x3 layer (MLI_WINOGRAD=on), the network learns as well" {
	# By default only layers of 64 channels or more take Winograd, which
	# these small networks never have; two blocks per stage give them
	# 3x3 layers of stride 1.
	mkmosaic batches $TRAIN_SET 800 32 1 > train.mli
	mkmosaic batches $TEST_SET 16 64 2 > heldout.mli
	net=(--arch 2,2,1 --width 16 --class-weights fixed --lr 0.003 --threads 2)
	for w in on off; do
		MLI_WINOGRAD=$w run -0 mli-train -q "${net[@]}" --max-steps 2 --checkpoint-dir two-$w < train.mli
	done
	# It is taken: its sums round differently from the direct products.
	! cmp -s <(tensors two-on/latest.safetensors) <(tensors two-off/latest.safetensors)
	MLI_WINOGRAD=on run -0 mli-train -q "${net[@]}" --checkpoint-dir ckpt < train.mli
	run -0 mkmosaic eval ckpt/latest.safetensors < heldout.mli
	echo "$output"
	# This run reaches about 0.87, as with MLI_WINOGRAD=off; chance 0.45.
	awk '/^chance/ { if ($2 > 0.5) exit 1 } /^mAP/ { if ($2 < 0.80) exit 1 }' <<<"$output"
}

@test "interrupted by SIGINT and resumed, a run ends with the weights of an uninterrupted one" {
	mkmosaic batches $TEST_SET 12 8 3 > all.mli
	run -0 mli-train -q "${SMALL[@]}" --neg-select 0.5 --checkpoint-dir whole < all.mli
	# The first 4 batches, then the pipe stays open: mli-train waits for
	# more until SIGINT, then writes its checkpoint and dies by the signal.
	mkfifo feed
	( mkmosaic batches $TEST_SET 4 8 3; exec sleep 60 ) > feed &
	writer=$!
	mli-train "${SMALL[@]}" --neg-select 0.5 --checkpoint-dir part --log part.tsv < feed 2> part.err &
	trainer=$!
	for _ in $(seq 100); do
		[ "$(wc -l < part.tsv 2>/dev/null || echo 0)" -ge 5 ] && break
		sleep 0.1
	done
	kill -INT $trainer
	status=0
	wait $trainer || status=$?
	kill $writer
	cat part.err
	[ "$status" -eq 130 ]
	grep -q 'step 4: checkpoint part/step-00000004.safetensors (interrupted)' part.err
	cp -R part again
	mkmosaic batches $TEST_SET 12 8 3 4 |
		mli-train -q "${SMALL[@]}" --neg-select 0.5 --checkpoint-dir part --resume
	cmp <(tensors whole/step-00000012.safetensors) <(tensors part/step-00000012.safetensors)
	# The momentum and the loss's class counts are in there too, and
	# the whole files agree, metadata included.
	cmp whole/step-00000012.safetensors part/step-00000012.safetensors
	grep -c 'momentum/stages_0_block_0/conv2_b2/conv2d/kernel' whole/step-00000012.safetensors
	grep -c 'loss/pos_count' whole/step-00000012.safetensors
	# Given the whole stream again, the resumed run passes over the 4
	# batches it trained on and ends the same, byte for byte.
	run -0 --separate-stderr mli-train "${SMALL[@]}" --neg-select 0.5 --checkpoint-dir again --resume < all.mli
	[[ "$stderr" == *"the whole stream again: passed over the 4 batches trained on"* ]]
	[[ "$stderr" == *"mli-train: 8 steps, 64 images, 0 batches skipped,"* ]]
	cmp whole/step-00000012.safetensors again/step-00000012.safetensors
}

@test "--resume refuses a stream that starts as the checkpoint's and then differs" {
	mkmosaic batches $TEST_SET 4 8 3 > a.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir c < a.mli
	# Batch 0 of seed 3, then batches 1-4 of another seed.
	{ mkmosaic batches $TEST_SET 1 8 3; mkmosaic batches $TEST_SET 5 8 9 1; } > b.mli
	run -1 --separate-stderr mli-train -q "${SMALL[@]}" --checkpoint-dir c --resume < b.mli
	[[ "$stderr" == *"the stream starts with the checkpoint's first batch (mosaic-0) but its batch 4 (mosaic-3) is not the one trained on"* ]]
	# A stream shorter than what was trained on is refused too.
	run -1 --separate-stderr mli-train -q "${SMALL[@]}" --checkpoint-dir c --resume < <(mkmosaic batches $TEST_SET 2 8 3)
	[[ "$stderr" == *"the stream ends after 2 batches, before the 4 the checkpoint was trained on"* ]]
}

@test "--log-json writes the lines of --log as JSON objects" {
	mkmosaic batches $TEST_SET 3 4 3 > b.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir j --log t.tsv --log-json t.jsonl < b.mli
	[ "$(wc -l < t.jsonl)" -eq 3 ]
	# Every line is an object with the five members, and the numbers are
	# the TSV's (the header line aside).
	run -0 jq -r '[.step, .loss, .lr, .images_per_s, .seconds] | map(tostring) | join(" ")' t.jsonl
	[ "${#lines[@]}" -eq 3 ]
	diff <(tail -n +2 t.tsv | cut -f1-3 | tr '\t' ' ') \
		<(jq -r '"\(.step) \(.loss) \(.lr)"' t.jsonl)
	# The curves from the JSON log too.
	run -0 "$MLI_SRCDIR/pipelines/plot-loss" t.jsonl curves.png
	[ "$(head -c 4 curves.png | od -An -c | tr -d ' ')" = "211PNG" ]
}

@test "--freeze keeps the stem and the first stages as --init loaded them" {
	mkmosaic batches $TEST_SET 3 8 3 > a.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir pre < a.mli
	mli-train -q "${SMALL[@]}" --init pre/latest.safetensors --freeze 1 --checkpoint-dir fine < a.mli
	for k in init/init_conv/conv2d/kernel stages_0_block_0/conv2_b2/conv2d/kernel \
		stages_0_block_0/conv3_b2_bn/batch_normalization/gamma; do
		cmp <(tensor pre/latest.safetensors $k) <(tensor fine/latest.safetensors $k)
	done
	! cmp -s <(tensor pre/latest.safetensors stages_1_block_0/conv2_b2/conv2d/kernel) \
		<(tensor fine/latest.safetensors stages_1_block_0/conv2_b2/conv2d/kernel)
}

@test "SIGTERM while waiting for input writes a checkpoint and ends by the signal" {
	mkfifo feed
	( mkmosaic batches $TEST_SET 2 4 3; exec sleep 60 ) > feed &
	writer=$!
	mli-train "${SMALL[@]}" --checkpoint-dir t --log t.tsv < feed 2> t.err &
	trainer=$!
	for _ in $(seq 100); do
		[ "$(wc -l < t.tsv 2>/dev/null || echo 0)" -ge 3 ] && break
		sleep 0.1
	done
	kill -TERM $trainer
	status=0
	wait $trainer || status=$?
	kill $writer
	cat t.err
	[ "$status" -eq 143 ]
	grep -q 'step 2: checkpoint t/step-00000002.safetensors (terminated)' t.err
	[ "$(readlink t/latest.safetensors)" = step-00000002.safetensors ]
}

@test "two runs with the same seed are identical; another seed differs" {
	mkmosaic batches $TEST_SET 3 8 5 > b.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir a < b.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir b --threads 1 < b.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir c --seed 7 < b.mli
	cmp <(tensors a/latest.safetensors) <(tensors b/latest.safetensors)
	! cmp -s <(tensors a/latest.safetensors) <(tensors c/latest.safetensors)
}

@test "snapshots every N steps keep the last K, --max-steps stops, a killed run's temporaries go" {
	mkmosaic batches $TEST_SET 10 4 6 > b.mli
	# What a run killed while writing would leave: its pid is gone (a
	# finished subshell's); a live process's temporary stays.
	dead=$(sh -c 'echo $$')
	mkdir k
	touch "k/step-00000002.safetensors.tmp.$dead" "k/.latest.tmp.$dead" "k/step-00000003.safetensors.tmp.$$"
	run -0 mli-train -q "${SMALL[@]}" --snapshot 2 --keep 3 --max-steps 7 --checkpoint-dir k < b.mli
	run -0 ls -A k
	[ "$output" = "$(printf '%s\n' latest.safetensors step-00000003.safetensors.tmp.$$ step-00000004.safetensors step-00000006.safetensors step-00000007.safetensors)" ]
	[ "$(readlink k/latest.safetensors)" = step-00000007.safetensors ]
}

@test "a NaN loss stops the run with a message and keeps the last good checkpoint" {
	mkmosaic batches $TEST_SET 6 4 3 0 3 > b.mli
	run -1 --separate-stderr mli-train "${SMALL[@]}" --snapshot 1 --checkpoint-dir n < b.mli
	[[ "$stderr" == *"mli-train: step 4: the loss is NaN; stopping"* ]]
	[ "$(readlink n/latest.safetensors)" = step-00000003.safetensors ]
}

@test "a batch of another shape, or larger than the first, is refused" {
	mkmosaic batches $TEST_SET 2 4 3 > a.mli
	mkmosaic batches $TEST_SET 1 8 3 > b.mli
	mli-cat a.mli b.mli > ab.mli
	run -1 --separate-stderr mli-train "${SMALL[@]}" --checkpoint-dir x < ab.mli
	[[ "$stderr" == *"batch mosaic-0: more images than the first batch"* ]]
	run -1 --separate-stderr mli-train "${SMALL[@]}" --checkpoint-dir x < /dev/null
	[[ "$stderr" == "mli-train: stdin: "* ]]
	# A stream cut 100 bytes short: the error names the offset.
	head -c "$(( $(stat -c %s a.mli) - 100 ))" a.mli > cut.mli
	run -1 --separate-stderr mli-train "${SMALL[@]}" --checkpoint-dir x < cut.mli
	[[ "$stderr" == *"mli-train: stdin: offset "[1-9]*": truncated frame payload"* ]]
}

@test "--init loads weights; --resume without a checkpoint and bad options are refused" {
	mkmosaic batches $TEST_SET 2 4 3 > a.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir i < a.mli
	run -0 --separate-stderr mli-train "${SMALL[@]}" --init i/latest.safetensors --checkpoint-dir j < a.mli
	[[ "$stderr" == *"weights from i/latest.safetensors"* ]]
	run -1 --separate-stderr mli-train "${SMALL[@]}" --resume --checkpoint-dir empty < a.mli
	[[ "$stderr" == *"no checkpoint to resume from"* ]]
	run -1 --separate-stderr mli-train --arch 1,1,1 --width 4 --init i/latest.safetensors --checkpoint-dir j < a.mli
	[[ "$stderr" == *"missing"* ]]
	run -2 mli-train --arch resnet18
	run -2 mli-train --class-weights some
	run -2 mli-train --lr-steps 10,5
	run -2 --separate-stderr mli-train --lr-steps 10,,20
	[ "${stderr_lines[0]}" = "mli-train: --lr-steps: at most 16 increasing steps in [1, 2000000000]: 10,,20" ]
	run -2 mli-train --lr-steps ' 10'
}

# The bytes of one tensor of a checkpoint.
tensor() {
	python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; h=json.loads(b[8:8+n]); o=h[sys.argv[2]]["data_offsets"]; sys.stdout.buffer.write(b[8+n+o[0]:8+n+o[1]])' "$1" "$2"
}

@test "--init fine-tunes to another class count and input size, leaving the classifier out" {
	mkmosaic batches $TEST_SET 2 8 3 > mosaics.mli
	mkmosaic plain $TEST_SET 50 0 1 > plain.mli
	mli-train -q "${SMALL[@]}" --checkpoint-dir pre < mosaics.mli
	run -0 --separate-stderr mli-train "${SMALL[@]}" --loss softmax --lr 0 --max-steps 2 \
		--init pre/latest.safetensors --checkpoint-dir fine < plain.mli
	[[ "$stderr" == *"input 1x32x32, 10 classes, batch 50"* ]]
	[[ "$stderr" == *"weights from pre/latest.safetensors"* ]]
	k=stages_1_block_0/conv2_b2/conv2d/kernel
	cmp <(tensor pre/latest.safetensors $k) <(tensor fine/latest.safetensors $k)
	[ "$(tensor fine/latest.safetensors logits/dense/bias | wc -c)" -eq 40 ]
}

@test "the examples of the man page run" {
	mkmosaic batches $TEST_SET 10 8 3 > mosaics.mli
	mkmosaic batches $TEST_SET 20 8 3 10 > more.mli
	run_man_examples "$MLI_SRCDIR/man/mli-train.1"
}

@test "the checkpoint corpus replays through the safetensors reader without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-checkpoint" "$MLI_SRCDIR/fuzz/corpus/checkpoint"
	[[ "$output" == *"ok 1 - "*"checkpoint: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}
