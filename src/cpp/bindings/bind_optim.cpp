// Bindings of the fused optimizer updates (Keras' SGD, RMSprop, Adagrad, Adam) on flat buffers.
#include "../kernels/optim.h"
#include "common.h"

namespace fastnn_bindings {

using namespace fastnn;

namespace {

void sgd_update_binding(py::array& param, const py::array& grad, const py::object& velocity,
                        double learning_rate, double momentum, bool nesterov) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* v = optional_slot_ptr(velocity, param, "velocity", momentum != 0.0,
                                 "when momentum != 0");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {v, "velocity"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, v}, grad_copy);
    // The variant follows the double momentum, as Keras' `if self.momentum != 0`.
    if (momentum == 0.0) v = nullptr;
    ReleaseGil release;  // never cancelled: a half-applied update would corrupt the weights
    sgd_update(w, v, g, n, static_cast<float>(learning_rate), static_cast<float>(momentum),
               nesterov);
}

void rmsprop_update_binding(py::array& param, const py::array& grad, py::array& velocity,
                            const py::object& momentum_buffer, double learning_rate, double rho,
                            double momentum, double epsilon) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* v = inplace_ptr(velocity, param, "velocity");
    float* m = optional_slot_ptr(momentum_buffer, param, "momentum_buffer", momentum > 0.0,
                                 "when momentum > 0");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {v, "velocity"}, {m, "momentum_buffer"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, v, m}, grad_copy);
    // (1 - rho) in double, rounded once: what Keras gets from its Python-float rho.
    const float one_minus_rho = static_cast<float>(1.0 - rho);
    // The variant follows the double momentum, as Keras' `if self.momentum > 0`.
    if (!(momentum > 0.0)) m = nullptr;
    ReleaseGil release;  // never cancelled: a half-applied update would corrupt the weights
    rmsprop_update(w, v, m, g, n, static_cast<float>(learning_rate), static_cast<float>(rho),
                   one_minus_rho, static_cast<float>(momentum), static_cast<float>(epsilon));
}

void adagrad_update_binding(py::array& param, const py::array& grad, py::array& accumulator,
                            double learning_rate, double epsilon) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* acc = inplace_ptr(accumulator, param, "accumulator");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {acc, "accumulator"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, acc}, grad_copy);
    ReleaseGil release;  // never cancelled: a half-applied update would corrupt the weights
    adagrad_update(w, acc, g, n, static_cast<float>(learning_rate), static_cast<float>(epsilon));
}

void adam_update_binding(py::array& param, const py::array& grad, py::array& m, py::array& v,
                         int64_t step, double learning_rate, double beta_1, double beta_2,
                         double epsilon) {
    if (step < 1)
        throw py::value_error("step must be >= 1 (1-based); Received: step=" +
                              std::to_string(step));
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* pm = inplace_ptr(m, param, "m");
    float* pv = inplace_ptr(v, param, "v");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {pm, "m"}, {pv, "v"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, pm, pv}, grad_copy);
    const float alpha = static_cast<float>(adam_step_size(learning_rate, beta_1, beta_2, step));
    ReleaseGil release;  // never cancelled: a half-applied update would corrupt the weights
    adam_update(w, pm, pv, g, n, alpha, static_cast<float>(1.0 - beta_1),
                static_cast<float>(1.0 - beta_2), static_cast<float>(epsilon));
}


}  // namespace

void init_optim(py::module_& m) {
    m.def("sgd_update", &sgd_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("velocity"), py::arg("learning_rate"), py::arg("momentum"),
          py::arg("nesterov"),
          "Keras SGD in place. momentum == 0: param -= grad * lr. Otherwise velocity = velocity * "
          "momentum - grad * lr; param += velocity (nesterov: param += velocity * momentum - grad "
          "* lr). All arrays float32, C-contiguous, same shape; velocity may be None at "
          "momentum 0. Buffers written must not share memory (ValueError); a grad sharing "
          "memory with one is copied first.");
    m.def("rmsprop_update", &rmsprop_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("velocity"), py::arg("momentum_buffer"), py::arg("learning_rate"),
          py::arg("rho"), py::arg("momentum"), py::arg("epsilon"),
          "Keras RMSprop in place: velocity = rho * velocity + (1 - rho) * grad^2; increment = lr "
          "* grad / sqrt(velocity + epsilon); momentum > 0: momentum_buffer = momentum * "
          "momentum_buffer + increment, param -= momentum_buffer; else param -= increment. "
          "Buffers written must not share memory (ValueError); a grad sharing memory with one is "
          "copied first.");
    m.def("adagrad_update", &adagrad_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("accumulator"), py::arg("learning_rate"), py::arg("epsilon"),
          "Keras Adagrad in place: accumulator += grad^2; param -= lr * grad / sqrt(accumulator "
          "+ epsilon). Buffers written must not share memory (ValueError); a grad sharing "
          "memory with one is copied first.");
    m.def("adam_update", &adam_update_binding, py::arg("param"), py::arg("grad"), py::arg("m"),
          py::arg("v"), py::arg("step"), py::arg("learning_rate"), py::arg("beta_1"),
          py::arg("beta_2"), py::arg("epsilon"),
          "Keras Adam in place for the 1-based step: alpha = lr * sqrt(1 - beta_2^step) / (1 - "
          "beta_1^step) (double); m += (grad - m) * (1 - beta_1); v += (grad^2 - v) * (1 - "
          "beta_2); param -= m * alpha / (sqrt(v) + epsilon). Buffers written must not share "
          "memory (ValueError); a grad sharing memory with one is copied first.");
}

}  // namespace fastnn_bindings
