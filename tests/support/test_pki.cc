// A test PKI built in code.
#include "support/test_pki.h"
