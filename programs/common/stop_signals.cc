#include "common/stop_signals.h"

#include <pthread.h>
#include <signal.h>

namespace vlb::programs {
namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int WaitForStopSignal() {
  const sigset_t signals = StopSignals();
  int signal_number = 0;
  // Retried because some systems let sigwait() fail with EINTR.
  while (sigwait(&signals, &signal_number) != 0) {
  }
  return signal_number;
}

}  // namespace vlb::programs
