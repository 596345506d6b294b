// llama.cpp's tokenization of a few texts: the reference the Gemma SentencePiece GGUF test
// compares Pensieve's GGUF tokenizer against (test/model/tokenizer/gemma-gguf.test.ts). Built
// against libllama like logits.cpp:
//
//   L=.pensieve/llama.cpp; g++ -O2 -std=c++17 -I$L/include -I$L/ggml/include bench/llama-cpp/tokenize.cpp \
//     -L$L/build/bin -lllama -lggml -lggml-base -Wl,-rpath,$(realpath $L/build/bin) -o .pensieve/llama-tokens
//
// usage: llama-tokens MODEL.gguf < TEXTS   (texts separated by NUL bytes)
// Loads only the vocabulary; prints one line of token ids per text, tokenized as llama.cpp's
// own tools do for a prompt (add_special = true: BOS as the file says; parse_special = true).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

int main(int argc, char ** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s MODEL.gguf < TEXTS\n", argv[0]); return 2; }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mparams = llama_model_default_params();
    mparams.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], mparams);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find('\0', start);
        if (end == std::string::npos) end = all.size();
        const std::string text = all.substr(start, end - start);
        std::vector<llama_token> ids(text.size() + 8);
        const int n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(), true, true);
        if (n < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
        for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
        start = end + 1;
    }
    llama_model_free(model);
    return 0;
}
