"""Keras 2 import path (`keras.utils.vis_utils`): plot_model and model_to_dot live in
model_visualization.py."""
from .model_visualization import model_to_dot, plot_model

__all__ = ["model_to_dot", "plot_model"]
