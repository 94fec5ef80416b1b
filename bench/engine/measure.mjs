// Load one GGUF in the real llama.cpp (node-llama-cpp's prebuilt CPU build) with one set of context
// parameters, and print what llama.cpp says it allocated, as one JSON line.
//
// usage: node measure.mjs NODE_MODULES MODEL.gguf '{"ctx":4096,"batch":512,"parallel":1,"flash":true,"kv":"f16"}'
//
// The context is created through node-llama-cpp's addon binding directly, with the parameters
// llama-server gets from Ollama: n_ctx = ctx * parallel, n_seq_max = parallel, n_batch = n_ubatch,
// swa_full off, kv_unified off (llama.cpp's defaults). node-llama-cpp's high-level createContext
// would pad the context and add a token to the batch of sliding-window models.
import {pathToFileURL} from "node:url";
import {join} from "node:path";

const [nodeModules, modelPath, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(join(nodeModules, "node-llama-cpp", "dist", "index.js")).href);

const lines = [];
const llama = await getLlama({
    gpu: false,
    build: "never",
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.info,
    logger: (_level, message) => lines.push(...String(message).split("\n")),
});
const GGML_TYPES = {f16: 1, q8_0: 8, q4_0: 2};
const result = {config, ok: false};
try {
    // The addon's model directly: the high-level loader tokenizes text, and these models have no vocabulary.
    const model = new llama._bindings.AddonModel(modelPath, {addonExports: llama._bindings, gpuLayers: 0, useMmap: true});
    if (!await model.init()) throw new Error("llama.cpp could not load the model");
    const ctx = new llama._bindings.AddonContext(model, {
        contextSize: config.ctx * config.parallel,
        batchSize: config.batch,
        sequences: config.parallel,
        flashAttention: Boolean(config.flash),
        threads: 1,
        kvCacheKeyType: GGML_TYPES[config.kv],
        kvCacheValueType: GGML_TYPES[config.kv],
        swaFullCache: false,
    });
    result.ok = Boolean(await ctx.init());
    await ctx.dispose();
    await model.dispose();
} catch (error) {
    result.error = String(error?.message ?? error);
}
await llama.dispose();

// Sizes as llama.cpp logs them, in MiB (its own rounding: two decimals).
const MIB = String.raw`=\s*([0-9.]+) MiB`;
const sum = (pattern) => {
    let total = 0, found = false;
    for (const line of lines) {
        const match = line.match(pattern);
        if (match) { total += Number(match[1]); found = true; }
    }
    return found ? total : null;
};
result.kv_mib = sum(new RegExp(String.raw`llama_kv_cache.*: size\s*${MIB}`));
result.rs_mib = sum(new RegExp(String.raw`llama_memory_recurrent.*: size\s*${MIB}`));
result.kv_buffer_mib = sum(new RegExp(String.raw`KV buffer size\s*${MIB}`));
result.rs_buffer_mib = sum(new RegExp(String.raw`RS buffer size\s*${MIB}`));
result.compute_mib = sum(new RegExp(String.raw`compute buffer size\s*${MIB}`));
result.output_mib = sum(new RegExp(String.raw`output buffer size\s*${MIB}`));
result.model_mib = sum(new RegExp(String.raw`model buffer size\s*${MIB}`));
result.log = lines.filter((line) => /buffer size|: size =|n_ctx|n_seq|n_batch|n_ubatch|flash_attn|swa|kv_unified|error|failed|wrong|missing|llama_model_load/i.test(line));
process.stdout.write(JSON.stringify(result) + "\n");
