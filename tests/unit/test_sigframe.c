/* test_sigframe.c: a frame from sigframe_build, run through a real
 * rt_sigreturn, must land in an assembly function with every register,
 * xmm/ymm state, mxcsr, x87 control word, PKRU, blocked mask and sigaltstack
 * the hand-made image asked for. */
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigframe.h"
#include "tap.h"

/* What the landing pad saw, filled by assembly: keep the offsets in sync. */
struct landed {
	uint64_t gpr[16];		/*   0: rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
	uint64_t rflags;		/* 128 */
	uint32_t mxcsr;			/* 136 */
	uint16_t fcw;			/* 140 */
	uint16_t pad0;
	uint32_t pkru;			/* 144 */
	uint32_t pad1[3];
	uint8_t xmm[16][16];		/* 160 */
	uint8_t ymmh[16][16];		/* 416 */
};
_Static_assert(__builtin_offsetof(struct landed, rflags) == 128, "landed");
_Static_assert(__builtin_offsetof(struct landed, mxcsr) == 136, "landed");
_Static_assert(__builtin_offsetof(struct landed, fcw) == 140, "landed");
_Static_assert(__builtin_offsetof(struct landed, pkru) == 144, "landed");
_Static_assert(__builtin_offsetof(struct landed, xmm) == 160, "landed");
_Static_assert(__builtin_offsetof(struct landed, ymmh) == 416, "landed");

enum { RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8, R9, R10, R11, R12, R13, R14, R15 };
static const char *const gpr_name[16] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* Shared with the assembly below, hence not static. */
struct landed sft_landed;
int sft_have_avx, sft_have_pkru;
uint64_t sft_saved_rsp;
uint32_t sft_saved_mxcsr, sft_saved_pkru;
uint16_t sft_saved_fcw;

void sft_sigreturn(uint64_t rsp);
extern char sft_landing[];

/* sft_sigreturn(rsp): save the callee-saved registers and the FP control
 * state, switch rsp to the frame and rt_sigreturn.  The kernel "returns" to
 * sft_landing, which records everything, puts the C environment back and
 * returns from sft_sigreturn as if it were an ordinary call. */
__asm__(
	"	.text\n"
	"	.globl sft_sigreturn\n"
	"	.type sft_sigreturn, @function\n"
	"sft_sigreturn:\n"
	"	push %rbp\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	stmxcsr sft_saved_mxcsr(%rip)\n"
	"	fnstcw sft_saved_fcw(%rip)\n"
	"	cmpl $0, sft_have_pkru(%rip)\n"
	"	je 1f\n"
	"	xor %ecx, %ecx\n"
	"	rdpkru\n"
	"	mov %eax, sft_saved_pkru(%rip)\n"
	"1:	mov %rsp, sft_saved_rsp(%rip)\n"
	"	mov %rdi, %rsp\n"
	"	mov $15, %eax\n"	/* __NR_rt_sigreturn */
	"	syscall\n"
	"	ud2\n"
	"	.size sft_sigreturn, .-sft_sigreturn\n"
	"\n"
	"	.globl sft_landing\n"
	"	.type sft_landing, @function\n"
	"sft_landing:\n"
	"	mov %rax, sft_landed+0(%rip)\n"
	"	mov %rbx, sft_landed+8(%rip)\n"
	"	mov %rcx, sft_landed+16(%rip)\n"
	"	mov %rdx, sft_landed+24(%rip)\n"
	"	mov %rsi, sft_landed+32(%rip)\n"
	"	mov %rdi, sft_landed+40(%rip)\n"
	"	mov %rbp, sft_landed+48(%rip)\n"
	"	mov %rsp, sft_landed+56(%rip)\n"
	"	mov %r8, sft_landed+64(%rip)\n"
	"	mov %r9, sft_landed+72(%rip)\n"
	"	mov %r10, sft_landed+80(%rip)\n"
	"	mov %r11, sft_landed+88(%rip)\n"
	"	mov %r12, sft_landed+96(%rip)\n"
	"	mov %r13, sft_landed+104(%rip)\n"
	"	mov %r14, sft_landed+112(%rip)\n"
	"	mov %r15, sft_landed+120(%rip)\n"
	"	pushfq\n"
	"	popq sft_landed+128(%rip)\n"
	"	cld\n"
	"	stmxcsr sft_landed+136(%rip)\n"
	"	fnstcw sft_landed+140(%rip)\n"
	"	movdqu %xmm0, sft_landed+160(%rip)\n"
	"	movdqu %xmm1, sft_landed+176(%rip)\n"
	"	movdqu %xmm2, sft_landed+192(%rip)\n"
	"	movdqu %xmm3, sft_landed+208(%rip)\n"
	"	movdqu %xmm4, sft_landed+224(%rip)\n"
	"	movdqu %xmm5, sft_landed+240(%rip)\n"
	"	movdqu %xmm6, sft_landed+256(%rip)\n"
	"	movdqu %xmm7, sft_landed+272(%rip)\n"
	"	movdqu %xmm8, sft_landed+288(%rip)\n"
	"	movdqu %xmm9, sft_landed+304(%rip)\n"
	"	movdqu %xmm10, sft_landed+320(%rip)\n"
	"	movdqu %xmm11, sft_landed+336(%rip)\n"
	"	movdqu %xmm12, sft_landed+352(%rip)\n"
	"	movdqu %xmm13, sft_landed+368(%rip)\n"
	"	movdqu %xmm14, sft_landed+384(%rip)\n"
	"	movdqu %xmm15, sft_landed+400(%rip)\n"
	"	cmpl $0, sft_have_avx(%rip)\n"
	"	je 2f\n"
	"	vextractf128 $1, %ymm0, sft_landed+416(%rip)\n"
	"	vextractf128 $1, %ymm1, sft_landed+432(%rip)\n"
	"	vextractf128 $1, %ymm2, sft_landed+448(%rip)\n"
	"	vextractf128 $1, %ymm3, sft_landed+464(%rip)\n"
	"	vextractf128 $1, %ymm4, sft_landed+480(%rip)\n"
	"	vextractf128 $1, %ymm5, sft_landed+496(%rip)\n"
	"	vextractf128 $1, %ymm6, sft_landed+512(%rip)\n"
	"	vextractf128 $1, %ymm7, sft_landed+528(%rip)\n"
	"	vextractf128 $1, %ymm8, sft_landed+544(%rip)\n"
	"	vextractf128 $1, %ymm9, sft_landed+560(%rip)\n"
	"	vextractf128 $1, %ymm10, sft_landed+576(%rip)\n"
	"	vextractf128 $1, %ymm11, sft_landed+592(%rip)\n"
	"	vextractf128 $1, %ymm12, sft_landed+608(%rip)\n"
	"	vextractf128 $1, %ymm13, sft_landed+624(%rip)\n"
	"	vextractf128 $1, %ymm14, sft_landed+640(%rip)\n"
	"	vextractf128 $1, %ymm15, sft_landed+656(%rip)\n"
	"	vzeroupper\n"
	"2:	cmpl $0, sft_have_pkru(%rip)\n"
	"	je 3f\n"
	"	xor %ecx, %ecx\n"
	"	rdpkru\n"
	"	mov %eax, sft_landed+144(%rip)\n"
	"	mov sft_saved_pkru(%rip), %eax\n"
	"	xor %ecx, %ecx\n"
	"	xor %edx, %edx\n"
	"	wrpkru\n"
	"3:	ldmxcsr sft_saved_mxcsr(%rip)\n"
	"	fldcw sft_saved_fcw(%rip)\n"
	"	mov sft_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	"	.size sft_landing, .-sft_landing\n");

#define XFEATURE_YMM	2
#define XFEATURE_PKRU	9
#define TEST_FLAGS	0xed7ULL	/* IF|DF|OF|SF|ZF|AF|PF|CF and bit 1 */
#define CHECKED_FLAGS	0xcd5ULL	/* the arithmetic ones plus DF */
#define TEST_MXCSR	0x3f80U		/* all masked, round down */
#define TEST_FCW	0x27fU		/* 53-bit precision */

/* A hand-made image, the arrays owned by the struct. */
struct image {
	ThreadInfoX86 ti;
	UserX86RegsEntry gp;
	UserX86FpregsEntry fp;
	UserX86XsaveEntry xs;
	uint32_t st_space[32], xmm_space[64], ymmh_space[64], pkru[2];
};

static uint8_t landing_stack[16384] __attribute__((aligned(16)));
static uint8_t alt_stack[65536] __attribute__((aligned(16)));

static uint32_t read_pkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void image_init(struct image *im, int with_xsave)
{
	static const UserX86RegsEntry gp = USER_X86_REGS_ENTRY__INIT;
	static const UserX86FpregsEntry fp = USER_X86_FPREGS_ENTRY__INIT;
	static const UserX86XsaveEntry xs = USER_X86_XSAVE_ENTRY__INIT;
	static const ThreadInfoX86 ti = THREAD_INFO_X86__INIT;
	uint64_t *r[16];
	int i;

	memset(im, 0, sizeof(*im));
	im->gp = gp;
	im->fp = fp;
	im->xs = xs;
	im->ti = ti;
	im->ti.gpregs = &im->gp;
	im->ti.fpregs = &im->fp;

	r[RAX] = &im->gp.ax; r[RBX] = &im->gp.bx; r[RCX] = &im->gp.cx;
	r[RDX] = &im->gp.dx; r[RSI] = &im->gp.si; r[RDI] = &im->gp.di;
	r[RBP] = &im->gp.bp; r[RSP] = &im->gp.sp; r[R8] = &im->gp.r8;
	r[R9] = &im->gp.r9; r[R10] = &im->gp.r10; r[R11] = &im->gp.r11;
	r[R12] = &im->gp.r12; r[R13] = &im->gp.r13; r[R14] = &im->gp.r14;
	r[R15] = &im->gp.r15;
	for (i = 0; i < 16; i++)
		*r[i] = 0x5a00000000000000ULL + (uint64_t)(i + 1) * 0x0101010101ULL;
	im->gp.sp = (uintptr_t)(landing_stack + sizeof(landing_stack) - 64);
	im->gp.ip = (uintptr_t)sft_landing;
	im->gp.cs = 0x33;
	im->gp.ss = 0x2b;
	im->gp.flags = TEST_FLAGS;
	im->gp.orig_ax = 35;		/* nanosleep: must not matter */
	im->gp.fs_base = 0xdead0000;	/* not restored by rt_sigreturn */

	im->fp.cwd = TEST_FCW;
	im->fp.mxcsr = TEST_MXCSR;
	im->fp.mxcsr_mask = 0xffff;
	im->fp.n_st_space = 32;
	im->fp.st_space = im->st_space;
	im->fp.n_xmm_space = 64;
	im->fp.xmm_space = im->xmm_space;
	for (i = 0; i < 64; i++) {
		im->xmm_space[i] = 0xc0de0000U + (uint32_t)i;
		im->ymmh_space[i] = 0xbeef0000U + (uint32_t)i;
	}
	if (!with_xsave)
		return;
	im->fp.xsave = &im->xs;
	im->xs.xstate_bv = 0x3;
	if (sft_have_avx) {
		im->xs.xstate_bv |= 1ULL << XFEATURE_YMM;
		im->xs.n_ymmh_space = 64;
		im->xs.ymmh_space = im->ymmh_space;
	}
	if (sft_have_pkru) {
		/* Flip access to pkey 15, which nothing in this test uses. */
		im->pkru[0] = read_pkru() ^ 0xc0000000U;
		im->xs.xstate_bv |= 1ULL << XFEATURE_PKRU;
		im->xs.n_pkru = 2;
		im->xs.pkru = im->pkru;
	}
}

/* Build the frame in heap memory and rt_sigreturn through it. */
static int run_frame(const struct image *im, uint64_t blk, const ThreadSasEntry *sas)
{
	size_t room = sigframe_room();
	void *area = malloc(room);
	uint64_t rsp = 0;

	if (!area)
		return -1;
	memset(&sft_landed, 0, sizeof(sft_landed));
	if (sigframe_build(area, room, &im->ti, blk, sas, &rsp)) {
		free(area);
		return -1;
	}
	if (rsp % 16 || rsp - 8 < (uintptr_t)area || rsp >= (uintptr_t)area + room) {
		free(area);
		return -1;
	}
	sft_sigreturn(rsp);
	free(area);
	return 0;
}

static void check_gprs(const struct image *im)
{
	const uint64_t *want[16] = {
		&im->gp.ax, &im->gp.bx, &im->gp.cx, &im->gp.dx, &im->gp.si,
		&im->gp.di, &im->gp.bp, &im->gp.sp, &im->gp.r8, &im->gp.r9,
		&im->gp.r10, &im->gp.r11, &im->gp.r12, &im->gp.r13, &im->gp.r14,
		&im->gp.r15,
	};
	int i, bad = 0;

	for (i = 0; i < 16; i++) {
		if (sft_landed.gpr[i] == *want[i])
			continue;
		diag("%s: got %#llx want %#llx", gpr_name[i],
		     (unsigned long long)sft_landed.gpr[i], (unsigned long long)*want[i]);
		bad++;
	}
	ok(!bad, "all 16 general registers (rsp included) come back");
	ok((sft_landed.rflags & CHECKED_FLAGS) == (im->gp.flags & CHECKED_FLAGS),
	   "eflags arithmetic bits and DF come back (%#llx)",
	   (unsigned long long)sft_landed.rflags);
}

static void check_fpu(const struct image *im, int want_ymmh)
{
	uint8_t zero[16][16] = { { 0 } };

	ok(sft_landed.mxcsr == im->fp.mxcsr, "mxcsr %#x (want %#x)",
	   sft_landed.mxcsr, im->fp.mxcsr);
	ok(sft_landed.fcw == im->fp.cwd, "x87 control word %#x (want %#x)",
	   sft_landed.fcw, im->fp.cwd);
	ok(!memcmp(sft_landed.xmm, im->xmm_space, sizeof(sft_landed.xmm)),
	   "xmm0..15 come back");
	if (!sft_have_avx)
		return;
	if (want_ymmh)
		ok(!memcmp(sft_landed.ymmh, im->ymmh_space, sizeof(sft_landed.ymmh)),
		   "ymm0..15 upper halves come back (xsave frame accepted by the kernel)");
	else
		ok(!memcmp(sft_landed.ymmh, zero, sizeof(zero)),
		   "ymm upper halves are in init state (fxsave-only frame)");
}

static uint64_t first_sigword(const sigset_t *set)
{
	uint64_t w;

	memcpy(&w, set, sizeof(w));
	return w;
}

static void test_layout(void)
{
	unsigned int eax, ebx, ecx, edx;
	uint64_t xf = sigframe_xfeatures();

	diag("signal frame xfeatures %#llx, xsave size %zu, room %zu",
	     (unsigned long long)xf, sigframe_xsave_size(), sigframe_room());
	ok(sigframe_room() >= 440 + 512 + 63, "room holds frame, fxsave and slack");
	if (!xf)
		return;
	__cpuid_count(0xd, 0, eax, ebx, ecx, edx);
	(void)ecx;
	__asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	if (!(((uint64_t)edx << 32 | eax) & (1ULL << 18)))	/* no AMX tile data */
		ok(sigframe_xsave_size() == ebx,
		   "xsave size %zu matches CPUID 0xD.0 EBX %u", sigframe_xsave_size(), ebx);
}

static void test_xsave_roundtrip(void)
{
	struct image im;
	ThreadSasEntry sas = THREAD_SAS_ENTRY__INIT;
	uint64_t blk = (1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGWINCH - 1)) | (1ULL << (40 - 1));
	sigset_t old_mask, mask;
	stack_t old_ss, ss;

	image_init(&im, 1);
	sas.ss_sp = (uintptr_t)alt_stack;
	sas.ss_size = sizeof(alt_stack);
	sas.ss_flags = 0;

	sigprocmask(SIG_SETMASK, NULL, &old_mask);
	sigaltstack(NULL, &old_ss);
	if (!ok(!run_frame(&im, blk, &sas), "xsave frame built and rt_sigreturn'd"))
		return;
	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigaltstack(NULL, &ss);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaltstack(&old_ss, NULL);

	check_gprs(&im);
	check_fpu(&im, 1);
	if (sft_have_pkru)
		ok(sft_landed.pkru == im.pkru[0], "PKRU %#x (want %#x)",
		   sft_landed.pkru, im.pkru[0]);
	ok(first_sigword(&mask) == blk, "blocked mask %#llx (want %#llx)",
	   (unsigned long long)first_sigword(&mask), (unsigned long long)blk);
	ok(ss.ss_sp == alt_stack && ss.ss_size == sizeof(alt_stack) && ss.ss_flags == 0,
	   "sigaltstack %p+%zu flags %d restored", ss.ss_sp, ss.ss_size, ss.ss_flags);
}

static void test_fxsave_roundtrip(void)
{
	struct image im;
	stack_t old_ss, ss;
	sigset_t old_mask, mask;

	image_init(&im, 0);
	im.gp.ax = (uint64_t)-EINTR;	/* CRIU's interrupted nanosleep */
	sigprocmask(SIG_SETMASK, NULL, &old_mask);
	sigaltstack(NULL, &old_ss);
	if (!ok(!run_frame(&im, 0, NULL), "fxsave-only frame built and rt_sigreturn'd"))
		return;
	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigaltstack(NULL, &ss);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaltstack(&old_ss, NULL);

	check_gprs(&im);
	ok(sft_landed.gpr[RAX] == (uint64_t)-EINTR, "rax -EINTR is not turned into a restart");
	check_fpu(&im, 0);
	ok(first_sigword(&mask) == 0, "empty blocked mask");
	ok(ss.ss_flags & SS_DISABLE, "NULL sas means sigaltstack disabled");
}

static void test_refusals(void)
{
	struct image im;
	uint64_t xf = sigframe_xfeatures(), rsp = 0;
	size_t room = sigframe_room();
	void *area = malloc(room);
	int bit;

	if (!area)
		return;
	if (xf) {
		for (bit = 2; bit < 63 && (xf & (1ULL << bit)); bit++)
			;
		image_init(&im, 1);
		im.xs.xstate_bv |= 1ULL << bit;
		diag("expect an error about feature bit %d:", bit);
		ok(sigframe_build(area, room, &im.ti, 0, NULL, &rsp) == -1,
		   "xstate_bv bit %d the CPU has not enabled is refused", bit);

		/* The counter fixture was dumped on an AVX-512 machine. */
		if ((xf & 0xa2) != 0xa2) {
			image_init(&im, 1);
			im.xs.xstate_bv = 0xa2;
			ok(sigframe_build(area, room, &im.ti, 0, NULL, &rsp) == -1,
			   "fixture-like xstate_bv 0xa2 (opmask, hi16_zmm) is refused here");
		}
	}

	image_init(&im, 0);
	im.fp.n_xmm_space = 32;
	ok(sigframe_build(area, room, &im.ti, 0, NULL, &rsp) == -1,
	   "short xmm_space is refused");

	image_init(&im, 0);
	im.fp.mxcsr = 0xffffffffU;
	ok(sigframe_build(area, room, &im.ti, 0, NULL, &rsp) == -1,
	   "mxcsr bits outside MXCSR_MASK are refused");

	image_init(&im, 0);
	ok(sigframe_build(area, 100, &im.ti, 0, NULL, &rsp) == -1,
	   "too little room is refused");
	free(area);
}

int main(void)
{
	uint64_t xf = sigframe_xfeatures();

	sft_have_avx = !!(xf & (1ULL << XFEATURE_YMM));
	sft_have_pkru = !!(xf & (1ULL << XFEATURE_PKRU));
	diag("avx %d pkru %d", sft_have_avx, sft_have_pkru);

	test_layout();
	test_xsave_roundtrip();
	test_fxsave_roundtrip();
	test_refusals();
	return done_testing();
}
