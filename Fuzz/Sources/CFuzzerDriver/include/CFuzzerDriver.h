#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked in by `-sanitize=fuzzer`). A fuzz executable calls
/// it from its own entry point because SwiftPM aliases `main` to `<module>_main`, which would
/// otherwise hide the `main` that libFuzzer ships.
int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

#endif
