"""Images of visual problems as the model's engine sees them.

A prepared visual benchmark stores each image's file bytes; an engine decodes them here (PIL,
converted to RGB, as Qwen2.5-VL's processors expect) and sizes the prompt with the model's own
image processor: Qwen2.5-VL resizes an image to a multiple of 28 pixels within its
``min_pixels`` .. ``max_pixels`` budget and spends one prompt token per 2 x 2 block of 14-pixel
patches, so an image's token count depends on that processor's configuration, which every
sample shard records (``preprocessing``).
"""

from __future__ import annotations

import io
from typing import Any

IMAGE_PROCESSOR_KEYS = (
    "min_pixels",
    "max_pixels",
    "size",
    "patch_size",
    "merge_size",
    "temporal_patch_size",
    "image_mean",
    "image_std",
    "resample",
    "do_resize",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "do_convert_rgb",
)
"""The processor settings that change what the model sees of an image."""


def decode(blob: bytes) -> Any:
    """The PIL image of a stored file, in RGB (the mode Qwen2.5-VL's processors convert to)."""
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        return image.convert("RGB")


def pixel_kwargs(image_pixels: dict[str, int] | None) -> dict[str, int]:
    """A model's ``image_pixels: {min, max}`` override as processor keyword arguments."""
    if not image_pixels:
        return {}
    return {f"{bound}_pixels": value for bound, value in image_pixels.items()}


class ImageProcessor:
    """The model's Hugging Face image processor (its PIL implementation where torchvision is
    absent: the same resizing arithmetic), with the model's pixel override applied."""

    def __init__(self, model: str, revision: str | None, image_pixels: dict[str, int] | None) -> None:
        from transformers import AutoImageProcessor

        self.processor = AutoImageProcessor.from_pretrained(model, revision=revision, **pixel_kwargs(image_pixels))
        self.image_pixels = image_pixels

    def inputs(self, image: Any) -> dict[str, Any]:
        """Pixel values and the (t, h, w) patch grid of one image, as torch tensors."""
        return dict(self.processor(images=[image], return_tensors="pt"))

    def placeholders(self, inputs: dict[str, Any]) -> int:
        """How many placeholder tokens an image with these processed ``inputs`` takes."""
        return int(inputs["image_grid_thw"].prod()) // self.processor.merge_size**2

    def tokens(self, image: Any) -> int:
        """How many placeholder tokens the image takes in the prompt."""
        return self.placeholders(self.inputs(image))

    def preprocessing(self) -> dict[str, Any]:
        """What every shard's provenance records of how its images were prepared."""
        settings = self.processor.to_dict()
        return {
            "decode": "PIL, converted to RGB",
            "processor": type(self.processor).__name__,
            "image_pixels": self.image_pixels,
            **{key: settings[key] for key in IMAGE_PROCESSOR_KEYS if key in settings},
        }
