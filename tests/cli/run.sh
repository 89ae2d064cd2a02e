#!/bin/sh
# Golden tests of whole neuronctl runs: stdout, stderr and the exit status of each case
# are compared with tests/cli/expected/CASE. NEURON_REGEN=1 rewrites the golden files.
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch

for yaml in "$top"/tests/fixtures/machines/*.yaml; do
	m=$(basename "$yaml" .yaml)
	golden "$m.scan" --sysroot "$SYSROOTS/$m" scan
	golden "$m.scan.json" --sysroot "$SYSROOTS/$m" scan --json
	golden "$m.check" --sysroot "$SYSROOTS/$m" check
	golden "$m.check.json" --sysroot "$SYSROOTS/$m" check --json
done

# Errors a user can act on.
golden err.no-sysroot --sysroot "$tmp/nowhere" scan
mkdir -p "$tmp/empty"
golden err.no-pci --sysroot "$tmp/empty" check
cp -a "$SYSROOTS/intel-nvidia" "$tmp/broken"
# config has the ids (one read); without it the attribute files stand in, so both go
rm "$tmp/broken/sys/devices/pci0000:01/0000:01:00.0/vendor" "$tmp/broken/sys/devices/pci0000:01/0000:01:00.0/config"
golden err.unreadable --sysroot "$tmp/broken" scan
golden err.check-gpu --sysroot "$SYSROOTS/intel-nvidia" check --gpu 05:00.0
golden check.pick-gpu --sysroot "$SYSROOTS/intel-nvidia" check --gpu 0000:00:02.0
# Usage: exit 2 with the usage line.
golden usage.none
golden usage.unknown-command frobnicate
golden usage.unknown-option --sysroot "$SYSROOTS/demo" scan --bogus
golden usage.extra-arg --sysroot "$SYSROOTS/demo" scan extra
golden usage.value-missing --sysroot "$SYSROOTS/demo" check --gpu
golden usage.bad-param --param nonsense=1 scan
golden help.scan scan --help
# --json: an error is one object {"error": NAME, "message": ...} on stdout, a usage error too.
golden err.no-sysroot.json --sysroot "$tmp/nowhere" scan --json
golden usage.unknown-option.json --sysroot "$SYSROOTS/demo" check --json --bogus
golden usage.json-not-an-option --connect test:///default vm start x --json
# libvirt's parser (libxml2) must not print its own warning beside our one error line
golden error.connect-missing-file --connect "test://$tmp/missing.xml" vm list
golden help.top --help
# The command table's self-test: every command has help, no duplicates.
golden self-test --self-test

summary cli
