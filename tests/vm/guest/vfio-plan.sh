# Scenario vfio-boot, first boot: `neuronctl vfio plan` and `vfio apply` for the second VGA on
# this real kernel's sysfs, into /target (Debian 12 with GRUB and initramfs-tools, as the
# distribution ships its files); the applied tree goes back to the host as a base64 tar.
. /scenarios/checks.sh
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
gpu=$(arg neuron.gpu)
check "the target root is there" [ -f /target/etc/default/grub ]
section plan.txt neuronctl --root /target vfio plan --gpu "$gpu"
section plan.json neuronctl --root /target vfio plan --gpu "$gpu" --json
check "vfio apply writes the plan into /target" \
	neuronctl --root /target vfio apply --gpu "$gpu" --yes --no-regenerate
section target.tar.b64 sh -c 'tar -C /target -cf - . | base64'
finish
