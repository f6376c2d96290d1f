// (The request/response types are header-only; this file keeps the library
// non-empty until the server and client land.)
#include "mayfly/net/http_types.h"
