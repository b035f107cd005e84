"""Figures of the evaluation report (matplotlib Agg + mplhep style), returned as base64 PNG strings."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from physgen.metrics import bin_fractions  # noqa: E402


__all__ = ["to_base64", "histogram_with_ratio", "image_triplet", "correlation_triplet", "weight_histograms",
           "weight_correlation"]

STYLE = mplhep.style.ROOT
REF_COLOUR, GEN_COLOUR, WEIGHTED_COLOURS = "black", "tab:blue", ("tab:red", "tab:green", "tab:purple", "tab:orange")


def to_base64(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _density(h) -> np.ndarray:
    """Bin contents per unit x of a ``hist.Hist``, normalised over all entries (outliers fold into the end bins)."""
    fractions, _ = bin_fractions(h, "reference")
    return fractions / np.diff(h.axes[0].edges)


def histogram_with_ratio(name: str, units: str, ref, gen, s2: float, weighted: dict[str, tuple]) -> str:
    """Normalised histograms (``hist.Hist`` on the reference's edges) of reference and generated
    (and each weighting: (histogram, S², r)), with a generated/reference ratio panel; ⟨S²⟩ (and the
    dilution r) in the legend. mplhep draws the histograms' edges; values outside are in the end bins."""
    edges = ref.axes[0].edges
    with plt.style.context(STYLE):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        h_ref = _density(ref)
        mplhep.histplot(h_ref, edges, ax=top, color=REF_COLOUR, label="reference", lw=1.5)
        h_gen = _density(gen)
        mplhep.histplot(h_gen, edges, ax=top, color=GEN_COLOUR, label=f"generated  $\\langle S^2\\rangle$={s2:.3g}", lw=1.5)
        ratios = [(h_gen, GEN_COLOUR)]
        for (wname, (h, s2w, r)), colour in zip(weighted.items(), WEIGHTED_COLOURS):
            h_w = _density(h)
            r_text = "n/a" if r is None else f"{r:.2f}"
            mplhep.histplot(h_w, edges, ax=top, color=colour, ls="--",
                            label=f"gen × {wname}  $\\langle S^2\\rangle$={s2w:.3g}, r={r_text}")
            ratios.append((h_w, colour))
        top.set_ylabel("normalised")
        top.legend(fontsize=9, loc="best")
        with np.errstate(divide="ignore", invalid="ignore"):
            for h, colour in ratios:
                mplhep.histplot(np.where(h_ref > 0, h / h_ref, np.nan), edges, ax=bottom, color=colour)
        bottom.axhline(1, color="grey", lw=0.8)
        bottom.set_ylim(0.5, 1.5)
        bottom.set_ylabel("gen/ref")
        bottom.set_xlabel(f"{name} [{units}]" if units and units != "dimensionless" else name)
        return to_base64(fig)


def image_triplet(name: str, ref: np.ndarray, gen: np.ndarray, dims: tuple[str, str]) -> str:
    """Average reference and generated images (log colour) and their relative difference."""
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
        positive = np.concatenate([ref[ref > 0], gen[gen > 0]])
        vmin, vmax = (positive.min(), positive.max()) if positive.size else (1e-3, 1)
        norm = matplotlib.colors.LogNorm(vmin=max(vmin, vmax * 1e-6), vmax=vmax)
        for ax, image, title in zip(axes[:2], (ref, gen), ("reference", "generated")):
            shown = ax.imshow(np.where(image > 0, image, np.nan), origin="lower", aspect="auto", norm=norm)
            ax.set_title(f"{name}: {title}", fontsize=11)
            ax.set_xlabel(dims[1])
            ax.set_ylabel(dims[0])
            fig.colorbar(shown, ax=ax)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.where(ref > 0, (gen - ref) / ref, 0.0)
        shown = axes[2].imshow(diff, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
        axes[2].set_title("(gen − ref)/ref", fontsize=11)
        axes[2].set_xlabel(dims[1])
        fig.colorbar(shown, ax=axes[2])
        return to_base64(fig)


def correlation_triplet(labels: list[str], ref: np.ndarray, gen: np.ndarray, title_gen: str = "generated") -> str:
    """Correlation matrices of reference and generated and their difference."""
    with plt.style.context(STYLE):
        size = max(6, 0.3 * len(labels))
        fig, axes = plt.subplots(1, 3, figsize=(3 * size, size), layout="constrained")
        for ax, matrix, title, cmap, limits in ((axes[0], ref, "reference", "RdBu_r", 1),
                                                (axes[1], gen, title_gen, "RdBu_r", 1),
                                                (axes[2], gen - ref, f"{title_gen} − reference", "PiYG", 0.5)):
            shown = ax.imshow(matrix, cmap=cmap, vmin=-limits, vmax=limits)
            ax.set_title(title, fontsize=12)
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(len(labels)), labels, fontsize=7)
            fig.colorbar(shown, ax=ax, shrink=0.7)
        return to_base64(fig)


def weight_histograms(weights: dict[str, np.ndarray]) -> str:
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 4))
        top = max(float(np.max(w)) for w in weights.values())
        edges = np.linspace(0, top if top > 0 else 1, 51)
        for (name, w), colour in zip(weights.items(), WEIGHTED_COLOURS):
            counts, _ = np.histogram(w, bins=edges)
            mplhep.histplot(counts, edges, ax=ax, color=colour, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("weight")
        ax.set_ylabel("events")
        ax.legend()
        return to_base64(fig)


def weight_correlation(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> str:
    """2D histogram of two weight variables with their Pearson correlation."""
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.hist2d(a, b, bins=40, norm=matplotlib.colors.LogNorm(), cmap="viridis")
        ax.set_xlabel(name_a)
        ax.set_ylabel(name_b)
        ax.set_title(f"correlation ρ = {np.corrcoef(a, b)[0, 1]:.3f}", fontsize=12)
        return to_base64(fig)
