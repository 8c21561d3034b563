"""Utilities: progress bar, random seeding, naming."""
from .naming import to_snake_case
from .progbar import Progbar
from .rng import set_random_seed

__all__ = ["Progbar", "set_random_seed", "to_snake_case"]
