/*
 * The cuda plugin loads on any host, exports the backend ABI, and where the
 * host has no NVIDIA driver it says so from probe() and open() instead of
 * failing to load.  (On a GPU host `make gpu-test` runs the GPU checks.)
 */
#include <glib.h>
#include <gmodule.h>
#include <string.h>
#include <unistd.h>

#include "vgpu/backend.h"

static const struct vgpu_backend_ops *load_plugin(void)
{
    const char *path = VGPU_CUDA_PLUGIN_PATH;
    vgpu_backend_entry_fn entry;
    GModule *module;

    module = g_module_open(path, G_MODULE_BIND_LOCAL);
    if (!module) {
        g_error("loading %s: %s", path, g_module_error());
    }
    g_assert_true(g_module_symbol(module, VGPU_BACKEND_ENTRY_SYMBOL, (gpointer *)&entry));
    return entry();
}

static gboolean host_has_nvidia_driver(void)
{
    return access("/dev/nvidiactl", F_OK) == 0;
}

static void test_exports_the_abi(void)
{
    const struct vgpu_backend_ops *ops = load_plugin();

    g_assert_cmpuint(ops->abi_version, ==, VGPU_BACKEND_ABI_VERSION);
    g_assert_cmpstr(ops->name, ==, "cuda");
    g_assert_nonnull(ops->probe);
    g_assert_nonnull(ops->open);
    g_assert_nonnull(ops->execute);
    g_assert_nonnull(ops->recover);
    g_assert_nonnull(ops->close);
}

static void test_probe_tells_whether_gpus_exist(void)
{
    const struct vgpu_backend_ops *ops = load_plugin();
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    int count = ops->probe(err, sizeof(err));

    if (host_has_nvidia_driver()) {
        g_assert_cmpint(count, >=, 1);
    } else {
        g_assert_cmpint(count, ==, -1);
        g_assert_nonnull(strstr(err, "no usable CUDA driver or GPU"));
    }
}

static void test_open_without_gpu_fails_clearly(void)
{
    const struct vgpu_backend_ops *ops = load_plugin();
    struct vgpu_backend_unit_config config = { .index = host_has_nvidia_driver() ? 4096 : 0 };
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX] = "";

    g_assert_null(ops->open(&config, &info, err, sizeof(err)));
    g_assert_nonnull(strstr(err, "does not exist"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cuda-plugin/exports-the-abi", test_exports_the_abi);
    g_test_add_func("/cuda-plugin/probe-tells-whether-gpus-exist", test_probe_tells_whether_gpus_exist);
    g_test_add_func("/cuda-plugin/open-without-gpu-fails-clearly", test_open_without_gpu_fails_clearly);
    return g_test_run();
}
