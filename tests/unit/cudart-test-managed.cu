// A __managed__ variable, which the guest's libcudart.so.13 does not
// support: cudart-test loads this (built with nvcc -cudart shared) to see
// the program told so, and stopped before it reads through a null pointer.
#include <cuda_runtime.h>

__managed__ int managed_value;

extern "C" int managed_read(void)
{
    return managed_value;
}
