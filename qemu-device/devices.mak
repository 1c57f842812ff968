# Device set of the vgpu-stub QEMU build (configs/devices/x86_64-softmmu/vgpu.mak
# in the QEMU tree).  Enough for users' ordinary libvirt domains on pc and q35:
# see docs/architecture.md, "The QEMU build".  No trailing comments on `include` lines: they
# break minikconf.

include ../i386-softmmu/default.mak

# The device itself
CONFIG_VGPU_STUB=y

# PCIe topology libvirt builds (root ports, switches, bridges; PCIE_PORT
# also brings pcie-pci-bridge, and pci-bridge is always built)
CONFIG_PCIE_PORT=y
CONFIG_IOH3420=y
CONFIG_XIO3130=y
CONFIG_I82801B11=y

# virtio
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_SCSI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_INPUT=y
CONFIG_VIRTIO_GPU=y
CONFIG_VIRTIO_VGA=y

# NICs
CONFIG_E1000_PCI=y
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_RTL8139_PCI=y

# Display
CONFIG_VGA_PCI=y
CONFIG_BOCHS_DISPLAY=y

# USB (the tablet libvirt adds for VNC) and storage
CONFIG_USB_UHCI=y
CONFIG_USB_EHCI_PCI=y
CONFIG_USB_XHCI_PCI=y
CONFIG_USB_XHCI_NEC=y
CONFIG_USB_STORAGE_CLASSIC=y
CONFIG_AHCI_ICH9=y

# Sound, watchdog, panic, timers, VMware mouse/port
CONFIG_HDA=y
CONFIG_PVPANIC_ISA=y
CONFIG_WDT_IB6300ESB=y
CONFIG_HPET=y
CONFIG_VMPORT=y
CONFIG_VMMOUSE=y
