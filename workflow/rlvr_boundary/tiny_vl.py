"""A tiny random-weight Qwen2.5-VL, built offline, to run the visual path on a CPU.

Same architecture as Qwen2.5-VL-7B-Instruct (windowed vision tower, patch merger, M-RoPE
text decoder, the ``<|vision_start|><|image_pad|><|vision_end|>`` markup), shrunk to about
0.6 M parameters, with a byte-level tokenizer and Qwen2-VL's image processor capped at
``max_pixels`` so an image costs at most 16 prompt tokens. Its answers are noise: it exists to
exercise loading, image preprocessing, seeded sampling, verification and figures end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlvr_boundary.demo import build_tokenizer, save_model_atomically
from rlvr_boundary.prompts import IMAGE_PLACEHOLDER, render

VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", IMAGE_PLACEHOLDER, "<|video_pad|>")
MIN_PIXELS = 28 * 28 * 4
MAX_PIXELS = 28 * 28 * 16
_TEXT = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,  # head_dim 32; M-RoPE sections (t, h, w) split its 16 frequencies
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}
_VISION = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "out_hidden_size": _TEXT["hidden_size"],
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 56,
    "fullatt_block_indexes": [1],
    "in_chans": 3,
}


def _corpus() -> list[str]:
    questions = [f"How many {thing} are in the picture? <image1>" for thing in ("digits", "squares", "cats")]
    return [
        render("easyr1", q) + f"<think>count</think> The answer is \\boxed{{{i}}}." for i, q in enumerate(questions)
    ]


def build(output_dir: str | Path, seed: int = 0) -> dict[str, Any]:
    """Write the model folder (weights, tokenizer, image processor) atomically; returns its stats."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil

    tokenizer = build_tokenizer(_corpus() * 20, special_tokens=VISION_TOKENS)
    ids = dict(zip(VISION_TOKENS, tokenizer.convert_tokens_to_ids(list(VISION_TOKENS)), strict=True))
    end, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = Qwen2_5_VLConfig(
        text_config={
            **_TEXT,
            "vocab_size": len(tokenizer),
            "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6], "rope_theta": 10000.0},
            "tie_word_embeddings": True,
            "eos_token_id": end,
            "pad_token_id": pad,
            "bos_token_id": pad,
        },
        vision_config=_VISION,
        image_token_id=ids[IMAGE_PLACEHOLDER],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [end, pad]
    model.generation_config.pad_token_id = pad
    processor = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    stats = {"kind": "tiny random Qwen2.5-VL", "seed": seed, "parameters": sum(p.numel() for p in model.parameters())}
    return save_model_atomically(Path(output_dir), model, tokenizer, stats, processors=[processor])
