// SIGINT and SIGTERM end the long-running programs (vlb_register,
// vlb_example_server) in an orderly way: main waits for them with sigwait()
// and then unregisters, instead of dying in a signal handler.
#ifndef VLB_PROGRAMS_COMMON_STOP_SIGNALS_H_
#define VLB_PROGRAMS_COMMON_STOP_SIGNALS_H_

namespace vlb::programs {

// Blocks SIGINT and SIGTERM in the calling thread. Call it before gRPC or a
// registrar starts threads: they inherit the mask, so the signals reach only
// WaitForStopSignal() and not some other thread.
void BlockStopSignals();

// Waits until SIGINT or SIGTERM (blocked by BlockStopSignals()) arrives;
// returns its number.
int WaitForStopSignal();

}  // namespace vlb::programs

#endif  // VLB_PROGRAMS_COMMON_STOP_SIGNALS_H_
