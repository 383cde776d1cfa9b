"""Encoders: a registry of offline models with one module per family, and an on-disk cache."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "base": ["Encoder", "EncoderInfo", "set_offline_env", "stack_feature_maps"],
        "cache": ["data_fingerprint", "default_cache_dir", "encode_cached"],
        "registry": ["ENCODERS", "encoder_info", "get_encoder", "list_encoders"],
    },
)
