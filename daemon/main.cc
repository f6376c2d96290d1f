// mayfly-ca: entry point.
int main() { return 0; }
