/* dispatch.c - choose the kernel set at run time from what the CPU reports
 * (cpuid + xgetbv on x86-64, hwcaps / sysctl on AArch64). */
#include <string.h>

#include "error.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

typedef struct x86_features {
    int avx2, avx512, vnni;
} x86_features;

__attribute__((unused)) static x86_features detect_x86(void) {
    x86_features f = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return f;
    /* The OS must save the wide registers: XCR0 bits 1-2 (SSE, AVX), 5-7 (AVX-512). */
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const int ymm_ok = (xcr0_lo & 0x6) == 0x6, zmm_ok = (xcr0_lo & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    const int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1, avx512vnni = (c >> 11) & 1;
    f.avx2 = ymm_ok && avx2 && fma && f16c;
    f.avx512 = f.avx2 && zmm_ok && avx512f && avx512dq && avx512bw && avx512vl;
    f.vnni = f.avx512 && avx512vnni;
    return f;
}
#endif

#if defined(__aarch64__)
#if defined(__APPLE__)
#include <sys/sysctl.h>
__attribute__((unused)) static int has_dotprod(void) {
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && value;
}
#elif defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
__attribute__((unused)) static int has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#else
__attribute__((unused)) static int has_dotprod(void) { return 0; }
#endif
#endif

/* The best set for isa on this CPU, or NULL. */
static const gptoss_kernels *find(gptoss_kernel_isa isa) {
    switch (isa) {
    case GPTOSS_KERNELS_SCALAR: return &gptoss_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
    case GPTOSS_KERNELS_AVX2: {
#if defined(GPTOSS_HAVE_AVX2)
        if (detect_x86().avx2) return &gptoss_kernels_avx2;
#endif
        return NULL;
    }
    case GPTOSS_KERNELS_AVX512: {
        x86_features f = detect_x86();
        (void)f;
#if defined(GPTOSS_HAVE_AVX512_VNNI)
        if (f.vnni) return &gptoss_kernels_avx512_vnni;
#endif
#if defined(GPTOSS_HAVE_AVX512)
        if (f.avx512) return &gptoss_kernels_avx512;
#endif
        return NULL;
    }
#endif
#if defined(__aarch64__)
    case GPTOSS_KERNELS_NEON: {
#if defined(GPTOSS_HAVE_NEON_DOTPROD)
        if (has_dotprod()) return &gptoss_kernels_neon_dotprod;
#endif
#if defined(GPTOSS_HAVE_NEON)
        return &gptoss_kernels_neon;
#endif
        return NULL;
    }
#endif
    case GPTOSS_KERNELS_AUTO: {
        static const gptoss_kernel_isa preference[] = {GPTOSS_KERNELS_AVX512, GPTOSS_KERNELS_AVX2,
                                                       GPTOSS_KERNELS_NEON};
        for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++) {
            const gptoss_kernels *k = find(preference[i]);
            if (k) return k;
        }
        return &gptoss_kernels_scalar;
    }
    default: return NULL;
    }
}

int gptoss_kernels_available(gptoss_kernel_isa isa) { return find(isa) != NULL; }

gptoss_status gptoss_kernels_select(gptoss_kernel_isa isa, const gptoss_kernels **out) {
    *out = find(isa);
    if (*out) return GPTOSS_OK;
    return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "this CPU (or build) cannot run the %s kernels",
                       gptoss_kernel_isa_name(isa) ? gptoss_kernel_isa_name(isa) : "requested");
}

static const char *const isa_names[] = {
    [GPTOSS_KERNELS_AUTO] = "auto",   [GPTOSS_KERNELS_SCALAR] = "scalar", [GPTOSS_KERNELS_AVX2] = "avx2",
    [GPTOSS_KERNELS_AVX512] = "avx512", [GPTOSS_KERNELS_NEON] = "neon",
};

const char *gptoss_kernel_isa_name(gptoss_kernel_isa isa) {
    return isa > GPTOSS_KERNELS_AUTO && isa <= GPTOSS_KERNELS_NEON ? isa_names[isa] : NULL;
}

int gptoss_kernel_isa_parse(const char *name, gptoss_kernel_isa *out) {
    for (int i = 0; i <= (int)GPTOSS_KERNELS_NEON; i++)
        if (!strcmp(name, isa_names[i])) {
            *out = (gptoss_kernel_isa)i;
            return 1;
        }
    return 0;
}
