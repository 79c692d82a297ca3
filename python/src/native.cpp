// akidb_embed._native: the C++ library behind a sentence-transformers-shaped
// Python API (akidb_embed.Embedder). Vectors reach numpy without a copy: the
// ndarray views the library's Embeddings buffer and a capsule owns it.
#include <Python.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/factory.hpp"
#include "akidb/embed/version.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace akidb::embed::python {
namespace {

// The Python exception class of each ErrorCode, defined in akidb_embed/_errors.py.
const char* exception_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidInput:
      return "InvalidInputError";
    case ErrorCode::ModelError:
      return "ModelError";
    case ErrorCode::Unavailable:
      return "UnavailableError";
    case ErrorCode::Timeout:
      return "EmbedTimeoutError";
    case ErrorCode::Internal:
      return "InternalError";
  }
  return "InternalError";
}

// Sets the Python error for `e` (called with the GIL held by nanobind).
void raise_python(const Error& e) {
  nb::object errors = nb::module_::import_("akidb_embed._errors");
  nb::object type = errors.attr(exception_name(e.code()));
  nb::object index = e.input_index() ? nb::cast(*e.input_index()) : nb::none();
  nb::object exc =
      type(nb::str(e.what()), nb::str(std::string(to_string(e.code())).c_str()), index);
  PyErr_SetObject(type.ptr(), exc.ptr());
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const Error& e) {
    raise_python(e);
  }
}

// A Python str (or bytes, passed through unchecked so the library validates
// its UTF-8) as a UTF-8 std::string; InvalidInput naming `index` otherwise.
std::string utf8_of(nb::handle item, std::size_t index) {
  if (PyUnicode_Check(item.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(item.ptr(), &size);
    if (data == nullptr) {
      PyErr_Clear();
      throw invalid_input(index, "not encodable as UTF-8 (a lone surrogate?)");
    }
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyBytes_Check(item.ptr())) {
    char* data = nullptr;
    Py_ssize_t size = 0;
    PyBytes_AsStringAndSize(item.ptr(), &data, &size);
    return {data, static_cast<std::size_t>(size)};
  }
  throw invalid_input(
      index, std::string("expected str or bytes, got ") + nb::type_name(item.type()).c_str());
}

// texts: one str/bytes, or an iterable of them. Returns the inputs and
// whether a single text was given.
std::pair<std::vector<std::string>, bool> inputs_of(nb::handle texts) {
  std::vector<std::string> out;
  if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr())) {
    out.push_back(utf8_of(texts, 0));
    return {std::move(out), true};
  }
  if (PySequence_Check(texts.ptr())) out.reserve(static_cast<std::size_t>(nb::len(texts)));
  for (nb::handle item : texts) out.push_back(utf8_of(item, out.size()));
  return {std::move(out), false};
}

// An InvalidInput error of a batch, re-indexed to the caller's list:
// `original[k]` is the caller's index of the batch's input k.
Error reindexed(const Error& e, std::span<const std::size_t> original) {
  if (e.code() != ErrorCode::InvalidInput || !e.input_index() ||
      *e.input_index() >= original.size())
    return e;
  const std::string what = e.what();
  const auto colon = what.find(": ");
  const std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
  return invalid_input(original[*e.input_index()], detail);
}

using Matrix = nb::ndarray<nb::numpy, float, nb::c_contig>;

// Hands `embeddings` to numpy: a 2-D [rows, dim] array (1-D [dim] when
// `single`) over its buffer, owned by a capsule.
Matrix to_numpy(std::unique_ptr<Embeddings> embeddings, bool single) {
  const std::size_t rows = embeddings->rows();
  const std::size_t dim = embeddings->dimension();
  float* data = embeddings->data().data();
  nb::capsule owner(embeddings.get(), [](void* p) noexcept {
    std::unique_ptr<Embeddings>(static_cast<Embeddings*>(p));  // frees it
  });
  embeddings.release();  // the capsule owns it now
  if (single) return Matrix(data, {dim}, owner);
  return Matrix(data, {rows, dim}, owner);
}

class Embedder {
 public:
  Embedder(const std::string& model_dir, const std::string& engine,
           const std::optional<std::string>& variant, int threads) {
    ProviderOptions options;
    options.model_dir = model_dir;
    options.engine = engine;
    options.variant = variant.value_or("");
    options.threads = threads;
    if (engine == "python") {
      // The bridge workers run this interpreter, where akidb_embed is installed.
      options.python = nb::cast<std::string>(nb::module_::import_("sys").attr("executable"));
    }
    nb::gil_scoped_release release;
    provider_ = make_provider(options);
  }

  Matrix encode(nb::handle texts, std::size_t batch_size, bool normalize, bool truncate,
                std::optional<std::size_t> truncate_dim, std::optional<std::string> prompt_name,
                std::optional<std::string> prompt) {
    if (batch_size == 0) throw invalid_request("batch_size must be at least 1");
    auto [inputs, single] = inputs_of(texts);
    std::unique_ptr<Embeddings> result;
    {
      nb::gil_scoped_release release;
      EmbedRequest options;
      options.normalize = normalize;
      options.truncate = truncate;
      options.dimensions = truncate_dim.value_or(0);
      options.prompt_name = std::move(prompt_name);
      options.prompt = std::move(prompt);
      result = embed_all(std::move(inputs), batch_size, options);
    }
    return to_numpy(std::move(result), single);
  }

  nb::list tokenize(nb::handle texts) const {
    auto [inputs, single] = inputs_of(texts);
    std::vector<Encoding> encodings(inputs.size());
    {
      nb::gil_scoped_release release;
      EncodeOptions options;
      options.max_length = provider_->model_info().max_tokens;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        try {
          provider_->tokenizer().encode(inputs[i], encodings[i], options);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::InvalidInput) throw;
          throw invalid_input(i, e.what());
        }
      }
    }
    nb::list out;
    for (const auto& encoding : encodings) {
      nb::dict d;
      d["input_ids"] = nb::cast(encoding.ids);
      d["token_type_ids"] = nb::cast(encoding.type_ids);
      d["attention_mask"] = nb::cast(std::vector<std::int32_t>(encoding.ids.size(), 1));
      out.append(d);
    }
    return out;
  }

  nb::dict info() const {
    const ModelInfo m = provider_->model_info();
    nb::dict d;
    d["model"] = m.model;
    d["dimension"] = m.dimension;
    d["max_tokens"] = m.max_tokens;
    d["engine"] = m.backend;
    d["execution_provider"] = m.execution_provider;
    d["device"] = m.device;
    d["variant"] = m.variant;
    return d;
  }

 private:
  // Embeds `inputs` into one buffer, row i for input i. Up to batch_size
  // inputs go to the library as they are (the library sorts and plans its
  // engine runs within a call); more are sorted longest first, as
  // sentence-transformers does, so each batch pads little, and their rows
  // scattered back into place. `options` holds every field but the inputs.
  std::unique_ptr<Embeddings> embed_all(std::vector<std::string> inputs, std::size_t batch_size,
                                        const EmbedRequest& options) {
    const std::size_t n = inputs.size();
    auto request_of = [&](std::vector<std::string> texts) {
      EmbedRequest request = options;
      request.inputs = std::move(texts);
      return request;
    };
    if (n <= batch_size) {
      return std::make_unique<Embeddings>(
          provider_->embed_batch(request_of(std::move(inputs))).embeddings);
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return inputs[a].size() > inputs[b].size();
    });
    std::unique_ptr<Embeddings> out;
    for (std::size_t begin = 0; begin < n; begin += batch_size) {
      const std::span<const std::size_t> batch(order.data() + begin,
                                               std::min(batch_size, n - begin));
      std::vector<std::string> texts;
      texts.reserve(batch.size());
      for (std::size_t i : batch) texts.push_back(std::move(inputs[i]));
      EmbedResponse response;
      try {
        response = provider_->embed_batch(request_of(std::move(texts)));
      } catch (const Error& e) {
        throw reindexed(e, batch);
      }
      const Embeddings& part = response.embeddings;
      if (!out) out = std::make_unique<Embeddings>(n, part.dimension());
      for (std::size_t k = 0; k < batch.size(); ++k) {
        const auto row = part.row(k);
        std::copy(row.begin(), row.end(), out->row(batch[k]).begin());
      }
    }
    return out;
  }

  std::unique_ptr<EmbeddingProvider> provider_;
};

// Throws akidb::embed::Error(code) from C++, through the real translator (for tests).
void raise_for_test(const std::string& code, const std::string& message,
                    std::optional<std::size_t> index) {
  for (ErrorCode c : {ErrorCode::InvalidInput, ErrorCode::ModelError, ErrorCode::Unavailable,
                      ErrorCode::Timeout, ErrorCode::Internal}) {
    if (to_string(c) == code) throw Error(c, message, index);
  }
  throw invalid_request("unknown error code '" + code + "'");
}

}  // namespace
}  // namespace akidb::embed::python

NB_MODULE(_native, m) {
  using namespace akidb::embed::python;
  m.doc() = "akidb-embed's C++ library (use akidb_embed.Embedder)";
  nb::register_exception_translator(translate);

  nb::class_<Embedder>(m, "Embedder")
      .def(nb::init<const std::string&, const std::string&, const std::optional<std::string>&,
                    int>(),
           "model_dir"_a, "engine"_a = "auto", "variant"_a = nb::none(), "threads"_a = 0)
      .def("encode", &Embedder::encode, "texts"_a, "batch_size"_a = 32,
           "normalize_embeddings"_a = true, "truncate"_a = true, "truncate_dim"_a = nb::none(),
           "prompt_name"_a = nb::none(), "prompt"_a = nb::none())
      .def("tokenize", &Embedder::tokenize, "texts"_a)
      .def_prop_ro("info", &Embedder::info);

  m.def("available_engines", &akidb::embed::available_engines);
  m.def("_raise_for_test", &raise_for_test, "code"_a, "message"_a, "index"_a = nb::none());
  m.attr("__version__") = akidb::embed::version_string;
}
