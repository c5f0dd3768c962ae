// NameThisThread: gives the calling thread a name that `top -H`, `ps -L`,
// perf and /proc/<pid>/task/*/comm show, so an operator can tell which of
// the gateway's threads uses the CPU. Linux keeps at most 15 characters;
// longer names are cut.
#ifndef PRECALL_GATEWAY_CORE_THREAD_NAME_H_
#define PRECALL_GATEWAY_CORE_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace precall::core {

inline void NameThisThread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_THREAD_NAME_H_
