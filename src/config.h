/* config.h - config.json -> gptoss_config. */
#ifndef GPTOSS_CONFIG_H
#define GPTOSS_CONFIG_H

#include "gptoss.h"

/* Parses config.json text (path is only used in messages). Requires the
 * size keys, fills the rest with the release defaults, and checks the sizes
 * are consistent (e.g. heads divisible by KV heads, hidden size a multiple
 * of 32). On success the caller owns config->layer_is_sliding. */
gptoss_status gptoss_config_parse(const char *json_text, const char *path, gptoss_config *config);

/* Reads and parses dir/config.json. */
gptoss_status gptoss_config_load(const char *dir, gptoss_config *config);

void gptoss_config_release(gptoss_config *config);

#endif
