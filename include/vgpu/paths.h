/*
 * Where vgpu-mediatord's sockets are: the daemon, vgpuctl, the libvirt hook
 * and the packages agree on these names (docs/mediator.md).  The runtime
 * directory is mediator.conf's runtime-dir; each tool takes --runtime-dir.
 */
#ifndef VGPU_PATHS_H
#define VGPU_PATHS_H

#define VGPU_RUNTIME_DIR        "/run/vgpu"     /* default runtime-dir */
#define VGPU_DEVICE_SOCKET      "mediator.sock" /* QEMU's devices connect here */
#define VGPU_CONTROL_SOCKET     "control.sock"  /* vgpuctl and the hook */

/* Bytes of a libvirt domain name the mediator keeps, with the NUL. */
#define VGPU_DOMAIN_NAME_MAX    256

/* The default socket paths fit sockaddr_un's 108-byte sun_path. */
_Static_assert(sizeof(VGPU_RUNTIME_DIR "/" VGPU_DEVICE_SOCKET) <= 108, "device socket path");
_Static_assert(sizeof(VGPU_RUNTIME_DIR "/" VGPU_CONTROL_SOCKET) <= 108, "control socket path");

#endif /* VGPU_PATHS_H */
