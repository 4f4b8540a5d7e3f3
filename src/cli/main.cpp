#include <cstdio>
int main() { std::puts("cove"); return 0; }
