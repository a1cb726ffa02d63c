//go:build !purego

#include "textflag.h"

// func sealSSE42(b []byte) int
//
// A record is a 4-byte header CRC, 16 bytes of fields (body length n first), the body and a
// 4-byte CRC. The header CRC is CRC-32C of the fields; the last one continues it over the
// body, so one running value serves both: it is inverted only where it is stored.
TEXT ·sealSSE42(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI // the record being sealed
	MOVQ b_len+8(FP), DX  // bytes left from SI
	MOVQ SI, R10          // start of b, for the count returned

record:
	CMPQ DX, $24          // a record with an empty body
	JB   done
	MOVL 4(SI), CX        // n, zero-extended: a seal mark's 2^32-1 cannot wrap below
	LEAQ 24(CX), R9       // the record's length
	CMPQ R9, DX
	JA   done

	MOVL   $0xffffffff, AX
	CRC32Q 4(SI), AX
	CRC32Q 12(SI), AX
	MOVL   AX, BX
	NOTL   BX
	MOVL   BX, (SI)
	LEAQ   20(SI), DI     // the body

body8:
	CMPQ   CX, $8
	JB     body1
	CRC32Q (DI), AX
	ADDQ   $8, DI
	SUBQ   $8, CX
	JMP    body8

body1:
	TESTQ  CX, CX
	JZ     stored
	CRC32B (DI), AX
	INCQ   DI
	DECQ   CX
	JMP    body1

stored:
	NOTL AX
	MOVL AX, (DI)
	ADDQ R9, SI
	SUBQ R9, DX
	JMP  record

done:
	SUBQ R10, SI
	MOVQ SI, ret+24(FP)
	RET
