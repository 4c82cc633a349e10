// The losses of a model's outputs as the compiled program computes them: each row's loss and the
// gradient of the batch's loss, written in one pass. Letters: B rows, K outputs per row.
// The batch's loss is Keras' "sum over batch size": sum_i w_i l_i / B, where l_i is row i's loss
// (a mean over its K entries for the element-wise losses) and w_i its sample weight (1 without).
#pragma once

#include <cstdint>

namespace fastnn {

// softmax_xent and sigmoid_bce read the logits z and fold the output activation into the loss,
// as Keras does with a softmax or sigmoid output: exact, and stable where clipped probabilities
// would stop the gradient. mse and mae read the predictions p (after any output activation).
enum class LossKind : int { none = 0, softmax_xent, sigmoid_bce, mse, mae, count };

struct LossTargets {
    const int64_t* labels = nullptr;  // B class indices in [0, K) (softmax_xent only), or
    const float* rows = nullptr;      // B x K target rows, contiguous
    const float* weights = nullptr;   // B sample weights, or null for all 1
};

// row_loss[i] = w_i l_i (B doubles); g (B x K) = scale * w_i * d l_i / d(input), the input being
// z or p as above. scale is the output's loss weight divided by B (so the gradients add up to
// those of the weighted mean). row_loss may not alias anything; g may not alias the input.
void output_loss(LossKind kind, double* row_loss, float* g, const float* input,
                 const LossTargets& t, int64_t B, int64_t K, float scale);

}  // namespace fastnn
