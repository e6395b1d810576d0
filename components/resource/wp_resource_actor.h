/*  =========================================================================
    wp_resource_actor - ResourceManager on the bus.

    Every resource_interval_ms it reads /proc/meminfo, /proc/stat and the
    cgroup v2 memory.max / memory.current of its own cgroup, and publishes
    resource.status: memory, CPU use, the models held warm (learned from
    warmup.done) and whether background warmups are admitted (memory
    budget, CPU at most max_cpu_percent, machine and cgroup headroom; the
    reason when not). Also the model servers' processes the model sections
    name in `watch` (process name, pid:N, pidfile:PATH): how many each item
    matches and their RSS, each process counted once in the total; and
    NVIDIA GPU memory when NVML (dlopen, no build dependency) or nvidia-smi
    (run without blocking every gpu_interval_ms, killed if it hangs) is
    present (gpu_source): each GPU and the processes on it; without either
    it says so once in the log. Memory as measured: each device (RAM, each
    GPU) with what it has, what is used, ours (the watched processes', or
    what our models hold), others, the reserve and what it leaves us; the
    budgets in force (auto: measured, in steps of 64 MiB); and what loads
    took, measured as the change around them (wp_measure.h) when their
    server did not say.
    Subscribes: warmup.done, warmup.requested (our loads and cools in flight).
    =========================================================================
*/
#ifndef WP_RESOURCE_ACTOR_H_INCLUDED
#define WP_RESOURCE_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_resource_def;

#endif
