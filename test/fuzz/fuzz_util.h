/* Helpers shared by the fuzz targets and the fault tests. */
#ifndef VIGIL_FUZZ_UTIL_H
#define VIGIL_FUZZ_UTIL_H

/* Open fds of this process, pipes excepted (leak checks). A count that is
 * not @expect is taken again for up to 20 ms; @expect < 0 takes a baseline
 * (the minimum of a few samples). */
int fuzz_count_fds(int expect);
/* Print every open fd and what it is (after a failed leak check). */
void fuzz_dump_fds(void);

#endif
