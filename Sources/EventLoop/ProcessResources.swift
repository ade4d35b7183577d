#if canImport(Glibc)
import Glibc
#endif

/// Process-wide descriptor accounting. Any thread.
public enum ProcessResources {
    /// The number of descriptors this process has open, counted from /proc/self/fd (the
    /// count excludes the directory descriptor used to list it). Cost: O(open fds).
    public static func openDescriptorCount() throws -> Int {
        guard let directory = opendir("/proc/self/fd") else {
            throw SyscallError(errno: errno, call: "opendir(/proc/self/fd)")
        }
        defer { closedir(directory) }
        // readdir's record may end before sizeof(dirent) (d_reclen), so copying `d_name` out
        // of `pointee` reads past the record; load only the first byte of the name in place.
        // Force-unwrap: d_name is a stored field of an imported C struct, so its offset exists.
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var count = 0
        while let entry = readdir(directory) {
            let first = UnsafeRawPointer(entry).load(fromByteOffset: nameOffset, as: UInt8.self)
            if first != UInt8(ascii: ".") {
                count += 1
            }
        }
        // The directory stream holds one descriptor of its own while we count.
        return count - 1
    }

    /// The soft and hard RLIMIT_NOFILE.
    public static func descriptorLimit() throws -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            throw SyscallError(errno: errno, call: "getrlimit(RLIMIT_NOFILE)")
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
    @discardableResult
    public static func raiseDescriptorLimit() throws -> UInt64 {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            throw SyscallError(errno: errno, call: "getrlimit(RLIMIT_NOFILE)")
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                throw SyscallError(errno: errno, call: "setrlimit(RLIMIT_NOFILE)")
            }
        }
        return UInt64(limit.rlim_cur)
    }
}
