"""Models: Sequential and the functional Model; load_model/save_model for `.keras` files."""
from .model import Model
from .sequential import Sequential
from .keras_archive import load_model, save_model
from .model_config import model_from_config, model_from_json

__all__ = ["Model", "Sequential", "load_model", "save_model", "model_from_config",
           "model_from_json"]
