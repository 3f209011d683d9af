"""Figures of the evidence tools."""
import matplotlib
import numpy as np

matplotlib.use('Agg')  # the tools run without a screen
import matplotlib.pyplot as plt  # noqa: E402


def _row(columns):
    return plt.subplots(1, columns, figsize=(4.4 * columns, 3.6), dpi=110)


def _finish(fig, axes, path, legend=(0, 'best')):
    if legend == 'below':  # many curves: a legend of its own, 3 rows
        handles, labels = axes[0].get_legend_handles_labels()
        rows = min(3, len(labels))  # filled column by column
        fig.legend(handles, labels, loc='lower center', fontsize=7,
                   ncol=-(-len(labels) // rows))
        fig.tight_layout(rect=(0, 0.035 + 0.04 * rows, 1, 1))
    else:
        panel, where = legend
        axes[panel].legend(fontsize=7, loc=where)
        fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _title(ax, label, higher):
    ax.set_title(label + ('' if higher else ' (lower is better)'))
    ax.grid(alpha=0.3)


def plot_curves(curves, metrics, path, log_scale=(), styles=None,
                legend=(0, 'best')):
    """Metrics against the iteration, mean over seeds with their range.

    Args:
        curves (dict): ``{method: [[(iteration, {metric: value}), ...] per
            seed]}``.
        metrics (dict): ``{metric: (label, higher is better, decimals)}``,
            one panel each.
        log_scale (tuple): Metrics drawn on a log scale (a first
            evaluation's value can dwarf the later differences).
        styles (dict, optional): ``{method: keyword arguments of plot}``
            (colour, line style) for curves that belong together, e.g. one
            method on two hosts.
        legend (tuple | str): ``(panel, matplotlib location)`` of the
            legend, or ``'below'`` the panels.
    """
    fig, axes = _row(len(metrics))
    for method, runs in curves.items():
        its = [it for it, _ in runs[0]]
        style = {'marker': 'o', **(styles or {}).get(method, {})}
        for ax, metric in zip(axes, metrics):
            values = np.array([[v[metric] for _, v in run] for run in runs])
            line, = ax.plot(its, values.mean(0), label=method, **style)
            if len(runs) > 1:
                ax.fill_between(its, values.min(0), values.max(0),
                                alpha=0.15, color=line.get_color())
    for ax, (metric, (label, higher, _)) in zip(axes, metrics.items()):
        _title(ax, label, higher)
        ax.set_xlabel('iteration')
        if metric in log_scale:
            ax.set_yscale('log')
    _finish(fig, axes, path, legend)


# curves at the same eps drawn this factor apart, so every bar shows
EPS_DODGE = 1.06


def plot_against_eps(results, points, metrics, path, extra=None):
    """Final metrics against eps (AS-GAN's Fig. 3): one curve per
    regularizer (``points``: ``{label: [(eps, method), ...]}``), the base
    model as a band, and ``extra`` methods (``{method: (x, label)}``) as
    single points; mean +- std over seeds from ``results``."""
    fig, axes = _row(len(metrics))
    ticks = sorted({eps for curve in points.values() for eps, _ in curve}
                   | {x for x, _ in (extra or {}).values()})
    for ax, (metric, (label, higher, _)) in zip(axes, metrics.items()):
        for index, (name, curve) in enumerate(points.items()):
            means, stds = zip(*[results[m][metric]['mean_std']
                                for _, m in curve])
            ax.errorbar([eps * EPS_DODGE**index for eps, _ in curve], means,
                        yerr=stds,
                        marker='o', capsize=3, label=name)
        mean, std = results['base'][metric]['mean_std']
        ax.axhline(mean, color='gray', label='base')
        ax.axhspan(mean - std, mean + std, color='gray', alpha=0.15)
        for method, (x, name) in (extra or {}).items():
            if method in results:
                m, s = results[method][metric]['mean_std']
                ax.errorbar([x * EPS_DODGE**len(points)], [m], yerr=[s],
                            marker='s', capsize=3, color='tab:red',
                            label=name)
        _title(ax, label, higher)
        ax.set_xscale('symlog', linthresh=0.5)
        ax.set_xticks(ticks, [f'{eps:g}' for eps in ticks])
        ax.minorticks_off()
        ax.margins(x=0.08)
        ax.set_xlabel('eps (gray levels)')
    _finish(fig, axes, path)


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
