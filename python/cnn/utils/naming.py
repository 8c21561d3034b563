"""Unique object names ("dense", "dense_1", ...) from a process-wide counter, as Keras does."""
import collections
import re

_uids = collections.defaultdict(int)


def to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(prefix):
    """First use of a prefix gives it bare; later ones get _1, _2, ..."""
    n = _uids[prefix]
    _uids[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def auto_name(class_name):
    return uniquify(to_snake_case(class_name))


def reset_uids():
    _uids.clear()
