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

// A store a terabyte past its argument: an illegal address, poisoning the context.
__global__ void write_far(int *x)
{
    x[1ull << 38] = 1;
}

}
