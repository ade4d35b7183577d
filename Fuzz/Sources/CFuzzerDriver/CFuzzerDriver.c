// Only a header: LLVMFuzzerRunDriver is resolved from libFuzzer at link time.
