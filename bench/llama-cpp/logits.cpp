// llama.cpp's logits for a fixed token sequence: the reference the quant-mix tests compare
// Pensieve against (test/model/quant-mixes.test.ts). Our own code, built against libllama:
//
//   L=.pensieve/llama.cpp; g++ -O2 -std=c++17 -I$L/include -I$L/ggml/include bench/llama-cpp/logits.cpp \
//     -L$L/build/bin -lllama -lggml -lggml-base -Wl,-rpath,$(realpath $L/build/bin) -o .pensieve/llama-logits
//
// usage: llama-logits MODEL.gguf OUT.f32 N_GENERATE TOKEN...
// Runs the prompt tokens as one batch (logits for every position), then N_GENERATE greedy decode
// steps of one token each; writes [positions][n_vocab] f32 logits (little-endian) to OUT.f32 and
// prints the generated token ids on stdout. K/V cache in f32 and no flash attention, so the only
// difference from Pensieve's reference is in the matmuls.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.gguf OUT.f32 N_GENERATE TOKEN...\n", argv[0]);
        return 2;
    }
    const char * model_path = argv[1];
    const char * out_path = argv[2];
    const int n_generate = atoi(argv[3]);
    std::vector<llama_token> prompt;
    for (int i = 4; i < argc; i++) prompt.push_back(atoi(argv[i]));

    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(model_path, mparams);
    if (!model) { fprintf(stderr, "cannot load %s\n", model_path); return 1; }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 128;
    cparams.n_batch = 128;
    cparams.n_ubatch = 128;
    cparams.n_threads = 1;
    cparams.n_threads_batch = 1;
    cparams.type_k = GGML_TYPE_F32;
    cparams.type_v = GGML_TYPE_F32;
    cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }

    FILE * out = fopen(out_path, "wb");
    if (!out) { fprintf(stderr, "cannot write %s\n", out_path); return 1; }

    llama_batch batch = llama_batch_init((int) prompt.size(), 0, 1);
    for (size_t i = 0; i < prompt.size(); i++) {
        batch.token[i] = prompt[i];
        batch.pos[i] = (llama_pos) i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = (int) prompt.size();
    if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "prompt decode failed\n"); return 1; }
    for (size_t i = 0; i < prompt.size(); i++) fwrite(llama_get_logits_ith(ctx, (int) i), sizeof(float), n_vocab, out);

    llama_pos pos = (llama_pos) prompt.size();
    const float * last = llama_get_logits_ith(ctx, -1);
    for (int g = 0; g < n_generate; g++) {
        llama_token best = 0;
        for (int v = 1; v < n_vocab; v++) if (last[v] > last[best]) best = v;
        printf("%s%d", g ? " " : "", best);
        batch.token[0] = best;
        batch.pos[0] = pos++;
        batch.n_seq_id[0] = 1;
        batch.seq_id[0][0] = 0;
        batch.logits[0] = 1;
        batch.n_tokens = 1;
        if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
        last = llama_get_logits_ith(ctx, -1);
        fwrite(last, sizeof(float), n_vocab, out);
    }
    printf("\n");
    fclose(out);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
