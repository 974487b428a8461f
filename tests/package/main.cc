// Uses the installed vlb through its public header only.
#include <iostream>
#include <string>
#include <vector>

#include "vlb/registrar.h"

int main() {
  const std::vector<std::string> got =
      vlb::ParseEndpointList("http://10.0.0.1:2379, etcd-2:2379");
  const std::vector<std::string> want = {"10.0.0.1:2379", "etcd-2:2379"};
  if (got != want) {
    std::cerr << "ParseEndpointList returned " << got.size() << " entries:";
    for (const std::string& e : got) std::cerr << " [" << e << "]";
    std::cerr << "\n";
    return 1;
  }
  std::cout << "vlb package consumer: ok\n";
  return 0;
}
