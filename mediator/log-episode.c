/*
 * Rate-limited logging by episode: see log-episode.h.
 */
#include "log-episode.h"

void log_episode_event(struct log_episode *e, const char *format, ...)
{
    va_list ap;
    g_autofree char *message = NULL;

    e->events++;
    if (e->active) {
        return;
    }
    e->active = true;
    va_start(ap, format);
    message = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_warning("%s (more like this are counted, not logged, until it stops)", message);
}

void log_episode_end(struct log_episode *e, const char *what)
{
    if (!e->active) {
        return;
    }
    g_info("%s: %u in all", what, e->events);
    e->active = false;
    e->events = 0;
}
