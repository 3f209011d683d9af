"""A second head on a discriminator's pooled features: SSGAN's rotation
head, Rob-GAN's class head. Both hosts' SNGAN ResNet discriminators end in
a linear ``decision`` layer on pooled features; the head reads the same
features, so every toolbox code path that calls D (losses, penalties,
attacks, evaluation) sees the toolbox's output unchanged."""
import torch.nn as nn
from torch.nn.utils import spectral_norm


class AuxHeadMixin:
    """Mixed in before a discriminator class whose ``forward(x, label)``
    ends in ``self.decision`` (a linear map of pooled features).

    ``add_aux_head(n)`` (called after the discriminator's own
    initialisation) adds a linear head of ``n`` outputs: Xavier-uniform,
    zero bias, spectral-normalised when ``decision`` is.
    ``forward(x, label, return_aux=True)`` gives ``(D's output, the head's
    logits)``; without ``return_aux`` the output is the toolbox's alone.
    """

    def add_aux_head(self, aux_classes):
        head = nn.Linear(self.decision.in_features, aux_classes)
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)
        if hasattr(self.decision, 'weight_orig'):  # torch's spectral norm
            head = spectral_norm(head)
        self.aux_head = head

    def forward(self, x, label=None, return_aux=False):
        if not return_aux:
            return super().forward(x, label)
        # the pooled features are the input of the toolbox's decision layer
        pooled = []
        handle = self.decision.register_forward_pre_hook(
            lambda module, inputs: pooled.append(inputs[0]))
        try:
            out = super().forward(x, label)
        finally:
            handle.remove()
        return out, self.aux_head(pooled[0])
