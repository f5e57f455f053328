# sshd-lib.sh: a real OpenSSH server on a free loopback port for the
# tests of streaming over ssh (sourced by tests/ssh.bats and
# tests/pipelines.bats after helper.bash).
#
# sshd_start DIR generates a host key and a user key into DIR, starts
# /usr/sbin/sshd in the foreground on 127.0.0.1 (public keys only, the
# keys and authorized_keys in DIR, no PAM, the build tree's programs first
# on the PATH of every session, the sanitizer options of the test run
# passed on), and writes DIR/ssh_config with two Host
# aliases of it, mli-a and mli-b (two "hosts" of one machine), and
# mli-dead, a port where nothing listens. It waits until a login works.
# sshd_stop DIR stops it.

sshd_start() {
	local d=$1 port dead
	mkdir -p "$d" /run/sshd
	port=$(free_port)
	dead=$(free_port)
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$d/id_key" </dev/null
	cp "$d/id_key.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<-EOF
	Port $port
	ListenAddress 127.0.0.1
	HostKey $d/host_key
	PidFile $d/sshd.pid
	AuthorizedKeysFile $d/authorized_keys
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	PermitRootLogin prohibit-password
	AllowTcpForwarding no
	X11Forwarding no
	MaxStartups 64
	LogLevel ERROR
	EOF
	# One SetEnv line (the first is the one sshd takes): the PATH, and the
	# sanitizers' settings of the test run for the programs run over ssh.
	local v env="\"PATH=$MLI_BUILDDIR/filters:/usr/local/bin:/usr/bin:/bin\""
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -z "${!v:-}" ] || env="$env \"$v=${!v}\""
	done
	echo "SetEnv $env" >>"$d/sshd_config"
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
	cat >"$d/ssh_config" <<-EOF
	Host mli-a mli-b
		HostName 127.0.0.1
		Port $port
	Host mli-dead
		HostName 127.0.0.1
		Port $dead
	Host *
		User $(id -un)
		IdentityFile $d/id_key
		IdentitiesOnly yes
		UserKnownHostsFile $d/known_hosts
		StrictHostKeyChecking yes
		BatchMode yes
		LogLevel ERROR
	EOF
	/usr/sbin/sshd -D -f "$d/sshd_config" -e 2>"$d/sshd.log" 3>&- &
	echo $! >"$d/sshd.pid.bg"
	local _
	for _ in $(seq 100); do
		ssh -F "$d/ssh_config" mli-a true 2>/dev/null && return 0
		sleep 0.1
	done
	echo "sshd did not start:" >&2
	cat "$d/sshd.log" >&2
	return 1
}

sshd_stop() {
	local d=$1
	[ -f "$d/sshd.pid.bg" ] || return 0
	kill "$(cat "$d/sshd.pid.bg")" 2>/dev/null || true
	rm -f "$d/sshd.pid.bg"
}

# sshd_sessions DIR: the process ids of the sshd processes serving the
# connections (the children of the listening sshd).
sshd_sessions() {
	pgrep -P "$(cat "$1/sshd.pid.bg")" || true
}
