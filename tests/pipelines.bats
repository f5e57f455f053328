#!/usr/bin/env bats
# pipelines.bats: the scripts of pipelines/ on one machine and over two
# "hosts" (two Host aliases of one sshd on a loopback port, started here
# with generated keys), downloading from nginx on 127.0.0.1: the same
# records either way, a cut connection or a dead host failing with its
# name, a rerun resuming, and the examples of mli-pipelines(7).

setup_file() {
	load helper
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	local d=$BATS_FILE_TMPDIR
	sshd_start "$d/sshd"
	# nginx serves the sample photographs, and under /slow/ at 500 KB/s a
	# request, so that a download of im_0.jpg (1.9 MB) lasts 4 seconds.
	nginx_start "$d/nginx" 500k
}

teardown_file() {
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	sshd_stop "$BATS_FILE_TMPDIR/sshd"
	load helper
	nginx_stop "$BATS_FILE_TMPDIR/nginx"
}

setup() {
	load helper
	source "$BATS_TEST_DIRNAME/sshd-lib.sh"
	require_data
	cd "$BATS_TEST_TMPDIR"
	SSHD=$BATS_FILE_TMPDIR/sshd
	export MLI_BUILDDIR
	export MLI_SSH="ssh -F $SSHD/ssh_config"
	PATH="$MLI_SRCDIR/pipelines:$PATH"
	printf 'mli-a\nmli-b  # the same sshd again\n' >hosts
	# LIST: N URLs of the four photographs (a query string makes each key
	# its own) with the labels of the release's first N lines.
	mklist() {
		head -n "$1" "$DATA/train_urls_tiny.txt" | cut -f2- |
			awk -v u="http://127.0.0.1:$NGINX_PORT/$2" '{ printf "%sim_%d.jpg?%d\t%s\n", u, (NR - 1) % 4, NR, $0 }'
	}
}

# The records of shards, one line each (type, key, labels, sizes), sorted.
records() {
	mli-cat --list "$@" | sort
}

# flaky-ssh: ssh, but mli-b, after answering the check of the hosts,
# drops the connection of every job that runs mli-decode.
flaky_ssh() {
	cat >flaky-ssh <<-EOF
	#!/bin/sh
	case "\$*" in
	*" mli-b "*"mli-decode -q"*) echo "Connection to 127.0.0.1 closed by remote host." >&2; exit 255 ;;
	esac
	exec $MLI_SSH "\$@"
	EOF
	chmod +x flaky-ssh
}

@test "fetch-shards and prepare-shards over two hosts give the records of the one-machine run" {
	mklist 24 >list.txt
	run -0 fetch-shards -n 4 -o here list.txt
	[[ "$output" == *"fetch-shards: 4 shards in $PWD/here"* ]]
	run -0 fetch-shards --hosts hosts -n 4 -o there list.txt
	run -0 mli-cat --verify there/shard-0000[0-3].mli
	[ "$(records here/*.mli)" = "$(records there/*.mli)" ]
	[ "$(records there/*.mli | wc -l)" -eq 24 ]
	[ "$(records there/*.mli | cut -f2 | sort)" = "$(cut -f1 list.txt | sort)" ]
	# The shards hold the list's lines in order, 6 each.
	[ "$(mli-cat --list there/shard-00002.mli | cut -f2 | sort)" = "$(sed -n 13,18p list.txt | cut -f1 | sort)" ]

	run -0 prepare-shards -s 64 -e 80 -o small-here here/*.mli
	run -0 prepare-shards -H hosts -j 2 -s 64 -e 80 -o small-there here/*.mli
	for s in here/*.mli; do
		cmp "small-here/${s##*/}" "small-there/${s##*/}"
	done
	[[ "$(mli-cat --list small-there/*.mli)" == *"media=image/jpeg"* ]]
	[ -z "$(ls small-there | grep -v '\.mli$' || true)" ]
}

@test "a connection cut mid-download fails the run with the host's name, keeps only whole frames, and a rerun resumes" {
	mklist 12 slow/ >list.txt
	fetch-shards -H hosts -n 2 -o raw list.txt 2>err.txt &
	pid=$!
	# Cut the connections once a record is back.
	for _ in $(seq 200); do
		n=0
		for p in raw/*.part; do
			[ -s "$p" ] && n=$((n + $(mli-cat --skip-bad --list "$p" 2>/dev/null | wc -l)))
		done
		[ "$n" -ge 1 ] && break
		sleep 0.05
	done
	sessions=$(sshd_sessions "$SSHD")
	[ -n "$sessions" ]
	kill -KILL $sessions
	status=0
	wait "$pid" || status=$?
	cat err.txt
	[ "$status" -eq 1 ]
	grep -q '^fetch-shards: mli-[ab]: shard-0000[01]: ' err.txt
	grep -q "^fetch-shards: [12] of 2 shards failed; run the same command again to resume" err.txt
	# No shard was finished; what came back is whole records without an
	# end frame.
	[ -z "$(ls raw/*.mli 2>/dev/null || true)" ]
	run -1 --separate-stderr mli-cat --verify raw/*.part
	[[ "$stderr" == *"stream ends "* ]]
	kept=$(mli-cat --skip-bad --list raw/*.part 2>/dev/null | wc -l)
	[ "$kept" -ge 1 ] && [ "$kept" -lt 12 ]

	run -0 fetch-shards -H hosts -n 2 -o raw list.txt
	[ -z "$(ls raw | grep -v '^shard-0000[01]\.mli$' || true)" ]
	run -0 mli-cat --verify raw/*.mli
	# Every line of the list once.
	[ "$(records raw/*.mli | cut -f2 | sort)" = "$(cut -f1 list.txt | sort)" ]
}

@test "TERM to fetch-shards stops its jobs on every host, removes its temporary files and keeps the parts for a rerun" {
	mklist 12 slow/ >list.txt
	mkdir tmp
	TMPDIR=$PWD/tmp fetch-shards -H hosts -n 2 -o raw list.txt 2>err.txt &
	pid=$!
	for _ in $(seq 200); do
		[ -s raw/shard-00000.mli.part ] || [ -s raw/shard-00001.mli.part ] && break
		sleep 0.05
	done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	# No ssh client of the run is left, nor a temporary file.
	sleep 0.5
	[ -z "$(pgrep -f -- "ssh -F $SSHD/ssh_config -T .* mli-[ab] " || true)" ]
	[ -z "$(ls tmp)" ]
	[ -z "$(ls raw/*.mli 2>/dev/null || true)" ]
	[ -n "$(ls raw/*.part)" ]
	run -0 fetch-shards -H hosts -n 2 -o raw list.txt
	[ "$(records raw/*.mli | cut -f2 | sort)" = "$(cut -f1 list.txt | sort)" ]
}

@test "a host that cannot be reached is named and nothing starts; a host lost mid-run fails its job and takes no more" {
	mklist 8 >list.txt
	fetch-shards -n 4 -o raw list.txt 2>/dev/null
	printf 'mli-a\nmli-dead\n' >bad-hosts
	run -1 --separate-stderr prepare-shards -H bad-hosts -o out raw/*.mli
	[[ "$stderr" == "prepare-shards: mli-dead: ssh: connect to host 127.0.0.1 port "*": Connection refused"* ]]
	[[ "$stderr" == *"prepare-shards: hosts failed; mend them or leave them out of bad-hosts" ]]
	[ -z "$(ls out 2>/dev/null || true)" ]

	flaky_ssh
	MLI_SSH=$PWD/flaky-ssh run -1 --separate-stderr prepare-shards -H hosts -o out raw/*.mli
	echo "$stderr"
	[[ "$stderr" == "prepare-shards: mli-b: shard-0000"[0-3]".mli: Connection to 127.0.0.1 closed by remote host."$'\n'"prepare-shards: 1 of 4 shards failed; run the same command again to resume" ]]
	[ "$(ls out/*.mli | wc -l)" -eq 3 ]
	printf 'mli-a\n' >good-hosts
	run -0 prepare-shards -H good-hosts -o out raw/*.mli
	run -0 prepare-shards -o here raw/*.mli
	for s in raw/*.mli; do
		cmp "here/${s##*/}" "out/${s##*/}"
	done
	[ -z "$(ls out | grep -v '^shard-0000[0-3]\.mli$' || true)" ]
}

@test "pretrain, evaluate and features over two hosts give the bytes of the one-machine run" {
	printf 'images/im_%d.jpg\t%s\n' 0 '940:0.8	1:1' 1 '5205:0.9' 2 '9416:1	3:1' 3 '5177:1	2:1' >list.txt
	ln -s "$IMAGES" images
	fetch-shards -n 2 -o raw list.txt 2>/dev/null
	prepare-shards -s 80 -o train raw/*.mli 2>/dev/null
	opts=(-c 11166 -S 64 -b 2 -E 2)
	run -0 pretrain "${opts[@]}" -o ckpt-here train/*.mli -- -q --arch 1 --width 4
	run -0 pretrain -H hosts "${opts[@]}" -o ckpt-there train/*.mli -- -q --arch 1 --width 4
	[[ "$output" == *"mli-train: 4 steps, 8 images"* ]]
	cmp ckpt-here/latest.safetensors ckpt-there/latest.safetensors
	run -0 evaluate -H hosts -m ckpt-there/latest.safetensors -c 11166 -S 64 train/*.mli -- --json
	there=$output
	run -0 evaluate -m ckpt-here/latest.safetensors -c 11166 -S 64 train/*.mli -- --json
	[ "$output" = "$there" ]
	[ "$(jq .images <<<"$output")" = 4 ]
	features -H hosts -m ckpt-there/latest.safetensors -S 64 train/*.mli >there.mli
	features -m ckpt-here/latest.safetensors -S 64 train/*.mli >here.mli
	cmp here.mli there.mli
	run -0 mli-cat --list here.mli
	[ "$(cut -f1,2 <<<"$output" | sort)" = "$(printf 'FEATURES\timages/im_%d.jpg\n' 0 1 2 3)" ]
	# A host lost on the way: the run fails naming it, and what it wrote
	# is not a whole stream, though the other host's shard was whole.
	flaky_ssh
	status=0
	MLI_SSH=$PWD/flaky-ssh features -H hosts -m ckpt-here/latest.safetensors -S 64 train/*.mli >cut.mli 2>err.txt || status=$?
	cat err.txt
	[ "$status" -eq 1 ]
	grep -q "^features: mli-b: train/shard-0000[01].mli: Connection to 127.0.0.1 closed by remote host.$" err.txt
	run -1 mli-cat --verify cut.mli
	# Fine-tuning on single-label shards from the pre-trained weights.
	printf 'images/im_%d.jpg\t%d:1\n' 0 3 1 7 2 3 3 7 >single.txt
	fetch-shards -n 1 -o single single.txt 2>/dev/null
	run -0 finetune -H hosts --init ckpt-there/latest.safetensors -c 10 -S 64 -b 2 -o ft single/*.mli -- -q --arch 1 --width 4
	run -0 classify -m ft/latest.safetensors -k 3 -S 64 images/im_1.jpg
	[ "${#lines[@]}" -eq 3 ]
	[ "$(cut -f1,2 <<<"$output")" = "$(printf 'images/im_1.jpg\t%d\n' 1 2 3)" ]
}

@test "every pipeline answers --help and refuses a bad command line with status 2" {
	for p in fetch-shards prepare-shards pretrain finetune evaluate features classify; do
		run -0 "$p" --help
		[[ "$output" == "usage: $p "* ]]
		run -2 --separate-stderr "$p" --no-such-option
		[ "$stderr" = "$p: unknown option --no-such-option"$'\n'"Try '$p --help'." ]
	done
	run -2 --separate-stderr fetch-shards -n 0 -o x
	[[ "$stderr" == "fetch-shards: -n: not a whole number of at least 1: '0'"* ]]
}

@test "the examples of mli-pipelines(7) run as shown" {
	mklist 8 >urls.txt
	printf 'images/im_%d.jpg\t%s\n' 0 '940:0.8	1:1' 1 '5205:0.9' 2 '9416:1	3:1' 3 '5177:1	2:1' >list.txt
	ln -s "$IMAGES" images
	printf 'images/im_%d.jpg\t%d:1\n' 0 3 1 7 2 3 3 7 >single.txt
	ln -s "$DATA/dictionary_and_semantic_hierarchy.txt" dictionary.txt
	run_man_examples "$MLI_SRCDIR/man/mli-pipelines.7"
}
