# The hostile-host, resync and reconnect cases, one list for every agent (sourced by
# tests/agent/run.sh for the Linux agent and tests/win/run.sh for the Windows service).
# Both run their agent on the guest end of a port made by tests/agent/ptypair.py, so the
# cases meet the same transport: a line that keeps what was written, with no notion of a
# connection. The caller defines ok, bad, expect, has (as in run.sh), $N (neuronctl with
# its state_dir), and calls
#   agent_cases NAME CHANNEL CERTS OTHER_CERTS TMPDIR ALIVE_COMMAND AGENT_LOG
# CHANNEL is the host end (a pty), CERTS the VM's host credentials (ca.key among them),
# OTHER_CERTS another VM's, ALIVE_COMMAND succeeds while the same agent process still runs
# (no case may cost the agent its life: a restart would hide a crash), AGENT_LOG the file
# the agent logs to.
agent_cases() {
	ac_name=$1 ac_chan=$2 ac_certs=$3 ac_other=$4 ac_tmp=$5 ac_alive=$6 ac_log=$7
	ac_n="$N agent ping --socket $ac_chan --certs $ac_certs vm1"
	expect "$ac_name: ping before the cases" 0 $ac_n

	# host certificates the agent must refuse, each with its reason on both sides, at once
	# (an alert, not the host's TIMEOUT): one from the VM's CA that is not the pinned one,
	# one from another VM's CA, one self-signed
	for ac_bad in not-pinned other-ca self-signed; do
		ac_dir=$ac_tmp/cases-$ac_bad
		rm -rf "$ac_dir"
		mkdir -p "$ac_dir"
		cp "$ac_certs/ca.pem" "$ac_certs/guest.pem" "$ac_dir/"
		case $ac_bad in
		not-pinned)
			openssl ecparam -name prime256v1 -genkey -noout -out "$ac_dir/host.key" 2>/dev/null
			openssl req -new -key "$ac_dir/host.key" -subj "/O=NeuronOS/CN=neuron-host vm1" -out "$ac_dir/host.csr"
			openssl x509 -req -in "$ac_dir/host.csr" -CA "$ac_certs/ca.pem" -CAkey "$ac_certs/ca.key" \
				-set_serial 7 -days 30 -out "$ac_dir/host.pem" 2>/dev/null ;;
		other-ca) cp "$ac_other/host.pem" "$ac_other/host.key" "$ac_dir/" ;;
		self-signed)
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
				-subj "/O=NeuronOS/CN=neuron-host vm1" -keyout "$ac_dir/host.key" -out "$ac_dir/host.pem" 2>/dev/null ;;
		esac
		chmod 600 "$ac_dir/host.key"
		ac_why=$(echo "$ac_bad" | sed 's/not-pinned/not pinned/; s/other-ca/other CA/')
		expect "$ac_name: $ac_bad host certificate refused" 1 $N agent ping --socket "$ac_chan" --certs "$ac_dir" vm1
		has "$ac_name: $ac_bad: the host says the guest refused it, and why" "refused this host's certificate"
		has "$ac_name: $ac_bad: the host names the reason" ": $ac_why:"
		has "$ac_name: $ac_bad: as AGENT_CERT, not a timeout" "[AGENT_CERT]"
		i=0
		while ! grep -q "certificate .* was refused: $ac_why:" "$ac_log" 2>/dev/null && [ $i -lt 40 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if grep -q "host's certificate .* was refused: $ac_why:" "$ac_log" 2>/dev/null; then
			ok "$ac_name: $ac_bad: the agent's log says why"
		else
			bad "$ac_name: $ac_bad: the agent's log says why"
		fi
	done
	expect "$ac_name: the VM's own host after the refused ones" 0 $ac_n

	# garbage on the line: random bytes (STX, ETX and TLS record headers among them)
	head -c 65536 /dev/urandom >"$ac_chan"
	expect "$ac_name: resync after 64 KiB of random bytes" 0 $ac_n --timeout 15000

	# a request in the clear is not a session: dropped, and the line resyncs
	printf '\002{"id":7,"op":"launch","args":{"program":"never"}}\003' >"$ac_chan"
	expect "$ac_name: a clear-text request is dropped" 0 $ac_n

	# a host that died inside its handshake: a sync, then a cut ClientHello record that
	# claims 512 bytes; the next host's syncs fill it, the handshake fails, the agent scans
	printf '\002{"sync":"0123456789abcdef0123456789abcdef"}\003\026\003\001\002\000' >"$ac_chan"
	head -c 100 /dev/urandom >"$ac_chan"
	expect "$ac_name: resync after a host died mid-handshake" 0 $ac_n --timeout 15000

	# the same with a cut ClientHello that claims 16 KiB: syncs would take a minute to fill
	# it and the begun handshake has 10 s, but the next host must get in within its
	# connect timeout (the agent watches for syncs under TLS, PROTOCOL.md 2)
	printf '\002{"sync":"0123456789abcdef0123456789abcdef"}\003\026\003\001\100\000' >"$ac_chan"
	head -c 100 /dev/urandom >"$ac_chan"
	expect "$ac_name: resync within the connect timeout after a cut 16 KiB ClientHello" 0 $ac_n

	# a flood without a frame in it
	head -c 2097152 /dev/zero | tr '\000' 'A' >"$ac_chan"
	expect "$ac_name: resync after a 2 MiB flood" 0 $ac_n --timeout 15000

	# a host with another VM's credentials is refused, and the right one is served after
	expect "$ac_name: another VM's host certificate refused" 1 $N agent ping --socket "$ac_chan" --certs "$ac_other" vm1
	has "$ac_name: the refusal is a certificate error" "[AGENT_CERT]"
	expect "$ac_name: the VM's own host after a refused one" 0 $ac_n --timeout 15000

	# a host killed inside a session, then inside a transfer (the agent mid-record)
	$N agent watch --socket "$ac_chan" --certs "$ac_certs" vm1 --for 8000 >/dev/null 2>&1 &
	ac_pid=$!
	sleep 2
	kill -9 "$ac_pid" 2>/dev/null
	wait "$ac_pid" 2>/dev/null
	# what it left: the start of a 16 KiB application-data record, as when a host dies
	# while it sends one; the agent, still in that session, waits for the rest of it
	printf '\027\003\003\100\000' >"$ac_chan"
	head -c 100 /dev/urandom >"$ac_chan"
	expect "$ac_name: reconnect within the connect timeout after a host killed mid-record" 0 $ac_n
	head -c 3000000 /dev/urandom >"$ac_tmp/cases-big"
	$N agent clipboard --socket "$ac_chan" --certs "$ac_certs" vm1 --mime image/png \
		--set-file "$ac_tmp/cases-big" >/dev/null 2>&1 &
	ac_pid=$!
	sleep 0.7
	kill -9 "$ac_pid" 2>/dev/null
	wait "$ac_pid" 2>/dev/null
	# An agent that waits for the rest of the record the dead host was sending would take
	# the next host's syncs as that record's body until it is full (16 KiB at four syncs a
	# second: about 90 s); it watches for syncs under TLS, so one connect timeout is enough.
	expect "$ac_name: reconnect within the connect timeout after a host killed mid-transfer" 0 $ac_n

	# five hosts in a row, each a fresh handshake on the same line
	ac_i=0 ac_good=0
	while [ $ac_i -lt 5 ]; do
		$ac_n >/dev/null 2>&1 && ac_good=$((ac_good + 1))
		ac_i=$((ac_i + 1))
	done
	[ "$ac_good" -eq 5 ] && ok "$ac_name: five reconnects in a row" || bad "$ac_name: five reconnects in a row ($ac_good of 5)"
	if sh -c "$ac_alive"; then ok "$ac_name: the same agent process served every case"; else bad "$ac_name: the same agent process served every case"; fi
}
