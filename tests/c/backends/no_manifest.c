/* A library that is not a tgc backend at all. */
int not_a_backend(void) { return 42; }
