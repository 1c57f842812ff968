/*
 * What nvcc's start-up code registers: each fat binary (one per
 * translation unit with device code), its kernels and its variables.
 * Nothing reaches the host at registration: a module is loaded the first
 * time one of its kernels or variables is used (MODULE_LOAD), a kernel is
 * looked up by name (FUNCTION_GET) and its parameters' layout taken from
 * the host (FUNCTION_PARAMS), a variable located by name (VARIABLE_GET),
 * each once and cached.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "fatbin.h"
#include "runtime.h"

struct cudart_module {
    const void *image;              /* the fat binary, in the program's memory */
    size_t image_len;
    const char *why;                /* why it cannot be loaded; NULL when it can */
    bool loaded;
    uint64_t handle;                /* the host's, once loaded */
    bool has_managed;               /* __managed__ variables: not supported */
    struct cudart_module *next;
};

struct cudart_function {
    struct cudart_module *module;
    const void *host_function;      /* the stub nvcc generated */
    char *name;                     /* the kernel's (mangled) name */
    bool resolved;
    uint64_t handle;
    uint32_t param_count;
    uint32_t *layout;               /* param_count (offset, size) pairs */
    uint32_t packed_size;
    struct cudart_function *next;
};

struct cudart_variable {
    struct cudart_module *module;
    const void *host_variable;      /* its shadow in the program */
    char *name;
    bool resolved;
    uint64_t address, size;         /* the host's */
    struct cudart_variable *next;
};

static struct cudart_module *modules;
static struct cudart_function *functions;
static struct cudart_variable *variables;

/* A registration handle: one of our modules, or NULL. */
static struct cudart_module *module_checked(void **handle)
{
    for (struct cudart_module *m = modules; m; m = m->next) {
        if ((void *)m == (void *)handle) {
            return m;
        }
    }
    return NULL;
}

CUDART_API void **__cudaRegisterFatBinary(void *fat_cubin)
{
    struct cudart_module *m = calloc(1, sizeof(*m));

    if (!m) {
        return NULL;
    }
    if (!cudart_fatbin_image(fat_cubin, &m->image, &m->image_len, &m->why)) {
        m->image = NULL;
    }
    cudart_enter(__func__);
    m->next = modules;
    modules = m;
    cudart_leave(cudaSuccess);
    return (void **)m;
}

CUDART_API void __cudaRegisterFatBinaryEnd(void **handle)
{
    (void)handle;       /* modules load when first used */
}

/* Forget the kernels and variables of module m. */
static void registry_drop(const struct cudart_module *m)
{
    struct cudart_function **fl = &functions;
    struct cudart_variable **vl = &variables;

    while (*fl) {
        struct cudart_function *f = *fl;

        if (f->module == m) {
            *fl = f->next;
            free(f->name);
            free(f->layout);
            free(f);
        } else {
            fl = &f->next;
        }
    }
    while (*vl) {
        struct cudart_variable *v = *vl;

        if (v->module == m) {
            *vl = v->next;
            free(v->name);
            free(v);
        } else {
            vl = &v->next;
        }
    }
}

CUDART_API void __cudaUnregisterFatBinary(void **handle)
{
    struct cudart_module *m, **link;

    cudart_enter(__func__);
    m = module_checked(handle);
    if (m) {
        if (m->loaded) {
            cudart_defer(VGPU_CUDA_MODULE_UNLOAD, &m->handle, NULL, 0);
        }
        registry_drop(m);
        for (link = &modules; *link != m; link = &(*link)->next) {
        }
        *link = m->next;
        free(m);
    }
    cudart_leave(cudaSuccess);
}

CUDART_API void __cudaRegisterFunction(void **handle, const char *host_function,
                                       char *device_function, const char *device_name,
                                       int thread_limit, uint3 *tid, uint3 *bid, dim3 *block,
                                       dim3 *grid, int *warp_size)
{
    struct cudart_function *f;

    (void)device_function; (void)thread_limit; (void)tid; (void)bid; (void)block;
    (void)grid; (void)warp_size;
    cudart_enter(__func__);
    f = calloc(1, sizeof(*f));
    if (f && module_checked(handle) && device_name) {
        f->module = (struct cudart_module *)handle;
        f->host_function = host_function;
        f->name = strdup(device_name);
        f->next = functions;
        functions = f;
    } else {
        free(f);
    }
    cudart_leave(cudaSuccess);
}

CUDART_API void __cudaRegisterVar(void **handle, char *host_variable, char *device_address,
                                  const char *device_name, int ext, size_t size, int constant,
                                  int global)
{
    struct cudart_variable *v;

    (void)device_address; (void)ext; (void)size; (void)constant; (void)global;
    cudart_enter(__func__);
    v = calloc(1, sizeof(*v));
    if (v && module_checked(handle) && device_name) {
        v->module = (struct cudart_module *)handle;
        v->host_variable = host_variable;
        v->name = strdup(device_name);
        v->next = variables;
        variables = v;
    } else {
        free(v);
    }
    cudart_leave(cudaSuccess);
}

/*
 * __managed__ variables need memory the guest and the GPU share, which
 * the window cannot give a variable nvcc placed elsewhere: the program
 * learns at once (every call fails) rather than reading a null pointer.
 */
CUDART_API void __cudaRegisterManagedVar(void **handle, void **host_pointer_address,
                                         char *device_address, const char *device_name,
                                         int ext, size_t size, int constant, int global)
{
    struct cudart_module *m;

    (void)host_pointer_address; (void)device_address; (void)ext; (void)size; (void)constant;
    (void)global;
    cudart_enter(__func__);
    m = module_checked(handle);
    if (m) {
        m->has_managed = true;
    }
    cudart_say("__cudaRegisterManagedVar: __managed__ variable %s is not supported "
               "(cudaErrorNotSupported)", device_name ? device_name : "?");
    cudart_set_sticky(cudaErrorNotSupported);
    cudart_leave(cudaSuccess);
}

/* Called by nvcc's code on the first use of a __managed__ variable. */
CUDART_API char __cudaInitModule(void **handle)
{
    struct cudart_module *m;
    bool managed;

    cudart_enter(__func__);
    m = module_checked(handle);
    managed = m && m->has_managed;
    cudart_leave(cudaSuccess);
    if (managed) {
        /* The program is about to read through a pointer nothing set. */
        cudart_say("__cudaInitModule: the program uses __managed__ variables, which are "
                   "not supported; exiting");
        exit(EXIT_FAILURE);
    }
    return 1;
}

struct cudart_function *cudart_function_of(const void *host_function)
{
    for (struct cudart_function *f = functions; f; f = f->next) {
        if (f->host_function == host_function) {
            return f;
        }
    }
    return NULL;
}

struct cudart_function *cudart_function_checked(const void *kernel)
{
    for (struct cudart_function *f = functions; f; f = f->next) {
        if ((const void *)f == kernel) {
            return f;
        }
    }
    return NULL;
}

static cudaError_t module_load(struct cudart_module *m)
{
    uint64_t offset, got, words[2];
    uint64_t out[2];
    cudaError_t e;

    if (m->loaded) {
        return cudaSuccess;
    }
    if (!m->image) {
        cudart_say("%s: the program's device code cannot be loaded: %s", cudart_api(), m->why);
        return cudaErrorInvalidKernelImage;
    }
    e = cudart_session_open();
    if (e == cudaSuccess) {
        e = cudart_staging_take(m->image_len, &offset, &got);
    }
    if (e != cudaSuccess) {
        return e;
    }
    if (got < m->image_len) {
        cudart_say("%s: the program's fat binary (%zu bytes) does not fit the data window's "
                   "staging area (%llu bytes): give the VM a larger window", cudart_api(),
                   m->image_len, (unsigned long long)got);
        return cudaErrorMemoryAllocation;
    }
    memcpy(cudart_window_at(offset), m->image, m->image_len);
    words[0] = offset;
    words[1] = m->image_len;
    e = cudart_run(VGPU_CUDA_MODULE_LOAD, words, NULL, 0, out);
    if (e == cudaSuccess) {
        m->handle = out[0];
        m->loaded = true;
    }
    return e;
}

/* Run a lookup by name (FUNCTION_GET, VARIABLE_GET) in module m. */
static cudaError_t lookup_by_name(uint32_t call, struct cudart_module *m, const char *name,
                                  uint64_t out[2])
{
    size_t len = strlen(name) + 1;      /* the host reads up to the NUL */
    cudaError_t e = module_load(m);

    if (e != cudaSuccess) {
        return e;
    }
    if (len > VGPU_CUDA_NAME_MAX) {
        cudart_say("%s: the name %.40s... (%zu bytes) is longer than the %u bytes a call "
                   "carries", cudart_api(), name, len, VGPU_CUDA_NAME_MAX);
        return call == VGPU_CUDA_FUNCTION_GET ? cudaErrorInvalidDeviceFunction
                                              : cudaErrorInvalidSymbol;
    }
    return cudart_run(call, &m->handle, name, len, out);
}

/* The host's layout of f's parameters, checked, into f. */
static cudaError_t function_layout(struct cudart_function *f, uint32_t count)
{
    uint64_t offset, got, words[3];
    uint32_t *layout, packed = 0;
    const unsigned char *pairs;
    cudaError_t e;

    if (count == 0) {
        return cudaSuccess;
    }
    if (count > VGPU_CUDA_PARAMS_MAX) {
        cudart_say("%s: the host says kernel %s has %u parameters", cudart_api(), f->name, count);
        return cudaErrorUnknown;
    }
    e = cudart_staging_take(8ull * count, &offset, &got);
    if (e != cudaSuccess) {
        return e;
    }
    words[0] = f->handle;
    words[1] = offset;
    words[2] = 8ull * count;
    e = cudart_run(VGPU_CUDA_FUNCTION_PARAMS, words, NULL, 0, NULL);
    if (e != cudaSuccess) {
        return e;
    }
    layout = malloc(8ull * count);
    if (!layout) {
        return cudaErrorMemoryAllocation;
    }
    pairs = cudart_window_at(offset);
    for (uint32_t i = 0; i < 2 * count; i++) {
        memcpy(&layout[i], pairs + 4 * i, 4);
        layout[i] = le32toh(layout[i]);
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t at = layout[2 * i], size = layout[2 * i + 1];

        if (size == 0 || at > VGPU_CUDA_PARAMS_MAX || size > VGPU_CUDA_PARAMS_MAX - at) {
            cudart_say("%s: the host gives kernel %s's parameter %u %u bytes at offset %u",
                       cudart_api(), f->name, i, size, at);
            free(layout);
            return cudaErrorUnknown;
        }
        packed = at + size > packed ? at + size : packed;
    }
    f->layout = layout;
    f->packed_size = packed;
    return cudaSuccess;
}

cudaError_t cudart_function_resolve(struct cudart_function *f, uint64_t *handle,
                                    const uint32_t **layout, uint32_t *param_count,
                                    uint32_t *packed_size)
{
    uint64_t out[2];
    cudaError_t e;

    if (!f->resolved) {
        e = lookup_by_name(VGPU_CUDA_FUNCTION_GET, f->module, f->name, out);
        if (e != cudaSuccess) {
            return e;
        }
        f->handle = out[0];
        e = function_layout(f, (uint32_t)out[1]);
        if (e != cudaSuccess || out[1] > UINT32_MAX) {
            return e != cudaSuccess ? e : cudaErrorUnknown;
        }
        f->param_count = (uint32_t)out[1];
        f->resolved = true;
    }
    *handle = f->handle;
    *layout = f->layout;
    *param_count = f->param_count;
    *packed_size = f->packed_size;
    return cudaSuccess;
}

cudaError_t cudart_variable_resolve(const void *host_variable, uint64_t *address,
                                    uint64_t *size)
{
    struct cudart_variable *v;
    uint64_t out[2];
    cudaError_t e;

    for (v = variables; v && v->host_variable != host_variable; v = v->next) {
    }
    if (!v) {
        return cudaErrorInvalidSymbol;
    }
    if (!v->resolved) {
        e = lookup_by_name(VGPU_CUDA_VARIABLE_GET, v->module, v->name, out);
        if (e != cudaSuccess) {
            return e;
        }
        v->address = out[0];
        v->size = out[1];
        v->resolved = true;
        cudart_device_range_add(v->address, v->size, false);
    }
    *address = v->address;
    *size = v->size;
    return cudaSuccess;
}

void cudart_registry_forget_host(void)
{
    for (struct cudart_module *m = modules; m; m = m->next) {
        m->loaded = false;
    }
    for (struct cudart_function *f = functions; f; f = f->next) {
        f->resolved = false;
        free(f->layout);
        f->layout = NULL;
    }
    for (struct cudart_variable *v = variables; v; v = v->next) {
        v->resolved = false;
    }
}
