"""The task-variance, fractional-variance and lesion figures draw what they are given."""

import numpy as np
import torch
from matplotlib.axes import Axes

from rnnscope.analysis import LesionEffect, TaskVariance, cluster_units
from rnnscope.plotting import plot_fractional_variance, plot_lesion_effect, plot_task_variance


def _variance():
    g = np.random.default_rng(0)
    v = np.concatenate([np.array([1.0, 0.1, 0.0]) + 0.02 * g.random((6, 3)),
                        np.array([0.0, 0.2, 1.0]) + 0.02 * g.random((4, 3))])
    return TaskVariance(variance=torch.as_tensor(v), tasks=("a", "b", "c"))


def test_task_variance_image_is_tasks_by_units_sorted_by_cluster():
    tv = _variance()
    clusters = cluster_units(tv.normalised, k_range=range(2, 4), n_init=3)
    ax = plot_task_variance(tv, clusters)
    assert isinstance(ax, Axes)
    image = ax.get_images()[0].get_array()
    assert image.shape == (3, 10)
    assert np.allclose(image, tv.normalised.numpy()[clusters.order].T)
    assert len(ax.get_lines()) == clusters.n_clusters - 1  # one line between neighbouring clusters


def test_fractional_variance_histogram_counts_the_active_units():
    ax = plot_fractional_variance(_variance(), "a", "c")
    assert sum(p.get_height() for p in ax.patches) == 10


def test_lesion_image_is_groups_by_tasks():
    e = LesionEffect(tasks=("a", "b"), units=np.array([0, 1]), baseline=np.array([1.0, 0.9]),
                     lesioned=np.array([0.2, 0.9]))
    ax = plot_lesion_effect({"cluster 0": e, "cluster 1": e})
    assert np.allclose(ax.get_images()[0].get_array(), [[-0.8, 0.0], [-0.8, 0.0]])
