/*
 * A VM's identity as people write it (pool "A", priority "high", vm-id "7",
 * UUID "6f1c...") and as the registers hold it.  Shared by the mediator,
 * vgpuctl, the libvirt hook and the guest tools.
 */
#ifndef VGPU_IDENTITY_H
#define VGPU_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#define VGPU_UUID_STRING_LEN 36     /* without the NUL */

/* A VM's GPU memory quota (gpu-memory= in the domain XML): 1 byte .. 1 TiB; 0 = none. */
#define VGPU_GPU_MEMORY_MAX         (1ull << 40)
#define VGPU_GPU_MEMORY_TEXT_MAX    24      /* "1099511627776" or "1TiB", with the NUL */

/* "low", "medium", "high"; NULL for a value that is not a priority. */
const char *vgpu_priority_name(uint32_t priority);

/* Parse "low", "medium" or "high" (exactly, lower case).  False otherwise. */
bool vgpu_priority_parse(const char *text, uint32_t *priority);

/* Parse a pool name: one letter 'A'..'Z' (exactly, upper case).  False otherwise. */
bool vgpu_pool_parse(const char *text, uint32_t *pool_id);

/* Parse a decimal vm-id in 1..VGPU_VM_ID_MAX, no sign, no spaces.  False otherwise. */
bool vgpu_vm_id_parse(const char *text, uint32_t *vm_id);

/*
 * Parse a GPU memory size: a decimal byte count, optionally followed by an
 * IEC unit KiB, MiB, GiB or TiB (K, M, G, T mean the same), no sign, no
 * spaces, no leading zero; 1..VGPU_GPU_MEMORY_MAX bytes.  False otherwise.
 */
bool vgpu_gpu_memory_parse(const char *text, uint64_t *bytes);

/* Write bytes in the largest unit that holds it exactly ("8GiB", "1536MiB", "1000"). */
void vgpu_gpu_memory_format(uint64_t bytes, char out[VGPU_GPU_MEMORY_TEXT_MAX]);

/* Parse a UUID "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case).  False otherwise. */
bool vgpu_uuid_parse(const char *text, uint8_t uuid[16]);

/* Write the UUID in lower case with its NUL into out[VGPU_UUID_STRING_LEN + 1]. */
void vgpu_uuid_format(const uint8_t uuid[16], char out[VGPU_UUID_STRING_LEN + 1]);

#endif /* VGPU_IDENTITY_H */
