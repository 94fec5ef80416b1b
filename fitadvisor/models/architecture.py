"""The one description of a model that the memory model reads, whatever source it came from.

The catalog (`data/models.toml`), a GGUF header and Ollama's `/api/show` all build an
`Architecture`; the estimator never looks at where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Per-layer cache kinds, as in the catalog's `layer_pattern`.
FULL = "A"  # full attention: a K and V row per token of context
SLIDING = "S"  # sliding-window attention: only the last `sliding_window` tokens (+ a batch)
RECURRENT = "R"  # Mamba2 / Gated DeltaNet: a fixed f32 state per sequence
NO_CACHE = "-"  # e.g. an MoE-only block of a hybrid model
LAYER_KINDS = (FULL, SLIDING, RECURRENT, NO_CACHE)
MAX_DRAFT_TOKENS = 64  # draft_num_predict: far above any real setting, so a typo or a hostile value is refused


def draft_tokens(value: object) -> int | None:
    """A model's own draft_num_predict, as /api/show's parameters text ("3") or its params layer's JSON (3) holds it:
    1 to MAX_DRAFT_TOKENS tokens a step, else None (unset, 0 for no drafting, or not a sensible number)."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 3:
        value = int(value)
    if type(value) is not int or not 0 < value <= MAX_DRAFT_TOKENS:
        return None
    return value


# llm_arch_supports_rs_rollback (src/llama-arch.cpp, v0.5.0): the architectures (of those fitadvisor models) whose
# recurrent layers keep snapshots to roll a rejected draft back; llama_context clamps n_rs_seq to 0 for the others.
RS_ROLLBACK_ARCHITECTURES = frozenset({"qwen35", "qwen35moe", "nemotron_h", "nemotron_h_moe"})


def rs_snapshots(arch_name: str, requested: int) -> int:
    """The recurrent-state snapshots per sequence llama.cpp keeps when `requested` (cparams.n_rs_seq)."""
    return requested if arch_name in RS_ROLLBACK_ARCHITECTURES else 0


@dataclass(frozen=True)
class Architecture:
    """Everything the memory and speed models need, in GGUF terms (names follow GGUF keys)."""

    name: str  # GGUF general.architecture, e.g. "qwen3moe"
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int  # on attention layers; the most any layer has
    key_length: int
    value_length: int
    context_length: int  # trained context; Ollama caps num_ctx at it
    layers: str  # one LAYER_KINDS character per block
    weights_bytes: int  # tensor bytes of the model blob (text + any vision tower inside it)
    vocab_size: int = 0
    feed_forward_length: int = 0
    sliding_window: int = 0
    expert_count: int = 0
    expert_used_count: int = 0
    expert_feed_forward_length: int = 0
    expert_shared_count: int = 0
    expert_shared_feed_forward_length: int = 0  # one shared expert's FFN width, where it differs from the routed ones'
    # latent MoE (Nemotron 3 Super): the routed experts work at this width, between ffn_latent_down {n_embd -> latent}
    # and ffn_latent_up {latent -> n_embd}; the router and the shared expert stay at n_embd (0: experts at n_embd)
    moe_latent_size: int = 0
    leading_dense_block_count: int = 0  # MoE models whose first blocks have a dense FFN (DeepSeek, GLM)
    ssm_conv_kernel: int = 0
    ssm_state_size: int = 0
    ssm_inner_size: int = 0
    ssm_group_count: int = 0
    ssm_time_step_rank: int = 0  # Mamba2's heads / Gated DeltaNet's value heads (0: unknown)
    kv_lora_rank: int = 0  # > 0: MLA (DeepSeek-style latent KV), K = latent + rope, V = latent
    value_length_mla: int = 0  # MLA: per-head width of the decompressed value (0: unknown)
    key_length_mla: int = 0  # MLA: per-head width of the decompressed key, rope part included (0: unknown)
    query_lora_rank: int = 0  # MLA: width of the compressed query (attn_q_a); 0: the query straight from the hidden state
    expert_weights_norm: bool = False  # MoE: the chosen experts' weights are divided by their sum
    expert_weights_scale: float = 0.0  # MoE: the chosen experts' weights are scaled by this (0 or 1: not scaled)
    expert_selection_bias: bool = False  # MoE: a per-expert bias added to the router's scores to pick experts (exp_probs_b)
    expert_gate_up_fused: bool = False  # MoE: the experts' gate and up projections in one tensor (ffn_gate_up_exps)
    token_embedding_bytes: int = 0  # the token_embd table, which some estimators leave off the GPU
    tied_embeddings: bool = False  # no separate output tensor: token_embd doubles as the output layer
    projector_bytes: int = 0  # a separate vision projector blob (llava style)
    vision_bytes: int = 0  # a vision tower inside the blob (v.*, mm.* tensors): loaded, never read while decoding
    k_quant_bytes: int = 0  # weights in K-quant types (Q2_K..Q6_K): more work per weight to dequantize while decoding
    draft_bytes: int = 0  # multi-token-prediction layers' tensors (part of weights_bytes), loaded only to draft with them
    draft_layers: int = 0  # those layers (nextn_predict_layers): full attention, cached only by the drafting context
    skipped_bytes: int = 0  # tensors in the file (part of weights_bytes) llama-server never loads: Ollama's compat skips them
    vision: bool = False
    parameters: int = 0  # total parameter count
    active_parameters: int = 0  # read per token (MoE: shared weights + the used experts)
    per_layer_head_count_kv: tuple[int, ...] = field(default=())  # when layers differ
    per_layer_head_count: tuple[int, ...] = field(default=())  # query heads, when layers differ (laguna)
    key_length_swa: int = 0  # sliding-window layers' key width where it differs from key_length (gemma4)
    value_length_swa: int = 0
    # gemma4's shared-KV layers keep no cache, yet attend with their own kind's head width (key = value there)
    per_layer_head_length: tuple[int, ...] = field(default=())
    per_layer_feed_forward_length: tuple[int, ...] = field(default=())  # when layers differ (gemma4 E2B's shared-KV layers)
    embedding_length_per_layer: int = 0  # gemma4 E models: each layer's own token input (per_layer_token_embd)
    per_layer_embedding_bytes: int = 0  # that table: one row per token is read, like the input embedding
    fused_qkv: bool = False  # one projection (attn_qkv) yields Q, K and V (phi3 as Ollama converts it)
    value_from_key: bool = False  # full-attention layers without a V projection attend with K as V (gemma4 31B, 26B)
    # Granite's multipliers (GGUF {arch}.embedding_scale, .residual_scale, .logit_scale; 0: absent): each one
    # llama.cpp applies is a ggml_scale in the graph (the inputs, each residual branch, the logits)
    embedding_scale: float = 0.0
    residual_scale: float = 0.0
    logit_scale: float = 0.0
    # False: attention without RoPE, no positions input (granite's rope.scaling.finetuned, false in granite-4.0-H files)
    has_rope: bool = True
    attention_bias: bool = False  # biases on the Q, K and V projections (Qwen2's attn_q/k/v.bias), added after them
    # deepseek2 without MLA keys (a legacy GGUF): K and V come out of a compressed latent this wide (attention.kv_lora_rank)
    # through wkv_b into an ordinary multi-head cache; each key's last rope_dimension_count values are roped
    kv_lora_rank_mha: int = 0
    rope_dimension_count: int = 0

    def __post_init__(self) -> None:
        if len(self.layers) != self.block_count:
            raise ValueError(f"{self.name}: {len(self.layers)} layer kinds for {self.block_count} blocks")
        if set(self.layers) - set(LAYER_KINDS):
            raise ValueError(f"{self.name}: unknown layer kind in {self.layers!r}")

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 1

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    def count(self, kind: str) -> int:
        return self.layers.count(kind)

    def kv_heads(self, layer: int) -> int:
        if self.per_layer_head_count_kv:
            return self.per_layer_head_count_kv[layer]
        return self.head_count_kv

    def heads(self, layer: int) -> int:
        if self.per_layer_head_count:
            return self.per_layer_head_count[layer]
        return self.head_count

    def key_width(self, layer: int) -> int:
        """Per-head key width of one layer: sliding-window layers may have their own."""
        if self.per_layer_head_length:
            return self.per_layer_head_length[layer]
        return self.key_length_swa if self.layers[layer] == SLIDING and self.key_length_swa else self.key_length

    def value_width(self, layer: int) -> int:
        if self.per_layer_head_length:
            return self.per_layer_head_length[layer]
        return self.value_length_swa if self.layers[layer] == SLIDING and self.value_length_swa else self.value_length

    def is_sliding(self, layer: int) -> bool:
        """Whether a layer attends over the sliding window: its kind says so, or, for a layer reading an earlier
        layer's cache (gemma4's shared-KV layers), its head width, which is that of its kind."""
        if self.layers[layer] == NO_CACHE and self.per_layer_head_length and self.key_length_swa != self.key_length:
            return self.per_layer_head_length[layer] == self.key_length_swa
        return self.layers[layer] == SLIDING

    def feed_forward_width(self, layer: int) -> int:
        return self.per_layer_feed_forward_length[layer] if self.per_layer_feed_forward_length else self.feed_forward_length

    @property
    def effective_parameters(self) -> int:
        """Parameters less gemma4's per-layer token table, which is looked up, not multiplied (E2B: "2B effective")."""
        return self.parameters - self.embedding_length_per_layer * self.block_count * self.vocab_size

    @property
    def shared_expert_width(self) -> int:
        """The FFN width of all shared experts of one MoE layer together."""
        if self.expert_shared_feed_forward_length:
            return self.expert_shared_feed_forward_length
        return self.expert_shared_count * self.expert_feed_forward_length

    @property
    def expert_input_width(self) -> int:
        """The width the routed experts read and write: the latent width of a latent MoE, else the embedding's."""
        return self.moe_latent_size or self.embedding_length

    @property
    def recurrent_state_floats(self) -> int:
        """f32 values one recurrent layer keeps per sequence: the conv window plus the SSM state.

        llama.cpp's `n_embd_r` + `n_embd_s`: (d_conv - 1) * (d_inner + 2 * n_group * d_state)
        + d_state * d_inner. The same shape serves Mamba2 and Gated DeltaNet layers.
        """
        conv = (self.ssm_conv_kernel - 1) * (self.ssm_inner_size + 2 * self.ssm_group_count * self.ssm_state_size)
        return conv + self.ssm_state_size * self.ssm_inner_size


def expand_pattern(pattern: str, block_count: int) -> str:
    """A catalog `layer_pattern` repeated cyclically over the blocks ("SSSSSA" for gemma3)."""
    if not pattern:
        raise ValueError("empty layer pattern")
    if len(pattern) > block_count:
        raise ValueError(f"layer pattern {pattern!r} is longer than {block_count} blocks")
    return (pattern * (block_count // len(pattern) + 1))[:block_count]
