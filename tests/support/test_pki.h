// A test PKI built in code: root, intermediate and leaves, for unit tests.
#pragma once

namespace mayfly::testing {}
