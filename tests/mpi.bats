#!/usr/bin/env bats
# mpi.bats: mli-train --mpi under Open MPI's mpirun, two ranks on this
# machine (shared memory, nothing beyond loopback): the weights are the
# same bits on both ranks and the same bits as one process given the
# same batches with --split 2; each rank reads its own stream through
# pipelines/mpi-train; the shortest stream ends the job for every rank;
# a killed rank ends the job within seconds; a run resumes exactly.

setup() {
	load helper
	require_fashion
	command -v mpirun >/dev/null || {
		echo "mpirun missing (Debian: openmpi-bin)" >&2
		return 1
	}
	cd "$BATS_TEST_TMPDIR"
	PATH="$MLI_BUILDDIR/tests:$PATH"
	TEST_SET="$FASHION/t10k-images-idx3-ubyte.gz $FASHION/t10k-labels-idx1-ubyte.gz"
	# One thread per rank: two ranks on two cores.
	SMALL=(--arch 1,1 --width 8 --threads 1 -q)
	# As root mpirun wants a word of consent; two ranks may exceed the
	# cores; the ranks talk through shared memory and mpirun to them over
	# loopback only.
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
	export OMPI_MCA_oob_tcp_if_include=lo
	export MPIRUN_FLAGS=--oversubscribe
	# Open MPI's own start-up allocations are not ours to chase (ASan
	# builds run this file too): its components stay loaded and their
	# libraries are suppressed. Naming them takes LeakSanitizer's slow
	# unwinder (fast_unwind_on_malloc=0), which makes a run several times
	# slower; so leaks are looked for in the first test only (it goes
	# through every MPI path of a run that ends well) and not in the rest.
	export OMPI_MCA_mca_base_component_disable_dlclose=1
	export LSAN_OPTIONS="suppressions=$MLI_SRCDIR/tests/mpi-lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# The tensors of a checkpoint that every rank must share, one line each:
# name and the hex of its bytes. The batch-norm running statistics are
# left out: each rank keeps its own (rank 0's are saved).
shared() {
	python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop("__metadata__")
for k in sorted(h):
    if not k.endswith(("moving_mean", "moving_variance")):
        o = h[k]["data_offsets"]
        print(k, b[8 + n + o[0]:8 + n + o[1]].hex())
' "$1"
}

# One metadata entry of a checkpoint.
meta() {
	python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n])["__metadata__"][sys.argv[2]])' "$1" "$2"
}

@test "two ranks end with the same weights, bit for bit, as one process given both halves with --split 2" {
	# 4 batches of 16 mosaics. Each rank reads them all and trains on
	# its half of every batch (MLI_TRAIN_TEST_SLICE), which is what one
	# process does with --split 2: batch norm over each half, the
	# positives of the whole batch, one update from the sum of the two
	# halves' gradients. A sum of two floats does not depend on the
	# order, so no tolerance is needed: the bits must agree.
	mkmosaic batches $TEST_SET 4 16 3 > both.mli
	ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1" \
		run -0 --separate-stderr mli-train "${SMALL[@]}" --split 2 --checkpoint-dir one --log one.tsv < both.mli
	ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1:fast_unwind_on_malloc=0" \
	MLI_TRAIN_TEST_SLICE=1 MLI_TRAIN_TEST_RANK_CHECKPOINTS=1 \
		run -0 --separate-stderr timeout 120 mpirun -np 2 \
		bash -c 'exec mli-train --mpi "$@" < both.mli' rank "${SMALL[@]}" --checkpoint-dir two --log two.tsv
	echo "$stderr"
	[[ "$stderr" == *"mli-train: 4 steps, 64 images, 0 batches skipped,"* ]]
	[ "$(readlink two/latest.safetensors)" = step-00000004.safetensors ]
	[ "$(readlink two/rank-1/latest.safetensors)" = step-00000004.safetensors ]
	shared two/latest.safetensors > rank0
	shared two/rank-1/latest.safetensors > rank1
	shared one/latest.safetensors > split
	# The kernels, the classifier, their momentum and the loss's counts.
	grep -c '^stages_1_block_0/conv2_b2/conv2d/kernel ' rank0
	grep -c '^momentum/logits/dense/kernel ' rank0
	grep -c '^loss/pos_count ' rank0
	cmp rank0 rank1
	cmp rank0 split
	# The losses logged agree as well (the same sums, printed alike).
	cmp <(cut -f1-3 one.tsv) <(cut -f1-3 two.tsv)
}

@test "each rank reads its own stream through pipelines/mpi-train; rank 0 writes the checkpoints" {
	mkmosaic batches $TEST_SET 3 8 3 > shard-0.mli
	mkmosaic batches $TEST_SET 3 8 4 > shard-1.mli
	MLI_TRAIN_TEST_RANK_CHECKPOINTS=1 run -0 --separate-stderr timeout 120 \
		"$MLI_SRCDIR/pipelines/mpi-train" -n 2 'mli-cat shard-$MLI_RANK.mli' \
		"${SMALL[@]}" --checkpoint-dir ckpt --log-json train.jsonl
	echo "$stderr"
	[[ "$stderr" == *"mli-train: 3 steps, 48 images, 0 batches skipped,"* ]]
	[ "$(wc -l < train.jsonl)" -eq 3 ]
	[ "$(jq -r .step train.jsonl | tr '\n' ' ')" = "1 2 3 " ]
	shared ckpt/latest.safetensors > rank0
	shared ckpt/rank-1/latest.safetensors > rank1
	cmp rank0 rank1
	# Both streams are recorded, so that --resume knows each rank's.
	[ "$(meta ckpt/latest.safetensors stream | jq length)" -eq 2 ]
	[ "$(meta ckpt/latest.safetensors stream | jq -r '.[].batches' | tr '\n' ' ')" = "3 3 " ]
	# Rank 1's stream counts: the weights differ from a run where both
	# ranks read shard 0.
	run -0 --separate-stderr timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 \
		'mli-cat shard-0.mli' "${SMALL[@]}" --checkpoint-dir same
	! cmp -s rank0 <(shared same/latest.safetensors)
}

@test "the shortest stream stops every rank at the same step, with a message" {
	mkmosaic batches $TEST_SET 4 8 3 > shard-0.mli
	mkmosaic batches $TEST_SET 2 8 4 > shard-1.mli
	run -0 --separate-stderr timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 \
		'mli-cat shard-$MLI_RANK.mli' "${SMALL[@]}" --checkpoint-dir ckpt
	echo "$stderr"
	[[ "$stderr" == *"mli-train: step 2: the stream of 1 of the 2 ranks has ended; every rank stops here"* ]]
	[ "$(readlink ckpt/latest.safetensors)" = step-00000002.safetensors ]
	# A rank whose input command fails fails the job.
	run --separate-stderr timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 \
		'mli-cat shard-$MLI_RANK.mli missing.mli' "${SMALL[@]}" --checkpoint-dir bad
	echo "$stderr"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
}

@test "a killed rank ends the job within seconds instead of hanging it" {
	mkmosaic batches $TEST_SET 6 8 3 > shard-0.mli
	mkmosaic batches $TEST_SET 2 8 4 > shard-1.mli
	# Rank 1 gets two batches and then waits for more; rank 0 waits for
	# rank 1 in the third step. Each rank's mli-train writes its pid.
	mkfifo feed
	( cat shard-1.mli; exec sleep 60 ) > feed &
	writer=$!
	timeout 60 mpirun -np 2 bash -c \
		'echo $$ > pid-$OMPI_COMM_WORLD_RANK; if [ $OMPI_COMM_WORLD_RANK = 1 ]; then exec mli-train --mpi "$@" < feed; else exec mli-train --mpi "$@" < shard-0.mli; fi' \
		rank "${SMALL[@]}" --checkpoint-dir ckpt > job.out 2> job.err &
	job=$!
	for _ in $(seq 200); do
		[ -s pid-1 ] && [ -e ckpt ] && break
		sleep 0.1
	done
	sleep 1
	kill -KILL "$(cat pid-1)"
	status=0
	wait $job || status=$?
	kill $writer
	cat job.err
	# Not 0, and not timeout's 124: mpirun ended the job.
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	# Rank 0 is gone too (or a zombie waiting for its parent to reap
	# it), within seconds.
	for _ in $(seq 100); do
		state=$(sed 's/.*) //' "/proc/$(cat pid-0)/stat" 2>/dev/null | cut -c1)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	[ -z "$state" ] || [ "$state" = Z ]
}

@test "an MPI run stopped at step 2 and resumed with the whole streams ends as an uninterrupted one" {
	mkmosaic batches $TEST_SET 4 8 3 > shard-0.mli
	mkmosaic batches $TEST_SET 4 8 4 > shard-1.mli
	run -0 timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 'mli-cat shard-$MLI_RANK.mli' \
		"${SMALL[@]}" --neg-select 0.5 --checkpoint-dir whole
	run -0 timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 'mli-cat shard-$MLI_RANK.mli' \
		"${SMALL[@]}" --neg-select 0.5 --checkpoint-dir part --max-steps 2
	run -0 --separate-stderr timeout 120 "$MLI_SRCDIR/pipelines/mpi-train" -n 2 'mli-cat shard-$MLI_RANK.mli' \
		"${SMALL[@]}" --neg-select 0.5 --checkpoint-dir part --resume
	cmp whole/step-00000004.safetensors part/step-00000004.safetensors
}
