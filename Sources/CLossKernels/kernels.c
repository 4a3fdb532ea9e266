// Instantiates kernels_template.inc for float and double. Accumulations run in
// double for both (sums of exponentials, row sums), so Float results carry only
// the rounding of their inputs and outputs.
#include "lk_kernels.h"
#include <math.h>

#define T float
#define S f32
#define EXP expf
#define LOG logf
#include "kernels_template.inc"
#undef T
#undef S
#undef EXP
#undef LOG

#define T double
#define S f64
#define EXP exp
#define LOG log
#include "kernels_template.inc"
