/*
 * bcryptprimitives.dll for Wine 8.0 (Debian 12), which lacks it: Go 1.22 and
 * later get their random numbers from its ProcessPrng, present on Windows 10
 * and later, and stop at start without it ("bcryptprimitives.dll not found").
 * The Wine smoke test (e2e/packaging_test.go) builds this into its Wine
 * prefix's system32; it is never shipped.
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
