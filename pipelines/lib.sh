# pipelines/lib.sh: the shell code every pipeline shares, sourced (bash).
#
# It finds the programs (the build tree's filters/ first when MLI_BUILDDIR
# is set or the script runs from a source tree, then PATH), keeps a
# temporary directory that goes away however the script ends, reads host
# lists, runs a stage on a host over ssh, and spreads jobs over the hosts
# with GNU parallel.
#
# A host list is a text file with one ssh destination a line, as ssh(1)
# takes it: HOST, USER@HOST, a Host alias of the ssh configuration (where
# a port, a key or a jump host are set), or ssh://[USER@]HOST[:PORT].
# Blank lines and everything from a '#' are ignored; a host listed twice
# gets twice the jobs. Without a host list every stage runs here, without
# ssh. The ssh command is MLI_SSH (default "ssh", read as shell words, so
# "ssh -F my_config" works), to which --ssh-config FILE adds "-F FILE";
# BatchMode is always on (a host that would ask for a password fails
# instead of waiting) and a connection silent for a minute is dropped.
#
# Contract for the job functions that mli_spread runs: they are called as
# FN SLOT ITEM in a bash started by parallel, see the variables exported
# here and by the script (mli_export), and return non-zero after printing
# one line per fault through mli_fail.

set -eu
set -o pipefail

# mli_init NAME: the name messages start with; PATH, temporary directory
# MLI_WORK and the cleanup traps.
mli_init() {
	MLI_PROG=$1
	local top
	top=$(cd "$(dirname "$0")/.." && pwd)
	PATH=${MLI_BUILDDIR:-$top}/filters:$PATH
	export PATH MLI_PROG
	MLI_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$MLI_PROG.XXXXXX")
	MLI_PARALLEL_PID=
	MLI_PIPE_PID=
	export MLI_WORK
	trap mli_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	MLI_HOSTS_FILE=
	MLI_SSH_CONFIG=
	MLI_JOBS=1
	: "${MLI_REMOTE_PATH:=}"
}

# Stops the jobs still running (GNU parallel stops starting jobs at the
# first TERM and kills the running ones at the second) and removes the
# temporary directory.
mli_cleanup() {
	local status=$?
	trap - EXIT HUP INT TERM
	# The last program of a pipeline started by mli_wait (mli-train ends
	# by writing a checkpoint); the programs before it then end by
	# SIGPIPE.
	if [ -n "$MLI_PIPE_PID" ] && kill -0 "$MLI_PIPE_PID" 2>/dev/null; then
		kill -TERM "$MLI_PIPE_PID" 2>/dev/null || true
		wait "$MLI_PIPE_PID" 2>/dev/null || true
	fi
	if [ -n "$MLI_PARALLEL_PID" ] && kill -0 "$MLI_PARALLEL_PID" 2>/dev/null; then
		kill -TERM "$MLI_PARALLEL_PID" 2>/dev/null || true
		sleep 0.2
		kill -TERM "$MLI_PARALLEL_PID" 2>/dev/null || true
		wait "$MLI_PARALLEL_PID" 2>/dev/null || true
	fi
	rm -rf "$MLI_WORK"
	exit "$status"
}

# mli_die MESSAGE: a runtime failure.
mli_die() {
	printf '%s: %s\n' "$MLI_PROG" "$*" >&2
	exit 1
}

# mli_wait: waits for the pipeline just started in the background (so that
# a signal to the script is handled at once, not after the pipeline) and
# returns its status.
mli_wait() {
	MLI_PIPE_PID=$!
	local status=0
	wait "$MLI_PIPE_PID" || status=$?
	MLI_PIPE_PID=
	return "$status"
}

# mli_usage_error MESSAGE: a usage error (exit 2).
mli_usage_error() {
	printf "%s: %s\nTry '%s --help'.\n" "$MLI_PROG" "$*" "$MLI_PROG" >&2
	exit 2
}

# mli_need_arg "$@": the option in $1 has an argument in $2.
mli_need_arg() {
	[ $# -ge 2 ] || mli_usage_error "option $1 needs an argument"
}

# mli_count OPTION VALUE: VALUE is a whole number of at least 1.
mli_count() {
	case $2 in
	'' | *[!0-9]* | 0 | 0*) mli_usage_error "$1: not a whole number of at least 1: '$2'" ;;
	esac
}

# mli_need PROGRAM...: each is on PATH.
mli_need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || mli_die "$p not found (build mli, or set MLI_BUILDDIR)"
	done
}

# mli_quote WORD: WORD quoted for any POSIX shell (the remote one too).
mli_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# mli_quote_all WORD...: the words quoted and joined by spaces.
mli_quote_all() {
	local w out=
	for w in "$@"; do
		out="$out $(mli_quote "$w")"
	done
	printf '%s' "${out# }"
}

# mli_host_option OPTION VALUE...: the options every pipeline shares.
# Returns 1 when OPTION is not one of them.
mli_host_option() {
	case $1 in
	-H | --hosts | --ssh-config | --remote-path | -j | --jobs) mli_need_arg "$@" ;;
	*) return 1 ;;
	esac
	case $1 in
	-H | --hosts) MLI_HOSTS_FILE=$2 ;;
	--ssh-config) MLI_SSH_CONFIG=$2 ;;
	--remote-path) MLI_REMOTE_PATH=$2 ;;
	-j | --jobs) mli_count "$1" "$2"; MLI_JOBS=$2 ;;
	*) return 1 ;;
	esac
}

# The usage lines of those options, for --help.
mli_host_usage() {
	cat <<-'EOF'
	  -H, --hosts FILE      spread the work over the ssh destinations in FILE
	                        (one a line; without it everything runs here)
	  -j, --jobs N          jobs at once on each host (default 1)
	      --ssh-config FILE ssh configuration file (ssh -F FILE)
	      --remote-path DIR put DIR first on PATH on the hosts
	                        (default: MLI_REMOTE_PATH)
	Environment: MLI_SSH (the ssh command, default ssh), MLI_REMOTE_PATH,
	MLI_BUILDDIR (the build tree whose programs to run).
	EOF
}

# mli_hosts_setup: reads the host list into MLI_HOST_LIST (newline-
# separated; one empty line, "here", without a list) and sets MLI_SLOTS and
# MLI_SSH_CMD.
mli_hosts_setup() {
	local hosts=''
	if [ -n "$MLI_HOSTS_FILE" ]; then
		[ -r "$MLI_HOSTS_FILE" ] && [ ! -d "$MLI_HOSTS_FILE" ] || mli_die "$MLI_HOSTS_FILE: cannot read the host list"
		hosts=$(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$MLI_HOSTS_FILE")
		[ -n "$hosts" ] || mli_die "$MLI_HOSTS_FILE: no hosts in the host list"
		if printf '%s\n' "$hosts" | grep -q '[[:space:]]'; then
			mli_die "$MLI_HOSTS_FILE: a host line holds a blank: $(printf '%s\n' "$hosts" | grep -m1 '[[:space:]]')"
		fi
		local ssh_program
		read -r ssh_program _ <<<"${MLI_SSH:-ssh}"
		mli_need parallel "$ssh_program"
	fi
	MLI_HOST_LIST=$hosts
	local n
	n=$(printf '%s\n' "$hosts" | wc -l)
	MLI_SLOTS=$((n * MLI_JOBS))
	MLI_SSH_CMD="${MLI_SSH:-ssh} -T -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
	[ -z "$MLI_SSH_CONFIG" ] || MLI_SSH_CMD="$MLI_SSH_CMD -F $(mli_quote "$MLI_SSH_CONFIG")"
	export MLI_HOST_LIST MLI_SLOTS MLI_SSH_CMD MLI_REMOTE_PATH
}

# mli_hosts_check PROGRAM...: every host answers over ssh and finds the
# programs there; otherwise a line for each host that does not, and exit 1
# before any work starts.
mli_hosts_check() {
	[ -n "$MLI_HOST_LIST" ] || return 0
	local host i=0 bad='' line hosts
	local check="for p in $*; do command -v \"\$p\" >/dev/null || { echo \"\$p not found on the host (see --remote-path)\"; exit 127; }; done"
	mapfile -t hosts < <(printf '%s\n' "$MLI_HOST_LIST" | sort -u)
	for ((i = 0; i < ${#hosts[@]}; i++)); do
		{
			st=0
			mli_on "${hosts[i]}" "$check" </dev/null >"$MLI_WORK/check.$i" 2>&1 || st=$?
			echo "$st" >"$MLI_WORK/check-status.$i"
		} &
	done
	wait
	for ((i = 0; i < ${#hosts[@]}; i++)); do
		[ "$(cat "$MLI_WORK/check-status.$i")" != 0 ] || continue
		line=$(grep -v '^$' "$MLI_WORK/check.$i" | tail -n 1)
		printf '%s: %s: %s\n' "$MLI_PROG" "${hosts[i]}" "${line:-exit status $(cat "$MLI_WORK/check-status.$i")}" >&2
		bad=1
	done
	[ -z "$bad" ] || mli_die "hosts failed; mend them or leave them out of $MLI_HOSTS_FILE"
}

# mli_slot_host SLOT: the host of a job slot of GNU parallel (from 1):
# slots go round the hosts, so each host runs --jobs of them. A host whose
# ssh failed in this run (mli_fail marks it) takes no more jobs: they go
# to the next host in the list that has not failed, or to it all the
# same when every host has.
mli_slot_host() {
	local hosts n i k
	mapfile -t hosts <<<"$MLI_HOST_LIST"
	n=${#hosts[@]}
	i=$((($1 - 1) % n))
	for ((k = 0; k < n; k++)); do
		[ -e "$MLI_WORK/dead.$(mli_host_key "${hosts[(i + k) % n]}")" ] || break
	done
	[ "$k" -lt "$n" ] || k=0
	printf '%s' "${hosts[(i + k) % n]}"
}

# mli_host_key HOST: HOST as a file name.
mli_host_key() {
	printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'
}

# mli_host_label HOST: how messages name a host.
mli_host_label() {
	printf '%s' "${1:-local}"
}

# mli_on HOST COMMAND: runs the shell command line COMMAND on HOST (here
# when HOST is empty) with standard input and output passed through, over
# one ssh connection. Its status is the command's, or 255 when ssh fails
# or the connection is lost.
mli_on() {
	local cmd=$2
	if [ -z "$1" ]; then
		bash -c "set -o pipefail; $cmd"
		return
	fi
	[ -z "$MLI_REMOTE_PATH" ] || cmd="PATH=$(mli_quote "$MLI_REMOTE_PATH"):\$PATH; export PATH; $cmd"
	# shellcheck disable=SC2086 # MLI_SSH_CMD is words, as documented
	eval "$MLI_SSH_CMD" '"$1" "$cmd"'
}

# mli_fail HOST ITEM STATUS [ERRFILE]: one line per fault of a job, naming
# the host and the item: each line the job wrote on standard error, or the
# status when it wrote none.
mli_fail() {
	local label what line said=
	label=$(mli_host_label "$1")
	case $3 in
	255)
		if [ -z "$1" ]; then
			what="exit status 255"
		else
			what="ssh failed or the connection was lost"
			: >"$MLI_WORK/dead.$(mli_host_key "$1")"
		fi
		;;
	*) what="exit status $3" ;;
	esac
	if [ $# -ge 4 ] && [ -s "$4" ]; then
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			printf '%s: %s: %s: %s\n' "$MLI_PROG" "$label" "$2" "$line" >&2
			said=1
		done <"$4"
	fi
	[ -n "$said" ] || printf '%s: %s: %s: %s\n' "$MLI_PROG" "$label" "$2" "$what" >&2
}

# mli_export NAME...: variables and functions the job functions need.
mli_export() {
	local n
	for n in "$@"; do
		if declare -F "$n" >/dev/null; then
			export -f "${n?}"
		else
			export "${n?}"
		fi
	done
}

# mli_spread FN ITEM...: runs FN SLOT ITEM for every item, MLI_SLOTS at
# once, each slot on its host. Returns the number of jobs that failed
# (as GNU parallel counts them) after all of them ended.
mli_spread() {
	local fn=$1 status=0
	shift
	[ $# -gt 0 ] || return 0
	mli_need parallel
	mli_export "$fn" mli_on mli_fail mli_quote mli_slot_host mli_host_label mli_host_key
	printf '%s\0' "$@" >"$MLI_WORK/items"
	PARALLEL_SHELL=bash parallel --will-cite -0 -j "$MLI_SLOTS" --line-buffer \
		-a "$MLI_WORK/items" "$fn" '{%}' '{}' </dev/null &
	MLI_PARALLEL_PID=$!
	wait "$MLI_PARALLEL_PID" || status=$?
	MLI_PARALLEL_PID=
	return "$status"
}

# The job of mli_stream: STAGE on the slot's host, the file ITEM on its
# standard input; the records come out on standard output.
mli_stream_job() {
	local host status=0
	host=$(mli_slot_host "$1")
	mli_on "$host" "$MLI_STAGE" <"$2" 2>"$MLI_WORK/err.$1" || status=$?
	# Straight to the script's standard error (descriptor 3): GNU parallel
	# would hold it back with the job's output, and drop it when it halts.
	[ "$status" -eq 0 ] || mli_fail "$host" "$2" "$status" "$MLI_WORK/err.$1" 2>&3
	return "$status"
}

# mli_stream STAGE FILE...: the shell command line STAGE (a filter of
# frames) run over the files, on standard output as one stream. Here, the
# files are read in turn by one STAGE. Over hosts, one job per file, each
# on its slot's host; GNU parallel keeps each job's output apart until it
# is whole (in TMPDIR) and writes them in the order of the files, so the
# stream is the same bytes as here. The first job that fails stops the
# others, and the stream then ends in a cut frame.
mli_stream() {
	MLI_STAGE=$1
	shift
	local f
	for f in "$@"; do
		[ -r "$f" ] && [ ! -d "$f" ] || mli_die "$f: cannot read"
	done
	if [ -z "$MLI_HOST_LIST" ]; then
		cat -- "$@" | mli_on "" "$MLI_STAGE"
		return
	fi
	mli_export MLI_STAGE mli_stream_job mli_on mli_fail mli_quote mli_slot_host mli_host_label mli_host_key
	printf '%s\0' "$@" >"$MLI_WORK/stream-items"
	local status=0
	PARALLEL_SHELL=bash parallel --will-cite --tmpdir "$MLI_WORK" -0 -k -j "$MLI_SLOTS" --halt now,fail=1 \
		-a "$MLI_WORK/stream-items" mli_stream_job '{%}' '{}' </dev/null 3>&2 || status=$?
	# The streams of the jobs that ended before the failure are whole, so
	# their concatenation would pass for the whole input: one byte more, a
	# frame header cut short, makes the next program see a truncated
	# stream and fail in turn.
	[ "$status" -eq 0 ] || printf '\0'
	return "$status"
}

# mli_train_main pretrain|finetune ARG...: the body of pipelines/pretrain
# and pipelines/finetune, which differ only in their defaults: shards ->
# mli-decode | mli-augment --train (spread over the hosts, one job per
# shard) | mli-batch --shuffle | mli-train, an epoch after another, each
# epoch with its own augmentation and shuffle (--epoch) and one mli-train
# run over all of them.
mli_train_main() {
	local mode=$1 ckpt=ckpt classes='' dict='' size=224 batch=64 shuffle=4096 epochs=1 seed=0
	local init='' freeze='' loss=multilabel area=''
	shift
	if [ "$mode" = finetune ]; then
		loss=softmax freeze=2 area=0.05,1
	fi
	local shards=()
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage; exit 0 ;;
		-o | --checkpoint-dir) mli_need_arg "$@"; ckpt=$2; shift 2 ;;
		-c | --classes) mli_need_arg "$@"; mli_count "$1" "$2"; classes=$2; shift 2 ;;
		-d | --dict) mli_need_arg "$@"; dict=$2; shift 2 ;;
		-S | --size) mli_need_arg "$@"; mli_count "$1" "$2"; size=$2; shift 2 ;;
		-b | --batch) mli_need_arg "$@"; mli_count "$1" "$2"; batch=$2; shift 2 ;;
		--shuffle) mli_need_arg "$@"; mli_count "$1" "$2"; shuffle=$2; shift 2 ;;
		-E | --epochs) mli_need_arg "$@"; mli_count "$1" "$2"; epochs=$2; shift 2 ;;
		--seed)
			mli_need_arg "$@"
			case $2 in '' | *[!0-9]*) mli_usage_error "--seed: not a whole number: '$2'" ;; esac
			seed=$2
			shift 2
			;;
		--area) mli_need_arg "$@"; area=$2; shift 2 ;;
		--loss)
			mli_need_arg "$@"
			case $2 in multilabel | softmax) loss=$2 ;; *) mli_usage_error "--loss: multilabel or softmax, not '$2'" ;; esac
			shift 2
			;;
		--init) [ "$mode" = finetune ] || mli_usage_error "unknown option $1"; mli_need_arg "$@"; init=$2; shift 2 ;;
		--freeze)
			[ "$mode" = finetune ] || mli_usage_error "unknown option $1"
			mli_need_arg "$@"
			case $2 in '' | *[!0-9]*) mli_usage_error "--freeze: not a whole number: '$2'" ;; esac
			freeze=$2
			shift 2
			;;
		--) shift; break ;;
		-?*)
			mli_host_option "$@" || mli_usage_error "unknown option $1"
			shift 2
			;;
		*) shards+=("$1"); shift ;;
		esac
	done
	[ ${#shards[@]} -gt 0 ] || mli_usage_error "no shards"
	[ -n "$classes" ] || [ -n "$dict" ] || mli_usage_error "the class count: --classes N or --dict FILE"
	[ -z "$classes" ] || [ -z "$dict" ] || mli_usage_error "--classes and --dict exclude each other"
	[ "$mode" = pretrain ] || [ -n "$init" ] || mli_usage_error "no checkpoint to start from (--init FILE)"
	[ -z "$init" ] || [ -r "$init" ] || mli_die "$init: cannot read"
	[ -z "$dict" ] || [ -r "$dict" ] || mli_die "$dict: cannot read"
	mli_need mli-decode mli-augment mli-batch mli-train
	mli_hosts_setup
	mli_hosts_check mli-decode mli-augment

	local labels augment train e
	if [ -n "$dict" ]; then labels=(--dict "$dict"); else labels=(--classes "$classes"); fi
	train=(--checkpoint-dir "$ckpt" --loss "$loss")
	[ -z "$init" ] || train+=(--init "$init")
	[ -z "$freeze" ] || train+=(--freeze "$freeze")
	for e in $(seq 0 $((epochs - 1))); do
		augment="mli-decode -q | mli-augment -q --train --size $size --seed $seed --epoch $e"
		[ -z "$area" ] || augment="$augment --area $(mli_quote "$area")"
		mli_stream "$augment" "${shards[@]}" |
			mli-batch -q --shuffle "$shuffle" --size "$batch" --seed "$seed" --epoch "$e" "${labels[@]}"
	done | mli-train "${train[@]}" "$@" &
	mli_wait
}
