/*
 * Helpers the gateway's unit tests share: a message fed to the core the
 * way the MQTT thread feeds it (decode, then apply).
 */
#ifndef GW_KIT_H
#define GW_KIT_H

#include "gw_core.h"

/* Decode payload as received on topic (no prefix) and apply it to c:
 * VG_REJ_NONE or the reason it was refused. */
enum vg_reject gw_kit_feed(struct gw_core *c, const char *topic,
			   const char *payload);

#endif
