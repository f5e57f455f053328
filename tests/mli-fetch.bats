#!/usr/bin/env bats
# mli-fetch.bats: downloading the release's sample photographs from nginx
# on 127.0.0.1, every fault of a misbehaving server of our own ending in
# its documented class, local files, resume after kill -9, and the man
# page's examples. Both servers are started here and stopped in teardown.

setup_file() {
	load helper
	local d=$BATS_FILE_TMPDIR
	# nginx, serving the sample images as they are and, under /slow/,
	# at 100 KB/s a request (after a first second's worth at once).
	nginx_start "$d/nginx" 100k
	# The misbehaving server prints its port once it listens.
	mkdir -p "$d/state"
	"$MLI_BUILDDIR/tests/http-misbehave" "$IMAGES/im_3.jpg" "$d/state" > "$d/bad.port" 3>&- &
	echo $! > "$d/bad.pid"
	for _ in $(seq 100); do
		[ -s "$d/bad.port" ] && break
		sleep 0.1
	done
	BAD_PORT=$(cat "$d/bad.port")
	export BAD_PORT
	[ -n "$BAD_PORT" ]
}

teardown_file() {
	local d=$BATS_FILE_TMPDIR
	load helper
	nginx_stop "$d/nginx"
	[ -f "$d/bad.pid" ] && kill "$(cat "$d/bad.pid")" 2>/dev/null || true
}

setup() {
	load helper
	require_data
	cd "$BATS_TEST_TMPDIR"
	N=http://127.0.0.1:$NGINX_PORT
	B=http://127.0.0.1:$BAD_PORT
}

# Runs mli-fetch with stdout to $OUT or out.mli (binary, so not through run):
# sets status and stderr as run does.
fetch() {
	status=0
	mli-fetch "$@" > "${OUT:-out.mli}" 2> err.txt || status=$?
	stderr=$(cat err.txt)
}

# The class a failures file gives a key.
class_of() {
	awk -F'\t' -v k="$1" '$1 == k { print $2 }' failures.tsv
}

@test "downloads the sample photographs from nginx with their labels, byte for byte" {
	for i in 0 1 2 3; do
		printf '%s/im_%d.jpg\t%d:1\t2:0.9\n' "$N" "$i" "$((i + 10))"
	done > list.txt
	fetch -j 4 list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 4 lines, 4 ok, 0 failed, "* ]]
	run -0 mli-cat --verify out.mli
	run -0 mli-cat --json out.mli
	[ "${#lines[@]}" -eq 4 ]
	for i in 0 1 2 3; do
		[[ "$output" == *'"key":"'"$N/im_$i.jpg"'","labels":[['$((i + 10))',1.0],[2,0.9]]'*'"media":"image/jpeg","source":"'"$N/im_$i.jpg"'"'* ]]
	done
	mli-cat --extract got out.mli
	for i in 0 1 2 3; do cmp got/im_$i.jpg "$IMAGES/im_$i.jpg"; done
}

@test "records carry the HTTP status and the server's Content-Type" {
	printf '%s/png-as-jpeg\t1:1\n' "$B" > list.txt
	mli-fetch -q < list.txt > out.mli
	run -0 mli-cat --json out.mli
	[[ "$output" == *'"media":"image/png"'* ]]
	# Field 32 (HTTP_STATUS) holds 200, little-endian; field 33 the header.
	grep -qaF 'image/jpeg' out.mli
	xxd -p out.mli | tr -d '\n' | grep -q '2000000004000000c8000000'
}

@test "every fault ends in its documented class, and ok + failed = lines" {
	refused=$(free_port)
	cat > list.txt <<-EOF
	$B/ok.jpg	1:1
	$B/png-as-jpeg	1:1
	$B/404	1:1
	$B/410	1:1
	$B/500	1:1
	$B/503-retry-after	1:1
	$B/429	1:1
	$B/retry-after-long	1:1
	$B/loop	1:1
	$B/to-file	1:1
	$B/placeholder	1:1
	$B/html	1:1
	$B/html-as-jpeg	1:1
	$B/empty	1:1
	$B/truncated-cl	1:1
	$B/truncated-nocl	1:1
	$B/stall	1:1
	$B/drip	1:1
	$B/endless	1:1
	$B/huge	1:1
	$B/reset	1:1
	$B/garbage	1:1
	http://127.0.0.1:$refused/x.jpg	1:1
	http://no-such-host-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid/x.jpg	1:1
	ftp://127.0.0.1/x.jpg	1:1
	$B/bad-line	1:x
	EOF
	fetch -j 32 -f failures.tsv --retries 1 --backoff 0.1 --backoff-max 5 \
		--timeout 4 --connect-timeout 2 --low-speed 1000 --low-speed-time 2 --max-bytes 1M \
		--host-failures 0 list.txt
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 26 lines, 2 ok, 24 failed ("* ]]
	[ "$(wc -l < failures.tsv)" -eq 24 ]
	[ "$(mli-cat --count out.mli)" -eq 2 ]
	[ "$(class_of "$B/404")" = http-4xx ]
	[ "$(class_of "$B/410")" = http-4xx ]
	[ "$(class_of "$B/500")" = http-5xx ]
	[ "$(class_of "$B/503-retry-after")" = http-5xx ]
	[ "$(class_of "$B/429")" = http-429 ]
	[ "$(class_of "$B/retry-after-long")" = http-5xx ]
	[ "$(class_of "$B/loop")" = redirect ]
	[ "$(class_of "$B/to-file")" = redirect ]
	[ "$(class_of "$B/placeholder")" = placeholder ]
	[ "$(class_of "$B/html")" = not-image ]
	[ "$(class_of "$B/html-as-jpeg")" = not-image ]
	[ "$(class_of "$B/empty")" = empty ]
	[ "$(class_of "$B/truncated-cl")" = truncated ]
	[ "$(class_of "$B/truncated-nocl")" = truncated ]
	[ "$(class_of "$B/stall")" = timeout ]
	[ "$(class_of "$B/drip")" = timeout ]
	[ "$(class_of "$B/endless")" = too-large ]
	[ "$(class_of "$B/huge")" = too-large ]
	[ "$(class_of "$B/reset")" = reset ]
	[ "$(class_of "$B/garbage")" = protocol ]
	[ "$(class_of "http://127.0.0.1:$refused/x.jpg")" = connect ]
	[ "$(class_of "ftp://127.0.0.1/x.jpg")" = bad-url ]
	[[ "$(grep -c invalid/x.jpg$'\t'dns failures.tsv)" -eq 1 ]]
	[ "$(class_of "$B/bad-line")" = bad-line ]
	# Transient failures were tried twice (--retries 1), permanent ones once;
	# a Retry-After longer than --backoff-max is not waited for.
	grep -q $'retry-after-long\thttp-5xx\tHTTP 503, Retry-After 3600 s is too long' failures.tsv
}

@test "transient failures are retried, honouring Retry-After, and then succeed" {
	printf '%s/503-once\t1:1\n%s/truncated-once\t2:1\n' "$B" "$B" > list.txt
	fetch -f failures.tsv --backoff 0.1 list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 2 lines, 2 ok, 0 failed, "* ]]
	[ ! -s failures.tsv ]
	# Each was answered twice: a failure, then the image.
	[ "$(wc -c < "$BATS_FILE_TMPDIR/state/hits-503-once")" -eq 2 ]
	[ "$(wc -c < "$BATS_FILE_TMPDIR/state/hits-truncated-once")" -eq 2 ]
	mli-cat --extract got out.mli
	cmp got/503-once.jpg "$IMAGES/im_3.jpg"
	cmp got/truncated-once.jpg "$IMAGES/im_3.jpg"
}

@test "placeholder images are rejected by their hash" {
	printf '%s/png.png\t1:1\n%s/ok.jpg\t1:1\n' "$B" "$B" > list.txt
	curl -s "$B/png.png" > placeholder.png
	xxhsum -H3 placeholder.png > hashes.txt
	fetch -f failures.tsv --reject-hash hashes.txt list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 2 lines, 1 ok, 1 failed (1 placeholder)"* ]]
	[ "$(class_of "$B/png.png")" = placeholder ]
}

@test "reads local paths under --root, absolute paths and file:// URLs" {
	printf 'im_1.jpg\t1:1\n%s/im_2.jpg\t2:1\nfile://%s/im_3.jpg\t3:1\nnope.jpg\t4:1\nfile://%s/\t5:1\n' \
		"$IMAGES" "$IMAGES" "$IMAGES" > list.txt
	fetch -r "$IMAGES" -f failures.tsv list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 5 lines, 3 ok, 2 failed (2 local-io)"* ]]
	run -0 mli-cat --list out.mli
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "ENCODED"$'\t'"im_1.jpg"$'\t'"1:1"$'\t'*" bytes=294934 media=image/jpeg" ]]
	[[ "${lines[2]}" == "ENCODED"$'\t'"file://$IMAGES/im_3.jpg"$'\t'"3:1"$'\t'*" bytes=168722 "* ]]
	grep -q $'^nope.jpg\tlocal-io\t'"$IMAGES/nope.jpg: No such file or directory" failures.tsv
	grep -q $'\tlocal-io\t'"$IMAGES/: not a regular file" failures.tsv
}

@test "fetches the real sample list as local files with the release's labels" {
	# train_im_list_tiny.txt names files that are not in the sample; the
	# first four lines are given the four sample photographs' names.
	head -4 "$DATA/train_im_list_tiny.txt" | awk -F'\t' -v OFS='\t' '{ $1 = "im_" NR - 1 ".jpg"; print }' > list.txt
	mli-fetch -q --root "$IMAGES" < list.txt | mli-cat --list > listed.txt
	[ "$(wc -l < listed.txt)" -eq 4 ]
	grep -q $'^ENCODED\tim_0.jpg\t940:0.8,860:0.8,17:1,1:1\t' listed.txt
	grep -q $'^ENCODED\tim_2.jpg\t9416:1,9413:1,3:1\t' listed.txt
}

@test "resumes after kill -9 without losing or duplicating an image" {
	for i in $(seq 30); do
		printf '%s/slow/im_%d.jpg?n=%d\t%d:1\n' "$N" $((i % 3 + 1)) "$i" "$i"
	done > list.txt
	mli-fetch -q -j 8 list.txt > out.mli &
	pid=$!
	# Kill it once some records are out but not all (each image takes
	# one to two seconds at 100 KB/s).
	for _ in $(seq 200); do
		[ "$(stat -c %s out.mli)" -gt 300000 ] && break
		sleep 0.05
	done
	kill -9 $pid
	wait $pid || true
	before=$(mli-cat --list out.mli 2>/dev/null | wc -l)
	[ "$before" -gt 0 ] && [ "$before" -lt 30 ]
	run -1 mli-cat --verify out.mli
	OUT=stdout.mli fetch -j 30 --resume out.mli list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 30 lines, $((30 - before)) ok, 0 failed, $before already done"* ]]
	run -0 mli-cat --verify out.mli
	[[ "$output" == "out.mli: ok, 30 records in 2 segments" ]]
	[ "$(mli-cat --list out.mli | cut -f2 | sort -u | wc -l)" -eq 30 ]
	# Run again: nothing left to do, nothing added.
	OUT=stdout.mli fetch --resume out.mli list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 30 lines, 0 ok, 0 failed, 30 already done"* ]]
	[ "$(mli-cat --count out.mli)" -eq 30 ]
}

@test "transfers waiting for a per-host slot do not run down their timeout" {
	# Four images of about a second each at 100 KB/s, one connection at
	# a time: together over the timeout, each well within it.
	for i in 1 2 3 4; do printf '%s/slow/im_3.jpg?q=%d\t1:1\n' "$N" "$i"; done > list.txt
	fetch -j 4 --per-host 1 --timeout 2.5 --retries 0 -f failures.tsv list.txt
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mli-fetch: 4 lines, 4 ok, 0 failed, "* ]]
}

@test "retries only the chosen classes of a failures file" {
	printf '%s/im_1.jpg\t1:1\n%s/404\t2:1\n%s/im_2.jpg\t3:1\n' "$N" "$B" "$N" > list.txt
	printf '%s/im_1.jpg\ttimeout\tx\n%s/404\thttp-4xx\tHTTP 404\n' "$N" "$B" > old.tsv
	run -0 --separate-stderr mli-fetch --retry-from old.tsv --retry-class timeout,http-5xx --resume out.mli list.txt
	[[ "$stderr" == "mli-fetch: 3 lines, 1 ok, 0 failed, 2 not retried"* ]]
	run -0 mli-cat --list out.mli
	[[ "$output" == "ENCODED"$'\t'"$N/im_1.jpg"$'\t'* ]]
}

@test "many jobs under a low descriptor limit are clamped, not failed" {
	for i in $(seq 40); do printf '%s/im_3.jpg?%d\t1:1\n' "$N" "$i"; done > list.txt
	run -0 --separate-stderr bash -c 'ulimit -n 100; mli-fetch -j 1000 list.txt > out.mli'
	[[ "$stderr" == "mli-fetch: --jobs 1000 lowered to 28 to stay within the descriptor limit"$'\n'"mli-fetch: 40 lines, 40 ok, 0 failed, "* ]]
}

@test "the annotation fuzz corpus replays through the list parser without a crash" {
	run -0 "$MLI_BUILDDIR/fuzz/replay-annotation" "$MLI_SRCDIR/fuzz/corpus/annotation"
	[[ "$output" == *"ok 1 - "*"annotation: "[1-9]*" inputs replayed"* ]]
	[[ "$output" != *"not ok"* ]]
}

@test "a reader that goes away ends mli-fetch quietly" {
	for i in $(seq 50); do printf 'im_%d.jpg\t1:1\n' $((i % 4)); done > list.txt
	run --separate-stderr bash -c 'set -o pipefail; mli-fetch -r "$1" list.txt | head -c 1000 > /dev/null' _ "$IMAGES"
	[ "$status" -eq 141 ]
	[ -z "$stderr" ]
}

@test "usage errors exit 2, and frames are not written to a terminal" {
	run -2 --separate-stderr mli-fetch --jobs 0
	[[ "$stderr" == "mli-fetch: --jobs: not a number from 1 to 65536: '0'"* ]]
	run -2 --separate-stderr mli-fetch --retry-class timeout
	[[ "$stderr" == "mli-fetch: --retry-class needs --retry-from"* ]]
	run -2 --separate-stderr mli-fetch --retry-from x --retry-class nosuch
	[[ "$stderr" == "mli-fetch: --retry-class: not a failure class: 'nosuch'"* ]]
	run -1 --separate-stderr mli-fetch no-such-list.txt
	[[ "$stderr" == "mli-fetch: no-such-list.txt: No such file or directory"* ]]
}

@test "the examples of mli-fetch(1) run as shown" {
	ln -s "$IMAGES" images
	for i in 0 1 2 3; do printf '%s/im_%d.jpg\t%d:1\n' "$N" "$i" "$i"; done > train_urls.txt
	run_man_examples "$MLI_SRCDIR/man/mli-fetch.1"
	[ "$(mli-cat --count raw.mli)" -eq 4 ]
}
