/*
 * A pause inside a busy-wait loop: lets a sibling hyperthread run and saves
 * power while a thread spins for work that arrives within microseconds.
 */
#ifndef VGPU_CPU_RELAX_H
#define VGPU_CPU_RELAX_H

static inline void vgpu_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#endif /* VGPU_CPU_RELAX_H */
