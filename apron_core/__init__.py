"""APRON Studio core library: audio, encoders, the demo world, data, model, engine."""

__version__ = "0.1.0"
