// The README's library example: embed two sentences and compare them.
#include <akidb/embed/embed.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  using namespace akidb::embed;
  ProviderOptions options;
  options.model_dir = argc > 1 ? argv[1] : "models/all-MiniLM-L6-v2";
  auto provider = make_provider(options);

  auto response = provider->embed_batch(
      EmbedRequest::from_texts({"A man is playing a guitar.", "Someone plays an instrument."}));
  float cosine = 0;  // the vectors are L2-normalized: the dot product is the cosine
  for (std::size_t d = 0; d < response.embeddings.dimension(); ++d)
    cosine += response.embeddings.row(0)[d] * response.embeddings.row(1)[d];
  std::printf("dimension %zu, %zu tokens, cosine %.4f\n", response.embeddings.dimension(),
              response.usage.prompt_tokens, static_cast<double>(cosine));
}
