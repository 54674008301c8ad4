#!/usr/bin/env bash
# Run a command with the Khronos Vulkan validation layer on every Vulkan instance it (and any
# process it starts) creates: Debian's vulkan-validationlayers, forced through the Vulkan
# loader (VK_INSTANCE_LAYERS), whatever flags wgpu/cubecl create their instance with. The layer
# reads its settings from a file (VK_LAYER_SETTINGS_PATH): errors only, each written to stdout
# (the layer's own "stdout"; a path such as /dev/stderr would be opened with truncation, and
# every Vulkan process would wipe a log file that the output is redirected to) and followed by
# SIGTRAP, so the process that made the error dies (exit 133 / signal 5) and the
# test that ran it fails. Mesa's OpenGL adapter is not Vulkan and is not validated.
#
#   tools/vk-validation.sh COMMAND [ARG...]
#   tools/vk-validation.sh --self-check    # make one validation error on purpose: must die
#   source tools/vk-validation.sh --export # turn it on for the rest of the calling script
set -euo pipefail
manifest=/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json
if [ ! -f "$manifest" ]; then
  echo "error: no Vulkan validation layer ($manifest); install Debian's vulkan-validationlayers" >&2
  exit 1
fi
settings_dir=${TMPDIR:-/tmp}/augtrain-vk-validation
mkdir -p "$settings_dir"
settings=$settings_dir/vk_layer_settings.txt
cat > "$settings" <<'SETTINGS'
khronos_validation.report_flags = error
khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG,VK_DBG_LAYER_ACTION_BREAK
khronos_validation.log_filename = stdout
SETTINGS
export VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation
export VK_LAYER_SETTINGS_PATH="$settings"

if [ "${1:-}" = --export ]; then
  # Sourced: the two variables above stay set in the caller (.ci/run).
  return 0 2>/dev/null || {
    echo "error: --export only works sourced: source tools/vk-validation.sh --export" >&2
    exit 2
  }
fi

if [ "${1:-}" = --self-check ]; then
  # An application info with the wrong sType: the layer must report it and stop the process.
  probe_dir=$(mktemp -d)
  trap 'rm -rf "$probe_dir"' EXIT
  cat > "$probe_dir/probe.c" <<'C'
#include <dlfcn.h>
#include <stdint.h>
typedef struct { int sType; const void *next; const char *app; uint32_t app_version;
                 const char *engine; uint32_t engine_version; uint32_t api; } AppInfo;
typedef struct { int sType; const void *next; uint32_t flags; const AppInfo *app;
                 uint32_t layers; const char *const *layer_names;
                 uint32_t extensions; const char *const *extension_names; } InstanceInfo;
typedef int (*CreateInstance)(const InstanceInfo *, const void *, void **);
int main(void) {
    void *vulkan = dlopen("libvulkan.so.1", RTLD_NOW);
    if (!vulkan) return 2;
    void *(*proc)(void *, const char *) =
        (void *(*)(void *, const char *))dlsym(vulkan, "vkGetInstanceProcAddr");
    CreateInstance create = (CreateInstance)proc(0, "vkCreateInstance");
    AppInfo app = {1 /* should be 0: VK_STRUCTURE_TYPE_APPLICATION_INFO */, 0, "probe", 1,
                   "probe", 1, (1u << 22) | (1u << 12)};
    InstanceInfo info = {1, 0, 0, &app, 0, 0, 0, 0};
    void *instance = 0;
    create(&info, 0, &instance);
    return 0;
}
C
  cc -o "$probe_dir/probe" "$probe_dir/probe.c" -ldl
  set +e
  "$probe_dir/probe" > "$probe_dir/err.txt" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 0 ] || ! grep -q "VUID-VkApplicationInfo-sType-sType" "$probe_dir/err.txt"; then
    echo "error: the validation layer did not stop a process with a validation error (exit $rc)" >&2
    cat "$probe_dir/err.txt" >&2
    exit 1
  fi
  echo "vk-validation: the layer reports an error and stops the process (exit $rc)"
  exit 0
fi
exec "$@"
