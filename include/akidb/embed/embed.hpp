#pragma once
// Everything a C++ user of akidb-embed needs.
#include "akidb/embed/error.hpp"
#include "akidb/embed/manifest.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/pooling.hpp"
#include "akidb/embed/provider.hpp"
#include "akidb/embed/python_bridge_provider.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "akidb/embed/types.hpp"
