#!/bin/sh
# Print the libvirt XML of a small domain that boots a kernel and an
# initramfs (e.g. the guest image of scripts/guest-image.sh) with its serial
# console in a file: what the tests and `make demo` define before
# `vgpuctl attach` and `virsh start`.  See docs/libvirt.md.
#
#   scripts/guest-domain.sh --name NAME --kernel FILE --initrd FILE
#       --console FILE [--emulator PATH] [--machine pc|q35] [--type qemu|kvm]
#       [--memory MIB] [--uuid UUID] [--cmdline TEXT] [--serial-pipe PATH]
#
#   --name      the domain's name
#   --kernel    the guest kernel (vmlinuz)
#   --initrd    the initramfs
#   --console   file that receives the serial console (ttyS0)
#   --emulator  the QEMU with vgpu-stub (default: the installed one)
#   --machine   pc (i440fx) or q35 (default q35)
#   --type      qemu (TCG, the default: it runs on every host) or kvm (where
#               KVM really runs guests; scripts/accel.sh tells)
#   --memory    guest memory in MiB (default 256)
#   --uuid      the domain's UUID (default: libvirt picks one)
#   --cmdline   kernel command line (default "console=ttyS0 panic=-1 quiet")
#   --serial-pipe  a second serial port (ttyS1) on the FIFOs PATH.in (to the
#               guest) and PATH.out (from it), which must exist: how the
#               host talks to an agent in the guest (make demo does)
#
# libvirt's QEMU user must be able to read the kernel and initrd and to
# reach the console file's and the FIFOs' directories.
set -eu

prog=guest-domain
die() { echo "$prog: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'; }

# XML-escape text for an attribute or element.
xml_escape() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' \
                                      -e "s/'/\&apos;/g" -e 's/"/\&quot;/g'; }

name= kernel= initrd= console= uuid= serial_pipe=
emulator=/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64
machine=q35
memory=256
cmdline="console=ttyS0 panic=-1 quiet"
type=qemu

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || case $1 in -h|--help) ;; *) die "$1 needs a value" ;; esac
    case $1 in
    --name) name=$2 ;;
    --kernel) kernel=$2 ;;
    --initrd) initrd=$2 ;;
    --console) console=$2 ;;
    --emulator) emulator=$2 ;;
    --machine) machine=$2 ;;
    --type) type=$2 ;;
    --memory) memory=$2 ;;
    --uuid) uuid=$2 ;;
    --cmdline) cmdline=$2 ;;
    --serial-pipe) serial_pipe=$2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift 2
done

[ -n "$name" ] && [ -n "$kernel" ] && [ -n "$initrd" ] && [ -n "$console" ] ||
    { usage >&2; die "--name, --kernel, --initrd and --console are required"; }
case $machine in pc|q35) ;; *) die "--machine must be pc or q35, not '$machine'" ;; esac
case $type in qemu|kvm) ;; *) die "--type must be qemu or kvm, not '$type'" ;; esac
case $memory in ''|*[!0-9]*) die "--memory must be a number of MiB, not '$memory'" ;; esac
for f in "$kernel" "$initrd" "$console" "$emulator" ${serial_pipe:+"$serial_pipe"}; do
    case $f in /*) ;; *) die "paths must be absolute, not '$f'" ;; esac
done

cat <<EOF
<domain type='$type'>
  <name>$(xml_escape "$name")</name>
EOF
[ -n "$uuid" ] && echo "  <uuid>$(xml_escape "$uuid")</uuid>"
cat <<EOF
  <memory unit='MiB'>$memory</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='$machine'>hvm</type>
    <kernel>$(xml_escape "$kernel")</kernel>
    <initrd>$(xml_escape "$initrd")</initrd>
    <cmdline>$(xml_escape "$cmdline")</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(xml_escape "$emulator")</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$(xml_escape "$console")'/>
      <target port='0'/>
    </serial>
EOF
if [ -n "$serial_pipe" ]; then
    cat <<EOF
    <serial type='pipe'>
      <source path='$(xml_escape "$serial_pipe")'/>
      <target port='1'/>
    </serial>
EOF
fi
cat <<EOF
    <memballoon model='none'/>
  </devices>
</domain>
EOF
