#include "textflag.h"

// sigtramp is the signal handler Catch installs; the kernel calls it with
// the System V ABI (DI = signal number) on the thread's alternate signal
// stack, with every signal blocked, and it returns to the restorer. It
// touches no Go state but pending and wfd: pending |= 1<<(sig-1), then
// write(wfd, &wakeByte, 1). A full pipe (EAGAIN) loses nothing: the bytes
// already in it wake the reader, which reads pending after them. The kernel
// restores every register on return.
TEXT ·sigtramp(SB),NOSPLIT|NOFRAME,$0
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

// func handlerPC() uintptr
TEXT ·handlerPC(SB),NOSPLIT,$0-8
	MOVQ	$·sigtramp(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
