// Kernels of tests/gpu/cuda-vm-test.c, built into a fat binary (nvcc -fatbin)
// that the test loads into a VM's CUDA worker as a guest program's would be.
extern "C" {

__device__ int counter;

__global__ void add_one(int *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        x[i] += 1;
    }
}

// One byte between two parameters: the layout must come from CUDA, not a guess.
__global__ void scale_and_count(char tag, double factor, int *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        x[i] = (int)(x[i] * factor) + tag;
    }
    if (i == 0) {
        atomicAdd(&counter, 1);
    }
}

// Busy for `ns` nanoseconds of the GPU's global timer.
__global__ void spin(unsigned long long ns)
{
    unsigned long long start, now;

    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}

// A store a terabyte past its argument: an illegal address, poisoning the context.
__global__ void write_far(int *x)
{
    x[1ull << 38] = 1;
}

}
