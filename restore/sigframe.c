/* sigframe.c: the x86_64 rt_sigframe that rt_sigreturn turns back into a
 * dumped thread (CRIU: construct_sigframe + restore_fpu in criu/arch/x86).
 *
 * The kernel side this must satisfy (arch/x86/kernel/signal_64.c and
 * fpu/signal.c):
 *  - frame = rsp - 8; uc_sigmask, uc_mcontext and uc_stack are read from it;
 *    a uc_stack the kernel refuses (bad flags, too small) kills the task.
 *  - uc_mcontext.fpstate points at a 64-byte aligned fxsave area.  The xsave
 *    part is used only when the software bytes in fxsave[464..511] carry
 *    FP_XSTATE_MAGIC1 with a sane xstate_size and FP_XSTATE_MAGIC2 follows the
 *    xsave area; otherwise the kernel silently does fxrstor and puts every
 *    extended component (AVX upper halves, ...) in its init state.
 *  - XRSTOR faults (and the kernel then kills the task) on a non-zero xcomp_bv
 *    or reserved header bytes, xstate_bv bits outside XCR0, or MXCSR bits
 *    outside the CPU's MXCSR_MASK, so those are checked here first.
 */
#include <cpuid.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "sigframe.h"

/* Our own copies of the kernel's x86_64 structures: glibc's ucontext_t is
 * laid out differently, and <asm/sigcontext.h> clashes with <signal.h>. */
struct sf_fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;		/* xstate_size + FP_XSTATE_MAGIC2_SIZE */
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

struct sf_fxsave {
	uint16_t cwd, swd, twd, fop;	/* twd is the abridged tag byte */
	uint64_t rip, rdp;
	uint32_t mxcsr, mxcsr_mask;
	uint32_t st_space[32];
	uint32_t xmm_space[64];
	uint32_t padding[12];
	struct sf_fpx_sw_bytes sw;
};

struct sf_xsave_header {
	uint64_t xstate_bv;
	uint64_t xcomp_bv;		/* 0: standard format, as in signal frames */
	uint64_t reserved[6];
};

struct sf_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip;
	uint64_t flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct sf_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	uint32_t pad;
	uint64_t ss_size;
};

struct sf_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct sf_stack uc_stack;
	struct sf_sigcontext uc_mcontext;
	uint64_t uc_sigmask;		/* the kernel's 64-bit sigset */
};

struct sf_rt_sigframe {
	uint64_t pretcode;		/* never returned through: 0 */
	struct sf_ucontext uc;
	uint8_t info[128];		/* siginfo_t, unused by rt_sigreturn */
};

/* Cross-check against the layouts glibc exposes for the same kernel ABI. */
_Static_assert(sizeof(struct sf_fxsave) == 512, "fxsave area");
_Static_assert(offsetof(struct sf_fxsave, sw) == 464, "sw_reserved");
_Static_assert(sizeof(struct sf_fpx_sw_bytes) == sizeof(struct _fpx_sw_bytes), "sw bytes");
_Static_assert(offsetof(struct sf_fpx_sw_bytes, xstate_size) ==
	       offsetof(struct _fpx_sw_bytes, xstate_size), "sw bytes");
_Static_assert(sizeof(struct sf_sigcontext) == sizeof(struct sigcontext), "sigcontext");
_Static_assert(offsetof(struct sf_sigcontext, ss) == offsetof(struct sigcontext, __pad0), "ss");
_Static_assert(offsetof(struct sf_sigcontext, fpstate) ==
	       offsetof(struct sigcontext, fpstate), "fpstate");
_Static_assert(offsetof(struct sf_sigcontext, ip) == offsetof(struct sigcontext, rip), "ip");
_Static_assert(sizeof(struct sf_stack) == sizeof(stack_t), "stack_t");
_Static_assert(offsetof(struct sf_ucontext, uc_mcontext) == 40, "uc_mcontext");
_Static_assert(offsetof(struct sf_ucontext, uc_sigmask) == 296, "uc_sigmask");
_Static_assert(offsetof(struct sf_rt_sigframe, info) == 312, "info");
_Static_assert(sizeof(siginfo_t) == 128, "siginfo_t");

#define SF_UC_FP_XSTATE		0x1
#define SF_UC_SIGCONTEXT_SS	0x2
#define SF_UC_STRICT_RESTORE_SS	0x4

#define SF_FP_XSTATE_MAGIC1	0x46505853U
#define SF_FP_XSTATE_MAGIC2	0x46505845U
#define SF_FP_XSTATE_MAGIC2_SIZE 4

#define XFEATURE_FP		0
#define XFEATURE_SSE		1
#define XFEATURE_YMM		2
#define XFEATURE_BNDREGS	3
#define XFEATURE_BNDCSR		4
#define XFEATURE_OPMASK		5
#define XFEATURE_ZMM_HI256	6
#define XFEATURE_HI16_ZMM	7
#define XFEATURE_PKRU		9
#define XFEATURE_XTILE_DATA	18
#define XFEATURE_MASK_FPSSE	((1ULL << XFEATURE_FP) | (1ULL << XFEATURE_SSE))

#define FXSAVE_SIZE		512
#define XSAVE_HDR_END		(FXSAVE_SIZE + sizeof(struct sf_xsave_header))
#define MXCSR_DEFAULT_MASK	0x0000ffbfU	/* when fxsave reports 0 */

#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((uintptr_t)(a) - 1))
/* The frame starts 8 bytes into a 64-byte aligned block so that rsp, which
 * points just past pretcode, is 16-byte aligned like at a function entry. */
#define FRAME_OFFSET		8
#define FRAME_SPAN		ALIGN_UP(FRAME_OFFSET + sizeof(struct sf_rt_sigframe), 64)

struct xsave_layout {
	uint64_t xfeatures;		/* 0: XSAVE not enabled, fxsave only */
	uint32_t size;			/* standard-format size for xfeatures */
	uint32_t offset[64], bytes[64];	/* per component, from CPUID 0xD */
};

static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* The features the kernel takes in a signal frame are XCR0 less the AMX tile
 * data, which is enabled per process on demand (XFD) and not part of the
 * default user size; offsets and sizes are the standard (non-compacted)
 * format the kernel uses for signal frames. */
static void xsave_layout_probe(struct xsave_layout *l)
{
	unsigned int eax, ebx, ecx, edx;
	int i;

	memset(l, 0, sizeof(*l));
	l->size = FXSAVE_SIZE;
	__cpuid(1, eax, ebx, ecx, edx);
	if (!(ecx & bit_OSXSAVE))
		return;
	l->xfeatures = read_xcr0() & ~(1ULL << XFEATURE_XTILE_DATA);
	l->size = XSAVE_HDR_END;
	for (i = XFEATURE_YMM; i < 63; i++) {
		if (!(l->xfeatures & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, eax, ebx, ecx, edx);
		l->bytes[i] = eax;
		l->offset[i] = ebx;
		if (ebx + eax > l->size)
			l->size = ebx + eax;
	}
}

uint64_t sigframe_xfeatures(void)
{
	struct xsave_layout l;

	xsave_layout_probe(&l);
	return l.xfeatures;
}

size_t sigframe_xsave_size(void)
{
	struct xsave_layout l;

	xsave_layout_probe(&l);
	return l.size;
}

size_t sigframe_room(void)
{
	/* 63 bytes of slack to align the start, the frame, then the fpstate
	 * with FP_XSTATE_MAGIC2 right after it. */
	return 63 + FRAME_SPAN + sigframe_xsave_size() + SF_FP_XSTATE_MAGIC2_SIZE;
}

static uint32_t cpu_mxcsr_mask(void)
{
	struct sf_fxsave fx __attribute__((aligned(16)));

	memset(&fx, 0, sizeof(fx));
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	return fx.mxcsr_mask ? fx.mxcsr_mask : MXCSR_DEFAULT_MASK;
}

static void fill_sigcontext(struct sf_sigcontext *sc, const UserX86RegsEntry *r)
{
	sc->r8 = r->r8;
	sc->r9 = r->r9;
	sc->r10 = r->r10;
	sc->r11 = r->r11;
	sc->r12 = r->r12;
	sc->r13 = r->r13;
	sc->r14 = r->r14;
	sc->r15 = r->r15;
	sc->di = r->di;
	sc->si = r->si;
	sc->bp = r->bp;
	sc->bx = r->bx;
	sc->dx = r->dx;
	sc->ax = r->ax;
	sc->cx = r->cx;
	sc->sp = r->sp;
	sc->ip = r->ip;
	sc->flags = r->flags;
	sc->cs = (uint16_t)r->cs;
	sc->ss = (uint16_t)r->ss;
	/* Ignored by rt_sigreturn on x86_64; kept for whoever reads the frame. */
	sc->fs = (uint16_t)r->fs;
	sc->gs = (uint16_t)r->gs;
}

/* The image's fpregs come from PTRACE_GETREGSET, already in fxsave format
 * (abridged twd included), so they are copied as they are. */
static int fill_fxsave(struct sf_fxsave *fx, const UserX86FpregsEntry *fp)
{
	uint32_t mask;

	if (fp->n_st_space != 32 || fp->n_xmm_space != 64)
		return error("sigframe: fpregs has %zu st_space and %zu xmm_space words, want 32 and 64",
			     fp->n_st_space, fp->n_xmm_space);
	if ((fp->cwd | fp->swd | fp->twd | fp->fop) > 0xffff)
		return error("sigframe: fpregs cwd/swd/twd/fop %#x/%#x/%#x/%#x do not fit 16 bits",
			     fp->cwd, fp->swd, fp->twd, fp->fop);
	mask = cpu_mxcsr_mask();
	if (fp->mxcsr & ~mask)
		return error("sigframe: mxcsr %#x has bits %#x this CPU does not support (mask %#x)",
			     fp->mxcsr, fp->mxcsr & ~mask, mask);

	fx->cwd = (uint16_t)fp->cwd;
	fx->swd = (uint16_t)fp->swd;
	fx->twd = (uint16_t)fp->twd;
	fx->fop = (uint16_t)fp->fop;
	fx->rip = fp->rip;
	fx->rdp = fp->rdp;
	fx->mxcsr = fp->mxcsr;
	fx->mxcsr_mask = fp->mxcsr_mask;
	memcpy(fx->st_space, fp->st_space, sizeof(fx->st_space));
	memcpy(fx->xmm_space, fp->xmm_space, sizeof(fx->xmm_space));
	return 0;
}

/* One extended component as CRIU stores it: `n` elements of `elem` bytes,
 * `want` bytes in all (CRIU's struct, which may be shorter than the CPU's
 * component, e.g. BNDCSR). */
struct xcomp_src {
	int bit;
	const char *name;
	const void *data;
	size_t n, elem, want;
};

static int copy_xcomponent(uint8_t *xbuf, const struct xsave_layout *l,
			   const struct xcomp_src *c)
{
	if (c->n * c->elem != c->want)
		return error("sigframe: xsave component %d (%s) has %zu bytes in the image, want %zu",
			     c->bit, c->name, c->n * c->elem, c->want);
	if (c->want > l->bytes[c->bit])
		return error("sigframe: xsave component %d (%s) is %zu bytes, this CPU's is %u",
			     c->bit, c->name, c->want, l->bytes[c->bit]);
	memcpy(xbuf + l->offset[c->bit], c->data, c->want);
	return 0;
}

static int fill_xsave(uint8_t *fpstate, const struct xsave_layout *l,
		      const UserX86XsaveEntry *xs)
{
	struct sf_fxsave *fx = (struct sf_fxsave *)fpstate;
	struct sf_xsave_header *hdr = (struct sf_xsave_header *)(fpstate + FXSAVE_SIZE);
	const struct xcomp_src comps[] = {
		{ XFEATURE_YMM, "ymmh_space", xs->ymmh_space, xs->n_ymmh_space, 4, 256 },
		{ XFEATURE_BNDREGS, "bndreg_state", xs->bndreg_state, xs->n_bndreg_state, 8, 64 },
		{ XFEATURE_BNDCSR, "bndcsr_state", xs->bndcsr_state, xs->n_bndcsr_state, 8, 16 },
		{ XFEATURE_OPMASK, "opmask_reg", xs->opmask_reg, xs->n_opmask_reg, 8, 64 },
		{ XFEATURE_ZMM_HI256, "zmm_upper", xs->zmm_upper, xs->n_zmm_upper, 8, 512 },
		{ XFEATURE_HI16_ZMM, "hi16_zmm", xs->hi16_zmm, xs->n_hi16_zmm, 8, 1024 },
		{ XFEATURE_PKRU, "pkru", xs->pkru, xs->n_pkru, 4, 8 },
	};
	uint64_t known = XFEATURE_MASK_FPSSE, missing;
	size_t i;

	missing = xs->xstate_bv & ~l->xfeatures;
	if (missing)
		return error("sigframe: image xstate_bv %#llx has feature bits %#llx this CPU has not enabled (XCR0 %#llx)",
			     (unsigned long long)xs->xstate_bv, (unsigned long long)missing,
			     (unsigned long long)l->xfeatures);

	/* A component whose xstate_bv bit is clear is put in its init state by
	 * XRSTOR without reading memory, so only the set ones are copied. */
	for (i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		known |= 1ULL << comps[i].bit;
		if (!(xs->xstate_bv & (1ULL << comps[i].bit)))
			continue;
		if (copy_xcomponent(fpstate, l, &comps[i]))
			return -1;
	}
	if (xs->xstate_bv & ~known)
		return error("sigframe: image xstate_bv %#llx has feature bits %#llx crstep cannot restore",
			     (unsigned long long)xs->xstate_bv,
			     (unsigned long long)(xs->xstate_bv & ~known));

	/* The legacy area always holds real values (ptrace fills in the init
	 * ones), so FP and SSE are marked present, as the kernel does for the
	 * frames it writes itself. */
	hdr->xstate_bv = xs->xstate_bv | XFEATURE_MASK_FPSSE;
	hdr->xcomp_bv = 0;

	fx->sw.magic1 = SF_FP_XSTATE_MAGIC1;
	fx->sw.xstate_size = l->size;
	fx->sw.extended_size = l->size + SF_FP_XSTATE_MAGIC2_SIZE;
	fx->sw.xfeatures = l->xfeatures;
	memcpy(fpstate + l->size, &(uint32_t){ SF_FP_XSTATE_MAGIC2 },
	       SF_FP_XSTATE_MAGIC2_SIZE);
	return 0;
}

static int check_thread_info(const ThreadInfoX86 *ti)
{
	if (!ti || !ti->gpregs || !ti->fpregs)
		return error("sigframe: thread_info without %s",
			     !ti ? "anything" : !ti->gpregs ? "gpregs" : "fpregs");
	if (ti->gpregs->has_mode && ti->gpregs->mode != USER_X86_REGS_MODE__NATIVE)
		return error("sigframe: thread is in compat (32-bit) mode, not supported");
	return 0;
}

int sigframe_build(void *area, size_t room, const ThreadInfoX86 *ti,
		   uint64_t blk_sigset, const ThreadSasEntry *sas,
		   uint64_t *rsp_out)
{
	struct xsave_layout l;
	const UserX86XsaveEntry *xs;
	struct sf_rt_sigframe *frame;
	uint8_t *base, *fpstate;
	uintptr_t start = (uintptr_t)area;

	if (check_thread_info(ti))
		return -1;
	xsave_layout_probe(&l);
	xs = ti->fpregs->xsave;
	/* An image with xsave on a machine without it: fine as long as only
	 * FP/SSE state is live, which the fxsave-only frame carries. */
	if (xs && !l.xfeatures && (xs->xstate_bv & ~XFEATURE_MASK_FPSSE))
		return error("sigframe: image xstate_bv %#llx needs XSAVE, which this CPU has not enabled",
			     (unsigned long long)xs->xstate_bv);
	if (!l.xfeatures)
		xs = NULL;

	base = (uint8_t *)ALIGN_UP(start, 64);
	if (room < (size_t)(base - (uint8_t *)area) + FRAME_SPAN + l.size + SF_FP_XSTATE_MAGIC2_SIZE)
		return error("sigframe: %zu bytes at %p are too few, need %zu",
			     room, area, sigframe_room());
	memset(area, 0, room);

	frame = (struct sf_rt_sigframe *)(base + FRAME_OFFSET);
	fpstate = base + FRAME_SPAN;

	fill_sigcontext(&frame->uc.uc_mcontext, ti->gpregs);
	if (fill_fxsave((struct sf_fxsave *)fpstate, ti->fpregs))
		return -1;
	if (xs && fill_xsave(fpstate, &l, xs))
		return -1;
	frame->uc.uc_mcontext.fpstate = (uintptr_t)fpstate;
	frame->uc.uc_mcontext.oldmask = blk_sigset;

	/* Take cs/ss from the frame as they are, as the kernel asks of 64-bit
	 * frames it writes itself. */
	frame->uc.uc_flags = SF_UC_SIGCONTEXT_SS | SF_UC_STRICT_RESTORE_SS;
	if (xs)
		frame->uc.uc_flags |= SF_UC_FP_XSTATE;
	frame->uc.uc_link = 0;
	frame->uc.uc_sigmask = blk_sigset;

	/* rt_sigreturn applies uc_stack with sigaltstack() semantics. */
	if (sas) {
		frame->uc.uc_stack.ss_sp = sas->ss_sp;
		frame->uc.uc_stack.ss_size = sas->ss_size;
		frame->uc.uc_stack.ss_flags = (int32_t)sas->ss_flags;
	} else {
		frame->uc.uc_stack.ss_flags = SS_DISABLE;
	}

	*rsp_out = (uintptr_t)&frame->uc;
	return 0;
}
