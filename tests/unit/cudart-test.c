/*
 * The guest's CUDA runtime (guest-tools/cudart/, libcudart.so.13) against
 * the mock device of fake-vgpu.h and the CUDA host of fake-cuda.h.
 *
 * The test is linked against the library as a CUDA program is, and loads
 * cudart-test-app.so, which nvcc built with -cudart shared: its start-up
 * code registers its fat binary, kernels and variables with the library,
 * and its <<<>>> launches go through nvcc's own stubs.  It also runs
 * tests/cuda/vector-add, a real nvcc-built program, on the library.
 *
 * Each test runs in a process of its own (the library's state lives as
 * long as the process, as it does in a program).  They pin: the window's
 * layout and heap, the fat binary found in nvcc's real output, every
 * error's name, the exports against NVIDIA's library, the stubs of what
 * is not supported, no device (no vgpu-stub, no window, a pool without a
 * GPU) and a host that runs nothing yet, each call's encoding word by
 * word, copies in every direction (staged and pinned) with their data,
 * refusals before anything is sent (foreign pointers, ranges past an
 * allocation, bad handles, unregistered kernels, unknown symbols),
 * batching (N launches are one request), sticky and non-sticky errors,
 * streams and events with their timing.
 */
#include <dlfcn.h>
#include <elf.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>

#include "fake-cuda.h"
#include "fake-vgpu.h"
#include "fatbin.h"
#include "vgpu/cuda.h"
#include "window-heap.h"
#include "window-layout.h"

#define ADDR_1E         "0000:00:1e.0"
#define WINDOW_SIZE     (8u << 20)      /* batch 1 MiB, staging 2 MiB, heap 5 MiB */

/* nvcc's own entry point, which no header declares for C. */
extern cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block, void **args,
                                      size_t shared, cudaStream_t stream);

/* ---- the world of one test: a device, its window, maybe a CUDA host ---- */

typedef enum { WITH_HOST, NO_HOST, NO_WINDOW, NO_VGPU } World;

static FakeRoot *root;
static FakeDevice *dev;
static FakeCuda *host;
static struct cudart_layout layout;

static void world_start(World world)
{
    root = fake_root_new();
    fake_root_use(root);
    g_assert_true(cudart_layout_compute(WINDOW_SIZE, &layout));
    if (world == NO_VGPU) {
        return;
    }
    dev = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    if (world != NO_WINDOW) {
        fake_device_add_window(dev, WINDOW_SIZE);
    }
    if (world == WITH_HOST) {
        host = fake_cuda_new(dev);
    }
    fake_device_start(dev);
}

static void world_end(void)
{
    fake_root_free(root);
    if (host) {
        fake_cuda_free(host);
    }
}

static guint requests(void)
{
    FakeStats stats;

    fake_device_stats(dev, &stats);
    return stats.doorbells;
}

static FakeCudaStats host_stats(void)
{
    FakeCudaStats stats;

    fake_cuda_stats(host, &stats);
    return stats;
}

/* The records the host answered since the last call, as a plain list of calls. */
static GArray *records(void)
{
    return fake_cuda_log_take(host);
}

static const FakeCudaRecord *record_of(GArray *log, guint32 call, guint nth)
{
    for (guint i = 0; i < log->len; i++) {
        const FakeCudaRecord *r = &g_array_index(log, FakeCudaRecord, i);

        if (r->call == call && nth-- == 0) {
            return r;
        }
    }
    g_error("no record %u of call %u among %u", nth, call, log->len);
    return NULL;
}

static guint count_of(GArray *log, guint32 call)
{
    guint n = 0;

    for (guint i = 0; i < log->len; i++) {
        n += g_array_index(log, FakeCudaRecord, i).call == call;
    }
    return n;
}

static gboolean in_staging(guint64 offset)
{
    return offset >= layout.staging_offset && offset < layout.heap_offset;
}

static gboolean in_heap(guint64 offset)
{
    return offset >= layout.heap_offset && offset < WINDOW_SIZE;
}

static void *device_malloc(size_t size)
{
    void *p = NULL;

    g_assert_cmpint(cudaMalloc(&p, size), ==, cudaSuccess);
    g_assert_nonnull(p);
    return p;
}

static void fill(void *buf, size_t len, guint32 seed)
{
    GRand *rand = g_rand_new_with_seed(seed);

    for (size_t i = 0; i < len; i++) {
        ((guint8 *)buf)[i] = (guint8)g_rand_int(rand);
    }
    g_rand_free(rand);
}

/* ---- the nvcc-built app ---- */

static struct {
    int (*vector_add)(const float *a, const float *b, float *c, int n, cudaStream_t stream);
    int (*empty)(int times, cudaStream_t stream);
    int (*empty_config)(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, size_t shared, cudaStream_t stream);
    int (*scale_by_constant)(float *x, int n);
    int (*out_of_bounds)(int *p);
    int (*unknown_to_host)(void);
    const void *(*symbol_scale)(void);
    const void *(*symbol_counter)(void);
    const void *(*kernel_vector_add)(void);
} app;

static void app_load(void)
{
    void *so = dlopen(CUDART_TEST_APP, RTLD_NOW | RTLD_LOCAL);

    if (!so) {
        g_error("%s", dlerror());
    }
#define APP_SYMBOL(field, name) \
    g_assert_nonnull(*(void **)&app.field = dlsym(so, name))
    APP_SYMBOL(vector_add, "app_vector_add");
    APP_SYMBOL(empty, "app_empty");
    APP_SYMBOL(empty_config, "app_empty_config");
    APP_SYMBOL(scale_by_constant, "app_scale_by_constant");
    APP_SYMBOL(out_of_bounds, "app_out_of_bounds");
    APP_SYMBOL(unknown_to_host, "app_unknown_to_host");
    APP_SYMBOL(symbol_scale, "app_symbol_scale");
    APP_SYMBOL(symbol_counter, "app_symbol_counter");
    APP_SYMBOL(kernel_vector_add, "app_kernel_vector_add");
#undef APP_SYMBOL
}

/* ---- pure parts: layout, heap, fat binary ---- */

static void test_layout(void)
{
    static const guint64 sizes[] = { 1ull << 20, 8ull << 20, 64ull << 20, 16ull << 30 };
    struct cudart_layout l;

    g_assert_false(cudart_layout_compute((1u << 20) - 4096, &l));
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_assert_true(cudart_layout_compute(sizes[i], &l));
        g_assert_cmpuint(l.batch_offset, ==, 0);
        g_assert_cmpuint(l.batch_size, >=, 128u << 10);
        g_assert_cmpuint(l.batch_size, <=, VGPU_CUDA_BATCH_MAX);
        g_assert_cmpuint(l.staging_offset, ==, l.batch_size);
        g_assert_cmpuint(l.staging_size, <=, CUDART_STAGING_MAX);
        g_assert_cmpuint(l.heap_offset, ==, l.staging_offset + l.staging_size);
        g_assert_cmpuint(l.heap_offset + l.heap_size, ==, sizes[i]);
        g_assert_cmpuint(l.heap_size, >=, sizes[i] / 2);
        g_assert_cmpuint(l.staging_offset % CUDART_REGION_ALIGN, ==, 0);
        g_assert_cmpuint(l.heap_offset % CUDART_REGION_ALIGN, ==, 0);
    }
    g_assert_true(cudart_layout_compute(64ull << 20, &l));
    g_assert_cmpuint(l.batch_size, ==, 1u << 20);
    g_assert_cmpuint(l.staging_size, ==, 16u << 20);
    g_assert_cmpuint(l.heap_size, ==, 47u << 20);
}

static void test_heap(void)
{
    struct cudart_heap heap;
    guint64 a, b, c, d;

    g_assert_true(cudart_heap_init(&heap, 4096, 4096));
    g_assert_false(cudart_heap_alloc(&heap, 0, &a));
    g_assert_true(cudart_heap_alloc(&heap, 1, &a));
    g_assert_true(cudart_heap_alloc(&heap, 300, &b));
    g_assert_true(cudart_heap_alloc(&heap, 200, &c));
    g_assert_cmpuint(a, ==, 4096);
    g_assert_cmpuint(b, ==, 4096 + 256);
    g_assert_cmpuint(c, ==, 4096 + 768);
    g_assert_cmpuint(heap.free_bytes, ==, 4096 - 1024);
    g_assert_false(cudart_heap_alloc(&heap, 4096 - 1024 + 1, &d));
    g_assert_true(cudart_heap_free(&heap, b));
    g_assert_false(cudart_heap_free(&heap, b));
    g_assert_false(cudart_heap_free(&heap, b + 256));
    g_assert_true(cudart_heap_alloc(&heap, 256, &d));
    g_assert_cmpuint(d, ==, b);         /* first fit: the hole b left */
    g_assert_true(cudart_heap_free(&heap, a));
    g_assert_true(cudart_heap_free(&heap, c));
    g_assert_true(cudart_heap_free(&heap, d));
    g_assert_cmpuint(heap.free_bytes, ==, 4096);
    g_assert_cmpuint(heap.count, ==, 1);            /* merged back into one block */
    g_assert_true(cudart_heap_alloc(&heap, 4096, &a));
    g_assert_cmpuint(a, ==, 4096);
    cudart_heap_destroy(&heap);
}

static void test_fatbin_wrapper(void)
{
    guint64 image[4] = { 0 };
    struct cudart_fatbin_header h = { CUDART_FATBIN_MAGIC, 1, 16, 16 };
    struct cudart_fatbin_wrapper w = { (gint32)CUDART_FATBINC_MAGIC, 1, image, NULL };
    const void *found;
    const char *why;
    size_t len;

    memcpy(image, &h, sizeof(h));
    g_assert_true(cudart_fatbin_image(&w, &found, &len, &why));
    g_assert_true(found == image);
    g_assert_cmpuint(len, ==, 32);

    w.magic = 0x12345678;
    g_assert_false(cudart_fatbin_image(&w, &found, &len, &why));
    g_assert_nonnull(strstr(why, "0x466243b1"));
    w.magic = (gint32)CUDART_FATBINC_MAGIC;
    w.version = 2;
    g_assert_false(cudart_fatbin_image(&w, &found, &len, &why));
    g_assert_nonnull(strstr(why, "-rdc"));
    w.version = 1;
    h.magic = 0xba55ed51;
    memcpy(image, &h, sizeof(h));
    g_assert_false(cudart_fatbin_image(&w, &found, &len, &why));
    g_assert_nonnull(strstr(why, "0xba55ed50"));
    h.magic = CUDART_FATBIN_MAGIC;
    h.header_size = 8;
    memcpy(image, &h, sizeof(h));
    g_assert_false(cudart_fatbin_image(&w, &found, &len, &why));
    w.data = NULL;
    g_assert_false(cudart_fatbin_image(&w, &found, &len, &why));
    g_assert_false(cudart_fatbin_image(NULL, &found, &len, &why));
}

static const Elf64_Shdr *elf_section(const gchar *elf, const char *name)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(elf + eh->e_shoff);
    const char *names = elf + sh[eh->e_shstrndx].sh_offset;

    for (guint i = 0; i < eh->e_shnum; i++) {
        if (strcmp(names + sh[i].sh_name, name) == 0) {
            return &sh[i];
        }
    }
    g_error("no section %s", name);
    return NULL;
}

/*
 * The fat binary nvcc's wrapper in the shared object at path points at,
 * found as the loader would: the wrapper (.nvFatBinSegment) holds its
 * address as a relative relocation into .nv_fatbin, which may hold more
 * than one fat binary.
 */
static GBytes *nvcc_fat_binary(const char *path)
{
    const Elf64_Shdr *wrapper, *rela, *fatbin;
    const Elf64_Rela *r;
    guint64 address = 0, at;
    GError *error = NULL;
    gchar *elf;
    gsize len;
    GBytes *image;
    guint32 magic;

    g_assert_true(g_file_get_contents(path, &elf, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpint(memcmp(elf, ELFMAG, SELFMAG), ==, 0);
    wrapper = elf_section(elf, ".nvFatBinSegment");
    memcpy(&magic, elf + wrapper->sh_offset, 4);
    g_assert_cmphex(magic, ==, CUDART_FATBINC_MAGIC);
    rela = elf_section(elf, ".rela.dyn");
    for (r = (const Elf64_Rela *)(elf + rela->sh_offset);
         (const gchar *)r < elf + rela->sh_offset + rela->sh_size; r++) {
        if (r->r_offset == wrapper->sh_addr + offsetof(struct cudart_fatbin_wrapper, data) &&
            ELF64_R_TYPE(r->r_info) == R_X86_64_RELATIVE) {
            address = (guint64)r->r_addend;
        }
    }
    fatbin = elf_section(elf, ".nv_fatbin");
    g_assert_cmpuint(address, >=, fatbin->sh_addr);
    g_assert_cmpuint(address, <, fatbin->sh_addr + fatbin->sh_size);
    at = fatbin->sh_offset + (address - fatbin->sh_addr);
    {
        struct cudart_fatbin_header h;

        memcpy(&h, elf + at, sizeof(h));
        g_assert_cmphex(h.magic, ==, CUDART_FATBIN_MAGIC);
        g_assert_cmpuint(at + h.header_size + h.fat_size, <=, fatbin->sh_offset + fatbin->sh_size);
        image = g_bytes_new(elf + at, h.header_size + h.fat_size);
    }
    g_free(elf);
    return image;
}

/* What the host loaded is the fat binary nvcc put in the app, byte for byte. */
static void test_fatbin_from_nvcc(void)
{
    GBytes *expected = nvcc_fat_binary(CUDART_TEST_APP), *image;
    float *x;
    GArray *log;

    world_start(WITH_HOST);
    app_load();
    g_assert_cmpuint(host_stats().modules, ==, 0);     /* nothing loads before it is used */
    x = device_malloc(64);
    g_assert_cmpint(app.scale_by_constant(x, 16), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    image = fake_cuda_module_image(host, 0);
    g_assert_nonnull(image);
    g_assert_null(fake_cuda_module_image(host, 1));
    g_assert_cmpuint(g_bytes_get_size(image), >, 16);
    g_assert_cmpmem(g_bytes_get_data(image, NULL), g_bytes_get_size(image),
                    g_bytes_get_data(expected, NULL), g_bytes_get_size(expected));
    log = records();
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MODULE_LOAD, 0)->words[1], ==,
                     g_bytes_get_size(image));
    g_assert_true(in_staging(record_of(log, VGPU_CUDA_MODULE_LOAD, 0)->words[0]));
    /* A second kernel of the same module: no second load. */
    g_assert_cmpint(app.empty(1, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_MODULE_LOAD], ==, 1);
    g_array_unref(log);
    g_bytes_unref(image);
    g_bytes_unref(expected);
    world_end();
}

/* ---- errors, versions, exports, unsupported calls ---- */

static void test_error_names(void)
{
    gchar *header = g_build_filename(CUDA_HOME, "include", "driver_types.h", NULL), *text, *p;
    GError *error = NULL;
    GRegex *re = g_regex_new("^\\s+(cuda(?:Success|Error\\w+))\\s*=\\s*(\\d+)\\s*,?", G_REGEX_MULTILINE,
                             0, &error);
    GMatchInfo *match;
    guint count = 0;

    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(header, &text, NULL, &error));
    g_assert_no_error(error);
    /* The enum cudaError only: from its opening to its closing brace. */
    p = strstr(text, "enum __device_builtin__ cudaError\n");
    g_assert_nonnull(p);
    *strstr(p, "\n};") = '\0';
    g_regex_match(re, p, 0, &match);
    while (g_match_info_matches(match)) {
        gchar *name = g_match_info_fetch(match, 1), *number = g_match_info_fetch(match, 2);
        cudaError_t e = (cudaError_t)g_ascii_strtoll(number, NULL, 10);

        g_assert_cmpstr(cudaGetErrorName(e), ==, name);
        g_assert_cmpstr(cudaGetErrorString(e), !=, "unrecognized error code");
        g_assert_cmpuint(strlen(cudaGetErrorString(e)), >, 5);
        count++;
        g_free(name);
        g_free(number);
        g_match_info_next(match, NULL);
    }
    g_assert_cmpuint(count, >=, 130);
    g_assert_cmpstr(cudaGetErrorName((cudaError_t)12345), ==, "unrecognized error code");
    g_assert_cmpstr(cudaGetErrorString((cudaError_t)12345), ==, "unrecognized error code");
    g_assert_cmpstr(cudaGetErrorString(cudaErrorNoDevice), ==, "no CUDA-capable device is detected");
    g_match_info_free(match);
    g_regex_unref(re);
    g_free(text);
    g_free(header);
}

static void test_versions(void)
{
    int v = 0;

    world_start(WITH_HOST);
    g_assert_cmpint(cudaRuntimeGetVersion(&v), ==, cudaSuccess);
    g_assert_cmpint(v, ==, 13000);
    g_assert_cmpint(cudaDriverGetVersion(&v), ==, cudaSuccess);
    g_assert_cmpint(v, ==, 13000);
    g_assert_cmpint(cudaRuntimeGetVersion(NULL), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaProfilerStart(), ==, cudaSuccess);
    g_assert_cmpint(cudaProfilerStop(), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, 0);
    world_end();
}

/* The versioned names `nm -D --defined-only` lists for a library, as a set. */
static GHashTable *exported(const char *library)
{
    const char *argv[] = { "nm", "-D", "--defined-only", library, NULL };
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GError *error = NULL;
    gchar *out, **lines;
    int status;

    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                               NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        gchar **fields = g_strsplit(lines[i], " ", -1);

        if (g_strv_length(fields) == 3 && strcmp(fields[1], "A") != 0) {
            g_hash_table_add(names, g_strdup(fields[2]));
        }
        g_strfreev(fields);
    }
    g_strfreev(lines);
    g_free(out);
    return names;
}

/* The names of a that b lacks, space-separated ("" for none). */
static gchar *missing_from(GHashTable *a, GHashTable *b)
{
    GString *missing = g_string_new("");
    GHashTableIter iter;
    gpointer name;

    g_hash_table_iter_init(&iter, a);
    while (g_hash_table_iter_next(&iter, &name, NULL)) {
        if (!g_hash_table_contains(b, name)) {
            g_string_append_printf(missing, " %s", (const char *)name);
        }
    }
    return g_string_free(missing, FALSE);
}

/* Every name NVIDIA's libcudart.so.13 exports, at its version: ours too, and no other. */
static void test_exports(void)
{
    gchar *nvidia_path = g_build_filename(CUDA_HOME, "lib64", "libcudart.so.13", NULL);
    GHashTable *ours, *theirs;
    gchar *lacking, *extra;

    if (!g_file_test(nvidia_path, G_FILE_TEST_EXISTS)) {
        g_test_skip("no NVIDIA libcudart.so.13 in the toolkit to compare with");
        g_free(nvidia_path);
        return;
    }
    ours = exported(CUDART_BUILD "/libcudart.so.13");
    theirs = exported(nvidia_path);
    g_assert_cmpuint(g_hash_table_size(ours), >, 400);
    g_assert_true(g_hash_table_contains(ours, "cudaMalloc@@libcudart.so.13"));
    g_assert_true(g_hash_table_contains(ours, "__cudaLaunchKernel@@libcudart.so.13"));
    lacking = missing_from(theirs, ours);
    extra = missing_from(ours, theirs);
    g_assert_cmpstr(lacking, ==, "");
    g_assert_cmpstr(extra, ==, "");
    g_free(lacking);
    g_free(extra);
    g_hash_table_unref(ours);
    g_hash_table_unref(theirs);
    g_free(nvidia_path);
}

static void test_unsupported(void)
{
    int (*graph_create)(void **graph, unsigned flags);
    void *graph = NULL;

    world_start(WITH_HOST);
    *(void **)&graph_create = dlsym(RTLD_DEFAULT, "cudaGraphCreate");
    g_assert_nonnull(graph_create);
    g_assert_cmpint(graph_create(&graph, 0), ==, cudaErrorNotSupported);
    g_assert_cmpint(graph_create(&graph, 0), ==, cudaErrorNotSupported);
    g_assert_null(graph);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorNotSupported);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, 0);
    world_end();
}

static void on_crash(int sig)
{
    static const char said[] = "crashed by a signal\n";

    (void)sig;
    g_assert_cmpint(write(STDERR_FILENO, said, sizeof(said) - 1), >, 0);
    _exit(99);
}

/* A __managed__ variable: said at registration, every call fails, and the
 * first read of it ends the program (exit 1) instead of a null pointer's. */
static void test_managed_refused(void)
{
    int (*managed_read)(void);
    void *so, *p;

    signal(SIGSEGV, on_crash);
    world_start(WITH_HOST);
    atexit(world_end);          /* the library ends the process */
    so = dlopen(CUDART_TEST_MANAGED, RTLD_NOW | RTLD_LOCAL);
    g_assert_nonnull(so);
    g_assert_cmpint(cudaMalloc(&p, 64), ==, cudaErrorNotSupported);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorNotSupported);
    g_assert_cmpuint(requests(), ==, 0);
    *(void **)&managed_read = dlsym(so, "managed_read");
    g_assert_nonnull(managed_read);
    managed_read();
    g_assert_not_reached();
}

/* ---- no device ---- */

static void test_pool_without_gpu(void)
{
    int count = 7;
    void *p;

    world_start(NO_HOST);
    g_assert_cmpint(cudaGetDeviceCount(&count), ==, cudaErrorNoDevice);
    g_assert_cmpint(count, ==, 0);
    g_assert_cmpuint(requests(), ==, 1);
    /* Not sticky: reported once, and the next call asks again. */
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorNoDevice);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    g_assert_cmpint(cudaMalloc(&p, 256), ==, cudaErrorNoDevice);
    g_assert_cmpuint(requests(), ==, 2);
    g_assert_cmpint(cudaSetDevice(0), ==, cudaErrorNoDevice);
    world_end();
}

static void test_no_vgpu_device(void)
{
    int count = 7;

    world_start(NO_VGPU);
    g_assert_cmpint(cudaGetDeviceCount(&count), ==, cudaErrorNoDevice);
    g_assert_cmpint(count, ==, 0);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaErrorNoDevice);
    world_end();
}

static void test_no_window(void)
{
    int count = 7;

    world_start(NO_WINDOW);
    g_assert_cmpint(cudaGetDeviceCount(&count), ==, cudaErrorNoDevice);
    g_assert_cmpuint(requests(), ==, 0);
    world_end();
}

static void test_host_runs_nothing_yet(void)
{
    void *p;

    world_start(WITH_HOST);
    fake_cuda_set_answer(host, cudaErrorNotSupported);
    g_assert_cmpint(cudaMalloc(&p, 256), ==, cudaErrorNotSupported);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorNotSupported);
    world_end();
}

/* ---- devices ---- */

static void test_first_batch(void)
{
    int count = 0;
    GArray *log;

    world_start(WITH_HOST);
    g_assert_cmpint(cudaGetDeviceCount(&count), ==, cudaSuccess);
    g_assert_cmpint(count, ==, 1);
    g_assert_cmpuint(requests(), ==, 1);
    /* One batch: the reset of what an earlier program left, then the call. */
    log = records();
    g_assert_cmpuint(log->len, ==, 2);
    g_assert_cmpuint(g_array_index(log, FakeCudaRecord, 0).call, ==, VGPU_CUDA_DEVICE_RESET);
    g_assert_cmpuint(g_array_index(log, FakeCudaRecord, 1).call, ==, VGPU_CUDA_DEVICE_COUNT);
    g_assert_cmpint(cudaGetDeviceCount(&count), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, 1);            /* known: not asked again */
    g_array_unref(log);
    world_end();
}

static void test_properties(void)
{
    struct cudaDeviceProp p;
    unsigned flags = 99;
    int value = 0, device = 7;
    size_t free_bytes = 0, total = 0;
    GArray *log;

    world_start(WITH_HOST);
    g_assert_cmpint(cudaGetDeviceProperties(&p, 0), ==, cudaSuccess);
    g_assert_cmpstr(p.name, ==, "vgpu-stub test GPU");
    g_assert_cmpuint(p.totalGlobalMem, ==, FAKE_CUDA_MEMORY);
    g_assert_cmpint(p.major, ==, 9);
    g_assert_cmpint(p.minor, ==, 0);
    g_assert_cmpint(p.multiProcessorCount, ==, 132);
    g_assert_cmpint(p.warpSize, ==, 32);
    g_assert_cmpint(p.maxThreadsPerBlock, ==, 1024);
    g_assert_cmpint(p.maxThreadsDim[2], ==, 64);
    g_assert_cmpint(p.maxGridSize[0], ==, 0x7fffffff);
    g_assert_cmpuint(p.sharedMemPerBlockOptin, ==, 227 << 10);
    g_assert_cmpint(p.l2CacheSize, ==, 50 << 20);
    g_assert_cmpint(p.pciBusID, ==, 0x1b);
    g_assert_cmpint(p.canMapHostMemory, ==, 0);
    log = records();
    g_assert_cmpuint(record_of(log, VGPU_CUDA_DEVICE_PROPERTIES, 0)->words[1], ==,
                     sizeof(struct vgpu_cuda_device));
    g_assert_true(in_staging(record_of(log, VGPU_CUDA_DEVICE_PROPERTIES, 0)->words[0]));
    g_array_unref(log);

    g_assert_cmpint(cudaDeviceGetAttribute(&value, cudaDevAttrComputeCapabilityMajor, 0), ==, 0);
    g_assert_cmpint(value, ==, 9);
    g_assert_cmpint(cudaDeviceGetAttribute(&value, cudaDevAttrClockRate, 0), ==, 0);
    g_assert_cmpint(value, ==, 1980000);
    g_assert_cmpint(cudaDeviceGetAttribute(&value, cudaDevAttrMaxTexture1DWidth, 0), ==,
                    cudaErrorNotSupported);
    g_assert_cmpint(cudaDeviceGetAttribute(&value, cudaDevAttrWarpSize, 1), ==,
                    cudaErrorInvalidDevice);
    g_assert_cmpint(cudaGetDeviceProperties(&p, 1), ==, cudaErrorInvalidDevice);
    g_assert_cmpint(cudaSetDevice(1), ==, cudaErrorInvalidDevice);
    g_assert_cmpint(cudaSetDevice(-1), ==, cudaErrorInvalidDevice);
    g_assert_cmpint(cudaSetDevice(0), ==, cudaSuccess);
    g_assert_cmpint(cudaGetDevice(&device), ==, cudaSuccess);
    g_assert_cmpint(device, ==, 0);
    g_assert_cmpint(cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync), ==, cudaSuccess);
    g_assert_cmpint(cudaGetDeviceFlags(&flags), ==, cudaSuccess);
    g_assert_cmpuint(flags, ==, cudaDeviceScheduleBlockingSync);
    g_assert_cmpint(cudaSetDeviceFlags(0x1000), ==, cudaErrorInvalidValue);

    g_assert_cmpint(cudaMemGetInfo(&free_bytes, &total), ==, cudaSuccess);
    g_assert_cmpuint(total, ==, FAKE_CUDA_MEMORY);
    g_assert_cmpuint(free_bytes, ==, FAKE_CUDA_MEMORY);
    device_malloc(1 << 20);
    g_assert_cmpint(cudaMemGetInfo(&free_bytes, &total), ==, cudaSuccess);
    g_assert_cmpuint(free_bytes, ==, FAKE_CUDA_MEMORY - (1 << 20));
    world_end();
}

/* ---- memory ---- */

/* Every direction, ordinary memory, sizes past the staging area. */
static void test_copies(void)
{
    const size_t big = 5 << 20;     /* 2.5 times the staging area */
    guint8 *in = g_malloc(big), *out = g_malloc(big), *expect = g_malloc(big);
    guint8 *a, *b;
    GArray *log;
    guint before;

    world_start(WITH_HOST);
    fill(in, big, 1);
    a = device_malloc(big);
    b = device_malloc(big);
    log = records();
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MALLOC, 0)->words[0], ==, big);
    g_array_unref(log);

    /* A small copy to the device is batched: the call returns at once. */
    before = requests();
    g_assert_cmpint(cudaMemcpy(a, in, 4096, cudaMemcpyHostToDevice), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before);

    g_assert_cmpint(cudaMemcpy(a, in, big, cudaMemcpyHostToDevice), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(b, a, big, cudaMemcpyDeviceToDevice), ==, cudaSuccess);
    g_assert_cmpint(cudaMemset(b + 1000, 0xab, 3000), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(out, b, big, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    memcpy(expect, in, big);
    memset(expect + 1000, 0xab, 3000);
    g_assert_cmpmem(out, big, expect, big);
    g_assert_true(fake_cuda_read(host, (guintptr)a + big - 4096, out, 4096));
    g_assert_cmpmem(out, 4096, in + big - 4096, 4096);

    log = records();
    /* in pieces of a quarter of the 2 MiB staging area, 10 each way */
    g_assert_cmpuint(count_of(log, VGPU_CUDA_MEMCPY_HTOD), ==, 1 + 10);
    g_assert_cmpuint(count_of(log, VGPU_CUDA_MEMCPY_DTOH), ==, 10);
    for (guint i = 0; i < 10; i++) {
        g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMCPY_HTOD, 1 + i)->words[2], ==, 512 << 10);
        g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMCPY_DTOH, i)->words[2], ==, 512 << 10);
        g_assert_true(in_staging(record_of(log, VGPU_CUDA_MEMCPY_HTOD, 1 + i)->words[1]));
        g_assert_true(in_staging(record_of(log, VGPU_CUDA_MEMCPY_DTOH, i)->words[0]));
    }
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMCPY_DTOD, 0)->words[0], ==, (guintptr)b);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMCPY_DTOD, 0)->words[1], ==, (guintptr)a);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMCPY_DTOD, 0)->words[2], ==, big);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMSET, 0)->words[0], ==, (guintptr)b + 1000);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMSET, 0)->words[1], ==, 0xab);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_MEMSET, 0)->words[2], ==, 3000);
    /* Staging was reused only after the device finished with it. */
    g_assert_cmpuint(count_of(log, VGPU_CUDA_DEVICE_SYNCHRONIZE), >=, 1);
    g_array_unref(log);

    /* cudaMemcpyDefault tells the sides apart; a host-to-host copy stays here. */
    memset(out, 0, big);
    g_assert_cmpint(cudaMemcpy(a, expect, 8192, cudaMemcpyDefault), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(out, a, 8192, cudaMemcpyDefault), ==, cudaSuccess);
    g_assert_cmpmem(out, 8192, expect, 8192);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    before = host_stats().records;      /* nothing pending: nothing to wait for */
    g_assert_cmpint(cudaMemcpy(out, in, 100, cudaMemcpyHostToHost), ==, cudaSuccess);
    g_assert_cmpmem(out, 100, in, 100);
    g_assert_cmpuint(host_stats().records, ==, before);
    g_assert_cmpint(cudaFree(a), ==, cudaSuccess);
    g_assert_cmpint(cudaFree(b), ==, cudaSuccess);
    g_assert_cmpint(cudaFree(NULL), ==, cudaSuccess);
    g_assert_cmpuint(host_stats().allocations, ==, 0);
    g_free(in);
    g_free(out);
    g_free(expect);
    world_end();
}

static void test_pinned(void)
{
    guint8 *h, *h2, *again, *window, src[4096], *ordinary = g_malloc(4096);
    void *huge, *mapped;
    GArray *log;
    guint64 offset;
    guint8 *d;
    guint before;

    world_start(WITH_HOST);
    window = fake_device_window(dev);
    g_assert_cmpint(cudaMallocHost((void **)&h, 4096), ==, cudaSuccess);
    g_assert_cmpint(cudaHostAlloc((void **)&h2, 4096, cudaHostAllocMapped), ==, cudaSuccess);
    d = device_malloc(4096);
    fill(h, 4096, 2);
    memcpy(src, h, 4096);
    g_assert_cmpint(cudaMemcpy(d, h, 4096, cudaMemcpyHostToDevice), ==, cudaSuccess);
    /* The host copied from the pinned buffer in place: it is window memory. */
    log = records();
    offset = record_of(log, VGPU_CUDA_MEMCPY_HTOD, 0)->words[1];
    g_assert_true(in_heap(offset));
    g_assert_cmpmem(window + offset, 4096, src, 4096);
    h[0] ^= 0xff;
    g_assert_cmpuint(window[offset], ==, h[0]);
    /* cudaMemcpy from pinned memory waits for the copy. */
    g_assert_cmpuint(record_of(log, VGPU_CUDA_STREAM_SYNCHRONIZE, 0)->words[0], ==, 0);
    g_array_unref(log);

    /* Async into pinned memory: appended, there once the stream is synchronized. */
    before = requests();
    g_assert_cmpint(cudaMemcpyAsync(h2, d, 4096, cudaMemcpyDeviceToHost, NULL), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before);
    g_assert_cmpint(cudaStreamSynchronize(NULL), ==, cudaSuccess);
    g_assert_cmpmem(h2, 4096, src, 4096);
    log = records();
    g_assert_true(in_heap(record_of(log, VGPU_CUDA_MEMCPY_DTOH, 0)->words[0]));
    g_array_unref(log);
    /* cudaMemcpy into pinned memory: there when the call returns. */
    memset(h2, 0, 4096);
    g_assert_cmpint(cudaMemcpy(h2, d, 4096, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    g_assert_cmpmem(h2, 4096, src, 4096);

    /* cudaFreeHost waits for the copies that may still use the memory. */
    g_assert_cmpint(cudaMemcpyAsync(h2, d, 4096, cudaMemcpyDeviceToHost, NULL), ==, cudaSuccess);
    before = requests();
    g_assert_cmpint(cudaFreeHost(h2), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 1);
    log = records();
    g_assert_cmpuint(g_array_index(log, FakeCudaRecord, log->len - 1).call, ==,
                     VGPU_CUDA_DEVICE_SYNCHRONIZE);
    g_array_unref(log);

    g_assert_cmpint(cudaHostAlloc(&mapped, 64, 0x80), ==, cudaErrorInvalidValue);
    before = requests();
    g_assert_cmpint(cudaMallocHost(&huge, WINDOW_SIZE), ==, cudaErrorMemoryAllocation);
    g_assert_cmpuint(requests(), ==, before);
    g_assert_cmpint(cudaFreeHost(ordinary), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaFreeHost(h + 1), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaFreeHost(h), ==, cudaSuccess);
    g_assert_cmpint(cudaFreeHost(h), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMallocHost((void **)&again, 100), ==, cudaSuccess);
    g_assert_true(again == h);      /* the freed block is used again */
    g_free(ordinary);
    world_end();
}

static void test_host_register(void)
{
    guint8 *buf = g_malloc(65536), *out = g_malloc(65536), *pinned;
    guint8 *d;
    GArray *log;

    world_start(WITH_HOST);
    d = device_malloc(65536);
    fill(buf, 65536, 3);
    g_assert_cmpint(cudaHostRegister(buf, 65536, cudaHostRegisterDefault), ==, cudaSuccess);
    g_assert_cmpint(cudaHostRegister(buf + 100, 10, 0), ==, cudaErrorHostMemoryAlreadyRegistered);
    g_assert_cmpint(cudaHostRegister(buf, 65536, cudaHostRegisterIoMemory), ==,
                    cudaErrorNotSupported);
    g_assert_cmpint(cudaMemcpyAsync(d, buf, 65536, cudaMemcpyHostToDevice, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(out, d, 65536, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    g_assert_cmpmem(out, 65536, buf, 65536);
    log = records();
    g_assert_true(in_staging(record_of(log, VGPU_CUDA_MEMCPY_HTOD, 0)->words[1]));
    g_array_unref(log);
    g_assert_cmpint(cudaHostUnregister(buf), ==, cudaSuccess);
    g_assert_cmpint(cudaHostUnregister(buf), ==, cudaErrorHostMemoryNotRegistered);
    g_assert_cmpint(cudaMallocHost((void **)&pinned, 256), ==, cudaSuccess);
    g_assert_cmpint(cudaHostRegister(pinned, 256, 0), ==, cudaErrorHostMemoryAlreadyRegistered);
    g_free(buf);
    g_free(out);
    world_end();
}

/* Each of these is refused in the guest: nothing reaches the host. */
static void test_refusals(void)
{
    guint8 buf[64] = { 0 }, *d;
    void *foreign = (void *)(guintptr)0x1234000;
    cudaStream_t bad_stream = (cudaStream_t)(guintptr)0xdead0;
    cudaEvent_t bad_event = (cudaEvent_t)(guintptr)0xbeef0, event;
    cudaStream_t stream;
    static int not_a_symbol;
    void *args[4] = { buf, buf, buf, buf };
    dim3 one = { 1, 1, 1 };
    float ms;
    guint before;

    world_start(WITH_HOST);
    app_load();
    d = device_malloc(64);
    before = requests();
    g_assert_cmpint(cudaMemcpy(foreign, buf, 8, cudaMemcpyHostToDevice), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(d + 60, buf, 8, cudaMemcpyHostToDevice), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(buf, foreign, 8, cudaMemcpyDeviceToHost), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(d, foreign, 8, cudaMemcpyDeviceToDevice), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(buf, d, 8, cudaMemcpyHostToHost), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(d, buf, 8, (enum cudaMemcpyKind)7), ==,
                    cudaErrorInvalidMemcpyDirection);
    g_assert_cmpint(cudaMemset(foreign, 0, 8), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemset(d, 0, 65), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaFree(foreign), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaFree(d + 4), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpyAsync(d, buf, 8, cudaMemcpyHostToDevice, bad_stream), ==,
                    cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamSynchronize(bad_stream), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamDestroy(bad_stream), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamDestroy(NULL), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaEventRecord(bad_event, NULL), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaEventElapsedTime(&ms, bad_event, bad_event), ==,
                    cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamWaitEvent(NULL, bad_event, 0), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamCreateWithFlags(&stream, 4), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaEventCreateWithFlags(&event, 64), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaEventCreateWithFlags(&event, cudaEventInterprocess), ==,
                    cudaErrorNotSupported);
    /* A launch of something that is not a registered kernel. */
    g_assert_cmpint(cudaLaunchKernel((const void *)test_refusals, one, one, args, 0, NULL), ==,
                    cudaErrorInvalidDeviceFunction);
    g_assert_cmpint(__cudaLaunchKernel((cudaKernel_t)buf, one, one, args, 0, NULL), ==,
                    cudaErrorInvalidDeviceFunction);
    g_assert_cmpint(app.vector_add((float *)d, (float *)d, (float *)d, 4, bad_stream), ==,
                    cudaErrorInvalidResourceHandle);
    g_assert_cmpint(app.empty_config(0, 1, 1, 1, 1, 1, 0, NULL), ==, cudaErrorInvalidConfiguration);
    g_assert_cmpint(app.empty_config(1, 1, 1, 1, 0, 1, 0, NULL), ==, cudaErrorInvalidConfiguration);
    g_assert_cmpint(cudaMemcpyToSymbol(&not_a_symbol, buf, 4, 0, cudaMemcpyHostToDevice), ==,
                    cudaErrorInvalidSymbol);
    g_assert_cmpuint(requests(), ==, before);
    world_end();
}

/* ---- launches ---- */

static void test_launch(void)
{
    const int n = 1000;
    float *a = g_new(float, n), *b = g_new(float, n), *c = g_new(float, n);
    float *da, *db, *dc;
    const FakeCudaRecord *r;
    void *args[4];
    dim3 grid = { 4, 1, 1 }, block = { 256, 1, 1 };
    GArray *log;
    gint32 packed_n;
    guint64 word;

    world_start(WITH_HOST);
    app_load();
    for (int i = 0; i < n; i++) {
        a[i] = (float)i * 0.25f;
        b[i] = (float)(n - i);
    }
    da = device_malloc(4 * n);
    db = device_malloc(4 * n);
    dc = device_malloc(4 * n);
    g_assert_cmpint(cudaMemcpy(da, a, 4 * n, cudaMemcpyHostToDevice), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(db, b, 4 * n, cudaMemcpyHostToDevice), ==, cudaSuccess);
    g_assert_cmpint(app.vector_add(da, db, dc, n, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(c, dc, 4 * n, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    for (int i = 0; i < n; i++) {
        g_assert_cmpfloat(c[i], ==, a[i] + b[i]);
    }

    log = records();
    r = record_of(log, VGPU_CUDA_FUNCTION_GET, 0);
    g_assert_cmpuint(r->tail_len, >=, sizeof("_Z10vector_addPKfS0_Pfi"));
    g_assert_cmpstr((const char *)r->tail, ==, "_Z10vector_addPKfS0_Pfi");
    g_assert_cmpuint(record_of(log, VGPU_CUDA_FUNCTION_PARAMS, 0)->words[2], ==, 4 * 8);
    r = record_of(log, VGPU_CUDA_LAUNCH, 0);
    g_assert_cmpuint(r->words[1], ==, 4 | 1ull << 32);         /* grid x, y */
    g_assert_cmpuint(r->words[2], ==, 1 | 256ull << 32);       /* grid z, block x */
    g_assert_cmpuint(r->words[3], ==, 1 | 1ull << 32);         /* block y, z */
    g_assert_cmpuint(r->words[4], ==, 0);
    g_assert_cmpuint(r->words[5], ==, 0);
    /* Packed at the host's offsets (16-byte slots), not the natural ones. */
    g_assert_cmpuint(r->tail_len, >=, 52);
    memcpy(&word, r->tail + 16, 8);
    g_assert_cmpuint(word, ==, (guintptr)db);
    memcpy(&packed_n, r->tail + 48, 4);
    g_assert_cmpint(packed_n, ==, n);
    g_array_unref(log);

    /* cudaLaunchKernel by the stub's address: the same kernel, nothing looked up again. */
    memset(c, 0, 4 * n);
    g_assert_cmpint(cudaMemset(dc, 0, 4 * n), ==, cudaSuccess);
    args[0] = &da;
    args[1] = &db;
    args[2] = &dc;
    args[3] = (void *)&n;
    g_assert_cmpint(cudaLaunchKernel(app.kernel_vector_add(), grid, block, args, 0, NULL), ==,
                    cudaSuccess);
    g_assert_cmpint(cudaMemcpy(c, dc, 4 * n, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    g_assert_cmpfloat(c[n - 1], ==, a[n - 1] + b[n - 1]);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_FUNCTION_GET], ==, 1);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_FUNCTION_PARAMS], ==, 1);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_LAUNCH], ==, 2);
    g_free(a);
    g_free(b);
    g_free(c);
    world_end();
}

static void test_launch_configuration(void)
{
    cudaStream_t stream;
    const FakeCudaRecord *r;
    GArray *log;

    world_start(WITH_HOST);
    app_load();
    g_assert_cmpint(cudaStreamCreate(&stream), ==, cudaSuccess);
    g_assert_cmpint(app.empty_config(3, 2, 1, 32, 4, 2, 128, stream), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamSynchronize(stream), ==, cudaSuccess);
    log = records();
    r = record_of(log, VGPU_CUDA_LAUNCH, 0);
    g_assert_cmpuint(r->words[1], ==, 3 | 2ull << 32);
    g_assert_cmpuint(r->words[2], ==, 1 | 32ull << 32);
    g_assert_cmpuint(r->words[3], ==, 4 | 2ull << 32);
    g_assert_cmpuint(r->words[4], ==, 128);
    g_assert_cmpuint(r->words[5], ==, (guintptr)stream);
    g_assert_cmpuint(r->tail_len, ==, 0);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_STREAM_SYNCHRONIZE, 0)->words[0], ==,
                     (guintptr)stream);
    g_array_unref(log);
    world_end();
}

/* A kernel the host does not have: the launch fails, as the program sees it. */
static void test_launch_unknown_to_host(void)
{
    world_start(WITH_HOST);
    app_load();
    g_assert_cmpint(app.unknown_to_host(), ==, cudaErrorInvalidDeviceFunction);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    world_end();
}

/* ---- batching ---- */

static void test_batching(void)
{
    cudaEvent_t event;
    guint8 *d;
    guint before;

    world_start(WITH_HOST);
    app_load();
    d = device_malloc(4096);
    g_assert_cmpint(cudaEventCreate(&event), ==, cudaSuccess);
    g_assert_cmpint(app.empty(1, NULL), ==, cudaSuccess);       /* looks the kernel up */
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);

    before = requests();
    g_assert_cmpint(app.empty(10000, NULL), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 1);
    g_assert_cmpuint(host_stats().last_batch_records, ==, 10001);

    /* Async copies, memsets, event records and waits: appended too. */
    before = requests();
    g_assert_cmpint(cudaMemsetAsync(d, 1, 4096, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpyAsync(d + 2048, d, 1024, cudaMemcpyDeviceToDevice, NULL), ==, 0);
    g_assert_cmpint(cudaEventRecord(event, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamWaitEvent(NULL, event, 0), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamDestroy(NULL), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpuint(requests(), ==, before);
    g_assert_cmpint(cudaEventSynchronize(event), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 1);
    g_assert_cmpuint(host_stats().last_batch_records, ==, 5);

    /* More launches than a batch holds (80 bytes each): sent as it fills, none lost. */
    before = requests();
    g_assert_cmpint(app.empty(20000, NULL), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 1);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 2);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_LAUNCH], ==, 1 + 10000 + 20000);

    /* A wait the host leaves running goes again, alone with what follows
     * it: the launches before it ran once, the call gets its own answer. */
    before = requests();
    g_assert_cmpint(app.empty(5, NULL), ==, cudaSuccess);
    fake_cuda_wait_rounds(host, 3);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    g_assert_cmpuint(requests(), ==, before + 4);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_LAUNCH], ==, 1 + 10000 + 20000 + 5);
    g_assert_cmpuint(host_stats().last_batch_records, ==, 1);
    fake_cuda_wait_rounds(host, 2);
    g_assert_cmpint(cudaEventRecord(event, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaEventSynchronize(event), ==, cudaSuccess);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    world_end();
}

/* ---- variables ---- */

static void test_symbols(void)
{
    float x[16], factor = 2.5f, back = 0;
    unsigned counter = 99;
    size_t size = 0;
    void *address = NULL;
    float *dx;
    GArray *log;

    world_start(WITH_HOST);
    app_load();
    for (int i = 0; i < 16; i++) {
        x[i] = (float)i;
    }
    dx = device_malloc(sizeof(x));
    g_assert_cmpint(cudaMemcpy(dx, x, sizeof(x), cudaMemcpyHostToDevice), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpyToSymbol(app.symbol_scale(), &factor, 4, 0, cudaMemcpyHostToDevice),
                    ==, cudaSuccess);
    g_assert_cmpint(app.scale_by_constant(dx, 16), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(x, dx, sizeof(x), cudaMemcpyDeviceToHost), ==, cudaSuccess);
    for (int i = 0; i < 16; i++) {
        g_assert_cmpfloat(x[i], ==, (float)i * 2.5f);
    }
    g_assert_cmpint(cudaMemcpyFromSymbol(&counter, app.symbol_counter(), 4, 0,
                                         cudaMemcpyDeviceToHost), ==, cudaSuccess);
    g_assert_cmpuint(counter, ==, 1);
    g_assert_cmpint(app.scale_by_constant(dx, 16), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpyFromSymbolAsync(&counter, app.symbol_counter(), 4, 0,
                                              cudaMemcpyDeviceToHost, NULL), ==, cudaSuccess);
    g_assert_cmpuint(counter, ==, 2);
    log = records();
    g_assert_cmpstr((const char *)record_of(log, VGPU_CUDA_VARIABLE_GET, 0)->tail, ==, "scale");
    g_assert_cmpstr((const char *)record_of(log, VGPU_CUDA_VARIABLE_GET, 1)->tail, ==, "counter");
    g_assert_cmpuint(count_of(log, VGPU_CUDA_VARIABLE_GET), ==, 2);       /* once each */
    g_array_unref(log);

    g_assert_cmpint(cudaGetSymbolSize(&size, app.symbol_scale()), ==, cudaSuccess);
    g_assert_cmpuint(size, ==, 4);
    g_assert_cmpint(cudaGetSymbolAddress(&address, app.symbol_scale()), ==, cudaSuccess);
    g_assert_cmpint(cudaMemcpy(&back, address, 4, cudaMemcpyDeviceToHost), ==, cudaSuccess);
    g_assert_cmpfloat(back, ==, 2.5f);
    g_assert_cmpint(cudaMemcpyToSymbol(app.symbol_scale(), &factor, 4, 4, cudaMemcpyHostToDevice),
                    ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpyToSymbol(app.symbol_scale(), x, 8, 0, cudaMemcpyHostToDevice), ==,
                    cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpyToSymbol(app.symbol_scale(), x, 4, 0, cudaMemcpyDeviceToHost), ==,
                    cudaErrorInvalidMemcpyDirection);
    g_assert_cmpint(cudaFree(address), ==, cudaErrorInvalidValue);  /* not an allocation */
    world_end();
}

/* ---- errors from the host ---- */

/* A faulting kernel: its error sticks until cudaDeviceReset. */
static void test_sticky_error(void)
{
    void *p;
    guint before;

    world_start(WITH_HOST);
    app_load();
    p = device_malloc(64);
    g_assert_cmpint(app.out_of_bounds(p), ==, cudaSuccess);     /* appended, not run yet */
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaErrorIllegalAddress);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorIllegalAddress);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorIllegalAddress);
    g_assert_cmpint(cudaPeekAtLastError(), ==, cudaErrorIllegalAddress);
    before = requests();
    g_assert_cmpint(cudaMalloc(&p, 64), ==, cudaErrorIllegalAddress);
    g_assert_cmpint(cudaMemset(p, 0, 64), ==, cudaErrorIllegalAddress);
    g_assert_cmpuint(requests(), ==, before);
    g_assert_cmpint(cudaDeviceReset(), ==, cudaSuccess);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    g_assert_cmpuint(host_stats().allocations, ==, 0);
    p = device_malloc(64);
    /* The module is loaded again after the reset. */
    g_assert_cmpint(app.empty(1, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_MODULE_LOAD], ==, 2);

    /* A call that waits and meets a fault itself: the same. */
    fake_cuda_fail_next(host, VGPU_CUDA_STREAM_SYNCHRONIZE, cudaErrorLaunchFailure);
    g_assert_cmpint(cudaStreamSynchronize(NULL), ==, cudaErrorLaunchFailure);
    before = requests();
    g_assert_cmpint(cudaMalloc(&p, 64), ==, cudaErrorLaunchFailure);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorLaunchFailure);
    g_assert_cmpuint(requests(), ==, before);
    world_end();
}

/* A deferred call that fails: the next call that runs the batch reports it,
 * the calls after it in the batch never ran, and it does not stick. */
static void test_deferred_error(void)
{
    guint8 *d;
    GArray *log;

    world_start(WITH_HOST);
    d = device_malloc(4096);
    records();
    fake_cuda_fail_next(host, VGPU_CUDA_MEMCPY_DTOD, cudaErrorInvalidValue);
    g_assert_cmpint(cudaMemcpy(d, d + 2048, 1024, cudaMemcpyDeviceToDevice), ==, cudaSuccess);
    g_assert_cmpint(cudaMemsetAsync(d, 7, 16, NULL), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaErrorInvalidValue);
    log = records();
    g_assert_cmpuint(log->len, ==, 1);
    g_assert_cmpuint(g_array_index(log, FakeCudaRecord, 0).call, ==, VGPU_CUDA_MEMCPY_DTOD);
    g_assert_cmpuint(g_array_index(log, FakeCudaRecord, 0).result, ==, cudaErrorInvalidValue);
    g_array_unref(log);
    g_assert_cmpint(cudaGetLastError(), ==, cudaErrorInvalidValue);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    world_end();
}

/* ---- streams and events ---- */

static void test_streams_events(void)
{
    cudaStream_t stream;
    cudaEvent_t start, end, untimed;
    float ms = -1;
    GArray *log;
    const FakeCudaRecord *r;

    world_start(WITH_HOST);
    app_load();
    g_assert_cmpint(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), ==, cudaSuccess);
    g_assert_cmpint(cudaEventCreate(&start), ==, cudaSuccess);
    g_assert_cmpint(cudaEventCreateWithFlags(&end, cudaEventBlockingSync), ==, cudaSuccess);
    g_assert_cmpint(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming), ==, cudaSuccess);
    log = records();
    g_assert_cmpuint(record_of(log, VGPU_CUDA_STREAM_CREATE, 0)->words[0], ==,
                     cudaStreamNonBlocking);
    g_assert_cmpuint(record_of(log, VGPU_CUDA_EVENT_CREATE, 1)->words[0], ==,
                     cudaEventBlockingSync);
    g_array_unref(log);

    g_assert_cmpint(cudaEventRecord(start, stream), ==, cudaSuccess);
    g_assert_cmpint(app.empty(3, stream), ==, cudaSuccess);
    g_assert_cmpint(cudaEventRecord(end, stream), ==, cudaSuccess);
    g_assert_cmpint(cudaEventRecord(untimed, stream), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamWaitEvent(NULL, end, 0), ==, cudaSuccess);
    g_assert_cmpint(cudaEventSynchronize(end), ==, cudaSuccess);
    g_assert_cmpint(cudaEventElapsedTime(&ms, start, end), ==, cudaSuccess);
    g_assert_cmpfloat(ms, ==, 3.0f);        /* the fake's clock: 1 ms a launch */
    g_assert_cmpint(cudaEventElapsedTime(&ms, start, untimed), ==,
                    cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaEventQuery(end), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamQuery(stream), ==, cudaSuccess);
    log = records();
    r = record_of(log, VGPU_CUDA_EVENT_RECORD, 0);
    g_assert_cmpuint(r->words[0], ==, (guintptr)start);
    g_assert_cmpuint(r->words[1], ==, (guintptr)stream);
    r = record_of(log, VGPU_CUDA_STREAM_WAIT_EVENT, 0);
    g_assert_cmpuint(r->words[0], ==, 0);
    g_assert_cmpuint(r->words[1], ==, (guintptr)end);
    r = record_of(log, VGPU_CUDA_EVENT_ELAPSED, 0);
    g_assert_cmpuint(r->words[0], ==, (guintptr)start);
    g_assert_cmpuint(r->words[1], ==, (guintptr)end);
    g_array_unref(log);

    /* Not ready is an answer, not an error: the last error stays clear. */
    cudaGetLastError();
    fake_cuda_fail_next(host, VGPU_CUDA_STREAM_QUERY, cudaErrorNotReady);
    g_assert_cmpint(cudaStreamQuery(stream), ==, cudaErrorNotReady);
    g_assert_cmpint(cudaGetLastError(), ==, cudaSuccess);

    g_assert_cmpint(cudaEventDestroy(start), ==, cudaSuccess);
    g_assert_cmpint(cudaEventRecord(start, stream), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaStreamDestroy(stream), ==, cudaSuccess);
    g_assert_cmpint(cudaStreamSynchronize(stream), ==, cudaErrorInvalidResourceHandle);
    g_assert_cmpint(cudaDeviceSynchronize(), ==, cudaSuccess);
    log = records();
    g_assert_cmpuint(record_of(log, VGPU_CUDA_STREAM_DESTROY, 0)->words[0], ==, (guintptr)stream);
    g_array_unref(log);
    world_end();
}

/* ---- a real program ---- */

/* Run tests/cuda/vector-add on the library; its exit status, out and err. */
static int run_vector_add(const char *elements, gchar **out, gchar **err)
{
    gchar *program = g_build_filename(CUDA_TEST_PROGRAMS, "vector-add", NULL);
    const char *argv[] = { program, elements, NULL };
    gchar **env = g_environ_setenv(g_get_environ(), "LD_LIBRARY_PATH",
                                   CUDART_BUILD ":" CUDART_BUILD "/..", TRUE);
    GError *error = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, env, 0, NULL, NULL, out, err, &status,
                               &error));
    g_assert_no_error(error);
    g_strfreev(env);
    g_free(program);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_program(void)
{
    gchar *out, *err;

    world_start(WITH_HOST);
    g_assert_cmpint(run_vector_add("5000", &out, &err), ==, 0);
    g_assert_cmpstr(out, ==, "vector-add: 5000 elements on 1 device(s), check ok\n");
    g_assert_cmpstr(err, ==, "");
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_LAUNCH], ==, 1);
    g_assert_cmpuint(host_stats().calls[VGPU_CUDA_MODULE_LOAD], ==, 1);
    g_free(out);
    g_free(err);
    world_end();
}

/* The same program where the pool has no GPU: it fails, saying why. */
static void test_program_no_device(void)
{
    gchar *out, *err;

    world_start(NO_HOST);
    g_assert_cmpint(run_vector_add("5000", &out, &err), ==, 1);
    g_assert_cmpstr(out, ==, "");
    g_assert_nonnull(strstr(err, "libcudart (vgpu-stub): cudaGetDeviceCount: no CUDA device: "
                                 "the host answered cudaErrorNoDevice"));
    g_assert_nonnull(strstr(err, "vector-add: cudaGetDeviceCount: cudaErrorNoDevice: "
                                 "no CUDA-capable device is detected\n"));
    g_assert_cmpuint(requests(), ==, 1);
    g_free(out);
    g_free(err);
    world_end();
}

/* ---- each test in a process of its own ---- */

typedef struct {
    const char *path;
    void (*body)(void);
    const char *stderr_has;         /* a glob its stderr must match (NULL: any) */
    const char *stderr_lacks;       /* one it must not (NULL: none) */
    gboolean exits;                 /* the library ends the process (exit 1) */
} TestCase;

static void run_case(gconstpointer data)
{
    const TestCase *t = data;

    if (g_test_subprocess()) {
        t->body();
        return;
    }
    g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    if (t->exits) {
        g_test_trap_assert_failed();
        g_test_trap_assert_stderr_unmatched("*should not be reached*");
        g_test_trap_assert_stderr_unmatched("*crashed by a signal*");
    } else {
        g_test_trap_assert_passed();
    }
    if (t->stderr_has) {
        g_test_trap_assert_stderr(t->stderr_has);
    }
    if (t->stderr_lacks) {
        g_test_trap_assert_stderr_unmatched(t->stderr_lacks);
    }
}

static const TestCase cases[] = {
    { "/cudart/layout", test_layout, NULL, NULL, FALSE },
    { "/cudart/heap", test_heap, NULL, NULL, FALSE },
    { "/cudart/fatbin/wrapper", test_fatbin_wrapper, NULL, NULL, FALSE },
    { "/cudart/fatbin/from-nvcc-output", test_fatbin_from_nvcc, NULL, NULL, FALSE },
    { "/cudart/errors/every-name-and-string", test_error_names, NULL, NULL, FALSE },
    { "/cudart/versions-and-profiler", test_versions, NULL, NULL, FALSE },
    { "/cudart/exports-as-nvidia", test_exports, NULL, NULL, FALSE },
    { "/cudart/unsupported-call-says-so", test_unsupported,
      "*libcudart (vgpu-stub): cudaGraphCreate is not supported by this CUDA runtime "
      "(cudaErrorNotSupported)*",
      "*cudaGraphCreate is not supported*cudaGraphCreate is not supported*", FALSE },
    { "/cudart/managed-variable-refused", test_managed_refused,
      "*__cudaRegisterManagedVar: __managed__ variable managed_value is not supported*"
      "__cudaInitModule: the program uses __managed__ variables, which are not supported; "
      "exiting*", NULL, TRUE },
    { "/cudart/no-device/pool-without-gpu", test_pool_without_gpu,
      "*libcudart (vgpu-stub): cudaGetDeviceCount: no CUDA device: the host answered "
      "cudaErrorNoDevice (this VM's pool has no GPU)*",
      "*answered cudaErrorNoDevice*answered cudaErrorNoDevice*", FALSE },
    { "/cudart/no-device/no-vgpu-stub", test_no_vgpu_device,
      "*cudaGetDeviceCount: no CUDA device: no vgpu-stub device*", NULL, FALSE },
    { "/cudart/no-device/no-window", test_no_window,
      "*no CUDA device: the vgpu-stub device has no usable data window*", NULL, FALSE },
    { "/cudart/no-device/host-runs-nothing-yet", test_host_runs_nothing_yet,
      "*cudaMalloc: the host does not run CUDA calls for this VM yet (cudaErrorNotSupported)*",
      NULL, FALSE },
    { "/cudart/device/first-batch", test_first_batch, NULL, NULL, FALSE },
    { "/cudart/device/properties-attributes-flags-memory", test_properties,
      "*cudaDeviceGetAttribute: attribute 21 is not known to this runtime*", NULL, FALSE },
    { "/cudart/memory/copies-every-direction", test_copies, NULL, NULL, FALSE },
    { "/cudart/memory/pinned-in-the-window", test_pinned,
      "*cudaMallocHost: 8388608 bytes of pinned memory do not fit the data window's heap*",
      NULL, FALSE },
    { "/cudart/memory/host-register-staged", test_host_register,
      "*cudaHostRegisterIoMemory is not supported*", NULL, FALSE },
    { "/cudart/refused-before-sending", test_refusals, NULL, NULL, FALSE },
    { "/cudart/launch/packed-by-host-layout", test_launch, NULL, NULL, FALSE },
    { "/cudart/launch/configuration-words", test_launch_configuration, NULL, NULL, FALSE },
    { "/cudart/launch/unknown-to-host", test_launch_unknown_to_host, NULL, NULL, FALSE },
    { "/cudart/batching", test_batching, NULL, NULL, FALSE },
    { "/cudart/symbols", test_symbols, NULL, NULL, FALSE },
    { "/cudart/errors/sticky-until-reset", test_sticky_error, NULL, NULL, FALSE },
    { "/cudart/errors/deferred-not-sticky", test_deferred_error, NULL, NULL, FALSE },
    { "/cudart/streams-and-events", test_streams_events, NULL, NULL, FALSE },
    { "/cudart/program/vector-add", test_program, NULL, NULL, FALSE },
    { "/cudart/program/vector-add-without-gpu", test_program_no_device, NULL, NULL, FALSE },
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_add_data_func(cases[i].path, &cases[i], run_case);
    }
    return g_test_run();
}
