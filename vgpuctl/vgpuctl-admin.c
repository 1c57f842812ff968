/*
 * vgpuctl commands about the daemon itself: ping, pause, resume.
 */
#include <stdio.h>

#include "vgpuctl.h"

static int run_ping(struct vgpuctl *ctl, char **args)
{
    JsonObject *reply;
    int status = vgpuctl_call(ctl, VGPUCTL_REQUEST(CONTROL_CMD_PING), &reply);

    (void)args;
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            printf("vgpu-mediatord %s (pid %" G_GINT64_FORMAT ") up %" G_GINT64_FORMAT
                   " s: %" G_GINT64_FORMAT " VM(s), %" G_GINT64_FORMAT " device connection(s), %"
                   G_GINT64_FORMAT " queued%s\n",
                   json_object_get_string_member(reply, "version"),
                   json_object_get_int_member(reply, "pid"),
                   json_object_get_int_member(reply, "uptime_s"),
                   json_object_get_int_member(reply, "vms"),
                   json_object_get_int_member(reply, "devices"),
                   json_object_get_int_member(reply, "queued"),
                   json_object_get_boolean_member(reply, "paused") ? ", dispatching paused" : "");
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_pause(struct vgpuctl *ctl, char **args, enum control_command command)
{
    JsonObject *reply;
    int status = vgpuctl_call(ctl, VGPUCTL_REQUEST(command), &reply);

    (void)args;
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            printf("dispatching %s\n", json_object_get_boolean_member(reply, "paused")
                                           ? "paused: requests queue up, running ones finish"
                                           : "resumed");
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_pause_cmd(struct vgpuctl *ctl, char **args)
{
    return run_pause(ctl, args, CONTROL_CMD_PAUSE);
}

static int run_resume_cmd(struct vgpuctl *ctl, char **args)
{
    return run_pause(ctl, args, CONTROL_CMD_RESUME);
}

const struct vgpuctl_command vgpuctl_admin_commands[] = {
    { "ping", "", "Check that the mediator runs and answers", NULL, 0, run_ping },
    { "pause", "", "Stop handing queued requests to units (e.g. for GPU maintenance)", NULL, 0,
      run_pause_cmd },
    { "resume", "", "Hand queued requests to units again", NULL, 0, run_resume_cmd },
    { NULL },
};
