"""Distances and tests between two samples (optionally weighted, for DCTR), each citing its source,
and a registry of dataset-level metrics by name (``get_metric("ks_sum")(reference, generated)``)."""

from physgen.metrics._columns import event_columns, weight_values
from physgen.metrics._samples import common_edges
from physgen.metrics.classifier import ClassifierTest, classifier_test, roc_auc
from physgen.metrics.distances import emd_2d, emd_minimax_score, histogram_2d, wasserstein_1d
from physgen.metrics.frechet import DistanceEstimate, fpd, frechet_distance, kpd
from physgen.metrics.ks import ks_statistic, ks_sum
from physgen.metrics.figures import distribution_mode
from physgen.metrics.named import KS_SUM_VARIABLES, get_metric, metric_names, register_metric
from physgen.metrics.separation import separation_power, separation_power_hist
from physgen.metrics.weights import dilution, effective_sample_size, weighted_mean_error

__all__ = [
    "ClassifierTest", "DistanceEstimate", "KS_SUM_VARIABLES", "classifier_test", "common_edges", "dilution", "distribution_mode",
    "effective_sample_size", "emd_2d", "emd_minimax_score", "event_columns", "fpd", "frechet_distance",
    "get_metric", "histogram_2d", "kpd", "ks_statistic", "ks_sum", "metric_names", "register_metric",
    "roc_auc", "separation_power", "separation_power_hist", "wasserstein_1d", "weight_values",
    "weighted_mean_error",
]


def __dir__() -> list[str]:
    return __all__
