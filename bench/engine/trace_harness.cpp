// Create one llama.cpp context with the parameters run.py / measure.mjs use, so that the graph
// allocator reserves its compute buffer (and, built by trace.py, traces every placement).
//
// usage: trace_harness MODEL.gguf CTX BATCH PARALLEL FLASH(0|1) KV_GGML_TYPE [DRAFT_TOKENS [SERVER_OUTPUTS(0|1)]]
// With SERVER_OUTPUTS 1 the main context reserves logits for as many tokens of a ubatch as llama-server lets it output
// (tools/server/server-context.cpp server_output_limits: PARALLEL x (1 + DRAFT_TOKENS), capped by the batch); without,
// for every token (n_outputs_max 0, llama.cpp's default, as node-llama-cpp leaves it).
// With DRAFT_TOKENS > 0 it also drafts as llama-server's `--spec-type draft-mtp --spec-draft-n-max N` does: the
// multi-token-prediction layers load, the main context keeps N recurrent-state snapshots per sequence, and a
// second context of type MTP (f16 cache, one output per sequence) caches those layers.
#include "llama.h"

#include <cstdio>
#include <cstdlib>

int main(int argc, char ** argv) {
    if (argc < 7 || argc > 9) {
        fprintf(stderr, "usage: %s MODEL.gguf CTX BATCH PARALLEL FLASH KV_GGML_TYPE [DRAFT_TOKENS [SERVER_OUTPUTS]]\n", argv[0]);
        return 2;
    }
    const int draft_tokens = argc >= 8 ? atoi(argv[7]) : 0;
    const bool server_outputs = argc == 9 && atoi(argv[8]) != 0;
    llama_backend_init();
    llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = 0;
    model_params.load_mtp = draft_tokens > 0;
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
    params.n_rs_seq = draft_tokens;
    if (server_outputs) {
        const int per_seq = 1 + draft_tokens;
        params.n_outputs_max = per_seq * parallel < batch ? per_seq * parallel : batch;
        params.n_outputs_max_per_seq = per_seq < batch ? per_seq : batch;
    }
    llama_context * context = llama_init_from_model(model, params);
    if (context == nullptr) {
        return 1;
    }
    llama_context * draft = nullptr;
    if (draft_tokens > 0) {
        llama_context_params draft_params = params;
        draft_params.ctx_type = LLAMA_CONTEXT_TYPE_MTP;
        draft_params.type_k = draft_params.type_v = GGML_TYPE_F16;  // llama-server's draft cache type by default
        draft_params.n_outputs_max = parallel;
        draft_params.n_outputs_max_per_seq = 1;
        draft_params.n_rs_seq = 0;
        draft = llama_init_from_model(model, draft_params);
        if (draft == nullptr) {
            return 1;
        }
        llama_free(draft);
    }
    llama_free(context);
    llama_model_free(model);
    return 0;
}
