/*
 * vgpu-stub error codes: ERROR_CODE register and vgpu_response.status.
 *
 * Numbered and stable: a code keeps its number forever and new codes are
 * appended.  Each code has one name and one message, here and nowhere else.
 */
#ifndef VGPU_ERRORS_H
#define VGPU_ERRORS_H

#include <stddef.h>
#include <stdint.h>

/* X(number, NAME, message) */
#define VGPU_ERROR_TABLE(X) \
    X(0,  OK,                 "success") \
    X(1,  BAD_LENGTH,         "request length is 0, over 1024, or shorter than the request header") \
    X(2,  BUSY,               "doorbell rung while a request is still in flight") \
    X(3,  BAD_VERSION,        "request version is not the protocol version 0x00010000") \
    X(4,  BAD_OPCODE,         "unknown opcode") \
    X(5,  BAD_PARAMS,         "flags, reserved words, params or data region do not fit the request or its opcode") \
    X(6,  NOT_CONNECTED,      "the device is not connected to the mediator") \
    X(7,  NOT_REGISTERED,     "no VM is registered at the mediator for this device") \
    X(8,  QUEUE_FULL,         "the VM's queue at the mediator is full") \
    X(9,  BACKEND,            "the backend failed to run the request") \
    X(10, TIMEOUT,            "no completion arrived within the device's timeout") \
    X(11, MEDIATOR_RESTARTED, "the connection to the mediator was lost while the request was in flight") \
    X(12, CANCELLED,          "cancelled before completion: VM unregistered, mediator stopping, or VM restored") \
    X(13, PROTOCOL,           "malformed message between the device and the mediator") \
    X(14, PERMISSION,         "the connected process is not the registered QEMU of this VM") \
    X(15, NO_WINDOW,          "the opcode works on the data window, and this device has none at the mediator") \
    X(16, BAD_RANGE,          "a range is empty, outside the data window, wraps around, or is not aligned to its element") \
    X(17, OVERLAP,            "an output range of the request overlaps one of its input ranges")

#define VGPU_ERROR_ENUM(num, name, msg) VGPU_ERR_##name = num,
enum vgpu_error {
    VGPU_ERROR_TABLE(VGPU_ERROR_ENUM)
    VGPU_ERROR_COUNT            /* one past the last code (codes are dense) */
};
#undef VGPU_ERROR_ENUM
#define VGPU_OK VGPU_ERR_OK

/* The message of an error code; "unknown error" for a number not in the table. */
static inline const char *vgpu_error_message(uint32_t code)
{
#define VGPU_ERROR_CASE(num, name, msg) case num: return msg;
    switch (code) {
    VGPU_ERROR_TABLE(VGPU_ERROR_CASE)
    }
#undef VGPU_ERROR_CASE
    return "unknown error";
}

/* The name of an error code ("BAD_LENGTH"); NULL for a number not in the table. */
static inline const char *vgpu_error_name(uint32_t code)
{
#define VGPU_ERROR_CASE(num, name, msg) case num: return #name;
    switch (code) {
    VGPU_ERROR_TABLE(VGPU_ERROR_CASE)
    }
#undef VGPU_ERROR_CASE
    return NULL;
}

#endif /* VGPU_ERRORS_H */
