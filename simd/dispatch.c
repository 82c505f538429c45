/* dispatch.c - choose the kernel set at run time. */
#include "error.h"
#include "kernels.h"

gptoss_status gptoss_kernels_select(gptoss_kernel_isa isa, const gptoss_kernels **out) {
    switch (isa) {
    case GPTOSS_KERNELS_AUTO:
    case GPTOSS_KERNELS_SCALAR: *out = &gptoss_kernels_scalar; return GPTOSS_OK;
    case GPTOSS_KERNELS_AVX2:
    case GPTOSS_KERNELS_AVX512:
    case GPTOSS_KERNELS_NEON: break;
    }
    *out = NULL;
    return gptoss_fail(GPTOSS_ERROR_UNSUPPORTED, "kernel set %d is not available in this build", (int)isa);
}
