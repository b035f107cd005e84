"""Distances and tests between two samples (optionally weighted, for DCTR), each citing its source,
and the registry of dataset metrics by name (``get_metric("s2_mean")(reference, generated)`` →
:class:`Estimate`). Binned metrics use edges from the reference alone (:mod:`.histograms`);
FPD/KPD follow JetNet's conventions unless another is named (:mod:`.frechet`)."""

from physgen.metrics._columns import default_metric_names, event_columns, weight_values
from physgen.metrics._estimate import Estimate
from physgen.metrics.ablation import check_given, classifier_ablation, column_groups
from physgen.metrics.calibration import balanced_nll, fit_temperature, isotonic_calibration, roc_auc
from physgen.metrics.classifier import ClassifierTest, challenge_classifier_test, classifier_test
from physgen.metrics.comparison import Comparison
from physgen.metrics.distances import (
    emd_2d, emd_minimax_score, histogram_2d, wasserstein_1d, wasserstein_1d_batches,
)
from physgen.metrics.figures import distribution_mode
from physgen.metrics.frechet import fpd, frechet_distance, kpd
from physgen.metrics.histograms import BINNINGS, bin_fractions, binning_edges, fill, fill_2d, quantile_edges, reference_edges
from physgen.metrics.jet_emd import CoverageMMD, coverage_mmd, event_emd, event_emds
from physgen.metrics.ks import ks_statistic
from physgen.metrics.named import (
    COLUMN_METRICS, KS_SUM_VARIABLES, Metric, column_values, get_metric, metric_names, register_metric,
)
from physgen.metrics.prdc import PRDC, precision_recall_density_coverage
from physgen.metrics.separation import Chi2Test, chi2_test, separation_power, separation_power_hist
from physgen.metrics.weights import (
    dilution, effective_sample_size, event_average, event_weights, weighted_mean_error, weighted_moments,
)

__all__ = [
    "BINNINGS", "COLUMN_METRICS", "Chi2Test", "ClassifierTest", "Comparison", "CoverageMMD", "Estimate",
    "KS_SUM_VARIABLES", "Metric", "PRDC", "balanced_nll", "bin_fractions", "binning_edges", "challenge_classifier_test", "check_given", "chi2_test",
    "classifier_test", "column_values", "coverage_mmd", "default_metric_names", "dilution", "distribution_mode",
    "effective_sample_size", "emd_2d", "event_average", "emd_minimax_score", "event_columns", "event_weights", "event_emd", "event_emds", "fill", "fill_2d", "fit_temperature",
    "fpd", "frechet_distance", "get_metric", "histogram_2d", "isotonic_calibration", "kpd", "ks_statistic",
    "metric_names", "precision_recall_density_coverage", "quantile_edges", "reference_edges", "register_metric", "roc_auc",
    "separation_power", "separation_power_hist", "wasserstein_1d", "wasserstein_1d_batches", "weight_values",
    "weighted_moments",
    "weighted_mean_error",
]


def __dir__() -> list[str]:
    return __all__
