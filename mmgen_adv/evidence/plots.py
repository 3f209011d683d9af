"""Figures of the evidence tools."""
import matplotlib

matplotlib.use('Agg')  # the tools run without a screen
import matplotlib.pyplot as plt  # noqa: E402


def plot_accuracy(curves, eps_grid, path, spreads=None):
    """Accuracy under attack against eps: ``curves`` maps a name to one
    accuracy per budget; ``spreads`` (same shape, optional) are drawn as
    error bars (a standard deviation over seeds)."""
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for name, accuracy in curves.items():
        ax.errorbar(eps_grid, accuracy, marker='o', capsize=3, label=name,
                    yerr=None if spreads is None else spreads[name])
    ax.set_xlabel('PGD budget eps (8-bit gray levels)')
    ax.set_ylabel('accuracy under attack')
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
