"""A replay of llama.cpp's compute-buffer reservation: each graph built as llama.cpp builds it, through ggml's allocator."""
