"""Audio encoders: audio → fixed-size, catalog-standardized embedding.

Known encoders (docs/encoders.md compares them): "librosa" (hand-crafted descriptors),
"mert" (MERT-v1 from the Hugging Face Hub), "musicnn" (pretrained musicnn weights
shipped in assets/encoders/musicnn), "musicnn+librosa" (both, concatenated). Each is
imported on first use.

enc = get_encoder("librosa")
enc.fit_normalization(np.stack([enc.raw_features_file(p) for p in paths]))
enc.save(bundle_dir)
...
enc = load_encoder(bundle_dir)
z = enc.embed_file("song.mp3")  # (enc.dim,) float32
"""

from apron_core.encoders.base import (
    ENCODER_FILE,
    Encoder,
    available_encoders,
    embed_many,
    encoder_class,
    get_encoder,
    load_encoder,
    register_encoder,
    resample,
    warm_up,
)

__all__ = [
    "ENCODER_FILE",
    "Encoder",
    "available_encoders",
    "embed_many",
    "encoder_class",
    "get_encoder",
    "load_encoder",
    "register_encoder",
    "resample",
    "warm_up",
]
