#!/usr/bin/env bats
# fuzz-replay.bats: every fuzz corpus replayed through its target.

setup() {
	load helper
}

@test "the frame corpus replays through the frame reader without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-frame" "$MLI_SRCDIR/fuzz/corpus/frame"
	[[ "$output" == *"ok 1 - "*"frame: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}

@test "the option value corpus replays through the option parsers without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-cli" "$MLI_SRCDIR/fuzz/corpus/cli"
	[[ "$output" == *"ok 1 - "*"cli: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}

@test "the line corpus replays through the line reader without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-lines" "$MLI_SRCDIR/fuzz/corpus/lines"
	[[ "$output" == *"ok 1 - "*"lines: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}
