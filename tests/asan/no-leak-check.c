/*
 * Linked into the sanitized test helpers only (fake-device, window-client;
 * tests/asan/asan.mk): they are checked for memory errors and undefined
 * behaviour, not for what they leave allocated when they exit, which is no
 * bug of the product (window-client keeps a 1 MiB copy of the window).
 */
int __lsan_is_turned_off(void);

int __lsan_is_turned_off(void)
{
    return 1;
}
