/*  =========================================================================
    warmup-perf - the perf component as its own process: a thin main()
    around its actor, against a bus run by warmup-bus.
    =========================================================================
*/
#include "wp_component.h"

int
main (int argc, char **argv)
{
    return wp_component_main (argc, argv, "perf");
}
