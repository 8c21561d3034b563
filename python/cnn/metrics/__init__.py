"""Metrics with Keras 3's names, signatures and formulas.

Every metric works standalone (`update_state`, `result`, `reset_state`) and in
`compile(metrics=[...])`, where its per-batch state is computed inside the compiled graph
(see metric.py). The functions return per-sample values (engine ops, no gradient)."""
from ..utils.naming import to_snake_case
from .accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                               SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                               TopKCategoricalAccuracy, accuracy, binary_accuracy,
                               categorical_accuracy, sparse_categorical_accuracy,
                               sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from .confusion_metrics import (AUC, FalseNegatives, FalsePositives, Precision, Recall,
                                TrueNegatives, TruePositives)
from .metric import Metric
from .probabilistic_metrics import (BinaryCrossentropy, CategoricalCrossentropy,
                                    CategoricalHinge, Hinge, KLDivergence, Poisson,
                                    SparseCategoricalCrossentropy, SquaredHinge,
                                    binary_crossentropy, categorical_crossentropy,
                                    categorical_hinge, hinge, kl_divergence, poisson,
                                    sparse_categorical_crossentropy, squared_hinge)
from .reduction_metrics import Mean, MeanMetricWrapper, Sum
from .regression_metrics import (CosineSimilarity, LogCoshError, MeanAbsoluteError,
                                 MeanAbsolutePercentageError, MeanSquaredError,
                                 MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError,
                                 cosine_similarity, log_cosh, mean_absolute_error,
                                 mean_absolute_percentage_error, mean_squared_error,
                                 mean_squared_logarithmic_error)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh

_ALL = (Mean, Sum, MeanMetricWrapper, MeanSquaredError, RootMeanSquaredError,
        MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
        CosineSimilarity, LogCoshError, R2Score, AUC, FalseNegatives, FalsePositives, Precision, Recall,
        TrueNegatives, TruePositives, Hinge, SquaredHinge, CategoricalHinge, KLDivergence,
        Poisson, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
        Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
        TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy)
# Keras's lookup table: class names, their snake_case forms, and the short aliases.
_BY_NAME = {cls.__name__: cls for cls in _ALL}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _ALL})
_BY_NAME.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "mse": MeanSquaredError, "MSE": MeanSquaredError,
                 "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
_NOT_FROM_NAME = {Metric, MeanMetricWrapper}  # need arguments


def known_names():
    return sorted(n for n, cls in _BY_NAME.items() if cls not in _NOT_FROM_NAME) + ["acc"]


def serialize(metric):
    """{"class_name", "config"} for a Metric, the name of a function."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return getattr(metric, "__name__", str(metric))


def deserialize(config):
    if not isinstance(config, dict) or config.get("class_name") not in _BY_NAME or \
            set(config) - {"class_name", "config", "module", "registered_name"}:
        raise ValueError(f"Could not interpret metric identifier: {config!r}. A dict needs "
                         "a 'class_name' among the known metric classes and optionally a "
                         "'config'")
    return _BY_NAME[config["class_name"]].from_config(config.get("config") or {})


def get(identifier):
    """A metric from a name (class name, its snake_case form or an alias such as "mse"),
    a {"class_name", "config"} dict, a Metric class (instantiated) or instance, or a
    callable `fn(y_true, y_pred)` returning per-sample values. "accuracy"/"acc" in
    compile() depend on the targets' shape and are resolved there."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None or cls in _NOT_FROM_NAME:
            raise ValueError(f"Could not interpret metric identifier: '{identifier}'. "
                             f"Known metrics: {known_names()}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def resolve_accuracy(target_shape, output_shape):
    """Keras's choice for "accuracy": binary when the output has one unit, sparse when the
    labels have fewer axes (or one label per sample against several classes), else
    categorical."""
    if output_shape[-1] == 1:
        return binary_accuracy
    if len(target_shape) < len(output_shape) or (target_shape[-1] == 1 and output_shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy


_ACCURACY_CLASSES = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
                     sparse_categorical_accuracy: SparseCategoricalAccuracy}


def accuracy_metric(name, target_shape, output_shape):
    """compile()'s "accuracy"/"acc": the matching accuracy class, named as given."""
    return _ACCURACY_CLASSES[resolve_accuracy(target_shape, output_shape)](name=name)

