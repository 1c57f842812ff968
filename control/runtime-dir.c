/*
 * Runtime directory checks: see runtime-dir.h.
 */
#include <gio/gio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime-dir.h"

gboolean runtime_dir_trusted(const char *dir, GError **error)
{
    struct stat st;

    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                    "runtime-dir %s is not a directory (a symbolic link is not taken)", dir);
        return FALSE;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0 && st.st_uid > RUNTIME_DIR_SYSTEM_UID_MAX) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "runtime-dir %s belongs to uid %u, neither this user nor root nor a system "
                    "user: not trusted (that user could replace its sockets)", dir,
                    (unsigned)st.st_uid);
        return FALSE;
    }
    if (st.st_mode & S_IWOTH) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "runtime-dir %s is writable by every user (mode %04o): not trusted (another "
                    "user could replace its sockets); chmod o-w it", dir,
                    (unsigned)(st.st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}
