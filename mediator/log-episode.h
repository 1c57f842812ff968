/*
 * One log line per episode of a repeated event, not one per event: a flood
 * of refused connections or timed-out peers must not flood the journal.
 * The first event of an episode is logged as a warning; the events after it
 * are only counted; when the condition clears, one line says how many
 * there were.  Main thread only.
 */
#ifndef MEDIATOR_LOG_EPISODE_H
#define MEDIATOR_LOG_EPISODE_H

#include <glib.h>
#include <stdbool.h>

struct log_episode {
    bool active;
    unsigned events;            /* in the current episode */
};

/* One event: logged (as a warning, with the printf-style message) only when it starts an episode. */
G_GNUC_PRINTF(2, 3)
void log_episode_event(struct log_episode *e, const char *format, ...);

/* The condition cleared: end the episode, if any, logging "<what>: N in all". */
void log_episode_end(struct log_episode *e, const char *what);

#endif /* MEDIATOR_LOG_EPISODE_H */
