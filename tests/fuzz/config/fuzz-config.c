/*
 * config_parse (mediator/config.c): mediator.conf, the text config_load
 * reads from the file (the daemon's --config and --check-config).
 *
 * Checked: a refusal is a CONFIG_ERROR whose message starts with the file's
 * name and leaves *cfg cleared; an accepted config holds 1..26 distinct
 * pools, each with a backend and its values in their documented ranges,
 * absolute paths, vm-queue-limit <= queue-limit, and config_pool finds
 * each pool.
 */
#include "fuzz-glib.h"
#include "config.h"
#include "vgpu/regs.h"

#define FUZZ_CONFIG_PATH "fuzz/mediator.conf"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_glib_init();
    return 0;
}

/*
 * Known, reported, not fixed here (mediator/config.c is being changed by its
 * owner): the line scan reads the text up to its first NUL byte, GKeyFile
 * reads all of it, so a group or key after a NUL loses its line (0) and its
 * errors name no line.  The input is tests/fuzz/config/corpus/known-nul-byte;
 * once config.c refuses a NUL byte, drop `has_nul`.
 */
static int has_nul;

static void check_pool(const struct config *cfg, const struct config_pool *pool)
{
    FUZZ_CHECK(pool->pool_id >= VGPU_POOL_FIRST && pool->pool_id <= VGPU_POOL_LAST);
    FUZZ_CHECK(config_pool(cfg, pool->pool_id) == pool);
    FUZZ_CHECK(pool->backend != NULL && pool->backend[0] != '\0' &&
               strlen(pool->backend) <= CONFIG_BACKEND_NAME_MAX);
    FUZZ_CHECK(pool->fallback == NULL || strcmp(pool->fallback, "cpu") == 0);
    FUZZ_CHECK(pool->workers >= 1 && pool->workers <= CONFIG_WORKERS_MAX);
    FUZZ_CHECK(pool->service_time_us <= CONFIG_SERVICE_TIME_US_MAX);
    FUZZ_CHECK(pool->gpu_count <= CONFIG_GPUS_MAX);
    FUZZ_CHECK(pool->gpu_count == 0 || strcmp(pool->backend, "cpu") != 0);
    for (unsigned i = 0; i < pool->gpu_count; i++) {
        FUZZ_CHECK(pool->gpus[i] >= 0 && pool->gpus[i] < (int)CONFIG_GPUS_MAX);
        for (unsigned j = 0; j < i; j++) {
            FUZZ_CHECK(pool->gpus[i] != pool->gpus[j]);
        }
    }
    FUZZ_CHECK(pool->line >= 1 || has_nul);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct config cleared;
    struct config cfg;
    GError *error = NULL;
    GLogLevelFlags level;
    char *names;

    has_nul = memchr(data, '\0', size) != NULL;
    if (!config_parse(&cfg, (const char *)data, size, FUZZ_CONFIG_PATH, &error)) {
        fuzz_check_error(error, CONFIG_ERROR, FUZZ_CONFIG_PATH);
        FUZZ_CHECK(memcmp(&cfg, &cleared, sizeof(cfg)) == 0);
        g_error_free(error);
        return 0;
    }
    FUZZ_CHECK(error == NULL);
    FUZZ_CHECK(strcmp(cfg.path, FUZZ_CONFIG_PATH) == 0);
    FUZZ_CHECK(cfg.runtime_dir && g_path_is_absolute(cfg.runtime_dir));
    FUZZ_CHECK(cfg.plugin_dir && g_path_is_absolute(cfg.plugin_dir));
    FUZZ_CHECK(cfg.queue_limit >= 1 && cfg.queue_limit <= CONFIG_QUEUE_LIMIT_MAX);
    FUZZ_CHECK(cfg.vm_queue_limit >= 1 && cfg.vm_queue_limit <= cfg.queue_limit);
    FUZZ_CHECK(cfg.aging_ms <= CONFIG_AGING_MS_MAX);
    FUZZ_CHECK(cfg.drain_timeout_ms <= CONFIG_DRAIN_TIMEOUT_MS_MAX);
    FUZZ_CHECK(cfg.spin_us <= CONFIG_SPIN_US_MAX);
    FUZZ_CHECK(config_log_level_parse(config_log_level_name(cfg.log_level), &level) &&
               level == cfg.log_level);
    FUZZ_CHECK(cfg.pool_count >= 1 && cfg.pool_count <= QUEUE_POOL_COUNT);
    for (unsigned i = 0; i < cfg.pool_count; i++) {
        check_pool(&cfg, &cfg.pools[i]);
    }
    names = config_pool_names(&cfg);
    FUZZ_CHECK(strlen(names) == 3 * cfg.pool_count - 2);
    g_free(names);
    config_clear(&cfg);
    FUZZ_CHECK(memcmp(&cfg, &cleared, sizeof(cfg)) == 0);
    return 0;
}
