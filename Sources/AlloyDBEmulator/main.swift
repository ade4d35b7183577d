print("alloydb-emulator")
