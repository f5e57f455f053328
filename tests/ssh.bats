#!/usr/bin/env bats
# ssh.bats: frame streams through a real sshd on a loopback port (started
# here with keys generated for the test, stopped in teardown): a pipeline
# across the connection gives the bytes of the same pipeline here, and a
# connection cut mid-stream, from either end, makes both ends exit
# non-zero and leaves only whole frames, which mli-cat tells from a
# complete stream.

setup_file() {
	load helper
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	sshd_start "$BATS_FILE_TMPDIR/sshd"
}

teardown_file() {
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	sshd_stop "$BATS_FILE_TMPDIR/sshd"
}

setup() {
	load helper
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	require_data
	cd "$BATS_TEST_TMPDIR"
	SSHD=$BATS_FILE_TMPDIR/sshd
	CFG=$SSHD/ssh_config
	printf 'im_0.jpg\t940:0.8\t1:1\nim_1.jpg\t5205:0.9\nim_2.jpg\t9416:1\nim_3.jpg\t5177:1\t2:1\n' >list.txt
	FEEDER=
}

teardown() {
	[ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null || true
}

@test "mli-fetch | ssh HOST mli-decode | mli-cat --verify carries the photographs through sshd unchanged" {
	run -0 bash -o pipefail -c "mli-fetch -q -j 1 -r '$IMAGES' < list.txt |
		ssh -F '$CFG' mli-a mli-decode -q -s 64 -e 90 | mli-cat --verify"
	[ "$output" = "stdin: ok, 4 records in 1 segments" ]
	mli-fetch -q -j 1 -r "$IMAGES" <list.txt | ssh -F "$CFG" mli-a mli-decode -q -s 64 -e 90 >remote.mli
	mli-fetch -q -j 1 -r "$IMAGES" <list.txt | mli-decode -q -s 64 -e 90 >local.mli
	cmp remote.mli local.mli
	run -0 mli-cat --list remote.mli
	[ "$(cut -f1-3 <<<"$output")" = "$(printf 'ENCODED\tim_0.jpg\t940:0.8,1:1\nENCODED\tim_1.jpg\t5205:0.9\nENCODED\tim_2.jpg\t9416:1\nENCODED\tim_3.jpg\t5177:1,2:1')" ]
}

# Streams encoded.mli to mli-decode on mli-a, then holds the connection
# open: the feeder never ends by itself. Waits until the four decoded
# images are back in out.mli. Sets FEEDER and SSH (process ids).
stream_and_hold() {
	mli-fetch -q -j 1 -r "$IMAGES" <list.txt >encoded.mli
	mkfifo feed
	(cat encoded.mli && exec sleep 120) >feed 3>&- &
	FEEDER=$!
	ssh -F "$CFG" mli-a "mli-decode -q -s 256 -j 1; echo \$? > '$PWD/remote.status'" <feed >out.mli 2>ssh.err 3>&- &
	SSH=$!
	for _ in $(seq 200); do
		[ "$(mli-cat --list out.mli 2>/dev/null | wc -l)" -ge 4 ] && return 0
		sleep 0.1
	done
	echo "the records did not come back" >&2
	return 1
}

# The end of the test: the remote mli-decode ended non-zero, and out.mli
# holds the four records, whole, without the end frame that closes a
# complete stream.
only_whole_frames_left() {
	for _ in $(seq 100); do
		[ -s remote.status ] && break
		sleep 0.1
	done
	echo "remote mli-decode: $(cat remote.status)"
	[ "$(cat remote.status)" -ne 0 ]
	run -1 --separate-stderr mli-cat --verify out.mli
	[[ "$stderr" == *"out.mli: offset "*": stream ends "*"end frame"* ]]
	run -1 --separate-stderr mli-cat --list out.mli
	[ "$(cut -f2 <<<"$output")" = "$(cut -f1 list.txt)" ]
	[[ "$(cut -f4 <<<"$output")" == *"shape=256x"* ]]
}

@test "killing the ssh client mid-stream ends both sides non-zero and leaves only whole frames" {
	stream_and_hold
	kill "$SSH"
	status=0
	wait "$SSH" || status=$?
	echo "ssh: exit status $status"
	[ "$status" -ne 0 ]
	only_whole_frames_left
}

@test "killing the server's sshd session mid-stream ends both sides non-zero and leaves only whole frames" {
	stream_and_hold
	sessions=$(sshd_sessions "$SSHD")
	[ -n "$sessions" ]
	kill -KILL $sessions
	status=0
	wait "$SSH" || status=$?
	echo "ssh: exit status $status"
	[ "$status" -eq 255 ]
	only_whole_frames_left
}

@test "a stream cut by the connection is closed by mli-fetch --resume and fetched to the end" {
	stream_and_hold
	kill -KILL "$SSH"
	wait "$SSH" || true
	# The raw stream is cut: what a rerun of fetch-shards does with it.
	mli-fetch -q -j 1 -r "$IMAGES" <list.txt >raw.mli
	head -c $(($(stat -c %s raw.mli) - 1000)) raw.mli >cut.mli
	run -1 mli-cat --verify cut.mli
	mli-fetch -q -j 1 -r "$IMAGES" --resume cut.mli <list.txt
	run -0 mli-cat --verify cut.mli
	[ "$output" = "cut.mli: ok, 4 records in 2 segments" ]
	run -0 mli-cat --list cut.mli
	[ "$(cut -f2 <<<"$output" | sort)" = "$(cut -f1 list.txt | sort)" ]
}
