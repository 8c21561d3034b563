"""Utilities: progress bar, random seeding, naming, model plots (plot_model, model_to_dot)."""
from .model_visualization import model_to_dot, plot_model
from .naming import to_snake_case
from .progbar import Progbar
from .rng import set_random_seed

__all__ = ["Progbar", "model_to_dot", "plot_model", "set_random_seed", "to_snake_case"]
