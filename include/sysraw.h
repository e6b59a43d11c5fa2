/* sysraw.h: raw Linux system calls by inline asm (x86-64), usable without libc.
 *
 * The restorer blob and the barrier primitive (restore/barrier.c) are built
 * freestanding, so they cannot call glibc's syscall() or futex wrappers.
 * Every helper returns the kernel's value: >= 0 on success, -errno on failure
 * (errno is never touched).  Only kernel uapi headers are included. */
#ifndef CRSTEP_SYSRAW_H
#define CRSTEP_SYSRAW_H

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include <linux/time_types.h>

#if !defined(__x86_64__)
#error "sysraw.h: only x86-64 is supported"
#endif

/* The x86-64 syscall ABI: nr in rax, args in rdi rsi rdx r10 r8 r9; the
 * instruction clobbers rcx and r11.  "memory" because the kernel reads and
 * writes user memory through the pointer arguments. */
static inline long sysraw6(long nr, long a1, long a2, long a3, long a4,
			   long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long sysraw3(long nr, long a1, long a2, long a3)
{
	return sysraw6(nr, a1, a2, a3, 0, 0, 0);
}

static inline long sysraw_futex(uint32_t *uaddr, int op, uint32_t val,
				const struct __kernel_timespec *timeout,
				uint32_t *uaddr2, uint32_t val3)
{
	return sysraw6(__NR_futex, (long)uaddr, op, (long)val, (long)timeout,
		       (long)uaddr2, (long)val3);
}

static inline long sysraw_clock_gettime(int clockid, struct __kernel_timespec *ts)
{
	return sysraw3(__NR_clock_gettime, clockid, (long)ts, 0);
}

static inline long sysraw_getpid(void)
{
	return sysraw3(__NR_getpid, 0, 0, 0);
}

static inline long sysraw_gettid(void)
{
	return sysraw3(__NR_gettid, 0, 0, 0);
}

static inline long sysraw_mmap(void *addr, size_t len, int prot, int flags,
			       int fd, long off)
{
	return sysraw6(__NR_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

static inline long sysraw_munmap(void *addr, size_t len)
{
	return sysraw3(__NR_munmap, (long)addr, (long)len, 0);
}

static inline long sysraw_write(int fd, const void *buf, size_t len)
{
	return sysraw3(__NR_write, fd, (long)buf, (long)len);
}

__attribute__((noreturn))
static inline void sysraw_exit_group(int code)
{
	for (;;)
		sysraw3(__NR_exit_group, code, 0, 0);
}

#endif
