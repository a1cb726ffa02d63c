package main

import (
	"os"
	"syscall"
)

// subscribePipeBytes is the size subscribe asks for an output pipe: the default, 64 KiB, holds
// a single one of its writes, so the writer and the reader of a burst wake each other for
// every write; 1 MiB is the most an unprivileged process may ask by default
// (/proc/sys/fs/pipe-max-size).
const subscribePipeBytes = 1 << 20

// growPipe enlarges f's pipe buffer to size if f is a pipe with a smaller one; a larger one,
// made so by whoever set up the pipeline, stays as it is. It is only an optimisation, so any
// failure is ignored: f is not a pipe (fcntl fails with EBADF), the system's limit is lower
// (EPERM), or the memory is short (ENOMEM); the pipe then keeps the size it had, with which
// subscribe works as well, only slower.
func growPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETPIPE_SZ, 0)
		if errno == 0 && int(n) < size {
			syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, uintptr(size))
		}
	})
}
