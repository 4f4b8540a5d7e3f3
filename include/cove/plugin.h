/* cove plugin ABI: the stable C interface between cove and a plugin shared library.
 *
 * A plugin is a shared library (.so) that exports one symbol:
 *
 *     int cove_plugin_init(const cove_host_api* host, cove_plugin* plugin);
 *
 * cove loads it with dlopen, calls cove_plugin_init once, and reads what the plugin filled in:
 * its name, and the hooks it implements (NULL where it has none). During init the plugin may
 * register tools through host->register_tool. Returning non-zero from init refuses the load
 * (the plugin may first report why through host->log).
 *
 * Versioning: both structs start with abi_version and struct_size. cove sets
 * plugin->abi_version to the version it speaks and plugin->struct_size to the size it allocated
 * before calling init; a plugin built for a newer ABI must check these and return non-zero if
 * it needs more than the host offers. cove refuses a plugin that reports a different major
 * version (COVE_PLUGIN_ABI_VERSION >> 16). New fields are only ever appended, and a host reads
 * only the fields that fit inside the struct_size the plugin wrote back.
 *
 * Strings: every const char* the host passes is NUL-terminated UTF-8, valid only for the
 * duration of the call. A plugin returns text by calling host->set_output(out, data, length);
 * the host copies it (so no memory crosses the boundary to be freed by the other side). Calling
 * set_output again replaces the earlier text. Outputs larger than 1 MiB are refused.
 *
 * Hooks return a cove_hook_status value:
 *   before_prompt(messages_json)      messages_json is the OpenAI-shaped messages array.
 *       CONTINUE: unchanged. REWRITE: the output is the new messages array (to add context,
 *       return the array with an extra message). ERROR: reported, the input is used unchanged.
 *   after_reply(reply_text)
 *       CONTINUE: unchanged. REWRITE: the output is the new reply text (annotations included).
 *       ERROR: reported, the reply is used unchanged.
 *   before_tool_call(tool_name, arguments_json)
 *       CONTINUE: allowed. DENY: refused; the output, if any, is the reason. REWRITE: the output
 *       is the replacement arguments (a JSON object). ERROR: treated as DENY (a policy that
 *       cannot decide does not let a call through).
 * A status outside this list, a REWRITE whose output is not valid UTF-8 (or not the JSON the
 * hook needs), or an output over the size limit is reported and handled as ERROR.
 *
 * Threading: hooks and tools may be called from several threads at once; a plugin that keeps
 * mutable state must lock it. shutdown (if set) is called once, before dlclose.
 *
 * Crashes: cove cannot survive a plugin that corrupts memory or raises SIGSEGV inside a hook;
 * hooks run in-process without a signal guard (see docs/TOOLS.md). Bad return values, bad
 * output and C++ exceptions escaping a hook are caught and reported.
 */
#ifndef COVE_PLUGIN_H_
#define COVE_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Major version in the high 16 bits, minor in the low 16. */
#define COVE_PLUGIN_ABI_VERSION 0x00010000u
#define COVE_PLUGIN_ABI_MAJOR(v) ((v) >> 16)

typedef enum cove_hook_status {
  COVE_HOOK_CONTINUE = 0,
  COVE_HOOK_REWRITE = 1,
  COVE_HOOK_DENY = 2,
  COVE_HOOK_ERROR = 3
} cove_hook_status;

typedef enum cove_log_level {
  COVE_LOG_DEBUG = 0,
  COVE_LOG_INFO = 1,
  COVE_LOG_WARN = 2,
  COVE_LOG_ERROR = 3
} cove_log_level;

/* Where a hook or a tool writes its text; owned by the host. */
typedef struct cove_output cove_output;

/* A tool implementation: arguments_json is a JSON object. Write the result text to `result`;
 * return 0 for success, non-zero for a tool error (the text is then the error message). */
typedef int (*cove_tool_fn)(void* user_data, const char* arguments_json, cove_output* result);

typedef struct cove_tool_def {
  uint32_t struct_size;        /* sizeof(cove_tool_def) */
  const char* name;            /* [A-Za-z0-9_-]{1,64} */
  const char* description;
  const char* parameters_json; /* a JSON Schema of type object */
  cove_tool_fn call;
  void* user_data;
} cove_tool_def;

typedef struct cove_host_api {
  uint32_t abi_version; /* COVE_PLUGIN_ABI_VERSION of the host */
  uint32_t struct_size; /* sizeof(cove_host_api) of the host */
  void* host;           /* opaque; pass back to the functions below */

  /* Only during cove_plugin_init. Returns 0 on success; non-zero if the definition is invalid
   * or the name is taken (the reason is logged by the host). */
  int (*register_tool)(void* host, const cove_tool_def* tool);
  /* Copies `length` bytes of `data` into `out` (replacing what was there). */
  void (*set_output)(cove_output* out, const char* data, size_t length);
  void (*log)(void* host, cove_log_level level, const char* message);
} cove_host_api;

typedef struct cove_plugin {
  uint32_t abi_version; /* in: the host's version; out: the version the plugin was built for */
  uint32_t struct_size; /* in: the host's sizeof(cove_plugin); out: the plugin's */
  const char* name;     /* static string, required */
  const char* version;  /* static string, optional */
  void* user_data;      /* passed to every hook */

  /* Each hook returns a cove_hook_status value (as int, so the ABI does not depend on how a
   * compiler sizes enums). */
  int (*before_prompt)(void* user_data, const char* messages_json, cove_output* out);
  int (*after_reply)(void* user_data, const char* reply_text, cove_output* out);
  int (*before_tool_call)(void* user_data, const char* tool_name, const char* arguments_json,
                          cove_output* out);
  void (*shutdown)(void* user_data);
} cove_plugin;

/* The one symbol a plugin exports. */
typedef int (*cove_plugin_init_fn)(const cove_host_api* host, cove_plugin* plugin);
#define COVE_PLUGIN_INIT_SYMBOL "cove_plugin_init"

#ifdef __cplusplus
}
#endif

#endif /* COVE_PLUGIN_H_ */
