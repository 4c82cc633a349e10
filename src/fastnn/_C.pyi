# Types of fastnn's compiled module (src/cpp/bindings/). Private: the package calls it, after
# checking shapes and dtypes; the docstrings are on the bindings.
import enum
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.generic]

compiler: str
base_flags: str
simd_flags: str

def arch() -> str: ...
def cpu_supports_avx2_fma() -> bool: ...
def cpu_supports_avx512() -> bool: ...
def cpu_supports_avx512_bf16() -> bool: ...
def gemm_kernel() -> str: ...
def bf16_gemm_kernel() -> str: ...
def gemm_blocking() -> Dict[str, int]: ...
def cache_sizes() -> Dict[str, Any]: ...
dense_as_sparse_min_width: int
dense_as_sparse_max_density: float
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> int: ...
max_threads: int
def available_cpus() -> int: ...
def share_blas_threads(enable: bool) -> List[str]: ...
def gang_rendezvous(n: int) -> bool: ...
def measure_peak_flops(seconds: float = 1.0) -> float: ...
def allocation_count() -> int: ...
def sgemm(a: _Array, b: _Array, out: _Array, trans_a: bool, trans_b: bool, alpha: float,
          beta: float, bf16: bool = ...) -> None: ...
class BinaryOp(enum.Enum):
    add = 0
    subtract = 1
    multiply = 2
    divide = 3
    maximum = 4
    minimum = 5
    relu_grad = 6
    sigmoid_grad = 7
    tanh_grad = 8

class UnaryOp(enum.Enum):
    relu = 0
    sigmoid = 1
    tanh = 2
    exp = 3
    log = 4

def binary(op: BinaryOp, a: _Array, b: _Array, out: _Array) -> None: ...
def unary(op: UnaryOp, x: _Array, out: _Array) -> None: ...
def sum(x: _Array, out: _Array, outer: int, reduced: int, inner: int) -> None: ...
def argmax(x: _Array, out: _Array, outer: int, reduced: int, inner: int) -> None: ...
def softmax(x: _Array, out: _Array, n: int, k: int) -> None: ...
def softmax_xent(logits: _Array, labels: Optional[_Array], targets: Optional[_Array],
                 grad: _Array, row_loss: Optional[_Array] = None) -> float: ...
def sgd_update(param: _Array, grad: _Array, velocity: Optional[_Array], learning_rate: float,
               momentum: float, nesterov: bool) -> None: ...
def rmsprop_update(param: _Array, grad: _Array, velocity: _Array,
                   momentum_buffer: Optional[_Array], learning_rate: float, rho: float,
                   momentum: float, epsilon: float) -> None: ...
def adagrad_update(param: _Array, grad: _Array, accumulator: _Array, learning_rate: float,
                   epsilon: float) -> None: ...
def adam_update(param: _Array, grad: _Array, m: _Array, v: _Array, step: int,
                learning_rate: float, beta_1: float, beta_2: float, epsilon: float) -> None: ...

class Activation(enum.Enum):
    linear = 0
    relu = 1
    sigmoid = 2
    tanh = 3
    softmax = 4

class StepKind(enum.Enum):
    input = 0
    dense = 1
    activation = 2
    dropout = 3
    add = 4
    subtract = 5
    multiply = 6
    average = 7
    concatenate = 8

class LossKind(enum.Enum):
    none = 0
    softmax_xent = 1
    sigmoid_bce = 2
    mse = 3
    mae = 4

class MetricKind(enum.Enum):
    none = 0
    categorical_accuracy = 1
    binary_accuracy = 2

class OptimizerKind(enum.Enum):
    sgd = 0
    rmsprop = 1
    adagrad = 2
    adam = 3

def dense_forward(x: _Array, kernel: _Array, bias: Optional[_Array], y: _Array,
                  activation: Activation, bf16: bool = ...) -> None: ...
def dense_backward(dz: _Array, x: _Array, kernel: _Array, dx: Optional[_Array],
                   dw: Optional[_Array], db: Optional[_Array], bf16: bool = ...) -> None: ...
# A CSR matrix as the sparse kernels take it: (indptr int64, indices int32, data float32).
_Csr = Tuple[_Array, _Array, _Array]
def dense_forward_sparse(x: _Csr, kernel: _Array, bias: Optional[_Array], y: _Array,
                         activation: Activation) -> None: ...
def dense_backward_sparse(dz: _Array, x: _Csr, dw: Optional[_Array], db: Optional[_Array],
                          columns: int) -> None: ...
def dropout_forward(x: _Array, y: _Array, mask: _Array, rate: float, seed: int,
                    counter: int) -> None: ...
def dropout_backward(dy: _Array, mask: _Array, dx: _Array) -> None: ...

class ProgramData: ...
class ProgramWorkspace: ...

class Program:
    def __init__(self, params: _Array, grads: _Array, widths: Sequence[int],
                 steps: Sequence[Tuple[StepKind, Sequence[int], int, int, Activation, int, int,
                                       bool, float, Optional[_Array]]],
                 outputs: Sequence[Tuple[int, Activation, LossKind, float, MetricKind]],
                 regularizers: Sequence[Tuple[int, int, float, float]],
                 optimizer: Optional[Tuple[OptimizerKind, Optional[_Array], Optional[_Array],
                                           bool]]) -> None: ...
    def data(self, inputs: Sequence[Union[_Array, _Csr]],
             targets: Sequence[Tuple[Optional[_Array], Optional[_Array], Optional[_Array]]]
             ) -> ProgramData: ...
    def workspace(self) -> ProgramWorkspace: ...
    def train_step(self, workspace: ProgramWorkspace, data: ProgramData, rows: _Array,
                   hyper: _Array, step: int, stats: _Array) -> None: ...
    def test_step(self, workspace: ProgramWorkspace, data: ProgramData, rows: _Array,
                  stats: _Array) -> None: ...
    def predict(self, workspace: ProgramWorkspace, inputs: Sequence[Union[_Array, _Csr]],
                outputs: Sequence[_Array]) -> None: ...
    def predictions(self, workspace: ProgramWorkspace, output: int) -> _Array: ...
    def targets(self, workspace: ProgramWorkspace, output: int) -> Optional[_Array]: ...
