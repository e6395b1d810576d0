/*  =========================================================================
    fake_nvml - NVML, scripted for tests: built as libnvidia-ml.so.1 in
    the build tree's tests/fake/, found by dlopen when a test puts that
    directory on LD_LIBRARY_PATH. It answers the calls the resource
    manager makes from the files the fake nvidia-smi reads
    ($WP_FAKE_GPU_DIR/gpus and apps, tests/fake/nvidia-smi), read again
    at every call, so a test changes the machine by rewriting them.

    Only what the resource manager uses is here, with NVML's signatures
    (device handles are the GPU's line number + 1, cast to a pointer).
    =========================================================================
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SUCCESS 0
#define S_ERROR_INVALID_ARGUMENT 2
#define S_ERROR_INSUFFICIENT_SIZE 7
#define S_ERROR_UNKNOWN 999

typedef struct {
    unsigned long long total, free, used;
} s_memory_t;

typedef struct {
    unsigned int pid;
    unsigned long long used;
    unsigned int gpu_instance, compute_instance;
} s_process_t;

//  One GPU line: index, uuid, name, total, used (MiB).
typedef struct {
    unsigned index;
    char uuid [80], name [64];
    unsigned long long total, used;
} s_gpu_t;

//  Read $WP_FAKE_GPU_DIR/<name> into buffer; 0 or -1.
static int
s_read (const char *name, char *buffer, size_t size)
{
    const char *dir = getenv ("WP_FAKE_GPU_DIR");
    char path [1024];
    if (!dir)
        return -1;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t n = fread (buffer, 1, size - 1, file);
    fclose (file);
    buffer [n] = 0;
    return 0;
}

//  Trim blanks at both ends, in place.
static char *
s_trim (char *text)
{
    while (*text == ' ')
        text++;
    size_t length = strlen (text);
    while (length && (text [length - 1] == ' ' || text [length - 1] == '\r'))
        text [--length] = 0;
    return text;
}

//  The GPUs of the gpus file (at most 8); how many.
static int
s_gpus (s_gpu_t *gpus)
{
    char text [4096];
    if (s_read ("gpus", text, sizeof text))
        return -1;
    int n = 0;
    for (char *save = NULL, *line = strtok_r (text, "\n", &save); line && n < 8;
         line = strtok_r (NULL, "\n", &save)) {
        char *fields [5];
        int count = 0;
        for (char *f_save = NULL, *f = strtok_r (line, ",", &f_save); f && count < 5;
             f = strtok_r (NULL, ",", &f_save))
            fields [count++] = s_trim (f);
        if (count != 5)
            continue;
        gpus [n].index = (unsigned) atoi (fields [0]);
        snprintf (gpus [n].uuid, sizeof gpus [n].uuid, "%s", fields [1]);
        snprintf (gpus [n].name, sizeof gpus [n].name, "%s", fields [2]);
        gpus [n].total = strtoull (fields [3], NULL, 10);
        gpus [n].used = strtoull (fields [4], NULL, 10);
        n++;
    }
    return n;
}

//  The GPU of a handle, or NULL.
static int
s_gpu (void *device, s_gpu_t *gpu)
{
    s_gpu_t gpus [8];
    int n = s_gpus (gpus);
    long index = (long) device - 1;
    if (n < 0 || index < 0 || index >= n)
        return -1;
    *gpu = gpus [index];
    return 0;
}

int nvmlInit_v2 (void) { return getenv ("WP_FAKE_GPU_DIR") ? S_SUCCESS : S_ERROR_UNKNOWN; }
int nvmlShutdown (void) { return S_SUCCESS; }

int
nvmlDeviceGetCount_v2 (unsigned int *count)
{
    s_gpu_t gpus [8];
    int n = s_gpus (gpus);
    if (n < 0)
        return S_ERROR_UNKNOWN;
    *count = (unsigned int) n;
    return S_SUCCESS;
}

int
nvmlDeviceGetHandleByIndex_v2 (unsigned int index, void **device)
{
    *device = (void *) (long) (index + 1);
    return S_SUCCESS;
}

int
nvmlDeviceGetMemoryInfo (void *device, s_memory_t *memory)
{
    s_gpu_t gpu;
    if (s_gpu (device, &gpu))
        return S_ERROR_INVALID_ARGUMENT;
    memory->total = gpu.total << 20;
    memory->used = gpu.used << 20;
    memory->free = memory->total > memory->used ? memory->total - memory->used : 0;
    return S_SUCCESS;
}

int
nvmlDeviceGetName (void *device, char *name, unsigned int length)
{
    s_gpu_t gpu;
    if (s_gpu (device, &gpu))
        return S_ERROR_INVALID_ARGUMENT;
    snprintf (name, length, "%s", gpu.name);
    return S_SUCCESS;
}

int
nvmlDeviceGetUUID (void *device, char *uuid, unsigned int length)
{
    s_gpu_t gpu;
    if (s_gpu (device, &gpu))
        return S_ERROR_INVALID_ARGUMENT;
    snprintf (uuid, length, "%s", gpu.uuid);
    return S_SUCCESS;
}

//  The processes on a GPU, from the apps file (matched by uuid).
int
nvmlDeviceGetComputeRunningProcesses_v3 (void *device, unsigned int *count,
                                         s_process_t *processes)
{
    s_gpu_t gpu;
    char text [4096];
    if (s_gpu (device, &gpu))
        return S_ERROR_INVALID_ARGUMENT;
    unsigned int n = 0, room = *count;
    if (s_read ("apps", text, sizeof text) == 0)
        for (char *save = NULL, *line = strtok_r (text, "\n", &save); line;
             line = strtok_r (NULL, "\n", &save)) {
            char *fields [3];
            int fields_n = 0;
            for (char *f_save = NULL, *f = strtok_r (line, ",", &f_save); f && fields_n < 3;
                 f = strtok_r (NULL, ",", &f_save))
                fields [fields_n++] = s_trim (f);
            if (fields_n != 3 || strcmp (fields [0], gpu.uuid) != 0)
                continue;
            if (n < room && processes) {
                processes [n].pid = (unsigned int) atoi (fields [1]);
                processes [n].used = fields [2][0] == '['
                                   ? 0xFFFFFFFFFFFFFFFFULL
                                   : strtoull (fields [2], NULL, 10) << 20;
                processes [n].gpu_instance = processes [n].compute_instance = 0xFFFFFFFFu;
            }
            n++;
        }
    *count = n;
    return n > room ? S_ERROR_INSUFFICIENT_SIZE : S_SUCCESS;
}
