/*
 * On a GPU host: the cuda plugin runs VECTOR_ADD on every GPU with the same
 * results as the CPU reference (edge values and random ones), and a GPU
 * fault (the fault-injection build's illegal store) ends that request in
 * BACKEND with CUDA's error string while the next request succeeds after
 * recover().  Run by `make gpu-test`.
 */
#include <glib.h>
#include <gmodule.h>
#include <string.h>

#include "vgpu/backend.h"

static const struct vgpu_backend_ops *load(const char *path)
{
    vgpu_backend_entry_fn entry;
    GModule *module = g_module_open(path, G_MODULE_BIND_LOCAL);

    if (!module) {
        g_error("loading %s: %s", path, g_module_error());
    }
    g_assert_true(g_module_symbol(module, VGPU_BACKEND_ENTRY_SYMBOL, (gpointer *)&entry));
    return entry();
}

static void *open_unit(const struct vgpu_backend_ops *ops, int index,
                       struct vgpu_backend_unit_info *info)
{
    struct vgpu_backend_unit_config config = { .index = index };
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *unit = ops->open(&config, info, err, sizeof(err));

    if (!unit) {
        g_error("opening GPU %d: %s", index, err);
    }
    return unit;
}

/* Run VECTOR_ADD a + b on the unit; returns the backend's error code. */
static uint32_t run_add(const struct vgpu_backend_ops *ops, void *unit, uint32_t a, uint32_t b,
                        uint32_t *sum, char *err, size_t err_size)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS];
    struct vgpu_request_view view;
    uint32_t count = 0, status;
    uint64_t exec_ns = 0;
    size_t len = vgpu_request_encode_vector_add(buf, sizeof(buf), a, b);

    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    status = ops->execute(unit, &(struct vgpu_backend_job){ .request = &view }, results, &count, &exec_ns, err, err_size);
    if (status == VGPU_OK) {
        g_assert_cmpuint(count, ==, VGPU_VECTOR_ADD_RESULTS);
        g_assert_cmpuint(exec_ns, >, 0);
        *sum = results[0];
    }
    return status;
}

static uint32_t reference_add(uint32_t a, uint32_t b)
{
    const struct vgpu_backend_ops *cpu = vgpu_backend_cpu();
    static void *cpu_unit;
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX];
    uint32_t sum = 0;

    if (!cpu_unit) {
        cpu_unit = open_unit(cpu, 0, &info);
    }
    g_assert_cmpuint(run_add(cpu, cpu_unit, a, b, &sum, err, sizeof(err)), ==, VGPU_OK);
    return sum;
}

static void test_vector_add_matches_cpu_on_every_gpu(void)
{
    const struct vgpu_backend_ops *ops = load(VGPU_CUDA_PLUGIN_PATH);
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    int count = ops->probe(err, sizeof(err));
    const uint32_t edges[][2] = {
        { 0, 0 }, { 0xffffffffu, 1 }, { 0xffffffffu, 0xffffffffu }, { 0x80000000u, 0x80000000u },
        { 1, 2 }, { 123456789u, 987654321u },
    };
    GRand *rand = g_rand_new_with_seed(7);

    g_assert_cmpint(count, >=, 1);
    for (int gpu = 0; gpu < count; gpu++) {
        struct vgpu_backend_unit_info info;
        void *unit = open_unit(ops, gpu, &info);

        g_test_message("GPU %d: %s, %.1f GiB, compute %d.%d", gpu, info.name,
                       info.memory_bytes / 1073741824.0, info.compute_major, info.compute_minor);
        g_assert_cmpuint(info.memory_bytes, >, 0);
        g_assert_cmpint(info.compute_major, >=, 7);
        for (size_t i = 0; i < G_N_ELEMENTS(edges); i++) {
            uint32_t sum = 0;

            g_assert_cmpuint(run_add(ops, unit, edges[i][0], edges[i][1], &sum, err, sizeof(err)),
                             ==, VGPU_OK);
            g_assert_cmpuint(sum, ==, reference_add(edges[i][0], edges[i][1]));
        }
        g_assert_cmpuint(reference_add(0xffffffffu, 1), ==, 0);   /* the wrap is real */
        for (int i = 0; i < 2000; i++) {
            uint32_t a = g_rand_int(rand), b = g_rand_int(rand), sum = 0;

            g_assert_cmpuint(run_add(ops, unit, a, b, &sum, err, sizeof(err)), ==, VGPU_OK);
            g_assert_cmpuint(sum, ==, reference_add(a, b));
        }
        ops->close(unit);
    }
    g_rand_free(rand);
}

static void test_gpu_fault_ends_in_backend_error_then_recovers(void)
{
    const struct vgpu_backend_ops *ops = load(VGPU_CUDA_FAULT_PLUGIN_PATH);
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *unit = open_unit(ops, 0, &info);
    uint32_t sum = 0;

    g_assert_cmpuint(run_add(ops, unit, 40, 2, &sum, err, sizeof(err)), ==, VGPU_OK);
    g_assert_cmpuint(sum, ==, 42);
    g_assert_cmpuint(run_add(ops, unit, 0xfa017u, 1, &sum, err, sizeof(err)),
                     ==, VGPU_ERR_BACKEND);
    g_test_message("fault: %s", err);
    g_assert_nonnull(strstr(err, "illegal"));
    if (!ops->recover(unit, err, sizeof(err))) {
        g_error("recover() failed: %s", err);
    }
    g_assert_cmpuint(run_add(ops, unit, 0xffffffffu, 3, &sum, err, sizeof(err)), ==, VGPU_OK);
    g_assert_cmpuint(sum, ==, 2);
    ops->close(unit);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cuda-backend/vector-add-matches-cpu-on-every-gpu",
                    test_vector_add_matches_cpu_on_every_gpu);
    g_test_add_func("/cuda-backend/gpu-fault-ends-in-backend-error-then-recovers",
                    test_gpu_fault_ends_in_backend_error_then_recovers);
    return g_test_run();
}
