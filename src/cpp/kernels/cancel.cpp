// The per-thread cancel flag of the running op (see cancel.h).
#include "cancel.h"

namespace fastnn {

namespace {
thread_local const std::atomic<bool>* current_flag = nullptr;
}  // namespace

const std::atomic<bool>* cancel_flag() { return current_flag; }

CancelScope::CancelScope(const std::atomic<bool>* flag) : previous_(current_flag) { current_flag = flag; }

CancelScope::~CancelScope() { current_flag = previous_; }

}  // namespace fastnn
