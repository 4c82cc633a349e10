// The dispatch from an OptimizerStep to the fused update kernel of its kind.
#include "optimizer_step.h"

#include <stdexcept>

#include "../kernels/optim.h"

namespace fastnn {

void optimizer_update(const OptimizerStep& s) {
    const float* h = s.h;
    switch (s.kind) {
        case OptimizerKind::sgd: sgd_update(s.param, s.slot0, s.grad, s.n, h[0], h[1], s.nesterov); break;
        case OptimizerKind::rmsprop:
            rmsprop_update(s.param, s.slot0, s.slot1, s.grad, s.n, h[0], h[1], h[2], h[3], h[4]);
            break;
        case OptimizerKind::adagrad: adagrad_update(s.param, s.slot0, s.grad, s.n, h[0], h[1]); break;
        case OptimizerKind::adam: adam_update(s.param, s.slot0, s.slot1, s.grad, s.n, h[0], h[1], h[2], h[3]); break;
        default: throw std::invalid_argument("unknown optimizer kind");
    }
}

}  // namespace fastnn
