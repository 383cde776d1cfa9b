"""Encoders: a registry of offline models with one module per family, and an on-disk cache."""

from .base import Encoder, EncoderInfo, set_offline_env
from .cache import data_fingerprint, default_cache_dir, encode_cached
from .registry import ENCODERS, encoder_info, get_encoder, list_encoders

__all__ = [
    "Encoder", "EncoderInfo", "set_offline_env", "data_fingerprint", "default_cache_dir",
    "encode_cached", "ENCODERS", "encoder_info", "get_encoder", "list_encoders",
]
