#pragma once
// The encoder's weights, read from model.safetensors and packed for the
// kernels: Q, K and V concatenated into one [3 * hidden, hidden] matrix.
// MPNet's layer names (attention.attn.q/k/v/o, attention.LayerNorm) map to
// the same slots.
#include <filesystem>
#include <vector>

#include "aligned_buffer.hpp"
#include "bert_config.hpp"
#include "linear.hpp"

namespace akidb::embed::native {

struct LayerNormWeights {
  AlignedBuffer gamma;
  AlignedBuffer beta;
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
  AlignedBuffer word;        // [vocab, hidden]
  AlignedBuffer position;    // [max_position, hidden]
  AlignedBuffer token_type;  // one row of zeros for MPNet (no token types)
  LayerNormWeights embedding_ln;
  AlignedBuffer relative_bias;  // MPNet: [heads][2 * max_position - 1], else empty
  std::vector<LayerWeights> layers;
};

// Hugging Face tensor names (BertModel, XLMRobertaModel, MPNetModel) with or
// without the "bert." / "roberta." / "mpnet." prefix. Throws Error(ModelError)
// naming the file and tensor for a missing tensor, a wrong shape or dtype, or
// a truncated file. `formats`: the precision each linear layer is packed in.
BertWeights load_bert_weights(const std::filesystem::path& safetensors, const BertConfig& config,
                              const LinearFormats& formats = {});

}  // namespace akidb::embed::native
