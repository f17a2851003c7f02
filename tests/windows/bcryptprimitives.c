/*
 * A stand-in for Windows' bcryptprimitives.dll, for running latchkey's TESTS under Wine only.
 *
 * Rust's standard library for Windows gets its randomness from ProcessPrng in
 * bcryptprimitives.dll (Windows 10 and later). Wine 8.0, Debian bookworm's, has no such DLL, so
 * every Rust program stops at start there ("Library bcryptprimitives.dll ... not found").
 * .ci/windows builds this file with mingw-w64 at test time and puts the DLL beside the test
 * copies of latchkey.exe and of the unit-test executable, where Windows looks first. It is never
 * committed as a binary and never shipped: the released latchkey.exe is the standard one, and
 * real Windows loads its own bcryptprimitives.dll.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name (ntsecapi.h would #define it so). */
__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* What Rust calls: fill `data` with `length` random bytes. Windows documents it as always
 * returning TRUE; this one says FALSE if RtlGenRandom fails, which Rust then reports. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
