/*
 * sdk.h - the sandboxed child's side of include/sovereign/plugin.h.
 *
 * svrun-sandbox creates the one context a plugin gets and hands it to sv_plugin_main();
 * the SDK functions themselves are declared in sovereign/plugin.h.
 */
#ifndef SV_SDK_H
#define SV_SDK_H

#include <sovereign/plugin.h>

/*
 * Initialises the context for channel @fd; the SDK keeps using it until exit. @spin says
 * whether to poll briefly for each answer before blocking (see struct sv_spin).
 */
sv_ctx *sv_sdk_context(int fd, int spin);

#endif
