// Create one llama.cpp context with the parameters run.py / measure.mjs use, so that the graph
// allocator reserves its compute buffer (and, built by trace.py, traces every placement).
//
// usage: trace_harness MODEL.gguf CTX BATCH PARALLEL FLASH(0|1) KV_GGML_TYPE
#include "llama.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char ** argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL.gguf CTX BATCH PARALLEL FLASH KV_GGML_TYPE\n", argv[0]);
        return 2;
    }
    llama_backend_init();
    llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], model_params);
    if (model == nullptr) {
        return 1;
    }
    const int ctx = atoi(argv[2]), batch = atoi(argv[3]), parallel = atoi(argv[4]);
    llama_context_params params = llama_context_default_params();
    params.n_ctx = ctx * parallel;
    params.n_batch = params.n_ubatch = batch;
    params.n_seq_max = parallel;
    params.flash_attn_type = atoi(argv[5]) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    params.type_k = params.type_v = (ggml_type) atoi(argv[6]);
    params.swa_full = false;
    params.kv_unified = false;
    params.n_threads = params.n_threads_batch = 1;
    llama_context * context = llama_init_from_model(model, params);
    if (context == nullptr) {
        return 1;
    }
    llama_free(context);
    llama_model_free(model);
    return 0;
}
