/* sigframe.h: build the x86_64 rt_sigframe that rt_sigreturn turns back into
 * a dumped thread's registers, FPU/xsave state, blocked mask and sigaltstack.
 *
 * This mirrors what CRIU's sigreturn_restore does per thread (construct_sigframe
 * and restore_fpu in criu/arch/x86): the restorer ends every thread with
 *
 *	mov  <rsp_out>, %rsp
 *	mov  $__NR_rt_sigreturn, %eax
 *	syscall
 *
 * and the kernel reads the frame at rsp - 8.
 *
 * What rt_sigreturn does NOT restore, so the caller must do it before:
 *  - fs_base / gs_base (gpregs.fs_base, gpregs.gs_base): call
 *    arch_prctl(ARCH_SET_FS / ARCH_SET_GS) in the thread itself.  The
 *    sigcontext's fs/gs selector fields are ignored by the kernel on x86_64.
 *  - orig_ax: not part of sigcontext.  The kernel sets orig_ax to -1 on
 *    rt_sigreturn, so no syscall restart happens afterwards; a thread dumped
 *    inside an interrupted nanosleep (ax == -EINTR) simply sees -EINTR, which
 *    is how CRIU resumes it.
 *  - TLS descriptors (ThreadInfoX86.tls), clear_tid_addr, rseq, CET shadow
 *    stack: all separate syscalls.
 *
 * The frame is only valid on the CPU/kernel it was built on: the xsave layout
 * comes from CPUID leaf 0xD and XCR0 of the running machine.
 */
#ifndef CRSTEP_SIGFRAME_H
#define CRSTEP_SIGFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core.pb-c.h"

/* Bytes of room sigframe_build needs, alignment slack included.  Depends on
 * the running CPU (xsave size), so ask at run time. */
size_t sigframe_room(void);

/* Build the frame in place inside [area, area + room).  `area` must be where
 * the frame lives when rt_sigreturn runs: the frame holds absolute pointers
 * into itself (sigcontext.fpstate), so the memory must stay mapped at the same
 * address in the restored task until the syscall.  `blk_sigset` is the kernel
 * sigset (bit signo-1) to be blocked afterwards; `sas` may be NULL for "no
 * sigaltstack" (SS_DISABLE).  The whole range is overwritten.
 *
 * *rsp_out receives the value rsp must have when `syscall` with
 * rax = __NR_rt_sigreturn executes.  It is 16-byte aligned.
 *
 * An image with xsave state gets an XSAVE (standard format) frame; the image's
 * xstate_bv must be a subset of the features this CPU has enabled.  An image
 * without xsave gets an fxsave-only frame, and the kernel puts every extended
 * component in its init state.
 *
 * Returns 0, or -1 after printing one line saying why. */
int sigframe_build(void *area, size_t room, const ThreadInfoX86 *ti,
		   uint64_t blk_sigset, const ThreadSasEntry *sas,
		   uint64_t *rsp_out);

/* The xfeatures mask this CPU/kernel takes in a signal frame (XCR0 less the
 * dynamically enabled AMX tile data), 0 when XSAVE is not enabled, and the
 * standard-format xsave size that goes with it.  Exposed for diagnostics and
 * tests. */
uint64_t sigframe_xfeatures(void);
size_t sigframe_xsave_size(void);

#endif
