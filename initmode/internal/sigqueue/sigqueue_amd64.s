#include "textflag.h"

// sigtramp is the signal handler Catch installs; the kernel calls it with
// the System V ABI (DI = signal number, SI = siginfo, DX = ucontext) on the
// thread's alternate signal stack, with every signal blocked, and it returns
// to the restorer. It touches no Go state but pending and wfd: pending |=
// 1<<(sig-1), then write(wfd, &wakeByte, 1). A full pipe (EAGAIN) loses
// nothing: the bytes already in it wake the reader, which reads pending
// after them. The kernel restores every register on return.
//
// A signal the process sent itself (si_code SI_USER, si_pid its own pid) is
// dropped: that is the kernel's SIGPIPE for init's own write to a pipe
// nobody reads, which is not the child's business.
TEXT ·sigtramp(SB),NOSPLIT|NOFRAME,$0
	MOVL	8(SI), AX // si_code
	CMPL	AX, $0
	JNE	record
	MOVL	16(SI), AX // si_pid
	CMPL	AX, ·selfPid(SB)
	JNE	record
	RET
record:
	MOVQ	DI, CX
	SUBQ	$1, CX
	MOVQ	$1, AX
	SHLQ	CX, AX
	LOCK
	ORQ	AX, ·pending(SB)
	MOVLQSX	·wfd(SB), DI
	LEAQ	·wakeByte(SB), SI
	MOVQ	$1, DX
	MOVQ	$1, AX // SYS_write
	SYSCALL
	RET

// sigtrampFault is the handler for the signals Go's runtime turns into
// panics (SIGSEGV, SIGBUS...): one sent by a process (si_code <= 0:
// SI_USER, SI_TKILL, SI_QUEUE) is queued like any other; a real fault
// (si_code > 0) goes on to the runtime's handler, with the arguments the
// kernel gave, as if the kernel had called it.
TEXT ·sigtrampFault(SB),NOSPLIT|NOFRAME,$0
	MOVL	8(SI), AX // si_code
	CMPL	AX, $0
	JLE	queue
	LEAQ	·goHandlers(SB), AX
	MOVQ	(AX)(DI*8), AX
	JMP	AX
queue:
	JMP	·sigtramp(SB)

// func handlerPCs() (all, fault uintptr)
TEXT ·handlerPCs(SB),NOSPLIT,$0-16
	MOVQ	$·sigtramp(SB), AX
	MOVQ	AX, all+0(FP)
	MOVQ	$·sigtrampFault(SB), AX
	MOVQ	AX, fault+8(FP)
	RET
