#!/usr/bin/env bats
# demo.bats: README's first command runs the demo; the demo must keep
# working, so it runs here (it takes a few seconds).

setup() {
	load helper
	require_data
}

@test "pipelines/demo fetches, decodes, counts and batches the sample list" {
	run -0 --separate-stderr env MLI_BUILDDIR="$MLI_BUILDDIR" MLI_DATA="$DATA" \
		"$MLI_SRCDIR/pipelines/demo" "$BATS_TEST_TMPDIR/out"
	[[ "$stderr" == *"mli-fetch: 100 lines, 100 ok, 0 failed"* ]]
	[[ "$output" == *"images	100"* ]]
	[[ "$output" == *"top 1	2	45	object, physical object"* ]]
	[[ "$output" == *"shard-000.mli: ok, 100 records in 1 segments"* ]]
	[[ "$output" == *"batches.mli: ok, 4 records in 1 segments"* ]]
	[[ "$output" == *"BATCH	batch-000003	content="*" input=4x3x224x224:u8 target=4x11166"* ]]
	# The shard holds the release's labels for each URL, in list order.
	first=$(head -n 1 "$DATA/train_urls_tiny.txt" | cut -f2- | tr '\t' ',')
	run -0 mli-cat --list --head 1 "$BATS_TEST_TMPDIR/out/shard-000.mli"
	[ "$(cut -f3 <<<"$output")" = "$first" ]
}
