#pragma once
// The encoder's weights, read from model.safetensors and packed for the
// kernels: Q, K and V concatenated into one [3 * hidden, hidden] matrix.
// MPNet's layer names (attention.attn.q/k/v/o, attention.LayerNorm) map to
// the same slots. Arrays are owned or views into a mapping kept in
// `mappings` (model.safetensors for the word embeddings, or the
// packed-weights cache for everything).
#include <filesystem>
#include <memory>
#include <vector>

#include "bert_config.hpp"
#include "linear.hpp"
#include "mapped_file.hpp"
#include "weight_array.hpp"

namespace akidb::embed::native {

struct LayerNormWeights {
  WeightArray<float> gamma;
  WeightArray<float> beta;
};

struct LayerWeights {
  Linear qkv;       // [3 * hidden] outputs
  Linear attn_out;  // attention.output.dense
  LayerNormWeights attn_ln;
  Linear ffn_up;    // intermediate.dense, GELU after
  Linear ffn_down;  // output.dense
  LayerNormWeights out_ln;
};

struct BertWeights {
  WeightArray<float> word;        // [vocab, hidden]
  WeightArray<float> position;    // [max_position, hidden]
  WeightArray<float> token_type;  // one row of zeros for MPNet (no token types)
  LayerNormWeights embedding_ln;
  WeightArray<float> relative_bias;  // MPNet: [heads][2 * max_position - 1], else empty
  std::vector<LayerWeights> layers;
  std::vector<std::shared_ptr<const MappedFile>> mappings;  // what the views point into
};

// Hugging Face tensor names (BertModel, XLMRobertaModel, MPNetModel) with or
// without the "bert." / "roberta." / "mpnet." prefix. Throws Error(ModelError)
// naming the file and tensor for a missing tensor, a wrong shape or dtype, or
// a truncated file. The word embeddings stay in the file's mapping (only the
// rows used are ever read into memory); the pages of every other tensor are
// released from the process once packed. `formats`: the precision each linear
// layer is packed in.
BertWeights load_bert_weights(const std::filesystem::path& safetensors, const BertConfig& config,
                              const LinearFormats& formats = {});

}  // namespace akidb::embed::native
